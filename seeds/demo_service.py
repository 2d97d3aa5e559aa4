"""Demo scenes for service (domain §10): a service team (the `service` user leads it, agents
service01..service05), tickets in every status over the demo customers — a few dozen through the
verbs (some breaching their SLA and escalated by the sweep), twelve weeks of history in bulk for the
dashboard — care plans for key accounts, and a repurchase lead for rep001 raised from a ticket.
"""
import datetime as dt
from random import Random

from models import care, clock
from models import service as sv
from models.customers import MARKETING_STAGES, Customer
from models.users import Team, User

SEED = 20261124
AGENTS = 5
HISTORY_TICKETS = 3000
H = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)

PROBLEMS = {
    "fault": ["缝纫机主轴异响，产线停了一台", "裁床刀片磨损，切口毛边", "整烫设备温控失灵", "面料色差，整批需复检",
              "拉链批次卡齿，客户要求换货"],
    "complaint": ["送货比约定晚了三天", "发票抬头开错，财务退回", "上门服务人员迟到", "包装破损，部分衬衫受潮"],
    "consultation": ["咨询新款牛仔面料的起订量", "问保养周期和耗材价格", "想了解西装定制的交期", "咨询设备操作培训"],
    "request": ["申请寄送样品册", "要一份上季度对账单", "请求安排工程师上门调试", "需要更新产品说明书"],
}
RESOLUTIONS = ["工程师上门更换配件，已恢复生产", "补发货品并致歉，客户认可", "电话指导完成设置", "已寄出资料并确认收到",
               "重开发票，快递寄出"]


def _people(rng):
    """The service team: `service` is its manager, five agents under it (same demo password)."""
    boss = User.get(User.username == "service")
    team = Team.get_or_none(Team.name == "客服一组") or Team.create(name="客服一组", manager=boss.id)
    User.update(team=team.id).where(User.id == boss.id).execute()
    names = ["林晓雯", "赵一鸣", "孙佳怡", "周子豪", "吴婷婷"]
    agents = []
    for i in range(AGENTS):
        username = f"service{i + 1:02d}"
        user = User.get_or_none(User.username == username) or User.create(
            username=username, full_name=names[i], email=f"{username}@example.com", password_hash=boss.password_hash,
            role="service", team=team.id, created_at=boss.created_at)
        agents.append(user)
    return User.get_by_id(boss.id), agents


def _customers(limit):
    return list(Customer.select(Customer.id, Customer.name, Customer.business_model, Customer.grade, Customer.size,
                                Customer.owner)
                .where(Customer.stage.not_in(MARKETING_STAGES)).order_by(Customer.id).limit(limit))


def _history(rng, customers, agents, now):
    """Twelve weeks of closed and resolved tickets (bulk): compliance and satisfaction on the dashboard."""
    settings = sv.service_settings()
    cal = sv.WorkingCalendar(settings)
    rows = []
    for i in range(HISTORY_TICKETS):
        c = rng.choice(customers)
        category = rng.choices(sv.CATEGORIES, (4, 2, 3, 3))[0]
        priority = rng.choices(sv.PRIORITIES, (1, 3, 6, 2))[0]
        level = sv.service_level(c)
        created = now - dt.timedelta(minutes=rng.randint(12 * 60, 84 * 24 * 60))
        respond_by, resolve_by = sv.deadlines(level, priority, created, settings)
        responded = cal.add(created, rng.uniform(0.1, 1.4) * sv.sla_targets(level, priority, settings)[0])
        resolved = cal.add(created, rng.uniform(0.2, 1.25) * sv.sla_targets(level, priority, settings)[1])
        closed = resolved + dt.timedelta(hours=rng.randint(2, 60)) if rng.random() < 0.8 else None
        # What has not happened yet by now stays undone: such tickets are still open.
        if closed and closed > now:
            closed = None
        if resolved > now:
            resolved = None
        if responded > now:
            responded = None
        status = "closed" if closed else ("resolved" if resolved else ("in_progress" if responded else "assigned"))
        agent = rng.choice(agents)
        breach = ""
        if (responded or now) > respond_by:
            breach = "response"
        elif (resolved or now) > resolve_by:
            breach = "resolution"
        rows.append(dict(
            customer=c.id, channel=rng.choices(sv.CHANNELS, (6, 2, 1, 3))[0], category=category, priority=priority,
            level=level, status=status, description=rng.choice(PROBLEMS[category]),
            created_by=agent.id, assignee=agent.id, created_at=created,
            updated_at=max(x for x in (created, responded, resolved, closed) if x),
            respond_by=respond_by, resolve_by=resolve_by, responded_at=responded, resolved_at=resolved,
            closed_at=closed, breached=bool(breach), breach_kind=breach,
            breach_due={"response": respond_by, "resolution": resolve_by}.get(breach),
            resolution=rng.choice(RESOLUTIONS) if resolved else "",
            satisfaction=rng.choices((1, 2, 3, 4, 5), (1, 2, 6, 14, 17))[0] if resolved and rng.random() < 0.7 else None))
    for start in range(0, len(rows), 500):
        sv.Ticket.insert_many(rows[start:start + 500]).execute()


