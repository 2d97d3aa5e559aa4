"""Customer value (domain §7, issue 15): value tiers from what a customer contributes, not its size.

Trading customers (a signed order in the last 24 months, or money due in the last 12) get a tier from a
weighted score of six inputs, each scored 0–100:

- sales: 12-month sales against `sales_full` (full points at or above it);
- collection: collection rate of the instalments due in the last 12 months (the 360 figure);
- timeliness: 100 at 0 average days late, 0 at `late_zero_days` or worse;
- margin: gross margin % against `margin_full`;
- influence: 1–5 entered by the rep or manager with a reason (unset: `default_influence`), 1 → 0, 5 → 100;
- growth: 12 months against the 12 before: 50 at no change, 100 at +`growth_full` %, 0 at −`growth_full` %.

score = Σ weight × points / 100 (weights sum to 100). Diamond, strategic and potential from thresholds
(potential also from growth ≥ `potential_growth`), else ordinary; **problem** whatever the score when an
instalment is overdue more than `problem_overdue_days` or the collection rate is below
`problem_collection_below`. Non-trading customers: important opportunity when their entered influence
reaches `important_influence` or their open weighted pipeline reaches `important_pipeline`, else ordinary.

Settings are versioned rules with an effective time (like the pool rules, models/rules.py). The recompute is
set-based SQL over id ranges of customers (one transaction per chunk): it stores the inputs it saw on
`CustomerValue`, the tier on `Customer.value_tier` (the list filter), and a `ValueChange` row plus a
timeline row for every change. The sweep runs it once per business day and rule version (`ValueRun`,
resumable); signing an order and receiving a payment recompute that customer at once.
"""
import datetime as dt
import json

import peewee as pw

from models import audit, clock, hooks
from models import orders as orders_mod
from models import rules as pool_rules
from models import sql
from models.base import BaseModel, JSONField, db, fresh
from models.customers import Customer
from models.fields import clean_text, int_or_none
from models.customer_tables import VALUE_TIERS
from models.errors import N_, DomainError, FieldErrors, ValidationError
from models.permissions import can, require, scope
from models.users import User

ALL_TIERS = VALUE_TIERS
TIERS, OPPORTUNITY_TIERS = VALUE_TIERS[:5], VALUE_TIERS[5:]
TIER_LABELS = {
    "diamond": N_("Diamond"), "strategic": N_("Strategic"), "potential": N_("Potential"), "ordinary": N_("Ordinary"),
    "problem": N_("Problem"), "important_opp": N_("Important opportunity"), "ordinary_opp": N_("Ordinary opportunity"),
}
# Rising and falling: a move up this ladder rose, down it fell (a first classification is neither).
RANK = {"problem": 0, "ordinary_opp": 1, "ordinary": 1, "important_opp": 2, "potential": 2, "strategic": 3,
        "diamond": 4}
METRICS = ("sales", "collection", "timeliness", "margin", "influence", "growth")
METRIC_LABELS = {
    "sales": N_("12-month sales"), "collection": N_("Collection rate"), "timeliness": N_("Payment timeliness"),
    "margin": N_("Gross margin"), "influence": N_("Influence"), "growth": N_("Growth"),
}
SCORED_TIERS = ("diamond", "strategic", "potential")  # the thresholds, highest first
SLA_PRIORITIES = ("urgent", "high", "normal", "low")  # models.service.PRIORITIES (a test holds them equal)
MAX_SLA_HOURS = 2000

DEFAULTS = {
    "weights": {"sales": 35, "collection": 15, "timeliness": 10, "margin": 15, "influence": 10, "growth": 15},
    "sales_full": 1000000,         # yuan of 12-month sales that score full points
    "margin_full": 40,             # gross margin % that scores full points
    "late_zero_days": 60,          # average days late that scores nothing
    "growth_full": 50,             # growth % that scores full points (its negative scores nothing)
    "thresholds": {"diamond": 85, "strategic": 70, "potential": 60},
    "potential_growth": 30,        # growth % that makes a trading customer potential at least
    "problem_overdue_days": 120,    # an instalment overdue more than this: problem
    "problem_collection_below": 70,  # a collection rate below this %: problem
    "important_influence": 4,      # non-trading: entered influence from this on: important opportunity
    "important_pipeline": 200000,  # … or open weighted pipeline from this many yuan on
    "default_influence": 3,        # a trading customer's influence until someone enters one
    "sla": {},                     # tier -> priority -> [response, resolution] working hours (models/service.py)
    "care_plan_from": "diamond",   # customers of this tier and above need a care plan (models/care.py); "none"
}
# care_plan_from -> the tiers that need a care plan
CARE_PLAN_CHOICES = {"none": (), "diamond": ("diamond",), "strategic": ("diamond", "strategic")}
CARE_PLAN_LABELS = {"none": N_("No tier requires one"), "diamond": N_("Diamond customers"),
                    "strategic": N_("Diamond and strategic customers")}
# name -> (lo, hi, label) of the plain numbers
NUMBERS = {
    "sales_full": (1, 10**10, N_("12-month sales for full points (yuan)")),
    "margin_full": (1, 100, N_("Gross margin for full points (percent)")),
    "late_zero_days": (1, 365, N_("Average days late that score nothing")),
    "growth_full": (1, 1000, N_("Growth for full points (percent)")),
    "potential_growth": (0, 1000, N_("Growth that makes a customer potential (percent)")),
    "problem_overdue_days": (0, 3650, N_("Problem: an instalment overdue more than (days)")),
    "problem_collection_below": (0, 100, N_("Problem: collection rate below (percent)")),
    "important_influence": (1, 5, N_("Important opportunity: influence from")),
    "important_pipeline": (1, 10**10, N_("Important opportunity: open weighted pipeline from (yuan)")),
    "default_influence": (1, 5, N_("Influence until one is entered")),
}
INFLUENCE_LEVELS = (1, 2, 3, 4, 5)


def _money(**kw):
    return pw.DecimalField(max_digits=14, decimal_places=2, auto_round=True, default=0, **kw)


class ValueRule(BaseModel):
    """One version of the value settings, in force from `effective_from` until a later one starts."""
    version = pw.IntegerField(unique=True)
    effective_from = pw.DateTimeField(index=True)
    settings = JSONField()
    note = pw.CharField(max_length=200, default="")
    created_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
    created_at = pw.DateTimeField()


