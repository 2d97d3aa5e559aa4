"""Real-browser journeys through service (domain §10): (a) a service agent logs a hotline ticket from the
workbench in four interactions (type part of the name, Enter picks the match, say what happened, the
category button logs it) and resolves it; (b) a ticket raises a repurchase lead that the owning rep
then sees on their workbench with its source. Screenshots in English and Chinese.
"""
import uuid

from playwright.sync_api import Page, expect

from models import clock
from models import service as sv
from models.customers import Customer, create_customer, set_owner
from models.users import Team, User, hash_password
from tests.conftest import PASSWORD
from tests.e2e.conftest import assert_not_reloaded, log_in, mark_page, shot

NAME_CHARS = "锦华鼎盛瑞丰恒泰隆昌宏达永兴嘉禾新源正大华美康宁远航金城银河天成伟业同创众诚凯旋博雅"


def _uid():
    return uuid.uuid4().hex[:8]


def user(role, team=None, language="en"):
    uid = _uid()
    return User.create(username=f"e2e-{role}-{uid}", full_name=f"E2E {role.title()} {uid[:4]}",
                       password_hash=hash_password(PASSWORD), role=role, team=team, created_at=clock.now(),
                       language=language)


def service_team():
    boss = user("service")
    team = Team.create(name=f"E2E 客服{_uid()}组", manager=boss)
    User.update(team=team).where(User.id == boss.id).execute()
    return team, User.get_by_id(boss.id), user("service", team)


def customer(uid, owner=None, **fields):
    admin = User.get_or_none(User.username == "e2e-service-admin") or User.create(
        username="e2e-service-admin", full_name="E2E Admin", password_hash="x", role="admin", created_at=clock.now())
    name = "".join(NAME_CHARS[int(ch, 16) + i] for i, ch in enumerate(uid[:3])) + f"服饰有限公司{uid}"
    c = create_customer(admin, {"name": name, "business_model": "consumer", "source": "website", "stage": "target",
                                **fields}, check_duplicates=False)
    if owner is not None:
        set_owner(admin, c, owner)
    return Customer.get_by_id(c.id)


def switch_to_chinese(page):
    page.locator("button[lang='zh-CN']").click()
    page.wait_for_load_state("networkidle")


