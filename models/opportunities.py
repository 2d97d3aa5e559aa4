"""Opportunities (商机): one deal on a customer through configurable stages, each with a default
probability; weighted value = amount × probability. Every stage change is a row with its time,
so the pipeline shows conversion and average dwell per stage; the forecast sums the weighted value
of open opportunities by expected close date.

Other domains use `Opportunity` (customer, owner, amount, stage, probability, expected_close) and
the verbs here; nothing outside this module writes these tables.
"""
import datetime as dt
import re
import unicodedata
from collections import namedtuple
from decimal import ROUND_HALF_UP, Decimal

import peewee as pw

from models import audit, clock, hooks, permissions, sql
from models.base import BaseModel, db, fresh, kept_select
from models.customers import BUSINESS_MODELS, Customer
from models.fields import FieldError, clean_text, int_or_none, parse_date, parse_yuan, take, text_field
from models.errors import N_, DomainError, NotFound, ValidationError, FieldErrors
from models.keyset import keyset_page
from models.permissions import require
from models.user_tables import team_id_of
from models.users import Team, User

# ---- stages ---------------------------------------------------------------------------------------

OPEN_STAGES = ("prospecting", "planning", "approach", "presentation", "objections", "final")
CLOSED_STAGES = ("won", "lost")
STAGES = OPEN_STAGES + CLOSED_STAGES
STAGE_LABELS = {
    "prospecting": N_("Prospecting"), "planning": N_("Planning"), "approach": N_("Approach"),
    "presentation": N_("Presentation"), "objections": N_("Handling objections"),
    "final": N_("Final competition"), "won": N_("Won"), "lost": N_("Lost"),
}
DEFAULT_PROBABILITY = {"prospecting": 10, "planning": 20, "approach": 30, "presentation": 50, "objections": 70,
                       "final": 80, "won": 100, "lost": 0}
DEFAULT_KEY_ACTIONS = {
    "prospecting": "判断需求与预算，确认是否值得跟进",
    "planning": "制定跟进计划，明确时间表与资源",
    "approach": "接触关键人，了解决策链",
    "presentation": "方案演示或产品展示",
    "objections": "处理价格、交期、质量等异议",
    "final": "最终竞争：商务谈判、合同条款",
    "won": "签约，移交交付与服务",
    "lost": "记录丢单原因，复盘",
}

MAX_AMOUNT = Decimal("999999999999.99")  # DECIMAL(14, 2)
CENT = Decimal("0.01")


class StageSetting(BaseModel):
    """An admin's setting for one stage of one business model (absent: the defaults above): its own
    name in each language (blank: the standard name), default probability, key actions and the
    criteria an opportunity must meet to enter it."""
    business_model = pw.CharField(max_length=20)
    stage = pw.CharField(max_length=20)
    probability = pw.SmallIntegerField()
    key_actions = pw.CharField(max_length=300, default="")
    name_zh = pw.CharField(max_length=30, default="")
    name_en = pw.CharField(max_length=30, default="")
    entry_criteria = pw.CharField(max_length=300, default="")
    updated_at = pw.DateTimeField()
    updated_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False)

    class Meta:
        indexes = ((("business_model", "stage"), True),)


class Opportunity(BaseModel):
    customer = pw.ForeignKeyField(Customer, backref="opportunities", on_delete="CASCADE", index=False)
    owner = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="opportunities")
    team = pw.ForeignKeyField(Team, null=True, on_delete="SET NULL", index=False)  # the owner's (manager scope)
    name = pw.CharField(max_length=100)
    amount = pw.DecimalField(max_digits=14, decimal_places=2, null=True, auto_round=True)
    probability = pw.SmallIntegerField()
    weighted = pw.DecimalField(max_digits=14, decimal_places=2, default=0, auto_round=True)  # amount × probability
    probability_reason = pw.CharField(max_length=200, default="")  # set when the rep overrides the default
    stage = pw.CharField(max_length=20)
    expected_close = pw.DateField()
    product_lines = pw.CharField(max_length=200, default="")
    next_step = pw.CharField(max_length=200, default="")
    competitors = pw.CharField(max_length=200, default="")
    lost_reason = pw.CharField(max_length=300, default="")
    created_at = pw.DateTimeField()
    created_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
    updated_at = pw.DateTimeField()
    stage_changed_at = pw.DateTimeField()
    closed_at = pw.DateTimeField(null=True)
    is_open = pw.BooleanField(default=True)  # stage in OPEN_STAGES (indexed: the list's open / closed pages)

    class Meta:
        indexes = (
            # board cards and the list by stage: scope × stage × close date, keyset on (expected_close, id)
            (("owner", "stage", "expected_close", "id"), False),
            (("team", "stage", "expected_close", "id"), False),
            (("stage", "expected_close", "id"), False),
            # the list's open / closed / all pages
            (("owner", "is_open", "expected_close", "id"), False), (("team", "is_open", "expected_close", "id"), False),
            (("is_open", "expected_close", "id"), False),
            (("owner", "expected_close", "id"), False), (("team", "expected_close", "id"), False),
            (("expected_close", "id"), False),
            (("customer", "id"), False),
            (("is_open", "stage_changed_at"), False),  # stage timeouts (models/pool_clock.py, migration 0042)
        )

    @property
    def overridden(self):
        return bool(self.probability_reason)


