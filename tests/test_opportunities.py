"""Opportunities (domain §3): stages with default probabilities, overrides with a reason, weighted
value everywhere amounts are summed, stage history (dwell, conversion), won/lost rules, bad input,
owners following transfers, the board, the list, the forecast and the stage settings."""
import datetime as dt
import io
from decimal import Decimal

import pytest
from playhouse.test_utils import count_queries

from models import clock, hooks
from models import opportunities as opps
from models.audit import AuditEvent
from models.errors import NotFound, ValidationError
from models.fields import parse_yuan
from models.opportunities import Opportunity, OpportunityStageChange
from tests.test_permissions import db_state

DAY = dt.timedelta(days=1)


@pytest.fixture
def rep(make_user, make_team):
    team = make_team("华东一组")
    return make_user("sales", team)


@pytest.fixture
def customer(make_customer, rep):
    return make_customer(owner=rep, business_model="project")


def opp(actor, customer, **data):
    values = {"name": "ERP 项目", "amount": "1000000", "expected_close": "2026-12-20", **data}
    return opps.create_opportunity(actor, customer, values)


def errors_of(exc):
    return {field: [m % p if p else m for m, p in problems] for field, problems in exc.value.errors.items()}


# ---- creating, stages, probability --------------------------------------------------------------

def test_a_new_opportunity_takes_the_stage_default_and_records_its_first_stage(rep, customer):
    o = opp(rep, customer, stage="presentation")
    assert (o.stage, o.probability, o.probability_reason) == ("presentation", 50, "")
    assert o.owner_id == rep.id and o.team_id == rep.team_id  # defaults to the customer's owner
    assert o.weighted == Decimal("500000.00")
    change = OpportunityStageChange.get(OpportunityStageChange.opportunity == o.id)
    assert (change.from_stage, change.to_stage, change.at) == (None, "presentation", clock.now())
    assert AuditEvent.select().where(AuditEvent.kind == "opportunity.created").count() == 1


def test_moving_a_stage_sets_its_default_probability_and_the_time_spent(rep, customer):
    o = opp(rep, customer)
    assert o.probability == 10
    clock.freeze(clock.now() + 3 * DAY)
    opps.move_opportunity(rep, o, "approach")
    o = Opportunity.get_by_id(o.id)
    assert (o.stage, o.probability, o.weighted) == ("approach", 30, Decimal("300000.00"))
    last = OpportunityStageChange.select().where(OpportunityStageChange.opportunity == o.id).order_by(
        OpportunityStageChange.id.desc()).first()
    assert (last.from_stage, last.to_stage, last.dwell_seconds) == ("prospecting", "approach", 3 * 86400)


def test_the_rep_may_override_the_probability_only_with_a_reason_which_is_kept(rep, customer):
    o = opp(rep, customer, stage="final")  # 80 %
    before = db_state()
    with pytest.raises(ValidationError) as exc:
        opps.set_probability(rep, o, "20", "")
    assert "probability_reason" in exc.value.errors
    assert db_state() == before
    opps.set_probability(rep, o, "20", "方案演示失败，客户在接触其他竞争对手")
    o = Opportunity.get_by_id(o.id)
    assert (o.probability, o.weighted, o.probability_reason) == (20, Decimal("200000.00"), "方案演示失败，客户在接触其他竞争对手")
    # Moving on resets to the new stage's default; the override is not carried over.
    opps.move_opportunity(rep, o, "objections")
    assert Opportunity.get_by_id(o.id).probability_reason == ""
    # An override while moving needs its reason too.
    with pytest.raises(ValidationError) as exc:
        opps.move_opportunity(rep, Opportunity.get_by_id(o.id), "final", {"probability": "90"})
    assert "probability_reason" in exc.value.errors


