"""Pool rules with versions: every number of domain §12 is a setting, changed by saving a new
version that takes effect from a stated time. The version in force at `now` is the one with the
latest effective time not after `now`; every ledger row names the version it applied.
"""
import copy
import datetime as dt
import re
import unicodedata

import peewee as pw

from models import audit, clock, drop_settings, pool_clock_settings
from models.base import BaseModel, JSONField, db, kept_select
from models.customer_tables import BUSINESS_MODELS, FOLLOWUP_TYPES, VALUE_TIERS, Pool
from models.errors import N_, FieldErrors, ValidationError
from models.fields import parse_int, take
from models.permissions import require
from models.user_tables import User

DEFAULTS = {
    "capacity": {"sales": 50, "manager": 50},   # private capacity per role
    "dealt_count": True,                      # dealt (signed / long-term) customers count toward capacity
    "lock_capacity": 10,
    "release_no_followup_days": 15,
    "release_no_followup_days_key_account": 30,
    "release_no_deal_days": 90,
    "release_no_deal_days_project": 180,
    "warning_days": [3, 1],
    "cooling_off_days": 30,
    "team_cooling_off_days": 7,
    "frozen_hours": 24,
    "claims_per_day": 5,
    "views_per_day": 30,
    "contract_grace_days": 60,
    "order_protection_days": 90,  # a signed order or a received payment this recent keeps a customer (0: off)
    "stake_multiplier": 5,
    "stake_days": 14,
    "stake_threshold": 80,
    "valid_types": ["visit", "call", "meeting", "email"],
    "valid_min_length": 20,
    "valid_backdate_hours": 24,
    "key_person_models": ["project", "key_account"],
    "stock_phrases": ["继续跟进", "暂无意向", "保持互动", "保持联系", "再联系", "待跟进"],
    "tiers": {},                  # value tier -> its own release periods (models/value.py)
    "capacity_exempt_tiers": [],  # value tiers whose customers do not count toward capacity
    # fairness detectors (issue 20 item 6, models/fairness.py): they flag for the manager, never penalise; 0: off
    "fair_reclaim_days": 14,          # a release re-claimed by the former team or a friend within these days
    "fair_restart_days": 5,           # a cross-team transfer this close to the giver's release date
    "fair_pingpong_days": 30,         # a customer moved back to a rep within these days
    "fair_claim_burst": 5,            # this many claims by one rep …
    "fair_claim_burst_minutes": 30,   # … within these minutes
    "fair_fu_burst": 3,               # this many minimum-length valid follow-ups by one rep …
    "fair_fu_before_days": 2,         # … each at most these days before that customer's release date …
    "fair_fu_window_days": 14,        # … within these days …
    "fair_fu_margin": 5,              # … and at most these characters over the valid minimum
    # appeals and undo (models/appeals.py, issue 20 item 2)
    "appeal_window_hours": 16,       # a released rep may appeal within this many working hours (0: no appeals)
    "appeal_grace_days": 3,          # a restored clock that had run out holds this many days more
    "conflict_appeal_hours": 16,     # the losing rep may appeal a conflict ruling within these working hours
    "group_one_owner": False,    # one owner per group (集团): entities go to the group's owner only (models/groups.py)
    "drops": {},  # pool id -> {"time": "10:00", "method": "lottery"}: fair drops (models/drops.py); none: off
    "drop_queue_max": 5,  # drop queues a rep may wait in at once (0: no cap)
    # calendar-aware clocks and order-driven release (models/pool_clock.py, models/pool_clock_settings.py)
    "clock_days": "calendar",     # "working": release periods count the service calendar's working days
    "freeze_windows": [],         # [{"start", "end", "name"}]: no releases, the clocks stand still
    "pause_max_days": 60,         # the longest per-customer pause a manager may approve
    "reorder_warn_percent": 150,  # a customer with a reorder cycle: warn the owner this late (% of its interval)
    "reorder_release_percent": 0,  # … and release it this late (0: off, judged by follow-ups as before)
    "stage_timeout_days": 0,      # an open opportunity this long in one stage warns its owner (0: off)
    "stage_timeout_release_days": 0,  # … and this long counts against the customer: follow-ups no longer renew
                                      # its no-follow-up clock until the deal moves or closes (0: off; pools.py)
}

