"""Transfers (工作转移) and the leaver hand-over: every approval path, the release clock, capacity,
the pool, nothing half-written, two managers at once, and the leaver wizard from refusal to done."""
import datetime as dt
import json
import re

import pytest

from models import hooks
from models.audit import AuditEvent
from models.customers import Contact, Customer, FollowUp, Industry, log_follow_up, save_contact, set_owner
from models.errors import DomainError, NotFound, ValidationError
from models.notifications import Notification
from models.pools import Pool, PoolEvent, adjust_capacity, capacity
from models.transfers import (CapacityRefused, Transfer, TransferApproval, TransferItem, assign_remaining,
                              cancel_transfer, decide_transfer, execute_leaver_plan, open_transfer_of,
                              prepare_leaver_plan, request_transfer, resume_stalled, run_job, set_plan_target)
from models.users import Region, StillOwnsCustomers, Team, User, set_active
from tests.conftest import FROZEN
from tests.test_pool_concurrency import fire

DAY = dt.timedelta(days=1)
REASON = "张三调去华南大区，客户交给组内同事"


@pytest.fixture
def org(make_user, make_team):
    east = Region.get(Region.code == "east")
    team_a, team_b = make_team("转移一组", region=east), make_team("转移二组", region=east)
    people = {"mA": make_user("manager", team_a), "mA2": make_user("manager", team_a), "a1": make_user("sales", team_a),
              "a2": make_user("sales", team_a), "a3": make_user("sales", team_a), "mB": make_user("manager", team_b),
              "b1": make_user("sales", team_b), "admin": make_user("admin")}
    Team.update(manager=people["mA"]).where(Team.id == team_a.id).execute()
    Team.update(manager=people["mB"]).where(Team.id == team_b.id).execute()
    people = {k: User.get_by_id(u.id) for k, u in people.items()}
    people.update(team_a=Team.get_by_id(team_a.id), team_b=Team.get_by_id(team_b.id), east=east)
    return people


@pytest.fixture
def book(org, make_customer):
    """Three customers of a1, claimed 10 days ago, with a contact and a follow-up each."""
    ids = []
    for n in range(3):
        c = make_customer(owner=org["a1"], region_id=str(org["east"].id))
        Customer.update(claimed_at=FROZEN - 10 * DAY).where(Customer.id == c.id).execute()
        save_contact(org["admin"], c, {"name": f"王采购{n}", "title": "采购经理"})
        log_follow_up(org["a1"], Customer.get_by_id(c.id), {"type": "call", "content": "电话沟通了春季订货计划，对方要样品和报价单"})
        from models.pools import refresh_release
        refresh_release(Customer.get_by_id(c.id))
        ids.append(c.id)
    return ids


@pytest.fixture
def hook_calls():
    calls = []

    def record(actor, customer_ids, from_owner_id, to_owner_id, reason):
        calls.append((actor.id, sorted(customer_ids), from_owner_id, to_owner_id, reason))
    hooks.on("owner_changed", record)
    yield calls
    hooks._HANDLERS["owner_changed"].remove(record)


def ask(org, ids, to, actor="a1", giver="a1", reason=REASON):
    return request_transfer(org[actor], org[giver], [(cid, to) for cid in ids], reason)


def approvals(transfer):
    return {a.side + (":%s" % a.team_id): a for a in TransferApproval.select().where(TransferApproval.transfer == transfer.id)}


def side(transfer, name):
    return TransferApproval.get((TransferApproval.transfer == transfer.id) & (TransferApproval.side == name))


def owners(ids):
    return {c.id: c.owner_id for c in Customer.select().where(Customer.id.in_(ids))}


# ---- request ------------------------------------------------------------------------------------

def test_a_request_writes_the_sides_the_items_and_a_timeline_row_and_tells_the_manager(org, book):
    t = ask(org, book, f"u:{org['a2'].id}")
    assert (t.status, t.total, t.from_user_id, t.from_team_id) == ("pending", 3, org["a1"].id, org["team_a"].id)
    assert [(a.side, a.team_id, a.status) for a in TransferApproval.select().where(TransferApproval.transfer == t.id)] \
        == [("giving", org["team_a"].id, "pending")]
    assert sorted(i.customer_id for i in t.items) == sorted(book)
    assert AuditEvent.select().where(AuditEvent.kind == "transfer.requested").count() == 3
    assert Notification.get(Notification.kind == "transfer_requested").user_id == org["mA"].id
    assert set(owners(book).values()) == {org["a1"].id}  # nothing moves before the approval
    assert open_transfer_of(book[0]).id == t.id


@pytest.mark.parametrize("moves,field", [
    ([], "customers"),
    ([(0, "u:{a2}")], "customers"),
    ([("{c}", "u:{a1}")], "to"),  # to the giver
    ([("{c}", "u:99999999999999999999999")], "to"),
    ([("{c}", "x:1")], "to"),
    ([("{c}", "")], "to"),
    ([("{c}", "u:{admin}")], "to"),  # not a seller
    ([("{c}", "u:{b_inactive}")], "to"),
])
def test_bad_requests_are_refused_with_the_field_and_write_nothing(org, book, make_user, moves, field):
    inactive = make_user("sales", org["team_b"], active=False)
    fmt = {"a1": org["a1"].id, "a2": org["a2"].id, "admin": org["admin"].id, "b_inactive": inactive.id, "c": book[0]}
    moves = [(int(str(c).format(**fmt)), to.format(**fmt)) for c, to in moves]
    with pytest.raises(ValidationError) as exc:
        request_transfer(org["a1"], org["a1"], moves, REASON)
    assert field in exc.value.errors
    assert Transfer.select().count() == 0 and AuditEvent.select().where(AuditEvent.kind.startswith("transfer")).count() == 0


