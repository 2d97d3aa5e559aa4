"""Targets (issue 16 item 1, domain §11): per team and period (month, quarter, year) and kind (revenue, new
customers, collections, stage promotions; admins add kinds), decomposed by the manager to the team's reps.
The reps' shares must add up to at least the team's figure; every save is a version with who and why.
Progress is read from the performance counters the verbs keep (`models/perf_tables.py`)."""
import datetime as dt
from decimal import Decimal

import peewee as pw

from models import audit, clock
from models.base import BaseModel, JSONField, db, fresh
from models.customer_tables import STAGES
from models.errors import FieldErrors, N_, NotFound, ValidationError
from models.fields import FieldError, clean_text, parse_decimal, parse_int, take, text_field
from models.perf_tables import RepPeriod
from models.permissions import can, require
from models.user_tables import Team, User

PERIOD_KINDS = ("month", "quarter", "year")
PERIOD_LABELS = {"month": N_("Month"), "quarter": N_("Quarter"), "year": N_("Year")}
# measure -> (money?, the counter it reads, RepPeriod column)
MEASURES = {
    "revenue": (True, "revenue", "amount"),
    "collections": (True, "collection", "amount"),
    "new_customers": (False, "new_customer", "n"),
    "promotions": (False, "promoted", "n"),
    "promotions_into": (False, "into:{stage}", "n"),
    "valid_followups": (False, "followup_valid", "n"),
    "claims": (False, "claim", "n"),
}
MEASURE_LABELS = {"revenue": N_("Revenue (orders signed)"), "collections": N_("Collections (payments received)"),
                  "new_customers": N_("New customers"), "promotions": N_("Stage promotions"),
                  "promotions_into": N_("Promotions into a stage"), "valid_followups": N_("Valid follow-ups"),
                  "claims": N_("Pool claims")}
MAX_AMOUNT = Decimal("9999999999.99")
MAX_COUNT = 1_000_000_000


class TargetKind(BaseModel):
    key = pw.CharField(max_length=30, unique=True)
    label_zh = pw.CharField(max_length=40)
    label_en = pw.CharField(max_length=40)
    measure = pw.CharField(max_length=20)  # MEASURES
    stage = pw.CharField(max_length=20, default="")  # for promotions_into
    active = pw.BooleanField(default=True)
    position = pw.SmallIntegerField(default=0)

    class Meta:
        table_name = "target_kind"

    @property
    def money(self):
        return MEASURES[self.measure][0]

    def label(self, locale):
        return self.label_zh if str(locale).startswith("zh") else self.label_en


class Target(BaseModel):
    """A team's target for one kind and period; its reps' shares are TargetShare rows."""
    team = pw.ForeignKeyField(Team, on_delete="CASCADE", index=False, backref="+")
    kind = pw.ForeignKeyField(TargetKind, on_delete="CASCADE", index=False, backref="+")
    period = pw.CharField(max_length=7)  # PERIOD_KINDS
    starts_on = pw.DateField()
    amount = pw.DecimalField(max_digits=14, decimal_places=2)
    version = pw.IntegerField(default=1)
    updated_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
    updated_at = pw.DateTimeField()

    class Meta:
        table_name = "target"
        indexes = ((("team", "period", "starts_on", "kind"), True), (("period", "starts_on"), False))


class TargetShare(BaseModel):
    target = pw.ForeignKeyField(Target, on_delete="CASCADE", index=False, backref="shares")
    rep = pw.ForeignKeyField(User, on_delete="CASCADE", backref="+")
    amount = pw.DecimalField(max_digits=14, decimal_places=2)

    class Meta:
        table_name = "target_share"
        indexes = ((("target", "rep"), True),)


class TargetChange(BaseModel):
    """One version of a target: the team figure and every share as saved, by whom and why."""
    target = pw.ForeignKeyField(Target, on_delete="CASCADE", index=False, backref="changes")
    version = pw.IntegerField()
    actor = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
    at = pw.DateTimeField()
    reason = pw.CharField(max_length=200, default="")
    amount = pw.DecimalField(max_digits=14, decimal_places=2)
    shares = JSONField(default=dict)  # {rep id: "amount"}

    class Meta:
        table_name = "target_change"
        indexes = ((("target", "version"), True),)


# ---- periods ---------------------------------------------------------------------------------------

