"""Permission matrix of orders, payments, reorder cycles and products: role × relation × action over
HTTP. Owners, their team's manager and admins take orders and payments and keep cycles; service reads;
marketing sees none of it; products are kept by admins. Allowed: 2xx/3xx and the row written; denied:
404 for a plain and an htmx request, nothing written."""
import io

import pytest

from models.orders import Order, OrderLine, Payment, PaymentDue, Product, create_order, save_product
from models.reorders import ReorderCycle, save_cycle
from tests.test_permissions import ACTOR, ROLES, Action, check_action, parse_table, world  # noqa: F401

DAY = "2026-11-24"

CUSTOMER_ACTIONS = {
    "rows": Action("GET", "/customers/{c}/orders"),
    "view": Action("GET", "/orders/{signed}"),
    "new_form": Action("GET", "/customers/{c}/orders/new"),
    "new": Action("POST", "/customers/{c}/orders/new",
                  {"ordered_on": DAY, "product_0": "{product}", "quantity_0": "3", "action": "sign"}, "order.created",
                  lambda i: Order.select().where((Order.customer == i["c"]) & (Order.id > i["signed"]))),
    "edit_form": Action("GET", "/orders/{draft}/edit"),
    "edit": Action("POST", "/orders/{draft}/edit", {"ordered_on": DAY, "product_0": "{product}", "quantity_0": "7",
                                                    "action": "draft"}, "order.updated",
                   lambda i: OrderLine.select().where((OrderLine.order == i["draft"]) & (OrderLine.quantity == 7))),
    "sign": Action("POST", "/orders/{draft}/sign", {}, "order.signed",
                   lambda i: Order.select().where((Order.id == i["draft"]) & (Order.status == "signed"))),
    "cancel": Action("POST", "/orders/{draft}/cancel", {"reason": "客户取消"}, "order.cancelled",
                     lambda i: Order.select().where((Order.id == i["draft"]) & (Order.status == "cancelled"))),
    "due": Action("POST", "/orders/{draft}/dues", {"due_on": "2026-12-30", "amount": "10"}, "payment.scheduled",
                  lambda i: PaymentDue.select().where(PaymentDue.order == i["draft"])),
    "pay": Action("POST", "/orders/{signed}/payments", {"received_on": DAY, "amount": "10", "method": "cash"},
                  "payment.received", lambda i: Payment.select().where(Payment.order == i["signed"])),
    "cycle_form": Action("GET", "/customers/{c}/reorders/new"),
    "cycle_new": Action("POST", "/customers/{c}/reorders", {"product_id": "{other}", "every": "1", "unit": "month",
                                                            "starts_on": "2026-12-20", "remind_days": "7"},
                        "reorder.cycle_accepted",
                        lambda i: ReorderCycle.select().where((ReorderCycle.customer == i["c"])
                                                              & (ReorderCycle.product == i["other"]))),
    "cycle_edit_form": Action("GET", "/reorders/{cycle}/edit"),
    "cycle_edit": Action("POST", "/reorders/{cycle}/edit", {"every": "2", "unit": "month", "starts_on": "2026-12-20",
                                                            "remind_days": "7"}, "reorder.cycle_changed",
                         lambda i: ReorderCycle.select().where((ReorderCycle.id == i["cycle"]) & (ReorderCycle.every == 2))),
    "cycle_end": Action("POST", "/reorders/{cycle}/end", {}, "reorder.cycle_ended",
                        lambda i: ReorderCycle.select().where((ReorderCycle.id == i["cycle"]) & ~ReorderCycle.active)),
}
READ = ("rows", "view")
CUSTOMER_TABLE = """
role       relation    rows view new_form new edit_form edit sign cancel due pay cycle_form cycle_new cycle_edit_form cycle_edit cycle_end
sales      own         Y    Y    Y        Y   Y         Y    Y    Y      Y   Y   Y          Y         Y               Y          Y
sales      same_team   -    -    -        -   -         -    -    -      -   -   -          -         -               -          -
sales      other_team  -    -    -        -   -         -    -    -      -   -   -          -         -               -          -
sales      unowned     -    -    -        -   -         -    -    -      -   -   -          -         -               -          -
manager    own         Y    Y    Y        Y   Y         Y    Y    Y      Y   Y   Y          Y         Y               Y          Y
manager    same_team   Y    Y    Y        Y   Y         Y    Y    Y      Y   Y   Y          Y         Y               Y          Y
manager    other_team  -    -    -        -   -         -    -    -      -   -   -          -         -               -          -
manager    unowned     -    -    -        -   -         -    -    -      -   -   -          -         -               -          -
marketing  other_team  -    -    -        -   -         -    -    -      -   -   -          -         -               -          -
marketing  unowned     -    -    -        -   -         -    -    -      -   -   -          -         -               -          -
service    other_team  Y    Y    -        -   -         -    -    -      -   -   -          -         -               -          -
service    unowned     Y    Y    -        -   -         -    -    -      -   -   -          -         -               -          -
admin      other_team  Y    Y    Y        Y   Y         Y    Y    Y      Y   Y   Y          Y         Y               Y          Y
admin      unowned     Y    Y    Y        Y   Y         Y    Y    Y      Y   Y   Y          Y         Y               Y          Y
"""
CUSTOMER_OF = {("sales", "own"): "a_rep", ("sales", "same_team"): "a_mgr", ("manager", "own"): "a_mgr",
               ("manager", "same_team"): "a_rep", "other_team": "b_rep", "unowned": "pool"}

