"""Visit plans: planning on the customers one works (not the past, not beyond the horizon, not a past time
today, a contact of that customer), carrying an item out by logging its follow-up (valid or not by the
rule), rolling over and closing, the idempotent sweep, suggestions from what is due, who sees whose plan,
and the pages. Frozen clock: Tue 24 Nov 2026, 10:00 in Shanghai."""
import datetime as dt

import pytest

from models import clock
from models import plans as pm
from models.audit import AuditEvent
from models.customers import FollowUp, save_contact
from models.errors import DomainError, NotFound, ValidationError
from models.reorders import ReorderCycle, ReorderTodo
from models.users import Team

DAY = dt.timedelta(days=1)
TODAY = dt.date(2026, 11, 24)
REPORT = "上门拜访采购经理，确认了明年面料需求和报价时间表"


@pytest.fixture
def team(make_user, make_team, make_customer):
    t, other = make_team("华东一组"), make_team("华南二组")
    rep, mate, mgr = make_user("sales", t), make_user("sales", t), make_user("manager", t)
    outsider, other_mgr = make_user("sales", other), make_user("manager", other)
    Team.update(manager=mgr).where(Team.id == t.id).execute()
    Team.update(manager=other_mgr).where(Team.id == other.id).execute()
    mine, theirs = make_customer(owner=rep), make_customer(owner=outsider)
    admin = make_user("admin")
    contact = save_contact(admin, mine, {"name": "王采购"})
    foreign_contact = save_contact(admin, theirs, {"name": "李经理"})
    return dict(rep=rep, mate=mate, mgr=mgr, outsider=outsider, other_mgr=other_mgr, mine=mine, theirs=theirs,
                contact=contact, foreign_contact=foreign_contact, admin=admin, pool=make_customer())


def plan(rep, customer, day=TODAY + DAY, **kw):
    return pm.plan_visit(rep, {"customer_id": str(customer.id), "day": day.isoformat(), "objective": "确认明年需求", **kw})


def problems(fn, *args, **kw):
    with pytest.raises(ValidationError) as exc:
        fn(*args, **kw)
    return {field: [m for m, _ in msgs] for field, msgs in exc.value.errors.items()}


def test_a_rep_plans_a_visit_on_their_customer(team):
    item = plan(team["rep"], team["mine"], at="14:30", contact_id=str(team["contact"].id), kind="call")
    assert (item.rep_id, item.day, item.at, item.kind, item.status) == (team["rep"].id, TODAY + DAY, dt.time(14, 30), "call", "planned")
    assert item.contact_id == team["contact"].id
    assert AuditEvent.select().where(AuditEvent.kind == "plan.added").count() == 1


@pytest.mark.parametrize("day,ok", [(TODAY - DAY, False), (TODAY, True), (TODAY + 60 * DAY, True), (TODAY + 61 * DAY, False)])
def test_the_day_is_from_today_to_the_horizon(team, day, ok):
    if ok:
        assert plan(team["rep"], team["mine"], day=day).day == day
    else:
        errors = problems(plan, team["rep"], team["mine"], day=day)
        assert errors["day"] == (["A plan cannot be in the past."] if day < TODAY else ["Plan at most %(n)s days ahead."])
        assert pm.PlanItem.select().count() == 0


@pytest.mark.parametrize("at,ok", [("09:59", False), ("10:00", True), ("23:59", True), ("25:00", False)])
def test_a_time_today_is_not_already_past(team, at, ok):
    if ok:
        assert plan(team["rep"], team["mine"], day=TODAY, at=at).at.strftime("%H:%M") == at
    else:
        assert "at" in problems(plan, team["rep"], team["mine"], day=TODAY, at=at)


def test_the_same_time_tomorrow_is_fine(team):
    assert plan(team["rep"], team["mine"], day=TODAY + DAY, at="09:00").at == dt.time(9, 0)


@pytest.mark.parametrize("who", ["theirs", "pool"])
def test_a_customer_the_rep_does_not_work_is_refused_inline(team, who):
    errors = problems(plan, team["rep"], team[who])
    assert errors == {"customer_id": ["Choose a customer you work with."]}