@pytest.mark.parametrize("reason", ["", "   ", "\x00\x00", None])
def test_a_request_needs_a_reason(org, book, reason):
    with pytest.raises(ValidationError) as exc:
        ask(org, book, f"u:{org['a2'].id}", reason=reason)
    assert "reason" in exc.value.errors and Transfer.select().count() == 0


def test_a_reason_too_long_is_refused_and_emoji_are_kept(org, book):
    with pytest.raises(ValidationError) as exc:
        ask(org, book[:1], f"u:{org['a2'].id}", reason="客户很重要😀" * 2000)
    assert exc.value.errors["reason"] == [("At most %(n)s characters.", {"n": 300})]
    assert ask(org, book[:1], f"u:{org['a2'].id}", reason="客户很重要😀").reason == "客户很重要😀"


def test_a_customer_not_the_givers_or_already_in_a_transfer_is_refused(org, book, make_customer):
    other = make_customer(owner=org["a2"])
    with pytest.raises(ValidationError) as exc:
        ask(org, [book[0], other.id], f"u:{org['a3'].id}")
    assert "customers" in exc.value.errors
    ask(org, [book[0]], f"u:{org['a2'].id}")
    with pytest.raises(ValidationError) as exc:
        ask(org, [book[0], book[1]], f"u:{org['a3'].id}")
    assert exc.value.errors["customers"][0][1]["name"] == Customer.get_by_id(book[0]).name
    assert Transfer.select().count() == 1


def test_who_may_ask(org, book):
    with pytest.raises(NotFound):  # a rep for a colleague
        ask(org, book, f"u:{org['a3'].id}", actor="a2", giver="a1")
    with pytest.raises(NotFound):  # another team's manager
        ask(org, book, f"u:{org['a3'].id}", actor="mB", giver="a1")
    assert ask(org, book[:1], f"u:{org['a3'].id}", actor="mA", giver="a1").requester_id == org["mA"].id
    assert ask(org, book[1:2], f"u:{org['a3'].id}", actor="admin", giver="a1").requester_id == org["admin"].id


# ---- approval paths ---------------------------------------------------------------------------

def test_same_team_approval_moves_everything_keeps_the_clock_and_writes_ledger_audit_hook_and_notes(org, book, hook_calls):
    before = {c.id: (c.claimed_at, c.release_at) for c in Customer.select().where(Customer.id.in_(book))}
    contacts = Contact.select().where(Contact.customer.in_(book)).count()
    followups = FollowUp.select().where(FollowUp.customer.in_(book)).count()
    t = ask(org, book, f"u:{org['a2'].id}")
    done = decide_transfer(org["mA"], side(t, "giving").id, True, "同意，组内交接")
    assert done.status == "done" and done.done == 3
    for c in Customer.select().where(Customer.id.in_(book)):
        assert (c.owner_id, c.team_id, c.pool_id) == (org["a2"].id, org["team_a"].id, None)
        assert (c.claimed_at, c.release_at) == before[c.id]  # the clock keeps running inside the team
    assert Contact.select().where(Contact.customer.in_(book)).count() == contacts
    assert FollowUp.select().where(FollowUp.customer.in_(book)).count() == followups
    ledger = list(PoolEvent.select().where(PoolEvent.kind == "transfer"))
    assert len(ledger) == 3 and {(e.from_owner, e.to_owner, e.actor_id) for e in ledger} == {(org["a1"].id, org["a2"].id, org["mA"].id)}
    assert all(e.inputs["clock_kept"] and e.reason == REASON and e.inputs["approved_by"] == [org["mA"].full_name] for e in ledger)
    moved = list(AuditEvent.select().where(AuditEvent.kind == "transfer.moved"))
    assert len(moved) == 3 and moved[0].data["from_owner"] == org["a1"].full_name
    assert moved[0].data["to_owner"] == org["a2"].full_name and moved[0].data["approved_by"] == org["mA"].full_name
    assert hook_calls == [(org["mA"].id, sorted(book), org["a1"].id, org["a2"].id, REASON)]
    assert {n.user_id for n in Notification.select().where(Notification.kind == "transfer_decided")} == {org["a1"].id}
    assert Notification.get(Notification.kind == "transfer_received").user_id == org["a2"].id
    assert open_transfer_of(book[0]) is None


def test_across_teams_both_managers_must_approve_and_the_clock_restarts(org, book):
    t = ask(org, book, f"u:{org['b1'].id}")
    assert set(approvals(t)) == {f"giving:{org['team_a'].id}", f"receiving:{org['team_b'].id}"}
    with pytest.raises(NotFound):  # the receiving manager cannot decide the giving side
        decide_transfer(org["mB"], side(t, "giving").id, True, "同意")
    assert decide_transfer(org["mA"], side(t, "giving").id, True, "同意").status == "pending"
    assert set(owners(book).values()) == {org["a1"].id}
    assert AuditEvent.select().where(AuditEvent.kind == "transfer.side_approved").count() == 3
    done = decide_transfer(org["mB"], side(t, "receiving").id, True, "欢迎")
    assert done.status == "done"
    for c in Customer.select().where(Customer.id.in_(book)):
        assert (c.owner_id, c.team_id) == (org["b1"].id, org["team_b"].id)
        assert c.claimed_at == FROZEN and c.release_at > FROZEN + 10 * DAY  # a new team's clock
    assert {e.inputs["clock_kept"] for e in PoolEvent.select().where(PoolEvent.kind == "transfer")} == {False}
    assert PoolEvent.get(PoolEvent.kind == "transfer").inputs["approved_by"] == [org["mA"].full_name, org["mB"].full_name]


