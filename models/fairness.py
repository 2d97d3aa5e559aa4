"""Fairness figures and anti-gaming detectors (issue 20 items 5 and 6). Reads the ledger; never changes what
the verbs do, never penalises: a detector files a flag with its evidence for the rep's manager, who marks it
reviewed with a note.

Figures (a read model over summary rows, a few hundred rows whatever the size of the data):
  claims per rep and team     `rep_period` metric "claim" (models/perf_tables.py, kept by the claim verb)
  conversion after claim      claimed → valid follow-up → opportunity → signed: "claim" and "claim_signed" from
                              `rep_period`; "claim_followed" and "claim_opportunity" bumped here into the same
                              table, once per claim (`claim_outcome` row) by the sweep, in the claim's month
  customers held              `fair_holding`, one row per rep: moved by the `owner_changed` hook, recounted by
                              the sweep once an hour (creations, merges and imports do not fire the hook)
  Gini coefficients           of the claims in a period and of the customers held, over the reps in view

Detectors run in the sweep over what was written since their watermark (`fair_state`: the last ledger row,
follow-up and opportunity looked at), so a re-run finds nothing new; flags are unique by `dedupe_key`.
  reclaim       a release by A, then a claim by B ≠ A within `fair_reclaim_days`, B in A's team (the former
                team) or B picking up A's releases for the second time in 90 days (a friend)
  clock_restart a transfer to another team (which restarts the release clock) within `fair_restart_days` of
                the giver's release date
  pingpong      a customer moved back to a rep it was moved away from within `fair_pingpong_days`
  claim_burst   `fair_claim_burst` claims or more by one rep within `fair_claim_burst_minutes`
  followup_burst `fair_fu_burst` valid follow-ups or more by one rep within `fair_fu_window_days`, each at most
                `fair_fu_margin` characters over the valid minimum and within `fair_fu_before_days` of that
                customer's release date (the clock before the follow-up: the later of the claim and the rep's
                previous valid follow-up, plus the rule's period)
Single events that count towards a flag are `fair_signal` rows (unique per kind and source row).
"""
import datetime as dt
from collections import namedtuple

import peewee as pw

from models import audit, clock, hooks
from models import rules as rules_mod
from models.base import BaseModel, JSONField, db, fresh
from models.customer_tables import Customer, FollowUp
from models.errors import N_, DomainError, ValidationError
from models.fields import clean_text
from models.ledger import PoolEvent
from models.perf_tables import ClaimOutcome, RepPeriod, bump, period_starts
from models.permissions import SELLERS, can, require
from models.user_tables import Team, User, team_id_of

FLAG_KINDS = ("reclaim", "clock_restart", "pingpong", "claim_burst", "followup_burst")
FLAG_LABELS = {"reclaim": N_("Re-claim by a friend"), "clock_restart": N_("Transfer restarting a clock"),
               "pingpong": N_("Ping-pong transfer"), "claim_burst": N_("Claim burst"),
               "followup_burst": N_("Minimum follow-ups before release")}
HANDS = ("claim", "assign", "transfer", "release", "forced_release")  # ledger kinds that change hands
FRIEND_DAYS = 90  # a cross-team pair counts as friends when it repeats within this many days
CHUNK = 5000      # rows per source a sweep looks at (the next sweep goes on)
HOLDING_EVERY = dt.timedelta(hours=1)


class FairFlag(BaseModel):
    """A pattern worth a manager's look, with its evidence. Never a penalty."""
    kind = pw.CharField(max_length=20)
    team_id = pw.IntegerField(default=0)  # the rep's team when detected: its manager reviews it
    rep = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
    other = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
    customer = pw.ForeignKeyField(Customer, null=True, on_delete="CASCADE", index=False, backref="+")
    evidence = JSONField(default=dict)  # customers, events (ledger ids), followups, facts
    first_at = pw.DateTimeField()
    last_at = pw.DateTimeField()
    detected_at = pw.DateTimeField()
    dedupe_key = pw.CharField(max_length=120, unique=True)
    status = pw.CharField(max_length=10, default="open")
    reviewed_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
    reviewed_at = pw.DateTimeField(null=True)
    note = pw.CharField(max_length=500, default="")

    class Meta:
        table_name = "fair_flag"
        # the lists page by id within (team, status) or status; the counts read (team,) kind, status covered
        indexes = ((("team_id", "status", "id"), False), (("status", "id"), False), (("rep", "id"), False),
                   (("kind", "status"), False), (("team_id", "kind", "status"), False))


