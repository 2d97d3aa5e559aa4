"""Service tickets (domain §10): service level and SLA deadlines, the status flow, response and breach,
the escalation sweep, reopening, satisfaction, repurchase leads and their conversion, and the web
forms with bad input. The clock is frozen at Tuesday 24 November 2026, 10:00 in Shanghai."""
import datetime as dt
import re

import pytest
from playhouse.test_utils import count_queries

from models import clock, hooks
from models import service as sv
from models.audit import AuditEvent
from models.customers import Customer, save_contact
from models.errors import DomainError, NotFound, ValidationError
from models.notifications import Notification
from models.users import Team, User
from tests.conftest import FROZEN

H = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)


def local(y, m, d, hh=0, mm=0):
    return clock.from_local(dt.datetime(y, m, d, hh, mm))


@pytest.fixture
def team(make_user, make_team):
    """A service team: a service manager leading two agents."""
    t = make_team("客服一组")
    manager = make_user("service", t, full_name="Service Manager")
    Team.update(manager=manager).where(Team.id == t.id).execute()
    agents = [make_user("service", t, full_name=f"Agent {i}") for i in (1, 2)]
    return {"team": t, "manager": User.get_by_id(manager.id), "agents": agents}


def log(actor, customer, **kw):
    data = {"customer_id": str(customer.id), "category": "fault", "description": "机器不转了，客户很着急", **kw}
    return sv.log_ticket(actor, data)


# ---- service level and SLA ------------------------------------------------------------------

def test_service_level_is_key_for_key_accounts_grade_a_and_large_customers(make_customer):
    assert sv.service_level(make_customer(business_model="key_account")) == "key"
    assert sv.service_level(make_customer(size="large")) == "key"
    assert sv.service_level(make_customer(size="xlarge")) == "key"
    signed = make_customer(stage="signed")
    assert signed.grade == "A" and sv.service_level(signed) == "key"
    assert sv.service_level(make_customer(size="medium", stage="intent")) == "standard"


@pytest.mark.parametrize("level,priority", [(lv, p) for lv in sv.LEVELS for p in sv.PRIORITIES])
def test_deadlines_per_priority_and_level(team, make_customer, level, priority):
    customer = make_customer(business_model="key_account" if level == "key" else "consumer")
    ticket = log(team["agents"][0], customer, priority=priority)
    response, resolution = sv.DEFAULTS["sla"][level][priority]
    cal = sv.WorkingCalendar(sv.DEFAULTS)
    assert ticket.level == level
    assert ticket.respond_by == cal.add(FROZEN, response)
    assert ticket.resolve_by == cal.add(FROZEN, resolution)
    assert cal.between(FROZEN, ticket.respond_by) == dt.timedelta(hours=response)


def test_concrete_deadlines(team, make_customer):
    key, std = make_customer(business_model="key_account"), make_customer()
    t = log(team["agents"][0], key, priority="urgent")            # 1 h / 4 h
    assert (t.respond_by, t.resolve_by) == (local(2026, 11, 24, 11), local(2026, 11, 24, 14))
    t = log(team["agents"][0], std, priority="low")               # 16 h / 72 h
    assert t.respond_by == local(2026, 11, 25, 17)                # Tue 10–18 (8 h) + Wed 09–17 (8 h)
    clock.freeze(local(2026, 11, 27, 17, 30))                    # Friday 17:30
    t = log(team["agents"][0], key, priority="urgent")
    assert t.respond_by == local(2026, 11, 30, 9, 30)              # Monday 09:30


def test_admin_sla_table_applies_to_new_tickets_only(team, make_user, make_customer):
    admin = make_user("admin")
    customer = make_customer()
    before = log(team["agents"][0], customer, priority="normal")
    form = {"workdays": ["0", "1", "2", "3", "4"], "day_start": "09:00", "day_end": "18:00", "holidays": "",
            "reopen_days": "7", "lead_conversion_days": "90"}
    for level in sv.LEVELS:
        for p in sv.PRIORITIES:
            form[f"sla_{level}_{p}_response"], form[f"sla_{level}_{p}_resolution"] = "1", "2"
    form["sla_standard_normal_response"] = "0.5"
    sv.save_service_settings(admin, form)
    after = log(team["agents"][0], customer, priority="normal")
    assert after.respond_by == FROZEN + 30 * dt.timedelta(minutes=1)
    assert sv.Ticket.get_by_id(before.id).respond_by == before.respond_by
    assert AuditEvent.select().where(AuditEvent.kind == "service.settings_saved").count() == 1
    with pytest.raises(NotFound):
        sv.save_service_settings(team["manager"], form)