class CustomerValue(BaseModel):
    """A customer's tier and the inputs the last recompute saw; the influence someone entered."""
    customer = pw.ForeignKeyField(Customer, primary_key=True, on_delete="CASCADE", backref="value")
    tier = pw.CharField(max_length=13, default="")
    score = pw.FloatField(null=True)
    reason = pw.CharField(max_length=12, default="")
    sales_12m = _money()
    cost_12m = _money()
    sales_prev = _money()
    due_12m = _money()
    collected_12m = _money()
    late_sum = pw.FloatField(default=0)
    late_n = pw.IntegerField(default=0)
    max_overdue_days = pw.IntegerField(default=0)
    pipeline = _money()
    influence = pw.SmallIntegerField(null=True)
    influence_reason = pw.CharField(max_length=200, default="")
    influence_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
    influence_at = pw.DateTimeField(null=True)
    rule_version = pw.IntegerField(default=0)
    computed_at = pw.DateTimeField(null=True)
    tier_since = pw.DateTimeField(null=True)

    class Meta:
        indexes = ((("tier", "customer"), False),)

    @property
    def collection_rate(self):
        return round(100 * float(self.collected_12m) / float(self.due_12m), 1) if self.due_12m else None

    @property
    def avg_days_late(self):
        return round(self.late_sum / self.late_n, 1) if self.late_n else None

    @property
    def margin_pct(self):
        return round(100 * float(self.sales_12m - self.cost_12m) / float(self.sales_12m), 1) if self.sales_12m else None

    @property
    def growth_pct(self):
        return round(100 * float(self.sales_12m - self.sales_prev) / float(self.sales_prev), 1) if self.sales_prev else None


class ValueChange(BaseModel):
    """A tier change: from, to, the rule version and the inputs it saw (`inputs` as the timeline row)."""
    customer = pw.ForeignKeyField(Customer, on_delete="CASCADE", index=False, backref="value_changes")
    at = pw.DateTimeField(index=True)
    from_tier = pw.CharField(max_length=13, default="")
    to_tier = pw.CharField(max_length=13)
    rule_version = pw.IntegerField()
    score = pw.FloatField(null=True)
    reason = pw.CharField(max_length=12, default="")
    inputs = JSONField(default=dict)

    class Meta:
        indexes = ((("customer", "at"), False),)


class ValueRun(BaseModel):
    """The nightly recompute of one business day under one rule version: resumable by `next_id`."""
    day = pw.DateField()
    rule_version = pw.IntegerField()
    started_at = pw.DateTimeField()
    finished_at = pw.DateTimeField(null=True)
    next_id = pw.IntegerField(default=0)
    customers = pw.IntegerField(default=0)
    changes = pw.IntegerField(default=0)

    class Meta:
        indexes = ((("day", "rule_version"), True),)


# ---- the rule ----------------------------------------------------------------------------------

class ValueSettings(pool_rules.VersionedSettings):
    DEFAULTS = DEFAULTS

    def care_tiers(self):
        """The tiers whose customers need an active care plan."""
        return CARE_PLAN_CHOICES.get(self.s.get("care_plan_from"), ())

    def sla(self, tier, priority):
        """(response, resolution) working hours the rule sets for `tier`, or None."""
        pair = (self.s.get("sla") or {}).get(tier, {}).get(priority)
        return tuple(pair) if pair else None


def in_force(now=None):
    now = now or clock.now()
    row = (ValueRule.select().where(ValueRule.effective_from <= now)
           .order_by(ValueRule.effective_from.desc(), ValueRule.version.desc()).first())
    return ValueSettings(row.settings, row.version, row.effective_from) if row else ValueSettings({}, 0)


def _number(e, data, name, lo, hi, default):
    raw = str(data.get(name, default) if data.get(name) is not None else default).strip().replace(",", "")
    try:
        value = float(raw)
        if value != value or not lo <= value <= hi:  # NaN, or out of range
            raise ValueError
    except (TypeError, ValueError, OverflowError):
        e.add(name, N_("A number from %(lo)s to %(hi)s."), lo=lo, hi=hi)
        return None
    return int(value) if value == int(value) else round(value, 2)


def validate_settings(data):
    """Form data (strings) to a settings dict, or one ValidationError naming every bad field."""
    e, out = FieldErrors(), {}
    weights = {}
    for m in METRICS:
        weights[m] = _number(e, data, f"weight_{m}", 0, 100, DEFAULTS["weights"][m])
    if None not in weights.values() and round(sum(weights.values()), 2) != 100:
        e.add("weights", N_("The weights must add up to 100 %%; they add up to %(sum)s %%."),
              sum=f"{sum(weights.values()):g}")
    out["weights"] = weights
    thresholds = {}
    for t in SCORED_TIERS:
        thresholds[t] = _number(e, data, f"threshold_{t}", 0, 100, DEFAULTS["thresholds"][t])
    for higher, lower in zip(SCORED_TIERS, SCORED_TIERS[1:]):
        a, b = thresholds[higher], thresholds[lower]
        if a is not None and b is not None and a <= b:
            e.add(f"threshold_{lower}", N_("Must be below the threshold of the tier above (%(a)s): thresholds may "
                                           "not overlap or be inverted."), a=f"{a:g}")
    out["thresholds"] = thresholds
    for name, (lo, hi, _label) in NUMBERS.items():
        out[name] = _number(e, data, name, lo, hi, DEFAULTS[name])
    sla = {}
    for tier in TIERS:
        row, given = {}, False
        for priority in SLA_PRIORITIES:
            pair = []
            for kind in ("response", "resolution"):
                field = f"sla_{tier}_{priority}_{kind}"
                raw = str(data.get(field) or "").strip()
                given = given or bool(raw)
                pair.append(_number(e, data, field, 0.5, MAX_SLA_HOURS, None) if raw else None)
            row[priority] = pair
        if not given:
            continue
        for priority, (response, resolution) in row.items():
            if response is None or resolution is None:
                for kind, hours in (("response", response), ("resolution", resolution)):
                    if hours is None and f"sla_{tier}_{priority}_{kind}" not in e:
                        e.add(f"sla_{tier}_{priority}_{kind}", N_("Fill the whole row, or leave it empty."))
            elif resolution < response:
                e.add(f"sla_{tier}_{priority}_resolution", N_("Resolution cannot come before the response."))
        sla[tier] = row
    out["sla"] = sla
    care = str(data.get("care_plan_from") or DEFAULTS["care_plan_from"]).strip()
    if care not in CARE_PLAN_CHOICES:
        e.add("care_plan_from", N_("Choose one of the options."))
    out["care_plan_from"] = care
    e.raise_if_any()
    return out


