"""Fairness figures and anti-gaming flags (issue 20 items 5 and 6): flags with their evidence, the signals
the detectors count, how far each claim got, customers held per rep, the detectors' watermarks."""
from peewee import BigIntegerField, CharField, DateTimeField, ForeignKeyField, IntegerField, Model, TextField


def up(migrator, db):
    class User(Model):
        class Meta:
            database = db
            table_name = "user"

    class Customer(Model):
        class Meta:
            database = db
            table_name = "customer"

    class ClaimOutcome(Model):
        class Meta:
            database = db
            table_name = "claim_outcome"

    class FairFlag(Model):
        kind = CharField(max_length=20)
        team_id = IntegerField(default=0)
        rep = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
        other = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
        customer = ForeignKeyField(Customer, null=True, on_delete="CASCADE", index=False, backref="+")
        evidence = TextField(default="{}")
        first_at = DateTimeField()
        last_at = DateTimeField()
        detected_at = DateTimeField()
        dedupe_key = CharField(max_length=120, unique=True)
        status = CharField(max_length=10, default="open")
        reviewed_by = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
        reviewed_at = DateTimeField(null=True)
        note = CharField(max_length=500, default="")

        class Meta:
            database = db
            table_name = "fair_flag"
            indexes = ((("team_id", "status", "id"), False), (("status", "id"), False), (("rep", "id"), False),
                       (("kind", "status"), False), (("team_id", "kind", "status"), False))

    class FairSignal(Model):
        kind = CharField(max_length=20)
        rep = ForeignKeyField(User, on_delete="CASCADE", index=False, backref="+")
        other_id = IntegerField(null=True)
        customer = ForeignKeyField(Customer, null=True, on_delete="CASCADE", index=False, backref="+")
        at = DateTimeField()
        ref_id = BigIntegerField()
        data = TextField(default="{}")

        class Meta:
            database = db
            table_name = "fair_signal"
            indexes = ((("kind", "ref_id"), True), (("rep", "kind", "at"), False))

    class FairClaimStep(Model):
        claim = ForeignKeyField(ClaimOutcome, primary_key=True, on_delete="CASCADE", backref="+")
        followed_at = DateTimeField(null=True)
        opportunity_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "fair_claim_step"

    class FairHolding(Model):
        rep = ForeignKeyField(User, primary_key=True, on_delete="CASCADE", backref="+")
        team_id = IntegerField(default=0)
        n = IntegerField(default=0)

        class Meta:
            database = db
            table_name = "fair_holding"
            indexes = ((("team_id", "rep", "n"), False),)

    class FairState(Model):
        key = CharField(max_length=30, primary_key=True)
        value = BigIntegerField(default=0)
        at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "fair_state"

    db.create_tables([FairFlag, FairSignal, FairClaimStep, FairHolding, FairState])
    # the detectors look forward from the upgrade (models/fairness.rebuild() examines the history)
    for key, table in (("ledger", "pool_event"), ("fu_steps", "follow_up"), ("fu_detect", "follow_up"),
                       ("opp_steps", "opportunity")):
        db.execute_sql(f'INSERT INTO fair_state (key, value) SELECT \'{key}\', COALESCE(MAX(id), 0) FROM "{table}"')


def down(migrator, db):
    for table in ("fair_state", "fair_holding", "fair_claim_step", "fair_signal", "fair_flag"):
        db.execute_sql(f'DROP TABLE IF EXISTS "{table}"')
