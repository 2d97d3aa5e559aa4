"""Reorder cycles over the web: the customer's Reorder tab (suggested cycles to accept or edit), the
reorder to-dos and churn risks on the workbench, and the reorder calendar with adherence."""
import calendar as cal
import datetime as dt

from flask import Blueprint, make_response, render_template, request, url_for
from flask_login import current_user

from models import clock
from models import reorders as rm
from models.fields import parse_id
from models.customers import get_customer
from models.errors import N_, DomainError, ValidationError
from models.orders import Product
from models.permissions import can, require
from models.users import Team, User
from views import extend
from views import htmx as hx
from views.forms import field_errors
from views.i18n import label, locale_code, translate_error

bp = Blueprint("reorders", __name__)


def _customer(customer_id, action):
    customer = get_customer(customer_id)
    require(current_user, action, customer)
    return customer


def _service_users():
    return list(User.holding("service", fields=(User.id, User.full_name)).order_by(User.full_name))


def _candidates(customer, cycles):
    """Consumables the customer has ordered but keeps no cycle for, each with the suggested cycle."""
    have = {c.product_id for c in cycles}
    dates = {pid: days for pid, days in rm.ordered_consumables(customer.id).items() if pid not in have}
    if not dates:
        return []
    products = Product.select().where(Product.id.in_(list(dates))).order_by(Product.code)
    return [(p, rm.suggestion_from_dates(dates[p.id])) for p in products]


def _suggested_values(s):
    if not s or not s.get("enough"):
        return {"every": "", "unit": "month", "starts_on": clock.today().isoformat(), "remind_days": "7"}
    return {"every": str(s["every"]), "unit": s["unit"], "starts_on": s["starts_on"].isoformat(),
            "remind_days": str(s["remind_days"]), "suggested": "1"}


@extend.customer_tab("reorders", N_("Reorder cycles"), "reorders/_tab.html", order=31,
                     visible=lambda user, customer: can(user, "order.view", customer))
def _tab_context(customer, user):
    cycles = rm.customer_status(customer.id)
    # The keys join the 360 page's own context: no `today` (a template global) or other shared names.
    return {"cycles": cycles, "candidates": _candidates(customer, cycles), "loc": locale_code()}


extend.customer_rows("reorder_cycle", rm.ReorderCycle)


@extend.side_card("reorders/_status_panel.html", order=10)
def _status_panel(customer, user):
    if not can(user, "order.view", customer):
        return None
    if not extend.may_have_rows(customer.id, "reorder_cycle"):
        return None
    cycles = [c for c in rm.customer_status(customer.id) if c.active or c.open_todo]
    if not cycles:
        return None
    return {"customer": customer, "cycles": cycles[:5], "more": max(0, len(cycles) - 5),
            "churn": any(c.open_todo and c.open_todo.flagged_at for c in cycles), "loc": locale_code()}


# ---- accepting and editing a cycle -----------------------------------------------------------------

def _form(customer, cycle, product, values, errors, suggestion=None, status=200):
    consumables = [] if cycle or product else list(
        Product.select().where((Product.active == True) & (Product.consumable == True)).order_by(Product.code))  # noqa: E712
    response = make_response(render_template(
        "reorders/_form.html", customer=customer, cycle=cycle, product=product, values=values, errors=errors,
        suggestion=suggestion, consumables=consumables, service_users=_service_users(), loc=locale_code(),
        units=[(u, label(rm.UNIT_LABELS, u)) for u in rm.UNITS]), status)
    return response


@bp.get("/customers/<int:customer_id>/reorders/new")
def new_form(customer_id):
    customer = _customer(customer_id, "reorder.manage")
    pid = request.args.get("product_id", type=parse_id)
    product = Product.get_or_none(Product.id == pid) if pid else None
    suggestion = rm.suggest_cycle(customer.id, product.id) if product else None
    values = _suggested_values(suggestion)
    if product:
        values["product_id"] = str(product.id)
    return _form(customer, None, product, values, {}, suggestion)


@bp.post("/customers/<int:customer_id>/reorders")
def create(customer_id):
    customer = _customer(customer_id, "reorder.manage")
    values = {k: v for k, v in request.form.items() if k != "csrf_token"}
    try:
        rm.save_cycle(current_user, customer, values)
    except ValidationError as exc:
        pid = request.form.get("product_id", type=parse_id) if values.get("fixed") else None
        product = Product.get_or_none(Product.id == pid) if pid else None
        return _form(customer, None, product, values, field_errors(exc))
    return _tab_response(customer, saved=True)


def _tab_response(customer, saved=False):
    context = _tab_context(customer, current_user)
    if not request.htmx:
        return hx.redirect(url_for("customers.show", customer_id=customer.id, tab="reorders"))
    return hx.fragment("reorders/_tab.html", "customerChanged", target="#tab-body", customer=customer, saved=saved,
                       **context)


def _cycle(cycle_id):
    cycle = rm.get_cycle(cycle_id)
    require(current_user, "reorder.manage", cycle.customer)
    return cycle


