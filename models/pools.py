"""Private pool, public pools, forced release and stake-claiming (私海 / 公海 / 掉保 / 占坑).

Every ownership change is a verb that runs in one write transaction (SQLite: BEGIN IMMEDIATE,
so a claim's capacity check and its update cannot interleave with another claim), writes an
append-only PoolEvent naming the rule version and the inputs it saw, and recomputes the
customer's release date. Time rules run in `sweep(now)`, which is idempotent.
"""
import datetime as dt

import peewee as pw

from models import audit, clock, hooks, ledger, pool_clock, rules as rules_mod
from models import perf_tables as perf
from models.appeal_tables import held_by_appeal, held_by_appeals
from models.base import BaseModel, bulk_insert, db, for_update, fresh, id_in, lock, row_by_id
from models.customers import Customer, Pool
from models.fields import FieldError, clean_text, parse_int
from models.delegation_tables import release_pause
from models.errors import DomainError, N_, NotFound, ValidationError, plain_values
from models.ledger import PoolEvent
from models.notifications import Notification, notify
from models.permissions import require
from models.users import Team, User

DEALT_STAGES = ("signed", "long_term")


class CapacityAdjustment(BaseModel):
    """A time-limited change of a rep's capacity (a penalty is negative), with its reason."""
    user = pw.ForeignKeyField(User, backref="capacity_adjustments", on_delete="CASCADE")
    delta = pw.IntegerField()
    starts_at = pw.DateTimeField()
    ends_at = pw.DateTimeField(null=True)
    reason = pw.CharField(max_length=200)
    actor = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False)
    created_at = pw.DateTimeField()


class PoolView(BaseModel):
    """A rep opening a pool customer's file: limited per day."""
    user = pw.ForeignKeyField(User, on_delete="CASCADE", index=False)
    customer = pw.ForeignKeyField(Customer, on_delete="CASCADE", index=False)
    day = pw.DateField()

    class Meta:
        indexes = ((("user", "day", "customer"), True),)


class LockRequest(BaseModel):
    """A rep asks to lock a customer against forced release; a manager decides."""
    customer = pw.ForeignKeyField(Customer, on_delete="CASCADE")
    requester = pw.ForeignKeyField(User, on_delete="CASCADE", index=False)
    reason = pw.CharField(max_length=300)
    status = pw.CharField(max_length=10, default="pending")  # pending, approved, rejected
    created_at = pw.DateTimeField()
    decided_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False)
    decided_at = pw.DateTimeField(null=True)
    decision_reason = pw.CharField(max_length=300, default="")

    class Meta:
        indexes = ((("status", "id"), False),)


# One waiting request per customer, kept by the database: two requests sent at once cannot both wait
# (the second insert fails and is told), and so two managers cannot approve two of them.
LockRequest.add_index(LockRequest.index(LockRequest.customer, unique=True, where=(LockRequest.status == "pending"),
                                        name="lock_request_one_pending"))


class ClaimRefused(DomainError):
    """A claim refused by a named rule; `until` says when it would be allowed (or None)."""

    def __init__(self, rule, message, until=None, **params):
        super().__init__(message, **params)
        self.rule, self.until = rule, until


# ---- pools and eligibility -------------------------------------------------------------------

def pools_for(user):
    """The pools a user may see and claim from: their region's and the open ones."""
    q = Pool.select().where(Pool.active == True)  # noqa: E712
    from models.permissions import can

    if can(user, "pool.any_region"):
        return q
    return q.where(Pool.region.is_null() | (Pool.region == user.region_id))


def home_pool(customer):
    """Where a released customer goes: its region's pool, else an open pool."""
    pool = None
    if customer.region_id:
        pool = Pool.get_or_none((Pool.region == customer.region_id) & (Pool.active == True))  # noqa: E712
    return pool or Pool.select().where(Pool.region.is_null() & (Pool.active == True)).first() or Pool.select().first()  # noqa: E712


def in_pool(pool_id):
    """A pool's records, without those a cleansing quarantined (models/cleansing.py)."""
    return Customer.select().where((Customer.pool == pool_id) & Customer.quarantined_at.is_null())


# ---- capacity --------------------------------------------------------------------------------

def _active(user_id, now):
    """The capacity adjustments of user `user_id` in force at `now`."""
    return ((CapacityAdjustment.user == user_id) & (CapacityAdjustment.starts_at <= now)
            & (CapacityAdjustment.ends_at.is_null() | (CapacityAdjustment.ends_at > now)))


def counted_conditions(rules):
    """The conditions on an owned customer that count it toward its owner's capacity under `rules` (all of them)."""
    conditions = []
    if not rules["dealt_count"]:
        conditions.append(Customer.stage.not_in(DEALT_STAGES))
    if rules["capacity_exempt_tiers"]:  # value tiers the rules exempt (e.g. diamond, strategic)
        conditions.append(Customer.value_tier.not_in(rules["capacity_exempt_tiers"]))
    return conditions


def counted_key(rules):
    """What `counted_conditions(rules)` depends on: a key for the statements built from them."""
    return bool(rules["dealt_count"]), tuple(rules["capacity_exempt_tiers"] or ())


def _counted(user, rules):
    """The customers of `user` that count toward their capacity under `rules`."""
    return Customer.select().where(Customer.owner == user.id, *counted_conditions(rules))


def active_adjustments(user, now):
    return CapacityAdjustment.select().where(_active(user.id, now))


def active_adjustment_ids(user_id, now):
    return CapacityAdjustment.select(CapacityAdjustment.id).where(_active(user_id, now))


def capacity(user, now=None, rules=None, counts=None, upcoming=True, adjustments=None):
    """{'base', 'adjustments', 'total', 'used', 'free', 'stakes', 'stake_quota', 'locks'} for a rep.
    `counts`: (used, stakes, locks) when the caller has counted them already (the workbench, in the statements
    it reads its cards with), `adjustments`: the active ones when the caller knows them (the workbench: [] when
    it found none); `upcoming=False` leaves out the adjustments still to come ([])."""
    now = now or clock.now()
    rules = rules or rules_mod.in_force(now)
    base = rules.capacity_base(user.role)
    active = list(active_adjustments(user, now)) if adjustments is None else adjustments
    upcoming = list(CapacityAdjustment.select().where(
        (CapacityAdjustment.user == user.id) & (CapacityAdjustment.starts_at > now))) if upcoming else []
    total = max(0, base + sum(a.delta for a in active))
    if counts is None:
        used = _counted(user, rules).count()
        stakes = Customer.select().where(Customer.staked_by == user.id).count()
        locks = Customer.select().where((Customer.owner == user.id) & (Customer.locked == True)).count()  # noqa: E712
    else:
        used, stakes, locks = counts
    return {"base": base, "adjustments": active, "upcoming": upcoming, "total": total, "used": used,
            "free": total - used, "over": used > total, "stakes": stakes,
            "stake_quota": rules["stake_multiplier"] * total, "locks": locks, "lock_capacity": rules["lock_capacity"]}


