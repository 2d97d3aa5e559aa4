"""Real-browser journey through buying factors and share of wallet (issue 15 items 7 and 8): a rep ranks a
strategic customer's buying factors on its file (refused without enough evidence, then the guidance shows
without a reload), sees the same guidance on the customer's deal, and enters a spend estimate on the share of
wallet page (a negative spend and a missing source are refused inline), then sees the share, the share a
year ago and the SVG charts.

Screenshots land in <--output>/<test-id>/.
"""
import datetime as dt
import re
import uuid
from decimal import Decimal

from playwright.sync_api import Page, expect

from models import clock
from models import value as vm
from models.customers import Customer, create_customer, set_owner
from models.opportunities import create_opportunity
from models.orders import Order, OrderLine, Product
from models.users import Region, Team, User, hash_password
from tests.conftest import PASSWORD
from tests.e2e.conftest import assert_not_reloaded, mark_page, shot


def _uid():
    return uuid.uuid4().hex[:8]


def _world():
    """A rep with a strategic customer that bought fabric in both of the last two years."""
    uid = _uid()
    region = Region.get(Region.code == "east")
    team = Team.create(name=f"E2E 份额{uid}组", region=region)
    rep = User.create(username=f"e2e-rep-{uid}", full_name=f"E2E Rep {uid[:4]}", password_hash=hash_password(PASSWORD),
                      role="sales", team=team, region=region.id, created_at=clock.now(), language="en")
    admin = User.get_or_none(User.role == "admin") or User.create(
        username=f"e2e-admin-{uid}", full_name="E2E Admin", password_hash=hash_password(PASSWORD), role="admin",
        created_at=clock.now())
    product = Product.create(code=f"FAB-{uid}", name_zh="精梳棉面料", name_en="Combed cotton", product_line=f"面料 {uid[:4]}",
                             list_price=30, unit_cost=20, updated_at=clock.now())
    c = create_customer(admin, {"name": f"恒远制衣有限公司{uid}", "business_model": "industrial", "source": "website",
                                "stage": "signed", "region_id": str(region.id)}, check_duplicates=False)
    set_owner(admin, c, rep)
    customer = Customer.get_by_id(c.id)
    for days_ago, amount in ((60, 600_000), (420, 500_000)):
        order = Order.create(customer=customer.id, rep=rep.id, ordered_on=clock.today() - dt.timedelta(days=days_ago),
                             status="signed", total=amount, cost=amount * 0.65, created_at=clock.now(),
                             signed_at=clock.now())
        OrderLine.create(order=order, product=product, quantity=amount / 30, unit_price=30, unit_cost=20,
                         amount=Decimal(amount))
    Customer.update(value_tier="strategic").where(Customer.id == customer.id).execute()
    vm.CustomerValue.create(customer=customer.id, tier="strategic", score=72, reason="score", sales_12m=600_000,
                            sales_prev=500_000, computed_at=clock.now(), tier_since=clock.now())
    deal = create_opportunity(rep, customer, {"name": "秋冬工装面料", "amount": "400000",
                                              "expected_close": (clock.today() + dt.timedelta(days=40)).isoformat()})
    return rep, customer, product.product_line, deal


