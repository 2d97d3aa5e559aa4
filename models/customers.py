"""Customer files: the customer, its contacts, follow-ups and lifecycle, with their verbs.

Every write goes through a verb here: it checks permission, validates, writes inside one
transaction together with its audit rows and the search index, and returns the record.
"""
import datetime as dt

import peewee as pw

from models import audit, clock, hooks, rules, search
from models import perf_tables as perf
from models.base import db, fresh, kept_select, row_by_id
from models.customer_tables import (  # noqa: F401  the tables and vocabularies, re-exported
    BUSINESS_MODELS, BUSINESS_MODEL_LABELS, CHANNELS, CHANNEL_LABELS, CUSTOM_KIND_LABELS, CUSTOM_KINDS, Contact, CustomField,
    CustomValue, Customer, CustomerGroup,
    DECISION_ROLES, DECISION_ROLE_LABELS, FOLLOWUP_TYPES, FOLLOWUP_TYPE_LABELS, FollowUp, GRADES, GRADE_OF_STAGE,
    Industry, MARKETING_STAGES, PROFILE_FIELDS, Pool, SIZES, SIZE_LABELS, SOURCES, SOURCE_LABELS, STAGES, STAGE_LABELS,
    CompletenessWeight, StageChange, YES_NO_LABELS)
from models.fields import (EMAIL_RE, URL_RE, FieldError, blank, clean_text, credit_code_error, decimal_text, int_or_none, normalize_phone,
                           parse_choice, parse_date, parse_datetime, parse_decimal, parse_text, phone_error, take, text_field,
                           to_halfwidth)
from models.duplicates import find_matches, normalize_name
from models.errors import DomainError, FieldErrors, N_, NotFound, ValidationError
from models.keyset import keyset_page
from models.permissions import can, require
from models.user_tables import Region, User


def _text_check(limit, required=False):
    def check(field, data, e, customer):
        return {field: text_field(data, e, field, limit, required=required)}
    return check


def _check_name(field, data, e, customer):
    name = text_field(data, e, "name", 100, required=True)
    if name and len(name) < 2:
        e.add("name", N_("At least %(n)s characters."), n=2)
    return {"name": name}


def _check_tags(field, data, e, customer):
    tags = ",".join(t for t in (text_field(data, e, "tags", 200).replace("，", ",").split(",")) if t.strip())
    return {"tags": ",".join(t.strip() for t in tags.split(",") if t.strip())}


def _check_credit_code(field, data, e, customer):
    code = to_halfwidth(data.get("credit_code") or "").strip().upper().replace(" ", "")
    if code:
        msg = credit_code_error(code)
        if msg:
            e.add("credit_code", msg)
        else:
            clash = Customer.select(Customer.id).where(Customer.credit_code == code)
            if customer is not None:
                clash = clash.where(Customer.id != customer.id)
            if clash.exists():
                e.add("credit_code", N_("Another customer already has this credit code."))
    return {"credit_code": code or None}


def _check_phone(field, data, e, customer):
    phone = text_field(data, e, "phone", 30)
    if phone:
        msg = phone_error(phone)
        if msg:
            e.add("phone", msg)
    return {"phone": phone, "phone_norm": normalize_phone(phone) if phone else ""}


def _check_website(field, data, e, customer):
    website = text_field(data, e, "website", 200)
    if website and not URL_RE.match(website):
        e.add("website", N_("Not a web address (e.g. www.example.com)."))
    return {"website": website}


def _choice_check(allowed, required=False):
    def check(field, data, e, customer):
        value = (data.get(field) or "").strip()
        if not value and not required:
            return {field: ""}
        if parse_choice(value, allowed) is None:
            e.add(field, N_("Choose one of the options."))
            return {}
        return {field: value}
    return check


def _row_check(model):
    def check(field, data, e, customer):
        raw = data.get(field)
        if raw in (None, ""):
            return {field: None}
        pk = int_or_none(raw)
        if pk is None or not model.select().where(model.id == pk).exists():
            e.add(field, N_("Choose one of the options."))
        return {field: pk}
    return check


# One check per field of PROFILE_FIELDS (by its form name): what it reads, the columns it gives.
PROFILE_CHECKS = {
    "name": _check_name, "short_name": _text_check(40), "credit_code": _check_credit_code,
    "industry_id": _row_check(Industry), "region_id": _row_check(Region), "city": _text_check(40),
    "address": _text_check(200), "phone": _check_phone, "website": _check_website, "size": _choice_check(SIZES),
    "business_model": _choice_check(BUSINESS_MODELS, required=True), "source": _choice_check(SOURCES, required=True),
    "first_channel": _choice_check(CHANNELS), "tags": _check_tags, "group_name": _text_check(100),
}


