"""Time the pool sweep of --due (10,000) due customers with today's clocks and with calendar-aware ones
(issue 20 items 3 and 4: "the sweep with freeze windows and working-day clocks as fast as today's").

    .venv/bin/python benchmarks/generate.py --customers 60000 --db /tmp/bench-clock.db
    .venv/bin/python benchmarks/bench_clock.py --db /tmp/bench-clock.db [--runs 3] [--code DIR]

Each run works on a fresh copy of --db: the scenario's pool rule version, then bench_pools.make_due (the same
set-up as the sweep benchmark in benchmarks/bench_pools.py: --due owned customers with a claim and a last valid
follow-up 40 days back, every release date recomputed), then `pools.sweep(now)` is timed and must release
exactly the due customers.

Scenarios:
  calendar  the rules as they are today: calendar days, no freeze window, no pause, no reorder release.
  clocks    working days with the service calendar (its holidays: National Day, 2026-10-01 … 07), freeze windows
            (Spring Festival 2026 and 2027, 双十一 two days inside the due customers' clocks), 300 approved pauses
            (ended, on due customers) and release by reorder behaviour at 300 % for 2,000 due customers on a
            monthly cycle: every due customer is decided by the new clocks.

--code DIR runs the models of another checkout (e.g. `git archive <commit before> | tar -x -C DIR`): the
"before" figure of the calendar scenario (the clocks scenario needs this checkout's models).
"""
import argparse
import datetime as dt
import os
import random
import shutil
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="a database made by benchmarks/generate.py (only read)")
    parser.add_argument("--copy", default=None, help="the work copy (default: <db>-clock-copy.db)")
    parser.add_argument("--due", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3, help="sweeps per scenario, each on a fresh copy")
    parser.add_argument("--scenarios", default="calendar,clocks")
    parser.add_argument("--code", default=None, help="import the models from this checkout instead")
    return parser.parse_args()


ARGS = parse_args()
CODE = Path(ARGS.code).resolve() if ARGS.code else HERE.parent
sys.path.insert(0, str(CODE / "benchmarks"))
sys.path.insert(0, str(CODE))
os.chdir(CODE)

import bench_pools  # noqa: E402  (the sweep benchmark's set-up: make_due)
from bench import percentile  # noqa: E402

import peewee as pw  # noqa: E402

from models import clock, db, ledger, pools  # noqa: E402
from models import rules as rules_mod  # noqa: E402
from models.base import close_db  # noqa: E402
from models.customers import Customer  # noqa: E402
from models.users import User  # noqa: E402

SEED = 20


def say(text):
    print(f"  {text}", file=sys.stderr, flush=True)


def calendar(now):
    return {}


def clocks(now):
    """Working days, freeze windows, pauses and reorder cycles (this checkout's models only)."""
    from models import pool_clock, reorders
    from models.service_tables import DEFAULTS, ServiceSettings

    ServiceSettings.create(settings={**DEFAULTS, "holidays": [f"2026-10-0{d}" for d in range(1, 8)]}, updated_at=now)
    today = clock.to_local(now).date()
    eleven = dt.date(today.year, 11, 11) if today > dt.date(today.year, 11, 12) else dt.date(today.year - 1, 11, 11)
    # Key accounts' 30 working days would outlast make_due's 40 calendar days: 15, so all --due stay due.
    return {"clock_days": "working", "reorder_warn_percent": 150, "reorder_release_percent": 300,
            "release_no_followup_days_key_account": 15,
            "freeze_windows": [{"start": "2026-02-15", "end": "2026-02-23", "name": "春节"},
                               {"start": eleven.isoformat(), "end": (eleven + dt.timedelta(days=1)).isoformat(),
                                "name": "双十一"},
                               {"start": "2027-02-05", "end": "2027-02-11", "name": "春节"}]}, (pool_clock, reorders)