def _same(settings, current):
    return json.dumps(settings, sort_keys=True) == json.dumps(current.s, sort_keys=True)


def latest():
    """The newest version saved (in force or waiting for its start), else the defaults."""
    row = ValueRule.select().order_by(ValueRule.version.desc()).first()
    return ValueSettings(row.settings, row.version, row.effective_from) if row else ValueSettings({}, 0)


def save_rule(actor, settings, effective_from, note=""):
    """A new version of the value rule, from `effective_from` (not in the past); refused when it
    changes nothing against the newest version."""
    require(actor, "value.rules")
    if effective_from < clock.now() - dt.timedelta(minutes=5):
        raise ValidationError({"effective_from": [(N_("The start cannot be in the past."), {})]})
    note = clean_text(note, 200)
    if note is None:
        raise ValidationError({"note": [(N_("At most %(n)s characters."), {"n": 200})]})
    with db.atomic():
        if _same(settings, latest()):
            raise ValidationError({"rule": [(N_("Nothing changed: these are the settings of the newest version."), {})]})
        last = ValueRule.select(pw.fn.MAX(ValueRule.version)).scalar() or 0
        row = ValueRule.create(version=last + 1, effective_from=effective_from, settings=settings, note=note,
                               created_by=actor, created_at=clock.now())
        audit.record("value.rule_saved", actor, version=row.version,
                     effective_from=effective_from.isoformat(sep=" "), note=note)
    return row


# ---- the classifier: one SQL expression over a row source of inputs ------------------------------

def _clamp(expr, lo=0, hi=100):
    return f"(CASE WHEN ({expr}) < {lo} THEN {lo} WHEN ({expr}) > {hi} THEN {hi} ELSE ({expr}) END)"


def _num(value):
    return repr(float(value))


def classify_sql(settings, source):
    """SELECT over `source` (columns customer_id, s12, c12, sprev, due12, coll12, late_sum, late_n,
    max_overdue, pipeline, influence, old_tier) adding rate, late, margin_pct, growth, infl, score, tier,
    reason and limit_ (the threshold the reason names). Numbers come from validated settings."""
    s, w = settings.s, settings["weights"]
    th = s["thresholds"]
    inputs = f"""SELECT src.*,
        CASE WHEN src.s12 + src.sprev > 0 OR src.due12 > 0 THEN 1 ELSE 0 END AS trading,
        CASE WHEN src.due12 > 0 THEN {sql.round_to("100.0 * src.coll12 / src.due12", 1)} END AS rate,
        CASE WHEN src.late_n > 0 THEN {sql.round_to("src.late_sum * 1.0 / src.late_n", 1)} END AS late,
        CASE WHEN src.s12 > 0 THEN {sql.round_to("100.0 * (src.s12 - src.c12) / src.s12", 1)} END AS margin_pct,
        CASE WHEN src.sprev > 0 THEN {sql.round_to("100.0 * (src.s12 - src.sprev) / src.sprev", 1)} END AS growth,
        COALESCE(src.influence, {int(s['default_influence'])}) AS infl
      FROM ({source}) AS src"""
    late_zero, margin_full, growth_full = _num(s["late_zero_days"]), _num(s["margin_full"]), _num(s["growth_full"])
    points = {
        "sales": _clamp(f"100.0 * i.s12 / {_num(s['sales_full'])}"),
        "collection": "COALESCE(i.rate, 100)",
        "timeliness": f"CASE WHEN i.late IS NULL THEN 100 ELSE {_clamp(f'100 - 100.0 * i.late / {late_zero}')} END",
        "margin": f"CASE WHEN i.margin_pct IS NULL THEN 0 ELSE {_clamp(f'100.0 * i.margin_pct / {margin_full}')} END",
        "influence": "(i.infl - 1) * 25.0",
        "growth": f"CASE WHEN i.growth IS NULL THEN 50 ELSE {_clamp(f'50 + 50.0 * i.growth / {growth_full}')} END",
    }
    score = " + ".join(f"{_num(w[m])} * {points[m]}" for m in METRICS)
    scored = f"SELECT i.*, {sql.round_to(f'({score}) / 100.0', 1)} AS score FROM i"
    n_over, below = int(s["problem_overdue_days"]), _num(s["problem_collection_below"])
    imp_infl, imp_pipe = int(s["important_influence"]), _num(s["important_pipeline"])
    d, st, p, pg = _num(th["diamond"]), _num(th["strategic"]), _num(th["potential"]), _num(s["potential_growth"])
    # Materialised steps: each expression is evaluated once per row, not again at every reference to it.
    return f"""WITH i AS MATERIALIZED ({inputs}), x AS MATERIALIZED ({scored}) SELECT x.*,
      CASE WHEN x.trading = 0 THEN
             CASE WHEN COALESCE(x.influence, 0) >= {imp_infl} OR x.pipeline >= {imp_pipe} THEN 'important_opp'
                  ELSE 'ordinary_opp' END
           WHEN x.max_overdue > {n_over} THEN 'problem'
           WHEN x.rate IS NOT NULL AND x.rate < {below} THEN 'problem'
           WHEN x.score >= {d} THEN 'diamond' WHEN x.score >= {st} THEN 'strategic'
           WHEN x.score >= {p} OR x.growth >= {pg} THEN 'potential'
           ELSE 'ordinary' END AS tier,
      CASE WHEN x.trading = 0 THEN
             CASE WHEN COALESCE(x.influence, 0) >= {imp_infl} THEN 'influence'
                  WHEN x.pipeline >= {imp_pipe} THEN 'pipeline' ELSE 'none' END
           WHEN x.max_overdue > {n_over} THEN 'overdue'
           WHEN x.rate IS NOT NULL AND x.rate < {below} THEN 'collection'
           WHEN x.score >= {p} THEN 'score' WHEN x.growth >= {pg} THEN 'growth'
           ELSE 'score' END AS reason,
      CASE WHEN x.trading = 0 THEN
             CASE WHEN COALESCE(x.influence, 0) >= {imp_infl} THEN {imp_infl}
                  WHEN x.pipeline >= {imp_pipe} THEN {imp_pipe} ELSE {imp_pipe} END
           WHEN x.max_overdue > {n_over} THEN {n_over}
           WHEN x.rate IS NOT NULL AND x.rate < {below} THEN {below}
           WHEN x.score >= {d} THEN {d} WHEN x.score >= {st} THEN {st} WHEN x.score >= {p} THEN {p}
           WHEN x.growth >= {pg} THEN {pg} ELSE {p} END AS limit_
      FROM x"""