def validate_customer(data, customer=None, custom_fields=None):
    """Clean and check the customer form; returns a dict of column values or raises ValidationError.
    `custom_fields`: the active custom fields when the caller read them already (an import, once per job)."""
    e = FieldErrors()
    out = {}
    for field in PROFILE_FIELDS:
        out.update(PROFILE_CHECKS[field.form](field.form, data, e, customer))
    business_model = out.get("business_model") or (customer.business_model if customer is not None else "consumer")
    out["custom"] = validate_custom_fields(data, e, business_model, fields=custom_fields)
    e.raise_if_any()
    out["name_norm"] = normalize_name(out["name"])
    return out


def check_customer_field(field, data, customer=None):
    """One field of the customer form on its own, for the inline check while the user types: a
    ValidationError naming that field alone if it does not pass (nothing for a name the form lacks)."""
    e = FieldErrors()
    if field in PROFILE_CHECKS:
        PROFILE_CHECKS[field](field, data, e, customer)
    elif field.startswith("custom_"):
        business_model = data.get("business_model") or (customer.business_model if customer is not None else "consumer")
        validate_custom_fields(data, e, business_model, only=field[len("custom_"):])
    if e.get(field):
        raise ValidationError({field: e[field]})


def _duplicate_check(actor, values, data, customer=None):
    """Near matches (same phone, same or similar name) need a reason to save; returns (reason, ids).

    On edit only a changed name or phone is checked: an untouched file is not asked again."""
    if customer is not None and values["name_norm"] == customer.name_norm \
            and values["phone_norm"] == customer.phone_norm:
        return "", []
    matches = [m for m in find_matches(actor, name=values["name"], phone=values["phone"],
                                       exclude_id=customer.id if customer is not None else None,
                                       group=values.get("group_name"))
               if m.needs_reason]
    if not matches:
        return "", []
    reason = clean_text(data.get("duplicate_reason"), 200)
    if reason is None:
        raise ValidationError({"duplicate_reason": [(N_("At most %(n)s characters."), {"n": 200})]})
    if not reason:
        raise ValidationError({"duplicate_reason": [(
            N_("Similar customers already exist: say why this is a different customer, or open the existing one."),
            {})]})
    return reason, [m.id for m in matches]


def active_custom_fields(business_model=None, fields=None):
    """The active custom fields in their order; with a business model, those for it. `fields`: the
    active fields when the caller read them already (an import reads them once per job)."""
    if fields is None:
        fields = list(kept_select("active_custom_fields", lambda: CustomField.select().where(
            CustomField.active == True).order_by(CustomField.position, CustomField.id)))  # noqa: E712
    return fields if business_model is None else [f for f in fields if f.applies_to(business_model)]


def parse_custom_value(field, raw):
    """A custom field's typed value as its canonical text ("" when empty), or FieldError."""
    if blank(raw):
        if field.required:
            raise FieldError(N_("Required."))
        return ""
    if field.kind == "number":
        return decimal_text(parse_decimal(raw, allow_zero=True))
    if field.kind == "date":
        return parse_date(raw).isoformat()
    if field.kind in ("choice", "yes_no"):
        value = parse_choice(str(raw).strip(), field.choice_list() if field.kind == "choice" else ("1", "0"))
        if value is None:
            raise FieldError(N_("Choose one of the options."))
        return value
    return parse_text(raw, 200)


def validate_custom_fields(data, e, business_model, only=None, fields=None):
    """The custom fields of the business model (custom_<key> in the form), each parsed by its kind:
    {key: canonical text, "" for none}. Fields for other business models are left as they are."""
    values = {}
    for field in active_custom_fields(business_model, fields):
        if only is not None and field.key != only:
            continue
        value = take(e, "custom_" + field.key, parse_custom_value, field, data.get("custom_" + field.key))
        if value is not None:
            values[field.key] = value
    return values


def custom_values(customer_ids):
    """{customer id: {field key: value}} for the customers, in one query."""
    out = {pk: {} for pk in customer_ids}
    ids = list(customer_ids)
    if ids:
        # kept per number of customers up to a page of a list (a customer's page: one)
        build = lambda *pks: (CustomValue.select(CustomValue.customer, CustomValue.value, CustomField.key)  # noqa: E731
                              .join(CustomField, on=(CustomValue.field == CustomField.id))
                              .where(CustomValue.customer.in_(list(pks))).tuples())
        rows = kept_select(("custom_values", len(ids)), build, *ids) if len(ids) <= 50 else build(*ids)
        for pk, value, key in rows:
            out[pk][key] = value
    return out


