"""Products, orders and payments (domain §9): totals and margin, the payment schedule, payments over
what is due (refused unless a prepayment), the customer's collection rate and days late, the first
signed order moving the customer to "signed", bad input answered inline with nothing written, and
product import / export."""
import datetime as dt
import io
from decimal import Decimal

import pytest

from models.audit import AuditEvent
from models.customers import Customer, StageChange
from models.errors import DomainError, NotFound, ValidationError
from models.orders import (Order, OrderLine, Payment, PaymentDue, Product, add_payment_due, allocate, cancel_order,
                           create_order, customer_figures, import_products, parse_decimal, record_payment,
                           save_product, sign_order)
from tests.conftest import FROZEN

TODAY = dt.date(2026, 11, 24)  # FROZEN in Shanghai


def body(response):
    return response.get_data(as_text=True)


@pytest.fixture
def shop(make_user, make_team, make_customer):
    team = make_team()
    rep = make_user("sales", team)
    admin = make_user("admin")
    customer = make_customer(owner=rep, stage="intent")
    fabric = save_product(admin, {"code": "FAB-01", "name_zh": "全棉府绸面料", "name_en": "Cotton poplin",
                                  "product_line": "面料", "unit": "米", "list_price": "28.50", "unit_cost": "19.20",
                                  "consumable": "1"})
    machine = save_product(admin, {"code": "EQ-01", "name_zh": "自动裁床", "name_en": "Automatic cutter",
                                   "product_line": "设备", "unit": "台", "list_price": "380000", "unit_cost": "290000"})
    return rep, admin, customer, fabric, machine


def lines(*items):
    data = {"ordered_on": TODAY.isoformat()}
    for i, (product, qty, price, cost) in enumerate(items):
        data.update({f"product_{i}": str(product.id), f"quantity_{i}": qty, f"unit_price_{i}": price,
                     f"unit_cost_{i}": cost})
    return data


def order_for(rep, customer, items, ordered_on=TODAY, sign=True):
    data = lines(*items)
    data["ordered_on"] = ordered_on.isoformat()
    return create_order(rep, customer, data, sign=sign)


# ---- totals and margin -------------------------------------------------------------------------------

def test_totals_and_margin_from_the_lines(shop):
    rep, _admin, customer, fabric, machine = shop
    order = order_for(rep, customer, [(fabric, "1200.5", "27.80", ""), (machine, "1", "", "")], sign=False)
    assert order.total == Decimal("33373.90") + Decimal("380000.00")
    assert order.cost == (Decimal("1200.5") * Decimal("19.20")).quantize(Decimal("0.01")) + Decimal("290000")
    assert order.margin == order.total - order.cost
    assert order.margin_pct == round(100 * order.margin / order.total, 1)
    stored = list(OrderLine.select().where(OrderLine.order == order).order_by(OrderLine.id))
    assert [ln.unit_price for ln in stored] == [Decimal("27.80"), Decimal("380000.00")]  # empty price: list price
    assert stored[0].amount == Decimal("33373.90")


@pytest.mark.parametrize("field,value,message", [
    ("quantity_0", "-3", "Must not be negative."),
    ("quantity_0", "0", "Must be more than zero."),
    ("unit_price_0", "0", "Must be more than zero."),
    ("unit_price_0", "-1", "Must not be negative."),
    ("unit_price_0", "12元八角", "Enter a number such as 1280.50."),
    ("quantity_0", "abc", "Enter a number such as 1280.50."),
    ("unit_price_0", "1e400", "That number is too large."),
    ("unit_price_0", "NaN", "Enter a number such as 1280.50."),
    ("unit_price_0", "12.345", "At most two decimal places."),
    ("product_0", "99999999999999999999999", "Choose a product from the list."),
])
def test_bad_lines_are_refused_field_by_field_and_nothing_is_written(shop, field, value, message):
    rep, _admin, customer, fabric, _machine = shop
    data = lines((fabric, "10", "28", "19"))
    data[field] = value
    before = (Order.select().count(), OrderLine.select().count(), AuditEvent.select().count())
    with pytest.raises(ValidationError) as info:
        create_order(rep, customer, data, sign=True)
    assert message in [m for m, _p in info.value.errors[field]]
    assert (Order.select().count(), OrderLine.select().count(), AuditEvent.select().count()) == before


