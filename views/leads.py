"""Leads over the web (issue 14): marketing's queue and intake form, a lead's page (judge, route by hand,
accept, send back, re-route), the rep's and manager's leads, the routing rule with its preview, web-form
sources, response times, the public web-form endpoint, and the workbench cards."""
import datetime as dt
import logging

from flask import Blueprint, jsonify, make_response, render_template, request, url_for
from flask_login import current_user

from models import clock, leads
from models.fields import date_or_none, id_or_none
from models.campaigns import active_campaigns, period_leads, roi
from models.customers import CHANNELS, MARKETING_STAGES, SOURCE_LABELS, SOURCES, Customer, Industry
from models.errors import DomainError, NotFound, ValidationError
from models.lead_tables import LEAD_STATUS_LABELS, QUEUE_STATUSES, Campaign, Lead, LeadRouting, LeadSource, RoutingVersion
from models import permissions
from models.permissions import can, require, scope
from models.users import Region, User
from views import csrf, extend
from views import htmx as hx
from views.i18n import gettext as _
from views.i18n import translate_error
from views.forms import field_errors
from views.rules import effective_from

bp = Blueprint("leads", __name__)
PAGE = 50
TABS = ("queue", "routed", "prospect", "due", "junk", "accepted", "all")
MAX_WEB_BODY = 32 * 1024  # above the longest valid post (every field at its limit), far below a flood's


def _form(names=None):
    data = {k: v for k, v in request.form.items() if k != "csrf_token"}
    return data if names is None else {k: data.get(k, "") for k in names}


def _reps():
    return list(User.holding("sales", "manager", fields=(User.id, User.full_name, User.team, User.role))
                .order_by(User.full_name))


# ---- the queue ---------------------------------------------------------------------------------

def _queue_query(user, tab, q):
    query = (Lead.select(Lead, Customer.id, Customer.name, Customer.stage, Customer.owner)
             .join(Customer, on=(Lead.customer == Customer.id)))
    query = scope("lead", user, query)
    if tab == "queue":
        query = query.where(Lead.status.in_(QUEUE_STATUSES))
    elif tab == "due":  # nurtured prospects due for a touch
        query = query.where((Lead.status == "prospect") & (Lead.next_touch_on <= clock.today()))
    elif tab != "all":
        query = query.where(Lead.status == ("sent_back" if tab == "sent_back" else tab))
    if q:
        query = query.where(Customer.name.contains(q[:50]) | Lead.junk_reason.contains(q[:50]))
    return query


@bp.get("/leads")
def index():
    require(current_user, "lead.queue")
    tab = request.args.get("tab") if request.args.get("tab") in TABS else "queue"
    q = (request.args.get("q") or "").strip()
    before = id_or_none(request.args.get("before"))
    query = _queue_query(current_user, tab, q)
    if before:
        query = query.where(Lead.id < before)
    rows = list(query.order_by(Lead.id.desc()).limit(PAGE + 1))
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    names = _names({r.routed_to_id for r in rows} | {r.created_by_id for r in rows})
    campaigns = {c.id: c.name for c in Campaign.select(Campaign.id, Campaign.name)}
    return hx.fragment_or_page("leads/_rows.html", "leads/index.html", rows=rows, tab=tab, q=q, names=names,
                               campaigns=campaigns, next_before=rows[-1].id if more else None,
                               counts=leads.queue_counts_by_age(), now=clock.now(), today=clock.today())


def _names(ids):
    ids = [i for i in ids if i]
    return {u.id: u.full_name for u in User.select(User.id, User.full_name).where(User.id.in_(ids))} if ids else {}


