"""Permission matrix of the opportunity and decision-tree routes: role × relation × action, over HTTP.

Deals follow the customer: the owner, the team's manager and admins see and work them; service reads;
pool browsers and marketing see nothing (404, nothing written)."""
import pytest

from models.customers import Contact, save_contact
from models.opportunities import Opportunity, OpportunityStageChange, StageSetting, create_opportunity
from tests.test_permissions import ACTOR, Action, check_action, world  # noqa: F401  (world is a fixture)

OPP_ACTIONS = {
    "view": Action("GET", "/opportunities/{opp}"),
    "edit_form": Action("GET", "/opportunities/{opp}/edit"),
    "edit": Action("POST", "/opportunities/{opp}/edit", {"name": "改名的商机", "amount": "1000",
                                                        "expected_close": "2026-12-31"}, "opportunity.updated",
                   lambda i: Opportunity.select().where((Opportunity.id == i["opp"]) & (Opportunity.name == "改名的商机"))),
    "move_form": Action("GET", "/opportunities/{opp}/move"),
    "move": Action("POST", "/opportunities/{opp}/move", {"stage": "planning"}, "opportunity.stage_changed",
                   lambda i: OpportunityStageChange.select().where((OpportunityStageChange.opportunity == i["opp"])
                                                                   & (OpportunityStageChange.to_stage == "planning"))),
    "probability": Action("POST", "/opportunities/{opp}/probability",
                          {"probability": "15", "probability_reason": "客户预算已批"}, "opportunity.probability_changed",
                          lambda i: Opportunity.select().where((Opportunity.id == i["opp"]) & (Opportunity.probability == 15))),
}
CUSTOMER_ACTIONS = {
    "tab": Action("GET", "/customers/{c}?tab=opportunities"),
    "tree_tab": Action("GET", "/customers/{c}?tab=tree"),
    "tree_page": Action("GET", "/customers/{c}/tree"),
    "new_form": Action("GET", "/customers/{c}/opportunities/new"),
    "new": Action("POST", "/customers/{c}/opportunities/new", {"name": "新商机", "amount": "5000",
                                                               "expected_close": "2026-12-31"}, "opportunity.created",
                  lambda i: Opportunity.select().where((Opportunity.customer == i["c"]) & (Opportunity.name == "新商机"))),
    "node_new_form": Action("GET", "/customers/{c}/tree/nodes/new"),
    "node_new": Action("POST", "/customers/{c}/tree/nodes/new", {"name": "新决策人", "decision_role": "decision_maker",
                                                                 "influence": "high"}, "contact.added",
                       lambda i: Contact.select().where((Contact.customer == i["c"]) & (Contact.name == "新决策人"))),
    "node_edit_form": Action("GET", "/customers/{c}/tree/nodes/{contact}/edit"),
    "node_edit": Action("POST", "/customers/{c}/tree/nodes/{contact}/edit", {"name": "改名的决策人", "attitude": "opponent"},
                        "contact.updated",
                        lambda i: Contact.select().where((Contact.id == i["contact"]) & (Contact.name == "改名的决策人"))),
    "node_move_form": Action("GET", "/customers/{c}/tree/nodes/{contact}/move"),
    "node_move": Action("POST", "/customers/{c}/tree/nodes/{contact}/move", {"reports_to_id": "{boss}"},
                        "contact.updated",
                        lambda i: Contact.select().where((Contact.id == i["contact"]) & (Contact.reports_to == i["boss"]))),
}
ROLE_ACTIONS = {
    "board": Action("GET", "/opportunities"),
    "list": Action("GET", "/opportunities/list"),
    "stats": Action("GET", "/opportunities/stats"),
    "forecast": Action("GET", "/opportunities/forecast"),
    "settings": Action("GET", "/opportunities/settings"),
    "settings_save": Action("POST", "/opportunities/settings", {"prob-project-final": "75"},
                            "opportunity.settings_saved",
                            lambda i: StageSetting.select().where(StageSetting.probability == 75)),
}
MATRIX_ACTIONS = [*OPP_ACTIONS.values(), *CUSTOMER_ACTIONS.values(), *ROLE_ACTIONS.values()]

READ = {"view", "tab", "tree_tab", "tree_page"}
WRITE = set(OPP_ACTIONS) - READ
CREATE = {"new_form", "new"}
TREE = {"node_new_form", "node_new", "node_edit_form", "node_edit", "node_move_form", "node_move"}
ALL = READ | WRITE | CREATE | TREE
NONE = set()

