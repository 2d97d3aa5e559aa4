"""Products, orders and payments (domain §9): what a customer bought, at what price and cost, what
is due and what came in; the customer's 12-month sales, collection rate and days late.

Money is stored as decimals with two places (yuan). An order's `total` and `cost` are kept in step
with its lines by the verbs, so lists and sums never add up lines.
"""
import datetime as dt
from decimal import Decimal

import peewee as pw

from models import audit, clock, hooks
from models import perf_tables as perf
from models.base import BaseModel, db, fresh
from models.customers import Customer, change_stage
from models.fields import clean_text, date_field, id_or_none, parse_bool, parse_decimal, take
from models.errors import DomainError, FieldErrors, N_, NotFound, ValidationError
from models.keyset import keyset_page
from models.permissions import require
from models.users import User

ORDER_STATUSES = ("draft", "signed", "cancelled")
ORDER_STATUS_LABELS = {"draft": N_("Draft order"), "signed": N_("Signed order"), "cancelled": N_("Cancelled order")}
PAYMENT_METHODS = ("bank_transfer", "acceptance_bill", "cash", "cheque", "online")
PAYMENT_METHOD_LABELS = {
    "bank_transfer": N_("Bank transfer"), "acceptance_bill": N_("Bank acceptance bill"), "cash": N_("Cash"),
    "cheque": N_("Cheque"), "online": N_("Online payment"),
}
# When a signed order has no payment schedule, one due date for the total, this many days after the order.
DEFAULT_TERMS_DAYS = 30
MAX_AMOUNT = Decimal("9999999999.99")
MAX_QUANTITY = Decimal("1000000")
MAX_LINES = 50
CENT = Decimal("0.01")
ZERO = Decimal("0.00")
STAGES_BEFORE_SIGNED = ("unidentified", "prospect", "target", "intent")


def _money_field(**kw):
    return pw.DecimalField(max_digits=14, decimal_places=2, auto_round=True, **kw)


class Product(BaseModel):
    """The admin-kept product list: consumables (reordered in cycles) and equipment."""
    code = pw.CharField(max_length=30, unique=True)
    name_zh = pw.CharField(max_length=100)
    name_en = pw.CharField(max_length=100)
    product_line = pw.CharField(max_length=40, default="", index=True)
    unit = pw.CharField(max_length=10, default="")
    list_price = _money_field()
    unit_cost = _money_field()
    consumable = pw.BooleanField(default=False)
    active = pw.BooleanField(default=True)
    updated_at = pw.DateTimeField()

    def label(self, locale):
        return self.name_zh if str(locale).startswith("zh") else self.name_en


class Order(BaseModel):
    """An order on a customer. `rep` is the owner when it was taken (who sold it)."""
    customer = pw.ForeignKeyField(Customer, on_delete="CASCADE", index=False, backref="orders")
    rep = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="orders")
    ordered_on = pw.DateField()
    status = pw.CharField(max_length=10, default="draft")
    total = _money_field(default=ZERO)
    cost = _money_field(default=ZERO)
    note = pw.CharField(max_length=200, default="")
    created_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
    created_at = pw.DateTimeField()
    signed_at = pw.DateTimeField(null=True)
    cancelled_at = pw.DateTimeField(null=True)

    class Meta:
        indexes = ((("customer", "ordered_on", "id"), False), (("rep", "ordered_on"), False),
                   (("status", "ordered_on"), False))

    @property
    def margin(self):
        return (self.total or ZERO) - (self.cost or ZERO)

    @property
    def margin_pct(self):
        return None if not self.total else round(100 * self.margin / self.total, 1)


class OrderLine(BaseModel):
    order = pw.ForeignKeyField(Order, on_delete="CASCADE", backref="lines", index=False)
    product = pw.ForeignKeyField(Product, on_delete="RESTRICT", index=False)
    quantity = pw.DecimalField(max_digits=12, decimal_places=2, auto_round=True)
    unit_price = _money_field()
    unit_cost = _money_field()
    amount = _money_field()  # quantity × unit price, rounded to the cent

    class Meta:
        indexes = ((("order", "id"), False), (("product", "order"), False))

    @property
    def cost_amount(self):
        return (self.quantity * self.unit_cost).quantize(CENT)