@bp.post("/leads/bulk")
def bulk():
    require(current_user, "lead.queue")
    ids = [i for i in (id_or_none(v) for v in request.form.getlist("lead_id")) if i]
    if not ids:
        return hx.toast(_("Tick the leads first."), 409)
    result = leads.bulk_judge(current_user, ids, request.form.get("verdict", ""), request.form.get("reason", ""),
                              request.form.get("nurture_list", ""))
    message = _("%(n)s leads judged.", n=len(result["done"]))
    if result["refused"]:
        message += " " + "; ".join(f"#{pk}: {translate_error(m, p)}" for pk, m, p in result["refused"][:5])
    response = hx.redirect(url_for("leads.index", tab=request.form.get("tab") or "queue", done=len(result["done"])))
    return hx.trigger(response, "showToast", {"message": message}) if request.htmx else response


# ---- intake --------------------------------------------------------------------------------------

INTAKE_FIELDS = ("name", "phone", "credit_code", "region_id", "industry_id", "city", "contact_name", "contact_mobile",
                 "contact_email", "source", "first_channel", "campaign_id", "note", "customer_id", "duplicate_reason")


def _intake_page(form=None, errors=None, matches=None, status=200):
    context = dict(form=form or {"source": "event" if can(current_user, "lead.queue") else "referral"},
                   errors=errors or {}, matches=matches or [], regions=list(Region.select().order_by(Region.id)),
                   industries=list(Industry.select().where(Industry.active == True).order_by(Industry.id)),  # noqa: E712
                   campaigns=list(Campaign.select().order_by(Campaign.starts_on.desc()).limit(100)),
                   sources=[s for s in leads.INTAKE_SOURCES], channels=CHANNELS)
    template = "leads/_form.html" if request.htmx and request.method == "POST" else "leads/new.html"
    return make_response(render_template(template, **context), status)


@bp.get("/leads/new")
def new():
    require(current_user, "lead.intake")
    return _intake_page()


@bp.post("/leads/new")
def create():
    require(current_user, "lead.intake")
    form = _form(INTAKE_FIELDS)
    try:
        lead = leads.intake_lead(current_user, form)
    except leads.DuplicatesFound as exc:
        return _intake_page(form, {"duplicates": translate_error(exc.message, exc.params)}, exc.matches)
    except ValidationError as exc:
        return _intake_page(form, field_errors(exc, joined=True))
    target = url_for("leads.show", lead_id=lead.id) if can(current_user, "lead.view", lead) else url_for("leads.new", saved=1)
    return hx.redirect(target)


# ---- one lead ------------------------------------------------------------------------------------

def _lead_page(lead, errors=None, form=None, status=200):
    customer = Customer.get_by_id(lead.customer_id)
    routings = list(LeadRouting.select().where(LeadRouting.lead == lead.id).order_by(LeadRouting.id))
    names = _names({r.to_user_id for r in routings} | {r.actor_id for r in routings} | {lead.created_by_id})
    matches = []
    if can(current_user, "lead.judge", lead) and lead.status in QUEUE_STATUSES:
        matches = leads.find_matches(current_user, name=customer.name, phone=customer.phone,
                                     credit_code=customer.credit_code, exclude_id=customer.id)
    context = dict(lead=lead, customer=customer, routings=routings, names=names, matches=matches, errors=errors or {},
                   form=form or {}, reps=_reps() if can(current_user, "lead.reroute", lead) else [],
                   campaign=Campaign.get_or_none(Campaign.id == lead.campaign_id) if lead.campaign_id else None,
                   left=leads.countdown(lead) if lead.status == "routed" else None,
                   can_open_customer=can(current_user, "customer.view", customer))
    return make_response(render_template("leads/show.html", **context), status)


@bp.get("/leads/<int:lead_id>")
def show(lead_id):
    return _lead_page(leads.get_lead(current_user, lead_id))


def _act(lead_id, action, verb):
    lead = leads.get_lead(current_user, lead_id, action)
    try:
        verb(lead)
    except ValidationError as exc:
        return _lead_page(lead, field_errors(exc, joined=True), _form(), 200)
    except NotFound:
        raise
    except DomainError as exc:
        return hx.toast(translate_error(exc.message, exc.params), 409)
    target = url_for("leads.show", lead_id=lead.id) if can(current_user, "lead.view", Lead.get_by_id(lead.id)) \
        else url_for("leads.mine")
    return hx.redirect(target)


