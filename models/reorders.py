"""Reorder cycles (订货周期, domain §9): for consumables, a cycle per customer and product; a to-do
before each expected order, a churn-risk flag when the date passes without one, and an order that
closes the to-do and moves the next expected date. The system suggests a cycle from the customer's
order history (median interval and how regular it is).

The time rule is `sweep(now)`: idempotent, a few set-based statements, registered as a hook.
"""
import calendar
import datetime as dt
import statistics

import peewee as pw

from models import audit, clock, hooks, permissions, sql
from models.base import BaseModel, db, fresh
from models.fields import date_field, int_or_none
from models.customers import Customer
from models.errors import FieldErrors, N_, NotFound
from models.orders import Order, OrderLine, Product, on_signed
from models.permissions import require
from models.users import User

UNITS = ("day", "week", "month")
UNIT_LABELS = {"day": N_("days"), "week": N_("weeks"), "month": N_("months")}
UNIT_DAYS = {"day": 1, "week": 7, "month": 30.44}
MAX_EVERY = {"day": 730, "week": 104, "month": 24}
MAX_REMIND_DAYS = 60
# An order within this many days after the expected date still counts as on time (adherence).
TOLERANCE_DAYS = 7
# Coefficient of variation of the intervals up to which a customer reorders "regularly".
REGULAR_CV = 0.3
ADHERENCE_DAYS = 180


class ReorderCycle(BaseModel):
    customer = pw.ForeignKeyField(Customer, on_delete="CASCADE", index=False, backref="reorder_cycles")
    product = pw.ForeignKeyField(Product, on_delete="CASCADE", index=False)
    every = pw.SmallIntegerField()
    unit = pw.CharField(max_length=5)
    starts_on = pw.DateField()
    ends_on = pw.DateField(null=True)
    remind_days = pw.SmallIntegerField(default=7)
    service_user = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
    next_expected_on = pw.DateField()
    remind_on = pw.DateField()  # next_expected_on - remind_days: what the sweep looks up
    active = pw.BooleanField(default=True)
    suggested = pw.BooleanField(default=False)  # accepted as the system suggested it
    created_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
    created_at = pw.DateTimeField()
    updated_at = pw.DateTimeField()

    class Meta:
        indexes = ((("customer", "product"), True), (("active", "remind_on"), False),
                   (("service_user", "active"), False), (("next_expected_on",), False))

    def interval_days(self):
        return round(self.every * UNIT_DAYS[self.unit])


class ReorderTodo(BaseModel):
    """One expected order: open from `remind_on`, flagged as churn risk after `expected_on`, done
    when an order for the product came (`on_time` within the tolerance)."""
    cycle = pw.ForeignKeyField(ReorderCycle, on_delete="CASCADE", index=False, backref="todos")
    customer = pw.ForeignKeyField(Customer, on_delete="CASCADE", index=False)
    product = pw.ForeignKeyField(Product, on_delete="CASCADE", index=False)
    rep = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
    service_user = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
    expected_on = pw.DateField()
    remind_on = pw.DateField()
    status = pw.CharField(max_length=10, default="open")  # open, done, cancelled
    flagged_at = pw.DateTimeField(null=True)  # churn risk: the expected date passed without an order
    created_at = pw.DateTimeField()
    closed_at = pw.DateTimeField(null=True)
    order = pw.ForeignKeyField(Order, null=True, on_delete="SET NULL", index=False, backref="+")
    ordered_on = pw.DateField(null=True)
    on_time = pw.BooleanField(null=True)

    class Meta:
        indexes = ((("cycle", "expected_on"), True), (("rep", "status", "remind_on"), False),
                   (("service_user", "status", "remind_on"), False), (("customer", "status"), False),
                   (("status", "expected_on"), False), (("rep", "expected_on"), False))


# ---- dates ----------------------------------------------------------------------------------------

def add_interval(day, every, unit, times=1):
    if unit == "day":
        return day + dt.timedelta(days=every * times)
    if unit == "week":
        return day + dt.timedelta(weeks=every * times)
    months = day.month - 1 + every * times
    year, month = day.year + months // 12, months % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


# ---- suggestion -----------------------------------------------------------------------------------

def order_dates(customer_id, product_id):
    """Distinct dates of the customer's signed orders that contain the product, oldest first."""
    q = (Order.select(Order.ordered_on).distinct()
         .join(OrderLine, on=(OrderLine.order == Order.id))
         .where((Order.customer == customer_id) & (Order.status == "signed") & (OrderLine.product == product_id))
         .order_by(Order.ordered_on))
    return [row[0] for row in q.tuples()]