def write_custom_values(customer, values):
    """Store the customer's typed custom values ({key: text}); returns {"custom_<key>": [old, new]}."""
    if not values:
        return {}
    fields = {f.key: f for f in CustomField.select().where(CustomField.key.in_(list(values)))}
    old = custom_values([customer.id])[customer.id]
    changes = {}
    for key, new in values.items():
        before = old.get(key, "")
        if before == new:
            continue
        changes["custom_" + key] = [before or None, new or None]
        field = fields[key]
        CustomValue.delete().where((CustomValue.customer == customer.id) & (CustomValue.field == field.id)).execute()
        if new:
            CustomValue.create(customer=customer.id, field=field.id, value=new,
                               number=new if field.kind == "number" else None)
    return changes


# ---- completeness ---------------------------------------------------------------------------

# Weighted fields per business model: project sales and key accounts weigh the people more.
COMPLETENESS_WEIGHTS = {
    "consumer": {"name": 10, "short_name": 5, "credit_code": 10, "industry": 10, "region": 10, "city": 5,
                 "address": 10, "phone": 15, "website": 5, "size": 5, "first_channel": 5, "contacts": 10},
    "industrial": {"name": 10, "credit_code": 15, "industry": 10, "region": 5, "city": 5, "address": 10,
                   "phone": 10, "website": 5, "size": 10, "contacts": 10, "decision_maker": 10},
    "project": {"name": 10, "credit_code": 15, "industry": 5, "region": 5, "address": 5, "phone": 10,
                "size": 5, "contacts": 15, "decision_maker": 20, "key_contact_phone": 10},
    "key_account": {"name": 10, "credit_code": 15, "industry": 5, "region": 5, "address": 5, "phone": 5,
                    "size": 10, "website": 5, "group": 5, "contacts": 10, "decision_maker": 15,
                    "key_contact_phone": 10},
}


# The fields completeness can count, with their labels (the admin's weights page, the missing list):
# the built-in weights above use them; an admin may weigh any of them, and custom fields, per business model.
COMPLETENESS_FIELDS = {
    "name": N_("Company name"), "short_name": N_("Short name"), "credit_code": N_("Unified social credit code"),
    "industry": N_("Industry"), "region": N_("Region"), "city": N_("City"), "address": N_("Address"),
    "phone": N_("Phone"), "website": N_("Website"), "size": N_("Size"), "first_channel": N_("First-contact channel"),
    "group": N_("Group (集团)"), "contacts": N_("Contacts"), "decision_maker": N_("Decision maker"),
    "key_contact_phone": N_("Key contact's phone"),
    "decision_tree": N_("Decision-maker tree (a decision maker and a reporting line)"),
    "project": N_("Project data (a project on file)"),
}


def completeness_weights():
    """{business model: {field: weight}} as the admin set them (only the models they saved), one query."""
    out = {}
    for row in kept_select("completeness_weights", lambda: CompletenessWeight.select(
            CompletenessWeight.business_model, CompletenessWeight.field, CompletenessWeight.weight)):
        out.setdefault(row.business_model, {})[row.field] = row.weight
    return out


def weights_for(business_model, fields, saved=None):
    """[(field key, weight)] counting for a business model: the admin's weights when they saved the model, else
    the built-in ones; each active custom field of the model with its weight for the model (the admin's, else
    the field's own), a required one with weight 0 listed too."""
    saved = completeness_weights() if saved is None else saved
    model = business_model if business_model in COMPLETENESS_WEIGHTS else "consumer"
    mine = saved.get(business_model) if business_model in saved else saved.get(model)
    if mine is not None:
        out = [(k, w) for k, w in mine.items() if k in COMPLETENESS_FIELDS and w > 0]
    else:
        out = list(COMPLETENESS_WEIGHTS[model].items())
    for field in fields:
        if not field.applies_to(business_model):
            continue
        weight = (mine or {}).get("custom_" + field.key, field.weight)
        if weight > 0 or field.required:
            out.append(("custom_" + field.key, weight))
    return out


def _has_project(customer):
    from models.base import all_models

    project = next(m for m in all_models() if m.__name__ == "Project")
    return project.select().where(project.customer == customer.id).exists()


