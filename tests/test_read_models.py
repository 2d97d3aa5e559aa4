"""The read models that moved out of the views (models/pool_reports.py, models/service_reports.py) give
the figures the views computed before, on a fixture: stake ranking, pool health, the service queue,
SLA compliance and the satisfaction trend (whose weeks were SQLite's date() in a view, now a portable
CASE over the weeks' UTC starts)."""
import datetime as dt
import inspect

import peewee as pw
import pytest

from models import clock, pool_reports
from models import service as sv
from models import service_reports as sr
from models.customers import Customer, Pool
from models.ledger import PoolEvent
from models.users import Region, Team, User
from tests.conftest import FROZEN
from tests.conftest import sqlite_only

DAY = dt.timedelta(days=1)


def local(y, m, d, hh=0, mm=0):
    return clock.from_local(dt.datetime(y, m, d, hh, mm))


# ---- pools -----------------------------------------------------------------------------------------------

@pytest.fixture
def stakes(make_user, make_team, make_customer):
    east, north = Region.get(Region.code == "east"), Region.get(Region.code != "east")
    team_a, team_b = make_team("甲组", region=east), make_team("乙组", region=north)
    r1, r2 = make_user("sales", team_a, full_name="Rep One"), make_user("sales", team_a, full_name="Rep Two")
    r3, mgr = make_user("sales", team_b, full_name="Rep Three"), make_user("manager", team_b, full_name="Boss B")
    c = [make_customer(owner=r3) for _ in range(5)]

    def ev(kind, at, customer=None, actor=None, to_owner=None, from_owner=None, **inputs):
        PoolEvent.create(kind=kind, at=at, customer=customer, actor=actor, to_owner=to_owner, from_owner=from_owner,
                         inputs=inputs)
    for cust, rep in ((c[0], r1), (c[1], r1), (c[2], r2), (c[3], r3)):
        ev("stake", FROZEN - 10 * DAY, cust.id, rep.id)
    ev("stake_completed", FROZEN - 5 * DAY, c[0].id, to_owner=r1.id)
    ev("stake_completed", FROZEN - 5 * DAY, c[1].id, to_owner=r1.id)
    ev("stake_completed", FROZEN - 5 * DAY, c[2].id, to_owner=r2.id)
    ev("lead_routed", FROZEN - 2 * DAY, c[0].id, to_owner=r1.id, via="staker")
    ev("lead_routed", FROZEN - 2 * DAY, c[1].id, to_owner=r1.id, via="owner")
    Customer.update(owner=r1.id, team=team_a.id, stage="signed").where(Customer.id == c[0].id).execute()
    Customer.update(stage="signed").where(Customer.id == c[2].id).execute()  # signed, but by r3, not the staker
    # flows for health: this week and three weeks ago, in and out of team B
    ev("release", FROZEN - 1 * DAY, c[4].id, r3.id, from_owner=r3.id)
    ev("claim", FROZEN - 1 * DAY + dt.timedelta(hours=1), c[4].id, r1.id, to_owner=r1.id)
    ev("forced_release", FROZEN - 21 * DAY, c[3].id, None, from_owner=r3.id)
    ev("assign", FROZEN - 21 * DAY, c[3].id, mgr.id, to_owner=r3.id)
    ev("claim", FROZEN - 200 * DAY, c[2].id, r2.id, to_owner=r2.id)  # before the 12 weeks
    Customer.update(stage="signed", owner=r1.id).where(Customer.id == c[4].id).execute()
    return {"r": (r1, r2, r3), "mgr": mgr, "teams": (team_a, team_b), "regions": (east, north), "c": c}


def test_ranking_orders_reps_teams_and_regions(stakes):
    east, north = stakes["regions"]
    got = pool_reports.ranking("en")
    assert got["reps"] == [
        {"name": "Rep One", "stakes": 2, "completed": 2, "leads": 1, "signed": 1},
        {"name": "Rep Two", "stakes": 1, "completed": 1, "leads": 0, "signed": 0},
        {"name": "Rep Three", "stakes": 1, "completed": 0, "leads": 0, "signed": 0}]
    assert got["teams"] == [{"name": "甲组", "stakes": 3, "completed": 3, "leads": 1, "signed": 1},
                            {"name": "乙组", "stakes": 1, "completed": 0, "leads": 0, "signed": 0}]
    assert [r["name"] for r in got["regions"]] == [east.label("en"), north.label("en")]
    assert pool_reports.ranking("zh_CN")["regions"][0]["name"] == east.label("zh_CN")


def test_health_weeks_scope_and_funnel(stakes, make_user):
    admin = make_user("admin")
    everything = pool_reports.health(admin)
    assert len(everything["labels"]) == 12 and everything["labels"][-1] == "2026-11-23"  # FROZEN is a Tuesday
    assert everything["series"]["release"][-1] == 1 and everything["series"]["claim"][-1] == 1
    assert everything["series"]["forced_release"][-4] == 1 and everything["series"]["assign"][-4] == 1
    assert sum(map(sum, everything["series"].values())) == 4  # the 200-day-old claim is outside
    assert everything["funnel"] == (2, 2, 1)  # released c4, c3; both taken again; c4 signed
    assert sum(everything["sizes"].values()) == Customer.select().where(Customer.pool.is_null(False)).count()
    team_b = pool_reports.health(stakes["mgr"])  # flows touching team B's members only
    assert team_b["series"]["claim"][-1] == 0 and team_b["series"]["release"][-1] == 1
    assert team_b["series"]["assign"][-4] == 1
    pool = Pool.create(name_zh="清洗池", name_en="Cleansed pool")
    pooled = [c.id for c in Customer.select(Customer.id).order_by(Customer.id).limit(3)]
    Customer.update(pool=pool.id, owner=None).where(Customer.id.in_(pooled)).execute()
    Customer.update(quarantined_at=clock.now()).where(Customer.id == pooled[0]).execute()  # a cleansing's junk
    assert pool_reports.health(admin)["sizes"][pool.id] == 2  # is not counted in its pool


