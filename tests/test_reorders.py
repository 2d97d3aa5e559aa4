"""Reorder cycles (订货周期, domain §9), each rule at its boundary with a frozen clock: the suggestion
from the order history (median interval, regularity), the to-do D days before the expected order, the
churn flag the day after, an order closing the to-do and moving the next date, the sweep idempotent,
adherence, the calendar, and a cycle of 0 refused."""
import datetime as dt

import pytest

from models import clock, hooks
from models.errors import ValidationError
from models.orders import create_order, save_product
from models.notifications import Notification  # noqa: I001  (after models.orders: customers before notifications)
from models.reorders import (ReorderCycle, ReorderTodo, add_interval, adherence, calendar_entries, customer_status,
                             end_cycle, is_churn_risk, open_todos, save_cycle, suggest_cycle, sweep)

D = dt.date


def local_noon(day):
    """A UTC instant that is noon of `day` in Shanghai."""
    return dt.datetime(day.year, day.month, day.day, 4, 0)


def body(response):
    return response.get_data(as_text=True)


@pytest.fixture
def shop(make_user, make_team, make_customer):
    team = make_team()
    rep = make_user("sales", team)
    manager = make_user("manager", team)
    service = make_user("service")
    admin = make_user("admin")
    customer = make_customer(owner=rep, stage="signed")
    thread = save_product(admin, {"code": "THR-40", "name_zh": "涤纶缝纫线40支", "name_en": "Polyester thread 40s",
                                  "product_line": "辅料", "unit": "箱", "list_price": "260", "unit_cost": "180",
                                  "consumable": "1"})
    cutter = save_product(admin, {"code": "EQ-CUT", "name_zh": "自动裁床", "name_en": "Automatic cutter",
                                  "product_line": "设备", "unit": "台", "list_price": "380000", "unit_cost": "290000"})
    return rep, manager, service, customer, thread, cutter


def order(rep, customer, product, day, qty="10"):
    return create_order(rep, customer, {"ordered_on": day.isoformat(), f"product_0": str(product.id),
                                        "quantity_0": qty}, sign=True)


def accept(rep, customer, product, every=30, unit="day", starts_on=D(2026, 12, 1), remind_days=7, **extra):
    return save_cycle(rep, customer, {"product_id": str(product.id), "every": str(every), "unit": unit,
                                      "starts_on": starts_on.isoformat(), "remind_days": str(remind_days), **extra})


# ---- suggestion ----------------------------------------------------------------------------------------

def test_suggestion_is_the_median_interval_and_regular_when_the_spread_is_small(shop):
    rep, _m, _s, customer, thread, _cutter = shop
    for day in (D(2026, 1, 5), D(2026, 2, 4), D(2026, 3, 6), D(2026, 4, 8), D(2026, 5, 6)):  # 30, 30, 33, 28
        order(rep, customer, thread, day)
    s = suggest_cycle(customer.id, thread.id)
    assert s["intervals"] == [30, 30, 33, 28] and s["median_days"] == 30
    assert s["regularity"] == "regular" and s["cv"] <= 0.3
    assert (s["every"], s["unit"]) == (1, "month")
    assert s["next_expected_on"] == D(2026, 6, 6)


def test_suggestion_is_irregular_when_the_spread_is_large(shop):
    rep, _m, _s, customer, thread, _cutter = shop
    for day in (D(2026, 1, 1), D(2026, 1, 11), D(2026, 4, 1), D(2026, 4, 21), D(2026, 8, 1)):  # 10, 80, 20, 102
        order(rep, customer, thread, day)
    s = suggest_cycle(customer.id, thread.id)
    assert s["median_days"] == 50 and s["regularity"] == "irregular" and s["cv"] > 0.3