class PaymentDue(BaseModel):
    """One instalment of an order's payment schedule."""
    order = pw.ForeignKeyField(Order, on_delete="CASCADE", backref="dues", index=False)
    customer = pw.ForeignKeyField(Customer, on_delete="CASCADE", index=False)
    due_on = pw.DateField()
    amount = _money_field()

    class Meta:
        indexes = ((("order", "due_on"), False), (("customer", "due_on"), False))


class Payment(BaseModel):
    """Money received against an order. A prepayment may exceed what is due (the excess is credit)."""
    order = pw.ForeignKeyField(Order, on_delete="CASCADE", backref="payments", index=False)
    customer = pw.ForeignKeyField(Customer, on_delete="CASCADE", index=False)
    received_on = pw.DateField()
    amount = _money_field()
    method = pw.CharField(max_length=20)
    prepayment = pw.BooleanField(default=False)
    recorded_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
    created_at = pw.DateTimeField()

    class Meta:
        indexes = ((("order", "received_on"), False), (("customer", "received_on"), False))


# ---- products ------------------------------------------------------------------------------------

PRODUCT_FIELDS = ("code", "name_zh", "name_en", "product_line", "unit", "list_price", "unit_cost", "consumable",
                  "active")


def validate_product(data, product=None):
    e = FieldErrors()
    out = {}
    for field, n, required in (("code", 30, True), ("name_zh", 100, True), ("name_en", 100, True),
                               ("product_line", 40, False), ("unit", 10, False)):
        value = clean_text(data.get(field), n)
        if value is None:
            e.add(field, N_("At most %(n)s characters."), n=n)
        elif required and not value:
            e.add(field, N_("Required."))
        out[field] = value or ""
    if out["code"]:
        out["code"] = out["code"].upper()
        clash = Product.select().where(Product.code == out["code"])
        if product is not None:
            clash = clash.where(Product.id != product.id)
        if clash.exists():
            e.add("code", N_("Another product has this code."))
    out["list_price"] = take(e, "list_price", parse_decimal, data.get("list_price"))
    out["unit_cost"] = take(e, "unit_cost", parse_decimal, data.get("unit_cost"), allow_zero=True)
    out["consumable"] = parse_bool(data.get("consumable"))
    out["active"] = parse_bool(data.get("active")) if "active" in data else (product.active if product else True)
    e.raise_if_any()
    return out


def save_product(actor, data, product=None):
    """Create or update a product of the list (admins)."""
    require(actor, "product.manage")
    values = validate_product(data, product)
    with db.atomic():
        if product is None:
            product = Product.create(updated_at=clock.now(), **values)
            audit.record("product.created", actor, None, product_id=product.id, code=product.code)
        else:
            fresh(product)  # compare with what is there now; write only what changes
            changed = {k: str(v) for k, v in values.items() if getattr(product, k) != v}
            for k in changed:
                setattr(product, k, values[k])
            product.updated_at = clock.now()
            product.save()
            if changed:
                audit.record("product.updated", actor, None, product_id=product.id, code=product.code, changed=changed)
    return product


def import_products(actor, rows):
    """Create or update products from imported rows (dicts keyed by PRODUCT_FIELDS), all or nothing.
    Returns (created, updated); a ValidationError names the row numbers (1 = first data row) and fields."""
    require(actor, "product.manage")
    problems, planned, seen = {}, [], set()
    for number, row in enumerate(rows, start=1):
        code = (clean_text(row.get("code"), 30) or "").upper()
        if not any(str(v or "").strip() for v in row.values()):
            continue
        existing = Product.get_or_none(Product.code == code) if code else None
        data = dict(row)
        data.setdefault("active", "1")
        try:
            values = validate_product(data, existing)
            if values["code"] in seen:
                raise ValidationError({"code": [(N_("This code appears twice in the file."), {})]})
        except ValidationError as exc:
            problems[f"row {number}"] = [(m, dict(p, row=number, field=field))
                                         for field, msgs in exc.errors.items() for m, p in msgs]
            continue
        seen.add(values["code"])
        planned.append((existing, values))
        if len(problems) > 20:
            break
    if problems:
        raise ValidationError(problems)
    if not planned:
        raise DomainError(N_("The file has no product rows."))
    created = updated = 0
    with db.atomic():
        now = clock.now()
        for existing, values in planned:
            if existing is None:
                Product.create(updated_at=now, **values)
                created += 1
            else:
                Product.update(updated_at=now, **values).where(Product.id == existing.id).execute()
                updated += 1
        audit.record("product.imported", actor, None, created=created, updated=updated)
    return created, updated


