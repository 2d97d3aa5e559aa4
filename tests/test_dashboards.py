"""Dashboards (issue 16 item 5): the lifecycle flows folded past a watermark equal a recount, the funnel's
conversion and dwell, promotions per week and month at their boundaries (business time zone), the customer
tally (sweep's snapshot = live count; retaken after TALLY_MINUTES), the forecast by historical conversion
(rep → team → company → default at MIN_EXITS), pool health, completeness by team, the drill-down lists and
the pages (frozen clock)."""
import datetime as dt
from decimal import Decimal

import pytest

from models import clock
from models import dashboards as dm
from models.customers import Customer, change_stage
from models.ledger import PoolEvent
from models.opportunities import DEFAULT_PROBABILITY, PipelineTotal, StageFlow
from tests.conftest import FROZEN, sqlite_only

DAY = dt.timedelta(days=1)


def local(y, m, d, hh=0, mm=0):
    return clock.from_local(dt.datetime(y, m, d, hh, mm))


def at(when, fn, *args, **kw):
    clock.freeze(when)
    try:
        return fn(*args, **kw)
    finally:
        clock.freeze(FROZEN)


@pytest.fixture
def world(make_team, make_user, make_customer):
    a, b = make_team("甲组"), make_team("乙组")
    admin = make_user("admin", full_name="Admin")
    mgr_a, mgr_b = make_user("manager", a, full_name="Boss A"), make_user("manager", b, full_name="Boss B")
    a.manager = mgr_a
    a.save()
    b.manager = mgr_b
    b.save()
    rep_a, rep_b = make_user("sales", a, full_name="Rep A"), make_user("sales", b, full_name="Rep B")

    class W:
        pass
    w = W()
    w.a, w.b, w.admin, w.mgr_a, w.mgr_b, w.rep_a, w.rep_b = a, b, admin, mgr_a, mgr_b, rep_a, rep_b
    w.make = lambda owner, when=FROZEN - 60 * DAY, **kw: at(when, make_customer, owner=owner, **kw)
    w.move = lambda c, stage, when: at(when, change_stage, admin, Customer.get_by_id(c.id), stage)
    return w


# ---- periods -----------------------------------------------------------------------------------------

def test_periods_start_on_monday_and_the_first_in_business_time():
    sunday, monday = dt.date(2026, 11, 22), dt.date(2026, 11, 23)
    assert dm.period_of("w", sunday) == dt.date(2026, 11, 16)
    assert dm.period_of("w", monday) == monday
    assert dm.period_of("m", dt.date(2026, 11, 30)) == dt.date(2026, 11, 1)
    assert dm.periods("m", dt.date(2026, 2, 10), 3) == [dt.date(2025, 12, 1), dt.date(2026, 1, 1), dt.date(2026, 2, 1)]
    assert dm.periods("w", monday, 2) == [dt.date(2026, 11, 16), monday]
    assert dm.period_end("m", dt.date(2026, 12, 1)) == dt.date(2027, 1, 1)


def test_a_change_at_local_midnight_counts_in_the_new_week(world):
    c = world.make(world.rep_a)
    world.move(c, "intent", local(2026, 11, 16, 0, 0))  # Monday 00:00 Shanghai = Sunday 16:00 UTC
    world.move(c, "signed", local(2026, 11, 15, 23, 59) + DAY * 0)  # out of order on purpose: Sunday 23:59
    flow, _ = dm.flows(None, "w", dt.date(2026, 11, 1))
    assert flow[(dt.date(2026, 11, 16), "target", "intent")][0] == 1
    assert flow[(dt.date(2026, 11, 9), "intent", "signed")][0] == 1


# ---- folding ------------------------------------------------------------------------------------------

