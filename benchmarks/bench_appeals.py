"""Time appeals and undo (issue 20 item 2) on a database of its own: N customers of 200 reps, half of them
force-released (a `forced_release` ledger row each, over five rule versions and 60 days), filler ledger rows up
to L in all, and one in a hundred released customers under an open appeal; generated here in SQL.

    .venv/bin/python benchmarks/bench_appeals.py [--customers 1000000] [--ledger 500000] [--db /tmp/appeals-bench.db]
                                                 [--keep]

Prints median / p95 of: `pools.check_claim` per released customer with the appeal hold (what the drop's lottery
asks for each of 10,000 entrants, the claim context read once) and the hold's own query; the admin's forced-release
list (first page, by rule version, by date range, a deep page); filing and deciding an appeal; and the bulk undo of
500 forced releases (each its own transaction). /work/bench/big.db is never touched: the database is built under
/tmp (reused with --keep when it has the same size).
"""
import argparse
from collections import Counter
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

import peewee as pw

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import models.customers  # noqa: E402,F401  (customers before notifications: the import order that works)
import models  # noqa: E402
from benchmarks.bench_value import _defaults  # noqa: E402
from models import appeals, clock, db, pools  # noqa: E402
from models import rules as rules_mod  # noqa: E402
from models.appeal_tables import Appeal, held_by_appeal  # noqa: E402
from models.customers import Customer, Pool  # noqa: E402
from models.ledger import PoolEvent  # noqa: E402
from models.users import Team, User  # noqa: E402

NOW = dt.datetime(2026, 11, 24, 2, 0)  # a Tuesday, 10:00 in Shanghai
REPS = 200