def test_a_rep_ranks_buying_factors_and_estimates_the_share(page: Page, login, output_path):
    rep, customer, line, deal = _world()
    login(rep.username)
    page.goto(f"/customers/{customer.id}")
    card = page.locator("#buying-factors")
    expect(card.locator("#buying-none")).to_be_visible()
    mark_page(page)
    card.get_by_role("link", name="Rank buying factors").click()
    page.locator("#bf-first").select_option("price")
    page.locator("#bf-second").select_option("relationship")
    page.locator("#bf-third").select_option("value")
    page.locator("#bf-evidence").fill("太贵了")
    page.locator("#buying-factors").get_by_role("button", name="Save the ranking").click()
    expect(page.locator("#err-evidence")).to_contain_text("at least 10 characters")
    page.locator("#bf-evidence").fill("采购总监每季度压价，三家比价，最低价中标")
    page.locator("#buying-factors").get_by_role("button", name="Save the ranking").click()
    expect(page.locator("#buying-guidance")).to_contain_text("Price-led: lead with terms, not differentiation.")
    expect(page.locator("#buying-ranking li").first).to_contain_text("Price-led")
    expect(page.locator("#wallet-missing")).to_be_visible()  # strategic, and no spend estimate yet
    assert_not_reloaded(page)
    shot(page, output_path, "buying-factors-card.png")

    page.goto(f"/opportunities/{deal.id}")
    expect(page.locator("#buying-guidance")).to_contain_text("Price-led: lead with terms")
    expect(page.locator("#buying-evidence")).to_contain_text("this deal has none of its own")
    shot(page, output_path, "buying-factors-deal.png")

    page.goto(f"/customers/{customer.id}")
    page.locator("#wallet-link").click()
    page.wait_for_url(re.compile(rf"/customers/{customer.id}/wallet$"))
    form = page.locator("#wallet-spend-form")
    form.get_by_label("Product line").select_option(line)
    form.get_by_label("Yearly spend, all suppliers (yuan)").fill("-2000000")
    form.get_by_label("The customer's own growth (% a year)").fill("30")
    form.get_by_role("button", name="Save the estimate").click()
    expect(page.locator("#err-spend-spend")).to_have_text("The spend cannot be negative.")
    expect(page.locator("#err-spend-source")).to_contain_text("Say where the estimate comes from")
    form = page.locator("#wallet-spend-form")
    form.get_by_label("Yearly spend, all suppliers (yuan)").fill("200万")
    form.get_by_label("Source").fill("采购经理口述，2026 年面料预算")
    form.get_by_role("button", name="Save the estimate").click()
    page.wait_for_url(re.compile(r"/wallet\?saved=spend$"))
    row = page.locator("#wallet-table tbody tr").first
    expect(row).to_contain_text("30 %")       # share 600,000 / 2,000,000
    expect(row).to_contain_text("falling")    # a year ago 500,000 / (2,000,000 / 1.3) = 32.5 %
    expect(page.locator("#wallet-share-chart svg rect.wallet-ours")).to_have_count(1)
    expect(page.locator("#wallet-growth-chart svg")).to_contain_text("The customer 30 %")
    shot(page, output_path, "share-of-wallet.png")


def test_the_manager_sees_the_split_and_the_falling_shares(page: Page, login, output_path):
    rep, customer, line, _deal = _world()
    manager = User.create(username=f"e2e-mgr-{_uid()}", full_name="E2E Manager", password_hash=hash_password(PASSWORD),
                          role="manager", team=rep.team_id, region=rep.region_id, created_at=clock.now(), language="en")
    Team.update(manager=manager).where(Team.id == rep.team_id).execute()
    from models import buying_factors as bf
    from models import wallet as wm
    bf.set_buying_factors(rep, customer, {"first": "relationship", "second": "price", "third": "value",
                                          "evidence": "合作八年，对方说只要质量稳定不会换供应商"})
    wm.set_spend_estimate(rep, customer, {"product_line": line, "spend": "2000000", "customer_growth": "30",
                                          "estimated_on": clock.today().isoformat(), "source": "客户年报"})
    login(manager.username)
    page.goto("/value/pyramid")
    page.locator("#link-buying-factors").click()
    page.wait_for_url(re.compile(r"/value/buying-factors$"))
    chart = page.locator("#factor-split svg")
    expect(chart.locator("rect.factor-ours")).to_have_count(3)
    expect(chart).to_contain_text("100 %")  # the team's one ranked customer: trusted supplier
    expect(chart).to_contain_text("46 %")
    shot(page, output_path, "buying-factor-split.png")
    chart.locator("a").first.locator("rect.factor-ours").click()
    expect(page.locator("#factor-customers")).to_contain_text(customer.name)
    page.goto("/value/pyramid")
    page.locator("#link-share-falls").click()
    expect(page.locator("#share-falls")).to_contain_text(customer.name)
    expect(page.locator("#share-falls")).to_contain_text("32.5 %")
    shot(page, output_path, "share-falls.png")
