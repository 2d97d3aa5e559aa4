"""The hooks' known rows (models/hooks.py) and the claim that hands them its row: every owner-change hook still
does its work when the row says there is some (a restored hold, open opportunities, holdings; a group entity:
tests/test_job_changes_groups.py), and the claim stays within its statement budget (issue 12: the claim verb no slower than first measured)."""
import datetime as dt

import pytest
from playhouse.test_utils import count_queries

from models import clock, hooks, rules as rules_mod
from models.customers import Customer
from models.fairness import FairHolding
from models.opportunities import Opportunity, create_opportunity
from models.pools import Pool, claim_customer, release_customer, release_plan
from models.users import Region, Team

@pytest.fixture
def east_team(make_team, make_user):
    east = Region.get(Region.code == "east")
    team = make_team(region=east)
    manager = make_user("manager", team)
    Team.update(manager=manager).where(Team.id == team.id).execute()
    return team, make_user("sales", team), make_user("sales", team)


def _in_pool(make_customer, **fields):
    pool = Pool.get(Pool.region == Region.get(Region.code == "east").id)
    c = make_customer(region_id=pool.region_id)
    Customer.update(pool=pool.id, **fields).where(Customer.id == c.id).execute()
    return Customer.get_by_id(c.id)


def test_known_rows_are_the_firing_verbs_and_only_inside_its_fire(make_customer, monkeypatch):
    a, b = make_customer(), make_customer()
    seen = []

    def inner(*_args):
        seen.append(("inner", hooks.known_rows([a.id])))

    def outer(actor, ids, from_id, to_id, reason):
        seen.append(("outer", hooks.known_rows(ids), hooks.known_rows([a.id, b.id])))
        hooks.fire("customer_edited", None)  # a nested fire sees only what it was given

    hooks.fire("customer_edited", a)  # the domains are loaded before their handlers are set aside
    monkeypatch.setattr(hooks, "_HANDLERS", {"owner_changed": [outer], "customer_edited": [inner]})
    hooks.fire("owner_changed", None, [a.id], None, None, "", rows=[a])
    hooks.fire("owner_changed", None, [a.id], None, None, "")
    assert seen == [("outer", [a], None), ("inner", None), ("outer", None, None), ("inner", None)]
    assert hooks.known_rows([a.id]) is None


def test_a_claim_hands_its_row_to_the_hooks_and_each_still_does_its_work(east_team, make_customer):
    team, rep, mate = east_team
    c = make_customer(owner=mate)
    o = create_opportunity(mate, Customer.get_by_id(c.id), {"name": "春季面料", "amount": "30000",
                                                           "expected_close": "2027-01-31"})
    release_customer(mate, Customer.get_by_id(c.id), "客户暂停采购，交回公海")
    assert Opportunity.get_by_id(o.id).owner_id is None
    held = clock.now() + dt.timedelta(days=30)  # a hold left on the row: the claim ends it
    Customer.update(released_at=clock.now() - dt.timedelta(days=60), released_from=None, released_team=None,
                    restored_until=held).where(Customer.id == c.id).execute()
    claimed = claim_customer(rep, c.id)
    row = Customer.get_by_id(c.id)
    assert (row.owner_id, row.team_id, row.pool_id, row.restored_until) == (rep.id, team.id, None, None)
    assert (row.release_at, row.release_rule) == (claimed.release_at, claimed.release_rule)
    moved = Opportunity.get_by_id(o.id)
    assert (moved.owner_id, moved.team_id) == (rep.id, team.id)
    assert (FairHolding.get_by_id(rep.id).n, FairHolding.get_by_id(rep.id).team_id) == (1, team.id)


def test_a_claim_takes_at_most_fifteen_statements(east_team, make_customer):
    _team, rep, _mate = east_team
    warm, c = _in_pool(make_customer), _in_pool(make_customer)
    claim_customer(rep, warm.id)
    with count_queries() as counter:
        claim_customer(rep, c.id)
    row = Customer.get_by_id(c.id)
    assert row.owner_id == rep.id
    at, rule, _ = release_plan(row, rules_mod.in_force(), clock.now())  # the release date written with the claim
    assert (row.release_at, row.release_rule) == (at, rule) and rule == "no_followup"
    assert counter.count <= 15, counter.count
