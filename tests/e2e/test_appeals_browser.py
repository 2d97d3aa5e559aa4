"""Real-browser journey through an appeal (issue 20 item 2): a rep's customer is force-released; the rep opens
it from their notification, appeals with a reason (first without one: the inline error), the customer is held
out of the pool meanwhile (a team mate's claim is refused with the reason); the manager upholds it on
/approvals; the customer is back in the rep's private pool with its original clock (claimed weeks ago, not
restarted) and the ledger says so.

The test makes its own team, users and customer with unique names. Screenshots land in <--output>/<test-id>/.
"""
import datetime as dt

from playwright.sync_api import Page, expect

from models import clock, pools
from models.appeal_tables import Appeal
from models.customers import Customer, create_customer, set_owner
from models.users import Region, Team
from tests.e2e.conftest import e2e_user as _user, log_in, shot, uid as _uid


def _world():
    region = Region.get(Region.code == "east")
    team = Team.create(name=f"E2E 申诉{_uid()}组", region=region)
    manager = _user("manager", team)
    Team.update(manager=manager).where(Team.id == team.id).execute()
    rep, mate, admin = _user("sales", team), _user("sales", team), _user("admin")
    c = create_customer(admin, {"name": f"申诉服饰有限公司{_uid()}", "business_model": "industrial",
                                "source": "website", "stage": "target", "region_id": str(region.id)},
                        check_duplicates=False)
    set_owner(admin, c, rep)
    claimed = clock.now() - dt.timedelta(days=20)  # its clock ran out five days ago
    Customer.update(claimed_at=claimed, created_at=claimed).where(Customer.id == c.id).execute()
    customer = Customer.get_by_id(c.id)
    pools.release_customer(None, customer, "no valid follow-up since %s (rule v0: 15 days)" % claimed.date(),
                           kind="forced_release", inputs={"rule": "no_followup", "since": str(claimed), "days": 15})
    return {"rep": rep, "mate": mate, "manager": manager, "customer": customer, "claimed": claimed}


def test_rep_appeals_a_forced_release_and_the_manager_upholds_it(page: Page, output_path):
    w = _world()
    name = w["customer"].name
    log_in(page, w["rep"].username)
    page.goto("/notifications")
    page.locator("#notification-list").get_by_role("link", name=name).first.click()
    card = page.locator("#appeal-card")
    expect(card).to_contain_text("You may appeal until")
    page.get_by_role("button", name="Appeal the release").click()  # the browser asks for the reason first
    expect(page.locator("#appeal-reason:invalid")).to_have_count(1)
    page.get_by_label("Why the release was wrong (your manager reads this)").fill(
        "Visited the buyer on the 18th; the visit was logged on paper and never typed in.")
    page.get_by_role("button", name="Appeal the release").click()
    expect(page.locator("#appeal-status")).to_contain_text("waiting for the manager")
    shot(page, output_path, "1-rep-appealed.png")
    appeal = Appeal.get((Appeal.customer == w["customer"].id) & (Appeal.status == "open"))

    # meanwhile a team mate sees that it is held out of the pool
    page.context.clear_cookies()
    log_in(page, w["mate"].username)
    page.goto(f"/customers/{w['customer'].id}")
    expect(page.locator("#appeal-held")).to_contain_text("held out of the pool")

    page.context.clear_cookies()
    log_in(page, w["manager"].username)
    page.goto("/approvals")
    row = page.locator(f"#appeal-row-{appeal.id}")
    expect(row).to_contain_text("Visited the buyer")
    shot(page, output_path, "2-manager-inbox.png")
    row.get_by_label("Reason for the decision").fill("Checked the paper visit log: it counts.")
    row.get_by_role("button", name="Uphold").click()
    expect(page.locator(f"#appeal-row-{appeal.id}")).to_contain_text("upheld")
    shot(page, output_path, "3-manager-upheld.png")

    back = Customer.get_by_id(w["customer"].id)
    assert back.owner_id == w["rep"].id and back.claimed_at == w["claimed"]  # its clock, not restarted
    page.context.clear_cookies()
    log_in(page, w["rep"].username)
    page.goto("/customers")
    expect(page.get_by_role("link", name=name)).to_be_visible()
    page.goto(f"/customers/{w['customer'].id}?tab=timeline")
    expect(page.locator("#pool-panel")).to_contain_text("Goes back to the pool on")
    expect(page.locator("body")).to_contain_text("original clock")
    expect(page.locator("#appeal-restored")).to_contain_text("kept until")
    shot(page, output_path, "4-rep-has-it-back.png")
