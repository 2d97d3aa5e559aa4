"""Customer tables, their vocabularies and the field parsers every domain shares (text, phones, dates,
credit codes). Lower floors (permissions, search, the ledger, notifications) read these; the verbs that
write them live in models/customers.py, which re-exports every name here."""
import datetime as dt
import re
import unicodedata

import peewee as pw

from models.base import MAX_INT, BaseModel, JSONField
from models.errors import N_
from models.user_tables import Region, Team, User

# ---- vocabularies (English keys in code; both languages on screen) ---------------------------

STAGES = ("unidentified", "prospect", "target", "intent", "signed", "long_term")
STAGE_LABELS = {
    "unidentified": N_("Unidentified"), "prospect": N_("Prospect"), "target": N_("Target"),
    "intent": N_("Intent"), "signed": N_("Signed"), "long_term": N_("Long-term"),
}
MARKETING_STAGES = ("unidentified", "prospect")
GRADE_OF_STAGE = {"prospect": "D", "target": "C", "intent": "B", "signed": "A", "long_term": "A"}
GRADES = ("A", "B", "C", "D")
# Value tiers (models/value.py computes them; Customer.value_tier holds the last one): trading customers,
# then the two of non-trading ones. Here so the pool rules below the value domain can name them.
VALUE_TIERS = ("diamond", "strategic", "potential", "ordinary", "problem", "important_opp", "ordinary_opp")

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
    # value (models/value.py): the tier the last recompute gave, for the list's filter and column
    value_tier = pw.CharField(max_length=13, default="", index=True)

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
            (("value_tier", "team", "region"), False),  # the value pyramid's counts (models/value.py)
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
