"""Demo history (issue 13 point 11): eleven weeks of pool flow, through the verbs on a clock set back to each
moment, so that pool health, the stake ranking and the ledger tell the product's story on the first login:
every week reps of several teams claim from their region's pool; a claimed customer left without a valid
follow-up goes back by itself after the rule's 15 days (a forced release, its reason in words); a rep of
another team re-claims some of those a few days later, and some of those are signed. The actions run in time
order; `ledger_in_time_order` then numbers the whole ledger by time (the bulk load wrote its releases first),
so the ledger page, newest first, reads as the weeks went by.
"""
import datetime as dt
from random import Random
from types import SimpleNamespace

from models import clock, pools
from models import rules as rules_mod
from models.base import db
from models.customers import Contact, Customer, change_stage, log_follow_up
from models.errors import DomainError
from models.users import Team, User

SEED = 1313
WEEKS = 11             # the pool health chart shows twelve; the current week is the scenes' own
TEAMS = 8              # the first teams (manager01's among them): enough for every chart, cheap to load
CLAIMS_PER_TEAM = 1    # each week, by one rep of each of those teams (the reps take turns)
RELEASED_SHARE = 0.6   # of the claims, left unworked until the no-follow-up rule takes them back
RECLAIMED_SHARE = 0.6  # of the forced releases, re-claimed by a rep of another team of the region
SIGNED_SHARE = 0.4     # of the re-claims, signed within two weeks
QUIET_DAYS = 5         # nothing in the last days before now (the scenes stage those)
DAY = dt.timedelta(days=1)


def _moment(rng, day):
    """A time in working hours (09:30–17:30 business time) of `day`, as naive UTC."""
    return clock.from_local(dt.datetime.combine(day, dt.time(9, 30)) + dt.timedelta(minutes=rng.randrange(480)))


def _reps_by_team():
    """Active sales reps with room for a few more customers, grouped by team (the first TEAMS teams), in a
    stable order."""
    rules = rules_mod.in_force(clock.now())
    out = {}
    sellers = (User.select().where((User.role == "sales") & (User.active == True) & User.team.is_null(False))  # noqa: E712
               .order_by(User.team, User.id))
    for rep in sellers:
        if (rep.team_id in out or len(out) < TEAMS) and pools.capacity(rep, clock.now(), rules)["free"] > 8:
            out.setdefault(rep.team_id, []).append(rep)
    return out


def _pool_customers(pool_ids, limit):
    """Never released, unstaked customers past marketing's stages in these pools, best files first (ids)."""
    return [pk for (pk,) in Customer.select(Customer.id).where(
        Customer.owner.is_null() & Customer.pool.in_(pool_ids) & Customer.staked_by.is_null()
        & Customer.released_at.is_null() & Customer.stage.in_(("target", "intent")))
        .order_by(Customer.completeness.desc(), Customer.id).limit(limit).tuples()]


def plan(rng, now):
    """[(time, action, customer id, rep)] for the weeks, in time order: claim, forced release, re-claim, sign."""
    reps = _reps_by_team()
    teams = {t.id: t for t in Team.select().where(Team.id.in_(list(reps) or [0]))}
    by_region = {}
    for team_id in reps:
        by_region.setdefault(teams[team_id].region_id, []).append(team_id)
    quiet = now - QUIET_DAYS * DAY
    days = rules_mod.in_force(now)["release_no_followup_days"]
    actions, taken, candidates = [], set(), {}
    for week in range(WEEKS, 0, -1):
        monday = clock.today() - dt.timedelta(days=clock.today().weekday() + 7 * week)
        for n, (team_id, members) in enumerate(sorted(reps.items())):
            rep = members[week % len(members)]
            pool_ids = tuple(sorted(p.id for p in pools.pools_for(rep)))
            if pool_ids not in candidates:  # read once per pool: enough for every team and week
                candidates[pool_ids] = _pool_customers(pool_ids, WEEKS * CLAIMS_PER_TEAM * TEAMS)
            fresh_ids = [pk for pk in candidates[pool_ids] if pk not in taken][:CLAIMS_PER_TEAM]
            for customer in (SimpleNamespace(id=pk) for pk in fresh_ids):
                taken.add(customer.id)
                claimed = _moment(rng, monday + dt.timedelta(days=(n + week) % 5))
                if claimed >= quiet:
                    continue
                actions.append((claimed, "claim", customer.id, rep))
                released = claimed + days * DAY
                if released >= quiet or rng.random() >= RELEASED_SHARE:
                    actions += _worked(rng, customer.id, rep, claimed, now)  # kept: followed up till today
                    continue
                actions.append((released, "forced_release", customer.id, rep))
                others = [t for t in by_region.get(teams[team_id].region_id, []) if t != team_id]
                if not others or rng.random() >= RECLAIMED_SHARE:
                    continue
                reclaimed = _moment(rng, clock.to_local(released).date() + dt.timedelta(days=rng.randrange(2, 6)))
                if reclaimed >= quiet:
                    continue
                taker = rng.choice(reps[rng.choice(others)])
                actions.append((reclaimed, "claim", customer.id, taker))
                actions += _worked(rng, customer.id, taker, reclaimed, now)
                signed = reclaimed + dt.timedelta(days=rng.randrange(3, 14), hours=rng.randrange(1, 6))
                if signed < quiet and rng.random() < SIGNED_SHARE:
                    actions.append((signed, "sign", customer.id, taker))
    actions.sort(key=lambda a: a[0])
    return actions