# ---- the recompute: set-based over an id range ----------------------------------------------------
# SQL text through models/sql.py's engine helpers (placeholders, day differences, rounding, JSON), so the same
# statements run on SQLite and PostgreSQL; the temporary tables are named without a schema (both engines
# look in the session's temporary schema first).

def _exec(text, params=()):
    return db.execute_sql(sql.placeholders(text), params)


_COLUMNS = "customer_id, s12, c12, sprev, due12, coll12, late_sum, late_n, max_overdue, pipeline"


def _prepare():
    _exec(f"CREATE TEMP TABLE IF NOT EXISTS value_inputs ({_COLUMNS.replace(', ', ' REAL, ')} REAL, "
          "PRIMARY KEY (customer_id))")
    _exec("CREATE TEMP TABLE IF NOT EXISTS value_ids (customer_id INTEGER PRIMARY KEY)")
    _exec("CREATE TEMP TABLE IF NOT EXISTS value_new (customer_id INTEGER PRIMARY KEY, s12 REAL, c12 REAL, "
          "sprev REAL, due12 REAL, coll12 REAL, late_sum REAL, late_n INTEGER, max_overdue INTEGER, "
          "pipeline REAL, influence INTEGER, old_tier TEXT, rate REAL, late REAL, margin_pct REAL, "
          "growth REAL, infl INTEGER, score REAL, tier TEXT, reason TEXT, limit_ REAL)")
    _exec("DELETE FROM value_inputs")
    _exec("DELETE FROM value_ids")
    _exec("DELETE FROM value_new")


def _gather(lo, hi, today):
    """The inputs of customers lo..hi into value_inputs (the same figures as orders.customer_figures:
    payments applied to each order's instalments first-due-first)."""
    since, prev = (today - dt.timedelta(days=365)).isoformat(), (today - dt.timedelta(days=730)).isoformat()
    day = today.isoformat()
    days = sql.days_between
    _exec(
        'INSERT INTO value_inputs (customer_id, s12, c12, sprev, due12, coll12, late_sum, late_n, max_overdue, '
        'pipeline) SELECT customer_id, '
        'ROUND(SUM(CASE WHEN ordered_on > ? THEN total ELSE 0 END), 2), '
        'ROUND(SUM(CASE WHEN ordered_on > ? THEN cost ELSE 0 END), 2), '
        'ROUND(SUM(CASE WHEN ordered_on <= ? THEN total ELSE 0 END), 2), 0, 0, 0, 0, 0, 0 '
        'FROM "order" WHERE customer_id BETWEEN ? AND ? AND status = \'signed\' AND ordered_on > ? AND ordered_on <= ? '
        'GROUP BY customer_id', (since, since, since, lo, hi, prev, day))
    # Each order's instalments (in due order) and payments (in date order) as running sums in one stream; an
    # instalment is paid on the date of the first payment whose running sum reaches its own.
    _exec(
        f"""WITH ev AS (
             SELECT order_id, customer_id, due_on, amount, 0 AS kind, NULL AS received_on,
                    ROUND(SUM(amount) OVER (PARTITION BY order_id ORDER BY due_on, id), 2) AS cum
             FROM payment_due WHERE customer_id BETWEEN ? AND ?
             UNION ALL
             SELECT order_id, customer_id, NULL, 0, 1, received_on,
                    ROUND(SUM(amount) OVER (PARTITION BY order_id ORDER BY received_on, id), 2)
             FROM payment WHERE customer_id BETWEEN ? AND ? AND received_on <= ?),
           x AS (SELECT customer_id, kind, due_on, amount,
                        MIN(received_on) OVER (PARTITION BY order_id ORDER BY cum, kind
                                               ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) AS paid_on
                 FROM ev)
           INSERT INTO value_inputs (customer_id, s12, c12, sprev, due12, coll12, late_sum, late_n, max_overdue,
                                          pipeline)
           SELECT customer_id, 0, 0, 0,
             ROUND(SUM(CASE WHEN due_on > ? AND due_on <= ? THEN amount ELSE 0 END), 2),
             ROUND(SUM(CASE WHEN due_on > ? AND due_on <= ? AND paid_on IS NOT NULL THEN amount ELSE 0 END), 2),
             SUM(CASE WHEN due_on > ? AND due_on <= ? THEN CASE WHEN paid_on IS NULL
                      THEN {days('?', 'due_on')}
                      ELSE {sql.greatest('0', days('paid_on', 'due_on'))} END ELSE 0 END),
             SUM(CASE WHEN due_on > ? AND due_on <= ? THEN 1 ELSE 0 END),
             MAX(CASE WHEN paid_on IS NULL AND due_on < ? THEN {days('?', 'due_on')} ELSE 0 END), 0
           FROM x WHERE kind = 0 GROUP BY customer_id
           ON CONFLICT (customer_id) DO UPDATE SET due12 = excluded.due12, coll12 = excluded.coll12,
             late_sum = excluded.late_sum, late_n = excluded.late_n, max_overdue = excluded.max_overdue""",
        (lo, hi, lo, hi, day, since, day, since, day, since, day, day, since, day, day, day))
    _exec(
        "INSERT INTO value_inputs (customer_id, s12, c12, sprev, due12, coll12, late_sum, late_n, max_overdue, "
        "pipeline) SELECT customer_id, 0, 0, 0, 0, 0, 0, 0, 0, ROUND(SUM(weighted), 2) FROM opportunity "
        "WHERE customer_id BETWEEN ? AND ? AND is_open GROUP BY customer_id "
        "ON CONFLICT (customer_id) DO UPDATE SET pipeline = excluded.pipeline", (lo, hi))


_MAY_MOVE = ("(tier <> 'ordinary_opp' OR influence IS NOT NULL OR pipeline <> 0 OR sales_12m <> 0 OR sales_prev <> 0 "
             "OR due_12m <> 0)")

