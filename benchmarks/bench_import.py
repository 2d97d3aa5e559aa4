"""Time a customer import of 100,000 rows with duplicate checking against a database of existing customers
(issue 14 point 7, goal ≤ 60 s for the whole import on this machine).

    .venv/bin/python benchmarks/bench_import.py [--rows 100000] [--existing 200000] [--xlsx] [--db /tmp/bench-import.db]

Builds a fresh database (migrated, reference data, `--existing` customers with a contact each, written in
bulk), then a sheet of `--rows` rows: about 70 % new, 10 % the credit code of an existing customer, 8 % an
existing contact's mobile, 7 % an existing name in another legal form, 5 % invalid (bad phone or credit
code). It runs the three steps as the server does (upload, dry run, import: the job runner in this thread)
and prints the wall-clock and CPU seconds of each, and the rows per second. Duplicates are skipped except
the name class, created anyway with a reason (the most writing).
"""
import argparse
import csv
import io
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("KEHU_INSTANCE", "/tmp/kehu-bench-import")

import models  # noqa: E402
from models import customers  # noqa: E402,F401  first: the audit table's deferred keys resolve as the tables load
from models import clock  # noqa: E402
from models.base import bulk_insert  # noqa: E402

SEED = 14
WORDS = ("华东", "锦绣", "青松", "白鹭", "紫竹", "金鼎", "翠微", "松鹤", "瑞丰", "恒达", "永盛", "嘉禾", "鸿运", "天成",
         "富华", "新纪元", "博雅", "德信", "宏图", "汇丰", "隆昌", "美达", "盛世", "远航", "东方", "南洋", "北辰")
TRADES = ("服饰", "制衣", "纺织", "西服", "衬衫", "针织", "鞋业", "皮具", "家纺", "贸易")
CITIES = ("上海", "杭州", "苏州", "南京", "宁波", "广州", "深圳", "北京", "成都", "武汉")
HEADER = ["客户名称", "统一社会信用代码", "电话", "城市", "行业", "区域", "联系人", "手机", "地址"]


def code(n):
    from models.fields import credit_code_check_char

    body = f"91{n % 10:01d}1{n:014d}"[:17]
    return body + credit_code_check_char(body)


def company(rng, n):
    return f"{rng.choice(CITIES)}{rng.choice(WORDS)}{rng.choice(WORDS)}{n}{rng.choice(TRADES)}"


def build_database(path, existing, rng):
    if path.exists():
        path.unlink()
    models.init_db(f"sqlite:///{path}")
    with models.db.connection_context():
        models.migrate()
        from seeds import reference

        reference.load()
        from models.customers import Contact, Customer
        from models.duplicates import normalize_name
        from models.users import User

        admin = User.create(username="bench-admin", full_name="Bench Admin", password_hash="x", role="admin",
                            created_at=clock.now())
        User.create(username="bench-marketing", full_name="Bench Marketing", password_hash="x", role="marketing",
                    created_at=clock.now())
        now = clock.now()
        people = []
        for start in range(0, existing, 5000):
            customers, contacts = [], []
            for n in range(start, min(existing, start + 5000)):
                name = company(rng, n) + "有限公司"
                phone = f"021{60000000 + n:08d}"
                customers.append(Customer(name=name, name_norm=normalize_name(name), credit_code=code(n), phone=phone,
                                      phone_norm=phone, city=rng.choice(CITIES), stage="target", source="media",
                                      business_model="consumer", created_at=now, updated_at=now, stage_changed_at=now,
                                      touched_at=now, created_by=admin.id, custom={}).__data__)
            with models.db.atomic():
                ids = bulk_insert(Customer, customers, new_ids=True)
                for i, n in zip(ids, range(start, start + len(ids))):
                    mobile = f"139{n:08d}"
                    contacts.append(Contact(customer=i, name=f"联系人{n}", mobile=mobile, mobile_norm=mobile,
                                         created_at=now).__data__)
                bulk_insert(Contact, contacts)
            people.extend(customers)
        models.db.execute_sql("ANALYZE")
    models.db.close()
    return people