def active_products():
    return Product.select().where(Product.active == True).order_by(Product.product_line, Product.code)  # noqa: E712


# ---- orders --------------------------------------------------------------------------------------

_signed_listeners = []


def on_signed(fn):
    """Register fn(order, lines) to run inside the transaction that signs an order (reorder cycles
    move their next expected date; service counts repurchase conversions)."""
    if fn not in _signed_listeners:
        _signed_listeners.append(fn)
    return fn


def get_order(order_id):
    pk = id_or_none(order_id)
    order = Order.get_or_none(Order.id == pk) if pk else None
    if order is None:
        raise NotFound()
    return order


def validate_order(data):
    """Header and lines of an order form. Lines arrive as product_N / quantity_N / unit_price_N /
    unit_cost_N (N = 0..); a row with no product and no numbers is skipped."""
    e = FieldErrors()
    today = clock.today()
    ordered_on = date_field(e, data, "ordered_on", today - dt.timedelta(days=3 * 366), today + dt.timedelta(days=31),
                            required=True)
    note = clean_text(data.get("note"), 200)
    if note is None:
        e.add("note", N_("At most %(n)s characters."), n=200)
    lines = []
    for i in range(MAX_LINES):
        keys = [f"{k}_{i}" for k in ("product", "quantity", "unit_price", "unit_cost")]
        if not any(str(data.get(k) or "").strip() for k in keys):
            continue
        pid = id_or_none(data.get(keys[0]))
        product = Product.get_or_none((Product.id == pid) & (Product.active == True)) if pid else None  # noqa: E712
        if product is None:
            e.add(keys[0], N_("Choose a product from the list."))
        quantity = take(e, keys[1], parse_decimal, data.get(keys[1]), hi=MAX_QUANTITY)
        price_raw = data.get(keys[2])
        if product is not None and not str(price_raw or "").strip():
            price_raw = product.list_price
        price = take(e, keys[2], parse_decimal, price_raw)
        cost_raw = data.get(keys[3])
        if product is not None and not str(cost_raw or "").strip():
            cost_raw = product.unit_cost
        cost = take(e, keys[3], parse_decimal, cost_raw, allow_zero=True)
        if product is not None and quantity is not None and price is not None and cost is not None:
            amount = (quantity * price).quantize(CENT)
            if amount > MAX_AMOUNT:
                e.add(keys[1], N_("That number is too large."))
            lines.append({"product": product, "quantity": quantity, "unit_price": price, "unit_cost": cost,
                          "amount": amount})
    if not lines and not e:
        e.add("lines", N_("Add at least one line."))
    total = sum((ln["amount"] for ln in lines), ZERO)
    if total > MAX_AMOUNT:
        e.add("lines", N_("That number is too large."))
    e.raise_if_any()
    return {"ordered_on": ordered_on, "note": note or "", "lines": lines}


def _write_lines(order, lines):
    OrderLine.delete().where(OrderLine.order == order).execute()
    OrderLine.insert_many([dict(order=order.id, product=ln["product"].id, quantity=ln["quantity"],
                                unit_price=ln["unit_price"], unit_cost=ln["unit_cost"], amount=ln["amount"])
                           for ln in lines]).execute()
    order.total = sum((ln["amount"] for ln in lines), ZERO)
    order.cost = sum(((ln["quantity"] * ln["unit_cost"]).quantize(CENT) for ln in lines), ZERO)


