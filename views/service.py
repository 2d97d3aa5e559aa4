"""Service over the web: the quick ticket form (customer found as one types), the ticket page and its
status moves, the queue, the service dashboard, the SLA settings, and the service cards on the
workbench and the 360 page. Rules live in models/service.py, the queue and dashboard figures in
models/service_reports.py."""
import datetime as dt

import peewee as pw
from flask import Blueprint, make_response, render_template, request, url_for
from flask_login import current_user

from models import clock, pickers, search
from models import service as sv
from models.fields import id_or_none, int_or_none, parse_id
from models.customers import Contact, Customer, get_customer
from models.errors import N_, DomainError, ValidationError
from models import permissions
from models.permissions import can, require
from models.service_reports import (QueueFilters, compliance, list_columns, open_figures, queue_page,
                                    satisfaction_trend, week_start, with_customer)
from models.users import User
from views import customers as customers_view
from views import extend
from views import htmx as hx
from views.forms import field_errors
from views.i18n import gettext as _
from views.i18n import fmt_datetime, label, translate_error

bp = Blueprint("service", __name__, url_prefix="/service")
LOOKUP_LIMIT = 8


def _fmt_left(c):
    """A countdown as text: '2 h 30 min left' or 'overdue by 1 h 5 min' (working time)."""
    if c is None:
        return ""
    words = labels()
    hours, mins = divmod(abs(c["minutes"]), 60)
    text = words["h_m"] % {"h": hours, "m": mins} if hours else words["m"] % {"m": mins}
    return (words["overdue"] if c["overdue"] else words["left"]) % {"t": text}


def sla_breach(t):
    """Which deadline a breached ticket missed, and when ("Response deadline missed: Nov 24, 2026, 10:05 AM"),
    so the badge never reads as a contradiction of the running countdown."""
    if not getattr(t, "breached", False):
        return ""
    kind, due = getattr(t, "breach_kind", "") or "", getattr(t, "breach_due", None)
    if kind == "response":
        text = _("Response deadline missed: %(at)s", at=fmt_datetime(due)) if due else _("Response deadline missed")
    elif kind == "resolution" and due and due != getattr(t, "resolve_by", due):  # reopened since: a new deadline runs
        text = _("Earlier resolution deadline missed: %(at)s", at=fmt_datetime(due))
    elif kind == "resolution":
        text = _("Resolution deadline missed: %(at)s", at=fmt_datetime(due)) if due else \
            _("An earlier resolution deadline was missed")
    else:
        text = _("SLA breached")
    return text


def _urgency(c):
    if c is None:
        return ""
    if c["overdue"]:
        return "sla-overdue"
    return "sla-soon" if c["minutes"] < 120 else "sla-ok"


def labels():
    """The service vocabularies translated once per request (a page of 50 rows would otherwise
    look each label up row by row)."""
    from flask import g

    cached = getattr(g, "_service_labels", None)
    if cached is None:
        cached = g._service_labels = {
            "status": {k: _(v) for k, v in sv.STATUS_LABELS.items()},
            "category": {k: _(v) for k, v in sv.CATEGORY_LABELS.items()},
            "priority": {k: _(v) for k, v in sv.PRIORITY_LABELS.items()},
            "level": {k: _(v) for k, v in sv.LEVEL_LABELS.items()},
            "channel": {k: _(v) for k, v in sv.CHANNEL_LABELS.items()},
            "kind": {"response": _("Response time"), "resolution": _("Resolution time")},
            "due": {"response": _("Response due"), "resolution": _("Resolution due")},
            "breached": _("SLA breached"),
            # countdown formats, filled per row with %
            "h_m": _("%(h)s h %(m)s min"), "m": _("%(m)s min"), "overdue": _("overdue by %(t)s"), "left": _("%(t)s left"),
        }
    return cached


