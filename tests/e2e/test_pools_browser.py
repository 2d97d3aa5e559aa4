"""Real-browser journeys through the pools (domain §5): a one-click claim that updates the row and the
capacity counter in place, a claim refused at capacity, an admin previewing and saving a pool rule,
and a manager approving a lock request inline.

Every test makes its own region-bound team, users and customers with unique names, so the tests do not
depend on each other or on their order. Screenshots land in <--output>/<test-id>/.
"""
import datetime as dt
import re
import uuid

import pytest
from playwright.sync_api import Page, expect

from models import clock
from models.audit import AuditEvent
from models.customers import Customer, create_customer, set_owner
from models.pools import LockRequest, Pool, PoolEvent, adjust_capacity, capacity
from models.rules import RuleVersion
from models.users import Region, Team, User, hash_password
from tests.conftest import PASSWORD
from tests.e2e.conftest import assert_not_reloaded, log_in, mark_page, shot

NAME_CHARS = "锦华鼎盛瑞丰恒泰隆昌宏达永兴嘉禾新源正大华美康宁远航金城银河天成伟业同创众诚凯旋博雅"
DAY = dt.timedelta(days=1)


def _uid():
    return uuid.uuid4().hex[:8]


def company(uid):
    """A realistic name with a unique tail that the search box finds (trigrams on the uid)."""
    return "".join(NAME_CHARS[int(ch, 16) + i] for i, ch in enumerate(uid[:3])) + f"服饰有限公司{uid}"


def region_and_pool(code="east"):
    region = Region.get(Region.code == code)
    return region, Pool.get(Pool.region == region.id)


def user(role, team=None, region=None):
    uid = _uid()
    return User.create(username=f"e2e-{role}-{uid}", full_name=f"E2E {role.title()} {uid[:4]}",
                       password_hash=hash_password(PASSWORD), role=role, team=team,
                       region=region or (team.region_id if team else None), created_at=clock.now(), language="en")


def team_with_manager(region):
    manager = user("manager", region=region)
    team = Team.create(name=f"E2E 华东{_uid()}组", manager=manager, region=region)
    User.update(team=team).where(User.id == manager.id).execute()
    return team, User.get_by_id(manager.id)


def admin():
    return user("admin")


def customer(actor, uid, region, owner=None, **fields):
    """A customer created as the app does; with an owner, handed over through set_owner."""
    c = create_customer(actor, {"name": company(uid), "business_model": "consumer", "source": "website",
                                "stage": "target", "region_id": str(region.id), **fields}, check_duplicates=False)
    if owner is not None:
        set_owner(actor, c, owner)
    return Customer.get_by_id(c.id)


def pool_customer(actor, uid, region, pool):
    """An unowned customer sitting in the region's public pool (not freshly released, so claimable)."""
    c = customer(actor, uid, region)
    Customer.update(pool=pool.id, owner=None, team=None).where(Customer.id == c.id).execute()
    return Customer.get_by_id(c.id)


def badge_text(used, total):
    return f"{used} / {total}"


# ---- a. one-click claim, in place --------------------------------------------------------------