@bp.post("/leads/<int:lead_id>/judge")
def judge(lead_id):
    f = request.form
    return _act(lead_id, "lead.judge", lambda lead: leads.judge_lead(
        current_user, lead, f.get("verdict", ""), f.get("reason", ""), f.get("nurture_list", "")))


@bp.post("/leads/<int:lead_id>/touch")
def touch(lead_id):
    return _act(lead_id, "lead.judge", lambda lead: leads.log_touch(current_user, lead, request.form.get("note", "")))


@bp.post("/leads/<int:lead_id>/cadence")
def cadence(lead_id):
    return _act(lead_id, "lead.judge", lambda lead: leads.set_lead_cadence(current_user, lead,
                                                                           request.form.get("touch_days", "")))


@bp.get("/leads/nurture")
def nurture():
    require(current_user, "lead.queue")
    return _nurture_page()


def _nurture_page(form=None, errors=None):
    return render_template("leads/nurture.html", lists=leads.nurture_lists(), form=form or {}, errors=errors or {},
                           default_days=leads.NURTURE_DAYS)


@bp.post("/leads/nurture")
def nurture_save():
    require(current_user, "lead.queue")
    form = _form(("nurture_list", "cadence_days"))
    try:
        leads.save_nurture_cadence(current_user, form["nurture_list"], form["cadence_days"])
    except ValidationError as exc:
        return _nurture_page(form, field_errors(exc, joined=True))
    return hx.redirect(url_for("leads.nurture"))


@bp.post("/leads/<int:lead_id>/restore")
def restore(lead_id):
    return _act(lead_id, "lead.judge", lambda lead: leads.restore_lead(current_user, lead))


@bp.post("/leads/<int:lead_id>/route")
def route(lead_id):
    """By hand (marketing's override, a manager's re-route) when a rep is chosen, else by the rule."""
    def verb(lead):
        rep_id = id_or_none(request.form.get("to_user_id"))
        rep = User.get_or_none(User.id == rep_id) if rep_id else None
        if rep_id and rep is None:
            raise ValidationError({"to_user_id": [("Choose an active colleague.", {})]})
        return leads.route_lead(current_user, lead, to_user=rep, reason=request.form.get("reason", ""))
    return _act(lead_id, "lead.reroute", verb)


@bp.post("/leads/<int:lead_id>/accept")
def accept(lead_id):
    return _act(lead_id, "lead.respond", lambda lead: leads.accept_lead(current_user, lead))


@bp.post("/leads/<int:lead_id>/send-back")
def send_back(lead_id):
    return _act(lead_id, "lead.respond", lambda lead: leads.send_back(current_user, lead, request.form.get("reason", "")))


# ---- the rep's and the manager's leads -----------------------------------------------------------

@bp.get("/leads/mine")
def mine():
    require(current_user, "lead.mine")
    query = scope("lead", current_user, Lead.select(Lead, Customer.id, Customer.name)
                  .join(Customer, on=(Lead.customer == Customer.id)))
    waiting = list(query.where(Lead.status == "routed").order_by(Lead.due_at, Lead.id).limit(200))
    recent = list(query.where(Lead.status.in_(("accepted", "sent_back"))).order_by(Lead.id.desc()).limit(20))
    names = _names({r.routed_to_id for r in waiting + recent})
    return render_template("leads/mine.html", waiting=waiting, recent=recent, names=names,
                           left={r.id: leads.countdown(r) for r in waiting}, now=clock.now())


# ---- the routing rule --------------------------------------------------------------------------

def _routing_page(form=None, errors=None, preview=None, status=200):
    rs = leads.routing_in_force()
    versions = list(RoutingVersion.select().order_by(RoutingVersion.version.desc()).limit(20))
    form = form or {**rs.s, "effective_from": clock.to_local(clock.now()).strftime("%Y-%m-%dT%H:%M")}
    industries = list(Industry.select().where(Industry.active == True).order_by(Industry.id))  # noqa: E712
    return make_response(render_template(
        "leads/routing.html", rs=rs, versions=versions, form=form, errors=errors or {}, preview=preview,
        industries=industries, reps=_reps(), rotation_roles=leads.ROTATION_ROLES, names=_names({v.created_by_id for v in versions})), status)


