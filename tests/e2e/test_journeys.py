"""Real-browser journeys: each role's workbench, a rep's main journey (create, contacts, follow-up,
search, timeline), inline validation, the language switch and keyboard-only use of the customer form.

Every test creates its own users and customers with unique names, so the tests do not depend on
each other or on their order. Screenshots land in test-results/<test-id>/.
"""
import datetime as dt
import random
import re
import uuid
from pathlib import Path

import pytest
from babel.dates import format_time
from babel.messages.pofile import read_po
from playwright.sync_api import Page, expect

from models import clock
from models.customers import Contact, Customer
from models.fields import CREDIT_CODE_CHARS, credit_code_check_char
from models.users import Team, User, hash_password
from tests.conftest import PASSWORD
from tests.e2e.conftest import assert_not_reloaded, mark_page, shot

ZH_PO = Path(__file__).resolve().parents[2] / "views" / "translations" / "zh_CN" / "LC_MESSAGES" / "messages.po"
# Characters for unique, realistic Chinese company names (no two tests share a name prefix).
NAME_CHARS = "锦华鼎盛瑞丰恒泰隆昌宏达永兴嘉禾新源正大华美康宁远航金城银河天成伟业同创众诚凯旋博雅"


def _uid():
    return uuid.uuid4().hex[:8]


def make_user(role, team=None, language="en"):
    uid = _uid()
    return User.create(username=f"e2e-{role}-{uid}", full_name=f"E2E {role.title()} {uid[:4]}",
                       password_hash=hash_password(PASSWORD), role=role, team=team,
                       region=team.region_id if team else None, created_at=clock.now(), language=language)


def make_manager():
    manager = make_user("manager")
    team = Team.create(name=f"E2E 华东{_uid()}组", manager=manager)
    manager.team = team
    manager.save()
    return manager


def chinese_name():
    """A unique company name whose first three characters identify it, e.g. 锦瑞泰服饰有限公司."""
    return "".join(random.sample(NAME_CHARS, 3)) + "服饰有限公司"


def valid_credit_code():
    body = "91" + "310000" + "".join(random.choice(CREDIT_CODE_CHARS) for _ in range(9))
    return body + credit_code_check_char(body)


def wrong_check_char(code):
    return code[:17] + next(ch for ch in "0123456789ABCDEFGH" if ch != code[17])


def _read_zh_catalogue():
    if not ZH_PO.exists():
        return None
    with ZH_PO.open("rb") as f:
        return read_po(f)


# Read at collection, before the live server compiles the catalogue: a snapshot no newer than the
# server's, so a catalogue still being written cannot make the test expect a string the server lacks.
ZH_CATALOGUE = _read_zh_catalogue()


def zh_translation(msgid):
    """The Chinese translation of `msgid` in the catalogue, or None (the catalogue may be incomplete)."""
    message = ZH_CATALOGUE.get(msgid) if ZH_CATALOGUE is not None else None
    return message.string if message is not None and message.string and not message.fuzzy else None


# ---- 1. every role lands on its own workbench ------------------------------------------------

ROLE_SECTIONS = {
    "sales": "#due-today",
    "manager": "#team-activity",
    "marketing": "#newest-leads",
    "service": "#service-find",
    "admin": "#admin-counts",
}


@pytest.mark.parametrize("role", list(ROLE_SECTIONS))
def test_role_lands_on_its_workbench(page: Page, login, output_path, role):
    user = make_manager() if role == "manager" else make_user(role)
    login(user.username)
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.locator("#workbench-title")).to_contain_text("Workbench")
    expect(page.locator(ROLE_SECTIONS[role])).to_be_visible()
    for other_role, section in ROLE_SECTIONS.items():
        if other_role != role and not (role == "manager" and other_role == "sales"):  # a manager also sells
            expect(page.locator(section)).to_have_count(0)
    expect(page.locator(".topbar .who")).to_contain_text(user.full_name)
    shot(page, output_path, f"workbench-{role}.png")


# ---- 2. the rep's main journey -------------------------------------------------------------