def _annotate(tickets, calendar=None, now=None):
    """Countdown, customer and assignee names for a page of tickets (two queries, not one per row)."""
    if not tickets:
        return tickets
    now = now or clock.now()
    cal = calendar or _calendar()
    user_ids = {t.assignee_id for t in tickets if t.assignee_id}
    names = {u.id: u.full_name for u in User.select(User.id, User.full_name).where(User.id.in_(user_ids))} if user_ids else {}
    words = labels()
    for t in tickets:
        t.sla = sv.countdown(t, now, cal)
        t.sla_text = _fmt_left(t.sla)
        t.sla_class = _urgency(t.sla)
        if t.sla:
            t.sla_label = f"{words['kind'][t.sla['kind']]}: {t.sla_text}"
            t.sla_title = f"{words['due'][t.sla['kind']]} {fmt_datetime(t.sla['due'])}"
        t.assignee_name = names.get(t.assignee_id, "")
    return tickets


def _calendar():
    """The working calendar, read once per request."""
    from flask import g, has_request_context

    if not has_request_context():
        return sv.WorkingCalendar()
    cal = getattr(g, "_service_calendar", None)
    if cal is None:
        cal = g._service_calendar = sv.WorkingCalendar()
    return cal


# ---- the quick form ----------------------------------------------------------------------------

def quick_form_context(data=None, errors=None, customer=None):
    data = data or {}
    if customer is not None:
        pickers.facts([customer])
    return {"data": data, "errors": errors or {}, "customer": customer,
            "contacts": _contacts(customer), "open_tickets": _open_tickets(customer),
            "level": sv.service_level(customer) if customer else None}


def _contacts(customer):
    if customer is None:
        return []
    return list(Contact.select(Contact.id, Contact.name, Contact.title)
                .where((Contact.customer == customer.id) & (Contact.active == True)).order_by(Contact.id).limit(30))  # noqa: E712


def _open_tickets(customer):
    if customer is None:
        return []
    return list(sv.Ticket.select(sv.Ticket.id, sv.Ticket.category, sv.Ticket.status, sv.Ticket.description)
                .where((sv.Ticket.customer == customer.id) & sv.Ticket.status.in_(sv.OPEN_STATUSES))
                .order_by(sv.Ticket.id.desc()).limit(5))


@bp.route("/tickets/new", methods=["GET", "POST"])
def new_ticket():
    require(current_user, "ticket.create")
    if request.method == "GET":
        customer = None
        if request.args.get("customer_id"):
            try:
                customer = get_customer(request.args["customer_id"])
                require(current_user, "customer.view", customer)
            except DomainError:
                customer = None
        return render_template("service/new.html", **quick_form_context(customer=customer))
    data = {k: v for k, v in request.form.items() if k != "csrf_token"}
    try:
        ticket = sv.log_ticket(current_user, data)
    except ValidationError as exc:
        errors = field_errors(exc, joined=True)
        customer = None
        survivor_id = next((p.get("survivor_id") for m, p in exc.errors.get("customer_id", []) if p.get("survivor_id")), None)
        if survivor_id:
            customer = Customer.get_or_none(Customer.id == survivor_id)
        elif "customer_id" not in exc.errors:
            customer = Customer.get_or_none(Customer.id == (int_or_none(data.get("customer_id")) or 0))
        data.pop("customer_id", None)
        ctx = quick_form_context(data, errors, customer)
        if request.htmx:
            return render_template("service/_quick_form.html", **ctx)
        return render_template("service/new.html", **ctx)
    return hx.redirect(url_for("service.ticket", ticket_id=ticket.id, created=1))


@bp.get("/lookup")
def lookup():
    """The customers matching what the agent typed (name, phone, credit code), as pickable rows."""
    require(current_user, "ticket.create")
    q = search.normalize_query(request.args.get("q", ""))
    # The agent's own files first, then owned ones, then the pools', each with what tells it apart (issue 13.3).
    rows = pickers.customer_lookup(current_user, q, LOOKUP_LIMIT)
    return render_template("service/_lookup.html", rows=rows, q=q, usable=search.usable(q))


@bp.get("/pick/<int:customer_id>")
def pick(customer_id):
    """The picked customer on the quick form: its service level, contacts and open tickets."""
    require(current_user, "ticket.create")
    customer = get_customer(customer_id)
    require(current_user, "customer.view", customer)
    return render_template("service/_picked.html", **quick_form_context(customer=customer))


