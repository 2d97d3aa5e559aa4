"""Demo scenes for a rep's day (issue 16): a year of visit plans and daily reports for every rep, generated
set-based (`_year`), then three detailed weeks for the reps of manager01's team, staged row by row.

The year (`_year`, bulk inserts from the demo's own follow-ups, so plans, follow-ups and pre-fills agree): most
visits and calls a rep logged on a report day were planned (a plan item carried out, linked to its follow-up;
about one in ten only after rolling over from the day before); on some days a planned item was closed with
a reason or rolled over and then closed; every report day most reps filed a report pre-filled from that day
(`daily_reports.facts_of`, the pre-fill's own shape), about one in twelve is missing; the team manager read
most of them (the last two report days are not read yet), commented on some; many carry competitor news.

Each past working day a rep had two to four visits or calls planned on their own customers: most were
carried out (a follow-up that day, linked to the item), some closed with a reason, some rolled to the next
day. Each evening most reps filed a report, pre-filled from that day, with competitor news, customer
opinions, problems and tomorrow's plan; manager01 read most of them and commented on a few, one report was
edited after the reading (two versions), and yesterday's reports are not read yet; one rep missed
yesterday's report. Today and tomorrow: rep001 has visits planned (today's still to carry out).
"""
import datetime as dt
import random

import peewee as pw

from models import clock, db
from models import daily_reports as dr
from models import plans as pm
from models import sql as sql_engine
from models.base import JSONField
from models.customers import Contact, Customer, FollowUp
from models.users import Team, User
from seeds.demo import Random

WEEKS = 3
SEED = 16
OBJECTIVES = ["确认明年面料需求和采购时间表", "介绍新品并留样", "跟进报价，争取本月签单", "回访售后，了解使用情况",
              "催收上月货款", "拜访采购经理，建立决策链关系", "电话确认补货数量", "邀请参加春季订货会"]
DONE = ["上门拜访采购经理，确认了明年的面料需求和报价时间表，对方希望下周拿到样品",
        "电话沟通补货数量，客户确认下月初下单，数量与上次持平",
        "介绍了新品系列并留下样品，设计部反馈颜色偏深，需要再出一版",
        "售后回访，设备运行正常，客户对交期比较满意，提出包装需改进",
        "与财务沟通回款安排，承诺本周五前支付上月货款的一半"]
CLOSE_REASONS = ["客户临时出差，改下周再约", "对方采购经理休假", "客户暂停采购，本季度不再拜访"]
COMPETITORS = ["鸿运纺织", "锦华面料", "恒达服饰辅料", "新丝路纺织"]
NEWS = ["报价比我们低 5%，账期 60 天", "派了技术人员驻厂服务", "正在推一款环保面料", "在华东新开了仓库，交期缩短到 3 天"]
OPINIONS = ["客户认为我们交期稳定，但价格偏高", "设计部希望有更多新花型", "采购提到希望账期延长到 45 天", "对售后响应速度比较满意"]
PROBLEMS = ["需要技术支持一起拜访，客户有工艺问题", "大客户希望特价，需要主管审批", "样品寄送太慢，希望加急", ""]
TOMORROW = ["拜访两家老客户，跟进一家新意向客户", "整理报价单，电话回访三家客户", "参加区域例会，下午拜访客户", "催收货款，拜访新客户"]


def _workdays(today, weeks):
    day, out = today - dt.timedelta(days=weeks * 7), []
    while day < today:
        if day.weekday() < 5:
            out.append(day)
        day += dt.timedelta(days=1)
    return out


def _at(day, hour, minute=0):
    return clock.from_local(dt.datetime.combine(day, dt.time(hour, minute)))


