"""The permission matrix of the release clock pauses (issue 20 item 3): the owner asks, the manager of the
customer's team (never on their own customer) or an admin decides; everyone else gets a 404, and a user who
sees the customer without owning it is told so in words, with nothing written."""
import datetime as dt

import pytest

from models import clock
from models.pool_clock import CustomerPause
from tests.test_permissions import (ACTOR, Action, check_action, check_refused, parse_table, pool_customer_key,
                                    pool_world)  # noqa: F401  (pool_world: the fixture)

TODAY = dt.date(2026, 11, 24)
PAUSE_ACTIONS = {
    "pause_request": Action("POST", "/customers/{c}/pause", {"starts_on": "2026-11-30", "ends_on": "2026-12-09",
                                                             "reason": "客户参加广交会，会后再联系"},
                            "pool.pause_requested",
                            lambda i: CustomerPause.select().where((CustomerPause.customer == i["c"])
                                                                   & (CustomerPause.requester == i["me"]))),
    "decide_pause": Action("POST", "/approvals/pauses/{pause}", {"decision": "approve", "reason": "同意，展会后跟进"},
                           "pool.pause_approved",
                           lambda i: CustomerPause.select().where((CustomerPause.id == i["pause"])
                                                                  & (CustomerPause.status == "approved"))),
}
MATRIX_ACTIONS = list(PAUSE_ACTIONS.values())  # tests/test_permissions.py: every route is in a matrix
PAUSE_EXPECTED = parse_table("""
role       relation    pause_request decide_pause
sales      pool_here   R             -
sales      pool_there  -             -
sales      own         Y             -
sales      team_mate   -             -
sales      other_team  -             -
manager    pool_here   R             -
manager    pool_there  -             -
manager    own         Y             -
manager    team_mate   R             Y
manager    other_team  -             -
marketing  pool_here   -             -
marketing  pool_there  -             -
marketing  other_team  -             -
service    pool_here   R             -
service    pool_there  R             -
service    other_team  R             -
admin      pool_here   R             R
admin      pool_there  R             R
admin      other_team  R             Y
""")


@pytest.mark.parametrize("role,relation,action", [
    (role, relation, action) for (role, relation) in PAUSE_EXPECTED for action in PAUSE_ACTIONS])
def test_pause_routes(client, pool_world, role, relation, action):  # noqa: F811
    c = pool_world.customers[pool_customer_key(role, relation)]
    me = pool_world.users[ACTOR[role]]
    ids = {"c": c.id, "me": me.id}
    if action == "decide_pause":
        ids["pause"] = CustomerPause.create(customer=c, requester=c.owner_id or pool_world.users["rep_a"].id,
                                            reason="展会", starts_on=TODAY, ends_on=TODAY + dt.timedelta(days=9),
                                            created_at=clock.now()).id
    client.login(me)
    mark = PAUSE_EXPECTED[(role, relation)][action]
    if mark == "R":
        check_refused(client, PAUSE_ACTIONS[action], ids)
    else:
        check_action(client, PAUSE_ACTIONS[action], ids, allowed=mark == "Y")
