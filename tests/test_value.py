"""Customer value (issue 15): every tier rule at its boundary (frozen clock), the inputs equal to the 360
figures, the preview, the versioned rule and its bad input, influence, history in words on the timeline,
the sweep's idempotence, the event recomputes, and the pyramid, list filter and card over HTTP."""
import datetime as dt
from decimal import Decimal

import pytest

from models import clock, hooks
from models import value as vm
from models.audit import AuditEvent
from models.customers import Customer
from models.errors import NotFound, ValidationError
from models.opportunities import Opportunity
from models.orders import Order, Payment, PaymentDue, customer_figures
from tests.conftest import FROZEN

TODAY = dt.date(2026, 11, 24)  # FROZEN in Shanghai


def body(response):
    return response.get_data(as_text=True)


@pytest.fixture
def shop(make_user, make_team, make_customer):
    team = make_team()
    rep = make_user("sales", team)
    manager = make_user("manager", team)
    admin = make_user("admin")
    return rep, manager, admin, make_customer(owner=rep, stage="signed")


def trade(customer, days_ago, total, cost=None, due_in=30, paid=None, paid_after=0):
    """A signed order `days_ago`, one instalment `due_in` days later, and `paid` of it received `paid_after`
    days after the due date (None: nothing paid)."""
    day = TODAY - dt.timedelta(days=days_ago)
    order = Order.create(customer=customer.id, rep=customer.owner_id, ordered_on=day, status="signed",
                         total=Decimal(total), cost=Decimal(cost if cost is not None else total * 0.6),
                         created_at=FROZEN, signed_at=FROZEN)
    due_on = day + dt.timedelta(days=due_in)
    PaymentDue.create(order=order, customer=customer.id, due_on=due_on, amount=Decimal(total))
    if paid:
        Payment.create(order=order, customer=customer.id, received_on=due_on + dt.timedelta(days=paid_after),
                       amount=Decimal(paid), method="cash", created_at=FROZEN)
    return order


def rule(**over):
    """Settings: the score is the sales points alone (full at 1,000 yuan), unless overridden."""
    s = vm.validate_settings({})
    s["weights"] = {m: 0 for m in vm.METRICS} | {"sales": 100}
    s["sales_full"] = 1000
    for k, v in over.items():
        s[k] = v
    return s


def use(settings, admin):
    vm.save_rule(admin, settings, clock.now())


def tier_of(customer):
    vm.recompute(customer.id)
    return vm.value_of(customer.id)


# ---- the inputs --------------------------------------------------------------------------------------

def test_inputs_equal_the_360_figures(shop):
    rep, _m, _a, customer = shop
    trade(customer, 300, 1000, paid=600, paid_after=5)   # part paid, late
    trade(customer, 200, 500, paid=500, paid_after=-3)   # on time
    trade(customer, 40, 800, due_in=10, paid=None)       # due 30 days ago, unpaid
    trade(customer, 500, 700, paid=700)                  # the 12 months before
    row = tier_of(customer)
    f = customer_figures(customer.id, TODAY)
    assert row.sales_12m == f["sales_12m"] == Decimal("2300.00")
    assert (row.collection_rate, row.avg_days_late) == (float(f["collection_rate"]), f["avg_days_late"])
    assert row.sales_prev == Decimal("700.00")
    assert row.max_overdue_days == 270  # the part-paid instalment, due 270 days ago, is still not covered
    assert row.growth_pct == round(100 * (2300 - 700) / 700, 1)


# ---- the rules at their boundaries ---------------------------------------------------------------------

@pytest.mark.parametrize("sales,tier", [(850, "diamond"), (849, "strategic"), (700, "strategic"),
                                        (699, "potential"), (600, "potential"), (599, "ordinary")])
def test_score_thresholds(shop, sales, tier):
    *_, admin, customer = shop
    use(rule(), admin)
    trade(customer, 100, sales, paid=sales)
    row = tier_of(customer)
    assert (row.tier, row.score) == (tier, sales / 10)
    assert Customer.get_by_id(customer.id).value_tier == tier


