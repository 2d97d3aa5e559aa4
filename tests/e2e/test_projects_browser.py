"""Real-browser journeys through project sales (domain §8): a rep proposes a project answering the
criteria and a manager approves it inline from the approvals inbox; a milestone becomes overdue (the
clock moves, the sweep runs) and shows on its owner's workbench and in the project's timeline.

Every test makes its own team, users and project-sales customer, with unique names. Screenshots in
English and Chinese land in <--output>/<test-id>/.
"""
import datetime as dt
import re

from playwright.sync_api import Page, expect

from models import clock
from models import projects as pj
from models.notifications import Notification
from models.users import User
from tests.e2e.conftest import assert_not_reloaded, log_in, mark_page, shot
from tests.e2e.test_pools_browser import _uid, admin, customer, region_and_pool, team_with_manager, user

DAY = dt.timedelta(days=1)


def project_customer(uid, region, owner):
    return customer(admin(), uid, region, owner=owner, business_model="project")


def set_language(who, language):
    User.update(language=language).where(User.id == who.id).execute()


def test_a_manager_approves_a_proposed_project_from_the_inbox(page: Page, browser, base_url, output_path):
    region, _pool = region_and_pool("east")
    team, manager = team_with_manager(region)
    rep = user("sales", team)
    uid = _uid()
    target = project_customer(uid, region, rep)

    # the rep proposes from the customer's Projects tab
    log_in(page, rep.username)
    page.goto(f"/customers/{target.id}?tab=projects")
    page.get_by_role("link", name="Propose a project").click()
    page.get_by_label("Project name").fill(f"MES 一期 {uid}")
    page.get_by_label("Budget (yuan)").fill("1,2.5")
    page.get_by_role("button", name="Submit for approval").click()
    expect(page.locator("#err-f-budget")).to_contain_text("Enter an amount in yuan")
    expect(page.locator(".criterion.has-error")).to_have_count(len(pj.active_criteria()))
    shot(page, output_path, "propose-errors-en.png")
    page.get_by_label("Budget (yuan)").fill("1,200,000")
    for group in page.locator(".criterion").all():
        group.get_by_label("Yes").check()
    page.locator(".criterion").first.get_by_role("textbox").fill("客户财务已确认预算")
    page.get_by_role("button", name="Submit for approval").click()
    expect(page.locator("#project-name")).to_contain_text(f"MES 一期 {uid}")
    expect(page.locator("#project-name")).to_contain_text("Pending approval")
    project = pj.Project.get(pj.Project.name == f"MES 一期 {uid}")
    shot(page, output_path, "project-pending-en.png")

    # the manager decides inline in the approvals inbox, in Chinese
    set_language(manager, "zh_CN")
    context = browser.new_context(base_url=base_url)
    mpage = context.new_page()
    errors = []
    mpage.on("pageerror", lambda exc: errors.append(str(exc)))
    log_in(mpage, manager.username)
    mpage.goto("/approvals")
    row = mpage.locator(f"#project-approval-{project.id}")
    expect(row).to_contain_text(f"MES 一期 {uid}")
    expect(row).to_contain_text("4 / 4")
    shot(mpage, output_path, "approvals-inbox-zh.png")
    mark_page(mpage)
    row.get_by_role("textbox").fill("预算与决策人已确认，同意立项")
    with mpage.expect_response(re.compile(rf"/projects/{project.id}/decide$")) as decided:
        row.get_by_role("button", name="批准").click()
    assert decided.value.status == 200
    expect(row).to_contain_text("已批准")
    expect(row).to_contain_text("预算与决策人已确认，同意立项")
    assert_not_reloaded(mpage)
    shot(mpage, output_path, "approvals-decided-zh.png")
    mpage.goto(f"/projects/{project.id}")
    expect(mpage.locator("#project-team")).to_contain_text(rep.full_name)
    shot(mpage, output_path, "project-approved-zh.png")
    context.close()
    assert not errors, errors

    assert pj.Project.get_by_id(project.id).status == "approved"
    assert Notification.select().where((Notification.user == rep.id)
                                       & (Notification.kind == "project_approved")).count() == 1
    # the rep sees the decision on the project page
    page.goto(f"/projects/{project.id}")
    expect(page.locator("#decision-result")).to_contain_text("Approved")
    expect(page.locator("#project-milestones")).to_be_visible()
    shot(page, output_path, "project-approved-en.png")


