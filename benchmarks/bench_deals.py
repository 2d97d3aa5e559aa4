"""Time the opportunity pages on a large database: pipeline board, forecast, the list (first and deep
pages), stage statistics, a customer's decision tree of 60 contacts, and a board move.

    .venv/bin/python benchmarks/bench_deals.py --db /work/bench/deals.db [--runs 30]

Build the database first: copy big.db, migrate the copy, run benchmarks/generate_deals.py on it.
Requests go through the Flask test client as rep001, manager01 and admin. Goals: board and forecast
p95 ≤ 100 ms, the 60-contact tree ≤ 50 ms. The move (a POST that writes) runs only with --writes,
and only on a copy that is not big.db. The slowest statements of one request of each kind are shown
with EXPLAIN QUERY PLAN (helpers from benchmarks/bench.py).
"""
import argparse
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import models.customers  # noqa: E402,F401  (import order: customers before the views' notifications)
from bench import QueryLog, login, measure, percentile, print_plans, print_table, row  # noqa: E402

from app import create_app  # noqa: E402
from models import db  # noqa: E402
from models.base import init_db  # noqa: E402
from models.customers import Customer  # noqa: E402
from models.opportunities import Opportunity  # noqa: E402
from benchmarks.generate_deals import TREE_CUSTOMER_NAME  # noqa: E402

USERS = ("rep001", "manager01", "admin")


def make_app(path):
    return create_app({"DATABASE_URL": f"sqlite:///{path}", "WTF_CSRF_ENABLED": False, "TESTING": True,
                       "SECRET_KEY": "benchmark"})


CPU = {}  # label -> CPU milliseconds of this process per request (the machine is shared: wall time waits too)


def timed(client, url, htmx, runs, label):
    """Wall time per request (as bench.timed) and, alongside, this thread's CPU time per request."""
    m = measure(client, url, htmx, runs, warm=0)
    CPU[label] = m["cpu"]
    return m["wall"], m["statuses"]


def deep(client, url, pages):
    """Follow the list's "Show more" cursor `pages` times."""
    for _ in range(pages):
        body = client.get(url, headers={"HX-Request": "true"}).get_data(as_text=True)
        found = re.search(r'hx-get="([^"]*after=[^"]+)"', body)
        if not found:
            break
        url = found.group(1).replace("&amp;", "&")
    return url


def page_cases(clients):
    """The opportunity pages as (label, user, url, htmx), the deep list page followed with `clients`."""
    with db.connection_context():
        tree_customer = Customer.get(Customer.name == TREE_CUSTOMER_NAME).id
    month = "2026-12"
    cases = []
    for user in USERS:
        cases += [
            (user, "board", "/opportunities", False),
            (user, "board, close month", f"/opportunities?month={month}", True),
            (user, "forecast", "/opportunities/forecast", False),
            (user, "list, first page", "/opportunities/list", False),
            (user, "list, 20 pages deep", "DEEP", True),
            (user, "stage statistics", "/opportunities/stats", True),
        ]
    cases += [("admin", "board, one team", "/opportunities?team=1", True),
              ("rep001", "decision tree, 60 contacts (fragment)", f"/customers/{tree_customer}/tree", True),
              ("rep001", "decision tree, 60 contacts (page)", f"/customers/{tree_customer}/tree", False),
              ("rep001", "360 opportunities tab", f"/customers/{tree_customer}?tab=opportunities", True)]
    return [(f"{user}: {what}", user, deep(clients[user], "/opportunities/list", 20) if url == "DEEP" else url, htmx)
            for user, what, url, htmx in cases]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--plans", type=int, default=2, help="slowest statements shown per request")
    parser.add_argument("--writes", action="store_true", help="also time board moves (writes to --db)")
    args = parser.parse_args(argv)
    app = make_app(args.db)
    init_db(f"sqlite:///{args.db}")
    with db.connection_context():
        counts = (Opportunity.select().where(Opportunity.stage.not_in(("won", "lost"))).count(),
                  Opportunity.select().count(), Customer.select().count())
    print(f"{counts[2]:,} customers, {counts[1]:,} opportunities ({counts[0]:,} open)")
    clients = {u: login(app, u) for u in USERS}
    rows, logged = [], []
    for label, user, url, htmx in page_cases(clients):
        client = clients[user]
        client.get(url, headers={"HX-Request": "true"} if htmx else {})  # warm
        times, statuses = timed(client, url, htmx, args.runs, label)
        rows.append(row(label, times, statuses))
        with QueryLog() as log:
            client.get(url, headers={"HX-Request": "true"} if htmx else {})
        logged.append((label, url, log.queries))
        print(f"  {label} done", file=sys.stderr, flush=True)
    if args.writes:
        if Path(args.db).resolve() == Path("/work/bench/big.db"):
            sys.exit("refusing to write to big.db")
        client = clients["rep001"]
        with db.connection_context():
            rep_id = db.execute_sql("SELECT id FROM user WHERE username='rep001'").fetchone()[0]
            opp_ids = [r[0] for r in db.execute_sql(
                "SELECT id FROM opportunity WHERE owner_id=? AND stage='prospecting' LIMIT ?", (rep_id, args.runs))]
        import time
        times, statuses = [], {}
        for oid in opp_ids:
            started = time.perf_counter()
            r = client.post(f"/opportunities/{oid}/move", data={"stage": "planning", "from": "board"},
                            headers={"HX-Request": "true"})
            times.append((time.perf_counter() - started) * 1000)
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
        if times:
            rows.append(row("rep001: move on the board (POST + new board)", times, statuses))
    print_table(rows)
    print("\nCPU time of this process per request (ms; excludes waiting for a core on a shared machine)")
    print(f"{'request':<50} {'median':>8} {'p95':>8}")
    for label, cpu in CPU.items():
        print(f"{label:<50} {sorted(cpu)[len(cpu) // 2]:>8.1f} {percentile(cpu, 95):>8.1f}")
    print_plans(logged, args.plans)


if __name__ == "__main__":
    main()
