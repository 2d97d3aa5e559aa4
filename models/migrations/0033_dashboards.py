"""Dashboards (issue 16 item 5): `lifecycle_flow` (customer stage changes per week / month × team × from → to
with the summed dwell), `customer_tally` (the customers counted per team × pool × stage × completeness band ×
recovered), `pool_flow` (the pool ledger's claims and releases per week × team) and `dashboard_mark` (how far
the sweep folded the stage changes and the ledger, when it last counted the customers); two indexes on
`stage_change` for the drill-down lists, (to_stage, at) and (from_stage, at). The tables start empty: the sweep
folds the existing rows, 200,000 per run, and a page adds what is not folded yet."""
from peewee import BigIntegerField, BooleanField, CharField, DateField, DateTimeField, IntegerField, Model, SmallIntegerField


def up(migrator, db):
    class LifecycleFlow(Model):
        grain = CharField(max_length=1)
        period = DateField()
        team = IntegerField()
        from_stage = CharField(max_length=20)
        to_stage = CharField(max_length=20)
        count = IntegerField(default=0)
        dwell_seconds = BigIntegerField(default=0)
        dwell_count = IntegerField(default=0)

        class Meta:
            database = db
            table_name = "lifecycle_flow"
            indexes = ((("grain", "period", "team", "from_stage", "to_stage"), True),
                       (("grain", "team", "period"), False))

    class CustomerTally(Model):
        team = IntegerField()
        pool = IntegerField()
        stage = CharField(max_length=20)
        band = SmallIntegerField()
        recovered = BooleanField()
        count = IntegerField()
        completeness_sum = BigIntegerField()

        class Meta:
            database = db
            table_name = "customer_tally"

    class DashboardMark(Model):
        name = CharField(max_length=20, unique=True)
        last_id = BigIntegerField(default=0)
        at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "dashboard_mark"

    class PoolFlow(Model):
        week = DateField()
        team = IntegerField()
        kind = CharField(max_length=8)
        count = IntegerField(default=0)

        class Meta:
            database = db
            table_name = "pool_flow"
            indexes = ((("week", "team", "kind"), True), (("team", "week"), False))

    db.create_tables([LifecycleFlow, CustomerTally, DashboardMark, PoolFlow])
    # the drill-down behind a figure: the changes into / out of a stage in a period (seconds at 2.4M rows)
    db.execute_sql('CREATE INDEX IF NOT EXISTS "stagechange_to_stage_at" ON "stage_change" ("to_stage", "at")')
    db.execute_sql('CREATE INDEX IF NOT EXISTS "stagechange_from_stage_at" ON "stage_change" ("from_stage", "at")')