# The customers of a range that can change: those with inputs, those whose stored row says something (a
# tier other than ordinary opportunity, an influence, a pipeline), and those never classified. Everyone else
# is an ordinary opportunity with nothing to recompute: the nightly run does not touch them.
_IDS = ("INSERT INTO value_ids SELECT customer_id FROM value_inputs WHERE true ON CONFLICT DO NOTHING",
        "INSERT INTO value_ids SELECT customer_id FROM customer_value WHERE customer_id BETWEEN {lo} AND "
        "{hi} AND " + _MAY_MOVE.replace("{", "{{").replace("}", "}}") + " ON CONFLICT DO NOTHING",
        "INSERT INTO value_ids SELECT id FROM customer WHERE value_tier = '' AND id BETWEEN {lo} AND {hi} "
        "ON CONFLICT DO NOTHING")

_SOURCE = """SELECT i.customer_id, COALESCE(v.s12, 0) AS s12, COALESCE(v.c12, 0) AS c12,
    COALESCE(v.sprev, 0) AS sprev, COALESCE(v.due12, 0) AS due12, COALESCE(v.coll12, 0) AS coll12,
    COALESCE(v.late_sum, 0) AS late_sum, COALESCE(v.late_n, 0) AS late_n,
    CAST(COALESCE(v.max_overdue, 0) AS INTEGER) AS max_overdue, COALESCE(v.pipeline, 0) AS pipeline,
    cv.influence AS influence, cv.tier AS old_tier
  FROM value_ids i LEFT JOIN value_inputs v ON v.customer_id = i.customer_id
  LEFT JOIN customer_value cv ON cv.customer_id = i.customer_id"""

_NEW_COLUMNS = ("customer_id, s12, c12, sprev, due12, coll12, late_sum, late_n, max_overdue, pipeline, influence, "
                "old_tier, rate, late, margin_pct, growth, infl, score, tier, reason, limit_")

def _inputs_json():
    """The inputs a history row keeps, as a JSON object of the classified row `n`."""
    return sql.json_object([("sales_12m", "n.s12"), ("sales_prev", "n.sprev"), ("margin_pct", "n.margin_pct"),
                            ("collection_rate", "n.rate"), ("avg_days_late", "n.late"),
                            ("max_overdue_days", "n.max_overdue"), ("growth_pct", "n.growth"), ("influence", "n.infl"),
                            ("pipeline", "n.pipeline"), ("score", "n.score"), ("limit", "n.limit_")])


def _write_range(settings, now, lo, hi):
    """Classify lo..hi from value_inputs and write: the inputs and tier on customer_value, the tier
    on customer, a history row and a timeline row per change. Returns (customers, changes)."""
    for text in _IDS:
        _exec(text.format(lo=int(lo), hi=int(hi)))
    _exec(f"INSERT INTO value_new ({_NEW_COLUMNS}) SELECT {_NEW_COLUMNS} FROM "
          f"({classify_sql(settings, _SOURCE)}) AS classified")
    at, version = now.isoformat(sep=" "), settings.version
    changed = "FROM value_new n WHERE (n.old_tier IS NULL OR n.old_tier <> n.tier)"
    # A first classification as an ordinary opportunity (the state of every new file) is not news: no
    # history or timeline row for it.
    told = changed + " AND NOT (COALESCE(n.old_tier, '') = '' AND n.tier = 'ordinary_opp')"
    changes = _exec(f"SELECT COUNT(*) {told}").fetchone()[0]
    if changes:
        _exec(f"INSERT INTO value_change (customer_id, at, from_tier, to_tier, rule_version, score, reason, "
              f"inputs) SELECT n.customer_id, ?, COALESCE(n.old_tier, ''), n.tier, ?, n.score, n.reason, "
              f"{sql.json_text(_inputs_json())} {told}", (at, version))
        data = sql.json_object([("from", "COALESCE(n.old_tier, '')"), ("to", "n.tier"), ("reason", "n.reason"),
                                ("rule_version", str(int(version))), ("inputs", _inputs_json())])
        _exec(f"INSERT INTO audit_event (at, actor_id, customer_id, kind, data) SELECT ?, NULL, n.customer_id, "
              f"'value.tier_changed', {sql.json_text(data)} {told}", (at,))
    _exec("UPDATE customer SET value_tier = (SELECT n.tier FROM value_new n WHERE n.customer_id = customer.id) "
          f"WHERE id IN (SELECT n.customer_id {changed})")
    _exec(
        "INSERT INTO customer_value (customer_id, tier, score, reason, sales_12m, cost_12m, sales_prev, due_12m, "
        "collected_12m, late_sum, late_n, max_overdue_days, pipeline, influence_reason, rule_version, computed_at, "
        "tier_since) SELECT n.customer_id, n.tier, n.score, n.reason, n.s12, n.c12, n.sprev, n.due12, n.coll12, "
        "n.late_sum, n.late_n, n.max_overdue, n.pipeline, '', ?, ?, ? FROM value_new n WHERE true "
        "ON CONFLICT (customer_id) DO UPDATE SET tier = excluded.tier, score = excluded.score, "
        "reason = excluded.reason, sales_12m = excluded.sales_12m, cost_12m = excluded.cost_12m, "
        "sales_prev = excluded.sales_prev, due_12m = excluded.due_12m, collected_12m = excluded.collected_12m, "
        "late_sum = excluded.late_sum, late_n = excluded.late_n, max_overdue_days = excluded.max_overdue_days, "
        "pipeline = excluded.pipeline, rule_version = excluded.rule_version, computed_at = excluded.computed_at, "
        "tier_since = CASE WHEN customer_value.tier = excluded.tier THEN customer_value.tier_since "
        "ELSE excluded.tier_since END", (version, at, at))
    count = _exec("SELECT COUNT(*) FROM value_new").fetchone()[0]
    if changes:
        _after_changes(settings, now)
    return count, changes


def _after_changes(settings, now):
    """A tier that changes a release period moves that customer's release date (only when the pool
    rules set periods per tier: otherwise nothing depends on it there)."""
    rules = pool_rules.in_force(now)
    if not rules.s.get("tiers"):
        return
    ids = [r[0] for r in _exec("SELECT n.customer_id FROM value_new n JOIN customer c "
                                        "ON c.id = n.customer_id WHERE (n.old_tier IS NULL OR n.old_tier <> n.tier) "
                                        "AND c.owner_id IS NOT NULL").fetchall()]
    for start in range(0, len(ids), 500):
        for customer in Customer.select().where(Customer.id.in_(ids[start:start + 500])):
            hooks.fire("customer_changed", customer, now)


def recompute_range(lo, hi, now=None, settings=None):
    """Recompute customers with ids lo..hi in the caller's transaction; (customers, changes)."""
    now = now or clock.now()
    settings = settings or in_force(now)
    _prepare()
    _gather(lo, hi, clock.to_local(now).date())
    return _write_range(settings, now, lo, hi)