@pytest.mark.parametrize("paid,tier,reason", [(700, "diamond", "score"), (699, "problem", "collection")])
def test_collection_rate_below_the_limit_is_a_problem_whatever_the_score(shop, paid, tier, reason):
    *_, admin, customer = shop
    use(rule(sales_full=1), admin)
    trade(customer, 100, paid, paid=paid)  # due 70 days ago and paid
    trade(customer, 100, 1000 - paid)  # due 70 days ago, unpaid: rate = paid / 10 %
    row = tier_of(customer)
    assert (row.tier, row.reason, row.collection_rate) == (tier, reason, paid / 10)


@pytest.mark.parametrize("overdue,tier", [(120, "diamond"), (121, "problem")])
def test_an_instalment_overdue_beyond_the_limit_is_a_problem(shop, overdue, tier):
    *_, admin, customer = shop
    use(rule(sales_full=1, problem_collection_below=0), admin)
    trade(customer, overdue + 30, 1000)  # due `overdue` days ago, unpaid
    row = tier_of(customer)
    assert (row.tier, row.max_overdue_days) == (tier, overdue)


@pytest.mark.parametrize("growth,tier", [(30, "potential"), (29.9, "ordinary")])
def test_growth_makes_a_customer_potential(shop, growth, tier):
    *_, admin, customer = shop
    use(rule(), admin)  # 12-month sales 100 of 1,000: score 10
    trade(customer, 100, 100 * (1 + growth / 100), paid=100 * (1 + growth / 100))
    trade(customer, 400, 100, paid=100)
    assert tier_of(customer).tier == tier


@pytest.mark.parametrize("influence,pipeline,tier", [(4, 0, "important_opp"), (3, 0, "ordinary_opp"),
                                                     (None, 200000, "important_opp"), (None, 199999.99, "ordinary_opp")])
def test_non_trading_customers_by_influence_and_pipeline(shop, influence, pipeline, tier):
    rep, _m, _a, customer = shop
    if influence:
        vm.set_influence(rep, customer, influence, "行业协会副会长单位")
    if pipeline:
        Opportunity.create(customer=customer.id, owner=rep.id, team=rep.team_id, name="扩产", amount=pipeline,
                           probability=100, weighted=pipeline, stage="negotiation", expected_close=TODAY,
                           created_at=FROZEN, updated_at=FROZEN, stage_changed_at=FROZEN, is_open=True)
    assert tier_of(customer).tier == tier


def test_an_old_order_still_makes_a_trading_customer(shop):
    *_, admin, customer = shop
    use(rule(), admin)
    trade(customer, 700, 500, paid=500)  # only in the 12 months before: growth −100 %
    row = tier_of(customer)
    assert (row.tier, row.growth_pct) == ("ordinary", -100.0)


# ---- history in words, idempotence, events ----------------------------------------------------------------

def test_a_slipping_customer_falls_to_problem_with_the_reason_on_the_timeline(shop, en_client):
    rep, _m, admin, customer = shop
    use(rule(sales_full=1000), admin)
    order = trade(customer, 100, 1000, paid=1000)  # one instalment of 1,000, due 70 days ago, paid
    assert tier_of(customer).tier == "diamond"
    # The schedule turns out to be 610 + 390 and the payment was only 610: the second instalment slips.
    PaymentDue.update(amount=610).where(PaymentDue.order == order).execute()
    PaymentDue.create(order=order, customer=customer.id, due_on=TODAY - dt.timedelta(days=60), amount=390)
    Payment.update(amount=610).where(Payment.order == order).execute()
    assert tier_of(customer).tier == "problem"
    changes = vm.history(customer.id)
    assert [(c.from_tier, c.to_tier, c.rule_version) for c in changes] == [("diamond", "problem", 1),
                                                                            ("", "diamond", 1)]
    assert changes[0].inputs["collection_rate"] == 61.0
    en_client.login(rep)
    page = body(en_client.get(f"/customers/{customer.id}?tab=timeline"))
    assert "Value tier moved from Diamond to Problem: collection rate 61 % &lt; 70 % (rule v1)." in page


