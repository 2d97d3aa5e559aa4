"""Customer tables and their vocabularies (the field parsers are models/fields.py). Lower floors
(permissions, search, the ledger, notifications) read these; the verbs that write them live in
models/customers.py, which re-exports every name here."""
from typing import NamedTuple

import peewee as pw

from models.base import BaseModel, JSONField
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



class ProfileField(NamedTuple):
    column: str  # the Customer column
    form: str  # the form's input (a group is typed by its name)
    label: str
    kind: str  # "text" or "choice"


def _profile(column, label, kind="text", form=None):
    return ProfileField(column, form or column, label, kind)


# The customer's editable profile, spelled once: the form (views/customers.CustomerForm), its checks
# (customers.validate_customer, one per field), the audit diff (customers.AUDITED_FIELDS) and the merge
# compare screen (merges.MERGE_FIELDS) all read this list.
PROFILE_FIELDS = (
    _profile("name", N_("Company name")), _profile("short_name", N_("Short name")),
    _profile("credit_code", N_("Unified social credit code")), _profile("industry_id", N_("Industry"), "choice"),
    _profile("region_id", N_("Region"), "choice"), _profile("city", N_("City")), _profile("address", N_("Address")),
    _profile("phone", N_("Phone")), _profile("website", N_("Website")), _profile("size", N_("Size"), "choice"),
    _profile("business_model", N_("Business model"), "choice"), _profile("source", N_("Source"), "choice"),
    _profile("first_channel", N_("First-contact channel"), "choice"), _profile("tags", N_("Tags")),
    _profile("group_id", N_("Group (集团)"), form="group_name"),
)

class Industry(BaseModel):
    """The configurable industry list (西装, 牛仔, 衬衫 …)."""
    code = pw.CharField(max_length=30, unique=True)
    name_zh = pw.CharField(max_length=40)
    name_en = pw.CharField(max_length=40)
    active = pw.BooleanField(default=True)

    def label(self, locale):
        return self.name_zh if locale.startswith("zh") else self.name_en


class CustomerGroup(BaseModel):
    """A group (集团): one owner, several legal entities. `owner` is the group's one owner under the rules'
    `group_one_owner` policy (models/groups.py); it is set by the first owner of an entity, or by an admin."""
    name = pw.CharField(max_length=100, unique=True)
    owner = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="owned_groups")


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
    campaign_id = pw.IntegerField(null=True)  # the campaign that brought it (models/campaigns.py), for life
    tags = pw.CharField(max_length=200, default="")
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
    # the last signed order's date or received payment's (models/orders.py keeps it): the rules' order protection
    last_deal_on = pw.DateField(null=True)
    # an upheld appeal or an undone release (models/appeals.py) holds the restored release clock until then
    restored_until = pw.DateTimeField(null=True)
    # its open opportunity longest in one stage (models/opportunities.py keeps both): since when, and which one;
    # the rule `stage_timeout_release_days` stops follow-ups renewing the clock once it is stuck (0045)
    deal_stage_since = pw.DateTimeField(null=True)
    deal_stage_opportunity = pw.IntegerField(null=True)
    released_at = pw.DateTimeField(null=True)
    released_from = pw.IntegerField(null=True)  # the former owner (cooling-off)
    released_team = pw.IntegerField(null=True)
    staked_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="stakes")
    staked_at = pw.DateTimeField(null=True)
    stake_due = pw.DateTimeField(null=True)
    stake_completed_at = pw.DateTimeField(null=True)
    # fair drops (models/drops.py): a released customer waits for its pool's drop time, then a lottery decides
    drop_at = pw.DateTimeField(null=True, index=True)
    # value (models/value.py): the tier the last recompute gave, for the list's filter and column
    value_tier = pw.CharField(max_length=13, default="", index=True)
    # a pool cleansing judged it junk (models/cleansing.py): out of lists, search and claims until restored
    quarantined_at = pw.DateTimeField(null=True)

    class Meta:
        indexes = (
            # scope x sort, each ending in id for keyset pagination
            (("owner", "id"), False), (("owner", "name", "id"), False),
            (("owner", "touched_at", "id"), False), (("owner", "next_followup_on"), False),
            (("team", "id"), False), (("team", "name", "id"), False), (("team", "touched_at", "id"), False),
            (("stage", "id"), False), (("stage", "name", "id"), False), (("stage", "touched_at", "id"), False),
            (("name", "id"), False), (("touched_at", "id"), False),
            (("region", "id"), False), (("industry", "id"), False), (("city", "id"), False),
            (("owner", "release_at"), False), (("team", "release_at"), False), (("pool", "id"), False), (("pool", "name", "id"), False),
            (("pool", "touched_at", "id"), False),
            (("stage", "region", "id"), False), (("release_rule", "contract_end"), False),
            (("value_tier", "team", "region"), False),  # the value pyramid's counts (models/value.py)
            (("group", "id"), False),  # a group's entities (models/groups.py, 0038)
        )

    @property
    def grade_label(self):
        return self.grade or "–"

    def tag_list(self):
        return [t for t in self.tags.split(",") if t]


