"""Permission matrix of the dashboards and the to-do centre (issue 16 items 5 and 6): managers and admins see
the dashboards (a manager their team's: models/dashboards.team_of, tests/test_dashboards.py), every role has a
to-do centre and its badge. Allowed: 2xx; denied: 404 for a plain and an htmx request."""
import pytest

from tests.test_permissions import ACTOR, ROLES, Action, check_action, parse_table, world  # noqa: F401

ROLE_ACTIONS = {
    "dashboards": Action("GET", "/dashboards"),
    "dashboards_month": Action("GET", "/dashboards?grain=m&team=1"),
    "moves": Action("GET", "/dashboards/moves?stage=intent&move=promoted"),
    "todo": Action("GET", "/todo"),
    "todo_badge": Action("GET", "/todo/badge"),
}
ROLE_TABLE = """
role       relation dashboards dashboards_month moves todo todo_badge
sales      -        -          -                -     Y    Y
manager    -        Y          Y                Y     Y    Y
marketing  -        -          -                -     Y    Y
service    -        -          -                -     Y    Y
admin      -        Y          Y                Y     Y    Y
"""

MATRIX_ACTIONS = [*ROLE_ACTIONS.values()]
ROLE_EXPECTED = parse_table(ROLE_TABLE)


@pytest.mark.parametrize("role,action", [(role, action) for role in ROLES for action in ROLE_ACTIONS])
def test_dashboard_routes(client, world, role, action):
    client.login(world.users[ACTOR[role]])
    check_action(client, ROLE_ACTIONS[action], {}, allowed=ROLE_EXPECTED[(role, "-")][action] == "Y")


def test_table_is_complete():
    assert {role for role, _ in ROLE_EXPECTED} == set(ROLES)
    assert all(set(row) == set(ROLE_ACTIONS) for row in ROLE_EXPECTED.values())
