"""Time pool cleansing (issue 17 item 4) on a database of its own: N unowned customers in one nationwide public
pool, spread over 4 regions (a phone each), 40 teams of 10 reps in those regions; generated here in SQL.

    .venv/bin/python benchmarks/bench_cleansing.py [--customers 700000] [--db /tmp/cleansing-bench.db] [--keep]

Goals: a campaign over 700k pool records created in ≤ 30 s (one INSERT … SELECT with ROW_NUMBER over a VALUES
slot table, one grouped INSERT for the tallies); the cleansing task lists p95 ≤ 50 ms (keyset pages on
(campaign, assignee | team | status, id)). Prints the campaign by team and by rep, the task lists as a rep,
a manager and an admin (first and deep pages, the junk filter), their query plans, a classification, the
progress and rankings, and the pool list with the quarantine filter. /work/bench/big.db is never touched.
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
from benchmarks.bench_value import _defaults, cpu_timed  # noqa: E402
from models import clock, db  # noqa: E402
from models import cleansing as cm  # noqa: E402
from models import listing  # noqa: E402
from models.customers import Customer  # noqa: E402
from models.keyset import keyset_page  # noqa: E402
from models.pools import Pool  # noqa: E402
from models.users import Region, Team, User  # noqa: E402

NOW = dt.datetime(2026, 11, 24, 2, 0)
TEAMS, PER_TEAM = 40, 10


def generate(path, customers):
    if path.exists():
        path.unlink()
    models.init_db(f"sqlite:///{path}")
    db.connect()
    models.migrate()
    db.execute_sql("PRAGMA synchronous=off")
    started = time.perf_counter()
    at = NOW.isoformat(sep=" ")
    with db.atomic():
        regions = []
        for code, zh, en in (("east", "华东", "East"), ("south", "华南", "South"), ("north", "华北", "North"),
                             ("west", "西部", "West")):
            region = Region.get_or_none(Region.code == code) or Region.create(code=code, name_zh=zh, name_en=en)
            regions.append(region.id)
            if not Pool.select().where(Pool.region == region.id).exists():
                Pool.create(name_zh=f"{zh}公海", name_en=f"{en} pool", region=region.id)
        User.create(username="admin", full_name="Admin", password_hash="x", role="admin", created_at=NOW)
        for i in range(TEAMS):
            team = Team.create(name=f"Team {i:02d}", region=regions[i % len(regions)])
            for j in range(PER_TEAM):
                User.create(username=f"rep{i:02d}{j}", full_name=f"Rep {i}-{j}", password_hash="x",
                            role="manager" if j == 0 else "sales", team=team.id, created_at=NOW)
            Team.update(manager=User.get(User.username == f"rep{i:02d}0").id).where(Team.id == team.id).execute()
    # one nationwide pool holding every record (one campaign over all 700k), the records spread over 4 regions
    national = Pool.get_or_none(Pool.region.is_null()) or Pool.create(name_zh="全国公海", name_en="National pool")
    pool_case = str(national.id)
    region_case = "CASE i % 4 " + " ".join(f"WHEN {k} THEN {r}" for k, r in enumerate(regions)) + " END"
    cols = _defaults(Customer, {"id", "name", "owner", "team", "created_at", "updated_at", "stage_changed_at",
                                "touched_at", "stage", "phone", "phone_norm", "region", "pool"})
    names = ", ".join(cols)
    db.execute_sql(
        f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
        f"INSERT INTO customer (id, name, stage, created_at, updated_at, stage_changed_at, touched_at, phone, "
        f"phone_norm, region_id, pool_id, {names}) "
        f"SELECT i, 'Pool customer ' || i, 'target', datetime(?, '-400 days'), ?, ?, datetime(?, '-' || (i % 300) || ' days'), "
        f"'+86 139-' || (10000000 + i), '139' || (10000000 + i), {region_case}, {pool_case}, "
        f"{', '.join('?' for _ in cols)} FROM n",
        [customers, at, at, at, at, *cols.values()])
    print(f"  {customers:,} pool customers ({time.perf_counter() - started:.0f} s)", flush=True)
    db.execute_sql("ANALYZE")
    db.close()


def pct(times, p):
    times = sorted(times)
    return times[max(0, int(len(times) * p) - 1)]


def timed_list(name, fn, runs=60):
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    print(f"  {name}: median {statistics.median(times):.1f} ms, p95 {pct(times, 0.95):.1f} ms")
    return pct(times, 0.95)


def plan(query):
    sql, params = query.sql()
    return " | ".join(row[-1] for row in db.execute_sql("EXPLAIN QUERY PLAN " + sql, params).fetchall())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=700_000)
    parser.add_argument("--db", default="/tmp/cleansing-bench.db")
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
        print(f"generating {args.customers:,} pool customers …", flush=True)
        generate(path, args.customers)
    models.init_db(f"sqlite:///{path}")
    db.connect()
    for table in ("cleansing_tally", "cleansing_task", "cleansing_campaign"):
        db.execute_sql(f'DELETE FROM "{table}"')
    db.execute_sql("UPDATE customer SET quarantined_at = NULL WHERE quarantined_at IS NOT NULL")
    admin = User.get(User.username == "admin")
    per_pool = dict(Customer.select(Customer.pool, models.base.pw.fn.COUNT(Customer.id))
                    .where(Customer.owner.is_null()).group_by(Customer.pool).tuples())
    print(f"database: {sum(per_pool.values()):,} pool customers in {len(per_pool)} pools")
    # one campaign over the pool (the goal's 700k), split by team and then by rep
    results = {}
    for split in ("team", "rep"):
        total_wall, total_cpu, made = 0.0, 0.0, []
        for pool_id in per_pool:
            wall, cpu, c = cpu_timed(cm.start_campaign, admin, {"name": f"bench {split}", "pool_id": str(pool_id),
                                                               "split": split}, NOW)
            total_wall, total_cpu = total_wall + wall, total_cpu + cpu
            made.append(c)
        n = sum(c.total for c in made)
        results[split] = (total_wall, made)
        print(f"campaign split by {split}: {n:,} tasks in {total_wall:.1f} s wall ({total_cpu:.1f} s CPU)", flush=True)
    c = max(results["rep"][1], key=lambda x: x.total)
    team_id = cm.CleansingTask.select(cm.CleansingTask.team).where(cm.CleansingTask.campaign == c.id).limit(1).scalar()
    manager = User.get((User.team == team_id) & (User.role == "manager"))
    rep = User.select().where((User.team == team_id) & (User.role == "sales")).order_by(User.id).first()
    q_rep = cm.tasks(rep, c, "open", mine=True)
    q_mgr = cm.tasks(manager, c, "open")
    q_admin = cm.tasks(admin, c, "open")
    deep = cm.CleansingTask.select(cm.CleansingTask.id).where(cm.CleansingTask.campaign == c.id).order_by(
        cm.CleansingTask.id).offset(c.total * 3 // 4).limit(1).scalar()
    # a few classified, some junk, so the done/junk filters have rows
    sample = list(cm.CleansingTask.select().where((cm.CleansingTask.campaign == c.id)
                                                   & (cm.CleansingTask.team == manager.team_id)).limit(30))
    t0 = time.perf_counter()
    for i, task in enumerate(sample):
        cm.classify_record(manager, task, ("junk", "doubtful")[i % 2], note="bench")
    print(f"classify: {(time.perf_counter() - t0) * 1000 / len(sample):.1f} ms per record ({len(sample)} records)")
    print("task lists (50 a page, keyset on id):")
    worst = max(
        timed_list("a rep's own, first page", lambda: keyset_page(q_rep, [cm.CleansingTask.id], limit=50).rows),
        timed_list("a manager's team, first page", lambda: keyset_page(q_mgr, [cm.CleansingTask.id], limit=50).rows),
        timed_list("a manager's team, a deep page", lambda: keyset_page(q_mgr, [cm.CleansingTask.id], after=deep,
                                                                        limit=50).rows),
        timed_list("admin, every task, first page", lambda: keyset_page(q_admin, [cm.CleansingTask.id], limit=50).rows),
        timed_list("admin, every task, a deep page", lambda: keyset_page(q_admin, [cm.CleansingTask.id], after=deep,
                                                                        limit=50).rows),
        timed_list("admin, junk (the quarantine)", lambda: keyset_page(cm.tasks(admin, c, "done", "junk"),
                                                                      [cm.CleansingTask.id], limit=50).rows),
        timed_list("progress and rankings", lambda: cm.progress(c)))
    for name, q in (("rep", q_rep), ("manager", q_mgr), ("admin", q_admin)):
        print(f"  plan, {name}: {plan(q.order_by(cm.CleansingTask.id).limit(51))}")
    f = listing.Filters.parse({"pool": str(c.pool_id), "scope": "all"}, admin)
    timed_list("the pool's list without the quarantine (first page)", lambda: listing.page(admin, f, count=False).rows, 20)
    wall = results["team"][0]
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    print(f"GOAL ≤ 30 s for a campaign over {sum(per_pool.values()):,} pool records: "
          f"{'met' if wall <= 30 else 'MISSED'} ({wall:.1f} s by team, {results['rep'][0]:.1f} s by rep)")
    print(f"GOAL p95 ≤ 50 ms for the task lists: {'met' if worst <= 50 else 'MISSED'} (worst p95 {worst:.1f} ms)")
    db.close()


if __name__ == "__main__":
    main()