# ---- the ticket page ---------------------------------------------------------------------------

def _ticket_context(ticket, errors=None, form=None):
    cal = _calendar()
    _annotate([ticket], cal)
    comments = list(sv.TicketComment.select(sv.TicketComment, User.full_name.alias("author_name"))
                    .join(User, pw.JOIN.LEFT_OUTER, on=(sv.TicketComment.author == User.id))
                    .where(sv.TicketComment.ticket == ticket.id).order_by(sv.TicketComment.id).objects())
    customer = Customer.get_by_id(ticket.customer_id)
    settings = sv.service_settings()
    reopen_until = ticket.closed_at + dt.timedelta(days=settings["reopen_days"]) if ticket.closed_at else None
    leads = list(sv.RepurchaseLead.select().where(sv.RepurchaseLead.ticket == ticket.id).order_by(sv.RepurchaseLead.id))
    lead_names = {u.id: u.full_name for u in User.select(User.id, User.full_name)
                  .where(User.id.in_([x.routed_to_id for x in leads if x.routed_to_id] or [0]))}
    people = {u.id: u.full_name for u in User.select(User.id, User.full_name)
              .where(User.id.in_([i for i in (ticket.created_by_id, ticket.assignee_id) if i] or [0]))}
    return {"t": ticket, "customer": customer, "comments": comments, "errors": errors or {}, "form": form or {},
            "agents": list(sv.service_agents()) if can(current_user, "ticket.work", ticket) else [],
            "moves": sv.TRANSITIONS[ticket.status], "reopen_until": reopen_until,
            "can_reopen_now": ticket.status == "closed" and reopen_until is not None and clock.now() <= reopen_until,
            "leads": leads, "lead_names": lead_names, "people": people,
            "contact": Contact.get_or_none(Contact.id == ticket.contact_id) if ticket.contact_id else None,
            "targets": sv.sla_targets(ticket.level, ticket.priority, settings)}


def _ticket_response(ticket, errors=None, form=None, event=None):
    ticket = sv.Ticket.get_by_id(ticket.id)
    ctx = _ticket_context(ticket, errors, form)
    if request.htmx:
        response = make_response(render_template("service/_ticket.html", **ctx))
        return hx.trigger(response, event) if event else response
    if errors:
        return render_template("service/ticket.html", **ctx)
    return hx.redirect(url_for("service.ticket", ticket_id=ticket.id))


@bp.get("/tickets/<int:ticket_id>")
def ticket(ticket_id):
    t = sv.load_ticket(current_user, ticket_id)
    customers_view.count_pool_view(t.customer)  # a rep reading a pool customer's ticket reads its file
    ctx = _ticket_context(t)
    ctx["created"] = request.args.get("created")
    return render_template("service/ticket.html", **ctx)


def _act(ticket_id, fn, action="ticket.work", event="ticketChanged"):
    t = sv.load_ticket(current_user, ticket_id, "ticket.view")
    if action:
        require(current_user, action, t)
    form = {k: v for k, v in request.form.items() if k != "csrf_token"}

    def refused(message):  # without JavaScript: the ticket page with the reason
        return render_template("service/ticket.html", **_ticket_context(sv.Ticket.get_by_id(t.id),
                                                                         {"action": message}, form)), 409
    return hx.run_verb(lambda: fn(t, form), invalid=lambda exc: _ticket_response(t, field_errors(exc, joined=True), form),
                       refused=refused, message=lambda exc: translate_error(exc.message, _status_params(exc.params)),
                       done=lambda _result: _ticket_response(t, event=event))


def _status_params(params):
    out = dict(params or {})
    for key in ("a", "b"):
        if key in out:
            out[key] = label(sv.STATUS_LABELS, out[key])
    return out


@bp.post("/tickets/<int:ticket_id>/assign")
def assign(ticket_id):
    return _act(ticket_id, lambda t, f: sv.assign_ticket(current_user, t, f.get("assignee_id")))


