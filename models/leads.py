"""Marketing to sales (domain §4, issue 14): lead intake (form, website, events, referrals),
qualification (junk / prospect / qualified), routing by a versioned rule with a ledger row naming the
rule and the reps it skipped, and the rep's answer within a deadline in working hours (accept, or send
back as "still a prospect"), escalated to the rep's manager by an idempotent sweep."""
import copy
import datetime as dt
import hashlib
import secrets

import peewee as pw

from models import audit, clock, customers, hooks, ledger, pools, search
from models import perf_tables as perf
from models import rules as pool_rules
from models.base import bulk_insert, db, fresh
from models.customer_tables import (CHANNELS, GRADE_OF_STAGE, MARKETING_STAGES, SOURCES, Contact, Customer,
                                    Industry, StageChange)
from models.delegation_tables import Delegation, _active_where
from models.duplicates import find_matches
from models.errors import DomainError, FieldErrors, N_, NotFound, ValidationError
from models.fields import clean_text, int_or_none, text_field
from models.lead_tables import (  # noqa: F401  re-exported: models.leads.Lead etc.
    CAMPAIGN_CHANNELS, CAMPAIGN_CHANNEL_LABELS, LEAD_STATUSES, LEAD_STATUS_LABELS, QUEUE_STATUSES, Campaign,
    IntakeThrottle, Lead, LeadRouting, LeadSource, NurtureList, RoutingVersion)
from models.notifications import notify
from models.permissions import can, require
from models.quality_tables import rewarded_ids
from models.service import WorkingCalendar
from models.user_tables import Team, User

ROTATION_ROLES = ("sales", "manager")  # who may take part in the round-robin
INTAKE_SOURCES = ("website", "event", "referral", "media", "inbound_call", "rep_developed")
NOTE_MAX = 2000
RULE_LABELS = {
    "owner": N_("existing owner"), "staker": N_("staker"), "region": N_("region"), "industry": N_("industry"),
    "round_robin": N_("round-robin"), "manual": N_("chosen by hand"), "nobody": N_("no rep available"),
}
SKIP_LABELS = {
    "deactivated": N_("deactivated"), "absent": N_("absent (delegation)"), "full": N_("private pool full"),
    "excluded": N_("had it already"),
}
RESPONSE_LABELS = {
    "accepted": N_("accepted"), "followup": N_("accepted by a follow-up"), "sent_back": N_("sent back"),
    "rerouted": N_("re-routed"),
}
RR_RULES = ("region", "industry", "round_robin")

ROUTING_DEFAULTS = {
    "use_owner": True,       # a known customer's lead goes to its owner
    "use_staker": True,      # ... else to the rep who staked it (占坑)
    "use_region": True,      # then a rep of the customer's region
    "use_industry": True,    # then, among those, a rep who sells its industry (industry_reps)
    "roles": ["sales"],      # who takes part in the round-robin
    "response_hours": 24,    # working hours to accept or send back (domain §12)
    "warning_hours": 4,      # the rep is reminded this many working hours before the deadline
    "industry_reps": {},     # {"<industry id>": [user ids]}
}


class DuplicatesFound(DomainError):
    """The lead looks like customers that exist: shown before anything is created."""

    def __init__(self, matches):
        super().__init__(N_("Similar customers already exist: attach the lead to one, or say why it is new."))
        self.matches = matches


class IntakeRefused(DomainError):
    """A web-form post refused: `status` is the HTTP answer, `errors` the per-field problems."""

    def __init__(self, status, message, errors=None, **params):
        super().__init__(message, **params)
        self.status, self.errors = status, errors or {}


# ---- the routing rule, versioned --------------------------------------------------------------

class RoutingRules:
    def __init__(self, settings, version=0):
        self.s = {**copy.deepcopy(ROUTING_DEFAULTS), **(settings or {})}
        self.version = version

    def __getitem__(self, key):
        return self.s[key]

    def specialists(self, industry_id):
        return {int(i) for i in (self.s["industry_reps"] or {}).get(str(industry_id), [])}


def routing_in_force(now=None):
    row = pool_rules.version_in_force(RoutingVersion, now or clock.now())
    return RoutingRules(row.settings, row.version) if row else RoutingRules({}, 0)


def validate_routing(data):
    """Form data to routing settings, or ValidationError per field."""
    e, out = FieldErrors(), {}
    for key in ("use_owner", "use_staker", "use_region", "use_industry"):
        out[key] = str(data.get(key, "")) in ("1", "on", "true", "True")
    for key, lo, hi in (("response_hours", 1, 400), ("warning_hours", 0, 400)):
        try:
            out[key] = int(str(data.get(key, ROUTING_DEFAULTS[key])).strip())
            if not lo <= out[key] <= hi:
                raise ValueError
        except ValueError:
            e.add(key, N_("A whole number from %(lo)s to %(hi)s."), lo=lo, hi=hi)
    if not e and out["warning_hours"] >= out["response_hours"]:
        e.add("warning_hours", N_("The reminder must come before the deadline."))
    roles = data.get("roles") or []
    roles = [roles] if isinstance(roles, str) else list(roles)
    out["roles"] = [r for r in roles if r in ROTATION_ROLES]
    if not out["roles"]:
        e.add("roles", N_("Choose at least one role."))
    reps = {u.id for u in User.holding("sales", "manager", fields=(User.id,))}
    industries = {i.id for i in Industry.select(Industry.id)}
    out["industry_reps"] = {}
    for key in data:
        if not key.startswith("industry_") or not key[9:].isdigit():
            continue
        if int(key[9:]) not in industries:
            e.add(key, N_("Choose one of the options."))
            continue
        values = data.getlist(key) if hasattr(data, "getlist") else data[key]
        values = [values] if isinstance(values, str) else values
        ids = [int_or_none(v) for v in values if str(v).strip()]
        if any(i not in reps for i in ids):
            e.add(key, N_("Choose active reps."))
            continue
        if ids:
            out["industry_reps"][key[9:]] = sorted(ids)
    e.raise_if_any()
    return out


def save_routing(actor, settings, effective_from, note=""):
    """A new version of the routing rule (admins), like the pool rules' versions."""
    require(actor, "routing.manage")
    return pool_rules.store_version(RoutingVersion, actor, settings, effective_from, clean_text(note, 200) or "",
                                    "lead.routing_saved")


# ---- choosing the rep ------------------------------------------------------------------------