def test_the_articles_example_reads_right(rep, customer):
    """Project A 100万 at 80 % = 80万, falling to 20万 when the demo fails; project B 30万 rising to 90 % = 27万."""
    a = opp(rep, customer, name="A 项目", amount="100万", stage="final")
    b = opp(rep, customer, name="B 项目", amount="30万", stage="final")
    assert (a.weighted, b.weighted) == (Decimal("800000.00"), Decimal("240000.00"))
    opps.set_probability(rep, a, "20", "方案演示失败")
    opps.set_probability(rep, b, "90", "方案演示很成功")
    a, b = Opportunity.get_by_id(a.id), Opportunity.get_by_id(b.id)
    assert (a.weighted, b.weighted) == (Decimal("200000.00"), Decimal("270000.00"))
    board = opps.board(rep, opps.Filters())
    assert board["totals"]["final"]["amount"] == Decimal("1300000.00")
    assert board["totals"]["final"]["weighted"] == Decimal("470000.00")
    assert board["pipeline"]["weighted"] == Decimal("470000.00")


def test_won_requires_an_amount_and_lost_a_reason(rep, customer):
    o = opp(rep, customer, amount="", stage="final")
    assert o.amount is None and o.weighted == 0
    before = db_state()
    with pytest.raises(ValidationError) as exc:
        opps.move_opportunity(rep, o, "won")
    assert "amount" in exc.value.errors
    with pytest.raises(ValidationError) as exc:
        opps.move_opportunity(rep, o, "lost", {"lost_reason": "  "})
    assert errors_of(exc)["lost_reason"] == ["Say why the opportunity was lost."]
    assert db_state() == before
    opps.move_opportunity(rep, o, "lost", {"lost_reason": "客户选择了国外系统"})
    o = Opportunity.get_by_id(o.id)
    assert (o.stage, o.probability, o.lost_reason, o.closed_at) == ("lost", 0, "客户选择了国外系统", clock.now())
    # The amount may come with the move to won.
    with pytest.raises(ValidationError) as exc:
        opps.move_opportunity(rep, Opportunity.get_by_id(opp(rep, customer, name="无金额", amount="").id), "won",
                              {"amount": "12abc"})
    assert "amount" in exc.value.errors
    n = opp(rep, customer, name="补金额", amount="")
    opps.move_opportunity(rep, n, "won", {"amount": "8万"})
    assert Opportunity.get_by_id(n.id).weighted == Decimal("80000.00")
    w = opp(rep, customer, amount="50万", stage="final")
    opps.move_opportunity(rep, w, "won")
    w = Opportunity.get_by_id(w.id)
    assert (w.probability, w.weighted) == (100, Decimal("500000.00"))
    with pytest.raises(ValidationError):
        opps.update_opportunity(rep, w, {"name": w.name, "amount": "", "expected_close": "2026-12-20"})


@pytest.mark.parametrize("field,value,message", [
    ("probability", "140", "A probability is between 0 and 100 %; 140 % is not possible."),
    ("probability", "-5", "Enter a whole number of per cent between 0 and 100."),
    ("probability", "9" * 40, "Enter a whole number of per cent between 0 and 100."),
    ("expected_close", "1900-01-01", "Enter an expected close date between 2000-01-01 and 2036-12-31."),
    ("expected_close", "9999-12-31", "Enter an expected close date between 2000-01-01 and 2036-12-31."),
    ("expected_close", "next week", "Enter a date as YYYY-MM-DD."),
    ("amount", "12abc", "Enter an amount in yuan: digits only, e.g. 300000 or 30万."),
    ("amount", "1.000.00", "Use one decimal point, e.g. 300000.50 (thousands may be separated by commas)."),
    ("amount", "1,2,3", "Use one decimal point, e.g. 300000.50 (thousands may be separated by commas)."),
    ("amount", "9" * 30, "That amount is too large."),
    ("amount", "10.123", "At most two decimals (fen)."),
    ("name", "", "Required."),
    ("name", "长" * 101, "At most 100 characters."),
])
def test_bad_input_gets_a_clear_message_and_writes_nothing(rep, customer, field, value, message):
    data = {"name": "新项目", "amount": "300000", "expected_close": "2026-12-20", "probability_reason": "理由", field: value}
    before = db_state()
    with pytest.raises(ValidationError) as exc:
        opps.create_opportunity(rep, customer, data)
    assert message in errors_of(exc)[field]
    assert db_state() == before


@pytest.mark.parametrize("raw,expected", [
    ("300000", "300000.00"), ("300,000.50", "300000.50"), ("¥30万", "300000.00"), ("1.5万", "15000.00"),
    ("３０００", "3000.00"), ("1,234,567", "1234567.00"), ("2亿", "200000000.00"),
])
def test_amounts_as_people_type_them(raw, expected):
    assert parse_yuan(raw) == Decimal(expected)


