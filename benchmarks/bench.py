"""Time the main pages server-side on a large database and show the query plans behind them.

    .venv/bin/python benchmarks/bench.py --db /work/bench/big.db [--runs 50]
    .venv/bin/python benchmarks/bench.py --db postgresql://postgres@127.0.0.1:5432/kehu_big

Build the database first with benchmarks/generate.py (either engine). Logging in writes a session row:
give a copy of a database that must stay as it is. Requests go through the Flask test client as the
demo's rep001, manager01, marketing and admin; each is timed around client.get (wall), with the CPU
spent on it: this thread's, plus on PostgreSQL the server processes' (read from /proc when the server runs
on this machine; its clock ticks are 10 ms, so only the mean over the runs is shown). Then one request of
each kind is replayed with peewee's query log on, and its slowest statements are timed on their own and
shown with their plans (EXPLAIN QUERY PLAN; PostgreSQL: EXPLAIN).
"""
import argparse
import html
import logging
import os
import re
import statistics
import sys
import time
import unicodedata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import create_app  # noqa: E402
from models import db  # noqa: E402
from models.base import is_sqlite  # noqa: E402
from seeds import demo  # noqa: E402

USERS = ("rep001", "manager01", "marketing", "admin")
DEEP_PAGES = 30
NEXT_RE = re.compile(r'<a[^>]*\brel="next"[^>]*\bhref="([^"]+)"|<a[^>]*\bhref="([^"]+)"[^>]*\brel="next"')