# Relations: the customer (and its opportunity) seen from the role's acting user.
CUSTOMER_OF = {"sales": {"own": "a_rep", "same_team": "a_mgr"}, "manager": {"own": "a_mgr", "same_team": "a_rep"}}
COMMON = {"other_team": "b_rep", "pool": "pool"}
EXPECTED = {
    "sales": {"own": ALL, "same_team": NONE, "other_team": NONE, "pool": NONE},
    "manager": {"own": ALL, "same_team": ALL, "other_team": NONE, "pool": NONE},
    "marketing": {"other_team": NONE, "pool": NONE},
    "service": {"other_team": READ, "pool": READ},
    "admin": {"other_team": ALL, "pool": ALL},
}
ROLE_EXPECTED = {
    # service reads deals on a customer's file, not the pipeline of every team (issue 13)
    "board": {"sales", "manager", "admin"}, "list": {"sales", "manager", "admin"},
    "stats": {"sales", "manager", "admin"}, "forecast": {"sales", "manager", "admin"},
    "settings": {"admin"}, "settings_save": {"admin"},
}


@pytest.fixture
def deals(world):  # noqa: F811
    """An opportunity on every owned customer, and a second contact (a boss to move under) on every customer."""
    admin = world.users["admin"]
    out = {}
    for key, customer in world.customers.items():
        boss = save_contact(admin, customer, {"name": "上级" + key})
        opp = None
        if customer.owner_id:
            opp = create_opportunity(admin, customer, {"name": "商机" + key, "amount": "100000",
                                                       "expected_close": "2026-12-20"})
        out[key] = {"boss": boss.id, "opp": opp.id if opp else 0}
    return out


def ids(world, deals, key):
    return {"c": world.customers[key].id, "contact": world.contacts[key].id, "boss": deals[key]["boss"],
            "opp": deals[key]["opp"]}


@pytest.mark.parametrize("role,relation,action", [
    (role, relation, action) for role, row in EXPECTED.items() for relation in row
    for action in [*OPP_ACTIONS, *CUSTOMER_ACTIONS] if not (relation == "pool" and action in OPP_ACTIONS)])
def test_deal_routes(client, world, deals, role, relation, action):  # noqa: F811
    key = {**COMMON, **CUSTOMER_OF.get(role, {})}[relation]
    client.login(world.users[ACTOR[role]])
    act = {**OPP_ACTIONS, **CUSTOMER_ACTIONS}[action]
    check_action(client, act, ids(world, deals, key), allowed=action in EXPECTED[role][relation])


@pytest.mark.parametrize("role,action", [(role, action) for action in ROLE_ACTIONS for role in EXPECTED])
def test_deal_pages_by_role(client, world, deals, role, action):  # noqa: F811
    client.login(world.users[ACTOR[role]])
    check_action(client, ROLE_ACTIONS[action], ids(world, deals, "a_rep"), allowed=role in ROLE_EXPECTED[action])


def test_the_board_and_list_show_only_the_users_pipeline(client, world, deals):  # noqa: F811
    expected = {"rep_a": {"a_rep"}, "mgr_a": {"a_rep", "a_mgr", "a_left"}, "rep_b": {"b_rep", "b_lead"},
                "admin": {"a_rep", "a_mgr", "b_rep", "b_lead", "a_left"}}
    for who, keys in expected.items():
        client.login(world.users[who])
        for url in ("/opportunities", "/opportunities/list"):
            body = client.get(url).get_data(as_text=True)
            for key in deals:
                if deals[key]["opp"]:
                    assert (f"商机{key}" in body) == (key in keys), (who, url, key)


def test_tables_are_complete():
    assert ALL == set(OPP_ACTIONS) | set(CUSTOMER_ACTIONS)
    assert set(ROLE_EXPECTED) == set(ROLE_ACTIONS)


def test_every_opportunity_on_a_users_board_may_be_opened_and_worked(world, deals):  # noqa: F811
    """scope() (board, list) never shows an opportunity that can() would refuse; service reads only."""
    from models.opportunities import get_opportunity
    from models.permissions import can, scope
    from models.users import User

    for user in User.select().where(User.active == True):  # noqa: E712
        for row in scope("opportunity", user):
            opp = get_opportunity(row.id)
            assert can(user, "opportunity.view", opp), (user.username, opp.name)
            assert can(user, "opportunity.edit", opp) == (user.role != "service"), (user.username, opp.name)
