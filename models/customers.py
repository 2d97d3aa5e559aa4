"""Customer files: the customer, its contacts, follow-ups and lifecycle, with their verbs.

Every write goes through a verb here: it checks permission, validates, writes inside one
transaction together with its audit rows and the search index, and returns the record.
"""
import datetime as dt
import re
import unicodedata

import peewee as pw

from models import audit, clock, hooks, search
from models.base import MAX_INT, BaseModel, JSONField, db, fresh
from models.errors import DomainError, FieldErrors, N_, NotFound, ValidationError
from models.users import Region, Team, User

# ---- vocabularies (English keys in code; both languages on screen) ---------------------------

STAGES = ("unidentified", "prospect", "target", "intent", "signed", "long_term")
STAGE_LABELS = {
    "unidentified": N_("Unidentified"), "prospect": N_("Prospect"), "target": N_("Target"),
    "intent": N_("Intent"), "signed": N_("Signed"), "long_term": N_("Long-term"),
}
MARKETING_STAGES = ("unidentified", "prospect")
GRADE_OF_STAGE = {"prospect": "D", "target": "C", "intent": "B", "signed": "A", "long_term": "A"}
GRADES = ("A", "B", "C", "D")

BUSINESS_MODELS = ("consumer", "industrial", "project", "key_account")
BUSINESS_MODEL_LABELS = {
    "consumer": N_("Consumer goods"), "industrial": N_("Industrial goods"),
    "project": N_("Project sales"), "key_account": N_("Key account"),
}
SOURCES = ("media", "website", "event", "referral", "rep_developed", "inbound_call", "import")
SOURCE_LABELS = {
    "media": N_("Media"), "website": N_("Website"), "event": N_("Event"), "referral": N_("Referral"),
    "rep_developed": N_("Rep-developed"), "inbound_call": N_("Inbound call"), "import": N_("Import"),
}
CHANNELS = ("phone", "fax", "email", "sms", "visit", "media")
CHANNEL_LABELS = {
    "phone": N_("Phone"), "fax": N_("Fax"), "email": N_("E-mail"), "sms": N_("SMS"),
    "visit": N_("Visit"), "media": N_("Media"),
}
SIZES = ("micro", "small", "medium", "large", "xlarge")
SIZE_LABELS = {
    "micro": N_("Under 20 staff"), "small": N_("20–99 staff"), "medium": N_("100–499 staff"),
    "large": N_("500–999 staff"), "xlarge": N_("1,000+ staff"),
}
DECISION_ROLES = ("decision_maker", "buyer", "user", "consumer", "influencer")
DECISION_ROLE_LABELS = {
    "decision_maker": N_("Decision maker"), "buyer": N_("Buyer"), "user": N_("User"),
    "consumer": N_("Consumer"), "influencer": N_("Influencer"),
}
FOLLOWUP_TYPES = ("visit", "call", "meeting", "email", "sms", "wechat", "other")
FOLLOWUP_TYPE_LABELS = {
    "visit": N_("Visit"), "call": N_("Call"), "meeting": N_("Meeting"), "email": N_("E-mail"),
    "sms": N_("SMS"), "wechat": N_("WeChat"), "other": N_("Other"),
}


class Industry(BaseModel):
    """The configurable industry list (西装, 牛仔, 衬衫 …)."""
    code = pw.CharField(max_length=30, unique=True)
    name_zh = pw.CharField(max_length=40)
    name_en = pw.CharField(max_length=40)
    active = pw.BooleanField(default=True)

    def label(self, locale):
        return self.name_zh if locale.startswith("zh") else self.name_en


class CustomerGroup(BaseModel):
    """A group (集团): one owner, several legal entities."""
    name = pw.CharField(max_length=100, unique=True)


