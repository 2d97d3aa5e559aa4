"""Service (domain §10): tickets with an SLA counted in working hours, their status flow, comments,
resolution and satisfaction; the breach sweep that escalates to the service manager; repurchase
leads raised by service staff for the owning rep.

Service level (until value tiers exist): a customer is a *key account* when its business model is
key account, or its grade is A (signed / long-term), or it has 500 staff or more. Everyone else is
*standard*. The SLA targets (response and resolution, in working hours) come from an admin table
indexed by that level and the ticket's priority.
"""
import datetime as dt

import peewee as pw

from models import audit, clock, hooks, permissions
from models import value as value_mod
from models.base import BaseModel, JSONField, db
from models.customers import Contact, Customer
from models.lead_tables import Lead, LeadRouting
from models.fields import DATE_MAX, FieldError, clean_text, int_or_none, parse_date, parse_int, take
from models.errors import N_, DomainError, NotFound, ValidationError, FieldErrors
from models.notifications import notify
from models.permissions import can, require
from models.users import Team, User
from models.service_tables import (  # noqa: F401  re-exported: models.service.WorkingCalendar etc.
    DEFAULTS, ServiceSettings, WorkingCalendar, _hhmm, service_settings)

# ---- vocabularies -----------------------------------------------------------------------------

CHANNELS = ("hotline", "email", "visit", "wechat")
CHANNEL_LABELS = {"hotline": N_("Hotline"), "email": N_("E-mail"), "visit": N_("Visit"), "wechat": N_("WeChat")}
CATEGORIES = ("fault", "complaint", "consultation", "request")
CATEGORY_LABELS = {"fault": N_("Fault"), "complaint": N_("Complaint"), "consultation": N_("Consultation"),
                   "request": N_("Request")}
PRIORITIES = ("urgent", "high", "normal", "low")
PRIORITY_LABELS = {"urgent": N_("Urgent"), "high": N_("High"), "normal": N_("Normal"), "low": N_("Low")}
LEVELS = ("key", "standard")
LEVEL_LABELS = {"key": N_("Key account"), "standard": N_("Standard")}
STATUSES = ("new", "assigned", "in_progress", "waiting", "resolved", "closed")
STATUS_LABELS = {"new": N_("New"), "assigned": N_("Assigned"), "in_progress": N_("In progress"),
                 "waiting": N_("Waiting for customer"), "resolved": N_("Resolved"), "closed": N_("Closed")}
OPEN_STATUSES = ("new", "assigned", "in_progress", "waiting")

# The moves the status flow allows (assigning is its own verb; reopening a closed ticket too).
TRANSITIONS = {
    "new": ("assigned", "in_progress"),  # straight to work when the agent takes it (assigned to them)
    "assigned": ("in_progress",),
    "in_progress": ("waiting", "resolved"),
    "waiting": ("in_progress", "resolved"),
    "resolved": ("closed", "in_progress"),
    "closed": (),
}
# Moves that count as the first response to the customer.
RESPONDING = ("in_progress", "waiting", "resolved")

KEY_SIZES = ("large", "xlarge")

MAX_SLA_HOURS = 2000


