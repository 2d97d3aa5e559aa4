"""The to-do centre (issue 16 item 6): each source at its boundary (frozen clock), the registry (a source
registered later joins the page and the badge), the page links each item to its action, the header badge."""
import datetime as dt

import pytest

from models import clock, todo
from models.customers import Customer
from models.errors import N_
from models.lead_tables import Lead
from models.orders import Product
from models.pools import LockRequest
from models.projects import Milestone, Project
from models.reorders import ReorderCycle, ReorderTodo
from models.service import Ticket
from models.value import TierStrategy
from tests.conftest import FROZEN

DAY = dt.timedelta(days=1)
TODAY = clock.to_local(FROZEN).date()


@pytest.fixture
def w(make_team, make_user, make_customer):
    team = make_team("甲组")
    mgr = make_user("manager", team, full_name="Boss")
    team.manager = mgr
    team.save()

    class W:
        pass
    x = W()
    x.team, x.mgr = team, mgr
    x.rep = make_user("sales", team, full_name="Rep")
    x.other = make_user("sales", team, full_name="Other")
    x.admin = make_user("admin", full_name="Admin")
    x.marketing = make_user("marketing", full_name="Mkt")
    x.service = make_user("service", full_name="Agent")
    x.customer = make_customer(owner=x.rep, name="待办测试服饰有限公司")
    return x


def _count(key, user, now=FROZEN):
    return dict(todo.counts(user, now)).get(key, 0)


def test_followups_due_today_count_tomorrow_does_not(w):
    Customer.update(next_followup_on=TODAY).where(Customer.id == w.customer.id).execute()
    n, items = todo.followups_due(w.rep, FROZEN, 5)
    assert n == 1 and items[0]["args"] == {"customer_id": w.customer.id} and not items[0]["late"]
    Customer.update(next_followup_on=TODAY - DAY).where(Customer.id == w.customer.id).execute()
    assert todo.followups_due(w.rep, FROZEN, 5)[1][0]["late"]
    Customer.update(next_followup_on=TODAY + DAY).where(Customer.id == w.customer.id).execute()
    assert todo.followups_due(w.rep, FROZEN, 5) == (0, [])
    assert todo.followups_due(w.other, FROZEN, 5)[0] == 0


def test_the_count_is_exact_beyond_the_limit(w, make_customer):
    for _ in range(3):
        c = make_customer(owner=w.rep)
        Customer.update(next_followup_on=TODAY).where(Customer.id == c.id).execute()
    assert todo.followups_due(w.rep, FROZEN, 2)[0] == 3
    assert todo.followups_due(w.rep, FROZEN, 0) == (3, [])


def test_leads_routed_to_the_rep_and_new_ones_for_marketing(w):
    lead = Lead.create(customer=w.customer.id, source="website", status="routed", routed_to=w.rep.id,
                       routed_at=FROZEN - DAY, due_at=FROZEN, created_at=FROZEN - DAY)
    n, items = todo.leads_to_answer(w.rep, FROZEN, 5)
    assert n == 1 and items[0]["late"] and items[0]["endpoint"] == "leads.show"  # due now: late
    assert not todo.leads_to_answer(w.rep, FROZEN - dt.timedelta(seconds=1), 5)[1][0]["late"]
    assert todo.leads_to_answer(w.other, FROZEN, 5)[0] == 0
    Lead.update(status="accepted").where(Lead.id == lead.id).execute()
    assert todo.leads_to_answer(w.rep, FROZEN, 5)[0] == 0
    Lead.create(customer=w.customer.id, source="website", status="new", created_at=FROZEN)
    assert todo.leads_to_answer(w.marketing, FROZEN, 5)[0] == 1
    assert todo.leads_to_answer(w.service, FROZEN, 5)[0] == 0


def test_approvals_waiting_for_the_manager(w):
    LockRequest.create(customer=w.customer.id, requester=w.rep.id, reason="大客户谈判中", created_at=FROZEN)
    n, items = todo.approvals(w.mgr, FROZEN, 5)
    assert n == 1 and items[0]["endpoint"] == "pools.approvals"
    assert todo.approvals(w.admin, FROZEN, 5)[0] == 1
    assert todo.approvals(w.rep, FROZEN, 5)[0] == 0


def test_reorders_due_from_the_reminder_day(w):
    p = Product.create(code="X1", name_zh="面料", name_en="Fabric", consumable=True, updated_at=FROZEN, list_price=10,
                       unit_cost=5)
    cycle = ReorderCycle.create(customer=w.customer.id, product=p.id, every=1, unit="month", starts_on=TODAY,
                                next_expected_on=TODAY + 7 * DAY, remind_on=TODAY, created_at=FROZEN,
                                updated_at=FROZEN)
    t = ReorderTodo.create(cycle=cycle.id, customer=w.customer.id, product=p.id, rep=w.rep.id,
                           expected_on=TODAY + 7 * DAY, remind_on=TODAY, created_at=FROZEN)
    n, items = todo.reorders_due(w.rep, FROZEN, 5)
    assert n == 1 and items[0]["note"].label("en") == "Fabric" and not items[0]["late"]
    ReorderTodo.update(remind_on=TODAY + DAY).where(ReorderTodo.id == t.id).execute()
    assert todo.reorders_due(w.rep, FROZEN, 5)[0] == 0