# name -> (kind, lo, hi) for validation; lists are checked separately
NUMBERS = {
    "lock_capacity": (0, 500), "release_no_followup_days": (1, 365), "release_no_followup_days_key_account": (1, 365),
    "release_no_deal_days": (1, 1095), "release_no_deal_days_project": (1, 1095), "cooling_off_days": (0, 365),
    "team_cooling_off_days": (0, 365), "frozen_hours": (0, 720), "claims_per_day": (0, 500),
    "views_per_day": (0, 5000), "contract_grace_days": (0, 730), "order_protection_days": (0, 1095),
    "stake_multiplier": (0, 20), "stake_days": (1, 365),
    "stake_threshold": (1, 100), "valid_min_length": (0, 2000), "valid_backdate_hours": (0, 720),
    # fairness detectors (issue 20 item 6)
    "fair_reclaim_days": (0, 365), "fair_restart_days": (0, 365), "fair_pingpong_days": (0, 365),
    "fair_claim_burst": (0, 500), "fair_claim_burst_minutes": (1, 1440), "fair_fu_burst": (0, 100),
    "fair_fu_before_days": (0, 60), "fair_fu_window_days": (1, 365), "fair_fu_margin": (0, 200),
    "appeal_window_hours": (0, 400), "appeal_grace_days": (0, 90), "conflict_appeal_hours": (0, 400),  # appeals
    "drop_queue_max": (0, 100),  # fair drops
    "pause_max_days": (1, 365), "reorder_warn_percent": (0, 1000), "reorder_release_percent": (0, 2000),
    "stage_timeout_days": (0, 365), "stage_timeout_release_days": (0, 365),
}
# the settings a value tier may set for itself besides its periods (form fields `tier_<tier>_<name>`); an empty
# field is the general setting, 0 is off for the tier
TIER_SETTINGS = ("reorder_release_percent", "stage_timeout_release_days")


class RuleVersion(BaseModel):
    version = pw.IntegerField(unique=True)
    effective_from = pw.DateTimeField(index=True)
    settings = JSONField()
    note = pw.CharField(max_length=200, default="")
    created_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = pw.DateTimeField()


class Rules:
    """The settings of one version, with the questions the pool verbs ask of them."""

    def __init__(self, settings, version=0):
        self.s = {**copy.deepcopy(DEFAULTS), **(settings or {})}
        self.version = version
        self._region_pools = None

    def __getitem__(self, key):
        return self.s[key]

    def capacity_base(self, role):
        return int(self.s["capacity"].get(role, 0))

    def no_followup_days(self, customer):
        """Days without a valid follow-up: the value tier's period if the rules set one, else the pool's own
        period if it sets one, else by business model."""
        override = self._tier_setting(customer, "release_no_followup_days") or self._pool_setting(
            customer, "release_no_followup_days")
        if override:
            return override
        if customer.business_model == "key_account":
            return self.s["release_no_followup_days_key_account"]
        return self.s["release_no_followup_days"]

    def no_deal_days(self, customer):
        override = self._tier_setting(customer, "release_no_deal_days") or self._pool_setting(
            customer, "release_no_deal_days")
        if override:
            return override
        if customer.business_model == "project":
            return self.s["release_no_deal_days_project"]
        return self.s["release_no_deal_days"]

    def for_tier(self, customer, key):
        """A setting the customer's value tier may set for itself (`TIER_SETTINGS`), else the general one."""
        tier = (self.s.get("tiers") or {}).get(getattr(customer, "value_tier", "") or "") or {}
        return tier[key] if key in tier else (self.s.get(key) or 0)

    def any_tier(self, key):
        """Whether the general setting or any value tier's turns `key` on (not 0)."""
        return bool(self.s.get(key)) or any((t or {}).get(key) for t in (self.s.get("tiers") or {}).values())

    def _tier_setting(self, customer, key):
        return ((self.s.get("tiers") or {}).get(getattr(customer, "value_tier", "") or "") or {}).get(key)

    def _pool_setting(self, customer, key):
        """A per-pool period (a region's pool may be stricter or looser); the customer's pool is its
        region's, whether it sits in it or is owned."""
        per_pool = self.s.get("pools") or {}
        if not per_pool:
            return None
        if self._region_pools is None:
            self._region_pools = {p.region_id: p.id for p in Pool.select(Pool.id, Pool.region)}
        pool_id = customer.pool_id if getattr(customer, "pool_id", None) else self._region_pools.get(customer.region_id)
        return (per_pool.get(str(pool_id)) or {}).get(key)

    def label(self):
        return f"v{self.version}"


