"""Time the dashboards and the to-do centre server-side on the 1M database, read-only.

    .venv/bin/python benchmarks/bench_dashboards.py [--db /work/bench/deals.db] [--side /tmp/kehu-bench-dash.db]
                                                    [--runs 30]

The benchmark databases are shared, so the big one is opened read-only (`mode=ro`) and the three summary
tables of migration 0033 live in a small side file ATTACHed as `side` (their models get `schema = "side"`):
the first run folds the 2.4M stage changes into it and takes the customer tally, as the sweep would, and says
how long that took. deals.db is big.db (1M customers, 2.4M stage changes, 500k pool events) plus 260,000
opportunities with their summary tables, so the forecast has something to weigh.

A login writes a session row, which a read-only database refuses: each request is run through the whole app
(`app.full_dispatch_request`: routing, the login check, the view, the templates) inside a request context
with the user logged in by Flask-Login. Goals (issue 16): every dashboard p95 ≤ 100 ms, the to-do centre
≤ 50 ms. The slowest statements of one request of each kind are shown with EXPLAIN QUERY PLAN.
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import peewee as pw  # noqa: E402
from bench import QueryLog, percentile, print_plans, print_table  # noqa: E402
from flask_login import login_user  # noqa: E402

import models  # noqa: E402
from app import create_app  # noqa: E402
from models import dashboards as dm  # noqa: E402
from models import todo  # noqa: E402
from models.users import User  # noqa: E402

SIDE_MODELS = (dm.LifecycleFlow, dm.CustomerTally, dm.DashboardMark, dm.PoolFlow)


def open_database(path, side):
    class ReadOnlyWithSide(pw.SqliteDatabase):
        def _connect(self):
            conn = super()._connect()
            conn.execute("ATTACH DATABASE ? AS side", (side,))
            return conn

    database = ReadOnlyWithSide(f"file:{path}?mode=ro", uri=True, check_same_thread=False,
                                pragmas={"cache_size": -64000, "temp_store": "memory"})
    models.db.initialize(database)
    for model in SIDE_MODELS:
        model._meta.schema = "side"
    with database.connection_context():
        database.create_tables(SIDE_MODELS, safe=True)
    return database


def prepare():
    """Fold what is not folded yet and take the tally; print how long each took."""
    started = time.perf_counter()
    total = 0
    while True:
        n = dm.fold(limit=dm.FOLD_MAX) + dm.fold_pools(limit=dm.FOLD_MAX)
        total += n
        if not n:
            break
        print(f"  folded {total:,} stage changes and ledger rows ({time.perf_counter() - started:.0f} s)", flush=True)
    started = time.perf_counter()
    dm.take_tally(force=True)
    print(f"  customer tally: {dm.CustomerTally.select().count():,} rows in {time.perf_counter() - started:.1f} s")


def run(app, user, url, runs, warm=2):
    def once():
        with app.test_request_context(url):
            login_user(user)
            response = app.full_dispatch_request()
            response.get_data()
            return response.status_code
    for _ in range(warm):
        once()
    wall, cpu, statuses = [], [], {}
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), time.thread_time()
        code = once()
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.thread_time() - started_cpu) * 1000)
        statuses[code] = statuses.get(code, 0) + 1
    with QueryLog() as log:
        once()
    return wall, cpu, statuses, list(log.queries)


def drill_down_generated(database, runs, rows=1_000_000):
    """The all-teams drill-down needs migration 0033's (to_stage, at) / (from_stage, at) indexes, which the
    read-only database has not got: time its statement on a generated table of the same shape in the side
    file (`rows` changes over two years, customers from the big database), with those indexes."""
    import random

    have = database.execute_sql("SELECT COUNT(*) FROM side.sqlite_master WHERE name = 'sc_generated'").fetchone()[0]
    if not have:
        rng, stages = random.Random(16), ("unidentified", "prospect", "target", "intent", "signed", "long_term")
        start = dm.clock.now() - dm.dt.timedelta(days=730)
        database.execute_sql("CREATE TABLE side.sc_generated (id INTEGER PRIMARY KEY, customer_id INTEGER, "
                             "from_stage VARCHAR(20), to_stage VARCHAR(20), at DATETIME)")
        with database.atomic():
            batch = []
            for i in range(1, rows + 1):
                k = rng.randrange(1, 6)
                batch.append((i, rng.randrange(1, 1_000_000), stages[k - 1], stages[k],
                              (start + dm.dt.timedelta(seconds=i * 730 * 86400 // rows)).isoformat(sep=" ")))
                if len(batch) == 10000 or i == rows:
                    database.cursor().executemany("INSERT INTO side.sc_generated VALUES (?, ?, ?, ?, ?)", batch)
                    batch = []
        database.execute_sql("CREATE INDEX side.scg_to ON sc_generated (to_stage, at)")
        database.execute_sql("CREATE INDEX side.scg_from ON sc_generated (from_stage, at)")
        database.execute_sql("ANALYZE side")
    lo = (dm.clock.now() - dm.dt.timedelta(days=365)).isoformat(sep=" ")
    hi = dm.clock.now().isoformat(sep=" ")
    out = []
    for label, cond, params in (("promoted to intent", "sc.to_stage = ? AND sc.from_stage IN (?, ?, ?)",
                                 ["intent", "unidentified", "prospect", "target"]),
                                ("moved up from target", "sc.from_stage = ? AND sc.to_stage IN (?, ?, ?)",
                                 ["target", "intent", "signed", "long_term"])):
        sql = ("SELECT sc.id, sc.at, sc.from_stage, sc.to_stage, c.id, c.name FROM side.sc_generated sc "
               "JOIN customer c ON c.id = sc.customer_id WHERE sc.at >= ? AND sc.at < ? AND " + cond +
               " ORDER BY sc.at DESC, sc.id DESC LIMIT 51")
        args = [lo, hi, *params]
        plan = [d for *_x, d in database.execute_sql("EXPLAIN QUERY PLAN " + sql, args).fetchall()]
        times = call(lambda: database.execute_sql(sql, args).fetchall(), runs)
        out.append((f"admin: drill-down {label} ({rows:,} generated rows)", times, plan))
    return out


def call(fn, runs):
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return times


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="/work/bench/deals.db")
    parser.add_argument("--side", default="/tmp/kehu-bench-dash.db")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--plans", type=int, default=3)
    args = parser.parse_args(argv)
    app = create_app({"DATABASE_URL": f"sqlite:///{args.side}.app", "TESTING": True, "SECRET_KEY": "benchmark",
                      "WTF_CSRF_ENABLED": False})
    database = open_database(args.db, args.side)
    with database.connection_context():
        print(f"database {args.db} (read-only), summaries in {args.side}")
        prepare()
        users = {u.username: u for u in User.select().where(User.username.in_(
            ("admin", "manager01", "rep001", "marketing", "service")))}
        team = users["manager01"].team_id
    cases = [
        ("admin", "/dashboards"), ("admin", "/dashboards?grain=m"), ("admin", f"/dashboards?team={team}"),
        ("manager01", "/dashboards"), ("manager01", "/dashboards?grain=m"),
        ("manager01", "/dashboards/moves?stage=signed&move=into"),
        ("manager01", "/dashboards/moves?stage=target&move=up_from"),
        ("rep001", "/todo"), ("manager01", "/todo"), ("admin", "/todo"), ("marketing", "/todo"), ("service", "/todo"),
        ("rep001", "/todo/badge"), ("manager01", "/todo/badge"), ("admin", "/todo/badge"),
    ]
    rows, cpu_rows, logged = [], [], []
    for username, url in cases:
        wall, cpu, statuses, queries = run(app, users[username], url, args.runs)
        label = f"{username}: {url}"
        rows.append((label, len(wall), wall[0], statistics.median(wall), percentile(wall, 95), statuses))
        cpu_rows.append((label, len(cpu), cpu[0], statistics.median(cpu), percentile(cpu, 95), {}))
        logged.append((label, f"{len(queries)} statements", queries))
    with database.connection_context():
        for username in ("rep001", "manager01", "admin"):
            t = call(lambda: todo.counts(users[username]), args.runs)
            rows.append((f"{username}: todo.counts (the badge's queries)", len(t), t[0], statistics.median(t),
                         percentile(t, 95), {}))
        for username in ("admin", "manager01"):
            for name, fn in (("funnel", dm.funnel), ("forecast", dm.forecast), ("pool_health", dm.pool_health),
                             ("promotions", dm.promotions), ("completeness", dm.completeness)):
                t = call(lambda: fn(users[username]), args.runs)
                rows.append((f"{username}: dashboards.{name}", len(t), t[0], statistics.median(t),
                             percentile(t, 95), {}))
        generated = drill_down_generated(database, args.runs)
        for label, t, plan in generated:
            rows.append((label, len(t), t[0], statistics.median(t), percentile(t, 95), {}))
    print("\nwall time, ms")
    print_table(rows)
    print("\nCPU time of this thread, ms (the machine is shared: wall time also waits for a core)")
    print_table(cpu_rows)
    for label, _t, plan in generated:
        print(f"\n== {label}: " + " / ".join(plan))
    with database.connection_context():
        print_plans([entry for entry in logged if "/dashboards" in entry[0] and "moves" not in entry[0]][:3]
                    + [entry for entry in logged if "/todo" in entry[0]][:3], args.plans)


if __name__ == "__main__":
    main()