def test_a_manager_decides_on_the_project_page_and_the_page_redraws(page: Page, output_path):
    """The decision answers one shape (the approval row and its events) wherever it is taken: the project
    page shows the row's error where the reason goes, and draws itself again on projectDecided."""
    region, _pool = region_and_pool("east")
    team, manager = team_with_manager(region)
    rep = user("sales", team)
    uid = _uid()
    project = pj.propose_project(rep, project_customer(uid, region, rep),
                                 {"name": f"ERP 上线 {uid}", "budget": "500000",
                                  **{f"answer_{c.id}": "yes" for c in pj.active_criteria()}})
    log_in(page, manager.username)
    page.goto(f"/projects/{project.id}")
    form = page.locator("#decide-form")
    mark_page(page)
    form.get_by_label("Reason for the decision").fill(" ")
    form.evaluate("f => f.querySelector('#decision-reason').removeAttribute('required')")
    with page.expect_response(re.compile(rf"/projects/{project.id}/decide$")) as refused:
        form.get_by_role("button", name="Approve").click()
    assert refused.value.status == 200
    expect(page.locator("#err-decision-reason")).to_contain_text("Give a reason")
    expect(page.locator("#err-decision-reason tr, #err-decision-reason td")).to_have_count(0)
    assert_not_reloaded(page)
    assert pj.Project.get_by_id(project.id).status == "pending"

    form.get_by_label("Reason for the decision").fill("预算明确，同意立项")
    with page.expect_response(re.compile(rf"/projects/{project.id}/decide$")):
        form.get_by_role("button", name="Approve").click()
    expect(page.locator("#decision-result")).to_contain_text("预算明确，同意立项")
    expect(page.locator("#decide-form")).to_have_count(0)
    assert not page.evaluate("window.__noReload === true"), "the page should have been drawn again"
    shot(page, output_path, "decided-on-the-page-en.png")
    assert pj.Project.get_by_id(project.id).status == "approved"


def test_a_milestone_becomes_overdue_and_shows_on_the_owners_workbench(page: Page, output_path):
    region, _pool = region_and_pool("east")
    team, manager = team_with_manager(region)
    rep, engineer = user("sales", team), user("service")
    uid = _uid()
    target = project_customer(uid, region, rep)
    criteria = pj.active_criteria()
    project = pj.propose_project(rep, target, {"name": f"WMS 改造 {uid}", "budget": "680000",
                                               **{f"answer_{c.id}": "yes" for c in criteria}})
    pj.decide_project(manager, project, True, "同意")
    pj.add_member(manager, project, {"user_id": str(engineer.id), "role": "engineer"})
    today = clock.today()
    done = pj.save_milestone(rep, project, {"name": f"需求调研 {uid}", "owner_id": str(rep.id), "status": "done",
                                            "start_on": (today - 20 * DAY).isoformat(),
                                            "due_on": (today - 5 * DAY).isoformat()})
    from werkzeug.datastructures import MultiDict
    form = MultiDict({"name": f"现场勘查 {uid}", "owner_id": str(rep.id), "start_on": (today - 3 * DAY).isoformat(),
                      "due_on": (today + 1 * DAY).isoformat(), "remind_days": "3", "depends_on": str(done.id)})
    late = pj.save_milestone(rep, project, form)
    pj.save_milestone(rep, project, {"name": f"上线 {uid}", "owner_id": str(engineer.id),
                                     "start_on": (today + 2 * DAY).isoformat(), "due_on": (today + 40 * DAY).isoformat()})

    log_in(page, rep.username)
    card = page.locator("#milestones-due")
    expect(card).to_contain_text(f"现场勘查 {uid}")
    expect(card.locator("strong.overdue")).to_have_count(0)
    shot(page, output_path, "workbench-due-en.png")

    # three days later the sweep runs: overdue for the owner, flagged to nobody else (no project manager)
    later = clock.now() + 3 * DAY
    clock.freeze(later)
    try:
        result = pj.sweep(later)
        assert result["overdue"] == 1
        assert pj.sweep(later)["overdue"] == 0  # idempotent
        log_in(page, rep.username)  # three days on, the 12-hour session has ended on the server
        expect(card).to_contain_text(f"现场勘查 {uid}")
        expect(card.locator("strong.overdue")).to_have_count(1)
        shot(page, output_path, "workbench-overdue-en.png")
        page.goto("/notifications")
        expect(page.locator("main")).to_contain_text(f"Milestone 现场勘查 {uid} of project WMS 改造 {uid} is overdue")
        page.goto(f"/projects/{project.id}")
        expect(page.locator(f"#milestone-{late.id}")).to_contain_text("overdue")
        expect(page.locator(".gantt-bar.ms-overdue")).to_have_count(1)
        shot(page, output_path, "project-timeline-en.png")
        set_language(rep, "zh_CN")
        page.goto("/")
        expect(page.locator("#milestones-due")).to_contain_text("已逾期")
        shot(page, output_path, "workbench-overdue-zh.png")
        page.goto(f"/projects/{project.id}")
        expect(page.locator(f"#milestone-{late.id}")).to_contain_text("已逾期")
        shot(page, output_path, "project-timeline-zh.png")
    finally:
        clock.freeze(None)
