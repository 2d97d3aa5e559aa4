"""Permission matrix of the fairness figures and flags (issue 20 items 5 and 6): a team's manager sees the
team's figures and reviews its flags, an admin every team's; a rep sees only their own figures (no team page,
no flag). Allowed: 2xx/3xx and the row written; denied: 404 for a plain and an htmx request, nothing written."""
import pytest

from models import clock
from models import fairness as fm
from tests.test_permissions import ACTOR, ROLES, Action, check_action, parse_table, world  # noqa: F401


def _reviewed(flag_key):
    return lambda i: fm.FairFlag.select().where((fm.FairFlag.id == i[flag_key]) & (fm.FairFlag.status == "reviewed"))


ROLE_ACTIONS = {
    "index": Action("GET", "/fairness"),
    "index_team": Action("GET", "/fairness?team={team_b}&span=quarter&status=reviewed"),
    "mine": Action("GET", "/fairness/mine?span=year"),
    "flag_a": Action("GET", "/fairness/flags/{fa}"),
    "flag_b": Action("GET", "/fairness/flags/{fb}"),
    "review_a": Action("POST", "/fairness/flags/{fa}/review", {"note": "已与两位销售核实，属正常交接"}, "fairness.reviewed",
                       _reviewed("fa")),
    "review_b": Action("POST", "/fairness/flags/{fb}/review", {"note": "已核实"}, "fairness.reviewed", _reviewed("fb")),
}
ROLE_TABLE = """
role       relation index index_team mine flag_a flag_b review_a review_b
sales      -        -     -          Y    -      -      -        -
manager    -        Y     Y          Y    Y      -      Y        -
marketing  -        -     -          -    -      -      -        -
service    -        -     -          -    -      -      -        -
admin      -        Y     Y          -    Y      Y      Y        Y
"""

MATRIX_ACTIONS = [*ROLE_ACTIONS.values()]
ROLE_EXPECTED = parse_table(ROLE_TABLE)


def _flag(world, team_key, rep_key, key):
    now = clock.now()
    return fm.FairFlag.create(kind="claim_burst", team_id=world.teams[team_key].id, rep=world.users[rep_key].id,
                              customer=world.customers["pool"].id, evidence={"customers": [world.customers["pool"].id]},
                              first_at=now, last_at=now, detected_at=now, dedupe_key=key)


@pytest.mark.parametrize("role,action", [(role, action) for role in ROLES for action in ROLE_ACTIONS])
def test_fairness_routes(client, world, role, action):
    fa, fb = _flag(world, "a", "rep_a", "t:a"), _flag(world, "b", "rep_b", "t:b")
    client.login(world.users[ACTOR[role]])
    check_action(client, ROLE_ACTIONS[action], {"fa": fa.id, "fb": fb.id, "team_b": world.teams["b"].id},
                 allowed=ROLE_EXPECTED[(role, "-")][action] == "Y")


def test_table_is_complete():
    assert {role for role, _ in ROLE_EXPECTED} == set(ROLES)
    assert all(set(row) == set(ROLE_ACTIONS) for row in ROLE_EXPECTED.values())
