"""Real-browser journey through calendar-aware clocks (issue 20 item 3): a rep asks to pause a customer's release
clock until after a trade fair (a pause too long is refused inline, nothing written), the team's manager approves
it in the approvals inbox, the customer's release date moves; an admin previews a Spring Festival freeze window on
/admin/rules and the preview says how many customers it holds.

The test makes its own team, users and customers with unique names. Screenshots land in <--output>/<test-id>/.
"""
import datetime as dt
import re

from playwright.sync_api import Page, expect

from models import clock
from models.customers import Customer, create_customer, set_owner
from models.pool_clock import CustomerPause
from models.users import Region, Team
from tests.e2e.conftest import log_in, shot
from tests.e2e.test_quality_browser import _uid, _user


def test_a_pause_asked_approved_and_a_freeze_previewed(page: Page, output_path):
    region = Region.get(Region.code == "east")
    team = Team.create(name=f"E2E 计时{_uid()}组", region=region)
    rep, manager, admin = _user("sales", team), _user("manager", team), _user("admin")
    Team.update(manager=manager).where(Team.id == team.id).execute()
    c = create_customer(admin, {"name": f"广交会面料有限公司{_uid()}", "business_model": "consumer", "source": "website",
                                "stage": "target", "region_id": str(region.id)}, check_duplicates=False)
    set_owner(admin, c, rep)
    before = Customer.get_by_id(c.id).release_at
    soon = create_customer(admin, {"name": f"春节前到期服饰{_uid()}", "business_model": "consumer", "source": "website",
                                   "stage": "target", "region_id": str(region.id)}, check_duplicates=False)
    set_owner(admin, soon, rep)  # claimed ten days ago: it would go back in five days, inside the freeze below
    Customer.update(claimed_at=clock.now() - dt.timedelta(days=10),
                    release_at=clock.now() + dt.timedelta(days=5)).where(Customer.id == soon.id).execute()
    today = clock.today()

    log_in(page, rep.username)
    page.goto(f"/customers/{c.id}")
    card = page.locator("#pause-card")
    expect(card).to_be_visible()
    card.get_by_label("From").fill(today.isoformat())
    card.get_by_label("Until (included)").fill((today + dt.timedelta(days=90)).isoformat())
    card.get_by_label("Why (what the customer asked)").fill("客户参加广交会，会后再联系")
    card.get_by_role("button", name="Ask for a pause").click()
    expect(page.locator("#err-pause-ends_on")).to_contain_text("at most 60 days")
    assert CustomerPause.select().where(CustomerPause.customer == c.id).count() == 0
    page.locator("#pause-ends").fill((today + dt.timedelta(days=20)).isoformat())
    page.locator("#pause-card").get_by_role("button", name="Ask for a pause").click()
    expect(page.locator("#pause-card")).to_contain_text("Waiting for approval")
    shot(page, output_path, "1-pause-asked.png")

    page.context.clear_cookies()
    log_in(page, manager.username)
    page.goto("/approvals")
    section = page.locator("#approvals-pauses")
    expect(section).to_contain_text(c.name)
    row = section.locator("tr", has_text=c.name)
    row.get_by_label("Reason for the decision").fill("同意，展会后第一周拜访")
    row.get_by_role("button", name="Approve").click()
    expect(section.locator("tr", has_text=c.name)).to_contain_text("Approved")
    shot(page, output_path, "2-pause-approved.png")
    # claimed today: the clock stood still on the 20 days after today the pause covers
    assert Customer.get_by_id(c.id).release_at == before + dt.timedelta(days=20)

    page.context.clear_cookies()
    log_in(page, admin.username)
    page.goto("/admin/rules")
    start = today + dt.timedelta(days=1)
    page.locator("#r-freeze_windows").fill(f"{start.isoformat()} {(start + dt.timedelta(days=40)).isoformat()} 春节")
    page.locator("#preview-button").click()
    expect(page.locator("#preview-frozen")).to_contain_text("freeze window or a pause")
    held = re.search(r"run out: (\d+) customers \(under the rules in force: (\d+)\)",
                     page.locator("#preview-frozen").inner_text())
    assert int(held.group(1)) > int(held.group(2)), held.group(0)  # the freeze holds the one due in five days
    shot(page, output_path, "3-freeze-preview.png")