def room(user, now, rules, *more):
    """{'used', 'total'}: the part of `capacity` a claim checks, in one statement (the claim verb's
    budget: the other three counts are for the capacity page). `more`: scalar subqueries asked in the same
    statement, their values returned after the dict."""
    extra = CapacityAdjustment.select(pw.fn.COALESCE(pw.fn.SUM(CapacityAdjustment.delta), 0)).where(_active(user.id, now))
    used, delta, *rest = _counted(user, rules).select(pw.fn.COUNT(Customer.id), extra, *more).scalar(as_tuple=True)
    cap = {"used": used, "total": max(0, rules.capacity_base(user.role) + (delta or 0))}
    return (cap, *rest) if more else cap


def adjust_capacity(actor, user, delta, days, reason, now=None):
    """A manager's penalty (negative) or reward (positive) for `days` days. Never releases customers;
    going over capacity only freezes claims."""
    require(actor, "capacity.adjust", user)
    now = now or clock.now()
    reason = clean_text(reason, 200)
    errors = {}
    try:
        delta = int(delta)
        if delta == 0 or abs(delta) > 500:
            raise ValueError
    except (TypeError, ValueError):
        errors["delta"] = [(N_("A whole number from -500 to 500, not 0."), {})]
    try:
        days = parse_int(days, 1, 3650)
    except FieldError as exc:
        errors["days"] = [(exc.message, exc.params)]
    if not reason:
        errors["reason"] = [(N_("Say why."), {})]
    if errors:
        raise ValidationError(errors)
    rules = rules_mod.in_force(now)
    with db.atomic():
        adj = apply_adjustment(actor, user, delta, days, reason, now, rules)
        notify(user.id, "capacity", N_("Your capacity changes by %(delta)s for %(days)s days: %(reason)s"),
               delta=f"{delta:+d}", days=days, reason=reason)
    return adj


def apply_adjustment(actor, user, delta, days, reason, now, rules, inputs=None):
    """Write a capacity change and its `capacity` ledger row inside the caller's transaction, the one way
    capacity is adjusted: a manager's (adjust_capacity, which checks permission and input) or a rule's
    (models/quality.py, actor None)."""
    adj = CapacityAdjustment.create(user=user, delta=delta, starts_at=now, ends_at=now + dt.timedelta(days=days),
                                    reason=reason, actor=actor, created_at=now)
    ledger.record("capacity", actor, None, now, rules, subject=user.id, reason=reason,
                  inputs={"delta": delta, "days": days, "ends_at": adj.ends_at.isoformat(sep=" "), **(inputs or {})})
    return adj


# ---- release date -------------------------------------------------------------------------

def release_plan(customer, rules, now):
    """(release_at, rule, inputs) for an owned customer under `rules`; release_at None if exempt.

    Two clocks: no valid follow-up for N days (from the later of the claim and the last valid
    follow-up), and no deal M days after the claim (not for dealt customers). The earlier wins.
    Locked customers and customers under contract (until end + grace) are exempt. A signed order or a
    received payment within `order_protection_days` holds the customer until that protection ends
    (rule "order"; `unprotected_at` is when the clocks alone would have released it).
    An open opportunity stuck in one stage beyond `stage_timeout_release_days` stops follow-ups renewing the
    no-follow-up clock (rule "stuck" when that clock wins because of it; `pool_clock.stuck_clock`).
    """
    if customer.owner_id is None:
        return None, "", {}
    if customer.locked:
        return None, "locked", {"locked": True}
    if customer.contract_end and customer.contract_end + dt.timedelta(days=rules["contract_grace_days"]) >= clock.to_local(now).date():
        return None, "contract", {"contract_end": customer.contract_end.isoformat()}
    start = customer.claimed_at or customer.created_at
    last_valid = customer.last_valid_followup_at
    fu_from = max(start, last_valid) if last_valid else start
    n = rules.no_followup_days(customer)
    fu_inputs = {"days": n, "last_valid_followup_at": last_valid.isoformat(sep=" ") if last_valid else None}
    stuck_from = pool_clock.stuck_clock(customer, rules, start, last_valid, fu_inputs)  # a deal stuck in a stage
    fu_from = stuck_from or fu_from
    fu_inputs["since"] = fu_from.isoformat(sep=" ")
    candidates = [(pool_clock.due(rules, customer, fu_from, n, fu_inputs), "no_followup", fu_inputs)]
    if customer.stage not in DEALT_STAGES:
        m = rules.no_deal_days(customer)
        deal_inputs = {"claimed_at": start.isoformat(sep=" "), "days": m}
        candidates.append((pool_clock.due(rules, customer, start, m, deal_inputs), "no_deal", deal_inputs))
    for i, (at, rule, inputs) in enumerate(candidates):  # a delegation (工作代理) stops the clocks while it runs
        pushed, paused, delegation_ids = release_pause(rules, customer.owner_id, fu_from if rule == "no_followup" else start, at)
        if delegation_ids:
            inputs.update(paused_days=round(paused.total_seconds() / 86400, 2), delegation_ids=delegation_ids)
            candidates[i] = (pushed, rule, inputs)
    at, rule, inputs = min(candidates, key=lambda c: c[0])
    if stuck_from and rule == "no_followup":
        rule = "stuck"  # its no-follow-up clock, without the follow-ups since the deal got stuck
    kept = order_protection(customer, rules)
    if kept:
        deal_on, until = kept
        inputs.update(last_deal_on=deal_on.isoformat(), deal_days=rules["order_protection_days"])
        if until > at and until > now:  # a recent signed order or payment holds it until the protection ends
            inputs.update(unprotected_at=at.isoformat(sep=" "), unprotected_rule=rule,
                          protected_until=until.isoformat(sep=" "))
            at, rule = until, "order"
    at, rule = pool_clock.reorder_clock(customer, rules, at, rule, inputs)  # judged by its orders (reorder cycle)
    at = pool_clock.hold(customer, rules, now, at, inputs)  # nothing goes back inside a freeze window or a pause
    held = getattr(customer, "restored_until", None)  # an upheld appeal or an undo restored a clock that ran out
    if held and held > at and held > now:
        inputs.update(unrestored_at=at.isoformat(sep=" "), unrestored_rule=rule, restored_until=held.isoformat(sep=" "))
        at, rule = held, "restored"
    inputs["rule_version"] = rules.version
    return at, rule, inputs


def order_protection(customer, rules):
    """(last deal date, the moment its protection ends) when the rules protect customers with a recent
    signed order or received payment (`order_protection_days`, 0: off) and the customer has one; None otherwise.
    The protection covers the whole local day `last_deal_on + days`, like a contract's grace period."""
    days, deal_on = rules["order_protection_days"], getattr(customer, "last_deal_on", None)
    if not days or not deal_on:
        return None
    return deal_on, clock.local_day_start(deal_on + dt.timedelta(days=days + 1))