def test_suggestion_boundaries_of_the_units_and_of_history(shop):
    rep, _m, _s, customer, thread, _cutter = shop
    assert suggest_cycle(customer.id, thread.id) == {"orders": 0, "enough": False}
    order(rep, customer, thread, D(2026, 1, 1))
    assert suggest_cycle(customer.id, thread.id)["enough"] is False
    order(rep, customer, thread, D(2026, 3, 2))  # 60 days: two months
    s = suggest_cycle(customer.id, thread.id)
    assert (s["every"], s["unit"], s["regularity"]) == (2, "month", None)  # one interval: no regularity yet
    order(rep, customer, thread, D(2026, 3, 16))
    order(rep, customer, thread, D(2026, 3, 30))  # intervals 60, 14, 14: median 14, two weeks
    s = suggest_cycle(customer.id, thread.id)
    assert (s["every"], s["unit"]) == (2, "week")
    order(rep, customer, thread, D(2026, 4, 9))
    order(rep, customer, thread, D(2026, 4, 19))  # 60, 14, 14, 10, 10: median 14
    order(rep, customer, thread, D(2026, 4, 29))
    order(rep, customer, thread, D(2026, 5, 9))  # 60, 14, 14, 10, 10, 10, 10: median 10, in days
    assert (suggest_cycle(customer.id, thread.id)["every"], suggest_cycle(customer.id, thread.id)["unit"]) == (10, "day")


def test_draft_orders_do_not_count_as_history(shop):
    rep, _m, _s, customer, thread, _cutter = shop
    for day in (D(2026, 1, 1), D(2026, 2, 1), D(2026, 3, 1)):
        create_order(rep, customer, {"ordered_on": day.isoformat(), "product_0": str(thread.id), "quantity_0": "1"})
    assert suggest_cycle(customer.id, thread.id)["orders"] == 0


# ---- accepting a cycle -----------------------------------------------------------------------------------

@pytest.mark.parametrize("every,unit,message_part", [("0", "day", "at least 1"), ("-2", "week", "at least 1"),
                                                     ("abc", "day", "whole number"), ("25", "month", "At most")])
def test_a_cycle_of_zero_or_nonsense_is_refused_and_nothing_written(shop, every, unit, message_part):
    rep, _m, _s, customer, thread, _cutter = shop
    with pytest.raises(ValidationError) as info:
        accept(rep, customer, thread, every=every, unit=unit)
    assert message_part in info.value.errors["every"][0][0]
    assert ReorderCycle.select().count() == 0


def test_cycles_are_for_consumables_and_one_per_product(shop):
    rep, _m, _s, customer, thread, cutter = shop
    with pytest.raises(ValidationError) as info:
        accept(rep, customer, cutter)
    assert "product_id" in info.value.errors
    accept(rep, customer, thread)
    with pytest.raises(ValidationError):
        accept(rep, customer, thread)
    with pytest.raises(ValidationError) as info:
        accept(rep, customer, thread, every=5, remind_days=5)  # reminding a whole cycle ahead
    assert "remind_days" in info.value.errors or "product_id" in info.value.errors


def test_next_expected_is_one_cycle_after_the_last_order(shop):
    rep, _m, _s, customer, thread, _cutter = shop
    order(rep, customer, thread, D(2026, 11, 10))
    cycle = accept(rep, customer, thread, every=1, unit="month", starts_on=D(2026, 11, 24))
    assert cycle.next_expected_on == D(2026, 12, 10) and cycle.remind_on == D(2026, 12, 3)


def test_month_arithmetic_clamps_to_the_end_of_the_month():
    assert add_interval(D(2026, 1, 31), 1, "month") == D(2026, 2, 28)
    assert add_interval(D(2026, 11, 30), 3, "month") == D(2027, 2, 28)
    assert add_interval(D(2026, 1, 31), 2, "week") == D(2026, 2, 14)


# ---- the to-do, the churn flag, the order -----------------------------------------------------------

