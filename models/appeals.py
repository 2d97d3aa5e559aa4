"""Appeals and undo (issue 20 item 2): a rep appeals a release, a manager decides; an admin undoes mistaken
forced releases in bulk; a conflict ruling can split the credit and be appealed once by the rep who lost.

- `appeal_release(actor, event_id, reason)`: the rep a release (manual or forced) took the customer from,
  within `appeal_window_hours` working hours of the release (the service's WorkingCalendar: working days and
  hours, holidays), once per release, while the customer is still in the pool and unclaimed since. While the
  appeal is open `pools.check_release_holds` refuses every claim, stake and assignment of the customer, so
  the drop's lottery (which asks `check_claim` per entrant) leaves it out.
- `decide_appeal(actor, appeal_id, uphold, reason)`: the appellant's team manager (never their own), else an
  admin. Upheld: the customer goes back to the appellant with its **original clock**: `claimed_at` and the
  follow-up clock are the ones it had (a release keeps them on the row), so the release date is the one it
  had before the release, not a restarted one. A clock that had already run out (a forced release) would
  release it at the next sweep: it is held `appeal_grace_days` more (`customer.restored_until`, rule
  "restored" in `pools.release_plan`), and the ledger says both dates.
- `undo_releases(actor, event_ids, reason)`: an admin's bulk undo of forced releases (e.g. after a wrong rule
  version): each customer restored like an upheld appeal, atomically, or refused with its reason.
- Refused on restore (appeal upheld or undo), with a message and a `restore_refused` ledger row: the customer
  was merged since; claimed, assigned or transferred since (or already back); the former owner deactivated;
  **capacity is enforced**: a former owner whose private pool is full is refused (release one, or raise
  their capacity, then decide again) — a restore is an ownership change like an assignment, and capacity
  never goes over by a side door.
- Conflict rulings: `conflict_appeal_hours` working hours after the ruling, the rep who lost may appeal once;
  upheld reverses the ruling (the customer moves to the appellant if it is still with the winner).
  A ruling may split the credit (`record_split`); models/perf_tables.py credits revenue and collections by it.
"""
import datetime as dt

import peewee as pw

from models import audit, clock, hooks, ledger, pools, rules as rules_mod
from models.appeal_tables import Appeal, CreditSplit
from models.base import db, fresh, kept_select
from models.conflicts import ConflictCase
from models.customers import Customer
from models.errors import N_, DomainError, NotFound, ValidationError, plain_values
from models.fields import clean_text, parse_id
from models.keyset import keyset_page
from models.ledger import PoolEvent
from models.merges import CustomerMerge
from models.notifications import notify
from models.permissions import appeal_inbox, can, require
from models.service import WorkingCalendar
from models.users import Team, User

RELEASE_KINDS = ("release", "forced_release")
# Ledger kinds after which a release can no longer be appealed or undone: the customer changed hands again.
OWNERSHIP_KINDS = ("claim", "assign", "transfer", "release", "forced_release", "conflict_ruled", "appeal_upheld",
                   "release_undone", "merge")
REFUSAL_RULES = ("off", "window", "twice", "claimed", "back", "merged", "inactive", "capacity", "open_appeal",
                 "not_forced")


class AppealRefused(DomainError):
    """An appeal, restore or undo refused by a named rule (the ledger keeps a row saying which)."""

    def __init__(self, rule, message, **params):
        super().__init__(message, **params)
        self.rule = rule


def _reason(text, message):
    value = clean_text(text, 500, multiline=True)
    if value is None:
        raise ValidationError({"reason": [(N_("At most %(n)s characters."), {"n": 500})]})
    if not value:
        raise ValidationError({"reason": [(message, {})]})
    return value


def window_end(start, hours, calendar=None):
    """The end of an appeal window: `hours` working hours after `start` (the service's working calendar)."""
    return (calendar or WorkingCalendar()).add(start, hours)