def refresh_release(customer, rules=None, now=None):
    """Recompute and store the customer's release date (call inside the verb's transaction)."""
    now = now or clock.now()
    rules = rules or rules_mod.in_force(now)
    at, rule, _ = release_plan(customer, rules, now)
    Customer.update(release_at=at, release_rule=rule).where(Customer.id == customer.id).execute()
    customer.release_at, customer.release_rule = at, rule
    return at


# ---- claim ---------------------------------------------------------------------------------------

QUARANTINED = N_("A pool cleansing put this record in quarantine as junk: an admin must restore it first.")


def claim_context(actor, rules, now, pool_ids=None, rows=()):
    """What every claim check of one rep needs, read once (a pool page checks 25 rows with it).
    `pool_ids`: the ids of `pools_for(actor)` when the caller has read them already; `rows`: the customers
    about to be checked (which of the released ones an appeal holds is read for all of them at once)."""
    day_start = clock.local_day_start(clock.to_local(now).date())
    claims_today = (PoolEvent.select(pw.fn.COUNT(PoolEvent.id))
                    .where((PoolEvent.actor == actor.id) & (PoolEvent.kind == "claim") & (PoolEvent.at >= day_start)
                           & (PoolEvent.at < day_start + dt.timedelta(days=1))))
    cap, claims_today = room(actor, now, rules, claims_today)  # one statement for both counts
    if pool_ids is None:
        pool_ids = [p.id for p in pools_for(actor).select(Pool.id)]
    released = [c.id for c in rows if c.released_at]
    return {"pools": set(pool_ids), "claims_today": claims_today,
            "appealed": held_by_appeals(released) if rows else None, "appealed_known": set(released),
            "day_start": day_start, "cap": cap}


def check_claim(actor, customer, rules, now, context=None):
    """Raise ClaimRefused naming the first rule that refuses `actor` claiming `customer`."""
    if actor.role not in ("sales", "manager"):
        raise ClaimRefused("role", N_("Only sales reps and managers claim customers."))
    if customer.owner_id is not None or customer.pool_id is None:
        raise ClaimRefused("taken", N_("This customer is no longer in the pool."))
    if customer.quarantined_at is not None:
        raise ClaimRefused("quarantine", QUARANTINED)
    ctx = context or claim_context(actor, rules, now)
    if customer.pool_id not in ctx["pools"]:
        raise ClaimRefused("pool", N_("You may not claim from this pool."))
    if customer.staked_by_id and customer.staked_by_id != actor.id:
        raise ClaimRefused("staked", N_("Another rep has staked this customer until %(until_text)s."),
                           until=customer.stake_due, until_text=customer.stake_due)
    check_release_holds(actor, customer, rules, now, ctx)
    claims_today = ctx["claims_today"]
    if claims_today >= rules["claims_per_day"]:
        until = ctx["day_start"] + dt.timedelta(days=1)
        raise ClaimRefused("claims_per_day", N_("You have made %(n)s claims today, the daily limit. Again from %(until_text)s."),
                           until=until, n=claims_today, until_text=until)
    cap = ctx["cap"]
    if cap["used"] >= cap["total"]:
        raise ClaimRefused("capacity", N_("Your private pool is full (%(used)s of %(total)s). Release a customer first."),
                           used=cap["used"], total=cap["total"])


def check_release_holds(actor, customer, rules, now, context=None):
    """Raise ClaimRefused while a released customer is frozen for everyone, or cooling off for its former
    owner and team. Claims and stakes alike: a stake must not hold a customer its staker may not claim.
    `context`: a `claim_context` that read the page's appeals already."""
    if customer.released_at and _appealed(customer, context):  # models/appeals.py: held out while appealed
        raise ClaimRefused("appealed", N_("Its former owner appealed the release: held out of the pool until a "
                                          "manager decides."))
    if customer.drop_at:  # fair drops (models/drops.py): nobody takes it before its drop, the lottery decides
        if now < customer.drop_at:
            raise ClaimRefused("drop", N_("Drops at %(until_text)s: queue for it, a lottery decides."),
                               until=customer.drop_at, until_text=customer.drop_at)
        raise ClaimRefused("drop_due", N_("The drop is being drawn: try again in a moment."))
    if customer.released_at:
        frozen_until = customer.released_at + dt.timedelta(hours=rules["frozen_hours"])
        if now < frozen_until:
            raise ClaimRefused("frozen", N_("Freshly released: frozen until %(until_text)s."), until=frozen_until,
                               until_text=frozen_until)
        if customer.released_from == actor.id:
            until = customer.released_at + dt.timedelta(days=rules["cooling_off_days"])
            if now < until:
                raise ClaimRefused("cooling_off", N_("You released this customer: cooling-off until %(until_text)s."),
                                   until=until, until_text=until)
        elif actor.team_id and customer.released_team == actor.team_id:
            until = customer.released_at + dt.timedelta(days=rules["team_cooling_off_days"])
            if now < until:
                raise ClaimRefused("team_cooling_off",
                                   N_("Your team released this customer: cooling-off until %(until_text)s."),
                                   until=until, until_text=until)


def _appealed(customer, context):
    """Whether an open release appeal holds the customer: from the claim context when it read this one's."""
    if context and context.get("appealed") is not None and customer.id in context["appealed_known"]:
        return customer.id in context["appealed"]
    return held_by_appeal(customer.id)


def _required_reason(text, message):
    """A reason the verb cannot go without (cleaned, at most 300 characters), or `message` as the error."""
    value = clean_text(text, 300)
    if not value:
        raise DomainError(message)
    return value


def _clock_start(customer, team_id, now):
    """When the new owner's release clock starts: a re-claim inside the team that released the
    customer keeps the old start (domain §5), so releasing to a team mate cannot reset it."""
    if customer.claimed_at and team_id and customer.released_team == team_id:
        return customer.claimed_at
    return now


def _fmt(value):
    """A time as text for a stored notification's values (they are kept as JSON). A refusal passes the time
    itself: the page writes it in the reader's language (views.i18n.translate_error)."""
    return clock.to_local(value).strftime("%Y-%m-%d %H:%M") if value else ""


def stored_params(params):
    """A refusal's values as a notification keeps them (JSON): text, a time in business time."""
    return {k: str(v) for k, v in plain_values(params).items()}


