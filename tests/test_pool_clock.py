"""Issue 20 items 3 and 4: calendar-aware release clocks (working days with the service calendar, freeze windows,
per-customer pauses approved by the manager) and release by reorder behaviour. Every rule at its boundary on the
frozen clock (FROZEN = Tuesday 2026-11-24 10:00 in Shanghai)."""
import datetime as dt

import pytest

from models import clock
from models.audit import AuditEvent
from models.customers import Customer
from models.errors import DomainError, ValidationError
from models.notifications import Notification
from models.orders import create_order, save_product
from models.pool_clock import CustomerPause, decide_pause, request_pause
from models.pools import PoolEvent, preview_rules, release_plan, sweep
from models.reorders import ReorderCycle
from models.rules import RuleVersion, in_force, save_version, validate_settings
from models.service_tables import DEFAULTS as SERVICE_DEFAULTS, ServiceSettings
from tests.conftest import FROZEN

DAY, SEC = dt.timedelta(days=1), dt.timedelta(seconds=1)


def local(y, m, d, hour=0):
    """A Shanghai wall-clock time as the naive UTC the database stores."""
    return clock.from_local(dt.datetime(y, m, d, hour))


def fresh(c):
    return Customer.get_by_id(c.id)


def set_rules(admin, **settings):
    save_version(admin, settings, clock.now())
    return in_force()


def released_at(customer, when):
    """Sweep one second before `when` (nothing) and at `when` (the customer goes back)."""
    clock.freeze(when - SEC)
    assert sweep(clock.now())["released"] == 0 and fresh(customer).owner_id is not None
    clock.freeze(when)
    assert sweep(clock.now())["released"] == 1 and fresh(customer).owner_id is None
    return PoolEvent.get((PoolEvent.kind == "forced_release") & (PoolEvent.customer == customer.id))


@pytest.fixture
def w(make_user, make_team, make_customer):
    team = make_team()
    mgr = make_user("manager", team)
    team.manager = mgr
    team.save()
    rep, mate, admin = make_user("sales", team), make_user("sales", team), make_user("admin")
    other_mgr = make_user("manager", make_team())
    customer = make_customer(owner=rep, name="苏州展会面料有限公司")
    return type("W", (), dict(team=team, mgr=mgr, rep=rep, mate=mate, admin=admin, other_mgr=other_mgr,
                              customer=customer))


# ---- working days ------------------------------------------------------------------------------------

def test_working_days_skip_a_weekend_and_a_service_holiday_to_the_second(w):
    ServiceSettings.create(settings={**SERVICE_DEFAULTS, "holidays": ["2026-12-01"]}, updated_at=clock.now())
    rules = set_rules(w.admin, clock_days="working", release_no_followup_days=5)
    # Tue 24 → Wed 25, Thu 26, Fri 27, (Sat 28, Sun 29), Mon 30, (Tue 1 Dec: holiday), Wed 2 Dec = the 5th.
    at, rule, inputs = release_plan(fresh(w.customer), rules, FROZEN)
    assert (at, rule, inputs["clock"]) == (local(2026, 12, 2, 10), "no_followup", "working")
    ev = released_at(w.customer, local(2026, 12, 2, 10))
    assert "counted in working days" in ev.reason


def test_calendar_days_stay_the_default(w):
    at, rule, inputs = release_plan(fresh(w.customer), in_force(), FROZEN)
    assert (at, rule) == (FROZEN + 15 * DAY, "no_followup") and "clock" not in inputs


# ---- freeze windows ------------------------------------------------------------------------------------

def test_a_freeze_window_stops_the_clock_for_its_days(w):
    rules = set_rules(w.admin, freeze_windows=[{"start": "2026-12-01", "end": "2026-12-07", "name": "年终盘点"}])
    at, _rule, inputs = release_plan(fresh(w.customer), rules, FROZEN)
    assert at == FROZEN + 22 * DAY  # 15 days + the 7 frozen ones
    assert inputs["stopped_days"] == 7 and inputs["freezes"] == ["年终盘点"]
    assert inputs["unstopped_at"] == str(FROZEN + 15 * DAY)
    ev = released_at(w.customer, FROZEN + 22 * DAY)
    assert "7 days stopped by 年终盘点" in ev.reason and ev.inputs["stopped_days"] == 7