def test_the_todo_appears_remind_days_before_and_not_a_day_earlier(shop):
    rep, _m, _s, customer, thread, _cutter = shop
    accept(rep, customer, thread, starts_on=D(2026, 12, 10), remind_days=7)
    assert sweep(local_noon(D(2026, 12, 2)))["opened"] == 0
    assert not list(open_todos(rep, D(2026, 12, 2)))
    # Midnight in Shanghai on 3 December is 16:00 UTC on the 2nd.
    assert sweep(dt.datetime(2026, 12, 2, 15, 59, 59))["opened"] == 0
    assert sweep(dt.datetime(2026, 12, 2, 16, 0, 0))["opened"] == 1
    todo = ReorderTodo.get()
    assert (todo.expected_on, todo.remind_on, todo.rep_id, todo.status) == (D(2026, 12, 10), D(2026, 12, 3), rep.id, "open")
    assert [t.id for t in open_todos(rep, D(2026, 12, 3))] == [todo.id]


def test_a_cycle_due_now_opens_its_todo_at_once(shop):
    rep, _m, _s, customer, thread, _cutter = shop
    accept(rep, customer, thread, starts_on=D(2026, 11, 28), remind_days=7)  # reminder day was 21 Nov
    assert [t.expected_on for t in open_todos(rep)] == [D(2026, 11, 28)]


def test_the_named_service_contact_sees_the_todo_too(shop):
    rep, _m, service, customer, thread, _cutter = shop
    accept(rep, customer, thread, starts_on=D(2026, 11, 28), service_user_id=str(service.id))
    assert len(list(open_todos(service))) == 1
    assert len(list(open_todos(rep))) == 1


def test_churn_flag_the_day_after_the_expected_date_and_sweep_is_idempotent(shop):
    rep, _m, _s, customer, thread, _cutter = shop
    accept(rep, customer, thread, starts_on=D(2026, 11, 28), remind_days=7)
    last_moment = dt.datetime(2026, 11, 28, 15, 59, 59)  # 23:59:59 on the 28th in Shanghai
    assert sweep(last_moment) == {"ended": 0, "opened": 0, "flagged": 0}
    assert not is_churn_risk(customer.id)
    first = sweep(dt.datetime(2026, 11, 28, 16, 0, 0))
    assert first["flagged"] == 1 and is_churn_risk(customer.id)
    note = Notification.get(Notification.kind == "reorder.missed")
    assert note.user_id == rep.id and note.params["product"] == "THR-40"
    state = (list(ReorderTodo.select().tuples()), Notification.select().count())
    assert sweep(dt.datetime(2026, 11, 29, 16, 0, 0)) == {"ended": 0, "opened": 0, "flagged": 0}
    assert (list(ReorderTodo.select().tuples()), Notification.select().count()) == state


def test_an_order_closes_the_todo_clears_the_flag_and_moves_the_next_date(shop):
    rep, _m, _s, customer, thread, _cutter = shop
    accept(rep, customer, thread, every=30, starts_on=D(2026, 11, 20), remind_days=7)
    sweep(clock.now())
    assert is_churn_risk(customer.id)
    placed = order(rep, customer, thread, D(2026, 11, 24))
    todo = ReorderTodo.get()
    assert (todo.status, todo.order_id, todo.ordered_on, todo.on_time) == ("done", placed.id, D(2026, 11, 24), True)
    assert not is_churn_risk(customer.id)
    cycle = ReorderCycle.get()
    assert cycle.next_expected_on == D(2026, 12, 24) and cycle.remind_on == D(2026, 12, 17)
    assert sweep(clock.now())["opened"] == 0  # the next to-do waits for its own reminder day


def test_an_order_after_the_tolerance_counts_as_late(shop):
    rep, _m, _s, customer, thread, _cutter = shop
    accept(rep, customer, thread, every=30, starts_on=D(2026, 11, 16), remind_days=7)  # 16 + 7 = 23 Nov
    order(rep, customer, thread, D(2026, 11, 24))
    assert ReorderTodo.get().on_time is False


def test_an_order_of_another_product_leaves_the_todo_open(shop):
    rep, _m, _s, customer, thread, cutter = shop
    accept(rep, customer, thread, starts_on=D(2026, 11, 28))
    order(rep, customer, cutter, D(2026, 11, 24), qty="1")
    assert ReorderTodo.get().status == "open"