def generate(path, customers, ledger_rows):
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
                            team=teams[i % 20], created_at=NOW).id for i in range(REPS)]
        User.create(username="admin", full_name="Admin", password_hash="x", role="admin", created_at=NOW)
        pool = Pool.select().first() or Pool.create(name_zh="公海", name_en="Pool", active=True)
        rules_mod.RuleVersion.create(version=1, effective_from=NOW - dt.timedelta(days=400), created_at=NOW,
                                     settings={**rules_mod.DEFAULTS, "capacity": {"sales": 100000, "manager": 100000},
                                               "claims_per_day": 100000})
    cols = _defaults(Customer, {"id", "name", "owner", "team", "created_at", "updated_at", "stage_changed_at",
                                "touched_at", "stage", "claimed_at", "pool", "released_at", "released_from",
                                "released_team", "created_by"})
    names = ", ".join(cols)
    # odd ids owned; even ids released 1..60 days ago (beyond every freeze and cooling-off after 37 days)
    db.execute_sql(
        f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
        f"INSERT INTO customer (id, name, owner_id, created_by_id, team_id, stage, created_at, updated_at, stage_changed_at, "
        f"touched_at, claimed_at, pool_id, released_at, released_from, {names}) "
        f"SELECT i, 'Customer ' || i, CASE WHEN i % 2 THEN ? + i % {REPS} END, ? + i % {REPS}, NULL, 'target', "
        f"datetime(?, '-200 days'), ?, ?, ?, datetime(?, '-90 days'), CASE WHEN i % 2 = 0 THEN ? END, "
        f"CASE WHEN i % 2 = 0 THEN datetime(?, '-' || (1 + i % 60) || ' days') END, "
        f"CASE WHEN i % 2 = 0 THEN ? + i % {REPS} END, {', '.join('?' for _ in cols)} FROM n",
        [customers, reps[0], reps[0], at, at, at, at, at, pool.id, at, reps[0], *cols.values()])
    db.execute_sql("UPDATE customer SET team_id = (SELECT team_id FROM user WHERE user.id = customer.owner_id) "
                   "WHERE owner_id IS NOT NULL")
    db.execute_sql("UPDATE customer SET released_team = (SELECT team_id FROM user WHERE user.id = customer.released_from) "
                   "WHERE released_from IS NOT NULL")
    print(f"  {customers:,} customers ({time.perf_counter() - started:.0f} s)", flush=True)
    db.execute_sql(
        "INSERT INTO pool_event (at, kind, actor_id, customer_id, subject_id, from_owner, to_owner, from_pool, to_pool, "
        "rule_version, inputs, reason) SELECT released_at, 'forced_release', NULL, id, NULL, released_from, NULL, NULL, "
        "pool_id, id % 5, '{\"rule\": \"no_followup\"}', 'no valid follow-up since … (rule v1: 15 days)' "
        "FROM customer WHERE released_at IS NOT NULL")
    filler = max(0, ledger_rows - customers // 2)
    db.execute_sql(
        f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
        f"INSERT INTO pool_event (at, kind, actor_id, customer_id, subject_id, from_owner, to_owner, from_pool, to_pool, "
        f"rule_version, inputs, reason) SELECT datetime(?, '-' || (i % 300) || ' days'), 'claim', ? + i % {REPS}, "
        f"1 + (i * 2) % ?, NULL, NULL, ? + i % {REPS}, NULL, NULL, 1, '{{}}', '' FROM n",
        [filler, at, reps[0], customers, reps[0]])
    db.execute_sql(  # one released customer in a hundred under an open appeal
        "INSERT INTO appeal (kind, ref_id, customer_id, appellant_id, team_id, reason, status, opened_at, window_ends_at, "
        "decision_reason, outcome) SELECT 'release', e.id, e.customer_id, e.from_owner, NULL, 'bench', 'open', e.at, "
        "e.at, '', '{}' FROM pool_event e WHERE e.kind = 'forced_release' AND e.customer_id % 200 = 0")
    db.execute_sql("ANALYZE")
    print(f"  ledger and appeals ({time.perf_counter() - started:.0f} s)", flush=True)


def stats(label, times):
    times = sorted(times)
    p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
    print(f"  {label:<58} n={len(times):>6}  median {statistics.median(times) * 1000:8.2f} ms  "
          f"p95 {p95 * 1000:8.2f} ms", flush=True)


def timed(fn, *args, **kw):
    started = time.perf_counter()
    result = fn(*args, **kw)
    return time.perf_counter() - started, result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--ledger", type=int, default=500_000, help="ledger rows in all")
    parser.add_argument("--db", default="/tmp/appeals-bench.db")
    parser.add_argument("--keep", action="store_true", help="reuse the database if it has that many customers")
    args = parser.parse_args(argv)
    path = Path(args.db)
    clock.freeze(NOW)
    reuse = False
    if args.keep and path.exists():
        models.init_db(f"sqlite:///{path}")
        db.connect()
        reuse = Customer.select().count() == args.customers
        if not reuse:
            models.close_db()
    if not reuse:
        print(f"generating {args.customers:,} customers, {args.ledger:,} ledger rows into {path}", flush=True)
        generate(path, args.customers, args.ledger)
    print(f"{PoolEvent.select().count():,} ledger rows, {Appeal.select().count():,} open appeals", flush=True)
    rules = rules_mod.in_force(NOW)
    admin = User.get(User.username == "admin")
    actor = User.get(User.username == "rep007")

    # the drop's question for each of 10,000 entrants: check_claim with the hold (context read once)
    released = list(Customer.select().where(Customer.owner.is_null() & Customer.pool.is_null(False))
                    .order_by(Customer.id).limit(10_000))
    context = pools.claim_context(actor, rules, NOW)
    hold, check, refused = [], [], 0
    for c in released:
        t, _ = timed(held_by_appeal, c.id)
        hold.append(t)
        started = time.perf_counter()
        try:
            pools.check_claim(actor, c, rules, NOW, context)
        except pools.ClaimRefused as exc:
            refused += exc.rule == "appealed"
        check.append(time.perf_counter() - started)
    stats("the appeal hold's query (held_by_appeal)", hold)
    stats(f"check_claim per released customer ({refused} held by an appeal)", check)
    print(f"  check_claim for all {len(check):,} entrants: {sum(check):.2f} s", flush=True)

    # the admin's list of forced releases
    for label, kw in (("forced releases: first page", {}), ("… by rule version 3", {"rule_version": 3}),
                      ("… a week's range", {"since": NOW - dt.timedelta(days=20), "until": NOW - dt.timedelta(days=13)}),
                      ("… version 2 in a week's range", {"rule_version": 2, "since": NOW - dt.timedelta(days=40),
                                                          "until": NOW - dt.timedelta(days=33)})):
        times = []
        for _ in range(30):
            t, page = timed(lambda: (lambda p: (p, appeals.undone(p.rows)))(appeals.forced_releases(admin, limit=50, **kw)))
            times.append(t)
        stats(label, times)
    cursor = None
    for _ in range(100):  # 100 pages down
        cursor = appeals.forced_releases(admin, after=cursor, limit=50).next
    times = []
    for _ in range(30):
        t, _ = timed(lambda: appeals.forced_releases(admin, after=cursor, limit=50))
        times.append(t)
    stats("… the 101st page (keyset)", times)

    # an appeal filed and decided (a fresh release each: appealable within its window)
    file_t, decide_t = [], []
    owned = list(Customer.select().where(Customer.owner.is_null(False)).order_by(Customer.id.desc()).limit(40))
    for c in owned:
        rep = User.get_by_id(c.owner_id)
        pools.release_customer(None, c, "bench", kind="forced_release", rules=rules, inputs={"rule": "no_followup"})
        ev = PoolEvent.select().where((PoolEvent.customer == c.id) & (PoolEvent.kind == "forced_release")) \
            .order_by(PoolEvent.id.desc()).first()
        t, appeal = timed(appeals.appeal_release, rep, ev.id, "漏登了跟进")
        file_t.append(t)
        t, _ = timed(appeals.decide_appeal, admin, appeal.id, len(decide_t) % 2 == 0, "核实")
        decide_t.append(t)
    stats("appeal_release", file_t)
    stats("decide_appeal (half upheld: the restore; half rejected)", decide_t)

    # the bulk undo of 500 forced releases without an appeal
    ids = [e.id for e in PoolEvent.select(PoolEvent.id).join(Customer, on=(PoolEvent.customer == Customer.id))
           .where((PoolEvent.kind == "forced_release") & pw.SQL('"t2"."id" % 200 != 0') & Customer.owner.is_null())
           .order_by(PoolEvent.id.desc()).limit(500)]
    started = time.perf_counter()
    results = appeals.undo_releases(admin, ids, "规则版本配置错误")
    took = time.perf_counter() - started
    done = sum(1 for _pk, _n, exc in results if exc is None)
    why = Counter(exc.rule for _pk, _n, exc in results if exc is not None)
    print(f"  bulk undo of {len(ids)} forced releases: {took:.2f} s ({took / max(1, len(ids)) * 1000:.1f} ms each), "
          f"{done} restored, {len(ids) - done} refused {dict(why)}", flush=True)
    clock.freeze(None)


if __name__ == "__main__":
    main()