def test_a_rejection_ends_the_request_and_the_other_side_cannot_approve_it(org, book):
    t = ask(org, book, f"u:{org['b1'].id}")
    assert decide_transfer(org["mB"], side(t, "receiving").id, False, "我组已满员").status == "rejected"
    with pytest.raises(DomainError, match="already decided"):
        decide_transfer(org["mA"], side(t, "giving").id, True, "同意")
    assert set(owners(book).values()) == {org["a1"].id}
    assert not PoolEvent.select().where(PoolEvent.kind == "transfer").exists()
    assert AuditEvent.select().where(AuditEvent.kind == "transfer.rejected").count() == 3
    note = Notification.get(Notification.kind == "transfer_decided")
    assert note.user_id == org["a1"].id and note.params["reason"] == "我组已满员"


def test_an_admin_may_approve_either_side(org, book):
    t = ask(org, book, f"u:{org['b1'].id}")
    decide_transfer(org["admin"], side(t, "receiving").id, True, "运营批准")
    assert decide_transfer(org["admin"], side(t, "giving").id, True, "运营批准").status == "done"
    assert set(owners(book).values()) == {org["b1"].id}


def test_nobody_approves_a_transfer_of_their_own_customers_and_outsiders_cannot_decide(org, make_customer):
    c = make_customer(owner=org["mA"])
    t = request_transfer(org["mA"], org["mA"], [(c.id, f"u:{org['a2'].id}")], REASON)
    for who in ("mA", "a1", "mB", "b1"):
        with pytest.raises(NotFound):
            decide_transfer(org[who], side(t, "giving").id, True, "同意")
    assert decide_transfer(org["admin"], side(t, "giving").id, True, "同意").status == "done"


def test_a_decision_needs_a_reason(org, book):
    t = ask(org, book, f"u:{org['a2'].id}")
    with pytest.raises(DomainError, match="reason"):
        decide_transfer(org["mA"], side(t, "giving").id, True, "  ")
    assert side(t, "giving").status == "pending"


def test_a_transfer_to_a_rep_at_capacity_is_refused_unless_the_manager_overrides_with_a_reason(org, book):
    adjust_capacity(org["mA"], org["a2"], -49, 30, "试用期")
    assert capacity(org["a2"])["total"] == 1
    t = ask(org, book, f"u:{org['a2'].id}")
    with pytest.raises(CapacityRefused) as exc:
        decide_transfer(org["mA"], side(t, "giving").id, True, "同意")
    assert exc.value.params == {"name": org["a2"].full_name, "free": 1, "used": 0, "total": 1, "n": 3}
    assert side(t, "giving").status == "pending" and Transfer.get_by_id(t.id).status == "pending"
    assert set(owners(book).values()) == {org["a1"].id}
    done = decide_transfer(org["mA"], side(t, "giving").id, True, "同意", override_reason="离职交接，月底前再分")
    assert done.status == "done" and done.override_reason == "离职交接，月底前再分"
    assert {e.inputs["capacity_override"] for e in PoolEvent.select().where(PoolEvent.kind == "transfer")} == {"离职交接，月底前再分"}
    assert capacity(org["a2"])["used"] == 3


def test_a_transfer_to_the_pool_releases_with_history_and_cooling_off(org, book):
    pool = Pool.get(Pool.region == org["east"].id)
    t = ask(org, book, f"p:{pool.id}")
    assert [a.side for a in TransferApproval.select().where(TransferApproval.transfer == t.id)] == ["giving"]
    decide_transfer(org["mA"], side(t, "giving").id, True, "同意")
    for c in Customer.select().where(Customer.id.in_(book)):
        assert (c.owner_id, c.team_id, c.pool_id, c.release_at) == (None, None, pool.id, None)
        assert (c.released_from, c.released_team, c.released_at) == (org["a1"].id, org["team_a"].id, FROZEN)
    assert {e.to_pool for e in PoolEvent.select().where(PoolEvent.kind == "transfer")} == {pool.id}
    assert Contact.select().where(Contact.customer.in_(book)).count() == 3


def test_a_split_sends_each_customer_where_it_was_asked(org, book):
    pool = Pool.get(Pool.region == org["east"].id)
    t = request_transfer(org["a1"], org["a1"], [(book[0], f"u:{org['a2'].id}"), (book[1], f"u:{org['a3'].id}"),
                                                 (book[2], f"p:{pool.id}")], REASON)
    decide_transfer(org["mA"], side(t, "giving").id, True, "同意")
    assert owners(book) == {book[0]: org["a2"].id, book[1]: org["a3"].id, book[2]: None}


def test_nothing_is_half_written_when_a_customer_changed_owner_before_the_approval(org, book, hook_calls):
    t = ask(org, book, f"u:{org['a2'].id}")
    set_owner(org["admin"], Customer.get_by_id(book[2]), org["a3"])
    hook_calls.clear()  # set_owner's own owner_changed: only the transfer's calls matter here
    events = AuditEvent.select().count()
    with pytest.raises(DomainError, match="changed owner"):
        decide_transfer(org["mA"], side(t, "giving").id, True, "同意")
    assert owners(book) == {book[0]: org["a1"].id, book[1]: org["a1"].id, book[2]: org["a3"].id}
    assert side(t, "giving").status == "pending" and AuditEvent.select().count() == events
    assert not PoolEvent.select().where(PoolEvent.kind == "transfer").exists() and hook_calls == []


def test_a_failing_hook_rolls_the_whole_transfer_back(org, book):
    def boom(*args):
        raise RuntimeError("opportunities could not move")
    hooks.on("owner_changed", boom)
    try:
        t = ask(org, book, f"u:{org['a2'].id}")
        with pytest.raises(RuntimeError):
            decide_transfer(org["mA"], side(t, "giving").id, True, "同意")
    finally:
        hooks._HANDLERS["owner_changed"].remove(boom)
    assert set(owners(book).values()) == {org["a1"].id} and side(t, "giving").status == "pending"
    assert not AuditEvent.select().where(AuditEvent.kind == "transfer.moved").exists()