def suggest_cycle(customer_id, product_id, today=None):  # noqa: ARG001  (today: kept for callers)
    """A cycle from the order history: the median interval between orders, in months or weeks where
    that states it within 5 %, else in days, and its regularity (the coefficient of variation of the
    intervals, ≤ 0.3 regular). Without two orders: {"enough": False}."""
    return suggestion_from_dates(order_dates(customer_id, product_id))


def ordered_consumables(customer_id):
    """{product_id: [order dates, oldest first]} of the consumables in the customer's signed orders, in
    one query (the Reorder tab suggests a cycle for each)."""
    q = (Order.select(OrderLine.product, Order.ordered_on).distinct()
         .join(OrderLine, on=(OrderLine.order == Order.id))
         .join(Product, on=(OrderLine.product == Product.id))
         .where((Order.customer == customer_id) & (Order.status == "signed") & (Product.consumable == True))  # noqa: E712
         .order_by(OrderLine.product, Order.ordered_on))
    out = {}
    for product_id, day in q.tuples():
        out.setdefault(product_id, []).append(day)
    return out


def suggestion_from_dates(dates):
    """The suggestion for order dates (distinct, oldest first); see suggest_cycle."""
    if len(dates) < 2:
        return {"orders": len(dates), "enough": False}
    intervals = [(b - a).days for a, b in zip(dates, dates[1:])]
    median = statistics.median(intervals)
    mean = statistics.fmean(intervals)
    cv = statistics.pstdev(intervals) / mean if len(intervals) >= 2 and mean else None
    unit, every = "day", max(1, round(median))
    for candidate in ("month", "week"):  # the coarsest unit that states the median within 5 %
        n = round(median / UNIT_DAYS[candidate])
        if n >= 1 and abs(n * UNIT_DAYS[candidate] - median) <= 0.05 * median:
            unit, every = candidate, n
            break
    nxt = add_interval(dates[-1], every, unit)
    return {
        "orders": len(dates), "enough": True, "intervals": intervals, "median_days": median,
        "cv": round(cv, 2) if cv is not None else None,
        "regularity": None if cv is None else ("regular" if cv <= REGULAR_CV else "irregular"),
        "every": every, "unit": unit, "remind_days": min(14, max(2, round(median * 0.2))),
        "last_order_on": dates[-1], "next_expected_on": nxt, "starts_on": nxt,
    }


# ---- verbs ----------------------------------------------------------------------------------------

def validate_cycle(customer, data, cycle=None):
    e = FieldErrors()
    today = clock.today()
    product = cycle.product if cycle else None
    if cycle is None:
        pid = int_or_none(data.get("product_id"))
        product = Product.get_or_none(Product.id == pid) if pid and pid > 0 else None
        if product is None or not product.active:
            e.add("product_id", N_("Choose a product from the list."))
        elif not product.consumable:
            e.add("product_id", N_("Reorder cycles are for consumables; %(product)s is equipment."),
                  product=product.code)
        elif ReorderCycle.select().where((ReorderCycle.customer == customer.id)
                                         & (ReorderCycle.product == product.id)).exists():
            e.add("product_id", N_("This customer already has a cycle for this product; edit it instead."))
    unit = str(data.get("unit") or "").strip()
    if unit not in UNITS:
        e.add("unit", N_("Choose one of the options."))
    every = int_or_none(data.get("every"))
    if every is None:
        e.add("every", N_("Enter a whole number."))
    elif every <= 0:
        e.add("every", N_("A cycle must be at least 1 day, week or month; 0 would mean ordering all the time."))
    elif unit in UNITS and every > MAX_EVERY[unit]:
        e.add("every", N_("At most %(n)s %(unit)s."), n=MAX_EVERY[unit], unit=UNIT_LABELS[unit])
    starts_on = date_field(e, data, "starts_on", today - dt.timedelta(days=366), today + dt.timedelta(days=3 * 366),
                          required=True)
    ends_on = date_field(e, data, "ends_on", today - dt.timedelta(days=366), today + dt.timedelta(days=20 * 366),
                          required=False)
    if starts_on and ends_on and ends_on < starts_on:
        e.add("ends_on", N_("The end must be after the start."))
    remind = int_or_none(data.get("remind_days")) if str(data.get("remind_days") or "").strip() else 7
    if remind is None:
        e.add("remind_days", N_("Enter a whole number."))
    elif not 0 <= remind <= MAX_REMIND_DAYS:
        e.add("remind_days", N_("Between 0 and %(n)s days."), n=MAX_REMIND_DAYS)
    elif every and every > 0 and unit in UNITS and remind >= round(every * UNIT_DAYS[unit]):
        e.add("remind_days", N_("Remind fewer days ahead than the cycle is long."))
    service_user = None
    sid = int_or_none(data.get("service_user_id")) if str(data.get("service_user_id") or "").strip() else None
    if str(data.get("service_user_id") or "").strip():
        service_user = User.get_or_none((User.id == (sid or 0)) & (User.role == "service") & (User.active == True))  # noqa: E712
        if service_user is None:
            e.add("service_user_id", N_("Choose an active service colleague."))
    e.raise_if_any()
    return {"product": product, "every": every, "unit": unit, "starts_on": starts_on, "ends_on": ends_on,
            "remind_days": remind, "service_user": service_user, "suggested": str(data.get("suggested")) == "1"}