def recompute(customer_id, now=None):
    """One customer, at once (an order signed, a payment received, influence entered)."""
    return recompute_range(customer_id, customer_id, now)


def recompute_all(now=None, chunk=50000, start_id=0, on_chunk=None):
    """Every customer, one transaction per id range of `chunk`; (customers, changes)."""
    now = now or clock.now()
    settings = in_force(now)
    top = Customer.select(pw.fn.MAX(Customer.id)).scalar() or 0
    total = changes = 0
    lo = start_id
    while lo <= top:
        hi = lo + chunk - 1
        with db.atomic():
            n, c = recompute_range(lo, hi, now, settings)
            if on_chunk:
                on_chunk(hi + 1, n, c)
        total, changes = total + n, changes + c
        lo = hi + 1
    return total, changes


def sweep(now=None, chunk=20000):
    """Once per business day and rule version in force: recompute every customer (resumes a run that
    was cut off; a second call the same day does nothing)."""
    now = now or clock.now()
    settings = in_force(now)
    day = clock.to_local(now).date()
    with db.atomic():  # BEGIN IMMEDIATE: a second sweeper waits here and then finds this run
        run = ValueRun.get_or_none((ValueRun.day == day) & (ValueRun.rule_version == settings.version))
        if run is None:
            run = ValueRun.create(day=day, rule_version=settings.version, started_at=now)
    if run.finished_at:
        return {"done": False, "rule_version": settings.version}

    def progress(next_id, n, c):
        ValueRun.update(next_id=next_id, customers=ValueRun.customers + n, changes=ValueRun.changes + c).where(
            ValueRun.id == run.id).execute()

    total, changes = recompute_all(now, chunk, run.next_id, progress)
    ValueRun.update(finished_at=clock.now()).where(ValueRun.id == run.id).execute()
    return {"done": True, "customers": total, "changes": changes, "rule_version": settings.version}


hooks.on("sweep", sweep, name="value")


def _on_signed(order, lines):
    recompute(order.customer_id)


def _on_payment(customer_id, now):
    recompute(customer_id, now)


orders_mod.on_signed(_on_signed)
hooks.on("payment_received", _on_payment)


# ---- influence -----------------------------------------------------------------------------------

def set_influence(actor, customer, level, reason):
    """The rep's or manager's view of the customer's influence (1–5), with the reason; reclassifies now."""
    require(actor, "value.influence", customer)
    e = FieldErrors()
    level = int_or_none(level)
    if level not in INFLUENCE_LEVELS:
        e.add("influence", N_("Choose 1 to 5."))
        level = None
    reason = clean_text(reason, 200)
    if reason is None:
        e.add("reason", N_("At most %(n)s characters."), n=200)
    elif not reason:
        e.add("reason", N_("Say why: influence needs a reason."))
    e.raise_if_any()
    now = clock.now()
    with db.atomic():
        fresh(customer)
        require(actor, "value.influence", customer)
        row = CustomerValue.get_or_none(CustomerValue.customer == customer.id)
        before = row.influence if row else None
        values = dict(influence=level, influence_reason=reason, influence_by=actor.id, influence_at=now)
        if row is None:
            CustomerValue.insert(customer=customer.id, **values).execute()
        else:
            CustomerValue.update(**values).where(CustomerValue.customer == customer.id).execute()
        audit.record("value.influence_set", actor, customer, before=before, after=level, reason=reason)
        recompute(customer.id, now)
    return CustomerValue.get(CustomerValue.customer == customer.id)


# ---- reading ---------------------------------------------------------------------------------------

def value_of(customer_id):
    return CustomerValue.get_or_none(CustomerValue.customer == customer_id)


def history(customer_id, limit=10):
    return list(ValueChange.select().where(ValueChange.customer == customer_id)
                .order_by(ValueChange.at.desc(), ValueChange.id.desc()).limit(limit))


def preview(settings_dict, limit=200):
    """What a rule would change, on the inputs the last recompute stored, changing nothing: moves per
    (from, to), the first `limit` customers that move, count and revenue per tier before and after."""
    current = in_force()
    if _same(settings_dict, current):
        raise ValidationError({"rule": [(N_("Nothing changed: these are the settings in force, so nothing "
                                            "would move."), {})]})
    settings = ValueSettings(settings_dict)
    # Only rows a rule can move: an ordinary opportunity with no inputs stays one under any rule.
    source = ("SELECT customer_id, sales_12m AS s12, cost_12m AS c12, sales_prev AS sprev, due_12m AS due12, "
              "collected_12m AS coll12, late_sum, late_n, max_overdue_days AS max_overdue, pipeline, influence, "
              f"tier AS old_tier FROM customer_value WHERE computed_at IS NOT NULL AND {_MAY_MOVE}")
    _exec("CREATE TEMP TABLE IF NOT EXISTS value_preview (customer_id INTEGER PRIMARY KEY, old_tier TEXT, "
          "tier TEXT, score REAL, s12 REAL)")
    _exec("DELETE FROM value_preview")
    _exec(f"INSERT INTO value_preview SELECT customer_id, old_tier, tier, score, s12 "
          f"FROM ({classify_sql(settings, source)}) AS classified WHERE old_tier <> tier")
    before = {tier: (n, float(revenue or 0)) for tier, n, revenue in _exec(
        "SELECT tier, COUNT(*), SUM(sales_12m) FROM customer_value WHERE computed_at IS NOT NULL GROUP BY tier")}
    after, moves = dict(before), {}
    for old, new, n, revenue in _exec(
            "SELECT old_tier, tier, COUNT(*), SUM(s12) FROM value_preview GROUP BY old_tier, tier").fetchall():
        moves[(old, new)] = n
        for tier, sign in ((old, -1), (new, 1)):
            count, money = after.get(tier, (0, 0))
            after[tier] = (count + sign * n, money + sign * float(revenue or 0))
    movers = _exec(
        "SELECT p.customer_id, c.name, p.old_tier, p.tier, p.score, p.s12 FROM value_preview p "
        "JOIN customer c ON c.id = p.customer_id ORDER BY p.s12 DESC LIMIT ?", (limit,)).fetchall()
    last = CustomerValue.select(pw.fn.MAX(CustomerValue.computed_at)).scalar()
    return {"before": before, "after": after, "moves": moves, "moved": sum(moves.values()),
            "movers": [dict(id=r[0], name=r[1], old=r[2], new=r[3], score=r[4], sales=r[5]) for r in movers],
            "as_of": last}