def test_an_order_needs_a_line_and_a_sane_date(shop):
    rep, _admin, customer, _fabric, _machine = shop
    with pytest.raises(ValidationError) as info:
        create_order(rep, customer, {"ordered_on": TODAY.isoformat()})
    assert "lines" in info.value.errors
    with pytest.raises(ValidationError) as info:
        create_order(rep, customer, {**lines((shop[3], "1", "1", "1")), "ordered_on": "1900-01-01"})
    assert "ordered_on" in info.value.errors


def test_parse_decimal_accepts_what_people_type():
    assert parse_decimal("1,280.50") == Decimal("1280.50")
    assert parse_decimal("¥ 99") == Decimal("99.00")
    assert parse_decimal("１２３") == Decimal("123.00")  # full-width digits from a Chinese IME


def test_only_a_draft_is_edited_or_signed_and_a_paid_order_is_not_cancelled(shop):
    rep, _admin, customer, fabric, _machine = shop
    order = order_for(rep, customer, [(fabric, "10", "30", "")])
    with pytest.raises(DomainError):
        sign_order(rep, order)
    add = record_payment(rep, order, {"received_on": TODAY.isoformat(), "amount": "100", "method": "cash"})
    assert add.id
    with pytest.raises(DomainError):
        cancel_order(rep, order)


# ---- lifecycle --------------------------------------------------------------------------------------

def test_the_first_signed_order_moves_the_customer_to_signed_in_the_same_transaction(shop):
    rep, _admin, customer, fabric, _machine = shop
    draft = order_for(rep, customer, [(fabric, "10", "30", "")], sign=False)
    assert Customer.get_by_id(customer.id).stage == "intent"  # a draft is not a deal
    sign_order(rep, draft)
    after = Customer.get_by_id(customer.id)
    assert (after.stage, after.grade) == ("signed", "A")
    change = StageChange.get((StageChange.customer == customer.id) & (StageChange.to_stage == "signed"))
    assert (change.from_stage, change.actor_id) == ("intent", rep.id)
    # A second order changes nothing.
    changes = StageChange.select().where(StageChange.customer == customer.id).count()
    order_for(rep, customer, [(fabric, "5", "30", "")])
    assert StageChange.select().where(StageChange.customer == customer.id).count() == changes


def test_a_long_term_customer_stays_long_term(shop, make_customer):
    rep, _admin, _customer, fabric, _machine = shop
    loyal = make_customer(owner=rep, stage="long_term")
    order_for(rep, loyal, [(fabric, "5", "30", "")])
    assert Customer.get_by_id(loyal.id).stage == "long_term"


# ---- payments -----------------------------------------------------------------------------------------

def test_signing_schedules_the_unscheduled_rest_on_default_terms(shop):
    rep, _admin, customer, fabric, _machine = shop
    order = order_for(rep, customer, [(fabric, "100", "30", "")], sign=False)
    add_payment_due(rep, order, {"due_on": "2026-12-10", "amount": "1000"})
    with pytest.raises(ValidationError) as info:  # the schedule may not exceed the total
        add_payment_due(rep, order, {"due_on": "2026-12-20", "amount": "2000.01"})
    assert "amount" in info.value.errors
    sign_order(rep, order)
    dues = [(d.due_on, d.amount) for d in PaymentDue.select().where(PaymentDue.order == order).order_by(PaymentDue.due_on)]
    assert dues == [(dt.date(2026, 12, 10), Decimal("1000.00")), (TODAY + dt.timedelta(days=30), Decimal("2000.00"))]


def test_a_payment_over_what_is_due_is_refused_unless_it_is_a_prepayment(shop):
    rep, _admin, customer, fabric, _machine = shop
    order = order_for(rep, customer, [(fabric, "100", "30", "")])  # 3,000 due
    record_payment(rep, order, {"received_on": TODAY.isoformat(), "amount": "2999.99", "method": "bank_transfer"})
    before = Payment.select().count()
    with pytest.raises(ValidationError) as info:
        record_payment(rep, order, {"received_on": TODAY.isoformat(), "amount": "0.02", "method": "bank_transfer"})
    (message, params), = info.value.errors["amount"]
    assert "prepayment" in message and params["due"] == "0.01"
    assert Payment.select().count() == before
    # Exactly what is due is fine; more is fine as a prepayment, and says so.
    record_payment(rep, order, {"received_on": TODAY.isoformat(), "amount": "0.01", "method": "cash"})
    pre = record_payment(rep, order, {"received_on": TODAY.isoformat(), "amount": "500", "method": "cash",
                                      "prepayment": "1"})
    assert pre.prepayment is True
    assert AuditEvent.select().where(AuditEvent.kind == "payment.received").count() == 3