def stage(say=None):
    say = say or (lambda msg: None)
    manager = User.get_or_none(User.username == "manager01")
    if manager is None or manager.team_id is None:
        return
    rng = random.Random(SEED)
    now, today = clock.now(), clock.today()
    _year(today, _workdays(today, WEEKS)[0], manager.team_id, say)
    reps = list(User.select().where((User.team == manager.team_id) & (User.role == "sales") & User.active)
                .order_by(User.username))
    days = _workdays(today, WEEKS)
    yesterday = days[-1] if days else None
    items = reports = 0
    with db.atomic():
        for rep in reps:
            customers = list(Customer.select(Customer.id).where(Customer.owner == rep.id).order_by(Customer.id))
            if not customers:
                continue
            contacts = {}
            for c in Contact.select(Contact.id, Contact.customer).where(
                    Contact.customer.in_([c.id for c in customers]) & Contact.active):
                contacts.setdefault(c.customer_id, c.id)
            rolled = []  # (customer id, objective, kind, item id) carried into the next working day
            for day in days:
                picks = rng.sample(customers, min(len(customers), rng.randint(2, 4)))
                specs = rolled + [(c.id, rng.choice(OBJECTIVES), rng.choice(pm.KINDS), None) for c in picks
                                  if c.id not in {r[0] for r in rolled}]
                rolled = []
                for n, (customer_id, objective, kind, rolled_from) in enumerate(specs):
                    fate = rng.random()
                    hour = 9 + 2 * n
                    item = pm.PlanItem.create(rep=rep.id, day=day, at=dt.time(hour, 30), kind=kind,
                                              customer=customer_id, contact=contacts.get(customer_id),
                                              objective=objective, created_by=rep.id,
                                              created_at=_at(day - dt.timedelta(days=1), 18),
                                              rolled_from=rolled_from, rolls=1 if rolled_from else 0)
                    items += 1
                    if fate < 0.75:
                        f = FollowUp.create(customer=customer_id, author=rep.id, type=kind, at=_at(day, hour, 40),
                                            contact=item.contact_id, content=rng.choice(DONE), created_at=_at(day, hour, 45),
                                            is_valid=True)
                        pm.PlanItem.update(status="done", followup=f.id, done_at=_at(day, hour, 45)).where(
                            pm.PlanItem.id == item.id).execute()
                    elif fate < 0.9 or day == yesterday or rolled_from:
                        pm.PlanItem.update(status="closed", close_reason=rng.choice(CLOSE_REASONS),
                                           closed_at=_at(day, 17)).where(pm.PlanItem.id == item.id).execute()
                    else:
                        pm.PlanItem.update(status="rolled", closed_at=_at(day, 23, 59)).where(
                            pm.PlanItem.id == item.id).execute()
                        rolled.append((customer_id, objective, kind, item.id))
                if rep.username != "rep001" and day == yesterday and rep == reps[-1]:
                    continue  # one rep missed yesterday's report: the manager's page flags it
                if rng.random() < 0.1 and day != yesterday:
                    continue
                report = dr.DailyReport.create(
                    rep=rep.id, day=day, facts=dr.prefill(rep.id, day), opinions=rng.choice(OPINIONS),
                    problems=rng.choice(PROBLEMS), tomorrow=rng.choice(TOMORROW), filed_at=_at(day, 18, 30),
                    updated_at=_at(day, 18, 30),
                    read_at=None if day == yesterday else _at(day + dt.timedelta(days=1), 9),
                    read_by=None if day == yesterday else manager.id)
                reports += 1
                if rng.random() < 0.6:
                    dr.CompetitorNews.create(report=report.id, competitor=rng.choice(COMPETITORS),
                                             customer=rng.choice(specs)[0], note=rng.choice(NEWS), day=day)
                if day != yesterday and rng.random() < 0.2:
                    dr.ReportComment.create(report=report.id, author=manager.id, body="收到，问题我来协调，明天晨会再聊。",
                                            at=_at(day + dt.timedelta(days=1), 9, 5))
            # today and tomorrow: still to carry out
            for k, customer in enumerate(customers[:3]):
                pm.PlanItem.create(rep=rep.id, day=today, at=dt.time(14 + k, 0), kind="visit", customer=customer.id,
                                   contact=contacts.get(customer.id), objective=OBJECTIVES[k], created_by=rep.id,
                                   created_at=now - dt.timedelta(days=1))
            pm.PlanItem.create(rep=rep.id, day=today + dt.timedelta(days=1), at=dt.time(10, 0), kind="call",
                               customer=customers[-1].id, objective=OBJECTIVES[6], created_by=rep.id, created_at=now)
            items += 4
        _edited_after_reading(reps, days)
    say(f"visit plans and daily reports: {items} plan items, {reports} reports for {len(reps)} reps of "
        f"{Team.get_by_id(manager.team_id).name}")