def test_recompute_is_idempotent_and_the_sweep_runs_once_a_day_and_rule(shop):
    *_, admin, customer = shop
    trade(customer, 100, 500000, paid=500000)
    first = vm.sweep()
    assert first["done"] and first["changes"] >= 1
    before = (vm.ValueChange.select().count(), AuditEvent.select().count())
    assert vm.sweep() == {"done": False, "rule_version": 0}
    assert vm.recompute_all(chunk=1) [1] == 0  # again, in chunks of one id: nothing changes
    assert (vm.ValueChange.select().count(), AuditEvent.select().count()) == before
    settings = rule(sales_full=10**9)
    use(settings, admin)
    again = vm.sweep()
    assert again["done"] and again["rule_version"] == 1
    assert vm.history(customer.id)[0].rule_version == 1
    clock.freeze(FROZEN + dt.timedelta(days=1))
    try:
        assert vm.sweep()["done"]  # the next business day
    finally:
        clock.freeze(FROZEN)


def test_a_cut_off_run_resumes_where_it_stopped(shop, make_customer):
    *_, customer = shop
    other = make_customer(owner=customer.owner)
    run = vm.ValueRun.create(day=TODAY, rule_version=0, started_at=FROZEN, next_id=other.id)
    result = vm.sweep(chunk=1)
    assert result["customers"] == Customer.select().where(Customer.id >= other.id).count()
    assert vm.value_of(customer.id) is None and vm.value_of(other.id) is not None
    assert vm.ValueRun.get_by_id(run.id).finished_at is not None


def test_registered_with_the_sweeps(shop):
    assert "value" in hooks.run_sweeps()


def test_signing_an_order_and_receiving_a_payment_reclassify_at_once(shop, client):
    from models.orders import create_order, record_payment, save_product

    rep, _m, admin, customer = shop
    use(rule(sales_full=100000), admin)
    product = save_product(admin, {"code": "EQ-9", "name_zh": "裁床", "name_en": "Cutter", "list_price": "90000",
                                   "unit_cost": "50000"})
    order = create_order(rep, customer, {"ordered_on": (TODAY - dt.timedelta(days=90)).isoformat(),
                                         "product_0": str(product.id), "quantity_0": "1"}, sign=True)
    row = vm.value_of(customer.id)
    assert (row.tier, row.collection_rate) == ("problem", 0.0)  # due 60 days ago, nothing paid
    record_payment(rep, order, {"received_on": TODAY.isoformat(), "amount": "90000", "method": "cash"})
    assert vm.value_of(customer.id).tier == "diamond"


# ---- influence ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("level,reason,field", [("3", "", "reason"), ("3", "   ", "reason"), ("6", "理由", "influence"),
                                                ("x", "理由", "influence"), ("3", "长" * 201, "reason")])
def test_influence_needs_a_level_and_a_reason(shop, level, reason, field):
    rep, *_ , customer = shop
    with pytest.raises(ValidationError) as exc:
        vm.set_influence(rep, customer, level, reason)
    assert field in exc.value.errors
    assert vm.value_of(customer.id) is None and not AuditEvent.select().where(
        AuditEvent.kind == "value.influence_set").exists()


def test_influence_over_http_inline_error_then_saved(shop, client, make_user, make_customer):
    rep, *_, customer = shop
    client.login(rep)
    r = client.post(f"/customers/{customer.id}/value/influence", {"influence": "5", "reason": ""}, htmx=True)
    assert r.status_code == 200 and "Say why" in body(r) or "请说明理由" in body(r)
    assert vm.value_of(customer.id) is None
    r = client.post(f"/customers/{customer.id}/value/influence", {"influence": "5", "reason": "龙头企业，带动同行采购"}, htmx=True)
    assert r.status_code == 200 and "HX-Trigger" in r.headers
    row = vm.value_of(customer.id)
    assert (row.influence, row.influence_reason, row.influence_by_id) == (5, "龙头企业，带动同行采购", rep.id)
    other = make_customer(owner=make_user("sales"))
    assert client.post(f"/customers/{other.id}/value/influence", {"influence": "5", "reason": "x"}).status_code == 404
    with pytest.raises(NotFound):
        vm.set_influence(rep, other, 5, "x")


