"""Lead tables (issue 14): campaigns, web-form sources, leads, their routings and the routing rule
versions. The verbs live in models/leads.py (intake, qualification, routing, response) and
models/campaigns.py (campaigns and their ROI); permissions reads these rows by name."""
import peewee as pw

from models.base import BaseModel, JSONField
from models.customer_tables import Customer
from models.errors import N_
from models.user_tables import Team, User

LEAD_STATUSES = ("new", "junk", "prospect", "qualified", "routed", "accepted", "sent_back")
LEAD_STATUS_LABELS = {
    "new": N_("To judge"), "junk": N_("Junk"), "prospect": N_("Nurturing"), "qualified": N_("Qualified, no rep yet"),
    "routed": N_("Waiting for the rep"), "accepted": N_("Accepted"), "sent_back": N_("Sent back"),
}
QUEUE_STATUSES = ("new", "sent_back", "qualified")  # what marketing still has to judge or place
CAMPAIGN_CHANNELS = ("media", "website", "event", "email", "sms", "exhibition", "referral")
CAMPAIGN_CHANNEL_LABELS = {
    "media": N_("Media"), "website": N_("Website"), "event": N_("Event"), "email": N_("E-mail"), "sms": N_("SMS"),
    "exhibition": N_("Trade fair"), "referral": N_("Referral programme"),
}


class Campaign(BaseModel):
    """A marketing campaign: its leads attach to it; cost and budget feed the ROI."""
    name = pw.CharField(max_length=100, unique=True)
    channel = pw.CharField(max_length=12)
    source = pw.CharField(max_length=20, default="media")  # the customer source its leads get
    starts_on = pw.DateField()
    ends_on = pw.DateField()
    budget = pw.DecimalField(max_digits=14, decimal_places=2, default=0)
    cost = pw.DecimalField(max_digits=14, decimal_places=2, default=0)
    note = pw.CharField(max_length=300, default="")
    created_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
    created_at = pw.DateTimeField()

    class Meta:
        indexes = ((("starts_on", "ends_on"), False),)


class LeadSource(BaseModel):
    """A website (or event app) allowed to post leads: its own secret token (only the hash is kept), the
    marketing person who answers for what it sends, its campaign and a rate limit."""
    name = pw.CharField(max_length=60, unique=True)
    token_hash = pw.CharField(max_length=64, unique=True)
    token_hint = pw.CharField(max_length=8, default="")
    source = pw.CharField(max_length=20, default="website")
    channel = pw.CharField(max_length=10, default="")
    campaign = pw.ForeignKeyField(Campaign, null=True, on_delete="SET NULL", index=False, backref="+")
    owner = pw.ForeignKeyField(User, on_delete="CASCADE", index=False, backref="+")
    per_hour = pw.IntegerField(default=60)  # posts per hour from one address
    active = pw.BooleanField(default=True)
    created_at = pw.DateTimeField()


class Lead(BaseModel):
    """One enquiry handed from marketing to sales: a new customer, or a known one asking again."""
    customer = pw.ForeignKeyField(Customer, on_delete="CASCADE", index=False, backref="leads")
    source = pw.CharField(max_length=20)
    channel = pw.CharField(max_length=10, default="")
    campaign = pw.ForeignKeyField(Campaign, null=True, on_delete="SET NULL", index=False, backref="leads")
    web_source = pw.ForeignKeyField(LeadSource, null=True, on_delete="SET NULL", index=False, backref="+")
    note = pw.TextField(default="")
    status = pw.CharField(max_length=12, default="new")
    new_customer = pw.BooleanField(default=True)  # the intake created the customer file
    created_at = pw.DateTimeField()
    created_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
    judged_at = pw.DateTimeField(null=True)
    junk_reason = pw.CharField(max_length=200, default="")
    nurture_list = pw.CharField(max_length=40, default="")
    touch_days = pw.SmallIntegerField(null=True)  # this lead's own nurture cadence (else its list's)
    next_touch_on = pw.DateField(null=True)  # a nurtured lead's next touch (business date)
    touched_at = pw.DateTimeField(null=True)  # the last touch logged
    qualified_at = pw.DateTimeField(null=True)
    routing_id = pw.IntegerField(null=True)  # the current LeadRouting (a plain id: the two tables point at each other)
    routed_to = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
    team = pw.ForeignKeyField(Team, null=True, on_delete="SET NULL", index=False, backref="+")  # the rep's
    routed_at = pw.DateTimeField(null=True)
    made_owner = pw.BooleanField(default=False)  # the routing gave the rep the customer
    due_at = pw.DateTimeField(null=True)
    warn_at = pw.DateTimeField(null=True)
    warned_at = pw.DateTimeField(null=True)
    escalated_at = pw.DateTimeField(null=True)
    escalated_to = pw.IntegerField(null=True)
    accepted_at = pw.DateTimeField(null=True)
    sent_back_at = pw.DateTimeField(null=True)
    sent_back_reason = pw.CharField(max_length=300, default="")

    class Meta:
        indexes = (
            (("status", "id"), False), (("status", "created_at"), False), (("customer", "status"), False),
            (("routed_to", "status", "due_at"), False), (("team", "status"), False), (("status", "due_at"), False),
            (("status", "warn_at"), False), (("campaign", "created_at"), False), (("created_at",), False),
            (("created_by", "id"), False), (("status", "next_touch_on", "id"), False),
        )


class NurtureList(BaseModel):
    """A nurture list's touch cadence: a prospect on it is due for a touch this many days after the last one
    (a lead may have its own; a list without a row takes `leads.NURTURE_DAYS`)."""
    name = pw.CharField(max_length=40, unique=True)
    cadence_days = pw.SmallIntegerField()
    updated_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
    updated_at = pw.DateTimeField()


class LeadRouting(BaseModel):
    """One routing of a lead to a rep (or to nobody): which rule chose, who was skipped and why, the
    deadline, and how the rep answered. Response times per rep and team are read from these rows."""
    lead = pw.ForeignKeyField(Lead, on_delete="CASCADE", index=False, backref="routings")
    at = pw.DateTimeField()
    actor = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
    to_user = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
    team = pw.ForeignKeyField(Team, null=True, on_delete="SET NULL", index=False, backref="+")
    rule = pw.CharField(max_length=20)  # owner, staker, region, industry, round_robin, manual, nobody
    rule_version = pw.IntegerField(default=0)
    skipped = JSONField(default=list)
    reason = pw.CharField(max_length=300, default="")
    due_at = pw.DateTimeField(null=True)
    responded_at = pw.DateTimeField(null=True)
    response = pw.CharField(max_length=12, default="")  # accepted, followup, sent_back, rerouted
    minutes = pw.IntegerField(null=True)  # working minutes from routing to the response
    late = pw.BooleanField(default=False)
    escalated_at = pw.DateTimeField(null=True)

    class Meta:
        indexes = ((("lead", "id"), False), (("to_user", "rule", "id"), False), (("at",), False),
                   (("team", "at"), False))


class RoutingVersion(BaseModel):
    """The routing rule, versioned like the pool rules: the version in force is the latest one whose
    effective time has come."""
    version = pw.IntegerField(unique=True)
    effective_from = pw.DateTimeField(index=True)
    settings = JSONField()
    note = pw.CharField(max_length=200, default="")
    created_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
    created_at = pw.DateTimeField()


class IntakeThrottle(BaseModel):
    """Posts per web-form source and address in the current window (the flood guard)."""
    key = pw.CharField(max_length=120, unique=True)
    window_start = pw.DateTimeField()
    count = pw.IntegerField(default=0)