def test_the_pool_pages_show_the_read_models(client, stakes, make_user):
    client.login(make_user("admin"))
    ranking = client.get("/pools/ranking").get_data(as_text=True)
    assert ranking.index("Rep One") < ranking.index("Rep Two") < ranking.index("Rep Three")
    assert client.get("/pools/health").status_code == 200


# ---- service ---------------------------------------------------------------------------------------------

@pytest.fixture
def tickets(make_user, make_team, make_customer):
    team = make_team("客服一组")
    agent = make_user("service", team, full_name="Agent")
    customer = make_customer(owner=make_user("sales"))
    made = []
    for i, (category, resolved, breached, score) in enumerate([
            ("fault", local(2026, 11, 24, 9), False, 5), ("fault", local(2026, 11, 23, 0, 10), True, 3),
            ("complaint", local(2026, 11, 22, 23, 30), False, 2), ("request", local(2026, 11, 2, 12), False, 4),
            ("fault", None, False, None), ("consultation", None, True, None), ("fault", local(2026, 8, 3, 12), False, 1)]):
        t = sv.log_ticket(agent, {"customer_id": str(customer.id), "category": category,
                                  "description": f"第{i}张工单：机器故障"})
        sv.Ticket.update(resolved_at=resolved, breached=breached, satisfaction=score,
                         status="resolved" if resolved else ("in_progress" if i == 5 else "new"),
                         assignee=agent.id if i == 5 else None).where(sv.Ticket.id == t.id).execute()
        made.append(sv.Ticket.get_by_id(t.id))
    return {"agent": agent, "tickets": made}


def _trend_as_before(weeks=12):
    """The view's old query, SQLite's date() and all: the figures the new one must keep."""
    T = sv.Ticket
    start_day = sr.week_start(clock.today()) - dt.timedelta(weeks=weeks - 1)
    since = clock.local_day_start(start_day)
    offset = f"{int(clock.to_local(clock.now()).utcoffset().total_seconds() // 3600):+d} hours"
    week = pw.fn.date(T.resolved_at, offset, "-6 days", "weekday 1").coerce(False)
    rows = (T.select(week.alias("week"), pw.fn.AVG(T.satisfaction), pw.fn.COUNT(T.id))
            .where((T.resolved_at >= since) & T.satisfaction.is_null(False)).group_by(week).tuples())
    buckets = {str(w): (avg, n) for w, avg, n in rows}
    labels, values, counts = [], [], []
    for i in range(weeks):
        day = (start_day + dt.timedelta(weeks=i)).isoformat()
        avg, n = buckets.get(day, (None, 0))
        labels.append(day)
        values.append(round(avg, 2) if avg is not None else None)
        counts.append(n)
    return {"labels": labels, "scores": values, "counts": counts}


@sqlite_only  # the old figures come from SQLite's date() modifiers
def test_satisfaction_trend_gives_the_old_figures_without_sqlite_dates(tickets):
    new = sr.satisfaction_trend()
    assert new == _trend_as_before()
    assert new["labels"][-2:] == ["2026-11-16", "2026-11-23"]
    assert new["scores"][-2:] == [2.0, 4.0] and new["counts"][-2:] == [1, 2]  # Sunday 23:30 is last week
    assert new["scores"][-4] == 4.0 and sum(new["counts"]) == 4  # August is outside the 12 weeks
    assert "fn.date" not in inspect.getsource(sr)  # no engine-specific date functions


def test_compliance_per_category_and_in_total(tickets):
    week = clock.local_day_start(sr.week_start(clock.today()))
    rows = {r["category"]: r for r in sr.compliance(week)}
    assert (rows["fault"]["n"], rows["fault"]["ok"], rows["fault"]["rate"]) == (2, 1, 50)
    assert rows["complaint"]["n"] == 0 and rows["complaint"]["rate"] is None
    assert (rows[""]["n"], rows[""]["ok"], rows[""]["rate"]) == (2, 1, 50)
    last_week = clock.local_day_start(sr.week_start(clock.today()) - dt.timedelta(weeks=1))
    rows = {r["category"]: r for r in sr.compliance(last_week, week)}
    assert (rows["complaint"]["n"], rows["complaint"]["ok"], rows[""]["n"]) == (1, 1, 1)


def test_queue_filters_and_pages(tickets, make_user):
    agent = tickets["agent"]
    f = sr.QueueFilters({}, agent)  # open tickets, newest first
    page = sr.queue_page(agent, f, size=1)
    assert [t.id for t in page["rows"]] == [tickets["tickets"][5].id] and page["next"]
    rest = sr.queue_page(agent, f, after=page["next"], size=5)
    assert [t.id for t in rest["rows"]] == [tickets["tickets"][4].id] and rest["next"] is None
    assert rest["rows"][0].customer_name
    breached = sr.queue_page(agent, sr.QueueFilters({"breached": "1", "status": "all"}, agent))
    assert {t.id for t in breached["rows"]} == {tickets["tickets"][1].id, tickets["tickets"][5].id}
    mine = sr.queue_page(agent, sr.QueueFilters({"mine": "1"}, agent))
    assert [t.id for t in mine["rows"]] == [tickets["tickets"][5].id]
    nobody = sr.queue_page(agent, sr.QueueFilters({"assignee": "none", "category": "fault"}, agent))
    assert [t.id for t in nobody["rows"]] == [tickets["tickets"][4].id]
    assert sr.open_figures() == ({"new": 1, "in_progress": 1}, 1)