def test_milestones_overdue_from_the_day_after(w):
    pj = Project.create(customer=w.customer.id, name="智能仓储", status="approved", requested_at=FROZEN, updated_at=FROZEN)
    m = Milestone.create(project=pj.id, name="需求确认", owner=w.rep.id, due_on=TODAY, created_at=FROZEN, updated_at=FROZEN)
    assert todo.overdue_milestones(w.rep, FROZEN, 5)[0] == 0  # due today: not overdue yet
    Milestone.update(due_on=TODAY - DAY).where(Milestone.id == m.id).execute()
    n, items = todo.overdue_milestones(w.rep, FROZEN, 5)
    assert n == 1 and items[0]["args"] == {"project_id": pj.id}
    Milestone.update(status="done").where(Milestone.id == m.id).execute()
    assert todo.overdue_milestones(w.rep, FROZEN, 5)[0] == 0


def _ticket(w, respond_by, resolve_by, **kw):
    return Ticket.create(customer=w.customer.id, channel="phone", category="complaint", priority="normal",
                         level="standard", description="面料起球", created_at=FROZEN, updated_at=FROZEN,
                         respond_by=respond_by, resolve_by=resolve_by, **kw)


def test_tickets_within_four_hours_of_their_deadline(w):
    near = FROZEN + dt.timedelta(hours=todo.NEAR_SLA_HOURS)
    _ticket(w, near, near + 10 * DAY, assignee=w.service.id, status="assigned")
    _ticket(w, near + dt.timedelta(seconds=1), near + 10 * DAY, assignee=w.service.id, status="assigned")
    _ticket(w, FROZEN - DAY, near + 10 * DAY, status="new")  # unassigned, response late
    _ticket(w, FROZEN - DAY, near, responded_at=FROZEN - DAY, assignee=w.service.id, status="in_progress")
    n, items = todo.tickets_near_sla(w.service, FROZEN, 5)
    assert n == 3
    assert [i["late"] for i in items] == [True, False, False]
    assert todo.tickets_near_sla(w.rep, FROZEN, 5)[0] == 0


def test_tier_strategies_overdue(w):
    from models.value import CustomerValue

    Customer.update(value_tier="diamond").where(Customer.id == w.customer.id).execute()
    CustomerValue.create(customer=w.customer.id, tier="diamond", tier_since=FROZEN - 100 * DAY, score=90)
    TierStrategy.create(tier="diamond", title_zh="高层拜访", title_en="Senior visit", every_days=90, created_at=FROZEN)
    n, items = todo.strategies_overdue(w.rep, FROZEN, 5)
    assert n == 1 and items[0]["note"].label("zh_CN") == "高层拜访"
    assert todo.strategies_overdue(w.mgr, FROZEN, 5)[0] == 1  # the team's
    assert todo.strategies_overdue(w.service, FROZEN, 5)[0] == 0


def test_a_source_registered_later_joins_the_page_and_the_badge(client, w):
    before = sum(todo.counts(w.rep).values())

    @todo.register("later_source", N_("Visits planned for today"), order=11)
    def later_source(user, now, limit):
        if user.id != w.rep.id:
            return 0, []
        return 2, [{"title": "拜访计划", "endpoint": "customers.show", "args": {"customer_id": w.customer.id}}][:limit]
    try:
        assert [s["key"] for s in todo.sources()][:2] == ["followups", "later_source"]
        client.login(w.rep)
        body = client.get("/todo").get_data(as_text=True)
        assert 'id="todo-later_source"' in body and f'/customers/{w.customer.id}' in body
        badge = client.get("/todo/badge", htmx=True).get_data(as_text=True)
        assert f'id="todo-count">{before + 2}<' in badge
    finally:
        todo._SOURCES.pop("later_source")


def test_the_page_links_each_item_to_its_action(client, w):
    Customer.update(next_followup_on=TODAY).where(Customer.id == w.customer.id).execute()
    LockRequest.create(customer=w.customer.id, requester=w.rep.id, reason="大客户谈判中", created_at=FROZEN)
    client.login(w.rep)
    body = client.get("/todo").get_data(as_text=True)
    assert 'id="todo-followups"' in body and f'href="/customers/{w.customer.id}"' in body
    client.login(w.mgr)
    body = client.get("/todo").get_data(as_text=True)
    assert 'id="todo-approvals"' in body and 'href="/approvals"' in body
    client.login(w.marketing)
    assert 'id="todo-empty"' in client.get("/todo").get_data(as_text=True)
    assert 'todo-count' not in client.get("/todo/badge", htmx=True).get_data(as_text=True)
    assert 'id="todo"' in client.get("/todo").get_data(as_text=True)  # the header loads the badge
