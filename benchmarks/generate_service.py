"""Add service volume to a copy of the 1M-customer benchmark database: a service team, 500,000 tickets
over two years (most closed; a few per cent open, some breached), repurchase leads and care plans.

    cp /work/bench/big.db /work/bench/service.db
    KEHU_DATABASE_URL=sqlite:////work/bench/service.db KEHU_NO_BOOTSTRAP=1 .venv/bin/python app.py migrate
    .venv/bin/python benchmarks/generate_service.py --db /work/bench/service.db [--tickets 500000]

Never point it at big.db itself. Bulk inserts (executemany), committed in chunks; seeded random, so
two runs on the same copy give the same data. Deadlines come from the real working-hours calendar.
"""
import argparse
import datetime as dt
import sqlite3
import sys
import time
from pathlib import Path
from random import Random

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from models import service as sv  # noqa: E402

SEED = 20261125
AGENTS = 20
CHUNK = 50_000
NOW = dt.datetime(2026, 11, 24, 2, 0)  # the big database's load time (10:00 in Shanghai)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--tickets", type=int, default=500_000)
    parser.add_argument("--leads", type=int, default=5_000)
    args = parser.parse_args(argv)
    path = Path(args.db).resolve()
    if path.name == "big.db":
        sys.exit("refusing to write to big.db: copy it first")
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=wal")
    con.execute("PRAGMA synchronous=off")
    if con.execute("SELECT count(*) FROM ticket").fetchone()[0]:
        sys.exit("this copy already has tickets")
    rng = Random(SEED)
    started = time.perf_counter()

    boss_id, password_hash, joined = con.execute(
        "SELECT id, password_hash, created_at FROM user WHERE username = 'service'").fetchone()
    con.execute("INSERT INTO team (name, manager_id) VALUES (?, ?)", ("客服一组", boss_id))
    team_id = con.execute("SELECT id FROM team WHERE name = '客服一组'").fetchone()[0]
    con.execute("UPDATE user SET team_id = ? WHERE id = ?", (team_id, boss_id))
    con.executemany(
        "INSERT INTO user (username, full_name, email, password_hash, role, team_id, language, active, created_at) "
        "VALUES (?, ?, ?, ?, 'service', ?, 'zh_CN', 1, ?)",
        [(f"service{i:02d}", f"客服{i:02d}", f"service{i:02d}@example.com", password_hash, team_id, joined)
         for i in range(1, AGENTS + 1)])
    agents = [r[0] for r in con.execute("SELECT id FROM user WHERE role = 'service' AND username != 'service'")]
    con.commit()

    customers = con.execute("SELECT id, business_model, grade, size, owner_id FROM customer "
                            "WHERE stage NOT IN ('unidentified', 'prospect')").fetchall()
    print(f"{len(customers):,} customers, {len(agents)} agents", file=sys.stderr)
    cal = sv.WorkingCalendar(sv.DEFAULTS)
    span = 730 * 24 * 60
    columns = ("customer_id", "contact_text", "channel", "category", "priority", "level", "status", "description",
               "created_by_id", "assignee_id", "created_at", "updated_at", "respond_by", "resolve_by", "responded_at",
               "resolved_at", "closed_at", "breached", "breach_kind", "resolution", "satisfaction", "reopened")
    sql = f"INSERT INTO ticket ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    # Older tickets first (ids grow with time, as in life).
    minutes = sorted(rng.randint(1, span) for _ in range(args.tickets))[::-1]
    batch = []
    for i, ago in enumerate(minutes):
        cid, model, grade, size, _owner = rng.choice(customers)
        level = "key" if model == "key_account" or grade == "A" or size in sv.KEY_SIZES else "standard"
        priority = rng.choices(sv.PRIORITIES, (1, 3, 6, 2))[0]
        category = rng.choices(sv.CATEGORIES, (4, 2, 3, 3))[0]
        created = NOW - dt.timedelta(minutes=ago)
        response_h, resolution_h = sv.DEFAULTS["sla"][level][priority]
        respond_by, resolve_by = cal.add(created, response_h), cal.add(created, resolution_h)
        responded = cal.add(created, rng.uniform(0.1, 1.4) * response_h)
        resolved = cal.add(created, rng.uniform(0.2, 1.3) * resolution_h)
        closed = resolved + dt.timedelta(hours=rng.randint(2, 72))
        if closed > NOW:
            closed = None
        if resolved > NOW:
            resolved = None
        if responded > NOW:
            responded = None
        status = "closed" if closed else "resolved" if resolved else "in_progress" if responded else \
            rng.choice(("new", "assigned"))
        agent = rng.choice(agents)
        assignee = None if status == "new" else agent
        breach = "response" if (responded or NOW) > respond_by else ("resolution" if (resolved or NOW) > resolve_by else "")
        batch.append((cid, "", rng.choices(sv.CHANNELS, (6, 2, 1, 3))[0], category, priority, level, status,
                      f"批量工单 {i}：{category}", agent, assignee, created,
                      max(x for x in (created, responded, resolved, closed) if x), respond_by, resolve_by, responded,
                      resolved, closed, int(bool(breach)), breach, "已处理" if resolved else "",
                      rng.choices((1, 2, 3, 4, 5), (1, 2, 6, 14, 17))[0] if resolved and rng.random() < 0.6 else None, 0))
        if len(batch) == CHUNK:
            con.executemany(sql, batch)
            con.commit()
            batch = []
            print(f"  {i + 1:,} tickets  {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    if batch:
        con.executemany(sql, batch)
        con.commit()

    # Repurchase leads from the latest tickets of owned customers, and care plans for key accounts.
    recent = con.execute("SELECT t.id, t.customer_id, c.owner_id, t.created_at, t.assignee_id FROM ticket t "
                         "JOIN customer c ON c.id = t.customer_id WHERE c.owner_id IS NOT NULL "
                         "AND t.status IN ('resolved', 'closed') ORDER BY t.id DESC LIMIT ?", (args.leads,)).fetchall()
    con.executemany("INSERT INTO repurchase_lead (customer_id, source, ticket_id, raised_by_id, routed_to_id, via, note, "
                    "created_at) VALUES (?, 'ticket', ?, ?, ?, 'owner', '客户有追加订单意向', ?)",
                    [(cid, tid, agent, owner, at) for tid, cid, owner, at, agent in recent])
    keys = con.execute("SELECT id FROM customer WHERE business_model = 'key_account' AND owner_id IS NOT NULL "
                       "ORDER BY id LIMIT 2000").fetchall()
    today = (NOW + dt.timedelta(hours=8)).date()
    con.executemany("INSERT INTO care_plan (customer_id, service_user_id, kind, every_days, dates, starts_on, next_due, "
                    "active, note, created_by_id, created_at) VALUES (?, ?, 'visit', 30, '[]', ?, ?, 1, '', ?, ?)",
                    [(cid, agents[i % len(agents)], today, today + dt.timedelta(days=i % 40), boss_id, NOW)
                     for i, (cid,) in enumerate(keys)])
    con.commit()
    con.execute("ANALYZE")
    con.commit()
    counts = dict(con.execute("SELECT status, count(*) FROM ticket GROUP BY status").fetchall())
    print(f"done in {time.perf_counter() - started:.0f} s: {sum(counts.values()):,} tickets {counts}, "
          f"{len(recent):,} leads, {len(keys):,} care plans")


if __name__ == "__main__":
    main()
