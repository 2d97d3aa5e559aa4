"""Delegation (工作代理): a short absence covered by a colleague, domain §4 and issue 5 point 5.

A delegation names an absentee, a delegate and a date range (business days, both ends included).
While it runs the delegate sees and works the absentee's customers (models/permissions.py asks
`acting_for_ids`), acting for the absentee (audit rows carry `acting_for`); ownership never changes.
The absentee's release clocks stand still for the range: `release_pause` pushes each clock by the
time it overlaps a delegation, so the release date is right before, during and after the absence
without any sweep, and the delegation ends by itself at its end date.
"""
from models import audit, clock, ledger, pools, rules as rules_mod
from models.base import db
from models.customers import Customer
from models.fields import clean_text, id_or_none, parse_date, parse_id, take
from models.delegation_tables import (  # noqa: F401  the tables and reads, re-exported
    MAX_DAYS, SELLER_ROLES, Delegation, _active_where, acting_for_data, acting_for_ids, forget_pauses,
    release_pause)
from models.errors import N_, DomainError, FieldErrors, NotFound, ValidationError
from models.notifications import notify
from models.permissions import require
from models.users import User


# ---- verbs ----------------------------------------------------------------------------------------

def _user_of(value, field, errors):
    pk = id_or_none(value)
    if pk is None:
        errors[field] = [(N_("Choose a colleague."), {})]
        return None
    user = User.get_or_none(User.id == pk)
    if user is None:
        errors[field] = [(N_("Choose a colleague."), {})]
    return user


def overlapping(absentee_id, starts_on, ends_on, role="absentee", exclude_id=None):
    """Live delegations of `absentee_id` (as absentee or as delegate) whose range meets the given one."""
    column = Delegation.absentee if role == "absentee" else Delegation.delegate
    q = Delegation.select().where((column == absentee_id) & (Delegation.starts_on <= ends_on)
                                  & (Delegation.ends_on >= starts_on) & Delegation.cancelled_at.is_null())
    if exclude_id:
        q = q.where(Delegation.id != exclude_id)
    return q


def create_delegation(actor, data, now=None):
    """A rep (or their manager, or an admin) names an active colleague of the same role family to act for
    the rep from `starts_on` to `ends_on`. Refused: oneself, a deactivated or non-selling colleague, a
    range that ends before it starts, starts in the past or is longer than 90 days, and any overlap with
    another delegation of the absentee or of the delegate being away then. Pushes the absentee's release
    dates by the paused time and writes the ledger."""
    now = now or clock.now()
    errors = FieldErrors()
    absentee = _user_of(data.get("absentee_id") or getattr(actor, "id", None), "absentee_id", errors)
    if absentee is not None:
        require(actor, "delegation.create", absentee)
    delegate = _user_of(data.get("delegate_id"), "delegate_id", errors)
    starts_on = take(errors, "starts_on", parse_date, data.get("starts_on") or "")
    ends_on = take(errors, "ends_on", parse_date, data.get("ends_on") or "")
    reason = clean_text(data.get("reason"), 200)
    if reason is None:
        errors["reason"] = [(N_("At most %(n)s characters."), {"n": 200})]
    if absentee is not None and not absentee.active:
        errors["absentee_id"] = [(N_("%(name)s is deactivated: their customers are handed over by a transfer."),
                                  {"name": absentee.full_name})]
    elif absentee is not None and absentee.role not in SELLER_ROLES:
        errors["absentee_id"] = [(N_("Only sales reps and managers hand their customers to a delegate."), {})]
    if absentee is not None and delegate is not None and "delegate_id" not in errors:
        if delegate.id == absentee.id:
            errors["delegate_id"] = [(N_("You cannot delegate to yourself: choose a colleague."), {})]
        elif not delegate.active:
            errors["delegate_id"] = [(N_("%(name)s is deactivated: choose an active colleague."), {"name": delegate.full_name})]
        elif delegate.role not in SELLER_ROLES:
            errors["delegate_id"] = [(N_("The delegate must be a sales rep or a sales manager."), {})]
    today = clock.to_local(now).date()
    if starts_on and ends_on:
        if ends_on < starts_on:
            errors["ends_on"] = [(N_("The end date is before the start date."), {})]
        elif starts_on < today:
            errors["starts_on"] = [(N_("A delegation cannot start in the past."), {})]
        elif (ends_on - starts_on).days + 1 > MAX_DAYS:
            errors["ends_on"] = [(N_("At most %(n)s days: a longer absence is a transfer."), {"n": MAX_DAYS})]
    if errors:
        raise ValidationError(errors)
    with db.atomic():
        clash = overlapping(absentee.id, starts_on, ends_on).first()
        if clash is not None:
            raise ValidationError({"starts_on": [(N_("%(name)s already has a delegation from %(a)s to %(b)s."),
                                                  {"name": absentee.full_name, "a": clash.starts_on.isoformat(),
                                                   "b": clash.ends_on.isoformat()})]})
        away = overlapping(delegate.id, starts_on, ends_on).first()
        if away is not None:
            raise ValidationError({"delegate_id": [(N_("%(name)s is away from %(a)s to %(b)s."),
                                                    {"name": delegate.full_name, "a": away.starts_on.isoformat(),
                                                     "b": away.ends_on.isoformat()})]})
        covering = overlapping(absentee.id, starts_on, ends_on, role="delegate").first()
        if covering is not None:
            raise ValidationError({"starts_on": [(N_("%(name)s acts for a colleague from %(a)s to %(b)s."),
                                                  {"name": absentee.full_name, "a": covering.starts_on.isoformat(),
                                                   "b": covering.ends_on.isoformat()})]})
        delegation = Delegation.create(absentee=absentee, delegate=delegate, starts_on=starts_on, ends_on=ends_on,
                                       reason=reason, created_by=actor.id, created_at=now)
        forget_pauses()
        moved = _refresh_releases(absentee.id, now)
        rules = _rules(now)
        ledger.record("delegation_started", actor, None, now, rules, subject=absentee.id, from_owner=absentee.id,
                      to_owner=delegate.id, reason=reason or "",
                      inputs={"delegation_id": delegation.id, "starts_on": starts_on.isoformat(),
                              "ends_on": ends_on.isoformat(), "days": delegation.days, "release_dates_pushed": moved,
                              "why": "release clocks pause while the owner is away (工作代理)"})
        audit.record("delegation.created", actor, None, delegation_id=delegation.id, absentee_id=absentee.id,
                     absentee=absentee.full_name, delegate_id=delegate.id, delegate=delegate.full_name,
                     starts_on=starts_on.isoformat(), ends_on=ends_on.isoformat(), reason=reason)
        params = dict(absentee=absentee.full_name, delegate=delegate.full_name, a=starts_on.isoformat(),
                      b=ends_on.isoformat())
        notify(delegate.id, "delegation", N_("You act for %(absentee)s from %(a)s to %(b)s: their customers are in your list."),
               **params)
        if actor.id != absentee.id:
            notify(absentee.id, "delegation", N_("%(delegate)s acts for you from %(a)s to %(b)s."), **params)
    forget_pauses()  # read again after the commit (or the rollback)
    for user in (actor, absentee, delegate):
        user.__dict__.pop("_acting_for", None)
    return delegation