def completeness_parts(customer, contacts=None, values=None, fields=None, saved=None, projects=None):
    """(field, weight, filled) for the customer's business model; the view shows what is missing.
    Custom fields count with their weight; a required one without weight is listed (weight 0) but
    does not move the score. `values` ({key: text}), `fields` (active custom fields), `saved` (the admin's
    weights) and `projects` (ids of customers with a project) may be preloaded for many customers at once."""
    if contacts is None:
        contacts = list(customer.contacts.where(Contact.active == True)) if customer.id else []  # noqa: E712
    if values is None:
        values = custom_values([customer.id])[customer.id] if customer.id else {}
    if fields is None:
        fields = active_custom_fields()
    weights = weights_for(customer.business_model, fields, saved)
    keys = {k for k, _ in weights}
    makers = any(c.decision_role == "decision_maker" for c in contacts)
    filled = {
        "name": bool(customer.name), "short_name": bool(customer.short_name),
        "credit_code": bool(customer.credit_code), "industry": bool(customer.industry_id),
        "region": bool(customer.region_id), "city": bool(customer.city), "address": bool(customer.address),
        "phone": bool(customer.phone), "website": bool(customer.website), "size": bool(customer.size),
        "first_channel": bool(customer.first_channel), "group": bool(customer.group_id),
        "contacts": bool(contacts),
        "decision_maker": makers,
        "key_contact_phone": any(c.decision_role in ("decision_maker", "buyer") and (c.mobile or c.phone)
                                 for c in contacts),
        "decision_tree": makers and any(getattr(c, "reports_to_id", None) for c in contacts),
    }
    if "project" in keys:
        pk = getattr(customer, "id", None)
        filled["project"] = (pk in projects) if projects is not None else bool(pk and _has_project(customer))
    for field in fields:
        filled["custom_" + field.key] = bool(values.get(field.key))
    return [(f, w, filled.get(f, False)) for f, w in weights]


def score_of(parts):
    """Per cent of the weight filled, rounded half up (the set-based recompute computes the same)."""
    total = sum(w for _, w, _ in parts)
    if total <= 0:
        return 0
    got = sum(w for _, w, ok in parts if ok)
    return (200 * got + total) // (2 * total)


def compute_completeness(customer, contacts=None, values=None, fields=None, saved=None):
    return score_of(completeness_parts(customer, contacts, values, fields, saved))


def recompute_completeness(customer_ids):
    """Store the completeness of these customers again (a few customers, after a verb), in a few
    queries for the lot; returns how many changed. The caller holds the write transaction. Many customers
    at once: `recompute_range`, one statement."""
    ids = list(customer_ids)
    if not ids:
        return 0
    customers = list(Customer.select(*[getattr(Customer, c) for c in (
        "id", "name", "short_name", "credit_code", "industry", "region", "city", "address", "phone", "website",
        "size", "first_channel", "group", "business_model", "completeness")]).where(Customer.id.in_(ids)))
    contacts = {pk: [] for pk in ids}
    for c in (Contact.select(Contact.customer, Contact.decision_role, Contact.mobile, Contact.phone, Contact.reports_to)
              .where(Contact.customer.in_(ids) & (Contact.active == True))):  # noqa: E712
        contacts[c.customer_id].append(c)
    values, fields, saved = custom_values(ids), active_custom_fields(), completeness_weights()
    from models.base import all_models

    project = next(m for m in all_models() if m.__name__ == "Project")
    projects = {pk for pk, in project.select(project.customer).where(project.customer.in_(ids)).tuples()}
    changed = []
    for customer in customers:
        score = score_of(completeness_parts(customer, contacts[customer.id], values[customer.id], fields, saved,
                                            projects))
        if score != customer.completeness:
            changed.append((score, customer.id))
    if changed:  # one prepared statement for the lot (in the engine's own placeholder style)
        sql, _ = Customer.update(completeness=0).where(Customer.id == 0).sql()
        db.cursor().executemany(sql, changed)
    return len(changed)


def _filled_sql(key, fields_by_key):
    """The SQL condition that `key` is filled on the customer row `c` (what completeness_parts computes)."""
    from models.base import all_models

    text = {"name", "short_name", "city", "address", "phone", "website", "size", "first_channel"}
    if key in text:
        return f"c.{key} <> ''"
    if key == "credit_code":
        return "(c.credit_code IS NOT NULL AND c.credit_code <> '')"
    if key in ("industry", "region", "group"):
        return f"c.{key}_id IS NOT NULL"
    contact = f'SELECT 1 FROM "{Contact._meta.table_name}" k WHERE k.customer_id = c.id AND k.active'
    if key == "contacts":
        return f"EXISTS ({contact})"
    if key == "decision_maker":
        return f"EXISTS ({contact} AND k.decision_role = 'decision_maker')"
    if key == "key_contact_phone":
        return (f"EXISTS ({contact} AND k.decision_role IN ('decision_maker', 'buyer') "
                f"AND (k.mobile <> '' OR k.phone <> ''))")
    if key == "decision_tree":
        return (f"(EXISTS ({contact} AND k.decision_role = 'decision_maker') "
                f"AND EXISTS ({contact} AND k.reports_to_id IS NOT NULL))")
    if key == "project":
        project = next(m for m in all_models() if m.__name__ == "Project")
        return f'EXISTS (SELECT 1 FROM "{project._meta.table_name}" p WHERE p.customer_id = c.id)'
    if key.startswith("custom_") and key[7:] in fields_by_key:
        return (f'EXISTS (SELECT 1 FROM "{CustomValue._meta.table_name}" v WHERE v.customer_id = c.id '
                f"AND v.field_id = {int(fields_by_key[key[7:]].id)} AND v.value <> '')")
    return "0 = 1"