class OpportunityStageChange(BaseModel):
    """Every stage change with its time: `dwell_seconds` is the time spent in `from_stage`."""
    opportunity = pw.ForeignKeyField(Opportunity, backref="stage_changes", on_delete="CASCADE", index=False)
    from_stage = pw.CharField(max_length=20, null=True)
    to_stage = pw.CharField(max_length=20)
    at = pw.DateTimeField()
    actor = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False)
    owner = pw.IntegerField(null=True)  # the opportunity's owner then (stats per rep)
    team = pw.IntegerField(null=True)
    probability = pw.SmallIntegerField()
    amount = pw.DecimalField(max_digits=14, decimal_places=2, null=True, auto_round=True)
    dwell_seconds = pw.IntegerField(null=True)
    reason = pw.CharField(max_length=300, default="")

    class Meta:
        indexes = ((("opportunity", "id"), False), (("owner", "to_stage"), False), (("team", "to_stage"), False),
                   (("to_stage", "at"), False))


class PipelineTotal(BaseModel):
    """Opportunity count, amount and weighted value (in fen) per owner × team × stage × close month,
    kept by the verbs in their transaction: the board's column totals and the forecast read these
    few thousand rows instead of summing 200,000 opportunities. 0 stands for no owner / no team."""
    owner = pw.IntegerField()
    team = pw.IntegerField()
    stage = pw.CharField(max_length=20)
    month = pw.DateField()  # first day of the expected close month
    count = pw.IntegerField(default=0)
    amount_fen = pw.BigIntegerField(default=0)
    weighted_fen = pw.BigIntegerField(default=0)

    class Meta:
        indexes = ((("owner", "team", "stage", "month"), True), (("team", "stage", "month"), False),
                   (("stage", "month"), False), (("month", "stage"), False))


class StageFlow(BaseModel):
    """Stage changes counted per owner × team × from → to, with the summed time spent in `from_stage`:
    conversion and average dwell per stage without scanning every change row."""
    owner = pw.IntegerField()
    team = pw.IntegerField()
    from_stage = pw.CharField(max_length=20)  # "" for an opportunity's first stage
    to_stage = pw.CharField(max_length=20)
    count = pw.IntegerField(default=0)
    dwell_seconds = pw.BigIntegerField(default=0)

    class Meta:
        indexes = ((("owner", "team", "from_stage", "to_stage"), True), (("team", "from_stage"), False))


def _fen(value):
    return int((Decimal(value) * 100).to_integral_value(rounding=ROUND_HALF_UP)) if value is not None else 0


def _contribution(owner_id, team_id, stage, expected_close, amount, weighted, sign):
    return ((owner_id or 0, team_id or 0, stage, expected_close.replace(day=1)),
            (sign, sign * _fen(amount), sign * _fen(weighted)))


def _bump(changes):
    """Apply (key, (count, amount_fen, weighted_fen)) deltas to PipelineTotal, merged per key."""
    merged = {}
    for key, delta in changes:
        old = merged.get(key, (0, 0, 0))
        merged[key] = tuple(a + b for a, b in zip(old, delta))
    for (owner, team, stage, month), (count, amount, weighted) in merged.items():
        if (count, amount, weighted) == (0, 0, 0):
            continue
        PipelineTotal.insert(owner=owner, team=team, stage=stage, month=month, count=count, amount_fen=amount,
                             weighted_fen=weighted).on_conflict(
            conflict_target=[PipelineTotal.owner, PipelineTotal.team, PipelineTotal.stage, PipelineTotal.month],
            update={PipelineTotal.count: PipelineTotal.count + count,
                    PipelineTotal.amount_fen: PipelineTotal.amount_fen + amount,
                    PipelineTotal.weighted_fen: PipelineTotal.weighted_fen + weighted}).execute()


def _snapshot(opp):
    return (opp.owner_id, opp.team_id, opp.stage, opp.expected_close, opp.amount, opp.weighted)


def _retally(before, opp):
    """Move an opportunity's contribution from its `before` snapshot to its current values."""
    after = _snapshot(opp)
    if before == after:
        return
    _bump([_contribution(*before, -1), _contribution(*after, 1)])


def _flow(owner_id, team_id, from_stage, to_stage, dwell):
    StageFlow.insert(owner=owner_id or 0, team=team_id or 0, from_stage=from_stage or "", to_stage=to_stage,
                     count=1, dwell_seconds=dwell or 0).on_conflict(
        conflict_target=[StageFlow.owner, StageFlow.team, StageFlow.from_stage, StageFlow.to_stage],
        update={StageFlow.count: StageFlow.count + 1,
                StageFlow.dwell_seconds: StageFlow.dwell_seconds + (dwell or 0)}).execute()


def rebuild_summaries():
    """Recount PipelineTotal and StageFlow from the opportunities and their changes (after bulk loads;
    the verbs keep them in step otherwise). Months are first days in ISO text, as the date column stores them."""
    with db.atomic():
        PipelineTotal.delete().execute()
        StageFlow.delete().execute()
        db.execute_sql(
            "INSERT INTO pipeline_total (owner, team, stage, month, count, amount_fen, weighted_fen) "
            f"SELECT COALESCE(owner_id, 0), COALESCE(team_id, 0), stage, {sql.month_start('expected_close')}, "
            "COUNT(*), CAST(ROUND(SUM(COALESCE(amount, 0)) * 100) AS INTEGER), CAST(ROUND(SUM(weighted) * 100) AS INTEGER) "
            "FROM opportunity GROUP BY 1, 2, 3, 4")
        db.execute_sql(
            "INSERT INTO stage_flow (owner, team, from_stage, to_stage, count, dwell_seconds) "
            "SELECT COALESCE(owner, 0), COALESCE(team, 0), COALESCE(from_stage, ''), to_stage, COUNT(*), "
            "COALESCE(SUM(dwell_seconds), 0) FROM opportunity_stage_change GROUP BY 1, 2, 3, 4")
        rebuild_deal_stages()