def build_sheet(rows, existing_rows, rng, xlsx):
    table = [HEADER]
    for n in range(rows):
        roll = rng.random()
        name = company(rng, 10_000_000 + n) + "有限公司"
        row = [name, "", f"0571{80000000 + n:08d}", rng.choice(CITIES), "", "", f"张{n}", f"137{n:08d}", "某路 1 号"]
        if existing_rows and roll < 0.10:
            row[1] = existing_rows[rng.randrange(len(existing_rows))]["credit_code"]
        elif existing_rows and roll < 0.18:
            row[7] = f"139{rng.randrange(len(existing_rows)):08d}"
        elif existing_rows and roll < 0.25:
            row[0] = existing_rows[rng.randrange(len(existing_rows))]["name"].replace("有限公司", "（集团）股份有限公司")
        elif roll < 0.30:
            row[2] = "12345" if roll < 0.275 else row[2]
            row[1] = "" if roll < 0.275 else "91310000ABCDEFGH12"
        elif roll < 0.65:
            row[1] = code(50_000_000 + n)
        table.append(row)
    if xlsx:
        from openpyxl import Workbook

        book = Workbook(write_only=True)
        sheet = book.create_sheet("客户")
        for row in table:
            sheet.append(row)
        buf = io.BytesIO()
        book.save(buf)
        return buf.getvalue(), "客户.xlsx"
    out = io.StringIO()
    csv.writer(out).writerows(table)
    return out.getvalue().encode("gb18030"), "客户.csv"


def timed(label, fn, results):
    wall, cpu = time.perf_counter(), time.process_time()
    value = fn()
    results.append((label, time.perf_counter() - wall, time.process_time() - cpu))
    return value


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--existing", type=int, default=200_000)
    parser.add_argument("--xlsx", action="store_true")
    parser.add_argument("--db", default="/tmp/bench-import.db")
    args = parser.parse_args()
    rng = random.Random(SEED)
    path = Path(args.db)
    print(f"building {args.existing:,} existing customers in {path} …", file=sys.stderr, flush=True)
    existing_rows = build_database(path, args.existing, rng)
    data, name = build_sheet(args.rows, existing_rows, rng, args.xlsx)
    print(f"sheet: {args.rows:,} rows, {len(data) / 1e6:.1f} MB ({name})", file=sys.stderr, flush=True)

    from app import create_app
    from models import imports
    from models.users import User

    create_app({"DATABASE_URL": f"sqlite:///{path}", "TESTING": True, "SECRET_KEY": "benchmark"})
    models.db.connect(reuse_if_open=True)
    actor = User.get(User.username == "bench-marketing")
    results = []
    job = timed("upload (open the sheet, first rows, keep the file)", lambda: imports.create_job(actor, name, data), results)
    job = imports.check_job(actor, job, {f"col_{k}": v for k, v in job.mapping.items()})
    timed("dry run (validate and classify every row)", lambda: imports.run_job(job.id), results)
    job = imports.ImportJob.get_by_id(job.id)
    counts = job.summary["counts"]
    job = imports.start_import(actor, job, {"on_credit_code": "skip", "on_phone": "skip", "on_name": "create",
                                            "reason": "benchmark", "stage": "target"})
    timed("import (write in chunks of %d)" % imports.CHUNK, lambda: imports.run_job(job.id), results)
    job = imports.ImportJob.get_by_id(job.id)
    print(f"\n{args.rows:,} rows against {args.existing:,} existing customers ({name}); "
          f"dry run: {counts['new']:,} new, {counts['duplicate']:,} duplicates "
          f"(credit code {counts['dup_credit_code']:,}, phone {counts['dup_phone']:,}, name {counts['dup_name']:,}), "
          f"{counts['invalid']:,} invalid")
    print(f"import: {job.state}, {job.created:,} created, {job.skipped:,} skipped, {job.rejected:,} rejected\n")
    print(f"{'step':55} {'wall s':>8} {'cpu s':>8} {'rows/s':>8}")
    for label, wall, cpu in results:
        print(f"{label:55} {wall:8.1f} {cpu:8.1f} {args.rows / wall if wall > 0.5 else 0:8.0f}")
    wall = sum(r[1] for r in results)
    cpu = sum(r[2] for r in results)
    print(f"{'total (goal ≤ 60 s)':55} {wall:8.1f} {cpu:8.1f} {args.rows / wall:8.0f}")
    models.db.close()


if __name__ == "__main__":
    main()
