"""Real-browser journeys of issue 17 items 5 and 6: a rep records that a decision maker changed job to another
of their customers (the company typed, the customer picked from the matches the page offers; a first try at the
contact's own company is refused inline), lands on the new customer with the person's former role, and the old
customer's decision-maker tree shows the gap; then the rep opens the group page from a file's profile and sees
its entities rolled up.

The test makes its own team, users and customers with unique names. Screenshots land in <--output>/<test-id>/.
"""
import datetime as dt
import uuid
from pathlib import Path
from decimal import Decimal

from playwright.sync_api import Page, expect

from models import clock
from models.customer_tables import CustomerGroup
from models.customers import Customer, create_customer, log_follow_up, save_contact, set_owner
from models.opportunities import Opportunity
from models.orders import Order
from models.users import Region, Team, User, hash_password
from tests.conftest import PASSWORD
from tests.e2e.conftest import log_in, shot


def _uid():
    return uuid.uuid4().hex[:6]


def _world():
    uid = _uid()
    region = Region.get(Region.code == "east")
    team = Team.create(name=f"E2E 集团{uid}组", region=region)
    rep = User.create(username=f"e2e-grp-{uid}", full_name=f"E2E Rep {uid[:4]}", password_hash=hash_password(PASSWORD),
                      role="sales", team=team, region=region.id, created_at=clock.now(), language="en")
    admin = User.create(username=f"e2e-grp-admin-{uid}", full_name=f"E2E Admin {uid[:4]}", role="admin",
                        password_hash=hash_password(PASSWORD), created_at=clock.now(), language="en")
    files = []
    for name in (f"锦程{uid}服饰有限公司", f"鸿泰{uid}制衣有限公司", f"瑞丰{uid}纺织有限公司"):
        c = create_customer(admin, {"name": name, "business_model": "key_account", "source": "website",
                                    "stage": "target", "region_id": str(region.id)}, check_duplicates=False)
        set_owner(admin, c, rep)
        files.append(Customer.get_by_id(c.id))
    old, new, third = files
    boss = save_contact(rep, old, {"name": f"周振{uid[:2]}", "title": "总经理", "decision_role": "decision_maker",
                                   "mobile": "13757120086"})
    save_contact(rep, old, {"name": "吴采购", "title": "采购主管", "decision_role": "buyer", "reports_to_id": str(boss.id)})
    log_follow_up(rep, old, {"type": "visit", "content": "拜访周总，介绍今年新到的精纺羊毛面料，约好下周报价",
                             "contact_id": str(boss.id)})
    group = CustomerGroup.create(name=f"锦程{uid}集团")
    Customer.update(group=group.id).where(Customer.id.in_([old.id, third.id])).execute()
    now = clock.now()
    for c, total in ((old, "12000.00"), (third, "8000.00")):
        Order.create(customer=c.id, rep=rep.id, ordered_on=now.date() - dt.timedelta(days=10), status="signed",
                     total=Decimal(total), created_at=now)
    Opportunity.create(customer=third.id, owner=rep.id, team=team.id, name="春季面料", amount=Decimal("50000"),
                       probability=40, stage="presentation", expected_close=now.date(), created_at=now,
                       updated_at=now, stage_changed_at=now)
    return {"rep": rep, "old": old, "new": new, "third": third, "boss": boss, "group": group}


def test_a_contact_changes_job_and_the_group_page_rolls_up(page: Page, output_path):
    w = _world()
    log_in(page, w["rep"].username)
    page.goto(f"/customers/{w['old'].id}?tab=contacts")
    page.locator(f"a.job-change[href$='/contacts/{w['boss'].id}/job-change']").click()
    expect(page.get_by_role("heading", name=f"{w['boss'].name} changed job")).to_be_visible()
    # the contact's own company is refused, nothing written
    page.get_by_label("New company").fill(w["old"].name)
    page.get_by_role("button", name="Record the job change").click()
    expect(page.locator("#err-company")).to_contain_text("current company")
    shot(page, output_path, "1-own-company-refused.png")
    # the new company typed: the rep's matching customer is offered and picked
    page.get_by_label("New company").fill(w["new"].name[:6])
    match = page.locator(f"#jc-matches input[value='{w['new'].id}']")
    expect(match).to_be_visible()
    match.check()
    page.get_by_label("Their new title").fill("副总经理")
    shot(page, output_path, "2-job-change-form.png")
    page.get_by_role("button", name="Record the job change").click()
    page.wait_for_url(f"**/customers/{w['new'].id}**")
    expect(page.locator("#contact-table")).to_contain_text(w["boss"].name)
    expect(page.locator(".job-earlier")).to_contain_text(w["old"].name)
    shot(page, output_path, "3-new-customer-contacts.png")
    # the old customer's tree: the boss is a dashed gap, the buyer still under them, a warning
    page.goto(f"/customers/{w['old'].id}?tab=tree")
    expect(page.locator(".dt-warning-left_gap")).to_contain_text(w["boss"].name)
    expect(page.locator(f"#node-{w['boss'].id} .dt-gap")).to_contain_text(w["new"].name)
    shot(page, output_path, "4-old-tree-gap.png")
    # the group page, from the profile's link
    page.goto(f"/customers/{w['old'].id}")
    page.locator("#group-link").click()
    expect(page.get_by_role("heading", name=f"Group {w['group'].name}")).to_be_visible()
    expect(page.locator("#group-entities")).to_contain_text(w["third"].name)
    expect(page.locator("#g-revenue")).to_contain_text("20,000")
    expect(page.locator("#g-open-deals")).to_contain_text("1")
    shot(page, output_path, "5-group-page.png")


def test_completeness_by_rep_with_its_trend_on_the_dashboard(page: Page, output_path):
    """Issue 17 item 7: the team's manager sees completeness by rep and the trend line of the daily snapshots."""
    from models import completeness as cm

    w = _world()
    manager = User.create(username=f"e2e-grp-mgr-{_uid()}", full_name="E2E Manager", role="manager", team=w["rep"].team_id,
                          password_hash=hash_password(PASSWORD), created_at=clock.now(), language="en")
    Team.update(manager=manager.id).where(Team.id == w["rep"].team_id).execute()
    today = clock.to_local(clock.now()).date()
    cm.CompletenessDaily.insert_many([{"day": today - dt.timedelta(days=7 * k), "owner": w["rep"].id,
                                       "team": w["rep"].team_id, "customers": 3, "total": 3 * (40 - 3 * k)}
                                      for k in range(1, 6)]).execute()
    cm.snapshot()
    log_in(page, manager.username)
    page.goto("/dashboards")
    card = page.locator("#dash-completeness")
    expect(card.locator("#completeness-trend polyline")).to_have_count(1)
    expect(card.locator("#completeness-reps")).to_contain_text(w["rep"].full_name)
    card.scroll_into_view_if_needed()
    Path(output_path).mkdir(parents=True, exist_ok=True)
    card.screenshot(path=str(Path(output_path) / "completeness-card.png"))
