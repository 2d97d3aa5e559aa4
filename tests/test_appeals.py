"""Issue 20 item 2, appeals and undo: a rep appeals a release within N working hours (the service's working
calendar, on the frozen clock), the manager decides, an upheld appeal gives the customer back with its original
clock; an open appeal holds the customer out of every claim (and so out of the drop); an admin undoes forced
releases in bulk; a conflict ruling splits the credit and may be appealed once. Every refusal says why and
leaves a ledger row."""
import datetime as dt
from decimal import Decimal

import pytest

from models import appeals, clock, conflicts, targets
from models.appeal_tables import Appeal, CreditSplit
from models.customers import Customer, log_follow_up
from models.merges import merge_customers
from models.orders import create_order, save_product
from models.perf_tables import RepPeriod
from models.pools import ClaimRefused, PoolEvent, check_claim, claim_customer, release_customer, sweep
from models.rules import DEFAULTS, in_force, save_version
from models.service import ServiceSettings
from models.users import Region, Team
from tests.conftest import FROZEN

DAY, SEC = dt.timedelta(days=1), dt.timedelta(seconds=1)
# FROZEN is Tuesday 2026-11-24 10:00 in Shanghai. 16 working hours (09:00-18:00) later: 8 h on Tuesday,
# 8 h on Wednesday: Wednesday 2026-11-25 17:00 Shanghai.
WINDOW_END = clock.from_local(dt.datetime(2026, 11, 25, 17, 0))


def fresh(row):
    return type(row).get_by_id(row.id)


def ledger_kinds(customer):
    return [e.kind for e in PoolEvent.select().where(PoolEvent.customer == customer.id).order_by(PoolEvent.id)]


@pytest.fixture
def world(make_user, make_team, make_customer):
    """A team (manager, two reps), another team's manager, an admin, and a customer of `rep` whose
    follow-up clock ran out: the sweep at FROZEN force-releases it."""
    east = Region.get(Region.code == "east")
    team, other = make_team(region=east), make_team(region=east)
    manager, other_manager = make_user("manager", team), make_user("manager", other)
    Team.update(manager=manager).where(Team.id == team.id).execute()
    Team.update(manager=other_manager).where(Team.id == other.id).execute()
    rep, mate, admin = make_user("sales", team), make_user("sales", team), make_user("admin")
    clock.freeze(FROZEN - 20 * DAY)
    customer = make_customer(owner=rep, name="温州申诉服饰有限公司", region_id=str(east.id))
    claimed_at = fresh(customer).claimed_at
    clock.freeze(FROZEN)
    assert sweep(FROZEN)["released"] == 1
    released = fresh(customer)
    assert released.owner_id is None and released.pool_id is not None
    ev = PoolEvent.get((PoolEvent.customer == customer.id) & (PoolEvent.kind == "forced_release"))
    return dict(east=east, team=team, manager=manager, other_manager=other_manager, rep=rep, mate=mate, admin=admin,
                customer=released, claimed_at=claimed_at, ev=ev)


def rules_with(**settings):
    save_version(None if False else _admin(), {**DEFAULTS, **settings}, clock.now())
    return in_force(clock.now())


def _admin():
    from models.users import User

    return User.get(User.role == "admin")


# ---- the window, in working hours -----------------------------------------------------------------------

def test_the_window_is_counted_in_working_hours(app):
    assert appeals.window_end(FROZEN, 16) == WINDOW_END
    # Friday 17:00 + 2 working hours = Monday 10:00; a holiday on that Monday moves it to Tuesday 10:00.
    friday = clock.from_local(dt.datetime(2026, 11, 27, 17, 0))
    assert appeals.window_end(friday, 2) == clock.from_local(dt.datetime(2026, 11, 30, 10, 0))


def test_a_holiday_in_the_service_calendar_lengthens_the_window(world):
    ServiceSettings.create(settings={"holidays": ["2026-11-25"]}, updated_at=clock.now())
    # Tuesday's 8 hours, Wednesday off, Thursday 09:00 + 8 h = 17:00.
    assert appeals.window_end(FROZEN, 16) == clock.from_local(dt.datetime(2026, 11, 26, 17, 0))


