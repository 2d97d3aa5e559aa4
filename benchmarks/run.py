"""One benchmark run for every main page: each part's pages (bench.py's lists, search, pool, 360 and
workbenches; bench_deals, bench_orders, bench_projects, bench_service) timed by one loop, with wall and
CPU median / p95 and statements per request, compared with a committed baseline.

    .venv/bin/python benchmarks/run.py --db main=/work/bench/big.db --db deals=/work/bench/deals.db \\
        --db orders=/work/bench/orders.db --db projects=/work/bench/projects.db --db service=/work/bench/service.db \\
        [--runs 30] [--baseline benchmarks/baseline.json] [--save-baseline]

A part runs when its database is given (build them with the generate scripts; PATH may be a PostgreSQL
URL). CPU is this thread's time per request (on PostgreSQL without the server's, which bench.py adds), so
a loaded machine inflates it far less than wall time; the comparison uses it: a page more than 20 % slower in CPU median than the baseline, or with more statements, is flagged, and the run
exits 1. `--save-baseline` writes the figures as the new baseline (commit it with the change that
explains it). The per-part scripts still time what is not a page (sweeps, verbs, POSTs).

With the main database, the list, search, pool, 360 and workbench pages also get their floor
(`floors.py`: everything the page's main content shows, fetched by one SQL statement on a read-only
connection and rendered by a bare Jinja template in the user's language: the same visible text and links),
timed by the same loop, each in turn with its page (a request, then a floor call: the two under the same load);
the table gives that page CPU, floor CPU and their ratio (goal: ≤ 4×).

    .venv/bin/python benchmarks/run.py --db main=/work/bench/big.db --check-floors

fetches each of those pages once through the app and compares its visible text tokens (and links) with its
floor's: the share of the page's tokens the floor renders, and what is missing or extra. It exits 1 when a
floor renders less than 95 % of its page's tokens (nothing is timed).
"""
import argparse
import gc
import importlib
import json
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import bench  # noqa: E402  (imports the app and the demo seeds)
import floors  # noqa: E402

PARTS = {"main": "bench", "deals": "bench_deals", "orders": "bench_orders", "projects": "bench_projects",
         "service": "bench_service"}
BASELINE = HERE / "baseline.json"
SLOWER = 1.20  # flag a page whose CPU median grew by more than this factor
FLOOR_GOAL = 4.0  # a page should cost at most this many times its floor's CPU


def run_part(part, path, runs, progress, keep=None):
    """Time the part's pages; `keep` (a dict): receives the part's clients and page cases, for the floors."""
    from app import create_app

    module = importlib.import_module(PARTS[part])
    app = create_app({"DATABASE_URL": bench.database_url(str(path)), "WTF_CSRF_ENABLED": False, "TESTING": True,
                      "SECRET_KEY": "benchmark"})
    clients = {user: bench.login(app, user) for user in module.USERS}
    gc.collect()
    gc.freeze()  # as `serve` does before it answers (app.py: freeze_startup)
    results = []
    for label, user, url, htmx in module.page_cases(clients):
        m = bench.measure(clients[user], url, htmx, runs)
        result = {"part": part, "label": label, "user": user, "url": url,
                  "wall_median": statistics.median(m["wall"]), "wall_p95": bench.percentile(m["wall"], 95),
                  "cpu_median": statistics.median(m["cpu"]), "cpu_p95": bench.percentile(m["cpu"], 95),
                  "statements": len(m["queries"]), "statuses": {str(k): v for k, v in m["statuses"].items()}}
        results.append(result)
        progress(result)
    if keep is not None:
        keep.update(clients=clients, cases={label: (user, url, htmx) for label, user, url, htmx in module.page_cases(clients)})
    return results