@pytest.mark.parametrize("field,value", [
    ("sla_key_urgent_response", "0"), ("sla_key_urgent_response", "abc"), ("sla_key_urgent_response", "1e308"),
    ("sla_key_urgent_resolution", "0.5"), ("day_end", "08:00"), ("day_start", "25:00"), ("workdays", []),
    ("holidays", "2026-13-01"), ("reopen_days", "99999999999999999999999"), ("lead_conversion_days", "0"),
])
def test_bad_settings_are_refused_field_by_field(make_user, field, value):
    form = {"workdays": ["0", "1", "2", "3", "4"], "day_start": "09:00", "day_end": "18:00", "holidays": "",
            "reopen_days": "7", "lead_conversion_days": "90"}
    for level in sv.LEVELS:
        for p in sv.PRIORITIES:
            form[f"sla_{level}_{p}_response"], form[f"sla_{level}_{p}_resolution"] = "2", "8"
    form[field] = value
    with pytest.raises(ValidationError) as exc:
        sv.save_service_settings(make_user("admin"), form)
    assert field in exc.value.errors
    assert sv.ServiceSettings.select().count() == 0


# ---- logging a ticket: bad input, merged customers ---------------------------------------------

def test_only_service_and_admin_log_tickets(make_user, make_customer):
    customer = make_customer()
    for role in ("sales", "manager", "marketing"):
        with pytest.raises(NotFound):
            log(make_user(role), customer)
    assert log(make_user("admin"), customer).status == "new"
    assert sv.Ticket.select().count() == 1


@pytest.mark.parametrize("override,field", [
    ({"customer_id": ""}, "customer_id"), ({"customer_id": "99999999"}, "customer_id"),
    ({"customer_id": str(2 ** 64)}, "customer_id"), ({"customer_id": "abc"}, "customer_id"),
    ({"category": "praise"}, "category"), ({"category": ""}, "category"), ({"priority": "asap"}, "priority"),
    ({"channel": "fax"}, "channel"), ({"description": ""}, "description"), ({"description": "x" * 4001}, "description"),
    ({"contact_text": "y" * 101}, "contact_text"), ({"contact_id": "123456"}, "contact_id"),
])
def test_bad_ticket_input_is_refused_and_nothing_written(team, make_customer, override, field):
    customer = make_customer()
    with pytest.raises(ValidationError) as exc:
        log(team["agents"][0], customer, **override)
    assert field in exc.value.errors
    assert sv.Ticket.select().count() == 0


def test_nul_and_emoji_are_cleaned(team, make_customer):
    t = log(team["agents"][0], make_customer(), description="客户说\x00打印机坏了 🖨️", contact_text="王经理\x00 138")
    assert "\x00" not in t.description and "🖨️" in t.description and t.contact_text == "王经理 138"


def test_a_ticket_for_a_customer_merged_away_names_the_survivor(team, make_user, make_customer):
    from models import merges

    admin = make_user("admin")
    loser, survivor = make_customer(name="被合并的服饰有限公司"), make_customer(name="留下来的服饰有限公司")
    merges.merge_customers(admin, loser.id, survivor.id, reason="同一家公司，重复录入")
    with pytest.raises(ValidationError) as exc:
        log(team["agents"][0], loser)
    (message, params), = exc.value.errors["customer_id"]
    assert "merged into" in message and params["name"] == survivor.name and params["survivor_id"] == survivor.id
    assert sv.Ticket.select().count() == 0


def test_tickets_move_with_a_merge(team, make_user, make_customer):
    from models import merges

    loser, survivor = make_customer(), make_customer()
    t = log(team["agents"][0], loser)
    merges.merge_customers(make_user("admin"), loser.id, survivor.id, reason="同一家公司，重复录入")
    assert sv.Ticket.get_by_id(t.id).customer_id == survivor.id


# ---- status flow --------------------------------------------------------------------------------