def test_a_recipient_deactivated_while_the_request_waited_is_refused(org, book):
    t = ask(org, book, f"u:{org['a2'].id}")
    User.update(active=False).where(User.id == org["a2"].id).execute()
    with pytest.raises(DomainError, match="no longer receive"):
        decide_transfer(org["mA"], side(t, "giving").id, True, "同意")
    assert set(owners(book).values()) == {org["a1"].id}


def test_the_requester_withdraws_a_pending_request(org, book):
    t = ask(org, book, f"u:{org['a2'].id}")
    with pytest.raises(NotFound):
        cancel_transfer(org["mA"], t)
    assert cancel_transfer(org["a1"], t).status == "cancelled"
    with pytest.raises(DomainError):
        decide_transfer(org["mA"], side(t, "giving").id, True, "同意")
    assert open_transfer_of(book[0]) is None
    ask(org, book, f"u:{org['a3'].id}")  # free to ask again


def test_two_managers_approving_at_once_execute_it_once(org, book):
    for round_ in range(5):
        ids = book if round_ == 0 else [c.id for c in Customer.select().where(Customer.owner == (org["a2"].id if round_ % 2 else org["a3"].id))]
        giver = "a1" if round_ == 0 else ("a2" if round_ % 2 else "a3")
        to = "a3" if giver == "a2" else "a2"
        t = ask(org, ids, f"u:{org[to].id}", actor=giver, giver=giver)
        approval = side(t, "giving").id
        ledger_before = PoolEvent.select().where(PoolEvent.kind == "transfer").count()
        results = fire([lambda: decide_transfer(org["mA"], approval, True, "同意").status,
                        lambda: decide_transfer(org["mA2"], approval, True, "也同意").status])
        assert sorted(r[0] for r in results) == ["domain", "ok"], results
        assert [r[1] for r in results if r[0] == "ok"] == ["done"]
        assert [r[1] for r in results if r[0] == "domain"] == ["This request was already decided."]
        assert PoolEvent.select().where(PoolEvent.kind == "transfer").count() == ledger_before + 3
        assert set(owners(book).values()) == {org[to].id}
        assert AuditEvent.select().where((AuditEvent.kind == "transfer.moved")
                                         & AuditEvent.data.contains(f'"transfer_id": {t.id}')).count() == 3


def test_both_sides_approving_at_once_carry_the_transfer_out_once(org, book):
    """Across teams, the giving and the receiving manager approve at the same instant: one of them finds the
    other's side approved and carries it out (on PostgreSQL the transfer's row is locked; without it each saw
    the other still pending and the transfer stayed approved twice, never done)."""
    t = ask(org, book, f"u:{org['b1'].id}")
    results = fire([lambda: decide_transfer(org["mA"], side(t, "giving").id, True, "同意").status,
                    lambda: decide_transfer(org["mB"], side(t, "receiving").id, True, "欢迎").status])
    assert sorted(r[1] for r in results) == ["done", "pending"], results
    assert Transfer.get_by_id(t.id).status == "done"
    assert set(owners(book).values()) == {org["b1"].id}
    assert PoolEvent.select().where((PoolEvent.kind == "transfer") & PoolEvent.customer.in_(book)).count() == 3


def test_approve_and_reject_at_once_make_exactly_one_decision(org, book):
    t = ask(org, book, f"u:{org['a2'].id}")
    approval = side(t, "giving").id
    results = fire([lambda: decide_transfer(org["mA"], approval, True, "同意").status,
                    lambda: decide_transfer(org["mA2"], approval, False, "不同意").status])
    assert sorted(r[0] for r in results) == ["domain", "ok"]
    status = Transfer.get_by_id(t.id).status
    assert status in ("done", "rejected")
    assert set(owners(book).values()) == {org["a2"].id if status == "done" else org["a1"].id}


# ---- the leaver ---------------------------------------------------------------------------------

def test_deactivating_a_rep_who_owns_customers_is_refused(org, book):
    with pytest.raises(StillOwnsCustomers) as exc:
        set_active(org["admin"], org["a1"], False)
    assert exc.value.params["n"] == 3 and exc.value.user_id == org["a1"].id
    assert User.get_by_id(org["a1"].id).active is True
    assert not AuditEvent.select().where(AuditEvent.kind == "user.deactivated").exists()
    set_active(org["admin"], org["a3"], False)  # owns nothing: fine
    assert User.get_by_id(org["a3"].id).active is False


def test_the_proposal_fills_room_first_then_region_then_industry_and_says_why(org, make_customer):
    suits = Industry.get(Industry.code == "suits") if Industry.select().where(Industry.code == "suits").exists() else Industry.select().first()
    south = Region.get(Region.code == "south")
    User.update(region=south).where(User.id == org["a3"].id).execute()
    adjust_capacity(org["mA"], org["a2"], -48, 30, "只剩两个位置")  # a2: room for 2
    make_customer(owner=org["a3"], industry_id=str(suits.id))  # a3 already sells suits
    leaver_ids = [make_customer(owner=org["a1"], region_id=str(r.id), industry_id=str(suits.id)).id
                  for r in (org["east"], org["east"], org["east"], south)]
    draft = prepare_leaver_plan(org["admin"], org["a1"])
    items = {i.customer_id: i for i in TransferItem.select().where(TransferItem.transfer == draft.id)}
    assert draft.kind == "leaver" and draft.status == "draft" and draft.total == 4
    plan = {cid: items[cid].to_user_id for cid in leaver_ids}
    # the south customer goes to the southern rep; the east ones to eastern reps with room (a2 has 2 places)
    assert plan[leaver_ids[3]] == org["a3"].id
    assert list(plan.values()).count(org["a2"].id) <= 2
    assert items[leaver_ids[3]].why["region"] is True and items[leaver_ids[3]].why["industry"] == 1
    assert all(items[cid].to_user_id in {org["a2"].id, org["a3"].id, org["mA"].id, org["mA2"].id} for cid in leaver_ids)
    # preparing again keeps the plan (and hand-made choices)
    assert prepare_leaver_plan(org["admin"], org["a1"]).id == draft.id
    assert TransferItem.select().where(TransferItem.transfer == draft.id).count() == 4


