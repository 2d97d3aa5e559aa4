"""Time the data-quality work (issue 17) on a database of its own: N customers of 200 reps, a contact each
(one in ten without any phone), 5 follow-ups each over the last 120 days (one customer in fifty with all of
them just over the valid minimum), a stage change for one in five (some with no follow-up before), a few
shared phones and a burst of files released the day they were created; generated here in SQL.

    .venv/bin/python benchmarks/bench_quality.py [--customers 1000000] [--followups 5] [--db /tmp/quality-bench.db]
                                                 [--chunk 50000] [--keep]

Goals: the directed rules over every customer in ≤ 60 s (set-based SQL per id range, one transaction per chunk);
the quality queue p95 ≤ 50 ms. Prints the rules from cold and again (idempotent), the consequences for every rep,
a sample drawing, the queue's pages (first, filtered, deep) and a rep's quality page. /work/bench/big.db is never
touched: the database is built under /tmp (reused with --keep when it has the same size).
"""
import argparse
import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import models.customers  # noqa: E402,F401  (customers before notifications: the import order that works)
import models  # noqa: E402
from benchmarks.bench_value import _defaults, cpu_timed  # noqa: E402
from models import clock, db  # noqa: E402
from models import quality as qm  # noqa: E402
from models.customers import Contact, Customer, FollowUp  # noqa: E402
from models.keyset import keyset_page  # noqa: E402
from models.quality_tables import QualityCheck  # noqa: E402
from models.users import Team, User  # noqa: E402

NOW = dt.datetime(2026, 11, 24, 2, 0)
REPS = 200


def generate(path, customers, per):
    if path.exists():
        path.unlink()
    models.init_db(f"sqlite:///{path}")
    db.connect()
    models.migrate()
    db.execute_sql("PRAGMA synchronous=off")
    started = time.perf_counter()
    at = NOW.isoformat(sep=" ")
    with db.atomic():
        teams = [Team.create(name=f"Team {i}").id for i in range(1, 21)]
        reps = [User.create(username=f"rep{i:03d}", full_name=f"Rep {i}", password_hash="x", role="sales",
                            team=teams[i % 20], created_at=NOW).id for i in range(REPS)]
    cols = _defaults(Customer, {"id", "name", "owner", "team", "created_at", "updated_at", "stage_changed_at",
                                "touched_at", "stage", "phone", "phone_norm", "completeness", "created_by"})
    names = ", ".join(cols)
    stages = "CASE i % 4 WHEN 0 THEN 'target' WHEN 1 THEN 'intent' WHEN 2 THEN 'signed' ELSE 'long_term' END"
    db.execute_sql(  # a phone each, one in a thousand the same as its neighbour's (a shared phone)
        f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
        f"INSERT INTO customer (id, name, owner_id, created_by_id, team_id, stage, created_at, updated_at, "
        f"stage_changed_at, touched_at, phone, phone_norm, completeness, {names}) "
        f"SELECT i, 'Customer ' || i, ? + i % {REPS}, ? + i % {REPS}, NULL, {stages}, datetime(?, '-200 days'), ?, ?, ?, "
        f"'0571' || (10000000 + i - (i % 1000 = 1)), '0571' || (10000000 + i - (i % 1000 = 1)), 20 + i % 70, "
        f"{', '.join('?' for _ in cols)} FROM n",
        [customers, reps[0], reps[0], at, at, at, at, *cols.values()])
    db.execute_sql("UPDATE customer SET team_id = (SELECT team_id FROM user WHERE user.id = customer.owner_id)")
    # a burst: rep000's files 1..6000 step 1000 released within hours of their creation
    db.execute_sql("UPDATE customer SET released_from = owner_id, released_at = datetime(?, '-3 days'), "
                   "created_at = datetime(?, '-3 days', '-5 hours'), owner_id = NULL, team_id = NULL "
                   "WHERE id % 1000 = 200 AND id < 12000", [at, at])
    print(f"  {customers:,} customers ({time.perf_counter() - started:.0f} s)", flush=True)
    db.execute_sql(  # a contact each; one in ten without any phone
        "INSERT INTO contact (customer_id, name, title, department, mobile, phone, phone_norm, mobile_norm, email, "
        "wechat, decision_role, active, created_at, influence, attitude, relationship) "
        "SELECT id, 'Contact', '', '', CASE WHEN id % 10 = 3 THEN '' ELSE '139' || (10000000 + id) END, '', '', "
        "CASE WHEN id % 10 = 3 THEN '' ELSE '139' || (10000000 + id) END, '', '', '', 1, created_at, '', '', 0 "
        "FROM customer")
    print(f"  contacts ({time.perf_counter() - started:.0f} s)", flush=True)
    db.execute_sql(  # `per` follow-ups each over 120 days; one customer in fifty always at 22 characters
        f"WITH RECURSIVE k(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM k WHERE j < ? - 1) "
        f"INSERT INTO follow_up (customer_id, author_id, type, at, content, outcome, next_step, created_at, is_valid, "
        f"invalid_reasons) SELECT c.id, c.owner_id, 'call', datetime(?, '-' || ((c.id * 7 + k.j * 23) % 120) || ' days'), "
        f"substr('电话沟通了下季度的订货计划对方要样品并约定下周二到工厂看样确认面料和交期再谈价格', 1, "
        f"CASE WHEN c.id % 50 = 7 THEN 22 ELSE 20 + (c.id + k.j) % 20 END), '', '', ?, 1, '[]' "
        f"FROM customer c, k ORDER BY c.id", [per, at, at])
    print(f"  follow-ups ({time.perf_counter() - started:.0f} s)", flush=True)
    db.execute_sql(  # one customer in five promoted in the last 60 days
        "INSERT INTO stage_change (customer_id, from_stage, to_stage, at, actor_id) "
        "SELECT id, 'target', 'intent', datetime(?, '-' || (id % 60) || ' days'), owner_id FROM customer "
        "WHERE id % 5 = 1 AND owner_id IS NOT NULL", [at])
    db.execute_sql("ANALYZE")
    counts = {t: db.execute_sql(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0]
              for t in ("customer", "contact", "follow_up", "stage_change")}
    print(f"  generated {counts} in {time.perf_counter() - started:.0f} s", flush=True)
    db.close()