def _first_expected(customer_id, product_id, every, unit, starts_on):
    """The next expected order: one interval after the last order of the product, not before the start."""
    dates = order_dates(customer_id, product_id)
    if dates:
        nxt = add_interval(dates[-1], every, unit)
        return max(nxt, starts_on)
    return starts_on


def save_cycle(actor, customer, data, cycle=None):
    """Accept (or edit) a reorder cycle. An edit cancels the open to-do of the old schedule; a to-do
    due already appears at once."""
    require(actor, "reorder.manage", customer)
    if cycle is not None and cycle.customer_id != customer.id:
        raise NotFound()
    v = validate_cycle(customer, data, cycle)
    now = clock.now()
    with db.atomic():
        if cycle is not None:
            fresh(cycle)
            if cycle.customer_id != customer.id:
                raise NotFound()
        # from the orders as they are now: an order signed meanwhile has moved the next date
        nxt = _first_expected(customer.id, v["product"].id, v["every"], v["unit"], v["starts_on"])
        fields = dict(every=v["every"], unit=v["unit"], starts_on=v["starts_on"], ends_on=v["ends_on"],
                      remind_days=v["remind_days"], service_user=v["service_user"], next_expected_on=nxt,
                      remind_on=nxt - dt.timedelta(days=v["remind_days"]), active=True, updated_at=now)
        if v["ends_on"] and nxt > v["ends_on"]:
            fields["active"] = False
        if cycle is None:
            cycle = ReorderCycle.create(customer=customer, product=v["product"], created_by=actor, created_at=now,
                                        suggested=v["suggested"], **fields)
            kind = "reorder.cycle_accepted"
        else:
            (ReorderTodo.update(status="cancelled", closed_at=now)
             .where((ReorderTodo.cycle == cycle.id) & (ReorderTodo.status == "open")).execute())
            for k, val in fields.items():
                setattr(cycle, k, val)
            cycle.save()
            kind = "reorder.cycle_changed"
        audit.record(kind, actor, customer, cycle_id=cycle.id, product=v["product"].code, every=v["every"],
                     unit=v["unit"], next_expected_on=nxt.isoformat(), suggested=v["suggested"])
        _open_due_todos(now, cycle_id=cycle.id)
        hooks.fire("customer_changed", Customer.get_by_id(customer.id), now)  # a reorder cycle may drive its release
    return cycle


def end_cycle(actor, cycle):
    customer = cycle.customer
    require(actor, "reorder.manage", customer)
    now = clock.now()
    with db.atomic():
        fresh(cycle)
        if not cycle.active:
            return cycle
        cycle.active, cycle.updated_at = False, now
        cycle.save()
        (ReorderTodo.update(status="cancelled", closed_at=now)
         .where((ReorderTodo.cycle == cycle.id) & (ReorderTodo.status == "open")).execute())
        audit.record("reorder.cycle_ended", actor, customer, cycle_id=cycle.id, product=cycle.product.code)
        hooks.fire("customer_changed", Customer.get_by_id(customer.id), now)  # a reorder cycle may drive its release
    return cycle


