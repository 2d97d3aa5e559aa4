"""Real-browser journey through a fair drop (issue 20 item 1): a rep sees "drops at …" on a pool customer
released into a pool with a drop time, queues for it before the drop and sees the queue's count (the
count only); after the drop (the sweep draws the lottery) the rep sees the result: the customer in their
private pool, or their place in the lottery. Screenshots land in <--output>/<test-id>/."""
import datetime as dt
import re

from playwright.sync_api import Page, expect

from models import clock, drops
from models.customers import Customer
from tests.e2e.conftest import assert_not_reloaded, mark_page, shot
from tests.e2e.test_pools_browser import _uid, admin, pool_customer, region_and_pool, team_with_manager, user


def test_rep_queues_before_the_drop_and_sees_the_lottery_result_after(page: Page, login, output_path):
    region, pool = region_and_pool("east")
    team, _ = team_with_manager(region)
    other_team, _ = team_with_manager(region)
    rep, rival, boss = user("sales", team), user("sales", other_team), admin()
    uid = _uid()
    target = pool_customer(boss, uid, region, pool)
    drop_at = clock.now() + dt.timedelta(days=1)
    Customer.update(drop_at=drop_at).where(Customer.id == target.id).execute()
    drops.queue_for(rival, Customer.get_by_id(target.id))  # someone queued before

    login(rep.username)
    page.goto(f"/pools?q={uid}")
    row = page.locator(f"#pool-row-{target.id}")
    expect(row).to_contain_text("Drops at")
    expect(row.locator(".drop-queue")).to_have_text("1 in the queue")
    expect(row.get_by_role("button", name="Claim")).to_have_count(0)
    shot(page, output_path, "drop-before-queue.png")

    mark_page(page)
    with page.expect_response(re.compile(rf"/pools/{target.id}/queue$")) as queued:
        row.get_by_role("button", name="Queue for the drop").click()
    assert queued.value.status == 200
    expect(row.get_by_role("status")).to_contain_text("Queued: 2 waiting for the drop")
    expect(row.locator(".drop-queue")).to_have_text("2 in the queue")
    expect(row.locator(f"#queued-{target.id}")).to_be_visible()
    assert_not_reloaded(page)
    shot(page, output_path, "drop-queued.png")

    # the drop time comes; the sweep draws the lottery
    come = clock.now() - dt.timedelta(minutes=1)  # the drop's time, moved to a minute ago with its queue
    Customer.update(drop_at=come).where(Customer.id == target.id).execute()
    drops.DropEntry.update(drop_at=come).where(drops.DropEntry.customer == target.id).execute()
    assert drops.sweep()["won"] == 1
    winner = Customer.get_by_id(target.id).owner_id
    assert winner in (rep.id, rival.id)

    page.goto("/notifications")
    if winner == rep.id:
        expect(page.locator("#notification-list")).to_contain_text(f"You won the drop of {target.name} (place 1 of 2")
    else:
        expect(page.locator("#notification-list")).to_contain_text(
            f"The drop of {target.name} went to another rep: you drew place 2 of 2.")
    shot(page, output_path, "drop-result.png")
    page.goto(f"/pools?q={uid}")
    expect(page.locator(f"#pool-row-{target.id}")).to_have_count(0)  # no longer in the pool