def test_unknown_or_junk_customer_ids(team):
    for raw in ("", "abc", "0", str(2 ** 70), "999999"):
        errors = problems(pm.plan_visit, team["rep"], {"customer_id": raw, "day": "2026-11-25", "objective": "x"})
        assert errors["customer_id"] in (["Choose a customer."], ["Choose a customer you work with."])


def test_a_contact_of_another_customer_is_refused(team):
    errors = problems(plan, team["rep"], team["mine"], contact_id=str(team["foreign_contact"].id))
    assert errors == {"contact_id": ["Choose a contact of this customer."]}


def test_objective_is_required_and_kind_checked(team):
    errors = problems(pm.plan_visit, team["rep"], {"customer_id": str(team["mine"].id), "day": "2026-11-25",
                                                    "objective": "  ", "kind": "party"})
    assert set(errors) == {"objective", "kind"}


def test_the_same_customer_twice_on_one_day_is_refused(team):
    plan(team["rep"], team["mine"])
    assert problems(plan, team["rep"], team["mine"]) == {
        "customer_id": ["This customer is already on your plan for that day."]}
    assert plan(team["rep"], team["mine"], day=TODAY + 2 * DAY)


def test_managers_plan_on_team_customers_others_may_not_plan(team, make_user):
    assert plan(team["mgr"], team["mine"]).rep_id == team["mgr"].id
    for user in (team["admin"], make_user("service"), make_user("marketing")):
        with pytest.raises(NotFound):
            plan(user, team["mine"])


def test_carrying_out_logs_a_linked_valid_follow_up(team):
    item = plan(team["rep"], team["mine"], day=TODAY, contact_id=str(team["contact"].id))
    followup = pm.carry_out(team["rep"], item, {"content": REPORT})
    row = pm.PlanItem.get_by_id(item.id)
    assert (row.status, row.followup_id) == ("done", followup.id)
    assert (followup.type, followup.contact_id, followup.is_valid) == ("visit", team["contact"].id, True)
    assert FollowUp.select().where(FollowUp.customer == team["mine"].id).count() == 1
    with pytest.raises(DomainError):
        pm.carry_out(team["rep"], row, {"content": REPORT})
    assert FollowUp.select().count() == 1


def test_a_carried_out_item_counts_as_the_rule_says(team):
    item = plan(team["rep"], team["mine"], day=TODAY)
    followup = pm.carry_out(team["rep"], item, {"content": "去了"})  # too short for a valid follow-up
    assert followup.is_valid is False and pm.PlanItem.get_by_id(item.id).status == "done"


def test_a_bad_follow_up_leaves_the_item_open(team):
    item = plan(team["rep"], team["mine"], day=TODAY)
    assert "content" in problems(pm.carry_out, team["rep"], item, {"content": ""})
    assert pm.PlanItem.get_by_id(item.id).status == "planned" and FollowUp.select().count() == 0


def test_only_the_rep_carries_out_their_item(team):
    item = plan(team["rep"], team["mine"], day=TODAY)
    for user in (team["mgr"], team["mate"], team["admin"]):
        with pytest.raises(NotFound):
            pm.carry_out(user, item, {"content": REPORT})


def test_roll_over_to_the_next_day_or_a_later_one(team):
    item = plan(team["rep"], team["mine"], day=TODAY)
    new = pm.roll_over(team["rep"], item)
    assert (new.day, new.rolled_from, new.rolls, pm.PlanItem.get_by_id(item.id).status) == (TODAY + DAY, item.id, 1, "rolled")
    assert problems(pm.roll_over, team["rep"], new, {"day": TODAY.isoformat()}) == {
        "day": ["Roll over to a later day, from today on."]}
    assert pm.roll_over(team["rep"], new, {"day": (TODAY + 7 * DAY).isoformat()}).day == TODAY + 7 * DAY
    with pytest.raises(DomainError):
        pm.roll_over(team["rep"], pm.PlanItem.get_by_id(item.id))


