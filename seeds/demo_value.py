"""Demo scenes for customer value (issue 15): the tiers of the demo's two years of orders and payments.

A first classification as it stood a quarter ago, then today's: the pyramid shows all five tiers and how
many rose or fell since. rep001 enters influence on a few files (with reasons), a customer of rep001 slips
(a large order signed three months ago is still unpaid, so its collection rate falls under 70 %) and drops
to problem with the reason on its timeline; two high-influence prospects become important opportunities.
Value rule v1 gives diamond and strategic customers their own service SLA, and the pool rules give them a
longer release period (45 days without a valid follow-up). Strategies per tier (senior visits, a dedicated
engineer, a collection plan for problem customers); rep001 has carried some out, others are overdue.
"""
import datetime as dt
import time

from models import clock, db
from models import orders as om
from models import rules as pool_rules
from models import value as vm
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
    counts = dict(db.execute_sql("SELECT tier, COUNT(*) FROM customer_value GROUP BY tier").fetchall())
    say(f"demo data: value tiers {counts}, {result.get('changes', 0)} moved since a quarter ago, "
        f"in {time.perf_counter() - started:.1f} s")


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
