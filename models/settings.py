"""Admin-owned settings: the custom profile fields of customer files (typed, per business model, required or
not, weighted in completeness), and keeping the stored completeness in step when a definition changes."""
import re

import peewee as pw

from models import audit, clock, hooks
from models.base import BaseModel, db, fresh
from models.customers import (BUSINESS_MODELS, CUSTOM_KINDS, CustomField, CustomValue, Customer,
                              completeness_sql, recompute_range)
from models.errors import N_, FieldErrors
from models.fields import parse_bool, parse_choice, parse_int, take, text_field
from models.permissions import require

KEY_RE = re.compile(r"^[a-z][a-z0-9_]{1,29}$")
MAX_WEIGHT = 50  # the built-in fields of a business model weigh 100 together
MAX_OPTIONS, OPTION_LEN = 30, 40
CHUNK = 50000  # customer ids per transaction (one UPDATE) when completeness is recomputed
VERB_BUDGET = 20000  # customer ids the verb itself recomputes; the sweep does the rest


class CompletenessJob(BaseModel):
    """Customers of these business models ("" = all) whose stored completeness must be recomputed after a
    custom field changed; `after_id` is how far it got (ids ascending). Idempotent: recomputing twice
    stores the same figures."""
    business_models = pw.CharField(max_length=100, default="")
    after_id = pw.BigIntegerField(default=0)
    created_at = pw.DateTimeField()
    done_at = pw.DateTimeField(null=True, index=True)


def _option_list(raw):
    return [o.strip() for o in re.split(r"[\n,，;；]", str(raw or "")) if o.strip()]


def _model_list(raw):
    items = raw if isinstance(raw, (list, tuple)) else str(raw or "").split(",")
    return [str(m).strip() for m in items if str(m).strip()]


def validate_custom_field(data, field=None):
    """The field definition from the admin form, cleaned; key and kind only when creating."""
    e = FieldErrors()
    out = {}
    if field is None:
        key = (data.get("key") or "").strip()
        if not KEY_RE.match(key):
            e.add("key", N_("2–30 characters: lower-case letters, digits, underscore; start with a letter."))
        elif CustomField.select().where(CustomField.key == key).exists():
            e.add("key", N_("This key is taken."))
        kind = parse_choice(data.get("kind"), CUSTOM_KINDS)
        if kind is None:
            e.add("kind", N_("Choose one of the options."))
        out.update(key=key, kind=kind)
    kind = field.kind if field is not None else out["kind"]
    for name in ("label_zh", "label_en"):
        out[name] = text_field(data, e, name, 40, required=True)
    options = _option_list(data.get("choices")) if kind == "choice" else []
    if kind == "choice":
        if not options:
            e.add("choices", N_("List the options, one per line."))
        elif len(options) > MAX_OPTIONS:
            e.add("choices", N_("At most %(n)s options."), n=MAX_OPTIONS)
        elif any(len(o) > OPTION_LEN for o in options):
            e.add("choices", N_("Each option at most %(n)s characters."), n=OPTION_LEN)
        elif len(set(options)) != len(options):
            dupes = sorted({o for o in options if options.count(o) > 1})
            e.add("choices", N_("Each option once: %(options)s is listed twice."), options="、".join(dupes))
        elif field is not None:
            for gone in set(field.choice_list()) - set(options):
                used = CustomValue.select().where((CustomValue.field == field.id) & (CustomValue.value == gone)).count()
                if used:
                    e.add("choices", N_("“%(option)s” is the value of %(n)s customer files: keep it, or deactivate the field."),
                          option=gone, n=used)
    out["choices"] = ",".join(options)
    models = _model_list(data.get("business_models"))
    if any(m not in BUSINESS_MODELS for m in models):
        e.add("business_models", N_("Choose one of the options."))
    out["business_models"] = ",".join(m for m in BUSINESS_MODELS if m in models)  # all of them is "for all"
    if len(models) == len(BUSINESS_MODELS):
        out["business_models"] = ""
    out["weight"] = take(e, "weight", parse_int, data.get("weight") or 0, 0, MAX_WEIGHT)
    out["position"] = take(e, "position", parse_int, data.get("position") or 0, 0, 999)
    out["required"] = parse_bool(data.get("required"))
    if "active" in data:
        out["active"] = parse_bool(data.get("active"))
    elif field is None:
        out["active"] = True
    e.raise_if_any()
    return out


