"""Quarantined records per pool (pool health counts the pool without a cleansing's junk): a partial index as
small as the quarantine, so the count never reads the pool's rows (models/pool_reports.py)."""
from peewee import SQL


def up(migrator, db):
    migrator.migrate(
        migrator.add_index("customer", ("pool_id",), False, where=SQL("quarantined_at IS NOT NULL"),
                           name="customer_quarantined"),
    )
    if "sqlite" in type(db).__name__.lower():
        analysed = db.execute_sql("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").fetchone()
        if analysed:
            db.execute_sql('ANALYZE "customer_quarantined"')