def create_order(actor, customer, data, sign=False):
    """An order on a customer, as a draft or signed at once."""
    require(actor, "order.create", customer)
    values = validate_order(data)
    with db.atomic():
        fresh(customer)  # the rep is the owner it has now
        require(actor, "order.create", customer)
        now = clock.now()
        order = Order.create(customer=customer, rep=customer.owner_id or (actor.id if actor.role in ("sales", "manager") else None),
                             ordered_on=values["ordered_on"], note=values["note"], created_by=actor, created_at=now)
        _write_lines(order, values["lines"])
        order.save()
        audit.record("order.created", actor, customer, order_id=order.id, total=str(order.total),
                     lines=len(values["lines"]))
        if sign:
            _sign(actor, order, customer)
    return order


def update_order(actor, order, data):
    """Replace a draft's date, note and lines."""
    require(actor, "order.edit", order.customer)
    values = validate_order(data)
    with db.atomic():
        customer = _current(actor, order, "order.edit")
        if order.status != "draft":
            raise DomainError(N_("Only a draft can be changed; this order is %(status)s."),
                              status=ORDER_STATUS_LABELS[order.status])
        order.ordered_on, order.note = values["ordered_on"], values["note"]
        _write_lines(order, values["lines"])
        order.save()
        audit.record("order.updated", actor, customer, order_id=order.id, total=str(order.total))
    return order


def sign_order(actor, order):
    """Sign a draft: its payment schedule is completed, a first signed order moves the customer to
    'signed' on the lifecycle ladder, and reorder cycles move on — all in one transaction."""
    require(actor, "order.edit", order.customer)
    with db.atomic():  # two signatures at once: the second sees a signed order and is refused
        customer = _current(actor, order, "order.edit")
        if order.status != "draft":
            raise DomainError(N_("Only a draft can be signed; this order is %(status)s."),
                              status=ORDER_STATUS_LABELS[order.status])
        _sign(actor, order, customer)
    return order


def _current(actor, order, action):
    """Re-read `order` inside the verb's transaction and return its customer as it is now, `action`
    re-checked on it: status, totals and the owner are decided on the rows, not on the page's copy."""
    fresh(order)
    customer = order.customer
    require(actor, action, customer)
    return customer


def _sign(actor, order, customer):
    first = not Order.select().where((Order.customer == customer.id) & (Order.status == "signed")
                                     & (Order.id != order.id)).exists()
    order.status, order.signed_at = "signed", clock.now()
    order.save()
    perf.order_signed(order, customer)
    scheduled = PaymentDue.select(pw.fn.COALESCE(pw.fn.SUM(PaymentDue.amount), 0)).where(PaymentDue.order == order).scalar()
    rest = order.total - Decimal(str(scheduled or 0)).quantize(CENT)
    if rest > 0:  # the part without a schedule falls due on the default terms
        PaymentDue.create(order=order, customer=customer.id, amount=rest,
                          due_on=order.ordered_on + dt.timedelta(days=DEFAULT_TERMS_DAYS))
    audit.record("order.signed", actor, customer, order_id=order.id, total=str(order.total),
                 ordered_on=order.ordered_on.isoformat())
    if first and customer.stage in STAGES_BEFORE_SIGNED:
        change_stage(actor, customer, "signed", reason="first signed order")
    lines = list(OrderLine.select().where(OrderLine.order == order))
    for fn in _signed_listeners:
        fn(order, lines)
    note_deal_activity(customer)


def note_deal_activity(customer):
    """Inside the verb's transaction: keep `customer.last_deal_on` (its last signed order's date or received
    payment's, which the pool rules' order protection reads) in step with its orders and payments, and have
    the release date recomputed when it moved."""
    last_order = (Order.select(pw.fn.MAX(Order.ordered_on))
                  .where((Order.customer == customer.id) & (Order.status == "signed")).scalar())
    last_paid = Payment.select(pw.fn.MAX(Payment.received_on)).where(Payment.customer == customer.id).scalar()
    dates = [dt.date.fromisoformat(str(d)[:10]) for d in (last_order, last_paid) if d]
    value = max(dates) if dates else None
    if value == customer.last_deal_on:
        return
    Customer.update(last_deal_on=value).where(Customer.id == customer.id).execute()
    customer.last_deal_on = value
    if customer.owner_id:
        hooks.fire("customer_changed", customer, clock.now())


