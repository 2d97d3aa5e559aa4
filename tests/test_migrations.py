"""Schema migrations: the migrated schema is the models' schema, and migrating is idempotent."""
import pytest

import models
from models import search
from tests.conftest import sqlite_only


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


def test_0013_keeps_the_oldest_of_several_waiting_lock_requests(fresh_db):
    """Data from before the partial unique index: duplicates are closed, then the index holds."""
    import peewee as pw

    from models.base import MIGRATIONS
    from playhouse.migrations import Runner

    runner = Runner(fresh_db, directory=str(MIGRATIONS))
    names = [m.name for m in runner.status()]
    runner.up(target=names[names.index("0013_one_lock_request") - 1])
    fresh_db.execute_sql("PRAGMA foreign_keys = OFF")  # bare rows: no users or customers needed
    rows = [(7, "pending"), (7, "pending"), (7, "rejected"), (7, "pending"), (8, "pending"), (9, "approved")]
    for customer_id, status in rows:
        fresh_db.execute_sql("INSERT INTO lock_request (customer_id, requester_id, reason, status, created_at, "
                             "decision_reason) VALUES (?, 1, 'r', ?, '2026-11-01 00:00:00', '')", (customer_id, status))
    fresh_db.execute_sql("PRAGMA foreign_keys = ON")
    assert models.migrate() == ["0013_one_lock_request"] + [n for n in names if n > "0013_one_lock_request"]
    after = fresh_db.execute_sql("SELECT id, customer_id, status, decision_reason FROM lock_request ORDER BY id").fetchall()
    assert [(r[0], r[1], r[2]) for r in after] == [(1, 7, "pending"), (2, 7, "rejected"), (3, 7, "rejected"),
                                                   (4, 7, "rejected"), (5, 8, "pending"), (6, 9, "approved")]
    assert "0013" in after[1][3] and after[2][3] == ""
    with pytest.raises(pw.IntegrityError):
        fresh_db.execute_sql("INSERT INTO lock_request (customer_id, requester_id, reason, status, created_at, "
                             "decision_reason) VALUES (8, 1, 'r', 'pending', '2026-11-01 00:00:00', '')")
    assert not models.schema_diff()


def test_0014_recomputes_name_norm_with_the_converter(fresh_db):
    """Names stored under the old 114-character table: the migration rewrites what the converter reads
    differently and leaves the rest."""
    import datetime as dt

    from models.base import MIGRATIONS
    from models.customers import Customer
    from playhouse.migrations import Runner

    runner = Runner(fresh_db, directory=str(MIGRATIONS))
    names = [m.name for m in runner.status()]
    runner.up(target=names[names.index("0014_name_norm_simplified") - 1])
    at = dt.datetime(2026, 11, 1)
    stored = [("華東國際貿易有限公司", "华东国際贸易"),  # as the old table left them: 際 and 氣 unknown to it
              ("上海华东西装有限公司", "上海华东西装"),
              ("臺灣電氣機械股份有限公司", "台湾电氣机械")]
    # Only the columns the schema had then (a later migration may add customer columns the model has).
    columns = {c.name for c in fresh_db.get_columns("customer")}
    defaults = {f.column_name: f.db_value(f.default() if callable(f.default) else f.default)
                for f in Customer._meta.sorted_fields if f.default is not None and f.column_name in columns}
    for name, norm in stored:
        # customer.custom (JSON, NOT NULL) was there until 0025 moved the values to custom_value
        extra = {"custom": "{}"} if "custom" in columns else {}
        row = {**defaults, **extra, "name": name, "name_norm": norm, "created_at": at, "updated_at": at,
               "stage_changed_at": at, "touched_at": at}
        fresh_db.execute_sql(f"INSERT INTO customer ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})",
                             list(row.values()))
    assert "0014_name_norm_simplified" in models.migrate()
    assert [c.name_norm for c in Customer.select(Customer.name_norm).order_by(Customer.id)] == [
        "华东国际贸易", "上海华东西装", "台湾电气机械"]