class VersionedSettings:
    """One version of a versioned rule's settings (value tiers, data quality): its DEFAULTS under what was
    saved, the version number and when it took effect. A domain subclasses it with its own DEFAULTS."""
    DEFAULTS = {}

    def __init__(self, settings, version=0, effective_from=None):
        self.s = {**copy.deepcopy(self.DEFAULTS), **(settings or {})}
        self.version = version
        self.effective_from = effective_from

    def __getitem__(self, key):
        return self.s[key]

    def label(self):
        return f"v{self.version}"


def version_in_force(model, now):
    """The row of a versioned-settings table (RuleVersion, the lead routing's RoutingVersion) in force at
    `now`: the latest effective time not after it, the highest version among equals; None if none."""
    return next(iter(kept_select(("version_in_force", model), lambda at: (
        model.select().where(model.effective_from <= at).order_by(model.effective_from.desc(), model.version.desc())
        .limit(1)), now)), None)


def in_force(now=None):
    """The Rules in force at `now` (defaults if no version was ever saved)."""
    row = version_in_force(RuleVersion, now or clock.now())
    return Rules(row.settings, row.version) if row else Rules({}, 0)


def validate_settings(data):
    """Form data (strings) to a settings dict, or ValidationError naming each bad field."""
    errors, out = FieldErrors(), {}
    for name, (lo, hi) in NUMBERS.items():
        value = take(errors, name, parse_int, data.get(name, DEFAULTS[name]), lo, hi)
        if value is not None:
            out[name] = value
    capacity = {}
    for role in ("sales", "manager"):
        capacity[role] = take(errors, f"capacity_{role}", parse_int, data.get(f"capacity_{role}", DEFAULTS["capacity"][role]),
                              0, 10000)
    out["capacity"] = capacity
    out["dealt_count"] = str(data.get("dealt_count", "1")) in ("1", "on", "true", "True")
    out["group_one_owner"] = str(data.get("group_one_owner", "")) in ("1", "on", "true", "True")
    warnings = re.split(r"[,，\s]+", str(data.get("warning_days", "3,1")).strip())
    try:
        days = sorted({int(w) for w in warnings if w}, reverse=True)
        if not days or any(d < 0 or d > 60 for d in days):
            raise ValueError
        out["warning_days"] = days
    except ValueError:
        errors["warning_days"] = [(N_("Days before release, e.g. 3, 1."), {})]
    types = data.get("valid_types")
    if isinstance(types, str):
        types = [t for t in re.split(r"[,，\s]+", types) if t]
    types = [t for t in (types or DEFAULTS["valid_types"]) if t in FOLLOWUP_TYPES]
    if not types:
        errors["valid_types"] = [(N_("Choose at least one follow-up type."), {})]
    out["valid_types"] = types
    models_ = data.get("key_person_models")
    if isinstance(models_, str):
        models_ = [m for m in re.split(r"[,，\s]+", models_) if m]
    out["key_person_models"] = [m for m in (models_ if models_ is not None else DEFAULTS["key_person_models"])
                                if m in BUSINESS_MODELS]
    phrases = data.get("stock_phrases", "\n".join(DEFAULTS["stock_phrases"]))
    if isinstance(phrases, str):
        phrases = phrases.splitlines()
    phrases = [" ".join(p.split())[:40] for p in phrases if p.strip()][:200]
    out["stock_phrases"] = phrases
    out["pools"] = _periods(data, r"pool_(\d{1,9})", lambda pool_id: True, errors)
    out["tiers"] = _periods(data, r"tier_([a-z_]{1,13})", lambda tier: tier in VALUE_TIERS, errors, TIER_SETTINGS)
    exempt = data.get("capacity_exempt_tiers") or []
    if isinstance(exempt, str):
        exempt = [t for t in re.split(r"[,，\s]+", exempt) if t]
    out["capacity_exempt_tiers"] = [t for t in VALUE_TIERS if t in exempt]
    out["drops"] = drop_settings.parse(data, errors)  # fair drops per pool (models/drops.py)
    pool_clock_settings.validate(data, out, errors)  # working days, freeze windows, reorder percentages
    if errors:
        raise ValidationError(errors)
    return out


