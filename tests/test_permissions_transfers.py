"""Permission matrix of the transfer routes (工作转移, leaver hand-over): role × relation × action over HTTP.
Allowed: 2xx/3xx and the row written; denied: 404 for a plain and an htmx request, nothing written."""
import pytest

from models import transfers
from models.audit import AuditEvent
from models.customers import Customer
from models.transfers import Transfer, TransferApproval, TransferItem, prepare_leaver_plan, request_transfer
from models.users import User
from tests.test_permissions import ACTOR, ROLES, Action, check_action, parse_table, world  # noqa: F401

REASON = "客户随区域调整交给同事"

# ---- asking for a customer (from its 360 page): relation to the customer --------------------------
CUSTOMER_ACTIONS = {
    "ask_form": Action("GET", "/transfers/new?customer={c}"),
    "ask": Action("POST", "/transfers/new?customer={c}", {"to": "u:{mate}", "reason": REASON}, "transfer.requested",
                  lambda i: TransferItem.select().join(Transfer, on=(TransferItem.transfer == Transfer.id)).where(
                      (TransferItem.customer == i["c"]) & (Transfer.status == "pending"))),
}
CUSTOMER_TABLE = """
role       relation    ask_form ask
sales      own         Y        Y
sales      same_team   -        -
sales      other_team  -        -
manager    own         Y        Y
manager    same_team   Y        Y
manager    other_team  -        -
marketing  other_team  -        -
service    other_team  -        -
admin      other_team  Y        Y
"""
CUSTOMER_OF = {("sales", "own"): "a_rep", ("sales", "same_team"): "a_mgr", ("manager", "own"): "a_mgr",
               ("manager", "same_team"): "a_rep"}
MATE_OF = {"a_rep": "mgr_a", "a_mgr": "rep_a", "b_rep": "mgr_b", "rep_a": "mgr_a", "mgr_a": "rep_a", "rep_b": "mgr_b"}

# ---- a rep's customer list and the leaver wizard: relation to the rep -----------------------------
REP_ACTIONS = {
    "ask_rep_form": Action("GET", "/transfers/new?rep={rep}"),
    # all of the rep's customers: one timeline row each (checked in tests/test_transfers.py)
    "ask_rep": Action("POST", "/transfers/new?rep={rep}", {"all": "1", "to": "u:{mate}", "reason": REASON},
                      row=lambda i: Transfer.select().where((Transfer.from_user == i["rep"]) & (Transfer.status == "pending")
                                                            & (Transfer.total == Customer.select().where(
                                                                Customer.owner == i["rep"]).count()))),
    "leaver": Action("GET", "/transfers/leaver/{rep}"),
    "leaver_plan": Action("POST", "/transfers/leaver/{rep}/plan", {},
                          row=lambda i: Transfer.select().where((Transfer.from_user == i["rep"]) & (Transfer.kind == "leaver")
                                                                & (Transfer.status == "draft"))),
    "leaver_items": Action("GET", "/transfers/leaver/{rep}/items"),
    "leaver_item": Action("POST", "/transfers/leaver/items/{item}", {"to": "p:{pool}"},
                          row=lambda i: TransferItem.select().where((TransferItem.id == i["item"])
                                                                    & (TransferItem.to_pool == i["pool"]) & TransferItem.pinned)),
    "leaver_remaining": Action("POST", "/transfers/leaver/{rep}/remaining", {"to": "p:{pool}"},
                               row=lambda i: TransferItem.select().where((TransferItem.id == i["item"])
                                                                         & (TransferItem.to_pool == i["pool"]))),
    "leaver_execute": Action("POST", "/transfers/leaver/{rep}/execute", {"reason": "离职交接"}, "transfer.leaver_started",
                             lambda i: User.select().where((User.id == i["rep"]) & ~User.active)),
}
REP_TABLE = """
role       relation    ask_rep_form ask_rep leaver leaver_plan leaver_items leaver_item leaver_remaining leaver_execute
sales      self        Y            Y       -      -           -            -           -                -
sales      team_mate   -            -       -      -           -            -           -                -
sales      other_team  -            -       -      -           -            -           -                -
manager    self        Y            Y       -      -           -            -           -                -
manager    team_mate   Y            Y       Y      Y           Y            Y           Y                -
manager    other_team  -            -       -      -           -            -           -                -
marketing  other_team  -            -       -      -           -            -           -                -
service    other_team  -            -       -      -           -            -           -                -
admin      other_team  Y            Y       Y      Y           Y            Y           Y                Y
"""
REP_OF = {("sales", "self"): "rep_a", ("sales", "team_mate"): "mgr_a", ("manager", "self"): "mgr_a",
          ("manager", "team_mate"): "rep_a", "other_team": "rep_b"}
