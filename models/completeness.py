"""Completeness by business model (issue 17 item 7): admins weigh which fields count, per business model
(built-in keys of `customers.COMPLETENESS_FIELDS` and custom fields), and the dashboard shows completeness by
rep and team with its trend.

- The weights are `CompletenessWeight` rows (customer_tables, migration 0039); a business model without rows keeps
  the built-in weights (`customers.COMPLETENESS_WEIGHTS`). `save_weights` refuses a negative, unparsable or too
  large weight, and a model whose weights are all zero, before writing anything; it replaces the model's rows,
  audits the change and starts a `settings.CompletenessJob` for that model: the verb recomputes the first
  `settings.VERB_BUDGET` ids in its transaction, the sweep the rest — set-based, one UPDATE per 50,000 ids
  (`customers.recompute_range`, the same arithmetic as `customers.score_of`).
- `CompletenessDaily` (0039): per business day × owner × team, the owned customers and their summed completeness,
  taken once a day by the sweep in one INSERT … SELECT … GROUP BY (`snapshot`). `by_rep` counts a team's reps live
  on the (team, …) index; `trend` reads the snapshots.
"""
import datetime as dt

import peewee as pw

from models import audit, clock, hooks
from models.base import BaseModel, db
from models.customer_tables import BUSINESS_MODELS, CompletenessWeight, Customer, CustomField
from models.customers import COMPLETENESS_FIELDS, COMPLETENESS_WEIGHTS, completeness_weights
from models.errors import N_, FieldErrors, ValidationError
from models.fields import FieldError, parse_int
from models.permissions import require
from models.user_tables import Team, User

MAX_WEIGHT = 100
TREND_DAYS = 84  # twelve weeks of daily snapshots on the dashboard


class CompletenessDaily(BaseModel):
    """Owned customers and their summed completeness, per business day × owner × team (the trend)."""
    day = pw.DateField()
    owner = pw.IntegerField()
    team = pw.IntegerField()  # 0: the owner had no team
    customers = pw.IntegerField()
    total = pw.BigIntegerField()

    class Meta:
        indexes = ((("day", "owner", "team"), True), (("team", "day"), False))


def fields_for(business_model):
    """[(key, label or CustomField)]: what may be weighed for a business model, built-in keys first, then the
    active custom fields shown on its files."""
    out = [(k, label) for k, label in COMPLETENESS_FIELDS.items()]
    custom = (CustomField.select().where(CustomField.active == True)  # noqa: E712
              .order_by(CustomField.position, CustomField.id))
    out += [("custom_" + f.key, f) for f in custom if f.applies_to(business_model)]
    return out


def current(business_model, saved=None):
    """{key: weight} as in force for the model (the admin's, else the built-in weights and each custom
    field's own weight), and whether the admin saved it."""
    saved = completeness_weights() if saved is None else saved
    mine = saved.get(business_model)
    out = {}
    for key, what in fields_for(business_model):
        if mine is not None:
            default = what.weight if isinstance(what, CustomField) else 0
            out[key] = mine.get(key, default)
        elif isinstance(what, CustomField):
            out[key] = what.weight
        else:
            out[key] = COMPLETENESS_WEIGHTS.get(business_model, COMPLETENESS_WEIGHTS["consumer"]).get(key, 0)
    return out, mine is not None


def validate_weights(business_model, data):
    """{key: weight} from the form's `w_<key>` fields (blank = 0), or ValidationError naming each bad one."""
    e = FieldErrors()
    if business_model not in BUSINESS_MODELS:
        e.add("business_model", N_("Choose one of the options."))
        e.raise_if_any()
    out = {}
    for key, _what in fields_for(business_model):
        raw = str(data.get("w_" + key, "") or "").strip()
        if not raw:
            out[key] = 0
            continue
        try:
            value = parse_int(raw, -10 ** 6, 10 ** 6)
        except FieldError:
            e.add("w_" + key, N_("Enter a whole number from 0 to %(max)s."), max=MAX_WEIGHT)
            continue
        if value < 0:
            e.add("w_" + key, N_("A weight cannot be negative: 0 leaves the field out."))
        elif value > MAX_WEIGHT:
            e.add("w_" + key, N_("Enter a whole number from 0 to %(max)s."), max=MAX_WEIGHT)
        else:
            out[key] = value
    if not e and not any(out.values()):
        e.add("weights", N_("At least one field must weigh more than 0: with every weight at zero no file could "
                            "be complete."))
    e.raise_if_any()
    return out