def test_0025_moves_custom_values_out_of_the_customer_row(fresh_db):
    """JSON values on the customer become custom_value rows in canonical form; the column goes."""
    import datetime as dt
    import json

    from decimal import Decimal
    from models.base import MIGRATIONS
    from models.customers import Customer, CustomField, CustomValue
    from playhouse.migrations import Runner

    runner = Runner(fresh_db, directory=str(MIGRATIONS))
    names = [m.name for m in runner.status()]
    runner.up(target=names[names.index("0025_custom_values") - 1])
    for key, kind in (("capacity", "number"), ("founded", "date"), ("brand", "text")):
        fresh_db.execute_sql("INSERT INTO custom_field (key, label_zh, label_en, kind, choices, required, weight, "
                             "active, position) VALUES (?, ?, ?, ?, '', 0, 0, 1, 0)", [key, key, key, kind])
    at = dt.datetime(2026, 11, 1)
    for custom in ({"capacity": "1200.50", "founded": "2001-02-03", "brand": "雅戈尔", "gone": "x"},
                   {"capacity": "lots"}, {}):
        sql, params = Customer.insert(name="某某服饰有限公司", created_at=at, updated_at=at, stage_changed_at=at,
                                      touched_at=at).sql()
        fresh_db.execute_sql(sql.replace('("name"', '("custom", "name"', 1).replace("VALUES (", "VALUES (?, ", 1),
                             [json.dumps(custom), *params])
    assert "0025_custom_values" in models.migrate()
    rows = {(v.customer_id, CustomField.get_by_id(v.field_id).key): (v.value, v.number) for v in CustomValue.select()}
    first, second = [c.id for c in Customer.select(Customer.id).order_by(Customer.id)][:2]
    assert rows == {(first, "capacity"): ("1200.5", Decimal("1200.50")), (first, "founded"): ("2001-02-03", None),
                    (first, "brand"): ("雅戈尔", None), (second, "capacity"): ("lots", None)}
    assert "custom" not in [c.name for c in fresh_db.get_columns("customer")]
    assert not models.schema_diff()


@sqlite_only
def test_a_rebuilt_table_gets_its_planner_statistics_back(app, make_customer):
    """SQLite drops a table's statistics with the table: after migrations, tables without them are analysed
    again (0025 rebuilt customer and the sweep's stake check became a scan of a million rows)."""
    from models.base import db, refresh_statistics

    for _ in range(3):
        make_customer()
    db.execute_sql("ANALYZE")
    assert db.execute_sql("SELECT COUNT(*) FROM sqlite_stat1 WHERE tbl = 'customer'").fetchone()[0] > 0
    db.execute_sql("DELETE FROM sqlite_stat1 WHERE tbl = 'customer'")  # as a table rebuild leaves it
    refresh_statistics()
    assert db.execute_sql("SELECT COUNT(*) FROM sqlite_stat1 WHERE tbl = 'customer'").fetchone()[0] > 0


@sqlite_only
def test_an_index_added_to_an_analysed_table_gets_its_statistics(app, make_customer):
    """0041 added a ledger index to an analysed table; without statistics of its own the planner chose it over
    the primary key and sorted 500,000 rows (the dashboards' unfolded tail: 1 → 50 ms)."""
    from models.base import db, refresh_statistics

    for _ in range(3):
        make_customer()
    db.execute_sql("ANALYZE")
    db.execute_sql("CREATE INDEX customer_test_city_stage ON customer (city, stage)")  # as a migration adds it
    refresh_statistics()
    assert db.execute_sql("SELECT COUNT(*) FROM sqlite_stat1 WHERE idx = 'customer_test_city_stage'").fetchone()[0] == 1


def test_no_statistics_are_made_for_a_database_never_analysed(app):
    from models.base import db, is_sqlite, refresh_statistics

    refresh_statistics()
    if is_sqlite():
        assert db.execute_sql("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").fetchone() is None
