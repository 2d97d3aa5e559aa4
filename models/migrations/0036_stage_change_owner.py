"""The customer's owner when a lifecycle stage changed (`StageChange.owner_id`; 0 when it had none), so that the
performance counters rebuilt from the rows credit a move to the owner at the time (`perf_tables.rebuild`), not
today's; rows from before keep NULL and the rebuild reads the owner of the time from the ledger. The counters
are rebuilt once: plan adherence (plan, plan_done, plan_on_time) and the wider "new customer" (assignments,
routed leads, an admin's choice of owner) are counted from the rows already there."""
from peewee import IntegerField


def up(migrator, db):
    migrator.migrate(migrator.add_column("stage_change", "owner_id", IntegerField(null=True)))
    if db.execute_sql("SELECT 1 FROM customer LIMIT 1").fetchone():
        from models.perf_tables import rebuild

        rebuild()
