"""Conflict cases (撞单): two reps claim the same customer, domain §6 and issue 5 point 2.

A rep opens a case against a customer another rep owns, optionally naming their own file of the
same company. The system gathers the evidence of both sides from the rows (first registration,
first valid follow-up, valid follow-ups in the last 90 days, a key person reached, the furthest
stage each moved the customer to, invalid follow-ups) and proposes what the policy gives:

- small customers: the first valid contact wins (invalid follow-ups count against the owner: an
  owner whose recent follow-ups are all invalid loses to a claimant who has valid ones);
- key accounts (business model 大客户, or 500+ staff): whoever moved the customer furthest.

A manager rules when both reps are in their team, an admin across teams, always with a reason.
The ruling and any change of owner go to the ledger and the timeline; both reps are notified.
"""
import datetime as dt

import peewee as pw

from models import audit, clock, hooks, ledger, perf_tables, permissions, pools, rules as rules_mod
from models.appeal_tables import CreditSplit
from models.base import BaseModel, JSONField, db, fresh
from models.customers import STAGES, Contact, Customer, FollowUp, StageChange
from models.fields import clean_text, id_or_none, parse_id
from models.duplicates import find_matches
from models.errors import N_, DomainError, NotFound, ValidationError
from models.notifications import notify
from models.permissions import SELLERS, can, require
from models.users import Team, User

KEY_ACCOUNT_SIZES = ("large", "xlarge")
KEY_PERSON_ROLES = ("decision_maker", "buyer")
RECENT_DAYS = 90
STATUSES = ("open", "closed")
POLICY_LABELS = {
    "first_valid_contact": N_("Small customer: the first valid contact wins"),
    "furthest_stage": N_("Key account: whoever moved the customer furthest wins"),
}
OUTCOME_LABELS = {"claimant": N_("The claimant gets the customer"), "owner": N_("The owner keeps the customer")}


class ConflictCase(BaseModel):
    customer = pw.ForeignKeyField(Customer, on_delete="CASCADE", backref="conflict_cases")
    claimant = pw.ForeignKeyField(User, on_delete="CASCADE", backref="conflict_claims")
    claimant_team = pw.ForeignKeyField(Team, null=True, on_delete="SET NULL", index=False, backref="+")
    claimant_customer = pw.ForeignKeyField(Customer, null=True, on_delete="SET NULL", index=False, backref="+")
    owner = pw.ForeignKeyField(User, on_delete="CASCADE", backref="conflict_defences")
    owner_team = pw.ForeignKeyField(Team, null=True, on_delete="SET NULL", index=False, backref="+")
    reason = pw.CharField(max_length=500)
    status = pw.CharField(max_length=10, default="open")
    opened_at = pw.DateTimeField()
    policy = pw.CharField(max_length=30)
    proposed = pw.CharField(max_length=10)  # claimant / owner
    evidence = JSONField(default=dict)  # as gathered when opened, then as ruled on
    outcome = pw.CharField(max_length=10, default="")  # claimant / owner, once ruled
    ruled_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
    ruled_at = pw.DateTimeField(null=True)
    ruling_reason = pw.CharField(max_length=500, default="")

    class Meta:
        indexes = ((("status", "id"), False), (("claimant_team", "status", "id"), False),
                   (("owner_team", "status", "id"), False))

    @property
    def cross_team(self):
        return self.claimant_team_id != self.owner_team_id or self.claimant_team_id is None


# ---- evidence and policy ---------------------------------------------------------------------------

def _iso(value):
    return value.isoformat(sep=" ") if value else None