# Stakes are few among a million customers: a partial index, with statistics about them alone (0044).
Customer.add_index(Customer.index(Customer.staked_by, Customer.stake_due, where=Customer.staked_by.is_null(False),
                                  name="customer_stakes"))
# A cleansing's quarantine is small too: pool health counts it per pool apart (0046).
Customer.add_index(Customer.index(Customer.pool, where=Customer.quarantined_at.is_null(False),
                                  name="customer_quarantined"))
# Customers with an open opportunity, by how long it has stood in its stage: the daily pass finds those that
# just got stuck (models/pool_clock.py) on this partial index (0045).
Customer.add_index(Customer.index(Customer.deal_stage_since, where=Customer.deal_stage_since.is_null(False),
                                  name="customer_deal_stage"))


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
    # job changes (models/job_changes.py, 0038): when they left, where to (a company outside the CRM by name, or
    # their contact row at another customer), and their former role's row on the new one
    left_at = pw.DateTimeField(null=True)
    moved_company = pw.CharField(max_length=100, default="")
    moved_to = pw.IntegerField(null=True)
    previous = pw.IntegerField(null=True, index=True)


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
    owner_id = pw.IntegerField(null=True)  # the owner when it moved, whom it counts for; 0 none (the mover); 0036

    class Meta:
        # the dashboards' drill-down: the changes into / out of a stage in a period, newest first (0033); one rep's
        # moves of a day (the daily report's pre-fill, 0032)
        indexes = ((("to_stage", "at"), False), (("from_stage", "at"), False), (("actor", "at"), False))


CUSTOM_KINDS = ("text", "number", "date", "choice", "yes_no")
CUSTOM_KIND_LABELS = {"text": N_("Text"), "number": N_("Number"), "date": N_("Date"), "choice": N_("Choice"),
                      "yes_no": N_("Yes / no")}
YES_NO_LABELS = {"1": N_("Yes"), "0": N_("No")}


class CustomField(BaseModel):
    """An admin-defined profile field, shown on the files of the business models it is for (all when
    `business_models` is empty). Its values are CustomValue rows; deactivating hides it and keeps them."""
    key = pw.CharField(max_length=30, unique=True)
    label_zh = pw.CharField(max_length=40)
    label_en = pw.CharField(max_length=40)
    kind = pw.CharField(max_length=10, default="text")  # CUSTOM_KINDS
    choices = pw.CharField(max_length=400, default="")  # comma-separated, for kind=choice
    business_models = pw.CharField(max_length=100, default="")  # comma-separated BUSINESS_MODELS, "" = all
    required = pw.BooleanField(default=False)
    weight = pw.SmallIntegerField(default=0)  # counts toward completeness when > 0
    active = pw.BooleanField(default=True)
    position = pw.SmallIntegerField(default=0)

    def choice_list(self):
        return [c.strip() for c in self.choices.split(",") if c.strip()]

    def model_list(self):
        return [m for m in self.business_models.split(",") if m]

    def applies_to(self, business_model):
        return not self.business_models or business_model in self.model_list()

    def label(self, locale):
        return self.label_zh if locale.startswith("zh") else self.label_en


class CustomValue(BaseModel):
    """One customer's value of one custom field, as canonical text (a number also in `number`), so a list
    filter on one field's value is an index search: (field, value, customer) or (field, number, customer)."""
    customer = pw.ForeignKeyField(Customer, backref="custom_values", on_delete="CASCADE", index=False)
    field = pw.ForeignKeyField(CustomField, backref="values", on_delete="CASCADE", index=False)
    value = pw.CharField(max_length=200)
    number = pw.DecimalField(max_digits=14, decimal_places=2, null=True, auto_round=True)

    class Meta:
        indexes = ((("customer", "field"), True), (("field", "value", "customer"), False),
                   (("field", "number", "customer"), False))


class CompletenessWeight(BaseModel):
    """An admin's weight of one completeness field (a key of customers.COMPLETENESS_FIELDS, or custom_<key>) for
    one business model (models/completeness.py). A model with no rows keeps the built-in weights."""
    business_model = pw.CharField(max_length=20)
    field = pw.CharField(max_length=40)
    weight = pw.SmallIntegerField()

    class Meta:
        indexes = ((("business_model", "field"), True),)
