"""Real-browser journeys through deals (domain §3, §8): a rep moves an opportunity on the pipeline board
(arrow button, then drag and drop) and sees the column's weighted total change without a reload; a rep
builds a decision-maker tree of five people in place and sees the warning disappear once the decision
maker is reached by a valid follow-up.

Each test makes its own team, rep and customer with unique names. Screenshots (English and Chinese)
land in <--output>/<test-id>/.
"""
import uuid

from playwright.sync_api import Page, expect

from models import opportunities as opps
from models.customers import create_customer
from models.users import Region, Team, User, hash_password
from tests.conftest import PASSWORD
from tests.e2e.conftest import assert_not_reloaded, log_in, mark_page, shot

VALID_VISIT = "上门拜访总经理，演示了方案并确认了明年的采购预算、时间表和决策流程"


def _uid():
    return uuid.uuid4().hex[:8]


def rep_with_customer(business_model="project"):
    from models import clock

    uid = _uid()
    region = Region.get(Region.code == "east")
    team = Team.create(name=f"E2E 商机{uid}组", region=region)
    rep = User.create(username=f"e2e-deals-{uid}", full_name=f"E2E Rep {uid[:4]}", password_hash=hash_password(PASSWORD),
                      role="sales", team=team, region=region, created_at=clock.now(), language="en")
    customer = create_customer(rep, {"name": f"锦华项目服饰有限公司{uid}", "business_model": business_model,
                                     "source": "rep_developed"}, check_duplicates=False)
    return rep, customer


def test_a_rep_moves_an_opportunity_and_the_weighted_totals_follow(page: Page, output_path):
    rep, customer = rep_with_customer()
    o = opps.create_opportunity(rep, customer, {"name": "员工制服项目", "amount": "100000", "expected_close": "2026-12-20"})
    opps.create_opportunity(rep, customer, {"name": "A 项目", "amount": "100万", "expected_close": "2026-12-20",
                                            "stage": "final", "probability": "20", "probability_reason": "方案演示失败"})
    page.set_viewport_size({"width": 1920, "height": 1000})  # all eight columns on screen, as on a wide monitor
    log_in(page, rep.username)
    page.goto("/opportunities")
    expect(page.locator("#weighted-prospecting")).to_have_text("¥10,000.00")
    expect(page.locator("#weighted-final")).to_have_text("¥200,000.00")
    mark_page(page)
    # Keyboard: the card's arrow button moves it one stage on.
    button = page.get_by_role("button", name="On to Planning: 员工制服项目")
    button.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#weighted-planning")).to_have_text("¥20,000.00")
    expect(page.locator("#weighted-prospecting")).to_have_text("¥0.00")
    expect(page.locator("#pipeline-weighted")).to_have_text("¥220,000.00")
    # Drag and drop to Presentation (50 %).
    page.locator(f"#opp-{o.id}").drag_to(page.locator(".opp-col-presentation .opp-cards"))
    expect(page.locator("#weighted-presentation")).to_have_text("¥50,000.00")
    expect(page.locator("#weighted-planning")).to_have_text("¥0.00")
    expect(page.locator(f".opp-col-presentation #opp-{o.id}")).to_be_visible()
    # Dropping on Lost asks for the reason in a dialog; nothing moves until it is given.
    page.locator(f"#opp-{o.id}").drag_to(page.locator(".opp-col-lost .opp-cards"))
    dialog = page.locator("#move-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Move", exact=True).click()
    expect(dialog.locator(".field-error")).to_contain_text(["Say why the opportunity was lost."])
    dialog.get_by_label("Why was it lost?").fill("客户选择了国外系统")
    dialog.get_by_role("button", name="Move", exact=True).click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#weighted-presentation")).to_have_text("¥0.00")
    expect(page.locator(f".opp-col-lost #opp-{o.id}")).to_be_visible()
    assert_not_reloaded(page)
    assert opps.Opportunity.get_by_id(o.id).lost_reason == "客户选择了国外系统"
    shot(page, output_path, "board-en.png")
    page.get_by_role("button", name="简体中文").click()
    expect(page.locator("#col-final-title")).to_have_text("最终竞争")
    shot(page, output_path, "board-zh.png")


