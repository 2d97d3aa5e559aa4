"""Time the pool verbs and pages on a large database: claims, the sweep, the rules preview, the pool page.

    .venv/bin/python benchmarks/bench_pools.py --db /work/bench/big.db [--runs 50]

(a) claims: `models.pools.claim_customer(rep, id)` and POST /pools/<id>/claim (htmx), each run a
    different eligible pool customer of the rep's region; the rep gets one place of capacity
    (a +1 adjustment) and the claimed customer is released after each timing, so reps stay at
    capacity and within the daily claim limit. Goal ≤ 20 ms.
(b) the sweep with `--due` (10,000) owned customers due, then a second sweep that must release 0.
    Goal ≤ 10 s.
(c) the rules preview: `preview_rules` with a shorter no-follow-up period, and POST /admin/rules/preview.
    Goal ≤ 5 s.
(d) the pool page of a rep (first page, a deep page through rel="next" links, a search) and the
    rep's workbench. Goal p95 ≤ 50 ms.

(c) and (d) only read --db. (a) and (b) write, so they run on a copy (--copy, ~4 GB, deleted
afterwards unless --keep-copy): the claims first (each released again), then the sweep set-up:
`--due` owned customers get a claim and a last valid follow-up 40 days back (release_at alone
would not do: the sweep re-decides every row with release_plan), release dates are recomputed
with pools.recompute_releases, and the sweep runs at the same `now`.

Query plans are shown as benchmarks/bench.py shows them (its helpers are imported from there).
For the sweep, every statement is also timed through peewee's query hooks and summed per SQL text.
"""
import argparse
import datetime as dt
import random
import shutil
import sqlite3
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import bench  # noqa: E402  (benchmarks/bench.py)
from bench import QueryLog, cell, deep_url, login, print_plans, print_table, row, timed  # noqa: E402

from app import create_app  # noqa: E402
from models import clock, db, pools  # noqa: E402
from models.base import close_db, init_db  # noqa: E402
from models import rules as rules_mod  # noqa: E402
from models.customers import Customer  # noqa: E402
from models.users import User  # noqa: E402

GOALS = {"a": ("median", 20.0), "b": ("median", 10_000.0), "c": ("median", 5_000.0), "d": ("p95", 50.0)}
REP = "rep001"
SEED = 7


def make_app(path):
    return create_app({"DATABASE_URL": f"sqlite:///{path}", "WTF_CSRF_ENABLED": False, "TESTING": True,
                       "SECRET_KEY": "benchmark"})


def say(text):
    print(f"  {text}", file=sys.stderr, flush=True)


