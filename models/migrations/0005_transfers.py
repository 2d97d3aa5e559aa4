"""Transfers (工作转移) and the leaver hand-over: transfer requests, their customers and the approving sides."""
from peewee import BooleanField, CharField, DateTimeField, ForeignKeyField, IntegerField, Model

from models.base import JSONField


def up(migrator, db):
    def existing_table(name):
        class Meta:
            database = db
            table_name = name
        return type(name.title().replace("_", ""), (Model,), {"Meta": Meta})

    User, Team, Customer, Pool = (existing_table(name) for name in ("user", "team", "customer", "pool"))

    class Transfer(Model):
        kind = CharField(max_length=10, default="request")
        requester = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
        from_user = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
        from_team = ForeignKeyField(Team, null=True, on_delete="SET NULL", index=False, backref="+")
        reason = CharField(max_length=300, default="")
        status = CharField(max_length=10, default="pending")
        created_at = DateTimeField()
        decided_by = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
        decided_at = DateTimeField(null=True)
        decision_reason = CharField(max_length=300, default="")
        override_reason = CharField(max_length=300, default="")
        total = IntegerField(default=0)
        done = IntegerField(default=0)
        heartbeat_at = DateTimeField(null=True)
        error = JSONField(default=dict)

        class Meta:
            database = db
            table_name = "transfer"
            indexes = ((("status", "id"), False), (("requester", "id"), False), (("from_user", "status"), False),
                       (("from_team", "status"), False))

    class TransferItem(Model):
        transfer = ForeignKeyField(Transfer, on_delete="CASCADE", index=False, backref="+")
        customer = ForeignKeyField(Customer, on_delete="CASCADE", index=False, backref="+")
        from_owner = IntegerField(null=True)
        to_user = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
        to_pool = ForeignKeyField(Pool, null=True, on_delete="SET NULL", index=False, backref="+")
        why = JSONField(default=dict)
        pinned = BooleanField(default=False)
        done = BooleanField(default=False)

        class Meta:
            database = db
            table_name = "transfer_item"
            indexes = ((("transfer", "done", "id"), False), (("transfer", "id"), False),
                       (("customer", "transfer"), False),
                       (("to_user", "transfer"), False))

    class TransferApproval(Model):
        transfer = ForeignKeyField(Transfer, on_delete="CASCADE", index=False, backref="+")
        team = ForeignKeyField(Team, null=True, on_delete="SET NULL", index=False, backref="+")
        side = CharField(max_length=10)
        status = CharField(max_length=10, default="pending")
        decided_by = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
        decided_at = DateTimeField(null=True)
        reason = CharField(max_length=300, default="")

        class Meta:
            database = db
            table_name = "transfer_approval"
            indexes = ((("transfer", "side", "team"), False), (("status", "team", "id"), False), (("team", "transfer"), False))

    db.create_tables([Transfer, TransferItem, TransferApproval])
