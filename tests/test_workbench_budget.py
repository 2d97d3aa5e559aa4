"""The workbench (`GET /`) stays cheap: a ceiling on the statements each role's page runs (counted through
peewee's query log, as benchmarks/bench.py counts them), so a card cannot silently add queries back; and the
figures the page now counts in fewer statements (the rep's capacity, due count and stages, the team's owned
customers and stages, the admin's people) are the ones the single-purpose functions give."""
import datetime as dt
import re

import pytest
from playhouse.test_utils import count_queries

from models import clock, pools
from models.notifications import notify
from models.pools import CapacityAdjustment
from models import workbench as wb
from models.customers import Customer
from models.users import LoginAttempt

# The statements each page runs on the fixture below, the session's read included (on the benchmark database
# the pages ran 51 / 31 / 17 / 14 before the cards were folded). Lower a ceiling when a change saves one.
CEILING = {"manager": 18, "sales": 13, "marketing": 5, "admin": 6}


@pytest.fixture
def team(make_team, make_user, make_customer):
    t = make_team()
    manager = make_user("manager", t, full_name="Boss")
    t.manager = manager
    t.save()
    reps = [make_user("sales", t, full_name=f"Rep {n}") for n in (1, 2)]
    today = clock.today()
    for i in range(7):
        c = make_customer(owner=reps[i % 2], stage=("target", "prospect", "signed")[i % 3])
        Customer.update(next_followup_on=today - dt.timedelta(days=i - 3), locked=(i == 1),
                        release_at=clock.now() + dt.timedelta(days=i)).where(Customer.id == c.id).execute()
    make_customer(owner=manager)
    # the rep's notification and capacity card read their rows (the probes find some)
    notify(reps[0].id, "capacity", "Your capacity changes by %(delta)s for %(days)s days: %(reason)s",
           delta="+5", days=3, reason="Good month")
    CapacityAdjustment.create(user=reps[0], delta=5, starts_at=clock.now() - dt.timedelta(days=1),
                              ends_at=clock.now() + dt.timedelta(days=2), reason="Good month", created_at=clock.now())
    return {"team": t, "manager": manager, "reps": reps, "marketing": make_user("marketing"),
            "admin": make_user("admin"), "gone": make_user("sales", t, active=False)}


def _page(client, user):
    client.login(user)
    client.get("/")  # a first request may read what later ones have (the session's row, caches)
    with count_queries() as log:
        response = client.get("/")
    assert response.status_code == 200
    return response.get_data(as_text=True), [sql for sql, _params in (q.msg for q in log.get_queries())]


@pytest.mark.parametrize("who", ["manager", "sales", "marketing", "admin"])
def test_workbench_statement_ceiling(client, team, who):
    user = {"manager": team["manager"], "sales": team["reps"][0], "marketing": team["marketing"],
            "admin": team["admin"]}[who]
    _html, sql = _page(client, user)
    assert len(sql) <= CEILING[who], f"{who}'s workbench ran {len(sql)} statements:\n" + "\n".join(sql)
    # the team's users are read once, whatever the cards need of them
    assert sum(1 for s in sql if re.match(r'SELECT .* FROM "user" AS "t1" WHERE \("t1"."team_id" = \?\)', s)) <= 1


def test_rep_figures_match_the_single_counts(client, team):
    rep = team["reps"][0]
    html, _sql = _page(client, rep)
    cap = pools.capacity(rep)
    assert f'{cap["used"]} / {cap["total"]}' in html
    assert f'{cap["locks"]} / {cap["lock_capacity"]}' in html
    due = re.search(r'id="due-today">\s*<h2>[^<]*<span class="count">(\d+)</span>', html)
    assert int(due.group(1)) == wb.rep_due_count(rep) == 2
    assert wb.rep_owned(rep, pools.counted_conditions(pools.rules_mod.in_force(clock.now())))["stages"] == \
        wb.stage_counts(Customer.select().where(Customer.owner == rep.id))


def test_team_figures_match_the_single_counts(client, team):
    html, _sql = _page(client, team["manager"])
    owned, stages = wb.team_owned(team["team"].id)
    assert stages == wb.stage_counts(Customer.select().where(Customer.team == team["team"].id))
    rows = wb.team_activity(team["team"].id)
    assert [r["user"].full_name for r in rows] == ["Boss", "Rep 1", "Rep 2"]  # active members only
    assert [(r["owned"], r["overdue"]) for r in rows] == [(1, 0), (4, 2), (3, 1)]
    assert owned == {team["manager"].id: 1, team["reps"][0].id: 4, team["reps"][1].id: 3}
    for r in rows:
        assert re.search(rf'>{r["user"].full_name}</a></td>\s*<td>{r["followups"]}</td><td>{r["owned"]}</td>', html)
    upcoming, released = wb.team_releases(team["team"].id)
    assert len(upcoming) >= 7 and upcoming[0]["release_at"] <= upcoming[-1]["release_at"] and released == []


def test_probes_answer_each_query(app, team):
    from views import extend

    rep, other = team["reps"][0], team["marketing"]
    owned = Customer.select(Customer.id).where(Customer.owner == rep.id)
    none = Customer.select(Customer.id).where(Customer.owner == other.id)
    assert extend.exists(owned, [none, owned], none) == [True, [False, True], False]
    assert extend.exists() == []


def test_admin_counts(client, team):
    LoginAttempt.create(username="x", at=clock.now(), success=False, address="1.2.3.4")
    counts = wb.admin_counts()
    assert counts["inactive"] == 1 and counts["failed_logins"] == 1
    assert counts["users"]["sales"] == 2 and counts["users"]["manager"] == 1


def test_kept_probes_answer_as_their_queries(app, team):
    from views import extend

    rep, other = team["reps"][0], team["marketing"]
    owned = lambda owner: Customer.select(Customer.id).where(Customer.owner == owner)  # noqa: E731
    for _ in range(2):  # built, then kept
        kept = [extend.kept_probe("test-owned", owned, user.id) for user in (rep, other)]
        assert extend.exists(*kept, [kept[1], owned(rep.id)]) == [True, False, [False, True]]
    # a value no mark stands for (None): the query itself, asked as it is
    assert extend.exists(extend.kept_probe("test-none", owned, None)) == [False]
