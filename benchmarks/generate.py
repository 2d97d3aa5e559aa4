"""Build a fresh database at benchmark scale: the demo's people and teams and a million customers.

    .venv/bin/python benchmarks/generate.py --customers 1000000 --db /work/bench/big.db
    .venv/bin/python benchmarks/generate.py --customers 1000000 --url postgresql://postgres@127.0.0.1:5432/kehu_big

Rows come from the demo's generators (seeds/demo.py), written in big transactions while the bulk
tables' secondary indexes are off: on SQLite with executemany while journaling, syncing and foreign
keys are off; on PostgreSQL with COPY while foreign-key triggers are off (session_replication_role)
and this session does not wait for its commits (synchronous_commit; the server keeps fsync on); the
id sequences are set past the explicit ids. Then the pools' bulk upkeep, the indexes, the search
index (FTS5 trigram; PostgreSQL: pg_trgm GIN, built after its rows) and the planner statistics
(PostgreSQL: VACUUM ANALYZE, which also fills the visibility map for index-only scans). Audit rows
are written only for owned customers. A PostgreSQL database must exist and hold no tables (`--replace`
empties its public schema first).
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
from models.base import is_sqlite  # noqa: E402
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


def drop_indexes(tables):
    """Drop the secondary indexes of `tables` (not those behind a primary key or a constraint); returns their
    CREATE statements."""
    names = ", ".join(f"'{t}'" for t in tables)
    if is_sqlite():
        rows = db.execute_sql(f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                              f"AND tbl_name IN ({names})").fetchall()
    else:
        rows = db.execute_sql(f"SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
                              f"AND tablename IN ({names}) AND indexname NOT IN (SELECT conname FROM pg_constraint)"
                              ).fetchall()
    for name, _ in rows:
        db.execute_sql(f'DROP INDEX "{name}"')
    return [sql for _, sql in rows]


def open_database(args):
    """Bind the models to the database to build (the SQLite file replaced, the PostgreSQL one checked or emptied);
    returns a label for it."""
    if args.db:
        path = Path(args.db).resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        models.init_db(f"sqlite:///{path}")
        return str(path)
    models.init_db(args.url)
    tables = db.execute_sql("SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()").fetchone()[0]
    if tables and not args.replace:
        sys.exit(f"{args.url} holds {tables} tables: give an empty database, or --replace to empty it")
    if tables:
        db.execute_sql("DROP SCHEMA public CASCADE")
        db.execute_sql("CREATE SCHEMA public")
    return args.url


def bulk_mode():
    """Session settings for the bulk load."""
    if is_sqlite():
        for pragma in ("journal_mode = OFF", "synchronous = OFF", "foreign_keys = OFF", "cache_size = -1000000"):
            db.execute_sql(f"PRAGMA {pragma}")
    else:
        db.execute_sql("SET session_replication_role = replica")  # no foreign-key triggers (superuser)
        db.execute_sql("SET synchronous_commit = off")
        db.execute_sql("SET maintenance_work_mem = '1GB'")


def analyze():
    if is_sqlite():
        db.execute_sql("ANALYZE")
        db.execute_sql("PRAGMA journal_mode = WAL")
    else:
        db.execute_sql("SET session_replication_role = DEFAULT")
        db.execute_sql("VACUUM (ANALYZE)")


def size_text(label):
    if is_sqlite():
        return f"{os.path.getsize(label) / 2**20:>12,.0f} MB  ({label})"
    size = db.execute_sql("SELECT pg_database_size(current_database())").fetchone()[0]
    return f"{size / 2**20:>12,.0f} MB  (database {db.database})"


@contextmanager
def phase(label):
    started = time.perf_counter()
    yield
    print(f"  {label:<34} {time.perf_counter() - started:8.1f} s", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--db", help="path of the SQLite database file (replaced)")
    target.add_argument("--url", help="a PostgreSQL database URL (postgresql://user@host:port/name)")
    parser.add_argument("--replace", action="store_true", help="PostgreSQL: empty the database's public schema first")
    parser.add_argument("--seed", type=int, default=demo.SEED)
    args = parser.parse_args(argv)

    label = open_database(args)
    started = time.perf_counter()
    rng = demo.Random(args.seed)
    print(f"building {label} with {args.customers:,} customers", flush=True)

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
        bulk_mode()
        indexes = drop_indexes(BULK_TABLES)
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
        search_indexes = drop_indexes([search.TABLE])  # PostgreSQL's GIN indexes: built after the rows
        search.rebuild()
        for sql in search_indexes:
            db.execute_sql(sql)

    with phase("ANALYZE" if is_sqlite() else "VACUUM ANALYZE"):
        analyze()

    print(f"  {'total':<34} {time.perf_counter() - started:8.1f} s")
    for table in ("user", "team", "customer", "contact", "follow_up", "stage_change", "audit_event", "pool_event",
                  "customer_fts"):
        count = db.execute_sql(f'SELECT count(*) FROM "{table}"').fetchone()[0]
        print(f"  {table:<14} {count:>12,} rows")
    print(f"  size           {size_text(label)}")
    models.close_db()


if __name__ == "__main__":
    main()
