"""Demo scenes for a rep's day (issue 16): three weeks of visit plans and daily reports for the reps of
manager01's team, so the calendar, the reports and the manager's page are not empty.

Each past working day a rep had two to four visits or calls planned on their own customers: most were
carried out (a follow-up that day, linked to the item), some closed with a reason, some rolled to the next
day. Each evening most reps filed a report, pre-filled from that day, with competitor news, customer
opinions, problems and tomorrow's plan; manager01 read most of them and commented on a few, one report was
edited after the reading (two versions), and yesterday's reports are not read yet; one rep missed
yesterday's report. Today and tomorrow: rep001 has visits planned (today's still to carry out).
"""
import datetime as dt
import random

from models import clock, db
from models import daily_reports as dr
from models import plans as pm
from models.customers import Contact, Customer, FollowUp
from models.users import Team, User

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