def _live(rng, boss, agents, customers, now):
    """Open and recent tickets through the verbs: every status, some breaching their SLA."""
    made = []

    def log(agent, c, category, priority, ago, contact=""):
        t = sv.log_ticket(agent, {"customer_id": str(c.id), "category": category, "priority": priority,
                                  "channel": rng.choice(sv.CHANNELS), "description": rng.choice(PROBLEMS[category]),
                                  "contact_text": contact}, now=now - ago)
        made.append(t)
        return t

    pick = iter(rng.sample(customers, 60))
    # new, nobody yet (two of them already late: escalated by the sweep below)
    for ago in (dt.timedelta(minutes=20), 2 * H, 3 * DAY, 5 * DAY):
        log(rng.choice(agents), next(pick), rng.choice(sv.CATEGORIES), rng.choice(("high", "normal")), ago, "王经理 138****2231")
    for i, agent in enumerate(agents):
        # assigned, not started
        t = log(boss, next(pick), "request", "normal", dt.timedelta(hours=1 + i))
        sv.assign_ticket(boss, t, agent.id, now=now - dt.timedelta(minutes=50))
        # in progress: one urgent, one already past its resolution deadline
        t = log(agent, next(pick), "fault", "urgent" if i % 2 else "high", dt.timedelta(hours=2 + i))
        sv.move_ticket(agent, t, "in_progress", "已联系客户，安排工程师", now=now - dt.timedelta(hours=1 + i))
        t = log(agent, next(pick), "complaint", "high", dt.timedelta(days=4 + i))
        sv.move_ticket(agent, t, "in_progress", "", now=now - dt.timedelta(days=4 + i) + H)
        # waiting for the customer
        t = log(agent, next(pick), "consultation", "low", dt.timedelta(days=1))
        sv.move_ticket(agent, t, "in_progress", "", now=now - dt.timedelta(hours=20))
        sv.move_ticket(agent, t, "waiting", "等客户提供设备编号和照片", now=now - dt.timedelta(hours=19))
        # resolved (rated), and closed
        t = log(agent, next(pick), "fault", "normal", dt.timedelta(days=2))
        sv.move_ticket(agent, t, "in_progress", "", now=now - dt.timedelta(days=2) + H)
        sv.move_ticket(agent, t, "resolved", rng.choice(RESOLUTIONS), now=now - DAY)
        sv.rate_ticket(agent, t, str(rng.choice((4, 5))))
        t = log(agent, next(pick), "request", "low", dt.timedelta(days=3))
        sv.move_ticket(agent, t, "in_progress", "", now=now - dt.timedelta(days=3) + H)
        sv.move_ticket(agent, t, "resolved", rng.choice(RESOLUTIONS), now=now - dt.timedelta(days=2))
        sv.move_ticket(agent, t, "closed", "", now=now - dt.timedelta(days=2))
        sv.comment_ticket(agent, t, "客户确认问题已解决，感谢及时处理", internal=False, now=now - dt.timedelta(days=2))
    # a closed ticket reopened by the customer's call
    t = log(agents[0], next(pick), "fault", "high", dt.timedelta(days=6))
    sv.move_ticket(agents[0], t, "in_progress", "", now=now - dt.timedelta(days=6) + H)
    sv.move_ticket(agents[0], t, "resolved", "更换传感器", now=now - dt.timedelta(days=5))
    sv.move_ticket(agents[0], t, "closed", "", now=now - dt.timedelta(days=5))
    sv.reopen_ticket(agents[0], t, "客户来电：同样的故障又出现了", now=now - DAY)
    return made