def test_fold_equals_the_live_count_and_runs_once(world):
    c1, c2 = world.make(world.rep_a), world.make(world.rep_b)
    world.move(c1, "intent", FROZEN - 30 * DAY)
    world.move(c1, "signed", FROZEN - 27 * DAY)
    world.move(c2, "intent", FROZEN - 20 * DAY)
    world.move(c2, "target", FROZEN - 10 * DAY)
    since = dt.date(2025, 1, 1)
    live, behind = dm.flows(None, "m", since)
    assert not behind
    assert dm.fold() >= 6  # two creations and four moves (the factory's own rows too)
    assert dm.fold() == 0
    folded, _ = dm.flows(None, "m", since)
    assert folded == live
    world.move(c1, "long_term", FROZEN - DAY)  # after the fold: the page adds it
    again, _ = dm.flows(None, "m", since)
    assert sum(v[0] for v in again.values()) == sum(v[0] for v in live.values()) + 1
    # the dwell in intent: three days
    key = [k for k in folded if k[1:] == ("intent", "signed")][0]
    assert folded[key][1] == 3 * 86400 and folded[key][2] == 1


def test_the_team_of_a_flow_is_the_customers(world):
    c = world.make(world.rep_a)
    world.move(c, "intent", FROZEN - 5 * DAY)
    dm.fold()
    a, _ = dm.flows(world.a.id, "m", dt.date(2026, 1, 1))
    b, _ = dm.flows(world.b.id, "m", dt.date(2026, 1, 1))
    assert sum(v[0] for k, v in a.items() if k[2] == "intent") == 1
    assert not any(k[2] == "intent" for k in b)


def test_the_tail_is_cut_at_tail_max(world, monkeypatch):
    c = world.make(world.rep_a)
    world.move(c, "intent", FROZEN - 5 * DAY)
    monkeypatch.setattr(dm, "TAIL_MAX", 1)
    _, behind = dm.flows(None, "m", dt.date(2026, 1, 1))
    assert behind


# ---- funnel and promotions ---------------------------------------------------------------------------

def test_funnel_conversion_and_dwell(world):
    cs = [world.make(world.rep_a, when=FROZEN - 100 * DAY) for _ in range(4)]
    for i, c in enumerate(cs):
        world.move(c, "intent", FROZEN - 50 * DAY)  # 50 days in target each
    world.move(cs[0], "signed", FROZEN - 40 * DAY)  # 10 days in intent
    world.move(cs[1], "signed", FROZEN - 30 * DAY)  # 20
    world.move(cs[2], "target", FROZEN - 20 * DAY)  # 30, down
    f = dm.funnel(world.admin)
    s = {r["stage"]: r for r in f["stages"]}
    assert s["intent"]["entered"] == 4 and s["intent"]["up"] == 2 and s["intent"]["down"] == 1
    assert s["intent"]["conversion"] == 50  # 2 of the 4 that entered moved up
    assert s["intent"]["dwell_days"] == 20.0
    # target: 4 files created in it and 1 demoted into it, 4 moved up
    assert s["target"]["entered"] == 5 and s["target"]["conversion"] == 80 and s["target"]["dwell_days"] == 50.0
    assert s["intent"]["now"] == 1 and s["signed"]["now"] == 2
    assert s["long_term"]["conversion"] is None and s["long_term"]["dwell_days"] is None


def test_funnel_window_starts_on_the_first_of_the_month_eleven_months_back(world):
    c = world.make(world.rep_a, when=local(2025, 11, 1) - DAY)
    world.move(c, "intent", local(2025, 12, 1) - dt.timedelta(minutes=1))  # 30 Nov 23:59 Shanghai: outside
    d = world.make(world.rep_a, when=local(2025, 11, 1) - DAY)
    world.move(d, "intent", local(2025, 12, 1))  # 1 Dec 00:00: inside
    f = dm.funnel(world.admin)
    assert f["since"] == dt.date(2025, 12, 1)
    assert {r["stage"]: r for r in f["stages"]}["target"]["up"] == 1


def test_managers_see_their_team_admins_all_or_one(world):
    ca, cb = world.make(world.rep_a), world.make(world.rep_b)
    world.move(ca, "intent", FROZEN - DAY)
    world.move(cb, "signed", FROZEN - DAY)
    mine = {r["stage"]: r for r in dm.funnel(world.mgr_a)["stages"]}
    assert mine["intent"]["now"] == 1 and mine["signed"]["now"] == 0 and mine["signed"]["entered"] == 0
    everyone = {r["stage"]: r for r in dm.funnel(world.admin)["stages"]}
    assert everyone["intent"]["now"] >= 1 and everyone["signed"]["now"] >= 1
    one = {r["stage"]: r for r in dm.funnel(world.admin, team=world.b.id)["stages"]}
    assert one["intent"]["now"] == 0 and one["signed"]["now"] == 1
    assert dm.funnel(world.mgr_a, team=world.b.id)["team"] == world.a.id  # a manager's team filter is ignored