def test_stage_statistics_give_conversion_and_average_dwell(rep, customer):
    a, b = opp(rep, customer, name="甲"), opp(rep, customer, name="乙")
    clock.freeze(clock.now() + 2 * DAY)
    opps.move_opportunity(rep, a, "planning")
    clock.freeze(clock.now() + 4 * DAY)
    opps.move_opportunity(rep, b, "lost", {"lost_reason": "预算取消"})
    stats = opps.stage_statistics(rep, opps.Filters())
    first = stats["stages"][0]
    assert first["stage"] == "prospecting" and first["entered"] == 2 and first["left"] == 2
    assert first["conversion"] == 50  # one of the two went on to a later stage
    assert first["dwell_days"] == 4.0  # (2 + 6) / 2
    assert (stats["won"], stats["lost"], stats["win_rate"]) == (0, 1, 0)


# ---- owners ---------------------------------------------------------------------------------------

def test_open_opportunities_follow_a_transferred_customer(rep, customer, make_user):
    from models.customers import set_owner
    from models.users import User

    o_open, o_lost = opp(rep, customer, name="开"), opp(rep, customer, name="关")
    opps.move_opportunity(rep, o_lost, "lost", {"lost_reason": "价格"})
    other = make_user("sales", rep.team)
    admin = User.get(User.username == "factory-admin")
    with_hook = set_owner(admin, customer, other)
    hooks.fire("owner_changed", admin, [customer.id], rep.id, other.id, "调岗")
    assert Opportunity.get_by_id(o_open.id).owner_id == other.id
    assert Opportunity.get_by_id(o_lost.id).owner_id == rep.id  # closed ones keep their history
    assert with_hook.owner_id == other.id
    assert AuditEvent.select().where(AuditEvent.kind == "opportunity.owner_followed").count() == 1


def test_a_rep_cannot_touch_another_reps_opportunity(rep, customer, make_user):
    o = opp(rep, customer)
    stranger = make_user("sales")
    with pytest.raises(NotFound):
        opps.move_opportunity(stranger, o, "planning")
    with pytest.raises(NotFound):
        opps.create_opportunity(stranger, customer, {"name": "x", "expected_close": "2026-12-01"})


# ---- board, list, forecast over HTTP ------------------------------------------------------------

def test_board_moves_by_button_and_answers_with_new_totals(client, rep, customer):
    o = opp(rep, customer, amount="100000")
    client.login(rep)
    body = client.get("/opportunities").get_data(as_text=True)
    assert 'id="weighted-prospecting"' in body and "10,000.00" in body
    r = client.post(f"/opportunities/{o.id}/move", {"stage": "planning", "from": "board"}, htmx=True)
    assert r.status_code == 200 and "opportunityMoved" in r.headers["HX-Trigger"]
    html = r.get_data(as_text=True)
    assert html.startswith('<div id="board"')
    assert 'id="weighted-planning">¥20,000.00' in html


def test_board_move_to_lost_without_reason_answers_the_dialog_form(client, rep, customer):
    o = opp(rep, customer)
    client.login(rep)
    before = db_state()
    r = client.post(f"/opportunities/{o.id}/move", {"stage": "lost", "from": "board"}, htmx=True)
    assert r.status_code == 200 and r.headers["HX-Retarget"] == "#move-dialog-body"
    assert "Say why the opportunity was lost." in r.get_data(as_text=True)
    assert db_state() == before


def test_probability_override_over_http_shows_the_reason(client, rep, customer):
    o = opp(rep, customer, stage="final")
    client.login(rep)
    r = client.post(f"/opportunities/{o.id}/probability", {"probability": "140", "probability_reason": "x"}, htmx=True)
    assert "140 % is not possible" in r.get_data(as_text=True)
    r = client.post(f"/opportunities/{o.id}/probability", {"probability": "20", "probability_reason": "演示失败"}, htmx=True)
    assert r.status_code == 204
    page = client.get(f"/opportunities/{o.id}").get_data(as_text=True)
    assert "演示失败" in page and "¥200,000.00" in page


