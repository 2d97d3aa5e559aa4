"""Permission matrix of pool cleansing (issue 17 item 4): role × relation × action over HTTP. Admins start,
normalise and close campaigns and restore quarantined records; sellers open the campaigns; a task opens for
its team (and admins) and is classified by the rep it was given to, by any member when it was given to the
team, by the team's manager and by admins. Allowed: 2xx/3xx and the row written; denied: 404 for a plain
and an htmx request, nothing written. (A teammate classifying another rep's record gets a 409 naming the
holder: tests/test_cleansing.py.)"""
import pytest

from models import clock
from models import cleansing as cm
from models.customer_tables import Customer, Pool
from tests.test_permissions import ACTOR, ROLES, Action, check_action, parse_table, world  # noqa: F401

ROLE_ACTIONS = {
    "index": Action("GET", "/cleansing"),
    "start": Action("POST", "/cleansing", {"name": "清洗", "pool_id": "{pool}", "split": "team"}, "cleansing.started",
                    lambda i: cm.CleansingCampaign.select().where(cm.CleansingCampaign.id != i["camp"])),
    "campaign": Action("GET", "/cleansing/{camp}"),
    "campaign_done": Action("GET", "/cleansing/{camp}?status=done&verdict=junk&mine=1"),
    "normalise": Action("POST", "/cleansing/{camp}/normalise", {}, "cleansing.normalised"),
    "close": Action("POST", "/cleansing/{camp}/close", {}, "cleansing.closed",
                    lambda i: cm.CleansingCampaign.select().where(cm.CleansingCampaign.status == "closed")),
    "restore": Action("POST", "/cleansing/tasks/{junk}/restore", {"reason": "仍在经营"}, "cleansing.restored",
                      lambda i: cm.CleansingTask.select().where((cm.CleansingTask.id == i["junk"])
                                                                & cm.CleansingTask.restored_at.is_null(False))),
}
ROLE_TABLE = """
role       relation index start campaign campaign_done normalise close restore
sales      -        Y     -     Y        Y             -         -     -
manager    -        Y     -     Y        Y             -         -     -
marketing  -        -     -     -        -             -         -     -
service    -        -     -     -        -             -         -     -
admin      -        Y     Y     Y        Y             Y         Y     Y
"""

TASK_ACTIONS = {
    "task_page": Action("GET", "/cleansing/tasks/{t}"),
    "classify": Action("POST", "/cleansing/tasks/{t}", {"verdict": "doubtful", "note": "电话无人接听"},
                       "cleansing.classified", lambda i: cm.CleansingTask.select().where(
                           (cm.CleansingTask.id == i["t"]) & (cm.CleansingTask.status == "done"))),
}
# a_rep: given to rep_a; a_team: given to team A; b_rep: given to rep_b (team B)
TASK_TABLE = """
role       relation task_page classify
sales      a_rep    Y         Y
sales      a_team   Y         Y
sales      b_rep    -         -
manager    a_rep    Y         Y
manager    a_team   Y         Y
manager    b_rep    -         -
marketing  a_rep    -         -
service    a_team   -         -
admin      a_rep    Y         Y
admin      b_rep    Y         Y
"""
MATRIX_ACTIONS = [*ROLE_ACTIONS.values(), *TASK_ACTIONS.values()]
ROLE_EXPECTED, TASK_EXPECTED = parse_table(ROLE_TABLE), parse_table(TASK_TABLE)


@pytest.fixture
def camp(world, make_customer):
    pool = Pool.select().order_by(Pool.id).first()
    customers = {k: make_customer(name=f"清洗测试{k}有限公司") for k in ("a_rep", "a_team", "b_rep", "junk", "spare")}
    Customer.update(pool=pool.id, owner=None, team=None).where(
        Customer.id.in_([c.id for c in customers.values()])).execute()
    now = clock.now()
    c = cm.CleansingCampaign.create(name="公海清洗", pool=pool.id, split="rep", min_fields=["phone"],
                                    created_at=now, total=4)
    u = world.users
    team_a, team_b = u["rep_a"].team_id, u["rep_b"].team_id
    holders = {"a_rep": (team_a, u["rep_a"].id), "a_team": (team_a, None), "b_rep": (team_b, u["rep_b"].id),
               "junk": (team_a, u["rep_a"].id)}
    tasks = {k: cm.CleansingTask.create(campaign=c.id, customer_id=customers[k].id, team=team, assignee=who)
             for k, (team, who) in holders.items()}
    for team in (team_a, team_b):
        cm.CleansingTally.create(campaign=c.id, team=team, region=0, total=2)
    cm.classify_record(u["admin"], tasks["junk"], "junk", note="空壳公司")
    return {"camp": c.id, "pool": pool.id, "tasks": {k: t.id for k, t in tasks.items()}}


@pytest.mark.parametrize("role,action", [(role, action) for role in ROLES for action in ROLE_ACTIONS])
def test_cleansing_role_routes(client, world, camp, role, action):
    client.login(world.users[ACTOR[role]])
    check_action(client, ROLE_ACTIONS[action], {"camp": camp["camp"], "pool": camp["pool"], "junk": camp["tasks"]["junk"]},
                 allowed=ROLE_EXPECTED[(role, "-")][action] == "Y")


@pytest.mark.parametrize("role,relation,action", [
    (role, relation, action) for (role, relation) in TASK_EXPECTED for action in TASK_ACTIONS])
def test_cleansing_task_routes(client, world, camp, role, relation, action):
    client.login(world.users[ACTOR[role]])
    check_action(client, TASK_ACTIONS[action], {"t": camp["tasks"][relation]},
                 allowed=TASK_EXPECTED[(role, relation)][action] == "Y")


def test_tables_are_complete():
    assert {role for role, _ in ROLE_EXPECTED} == set(ROLES)
    assert all(set(row) == set(ROLE_ACTIONS) for row in ROLE_EXPECTED.values())
    assert all(set(row) == set(TASK_ACTIONS) for row in TASK_EXPECTED.values())