def _release_event(event_id):
    try:
        ev = PoolEvent.get_or_none((PoolEvent.id == parse_id(event_id)) & PoolEvent.kind.in_(RELEASE_KINDS))
    except (TypeError, ValueError):
        ev = None
    if ev is None or ev.customer_id is None:
        raise NotFound()
    return ev


def latest_release(customer_id, rep_id):
    """The last release of a customer from `rep_id`, if it is the customer's last change of hands."""
    last = next(iter(kept_select("appeals.latest_release", lambda c: (
        PoolEvent.select().where((PoolEvent.customer == c) & PoolEvent.kind.in_(OWNERSHIP_KINDS))
        .order_by(PoolEvent.id.desc()).limit(1)), customer_id)), None)
    if last is not None and last.kind in RELEASE_KINDS and last.from_owner == rep_id:
        return last
    return None


# ---- what stands in the way ---------------------------------------------------------------------

def _restore_obstacle(customer, ev, owner_id):
    """AppealRefused for the first thing that stops `customer` going back to `owner_id` after release `ev`."""
    if CustomerMerge.select().where((CustomerMerge.survivor == customer.id) & (CustomerMerge.at >= ev.at)).exists():
        merge = (CustomerMerge.select().where((CustomerMerge.survivor == customer.id) & (CustomerMerge.at >= ev.at))
                 .order_by(CustomerMerge.at).first())
        return AppealRefused("merged", N_("%(name)s was merged with %(other)s on %(when)s, after the release: it cannot "
                                          "be restored; settle it by hand."), name=customer.name,
                             other=merge.loser_name, when=merge.at)
    if customer.owner_id is not None:
        if customer.owner_id == owner_id:
            return AppealRefused("back", N_("%(name)s is back with its former owner already."), name=customer.name)
        holder = User.get_or_none(User.id == customer.owner_id)
        return AppealRefused("claimed", N_("%(name)s was claimed since by %(holder)s: it cannot go back."),
                             name=customer.name, holder=holder.full_name if holder else "?")
    later = (PoolEvent.select(PoolEvent.kind, PoolEvent.at)
             .where((PoolEvent.customer == customer.id) & (PoolEvent.id > ev.id) & PoolEvent.kind.in_(OWNERSHIP_KINDS))
             .order_by(PoolEvent.id).first())
    if later is not None:
        return AppealRefused("claimed", N_("%(name)s changed hands after this release (on %(when)s): it cannot go back."),
                             name=customer.name, when=later.at)
    return None


def _owner_obstacle(owner, customer, rules, now):
    if owner is None or not owner.active or owner.role not in ("sales", "manager"):
        return AppealRefused("inactive", N_("The former owner of %(name)s is no longer an active rep: it cannot go back "
                                            "to them."), name=customer.name)
    cap = pools.capacity(owner, now, rules)
    if cap["used"] >= cap["total"]:
        return AppealRefused("capacity", N_("%(owner)s's private pool is full (%(used)s of %(total)s): %(name)s cannot "
                                            "go back until they have room."), owner=owner.full_name,
                             used=cap["used"], total=cap["total"], name=customer.name)
    return None


def _refused(event_kind, actor, customer_id, now, rules, exc, **inputs):
    """The ledger row of a refusal, in its own transaction (the refused write was rolled back)."""
    with db.atomic():
        ledger.record(event_kind, actor, customer_id, now, rules, reason=exc.message % plain_values(exc.params) if exc.params else exc.message,
                      inputs={"rule": exc.rule, **inputs})


# ---- restoring a customer to its former owner -----------------------------------------------------