def test_list_pages_by_keyset_with_a_fixed_number_of_queries(client, rep, customer):
    for i in range(60):
        opp(rep, customer, name=f"项目{i:02d}", expected_close=(dt.date(2026, 12, 1) + i * DAY).isoformat())
    client.login(rep)
    client.get("/opportunities/list")  # warm the session
    with count_queries() as counter:
        first = client.get("/opportunities/list").get_data(as_text=True)
    assert first.count('href="/opportunities/') >= 50 and "项目49" in first and "项目50" not in first
    assert counter.count <= 8, counter.count
    cursor = first.split("after=")[1].split("&")[0].split('"')[0]
    more = client.get(f"/opportunities/list?after={cursor}", htmx=True).get_data(as_text=True)
    assert "项目50" in more and "项目59" in more and "项目00" not in more


def test_forecast_sums_weighted_value_by_close_date(client, rep, customer, make_user):
    manager = make_user("manager", rep.team)
    opp(rep, customer, amount="100000", stage="final", expected_close="2026-12-10")   # next month: 80,000
    opp(rep, customer, amount="200000", stage="presentation", expected_close="2027-02-01")  # next quarter: 100,000
    opp(rep, customer, amount="500000", stage="final", expected_close="2027-06-01")   # outside
    fc = opps.forecast(manager)
    assert fc["total"]["month"]["weighted"] == Decimal("80000.00")
    assert fc["total"]["quarter"]["weighted"] == Decimal("100000.00")
    assert fc["reps"][0]["owner_id"] == rep.id
    client.login(manager)
    body = client.get("/opportunities/forecast").get_data(as_text=True)
    assert 'id="forecast-chart"' in body and "¥80,000.00" in body and "¥100,000.00" in body


def test_stage_settings_change_the_default_probability_and_are_audited(client, make_user, rep, customer):
    admin = make_user("admin")
    client.login(admin)
    page = client.get("/opportunities/settings").get_data(as_text=True)
    assert 'name="prob-project-final" value="80"' in page
    form = {f"prob-project-{s}": str(p) for s, p in opps.DEFAULT_PROBABILITY.items() if s in opps.OPEN_STAGES}
    before = db_state()
    bad = client.post("/opportunities/settings", {**form, "prob-project-final": "140"}).get_data(as_text=True)
    assert "140 % is not possible" in bad and db_state() == before
    client.post("/opportunities/settings", {**form, "prob-project-final": "75"})
    assert opps.default_probability("project", "final") == 75
    assert opps.default_probability("consumer", "final") == 80
    assert AuditEvent.select().where(AuditEvent.kind == "opportunity.settings_saved").count() == 1
    o = opp(rep, customer, stage="final")
    assert o.probability == 75


def test_a_business_model_names_its_stages_and_states_entry_criteria(client, make_user, rep, customer):
    """Stages are configured per business model: own names per language and entry criteria, shown on the
    opportunity and the customer's tab of that model only; too long a name is refused, nothing saved."""
    admin = make_user("admin")
    client.login(admin)
    named = {"name_zh-project-presentation": "方案汇报", "name_en-project-presentation": "Solution pitch",
             "criteria-project-presentation": "已确认预算和决策人，客户同意安排汇报"}
    before = db_state()
    bad = client.post("/opportunities/settings", {**named, "name_zh-project-presentation": "长" * 31})
    assert "At most 30 characters." in bad.get_data(as_text=True) and db_state() == before
    client.post("/opportunities/settings", named)
    config = opps.stage_settings("project")["presentation"]
    assert (config.name_zh, config.name_en, config.probability) == ("方案汇报", "Solution pitch", 50)
    assert opps.stage_settings("consumer")["presentation"].name_zh == ""
    page = client.get("/opportunities/settings").get_data(as_text=True)
    assert 'name="name_zh-project-presentation" value="方案汇报"' in page
    o = opp(rep, customer, stage="presentation")
    client.login(rep)
    body = client.get(f"/opportunities/{o.id}").get_data(as_text=True)  # the rep reads English
    assert "Solution pitch" in body and "已确认预算和决策人" in body
    assert "Solution pitch" in client.get(f"/customers/{customer.id}?tab=opportunities", htmx=True).get_data(as_text=True)
    audit_row = AuditEvent.select().where(AuditEvent.kind == "opportunity.settings_saved").get()
    assert "project.presentation" in audit_row.data["changes"]