class Customer(BaseModel):
    name = pw.CharField(max_length=100)
    name_norm = pw.CharField(max_length=100, default="", index=True)  # models.duplicates.normalize_name
    short_name = pw.CharField(max_length=40, default="")
    credit_code = pw.CharField(max_length=18, null=True, unique=True)
    industry = pw.ForeignKeyField(Industry, null=True, on_delete="SET NULL")
    region = pw.ForeignKeyField(Region, null=True, on_delete="SET NULL")
    city = pw.CharField(max_length=40, default="")
    address = pw.CharField(max_length=200, default="")
    phone = pw.CharField(max_length=30, default="")
    phone_norm = pw.CharField(max_length=20, default="", index=True)
    website = pw.CharField(max_length=200, default="")
    size = pw.CharField(max_length=10, default="")
    business_model = pw.CharField(max_length=20, default="consumer")
    source = pw.CharField(max_length=20, default="rep_developed")
    first_channel = pw.CharField(max_length=10, default="")
    tags = pw.CharField(max_length=200, default="")
    custom = JSONField(default=dict)
    group = pw.ForeignKeyField(CustomerGroup, null=True, backref="customers", on_delete="SET NULL")
    owner = pw.ForeignKeyField(User, null=True, backref="customers", on_delete="SET NULL", index=False)
    team = pw.ForeignKeyField(Team, null=True, on_delete="SET NULL", index=False)
    stage = pw.CharField(max_length=20, default="target")
    grade = pw.CharField(max_length=1, default="")
    completeness = pw.SmallIntegerField(default=0)
    created_at = pw.DateTimeField()
    created_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False,
                                    backref="created_customers")
    updated_at = pw.DateTimeField()
    stage_changed_at = pw.DateTimeField()
    last_followup_at = pw.DateTimeField(null=True)
    touched_at = pw.DateTimeField()  # last follow-up, or creation: the "last activity" sort key
    next_followup_on = pw.DateField(null=True)
    # pools (models/pools.py): where an unowned customer sits, and the clocks of an owned one
    pool = pw.DeferredForeignKey("Pool", null=True, on_delete="SET NULL", index=False)
    claimed_at = pw.DateTimeField(null=True)
    last_valid_followup_at = pw.DateTimeField(null=True)
    release_at = pw.DateTimeField(null=True, index=True)
    release_rule = pw.CharField(max_length=20, default="")
    locked = pw.BooleanField(default=False)
    contract_end = pw.DateField(null=True)
    released_at = pw.DateTimeField(null=True)
    released_from = pw.IntegerField(null=True)  # the former owner (cooling-off)
    released_team = pw.IntegerField(null=True)
    staked_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="stakes")
    staked_at = pw.DateTimeField(null=True)
    stake_due = pw.DateTimeField(null=True)
    stake_completed_at = pw.DateTimeField(null=True)

    class Meta:
        indexes = (
            # scope x sort, each ending in id for keyset pagination
            (("owner", "id"), False), (("owner", "name", "id"), False),
            (("owner", "touched_at", "id"), False), (("owner", "next_followup_on"), False),
            (("team", "id"), False), (("team", "name", "id"), False), (("team", "touched_at", "id"), False),
            (("stage", "id"), False), (("stage", "name", "id"), False), (("stage", "touched_at", "id"), False),
            (("name", "id"), False), (("touched_at", "id"), False),
            (("region", "id"), False), (("industry", "id"), False), (("city", "id"), False),
            (("owner", "release_at"), False), (("pool", "id"), False), (("pool", "name", "id"), False),
            (("pool", "touched_at", "id"), False), (("staked_by", "stake_due"), False),
            (("stage", "region", "id"), False), (("release_rule", "contract_end"), False),
        )

    @property
    def grade_label(self):
        return self.grade or "–"

    def tag_list(self):
        return [t for t in self.tags.split(",") if t]


class Pool(BaseModel):
    """A public pool (公海), e.g. one per region. A pool without a region is open to every rep.

    Defined here, right after Customer, because `Customer.pool` points at it (the deferred foreign key
    resolves as this class is created); the pool verbs live in models/pools.py, which re-exports it."""
    name_zh = pw.CharField(max_length=40)
    name_en = pw.CharField(max_length=40)
    region = pw.ForeignKeyField(Region, null=True, on_delete="SET NULL")
    active = pw.BooleanField(default=True)

    def label(self, locale):
        return self.name_zh if locale.startswith("zh") else self.name_en