NOTES = ("拜访采购部经理，确认下季度面料需求和样品寄送时间，对方要求先报价", "电话沟通春季订单，客户确认两款衬衫面料，约下周看样",
         "到厂拜访老板，了解新门店开业计划，对工装定制有兴趣，待出方案", "与采购负责人开会讨论年度框架协议，价格条款还需内部审批")


def _worked(rng, customer_id, rep, since, now):
    """The owner's valid follow-ups from `since` to today, every 8–14 days (so the rule never takes it back)."""
    out, at = [], since
    while True:
        at = _moment(rng, clock.to_local(at).date() + dt.timedelta(days=rng.randrange(8, 15)))
        if at >= now - DAY:
            return out
        out.append((at, "followup", customer_id, rep))


def _follow_up(rep, customer):
    """A valid follow-up by the owner, with a decision maker or buyer where the file has one."""
    contact = (Contact.select(Contact.id).where((Contact.customer == customer.id) & (Contact.active == True)  # noqa: E712
                                                & Contact.decision_role.in_(("decision_maker", "buyer"))).first()
               or Contact.select(Contact.id).where(Contact.customer == customer.id).first())
    data = {"type": "visit", "content": NOTES[customer.id % len(NOTES)]}
    if contact:
        data["contact_id"] = str(contact.id)
    log_follow_up(rep, customer, data)


def run(actions):
    """Carry the actions out at their moments; a refusal (capacity, a rule) skips that customer's story."""
    previous, skipped, done = clock._frozen, set(), {"claim": 0, "forced_release": 0, "sign": 0, "followup": 0}
    try:
        for at, action, customer_id, rep in actions:
            if customer_id in skipped:
                continue
            clock.freeze(at)
            try:
                if action == "claim":
                    pools.claim_customer(rep, customer_id, now=at)
                elif action == "forced_release":
                    customer = Customer.get_by_id(customer_id)
                    rules = rules_mod.in_force(at)
                    _due, rule, inputs = pools.release_plan(customer, rules, at)
                    inputs = {**inputs, "rule": rule}
                    pools.release_customer(None, customer, pools._release_reason(rule, inputs), now=at,
                                           kind="forced_release", rules=rules, inputs=inputs)
                elif action == "followup":
                    _follow_up(rep, Customer.get_by_id(customer_id))
                else:
                    change_stage(rep, Customer.get_by_id(customer_id), "signed", "首单签约：老客户回流后成交")
            except DomainError:
                skipped.add(customer_id)
                continue
            done[action] += 1
    finally:
        clock.freeze(previous)
    return done


def ledger_in_time_order():
    """Number the ledger rows by time (ties by their old number): the bulk load and the staged stories wrote
    them out of time order, and the ledger pages list by number."""
    rows = list(pools.PoolEvent.select(pools.PoolEvent.id).order_by(pools.PoolEvent.at, pools.PoolEvent.id).tuples())
    if not rows:
        return
    offset = max(pk for (pk,) in rows) + 1
    p = db.param
    db.execute_sql(f"UPDATE pool_event SET id = id + {p}", (offset,))
    db.cursor().executemany(f"UPDATE pool_event SET id = {p} WHERE id = {p}",
                            [(number, pk + offset) for number, (pk,) in enumerate(rows, start=1)])


def stage(progress=None):
    say = progress or (lambda msg: None)
    now = clock.now()
    done = run(plan(Random(SEED), now))
    say(f"demo data: {WEEKS} weeks of pool history ({done['claim']} claims, {done['forced_release']} forced "
        f"releases, {done['sign']} signed after a re-claim, {done['followup']} follow-ups)")
