"""Customer value, items 4, 7 and 8 of issue 15: buying factors (ranking with evidence at its boundaries,
history, guidance on the file and the opportunity, the split against 46 / 36 / 18 %), share of wallet and
growth (every bad estimate, the figures at their boundaries, the view, the refresh on an order and by the
sweep, the managers' scoped list), the care plan a tier requires, the tier in the service lookup, and the
recompute SQL free of one engine's functions."""
import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import pytest

from models import base, clock, sql  # noqa: F401
from models import buying_factors as bf
from models import care
from models import value as vm
from models import wallet as wm
from models.audit import AuditEvent
from models.customers import Customer
from models.errors import DomainError, ValidationError
from models.opportunities import create_opportunity
from models.orders import Order, OrderLine, Product
from models.service import service_level
from tests.conftest import FROZEN
from tests.test_value import TODAY, body, shop  # noqa: F401  (shop: a rep, their manager, an admin, a customer)

EVIDENCE = "采购总监说三家比价，最低价中标"  # 14 characters


def ranking(first="price", second="relationship", third="value", evidence=EVIDENCE):
    return {"first": first, "second": second, "third": third, "evidence": evidence}


# ---- buying factors ------------------------------------------------------------------------------------

@pytest.mark.parametrize("data,field", [
    (ranking(first=""), "first"),
    (ranking(second="price"), "second"),                 # a factor twice
    (ranking(third="cost"), "third"),                    # not a factor
    (ranking(evidence="太贵了，要降价九折"), "evidence"),   # 9 characters: one short
    (ranking(evidence="x" * 501), "evidence"),
    (ranking(evidence=""), "evidence"),
])
def test_a_ranking_needs_three_different_factors_and_evidence(shop, data, field):
    rep, *_, customer = shop
    with pytest.raises(ValidationError) as exc:
        bf.set_buying_factors(rep, customer, data)
    assert field in exc.value.errors
    assert bf.BuyingFactors.select().count() == 0


def test_ten_characters_of_evidence_are_enough(shop):
    rep, *_, customer = shop
    row = bf.set_buying_factors(rep, customer, ranking(evidence="太贵了，要降价九折"  + "。"))
    assert len(row.evidence) == bf.MIN_EVIDENCE and row.current


def test_a_new_ranking_keeps_the_old_one_as_history_and_refuses_no_change(shop):
    rep, manager, *_, customer = shop
    first = bf.set_buying_factors(rep, customer, ranking())
    with pytest.raises(DomainError):
        bf.set_buying_factors(manager, customer, ranking())
    second = bf.set_buying_factors(manager, customer, ranking("relationship", "price", "value",
                                                              "合作八年，换供应商需总经理批准"))
    assert bf.current(customer.id).id == second.id
    assert [h.id for h in bf.history(customer.id)] == [second.id, first.id]
    assert not bf.BuyingFactors.get_by_id(first.id).current
    assert bf.history(customer.id)[0].set_by.full_name == manager.full_name
    events = list(AuditEvent.select().where(AuditEvent.kind == "value.factors_set").order_by(AuditEvent.id))
    assert events[-1].data["before"] == ["price", "relationship", "value"]


def test_guidance_on_the_file_and_the_opportunity(shop, client):
    rep, *_, customer = shop
    client.login(rep)
    r = client.post(f"/customers/{customer.id}/buying-factors", ranking(second="price"), htmx=True)
    assert r.status_code == 200 and "Each factor once" in body(r) and 'id="err-second"' in body(r)
    r = client.post(f"/customers/{customer.id}/buying-factors", ranking(), htmx=True)
    assert "Price-led: lead with terms, not differentiation." in body(r) and r.headers["HX-Trigger"]
    page = body(client.get(f"/customers/{customer.id}"))
    assert 'id="buying-guidance"' in page and "Price-led: lead with terms" in page and EVIDENCE in page
    timeline = body(client.get(f"/customers/{customer.id}?tab=timeline"))
    assert "Buying factors ranked: Price-led › Trusted supplier › Innovation partner" in timeline
    opp = create_opportunity(rep, customer, {"name": "年度工装", "amount": "300000", "expected_close": "2026-12-31"})
    page = body(client.get(f"/opportunities/{opp.id}"))
    assert "Price-led: lead with terms" in page and "this deal has none of its own" in page
    # The deal's own ranking wins on the deal; the file keeps the customer's.
    client.post(f"/opportunities/{opp.id}/buying-factors", ranking("value", "relationship", "price",
                                                                   "新品牌线，要的是面料研发能力"))
    page = body(client.get(f"/opportunities/{opp.id}"))
    assert "Innovation partner: lead with differentiation" in page and "none of its own" not in page
    assert bf.current(customer.id).first == "price" and bf.current(customer.id, opp.id).first == "value"