class Ticket(BaseModel):
    customer = pw.ForeignKeyField(Customer, on_delete="CASCADE", index=False, backref="tickets")
    contact = pw.ForeignKeyField(Contact, null=True, on_delete="SET NULL", index=False)
    contact_text = pw.CharField(max_length=100, default="")  # who called and how to reach them
    channel = pw.CharField(max_length=10)
    category = pw.CharField(max_length=15)
    priority = pw.CharField(max_length=10)
    level = pw.CharField(max_length=10)  # the customer's service level when the ticket was logged
    status = pw.CharField(max_length=12, default="new")
    description = pw.TextField()
    created_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
    assignee = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="tickets")
    created_at = pw.DateTimeField()
    updated_at = pw.DateTimeField()
    respond_by = pw.DateTimeField()
    resolve_by = pw.DateTimeField()
    responded_at = pw.DateTimeField(null=True)
    resolved_at = pw.DateTimeField(null=True)
    closed_at = pw.DateTimeField(null=True)
    breached = pw.BooleanField(default=False)
    breach_kind = pw.CharField(max_length=12, default="")  # response / resolution (the first one missed)
    breach_due = pw.DateTimeField(null=True)  # that deadline (a reopen moves resolve_by on; this stays)
    escalated_at = pw.DateTimeField(null=True)
    resolution = pw.TextField(default="")
    satisfaction = pw.SmallIntegerField(null=True)
    reopened = pw.SmallIntegerField(default=0)

    class Meta:
        indexes = (
            (("status", "id"), False), (("assignee", "status", "resolve_by"), False), (("assignee", "id"), False),
                (("status", "assignee", "id"), False), (("status", "breached", "id"), False),
            (("priority", "id"), False), (("category", "id"), False), (("breached", "id"), False),
            (("customer", "id"), False), (("status", "resolve_by"), False), (("status", "respond_by"), False),
            (("resolved_at",), False), (("category", "resolved_at"), False),
        )

    @property
    def is_open(self):
        return self.status in OPEN_STATUSES

    @property
    def excerpt(self):
        text = " ".join(self.description.split())
        return text if len(text) <= 60 else text[:59] + "…"


# The satisfaction trend reads each week's rated tickets from this index alone (resolved_at, satisfaction),
# never the ticket rows: a quarter's ~30,000 resolutions at 1M customers (0049).
Ticket.add_index(Ticket.index(Ticket.resolved_at, Ticket.satisfaction, where=Ticket.satisfaction.is_null(False),
                              name="ticket_rated"))


class TicketComment(BaseModel):
    ticket = pw.ForeignKeyField(Ticket, on_delete="CASCADE", index=False, backref="comments")
    author = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False)
    at = pw.DateTimeField()
    body = pw.TextField()
    internal = pw.BooleanField(default=True)  # internal note, or said to / sent to the customer
    kind = pw.CharField(max_length=12, default="comment")  # comment, or a status change's note

    class Meta:
        indexes = ((("ticket", "id"), False),)


class RepurchaseLead(BaseModel):
    """A repurchase lead (再购买线索) raised by service from a ticket or a care visit, for the rep who
    owns the customer (or the staker, or the customer's pool when nobody holds it)."""
    customer = pw.ForeignKeyField(Customer, on_delete="CASCADE", index=False)
    source = pw.CharField(max_length=10)  # ticket / care
    ticket = pw.ForeignKeyField(Ticket, null=True, on_delete="SET NULL", index=False)
    care_plan = pw.IntegerField(null=True)  # models.care.CarePlan id (care imports this module)
    raised_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
    routed_to = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="repurchase_leads")
    via = pw.CharField(max_length=10)  # owner / staker / pool
    pool = pw.IntegerField(null=True)
    note = pw.CharField(max_length=300)
    created_at = pw.DateTimeField()

    class Meta:
        indexes = ((("routed_to", "id"), False), (("created_at",), False), (("customer", "id"), False),
                       (("ticket",), False))


SOURCE_LABELS = {"ticket": N_("Service ticket"), "care": N_("Care visit")}


# ---- settings ---------------------------------------------------------------------------------