def _routing_form():
    data = request.form.to_dict(flat=False)
    flat = {k: (v if k.startswith("industry_") or k == "roles" else v[0]) for k, v in data.items() if k != "csrf_token"}
    return flat


@bp.get("/leads/routing")
def routing():
    require(current_user, "routing.view")
    return _routing_page()


@bp.post("/leads/routing/preview")
def routing_preview():
    require(current_user, "routing.view")
    form = _routing_form()
    try:
        settings = leads.validate_routing(form)
    except ValidationError as exc:
        return _routing_page(form, field_errors(exc, joined=True)) if not request.htmx else make_response(
            render_template("leads/_preview.html", preview=None, errors=field_errors(exc, joined=True)))
    rows = leads.preview_routing(settings)
    if request.htmx:
        return render_template("leads/_preview.html", preview=rows, errors={})
    return _routing_page(form, preview=rows)


@bp.post("/leads/routing")
def routing_save():
    require(current_user, "routing.manage")
    form = _routing_form()
    try:
        settings = leads.validate_routing(form)
        start = effective_from(form)  # the pool rules' reading: empty is now, 1900–2100, never a 500
        leads.save_routing(current_user, settings, start, form.get("note", ""))
    except ValidationError as exc:
        return _routing_page(form, field_errors(exc, joined=True))
    return hx.redirect(url_for("leads.routing", saved=1))


# ---- web-form sources ----------------------------------------------------------------------------

def _sources_page(token=None, errors=None, form=None):
    rows = list(LeadSource.select().order_by(LeadSource.id.desc()).limit(200))
    return render_template("leads/sources.html", rows=rows, token=token, errors=errors or {}, form=form or {},
                           campaigns=list(Campaign.select().order_by(Campaign.starts_on.desc()).limit(100)),
                           sources=leads.INTAKE_SOURCES, names=_names({r.owner_id for r in rows}))


@bp.get("/leads/sources")
def sources():
    require(current_user, "lead_source.manage")
    return _sources_page()


@bp.post("/leads/sources")
def source_new():
    require(current_user, "lead_source.manage")
    form = _form(("name", "source", "per_hour", "campaign_id"))
    try:
        _row, token = leads.save_source(current_user, form)
    except ValidationError as exc:
        return _sources_page(errors=field_errors(exc, joined=True), form=form)
    return _sources_page(token=token)


@bp.post("/leads/sources/<int:source_id>/toggle")
def source_toggle(source_id):
    require(current_user, "lead_source.manage")
    row = LeadSource.get_or_none(LeadSource.id == source_id)
    if row is None:
        raise NotFound()
    leads.save_source(current_user, {"name": row.name, "source": row.source, "per_hour": row.per_hour,
                                     "campaign_id": row.campaign_id or "", "active": "" if row.active else "1"}, row)
    return hx.redirect(url_for("leads.sources"))


@bp.post("/web-leads")
@csrf.exempt
def web_form():
    """The one route without login or CSRF: a company website posts an enquiry with its source's token.
    Answers JSON: 201 created, 400 field errors, 403 bad token, 413 too large, 429 flood, 503 busy."""
    def answer(status, **body):
        response = jsonify({"ok": status < 300, **body})
        response.status_code = status
        return response

    if (request.content_length or 0) > MAX_WEB_BODY:
        return answer(413, error=_("Too large."))
    try:
        data = request.get_json(silent=True) if request.is_json else request.form
        if not isinstance(data, dict) and not hasattr(data, "get"):
            return answer(400, error=_("Please correct the highlighted fields."))
        token = data.get("token") or request.headers.get("X-Lead-Token") or ""
        lead = leads.web_intake(str(token)[:200], data, request.remote_addr)
    except leads.IntakeRefused as exc:
        return answer(exc.status, error=translate_error(exc.message, exc.params), errors=field_errors(exc, joined=True) if exc.errors else {})
    except Exception:  # never a 500 to a website: log it, say try again, nothing was saved (one transaction)
        logging.getLogger("kehu").exception("web lead intake failed")
        return answer(503, error=_("Something went wrong on our side. Nothing was saved; please try again."))
    return answer(201, message=_("Thank you: we will be in touch."), **({"reference": lead.id} if lead else {}))


