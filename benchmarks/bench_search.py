"""Time customer search without the page around it, on either engine: the list's first page of matches
(models.listing.page, as GET /customers?q= asks it; a search does not count its matches) for the admin (the index over a
million customers) and for a rep (the rep's own rows tested one by one).

    .venv/bin/python benchmarks/bench_search.py --db /work/bench/big.db [--runs 30]
    .venv/bin/python benchmarks/bench_search.py --db postgresql://postgres@127.0.0.1:5432/kehu_big

Issue 18's goal: p95 ≤ 50 ms at 1M customers on PostgreSQL (pg_trgm GIN over the customers' and their
contacts' names, phones and credit codes). Queries: real values read from the database (a credit-code part,
phone digits, a name part, a contact's name and mobile digits; benchmarks/bench.py's samples) and fixed
terms from rare to common, and one that matches nothing. Read-only (no login: the verb is called directly).
"""
import argparse
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import bench  # noqa: E402  (imports the app and the demo seeds)
import models  # noqa: E402
from models import db, listing  # noqa: E402
from models.users import User  # noqa: E402

FIXED = ["西装", "上海", "服饰", "有限公司", "上海 西装", "羊绒 苏州", "138", "0571", "zzqqxx"]


def queries(s):
    return [s["code"], s["phone"], s["name"], s["contact"], s["mobile"], *FIXED]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="a SQLite file or a PostgreSQL URL")
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args(argv)
    url = bench.database_url(args.db)
    models.init_db(url)
    samples = bench.samples()
    server_cpu = bench.ServerClock()
    load = os.getloadavg()
    all_wall, table = [], []
    with db.connection_context():
        users = {u.username: u for u in User.select().where(User.username.in_(("admin", "rep001")))}
        for who, scope in (("admin", "all"), ("rep001", "mine")):
            user = users[who]
            for q in queries(samples):
                f = listing.Filters(scope=scope, q=q)
                found = listing.page(user, f)  # warm
                wall, cpu = [], []
                server_started = server_cpu()
                for _ in range(args.runs):
                    started, started_cpu = time.perf_counter(), time.thread_time()
                    listing.page(user, f)
                    wall.append((time.perf_counter() - started) * 1000)
                    cpu.append((time.thread_time() - started_cpu) * 1000)
                server = (server_cpu() - server_started) * 1000 / args.runs
                all_wall += wall
                table.append((f"{who} ({scope}): {q}", len(found.rows), wall,
                              statistics.mean(cpu) + server))
                print(f"  {bench.cell(table[-1][0], 44)} {statistics.median(wall):7.1f} ms", file=sys.stderr,
                      flush=True)
    end = os.getloadavg()
    print(f"\n{bench.describe(url)}: search, first page of matches, {args.runs} runs per query; "
          f"load average {load[0]:.1f} at start, {end[0]:.1f} at end, on {os.cpu_count()} cores\n")
    print(f"{'query':<44} {'shown':>5} {'median':>7} {'p95':>7} {'cpu':>6}")
    for label, shown, wall, cpu in table:
        print(f"{bench.cell(label, 44)} {shown:>5} {statistics.median(wall):>7.1f} "
              f"{bench.percentile(wall, 95):>7.1f} {cpu:>6.1f}")
    print(f"\nall queries: {len(all_wall)} runs, median {statistics.median(all_wall):.1f} ms, "
          f"p95 {bench.percentile(all_wall, 95):.1f} ms (cpu: mean per search, this thread"
          f"{'' if url.startswith('sqlite') else ' + the server'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
