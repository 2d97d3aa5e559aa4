"""Issue 13 point 9: a signed order or a received payment within `order_protection_days` (a versioned pool-rule
setting) keeps a customer out of forced release, in the sweep and in the rule preview, and the pool card, the
ledger and the preview say so in words. Boundaries on the frozen clock."""
import datetime as dt

import pytest

from models import clock
from models.customers import Customer
from models.orders import cancel_order, create_order, record_payment, save_product
from models.pools import PoolEvent, preview_rules, release_plan, sweep
from models.rules import DEFAULTS, in_force, save_version
from tests.conftest import FROZEN

DAY, SEC = dt.timedelta(days=1), dt.timedelta(seconds=1)
TODAY = dt.date(2026, 11, 24)  # FROZEN in Shanghai
# 90 days of protection from 2026-11-24 cover the whole local day 2027-02-22; the release is at its end.
UNTIL = clock.from_local(dt.datetime(2027, 2, 23, 0, 0))


def body(response):
    return response.get_data(as_text=True)


def fresh(customer):
    return Customer.get_by_id(customer.id)


@pytest.fixture
def shop(make_user, make_team, make_customer):
    rep, admin = make_user("sales", make_team()), make_user("admin")
    customer = make_customer(owner=rep, stage="long_term", name="泉州长单服饰有限公司")
    fabric = save_product(admin, {"code": "FAB-P", "name_zh": "全棉府绸面料", "name_en": "Cotton poplin",
                                  "product_line": "面料", "unit": "米", "list_price": "28.50", "unit_cost": "19.20",
                                  "consumable": "1"})
    return rep, admin, customer, fabric


def order(rep, customer, product, ordered_on=TODAY, sign=True):
    return create_order(rep, fresh(customer), {"ordered_on": ordered_on.isoformat(), "product_0": str(product.id),
                                               "quantity_0": "100", "unit_price_0": "", "unit_cost_0": ""}, sign=sign)


def test_without_orders_the_follow_up_clock_releases_as_before(shop):
    _rep, _admin, customer, _p = shop
    assert (fresh(customer).release_at, fresh(customer).release_rule) == (FROZEN + 15 * DAY, "no_followup")
    assert fresh(customer).last_deal_on is None


def test_a_signed_order_holds_the_customer_until_the_protection_ends_to_the_second(shop):
    rep, _admin, customer, fabric = shop
    order(rep, customer, fabric)
    c = fresh(customer)
    assert c.last_deal_on == TODAY
    assert (c.release_at, c.release_rule) == (UNTIL, "order")
    _at, _rule, inputs = release_plan(c, in_force(), FROZEN)
    assert inputs["unprotected_at"] == str(FROZEN + 15 * DAY) and inputs["unprotected_rule"] == "no_followup"
    # The follow-up clock runs out on day 15: the sweep keeps the customer.
    clock.freeze(FROZEN + 15 * DAY)
    assert sweep(clock.now())["released"] == 0 and fresh(customer).owner_id == rep.id
    clock.freeze(UNTIL - SEC)
    assert sweep(clock.now())["released"] == 0 and fresh(customer).owner_id == rep.id
    clock.freeze(UNTIL)
    assert sweep(clock.now())["released"] == 1 and fresh(customer).owner_id is None
    ev = PoolEvent.get((PoolEvent.kind == "forced_release") & (PoolEvent.customer == customer.id))
    assert ev.inputs["rule"] == "no_followup" and ev.inputs["last_deal_on"] == "2026-11-24"
    assert ev.inputs["deal_days"] == 90 and "last signed order or payment on 2026-11-24" in ev.reason


def test_the_sweep_counts_a_stale_due_date_it_keeps(shop):
    """A release date written before the order (or before the migration) is checked again at its turn."""
    rep, _admin, customer, fabric = shop
    order(rep, customer, fabric)
    Customer.update(release_at=FROZEN + 15 * DAY, release_rule="no_followup").where(Customer.id == customer.id).execute()
    clock.freeze(FROZEN + 15 * DAY)
    result = sweep(clock.now())
    assert (result["released"], result["kept_by_orders"]) == (0, 1)
    assert (fresh(customer).release_at, fresh(customer).release_rule) == (UNTIL, "order")