def side_evidence(user_id, files, own_file, now):
    """What the rows say for one rep over the files of the dispute (the disputed customer and the
    claimant's own file): only what this rep did counts."""
    files = [f for f in files if f is not None]
    ids = [f.id for f in files]
    mine = FollowUp.select().where(FollowUp.customer.in_(ids) & (FollowUp.author == user_id))
    first_valid = mine.where(FollowUp.is_valid == True).order_by(FollowUp.at).first()  # noqa: E712
    since = now - dt.timedelta(days=RECENT_DAYS)
    valid_recent = mine.where((FollowUp.is_valid == True) & (FollowUp.at >= since)).count()  # noqa: E712
    invalid_recent = mine.where((FollowUp.is_valid == False) & (FollowUp.at >= since)).count()  # noqa: E712
    invalid = mine.where(FollowUp.is_valid == False).count()  # noqa: E712
    key_person = (mine.join(Contact, on=(FollowUp.contact == Contact.id))
                  .where(Contact.decision_role.in_(KEY_PERSON_ROLES)).order_by(FollowUp.at).first())
    registered = [f.created_at for f in files if f.created_by_id == user_id or f.id == getattr(own_file, "id", None)]
    stages = [s.to_stage for s in StageChange.select(StageChange.to_stage)
              .where(StageChange.customer.in_(ids) & (StageChange.actor == user_id))]
    if own_file is not None:
        stages.append(own_file.stage)
    furthest = max(stages, key=STAGES.index) if stages else None
    return {
        "user_id": user_id,
        "registered_at": _iso(min(registered)) if registered else None,
        "first_valid_at": _iso(first_valid.at) if first_valid else None,
        "valid_recent": valid_recent, "invalid_recent": invalid_recent, "invalid": invalid,
        "key_person_at": _iso(key_person.at) if key_person else None,
        "furthest_stage": furthest,
    }


def policy_for(customer):
    key = customer.business_model == "key_account" or customer.size in KEY_ACCOUNT_SIZES
    return "furthest_stage" if key else "first_valid_contact"


def gather(customer, claimant_id, owner_id, claimant_customer=None, now=None):
    """Both sides' evidence, the policy and the outcome it proposes, with the reason in words."""
    now = now or clock.now()
    files = [customer, claimant_customer]
    evidence = {
        "claimant": side_evidence(claimant_id, files, claimant_customer, now),
        "owner": side_evidence(owner_id, files, customer, now),
        "at": _iso(now), "recent_days": RECENT_DAYS,
    }
    policy = policy_for(customer)
    proposed, why = propose(policy, evidence["claimant"], evidence["owner"])
    evidence.update(policy=policy, proposed=proposed, why=why)
    return evidence


def _stage_rank(side):
    return STAGES.index(side["furthest_stage"]) if side["furthest_stage"] else -1


def propose(policy, claimant, owner):
    """(winner side, [message, params]) under the policy. Ties keep the customer with its owner."""
    if policy == "furthest_stage":
        c, o = _stage_rank(claimant), _stage_rank(owner)
        if c != o:
            return ("claimant" if c > o else "owner"), [
                N_("Key account: %(side)s moved the customer further (%(stage)s)."),
                {"side": "claimant" if c > o else "owner",
                 "stage": (claimant if c > o else owner)["furthest_stage"]}]
        if claimant["valid_recent"] != owner["valid_recent"]:
            side = "claimant" if claimant["valid_recent"] > owner["valid_recent"] else "owner"
            return side, [N_("Key account, same stage reached: %(side)s has more valid follow-ups in the last %(n)s days."),
                          {"side": side, "n": RECENT_DAYS}]
        return "owner", [N_("Key account, no difference in the evidence: the owner keeps it."), {}]
    if owner["valid_recent"] == 0 and owner["invalid_recent"] > 0 and claimant["valid_recent"] > 0:
        return "claimant", [N_("The owner's follow-ups in the last %(n)s days are all invalid; the claimant's are valid."),
                            {"n": RECENT_DAYS}]
    c, o = claimant["first_valid_at"], owner["first_valid_at"]
    if c and (not o or c < o):
        return "claimant", [N_("Small customer: the claimant made the first valid contact (%(at)s)."), {"at": c[:16]}]
    if o:
        return "owner", [N_("Small customer: the owner made the first valid contact (%(at)s)."), {"at": o[:16]}]
    c, o = claimant["registered_at"], owner["registered_at"]
    if c and (not o or c < o):
        return "claimant", [N_("No valid contact on either side: the claimant registered the customer first (%(at)s)."),
                            {"at": c[:16]}]
    return "owner", [N_("No valid contact on either side: the owner keeps it."), {}]


# ---- verbs -----------------------------------------------------------------------------------------

SEEN_KEYS = ("name", "phone", "credit_code")