# ---- the rule: bad input, preview, versions ----------------------------------------------------------------

def rule_form(**over):
    """The value rule form as the page posts it, with the defaults and `over`."""
    data = {f"weight_{m}": str(w) for m, w in vm.DEFAULTS["weights"].items()}
    data.update({f"threshold_{t}": str(v) for t, v in vm.DEFAULTS["thresholds"].items()})
    data.update({k: str(vm.DEFAULTS[k]) for k in vm.NUMBERS})
    data.update(over)
    return data


@pytest.mark.parametrize("over,field", [
    ({"weight_sales": "34"}, "weights"),
    ({"weight_sales": "-1"}, "weight_sales"),
    ({"weight_sales": "abc"}, "weight_sales"),
    ({"threshold_strategic": "90"}, "threshold_strategic"),   # above diamond: inverted
    ({"threshold_potential": "70"}, "threshold_potential"),   # equal to strategic: overlapping
    ({"threshold_diamond": "101"}, "threshold_diamond"),
    ({"problem_collection_below": "NaN"}, "problem_collection_below"),
    ({"sla_diamond_urgent_response": "1"}, "sla_diamond_urgent_resolution"),  # half a row
    ({"sla_diamond_urgent_response": "4", "sla_diamond_urgent_resolution": "2"}, "sla_diamond_urgent_resolution"),
])
def test_bad_rules_are_refused_and_nothing_is_saved(shop, client, over, field):
    *_, admin, _c = shop
    with pytest.raises(ValidationError) as exc:
        vm.validate_settings(rule_form(**over))
    assert field in exc.value.errors
    client.login(admin)
    r = client.post("/admin/value-rules", rule_form(**over))
    assert r.status_code == 200 and "form-error" in body(r)
    assert vm.ValueRule.select().count() == 0
    preview = body(client.post("/admin/value-rules/preview", rule_form(**over), htmx=True))
    assert "form-error" in preview


def test_weights_error_says_the_sum(shop):
    with pytest.raises(ValidationError) as exc:
        vm.validate_settings(rule_form(weight_sales="34"))
    assert exc.value.errors["weights"][0][1] == {"sum": "99"}


def test_preview_with_nothing_changed_says_so_and_save_refuses_it(shop, client):
    *_, admin, customer = shop
    with pytest.raises(ValidationError) as exc:
        vm.preview(vm.validate_settings(rule_form()))
    assert "rule" in exc.value.errors
    with pytest.raises(ValidationError):
        vm.save_rule(admin, vm.validate_settings(rule_form()), clock.now())
    assert vm.ValueRule.select().count() == 0


def test_preview_counts_moves_names_movers_and_revenue_and_writes_nothing(shop, client, make_customer):
    rep, _m, admin, customer = shop
    small = make_customer(owner=rep)
    trade(customer, 100, 900000, paid=900000)
    trade(small, 100, 50000, paid=50000)
    vm.recompute_all()
    assert (vm.value_of(customer.id).tier, vm.value_of(small.id).tier) == ("strategic", "ordinary")
    before = (vm.ValueChange.select().count(), AuditEvent.select().count(), vm.ValueRule.select().count())
    result = vm.preview(vm.validate_settings(rule_form(sales_full="900000")))
    assert result["moves"] == {("strategic", "diamond"): 1}
    assert [m["id"] for m in result["movers"]] == [customer.id]
    assert result["before"]["strategic"] == (1, 900000) and result["after"]["diamond"] == (1, 900000)
    assert (vm.ValueChange.select().count(), AuditEvent.select().count(), vm.ValueRule.select().count()) == before
    client.login(admin)
    page = body(client.post("/admin/value-rules/preview", rule_form(sales_full="900000"), htmx=True))
    assert customer.name in page and small.name not in page
    assert page.count("tier-diamond") >= 2 and "→" in page  # the move, drawn with both tiers