def _room(users, rules, now):
    """Free places in each user's private pool (as pools.capacity), for many reps at once: the adjustments
    in one query, and each rep's customers counted only up to their capacity + 1 (a full rep's thousands
    of customers are never all read), in one statement per 300 reps."""
    from models.pools import CapacityAdjustment

    ids = [u.id for u in users]
    if not ids:
        return {}
    adjust = dict(CapacityAdjustment.select(CapacityAdjustment.user, pw.fn.SUM(CapacityAdjustment.delta))
                  .where(CapacityAdjustment.user.in_(ids) & (CapacityAdjustment.starts_at <= now)
                         & (CapacityAdjustment.ends_at.is_null() | (CapacityAdjustment.ends_at > now)))
                  .group_by(CapacityAdjustment.user).tuples())
    total = {u.id: max(0, rules.capacity_base(u.role) + (adjust.get(u.id) or 0)) for u in users}
    p, table = db.param, Customer._meta.table_name
    dealt = "" if rules["dealt_count"] else " AND stage NOT IN (%s)" % ", ".join(f"'{s}'" for s in pools.DEALT_STAGES)
    used = {}
    for start in range(0, len(ids), 300):
        chunk = ids[start:start + 300]
        sql = " UNION ALL ".join(
            f"SELECT {p}, (SELECT COUNT(*) FROM (SELECT 1 FROM {table} WHERE owner_id = {p}{dealt} LIMIT {p}) AS s)"
            for _ in chunk)
        params = [v for uid in chunk for v in (uid, uid, total[uid] + 1)]
        used.update(dict(db.execute_sql(sql, params).fetchall()))
    return {uid: total[uid] - used.get(uid, 0) for uid in ids}


def _absent(ids, now):
    if not ids:
        return set()
    return {d.absentee_id for d in Delegation.select(Delegation.absentee)
            .where(Delegation.absentee.in_(list(ids)) & _active_where(now))}


def _why_not(user, room, absent, exclude):
    if not user.active:
        return "deactivated"
    if user.id in exclude:
        return "excluded"
    if user.id in absent:
        return "absent"
    if room.get(user.id, 0) <= 0:
        return "full"
    return None


def _skip(user, why, step):
    return {"id": user.id, "name": user.full_name, "why": why, "step": step}


def plan_route(customer, rs, now, exclude=(), last=None):
    """(rep or None, rule, skipped, steps): who the rule gives a lead on `customer` to, and why the others
    were passed over. The customer's owner first, then its staker, then among the reps of the rule's roles
    those of its region, of those the industry's specialists, round-robin (the one whose last rule-routed
    lead is oldest) among those with room left who are neither absent nor deactivated. A step that leaves
    nobody available is skipped with its reps. `last` ({user id: last routing id}) lets a preview advance
    the rotation without writing."""
    prules = pool_rules.in_force(now)
    skipped, exclude = [], set(exclude)
    if rs["use_owner"] and customer.owner_id and customer.owner_id not in exclude:
        owner = User.get_by_id(customer.owner_id)
        if owner.active:
            return owner, "owner", skipped, ["owner"]
        skipped.append(_skip(owner, "deactivated", "owner"))
    if rs["use_staker"] and customer.staked_by_id and not customer.owner_id:
        staker = User.get_by_id(customer.staked_by_id)
        why = _why_not(staker, _room([staker], prules, now), _absent([staker.id], now), exclude)
        if why is None:
            return staker, "staker", skipped, ["staker"]
        skipped.append(_skip(staker, why, "staker"))
    group = list(User.select(User.id, User.full_name, User.role, User.team, User.region, User.active)
                 .where(User.role.in_(rs["roles"])).order_by(User.id))
    if not group:
        return None, "nobody", skipped, []
    why = {}

    def judge(users):
        """Why each of `users` cannot take the lead (None: available), asked only of the reps a step
        reaches: a region's dozen rather than all 200 (the capacity count is the costly part)."""
        todo = [u for u in users if u.id not in why]
        if todo:
            room, absent = _room(todo, prules, now), _absent([u.id for u in todo], now)
            why.update({u.id: _why_not(u, room, absent, exclude) for u in todo})
        return why

    team_region = dict(Team.select(Team.id, Team.region).tuples())
    steps = []
    narrowers = []
    if rs["use_region"] and customer.region_id:
        narrowers.append(("region", lambda u: (u.region_id or team_region.get(u.team_id)) == customer.region_id))
    if rs["use_industry"] and customer.industry_id and rs.specialists(customer.industry_id):
        specialists = rs.specialists(customer.industry_id)
        narrowers.append(("industry", lambda u: u.id in specialists))
    for step, keep in narrowers:
        narrowed = [u for u in group if keep(u)]
        if any(judge(narrowed)[u.id] is None for u in narrowed):
            group = narrowed
            steps.append(step)
        else:  # nobody of this step is available: say who and why, and look wider
            skipped += [_skip(u, why[u.id], step) for u in narrowed if u.active]
    judge(group)
    seen = {s["id"] for s in skipped}
    skipped += [_skip(u, why[u.id], steps[-1] if steps else "round_robin") for u in group
                if why[u.id] is not None and u.id not in seen and (u.active or u.id in exclude)]
    available = [u for u in group if why[u.id] is None]
    if not available:
        return None, "nobody", skipped[:30], steps
    if last is None:
        last = dict(LeadRouting.select(LeadRouting.to_user, pw.fn.MAX(LeadRouting.id))
                    .where(LeadRouting.to_user.in_([u.id for u in available]) & LeadRouting.rule.in_(RR_RULES))
                    .group_by(LeadRouting.to_user).tuples())
    turn = dict(last)
    rewarded = rewarded_ids([u.id for u in available], now)
    if rewarded:
        # A quality reward (models/quality.py) doubles a rep's weight in the rotation: their turn counts from
        # their second-last rule-chosen routing, so they get two leads a round.
        for uid in rewarded:
            turn[uid] = (LeadRouting.select(pw.fn.MAX(LeadRouting.id)).where(
                (LeadRouting.to_user == uid) & LeadRouting.rule.in_(RR_RULES)
                & (LeadRouting.id < (last.get(uid) or 0))).scalar() or 0) if last.get(uid) else 0
    pick = min(available, key=lambda u: (turn.get(u.id) or 0, u.id))
    rule = steps[-1] if steps else "round_robin"  # the narrowest step that chose; the rotation picked within it
    steps.append("round_robin")
    return User.get_by_id(pick.id), rule, skipped[:30], steps


