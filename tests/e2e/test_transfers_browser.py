"""Real-browser journeys through transfers (工作转移): a rep asks to transfer a customer from its page and
the manager approves it from the approvals inbox (the header count drops); an admin deactivates a rep who
still owns customers, lands in the leaver wizard, adjusts the proposal and carries it out (progress bar
to done). Screenshots land in <--output>/<test-id>/."""
import re

from playwright.sync_api import Page, expect

from models.audit import AuditEvent
from models.customers import Customer
from models.pools import PoolEvent
from models.transfers import Transfer, TransferItem
from models.users import User
from tests.e2e.conftest import assert_not_reloaded, log_in, mark_page, shot
from tests.e2e.test_pools_browser import _uid, admin, customer, region_and_pool, team_with_manager, user


def test_manager_approves_a_transfer_from_the_inbox(page: Page, login, new_context, output_path):
    region, _ = region_and_pool("east")
    team, manager = team_with_manager(region)
    rep, mate, boss = user("sales", team), user("sales", team), admin()
    c = customer(boss, _uid(), region, owner=rep)
    reason = "客户搬到浦东，交给负责浦东的同事跟进"

    # The rep asks from the customer's page.
    login(rep.username)
    page.goto(f"/customers/{c.id}")
    page.locator("#transfer-panel").get_by_role("link", name="Transfer…").click()
    expect(page).to_have_url(re.compile(r"/transfers/new\?customer="))
    page.get_by_label("Give to").select_option(label=mate.full_name)
    page.get_by_label("Reason").fill(reason)
    shot(page, output_path, "transfer-request-form.png")
    page.get_by_role("button", name="Send for approval").click()
    expect(page).to_have_url(re.compile(r"/transfers/\d+$"))
    expect(page.locator("#transfer-status")).to_have_text("Waiting for approval")
    shot(page, output_path, "transfer-requested.png")
    t = Transfer.get(Transfer.from_user == rep.id)
    assert (t.status, t.reason) == ("pending", reason)

    # The manager sees it counted in the top bar and approves it inline.
    errors = []
    mgr_page = new_context().new_page()
    mgr_page.on("pageerror", lambda exc: errors.append(str(exc)))
    log_in(mgr_page, manager.username)
    badge = mgr_page.locator("#approvals-badge")
    expect(badge).to_have_text(re.compile(r"Approvals\s*1$"))
    badge.click()
    row = mgr_page.locator("#approvals-transfers tr[id^=transfer-approval-]")
    expect(row).to_contain_text(rep.full_name)
    expect(row).to_contain_text(mate.full_name)
    expect(row).to_contain_text(reason)
    shot(mgr_page, output_path, "inbox-transfer-pending.png")
    mark_page(mgr_page)
    row.get_by_label("Reason for the decision").fill("同意，区域调整")
    row.get_by_role("button", name="Approve").click()
    expect(row).to_contain_text("Approved — 同意，区域调整")
    expect(row).to_contain_text("Done")
    expect(badge).to_have_count(0)  # approvalsChanged refreshed the header: nothing waits
    assert_not_reloaded(mgr_page)
    shot(mgr_page, output_path, "inbox-transfer-approved.png")

    moved = Customer.get_by_id(c.id)
    assert (moved.owner_id, moved.team_id) == (mate.id, team.id)
    assert PoolEvent.select().where((PoolEvent.kind == "transfer") & (PoolEvent.customer == c.id)).count() == 1

    # The new owner sees the customer and its history.
    mate_page = new_context().new_page()
    log_in(mate_page, mate.username)
    mate_page.goto(f"/customers/{c.id}")
    expect(mate_page.locator("#customer-owner")).to_have_text(mate.full_name)
    expect(mate_page.locator("#tab-body")).to_contain_text(f"transferred the customer from {rep.full_name} to {mate.full_name}")
    shot(mate_page, output_path, "new-owner-timeline.png")
    assert errors == [], f"JavaScript errors on the manager's page: {errors}"


