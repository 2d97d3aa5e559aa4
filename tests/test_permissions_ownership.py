"""Permission matrix of the ownership-dispute routes (issue 5): merges, conflict cases, delegations.
Every user of the shared world × every route: allowed (effect written), refused with a message (200/409,
nothing written) or 404 (nothing written); plus can() == visible() while a delegation runs."""
import datetime as dt

import pytest

from models import clock
from models.conflicts import ConflictCase, open_case
from models.customers import Customer
from models.delegations import Delegation, create_delegation
from models.merges import CustomerMerge
from models.permissions import can, visible
from models.users import User
from tests.test_permissions import NAMES, Action, check_action, db_state, perform, world  # noqa: F401

REASON = "我三个月前就拜访过这家公司的老板，有拜访记录"
TOMORROW = (clock.to_local(dt.datetime(2026, 11, 24, 2)).date() + dt.timedelta(days=1)).isoformat()

ACTIONS = {
    "conflicts": Action("GET", "/conflicts"),
    "conflicts_open": Action("GET", "/conflicts?status=open"),
    # from the duplicate warning: the link carries the name the rep typed, the server checks the match
    "conflict_new_form": Action("GET", "/conflicts/new?customer={b_rep}&name=" + NAMES["b_rep"]),
    "conflict_new": Action("POST", "/conflicts/new", {"customer": "{b_lead}", "name": NAMES["b_lead"], "reason": REASON},
                           "conflict.opened", lambda i: ConflictCase.select().where(
                               (ConflictCase.customer == i["b_lead"]) & (ConflictCase.claimant == i["me"]))),
    # a bare id (no match shown to the rep): as if it did not exist, unless the rep may open the customer
    "conflict_new_form_bare": Action("GET", "/conflicts/new?customer={b_rep}"),
    "conflict_new_bare": Action("POST", "/conflicts/new", {"customer": "{b_lead}", "reason": REASON},
                                "conflict.opened", lambda i: ConflictCase.select().where(
                                    (ConflictCase.customer == i["b_lead"]) & (ConflictCase.claimant == i["me"]))),
    "case_cross": Action("GET", "/conflicts/{case_cross}"),
    "case_team": Action("GET", "/conflicts/{case_team}"),
    "rule_cross": Action("POST", "/conflicts/{case_cross}/rule", {"outcome": "owner", "reason": "客户一直由对方维护"},
                         "conflict.ruled", lambda i: ConflictCase.select().where(
                             (ConflictCase.id == i["case_cross"]) & (ConflictCase.status == "closed"))),
    "rule_team": Action("POST", "/conflicts/{case_team}/rule", {"outcome": "owner", "reason": "客户一直由对方维护"},
                        "conflict.ruled", lambda i: ConflictCase.select().where(
                            (ConflictCase.id == i["case_team"]) & (ConflictCase.status == "closed"))),
    "merges": Action("GET", "/merges"),
    "merge_form": Action("GET", "/merges/new?loser={pool}&survivor={lead}"),
    "merge": Action("POST", "/merges/new", {"loser": "{pool}", "survivor": "{lead}", "reason": "同一家公司"},
                    "customer.merged", lambda i: CustomerMerge.select().where(CustomerMerge.loser_id == i["pool"])),
    "card_a_rep": Action("GET", "/merges/customer/{a_rep}/card"),
    "delegations": Action("GET", "/delegations"),
    "delegate_for_rep_a": Action("POST", "/delegations/new",
                                 {"absentee_id": "{rep_a}", "delegate_id": "{rep_a2}", "starts_on": "2026-12-10",
                                  "ends_on": "2026-12-12"}, "delegation.created",
                                 lambda i: Delegation.select().where((Delegation.absentee == i["rep_a"])
                                                                     & (Delegation.starts_on == "2026-12-10"))),
    "delegation_cancel": Action("POST", "/delegations/{deleg}/cancel", {}, "delegation.cancelled",
                                lambda i: Delegation.select().where((Delegation.id == i["deleg"])
                                                                    & Delegation.cancelled_at.is_null(False))),
    "delegated_customers": Action("GET", "/delegations/{deleg}/customers"),
}
MATRIX_ACTIONS = list(ACTIONS.values())