def test_rep_claims_a_pool_customer_with_one_click(page: Page, login, output_path):
    region, pool = region_and_pool("east")
    team, _ = team_with_manager(region)
    rep, boss = user("sales", team), admin()
    for _ in range(3):
        customer(boss, _uid(), region, owner=rep)
    uid = _uid()
    target = pool_customer(boss, uid, region, pool)
    before = capacity(rep)
    assert (before["used"], before["total"]) == (3, 50)

    login(rep.username)
    page.goto(f"/pools?q={uid}")
    row = page.locator(f"#pool-row-{target.id}")
    expect(row).to_contain_text(target.name)
    badge = page.locator("#capacity-badge")
    expect(badge.locator("b")).to_have_text(badge_text(3, 50))
    expect(page.locator(".result-count")).to_have_text("1 customer")
    shot(page, output_path, "pool-before-claim.png")

    mark_page(page)
    with page.expect_response(re.compile(rf"/pools/{target.id}/claim$")) as claim:
        row.get_by_role("button", name="Claim").click()
    assert claim.value.status == 200
    expect(row).to_have_class(re.compile(r"\bclaimed\b"))
    expect(row.get_by_role("status")).to_have_text(f"Claimed: {target.name} is now in your private pool.")
    expect(row.get_by_role("link", name="Open my customer")).to_be_visible()
    expect(row.get_by_role("button", name="Claim")).to_have_count(0)
    expect(badge.locator("b")).to_have_text(badge_text(4, 50))  # refreshed by the capacityChanged event
    assert_not_reloaded(page)
    shot(page, output_path, "pool-after-claim.png")

    claimed = Customer.get_by_id(target.id)
    assert (claimed.owner_id, claimed.team_id, claimed.pool_id) == (rep.id, team.id, None)
    assert claimed.release_at is not None
    assert PoolEvent.select().where((PoolEvent.kind == "claim") & (PoolEvent.customer == target.id)
                                    & (PoolEvent.actor == rep.id)).count() == 1

    # The customer's own page now shows the release clock instead of the claim button.
    row.get_by_role("link", name="Open my customer").click()
    expect(page.locator("#customer-owner")).to_have_text(rep.full_name)
    expect(page.locator("#pool-panel #release-date")).to_contain_text("Goes back to the pool on")
    expect(page.locator("#pool-panel").get_by_role("button", name="Claim")).to_have_count(0)


# ---- b. refused at capacity ---------------------------------------------------------------------

def test_claim_at_capacity_is_refused_with_the_reason(page: Page, login, output_path):
    region, pool = region_and_pool("east")
    team, _ = team_with_manager(region)
    rep, boss = user("sales", team), admin()
    for _ in range(2):
        customer(boss, _uid(), region, owner=rep)
    uid = _uid()
    target = pool_customer(boss, uid, region, pool)

    login(rep.username)
    page.goto(f"/pools?q={uid}")
    row = page.locator(f"#pool-row-{target.id}")
    expect(page.locator("#capacity-badge b")).to_have_text(badge_text(2, 50))
    # While the page is open, the rep gets a penalty that leaves no room (2 of 2).
    adjust_capacity(boss, rep, -48, 30, "占用客户不跟进，扣减容量")
    events_before = PoolEvent.select().where(PoolEvent.actor == rep.id).count()
    audit_before = AuditEvent.select().count()

    mark_page(page)
    with page.expect_response(re.compile(rf"/pools/{target.id}/claim$")) as claim:
        row.get_by_role("button", name="Claim").click()
    assert claim.value.status == 200  # a refusal is an answer, not an error
    refusal = row.locator(".refusal")
    expect(refusal).to_have_text("Your private pool is full (2 of 2). Release a customer first.")  # said once
    expect(refusal).to_have_attribute("role", "status")
    expect(row).not_to_have_class(re.compile(r"\bclaimed\b"))
    expect(page.locator("#capacity-badge b")).to_have_text(badge_text(2, 2))
    expect(page.locator("#capacity-badge")).to_have_class(re.compile(r"\bover\b"))
    assert_not_reloaded(page)
    shot(page, output_path, "claim-refused-at-capacity.png")

    # Nothing was written but the refusal's ledger row.
    fresh = Customer.get_by_id(target.id)
    assert (fresh.owner_id, fresh.pool_id) == (None, pool.id)
    new_events = list(PoolEvent.select().where(PoolEvent.actor == rep.id).order_by(PoolEvent.id))[events_before:]
    assert [(e.kind, e.inputs["rule"]) for e in new_events] == [("claim_refused", "capacity")]
    assert AuditEvent.select().count() == audit_before

    # Opened again, the pool says why up front and offers no Claim button.
    page.reload()
    expect(row.locator(".refusal")).to_have_text("Your private pool is full (2 of 2). Release a customer first.")
    expect(row.get_by_role("button", name="Claim")).to_have_count(0)
    shot(page, output_path, "pool-at-capacity.png")


# ---- b2. claim from the customer's own page -----------------------------------------------------