def test_the_status_flow_refuses_illegal_moves(team, make_customer):
    agent = team["agents"][0]
    t = log(agent, make_customer())
    for to in ("waiting", "resolved", "closed", "new", "bogus"):
        with pytest.raises(DomainError):
            sv.move_ticket(agent, t, to, "备注")
    assert sv.Ticket.get_by_id(t.id).status == "new"
    t = sv.assign_ticket(agent, t, team["agents"][1].id)
    assert (t.status, t.assignee_id) == ("assigned", team["agents"][1].id)
    for to in ("waiting", "resolved", "closed"):
        with pytest.raises(DomainError):
            sv.move_ticket(agent, t, to, "备注")
    t = sv.move_ticket(agent, t, "in_progress")
    t = sv.move_ticket(agent, t, "waiting", "等客户发照片")
    t = sv.move_ticket(agent, t, "in_progress")
    with pytest.raises(ValidationError):
        sv.move_ticket(agent, t, "resolved", "")           # a resolution is required
    t = sv.move_ticket(agent, t, "resolved", "更换了皮带")
    assert t.resolution == "更换了皮带" and t.resolved_at == FROZEN
    t = sv.move_ticket(agent, t, "closed")
    assert t.status == "closed" and t.closed_at == FROZEN
    for to in sv.STATUSES:
        with pytest.raises(DomainError):
            sv.move_ticket(agent, t, to, "备注")
    kinds = [e.data["to_status"] for e in AuditEvent.select().where(AuditEvent.kind == "service.ticket_moved")
             .order_by(AuditEvent.id)]
    assert kinds == ["in_progress", "waiting", "in_progress", "resolved", "closed"]


def test_taking_a_new_ticket_starts_it_and_counts_as_the_response(team, make_customer):
    agent = team["agents"][0]
    t = log(agent, make_customer())
    clock.freeze(FROZEN + 30 * dt.timedelta(minutes=1))
    t = sv.move_ticket(agent, t, "in_progress")
    assert (t.status, t.assignee_id, t.responded_at, t.breached) == ("in_progress", agent.id, clock.now(), False)


def test_a_late_response_is_a_breach(team, make_customer):
    agent = team["agents"][0]
    t = log(agent, make_customer(), priority="urgent")       # standard urgent: respond within 2 h
    clock.freeze(t.respond_by)
    on_time = sv.comment_ticket(agent, log(agent, make_customer(), priority="urgent"), "已回电", internal=False)
    assert not sv.Ticket.get_by_id(on_time.ticket_id).breached
    clock.freeze(t.respond_by + dt.timedelta(minutes=1))
    sv.move_ticket(agent, t, "in_progress")
    t = sv.Ticket.get_by_id(t.id)
    assert t.breached and t.breach_kind == "response"


def test_an_internal_comment_is_not_a_response(team, make_customer):
    agent = team["agents"][0]
    t = log(agent, make_customer())
    sv.comment_ticket(agent, t, "内部：查一下保修", internal=True)
    assert sv.Ticket.get_by_id(t.id).responded_at is None
    sv.comment_ticket(agent, t, "已告知客户明天上门", internal=False)
    assert sv.Ticket.get_by_id(t.id).responded_at == FROZEN


def test_a_late_resolution_is_a_breach(team, make_customer):
    agent = team["agents"][0]
    t = sv.move_ticket(agent, log(agent, make_customer(), priority="urgent"), "in_progress")
    clock.freeze(t.resolve_by + dt.timedelta(minutes=1))
    t = sv.move_ticket(agent, t, "resolved", "换件")
    assert t.breached and t.breach_kind == "resolution"


# ---- breach sweep and escalation ----------------------------------------------------------------

def test_sweep_flags_breaches_and_escalates_once_to_the_service_manager(team, make_user, make_customer):
    agent = team["agents"][0]
    make_user("admin")
    t = log(agent, make_customer(), priority="urgent")
    on_time = log(agent, make_customer(), priority="low")
    assert sv.sweep(t.respond_by) == {"flagged": 0, "escalated": 0}   # at the deadline: not yet
    result = sv.sweep(t.respond_by + dt.timedelta(minutes=1))
    assert result == {"flagged": 1, "escalated": 1}
    assert sv.Ticket.get_by_id(t.id).breached and not sv.Ticket.get_by_id(on_time.id).breached
    notes = list(Notification.select().where(Notification.kind == "sla_breach"))
    assert [n.user_id for n in notes] == [team["manager"].id]
    assert sv.sweep(t.respond_by + 2 * H) == {"flagged": 0, "escalated": 0}  # idempotent
    assert Notification.select().where(Notification.kind == "sla_breach").count() == 1
    # The resolution deadline is a second breach: escalated once more.
    later = t.resolve_by + dt.timedelta(minutes=1)
    assert sv.sweep(later)["escalated"] == 1 and sv.sweep(later)["escalated"] == 0
    assert hooks.run_sweeps(later)["service"] == {"flagged": 0, "escalated": 0}