@pytest.mark.parametrize("data,field", [
    ({"received_on": "2026-11-25", "amount": "10", "method": "cash"}, "received_on"),  # tomorrow
    ({"received_on": "2026-11-24", "amount": "十块", "method": "cash"}, "amount"),
    ({"received_on": "2026-11-24", "amount": "-10", "method": "cash"}, "amount"),
    ({"received_on": "2026-11-24", "amount": "10", "method": "barter"}, "method"),
    ({"received_on": "9999-01-01", "amount": "10", "method": "cash"}, "received_on"),
])
def test_bad_payments_are_refused(shop, data, field):
    rep, _admin, customer, fabric, _machine = shop
    order = order_for(rep, customer, [(fabric, "100", "30", "")])
    with pytest.raises(ValidationError) as info:
        record_payment(rep, order, data)
    assert field in info.value.errors
    assert Payment.select().count() == 0


def test_payments_go_against_signed_orders_only(shop):
    rep, _admin, customer, fabric, _machine = shop
    draft = order_for(rep, customer, [(fabric, "1", "30", "")], sign=False)
    with pytest.raises(DomainError):
        record_payment(rep, draft, {"received_on": TODAY.isoformat(), "amount": "1", "method": "cash"})


# ---- figures ----------------------------------------------------------------------------------------

def test_allocation_is_first_due_first_paid():
    d = dt.date
    dues = [(d(2026, 2, 1), Decimal(100)), (d(2026, 1, 1), Decimal(100)), (d(2026, 3, 1), Decimal(100))]
    pays = [(d(2026, 1, 5), Decimal(150)), (d(2026, 2, 20), Decimal(50))]
    assert allocate(dues, pays) == [(d(2026, 1, 1), Decimal(100), d(2026, 1, 5)),
                                    (d(2026, 2, 1), Decimal(100), d(2026, 2, 20)),
                                    (d(2026, 3, 1), Decimal(100), None)]


def test_collection_rate_and_days_late_over_the_last_twelve_months(shop):
    rep, _admin, customer, fabric, _machine = shop
    # Order 1: 1,000 due 2026-06-01, paid 10 days late. Order 2: 1,000 due 2026-11-14, unpaid (10 days so far).
    # Order 3: 1,000 due 2026-12-24, not yet due: left out. Order 0: due 2025-11-24, exactly 12 months ago: left out.
    o0 = order_for(rep, customer, [(fabric, "10", "100", "")], ordered_on=dt.date(2025, 10, 25))
    o1 = order_for(rep, customer, [(fabric, "10", "100", "60")], ordered_on=dt.date(2026, 5, 2))
    o2 = order_for(rep, customer, [(fabric, "10", "100", "60")], ordered_on=dt.date(2026, 10, 15))
    order_for(rep, customer, [(fabric, "10", "100", "60")], ordered_on=dt.date(2026, 11, 24))
    assert PaymentDue.get(PaymentDue.order == o0).due_on == dt.date(2025, 11, 24)
    record_payment(rep, o1, {"received_on": "2026-06-11", "amount": "1000", "method": "cash"})
    f = customer_figures(customer.id, TODAY)
    assert f["sales_12m"] == Decimal("3000.00") and f["orders_12m"] == 3  # o0 is older than 365 days
    assert f["margin_pct"] == 40.0
    assert (f["due_12m"], f["collected_12m"], f["collection_rate"]) == (Decimal("2000.00"), Decimal("1000.00"), 50.0)
    assert f["avg_days_late"] == 10.0  # (10 + 10) / 2
    assert f["overdue"] == Decimal("2000.00")  # o0 and o2 are unpaid and past due
    # Paying o2 today: 100 % collected, 10 days late on average.
    record_payment(rep, o2, {"received_on": TODAY.isoformat(), "amount": "1000", "method": "cash"})
    f = customer_figures(customer.id, TODAY)
    assert (f["collection_rate"], f["avg_days_late"]) == (100.0, 10.0)


