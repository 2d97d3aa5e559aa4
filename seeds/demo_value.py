"""Demo scenes for customer value (issue 15): the tiers of the demo's two years of orders and payments.

A first classification as it stood a quarter ago, then today's: the pyramid shows all five tiers and how
many rose or fell since. rep001 enters influence on a few files (with reasons), a customer of rep001 slips
(a large order signed three months ago is still unpaid, so its collection rate falls under 70 %) and drops
to problem with the reason on its timeline; two high-influence prospects become important opportunities.
Value rule v1 gives diamond and strategic customers their own service SLA, and the pool rules give them a
longer release period (45 days without a valid follow-up). Strategies per tier (senior visits, a dedicated
engineer, a collection plan for problem customers); rep001 has carried some out, others are overdue.

Buying factors (item 7): reps have ranked about two thirds of the trading customers, with evidence, so the
split across the base stands beside the article's 46 / 36 / 18 %; rep001's top customers are ranked
price-led, trusted supplier and innovation partner, and one of its deals has a ranking of its own.
Share of wallet (item 8): rep001 estimated the spend per product line of its top customers (dated, with a
source) and named competitors; on one of them the customer grows faster than we do, so our share falls and
it is on the managers' list, with a few customers of other reps.
"""
import datetime as dt
import time
from decimal import Decimal

from models import clock, db
from models import orders as om
from models import rules as pool_rules
from models import buying_factors as bf
from models import value as vm
from models import wallet as wm
from models.opportunities import Opportunity
from models.customers import Customer
from models.users import User

QUARTER_AGO = dt.timedelta(days=80)
STRATEGIES = [  # tier, 中文, English, every N days (None: once)
    ("diamond", "高层每季度拜访", "Senior visit each quarter", 90),
    ("diamond", "指定专属服务工程师", "Dedicated service engineer", None),
    ("diamond", "紧急需求 2 小时响应", "Two-hour response to urgent needs", None),
    ("strategic", "每半年业务回顾", "Business review every six months", 180),
    ("strategic", "年度联合规划会", "Joint annual planning", 365),
    ("potential", "每月拜访一次，挖掘增量需求", "Monthly visit to find new needs", 30),
    ("ordinary", "每季度电话回访", "Quarterly call", 90),
    ("problem", "制定回款计划并由主管跟进", "Collection plan followed by the manager", 30),
    ("important_opp", "高层引荐，建立决策链关系", "Executive introduction to the decision makers", None),
]


def _sla(response, resolution):
    return {p: [response * k, resolution * k] for p, k in zip(vm.SLA_PRIORITIES, (1, 2, 4, 8))}


def stage(say=None):
    say = say or (lambda msg: None)
    started = time.perf_counter()
    now = clock.now()
    admin = User.get(User.username == "admin")
    rep = User.get_or_none(User.username == "rep001")
    settings = vm.validate_settings({})
    settings["sla"] = {"diamond": _sla(0.5, 2), "strategic": _sla(1, 4)}
    with db.atomic():
        row = vm.save_rule(admin, settings, now, note="钻石、战略客户专属 SLA")
        vm.ValueRule.update(effective_from=now - QUARTER_AGO - dt.timedelta(days=1)).where(
            vm.ValueRule.id == row.id).execute()
        periods = pool_rules.in_force(now).s
        periods["tiers"] = {"diamond": {"release_no_followup_days": 45}, "strategic": {"release_no_followup_days": 45}}
        pool_rules.save_version(admin, periods, now, note="钻石、战略客户 45 天")
        for tier, zh, en, every in STRATEGIES:
            vm.save_strategy(admin, {"tier": tier, "title_zh": zh, "title_en": en, "every_days": every or ""})
    # As it stood a quarter ago (orders and payments up to that day), then today.
    vm.recompute_all(now - QUARTER_AGO)
    if rep is not None:
        _rep001_scenes(rep, now)
    result = vm.sweep(now)
    _buying_factors(rep, now)
    _wallet(rep, now)
    counts = dict(db.execute_sql("SELECT tier, COUNT(*) FROM customer_value GROUP BY tier").fetchall())
    wallet = wm.WalletLine.select()
    say(f"demo data: value tiers {counts}, {result.get('changes', 0)} moved since a quarter ago, "
        f"{bf.BuyingFactors.select().count()} buying-factor rankings, {wallet.count()} wallet lines "
        f"({wallet.where(wm.WalletLine.falling).count()} where our share falls), in {time.perf_counter() - started:.1f} s")