def test_close_needs_a_reason(team):
    item = plan(team["rep"], team["mine"], day=TODAY)
    assert problems(pm.close_item, team["rep"], item, " ") == {"reason": ["Required."]}
    pm.close_item(team["rep"], item, "客户出差，下周再约")
    row = pm.PlanItem.get_by_id(item.id)
    assert (row.status, row.close_reason) == ("closed", "客户出差，下周再约")


def test_sweep_rolls_yesterdays_open_items_once_and_expires_after_max_rolls(team):
    item = plan(team["rep"], team["mine"], day=TODAY)
    done = plan(team["rep"], team["mine"], day=TODAY + DAY)
    tired = plan(team["rep"], team["mine"], day=TODAY + 2 * DAY)
    pm.PlanItem.update(rolls=pm.MAX_ROLLS).where(pm.PlanItem.id == tired.id).execute()
    clock.freeze(clock.from_local(dt.datetime(2026, 11, 27, 0, 5)))  # three days later, just after midnight
    pm.carry_out(team["rep"], pm.PlanItem.get_by_id(done.id), {"content": REPORT})
    assert pm.sweep() == {"rolled": 1, "expired": 1}
    assert pm.sweep() == {"rolled": 0, "expired": 0}
    rolled = pm.PlanItem.get(pm.PlanItem.rolled_from == item.id)
    assert (rolled.day, rolled.status, pm.PlanItem.get_by_id(tired.id).status) == (dt.date(2026, 11, 27), "planned", "expired")


def test_the_sweep_leaves_today_alone_until_midnight(team):
    plan(team["rep"], team["mine"], day=TODAY)
    clock.freeze(clock.from_local(dt.datetime(2026, 11, 24, 23, 59)))
    assert pm.sweep() == {"rolled": 0, "expired": 0}


def test_due_items_are_the_open_ones_of_the_day(team, make_customer):
    other = make_customer(owner=team["rep"])
    a = plan(team["rep"], team["mine"], day=TODAY, at="16:00")
    b = plan(team["rep"], other, day=TODAY, at="11:00")
    plan(team["rep"], team["mine"], day=TODAY + DAY)
    pm.close_item(team["rep"], a, "改期")
    assert [i.id for i in pm.due_items(team["rep"], TODAY)] == [b.id]
    assert list(pm.due_items(team["mate"], TODAY)) == []


def test_suggestions_from_what_is_due(team, make_customer):
    from models.customers import Customer
    from models.orders import Product

    due = make_customer(owner=team["rep"], name="跟进到期服饰有限公司")
    near = make_customer(owner=team["rep"], name="即将释放服饰有限公司")
    reorder = make_customer(owner=team["rep"], name="补货提醒服饰有限公司")
    later = make_customer(owner=team["rep"], name="以后再说服饰有限公司")
    Customer.update(next_followup_on=TODAY + DAY).where(Customer.id == due.id).execute()
    Customer.update(next_followup_on=TODAY + 9 * DAY).where(Customer.id == later.id).execute()
    Customer.update(release_at=clock.now() + 3 * DAY).where(Customer.id == near.id).execute()
    Customer.update(release_at=clock.now() + 30 * DAY).where(Customer.id.in_([due.id, reorder.id, later.id, team["mine"].id])).execute()
    product = Product.create(code="P1", name_zh="面料", name_en="Fabric", unit="m", list_price=1, unit_cost=1,
                             consumable=True, created_at=clock.now(), updated_at=clock.now())
    cycle = ReorderCycle.create(customer=reorder, product=product, every=1, unit="month", starts_on=TODAY,
                                next_expected_on=TODAY + 2 * DAY, remind_on=TODAY, created_at=clock.now(), updated_at=clock.now())
    ReorderTodo.create(cycle=cycle, customer=reorder, product=product, rep=team["rep"], expected_on=TODAY + 2 * DAY,
                       remind_on=TODAY, created_at=clock.now())
    found = {s["customer_id"]: s["source"] for s in pm.suggestions(team["rep"], TODAY + DAY)}
    assert found == {due.id: "followup_due", near.id: "release_near", reorder.id: "reorder"}
    plan(team["rep"], due)
    assert due.id not in {s["customer_id"] for s in pm.suggestions(team["rep"], TODAY + DAY)}
    assert pm.suggestions(team["outsider"], TODAY + DAY) == []