def test_the_360_tab_lists_the_customers_opportunities_and_creates_one(client, rep, customer):
    client.login(rep)
    body = client.get(f"/customers/{customer.id}?tab=opportunities").get_data(as_text=True)
    assert "No opportunities yet." in body
    r = client.post(f"/customers/{customer.id}/opportunities/new",
                    {"name": "校服项目", "amount": "1.5万", "expected_close": "2026-12-31", "stage": "approach"}, htmx=True)
    assert r.headers.get("HX-Retarget") == "#tab-body"
    assert "校服项目" in r.get_data(as_text=True) and "¥4,500.00" in r.get_data(as_text=True)
    bad = client.post(f"/customers/{customer.id}/opportunities/new",
                      {"name": "坏", "amount": "1.000.00", "expected_close": "1900-01-01"}, htmx=True)
    html = bad.get_data(as_text=True)
    assert "Use one decimal point" in html and "between 2000-01-01" in html
    timeline = client.get(f"/customers/{customer.id}?tab=timeline").get_data(as_text=True)
    assert "opened the opportunity 校服项目" in timeline


def test_summary_tables_kept_by_the_verbs_equal_a_full_recount(rep, customer, make_user):
    """The board totals, forecast and statistics read PipelineTotal / StageFlow: every verb keeps them exact."""
    from models.customers import set_owner
    from models.opportunities import PipelineTotal, StageFlow
    from models.users import User

    a, b, c = opp(rep, customer, name="甲", amount="12345.67"), opp(rep, customer, name="乙", stage="final"), \
        opp(rep, customer, name="丙", amount="")
    opps.move_opportunity(rep, a, "approach")
    opps.set_probability(rep, b, "35", "客户预算缩减")
    opps.update_opportunity(rep, c, {"name": "丙", "amount": "99.99", "expected_close": "2027-03-03"})
    opps.move_opportunity(rep, Opportunity.get_by_id(b.id), "lost", {"lost_reason": "价格"})
    other = make_user("sales", rep.team)
    admin = User.get(User.username == "factory-admin")
    set_owner(admin, customer, other)
    hooks.fire("owner_changed", admin, [customer.id], rep.id, other.id, "")

    def state():
        totals = sorted((t.owner, t.team, t.stage, str(t.month), t.count, t.amount_fen, t.weighted_fen)
                        for t in PipelineTotal.select() if t.count)
        flows = sorted((f.owner, f.team, f.from_stage, f.to_stage, f.count, f.dwell_seconds) for f in StageFlow.select())
        return totals, flows

    kept = state()
    opps.rebuild_summaries()
    assert state() == kept
    assert opps.board(other, opps.Filters())["pipeline"]["weighted"] == \
        Opportunity.get_by_id(a.id).weighted + Opportunity.get_by_id(c.id).weighted


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_the_boards_fast_money_reads_like_the_money_filter(app, locale):
    from flask_babel import force_locale

    from views.i18n import fmt_money
    from views.opportunities import yuan

    with app.test_request_context(), force_locale(locale):
        for value in (Decimal("0"), Decimal("1234.5"), Decimal("1000000"), Decimal("999999999999.99"), Decimal("-5.25")):
            assert yuan(value) == fmt_money(value)


def test_a_merged_duplicates_opportunities_move_to_the_survivor(rep, customer, make_customer, make_user):
    from models.users import User

    other = make_user("sales", rep.team)
    duplicate = make_customer(owner=other, business_model="project")
    o = opp(other, duplicate, name="重复客户的商机")
    admin = User.get(User.username == "factory-admin")
    hooks.fire("customer_merged", admin, duplicate.id, customer.id)
    o = Opportunity.get_by_id(o.id)
    assert (o.customer_id, o.owner_id) == (customer.id, rep.id)
    assert AuditEvent.select().where(AuditEvent.kind == "opportunity.merged").count() == 1


JUNK = ["", "x" * 10_000, "😀🚀", "a\x00b", str(2**64), "-1", "1900-01-01", "9999-12-31", "12abc", "1.2.3", "<script>"]