def claim_customer(actor, customer_id, now=None):
    """Claim a pool customer. Exactly one of several simultaneous claims wins; no rep exceeds capacity."""
    now = now or clock.now()
    rules = rules_mod.in_force(now)
    try:
        with db.atomic():
            lock(User, actor.id)  # the rep's capacity and daily claims are counted, then spent
            customer = row_by_id(Customer, customer_id)
            if customer is None:
                raise NotFound()
            check_claim(actor, customer, rules, now)
            from_pool = customer.pool_id
            claimed = {"owner": actor.id, "team": actor.team_id, "pool": None, "staked_by": None, "stake_due": None,
                       "claimed_at": _clock_start(customer, actor.team_id, now), "updated_at": now}
            for name, value in claimed.items():  # the row as it is written, and its release date with it
                setattr(customer, name, value)
            at, rule, _ = release_plan(customer, rules, now)
            customer.release_at, customer.release_rule = claimed["release_at"], claimed["release_rule"] = at, rule
            changed = (Customer.update(**claimed).where((Customer.id == customer.id) & Customer.owner.is_null())
                       .execute())
            if not changed:
                raise ClaimRefused("taken", N_("This customer is no longer in the pool."))
            customer._dirty.clear()
            ledger.record("claim", actor, customer, now, rules, to_owner=actor.id, from_pool=from_pool,
                    inputs={"release_at": at.isoformat(sep=" ") if at else None, "release_rule": rule})
            audit.record("pool.claimed", actor, customer, pool_id=from_pool, owner=actor.full_name)
            perf.claimed(actor, customer.id, now)
            hooks.fire("owner_changed", actor, [customer.id], None, actor.id, "", rows=[customer])
    except ClaimRefused as exc:
        with db.atomic():
            ledger.record("claim_refused", actor, customer if "customer" in locals() and customer else None, now, rules,
                    inputs={"rule": exc.rule, "until": exc.until.isoformat(sep=" ") if exc.until else None})
        raise
    return customer


# ---- release and assign ------------------------------------------------------------------

def release_customer(actor, customer, reason, now=None, kind="release", rules=None, inputs=None):
    """Put an owned customer back into its pool with its full history. Manual releases need a reason."""
    now = now or clock.now()
    rules = rules or rules_mod.in_force(now)
    if kind == "release":
        require(actor, "customer.release", customer)
        reason = _required_reason(reason, N_("Say why you release this customer: the next owner will read it."))
    with db.atomic():
        customer = fresh(customer)  # FOR UPDATE on PostgreSQL
        if customer.owner_id is None:
            raise DomainError(N_("This customer is already in the pool."))
        if kind == "release":  # the owner who may release is the one it has now, not when the page was read
            require(actor, "customer.release", customer)
        _release_row(actor, customer, reason or "", now, kind, rules, inputs or {}, home_pool(customer))
    return Customer.get_by_id(customer.id)


def _release_row(actor, customer, reason, now, kind, rules, inputs, pool):
    """The writes of a release, for a row read inside the caller's transaction."""
    old_owner, old_team = customer.owner_id, customer.team_id
    (Customer.update(owner=None, team=None, pool=pool.id if pool else None, released_at=now,
                     released_from=old_owner, released_team=old_team, release_at=None,
                     release_rule="", locked=False, updated_at=now)
     .where(Customer.id == customer.id).execute())
    ledger.record(kind, actor, customer, now, rules, from_owner=old_owner, to_pool=pool.id if pool else None,
            reason=reason, inputs=inputs)
    audit.record("pool.released" if kind == "release" else "pool.forced_release", actor, customer,
                 pool=pool.name_zh if pool else "", pool_en=pool.name_en if pool else "",
                 from_owner_id=old_owner, reason=reason, inputs=inputs, rule_version=rules.version)
    hooks.fire("owner_changed", actor, [customer.id], old_owner, None, reason)
    if kind == "forced_release":
        notify(old_owner, "released", N_("%(name)s went back to the pool: %(why)s"), customer.id,
               dedupe_key=f"released:{customer.id}:{now.isoformat()}", name=customer.name, why=reason)


def assign_customer(actor, customer, rep, reason="", now=None):
    """A manager gives a pool customer to a member of the team (capacity still applies)."""
    require(actor, "pool.assign", customer)
    now = now or clock.now()
    rules = rules_mod.in_force(now)
    if rep is None or not rep.active or rep.role not in ("sales", "manager") or \
            (actor.role == "manager" and rep.team_id != actor.team_id):
        raise DomainError(N_("Choose an active member of your team."))
    with db.atomic():
        customer = fresh(customer)
        if customer.owner_id is not None:
            raise DomainError(N_("This customer is no longer in the pool."))
        if customer.quarantined_at is not None:
            raise DomainError(QUARANTINED)
        require(actor, "pool.assign", customer)
        fresh(rep)  # active and in the team as it is now
        if not rep.active or rep.role not in ("sales", "manager") or \
                (actor.role == "manager" and rep.team_id != actor.team_id):
            raise DomainError(N_("Choose an active member of your team."))
        cap = capacity(rep, now, rules)
        if cap["used"] >= cap["total"]:
            raise DomainError(N_("%(name)s's private pool is full (%(used)s of %(total)s)."), name=rep.full_name,
                              used=cap["used"], total=cap["total"])
        check_release_holds(rep, customer, rules, now)  # no assigning around a freeze or cooling-off
        from_pool = customer.pool_id
        Customer.update(owner=rep.id, team=rep.team_id, pool=None, claimed_at=_clock_start(customer, rep.team_id, now),
                        staked_by=None, stake_due=None,
                        updated_at=now).where(Customer.id == customer.id).execute()
        customer = Customer.get_by_id(customer.id)
        refresh_release(customer, rules, now)
        reason = clean_text(reason, 300) or ""
        ledger.record("assign", actor, customer, now, rules, to_owner=rep.id, from_pool=from_pool, reason=reason)
        perf.customer_given(rep.id, rep.team_id, now)  # a new customer for the rep
        audit.record("pool.assigned", actor, customer, owner=rep.full_name, owner_id=rep.id, reason=reason)
        hooks.fire("owner_changed", actor, [customer.id], None, rep.id, reason)
        notify(rep.id, "assigned", N_("%(manager)s assigned %(name)s to you."), customer.id,
               manager=actor.full_name, name=customer.name)
    return customer


# ---- locks ---------------------------------------------------------------------------------

def request_lock(actor, customer, reason, now=None):
    """The owner (or their manager) asks to lock a customer against forced release, with a reason.
    One request waits per customer: checked under the write lock and kept by a partial unique index,
    so ten requests sent at once leave one waiting and nine refusals."""
    require(actor, "customer.edit", customer)
    now = now or clock.now()
    reason = _required_reason(reason, N_("Say why this customer should be locked."))
    already_waiting = N_("A lock request for this customer is already waiting.")
    try:
        with db.atomic():
            customer = fresh(customer)  # as it is now, under the write lock
            require(actor, "customer.edit", customer)
            if customer.owner_id is None:
                raise DomainError(N_("Only owned customers can be locked."))
            if customer.stage in DEALT_STAGES:
                raise DomainError(N_("Dealt customers cannot be locked."))
            if customer.locked:
                raise DomainError(N_("This customer is already locked."))
            if LockRequest.select().where((LockRequest.customer == customer.id)
                                          & (LockRequest.status == "pending")).exists():
                raise DomainError(already_waiting)
            req = LockRequest.create(customer=customer, requester=actor, reason=reason, created_at=now)
            audit.record("pool.lock_requested", actor, customer, reason=reason, request_id=req.id)
    except pw.IntegrityError:  # another request got in between (PostgreSQL has no BEGIN IMMEDIATE)
        raise DomainError(already_waiting) from None
    return req


