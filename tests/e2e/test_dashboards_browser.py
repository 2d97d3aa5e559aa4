"""Real-browser journeys through the dashboards and the to-do centre (issue 16 items 5 and 6): the admin's
lifecycle funnel for one team (an SVG drawn by the server, conversion and dwell per stage, click-through to the
customers of a stage and to the customers behind a flow), the forecast with the weighted pipeline and the
historical conversion side by side, and a rep's to-do centre (the count in the header, each item one click from
its action).

Every test makes its own team, users and customers with unique names; the stage history is written as rows
with past times (the dashboards read them as they are), the pipeline as its summary rows. Screenshots land in
<--output>/<test-id>/.
"""
import datetime as dt
import re
import uuid

from playwright.sync_api import Page, expect

from models import clock
from models.customers import Customer, StageChange, create_customer, set_owner
from models.opportunities import PipelineTotal, StageFlow, forecast_periods
from models.pools import LockRequest
from models.users import Region, Team, User, hash_password
from tests.conftest import PASSWORD
from tests.e2e.conftest import shot


def _uid():
    return uuid.uuid4().hex[:8]


def _user(role, team=None):
    uid = _uid()
    return User.create(username=f"e2e-{role}-{uid}", full_name=f"E2E {role.title()} {uid[:4]}",
                       password_hash=hash_password(PASSWORD), role=role, team=team,
                       region=team.region_id if team else None, created_at=clock.now(), language="en")


def _world():
    """A team of one rep whose six customers went target → intent (5 days in target each), two of them on to
    signed (10 and 20 days in intent) and one back to target; a pipeline closing next month and quarter."""
    region = Region.get(Region.code == "east")
    team = Team.create(name=f"E2E 看板{_uid()}组", region=region)
    rep, manager, admin = _user("sales", team), _user("manager", team), _user("admin")
    Team.update(manager=manager).where(Team.id == team.id).execute()
    now = clock.now()
    customers = []
    for i in range(6):
        c = create_customer(admin, {"name": f"看板测试服饰{i}有限公司{_uid()}", "business_model": "consumer",
                                    "source": "website", "stage": "target"}, check_duplicates=False)
        set_owner(admin, c, rep)
        customers.append(Customer.get_by_id(c.id))
    start = now - dt.timedelta(days=60)
    for c in customers:
        StageChange.update(at=start).where(StageChange.customer == c.id).execute()
        StageChange.create(customer=c.id, from_stage="target", to_stage="intent", at=start + dt.timedelta(days=5),
                           actor=rep.id)
    for c, days, stage in ((customers[0], 10, "signed"), (customers[1], 20, "signed"), (customers[2], 30, "target")):
        StageChange.create(customer=c.id, from_stage="intent", to_stage=stage, at=start + dt.timedelta(days=5 + days),
                           actor=rep.id)
    for c in customers:
        last = StageChange.select().where(StageChange.customer == c.id).order_by(StageChange.id.desc()).first()
        Customer.update(stage=last.to_stage).where(Customer.id == c.id).execute()
    (_key, month, _end), (_key2, quarter, _end2) = forecast_periods(clock.today())
    quarter = quarter.replace(month=quarter.month + 2)  # the quarter's last month: never next month
    PipelineTotal.create(owner=rep.id, team=team.id, stage="final", month=month, count=2, amount_fen=100_000_00,
                         weighted_fen=70_000_00)
    PipelineTotal.create(owner=rep.id, team=team.id, stage="presentation", month=quarter, count=1,
                         amount_fen=200_000_00, weighted_fen=100_000_00)
    StageFlow.create(owner=rep.id, team=team.id, from_stage="final", to_stage="won", count=9)
    StageFlow.create(owner=rep.id, team=team.id, from_stage="final", to_stage="lost", count=1)
    StageFlow.create(owner=rep.id, team=team.id, from_stage="presentation", to_stage="final", count=5)
    StageFlow.create(owner=rep.id, team=team.id, from_stage="presentation", to_stage="lost", count=5)
    return team, rep, manager, admin, customers