class QueryLog(logging.Handler):
    """Collects the (sql, params) that peewee logs at DEBUG level while attached."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.queries = []

    def emit(self, record):
        if isinstance(record.msg, tuple):
            self.queries.append(record.msg)

    def __enter__(self):
        self.queries = []
        logger = logging.getLogger("peewee")
        self.level = logger.level
        logger.setLevel(logging.DEBUG)
        logger.addHandler(self)
        return self

    def __exit__(self, *exc):
        logger = logging.getLogger("peewee")
        logger.removeHandler(self)
        logger.setLevel(self.level)


def login(app, username):
    client = app.test_client()
    client.post("/login", data={"username": username, "password": demo.PASSWORD})
    if client.get("/").status_code != 200:
        sys.exit(f"cannot log in as {username}: was the database built by benchmarks/generate.py?")
    return client


def next_link(page_html):
    match = NEXT_RE.search(page_html)
    return html.unescape(match.group(1) or match.group(2)) if match else None


def deep_url(client, url, pages=DEEP_PAGES):
    """The URL reached by following `pages` next links from `url` (or the last one there is)."""
    for _ in range(pages):
        found = next_link(client.get(url).get_data(as_text=True))
        if found is None:
            break
        url = found
    return url


def samples():
    """Real values to search for and open, read from the database (the same rows on either engine)."""
    with db.connection_context():
        def one(sql, *params):  # written for SQLite: `?` placeholders, a bare % in LIKE
            if not is_sqlite():
                sql = sql.replace("%", "%%").replace("?", "%s")
            return db.execute_sql(sql, params).fetchone()

        rep_id = one("SELECT id FROM \"user\" WHERE username = 'rep001'")[0]
        own = one("SELECT id, short_name FROM customer WHERE owner_id = ? ORDER BY id LIMIT 1", rep_id)
        pool = one("SELECT customer_id FROM follow_up WHERE customer_id IN (SELECT id FROM customer "
                   "WHERE owner_id IS NULL AND id > (SELECT max(id) / 3 FROM customer) ORDER BY id LIMIT 1000) "
                   "GROUP BY customer_id ORDER BY count(*) DESC, customer_id LIMIT 1")[0]
        code = one("SELECT credit_code FROM customer WHERE credit_code IS NOT NULL AND id > (SELECT max(id) / 2 "
                   "FROM customer) ORDER BY id LIMIT 1")[0]
        phone = one("SELECT phone_norm FROM customer WHERE length(phone_norm) = 11 AND phone_norm LIKE '1%' "
                    "AND id > (SELECT max(id) / 4 FROM customer) ORDER BY id LIMIT 1")[0]
        name = one("SELECT name FROM customer WHERE id = (SELECT max(id) * 2 / 3 FROM customer)")[0]
        contact = one("SELECT name, mobile_norm FROM contact WHERE length(name) = 3 AND length(mobile_norm) = 11 "
                      "AND id > (SELECT max(id) * 3 / 5 FROM contact) ORDER BY id LIMIT 1")
        region = one("SELECT id FROM region WHERE code = 'east'")[0]
        industry = one("SELECT id FROM industry WHERE code = 'suits'")[0]
    return {"own_id": own[0], "own_short": own[1], "pool_id": pool,
            "code": code[8:16], "phone": phone[3:10], "name": name[2:6], "region": region,
            "industry": industry, "contact": contact[0], "mobile": contact[1][4:11]}


def cases(s):
    """(label, user, url, htmx) for every timed request; deep pages are resolved later."""
    hx = True
    return [
        ("list, rep (mine)", "rep001", "/customers", False),
        ("list, rep (scope=all: own, stakes, pools)", "rep001", "/customers?scope=all", False),
        ("list, manager (team)", "manager01", "/customers", False),
        ("list, marketing (leads)", "marketing", "/customers", False),
        ("list, admin (scope=all)", "admin", "/customers?scope=all", False),
        ("list, admin, sort=activity", "admin", "/customers?scope=all&sort=activity", False),
        ("list, admin, sort=name", "admin", "/customers?scope=all&sort=name", False),
        ("deep page, admin", "admin", ("deep", "/customers?scope=all"), False),
        ("deep page, admin, sort=activity", "admin", ("deep", "/customers?scope=all&sort=activity"), False),
        ("deep page, marketing", "marketing", ("deep", "/customers"), False),
        ("deep page, manager", "manager01", ("deep", "/customers"), False),
        ("filtered, admin: stage+region+industry", "admin",
         f"/customers?scope=all&stage=intent&region={s['region']}&industry={s['industry']}", False),
        ("filtered, marketing: prospect+region", "marketing",
         f"/customers?stage=prospect&region={s['region']}", False),
        ("search, admin: credit code part", "admin", f"/customers?scope=all&q={s['code']}", hx),
        ("search, admin: phone digits", "admin", f"/customers?scope=all&q={s['phone']}", hx),
        ("search, admin: 西装 (2 chars)", "admin", "/customers?scope=all&q=西装", hx),
        (f"search, admin: {s['name']} (name part)", "admin", f"/customers?scope=all&q={s['name']}", hx),
        ("search, admin: contact's name", "admin", f"/customers?scope=all&q={s['contact']}", hx),
        ("search, admin: contact's mobile digits", "admin", f"/customers?scope=all&q={s['mobile']}", hx),
        ("search, rep: 西装 (2 chars)", "rep001", "/customers?q=西装", hx),
        (f"search, rep: {s['own_short']}", "rep001", f"/customers?q={s['own_short']}", hx),
        ("search, marketing: 西装", "marketing", "/customers?q=西装", hx),
        ("pool list, rep", "rep001", "/pools", False),
        ("pool deep page, rep", "rep001", ("deep", "/pools"), False),
        ("pool search, rep: 西装", "rep001", "/pools?q=西装", hx),
        ("pool list, manager", "manager01", "/pools", False),
        ("360, rep: own customer", "rep001", f"/customers/{s['own_id']}", False),
        ("360, admin: pool customer", "admin", f"/customers/{s['pool_id']}", False),
        ("workbench, rep", "rep001", "/", False),
        ("workbench, manager", "manager01", "/", False),
        ("workbench, marketing", "marketing", "/", False),
        ("workbench, admin", "admin", "/", False),
    ]


def time_calls(call, runs, warm=2):
    """The one timing loop: `runs` calls of `call()` after `warm` untimed ones. Returns wall ms, CPU ms (this
    thread's: on a shared machine it leaves out the time spent waiting for a core) and what the calls returned."""
    for _ in range(warm):
        call()
    wall, cpu, results = [], [], []
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), time.thread_time()
        results.append(call())
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.thread_time() - started_cpu) * 1000)
    return wall, cpu, results