def test_a_payment_on_time_counts_zero_days_late(shop):
    rep, _admin, customer, fabric, _machine = shop
    order = order_for(rep, customer, [(fabric, "10", "100", "")], ordered_on=dt.date(2026, 9, 1))
    record_payment(rep, order, {"received_on": "2026-09-01", "amount": "1000", "method": "cash"})
    f = customer_figures(customer.id, TODAY)
    assert (f["collection_rate"], f["avg_days_late"]) == (100.0, 0.0)


def test_a_customer_without_dues_has_no_rate(shop):
    _rep, _admin, customer, _fabric, _machine = shop
    f = customer_figures(customer.id, TODAY)
    assert f["collection_rate"] is None and f["avg_days_late"] is None and f["sales_12m"] == Decimal("0.00")


# ---- over HTTP ----------------------------------------------------------------------------------------

def test_order_form_answers_inline_and_writes_nothing_on_bad_input(client, shop):
    rep, _admin, customer, fabric, _machine = shop
    client.login(rep)
    data = lines((fabric, "-5", "28", ""))
    r = client.post(f"/customers/{customer.id}/orders/new", {**data, "action": "sign"}, htmx=True)
    assert r.status_code == 200
    assert 'id="err-quantity-0"' in body(r) and "Must not be negative." in body(r)
    assert 'value="-5"' in body(r)  # what was typed is kept
    assert Order.select().count() == 0
    data = lines((fabric, "5", "28", ""))
    r = client.post(f"/customers/{customer.id}/orders/new", {**data, "action": "sign"}, htmx=True)
    order = Order.get()
    assert r.headers["HX-Redirect"] == f"/orders/{order.id}?saved=1"
    assert order.status == "signed" and order.total == Decimal("140.00")


def test_payment_over_due_on_screen_says_prepayment(client, shop):
    rep, _admin, customer, fabric, _machine = shop
    order = order_for(rep, customer, [(fabric, "10", "30", "")])
    client.login(rep)
    r = client.post(f"/orders/{order.id}/payments", {"received_on": TODAY.isoformat(), "amount": "301",
                                                     "method": "cash"}, htmx=True)
    assert r.status_code == 200 and "Mark the payment as a prepayment" in body(r)
    assert Payment.select().count() == 0
    r = client.post(f"/orders/{order.id}/payments", {"received_on": TODAY.isoformat(), "amount": "abc",
                                                     "method": "cash"}, htmx=True)
    assert "Enter a number such as 1280.50." in body(r) and Payment.select().count() == 0
    r = client.post(f"/orders/{order.id}/payments", {"received_on": TODAY.isoformat(), "amount": "301",
                                                     "method": "cash", "prepayment": "1"}, htmx=True)
    assert "Payment recorded." in body(r) and "Prepayment" in body(r)
    assert Payment.select().count() == 1


def test_the_360_page_shows_the_figures_and_the_orders_tab(client, shop):
    rep, _admin, customer, fabric, _machine = shop
    order = order_for(rep, customer, [(fabric, "10", "100", "60")], ordered_on=dt.date(2026, 9, 1))
    record_payment(rep, order, {"received_on": "2026-10-06", "amount": "1000", "method": "cash"})
    client.login(rep)
    page = body(client.get(f"/customers/{customer.id}"))
    assert 'id="order-figures"' in page and 'id="tab-orders"' in page
    assert 'id="collection-rate"' in page and "100" in page
    tab = body(client.get(f"/customers/{customer.id}?tab=orders", htmx=True))
    assert f'id="order-{order.id}"' in tab and 'id="new-order"' in tab