@bp.post("/tickets/<int:ticket_id>/move")
def move(ticket_id):
    return _act(ticket_id, lambda t, f: sv.move_ticket(current_user, t, f.get("to", ""), f.get("note", "")))


@bp.post("/tickets/<int:ticket_id>/comment")
def comment(ticket_id):
    return _act(ticket_id, lambda t, f: sv.comment_ticket(current_user, t, f.get("body", ""),
                                                          internal=f.get("visibility") != "customer"))


@bp.post("/tickets/<int:ticket_id>/reopen")
def reopen(ticket_id):
    # The right is checked by the verb, so someone who sees the ticket but may not reopen it hears why.
    return _act(ticket_id, lambda t, f: sv.reopen_ticket(current_user, t, f.get("reason", "")), action=None)


@bp.post("/tickets/<int:ticket_id>/satisfaction")
def satisfaction(ticket_id):
    return _act(ticket_id, lambda t, f: sv.rate_ticket(current_user, t, f.get("satisfaction")))


@bp.post("/tickets/<int:ticket_id>/lead")
def lead(ticket_id):
    def raise_lead(t, f):
        customer = Customer.get_by_id(t.customer_id)
        sv.raise_repurchase_lead(current_user, customer, f.get("lead_note", ""), ticket=t)
    return _act(ticket_id, raise_lead, action="ticket.work", event="repurchaseLeadRaised")


# ---- the queue ---------------------------------------------------------------------------------

@bp.get("/")
def queue():
    require(current_user, "ticket.queue")
    f = QueueFilters(request.args, current_user)
    page = queue_page(current_user, f, after=request.args.get("after"))
    _annotate(page["rows"])
    ctx = dict(f=f, page=page, agents=list(sv.service_agents()), after=request.args.get("after"))
    return hx.fragment_or_page("service/_queue.html", "service/queue.html", **ctx)


# ---- dashboard ---------------------------------------------------------------------------------

@bp.get("/dashboard")
def dashboard():
    require(current_user, "service.dashboard")
    today = clock.today()
    week = clock.local_day_start(week_start(today))
    month = clock.local_day_start(today.replace(day=1))
    open_counts, breached_open = open_figures()
    conversion = sv.lead_conversion(since=clock.now() - dt.timedelta(days=365))
    return render_template("service/dashboard.html", week=compliance(week), month=compliance(month),
                           trend=satisfaction_trend(), open_counts=open_counts, breached_open=breached_open,
                           conversion=conversion)


# ---- settings (admin) --------------------------------------------------------------------------

def settings_form_values(s):
    values = {"workdays": [str(d) for d in s["workdays"]], "day_start": s["day_start"], "day_end": s["day_end"],
              "holidays": "\n".join(s.get("holidays") or []), "reopen_days": str(s["reopen_days"]),
              "lead_conversion_days": str(s["lead_conversion_days"])}
    for level in sv.LEVELS:
        for priority in sv.PRIORITIES:
            response, resolution = s["sla"][level][priority]
            values[f"sla_{level}_{priority}_response"] = str(response)
            values[f"sla_{level}_{priority}_resolution"] = str(resolution)
    return values


WEEKDAYS = (N_("Monday"), N_("Tuesday"), N_("Wednesday"), N_("Thursday"), N_("Friday"), N_("Saturday"), N_("Sunday"))


@bp.route("/settings", methods=["GET", "POST"])
def settings():
    require(current_user, "service.settings")
    values, errors, saved = settings_form_values(sv.service_settings()), {}, False
    if request.method == "POST":
        data = {k: v for k, v in request.form.items() if k not in ("csrf_token", "workdays")}
        data["workdays"] = request.form.getlist("workdays")
        try:
            sv.save_service_settings(current_user, data)
        except ValidationError as exc:
            errors = field_errors(exc, joined=True)
            values = {**data, "workdays": data["workdays"]}
        else:
            values, saved = settings_form_values(sv.service_settings()), True
    ctx = dict(values=values, errors=errors, saved=saved, weekdays=WEEKDAYS)
    if request.htmx and request.method == "POST":
        return render_template("service/_settings_form.html", **ctx)
    return render_template("service/settings.html", **ctx)


