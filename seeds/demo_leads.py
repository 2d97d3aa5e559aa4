"""Demo scenes for the marketing to sales hand-off (issue 14): five campaigns over the last half year, the
company website as a web-form source (token `demo-website-token`), months of leads in every state for
marketing's customers (judged junk, nurtured, accepted on time or late, sent back) in bulk with their
routings and ledger rows, and live leads through the verbs: a queue to judge, leads waiting for a rep,
one sent back with its reason, two past their deadline that the sweep escalates to the managers.
"""
import datetime as dt
from decimal import Decimal
from random import Random

from models import clock, leads
from models.customers import Customer
from models.errors import DomainError
from models.lead_tables import Campaign, Lead, LeadRouting, LeadSource
from models.ledger import PoolEvent
from models.service import WorkingCalendar
from models.users import Region, User

SEED = 20261206
DEMO_TOKEN = "demo-website-token"
DAY = dt.timedelta(days=1)
CAMPAIGNS = [  # name, channel, source, starts (days ago), days, budget, cost
    ("2026秋季服装面料展", "exhibition", "event", 75, 3, 120000, 98000),
    ("官网春夏推广", "website", "website", 170, 60, 30000, 28500),
    ("《纺织服装周刊》广告", "media", "media", 120, 90, 50000, 50000),
    ("老客户推荐计划", "referral", "referral", 200, 180, 20000, 12000),
    ("冬季短信营销", "sms", "media", 20, 30, 8000, 3500),
]
JUNK = ["空号，联系不上", "同行打听价格", "个人买家，不是企业客户", "重复留言", "学生做调研"]
NURTURE = ["明年预算", "展会回访", "样品跟进"]
SENT_BACK = ["只是比价，明年三月才有预算", "采购刚换人，还没有需求", "规模太小，先由市场培育", "只要样品，没有采购计划"]
LATE_REPS = ("rep004", "rep017", "rep032")  # the reps who answer late in the demo
LIVE = ["温州雅致西服有限公司", "嘉兴锦程纺织有限公司", "青岛海韵服饰有限公司", "长沙湘绣制衣有限公司",
        "厦门鹭岛牛仔有限公司", "成都蓉城衬衫有限公司", "无锡太湖面料有限公司", "佛山南海制衣有限公司",
        "泉州晋江鞋服有限公司", "绍兴柯桥布业有限公司", "东莞虎门服装有限公司", "宁波甬江针织有限公司"]


ROW_DEFAULTS = {  # every column a bulk row may leave out (insert_many writes the same columns for all)
    "channel": "", "campaign": None, "note": "", "status": "new", "new_customer": True, "judged_at": None,
    "junk_reason": "", "nurture_list": "", "qualified_at": None, "routed_to": None, "team": None, "routed_at": None,
    "made_owner": False, "due_at": None, "accepted_at": None, "sent_back_at": None, "sent_back_reason": "",
    "escalated_at": None, "next_touch_on": None,
}


def _campaigns(marketing, now):
    today = clock.to_local(now).date()
    out = []
    for name, channel, source, ago, days, budget, cost in CAMPAIGNS:
        start = today - dt.timedelta(days=ago)
        row = Campaign.get_or_none(Campaign.name == name) or Campaign.create(
            name=name, channel=channel, source=source, starts_on=start, ends_on=start + dt.timedelta(days=days),
            budget=Decimal(budget), cost=Decimal(cost), created_by=marketing.id, created_at=now - ago * DAY)
        out.append(row)
    return out


def _web_source(marketing, campaigns, now):
    if not LeadSource.select().where(LeadSource.name == "公司官网").exists():
        LeadSource.create(name="公司官网", token_hash=leads._token_hash(DEMO_TOKEN), token_hint=DEMO_TOKEN[-4:],
                          source="website", channel="", campaign=campaigns[1].id, owner=marketing.id, per_hour=60,
                          created_at=now)


def _campaign_for(campaigns, source, day, rng):
    fits = [c for c in campaigns if c.source == source and c.starts_on <= day <= c.ends_on + dt.timedelta(days=14)]
    return fits[0] if fits and rng.random() < 0.8 else None