def completeness_sql(fields=None, saved=None):
    """The SQL expression of a customer row `c`'s completeness: a CASE over its business model, each branch
    the filled weight over the total, rounded half up in integers (as score_of)."""
    fields = active_custom_fields() if fields is None else fields
    saved = completeness_weights() if saved is None else saved
    by_key = {f.key: f for f in fields}

    def branch(model):
        weights = [(k, w) for k, w in weights_for(model, fields, saved) if w > 0]
        total = sum(w for _, w in weights)
        if not total:
            return "0"
        got = " + ".join(f"(CASE WHEN {_filled_sql(k, by_key)} THEN {int(w)} ELSE 0 END)" for k, w in weights)
        return f"((200 * ({got}) + {total}) / {2 * total})"

    whens = " ".join(f"WHEN '{m}' THEN {branch(m)}" for m in BUSINESS_MODELS if m != "consumer")
    return f"(CASE c.business_model {whens} ELSE {branch('consumer')} END)"


def recompute_range(after_id, upto_id, models=None, expression=None):
    """Store the completeness of the customers with after_id < id <= upto_id (of these business models) in one
    UPDATE, set-based; the caller holds the write transaction. Returns the rows written."""
    expression = expression or completeness_sql()
    table = Customer._meta.table_name
    where = "c.id > %s AND c.id <= %s" if db.param == "%s" else "c.id > ? AND c.id <= ?"
    params = [after_id, upto_id]
    if models:
        mark = "%s" if db.param == "%s" else "?"
        where += f" AND c.business_model IN ({', '.join(mark for _ in models)})"
        params += list(models)
    cursor = db.execute_sql(f'UPDATE "{table}" AS c SET completeness = {expression} WHERE {where}', params)
    return cursor.rowcount


# ---- scopes -----------------------------------------------------------------------------------

def get_customer(customer_id):
    """The customer by id, or NotFound (permission is the caller's: use permissions.visible)."""
    pk = int_or_none(customer_id)
    customer = row_by_id(Customer, pk) if pk else None
    if customer is None:
        raise NotFound()
    return customer


def contacts_of(customer_id):
    """A customer's contacts, the active first, then in the order they were added (its page's contact tab)."""
    return list(kept_select("customer.contacts", lambda c: Contact.select().where(Contact.customer == c)
                            .order_by(Contact.active.desc(), Contact.id), customer_id))


def owned_by(user):
    return Customer.select().where(Customer.owner == user)


# ---- verbs --------------------------------------------------------------------------------------

AUDITED_FIELDS = tuple(f.column for f in PROFILE_FIELDS)  # and each custom field, as custom_<key>


def _group_for(name):
    if not name:
        return None
    group, _ = CustomerGroup.get_or_create(name=name)
    return group.id


def create_customer(actor, data, check_duplicates=True, as_lead=False):
    """Create a customer file. Sales own what they create (stage target); marketing's start
    unowned as unidentified leads; managers and admins may name an owner and a stage.

    A customer with the same phone or the same or a similar name needs `duplicate_reason` in `data`
    (recorded in the audit row); `check_duplicates=False` is for bulk loads and test factories.
    `as_lead`: a lead for marketing's queue (models/leads.py), unowned and unidentified whoever enters it."""
    require(actor, "customer.create")
    values = validate_customer(data)
    dup_reason, dup_ids = _duplicate_check(actor, values, data) if check_duplicates else ("", [])
    owner_id, stage = (None, "unidentified") if as_lead else _initial_owner_and_stage(actor, data)
    now = clock.now()
    custom = values.pop("custom")
    with db.atomic():
        values["group_id"] = _group_for(values.pop("group_name"))
        owner = User.get_by_id(owner_id) if owner_id else None
        customer = Customer(
            **values, owner=owner, team=owner.team_id if owner else None, stage=stage,
            grade=GRADE_OF_STAGE.get(stage, ""), created_at=now, created_by=actor, updated_at=now,
            stage_changed_at=now, touched_at=now,
        )
        if not customer.region_id and owner is not None:
            customer.region = owner.region_id
        customer.save()
        write_custom_values(customer, custom)
        customer.completeness = compute_completeness(customer, contacts=[])
        customer.save()
        StageChange.create(customer=customer, from_stage=None, to_stage=stage, at=now, actor=actor,
                           owner_id=customer.owner_id or 0)
        perf.customer_created(customer)
        extra = {"duplicate_reason": dup_reason, "duplicate_ids": dup_ids} if dup_ids else {}
        audit.record("customer.created", actor, customer, stage=stage,
                     owner_id=owner.id if owner else None, owner=owner.full_name if owner else None, **extra)
        search.index_customer(customer.id)
        if owner is not None and customer.group_id:  # the one-owner-per-group policy (models/groups.py)
            hooks.fire("customer_grouped", actor, customer.id, owner.id)
        if owner is None:  # unowned past marketing's stages: into its home pool, where reps can claim it
            hooks.fire("customer_unowned", actor, customer.id, now, "created")
    return Customer.get_by_id(customer.id)