def _periods(data, prefix, known, errors, more=()):
    """{key: {period name: days}} from fields `<prefix>_<period name>` (per pool, per value tier; `more`: other
    NUMBERS settings allowed too); empty fields are left out, bad numbers go to `errors`."""
    out = {}
    names = "|".join(("release_no_followup_days", "release_no_deal_days") + tuple(more))
    for field, raw in data.items():
        match = re.fullmatch(prefix + r"_(" + names + ")", field)
        if not match or not known(match.group(1)) or not str(raw).strip():
            continue
        lo, hi = NUMBERS[match.group(2)]
        value = take(errors, field, parse_int, raw, lo, hi)
        if value is None:
            continue
        out.setdefault(match.group(1), {})[match.group(2)] = value
    return out


def save_version(actor, settings, effective_from, note=""):
    """Store a new rule version taking effect at `effective_from` (not in the past)."""
    require(actor, "settings.manage")
    return store_version(RuleVersion, actor, settings, effective_from, note, "rules.saved")


def store_version(model, actor, settings, effective_from, note, audit_kind):
    """A new version of a versioned-settings table, numbered after the last, taking effect at
    `effective_from` (not in the past), audited as `audit_kind`. The caller checked permission."""
    if effective_from < clock.now() - dt.timedelta(minutes=5):
        raise ValidationError({"effective_from": [(N_("The start cannot be in the past."), {})]})
    with db.atomic():
        last = model.select(pw.fn.MAX(model.version)).scalar() or 0
        row = model.create(version=last + 1, effective_from=effective_from, settings=settings,
                           note=(note or "")[:200], created_by=actor, created_at=clock.now())
        audit.record(audit_kind, actor, version=row.version, effective_from=effective_from.isoformat(sep=" "),
                     note=row.note)
    return row


# ---- the valid follow-up rule -------------------------------------------------------------------

_PUNCT_RE = re.compile(r"[\s\W_]+", re.UNICODE)


def normalize_phrase(text):
    """Lower-case, NFKC, without punctuation and spaces: '继续跟进。' == '继续 跟进'."""
    return _PUNCT_RE.sub("", unicodedata.normalize("NFKC", text or "").lower())


def followup_validity(rules, customer, ftype, content, at, contact, now):
    """(valid, reasons) of a follow-up under the rules: allowed type, minimum length of real
    content, not a stock phrase, a key person where the business model requires one, and no
    backdating beyond the limit or future time. Reasons are (message, params) pairs."""
    reasons = []
    if ftype not in rules["valid_types"]:
        reasons.append((N_("A %(type)s does not count; these do: %(types)s."),
                        {"type": ftype, "types": ", ".join(rules["valid_types"])}))
    stripped = normalize_phrase(content)
    if len(stripped) < rules["valid_min_length"]:
        reasons.append((N_("Too short to count: %(n)s of %(min)s characters (punctuation and spaces not counted)."),
                        {"n": len(stripped), "min": rules["valid_min_length"]}))
    phrases = [normalize_phrase(p) for p in rules["stock_phrases"] if normalize_phrase(p)]
    remainder = stripped
    for p in phrases:
        remainder = remainder.replace(p, "")
    if phrases and stripped and len(remainder) < max(1, rules["valid_min_length"] // 2):
        reasons.append((N_("Mostly stock phrases (e.g. 继续跟进): say what happened and what was agreed."), {}))
    if customer.business_model in rules["key_person_models"]:
        if contact is None or contact.decision_role not in ("decision_maker", "buyer"):
            reasons.append((N_("For this business model a decision maker or buyer must be reached."), {}))
    if at > now + dt.timedelta(minutes=5):
        reasons.append((N_("A follow-up cannot be in the future."), {}))
    elif at < now - dt.timedelta(hours=rules["valid_backdate_hours"]):
        reasons.append((N_("Backdated more than %(h)s hours: it is kept but does not count."),
                        {"h": rules["valid_backdate_hours"]}))
    return (not reasons), reasons