class FairSignal(BaseModel):
    """One event a detector counts (a quick re-claim, a short follow-up just before a release date)."""
    kind = pw.CharField(max_length=20)
    rep = pw.ForeignKeyField(User, on_delete="CASCADE", index=False, backref="+")
    other_id = pw.IntegerField(null=True)
    customer = pw.ForeignKeyField(Customer, null=True, on_delete="CASCADE", index=False, backref="+")
    at = pw.DateTimeField()
    ref_id = pw.BigIntegerField()  # the ledger row or follow-up it came from
    data = JSONField(default=dict)

    class Meta:
        table_name = "fair_signal"
        indexes = ((("kind", "ref_id"), True), (("rep", "kind", "at"), False))


class FairClaimStep(BaseModel):
    """How far one claim (a `claim_outcome` row) got: a valid follow-up by the claimer, an opportunity."""
    claim = pw.ForeignKeyField(ClaimOutcome, primary_key=True, on_delete="CASCADE", backref="+")
    followed_at = pw.DateTimeField(null=True)
    opportunity_at = pw.DateTimeField(null=True)

    class Meta:
        table_name = "fair_claim_step"


class FairHolding(BaseModel):
    """Customers a rep owns now (for the Gini of customers held)."""
    rep = pw.ForeignKeyField(User, primary_key=True, on_delete="CASCADE", backref="+")
    team_id = pw.IntegerField(default=0)
    n = pw.IntegerField(default=0)

    class Meta:
        table_name = "fair_holding"
        indexes = ((("team_id", "rep", "n"), False),)


class FairState(BaseModel):
    """The detectors' watermarks and the holdings' last recount."""
    key = pw.CharField(max_length=30, primary_key=True)
    value = pw.BigIntegerField(default=0)
    at = pw.DateTimeField(null=True)

    class Meta:
        table_name = "fair_state"


# ---- figures ------------------------------------------------------------------------------------------

def gini(values):
    """The Gini coefficient of non-negative numbers: 0 when all are equal (or there are none), towards 1 when
    one holds everything ((n − 1) / n exactly)."""
    xs = sorted(max(0, v) for v in values)
    n, total = len(xs), sum(xs)
    if n == 0 or total == 0:
        return 0.0
    return 2 * sum(i * x for i, x in enumerate(xs, start=1)) / (n * total) - (n + 1) / n


def lorenz(values):
    """The Lorenz curve's points (share of reps, share of the total), from (0, 0) to (1, 1)."""
    xs = sorted(max(0, v) for v in values)
    n, total = len(xs), sum(xs)
    points, running = [(0.0, 0.0)], 0
    for i, x in enumerate(xs, start=1):
        running += x
        points.append((i / n, running / total if total else i / n))
    return points


STEPS = ("claim", "claim_followed", "claim_opportunity", "claim_signed")


def period_start(span, day):
    """The first day of the month / quarter / year `day` falls in."""
    return dict(period_starts(day))[span]


Rep = namedtuple("Rep", "id full_name team_id")


def _reps(team_id):
    """The active sellers in view, as plain tuples (an admin's page lists every rep: no model rows)."""
    q = User.select(User.id, User.full_name, User.team).where(User.role.in_(SELLERS) & (User.active == True))  # noqa: E712
    if team_id:
        q = q.where(User.team == team_id)
    return [Rep(*r) for r in q.order_by(User.id).tuples()]


