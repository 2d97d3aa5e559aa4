"""Issue 13 point 13, the smaller ones: a reopened ticket's history says "Reopened" in the reader's language;
the stage history's running dwell reads "… so far" and its reason wraps; the printable decision tree has one
print button; the order form's lines carry the catalogue price that a chosen product fills in (static/orders.js);
marketing, service and admins have no private-pool page and marketing and service no transfer list; service
reads deals on a customer's file but not the pipeline of every team (the rules in models/permissions.py)."""
from models import service as sv
from models.permissions import can
from models.orders import save_product
from models.users import User
from tests.test_service import _closed, team  # noqa: F401


def body(response):
    return response.get_data(as_text=True)


def test_a_reopened_ticket_says_reopened_in_both_languages(client, team, make_customer):  # noqa: F811
    agent = team["agents"][0]
    t = sv.reopen_ticket(agent, _closed(agent, make_customer()), "客户来电：又坏了")
    client.login(agent)
    page = body(client.get(f"/service/tickets/{t.id}"))
    assert 'class="badge status-reopened">Reopened</span>' in page
    User.update(language="zh_CN").where(User.id == agent.id).execute()
    page = body(client.get(f"/service/tickets/{t.id}"))
    assert 'class="badge status-reopened">已重开</span>' in page


def test_the_stage_history_says_so_far_and_lets_the_reason_wrap(client, make_user, make_team, make_customer):
    from models.opportunities import create_opportunity
    rep = make_user("sales", make_team())
    customer = make_customer(owner=rep)
    opp = create_opportunity(rep, customer, {"name": "春季面料", "amount": "120000", "expected_close": "2027-03-31"})
    client.login(rep)
    page = body(client.get(f"/opportunities/{opp.id}"))
    assert " so far</td>" in page and 'class="stage-reason"' in page and " …</td>" not in page


def test_the_printable_decision_tree_has_one_print_button(client, make_user, make_team, make_customer):
    rep = make_user("sales", make_team())
    customer = make_customer(owner=rep)
    client.login(rep)
    tab = body(client.get(f"/customers/{customer.id}/tree", htmx=True))  # the 360 tab's fragment
    assert "Printable view" in tab
    page = body(client.get(f"/customers/{customer.id}/tree"))
    assert page.count("data-print") == 1 and "Printable view" not in page


def test_the_order_form_carries_the_catalogue_figures_it_fills_in(client, make_user, make_team, make_customer):
    rep, admin = make_user("sales", make_team()), make_user("admin")
    customer = make_customer(owner=rep)
    save_product(admin, {"code": "FAB-9", "name_zh": "府绸", "name_en": "Poplin", "product_line": "面料",
                         "unit": "米", "list_price": "28.50", "unit_cost": "19.20", "consumable": "1"})
    client.login(rep)
    page = body(client.get(f"/customers/{customer.id}/orders/new"))
    assert 'data-price="28.5" data-cost="19.2"' in page and "/static/orders.js" in page


def test_pages_for_roles_that_have_nothing_there(client, make_user, make_team):
    team = make_team()
    rep, manager = make_user("sales", team), make_user("manager", team)
    for role in ("marketing", "service", "admin"):
        user = make_user(role)
        assert not can(user, "capacity.view", user)
        client.login(user)
        assert client.get("/capacity").status_code == 404
        assert (client.get("/transfers/").status_code == 404) == (role != "admin")
        assert can(user, "opportunity.pipeline") == (role == "admin")
    assert can(manager, "capacity.view", rep) and can(rep, "capacity.view", rep)
    service = make_user("service")
    client.login(service)
    assert client.get("/opportunities").status_code == 404 and client.get("/opportunities/stats").status_code == 404
    assert 'href="/opportunities"' not in body(client.get("/"))
