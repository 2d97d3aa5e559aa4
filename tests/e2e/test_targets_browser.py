"""Real-browser journey through targets (issue 16 item 1): the manager sets this month's stage-promotion
target for the team and decomposes it to the reps (shares that fall short are refused inline, nothing saved),
then the rep sees their share's progress, gap and pace on the workbench, and the ranking on the performance
page. Screenshots land in <--output>/<test-id>/."""
import re
import uuid

from playwright.sync_api import Page, expect

from models import clock
from models import targets as tm
from models.customers import change_stage, create_customer, set_owner
from models.users import Region, Team, User, hash_password
from tests.conftest import PASSWORD
from tests.e2e.conftest import assert_not_reloaded, log_in, mark_page, shot


def _uid():
    return uuid.uuid4().hex[:8]


def _user(role, team=None, name=None):
    uid = _uid()
    return User.create(username=f"e2e-{role}-{uid}", full_name=name or f"E2E {role.title()} {uid[:4]}",
                       password_hash=hash_password(PASSWORD), role=role, team=team,
                       region=team.region_id if team else None, created_at=clock.now(), language="en")


def test_manager_decomposes_a_target_and_the_rep_sees_progress(page: Page, output_path):
    region = Region.get(Region.code == "east")
    team = Team.create(name=f"E2E 目标{_uid()}组", region=region)
    manager = _user("manager", team)
    Team.update(manager=manager).where(Team.id == team.id).execute()
    rep, mate, admin = _user("sales", team, "E2E Rep Wang"), _user("sales", team, "E2E Rep Li"), _user("admin")
    customer = create_customer(admin, {"name": f"锦华服饰有限公司{_uid()}", "business_model": "industrial",
                                       "source": "website", "stage": "target", "region_id": str(region.id)},
                               check_duplicates=False)
    set_owner(admin, customer, rep)
    change_stage(rep, customer, "intent")  # one promotion this month, counted for the rep
    month = tm.containing("month", clock.today())

    log_in(page, manager.username)
    page.goto(f"/targets?team={team.id}&by=month")
    row = page.locator("#target-row-promotions")
    expect(row).to_contain_text("not set")
    row.get_by_role("link", name="Set").click()
    expect(page.get_by_label("Team target")).to_be_visible()
    mark_page(page)
    page.get_by_label("Team target").fill("10")
    page.get_by_label("E2E Rep Wang").fill("6")
    page.get_by_label("E2E Rep Li").fill("2")
    expect(page.locator("#target-sum")).to_contain_text("8")  # the sum as typed (static/targets.js)
    page.get_by_role("button", name="Save target").click()
    expect(page.locator("#target-errors")).to_contain_text("2 short of the team's 10")
    assert_not_reloaded(page)
    assert tm.get_target(team.id, tm.TargetKind.get(tm.TargetKind.key == "promotions").id, month) is None
    shot(page, output_path, "1-shares-short.png")
    page.get_by_label("E2E Rep Li").fill("4")
    page.get_by_role("button", name="Save target").click()
    expect(page.get_by_role("status")).to_contain_text("Target saved.")
    row = page.locator("#target-row-promotions")
    expect(row).to_contain_text("1 / 10")
    expect(row).to_contain_text("1 / 6")
    expect(row).to_contain_text("At this pace")
    shot(page, output_path, "2-team-board.png")

    page.goto("/performance")
    expect(page.locator("#perf-ranking tbody tr").first).to_contain_text("E2E Rep Wang")
    shot(page, output_path, "3-ranking.png")

    page.context.clear_cookies()
    log_in(page, rep.username)
    panel = page.locator("#targets-panel")
    expect(panel).to_contain_text("Stage promotions")
    expect(panel).to_contain_text(month.key)
    expect(panel).to_contain_text("1 / 6")
    expect(panel).to_contain_text(re.compile(r"Gap 5"))
    expect(panel).to_contain_text(re.compile(r"At this pace: [\d,]+ % by month end"))
    panel.scroll_into_view_if_needed()
    shot(page, output_path, "4-rep-workbench.png")
    page.goto("/performance")
    expect(page.locator("#perf-own")).to_contain_text("Team average")
    expect(page.locator("body")).not_to_contain_text("E2E Rep Li")
    shot(page, output_path, "5-rep-performance.png")