def decide_lock(actor, request_id, approve, reason, now=None):
    """A manager approves (within the owner's lock capacity) or rejects a lock request, with a reason.
    Two managers deciding at once: the first decision stands, the second is told. The request's status
    and the customer's lock flag change by conditional updates whose row counts decide, before the
    ledger row is written: one approval locks the customer once, with one ledger row."""
    now = now or clock.now()
    rules = rules_mod.in_force(now)
    reason = _required_reason(reason, N_("Give a reason for the decision."))
    with db.atomic():
        req = LockRequest.get_or_none(LockRequest.id == request_id)
        if req is None:
            raise NotFound()
        customer = Customer.get_by_id(req.customer_id)
        require(actor, "lock.decide", customer)
        if req.status != "pending":
            raise DomainError(N_("This request was already decided."))
        updated = (LockRequest.update(status="approved" if approve else "rejected", decided_by=actor.id,
                                      decided_at=now, decision_reason=reason)
                   .where((LockRequest.id == req.id) & (LockRequest.status == "pending")).execute())
        if not updated:
            raise DomainError(N_("This request was already decided."))
        if approve:
            owner = User.get_by_id(customer.owner_id) if customer.owner_id else None
            if owner is None:
                raise DomainError(N_("Only owned customers can be locked."))
            if customer.stage in DEALT_STAGES:  # signed while the request waited
                raise DomainError(N_("Dealt customers cannot be locked."))
            locks = Customer.select().where((Customer.owner == owner.id) & (Customer.locked == True)).count()  # noqa: E712
            if locks >= rules["lock_capacity"]:
                raise DomainError(N_("%(name)s already has %(n)s locked customers, the limit."),
                                  name=owner.full_name, n=locks)
            if not Customer.update(locked=True).where((Customer.id == customer.id)
                                                      & (Customer.locked == False)).execute():  # noqa: E712
                raise DomainError(N_("This customer is already locked."))
            customer.locked = True
            refresh_release(customer, rules, now)
            ledger.record("lock", actor, customer, now, rules, to_owner=owner.id, reason=reason,
                    inputs={"request_id": req.id, "requested_reason": req.reason})
        audit.record("pool.lock_approved" if approve else "pool.lock_rejected", actor, customer, reason=reason)
        notify(req.requester_id, "lock_decided",
               N_("Your lock request for %(name)s was approved: %(reason)s") if approve else
               N_("Your lock request for %(name)s was rejected: %(reason)s"), customer.id,
               name=customer.name, reason=reason)
    return req


def unlock_customer(actor, customer, reason, now=None):
    require(actor, "lock.decide", customer)
    now = now or clock.now()
    rules = rules_mod.in_force(now)
    reason = clean_text(reason, 300) or ""
    with db.atomic():
        fresh(customer)  # the release date is computed from the row as it is now
        require(actor, "lock.decide", customer)
        if not customer.locked:
            raise DomainError(N_("This customer is not locked."))
        Customer.update(locked=False).where(Customer.id == customer.id).execute()
        customer.locked = False
        at = refresh_release(customer, rules, now)
        ledger.record("unlock", actor, customer, now, rules, reason=reason,
                inputs={"release_at": at.isoformat(sep=" ") if at else None})
        audit.record("pool.unlocked", actor, customer, reason=reason)
    return customer


# ---- stakes (占坑) ------------------------------------------------------------------------

def stake_customer(actor, customer, now=None):
    """Stake a pool customer: it stays in the pool but is reserved to the staker, who must bring
    it to the completeness threshold within D days or the stake lapses."""
    require(actor, "pool.stake", customer)
    now = now or clock.now()
    rules = rules_mod.in_force(now)
    with db.atomic():
        lock(User, actor.id)  # the stake quota is counted, then spent
        customer = fresh(customer)
        if customer.owner_id is not None or customer.pool_id is None:
            raise DomainError(N_("Only pool customers can be staked."))
        require(actor, "pool.stake", customer)
        if customer.staked_by_id:
            raise DomainError(N_("This customer is already staked."))
        check_release_holds(actor, customer, rules, now)
        cap = capacity(actor, now, rules)
        if cap["stakes"] >= cap["stake_quota"]:
            raise DomainError(N_("You hold %(n)s stakes, your quota."), n=cap["stakes"])
        due = now + dt.timedelta(days=rules["stake_days"])
        changed = (Customer.update(staked_by=actor.id, stake_due=due, staked_at=now, stake_completed_at=None)
                   .where((Customer.id == customer.id) & Customer.staked_by.is_null()).execute())
        if not changed:
            raise DomainError(N_("This customer is already staked."))
        ledger.record("stake", actor, customer, now, rules, to_owner=actor.id,
                inputs={"due": due.isoformat(sep=" "), "threshold": rules["stake_threshold"],
                        "completeness": customer.completeness})
        audit.record("pool.staked", actor, customer, due=due.isoformat(sep=" "), threshold=rules["stake_threshold"])
    return Customer.get_by_id(customer.id)


def check_stake_completion(customer, now=None):
    """Mark a stake completed once the file reaches the threshold (called after edits)."""
    if not customer.staked_by_id or customer.stake_completed_at:
        return False
    now = now or clock.now()
    rules = rules_mod.in_force(now)
    if customer.completeness < rules["stake_threshold"]:
        return False
    Customer.update(stake_completed_at=now).where(Customer.id == customer.id).execute()
    customer.stake_completed_at = now
    ledger.record("stake_completed", None, customer, now, rules, to_owner=customer.staked_by_id,
            inputs={"completeness": customer.completeness, "threshold": rules["stake_threshold"]})
    return True


# ---- pool views ---------------------------------------------------------------------------

def record_pool_view(actor, customer, now=None):
    """A rep opening a pool customer's file counts against the daily view limit, once per customer a
    day whichever part of the file is opened. The count and the insert run under the write lock, so
    the fragments of one page (or two tabs) loading at once cannot slip past the limit together."""
    now = now or clock.now()
    if actor.role not in ("sales", "manager") or customer.owner_id is not None:
        return
    day = clock.to_local(now).date()
    seen_today = PoolView.select().where((PoolView.user == actor.id) & (PoolView.day == day)
                                         & (PoolView.customer == customer.id))
    if seen_today.exists():
        return
    rules = rules_mod.in_force(now)
    with db.atomic():
        lock(User, actor.id)  # the day's views are counted, then one is added
        if seen_today.exists():
            return
        seen = PoolView.select().where((PoolView.user == actor.id) & (PoolView.day == day)).count()
        if seen >= rules["views_per_day"]:
            raise DomainError(N_("You have opened %(n)s pool customers today, the daily limit. Again tomorrow."), n=seen)
        PoolView.insert(user=actor.id, customer=customer.id, day=day).on_conflict_ignore().execute()


# ---- the sweep --------------------------------------------------------------------------------

