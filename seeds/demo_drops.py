"""Demo scene for fair drops (issue 20 item 1).

The East China pool drops at 10:00 on the next working day, by lottery (a rule version saved here).
Yesterday's drop: a customer rep001's team mate released two days ago dropped yesterday; ten reps of the
other East China teams had queued for it, and the lottery picked one. Its `drop` ledger row keeps the seed,
the entrants and the order (`models.drops.draw(seed, entrants)` gives the same order again). Waiting drops:
three customers released this morning by a rep of 华东二组 drop at the next working day's 10:00; four reps
queued for the first, so the pool shows "drops at …" with its count and rep001 can still queue.
"""
import datetime as dt

from models import clock, drops, pools
from models import rules as rules_mod
from models.customers import Customer
from models.users import Region, Team, User

REASON = "客户转向线上渠道采购，本季度暂不跟进，释放给同事"


def stage(say=None):
    say = say or (lambda msg: None)
    now = clock.now()
    admin = User.get(User.username == "admin")
    east = Region.get(Region.code == "east")
    pool = pools.Pool.get(pools.Pool.region == east.id)
    settings = rules_mod.in_force(now).s
    settings["drops"] = {str(pool.id): {"time": "10:00", "method": "lottery"}}
    rules_mod.save_version(admin, settings, now, note="华东公海：次个工作日 10:00 定时掉落，抽签分配")
    teams = list(Team.select().where(Team.region == east.id).order_by(Team.id))
    if len(teams) < 3:
        return
    first, second = teams[0], teams[1]
    yesterday = now - dt.timedelta(days=1)
    _past_drop(first, teams[1:], yesterday, now)
    _waiting_drops(second, teams[2:], now)
    say("demo data: fair drops (a lottery drawn yesterday, drops waiting for tomorrow)")


def _releasable(team, n, now):
    """n customers of a rep of `team` (not rep001) that may be released: owned, not locked, not dealt."""
    reps = User.select(User.id).where((User.team == team.id) & (User.role == "sales") & (User.username != "rep001"))
    return list(Customer.select().where(Customer.owner.in_(reps) & (Customer.locked == False)  # noqa: E712
                                        & Customer.stage.not_in(pools.DEALT_STAGES)
                                        & (Customer.claimed_at < now - dt.timedelta(days=20)))
                .order_by(Customer.id).limit(n))


def _entrants(teams, n, now):
    """Reps of `teams` with room in their private pools (so the lottery's first pick can claim)."""
    found = []
    for rep in User.select().where(User.team.in_([t.id for t in teams]) & (User.role == "sales")
                                   & (User.active == True)).order_by(User.id):  # noqa: E712
        if pools.capacity(rep, now)["free"] > 1:
            found.append(rep)
        if len(found) == n:
            break
    return found


def _past_drop(team, others, drop_at, now):
    """Released two days ago, ten reps queued the evening before, drawn at yesterday's drop time."""
    [customer] = _releasable(team, 1, now) or [None]
    if customer is None:
        return
    owner = User.get_by_id(customer.owner_id)
    pools.release_customer(owner, customer, REASON, now=drop_at - dt.timedelta(days=1))
    Customer.update(drop_at=drop_at).where(Customer.id == customer.id).execute()
    customer = Customer.get_by_id(customer.id)
    for i, rep in enumerate(_entrants(others, 10, now)):
        drops.queue_for(rep, customer, now=drop_at - dt.timedelta(hours=14) + dt.timedelta(minutes=7 * i))
    drops.run_drop(customer.id, now=drop_at)


def _waiting_drops(team, others, now):
    """Released this morning: the release gives them the pool's drop time; four reps queue for the first."""
    customers = _releasable(team, 3, now)
    for customer in customers:
        pools.release_customer(User.get_by_id(customer.owner_id), customer, REASON,
                               now=now - dt.timedelta(hours=1))
    if customers:
        first = Customer.get_by_id(customers[0].id)
        for i, rep in enumerate(_entrants(others, 4, now)):
            drops.queue_for(rep, first, now=now - dt.timedelta(minutes=40 - 5 * i))