def test_rep_main_journey(page: Page, login, output_path):
    rep = make_user("sales")
    name, code = chinese_name(), valid_credit_code()
    login(rep.username)

    # Create the customer through the form.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="New customer").click()
    page.get_by_label("Company name").fill(name)
    page.get_by_label("Unified social credit code").press_sequentially(code)
    page.get_by_label("City").fill("上海")
    expect(page.locator("#err-credit_code")).to_have_text("")
    page.get_by_role("button", name="Save").click()

    expect(page).to_have_url(re.compile(r"/customers/\d+\?created=1$"))
    expect(page.locator("#customer-name")).to_have_text(name)
    expect(page.get_by_role("status")).to_contain_text("Customer created.")
    expect(page.locator("#customer-owner")).to_have_text(rep.full_name)
    customer = Customer.get(Customer.name == name)
    assert customer.credit_code == code and customer.owner_id == rep.id

    # Two contacts through the contacts tab, swapped in by htmx (no page load).
    completeness_before = page.locator("#c360-head .meter-label").inner_text()
    mark_page(page)
    page.get_by_role("tab", name=re.compile("Contacts")).click()
    expect(page.locator("#contact-table")).to_contain_text("No contacts yet.")
    contacts = [("王建国", "总经理", "13800138001", "Decision maker"), ("李晓梅", "采购经理", "13900139002", "Buyer")]
    for contact_name, title, mobile, role in contacts:
        page.get_by_role("button", name="Add contact").click()
        form = page.locator("#contact-form")
        expect(form.get_by_label("Name", exact=True)).to_be_focused()
        form.get_by_label("Name", exact=True).fill(contact_name)
        form.get_by_label("Title").fill(title)
        form.get_by_label("Mobile").fill(mobile)
        form.get_by_label("Decision role").select_option(label=role)
        form.get_by_role("button", name="Save contact").click()
        expect(page.locator("#contact-table")).to_contain_text(contact_name)
        expect(page.locator("#contacts .flash")).to_have_text("Contact saved.")
    expect(page.locator("#contact-table tbody tr")).to_have_count(2)
    # The tab's count, the completeness list and the follow-up form follow without a reload.
    expect(page.get_by_role("tab", name="Contacts (2)")).to_be_visible()
    expect(page.locator("#c360-profile")).not_to_contain_text("At least one contact")
    expect(page.locator("#c360-head .meter-label")).not_to_have_text(completeness_before)
    assert_not_reloaded(page)

    # Log a follow-up (htmx), reaching the first contact.
    page.locator("#followup-box summary").click()
    fu = page.locator("#followup-form")
    fu.get_by_label("Type").select_option(label="Visit")
    reached = fu.get_by_label("Contact reached")
    # Both contacts came in out of band with the second save; say what the list held if not (a CI run once
    # found the first contact missing here and could not show why).
    try:
        expect(reached.locator("option")).to_have_count(3)
    except AssertionError as exc:
        raise AssertionError(f"follow-up contact list: {reached.evaluate('e => e.outerHTML')}") from exc
    # Chosen by the contact's id, the saved title checked on its own: a CI run once found three options but none
    # labelled "王建国 总经理" (and could not show them); this says which it was if it happens again.
    first = Contact.get((Contact.customer == customer.id) & (Contact.name == "王建国"))
    assert first.title == "总经理", f"the first contact was saved as {first.name!r} / {first.title!r}"
    options = reached.evaluate("e => [...e.options].map(o => o.value + '=' + o.textContent.trim())")
    assert f"{first.id}=王建国 总经理" in options, f"follow-up contact list: {options}"
    reached.select_option(value=str(first.id))
    fu.get_by_label("What happened").fill("拜访王总，介绍了秋冬新款西装面料，对方对价格有兴趣，要求下周报价。")
    fu.get_by_label("Outcome").fill("对方要求报价")
    fu.get_by_label("Next step", exact=True).fill("发送报价单")
    fu.get_by_label("Next step date").fill((clock.today() + dt.timedelta(days=7)).isoformat())
    mark_page(page)
    fu.get_by_role("button", name="Save follow-up").click()
    expect(page.locator("#followup-box .flash")).to_have_text("Follow-up saved.")
    next_date = clock.today() + dt.timedelta(days=7)
    expect(page.locator("#c360-head")).not_to_contain_text("never")  # last follow-up, refreshed by htmx
    expect(page.locator("#c360-head")).to_contain_text(f"{next_date:%b} {next_date.day}, {next_date.year}")  # CLDR en
    assert_not_reloaded(page)
    shot(page, output_path, "customer-360-after-journey.png")

    # Search-as-you-type on the customer list: three characters, no Enter.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Customers").click()
    expect(page.locator("#results")).to_be_visible()
    mark_page(page)
    page.locator("#q").press_sequentially(name[:3], delay=60)
    expect(page.locator(".result-count")).to_contain_text(f"matching “{name[:3]}”")
    expect(page.locator("#customer-table").get_by_role("link", name=name)).to_be_visible()
    expect(page.locator("#customer-table tbody tr")).to_have_count(1)
    expect(page).to_have_url(re.compile(r"q="))  # the URL keeps the search (back button, sharing)
    assert_not_reloaded(page)
    shot(page, output_path, "search-results.png")

    # Open it: the timeline tells the story, newest first.
    page.locator("#customer-table").get_by_role("link", name=name).click()
    expect(page.locator("#customer-name")).to_have_text(name)
    expect(page.get_by_role("tab", name="Timeline")).to_have_attribute("aria-selected", "true")
    timeline = page.locator("#timeline-list")
    expect(timeline.locator("li.kind-customer-created")).to_have_count(1)
    expect(timeline.locator("li.kind-customer-created")).to_contain_text("created the customer file")
    expect(timeline.locator("li.kind-contact-added")).to_have_count(2)
    expect(timeline.locator("li.kind-contact-added").first).to_contain_text("added the contact 李晓梅 采购经理")
    expect(timeline.locator("li.kind-followup-logged")).to_have_count(1)
    expect(timeline.locator("li.kind-followup-logged")).to_contain_text("logged a follow-up (Visit)")
    expect(timeline.locator("li.event").first).to_have_class(re.compile("kind-followup-logged"))
    expect(page.get_by_role("tab", name="Contacts (2)")).to_be_visible()
    shot(page, output_path, "customer-360-timeline.png")