def test_rep_claims_from_the_customers_page_and_the_page_redraws(page: Page, login, output_path):
    """The claim answers one shape wherever its button sits (the pool row and its events): the customer's
    page takes the message out of it and draws itself again on ownerChanged; a claim that lost the race
    says why in place."""
    region, pool = region_and_pool("east")
    team, _ = team_with_manager(region)
    rep, boss = user("sales", team), admin()
    target = pool_customer(boss, _uid(), region, pool)

    login(rep.username)
    page.goto(f"/customers/{target.id}")
    panel = page.locator("#pool-panel")
    mark_page(page)
    with page.expect_response(re.compile(rf"/pools/{target.id}/claim$")) as claim:
        panel.get_by_role("button", name="Claim").click()
    assert claim.value.status == 200
    expect(page.locator("#customer-owner")).to_have_text(rep.full_name)
    expect(page.locator("#pool-panel #release-date")).to_contain_text("Goes back to the pool on")
    expect(panel.get_by_role("button", name="Claim")).to_have_count(0)
    assert not page.evaluate("window.__noReload === true"), "the page should have been drawn again"
    shot(page, output_path, "claimed-from-the-file.png")

    # Another one, refused because a penalty filled the pool while the page was open: the reason shows
    # where the button was, and the page stays as it is.
    other = pool_customer(boss, _uid(), region, pool)
    page.goto(f"/customers/{other.id}")
    adjust_capacity(boss, rep, -49, 30, "占用客户不跟进，扣减容量")
    mark_page(page)
    with page.expect_response(re.compile(rf"/pools/{other.id}/claim$")):
        panel.get_by_role("button", name="Claim").click()
    expect(page.locator("#claim-result [role=status]")).to_have_text(
        "Your private pool is full (1 of 1). Release a customer first.")
    expect(page.locator("#claim-result tr, #claim-result td")).to_have_count(0)  # the message, not the row
    expect(page.locator("#capacity-badge b")).to_have_text(badge_text(1, 1))  # capacityChanged
    assert_not_reloaded(page)
    assert Customer.get_by_id(other.id).owner_id is None


# ---- c. the admin previews and saves a rule change -------------------------------------------

@pytest.fixture
def restore_rules():
    """A saved rule version applies to every later test on the shared server: take it back afterwards."""
    last = RuleVersion.select().order_by(RuleVersion.version.desc()).first()
    yield
    RuleVersion.delete().where(RuleVersion.version > (last.version if last else 0)).execute()


def test_admin_previews_and_saves_a_shorter_release_period(page: Page, login, output_path, restore_rules):
    region, _ = region_and_pool("east")
    team, _ = team_with_manager(region)
    rep, boss = user("sales", team), user("admin")
    # Claimed ten days ago with no valid follow-up: under a 5-day rule it would go at once.
    due = customer(boss, _uid(), region, owner=rep)
    Customer.update(claimed_at=clock.now() - 10 * DAY).where(Customer.id == due.id).execute()
    # Claimed now: under a 5-day rule it goes in five days, still inside the 30-day horizon.
    later = customer(boss, _uid(), region, owner=rep)
    next_version = (RuleVersion.select(RuleVersion.version).order_by(RuleVersion.version.desc()).scalar() or 0) + 1
    note = f"缩短掉保周期 {_uid()}"

    login(boss.username)
    page.goto("/admin/rules")
    days = page.get_by_label("Release after days without a valid follow-up", exact=True)
    expect(days).to_have_value("15")
    days.fill("5")
    page.get_by_label("Note").fill(note)
    mark_page(page)
    page.get_by_role("button", name="Preview the effect").click()
    preview = page.locator("#preview-result")
    expect(preview.get_by_role("heading", level=2)).to_contain_text("customers would be released within 30 days of")
    per_team = preview.locator("table").first
    expect(per_team.locator("tr", has_text=team.name)).to_contain_text("2")
    first_to_go = preview.locator("table").nth(1)
    expect(first_to_go.get_by_role("link", name=due.name)).to_be_visible()
    expect(first_to_go.get_by_role("link", name=later.name)).to_be_visible()
    expect(first_to_go.locator("tr", has_text=due.name)).to_contain_text(rep.full_name)
    expect(preview).to_contain_text("Nothing was changed.")
    assert_not_reloaded(page)
    assert RuleVersion.select().where(RuleVersion.note == note).count() == 0  # a preview saves nothing
    assert Customer.get_by_id(due.id).owner_id == rep.id
    shot(page, output_path, "rules-preview.png")

    page.get_by_role("button", name="Save as a new version").click()
    expect(page).to_have_url(re.compile(r"/admin/rules\?saved=1$"))
    expect(page.get_by_role("status")).to_have_text("Saved as a new version.")
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"in force: v{next_version}")
    saved_row = page.locator("table tr", has_text=note)
    expect(saved_row.locator("td").first).to_have_text(f"v{next_version}")
    expect(page.get_by_label("Release after days without a valid follow-up", exact=True)).to_have_value("5")
    shot(page, output_path, "rules-saved.png")

    version = RuleVersion.get(RuleVersion.note == note)
    assert version.version == next_version and version.settings["release_no_followup_days"] == 5
    assert Customer.get_by_id(due.id).owner_id == rep.id  # saving releases nobody; the sweep does


