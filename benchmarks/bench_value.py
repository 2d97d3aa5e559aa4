"""Time the value recompute (issue 15) on a database of its own: N customers with orders, 3 lines each,
one instalment per order and payments (70 % on time, 20 % late, 10 % never), generated here in SQL.

    .venv/bin/python benchmarks/bench_value.py [--customers 1000000] [--orders 1000000] [--db /tmp/value-bench.db]
                                              [--chunk 50000] [--keep]

Goal: every customer recomputed in ≤ 60 s (set-based SQL per id range, one transaction per chunk). Prints
the full recompute from cold (every customer classified for the first time), the same recompute again
(nothing changes: idempotent), the preview of a changed rule, the pyramid, and one customer's recompute as
the events do it (median / p95 over 200 customers). /work/bench/big.db is never touched: the database is
built under /tmp (reused with --keep when it exists with the same size).
"""
import argparse
import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import models.customers  # noqa: E402,F401  (customers before notifications: the import order that works)
import models  # noqa: E402
from models import clock, db  # noqa: E402
from models import value as vm  # noqa: E402
from models.customers import Customer  # noqa: E402
from models.users import Team, User  # noqa: E402

NOW = dt.datetime(2026, 11, 24, 2, 0)


def _defaults(model, skip):
    """Column -> stored default of every field with one (the NOT NULL columns a bulk insert must fill)."""
    out = {}
    for f in model._meta.sorted_fields:
        if f.name in skip or f.default is None:
            continue
        value = f.default() if callable(f.default) else f.default
        out[f.column_name] = f.db_value(value)
    return out


