"""Build a fresh database at benchmark scale: the demo's people and teams and a million customers.

    .venv/bin/python benchmarks/generate.py --customers 1000000 --db /work/bench/big.db

Rows come from the demo's generators (seeds/demo.py), written with executemany in big
transactions while journaling, syncing and the secondary indexes are off; then the pools'
bulk upkeep, the indexes, the search index and the planner statistics. Audit rows are written
only for owned customers.
"""
import argparse
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import models  # noqa: E402
from models import clock, db, pools, search  # noqa: E402
from seeds import demo, reference  # noqa: E402

OWNED_PER_REP = 50
OWNED_PER_MANAGER = 10
LEAD_SHARE = 0.30  # marketing's stages: unidentified and prospect
FOLLOWUPS_PER_CUSTOMER = 5
CHUNK = 20_000
BULK_TABLES = ("customer", "contact", "follow_up", "stage_change", "audit_event", "pool_event")
POOL_STAGES = demo.Choice([("target", 55), ("intent", 20), ("signed", 10), ("long_term", 15)])


def plan_customers(rng, people, total):
    """Reps at capacity, managers with a few, 30 % marketing leads, the rest in the pool; the pool
    gets the follow-ups left to reach FOLLOWUPS_PER_CUSTOMER on average."""
    plans = [p for rep in people.reps for p in demo.owned_plans(rng, rep, OWNED_PER_REP)]
    plans += [p for manager in people.managers for p in demo.owned_plans(rng, manager, OWNED_PER_MANAGER)]
    plans += [demo.lead_plan(rng) for _ in range(int(total * LEAD_SHARE))]
    pool = max(0, total - len(plans))
    left = FOLLOWUPS_PER_CUSTOMER * total - sum(p.followups for p in plans)
    spread = 2 * max(0, left / pool) + 1 if pool else 1  # uniform 0 … 2 × mean
    plans += [demo.pool_plan(rng, people.reps, POOL_STAGES(rng), int(rng.random() * spread))
              for _ in range(pool)]
    plans = plans[:total]
    plans.sort(key=lambda p: -p.age)
    return plans


def drop_indexes():
    """Drop the bulk tables' secondary indexes; returns their CREATE statements."""
    names = ", ".join(f"'{t}'" for t in BULK_TABLES)
    rows = db.execute_sql(f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                          f"AND tbl_name IN ({names})").fetchall()
    for name, _ in rows:
        db.execute_sql(f'DROP INDEX "{name}"')
    return [sql for _, sql in rows]


@contextmanager
def phase(label):
    started = time.perf_counter()
    yield
    print(f"  {label:<34} {time.perf_counter() - started:8.1f} s", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--db", required=True, help="path of the database file (replaced)")
    parser.add_argument("--seed", type=int, default=demo.SEED)
    args = parser.parse_args(argv)

    path = Path(args.db).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    models.init_db(f"sqlite:///{path}")
    started = time.perf_counter()
    rng = demo.Random(args.seed)
    print(f"building {path} with {args.customers:,} customers", flush=True)

    with phase("schema, reference data, people"):
        models.migrate()
        reference.load()
        now = clock.now()
        with db.atomic():
            people = demo.create_people(rng, now)
            groups = demo.create_groups(rng)

    with phase("plan"):
        plans = plan_customers(rng, people, args.customers)

    with phase("customers, contacts, follow-ups"):
        for pragma in ("journal_mode = OFF", "synchronous = OFF", "foreign_keys = OFF", "cache_size = -1000000"):
            db.execute_sql(f"PRAGMA {pragma}")
        indexes = drop_indexes()
        builder = demo.CustomerBuilder(rng, people, groups, now,
                                       audit=lambda p: p.holder is not None and not p.released)
        for start in range(0, len(plans), CHUNK):
            with db.atomic():
                for p in plans[start:start + CHUNK]:
                    builder.add(p)
                builder.flush()
            done = min(start + CHUNK, len(plans))
            if done % (5 * CHUNK) == 0 or done == len(plans):
                print(f"    {done:>10,} customers", flush=True)

    with phase("pools, release dates"):
        pools.place_unowned()
        pools.recompute_releases(now)

    with phase(f"{len(indexes)} secondary indexes"):
        for sql in indexes:
            db.execute_sql(sql)

    with phase("search index"):
        search.rebuild()

    with phase("ANALYZE"):
        db.execute_sql("ANALYZE")
        db.execute_sql("PRAGMA journal_mode = WAL")

    print(f"  {'total':<34} {time.perf_counter() - started:8.1f} s")
    for table in ("user", "team", "customer", "contact", "follow_up", "stage_change", "audit_event", "pool_event",
                  "customer_fts"):
        count = db.execute_sql(f'SELECT count(*) FROM "{table}"').fetchone()[0]
        print(f"  {table:<14} {count:>12,} rows")
    models.close_db()
    print(f"  file size      {os.path.getsize(path) / 2**20:>12,.0f} MB  ({path})")


if __name__ == "__main__":
    main()