def rebuild_deal_stages():
    """Set every customer's `deal_stage_since` / `deal_stage_opportunity` from its open opportunities (after bulk
    loads; `note_deal_stage` keeps them otherwise). Release dates are the caller's to recompute."""
    first = Opportunity.alias()
    since = (first.select(pw.fn.MIN(first.stage_changed_at))
             .where((first.customer == Customer.id) & (first.is_open == True)))  # noqa: E712
    which = (first.select(first.id).where((first.customer == Customer.id) & (first.is_open == True))  # noqa: E712
             .order_by(first.stage_changed_at, first.id).limit(1))
    with db.atomic():
        (Customer.update(deal_stage_since=None, deal_stage_opportunity=None)
         .where(Customer.deal_stage_since.is_null(False)).execute())
        (Customer.update(deal_stage_since=since, deal_stage_opportunity=which)
         .where(Customer.id.in_(Opportunity.select(Opportunity.customer).where(Opportunity.is_open == True)))  # noqa: E712
         .execute())


# ---- settings ---------------------------------------------------------------------------------------

class StageConfig(namedtuple("StageConfig", "probability key_actions name_zh name_en entry_criteria")):
    """One stage as a business model uses it; `name(locale)` is the admin's name or None (standard)."""

    def name(self, locale):
        own = self.name_zh if str(locale).startswith("zh") else self.name_en
        return own or None


def _default_config(stage):
    return StageConfig(DEFAULT_PROBABILITY[stage], DEFAULT_KEY_ACTIONS[stage], "", "", "")


def _config(row):
    return StageConfig(row.probability, row.key_actions, row.name_zh, row.name_en, row.entry_criteria)


def stage_settings(business_model):
    """{stage: StageConfig} for a business model: the admin's rows over the defaults."""
    out = {s: _default_config(s) for s in STAGES}
    for row in StageSetting.select().where(StageSetting.business_model == business_model):
        if row.stage in out:
            out[row.stage] = _config(row)
    return out


def all_stage_settings():
    """{business_model: {stage: StageConfig}} in one query."""
    out = {bm: {s: _default_config(s) for s in STAGES} for bm in BUSINESS_MODELS}
    for row in StageSetting.select():
        if row.business_model in out and row.stage in out[row.business_model]:
            out[row.business_model][row.stage] = _config(row)
    return out


def default_probability(business_model, stage):
    if stage in CLOSED_STAGES:
        return DEFAULT_PROBABILITY[stage]
    row = StageSetting.get_or_none((StageSetting.business_model == business_model) & (StageSetting.stage == stage))
    return row.probability if row else DEFAULT_PROBABILITY[stage]


def save_stage_settings(actor, data):
    """Save every business model's stage names, probabilities, key actions and entry criteria (form
    fields `name_zh-`, `name_en-`, `prob-`, `actions-`, `criteria-<model>-<stage>`); won and lost stay
    100 % and 0 %. The audit row lists each change from → to."""
    require(actor, "opportunity.settings")
    e = FieldErrors()
    values = {}
    current = all_stage_settings()
    for bm in BUSINESS_MODELS:
        for stage in OPEN_STAGES:
            field = f"prob-{bm}-{stage}"
            was = current[bm][stage]
            probability = _probability(data.get(field, was.probability), e, field)
            texts = {}
            for key, attr, limit in (("actions", "key_actions", 300), ("name_zh", "name_zh", 30),
                                     ("name_en", "name_en", 30), ("criteria", "entry_criteria", 300)):
                text = clean_text(data.get(f"{key}-{bm}-{stage}", getattr(was, attr)), limit)
                if text is None:
                    e.add(f"{key}-{bm}-{stage}", N_("At most %(n)s characters."), n=limit)
                texts[attr] = text or ""
            values[(bm, stage)] = StageConfig(probability, texts["key_actions"], texts["name_zh"], texts["name_en"],
                                              texts["entry_criteria"])
        probs = [values[(bm, s)].probability for s in OPEN_STAGES]
        if None not in probs and probs != sorted(probs):
            e.add(f"prob-{bm}-{OPEN_STAGES[0]}", N_("Probabilities must not fall from one stage to the next."))
    e.raise_if_any()
    now = clock.now()
    changes = {}
    with db.atomic():
        for (bm, stage), config in values.items():
            if config == current[bm][stage]:
                continue
            changes[f"{bm}.{stage}"] = [list(current[bm][stage]), list(config)]
            fields = {"probability": config.probability, "key_actions": config.key_actions, "name_zh": config.name_zh,
                      "name_en": config.name_en, "entry_criteria": config.entry_criteria}
            StageSetting.insert(business_model=bm, stage=stage, updated_at=now, updated_by=actor.id, **fields).on_conflict(
                conflict_target=[StageSetting.business_model, StageSetting.stage],
                update={**{getattr(StageSetting, k): v for k, v in fields.items()},
                        StageSetting.updated_at: now, StageSetting.updated_by: actor.id}).execute()
        if changes:
            audit.record("opportunity.settings_saved", actor, None, changes=changes)
    return changes


# ---- parsing ------------------------------------------------------------------------------------------

def _probability(raw, e, field="probability"):
    text = unicodedata.normalize("NFKC", str(raw if raw is not None else "")).strip().rstrip("%").strip()
    if not re.fullmatch(r"\d{1,12}", text):
        e.add(field, N_("Enter a whole number of per cent between 0 and 100."))
        return None
    value = int(text)
    if not 0 <= value <= 100:
        e.add(field, N_("A probability is between 0 and 100 %%; %(value)s %% is not possible."), value=value)
        return None
    return value


def close_date_range():
    today = clock.today()
    return dt.date(2000, 1, 1), dt.date(today.year + 10, 12, 31)


