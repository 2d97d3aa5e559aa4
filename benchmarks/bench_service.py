"""Time the service pages and the ticket verbs on the big database with 500,000 tickets.

    .venv/bin/python benchmarks/bench_service.py --db /work/bench/service.db [--runs 40]

Build the database with benchmarks/generate_service.py (on a copy of big.db). Requests go through
the Flask test client as service01 (an agent with ~25,000 tickets) and admin. Goals (issue 7):
(a) the ticket queue — open tickets, filters, "mine", breached, a deep page 30 "older" links on —
    and the service workbench: p95 ≤ 50 ms; the service dashboard too (issue 19);
(b) logging a ticket: the customer lookup as the agent types (three growing prefixes of a real
    name), the pick, and the create POST: ≤ 30 ms per request (p95).
The create POSTs write to the database given (a benchmark copy). Then one request of each kind is
replayed with peewee's query log on, and its slowest statements are shown with EXPLAIN QUERY PLAN.
"""
import argparse
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import QueryLog, cell, login, print_plans, print_table, row, timed  # noqa: E402

from app import create_app  # noqa: E402
from models import db  # noqa: E402

AGENT = "service01"
DEEP = 30
OLDER_RE = re.compile(r'id="queue-next" href="([^"]+)"')


def deep_queue(client, url, pages=DEEP):
    import html

    for _ in range(pages):
        found = OLDER_RE.search(client.get(url).get_data(as_text=True))
        if not found:
            break
        url = html.unescape(found.group(1))
    return url


def samples():
    with db.connection_context():
        agent = db.execute_sql("SELECT id FROM user WHERE username = ?", (AGENT,)).fetchone()[0]
        mine = db.execute_sql("SELECT count(*) FROM ticket WHERE assignee_id = ?", (agent,)).fetchone()[0]
        # A customer with a distinctive name: the agent types its first 2, 3 and 4 characters.
        cid, name = db.execute_sql("SELECT id, name FROM customer WHERE stage = 'signed' ORDER BY id LIMIT 1 OFFSET 4321"
                                   ).fetchone()
        ticket = db.execute_sql("SELECT id FROM ticket WHERE status = 'in_progress' ORDER BY id DESC LIMIT 1").fetchone()[0]
    return {"agent": agent, "mine": mine, "customer": cid, "name": name, "ticket": ticket}


USERS = (AGENT, "admin")


def page_cases(clients, s=None):
    """The queue, workbench, ticket and lookup pages as (label, user, url, htmx), deep pages followed."""
    s = s or samples()
    name = s["name"]
    pages = [
        ("queue: open tickets", AGENT, "/service/", True),
        ("queue: open, mine", AGENT, "/service/?mine=1", True),
        ("queue: all statuses", AGENT, "/service/?status=all", True),
        ("queue: all, mine", AGENT, "/service/?status=all&mine=1", True),
        ("queue: closed, fault, urgent", AGENT, "/service/?status=closed&category=fault&priority=urgent", True),
        ("queue: breached (any status)", AGENT, "/service/?status=all&breached=1", True),
        ("queue: open, breached, complaint", AGENT, "/service/?breached=1&category=complaint", True),
        ("queue: waiting for customer, agent", "admin", f"/service/?status=waiting&assignee={s['agent']}", True),
        ("queue: unassigned new", AGENT, "/service/?status=new&assignee=none", True),
        ("queue: all, deep", AGENT, ("deep", "/service/?status=all"), True),
        ("queue: all, mine, deep", AGENT, ("deep", "/service/?status=all&mine=1"), True),
        ("queue: closed, consultation, deep", AGENT, ("deep", "/service/?status=closed&category=consultation"), True),
        ("service workbench", AGENT, "/", False),
        ("ticket page", AGENT, f"/service/tickets/{s['ticket']}", False),
        ("service dashboard", AGENT, "/service/dashboard", False),
    ]
    pages += [(f"lookup: '{name[:k]}'", AGENT, f"/service/lookup?q={name[:k]}", True) for k in (2, 3, 4)]
    pages.append(("pick the customer", AGENT, f"/service/pick/{s['customer']}", True))
    return [(label + (f" ({DEEP} older)" if isinstance(url, tuple) else ""), user,
             deep_queue(clients[user], url[1]) if isinstance(url, tuple) else url, htmx)
            for label, user, url, htmx in pages]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--plans", type=int, default=2)
    args = parser.parse_args(argv)
    path = Path(args.db).resolve()
    if path.name == "big.db":
        sys.exit("the create POSTs write: run on a copy built by generate_service.py")
    app = create_app({"DATABASE_URL": f"sqlite:///{path}", "WTF_CSRF_ENABLED": False, "TESTING": True,
                      "SECRET_KEY": "benchmark"})
    s = samples()
    clients = {u: login(app, u) for u in USERS}
    agent = clients[AGENT]
    print(f"  {AGENT} has {s['mine']:,} tickets; customer {s['customer']} {s['name']}", file=sys.stderr)
    rows, failures, logged = [], [], []
    for label, user, url, htmx in page_cases(clients, s):
        client = clients[user]
        times, statuses = timed(client, url, htmx, args.runs)
        rows.append(row(label, times, statuses))
        if set(statuses) != {200}:
            failures.append((label, url, statuses))
        with QueryLog() as log:
            client.get(url, headers={"HX-Request": "true"} if htmx else {})
        logged.append((label, f"GET {url}", list(log.queries)))
        print(f"  {cell(label, 50)} {statistics.median(times):8.1f} ms", file=sys.stderr, flush=True)

    # The create POST (htmx, as the quick form sends it).
    form = {"customer_id": str(s["customer"]), "category": "fault", "channel": "hotline", "priority": "high",
            "description": "热线来电：设备异响（基准测试）", "contact_text": "王经理"}
    times, statuses = [], {}
    for _ in range(args.runs):
        started = time.perf_counter()
        r = agent.post("/service/tickets/new", data=form, headers={"HX-Request": "true"})
        times.append((time.perf_counter() - started) * 1000)
        statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
    rows.append(row("create ticket POST", times, statuses))
    if set(statuses) != {204}:
        failures.append(("create ticket POST", "/service/tickets/new", statuses))
    with QueryLog() as log:
        agent.post("/service/tickets/new", data=form, headers={"HX-Request": "true"})
    logged.append(("create ticket POST", "POST /service/tickets/new", list(log.queries)))

    print(f"\n{path} ({path.stat().st_size / 2**20:,.0f} MB), {args.runs} runs per request, times in ms\n")
    print_table(rows)
    queue = [r for r in rows if r[0].startswith(("queue", "service workbench", "service dashboard"))]
    logging_ = [r for r in rows if r[0].startswith(("lookup", "pick", "create"))]
    print(f"\nqueue + workbench + dashboard: worst p95 {max(r[4] for r in queue):.1f} ms (goal 50); "
          f"logging a ticket: worst p95 {max(r[4] for r in logging_):.1f} ms (goal 30)")
    if failures:
        print("\nFAILURES:")
        for label, url, statuses in failures:
            print(f"  {label}: {url} -> {statuses}")
    print(f"\nQuery plans: the {args.plans} slowest SELECTs of one request of each kind, timed alone")
    print_plans(logged, args.plans)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