def test_an_order_dated_long_ago_does_not_protect(shop):
    rep, _admin, customer, fabric = shop
    order(rep, customer, fabric, ordered_on=TODAY - 91 * DAY)
    c = fresh(customer)
    assert c.last_deal_on == TODAY - 91 * DAY and (c.release_at, c.release_rule) == (FROZEN + 15 * DAY, "no_followup")
    order(rep, customer, fabric, ordered_on=TODAY - 90 * DAY)  # its protection still covers today
    c = fresh(customer)
    assert (c.release_at, c.release_rule) == (FROZEN + 15 * DAY, "no_followup")  # ends before the clock does
    assert release_plan(c, in_force(), FROZEN)[2]["last_deal_on"] == (TODAY - 90 * DAY).isoformat()


def test_a_received_payment_protects_and_a_draft_or_a_cancelled_order_does_not(shop):
    rep, admin, customer, fabric = shop
    draft = order(rep, customer, fabric, sign=False)
    assert fresh(customer).last_deal_on is None and fresh(customer).release_rule == "no_followup"
    signed = order(rep, customer, fabric, ordered_on=TODAY - 60 * DAY)
    assert fresh(customer).last_deal_on == TODAY - 60 * DAY
    cancel_order(rep, signed, "录错了")
    assert fresh(customer).last_deal_on is None and fresh(customer).release_at == FROZEN + 15 * DAY
    signed = order(rep, customer, fabric, ordered_on=TODAY - 60 * DAY)
    record_payment(admin, signed, {"received_on": TODAY.isoformat(), "amount": "100", "method": "bank_transfer"})
    c = fresh(customer)
    assert c.last_deal_on == TODAY and (c.release_at, c.release_rule) == (UNTIL, "order")
    assert draft.status == "draft"


def test_the_setting_is_versioned_and_zero_turns_it_off(shop):
    rep, admin, customer, fabric = shop
    order(rep, customer, fabric)
    start = FROZEN + DAY
    save_version(admin, {**DEFAULTS, "order_protection_days": 0}, start, "orders no longer protect")
    assert in_force(FROZEN)["order_protection_days"] == 90 and in_force(start)["order_protection_days"] == 0
    clock.freeze(start)
    sweep(clock.now())  # a new version: every release date recomputed
    assert (fresh(customer).release_at, fresh(customer).release_rule) == (FROZEN + 15 * DAY, "no_followup")
    clock.freeze(FROZEN + 15 * DAY)
    assert sweep(clock.now())["released"] == 1


def test_the_preview_counts_the_customers_kept_under_both_rules(shop):
    rep, _admin, customer, fabric = shop
    order(rep, customer, fabric)
    off = preview_rules({**DEFAULTS, "order_protection_days": 0}, FROZEN)
    assert (off["total"], off["kept_by_orders"]) == (1, 0)
    assert (off["baseline_total"], off["baseline_kept_by_orders"]) == (0, 1)
    same = preview_rules(dict(DEFAULTS), FROZEN)
    assert (same["total"], same["kept_by_orders"], same["baseline_kept_by_orders"]) == (0, 1, 1)
    shorter = preview_rules({**DEFAULTS, "order_protection_days": 20}, FROZEN)
    assert (shorter["total"], shorter["kept_by_orders"]) == (1, 0)  # held until day 21, inside the 30 days


def test_the_rules_page_previews_and_saves_the_setting(client, shop):
    rep, admin, customer, fabric = shop
    order(rep, customer, fabric)
    client.login(admin)
    assert 'name="order_protection_days" value="90"' in body(client.get("/admin/rules"))
    form = {k: v for k, v in DEFAULTS.items() if isinstance(v, int) and not isinstance(v, bool)}
    form.update(capacity_sales=50, capacity_manager=50, warning_days="3, 1", dealt_count="1",
                stock_phrases="继续跟进", effective_from="", note="", order_protection_days="0")
    page = body(client.post("/admin/rules/preview", form, htmx=True))
    assert 'id="preview-kept"' in page and "0 customers (under the rules in force: 1)" in page
    r = client.post("/admin/rules", {**form, "order_protection_days": "1096"})
    assert "A whole number from 0 to 1095." in body(r)
    client.post("/admin/rules", form)
    assert in_force(clock.now())["order_protection_days"] == 0


def test_the_pool_card_and_the_ledger_say_why_in_words(client, shop):
    rep, admin, customer, fabric = shop
    order(rep, customer, fabric)
    client.login(rep)
    page = body(client.get(f"/customers/{customer.id}"))
    assert "Kept out of forced release until" in page and "the last signed order or payment was on" in page
    assert "would have run out on" in page
    clock.freeze(UNTIL)
    sweep(clock.now())
    client.login(admin)
    ledger = body(client.get("/admin/ledger"))
    assert "no valid follow-up for 15 days" in ledger
    assert "(the last signed order or payment, on Nov 24, 2026, was more than 90 days before)" in ledger