def decorate(now, modules, due_ids):
    """2,000 due customers on a monthly reorder cycle 100 days late, 300 with an ended approved pause."""
    pool_clock, reorders = modules
    rng = random.Random(SEED)
    chosen = rng.sample(due_ids, 2300)
    today = clock.to_local(now).date()
    product = reorders.Product.select().first()
    if product is None:
        from models.orders import save_product

        product = save_product(User.get(User.role == "admin"), {
            "code": "BENCH-1", "name_zh": "基准面料", "name_en": "Bench fabric", "product_line": "面料", "unit": "米",
            "list_price": "10", "unit_cost": "8", "consumable": "1"})
    expected = today - dt.timedelta(days=70)
    with db.atomic():
        reorders.ReorderCycle.insert_many([
            {"customer": cid, "product": product.id, "every": 1, "unit": "month", "starts_on": expected,
             "next_expected_on": expected, "remind_on": expected - dt.timedelta(days=7), "active": True,
             "created_at": now, "updated_at": now} for cid in chosen[:2000]]).execute()
        pool_clock.CustomerPause.insert_many([
            {"customer": cid, "reason": "bench", "starts_on": today - dt.timedelta(days=80),
             "ends_on": today - dt.timedelta(days=61), "status": "approved", "created_at": now}
            for cid in chosen[2000:]]).execute()
    pools.recompute_releases(now)


def one_run(scenario, now):
    shutil.copy(ARGS.db, COPY)
    for suffix in ("-wal", "-shm"):
        Path(str(COPY) + suffix).unlink(missing_ok=True)
    from app import create_app

    app = create_app({"DATABASE_URL": f"sqlite:///{COPY}", "TESTING": True, "SECRET_KEY": "benchmark",
                      "WTF_CSRF_ENABLED": False})
    with app.app_context(), db.connection_context():
        settings, modules = (clocks(now) if scenario == "clocks" else (calendar(now), None))
        admin = User.get(User.role == "admin")
        with db.atomic():
            last = rules_mod.RuleVersion.select(pw.fn.MAX(rules_mod.RuleVersion.version)).scalar() or 0
            rules_mod.RuleVersion.create(version=last + 1, effective_from=now - dt.timedelta(minutes=1),
                                         settings={**rules_mod.in_force(now).s, **settings}, created_at=now,
                                         created_by=admin.id, note=f"bench {scenario}")
            # make_due recomputes every release date under it: the sweep need not do it once more
            ledger.record("rules_applied", None, None, now, rules_mod.in_force(now), inputs={"customers": 0})
        started = time.perf_counter()
        setup = bench_pools.make_due(ARGS.due, now)
        if modules:
            due_ids = [i for (i,) in Customer.select(Customer.id).where(Customer.release_at <= now).tuples()]
            decorate(now, modules, due_ids)
            setup["due"] = Customer.select().where(Customer.release_at <= now).count()
        say(f"{scenario}: set-up in {time.perf_counter() - started:.0f} s: {setup}")
        started = time.perf_counter()
        result = pools.sweep(now)
        elapsed = (time.perf_counter() - started) * 1000
        if result["released"] != setup["due"]:
            sys.exit(f"{scenario}: the sweep released {result['released']}, {setup['due']} were due")
        again = pools.sweep(now)
        if again["released"]:
            sys.exit(f"{scenario}: the second sweep released {again['released']}")
    close_db()
    say(f"{scenario}: sweep {elapsed:,.0f} ms, {result}")
    return elapsed, result


COPY = Path(ARGS.copy).resolve() if ARGS.copy else Path(ARGS.db).with_name(Path(ARGS.db).stem + "-clock-copy.db")


def main():
    now = clock.now()
    print(f"{ARGS.db}, code {CODE}, {ARGS.due:,} due, {ARGS.runs} runs per scenario (each on a fresh copy), ms\n")
    print(f"{'scenario':<12} {'runs':>5} {'median':>9} {'p95':>9} {'per customer':>13}  released")
    try:
        for scenario in ARGS.scenarios.split(","):
            times, result = [], None
            for _ in range(ARGS.runs):
                elapsed, result = one_run(scenario, now)
                times.append(elapsed)
            median = statistics.median(times)
            print(f"{scenario:<12} {len(times):>5} {median:>9,.0f} {percentile(times, 95):>9,.0f} "
                  f"{median / ARGS.due:>11.2f}ms  {result['released']}", flush=True)
    finally:
        for suffix in ("", "-wal", "-shm"):
            Path(str(COPY) + suffix).unlink(missing_ok=True)


if __name__ == "__main__":
    main()