def save_weights(actor, business_model, data, now=None):
    """Replace the weights of one business model (all or nothing) and recompute its files' completeness."""
    from models import settings  # the recompute job lives with the custom fields' (settings imports customers)

    require(actor, "completeness.weights")
    weights = validate_weights(business_model, data)
    now = now or clock.now()
    with db.atomic():
        before, _ = current(business_model)
        CompletenessWeight.delete().where(CompletenessWeight.business_model == business_model).execute()
        CompletenessWeight.insert_many([{"business_model": business_model, "field": k, "weight": w}
                                        for k, w in weights.items()]).execute()
        changes = {k: [before.get(k, 0), w] for k, w in weights.items() if before.get(k, 0) != w}
        audit.record("completeness.weights_saved", actor, None, business_model=business_model, changes=changes)
        job = settings.CompletenessJob.create(business_models=business_model, created_at=now)
        settings.advance(job, settings.VERB_BUDGET)
    return weights


def reset_weights(actor, business_model, now=None):
    """Back to the built-in weights for a business model; recomputed like a save."""
    from models import settings

    require(actor, "completeness.weights")
    if business_model not in BUSINESS_MODELS:
        raise ValidationError({"business_model": [(N_("Choose one of the options."), {})]})
    with db.atomic():
        n = CompletenessWeight.delete().where(CompletenessWeight.business_model == business_model).execute()
        if n:
            audit.record("completeness.weights_reset", actor, None, business_model=business_model)
            job = settings.CompletenessJob.create(business_models=business_model, created_at=now or clock.now())
            settings.advance(job, settings.VERB_BUDGET)
    return n


# ---- the trend ---------------------------------------------------------------------------------------

def snapshot(now=None):
    """Take today's (business day) snapshot once: one INSERT … SELECT … GROUP BY owner, team. Idempotent."""
    now = now or clock.now()
    day = clock.to_local(now).date()
    with db.atomic():
        if CompletenessDaily.select().where(CompletenessDaily.day == day).exists():
            return 0
        team = pw.fn.COALESCE(Customer.team, 0)
        query = (Customer.select(pw.Value(day), Customer.owner, team, pw.fn.COUNT(Customer.id),
                                 pw.fn.SUM(Customer.completeness))
                 .where(Customer.owner.is_null(False)).group_by(Customer.owner, team))
        CompletenessDaily.insert_from(query, [CompletenessDaily.day, CompletenessDaily.owner, CompletenessDaily.team,
                                              CompletenessDaily.customers, CompletenessDaily.total]).execute()
        return CompletenessDaily.select().where(CompletenessDaily.day == day).count()


def sweep(now=None):
    return {"completeness_snapshot": snapshot(now) or 0}


hooks.on("sweep", sweep, name="completeness")


def by_rep(team):
    """Per rep: ([{"user", "team", "count", "average", "high", "low"}] weakest first, as of). A team is counted
    live (one grouped query on its rows); everyone (an admin's page, 1M customers) reads the latest daily
    snapshot, without the ≥ 80 / < 50 counts."""
    if team is None:
        last = CompletenessDaily.select(pw.fn.MAX(CompletenessDaily.day)).scalar()
        rows = [] if last is None else list(
            CompletenessDaily.select(CompletenessDaily.owner, CompletenessDaily.team, CompletenessDaily.customers,
                                     CompletenessDaily.total, pw.Value(None), pw.Value(None))
            .where(CompletenessDaily.day == last).tuples())
        return _rep_rows(rows), last
    q = (Customer.select(Customer.owner, Customer.team, pw.fn.COUNT(Customer.id), pw.fn.SUM(Customer.completeness),
                         pw.fn.SUM(pw.Case(None, [(Customer.completeness >= 80, 1)], 0)),
                         pw.fn.SUM(pw.Case(None, [(Customer.completeness < 50, 1)], 0)))
         .where(Customer.owner.is_null(False)).group_by(Customer.owner, Customer.team))
    return _rep_rows(list(q.where(Customer.team == team).tuples())), None


def _rep_rows(rows):
    users = {u.id: u for u in User.select(User.id, User.full_name).where(User.id.in_([r[0] for r in rows]))}
    teams = {t.id: t.name for t in Team.select(Team.id, Team.name).where(Team.id.in_({r[1] for r in rows if r[1]}))}
    out = [{"user": users.get(owner), "team": teams.get(team_id, ""), "count": n, "average": round((s or 0) / n) if n else 0,
            "high": high, "low": low} for owner, team_id, n, s, high, low in rows]
    out.sort(key=lambda r: (r["average"], r["user"].full_name if r["user"] else ""))
    return out


def trend(team, now=None, days=TREND_DAYS):
    """[(day, average)] of the snapshots over the last `days` days, for a team (None: everyone)."""
    now = now or clock.now()
    since = clock.to_local(now).date() - dt.timedelta(days=days)
    q = (CompletenessDaily.select(CompletenessDaily.day, pw.fn.SUM(CompletenessDaily.customers),
                                  pw.fn.SUM(CompletenessDaily.total))
         .where(CompletenessDaily.day > since).group_by(CompletenessDaily.day).order_by(CompletenessDaily.day))
    if team is not None:
        q = q.where(CompletenessDaily.team == team)
    return [(day, round(total / n) if n else 0) for day, n, total in q.tuples()]
