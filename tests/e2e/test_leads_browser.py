"""Real-browser journey through the marketing to sales hand-off (issue 14): marketing qualifies one lead on
its page and another from the queue with the bulk action; both are routed by the rule to the rep of the
leads' region; the rep accepts one and sends the other back with a reason, which marketing then reads on
its workbench. Screenshots of each step."""
import uuid

from playwright.sync_api import Page, expect

from models import clock, leads
from models.customers import Customer
from models.lead_tables import Campaign
from models.users import Region, Team, User, hash_password
from tests.conftest import PASSWORD
from tests.e2e.conftest import log_in, shot


def _uid():
    return uuid.uuid4().hex[:8]


def _user(role, team=None, region=None):
    uid = _uid()
    return User.create(username=f"e2e-{role}-{uid}", full_name=f"E2E {role.title()} {uid[:4]}",
                       password_hash=hash_password(PASSWORD), role=role, team=team, region=region,
                       created_at=clock.now(), language="en")


def test_marketing_qualifies_the_rep_accepts_one_and_sends_one_back(page: Page, output_path):
    # a region of its own: its rep is the only one the rule can route to (other browser tests add reps to the
    # demo's regions in the same database)
    code = _uid()
    region = Region.create(code=f"e2e-{code}", name_zh=f"测试大区{code}", name_en=f"Test region {code}")
    team = Team.create(name=f"E2E 线索{_uid()}组", region=region)
    rep, marketing = _user("sales", team, region), _user("marketing")
    uid = _uid()
    campaign = Campaign.create(name=f"E2E 展会{uid}", channel="exhibition", source="event", starts_on=clock.today(),
                               ends_on=clock.today(), budget=10000, cost=6000, created_at=clock.now())
    names = [f"线索验收{uid}甲服饰有限公司", f"线索验收{uid}乙服饰有限公司"]
    first, second = (leads.intake_lead(marketing, {"name": n, "source": "event", "region_id": str(region.id),
                                                   "contact_name": "周经理", "note": "展会上要了报价单",
                                                   "campaign_id": str(campaign.id),
                                                   "duplicate_reason": "e2e"}) for n in names)

    log_in(page, marketing.username)
    page.goto("/leads")
    expect(page.locator("#lead-table")).to_contain_text(names[0])
    page.get_by_role("link", name=names[0]).click()
    page.locator("#judge-qualified").click()
    expect(page.locator("#lead-status")).to_have_text("Waiting for the rep")
    expect(page.locator("#lead-routings")).to_contain_text(rep.full_name)
    expect(page.locator("#lead-routings")).to_contain_text("region")
    shot(page, output_path, "1-marketing-qualified-and-routed.png")

    page.goto("/leads")
    page.locator(f"#lead-table input[name=lead_id][value='{second.id}']").check()
    page.locator("#bulk-verdict").select_option("qualified")
    page.locator("#bulk-actions button").click()
    page.wait_for_url("**/leads?**")
    expect(page.locator(f"tr[data-lead-id='{second.id}']")).to_have_count(0)  # left the queue

    page.context.clear_cookies()
    log_in(page, rep.username)
    expect(page.locator("#wb-my-leads")).to_contain_text(names[1])
    page.goto("/leads/mine")
    expect(page.locator("#my-leads")).to_contain_text(names[0])
    shot(page, output_path, "2-rep-leads-waiting.png")
    page.get_by_role("link", name=names[0]).click()
    page.locator("#lead-accept").click()
    expect(page.locator("#lead-status")).to_have_text("Accepted")
    page.goto(f"/leads/{second.id}")
    page.locator("#lead-send-back").click()  # no reason: refused, inline
    expect(page.locator("#err-send-back")).to_contain_text("Say why")
    page.locator("#send-back-reason").fill("只是比价，明年三月才有预算")
    page.locator("#lead-send-back").click()
    expect(page.locator("#lead-status")).to_have_text("Sent back")
    page.goto("/leads/mine")
    expect(page.locator("#my-leads-answered")).to_contain_text("明年三月才有预算")
    shot(page, output_path, "3-rep-accepted-one-sent-one-back.png")
    assert Customer.get_by_id(first.customer_id).owner_id == rep.id
    assert Customer.get_by_id(second.customer_id).owner_id is None

    page.context.clear_cookies()
    log_in(page, marketing.username)
    expect(page.locator("#wb-lead-sent-back")).to_contain_text("明年三月才有预算")
    shot(page, output_path, "4-marketing-workbench-sent-back.png")
    page.goto("/campaigns/")
    row = page.locator("#roi-table tr", has_text=campaign.name)
    expect(row).to_contain_text("3,000.00")  # cost per lead: 6,000 over two leads
    expect(page.locator("#roi-chart svg.funnel-chart")).to_be_visible()
    shot(page, output_path, "5-campaign-roi.png")
