"""Delegation 工作代理 (issue 5 point 5): the delegate sees and works the absentee's customers during the
range only, acting for them; ownership stays; the release clocks pause for the range (and the ledger
says why); it ends by itself; refusals write nothing."""
import datetime as dt

import pytest

from models import clock, delegations
from models.audit import AuditEvent
from models.customers import Customer, log_follow_up
from models.delegations import Delegation, cancel_delegation, create_delegation
from models.errors import DomainError, NotFound, ValidationError
from models.notifications import Notification
from models.permissions import can, visible
from models.pools import PoolEvent, release_plan
from models import rules as rules_mod
from models.users import User
from tests.conftest import FROZEN
from tests.test_permissions import db_state

DAY = dt.timedelta(days=1)
TODAY = clock.to_local(FROZEN).date()  # 2026-11-24 in Shanghai
VALID = "上门拜访了采购经理，确认了下季度的西装订单数量和交期"


@pytest.fixture
def people(make_user, make_team):
    team = make_team()
    return {"rep1": make_user("sales", team, full_name="王一"), "rep2": make_user("sales", team, full_name="李二"),
            "rep3": make_user("sales", make_team(), full_name="张三"), "mgr": make_user("manager", team),
            "admin": make_user("admin"), "service": make_user("service"),
            "gone": make_user("sales", team, active=False)}


def delegate(actor, absentee, to, start=0, end=4, **kw):
    return create_delegation(actor, {"absentee_id": absentee.id, "delegate_id": to.id,
                                     "starts_on": (TODAY + start * DAY).isoformat(),
                                     "ends_on": (TODAY + end * DAY).isoformat(), **kw})


def fresh(user):
    return User.get_by_id(user.id)


def test_delegate_sees_and_works_only_during_the_range(people, make_customer):
    rep1, rep2 = people["rep1"], people["rep2"]
    customer = make_customer(owner=rep1, name="杭州恒达牛仔有限公司")
    delegate(rep1, rep1, rep2, start=2, end=4)
    for moment, expected in ((FROZEN, False), (FROZEN + 2 * DAY, True), (FROZEN + 4 * DAY + dt.timedelta(hours=13), True),
                             (FROZEN + 5 * DAY, False)):
        clock.freeze(moment)
        user = fresh(rep2)
        assert can(user, "customer.view", customer) is expected, moment
        assert can(user, "customer.edit", customer) is expected
        assert can(user, "followup.create", customer) is expected
        assert (customer.id in {c.id for c in visible(Customer.select(), user)}) is expected
        assert can(user, "customer.release", customer) is False  # working, not giving away
    assert Customer.get_by_id(customer.id).owner_id == rep1.id



def test_the_delegate_works_the_absentees_deals_and_orders_during_the_range_only(people, make_customer):
    from models.opportunities import create_opportunity

    rep1, rep2 = people["rep1"], people["rep2"]
    customer = make_customer(owner=rep1, name="宁波华美衬衫有限公司", business_model="project")
    delegate(rep1, rep1, rep2, start=0, end=2)
    user = fresh(rep2)
    for action in ("opportunity.create", "order.create", "order.view", "payment.manage", "reorder.manage",
                   "decision_tree.edit"):
        assert can(user, action, customer), action
    o = create_opportunity(user, customer, {"name": "秋冬工装", "amount": "200000", "expected_close": "2026-12-20"})
    assert can(user, "opportunity.edit", o) and o.owner_id == rep1.id  # worked for the owner, not taken
    clock.freeze(FROZEN + 3 * DAY)
    user = fresh(rep2)
    assert not can(user, "order.create", customer) and not can(user, "opportunity.edit", o)