def _rep001_scenes(rep, now):
    today = clock.to_local(now).date()
    traders = list(Customer.select().join(vm.CustomerValue, on=(vm.CustomerValue.customer == Customer.id))
                   .where((Customer.owner == rep.id) & vm.CustomerValue.tier.in_(("diamond", "strategic", "potential")))
                   .order_by(vm.CustomerValue.sales_12m.desc()).limit(4))
    reasons = ["行业协会副会长单位，同行采购常以其为标杆", "集团下属五家工厂统一采购，决策影响面大",
               "区域龙头，年度展会上多次为我们做案例分享"]
    for customer, level, reason in zip(traders[1:], (5, 4, 4), reasons):
        vm.set_influence(rep, customer, level, reason)
    prospects = list(Customer.select().where((Customer.owner == rep.id) & Customer.stage.in_(("target", "intent")))
                     .order_by(Customer.id).limit(2))
    for customer, reason in zip(prospects, ("省服装协会会长单位，可带来同行转介绍", "上市公司，品牌影响力大")):
        vm.set_influence(rep, customer, 5, reason)
    if traders:
        _slip(rep, traders[0], today)
    for customer in traders[1:3]:  # carried out a week ago on two of them; the rest is due or overdue
        for item in vm.checklist(Customer.get_by_id(customer.id), now)[:1]:
            done = vm.mark_strategy_done(rep, Customer.get_by_id(customer.id), item[0].id, "王总带队拜访")
            vm.StrategyDone.update(done_at=now - dt.timedelta(days=7)).where(vm.StrategyDone.id == done.id).execute()