def test_an_owner_change_closes_the_former_owners_open_items(team):
    from models.customers import set_owner

    item = plan(team["rep"], team["mine"])
    set_owner(team["admin"], team["mine"], team["mate"])
    row = pm.PlanItem.get_by_id(item.id)
    assert (row.status, row.close_reason) == ("closed", pm.OWNER_CHANGED)


# ---- pages ------------------------------------------------------------------------------------------------

def test_calendar_week_and_day_pages(client, team):
    item = plan(team["rep"], team["mine"], at="15:00")
    client.login(team["rep"])
    week = client.get("/plans/?day=2026-11-25").get_data(as_text=True)
    assert f'id="plan-item-{item.id}"' in week and team["mine"].name in week and "data-plan-keys" in week
    day = client.get("/plans/?view=day&day=2026-11-25").get_data(as_text=True)
    assert "确认明年需求" in day and f"/plans/{item.id}/carry-out" in day and 'id="plan-suggestions"' in day
    assert client.get("/plans/?day=junk&view=junk").status_code == 200


def test_manager_sees_the_teams_plans_others_do_not(client, team):
    item = plan(team["rep"], team["mine"])
    client.login(team["mgr"])
    page = client.get(f"/plans/?rep={team['rep'].id}&day=2026-11-25").get_data(as_text=True)
    assert f'id="plan-item-{item.id}"' in page and f"/plans/{item.id}/carry-out" not in page
    assert team["mine"].name in client.get("/plans/team?day=2026-11-25").get_data(as_text=True)
    for user in (team["mate"], team["other_mgr"], team["outsider"]):
        client.login(user)
        assert client.get(f"/plans/?rep={team['rep'].id}").status_code == 404
    client.login(team["other_mgr"])
    assert team["mine"].name not in client.get("/plans/team?day=2026-11-25").get_data(as_text=True)


def test_plan_form_answers_bad_input_inline(client, team):
    client.login(team["rep"])
    r = client.post("/plans/new", {"customer_id": str(team["mine"].id), "day": "2026-11-23", "objective": "拜访"}, htmx=True)
    assert r.status_code == 200 and "A plan cannot be in the past." in r.get_data(as_text=True)
    r = client.post("/plans/new", {"customer_id": str(team["theirs"].id), "day": "2026-11-25", "objective": "拜访"}, htmx=True)
    assert "Choose a customer you work with." in r.get_data(as_text=True)
    r = client.post("/plans/new", {"customer_id": str(team["mine"].id), "day": "2026-11-25", "objective": "拜访",
                                   "contact_id": str(team["foreign_contact"].id)}, htmx=True)
    assert "Choose a contact of this customer." in r.get_data(as_text=True)
    assert pm.PlanItem.select().count() == 0
    r = client.post("/plans/new", {"customer_id": str(team["mine"].id), "day": "2026-11-25", "objective": "拜访"}, htmx=True)
    assert r.status_code == 204 and "/plans/" in r.headers["HX-Redirect"]


def test_plan_form_from_a_suggestion_and_the_pickers(client, team):
    client.login(team["rep"])
    page = client.get(f"/plans/new?customer_id={team['mine'].id}&source=followup_due&day=2026-11-25").get_data(as_text=True)
    assert team["mine"].name in page and 'value="followup_due"' in page and "王采购" in page
    assert team["theirs"].name not in client.get(f"/plans/new?customer_id={team['theirs'].id}").get_data(as_text=True)
    options = client.get("/plans/customer-options?q=" + team["mine"].name[2:6]).get_data(as_text=True)
    assert team["mine"].name in options
    assert team["theirs"].name not in client.get("/plans/customer-options?q=" + team["theirs"].name[2:6]).get_data(as_text=True)
    assert "王采购" in client.get(f"/plans/contact-options?customer_id={team['mine'].id}").get_data(as_text=True)
    assert "李经理" not in client.get(f"/plans/contact-options?customer_id={team['theirs'].id}").get_data(as_text=True)