def pyramid(user, team=None, region=None, by="team", now=None):
    """Count, revenue, margin and share per tier (and per team or region) of the customers the user's
    pyramid covers, with the moves of the last quarter. Managers see their team's."""
    now = now or clock.now()
    cond, params = ["1=1"], []
    if not can(user, "value.pyramid_all"):
        cond.append("c.team_id = ?")
        params.append(user.team_id or -1)
    elif team:
        cond.append("c.team_id = ?")
        params.append(team)
    if region:
        cond.append("c.region_id = ?")
        params.append(region)
    where = " AND ".join(cond)
    group = "c.region_id" if by == "region" else "c.team_id"
    # Counts of the opportunity tiers come from the customer index alone; money only for trading tiers.
    opp = ", ".join(f"'{t}'" for t in OPPORTUNITY_TIERS)
    trading = ", ".join(f"'{t}'" for t in TIERS)
    rows = _exec(
        f"SELECT c.value_tier, {group}, COUNT(*), 0, 0 FROM customer c WHERE c.value_tier IN ({opp}) AND {where} "
        f"GROUP BY c.value_tier, {group}", params).fetchall() + _exec(
        f"SELECT c.value_tier, {group}, COUNT(*), SUM(cv.sales_12m), SUM(cv.sales_12m - cv.cost_12m) FROM customer c "
        f"JOIN customer_value cv ON cv.customer_id = c.id WHERE c.value_tier IN ({trading}) AND {where} "
        f"GROUP BY c.value_tier, {group}", params).fetchall()
    tiers = {t: {"count": 0, "revenue": 0.0, "margin": 0.0} for t in ALL_TIERS}
    groups = {}
    for tier, key, n, revenue, margin in rows:
        if tier not in tiers:
            continue
        for target in (tiers[tier], groups.setdefault(key, {}).setdefault(tier, {"count": 0, "revenue": 0.0})):
            target["count"] += n
            target["revenue"] += float(revenue or 0)
        tiers[tier]["margin"] += float(margin or 0)
    total = sum(t["revenue"] for t in tiers.values()) or 0
    for t in tiers.values():
        t["share"] = round(100 * t["revenue"] / total, 1) if total else 0
        t["margin_pct"] = round(100 * t["margin"] / t["revenue"], 1) if t["revenue"] else None
    since = now - dt.timedelta(days=91)
    moves = _exec(
        f"SELECT vc.from_tier, vc.to_tier, COUNT(*) FROM value_change vc JOIN customer c ON c.id = vc.customer_id "
        f"WHERE vc.at >= ? AND vc.from_tier <> '' AND {where} GROUP BY vc.from_tier, vc.to_tier",
        [since, *params]).fetchall()
    rose = sum(n for a, b, n in moves if RANK.get(b, 0) > RANK.get(a, 0))
    fell = sum(n for a, b, n in moves if RANK.get(b, 0) < RANK.get(a, 0))
    groups = sorted(groups.items(), key=lambda g: (g[0] is None, g[0] or 0))  # no team / region last
    return {"tiers": tiers, "groups": groups, "total_revenue": total, "moves": sorted(moves, key=lambda m: -m[2]),
            "rose": rose, "fell": fell, "since": since}


def movers(user, from_tier, to_tier, before_id=None, limit=50, now=None):
    """The customers that moved from → to in the last quarter (for the pyramid's click-through)."""
    now = now or clock.now()
    q = (ValueChange.select(ValueChange, Customer.id, Customer.name).join(Customer, on=(Customer.id == ValueChange.customer))
         .where((ValueChange.at >= now - dt.timedelta(days=91)) & (ValueChange.from_tier == from_tier)
                & (ValueChange.to_tier == to_tier))
         .where(Customer.id.in_(scope("customer", user, Customer.select(Customer.id)))))
    if before_id:
        q = q.where(ValueChange.id < before_id)
    return list(q.order_by(ValueChange.id.desc()).limit(limit))


# The workbench card's probes (views.value): rows when the card may show something: tiered customers, changes
# of the last days, active tier strategies (the card shows nothing when none has).

def _mine(lead, who):
    return (Customer.team == who) if lead else (Customer.owner == who)


def tiered_ids(lead, who):
    """The tiered customers of team `who` (`lead`) or owner `who`."""
    return Customer.select(Customer.id).where(_mine(lead, who) & Customer.value_tier.in_(TIERS))


def fell_ids(lead, who, since):
    return (ValueChange.select(ValueChange.id).join(Customer, on=(Customer.id == ValueChange.customer))
            .where(_mine(lead, who) & (ValueChange.at >= since) & (ValueChange.from_tier != "")))


def strategy_ids():
    return TierStrategy.select(TierStrategy.id).where(TierStrategy.active)


def workbench(user, now=None, days=30, limit=5):
    """The workbench card: the user's customers per trading tier (a manager's: the team's) and those that
    fell a tier in the last `days` days, newest first."""
    now = now or clock.now()
    lead = can(user, "team.leads_one")
    mine = _mine(lead, user.team_id if lead else user.id)
    counts = dict(Customer.select(Customer.value_tier, pw.fn.COUNT(Customer.id))
                  .where(mine & Customer.value_tier.in_(TIERS)).group_by(Customer.value_tier).tuples())
    recent = (ValueChange.select(ValueChange, Customer.id, Customer.name)
              .join(Customer, on=(Customer.id == ValueChange.customer))
              .where(mine & (ValueChange.at >= now - dt.timedelta(days=days)) & (ValueChange.from_tier != ""))
              .order_by(ValueChange.id.desc()).limit(50))
    fell, seen = [], set()
    for c in recent:  # newest first; each customer once, with its latest fall
        if RANK.get(c.to_tier, 0) < RANK.get(c.from_tier, 0) and c.customer_id not in seen:
            seen.add(c.customer_id)
            fell.append(c)
    fell = fell[:limit]
    return {"counts": counts, "fell": fell}


# ---- strategies per tier (issue 15 item 6) -----------------------------------------------------------

class TierStrategy(BaseModel):
    """What a tier's customers get ("senior visit each quarter"): once, or every `every_days` days."""
    tier = pw.CharField(max_length=13, index=True)
    title_zh = pw.CharField(max_length=100)
    title_en = pw.CharField(max_length=100)
    every_days = pw.IntegerField(null=True)  # None: once while in the tier
    active = pw.BooleanField(default=True)
    created_at = pw.DateTimeField()

    def label(self, locale):
        return self.title_zh if str(locale).startswith("zh") else self.title_en