def figures(team_id=None, span="month", start=None):
    """Per rep: claims, customers held, the conversion steps of the period's claims; the Gini coefficients of
    claims and of holdings; per team the same summed (every team when `team_id` is None)."""
    start = start or period_start(span, clock.today())
    reps = _reps(team_id)
    counts = RepPeriod.select(RepPeriod.rep, RepPeriod.team_id, RepPeriod.metric, pw.fn.SUM(RepPeriod.n)).where(
        (RepPeriod.metric.in_(STEPS)) & (RepPeriod.span == span) & (RepPeriod.starts_on == start))
    if team_id:
        counts = counts.where(RepPeriod.team_id == team_id)
    per_rep = {}
    for rep_id, _team, metric, n in counts.group_by(RepPeriod.rep, RepPeriod.team_id, RepPeriod.metric).tuples():
        per_rep.setdefault(rep_id, {}).setdefault(metric, 0)
        per_rep[rep_id][metric] += n or 0
    held = FairHolding.select(FairHolding.rep, FairHolding.n)
    if team_id:
        held = held.where(FairHolding.team_id == team_id)
    held = dict(held.tuples())
    rows = []
    for u in reps:
        c = per_rep.get(u.id, {})
        row = {"rep": u, "held": held.get(u.id, 0), **{m: c.get(m, 0) for m in STEPS}}
        row["rates"] = rates(row)
        rows.append(row)
    claims, holdings = [r["claim"] for r in rows], [r["held"] for r in rows]
    return {"span": span, "start": start, "rows": rows, "gini_claims": gini(claims), "gini_held": gini(holdings),
            "lorenz_claims": lorenz(claims), "lorenz_held": lorenz(holdings), "teams": _team_rows(rows),
            "totals": {m: sum(r[m] for r in rows) for m in (*STEPS, "held")}}


def _team_rows(rows):
    """Per team (the reps' team now): reps, the sums of their figures, the team's own Gini coefficients."""
    names = {t.id: t.name for t in Team.select(Team.id, Team.name)}
    by_team = {}
    for r in rows:
        by_team.setdefault(r["rep"].team_id or 0, []).append(r)
    out = []
    for team_id, members in by_team.items():
        sums = {m: sum(r[m] for r in members) for m in (*STEPS, "held")}
        out.append({"id": team_id, "name": names.get(team_id, "—"), "reps": len(members), **sums, "rates": rates(sums),
                    "gini_claims": gini([r["claim"] for r in members]), "gini_held": gini([r["held"] for r in members])})
    return sorted(out, key=lambda t: (-t["claim"], t["name"]))


def rates(row):
    """Each step as a share of the claims (None without claims)."""
    claims = row["claim"]
    return {m: (row[m] / claims if claims else None) for m in STEPS[1:]}


def mine(user, span="month", start=None):
    """A rep's own figures beside their team's average per rep (no colleague named)."""
    data = figures(user.team_id, span, start) if user.team_id else figures(None, span, start)
    rows = data["rows"] if user.team_id else [r for r in data["rows"] if r["rep"].id == user.id]
    own = next((r for r in rows if r["rep"].id == user.id), None) or {
        "held": 0, **{m: 0 for m in STEPS}}
    n = len(rows) or 1
    team = {m: sum(r[m] for r in rows) / n for m in (*STEPS, "held")}
    team_rates = rates({m: sum(r[m] for r in rows) for m in STEPS})
    return {"span": data["span"], "start": data["start"], "own": own, "own_rates": rates(own), "team": team,
            "team_rates": team_rates, "reps": len(rows), "gini_claims": data["gini_claims"],
            "gini_held": data["gini_held"]}


def flags(user, team_id=None, status="open"):
    """The flags the user reviews, newest first (a manager: their team's; an admin: all, or one team's)."""
    q = FairFlag.select().where(FairFlag.status == status)
    if not can(user, "fairness.all_teams"):
        team_id = user.team_id or -1  # a manager without a team reviews nothing
    if team_id:
        q = q.where(FairFlag.team_id == team_id)
    return q.order_by(FairFlag.id.desc())


def flag_counts(team_id=None):
    q = FairFlag.select(FairFlag.kind, FairFlag.status, pw.fn.COUNT(FairFlag.id))
    if team_id:
        q = q.where(FairFlag.team_id == team_id)
    out = {}
    for kind, status, n in q.group_by(FairFlag.kind, FairFlag.status).tuples():
        out.setdefault(kind, {})[status] = n
    return out


def review_flag(actor, flag, note):
    """The manager (or an admin) marks a flag reviewed with a note. No penalty follows from it."""
    require(actor, "fairness.review", flag)
    text = clean_text(note, 500)
    if not text:
        raise ValidationError({"note": [(N_("Say what you found: the note stays with the flag."), {})]})
    with db.atomic():
        flag = fresh(flag)
        require(actor, "fairness.review", flag)
        if flag.status != "open":
            raise DomainError(N_("This flag was reviewed already."))
        now = clock.now()
        FairFlag.update(status="reviewed", reviewed_by=actor.id, reviewed_at=now, note=text).where(
            FairFlag.id == flag.id).execute()
        # not on the customer's timeline: the note is about a rep, for managers
        audit.record("fairness.reviewed", actor, None, flag_id=flag.id, pattern=flag.kind, rep_id=flag.rep_id,
                     note=text)
    return FairFlag.get_by_id(flag.id)


