"""Schema migrations: the migrated schema is the models' schema, and migrating is idempotent."""
import pytest

import models
from models import search


@pytest.fixture
def fresh_db(tmp_path):
    models.init_db(f"sqlite:///{tmp_path / 'fresh.db'}")
    models.db.connect()
    yield models.db
    models.close_db()


def test_fresh_database_migrates_to_the_models_schema(fresh_db):
    assert fresh_db.get_tables() == []
    applied = models.migrate()
    assert applied, "no migration ran on an empty database"
    diff = models.schema_diff()
    assert not diff, f"migrated schema differs from the models: {diff}"
    tables = set(fresh_db.get_tables())
    assert {m._meta.table_name for m in models.all_models()} <= tables
    assert search.TABLE in tables  # the FTS index is a migration too


def test_migrate_twice_applies_nothing_the_second_time(fresh_db):
    first = models.migrate()
    schema = fresh_db.execute_sql("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()
    assert models.migrate() == []
    assert fresh_db.execute_sql("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall() == schema
    assert first


def test_the_migrated_database_works_with_the_verbs(fresh_db):
    """A smoke test over the migrated schema (not the models' create_tables): create and search a customer."""
    import datetime as dt

    from models import clock
    from models.customers import create_customer
    from models.users import User
    from seeds import reference

    models.migrate()
    reference.load()
    clock.freeze(dt.datetime(2026, 11, 24, 2, 0))
    try:
        admin = User.create(username="mig-admin", full_name="Mig", password_hash="x", role="admin",
                            created_at=clock.now())
        customer = create_customer(admin, {"name": "迁移测试服饰有限公司", "business_model": "consumer",
                                           "source": "website"})
        expr = search.match_expression("迁移测试")
        hits = fresh_db.execute_sql(f"SELECT rowid FROM {search.TABLE} WHERE {search.TABLE} MATCH ?", (expr,)).fetchall()
        assert hits == [(customer.id,)]
    finally:
        clock.freeze(None)