NEEDS_DRAFT = {"leaver_items", "leaver_item", "leaver_remaining", "leaver_execute"}

# ---- a transfer: relation to it (requested in the actor's team, or in another) ---------------------
TRANSFER_ACTIONS = {
    "view": Action("GET", "/transfers/{t}"),
    "progress": Action("GET", "/transfers/{t}/progress"),
    "cancel": Action("POST", "/transfers/{t}/cancel", {}, "transfer.cancelled",
                     lambda i: Transfer.select().where((Transfer.id == i["t"]) & (Transfer.status == "cancelled"))),
    "decide": Action("POST", "/transfers/approvals/{approval}", {"decision": "approve", "reason": "同意"}, "transfer.moved",
                     lambda i: Customer.select().where((Customer.id == i["c"]) & (Customer.owner == i["to"]))),
}
TRANSFER_TABLE = """
role       relation    view progress cancel decide
sales      own_team    Y    Y        Y      -
sales      other_team  -    -        -      -
manager    own_team    Y    Y        -      Y
manager    other_team  -    -        -      -
marketing  other_team  -    -        -      -
service    other_team  -    -        -      -
admin      other_team  Y    Y        -      Y
"""
# own_team: rep_a asks to move a_rep to rep_a's team mate (mgr_a's team); other_team: rep_b's b_rep to mgr_b.
TRANSFER_OF = {"own_team": ("rep_a", "a_rep", "mgr_a"), "other_team": ("rep_b", "b_rep", "mgr_b")}

MATRIX_ACTIONS = [*CUSTOMER_ACTIONS.values(), *REP_ACTIONS.values(), *TRANSFER_ACTIONS.values(),
                  Action("GET", "/transfers/")]
CUSTOMER_EXPECTED, REP_EXPECTED, TRANSFER_EXPECTED = (parse_table(t) for t in (CUSTOMER_TABLE, REP_TABLE, TRANSFER_TABLE))


@pytest.fixture(autouse=True)
def _jobs_inline(monkeypatch):
    """The leaver job runs in the request's thread here, so its rows are there when the test looks."""
    monkeypatch.setattr(transfers, "start_job", transfers.run_job)


def _pool_id():
    from models.pools import Pool
    return Pool.select().first().id


@pytest.mark.parametrize("role,relation,action", [
    (role, relation, action) for (role, relation) in CUSTOMER_EXPECTED for action in CUSTOMER_ACTIONS])
def test_asking_from_a_customer(client, world, role, relation, action):
    key = CUSTOMER_OF.get((role, relation), "b_rep")
    ids = {"c": world.customers[key].id, "mate": world.users[MATE_OF[key]].id}
    client.login(world.users[ACTOR[role]])
    check_action(client, CUSTOMER_ACTIONS[action], ids, allowed=CUSTOMER_EXPECTED[(role, relation)][action] == "Y")


@pytest.mark.parametrize("role,relation,action", [
    (role, relation, action) for (role, relation) in REP_EXPECTED for action in REP_ACTIONS])