# ---- holdings ----------------------------------------------------------------------------------------

def _owner_changed(actor, customer_ids, from_owner_id, to_owner_id, reason=""):
    n = len(customer_ids or ())
    if not n or from_owner_id == to_owner_id:
        return
    if from_owner_id:
        FairHolding.update(n=FairHolding.n - n).where(FairHolding.rep == from_owner_id).execute()
    if to_owner_id:
        team = team_id_of(to_owner_id, actor) or 0
        (FairHolding.insert(rep=to_owner_id, team_id=team, n=n)
         .on_conflict(conflict_target=[FairHolding.rep],
                      update={FairHolding.n: FairHolding.n + n, FairHolding.team_id: team}).execute())


hooks.on("owner_changed", _owner_changed)


def recount_holdings(now=None):
    """Every rep's holding counted from the customers (one grouped scan of the owner index)."""
    now = now or clock.now()
    with db.atomic():
        FairHolding.delete().execute()
        db.execute_sql("INSERT INTO fair_holding (rep_id, team_id, n) SELECT c.owner_id, COALESCE(u.team_id, 0), "
                       "c.n FROM (SELECT owner_id, COUNT(*) AS n FROM customer WHERE owner_id IS NOT NULL "
                       "GROUP BY owner_id) c JOIN \"user\" u ON u.id = c.owner_id")
        _set_state("holdings", 0, now)


# ---- the sweep ------------------------------------------------------------------------------------------

def _state(key):
    row = FairState.get_or_none(FairState.key == key)
    return (row.value, row.at) if row else (0, None)


def _set_state(key, value, now):
    (FairState.insert(key=key, value=value, at=now)
     .on_conflict(conflict_target=[FairState.key], update={FairState.value: value, FairState.at: now}).execute())


def look_forward(now=None):
    """Start every missing watermark at the newest row (what migration 0043 does on an upgrade)."""
    from models.opportunities import Opportunity

    for key, model in (("ledger", PoolEvent), ("fu_steps", FollowUp), ("fu_detect", FollowUp), ("opp_steps", Opportunity)):
        if not FairState.select().where(FairState.key == key).exists():
            _set_state(key, model.select(pw.fn.MAX(model.id)).scalar() or 0, now or clock.now())


def sweep(now=None, chunk=CHUNK):
    """Claims' steps, detectors and the holdings' recount; idempotent. {what: how many}."""
    now = now or clock.now()
    rules = rules_mod.in_force(now)
    done = {"steps": 0, "flags": 0}
    with db.atomic():
        done["steps"] += _followup_steps(chunk, now)
        done["steps"] += _opportunity_steps(chunk, now)
    with db.atomic():
        done["flags"] += _ledger_detectors(rules, chunk, now)
    with db.atomic():
        done["flags"] += _followup_detector(rules, chunk, now)
    _value, counted = _state("holdings")
    if counted is None or now - counted >= HOLDING_EVERY:
        recount_holdings(now)
    return done


hooks.on("sweep", sweep, name="fairness")


def _claims_of(customer_ids):
    """{customer: [claim rows]} of these customers (every outcome: a step counts while the claim lasted)."""
    out = {}
    for start in range(0, len(customer_ids), 500):
        for row in ClaimOutcome.select().where(ClaimOutcome.customer.in_(customer_ids[start:start + 500])):
            out.setdefault(row.customer_id, []).append(row)
    return out


def _during(claim, at):
    return claim.claimed_at <= at and (claim.ended_at is None or at <= claim.ended_at)


def _mark(claim, field, at):
    """Note a step of a claim once; bump its counter in the claim's month."""
    step = FairClaimStep.get_or_none(FairClaimStep.claim == claim.id)
    if step is None:
        FairClaimStep.insert(claim=claim.id, **{field: at}).on_conflict_ignore().execute()
    elif getattr(step, field) is None:
        FairClaimStep.update(**{field: at}).where(FairClaimStep.claim == claim.id).execute()
    else:
        return 0
    bump(claim.rep_id, claim.team_id, claim.month, "claim_" + ("followed" if field == "followed_at" else "opportunity"))
    return 1


