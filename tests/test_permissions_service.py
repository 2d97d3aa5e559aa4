"""Permission matrix of service: tickets, the queue, the quick form, the dashboard, SLA settings and
care plans, role × relation × action over HTTP. Service staff and admins work tickets on any customer;
a rep (and the team's manager) reads the tickets of the customers they see, and a reopen by them is
refused with a message (409), not a 404; marketing sees none of it. Allowed: 2xx/3xx and the row
written; denied: 404 for a plain and an htmx request, nothing written."""
import pytest

from models import care
from models import service as sv
from models.audit import AuditEvent
from models.customers import Customer
from tests.test_permissions import ACTOR, ROLES, Action, check_action, db_state, parse_table, perform, world  # noqa: F401
from views.service import settings_form_values

NOTE = "客户想再订一批衬衫面料"
VISIT = "上门回访，检查设备运行情况，客户对售后很满意"

TICKET_ACTIONS = {
    "view": Action("GET", "/service/tickets/{t}"),
    "assign": Action("POST", "/service/tickets/{t}/assign", {"assignee_id": "{agent}"}, "service.ticket_assigned",
                     lambda i: sv.Ticket.select().where((sv.Ticket.id == i["t"]) & (sv.Ticket.status == "assigned"))),
    "move": Action("POST", "/service/tickets/{t}/move", {"to": "in_progress"}, "service.ticket_moved",
                   lambda i: sv.Ticket.select().where((sv.Ticket.id == i["t"]) & (sv.Ticket.status == "in_progress"))),
    "comment": Action("POST", "/service/tickets/{t}/comment", {"body": "已电话联系", "visibility": "customer"},
                      "service.ticket_commented",
                      lambda i: sv.TicketComment.select().where(sv.TicketComment.body == "已电话联系")),
    "rate": Action("POST", "/service/tickets/{resolved}/satisfaction", {"satisfaction": "4"}, "service.ticket_rated",
                   lambda i: sv.Ticket.select().where((sv.Ticket.id == i["resolved"]) & (sv.Ticket.satisfaction == 4))),
    "reopen": Action("POST", "/service/tickets/{closed}/reopen", {"reason": "客户来电：又坏了"}, "service.ticket_reopened",
                     lambda i: sv.Ticket.select().where((sv.Ticket.id == i["closed"]) & (sv.Ticket.status == "in_progress"))),
    "lead": Action("POST", "/service/tickets/{t}/lead", {"lead_note": NOTE}, "service.repurchase_lead",
                   lambda i: sv.RepurchaseLead.select().where(sv.RepurchaseLead.note == NOTE)),
    "pick": Action("GET", "/service/pick/{c}"),
    "care_new_form": Action("GET", "/care/new/{key}"),
    "care_new": Action("POST", "/care/new/{key}", {"service_user_id": "{agent}", "kind": "visit", "every_days": "30"},
                       "care.plan_created", lambda i: care.CarePlan.select().where(
                           (care.CarePlan.customer == i["key"]) & (care.CarePlan.id != i["plan"]))),
    "care_record_form": Action("GET", "/care/{plan}/record"),
    "care_record": Action("POST", "/care/{plan}/record", {"content": VISIT, "type": "visit"}, "care.recorded",
                          lambda i: care.CareRecord.select().where(care.CareRecord.plan == i["plan"])),
    "care_end": Action("POST", "/care/{plan}/end", {}, "care.plan_ended",
                       lambda i: care.CarePlan.select().where((care.CarePlan.id == i["plan"]) & ~care.CarePlan.active)),
}
# Y allowed, - 404, R refused with a message (409) and nothing written.
TICKET_TABLE = """
role       relation    view assign move comment rate reopen lead pick care_new_form care_new care_record_form care_record care_end
sales      own_team    Y    -      -    -       -    R      -    -    -             -        -                -           -
sales      other_team  -    -      -    -       -    -      -    -    -             -        -                -           -
manager    own_team    Y    -      -    -       -    R      -    -    -             -        -                -           -
manager    other_team  -    -      -    -       -    -      -    -    -             -        -                -           -
marketing  own_team    -    -      -    -       -    -      -    -    -             -        -                -           -
marketing  other_team  -    -      -    -       -    -      -    -    -             -        -                -           -
service    own_team    Y    Y      Y    Y       Y    Y      Y    Y    Y             Y        Y                Y           Y
service    other_team  Y    Y      Y    Y       Y    Y      Y    Y    Y             Y        Y                Y           Y
admin      own_team    Y    Y      Y    Y       Y    Y      Y    Y    Y             Y        Y                Y           Y
admin      other_team  Y    Y      Y    Y       Y    Y      Y    Y    Y             Y        Y                Y           Y
"""
TICKET_EXPECTED = parse_table(TICKET_TABLE)
CUSTOMER_OF = {"own_team": "a_rep", "other_team": "b_rep"}