class ServerClock:
    """CPU seconds used so far by the PostgreSQL server's processes (the postmaster's children), read from /proc;
    0 on SQLite (its work is this thread's) or when the server is not on this machine."""

    def __init__(self):
        self.postmaster = None
        if is_sqlite():
            return
        with db.connection_context():
            backend = db.execute_sql("SELECT pg_backend_pid()").fetchone()[0]
        try:
            self.postmaster = int(self._stat(backend)[1])
        except OSError:
            pass  # another machine's server

    @staticmethod
    def _stat(pid):
        """(state, ppid, utime, stime) of a process."""
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return fields[0], fields[1], int(fields[11]), int(fields[12])

    def __call__(self):
        if self.postmaster is None:
            return 0.0
        ticks = 0
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                try:
                    _, ppid, utime, stime = self._stat(entry.name)
                except (OSError, IndexError):
                    continue
                if int(ppid) == self.postmaster:
                    ticks += utime + stime
        return ticks / os.sysconf("SC_CLK_TCK")


server_cpu = None  # a ServerClock once main() has opened the database


def measure(client, url, htmx, runs, warm=2):
    """`runs` GETs of `url` after `warm` untimed ones, timed by `time_calls`. Returns wall ms, CPU ms, the
    server's CPU ms per request (PostgreSQL, mean over the runs), the statuses, and the statements and queries
    of one more request."""
    headers = {"HX-Request": "true"} if htmx else {}
    for _ in range(warm):
        client.get(url, headers=headers)
    server_started = server_cpu() if server_cpu else 0.0
    wall, cpu, responses = time_calls(lambda: client.get(url, headers=headers).status_code, runs, warm=0)
    server = ((server_cpu() if server_cpu else 0.0) - server_started) * 1000 / runs
    statuses = {}
    for status in responses:
        statuses[status] = statuses.get(status, 0) + 1
    with QueryLog() as log:
        client.get(url, headers=headers)
    return {"wall": wall, "cpu": cpu, "server_cpu": server, "statuses": statuses, "queries": list(log.queries)}


def timed(client, url, htmx, runs):
    m = measure(client, url, htmx, runs, warm=0)
    return m["wall"], m["statuses"]


def page_cases(clients):
    """This part's timed requests as (label, user, url, htmx), deep pages followed with `clients`."""
    out = []
    for label, user, url, htmx in cases(samples()):
        if isinstance(url, tuple):
            url = deep_url(clients[user], url[1])
            label += f" ({DEEP_PAGES} next)"
        out.append((label, user, url, htmx))
    return out


def cell(text, width):
    """`text` left-aligned in `width` terminal columns (CJK characters take two)."""
    shown = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    return text + " " * max(0, width - shown)


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def plan_lines(sql, params):
    """The query plan of one statement, as lines of text."""
    if is_sqlite():
        return [("  " if parent else "") + detail
                for _, parent, _, detail in db.execute_sql("EXPLAIN QUERY PLAN " + sql, params).fetchall()]
    return [line for (line,) in db.execute_sql("EXPLAIN " + sql, params).fetchall()]


def explain(queries, top):
    """The `top` slowest SELECTs of one request, each timed alone, with its query plan."""
    measured = []
    with db.connection_context():
        for sql, params in queries:
            if not sql.lstrip().upper().startswith("SELECT"):
                continue
            started = time.perf_counter()
            db.execute_sql(sql, params).fetchall()
            elapsed = (time.perf_counter() - started) * 1000
            measured.append((elapsed, sql, params, plan_lines(sql, params)))
    measured.sort(key=lambda m: -m[0])
    return len(queries), measured[:top]


def row(label, times, statuses, cpu=None):
    """One line of the results table: (label, runs, first, median, p95, statuses[, cpu]); `cpu`: the mean CPU ms
    per request (this thread's and the database server's)."""
    line = (label, len(times), times[0], statistics.median(times), percentile(times, 95), statuses)
    return line if cpu is None else line + (cpu,)