def preview_routing(settings, limit=30):
    """Who the given settings would route the waiting leads to, against the rule in force, changing
    nothing (the rotation advances in memory)."""
    now = clock.now()
    new, old = RoutingRules(settings, 0), routing_in_force(now)
    leads = list(Lead.select(Lead, Customer).join(Customer, on=(Lead.customer == Customer.id))
                 .where(Lead.status.in_(("new", "qualified", "sent_back", "routed")))
                 .order_by(Lead.id.desc()).limit(limit))
    rows, last_new, last_old, counter = [], None, None, [10 ** 12]

    def advance(last, rep, rule):
        if rep is not None and rule in RR_RULES:
            counter[0] += 1
            last[rep.id] = counter[0]

    for lead in leads:
        c = lead.customer
        if last_new is None:
            ids = [u.id for u in User.holding("sales", "manager", fields=(User.id,))]
            base = dict(LeadRouting.select(LeadRouting.to_user, pw.fn.MAX(LeadRouting.id))
                        .where(LeadRouting.to_user.in_(ids) & LeadRouting.rule.in_(RR_RULES))
                        .group_by(LeadRouting.to_user).tuples()) if ids else {}
            last_new, last_old = dict(base), dict(base)
        rep_new, rule_new, skipped_new, _ = plan_route(c, new, now, last=last_new)
        advance(last_new, rep_new, rule_new)
        rep_old, rule_old, _, _ = plan_route(c, old, now, last=last_old)
        advance(last_old, rep_old, rule_old)
        rows.append({"lead": lead, "customer": c, "new": rep_new, "new_rule": rule_new, "old": rep_old,
                     "old_rule": rule_old, "skipped": skipped_new,
                     "changed": (rep_new.id if rep_new else None) != (rep_old.id if rep_old else None)})
    return rows


# ---- intake ------------------------------------------------------------------------------------

def _lead_fields(data, e):
    source = (data.get("source") or "").strip()
    if source not in SOURCES:
        e.add("source", N_("Choose one of the options."))
    channel = (data.get("first_channel") or data.get("channel") or "").strip()
    if channel and channel not in CHANNELS:
        e.add("first_channel", N_("Choose one of the options."))
        channel = ""
    campaign = None
    if data.get("campaign_id"):
        campaign = Campaign.get_or_none(Campaign.id == (int_or_none(data.get("campaign_id")) or 0))
        if campaign is None:
            e.add("campaign_id", N_("Choose one of the options."))
    note = text_field(data, e, "note", NOTE_MAX, multiline=True)
    return source, channel, campaign, note


def _contact_values(data, e):
    """The enquirer as a contact (name, mobile, e-mail), checked by the contact rules; None if none given.
    Without a name the number or address stands in for it."""
    name = clean_text(data.get("contact_name"), 60)
    if name is None:
        e.add("contact_name", N_("At most %(n)s characters."), n=60)
        return None
    mobile, email = str(data.get("contact_mobile") or ""), str(data.get("contact_email") or "")
    name = name or clean_text(mobile, 60) or clean_text(email, 60)
    if not name:
        return None
    try:
        return customers.validate_contact(None, {"name": name, "mobile": mobile, "email": email})
    except ValidationError as exc:
        for field, problems in exc.errors.items():
            for message, params in problems:
                e.add("contact_" + field, message, **params)
        return None


def lead_matches(actor, data, exclude_id=None):
    """Existing customers like the lead: its credit code, its phone (else the enquirer's mobile), its name."""
    return find_matches(actor, name=data.get("name"), phone=data.get("phone") or data.get("contact_mobile"),
                        credit_code=data.get("credit_code"), exclude_id=exclude_id)


def intake_lead(actor, data, web_source=None, now=None, auto_attach=False):
    """A new lead: a customer file in marketing's hands (unidentified, unowned) with its source, campaign
    and first channel kept for life, the enquirer as a contact, and a Lead row in the queue. A lead that
    matches existing customers is refused with the matches (DuplicatesFound) unless `customer_id` names
    one of them (the lead attaches to it) or `duplicate_reason` says why it is new; `auto_attach` (the web
    form) attaches to the surest match by itself. All or nothing."""
    require(actor, "lead.intake")
    now = now or clock.now()
    e = FieldErrors()
    source, channel, campaign, note = _lead_fields(data, e)
    contact = _contact_values(data, e)
    attach_to = None
    if data.get("customer_id"):
        pk = int_or_none(data.get("customer_id"))
        ids = {m.id for m in lead_matches(actor, data)}
        if pk not in ids:  # only a match the check shows again, never any id
            e.add("customer_id", N_("Choose one of the customers found."))
        else:
            attach_to = pk
    values = None
    if attach_to is None:
        try:
            values = customers.validate_customer({**data, "source": source or "website",
                                                  "business_model": data.get("business_model") or "consumer",
                                                  "first_channel": channel})
        except ValidationError as exc:
            for field, problems in exc.errors.items():
                for message, params in problems:
                    e.add(field, message, **params)
    e.raise_if_any()
    if attach_to is None:
        matches = lead_matches(actor, data)
        sure = [m for m in matches if set(m.reasons) & {"credit_code", "phone", "name"}]
        if auto_attach and sure:
            attach_to = sure[0].id
        elif matches and not (clean_text(data.get("duplicate_reason"), 200) or "").strip():
            raise DuplicatesFound(matches)
    with db.atomic():
        if attach_to is None:
            customer = customers.create_customer(actor, {**data, "source": source, "first_channel": channel,
                                                         "business_model": values["business_model"]},
                                                 check_duplicates=False, as_lead=True)
            Customer.update(campaign_id=campaign.id if campaign else None).where(Customer.id == customer.id).execute()
            if contact:
                Contact.create(customer=customer.id, created_at=now, **contact)
                Customer.update(completeness=customers.compute_completeness(Customer.get_by_id(customer.id))).where(
                    Customer.id == customer.id).execute()
                search.index_customer(customer.id)
        else:
            customer = Customer.get_by_id(attach_to)
            if campaign and customer.campaign_id is None:
                Customer.update(campaign_id=campaign.id).where(Customer.id == customer.id).execute()
        lead = Lead.create(customer=customer.id, source=source, channel=channel, campaign=campaign, note=note,
                           web_source=web_source, new_customer=attach_to is None, created_at=now, created_by=actor,
                           status="new")
        audit.record("lead.created", actor, customer, lead_id=lead.id, source=source,
                     campaign=campaign.name if campaign else "", attached=attach_to is not None,
                     duplicate_reason=clean_text(data.get("duplicate_reason"), 200) or "")
    return lead


def new_token():
    return secrets.token_urlsafe(24)


def _token_hash(token):
    return hashlib.sha256(str(token).encode("utf-8", "replace")).hexdigest()