def test_an_appeal_at_the_last_second_of_the_window_is_filed_and_holds_the_customer(world):
    clock.freeze(WINDOW_END)
    appeal = appeals.appeal_release(world["rep"], world["ev"].id, "客户11月20日来电要求报价，跟进记录漏登")
    assert (appeal.status, appeal.window_ends_at, appeal.team_id) == ("open", WINDOW_END, world["team"].id)
    assert ledger_kinds(world["customer"])[-1] == "appeal_opened"
    # Held out of the pool: after the freeze a team mate's claim is refused by the appeal, not by the freeze.
    clock.freeze(FROZEN + 3 * DAY)
    with pytest.raises(ClaimRefused) as refused:
        check_claim(world["mate"], fresh(world["customer"]), in_force(), clock.now())
    assert refused.value.rule == "appealed"
    with pytest.raises(ClaimRefused):
        claim_customer(world["mate"], world["customer"].id)
    assert fresh(world["customer"]).owner_id is None


def test_an_appeal_one_second_late_is_refused_and_the_ledger_says_why(world):
    clock.freeze(WINDOW_END + SEC)
    with pytest.raises(appeals.AppealRefused) as refused:
        appeals.appeal_release(world["rep"], world["ev"].id, "漏登了跟进")
    assert refused.value.rule == "window"
    assert "2026-11-25 17:00" in str(refused.value)  # business time; the page writes it in the reader's language
    assert refused.value.params["until"] == WINDOW_END
    assert not Appeal.select().exists()
    row = PoolEvent.select().where(PoolEvent.kind == "appeal_refused").get()
    assert "2026-11-25 17:00" in row.reason
    assert (row.inputs["rule"], row.actor_id, row.customer_id) == ("window", world["rep"].id, world["customer"].id)


def test_an_appeal_twice_is_refused(world):
    appeals.appeal_release(world["rep"], world["ev"].id, "漏登了跟进")
    with pytest.raises(appeals.AppealRefused) as refused:
        appeals.appeal_release(world["rep"], world["ev"].id, "再申诉一次")
    assert refused.value.rule == "twice"
    assert Appeal.select().count() == 1


def test_an_appeal_on_a_customer_claimed_since_is_refused(world):
    rules_with(frozen_hours=0, team_cooling_off_days=0)
    claim_customer(world["mate"], world["customer"].id)
    with pytest.raises(appeals.AppealRefused) as refused:
        appeals.appeal_release(world["rep"], world["ev"].id, "漏登了跟进")
    assert refused.value.rule == "claimed" and world["mate"].full_name in refused.value.params["holder"]
    assert PoolEvent.select().where(PoolEvent.kind == "appeal_refused").count() == 1


def test_a_reason_is_required_and_only_the_released_rep_may_appeal(world):
    with pytest.raises(appeals.ValidationError):
        appeals.appeal_release(world["rep"], world["ev"].id, "   ")
    with pytest.raises(appeals.NotFound):
        appeals.appeal_release(world["mate"], world["ev"].id, "我也想要")
    assert not Appeal.select().exists()


def test_no_appeals_when_the_rules_set_the_window_to_zero(world):
    rules_with(appeal_window_hours=0)
    with pytest.raises(appeals.AppealRefused) as refused:
        appeals.appeal_release(world["rep"], world["ev"].id, "漏登了跟进")
    assert refused.value.rule == "off"


# ---- the decision ------------------------------------------------------------------------------------

def test_upheld_gives_the_customer_back_with_its_original_clock(world):
    appeal = appeals.appeal_release(world["rep"], world["ev"].id, "漏登了跟进")
    clock.freeze(FROZEN + 2 * dt.timedelta(hours=1))
    with pytest.raises(appeals.NotFound):  # another team's manager does not decide it
        appeals.decide_appeal(world["other_manager"], appeal.id, True, "同意")
    appeals.decide_appeal(world["manager"], appeal.id, True, "核实确有电话记录")
    c = fresh(world["customer"])
    assert (c.owner_id, c.team_id, c.pool_id, c.released_at) == (world["rep"].id, world["team"].id, None, None)
    assert c.claimed_at == world["claimed_at"]  # the clock is not restarted
    # It had run out (claimed 20 days ago, 15 days without a follow-up): kept the grace days, then released.
    grace = clock.now() + DEFAULTS["appeal_grace_days"] * DAY
    assert (c.release_at, c.release_rule, c.restored_until) == (grace, "restored", grace)
    row = PoolEvent.select().where(PoolEvent.kind == "appeal_upheld").get()
    assert row.to_owner == world["rep"].id
    assert row.inputs["release_at"] == str(world["claimed_at"] + 15 * DAY)  # the release date it had
    assert row.inputs["held_until"] == str(grace)
    assert fresh(appeal).status == "upheld"
    assert sweep(grace - SEC)["released"] == 0
    clock.freeze(grace + SEC)
    assert sweep(clock.now())["released"] == 1