def _edited_after_reading(reps, days):
    """rep001's report of three working days ago: read by manager01, then edited (version 2, unread)."""
    rep = next((r for r in reps if r.username == "rep001"), None)
    if rep is None or len(days) < 3:
        return
    report = dr.report_of(rep.id, days[-3])
    if report is None or report.read_at is None:
        return
    dr.ReportVersion.create(report=report.id, version=1, saved_at=report.updated_at, read_at=report.read_at,
                            content={"opinions": report.opinions, "problems": report.problems,
                                     "tomorrow": report.tomorrow, "news": []})
    dr.DailyReport.update(version=2, read_at=None, read_by=None, opinions=report.opinions + "；补充：客户同意下周试单",
                          updated_at=report.updated_at + dt.timedelta(hours=15)).where(
        dr.DailyReport.id == report.id).execute()


# ---- a year for every rep, set-based ----------------------------------------------------------------------

YEAR_DAYS = 365
PLANNED_SHARE = 0.8   # of the visits and calls logged on a report day, those that were on the plan
LATE_SHARE = 0.1      # of those, carried out only after rolling over from the day before
MISSED_SHARE = 0.4    # report days with one more item that was not carried out (closed, or rolled then closed)
MISSING_SHARE = 0.08  # report days without a report
UNREAD_DAYS = 2       # the last report days the managers have not read yet
COMMENTS = ["收到，问题我来协调，明天晨会再聊。", "报价可以再让 2%，先把样品送过去。", "这个客户很重要，下周我陪你一起去。",
            "竞品动态很有价值，整理一下发到群里。", "回款要盯紧，月底前必须到账。"]