def test_the_admins_funnel_and_forecast(page: Page, login, output_path):
    team, rep, _manager, admin, customers = _world()
    login(admin.username)
    page.locator("nav.sidenav").get_by_role("link", name="Dashboards").click()
    page.wait_for_url(re.compile(r"/dashboards$"))
    page.get_by_label("Team").select_option(label=team.name)
    page.wait_for_url(re.compile(rf"/dashboards\?team={team.id}"))
    chart = page.locator("#dash-funnel svg")
    expect(chart.locator("rect")).to_have_count(6)
    expect(chart.locator("a").filter(has_text="Intent")).to_contain_text("3")
    expect(chart.locator("a").filter(has_text="Signed")).to_contain_text("2")
    funnel = page.locator("#funnel-table")
    intent = funnel.locator("tr[data-stage=intent]")
    expect(intent.locator("td").nth(2)).to_have_text("6")  # entered
    expect(intent.locator(".conversion")).to_have_text("33%")  # 2 of the 6 moved up
    expect(intent.locator(".dwell")).to_have_text("20 days")  # (10 + 20 + 30) / 3
    target = funnel.locator("tr[data-stage=target]")
    expect(target.locator(".dwell")).to_have_text("5 days")
    forecast = page.locator("#forecast-table")
    total = forecast.locator("tr.total")
    expect(total.locator("td.weighted").first).to_contain_text("70,000.00")
    expect(total.locator("td.historical").first).to_contain_text("90,000.00")  # 9 of 10 won from final
    # the quarter: the presentation deal (0.5 to reach final × 0.9), and next month's when it is in that quarter
    (_k, month, _e), (_k2, q_start, q_end) = forecast_periods(clock.today())
    both = q_start <= month < q_end
    expect(total.locator("td.weighted").nth(1)).to_contain_text("170,000.00" if both else "100,000.00")
    expect(total.locator("td.historical").nth(1)).to_contain_text("180,000.00" if both else "90,000.00")
    expect(page.locator("#dash-forecast svg rect")).to_have_count(4)
    expect(page.locator("#dash-pools")).to_be_visible()
    expect(page.locator("#dash-completeness")).to_contain_text(team.name)
    page.locator("#dash-funnel").screenshot(path=f"{output_path}/funnel.png")
    page.locator("#dash-forecast").screenshot(path=f"{output_path}/forecast.png")
    shot(page, output_path, "dashboards.png")
    intent.locator("td").nth(3).get_by_role("link").click()  # moved up from intent
    page.wait_for_url(re.compile(r"/dashboards/moves\?"))
    movers = page.locator("#dash-movers")
    expect(movers).to_contain_text(customers[0].name)
    expect(movers).to_contain_text(customers[1].name)
    expect(movers).not_to_contain_text(customers[2].name)
    page.go_back()
    page.locator("#dash-funnel svg a").filter(has_text="Signed").click()
    page.wait_for_url(re.compile(r"/customers\?.*stage=signed"))
    table = page.locator("#customer-table")
    expect(table).to_contain_text(customers[0].name)
    expect(table).not_to_contain_text(customers[3].name)


def test_the_reps_todo_centre(page: Page, login, output_path):
    team, rep, manager, _admin, customers = _world()
    Customer.update(next_followup_on=clock.today()).where(Customer.id == customers[3].id).execute()
    Customer.update(next_followup_on=clock.today() - dt.timedelta(days=2)).where(Customer.id == customers[4].id).execute()
    LockRequest.create(customer=customers[5].id, requester=rep.id, reason="大客户谈判中", created_at=clock.now())
    login(rep.username)
    badge = page.locator("#todo-badge")
    expect(badge.locator("#todo-count")).to_have_text("2")
    badge.click()
    page.wait_for_url(re.compile(r"/todo$"))
    card = page.locator("#todo-followups")
    expect(card.locator("li")).to_have_count(2)
    expect(card.locator("li.late")).to_contain_text(customers[4].name)
    shot(page, output_path, "todo-rep.png")
    card.get_by_role("link", name=customers[3].name).click()
    page.wait_for_url(re.compile(rf"/customers/{customers[3].id}$"))
    page.context.clear_cookies()
    login(manager.username)
    expect(page.locator("#todo-badge #todo-count")).to_have_text("1")
    page.goto("/todo")
    approvals = page.locator("#todo-approvals")
    expect(approvals).to_contain_text("Lock requests")
    shot(page, output_path, "todo-manager.png")
    approvals.get_by_role("link").first.click()
    page.wait_for_url(re.compile(r"/approvals$"))
    expect(page.locator("main")).to_contain_text(customers[5].name)
