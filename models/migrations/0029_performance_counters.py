"""Performance counters (issue 16 item 4): `rep_period`, one row per rep × team × month / quarter / year × metric kept by
the verbs, and `claim_outcome`, one row per pool claim with what became of it. An existing database gets its
counters computed from its rows (models.perf_tables.rebuild, the demo's and generator's bulk path)."""
from peewee import BigIntegerField, CharField, DateField, DateTimeField, ForeignKeyField, IntegerField, Model


def up(migrator, db):
    class User(Model):
        class Meta:
            database = db
            table_name = "user"

    class Customer(Model):
        class Meta:
            database = db
            table_name = "customer"

    class RepPeriod(Model):
        rep = ForeignKeyField(User, on_delete="CASCADE", index=False, backref="+")
        team_id = IntegerField(default=0)
        span = CharField(max_length=7)
        starts_on = DateField()
        metric = CharField(max_length=30)
        n = IntegerField(default=0)
        amount = BigIntegerField(default=0)

        class Meta:
            database = db
            table_name = "rep_period"
            indexes = ((("team_id", "span", "starts_on", "rep", "metric"), True), (("rep", "span", "starts_on"), False),
                       (("metric", "span", "starts_on", "rep", "team_id", "n", "amount"), False))

    class ClaimOutcome(Model):
        customer = ForeignKeyField(Customer, on_delete="CASCADE", index=False, backref="+")
        rep = ForeignKeyField(User, on_delete="CASCADE", index=False, backref="+")
        team_id = IntegerField(default=0)
        month = DateField()
        claimed_at = DateTimeField()
        outcome = CharField(max_length=10, default="open")
        ended_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "claim_outcome"
            indexes = ((("customer", "outcome"), False),)

    db.create_tables([RepPeriod, ClaimOutcome])
    if db.execute_sql("SELECT 1 FROM customer LIMIT 1").fetchone():
        from models.perf_tables import rebuild

        rebuild()