ROLE_ACTIONS = {
    "calendar": Action("GET", "/reorders/calendar"),
    "products": Action("GET", "/products"),
    "product_new_form": Action("GET", "/products/new"),
    "product_new": Action("POST", "/products/new", {"code": "ACC-9", "name_zh": "纽扣", "name_en": "Buttons",
                                                    "list_price": "0.50", "unit_cost": "0.20", "active": "1"},
                          "product.created", lambda i: Product.select().where(Product.code == "ACC-9")),
    "product_edit_form": Action("GET", "/products/{product}/edit"),
    "product_edit": Action("POST", "/products/{product}/edit", {"code": "THR-40", "name_zh": "缝纫线", "name_en": "Thread",
                                                                "list_price": "300", "unit_cost": "180", "active": "1"},
                           "product.updated", lambda i: Product.select().where(Product.list_price == 300)),
    "export": Action("GET", "/products/export.csv"),
    "export_xlsx": Action("GET", "/products/export.xlsx"),
}
ROLE_TABLE = """
role       calendar products product_new_form product_new product_edit_form product_edit export export_xlsx
sales      Y        -        -                -           -                 -            -      -
manager    Y        -        -                -           -                 -            -      -
marketing  -        -        -                -           -                 -            -      -
service    Y        -        -                -           -                 -            -      -
admin      Y        Y        Y                Y           Y                 Y            Y      Y
"""

MATRIX_ACTIONS = [*CUSTOMER_ACTIONS.values(), *ROLE_ACTIONS.values()]
NOT_IN_MATRIX = {"products.import_file": "test_only_admins_import_products (below), "
                                         "tests/test_orders.py::test_import_is_all_or_nothing_and_export_round_trips"}
CUSTOMER_EXPECTED, ROLE_EXPECTED = parse_table(CUSTOMER_TABLE), parse_table(ROLE_TABLE.replace("role ", "role relation ", 1)
                                                                             .replace("\nsales ", "\nsales - ")
                                                                             .replace("\nmanager ", "\nmanager - ")
                                                                             .replace("\nmarketing ", "\nmarketing - ")
                                                                             .replace("\nservice ", "\nservice - ")
                                                                             .replace("\nadmin ", "\nadmin - "))


def _setup(world, key):
    """A product, a second consumable, a signed and a draft order, and a cycle on the customer (by the admin)."""
    admin, customer = world.users["admin"], world.customers[key]
    thread = save_product(admin, {"code": "THR-40", "name_zh": "缝纫线", "name_en": "Thread", "list_price": "260",
                                  "unit_cost": "180", "consumable": "1"})
    other = save_product(admin, {"code": "NDL-9", "name_zh": "机针", "name_en": "Needles", "list_price": "40",
                                 "unit_cost": "20", "consumable": "1"})
    line = {"ordered_on": DAY, "product_0": str(thread.id), "quantity_0": "2"}
    signed = create_order(admin, customer, line, sign=True)
    draft = create_order(admin, customer, line)
    cycle = save_cycle(admin, customer, {"product_id": str(thread.id), "every": "1", "unit": "month",
                                         "starts_on": "2026-12-24", "remind_days": "7"})
    return {"c": customer.id, "product": thread.id, "other": other.id, "signed": signed.id, "draft": draft.id,
            "cycle": cycle.id}


@pytest.mark.parametrize("role,relation,action", [
    (role, relation, action) for (role, relation) in CUSTOMER_EXPECTED for action in CUSTOMER_ACTIONS])
def test_order_routes(client, world, role, relation, action):
    key = CUSTOMER_OF.get((role, relation)) or CUSTOMER_OF[relation]
    ids = _setup(world, key)
    client.login(world.users[ACTOR[role]])
    check_action(client, CUSTOMER_ACTIONS[action], ids, allowed=CUSTOMER_EXPECTED[(role, relation)][action] == "Y")


@pytest.mark.parametrize("role,action", [(role, action) for role in ROLES for action in ROLE_ACTIONS])
def test_role_routes(client, world, role, action):
    ids = _setup(world, "a_rep")
    client.login(world.users[ACTOR[role]])
    check_action(client, ROLE_ACTIONS[action], ids, allowed=ROLE_EXPECTED[(role, "-")][action] == "Y")


@pytest.mark.parametrize("role", ROLES)
def test_only_admins_import_products(client, world, role):
    client.login(world.users[ACTOR[role]])
    csv_file = "code,name_zh,name_en,list_price,unit_cost\nIMP-1,导入,Imported,1,1\n".encode()
    r = client.post("/products/import", {"file": (io.BytesIO(csv_file), "p.csv")}, content_type="multipart/form-data")
    assert (r.status_code, Product.select().where(Product.code == "IMP-1").exists()) == (
        (303, True) if role == "admin" else (404, False))


def test_tables_are_complete():
    assert {role for role, _ in CUSTOMER_EXPECTED} == set(ROLES)
    assert all(set(row) == set(CUSTOMER_ACTIONS) for row in CUSTOMER_EXPECTED.values())
    assert {role for role, _ in ROLE_EXPECTED} == set(ROLES)
    assert all(set(row) == set(ROLE_ACTIONS) for row in ROLE_EXPECTED.values())
    # Service reads what every seller may do to their own customers, and nothing more.
    assert all(CUSTOMER_EXPECTED[("service", rel)][a] == ("Y" if a in READ else "-")
               for rel in ("other_team", "unowned") for a in CUSTOMER_ACTIONS)
