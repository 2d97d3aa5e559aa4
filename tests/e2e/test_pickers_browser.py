"""Real-browser checks of the pickers (issue 13 points 3 and 7): (a) the type-ahead person picker on the
delegation form — type pinyin initials, ↓ to the match, Enter picks it, the form saves that person; and the
customer list's owner filter applying a picked owner; (b) the service lookup telling two same-named customers
apart (owner, key-account tag, pool, credit code tail, number) with the owned file first, and the picked card
saying which one was taken. Screenshots in English and Chinese."""
import re

from playwright.sync_api import Page, expect

from models.customers import Customer
from models.delegations import Delegation
from models.pools import Pool
from models.users import User
from tests.conftest import valid_credit_code
from tests.e2e.conftest import assert_not_reloaded, log_in, mark_page, shot
from tests.e2e.test_service_browser import switch_to_chinese
from tests.e2e.test_pools_browser import _uid, admin, customer, region_and_pool, team_with_manager, user


def chinese_named(role, team, surname_initials):
    """A user named in Chinese with a unique tail: 王晓明 + four hex characters (initials wxm + the tail)."""
    u = user(role, team)
    name = f"王晓明{_uid()[:4]}"
    User.update(full_name=name).where(User.id == u.id).execute()
    return User.get_by_id(u.id), surname_initials + name[3:]


def test_person_picker_by_initials_and_keyboard(page: Page, new_context, output_path):
    region, _ = region_and_pool("east")
    team, manager = team_with_manager(region)
    rep = user("sales", team)
    delegate, typed = chinese_named("sales", team, "wxm")
    log_in(page, rep.username)
    page.goto("/delegations")
    mark_page(page)
    box = page.get_by_label("Delegate")
    box.click()
    page.keyboard.type(typed, delay=40)
    option = page.locator("#delegate_id-list .person-pick")
    expect(option).to_have_count(1)
    expect(option).to_contain_text(delegate.full_name)
    expect(option).to_contain_text(team.name)
    expect(box).to_have_attribute("aria-expanded", "true")
    shot(page, output_path, "person-picker-open-en.png")
    page.keyboard.press("ArrowDown")
    expect(option).to_be_focused()
    page.keyboard.press("Enter")
    expect(box).to_have_value(delegate.full_name)
    expect(page.locator("#delegation-form input[name=delegate_id]")).to_have_value(str(delegate.id))
    expect(page.locator("#delegate_id-list .person-pick")).to_have_count(0)
    expect(box).to_be_focused()
    page.get_by_label("From").fill("2026-12-20")
    page.get_by_label("Until (included)").fill("2026-12-24")
    page.get_by_role("button", name="Save the delegation").click()
    expect(page.locator("#delegation-form")).to_be_visible()
    page.wait_for_timeout(300)
    d = Delegation.get(Delegation.absentee == rep.id)
    assert d.delegate_id == delegate.id

    # The manager's customer list: the owner filter picks a rep and the list follows.
    boss = admin()
    mine = customer(boss, _uid(), region, owner=delegate)
    customer(boss, _uid(), region, owner=rep)
    page = new_context().new_page()
    log_in(page, manager.username)
    page.goto("/customers?scope=team")
    page.locator(".more-filters summary").click()
    owner_box = page.get_by_label("Owner")
    owner_box.click()
    page.keyboard.type(typed, delay=40)
    expect(page.locator("#filter-owner-list .person-pick")).to_have_count(1)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"owner={delegate.id}"))
    expect(page.locator("#results")).to_contain_text(mine.name)
    expect(page.locator("#results tbody tr")).to_have_count(1)
    shot(page, output_path, "owner-filter-picked-en.png")

    # In Chinese, at phone width, the list still fits under its box.
    page.goto("/delegations")
    switch_to_chinese(page)
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto("/delegations")
    page.get_by_label("代理人").click()
    page.keyboard.type(typed, delay=40)
    expect(page.locator("#delegate_id-list .person-pick")).to_have_count(1)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width} px wide at 390 px"
    shot(page, output_path, "person-picker-open-zh-390.png")


def look_up(page, box_label, text, count):
    """Type `text` into the ticket form's customer box; the `count` matches answering it."""
    page.get_by_label(box_label).click()
    page.keyboard.type(text, delay=30)
    picks = page.locator(f"#customer-results .lookup-list[data-q='{text}'] .lookup-pick")
    expect(picks).to_have_count(count)
    return picks


def test_same_named_customers_are_told_apart_in_the_service_lookup(page: Page, output_path):
    region, pool = region_and_pool("east")
    team, _manager = team_with_manager(region)
    rep, agent, boss = user("sales", team), user("service"), admin()
    uid = _uid()
    owned = customer(boss, uid, region, owner=rep, city="泉州", business_model="key_account",
                     credit_code=valid_credit_code(int(uid[:6], 16)))
    twin = customer(boss, uid, region, city="泉州")  # the same name: a duplicate sitting in the pool
    Customer.update(pool=pool.id).where(Customer.id == twin.id).execute()
    assert owned.name == twin.name
    log_in(page, agent.username)
    page.goto("/service/tickets/new")
    mark_page(page)
    picks = look_up(page, "Customer: name, phone or credit code", uid[2:8], 2)
    expect(picks.nth(0)).to_contain_text(f"owner {rep.full_name}")  # the owned key account first
    expect(picks.nth(0)).to_contain_text("Key account")
    expect(picks.nth(0)).to_contain_text(f"#{owned.id}")
    expect(picks.nth(0)).to_contain_text("credit code …" + owned.credit_code[-4:])
    expect(picks.nth(1)).to_contain_text(f"in {Pool.get_by_id(pool.id).name_en}")
    expect(picks.nth(1)).to_contain_text(f"#{twin.id}")
    shot(page, output_path, "customer-lookup-twins-en.png")
    page.keyboard.press("Enter")
    expect(page.locator("#picked-name")).to_have_text(owned.name)
    expect(page.locator("#picked-customer .pick-facts")).to_contain_text(f"owner {rep.full_name}")
    assert_not_reloaded(page)
    shot(page, output_path, "customer-picked-en.png")

    page.goto("/service/tickets/new")
    switch_to_chinese(page)
    picks = look_up(page, "客户：名称、电话或信用代码", uid[2:8], 2)
    expect(picks.nth(0)).to_contain_text(f"负责人 {rep.full_name}")
    shot(page, output_path, "customer-lookup-twins-zh.png")