def test_admin_deactivates_a_rep_and_completes_the_leaver_wizard(page: Page, login, output_path):
    region, _ = region_and_pool("east")
    team, manager = team_with_manager(region)
    leaver, mate, boss = user("sales", team), user("sales", team), admin()
    book = [customer(boss, _uid(), region, owner=leaver) for _ in range(30)]

    login(boss.username)
    page.goto(f"/admin/users?q={leaver.username}")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Deactivate").click()
    # Refused: the wizard opens instead, saying why.
    expect(page).to_have_url(re.compile(rf"/transfers/leaver/{leaver.id}$"))
    expect(page.locator(".flash")).to_contain_text("still owns 30 customers")
    assert User.get_by_id(leaver.id).active
    shot(page, output_path, "leaver-refused.png")

    page.get_by_role("button", name="Propose a split").click()
    summary = page.locator("#plan-summary")
    expect(summary).to_contain_text(mate.full_name)
    expect(page.locator("#plan-items tbody tr[id^=plan-item-]")).to_have_count(25)  # paginated
    shot(page, output_path, "leaver-proposal.png")

    # One customer by hand, to the manager; then everything else to the mate.
    first = page.locator("#plan-items tbody tr[id^=plan-item-]").first
    mark_page(page)
    box = first.get_by_role("combobox")  # a type-ahead person picker: type, then pick the match
    box.fill("")  # it may be proposed for the manager already: the same choice again is a choice by hand
    box.fill(manager.full_name)
    first.get_by_role("option", name=re.compile(re.escape(manager.full_name))).click()
    expect(first).to_contain_text("chosen by hand")
    expect(summary).to_contain_text(manager.full_name)
    assert_not_reloaded(page)
    page.get_by_role("button", name="More customers").click()
    expect(page.locator("#plan-items tbody tr[id^=plan-item-]")).to_have_count(30)
    page.get_by_label("Give all remaining to").fill(mate.full_name)
    page.locator("#plan-bulk").get_by_role("option", name=re.compile(re.escape(mate.full_name))).click()
    page.get_by_role("button", name="Give all remaining").click()  # the page reloads with the new split
    expect(page.locator("#plan-summary tbody tr").filter(has_text=mate.full_name)).to_contain_text("29")
    page.wait_for_load_state()
    expect(page.locator("#plan-summary tbody tr")).to_have_count(2)
    shot(page, output_path, "leaver-adjusted.png")

    page.get_by_label("Reason (the new owners read it)").fill("张三离职，客户交给组内同事")
    page.get_by_role("button", name="Approve, move the customers and deactivate").click()
    expect(page).to_have_url(re.compile(r"/transfers/\d+$"))
    expect(page.locator("progress")).to_be_visible()
    # The bar fills while the job runs; when it ends the page reloads to show the outcome.
    expect(page.locator("#transfer-status")).to_have_text("Done", timeout=15000)
    page.wait_for_load_state()
    expect(page.locator("#transfer-done")).to_contain_text("Done: 30 customers moved.")
    expect(page.locator("#transfer-done")).to_contain_text("The account is deactivated.")
    shot(page, output_path, "leaver-done.png")

    assert not User.get_by_id(leaver.id).active
    owners = [Customer.get_by_id(c.id).owner_id for c in book]
    assert owners.count(manager.id) == 1 and owners.count(mate.id) == 29
    t = Transfer.get((Transfer.from_user == leaver.id) & (Transfer.kind == "leaver"))
    assert (t.status, t.done, t.total) == ("done", 30, 30)
    assert TransferItem.select().where((TransferItem.transfer == t.id) & (TransferItem.done == False)).count() == 0  # noqa: E712
    assert AuditEvent.select().where((AuditEvent.kind == "user.deactivated")
                                     & AuditEvent.data.contains(f'"user_id": {leaver.id}')).count() == 1
    page.goto(f"/admin/users?q={leaver.username}")
    expect(page.locator("#user-rows")).to_contain_text("Deactivated")