def test_escalation_without_a_service_manager_goes_to_admins(make_user, make_customer):
    lone = make_user("service")
    make_user("admin"), make_user("admin"), make_user("admin", active=False)
    t = log(lone, make_customer(), priority="urgent")
    sv.sweep(t.respond_by + H)
    admins = {u.id for u in User.select().where((User.role == "admin") & User.active)}
    assert len(admins) >= 2
    assert {n.user_id for n in Notification.select().where(Notification.kind == "sla_breach")} == admins


def test_the_manager_of_the_service_team_is_escalated_for_tickets_of_its_agents(team, make_customer):
    t = log(team["manager"], make_customer(), priority="urgent")
    sv.assign_ticket(team["manager"], t, team["agents"][1].id)
    sv.sweep(t.respond_by + H)
    assert [n.user_id for n in Notification.select().where(Notification.kind == "sla_breach")] == [team["manager"].id]


# ---- reopening ----------------------------------------------------------------------------------

def _closed(agent, customer):
    t = sv.move_ticket(agent, log(agent, customer), "in_progress")
    t = sv.move_ticket(agent, t, "resolved", "重启解决")
    return sv.move_ticket(agent, t, "closed")


def test_reopen_within_the_window_and_not_after(team, make_customer):
    agent = team["agents"][0]
    t = _closed(agent, make_customer())
    clock.freeze(FROZEN + 7 * DAY)                                # exactly the end of the window
    t = sv.reopen_ticket(agent, t, "客户来电：又坏了")
    assert (t.status, t.reopened, t.closed_at, t.resolved_at) == ("in_progress", 1, None, None)
    assert t.resolve_by == sv.WorkingCalendar().add(clock.now(), sv.DEFAULTS["sla"]["standard"]["normal"][1])
    t = sv.move_ticket(agent, sv.move_ticket(agent, t, "resolved", "再次修好"), "closed")
    clock.freeze(clock.now() + 7 * DAY + dt.timedelta(minutes=1))
    with pytest.raises(DomainError) as exc:
        sv.reopen_ticket(agent, t, "又坏了")
    assert "log a new ticket" in exc.value.message
    assert sv.Ticket.get_by_id(t.id).status == "closed"


def test_reopen_needs_the_right_and_a_reason(team, make_user, make_customer):
    rep = make_user("sales")
    t = _closed(team["agents"][0], make_customer(owner=rep))
    with pytest.raises(DomainError) as exc:
        sv.reopen_ticket(rep, t, "客户来电")
    assert "Only service staff" in exc.value.message
    with pytest.raises(NotFound):
        sv.reopen_ticket(make_user("sales"), t, "客户来电")      # a rep who cannot see the customer
    with pytest.raises(ValidationError):
        sv.reopen_ticket(team["agents"][1], t, " ")
    with pytest.raises(DomainError):
        sv.reopen_ticket(team["agents"][1], sv.Ticket.get_by_id(log(team["agents"][1], make_customer()).id), "x y")
    assert sv.Ticket.get_by_id(t.id).status == "closed"


def test_the_reopen_window_is_an_admin_setting(team, make_user, make_customer):
    agent = team["agents"][0]
    t = _closed(agent, make_customer())
    form = {**{k: (v if isinstance(v, list) else str(v)) for k, v in sv.DEFAULTS.items() if k not in ("sla", "holidays")},
            "holidays": "", "reopen_days": "1", "workdays": ["0", "1", "2", "3", "4"]}
    for level in sv.LEVELS:
        for p in sv.PRIORITIES:
            form[f"sla_{level}_{p}_response"], form[f"sla_{level}_{p}_resolution"] = map(str, sv.DEFAULTS["sla"][level][p])
    sv.save_service_settings(make_user("admin"), form)
    clock.freeze(FROZEN + DAY + dt.timedelta(minutes=1))
    with pytest.raises(DomainError):
        sv.reopen_ticket(agent, t, "又坏了")


# ---- satisfaction -------------------------------------------------------------------------------

@pytest.mark.parametrize("score,ok", [("1", True), ("5", True), ("0", False), ("6", False), ("abc", False),
                                      ("", False), (str(2 ** 70), False), ("3.5", False)])