def sweep(now=None, batch=500, chunk=100):
    """Release what is due, warn what is close, lapse overdue stakes. Idempotent: a second run at the
    same `now` changes nothing. Releases commit in chunks of `chunk` customers, each chunk one
    transaction that re-reads its rows under the write lock, so a sweep killed halfway leaves
    consistent rows and the next run finishes the job."""
    now = now or clock.now()
    rules = rules_mod.in_force(now)
    _refresh_stale(rules, now, batch)
    released = warned = lapsed = kept = 0
    cursor = None  # (release_at, id) of the last row seen: pages on the release_at index
    pools_by_region = {}
    while True:
        q = Customer.select(Customer.id, Customer.release_at).where(
            Customer.release_at.is_null(False) & (Customer.release_at <= now))
        if cursor:
            q = q.where(pw.Tuple(Customer.release_at, Customer.id) > pw.Tuple(*cursor))
        due = list(q.order_by(Customer.release_at, Customer.id).limit(batch))
        if not due:
            break
        cursor = (due[-1].release_at, due[-1].id)
        ids = [c.id for c in due]
        for start in range(0, len(ids), chunk):
            with db.atomic():  # decide on the rows as they are now: a follow-up or a release may have come in
                pool_clock.prefetch(rules, ids[start:start + chunk])  # their reorder cycles, in one query
                plans = []
                # locked rows: a sweep running at the same time waits, then finds them released
                for customer in for_update(Customer.select().where(Customer.id.in_(ids[start:start + chunk]))
                                           .order_by(Customer.id)):
                    if customer.owner_id is None:
                        continue
                    at, rule, inputs = release_plan(customer, rules, now)
                    if at is None or at > now:
                        kept += rule == "order"  # its clocks ran out; a recent order or payment holds it
                        refresh_release(customer, rules, now)
                        continue
                    if customer.region_id not in pools_by_region:
                        pools_by_region[customer.region_id] = home_pool(customer)
                    plans.append((customer, rule, {**inputs, "rule": rule}, pools_by_region[customer.region_id]))
                _release_rows(plans, now, rules)
                released += len(plans)
    for days in rules["warning_days"]:
        window_end = now + dt.timedelta(days=days)
        window_start = now + dt.timedelta(days=days - 1)
        rows = (Customer.select(Customer.id, Customer.name, Customer.owner, Customer.team, Customer.release_at)
                .where((Customer.release_at > window_start) & (Customer.release_at <= window_end)))
        with db.atomic():
            for c in rows:
                key = f"warn:{c.id}:{days}:{c.release_at.isoformat()}"
                if notify(c.owner_id, "release_warning",
                          N_("%(name)s will go back to the pool on %(when)s unless you log a valid follow-up."),
                          c.id, dedupe_key=key, name=c.name, when=_fmt(c.release_at)):
                    warned += 1
                if days == min(rules["warning_days"]) and c.team_id:
                    manager = Team.get_or_none(Team.id == c.team_id)
                    if manager and manager.manager_id:
                        notify(manager.manager_id, "release_warning_manager",
                               N_("%(name)s (owned by your team) goes back to the pool on %(when)s."), c.id,
                               dedupe_key=key + ":mgr", name=c.name, when=_fmt(c.release_at))
    warned += pool_clock.warn_reorders(rules, now)  # orders 1.5× the usual interval late: the owner hears
    warned += pool_clock.warn_stuck_opportunities(rules, now)  # a deal stuck in one stage too long
    warned += pool_clock.note_stuck_deals(rules, now)  # … and now counting against the customer's protection
    for c in Customer.select().where(Customer.staked_by.is_null(False) & Customer.stake_completed_at.is_null()
                                     & (Customer.stake_due <= now)):
        with db.atomic():
            current = for_update(Customer.select().where(Customer.id == c.id)).get()
            if current.staked_by_id is None or current.stake_completed_at or current.stake_due > now:
                continue
            if check_stake_completion(current, now):
                continue
            Customer.update(staked_by=None, stake_due=None, staked_at=None).where(Customer.id == c.id).execute()
            ledger.record("stake_lapsed", None, current, now, rules, from_owner=current.staked_by_id,
                    inputs={"completeness": current.completeness, "threshold": rules["stake_threshold"],
                            "due": current.stake_due.isoformat(sep=" ")})
            audit.record("pool.stake_lapsed", None, current, completeness=current.completeness,
                         threshold=rules["stake_threshold"])
            notify(current.staked_by_id, "stake_lapsed",
                   N_("Your stake on %(name)s lapsed: %(c)s%% complete, %(t)s%% needed."), current.id,
                   dedupe_key=f"lapsed:{current.id}:{current.stake_due.isoformat()}", name=current.name,
                   c=current.completeness, t=rules["stake_threshold"])
            lapsed += 1
    return {"released": released, "warned": warned, "lapsed": lapsed, "kept_by_orders": kept,
            "rule_version": rules.version}


def _release_rows(plans, now, rules):
    """The forced releases of one sweep chunk as bulk writes (the same rows _release_row writes)."""
    if not plans:
        return
    p = db.param
    db.cursor().executemany(
        f"UPDATE customer SET owner_id = NULL, team_id = NULL, pool_id = {p}, released_at = {p}, "
        f"released_from = {p}, released_team = {p}, release_at = NULL, release_rule = '', locked = {p}, "
        f"updated_at = {p} WHERE id = {p}",
        [(pool.id if pool else None, now, c.owner_id, c.team_id, False, now, c.id) for c, _, _, pool in plans])
    ledger, events, notes = [], [], []
    for c, rule, inputs, pool in plans:
        why = _release_reason(rule, inputs)
        ledger.append({"at": now, "kind": "forced_release", "actor": None, "customer": c.id, "subject": None,
                       "from_owner": c.owner_id, "to_owner": None, "from_pool": None,
                       "to_pool": pool.id if pool else None, "rule_version": rules.version, "inputs": inputs,
                       "reason": why})
        events.append({"at": now, "actor": None, "customer": c.id, "kind": "pool.forced_release",
                       "data": {"pool": pool.name_zh if pool else "", "pool_en": pool.name_en if pool else "",
                                "from_owner_id": c.owner_id, "reason": why, "inputs": inputs,
                                "rule_version": rules.version}})
        notes.append({"user": c.owner_id, "at": now, "kind": "released", "customer": c.id, "read_at": None,
                      "message": N_("%(name)s went back to the pool: %(why)s"),
                      "params": {"name": c.name, "why": why}, "dedupe_key": f"released:{c.id}:{now.isoformat()}"})
    PoolEvent.insert_many(ledger).execute()
    audit.AuditEvent.insert_many(events).execute()
    Notification.insert_many(notes).on_conflict_ignore().execute()
    by_owner = {}
    for c, _rule, _inputs, _pool in plans:
        by_owner.setdefault(c.owner_id, []).append(c.id)
    for owner_id, ids in by_owner.items():
        hooks.fire("owner_changed", None, ids, owner_id, None, "")


