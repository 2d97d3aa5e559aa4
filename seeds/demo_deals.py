"""Demo deals: opportunities over the reps (bulk, deterministic), the source article's example on a
project customer of rep001 through the verbs (with its history on the timeline), and decision-maker
trees on project customers (some with warnings, some without).

The article (002): projects A (100万) and B (30万) both at 80 %; at the demo A's customer is unhappy and
talks to competitors (20 % → 20万) while B's demo goes well (90 % → 27万), so resources move to B.
"""
import datetime as dt
from decimal import Decimal
from random import Random

from models import clock
from models import sql as sql_engine
from models import decision_tree as tree
from models import opportunities as opps
from models.customers import Contact, Customer, log_follow_up
from models.opportunities import OPEN_STAGES, Opportunity, OpportunityStageChange
from models.users import User

SEED = 6
DAY = dt.timedelta(days=1)
SHARE = 0.3  # of the owned customers get opportunities
NAMES = ("年度团购项目", "员工制服采购", "门店陈列升级", "秋冬新品订货", "校服招标", "工装定制", "电商专供款", "OEM 代工",
         "春夏面料集采", "酒店制服更新", "银行行服项目", "物流工装二期")
PRODUCTS = ("精纺羊毛西装面料", "商务衬衫", "职业套装", "校服", "工作服", "针织T恤", "羽绒服", "弹力牛仔面料")
COMPETITORS = ("", "", "雅戈尔", "报喜鸟", "海澜之家", "本地小厂")
NEXT_STEPS = ("提交正式报价单", "安排客户参观工厂", "寄送面料样卡", "约高层做方案演示", "跟进合同审批")
OPEN_WEIGHTS = (26, 20, 17, 15, 12, 10)
VALID_VISIT = "上门拜访{name}，演示了面料样品，确认了明年的采购预算、时间表和决策流程"


def stage(progress=None):
    say = progress or (lambda msg: None)
    rng = Random(SEED)
    say("demo data: opportunities")
    bulk_opportunities(rng)
    article_example()
    say("demo data: decision-maker trees")
    decision_trees(rng)


def bulk_opportunities(rng):
    """2–3 opportunities on about a third of the owned customers, inserted in bulk with their stage changes."""
    now = clock.now()
    today = clock.today()
    owned = list(Customer.select(Customer.id, Customer.owner, Customer.team, Customer.business_model)
                 .where(Customer.owner.is_null(False)).order_by(Customer.id).tuples())
    settings = opps.all_stage_settings()
    opp_rows, plans = [], []
    next_id = (Opportunity.select(Opportunity.id).order_by(Opportunity.id.desc()).scalar() or 0) + 1
    for cid, owner, team, model in owned:
        if rng.random() >= SHARE:
            continue
        for _ in range(rng.choice((2, 2, 3))):
            amount = Decimal(rng.choice((3, 5, 8, 10, 15, 20, 30, 50, 80, 120))) * 10000
            roll = rng.random()
            if roll < 0.1:
                stage_ = "won"
            elif roll < 0.18:
                stage_ = "lost"
            else:
                stage_ = rng.choices(OPEN_STAGES, OPEN_WEIGHTS)[0]
            probability = settings.get(model, settings["consumer"])[stage_][0] if stage_ in OPEN_STAGES else \
                opps.DEFAULT_PROBABILITY[stage_]
            reason = ""
            if stage_ in OPEN_STAGES and rng.random() < 0.08:
                probability = max(5, min(95, probability + rng.choice((-20, -10, 10, 15))))
                reason = rng.choice(("客户高层已认可方案", "预算被削减，赢率下调", "竞争对手报价更低"))
            created = now - dt.timedelta(days=rng.randint(20, 200), hours=rng.randint(0, 23))
            path = list(OPEN_STAGES[:OPEN_STAGES.index(stage_) + 1]) if stage_ in OPEN_STAGES else \
                list(OPEN_STAGES[:rng.randint(2, len(OPEN_STAGES))]) + [stage_]
            path = path[-rng.randint(1, min(3, len(path))):]
            times = [created]
            for _step in path[1:]:
                times.append(min(now - DAY, times[-1] + dt.timedelta(days=rng.randint(3, 25), hours=rng.randint(0, 12))))
            closed = stage_ not in OPEN_STAGES
            close = (times[-1].date() if closed else today + dt.timedelta(days=rng.randint(-15, 200)))
            opp_rows.append(dict(
                id=next_id, customer=cid, owner=owner, team=team, name=rng.choice(NAMES), amount=amount,
                probability=probability, weighted=opps.weighted_value(amount, probability), probability_reason=reason,
                stage=stage_, expected_close=close, product_lines=rng.choice(PRODUCTS),
                next_step="" if closed else rng.choice(NEXT_STEPS), competitors=rng.choice(COMPETITORS),
                lost_reason="客户选择了报价更低的供应商" if stage_ == "lost" else "", created_at=created,
                created_by=owner, updated_at=times[-1], stage_changed_at=times[-1],
                closed_at=times[-1] if closed else None, is_open=not closed))
            plans.append((next_id, owner, team, path, times, amount, model))
            next_id += 1
    change_rows = []
    for oid, owner, team, path, times, amount, model in plans:
        for i, (st, at) in enumerate(zip(path, times)):
            change_rows.append(dict(
                opportunity=oid, from_stage=path[i - 1] if i else None, to_stage=st, at=at, actor=owner, owner=owner,
                team=team, probability=settings.get(model, settings["consumer"])[st][0] if st in OPEN_STAGES
                else opps.DEFAULT_PROBABILITY[st], amount=amount,
                dwell_seconds=int((at - times[i - 1]).total_seconds()) if i else None))
    for start in range(0, len(opp_rows), 500):
        Opportunity.insert_many(opp_rows[start:start + 500]).execute()
    for start in range(0, len(change_rows), 500):
        OpportunityStageChange.insert_many(change_rows[start:start + 500]).execute()
    sql_engine.sync_sequence(Opportunity)  # the rows came with their ids (PostgreSQL's sequence follows)
    opps.rebuild_summaries()


