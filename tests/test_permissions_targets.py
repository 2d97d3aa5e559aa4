"""Permission matrix of targets and performance (issue 16 items 1 and 4): a team's manager sets and reads its
targets (never another team's), an admin every team's and the kinds; reps read their own shares and their own
performance beside the team average; marketing and service see none of it. Allowed: 2xx/3xx and the row
written; denied: 404 for a plain and an htmx request, nothing written."""
import pytest

from models import clock
from models import targets as tm
from tests.test_permissions import ACTOR, ROLES, Action, check_action, parse_table, world  # noqa: F401

ROLE_ACTIONS = {
    "targets": Action("GET", "/targets"),
    "targets_team_b": Action("GET", "/targets?team={team_b}"),
    "form": Action("GET", "/targets/edit?team={team_a}&kind={kind}&period=2026-12"),
    "set": Action("POST", "/targets/edit", {"team": "{team_a}", "kind": "{kind}", "period": "2026-12", "amount": "0",
                                            "version": "0"}, "target.set",
                  lambda i: tm.Target.select().where((tm.Target.team == i["team_a"]) & (tm.Target.period == "month"))),
    "set_team_b": Action("POST", "/targets/edit", {"team": "{team_b}", "kind": "{kind}", "period": "2026-12",
                                                   "amount": "0", "version": "0"}, "target.set",
                         lambda i: tm.Target.select().where(tm.Target.team == i["team_b"])),
    "history": Action("GET", "/targets/{target}/history"),
    "kinds": Action("GET", "/targets/kinds"),
    "kind_new": Action("POST", "/targets/kinds", {"measure": "claims", "label_zh": "公海领取", "label_en": "Claims"},
                       "target.kind_saved", lambda i: tm.TargetKind.select().where(tm.TargetKind.measure == "claims")),
    "kind_edit": Action("POST", "/targets/kinds/{kind}", {"label_zh": "销售额", "label_en": "Sales", "active": "1"},
                        "target.kind_saved", lambda i: tm.TargetKind.select().where(tm.TargetKind.label_en == "Sales")),
    "performance": Action("GET", "/performance"),
    "performance_team_b": Action("GET", "/performance?team={team_b}&period=2026-Q4"),
    "performance_all": Action("GET", "/performance?team=all&sort=revenue"),
}
ROLE_TABLE = """
role       relation targets targets_team_b form set set_team_b history kinds kind_new kind_edit performance performance_team_b performance_all
sales      -        Y       Y              -    -   -          -       -     -        -         Y           Y                  Y
manager    -        Y       -              Y    Y   -          Y       -     -        -         Y           -                  Y
marketing  -        -       -              -    -   -          -       -     -        -         -           -                  -
service    -        -       -              -    -   -          -       -     -        -         -           -                  -
admin      -        Y       Y              Y    Y   Y          Y       Y     Y        Y         Y           Y                  Y
"""
# A rep's /targets and /performance show their own figures whatever team is asked for (the parameter is
# ignored, no colleague is shown); a manager asking for another team's gets a 404.
MATRIX_ACTIONS = [*ROLE_ACTIONS.values()]
ROLE_EXPECTED = parse_table(ROLE_TABLE)


@pytest.mark.parametrize("role,action", [(role, action) for role in ROLES for action in ROLE_ACTIONS])
def test_target_role_routes(client, world, role, action):
    kind = tm.TargetKind.get(tm.TargetKind.key == "revenue")
    target = tm.Target.create(team=world.teams["a"].id, kind=kind.id, period="year", starts_on="2026-01-01",
                              amount=0, version=1, updated_at=clock.now())
    client.login(world.users[ACTOR[role]])
    ids = {"team_a": world.teams["a"].id, "team_b": world.teams["b"].id, "kind": kind.id, "target": target.id}
    check_action(client, ROLE_ACTIONS[action], ids, allowed=ROLE_EXPECTED[(role, "-")][action] == "Y")


def test_tables_are_complete():
    assert {role for role, _ in ROLE_EXPECTED} == set(ROLES)
    assert all(set(row) == set(ROLE_ACTIONS) for row in ROLE_EXPECTED.values())
