"""Real-browser journey through a rep's day (issue 16): a rep plans tomorrow from a suggestion (a past day
refused inline first, the contact picked from the customer's), walks the calendar by keyboard, carries out
today's visit by logging its follow-up, and files the daily report pre-filled from the day with competitor
news; the manager reads the team's reports, comments, and the report shows as read.

Every test makes its own team, users and customers with unique names. Screenshots land in
<--output>/<test-id>/.
"""
import datetime as dt

from playwright.sync_api import Page, expect

from models import clock
from models import daily_reports as dr
from models import plans as pm
from models.customers import Customer, create_customer, save_contact, set_owner
from models.users import Region, Team
from tests.e2e.conftest import log_in, shot
from tests.e2e.test_value_browser import _uid, _user

VISIT = "上门拜访采购经理，确认了明年面料需求，对方希望下周拿到样品和报价"


def _world():
    region = Region.get(Region.code == "east")
    team = Team.create(name=f"E2E 拜访{_uid()}组", region=region)
    rep, manager, admin = _user("sales", team), _user("manager", team), _user("admin")
    Team.update(manager=manager).where(Team.id == team.id).execute()
    customers = {}
    for key, name in (("due", "锦绣服饰"), ("today", "青松制衣")):
        c = create_customer(admin, {"name": f"{name}有限公司{_uid()}", "business_model": "consumer",
                                    "source": "website", "stage": "target"}, check_duplicates=False)
        set_owner(admin, c, rep)
        customers[key] = Customer.get_by_id(c.id)
    tomorrow = clock.today() + dt.timedelta(days=1)
    Customer.update(next_followup_on=tomorrow).where(Customer.id == customers["due"].id).execute()
    contact = save_contact(admin, customers["due"], {"name": "王经理", "title": "采购经理"})
    item = pm.plan_visit(rep, {"customer_id": str(customers["today"].id), "day": clock.today().isoformat(),
                               "objective": "确认样品反馈"})
    return rep, manager, customers, contact, item, tomorrow


def test_rep_plans_carries_out_and_reports_then_the_manager_comments(page: Page, output_path):
    rep, manager, customers, contact, item, tomorrow = _world()
    log_in(page, rep.username)
    card = page.locator("#wb-plan-today")
    expect(card).to_contain_text(customers["today"].name)
    shot(page, output_path, "1-workbench-today.png")

    # The calendar by keyboard: today's day view, → to tomorrow, where the suggestion waits.
    page.goto("/plans/?view=day")
    expect(page.locator("#plan-items")).to_contain_text("确认样品反馈")
    page.locator("body").press("ArrowRight")
    page.wait_for_url(f"**day={tomorrow.isoformat()}**")
    suggestions = page.locator("#plan-suggestions")
    expect(suggestions).to_contain_text(customers["due"].name)
    expect(suggestions).to_contain_text("Follow-up due")
    shot(page, output_path, "2-tomorrow-suggestions.png")
    suggestions.locator("li", has_text=customers["due"].name).get_by_role("link", name="Plan it").click()

    # The form comes with the customer and its contacts; a day in the past is refused inline.
    expect(page.locator("#plan-customer")).to_have_value(str(customers["due"].id))
    page.locator("#plan-contact").select_option(str(contact.id))
    page.locator("#plan-day").fill((clock.today() - dt.timedelta(days=1)).isoformat())
    page.locator("#plan-objective").fill("送样品并确认报价")
    page.locator("#plan-save").click()
    expect(page.locator("#err-plan-day")).to_have_text("A plan cannot be in the past.")
    assert pm.PlanItem.select().where(pm.PlanItem.customer == customers["due"].id).count() == 0
    page.locator("#plan-day").fill(tomorrow.isoformat())
    page.locator("#plan-at").fill("10:30")
    page.locator("#plan-save").click()
    page.wait_for_url(f"**/plans/?view=day&day={tomorrow.isoformat()}")
    row = page.locator("#plan-items tr", has_text=customers["due"].name)
    expect(row).to_contain_text("王经理")
    expect(row).to_contain_text("10:30")
    shot(page, output_path, "3-tomorrow-planned.png")

    # Today's visit carried out by logging its follow-up.
    page.goto("/plans/?view=day")
    page.locator(f"#plan-item-{item.id}").get_by_role("link", name="Carry out").click()
    page.locator("#carry-content").fill(VISIT)
    page.locator("#carry-save").click()
    page.wait_for_url("**/plans/?view=day**")
    done = page.locator(f"#plan-item-{item.id}")
    expect(done).to_contain_text("Carried out")
    expect(done).to_contain_text("valid follow-up")
    shot(page, output_path, "4-today-carried-out.png")

    # The daily report, pre-filled from the day.
    page.goto("/reports/")
    page.locator("#report-today").click()
    expect(page.locator("#fact-plan")).to_have_text("1 / 1")
    expect(page.locator("#fact-followups")).to_have_text("1")
    expect(page.locator("#report-plan")).to_contain_text(customers["today"].name)
    page.locator("#news-0-competitor").fill("鸿运纺织")
    page.locator("#news-0-customer").select_option(str(customers["today"].id))
    page.locator("#news-0-note").fill("报价比我们低 5%，账期 60 天")
    page.locator("#report-opinions").fill("客户对交期满意，价格偏高")
    page.locator("#report-tomorrow").fill("给锦绣服饰送样品")
    shot(page, output_path, "5-report-prefilled.png")
    page.locator("#report-save").click()
    expect(page.locator("#report-saved")).to_be_visible()
    report = dr.report_of(rep.id, clock.today())
    assert report is not None and report.facts["carried_out"] == 1

    # The manager reads the team's reports in one place and comments.
    page.goto("about:blank")  # no htmx request of the rep's page may answer "log in again" mid-navigation
    page.context.clear_cookies()
    log_in(page, manager.username)
    page.goto("/reports/team")
    block = page.locator(f"#report-{report.id}")
    expect(block).to_contain_text("鸿运纺织")
    expect(block).to_contain_text("客户对交期满意")
    expect(block).to_contain_text("not read yet")
    block.locator("textarea[name=body]").fill("明天我陪你一起去锦绣服饰")
    block.get_by_role("button", name="Comment").click()
    expect(page.locator(f"#report-{report.id} .report-comment")).to_contain_text("明天我陪你一起去锦绣服饰")
    expect(page.locator(f"#report-{report.id} h2 .badge.read")).to_be_visible()
    expect(page.locator("#team-report-status .badge.read")).to_be_visible()  # the status table follows
    shot(page, output_path, "6-manager-commented.png")
    assert dr.DailyReport.get_by_id(report.id).read_at is not None

    # Competitor news is searchable across the team's reports.
    page.goto("/reports/news")
    page.locator("#news-q").press_sequentially("鸿运")
    expect(page.locator("#news-rows")).to_contain_text(customers["today"].name)
    shot(page, output_path, "7-competitor-news.png")