def test_satisfaction_is_one_to_five(team, make_customer, score, ok):
    agent = team["agents"][0]
    t = sv.move_ticket(agent, sv.move_ticket(agent, log(agent, make_customer()), "in_progress"), "resolved", "好了")
    if ok:
        assert sv.rate_ticket(agent, t, score).satisfaction == int(score)
    else:
        with pytest.raises(ValidationError):
            sv.rate_ticket(agent, t, score)
        assert sv.Ticket.get_by_id(t.id).satisfaction is None


def test_satisfaction_only_once_resolved(team, make_customer):
    agent = team["agents"][0]
    with pytest.raises(DomainError):
        sv.rate_ticket(agent, log(agent, make_customer()), "5")


# ---- repurchase leads ---------------------------------------------------------------------------

def test_a_lead_goes_to_the_owner_with_its_source(team, make_user, make_customer):
    rep = make_user("sales")
    customer = make_customer(owner=rep)
    t = log(team["agents"][0], customer)
    lead = sv.raise_repurchase_lead(team["agents"][0], customer, "客户想再订一批衬衫面料", ticket=t)
    assert (lead.routed_to_id, lead.via, lead.source, lead.ticket_id) == (rep.id, "owner", "ticket", t.id)
    assert Notification.select().where((Notification.user == rep.id) & (Notification.kind == "lead")).count() == 1
    assert [x.id for x in sv.leads_for(rep)] == [lead.id]


def test_a_lead_for_an_unowned_customer_goes_to_its_pool(team, make_customer):
    from models.pools import Pool

    pool = Pool.select().first()
    customer = make_customer()
    Customer.update(pool=pool.id).where(Customer.id == customer.id).execute()
    lead = sv.raise_repurchase_lead(team["agents"][0], Customer.get_by_id(customer.id), "想再买一台设备")
    assert (lead.routed_to_id, lead.via, lead.pool) == (None, "pool", pool.id)


def test_a_lead_for_a_staked_customer_goes_to_the_staker(team, make_user, make_customer):
    staker = make_user("sales")
    customer = make_customer()
    Customer.update(staked_by=staker.id).where(Customer.id == customer.id).execute()
    lead = sv.raise_repurchase_lead(team["agents"][0], Customer.get_by_id(customer.id), "想再买一台设备")
    assert (lead.routed_to_id, lead.via) == (staker.id, "staker")


def test_a_lead_needs_a_note_and_a_service_user(team, make_user, make_customer):
    customer = make_customer(owner=make_user("sales"))
    for note in ("", "x" * 301):
        with pytest.raises(ValidationError):
            sv.raise_repurchase_lead(team["agents"][0], customer, note)
    with pytest.raises(NotFound):
        sv.raise_repurchase_lead(make_user("marketing"), customer, "想再买一台设备")
    assert sv.RepurchaseLead.select().count() == 0


def test_conversion_counts_orders_within_the_window(team, make_user, make_customer):
    from models.orders import Order

    rep = make_user("sales")
    a, b, c = (make_customer(owner=rep) for _ in range(3))
    for customer in (a, b, c):
        sv.raise_repurchase_lead(team["agents"][0], customer, "想再订一批货")
    today = clock.today()

    def order(customer, day, status="signed"):
        Order.create(customer=customer.id, rep=rep.id, ordered_on=day, status=status, created_at=clock.now())

    order(a, today + dt.timedelta(days=90))        # the last day of the window: converted
    order(b, today + dt.timedelta(days=91))        # one day late
    order(c, today + dt.timedelta(days=3), status="cancelled")
    result = sv.lead_conversion()
    assert (result["leads"], result["converted"], result["orders_available"]) == (3, 1, True)
    assert result["by_source"]["care"] == [3, 1]
    order(a, today + dt.timedelta(days=5))         # a second order converts the same lead once
    order(b, today - dt.timedelta(days=1))         # before the lead: not a conversion
    result = sv.lead_conversion(since=clock.now() - dt.timedelta(days=365))
    assert (result["leads"], result["converted"], result["by_source"]["care"]) == (3, 1, [3, 1])
    assert sv.lead_conversion(since=clock.now() + dt.timedelta(days=1))["leads"] == 0


# ---- the web: quick form, lookup, ticket page, queue -------------------------------------------

