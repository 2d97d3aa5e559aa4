"""Permission matrix of appeals and undo (issue 20 item 2): the rep a release took a customer from appeals it;
their team's manager (or an admin) decides; the rep who lost a conflict ruling appeals it; admins list and undo
forced releases. Allowed: 2xx/3xx and the rows written; denied: 404 for a plain and an htmx request, nothing
written."""
import pytest

from models import appeals, conflicts
from models.appeal_tables import Appeal
from models.customers import Customer
from models.pools import PoolEvent, release_customer
from tests.test_permissions import ACTOR, ROLES, Action, check_action, parse_table, world  # noqa: F401

ACTIONS = {
    "appeal": Action("POST", "/appeals/releases/{ev}", {"reason": "客户来电记录漏登，释放有误"}, "pool.appealed",
                     lambda i: Appeal.select().where((Appeal.kind == "release") & (Appeal.ref_id == i["ev"]))),
    "decide": Action("POST", "/appeals/{appeal}/decide", {"decision": "uphold", "reason": "核实确有跟进"}, "pool.restored",
                     lambda i: Appeal.select().where((Appeal.id == i["appeal"]) & (Appeal.status == "upheld"))),
    "appeal_ruling": Action("POST", "/appeals/conflicts/{case}", {"reason": "我的拜访记录更早"}, "pool.appealed",
                            lambda i: Appeal.select().where((Appeal.kind == "conflict") & (Appeal.ref_id == i["case"]))),
    "releases": Action("GET", "/admin/releases"),
    "undo": Action("POST", "/admin/releases/undo", {"events": "{forced}", "reason": "规则版本配置错误"}, "pool.restored",
                   lambda i: Customer.select().where((Customer.id == i["undone"]) & Customer.owner.is_null(False))),
}
TABLE = """
role       relation appeal decide appeal_ruling releases undo
sales      -        Y      -      Y             -        -
manager    -        -      Y      -             -        -
marketing  -        -      -      -             -        -
service    -        -      -      -             -        -
admin      -        -      Y      -             Y        Y
"""
MATRIX_ACTIONS = list(ACTIONS.values())
EXPECTED = parse_table(TABLE)


def _released(world, make_customer, name, kind="release"):
    rep, admin = world.users["rep_a"], world.users["admin"]
    customer = make_customer(owner=rep, name=name)
    release_customer(rep if kind == "release" else admin, customer, "客户不再需要", kind=kind)
    return customer, PoolEvent.get((PoolEvent.customer == customer.id) & (PoolEvent.kind == kind))


@pytest.mark.parametrize("role,action", [(role, action) for role in ROLES for action in ACTIONS])
def test_appeal_routes(client, world, make_customer, role, action):
    rep, admin = world.users["rep_a"], world.users["admin"]
    _c1, ev = _released(world, make_customer, "丽水申诉一服饰有限公司")
    _c2, ev2 = _released(world, make_customer, "丽水申诉二服饰有限公司", "forced_release")
    appeal = appeals.appeal_release(rep, ev2.id, "释放有误")
    undone, forced = _released(world, make_customer, "丽水撤销服饰有限公司", "forced_release")
    disputed = make_customer(owner=rep, name="丽水撞单服饰有限公司")
    case = conflicts.open_case(world.users["rep_b"], disputed.id, "我三个月前就拜访过这家公司的老板，有拜访记录",
                               seen={"name": disputed.name})
    conflicts.rule_case(admin, case.id, "claimant", "对方先有有效拜访")
    client.login(world.users[ACTOR[role]])
    check_action(client, ACTIONS[action], {"ev": ev.id, "appeal": appeal.id, "case": case.id, "forced": forced.id,
                                           "undone": undone.id}, allowed=EXPECTED[(role, "-")][action] == "Y")


def test_table_is_complete():
    assert {role for role, _ in EXPECTED} == set(ROLES)
    assert all(set(row) == set(ACTIONS) for row in EXPECTED.values())