def disputable(actor, customer_id, seen=None, claimant_customer_id=None):
    """(customer, match): the customer a seller may open a case on, and the masked duplicate match that
    showed it to them (None when they may open the customer itself).

    A case starts from what the rep may legitimately see: a customer they can open, or one the duplicate
    check matched for data they have: what they typed (`seen`: name, phone, credit code), a file they can
    open (`seen["via"]`, as on its ownership card) or their own file of the company (`claimant_customer_id`).
    The check runs again here, on the server. Anything else is NotFound, exactly like an id that does not
    exist, so neither the form nor the verb tells anything about customers the rep cannot see."""
    if actor.role not in SELLERS:
        raise NotFound()
    pk = id_or_none(customer_id)
    customer = Customer.get_or_none(Customer.id == pk) if pk else None
    if customer is None:
        raise NotFound()
    if can(actor, "customer.view", customer):
        return customer, None
    seen = seen or {}
    sources = []
    typed = {k: str(seen.get(k) or "").strip()[:200] for k in SEEN_KEYS}
    if any(typed.values()):
        sources.append((typed, None))
    for file_id in (id_or_none(seen.get("via")), id_or_none(claimant_customer_id)):
        file = Customer.get_or_none(Customer.id == file_id) if file_id else None
        if file is not None and file.id != customer.id and can(actor, "customer.view", file):
            sources.append(({k: getattr(file, k) for k in SEEN_KEYS}, file.id))
    for data, exclude in sources:
        for match in find_matches(actor, exclude_id=exclude, **data):
            if match.id == customer.id:
                return customer, match
    raise NotFound()


def open_case(actor, customer_id, reason, claimant_customer_id=None, now=None, seen=None):
    """A rep disputes a customer another rep owns, starting from what they may see (`disputable`: a customer
    they can open, or the duplicate check's match for `seen` or their own file). Refused: one's own customer,
    an unowned one (claim it instead), a second open case of the same rep on the same customer, a missing
    reason, and a "own file" that is not the rep's."""
    now = now or clock.now()
    customer, _match = disputable(actor, customer_id, seen, claimant_customer_id)
    if customer.owner_id is None:
        raise DomainError(N_("Nobody owns this customer: claim it from the pool instead of opening a case."))
    if customer.owner_id == actor.id:
        raise DomainError(N_("You own this customer: there is nothing to dispute."))
    require(actor, "conflict.open", customer)
    errors = {}
    text = clean_text(reason, 500, multiline=True)
    if text is None:
        errors["reason"] = [(N_("At most %(n)s characters."), {"n": 500})]
    elif len(text) < 10:
        errors["reason"] = [(N_("Say in a sentence or two why the customer should be yours (at least %(n)s characters)."),
                             {"n": 10})]
    own = None
    if claimant_customer_id not in (None, ""):
        try:
            own = Customer.get_or_none((Customer.id == parse_id(claimant_customer_id)) & (Customer.owner == actor.id))
        except (TypeError, ValueError):
            own = None
        if own is None or own.id == customer.id:
            errors["claimant_customer_id"] = [(N_("Choose one of your own customers, or none."), {})]
    if errors:
        raise ValidationError(errors)
    with db.atomic():
        customer = fresh(customer)  # as it is now, locked: two cases opened at once are one
        if customer.owner_id is None or customer.owner_id == actor.id:
            raise DomainError(N_("The customer changed hands meanwhile: reload the page."))
        if ConflictCase.select().where((ConflictCase.customer == customer.id) & (ConflictCase.claimant == actor.id)
                                       & (ConflictCase.status == "open")).exists():
            raise DomainError(N_("You already have an open case for this customer."))
        owner = User.get_by_id(customer.owner_id)
        evidence = gather(customer, actor.id, owner.id, own, now)
        case = ConflictCase.create(
            customer=customer.id, claimant=actor.id, claimant_team=actor.team_id, claimant_customer=own,
            owner=owner.id, owner_team=customer.team_id, reason=text, opened_at=now, policy=evidence["policy"],
            proposed=evidence["proposed"], evidence=evidence)
        audit.record("conflict.opened", actor, customer, case_id=case.id, claimant=actor.full_name,
                     owner=owner.full_name, reason=text, proposed=evidence["proposed"], policy=evidence["policy"])
        notify(owner.id, "conflict", N_("%(claimant)s opened a conflict case about %(name)s."), customer.id,
               claimant=actor.full_name, name=customer.name)
        for judge in _judges(case):
            notify(judge, "conflict", N_("A conflict case about %(name)s waits for your ruling."), customer.id,
                   name=customer.name)
    return case


