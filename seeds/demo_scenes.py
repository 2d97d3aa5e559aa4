"""Demo scenes: customers in every pool state, staged through the real verbs after the bulk load.

rep001 (华东一组) and manager01 see each state on their first login: customers about to be
released, a locked one and a pending lock request, one under contract, stakes (one complete),
a customer just released (frozen), one rep001 released three days ago (cooling-off), a capacity
penalty, an inbound lead routed to a staker, and the warnings a sweep writes.
"""
import datetime as dt

from models import clock, leads, pools
from models.customers import Customer
from models.users import User

DAY = dt.timedelta(days=1)


def _user(username):
    return User.get(User.username == username)


def _owned(user, exclude=(), dealt=False, limit=1):
    q = Customer.select().where((Customer.owner == user.id) & Customer.id.not_in(list(exclude) or [0])
                                & (Customer.locked == False))  # noqa: E712
    q = q.where(Customer.stage.in_(pools.DEALT_STAGES) if dealt else Customer.stage.not_in(pools.DEALT_STAGES))
    return list(q.order_by(Customer.id).limit(limit))


def _claimable_pool_customers(user, limit):
    """East-pool customers nobody holds back: never released, or released long ago by another team."""
    long_ago = clock.now() - 40 * DAY
    pool_ids = [p.id for p in pools.pools_for(user)]
    return list(Customer.select().where(
        Customer.owner.is_null() & Customer.pool.in_(pool_ids) & Customer.staked_by.is_null()
        & (Customer.released_at.is_null() | (Customer.released_at < long_ago)))
        .order_by(Customer.completeness.desc(), Customer.id).limit(limit))


def _release_clock(customer, last_valid_days_ago):
    """Backdate the last valid follow-up so the release date falls where the scene needs it."""
    now = clock.now()
    Customer.update(last_valid_followup_at=now - dt.timedelta(days=last_valid_days_ago),
                    claimed_at=now - 40 * DAY).where(Customer.id == customer.id).execute()
    pools.refresh_release(Customer.get_by_id(customer.id), now=now)


def stage(progress=None):
    say = progress or (lambda msg: None)
    now = clock.now()
    rep1, rep2, rep3 = _user("rep001"), _user("rep002"), _user("rep003")
    manager, service = _user("manager01"), _user("service")
    used = set()

    # about to release: in two days, and tomorrow
    for customer, days_ago in zip(_owned(rep1, limit=2), (13, 14.2)):
        _release_clock(customer, days_ago)
        used.add(customer.id)

    # locked (approved) and a lock request waiting for manager01
    locked = _owned(rep1, exclude=used)[0]
    used.add(locked.id)
    request = pools.request_lock(rep1, locked, "年底大单谈判中，客户要求保密，需锁定跟进")
    pools.decide_lock(manager, request.id, True, "同意：谈判关键期，锁定至签约")
    waiting = _owned(rep2)[0]
    pools.request_lock(rep2, waiting, "客户在做供应商评估，预计两周内出结果")

    # under contract: exempt until the contract ends + 60 days
    signed = _owned(rep1, dealt=True)
    if signed:
        Customer.update(contract_end=clock.today() + 120 * DAY).where(Customer.id == signed[0].id).execute()
        pools.refresh_release(Customer.get_by_id(signed[0].id), now=now)

    # a capacity penalty for rep002
    pools.adjust_capacity(manager, rep2, -5, 14, "本月有效跟进不足，库容临时下调")

    # rep001 released a customer three days ago: rep001 is cooling off, the team too
    cooling = _owned(rep1, exclude=used)[0]
    used.add(cooling.id)
    pools.release_customer(rep1, cooling, "客户暂停采购计划，明年再跟进", now=now - 3 * DAY)

    # rep003 released one an hour ago: frozen for everyone for 24 hours
    frozen = _owned(rep3)[0]
    pools.release_customer(rep3, frozen, "客户已转向本地供应商，暂无合作空间", now=now - dt.timedelta(hours=1))

    # stakes: two by rep001, the first complete enough to count at once
    staked = _claimable_pool_customers(rep1, 2)
    for customer in staked:
        pools.stake_customer(rep1, customer)
    if staked:
        pools.check_stake_completion(Customer.get_by_id(staked[0].id), now)
        leads.log_inbound_lead(service, Customer.get_by_id(staked[0].id), "客服热线来电：询问明年春季西装团购报价")

    # the warnings a sweep writes (T-3, T-1; the manager on the last day)
    result = pools.sweep(now)
    say(f"demo data: pool scenes staged ({result['warned']} release warnings)")