def test_followup_with_an_explicit_local_time(page: Page, login):
    """The 'When' field takes business (Shanghai) time: a time earlier today must be accepted."""
    rep = make_user("sales")
    login(rep.username)
    page.goto("/customers/new")
    name = chinese_name()
    page.get_by_label("Company name").fill(name)
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#customer-name")).to_have_text(name)

    local = clock.to_local(clock.now()) - dt.timedelta(minutes=10)
    page.locator("#followup-box summary").click()
    fu = page.locator("#followup-form")
    fu.get_by_label("When").fill(local.strftime("%Y-%m-%dT%H:%M"))
    fu.get_by_label("What happened").fill("电话联系采购部，确认样品已收到，下周安排面谈。")
    fu.get_by_role("button", name="Save follow-up").click()
    expect(page.locator("#followup-box .flash")).to_have_text("Follow-up saved.")
    page.get_by_role("tab", name="Follow-ups").click()
    # As CLDR English writes the time of day (1:40 PM), in business time.
    expect(page.locator("#followup-list time").first).to_contain_text(format_time(local, "short", locale="en"))


# ---- 3. inline validation of the credit code ------------------------------------------------

def test_invalid_credit_code_is_flagged_inline_and_nothing_is_saved(page: Page, login, output_path):
    rep = make_user("sales")
    name, bad_code = chinese_name(), wrong_check_char(valid_credit_code())
    login(rep.username)
    page.goto("/customers/new")
    before = Customer.select().count()

    page.get_by_label("Company name").fill(name)
    code_field = page.get_by_label("Unified social credit code")
    code_field.press_sequentially(bad_code)  # keyup → POST /customers/check/credit_code
    error = page.locator("#err-credit_code")
    expect(error).to_have_text("The check character (the 18th) does not match: please check the code.")
    expect(code_field).to_have_attribute("aria-describedby", "err-credit_code")

    # Correcting it clears the message after the change event; breaking it again brings it back.
    code_field.fill(bad_code[:17] + credit_code_check_char(bad_code[:17]))
    code_field.blur()
    expect(error).to_have_text("")
    code_field.fill(bad_code)
    code_field.blur()
    expect(error).to_contain_text("check character")
    shot(page, output_path, "credit-code-inline-error.png")

    page.get_by_role("button", name="Save").click()
    expect(page.locator("#form-errors")).to_have_text("Please correct the highlighted fields. Nothing was saved.")
    expect(page.locator("#err-credit_code")).to_contain_text("check character")
    expect(page.locator(".field.has-error #credit_code")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Company name")).to_have_value(name)  # the user's input is kept
    expect(page).to_have_url(re.compile(r"/customers/new$"))
    shot(page, output_path, "credit-code-submit-error.png")
    assert Customer.select().count() == before
    assert not Customer.select().where(Customer.name == name).exists()


# ---- 4. language switch -------------------------------------------------------------------

def test_language_switch_in_the_top_bar(page: Page, login, output_path):
    user = make_user("sales", language="en")
    login(user.username)
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#workbench-title")).to_contain_text("Workbench")

    page.locator(".topbar").get_by_role("button", name="简体中文").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page).to_have_url(re.compile(r"/$"))
    # The switch now offers the other language, written in that language.
    expect(page.locator(".topbar").get_by_role("button", name="English")).to_be_visible()
    expect(page.locator(".topbar").get_by_role("button", name="简体中文")).to_have_count(0)
    workbench_zh = zh_translation("Workbench")
    if workbench_zh:
        expect(page.locator("#workbench-title")).to_contain_text(workbench_zh)
        assert workbench_zh == "工作台"
    for msgid in ("Customers", "Log out"):
        text = zh_translation(msgid)
        if text:
            expect(page.locator("body")).to_contain_text(text)
    assert User.get_by_id(user.id).language == "zh_CN"  # remembered for the next login
    shot(page, output_path, "workbench-zh.png")

    page.locator(".topbar").get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#workbench-title")).to_contain_text("Workbench")
    assert User.get_by_id(user.id).language == "en"