def save_source(actor, data, source=None):
    """Create a web-form source (returns (row, token): the token is shown once) or edit one."""
    require(actor, "lead_source.manage")
    e = FieldErrors()
    name = text_field(data, e, "name", 60, required=True)
    kind = (data.get("source") or "website").strip()
    if kind not in INTAKE_SOURCES:
        e.add("source", N_("Choose one of the options."))
    per_hour = int_or_none(data.get("per_hour") or 60)
    if per_hour is None or not 1 <= per_hour <= 10000:
        e.add("per_hour", N_("A whole number from %(lo)s to %(hi)s."), lo=1, hi=10000)
    campaign = None
    if data.get("campaign_id"):
        campaign = Campaign.get_or_none(Campaign.id == (int_or_none(data.get("campaign_id")) or 0))
        if campaign is None:
            e.add("campaign_id", N_("Choose one of the options."))
    clash = LeadSource.select().where(LeadSource.name == name)
    if source is not None:
        clash = clash.where(LeadSource.id != source.id)
    if name and clash.exists():
        e.add("name", N_("That name is taken."))
    e.raise_if_any()
    owner = actor if can(actor, "lead.intake") else None
    with db.atomic():
        if source is None:
            token = new_token()
            row = LeadSource.create(name=name, token_hash=_token_hash(token), token_hint=token[-4:], source=kind,
                                    campaign=campaign, owner=owner, per_hour=per_hour, created_at=clock.now())
            audit.record("lead.source_created", actor, source_id=row.id, name=name)
            return row, token
        LeadSource.update(name=name, source=kind, campaign=campaign, per_hour=per_hour,
                          active=str(data.get("active", "1")) in ("1", "on", "true")).where(
            LeadSource.id == source.id).execute()
        audit.record("lead.source_saved", actor, source_id=source.id, name=name)
        return LeadSource.get_by_id(source.id), None


def _throttle(key, limit, now, window=dt.timedelta(hours=1)):
    """Count one post against `key`; False once `limit` posts came within the window."""
    with db.atomic():
        row = IntakeThrottle.get_or_none(IntakeThrottle.key == key)
        if row is None:
            IntakeThrottle.create(key=key, window_start=now, count=1)
            return True
        if row.window_start <= now - window:
            IntakeThrottle.update(window_start=now, count=1).where(IntakeThrottle.key == key).execute()
            return True
        if row.count >= limit:
            return False
        IntakeThrottle.update(count=IntakeThrottle.count + 1).where(IntakeThrottle.key == key).execute()
        return True


WEB_FIELDS = {"name": 100, "phone": 30, "contact_name": 60, "contact_mobile": 30, "contact_email": 120,
              "note": NOTE_MAX, "city": 40, "website": 200, "credit_code": 30}
HONEYPOT = "homepage"  # a field people never see: a bot fills it in
SOURCE_CEILING = 20  # a source takes at most this many times its per-address limit an hour, all addresses together


def web_intake(token, data, address, now=None):
    """A post from a company website: the source's token, a flood guard per address and per source, a
    honeypot, length limits, then `intake_lead` as the source's marketing owner (attached to a sure match).
    Returns the Lead (None when the honeypot caught a bot, which is told nothing); refusals are
    IntakeRefused with the HTTP status and per-field errors."""
    now = now or clock.now()
    source = LeadSource.get_or_none(LeadSource.token_hash == _token_hash(token)) if token else None
    if source is None or not source.active:
        raise IntakeRefused(403, N_("Unknown or disabled form token."))
    owner = User.get_or_none(User.id == source.owner_id)
    if owner is None or not can(owner, "lead.intake"):
        raise IntakeRefused(403, N_("Unknown or disabled form token."))
    if not _throttle(f"{source.id}:{address or '-'}", source.per_hour, now) or \
            not _throttle(f"{source.id}:*", source.per_hour * SOURCE_CEILING, now):
        raise IntakeRefused(429, N_("Too many submissions: please try again later."))
    if str(data.get(HONEYPOT) or "").strip():
        return None
    e = FieldErrors()
    for field, limit in WEB_FIELDS.items():
        if len(str(data.get(field) or "")) > limit:
            e.add(field, N_("At most %(n)s characters."), n=limit)
    if not str(data.get("name") or "").strip():
        e.add("name", N_("Required."))
    if e:
        raise IntakeRefused(400, N_("Please correct the highlighted fields."), dict(e))
    clean = {k: str(data.get(k) or "") for k in WEB_FIELDS}
    clean.update(source=source.source, first_channel=source.channel or "",
                 campaign_id=source.campaign_id or "", duplicate_reason="web form")
    try:
        return intake_lead(owner, clean, web_source=source.id, now=now, auto_attach=True)
    except ValidationError as exc:
        raise IntakeRefused(400, N_("Please correct the highlighted fields."), exc.errors) from None


# ---- qualification ------------------------------------------------------------------------------

def get_lead(user, lead_id, action="lead.view"):
    lead = Lead.get_or_none(Lead.id == (int_or_none(lead_id) or 0))
    if lead is None:
        raise NotFound()
    require(user, action, lead)
    return lead


def judge_lead(actor, lead, verdict, reason="", nurture_list="", now=None):
    """Marketing's verdict on a lead: junk (with a reason; kept, searchable, restorable), prospect (into a
    nurture list) or qualified (routed at once by the rule; it waits as qualified if nobody has room)."""
    require(actor, "lead.judge", lead)
    now = now or clock.now()
    if verdict not in ("junk", "prospect", "qualified"):
        raise DomainError(N_("Choose one of the options."))
    reason = clean_text(reason, 200)
    nurture_list = clean_text(nurture_list, 40)
    if reason is None:
        raise ValidationError({"reason": [(N_("At most %(n)s characters."), {"n": 200})]})
    if nurture_list is None:
        raise ValidationError({"nurture_list": [(N_("At most %(n)s characters."), {"n": 40})]})
    if verdict == "junk" and not reason:
        raise ValidationError({"reason": [(N_("Say why it is junk."), {})]})
    with db.atomic():
        fresh(lead)
        require(actor, "lead.judge", lead)
        if lead.status not in QUEUE_STATUSES + ("prospect",):
            raise DomainError(N_("This lead has been judged already."))
        customer = Customer.get_by_id(lead.customer_id)
        if verdict == "junk":
            Lead.update(status="junk", junk_reason=reason, judged_at=now, next_touch_on=None).where(
                Lead.id == lead.id).execute()
            audit.record("lead.junked", actor, customer, lead_id=lead.id, reason=reason)
        elif verdict == "prospect":
            days = cadence_days(nurture_list or "", lead.touch_days)
            Lead.update(status="prospect", nurture_list=nurture_list or "", judged_at=now,
                        next_touch_on=clock.to_local(now).date() + dt.timedelta(days=days)).where(
                Lead.id == lead.id).execute()
            if customer.stage == "unidentified" and not customer.owner_id:
                customers.change_stage(actor, customer, "prospect", reason=reason)
            audit.record("lead.nurtured", actor, customer, lead_id=lead.id, nurture_list=nurture_list or "")
        else:
            Lead.update(status="qualified", qualified_at=now, judged_at=now, next_touch_on=None).where(
                Lead.id == lead.id).execute()
            audit.record("lead.qualified", actor, customer, lead_id=lead.id)
            route_lead(actor, fresh(lead), now=now)
    return fresh(lead)