def _refresh_stale(rules, now, batch):
    """Recompute the release dates that time or a rule change made stale, before the release loop:
    every owned customer's once per rule version in force (the new periods apply from their start,
    as the preview said), and those whose contract exemption has ended."""
    new_version = rules.version and not PoolEvent.select().where(
        (PoolEvent.kind == "rules_applied") & (PoolEvent.rule_version == rules.version)).exists()
    if not new_version:
        # Only the ended contracts: a small set, found on the (release_rule, contract_end) index.
        ended = clock.to_local(now).date() - dt.timedelta(days=rules["contract_grace_days"])
        with db.atomic():
            for customer in list(Customer.select().where((Customer.release_rule == "contract")
                                                         & (Customer.contract_end < ended))):
                refresh_release(customer, rules, now)
        return
    query = Customer.select().where(Customer.owner > 0)  # > 0 rather than IS NOT NULL: the owner index
    count, last_id = 0, 0
    while True:
        with db.atomic():  # read and write in one transaction: no concurrent follow-up is overwritten
            rows = list(query.where(Customer.id > last_id).order_by(Customer.id).limit(batch))
            pool_clock.prefetch(rules, [c.id for c in rows])
            for customer in rows:
                refresh_release(customer, rules, now)
        if not rows:
            break
        last_id, count = rows[-1].id, count + len(rows)
    if new_version:
        with db.atomic():
            if not PoolEvent.select().where((PoolEvent.kind == "rules_applied")
                                            & (PoolEvent.rule_version == rules.version)).exists():
                ledger.record("rules_applied", None, None, now, rules, inputs={"customers": count})


def _release_reason(rule, inputs):
    paused = " + %s days paused by a delegation" % inputs["paused_days"] if inputs.get("paused_days") else ""
    if inputs.get("last_deal_on"):
        paused += "; last signed order or payment on %s, more than %s days before" % (
            inputs["last_deal_on"], inputs.get("deal_days"))
    paused += pool_clock.reason_words(inputs)
    if rule == "reorder":
        return "no order since %s, %s%% of the usual %s days (rule v%s)" % (
            inputs["reorder_last_order"], inputs["reorder_percent"], inputs["reorder_interval"],
            inputs.get("rule_version", 0))
    if rule == "stuck":
        return "no valid follow-up since %s counted: opportunity #%s stuck in one stage since %s (rule v%s: %s days%s)" % (
            inputs["since"][:10], inputs.get("stuck_opportunity_id"), inputs["stuck_since"][:10],
            inputs.get("rule_version", 0), inputs["days"], paused)
    if rule == "no_followup":
        return "no valid follow-up since %s (rule v%s: %s days%s)" % (
            inputs["since"][:10], inputs.get("rule_version", 0), inputs["days"], paused)
    return "no deal since the claim on %s (rule v%s: %s days%s)" % (
        inputs["claimed_at"][:10], inputs.get("rule_version", 0), inputs["days"], paused)


# ---- rule preview -------------------------------------------------------------------------

def preview_rules(settings, effective_from, horizon_days=30, limit=200, baseline=None):
    """Who the new settings would release, when, and how many per team, on the real data, changing
    nothing: every owned customer's release date under the new rules within the horizon. The same
    figures under the rules in force (`baseline`, default: in force at `effective_from`) come beside them
    (`baseline_total`, `baseline_per_team`), so the preview says what the change changes."""
    rules = rules_mod.Rules(settings, version=0)
    baseline = baseline or rules_mod.in_force(effective_from)
    end = effective_from + dt.timedelta(days=horizon_days)
    rows, per_team, total, base_per_team, base_total = [], {}, 0, {}, 0
    query = (Customer.select(Customer.id, Customer.name, Customer.owner, Customer.team, Customer.locked,
                             Customer.contract_end, Customer.claimed_at, Customer.created_at, Customer.stage,
                             Customer.last_valid_followup_at, Customer.business_model, Customer.release_at,
                             Customer.region, Customer.pool, Customer.value_tier, Customer.last_deal_on,
                             Customer.deal_stage_since, Customer.deal_stage_opportunity)
             .where(Customer.owner > 0))  # > 0 rather than IS NOT NULL: walks the owner index
    kept, base_kept = 0, 0  # held past the horizon by a recent order or payment, though their clocks ran out
    frozen, base_frozen = 0, 0  # held past the horizon by a freeze window or a pause (models/pool_clock.py)
    stuck, base_stuck = 0, 0  # released within the horizon because a stuck deal's follow-ups no longer count
    pool_clock.prefetch(rules)
    pool_clock.prefetch(baseline)
    for c in query.iterator():
        base_at, base_rule, base_inputs = release_plan(c, baseline, effective_from)
        if base_at is not None and base_at <= end:
            base_total += 1
            base_stuck += base_rule == "stuck"
            base_per_team[c.team_id] = base_per_team.get(c.team_id, 0) + 1
        else:
            base_kept += _kept_by_orders(base_inputs, end)
            base_frozen += pool_clock.held(base_inputs, end)
        at, rule, inputs = release_plan(c, rules, effective_from)
        if at is None or at > end:
            kept += _kept_by_orders(inputs, end)
            frozen += pool_clock.held(inputs, end)
            continue
        when = max(at, effective_from)
        total += 1
        stuck += rule == "stuck"
        per_team[c.team_id] = per_team.get(c.team_id, 0) + 1
        if len(rows) < limit * 5:
            rows.append({"id": c.id, "name": c.name, "owner_id": c.owner_id, "team_id": c.team_id, "at": when,
                         "rule": rule, "current": c.release_at})
    rows.sort(key=lambda r: r["at"])
    teams = [{"team_id": t, "new": per_team.get(t, 0), "baseline": base_per_team.get(t, 0),
              "difference": per_team.get(t, 0) - base_per_team.get(t, 0)} for t in set(per_team) | set(base_per_team)]
    teams.sort(key=lambda r: (-abs(r["difference"]), -r["new"], r["team_id"] or 0))
    return {"total": total, "per_team": per_team, "rows": rows[:limit], "baseline_total": base_total,
            "baseline_per_team": base_per_team, "baseline_version": baseline.version, "teams": teams,
            "difference": total - base_total, "kept_by_orders": kept, "baseline_kept_by_orders": base_kept,
            "held_by_freeze": frozen, "baseline_held_by_freeze": base_frozen, "by_stuck_deals": stuck,
            "baseline_by_stuck_deals": base_stuck}


def _kept_by_orders(inputs, end):
    """Whether a release plan's clocks alone would have released the customer by `end`, and only a recent
    signed order or payment holds it past `end`."""
    unprotected = inputs.get("unprotected_at")
    return bool(unprotected) and dt.datetime.fromisoformat(unprotected) <= end


# ---- ledger -------------------------------------------------------------------------------------

# ---- nobody's customers: every file is somewhere someone can see it ---------------------------

MARKETING_ONLY = ("unidentified", "prospect")  # marketing's leads: unowned and in no pool by design


def orphans():
    """Customers past marketing's stages with no owner and in no pool: nobody could see or claim them.
    The invariant is that there are none; `place_orphan` and the sweep's `repair_orphans` keep it."""
    return Customer.select().where(Customer.owner.is_null() & Customer.pool.is_null()
                                   & Customer.stage.not_in(MARKETING_ONLY))