def cancel_order(actor, order, reason=""):
    require(actor, "order.edit", order.customer)
    reason = clean_text(reason, 200)
    if reason is None:
        raise ValidationError({"reason": [(N_("At most %(n)s characters."), {"n": 200})]})
    with db.atomic():
        customer = _current(actor, order, "order.edit")
        if order.status == "cancelled":
            return order
        if Payment.select().where(Payment.order == order).exists():
            raise DomainError(N_("Payments were received against this order; it cannot be cancelled."))
        if order.status == "signed" and order.signed_at:  # the revenue counted when it was signed goes back
            perf.order_signed(order, customer, sign=-1)
        order.status, order.cancelled_at = "cancelled", clock.now()
        order.save()
        PaymentDue.delete().where(PaymentDue.order == order).execute()
        audit.record("order.cancelled", actor, customer, order_id=order.id, reason=reason)
        note_deal_activity(customer)
    return order


# ---- payments ------------------------------------------------------------------------------------

def _sum(query):
    return Decimal(str(query.scalar() or 0)).quantize(CENT)


def scheduled_total(order):
    return _sum(PaymentDue.select(pw.fn.SUM(PaymentDue.amount)).where(PaymentDue.order == order))


def received_total(order):
    return _sum(Payment.select(pw.fn.SUM(Payment.amount)).where(Payment.order == order))


def outstanding(order):
    """What is still due on the order under its schedule (never below zero)."""
    return max(ZERO, scheduled_total(order) - received_total(order))


def add_payment_due(actor, order, data):
    """Add an instalment to the order's schedule; the schedule may not exceed the order total."""
    require(actor, "payment.manage", order.customer)
    with db.atomic():  # the room left is what the schedule leaves now, not when the page was read
        customer = _current(actor, order, "payment.manage")
        if order.status == "cancelled":
            raise DomainError(N_("This order is cancelled."))
        e = FieldErrors()
        due_on = date_field(e, data, "due_on", order.ordered_on - dt.timedelta(days=366),
                             order.ordered_on + dt.timedelta(days=3 * 366), required=True)
        amount = take(e, "amount", parse_decimal, data.get("amount"))
        if amount is not None:
            room = order.total - scheduled_total(order)
            if amount > room:
                e.add("amount", N_("The schedule would exceed the order total; at most %(room)s is left to schedule."),
                      room=f"{max(room, ZERO):,.2f}")
        e.raise_if_any()
        due = PaymentDue.create(order=order, customer=customer.id, due_on=due_on, amount=amount)
        audit.record("payment.scheduled", actor, customer, order_id=order.id, due_on=due_on.isoformat(),
                     amount=str(amount))
    return due


def record_payment(actor, order, data):
    """Money received against a signed order. More than what is outstanding is refused unless the
    payment is marked as a prepayment (the excess is then the customer's credit)."""
    require(actor, "payment.manage", order.customer)
    with db.atomic():  # what is outstanding now: two payments at once cannot both take the last instalment
        customer = _current(actor, order, "payment.manage")
        if order.status != "signed":
            raise DomainError(N_("Payments are recorded against signed orders."))
        e = FieldErrors()
        today = clock.today()
        received_on = date_field(e, data, "received_on", order.ordered_on - dt.timedelta(days=366), today, required=True)
        amount = take(e, "amount", parse_decimal, data.get("amount"))
        method = str(data.get("method") or "").strip()
        if method not in PAYMENT_METHODS:
            e.add("method", N_("Choose one of the options."))
        prepayment = parse_bool(data.get("prepayment"))
        if amount is not None:
            left = outstanding(order)
            if amount > left and not prepayment:
                e.add("amount", N_("Only %(due)s is outstanding on this order. Mark the payment as a prepayment to "
                                   "accept more."), due=f"{left:,.2f}")
        e.raise_if_any()
        payment = Payment.create(order=order, customer=customer.id, received_on=received_on, amount=amount,
                                 method=method, prepayment=prepayment, recorded_by=actor, created_at=clock.now())
        perf.payment_received(order, customer, received_on, amount)
        audit.record("payment.received", actor, customer, order_id=order.id, amount=str(amount), method=method,
                     prepayment=prepayment, received_on=received_on.isoformat())
        hooks.fire("payment_received", customer.id, clock.now())
        note_deal_activity(customer)
    return payment