def test_quick_form_logs_a_ticket_and_answers_errors_inline(client, team, make_customer):
    customer = make_customer(name="杭州飞鸿服饰有限公司")
    client.login(team["agents"][0])
    r = client.get("/service/lookup?q=飞鸿服饰")
    assert r.status_code == 200 and f"/service/pick/{customer.id}" in r.get_data(as_text=True)
    r = client.get(f"/service/pick/{customer.id}")
    assert f'name="customer_id" value="{customer.id}"' in r.get_data(as_text=True)
    r = client.post("/service/tickets/new", {"customer_id": str(customer.id), "description": ""}, htmx=True)
    body = r.get_data(as_text=True)
    assert r.status_code == 200 and 'id="quick-ticket"' in body and "Choose one of the options" in body
    assert sv.Ticket.select().count() == 0
    r = client.post("/service/tickets/new", {"customer_id": str(customer.id), "description": "打印机卡纸",
                                             "category": "fault", "channel": "hotline", "priority": "high"}, htmx=True)
    t = sv.Ticket.get()
    assert r.status_code == 204 and r.headers["HX-Redirect"].endswith(f"/service/tickets/{t.id}?created=1")
    assert (t.category, t.priority, t.created_by_id) == ("fault", "high", team["agents"][0].id)


@pytest.mark.parametrize("data", [
    {"customer_id": "1" * 30, "category": "fault", "description": "x"},
    {"customer_id": "-5", "category": "fault", "description": "坏了"},
    {"customer_id": "1", "category": "fault", "description": "\x00" * 10},
    {"customer_id": "1", "category": ["a", "b"], "description": "a" * 10000},
    {"customer_id": "1", "category": "fault", "description": "😀" * 5000, "priority": "9" * 40},
    {"customer_id": "1", "category": "fault", "description": "ok ok", "contact_id": str(2 ** 64)},
])
def test_junk_never_gives_a_500(client, team, data):
    client.login(team["agents"][0])
    for htmx in (False, True):
        assert client.post("/service/tickets/new", data, htmx=htmx).status_code == 200
    assert sv.Ticket.select().count() == 0


def test_ticket_page_moves_and_refusals(client, team, make_customer):
    agent = team["agents"][0]
    t = log(agent, make_customer())
    client.login(agent)
    assert "Start work" in client.get(f"/service/tickets/{t.id}").get_data(as_text=True)
    r = client.post(f"/service/tickets/{t.id}/move", {"to": "closed"}, htmx=True)
    assert r.status_code == 409 and "cannot go from New to Closed" in r.get_data(as_text=True)
    r = client.post(f"/service/tickets/{t.id}/move", {"to": "in_progress"}, htmx=True)
    assert r.status_code == 200 and 'id="ticket"' in r.get_data(as_text=True)
    r = client.post(f"/service/tickets/{t.id}/move", {"to": "resolved", "note": ""}, htmx=True)
    assert r.status_code == 200 and "Say how it was resolved" in r.get_data(as_text=True)
    client.post(f"/service/tickets/{t.id}/move", {"to": "resolved", "note": "远程指导重启"}, htmx=True)
    r = client.post(f"/service/tickets/{t.id}/satisfaction", {"satisfaction": "9"}, htmx=True)
    assert "A score from 1 to 5" in r.get_data(as_text=True)
    client.post(f"/service/tickets/{t.id}/satisfaction", {"satisfaction": "4"}, htmx=True)
    assert sv.Ticket.get_by_id(t.id).satisfaction == 4
    assert client.get("/service/tickets/99999999").status_code == 404
    assert client.get(f"/service/tickets/{2 ** 64}").status_code == 404


def test_a_rep_sees_the_ticket_but_cannot_reopen_it(client, team, make_user, make_customer):
    rep = make_user("sales")
    t = _closed(team["agents"][0], make_customer(owner=rep))
    client.login(rep)
    page = client.get(f"/service/tickets/{t.id}").get_data(as_text=True)
    assert "Reopen" not in page and "Start work" not in page
    r = client.post(f"/service/tickets/{t.id}/reopen", {"reason": "客户来电"}, htmx=True)
    assert r.status_code == 409 and "Only service staff can reopen" in r.get_data(as_text=True)
    assert sv.Ticket.get_by_id(t.id).status == "closed"