def test_a_manual_release_upheld_keeps_the_release_date_it_had(world, make_customer):
    clock.freeze(FROZEN - 5 * DAY)
    customer = make_customer(owner=world["rep"], name="杭州手动释放服饰有限公司", region_id=str(world["east"].id))
    before = fresh(customer).release_at
    assert before == FROZEN + 10 * DAY
    clock.freeze(FROZEN)
    release_customer(world["rep"], fresh(customer), "以为客户不再需要")
    ev = PoolEvent.get((PoolEvent.customer == customer.id) & (PoolEvent.kind == "release"))
    appeal = appeals.appeal_release(world["rep"], ev.id, "误操作释放")
    clock.freeze(FROZEN + 1 * DAY)
    appeals.decide_appeal(world["manager"], appeal.id, True, "误操作")
    c = fresh(customer)
    assert (c.owner_id, c.release_at, c.release_rule, c.restored_until) == (world["rep"].id, before, "no_followup", None)


def test_rejected_leaves_the_customer_in_the_pool_and_lifts_the_hold(world):
    appeal = appeals.appeal_release(world["rep"], world["ev"].id, "漏登了跟进")
    appeals.decide_appeal(world["manager"], appeal.id, False, "跟进记录不符合规则")
    assert fresh(appeal).status == "rejected" and fresh(world["customer"]).owner_id is None
    clock.freeze(FROZEN + 2 * DAY)  # after the freeze the team mate... is in the releasing team: cooling-off
    with pytest.raises(ClaimRefused) as refused:
        check_claim(world["mate"], fresh(world["customer"]), in_force(), clock.now())
    assert refused.value.rule == "team_cooling_off"
    with pytest.raises(appeals.DomainError):
        appeals.decide_appeal(world["manager"], appeal.id, True, "改判")
    assert "appeal_rejected" in ledger_kinds(world["customer"])


def test_the_appellant_never_decides_and_the_decision_needs_a_reason(world):
    appeal = appeals.appeal_release(world["manager"] if False else world["rep"], world["ev"].id, "漏登了跟进")
    with pytest.raises(appeals.NotFound):
        appeals.decide_appeal(world["rep"], appeal.id, True, "自己批准")
    with pytest.raises(appeals.ValidationError):
        appeals.decide_appeal(world["manager"], appeal.id, True, "")
    assert fresh(appeal).status == "open"


def test_upholding_for_a_rep_whose_pool_is_full_is_refused_and_the_appeal_stays_open(world, make_customer):
    appeal = appeals.appeal_release(world["rep"], world["ev"].id, "漏登了跟进")
    rules_with(capacity={"sales": 1, "manager": 50})
    make_customer(owner=world["rep"])
    with pytest.raises(appeals.AppealRefused) as refused:
        appeals.decide_appeal(world["manager"], appeal.id, True, "同意")
    assert refused.value.rule == "capacity" and refused.value.params["used"] == 1
    assert fresh(appeal).status == "open" and fresh(world["customer"]).owner_id is None
    assert PoolEvent.select().where(PoolEvent.kind == "restore_refused").get().inputs["rule"] == "capacity"