def _close_date(raw, e):
    lo, hi = close_date_range()
    value = take(e, "expected_close", parse_date, raw or "", dt.date.min, dt.date.max)
    if value is None:
        return None
    if not lo <= value <= hi:
        e.add("expected_close", N_("Enter an expected close date between %(lo)s and %(hi)s."),
              lo=lo.isoformat(), hi=hi.isoformat())
        return None
    return value


def weighted_value(amount, probability):
    """amount × probability, rounded to the fen (None amount: 0)."""
    if amount is None or probability is None:
        return Decimal("0.00")
    return (Decimal(amount) * probability / 100).quantize(CENT, rounding=ROUND_HALF_UP)


def validate_opportunity(data, opportunity=None):
    """The fields of the opportunity form, cleaned; ValidationError naming each bad field."""
    e = FieldErrors()
    out = {}
    for field, limit, required in (("name", 100, True), ("product_lines", 200, False), ("next_step", 200, False),
                                   ("competitors", 200, False)):
        out[field] = text_field(data, e, field, limit, required=required)
    out["amount"] = take(e, "amount", parse_yuan, data.get("amount"), hi=MAX_AMOUNT)
    out["expected_close"] = _close_date(data.get("expected_close"), e)
    e.raise_if_any()
    return out


# ---- scopes ------------------------------------------------------------------------------------------

def get_opportunity(opportunity_id):
    pk = int_or_none(opportunity_id)
    row = (Opportunity.select(Opportunity, Customer).join(Customer, on=(Opportunity.customer == Customer.id))
           .where(Opportunity.id == pk).first()) if pk else None
    if row is None:
        raise NotFound()
    return row


def of_customer(customer):
    return (Opportunity.select().where(Opportunity.customer == customer)
            .order_by(pw.Case(None, [(Opportunity.stage.in_(OPEN_STAGES), 0)], 1), Opportunity.expected_close,
                      Opportunity.id))


# ---- verbs -------------------------------------------------------------------------------------------

def _owner_for(actor, customer, data):
    """The rep working the deal: the customer's owner by default; a manager or admin may name another
    active seller of the customer's team."""
    owner_id = int_or_none(data.get("owner_id")) if data.get("owner_id") else None
    if owner_id is None or actor.role not in ("manager", "admin"):
        return User.get_or_none(User.id == customer.owner_id) if customer.owner_id else actor
    owner = User.get_or_none((User.id == owner_id) & (User.active == True)  # noqa: E712
                             & User.role.in_(("sales", "manager")))
    if owner is None or (customer.team_id and owner.team_id != customer.team_id):
        raise ValidationError({"owner_id": [(N_("Choose an active colleague of the customer's team."), {})]})
    return owner


def create_opportunity(actor, customer, data):
    """Open an opportunity on a customer. The stage's default probability applies unless the rep
    gives another with a reason."""
    require(actor, "opportunity.create", customer)
    values = validate_opportunity(data)
    stage = data.get("stage") or OPEN_STAGES[0]
    if stage not in OPEN_STAGES:
        raise ValidationError({"stage": [(N_("A new opportunity starts in an open stage."), {})]})
    default = default_probability(customer.business_model, stage)
    probability, reason = _override(data, default)
    owner = _owner_for(actor, customer, data)
    now = clock.now()
    with db.atomic():
        opp = Opportunity.create(customer=customer, owner=owner, team=owner.team_id if owner else None,
                                 stage=stage, probability=probability, probability_reason=reason,
                                 weighted=weighted_value(values["amount"], probability), created_at=now,
                                 created_by=actor, updated_at=now, stage_changed_at=now, is_open=True, **values)
        _bump([_contribution(*_snapshot(opp), 1)])
        _flow(opp.owner_id, opp.team_id, None, stage, None)
        OpportunityStageChange.create(opportunity=opp, from_stage=None, to_stage=stage, at=now, actor=actor,
                                      owner=opp.owner_id, team=opp.team_id, probability=probability,
                                      amount=opp.amount, reason=reason)
        audit.record("opportunity.created", actor, customer, opportunity_id=opp.id, name=opp.name,
                     amount=_money(opp.amount), stage=stage, probability=probability, reason=reason)
        note_deal_stage([customer.id], now)
    return opp


def _override(data, default):
    """(probability, reason): the default, or the rep's figure with a reason (required when it differs)."""
    raw = data.get("probability")
    if raw in (None, ""):
        return default, ""
    e = FieldErrors()
    probability = _probability(raw, e)
    reason = clean_text(data.get("probability_reason"), 200)
    if reason is None:
        e.add("probability_reason", N_("At most %(n)s characters."), n=200)
    elif probability is not None and probability != default and not reason:
        e.add("probability_reason", N_("Say why the probability differs from the stage's %(p)s %%."), p=default)
    e.raise_if_any()
    return probability, (reason if probability != default else "")


def _money(value):
    return None if value is None else str(value)


def update_opportunity(actor, opp, data):
    """Edit name, amount, close date, product lines, next step, competitors; the weighted value follows."""
    require(actor, "opportunity.edit", opp)
    values = validate_opportunity(data, opp)
    changes = {}
    with db.atomic():
        fresh(opp)  # diff, audit and re-tally against the row as it is now (a hook may have moved its owner)
        require(actor, "opportunity.edit", opp)
        if opp.stage == "won" and values["amount"] is None:
            raise ValidationError({"amount": [(N_("A won opportunity needs its amount."), {})]})
        before = _snapshot(opp)
        for field, new in values.items():
            old = getattr(opp, field)
            if (old.quantize(CENT) if isinstance(old, Decimal) else old) != new:
                changes[field] = [_plain(old), _plain(new)]
                setattr(opp, field, new)
        if not changes:
            return opp
        opp.weighted = weighted_value(opp.amount, opp.probability)
        opp.updated_at = clock.now()
        opp.save()
        _retally(before, opp)
        audit.record("opportunity.updated", actor, opp.customer_id, opportunity_id=opp.id, name=opp.name,
                     changes=changes)
    return opp


