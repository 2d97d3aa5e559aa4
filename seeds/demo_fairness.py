"""Demo scenes for the fairness figures and flags (issue 20 items 5 and 6), staged through the verbs so the
ledger holds what the detectors read: in manager01's team a customer released by one rep is re-claimed by a
team mate eight days later; a customer handed to the other team and back within ten days (ping-pong, and a
transfer made close to its release date); a rep claiming five pool customers within twenty minutes; a rep
writing three minimum-length follow-ups just before three release dates. The detectors run once the demo's
ledger is numbered in time order (`after_ledger`, called by seeds/demo.py); the figures read the claims'
counters that the history left."""
import datetime as dt

from models import clock, pools, transfers
from models import fairness as fm
from models.customer_tables import Customer, Pool
from models.customers import log_follow_up
from models.errors import DomainError
from models.opportunities import create_opportunity
from models.perf_tables import ClaimOutcome
from models.user_tables import Team, User

SHORT = "电话沟通客户表示下周再确认采购数量与交期安排"  # just over the valid minimum
LONG = "上门拜访采购经理，确认明年春季面料采购计划约三万米，需先寄送色卡与样布，下周二前报价并安排打样。"


def _team_reps(manager):
    return list(User.select().where((User.team == manager.team_id) & (User.role == "sales") & (User.active == True))  # noqa: E712
                .order_by(User.username))


def _room(rep, now):
    cap = pools.capacity(rep, now)
    return cap["total"] - cap["used"]


def _claims_since(rep, at):
    """A claim's daily limit counts the rep's claims from the start of its day on (a staged claim in the past
    sees the later ones too): choose reps with none."""
    return pools.PoolEvent.select().where((pools.PoolEvent.actor == rep.id) & (pools.PoolEvent.kind == "claim")
                                          & (pools.PoolEvent.at >= clock.local_day_start(clock.to_local(at).date()))).count()


def _free_rep(reps, at, room):
    limit = pools.rules_mod.in_force(at)["claims_per_day"]
    fit = [r for r in reps if _room(r, at) >= room and _claims_since(r, at) + room <= limit]
    return max(fit, key=lambda r: _room(r, at)) if fit else None


def _pool_customers(rep, n, now, skip=()):
    """Pool customers `rep` may claim at `now` (checked like a claim)."""
    rules = pools.rules_mod.in_force(now)
    ctx = pools.claim_context(rep, rules, now)
    ctx["claims_today"] = 0
    out = []
    q = (Customer.select().where(Customer.owner.is_null() & Customer.pool.in_(list(ctx["pools"]) or [0])
                                 & Customer.stage.in_(("target", "intent")) & Customer.id.not_in(list(skip) or [0])
                                 & Customer.business_model.not_in(rules["key_person_models"] or [""]))  # a call counts
         .order_by(Customer.id).limit(200))
    for c in q:
        try:
            pools.check_release_holds(rep, c, rules, now)
        except pools.ClaimRefused:
            continue
        out.append(c)
        if len(out) == n:
            break
    return out


def _owned(rep, n):
    busy = transfers.TransferItem.select(transfers.TransferItem.customer)
    return list(Customer.select().where((Customer.owner == rep.id) & (Customer.locked == False)  # noqa: E712
                                        & Customer.stage.in_(("target", "intent")) & Customer.id.not_in(busy))
                .order_by(Customer.id.desc()).limit(n))


def _transfer(giver, taker, ids, reason, at):
    """Request a transfer and approve every side of it, by each side's manager, at `at`."""
    t = transfers.request_transfer(giver, giver, [(cid, f"u:{taker.id}") for cid in ids], reason, now=at)
    for approval in transfers.TransferApproval.select().where(transfers.TransferApproval.transfer == t.id):
        manager = User.get_by_id(Team.get_by_id(approval.team_id).manager_id)
        transfers.decide_transfer(manager, approval.id, True, "同意", override_reason="演示：客户需要", now=at)
    return t


