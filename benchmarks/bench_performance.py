"""Time targets' progress and the performance ranking (issue 16 items 1 and 4) on a database of their own.

    .venv/bin/python benchmarks/bench_performance.py [--reps 200] [--years 3]
                                                     [--db /tmp/perf-bench.db] [--keep] [--from-db /work/bench/big.db]

The read model never reads customers, follow-ups or stage changes: it reads the counters the verbs keep
(`rep_period`: per rep, team, month / quarter / year and metric). So the database built here is those counters at their worst density for the
scale of issue 16: 200 reps in 20 teams, every rep with every metric in every month for `--years` years
(all six stages' moves, follow-ups, claims and their outcomes, revenue, collections, lead answers).
Targets for every team, kind and period of the year. Printed: rows, median / p95 over 200 runs of the ranking (all reps and one team; month,
quarter, year), a rep's own page with the team average, the team's target board and both workbench cards,
the cost of one counter upsert (what every verb pays), and the query plans.

`--from-db` also times a full `rebuild()` aggregation read-only against a big generated database (its
follow-ups, stage changes and ledger; nothing is written there).
"""
import argparse
import datetime as dt
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import models.customers  # noqa: E402,F401
import models  # noqa: E402
from models import clock, db  # noqa: E402
from models import perf_tables as perf  # noqa: E402
from models import performance as pm  # noqa: E402
from models import targets as tm  # noqa: E402
from models.customer_tables import STAGES  # noqa: E402
from models.users import Team, User  # noqa: E402

NOW = dt.datetime(2026, 11, 24, 2, 0)


def months_back(today, n):
    out, m = [], today.replace(day=1)
    for _ in range(n):
        out.append(m)
        m = (m - dt.timedelta(days=1)).replace(day=1)
    return out


def generate(path, reps_n, years):
    if path.exists():
        path.unlink()
    models.init_db(f"sqlite:///{path}")
    db.connect()
    models.migrate()
    db.execute_sql("PRAGMA synchronous=off")
    db.execute_sql("PRAGMA foreign_keys=OFF")  # claims name customers this database does not hold
    rng = random.Random(16)
    today = clock.to_local(NOW).date()
    with db.atomic():
        teams = [Team.create(name=f"Team {i:02d}") for i in range(1, 21)]
        managers = []
        for i, team in enumerate(teams):
            m = User.create(username=f"manager{i + 1:02d}", full_name=f"Manager {i + 1:02d}", password_hash="x",
                            role="manager", team=team.id, created_at=NOW)
            Team.update(manager=m.id).where(Team.id == team.id).execute()
            managers.append(m)
        reps = [User.create(username=f"rep{i + 1:03d}", full_name=f"Rep {i + 1:03d}", password_hash="x", role="sales",
                            team=teams[i % len(teams)].id, created_at=NOW) for i in range(reps_n)]
        metrics = ["new_customer", "followup", "followup_valid", "claim", "revenue", "collection", "promoted", "demoted",
                   "lead_answer", "lead_late", "claim_open", "claim_signed", "claim_released", "claim_moved"]
        metrics += [f"into:{s}" for s in STAGES[1:]] + [f"left:{s}" for s in STAGES] + [f"up:{s}" for s in STAGES[:-1]]
        rows = []
        for month in months_back(today, 12 * years):
            for rep in reps + managers:
                for metric in metrics:
                    n = rng.randint(1, 60)
                    amount = (rng.randint(1, 50) * 86400 * n if metric.startswith("left:")
                              else rng.randint(10_000, 5_000_000_00) if metric in ("revenue", "collection")
                              else rng.randint(30, 3000) * n if metric == "lead_answer" else 0)
                    rows.append((rep.id, rep.team_id, "month", month, metric, n, amount))
        for start in range(0, len(rows), 5000):
            perf.RepPeriod.insert_many(rows[start:start + 5000], fields=[
                perf.RepPeriod.rep, perf.RepPeriod.team_id, perf.RepPeriod.span, perf.RepPeriod.starts_on,
                perf.RepPeriod.metric, perf.RepPeriod.n, perf.RepPeriod.amount]).execute()
        perf.roll_up()  # the quarters and years, as bump() keeps them
        # targets: every team × kind × period of the year
        kinds = tm.kinds()
        year = tm.containing("year", today)
        periods = [tm.Period("month", m) for m in year.months()]
        periods += sorted({tm.containing("quarter", p.start) for p in periods}, key=lambda p: p.start) + [year]
        for team, manager in zip(teams, managers):
            members = [r for r in reps if r.team_id == team.id] + [manager]
            for kind in kinds:
                for p in periods:
                    t = tm.Target.create(team=team.id, kind=kind.id, period=p.kind, starts_on=p.start, amount=1000 * len(members),
                                         version=1, updated_by=manager.id, updated_at=NOW)
                    tm.TargetShare.insert_many([{"target": t.id, "rep": m.id, "amount": 1000} for m in members]).execute()
    db.execute_sql("ANALYZE")
    db.execute_sql("PRAGMA foreign_keys=ON")
    return teams, managers, reps


def timed(fn, runs=200):
    """(wall median, wall p95, CPU median, CPU p95) in ms: on a shared machine the CPU time is the figure
    that does not depend on the neighbours' load."""
    wall, cpu = [], []
    for _ in range(runs):
        started, cpu_started = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)
    wall.sort()
    cpu.sort()
    p95 = int(0.95 * (runs - 1))
    return statistics.median(wall), wall[p95], statistics.median(cpu), cpu[p95]


