"""Time the lead routing rule (`models.leads.plan_route`) on the large database: the owner / staker check,
region and industry narrowing, capacity of every candidate, absences and the round-robin, for pool
customers of every region. Read-only: the routing history (`lead_routing`) is a TEMP table filled with
--history routings, so a database built before migration 0015 works as it is.

    .venv/bin/python benchmarks/bench_leads.py --db /work/bench/big.db [--runs 200] [--history 100000] [--capacity 6000]

Goal: p95 ≤ 50 ms per routing decision (the verb adds one transaction of a few writes).
"""
import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import peewee as pw  # noqa: E402

from models import clock, leads  # noqa: E402
from models.base import SQLITE_PRAGMAS, db  # noqa: E402
from models.customers import Customer  # noqa: E402
from models.users import User  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", default="/work/bench/big.db")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--history", type=int, default=100000)
    parser.add_argument("--capacity", type=int, default=0,
                        help="give every rep this capacity (the generated reps are full at 50: nobody could take a lead)")
    args = parser.parse_args()
    if args.capacity:
        from models import rules as pool_rules

        settings = {"capacity": {"sales": args.capacity, "manager": args.capacity}}
        leads.pool_rules.in_force = lambda now=None: pool_rules.Rules(settings, 0)
    database = pw.SqliteDatabase(f"file:{args.db}?mode=ro", uri=True,
                                 pragmas={k: v for k, v in SQLITE_PRAGMAS.items() if k != "journal_mode"})
    db.initialize(database)
    db.connect()
    db.execute_sql("CREATE TEMP TABLE lead_routing (id INTEGER PRIMARY KEY, to_user_id INTEGER, rule TEXT)")
    db.execute_sql("CREATE INDEX temp.lead_routing_rr ON lead_routing (to_user_id, rule, id)")
    reps = [u.id for u in User.holding("sales", fields=(User.id,))]
    rng = random.Random(14)
    db.execute_sql("BEGIN")
    for start in range(0, args.history, 5000):
        db.cursor().executemany("INSERT INTO lead_routing (to_user_id, rule) VALUES (?, ?)",
                                [(rng.choice(reps), rng.choice(leads.RR_RULES)) for _ in range(min(5000, args.history - start))])
    db.execute_sql("COMMIT")
    fields = (Customer.id, Customer.owner, Customer.staked_by, Customer.region, Customer.industry, Customer.pool)
    customers = list(Customer.select(*fields).where(Customer.owner.is_null() & Customer.pool.is_null(False)
                                                        & Customer.region.is_null(False)).limit(20000))
    picks = rng.sample(customers, min(args.runs, len(customers)))
    rs = leads.RoutingRules({}, 0)
    now = clock.now()
    times, rules = [], {}
    for c in picks:
        customer = c
        started = time.perf_counter()
        rep, rule, skipped, steps = leads.plan_route(customer, rs, now)
        times.append((time.perf_counter() - started) * 1000)
        rules[rule] = rules.get(rule, 0) + 1
    times.sort()
    print(f"customers {Customer.select().count():,}, sales reps {len(reps)}, routing history {args.history:,}")
    print(f"plan_route over {len(times)} pool customers: median {statistics.median(times):.1f} ms, "
          f"p95 {times[int(len(times) * 0.95) - 1]:.1f} ms, max {times[-1]:.1f} ms; rules chosen {rules}")


if __name__ == "__main__":
    main()