ROLE_ACTIONS = {
    "queue": Action("GET", "/service/?status=all&priority=high&mine=1"),
    "new_form": Action("GET", "/service/tickets/new"),
    "new": Action("POST", "/service/tickets/new", {"customer_id": "{c}", "category": "fault", "channel": "hotline",
                                                   "priority": "high", "description": "打印机卡纸，客户很急"},
                  "service.ticket_logged",
                  lambda i: sv.Ticket.select().where(sv.Ticket.description == "打印机卡纸，客户很急")),
    "lookup": Action("GET", "/service/lookup?q=锦绣坊"),
    "dashboard": Action("GET", "/service/dashboard"),
    "care_index": Action("GET", "/care/"),
    "settings_form": Action("GET", "/service/settings"),
    "settings": Action("POST", "/service/settings", {**settings_form_values(sv.DEFAULTS), "reopen_days": "10"},
                       "service.settings_saved", lambda i: sv.ServiceSettings.select()),
}
STAFF = {"service", "admin"}
ROLE_EXPECTED = {**{name: STAFF for name in ROLE_ACTIONS}, "settings_form": {"admin"}, "settings": {"admin"}}

MATRIX_ACTIONS = [*TICKET_ACTIONS.values(), *ROLE_ACTIONS.values()]


@pytest.fixture
def tickets(world):
    """Tickets on a customer of team A (owned by rep_a) and of team B, in the states the actions need,
    logged by the world's service user, and a care plan for a key account of each team."""
    agent = world.users["service"]
    out = {}
    for relation, key in CUSTOMER_OF.items():
        customer = world.customers[key]
        new = sv.log_ticket(agent, {"customer_id": str(customer.id), "category": "fault", "description": "设备异响"})
        resolved = sv.move_ticket(agent, sv.move_ticket(agent, sv.log_ticket(
            agent, {"customer_id": str(customer.id), "category": "request", "description": "要说明书"}),
            "in_progress"), "resolved", "已寄出")
        closed = sv.move_ticket(agent, sv.move_ticket(agent, sv.move_ticket(agent, sv.log_ticket(
            agent, {"customer_id": str(customer.id), "category": "complaint", "description": "送货慢"}),
            "in_progress"), "resolved", "已道歉并补发"), "closed")
        Customer.update(business_model="key_account").where(Customer.id == customer.id).execute()
        plan = care.create_care_plan(agent, Customer.get_by_id(customer.id),
                                     {"service_user_id": str(agent.id), "every_days": "14"})
        out[relation] = {"t": new.id, "resolved": resolved.id, "closed": closed.id, "c": customer.id,
                         "key": customer.id, "plan": plan.id, "agent": agent.id}
    return out


def check_refused(client, action, ids):
    """Seen but not allowed: 409 with a readable message, plain and htmx, and nothing written."""
    before = db_state()
    for htmx in (False, True):
        response = perform(client, action, ids, htmx=htmx)
        assert response.status_code == 409, response.status_code
        assert "Only service staff can reopen" in response.get_data(as_text=True)
    assert db_state() == before


@pytest.mark.parametrize("role,relation,action", [
    (role, relation, action) for (role, relation) in TICKET_EXPECTED for action in TICKET_ACTIONS])
def test_ticket_routes(client, world, tickets, role, relation, action):
    client.login(world.users[ACTOR[role]])
    mark = TICKET_EXPECTED[(role, relation)][action]
    if mark == "R":
        check_refused(client, TICKET_ACTIONS[action], tickets[relation])
    else:
        check_action(client, TICKET_ACTIONS[action], tickets[relation], allowed=mark == "Y")


@pytest.mark.parametrize("role,action", [(role, action) for action in ROLE_ACTIONS for role in ROLES])
def test_role_routes(client, world, tickets, role, action):
    client.login(world.users[ACTOR[role]])
    check_action(client, ROLE_ACTIONS[action], {**tickets["own_team"], "c": world.customers["a_rep"].id},
                 allowed=role in ROLE_EXPECTED[action])


def test_tables_are_complete():
    assert all(set(row) == set(TICKET_ACTIONS) for row in TICKET_EXPECTED.values())
    assert {role for role, _ in TICKET_EXPECTED} == set(ROLES)
    assert set(ROLE_EXPECTED) == set(ROLE_ACTIONS)


def test_the_service_manager_records_for_the_team_and_nobody_else(client, world, tickets, make_user, make_team):
    """care.record: the plan's agent, the manager of the agent's service team, admins."""
    from models.users import Team, User

    team = make_team("客服三组")
    boss, other = make_user("service", team), make_user("service")
    Team.update(manager=boss).where(Team.id == team.id).execute()
    User.update(team=team).where(User.id == world.users["service"].id).execute()
    plan = tickets["own_team"]["plan"]
    client.login(other)
    assert client.get(f"/care/{plan}/record").status_code == 404
    client.login(User.get_by_id(boss.id))
    assert client.get(f"/care/{plan}/record").status_code == 200


def test_a_rep_never_sees_tickets_of_customers_they_cannot_see_in_lists(client, world, tickets):
    client.login(world.users["rep_a"])
    page = client.get(f"/customers/{world.customers['a_rep'].id}").get_data(as_text=True)
    assert 'id="service-side"' in page and f"/service/tickets/{tickets['own_team']['t']}" in page
    assert client.get(f"/customers/{world.customers['b_rep'].id}?tab=service").status_code == 404
    assert AuditEvent.select().where(AuditEvent.kind == "service.ticket_logged").count() == 6