def test_the_rep_appeals_and_the_manager_upholds_over_http(client, world):
    client.login(world["rep"])
    page = client.get(f"/customers/{world['customer'].id}").get_data(as_text=True)
    assert 'id="appeal-form"' in page
    response = client.post(f"/appeals/releases/{world['ev'].id}", {"reason": "  "}, htmx=True)
    assert response.status_code == 200 and 'aria-invalid="true"' in response.get_data(as_text=True)
    assert not Appeal.select().exists()
    response = client.post(f"/appeals/releases/{world['ev'].id}", {"reason": "客户来电记录漏登"}, htmx=True)
    assert response.status_code == 200 and 'id="appeal-status"' in response.get_data(as_text=True)
    assert client.post(f"/appeals/releases/{world['ev'].id}", {"reason": "again"}, htmx=True).status_code == 409
    client.login(world["manager"])
    inbox = client.get("/approvals").get_data(as_text=True)
    appeal = Appeal.get()
    assert f'id="appeal-row-{appeal.id}"' in inbox
    response = client.post(f"/appeals/{appeal.id}/decide", {"decision": "uphold", "reason": ""}, htmx=True)
    assert 'aria-invalid="true"' in response.get_data(as_text=True) and fresh(appeal).status == "open"
    response = client.post(f"/appeals/{appeal.id}/decide", {"decision": "uphold", "reason": "核实"}, htmx=True)
    assert response.status_code == 200 and "approvalsChanged" in response.headers["HX-Trigger"]
    assert fresh(world["customer"]).owner_id == world["rep"].id
    ledger = client.get(f"/customers/{world['customer'].id}?tab=timeline").get_data(as_text=True)
    assert "original clock" in ledger


# ---- the admin's bulk undo ---------------------------------------------------------------------------------

def test_bulk_undo_restores_or_refuses_each_release_with_its_reason(world, make_customer, make_user):
    rep, admin = world["rep"], world["admin"]
    clock.freeze(FROZEN - 20 * DAY)
    region = str(world["east"].id)
    merged = make_customer(owner=rep, name="宁波合并服饰有限公司", region_id=region)
    taken = make_customer(owner=rep, name="绍兴被领服饰有限公司", region_id=region)
    clock.freeze(FROZEN + 1 * DAY)
    other = make_customer(owner=world["manager"], name="嘉兴存续服饰有限公司", region_id=region)
    assert sweep(clock.now())["released"] == 2
    evs = {e.customer_id: e for e in PoolEvent.select().where(PoolEvent.kind == "forced_release")}
    rules_with(frozen_hours=0, team_cooling_off_days=0)
    stranger = make_user("sales", world["team"])
    claim_customer(stranger, taken.id)
    merge_customers(admin, merged.id, other.id, reason="重复档案")
    results = appeals.undo_releases(admin, [world["ev"].id, evs[merged.id].id, evs[taken.id].id], "规则版本配置错误")
    outcome = {pk: (exc.rule if exc else None) for pk, _name, exc in results}
    assert outcome == {world["ev"].id: None, evs[merged.id].id: "merged", evs[taken.id].id: "claimed"}
    assert fresh(world["customer"]).owner_id == rep.id and fresh(world["customer"]).claimed_at == world["claimed_at"]
    assert fresh(other).owner_id == world["manager"].id and fresh(taken).owner_id == stranger.id
    refusals = {e.inputs["release_event"]: e.inputs["rule"]
                for e in PoolEvent.select().where(PoolEvent.kind == "restore_refused")}
    assert refusals == {evs[merged.id].id: "merged", evs[taken.id].id: "claimed"}
    assert PoolEvent.select().where(PoolEvent.kind == "release_undone").count() == 1
    # Undone once: a second undo says it is back already.
    again = appeals.undo_releases(admin, [world["ev"].id], "再来一次")
    assert again[0][2].rule == "back"


def test_undo_is_refused_while_an_appeal_is_open_and_for_a_manual_release(world, make_customer):
    appeals.appeal_release(world["rep"], world["ev"].id, "漏登了跟进")
    result = appeals.undo_releases(world["admin"], [world["ev"].id], "规则错误")
    assert result[0][2].rule == "open_appeal"
    customer = make_customer(owner=world["mate"])
    release_customer(world["mate"], customer, "不需要了")
    ev = PoolEvent.get((PoolEvent.customer == customer.id) & (PoolEvent.kind == "release"))
    assert appeals.undo_releases(world["admin"], [ev.id], "规则错误")[0][2].rule == "not_forced"


