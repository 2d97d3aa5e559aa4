"""Claims at the same moment, against a real SQLite file: exactly one rep wins a customer, no rep ever
exceeds capacity, and two managers deciding one lock request make exactly one decision.

Each thread opens its own connection (peewee connections are per thread), all threads wait at a
barrier, then fire at once. Nothing here measures time: the proof is in the rows."""
import os
import threading

import pytest

from models import clock, db
from models.audit import AuditEvent
from models.customers import Customer
from models.errors import DomainError
from models.notifications import Notification
from models.pools import (CapacityAdjustment, ClaimRefused, LockRequest, Pool, PoolEvent, adjust_capacity, capacity,
                          claim_customer, decide_lock, request_lock)
from models.users import Region, Team

THREADS = 50


def fire(calls):
    """Run every call in its own thread with its own connection, released together by a barrier.
    Returns [("ok", value) | ("refused", rule) | ("domain", message) | ("error", exception)]."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def worker(i, call):
        try:
            db.connect(reuse_if_open=True)
            try:
                barrier.wait(timeout=60)
                results[i] = ("ok", call())
            finally:
                db.close()
        except ClaimRefused as exc:
            results[i] = ("refused", exc.rule)
        except DomainError as exc:
            results[i] = ("domain", exc.message)
        except Exception as exc:  # noqa: BLE001 - "database is locked" and friends must surface here
            results[i] = ("error", exc)

    threads = [threading.Thread(target=worker, args=(i, call)) for i, call in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    errors = [r for r in results if r is None or r[0] == "error"]
    assert not errors, errors
    return results


@pytest.fixture
def east(app):
    region = Region.get(Region.code == "east")
    return region, Pool.get(Pool.region == region.id)


@pytest.fixture
def pool_customers(make_customer, east):
    def make(n):
        region, pool = east
        ids = [make_customer(region_id=region.id).id for _ in range(n)]
        Customer.update(pool=pool.id).where(Customer.id.in_(ids)).execute()
        return ids
    return make


def test_the_database_is_a_real_file_in_wal_mode(app, db_path):
    assert os.path.isfile(db_path) and db.database == str(db_path)
    assert db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute_sql("PRAGMA busy_timeout").fetchone()[0] == 10000


def test_fifty_reps_claim_one_customer_at_once_exactly_one_wins(make_user, make_team, east, pool_customers):
    region, pool = east
    teams = [make_team(region=region) for _ in range(5)]
    reps = [make_user("sales", teams[i % 5]) for i in range(THREADS)]
    (customer_id,) = pool_customers(1)

    results = fire([lambda rep=rep: claim_customer(rep, customer_id).owner_id for rep in reps])

    winners = [r for r in results if r[0] == "ok"]
    assert len(winners) == 1
    assert sorted(r for r in results if r[0] != "ok") == [("refused", "taken")] * (THREADS - 1)
    c = Customer.get_by_id(customer_id)
    assert c.owner_id == winners[0][1] and c.pool_id is None
    assert c.team_id == next(rep.team_id for rep in reps if rep.id == c.owner_id)
    claims = list(PoolEvent.select().where((PoolEvent.kind == "claim") & (PoolEvent.customer == customer_id)))
    assert len(claims) == 1 and claims[0].actor_id == c.owner_id
    refusals = list(PoolEvent.select().where(PoolEvent.kind == "claim_refused"))
    assert len(refusals) == THREADS - 1 and {r.inputs["rule"] for r in refusals} == {"taken"}
    assert {r.actor_id for r in refusals} == {rep.id for rep in reps} - {c.owner_id}
    assert AuditEvent.select().where(AuditEvent.kind == "pool.claimed").count() == 1


def test_one_rep_with_capacity_3_claims_fifty_customers_at_once_gets_exactly_3(make_user, make_team, east,
                                                                               pool_customers):
    region, _ = east
    team = make_team(region=region)
    manager = make_user("manager", team)
    Team.update(manager=manager).where(Team.id == team.id).execute()
    rep = make_user("sales", team)
    adjust_capacity(manager, rep, -47, 30, "试用期：私海上限 3")
    assert capacity(rep)["total"] == 3
    ids = pool_customers(THREADS)

    results = fire([lambda cid=cid: claim_customer(rep, cid).id for cid in ids])

    won = sorted(r[1] for r in results if r[0] == "ok")
    assert len(won) == 3
    assert sorted(r for r in results if r[0] != "ok") == [("refused", "capacity")] * (THREADS - 3)
    cap = capacity(rep)
    assert (cap["used"], cap["total"]) == (3, 3)
    assert sorted(c.id for c in Customer.select().where(Customer.owner == rep.id)) == won
    assert PoolEvent.select().where(PoolEvent.kind == "claim").count() == 3
    assert Customer.select().where(Customer.pool.is_null(False)).count() == THREADS - 3


def test_many_reps_many_customers_nobody_exceeds_capacity_nobody_is_claimed_twice(make_user, make_team, east,
                                                                                  pool_customers):
    region, _ = east
    team = make_team(region=region)
    manager = make_user("manager", team)
    reps = [make_user("sales", team) for _ in range(5)]
    for rep in reps:
        adjust_capacity(manager, rep, -48, 30, "私海上限 2")
    ids = pool_customers(10)
    # every rep goes for every customer: 50 claims, 5 × 2 places, 10 customers
    calls = [lambda rep=rep, cid=cid: claim_customer(rep, cid).id for rep in reps for cid in ids]

    results = fire(calls)

    assert len([r for r in results if r[0] == "ok"]) == 10
    assert {r[1] for r in results if r[0] != "ok"} <= {"taken", "capacity"}
    for rep in reps:
        cap = capacity(rep)
        assert cap["used"] == 2 and cap["used"] <= cap["total"]
    owners = [c.owner_id for c in Customer.select().where(Customer.id.in_(ids))]
    assert None not in owners
    assert PoolEvent.select().where(PoolEvent.kind == "claim").count() == 10
    assert len({e.customer_id for e in PoolEvent.select().where(PoolEvent.kind == "claim")}) == 10


def test_two_managers_deciding_one_lock_request_at_once_make_exactly_one_decision(make_user, make_team, make_customer,
                                                                                  east):
    region, _ = east
    team = make_team(region=region)
    mgr_1, mgr_2 = make_user("manager", team), make_user("manager", team)
    Team.update(manager=mgr_1).where(Team.id == team.id).execute()
    rep = make_user("sales", team)
    requests = []
    for _ in range(10):
        c = make_customer(owner=rep, region_id=region.id)
        requests.append(request_lock(rep, c, "年底大单谈判中"))

    for req in requests:
        results = fire([lambda: decide_lock(mgr_1, req.id, True, "同意"),
                        lambda: decide_lock(mgr_2, req.id, False, "不同意")])
        assert sorted(r[0] for r in results) == ["domain", "ok"], results
        assert [r[1] for r in results if r[0] == "domain"] == ["This request was already decided."]
        decided = LockRequest.get_by_id(req.id)
        winner = "approved" if results[0][0] == "ok" else "rejected"
        assert decided.status == winner and decided.decided_by_id == (mgr_1.id if winner == "approved" else mgr_2.id)
        customer = Customer.get_by_id(req.customer_id)
        assert customer.locked == (winner == "approved")
        assert (customer.release_at is None) == (winner == "approved")
        decisions = AuditEvent.select().where(AuditEvent.kind.in_(("pool.lock_approved", "pool.lock_rejected"))
                                              & (AuditEvent.customer == req.customer_id))
        assert decisions.count() == 1
        assert PoolEvent.select().where((PoolEvent.kind == "lock") & (PoolEvent.customer == req.customer_id)).count() \
            == (1 if winner == "approved" else 0)
    assert Notification.select().where(Notification.kind == "lock_decided").count() == len(requests)
    assert CapacityAdjustment.select().count() == 0


def test_two_sweeps_at_once_release_each_due_customer_once(make_user, make_team, make_customer, east):
    import datetime as dt

    from models.pools import sweep
    from tests.conftest import FROZEN

    region, pool = east
    team = make_team(region=region)
    reps = [make_user("sales", team) for _ in range(3)]
    ids = [make_customer(owner=reps[i % 3], region_id=region.id).id for i in range(12)]
    now = FROZEN + dt.timedelta(days=15)
    clock.freeze(now)

    results = fire([lambda: sweep(now)["released"] for _ in range(4)])

    assert sum(r[1] for r in results) == 12
    assert PoolEvent.select().where(PoolEvent.kind == "forced_release").count() == 12
    assert AuditEvent.select().where(AuditEvent.kind == "pool.forced_release").count() == 12
    assert Notification.select().where(Notification.kind == "released").count() == 12
    assert Customer.select().where(Customer.id.in_(ids) & (Customer.pool == pool.id)
                                   & Customer.owner.is_null()).count() == 12


# ---- one waiting lock request per customer (issue 11 point 7) ------------------------------------------

def _lock_team(make_user, make_team, east):
    region, _ = east
    team = make_team(region=region)
    mgr_1, mgr_2 = make_user("manager", team), make_user("manager", team)
    Team.update(manager=mgr_1).where(Team.id == team.id).execute()
    return region, mgr_1, mgr_2, make_user("sales", team)


def test_ten_lock_requests_at_once_leave_one_waiting_and_two_approvals_lock_once(make_user, make_team, make_customer,
                                                                                 east):
    region, mgr_1, mgr_2, rep = _lock_team(make_user, make_team, east)
    c = make_customer(owner=rep, region_id=region.id)
    results = fire([lambda who=who: request_lock(who, c, "年底大单谈判中") for who in [rep] * 5 + [mgr_1] * 5])
    assert [r[0] for r in results].count("ok") == 1, results
    assert {r[1] for r in results if r[0] != "ok"} == {"A lock request for this customer is already waiting."}
    pending = list(LockRequest.select().where((LockRequest.customer == c.id) & (LockRequest.status == "pending")))
    assert len(pending) == 1
    assert AuditEvent.select().where((AuditEvent.kind == "pool.lock_requested")
                                     & (AuditEvent.customer == c.id)).count() == 1

    first, last = pending[0], pending[-1]
    results = fire([lambda: decide_lock(mgr_1, first.id, True, "同意"), lambda: decide_lock(mgr_2, last.id, True, "同意")])
    assert sorted(r[0] for r in results) == ["domain", "ok"], results
    assert PoolEvent.select().where((PoolEvent.kind == "lock") & (PoolEvent.customer == c.id)).count() == 1
    assert LockRequest.select().where((LockRequest.customer == c.id) & (LockRequest.status == "approved")).count() == 1
    assert Customer.get_by_id(c.id).locked


def test_the_database_refuses_a_second_waiting_request_and_the_verb_says_so(make_user, make_team, make_customer, east,
                                                                            monkeypatch):
    import peewee as pw

    region, mgr_1, _mgr_2, rep = _lock_team(make_user, make_team, east)
    c = make_customer(owner=rep, region_id=region.id)
    request_lock(rep, c, "年底大单谈判中")
    with pytest.raises(pw.IntegrityError):
        with db.atomic():
            LockRequest.create(customer=c, requester=mgr_1, reason="绕过校验", created_at=clock.now())
    # A request that slips past the check (another connection committed in between, as on PostgreSQL)
    # meets the index and is refused with the same words.
    other = make_customer(owner=rep, region_id=region.id)
    real_create = LockRequest.create

    def racing_create(**fields):
        real_create(**{**fields, "requester": mgr_1, "reason": "同时提交"})
        return real_create(**fields)

    monkeypatch.setattr(LockRequest, "create", racing_create)
    with pytest.raises(DomainError) as refused:
        request_lock(rep, other, "年底大单谈判中")
    assert refused.value.message == "A lock request for this customer is already waiting."
    assert LockRequest.select().where(LockRequest.customer == other.id).count() == 0  # rolled back whole
    # Decided requests do not count: once rejected, a new request may wait.
    monkeypatch.undo()
    req = LockRequest.get((LockRequest.customer == c.id) & (LockRequest.status == "pending"))
    decide_lock(mgr_1, req.id, False, "暂不需要")
    assert request_lock(rep, c, "客户又要求保密").status == "pending"


def test_pool_views_at_once_stop_at_the_daily_limit(make_user, make_team, east, pool_customers, monkeypatch):
    """The fragments of one page, or several tabs, opening pool files at once: the limit holds. (A slow
    insert widens the window between counting and writing, where a check outside the lock lets all in.)"""
    import time

    from models.pools import PoolView, record_pool_view
    from models.rules import save_version

    real_insert = PoolView.insert

    def slow_insert(*args, **kwargs):
        time.sleep(0.02)
        return real_insert(*args, **kwargs)

    monkeypatch.setattr(PoolView, "insert", slow_insert)

    region, _ = east
    admin = make_user("admin")
    save_version(admin, {"views_per_day": 3}, clock.now(), "")
    rep = make_user("sales", make_team(region=region))
    customers = [Customer.get_by_id(i) for i in pool_customers(20)]
    results = fire([lambda c=c: record_pool_view(rep, c) for c in customers])
    assert [r[0] for r in results].count("ok") == 3, results
    assert PoolView.select().where(PoolView.user == rep.id).count() == 3


def test_ten_transactions_notifying_one_dedupe_key_at_once_write_it_once_and_all_commit(make_user):
    """A sweep's warning written by two sweeps at once (PostgreSQL has no BEGIN IMMEDIATE): one row with the key,
    and the other transactions are not broken by the unique index (their other rows are kept)."""
    from models.notifications import notify

    user = make_user("sales")
    db.close()

    def write(i):
        with db.atomic():
            first = notify(user.id, "release_warning", "warned", dedupe_key="warn:1:2026-11-24")
            notify(user.id, "other", f"row {i}")
        return first is not None

    results = fire([lambda i=i: write(i) for i in range(10)])
    db.connect(reuse_if_open=True)
    assert sorted(value for _, value in results) == [False] * 9 + [True]
    assert Notification.select().where(Notification.dedupe_key == "warn:1:2026-11-24").count() == 1
    assert Notification.select().where(Notification.kind == "other").count() == 10