def _initial_owner_and_stage(actor, data):
    if actor.role == "sales":
        return actor.id, "target"
    if actor.role == "marketing":
        stage = data.get("stage") if data.get("stage") in MARKETING_STAGES else "unidentified"
        return None, stage
    stage = data.get("stage") if data.get("stage") in STAGES else "target"
    owner_id = int_or_none(data.get("owner_id"))
    if owner_id:
        owner = User.get_or_none((User.id == owner_id) & (User.active == True)  # noqa: E712
                                 & User.role.in_(("sales", "manager")))
        if owner is None or (actor.role == "manager" and (owner.team_id != actor.team_id or actor.team_id is None)
                             and owner.id != actor.id):
            raise ValidationError({"owner_id": [(N_("Choose an active colleague."), {})]})
        return owner_id, stage
    if actor.role == "manager":
        return actor.id, stage
    return None, stage


def update_customer(actor, customer, data):
    """Edit the static fields; the audit row lists every changed field from → to.
    Editing is never a follow-up: it does not touch the follow-up clock."""
    require(actor, "customer.edit", customer)
    values = validate_customer(data, customer)
    dup_reason, dup_ids = _duplicate_check(actor, values, data, customer)
    custom = values.pop("custom")
    with db.atomic():
        fresh(customer)  # compare with, and audit, what is there now; write only the changed fields
        require(actor, "customer.edit", customer)
        values["group_id"] = _group_for(values.pop("group_name"))
        changes = {}
        for field in AUDITED_FIELDS:
            old, new = getattr(customer, field), values.get(field)
            if (old or None) != (new or None):
                changes[field] = [_plain(old), _plain(new)]
                setattr(customer, field, new)
        for field in ("phone_norm", "name_norm"):
            if getattr(customer, field) != values[field]:
                setattr(customer, field, values[field])
        changes.update(write_custom_values(customer, custom))
        if not changes:
            return customer
        customer.completeness = compute_completeness(customer)
        customer.updated_at = clock.now()
        customer.save()
        extra = {"duplicate_reason": dup_reason, "duplicate_ids": dup_ids} if dup_ids else {}
        audit.record("customer.updated", actor, customer, changes=changes, **extra)
        search.index_customer(customer.id)
        if "group_id" in changes and customer.group_id and customer.owner_id:  # the one-owner policy (groups.py)
            hooks.fire("customer_grouped", actor, customer.id, customer.owner_id)
        hooks.fire("customer_edited", customer)  # a stake completes when the file is complete enough
    return customer


def _plain(value):
    return value if isinstance(value, (str, int, float, dict, type(None))) else str(value)


def change_stage(actor, customer, stage, reason=""):
    """Promote or demote a customer on the lifecycle ladder; records the change with time and actor."""
    require(actor, "customer.change_stage", customer)
    if stage not in STAGES:
        raise DomainError(N_("Unknown stage."))
    if not can(actor, "customer.set_stage", stage):
        raise DomainError(N_("Marketing moves customers up to Target; sales take it from there."))
    reason = clean_text(reason, 200)
    if reason is None:
        raise DomainError(N_("At most %(n)s characters."), n=200)
    now = clock.now()
    with db.atomic():
        fresh(customer)
        require(actor, "customer.change_stage", customer)
        if stage == customer.stage:
            return customer
        old = customer.stage
        perf.stage_changed(customer, old, stage, now, customer.stage_changed_at, actor)
        customer.stage, customer.grade = stage, GRADE_OF_STAGE.get(stage, "")
        customer.stage_changed_at = customer.updated_at = now
        customer.save()
        StageChange.create(customer=customer, from_stage=old, to_stage=stage, at=now, actor=actor,
                           owner_id=customer.owner_id or 0)
        if customer.owner_id:
            hooks.fire("customer_changed", customer, now)
        direction = "promoted" if STAGES.index(stage) > STAGES.index(old) else "demoted"
        audit.record("customer.stage_changed", actor, customer, from_stage=old, to_stage=stage,
                     direction=direction, reason=reason)
        if not customer.owner_id:  # a lead marketing qualified: into its home pool, never nowhere
            hooks.fire("customer_unowned", actor, customer.id, now, "qualified")
            fresh(customer)
    return customer