def _slip(rep, customer, today):
    """A large equipment order signed three months ago and still unpaid: the collection rate falls."""
    product = om.Product.get_or_none(om.Product.code == "EQ-CUT")
    if product is None:
        return
    row = vm.value_of(customer.id)
    quantity = max(1, int(float(row.due_12m or 0) // 380000) + 1)  # more than everything else due this year
    order = om.create_order(rep, customer, {"ordered_on": (today - dt.timedelta(days=95)).isoformat(),
                                            "product_0": str(product.id), "quantity_0": str(quantity),
                                            "note": "自动裁床扩产项目"})
    om.add_payment_due(rep, order, {"due_on": (today - dt.timedelta(days=65)).isoformat(),
                                    "amount": str(order.total)})
    om.sign_order(rep, order)  # reclassifies at once: problem, "collection rate … < 70 %"


FACTOR_EVIDENCE = {
    "relationship": ("合作多年，采购经理说换供应商要总经理签字", "去年交期紧张时我们保供，对方老板当面致谢",
                     "只从长期合格供应商名单里采购"),
    "price": ("每次下单前三家比价，最低价中标", "采购总监明确说预算压缩 10%，价格第一",
              "招标评分价格占 60 分"),
    "value": ("新品牌线要求面料研发共同开发", "技术总监主动约我们做新工艺交流", "愿意为功能性面料支付溢价"),
}
# First-ranked factor of the base, one in six left unranked: about 50 / 30 / 20 % of those ranked.
PATTERN = ("relationship", "price", "relationship", "value", "price", None, "relationship", "relationship", "value",
           "relationship", None, "price")


def _ranking(first, k):
    rest = [f for f in bf.FACTORS if f != first]
    if k % 2:
        rest.reverse()
    return {"first": first, "second": rest[0], "third": rest[1], "evidence": FACTOR_EVIDENCE[first][k % 3]}


def _buying_factors(rep, now, limit=600):
    """Rankings across the trading customers (their owners rank them), and rep001's own."""
    customers = list(Customer.select().where(Customer.value_tier.in_(vm.TIERS) & Customer.owner.is_null(False))
                     .order_by(Customer.id).limit(limit))
    owners = {u.id: u for u in User.select().where(User.id.in_({c.owner_id for c in customers}))}
    for k, customer in enumerate(customers):
        first = PATTERN[k % len(PATTERN)]
        if first and not (rep is not None and customer.owner_id == rep.id):
            bf.set_buying_factors(owners[customer.owner_id], customer, _ranking(first, k))
    if rep is None:
        return
    mine = [c for c in customers if c.owner_id == rep.id]
    for customer, first, evidence in zip(mine, ("price", "relationship", "value"), (
            "采购总监每季度压价，三家比价，最低价中标", "合作八年，对方说只要质量稳定不会换供应商",
            "新品牌线找我们共同开发功能性面料")):
        bf.set_buying_factors(rep, customer, {**_ranking(first, 0), "evidence": evidence})
    deal = (Opportunity.select().where((Opportunity.owner == rep.id) & Opportunity.is_open).order_by(Opportunity.id)
            .first())
    if deal is not None:
        bf.set_buying_factors(rep, deal.customer, {"first": "value", "second": "relationship", "third": "price",
                                                   "evidence": "这单是新产品线试产，对方看重打样速度和工艺"}, deal)


def _wallet(rep, now):
    """Spend and competitor estimates of the top customers: rep001's (one where our share falls), and a few of
    other reps for the managers' list."""
    today = clock.to_local(now).date()
    def biggest(cond, n):
        return list(Customer.select().join(vm.CustomerValue, on=(vm.CustomerValue.customer == Customer.id))
                    .where(Customer.value_tier.in_(wm.FOCUS_TIERS) & cond)
                    .order_by(vm.CustomerValue.sales_12m.desc()).limit(n))

    mine = biggest(Customer.owner == rep.id, 4) if rep is not None else []
    top = mine + [c for c in biggest(Customer.owner.is_null(False), 14) if c not in mine]
    owners = {u.id: u for u in User.select().where(User.id.in_({c.owner_id for c in top}))}
    for k, customer in enumerate(top[:16]):
        revenue = wm.our_revenue([customer.id], today)
        for n, ((_c, line), (ours, prev)) in enumerate(sorted(revenue.items())):
            if ours <= 0:
                continue
            ours_growth = float((ours - prev) / prev * 100) if prev else 0.0
            # the customer grows faster than we do (a competitor takes the growth): only where we sold a year ago
            falling = prev > 0 and (k + n) % 3 != 2
            growth = round(min(max(ours_growth, 0) + 18, 300), 1) if falling else round(max(min(ours_growth - 6, 60), -20), 1)
            share = (0.35, 0.5, 0.7)[(k + n) % 3]
            wm.set_spend_estimate(owners[customer.owner_id], customer, {
                "product_line": line, "spend": str(int(ours / Decimal(str(share)) // 1000 + 1) * 1000), "customer_growth": str(growth),
                "estimated_on": (today - dt.timedelta(days=12 + k)).isoformat(),
                "source": ("采购经理口述", "客户年报", "行业协会统计", "招标文件")[(k + n) % 4]})
            if falling:
                wm.set_competitor_estimate(owners[customer.owner_id], customer, {
                    "product_line": line, "competitor": ("华纺集团", "鲁泰纺织", "溢达面料")[k % 3],
                    "growth": str(round(growth + 15, 1)), "share": str(round((1 - share) * 60, 1)),
                    "estimated_on": (today - dt.timedelta(days=12 + k)).isoformat(), "source": "展会上听对方销售说"})
