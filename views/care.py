"""Care plans over the web: plan care visits or calls for a key account, record one (as a follow-up),
and the service agent's upcoming care tasks on the workbench. Rules live in models/care.py."""
from flask import Blueprint, render_template, request, url_for
from flask_login import current_user

from models import care
from models import service as sv
from models import value as vm
from models.customers import FOLLOWUP_TYPE_LABELS, Contact, Customer, get_customer
from models.errors import DomainError, ValidationError
from models.permissions import can, require
from models.users import User
from views import extend
from views import htmx as hx
from views.forms import field_errors
from views.i18n import translate_error

bp = Blueprint("care", __name__, url_prefix="/care")


def _form():
    return {k: v for k, v in request.form.items() if k != "csrf_token"}


@bp.get("/")
def index():
    require(current_user, "care.plan")
    q = (care.CarePlan.select(care.CarePlan, Customer.name.alias("customer_name"), User.full_name.alias("agent_name"))
         .join(Customer, on=(care.CarePlan.customer == Customer.id))
         .switch(care.CarePlan).join(User, on=(care.CarePlan.service_user == User.id))
         .where(care.CarePlan.active == True))  # noqa: E712
    if request.args.get("all") != "1" and can(current_user, "care.own_plans"):
        q = q.where(care.CarePlan.service_user == current_user.id)
    rows = list(q.order_by(care.CarePlan.next_due, care.CarePlan.id).limit(200).objects())
    return render_template("care/index.html", rows=rows, show_all=request.args.get("all") == "1")


@bp.get("/missing")
def missing():
    """The customers of the tiers that require a care plan (the value rule's setting) without an active one."""
    require(current_user, "care.plan")
    page = care.missing_care_plans(current_user, after=request.args.get("after"))
    return render_template("care/missing.html", page=page, tiers=vm.in_force().care_tiers())


@bp.route("/new/<int:customer_id>", methods=["GET", "POST"])
def new(customer_id):
    customer = get_customer(customer_id)
    require(current_user, "care.plan", customer)
    data, errors, refusal = {"service_user_id": str(current_user.id), "kind": "visit", "every_days": "30"}, {}, None
    if not care.eligible(customer):
        refusal = translate_error("Care plans are for key accounts; %(name)s is not one.", {"name": customer.name})
    if request.method == "POST":
        data = _form()
        try:
            care.create_care_plan(current_user, customer, data)
        except ValidationError as exc:
            errors = field_errors(exc, joined=True)
        except DomainError as exc:
            refusal = translate_error(exc.message, exc.params)
        else:
            return hx.redirect(url_for("customers.show", customer_id=customer.id, tab="service"))
    ctx = dict(customer=customer, data=data, errors=errors, refusal=refusal, agents=list(sv.service_agents()),
               kinds=care.KIND_LABELS)
    if request.htmx and request.method == "POST":
        return render_template("care/_plan_form.html", **ctx)
    return render_template("care/new.html", **ctx)


@bp.route("/<int:plan_id>/record", methods=["GET", "POST"])
def record(plan_id):
    plan = care.load_plan(current_user, plan_id)
    customer = Customer.get_by_id(plan.customer_id)
    data, errors, refusal = {"type": plan.kind if plan.kind in FOLLOWUP_TYPE_LABELS else "visit"}, {}, None
    if request.method == "POST":
        data = _form()
        try:
            care.record_care(current_user, plan, data)
        except ValidationError as exc:
            errors = field_errors(exc, joined=True)
        except DomainError as exc:
            refusal = translate_error(exc.message, exc.params)
        else:
            return hx.redirect(url_for("customers.show", customer_id=customer.id, tab="service"))
    contacts = list(Contact.select(Contact.id, Contact.name, Contact.title)
                    .where((Contact.customer == customer.id) & (Contact.active == True)))  # noqa: E712
    ctx = dict(plan=plan, customer=customer, data=data, errors=errors, refusal=refusal, contacts=contacts)
    if request.htmx and request.method == "POST":
        return render_template("care/_record_form.html", **ctx)
    return render_template("care/record.html", **ctx)


@bp.post("/<int:plan_id>/end")
def end(plan_id):
    plan = care.load_plan(current_user, plan_id)
    try:
        care.end_care_plan(current_user, plan)
    except DomainError as exc:
        message = translate_error(exc.message, exc.params)
        return hx.toast(message, 409) if request.htmx else (render_template("error.html", message=message, status=409), 409)
    return hx.redirect(url_for("customers.show", customer_id=plan.customer_id, tab="service"))


@extend.workbench_panel("care/_wb_upcoming.html", roles=("service",), order=30)
def workbench_care(user):
    rows = list(care.upcoming(user))
    return {"rows": rows, "missing": care.missing_care_plans(user, limit=5).rows}


extend.template_globals(CARE_KIND_LABELS=care.KIND_LABELS)
