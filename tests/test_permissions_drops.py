"""Permission matrix of fair drops (issue 20 item 1): role × relation over HTTP for queueing. A seller queues
for a customer waiting for its drop in a pool they may claim from; nobody else, and no customer elsewhere
(another region's pool, an owned customer). Allowed: 2xx and the entry written; denied: 404, nothing written."""
import datetime as dt

import pytest

from models import clock, drops
from models.customer_tables import Customer
from models.ledger import PoolEvent
from tests.test_permissions import ACTOR, Action, check_action, parse_table, pool_world  # noqa: F401

ACTIONS = {
    "queue": Action("POST", "/pools/{c}/queue", {}, row=lambda i: drops.DropEntry.select().where(
        (drops.DropEntry.customer == i["c"]) & (drops.DropEntry.user == i["me"]))),
    # leaving (the entry put there first, whoever the user): the `drop_left` ledger row is the effect
    "leave": Action("POST", "/pools/{c}/queue/leave", {}, row=lambda i: PoolEvent.select().where(
        (PoolEvent.kind == "drop_left") & (PoolEvent.customer == i["c"]) & (PoolEvent.actor == i["me"]))),
}
TABLE = """
role       relation    queue  leave
sales      pool_here   Y      Y
sales      pool_there  -      -
sales      own         -      -
manager    pool_here   Y      Y
manager    pool_there  -      -
manager    own         -      -
marketing  pool_here   -      -
service    pool_here   -      -
admin      pool_here   -      -
admin      pool_there  -      -
"""
EXPECTED = parse_table(TABLE)
MATRIX_ACTIONS = list(ACTIONS.values())
CUSTOMER_OF = {"pool_here": "pool_here", "pool_there": "pool_there", "own": "own_rep"}


@pytest.mark.parametrize("role,relation,action", [
    (role, relation, action) for (role, relation) in EXPECTED for action in ACTIONS])
def test_queueing_for_a_drop(client, pool_world, role, relation, action):  # noqa: F811
    Customer.update(drop_at=clock.now() + dt.timedelta(days=1)).where(
        Customer.id.in_([c.id for c in pool_world.customers.values()])).execute()
    me = pool_world.users[ACTOR[role]]
    customer = pool_world.customers[CUSTOMER_OF[relation] if not (role == "manager" and relation == "own") else "own_mgr"]
    if action == "leave":
        drops.DropEntry.create(customer=customer.id, drop_at=Customer.get_by_id(customer.id).drop_at, user=me.id,
                               created_at=clock.now())
    client.login(me)
    check_action(client, ACTIONS[action], {"c": customer.id, "me": me.id},
                 allowed=EXPECTED[(role, relation)][action] == "Y")
    if EXPECTED[(role, relation)][action] == "Y":
        assert drops.DropEntry.select().count() == (1 if action == "queue" else 0)
