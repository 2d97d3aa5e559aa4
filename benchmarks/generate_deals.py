"""Add opportunity volume to a copy of the benchmark database: 200,000 open opportunities (+ closed ones
and their stage changes) on owned customers, and one customer of rep001 with 60 contacts in a tree.

    cp /work/bench/big.db /work/bench/deals.db
    KEHU_DATABASE_URL=sqlite:////work/bench/deals.db KEHU_NO_BOOTSTRAP=1 .venv/bin/python app.py migrate
    .venv/bin/python benchmarks/generate_deals.py --db /work/bench/deals.db [--open 200000] [--closed 60000]

Bulk inserts in chunks (never through the verbs: 260k verb calls would take an hour); deterministic
(seeded). Refuses to write to /work/bench/big.db. Run once per copy (it refuses a second run).
"""
import argparse
import datetime as dt
import random
import sqlite3
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from models.opportunities import DEFAULT_PROBABILITY, OPEN_STAGES  # noqa: E402

SEED = 66
CHUNK = 20_000
TREE_CUSTOMER_NAME = "基准测试决策树集团有限公司"
OPEN_WEIGHTS = (30, 20, 16, 14, 11, 9)
PRODUCTS = ("精纺羊毛西装面料", "商务衬衫", "职业套装", "校服", "工作服", "针织T恤", "羽绒服", "弹力牛仔面料")
NAMES = ("年度团购项目", "员工制服采购", "门店陈列升级", "秋冬新品订货", "校服招标", "工装定制", "电商专供款", "OEM 代工")


def money(rng):
    return Decimal(rng.choice((5, 8, 10, 15, 20, 30, 50, 80, 100, 150, 300, 500))) * 10000


def weighted(amount, p):
    return str((amount * p / 100).quantize(Decimal("0.01")))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--open", type=int, default=200_000)
    parser.add_argument("--closed", type=int, default=60_000)
    args = parser.parse_args(argv)
    if Path(args.db).resolve() == Path("/work/bench/big.db"):
        sys.exit("refusing to write to big.db: copy it first")
    con = sqlite3.connect(args.db)
    con.execute("PRAGMA journal_mode=wal")
    con.execute("PRAGMA synchronous=off")
    if con.execute("SELECT COUNT(*) FROM opportunity").fetchone()[0]:
        sys.exit("this copy has opportunities already")
    rng = random.Random(SEED)
    started = time.perf_counter()
    today = dt.date(2026, 11, 24)
    now = dt.datetime(2026, 11, 24, 2, 0)
    owned = con.execute("SELECT id, owner_id, team_id FROM customer WHERE owner_id IS NOT NULL ORDER BY id").fetchall()
    print(f"{len(owned):,} owned customers", flush=True)
    total = args.open + args.closed
    opp_rows, change_rows = [], []
    next_id = 1
    for i in range(total):
        cid, owner, team = owned[rng.randrange(len(owned))]
        amount = money(rng)
        if i < args.open:
            stage = rng.choices(OPEN_STAGES, OPEN_WEIGHTS)[0]
            close = today + dt.timedelta(days=rng.randint(-30, 240))
            closed_at = None
        else:
            stage = "won" if rng.random() < 0.4 else "lost"
            close = today - dt.timedelta(days=rng.randint(1, 365))
            closed_at = dt.datetime.combine(close, dt.time(3, 0))
        p = DEFAULT_PROBABILITY[stage]
        reason = ""
        if stage in OPEN_STAGES and rng.random() < 0.05:
            p, reason = max(5, min(95, p + rng.choice((-20, -10, 10, 20)))), "客户反馈影响赢率"
        path = list(OPEN_STAGES[:OPEN_STAGES.index(stage) + 1]) if stage in OPEN_STAGES else \
            list(OPEN_STAGES[:rng.randint(1, len(OPEN_STAGES))]) + [stage]
        path = path[-rng.randint(1, min(4, len(path))):] if len(path) > 1 else path
        created = now - dt.timedelta(days=rng.randint(10, 400))
        at = prev_at = created
        for j, st in enumerate(path):
            dwell = None if j == 0 else int((at - prev_at).total_seconds())
            change_rows.append((next_id, path[j - 1] if j else None, st, at.isoformat(sep=" "), owner, owner, team,
                                DEFAULT_PROBABILITY[st], str(amount), dwell, ""))
            prev_at = at
            at = at + dt.timedelta(days=rng.randint(2, 30), hours=rng.randint(0, 23))
        lost_reason = "客户选择了其他供应商" if stage == "lost" else ""
        opp_rows.append((next_id, cid, owner, team, f"{rng.choice(NAMES)} {next_id}", str(amount), p,
                         weighted(amount, p), reason, stage, close.isoformat(), rng.choice(PRODUCTS), "", "",
                         lost_reason, created.isoformat(sep=" "), owner, prev_at.isoformat(sep=" "),
                         prev_at.isoformat(sep=" "), closed_at.isoformat(sep=" ") if closed_at else None,
                         stage in OPEN_STAGES))
        next_id += 1
        if len(opp_rows) >= CHUNK:
            flush(con, opp_rows, change_rows)
            print(f"  {next_id - 1:,} of {total:,}", flush=True)
    flush(con, opp_rows, change_rows)
    tree_customer = make_tree(con, rng, now)
    con.commit()
    con.close()
    from models.base import close_db, db, init_db
    from models.opportunities import rebuild_summaries
    init_db(f"sqlite:///{args.db}")
    with db.connection_context():
        rebuild_summaries()  # the board totals, forecast and statistics read these
        db.execute_sql("ANALYZE")
    close_db()
    print(f"done in {time.perf_counter() - started:.0f} s; tree customer id {tree_customer}")


