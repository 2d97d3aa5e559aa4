"""Issue 20 item 4, second step: an opportunity stuck in one stage counts against the customer's protection
(rule `stage_timeout_release_days`, models/pool_clock.py `stuck_clock`), and a value tier's own reorder release
percent and stage timeout. Every rule at its boundary on the frozen clock (FROZEN = Tue 2026-11-24 10:00)."""
import datetime as dt

import pytest

from models import clock, pool_clock
from models.customers import Customer, log_follow_up
from models.errors import ValidationError
from models.notifications import Notification
from models.opportunities import Opportunity, create_opportunity, move_opportunity
from models.pools import PoolEvent, preview_rules, release_plan, sweep
from models.reorders import ReorderCycle
from models.orders import save_product
from models.rules import in_force, save_version, validate_settings
from models.users import User
from tests.conftest import FROZEN

DAY, SEC = dt.timedelta(days=1), dt.timedelta(seconds=1)
TEXT = "拜访了采购部王经理，确认明年春季西装订单的面料需求和报价时间"
STUCK = FROZEN + 10 * DAY  # the opportunity opened at FROZEN, 10 days in its stage


def fresh(c):
    return Customer.get_by_id(c.id)


def set_rules(admin, **settings):
    save_version(admin, {"release_no_followup_days": 15, **settings}, clock.now())
    return in_force()


def follow_up(rep, customer, at):
    clock.freeze(at)
    return log_follow_up(rep, fresh(customer), {"type": "call", "content": TEXT})


@pytest.fixture
def w(make_user, make_team, make_customer):
    team = make_team()
    rep, admin = make_user("sales", team), make_user("admin")
    customer = make_customer(owner=rep, name="常州纺织面料有限公司")
    opp = create_opportunity(rep, fresh(customer), {"name": "春季面料订单", "amount": "200000",
                                                    "expected_close": "2027-03-20"})
    return type("W", (), dict(rep=rep, admin=admin, customer=customer, opp=opp))


def test_the_customer_keeps_its_deals_stage_start(w):
    c = fresh(w.customer)
    assert (c.deal_stage_since, c.deal_stage_opportunity) == (FROZEN, w.opp.id)


def test_off_by_default_a_follow_up_after_the_timeout_still_renews(w):
    assert in_force().s["stage_timeout_release_days"] == 0
    follow_up(w.rep, w.customer, STUCK + DAY)
    c = fresh(w.customer)
    assert (c.release_at, c.release_rule) == (STUCK + DAY + 15 * DAY, "no_followup")


def test_a_follow_up_one_second_before_the_deal_is_stuck_renews_the_clock(w):
    set_rules(w.admin, stage_timeout_release_days=10)
    follow_up(w.rep, w.customer, STUCK - SEC)
    c = fresh(w.customer)
    assert (c.release_at, c.release_rule) == (STUCK - SEC + 15 * DAY, "no_followup")


def test_a_follow_up_one_second_after_no_longer_counts_and_the_sweep_releases_by_the_claim(w):
    set_rules(w.admin, stage_timeout_release_days=10)
    follow_up(w.rep, w.customer, STUCK + SEC)
    c = fresh(w.customer)
    assert (c.release_at, c.release_rule) == (FROZEN + 15 * DAY, "stuck")
    at, rule, inputs = release_plan(c, in_force(), clock.now())
    assert inputs["stuck_opportunity_id"] == w.opp.id and inputs["stuck_since"] == STUCK.isoformat(sep=" ")
    assert inputs["ignored_followup_at"] == (STUCK + SEC).isoformat(sep=" ")
    clock.freeze(FROZEN + 15 * DAY - SEC)
    assert sweep(clock.now())["released"] == 0
    clock.freeze(FROZEN + 15 * DAY)
    assert sweep(clock.now())["released"] == 1 and fresh(w.customer).owner_id is None
    ev = PoolEvent.get((PoolEvent.kind == "forced_release") & (PoolEvent.customer == w.customer.id))
    assert ev.inputs["rule"] == "stuck" and ev.inputs["stuck_opportunity_id"] == w.opp.id
    assert f"opportunity #{w.opp.id} stuck in one stage since" in ev.reason


def test_the_clock_counts_from_the_last_follow_up_before_the_deal_got_stuck(w):
    set_rules(w.admin, stage_timeout_release_days=10)
    follow_up(w.rep, w.customer, FROZEN + 4 * DAY)
    follow_up(w.rep, w.customer, STUCK)  # at the line itself: still counts
    follow_up(w.rep, w.customer, STUCK + 2 * DAY)
    assert (fresh(w.customer).release_at, fresh(w.customer).release_rule) == (STUCK + 15 * DAY, "stuck")
    # the same read in bulk (a sweep chunk, a preview): the last before the stage start and every one since, no
    # look-up each; a stage started on day 5, stuck from day 6: the follow-up of day 4 is the last that counts
    Customer.update(deal_stage_since=FROZEN + 5 * DAY).where(Customer.id == w.customer.id).execute()
    set_rules(w.admin, stage_timeout_release_days=1)
    for ids in ([w.customer.id], None):
        rules = in_force()
        pool_clock.prefetch(rules, ids)
        assert pool_clock._clock(rules).stage_fus[w.customer.id] == [FROZEN + 4 * DAY, STUCK, STUCK + 2 * DAY]
        assert release_plan(fresh(w.customer), rules, clock.now())[:2] == (FROZEN + 19 * DAY, "stuck")
        assert not pool_clock._clock(rules).before  # answered from the prefetched rows


