"""Issue 13, finding 1 in a real browser: the rep's private-pool page (/capacity) and the pool ledger
(/admin/ledger), as a rep and as an admin, at 1366 px in English and Chinese: no page wider than the window,
times on one line, every row a sentence (no JSON braces, no \\u escapes), customers by name. Screenshots land
in <--output>/<test-id>/ (looked at: see the report)."""
import datetime as dt

import pytest
from playwright.sync_api import Page

from models import clock, db
from models import pools
from models import rules as rules_mod
from models.customers import Customer
from models.users import User
from tests.e2e.conftest import log_in, shot
from tests.e2e.test_pools_browser import _uid, admin, customer, pool_customer, region_and_pool, team_with_manager, user

DAY = dt.timedelta(days=1)


def _history(rep, boss, region, pool):
    """A claim, a manual release, a forced release by the no-follow-up rule and a capacity change."""
    pools.claim_customer(rep, pool_customer(boss, _uid(), region, pool).id)
    pools.release_customer(rep, customer(boss, _uid(), region, owner=rep), "客户转做外贸，不再采购 — 合同到期不续")
    left = customer(boss, _uid(), region, owner=rep)
    now = clock.now()
    Customer.update(claimed_at=now - 40 * DAY, last_valid_followup_at=None).where(Customer.id == left.id).execute()
    left = Customer.get_by_id(left.id)
    rules = rules_mod.in_force(now)
    _at, rule, inputs = pools.release_plan(left, rules, now)
    with db.atomic():
        pools._release_rows([(left, rule, inputs, pools.home_pool(left))], now, rules)
    pools.adjust_capacity(boss, rep, "5", "30", "季度冲刺，临时加容量")
    return Customer.get_by_id(left.id)


def _wide(page):
    """What sticks out past the window's right edge (the deepest elements), to say why a page is too wide."""
    return page.evaluate("""() => [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right
        > window.innerWidth + 1 && ![...e.children].some(c => c.getBoundingClientRect().right > window.innerWidth + 1))
        .slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right) + ' '
        + (e.innerText || '').slice(0, 60))""")


def _check(page: Page, url, names):
    page.goto(url)
    page.wait_for_selector("table.ledger")
    sizes = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert sizes[0] <= sizes[1], f"{url} is {sizes[0]} px wide in a {sizes[1]} px window: {_wide(page)}"
    rows = page.locator("table.ledger tbody tr").all_inner_texts()
    assert rows, url
    for text in rows:
        assert "{" not in text and "\\u" not in text, text
    body = "\n".join(rows)
    for name in names:
        assert name in body, (url, name)
    for when in page.locator("table.ledger td.when time").all():   # the time on one line
        box = when.bounding_box()
        assert box["height"] < 30, (url, box)
    return body


@pytest.mark.parametrize("language", ["en", "zh_CN"])
def test_ledger_rows_read_as_sentences_and_fit_1366(page: Page, output_path, language):
    page.set_viewport_size({"width": 1366, "height": 900})
    region, pool = region_and_pool("east")
    team, _manager = team_with_manager(region)
    rep, boss = user("sales", team), admin()
    left = _history(rep, boss, region, pool)
    for person in (rep, boss):
        User.update(language=language).where(User.id == person.id).execute()
    rule = "release rules v" if language == "en" else "公海规则 v"

    log_in(page, rep.username)
    body = _check(page, "/capacity", [left.name])
    assert rule in body
    shot(page, output_path, f"capacity-rep-{language}.png")
    page.context.clear_cookies()

    log_in(page, boss.username)
    _check(page, f"/capacity/{rep.id}", [left.name, rep.full_name])
    shot(page, output_path, f"capacity-admin-{language}.png")
    body = _check(page, f"/admin/ledger?q={rep.username}", [left.name])
    assert rule in body
    shot(page, output_path, f"ledger-admin-{language}.png")
    page.goto("/admin/audit")
    sizes = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert sizes[0] <= sizes[1], f"/admin/audit is {sizes[0]} px wide"
    assert all("{" not in t for t in page.locator("table.ledger tbody tr").all_inner_texts())
    shot(page, output_path, f"audit-admin-{language}.png")
    page.goto(f"/customers/{left.id}")                          # the 360 timeline's audit rows: sentences too
    events = page.locator("ol.timeline li.event")
    assert events.count() >= 3
    assert all("{" not in t and "\\u" not in t for t in events.all_inner_texts())
    assert rule in page.locator("ol.timeline").inner_text()
    for when in page.locator("ol.timeline li.event time").all():
        assert when.bounding_box()["height"] < 30
    shot(page, output_path, f"timeline-admin-{language}.png")
