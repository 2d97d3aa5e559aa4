"""Permission matrix of a rep's day (issue 16): visit plans and daily reports over HTTP. A seller plans,
carries out, rolls and closes their own items and files their own report; their team's manager sees the
plans and reads, comments and marks the reports read; admins see all; marketing and service nothing.
Allowed: 2xx/3xx and the row written; denied: 404 for a plain and an htmx request, nothing written."""
import datetime as dt

import pytest

from models import daily_reports as dr
from models import plans as pm
from tests.test_permissions import ACTOR, ROLES, Action, check_action, parse_table, world  # noqa: F401

REPORT = "上门拜访采购经理，确认了明年面料需求和报价时间表"
TODAY = dt.date(2026, 11, 24)

ACTIONS = {
    "calendar": Action("GET", "/plans/"),
    "calendar_of": Action("GET", "/plans/?rep={rep}&view=day&day=2026-11-25"),
    "new_form": Action("GET", "/plans/new?customer_id={c}"),
    "new": Action("POST", "/plans/new", {"customer_id": "{own_c}", "day": "2026-11-26", "objective": "回访需求"}, "plan.added",
                  lambda i: pm.PlanItem.select().where(pm.PlanItem.day == dt.date(2026, 11, 26))),
    "customer_options": Action("GET", "/plans/customer-options?q=锦绣坊"),
    "contact_options": Action("GET", "/plans/contact-options?customer_id={c}"),
    "carry_out_form": Action("GET", "/plans/{i}/carry-out"),
    "carry_out": Action("POST", "/plans/{i}/carry-out", {"type": "visit", "content": REPORT}, "plan.done",
                        lambda i: pm.PlanItem.select().where((pm.PlanItem.id == i["i"]) & (pm.PlanItem.status == "done"))),
    "roll": Action("POST", "/plans/{i}/roll", {}, "plan.rolled",
                   lambda i: pm.PlanItem.select().where(pm.PlanItem.rolled_from == i["i"])),
    "close_form": Action("GET", "/plans/{i}/close"),
    "close": Action("POST", "/plans/{i}/close", {"reason": "客户出差"}, "plan.closed",
                    lambda i: pm.PlanItem.select().where((pm.PlanItem.id == i["i"]) & (pm.PlanItem.status == "closed"))),
    "team_plans": Action("GET", "/plans/team"),
    "my_reports": Action("GET", "/reports/"),
    "report_page": Action("GET", "/reports/{rep}/2026-11-23"),
    "file_own": Action("POST", "/reports/{me}/2026-11-24", {"opinions": "客户满意"}, "report.filed",
                       lambda i: dr.DailyReport.select().where(dr.DailyReport.rep == i["me"])),
    "read": Action("POST", "/reports/{r}/read", {}, "report.read",
                   lambda i: dr.DailyReport.select().where((dr.DailyReport.id == i["r"]) & dr.DailyReport.read_at.is_null(False))),
    "comment": Action("POST", "/reports/{r}/comments", {"body": "明天一起去"}, "report.commented",
                      lambda i: dr.ReportComment.select().where(dr.ReportComment.report == i["r"])),
    "team_reports": Action("GET", "/reports/team"),
    "news": Action("GET", "/reports/news?q=鸿运"),
}
# relation: whose item / report / calendar the actor reaches: team A's rep (rep_a), or team B's (rep_b).
# `new` plans on a customer the actor works; a customer they do not is an inline message (tests/test_plans.py),
# and the contact picker answers an empty list for one (no 404: it is a form helper).
TABLE = """
role      relation  calendar calendar_of new_form new customer_options contact_options carry_out_form carry_out roll close_form close team_plans my_reports report_page file_own read comment team_reports news
sales     team_a    Y        Y           Y        Y   Y                Y               Y              Y         Y    Y          Y     -          Y          Y           Y        -    -       -            Y
sales     team_b    Y        -           Y        Y   Y                Y               -              -         -    -          -     -          Y          -           Y        -    -       -            Y
manager   team_a    Y        Y           Y        Y   Y                Y               -              -         -    -          -     Y          Y          Y           Y        Y    Y       Y            Y
manager   team_b    Y        -           Y        Y   Y                Y               -              -         -    -          -     Y          Y          -           Y        -    -       Y            Y
marketing team_a    -        -           -        -   -                -               -              -         -    -          -     -          -          -           -        -    -       -            -
service   team_a    -        -           -        -   -                -               -              -         -    -          -     -          -          -           -        -    -       -            -
admin     team_a    Y        Y           -        -   -                -               -              -         -    -          -     Y          -          Y           -        Y    Y       Y            Y
"""
EXPECTED = parse_table(TABLE)
MATRIX_ACTIONS = list(ACTIONS.values())
ACTING = {("sales", "team_b"): "rep_b", ("manager", "team_b"): "mgr_b"}


@pytest.mark.parametrize("role,relation,action", [(r, rel, a) for (r, rel) in EXPECTED for a in ACTIONS])
def test_rep_day_routes(client, world, role, relation, action):
    rep, customer = world.users["rep_a"], world.customers["a_rep"]
    item = pm.PlanItem.create(rep=rep, day=TODAY + dt.timedelta(days=1), customer=customer, objective="确认需求",
                              created_at=dt.datetime(2026, 11, 23))
    report = dr.DailyReport.create(rep=rep, day=TODAY - dt.timedelta(days=1), filed_at=dt.datetime(2026, 11, 23),
                                   updated_at=dt.datetime(2026, 11, 23))
    dr.CompetitorNews.create(report=report, competitor="鸿运纺织", note="报价低", day=report.day)
    actor = world.users[ACTING.get((role, relation), ACTOR[role])]
    client.login(actor)
    own_c = world.customers["b_rep" if relation == "team_b" else "a_rep"].id  # one the actor may plan on
    ids = {"rep": rep.id, "c": customer.id, "i": item.id, "r": report.id, "me": actor.id, "own_c": own_c}
    check_action(client, ACTIONS[action], ids, allowed=EXPECTED[(role, relation)][action] == "Y")


def test_a_manager_filing_a_team_reps_report_hears_why_not(client, world):
    client.login(world.users["mgr_a"])
    r = client.post(f"/reports/{world.users['rep_a'].id}/2026-11-24", {"opinions": "代写"}, htmx=True)
    assert r.status_code == 409 and "You can file only your own daily report." in r.get_data(as_text=True)
    assert dr.DailyReport.select().count() == 0


def test_table_is_complete():
    assert {role for role, _ in EXPECTED} == set(ROLES)
    assert all(set(row) == set(ACTIONS) for row in EXPECTED.values())
