"""Time the fairness dashboard, a rep's own figures and a flag's evidence server-side on the 1M database, read-only.

    .venv/bin/python benchmarks/bench_fairness.py [--db /work/bench/big.db] [--side /tmp/kehu-bench-fair.db]
                                                  [--runs 40] [--flags 30000]

big.db (1M customers, 500k ledger rows, 5M follow-ups, 120k performance counters) is shared, so it is opened
read-only and the fairness tables of migration 0043 live in a side file ATTACHed as `side` (their models get
`schema = "side"`), with a copy of the performance counters (`rep_period`: the figures read claims and their
steps there; the copy gets a year of generated claim counters per rep when the database has none). The first
run takes the holdings count as the sweep does (one grouped scan of the owner index) and says how long it took,
and files `--flags` generated flags over the teams (a third reviewed) so the flag list pages through many.

Each request runs through the whole app (routing, login check, view, templates) in a request context with the
user logged in. Goal (issue 20): the fairness dashboard p95 ≤ 100 ms. The slowest statements of one request
of each page are shown with EXPLAIN QUERY PLAN.
"""
import argparse
import datetime as dt
import os
import random
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
from models import clock  # noqa: E402
from models import fairness as fm  # noqa: E402
from models.perf_tables import RepPeriod, period_starts  # noqa: E402
from models.users import User  # noqa: E402

SIDE_MODELS = (fm.FairFlag, fm.FairSignal, fm.FairClaimStep, fm.FairHolding, fm.FairState, RepPeriod)


def open_database(path, side):
    class ReadOnlyWithSide(pw.SqliteDatabase):
        def _connect(self):
            conn = super()._connect()
            conn.execute("ATTACH DATABASE ? AS side", (side,))
            return conn

    database = ReadOnlyWithSide(f"file:{path}?mode=ro", uri=True, check_same_thread=False,
                                pragmas={"cache_size": -64000, "temp_store": "memory", "foreign_keys": 0})
    models.db.initialize(database)
    for model in SIDE_MODELS:
        model._meta.schema = "side"
    with database.connection_context():
        database.create_tables(SIDE_MODELS, safe=True)
    return database


def recount_holdings_on_the_side(now=None):  # noqa: ARG001
    """`fairness.recount_holdings` into the side file: a migrated big database has a fair_holding of its own
    (empty, read-only), which the statement's unqualified name would find first."""
    with models.db.atomic():
        fm.FairHolding.delete().execute()
        models.db.execute_sql("INSERT INTO side.fair_holding (rep_id, team_id, n) SELECT c.owner_id, "
                              "COALESCE(u.team_id, 0), c.n FROM (SELECT owner_id, COUNT(*) AS n FROM main.customer "
                              "WHERE owner_id IS NOT NULL GROUP BY owner_id) c JOIN main.\"user\" u ON u.id = c.owner_id")


fm.recount_holdings = recount_holdings_on_the_side  # the sweep's hourly recount too