def _judges(case):
    """Who is asked to rule: the team's manager when both reps are in one team, else the admins."""
    if not case.cross_team:
        team = Team.get_or_none(Team.id == case.claimant_team_id)
        if team and team.manager_id and team.manager_id not in (case.claimant_id, case.owner_id):
            return [team.manager_id]
    return [u.id for u in User.select(User.id).where((User.role == "admin") & (User.active == True))]  # noqa: E712


def get_case(actor, case_id):
    try:
        case = ConflictCase.get_or_none(ConflictCase.id == parse_id(case_id))
    except (TypeError, ValueError):
        case = None
    if case is None:
        raise NotFound()
    require(actor, "conflict.view", case)
    return case


def rule_case(actor, case_id, outcome, reason, now=None, split=None):
    """Rule an open case with a reason: the owner keeps the customer, or it passes to the claimant.
    Runs under the write lock and re-reads the case, so two judges ruling at once rule it once.
    `split`: the winner's share of the customer's credit in percent (e.g. "70" for 70/30), empty for none."""
    now = now or clock.now()
    case = get_case(actor, case_id)
    require(actor, "conflict.rule", case)
    errors = {}
    try:
        split = parse_split(split)
    except ValidationError as exc:
        errors.update(exc.errors)
    if outcome not in OUTCOME_LABELS:
        errors["outcome"] = [(N_("Choose who gets the customer."), {})]
    text = clean_text(reason, 500, multiline=True)
    if text is None:
        errors["reason"] = [(N_("At most %(n)s characters."), {"n": 500})]
    elif not text:
        errors["reason"] = [(N_("Give the reason for the ruling: both reps will read it."), {})]
    if errors:
        raise ValidationError(errors)
    with db.atomic():
        case = fresh(case)  # locked until the ruling commits: a second judge waits, then reads it closed
        if case.status != "open":
            raise DomainError(N_("This case was ruled already."))
        customer = Customer.get_by_id(case.customer_id)
        claimant, owner = User.get_by_id(case.claimant_id), User.get_by_id(case.owner_id)
        if customer.owner_id != case.owner_id and outcome == "claimant":
            raise DomainError(N_("The customer changed hands since the case was opened: it cannot be given to the claimant."))
        if outcome == "claimant" and not claimant.active:
            raise DomainError(N_("%(name)s is deactivated and cannot receive the customer."), name=claimant.full_name)
        own = Customer.get_or_none(Customer.id == case.claimant_customer_id) if case.claimant_customer_id else None
        evidence = gather(customer, claimant.id, owner.id, own, now)
        rules = rules_mod.in_force(now)
        ConflictCase.update(status="closed", outcome=outcome, ruled_by=actor.id, ruled_at=now, ruling_reason=text,
                            evidence=evidence).where(ConflictCase.id == case.id).execute()
        transfer = outcome == "claimant"
        ledger.record("conflict_ruled", actor, customer, now, rules, subject=claimant.id, from_owner=owner.id,
                      to_owner=claimant.id if transfer else owner.id, reason=text,
                      inputs={"case_id": case.id, "outcome": outcome, "policy": evidence["policy"],
                              "proposed": evidence["proposed"], "followed_proposal": outcome == evidence["proposed"]})
        audit.record("conflict.ruled", actor, customer, case_id=case.id, outcome=outcome, reason=text,
                     claimant=claimant.full_name, owner=owner.full_name, proposed=evidence["proposed"])
        if transfer:
            same_team = claimant.team_id is not None and claimant.team_id == customer.team_id
            moved = Customer.update(owner=claimant.id, team=claimant.team_id, updated_at=now, staked_by=None,
                                    claimed_at=customer.claimed_at if same_team and customer.claimed_at else now,
                                    locked=False).where((Customer.id == customer.id)
                                                        & (Customer.owner == case.owner_id)).execute()
            if not moved:  # PostgreSQL has no BEGIN IMMEDIATE: the owner guard decides there
                raise DomainError(N_("The customer changed hands since the case was opened: it cannot be given to "
                                     "the claimant."))
            customer = Customer.get_by_id(customer.id)
            pools.refresh_release(customer, rules, now)
            audit.record("customer.owner_changed", actor, customer, from_owner=owner.full_name,
                         to_owner=claimant.full_name, from_owner_id=owner.id, to_owner_id=claimant.id,
                         reason=text, conflict_case=case.id)
            hooks.fire("owner_changed", actor, [customer.id], owner.id, claimant.id, text)
        if split:  # issue 20 item 2: the credit split, which the performance counters follow
            winner, loser = (claimant.id, owner.id) if transfer else (owner.id, claimant.id)
            record_split(actor, case, winner, loser, split, now, rules)
        message = N_("The conflict case about %(name)s was ruled: %(outcome)s. Reason: %(reason)s")
        for uid in (claimant.id, owner.id):
            notify(uid, "conflict_ruled", message, customer.id, name=customer.name, reason=text,
                   outcome=OUTCOME_LABELS[outcome])
    return ConflictCase.get_by_id(case.id)