def test_a_cycle_past_its_end_stops(shop):
    rep, _m, _s, customer, thread, _cutter = shop
    accept(rep, customer, thread, every=30, starts_on=D(2026, 11, 20), ends_on=D(2026, 12, 1).isoformat())
    order(rep, customer, thread, D(2026, 11, 24))  # next would be 24 Dec, after the end
    cycle = ReorderCycle.get()
    assert cycle.active is False
    assert sweep(local_noon(D(2026, 12, 30)))["opened"] == 0


def test_ending_or_editing_a_cycle_cancels_its_open_todo(shop):
    rep, _m, _s, customer, thread, _cutter = shop
    cycle = accept(rep, customer, thread, starts_on=D(2026, 11, 28))
    save_cycle(rep, customer, {"every": "2", "unit": "month", "starts_on": "2027-01-15", "remind_days": "10"}, cycle)
    assert [t.status for t in ReorderTodo.select()] == ["cancelled"]
    end_cycle(rep, ReorderCycle.get())
    assert ReorderCycle.get().active is False


def test_the_sweep_is_registered_as_a_hook(shop):
    rep, _m, _s, customer, thread, _cutter = shop
    accept(rep, customer, thread, starts_on=D(2026, 11, 20))
    results = hooks.run_sweeps(clock.now())
    assert results["reorders"]["flagged"] == 1


def test_owner_change_moves_open_todos_to_the_new_owner(shop, make_user):
    from models.customers import set_owner
    from models.users import User

    rep, _m, _s, customer, thread, _cutter = shop
    accept(rep, customer, thread, starts_on=D(2026, 11, 28))
    other = make_user("sales", team=rep.team)
    hooks.fire("owner_changed", User.get(User.role == "admin"), [customer.id], rep.id, other.id, "test")
    assert ReorderTodo.get().rep_id == other.id
    assert set_owner is not None


# ---- adherence and calendar ---------------------------------------------------------------------------

def test_adherence_counts_settled_expected_reorders(shop, make_customer):
    rep, _m, _s, customer, thread, _cutter = shop
    c2, c3 = make_customer(owner=rep, stage="signed"), make_customer(owner=rep, stage="signed")
    accept(rep, customer, thread, starts_on=D(2026, 11, 10))  # ordered on time below
    accept(rep, c2, thread, starts_on=D(2026, 11, 10))  # never ordered, tolerance over on 18 Nov: late
    accept(rep, c3, thread, starts_on=D(2026, 11, 20))  # not ordered, still within tolerance: not counted
    order(rep, customer, thread, D(2026, 11, 15))
    assert adherence([rep.id], D(2026, 11, 24)) == {rep.id: (1, 2)}


def test_calendar_shows_todos_and_projects_cycles_forward(shop):
    rep, _m, _s, customer, thread, _cutter = shop
    accept(rep, customer, thread, every=1, unit="week", starts_on=D(2026, 11, 26), remind_days=3)
    december = calendar_entries([rep.id], 2026, 12)
    assert sorted(december) == [D(2026, 12, 3), D(2026, 12, 10), D(2026, 12, 17), D(2026, 12, 24), D(2026, 12, 31)]
    november = calendar_entries([rep.id], 2026, 11)
    assert [e["state"] for e in november[D(2026, 11, 26)]] == ["open"]  # the opened to-do, not twice