def _restore(actor, customer, ev, now, rules, event_kind, reason, inputs):
    """Give a released customer back to the owner release `ev` took it from, with its clock (inside the caller's
    transaction, the row re-read). Raises AppealRefused; returns the ledger inputs written."""
    customer = fresh(customer)
    owner = User.get_or_none(User.id == ev.from_owner)
    problem = _restore_obstacle(customer, ev, ev.from_owner) or _owner_obstacle(owner, customer, rules, now)
    if problem:
        raise problem
    from_pool, staker = customer.pool_id, customer.staked_by_id
    moved = Customer.update(owner=owner.id, team=owner.team_id, pool=None, released_at=None, released_from=None,
                            released_team=None, staked_by=None, staked_at=None, stake_due=None, restored_until=None,
                            updated_at=now).where((Customer.id == customer.id) & Customer.owner.is_null()).execute()
    if not moved:  # PostgreSQL has no BEGIN IMMEDIATE: the owner guard decides there
        raise AppealRefused("claimed", N_("%(name)s changed hands after this release (on %(when)s): it cannot go back."),
                            name=customer.name, when=now)
    customer = Customer.get_by_id(customer.id)
    at, rule, _ = pools.release_plan(customer, rules, now)  # the clock it had: claimed_at and follow-ups kept
    held = None
    if at is not None and at <= now and rules["appeal_grace_days"]:  # it ran out: the sweep would release it again
        held = now + dt.timedelta(days=rules["appeal_grace_days"])
    inputs = {**inputs, "release_event": ev.id, "claimed_at": customer.claimed_at.isoformat(sep=" ") if customer.claimed_at else None,
              "release_at": at.isoformat(sep=" ") if at else None, "release_rule": rule,
              "held_until": held.isoformat(sep=" ") if held else None, "stake_cancelled": staker}
    ledger.record(event_kind, actor, customer, now, rules, subject=owner.id, to_owner=owner.id, from_pool=from_pool,
                  reason=reason, inputs=inputs)
    audit.record("pool.restored", actor, customer, owner=owner.full_name, owner_id=owner.id, reason=reason, via=event_kind,
                 release_at=inputs["release_at"], held_until=inputs["held_until"])
    hooks.fire("owner_changed", actor, [customer.id], None, owner.id, reason)
    if held:  # after the hook, which clears a hold left from an earlier restore
        Customer.update(restored_until=held).where(Customer.id == customer.id).execute()
        customer.restored_until = held
    pools.refresh_release(customer, rules, now)
    if staker and staker != owner.id:
        notify(staker, "stake_lapsed", N_("Your stake on %(name)s ended: the customer went back to its former owner."),
               customer.id, name=customer.name)
    return inputs


def _clear_hold(actor, customer_ids, from_owner_id, to_owner_id, reason=""):
    """A restored customer's hold belongs to the owner it was restored to: any change of hands ends it."""
    known = hooks.known_rows(customer_ids)
    if known is not None and all(c.restored_until is None for c in known):
        return
    for start in range(0, len(customer_ids), 500):
        (Customer.update(restored_until=None)
         .where(Customer.id.in_(customer_ids[start:start + 500]) & Customer.restored_until.is_null(False)).execute())


hooks.on("owner_changed", _clear_hold)


def restored_by(customer):
    """The ledger row that restored an owned customer whose clock is held (`restored_until`), or None."""
    return (PoolEvent.select().where((PoolEvent.customer == customer.id)
                                     & PoolEvent.kind.in_(("appeal_upheld", "release_undone")))
            .order_by(PoolEvent.id.desc()).first())


# ---- appealing a release ------------------------------------------------------------------------------

WINDOWS = {  # kind -> (the rule setting, refusal when it is 0, refusal after the window)
    "release": ("appeal_window_hours", N_("The pool rules allow no appeals against releases."),
                N_("The appeal window closed on %(until)s (%(hours)s working hours after the release).")),
    "conflict": ("conflict_appeal_hours", N_("The pool rules allow no appeals against conflict rulings."),
                 N_("The appeal window closed on %(until)s (%(hours)s working hours after the ruling).")),
}