def flush(con, opp_rows, change_rows):
    with con:
        con.executemany(
            "INSERT INTO opportunity (id, customer_id, owner_id, team_id, name, amount, probability, weighted,"
            " probability_reason, stage, expected_close, product_lines, next_step, competitors, lost_reason,"
            " created_at, created_by_id, updated_at, stage_changed_at, closed_at, is_open)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", opp_rows)
        con.executemany(
            "INSERT INTO opportunity_stage_change (opportunity_id, from_stage, to_stage, at, actor_id, owner, team,"
            " probability, amount, dwell_seconds, reason) VALUES (?,?,?,?,?,?,?,?,?,?,?)", change_rows)
    opp_rows.clear()
    change_rows.clear()


def make_tree(con, rng, now):
    """rep001's project customer with 60 contacts: a chairman, 4 vice presidents, each with managers and staff,
    roles, influence and attitudes spread, and follow-ups with some of them."""
    rep_id, team_id, region_id = con.execute("SELECT id, team_id, region_id FROM user WHERE username='rep001'").fetchone()
    ts = now.isoformat(sep=" ")
    with con:
        cur = con.execute(
            "INSERT INTO customer (name, name_norm, short_name, business_model, source, first_channel, tags,"
            " owner_id, team_id, region_id, stage, grade, completeness, created_at, updated_at, stage_changed_at,"
            " touched_at, claimed_at, release_rule, locked, city, address, phone, phone_norm, website, size, value_tier)"
            " VALUES (?, ?, '', 'project', 'rep_developed', '', '', ?, ?, ?, 'intent', 'B', 80, ?, ?, ?, ?, ?,"
            " '', 0, '', '', '', '', '', 'xlarge', '')",
            (TREE_CUSTOMER_NAME, TREE_CUSTOMER_NAME, rep_id, team_id, region_id, ts, ts, ts, ts, ts))
        cid = cur.lastrowid
        roles = ("decision_maker", "buyer", "user", "consumer", "influencer")
        ids = []
        for i in range(60):
            boss = None if i == 0 else ids[(i - 1) // 4 if i <= 16 else rng.randrange(1, 17)]
            role = "decision_maker" if i < 2 else rng.choice(roles)
            cur = con.execute(
                "INSERT INTO contact (customer_id, name, title, department, mobile, phone, phone_norm, mobile_norm,"
                " email, wechat, decision_role, reports_to_id, active, created_at, influence, attitude, relationship,"
                " moved_company) VALUES (?, ?, ?, '', '', '', '', '', '', '', ?, ?, 1, ?, ?, ?, ?, '')",
                (cid, f"联系人{i:02d}", "总经理" if i == 0 else rng.choice(("副总", "经理", "主管", "工程师")), role, boss,
                 ts, rng.choice(("high", "medium", "low", "")), rng.choice(("supporter", "neutral", "opponent", "")),
                 rng.randint(0, 5)))
            ids.append(cur.lastrowid)
        for contact_id in rng.sample(ids, 25):
            con.execute("INSERT INTO follow_up (customer_id, author_id, type, at, contact_id, content, outcome, next_step,"
                        " created_at, is_valid, invalid_reasons) VALUES (?, ?, 'visit', ?, ?, ?, '', '', ?, ?, '[]')",
                        (cid, rep_id, ts, contact_id, "拜访并沟通了项目进展和预算安排，客户反馈积极", ts, rng.random() < 0.5))
    return cid


if __name__ == "__main__":
    main()