def pct(times, p):
    times = sorted(times)
    return times[max(0, int(len(times) * p) - 1)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--followups", type=int, default=5, help="follow-ups per customer")
    parser.add_argument("--db", default="/tmp/quality-bench.db")
    parser.add_argument("--chunk", type=int, default=50_000, help="ids per transaction (the sweep uses 50,000)")
    parser.add_argument("--keep", action="store_true", help="reuse the database if it has that many customers")
    args = parser.parse_args(argv)
    path = Path(args.db)
    if path.resolve().parent == Path("/work/bench"):
        sys.exit("build the benchmark database under /tmp, never next to big.db")
    clock.freeze(NOW)
    reuse = False
    if args.keep and path.exists():
        models.init_db(f"sqlite:///{path}")
        db.connect()
        reuse = Customer.select().count() == args.customers
        db.close()
    if not reuse:
        print(f"generating {args.customers:,} customers, {args.followups * args.customers:,} follow-ups …", flush=True)
        generate(path, args.customers, args.followups)
    models.init_db(f"sqlite:///{path}")
    db.connect()
    for table in ("quality_check", "quality_sample", "quality_consequence", "quality_run", "capacity_adjustment"):
        db.execute_sql(f'DELETE FROM "{table}"')
    sizes = {t: db.execute_sql(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in ("customer", "follow_up", "contact")}
    print(f"database: {sizes}")

    chunks = [time.perf_counter()]
    cold, cold_cpu, created = cpu_timed(qm.evaluate_rules, NOW, args.chunk, 0, lambda n: chunks.append(time.perf_counter()))
    steps = [b - a for a, b in zip(chunks, chunks[1:])]
    by_rule = dict(db.execute_sql("SELECT rule, COUNT(*) FROM quality_check GROUP BY rule").fetchall())
    print(f"directed rules, cold: {created:,} checks {by_rule}, {cold:.1f} s (CPU {cold_cpu:.1f} s) "
          f"(chunk of {args.chunk:,} ids: median {statistics.median(steps):.2f} s, max {max(steps):.2f} s)")
    again, again_cpu, created2 = cpu_timed(qm.evaluate_rules, NOW, args.chunk)
    print(f"directed rules, again (idempotent): {created2:,} new checks, {again:.1f} s (CPU {again_cpu:.1f} s)")
    per_rule = {}
    for key in qm.DEFAULTS["rules"]:
        s = qm.QualitySettings({"rules": [key]})
        t, _c, _n = cpu_timed(qm.evaluate_rules, NOW, args.chunk, 0, None, s)
        per_rule[key] = round(t, 1)
    print(f"each rule alone (nothing new to write): {per_rule} s")

    checker = User.get_or_none(User.username == "bench-quality") or User.create(  # --keep: there from a last run
        username="bench-quality", full_name="Quality", password_hash="x", role="service", grants="quality",
        created_at=NOW)
    t, cpu, sample = cpu_timed(qm.draw_sample, checker, "2026-11", 3, seed=7)
    print(f"sample of 3 files per rep over {sample.population:,} files: {sample.picked:,} checks, {t:.1f} s (CPU {cpu:.1f} s)")
    open_ids = [i for (i,) in QualityCheck.select(QualityCheck.id).where(QualityCheck.status == "open").tuples()]
    worked = 0
    t0 = time.perf_counter()
    for i, cid in enumerate(open_ids[: min(len(open_ids), 2000)]):  # outcomes for 2,000 checks, as the checkers would
        QualityCheck.update(status="done", outcome=("true", "incomplete", "false")[i % 3], checked_at=NOW,
                            checked_by=checker.id, outcome_fields="phone").where(QualityCheck.id == cid).execute()
        worked += 1
    t, cpu, given = cpu_timed(qm.apply_all, NOW, qm.in_force(NOW))
    print(f"consequences for every rep with outcomes ({worked:,} worked checks): {given} given, {t:.2f} s (CPU {cpu:.2f} s)")

    def queue_page(status, source="", after=None):
        return keyset_page(qm.queue(status, source), [QualityCheck.id], after=after, limit=50,
                           descending=status == "done")

    cases = {"open, first page": lambda: queue_page("open"),
             "open, complaints (none: an empty page)": lambda: queue_page("open", "complaint"),
             "open, samples": lambda: queue_page("open", "sample"),
             "worked, first page": lambda: queue_page("done"),
             "open, a deep page": lambda: queue_page("open", after=open_ids[len(open_ids) * 3 // 4]),
             "open counts": qm.open_counts}
    for name, fn in cases.items():
        times = []
        for _ in range(60):
            t0 = time.perf_counter()
            result = fn()
            list(getattr(result, "rows", []) or [])
            times.append((time.perf_counter() - t0) * 1000)
        print(f"queue, {name}: median {statistics.median(times):.1f} ms, p95 {pct(times, 0.95):.1f} ms")
    rep = User.get(User.username == "rep001")
    times = []
    for _ in range(30):
        t0 = time.perf_counter()
        qm.rep_record(rep, NOW)
        times.append((time.perf_counter() - t0) * 1000)
    print(f"a rep's quality page (~{sizes['customer'] // REPS:,} files): median {statistics.median(times):.1f} ms, "
          f"p95 {pct(times, 0.95):.1f} ms")
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    print(f"GOAL ≤ 60 s for the directed rules: {'met' if cold <= 60 else 'MISSED'} ({cold:.1f} s wall, {cold_cpu:.1f} s CPU)")
    db.close()


if __name__ == "__main__":
    main()
