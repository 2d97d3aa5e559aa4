"""Real-browser journeys through customer value (issue 15): the manager's value pyramid (an SVG drawn by the
server, the movement of the last quarter, click-through to the customers of a tier), and the rep's value
card on the 360 page (the tier with its reason in words, influence refused without a reason and saved with
one, the tier change on the timeline).

Every test makes its own team, users and customers with unique names. Screenshots land in
<--output>/<test-id>/.
"""
import datetime as dt
import re
import uuid

from playwright.sync_api import Page, expect

from models import clock
from models import value as vm
from models.customers import Customer, create_customer, set_owner
from models.orders import Order, Payment, PaymentDue
from models.users import Region, Team, User, hash_password
from tests.conftest import PASSWORD
from tests.e2e.conftest import assert_not_reloaded, mark_page, shot


def _uid():
    return uuid.uuid4().hex[:8]


def _user(role, team=None):
    uid = _uid()
    return User.create(username=f"e2e-{role}-{uid}", full_name=f"E2E {role.title()} {uid[:4]}",
                       password_hash=hash_password(PASSWORD), role=role, team=team,
                       region=team.region_id if team else None, created_at=clock.now(), language="en")


def _trade(customer, days_ago, total, paid):
    """A signed order `days_ago`, due 30 days later, `paid` of it received on the due date."""
    day = clock.today() - dt.timedelta(days=days_ago)
    order = Order.create(customer=customer.id, rep=customer.owner_id, ordered_on=day, status="signed", total=total,
                         cost=round(total * 0.65, 2), created_at=clock.now(), signed_at=clock.now())
    due_on = day + dt.timedelta(days=30)
    PaymentDue.create(order=order, customer=customer.id, due_on=due_on, amount=total)
    if paid:
        Payment.create(order=order, customer=customer.id, received_on=due_on, amount=paid, method="bank_transfer",
                       created_at=clock.now())
    return order


def _world():
    """A team whose customers span the tiers; one of them was diamond a quarter ago and slipped since."""
    region = Region.get(Region.code == "east")
    team = Team.create(name=f"E2E 价值{_uid()}组", region=region)
    rep, manager, admin = _user("sales", team), _user("manager", team), _user("admin")
    Team.update(manager=manager).where(Team.id == team.id).execute()
    customers = {}
    for key, name in (("slipping", "锦华服饰"), ("strategic", "恒远制衣"), ("potential", "新禾纺织"),
                      ("ordinary", "小林制衣"), ("prospect", "远景服装")):
        c = create_customer(admin, {"name": f"{name}有限公司{_uid()}", "business_model": "industrial",
                                    "source": "website", "stage": "target" if key == "prospect" else "signed",
                                    "region_id": str(region.id)}, check_duplicates=False)
        set_owner(admin, c, rep)
        customers[key] = Customer.get_by_id(c.id)
    _trade(customers["slipping"], 200, 1_000_000, 1_000_000)
    _trade(customers["strategic"], 100, 650_000, 650_000)
    _trade(customers["strategic"], 450, 500_000, 500_000)
    _trade(customers["potential"], 120, 300_000, 300_000)
    _trade(customers["potential"], 500, 150_000, 150_000)
    _trade(customers["ordinary"], 90, 40_000, 40_000)
    _trade(customers["ordinary"], 420, 60_000, 60_000)
    quarter_ago = clock.now() - dt.timedelta(days=70)
    for c in customers.values():
        vm.recompute(c.id, quarter_ago)
    # Since then: a second large order in two instalments; the first (220,000) was paid, 780,000 is late.
    late = _trade(customers["slipping"], 80, 1_000_000, None)
    PaymentDue.update(amount=220_000).where(PaymentDue.order == late).execute()
    PaymentDue.create(order=late, customer=customers["slipping"].id, due_on=clock.today() - dt.timedelta(days=45),
                      amount=780_000)
    Payment.create(order=late, customer=customers["slipping"].id, received_on=clock.today() - dt.timedelta(days=50),
                   amount=220_000, method="bank_transfer", created_at=clock.now())
    for c in customers.values():
        vm.recompute(c.id)
    return team, rep, manager, customers


def test_the_managers_value_pyramid(page: Page, login, output_path):
    team, _rep, manager, customers = _world()
    login(manager.username)
    page.locator("nav.sidenav").get_by_role("link", name="Value pyramid").click()
    page.wait_for_url(re.compile(r"/value/pyramid$"))
    chart = page.locator("#value-pyramid svg")
    expect(chart.locator("polygon")).to_have_count(5)
    expect(chart).to_contain_text("Strategic · 1")
    tiers = page.locator("#value-tiers")
    for tier in ("Problem", "Strategic", "Potential", "Ordinary"):
        expect(tiers.get_by_role("row", name=re.compile(tier)).first).to_be_visible()
    expect(page.locator("#value-fell")).to_have_text("1 fell")
    expect(page.locator("#value-moves")).to_contain_text("Diamond")
    shot(page, output_path, "value-pyramid.png")
    page.locator("#value-moves td a").first.click()
    page.wait_for_url(re.compile(r"/value/moves\?"))
    expect(page.locator("#value-movers")).to_contain_text(customers["slipping"].name)
    page.go_back()
    chart = page.locator("#value-pyramid svg")
    chart.locator("a").filter(has_text="Strategic").click()
    page.wait_for_url(re.compile(r"/customers\?.*tier=strategic"))
    table = page.locator("#customer-table")
    expect(table).to_contain_text(customers["strategic"].name)
    expect(table).not_to_contain_text(customers["potential"].name)
    expect(table.locator(".tier-strategic").first).to_have_text("Strategic")
    shot(page, output_path, "customers-strategic.png")


def test_the_reps_value_card(page: Page, login, output_path):
    _team, rep, _manager, customers = _world()
    customer = customers["slipping"]
    login(rep.username)
    page.goto(f"/customers/{customer.id}")
    card = page.locator("#value-card")
    expect(card.locator("#value-tier")).to_have_text("Problem")
    expect(card.locator("#value-why")).to_contain_text("collection rate 61 % < 70 %")
    expect(page.locator("#customer-stage .tier-problem")).to_have_text("Problem")
    shot(page, output_path, "value-card.png")
    mark_page(page)
    card.get_by_role("link", name="Enter influence").click()
    form = page.locator("#value-card form")
    form.get_by_label("Influence (1 low – 5 high)").select_option("4")
    form.get_by_role("button", name="Save influence").click()
    expect(page.locator("#err-reason")).to_contain_text("influence needs a reason")
    assert vm.value_of(customer.id).influence is None
    page.locator("#value-card").get_by_label("Why (required)").fill("行业协会副会长单位，同行采购以其为标杆")
    page.locator("#value-card").get_by_role("button", name="Save influence").click()
    expect(page.locator("#value-influence")).to_contain_text("4/5")
    assert_not_reloaded(page)
    assert vm.value_of(customer.id).influence == 4
    shot(page, output_path, "value-card-influence.png")
    page.goto(f"/customers/{customer.id}?tab=timeline")
    expect(page.locator("body")).to_contain_text(
        "Value tier moved from Diamond to Problem: collection rate 61 % < 70 % (rule v")
    shot(page, output_path, "value-timeline.png")