def restore_lead(actor, lead):
    """A junked or nurtured lead back into the queue, to be judged again."""
    require(actor, "lead.judge", lead)
    with db.atomic():
        fresh(lead)
        if lead.status not in ("junk", "prospect"):
            raise DomainError(N_("Only junk and nurtured leads can be restored."))
        Lead.update(status="new", judged_at=None, next_touch_on=None).where(Lead.id == lead.id).execute()
        audit.record("lead.restored", actor, lead.customer_id, lead_id=lead.id, was=lead.status)
    return fresh(lead)


def bulk_judge(actor, ids, verdict, reason="", nurture_list=""):
    """The verdict on several leads, each in its own transaction: {"done": [...], "refused": [(id, message, params)]}."""
    done, refused = [], []
    for pk in ids[:200]:
        try:
            lead = get_lead(actor, pk, "lead.judge")
            judge_lead(actor, lead, verdict, reason, nurture_list)
            done.append(lead.id)
        except ValidationError as exc:
            (message, params), = next(iter(exc.errors.values()))[:1]
            refused.append((pk, message, params))
        except DomainError as exc:
            refused.append((pk, exc.message, exc.params))
    return {"done": done, "refused": refused}


# ---- nurture lists: due for a touch ----------------------------------------------------------------

NURTURE_DAYS = 30  # a list without a cadence of its own
CADENCE_MAX = 365
TOUCH_NOTE_MAX = 500


def cadence_days(nurture_list, own=None):
    """Days between touches: the lead's own cadence, else its list's, else NURTURE_DAYS."""
    if own:
        return own
    days = NurtureList.select(NurtureList.cadence_days).where(NurtureList.name == nurture_list).scalar() \
        if nurture_list else None
    return days or NURTURE_DAYS


def _parse_days(raw, field, allow_empty=False):
    text = str(raw if raw is not None else "").strip()
    if not text and allow_empty:
        return None
    days = int_or_none(text)
    if days is None or not 1 <= days <= CADENCE_MAX:
        raise ValidationError({field: [(N_("A whole number from %(lo)s to %(hi)s."), {"lo": 1, "hi": CADENCE_MAX})]})
    return days


def log_touch(actor, lead, note, now=None):
    """Marketing touched a nurtured prospect (a call, a mailing, an event invitation): the touch is on the
    customer's timeline and the next one moves to today + the cadence."""
    require(actor, "lead.judge", lead)
    now = now or clock.now()
    note = clean_text(note, TOUCH_NOTE_MAX, multiline=True)
    if note is None:
        raise ValidationError({"note": [(N_("At most %(n)s characters."), {"n": TOUCH_NOTE_MAX})]})
    if len(note) < 4:
        raise ValidationError({"note": [(N_("Say how you touched the prospect."), {})]})
    with db.atomic():
        fresh(lead)
        require(actor, "lead.judge", lead)
        if lead.status != "prospect":
            raise DomainError(N_("Only nurtured leads are touched."))
        due = clock.to_local(now).date() + dt.timedelta(days=cadence_days(lead.nurture_list, lead.touch_days))
        Lead.update(touched_at=now, next_touch_on=due).where(Lead.id == lead.id).execute()
        audit.record("lead.touched", actor, lead.customer_id, lead_id=lead.id, note=note, next=due.isoformat())
    return fresh(lead)


def set_lead_cadence(actor, lead, days):
    """A lead's own touch cadence (empty: its list's again); the next touch counts from the last one."""
    require(actor, "lead.judge", lead)
    days = _parse_days(days, "touch_days", allow_empty=True)
    with db.atomic():
        fresh(lead)
        if lead.status != "prospect":
            raise DomainError(N_("Only nurtured leads are touched."))
        Lead.update(touch_days=days, next_touch_on=_next_touch(lead, cadence_days(lead.nurture_list, days))).where(
            Lead.id == lead.id).execute()
        audit.record("lead.cadence_set", actor, lead.customer_id, lead_id=lead.id, days=days)
    return fresh(lead)


def _next_touch(lead, days):
    since = lead.touched_at or lead.judged_at or lead.created_at
    return clock.to_local(since).date() + dt.timedelta(days=days)


def save_nurture_cadence(actor, name, days):
    """A nurture list's cadence (marketing, admins): its prospects without a cadence of their own are due
    `days` after their last touch (or their verdict)."""
    require(actor, "lead.queue")
    name = clean_text(name, 40)
    if not name:
        raise ValidationError({"nurture_list": [(N_("Required."), {})] if name == "" else
                               [(N_("At most %(n)s characters."), {"n": 40})]})
    days = _parse_days(days, "cadence_days")
    now = clock.now()
    with db.atomic():
        if NurtureList.update(cadence_days=days, updated_by=actor.id, updated_at=now).where(
                NurtureList.name == name).execute() == 0:
            NurtureList.create(name=name, cadence_days=days, updated_by=actor.id, updated_at=now)
        members = (Lead.select(Lead.id, Lead.touched_at, Lead.judged_at, Lead.created_at)
                   .where((Lead.status == "prospect") & (Lead.nurture_list == name) & Lead.touch_days.is_null()))
        moves = {}
        for lead in members.iterator():
            moves.setdefault(_next_touch(lead, days), []).append(lead.id)
        for due, ids in moves.items():
            for start in range(0, len(ids), 500):
                Lead.update(next_touch_on=due).where(Lead.id.in_(ids[start:start + 500])).execute()
        audit.record("lead.nurture_cadence", actor, None, nurture_list=name, days=days,
                     leads=sum(len(v) for v in moves.values()))
    return NurtureList.get(NurtureList.name == name)


def due_for_touch(on=None):
    """Nurtured prospects whose next touch is on or before `on` (today), the most overdue first: a query
    over the (status, next_touch_on, id) index."""
    on = on or clock.today()
    return Lead.select().where((Lead.status == "prospect") & (Lead.next_touch_on <= on))


def nurture_lists():
    """(name, cadence days, prospects on it) of every list in use or with a cadence."""
    counts = dict(Lead.select(Lead.nurture_list, pw.fn.COUNT(Lead.id)).where(
        (Lead.status == "prospect") & (Lead.nurture_list != "")).group_by(Lead.nurture_list).tuples())
    cadence = {n.name: n.cadence_days for n in NurtureList.select()}
    return [(name, cadence.get(name, NURTURE_DAYS), counts.get(name, 0)) for name in sorted(set(counts) | set(cadence))]


# ---- routing -----------------------------------------------------------------------------------

def calendar():
    return WorkingCalendar()


def _fmt_local(value):
    return clock.to_local(value).strftime("%Y-%m-%d %H:%M") if value else ""