def test_acting_for_on_the_rows_and_the_timeline(client, people, make_customer):
    rep1, rep2 = people["rep1"], people["rep2"]
    customer = make_customer(owner=rep1, name="杭州恒达牛仔有限公司")
    delegate(rep1, rep1, rep2)
    log_follow_up(fresh(rep2), customer, {"type": "visit", "content": VALID})
    row = AuditEvent.get((AuditEvent.kind == "followup.logged") & (AuditEvent.customer == customer.id))
    assert row.data["acting_for"] == rep1.id and row.data["acting_for_name"] == "王一"
    own = log_follow_up(fresh(rep1), customer, {"type": "call", "content": VALID})
    assert "acting_for" not in AuditEvent.get(AuditEvent.data.contains(f'"followup_id": {own.id}')).data
    client.login(rep2)
    page = client.get(f"/customers/{customer.id}").get_data(as_text=True)
    assert "李二, acting for 王一" in page
    card = client.get(f"/merges/customer/{customer.id}/card").get_data(as_text=True)
    assert "You are acting for 王一" in card and 'id="absence-note"' in card
    client.login(rep1)  # the owner sees who covers and that the clock stands still
    card = client.get(f"/merges/customer/{customer.id}/card").get_data(as_text=True)
    assert "王一 is away from" in card and "李二 acts for them" in card


def test_release_clock_pauses_for_the_range(people, make_customer):
    rep1, rep2 = people["rep1"], people["rep2"]
    customer = make_customer(owner=rep1, name="杭州恒达牛仔有限公司")
    before = Customer.get_by_id(customer.id).release_at
    d = delegate(rep1, rep1, rep2, start=0, end=4)
    after = Customer.get_by_id(customer.id).release_at
    assert after - before == d.end_at - FROZEN  # the rest of today and four more days
    _at, _rule, inputs = release_plan(Customer.get_by_id(customer.id), rules_mod.in_force(FROZEN), FROZEN)
    assert inputs["delegation_ids"] == [d.id] and inputs["paused_days"] > 4
    ledger = PoolEvent.get(PoolEvent.kind == "delegation_started")
    assert ledger.subject_id == rep1.id and ledger.to_owner == rep2.id and ledger.inputs["release_dates_pushed"] == 1
    # ends by itself: after the range the date stays pushed (the pause happened), no sweep needed
    clock.freeze(FROZEN + 10 * DAY)
    delegations.forget_pauses()
    at, _r, _i = release_plan(Customer.get_by_id(customer.id), rules_mod.in_force(clock.now()), clock.now())
    assert at == after
    assert delegations.acting_for_ids(fresh(rep2)) == ()


def test_a_later_delegation_pushes_only_clocks_it_overlaps(people, make_customer):
    customer = make_customer(owner=people["rep1"], name="杭州恒达牛仔有限公司")
    before = Customer.get_by_id(customer.id).release_at  # 15 days from now
    delegate(people["rep1"], people["rep1"], people["rep2"], start=30, end=35)
    assert Customer.get_by_id(customer.id).release_at == before


def test_ending_early_resumes_the_clocks(people, make_customer):
    customer = make_customer(owner=people["rep1"], name="杭州恒达牛仔有限公司")
    before = Customer.get_by_id(customer.id).release_at
    d = delegate(people["rep1"], people["rep1"], people["rep2"], start=0, end=9)
    clock.freeze(FROZEN + DAY)
    cancel_delegation(people["rep1"], d.id)
    assert Customer.get_by_id(customer.id).release_at == before + DAY
    assert not can(fresh(people["rep2"]), "customer.view", customer)
    with pytest.raises(DomainError):
        cancel_delegation(people["rep1"], d.id)
    assert PoolEvent.select().where(PoolEvent.kind == "delegation_ended").count() == 1


def test_manager_and_admin_name_a_delegate_for_a_rep(people):
    delegate(people["mgr"], people["rep1"], people["rep2"])
    delegate(people["admin"], people["rep2"], people["rep3"], start=10, end=12)
    assert Delegation.select().count() == 2
    told = {n.user_id for n in Notification.select().where(Notification.kind == "delegation")}
    assert told == {people["rep1"].id, people["rep2"].id, people["rep3"].id}