def test_a_stage_move_gives_the_normal_clock_back(w):
    set_rules(w.admin, stage_timeout_release_days=10)
    follow_up(w.rep, w.customer, STUCK + SEC)
    clock.freeze(STUCK + DAY)
    move_opportunity(w.rep, Opportunity.get_by_id(w.opp.id), "planning")
    c = fresh(w.customer)
    assert c.deal_stage_since == STUCK + DAY
    assert (c.release_at, c.release_rule) == (STUCK + SEC + 15 * DAY, "no_followup")


def test_closing_the_opportunity_gives_the_normal_clock_back(w):
    set_rules(w.admin, stage_timeout_release_days=10)
    follow_up(w.rep, w.customer, STUCK + SEC)
    clock.freeze(STUCK + DAY)
    move_opportunity(w.rep, Opportunity.get_by_id(w.opp.id), "lost", {"lost_reason": "客户选了别家"})
    c = fresh(w.customer)
    assert c.deal_stage_since is None and c.deal_stage_opportunity is None
    assert (c.release_at, c.release_rule) == (STUCK + SEC + 15 * DAY, "no_followup")


def test_the_oldest_open_opportunity_counts(w):
    clock.freeze(FROZEN + 3 * DAY)
    create_opportunity(w.rep, fresh(w.customer), {"name": "秋季订单", "amount": "50000", "expected_close": "2027-05-20"})
    assert fresh(w.customer).deal_stage_opportunity == w.opp.id
    clock.freeze(FROZEN + 5 * DAY)
    move_opportunity(w.rep, Opportunity.get_by_id(w.opp.id), "planning")
    c = fresh(w.customer)
    assert c.deal_stage_since == FROZEN + 3 * DAY and c.deal_stage_opportunity != w.opp.id


def test_the_daily_pass_tells_the_owner_once_when_the_deal_gets_stuck(w):
    set_rules(w.admin, stage_timeout_release_days=10, release_no_followup_days=60)
    told = Notification.select().where((Notification.kind == "stage_timeout_release") & (Notification.user == w.rep.id))
    clock.freeze(STUCK - SEC)
    sweep(clock.now())
    assert told.count() == 0
    clock.freeze(STUCK)
    sweep(clock.now())
    sweep(clock.now())
    assert told.count() == 1 and told.get().params["name"] == "常州纺织面料有限公司"


def test_the_preview_counts_the_customers_a_stuck_deal_releases(w, make_customer):
    follow_up(w.rep, w.customer, STUCK + SEC)  # renews the clock under the rules in force: 15 days from here
    clock.freeze(STUCK + DAY)
    result = preview_rules({**in_force().s, "stage_timeout_release_days": 10}, clock.now(), horizon_days=10)
    assert (result["by_stuck_deals"], result["baseline_by_stuck_deals"]) == (1, 0)
    assert result["difference"] == 1
    assert any(r["id"] == w.customer.id and r["rule"] == "stuck" for r in result["rows"])


def test_the_pool_card_and_the_ledger_say_it(client, w):
    set_rules(w.admin, stage_timeout_release_days=10)
    follow_up(w.rep, w.customer, STUCK + SEC)
    client.login(w.rep)
    page = client.get(f"/customers/{w.customer.id}").get_data(as_text=True)
    assert 'id="release-stuck"' in page and "did not count" in page
    clock.freeze(FROZEN + 15 * DAY)
    sweep(clock.now())
    client.login(w.admin)
    ledger = client.get("/admin/ledger").get_data(as_text=True)
    assert "follow-ups after" in ledger and f"opportunity #{w.opp.id}" in ledger
    timeline = client.get(f"/customers/{w.customer.id}").get_data(as_text=True)
    assert "went back to" in timeline and "did not count" in timeline
    User.update(language="zh_CN").where(User.id == w.admin.id).execute()
    client.login(User.get_by_id(w.admin.id))
    assert f"之后的跟进不计，其商机 #{w.opp.id}" in client.get("/admin/ledger").get_data(as_text=True)
    assert "之后的跟进不计" in client.get(f"/customers/{w.customer.id}").get_data(as_text=True)