# ---- response times -----------------------------------------------------------------------------

@bp.get("/leads/response-times")
def response_times():
    require(current_user, "lead.report")
    until = date_or_none(request.args.get("until")) or clock.today()
    since = date_or_none(request.args.get("since")) or until - dt.timedelta(days=89)
    start, end = clock.local_day_start(since), clock.local_day_start(until + dt.timedelta(days=1))
    return render_template("leads/response_times.html", since=since, until=until,
                           reps=leads.response_times(start, end, "rep"), teams=leads.response_times(start, end, "team"))



# ---- the workbench cards and what templates may name -------------------------------------------

ROI_DAYS = 90  # the marketing card's campaign figures: the leads of the last 90 days


def _marketing_probes(user):
    """Whether there are leads routed, sent back, due for a touch, in the queue, and of the ROI period."""
    today = clock.today()
    return [Lead.select(Lead.id).where(Lead.status == "routed"), Lead.select(Lead.id).where(Lead.status == "sent_back"),
            leads.due_for_touch().select(Lead.id), Lead.select(Lead.id).where(Lead.status.in_(QUEUE_STATUSES)),
            Lead.select(Lead.id).where(*period_leads(today - dt.timedelta(days=ROI_DAYS), today))]


@extend.workbench_panel("leads/_wb_marketing.html", roles=("marketing",), order=1, probe=_marketing_probes)
def _marketing_panel(user, found=(True,) * 5):
    any_waiting, any_sent_back, any_due, any_queued, any_recent = found
    base = Lead.select(Lead, Customer.id, Customer.name).join(Customer, on=(Lead.customer == Customer.id))
    waiting = list(base.where(Lead.status == "routed").order_by(Lead.due_at, Lead.id).limit(10)) if any_waiting else []
    sent_back = list(base.where(Lead.status == "sent_back").order_by(Lead.sent_back_at.desc(), Lead.id.desc())
                     .limit(10)) if any_sent_back else []
    today = clock.today()
    figures = [r for r in roi(since=today - dt.timedelta(days=ROI_DAYS), until=today, any_leads=any_recent)
               if r.get("campaign")][:5]
    due_query = leads.due_for_touch().join(Customer, on=(Lead.customer == Customer.id)).select(Lead, Customer.id, Customer.name)
    due = list(due_query.order_by(Lead.next_touch_on, Lead.id).limit(10)) if any_due else []
    due_count = leads.due_for_touch().count() if len(due) == 10 else len(due)
    counts = leads.queue_counts_by_age() if any_queued else {"fresh": 0, "days": 0, "old": 0}
    return {"counts": counts, "waiting": waiting, "sent_back": sent_back,
            "due": due, "due_count": due_count, "today": today,
            "left": {r.id: leads.countdown(r) for r in waiting}, "names": _names({r.routed_to_id for r in waiting + sent_back}),
            "figures": figures, "active": active_campaigns()}


def _routed(user, *columns):
    return scope("lead", user, Lead.select(*columns).join(Customer, on=(Lead.customer == Customer.id))).where(
        Lead.status == "routed")


def _routed_probe(user):
    shape = permissions.lead_shape(user)
    if shape is True or shape is False:
        return _routed(user, Lead.id)
    key, values, condition = shape  # kept: the workbench asks it on every visit
    return extend.kept_probe(("leads.routed",) + key, lambda *v: Lead.select(Lead.id).join(
        Customer, on=(Lead.customer == Customer.id)).where(condition(*v) & (Lead.status == "routed")), *values)


