"""Demo scenes for calendar-aware clocks and release by orders (issue 20 items 3 and 4).

A pool rule version with the Spring Festival freeze windows (last year's, in the past, and next year's) and
release by reorder behaviour (warn the owner at 150 % of the usual interval without an order, release at
300 %). rep001 has a customer whose clock is paused until after a trade fair (approved by manager01) and
rep002 asks for another pause that waits in manager01's approvals. Two of rep001's customers buy on a monthly
cycle: one's orders are 50 days late (the owner is warned), the other's 100 days (the sweep releases it by its
orders, and the ledger says so).

Opportunity stage timeouts: the rules warn the owner of a deal 180 days in one stage and, from 210 days, the
deal counts against the customer's protection (`stage_timeout_release_days`; the demo's bulk deals are at most
~201 days in their stage, so only this scene's deal is stuck on the day of the load). rep001's customer has a
deal that has stood in the presentation stage for 211 days: rep001's follow-up of today no longer keeps it, the
pool card says so, and rep001 is told when it goes back unless the deal moves on or closes.
"""
import datetime as dt

from models import clock, db, pools
from models import opportunities as opps
from models import orders as om
from models import pool_clock
from models import reorders as rm
from models import rules as pool_rules
from models.customers import Customer, log_follow_up
from models.user_tables import User

STAGE_WARN_DAYS, STAGE_RELEASE_DAYS = 180, 210
FREEZES = [{"start": "2026-02-15", "end": "2026-02-23", "name": "春节"},
           {"start": "2027-02-05", "end": "2027-02-11", "name": "春节"}]


def stage(say=None):
    say = say or (lambda msg: None)
    now = clock.now()
    today = clock.to_local(now).date()
    admin = User.get(User.username == "admin")
    rep, rep2 = User.get_or_none(User.username == "rep001"), User.get_or_none(User.username == "rep002")
    manager = User.get_or_none(User.username == "manager01")
    with db.atomic():
        settings = {**pool_rules.in_force(now).s, "freeze_windows": FREEZES, "reorder_warn_percent": 150,
                    "reorder_release_percent": 300, "stage_timeout_days": STAGE_WARN_DAYS,
                    "stage_timeout_release_days": STAGE_RELEASE_DAYS}
        pool_rules.save_version(admin, settings, now, note="春节冻结；按订货周期回收")
        if rep is not None:
            _reorder_scenes(rep, today)
        if rep is not None and manager is not None:
            _pauses(rep, rep2, manager, today)
        if rep is not None:
            _stuck_deal(rep, now)
    result = pools.sweep(now)  # the new version's release dates, the reorder warning and the release
    say(f"demo clocks: freeze windows, pauses, {result['released']} released by their orders")


def _spare(rep, skip=()):
    """An owned customer of `rep` that no earlier scene uses: worked lately, not locked, not about to go."""
    return (Customer.select().where((Customer.owner == rep.id) & ~Customer.locked & Customer.id.not_in(list(skip))
                                    & (Customer.release_at > clock.now() + dt.timedelta(days=10))
                                    & Customer.stage.in_(("target", "intent")))
            .order_by(Customer.id.desc()).first())


def _reorder_scenes(rep, today):
    product = om.Product.get_or_none(om.Product.code == "FAB-POPLIN") or om.Product.select().first()
    if product is None:
        return
    used = []
    for days_late, name in ((50, "warned"), (100, "released")):
        customer = _spare(rep, used)
        if customer is None:
            return
        used.append(customer.id)
        for n in (3, 2, 1, 0):  # monthly orders, the last `days_late` days ago
            day = rm.add_interval(today - dt.timedelta(days=days_late), -n, "month")
            om.create_order(rep, Customer.get_by_id(customer.id),
                            {"ordered_on": day.isoformat(), "product_0": str(product.id), "quantity_0": "600"},
                            sign=True)
        rm.save_cycle(rep, Customer.get_by_id(customer.id),
                      {"product_id": str(product.id), "every": "1", "unit": "month", "remind_days": "7",
                       "starts_on": (today - dt.timedelta(days=days_late)).isoformat(), "suggested": "1"})


def _pauses(rep, rep2, manager, today):
    fair = _spare(rep)
    if fair is not None:
        pause = pool_clock.request_pause(rep, fair, {"starts_on": today.isoformat(),
                                                     "ends_on": (today + dt.timedelta(days=20)).isoformat(),
                                                     "reason": "客户参加广交会及海外展，要求展会结束前不要联系"})
        pool_clock.decide_pause(manager, pause.id, True, "同意，展会结束后第一周拜访")
    other = _spare(rep2) if rep2 is not None and rep2.team_id == manager.team_id else None
    if other is not None:
        pool_clock.request_pause(rep2, other, {"starts_on": (today + dt.timedelta(days=3)).isoformat(),
                                               "ends_on": (today + dt.timedelta(days=17)).isoformat(),
                                               "reason": "客户工厂搬迁，两周内不接待"})


def _stuck_deal(rep, now):
    """A deal of rep001's that entered its stage a day more than `STAGE_RELEASE_DAYS` ago, and a valid follow-up of
    today that therefore does not count (the sweep below tells rep001; the pool card explains it)."""
    customer = (Customer.select().where((Customer.owner == rep.id) & ~Customer.locked & Customer.deal_stage_since.is_null()
                                        & (Customer.release_at > now + dt.timedelta(days=10))
                                        & (Customer.created_at < now - dt.timedelta(days=STAGE_RELEASE_DAYS + 2))
                                        & Customer.stage.in_(("target", "intent"))
                                        & (Customer.business_model == "consumer"))  # no key person needed
                .order_by(Customer.id).first())
    if customer is None:
        return
    previous = clock._frozen
    try:
        clock.freeze(now - dt.timedelta(days=STAGE_RELEASE_DAYS + 1))
        opps.create_opportunity(rep, Customer.get_by_id(customer.id), {
            "name": "年度工装集采：方案待客户决策", "amount": "80万", "stage": "presentation",
            "expected_close": (clock.today() + dt.timedelta(days=90)).isoformat(), "product_lines": "工装、职业套装",
            "next_step": "等待客户采购委员会评审方案"})
        clock.freeze(now - dt.timedelta(hours=2))
        log_follow_up(rep, Customer.get_by_id(customer.id), {
            "type": "call", "content": "电话询问方案评审进度，采购经理表示委员会仍未排期，需再等两周左右"})
    finally:
        clock.freeze(previous)
