"""Add orders at scale to a copy of the benchmark database: about 1M orders with 3M lines, their payment
schedules and payments, and reorder cycles, for the signed customers of /work/bench/big.db.

    cp /work/bench/big.db /work/bench/orders.db
    .venv/bin/python benchmarks/generate_orders.py --db /work/bench/orders.db [--orders 1000000] [--cycles 300000]

The copy is migrated first (0009_orders and whatever else is pending). Rows go in with executemany in
chunked transactions; ids are assigned here, so lines follow their orders without a read-back. The
reorder to-dos are left to the sweep (benchmarks/bench_orders.py times it from cold with --fresh).
Never point this at big.db itself.
"""
import argparse
import datetime as dt
import random
import sqlite3
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import models.customers  # noqa: E402,F401  (customers before notifications: the import order that works)
import models  # noqa: E402
from seeds.demo_orders import PRODUCTS  # noqa: E402

SEED = 909
CHUNK = 50_000
INTERVALS = (14, 21, 30, 30, 30, 45, 60, 60, 90)


def migrate(path):
    models.init_db(f"sqlite:///{path}")
    with models.db.connection_context():
        applied = models.migrate()
    models.close_db()
    return applied


def products(con, now):
    """The demo's product list and 20 colour/width variants of each consumable: ~300 products."""
    if con.execute("SELECT COUNT(*) FROM product").fetchone()[0]:
        return [(pid, price, cost, consumable) for pid, price, cost, consumable in
                con.execute("SELECT id, list_price, unit_cost, consumable FROM product")]
    rows = []
    for code, zh, en, line, unit, price, cost, consumable, _qty in PRODUCTS:
        rows.append((code, zh, en, line, unit, float(price), float(cost), int(consumable), 1, now))
        if consumable:
            for n in range(1, 21):
                rows.append((f"{code}-{n:02d}", f"{zh} {n:02d}号", f"{en} no. {n:02d}", line, unit,
                             round(float(price) * (0.8 + n / 50), 2), round(float(cost) * (0.8 + n / 50), 2), 1, 1, now))
    con.executemany("INSERT INTO product (code, name_zh, name_en, product_line, unit, list_price, unit_cost, "
                    "consumable, active, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    con.commit()
    return [(pid, price, cost, consumable) for pid, price, cost, consumable in
            con.execute("SELECT id, list_price, unit_cost, consumable FROM product")]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--lines", type=int, default=3, help="lines per order")
    parser.add_argument("--cycles", type=int, default=300_000)
    args = parser.parse_args(argv)
    path = Path(args.db).resolve()
    if path.name == "big.db":
        sys.exit("refusing to write to big.db: copy it first")
    started = time.perf_counter()
    print(f"migrations applied: {migrate(path)}", flush=True)

    rng = random.Random(SEED)
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=wal")
    con.execute("PRAGMA synchronous=off")
    con.execute("PRAGMA cache_size=-400000")
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
    today = (now + dt.timedelta(hours=8)).date()
    catalogue = products(con, now.isoformat(" "))
    consumables = [p for p in catalogue if p[3]]
    equipment = [p for p in catalogue if not p[3]]
    # Every customer that ever bought: signed and long-term ones, owned or since released to a pool
    # (their history stays; the rep of an order is the owner when it was taken, here the current one).
    customers = con.execute("SELECT id, owner_id FROM customer WHERE stage IN ('signed', 'long_term') "
                            "ORDER BY id").fetchall()
    owned = [c for c in customers if c[1] is not None]
    # rep001's customers all get a history, so the 360 page and the workbench have something to show.
    rep1 = con.execute("SELECT id FROM user WHERE username = 'rep001'").fetchone()
    rep1_customers = [c for c in customers if rep1 and c[1] == rep1[0]]
    print(f"{len(customers):,} signed customers; {len(catalogue)} products", flush=True)

    next_order = (con.execute('SELECT MAX(id) FROM "order"').fetchone()[0] or 0) + 1
    created = now.isoformat(" ")
    done = 0
    while done < args.orders:
        n = min(CHUNK, args.orders - done)
        orders, lines, dues, payments = [], [], [], []
        for i in range(n):
            cid, owner = rep1_customers[i % len(rep1_customers)] if done == 0 and i < 20 * len(rep1_customers) \
                else customers[int(rng.random() * len(customers))]
            day = today - dt.timedelta(days=int(rng.random() * 730))
            oid = next_order
            next_order += 1
            total = cost = 0.0
            for _ in range(args.lines):
                kind = consumables if rng.random() < 0.93 else equipment
                pid, price, unit_cost, _consumable = kind[int(rng.random() * len(kind))]
                qty = float(1 + int(rng.random() * 200))
                amount = round(qty * price, 2)
                total += amount
                cost += round(qty * unit_cost, 2)
                lines.append((oid, pid, qty, price, unit_cost, amount))
            total, cost = round(total, 2), round(cost, 2)
            orders.append((oid, cid, owner, day.isoformat(), "signed", total, cost, "", owner, created, created))
            due_on = day + dt.timedelta(days=30)
            dues.append((oid, cid, due_on.isoformat(), total))
            roll = rng.random()
            paid_on = due_on - dt.timedelta(days=int(rng.random() * 10)) if roll < 0.7 else (
                due_on + dt.timedelta(days=3 + int(rng.random() * 70)) if roll < 0.9 else None)
            if paid_on is not None and paid_on <= today:
                payments.append((oid, cid, max(paid_on, day).isoformat(), total, "bank_transfer", 0, owner, created))
        with con:
            con.executemany('INSERT INTO "order" (id, customer_id, rep_id, ordered_on, status, total, cost, note, '
                            'created_by_id, created_at, signed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)', orders)
            con.executemany("INSERT INTO order_line (order_id, product_id, quantity, unit_price, unit_cost, amount) "
                            "VALUES (?, ?, ?, ?, ?, ?)", lines)
            con.executemany("INSERT INTO payment_due (order_id, customer_id, due_on, amount) VALUES (?, ?, ?, ?)", dues)
            con.executemany("INSERT INTO payment (order_id, customer_id, received_on, amount, method, prepayment, "
                            "recorded_by_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", payments)
        done += n
        print(f"  {done:,} orders ({time.perf_counter() - started:.0f} s)", flush=True)

    # Cycles: distinct (customer, consumable) pairs, next expected dates spread from 60 days ago to 90 ahead.
    seen = {(c, p) for c, p in con.execute("SELECT customer_id, product_id FROM reorder_cycle")}
    rows = []
    first = rep1_customers * 3  # rep001 keeps a few cycles per customer: to-dos on their workbench
    while len(rows) < args.cycles:
        cid, owner = first[len(rows)] if len(rows) < len(first) else (
            owned[int(rng.random() * len(owned))] if rng.random() < 0.3 else customers[int(rng.random() * len(customers))])
        pid = consumables[int(rng.random() * len(consumables))][0]
        if (cid, pid) in seen:
            continue
        seen.add((cid, pid))
        every = rng.choice(INTERVALS)
        nxt = today + dt.timedelta(days=int(rng.random() * 150) - 60)
        remind = 7
        rows.append((cid, pid, every, "day", nxt.isoformat(), remind, nxt.isoformat(),
                     (nxt - dt.timedelta(days=remind)).isoformat(), 1, 1, owner, created, created))
    for i in range(0, len(rows), CHUNK):
        with con:
            con.executemany("INSERT INTO reorder_cycle (customer_id, product_id, every, unit, starts_on, remind_days, "
                            "next_expected_on, remind_on, active, suggested, created_by_id, created_at, updated_at) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows[i:i + CHUNK])
    print(f"  {len(rows):,} reorder cycles", flush=True)
    con.execute("ANALYZE")
    con.close()
    print(f"done in {time.perf_counter() - started:.0f} s", flush=True)


if __name__ == "__main__":
    main()