# ---- workbench and 360 cards -------------------------------------------------------------------

@extend.workbench_panel("service/_wb_quick.html", roles=("service",), order=10)
def workbench_quick(user):
    """The service agent's first card: log a ticket in a few keystrokes."""
    return {"quick": quick_form_context()}


@extend.workbench_panel("service/_wb_mine.html", roles=("service",), order=11)
def workbench_mine(user):
    """My open tickets, the most urgent SLA first."""
    T = sv.Ticket
    mine = list(with_customer(T.select(*list_columns())).where((T.assignee == user.id) & T.status.in_(sv.OPEN_STATUSES))
                .order_by(T.resolve_by, T.id).limit(10))
    mine_count = T.select().where((T.assignee == user.id) & T.status.in_(sv.OPEN_STATUSES)).count() if len(mine) == 10 \
        else len(mine)
    _annotate(mine)
    return {"mine": mine, "mine_count": mine_count}


@extend.workbench_panel("service/_wb_waiting.html", roles=("service",), order=12)
def workbench_waiting(user):
    """New tickets nobody has taken yet, the earliest response deadline first."""
    T = sv.Ticket
    waiting = list(with_customer(T.select(*list_columns())).where((T.status == "new") & T.assignee.is_null())
                   .order_by(T.respond_by, T.id).limit(10))
    _annotate(waiting)
    return {"waiting": waiting}


def _leads_probe(user):
    """Any repurchase lead for the user: kept per role and whether they lead a team (the workbench asks it on
    every visit); the user's id and team go in as marks."""
    leads = can(user, "team.leads_one")
    values = [user.id] + ([user.team_id] if leads else [])
    return extend.kept_probe(("service.repurchase_leads", user.role, leads), lambda *v: sv.leads_for(
        permissions.Marked(user, v[0], v[1] if leads else None)).select(sv.RepurchaseLead.id), *values)


@extend.workbench_panel("service/_wb_leads.html", roles=("sales", "manager"), order=20, probe=_leads_probe)
def workbench_leads(user, found=True):
    """Repurchase leads from service for the rep (a manager: the team's), with their source."""
    rows = list(sv.leads_for(user)) if found else []
    if not rows:
        return None
    names = {u.id: u.full_name for u in User.select(User.id, User.full_name)
             .where(User.id.in_({r.raised_by_id for r in rows if r.raised_by_id} or {0}))}
    return {"rows": rows, "names": names}


SIDE_OPEN_LIMIT = 20


extend.customer_rows("ticket", sv.Ticket)


@extend.side_card("service/_side.html", order=40)
def side_panel(customer, user):
    if not can(user, "ticket.list", customer):
        return None
    T = sv.Ticket
    # One query: the open tickets and the last rated one (an open ticket has no score: rating needs a
    # resolved ticket and a reopen clears it). Built only for a customer who may have tickets.
    last_rated = lambda: (T.select(T.id).where((T.customer == customer.id) & T.satisfaction.is_null(False))  # noqa: E731
                          .order_by(T.id.desc()).limit(1))
    rows = list(T.select(T.id, T.customer, T.category, T.status, T.priority, T.description, T.breached, T.breach_kind,
                         T.breach_due, T.respond_by,
                         T.resolve_by, T.responded_at, T.satisfaction, T.resolved_at)
                .where((T.customer == customer.id) & (T.status.in_(sv.OPEN_STATUSES) | (T.id == last_rated())))
                .order_by(T.id.desc()).limit(SIDE_OPEN_LIMIT + 1)) if extend.may_have_rows(customer.id, "ticket") else []
    open_rows = [t for t in rows if t.status in sv.OPEN_STATUSES]
    last = next((t for t in rows if t.satisfaction is not None), None)
    if last is None and len(rows) > SIDE_OPEN_LIMIT:  # many open tickets pushed the rated one out
        last = (T.select(T.satisfaction, T.resolved_at).where((T.customer == customer.id) & T.satisfaction.is_null(False))
                .order_by(T.id.desc()).first())
    for t in open_rows:
        t.customer = customer  # the rule (ticket.view) asks for it: no query per row
    open_count = len(open_rows) if len(rows) <= SIDE_OPEN_LIMIT else T.select().where(
        (T.customer == customer.id) & T.status.in_(sv.OPEN_STATUSES)).count()
    return {"open": open_rows[:3], "open_count": open_count, "last": last, "level": sv.service_level(customer),
            "customer": customer}