def _open_window(kind, start, rules, now):
    """(hours, end) of the window an appeal of `kind` against what happened at `start` is made in; AppealRefused when
    the rules allow none or it has closed (an appeal at its last second is in time)."""
    setting, off, closed = WINDOWS[kind]
    hours = rules[setting]
    if not hours:
        raise AppealRefused("off", off)
    ends = window_end(start, hours)
    if now > ends:
        raise AppealRefused("window", closed, until=ends, hours=hours)
    return hours, ends


def _create(**fields):
    """The appeal row; the unique (kind, ref_id) refuses a second one that got in first (PostgreSQL, no BEGIN IMMEDIATE)."""
    try:
        with db.atomic():
            return Appeal.create(**fields)
    except pw.IntegrityError:
        raise AppealRefused("twice", N_("This was appealed already; it can be appealed once."))


def appeal_state(actor, customer, now=None):
    """For the customer's page: (release event, window end, open or decided Appeal, refusal text params) for the
    rep a release took `customer` from, or None when they have nothing to appeal."""
    if customer.owner_id is not None or not customer.released_at or not can(actor, "pool.browse"):
        return None
    ev = latest_release(customer.id, actor.id)
    if ev is None:
        return None
    now = now or clock.now()
    rules = rules_mod.in_force(now)
    appeal = Appeal.get_or_none((Appeal.kind == "release") & (Appeal.ref_id == ev.id))
    hours = rules["appeal_window_hours"]
    ends = window_end(ev.at, hours) if hours else None
    return {"event": ev, "ends": ends, "appeal": appeal, "open": bool(hours) and appeal is None and now <= ends}


def appeal_release(actor, event_id, reason, now=None):
    """File an appeal against release `event_id` (see the module). One per release; refusals are in the ledger."""
    now = now or clock.now()
    ev = _release_event(event_id)
    require(actor, "appeal.file", ev)
    text = _reason(reason, N_("Say why the release was wrong: your manager decides on it."))
    rules = rules_mod.in_force(now)
    try:
        with db.atomic():
            customer = Customer.get_or_none(Customer.id == ev.customer_id)
            if customer is None:
                raise NotFound()
            earlier = Appeal.get_or_none((Appeal.kind == "release") & (Appeal.ref_id == ev.id))
            if earlier is not None:
                raise AppealRefused("twice", N_("You appealed this release already on %(when)s; it can be appealed once."),
                                    when=earlier.opened_at)
            hours, ends = _open_window("release", ev.at, rules, now)
            problem = _restore_obstacle(fresh(customer), ev, actor.id)
            if problem:
                raise problem
            appeal = _create(kind="release", ref_id=ev.id, customer=customer.id, appellant=actor.id,
                             team_id=actor.team_id, reason=text, opened_at=now, window_ends_at=ends)
            ledger.record("appeal_opened", actor, customer, now, rules, subject=actor.id, from_owner=ev.from_owner,
                          reason=text, inputs={"appeal_id": appeal.id, "release_event": ev.id, "release_kind": ev.kind,
                                               "window_ends_at": ends.isoformat(sep=" "), "window_hours": hours})
            audit.record("pool.appealed", actor, customer, appeal_id=appeal.id, reason=text)
            for uid in _deciders(appeal):
                notify(uid, "appeal", N_("%(rep)s appealed the release of %(name)s: %(reason)s"), customer.id,
                       rep=actor.full_name, name=customer.name, reason=text)
    except AppealRefused as exc:
        _refused("appeal_refused", actor, ev.customer_id, now, rules, exc, release_event=ev.id)
        raise
    return appeal


def _deciders(appeal):
    team = Team.get_or_none(Team.id == appeal.team_id) if appeal.team_id else None
    if team and team.manager_id and team.manager_id != appeal.appellant_id:
        return [team.manager_id]
    return [u.id for u in User.select(User.id).where((User.role == "admin") & (User.active == True))]  # noqa: E712


def get_appeal(actor, appeal_id, action="appeal.view"):
    try:
        appeal = Appeal.get_or_none(Appeal.id == parse_id(appeal_id))
    except (TypeError, ValueError):
        appeal = None
    if appeal is None or not can(actor, action, appeal):
        raise NotFound()
    return appeal