def test_the_rule_preview_page_shows_the_stuck_deals(client, w):
    follow_up(w.rep, w.customer, STUCK + SEC)
    clock.freeze(STUCK + DAY)
    client.login(w.admin)
    form = {k: v for k, v in in_force().s.items() if isinstance(v, int) and not isinstance(v, bool)}
    form.update(capacity_sales="50", capacity_manager="50", warning_days="3, 1", valid_types="call",
                stage_timeout_release_days="10")
    page = client.post("/admin/rules/preview", data=form).get_data(as_text=True)
    assert 'id="preview-stuck"' in page and "stops their follow-ups counting: 1 customers" in page


# ---- per value tier ------------------------------------------------------------------------------------

def test_a_value_tier_sets_its_own_stage_timeout(w, make_customer):
    other = make_customer(owner=w.rep, name="无锡服装辅料有限公司")
    create_opportunity(w.rep, fresh(other), {"name": "辅料订单", "amount": "10000", "expected_close": "2027-03-20"})
    Customer.update(value_tier="important_opp").where(Customer.id == w.customer.id).execute()
    rules = set_rules(w.admin, tiers={"important_opp": {"stage_timeout_release_days": 10}})
    follow_up(w.rep, w.customer, STUCK + SEC)
    follow_up(w.rep, other, STUCK + SEC)
    assert fresh(w.customer).release_rule == "stuck" and fresh(other).release_rule == "no_followup"
    # and the other way round: 0 turns it off for the tier while the general setting is on
    rules = set_rules(w.admin, stage_timeout_release_days=10, tiers={"important_opp": {"stage_timeout_release_days": 0}})
    assert release_plan(fresh(w.customer), rules, clock.now())[1] == "no_followup"
    assert release_plan(fresh(other), rules, clock.now())[1] == "stuck"


def test_a_value_tier_sets_its_own_reorder_release_percent(w):
    fabric = save_product(w.admin, {"code": "FAB-T", "name_zh": "涤纶里布", "name_en": "Polyester lining",
                                    "product_line": "面料", "unit": "米", "list_price": "12.00", "unit_cost": "8.00",
                                    "consumable": "1"})
    ReorderCycle.create(customer=w.customer.id, product=fabric, every=20, unit="day", starts_on=dt.date(2026, 6, 1),
                        next_expected_on=dt.date(2026, 11, 24), remind_on=dt.date(2026, 11, 17), created_at=FROZEN,
                        updated_at=FROZEN)
    Customer.update(value_tier="diamond").where(Customer.id == w.customer.id).execute()
    rules = set_rules(w.admin, reorder_warn_percent=150, tiers={"diamond": {"reorder_release_percent": 200}})
    at, rule, inputs = release_plan(fresh(w.customer), rules, FROZEN)
    # 2 × 20 days after 4 Nov: the whole local day 14 Dec is the last chance
    assert (rule, inputs["reorder_percent"]) == ("reorder", 200)
    assert at == clock.local_day_start(dt.date(2026, 12, 15))
    Customer.update(value_tier="ordinary").where(Customer.id == w.customer.id).execute()
    assert release_plan(fresh(w.customer), rules, FROZEN)[1] == "no_followup"  # the general setting: off


def test_the_rules_form_takes_the_tier_settings_and_checks_them(client, w):
    client.login(w.admin)
    page = client.get("/admin/rules").get_data(as_text=True)
    assert 'name="stage_timeout_release_days"' in page and 'name="tier_diamond_reorder_release_percent"' in page
    assert 'name="tier_diamond_stage_timeout_release_days"' in page
    form = {k: v for k, v in in_force().s.items() if isinstance(v, int) and not isinstance(v, bool)}
    form.update(capacity_sales="50", capacity_manager="50", warning_days="3, 1", valid_types="call",
                stage_timeout_release_days="30", tier_diamond_stage_timeout_release_days="60",
                tier_diamond_reorder_release_percent="250", tier_problem_stage_timeout_release_days="0")
    assert client.post("/admin/rules", data=form).status_code in (302, 303)
    s = in_force().s
    assert s["stage_timeout_release_days"] == 30
    assert s["tiers"]["diamond"] == {"stage_timeout_release_days": 60, "reorder_release_percent": 250}
    assert s["tiers"]["problem"] == {"stage_timeout_release_days": 0}
    page = client.get("/admin/rules").get_data(as_text=True)
    assert 'name="tier_diamond_reorder_release_percent" value="250"' in page
    assert 'name="tier_problem_stage_timeout_release_days" value="0"' in page


@pytest.mark.parametrize("field,value", [("tier_diamond_reorder_release_percent", "50"),
                                         ("tier_diamond_stage_timeout_release_days", "400"),
                                         ("stage_timeout_release_days", "-1")])
def test_bad_tier_settings_are_refused_by_field(field, value):
    with pytest.raises(ValidationError) as exc:
        validate_settings({field: value})
    assert field in exc.value.errors