USERS = ("rep_a", "rep_a2", "mgr_a", "rep_b", "mgr_b", "marketing", "service", "admin")
# Y allowed · R refused with a message (nothing written) · - 404 (nothing written)
TABLE = """
action               rep_a rep_a2 mgr_a rep_b mgr_b marketing service admin
conflicts            Y     Y      Y     Y     Y     -         -       Y
conflicts_open       Y     Y      Y     Y     Y     -         -       Y
conflict_new_form    Y     Y      Y     R     -     -         -       -
conflict_new         Y     Y      Y     R     -     -         -       -
conflict_new_form_bare -   -      -     R     -     -         -       -
conflict_new_bare    -     -      -     R     -     -         -       -
case_cross           Y     -      Y     Y     Y     -         -       Y
case_team            Y     Y      Y     -     -     -         -       Y
rule_cross           -     -      -     -     -     -         -       Y
rule_team            -     -      Y     -     -     -         -       Y
merges               -     -      -     -     -     -         -       Y
merge_form           -     -      -     -     -     -         -       Y
merge                -     -      -     -     -     -         -       Y
card_a_rep           Y     Y      Y     -     -     -         Y       Y
delegations          Y     Y      Y     Y     Y     -         -       Y
delegate_for_rep_a   Y     -      Y     -     -     -         -       Y
delegation_cancel    Y     Y      Y     -     -     -         -       Y
delegated_customers  Y     Y      Y     -     -     -         -       Y
"""
EXPECTED = {}
for line in TABLE.strip().splitlines()[1:]:
    name, *marks = line.split()
    EXPECTED[name] = dict(zip(USERS, marks))


@pytest.fixture
def own_world(world, make_user):  # noqa: F811
    """The shared world plus a second rep in team A, a cross-team and a same-team case, and a delegation
    rep_a → rep_a2 that runs today (so rep_a2 sees rep_a's customers)."""
    users = dict(world.users, rep_a2=make_user("sales", world.teams["a"]))
    case_cross = open_case(users["rep_a"], world.customers["b_rep"].id, REASON,
                           seen={"name": world.customers["b_rep"].name})
    case_team = open_case(users["rep_a2"], world.customers["a_rep"].id, REASON,
                          seen={"name": world.customers["a_rep"].name})
    deleg = create_delegation(users["rep_a"], {"delegate_id": users["rep_a2"].id, "starts_on": clock.today().isoformat(),
                                               "ends_on": TOMORROW})
    ids = {key: c.id for key, c in world.customers.items()}
    ids.update(case_cross=case_cross.id, case_team=case_team.id, deleg=deleg.id, rep_a=users["rep_a"].id,
               rep_a2=users["rep_a2"].id)
    return users, ids


def check_refused(client, action, ids):
    before = db_state()
    for htmx in (False, True):
        response = perform(client, action, ids, htmx=htmx)
        assert response.status_code in (200, 409), response.status_code
        assert "refusal" in response.get_data(as_text=True)
    assert db_state() == before


@pytest.mark.parametrize("who,action", [(who, action) for action in ACTIONS for who in USERS])
def test_ownership_routes(client, own_world, who, action):
    users, ids = own_world
    ids = dict(ids, me=users[who].id)
    client.login(users[who])
    mark = EXPECTED[action][who]
    if mark == "R":
        check_refused(client, ACTIONS[action], ids)
    else:
        check_action(client, ACTIONS[action], ids, allowed=mark == "Y")


def test_table_is_complete():
    assert set(EXPECTED) == set(ACTIONS)
    assert all(set(row) == set(USERS) for row in EXPECTED.values())


def test_can_view_agrees_with_visible_while_a_delegation_runs(own_world):
    users, ids = own_world
    disagree = []
    for user in User.select():
        shown = {c.id for c in visible(Customer.select(), user)}
        for customer in Customer.select():
            for action in ("customer.view",):
                if can(user, action, customer) != (customer.id in shown):
                    disagree.append((user.username, customer.name))
    assert disagree == []
    delegate = User.get_by_id(users["rep_a2"].id)
    assert ids["a_rep"] in {c.id for c in visible(Customer.select(), delegate)}
    assert can(delegate, "customer.edit", Customer.get_by_id(ids["a_rep"]))


def test_invisible_or_missing_records_are_404(client, own_world):
    users, ids = own_world
    client.login(users["rep_b"])
    before = db_state()
    for url in ("/conflicts/999999", "/conflicts/99999999999999999999", f"/merges/customer/{ids['a_rep']}/card",
                f"/delegations/{ids['deleg']}/customers", "/conflicts/new?customer=999999", "/conflicts/new?customer=abc"):
        assert client.get(url).status_code == 404, url
    for url in ("/conflicts/999999/rule", f"/delegations/{ids['deleg']}/cancel", "/delegations/999999/cancel"):
        assert client.post(url, {"outcome": "owner", "reason": "x"}).status_code == 404, url
    assert db_state() == before