def test_promotions_per_week_and_month(world):
    c = world.make(world.rep_a, when=FROZEN - 90 * DAY)
    world.move(c, "intent", local(2026, 11, 23, 0, 0))  # this week's Monday (FROZEN is Tue 24 Nov)
    world.move(c, "signed", local(2026, 11, 22, 23, 59))  # last week's Sunday
    world.move(c, "target", local(2026, 10, 31, 12, 0))  # a demotion in October
    w = dm.promotions(world.admin, grain="w", n=12)
    assert w["periods"][-1][0] == dt.date(2026, 11, 23)
    assert w["series"]["intent"][-1] == 1 and w["series"]["signed"][-2] == 1
    assert w["totals"][-1] == 1
    m = dm.promotions(world.admin, grain="m", n=12)
    assert m["periods"][-1] == (dt.date(2026, 11, 1), dt.date(2026, 12, 1))
    assert m["series"]["intent"][-1] == 1 and m["series"]["signed"][-1] == 1 and m["down"][-2] == 1
    assert "unidentified" not in m["series"]


def test_moved_customers_behind_a_figure(world):
    ca, cb = world.make(world.rep_a), world.make(world.rep_b)
    world.move(ca, "intent", FROZEN - 3 * DAY)
    world.move(cb, "intent", FROZEN - 3 * DAY + dt.timedelta(minutes=1))
    today = clock.today()

    def ids(page):
        return [r.customer.id for r in page.rows]
    assert ids(dm.moved_customers(world.admin, "intent", "promoted", today - 7 * DAY, today + DAY)) == [cb.id, ca.id]
    assert ids(dm.moved_customers(world.mgr_a, "intent", "promoted", today - 7 * DAY, today + DAY)) == [ca.id]
    assert ids(dm.moved_customers(world.mgr_a, "intent", "promoted", today - 7 * DAY, today + DAY,
                                  team=world.b.id)) == [ca.id]  # a manager's team filter is ignored
    assert set(ids(dm.moved_customers(world.admin, "target", "up_from", today - 7 * DAY, today + DAY))) == {ca.id, cb.id}
    assert ids(dm.moved_customers(world.admin, "intent", "down_from", today - 7 * DAY, today + DAY)) == []
    # the period: [since, until) in business days; the moves were three days ago
    assert ids(dm.moved_customers(world.admin, "intent", "promoted", today - 2 * DAY, today + DAY)) == []
    assert ids(dm.moved_customers(world.admin, "intent", "promoted", today - 3 * DAY, today - 2 * DAY)) == [cb.id, ca.id]
    first = dm.moved_customers(world.admin, "intent", "into", today - 7 * DAY, today + DAY, limit=1)
    assert ids(first) == [cb.id] and first.next
    more = dm.moved_customers(world.admin, "intent", "into", today - 7 * DAY, today + DAY, after=first.next, limit=1)
    assert ids(more) == [ca.id]


# ---- the tally --------------------------------------------------------------------------------------

def test_tally_snapshot_equals_the_live_count_and_is_retaken_after_ten_minutes(world):
    c = world.make(world.rep_a)
    live = sorted(dm._count_customers())
    assert dm.tally(None) == (live, None)  # before any snapshot: counted live
    assert dm.take_tally(FROZEN)
    rows, as_of = dm.tally(None)
    assert sorted(tuple(r) for r in rows) == sorted(tuple(r) for r in live) and as_of == FROZEN
    world.move(c, "signed", FROZEN)
    assert not dm.take_tally(FROZEN + dt.timedelta(minutes=dm.TALLY_MINUTES, seconds=-1))  # still fresh
    assert dm.take_tally(FROZEN + dt.timedelta(minutes=dm.TALLY_MINUTES))  # ten minutes old: counted again
    assert sorted(tuple(r) for r in dm.tally(None)[0]) == sorted(dm._count_customers())
    team_rows, as_of = dm.tally(world.a.id)  # a team: always live
    assert as_of is None and sum(r[5] for r in team_rows) == 1