class Period:
    """A calendar month, quarter or year in business time; `key` is 2026-12, 2026-Q4 or 2026."""

    def __init__(self, kind, start):
        self.kind, self.start = kind, start
        if kind == "month":
            self.end = (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
            self.key = f"{start.year}-{start.month:02d}"
        elif kind == "quarter":
            month = start.month + 3
            self.end = dt.date(start.year + (month > 12), (month - 1) % 12 + 1, 1)
            self.key = f"{start.year}-Q{(start.month - 1) // 3 + 1}"
        else:
            self.end = dt.date(start.year + 1, 1, 1)
            self.key = str(start.year)

    def __eq__(self, other):
        return isinstance(other, Period) and (self.kind, self.start) == (other.kind, other.start)

    def __hash__(self):
        return hash((self.kind, self.start))

    def __repr__(self):
        return f"Period({self.key})"

    @property
    def days(self):
        return (self.end - self.start).days

    def months(self):
        out, m = [], self.start
        while m < self.end:
            out.append(m)
            m = (m.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        return out

    def previous(self):
        return containing(self.kind, self.start - dt.timedelta(days=1))

    def next(self):
        return containing(self.kind, self.end)


def containing(kind, day):
    if kind == "month":
        return Period(kind, day.replace(day=1))
    if kind == "quarter":
        return Period(kind, dt.date(day.year, (day.month - 1) // 3 * 3 + 1, 1))
    return Period("year", dt.date(day.year, 1, 1))


def parse_period(key):
    """A Period from its key, else FieldError."""
    text = str(key or "").strip().upper()
    try:
        if len(text) == 4:
            return Period("year", dt.date(int(text), 1, 1))
        year, part = text[:4], text[5:]
        if text[4:5] == "-" and part.startswith("Q") and part[1:] in ("1", "2", "3", "4"):
            return Period("quarter", dt.date(int(year), 3 * int(part[1:]) - 2, 1))
        if text[4:5] == "-" and len(part) == 2:
            return Period("month", dt.date(int(year), int(part), 1))
    except ValueError:
        pass
    raise FieldError(N_("Choose a month (2026-12), a quarter (2026-Q4) or a year (2026)."))


def period_or_current(key, kind="month"):
    try:
        return parse_period(key)
    except FieldError:
        return containing(kind if kind in PERIOD_KINDS else "month", clock.today())


def run_rate(actual, target, period, today=None):
    """Where the pace so far leads by the period's end: {elapsed, days, projected, pct, projected_pct, gap,
    state}. The day counts whole business days, today included; before the period starts there is no pace,
    after it ends the figure is final."""
    today = today or clock.today()
    actual, target = Decimal(actual or 0), Decimal(target or 0)
    pct = float(actual * 100 / target) if target else None
    out = {"kind": period.kind, "actual": actual, "target": target, "pct": pct, "gap": max(target - actual, Decimal(0)),
           "days": period.days, "elapsed": 0, "projected": None, "projected_pct": None}
    if today < period.start:
        out["state"] = "future"
        return out
    if today >= period.end:
        out.update(state="ended", elapsed=period.days, projected=actual, projected_pct=pct)
        return out
    elapsed = (today - period.start).days + 1
    projected = actual * period.days / elapsed
    out.update(state="running", elapsed=elapsed, projected=projected,
               projected_pct=float(projected * 100 / target) if target else None)
    return out


# ---- kinds -----------------------------------------------------------------------------------------

def kinds(active_only=True):
    q = TargetKind.select().order_by(TargetKind.position, TargetKind.id)
    return list(q.where(TargetKind.active == True) if active_only else q)  # noqa: E712


def save_kind(actor, data, kind=None):
    """Add a kind of target (or rename one; its measure is fixed once made, like a custom field's kind)."""
    require(actor, "target.kinds")
    e = FieldErrors()
    label_zh = text_field(data, e, "label_zh", 40, required=True)
    label_en = text_field(data, e, "label_en", 40, required=True)
    measure, stage = (kind.measure, kind.stage) if kind else (str(data.get("measure") or ""), str(data.get("stage") or ""))
    if kind is None:
        if measure not in MEASURES:
            e.add("measure", N_("Choose one of the options."))
        if measure == "promotions_into" and stage not in STAGES[1:]:
            e.add("stage", N_("Choose the stage the promotions go into."))
        if measure != "promotions_into":
            stage = ""
    e.raise_if_any()
    with db.atomic():
        if kind is None:
            key = f"{measure}_{stage}" if stage else measure
            n = TargetKind.select().where(TargetKind.key.startswith(key)).count()
            kind = TargetKind.create(key=f"{key}_{n + 1}" if n else key, label_zh=label_zh, label_en=label_en,
                                     measure=measure, stage=stage,
                                     position=(TargetKind.select(pw.fn.MAX(TargetKind.position)).scalar() or 0) + 1)
        else:
            fresh(kind)
            kind.label_zh, kind.label_en = label_zh, label_en
            kind.active = bool(data.get("active", kind.active)) and data.get("active") != "0"
            kind.save()
        audit.record("target.kind_saved", actor, None, kind_id=kind.id, label=label_en, measure=measure, stage=stage)
    return kind


# ---- who sets what ---------------------------------------------------------------------------------

def team_reps(team):
    """The team's active sellers, the people a target is shared among."""
    return list(User.select().where((User.team == getattr(team, "id", team)) & (User.active == True)  # noqa: E712
                                    & User.role.in_(("sales", "manager"))).order_by(User.role.desc(), User.full_name))


def teams_for(user):
    """The sales teams whose targets `user` may read: a manager their own, an admin every sales team."""
    if can(user, "target.all_teams"):
        return sales_teams()
    return list(Team.select().where(Team.id == user.team_id)) if can(user, "target.team", user.team_id) else []


def sales_teams():
    """Every team with an active seller, by name (one query)."""
    sellers = User.select(User.team).where((User.active == True) & User.role.in_(("sales", "manager")))  # noqa: E712
    return list(Team.select().where(Team.id.in_(sellers)).order_by(Team.name))


def _amount(raw, money, required):
    text = str(raw if raw is not None else "").strip()
    if not text:
        if required:
            raise FieldError(N_("Required."))
        return Decimal(0)
    if text.startswith(("-", "－", "−")):
        raise FieldError(N_("A target cannot be negative."))
    if money:
        return parse_decimal(text, allow_zero=True, hi=MAX_AMOUNT)
    try:
        return Decimal(parse_int(text.replace(",", ""), 0, MAX_COUNT))
    except FieldError:
        raise FieldError(N_("A whole number, such as 12.")) from None


def get_target(team_id, kind_id, period):
    return Target.get_or_none((Target.team == team_id) & (Target.kind == kind_id) & (Target.period == period.kind)
                              & (Target.starts_on == period.start))


def set_target(actor, team, kind, period, data):
    """Save a team's target and its shares (`data`: amount, rep_<id> per rep, reason, version = the version the
    form was drawn from). Refused whole when a figure is bad, the shares fall short of the team's figure, a
    change comes without a reason, or someone saved a newer version meanwhile."""
    require(actor, "target.set", team.id)
    e = FieldErrors()
    money = kind.money
    amount = take(e, "amount", _amount, data.get("amount"), money, True)
    reps = team_reps(team)
    shares = {rep.id: take(e, f"rep_{rep.id}", _amount, data.get(f"rep_{rep.id}"), money, False) for rep in reps}
    if amount is not None and None not in shares.values():
        shares_total = sum(shares.values(), Decimal(0))
        if reps and shares_total < amount:
            short = amount - shares_total
            e.add("shares", N_("The reps' targets add up to %(sum)s, %(short)s short of the team's %(team)s."),
                  sum=_plain(shares_total, money), short=_plain(short, money), team=_plain(amount, money))
    reason = clean_text(data.get("reason"), 200)
    if reason is None:
        e.add("reason", N_("At most %(n)s characters."), n=200)
    try:
        seen_version = parse_int(data.get("version") or 0, 0, MAX_COUNT)
    except FieldError:
        seen_version = 0
    existing = get_target(team.id, kind.id, period)
    if existing is not None and not reason and "reason" not in e:
        e.add("reason", N_("Say why the target changes."))
    e.raise_if_any()
    now = clock.now()
    with db.atomic():
        target = get_target(team.id, kind.id, period)
        if target is not None:
            fresh(target)
        if (target.version if target else 0) != seen_version:
            raise ValidationError({"version": [(N_("%(name)s saved this target meanwhile: look at their figures "
                                                   "and save again."),
                                                {"name": target.updated_by.full_name if target.updated_by else "—"})]})
        if target is None:
            target = Target.create(team=team.id, kind=kind.id, period=period.kind, starts_on=period.start,
                                   amount=amount, version=1, updated_by=actor.id, updated_at=now)
        else:
            target.amount, target.version, target.updated_by, target.updated_at = amount, target.version + 1, actor.id, now
            target.save()
        TargetShare.delete().where(TargetShare.target == target).execute()
        if shares:
            TargetShare.insert_many([{"target": target.id, "rep": rep_id, "amount": value}
                                     for rep_id, value in shares.items()]).execute()
        TargetChange.create(target=target, version=target.version, actor=actor.id, at=now, reason=reason or "",
                            amount=amount, shares={str(k): str(v) for k, v in shares.items()})
        audit.record("target.set", actor, None, target_id=target.id, team=team.name, target_kind=kind.label_en,
                     period=period.key, amount=str(amount), version=target.version, reason=reason or "")
    return target


def _plain(value, money):
    return f"{value:,.2f}" if money else f"{value:,.0f}"


def history(target):
    return list(TargetChange.select(TargetChange, User).join(User, pw.JOIN.LEFT_OUTER, on=(TargetChange.actor == User.id))
                .where(TargetChange.target == target).order_by(TargetChange.version.desc()))


# ---- progress --------------------------------------------------------------------------------------

def _metric(kind):
    _money, metric, column = MEASURES[kind.measure]
    return metric.format(stage=kind.stage), column


def actuals(kind, period, team_id=None, rep_ids=None):
    """{rep id: actual} of one kind over a period, from the counters (`team_id`: work done in that team)."""
    metric, column = _metric(kind)
    value = pw.fn.SUM(getattr(RepPeriod, column))
    q = (RepPeriod.select(RepPeriod.rep, value.alias("v"))
         .where((RepPeriod.metric == metric) & (RepPeriod.span == period.kind) & (RepPeriod.starts_on == period.start)))
    if team_id is not None:
        q = q.where(RepPeriod.team_id == team_id)
    if rep_ids is not None:
        q = q.where(RepPeriod.rep.in_(rep_ids))
    scale = Decimal("0.01") if column == "amount" else Decimal(1)
    return {row.rep_id: Decimal(row.v or 0) * scale for row in q.group_by(RepPeriod.rep)}


def team_board(team, period, today=None):
    """Every kind's team target, its shares and their progress for one team and period."""
    reps = team_reps(team)
    targets = {t.kind_id: t for t in Target.select().where((Target.team == team.id) & (Target.period == period.kind)
                                                           & (Target.starts_on == period.start))}
    shares = {}
    if targets:
        for s in TargetShare.select().where(TargetShare.target.in_([t.id for t in targets.values()])):
            shares.setdefault(s.target_id, {})[s.rep_id] = s.amount
    rows = []
    for kind in kinds():
        target = targets.get(kind.id)
        got = actuals(kind, period, team_id=team.id)
        team_total = sum(got.values(), Decimal(0))
        mine = shares.get(target.id, {}) if target else {}
        rows.append({
            "kind": kind, "target": target, "team": run_rate(team_total, target.amount if target else 0, period, today),
            "shares_total": sum(mine.values(), Decimal(0)),
            "reps": [{"rep": r, "share": mine.get(r.id), "rate": run_rate(got.get(r.id, 0), mine.get(r.id, 0), period, today)}
                     for r in reps]})
    return {"team": team, "period": period, "reps": reps, "rows": rows}


def shares_query(user, periods):
    """The user's shares of active targets in `periods` (what `my_progress` reads)."""
    return (TargetShare.select(TargetShare.id).join(Target).join(TargetKind)
            .where((TargetShare.rep == user.id) & (TargetShare.amount > 0) & (TargetKind.active == True)  # noqa: E712
                   & _periods_where(periods)))


def targets_query(team_id, periods):
    """The team's active targets in `periods` (what `team_progress` reads)."""
    return (Target.select(Target.id).join(TargetKind)
            .where((Target.team == team_id) & (TargetKind.active == True) & _periods_where(periods)))  # noqa: E712


def my_progress(user, today=None, periods=None):
    """The user's shares with their progress: in the current month, quarter and year (the rep's workbench), or
    in the `periods` given."""
    today = today or clock.today()
    periods = periods or [containing(kind, today) for kind in PERIOD_KINDS]
    q = shares_query(user, periods).select(TargetShare, Target, TargetKind).order_by(TargetKind.position, TargetKind.id)
    out = []
    for share in q:
        target = share.target
        period = Period(target.period, target.starts_on)
        got = actuals(target.kind, period, team_id=target.team_id, rep_ids=[user.id]).get(user.id, 0)
        out.append({"kind": target.kind, "period": period, "rate": run_rate(got, share.amount, period, today)})
    out.sort(key=lambda r: (PERIOD_KINDS.index(r["period"].kind), r["kind"].position, r["kind"].id))
    return out


def team_progress(team, today=None, periods=None):
    """The team's targets with their progress: in the current month, quarter and year, or in the `periods` given
    (the manager's workbench)."""
    today = today or clock.today()
    periods = periods or [containing(kind, today) for kind in PERIOD_KINDS]
    q = targets_query(team.id, periods).select(Target, TargetKind)
    out = []
    for target in q:
        period = Period(target.period, target.starts_on)
        got = sum(actuals(target.kind, period, team_id=team.id).values(), Decimal(0))
        out.append({"kind": target.kind, "period": period, "rate": run_rate(got, target.amount, period, today)})
    out.sort(key=lambda r: (PERIOD_KINDS.index(r["period"].kind), r["kind"].position, r["kind"].id))
    return out


def _periods_where(periods):
    cond = None
    for p in periods:
        c = (Target.period == p.kind) & (Target.starts_on == p.start)
        cond = c if cond is None else (cond | c)
    return cond


def team_or_404(user, team_id):
    team = Team.get_or_none(Team.id == team_id) if team_id else None
    if team is None or not can(user, "target.team", team.id):
        raise NotFound()
    return team