@extend.workbench_panel("leads/_wb_rep.html", roles=("sales", "manager"), order=2, probe=_routed_probe)
def _rep_panel(user, found=True):
    rows = list(_routed(user, Lead, Customer.id, Customer.name).order_by(Lead.due_at).limit(10)) if found else []
    if not rows:
        return None
    return {"rows": rows, "left": {r.id: leads.countdown(r) for r in rows}, "names": _names({r.routed_to_id for r in rows})}


extend.customer_rows("lead", Lead)


@extend.side_card("leads/_side_card.html", order=15)
def _lead_card(customer, user):
    """The 360 page: the customer's leads the user may open; marketing may put a lead it holds into the queue."""
    rows = [r for r in Lead.select(Lead.id, Lead.status, Lead.source, Lead.created_at, Lead.routed_to, Lead.created_by,
                                   Lead.team).where(Lead.customer == customer.id).order_by(Lead.id.desc()).limit(3)
            if can(user, "lead.view", r)] if extend.may_have_rows(customer.id, "lead") else []
    # one query (none for a file without leads): a file has a lead or two, asked one by one
    offer = can(user, "lead.queue") and customer.stage in MARKETING_STAGES and not customer.owner_id and not any(
        r.status in QUEUE_STATUSES + ("routed",) for r in rows)
    if not rows and not offer:
        return None
    return {"rows": rows, "offer": offer, "customer": customer}


def _hours_left(minutes):
    if minutes is None:
        return ""
    sign = "-" if minutes < 0 else ""
    minutes = abs(minutes)
    return f"{sign}{minutes // 60}:{minutes % 60:02d}"


@extend.timeline("lead.")
def describe(e):
    d = e.data or {}
    k = e.kind
    if k == "lead.created":
        return _("lead received (%(source)s)", source=_(SOURCE_LABELS.get(d.get("source"), d.get("source") or "")))
    if k == "lead.routed":
        who = d.get("to") or _("nobody")
        return _("lead routed to %(to)s by %(rule)s", to=who, rule=_(leads.RULE_LABELS.get(d.get("rule"), d.get("rule") or "")))
    if k == "lead.accepted":
        return _("lead accepted")
    if k == "lead.sent_back":
        return _("lead sent back to marketing: %(reason)s", reason=d.get("reason", ""))
    if k == "lead.escalated":
        return _("lead escalated: %(rep)s did not answer by %(due)s", rep=d.get("rep", ""), due=d.get("due_at", ""))
    if k == "lead.junked":
        return _("lead judged junk: %(reason)s", reason=d.get("reason", ""))
    if k == "lead.touched":
        return _("prospect touched (%(note)s), next touch %(next)s", note=d.get("note", ""), next=d.get("next", ""))
    if k == "lead.cadence_set":
        return (_("lead's touch cadence set to every %(n)s days", n=d["days"]) if d.get("days")
                else _("lead's touch cadence back to its list's"))
    if k == "lead.nurture_cadence":
        return _("nurture list %(name)s: a touch every %(n)s days (%(leads)s prospects' next touch moved)",
                 name=d.get("nurture_list", ""), n=d.get("days", ""), leads=d.get("leads", 0))
    if k == "lead.nurtured":
        return _("lead put on the nurture list %(name)s", name=d.get("nurture_list", ""))
    if k == "lead.qualified":
        return _("lead qualified")
    if k == "lead.restored":
        return _("lead restored to the queue")
    return None


extend.template_globals(LEAD_STATUS_LABELS=LEAD_STATUS_LABELS, LEAD_RULE_LABELS=leads.RULE_LABELS,
                        LEAD_SKIP_LABELS=leads.SKIP_LABELS, LEAD_RESPONSE_LABELS=leads.RESPONSE_LABELS, LEAD_SOURCES=SOURCES)
extend.template_filters(hours_left=_hours_left)
