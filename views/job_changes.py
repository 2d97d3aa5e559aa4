"""Contacts who change job (issue 17 item 5): the form on a contact of a customer one edits, a lookup of the
customers one may move them to, and the sentences of the timeline rows."""
from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user

from models import job_changes as jc
from models.customer_tables import Customer
from models.customers import DECISION_ROLE_LABELS, DECISION_ROLES, Contact, get_customer
from models.errors import DomainError, NotFound, ValidationError
from models.permissions import can, require
from models.pickers import customer_lookup
from views import extend
from views.customers import count_pool_view
from views.forms import field_errors
from views.i18n import gettext as _
from views.i18n import translate_error
from views.i18n import label

bp = Blueprint("job_changes", __name__, url_prefix="/customers")

FIELDS = ("customer_id", "company", "title", "department", "decision_role")


def _load(customer_id, contact_id):
    customer = get_customer(customer_id)
    require(current_user, "contact.change_job", customer)
    contact = Contact.get_or_none((Contact.id == contact_id) & (Contact.customer == customer.id))
    if contact is None:
        raise NotFound()
    count_pool_view(customer)
    return customer, contact


def _chosen(raw):
    """The customer picked in the form (redrawn after an error), if the user may edit it."""
    try:
        pk = int(str(raw or "0"))
    except ValueError:
        return None
    c = Customer.get_or_none(Customer.id == pk) if 0 < pk < 2 ** 63 else None
    return c if c is not None and can(current_user, "customer.edit", c) else None


@bp.route("/<int:customer_id>/contacts/<int:contact_id>/job-change", methods=["GET", "POST"])
def form(customer_id, contact_id):
    customer, contact = _load(customer_id, contact_id)
    values = {k: (request.form.get(k) or "").strip() for k in FIELDS} if request.method == "POST" else {
        "customer_id": "", "company": "", "title": contact.title, "department": "",
        "decision_role": contact.decision_role}
    errors, refusal, status = {}, "", 200
    if request.method == "POST":
        try:
            moved = jc.change_job(current_user, contact, values)
        except ValidationError as exc:
            errors, status = field_errors(exc, joined=True), 422
        except DomainError as exc:
            if isinstance(exc, NotFound):
                raise
            refusal, status = translate_error(exc.message, exc.params), 409
        else:
            if moved.customer_id != customer.id:
                return redirect(url_for("customers.show", customer_id=moved.customer_id, tab="contacts", moved=contact.id))
            return redirect(url_for("customers.show", customer_id=customer.id, tab="contacts", moved=contact.id))
    roles = [("", "—")] + [(k, label(DECISION_ROLE_LABELS, k)) for k in DECISION_ROLES]
    return render_template("job_changes/form.html", customer=customer, contact=contact, values=values, errors=errors,
                           refusal=refusal, roles=roles, chosen=_chosen(values.get("customer_id")),
                           history=jc.history(contact)), status


@bp.get("/<int:customer_id>/contacts/<int:contact_id>/job-change/lookup")
def lookup(customer_id, contact_id):
    """Radio buttons for the customers (that the user edits) matching the company typed."""
    customer, contact = _load(customer_id, contact_id)
    q = (request.args.get("company") or "").strip()[:100]
    rows = [c for c in customer_lookup(current_user, q, limit=12)
            if c.id != customer.id and can(current_user, "customer.edit", c)][:8]
    return render_template("job_changes/_matches.html", rows=rows, q=q, contact=contact)


@extend.timeline("contact.left_for")
def describe_left(e):
    d = e.data
    if d.get("to_customer_id"):
        return _("%(name)s left for %(company)s (their new role is kept there, with the relationship).",
                 name=d.get("name", ""), company=extend.names().customer(d["to_customer_id"], d.get("company", "")))
    return _("%(name)s left for %(company)s (not a customer in the CRM).", name=d.get("name", ""),
             company=d.get("company", ""))


@extend.timeline("contact.joined_from")
def describe_joined(e):
    d = e.data
    return _("%(name)s joined as %(title)s, coming from %(customer)s: the follow-ups with them stay there.",
             name=d.get("name", ""), title=d.get("title") or "—",
             customer=extend.names().customer(d.get("from_customer_id"), "?"))


extend.template_globals(contact_earlier_roles=jc.earlier_roles)
