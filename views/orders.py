"""Orders and payments over the web: the order form, the order page with its payment schedule and
payments, and the customer's Orders tab and figures card on the 360 page."""
from decimal import Decimal

import peewee as pw

from flask import Blueprint, abort, make_response, render_template, request, url_for
from flask_login import current_user

from models import clock
from models import orders as om
from models.fields import parse_id
from models.customers import get_customer
from models.errors import N_, DomainError, ValidationError
from models.orders import (MAX_LINES, ORDER_STATUS_LABELS, PAYMENT_METHOD_LABELS, PAYMENT_METHODS, Order,
                           OrderLine, Payment, PaymentDue, Product)
from models.permissions import can, require
from views import extend
from views import htmx as hx
from views.forms import error_line, field_errors
from views.i18n import label, locale_code, translate_error

bp = Blueprint("orders", __name__)
PAGE = 20


def _customer(customer_id, action):
    customer = get_customer(customer_id)
    require(current_user, action, customer)
    return customer


def _order(order_id, action):
    order = om.get_order(order_id)
    require(current_user, action, order.customer)
    return order


def product_choices():
    """Active products grouped by product line, for the line selects."""
    loc, groups = locale_code(), {}
    for p in om.active_products():
        groups.setdefault(p.product_line or "—", []).append(p)
    return loc, groups


# ---- the 360 page: Orders tab and figures card ------------------------------------------------------

def _order_rows(customer_id, before=None):
    found = om.orders_of(customer_id, before=before, limit=PAGE)
    rows = found.rows
    ids = [o.id for o in rows]
    due, paid = {}, {}
    if ids:  # two grouped queries for the page, not two per order
        due = dict(PaymentDue.select(PaymentDue.order, pw.fn.SUM(PaymentDue.amount))
                   .where(PaymentDue.order.in_(ids)).group_by(PaymentDue.order).tuples())
        paid = dict(Payment.select(Payment.order, pw.fn.SUM(Payment.amount))
                    .where(Payment.order.in_(ids)).group_by(Payment.order).tuples())
    for o in rows:
        o.open_amount = max(om.ZERO, Decimal(str(due.get(o.id) or 0)) - Decimal(str(paid.get(o.id) or 0)))
    return {"rows": rows, "next": found.next}


@extend.customer_tab("orders", N_("Orders"), "orders/_tab.html", order=30,
                     visible=lambda user, customer: can(user, "order.view", customer))
def _tab_context(customer, user):
    return {"figures": om.customer_figures(customer.id), "orders": _order_rows(customer.id)}


extend.customer_rows("order", Order)


@extend.side_card("orders/_figures_panel.html", order=30)
def _figures_panel(customer, user):
    if not can(user, "order.view", customer):
        return None
    if not extend.may_have_rows(customer.id, "order") or not Order.select().where(Order.customer == customer.id).exists():
        return None
    return {"customer": customer, "f": om.customer_figures(customer.id)}


@bp.get("/customers/<int:customer_id>/orders")
def rows(customer_id):
    customer = _customer(customer_id, "order.view")
    return render_template("orders/_rows.html", customer=customer,
                           orders=_order_rows(customer.id, request.args.get("before")))


# ---- the order form -----------------------------------------------------------------------------------

def _blank_lines(values, count):
    return [{k: values.get(f"{k}_{i}", "") for k in ("product", "quantity", "unit_price", "unit_cost")}
            for i in range(count)]


def _line_count(values):
    used = [i for i in range(MAX_LINES) if any(values.get(f"{k}_{i}") for k in ("product", "quantity", "unit_price"))]
    return min(MAX_LINES, max(4, (max(used) + 2) if used else 4))


def _form_page(customer, order, values, errors, status=200):
    loc, groups = product_choices()
    context = dict(customer=customer, order=order, values=values, errors=errors, groups=groups, loc=loc,
                   lines=_blank_lines(values, _line_count(values)), today=clock.today())
    template = "orders/_form.html" if request.htmx and request.method == "POST" else "orders/form.html"
    return make_response(render_template(template, **context), status)


@bp.route("/customers/<int:customer_id>/orders/new", methods=["GET", "POST"])
def new(customer_id):
    customer = _customer(customer_id, "order.create")
    if request.method == "GET":
        values = {"ordered_on": clock.today().isoformat()}
        pid = request.args.get("product", type=parse_id)
        if pid and Product.get_or_none((Product.id == pid) & (Product.active == True)):  # noqa: E712
            values["product_0"] = str(pid)
        return _form_page(customer, None, values, {})
    values = {k: v for k, v in request.form.items() if k != "csrf_token"}
    try:
        order = om.create_order(current_user, customer, values, sign=request.form.get("action") == "sign")
    except ValidationError as exc:
        return _form_page(customer, None, values, field_errors(exc))
    return hx.redirect(url_for("orders.show", order_id=order.id, saved=1))