@extend.customer_tab("service", N_("Service"), "service/_tab.html", order=60,
                     visible=lambda user, customer: can(user, "ticket.list", customer))
def tab_context(customer, user):
    T = sv.Ticket
    rows = list(T.select(T).where(T.customer == customer.id).order_by(T.id.desc()).limit(50))
    _annotate(rows)
    from models import care

    return {"tickets": rows, "plans": care.plans_of(customer.id),
            "leads": list(sv.RepurchaseLead.select().where(sv.RepurchaseLead.customer == customer.id)
                          .order_by(sv.RepurchaseLead.id.desc()).limit(20))}


# ---- timeline sentences for the service events ------------------------------------------------

@extend.timeline("service.", "care.")
def describe(e):
    d = e.data or {}
    k = e.kind
    if k == "service.ticket_logged":
        return _("logged ticket #%(id)s (%(category)s, %(priority)s): %(excerpt)s", id=d.get("ticket_id"),
                 category=label(sv.CATEGORY_LABELS, d.get("category")), priority=label(sv.PRIORITY_LABELS, d.get("priority")),
                 excerpt=d.get("excerpt", ""))
    if k == "service.ticket_assigned":
        return _("assigned ticket #%(id)s to %(name)s", id=d.get("ticket_id"), name=d.get("to", ""))
    if k == "service.ticket_moved":
        return _("moved ticket #%(id)s from %(a)s to %(b)s", id=d.get("ticket_id"),
                 a=label(sv.STATUS_LABELS, d.get("from_status")), b=label(sv.STATUS_LABELS, d.get("to_status")))
    if k == "service.ticket_reopened":
        return _("reopened ticket #%(id)s: %(reason)s", id=d.get("ticket_id"), reason=d.get("reason", ""))
    if k == "service.ticket_commented":
        return _("commented on ticket #%(id)s", id=d.get("ticket_id"))
    if k == "service.ticket_rated":
        return _("recorded satisfaction %(score)s/5 for ticket #%(id)s", id=d.get("ticket_id"), score=d.get("score"))
    if k == "service.ticket_escalated":
        if d.get("deadline") == "response":
            return _("ticket #%(id)s missed its response deadline and was escalated to the service manager",
                     id=d.get("ticket_id"))
        return _("ticket #%(id)s missed its resolution deadline and was escalated to the service manager",
                 id=d.get("ticket_id"))
    if k == "service.repurchase_lead":
        return _("raised a repurchase lead (%(note)s), routed to %(to)s", note=d.get("note", ""),
                 to=d.get("to") or _("the pool"))
    if k == "care.plan_created":
        return _("set up a care plan with %(agent)s, first due %(first)s", agent=d.get("agent", ""), first=d.get("first", ""))
    if k == "care.recorded":
        return _("recorded a care task due %(due)s", due=d.get("due", ""))
    if k == "care.plan_ended":
        return _("ended a care plan")
    return None


extend.template_globals(
    service_labels=labels, sla_breach=sla_breach,
    TICKET_STATUS_LABELS=sv.STATUS_LABELS, TICKET_PRIORITY_LABELS=sv.PRIORITY_LABELS,
    TICKET_CATEGORY_LABELS=sv.CATEGORY_LABELS, TICKET_CHANNEL_LABELS=sv.CHANNEL_LABELS,
    SERVICE_LEVEL_LABELS=sv.LEVEL_LABELS, LEAD_SOURCE_LABELS=sv.SOURCE_LABELS)