def test_a_rep_builds_a_decision_tree_and_the_warning_goes_when_the_decision_maker_is_reached(page: Page, output_path):
    rep, customer = rep_with_customer("project")
    log_in(page, rep.username)
    page.goto(f"/customers/{customer.id}?tab=tree")
    tree = page.locator("#decision-tree")
    expect(tree.locator(".dt-warning-no_decision_maker")).to_be_visible()
    mark_page(page)
    page.get_by_role("button", name="Add a person").click()
    form = page.locator("#node-new-card")
    form.get_by_label("Name").fill("王建国")
    form.get_by_label("Title").fill("总经理")
    form.get_by_label("Decision role").select_option("decision_maker")
    form.get_by_label("Influence").select_option("high")
    form.get_by_label("Attitude to us").select_option("supporter")
    form.get_by_label("Relationship strength").select_option("3")
    form.get_by_role("button", name="Save").click()
    expect(tree.locator(".dt-warning-decision_maker_not_reached")).to_be_visible()
    expect(page.locator("select#contact_id")).to_have_count(1)  # the follow-up form's list, updated out of band
    people = [("李娜", "采购经理", "buyer", "medium", "neutral"), ("张伟", "生产主管", "user", "low", "supporter"),
              ("刘洋", "财务总监", "influencer", "high", "opponent"), ("陈静", "门店督导", "consumer", "low", "neutral")]
    for name, title, role, influence, attitude in people:
        page.get_by_role("button", name="Add report: 王建国").click()
        form = page.locator("#node-new-card")
        form.get_by_label("Name").fill(name)
        form.get_by_label("Title").fill(title)
        form.get_by_label("Decision role").select_option(role)
        form.get_by_label("Influence").select_option(influence)
        form.get_by_label("Attitude to us").select_option(attitude)
        form.get_by_role("button", name="Save").click()
        expect(tree.locator(".dt-name", has_text=name)).to_be_visible()
    expect(tree.locator(".dt-node")).to_have_count(5)
    expect(tree.locator(".dt-warning-opponent_high_influence")).to_contain_text("刘洋")
    # Move 陈静 under 李娜, then try to put 王建国 under 陈静: refused with a message, nothing moves.
    page.get_by_role("button", name="Move… 陈静").click()
    page.get_by_label("陈静 reports to").select_option(label="李娜 采购经理")
    page.get_by_role("button", name="Move", exact=True).click()
    expect(tree.locator("#node-" + str(_contact_id("李娜", customer)) + " .dt-node", has_text="陈静")).to_be_visible()
    page.get_by_role("button", name="Move… 王建国").click()
    page.get_by_label("王建国 reports to").select_option(label="陈静 门店督导")
    page.get_by_role("button", name="Move", exact=True).click()
    expect(tree.locator(".dt-move-error")).to_contain_text("陈静 already reports to 王建国")
    # A valid visit with the decision maker: the warning disappears without a reload.
    expect(tree.locator(".dt-warning-decision_maker_not_reached")).to_be_visible()
    page.locator("#followup-box summary").click()
    follow = page.locator("#followup-form")
    follow.get_by_label("Type").select_option("visit")
    follow.get_by_label("Contact reached").select_option(label="王建国 总经理")
    follow.get_by_label("What happened").fill(VALID_VISIT)
    follow.get_by_role("button", name="Save follow-up").click()
    expect(tree.locator(".dt-warning-decision_maker_not_reached")).to_have_count(0)
    expect(tree.locator(".dt-warning-opponent_high_influence")).to_be_visible()
    expect(tree.locator(".dt-node", has_text="王建国").locator(".dt-last").first).to_contain_text("reached by a valid follow-up")
    assert_not_reloaded(page)
    shot(page, output_path, "tree-en.png")
    page.get_by_role("button", name="简体中文").click()
    expect(page.locator("#decision-tree h2")).to_contain_text("决策树")
    shot(page, output_path, "tree-zh.png")
    page.goto(f"/customers/{customer.id}/tree")
    page.emulate_media(media="print")
    shot(page, output_path, "tree-print.png")


def _contact_id(name, customer):
    from models.customers import Contact

    return Contact.get((Contact.customer == customer.id) & (Contact.name == name)).id