def test_nothing_goes_back_during_a_freeze_until_its_last_day_has_ended(w, make_customer):
    """An overdue customer (its clock ran out before the freeze) waits until the freeze's last day is over."""
    overdue = make_customer(owner=w.rep, name="春节前到期服饰")
    Customer.update(claimed_at=FROZEN - 20 * DAY, release_at=FROZEN - 5 * DAY).where(Customer.id == overdue.id).execute()
    set_rules(w.admin, freeze_windows=[{"start": "2026-11-20", "end": "2026-11-30", "name": "春节"}])
    end = local(2026, 12, 1)  # the window covers the whole local day 30 Nov
    assert sweep(clock.now())["released"] == 0
    assert fresh(overdue).release_at == end
    _at, _rule, inputs = release_plan(fresh(overdue), in_force(), clock.now())
    assert inputs["held_until"] == str(end) and inputs["unstopped_at"] == str(FROZEN - 5 * DAY)
    released_at(overdue, end)
    # The customer claimed today: its clock stood still from 25 to 30 Nov (6 days), so 15 + 6 days.
    at, _rule, inputs = release_plan(fresh(w.customer), in_force(), clock.now())
    assert at == FROZEN + 21 * DAY and inputs["stopped_days"] == 6


def test_working_days_and_a_freeze_together(w):
    rules = set_rules(w.admin, clock_days="working", release_no_followup_days=3,
                      freeze_windows=[{"start": "2026-11-26", "end": "2026-11-26", "name": "盘点"}])
    # Wed 25, (Thu 26 frozen), Fri 27, (weekend), Mon 30 = the 3rd working day.
    at, _rule, inputs = release_plan(fresh(w.customer), rules, FROZEN)
    assert at == local(2026, 11, 30, 10) and inputs["unstopped_at"] == str(local(2026, 11, 27, 10))


@pytest.mark.parametrize("text,message", [
    ("2027-02-13 2027-02-05 春节", "ends (2027-02-05) before it starts (2027-02-13)"),
    ("2027-02-05 2027-02-13 春节\n2027-02-10 2027-02-20 元宵", "overlap"),
    ("2027-02-05 春节", "write a start date, an end date and a name"),
    ("2027-02-30 2027-03-01 x", "write a start date"),
])
def test_bad_freeze_windows_are_refused_with_a_clear_message(w, text, message):
    with pytest.raises(ValidationError) as exc:
        validate_settings({"freeze_windows": text})
    assert any(message in m % p for m, p in exc.value.errors["freeze_windows"])


def test_a_bad_freeze_window_on_the_rules_page_saves_nothing(client, w):
    client.login(w.admin)
    before = RuleVersion.select().count()
    response = client.post("/admin/rules", data={"freeze_windows": "2027-02-05 2027-02-13 春节\n2027-02-13 2027-02-20 元宵",
                                                 "valid_types": "visit"})
    assert response.status_code == 200 and "overlap" in response.get_data(as_text=True)
    assert RuleVersion.select().count() == before
    response = client.post("/admin/rules", data={"freeze_windows": "2027-02-05 2027-02-13 春节", "clock_days": "working",
                                                 "valid_types": "visit"})
    assert response.status_code in (302, 303)
    assert in_force().s["freeze_windows"] == [{"start": "2027-02-05", "end": "2027-02-13", "name": "春节"}]
    assert in_force().s["clock_days"] == "working"
    page = client.get("/admin/rules").get_data(as_text=True)
    assert "2027-02-05 2027-02-13 春节" in page


# ---- the preview ------------------------------------------------------------------------------------