def _plain(value):
    if isinstance(value, (Decimal, dt.date)):
        return str(value)
    return value


def move_opportunity(actor, opp, stage, data=None):
    """Move to another stage. The stage's default probability applies, unless `data` carries another
    `probability` with a `probability_reason`. Won needs an amount, lost a `lost_reason`. The change is
    recorded with the time spent in the stage it leaves."""
    require(actor, "opportunity.edit", opp)
    data = data or {}
    if stage not in STAGES:
        raise ValidationError({"stage": [(N_("Choose one of the options."), {})]})
    with db.atomic():  # decided on the row as it is now: its stage, amount and owner may have moved
        fresh(opp)
        require(actor, "opportunity.edit", opp)
        return _move_opportunity(actor, opp, stage, data)


def _move_opportunity(actor, opp, stage, data):
    if stage == opp.stage:
        raise ValidationError({"stage": [(N_("The opportunity is already in this stage."), {})]})
    e = FieldErrors()
    lost_reason = ""
    amount = opp.amount
    if stage == "won" and not opp.amount:  # the amount may come with the move (the board's dialog asks for it)
        try:
            amount = parse_yuan(data.get("amount"), hi=MAX_AMOUNT)
        except FieldError as exc:
            e.add("amount", exc.message, **exc.params)
        else:
            if not amount:
                e.add("amount", N_("A won opportunity needs its amount: enter it first."))
    if stage == "lost":
        lost_reason = clean_text(data.get("lost_reason"), 300)
        if lost_reason is None:
            e.add("lost_reason", N_("At most %(n)s characters."), n=300)
        elif not lost_reason:
            e.add("lost_reason", N_("Say why the opportunity was lost."))
    e.raise_if_any()
    customer = Customer.get_by_id(opp.customer_id)
    default = default_probability(customer.business_model, stage)
    if stage in CLOSED_STAGES:
        probability, reason = default, ""
    else:
        probability, reason = _override(data, default)
    now = clock.now()
    old_stage, old_probability = opp.stage, opp.probability
    before = _snapshot(opp)
    dwell = max(0, int((now - opp.stage_changed_at).total_seconds()))
    opp.stage, opp.probability, opp.probability_reason = stage, probability, reason
    opp.amount = amount
    opp.weighted = weighted_value(opp.amount, probability)
    opp.stage_changed_at = opp.updated_at = now
    opp.closed_at = now if stage in CLOSED_STAGES else None
    opp.lost_reason = lost_reason if stage == "lost" else ""
    opp.is_open = stage in OPEN_STAGES
    opp.save()
    _retally(before, opp)
    _flow(opp.owner_id, opp.team_id, old_stage, stage, dwell)
    OpportunityStageChange.create(opportunity=opp, from_stage=old_stage, to_stage=stage, at=now, actor=actor,
                                  owner=opp.owner_id, team=opp.team_id, probability=probability,
                                  amount=opp.amount, dwell_seconds=dwell, reason=lost_reason or reason)
    audit.record("opportunity.stage_changed", actor, customer, opportunity_id=opp.id, name=opp.name,
                 from_stage=old_stage, to_stage=stage, from_probability=old_probability,
                 probability=probability, amount=_money(opp.amount), weighted=_money(opp.weighted),
                 reason=reason, lost_reason=lost_reason)
    note_deal_stage([customer.id], now)  # a stage move or a close gives the customer its normal clock back
    return opp


def set_probability(actor, opp, probability, reason):
    """The rep's own probability for an open opportunity, with a reason (kept and shown); giving the
    stage's default back clears the override."""
    require(actor, "opportunity.edit", opp)
    with db.atomic():
        fresh(opp)
        require(actor, "opportunity.edit", opp)
        return _set_probability(actor, opp, probability, reason)


def _set_probability(actor, opp, probability, reason):
    if not opp.is_open:
        raise DomainError(N_("A closed opportunity keeps its probability: move it to an open stage first."))
    customer = Customer.get_by_id(opp.customer_id)
    default = default_probability(customer.business_model, opp.stage)
    e = FieldErrors()
    value = _probability(probability, e)
    reason = clean_text(reason, 200)
    if reason is None:
        e.add("probability_reason", N_("At most %(n)s characters."), n=200)
    elif value is not None and value != default and not reason:
        e.add("probability_reason", N_("Say why the probability differs from the stage's %(p)s %%."), p=default)
    e.raise_if_any()
    if value == opp.probability and (reason or "") == opp.probability_reason:
        return opp
    old = opp.probability
    before = _snapshot(opp)
    opp.probability = value
    opp.probability_reason = reason if value != default else ""
    opp.weighted = weighted_value(opp.amount, value)
    opp.updated_at = clock.now()
    opp.save()
    _retally(before, opp)
    audit.record("opportunity.probability_changed", actor, customer, opportunity_id=opp.id, name=opp.name,
                 from_probability=old, probability=value, reason=opp.probability_reason,
                 weighted=_money(opp.weighted), stage=opp.stage)
    return opp


def deal_stage(customer_id):
    """(since, opportunity id) of the customer's open opportunity longest in its stage; (None, None) if none."""
    top = (Opportunity.select(Opportunity.id, Opportunity.stage_changed_at)
           .where((Opportunity.customer == customer_id) & (Opportunity.is_open == True))  # noqa: E712
           .order_by(Opportunity.stage_changed_at, Opportunity.id).first())
    return (top.stage_changed_at, top.id) if top else (None, None)