def _followup_steps(chunk, now):
    last, _ = _state("fu_steps")
    rows = list(FollowUp.select(FollowUp.id, FollowUp.customer, FollowUp.author, FollowUp.at)
                .where((FollowUp.id > last) & (FollowUp.is_valid == True)).order_by(FollowUp.id).limit(chunk).tuples())  # noqa: E712
    if not rows:
        return 0
    claims, n = _claims_of(sorted({r[1] for r in rows})), 0
    for _id, customer_id, author_id, at in rows:
        for claim in claims.get(customer_id, []):
            if claim.rep_id == author_id and _during(claim, at):
                n += _mark(claim, "followed_at", at)
    _set_state("fu_steps", rows[-1][0], now)
    return n


def _opportunity_steps(chunk, now):
    from models.opportunities import Opportunity

    last, _ = _state("opp_steps")
    rows = list(Opportunity.select(Opportunity.id, Opportunity.customer, Opportunity.created_at)
                .where(Opportunity.id > last).order_by(Opportunity.id).limit(chunk).tuples())
    if not rows:
        return 0
    claims, n = _claims_of(sorted({r[1] for r in rows})), 0
    for _id, customer_id, at in rows:
        for claim in claims.get(customer_id, []):
            if _during(claim, at):
                n += _mark(claim, "opportunity_at", at)
    _set_state("opp_steps", rows[-1][0], now)
    return n


def _flag(kind, rep_id, key, evidence, first_at, last_at, now, customer_id=None, other_id=None, team_id=None):
    """File a flag once (its key decides); 1 if it is new."""
    if team_id is None:
        team_id = User.select(User.team).where(User.id == rep_id).scalar() if rep_id else 0
    key = key[:120]
    if FairFlag.select().where(FairFlag.dedupe_key == key).exists():
        return 0
    FairFlag.create(kind=kind, team_id=team_id or 0, rep=rep_id, other=other_id, customer=customer_id,
                    evidence=evidence, first_at=first_at, last_at=last_at, detected_at=now, dedupe_key=key)
    return 1


def _previous_hands(event):
    """The change of hands of the same customer before this ledger row (None if none)."""
    return (PoolEvent.select().where((PoolEvent.customer == event.customer_id) & (PoolEvent.id < event.id)
                                     & PoolEvent.kind.in_(HANDS)).order_by(PoolEvent.id.desc()).first())


def _teams(*user_ids):
    return dict(User.select(User.id, User.team).where(User.id.in_([u for u in user_ids if u])).tuples())


def _ledger_detectors(rules, chunk, now):
    last, _ = _state("ledger")
    events = list(PoolEvent.select().where((PoolEvent.id > last) & PoolEvent.kind.in_(("claim", "transfer", "assign")))
                  .order_by(PoolEvent.id).limit(chunk))
    top = PoolEvent.select(pw.fn.MAX(PoolEvent.id)).where(PoolEvent.id > last).scalar() if not events else events[-1].id
    n = 0
    for e in events:
        if e.kind == "claim" and e.customer_id:
            n += _reclaim(rules, e, now) + _claim_burst(rules, e, now)
        if e.kind in ("transfer", "assign") and e.customer_id and e.to_owner:
            n += _pingpong(rules, e, now)
        if e.kind == "transfer" and e.customer_id and e.to_owner and not (e.inputs or {}).get("same_team"):
            n += _clock_restart(rules, e, now)
    if top:
        _set_state("ledger", top, now)
    return n


