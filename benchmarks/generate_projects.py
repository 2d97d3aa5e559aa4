"""Add projects at volume to a copy of the benchmark database (never to big.db itself):

    cp /work/bench/big.db /work/bench/projects.db
    KEHU_DATABASE_URL=sqlite:////work/bench/projects.db KEHU_NO_BOOTSTRAP=1 .venv/bin/python app.py migrate
    .venv/bin/python benchmarks/generate_projects.py --db /work/bench/projects.db [--projects 5000]

Projects go to owned project-sales customers (rep001's first, so the benchmark's rep has some; several
per customer when there are fewer such customers than projects):
70 % approved, 20 % pending, 10 % rejected, each with its criteria answers; approved ones get a team
(the owner, a project manager from the owner's team, an engineer), 6 milestones chained by dependencies
with due dates from 120 days back to 240 days ahead (some overdue, some inside the reminder window),
and 6 cost lines; a third of them a signed contract. Bulk inserts, committed in chunks; seeded.
"""
import argparse
import datetime as dt
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from models import clock, db  # noqa: E402
from models.base import init_db  # noqa: E402
from models import projects as pj  # noqa: E402
from models.customers import Customer  # noqa: E402
from models.users import Team, User  # noqa: E402

SEED = 2026
CHUNK = 500
NAMES = ("MES 实施", "WMS 改造", "ERP 替换", "设备联网", "质量追溯", "数据中台", "能耗监测", "PLM 升级", "供应链协同",
         "智能仓储", "财务共享", "门店数字化")
MILESTONES = ("需求调研", "方案设计", "蓝图评审", "开发与配置", "试点上线", "验收")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--projects", type=int, default=5000)
    args = parser.parse_args(argv)
    if Path(args.db).resolve() == Path("/work/bench/big.db"):
        sys.exit("never write to big.db: copy it first")
    init_db(f"sqlite:///{Path(args.db).resolve()}")
    db.connect()
    started = time.perf_counter()
    rng = random.Random(SEED)
    now = clock.now()
    today = clock.today()
    criteria = pj.active_criteria()
    managers = {t.id: t.manager_id for t in Team.select(Team.id, Team.manager)}
    team_members = {}
    for u in User.select(User.id, User.team).where((User.role == "sales") & (User.active == True)):  # noqa: E712
        team_members.setdefault(u.team_id, []).append(u.id)
    service = [u.id for u in User.select(User.id).where(User.role == "service")] or [None]
    rep1 = User.get(User.username == "rep001")
    base = Customer.select(Customer.id, Customer.owner, Customer.team).where(
        (Customer.business_model == "project") & Customer.owner.is_null(False))
    customers = list(base.where(Customer.owner == rep1.id).limit(40).tuples())
    customers += list(base.where(Customer.owner != rep1.id).order_by(Customer.id)
                      .limit(max(args.projects - len(customers), 0)).tuples())
    print(f"{len(customers)} project-sales customers", flush=True)
    if customers and len(customers) < args.projects:  # owned project customers are few: several projects each
        customers = (customers * (args.projects // len(customers) + 1))[:args.projects]

    next_project = (pj.Project.select(pj.Project.id).order_by(pj.Project.id.desc()).scalar() or 0) + 1
    next_milestone = (pj.Milestone.select(pj.Milestone.id).order_by(pj.Milestone.id.desc()).scalar() or 0) + 1
    counts = {"projects": 0, "milestones": 0, "members": 0, "costs": 0, "answers": 0}
    for start in range(0, len(customers), CHUNK):
        projects, answers, members, milestones, deps, costs = [], [], [], [], [], []
        for cid, owner, team in customers[start:start + CHUNK]:
            pid = next_project
            next_project += 1
            roll = rng.random()
            status = "approved" if roll < 0.7 else ("pending" if roll < 0.9 else "rejected")
            requested = now - dt.timedelta(days=rng.randint(5, 300))
            decided = status != "pending"
            budget = rng.randrange(20, 500) * 10000
            signed = status == "approved" and rng.random() < 0.33
            projects.append({
                "id": pid, "customer": cid, "name": f"{rng.choice(NAMES)} {pid}", "description": "基准数据",
                "budget": budget, "expected_start": today + dt.timedelta(days=rng.randint(-120, 30)),
                "expected_end": today + dt.timedelta(days=rng.randint(60, 360)), "status": status,
                "requested_by": owner, "requested_at": requested,
                "decided_by": managers.get(team) if decided else None,
                "decided_at": requested + dt.timedelta(days=2) if decided else None,
                "decision_reason": "基准数据" if decided else "", "updated_at": requested,
                "contract_amount": int(budget * 0.95) if signed else None,
                "contract_signed_on": today - dt.timedelta(days=30) if signed else None,
                "contract_start": today - dt.timedelta(days=30) if signed else None,
                "contract_end": today + dt.timedelta(days=335) if signed else None,
            })
            for c in criteria:
                answers.append({"project": pid, "criterion": c.id, "text_zh": c.text_zh, "text_en": c.text_en,
                                "answer": rng.random() < 0.8, "note": ""})
            members.append({"project": pid, "user": owner, "role": "sales_rep", "added_at": requested})
            if status != "approved":
                continue
            colleagues = [u for u in team_members.get(team, []) if u != owner]
            pm = rng.choice(colleagues) if colleagues else None
            if pm:
                members.append({"project": pid, "user": pm, "role": "project_manager", "added_at": requested})
            engineer = rng.choice(service)
            if engineer and engineer not in (owner, pm):
                members.append({"project": pid, "user": engineer, "role": "engineer", "added_at": requested})
            owners = [x for x in (owner, pm) if x]
            due = today + dt.timedelta(days=rng.randint(-120, 0))
            previous = None
            for name in MILESTONES:
                mid = next_milestone
                next_milestone += 1
                start_on = due + dt.timedelta(days=1)
                due = start_on + dt.timedelta(days=rng.randint(10, 50))
                status_m = "done" if due < today - dt.timedelta(days=10) and rng.random() < 0.8 else (
                    "in_progress" if start_on <= today <= due else "planned")
                milestones.append({"id": mid, "project": pid, "name": name, "owner": rng.choice(owners),
                                   "start_on": start_on, "due_on": due, "status": status_m, "remind_days": 3,
                                   "done_at": now if status_m == "done" else None, "created_at": requested,
                                   "updated_at": requested})
                if previous:
                    deps.append({"milestone": mid, "depends_on": previous})
                previous = mid
            for kind in ("planned", "actual"):
                for category in rng.sample(pj.COST_CATEGORIES, 3):
                    costs.append({"project": pid, "category": category, "kind": kind,
                                  "amount": rng.randrange(1, 100) * 1000, "note": "", "created_by": owner,
                                  "created_at": requested})
        with db.atomic():
            for model, rows, key in ((pj.Project, projects, "projects"), (pj.ProjectAnswer, answers, "answers"),
                                     (pj.ProjectMember, members, "members"), (pj.Milestone, milestones, "milestones"),
                                     (pj.MilestoneDependency, deps, None), (pj.ProjectCost, costs, "costs")):
                for i in range(0, len(rows), 200):
                    model.insert_many(rows[i:i + 200]).execute()
                if key:
                    counts[key] += len(rows)
        print(f"  {counts}", flush=True)
    db.execute_sql("ANALYZE")
    print(f"done in {time.perf_counter() - started:.1f} s: {counts}")


if __name__ == "__main__":
    main()