def test_sweep_folds_and_tallies(world):
    world.make(world.rep_a)
    out = dm.sweep(FROZEN)
    assert out["folded"] >= 1 and out["tallied"]
    assert dm.sweep(FROZEN) == {"folded": 0, "tallied": False}
    assert dm.PoolFlow.select().count() == 0  # no claims or releases in this world


def test_completeness_by_team(world):
    for score in (85, 45, 60):
        c = world.make(world.rep_a)
        Customer.update(completeness=score).where(Customer.id == c.id).execute()
    c = world.make(world.rep_b)
    Customer.update(completeness=100).where(Customer.id == c.id).execute()
    teams = {t["team_id"]: t for t in dm.completeness(world.admin)["teams"]}
    a = teams[world.a.id]
    assert (a["count"], a["average"], a["high"], a["low"]) == (3, 63, 1, 1)
    assert teams[world.b.id]["high"] == 1
    assert [t["team_id"] for t in dm.completeness(world.mgr_b)["teams"]] == [world.b.id]


# ---- pool health -------------------------------------------------------------------------------------

def test_pool_health_weeks_and_recovered(world):
    c = world.make(world.rep_a)
    week = dm.periods("w", clock.today(), 12)
    PoolEvent.create(kind="claim", at=local(*week[-1].timetuple()[:3]), customer=c.id, to_owner=world.rep_a.id, inputs={})
    PoolEvent.create(kind="release", at=local(*week[-1].timetuple()[:3]) - dt.timedelta(minutes=1), customer=c.id,
                     from_owner=world.rep_b.id, inputs={})  # Sunday 23:59: the week before
    PoolEvent.create(kind="claim", at=local(*week[0].timetuple()[:3]) - dt.timedelta(minutes=1), customer=c.id,
                     to_owner=world.rep_a.id, inputs={})  # before the twelve weeks
    Customer.update(released_at=FROZEN - 8 * DAY, stage="signed").where(Customer.id == c.id).execute()
    h = dm.pool_health(world.admin)
    assert h["series"]["claims"][-1] == 1 and h["series"]["releases"][-2] == 1 and h["claims"] == 1
    assert (h["recovered"], h["recovered_signed"]) == (1, 1)
    a = dm.pool_health(world.mgr_a)
    assert a["claims"] == 1 and a["releases"] == 0  # the release was from team B's rep
    assert dm.pool_health(world.mgr_b)["releases"] == 1
    assert dm.fold_pools() == 3 and dm.fold_pools() == 0
    folded = dm.pool_health(world.admin)
    assert folded["series"] == h["series"] and not folded["behind"]
    assert dm.pool_health(world.mgr_a)["claims"] == 1
    PoolEvent.create(kind="forced_release", at=FROZEN, customer=c.id, from_owner=world.rep_a.id, inputs={})
    assert dm.pool_health(world.mgr_a)["series"]["releases"][-1] == 1  # not folded yet: added by the page


# ---- forecast ----------------------------------------------------------------------------------------

def test_win_chances_of_an_absorbing_chain():
    assert dm._win_chances({"final": {"won": 3, "lost": 1}})["final"] == pytest.approx(0.75)
    p = dm._win_chances({"presentation": {"final": 1, "lost": 1}, "final": {"won": 1, "lost": 1}})
    assert p["presentation"] == pytest.approx(0.25)
    p = dm._win_chances({"final": {"won": 1, "presentation": 1}, "presentation": {"final": 1}})  # a loop back
    assert p["final"] == pytest.approx(1.0)