def set_owner(actor, customer, owner, reason=""):
    """Assign the customer to an owner (or none). Used by admins here; pools and transfers build on it."""
    require(actor, "customer.assign", customer)
    if owner is not None and not owner.active:
        raise DomainError(N_("Choose an active colleague."))
    with db.atomic():
        fresh(customer)  # the owner it really has now: the audit's "from" and the hooks name it
        require(actor, "customer.assign", customer)
        if owner is not None and not fresh(owner).active:  # deactivated meanwhile; and its team as it is now
            raise DomainError(N_("Choose an active colleague."))
        old = customer.owner
        if (old.id if old else None) == (owner.id if owner else None):
            return customer
        now = clock.now()
        customer.owner, customer.team = owner, (owner.team_id if owner else None)
        customer.updated_at = now
        if owner is not None:
            customer.pool, customer.claimed_at = None, now
        customer.save()
        if old is None and owner is not None:  # from nobody: a new customer for the owner (perf_tables)
            perf.customer_given(owner.id, owner.team_id, now)
        hooks.fire("customer_changed", customer, now)
        audit.record("customer.owner_changed", actor, customer,
                     from_owner=old.full_name if old else None, to_owner=owner.full_name if owner else None,
                     from_owner_id=old.id if old else None, to_owner_id=owner.id if owner else None,
                     reason=clean_text(reason, 200) or "")
        hooks.fire("owner_changed", actor, [customer.id], old.id if old else None, owner.id if owner else None,
                   clean_text(reason, 200) or "")
        if owner is None:
            hooks.fire("customer_unowned", actor, customer.id, now, "unassigned")
            fresh(customer)
    return customer


# contacts

def validate_contact(customer, data, contact=None):
    e = FieldErrors()
    out = {
        "name": text_field(data, e, "name", 60, required=True),
        "title": text_field(data, e, "title", 60),
        "department": text_field(data, e, "department", 60),
        "wechat": text_field(data, e, "wechat", 60),
    }
    mobile = text_field(data, e, "mobile", 30)
    if mobile and phone_error(mobile, mobile_only=True):
        e.add("mobile", phone_error(mobile, mobile_only=True))
    phone = text_field(data, e, "phone", 30)
    if phone and phone_error(phone):
        e.add("phone", phone_error(phone))
    email = text_field(data, e, "email", 120)
    if email and not EMAIL_RE.match(email):
        e.add("email", N_("Not a valid e-mail address."))
    role = (data.get("decision_role") or "").strip()
    if role and role not in DECISION_ROLES:
        e.add("decision_role", N_("Choose one of the options."))
    reports_to = None
    if data.get("reports_to_id"):
        boss = Contact.get_or_none((Contact.id == int_or_none(data["reports_to_id"]) or 0)
                                   & (Contact.customer == customer))
        if boss is None:
            e.add("reports_to_id", N_("Choose a contact of this customer."))
        elif contact is not None and _would_cycle(contact, boss):
            e.add("reports_to_id", N_("That would make a reporting cycle."))
        else:
            reports_to = boss.id
    out.update(mobile=mobile, mobile_norm=normalize_phone(mobile) if mobile else "", phone=phone,
               phone_norm=normalize_phone(phone) if phone else "", email=email, decision_role=role,
               reports_to=reports_to)
    e.raise_if_any()
    return out


def _would_cycle(contact, boss):
    seen, node = set(), boss
    while node is not None and node.id not in seen:
        if node.id == contact.id:
            return True
        seen.add(node.id)
        node = node.reports_to
    return False


def save_contact(actor, customer, data, contact=None):
    """Add or edit a contact; refreshes completeness and the search index."""
    require(actor, "customer.edit", customer)
    if contact is not None and contact.customer_id != customer.id:
        raise NotFound()
    values = validate_contact(customer, data, contact)
    with db.atomic():
        fresh(customer)
        require(actor, "customer.edit", customer)
        created = contact is None
        changes = {}
        if created:
            contact = Contact.create(customer=customer, created_at=clock.now(), **values)
        else:
            fresh(contact)  # "from" values as they are now; another edit's fields stay
            if contact.customer_id != customer.id:
                raise NotFound()
            for field, new in values.items():
                column = "reports_to_id" if field == "reports_to" else field
                if getattr(contact, column) != new:
                    changes[field] = [getattr(contact, column), new]
                    setattr(contact, column, new)
            if "active" in data:
                active = data.get("active") in (True, "1", "on", "true")
                if active != contact.active:
                    changes["active"] = [contact.active, active]
                    contact.active = active
            contact.save()
        customer.completeness = compute_completeness(customer)
        customer.updated_at = clock.now()
        customer.save()
        if created:
            audit.record("contact.added", actor, customer, contact_id=contact.id, name=contact.name,
                         title=contact.title)
        elif changes:
            audit.record("contact.updated", actor, customer, contact_id=contact.id, name=contact.name,
                         changes={k: [_plain(a), _plain(b)] for k, (a, b) in changes.items()})
        search.index_customer(customer.id)
        hooks.fire("customer_edited", customer)
    return contact


