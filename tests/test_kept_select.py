"""models.base.kept_select: a statement built once, run with each call's values, reads what the query
built each time reads (the session's user on every request), on either engine."""
import datetime as dt

import pytest

from models import clock
from models.base import _KEPT, kept_select
from models.users import User, UserSession, _live_session, _token_hash, end_session, session_user, start_session


def _built(token, user_id, born_after):
    return [(s.id, s.user.id, s.user.username) for s in _live_session(_token_hash(token), user_id, born_after)]


def _kept(token, user_id, born_after):
    return [(s.id, s.user.id, s.user.username) for s in
            kept_select("session_user", _live_session, _token_hash(token), user_id, born_after)]


def test_the_kept_statement_reads_what_the_query_reads(app, make_user):
    a, b = make_user("sales"), make_user("manager")
    tokens = {a.id: start_session(a), b.id: start_session(b)}
    old = clock.now() - dt.timedelta(days=1)
    cases = [(tokens[a.id], a.id, old), (tokens[b.id], b.id, old), (tokens[a.id], b.id, old),
             ("not-a-token", a.id, old), (tokens[a.id], a.id, clock.now() + dt.timedelta(seconds=1))]
    for _ in range(2):  # built, then kept
        for case in cases:
            assert _kept(*case) == _built(*case), case
    assert len(_kept(*cases[0])) == 1 and _kept(*cases[2]) == []
    end_session(tokens[a.id])
    User.update(active=False).where(User.id == b.id).execute()
    assert _kept(*cases[0]) == _built(*cases[0]) == []
    assert _kept(*cases[1]) == _built(*cases[1]) == []
    assert session_user(a.id, tokens[a.id]) is None


def test_a_live_session_gives_its_user_with_the_token(app, make_user):
    user = make_user("sales")
    token = start_session(user)
    found = session_user(user.id, token)
    assert found.id == user.id and found.username == user.username and found.session_token == token
    assert session_user(user.id + 1, token) is None


def test_a_value_the_statement_does_not_show_keeps_nothing(app, make_user):
    user = make_user("sales")

    def build(name):  # the value is changed before it reaches the statement: no mark to find
        return User.select().where(User.username == name[1:])

    for _ in range(2):  # the second call knows at once that nothing is kept
        assert [u.id for u in kept_select("test-cut", build, f"x{user.username}")] == [user.id]
    assert [_KEPT[key] for key in _KEPT if key[0] == "test-cut"] == [False]
    with pytest.raises(TypeError):
        kept_select("test-bool", lambda flag: User.select().where(User.active == flag), True)


def test_a_customers_pages_kept_reads_are_the_reads_built_each_time(app, make_user, make_customer):
    """The 360's statements kept since stop 16: by id, its contacts, the first page of its timeline, its custom
    values and the people a page names, each against the query built each time, after writes between calls."""
    from models import audit
    from models.base import row_by_id
    from models.customer_tables import Contact, Customer, CustomField, CustomValue, Region
    from models.customers import contacts_of, custom_values
    from views.extend import Names

    rep = make_user("sales")
    a, b = make_customer(owner=rep), make_customer()
    for customer in (a, b):
        assert row_by_id(Customer, customer.id).name == Customer.get_by_id(customer.id).name
    assert row_by_id(Customer, 10 ** 12) is None and row_by_id(Region, 10 ** 12) is None
    Contact.create(customer=a, name="二", active=False, created_at=clock.now())
    Contact.create(customer=a, name="一", active=True, created_at=clock.now())
    for customer in (a, b):
        built = list(Contact.select().where(Contact.customer == customer).order_by(Contact.active.desc(), Contact.id))
        assert [c.id for c in contacts_of(customer.id)] == [c.id for c in built]
    assert [c.name for c in contacts_of(a.id)] == ["一", "二"]
    for n in range(25):
        audit.record("note", actor=rep, customer=a, n=n)
    first = audit.timeline(a.id)
    built = audit.keyset_page(audit.AuditEvent.select().where(audit.AuditEvent.customer == a.id),
                              [audit.AuditEvent.id], limit=20, descending=True)
    assert [e.id for e in first.rows] == [e.id for e in built.rows] and first.next == built.next and first.more
    assert [e.id for e in audit.timeline(a.id, before=first.next).rows] == \
        [e.id for e in audit.keyset_page(audit.AuditEvent.select().where(audit.AuditEvent.customer == a.id),
                                         [audit.AuditEvent.id], after=first.next, limit=20, descending=True).rows]
    assert audit.timeline(b.id).next is None
    field = CustomField.create(key="capacity", label_zh="产能", label_en="Capacity", kind="text", position=1)
    CustomValue.create(customer=a, field=field, value="100")
    assert custom_values([a.id]) == {a.id: {"capacity": "100"}}
    assert custom_values([a.id, b.id]) == {a.id: {"capacity": "100"}, b.id: {}}
    assert custom_values([b.id]) == {b.id: {}}
    people = [make_user("sales") for _ in range(3)]
    names = Names(rep).load(user_ids=[p.id for p in people] + [10 ** 12])
    assert {pk: (p.full_name if p else None) for pk, p in names.people.items()} == \
        {**{p.id: p.full_name for p in people}, 10 ** 12: None}