def validate_service_settings(data):
    """Form data to settings, or ValidationError per field. `data` maps field names to strings
    (workdays: a list of weekday numbers; holidays: dates separated by commas, spaces or lines)."""
    e = FieldErrors()
    out = {}
    days = data.get("workdays") or []
    if isinstance(days, str):
        days = [days]
    try:
        workdays = sorted({int(d) for d in days})
    except (TypeError, ValueError):
        workdays = []
    if not workdays or any(d < 0 or d > 6 for d in workdays):
        e.add("workdays", N_("Choose at least one working day."))
    out["workdays"] = workdays
    start, end = _hhmm(data.get("day_start")), _hhmm(data.get("day_end"))
    if start is None:
        e.add("day_start", N_("A time like 09:00."))
    if end is None:
        e.add("day_end", N_("A time like 09:00."))
    if start and end and end <= start:
        e.add("day_end", N_("The working day must end after it starts."))
    out["day_start"] = start.strftime("%H:%M") if start else ""
    out["day_end"] = end.strftime("%H:%M") if end else ""
    holidays = []
    raw = clean_text(str(data.get("holidays") or "").replace(",", " ").replace("，", " "), 4000, multiline=True)
    for token in (raw or "").split():
        try:
            day = parse_date(token, dt.date(2000, 1, 1), DATE_MAX)
        except FieldError:
            e.add("holidays", N_("Not a date: %(value)s (use 2026-10-01)."), value=token[:20])
            break
        holidays.append(day.isoformat())
    if raw is None:
        e.add("holidays", N_("At most %(n)s characters."), n=4000)
    out["holidays"] = sorted(set(holidays))
    for name, lo, hi in (("reopen_days", 0, 365), ("lead_conversion_days", 1, 730)):
        out[name] = take(e, name, parse_int, data.get(name), lo, hi)
    sla = {}
    for level in LEVELS:
        sla[level] = {}
        for priority in PRIORITIES:
            pair = []
            for kind in ("response", "resolution"):
                field = f"sla_{level}_{priority}_{kind}"
                try:
                    hours = float(str(data.get(field, "")).strip())
                    if not (0 < hours <= MAX_SLA_HOURS) or hours * 60 != int(hours * 60):
                        raise ValueError
                except (TypeError, ValueError, OverflowError):
                    e.add(field, N_("Hours from 0.5 to %(n)s."), n=MAX_SLA_HOURS)
                    hours = None
                pair.append(hours)
            if None not in pair and pair[1] < pair[0]:
                e.add(f"sla_{level}_{priority}_resolution", N_("Resolution cannot come before the response."))
            sla[level][priority] = [int(h) if h is not None and h == int(h) else h for h in pair]
    out["sla"] = sla
    e.raise_if_any()
    return out


def save_service_settings(actor, data):
    """The admin's SLA table, working hours and windows; takes effect for tickets logged from now on
    (existing deadlines stay: the customer was promised them)."""
    require(actor, "service.settings")
    values = validate_service_settings(data)
    with db.atomic():
        before = service_settings()
        ServiceSettings.delete().execute()
        row = ServiceSettings.create(settings=values, updated_at=clock.now(), updated_by=actor.id)
        changes = {k: [before.get(k), v] for k, v in values.items() if before.get(k) != v}
        audit.record("service.settings_saved", actor, changes=changes)
    return row


# ---- SLA --------------------------------------------------------------------------------------

def ticket_level(customer):
    """The level a new ticket gets: the customer's value tier when the value rule in force sets an SLA for
    that tier (models/value.py), else the service level."""
    tier = getattr(customer, "value_tier", "")
    if tier and value_mod.in_force().sla(tier, PRIORITIES[0]):
        return tier
    return service_level(customer)


def service_level(customer):
    """key (key account) or standard; see the module docstring for why."""
    if customer.business_model == "key_account" or customer.grade == "A" or customer.size in KEY_SIZES:
        return "key"
    return "standard"


def sla_targets(level, priority, settings=None):
    """(response hours, resolution hours) in working hours."""
    s = settings or service_settings()
    if level not in s["sla"]:  # a value tier: its SLA in the value rule, else key or standard as before
        pair = value_mod.in_force().sla(level, priority)
        if pair:
            return pair
        level = "key" if level in ("diamond", "strategic") else "standard"
    response, resolution = s["sla"][level][priority]
    return response, resolution


def deadlines(level, priority, start, settings=None):
    s = settings or service_settings()
    cal = WorkingCalendar(s)
    response, resolution = sla_targets(level, priority, s)
    return cal.add(start, response), cal.add(start, resolution)