def progress(label, times):
    median = sorted(times)[len(times) // 2]
    say(f"{cell(label, 50)} {median:10.1f} ms")


# ---- statement timing (peewee query hooks) -----------------------------------------------------

class StatementTimer:
    """Sums execution time per SQL text while attached, and the COMMITs (which bypass the hooks).
    A cursor's later rows are fetched outside execute(), so a scan that returns many rows is
    undercounted here; explain() re-times the SELECTs alone with fetchall."""

    def __init__(self):
        self.by_sql = {}
        self.commits = [0, 0.0]

    def hook(self, event):
        sql = event.sql
        if "SAVEPOINT" in sql[:20]:  # nested atomic(): one name per savepoint
            sql = sql.split('"')[0] + "…"
        entry = self.by_sql.get(sql)
        if entry is None:
            entry = self.by_sql[sql] = [0, 0.0, -1.0, None]
        entry[0] += 1
        entry[1] += event.duration
        if event.duration > entry[2]:
            entry[2], entry[3] = event.duration, event.params

    def __enter__(self):
        database = db.obj
        database.query_hooks.append(self.hook)
        plain_commit = database.commit

        def commit():
            started = time.perf_counter()
            try:
                return plain_commit()
            finally:
                self.commits[0] += 1
                self.commits[1] += time.perf_counter() - started

        database.commit = commit
        return self

    def __exit__(self, *exc):
        database = db.obj
        database.query_hooks.remove(self.hook)
        del database.commit  # back to the class's method

    def statements(self):
        return sum(e[0] for e in self.by_sql.values())

    def report(self, total_ms, top=10):
        print(f"  {'count':>7} {'total ms':>9} {'mean ms':>8} {'max ms':>7}  statement")
        rows = sorted(self.by_sql.items(), key=lambda kv: -kv[1][1])
        for sql, (count, total, worst, _) in rows[:top]:
            print(f"  {count:>7} {total * 1000:>9.1f} {total * 1000 / count:>8.3f} {worst * 1000:>7.1f}  {sql[:150]}")
        statements_ms = sum(e[1] for e in self.by_sql.values()) * 1000
        commits, commit_s = self.commits
        print(f"  {commits:>7} {commit_s * 1000:>9.1f} {commit_s * 1000 / max(1, commits):>8.3f} {'':>7}  COMMIT")
        print(f"  {'':>7} {total_ms - statements_ms - commit_s * 1000:>9.1f} {'':>8} {'':>7}  "
              f"Python and row fetching (the rest of {total_ms:,.0f} ms)")

    def slowest_instances(self):
        """(sql, params) of each SQL text at its slowest, for explain()."""
        return [(sql, e[3]) for sql, e in self.by_sql.items()]


# ---- (d) pages and (c) preview on the database itself (read only) -----------------------------

def page_cases():
    hx = True
    return [
        ("pool list, rep", REP, "/pools", False),
        ("pool deep page, rep", REP, ("deep", "/pools"), False),
        ("pool search, rep: 西装", REP, "/pools?q=西装", hx),
        ("workbench, rep", REP, "/", False),
    ]


def bench_pages(app, runs, logged):
    rows = []
    client = login(app, REP)
    for label, _user, url, htmx in page_cases():
        if isinstance(url, tuple):
            url = deep_url(client, url[1])
            label += f" ({bench.DEEP_PAGES} next)"
        times, statuses = timed(client, url, htmx, runs)
        rows.append(row(label, times, statuses))
        with QueryLog() as log:
            client.get(url, headers={"HX-Request": "true"} if htmx else {})
        logged.append((label, f"GET {url}", list(log.queries)))
        progress(label, times)
    return rows


def preview_settings():
    """The rules in force with the no-follow-up periods shortened by a third."""
    with db.connection_context():
        current = rules_mod.in_force()
    settings = dict(current.s)
    settings["release_no_followup_days"] = max(1, current["release_no_followup_days"] * 2 // 3)
    settings["release_no_followup_days_key_account"] = max(1, current["release_no_followup_days_key_account"] * 2 // 3)
    return current, settings


def bench_preview(app, runs, logged):
    current, settings = preview_settings()
    short, short_ka = settings["release_no_followup_days"], settings["release_no_followup_days_key_account"]
    rows, times, result = [], [], None
    for _ in range(runs):
        with db.connection_context():
            started = time.perf_counter()
            result = pools.preview_rules(settings, clock.now())
            times.append((time.perf_counter() - started) * 1000)
    label = f"preview_rules (no follow-up {current['release_no_followup_days']}→{short} d)"
    rows.append(row(label, times, {"would release": result["total"], "teams": len(result["per_team"])}))
    with db.connection_context(), QueryLog() as log:
        pools.preview_rules(settings, clock.now())
    logged.append((label, "preview_rules(settings, now)", list(log.queries)))
    progress(label, times)

    from views.rules import _form_values  # the form as the rules page fills it in
    form = {**_form_values(current.s), "release_no_followup_days": short,
            "release_no_followup_days_key_account": short_ka, "dealt_count": "1" if current["dealt_count"] else "",
            "valid_types": list(current["valid_types"]), "key_person_models": list(current["key_person_models"]),
            "effective_from": ""}
    client = login(app, "admin")
    times, statuses = [], {}
    for _ in range(runs):
        started = time.perf_counter()
        response = client.post("/admin/rules/preview", data=form, headers={"HX-Request": "true"})
        times.append((time.perf_counter() - started) * 1000)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
    label = "POST /admin/rules/preview, admin"
    rows.append(row(label, times, statuses))
    with QueryLog() as log:
        client.post("/admin/rules/preview", data=form, headers={"HX-Request": "true"})
    logged.append((label, "POST /admin/rules/preview", list(log.queries)))
    progress(label, times)
    return rows


# ---- the copy ----------------------------------------------------------------------------------

def copy_database(src, dst):
    for suffix in ("", "-wal", "-shm"):
        Path(str(dst) + suffix).unlink(missing_ok=True)
    wal = Path(str(src) + "-wal")
    started = time.perf_counter()
    if wal.exists() and wal.stat().st_size:
        # Pages still in the write-ahead log: a consistent copy through SQLite's backup API.
        with sqlite3.connect(src) as source, sqlite3.connect(dst) as target:
            source.backup(target)
    else:
        shutil.copyfile(src, dst)
    say(f"copied {src} to {dst} in {time.perf_counter() - started:.0f} s")


def remove_database(path):
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)


# ---- (a) claims (on the copy) ------------------------------------------------------------------

class Reps:
    """Sales reps with claims left today; each gets +1 capacity (a 1-day adjustment) on first use."""

    def __init__(self, now, rules):
        self.now, self.rules = now, rules
        self.admin = User.get(User.username == "admin")
        self.reps = list(User.select().where((User.role == "sales") & (User.active == True)  # noqa: E712
                                             & User.team.is_null(False)).order_by(User.id))
        self.left = {}
        self.adjusted = set()

    def claims_left(self, rep):
        if rep.id not in self.left:
            self.left[rep.id] = self.rules["claims_per_day"] - pools.claim_context(rep, self.rules, self.now)["claims_today"]
        return self.left[rep.id]

    def take(self, rep):
        self.left[rep.id] = self.claims_left(rep) - 1
        if rep.id not in self.adjusted:
            cap = pools.capacity(rep, self.now, self.rules)
            if cap["free"] < 1:
                pools.adjust_capacity(self.admin, rep, 1 - cap["free"], 1, "benchmark: room for timed claims",
                                      now=self.now)
            self.adjusted.add(rep.id)
        return rep

    def round_robin(self, count, skip=()):
        """`count` claim slots spread over as many reps as possible (first-come order)."""
        out, reps = [], [r for r in self.reps if r.id not in skip]
        while len(out) < count:
            before = len(out)
            for rep in reps:
                if len(out) < count and self.claims_left(rep) > 0:
                    out.append(self.take(rep))
            if len(out) == before:
                sys.exit(f"not enough claims left today for {count} timed claims")
        return out

    def packed(self, count, skip=()):
        """`count` claim slots on as few reps as possible, from the last rep backwards (fewer log-ins)."""
        out = []
        for rep in reversed(self.reps):
            if rep.id in skip:
                continue
            while len(out) < count and self.claims_left(rep) > 0:
                out.append(self.take(rep))
        if len(out) < count:
            sys.exit(f"not enough claims left today for {count} timed claims")
        return out


def eligible_customer(rep, rules, now, rng, max_id, taken):
    """A pool customer `rep` may claim now (region pool, not staked, frozen or cooling off), checked
    with pools.check_claim; picked from a random place in the id range."""
    pool_ids = [p.id for p in pools.pools_for(rep).select(pools.Pool.id)]
    frozen = now - dt.timedelta(hours=rules["frozen_hours"])
    cooling = now - dt.timedelta(days=rules["cooling_off_days"])
    team_cooling = now - dt.timedelta(days=rules["team_cooling_off_days"])
    context = pools.claim_context(rep, rules, now)
    for _ in range(20):
        start = rng.randrange(max_id)
        candidates = (Customer.select().where(
            Customer.pool.in_(pool_ids) & Customer.owner.is_null() & Customer.staked_by.is_null()
            & (Customer.id > start)
            & (Customer.released_at.is_null()
               | ((Customer.released_at < frozen)
                  & ((Customer.released_from != rep.id) | (Customer.released_at < cooling))
                  & ((Customer.released_team != (rep.team_id or 0)) | (Customer.released_at < team_cooling)))))
            .order_by(Customer.id).limit(20))
        for customer in candidates:
            if customer.id in taken:
                continue
            try:
                pools.check_claim(rep, customer, rules, now, context)
            except pools.ClaimRefused:
                continue
            taken.add(customer.id)
            return customer.id
    sys.exit(f"no eligible pool customer found for {rep.username}")


def undo_claim(rep, customer_id):
    customer = Customer.get_by_id(customer_id)
    if customer.owner_id == rep.id:
        pools.release_customer(rep, customer, "benchmark: undo of a timed claim")


def bench_claims(app, runs, logged):
    rows = []
    rng = random.Random(SEED)
    taken = set()
    with db.connection_context():
        now = clock.now()
        rules = rules_mod.in_force(now)
        max_id = Customer.select(Customer.id).order_by(Customer.id.desc()).scalar()
        reps = Reps(now, rules)
        direct = reps.round_robin(runs + 1)
        http_reps = reps.packed(runs + 1, skip={r.id for r in direct})
        plan = [(rep, eligible_customer(rep, rules, now, rng, max_id, taken)) for rep in direct]
        http_plan = [(rep, eligible_customer(rep, rules, now, rng, max_id, taken)) for rep in http_reps]
    say(f"claims: {len({r.id for r in direct})} reps for claim_customer, {len({r.id for r in http_reps})} "
        f"for the route, {len(plan) + len(http_plan)} eligible customers")

    times, statuses = [], {}
    with db.connection_context():
        for rep, customer_id in plan[:-1]:
            started = time.perf_counter()
            try:
                customer = pools.claim_customer(rep, customer_id)
                elapsed = (time.perf_counter() - started) * 1000
                outcome = "claimed" if customer.owner_id == rep.id else "not owned"
            except pools.ClaimRefused as exc:
                elapsed, outcome = (time.perf_counter() - started) * 1000, f"refused:{exc.rule}"
            times.append(elapsed)
            statuses[outcome] = statuses.get(outcome, 0) + 1
            undo_claim(rep, customer_id)
        label = "claim_customer(rep, id)"
        rows.append(row(label, times, statuses))
        progress(label, times)
        rep, customer_id = plan[-1]
        with QueryLog() as log:
            pools.claim_customer(rep, customer_id)
        undo_claim(rep, customer_id)
    logged.append((label, f"claim_customer({rep.username}, {customer_id})", list(log.queries)))

    clients, times, statuses = {}, [], {}
    for rep, customer_id in http_plan[:-1]:
        client = clients.get(rep.id) or clients.setdefault(rep.id, login(app, rep.username))
        started = time.perf_counter()
        response = client.post(f"/pools/{customer_id}/claim", headers={"HX-Request": "true"})
        times.append((time.perf_counter() - started) * 1000)
        with db.connection_context():
            owned = Customer.get_by_id(customer_id).owner_id == rep.id
            undo_claim(rep, customer_id)
        outcome = f"{response.status_code}{'' if owned else ' not claimed'}"
        statuses[outcome] = statuses.get(outcome, 0) + 1
    label = "POST /pools/<id>/claim (htmx)"
    rows.append(row(label, times, statuses))
    progress(label, times)
    rep, customer_id = http_plan[-1]
    client = clients.get(rep.id) or login(app, rep.username)
    with QueryLog() as log:
        client.post(f"/pools/{customer_id}/claim", headers={"HX-Request": "true"})
    with db.connection_context():
        undo_claim(rep, customer_id)
    logged.append((label, f"POST /pools/{customer_id}/claim as {rep.username}", list(log.queries)))
    return rows


# ---- (b) the sweep (on the copy) ---------------------------------------------------------------

def assign_in_bulk(count, now):
    """Give `count` pool customers to the reps of their pool's region with plain SQL (for copies
    with fewer owned customers than the sweep needs)."""
    reps_of_region = {}
    for rep in User.select().where((User.role == "sales") & (User.active == True)):  # noqa: E712
        reps_of_region.setdefault(rep.region_id, []).append(rep)
    region_of_pool = {p.id: p.region_id for p in pools.Pool.select()}
    rows = db.execute_sql("SELECT id, pool_id FROM customer WHERE owner_id IS NULL AND pool_id IS NOT NULL "
                          "AND staked_by_id IS NULL ORDER BY id LIMIT ?", (count,)).fetchall()
    values = []
    for n, (cid, pool_id) in enumerate(rows):
        reps = reps_of_region.get(region_of_pool.get(pool_id)) or [r for rs in reps_of_region.values() for r in rs]
        rep = reps[n % len(reps)]
        values.append((rep.id, rep.team_id, str(now), cid))
    with db.atomic():
        db.cursor().executemany("UPDATE customer SET owner_id = ?, team_id = ?, claimed_at = ?, pool_id = NULL "
                                "WHERE id = ?", values)
    return len(values)


def make_due(count, now):
    """`count` owned customers due for release at `now` under release_plan itself: their claim and
    last valid follow-up move 40 days back, no lock, no contract; then every owned customer's
    release date is recomputed. Returns what it did."""
    done = {}
    owned = Customer.select().where(Customer.owner.is_null(False)).count()
    if owned < count:
        done["assigned in bulk"] = assign_in_bulk(count - owned, now)
    ids = [i for (i,) in db.execute_sql("SELECT id FROM customer WHERE owner_id IS NOT NULL ORDER BY id").fetchall()]
    chosen = sorted(random.Random(SEED).sample(ids, count))
    back = str(now - dt.timedelta(days=40))
    with db.atomic():
        db.cursor().executemany(
            "UPDATE customer SET last_valid_followup_at = ?, claimed_at = min(coalesce(claimed_at, created_at), ?), "
            "locked = 0, contract_end = NULL WHERE id = ?", [(back, back, i) for i in chosen])
    pools.recompute_releases(now)
    db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    done["owned"] = len(ids)
    done["due"] = Customer.select().where(Customer.release_at <= now).count()
    return done


def bench_sweep(due_count, logged):
    rows = []
    with db.connection_context():
        now = clock.now()
        started = time.perf_counter()
        setup = make_due(due_count, now)
        say(f"sweep set-up in {time.perf_counter() - started:.0f} s: {setup}")
        if setup["due"] != due_count:
            sys.exit(f"the set-up made {setup['due']} customers due, not {due_count}")
        timer = StatementTimer()
        with timer:
            started = time.perf_counter()
            first = pools.sweep(now)
            elapsed = (time.perf_counter() - started) * 1000
        label = f"sweep(now), {due_count:,} due"
        rows.append(row(label, [elapsed], {k: first[k] for k in ("released", "warned", "lapsed")}))
        progress(label, [elapsed])
        with QueryLog() as log:
            started = time.perf_counter()
            second = pools.sweep(now)
            elapsed2 = (time.perf_counter() - started) * 1000
        again = pools.sweep(now)  # timed without the query log
        started = time.perf_counter()
        third = pools.sweep(now)
        elapsed3 = (time.perf_counter() - started) * 1000
    label2 = "sweep(now) again (idempotent)"
    rows.append(row(label2, [elapsed3], {k: third[k] for k in ("released", "warned", "lapsed")}))
    progress(label2, [elapsed3])
    if second["released"] or again["released"] or third["released"]:
        print(f"SWEEP NOT IDEMPOTENT: second sweep {second}, third {third}", file=sys.stderr)
    sweep_info = (label, elapsed, first, timer, setup)
    logged.append((label, f"sweep(now): the slowest instance of each of its {len(timer.by_sql)} statements",
                   timer.slowest_instances()))
    logged.append((label2, f"sweep(now) with nothing due ({elapsed2:,.0f} ms with the query log on)",
                   list(log.queries)))
    return rows, sweep_info


# ---- main --------------------------------------------------------------------------------------

def goal_lines(sections):
    out = []
    for key, title, rows in sections:
        stat, limit = GOALS[key]
        for label, runs, first, median, p95, statuses in rows:
            value = median if stat == "median" else p95
            verdict = "ok" if value <= limit else "OVER"
            out.append(f"  ({key}) {cell(label, 50)} {stat} {value:>9.1f} ms  goal ≤ {limit:,.0f} ms  {verdict}")
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--plans", type=int, default=2, help="slowest statements shown per request")
    parser.add_argument("--copy", default=None, help="the copy for claims and the sweep (default: sweep.db "
                                                     "next to --db)")
    parser.add_argument("--keep-copy", action="store_true")
    parser.add_argument("--due", type=int, default=10_000, help="customers due in the sweep")
    parser.add_argument("--skip", default="", help="sections to leave out, e.g. 'b' or 'ab'")
    args = parser.parse_args(argv)
    path = Path(args.db).resolve()
    if not path.exists():
        sys.exit(f"{path} does not exist: build it with benchmarks/generate.py")
    copy = Path(args.copy).resolve() if args.copy else path.with_name("sweep.db")
    if copy == path:
        sys.exit("--copy must not be --db")

    started = time.perf_counter()
    results, logged, sweep_info = {}, {k: [] for k in "abcd"}, None
    on_copy = not ("a" in args.skip and "b" in args.skip)
    try:
        if "c" not in args.skip or "d" not in args.skip:
            app = make_app(path)
            if "d" not in args.skip:
                results["d"] = bench_pages(app, args.runs, logged["d"])
            if "c" not in args.skip:
                results["c"] = bench_preview(app, args.runs, logged["c"])
        if on_copy:
            copy_database(path, copy)
            app = make_app(copy)
            if "a" not in args.skip:
                results["a"] = bench_claims(app, args.runs, logged["a"])
            if "b" not in args.skip:
                results["b"], sweep_info = bench_sweep(args.due, logged["b"])

        titles = {"a": "(a) claims", "b": "(b) the sweep", "c": "(c) the rules preview",
                  "d": "(d) pool page and workbench"}
        sections = [(k, titles[k], results[k]) for k in "abcd" if k in results]
        print(f"\n{path} ({path.stat().st_size / 2**20:,.0f} MB), {args.runs} runs per timing (sweeps: one each), "
              f"times in ms; claims and sweeps run on a copy ({copy.name})\n")
        print_table([r for _, _, rows in sections for r in rows])
        print("\nGoals:")
        print("\n".join(goal_lines(sections)))
        if sweep_info:
            label, elapsed, first, timer, setup = sweep_info
            print(f"\nThe sweep: {first}; set-up {setup}; {timer.statements():,} statements, "
                  f"{timer.commits[0]:,} commits. Time per SQL text (execute only), the 10 largest:")
            timer.report(elapsed)
        print(f"\nQuery plans: the {args.plans} slowest SELECTs of each, timed alone "
              f"((a) and (b) on the copy as the verbs left it)")
        for key, title, _ in sections:
            print(f"\n---- {title}")
            init_db(f"sqlite:///{copy if key in 'ab' else path}")
            print_plans(logged[key], args.plans)
    finally:
        close_db()
        if on_copy and not args.keep_copy:
            remove_database(copy)
            say(f"removed {copy}")
    say(f"done in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