def _bulk_tickets(customer, n, agent=None, status="new", **kw):
    now = clock.now()
    rows = [dict(customer=customer.id, channel="hotline", category=("fault", "complaint")[i % 2],
                 priority=("urgent", "normal")[i % 2], level="standard", status=status, description=f"批量工单{i}",
                 created_by=None, assignee=agent.id if agent else None, created_at=now, updated_at=now,
                 respond_by=now + H, resolve_by=now + 8 * H, breached=i % 5 == 0, **kw) for i in range(n)]
    sv.Ticket.insert_many(rows).execute()


def test_queue_filters_and_keyset_pages(client, team, make_customer):
    agent = team["agents"][0]
    customer = make_customer()
    _bulk_tickets(customer, 120, agent)
    _bulk_tickets(customer, 10, None, status="closed")
    client.login(agent)
    ids = set()
    url = "/service/?status=open"
    pages = 0
    while url:
        body = client.get(url).get_data(as_text=True)
        page_ids = [int(x) for x in re.findall(r'href="/service/tickets/(\d+)"', body)]
        assert not ids & set(page_ids)
        ids |= set(page_ids)
        nxt = re.search(r'id="queue-next" href="([^"]+)"', body)
        url = nxt.group(1).replace("&amp;", "&") if nxt else None
        pages += 1
    assert len(ids) == 120 and pages == 3
    body = client.get("/service/?status=closed").get_data(as_text=True)
    assert len(set(re.findall(r'href="/service/tickets/(\d+)"', body))) == 10
    body = client.get("/service/?status=all&category=complaint&priority=normal&breached=1").get_data(as_text=True)
    expected = sv.Ticket.select().where((sv.Ticket.category == "complaint") & (sv.Ticket.breached == True)).count()  # noqa: E712
    assert len(set(re.findall(r'href="/service/tickets/(\d+)"', body))) == expected > 0
    mine = client.get("/service/?mine=1").get_data(as_text=True)
    assert len(set(re.findall(r'href="/service/tickets/(\d+)"', mine))) == 50
    nobody = client.get("/service/?status=all&assignee=none").get_data(as_text=True)
    assert len(set(re.findall(r'href="/service/tickets/(\d+)"', nobody))) == 10
    assert client.get("/service/?after=abc&assignee=99999999999999999999&status=<x>").status_code == 200


def test_queue_and_workbench_query_counts_do_not_grow_with_rows(client, team, make_customer):
    agent = team["agents"][0]
    customer = make_customer()
    client.login(agent)
    counts = []
    for n in (15, 60):  # both fill the workbench list (the count query runs only for a full list)
        _bulk_tickets(customer, n, agent)
        with count_queries() as q:
            assert client.get("/service/").status_code == 200
        with count_queries() as w:
            assert client.get("/").status_code == 200
        counts.append((q.count, w.count))
    assert counts[0] == counts[1]


def test_the_rep_sees_service_on_the_360_page_and_leads_on_the_workbench(client, team, make_user, make_customer):
    rep = make_user("sales")
    customer = make_customer(owner=rep)
    agent = team["agents"][0]
    t = sv.move_ticket(agent, sv.move_ticket(agent, log(agent, customer), "in_progress"), "resolved", "修好了")
    sv.rate_ticket(agent, t, "5")
    log(agent, customer, category="complaint", description="送货太慢")
    sv.raise_repurchase_lead(agent, customer, "客户要追加一批衬衫", ticket=t)
    client.login(rep)
    page = client.get(f"/customers/{customer.id}").get_data(as_text=True)
    assert 'id="service-side"' in page and "1 open ticket" in page and 'id="last-satisfaction">5/5' in page
    tab = client.get(f"/customers/{customer.id}?tab=service", htmx=True).get_data(as_text=True)
    assert f"/service/tickets/{t.id}" in tab and "送货太慢" in tab
    home = client.get("/").get_data(as_text=True)
    assert 'id="wb-repurchase-leads"' in home and "客户要追加一批衬衫" in home and "Service ticket" in home
    timeline = client.get(f"/customers/{customer.id}?tab=timeline", htmx=True).get_data(as_text=True)
    assert "raised a repurchase lead" in timeline and f"logged ticket #{t.id}" in timeline