def test_the_split_against_the_article_is_the_managers_team_or_everyones(shop, make_user, make_team, make_customer,
                                                                         client):
    rep, manager, admin, customer = shop
    other_rep = make_user("sales", make_team())
    bf.set_buying_factors(rep, customer, ranking())
    bf.set_buying_factors(rep, make_customer(owner=rep, stage="signed"), ranking("relationship", "price", "value"))
    bf.set_buying_factors(other_rep, make_customer(owner=other_rep), ranking("relationship", "price", "value"))
    assert bf.distribution(manager)["rows"] == [("relationship", 1, 50.0, 46), ("price", 1, 50.0, 36),
                                                ("value", 0, 0.0, 18)]
    assert bf.distribution(admin)["total"] == 3
    client.login(manager)
    page = body(client.get("/value/buying-factors?first=price"))
    assert "<svg" in page and page.count('class="factor-ours"') == 3 and "46 %" in page
    assert customer.name in page


# ---- share of wallet and growth -----------------------------------------------------------------------

@pytest.fixture
def lines(app):
    for code, line in (("FAB-1", "面料"), ("ACC-1", "辅料")):
        Product.create(code=code, name_zh=code, name_en=code, product_line=line, list_price=100, unit_cost=60,
                       updated_at=FROZEN)
    return ["辅料", "面料"]


def sell(customer, days_ago, amount, code="FAB-1"):
    product = Product.get(Product.code == code)
    order = Order.create(customer=customer.id, rep=customer.owner_id, ordered_on=TODAY - dt.timedelta(days=days_ago),
                         status="signed", total=Decimal(amount), cost=Decimal(amount) * Decimal("0.6"),
                         created_at=FROZEN, signed_at=FROZEN)
    OrderLine.create(order=order, product=product, quantity=1, unit_price=amount, unit_cost=0, amount=amount)
    return order


def estimate(**over):
    data = {"product_line": "面料", "spend": "1000000", "customer_growth": "20", "estimated_on": TODAY.isoformat(),
            "source": "采购经理口述"}
    data.update(over)
    return data


@pytest.mark.parametrize("over,field,words", [
    ({"spend": "-500000"}, "spend", "cannot be negative"),
    ({"spend": "0"}, "spend", "e.g. 3000000"),
    ({"spend": "abc"}, "spend", ""),
    ({"spend": "1000000000.01"}, "spend", "not a plausible estimate"),
    ({"spend": "100000"}, "spend", "Below what the customer bought from us"),  # we sold 200,000
    ({"source": ""}, "source", "where the estimate comes from"),
    ({"source": "x" * 201}, "source", ""),
    ({"estimated_on": "2026-11-25"}, "estimated_on", ""),                       # tomorrow
    ({"estimated_on": "2024-11-23"}, "estimated_on", ""),                       # two years and a day ago
    ({"estimated_on": ""}, "estimated_on", ""),
    ({"customer_growth": "-100"}, "customer_growth", ""),
    ({"customer_growth": "500.1"}, "customer_growth", ""),
    ({"product_line": "家具"}, "product_line", ""),
])
def test_bad_spend_estimates_are_refused_with_a_message_and_nothing_saved(shop, lines, over, field, words):
    rep, *_, customer = shop
    sell(customer, 30, 200000)
    with pytest.raises(ValidationError) as exc:
        wm.set_spend_estimate(rep, customer, estimate(**over))
    assert field in exc.value.errors
    message, params = exc.value.errors[field][0]
    assert words in message % params if params else words in message
    assert wm.SpendEstimate.select().count() == 0 and wm.WalletLine.select().count() == 0


@pytest.mark.parametrize("over", [{"spend": "1000000000"}, {"spend": "200000"}, {"spend": "300万"},
                                  {"customer_growth": "-99"}, {"customer_growth": "500"}, {"customer_growth": ""},
                                  {"estimated_on": "2024-11-24"}])
def test_estimates_at_the_limits_are_taken(shop, lines, over):
    rep, *_, customer = shop
    sell(customer, 30, 200000)
    assert wm.set_spend_estimate(rep, customer, estimate(**over)).current