def test_a_rule_asked_about_a_proxy_of_the_user_answers_as_for_the_user(app, make_user, make_customer):
    """The web layer hands rules Flask-Login's proxy of the request's user; permissions read the object behind it."""
    from werkzeug.local import LocalProxy

    from models.permissions import RULES, acting_user, can, scope
    from models.customer_tables import Customer

    rep, other = make_user("sales"), make_user("sales")
    mine, theirs = make_customer(owner=rep), make_customer(owner=other)
    proxy = LocalProxy(lambda: rep)
    assert acting_user(proxy) is rep and acting_user(rep) is rep and acting_user(None) is None
    for action in ("customer.view", "customer.edit", "followup.create", "customer.release", "pool.work"):
        assert action in RULES
        for customer in (mine, theirs):
            assert can(proxy, action, customer) == can(rep, action, customer)
    assert can(proxy, "customer.view", mine) and not can(proxy, "customer.view", theirs)
    assert [c.id for c in scope("customer", proxy, Customer.select())] == \
        [c.id for c in scope("customer", rep, Customer.select())] == [mine.id]


def test_the_workbenchs_kept_deal_summary_is_the_summary_built_each_time(app, make_user, make_team, make_customer):
    """models.opportunities.workbench_summary keeps its statements (the totals, the late deals under the user's
    scope, the scope's residue): for a rep, a rep acting for an absentee, a team's manager, a manager without a
    team and an admin, each against the same figures read through the scope built each time."""
    from models import opportunities as om
    from models.delegations import create_delegation
    from models.opportunities import Opportunity, create_opportunity
    from models.permissions import scope

    team = make_team()
    rep, mate, away = make_user("sales", team), make_user("sales", team), make_user("sales", team)
    manager, loner, admin = make_user("manager", team), make_user("manager"), make_user("admin")
    Team = type(team)
    Team.update(manager=manager.id).where(Team.id == team.id).execute()
    today = clock.today()
    for owner, n in ((rep, 3), (mate, 2), (away, 2), (loner, 1)):
        for i in range(n):
            customer = make_customer(owner=owner)
            create_opportunity(owner, customer, {"name": f"单{i}", "amount": "1000",
                                                 "expected_close": (today - dt.timedelta(days=3 + i)).isoformat()})
    # a deal on rep's customer that a teammate holds: outside rep's pipeline, in the scope's residue
    theirs = make_customer(owner=rep)
    create_opportunity(admin, theirs, {"name": "他人", "amount": "1", "owner_id": str(mate.id),
                                       "expected_close": (today - dt.timedelta(days=9)).isoformat()})
    create_delegation(admin, {"absentee_id": away.id, "delegate_id": mate.id, "starts_on": today.isoformat(),
                              "ends_on": (today + dt.timedelta(days=3)).isoformat()})
    for user in (rep, mate, manager, loner, admin, rep):  # rep twice: built, then kept
        for limit in (2, 5):
            got = om.workbench_summary(user, limit=limit)
            late = scope("opportunity", user, Opportunity.select()).where(
                (Opportunity.is_open == True) & (Opportunity.expected_close < today))  # noqa: E712
            expected = [o.id for o in late.order_by(Opportunity.expected_close, Opportunity.id)]
            assert [o.id for o in got["late"]] == expected[:limit], (user.username, limit)
            assert got["late_count"] == len(expected)
            pipeline = om._summary_scope(om.PipelineTotal.select(om.pw.fn.SUM(om.PipelineTotal.count)), om.PipelineTotal,
                                         user, om.Filters()).where(om.PipelineTotal.stage.in_(om.OPEN_STAGES))
            assert got["count"] == (pipeline.scalar() or 0), user.username
    assert [o.name for o in om.workbench_summary(rep, limit=9)["late"]][0] == "他人"
    kept = {key[0][0] for key, entry in _KEPT.items() if entry and isinstance(key[0], tuple)}
    assert {"opportunities.late", "opportunities.totals", "opportunity"} <= kept