def test_a_saved_rule_takes_effect_from_its_start(shop, client):
    *_, admin, customer = shop
    client.login(admin)
    start = clock.to_local(FROZEN + dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    r = client.post("/admin/value-rules", rule_form(sales_full="500000", effective_from=start, note="放宽门槛"))
    assert r.status_code == 303
    assert vm.in_force().version == 0 and vm.in_force(FROZEN + dt.timedelta(days=2)).version == 1
    assert vm.latest()["sales_full"] == 500000
    r = client.post("/admin/value-rules", rule_form(effective_from="2020-01-01T00:00"))
    assert r.status_code == 200 and "form-error" in body(r) and vm.ValueRule.select().count() == 1


# ---- the pages -------------------------------------------------------------------------------------------

def test_pyramid_list_filter_and_card(shop, client, make_user, make_team, make_customer):
    rep, manager, admin, customer = shop
    trade(customer, 100, 900000, paid=900000)
    elsewhere = make_customer(owner=make_user("sales", make_team()))
    trade(elsewhere, 100, 900000, paid=900000)
    released = make_customer(owner=None, stage="signed")  # in a pool: no team
    trade(released, 100, 50000, paid=50000)
    vm.recompute_all()
    client.login(admin)
    assert client.get("/value/pyramid").status_code == 200
    assert client.get("/value/pyramid?by=region").status_code == 200
    client.login(manager)
    page = body(client.get("/value/pyramid"))
    assert "<svg" in page and "<polygon" in page
    assert f"tier=strategic" in page
    data = vm.pyramid(manager)
    assert data["tiers"]["strategic"]["count"] == 1 and data["tiers"]["strategic"]["share"] == 100.0
    assert vm.pyramid(admin)["tiers"]["strategic"]["count"] == 2
    listing = body(client.get("/customers?tier=strategic&scope=all"))
    assert customer.name in listing and elsewhere.name not in listing
    assert customer.name not in body(client.get("/customers?tier=diamond&scope=all"))
    client.login(rep)
    assert client.get("/value/pyramid").status_code == 404
    card = body(client.get(f"/customers/{customer.id}"))
    assert 'id="value-card"' in card and "tier-strategic" in card
    assert client.get("/value/moves?from=strategic&to=diamond").status_code == 404
    client.login(manager)
    assert client.get("/value/moves?from=nope&to=diamond").status_code in (400, 409, 422)
    vm.ValueChange.create(customer=customer.id, at=FROZEN, from_tier="diamond", to_tier="strategic", rule_version=0)
    vm.ValueChange.create(customer=elsewhere.id, at=FROZEN, from_tier="diamond", to_tier="strategic", rule_version=0)
    moves = body(client.get("/value/moves?from=diamond&to=strategic"))
    assert f"/customers/{customer.id}" in moves and elsewhere.name not in moves


# ---- tiers drive the business: SLA, release periods, capacity ----------------------------------------------

def test_a_diamond_customers_ticket_gets_the_tiers_sla(shop, make_user, make_customer, en_client):
    from models import service as sv

    rep, _m, admin, customer = shop
    settings = rule(sales_full=1)
    settings["sla"] = {"diamond": {p: [1, 2] for p in vm.SLA_PRIORITIES}}
    use(settings, admin)
    trade(customer, 100, 1000, paid=1000)
    assert tier_of(customer).tier == "diamond"
    agent = make_user("service")
    ticket = sv.log_ticket(agent, {"customer_id": str(customer.id), "category": "fault", "priority": "urgent",
                                   "description": "整烫机无法加热，产线停了"})
    assert ticket.level == "diamond"
    assert sv.sla_targets(ticket.level, "urgent") == (1, 2)
    en_client.login(agent)
    page = body(en_client.get(f"/service/tickets/{ticket.id}"))
    assert "<dd>Diamond</dd>" in page  # the service level shown on the ticket is the tier
    assert ticket.respond_by == FROZEN + dt.timedelta(hours=1)  # Tuesday 10:00 + 1 working hour
    plain = make_customer(owner=rep)
    other = sv.log_ticket(agent, {"customer_id": str(plain.id), "category": "fault", "priority": "urgent",
                                  "description": "整烫机无法加热，产线停了"})
    assert other.level == sv.service_level(plain) in ("key", "standard")
    assert sv.service_level(customer) in ("key", "standard")  # care plans still ask the service level
    assert sv.sla_targets("strategic", "urgent") == sv.sla_targets("key", "urgent")  # a tier without its own SLA


def test_release_periods_per_tier_and_capacity_exemption(shop, make_customer):
    from models import pools
    from models import rules as pool_rules

    rep, _m, admin, customer = shop
    settings = pool_rules.validate_settings({"tier_strategic_release_no_followup_days": "45",
                                             "capacity_exempt_tiers": ["diamond", "strategic"]})
    pool_rules.save_version(admin, settings, clock.now())
    use(rule(), admin)
    trade(customer, 100, 700, paid=700)
    plain = make_customer(owner=rep)
    used = pools.capacity(rep)["used"]
    assert tier_of(customer).tier == "strategic"
    current = Customer.get_by_id(customer.id)
    at, rule_name, inputs = pools.release_plan(current, pool_rules.in_force(), clock.now())
    assert (rule_name, inputs["days"]) == ("no_followup", 45)
    assert current.release_at == at  # moved when the tier changed
    assert pools.release_plan(Customer.get_by_id(plain.id), pool_rules.in_force(), clock.now())[2]["days"] == 15
    assert pools.capacity(rep)["used"] == used - 1


def test_bad_tier_periods_are_refused():
    from models import rules as pool_rules

    with pytest.raises(ValidationError) as exc:
        pool_rules.validate_settings({"tier_diamond_release_no_followup_days": "0"})
    assert "tier_diamond_release_no_followup_days" in exc.value.errors
    assert pool_rules.validate_settings({"tier_nonsense_release_no_followup_days": "5"})["tiers"] == {}


def test_sla_priorities_are_the_services():
    from models import service as sv

    assert vm.SLA_PRIORITIES == sv.PRIORITIES


def test_workbench_card_counts_tiers_and_names_who_fell(shop, client):
    rep, manager, admin, customer = shop
    use(rule(), admin)
    order = trade(customer, 100, 900, paid=900)
    assert tier_of(customer).tier == "diamond"
    Payment.delete().where(Payment.order == order).execute()
    assert tier_of(customer).tier == "problem"
    for user in (rep, manager):
        client.login(user)
        page = body(client.get("/"))
        assert 'id="value-panel"' in page and customer.name in page
    assert vm.workbench(rep)["counts"] == {"problem": 1}
    client.login(admin)
    assert 'id="value-panel"' not in body(client.get("/"))


# ---- strategies per tier ---------------------------------------------------------------------------------

def strategy(admin, tier="diamond", every="90", **over):
    return vm.save_strategy(admin, {"tier": tier, "title_zh": "高层每季度拜访", "title_en": "Senior visit each quarter",
                                    "every_days": every, **over})


@pytest.mark.parametrize("over,field", [({"tier": "gold"}, "tier"), ({"title_zh": " "}, "title_zh"),
                                        ({"title_en": "x" * 101}, "title_en"), ({"every_days": "0"}, "every_days"),
                                        ({"every_days": "731"}, "every_days"), ({"every_days": "季度"}, "every_days")])
def test_bad_strategies_are_refused_and_nothing_is_saved(shop, over, field):
    *_, admin, _c = shop
    with pytest.raises(ValidationError) as exc:
        strategy(admin, **over)
    assert field in exc.value.errors and vm.TierStrategy.select().count() == 0


def test_a_periodic_strategy_falls_due_every_n_days_from_the_last_time(shop, client, en_client):
    rep, manager, admin, customer = shop
    use(rule(), admin)
    visit = strategy(admin, every="90")
    once = strategy(admin, every="", title_zh="指定专属工程师", title_en="Dedicated engineer")
    strategy(admin, tier="ordinary", title_zh="季度电话回访", title_en="Quarterly call")
    trade(customer, 100, 900, paid=900)
    assert tier_of(customer).tier == "diamond"
    since = vm.value_of(customer.id).tier_since
    items = {s.id: (done, due, overdue) for s, done, due, overdue in vm.checklist(Customer.get_by_id(customer.id))}
    assert set(items) == {visit.id, once.id}  # the ordinary tier's strategy is not on a diamond file
    assert items[visit.id] == (None, since + dt.timedelta(days=90), False)
    assert items[once.id] == (None, since + dt.timedelta(days=30), False)  # a one-off: within 30 days
    at_due = since + dt.timedelta(days=90)
    try:
        clock.freeze(since + dt.timedelta(days=30))
        assert vm.overdue_strategies(rep) == []
        clock.freeze(since + dt.timedelta(days=30, seconds=1))
        assert [s.id for _, s, _ in vm.overdue_strategies(rep)] == [once.id]
        clock.freeze(at_due)
        assert [o for *_, o in vm.checklist(Customer.get_by_id(customer.id))] == [False, True]
        assert [(c.id, s.id) for c, s, _ in vm.overdue_strategies(rep)] == [(customer.id, once.id)]
        clock.freeze(at_due + dt.timedelta(seconds=1))
        assert {s.id for _, s, _ in vm.overdue_strategies(rep)} == {visit.id, once.id}
        assert {s.id for _, s, _ in vm.overdue_strategies(manager)} == {visit.id, once.id}  # the team's
        en_client.login(rep)
        assert "Tier strategies overdue" in body(en_client.get("/"))
        r = en_client.post(f"/customers/{customer.id}/value/strategies/{visit.id}", {"note": "王总亲自拜访"}, htmx=True)
        assert r.status_code == 200 and "王总亲自拜访" in body(r)
        done = vm.StrategyDone.get()
        assert (done.done_by_id, done.done_at, done.note) == (rep.id, at_due + dt.timedelta(seconds=1), "王总亲自拜访")
        assert [s.id for _, s, _ in vm.overdue_strategies(rep)] == [once.id]
        items = {s.id: (due, overdue) for s, _d, due, overdue in vm.checklist(Customer.get_by_id(customer.id))}
        assert items[visit.id] == (at_due + dt.timedelta(days=90, seconds=1), False)
        page = body(en_client.get(f"/customers/{customer.id}?tab=timeline"))
        assert "Tier strategy carried out: Senior visit each quarter (王总亲自拜访)" in page
    finally:
        clock.freeze(FROZEN)


def test_only_the_tiers_active_strategies_can_be_ticked_off(shop):
    rep, _m, admin, customer = shop
    use(rule(), admin)
    other_tier = strategy(admin, tier="problem")
    trade(customer, 100, 900, paid=900)
    tier_of(customer)
    from models.errors import DomainError

    with pytest.raises(DomainError):
        vm.mark_strategy_done(rep, Customer.get_by_id(customer.id), other_tier.id)
    off = strategy(admin, active="0")
    with pytest.raises(DomainError):
        vm.mark_strategy_done(rep, Customer.get_by_id(customer.id), off.id)
    with pytest.raises(ValidationError):
        vm.mark_strategy_done(rep, Customer.get_by_id(customer.id), strategy(admin).id, "长" * 201)
    assert vm.StrategyDone.select().count() == 0
