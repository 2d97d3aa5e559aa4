"""Time the daily report pre-fill (issue 16) for one rep-day at scale: 200 reps, 1M customers, 5M follow-ups,
2.4M stage changes, 1M orders (the orders benchmark database, read only), plus a year of visit plans and
daily reports generated here for the 200 reps.

    .venv/bin/python benchmarks/bench_daily.py [--source /work/bench/orders.db] [--db /tmp/daily-bench.db]
                                               [--runs 300] [--keep]

The source database is ATTACHed and only read (never migrated or written); the plan and report tables, and a
copy of stage_change with migration 0032's (actor_id, at) index, live in --db, rebuilt unless --keep finds it. Prints median / p95 of `daily_reports.prefill(rep, day)`
(cold: each rep-day once, in random order; then warm), of `plans.due_items`, `daily_reports.missing` for a
manager and a team's reports of a day, and the query plan of every statement of one pre-fill. Goal: the
pre-fill p95 ≤ 50 ms server side.
"""
import argparse
import datetime as dt
import logging
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import models.customers  # noqa: E402,F401  (customers before notifications: the import order that works)
import models  # noqa: E402
from models import clock, db  # noqa: E402
from models import daily_reports as dr  # noqa: E402
from models import plans as pm  # noqa: E402
from models.users import User  # noqa: E402
from benchmarks.bench import QueryLog  # noqa: E402

NOW = dt.datetime(2026, 12, 5, 10, 0)  # a Saturday 18:00 in Shanghai, after the source's last day of data
TABLES = (pm.PlanItem, dr.DailyReport, dr.CompetitorNews, dr.ReportComment, dr.ReportVersion)


def workdays(last, n):
    out, day = [], last
    while len(out) < n:
        if day.weekday() < 5:
            out.append(day)
        day -= dt.timedelta(days=1)
    return sorted(out)


def generate(reps, days, rng):
    """Three plan items per rep and working day on the rep's own customers, most carried out; a report
    per rep-day (90 %) with one competitor news line in two of three."""
    owned = {}
    for cid, owner in db.execute_sql("SELECT id, owner_id FROM customer WHERE owner_id IS NOT NULL"):
        owned.setdefault(owner, []).append(cid)
    started = time.perf_counter()
    at = NOW.isoformat(sep=" ")
    with db.atomic():
        items, reports = [], []
        for rep in reps:
            mine = owned.get(rep.id) or [1]
            for day in days:
                for n, cid in enumerate(rng.sample(mine, min(3, len(mine)))):
                    status = "done" if rng.random() < 0.75 else rng.choice(("closed", "rolled"))
                    items.append({"rep": rep.id, "day": day, "at": dt.time(9 + 2 * n, 30), "kind": "visit",
                                  "customer": cid, "objective": "确认明年需求", "status": status, "created_at": at})
                if rng.random() < 0.9:
                    reports.append({"rep": rep.id, "day": day, "facts": "{}", "opinions": "价格偏高", "filed_at": at,
                                    "updated_at": at, "read_at": at if day < days[-1] else None})
        for i in range(0, len(items), 5000):
            pm.PlanItem.insert_many(items[i:i + 5000]).execute()
        for i in range(0, len(reports), 5000):
            dr.DailyReport.insert_many(reports[i:i + 5000]).execute()
        db.execute_sql("INSERT INTO competitor_news (report_id, competitor, note, day) "
                       "SELECT id, CASE id % 4 WHEN 0 THEN '鸿运纺织' WHEN 1 THEN '锦华面料' WHEN 2 THEN '恒达辅料' "
                       "ELSE '新丝路纺织' END, '报价低 5%', day FROM daily_report WHERE id % 3 != 0")
    db.execute_sql("ANALYZE main")
    print(f"generated {len(items):,} plan items and {len(reports):,} reports in {time.perf_counter() - started:.1f} s")


def timed(fn, args_list):
    out = []
    for args in args_list:
        t = time.perf_counter()
        fn(*args)
        out.append((time.perf_counter() - t) * 1000)
    return out