# follow-ups

BACKDATE_LIMIT = dt.timedelta(hours=24)


def validate_followup(customer, data, draft=False):
    """The follow-up form, cleaned; `draft=True` (the check while the rep types) does not yet ask for content."""
    e = FieldErrors()
    ftype = (data.get("type") or "").strip()
    if ftype not in FOLLOWUP_TYPES:
        e.add("type", N_("Choose one of the options."))
    content = text_field(data, e, "content", 4000, required=not draft, multiline=True)
    outcome = text_field(data, e, "outcome", 200)
    next_step = text_field(data, e, "next_step", 200)
    at = clock.now()
    if data.get("at"):
        try:
            at = clock.from_local(parse_datetime(data["at"]).replace(tzinfo=None, second=0, microsecond=0))
        except (FieldError, OverflowError):
            e.add("at", N_("Enter a date and time."))
        else:
            if at > clock.now() + dt.timedelta(minutes=5):
                e.add("at", N_("A follow-up cannot be in the future."))
            elif at < clock.now() - dt.timedelta(days=366):
                e.add("at", N_("That is more than a year ago."))
    next_date = None
    if data.get("next_date"):
        try:
            next_date = parse_date(data["next_date"], lo=clock.today(), hi=clock.today() + dt.timedelta(days=730))
        except FieldError:
            e.add("next_date", N_("Enter a date from today up to two years ahead."))
    if next_step and not next_date:
        e.add("next_date", N_("When is the next step?"))
    contact_id = None
    if data.get("contact_id"):
        contact = Contact.get_or_none((Contact.id == (int_or_none(data["contact_id"]) or 0))
                                      & (Contact.customer == customer) & (Contact.active == True))  # noqa: E712
        if contact is None:
            e.add("contact_id", N_("Choose a contact of this customer."))
        else:
            contact_id = contact.id
    e.raise_if_any()
    return {"type": ftype, "content": content, "outcome": outcome, "next_step": next_step,
            "next_date": next_date, "at": at, "contact": contact_id}


def log_follow_up(actor, customer, data):
    """Record a follow-up: updates the customer's last follow-up and next date, audit and timeline."""
    require(actor, "followup.create", customer)
    values = validate_followup(customer, data)
    now = clock.now()
    with db.atomic():
        # The row as it is now: whose clock this restarts depends on the owner it has now, and the save
        # below writes only the follow-up columns, never an owner, pool or release date read earlier.
        fresh(customer)
        require(actor, "followup.create", customer)
        valid, reasons = followup_validity(customer, values, now)
        followup = FollowUp.create(customer=customer, author=actor, created_at=now, is_valid=valid,
                                   invalid_reasons=[[m, p] for m, p in reasons], **values)
        perf.followup_logged(actor, valid, values["at"])
        if customer.last_followup_at is None or values["at"] >= customer.last_followup_at:
            customer.last_followup_at = values["at"]
            customer.touched_at = max(customer.touched_at, values["at"])
            if values["next_date"] or values["next_step"] == "":
                customer.next_followup_on = values["next_date"]
        # Only the owner's valid follow-ups restart the release clock (domain §5).
        owners_clock = valid and customer.owner_id == actor.id
        if owners_clock and (customer.last_valid_followup_at is None or values["at"] > customer.last_valid_followup_at):
            customer.last_valid_followup_at = values["at"]
        customer.save()
        if owners_clock:
            hooks.fire("customer_changed", customer, now)
        audit.record("followup.logged", actor, customer, followup_id=followup.id, type=values["type"],
                     at=values["at"].isoformat(sep=" "), excerpt=values["content"][:80], valid=valid)
    return followup


def followup_validity(customer, values, now=None):
    """Whether a (validated) follow-up counts as valid under the rules in force, and why not."""
    now = now or clock.now()
    contact = Contact.get_or_none(Contact.id == values["contact"]) if values.get("contact") else None
    return rules.followup_validity(rules.in_force(now), customer, values["type"], values["content"],
                                   values["at"], contact, now)


def followups_of(customer, before=None, limit=20):
    """A page of a customer's follow-ups, latest first, keyset on (at, id); the cursor is the edge row's id."""
    q = (FollowUp.select(FollowUp, User, Contact)
         .join(User, pw.JOIN.LEFT_OUTER, on=(FollowUp.author == User.id))
         .switch(FollowUp).join(Contact, pw.JOIN.LEFT_OUTER, on=(FollowUp.contact == Contact.id))
         .where(FollowUp.customer == customer))
    return keyset_page(q, [FollowUp.at, FollowUp.id], after=before, limit=limit, descending=True, cursor_by_id=True)