def test_the_orders_tab_pages_with_a_fixed_number_of_queries(client, shop):
    from playhouse.test_utils import count_queries

    rep, _admin, customer, fabric, _machine = shop
    for i in range(25):
        order_for(rep, customer, [(fabric, "1", "10", "")], ordered_on=TODAY - dt.timedelta(days=i))
    client.login(rep)
    client.get(f"/customers/{customer.id}?tab=orders", htmx=True)
    with count_queries() as few:
        first = body(client.get(f"/customers/{customer.id}?tab=orders", htmx=True))
    assert first.count('<tr id="order-') == 20 and 'id="orders-more"' in first
    order_for(rep, customer, [(fabric, "1", "10", "")], ordered_on=TODAY - dt.timedelta(days=30))
    with count_queries() as more:
        client.get(f"/customers/{customer.id}?tab=orders", htmx=True)
    assert more.count == few.count  # no query per order
    nxt = first.split('before=')[1].split('"')[0]
    rest = body(client.get(f"/customers/{customer.id}/orders?before={nxt}", htmx=True))
    assert rest.count('<tr id="order-') == 6


# ---- products -----------------------------------------------------------------------------------------

def test_product_codes_are_unique_and_prices_checked(shop):
    _rep, admin, *_ = shop
    with pytest.raises(ValidationError) as info:
        save_product(admin, {"code": "fab-01", "name_zh": "x", "name_en": "x", "list_price": "0", "unit_cost": "-1"})
    assert set(info.value.errors) == {"code", "list_price", "unit_cost"}


def test_import_is_all_or_nothing_and_export_round_trips(client, shop):
    _rep, admin, _customer, fabric, _machine = shop
    client.login(admin)
    bad = "code,name_zh,name_en,product_line,unit,list_price,unit_cost,consumable\nNEW-1,新,New,辅料,个,3,1,1\nNEW-2,坏,Bad,辅料,个,abc,1,1\n"
    r = client.post("/products/import", {"file": (io.BytesIO(bad.encode()), "p.csv")}, htmx=True,
                    content_type="multipart/form-data")
    assert "Row 2" in body(r) and Product.select().where(Product.code == "NEW-1").count() == 0
    good = "code,name_zh,name_en,product_line,unit,list_price,unit_cost,consumable\nNEW-1,新,New,辅料,个,3,1,1\nFAB-01,全棉府绸面料,Cotton poplin,面料,米,29.00,19.20,1\n"
    r = client.post("/products/import", {"file": (io.BytesIO(good.encode("gb18030")), "p.csv")}, htmx=True,
                    content_type="multipart/form-data")
    assert r.status_code == 204 and "imported=1/1" in r.headers["HX-Redirect"]
    assert Product.get(Product.code == "FAB-01").list_price == Decimal("29.00")
    csv_text = body(client.get("/products/export.csv"))
    assert csv_text.startswith("\ufeffcode,name_zh") and "NEW-1,新,New" in csv_text
    xlsx = client.get("/products/export.xlsx")
    from openpyxl import load_workbook
    sheet = load_workbook(io.BytesIO(xlsx.data)).active
    assert [c.value for c in next(sheet.iter_rows())][:2] == ["code", "name_zh"]
    r = client.post("/products/import", {"file": (io.BytesIO(xlsx.data), "p.xlsx")}, htmx=True,
                    content_type="multipart/form-data")
    assert r.status_code == 204 and "imported=0/3" in r.headers["HX-Redirect"]


def test_import_refuses_junk_files(client, shop):
    _rep, admin, *_ = shop
    client.login(admin)
    for name, data in (("p.xlsx", b"not a zip"), ("p.pdf", b"%PDF"), ("p.csv", b"a,b\n1,2\n")):
        r = client.post("/products/import", {"file": (io.BytesIO(data), name)}, htmx=True,
                        content_type="multipart/form-data")
        assert r.status_code == 200 and "Nothing was imported" in body(r)
    assert import_products is not None and Product.select().count() == 2


def test_an_order_of_another_customer_is_not_found(client, shop, make_user, make_customer):
    rep, _admin, customer, fabric, _machine = shop
    order = order_for(rep, customer, [(fabric, "1", "10", "")])
    other = make_user("sales")
    client.login(other)
    assert client.get(f"/orders/{order.id}").status_code == 404
    assert client.post(f"/orders/{order.id}/payments", {"received_on": TODAY.isoformat(), "amount": "1",
                                                        "method": "cash"}).status_code == 404
    with pytest.raises(NotFound):
        record_payment(other, order, {"received_on": TODAY.isoformat(), "amount": "1", "method": "cash"})
    assert FROZEN.date() == TODAY
