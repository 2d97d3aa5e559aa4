"""Real-browser journey for ownership disputes (issue 5): a rep typing a new customer's name is warned
inline of a look-alike owned by another rep (owner shown, details masked), opens a conflict case from
the warning, and the team's manager rules it from the approvals inbox without a reload.

Screenshots land in <--output>/<test-id>/ (English and Chinese).
"""
import uuid

from playwright.sync_api import Page, expect

from models import clock
from models.conflicts import ConflictCase
from models.customers import Customer, create_customer, save_contact
from models.users import Region, Team, User, hash_password
from tests.conftest import PASSWORD
from tests.e2e.conftest import assert_not_reloaded, log_in, mark_page, shot


def _uid():
    return uuid.uuid4().hex[:6]


def user(role, team=None, region=None, name=None):
    uid = _uid()
    return User.create(username=f"e2e-{role}-{uid}", full_name=name or f"E2E {role.title()} {uid[:4]}",
                       password_hash=hash_password(PASSWORD), role=role, team=team,
                       region=region or (team.region_id if team else None), created_at=clock.now(), language="en")


def test_rep_is_warned_while_typing_and_opens_a_conflict_case(page: Page, output_path):
    region = Region.get(Region.code == "east")
    manager = user("manager", region=region)
    team = Team.create(name=f"E2E 撞单{_uid()}组", manager=manager, region=region)
    User.update(team=team).where(User.id == manager.id).execute()
    owner = user("sales", team, name="赵敏")
    rep = user("sales", team)
    uid = _uid()
    brand = "锦绣" + "".join("华鼎盛瑞丰恒泰隆昌宏达永兴嘉禾新"[int(ch, 16)] for ch in uid[:3])
    theirs = create_customer(owner, {"name": f"上海{brand}服饰有限公司", "business_model": "consumer",
                                     "source": "rep_developed", "phone": "021-5888 1234"}, check_duplicates=False)
    save_contact(owner, theirs, {"name": "周红", "mobile": "13916882266", "decision_role": "buyer"})

    log_in(page, rep.username)
    page.goto("/customers/new")
    mark_page(page)
    page.locator("#name").press_sequentially(f"上海{brand}服饰(集团)有限公司", delay=20)
    warning = page.locator("#duplicate-matches .duplicate-warning")
    expect(warning).to_be_visible()
    match = warning.locator(f'li[data-customer-id="{theirs.id}"]')
    expect(match).to_contain_text("Owned by 赵敏")
    expect(match).to_contain_text("Same name")  # (集团) in brackets is set aside
    # masked: no link into the file, no phone, no contact
    expect(match.locator("a[href^='/customers/']")).to_have_count(0)
    expect(warning).not_to_contain_text("5888")
    expect(warning).not_to_contain_text("周红")
    assert_not_reloaded(page)
    shot(page, output_path, "1-duplicate-warning-en.png")

    # open the case from the warning (it opens in a new tab: the form being typed is kept)
    with page.context.expect_page() as new_tab:
        match.get_by_role("link", name="Open a conflict case").click()
    case_page = new_tab.value
    case_page.wait_for_load_state()
    expect(case_page.locator("#conflict-form")).to_contain_text("赵敏")
    case_page.get_by_label("Why should the customer be yours?").fill("短")
    case_page.get_by_role("button", name="Open the case").click()
    expect(case_page.locator("#err-reason")).to_contain_text("at least 10 characters")
    case_page.get_by_label("Why should the customer be yours?").fill("我上个月在展会上先接触了这家公司的采购经理")
    case_page.get_by_role("button", name="Open the case").click()
    case_page.wait_for_url("**/conflicts/*?opened=1")
    expect(case_page.locator("#conflict-evidence")).to_contain_text("First valid follow-up")
    expect(case_page.locator("#conflict-proposal")).to_contain_text("Proposed outcome")
    shot(case_page, output_path, "2-case-page-en.png")
    case = ConflictCase.get(ConflictCase.customer == theirs.id)
    assert case.claimant_id == rep.id and case.owner_id == owner.id and case.status == "open"

    # the team's manager rules it inline from the inbox
    case_page.close()
    page.context.clear_cookies()
    log_in(page, manager.username)
    page.goto("/approvals")
    mark_page(page)
    row = page.locator(f"#conflict-row-{case.id}")
    expect(row).to_be_visible()
    shot(page, output_path, "3-inbox-en.png")
    row.get_by_placeholder("Reason for the ruling").fill("展会接触不算有效跟进，客户由原负责人保留")
    row.get_by_role("button", name="The owner keeps it").click()
    ruled = page.locator(f"#conflict-row-{case.id}")
    expect(ruled.locator("form")).to_have_count(0)
    expect(ruled.locator(".ok")).to_have_text("The owner keeps the customer")
    expect(ruled).to_contain_text("展会接触不算有效跟进")
    assert_not_reloaded(page)
    assert ConflictCase.get_by_id(case.id).status == "closed"
    assert Customer.get_by_id(theirs.id).owner_id == owner.id

    # the same screens in Chinese
    page.goto(f"/conflicts/{case.id}")
    page.get_by_role("button", name="简体中文").click()
    expect(page.locator("#conflict-evidence")).to_contain_text("首次有效跟进")
    shot(page, output_path, "4-case-page-zh.png")
    page.goto("/conflicts")
    expect(page.locator("#conflict-table")).to_contain_text("客户由原负责人保留")
    shot(page, output_path, "5-case-list-zh.png")