def note_deal_stage(customer_ids, now=None):
    """Inside the caller's transaction: keep `Customer.deal_stage_since` / `deal_stage_opportunity` (the open
    opportunity longest in one stage) in step with the opportunities, and recompute the release date of an owned
    customer whose value changed (the rule `stage_timeout_release_days`, models/pools.py `release_plan`).
    Returns the customers that changed."""
    changed = []
    for customer_id in sorted(set(customer_ids)):
        since, opp_id = deal_stage(customer_id)
        customer = Customer.get_or_none(Customer.id == customer_id)
        if customer is None or (customer.deal_stage_since, customer.deal_stage_opportunity) == (since, opp_id):
            continue
        Customer.update(deal_stage_since=since, deal_stage_opportunity=opp_id).where(Customer.id == customer_id).execute()
        customer.deal_stage_since, customer.deal_stage_opportunity = since, opp_id
        if customer.owner_id:
            hooks.fire("customer_changed", customer, now or clock.now())  # models/pools.py: the release date
        changed.append(customer)
    return changed


def _follow_owner(actor, customer_ids, from_owner_id, to_owner_id, reason=""):
    """hooks.owner_changed: open opportunities of transferred customers go to the new owner (and team);
    a customer released to a pool takes its open opportunities with it (no owner until claimed)."""
    customer_ids = list(customer_ids)
    if not customer_ids:
        return 0
    to_team = team_id_of(to_owner_id, actor) if to_owner_id else None
    moved = 0
    for start in range(0, len(customer_ids), 500):
        chunk = customer_ids[start:start + 500]
        q = Opportunity.select(Opportunity.id, Opportunity.customer, Opportunity.owner, Opportunity.team,
                               Opportunity.stage, Opportunity.expected_close, Opportunity.amount,
                               Opportunity.weighted).where(
            Opportunity.customer.in_(chunk) & Opportunity.stage.in_(OPEN_STAGES)
            & ((Opportunity.owner != to_owner_id) | Opportunity.owner.is_null() if to_owner_id
               else Opportunity.owner.is_null(False)))
        rows = list(q)
        if not rows:
            continue
        Opportunity.update(owner=to_owner_id, team=to_team, updated_at=clock.now()).where(
            Opportunity.id.in_([r.id for r in rows])).execute()
        deltas = []
        for r in rows:
            deltas.append(_contribution(*_snapshot(r), -1))
            deltas.append(_contribution(to_owner_id, to_team, r.stage, r.expected_close, r.amount, r.weighted, 1))
        _bump(deltas)
        by_customer = {}
        for r in rows:
            by_customer.setdefault(r.customer_id, []).append(r.id)
        for cid, ids in by_customer.items():
            audit.record("opportunity.owner_followed", actor, cid, opportunity_ids=ids,
                         from_owner_id=from_owner_id, to_owner_id=to_owner_id, reason=reason or "")
        moved += len(rows)
    return moved


hooks.on("owner_changed", _follow_owner)


def _follow_merge(actor, loser_id, survivor_id):
    """hooks.customer_merged: the merged-away customer's opportunities (which its deletion would cascade away)
    move to the survivor; open ones go to the survivor's owner."""
    ids = [r.id for r in Opportunity.select(Opportunity.id).where(Opportunity.customer == loser_id)]
    if not ids:
        return
    Opportunity.update(customer=survivor_id).where(Opportunity.id.in_(ids)).execute()
    audit.record("opportunity.merged", actor, survivor_id, opportunity_ids=ids, from_customer_id=loser_id)
    owner_id = Customer.select(Customer.owner).where(Customer.id == survivor_id).scalar()
    _follow_owner(actor, [survivor_id], None, owner_id, "")
    note_deal_stage([survivor_id])


hooks.on("customer_merged", _follow_merge)


# ---- pipeline, statistics, forecast ------------------------------------------------------------------

class Filters:
    """Owner / team / close month (YYYY-MM) for the board, the list and the statistics."""

    def __init__(self, owner=None, team=None, month=None):
        self.owner, self.team, self.month = owner, team, month

    @classmethod
    def parse(cls, args, user):
        owner = int_or_none(args.get("owner")) if args.get("owner") else None
        team = int_or_none(args.get("team")) if args.get("team") else None
        month = None
        raw = (args.get("month") or "").strip()
        if re.fullmatch(r"\d{4}-\d{2}", raw):
            year, mon = int(raw[:4]), int(raw[5:])
            if 2000 <= year <= 2100 and 1 <= mon <= 12:
                month = dt.date(year, mon, 1)
        if not permissions.can(user, "opportunity.filter_owner"):
            owner = None  # a rep's pipeline is their own
        if not permissions.can(user, "opportunity.filter_team"):
            team = None
        return cls(owner, team, month)

    def args(self):
        out = {}
        if self.owner:
            out["owner"] = self.owner
        if self.team:
            out["team"] = self.team
        if self.month:
            out["month"] = self.month.strftime("%Y-%m")
        return out

    def month_range(self):
        if not self.month:
            return None
        return self.month, _add_months(self.month, 1)

    def apply(self, query, user):
        query = permissions.scope("opportunity", user, query)
        if self.owner:
            query = query.where(Opportunity.owner == self.owner)
        if self.team:
            query = query.where(Opportunity.team == self.team)
        span = self.month_range()
        if span:
            query = query.where((Opportunity.expected_close >= span[0]) & (Opportunity.expected_close < span[1]))
        return query