def test_nobody_with_room_means_the_pool(org, make_customer):
    for who in ("a2", "a3", "mA", "mA2"):
        adjust_capacity(org["admin"], org[who], -50, 30, "满员")
    c = make_customer(owner=org["a1"], region_id=str(org["east"].id))
    draft = prepare_leaver_plan(org["mA"], org["a1"])
    item = TransferItem.get(TransferItem.transfer == draft.id)
    assert (item.to_user_id, item.to_pool_id, item.why) == (None, Pool.get(Pool.region == org["east"].id).id, {"full": True})
    assert item.customer_id == c.id


def test_the_plan_is_adjusted_one_by_one_and_in_bulk_by_the_team_only(org, book):
    draft = prepare_leaver_plan(org["mA"], org["a1"])
    first = TransferItem.select().where(TransferItem.transfer == draft.id).order_by(TransferItem.id).first()
    item = set_plan_target(org["mA"], first.id, f"u:{org['a3'].id}")
    assert (item.to_user_id, item.pinned) == (org["a3"].id, True)
    with pytest.raises(DomainError):  # another team's rep: not for a manager
        set_plan_target(org["mA"], first.id, f"u:{org['b1'].id}")
    with pytest.raises(DomainError):
        set_plan_target(org["mA"], first.id, "u:abc")
    with pytest.raises(NotFound):
        set_plan_target(org["mB"], first.id, f"u:{org['a3'].id}")
    assert assign_remaining(org["mA"], draft, f"u:{org['a2'].id}") == 2
    plan = {i.customer_id: i.to_user_id for i in TransferItem.select().where(TransferItem.transfer == draft.id)}
    assert sorted(plan.values()) == sorted([org["a3"].id, org["a2"].id, org["a2"].id])
    with pytest.raises(NotFound):  # the manager prepares; the admin carries out
        execute_leaver_plan(org["mA"], draft, "离职")


def test_the_leaver_hand_over_moves_everything_in_chunks_then_deactivates(org, book, make_customer, hook_calls):
    more = [make_customer(owner=org["a1"], region_id=str(org["east"].id)).id for _ in range(4)]
    hook_calls.clear()  # giving the leaver these customers fired owner_changed too
    draft = prepare_leaver_plan(org["admin"], org["a1"])
    with pytest.raises(DomainError, match="Say why"):
        execute_leaver_plan(org["admin"], draft, "")
    t = execute_leaver_plan(org["admin"], draft, "张三离职")
    assert (t.status, t.total, t.done) == ("executing", 7, 0)
    assert [(a.side, a.status) for a in TransferApproval.select().where(TransferApproval.transfer == t.id)] == [("giving", "approved")]
    with pytest.raises(DomainError):  # no changes once it runs
        set_plan_target(org["admin"], TransferItem.get(TransferItem.transfer == t.id).id, f"u:{org['a2'].id}")
    finished = run_job(t.id, chunk=3)
    assert (finished.status, finished.done) == ("done", 7)
    assert Customer.select().where(Customer.owner == org["a1"].id).count() == 0
    assert User.get_by_id(org["a1"].id).active is False
    assert PoolEvent.select().where(PoolEvent.kind == "transfer").count() == 7
    assert AuditEvent.select().where(AuditEvent.kind == "user.deactivated").count() == 1
    assert sum(len(ids) for _, ids, _, _, _ in hook_calls) == 7
    # no customer anywhere is owned by a deactivated user
    assert not Customer.select().join(User, on=(Customer.owner == User.id)).where(User.active == False).exists()  # noqa: E712
    # idempotent: running it again moves nothing
    assert run_job(t.id).status == "done" and PoolEvent.select().where(PoolEvent.kind == "transfer").count() == 7
    assert set(owners(book + more).values()) <= {org["a2"].id, org["a3"].id, org["mA"].id, org["mA2"].id}


def test_a_stalled_job_is_resumed_by_the_sweep_without_moving_anything_twice(org, book):
    draft = prepare_leaver_plan(org["admin"], org["a1"])
    t = execute_leaver_plan(org["admin"], draft, "离职")
    # a first runner did one customer, then the process died
    first = TransferItem.select().where(TransferItem.transfer == t.id).order_by(TransferItem.id).first()
    from models.transfers import _move, _approver_names
    from models import rules as rules_mod
    _move(org["admin"], t, [first], FROZEN, rules_mod.in_force(FROZEN), _approver_names(t), "", strict=False)
    Transfer.update(done=1, heartbeat_at=FROZEN - dt.timedelta(minutes=5)).where(Transfer.id == t.id).execute()
    assert resume_stalled(FROZEN) == {"resumed": 1}
    assert Transfer.get_by_id(t.id).status == "done" and Transfer.get_by_id(t.id).done == 3
    assert PoolEvent.select().where(PoolEvent.kind == "transfer").count() == 3
    assert resume_stalled(FROZEN) == {"resumed": 0}


def test_a_customer_that_left_the_leaver_meanwhile_is_skipped_and_one_that_came_stops_the_job(org, book, make_customer):
    draft = prepare_leaver_plan(org["admin"], org["a1"])
    t = execute_leaver_plan(org["admin"], draft, "离职")
    set_owner(org["admin"], Customer.get_by_id(book[0]), org["b1"])  # moved elsewhere meanwhile: skipped
    late = make_customer(owner=org["a1"])  # came in meanwhile: the job cannot deactivate
    finished = run_job(t.id)
    assert finished.status == "failed" and finished.error["params"]["n"] == 1
    assert User.get_by_id(org["a1"].id).active is True
    assert Customer.get_by_id(book[0]).owner_id == org["b1"].id
    again = prepare_leaver_plan(org["admin"], org["a1"])  # the wizard picks up the newcomer
    assert again.id == t.id and again.status == "draft" and again.total == 1
    assert TransferItem.get((TransferItem.transfer == t.id) & (TransferItem.done == False)).customer_id == late.id  # noqa: E712
    execute_leaver_plan(org["admin"], again, "离职")
    assert run_job(t.id).status == "done" and User.get_by_id(org["a1"].id).active is False