def _year(today, window, detailed_team, say):
    """Every active rep's plan items and reports of the report days from a year ago to yesterday (for
    `detailed_team`, to `window`, where the detailed weeks begin): rows built in memory, executemany'd."""
    import time

    from models.customer_tables import StageChange
    from models.orders import Order, Payment

    started = time.perf_counter()
    rng = Random(SEED + 1)
    offset = _at(today, 0) - dt.datetime.combine(today, dt.time())  # business time keeps no summer time

    def at_local(day, hour, minute=0):  # as _at, without a time zone lookup per row
        return dt.datetime(day.year, day.month, day.day, hour, minute) + offset

    now = clock.now()
    first = today - dt.timedelta(days=YEAR_DAYS)
    reps = list(User.select(User.id, User.team).where((User.role == "sales") & User.active & User.team.is_null(False))
                .order_by(User.id).tuples())
    if not reps:
        return
    managers = dict(Team.select(Team.id, Team.manager).tuples())
    last_of = {rep: (window if team == detailed_team else today) for rep, team in reps}
    team_of = dict(reps)
    days = sorted(dr.report_days(first, today - dt.timedelta(days=1)))
    unread_from = days[-UNREAD_DAYS] if len(days) >= UNREAD_DAYS else today
    start, end = dr.day_bounds(first)[0], dr.day_bounds(today)[0]

    def local_day(at):
        return (at - offset).date()

    by_day = {}  # (rep, day) -> the day's rows

    def bucket(rep, day):
        b = by_day.get((rep, day))
        if b is None:
            b = by_day[(rep, day)] = {"plan": [], "followups": [], "moves": [], "orders": [], "collected": 0}
        return b

    names = {}
    owned = {}
    for cid, name, owner in Customer.select(Customer.id, Customer.name, Customer.owner).tuples():
        names[cid] = name
        if owner in team_of:
            owned.setdefault(owner, []).append(cid)
    followups = (FollowUp.select(FollowUp.id, FollowUp.author, FollowUp.customer, FollowUp.at, FollowUp.contact,
                                 FollowUp.type, FollowUp.is_valid, pw.fn.SUBSTR(FollowUp.content, 1, 80))
                 .where(FollowUp.author.in_(list(team_of)) & (FollowUp.at >= start) & (FollowUp.at < end))
                 .order_by(FollowUp.at, FollowUp.id))
    for fid, rep, cid, at, contact, ftype, valid, content in db.execute(followups).fetchall():  # raw: 100k rows
        at = at if isinstance(at, dt.datetime) else dt.datetime.fromisoformat(at)
        day = local_day(at)
        if day < last_of[rep]:
            bucket(rep, day)["followups"].append((fid, cid, names.get(cid, ""), ftype, bool(valid), content or "", at,
                                                  contact))
    for cid, rep, old, new, at in (StageChange.select(StageChange.customer, StageChange.actor, StageChange.from_stage,
                                                      StageChange.to_stage, StageChange.at)
                                   .where(StageChange.actor.in_(list(team_of)) & (StageChange.at >= start)
                                          & (StageChange.at < end) & StageChange.from_stage.is_null(False))
                                   .order_by(StageChange.at).tuples()):
        if local_day(at) < last_of[rep]:
            bucket(rep, local_day(at))["moves"].append((cid, names.get(cid, ""), old, new))
    for oid, rep, cid, day, total in (Order.select(Order.id, Order.rep, Order.customer, Order.ordered_on, Order.total)
                                      .where(Order.rep.in_(list(team_of)) & (Order.status == "signed")
                                             & (Order.ordered_on >= first) & (Order.ordered_on < today)).tuples()):
        if day < last_of[rep]:
            bucket(rep, day)["orders"].append((oid, cid, names.get(cid, ""), total))
    for rep, day, amount in (Payment.select(Order.rep, Payment.received_on, pw.fn.SUM(Payment.amount))
                             .join(Order, on=(Payment.order == Order.id))
                             .where(Order.rep.in_(list(team_of)) & (Payment.received_on >= first)
                                    & (Payment.received_on < today))
                             .group_by(Order.rep, Payment.received_on).tuples()):
        if day < last_of[rep]:
            bucket(rep, day)["collected"] = amount

    item_id = (pm.PlanItem.select(pw.fn.MAX(pm.PlanItem.id)).scalar() or 0)
    report_id = (dr.DailyReport.select(pw.fn.MAX(dr.DailyReport.id)).scalar() or 0)
    items, reports, news, comments = [], [], [], []

    def item(rep, day, at, kind, cid, contact, status, valid=None, **extra):
        """One plan item's row, listed on its day's pre-fill."""
        nonlocal item_id
        item_id += 1
        row = dict(id=item_id, rep=rep, day=day, at=at, kind=kind, customer=cid, contact=contact,
                   objective=rng.choice(OBJECTIVES), source="", status=status, followup=None, done_at=None,
                   close_reason="", closed_at=None, rolled_from=None, rolls=0, created_by=rep,
                   created_at=at_local(day - dt.timedelta(days=1), 18))
        row.update(extra)
        items.append(row)
        bucket(rep, day)["plan"].append(dr.plan_fact(
            row["id"], cid, names.get(cid, ""), kind, at, row["objective"], status, valid, row["close_reason"],
            row["followup"]))
        return row

    for rep, _team in reps:  # the plan items, day by day (an item rolled over continues on the next report day)
        mine = owned.get(rep) or []
        mydays = [d for d in days if d < last_of[rep]]
        for n, day in enumerate(mydays):
            previous = mydays[n - 1] if n else None
            for fid, cid, _name, ftype, valid, _content, at, contact in list(bucket(rep, day)["followups"]):
                if ftype not in pm.KINDS or rng.random() > PLANNED_SHARE:
                    continue
                local = at - offset
                when = dt.time(local.hour, 0 if local.minute < 30 else 30)
                extra = dict(followup=fid, done_at=at + dt.timedelta(minutes=5))
                if previous and rng.random() < LATE_SHARE:
                    first_try = item(rep, previous, when, ftype, cid, contact, "rolled",
                                     closed_at=at_local(previous, 23, 59))
                    extra.update(rolled_from=first_try["id"], rolls=1, objective=first_try["objective"],
                                 created_at=first_try["closed_at"])
                item(rep, day, when, ftype, cid, contact, "done", valid, **extra)
            if not mine or rng.random() >= MISSED_SHARE:
                continue
            cid, kind = rng.choice(mine), rng.choice(pm.KINDS)
            later = mydays[n + 1] if n + 1 < len(mydays) else None
            if later is None or rng.random() < 0.5:
                item(rep, day, dt.time(rng.choice((10, 14, 16)), 0), kind, cid, None, "closed",
                     close_reason=rng.choice(CLOSE_REASONS), closed_at=at_local(day, 17, 30))
            else:
                row = item(rep, day, dt.time(16, 30), kind, cid, None, "rolled", closed_at=at_local(day, 23, 59))
                item(rep, later, dt.time(9, 30), kind, cid, None, "closed", close_reason=rng.choice(CLOSE_REASONS),
                     closed_at=at_local(later, 17, 30), rolled_from=row["id"], rolls=1, objective=row["objective"],
                     created_at=row["closed_at"])

    for rep, team in reps:  # the reports, pre-filled from each day's rows
        manager = managers.get(team)
        for day in days:
            if day >= last_of[rep]:
                break
            if rng.random() < MISSING_SHARE:
                continue
            b = bucket(rep, day)
            report_id += 1
            filed = at_local(day, rng.choice((17, 18, 19, 20)), rng.randrange(60))
            read = bool(manager) and day < unread_from and rng.random() < 0.9
            read_at = (at_local(day + dt.timedelta(days=1), 8, 30) + dt.timedelta(minutes=rng.randrange(240))
                       if read else None)
            plan = sorted(b["plan"], key=lambda p: (p["at"], p["id"]))
            facts = dr.facts_of(plan, [f[:6] for f in b["followups"]], b["moves"], b["orders"], b["collected"])
            reports.append(dict(id=report_id, rep=rep, day=day, facts=facts, opinions=rng.choice(OPINIONS),
                                problems=rng.choice(PROBLEMS), tomorrow=rng.choice(TOMORROW), version=1,
                                filed_at=filed, updated_at=filed, read_at=read_at, read_by=manager if read else None))
            if rng.random() < 0.35:
                about = [f[1] for f in b["followups"]] or [None]
                news.append(dict(report=report_id, competitor=rng.choice(COMPETITORS), customer=rng.choice(about),
                                 note=rng.choice(NEWS), day=day))
            if read and rng.random() < 0.15:
                comments.append(dict(report=report_id, author=manager, body=rng.choice(COMMENTS),
                                     at=min(read_at + dt.timedelta(minutes=3), now)))
    items.sort(key=lambda r: r["id"])
    for model, rows in ((pm.PlanItem, items), (dr.DailyReport, reports), (dr.CompetitorNews, news),
                        (dr.ReportComment, comments)):
        _bulk(model, rows)
    say(f"visit plans and daily reports, a year for {len(reps)} reps: {len(items):,} plan items, {len(reports):,} "
        f"reports, {len(news):,} competitor news, {len(comments):,} comments in {time.perf_counter() - started:.1f} s")


def _bulk(model, rows):
    """executemany the rows (dicts with the same keys) as they are: dates and times as ISO text, JSON dumped,
    no per-value field conversion (a year of plans and reports is a few hundred thousand values)."""
    if not rows:
        return
    fields = [model._meta.fields[name] for name in rows[0]]
    json_fields = {i for i, f in enumerate(fields) if isinstance(f, JSONField)}
    times = {i for i, f in enumerate(fields) if isinstance(f, pw.TimeField)}
    sql = 'INSERT INTO "{}" ({}) VALUES ({})'.format(model._meta.table_name,
                                                     ", ".join(f'"{f.column_name}"' for f in fields),
                                                     ", ".join(db.param for _ in fields))
    names = list(rows[0])
    out = []
    for r in rows:
        values = [r[n] for n in names]
        for i in json_fields:
            values[i] = fields[i].db_value(values[i])
        for i in times:
            values[i] = values[i].strftime("%H:%M:%S") if values[i] is not None else None
        out.append(values)
    for chunk in range(0, len(out), 20000):
        db.cursor().executemany(sql, out[chunk:chunk + 20000])
    sql_engine.sync_sequence(model)
