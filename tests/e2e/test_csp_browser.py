"""Real-browser checks of the content security policy (issue 11): the browser enforces it, the behaviours
that used to be inline handlers work from static/app.js, and the Chart.js charts still draw. Any CSP
violation on a page fails the test (conftest's _fail_on_js_errors). Screenshots land in
<--output>/<test-id>/."""
import datetime as dt
import re

from playwright.sync_api import Page, expect

from models import clock
from models import decision_tree as tree
from models import opportunities as opps
from tests.e2e.conftest import log_in, mark_page, assert_not_reloaded, shot
from tests.e2e.test_pools_browser import _uid, admin, customer, region_and_pool, team_with_manager, user

# Pixels the chart painted (not transparent): Chart.js drew on the canvas.
PAINTED = """id => {
  const canvas = document.getElementById(id);
  if (!canvas || !window.Chart || !Chart.getChart(canvas)) return 0;
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let n = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i]) n++;
  return n;
}"""


def test_the_browser_enforces_the_policy(browser, live_server):
    # A context of its own: the violations provoked here are the point, not a failure of the page.
    context = browser.new_context(base_url=live_server)
    page = context.new_page()
    messages = []
    page.on("console", lambda msg: messages.append(msg.text))
    page.goto("/login?lang=en")
    page.evaluate("""() => {
      window.__ran = false;
      document.body.insertAdjacentHTML("beforeend",
        '<span id="probe" style="color: rgb(255, 0, 0)" onmouseover="window.__ran = true">probe</span>');
      const s = document.createElement("script"); s.textContent = "window.__ran = true"; document.body.append(s);
    }""")
    page.locator("#probe").hover()
    assert page.evaluate("window.__ran") is False
    assert page.evaluate("getComputedStyle(document.getElementById('probe')).color") != "rgb(255, 0, 0)"
    assert sum("Content Security Policy" in m for m in messages) >= 3, messages
    context.close()


def test_a_rep_uses_the_former_inline_behaviours(page: Page, output_path):
    region, _ = region_and_pool("east")
    team, manager = team_with_manager(region)
    rep, boss = user("sales", team), admin()
    c = customer(boss, _uid(), region, owner=rep)
    o = opps.create_opportunity(rep, c, {"name": "工装项目", "amount": "50000",
                                         "expected_close": (clock.today() + dt.timedelta(days=30)).isoformat()})
    top = tree.save_node(rep, c, {"name": "王建国", "reports_to_id": "", "title": "总经理"})
    tree.save_node(rep, c, {"name": "李娜", "reports_to_id": str(top.id), "title": "采购经理"})
    page.add_init_script("window.print = () => { window.__printed = (window.__printed || 0) + 1; }")
    log_in(page, rep.username)

    # 360 tabs: the tab whose content htmx loaded becomes the selected one (was hx-on).
    page.goto(f"/customers/{c.id}")
    mark_page(page)
    page.get_by_role("tab", name=re.compile("Contacts")).click()
    expect(page.get_by_role("tab", name=re.compile("Contacts"))).to_have_attribute("aria-selected", "true")
    expect(page.get_by_role("tab", name="Timeline")).to_have_attribute("aria-selected", "false")
    expect(page.locator("#tab-contacts")).to_have_class(re.compile(r"\bactive\b"))

    # Decision tree: Move… opens a form in the node's slot; Cancel empties the slot (was onclick).
    page.get_by_role("tab", name=re.compile("tree", re.I)).click()
    page.get_by_role("button", name="Move… 李娜").click()
    expect(page.get_by_label("李娜 reports to")).to_be_visible()
    page.locator(".dt-move").get_by_role("button", name="Cancel").click()
    expect(page.get_by_label("李娜 reports to")).to_have_count(0)
    assert_not_reloaded(page)

    # The printable tree: Print calls window.print (was onclick).
    page.goto(f"/customers/{c.id}/tree")
    page.get_by_role("button", name="Print").click()
    assert page.evaluate("window.__printed") == 1

    # Pipeline board: dropping on Lost opens the dialog; Cancel closes it, nothing moves (was onclick).
    page.set_viewport_size({"width": 1920, "height": 1000})
    page.goto("/opportunities")
    page.locator(f"#opp-{o.id}").drag_to(page.locator(".opp-col-lost .opp-cards"))
    dialog = page.locator("#move-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    assert opps.Opportunity.get_by_id(o.id).stage != "lost"


def test_a_manager_ticks_all_customers_of_a_leaver_at_once(page: Page):
    region, _ = region_and_pool("east")
    team, manager = team_with_manager(region)
    rep, boss = user("sales", team), admin()
    for _ in range(3):
        customer(boss, _uid(), region, owner=rep)
    log_in(page, boss.username)
    page.goto(f"/transfers/new?rep={rep.id}")
    picks = page.locator(".transfer-pick")
    expect(picks).to_have_count(3)
    page.locator("#transfer-all").check()  # was an inline onchange
    for i in range(3):
        expect(picks.nth(i)).to_be_checked()
    page.locator("#transfer-all").uncheck()
    for i in range(3):
        expect(picks.nth(i)).not_to_be_checked()


def test_charts_draw_and_the_team_filter_submits_itself(page: Page, output_path):
    region, _ = region_and_pool("east")
    team, manager = team_with_manager(region)
    rep, boss = user("sales", team), admin()
    c = customer(boss, _uid(), region, owner=rep)
    for days, amount in ((20, "80000"), (60, "150000")):
        opps.create_opportunity(rep, c, {"name": f"项目{days}", "amount": amount,
                                         "expected_close": (clock.today() + dt.timedelta(days=days)).isoformat()})
    log_in(page, boss.username)

    page.goto("/opportunities/forecast")
    expect(page.locator("#forecast-chart")).to_be_visible()
    page.wait_for_function("() => window.Chart && Chart.getChart(document.getElementById('forecast-chart'))")
    assert page.evaluate(PAINTED, "forecast-chart") > 1000
    shot(page, output_path, "forecast-chart.png")
    # Choosing a team reloads the page filtered (was an inline onchange).
    page.locator("#forecast-team").select_option(str(team.id))
    expect(page).to_have_url(re.compile(rf"team={team.id}\b"))
    page.wait_for_function("() => window.Chart && Chart.getChart(document.getElementById('forecast-chart'))")
    assert page.evaluate(PAINTED, "forecast-chart") > 1000

    page.goto("/service/dashboard")
    page.wait_for_function("() => window.Chart && Chart.getChart(document.getElementById('satisfaction-chart'))")
    assert page.evaluate(PAINTED, "satisfaction-chart") > 1000
    shot(page, output_path, "service-dashboard.png")

    page.goto("/pools/health")
    page.wait_for_function("() => window.Chart && Chart.getChart(document.getElementById('pool-chart'))")
    assert page.evaluate(PAINTED, "pool-chart") > 1000