class Contact(BaseModel):
    customer = pw.ForeignKeyField(Customer, backref="contacts", on_delete="CASCADE")
    name = pw.CharField(max_length=60)
    title = pw.CharField(max_length=60, default="")
    department = pw.CharField(max_length=60, default="")
    mobile = pw.CharField(max_length=30, default="")
    phone = pw.CharField(max_length=30, default="")
    phone_norm = pw.CharField(max_length=20, default="", index=True)
    mobile_norm = pw.CharField(max_length=20, default="", index=True)
    email = pw.CharField(max_length=120, default="")
    wechat = pw.CharField(max_length=60, default="")
    decision_role = pw.CharField(max_length=20, default="")
    reports_to = pw.ForeignKeyField("self", null=True, backref="reports", on_delete="SET NULL")
    active = pw.BooleanField(default=True)  # False: left the company; history stays
    created_at = pw.DateTimeField()
    # decision-maker tree (models/decision_tree.py): influence high/medium/low, attitude to us, 0–5
    influence = pw.CharField(max_length=10, default="")
    attitude = pw.CharField(max_length=10, default="")
    relationship = pw.SmallIntegerField(default=0)


class FollowUp(BaseModel):
    customer = pw.ForeignKeyField(Customer, backref="followups", on_delete="CASCADE", index=False)
    author = pw.ForeignKeyField(User, backref="followups", on_delete="SET NULL", null=True, index=False)
    type = pw.CharField(max_length=10)
    at = pw.DateTimeField()  # when it happened
    contact = pw.ForeignKeyField(Contact, null=True, on_delete="SET NULL", backref="followups")
    content = pw.TextField()
    outcome = pw.CharField(max_length=200, default="")
    next_step = pw.CharField(max_length=200, default="")
    next_date = pw.DateField(null=True)
    created_at = pw.DateTimeField()
    is_valid = pw.BooleanField(default=False)  # counts as a valid follow-up (有效跟进) under the rules
    invalid_reasons = JSONField(default=list)

    class Meta:
        indexes = ((("customer", "at"), False), (("author", "at"), False))


class StageChange(BaseModel):
    """Every promotion and demotion, for conversion rates and dwell time per stage."""
    customer = pw.ForeignKeyField(Customer, backref="stage_changes", on_delete="CASCADE")
    from_stage = pw.CharField(max_length=20, null=True)
    to_stage = pw.CharField(max_length=20)
    at = pw.DateTimeField(index=True)
    actor = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False)


# ---- validation rules -----------------------------------------------------------------------

CREDIT_CODE_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_CODE_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def credit_code_check_char(first17):
    """GB 32100-2015: check character = 31 - (Σ value × 3^i mod 31) mod 31, over 31 symbols."""
    total = sum(CREDIT_CODE_CHARS.index(ch) * w for ch, w in zip(first17, CREDIT_CODE_WEIGHTS))
    return CREDIT_CODE_CHARS[(31 - total % 31) % 31]


def credit_code_error(code):
    """None if `code` is a valid unified social credit code, else a message."""
    if len(code) != 18:
        return N_("A unified social credit code has 18 characters.")
    bad = [ch for ch in code if ch not in CREDIT_CODE_CHARS]
    if bad:
        return N_("Only digits and the capital letters A–Y except I, O, S, V, Z are allowed.")
    if not code[2:8].isdigit():
        return N_("Characters 3–8 must be the administrative division code (digits).")
    if credit_code_check_char(code[:17]) != code[17]:
        return N_("The check character (the 18th) does not match: please check the code.")
    return None


def to_halfwidth(text):
    return unicodedata.normalize("NFKC", text or "")


MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")
LANDLINE_RE = re.compile(r"^0\d{2,3}\d{7,8}$")
SERVICE_RE = re.compile(r"^[48]00\d{7}$")