def test_the_undo_page_filters_by_rule_version_and_date_and_undoes(client, world):
    client.login(world["admin"])
    page = client.get("/admin/releases?version=0&since=2026-11-24&until=2026-11-24").get_data(as_text=True)
    assert f'id="release-{world["ev"].id}"' in page
    assert f'id="release-{world["ev"].id}"' not in client.get("/admin/releases?since=2026-11-25").get_data(as_text=True)
    assert f'id="release-{world["ev"].id}"' not in client.get("/admin/releases?version=7").get_data(as_text=True)
    bad = client.get("/admin/releases?version=abc&since=yesterday")
    assert bad.status_code == 200 and "has-error" in bad.get_data(as_text=True)
    response = client.post("/admin/releases/undo", {"events": [str(world["ev"].id)], "reason": ""})
    assert response.status_code == 200 and fresh(world["customer"]).owner_id is None
    response = client.post("/admin/releases/undo", {"events": [str(world["ev"].id)], "reason": "规则版本错误"})
    assert 'id="undo-results"' in response.get_data(as_text=True)
    assert fresh(world["customer"]).owner_id == world["rep"].id
    client.login(world["manager"])
    assert client.get("/admin/releases").status_code == 404


# ---- conflict rulings: credit split and the appeal window ---------------------------------------------------

@pytest.fixture
def case(world, make_customer):
    owner, claimant = world["rep"], world["mate"]
    customer = make_customer(owner=owner, name="台州撞单服饰有限公司")
    opened = conflicts.open_case(claimant, customer.id, "我三个月前就拜访过这家公司的老板，有拜访记录", seen={"name": customer.name})
    return opened, customer


def test_a_ruling_splits_the_credit_and_revenue_follows_it(world, case):
    opened, customer = case
    with pytest.raises(conflicts.ValidationError):
        conflicts.rule_case(world["manager"], opened.id, "claimant", "先拜访", split="30")
    conflicts.rule_case(world["manager"], opened.id, "claimant", "先拜访", split="70")
    split = CreditSplit.get(CreditSplit.customer == customer.id)
    assert (split.rep_a_id, split.share_a, split.rep_b_id, split.share_b) == (world["mate"].id, 70, world["rep"].id, 30)
    product = save_product(world["admin"], {"code": "SPL-1", "name_zh": "面料", "name_en": "Fabric", "product_line": "面料",
                                            "unit": "米", "list_price": "10.00", "unit_cost": "5", "consumable": "0"})
    create_order(world["mate"], fresh(customer), {"ordered_on": "2026-11-24", "product_0": str(product.id),
                                                  "quantity_0": "100", "unit_price_0": "", "unit_cost_0": ""}, sign=True)
    revenue = {r.rep_id: (r.n, r.amount) for r in RepPeriod.select().where(
        (RepPeriod.metric == "revenue") & (RepPeriod.span == "month"))}
    assert revenue == {world["mate"].id: (1, 70000), world["rep"].id: (0, 30000)}
    kind = targets.TargetKind.get(targets.TargetKind.measure == "revenue")  # targets read the same counters
    actual = targets.actuals(kind, targets.containing("month", dt.date(2026, 11, 24)))
    assert actual[world["rep"].id] == Decimal("300.00") and actual[world["mate"].id] == Decimal("700.00")
    assert "credit_split" in ledger_kinds(customer)


def test_the_loser_appeals_a_ruling_once_within_the_window_and_upheld_reverses_it(world, case, client):
    opened, customer = case
    conflicts.rule_case(world["manager"], opened.id, "claimant", "先拜访", split="70")
    with pytest.raises(appeals.DomainError):  # the winner does not appeal
        appeals.appeal_ruling(world["mate"], opened.id, "我赢了也申诉")
    clock.freeze(WINDOW_END)
    appeal = appeals.appeal_ruling(world["rep"], opened.id, "我的拜访记录更早")
    with pytest.raises(appeals.AppealRefused) as refused:
        appeals.appeal_ruling(world["rep"], opened.id, "再申诉")
    assert refused.value.rule == "twice"
    appeals.decide_appeal(world["manager"], appeal.id, True, "复核：原主人拜访更早")
    assert fresh(customer).owner_id == world["rep"].id
    assert fresh(opened).outcome == "owner"
    split = CreditSplit.get(CreditSplit.customer == customer.id)
    assert (split.rep_a_id, split.share_a) == (world["rep"].id, 30)