def test_the_preview_shows_a_freeze_windows_effect(client, w):
    settings = {**in_force().s, "freeze_windows": [{"start": "2026-12-01", "end": "2026-12-31", "name": "春节"}]}
    result = preview_rules(settings, FROZEN)
    assert (result["baseline_total"], result["total"]) == (1, 0)
    assert (result["held_by_freeze"], result["baseline_held_by_freeze"]) == (1, 0)
    client.login(w.admin)
    page = client.post("/admin/rules/preview", data={"freeze_windows": "2026-12-01 2026-12-31 春节",
                                                     "valid_types": "visit"}, htmx=True).get_data(as_text=True)
    assert 'id="preview-frozen"' in page and "freeze window or a pause although their clocks run out: 1 customers" in page


# ---- pauses ------------------------------------------------------------------------------------------

def test_an_approved_pause_stops_the_clock_and_holds_the_customer(w):
    pause = request_pause(w.rep, w.customer, {"starts_on": "2026-11-30", "ends_on": "2026-12-09",
                                              "reason": "客户参加广交会，会后再联系"})
    assert fresh(w.customer).release_at == FROZEN + 15 * DAY  # nothing changes while it waits
    decide_pause(w.mgr, pause.id, True, "同意，展会后跟进")
    c = fresh(w.customer)
    assert c.release_at == FROZEN + 25 * DAY  # 15 days + the 10 paused ones
    ev = PoolEvent.get((PoolEvent.kind == "pause") & (PoolEvent.customer == c.id))
    assert ev.inputs["release_at"] == str(FROZEN + 25 * DAY) and ev.inputs["release_before"] == str(FROZEN + 15 * DAY)
    released_at(w.customer, FROZEN + 25 * DAY)


def test_a_pause_of_a_customer_that_changed_hands_is_not_approved(w):
    from models.customers import set_owner

    pause = request_pause(w.rep, w.customer, {"starts_on": "2026-11-30", "ends_on": "2026-12-09", "reason": "展会"})
    set_owner(w.admin, fresh(w.customer), w.mate)
    with pytest.raises(DomainError, match="changed hands"):
        decide_pause(w.mgr, pause.id, True, "同意")
    assert CustomerPause.get_by_id(pause.id).status == "pending"
    assert not PoolEvent.select().where(PoolEvent.kind == "pause").exists()


def test_a_rejected_pause_changes_nothing(w):
    pause = request_pause(w.rep, w.customer, {"starts_on": "2026-11-30", "ends_on": "2026-12-09", "reason": "展会"})
    decide_pause(w.mgr, pause.id, False, "客户仍需跟进")
    assert fresh(w.customer).release_at == FROZEN + 15 * DAY
    assert not PoolEvent.select().where(PoolEvent.kind == "pause").exists()
    with pytest.raises(DomainError, match="already decided"):
        decide_pause(w.mgr, pause.id, True, "改主意")


@pytest.mark.parametrize("data,field,message", [
    ({"starts_on": "2026-11-24", "ends_on": "2027-01-23", "reason": "展会"}, "ends_on", "at most 60 days; this one is 61"),
    ({"starts_on": "2026-12-09", "ends_on": "2026-11-30", "reason": "展会"}, "ends_on", "ends before it starts"),
    ({"starts_on": "2026-11-23", "ends_on": "2026-11-30", "reason": "展会"}, "starts_on", "cannot start in the past"),
    ({"starts_on": "2026-11-24", "ends_on": "2026-11-30", "reason": " "}, "reason", "Say why"),
    ({"starts_on": "2026-11-24", "ends_on": "30/11", "reason": "展会"}, "ends_on", "YYYY-MM-DD"),
])
def test_bad_pauses_are_refused_and_write_nothing(w, data, field, message):
    with pytest.raises(ValidationError) as exc:
        request_pause(w.rep, w.customer, data)
    assert any(message in m % p for m, p in exc.value.errors[field])
    assert CustomerPause.select().count() == 0


def test_the_longest_pause_is_allowed_and_a_second_one_over_the_same_days_is_not(w):
    request_pause(w.rep, w.customer, {"starts_on": "2026-11-24", "ends_on": "2027-01-22", "reason": "展会"})  # 60 days
    with pytest.raises(ValidationError) as exc:
        request_pause(w.rep, w.customer, {"starts_on": "2027-01-22", "ends_on": "2027-01-30", "reason": "又一次"})
    assert "covers these days" in exc.value.errors["starts_on"][0][0]