def test_the_leaver_plan_over_capacity_needs_an_override(org, book):
    draft = prepare_leaver_plan(org["admin"], org["a1"])
    adjust_capacity(org["admin"], org["a2"], -50, 30, "满员")
    assign_remaining(org["admin"], draft, f"u:{org['a2'].id}")
    with pytest.raises(CapacityRefused):
        execute_leaver_plan(org["admin"], draft, "离职")
    assert Transfer.get_by_id(draft.id).status == "draft"
    assert execute_leaver_plan(org["admin"], draft, "离职", "月底再调整").status == "executing"


# ---- demo scene ------------------------------------------------------------------------------

def test_the_demo_scene_leaves_a_transfer_waiting_in_manager01s_inbox(make_user, make_team, make_customer):
    from seeds import demo_ownership
    from views.transfers import approval_count

    team = make_team("华东一组演示")
    manager = make_user("manager", team, username="manager01")
    Team.update(manager=manager).where(Team.id == team.id).execute()
    reps = [make_user("sales", team, username=f"rep{n:03d}") for n in range(1, 9)]
    for rep in reps:
        for _ in range(4):
            make_customer(owner=rep)
    said = []
    demo_ownership.stage(said.append)
    assert said and "waiting for manager01" in said[0]
    manager = User.get_by_id(manager.id)
    assert approval_count(manager) == 1
    pending = Transfer.get(Transfer.status == "pending")
    assert (pending.from_user_id, pending.total) == (reps[3].id, 3)
    done = Transfer.get(Transfer.status == "done")
    assert set(owners([i.customer_id for i in done.items]).values()) == {reps[6].id}
    assert PoolEvent.select().where(PoolEvent.kind == "transfer").count() == 2


# ---- over HTTP: bad input, the inbox row, query counts ----------------------------------------------

BAD_FORMS = [
    {"to": "u:{a2}", "reason": "很" * 10000, "customer": "{c}"},
    {"to": "u:{a2}", "reason": "\x00", "customer": "{c}"},
    {"to": "u:99999999999999999999999999", "reason": "理由😀", "customer": "{c}"},
    {"to": "u:abc", "reason": "理由", "customer": "{c}"},
    {"to": "u:{a2}", "reason": "理由", "customer": "abc"},
    {"to": "u:{a2}", "reason": "理由", "customer": "99999999999999999999999"},
    {"to": "u:{a2}", "reason": "理由", "customer": "-1"},
    {"to": "p:1e9", "reason": "理由", "customer": "{c}"},
    {"to": "", "reason": "", "customer": ""},
]


@pytest.mark.parametrize("data", BAD_FORMS)
def test_the_request_form_answers_bad_input_inline_and_writes_nothing(client, org, book, data):
    client.login(org["a1"])
    data = {k: v.format(a2=org["a2"].id, c=book[0]) for k, v in data.items()}
    for htmx in (False, True):
        r = client.post(f"/transfers/new?rep={org['a1'].id}", data, htmx=htmx)
        assert r.status_code == 200, r.status_code
        assert "Please correct the highlighted fields." in r.get_data(as_text=True)
    assert Transfer.select().count() == 0


@pytest.mark.parametrize("url", ["/transfers/new?customer=abc", "/transfers/new?rep=99999999999999999999999",
                                 "/transfers/?before=abc", "/transfers/99999999999999999999999",
                                 "/transfers/1?after=-5"])
def test_odd_urls_are_no_500(client, org, url):
    client.login(org["a1"])
    assert client.get(url).status_code in (200, 404)


def test_a_split_request_through_the_form_and_the_inline_decision(client, org, book):
    client.login(org["a1"])
    r = client.post(f"/transfers/new?rep={org['a1'].id}",
                    {"customer": [str(book[0]), str(book[1])], "to": f"u:{org['a2'].id}",
                     f"to_{book[1]}": f"u:{org['a3'].id}", "reason": REASON}, htmx=True)
    t = Transfer.get()
    assert r.headers["HX-Redirect"] == f"/transfers/{t.id}"
    assert {i.customer_id: i.to_user_id for i in t.items} == {book[0]: org["a2"].id, book[1]: org["a3"].id}
    approval = side(t, "giving")
    client.login(org["mA"])
    inbox = client.get("/approvals").get_data(as_text=True)
    assert f'id="transfer-approval-{approval.id}"' in inbox and REASON in inbox
    badge = client.get("/notifications/badge").get_data(as_text=True)
    assert re.search(r'id="approvals-badge".*?<span class="count">1</span>', badge, re.S)
    r = client.post(f"/transfers/approvals/{approval.id}", {"decision": "approve", "reason": ""}, htmx=True)
    assert r.status_code == 200 and "Give a reason for the decision." in r.get_data(as_text=True)
    assert "HX-Trigger" not in r.headers and side(t, "giving").status == "pending"
    r = client.post(f"/transfers/approvals/{approval.id}", {"decision": "approve", "reason": "同意"}, htmx=True)
    assert json.loads(r.headers["HX-Trigger"]) == {"approvalsChanged": True}
    body = r.get_data(as_text=True)
    assert body.strip().startswith("<tr") and f'id="transfer-approval-{approval.id}"' in body and "Approved" in body
    assert owners(book[:2]) == {book[0]: org["a2"].id, book[1]: org["a3"].id}
    assert 'class="count"' not in client.get("/notifications/badge").get_data(as_text=True).split("approvals-badge")[-1] \
        or "approvals-badge" not in client.get("/notifications/badge").get_data(as_text=True)