def test_service_workbench_orders_my_tickets_by_urgency(client, team, make_customer):
    agent = team["agents"][0]
    customer = make_customer()
    low = sv.assign_ticket(agent, log(agent, customer, priority="low"), agent.id)
    urgent = sv.assign_ticket(agent, log(agent, customer, priority="urgent"), agent.id)
    waiting = log(team["agents"][1], customer)
    client.login(agent)
    body = client.get("/").get_data(as_text=True)
    mine = body[body.index('id="wb-my-tickets"'):body.index('id="wb-waiting"')]
    assert mine.index(f"#{urgent.id}<") < mine.index(f"#{low.id}<")
    assert f"#{waiting.id}<" in body[body.index('id="wb-waiting"'):]
    assert 'id="quick-ticket"' in body


def test_dashboard_compliance_trend_and_conversion(client, team, make_user, make_customer):
    agent = team["agents"][0]
    customer = make_customer(owner=make_user("sales"))
    ok = sv.move_ticket(agent, sv.move_ticket(agent, log(agent, customer), "in_progress"), "resolved", "好了")
    sv.rate_ticket(agent, ok, "4")
    late = sv.move_ticket(agent, log(agent, customer, category="complaint", priority="urgent"), "in_progress")
    clock.freeze(late.resolve_by + H)
    sv.move_ticket(agent, late, "resolved", "晚了")
    sv.raise_repurchase_lead(agent, customer, "想再订一批货")
    client.login(agent)
    body = client.get("/service/dashboard").get_data(as_text=True)
    assert r'id="satisfaction-chart"' in body and "4.0" in body
    week = body[body.index('id="sla-week"'):body.index('id="sla-month"')]
    assert "<td>Fault</td><td>1</td><td>1</td><td>100 %</td>" in week
    assert "<td>Complaint</td><td>1</td><td>0</td><td>0 %</td>" in week
    assert 'id="lead-conversion"' in body and "0 / 1" in body


def test_the_dashboard_reads_its_figures_in_nine_statements_however_many_tickets_and_leads(client, team, make_user,
                                                                                         make_customer):
    """Issue 19: the session, the open counts (2), the settings, the leads per source and the ordering ones
    (2), the week's and the month's compliance (2), the twelve weeks' satisfaction in one UNION ALL."""
    agent = team["agents"][0]
    client.login(agent)
    counts = []
    for _ in range(2):
        customer = make_customer(owner=make_user("sales"))
        t = sv.move_ticket(agent, sv.move_ticket(agent, log(agent, customer), "in_progress"), "resolved", "好了")
        sv.rate_ticket(agent, t, "5")
        sv.raise_repurchase_lead(agent, customer, "想再订一批货")
        with count_queries() as q:
            assert client.get("/service/dashboard").status_code == 200
        counts.append(q.count)
    assert counts == [9, 9]


def test_satisfaction_weeks_run_monday_to_sunday_in_shanghai(app, team, make_customer):
    from views.service import satisfaction_trend

    agent = team["agents"][0]
    customer = make_customer()
    for at, score in ((local(2026, 11, 22, 23, 30), "2"), (local(2026, 11, 23, 0, 10), "4"),
                      (local(2026, 11, 24, 9, 0), "5")):
        clock.freeze(at)
        t = sv.move_ticket(agent, sv.move_ticket(agent, log(agent, customer), "in_progress"), "resolved", "好了")
        sv.rate_ticket(agent, t, score)
    clock.freeze(FROZEN)
    with app.test_request_context():
        trend = satisfaction_trend()
    assert trend["labels"][-2:] == ["2026-11-16", "2026-11-23"]
    assert trend["scores"][-2:] == [2.0, 4.5] and trend["counts"][-2:] == [1, 2]


def test_the_360_card_counts_open_tickets_and_finds_the_last_score_behind_many_open_ones(app, team, make_user,
                                                                                          make_customer):
    from views.service import SIDE_OPEN_LIMIT, side_panel

    agent, rep = team["agents"][0], make_user("sales")
    customer = make_customer(owner=rep)
    rated = sv.move_ticket(agent, sv.move_ticket(agent, log(agent, customer), "in_progress"), "resolved", "好了")
    sv.rate_ticket(agent, rated, "3")
    with app.test_request_context():
        p = side_panel(customer, rep)
        assert (p["open_count"], p["last"].satisfaction) == (0, 3)
        _bulk_tickets(customer, SIDE_OPEN_LIMIT + 5, agent)
        p = side_panel(customer, rep)
        assert (p["open_count"], len(p["open"]), p["last"].satisfaction) == (SIDE_OPEN_LIMIT + 5, 3, 3)
        assert side_panel(customer, make_user("marketing")) is None