# ---- d. a manager approves a lock inline ------------------------------------------------------

def test_manager_approves_a_lock_request_inline(page: Page, login, new_context, output_path):
    region, _ = region_and_pool("east")
    team, manager = team_with_manager(region)
    rep, boss = user("sales", team), admin()
    c = customer(boss, _uid(), region, owner=rep)
    reason = "年底大单谈判中，需要锁定到签约"

    # The rep asks for the lock on the customer's page.
    login(rep.username)
    page.goto(f"/customers/{c.id}")
    panel = page.locator("#pool-panel")
    expect(panel.locator("#release-date")).to_contain_text("Goes back to the pool on")
    panel.get_by_text("Ask to lock").click()
    panel.get_by_label("Why should it be locked").fill(reason)
    panel.get_by_role("button", name="Send to the manager").click()
    expect(panel).to_contain_text("A lock request is waiting for the manager.")
    shot(page, output_path, "lock-requested.png")
    req = LockRequest.get(LockRequest.customer == c.id)
    assert (req.status, req.requester_id, req.reason) == ("pending", rep.id, reason)

    # The manager sees it counted in the top bar and decides on the approvals page.
    errors = []
    mgr_page = new_context().new_page()
    mgr_page.on("pageerror", lambda exc: errors.append(str(exc)))
    log_in(mgr_page, manager.username)
    approvals = mgr_page.locator("#approvals-badge")
    expect(approvals).to_have_text(re.compile(r"Approvals\s*1$"))
    shot(mgr_page, output_path, "manager-workbench-approvals-badge.png")
    approvals.click()
    expect(mgr_page).to_have_url(re.compile(r"/approvals$"))
    row = mgr_page.locator(f"#lock-request-{req.id}")
    expect(row).to_contain_text(c.name)
    expect(row).to_contain_text(rep.full_name)
    expect(row).to_contain_text(reason)
    shot(mgr_page, output_path, "approvals-pending.png")

    mark_page(mgr_page)
    row.get_by_label("Reason for the decision").fill("同意，春节前完成签约")
    row.get_by_role("button", name="Approve").click()
    expect(row).to_contain_text("Approved — 同意，春节前完成签约")
    expect(row).to_contain_text(manager.full_name)
    expect(row.get_by_role("button", name="Approve")).to_have_count(0)
    expect(approvals).to_have_count(0)  # approvalsChanged refreshed the top bar: nothing waits
    assert_not_reloaded(mgr_page)
    shot(mgr_page, output_path, "approvals-approved.png")

    locked = Customer.get_by_id(c.id)
    assert locked.locked and locked.release_at is None
    assert LockRequest.get_by_id(req.id).status == "approved"

    mgr_page.goto(f"/customers/{c.id}")
    expect(mgr_page.locator("#pool-panel .badge.locked")).to_have_text("Locked")
    expect(mgr_page.locator("#pool-panel")).to_contain_text("Exempt from forced release.")
    shot(mgr_page, output_path, "customer-locked.png")
    # The rep sees it too.
    page.reload()
    expect(panel.locator(".badge.locked")).to_have_text("Locked")
    expect(panel.get_by_text("Ask to lock")).to_have_count(0)
    assert errors == [], f"JavaScript errors on the manager's page: {errors}"