def print_table(rows):
    """The results table: one line per (label, runs, first, median, p95, statuses[, cpu]) row, times in ms."""
    with_cpu = any(len(r) > 6 for r in rows)
    print(f"{'request':<50} {'runs':>5} {'first':>8} {'median':>8} {'p95':>8}" + (f" {'cpu':>7}" if with_cpu else "")
          + "  status")
    for label, runs, first, median, p95, statuses, *cpu in rows:
        codes = " ".join(f"{code}×{n}" for code, n in sorted(statuses.items(), key=lambda kv: str(kv[0])))
        extra = f" {cpu[0]:>7.1f}" if cpu else (" " * 8 if with_cpu else "")
        print(f"{cell(label, 50)} {runs:>5} {first:>8.1f} {median:>8.1f} {p95:>8.1f}{extra}  {codes}")


def print_plans(logged, top):
    """For each (label, what, queries): the `top` slowest SELECTs, timed alone, with their query plans."""
    for label, what, queries in logged:
        count, slowest = explain(queries, top)
        print(f"\n== {label}: {what}  ({count} statements)")
        for elapsed, sql, params, plan in slowest:
            print(f"  {elapsed:7.1f} ms  {sql}")
            print(f"             params {params}")
            for line in plan:
                print(f"             {line}")


def database_url(target):
    """The DATABASE_URL for --db: a PostgreSQL URL as it is, a SQLite file's path (which must exist)."""
    if target.startswith(("postgres://", "postgresql://")):
        return target
    path = Path(target).resolve()
    if not path.exists():
        sys.exit(f"{path} does not exist: build it with benchmarks/generate.py")
    return f"sqlite:///{path}"


def describe(url):
    """The database and its size, for the results' heading."""
    if url.startswith("sqlite"):
        path = Path(url[len("sqlite:///"):])
        return f"{path} ({path.stat().st_size / 2**20:,.0f} MB)"
    with db.connection_context():
        version, size = db.execute_sql("SELECT current_setting('server_version'), "
                                       "pg_database_size(current_database())").fetchone()
    return f"PostgreSQL {version} {url.rsplit('@', 1)[-1]} ({size / 2**20:,.0f} MB)"


def main(argv=None):
    global server_cpu
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="a SQLite file or a PostgreSQL URL")
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--plans", type=int, default=2, help="slowest statements shown per request")
    args = parser.parse_args(argv)
    url = database_url(args.db)

    app = create_app({"DATABASE_URL": url, "WTF_CSRF_ENABLED": False, "TESTING": True,
                      "SECRET_KEY": "benchmark"})
    server_cpu = ServerClock()
    load = os.getloadavg()
    clients = {u: login(app, u) for u in USERS}
    rows, failures, logged, searches = [], [], [], []
    for label, user, url_, htmx in page_cases(clients):
        client = clients[user]
        m = measure(client, url_, htmx, args.runs, warm=0)
        times, statuses = m["wall"], m["statuses"]
        rows.append(row(label, times, statuses, statistics.mean(m["cpu"]) + m["server_cpu"]))
        if "search" in label:
            searches += times
        if set(statuses) != {200}:
            failures.append((label, url_, statuses))
        logged.append((label, url_, m["queries"]))
        print(f"  {cell(label, 50)} {statistics.median(times):8.1f} ms", file=sys.stderr, flush=True)

    end = os.getloadavg()
    print(f"\n{describe(url)}, {args.runs} runs per request, times in ms (cpu: mean per request, this thread"
          f"{'' if is_sqlite() else ' + the server'}); load average {load[0]:.1f} at start, {end[0]:.1f} at end, "
          f"on {os.cpu_count()} cores\n")
    print_table(rows)
    print(f"\nall search requests together: {len(searches)} runs, median {statistics.median(searches):.1f} ms, "
          f"p95 {percentile(searches, 95):.1f} ms")
    if failures:
        print("\nFAILURES (non-200 answers):")
        for label, url, statuses in failures:
            print(f"  {label}: {url} -> {statuses}")

    print(f"\nQuery plans: the {args.plans} slowest SELECTs of one request of each kind, timed alone")
    print_plans([(label, f"GET {url}", queries) for label, url, queries in logged], args.plans)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