def decide_appeal(actor, appeal_id, uphold, reason, now=None):
    """Uphold (restore, or reverse the ruling) or reject an open appeal, with a reason. Decided once (the row is
    re-read under the write lock); a restore that cannot happen leaves the appeal open and says why."""
    now = now or clock.now()
    appeal = get_appeal(actor, appeal_id, "appeal.decide")
    case = None
    if appeal.kind == "conflict":
        case = ConflictCase.get_or_none(ConflictCase.id == appeal.ref_id)
        if case is None:
            raise NotFound()
        require(actor, "conflict.rule", case)
    text = _reason(reason, N_("Give the reason for your decision: the rep will read it."))
    rules = rules_mod.in_force(now)
    try:
        with db.atomic():
            appeal = fresh(appeal)
            if appeal.status != "open":
                raise DomainError(N_("This appeal was decided already."))
            customer = Customer.get_by_id(appeal.customer_id)
            outcome = {}
            if uphold and appeal.kind == "release":
                ev = PoolEvent.get_or_none(PoolEvent.id == appeal.ref_id)
                if ev is None:
                    raise NotFound()
                outcome = _restore(actor, customer, ev, now, rules, "appeal_upheld", text, {"appeal_id": appeal.id})
            elif uphold:
                outcome = _reverse_ruling(actor, appeal, case, customer, now, rules, text)
            else:
                ledger.record("appeal_rejected", actor, customer, now, rules, subject=appeal.appellant_id, reason=text,
                              inputs={"appeal_id": appeal.id, "kind": appeal.kind, "ref_id": appeal.ref_id})
                audit.record("pool.appeal_rejected", actor, customer, appeal_id=appeal.id, reason=text)
            Appeal.update(status="upheld" if uphold else "rejected", decided_by=actor.id, decided_at=now,
                          decision_reason=text, outcome=outcome).where(Appeal.id == appeal.id).execute()
            message = (N_("Your appeal about %(name)s was upheld: %(reason)s") if uphold
                       else N_("Your appeal about %(name)s was rejected: %(reason)s"))
            notify(appeal.appellant_id, "appeal_decided", message, customer.id, name=customer.name, reason=text)
    except AppealRefused as exc:
        _refused("restore_refused", actor, appeal.customer_id, now, rules, exc, appeal_id=appeal.id, via="appeal")
        raise
    return Appeal.get_by_id(appeal.id)


def inbox(user, limit=50):
    """The open appeals waiting for this user's decision, oldest first."""
    q = appeal_inbox(user, Appeal.select(Appeal, Customer.id, Customer.name).join(
        Customer, on=(Appeal.customer == Customer.id)).where(Appeal.status == "open"), Appeal)
    return q.order_by(Appeal.id).limit(limit)


def inbox_count(user):
    return appeal_inbox(user, Appeal.select().where(Appeal.status == "open"), Appeal).count()


# ---- conflict rulings: appeal window and credit split ------------------------------------------------

def conflict_appeal_state(actor, case, now=None):
    """(window end, Appeal or None, may appeal now) for the rep who lost a ruled case; None for anyone else."""
    if not can(actor, "conflict.appeal", case) or not case.ruled_at:
        return None
    now = now or clock.now()
    hours = rules_mod.in_force(now)["conflict_appeal_hours"]
    ends = window_end(case.ruled_at, hours) if hours else None
    appeal = Appeal.get_or_none((Appeal.kind == "conflict") & (Appeal.ref_id == case.id))
    return {"ends": ends, "appeal": appeal, "open": bool(hours) and appeal is None and now <= ends}