def normalize_phone(raw):
    """Digits only, without +86/0086 and extension: the form used for matching duplicates."""
    text = to_halfwidth(raw).strip()
    text = re.split(r"(?:ext\.?|转|#|x)", text, maxsplit=1, flags=re.I)[0]
    digits = re.sub(r"[\s\-()（）.+]", "", text)
    international = text.lstrip("(（").startswith("+86") or digits.startswith("0086")
    if digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and (international or len(digits) == 13):
        digits = digits[2:]
    if international and digits and not (MOBILE_RE.match(digits) or digits.startswith(("0", "400", "800"))):
        digits = "0" + digits  # +86 21 6234 5678: dialled from abroad, the area code drops its leading 0
    return digits


def phone_error(raw, mobile_only=False):
    text = to_halfwidth(raw).strip()
    if re.search(r"[^\d\s\-()（）.+#转extEXT]", text):
        return N_("Use digits, spaces, dashes and an optional +86; an extension after 转 or ext.")
    digits = normalize_phone(text)
    if MOBILE_RE.match(digits):
        return None
    if mobile_only:
        return N_("A mobile number has 11 digits starting with 1 (e.g. 138 0013 8000).")
    if LANDLINE_RE.match(digits) or SERVICE_RE.match(digits):
        return None
    return N_("Enter a mobile number (11 digits) or a landline with its area code (e.g. 021-6234 5678).")


EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+$")
URL_RE = re.compile(r"^(https?://)?([a-z0-9-]+\.)+[a-z]{2,}(:\d{1,5})?(/\S*)?$", re.I)
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


def clean_text(value, max_len, multiline=False):
    """Trim, drop control and bidi-override characters; None if longer than `max_len`."""
    text = _CONTROL_RE.sub("", str(value or ""))
    if not multiline:
        text = " ".join(text.split())
    text = text.strip()
    return text if len(text) <= max_len else None


def _choice(value, allowed):
    return value if value in allowed else None