class StrategyDone(BaseModel):
    """A strategy carried out for a customer: who, when, what they noted."""
    customer = pw.ForeignKeyField(Customer, on_delete="CASCADE", index=False, backref="strategies_done")
    strategy = pw.ForeignKeyField(TierStrategy, on_delete="CASCADE", index=False, backref="done")
    done_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
    done_at = pw.DateTimeField()
    note = pw.CharField(max_length=200, default="")

    class Meta:
        indexes = ((("customer", "strategy", "done_at"), False),)


def save_strategy(actor, data, strategy=None):
    """Add or change a tier strategy (admins); a strategy is switched off, never deleted (its history stays)."""
    require(actor, "value.rules")
    e = FieldErrors()
    tier = str(data.get("tier") or (strategy.tier if strategy else "")).strip()
    if tier not in ALL_TIERS:
        e.add("tier", N_("Choose a tier."))
    titles = {}
    for name in ("title_zh", "title_en"):
        titles[name] = clean_text(data.get(name), 100)
        if titles[name] is None:
            e.add(name, N_("At most %(n)s characters."), n=100)
        elif not titles[name]:
            e.add(name, N_("Required."))
    raw = str(data.get("every_days") or "").strip()
    every = None
    if raw:
        every = int_or_none(raw, 1, 730)
        if every is None:
            e.add("every_days", N_("A whole number from %(lo)s to %(hi)s, or empty for once."), lo=1, hi=730)
    e.raise_if_any()
    active = str(data.get("active", "1")) in ("1", "on", "true")
    with db.atomic():
        if strategy is None:
            strategy = TierStrategy.create(tier=tier, every_days=every, active=active, created_at=clock.now(), **titles)
        else:
            fresh(strategy)
            strategy.tier, strategy.every_days, strategy.active = tier, every, active
            strategy.title_zh, strategy.title_en = titles["title_zh"], titles["title_en"]
            strategy.save()
        audit.record("value.strategy_saved", actor, strategy_id=strategy.id, tier=tier, title=titles["title_zh"],
                     every_days=every, active=active)
    return strategy


def mark_strategy_done(actor, customer, strategy_id, note=""):
    """Tick a strategy of the customer's tier off: who did it and when go on the checklist and the timeline."""
    require(actor, "value.strategy", customer)
    note = clean_text(note, 200)
    if note is None:
        raise ValidationError({"note": [(N_("At most %(n)s characters."), {"n": 200})]})
    now = clock.now()
    with db.atomic():
        fresh(customer)
        require(actor, "value.strategy", customer)
        strategy = TierStrategy.get_or_none(TierStrategy.id == strategy_id)
        if strategy is None or not strategy.active or strategy.tier != customer.value_tier:
            raise DomainError(N_("That strategy is not one of this customer's tier."))
        done = StrategyDone.create(customer=customer.id, strategy=strategy.id, done_by=actor.id, done_at=now, note=note)
        audit.record("value.strategy_done", actor, customer, strategy_id=strategy.id, title=strategy.title_zh,
                     title_en=strategy.title_en, note=note)
    return done


ONE_OFF_DAYS = 30  # a one-off strategy is due this many days after the customer entered the tier


def _due(strategy, last_done, since):
    """When a strategy is next due for a customer in the tier `since`: every N days from the last time (or
    from entering the tier); a one-off within ONE_OFF_DAYS of entering the tier, until done."""
    if strategy.every_days is None:
        return None if last_done else since + dt.timedelta(days=ONE_OFF_DAYS)
    return (last_done or since) + dt.timedelta(days=strategy.every_days)


def checklist(customer, now=None):
    """The customer's tier strategies: [(strategy, last StrategyDone or None, due or None, overdue)]."""
    now = now or clock.now()
    tier = customer.value_tier
    if not tier:
        return []
    strategies = list(TierStrategy.select().where((TierStrategy.tier == tier) & TierStrategy.active)
                      .order_by(TierStrategy.id))
    if not strategies:
        return []
    last = {}
    for d in (StrategyDone.select(StrategyDone, User.full_name).join(User, pw.JOIN.LEFT_OUTER,
                                                                     on=(User.id == StrategyDone.done_by))
              .where((StrategyDone.customer == customer.id) & StrategyDone.strategy.in_([s.id for s in strategies]))
              .order_by(StrategyDone.done_at)):
        last[d.strategy_id] = d
    since = CustomerValue.select(CustomerValue.tier_since).where(CustomerValue.customer == customer.id).scalar() or now
    out = []
    for s in strategies:
        d = last.get(s.id)
        if d is not None and d.done_at < since:
            d = None  # done before the customer entered this tier: it starts again
        due = _due(s, d.done_at if d else None, since)
        out.append((s, d, due, due is not None and due < now))
    return out


def overdue_strategies(user, now=None, limit=10):
    """The user's customers (a manager's: the team's) with a periodic or one-off tier strategy past due,
    most overdue first: [(customer, strategy, due)]."""
    now = now or clock.now()
    strategies = list(TierStrategy.select().where(TierStrategy.active))
    if not strategies:
        return []
    by_tier = {}
    for s in strategies:
        by_tier.setdefault(s.tier, []).append(s)
    mine = (Customer.team == user.team_id) if can(user, "team.leads_one") else (Customer.owner == user.id)
    customers = list(Customer.select(Customer.id, Customer.name, Customer.value_tier, CustomerValue.tier_since)
                     .join(CustomerValue, on=(CustomerValue.customer == Customer.id))
                     .where(mine & Customer.value_tier.in_(list(by_tier))).limit(5000).objects())
    if not customers:
        return []
    last = dict((((c, s), at) for c, s, at in StrategyDone.select(
        StrategyDone.customer, StrategyDone.strategy, pw.fn.MAX(StrategyDone.done_at))
        .where(StrategyDone.customer.in_([c.id for c in customers]))
        .group_by(StrategyDone.customer, StrategyDone.strategy).tuples()))
    out = []
    for c in customers:
        since = c.tier_since or now
        for s in by_tier.get(c.value_tier, []):
            done = last.get((c.id, s.id))
            due = _due(s, done if done and done >= since else None, since)
            if due is not None and due < now:
                out.append((c, s, due))
    out.sort(key=lambda r: r[2])
    return out[:limit]