def run_floors(path, runs, progress, pages=None):
    """Each floor of floors.py timed like a page (call it while the main part's database is bound: the
    samples are read through the app's models). With `pages` (run_part's `keep`), the floor's page is timed
    again in turn with it, ten requests then ten floor calls, three times, so that the ratio compares the two
    under the same load: a machine whose speed drifts between the pages and the floors, minutes apart, moved the
    ratios by ±30 %. Blocks of ten keep each side's caches as warm as a loop of its own does (one request, one
    floor call in turn reads 5–20 % higher on both, the floor more); `page_cpu_median` is that page median."""
    conn = floors.connect(path)
    out = []
    for label, render in floors.cases(conn, bench.samples()):
        case = (pages or {}).get("cases", {}).get(label)
        if case is None:
            wall, cpu, rendered = bench.time_calls(render, runs)
            page_cpu = None
        else:
            user, url, htmx = case
            client, headers = pages["clients"][user], {"HX-Request": "true"} if htmx else {}
            page_cpu, wall, cpu, rendered, block = [], [], [], [], max(1, runs // 3)
            for done in range(0, runs, block):
                page_cpu += bench.time_calls(lambda: client.get(url, headers=headers), min(block, runs - done))[1]
                w, c, r = bench.time_calls(render, min(block, runs - done))
                wall, cpu, rendered = wall + w, cpu + c, rendered + r
        floor = {"label": label, "cpu_median": statistics.median(cpu), "cpu_p95": bench.percentile(cpu, 95),
                 "wall_median": statistics.median(wall), "bytes": len(rendered[-1]),
                 "page_cpu_median": statistics.median(page_cpu) if page_cpu else None}
        out.append(floor)
        progress({"part": "floor", "label": label, **floor})
    conn.close()
    return out


def check_floors(path):
    """Each floor's visible text against its page's (floors.check): the page fetched through the app once, as
    the timing loop asks for it (htmx header included)."""
    from app import create_app

    app = create_app({"DATABASE_URL": bench.database_url(str(path)), "WTF_CSRF_ENABLED": False, "TESTING": True,
                      "SECRET_KEY": "benchmark"})
    conn = floors.connect(path)
    renders = dict(floors.cases(conn, bench.samples()))
    clients, pages = {}, {}
    for label, user, url, htmx in bench.cases(bench.samples()):
        if label not in renders or isinstance(url, tuple):
            continue
        if user not in clients:
            clients[user] = bench.login(app, user)
        answer = clients[user].get(url, headers={"HX-Request": "true"} if htmx else {})
        pages[label] = answer.get_data(as_text=True)
    shares = floors.check(pages, renders)
    conn.close()
    low = [label for label, share in shares.items() if share < floors.GOAL]
    print(f"\n{len(shares) - len(low)} of {len(shares)} floors render at least {floors.GOAL:.0%} of their page's "
          f"visible tokens" + (f"; under it: {', '.join(low)}" if low else ""))
    return 1 if low else 0


def print_floors(results, floor_results):
    pages = {r["label"]: r for r in results if r["part"] == "main"}
    print(f"\n{'page against its floor (one SQL statement, a bare template), in turn':<62} {'page cpu':>9} {'floor cpu':>10} "
          f"{'floor p95':>10} {'ratio':>6}")
    for f in floor_results:
        page = pages.get(f["label"])
        if page is None:
            continue
        page_cpu = f.get("page_cpu_median") or page["cpu_median"]  # the page timed in turn with its floor
        ratio = page_cpu / f["cpu_median"] if f["cpu_median"] else float("inf")
        print(f"{bench.cell(f['label'], 62)} {page_cpu:9.2f} {f['cpu_median']:10.2f} {f['cpu_p95']:10.2f} "
              f"{ratio:5.1f}×{'  over ' + format(FLOOR_GOAL, 'g') + '×' if ratio > FLOOR_GOAL else ''}")


def _rss_mib(field):
    """This process's resident memory (Linux /proc), in MiB."""
    status = Path("/proc/self/status")
    if not status.exists():
        return float("nan")
    for line in status.read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def compare(results, baseline):
    """(result, reason) for each page slower than the baseline or with more statements."""
    before = {(b["part"], b["label"]): b for b in baseline.get("pages", [])}
    flagged = []
    for r in results:
        b = before.get((r["part"], r["label"]))
        if b is None:
            continue
        if r["cpu_median"] > b["cpu_median"] * SLOWER:
            flagged.append((r, f"CPU {b['cpu_median']:.1f} → {r['cpu_median']:.1f} ms"))
        if r["statements"] > b["statements"]:
            flagged.append((r, f"statements {b['statements']} → {r['statements']}"))
    return flagged


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", action="append", default=[], metavar="PART=PATH",
                        help=f"a part's database; parts: {', '.join(PARTS)}")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--baseline", default=str(BASELINE))
    parser.add_argument("--save-baseline", action="store_true")
    parser.add_argument("--note", default="", help="with --save-baseline: what the baseline is (the change, the machine)")
    parser.add_argument("--check-floors", action="store_true",
                        help="compare each floor's visible text with its page's (no timing); needs --db main=PATH")
    args = parser.parse_args(argv)
    dbs = {}
    for item in args.db:
        part, _, path = item.partition("=")
        if part not in PARTS or not path:
            parser.error(f"--db takes PART=PATH with PART one of {', '.join(PARTS)}")
        if path.startswith(("postgres://", "postgresql://")):
            dbs[part] = path
            continue
        if not Path(path).exists():
            parser.error(f"{path} does not exist: build it with the part's generate script")
        dbs[part] = Path(path).resolve()
    if not dbs:
        parser.error("give at least one --db PART=PATH")

    if args.check_floors:
        if "main" not in dbs:
            parser.error("--check-floors needs --db main=PATH")
        return check_floors(dbs["main"])
    load = os.getloadavg()
    started = time.monotonic()

    def progress(r):
        print(f"  {bench.cell(r['part'] + ': ' + r['label'], 62)} cpu {r['cpu_median']:6.1f}  "
              f"wall {r['wall_median']:6.1f} ms", file=sys.stderr, flush=True)

    results, floor_results, part_rss = [], [], {}
    for part, path in dbs.items():
        kept = {}
        results += run_part(part, path, args.runs, progress, keep=kept if part == "main" else None)
        part_rss[part] = _rss_mib("VmRSS")  # the app's after this part's pages, before the floors' connection
        if part == "main":
            floor_results = run_floors(path, args.runs, progress, pages=kept)

    print(f"\n{args.runs} runs per page; load average at start {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} "
          f"on {os.cpu_count()} cores; {time.monotonic() - started:.0f} s\n")
    print(f"{'page':<62} {'cpu med':>8} {'cpu p95':>8} {'wall med':>9} {'wall p95':>9} {'stmts':>6}  status")
    for r in results:
        codes = " ".join(f"{k}×{v}" for k, v in sorted(r["statuses"].items()))
        print(f"{bench.cell(r['part'] + ': ' + r['label'], 62)} {r['cpu_median']:8.1f} {r['cpu_p95']:8.1f} "
              f"{r['wall_median']:9.1f} {r['wall_p95']:9.1f} {r['statements']:6d}  {codes}")
    if floor_results:
        print_floors(results, floor_results)
    print("\nthis process (the app served in it), RSS after each part's pages: "
          + ", ".join(f"{part} {rss:.1f} MiB" for part, rss in part_rss.items())
          + f"; at the end {_rss_mib('VmRSS'):.1f} MiB, peak {_rss_mib('VmHWM'):.1f} MiB (each part binds its own "
            "database and connections; the floors add theirs)")
    failures = [r for r in results if set(r["statuses"]) != {"200"}]
    flagged = []
    baseline_path = Path(args.baseline)
    if baseline_path.exists() and not args.save_baseline:
        flagged = compare(results, json.loads(baseline_path.read_text()))
        print(f"\nagainst {baseline_path}: " + ("no page slower (CPU within 20 %) and none with more statements"
                                               if not flagged else f"{len(flagged)} finding(s)"))
        for r, reason in flagged:
            print(f"  SLOWER  {r['part']}: {r['label']}: {reason}")
    if args.save_baseline:
        pages = [{k: r[k] for k in ("part", "label", "cpu_median", "cpu_p95", "wall_median", "wall_p95", "statements")}
                 for r in results]
        saved = {"runs": args.runs, "load": load[:3], "note": args.note, "pages": pages}
        if floor_results:
            saved["floors"] = [{k: f[k] for k in ("label", "cpu_median", "cpu_p95", "page_cpu_median")}
                               for f in floor_results]
        baseline_path.write_text(json.dumps(saved, indent=1,
                                            ensure_ascii=False) + "\n")
        print(f"\nbaseline written to {baseline_path}")
    for r in failures:
        print(f"  FAILED  {r['part']}: {r['label']}: {r['url']} -> {r['statuses']}")
    return 1 if failures or flagged else 0


if __name__ == "__main__":
    sys.exit(main())