def stage(progress=None):
    say = progress or (lambda msg: None)
    now = clock.now()
    manager = User.get_or_none(User.username == "manager01")
    other = User.get_or_none(User.username == "manager02")
    if manager is None or other is None:
        return
    reps, others = _team_reps(manager), _team_reps(other)
    if len(reps) < 6 or not others:
        return
    done = []
    # 1. released by one rep, re-claimed eight days later by a team mate (the team's cooling-off is 7 days)
    giver, friend = reps[0], _free_rep(reps[1:], now - dt.timedelta(hours=1), 1)
    mine = _owned(giver, 1)
    if mine and friend is not None:
        c = pools.release_customer(giver, mine[0], "客户暂停采购，放回公海", now=now - dt.timedelta(days=8, hours=1))
        try:
            pools.claim_customer(friend, c.id, now=now - dt.timedelta(hours=1))
            done.append("re-claim")
        except pools.ClaimRefused:
            pass
    # 2. to the other team and back within ten days (the first move close to the customer's release date)
    mover = reps[4]
    moved = _owned(mover, 1)
    if moved:
        try:
            _transfer(mover, others[0], [moved[0].id], "客户在对方区域设厂，交对方就近跟进", now - dt.timedelta(days=20))
            _transfer(others[0], mover, [moved[0].id], "客户要求原销售继续对接", now - dt.timedelta(days=10))
            done.append("ping-pong")
        except DomainError:
            pass
    # 3. five claims within twenty minutes, two days ago at 10:00
    start = clock.local_day_start(clock.today() - dt.timedelta(days=2)) + dt.timedelta(hours=10)
    burst_rep = _free_rep([r for r in reps if friend is None or r.id != friend.id], start, 5)
    picked = _pool_customers(burst_rep, 5, start) if burst_rep else []
    n = 0
    for i, c in enumerate(picked):
        try:
            pools.claim_customer(burst_rep, c.id, now=start + dt.timedelta(minutes=5 * i))
            n += 1
        except pools.ClaimRefused:
            pass
    if n == 5:
        done.append("claim burst")
    # 4. three claims fourteen days ago, then three minimum-length follow-ups now, a day before each release date

    when = clock.local_day_start(clock.today() - dt.timedelta(days=14)) + dt.timedelta(hours=3)
    writer = _free_rep([r for r in reps if r not in (friend, burst_rep)], when, 3)
    files = _pool_customers(writer, 3, when, skip=[c.id for c in picked]) if writer else []
    claimed = []
    for c in files:
        try:
            claimed.append(pools.claim_customer(writer, c.id, now=when))
        except pools.ClaimRefused:
            pass
    for c in claimed:
        log_follow_up(writer, Customer.get_by_id(c.id), {"type": "call", "content": SHORT})
    if len(claimed) == 3:
        done.append("minimum follow-ups")
    # 5. a customer about to be released (its claimer's clock nearly out) handed to the other team: the clock restarts
    due = (Customer.select(Customer.id, Customer.owner).join(pools.PoolEvent, on=(
        (pools.PoolEvent.customer == Customer.id) & (pools.PoolEvent.kind == "claim")
        & (pools.PoolEvent.to_owner == Customer.owner)))
        .where(Customer.owner.in_([r.id for r in reps]) & (Customer.release_at > now)
               & (Customer.release_at < now + dt.timedelta(days=4)) & Customer.release_rule.in_(("no_followup", "no_deal")))
        .order_by(Customer.release_at).first())
    if due is not None:
        try:
            _transfer(User.get_by_id(due.owner_id), others[-1], [due.id], "客户总部迁往对方区域，由对方团队接手",
                      now - dt.timedelta(minutes=30))
            done.append("clock restart")
        except DomainError:
            pass
    # 6. what became of the team's recent claims: a valid follow-up on most, an opportunity on some


    recent = list(ClaimOutcome.select().where((ClaimOutcome.rep.in_([r.id for r in reps]))
                                               & (ClaimOutcome.outcome == "open")
                                               & (ClaimOutcome.claimed_at >= now - dt.timedelta(days=60)))
                  .order_by(ClaimOutcome.id.desc()).limit(12))
    for i, claim in enumerate(recent):
        rep, c = User.get_by_id(claim.rep_id), Customer.get_by_id(claim.customer_id)
        if i % 3 != 2:
            log_follow_up(rep, c, {"type": "visit", "content": LONG})
        if i % 2 == 0:
            create_opportunity(rep, Customer.get_by_id(c.id), {"name": "春季面料采购", "amount": "36000",
                                                              "expected_close": (clock.today() + dt.timedelta(days=45)).isoformat()})
    if recent:
        done.append(f"{len(recent)} claims worked")
    say(f"demo data: fairness scenes staged ({', '.join(done) or 'none'})")


def after_ledger(progress=None):
    """The detectors and the claims' steps over the whole demo ledger (after its rows are numbered by time)."""
    say = progress or (lambda msg: None)
    fm.rebuild()
    say(f"demo data: fairness flags {fm.FairFlag.select().count()}, claims with a step "
        f"{fm.FairClaimStep.select().count()} of {ClaimOutcome.select().count()}, pools {Pool.select().count()}")
