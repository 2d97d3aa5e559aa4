"""Time the ownership-dispute paths at scale: the duplicate lookup while typing, a merge, and the
delegate's customer lists (issue 5).

    cp /work/bench/big.db /work/bench/conflicts.db
    KEHU_DATABASE_URL=sqlite:////work/bench/conflicts.db KEHU_NO_BOOTSTRAP=1 .venv/bin/python app.py migrate
    .venv/bin/python benchmarks/bench_duplicates.py --db /work/bench/conflicts.db [--runs 200]

(a) POST /customers/duplicates (htmx) as rep001, with realistic input drawn from the database: a
    name as it is typed (growing prefixes of an existing name, the same name with 集团 in brackets
    or another legal form, a name nobody has), a phone in another format (+86, dashes, spaces, a
    contact's mobile), an existing credit code. Goal p95 ≤ 30 ms.
(b) merge_customers(admin, loser, survivor) on pairs of customers with contacts and follow-ups
    (this WRITES: use a copy). Each timing is one merge in one transaction.
(c) a delegation rep001 → rep002 created through the verb (WRITES), then as rep002: the absentee's
    customer list (/delegations/<id>/customers, first page and a deep one), the customer list
    (/customers, scope all I may see, which now includes rep001's customers), and one of rep001's
    360 pages. Goal p95 ≤ 50 ms like the other list pages.

Query plans of the slowest statements are printed as benchmarks/bench.py prints them.
"""
import argparse
import datetime as dt
import random
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import QueryLog, login, print_plans, print_table, row  # noqa: E402

from app import create_app  # noqa: E402
from models import clock, db  # noqa: E402
from models.customers import Contact, Customer, FollowUp  # noqa: E402
from models.users import User  # noqa: E402

SEED = 11
LEGAL = ("有限公司", "有限责任公司", "股份有限公司", "(集团)有限公司", "（上海）有限公司", "集团")


def say(text):
    print(f"  {text}", file=sys.stderr, flush=True)


def make_app(path):
    return create_app({"DATABASE_URL": f"sqlite:///{path}", "WTF_CSRF_ENABLED": False, "TESTING": True,
                       "SECRET_KEY": "benchmark"})


def reformat_phone(digits, rng):
    """A stored normalised phone as a rep would type it."""
    if len(digits) == 11 and digits.startswith("1"):
        return rng.choice([f"+86 {digits[:3]} {digits[3:7]} {digits[7:]}", f"{digits[:3]}-{digits[3:7]}-{digits[7:]}",
                           f"0086{digits}", f"86 {digits}"])
    area = 3 if digits[:3] in ("010", "020", "021", "022", "023", "024", "025", "027", "028", "029") else 4
    return rng.choice([f"{digits[:area]}-{digits[area:]}", f"({digits[:area]}){digits[area:]}",
                       f"+86 {digits[1:area]} {digits[area:]}", f"{digits[:area]} {digits[area:area + 4]} {digits[area + 4:]}"])


def samples(rng, n):
    """(label, form) inputs for the lookup, drawn from random customers and contacts."""
    top = Customer.select(Customer.id).order_by(Customer.id.desc()).limit(1).scalar()
    ids = rng.sample(range(1, top + 1), min(n * 3, top))
    rows = list(Customer.select(Customer.id, Customer.name, Customer.phone_norm, Customer.credit_code)
                .where(Customer.id.in_(ids)))
    mobiles = [c.mobile_norm for c in Contact.select(Contact.mobile_norm).where(
        Contact.customer.in_(ids[:n]) & (Contact.mobile_norm != ""))]
    out = {"name typed (prefixes)": [], "look-alike name": [], "new name": [], "phone, other format": [],
           "contact mobile": [], "credit code": []}
    for c in rows[:n]:
        core = re.sub(r"(股份有限公司|有限责任公司|有限公司|集团)$", "", c.name)
        for k in (4, 6, len(core)):
            out["name typed (prefixes)"].append({"name": core[:k]})
        out["look-alike name"].append({"name": core + rng.choice(LEGAL)})
        out["new name"].append({"name": "".join(rng.choice("锦华鼎盛瑞丰恒泰隆昌宏达永兴嘉禾新源正大") for _ in range(4))
                                + rng.choice(("服饰", "制衣", "纺织", "鞋业")) + "有限公司"})
        if c.phone_norm:
            out["phone, other format"].append({"name": "", "phone": reformat_phone(c.phone_norm, rng)})
        if c.credit_code:
            out["credit code"].append({"name": "", "credit_code": c.credit_code})
    for m in mobiles:
        out["contact mobile"].append({"name": "", "phone": reformat_phone(m, rng)})
    return out


def bench_lookup(app, rng, runs, logged):
    client = login(app, "rep001")
    results = []
    all_times = []
    for label, forms in samples(rng, runs).items():
        if not forms:
            continue
        times, statuses = [], {}
        for form in forms[:runs]:
            started = time.perf_counter()
            r = client.post("/customers/duplicates", data=form, headers={"HX-Request": "true"})
            times.append((time.perf_counter() - started) * 1000)
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
        all_times += times
        results.append(row(f"(a) duplicates: {label}", times, statuses))
        with QueryLog() as log:
            client.post("/customers/duplicates", data=forms[0], headers={"HX-Request": "true"})
        logged.append((f"(a) {label}", str(forms[0]), log.queries))
    results.append(row("(a) duplicates: all inputs", all_times, {200: len(all_times)}))
    # the lookup alone (models.duplicates.find_matches), without the request around it
    from models.duplicates import find_matches
    rep = User.get(User.username == "rep001")
    verb_times = []
    for forms in samples(random.Random(SEED + 1), runs).values():
        for form in forms[:runs]:
            started = time.perf_counter()
            find_matches(rep, name=form.get("name"), phone=form.get("phone"), credit_code=form.get("credit_code"))
            verb_times.append((time.perf_counter() - started) * 1000)
    results.append(row("(a) find_matches alone: all inputs", verb_times, {"ok": len(verb_times)}))
    return results