def plans():
    p = tm.containing("year", clock.today())
    team_id = Team.select(Team.id).order_by(Team.id).first().id
    headline = ", ".join(f"'{m}'" for m in pm.HEADLINE)
    stages = ", ".join(f"'{m}'" for m in pm.STAGE_METRICS)
    for label, sql, params in [
        ("headline per rep, one team, a year", f"SELECT rep_id, metric, SUM(n), SUM(amount) FROM rep_period WHERE "
         f"metric IN ({headline}) AND span = 'year' AND starts_on = ? AND team_id = ? GROUP BY rep_id, metric",
         (p.start, team_id)),
        ("headline per rep, every rep, a year", f"SELECT rep_id, metric, SUM(n), SUM(amount) FROM rep_period WHERE "
         f"metric IN ({headline}) AND span = 'year' AND starts_on = ? GROUP BY rep_id, metric", (p.start,)),
        ("stage details, every rep, a year", f"SELECT metric, SUM(n), SUM(amount) FROM rep_period WHERE "
         f"metric IN ({stages}) AND span = 'year' AND starts_on = ? GROUP BY metric", (p.start,)),
        ("stage details, one rep, a year", f"SELECT metric, SUM(n), SUM(amount) FROM rep_period WHERE "
         f"metric IN ({stages}) AND span = 'year' AND starts_on = ? AND rep_id IN (?) GROUP BY metric", (p.start, 5)),
    ]:
        print(f"  plan: {label}")
        for row in db.execute_sql("EXPLAIN QUERY PLAN " + sql, params).fetchall():
            print(f"      {row[-1]}")


def rebuild_from(path):
    """The rebuild's aggregation over a big database's rows, read-only (no writes there)."""
    import sqlite3

    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    month = "date({col}, '+8 hours', 'start of month')"
    for label, sql in [
        ("stage changes with dwell (LAG)", "SELECT COUNT(*), SUM(d) FROM (SELECT julianday(at) - julianday(LAG(at) OVER "
         "(PARTITION BY customer_id ORDER BY at, id)) AS d FROM stage_change)"),
        ("follow-ups per author × month", f"SELECT COUNT(*) FROM (SELECT author_id, {month.format(col='at')} AS m, "
         "COUNT(*), SUM(is_valid) FROM follow_up GROUP BY author_id, m)"),
    ]:
        started = time.perf_counter()
        con.execute(sql).fetchall()
        print(f"  rebuild part: {label:<32} {time.perf_counter() - started:8.1f} s")
    con.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument("--db", default="/tmp/perf-bench.db")
    parser.add_argument("--keep", action="store_true", help="reuse the database when it exists")
    parser.add_argument("--from-db", help="also time the rebuild's aggregation on this database (read-only)")
    args = parser.parse_args(argv)
    path = Path(args.db)
    clock.freeze(NOW)
    started = time.perf_counter()
    if args.keep and path.exists():
        models.init_db(f"sqlite:///{path}")
        db.connect()
    else:
        generate(path, args.reps, args.years)
        print(f"generated in {time.perf_counter() - started:.1f} s")
    for table in ("rep_period", "target", "target_share"):
        print(f"  {table:<14} {db.execute_sql(f'SELECT COUNT(*) FROM {table}').fetchone()[0]:>10,} rows")
    admin = User.get_or_none(User.username == "bench-admin") or User.create(
        username="bench-admin", full_name="Admin", password_hash="x", role="admin", created_at=NOW)
    manager = User.get(User.username == "manager01")
    rep = User.get(User.username == "rep001")
    team = Team.get_by_id(manager.team_id)
    today = clock.today()
    cases = []
    for kind in ("month", "quarter", "year"):
        p = tm.containing(kind, today)
        cases += [
            (f"ranking, all {args.reps} reps, {kind}", lambda p=p: pm.ranking(admin, p, None, "revenue")),
            (f"ranking, one team, {kind}", lambda p=p: pm.ranking(manager, p, team.id, "promoted")),
            (f"rep's own + team average, {kind}", lambda p=p: pm.for_rep(rep, rep, p)),
            (f"team target board, {kind}", lambda p=p: tm.team_board(team, p)),
        ]
    cases += [("rep's workbench card (3 periods)", lambda: tm.my_progress(rep)),
              ("manager's workbench card (3 periods)", lambda: tm.team_progress(team))]
    print(f"{'case':<44} {'wall median':>12} {'wall p95':>10} {'CPU median':>11} {'CPU p95':>9}  (ms)")
    for label, fn in cases:
        print(f"{label:<44} " + " ".join(f"{v:>{w}.1f}" for v, w in zip(timed(fn), (12, 10, 11, 9))))

    def one_bump():
        with db.atomic():
            perf.bump(rep.id, rep.team_id, NOW, "followup")
            perf.bump(rep.id, rep.team_id, NOW, "followup_valid")
    label = "a follow-up's two counters (6 upserts) + commit"
    print(f"{label:<44} " + " ".join(f"{v:>{w}.2f}" for v, w in zip(timed(one_bump, 500), (12, 10, 11, 9))))
    plans()
    if args.from_db:
        rebuild_from(args.from_db)
    models.close_db()


if __name__ == "__main__":
    main()