def _rep001_ticket_and_lead(boss, agents, now):
    rep = User.get(User.username == "rep001")
    customer = (Customer.select().where((Customer.owner == rep.id) & Customer.stage.in_(("signed", "long_term")))
                .order_by(Customer.id).first()) or Customer.select().where(Customer.owner == rep.id).order_by(Customer.id).first()
    agent = agents[0]
    t = sv.log_ticket(agent, {"customer_id": str(customer.id), "category": "consultation", "priority": "normal",
                              "channel": "hotline", "description": "客户咨询明年春季衬衫面料的新品和报价",
                              "contact_text": "采购部 陈经理"}, now=now - 3 * H)
    sv.move_ticket(agent, t, "in_progress", "", now=now - 2 * H)
    sv.move_ticket(agent, t, "resolved", "已发送新品目录，客户有意追加订单", now=now - H)
    sv.rate_ticket(agent, t, "5")
    sv.raise_repurchase_lead(agent, customer, "客户计划春季追加衬衫面料订单，请尽快报价", ticket=t, now=now - H)
    return customer


def _leads_that_became_orders(agents, now):
    """A few repurchase leads raised some weeks before an order that followed, so the dashboard's
    conversion (an order within the setting's days after the lead) has something to show."""
    from models.orders import Order

    today = clock.to_local(now).date()
    recent = (Order.select(Order.customer, Order.ordered_on)
              .where((Order.status == "signed") & (Order.ordered_on >= today - dt.timedelta(days=60))
                     & (Order.ordered_on < today - dt.timedelta(days=5)))
              .order_by(Order.ordered_on.desc(), Order.id).limit(40))
    seen = set()
    for order in recent:
        if order.customer_id in seen or len(seen) >= 4:
            continue
        customer = Customer.get_by_id(order.customer_id)
        if customer.owner_id is None:
            continue
        seen.add(customer.id)
        raised = dt.datetime.combine(order.ordered_on - dt.timedelta(days=12), dt.time(2, 0))
        agent = agents[len(seen) % len(agents)]
        t = sv.log_ticket(agent, {"customer_id": str(customer.id), "category": "consultation", "priority": "normal",
                                  "channel": "hotline", "description": "客户来电询问现有面料的库存和交期",
                                  "contact_text": "采购部"}, now=raised - 2 * H)
        sv.move_ticket(agent, t, "in_progress", "", now=raised - H)
        sv.move_ticket(agent, t, "resolved", "已答复交期，客户提到库存偏低", now=raised)
        sv.raise_repurchase_lead(agent, customer, "客户库存偏低，下月要补货，请跟进报价", ticket=t, now=raised)


def _care(rng, boss, agents, now):
    keys = list(Customer.select().where((Customer.business_model == "key_account") & Customer.owner.is_null(False))
                .order_by(Customer.id).limit(8))
    for i, customer in enumerate(keys):
        agent = agents[i % len(agents)]
        data = {"service_user_id": str(agent.id), "kind": "visit" if i % 2 == 0 else "call",
                "note": "大客户季度关怀：设备巡检、使用培训、收集意见"}
        if i % 3 == 2:
            today = clock.to_local(now).date()
            data["dates"] = "\n".join((today + dt.timedelta(days=d)).isoformat() for d in (2, 30, 90))
        else:
            data["every_days"] = str((30, 14)[i % 2])
            data["starts_on"] = (clock.to_local(now).date() + dt.timedelta(days=i)).isoformat()
        plan = care.create_care_plan(boss, customer, data, now=now)
        if i == 0:
            care.record_care(agent, plan, {"type": "visit", "content": "季度巡检完成，设备运行正常，客户提出培训需求",
                                           "lead_note": "客户考虑增购两台整烫设备"}, now=now)


def stage(progress=None):
    say = progress or (lambda msg: None)
    rng = Random(SEED)
    now = clock.now()
    say("demo data: service team, tickets, care plans")
    boss, agents = _people(rng)
    customers = _customers(4000)
    if not customers:
        return
    _history(rng, customers, agents, now)
    _live(rng, boss, agents, customers, now)
    _rep001_ticket_and_lead(boss, agents, now)
    _leads_that_became_orders(agents, now)
    _care(rng, boss, agents, now)
    result = sv.sweep(now)
    say(f"demo data: SLA sweep flagged {result['flagged']} and escalated {result['escalated']} tickets")
