"""Permission matrix of issue 17 items 5–7: the job change of a contact (an edit of the contact's customer),
the group page (whoever opens one of its entities), the group's owner and the completeness weights (admins).
Allowed: 2xx/3xx and the row written; denied: 404 for a plain and an htmx request, nothing written."""
import pytest

from models.audit import AuditEvent
from models.completeness import save_weights
from models.customer_tables import CompletenessWeight, Contact, Customer, CustomerGroup
from tests.test_permissions import ACTOR, COMMON, CUSTOMER_OF, ROLES, Action, check_action, parse_table, world  # noqa: F401

CUSTOMER_ACTIONS = {
    "job_change_form": Action("GET", "/customers/{c}/contacts/{contact}/job-change"),
    "job_change_lookup": Action("GET", "/customers/{c}/contacts/{contact}/job-change/lookup?company=锦绣"),
    "job_change": Action("POST", "/customers/{c}/contacts/{contact}/job-change",
                         {"company": "宁波新东家服饰有限公司", "title": "采购总监"}, "contact.left_for",
                         lambda i: Contact.select().where((Contact.id == i["contact"]) & (Contact.active == False))),  # noqa: E712
    "group_page": Action("GET", "/groups/{g}"),
}
# relation: own / same_team (the actor's, for sellers), other_team, unowned_lead (prospect), unowned_target
CUSTOMER_TABLE = """
role       relation        job_change_form job_change_lookup job_change group_page
sales      own             Y               Y                 Y          Y
sales      same_team       -               -                 -          -
sales      other_team      -               -                 -          -
sales      unowned_lead    -               -                 -          -
sales      unowned_target  -               -                 -          -
manager    own             Y               Y                 Y          Y
manager    same_team       Y               Y                 Y          Y
manager    other_team      -               -                 -          -
manager    unowned_lead    -               -                 -          -
manager    unowned_target  -               -                 -          -
marketing  other_team      -               -                 -          -
marketing  unowned_lead    Y               Y                 Y          Y
marketing  unowned_target  -               -                 -          -
service    other_team      -               -                 -          Y
service    unowned_lead    -               -                 -          Y
service    unowned_target  -               -                 -          Y
admin      other_team      Y               Y                 Y          Y
admin      unowned_lead    Y               Y                 Y          Y
admin      unowned_target  Y               Y                 Y          Y
"""

ROLE_ACTIONS = {
    "weights_page": Action("GET", "/admin/completeness?model=key_account"),
    "weights_save": Action("POST", "/admin/completeness?model=key_account",
                           {"w_name": "10", "w_decision_tree": "40", "w_contacts": "10"}, "completeness.weights_saved",
                           lambda i: CompletenessWeight.select().where((CompletenessWeight.business_model == "key_account")
                                                                       & (CompletenessWeight.field == "decision_tree")
                                                                       & (CompletenessWeight.weight == 40))),
    "weights_reset": Action("POST", "/admin/completeness/reset?model=project", {}, "completeness.weights_reset",
                            lambda i: AuditEvent.select().where(AuditEvent.kind == "completeness.weights_reset")),
    "group_owner": Action("POST", "/groups/{g}/owner", {"owner_id": "{rep}"}, "group.owner_set",
                          lambda i: CustomerGroup.select().where((CustomerGroup.id == i["g"])
                                                                 & (CustomerGroup.owner == i["rep"]))),
}
ROLE_TABLE = """
role       relation weights_page weights_save weights_reset group_owner
sales      -        -            -            -             -
manager    -        -            -            -             -
marketing  -        -            -            -             -
service    -        -            -            -             -
admin      -        Y            Y            Y             Y
"""

MATRIX_ACTIONS = [*CUSTOMER_ACTIONS.values(), *ROLE_ACTIONS.values()]
CUSTOMER_EXPECTED, ROLE_EXPECTED = parse_table(CUSTOMER_TABLE), parse_table(ROLE_TABLE)


def _customer_key(role, relation):
    return CUSTOMER_OF.get(role, {}).get(relation) or COMMON[relation]


@pytest.mark.parametrize("role,relation,action", [
    (role, relation, action) for (role, relation) in CUSTOMER_EXPECTED for action in CUSTOMER_ACTIONS])
def test_job_change_and_group_routes(client, world, role, relation, action):
    key = _customer_key(role, relation)
    customer = world.customers[key]
    group = CustomerGroup.create(name="矩阵集团" + key)
    Customer.update(group=group.id).where(Customer.id == customer.id).execute()
    client.login(world.users[ACTOR[role]])
    check_action(client, CUSTOMER_ACTIONS[action], {"c": customer.id, "contact": world.contacts[key].id, "g": group.id},
                 allowed=CUSTOMER_EXPECTED[(role, relation)][action] == "Y")


@pytest.mark.parametrize("role,action", [(role, action) for role in ROLES for action in ROLE_ACTIONS])
def test_admin_routes(client, world, role, action):
    save_weights(world.users["admin"], "project", {"w_name": "10", "w_project": "30"})
    group = CustomerGroup.create(name="管理集团")
    Customer.update(group=group.id).where(Customer.id == world.customers["b_rep"].id).execute()
    client.login(world.users[ACTOR[role]])
    expected = ROLE_EXPECTED[(role, "-")][action] == "Y"
    check_action(client, ROLE_ACTIONS[action], {"g": group.id, "rep": world.users["rep_b"].id}, allowed=expected)


def test_tables_are_complete():
    assert {role for role, _ in ROLE_EXPECTED} == set(ROLES)
    assert all(set(row) == set(ROLE_ACTIONS) for row in ROLE_EXPECTED.values())
    assert all(set(row) == set(CUSTOMER_ACTIONS) for row in CUSTOMER_EXPECTED.values())