def _reclaim(rules, claim, now):
    days = rules["fair_reclaim_days"]
    before = _previous_hands(claim)
    if (not days or before is None or before.kind not in ("release", "forced_release") or not before.from_owner
            or before.from_owner == claim.actor_id or claim.at - before.at > dt.timedelta(days=days)):
        return 0
    FairSignal.insert(kind="reclaim", rep=claim.actor_id, other_id=before.from_owner, customer=claim.customer_id,
                      at=claim.at, ref_id=claim.id, data={"release": before.id}).on_conflict_ignore().execute()
    teams = _teams(claim.actor_id, before.from_owner)
    same_team = bool(teams.get(claim.actor_id)) and teams.get(claim.actor_id) == teams.get(before.from_owner)
    pairs = list(FairSignal.select().where(
        (FairSignal.rep == claim.actor_id) & (FairSignal.kind == "reclaim") & (FairSignal.other_id == before.from_owner)
        & (FairSignal.at >= claim.at - dt.timedelta(days=FRIEND_DAYS)) & (FairSignal.at <= claim.at)).order_by(FairSignal.at))
    if not same_team and len(pairs) < 2:
        return 0
    pairs = pairs if not same_team else [p for p in pairs if p.ref_id == claim.id]
    events = sorted({p.data.get("release") for p in pairs} | {p.ref_id for p in pairs})
    evidence = {"customers": sorted({p.customer_id for p in pairs}), "events": events,
                "facts": {"same_team": same_team, "times": len(pairs), "days": days,
                          "gap_days": round((claim.at - before.at).total_seconds() / 86400, 1)}}
    return _flag("reclaim", claim.actor_id, f"reclaim:{claim.id}", evidence, before.at if same_team else pairs[0].at,
                 claim.at, now, customer_id=claim.customer_id, other_id=before.from_owner,
                 team_id=teams.get(before.from_owner) if same_team else None)


def _claim_burst(rules, claim, now):
    k, minutes = rules["fair_claim_burst"], rules["fair_claim_burst_minutes"]
    if not k:
        return 0
    window = list(PoolEvent.select(PoolEvent.id, PoolEvent.customer, PoolEvent.at).where(
        (PoolEvent.actor == claim.actor_id) & (PoolEvent.kind == "claim")
        & (PoolEvent.at >= claim.at - dt.timedelta(minutes=minutes)) & (PoolEvent.at <= claim.at)).order_by(PoolEvent.at))
    if len(window) < k:
        return 0
    day = clock.to_local(claim.at).date().isoformat()
    evidence = {"customers": [e.customer_id for e in window], "events": [e.id for e in window],
                "facts": {"claims": len(window), "minutes": minutes}}
    return _flag("claim_burst", claim.actor_id, f"claim_burst:{claim.actor_id}:{day}", evidence, window[0].at,
                 claim.at, now)


def _pingpong(rules, move, now):
    """A customer moved to a rep it was moved away from (by a transfer or assignment) not long ago."""
    days = rules["fair_pingpong_days"]
    if not days:
        return 0
    away = (PoolEvent.select().where((PoolEvent.customer == move.customer_id) & (PoolEvent.id < move.id)
                                     & PoolEvent.kind.in_(("transfer", "assign")) & (PoolEvent.from_owner == move.to_owner)
                                     & (PoolEvent.at >= move.at - dt.timedelta(days=days)))
            .order_by(PoolEvent.id.desc()).first())
    if away is None:
        return 0
    evidence = {"customers": [move.customer_id], "events": [away.id, move.id],
                "facts": {"days": days, "between": away.to_owner,
                          "gap_days": round((move.at - away.at).total_seconds() / 86400, 1)}}
    return _flag("pingpong", move.to_owner, f"pingpong:{move.id}", evidence, away.at, move.at, now,
                 customer_id=move.customer_id, other_id=away.to_owner)


def _clock_restart(rules, move, now):
    """A cross-team transfer restarts the release clock: flag one made when the giver's clock was nearly out."""
    from models import pools

    days = rules["fair_restart_days"]
    customer = Customer.get_or_none(Customer.id == move.customer_id)
    if not days or customer is None or not move.from_owner:
        return 0
    start = _clock_start_of(move, move.from_owner)
    if start is None:
        return 0
    last_valid = (FollowUp.select(pw.fn.MAX(FollowUp.at)).where(
        (FollowUp.customer == customer.id) & (FollowUp.author == move.from_owner) & (FollowUp.is_valid == True)  # noqa: E712
        & (FollowUp.at <= move.at)).scalar())
    shadow = Customer(**{**customer.__data__, "owner": move.from_owner, "claimed_at": start,
                         "last_valid_followup_at": last_valid, "locked": False})
    due, rule, _ = pools.release_plan(shadow, rules, move.at)
    if due is None or due - move.at > dt.timedelta(days=days):
        return 0
    new_due = (move.inputs or {}).get("release_at")
    evidence = {"customers": [customer.id], "events": [move.id],
                "facts": {"due": due.isoformat(sep=" "), "rule": rule, "new_due": new_due, "days": days,
                          "from_owner": move.from_owner}}
    return _flag("clock_restart", move.from_owner, f"clock_restart:{move.id}", evidence, start, move.at, now,
                 customer_id=customer.id, other_id=move.to_owner)