def test_a_ruling_appeal_after_the_window_is_refused(world, case):
    opened, _customer = case
    conflicts.rule_case(world["manager"], opened.id, "owner", "原主人跟进有效")
    clock.freeze(WINDOW_END + SEC)
    with pytest.raises(appeals.AppealRefused) as refused:
        appeals.appeal_ruling(world["mate"], opened.id, "不服")
    assert refused.value.rule == "window"
    assert PoolEvent.select().where(PoolEvent.kind == "appeal_refused").get().inputs["case_id"] == opened.id


def test_the_forced_release_list_pages_newest_first_and_filters_by_version(world, make_customer):
    region = str(world["east"].id)
    clock.freeze(FROZEN - 20 * DAY)
    later = [make_customer(owner=world["mate"], region_id=region) for _ in range(2)]
    for i, c in enumerate(later):
        clock.freeze(FROZEN + (i + 1) * dt.timedelta(hours=1))
        sweep(clock.now())
    first = appeals.forced_releases(world["admin"], limit=2)
    assert [e.customer_id for e in first.rows] == [later[1].id, later[0].id]
    second = appeals.forced_releases(world["admin"], after=first.next, limit=2)
    assert [e.customer_id for e in second.rows] == [world["customer"].id] and not second.next
    assert not appeals.forced_releases(world["admin"], rule_version=5).rows
    with pytest.raises(appeals.NotFound):
        appeals.forced_releases(world["manager"])


def test_the_rules_page_shows_and_saves_the_appeal_settings(client, world):
    client.login(world["admin"])
    page = client.get("/admin/rules").get_data(as_text=True)
    for name in ("appeal_window_hours", "appeal_grace_days", "conflict_appeal_hours"):
        assert f'name="{name}"' in page
    assert "Appeal a release within (working hours, 0: no appeals)" in page
    from models.rules import validate_settings

    with pytest.raises(appeals.ValidationError) as bad:
        validate_settings({"appeal_window_hours": "401", "appeal_grace_days": "-1"})
    assert {"appeal_window_hours", "appeal_grace_days"} <= set(bad.value.errors)


def test_the_case_page_shows_the_split_and_the_losers_appeal_form(client, world, case):
    opened, _customer = case
    client.login(world["manager"])
    response = client.post(f"/conflicts/{opened.id}/rule", {"outcome": "claimant", "reason": "先拜访", "split": "abc"})
    assert response.status_code == 200 and "has-error" in response.get_data(as_text=True)
    assert fresh(opened).status == "open"
    client.post(f"/conflicts/{opened.id}/rule", {"outcome": "claimant", "reason": "先拜访", "split": "70%"})
    assert fresh(opened).status == "closed"
    client.login(world["rep"])
    page = client.get(f"/conflicts/{opened.id}").get_data(as_text=True)
    assert 'id="credit-split"' in page and "70%" in page and 'id="conflict-appeal-form"' in page
    response = client.post(f"/appeals/conflicts/{opened.id}", {"reason": "我的拜访记录更早"})
    assert response.status_code in (302, 303)
    assert 'id="conflict-appeal-status"' in client.get(f"/conflicts/{opened.id}").get_data(as_text=True)
    assert client.post(f"/appeals/conflicts/{opened.id}", {"reason": "再申诉"}).status_code == 409
    client.login(world["mate"])  # the winner sees the split, not the form
    page = client.get(f"/conflicts/{opened.id}").get_data(as_text=True)
    assert 'id="credit-split"' in page and 'id="conflict-appeal-form"' not in page


def test_a_split_applies_while_the_customer_is_with_one_of_its_reps(world, case):
    from models.appeal_tables import shares

    opened, customer = case
    conflicts.rule_case(world["manager"], opened.id, "owner", "原主人跟进有效", split="60")
    team = world["team"].id
    assert shares(customer.id, world["rep"].id, team) == [(world["rep"].id, team, 0.6), (world["mate"].id, team, 0.4)]
    assert shares(customer.id, world["manager"].id, team) == [(world["manager"].id, team, 1)]
    row = PoolEvent.get(PoolEvent.kind == "credit_split")
    assert row.inputs["shares"] == {str(world["rep"].id): 60, str(world["mate"].id): 40}