def cancel_delegation(actor, delegation_id, now=None):
    """End a delegation early (or call off one that has not started): the clocks resume from now."""
    now = now or clock.now()
    try:
        delegation = Delegation.get_or_none(Delegation.id == parse_id(delegation_id))
    except (TypeError, ValueError):
        delegation = None
    if delegation is None:
        raise NotFound()
    require(actor, "delegation.cancel", delegation)
    with db.atomic():
        delegation = Delegation.get_by_id(delegation.id)
        if delegation.state(now) in ("ended", "cancelled") or delegation.cancelled_at:
            raise DomainError(N_("This delegation has already ended."))
        Delegation.update(cancelled_at=now, cancelled_by=actor.id).where(Delegation.id == delegation.id).execute()
        delegation.cancelled_at, delegation.cancelled_by = now, actor.id
        forget_pauses()
        moved = _refresh_releases(delegation.absentee_id, now)
        ledger.record("delegation_ended", actor, None, now, _rules(now), subject=delegation.absentee_id,
                      from_owner=delegation.absentee_id, to_owner=delegation.delegate_id, reason="cancelled",
                      inputs={"delegation_id": delegation.id, "release_dates_recomputed": moved})
        audit.record("delegation.cancelled", actor, None, delegation_id=delegation.id,
                     absentee_id=delegation.absentee_id, delegate_id=delegation.delegate_id)
        for uid in {delegation.absentee_id, delegation.delegate_id} - {actor.id}:
            notify(uid, "delegation", N_("The delegation from %(a)s to %(b)s was ended early by %(who)s."),
                   a=delegation.starts_on.isoformat(), b=delegation.ends_on.isoformat(), who=actor.full_name)
    return delegation


def _rules(now):
    return rules_mod.in_force(now)


def _refresh_releases(owner_id, now):
    """Recompute the release dates of one owner's customers (a private pool: tens of rows)."""
    rules = _rules(now)
    count = 0
    for customer in Customer.select().where(Customer.owner == owner_id):
        pools.refresh_release(customer, rules, now)
        count += 1
    return count


def delegations_of(user, limit=50):
    """The delegations a user gave or takes, newest range first."""
    q = Delegation.select().where((Delegation.absentee == user.id) | (Delegation.delegate == user.id))
    return q.order_by(Delegation.starts_on.desc(), Delegation.id.desc()).limit(limit)


def team_delegations(team_id, limit=50):
    """A manager's view: the delegations of the team's members, newest first."""
    members = User.select(User.id).where(User.team == team_id)
    return (Delegation.select().where(Delegation.absentee.in_(members))
            .order_by(Delegation.starts_on.desc(), Delegation.id.desc()).limit(limit))


def candidates(absentee):
    """Who may act for `absentee`: active sellers, the absentee's team first."""
    q = User.select(User.id, User.full_name, User.team).where(
        (User.active == True) & User.role.in_(SELLER_ROLES) & (User.id != absentee.id))  # noqa: E712
    return sorted(q, key=lambda u: (u.team_id != absentee.team_id, u.full_name))