def generate(path, customers, orders):
    if path.exists():
        path.unlink()
    models.init_db(f"sqlite:///{path}")
    db.connect()
    models.migrate()
    db.execute_sql("PRAGMA synchronous=off")
    started = time.perf_counter()
    at = NOW.isoformat(sep=" ")
    with db.atomic():
        teams = [Team.create(name=f"Team {i}").id for i in range(1, 21)]
        reps = [User.create(username=f"rep{i:03d}", full_name=f"Rep {i}", password_hash="x", role="sales",
                            team=teams[i % 20], created_at=NOW).id for i in range(200)]
    cols = _defaults(Customer, {"id", "name", "owner", "team", "created_at", "updated_at", "stage_changed_at",
                                "touched_at", "stage"})
    names = ", ".join(cols)
    db.execute_sql(
        f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
        f"INSERT INTO customer (id, name, owner_id, team_id, stage, created_at, updated_at, stage_changed_at, "
        f"touched_at, {names}) SELECT i, 'Customer ' || i, ? + i % 200, NULL, 'signed', ?, ?, ?, ?, "
        f"{', '.join('?' for _ in cols)} FROM n", [customers, reps[0], at, at, at, at, *cols.values()])
    db.execute_sql("UPDATE customer SET team_id = (SELECT team_id FROM user WHERE user.id = customer.owner_id)")
    print(f"  {customers:,} customers ({time.perf_counter() - started:.0f} s)", flush=True)
    db.execute_sql("ANALYZE")
    db.execute_sql("INSERT INTO product (code, name_zh, name_en, product_line, unit, list_price, unit_cost, consumable, "
                   "active, updated_at) VALUES ('P1', '面料', 'Fabric', '', '米', 30, 20, 1, 1, ?)", [at])
    today = clock.to_local(NOW).date().isoformat()
    # A third of the customers trade; their orders spread over two years.
    traders = max(1, customers // 3)
    db.execute_sql(
        f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
        f"INSERT INTO \"order\" (id, customer_id, rep_id, ordered_on, status, total, cost, note, created_at, signed_at) "
        f"SELECT i, 1 + (abs(random()) % ?) * 3, NULL, date(?, '-' || (abs(random()) % 730) || ' days'), 'signed', "
        f"round(100 + abs(random()) % 200000, 2), 0, '', ?, ? FROM n", [orders, traders, today, at, at])
    db.execute_sql('UPDATE "order" SET cost = round(total * (0.55 + (id % 30) / 100.0), 2)')
    db.execute_sql("INSERT INTO order_line (order_id, product_id, quantity, unit_price, unit_cost, amount) "
                   "SELECT o.id, 1, 1, o.total / 3, o.cost / 3, o.total / 3 FROM \"order\" o, "
                   "(SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3)")
    db.execute_sql("INSERT INTO payment_due (order_id, customer_id, due_on, amount) "
                   "SELECT id, customer_id, date(ordered_on, '+30 days'), total FROM \"order\"")
    db.execute_sql(  # MATERIALIZED: each instalment draws its random number once
        "WITH d AS MATERIALIZED (SELECT *, abs(random()) % 100 AS r FROM payment_due), "
        "p AS MATERIALIZED (SELECT order_id, customer_id, amount, CASE WHEN r < 70 THEN date(due_on, '-' || (r % 10) "
        "|| ' days') WHEN r < 90 THEN date(due_on, '+' || (3 + r) || ' days') END AS paid_on FROM d) "
        "INSERT INTO payment (order_id, customer_id, received_on, amount, method, prepayment, created_at) "
        "SELECT order_id, customer_id, paid_on, amount, 'bank_transfer', 0, ? FROM p "
        "WHERE paid_on IS NOT NULL AND paid_on <= ?", [at, today])
    db.execute_sql("ANALYZE")
    counts = {t: db.execute_sql(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0]
              for t in ("customer", "order", "order_line", "payment_due", "payment")}
    print(f"  generated {counts} in {time.perf_counter() - started:.0f} s", flush=True)
    db.close()


def timed(fn, *args, **kw):
    started = time.perf_counter()
    result = fn(*args, **kw)
    return time.perf_counter() - started, result


def cpu_timed(fn, *args, **kw):
    """(wall seconds, CPU seconds of this process, result): SQLite runs in-process, so the CPU time is the
    work itself, and the wall time what it took on a machine shared with others (see the load average)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn(*args, **kw)
    return time.perf_counter() - wall, time.process_time() - cpu, result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=1_000_000, help="orders (3 lines each)")
    parser.add_argument("--db", default="/tmp/value-bench.db")
    parser.add_argument("--chunk", type=int, default=20_000, help="ids per transaction (the sweep uses 20,000)")
    parser.add_argument("--keep", action="store_true", help="reuse the database if it has that many customers")
    args = parser.parse_args(argv)
    path = Path(args.db)
    if path.resolve().parent == Path("/work/bench"):
        sys.exit("build the benchmark database under /tmp, never next to big.db")
    clock.freeze(NOW)
    reuse = False
    if args.keep and path.exists():
        models.init_db(f"sqlite:///{path}")
        db.connect()
        reuse = Customer.select().count() == args.customers
        db.close()
    if not reuse:
        print(f"generating {args.customers:,} customers, {args.orders:,} orders, {3 * args.orders:,} lines …",
              flush=True)
        generate(path, args.customers, args.orders)
    models.init_db(f"sqlite:///{path}")
    db.connect()
    db.execute_sql('CREATE INDEX IF NOT EXISTS "customer_value_tier_team_id_region_id" ON "customer" '
                   '("value_tier", "team_id", "region_id")')  # a database generated before the index came
    db.execute_sql("DELETE FROM customer_value")
    db.execute_sql("DELETE FROM value_change")
    db.execute_sql("DELETE FROM audit_event WHERE kind LIKE 'value.%'")
    db.execute_sql("UPDATE customer SET value_tier = ''")
    db.execute_sql("DELETE FROM value_rule")

    chunks = []

    def per_chunk(next_id, n, c):
        chunks.append(time.perf_counter())

    chunks.append(time.perf_counter())
    cold, cold_cpu, (n, changes) = cpu_timed(vm.recompute_all, NOW, args.chunk, 0, per_chunk)
    steps = [b - a for a, b in zip(chunks, chunks[1:])]
    print(f"recompute, cold: {n:,} customers classified, {changes:,} tier changes written, {cold:.1f} s "
          f"(CPU {cold_cpu:.1f} s) "
          f"(chunk of {args.chunk:,} ids: median {statistics.median(steps):.2f} s, max {max(steps):.2f} s)")
    again, again_cpu, (n2, changes2) = cpu_timed(vm.recompute_all, NOW, args.chunk)
    print(f"recompute, again (the nightly run; idempotent): {n2:,} customers with something to recompute, "
          f"{changes2:,} changes, {again:.1f} s (CPU {again_cpu:.1f} s)")
    tiers = db.execute_sql("SELECT tier, COUNT(*) FROM customer_value GROUP BY tier ORDER BY 2 DESC").fetchall()
    print(f"tiers: {dict(tiers)}")
    settings = vm.validate_settings({})
    settings["thresholds"] = {"diamond": 80, "strategic": 65, "potential": 55}
    t, cpu, result = cpu_timed(vm.preview, settings)
    print(f"preview of a changed rule: {result['moved']:,} would move, {t:.1f} s (CPU {cpu:.1f} s)")
    admin = User.get_or_none(User.username == "bench-admin") or User.create(
        username="bench-admin", full_name="Admin", password_hash="x", role="admin", created_at=NOW)
    for by in ("team", "region"):
        t, cpu, result = cpu_timed(vm.pyramid, admin, by=by)
        print(f"pyramid (all customers, by {by}): {t:.2f} s (CPU {cpu:.2f} s)")
    manager = User.get_or_none(User.username == "bench-manager") or User.create(
        username="bench-manager", full_name="Manager", password_hash="x", role="manager",
        team=Team.select().first(), created_at=NOW)
    t, cpu, result = cpu_timed(vm.pyramid, manager)
    print(f"pyramid (a manager's team, {sum(v['count'] for v in result['tiers'].values()):,} customers): "
          f"{t:.2f} s (CPU {cpu:.2f} s)")
    ids = [r[0] for r in db.execute_sql("SELECT id FROM customer ORDER BY random() LIMIT 200").fetchall()]
    times = []
    for cid in ids:
        with db.atomic():
            t, _ = timed(vm.recompute, cid, NOW)
        times.append(t * 1000)
    times.sort()
    print(f"one customer (an order signed, a payment received): median {statistics.median(times):.1f} ms, "
          f"p95 {times[int(len(times) * 0.95) - 1]:.1f} ms")
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    print(f"GOAL ≤ 60 s for the full recompute: {'met' if cold <= 60 else 'MISSED'} ({cold:.1f} s wall, "
          f"{cold_cpu:.1f} s CPU; the nightly run {again:.1f} s wall, {again_cpu:.1f} s CPU)")
    db.close()


if __name__ == "__main__":
    main()