def appeal_ruling(actor, case_id, reason, now=None):
    """The rep who lost a ruling appeals it, once, within `conflict_appeal_hours` working hours of the ruling."""
    now = now or clock.now()
    try:
        case = ConflictCase.get_or_none(ConflictCase.id == parse_id(case_id))
    except (TypeError, ValueError):
        case = None
    if case is None or not can(actor, "conflict.view", case) or not can(actor, "conflict.appeal", case):
        raise NotFound()  # only the rep who lost a ruled case appeals it
    text = _reason(reason, N_("Say why the ruling was wrong: it is decided again on it."))
    rules = rules_mod.in_force(now)
    try:
        with db.atomic():
            case = fresh(case)
            if Appeal.select().where((Appeal.kind == "conflict") & (Appeal.ref_id == case.id)).exists():
                raise AppealRefused("twice", N_("This ruling was appealed already; it can be appealed once."))
            hours, ends = _open_window("conflict", case.ruled_at, rules, now)
            appeal = _create(kind="conflict", ref_id=case.id, customer=case.customer_id, appellant=actor.id,
                             team_id=None if case.cross_team else case.claimant_team_id, reason=text,
                             opened_at=now, window_ends_at=ends)
            ledger.record("appeal_opened", actor, case.customer_id, now, rules, subject=actor.id, reason=text,
                          inputs={"appeal_id": appeal.id, "case_id": case.id, "window_ends_at": ends.isoformat(sep=" "),
                                  "window_hours": hours})
            audit.record("pool.appealed", actor, case.customer_id, appeal_id=appeal.id, case_id=case.id, reason=text)
            customer = Customer.get_by_id(case.customer_id)
            for uid in _deciders(appeal):
                notify(uid, "appeal", N_("%(rep)s appealed the ruling on %(name)s: %(reason)s"), customer.id,
                       rep=actor.full_name, name=customer.name, reason=text)
    except AppealRefused as exc:
        _refused("appeal_refused", actor, case.customer_id, now, rules, exc, case_id=case.id)
        raise
    return appeal


def _reverse_ruling(actor, appeal, case, customer, now, rules, text):
    """An upheld conflict appeal: the customer goes to the appellant, if it is still with the ruling's winner."""
    winner = case.claimant_id if case.outcome == "claimant" else case.owner_id
    customer = fresh(customer)
    if customer.owner_id != winner:
        raise AppealRefused("claimed", N_("%(name)s changed hands since the ruling: it cannot go to the appellant."),
                            name=customer.name)
    appellant = User.get_by_id(appeal.appellant_id)
    if not appellant.active:
        raise AppealRefused("inactive", N_("%(owner)s is deactivated and cannot receive the customer."),
                            owner=appellant.full_name)
    same_team = appellant.team_id is not None and appellant.team_id == customer.team_id
    Customer.update(owner=appellant.id, team=appellant.team_id, updated_at=now, staked_by=None, locked=False,
                    claimed_at=customer.claimed_at if same_team and customer.claimed_at else now).where(
        (Customer.id == customer.id) & (Customer.owner == winner)).execute()
    customer = Customer.get_by_id(customer.id)
    at = pools.refresh_release(customer, rules, now)
    reversed_outcome = "owner" if case.outcome == "claimant" else "claimant"
    ConflictCase.update(outcome=reversed_outcome).where(ConflictCase.id == case.id).execute()
    split = CreditSplit.get_or_none(CreditSplit.customer == customer.id)
    if split is not None and split.case_id == case.id:  # the split follows the reversed ruling
        CreditSplit.update(rep_a=split.rep_b_id, share_a=split.share_b, rep_b=split.rep_a_id,
                           share_b=split.share_a).where(CreditSplit.id == split.id).execute()
    inputs = {"appeal_id": appeal.id, "case_id": case.id, "outcome": reversed_outcome,
              "release_at": at.isoformat(sep=" ") if at else None}
    ledger.record("appeal_upheld", actor, customer, now, rules, subject=appellant.id, from_owner=winner,
                  to_owner=appellant.id, reason=text, inputs=inputs)
    audit.record("customer.owner_changed", actor, customer, from_owner_id=winner, to_owner_id=appellant.id,
                 to_owner=appellant.full_name, reason=text, conflict_case=case.id)
    hooks.fire("owner_changed", actor, [customer.id], winner, appellant.id, text)
    notify(winner, "conflict_ruled", N_("The ruling on %(name)s was reversed on appeal: %(reason)s"), customer.id,
           name=customer.name, reason=text)
    return inputs