def _history(rng, marketing, campaigns, now, limit=6000):
    """Bulk: one lead for each of marketing's customers of the last eight months, in the state its customer is in."""
    cal = WorkingCalendar()
    since = now - 240 * DAY
    late_ids = {u.id for u in User.select(User.id).where(User.username.in_(LATE_REPS))}
    customers = list(Customer.select(Customer.id, Customer.stage, Customer.owner, Customer.team, Customer.source,
                                      Customer.created_at, Customer.released_from)
                     .where((Customer.created_by == marketing.id) & (Customer.created_at >= since)
                            & Customer.id.not_in(Lead.select(Lead.customer)))
                     .order_by(Customer.id).limit(limit))
    teams = {u.id: u.team_id for u in User.select(User.id, User.team)}
    reps = [u.id for u in User.holding("sales", fields=(User.id,)).order_by(User.id)]
    rows, plans, campaign_of = [], {}, {}
    for c in customers:
        day = clock.to_local(c.created_at).date()
        source = c.source if c.source in ("media", "website", "event", "referral", "inbound_call") else "website"
        camp = _campaign_for(campaigns, source, day, rng)
        if camp:
            campaign_of.setdefault(camp.id, []).append(c.id)
        row = {**ROW_DEFAULTS, "customer": c.id, "source": source, "campaign": camp.id if camp else None,
               "created_at": c.created_at, "created_by": marketing.id}
        rep = c.owner_id or c.released_from
        if c.stage == "unidentified":
            if c.created_at < now - 10 * DAY and rng.random() < 0.6:
                row.update(status="junk", junk_reason=rng.choice(JUNK), judged_at=c.created_at + DAY)
        elif c.stage == "prospect":
            if rng.random() < 0.12 and rep is None and reps:
                rep = rng.choice(reps)
                row.update(status="sent_back", sent_back_reason=rng.choice(SENT_BACK), qualified_at=c.created_at + DAY)
            else:
                judged = c.created_at + DAY  # due for a touch a month on (the oldest ones are overdue)
                row.update(status="prospect", nurture_list=rng.choice(NURTURE), judged_at=judged,
                           next_touch_on=clock.to_local(judged).date() + dt.timedelta(days=leads.NURTURE_DAYS))
        elif rep:
            row.update(status="accepted", qualified_at=c.created_at + 2 * dt.timedelta(hours=1))
        else:
            continue
        if row["status"] in ("accepted", "sent_back") and rep:
            routed = row["qualified_at"]
            hours = rng.uniform(26, 60) if rep in late_ids and rng.random() < 0.7 else rng.uniform(0.5, 20)
            if rng.random() < 0.05:
                hours = rng.uniform(25, 40)
            answered = cal.add(routed, hours)
            due = cal.add(routed, 24)
            if answered > now:
                continue
            row.update(routed_to=rep, team=teams.get(rep), routed_at=routed, due_at=due, made_owner=row["status"] == "accepted",
                       accepted_at=answered if row["status"] == "accepted" else None,
                       sent_back_at=answered if row["status"] == "sent_back" else None,
                       escalated_at=due if answered >= due else None)
            plans[c.id] = (rep, teams.get(rep), routed, due, answered, hours, row["status"])
        rows.append(row)
    for start in range(0, len(rows), 500):
        Lead.insert_many(rows[start:start + 500]).execute()
    for camp_id, ids in campaign_of.items():
        for start in range(0, len(ids), 500):
            Customer.update(campaign_id=camp_id).where(Customer.id.in_(ids[start:start + 500])).execute()
    lead_of = {cid: lid for lid, cid in Lead.select(Lead.id, Lead.customer).where(
        Lead.customer.in_(list(plans))).tuples()} if plans else {}
    routings, events = [], []
    for cid, (rep, team, routed, due, answered, hours, status) in plans.items():
        late = answered >= due
        routings.append({"lead": lead_of[cid], "at": routed, "actor": marketing.id, "to_user": rep, "team": team,
                         "rule": rng.choice(("region", "region", "industry", "round_robin")), "rule_version": 0,
                         "skipped": [], "reason": "", "due_at": due, "responded_at": answered,
                         "response": "accepted" if status == "accepted" else "sent_back", "minutes": round(hours * 60),
                         "late": late, "escalated_at": due if late else None})
        events.append({"at": routed, "kind": "lead_routed", "actor": marketing.id, "customer": cid, "to_owner": rep,
                       "rule_version": 0, "reason": "",
                       "inputs": {"rule": "region", "demo": True, **({"new_owner": True} if status == "accepted" else {})}})
    for start in range(0, len(routings), 500):
        LeadRouting.insert_many(routings[start:start + 500]).execute()
        PoolEvent.insert_many(events[start:start + 500]).execute()
    Lead.update(routing_id=LeadRouting.select(LeadRouting.id).where(LeadRouting.lead == Lead.id).limit(1)).where(
        Lead.routing_id.is_null() & Lead.routed_to.is_null(False)).execute()
    return len(rows)


