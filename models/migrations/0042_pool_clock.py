"""Per-customer pauses of the release clocks (issue 20 item 3): asked by the owner with a reason,
decided by the team's manager; the clock settings themselves live in the versioned pool rules. And the
opportunities' (is_open, stage_changed_at) index, for the stage timeout warnings (item 4)."""
from peewee import CharField, DateField, DateTimeField, ForeignKeyField, Model


def up(migrator, db):
    class User(Model):
        class Meta:
            database = db
            table_name = "user"

    class Customer(Model):
        class Meta:
            database = db
            table_name = "customer"

    class CustomerPause(Model):
        customer = ForeignKeyField(Customer, on_delete="CASCADE", index=False, backref="+")
        requester = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
        reason = CharField(max_length=300)
        starts_on = DateField()
        ends_on = DateField()
        status = CharField(max_length=10, default="pending")
        decided_by = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
        decided_at = DateTimeField(null=True)
        decision_reason = CharField(max_length=300, default="")
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "customer_pause"
            indexes = ((("customer", "status"), False), (("status", "id"), False))

    db.create_tables([CustomerPause])
    migrator.migrate(migrator.add_index("opportunity", ("is_open", "stage_changed_at"), unique=False))