def _clock_start_of(move, owner_id):
    """When `owner_id`'s clock on the customer started: their last claim, assignment or cross-team transfer in."""
    for row in (PoolEvent.select().where((PoolEvent.customer == move.customer_id) & (PoolEvent.id < move.id)
                                         & PoolEvent.kind.in_(("claim", "assign", "transfer")))
                .order_by(PoolEvent.id.desc()).limit(10)):
        if row.to_owner == owner_id and not (row.kind == "transfer" and (row.inputs or {}).get("same_team")):
            return row.at
    return None


def _followup_detector(rules, chunk, now):
    last, _ = _state("fu_detect")
    rows = list(FollowUp.select(FollowUp.id, FollowUp.customer, FollowUp.author, FollowUp.at, FollowUp.content)
                .where((FollowUp.id > last) & (FollowUp.is_valid == True)).order_by(FollowUp.id).limit(chunk))  # noqa: E712
    if not rows:
        return 0
    _set_state("fu_detect", rows[-1].id, now)
    k, before_days = rules["fair_fu_burst"], rules["fair_fu_before_days"]
    if not k or not before_days:
        return 0
    limit = rules["valid_min_length"] + rules["fair_fu_margin"]
    short = [f for f in rows if f.author_id and len(rules_mod.normalize_phrase(f.content)) <= limit]
    if not short:
        return 0
    customers = {c.id: c for c in Customer.select().where(Customer.id.in_(sorted({f.customer_id for f in short})))}
    claims = _claims_of(sorted(customers))
    touched = set()
    for f in short:
        c = customers.get(f.customer_id)
        claim = next((x for x in claims.get(f.customer_id, []) if x.rep_id == f.author_id and _during(x, f.at)), None)
        if c is None or claim is None:
            continue
        previous = (FollowUp.select(pw.fn.MAX(FollowUp.at)).where(
            (FollowUp.customer == c.id) & (FollowUp.author == f.author_id) & (FollowUp.is_valid == True)  # noqa: E712
            & (FollowUp.at < f.at) & (FollowUp.id != f.id)).scalar())
        since = max(claim.claimed_at, previous) if previous else claim.claimed_at
        due = since + dt.timedelta(days=rules.no_followup_days(c))
        if not dt.timedelta(0) <= due - f.at <= dt.timedelta(days=before_days):
            continue
        FairSignal.insert(kind="followup_short", rep=f.author_id, customer=c.id, at=f.at, ref_id=f.id,
                          data={"due": due.isoformat(sep=" "), "length": len(rules_mod.normalize_phrase(f.content))}
                          ).on_conflict_ignore().execute()
        touched.add((f.author_id, f.at))
    n = 0
    window = rules["fair_fu_window_days"]
    for rep_id, at in sorted(touched):
        signals = list(FairSignal.select().where(
            (FairSignal.rep == rep_id) & (FairSignal.kind == "followup_short")
            & (FairSignal.at > at - dt.timedelta(days=window)) & (FairSignal.at <= at)).order_by(FairSignal.at))
        if len(signals) < k:
            continue
        bucket = (clock.to_local(at).date().toordinal()) // window
        evidence = {"customers": sorted({s.customer_id for s in signals}), "followups": [s.ref_id for s in signals],
                    "facts": {"count": len(signals), "window": window, "before_days": before_days, "limit": limit,
                              "dues": {str(s.ref_id): s.data.get("due") for s in signals}}}
        n += _flag("followup_burst", rep_id, f"followup_burst:{rep_id}:{window}:{bucket}", evidence, signals[0].at,
                   at, now)
    return n


def rebuild(now=None):
    """After a bulk load (and after perf_tables.rebuild, which drops the claims' rows): the steps and the flags
    from scratch."""
    now = now or clock.now()
    with db.atomic():
        RepPeriod.delete().where(RepPeriod.metric.in_(("claim_followed", "claim_opportunity"))).execute()
        for model in (FairClaimStep, FairSignal, FairState):
            model.delete().execute()
        FairFlag.delete().where(FairFlag.status == "open").execute()
    sweep(now, chunk=10 ** 7)
    recount_holdings(now)