def route_lead(actor, lead, now=None, to_user=None, reason="", exclude=()):
    """Give the lead to a rep: by the rule in force, or to `to_user` by hand (marketing's override or the
    manager's re-route, with a reason). An unowned customer becomes the rep's (target stage, out of any
    pool, release clock started); the rep must answer within the response hours of working time. One
    ledger row says which rule chose whom and why the others were skipped; nobody available leaves the
    lead qualified (the ledger row says why). Runs inside the caller's transaction or its own."""
    require(actor, "lead.reroute" if lead.status == "routed" or to_user is not None else "lead.judge", lead)
    return _route(actor, lead, now, to_user, reason, exclude, check=True)


def _route(actor, lead, now=None, to_user=None, reason="", exclude=(), check=True):
    """route_lead's work; `check=False` for a verb that answered for the actor itself (an inbound lead)."""
    now = now or clock.now()
    reason = clean_text(reason, 300)
    if reason is None:
        raise ValidationError({"reason": [(N_("At most %(n)s characters."), {"n": 300})]})
    if to_user is not None and not reason:
        raise ValidationError({"reason": [(N_("Say why you choose the rep by hand."), {})]})
    rs = routing_in_force(now)
    with db.atomic():
        fresh(lead)
        if lead.status not in ("qualified", "routed", "sent_back", "new"):
            raise DomainError(N_("This lead is no longer waiting to be routed."))
        if check:
            require(actor, "lead.reroute" if lead.status == "routed" or to_user is not None else "lead.judge", lead)
        customer = Customer.get_by_id(lead.customer_id)
        previous = lead.routed_to_id
        if previous and lead.status == "routed":
            exclude = set(exclude) | {previous}
        if to_user is not None:
            fresh(to_user)
            prules = pool_rules.in_force(now)
            why = _why_not(to_user, _room([to_user], prules, now), set(), set()) if to_user.sells else "deactivated"
            if why == "deactivated":
                raise ValidationError({"to_user_id": [(N_("Choose an active colleague."), {})]})
            if why == "full" and customer.owner_id != to_user.id:
                raise ValidationError({"to_user_id": [(N_("%(name)s's private pool is full."), {"name": to_user.full_name})]})
            rep, rule, skipped, steps = to_user, "manual", [], ["manual"]
        else:
            rep, rule, skipped, steps = plan_route(customer, rs, now, exclude=exclude)
        owner_before = customer.owner_id
        if rep is None and previous and lead.status == "routed":  # the silent rep keeps it until someone is found
            raise DomainError(N_("No rep is available by the rule: choose one by hand."))
        if rep is not None and owner_before and owner_before != rep.id and not (lead.made_owner and owner_before == previous):
            raise DomainError(N_("%(name)s belongs to another rep: the lead goes to its owner, or transfer the customer first."),
                              name=customer.name)
        if previous and lead.routing_id:  # the earlier routing ends unanswered
            LeadRouting.update(response="rerouted", responded_at=now).where(
                (LeadRouting.id == lead.routing_id) & (LeadRouting.response == "")).execute()
        cal = calendar()
        due = cal.add(now, rs["response_hours"]) if rep else None
        warn = cal.add(now, rs["response_hours"] - rs["warning_hours"]) if rep and rs["warning_hours"] else None
        routing = LeadRouting.create(lead=lead.id, at=now, actor=actor, to_user=rep, team=rep.team_id if rep else None,
                                     rule=rule, rule_version=rs.version, skipped=skipped, reason=reason, due_at=due)
        made_owner = False
        from_pool = customer.pool_id
        if rep is not None and customer.owner_id != rep.id:
            _give(actor, customer, rep, now, reason or RULE_LABELS[rule])
            made_owner = True
        elif rep is not None:
            made_owner = lead.made_owner and owner_before == rep.id
        if rep is None:
            Lead.update(status="qualified", routing_id=routing.id, routed_to=None, team=None, due_at=None, warn_at=None,
                        made_owner=False).where(Lead.id == lead.id).execute()
        else:
            Lead.update(status="routed", routing_id=routing.id, routed_to=rep.id, team=rep.team_id, routed_at=now,
                        due_at=due, warn_at=warn, warned_at=None, escalated_at=None, escalated_to=None,
                        made_owner=made_owner).where(Lead.id == lead.id).execute()
        inputs = {"lead": lead.id, "rule": rule, "steps": steps, "skipped": skipped, "routing_version": rs.version,
                  "due_at": due.isoformat(sep=" ") if due else None, "region": customer.region_id,
                  "industry": customer.industry_id}
        if made_owner and owner_before is None:
            inputs["new_owner"] = True  # a new customer for the rep (perf_tables.rebuild reads it)
        ledger.record("lead_routed", actor, customer, now, rs, from_owner=owner_before if made_owner else None,
                      to_owner=rep.id if rep else None, from_pool=from_pool if made_owner else None, reason=reason,
                      inputs=inputs)
        audit.record("lead.routed", actor, customer, lead_id=lead.id, rule=rule, reason=reason,
                     to=rep.full_name if rep else None, to_id=rep.id if rep else None,
                     skipped=[[s["name"], s["why"]] for s in skipped[:10]], due_at=_fmt_local(due))
        if rep is not None:
            notify(rep.id, "lead", N_("New lead %(name)s for you: accept it or send it back by %(due)s."),
                   customer.id, name=customer.name, due=_fmt_local(due))
    return fresh(lead)


def log_inbound_lead(actor, customer, note, now=None):
    """An enquiry from a known customer (a call, a visit, service's repurchase lead): a lead on its file,
    routed at once by the rule in force like every lead (its owner, else its staker, else region → industry →
    round-robin; nobody available leaves it qualified in marketing's queue), with the routing's ledger row and
    the rep's response deadline. Returns the lead."""
    require(actor, "lead.route", customer)
    note = clean_text(note, NOTE_MAX)
    if note is None:
        raise ValidationError({"note": [(N_("At most %(n)s characters."), {"n": NOTE_MAX})]})
    if len(note) < 4:
        raise ValidationError({"note": [(N_("Say what the customer asked for."), {})]})
    with db.atomic():
        return _inbound(actor, customer.id, note, now or clock.now())


def _inbound(actor, customer_id, note, now, repurchase=False):
    customer = Customer.get_by_id(customer_id)
    lead = Lead.create(customer=customer.id, source="inbound_call", channel="", campaign=customer.campaign_id,
                       note=note, status="qualified", new_customer=False, created_at=now, created_by=actor,
                       judged_at=now, qualified_at=now)
    audit.record("lead.created", actor, customer, lead_id=lead.id, source=lead.source, note=note, attached=True,
                 repurchase=repurchase)
    return _route(actor, lead, now, check=False)