def _live(rng, marketing, campaigns, now):
    """Through the verbs: a queue, waiting leads, one accepted, one sent back, two escalated, a web post."""
    region = Region.select().order_by(Region.id).first()
    made = []
    for i, name in enumerate(LIVE):
        if Customer.select().where(Customer.name == name).exists():
            continue
        at = now - (6 * DAY + dt.timedelta(hours=i) if i < 2 else dt.timedelta(hours=3 + 9 * i))
        lead = leads.intake_lead(marketing, {
            "name": name, "source": ("event", "website", "referral", "media")[i % 4], "region_id": str(region.id),
            "contact_name": "联系人" + name[:2], "contact_mobile": f"139{rng.randrange(10 ** 7, 10 ** 8)}",
            "note": "想了解秋冬面料和定制交期", "duplicate_reason": "demo",
            "campaign_id": str(campaigns[4].id) if i % 3 == 0 else ""}, now=at)
        made.append((lead, at))
    if len(made) < 7:
        return

    def attempt(verb, *args, **kw):
        try:  # a demo whose reps are all full: the lead stays where it is, which the demo shows too
            return verb(*args, **kw)
        except DomainError:
            return None

    for k, (lead, at) in enumerate(made[:4]):  # two judged days ago (their reps never answered), two an hour ago
        attempt(leads.judge_lead, marketing, lead, "qualified", now=at + dt.timedelta(hours=1))
    back, taken = (Lead.get_by_id(lead.id) for lead, _ in made[2:4])
    if back.status == "routed":
        attempt(leads.send_back, User.get_by_id(back.routed_to_id), back, SENT_BACK[0], now=now)
    if taken.status == "routed":
        attempt(leads.accept_lead, User.get_by_id(taken.routed_to_id), taken, now=now)
    rep = User.get_or_none(User.username == "rep001")
    if rep is not None:
        attempt(leads.route_lead, marketing, made[4][0], now=now, to_user=rep, reason="客户点名要这位销售")
    attempt(leads.judge_lead, marketing, made[5][0], "junk", reason=JUNK[1], now=now)
    attempt(leads.judge_lead, marketing, made[6][0], "prospect", nurture_list=NURTURE[0], now=now)
    leads.web_intake(DEMO_TOKEN, {"name": "杭州西溪制衣有限公司", "contact_name": "钱经理",
                                  "contact_mobile": "13912345678", "note": "官网留言：想订300套工装"}, "127.0.0.1", now=now)


def stage(progress=None):
    say = progress or (lambda msg: None)
    rng = Random(SEED)
    now = clock.now()
    marketing = User.get_or_none(User.username == "marketing")
    if marketing is None:
        return
    say("demo data: campaigns, leads, routing and response times")
    campaigns = _campaigns(marketing, now)
    _web_source(marketing, campaigns, now)
    n = _history(rng, marketing, campaigns, now)
    _live(rng, marketing, campaigns, now)
    result = leads.sweep(now)
    say(f"demo data: {n:,} leads of the past months; the lead sweep escalated {result['escalated']}")
