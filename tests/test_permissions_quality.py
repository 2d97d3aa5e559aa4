"""Permission matrix of data quality (issue 17): role × relation × action over HTTP. Admins and users given
the "quality" permission (here a service agent) work the queue, draw samples and run the directed rules;
admins keep the rule. A check opens for its workers, the answerable rep and their team's manager; only the
answerable rep answers it. Any seller complains about a file they may see. Allowed: 2xx/3xx and the row
written; denied: 404 for a plain and an htmx request, nothing written."""
import pytest

from models import clock
from models import quality as qm
from models.customer_tables import Customer
from models.pools import PoolView
from models.quality_tables import QualityCheck, QualityRule, QualitySample
from tests.test_permissions import ACTOR, ROLES, Action, check_action, parse_table, pool_world, world  # noqa: F401

RULE_FORM = {**{k: str(v) for k, v in qm.DEFAULTS.items() if k != "rules"}, "rules": list(qm.DEFAULTS["rules"]),
             "penalty_below": "55"}
QUALITY_ACTORS = (*ROLES, "quality")

ROLE_ACTIONS = {
    "queue": Action("GET", "/quality"),
    "queue_done": Action("GET", "/quality?status=done&source=complaint"),
    "run": Action("POST", "/quality/run", {}, "quality.rules_run"),
    "samples_page": Action("GET", "/quality/samples"),
    "sample": Action("POST", "/quality/samples", {"month": "2026-11", "per_rep": "1"}, "quality.sample_drawn",
                     lambda i: QualitySample.select()),
    "rules_page": Action("GET", "/quality/rules"),
    "rules_save": Action("POST", "/quality/rules", RULE_FORM, "quality.rule_saved",
                         lambda i: QualityRule.select().where(QualityRule.version == 1)),
    "rules_preview": Action("POST", "/quality/rules/preview", RULE_FORM),
    "rep_page": Action("GET", "/quality/reps/{rep}"),
    "check_page": Action("GET", "/quality/checks/{k}"),
    "outcome": Action("POST", "/quality/checks/{k}/outcome", {"outcome": "true", "evidence": "电话核实无误"},
                      "quality.checked", lambda i: QualityCheck.select().where((QualityCheck.id == i["k"])
                                                                               & (QualityCheck.status == "done"))),
    "respond": Action("POST", "/quality/checks/{d}/respond", {"response": "已更正电话"}, "quality.responded",
                      lambda i: QualityCheck.select().where((QualityCheck.id == i["d"])
                                                            & QualityCheck.responded_at.is_null(False))),
}
ROLE_TABLE = """
role       relation queue queue_done run samples_page sample rules_page rules_save rules_preview rep_page check_page outcome respond
sales      -        -     -          -   -            -      -          -          -             Y        Y          -       Y
manager    -        -     -          -   -            -      -          -          -             Y        Y          -       -
marketing  -        -     -          -   -            -      -          -          -             -        -          -       -
service    -        -     -          -   -            -      -          -          -             -        -          -       -
quality    -        Y     Y          Y   Y            Y      -          -          -             Y        Y          Y       -
admin      -        Y     Y          Y   Y            Y      Y          Y          Y             Y        Y          Y       -
"""

CUSTOMER_ACTIONS = {
    # the form shows part of the file: a pool customer's costs a pool view (models/pools.record_pool_view)
    "complaint_form": Action("GET", "/customers/{c}/complaint", row=lambda i: Customer.select().where(
        (Customer.id == i["c"]) & (Customer.owner.is_null(False) | Customer.id.in_(PoolView.select(PoolView.customer))))),
    "complaint": Action("POST", "/customers/{c}/complaint", {"field": "phone", "found": "号码是别家公司的",
                                                            "evidence": "11月20日拨打，对方是另一家公司"},
                        "quality.complaint_filed", lambda i: QualityCheck.select().where(QualityCheck.customer == i["c"])),
}
CUSTOMER_TABLE = """
role       relation    complaint_form complaint
sales      pool_here   Y              Y
sales      pool_there  -              -
sales      team_mate   -              -
sales      other_team  -              -
manager    pool_here   Y              Y
manager    pool_there  -              -
manager    team_mate   Y              Y
manager    other_team  -              -
marketing  pool_here   -              -
service    pool_here   -              -
admin      pool_here   -              -
admin      other_team  -              -
"""
POOL_ACTOR = {"sales": "rep_a", "manager": "mgr_a", "marketing": "marketing", "service": "service", "admin": "admin"}

MATRIX_ACTIONS = [*ROLE_ACTIONS.values(), *CUSTOMER_ACTIONS.values()]
NOT_IN_MATRIX = {"quality.mine": "a redirect to the user's own /quality/reps/<id>: tests/test_quality.py::test_pages"}
ROLE_EXPECTED, CUSTOMER_EXPECTED = parse_table(ROLE_TABLE), parse_table(CUSTOMER_TABLE)


def _actor(world, role, make_user):
    if role == "quality":
        return make_user("service", grants="quality")
    return world.users[ACTOR[role]]


@pytest.mark.parametrize("role,action", [(role, action) for role in QUALITY_ACTORS for action in ROLE_ACTIONS])
def test_quality_role_routes(client, world, make_user, role, action):
    rep = world.users["rep_a"]
    now = clock.now()
    open_check = QualityCheck.create(customer=world.customers["a_rep"].id, owner=rep.id, source="sample", created_at=now)
    done = QualityCheck.create(customer=world.customers["a_rep"].id, owner=rep.id, source="sample", created_at=now,
                               status="done", outcome="false", outcome_fields="phone", checked_at=now,
                               checked_by=world.users["admin"].id)
    client.login(_actor(world, role, make_user))
    check_action(client, ROLE_ACTIONS[action], {"k": open_check.id, "d": done.id, "rep": rep.id},
                 allowed=ROLE_EXPECTED[(role, "-")][action] == "Y")


@pytest.mark.parametrize("role,relation,action", [
    (role, relation, action) for (role, relation) in CUSTOMER_EXPECTED for action in CUSTOMER_ACTIONS])
def test_quality_customer_routes(client, pool_world, role, relation, action):
    client.login(pool_world.users[POOL_ACTOR[role]])
    check_action(client, CUSTOMER_ACTIONS[action], {"c": pool_world.customers[relation].id},
                 allowed=CUSTOMER_EXPECTED[(role, relation)][action] == "Y")


def test_tables_are_complete():
    assert {role for role, _ in ROLE_EXPECTED} == set(QUALITY_ACTORS)
    assert all(set(row) == set(ROLE_ACTIONS) for row in ROLE_EXPECTED.values())
    assert {role for role, _ in CUSTOMER_EXPECTED} == set(ROLES)
    assert all(set(row) == set(CUSTOMER_ACTIONS) for row in CUSTOMER_EXPECTED.values())