@on_signed
def _order_signed(order, lines):
    """An order for a cycled product closes its open to-do (on time or late) and moves the next date."""
    product_ids = {ln.product_id for ln in lines}
    if not product_ids:
        return
    now = clock.now()
    cycles = list(ReorderCycle.select().where((ReorderCycle.customer == order.customer_id)
                                              & ReorderCycle.product.in_(product_ids)))
    for cycle in cycles:
        todos = list(ReorderTodo.select().where((ReorderTodo.cycle == cycle.id) & (ReorderTodo.status == "open")
                                                & (ReorderTodo.remind_on <= max(order.ordered_on, clock.today()))))
        for todo in todos:
            todo.status, todo.closed_at, todo.order, todo.ordered_on = "done", now, order.id, order.ordered_on
            todo.on_time = order.ordered_on <= todo.expected_on + dt.timedelta(days=TOLERANCE_DAYS)
            todo.save()
        if not cycle.active:
            continue
        last = order_dates(order.customer_id, cycle.product_id)
        base = max(last[-1] if last else order.ordered_on, order.ordered_on)
        nxt = add_interval(base, cycle.every, cycle.unit)
        if nxt <= cycle.next_expected_on and not todos:
            continue  # an older order entered late does not pull the schedule back
        cycle.next_expected_on, cycle.remind_on = nxt, nxt - dt.timedelta(days=cycle.remind_days)
        cycle.updated_at = now
        if cycle.ends_on and nxt > cycle.ends_on:
            cycle.active = False
        cycle.save()
        audit.record("reorder.next_expected", None, order.customer_id, cycle_id=cycle.id,
                     product=cycle.product.code, next_expected_on=nxt.isoformat(), order_id=order.id,
                     closed_todos=len(todos))


# ---- the time rule --------------------------------------------------------------------------------

def _open_due_todos(now, cycle_id=None):
    today = clock.to_local(now).date()
    p = db.param
    extra = f"AND c.id = {p}" if cycle_id else ""
    params = [now, today] + ([cycle_id] if cycle_id else [])
    cursor = db.execute_sql(f"""
        INSERT INTO reorder_todo (cycle_id, customer_id, product_id, rep_id, service_user_id, expected_on,
                                  remind_on, status, created_at)
        SELECT c.id, c.customer_id, c.product_id, cu.owner_id, c.service_user_id, c.next_expected_on,
               c.remind_on, 'open', {p}
        FROM reorder_cycle c JOIN customer cu ON cu.id = c.customer_id
        WHERE c.active = TRUE AND c.remind_on <= {p} {extra}
          AND NOT EXISTS (SELECT 1 FROM reorder_todo t WHERE t.cycle_id = c.id AND t.expected_on = c.next_expected_on)
    """, params)
    return cursor.rowcount


def sweep(now):
    """Idempotent: ends cycles past their end, opens the to-do of every cycle whose reminder day has
    come, and flags (and tells the rep about) every open to-do whose expected date has passed."""
    today = clock.to_local(now).date()
    p = db.param
    with db.atomic():
        ended = db.execute_sql(
            f"UPDATE reorder_cycle SET active = FALSE, updated_at = {p} "
            "WHERE active = TRUE AND ends_on IS NOT NULL AND next_expected_on > ends_on", (now,)).rowcount
        opened = _open_due_todos(now)
        params = sql.json_text(sql.json_object([("customer", "cu.name"), ("product", "p.code"),
                                                ("date", "t.expected_on")]))
        db.execute_sql(f"""
            INSERT INTO notification (user_id, at, kind, message, params, customer_id, dedupe_key)
            SELECT t.rep_id, {p}, 'reorder.missed', {p}, {params}, t.customer_id, 'reorder-missed:' || t.id
            FROM reorder_todo t JOIN customer cu ON cu.id = t.customer_id JOIN product p ON p.id = t.product_id
            WHERE t.status = 'open' AND t.expected_on < {p} AND t.flagged_at IS NULL AND t.rep_id IS NOT NULL
            ON CONFLICT DO NOTHING
        """, (now, N_("%(customer)s has not reordered %(product)s, expected on %(date)s: churn risk."), today))
        flagged = db.execute_sql(
            f"UPDATE reorder_todo SET flagged_at = {p} WHERE status = 'open' AND expected_on < {p} "
            "AND flagged_at IS NULL", (now, today)).rowcount
    return {"ended": ended, "opened": opened, "flagged": flagged}


hooks.on("sweep", sweep)


# ---- reading --------------------------------------------------------------------------------------