def test_win_chance_falls_back_below_min_exits():
    own = {"final": {"won": dm.MIN_EXITS - 1}}
    team = {"final": {"won": 5, "lost": dm.MIN_EXITS - 5}}
    assert dm.win_chance("final", own, team, {}) == (pytest.approx(0.5), "team")
    own = {"final": {"won": dm.MIN_EXITS}}
    assert dm.win_chance("final", own, team, {}) == (pytest.approx(1.0), "rep")
    assert dm.win_chance("final", {}, {}, {"final": {"lost": dm.MIN_EXITS}}) == (0.0, "company")
    assert dm.win_chance("final", {}, {}, {}) == (DEFAULT_PROBABILITY["final"] / 100, "default")


def test_forecast_shows_historical_beside_weighted(world):
    month = dt.date(2026, 12, 1)  # next month (FROZEN is in November); January is in next quarter
    for owner, team, stage, m, amount, weighted in ((world.rep_a, world.a, "final", month, 100000, 70000),
                                                     (world.rep_b, world.b, "final", dt.date(2027, 1, 1), 200000, 140000),
                                                     (world.rep_b, world.b, "final", dt.date(2027, 4, 1), 999, 999)):
        PipelineTotal.create(owner=owner.id, team=team.id, stage=stage, month=m, count=1, amount_fen=amount * 100,
                             weighted_fen=weighted * 100)
    StageFlow.create(owner=world.rep_a.id, team=world.a.id, from_stage="final", to_stage="won", count=8)
    StageFlow.create(owner=world.rep_a.id, team=world.a.id, from_stage="final", to_stage="lost", count=2)
    StageFlow.create(owner=world.rep_b.id, team=world.b.id, from_stage="final", to_stage="lost", count=3)  # too few
    f = dm.forecast(world.admin)
    assert f["total"]["month"]["weighted"] == Decimal("70000.00")
    assert f["total"]["month"]["historical"] == Decimal("80000.00")  # 8 of 10 won from final
    assert f["total"]["quarter"]["weighted"] == Decimal("140000.00")  # April is outside the next quarter
    # rep B: 3 exits < MIN_EXITS, team B the same, the company has 13 exits of which 8 won
    assert f["total"]["quarter"]["historical"] == Decimal("123076.92")
    assert f["bases"] == {"rep": 1, "company": 1}
    mine = dm.forecast(world.mgr_a)
    assert [r["owner_id"] for r in mine["reps"]] == [world.rep_a.id]


# ---- pages ---------------------------------------------------------------------------------------------

def test_the_dashboard_page_links_every_figure(client, world):
    c = world.make(world.rep_a)
    world.move(c, "intent", FROZEN - DAY)
    client.login(world.admin)
    body = client.get("/dashboards").get_data(as_text=True)
    assert 'id="funnel-table"' in body and 'id="forecast-table"' in body and 'id="pool-sizes"' in body
    assert "/customers?stage=intent&amp;scope=all" in body
    assert "/dashboards/moves?move=into&amp;stage=intent" in body or "move=into" in body
    assert client.get("/dashboards?grain=m").status_code == 200
    assert client.get(f"/dashboards?team={world.a.id}").status_code == 200
    moves = client.get("/dashboards/moves?stage=intent&move=promoted").get_data(as_text=True)
    assert c.name in moves
    assert client.get("/dashboards/moves?stage=nope&move=into").status_code == 404
    assert client.get("/dashboards/moves?stage=intent&move=sideways").status_code == 404
    assert client.get("/dashboards/moves?stage=intent&move=into&since=garbage&until=1999-01-01").status_code == 200