@bp.route("/reorders/<int:cycle_id>/edit", methods=["GET", "POST"])
def edit(cycle_id):
    cycle = _cycle(cycle_id)
    customer = cycle.customer
    if request.method == "GET":
        values = {"every": str(cycle.every), "unit": cycle.unit, "starts_on": cycle.starts_on.isoformat(),
                  "ends_on": cycle.ends_on.isoformat() if cycle.ends_on else "", "remind_days": str(cycle.remind_days),
                  "service_user_id": str(cycle.service_user_id or "")}
        return _form(customer, cycle, cycle.product, values, {}, rm.suggest_cycle(customer.id, cycle.product_id))
    values = {k: v for k, v in request.form.items() if k != "csrf_token"}
    try:
        rm.save_cycle(current_user, customer, values, cycle)
    except ValidationError as exc:
        return _form(customer, cycle, cycle.product, values, field_errors(exc))
    return _tab_response(customer, saved=True)


@bp.post("/reorders/<int:cycle_id>/end")
def end(cycle_id):
    cycle = _cycle(cycle_id)
    try:
        rm.end_cycle(current_user, cycle)
    except DomainError as exc:
        return hx.toast(translate_error(exc.message, exc.params), 409)
    return _tab_response(cycle.customer, saved=True)


# ---- workbench ------------------------------------------------------------------------------------

def _todo_probe(user):
    as_service = can(user, "reorder.as_service")
    return extend.kept_probe(("reorders.todo", as_service), lambda user_id, today: rm.open_todo_ids(
        user_id, as_service, today), user.id, clock.today())


@extend.workbench_panel("reorders/_todo_panel.html", roles=("sales", "manager", "service"), order=20,
                        probe=_todo_probe)
def _todo_panel(user, found=True):
    today = clock.today()
    todos = list(rm.open_todos(user, today, limit=15)) if found else []
    return {"todos": todos, "count": rm.open_todo_count(user, today) if len(todos) == 15 else len(todos),
            "today": today, "loc": locale_code()}


def _team_reps(user):
    """{id: full name} of the reps whose churn risks `user` sees (their team's users, read once a request)."""
    if can(user, "team.leads_one"):
        return {u.id: u.full_name for u in extend.team_members(user.team_id)}
    return {user.id: user.full_name}


def _churn_probe(user):
    ids = list(_team_reps(user))
    return extend.kept_probe(("reorders.churn", len(ids)), lambda *v: rm.churn_risk_ids(v), *ids)


@extend.workbench_panel("reorders/_churn_panel.html", roles=("sales", "manager"), order=21, probe=_churn_probe)
def _churn_panel(user, found=True):
    reps = _team_reps(user)
    risks = list(rm.churn_risks(list(reps), limit=10)) if found else []
    names = {}
    if can(user, "team.lead"):
        names = {t.rep_id: reps[t.rep_id] for t in risks}  # a risk is always one of `reps`
    return {"risks": risks, "names": names, "loc": locale_code()}


# ---- calendar and adherence -----------------------------------------------------------------------

def _scope(user):
    """(title, rep ids, service user id or None, teams to choose from, chosen team)."""
    if can(user, "reorder.as_service"):
        return None, [], user.id, [], None
    if not can(user, "team.lead") and not can(user, "reorder.any_team"):
        return "mine", [user.id], None, [], None
    teams = []
    team_id = user.team_id if can(user, "team.lead") else None
    if can(user, "reorder.any_team"):
        teams = list(Team.select().order_by(Team.name))
        team_id = request.args.get("team", type=parse_id) or (teams[0].id if teams else None)
    scope = request.args.get("scope", "team")
    if can(user, "team.lead") and (scope == "mine" or not team_id):
        return "mine", [user.id], None, [], None
    ids = [u for (u,) in User.select(User.id).where(User.team == team_id).tuples()] if team_id else []
    return "team", ids, None, teams, team_id


@bp.get("/reorders/calendar")
def calendar():
    require(current_user, "reorder.calendar")
    today = clock.today()
    try:
        year, month = (int(x) for x in request.args.get("month", "").split("-"))
        dt.date(year, month, 1)
        if not 2000 <= year <= 2100:
            raise ValueError
    except ValueError:
        year, month = today.year, today.month
    scope, rep_ids, service_id, teams, team_id = _scope(current_user)
    entries = rm.calendar_entries(rep_ids, year, month, service_user_id=service_id, today=today)
    weeks = cal.Calendar(firstweekday=0).monthdatescalendar(year, month)
    prev_month = (dt.date(year, month, 1) - dt.timedelta(days=1)).strftime("%Y-%m")
    next_month = (dt.date(year, month, 28) + dt.timedelta(days=5)).strftime("%Y-%m")
    people = {u.id: u.full_name for u in User.select(User.id, User.full_name).where(User.id.in_(rep_ids))} if rep_ids else {}
    rates = rm.adherence(rep_ids, today) if rep_ids else {}
    ok_total, n_total = sum(v[0] for v in rates.values()), sum(v[1] for v in rates.values())
    return render_template("reorders/calendar.html", weeks=weeks, entries=entries, year=year, month=month,
                           first=dt.date(year, month, 1), as_of=today, prev_month=prev_month, next_month=next_month,
                           scope=scope, teams=teams, team_id=team_id, people=people, rates=rates,
                           team_rate=(ok_total, n_total), loc=locale_code(), tolerance=rm.TOLERANCE_DAYS,
                           adherence_days=rm.ADHERENCE_DAYS)


extend.template_globals(REORDER_UNIT_LABELS=rm.UNIT_LABELS)