def _repurchase_lead(actor, customer_id, note, now):
    """hooks "inbound_lead": service's repurchase lead goes through the same routing."""
    _inbound(actor, customer_id, note, now, repurchase=True)


hooks.on("inbound_lead", _repurchase_lead)


def route_imported(actor, customer_ids, now, job_id=None):
    """An import's new customers through the routing rules, inside the chunk's transaction: each gets a
    qualified lead (source "import") routed by the rule in force like marketing's (`route_lead`: the ledger
    row naming the rule and the skipped reps, the deadline, the rep's notice). A customer nobody can take
    keeps its lead qualified in marketing's queue; the caller places it (its home pool). Returns the
    number routed to a rep."""
    require(actor, "lead.queue")
    ids = list(customer_ids)
    if not ids:
        return 0
    found = (Customer.select(Customer.id, Customer.source, Customer.first_channel, Customer.campaign_id)
             .where(Customer.id.in_(ids)).order_by(Customer.id))
    defaults = Lead().__data__
    rows = [{**defaults, "customer": c.id, "source": c.source or "import", "channel": c.first_channel or "",
             "campaign": c.campaign_id, "status": "qualified", "new_customer": True, "created_at": now,
             "created_by": actor.id, "judged_at": now, "qualified_at": now} for c in found]
    lead_ids = bulk_insert(Lead, rows, new_ids=True)
    bulk_insert(audit.AuditEvent, [dict(at=now, actor=actor.id, customer=row["customer"], kind="lead.created",
                                        data={"lead_id": lead_id, "source": row["source"], "import_job": job_id})
                                   for lead_id, row in zip(lead_ids, rows)])
    routed = 0
    for lead in Lead.select().where(Lead.id.in_(lead_ids)).order_by(Lead.id):
        routed += route_lead(actor, lead, now=now).status == "routed"
    return routed


def _give(actor, customer, rep, now, why):
    """The routed customer becomes the rep's (inside route_lead's transaction)."""
    old_owner = customer.owner_id
    stage = "target" if customer.stage in MARKETING_STAGES else customer.stage
    Customer.update(owner=rep.id, team=rep.team_id, pool=None, claimed_at=now, staked_by=None, stake_due=None,
                    stage=stage, grade=GRADE_OF_STAGE.get(stage, ""), updated_at=now,
                    stage_changed_at=now if stage != customer.stage else customer.stage_changed_at).where(
        Customer.id == customer.id).execute()
    if stage != customer.stage:
        perf.stage_changed(Customer.get_by_id(customer.id), customer.stage, stage, now, customer.stage_changed_at, actor)
        StageChange.create(customer=customer.id, from_stage=customer.stage, to_stage=stage, at=now, actor=actor,
                           owner_id=rep.id)
    if old_owner is None:
        perf.customer_given(rep.id, rep.team_id, now)
    pools.refresh_release(Customer.get_by_id(customer.id), now=now)
    hooks.fire("owner_changed", actor, [customer.id], old_owner, rep.id, why)


# ---- the rep's answer ---------------------------------------------------------------------------

