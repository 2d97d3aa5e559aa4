"""Time completeness by business model (issue 17 item 7) on a database of its own: N customers of 200 reps over
the four business models with part of the profile filled, one or two contacts each (a decision maker with a
reporting line on part of them), two custom fields with values on part of the files and a project for one
project-sales file in three; generated here in SQL.

    .venv/bin/python benchmarks/bench_completeness.py [--customers 1000000] [--db /tmp/completeness-bench.db] [--keep]

Goal: an admin's new weights recomputed over every customer set-based and fast at 1M (one UPDATE per 50,000 ids,
`customers.recompute_range`). Prints: the verb (its first `settings.VERB_BUDGET` ids in its own transaction), the
sweep finishing the job, the same again for all models, the former per-row recompute on 50,000 ids for comparison,
a check that the stored scores equal `compute_completeness` on a sample, the daily snapshot and the dashboard's
reads (a team's reps live, everyone's from the snapshot, the trend), and the plan of the UPDATE.
/work/bench/big.db is never touched: the database is built under /tmp (reused with --keep when it has that size).
"""
import argparse
import datetime as dt
import random
import sys
import time
from pathlib import Path

import peewee as pw

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import models.customers  # noqa: E402,F401  (customers before notifications: the import order that works)
import models  # noqa: E402
from benchmarks.bench_value import _defaults, cpu_timed  # noqa: E402
from models import clock, db  # noqa: E402
from models import completeness as cm  # noqa: E402
from models import settings  # noqa: E402
from models.customers import (Customer, CustomField, compute_completeness, completeness_sql,  # noqa: E402
                              recompute_completeness)
from models.users import Team, User  # noqa: E402

NOW = dt.datetime(2026, 11, 24, 2, 0)
REPS = 200


