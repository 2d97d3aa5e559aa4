"""Appeals and undo (issue 20 item 2): release and conflict appeals, the conflict ruling's credit split, and
`customer.restored_until`, the hold an upheld appeal or an undone release gives a restored clock that had
already run out (models/appeals.py)."""
from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, Model, SmallIntegerField, TextField


def up(migrator, db):
    class User(Model):
        class Meta:
            database = db
            table_name = "user"

    class Customer(Model):
        class Meta:
            database = db
            table_name = "customer"

    class Appeal(Model):
        kind = CharField(max_length=10)
        ref_id = IntegerField()
        customer = ForeignKeyField(Customer, on_delete="CASCADE", index=False, backref="+")
        appellant = ForeignKeyField(User, on_delete="CASCADE", index=False, backref="+")
        team_id = IntegerField(null=True)
        reason = CharField(max_length=500)
        status = CharField(max_length=10, default="open")
        opened_at = DateTimeField()
        window_ends_at = DateTimeField()
        decided_by = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
        decided_at = DateTimeField(null=True)
        decision_reason = CharField(max_length=500, default="")
        outcome = TextField(default="{}")

        class Meta:
            database = db
            table_name = "appeal"
            indexes = ((("kind", "ref_id"), True), (("customer", "status"), False),
                       (("status", "team_id", "id"), False))

    class CreditSplit(Model):
        customer = ForeignKeyField(Customer, on_delete="CASCADE", unique=True, backref="+")
        case_id = IntegerField(null=True)
        rep_a = ForeignKeyField(User, on_delete="CASCADE", index=False, backref="+")
        share_a = SmallIntegerField()
        rep_b = ForeignKeyField(User, on_delete="CASCADE", index=False, backref="+")
        share_b = SmallIntegerField()
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "credit_split"

    db.create_tables([Appeal, CreditSplit], safe=True)
    migrator.migrate(migrator.add_column("customer", "restored_until", DateTimeField(null=True)))
    # the admin's list of forced releases filtered by rule version, newest first (models/appeals.py)
    db.execute_sql('CREATE INDEX IF NOT EXISTS "poolevent_kind_rule_version_at" ON "pool_event" ("kind", "rule_version", "at")')