def test_hotline_ticket_in_four_interactions_then_resolved(page: Page, output_path):
    _team, _boss, agent = service_team()
    uid = _uid()
    target = customer(uid)
    log_in(page, agent.username)
    form = page.locator("#wb-quick-ticket")
    # The customer box has the focus on arrival: typing starts at once, no click needed.
    page.wait_for_function("document.activeElement && document.activeElement.id === 'ticket-customer-q'")
    shot(page, output_path, "service-workbench-en.png")

    mark_page(page)
    # 1. type part of the name
    page.keyboard.type(uid[2:8], delay=30)
    expect(page.locator(f"#customer-results .lookup-list[data-q='{uid[2:8]}'] .lookup-pick")).to_have_count(1)
    expect(page.locator("#customer-results")).to_contain_text(target.name)
    # 2. Enter picks the first match; the focus moves on to the description
    page.keyboard.press("Enter")
    expect(page.locator("#picked-name")).to_have_text(target.name)
    page.wait_for_function("document.activeElement.id === 'ticket-description'")
    assert_not_reloaded(page)
    # 3. say what the customer needs
    page.keyboard.type("热线来电：三号缝纫机主轴异响，产线停了一台")
    shot(page, output_path, "service-quick-form-filled-en.png")
    # 4. the category button logs it (hotline and normal priority are the defaults)
    form.get_by_role("button", name="Fault").click()

    page.wait_for_url("**/service/tickets/*?created=1")
    ticket = sv.Ticket.select().where(sv.Ticket.customer == target.id).get()
    assert (ticket.channel, ticket.category, ticket.priority, ticket.status) == ("hotline", "fault", "normal", "new")
    assert ticket.created_by_id == agent.id
    expect(page.locator("#ticket-status")).to_have_text("New")
    expect(page.locator("#ticket-sla")).to_contain_text("Response time:")
    shot(page, output_path, "service-ticket-new-en.png")

    # Resolve it: start work, write the resolution, resolve (htmx swaps the ticket in place).
    mark_page(page)
    page.get_by_role("button", name="Start work").click()
    expect(page.locator("#ticket-status")).to_have_text("In progress")
    expect(page.locator("#ticket-assignee")).to_have_text(agent.full_name)
    page.get_by_label("Resolution, or a note for this step").fill("电话指导客户更换皮带，设备已恢复运转")
    page.get_by_role("button", name="Resolve").click()
    expect(page.locator("#ticket-status")).to_have_text("Resolved")
    expect(page.locator("#ticket-resolution")).to_have_text("电话指导客户更换皮带，设备已恢复运转")
    page.locator("input[name=satisfaction][value='5']").check()
    page.get_by_role("button", name="Record", exact=True).click()
    expect(page.locator("#ticket-satisfaction")).to_contain_text("5/5")
    assert_not_reloaded(page)
    ticket = sv.Ticket.get_by_id(ticket.id)
    assert (ticket.status, ticket.assignee_id, ticket.satisfaction) == ("resolved", agent.id, 5)
    assert ticket.responded_at is not None and ticket.resolved_at is not None
    shot(page, output_path, "service-ticket-resolved-en.png")

    switch_to_chinese(page)
    expect(page.locator("#ticket-status")).to_have_text("已解决")
    shot(page, output_path, "service-ticket-resolved-zh.png")
    page.goto("/")
    expect(page.locator("#wb-quick-ticket")).to_contain_text("登记工单")
    shot(page, output_path, "service-workbench-zh.png")
    page.goto("/service/")
    expect(page.locator("#queue-table")).to_be_visible()
    shot(page, output_path, "service-queue-zh.png")
    page.goto("/service/dashboard")
    expect(page.locator("#satisfaction-chart")).to_be_visible()
    page.wait_for_function("typeof Chart === 'function' && Chart.getChart(document.getElementById('satisfaction-chart')) !== undefined")
    shot(page, output_path, "service-dashboard-zh.png")


def test_a_ticket_raises_a_repurchase_lead_the_rep_sees(page: Page, output_path):
    _team, _boss, agent = service_team()
    rep = user("sales")
    uid = _uid()
    target = customer(uid, owner=rep)
    ticket = sv.log_ticket(agent, {"customer_id": str(target.id), "category": "consultation",
                                   "description": "客户咨询春季新款衬衫面料"})
    log_in(page, agent.username)
    page.goto(f"/service/tickets/{ticket.id}")
    mark_page(page)
    page.get_by_label("What may the customer buy again?").fill("客户计划春季追加衬衫面料订单")
    page.get_by_role("button", name="Raise a lead for the rep").click()
    expect(page.locator("#ticket-lead")).to_contain_text(f"客户计划春季追加衬衫面料订单 → {rep.full_name}")
    assert_not_reloaded(page)
    lead = sv.RepurchaseLead.get(sv.RepurchaseLead.customer == target.id)
    assert (lead.routed_to_id, lead.via, lead.ticket_id) == (rep.id, "owner", ticket.id)
    shot(page, output_path, "service-lead-raised-en.png")

    page.get_by_role("button", name="Log out").click()
    log_in(page, rep.username)
    card = page.locator("#wb-repurchase-leads")
    expect(card).to_contain_text(target.name)
    expect(card).to_contain_text("客户计划春季追加衬衫面料订单")
    expect(card.locator(".lead-source")).to_have_text(f"Service ticket #{ticket.id}")
    shot(page, output_path, "rep-workbench-lead-en.png")
    # The rep opens the customer: service on the side, and the Service tab with the ticket.
    card.get_by_role("link", name=target.name).click()
    expect(page.locator("#service-side")).to_contain_text("1 open ticket")
    page.locator("#tab-service").click()
    expect(page.locator("#service-tab")).to_contain_text(f"#{ticket.id}")
    shot(page, output_path, "rep-customer-service-tab-en.png")
    switch_to_chinese(page)
    expect(page.locator("#service-side")).to_contain_text("1 张未结工单")
    shot(page, output_path, "rep-customer-service-tab-zh.png")