def generate(path, customers):
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
        admin = User.create(username="admin", full_name="Admin", password_hash="x", role="admin", created_at=NOW)
        CustomField.create(key="capacity", label_zh="产能", label_en="Capacity", kind="number", weight=10)
        CustomField.create(key="tender", label_zh="招标编号", label_en="Tender", kind="text", weight=15,
                           business_models="project")
    cols = _defaults(Customer, {"id", "name", "owner", "team", "created_at", "updated_at", "stage_changed_at",
                                "touched_at", "business_model", "short_name", "city", "address", "phone", "website",
                                "size", "credit_code", "completeness", "created_by"})
    names = ", ".join(cols)
    model = "CASE i % 4 WHEN 0 THEN 'consumer' WHEN 1 THEN 'industrial' WHEN 2 THEN 'key_account' ELSE 'project' END"
    db.execute_sql(
        f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
        f"INSERT INTO customer (id, name, owner_id, created_by_id, team_id, business_model, short_name, city, address, "
        f"phone, website, size, credit_code, completeness, created_at, updated_at, stage_changed_at, touched_at, {names}) "
        f"SELECT i, 'Customer ' || i, ? + i % {REPS}, ? + i % {REPS}, NULL, {model}, "
        f"CASE WHEN i % 3 = 0 THEN 'C' || i ELSE '' END, CASE WHEN i % 2 = 0 THEN '杭州' ELSE '' END, "
        f"CASE WHEN i % 5 < 3 THEN '某路' || i || '号' ELSE '' END, CASE WHEN i % 7 < 5 THEN '0571' || i ELSE '' END, "
        f"CASE WHEN i % 11 < 4 THEN 'https://c' || i || '.cn' ELSE '' END, CASE WHEN i % 2 = 1 THEN 'small' ELSE '' END, "
        f"CASE WHEN i % 6 = 0 THEN printf('91330100%010d', i) ELSE NULL END, 0, ?, ?, ?, ?, "
        f"{', '.join('?' for _ in cols)} FROM n",
        [customers, reps[0], reps[0], at, at, at, at, *cols.values()])
    db.execute_sql('UPDATE customer SET team_id = (SELECT team_id FROM "user" WHERE "user".id = customer.owner_id)')
    print(f"  {customers:,} customers ({time.perf_counter() - started:.0f} s)", flush=True)
    contact_cols = ("customer_id, name, title, department, mobile, phone, phone_norm, mobile_norm, email, wechat, "
                    "decision_role, active, created_at, influence, attitude, relationship, moved_company")
    db.execute_sql(  # one contact on 9 files in 10, a decision maker on one in three, with a mobile on half of those
        f"INSERT INTO contact ({contact_cols}) SELECT id, 'Boss', '', '', CASE WHEN id % 2 = 0 THEN '139' || id ELSE '' END, "
        f"'', '', '', '', '', CASE WHEN id % 3 = 0 THEN 'decision_maker' ELSE '' END, 1, created_at, '', '', 0, '' "
        f"FROM customer WHERE id % 10 <> 9")
    db.execute_sql(  # a buyer reporting to that decision maker on one file in six
        f"INSERT INTO contact ({contact_cols}, reports_to_id) SELECT customer_id, 'Buyer', '', '', '', '', '', '', '', '', "
        f"'buyer', 1, created_at, '', '', 0, '', id FROM contact WHERE decision_role = 'decision_maker' AND customer_id % 2 = 0")
    print(f"  contacts ({time.perf_counter() - started:.0f} s)", flush=True)
    fields = {f.key: f.id for f in CustomField.select()}
    db.execute_sql("INSERT INTO custom_value (customer_id, field_id, value, number) SELECT id, ?, '' || (id % 900 + 100), "
                   "id % 900 + 100 FROM customer WHERE id % 5 < 2", [fields["capacity"]])
    db.execute_sql("INSERT INTO custom_value (customer_id, field_id, value) SELECT id, ?, 'ZB-' || id FROM customer "
                   "WHERE business_model = 'project' AND id % 2 = 1", [fields["tender"]])
    db.execute_sql("INSERT INTO project (customer_id, name, description, status, requested_at, updated_at, decision_reason) SELECT id, "
                   "'P' || id, '', 'approved', ?, ?, '' FROM customer WHERE business_model = 'project' AND id % 3 = 0",
                   [at, at])
    print(f"  custom values and projects ({time.perf_counter() - started:.0f} s)", flush=True)
    with db.atomic():
        settings.advance(settings.CompletenessJob.create(business_models="", created_at=NOW))
    db.execute_sql("ANALYZE")
    print(f"  built-in scores stored, ANALYZE ({time.perf_counter() - started:.0f} s)", flush=True)
    return admin


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--db", default="/tmp/completeness-bench.db")
    parser.add_argument("--keep", action="store_true", help="reuse the database if it has that many customers")
    args = parser.parse_args(argv)
    path = Path(args.db)
    clock.freeze(NOW)
    print(f"completeness by business model, {args.customers:,} customers (db {path})", flush=True)
    if args.keep and path.exists():
        models.init_db(f"sqlite:///{path}")
        db.connect()
        if Customer.select().count() != args.customers:
            db.close()
            generate(path, args.customers)
    else:
        generate(path, args.customers)
    admin = User.get(User.username == "admin")
    db.execute_sql("PRAGMA synchronous=normal")
    counts = dict(Customer.select(Customer.business_model, pw.fn.COUNT(Customer.id)).group_by(Customer.business_model).tuples())
    print(f"  per model: {counts}")

    weights = {f"w_{k}": str(w) for k, w in cm.current("key_account")[0].items()}
    weights.update(w_decision_tree="20", w_contacts="5")
    wall, cpu, _ = cpu_timed(cm.save_weights, admin, "key_account", weights)
    print(f"save_weights(key_account): verb with its first {settings.VERB_BUDGET:,} ids  {wall * 1000:8.0f} ms wall "
          f"{cpu * 1000:8.0f} ms CPU")
    wall, cpu, result = cpu_timed(settings.sweep)
    print(f"  the sweep finishes the job ({counts.get('key_account', 0):,} key accounts among the ids)  {wall:6.1f} s wall "
          f"{cpu:6.1f} s CPU  {result}")

    # every model at once: the heaviest job (a custom field of all models changed, say)
    weights = {f"w_{k}": str(w) for k, w in cm.current("project")[0].items()}
    weights.update(w_project="20")
    cm.save_weights(admin, "project", weights)
    settings.sweep()  # its job finished, so the timing below is the all-models job alone
    wall, cpu, _ = cpu_timed(lambda: settings.advance(settings.CompletenessJob.create(business_models="",
                                                                                      created_at=clock.now())))
    rate = args.customers / wall if wall else 0
    print(f"all {args.customers:,} customers, every model (one UPDATE per {settings.CHUNK:,} ids)  {wall:6.1f} s wall "
          f"{cpu:6.1f} s CPU  ({rate:,.0f} customers/s)")

    ids = [pk for pk, in Customer.select(Customer.id).where(Customer.id <= 50_000).tuples()]
    def per_row():
        with db.atomic():
            return recompute_completeness(ids)
    wall, cpu, changed = cpu_timed(per_row)
    print(f"the per-row recompute (customers.recompute_completeness) on {len(ids):,} ids for comparison  {wall:6.1f} s "
          f"wall {cpu:6.1f} s CPU  ({len(ids) / wall:,.0f} customers/s; changed {changed}: must be 0)")

    rng = random.Random(7)
    top = Customer.select(pw.fn.MAX(Customer.id)).scalar()
    sample = [rng.randint(1, top) for _ in range(2000)]
    wrong = [c.id for c in Customer.select().where(Customer.id.in_(sample)) if compute_completeness(c) != c.completeness]
    print(f"stored = compute_completeness on {len(set(sample)):,} random files: {'yes' if not wrong else wrong[:10]}")

    cm.CompletenessDaily.delete().execute()  # a rerun with --keep on the same day takes it again
    wall, cpu, n = cpu_timed(cm.snapshot)
    print(f"daily snapshot (one INSERT … SELECT … GROUP BY)  {wall * 1000:8.0f} ms wall {cpu * 1000:8.0f} ms CPU  ({n} rows)")
    team = Team.select().first().id
    for label, fn in (("a team's reps, live", lambda: cm.by_rep(team)), ("everyone's reps, snapshot", lambda: cm.by_rep(None)),
                      ("trend, a team", lambda: cm.trend(team)), ("trend, everyone", lambda: cm.trend(None))):
        times = []
        for _ in range(5):
            wall, cpu, _ = cpu_timed(fn)
            times.append(cpu)
        print(f"  {label:28s} {sorted(times)[2] * 1000:8.1f} ms CPU (median of 5)")
    sql = f'EXPLAIN QUERY PLAN UPDATE customer AS c SET completeness = {completeness_sql()} WHERE c.id > 0 AND c.id <= 50000'
    print("plan of the UPDATE:")
    for row in db.execute_sql(sql).fetchall():
        print("   ", row[-1])


if __name__ == "__main__":
    main()