def bench_merge(app, rng, runs):
    from models.merges import merge_customers

    admin = User.get(User.username == "admin")
    # pairs of owned customers with contacts and follow-ups (a realistic amount to move)
    top = Customer.select(Customer.id).order_by(Customer.id.desc()).limit(1).scalar()
    candidates = list(Customer.select(Customer.id).where(Customer.owner.is_null(False)
                                                           & Customer.id.in_(rng.sample(range(1, top + 1), runs * 400)))
                      .limit(runs * 2))
    rng.shuffle(candidates)
    times, moved = [], []
    for i in range(0, min(len(candidates), runs * 2) - 1, 2):
        loser, survivor = candidates[i].id, candidates[i + 1].id
        started = time.perf_counter()
        record = merge_customers(admin, loser, survivor, take=["phone"], reason="benchmark")
        times.append((time.perf_counter() - started) * 1000)
        moved.append(sum(record.moved.values()))
    say(f"merges: {len(times)}, rows moved per merge median {statistics.median(moved) if moved else 0}")
    return [row(f"(b) merge (median {statistics.median(moved) if moved else 0:.0f} rows moved)", times,
                {"ok": len(times)})]


def bench_delegate(app, runs, logged):
    from models.delegations import Delegation, create_delegation

    rep1, rep2 = User.get(User.username == "rep001"), User.get(User.username == "rep002")
    today = clock.today()
    d = Delegation.get_or_none((Delegation.absentee == rep1.id) & (Delegation.delegate == rep2.id)
                               & Delegation.cancelled_at.is_null() & (Delegation.ends_on >= today))
    if d is None:
        d = create_delegation(rep1, {"delegate_id": rep2.id, "starts_on": today.isoformat(),
                                     "ends_on": (today + dt.timedelta(days=4)).isoformat(), "reason": "benchmark"})
    one = Customer.select(Customer.id).where(Customer.owner == rep1.id).order_by(Customer.id).first()
    client = login(app, "rep002")
    cases = [("(c) delegate: absentee's customers", f"/delegations/{d.id}/customers", False),
             ("(c) delegate: customer list, all I may see", "/customers?scope=all", True),
             ("(c) delegate: a 360 page of rep001's", f"/customers/{one.id}", False),
             ("(c) delegate: workbench with the banner", "/", False)]
    out = []
    baseline = login(app, "rep003")  # the same list for a rep who acts for nobody
    cases.append(("(c) baseline: rep003's customer list, all I may see", "/customers?scope=all", True))
    for label, url, htmx in cases:
        if label.startswith("(c) baseline"):
            client = baseline
        headers = {"HX-Request": "true"} if htmx else {}
        times, statuses = [], {}
        for _ in range(runs):
            started = time.perf_counter()
            r = client.get(url, headers=headers)
            times.append((time.perf_counter() - started) * 1000)
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
        out.append(row(label, times, statuses))
        with QueryLog() as log:
            client.get(url, headers=headers)
        logged.append((label, url, log.queries))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", required=True, help="a COPY of the big database (this script writes)")
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--merges", type=int, default=20)
    parser.add_argument("--top", type=int, default=3)
    parser.add_argument("--phases", default="acb", help="which of (a) lookup, (c) delegate, (b) merge to run")
    args = parser.parse_args(argv)
    if Path(args.db).resolve() == Path("/work/bench/big.db"):
        sys.exit("this benchmark writes: run it on a copy of big.db")
    app = make_app(args.db)
    rng = random.Random(SEED)
    logged = []
    # No app context around the requests: it would be shared by them (and flask_login keeps the user on
    # g), so every test client would be served as the last one logged in. The models need none.
    db.connect(reuse_if_open=True)
    customers = Customer.select().count()
    say(f"{customers:,} customers, {FollowUp.select().count():,} follow-ups")
    rows = []
    phases = {"a": lambda: bench_lookup(app, rng, args.runs, logged), "c": lambda: bench_delegate(app, args.runs, logged),
              "b": lambda: bench_merge(app, rng, args.merges)}
    for key in args.phases:
        found = phases[key]()
        print_table(found)  # as it goes: a later phase failing keeps these figures
        sys.stdout.flush()
        rows += found
    print(f"\n{customers:,} customers\n")
    print_table(rows)
    lookup = [r for r in rows if r[0] == "(a) duplicates: all inputs"]
    if lookup:
        print(f"\n(a) goal p95 ≤ 30 ms: p50 {lookup[0][3]:.1f} ms, p95 {lookup[0][4]:.1f} ms "
              f"({'met' if lookup[0][4] <= 30 else 'NOT met'})")
    print_plans(logged, args.top)


if __name__ == "__main__":
    main()