def save_custom_field(actor, data, field=None):
    """Create or edit a custom field. Key and kind are fixed once created (stored values follow them);
    an option still in use cannot be removed. A change to what counts toward completeness recomputes
    it for the customers of the business models concerned (the first chunk here, the rest by the sweep).
    A field made required does not touch existing files: their completeness says what is missing."""
    require(actor, "custom_field.manage")
    values = validate_custom_field(data, field)
    with db.atomic():
        created = field is None
        if created:
            field = CustomField.create(**values)
            before = None
        else:
            fresh(field)
            before = {k: getattr(field, k) for k in ("active", "weight", "business_models", "required", *values)}
            values = {k: v for k, v in values.items() if getattr(field, k) != v}
            if not values:
                return field
            for k, v in values.items():
                setattr(field, k, v)
            field.save()
        audit.record("settings.custom_field_" + ("created" if created else "updated"), actor, key=field.key,
                     changes={k: [before[k], v] for k, v in values.items()} if before else {})
        _schedule(before, field)
    return field


def set_custom_field_active(actor, field, active):
    """Deactivate (hide from files, forms, filters and completeness; values kept) or reactivate."""
    require(actor, "custom_field.manage")
    with db.atomic():
        fresh(field)
        if field.active == active:
            return field
        before = {"active": field.active, "weight": field.weight, "business_models": field.business_models,
                  "required": field.required}
        field.active = active
        field.save()
        audit.record("settings.custom_field_" + ("activated" if active else "deactivated"), actor, key=field.key)
        _schedule(before, field)
    return field


def _counts(state):
    return bool(state) and state["active"] and (state["weight"] > 0 or state["required"])


def _schedule(before, field):
    """A completeness job when the change moves scores: the field counted before or counts now."""
    after = {"active": field.active, "weight": field.weight, "business_models": field.business_models,
             "required": field.required}
    if before is not None and all(before.get(k) == after[k] for k in after):
        return
    if not (_counts(before) or _counts(after)):
        return
    old = (before or {}).get("business_models", after["business_models"])
    models = "" if not old or not after["business_models"] else ",".join(
        sorted(set(old.split(",")) | set(after["business_models"].split(","))))
    job = CompletenessJob.create(business_models=models, created_at=clock.now())
    advance(job, VERB_BUDGET)


def advance(job, budget=None):
    """Recompute the next customers of `job` by id range, one set-based UPDATE per transaction (nested in the
    caller's when there is one: `customers.recompute_range`); marks it done at the end. Returns how many ids
    of the range it covered."""
    seen, expression = 0, None
    models = [m for m in job.business_models.split(",") if m]
    while budget is None or seen < budget:
        with db.atomic():
            fresh(job)
            if job.done_at is not None:
                break
            top = Customer.select(pw.fn.MAX(Customer.id)).scalar() or 0
            step = CHUNK if budget is None else min(CHUNK, budget - seen)
            upto = min(job.after_id + step, top)
            if upto > job.after_id:
                expression = expression or completeness_sql()
                recompute_range(job.after_id, upto, models, expression)
                seen += upto - job.after_id
                job.after_id = upto
            if job.after_id >= top:
                job.done_at = clock.now()
            job.save()
            if job.done_at is not None:
                break
    return seen


def pending_jobs():
    return CompletenessJob.select().where(CompletenessJob.done_at.is_null()).order_by(CompletenessJob.id)


def sweep(now=None):
    """Finish every pending completeness job (idempotent; the server runs it every few minutes)."""
    return {"completeness_recomputed": sum(advance(job) for job in list(pending_jobs()))}


hooks.on("sweep", sweep)