def _todo_query():
    return (ReorderTodo.select(ReorderTodo, Customer.id, Customer.name, Product.id, Product.code, Product.name_zh,
                               Product.name_en, Product.unit)
            .join(Customer, on=(ReorderTodo.customer == Customer.id))
            .switch(ReorderTodo).join(Product, on=(ReorderTodo.product == Product.id)))


def _open_where(user, today):
    """The user's open to-dos whose reminder day has come (as owning rep or named service contact)."""
    return _open_where_of(user.id, permissions.can(user, "reorder.as_service"), today or clock.today())


def _open_where_of(user_id, as_service, today):
    cond = (ReorderTodo.service_user if as_service else ReorderTodo.rep) == user_id
    return cond & (ReorderTodo.status == "open") & (ReorderTodo.remind_on <= today)


def open_todos(user, today=None, limit=20):
    """The user's open reorder to-dos whose reminder day has come (as owning rep or named service
    contact), soonest expected first."""
    return _todo_query().where(_open_where(user, today)).order_by(ReorderTodo.expected_on, ReorderTodo.id).limit(limit)


def open_todo_ids(user_id, as_service, today):
    """The ids of `open_todos` of user `user_id` (`as_service`: as the named service contact; the workbench
    asks whether there is one)."""
    return ReorderTodo.select(ReorderTodo.id).where(_open_where_of(user_id, as_service, today))



def open_todo_count(user, today=None):
    return ReorderTodo.select(ReorderTodo.id).where(_open_where(user, today)).count()


def _churn_where(rep_ids):
    return ReorderTodo.rep.in_(rep_ids) & (ReorderTodo.status == "open") & ReorderTodo.flagged_at.is_null(False)


def churn_risks(rep_ids, limit=20):
    """Customers flagged as churn risk (an expected reorder passed without an order), oldest first."""
    return _todo_query().where(_churn_where(rep_ids)).order_by(ReorderTodo.expected_on, ReorderTodo.id).limit(limit)


def churn_risk_ids(rep_ids):
    """The ids of `churn_risks` (the workbench asks whether there is one)."""
    return ReorderTodo.select(ReorderTodo.id).where(_churn_where(rep_ids))


def customer_status(customer_id):
    """The customer's cycles with their open to-do (if any), for the 360 page."""
    cycles = list(ReorderCycle.select(ReorderCycle, Product).join(Product)
                  .where(ReorderCycle.customer == customer_id).order_by(ReorderCycle.active.desc(),
                                                                        ReorderCycle.next_expected_on))
    todos = {t.cycle_id: t for t in ReorderTodo.select().where((ReorderTodo.customer == customer_id)
                                                                & (ReorderTodo.status == "open"))} if cycles else {}
    for c in cycles:
        c.open_todo = todos.get(c.id)
    return cycles


def is_churn_risk(customer_id):
    return ReorderTodo.select().where((ReorderTodo.customer == customer_id) & (ReorderTodo.status == "open")
                                      & ReorderTodo.flagged_at.is_null(False)).exists()


def month_bounds(year, month):
    return dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1])