def test_no_junk_gives_a_server_error(client, rep, customer, make_user):
    """Every deal route with junk in every field (and ids beyond 2^63) answers, never a 500."""
    o = opp(rep, customer)
    from models.customers import save_contact
    contact = save_contact(rep, customer, {"name": "某人"})
    client.login(rep)
    fields = ["name", "amount", "expected_close", "stage", "probability", "probability_reason", "lost_reason",
              "product_lines", "next_step", "competitors", "owner_id", "from", "owner", "team", "month",
              "influence", "attitude", "relationship", "reports_to_id", "decision_role", "title"]
    posts = [f"/opportunities/{o.id}/edit", f"/opportunities/{o.id}/move", f"/opportunities/{o.id}/probability",
             f"/customers/{customer.id}/opportunities/new", f"/customers/{customer.id}/tree/nodes/new",
             f"/customers/{customer.id}/tree/nodes/{contact.id}/edit", f"/customers/{customer.id}/tree/nodes/{contact.id}/move"]
    for junk in JUNK:
        for url in posts:
            for htmx in (False, True):
                r = client.post(url, {f: junk for f in fields}, htmx=htmx)
                assert r.status_code < 500, (url, junk[:20], r.status_code)
        for url in ("/opportunities", "/opportunities/list", "/opportunities/stats", "/opportunities/forecast"):
            r = client.get(url, query_string={"owner": junk, "team": junk, "month": junk, "after": f"2026-01-01_{junk}",
                                              "stage": junk, "status": junk})
            assert r.status_code < 500, (url, junk[:20], r.status_code)
    assert client.get(f"/opportunities/{2**64}").status_code == 404
    assert client.get(f"/customers/{customer.id}/tree/nodes/new?reports_to={2**64}").status_code < 500


def test_the_workbench_shows_the_pipeline_and_what_is_past_its_close_date(client, rep, customer):
    opp(rep, customer, name="过期商机", amount="100000", stage="final", expected_close="2026-10-15")
    opp(rep, customer, name="本月商机", amount="200000", stage="presentation", expected_close="2026-11-30")
    client.login(rep)
    body = client.get("/").get_data(as_text=True)
    assert 'id="wb-pipeline"' in body and "过期商机" in body and "本月商机" not in body
    assert "¥180,000.00" in body  # 80,000 + 100,000 weighted
    assert "¥100,000.00" in body  # closing this month


def test_documents_attach_to_an_opportunity_from_its_page(client, rep, customer, app, tmp_path):
    """The opportunity page loads its documents; an upload without htmx comes back to that page."""
    o = opp(rep, customer, name="机房扩容")
    client.login(rep)
    page = client.get(f"/opportunities/{o.id}").get_data(as_text=True)
    assert f'hx-get="/opportunities/{o.id}/documents"' in page
    assert client.get(f"/opportunities/{o.id}/documents", htmx=True).status_code == 200
    r = client.post(f"/opportunities/{o.id}/documents",
                    {"title": "报价单", "kind": "quotation",
                     "file": (io.BytesIO(b"%PDF-1.4\n%%EOF\n"), "报价.pdf")},
                    content_type="multipart/form-data")
    assert r.status_code in (302, 303) and f"/opportunities/{o.id}" in r.headers["Location"]
    listed = client.get(f"/opportunities/{o.id}/documents", htmx=True).get_data(as_text=True)
    assert "报价单" in listed


def test_open_opportunities_follow_the_customer_through_the_pool(rep, customer, make_user):
    """Released to the pool, open opportunities have no owner; the rep who claims (or is assigned) the
    customer takes them over."""
    from models import pools
    from models.customers import Customer
    from models.users import User

    o = opp(rep, customer, name="随客户走")
    pools.release_customer(rep, customer, "客户不再采购，交回公海")
    assert Opportunity.get_by_id(o.id).owner_id is None
    admin = User.get(User.username == "factory-admin")
    colleague = make_user("sales", rep.team)
    later = clock.now() + dt.timedelta(days=8)  # after the freeze and the team's cooling-off
    pools.assign_customer(admin, Customer.get_by_id(customer.id), colleague, "他熟悉这个行业", now=later)
    assert Opportunity.get_by_id(o.id).owner_id == colleague.id