def test_a_pause_on_a_customer_one_does_not_own_is_refused_in_words(w):
    with pytest.raises(DomainError, match="Only the owner"):
        request_pause(w.mate, w.customer, {"starts_on": "2026-11-30", "ends_on": "2026-12-09", "reason": "展会"})
    assert CustomerPause.select().count() == 0 and not AuditEvent.select().where(
        AuditEvent.kind == "pool.pause_requested").exists()


def test_the_pause_journey_over_the_web(client, w):
    client.login(w.mgr)  # sees the team's customer, does not own it
    answer = client.post(f"/customers/{w.customer.id}/pause", data={"starts_on": "2026-11-30", "ends_on": "2026-12-09",
                                                                    "reason": "展会"}, htmx=True)
    assert answer.status_code == 409 and "Only the owner" in answer.get_data(as_text=True)
    client.login(w.rep)
    page = client.get(f"/customers/{w.customer.id}").get_data(as_text=True)
    assert 'id="pause-card"' in page
    bad = client.post(f"/customers/{w.customer.id}/pause", data={"starts_on": "2026-11-30", "ends_on": "2027-03-30",
                                                                 "reason": "展会"}, htmx=True)
    assert bad.status_code == 200 and "at most 60 days" in bad.get_data(as_text=True)
    ok = client.post(f"/customers/{w.customer.id}/pause", data={"starts_on": "2026-11-30", "ends_on": "2026-12-09",
                                                                "reason": "客户参加广交会"}, htmx=True)
    assert ok.status_code == 200 and "Waiting for approval" in ok.get_data(as_text=True)
    pause = CustomerPause.get()
    client.login(w.other_mgr)  # another team's manager: not theirs to decide
    assert client.post(f"/approvals/pauses/{pause.id}", data={"decision": "approve", "reason": "好"},
                       htmx=True).status_code == 404
    assert "客户参加广交会" not in client.get("/approvals").get_data(as_text=True)
    client.login(w.mgr)
    inbox = client.get("/approvals").get_data(as_text=True)
    assert 'id="approvals-pauses"' in inbox and "客户参加广交会" in inbox
    done = client.post(f"/approvals/pauses/{pause.id}", data={"decision": "approve", "reason": "同意"}, htmx=True)
    assert done.status_code == 200 and "approvalsChanged" in done.headers.get("HX-Trigger", "")
    assert fresh(w.customer).release_at == FROZEN + 25 * DAY
    ledger = client.get(f"/customers/{w.customer.id}").get_data(as_text=True)
    assert "approved the pause of the release clock" in ledger


# ---- reorder behaviour ----------------------------------------------------------------------------------

@pytest.fixture
def reorder(w):
    fabric = save_product(w.admin, {"code": "FAB-R", "name_zh": "涤纶里布", "name_en": "Polyester lining",
                                    "product_line": "面料", "unit": "米", "list_price": "12.00", "unit_cost": "8.00",
                                    "consumable": "1"})
    # Ordered every 20 days, last on 4 Nov: expected on 24 Nov.
    ReorderCycle.create(customer=w.customer, product=fabric, every=20, unit="day", starts_on=dt.date(2026, 6, 1),
                        next_expected_on=dt.date(2026, 11, 24), remind_on=dt.date(2026, 11, 17), created_at=FROZEN,
                        updated_at=FROZEN)
    set_rules(w.admin, reorder_warn_percent=150, reorder_release_percent=300)
    return fabric


def test_a_reorder_customer_is_judged_by_its_orders(w, reorder):
    at, rule, inputs = release_plan(fresh(w.customer), in_force(), FROZEN)
    # 3 × 20 days after 4 Nov: the whole local day 3 Jan is the last chance, it goes back at its end.
    assert (at, rule) == (local(2027, 1, 4), "reorder")
    assert inputs["reorder_last_order"] == "2026-11-04" and inputs["followup_rule"] == "no_followup"
    # Its follow-up clock (24 Nov + 15 days) runs out and nothing happens: the orders decide.
    clock.freeze(FROZEN + 15 * DAY)
    assert sweep(clock.now())["released"] == 0