@pytest.mark.parametrize("customer_growth,ours,prev,falling", [
    (0, 100, 100, False),         # the customer does not grow: not on the list
    (20, 120, 100, False),        # we grow as fast as the customer: the share holds
    (20, 119, 100, True),         # a little slower: the share falls
    (-10, 50, 100, False),        # a shrinking customer is another story
    (None, 50, 100, False),       # no growth estimate: no share a year ago
])
def test_share_falls_only_when_the_customer_grows_faster_than_we_do(customer_growth, ours, prev, falling):
    f = wm.figures(1000, customer_growth, ours, prev)
    assert f["falling"] is falling
    assert f["share"] == round(100 * ours / 1000, 1)


def test_share_growth_and_competitors_on_the_view(shop, lines, client):
    rep, *_, customer = shop
    sell(customer, 30, 300000)
    sell(customer, 400, 280000)
    client.login(rep)
    r = client.post(f"/customers/{customer.id}/wallet/spend", estimate(spend="-1"), htmx=True)
    assert r.status_code == 200 and "The spend cannot be negative." in body(r) and 'id="wallet-spend-form"' in body(r)
    r = client.post(f"/customers/{customer.id}/wallet/spend", estimate(source=""), htmx=True)
    assert "Say where the estimate comes from" in body(r)
    r = client.post(f"/customers/{customer.id}/wallet/spend", estimate(spend="1500000", customer_growth="25"))
    assert r.status_code in (302, 303)
    w = wm.WalletLine.get()
    assert (w.share, w.our_growth, w.falling) == (20.0, 7.1, True)
    assert w.share_prev == round(100 * 280000 / (1500000 / 1.25), 1)  # 23.3
    r = client.post(f"/customers/{customer.id}/wallet/competitor",
                    {"product_line": "面料", "competitor": "华纺集团", "growth": "35", "share": "81",
                     "estimated_on": TODAY.isoformat(), "source": "展会上听对方销售说"}, htmx=True)
    assert "more than 100 %" in body(r)  # our 20 % + 81 %
    client.post(f"/customers/{customer.id}/wallet/competitor",
                {"product_line": "面料", "competitor": "华纺集团", "growth": "35", "share": "45",
                 "estimated_on": TODAY.isoformat(), "source": "展会上听对方销售说"})
    page = body(client.get(f"/customers/{customer.id}/wallet"))
    assert 'id="wallet-share-chart"' in page and 'id="wallet-growth-chart"' in page
    assert "华纺集团 35 %" in page and "20 %" in page and "falling" in page
    assert page.count('class="wallet-competitor"') >= 2  # its share and its growth
    card = body(client.get(f"/customers/{customer.id}"))
    assert 'id="wallet-card"' in card and "the customer grows 25 %" in card
    timeline = body(client.get(f"/customers/{customer.id}?tab=timeline"))
    assert "Spend on 面料 estimated at" in timeline and "华纺集团 on 面料: growth 35 %" in timeline


def test_a_focus_tier_customer_without_an_estimate_is_prompted(shop, lines, client):
    rep, *_, customer = shop
    client.login(rep)
    assert 'id="wallet-card"' not in body(client.get(f"/customers/{customer.id}"))
    Customer.update(value_tier="strategic").where(Customer.id == customer.id).execute()
    assert 'id="wallet-missing"' in body(client.get(f"/customers/{customer.id}"))


def test_an_order_and_the_sweep_keep_the_lines_current(shop, lines):
    rep, *_, customer = shop
    old = sell(customer, 360, 100000)
    wm.set_spend_estimate(rep, customer, estimate())
    assert wm.WalletLine.get().share == 10.0
    from models.orders import create_order, sign_order
    order = create_order(rep, customer, {"ordered_on": TODAY.isoformat(), "product_0": str(Product.get(
        Product.code == "FAB-1").id), "quantity_0": "500", "unit_price_0": "100"})
    sign_order(rep, order)
    assert wm.WalletLine.get().ours_12m == Decimal("100000") + order.total
    assert wm.sweep(clock.now())["customers"] == 0  # refreshed today already
    clock.freeze(FROZEN + dt.timedelta(days=10))  # the first order leaves the 12 months
    try:
        assert wm.sweep()["customers"] == 1 and wm.sweep()["customers"] == 0
        assert wm.WalletLine.get().ours_12m == order.total and wm.WalletLine.get().ours_prev == old.total
    finally:
        clock.freeze(FROZEN)


def test_the_share_falls_list_is_scoped_to_the_managers_team(shop, lines, make_user, make_team, make_customer,
                                                              client):
    rep, manager, admin, customer = shop
    other = make_user("sales", make_team())
    far = make_customer(owner=other, stage="signed")
    for c, owner in ((customer, rep), (far, other)):
        sell(c, 30, 100000)
        sell(c, 400, 100000)
        wm.set_spend_estimate(owner, c, estimate(customer_growth="30"))
    client.login(manager)
    page = body(client.get("/value/share-falls"))
    assert customer.name in page and far.name not in page
    client.login(admin)
    page = body(client.get("/value/share-falls"))
    assert customer.name in page and far.name in page
    assert {w.customer_id for w in wm.falling_shares(admin).rows} == {customer.id, far.id}


