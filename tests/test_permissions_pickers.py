"""Permission matrix of the type-ahead person picker (issue 13 point 7): GET /people/pick answers a field's
matches to those who may use the field and 404 to the rest — the customer list's owner filter for a team's
manager and those who filter across teams, the deal board's for managers and admins (service has no board), a leaver's
targets for the leaver's manager and admins. Delegates and project colleagues are names any user may look up."""
import pytest

from tests.test_permissions import ACTOR, ROLES, Action, check_action, parse_table, world  # noqa: F401

ROLE_ACTIONS = {
    "seller": Action("GET", "/people/pick?field=seller&q=a"),
    "colleague": Action("GET", "/people/pick?field=colleague&q=a"),
    "owner": Action("GET", "/people/pick?field=owner&q=a"),
    "opportunity_owner": Action("GET", "/people/pick?field=opportunity_owner&q=a"),
    "leaver": Action("GET", "/people/pick?field=leaver&for={leaver}&q=a"),
    "leaver_no_one": Action("GET", "/people/pick?field=leaver&q=a"),
    "unknown_field": Action("GET", "/people/pick?field=everyone&q=a"),
}
ROLE_TABLE = """
role       relation seller colleague owner opportunity_owner leaver leaver_no_one unknown_field
sales      -        Y      Y         -     -                 -      -             -
manager    -        Y      Y         Y     Y                 Y      -             -
marketing  -        Y      Y         Y     -                 -      -             -
service    -        Y      Y         Y     -                 -      -             -
admin      -        Y      Y         Y     Y                 Y      -             -
"""

MATRIX_ACTIONS = [*ROLE_ACTIONS.values()]
ROLE_EXPECTED = parse_table(ROLE_TABLE)


@pytest.mark.parametrize("role,action", [(role, action) for role in ROLES for action in ROLE_ACTIONS])
def test_person_picker_fields(client, world, role, action):
    client.login(world.users[ACTOR[role]])
    # The leaver is rep_a of team A: mgr_a leads that team.
    check_action(client, ROLE_ACTIONS[action], {"leaver": world.users["rep_a"].id},
                 allowed=ROLE_EXPECTED[(role, "-")][action] == "Y")


def test_tables_are_complete():
    assert {role for role, _ in ROLE_EXPECTED} == set(ROLES)
    assert all(set(row) == set(ROLE_ACTIONS) for row in ROLE_EXPECTED.values())