def article_example():
    """Projects A and B on a project customer of rep001, through the verbs, with their history."""
    rep = User.get(User.username == "rep001")
    # A project customer still being won (not signed): its timeline is about this deal, not about orders.
    mine = Customer.select().where(Customer.owner == rep.id).order_by(Customer.id)
    customer = (mine.where((Customer.business_model == "project") & Customer.stage.in_(("target", "intent"))).first()
                or mine.where(Customer.business_model == "project").first() or mine.first())
    previous = clock._frozen
    now = clock.now()
    try:
        clock.freeze(now - 30 * DAY)
        close = (clock.today() + 75 * DAY).isoformat()
        reason = "客户高层已确认预算，方案方向认可"
        a = opps.create_opportunity(rep, customer, {
            "name": "A 项目：集团员工制服整体采购", "amount": "100万", "expected_close": close, "stage": "presentation",
            "probability": "80", "probability_reason": reason, "product_lines": "职业套装、商务衬衫",
            "competitors": "国外品牌系统供应商", "next_step": "方案演示"})
        b = opps.create_opportunity(rep, customer, {
            "name": "B 项目：门店导购服定制", "amount": "30万", "expected_close": close, "stage": "presentation",
            "probability": "80", "probability_reason": reason, "product_lines": "针织T恤、工装",
            "next_step": "方案演示"})
        clock.freeze(now - 7 * DAY)
        opps.set_probability(rep, a, "20", "方案演示失败：客户对方案很不满意，已在接触其他竞争对手")
        opps.set_probability(rep, b, "90", "方案演示很成功，客户要求尽快出最终方案")
        Opportunity.update(next_step="约客户高层挽回，重新梳理需求").where(Opportunity.id == a.id).execute()
        Opportunity.update(next_step="加派顾问，准备处理异议和最终方案").where(Opportunity.id == b.id).execute()
    finally:
        clock.freeze(previous)
    return a, b


PEOPLE = (  # name, title, role, influence, attitude, relationship, reports to (index)
    ("总经理", "decision_maker", "high", "supporter", 3, None),
    ("副总经理", "influencer", "high", "neutral", 2, 0),
    ("采购经理", "buyer", "medium", "supporter", 4, 1),
    ("行政主管", "user", "low", "neutral", 3, 1),
    ("财务总监", "influencer", "medium", "neutral", 1, 0),
    ("门店督导", "consumer", "low", "supporter", 2, 3),
)
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"


def decision_trees(rng):
    """Six-person trees on two project customers each of rep001..rep005: one in three has its decision maker
    reached by a valid visit (no warning), one in three has a high-influence opponent."""
    reps = list(User.select().where(User.username.in_([f"rep{i:03d}" for i in range(1, 6)])).order_by(User.username))
    done = 0
    calm = clock.now() + 7 * DAY  # leave the pool scenes' customers about to be released alone (a visit resets the clock)
    for rep in reps:
        customers = list(Customer.select().where((Customer.owner == rep.id) & (Customer.business_model == "project")
                                                 & (Customer.release_at.is_null() | (Customer.release_at > calm)))
                         .order_by(Customer.id).limit(2))
        for customer in customers:
            made = []
            for i, (title, role, influence, attitude, strength, boss) in enumerate(PEOPLE):
                name = f"{SURNAMES[(customer.id + i * 7) % len(SURNAMES)]}{rng.choice('伟芳敏静强磊军洋勇杰涛明超华')}"
                if done % 3 == 1 and i == 1:
                    attitude = "opponent"  # the vice president favours a competitor
                made.append(tree.save_node(rep, customer, {
                    "name": name, "title": title, "decision_role": role, "influence": influence,
                    "attitude": attitude, "relationship": str(strength),
                    "reports_to_id": str(made[boss].id) if boss is not None else ""}))
            for contact in Contact.select().where((Contact.customer == customer) & Contact.id.not_in([m.id for m in made])):
                # the people already on file: a decision maker under the general manager, the rest under the buyer
                tree.move_node(rep, customer, contact, made[0 if contact.decision_role == "decision_maker" else 2].id)
            if done % 3 == 0:
                log_follow_up(rep, customer, {"type": "visit", "contact_id": str(made[0].id),
                                              "content": VALID_VISIT.format(name=made[0].name)})
            done += 1