# ---- item 4: a care plan for diamond customers, the tier in pickers ---------------------------------------

def test_a_diamond_customer_without_a_care_plan_is_flagged_and_listed(shop, make_user, client):
    rep, _m, admin, customer = shop
    agent = make_user("service")
    Customer.update(value_tier="diamond").where(Customer.id == customer.id).execute()
    vm.CustomerValue.create(customer=customer.id, tier="diamond", computed_at=FROZEN, tier_since=FROZEN)
    client.login(rep)
    assert 'id="value-care-missing"' in body(client.get(f"/customers/{customer.id}"))
    client.login(agent)
    assert customer.name in body(client.get("/care/missing"))
    assert customer.name in body(client.get("/"))  # the service workbench's care card
    customer = Customer.get_by_id(customer.id)
    assert care.eligible(customer)  # not a key account, but diamond
    care.create_care_plan(agent, customer, {"service_user_id": str(agent.id), "every_days": "30"})
    assert customer.name not in body(client.get("/care/missing"))
    client.login(rep)
    assert 'id="value-care-missing"' not in body(client.get(f"/customers/{customer.id}"))


@pytest.mark.parametrize("setting,tier,flagged", [
    ("diamond", "strategic", False), ("strategic", "strategic", True), ("none", "diamond", False)])
def test_which_tiers_need_a_care_plan_is_a_setting(shop, setting, tier, flagged):
    *_, admin, customer = shop
    settings = vm.validate_settings({"care_plan_from": setting})
    if setting != "diamond":
        vm.save_rule(admin, settings, clock.now())
    Customer.update(value_tier=tier).where(Customer.id == customer.id).execute()
    customer = Customer.get_by_id(customer.id)
    assert care.needs_care_plan(customer) is flagged
    assert care.eligible(customer) is (flagged or service_level(customer) == "key")


def test_a_bad_care_setting_is_refused():
    with pytest.raises(ValidationError) as exc:
        vm.validate_settings({"care_plan_from": "ordinary"})
    assert "care_plan_from" in exc.value.errors


def test_the_service_lookup_shows_the_tier(shop, make_user, client):
    *_, customer = shop
    Customer.update(value_tier="diamond").where(Customer.id == customer.id).execute()
    client.login(make_user("service"))
    r = client.get(f"/service/lookup?q={customer.name[:6]}", htmx=True)
    assert customer.name in body(r) and "tier-diamond" in body(r)
    assert "tier-diamond" in body(client.get(f"/service/pick/{customer.id}", htmx=True))


# ---- item 4 (portability) ---------------------------------------------------------------------------------

def test_the_recompute_sql_uses_no_sqlite_only_function():
    text = (Path(__file__).resolve().parent.parent / "models" / "value.py").read_text()
    for word in (r"julianday", r"(?<!sql\.)\bjson_object\(", r"INSERT OR", r"\btemp\.", r"MAX\(0", r"\bjson\("):
        assert not re.search(word, text), word


def test_the_engine_helpers_speak_both_dialects(monkeypatch):
    monkeypatch.setattr(base, "is_sqlite", lambda: True)
    assert sql.days_between("?", "due_on") == "(julianday(?) - julianday(due_on))"
    assert sql.placeholders("a = ?") == "a = ?"
    monkeypatch.setattr(base, "is_sqlite", lambda: False)
    assert sql.days_between("?", "due_on") == "(CAST(? AS date) - CAST(due_on AS date))"
    assert sql.greatest("0", "x") == "GREATEST(0, x)"
    assert sql.round_to("a / b", 1) == "ROUND(CAST(a / b AS numeric), 1)"
    assert sql.json_text(sql.json_object([("k", "n.v")])) == "CAST(json_build_object('k', n.v) AS text)"
    assert sql.placeholders("a = ? AND b = ?") == "a = %s AND b = %s"
    sent = vm_gather_sql(monkeypatch)
    assert re.search(r"GREATEST\(0, \(CAST", sent) and "julianday" not in sent and "?" not in sent


def vm_gather_sql(monkeypatch):
    """The statements the recompute would send, as text (captured, not run)."""
    sent = []
    monkeypatch.setattr(vm, "_exec", lambda text, params=(): sent.append(sql.placeholders(text)))
    vm._gather(1, 2, TODAY)
    return "\n".join(sent)
