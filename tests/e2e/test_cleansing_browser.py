"""Real-browser journey through pool cleansing (issue 17 item 4): an admin starts a campaign over a pool from
the form; a rep of the region's team opens a task, first tries to keep the record without its minimum fields
(refused inline, nothing saved), then classifies it as junk; the record leaves the pool's list and the pool's
search; the admin finds it in the campaign's junk and restores it, and it is back in the pool.

The test makes its own region, pool, team, users and customers with unique names (so the campaign covers
only them). Screenshots land in <--output>/<test-id>/.
"""

from playwright.sync_api import Page, expect

from models import cleansing as cm
from models.customers import Customer, create_customer
from models.pools import Pool
from models.users import Region, Team
from tests.e2e.conftest import e2e_user as _user, log_in, shot, uid as _uid


def _world():
    uid = _uid()
    region = Region.create(code=f"e2e-{uid}", name_zh=f"测试区{uid[:4]}", name_en=f"Test region {uid[:4]}")
    pool = Pool.create(name_zh=f"测试公海{uid[:4]}", name_en=f"Cleansing pool {uid[:4]}", region=region.id)
    team = Team.create(name=f"E2E 清洗{uid}组", region=region)
    rep, admin = _user("sales", team), _user("admin")
    files = []
    for name in ("锦华服饰", "恒远制衣", "新禾纺织"):
        c = create_customer(admin, {"name": f"{name}有限公司{_uid()}", "business_model": "industrial",
                                    "source": "website", "stage": "target", "region_id": str(region.id),
                                    "phone": "021-6234 5678"}, check_duplicates=False)
        files.append(c)
    Customer.update(pool=pool.id, owner=None, team=None).where(Customer.id.in_([c.id for c in files])).execute()
    return {"rep": rep, "admin": admin, "pool": pool, "files": [Customer.get_by_id(c.id) for c in files]}


def test_admin_campaign_rep_junk_admin_restores(page: Page, output_path):
    w = _world()
    junk = w["files"][0]
    log_in(page, w["admin"].username)
    page.get_by_role("link", name="Pool cleansing").click()
    page.get_by_label("Name").fill("E2E cleansing")
    page.get_by_label("Pool").select_option(label=w["pool"].name_en)
    page.get_by_role("button", name="Start the campaign").click()
    expect(page.locator("#cleansing-progress")).to_contain_text("0 / 3")
    campaign = cm.CleansingCampaign.select().order_by(cm.CleansingCampaign.id.desc()).first()
    assert campaign.total == 3
    shot(page, output_path, "1-campaign-started.png")

    # the rep of the region's team classifies the record
    page.context.clear_cookies()
    log_in(page, w["rep"].username)
    page.goto(f"/cleansing/{campaign.id}")
    page.locator("#cleansing-table").get_by_role("link", name=junk.name).click()
    expect(page.locator("#cleansing-holder")).to_contain_text("E2E 清洗")
    page.get_by_label("Keep and complete").check()
    page.get_by_role("button", name="Save the verdict").click()
    expect(page.locator("#err-address")).to_contain_text("Required to keep the record")
    shot(page, output_path, "2-keep-refused.png")
    assert Customer.get_by_id(junk.id).quarantined_at is None
    page.get_by_label("Junk: quarantine").check()
    page.get_by_label("Note (why doubtful or junk)").fill("The company closed in 2025; the number is dead.")
    page.get_by_role("button", name="Save the verdict").click()
    expect(page.locator("#cleansing-progress")).to_contain_text("1 / 3")
    shot(page, output_path, "3-rep-classified.png")

    # out of the pool's list and the pool's search
    page.goto(f"/pools?pool={w['pool'].id}")
    expect(page.locator("body")).to_contain_text(w["files"][1].name)
    expect(page.locator("body")).not_to_contain_text(junk.name)
    page.goto(f"/pools?pool={w['pool'].id}&q={junk.name[:4]}")
    expect(page.locator("body")).not_to_contain_text(junk.name)
    shot(page, output_path, "4-pool-without-junk.png")

    # the admin restores it from the campaign's junk
    page.context.clear_cookies()
    log_in(page, w["admin"].username)
    page.goto(f"/cleansing/{campaign.id}?status=done&verdict=junk")
    page.locator("#cleansing-table").get_by_role("link", name=junk.name).click()
    expect(page.locator("#cleansing-quarantined")).to_be_visible()
    page.get_by_label("Why restore it").fill("Re-registered under the same name; the new number works.")
    page.get_by_role("button", name="Restore from quarantine").click()
    expect(page.locator("#cleansing-restored")).to_be_visible()
    shot(page, output_path, "5-restored.png")
    page.goto(f"/pools?pool={w['pool'].id}")
    expect(page.locator("body")).to_contain_text(junk.name)
    assert Customer.get_by_id(junk.id).quarantined_at is None