def _parse_int(value):
    """An int the database can hold (64-bit), else None: a huge number is junk, not an OverflowError."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if -MAX_INT - 1 <= number <= MAX_INT else None


def _text(data, errors, field, max_len, required=False, multiline=False):
    value = clean_text(data.get(field), max_len, multiline)
    if value is None:
        errors.add(field, N_("At most %(n)s characters."), n=max_len)
        return ""
    if required and not value:
        errors.add(field, N_("Required."))
    return value


def validate_customer(data, customer=None):
    """Clean and check the customer form; returns a dict of column values or raises ValidationError."""
    e = FieldErrors()
    out = {
        "name": _text(data, e, "name", 100, required=True),
        "short_name": _text(data, e, "short_name", 40),
        "city": _text(data, e, "city", 40),
        "address": _text(data, e, "address", 200),
        "tags": ",".join(t for t in (_text(data, e, "tags", 200).replace("，", ",").split(",")) if t.strip()),
    }
    out["tags"] = ",".join(t.strip() for t in out["tags"].split(",") if t.strip())
    if out["name"] and len(out["name"]) < 2:
        e.add("name", N_("At least %(n)s characters."), n=2)

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
    out["credit_code"] = code or None

    phone = _text(data, e, "phone", 30)
    if phone:
        msg = phone_error(phone)
        if msg:
            e.add("phone", msg)
    out["phone"], out["phone_norm"] = phone, normalize_phone(phone) if phone else ""

    website = _text(data, e, "website", 200)
    if website and not URL_RE.match(website):
        e.add("website", N_("Not a web address (e.g. www.example.com)."))
    out["website"] = website

    for field, allowed, required in (("business_model", BUSINESS_MODELS, True), ("source", SOURCES, True),
                                     ("first_channel", CHANNELS, False), ("size", SIZES, False)):
        value = (data.get(field) or "").strip()
        if not value and not required:
            out[field] = ""
        elif _choice(value, allowed) is None:
            e.add(field, N_("Choose one of the options."))
        else:
            out[field] = value

    for field, model in (("industry_id", Industry), ("region_id", Region)):
        raw = data.get(field)
        if raw in (None, ""):
            out[field] = None
            continue
        pk = _parse_int(raw)
        if pk is None or not model.select().where(model.id == pk).exists():
            e.add(field, N_("Choose one of the options."))
        out[field] = pk

    group_name = _text(data, e, "group_name", 100)
    out["group_name"] = group_name

    out["custom"] = validate_custom_fields(data, e)
    e.raise_if_any()
    from models.duplicates import normalize_name
    out["name_norm"] = normalize_name(out["name"])
    return out


def _duplicate_check(actor, values, data, customer=None):
    """Near matches (same phone, same or similar name) need a reason to save; returns (reason, ids).

    On edit only a changed name or phone is checked: an untouched file is not asked again."""
    from models.duplicates import find_matches

    if customer is not None and values["name_norm"] == customer.name_norm \
            and values["phone_norm"] == customer.phone_norm:
        return "", []
    matches = [m for m in find_matches(actor, name=values["name"], phone=values["phone"],
                                       exclude_id=customer.id if customer is not None else None)
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


def validate_custom_fields(data, e):
    """Admin-defined profile fields (custom_<key> in the form) checked by their kind."""
    values = {}
    for field in CustomField.select().where(CustomField.active == True).order_by(CustomField.position):  # noqa: E712
        name = "custom_" + field.key
        raw = clean_text(data.get(name), 200)
        if raw is None:
            e.add(name, N_("At most %(n)s characters."), n=200)
            continue
        if not raw:
            if field.required:
                e.add(name, N_("Required."))
            continue
        if field.kind == "number":
            try:
                float(raw)
            except ValueError:
                e.add(name, N_("Enter a number."))
                continue
        elif field.kind == "date":
            try:
                parse_date(raw)
            except ValueError as exc:
                e.add(name, str(exc))
                continue
        elif field.kind == "choice" and raw not in field.choice_list():
            e.add(name, N_("Choose one of the options."))
            continue
        values[field.key] = raw
    return values


def parse_date(raw, lo=dt.date(1900, 1, 1), hi=dt.date(2100, 12, 31)):
    """A date from YYYY-MM-DD within a sane range, or ValueError with a readable message."""
    try:
        value = dt.date.fromisoformat(str(raw).strip())
    except ValueError:
        raise ValueError(N_("Enter a date as YYYY-MM-DD.")) from None
    if not lo <= value <= hi:
        raise ValueError(N_("Enter a date between 1900 and 2100."))
    return value


class CustomField(BaseModel):
    """An admin-defined profile field shown on every customer form."""
    key = pw.CharField(max_length=30, unique=True)
    label_zh = pw.CharField(max_length=40)
    label_en = pw.CharField(max_length=40)
    kind = pw.CharField(max_length=10, default="text")  # text, number, date, choice
    choices = pw.CharField(max_length=400, default="")  # comma-separated, for kind=choice
    required = pw.BooleanField(default=False)
    weight = pw.SmallIntegerField(default=0)  # counts toward completeness when > 0
    active = pw.BooleanField(default=True)
    position = pw.SmallIntegerField(default=0)

    def choice_list(self):
        return [c.strip() for c in self.choices.split(",") if c.strip()]

    def label(self, locale):
        return self.label_zh if locale.startswith("zh") else self.label_en


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


def completeness_parts(customer, contacts=None):
    """(field, weight, filled) for the customer's business model; the view shows what is missing."""
    if contacts is None:
        contacts = list(customer.contacts.where(Contact.active == True)) if customer.id else []  # noqa: E712
    weights = COMPLETENESS_WEIGHTS.get(customer.business_model, COMPLETENESS_WEIGHTS["consumer"])
    filled = {
        "name": bool(customer.name), "short_name": bool(customer.short_name),
        "credit_code": bool(customer.credit_code), "industry": bool(customer.industry_id),
        "region": bool(customer.region_id), "city": bool(customer.city), "address": bool(customer.address),
        "phone": bool(customer.phone), "website": bool(customer.website), "size": bool(customer.size),
        "first_channel": bool(customer.first_channel), "group": bool(customer.group_id),
        "contacts": bool(contacts),
        "decision_maker": any(c.decision_role == "decision_maker" for c in contacts),
        "key_contact_phone": any(c.decision_role in ("decision_maker", "buyer") and (c.mobile or c.phone)
                                 for c in contacts),
    }
    parts = [(f, w, filled.get(f, False)) for f, w in weights.items()]
    for field in CustomField.select().where((CustomField.active == True) & (CustomField.weight > 0)):  # noqa: E712
        parts.append(("custom_" + field.key, field.weight, bool((customer.custom or {}).get(field.key))))
    return parts