def test_recovered_and_signed_click_through_to_the_customers_behind_them(client, world):
    """The pool health's "recovered" and "… of them signed" link to the customer list filtered the same way
    (owned again after a release; and at signed or long-term now), and the list shows exactly those."""
    won = world.make(world.rep_a, name="赢回并签约服饰有限公司")
    back = world.make(world.rep_a, name="赢回未签约服饰有限公司")
    kept = world.make(world.rep_a, name="从未释放服饰有限公司", stage="signed")
    other = world.make(world.rep_b, name="乙组赢回签约服饰有限公司")
    Customer.update(released_at=FROZEN - 8 * DAY).where(Customer.id.in_([won.id, back.id, other.id])).execute()
    Customer.update(stage="long_term").where(Customer.id.in_([won.id, other.id])).execute()
    h = dm.pool_health(world.mgr_a)
    assert (h["recovered"], h["recovered_signed"]) == (2, 1)
    client.login(world.mgr_a)
    body = client.get("/dashboards").get_data(as_text=True)
    assert "/customers?recovered=yes&amp;scope=all" in body and "/customers?recovered=signed&amp;scope=all" in body
    listed = client.get("/customers?recovered=yes&scope=all").get_data(as_text=True)
    assert won.name in listed and back.name in listed and kept.name not in listed and other.name not in listed
    listed = client.get("/customers?recovered=signed&scope=all").get_data(as_text=True)
    assert won.name in listed and back.name not in listed and kept.name not in listed
    assert 'name="recovered"' in listed and "Won back and signed" in listed
    client.login(world.admin)
    listed = client.get(f"/customers?recovered=signed&scope=all&team={world.b.id}").get_data(as_text=True)
    assert other.name in listed and won.name not in listed
    assert client.get("/customers?recovered=garbage&scope=all").status_code == 200  # junk: no filter


@sqlite_only  # the plan is SQLite's EXPLAIN QUERY PLAN
@pytest.mark.parametrize("move", ["into", "promoted", "up_from", "down_from"])
def test_a_teams_drill_down_starts_from_its_customers_not_a_stage_index(world, monkeypatch, move):
    """A team's moves are found through its customers: a stage index would walk every team's changes (the
    manager's "moved up from target" took 2.2 s at 1M customers while up_from / down_from used (to_stage, at))."""
    import models

    seen = []
    monkeypatch.setattr(dm, "keyset_page", lambda q, *a, **k: seen.append(q.sql()) or {"rows": []})
    dm.moved_customers(world.mgr_a, "target", move, clock.today() - 365 * DAY, clock.today())
    (sql, params), = seen
    plan = " ".join(str(r) for r in models.db.execute_sql("EXPLAIN QUERY PLAN " + sql, params).fetchall())
    assert "stagechange_to_stage_at" not in plan and "stagechange_from_stage_at" not in plan, plan


def test_a_manager_sees_only_the_team(client, world):
    ca, cb = world.make(world.rep_a, name="甲组的客户有限公司"), world.make(world.rep_b, name="乙组的客户有限公司")
    world.move(ca, "intent", FROZEN - DAY)
    world.move(cb, "intent", FROZEN - DAY)
    client.login(world.mgr_a)
    body = client.get(f"/dashboards/moves?stage=intent&move=promoted&team={world.b.id}").get_data(as_text=True)
    assert ca.name in body and cb.name not in body
    assert client.get("/dashboards").status_code == 200


def test_a_fold_that_lost_the_race_writes_nothing(world, monkeypatch):
    world.make(world.rep_a)
    real = dm._changes

    def racing(after, limit, team=None):
        rows = real(after, limit, team)
        dm.DashboardMark.insert(name="lifecycle", last_id=10 ** 9, at=FROZEN).on_conflict(
            conflict_target=[dm.DashboardMark.name],
            update={dm.DashboardMark.last_id: 10 ** 9, dm.DashboardMark.at: FROZEN}).execute()
        return rows
    monkeypatch.setattr(dm, "_changes", racing)
    with pytest.raises(dm._Raced):
        dm.fold()
    assert dm.LifecycleFlow.select().count() == 0
    monkeypatch.setattr(dm, "_changes", real)
    assert dm.sweep(FROZEN)["folded"] == 0  # the other runner's mark stands


def test_the_conversion_records_follow_every_stage_change(world):
    StageFlow.create(owner=world.rep_a.id, team=world.a.id, from_stage="final", to_stage="won", count=10)
    first = dm.conversion_records()
    assert dm.conversion_records() is first  # nothing changed: kept
    assert first[0][world.rep_a.id].chances["final"] == 1.0
    StageFlow.update(count=StageFlow.count + 1).where(StageFlow.owner == world.rep_a.id).execute()
    StageFlow.create(owner=world.rep_a.id, team=world.a.id, from_stage="final", to_stage="lost", count=11)
    again = dm.conversion_records()
    assert again is not first and again[0][world.rep_a.id].chances["final"] == 0.5