def prepare(database, flags):
    """Copy the counters, generate what the big database lacks, take the holdings; print how long each took."""
    if not RepPeriod.select().exists():
        database.execute_sql("INSERT INTO side.rep_period SELECT * FROM main.rep_period")
    rng = random.Random(20)
    reps = list(User.select(User.id, User.team).where(User.role.in_(("sales", "manager"))).tuples())
    if not RepPeriod.select().where(RepPeriod.metric == "claim").exists():
        today = clock.today()
        rows = {}
        for rep_id, team_id in reps:
            weight = rng.choice((1, 1, 2, 3, 6))  # some reps claim much more than others
            for back in range(12):
                month = (today.replace(day=1) - dt.timedelta(days=31 * back)).replace(day=1)
                claims = rng.randint(0, 8 * weight)
                steps = {"claim": claims, "claim_followed": int(claims * rng.uniform(.4, .9))}
                steps["claim_opportunity"] = int(steps["claim_followed"] * rng.uniform(.2, .6))
                steps["claim_signed"] = int(steps["claim_opportunity"] * rng.uniform(.2, .7))
                for metric, n in steps.items():
                    for span, start in period_starts(month):
                        key = (rep_id, team_id or 0, span, start, metric)
                        rows[key] = rows.get(key, 0) + n
        with database.atomic():
            RepPeriod.insert_many([{"rep": k[0], "team_id": k[1], "span": k[2], "starts_on": k[3], "metric": k[4], "n": n}
                                   for k, n in rows.items()]).execute()
        print(f"  generated {len(rows):,} claim counters for {len(reps)} reps")
    fm.look_forward()  # as the migration does: the detectors look at what comes after the upgrade
    started = time.perf_counter()
    fm.recount_holdings()
    print(f"  holdings recount (the sweep's, once an hour): {fm.FairHolding.select().count()} reps "
          f"in {time.perf_counter() - started:.2f} s")
    have = fm.FairFlag.select().count()
    if have < flags:
        now = clock.now()
        batch = []
        for i in range(have, flags):
            rep_id, team_id = rng.choice(reps)
            at = now - dt.timedelta(minutes=rng.randrange(0, 365 * 24 * 60))
            batch.append({"kind": rng.choice(fm.FLAG_KINDS), "team_id": team_id or 0, "rep": rep_id,
                          "customer": rng.randrange(1, 1_000_000), "first_at": at, "last_at": at, "detected_at": at,
                          "evidence": {"customers": [rng.randrange(1, 1_000_000) for _ in range(rng.randint(1, 5))],
                                       "events": [rng.randrange(1, 500_000) for _ in range(rng.randint(1, 6))],
                                       "facts": {"days": 14, "same_team": True, "hours": 30.0, "times": 1}},
                          "dedupe_key": f"bench:{i}", "status": "reviewed" if i % 3 == 0 else "open"})
            if len(batch) == 5000:
                with database.atomic():
                    fm.FairFlag.insert_many(batch).execute()
                batch = []
        if batch:
            with database.atomic():
                fm.FairFlag.insert_many(batch).execute()
        database.execute_sql("ANALYZE side")
        print(f"  filed {flags - have:,} generated flags")


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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="/work/bench/big.db")
    parser.add_argument("--side", default="/tmp/kehu-bench-fair.db")
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--flags", type=int, default=30000)
    parser.add_argument("--plans", type=int, default=3)
    args = parser.parse_args(argv)
    app = create_app({"DATABASE_URL": f"sqlite:///{args.side}.app", "TESTING": True, "SECRET_KEY": "benchmark",
                      "WTF_CSRF_ENABLED": False})
    database = open_database(args.db, args.side)
    with database.connection_context():
        print(f"database {args.db} (read-only), fairness tables in {args.side}")
        prepare(database, args.flags)
        users = {u.username: u for u in User.select().where(User.username.in_(("admin", "manager01", "rep001")))}
        team = users["manager01"].team_id
        flag_id = fm.FairFlag.select(fm.FairFlag.id).where((fm.FairFlag.team_id == team)
                                                           & (fm.FairFlag.status == "open")).scalar()
        cursor = fm.FairFlag.select(pw.fn.MAX(fm.FairFlag.id)).scalar() // 2
    cases = [
        ("admin", "/fairness"), ("admin", f"/fairness?team={team}"), ("admin", "/fairness?span=year"),
        ("admin", f"/fairness?after={cursor}"),
        ("manager01", "/fairness"), ("manager01", "/fairness?span=quarter"), ("manager01", "/fairness?status=reviewed"),
        ("manager01", f"/fairness/flags/{flag_id}"), ("rep001", "/fairness/mine"), ("rep001", "/fairness/mine?span=year"),
    ]
    rows, cpu_rows, logged = [], [], []
    for username, url in cases:
        wall, cpu, statuses, queries = run(app, users[username], url, args.runs)
        label = f"{username}: {url}"
        rows.append((label, len(wall), wall[0], statistics.median(wall), percentile(wall, 95), statuses))
        cpu_rows.append((label, len(cpu), cpu[0], statistics.median(cpu), percentile(cpu, 95), {}))
        logged.append((label, f"{len(queries)} statements", queries))
    with database.connection_context():
        for username, team_id in (("admin", None), ("manager01", team)):
            times = []
            for _ in range(args.runs):
                started = time.perf_counter()
                fm.figures(team_id, "month")
                times.append((time.perf_counter() - started) * 1000)
            rows.append((f"{username}: fairness.figures", len(times), times[0], statistics.median(times),
                         percentile(times, 95), {}))
        times = []
        for _ in range(max(3, args.runs // 10)):
            started = time.perf_counter()
            fm.sweep()  # nothing new since the last: the cost of a quiet sweep
            times.append((time.perf_counter() - started) * 1000)
        rows.append(("sweep with nothing new", len(times), times[0], statistics.median(times), percentile(times, 95), {}))
    print(f"\nwall time, ms (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    print_table(rows)
    print("\nCPU time of this thread, ms (the machine is shared: wall time also waits for a core)")
    print_table(cpu_rows)
    print_plans(logged[:1] + logged[4:5] + logged[7:9], args.plans)


if __name__ == "__main__":
    main()