def test_at_capacity_the_inbox_row_asks_for_an_override_reason(client, org, book):
    adjust_capacity(org["mA"], org["a2"], -50, 30, "满员")
    t = ask(org, book, f"u:{org['a2'].id}")
    client.login(org["mA"])
    approval = side(t, "giving")
    r = client.post(f"/transfers/approvals/{approval.id}", {"decision": "approve", "reason": "同意"}, htmx=True)
    body = r.get_data(as_text=True)
    assert r.status_code == 200 and "room for 0 more customers" in body and 'name="override_reason"' in body
    r = client.post(f"/transfers/approvals/{approval.id}",
                    {"decision": "approve", "reason": "同意", "override_reason": "临时超额，下月调整"}, htmx=True)
    assert "approvalsChanged" in r.headers["HX-Trigger"] and set(owners(book).values()) == {org["a2"].id}


def test_the_customer_page_offers_a_transfer_and_then_shows_the_waiting_one(client, org, book):
    client.login(org["a1"])
    page = client.get(f"/customers/{book[0]}").get_data(as_text=True)
    assert f'href="/transfers/new?customer={book[0]}"' in page
    t = ask(org, book[:1], f"u:{org['a2'].id}")
    page = client.get(f"/customers/{book[0]}").get_data(as_text=True)
    assert f'href="/transfers/{t.id}"' in page and "Waiting for approval" in page
    timeline = client.get(f"/customers/{book[0]}?tab=timeline").get_data(as_text=True)
    assert "asked to transfer the customer from" in timeline


def test_list_pages_run_a_fixed_number_of_queries(client, org, make_customer):
    from playhouse.test_utils import count_queries

    def many(n):
        for _ in range(n):
            c = make_customer(owner=org["a1"])
            ask(org, [c.id], f"u:{org['a2'].id}")
    client.login(org["mA"])
    counts = []
    for n in (2, 12):
        many(n)
        for url in ("/transfers/", "/approvals"):
            with count_queries() as q:
                assert client.get(url).status_code == 200
            counts.append((url, q.count))
    assert counts[0][1] == counts[2][1] and counts[1][1] == counts[3][1], counts


def test_the_leaver_pages_run_a_fixed_number_of_queries(client, org, make_customer):
    from playhouse.test_utils import count_queries

    client.login(org["admin"])
    counts = []
    for n in (5, 30):  # both spread over the four team mates
        for _ in range(n):
            make_customer(owner=org["a1"])
        prepare_leaver_plan(org["admin"], org["a1"])
        with count_queries() as q:
            page = client.get(f"/transfers/leaver/{org['a1'].id}")
        assert page.status_code == 200
        counts.append(q.count)
    assert counts[0] == counts[1], counts


def test_the_wizard_over_http_from_refusal_to_done(client, org, book, monkeypatch):
    import models.transfers as transfers_mod
    monkeypatch.setattr(transfers_mod, "start_job", transfers_mod.run_job)
    client.login(org["admin"])
    r = client.post(f"/admin/users/{org['a1'].id}/active", {"active": "0"}, htmx=True)
    assert r.headers["HX-Redirect"] == f"/transfers/leaver/{org['a1'].id}"
    page = client.get(r.headers["HX-Redirect"]).get_data(as_text=True)
    assert "still owns 3 customers" in page and "Propose a split" in page
    assert client.post(f"/transfers/leaver/{org['a1'].id}/plan", htmx=True).status_code == 204
    page = client.get(f"/transfers/leaver/{org['a1'].id}").get_data(as_text=True)
    assert page.count('id="plan-item-') == 3 and "room for" in page
    item = TransferItem.select().first()
    User.update(active=False).where(User.id == org["a2"].id).execute()
    r = client.post(f"/transfers/leaver/items/{item.id}", {"to": f"u:{org['a2'].id}"}, htmx=True)
    assert r.status_code == 200 and "Choose an active rep of the team, or a pool." in r.get_data(as_text=True)
    r = client.post(f"/transfers/leaver/items/{item.id}", {"to": f"u:{org['a3'].id}"}, htmx=True)
    assert 'hx-swap-oob="true"' in r.get_data(as_text=True) and TransferItem.get_by_id(item.id).to_user_id == org["a3"].id
    r = client.post(f"/transfers/leaver/{org['a1'].id}/execute", {"reason": ""}, htmx=True)
    assert r.status_code == 200 and "Say why" in r.get_data(as_text=True)
    if TransferItem.select().where(TransferItem.to_user == org["a2"].id).exists():
        r = client.post(f"/transfers/leaver/{org['a1'].id}/execute", {"reason": "离职交接"}, htmx=True)
        assert "can no longer receive customers" in r.get_data(as_text=True)
        assert Transfer.get(Transfer.kind == "leaver").status == "draft"
    User.update(active=True).where(User.id == org["a2"].id).execute()
    r = client.post(f"/transfers/leaver/{org['a1'].id}/execute", {"reason": "离职交接"}, htmx=True)
    t = Transfer.get(Transfer.kind == "leaver")
    assert r.headers["HX-Redirect"] == f"/transfers/{t.id}"
    assert t.status == "done" and not User.get_by_id(org["a1"].id).active
    r = client.get(f"/transfers/{t.id}/progress", htmx=True)
    assert r.headers.get("HX-Refresh") == "true" and "Done: 3 customers moved." in r.get_data(as_text=True)


def test_customers_waiting_in_other_transfers_must_be_decided_before_the_hand_over(org, book):
    ask(org, book[:1], f"u:{org['a2'].id}")
    draft = prepare_leaver_plan(org["admin"], org["a1"])
    assert draft.total == 2  # the customer already in a transfer is not planned twice
    with pytest.raises(DomainError, match="wait in other transfers"):
        execute_leaver_plan(org["admin"], draft, "离职")
    assert Transfer.get_by_id(draft.id).status == "draft"