def countdown(ticket, now=None, calendar=None):
    """What the ticket's SLA says right now: the deadline that matters next and the working time left
    (negative when overdue). None when the ticket is resolved or closed."""
    if not ticket.is_open:
        return None
    now = now or clock.now()
    cal = calendar or WorkingCalendar()
    if ticket.responded_at is None and ticket.respond_by < ticket.resolve_by:
        kind, due = "response", ticket.respond_by
    else:
        kind, due = "resolution", ticket.resolve_by
    left = cal.between(now, due) if now <= due else -cal.between(due, now)
    if now > due and left == dt.timedelta():  # overdue outside working hours: still overdue
        left = -dt.timedelta(minutes=1)
    return {"kind": kind, "due": due, "left": left, "overdue": now > due,
            "minutes": int(left.total_seconds() // 60)}


# ---- reading ----------------------------------------------------------------------------------

def get_ticket(ticket_id):
    pk = int_or_none(ticket_id)
    ticket = Ticket.get_or_none(Ticket.id == pk) if pk and pk > 0 else None
    if ticket is None:
        raise NotFound()
    return ticket


def load_ticket(actor, ticket_id, action="ticket.view"):
    ticket = get_ticket(ticket_id)
    require(actor, action, ticket)
    return ticket


def service_manager_of(user):
    """Who a service user's escalations go to: their team's manager (if not themselves), else admins."""
    if user is not None and user.team_id:
        team = Team.get_or_none(Team.id == user.team_id)
        if team and team.manager_id and team.manager_id != user.id:
            manager = User.get_or_none((User.id == team.manager_id) & (User.active == True))  # noqa: E712
            if manager:
                return [manager.id]
    return [u.id for u in User.select(User.id).where((User.role == "admin") & (User.active == True))]  # noqa: E712


def is_service_manager(user):
    return user.role == "service" and user.team_id is not None and \
        Team.select().where((Team.id == user.team_id) & (Team.manager == user.id)).exists()


def service_agents():
    return (User.select(User.id, User.full_name, User.team).where((User.role == "service") & (User.active == True))  # noqa: E712
            .order_by(User.full_name))


# ---- verbs ------------------------------------------------------------------------------------

def _resolve_customer(actor, customer_id):
    """The customer picked on the form; a merged-away one names its survivor, a vanished one says so."""
    pk = int_or_none(customer_id) if customer_id not in (None, "") else None
    if not pk or pk <= 0:
        return None, (N_("Find the customer first: type part of the name, phone or credit code."), {})
    customer = Customer.get_or_none(Customer.id == pk)
    if customer is None:
        survivor = _survivor(pk)
        if survivor is not None and can(actor, "customer.view", survivor):
            return None, (N_("This customer was merged into %(name)s just now. Pick %(name)s instead."),
                          {"name": survivor.name, "survivor_id": survivor.id})
        return None, (N_("This customer no longer exists (merged or deleted). Search again."), {})
    if not can(actor, "customer.view", customer):
        return None, (N_("This customer no longer exists (merged or deleted). Search again."), {})
    return customer, None


def _survivor(customer_id):
    """models.merges.survivor_of, when the merges domain is installed."""
    try:
        from models import merges
    except ImportError:
        return None
    try:
        survivor = merges.survivor_of(customer_id)
    except Exception:  # noqa: BLE001 — an unknown id is simply "no survivor"
        return None
    if survivor is None:
        return None
    if not isinstance(survivor, Customer):
        survivor = Customer.get_or_none(Customer.id == getattr(survivor, "id", survivor))
    return survivor


def _choose(e, data, field, allowed, default=None):
    value = data.get(field) or default or ""
    if not isinstance(value, str) or value.strip() not in allowed:
        e.add(field, N_("Choose one of the options."))
        return None
    return value.strip()


def validate_ticket(actor, data):
    e = FieldErrors()
    customer, problem = _resolve_customer(actor, data.get("customer_id"))
    if problem:
        e.add("customer_id", problem[0], **problem[1])
    values = {
        "channel": _choose(e, data, "channel", CHANNELS, "hotline"),
        "category": _choose(e, data, "category", CATEGORIES),
        "priority": _choose(e, data, "priority", PRIORITIES, "normal"),
    }
    description = clean_text(data.get("description"), 4000, multiline=True)
    if description is None:
        e.add("description", N_("At most %(n)s characters."), n=4000)
    elif len(description) < 2:
        e.add("description", N_("Say what the customer needs."))
    values["description"] = description or ""
    contact_text = clean_text(data.get("contact_text"), 100)
    if contact_text is None:
        e.add("contact_text", N_("At most %(n)s characters."), n=100)
    values["contact_text"] = contact_text or ""
    values["contact"] = None
    if data.get("contact_id") and customer is not None:
        contact = Contact.get_or_none((Contact.id == (int_or_none(data["contact_id"]) or 0))
                                      & (Contact.customer == customer.id))
        if contact is None:
            e.add("contact_id", N_("Choose a contact of this customer."))
        else:
            values["contact"] = contact.id
    e.raise_if_any()
    return customer, values


def log_ticket(actor, data, now=None):
    """Log a ticket: the customer's service level and the priority fix the SLA deadlines in working
    hours from now. Service staff (and admins) log tickets for any customer they see."""
    if not can(actor, "ticket.create"):
        raise NotFound()
    customer, values = validate_ticket(actor, data)
    now = now or clock.now()
    settings = service_settings()
    level = ticket_level(customer)
    respond_by, resolve_by = deadlines(level, values["priority"], now, settings)
    with db.atomic():
        ticket = Ticket.create(customer=customer.id, level=level, created_by=actor.id, created_at=now, updated_at=now,
                               respond_by=respond_by, resolve_by=resolve_by, status="new", **values)
        audit.record("service.ticket_logged", actor, customer, ticket_id=ticket.id, category=values["category"],
                     priority=values["priority"], channel=values["channel"], excerpt=ticket.excerpt)
    return ticket


def assign_ticket(actor, ticket, assignee_id, now=None):
    """Give an open ticket to a service agent (new → assigned; reassigning keeps the status)."""
    require(actor, "ticket.work", ticket)
    if not ticket.is_open:
        raise DomainError(N_("Only an open ticket can be assigned."))
    assignee = User.get_or_none((User.id == (int_or_none(assignee_id) or 0)) & (User.active == True)  # noqa: E712
                                & (User.role.in_(("service", "admin"))))
    if assignee is None:
        raise ValidationError({"assignee_id": [(N_("Choose a service agent."), {})]})
    now = now or clock.now()
    with db.atomic():
        ticket = Ticket.get_by_id(ticket.id)
        if not ticket.is_open:  # closed by someone else meanwhile
            raise DomainError(N_("Only an open ticket can be assigned."))
        previous = ticket.assignee_id
        ticket.assignee = assignee.id
        if ticket.status == "new":
            ticket.status = "assigned"
        ticket.updated_at = now
        ticket.save()
        audit.record("service.ticket_assigned", actor, ticket.customer_id, ticket_id=ticket.id,
                     to=assignee.full_name, previous=previous)
        if assignee.id != actor.id:
            notify(assignee.id, "ticket", N_("Ticket #%(id)s for %(name)s was assigned to you."),
                   ticket.customer_id, id=ticket.id, name=ticket.customer.name)
    return ticket


def move_ticket(actor, ticket, to, note="", now=None):
    """One step of the status flow (TRANSITIONS); anything else is refused with the allowed moves.
    Resolving needs the resolution text; the first move to the customer counts as the response."""
    require(actor, "ticket.work", ticket)
    ticket = get_ticket(ticket.id)  # the caller's copy may be stale
    now = now or clock.now()
    if to not in STATUSES:
        raise DomainError(N_("Unknown status."))
    if to not in TRANSITIONS[ticket.status]:
        allowed = TRANSITIONS[ticket.status]
        raise DomainError(N_("A ticket cannot go from %(a)s to %(b)s."), a=ticket.status, b=to,
                          allowed=",".join(allowed))
    text = clean_text(note, 4000, multiline=True)
    if text is None:
        raise ValidationError({"note": [(N_("At most %(n)s characters."), {"n": 4000})]})
    if to == "resolved" and len(text) < 2:
        raise ValidationError({"note": [(N_("Say how it was resolved."), {})]})
    if ticket.status == "resolved" and to == "in_progress" and len(text) < 2:
        raise ValidationError({"note": [(N_("Say why the customer is not satisfied."), {})]})
    with db.atomic():
        ticket = Ticket.get_by_id(ticket.id)
        if to not in TRANSITIONS[ticket.status]:  # moved by someone else meanwhile
            raise DomainError(N_("Someone changed this ticket meanwhile; reload it."))
        previous = ticket.status
        if ticket.assignee_id is None and to != "closed":
            ticket.assignee = actor.id  # whoever works the ticket holds it
        ticket.status = to
        ticket.updated_at = now
        if to in RESPONDING and ticket.responded_at is None:
            ticket.responded_at = now
            if now > ticket.respond_by:
                _mark_breach(ticket, "response", ticket.respond_by)
        if to == "resolved":
            ticket.resolved_at = now
            ticket.resolution = text
            if now > ticket.resolve_by:
                _mark_breach(ticket, "resolution", ticket.resolve_by)
        if to == "closed":
            ticket.closed_at = now
        if previous == "resolved" and to == "in_progress":
            ticket.resolved_at = None
        ticket.save()
        if text:
            TicketComment.create(ticket=ticket.id, author=actor.id, at=now, body=text, internal=to != "resolved",
                                 kind=to)
        audit.record("service.ticket_moved", actor, ticket.customer_id, ticket_id=ticket.id, from_status=previous,
                     to_status=to, note=text[:200])
    return ticket


def reopen_ticket(actor, ticket, reason, now=None):
    """The customer calls back about a closed ticket: within the reopen window (admin setting, days
    after closing) service staff reopen it, and the resolution clock starts again from now."""
    require(actor, "ticket.view", ticket)
    if not can(actor, "ticket.reopen", ticket):
        raise DomainError(N_("Only service staff can reopen a ticket."))
    ticket = get_ticket(ticket.id)
    now = now or clock.now()
    if ticket.status != "closed":
        raise DomainError(N_("Only a closed ticket can be reopened."))
    settings = service_settings()
    window = dt.timedelta(days=settings["reopen_days"])
    if ticket.closed_at is None or now > ticket.closed_at + window:
        raise DomainError(N_("Closed more than %(n)s days ago: log a new ticket instead."), n=settings["reopen_days"])
    text = clean_text(reason, 4000, multiline=True)
    if text is None:
        raise ValidationError({"reason": [(N_("At most %(n)s characters."), {"n": 4000})]})
    if len(text) < 2:
        raise ValidationError({"reason": [(N_("Say what the customer called about."), {})]})
    _, resolution_hours = sla_targets(ticket.level, ticket.priority, settings)
    with db.atomic():
        ticket = Ticket.get_by_id(ticket.id)
        if ticket.status != "closed":
            raise DomainError(N_("Someone changed this ticket meanwhile; reload it."))
        ticket.status = "in_progress"
        ticket.closed_at = None
        ticket.resolved_at = None
        ticket.satisfaction = None
        ticket.reopened += 1
        ticket.resolve_by = WorkingCalendar(settings).add(now, resolution_hours)
        ticket.escalated_at = None
        ticket.updated_at = now
        if ticket.assignee_id is None:
            ticket.assignee = actor.id
        ticket.save()
        TicketComment.create(ticket=ticket.id, author=actor.id, at=now, body=text, internal=False, kind="reopened")
        audit.record("service.ticket_reopened", actor, ticket.customer_id, ticket_id=ticket.id, reason=text[:200])
    return ticket


def comment_ticket(actor, ticket, body, internal=True, now=None):
    """A comment: internal, or customer-facing (a customer-facing one is the first response if none yet)."""
    require(actor, "ticket.work", ticket)
    text = clean_text(body, 4000, multiline=True)
    if text is None:
        raise ValidationError({"body": [(N_("At most %(n)s characters."), {"n": 4000})]})
    if len(text) < 1:
        raise ValidationError({"body": [(N_("Required."), {})]})
    now = now or clock.now()
    with db.atomic():
        ticket = Ticket.get_by_id(ticket.id)  # the first response is decided on the row as it is now
        comment = TicketComment.create(ticket=ticket.id, author=actor.id, at=now, body=text, internal=bool(internal))
        updates = {"updated_at": now}
        if not internal and ticket.responded_at is None and ticket.is_open:
            updates["responded_at"] = now
            if now > ticket.respond_by:
                updates.update(breached=True, breach_kind=ticket.breach_kind or "response",
                               breach_due=ticket.breach_due if ticket.breach_kind else ticket.respond_by)
        Ticket.update(**updates).where(Ticket.id == ticket.id).execute()
        audit.record("service.ticket_commented", actor, ticket.customer_id, ticket_id=ticket.id,
                     internal=bool(internal))
    return comment


def rate_ticket(actor, ticket, score, now=None):
    """The customer's satisfaction score (1–5), asked when the ticket is resolved or closed."""
    require(actor, "ticket.work", ticket)
    value = int_or_none(score)
    if value is None or not 1 <= value <= 5:
        raise ValidationError({"satisfaction": [(N_("A score from 1 to 5."), {})]})
    with db.atomic():
        ticket = Ticket.get_by_id(ticket.id)  # reopened meanwhile: no score for the old resolution
        if ticket.status not in ("resolved", "closed"):
            raise DomainError(N_("Ask for satisfaction once the ticket is resolved."))
        Ticket.update(satisfaction=value, updated_at=now or clock.now()).where(Ticket.id == ticket.id).execute()
        audit.record("service.ticket_rated", actor, ticket.customer_id, ticket_id=ticket.id, score=value)
    ticket.satisfaction = value
    return ticket


def _mark_breach(ticket, kind, due):
    """The first deadline missed stays the one the ticket's breach names (kind and time)."""
    ticket.breached = True
    if not ticket.breach_kind:
        ticket.breach_kind, ticket.breach_due = kind, due


# ---- repurchase leads -------------------------------------------------------------------------

def raise_repurchase_lead(actor, customer, note, ticket=None, care_plan=None, now=None):
    """A repurchase lead from service: a lead on the customer routed by the lead routing rule like every
    lead (models/leads.py, through the "inbound_lead" hook: the owner, else the staker, else by region and
    round-robin; nobody available leaves it in marketing's queue and the customer in its pool), and shown
    on the rep's workbench."""
    require(actor, "repurchase.raise", customer)
    text = clean_text(note, 300)
    if text is None:
        raise ValidationError({"note": [(N_("At most %(n)s characters."), {"n": 300})]})
    if len(text) < 4:
        raise ValidationError({"note": [(N_("Say what the customer may buy again."), {})]})
    now = now or clock.now()
    with db.atomic():
        hooks.fire("inbound_lead", actor, customer.id, text, now)
        routed = (Lead.select(Lead.routed_to, Lead.status, Lead.routing_id).where(Lead.customer == customer.id)
                  .order_by(Lead.id.desc()).first())
        rule = LeadRouting.select(LeadRouting.rule).where(LeadRouting.id == routed.routing_id).scalar()
        target = User.get_by_id(routed.routed_to_id) if routed.status == "routed" else None
        fresh = Customer.get_by_id(customer.id)
        via = (rule if rule in ("owner", "staker") else "rule") if target else "pool"
        lead = RepurchaseLead.create(customer=fresh.id, source="ticket" if ticket else "care",
                                     ticket=ticket.id if ticket else None, care_plan=care_plan,
                                     raised_by=actor.id, routed_to=target.id if target else None, via=via,
                                     pool=fresh.pool_id if via == "pool" else None, note=text, created_at=now)
        audit.record("service.repurchase_lead", actor, fresh, lead_id=lead.id, source=lead.source, via=via,
                     to=target.full_name if target else None, note=text)
    return lead


def leads_for(user, limit=10):
    """A rep's repurchase leads, newest first (a manager sees the team's)."""
    q = (RepurchaseLead.select(RepurchaseLead, Customer.name.alias("customer_name"))
         .join(Customer, on=(RepurchaseLead.customer == Customer.id)))
    if permissions.can(user, "team.leads_one"):
        q = q.where((RepurchaseLead.routed_to == user.id) | (Customer.team == user.team_id))
    else:
        q = q.where(RepurchaseLead.routed_to == user.id)
    return q.order_by(RepurchaseLead.id.desc()).limit(limit).objects()


def _order_model():
    try:
        from models.orders import Order
    except ImportError:
        return None
    return Order


def lead_conversion(since=None, until=None, days=None):
    """Repurchase leads raised in [since, until) and how many turned into an order on that customer
    within `days` (setting) after the lead. `orders_available` is False until orders exist."""
    settings = service_settings()
    days = days or settings["lead_conversion_days"]

    def windowed(q):
        if since:
            q = q.where(RepurchaseLead.created_at >= since)
        return q.where(RepurchaseLead.created_at < until) if until else q

    L = RepurchaseLead
    # Counted per source in SQL (a year's leads are thousands); only leads whose customer ordered come back.
    counts = windowed(L.select(L.source, pw.fn.COUNT(L.id))).group_by(L.source).order_by(pw.fn.MIN(L.id)).tuples()
    order = _order_model()
    out = {"leads": 0, "converted": 0, "by_source": {}, "orders_available": order is not None, "days": days}
    for source in SOURCE_LABELS:
        out["by_source"][source] = [0, 0]
    for source, n in counts:
        out["by_source"].setdefault(source, [0, 0])[0] = n
        out["leads"] += n
    if not out["leads"]:
        return out
    converted = {}
    if order is not None:
        ordered_on = getattr(order, "ordered_on")
        pairs = windowed(L.select(L.id, L.source, L.created_at, ordered_on)
                         .join(order, on=(order.customer == L.customer)))
        if since:
            pairs = pairs.where(ordered_on >= (since.date() if isinstance(since, dt.datetime) else since))
        if hasattr(order, "status"):
            pairs = pairs.where(order.status.not_in(("cancelled", "canceled", "draft")))
        for lead_id, source, created, day in pairs.tuples():
            start = created.date()
            if start <= (day.date() if isinstance(day, dt.datetime) else day) <= start + dt.timedelta(days=days):
                converted[lead_id] = source
    for source in converted.values():
        out["by_source"][source][1] += 1
    out["converted"] = len(converted)
    return out


# ---- the sweep: breaches and escalation --------------------------------------------------------

def sweep(now=None, batch=1000):
    """Flag open tickets past their response or resolution deadline and escalate each breach once to
    the service manager (dedupe key per ticket, kind and deadline, so a reopened ticket escalates
    again). Idempotent: a second run finds nothing new."""
    now = now or clock.now()
    flagged = escalated = 0
    for kind, deadline, pending in (("response", Ticket.respond_by, Ticket.responded_at.is_null()),
                                    ("resolution", Ticket.resolve_by, Ticket.resolved_at.is_null())):
        last = 0
        while True:
            rows = list(Ticket.select(Ticket.id, Ticket.customer, Ticket.assignee, Ticket.created_by, Ticket.breached,
                                      Ticket.breach_kind, Ticket.breach_due, Ticket.escalated_at, Ticket.respond_by, Ticket.resolve_by,
                                      Ticket.priority)
                        .where(Ticket.status.in_(OPEN_STATUSES) & (deadline < now) & pending & (Ticket.id > last)
                               # escalated for this deadline already (escalated_at is set after it): skip
                               & (Ticket.escalated_at.is_null() | (Ticket.escalated_at < deadline)))
                        .order_by(Ticket.id).limit(batch))
            if not rows:
                break
            with db.atomic():
                for t in rows:
                    due = t.respond_by if kind == "response" else t.resolve_by
                    if not t.breached:
                        Ticket.update(breached=True, breach_kind=t.breach_kind or kind,
                                      breach_due=t.breach_due if t.breach_kind else due).where(Ticket.id == t.id).execute()
                        flagged += 1
                    key = f"sla:{t.id}:{kind}:{due.isoformat()}"
                    holder = User.get_or_none(User.id == (t.assignee_id or t.created_by_id)) if (
                        t.assignee_id or t.created_by_id) else None
                    wrote = False
                    for manager_id in service_manager_of(holder):
                        message = (N_("Ticket #%(id)s missed its response deadline (%(priority)s).") if kind == "response"
                                   else N_("Ticket #%(id)s missed its resolution deadline (%(priority)s)."))
                        if notify(manager_id, "sla_breach", message, t.customer_id, dedupe_key=f"{key}:{manager_id}",
                                  id=t.id, priority=t.priority):
                            wrote = True
                    if wrote:
                        Ticket.update(escalated_at=now).where(Ticket.id == t.id).execute()
                        audit.record("service.ticket_escalated", None, t.customer_id, ticket_id=t.id, deadline=kind)
                        escalated += 1
            last = rows[-1].id
    return {"flagged": flagged, "escalated": escalated}


def _register():
    hooks.on("sweep", sweep)


_register()