def test_carry_out_roll_and_close_pages(client, team, make_customer):
    a = plan(team["rep"], team["mine"], day=TODAY)
    b = plan(team["rep"], make_customer(owner=team["rep"]), day=TODAY)
    c = plan(team["rep"], make_customer(owner=team["rep"]), day=TODAY)
    client.login(team["rep"])
    assert "王采购" in client.get(f"/plans/{a.id}/carry-out").get_data(as_text=True)
    r = client.post(f"/plans/{a.id}/carry-out", {"type": "visit", "content": ""}, htmx=True)
    assert r.status_code == 200 and pm.PlanItem.get_by_id(a.id).status == "planned"
    r = client.post(f"/plans/{a.id}/carry-out", {"type": "visit", "content": REPORT}, htmx=True)
    assert r.status_code == 204 and pm.PlanItem.get_by_id(a.id).status == "done"
    assert client.post(f"/plans/{a.id}/roll", htmx=True).status_code == 409
    assert client.post(f"/plans/{b.id}/roll").status_code == 303
    r = client.post(f"/plans/{c.id}/close", {"reason": ""}, htmx=True)
    assert "Required." in r.get_data(as_text=True)
    assert client.post(f"/plans/{c.id}/close", {"reason": "客户取消"}).status_code == 303
    assert [pm.PlanItem.get_by_id(i.id).status for i in (b, c)] == ["rolled", "closed"]


def test_workbench_and_customer_file_show_the_plan(client, team):
    plan(team["rep"], team["mine"], day=TODAY)
    client.login(team["rep"])
    home = client.get("/").get_data(as_text=True)
    assert 'id="wb-plan-today"' in home and team["mine"].name in home
    page = client.get(f"/customers/{team['mine'].id}").get_data(as_text=True)
    assert 'id="plan-side-card"' in page and f"/plans/new?customer_id={team['mine'].id}" in page


def test_rolling_onto_a_day_that_has_the_customer_already_is_refused(team):
    item = plan(team["rep"], team["mine"], day=TODAY)
    plan(team["rep"], team["mine"], day=TODAY + DAY)
    assert problems(pm.roll_over, team["rep"], item) == {"day": ["This customer is already on your plan for that day."]}
    assert pm.PlanItem.get_by_id(item.id).status == "planned"
    clock.freeze(clock.from_local(dt.datetime(2026, 11, 25, 8, 0)))
    assert pm.sweep() == {"rolled": 0, "expired": 1}  # today's plan has it already: not twice


def test_the_to_do_centre_lists_todays_visits_and_the_missing_reports(team, client):
    """Visits of today still to carry out are the rep's to-dos; the last report day's missing reports are the
    rep's own and the manager's team's (Mon 23 Nov is the last report day before Tue 24 Nov)."""
    from models import todo
    from models.users import User

    item = plan(team["rep"], team["mine"], day=TODAY, at="16:00")
    joined_today = {s["key"]: s["count"] for s in todo.gather(team["rep"])}
    assert "reports_missing" not in joined_today  # nobody owes a report for a day before they joined
    User.update(created_at=clock.now() - 7 * DAY).where(User.team == team["rep"].team_id).execute()
    team["rep"], team["mgr"] = User.get_by_id(team["rep"].id), User.get_by_id(team["mgr"].id)
    found = {s["key"]: s for s in todo.gather(team["rep"])}
    assert found["plan_items"]["count"] == 1
    assert found["plan_items"]["items"][0]["args"] == {"plan_item_id": item.id}
    assert found["reports_missing"]["count"] == 1
    manager_view = {s["key"]: s for s in todo.gather(team["mgr"])}
    assert manager_view["reports_missing"]["count"] == 2  # the rep and the mate
    assert {i["args"]["day_text"] for i in manager_view["reports_missing"]["items"]} == {"2026-11-23"}
    assert todo.counts(team["rep"])["plan_items"] == 1
    pm.carry_out(team["rep"], item, {"type": "visit", "content": REPORT})
    assert "plan_items" not in todo.counts(team["rep"])
    client.login(team["rep"])
    assert client.get("/todo").status_code == 200