# ---- the admin's bulk undo of forced releases -----------------------------------------------------------

def forced_releases(actor, rule_version=None, since=None, until=None, after=None, limit=50):
    """A keyset page of forced releases, newest first, filtered by rule version and time range (the (kind, at) index
    serves the order and the range; the version is filtered on the way)."""
    require(actor, "release.undo")
    q = PoolEvent.select().where(PoolEvent.kind == "forced_release")
    if rule_version is not None:
        q = q.where(PoolEvent.rule_version == rule_version)
    if since is not None:
        q = q.where(PoolEvent.at >= since)
    if until is not None:
        q = q.where(PoolEvent.at < until)
    return keyset_page(q, [PoolEvent.at, PoolEvent.id], after=after, limit=limit, descending=True)  # the (kind, at) index


def undone(events):
    """{release event id: the ledger row that restored it} for a page of releases (one query)."""
    if not events:
        return {}
    ids = {e.id for e in events}
    rows = PoolEvent.select().where(PoolEvent.customer.in_({e.customer_id for e in events})
                                    & PoolEvent.kind.in_(("release_undone", "appeal_upheld"))
                                    & (PoolEvent.id > min(ids)))
    return {r.inputs.get("release_event"): r for r in rows if (r.inputs or {}).get("release_event") in ids}


def undo_releases(actor, event_ids, reason, now=None):
    """Undo forced releases: each restored atomically (its own transaction) or refused with its reason and a
    `restore_refused` ledger row. Returns [(event id, customer name, None or the refusal)] in the given order."""
    require(actor, "release.undo")
    now = now or clock.now()
    text = _reason(reason, N_("Say why these releases were a mistake: the reps will read it."))
    ids = []
    for raw in event_ids or ():
        try:
            pk = parse_id(raw)
        except (TypeError, ValueError):
            continue
        if pk not in ids:
            ids.append(pk)
    if not ids:
        raise ValidationError({"events": [(N_("Choose the releases to undo."), {})]})
    if len(ids) > 500:
        raise ValidationError({"events": [(N_("At most %(n)s releases at once."), {"n": 500})]})
    rules = rules_mod.in_force(now)
    results = []
    for pk in ids:
        ev = PoolEvent.get_or_none(PoolEvent.id == pk)
        if ev is None or ev.customer_id is None:
            results.append((pk, "", DomainError(N_("Release %(id)s does not exist."), id=pk)))
            continue
        name = Customer.select(Customer.name).where(Customer.id == ev.customer_id).scalar() or ""
        try:
            with db.atomic():
                if ev.kind != "forced_release":
                    raise AppealRefused("not_forced", N_("%(name)s: only forced releases are undone here."), name=name)
                customer = Customer.get_by_id(ev.customer_id)
                if Appeal.select().where((Appeal.kind == "release") & (Appeal.ref_id == ev.id)
                                         & (Appeal.status == "open")).exists():
                    raise AppealRefused("open_appeal", N_("%(name)s: its former owner's appeal is open; decide it on "
                                                          "the approvals page."), name=name)
                _restore(actor, customer, ev, now, rules, "release_undone", text, {"rule_version_undone": ev.rule_version})
                notify(ev.from_owner, "restored", N_("%(name)s is back in your private pool: a release was undone "
                                                     "(%(reason)s)."), customer.id, name=name, reason=text)
            results.append((pk, name, None))
        except AppealRefused as exc:
            _refused("restore_refused", actor, ev.customer_id, now, rules, exc, release_event=ev.id, via="undo")
            results.append((pk, name, exc))
    return results