def show(label, ms):
    ms = sorted(ms)
    p95 = ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))]
    print(f"{label:<44} median {statistics.median(ms):6.1f} ms   p95 {p95:6.1f} ms   max {ms[-1]:6.1f} ms   (n={len(ms)})")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default="/work/bench/orders.db")
    parser.add_argument("--db", default="/tmp/daily-bench.db")
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    path = Path(args.db)
    fresh = not (args.keep and path.exists())
    if fresh and path.exists():
        path.unlink()
    models.init_db(f"sqlite:///{path}", {"foreign_keys": 0})
    db.connect()
    db.execute_sql("ATTACH DATABASE ? AS big", (f"file:{args.source}?mode=ro",))
    clock.freeze(NOW)
    rng = random.Random(16)
    reps = list(User.select().where(User.role == "sales").order_by(User.id))
    days = workdays(clock.today() - dt.timedelta(days=1), 250)
    if fresh:
        db.create_tables(TABLES)
        generate(reps, days, rng)
        # The source predates migration 0032's stage_change(actor_id, at): a copy of the table with the
        # model's indexes lives in --db, where unqualified names look first.
        started = time.perf_counter()
        with db.atomic():
            db.execute_sql("CREATE TABLE main.stage_change AS SELECT * FROM big.stage_change")
            for name, cols in (("stagechange_at", "at"), ("stagechange_customer_id", "customer_id"),
                               ("stagechange_actor_id_at", "actor_id, at")):
                db.execute_sql(f'CREATE INDEX main."{name}" ON stage_change ({cols})')
        db.execute_sql("ANALYZE main")
        print(f"copied stage_change with its indexes in {time.perf_counter() - started:.1f} s")
    counts = {t: db.execute_sql(f'SELECT max(rowid) FROM "{t}"').fetchone()[0]
              for t in ("customer", "follow_up", "stage_change", "order", "payment", "plan_item", "daily_report")}
    print("rows:", ", ".join(f"{t} {n:,}" for t, n in counts.items()), f"· reps {len(reps)}")

    # The source's data runs to its generation day: take rep-days from its last 60 working days.
    recent = days[-60:]
    pairs = [(rep.id, day) for rep in reps for day in recent]
    rng.shuffle(pairs)
    cold = pairs[:args.runs]
    show("prefill(rep, day), each rep-day once", timed(dr.prefill, cold))
    show("prefill(rep, day), again (warm)", timed(dr.prefill, cold))
    sample = cold[0]
    facts = dr.prefill(*sample)
    print(f"  e.g. rep {sample[0]} on {sample[1]}: {facts['planned']} planned, {facts['carried_out']} carried out, "
          f"{facts['followup_count']} follow-ups, {len(facts['stage_moves'])} stage moves, "
          f"{len(facts['orders'])} orders, {facts['collected']} collected")
    users = {r.id: r for r in reps}
    show("plans.due_items(rep, day)", timed(lambda r, d: list(pm.due_items(users[r], d)), cold[:100]))
    managers = list(User.select().where(User.role == "manager"))
    if managers:
        show("daily_reports.missing(manager, day)", timed(dr.missing, [(m, recent[-1]) for m in managers]))
        show("team reports of a day (reports_for)",
             timed(lambda m, d: dr.reports_for(m, [u.id for u in dr.team_reps(m)], d), [(m, recent[-2]) for m in managers]))
        show("competitor news search (manager)", timed(lambda m: dr.search_news(m, "鸿运"), [(m,) for m in managers]))

    log = QueryLog()
    logger = logging.getLogger("peewee")
    logger.addHandler(log)
    logger.setLevel(logging.DEBUG)
    dr.prefill(*sample)
    logger.removeHandler(log)
    print("\nquery plans of one pre-fill:")
    for sql, params in log.queries:
        t = time.perf_counter()
        db.execute_sql(sql, params).fetchall()
        ms = (time.perf_counter() - t) * 1000
        print(f"  {ms:6.2f} ms  {sql[:150]}")
        for row in db.execute_sql("EXPLAIN QUERY PLAN " + sql, params):
            print(f"             {row[-1]}")
    db.close()


if __name__ == "__main__":
    main()
