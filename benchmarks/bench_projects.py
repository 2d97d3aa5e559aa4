"""Time the project pages and the milestone sweep on a large database (built by generate_projects.py):

    .venv/bin/python benchmarks/bench_projects.py --db /work/bench/projects.db [--runs 50]

Pages (median and p95, ms): a project page (rep001's and manager01's view), the project lists (mine,
team, all, a deep page), a customer's Projects tab, rep001's workbench with the milestones card and
manager01's approvals inbox. The sweep: the first run after a day moves (writes the reminders and
overdue flags of the whole backlog: earlier runs' milestone notifications are deleted first) and a
second run at the same time (must write nothing). The sweep writes, so run it on a copy only. Query plans of the slowest statements as benchmarks/bench.py shows them.
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import QueryLog, cell, login, print_plans, print_table, row, timed  # noqa: E402

from app import create_app  # noqa: E402
from models import clock, db  # noqa: E402
from models import projects as pj  # noqa: E402
from models.users import User  # noqa: E402


USERS = ("rep001", "manager01", "admin")


def page_cases(clients):
    """The project pages as (label, user, url, htmx)."""
    with db.connection_context():
        rep = User.get(User.username == "rep001")
        mine = pj.Project.select().where((pj.Project.requested_by == rep.id) & (pj.Project.status == "approved")) \
            .order_by(pj.Project.id).first()
        total = pj.Project.select().count()
        deep = pj.Project.select(pj.Project.id).order_by(pj.Project.id.desc()).offset(total // 2).scalar()
    if mine is None:
        sys.exit("rep001 has no approved project: run benchmarks/generate_projects.py first")
    return [
        ("project page (rep001, own)", "rep001", f"/projects/{mine.id}", False),
        ("project page (manager01)", "manager01", f"/projects/{mine.id}", False),
        ("project list: mine (rep001)", "rep001", "/projects", False),
        ("project list: team (manager01)", "manager01", "/projects?scope=team", False),
        ("project list: all (admin)", "admin", "/projects?scope=all", False),
        ("project list: all, deep page (admin)", "admin", f"/projects?scope=all&after={deep}", True),
        ("project list: approved only (admin)", "admin", "/projects?scope=all&status=approved", True),
        ("customer 360: Projects tab (rep001)", "rep001", f"/customers/{mine.customer_id}?tab=projects", True),
        ("workbench (rep001, milestones card)", "rep001", "/", False),
        ("approvals inbox (manager01)", "manager01", "/approvals", False),
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--plans", type=int, default=2)
    parser.add_argument("--no-sweep", action="store_true")
    args = parser.parse_args(argv)
    path = Path(args.db).resolve()
    if path == Path("/work/bench/big.db"):
        sys.exit("the sweep writes: run on a copy, never on big.db")
    app = create_app({"DATABASE_URL": f"sqlite:///{path}", "WTF_CSRF_ENABLED": False, "TESTING": True,
                      "SECRET_KEY": "benchmark"})
    with db.connection_context():
        total = pj.Project.select().count()
        milestones = pj.Milestone.select().count()
    clients = {u: login(app, u) for u in USERS}
    rows, logged, failures = [], [], []
    for label, user, url, htmx in page_cases(clients):
        client = clients[user]
        times, statuses = timed(client, url, htmx, args.runs)
        rows.append(row(label, times, statuses))
        if set(statuses) != {200}:
            failures.append((label, url, statuses))
        with QueryLog() as log:
            client.get(url, headers={"HX-Request": "true"} if htmx else {})
        logged.append((label, f"GET {url}", list(log.queries)))
        print(f"  {cell(label, 50)} {statistics.median(times):8.1f} ms", file=sys.stderr, flush=True)

    sweep_lines = []
    if not args.no_sweep:
        with db.connection_context():
            now = clock.now()
            # a first run over the whole backlog: forget the milestone notifications of earlier runs
            from models.notifications import Notification
            Notification.delete().where(Notification.kind.in_(("milestone_due", "milestone_overdue"))).execute()
            for label in ("sweep: first run (writes reminders and overdue flags)", "sweep: second run (idempotent)"):
                started = time.perf_counter()
                with QueryLog() as log:
                    result = pj.sweep(now)
                elapsed = (time.perf_counter() - started) * 1000
                sweep_lines.append((label, elapsed, result, len(log.queries)))
                logged.append((label, "models.projects.sweep", list(log.queries)))

    print(f"\n{path} ({path.stat().st_size / 2**20:,.0f} MB): {total:,} projects, {milestones:,} milestones; "
          f"{args.runs} runs per request, times in ms\n")
    print_table(rows)
    for label, elapsed, result, statements in sweep_lines:
        print(f"{cell(label, 50)} {elapsed:10.1f} ms  {result}  ({statements} statements)")
    if failures:
        print("\nFAILURES (non-200 answers):")
        for label, url, statuses in failures:
            print(f"  {label}: {url} -> {statuses}")
    print(f"\nQuery plans: the {args.plans} slowest SELECTs of one request of each kind, timed alone")
    print_plans(logged, args.plans)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
