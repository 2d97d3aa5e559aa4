"""The data-quality tables (issue 17 items 1–3): checks (directed by a rule, drawn in a sample, or a
rep's complaint), the monthly samples, the versioned consequence rule and the consequences it gave. The
verbs live in models/quality.py; the lead routing reads `rewarded_ids` from here (a floor below it)."""
import peewee as pw

from models.base import BaseModel, JSONField
from models.customer_tables import Customer
from models.errors import N_
from models.user_tables import User

SOURCES = ("rule", "sample", "complaint")
SOURCE_LABELS = {"rule": N_("Directed by a rule"), "sample": N_("Random sample"), "complaint": N_("Complaint")}
# the directed rules the nightly sweep evaluates (models/quality.py DETECTORS)
RULE_KEYS = ("short_followups", "shared_phone", "created_before_release", "contact_no_phone", "promotion_no_followup")
RULE_LABELS = {
    "short_followups": N_("Follow-ups all near the minimum length"),
    "shared_phone": N_("Phone shared with unrelated customers"),
    "created_before_release": N_("Many files created just before their release"),
    "contact_no_phone": N_("Contacts without any phone"),
    "promotion_no_followup": N_("Stage promoted without a follow-up"),
}
OUTCOMES = ("true", "incomplete", "false")
OUTCOME_LABELS = {"true": N_("True"), "incomplete": N_("Incomplete"), "false": N_("False")}
# what a check or a complaint is about: the profile's columns and the file's other parts
CHECK_FIELDS = ("name", "credit_code", "address", "phone", "website", "industry_id", "size", "business_model",
                "contacts", "contact_phone", "followups", "stage", "other")
CHECK_FIELD_LABELS = {
    "name": N_("Company name"), "credit_code": N_("Unified social credit code"), "address": N_("Address"),
    "phone": N_("Phone"), "website": N_("Website"), "industry_id": N_("Industry"), "size": N_("Size"),
    "business_model": N_("Business model"), "contacts": N_("Contacts"), "contact_phone": N_("A contact's phone"),
    "followups": N_("Follow-up records"), "stage": N_("Stage"), "other": N_("Something else"),
}
GRADES = ("reward", "warning", "penalty")
GRADE_LABELS = {"reward": N_("Reward"), "warning": N_("Warning"), "penalty": N_("Penalty")}


class QualitySample(BaseModel):
    """One random draw: N files per rep for a month, stratified by stage, with its seed (it can be redrawn)."""
    month = pw.CharField(max_length=7)  # YYYY-MM
    per_rep = pw.SmallIntegerField()
    seed = pw.BigIntegerField()
    team = pw.IntegerField(null=True)
    stages = JSONField(default=list)
    population = pw.IntegerField(default=0)
    picked = pw.IntegerField(default=0)
    short = JSONField(default=dict)  # rep id -> files they have, when fewer than asked
    created_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
    created_at = pw.DateTimeField()


class QualityCheck(BaseModel):
    """One file to verify, worked as a task: opened, verified, its outcome recorded; the owner answers.
    A complaint is a check with a reporter, whose name the accused never sees."""
    customer = pw.ForeignKeyField(Customer, on_delete="CASCADE", index=False, backref="+")
    owner = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")  # answerable rep
    source = pw.CharField(max_length=10)
    rule = pw.CharField(max_length=30, default="")
    findings = JSONField(default=dict)  # what the rule saw
    sample = pw.ForeignKeyField(QualitySample, null=True, on_delete="SET NULL", index=False, backref="checks")
    reporter = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
    field = pw.CharField(max_length=20, default="")  # a complaint's field
    found = pw.TextField(default="")  # a complaint: what the reporter found
    evidence = pw.TextField(default="")  # a complaint: the reporter's evidence
    status = pw.CharField(max_length=10, default="open")  # open, done
    outcome = pw.CharField(max_length=10, default="")
    outcome_fields = pw.CharField(max_length=200, default="")
    outcome_evidence = pw.TextField(default="")
    checked_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
    checked_at = pw.DateTimeField(null=True)
    response = pw.TextField(default="")
    responded_at = pw.DateTimeField(null=True)
    created_at = pw.DateTimeField()
    dedupe_key = pw.CharField(max_length=80, null=True, unique=True)

    class Meta:
        indexes = ((("status", "id"), False), (("status", "source", "id"), False), (("customer", "id"), False),
                   (("owner", "checked_at"), False), (("reporter", "customer", "field"), False),
                   (("owner", "id"), False))

    @property
    def upheld(self):
        """A complaint the check found right (the data was incomplete or false)."""
        return self.source == "complaint" and self.outcome in ("incomplete", "false")


class QualityRule(BaseModel):
    """One version of the quality settings (detection thresholds, score, consequences), in force from
    `effective_from` until a later one starts, like the pool rules."""
    version = pw.IntegerField(unique=True)
    effective_from = pw.DateTimeField(index=True)
    settings = JSONField()
    note = pw.CharField(max_length=200, default="")
    created_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
    created_at = pw.DateTimeField()


class QualityConsequence(BaseModel):
    """A reward, warning or penalty the rule gave a rep: its rule version, score and the findings (check
    ids) behind it; a capacity change points at the capacity ledger's adjustment."""
    user = pw.ForeignKeyField(User, on_delete="CASCADE", index=False, backref="+")
    grade = pw.CharField(max_length=10)
    rule_version = pw.IntegerField()
    score = pw.SmallIntegerField()
    findings = JSONField(default=list)  # check ids
    inputs = JSONField(default=dict)  # counts and completeness the score came from
    capacity_delta = pw.IntegerField(default=0)
    note = pw.CharField(max_length=300, default="")  # e.g. the penalty was cut to keep capacity at zero
    note_params = JSONField(default=dict)
    starts_at = pw.DateTimeField()
    ends_at = pw.DateTimeField()
    created_at = pw.DateTimeField()

    class Meta:
        indexes = ((("user", "grade", "ends_at"), False), (("grade", "ends_at"), False))


class QualityRun(BaseModel):
    """The nightly evaluation of the directed rules: one row per business day (resumable by customer id)."""
    day = pw.DateField(unique=True)
    rule_version = pw.IntegerField(default=0)
    next_id = pw.BigIntegerField(default=0)
    created = pw.IntegerField(default=0)
    done_at = pw.DateTimeField(null=True)


def rewarded_ids(user_ids, now):
    """The reps among `user_ids` with a reward running: lead routing gives them a higher weight."""
    if not user_ids:
        return set()
    return {uid for (uid,) in QualityConsequence.select(QualityConsequence.user).where(
        (QualityConsequence.grade == "reward") & (QualityConsequence.ends_at > now)
        & (QualityConsequence.starts_at <= now) & QualityConsequence.user.in_(list(user_ids))).tuples()}