def _add_months(day, n):
    month = day.month - 1 + n
    return dt.date(day.year + month // 12, month % 12 + 1, 1)


def _dec(value):
    return Decimal(str(value or 0)).quantize(CENT)


CARD_FIELDS = (Opportunity.id, Opportunity.customer, Opportunity.owner, Opportunity.team, Opportunity.name,
               Opportunity.amount, Opportunity.probability, Opportunity.weighted, Opportunity.probability_reason,
               Opportunity.stage, Opportunity.expected_close)


def board(user, f, per_column=15):
    """Columns per stage: count, amount and weighted totals, and the first cards by close date."""
    totals = {s: {"count": 0, "amount": Decimal("0.00"), "weighted": Decimal("0.00")} for s in STAGES}
    q = PipelineTotal.select(PipelineTotal.stage, pw.fn.SUM(PipelineTotal.count), pw.fn.SUM(PipelineTotal.amount_fen),
                             pw.fn.SUM(PipelineTotal.weighted_fen))
    q = _summary_scope(q, PipelineTotal, user, f, delegated=True)  # a delegate's board: the absentees' too
    if f.month:
        q = q.where(PipelineTotal.month == f.month)
    for stage, count, amount, weighted in q.group_by(PipelineTotal.stage).tuples():
        if stage in totals:
            totals[stage] = {"count": count or 0, "amount": _from_fen(amount), "weighted": _from_fen(weighted)}
    cards = {s: [] for s in STAGES}
    scoped = f.apply(Opportunity.select(*CARD_FIELDS, Customer.id, Customer.name, Customer.owner, Customer.team,
                                        User.id, User.full_name)
                     .join(Customer, on=(Opportunity.customer == Customer.id))
                     .switch(Opportunity).join(User, pw.JOIN.LEFT_OUTER, on=(Opportunity.owner == User.id)), user)
    for stage in STAGES:
        # Asked even where the totals are 0: a deal on a customer the user works but owned outside their
        # pipeline (a teammate's, or closed before the customer came to them) is a card, not a total.
        rows = scoped.where(Opportunity.stage == stage)
        order = (Opportunity.expected_close.desc(), Opportunity.id.desc()) if stage in CLOSED_STAGES else \
            (Opportunity.expected_close, Opportunity.id)
        cards[stage] = list(rows.order_by(*order).limit(per_column))
    pipeline = {"count": sum(totals[s]["count"] for s in OPEN_STAGES),
                "amount": sum((totals[s]["amount"] for s in OPEN_STAGES), Decimal("0.00")),
                "weighted": sum((totals[s]["weighted"] for s in OPEN_STAGES), Decimal("0.00"))}
    return {"totals": totals, "cards": cards, "pipeline": pipeline}


def _from_fen(value):
    return (Decimal(value or 0) / 100).quantize(CENT)


def _summary_scope(query, model, user, f, delegated=False):
    """A summary table narrowed to the user's pipeline (`permissions.pipeline_where`) and the filters."""
    cond = permissions.pipeline_where(user, model.owner, model.team, delegated=delegated)
    if cond is False:
        return query.where(model.owner == -1)
    if cond is not True:
        query = query.where(cond)
    if f.owner:
        query = query.where(model.owner == f.owner)
    if f.team:
        query = query.where(model.team == f.team)
    return query


def page(user, f, stage=None, status="open", after=None, limit=50):
    """The list: keyset pagination on (expected_close, id)."""
    q = f.apply(Opportunity.select(Opportunity, Customer.id, Customer.name, Customer.owner, Customer.team, User.id, User.full_name)
                .join(Customer, on=(Opportunity.customer == Customer.id))
                .switch(Opportunity).join(User, pw.JOIN.LEFT_OUTER, on=(Opportunity.owner == User.id)), user)
    if stage in STAGES:
        q = q.where(Opportunity.stage == stage)
    elif status == "open":
        q = q.where(Opportunity.is_open == True)  # noqa: E712
    elif status == "closed":
        q = q.where(Opportunity.is_open == False)  # noqa: E712
    found = keyset_page(q, [Opportunity.expected_close, Opportunity.id], after=after, limit=limit)
    return found.rows, found.next


def stage_statistics(user, f):
    """Per stage: how many opportunities entered it, the share that went on to a later stage
    (conversion) and the average days spent in it, from the stage-change rows (scoped by the
    opportunity's owner / team at the time of the change; close month ignored)."""
    q = _summary_scope(StageFlow.select(StageFlow.from_stage, StageFlow.to_stage, pw.fn.SUM(StageFlow.count),
                                        pw.fn.SUM(StageFlow.dwell_seconds)), StageFlow, user, f)
    entered = {s: 0 for s in STAGES}
    advanced = {s: 0 for s in STAGES}
    left = {s: 0 for s in STAGES}
    dwell = {s: 0 for s in STAGES}
    order = {s: i for i, s in enumerate(OPEN_STAGES)}
    order["won"] = len(OPEN_STAGES)
    for src, dst, count, seconds in q.group_by(StageFlow.from_stage, StageFlow.to_stage).tuples():
        if dst in entered:
            entered[dst] += count
        if src in left:
            left[src] += count
            dwell[src] += seconds or 0
            if dst in order and src in order and order[dst] > order[src]:
                advanced[src] += count
    out = []
    for s in OPEN_STAGES:
        out.append({"stage": s, "entered": entered[s], "left": left[s],
                    "conversion": round(100 * advanced[s] / left[s]) if left[s] else None,
                    "dwell_days": round(dwell[s] / left[s] / 86400, 1) if left[s] else None})
    closed = entered["won"] + entered["lost"]
    win_rate = round(100 * entered["won"] / closed) if closed else None
    return {"stages": out, "won": entered["won"], "lost": entered["lost"], "win_rate": win_rate}


def forecast_periods(today=None):
    """Next month and next quarter (calendar), as (key, start, end) with end exclusive."""
    today = today or clock.today()
    next_month = _add_months(today.replace(day=1), 1)
    quarter_start = dt.date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    next_quarter = _add_months(quarter_start, 3)
    return [("month", next_month, _add_months(next_month, 1)), ("quarter", next_quarter, _add_months(next_quarter, 3))]


def forecast(user, team=None, today=None):
    """Weighted pipeline of open opportunities by expected close date, for next month and next quarter,
    per rep and per team: {"periods": [...], "reps": [...], "teams": [...]} with Decimal sums."""
    periods = forecast_periods(today)
    start, end = periods[0][1], max(periods[0][2], periods[1][2])
    # Summed in SQL per owner and team, one CASE per period and figure: a few hundred rows come back.
    sums = []
    for _key, lo, hi in periods:
        inside = (PipelineTotal.month >= lo) & (PipelineTotal.month < hi)
        sums += [pw.fn.SUM(pw.Case(None, [(inside, field)], 0))
                 for field in (PipelineTotal.weighted_fen, PipelineTotal.amount_fen, PipelineTotal.count)]
    q = PipelineTotal.select(PipelineTotal.owner, PipelineTotal.team, *sums)
    q = _summary_scope(q, PipelineTotal, user, Filters(team=team if permissions.can(user, "opportunity.filter_team") else None))
    q = q.where((PipelineTotal.month >= start) & (PipelineTotal.month < end) & PipelineTotal.stage.in_(OPEN_STAGES))
    empty = lambda: {k: {"weighted": Decimal("0.00"), "amount": Decimal("0.00"), "count": 0}  # noqa: E731
                     for k, _a, _b in periods}
    reps, teams = {}, {}
    for owner_id, team_id, *figures in q.group_by(PipelineTotal.owner, PipelineTotal.team).tuples():
        for bucket in (reps.setdefault((owner_id or None, team_id or None), empty()),
                       teams.setdefault(team_id or None, empty())):
            for i, (key, _lo, _hi) in enumerate(periods):
                bucket[key]["weighted"] += _from_fen(figures[3 * i])
                bucket[key]["amount"] += _from_fen(figures[3 * i + 1])
                bucket[key]["count"] += figures[3 * i + 2] or 0
    names = {u.id: u.full_name for u in User.select(User.id, User.full_name)
             .where(User.id.in_([o for o, _t in reps if o]))} if reps else {}
    team_names = {t.id: t.name for t in Team.select(Team.id, Team.name).where(Team.id.in_([t for t in teams if t]))} \
        if teams else {}
    rep_rows = sorted(({"owner_id": o, "name": names.get(o, ""), "team": team_names.get(t, ""), **fig}
                       for (o, t), fig in reps.items()), key=lambda r: (-r["quarter"]["weighted"] - r["month"]["weighted"], r["name"]))
    team_rows = sorted(({"team_id": t, "name": team_names.get(t, ""), **fig} for t, fig in teams.items()),
                       key=lambda r: -r["quarter"]["weighted"] - r["month"]["weighted"])
    total = {k: {part: sum((r[k][part] for r in team_rows), Decimal("0.00") if part != "count" else 0)
                 for part in ("weighted", "amount", "count")} for k, _a, _b in periods}
    return {"periods": periods, "reps": rep_rows, "teams": team_rows, "total": total}


def history(opp):
    """The opportunity's stage changes, oldest first, with the actor's name."""
    return list(OpportunityStageChange.select(OpportunityStageChange, User.full_name.alias("actor_name"))
                .join(User, pw.JOIN.LEFT_OUTER, on=(OpportunityStageChange.actor == User.id))
                .where(OpportunityStageChange.opportunity == opp.id)
                .order_by(OpportunityStageChange.at, OpportunityStageChange.id).objects())


def workbench_summary(user, today=None, limit=5):
    """For the workbench: the open pipeline (count, weighted), what closes this month, and the open
    opportunities whose expected close date has passed (the oldest first, and how many)."""
    today = today or clock.today()
    month = today.replace(day=1)
    # Both statements are kept (kept_select): the workbench asks them on every visit. The user's id and team
    # go in as marks (permissions._Marked); the scope's own reads are done with the user (opportunity_shape).
    leads, head = permissions.pipeline_head(user)

    def totals(*values):
        marked = permissions.Marked(user, None if leads or not head else values[0], values[0] if leads else None)
        return _summary_scope(PipelineTotal.select(
            pw.fn.SUM(PipelineTotal.count), pw.fn.SUM(PipelineTotal.weighted_fen),
            pw.fn.SUM(pw.Case(None, [(PipelineTotal.month == values[-1], PipelineTotal.weighted_fen)], 0))),
            PipelineTotal, marked, Filters()).where(PipelineTotal.stage.in_(OPEN_STAGES)).limit(1).tuples()

    count, weighted, this_month = next(iter(kept_select(
        ("opportunities.totals", user.role, leads), totals, *head, month)), None) or (0, 0, 0)
    shape = permissions.opportunity_shape(user)
    late = Opportunity.select(*CARD_FIELDS, Customer.id, Customer.name).join(
        Customer, on=(Opportunity.customer == Customer.id))

    def overdue(query, day):
        return query.where((Opportunity.is_open == True) & (Opportunity.expected_close < day))  # noqa: E712

    if not isinstance(shape, tuple):  # everyone's (admin, service) or no one's
        rows = list(overdue(permissions.scope("opportunity", user, late), today)
                    .order_by(Opportunity.expected_close, Opportunity.id).limit(limit))
    else:
        key, values, condition = shape
        rows = list(kept_select(("opportunities.late", limit) + key, lambda *v: overdue(
            late.where(condition(*v[:-1])), v[-1]).order_by(Opportunity.expected_close, Opportunity.id).limit(limit),
            *values, today))
    late_count = (overdue(permissions.scope("opportunity", user, late), today).count() if len(rows) == limit
                  else len(rows))
    return {"count": count or 0, "weighted": _from_fen(weighted), "this_month": _from_fen(this_month),
            "late": rows, "late_count": late_count}