def test_the_owner_is_warned_at_one_and_a_half_intervals_then_it_goes_back_at_three(w, reorder):
    warnings = Notification.select().where((Notification.kind == "reorder_release_warning")
                                           & (Notification.user == w.rep.id))
    clock.freeze(local(2026, 12, 5) - SEC)  # 4 Nov + 30 days = 4 Dec, the last day an order is on time
    sweep(clock.now())
    assert warnings.count() == 0
    clock.freeze(local(2026, 12, 5))
    sweep(clock.now())
    sweep(clock.now())  # once per last order
    assert warnings.count() == 1
    ev = released_at(w.customer, local(2027, 1, 4))
    assert ev.inputs["rule"] == "reorder" and "no order since 2026-11-04, 300% of the usual 20 days" in ev.reason


def test_an_order_moves_the_reorder_release(w, reorder):
    create_order(w.rep, fresh(w.customer), {"ordered_on": "2026-11-24", "product_0": str(reorder.id),
                                            "quantity_0": "100", "unit_price_0": "", "unit_cost_0": ""}, sign=True)
    c = fresh(w.customer)
    assert (c.release_at, c.release_rule) == (local(2027, 1, 24), "reorder")  # 24 Nov + 60 days = 23 Jan, whole day


def test_reorder_release_is_off_by_default(w, make_customer):
    assert in_force().s["reorder_release_percent"] == 0


@pytest.mark.parametrize("warn,release,field", [("300", "300", "reorder_warn_percent"),
                                                 ("50", "80", "reorder_release_percent")])
def test_reorder_percentages_must_make_sense(warn, release, field):
    with pytest.raises(ValidationError) as exc:
        validate_settings({"reorder_warn_percent": warn, "reorder_release_percent": release})
    assert field in exc.value.errors


# ---- opportunity stage timeouts ---------------------------------------------------------------------

def test_an_opportunity_stuck_in_one_stage_warns_its_owner_once_at_the_timeout(w):
    from models.opportunities import create_opportunity

    create_opportunity(w.rep, fresh(w.customer), {"name": "春季面料订单", "amount": "200000", "expected_close": "2027-01-20"})
    set_rules(w.admin, stage_timeout_days=21, release_no_followup_days=60)  # the customer stays its owner's
    told = Notification.select().where((Notification.kind == "stage_timeout") & (Notification.user == w.rep.id))
    clock.freeze(FROZEN + 21 * DAY - SEC)
    sweep(clock.now())
    assert told.count() == 0
    clock.freeze(FROZEN + 21 * DAY)
    sweep(clock.now())
    sweep(clock.now())
    assert told.count() == 1 and "春季面料订单" in told.get().params["name"]


def test_stage_timeouts_are_off_by_default(w):
    assert in_force().s["stage_timeout_days"] == 0


def test_the_pool_card_says_what_the_clocks_did(client, w, reorder):
    client.login(w.rep)
    page = client.get(f"/customers/{w.customer.id}").get_data(as_text=True)
    assert 'id="release-reorder"' in page and "usually every 20 days" in page and "300%" in page
    set_rules(w.admin, freeze_windows=[{"start": "2026-11-20", "end": "2026-12-01", "name": "春节"}])
    page = client.get(f"/customers/{w.customer.id}").get_data(as_text=True)
    assert 'id="release-held"' not in page  # judged by its orders, due in January: no freeze holds it
    set_rules(w.admin, reorder_release_percent=0, clock_days="working",
              freeze_windows=[{"start": "2026-11-20", "end": "2026-12-01", "name": "春节"}])
    page = client.get(f"/customers/{w.customer.id}").get_data(as_text=True)
    assert 'id="release-working"' in page and 'id="release-stopped"' in page and "春节" in page