@pytest.mark.parametrize("case,field", [
    ("self", "delegate_id"), ("deactivated", "delegate_id"), ("service", "delegate_id"),
    ("end_before_start", "ends_on"), ("past", "starts_on"), ("too_long", "ends_on"), ("overlap", "starts_on"),
    ("delegate_away", "delegate_id"), ("absentee_covers", "starts_on"), ("year_9999", "ends_on"),
    ("bad_id", "delegate_id"), ("long_reason", "reason"),
])
def test_refusals_write_nothing(people, case, field):
    rep1, rep2, rep3 = people["rep1"], people["rep2"], people["rep3"]
    if case == "overlap":
        delegate(rep1, rep1, rep3, start=3, end=6)
    if case == "delegate_away":
        delegate(rep2, rep2, rep3, start=3, end=6)
    if case == "absentee_covers":
        delegate(rep3, rep3, rep1, start=3, end=6)
    before = db_state()
    data = {"absentee_id": rep1.id, "delegate_id": rep2.id, "starts_on": TODAY.isoformat(),
            "ends_on": (TODAY + 4 * DAY).isoformat()}
    data.update({
        "self": {"delegate_id": rep1.id}, "deactivated": {"delegate_id": people["gone"].id},
        "service": {"delegate_id": people["service"].id},
        "end_before_start": {"ends_on": (TODAY - DAY).isoformat()},
        "past": {"starts_on": (TODAY - 2 * DAY).isoformat()},
        "too_long": {"ends_on": (TODAY + 120 * DAY).isoformat()},
        "year_9999": {"ends_on": "9999-12-31"}, "bad_id": {"delegate_id": str(2**70)},
        "long_reason": {"reason": "长" * 201},
    }.get(case, {}))
    with pytest.raises(ValidationError) as info:
        create_delegation(rep1, data)
    assert field in info.value.errors
    assert db_state() == before


def test_a_rep_cannot_name_a_delegate_for_someone_else(people):
    before = db_state()
    with pytest.raises(NotFound):
        delegate(people["rep2"], people["rep1"], people["rep3"])
    with pytest.raises(NotFound):
        delegate(people["service"], people["rep1"], people["rep3"])
    assert db_state() == before


# ---- pages ---------------------------------------------------------------------------------------

def body(r):
    return r.get_data(as_text=True)


def test_my_delegations_page_form_and_banner(client, people, make_customer):
    rep1, rep2 = people["rep1"], people["rep2"]
    customer = make_customer(owner=rep1, name="杭州恒达牛仔有限公司")
    client.login(rep1)
    assert client.get("/delegations").status_code == 200
    r = client.post("/delegations/new", {"delegate_id": rep1.id, "starts_on": TODAY.isoformat(),
                                         "ends_on": TODAY.isoformat()}, htmx=True)
    assert r.status_code == 200 and "cannot delegate to yourself" in body(r) and Delegation.select().count() == 0
    r = client.post("/delegations/new", {"delegate_id": rep2.id, "starts_on": TODAY.isoformat(),
                                         "ends_on": (TODAY + 2 * DAY).isoformat(), "reason": "出差"})
    assert r.status_code == 303
    d = Delegation.get()
    assert d.absentee_id == rep1.id and d.delegate_id == rep2.id
    client.login(rep2)
    home = body(client.get("/"))
    assert 'id="delegation-banner"' in home and "王一" in home
    r = client.get(f"/delegations/{d.id}/customers")
    assert r.status_code == 200 and "杭州恒达牛仔有限公司" in body(r)
    client.login(people["rep3"])
    assert client.get(f"/delegations/{d.id}/customers").status_code == 404
    assert 'id="delegation-banner"' not in body(client.get("/"))


def test_a_delegate_does_not_dispute_the_customers_they_act_for(people, make_customer):
    customer = make_customer(owner=people["rep1"], name="杭州恒达牛仔有限公司")
    assert can(fresh(people["rep2"]), "conflict.open", customer)
    delegate(people["rep1"], people["rep1"], people["rep2"])
    assert not can(fresh(people["rep2"]), "conflict.open", customer)