def compute_completeness(customer, contacts=None):
    parts = completeness_parts(customer, contacts)
    total = sum(w for _, w, _ in parts) or 1
    return round(100 * sum(w for _, w, ok in parts if ok) / total)


# ---- scopes -----------------------------------------------------------------------------------

def get_customer(customer_id):
    """The customer by id, or NotFound (permission is the caller's: use permissions.visible)."""
    pk = _parse_int(customer_id)
    customer = Customer.get_or_none(Customer.id == pk) if pk else None
    if customer is None:
        raise NotFound()
    return customer


def owned_by(user):
    return Customer.select().where(Customer.owner == user)


# ---- verbs --------------------------------------------------------------------------------------

AUDITED_FIELDS = ("name", "short_name", "credit_code", "industry_id", "region_id", "city", "address", "phone",
                  "website", "size", "business_model", "source", "first_channel", "tags", "group_id",
                  "custom")


def _group_for(name):
    if not name:
        return None
    group, _ = CustomerGroup.get_or_create(name=name)
    return group.id


def create_customer(actor, data, check_duplicates=True):
    """Create a customer file. Sales own what they create (stage target); marketing's start
    unowned as unidentified leads; managers and admins may name an owner and a stage.

    A customer with the same phone or the same or a similar name needs `duplicate_reason` in `data`
    (recorded in the audit row); `check_duplicates=False` is for bulk loads and test factories."""
    from models.permissions import require

    require(actor, "customer.create")
    values = validate_customer(data)
    dup_reason, dup_ids = _duplicate_check(actor, values, data) if check_duplicates else ("", [])
    owner_id, stage = _initial_owner_and_stage(actor, data)
    now = clock.now()
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
        customer.completeness = compute_completeness(customer, contacts=[])
        customer.save()
        StageChange.create(customer=customer, from_stage=None, to_stage=stage, at=now, actor=actor)
        extra = {"duplicate_reason": dup_reason, "duplicate_ids": dup_ids} if dup_ids else {}
        audit.record("customer.created", actor, customer, stage=stage,
                     owner_id=owner.id if owner else None, owner=owner.full_name if owner else None, **extra)
        search.index_customer(customer.id)
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
    owner_id = _parse_int(data.get("owner_id"))
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
    from models.permissions import require

    require(actor, "customer.edit", customer)
    values = validate_customer(data, customer)
    dup_reason, dup_ids = _duplicate_check(actor, values, data, customer)
    with db.atomic():
        fresh(customer)  # compare with, and audit, what is there now; write only the changed fields
        require(actor, "customer.edit", customer)
        values["group_id"] = _group_for(values.pop("group_name"))
        changes = {}
        for field in AUDITED_FIELDS:
            old, new = getattr(customer, field), values.get(field)
            if field == "custom":
                old = old or {}
            if (old or None) != (new or None):
                changes[field] = [_plain(old), _plain(new)]
                setattr(customer, field, new)
        for field in ("phone_norm", "name_norm"):
            if getattr(customer, field) != values[field]:
                setattr(customer, field, values[field])
        if not changes:
            return customer
        customer.completeness = compute_completeness(customer)
        customer.updated_at = clock.now()
        customer.save()
        extra = {"duplicate_reason": dup_reason, "duplicate_ids": dup_ids} if dup_ids else {}
        audit.record("customer.updated", actor, customer, changes=changes, **extra)
        search.index_customer(customer.id)
        hooks.fire("customer_edited", customer)  # a stake completes when the file is complete enough
    return customer