@bp.route("/orders/<int:order_id>/edit", methods=["GET", "POST"])
def edit(order_id):
    order = _order(order_id, "order.edit")
    customer = order.customer
    if order.status != "draft":
        return hx.redirect(url_for("orders.show", order_id=order.id))
    if request.method == "GET":
        values = {"ordered_on": order.ordered_on.isoformat(), "note": order.note}
        for i, ln in enumerate(OrderLine.select().where(OrderLine.order == order).order_by(OrderLine.id)):
            values.update({f"product_{i}": str(ln.product_id), f"quantity_{i}": f"{ln.quantity:f}",
                           f"unit_price_{i}": f"{ln.unit_price:f}", f"unit_cost_{i}": f"{ln.unit_cost:f}"})
        return _form_page(customer, order, values, {})
    values = {k: v for k, v in request.form.items() if k != "csrf_token"}
    try:
        om.update_order(current_user, order, values)
        if request.form.get("action") == "sign":
            om.sign_order(current_user, order)
    except ValidationError as exc:
        return _form_page(customer, order, values, field_errors(exc))
    except DomainError as exc:
        return _form_page(customer, order, values, {"lines": [translate_error(exc.message, exc.params)]})
    return hx.redirect(url_for("orders.show", order_id=order.id, saved=1))


# ---- the order page -------------------------------------------------------------------------------------

def _payments_context(order, due_values=None, due_errors=None, pay_values=None, pay_errors=None, saved=None):
    dues = list(PaymentDue.select().where(PaymentDue.order == order).order_by(PaymentDue.due_on, PaymentDue.id))
    payments = list(Payment.select().where(Payment.order == order).order_by(Payment.received_on, Payment.id))
    today = clock.today()
    allocation = om.allocate([(d.due_on, d.amount) for d in dues],
                             [(p.received_on, p.amount) for p in payments if p.received_on <= today])
    for d, (_due_on, _amount, paid_on) in zip(dues, allocation):
        d.paid_on = paid_on
        d.late_days = ((paid_on or today) - d.due_on).days
    scheduled = sum((d.amount for d in dues), om.ZERO)
    received = sum((p.amount for p in payments), om.ZERO)
    return dict(order=order, dues=dues, payments=payments, scheduled=scheduled, received=received,
                outstanding=max(om.ZERO, scheduled - received), credit=max(om.ZERO, received - scheduled),
                unscheduled=max(om.ZERO, order.total - scheduled),
                due_values=due_values or {}, due_errors=due_errors or {},
                pay_values=pay_values or {"received_on": today.isoformat(), "method": "bank_transfer"},
                pay_errors=pay_errors or {}, saved=saved, as_of=today,
                methods=[(m, label(PAYMENT_METHOD_LABELS, m)) for m in PAYMENT_METHODS])


@bp.get("/orders/<int:order_id>")
def show(order_id):
    order = _order(order_id, "order.view")
    lines = list(OrderLine.select(OrderLine, Product).join(Product).where(OrderLine.order == order)
                 .order_by(OrderLine.id))
    return render_template("orders/show.html", customer=order.customer, lines=lines, loc=locale_code(),
                           **_payments_context(order, saved=request.args.get("saved")))


def _payments_fragment(order, **kw):
    response = make_response(render_template("orders/_payments.html", customer=order.customer,
                                             **_payments_context(order, **kw)))
    return hx.trigger(response, "orderChanged") if kw.get("saved") else response


@bp.post("/orders/<int:order_id>/dues")
def add_due(order_id):
    order = _order(order_id, "payment.manage")
    values = {k: v for k, v in request.form.items() if k != "csrf_token"}
    try:
        om.add_payment_due(current_user, order, values)
    except ValidationError as exc:
        return _payments_fragment(order, due_values=values, due_errors=field_errors(exc))
    except DomainError as exc:
        return _payments_fragment(order, due_values=values, due_errors={"form": [translate_error(exc.message, exc.params)]})
    if not request.htmx:
        return hx.redirect(url_for("orders.show", order_id=order.id))
    return _payments_fragment(order, saved="due")


@bp.post("/orders/<int:order_id>/payments")
def add_payment(order_id):
    order = _order(order_id, "payment.manage")
    values = {k: v for k, v in request.form.items() if k != "csrf_token"}
    try:
        om.record_payment(current_user, order, values)
    except ValidationError as exc:
        return _payments_fragment(order, pay_values=values, pay_errors=field_errors(exc))
    except DomainError as exc:
        return _payments_fragment(order, pay_values=values, pay_errors={"form": [translate_error(exc.message, exc.params)]})
    if not request.htmx:
        return hx.redirect(url_for("orders.show", order_id=order.id))
    return _payments_fragment(order, saved="payment")


@bp.post("/orders/<int:order_id>/sign")
def sign(order_id):
    order = _order(order_id, "order.edit")
    try:
        om.sign_order(current_user, order)
    except DomainError as exc:
        return hx.toast(translate_error(exc.message, exc.params), 409) if request.htmx else abort(409)
    return hx.redirect(url_for("orders.show", order_id=order.id))


@bp.post("/orders/<int:order_id>/cancel")
def cancel(order_id):
    order = _order(order_id, "order.edit")
    try:
        om.cancel_order(current_user, order, request.form.get("reason", ""))
    except ValidationError as exc:
        message = error_line(exc)
        return hx.toast(message, 409) if request.htmx else abort(409)
    except DomainError as exc:
        return hx.toast(translate_error(exc.message, exc.params), 409) if request.htmx else abort(409)
    return hx.redirect(url_for("orders.show", order_id=order.id))


extend.template_globals(ORDER_STATUS_LABELS=ORDER_STATUS_LABELS, PAYMENT_METHOD_LABELS=PAYMENT_METHOD_LABELS)
