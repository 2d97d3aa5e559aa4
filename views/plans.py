"""Visit plans over the web: the calendar (day and week, a seller's own or, for their manager, a team
member's), the plan form (from the calendar, a suggestion or a customer's file), carrying an item out by
logging its follow-up, rolling over and closing; the team's week for managers; the workbench card and the
customer's side card. Rules live in models/plans.py."""
import datetime as dt

from flask import Blueprint, abort, render_template, request, url_for
from flask_login import current_user

from models import clock
from models import plans as pm
from models.customers import FOLLOWUP_TYPE_LABELS, Contact, Customer
from models.errors import N_, DomainError, ValidationError
from models.fields import date_or_none, id_or_none
from models.permissions import can, require
from models.search import filter_query
from models.users import User
from views import extend
from views import htmx as hx
from views.forms import field_errors
from views.i18n import translate_error

bp = Blueprint("plans", __name__, url_prefix="/plans")

OPTION_LIMIT = 20


def _form():
    return {k: v for k, v in request.form.items() if k != "csrf_token"}


def _week_start(day):
    return day - dt.timedelta(days=day.weekday())


def _rep():
    """The seller whose calendar is shown: oneself, or (?rep=) someone whose plans one may see."""
    rep_id = id_or_none(request.args.get("rep"))
    if rep_id is None or rep_id == current_user.id:
        require(current_user, "plan.view_rep", current_user)
        return current_user
    rep = User.get_or_none(User.id == rep_id)
    if rep is None:
        abort(404)
    require(current_user, "plan.view_rep", rep)
    return rep


@bp.get("/")
def calendar():
    if not can(current_user, "plan.make") and not request.args.get("rep"):
        return team()  # an admin has no plan of their own: the teams' week
    rep = _rep()
    today = clock.today()
    day = date_or_none(request.args.get("day")) or today
    view = "day" if request.args.get("view") == "day" else "week"
    if view == "day":
        first = last = day
        prev_day, next_day = day - dt.timedelta(days=1), day + dt.timedelta(days=1)
    else:
        first = _week_start(day)
        last = first + dt.timedelta(days=6)
        prev_day, next_day = first - dt.timedelta(days=7), first + dt.timedelta(days=7)
    items = pm.items_between(current_user, [rep.id], first, last)
    by_day = {}
    for item in items:
        by_day.setdefault(item.day, []).append(item)
    own = rep.id == current_user.id and can(current_user, "plan.make")
    suggestions = pm.suggestions(rep, max(day, today)) if own and view == "day" and day >= today else []
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    return render_template("plans/calendar.html", rep=rep, own=own, view=view, day=day, days=days, by_day=by_day,
                           today=today, prev_day=prev_day, next_day=next_day, suggestions=suggestions,
                           reps=_team_choices())


def _team_choices():
    if not can(current_user, "plan.team"):
        return []
    q = User.holding("sales", "manager", fields=(User.id, User.full_name))
    if can(current_user, "team.leads_one"):
        q = q.where(User.team == current_user.team_id)
    return list(q.order_by(User.full_name).limit(300))


def _contacts(customer):
    if customer is None:
        return []
    return list(Contact.select(Contact.id, Contact.name, Contact.title)
                .where((Contact.customer == customer.id) & (Contact.active == True)).order_by(Contact.id))  # noqa: E712


def _chosen_customer(raw):
    pk = id_or_none(raw)
    customer = Customer.get_or_none(Customer.id == pk) if pk else None
    return customer if customer is not None and can(current_user, "plan.customer", customer) else None


@bp.route("/new", methods=["GET", "POST"])
def new():
    require(current_user, "plan.make")
    if request.method == "POST":
        data = _form()
    else:
        tomorrow = clock.today() + dt.timedelta(days=1)
        data = {"day": request.args.get("day") or tomorrow.isoformat(), "kind": "visit",
                "customer_id": request.args.get("customer_id", ""), "source": request.args.get("source", ""),
                "objective": ""}
    errors = {}
    if request.method == "POST":
        try:
            item = pm.plan_visit(current_user, data)
        except ValidationError as exc:
            errors = field_errors(exc, joined=True)
        else:
            return hx.redirect(url_for("plans.calendar", view="day", day=item.day.isoformat()))
    customer = _chosen_customer(data.get("customer_id"))
    ctx = dict(data=data, errors=errors, customer=customer, contacts=_contacts(customer), kinds=pm.KIND_LABELS)
    if request.htmx and request.method == "POST":
        return render_template("plans/_form.html", **ctx)
    return render_template("plans/new.html", **ctx)


@bp.get("/customer-options")
def customer_options():
    """The customers the user may plan on whose name matches `q` (the plan form's picker, a fragment)."""
    require(current_user, "plan.make")
    q = (request.args.get("q") or "").strip()[:50]
    rows = []
    if q:
        mine = (Customer.team == current_user.team_id) if can(current_user, "team.leads_one") else (
            Customer.owner == current_user.id)
        found = filter_query(Customer.select().where(mine), q, Customer, small=True)
        rows = [c for c in found.order_by(Customer.name).limit(OPTION_LIMIT * 3)
                if can(current_user, "plan.customer", c)][:OPTION_LIMIT]
    return render_template("plans/_customer_options.html", rows=rows, q=q, searched=True)


