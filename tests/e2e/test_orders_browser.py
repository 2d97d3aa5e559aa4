"""Real-browser journeys through orders and reorder cycles (domain §9): a reorder to-do appears on the
rep's workbench, the rep records the order from it, the to-do clears and the next expected date moves;
a payment over what is due is refused inline and accepted as a prepayment; the pages in Chinese.

Every test makes its own team, users, products and customers with unique names. Screenshots land in
<--output>/<test-id>/.
"""
import datetime as dt
import re
import uuid

from playwright.sync_api import Page, expect

from models import clock
from models.customers import Customer, create_customer, set_owner
from models.orders import Order, Payment, create_order, save_product
from models.reorders import ReorderCycle, ReorderTodo, save_cycle
from models.users import Region, Team, User, hash_password
from tests.conftest import PASSWORD
from tests.e2e.conftest import shot


def _uid():
    return uuid.uuid4().hex[:8]


def _user(role, team=None, language="en"):
    uid = _uid()
    return User.create(username=f"e2e-{role}-{uid}", full_name=f"E2E {role.title()} {uid[:4]}",
                       password_hash=hash_password(PASSWORD), role=role, team=team,
                       region=team.region_id if team else None, created_at=clock.now(), language=language)


def _world():
    """A rep with a signed customer who buys thread every month; the cycle's reminder day has come."""
    region = Region.get(Region.code == "east")
    team = Team.create(name=f"E2E 订单{_uid()}组", region=region)
    rep, admin = _user("sales", team), _user("admin")
    uid = _uid()
    customer = create_customer(admin, {"name": f"嘉禾制衣有限公司{uid}", "business_model": "industrial",
                                       "source": "website", "stage": "signed", "region_id": str(region.id)},
                               check_duplicates=False)
    set_owner(admin, customer, rep)
    customer = Customer.get_by_id(customer.id)
    thread = save_product(admin, {"code": f"THR-{uid}", "name_zh": "涤纶缝纫线 40S/2", "name_en": "Polyester thread 40s/2",
                                  "product_line": "辅料 Trims", "unit": "箱", "list_price": "260", "unit_cost": "176",
                                  "consumable": "1"})
    today = clock.today()
    for months in (3, 2, 1):
        day = today + dt.timedelta(days=3) - dt.timedelta(days=30 * months)
        create_order(rep, customer, {"ordered_on": day.isoformat(), "product_0": str(thread.id), "quantity_0": "12"},
                     sign=True)
    save_cycle(rep, customer, {"product_id": str(thread.id), "every": "30", "unit": "day",
                               "starts_on": (today + dt.timedelta(days=3)).isoformat(), "remind_days": "7"})
    return rep, customer, thread


def test_a_reorder_todo_appears_and_the_order_clears_it(page: Page, login, output_path):
    rep, customer, thread = _world()
    todo = ReorderTodo.get(ReorderTodo.customer == customer.id)
    assert todo.status == "open"

    login(rep.username)
    panel = page.locator("#reorder-todos")
    row = panel.locator(f"#todo-{todo.id}")
    expect(row).to_contain_text(customer.name)
    expect(row).to_contain_text(thread.code)
    shot(page, output_path, "workbench-reorder-due.png")

    row.get_by_role("link", name="Record order").click()
    page.wait_for_url(re.compile(rf"/customers/{customer.id}/orders/new\?product={thread.id}$"))
    expect(page.locator("#f-product-0")).to_have_value(str(thread.id))
    page.locator("#f-quantity-0").fill("-4")
    page.get_by_role("button", name="Save and sign").click()
    expect(page.locator("#err-quantity-0")).to_have_text("Must not be negative.")
    assert Order.select().where(Order.customer == customer.id).count() == 3
    shot(page, output_path, "order-form-error.png")
    page.locator("#f-quantity-0").fill("15")
    page.get_by_role("button", name="Save and sign").click()
    page.wait_for_url(re.compile(r"/orders/\d+\?saved=1$"))
    expect(page.get_by_role("status").first).to_have_text("Order saved.")
    expect(page.locator("#order-total")).to_have_text("¥3,900.00")
    shot(page, output_path, "order-signed.png")

    done = ReorderTodo.get_by_id(todo.id)
    assert (done.status, done.on_time) == ("done", True)
    cycle = ReorderCycle.get(ReorderCycle.customer == customer.id)
    assert cycle.next_expected_on == clock.today() + dt.timedelta(days=30)

    page.goto("/")
    expect(page.locator(f"#todo-{todo.id}")).to_have_count(0)
    expect(page.locator("#reorder-todos")).not_to_contain_text(customer.name)

    # The payment: more than is due is refused on the screen, then accepted as a prepayment.
    order = Order.select().where(Order.customer == customer.id).order_by(Order.id.desc()).first()
    page.goto(f"/orders/{order.id}")
    form = page.locator("#payment-form")
    form.get_by_label("Amount (¥)").fill("5000")
    form.get_by_role("button", name="Record payment").click()
    expect(page.locator("#err-pay-amount")).to_contain_text("Mark the payment as a prepayment")
    assert Payment.select().where(Payment.order == order.id).count() == 0
    form = page.locator("#payment-form")
    form.get_by_label("Prepayment").check()
    form.get_by_role("button", name="Record payment").click()
    expect(page.locator("#order-payments").get_by_role("status")).to_have_text("Payment recorded.")
    assert Payment.get(Payment.order == order.id).prepayment is True
    shot(page, output_path, "order-prepayment.png")


def test_orders_and_reorders_in_chinese(page: Page, login, output_path):
    rep, customer, _thread = _world()
    login(rep.username)
    page.get_by_role("button", name="简体中文").click()
    expect(page.locator("#reorder-todos h2")).to_contain_text("待复购提醒")
    shot(page, output_path, "workbench-zh.png")
    page.goto(f"/customers/{customer.id}?tab=orders")
    expect(page.locator("#order-figures h2")).to_have_text("销售与回款")
    expect(page.locator("#tab-orders")).to_have_text("订单")
    shot(page, output_path, "customer-orders-zh.png")
    page.goto(f"/customers/{customer.id}?tab=reorders")
    expect(page.locator("#cycle-table")).to_contain_text("每 30 天")
    page.get_by_role("button", name="编辑").first.click()
    expect(page.locator("#cycle-form")).to_be_visible()
    page.locator("#f-every").fill("0")
    page.get_by_role("button", name="保存周期").click()
    expect(page.locator("#err-every")).to_contain_text("周期至少为 1 天")
    shot(page, output_path, "customer-reorders-zh.png")
    page.goto("/reorders/calendar")
    expect(page.locator("#reorder-calendar")).to_contain_text(customer.name[:6])
    shot(page, output_path, "reorder-calendar-zh.png")
    page.get_by_role("button", name="English").click()
    expect(page.locator("h1")).to_contain_text("Reorder calendar")
    shot(page, output_path, "reorder-calendar-en.png")