# ---- figures -------------------------------------------------------------------------------------

def allocate(dues, payments):
    """Payments applied to dues in due-date order (first in, first out). Returns, per due, (due_on,
    amount, paid_on or None): the day the cumulative payments covered it."""
    dues = sorted(dues, key=lambda d: d[0])
    payments = sorted(payments, key=lambda p: p[0])
    out, pi, credit, credit_on = [], 0, ZERO, None
    for due_on, amount in dues:
        need = amount
        while need > 0:
            if credit <= 0:
                if pi >= len(payments):
                    break
                credit_on, credit = payments[pi]
                pi += 1
            used = min(need, credit)
            need -= used
            credit -= used
        out.append((due_on, amount, credit_on if need <= 0 else None))
    return out


def customer_figures(customer_id, today=None):
    """12-month sales (signed orders dated in the last 365 days), margin, and for the instalments
    that fell due in those 12 months: collection rate (collected / due) and average days late
    (paid late: days after the due date; still unpaid: days until today; on time: 0)."""
    today = today or clock.today()
    since = today - dt.timedelta(days=365)
    sales = (Order.select(pw.fn.SUM(Order.total), pw.fn.SUM(Order.cost), pw.fn.COUNT(Order.id))
             .where((Order.customer == customer_id) & (Order.status == "signed")
                    & (Order.ordered_on > since) & (Order.ordered_on <= today)).tuples().first())
    total, cost, count = (Decimal(str(sales[0] or 0)).quantize(CENT), Decimal(str(sales[1] or 0)).quantize(CENT),
                          sales[2] or 0)
    dues_by_order, pays_by_order = {}, {}
    for order_id, due_on, amount in (PaymentDue.select(PaymentDue.order, PaymentDue.due_on, PaymentDue.amount)
                                     .where(PaymentDue.customer == customer_id).tuples()):
        dues_by_order.setdefault(order_id, []).append((due_on, Decimal(str(amount))))
    for order_id, received_on, amount in (Payment.select(Payment.order, Payment.received_on, Payment.amount)
                                          .where(Payment.customer == customer_id).tuples()):
        pays_by_order.setdefault(order_id, []).append((received_on, Decimal(str(amount))))
    due_amount = collected = ZERO
    late_days, outstanding_amount, overdue_amount = [], ZERO, ZERO
    for order_id, dues in dues_by_order.items():
        pays = [p for p in pays_by_order.get(order_id, []) if p[0] <= today]
        for due_on, amount, paid_on in allocate(dues, pays):
            if paid_on is None:
                outstanding_amount += amount
                if due_on < today:
                    overdue_amount += amount
            if not since < due_on <= today:
                continue
            due_amount += amount
            if paid_on is not None:
                collected += amount
                late_days.append(max(0, (paid_on - due_on).days))
            else:
                late_days.append((today - due_on).days)
    return {
        "sales_12m": total, "cost_12m": cost, "margin_12m": total - cost, "orders_12m": count,
        "margin_pct": round(100 * (total - cost) / total, 1) if total else None,
        "due_12m": due_amount, "collected_12m": collected,
        "collection_rate": round(100 * collected / due_amount, 1) if due_amount else None,
        "avg_days_late": round(sum(late_days) / len(late_days), 1) if late_days else None,
        "outstanding": outstanding_amount, "overdue": overdue_amount,
    }


def orders_of(customer_id, before=None, limit=20):
    """A page of a customer's orders newest first, keyset-paginated on (ordered_on, id)."""
    return keyset_page(Order.select().where(Order.customer == customer_id), [Order.ordered_on, Order.id],
                       after=before, limit=limit, descending=True)


def _customer_merged(actor, loser_id, survivor_id):
    """The survivor takes the later of the two last-deal dates (the merge then moves the loser's orders)."""
    loser = Customer.select(Customer.last_deal_on).where(Customer.id == loser_id).scalar()
    if loser:
        (Customer.update(last_deal_on=loser)
         .where((Customer.id == survivor_id) & (Customer.last_deal_on.is_null() | (Customer.last_deal_on < loser)))
         .execute())


hooks.on("customer_merged", _customer_merged)