def test_workbench_calendar_and_360_over_http(client, shop):
    rep, manager, _s, customer, thread, _cutter = shop
    for day in (D(2026, 7, 1), D(2026, 8, 1), D(2026, 9, 1), D(2026, 10, 1)):
        order(rep, customer, thread, day)
    client.login(rep)
    tab = body(client.get(f"/customers/{customer.id}?tab=reorders", htmx=True))
    assert 'id="cycle-suggestions"' in tab and "regular" in tab
    form = body(client.get(f"/customers/{customer.id}/reorders/new?product_id={thread.id}", htmx=True))
    assert 'name="every" type="number" value="1"' in form and 'value="month"' in form
    r = client.post(f"/customers/{customer.id}/reorders", {"product_id": str(thread.id), "fixed": "1", "every": "0",
                                                           "unit": "month", "starts_on": "2026-11-01"}, htmx=True)
    assert "at least 1 day, week or month" in body(r) and ReorderCycle.select().count() == 0
    r = client.post(f"/customers/{customer.id}/reorders", {"product_id": str(thread.id), "fixed": "1", "every": "1",
                                                           "unit": "month", "starts_on": "2026-11-01",
                                                           "remind_days": "7", "suggested": "1"}, htmx=True)
    assert r.headers["HX-Retarget"] == "#tab-body" and "Reorder cycle saved." in body(r)
    cycle = ReorderCycle.get()
    assert cycle.suggested and cycle.next_expected_on == D(2026, 11, 1)
    sweep(clock.now())  # 1 Nov has passed: churn risk
    home = body(client.get("/"))
    assert 'id="reorder-todos"' in home and "THR-40" in home and 'id="churn-risks"' in home
    page = body(client.get(f"/customers/{customer.id}"))
    assert 'id="churn-flag"' in page
    for tab in ("reorders", "orders"):  # the full page with the tab, not only its fragment
        full = client.get(f"/customers/{customer.id}?tab={tab}")
        assert full.status_code == 200 and 'id="churn-flag"' in body(full)
    assert "reorder-calendar" in body(client.get("/reorders/calendar?month=2026-11"))
    client.login(manager)
    cal = body(client.get("/reorders/calendar?month=2026-11&scope=team"))
    assert 'id="team-adherence"' in cal
    assert client.get("/reorders/calendar?month=99999-99").status_code == 200
    assert customer_status(customer.id)[0].open_todo is not None


def test_a_merge_keeps_one_cycle_per_product_and_moves_the_rest(shop, make_customer, make_user):
    from models.merges import merge_customers
    from models.orders import Order

    rep, _m, _s, customer, thread, _cutter = shop
    admin = make_user("admin")
    other = make_customer(owner=rep, stage="signed")
    needles = save_product(admin, {"code": "NDL-9", "name_zh": "机针", "name_en": "Needles", "list_price": "40",
                                   "unit_cost": "20", "consumable": "1"})
    kept = accept(rep, customer, thread, starts_on=D(2026, 11, 28))
    accept(rep, other, thread, starts_on=D(2026, 11, 27))
    moved = accept(rep, other, needles, starts_on=D(2026, 12, 20))
    placed = order(rep, other, needles, D(2026, 11, 1))
    merge_customers(admin, other.id, customer.id, reason="同一家公司")
    assert sorted((c.id, c.product_id) for c in ReorderCycle.select()) == sorted([(kept.id, thread.id),
                                                                                   (moved.id, needles.id)])
    assert {c.customer_id for c in ReorderCycle.select()} == {customer.id}
    assert {t.customer_id for t in ReorderTodo.select()} == {customer.id}
    assert Order.get_by_id(placed.id).customer_id == customer.id


def test_the_workbench_reorder_panels_take_a_fixed_number_of_queries(client, shop, make_customer, make_user):
    from playhouse.test_utils import count_queries

    rep, _m, _s, customer, thread, _cutter = shop
    accept(rep, customer, thread, starts_on=D(2026, 11, 20))
    sweep(clock.now())  # one to-do to start with (a list with no row is not read: the workbench asks first)
    client.login(rep)
    client.get("/")
    with count_queries() as one:
        client.get("/")
    admin = make_user("admin")
    for i in range(6):
        c = make_customer(owner=rep, stage="signed")
        p = save_product(admin, {"code": f"C-{i}", "name_zh": "耗材", "name_en": "Supply", "list_price": "1",
                                 "unit_cost": "1", "consumable": "1"})
        accept(rep, c, p, starts_on=D(2026, 11, 20) + dt.timedelta(days=i))
    sweep(clock.now())
    with count_queries() as seven:
        page = body(client.get("/"))
    assert page.count('id="todo-') == 7
    assert seven.count == one.count