def calendar_entries(rep_ids, year, month, service_user_id=None, today=None):
    """Expected orders in a month: to-dos already opened (done, open or flagged) and, from each active
    cycle, the expected dates still ahead projected forward. {date: [entry, ...]}. Rows are read as
    tuples and products once: a team's month is a thousand rows."""
    today = today or clock.today()
    first, last = month_bounds(year, month)
    owner_cond = (ReorderTodo.rep.in_(rep_ids)) if service_user_id is None else (ReorderTodo.service_user == service_user_id)
    days, seen, product_ids, rows = {}, set(), set(), []
    q = (ReorderTodo.select(ReorderTodo.cycle, ReorderTodo.expected_on, ReorderTodo.status, ReorderTodo.flagged_at,
                            ReorderTodo.rep, ReorderTodo.product, Customer.id, Customer.name)
         .join(Customer, on=(ReorderTodo.customer == Customer.id))
         .where(owner_cond & (ReorderTodo.expected_on.between(first, last)) & (ReorderTodo.status != "cancelled")))
    for cycle_id, expected_on, status, flagged_at, rep_id, product_id, customer_id, name in q.tuples():
        state = "done" if status == "done" else ("missed" if flagged_at else "open")
        rows.append((expected_on, customer_id, name, product_id, state, rep_id))
        product_ids.add(product_id)
        seen.add((cycle_id, expected_on))
    ccond = (Customer.owner.in_(rep_ids)) if service_user_id is None else (ReorderCycle.service_user == service_user_id)
    # Projected from cycles still ahead (an overdue one shows as its to-do). The unary + keeps SQLite
    # from scanning the next_expected_on index across every team: the owner's customers are fewer.
    expected = sql.no_index(ReorderCycle.next_expected_on)
    q = (ReorderCycle.select(ReorderCycle.id, ReorderCycle.next_expected_on, ReorderCycle.every, ReorderCycle.unit,
                             ReorderCycle.ends_on, ReorderCycle.product, Customer.id, Customer.name, Customer.owner)
         .join(Customer, on=(ReorderCycle.customer == Customer.id))
         .where(ccond & (ReorderCycle.active == True) & (expected <= last) & (expected >= today)))  # noqa: E712
    for cycle_id, nxt, every, unit, ends_on, product_id, customer_id, name, owner_id in q.tuples():
        day, i = nxt, 0
        while day <= last and i < 400 and (ends_on is None or day <= ends_on):
            if day >= first and (cycle_id, day) not in seen:
                rows.append((day, customer_id, name, product_id, "expected" if day >= today else "open", owner_id))
                product_ids.add(product_id)
            i += 1
            day = add_interval(nxt, every, unit, i)
    products = {p.id: p for p in Product.select().where(Product.id.in_(list(product_ids)))} if product_ids else {}
    for day, customer_id, name, product_id, state, rep_id in rows:
        days.setdefault(day, []).append({"customer_id": customer_id, "customer": name, "product": products[product_id],
                                         "state": state, "rep_id": rep_id})
    for entries in days.values():  # the ones that need action first: not reordered, open, then expected
        entries.sort(key=lambda e: ({"missed": 0, "open": 1, "expected": 2, "done": 3}[e["state"]], e["customer"]))
    return days


def adherence(rep_ids, today=None, days=ADHERENCE_DAYS):
    """Per rep: of the expected reorders in the last `days` days that are settled (an order came, or
    the tolerance has run out), how many came on time. {rep_id: (on_time, settled)}."""
    today = today or clock.today()
    since, cutoff = today - dt.timedelta(days=days), today - dt.timedelta(days=TOLERANCE_DAYS)
    # Settled inside the sums rather than in WHERE: an OR there turns the (rep, expected_on) range into
    # a scan of every rep's to-dos.
    settled = ((ReorderTodo.status == "done") | ((ReorderTodo.status == "open") & (ReorderTodo.expected_on < cutoff)))
    on_time = pw.fn.SUM(pw.Case(None, [(((ReorderTodo.status == "done") & (ReorderTodo.on_time == True)), 1)], 0))  # noqa: E712
    count = pw.fn.SUM(pw.Case(None, [(settled, 1)], 0))
    q = (ReorderTodo.select(ReorderTodo.rep, on_time, count)
         .where(ReorderTodo.rep.in_(rep_ids) & (ReorderTodo.expected_on >= since) & (ReorderTodo.expected_on <= today))
         .group_by(ReorderTodo.rep).tuples())
    return {rep: (int(ok or 0), int(n or 0)) for rep, ok, n in q if n}


def get_cycle(cycle_id):
    pk = int_or_none(cycle_id)
    cycle = ReorderCycle.get_or_none(ReorderCycle.id == pk) if pk and pk > 0 else None
    if cycle is None:
        raise NotFound()
    return cycle


# ---- other domains' events ------------------------------------------------------------------------

def _owner_changed(actor, customer_ids, from_owner_id, to_owner_id, reason):
    ids = list(customer_ids)
    for i in range(0, len(ids), 500):
        (ReorderTodo.update(rep=to_owner_id)
         .where(ReorderTodo.customer.in_(ids[i:i + 500]) & (ReorderTodo.status == "open")).execute())


def _customer_merged(actor, loser_id, survivor_id):
    """One cycle per customer and product: where both kept one, the survivor's stays and the loser's
    goes (with its to-dos); the merge then moves the rest of the loser's rows."""
    taken = {p for (p,) in ReorderCycle.select(ReorderCycle.product).where(ReorderCycle.customer == survivor_id).tuples()}
    if taken:
        ReorderCycle.delete().where((ReorderCycle.customer == loser_id) & ReorderCycle.product.in_(taken)).execute()


hooks.on("owner_changed", _owner_changed)
hooks.on("customer_merged", _customer_merged)