def _answer(lead, now, response):
    routed = LeadRouting.get_or_none(LeadRouting.id == lead.routing_id)
    minutes, late = None, False
    if lead.routed_at:
        minutes = int(calendar().between(lead.routed_at, now).total_seconds() // 60)
        late = lead.due_at is not None and now >= lead.due_at
    if routed is not None:
        LeadRouting.update(responded_at=now, response=response, minutes=minutes, late=late).where(
            LeadRouting.id == routed.id).execute()
        if routed.to_user_id and minutes is not None and response != "rerouted":
            perf.lead_answered(routed.to_user_id, routed.team_id, now, minutes, late)
    return minutes, late


def accept_lead(actor, lead, now=None, how="accepted"):
    """The rep (or their delegate) takes the lead on: explicitly, or by a valid follow-up after routing."""
    require(actor, "lead.respond", lead)
    now = now or clock.now()
    with db.atomic():
        fresh(lead)
        require(actor, "lead.respond", lead)
        minutes, late = _answer(lead, now, how)
        Lead.update(status="accepted", accepted_at=now).where(Lead.id == lead.id).execute()
        audit.record("lead.accepted", actor, lead.customer_id, lead_id=lead.id, how=how, minutes=minutes, late=late)
    return fresh(lead)


def send_back(actor, lead, reason, now=None):
    """The rep sends the lead back to marketing as "still a prospect", with a reason: a customer the routing
    gave them returns to marketing (prospect, no owner, no pool); a known customer stays where it is."""
    require(actor, "lead.respond", lead)
    now = now or clock.now()
    reason = clean_text(reason, 300)
    if reason is None:
        raise ValidationError({"reason": [(N_("At most %(n)s characters."), {"n": 300})]})
    if len(reason) < 4:
        raise ValidationError({"reason": [(N_("Say why it is still a prospect."), {})]})
    with db.atomic():
        fresh(lead)
        require(actor, "lead.respond", lead)
        customer = Customer.get_by_id(lead.customer_id)
        minutes, late = _answer(lead, now, "sent_back")
        rep = lead.routed_to_id
        if lead.made_owner and customer.owner_id == rep and not lead.new_customer:
            # a known customer the routing took from its pool goes back there, its stage kept
            Customer.update(owner=None, team=None, claimed_at=None, release_at=None, release_rule="",
                            updated_at=now).where(Customer.id == customer.id).execute()
            hooks.fire("owner_changed", actor, [customer.id], rep, None, reason)
            pools.place_orphan(actor, customer.id, now, why=reason)
        elif lead.made_owner and customer.owner_id == rep:
            perf.stage_changed(customer, customer.stage, "prospect", now, customer.stage_changed_at, actor)
            Customer.update(owner=None, team=None, pool=None, stage="prospect", grade=GRADE_OF_STAGE["prospect"],
                            claimed_at=None, release_at=None, release_rule="", updated_at=now,
                            stage_changed_at=now).where(Customer.id == customer.id).execute()
            StageChange.create(customer=customer.id, from_stage=customer.stage, to_stage="prospect", at=now,
                               actor=actor, owner_id=rep)
            hooks.fire("owner_changed", actor, [customer.id], rep, None, reason)
        Lead.update(status="sent_back", sent_back_at=now, sent_back_reason=reason, made_owner=False).where(
            Lead.id == lead.id).execute()
        ledger.record("lead_sent_back", actor, customer, now, routing_in_force(now),
                      from_owner=rep if lead.made_owner else None, reason=reason,
                      inputs={"lead": lead.id, "minutes": minutes, "late": late})
        audit.record("lead.sent_back", actor, customer, lead_id=lead.id, reason=reason, minutes=minutes, late=late)
        if lead.created_by_id and lead.created_by_id != actor.id:
            notify(lead.created_by_id, "lead", N_("%(rep)s sent back %(name)s: %(reason)s"), customer.id,
                   rep=actor.full_name, name=customer.name, reason=reason)
    return fresh(lead)


def _followup_accepts(customer, now):
    """customer_changed: the owner's valid follow-up after the routing accepts a waiting lead."""
    if not customer.owner_id or customer.last_valid_followup_at is None:
        return
    waiting = Lead.select().where((Lead.customer == customer.id) & (Lead.status == "routed")
                                  & (Lead.routed_to == customer.owner_id)
                                  & (Lead.routed_at <= customer.last_valid_followup_at))
    for lead in waiting:
        _answer(lead, now, "followup")
        Lead.update(status="accepted", accepted_at=now).where(Lead.id == lead.id).execute()
        audit.record("lead.accepted", customer.owner_id, customer.id, lead_id=lead.id, how="followup")


hooks.on("customer_changed", _followup_accepts)


# ---- the deadline sweep --------------------------------------------------------------------------

def _manager_of(team_id, rep_id):
    manager = Team.select(Team.manager).where(Team.id == team_id).scalar() if team_id else None
    if manager and manager != rep_id and User.select().where((User.id == manager) & (User.active == True)).exists():  # noqa: E712
        return [manager], manager
    return [u.id for u in User.holding("admin", fields=(User.id,))], None


def sweep(now=None, batch=500):
    """Reminders before the deadline and escalations at it. Idempotent: each lead is reminded once and
    escalated once per routing (conditional updates on warned_at / escalated_at)."""
    now = now or clock.now()
    warned = escalated = 0
    for lead in list(Lead.select().where((Lead.status == "routed") & (Lead.warn_at <= now) & Lead.warned_at.is_null()
                                         & (Lead.due_at > now)).limit(batch)):
        with db.atomic():
            if Lead.update(warned_at=now).where((Lead.id == lead.id) & Lead.warned_at.is_null()
                                                & (Lead.status == "routed")).execute():
                name = Customer.select(Customer.name).where(Customer.id == lead.customer_id).scalar()
                notify(lead.routed_to_id, "lead_due", N_("Lead %(name)s waits for your answer until %(due)s."),
                       lead.customer_id, dedupe_key=f"lead-warn:{lead.routing_id}", name=name, due=_fmt_local(lead.due_at))
                warned += 1
    rs = routing_in_force(now)
    for lead in list(Lead.select().where((Lead.status == "routed") & (Lead.due_at <= now)
                                         & Lead.escalated_at.is_null()).limit(batch)):
        with db.atomic():
            recipients, manager = _manager_of(lead.team_id, lead.routed_to_id)
            if not Lead.update(escalated_at=now, escalated_to=manager).where(
                    (Lead.id == lead.id) & Lead.escalated_at.is_null() & (Lead.status == "routed")).execute():
                continue
            LeadRouting.update(escalated_at=now, late=True).where(LeadRouting.id == lead.routing_id).execute()
            customer = Customer.get_by_id(lead.customer_id)
            rep = User.get_or_none(User.id == lead.routed_to_id)
            ledger.record("lead_escalated", None, customer, now, rs, subject=lead.routed_to_id,
                          reason="response deadline passed",
                          inputs={"lead": lead.id, "due_at": lead.due_at.isoformat(sep=" "), "to": manager})
            audit.record("lead.escalated", None, customer, lead_id=lead.id, rep=rep.full_name if rep else "",
                         due_at=_fmt_local(lead.due_at))
            for uid in recipients:
                notify(uid, "lead_escalated", N_("%(rep)s did not answer lead %(name)s by %(due)s: re-route it."),
                       customer.id, dedupe_key=f"lead-esc:{lead.routing_id}:{uid}", rep=rep.full_name if rep else "",
                       name=customer.name, due=_fmt_local(lead.due_at))
            escalated += 1
    IntakeThrottle.delete().where(IntakeThrottle.window_start < now - dt.timedelta(days=1)).execute()
    return {"warned": warned, "escalated": escalated}


hooks.on("sweep", sweep, name="leads")


# ---- reading ------------------------------------------------------------------------------------

def countdown(lead, now=None):
    """Working minutes left to the deadline (negative when past), for the countdown on the screens."""
    if lead.due_at is None:
        return None
    now = now or clock.now()
    return int(calendar().between(now, lead.due_at).total_seconds() // 60)


def response_times(since, until, by="rep"):
    """Per rep (or team): leads routed in [since, until), answered, on time, late (answered late or
    escalated), still open, and the mean working hours to an answer."""
    key = LeadRouting.to_user if by == "rep" else LeadRouting.team
    rows = (LeadRouting.select(key.alias("k"), pw.fn.COUNT(LeadRouting.id).alias("n"),
                               pw.fn.SUM(pw.Case(None, [(LeadRouting.responded_at.is_null(False) & (LeadRouting.response != "rerouted"), 1)], 0)).alias("answered"),
                               pw.fn.SUM(pw.Case(None, [(LeadRouting.late == True, 1)], 0)).alias("late"),  # noqa: E712
                               pw.fn.AVG(LeadRouting.minutes).alias("avg"))
            .where((LeadRouting.at >= since) & (LeadRouting.at < until) & LeadRouting.to_user.is_null(False))
            .group_by(key).dicts())
    out = []
    for r in rows:
        n, late, answered = r["n"] or 0, r["late"] or 0, r["answered"] or 0
        out.append({"key": r["k"], "routed": n, "answered": answered, "late": late, "on_time": max(0, n - late) if n else 0,
                    "avg_hours": round((r["avg"] or 0) / 60, 1) if r["avg"] is not None else None})
    names = {}
    ids = [r["key"] for r in out if r["key"]]
    if ids:
        model = User if by == "rep" else Team
        names = {x.id: (x.full_name if by == "rep" else x.name) for x in model.select().where(model.id.in_(ids))}
    for r in out:
        r["name"] = names.get(r["key"], "–")
    return sorted(out, key=lambda r: (-(r["late"] / r["routed"] if r["routed"] else 0), r["name"]))


def queue_counts_by_age(now=None):
    """Marketing's queue today: leads to judge by age (under a day, 1–3 days, older)."""
    now = now or clock.now()
    day, three = now - dt.timedelta(days=1), now - dt.timedelta(days=3)

    def count(condition):
        return pw.fn.COALESCE(pw.fn.SUM(pw.Case(None, [(condition, 1)], 0)), 0)
    fresh, days, old = Lead.select(count(Lead.created_at > day), count((Lead.created_at <= day) & (Lead.created_at > three)),
                                   count(Lead.created_at <= three)).where(Lead.status.in_(QUEUE_STATUSES)).scalar(as_tuple=True)
    return {"fresh": fresh, "days": days, "old": old}