def place_orphan(actor, customer_id, now=None, why="placed"):
    """Inside the caller's transaction: an unowned customer past the marketing stages goes to its home
    pool (its region's, else an open one), with a ledger row and a timeline row. No-op otherwise."""
    now = now or clock.now()
    customer = Customer.get_or_none(Customer.id == customer_id)
    if customer is None or customer.owner_id or customer.pool_id or customer.stage in MARKETING_ONLY:
        return None
    pool = home_pool(customer)
    if pool is None:
        return None
    changed = (Customer.update(pool=pool.id, release_at=None, release_rule="")
               .where((Customer.id == customer.id) & Customer.owner.is_null() & Customer.pool.is_null())
               .execute())
    if not changed:
        return None
    rules = rules_mod.in_force(now)
    ledger.record("placed", actor, customer, now, rules, to_pool=pool.id, reason=why, inputs={"stage": customer.stage})
    audit.record("pool.placed", actor, customer, pool=pool.name_zh, pool_en=pool.name_en, why=why)
    return pool


def place_orphans(actor, customer_ids, now=None, why="placed"):
    """`place_orphan` for many customers at once (an import's chunk), inside the caller's transaction: one
    update per home pool, the ledger and timeline rows written in bulk. Returns how many were placed."""
    now = now or clock.now()
    rows = list(Customer.select(Customer.id, Customer.region, Customer.stage)
                .where(id_in(Customer.id, customer_ids) & Customer.owner.is_null() & Customer.pool.is_null()
                       & Customer.stage.not_in(MARKETING_ONLY)))
    groups = {}
    for c, pool in zip(rows, home_pools(rows)):
        if pool is not None:
            groups.setdefault(pool, []).append(c)
    for pool, members in groups.items():
        (Customer.update(pool=pool.id, release_at=None, release_rule="")
         .where(id_in(Customer.id, [c.id for c in members]) & Customer.owner.is_null() & Customer.pool.is_null())
         .execute())
    return record_placements(actor, [(c.id, c.stage, pool) for pool, members in groups.items() for c in members],
                             now, why)


def home_pools(customers):
    """The pool `place_orphan` puts each of `customers` (rows with region_id and stage) in, None for marketing's
    stages: one look-up per region. A bulk writer (an import) sets it on the rows it inserts, then records
    them with `record_placements`, instead of updating them after."""
    homes, out = {}, []
    for c in customers:
        if c.stage in MARKETING_ONLY:
            out.append(None)
            continue
        if c.region_id not in homes:
            homes[c.region_id] = home_pool(c)
        out.append(homes[c.region_id])
    return out


def record_placements(actor, placed, now, why):
    """The ledger and timeline rows of customers placed in bulk, `placed` = [(customer id, stage, pool)]:
    written together, inside the caller's transaction. Returns how many."""
    if not placed:
        return 0
    rules = rules_mod.in_force(now)
    actor_id = getattr(actor, "id", actor)
    bulk_insert(PoolEvent, [dict(at=now, kind="placed", actor=actor_id, customer=cid, subject=None, from_owner=None,
                                 to_owner=None, from_pool=None, to_pool=pool.id, rule_version=rules.version,
                                 inputs={"stage": stage}, reason=why) for cid, stage, pool in placed])
    at = clock.now()
    bulk_insert(audit.AuditEvent, [dict(at=at, actor=actor_id, customer=cid, kind="pool.placed",
                                        data={"pool": pool.name_zh, "pool_en": pool.name_en, "why": why})
                                   for cid, _, pool in placed])
    return len(placed)


def repair_orphans(now=None, batch=500):
    """Sweep: place every orphaned customer (a repair: the verbs place them; this catches the rest,
    e.g. rows written by an import or by hand). Idempotent."""
    now = now or clock.now()
    placed = 0
    while True:
        ids = [c.id for c in orphans().select(Customer.id).order_by(Customer.id).limit(batch)]
        if not ids:
            break
        with db.atomic():
            for customer_id in ids:
                placed += bool(place_orphan(None, customer_id, now, why="repair"))
        if len(ids) < batch:
            break
    return {"placed": placed}


# ---- bulk upkeep (imports, demo data, rule changes) ----------------------------------------

def place_unowned(batch=5000):
    """Put every unowned customer past the marketing stages into its region's pool (bulk)."""
    pool_of_region = {p.region_id: p.id for p in Pool.select().where(Pool.active == True)}  # noqa: E712
    fallback = pool_of_region.get(None) or next(iter(pool_of_region.values()), None)
    with db.atomic():
        for region_id, pool_id in pool_of_region.items():
            if region_id is None:
                continue
            (Customer.update(pool=pool_id)
             .where(Customer.owner.is_null() & Customer.pool.is_null() & (Customer.region == region_id)
                    & Customer.stage.not_in(("unidentified", "prospect"))).execute())
        if fallback:
            (Customer.update(pool=fallback)
             .where(Customer.owner.is_null() & Customer.pool.is_null()
                    & Customer.stage.not_in(("unidentified", "prospect"))).execute())


def recompute_releases(now=None, batch=2000):
    """Recompute every owned customer's release date under the rules in force (bulk, in batches)."""
    now = now or clock.now()
    rules = rules_mod.in_force(now)
    last = 0
    while True:
        with db.atomic():  # read and write under one lock: a release in between must not get a date back
            rows = list(Customer.select(Customer.id, Customer.owner, Customer.locked, Customer.contract_end,
                                        Customer.last_deal_on, Customer.claimed_at, Customer.created_at, Customer.stage,
                                        Customer.business_model, Customer.last_valid_followup_at, Customer.region,
                                        Customer.pool, Customer.value_tier, Customer.deal_stage_since,
                                        Customer.deal_stage_opportunity)
                        .where(Customer.owner.is_null(False) & (Customer.id > last)).order_by(Customer.id)
                        .limit(batch))
            if not rows:
                break
            values = []
            pool_clock.prefetch(rules, [c.id for c in rows])
            for c in rows:
                at, rule, _ = release_plan(c, rules, now)
                values.append((at, rule, c.id))
            p = db.param  # the engine's placeholder (? for SQLite, %s for PostgreSQL)
            db.cursor().executemany(f"UPDATE customer SET release_at = {p}, release_rule = {p} WHERE id = {p}",
                                    [(a.isoformat(sep=" ") if a else None, r, i) for a, r, i in values])
        last = rows[-1].id


# The pool sweep runs before every other domain's (they see this sweep's releases), then the orphan repair.
hooks.on("sweep", sweep, first=True, name="pools")
hooks.on("sweep", repair_orphans, first=True, name="orphans")


def _release_inputs_changed(customer, now):
    refresh_release(customer, now=now)


def _file_edited(customer):
    if customer.staked_by_id:
        check_stake_completion(customer)


def _left_unowned(actor, customer_id, now, why):
    place_orphan(actor, customer_id, now, why=why)


hooks.on("customer_changed", _release_inputs_changed)
hooks.on("customer_edited", _file_edited)
hooks.on("customer_unowned", _left_unowned)