def test_rep_lists_and_the_leaver_wizard(client, world, role, relation, action):
    who = REP_OF.get((role, relation)) or REP_OF[relation]
    rep = world.users[who]
    ids = {"rep": rep.id, "mate": world.users[MATE_OF[who]].id, "pool": _pool_id(), "item": 1}
    if action in NEEDS_DRAFT:
        draft = prepare_leaver_plan(world.users["admin"], rep)
        ids["item"] = TransferItem.select().where(TransferItem.transfer == draft.id).first().id
    client.login(world.users[ACTOR[role]])
    check_action(client, REP_ACTIONS[action], ids, allowed=REP_EXPECTED[(role, relation)][action] == "Y")


@pytest.mark.parametrize("role,relation,action", [
    (role, relation, action) for (role, relation) in TRANSFER_EXPECTED for action in TRANSFER_ACTIONS])
def test_a_transfer(client, world, role, relation, action):
    giver, key, to = TRANSFER_OF[relation]
    t = request_transfer(world.users[giver], world.users[giver], [(world.customers[key].id, f"u:{world.users[to].id}")],
                         REASON)
    approval = TransferApproval.get(TransferApproval.transfer == t.id)
    ids = {"t": t.id, "approval": approval.id, "c": world.customers[key].id, "to": world.users[to].id}
    client.login(world.users[ACTOR[role]])
    check_action(client, TRANSFER_ACTIONS[action], ids, allowed=TRANSFER_EXPECTED[(role, relation)][action] == "Y")


@pytest.mark.parametrize("role", ROLES)
def test_sellers_and_admins_have_a_transfer_list_showing_only_theirs(client, world, role):
    t = request_transfer(world.users["rep_b"], world.users["rep_b"],
                         [(world.customers["b_rep"].id, f"u:{world.users['mgr_b'].id}")], REASON)
    client.login(world.users[ACTOR[role]])
    # marketing and service own, give and approve no customers: no list, no menu entry (issue 13)
    allowed = role in ("sales", "manager", "admin")
    check_action(client, Action("GET", "/transfers/"), {}, allowed=allowed)
    assert ('href="/transfers/"' in client.get("/").get_data(as_text=True)) == allowed
    if not allowed:
        return
    body = client.get("/transfers/").get_data(as_text=True)
    assert (f'href="/transfers/{t.id}"' in body) == (role == "admin")


def test_tables_are_complete():
    for table, relations in ((CUSTOMER_EXPECTED, {"own", "same_team", "other_team"}),
                             (REP_EXPECTED, {"self", "team_mate", "other_team"}),
                             (TRANSFER_EXPECTED, {"own_team", "other_team"})):
        assert {role for role, _ in table} == set(ROLES)
        assert {rel for _, rel in table} == relations
    assert all(set(row) == set(CUSTOMER_ACTIONS) for row in CUSTOMER_EXPECTED.values())
    assert all(set(row) == set(REP_ACTIONS) for row in REP_EXPECTED.values())
    assert all(set(row) == set(TRANSFER_ACTIONS) for row in TRANSFER_EXPECTED.values())


def test_a_transfer_is_audited_on_each_customers_timeline_in_both_languages(client, world):
    t = request_transfer(world.users["rep_a"], world.users["rep_a"],
                         [(world.customers["a_rep"].id, f"u:{world.users['mgr_a'].id}")], REASON)
    client.login(world.users["mgr_a"])
    approval = TransferApproval.get(TransferApproval.transfer == t.id)
    r = client.post(f"/transfers/approvals/{approval.id}", {"decision": "approve", "reason": "同意交接"}, htmx=True)
    assert r.status_code == 200 and "approvalsChanged" in r.headers["HX-Trigger"]
    assert AuditEvent.select().where(AuditEvent.kind == "transfer.moved").count() == 1
    page = client.get(f"/customers/{world.customers['a_rep'].id}?tab=timeline").get_data(as_text=True)
    assert "transferred the customer from" in page and REASON in page