def test_language_switch_keeps_the_current_page(page: Page, login):
    user = make_user("sales", language="en")
    login(user.username)
    page.goto("/customers?scope=mine")
    page.locator(".topbar").get_by_role("button", name="简体中文").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page).to_have_url(re.compile(r"/customers\?scope=mine$"))


# ---- 5. keyboard only -----------------------------------------------------------------------

def test_customer_form_with_the_keyboard_only(page: Page, login, output_path):
    rep = make_user("sales")
    name, code = chinese_name(), valid_credit_code()
    login(rep.username)
    page.goto("/customers/new")

    expect(page.get_by_label("Company name")).to_be_focused()  # autofocus
    page.keyboard.type(name)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Short name")).to_be_focused()
    page.keyboard.type(name[:3])
    page.keyboard.press("Tab")
    expect(page.get_by_label("Unified social credit code")).to_be_focused()
    page.keyboard.type(code)
    expect(page.locator("#err-credit_code")).to_have_text("")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Group (集团)")).to_be_focused()
    page.keyboard.press("Tab")
    industry = page.get_by_label("Industry")
    expect(industry).to_be_focused()
    page.keyboard.press("ArrowDown")  # a closed <select> changes its value with the arrow keys
    expect(industry).not_to_have_value("")
    chosen_industry = int(industry.input_value())

    # Tab on through the rest of the form to the Save button, then Enter.
    for _ in range(30):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.matches('#customer-form button[type=submit]')"):
            break
    else:
        pytest.fail("Tab never reached the Save button")
    expect(page.get_by_role("button", name="Save")).to_be_focused()
    shot(page, output_path, "keyboard-save-focused.png")
    page.keyboard.press("Enter")

    expect(page.locator("#customer-name")).to_have_text(name)
    customer = Customer.get(Customer.name == name)
    assert (customer.short_name, customer.credit_code, customer.industry_id) == (name[:3], code, chosen_industry)


def test_enter_in_a_text_field_submits_the_customer_form(page: Page, login):
    rep = make_user("sales")
    name = chinese_name()
    login(rep.username)
    page.goto("/customers/new")
    # Type only once the autofocus has landed: keys pressed before it go to the page, not the field.
    expect(page.get_by_label("Company name")).to_be_focused()
    page.keyboard.type(name)
    page.keyboard.press("Enter")
    expect(page.locator("#customer-name")).to_have_text(name)