# ---- credit split (issue 20 item 2; models/appeals.py has the ruling's appeal) -------------------------

SPLIT_MIN, SPLIT_MAX = 50, 99


def parse_split(raw):
    """The winner's share of a ruling's credit split in percent (50-99), None for no split."""
    text = str(raw or "").strip().rstrip("%").strip()
    if not text or text == "100":
        return None
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not SPLIT_MIN <= value <= SPLIT_MAX:
        raise ValidationError({"split": [(N_("The winner's share in percent, from %(lo)s to %(hi)s (e.g. 70 for "
                                             "70/30), or empty for no split."), {"lo": SPLIT_MIN, "hi": SPLIT_MAX})]})
    return value


def record_split(actor, case, winner_id, loser_id, share, now, rules):
    """Split a customer's credit between a ruling's winner (`share` percent) and loser (inside the ruling's
    transaction). The new-customer credit, a count, goes whole to the larger share: moved from whoever had it."""
    customer = Customer.get_by_id(case.customer_id)
    CreditSplit.delete().where(CreditSplit.customer == customer.id).execute()
    CreditSplit.create(customer=customer.id, case_id=case.id, rep_a=winner_id, share_a=share, rep_b=loser_id,
                       share_b=100 - share, created_at=now)
    moved = perf_tables.move_new_customer_credit(customer, winner_id)
    ledger.record("credit_split", actor, customer, now, rules, subject=winner_id, from_owner=loser_id, to_owner=winner_id,
                  inputs={"case_id": case.id, "shares": {str(winner_id): share, str(loser_id): 100 - share},
                          "new_customer_moved_from": moved})


# ---- lists -------------------------------------------------------------------------------------------

def cases_for(user, status=None, awaiting=False, limit=25):
    """The cases a user may see (parties, their team's manager, admins), newest first (the list pages
    it with models.keyset on id)."""
    q = permissions.scope("conflict", user)  # parties, their teams' managers, admins (conflict.view)
    if awaiting:
        if user.role == "admin":
            q = q.where(_admin_rules())
        elif user.role == "manager" and user.team_id:
            q = q.where((ConflictCase.claimant_team == user.team_id) & (ConflictCase.owner_team == user.team_id)
                        & (ConflictCase.claimant != user.id) & (ConflictCase.owner != user.id))
        else:
            return ConflictCase.select().where(ConflictCase.id == 0)
    if awaiting:
        status = "open"
    if status in STATUSES:
        q = q.where(ConflictCase.status == status)
    return q.order_by(ConflictCase.id.desc()).limit(limit)


def _admin_rules():
    """The open cases an admin is asked to rule: across teams, or in a team without another manager."""
    managed = Team.select(Team.id).where(Team.manager.is_null(False))
    return ((ConflictCase.claimant_team != ConflictCase.owner_team) | ConflictCase.claimant_team.is_null()
            | ConflictCase.owner_team.is_null() | ConflictCase.claimant_team.not_in(managed))


def awaiting_count(user):
    if not permissions.can(user, "conflict.awaiting"):
        return 0
    return cases_for(user, awaiting=True, limit=None).order_by().count()