# ---- plan adherence in the performance counters ------------------------------------------------------------

def _plan_counters(rep):
    from models import perf_tables as perf

    rows = perf.RepPeriod.select().where((perf.RepPeriod.rep == rep.id) & (perf.RepPeriod.span == "month")
                                         & perf.RepPeriod.metric.startswith("plan"))
    return {(r.starts_on, r.metric): r.n for r in rows}


def test_plan_adherence_counts_each_item_once_where_it_ends(team, make_customer):
    """Carried out on its day: planned, done, on time; rolled over then carried out: planned and done once,
    late; closed with a reason or expired by the sweep: planned only; closed by an owner change: not counted.
    Counted in the month of the item's day (30 Nov carried out after midnight on 1 Dec: November, late)."""
    from models import perf_tables as perf
    from models import performance
    from models import targets as tm
    from models.customers import set_owner

    rep = team["rep"]
    c = [make_customer(owner=rep) for _ in range(5)]
    on_time = plan(rep, c[0], day=TODAY)
    pm.carry_out(rep, on_time, {"content": REPORT})
    late = pm.roll_over(rep, plan(rep, c[1], day=TODAY))
    pm.close_item(rep, plan(rep, c[2], day=TODAY), "客户出差")
    plan(rep, c[3], day=TODAY + DAY)
    set_owner(team["admin"], c[3], team["mate"])  # closed for the owner change: not the rep's doing
    month_end = plan(rep, c[4], day=dt.date(2026, 11, 30))
    tired = plan(rep, team["mine"], day=TODAY + DAY)
    pm.PlanItem.update(rolls=pm.MAX_ROLLS).where(pm.PlanItem.id == tired.id).execute()
    assert _plan_counters(rep) == {(dt.date(2026, 11, 1), "plan"): 2, (dt.date(2026, 11, 1), "plan_done"): 1,
                                   (dt.date(2026, 11, 1), "plan_on_time"): 1}
    clock.freeze(clock.from_local(dt.datetime(2026, 11, 25, 9, 0)))
    pm.carry_out(rep, pm.PlanItem.get_by_id(late.id), {"content": REPORT})
    clock.freeze(clock.from_local(dt.datetime(2026, 12, 1, 0, 5)))  # 30 Nov's item, five minutes late
    pm.carry_out(rep, pm.PlanItem.get_by_id(month_end.id), {"content": REPORT})
    assert pm.sweep()["expired"] == 1  # the tired one, after its day
    nov = dt.date(2026, 11, 1)
    assert _plan_counters(rep) == {(nov, "plan"): 5, (nov, "plan_done"): 3, (nov, "plan_on_time"): 1}
    f = performance.figures(tm.parse_period("2026-11"), rep_ids=[rep.id])[rep.id]
    assert (f["plan"], f["plan_done"], f["plan_on_time"]) == (5, 3, 1)
    assert f["plan_rate"] == 60.0 and f["on_time_rate"] == 20.0
    kept = {(r.rep_id, r.span, r.starts_on, r.metric): r.n for r in perf.RepPeriod.select()
            if r.metric.startswith("plan")}
    perf.rebuild()
    assert {(r.rep_id, r.span, r.starts_on, r.metric): r.n for r in perf.RepPeriod.select()
            if r.metric.startswith("plan")} == kept


def test_no_plans_no_adherence_figure():
    from models import performance

    f = performance._finish(performance._empty())
    assert f["plan_rate"] is None and f["on_time_rate"] is None


def test_the_ranking_and_the_reps_view_show_plan_adherence(client, team):
    rep = team["rep"]
    pm.carry_out(rep, plan(rep, team["mine"], day=TODAY), {"content": REPORT})
    client.login(team["mgr"])
    page = client.get("/performance?sort=plan_rate").get_data(as_text=True)
    assert "Plans carried out" in page and "1 / 1 · 100 %" in page
    client.login(rep)
    page = client.get("/performance").get_data(as_text=True)
    assert "Plans on time" in page and "1 / 1 · 100 %" in page
