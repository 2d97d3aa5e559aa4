"""Time the order and reorder pages and the reorder sweep on the large database.

    .venv/bin/python benchmarks/bench_orders.py --db /work/bench/orders.db [--runs 50] [--fresh]

Build the database with benchmarks/generate_orders.py first (1M orders, 3M lines, 300k cycles on a copy
of big.db). Pages, through the Flask test client, goal p95 ≤ 50 ms:
  the 360 page of rep001's customers with orders (figures and reorder cards), the Orders tab, the
  reorder calendar (rep001: mine; manager01: the team), the workbench with reorder to-dos and churn
  risks (rep001, manager01), an order page.
The sweep (goal ≤ 10 s): with --fresh every reorder to-do and reorder notification is deleted first,
so the first sweep opens and flags everything due (the worst case, as after a long outage); then the
same sweep again (idempotent: must change nothing), then the sweep of the next day.
The slowest statements of each page are shown with their query plans (benchmarks/bench.py helpers).
"""
import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import QueryLog, cell, login, print_plans, print_table, row, timed  # noqa: E402  (imports seeds.demo first)

from app import create_app  # noqa: E402
from models import clock, db  # noqa: E402
from models import reorders  # noqa: E402
from models.orders import Order  # noqa: E402
from models.users import User  # noqa: E402


USERS = ("rep001", "manager01")


def page_cases(clients):
    """The order and reorder pages as (label, user, url, htmx)."""
    with db.connection_context():
        rep = User.get(User.username == "rep001")
        busiest = [c for (c,) in db.execute_sql(
            'SELECT o.customer_id FROM "order" o JOIN customer c ON c.id = o.customer_id WHERE c.owner_id = ? '
            'GROUP BY o.customer_id ORDER BY COUNT(*) DESC LIMIT 3', (rep.id,))]
        order_id = Order.select(Order.id).where(Order.customer == busiest[0]).order_by(Order.id.desc()).scalar()
    month = clock.today().strftime("%Y-%m")
    cases = []
    for cid in busiest:
        cases.append((f"360 page with orders #{cid} (rep001)", "rep001", f"/customers/{cid}", False))
        cases.append((f"Orders tab #{cid} (rep001)", "rep001", f"/customers/{cid}?tab=orders", True))
    return cases + [
        ("Reorder tab (rep001)", "rep001", f"/customers/{busiest[0]}?tab=reorders", True),
        ("Order page (rep001)", "rep001", f"/orders/{order_id}", False),
        ("Reorder calendar, mine (rep001)", "rep001", f"/reorders/calendar?month={month}", False),
        ("Reorder calendar, team (manager01)", "manager01", f"/reorders/calendar?month={month}&scope=team", False),
        ("Workbench with to-dos (rep001)", "rep001", "/", False),
        ("Workbench with to-dos (manager01)", "manager01", "/", False),
    ]


def sweep_figures(fresh):
    out = []
    with db.connection_context():
        if fresh:
            with db.atomic():
                db.execute_sql("DELETE FROM reorder_todo")
                db.execute_sql("DELETE FROM notification WHERE kind = 'reorder.missed'")
        cycles = db.execute_sql("SELECT COUNT(*) FROM reorder_cycle WHERE active = 1").fetchone()[0]
        now = clock.now()
        for label, at in (("sweep (first, from cold)" if fresh else "sweep", now), ("sweep again (idempotent)", now),
                          ("sweep, next day", now + dt.timedelta(days=1))):
            started = time.perf_counter()
            result = reorders.sweep(at)
            out.append((label, (time.perf_counter() - started) * 1000, result))
    return cycles, out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--plans", type=int, default=2)
    parser.add_argument("--fresh", action="store_true", help="delete reorder to-dos first: time the sweep from cold")
    args = parser.parse_args(argv)
    path = Path(args.db).resolve()
    if path.name == "big.db":
        sys.exit("refusing to run on big.db: the sweep writes; use the copy built by generate_orders.py")

    app = create_app({"DATABASE_URL": f"sqlite:///{path}", "WTF_CSRF_ENABLED": False, "TESTING": True,
                      "SECRET_KEY": "benchmark"})
    cycles, sweeps = sweep_figures(args.fresh)  # first, so the workbench has its to-dos

    with db.connection_context():
        counts = {k: db.execute_sql(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0]
                  for k, t in (("orders", "order"), ("lines", "order_line"), ("cycles", "reorder_cycle"),
                               ("to-dos", "reorder_todo"))}
    clients = {u: login(app, u) for u in USERS}
    rows, failures, logged = [], [], []
    for label, user, url, htmx in page_cases(clients):
        client = clients[user]
        times, statuses = timed(client, url, htmx, args.runs)
        rows.append(row(label, times, statuses))
        if set(statuses) != {200}:
            failures.append((label, url, statuses))
        with QueryLog() as log:
            client.get(url, headers={"HX-Request": "true"} if htmx else {})
        logged.append((label, url, list(log.queries)))
        print(f"  {cell(label, 50)} {statistics.median(times):8.1f} ms", file=sys.stderr, flush=True)

    print(f"\n{path} ({path.stat().st_size / 2**20:,.0f} MB): " + ", ".join(f"{v:,} {k}" for k, v in counts.items()))
    print(f"{args.runs} runs per request, times in ms\n")
    print_table(rows)
    print(f"\nReorder sweep over {cycles:,} active cycles (goal ≤ 10 s):")
    for label, ms, result in sweeps:
        print(f"  {cell(label, 34)} {ms:9.0f} ms  {result}")
    if failures:
        print("\nFAILURES (non-200 answers):")
        for label, url, statuses in failures:
            print(f"  {label}: {url} -> {statuses}")
    print(f"\nQuery plans: the {args.plans} slowest SELECTs of one request of each kind, timed alone")
    print_plans([(label, f"GET {url}", queries) for label, url, queries in logged], args.plans)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