@bp.get("/contact-options")
def contact_options():
    require(current_user, "plan.make")
    customer = _chosen_customer(request.args.get("customer_id"))
    return render_template("plans/_contact_select.html", contacts=_contacts(customer), data={})


def _item_form(item, page, fragment, verb, **ctx):
    """An item's form page (carry out, close): GET shows it; POST runs `verb` and answers the calendar's
    day, else the form again with the verb's field errors or its refusal (a fragment for htmx)."""
    customer = Customer.get_by_id(item.customer_id)
    ctx.update(item=item, customer=customer, errors={}, refusal=None)
    if item.status != "planned":
        ctx["refusal"] = translate_error(N_("This plan item is no longer open."))
    if request.method == "POST":
        try:
            verb()
        except ValidationError as exc:
            ctx["errors"] = field_errors(exc, joined=True)
        except DomainError as exc:
            ctx["refusal"] = translate_error(exc.message, exc.params)
        else:
            return hx.redirect(url_for("plans.calendar", view="day", day=item.day.isoformat()))
        if request.htmx:
            return render_template(fragment, **ctx)
    return render_template(page, **ctx)


@bp.route("/<int:plan_item_id>/carry-out", methods=["GET", "POST"])
def carry_out(plan_item_id):
    item = pm.load_item(current_user, plan_item_id, "plan.work")
    data = _form() if request.method == "POST" else {"type": item.kind, "contact_id": str(item.contact_id or "")}
    return _item_form(item, "plans/carry_out.html", "plans/_carry_out_form.html",
                      lambda: pm.carry_out(current_user, item, data), data=data,
                      contacts=_contacts(Customer.get_by_id(item.customer_id)))


@bp.post("/<int:plan_item_id>/roll")
def roll(plan_item_id):
    item = pm.load_item(current_user, plan_item_id, "plan.work")
    return hx.run_verb(lambda: pm.roll_over(current_user, item, _form()),
                       done=lambda new: hx.redirect(url_for("plans.calendar", view="day", day=new.day.isoformat())),
                       refused=lambda text: (render_template("error.html", message=text, status=409), 409))


@bp.route("/<int:plan_item_id>/close", methods=["GET", "POST"])
def close(plan_item_id):
    item = pm.load_item(current_user, plan_item_id, "plan.work")
    reason = request.form.get("reason", "")
    return _item_form(item, "plans/close.html", "plans/_close_form.html",
                      lambda: pm.close_item(current_user, item, reason), reason=reason)


@bp.get("/team")
def team():
    """The week of every seller of the manager's team (admins: ?team=), counts per day and status."""
    require(current_user, "plan.team")
    day = date_or_none(request.args.get("day")) or clock.today()
    first = _week_start(day)
    days = [first + dt.timedelta(days=i) for i in range(7)]
    reps = _team_choices()
    items = pm.items_between(current_user, [r.id for r in reps], days[0], days[-1])
    cells = {}
    for item in items:
        cells.setdefault((item.rep_id, item.day), []).append(item)
    return render_template("plans/team.html", reps=reps, days=days, cells=cells, today=clock.today(),
                           prev_day=first - dt.timedelta(days=7), next_day=first + dt.timedelta(days=7))


# ---- the shared screens ----------------------------------------------------------------------------------

@extend.workbench_panel("plans/_wb_today.html", roles=("sales", "manager"), order=5,
                        probe=lambda user: extend.kept_probe("plans.today", pm.day_items_query, user.id, clock.today()))
def _today_panel(user, found=True):
    today = clock.today()
    items, done = pm.day_items(user, today) if found else ([], 0)
    return {"items": items, "done": done, "today": today}


extend.customer_rows("plan_item", pm.PlanItem)


@extend.side_card("plans/_side_card.html", order=40)
def _side_card(customer, user):
    if not can(user, "plan.customer", customer) and not can(user, "plan.team"):
        return None
    items = pm.items_of_customer(user, customer.id, limit=5) if extend.may_have_rows(customer.id, "plan_item") else []
    if not items and not can(user, "plan.customer", customer):
        return None
    return {"customer": customer, "items": items, "can_plan": can(user, "plan.customer", customer)}


extend.template_globals(PLAN_KIND_LABELS=pm.KIND_LABELS, PLAN_STATUS_LABELS=pm.STATUS_LABELS,
                        PLAN_SOURCE_LABELS=pm.SOURCE_LABELS, PLAN_FOLLOWUP_TYPES=FOLLOWUP_TYPE_LABELS)


@extend.timeline("plan.")
def _describe(e):
    d = e.data or {}
    if e.kind == "plan.added":
        return translate_error(N_("Planned for %(day)s: %(objective)s"),
                               {"day": d.get("day", ""), "objective": d.get("objective", "")})
    if e.kind == "plan.done":
        return translate_error(N_("Carried out the plan of %(day)s (follow-up logged)."), {"day": d.get("day", "")})
    if e.kind == "plan.rolled":
        return translate_error(N_("Rolled a planned visit over to %(day)s."), {"day": d.get("to", "")})
    if e.kind == "plan.closed":
        return translate_error(N_("Closed a planned visit: %(reason)s"), {"reason": d.get("reason", "")})
    return None