def _plain(value):
    return value if isinstance(value, (str, int, float, dict, type(None))) else str(value)


def change_stage(actor, customer, stage, reason=""):
    """Promote or demote a customer on the lifecycle ladder; records the change with time and actor."""
    from models.permissions import require

    require(actor, "customer.change_stage", customer)
    if stage not in STAGES:
        raise DomainError(N_("Unknown stage."))
    if actor.role == "marketing" and stage not in MARKETING_STAGES + ("target",):
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
        customer.stage, customer.grade = stage, GRADE_OF_STAGE.get(stage, "")
        customer.stage_changed_at = customer.updated_at = now
        customer.save()
        StageChange.create(customer=customer, from_stage=old, to_stage=stage, at=now, actor=actor)
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
    from models.permissions import require

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
        "name": _text(data, e, "name", 60, required=True),
        "title": _text(data, e, "title", 60),
        "department": _text(data, e, "department", 60),
        "wechat": _text(data, e, "wechat", 60),
    }
    mobile = _text(data, e, "mobile", 30)
    if mobile and phone_error(mobile, mobile_only=True):
        e.add("mobile", phone_error(mobile, mobile_only=True))
    phone = _text(data, e, "phone", 30)
    if phone and phone_error(phone):
        e.add("phone", phone_error(phone))
    email = _text(data, e, "email", 120)
    if email and not EMAIL_RE.match(email):
        e.add("email", N_("Not a valid e-mail address."))
    role = (data.get("decision_role") or "").strip()
    if role and role not in DECISION_ROLES:
        e.add("decision_role", N_("Choose one of the options."))
    reports_to = None
    if data.get("reports_to_id"):
        boss = Contact.get_or_none((Contact.id == _parse_int(data["reports_to_id"]) or 0)
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
    from models.permissions import require

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


def validate_followup(customer, data):
    e = FieldErrors()
    ftype = (data.get("type") or "").strip()
    if ftype not in FOLLOWUP_TYPES:
        e.add("type", N_("Choose one of the options."))
    content = _text(data, e, "content", 4000, required=True, multiline=True)
    outcome = _text(data, e, "outcome", 200)
    next_step = _text(data, e, "next_step", 200)
    at = clock.now()
    if data.get("at"):
        try:
            local = dt.datetime.fromisoformat(str(data["at"]).strip())
            at = clock.from_local(local.replace(tzinfo=None, second=0, microsecond=0))
        except (ValueError, OverflowError):
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
        except ValueError:
            e.add("next_date", N_("Enter a date from today up to two years ahead."))
    if next_step and not next_date:
        e.add("next_date", N_("When is the next step?"))
    contact_id = None
    if data.get("contact_id"):
        contact = Contact.get_or_none((Contact.id == (_parse_int(data["contact_id"]) or 0))
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
    from models.permissions import require

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
    from models import rules

    now = now or clock.now()
    contact = Contact.get_or_none(Contact.id == values["contact"]) if values.get("contact") else None
    return rules.followup_validity(rules.in_force(now), customer, values["type"], values["content"],
                                   values["at"], contact, now)


def followups_of(customer, before_id=None, limit=20):
    q = (FollowUp.select(FollowUp, User, Contact)
         .join(User, pw.JOIN.LEFT_OUTER, on=(FollowUp.author == User.id))
         .switch(FollowUp).join(Contact, pw.JOIN.LEFT_OUTER, on=(FollowUp.contact == Contact.id))
         .where(FollowUp.customer == customer))
    if before_id:
        q = q.where(FollowUp.id < before_id)
    return q.order_by(FollowUp.at.desc(), FollowUp.id.desc()).limit(limit)