def test_the_wizard_page_names_the_transfers_that_hold_customers_back(client, org, book):
    t = ask(org, book[:1], f"u:{org['a2'].id}")
    client.login(org["admin"])
    page = client.get(f"/transfers/leaver/{org['a1'].id}").get_data(as_text=True)
    assert 'id="leaver-waiting"' in page and f'href="/transfers/{t.id}"' in page


def test_a_recipient_sees_their_share_of_a_split_and_not_the_others_names(client, org, book):
    t = request_transfer(org["a1"], org["a1"], [(book[0], f"u:{org['b1'].id}"), (book[1], f"u:{org['a2'].id}")], REASON)
    names = {c.id: c.name for c in Customer.select().where(Customer.id.in_(book[:2]))}
    client.login(org["mA"])
    page = client.get(f"/transfers/{t.id}").get_data(as_text=True)
    assert f">{names[book[0]]}<" in page and f">{names[book[1]]}<" in page
    decide_transfer(org["mA"], side(t, "giving").id, True, "同意")
    decide_transfer(org["mB"], side(t, "receiving").id, True, "同意")
    client.login(org["b1"])
    page = client.get(f"/transfers/{t.id}").get_data(as_text=True)
    assert f">{names[book[0]]}<" in page and f">{names[book[1]]}<" not in page and "another rep" in page


def test_open_opportunities_follow_the_customer_with_their_stage(org, book):
    """Domain §4: opportunities move with the customer, keeping their stages (models/opportunities.py hooks
    owner_changed); a closed one stays with whoever won or lost it."""
    from models.opportunities import Opportunity, create_opportunity, move_opportunity

    customer = Customer.get_by_id(book[0])
    open_ = create_opportunity(org["a1"], customer, {"name": "春季西装团购", "amount": "300000",
                                                     "expected_close": "2027-01-15"})
    open_ = move_opportunity(org["a1"], open_, "presentation")
    t = ask(org, book[:1], f"u:{org['b1'].id}")
    decide_transfer(org["mA"], side(t, "giving").id, True, "同意")
    decide_transfer(org["mB"], side(t, "receiving").id, True, "同意")
    moved = Opportunity.get_by_id(open_.id)
    assert (moved.owner_id, moved.team_id, moved.stage) == (org["b1"].id, org["team_b"].id, "presentation")


def test_the_pool_ledger_and_the_new_owners_notifications_show_the_transfer(client, org, book):
    t = ask(org, book[:1], f"u:{org['a2'].id}")
    decide_transfer(org["mA"], side(t, "giving").id, True, "同意")
    client.login(org["admin"])
    ledger = client.get("/admin/ledger").get_data(as_text=True)
    assert "Transferred" in ledger and REASON in ledger
    client.login(org["a2"])
    notes = client.get("/notifications").get_data(as_text=True)
    name = Customer.get_by_id(book[0]).name
    assert f"{name} (from {org['a1'].full_name}) was transferred to you, approved by {org['mA'].full_name}" in notes


def test_a_job_killed_with_the_server_resumes_when_the_server_starts(org, book):
    """The process died a moment ago (its heartbeat is fresh, so the sweep would wait for it to go stale):
    starting the server resumes it at once (issue 11, finding 9)."""
    import threading

    import app as app_module
    import models

    draft = prepare_leaver_plan(org["admin"], org["a1"])
    t = execute_leaver_plan(org["admin"], draft, "离职")
    Transfer.update(heartbeat_at=FROZEN).where(Transfer.id == t.id).execute()
    assert resume_stalled(FROZEN) == {"resumed": 0}  # not stale yet: the sweep leaves it
    models.db.close()
    before = set(threading.enumerate())
    assert app_module.on_start() == 1
    for thread in set(threading.enumerate()) - before:
        thread.join(timeout=30)
    models.db.connect(reuse_if_open=True)
    assert Transfer.get_by_id(t.id).status == "done"
    assert Customer.select().where(Customer.owner == org["a1"].id).count() == 0


def test_the_workbench_shows_the_transfers_waiting_for_this_manager_in_a_fixed_number_of_queries(client, org, book, make_customer):
    from playhouse.test_utils import count_queries

    t = ask(org, book, f"u:{org['a2'].id}")
    client.login(org["mA"])
    home = client.get("/").get_data(as_text=True)
    card = home.split('id="wb-transfer-approvals"')[1].split("</section>")[0]
    assert f'href="/transfers/{t.id}"' in card and 'href="/approvals"' in card and '<span class="count">1</span>' in card
    with count_queries() as one:
        client.get("/")
    for _ in range(7):  # more than the card lists: the count says how many, the inbox has them all
        ask(org, [make_customer(owner=org["a1"]).id], f"u:{org['a2'].id}")
    with count_queries() as eight:
        card = client.get("/").get_data(as_text=True).split('id="wb-transfer-approvals"')[1].split("</section>")[0]
    assert card.count('<li id="wb-transfer-') == 5 and '<span class="count">8</span>' in card and "(+3)" in card
    assert eight.count == one.count
    client.login(org["mB"])  # the other team's manager has nothing of it to decide
    card = client.get("/").get_data(as_text=True).split('id="wb-transfer-approvals"')[1].split("</section>")[0]
    assert f'href="/transfers/{t.id}"' not in card and "No transfer waits for your decision." in card
    client.login(org["a1"])  # a rep decides no transfer: no card
    assert 'id="wb-transfer-approvals"' not in client.get("/").get_data(as_text=True)
    client.login(org["admin"])
    assert f'href="/transfers/{t.id}"' in client.get("/").get_data(as_text=True)
    decide_transfer(org["mA"], side(t, "giving").id, True, "同意")
    client.login(org["mA"])
    assert f'href="/transfers/{t.id}"' not in client.get("/").get_data(as_text=True)
