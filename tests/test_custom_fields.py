"""Custom profile fields end to end (issue 13 point 2): the admin page, typed values at their boundaries,
required per business model, completeness kept in step, the list filter and the inline checks."""
import re
from decimal import Decimal

import pytest

import models
from models import settings
from models.customers import (CustomField, CustomValue, Customer, compute_completeness, custom_values,
                              update_customer)
from models import listing
from models.listing import Filters, filtered
from models.settings import CompletenessJob, save_custom_field, set_custom_field_active
from tests.test_customers import customer_form
from tests.conftest import sqlite_only


def body(r):
    return r.get_data(as_text=True)


def counts():
    return {t: models.db.execute_sql(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0]
            for t in ("custom_field", "custom_value", "audit_event", "completeness_job", "customer")}


@pytest.fixture
def admin(make_user):
    return make_user("admin")


@pytest.fixture
def admin_client(en_client, admin):
    en_client.login(admin)
    return en_client


def define(admin, key, kind="text", **over):
    data = {"key": key, "label_zh": key + "中", "label_en": key.title(), "kind": kind, **over}
    return save_custom_field(admin, data)


# ---- the admin page -------------------------------------------------------------------------------

def test_new_field_form_has_a_named_enabled_key_input_and_creates_through_the_form(admin_client):
    page = body(admin_client.get("/admin/fields/new"))
    key_input = re.search(r"<input[^>]*\bid=\"key\"[^>]*>", page).group(0)
    assert 'name="key"' in key_input and "disabled" not in key_input
    for kind in ("text", "number", "date", "choice", "yes_no"):
        assert f'value="{kind}"' in page
    assert page.count('name="business_models"') == 4
    r = admin_client.post("/admin/fields/new", data={
        "key": "main_fabric", "label_zh": "主营面料", "label_en": "Main fabric", "kind": "choice",
        "choices": "羊毛\n牛仔布, 棉", "business_models": ["industrial", "key_account"], "required": "y",
        "weight": "10", "position": "2"})
    assert r.status_code == 303 and r.location.endswith("/admin/fields")
    f = CustomField.get(CustomField.key == "main_fabric")
    assert (f.kind, f.choice_list(), f.model_list(), f.required, f.weight, f.active) == (
        "choice", ["羊毛", "牛仔布", "棉"], ["industrial", "key_account"], True, 10, True)
    listing = body(admin_client.get("/admin/fields"))
    assert "main_fabric" in listing and "Industrial goods" in listing
    edit = body(admin_client.get(f"/admin/fields/{f.id}/edit"))
    assert 'name="key"' not in edit and 'value="main_fabric" disabled' in edit
    assert 'value="industrial" checked' in edit and "羊毛\n牛仔布\n棉" in edit


@pytest.mark.parametrize("data, field, message", [
    ({"key": "1abc"}, "key", "start with a letter"),
    ({"key": "Bad Key"}, "key", "start with a letter"),
    ({"key": "a"}, "key", "start with a letter"),
    ({"key": "taken"}, "key", "This key is taken."),
    ({"kind": "choice", "choices": ""}, "choices", "List the options, one per line."),
    ({"kind": "choice", "choices": "棉\n麻\n棉"}, "choices", "Each option once: 棉 is listed twice."),
    ({"weight": "-1"}, "weight", "A whole number from 0 to 50."),
    ({"weight": "51"}, "weight", "A whole number from 0 to 50."),
    ({"weight": "99999999999999999999999"}, "weight", "A whole number from 0 to 50."),
    ({"weight": "abc"}, "weight", "A whole number from 0 to 50."),
    ({"label_zh": ""}, "label_zh", "Required."),
    ({"kind": "colour"}, "kind", "Choose one of the options."),
    ({"business_models": ["retail"]}, "business_models", "Choose one of the options."),
])
def test_bad_field_definitions_say_why_and_save_nothing(admin_client, admin, data, field, message):
    define(admin, "taken")
    before = counts()
    form = {"key": "annual_capacity", "label_zh": "年产能", "label_en": "Annual capacity", "kind": "number",
            "weight": "5", **data}
    r = admin_client.post("/admin/fields/new", data=form, htmx=True)
    assert r.status_code == 200
    assert message in body(r) and "Nothing was saved" in body(r)
    assert counts() == before


def test_an_option_in_use_cannot_be_removed_and_kind_and_key_stay(admin_client, admin, make_customer):
    f = define(admin, "fabric", "choice", choices="棉,麻")
    customer = make_customer(custom_fabric="麻")
    r = admin_client.post(f"/admin/fields/{f.id}/edit", data={
        "label_zh": "面料", "label_en": "Fabric", "choices": "棉", "key": "hijack", "kind": "text"}, htmx=True)
    assert "“麻” is the value of 1 customer files" in body(r)
    r = admin_client.post(f"/admin/fields/{f.id}/edit", data={
        "label_zh": "面料", "label_en": "Fabric", "choices": "棉\n麻\n丝", "key": "hijack", "kind": "text"})
    assert r.status_code == 303
    f = CustomField.get_by_id(f.id)
    assert (f.key, f.kind, f.choice_list()) == ("fabric", "choice", ["棉", "麻", "丝"])
    assert custom_values([customer.id])[customer.id] == {"fabric": "麻"}


def test_deactivating_hides_the_field_keeps_its_values_and_reactivating_brings_them_back(
        admin_client, admin, make_customer, rep_client_factory):
    f = define(admin, "brand", weight="10")
    rep, rep_client = rep_client_factory()
    customer = make_customer(owner=rep, custom_brand="七匹狼")
    assert "七匹狼" in body(rep_client.get(f"/customers/{customer.id}"))
    r = admin_client.post(f"/admin/fields/{f.id}/active", data={"active": "0"})
    assert r.status_code == 303 and not CustomField.get_by_id(f.id).active
    page = body(rep_client.get(f"/customers/{customer.id}"))
    assert "七匹狼" not in page and "Brand" not in page
    assert "custom_brand" not in body(rep_client.get(f"/customers/{customer.id}/edit"))
    assert CustomValue.select().count() == 1
    admin_client.post(f"/admin/fields/{f.id}/active", data={"active": "1"})
    assert "七匹狼" in body(rep_client.get(f"/customers/{customer.id}"))


@pytest.fixture
def rep_client_factory(app, make_user, make_team):
    from tests.conftest import Client

    def make():
        rep = make_user("sales", team=make_team())
        client = Client(app)
        client.http.set_cookie("lang", "en")
        client.login(rep)
        return rep, client
    return make


# ---- typed values at their boundaries ----------------------------------------------------------------

CASES = {
    "number": [("1,200.50", "1200.5"), ("0", "0"), ("9999999999.99", "9999999999.99"), ("１２００", "1200"),
               ("abc", "Enter a number such as 1280.50."), ("-1", "Must not be negative."),
               ("10000000000", "That number is too large."), ("1.234", "At most two decimal places.")],
    "date": [("2100-12-31", "2100-12-31"), ("1900-01-01", "1900-01-01"), ("9999-99-99", "Enter a date as YYYY-MM-DD."),
             ("2101-01-01", "Enter a date between 1900 and 2100."), ("yesterday", "Enter a date as YYYY-MM-DD.")],
    "choice": [("麻", "麻"), ("丝", "Choose one of the options."), ("棉,麻", "Choose one of the options.")],
    "yes_no": [("1", "1"), ("0", "0"), ("maybe", "Choose one of the options."), ("yes", "Choose one of the options.")],
    "text": [("x" * 200, "x" * 200), ("  雅戈尔  ", "雅戈尔"), ("x" * 201, "At most 200 characters.")],
}


@pytest.mark.parametrize("kind", list(CASES))
def test_each_kind_at_its_boundary_through_the_form(en_client, make_user, make_team, make_customer, subtests, kind):
    admin = make_user("admin")
    define(admin, "fx", kind, choices="棉,麻")
    rep = make_user("sales", team=make_team())
    en_client.login(rep)
    customer = make_customer(owner=rep, name="边界测试服饰有限公司")
    for raw, expected in CASES[kind]:
        with subtests.test(raw=raw[:20]):
            CustomValue.delete().execute()
            before = counts()
            r = en_client.post(f"/customers/{customer.id}/edit",
                               data=customer_form(name="边界测试服饰有限公司", custom_fx=raw), htmx=True)
            stored = custom_values([customer.id])[customer.id].get("fx")
            if r.status_code == 200:
                assert expected in body(r) and "Nothing was saved" in body(r)
                assert counts() == before and stored is None
            else:
                assert stored == expected
            check = en_client.post("/customers/check/custom_fx", data={"customer_id": customer.id, "custom_fx": raw})
            assert (expected in body(check)) == (r.status_code == 200)


def test_number_values_are_stored_as_numbers_too(make_customer, admin):
    define(admin, "capacity", "number")
    customer = make_customer(custom_capacity="35.5")
    assert CustomValue.get(CustomValue.customer == customer.id).number == Decimal("35.50")


def test_a_value_change_is_audited_by_field_and_emptying_removes_the_row(make_customer, admin, make_user):
    define(admin, "brand")
    customer = make_customer(custom_brand="雅戈尔")
    update_customer(admin, customer, {**customer_form(name=customer.name), "custom_brand": "杉杉"})
    update_customer(admin, customer, {**customer_form(name=customer.name), "custom_brand": ""})
    from models.audit import AuditEvent
    changes = [e.data["changes"] for e in AuditEvent.select().where(AuditEvent.kind == "customer.updated")
               .order_by(AuditEvent.id)]
    assert changes[-2:] == [{"custom_brand": ["雅戈尔", "杉杉"]}, {"custom_brand": ["杉杉", None]}]
    assert not CustomValue.select().exists()


# ---- per business model ---------------------------------------------------------------------------

def test_required_only_for_the_chosen_business_models(en_client, make_user, make_team, admin):
    define(admin, "project_budget", "number", business_models=["project"], required="1")
    rep = make_user("sales", team=make_team())
    en_client.login(rep)
    r = en_client.post("/customers/new", data=customer_form(name="消费品服饰有限公司"))
    assert r.status_code == 303  # not asked of a consumer-goods customer
    assert "custom_project_budget" not in body(en_client.get("/customers/new"))
    before = counts()
    r = en_client.post("/customers/new", data=customer_form(name="项目型服饰有限公司", business_model="project"),
                       htmx=True)
    assert r.status_code == 200 and "Required." in body(r) and counts() == before
    r = en_client.post("/customers/new", data=customer_form(name="项目型服饰有限公司", business_model="project",
                                                            custom_project_budget="300000"))
    assert r.status_code == 303
    # the form's custom fields follow the business model as it is changed
    fragment = body(en_client.post("/customers/custom-fields", data={"business_model": "project",
                                                                      "custom_project_budget": "12"}))
    assert 'name="custom_project_budget"' in fragment and 'value="12"' in fragment
    assert "custom_project_budget" not in body(en_client.post("/customers/custom-fields",
                                                             data={"business_model": "consumer"}))
    # the inline check asks the business model on the form
    check = en_client.post("/customers/check/custom_project_budget", data={"business_model": "project"})
    assert "Required." in body(check)
    check = en_client.post("/customers/check/custom_project_budget", data={"business_model": "consumer"})
    assert "Required." not in body(check)


def test_a_required_field_added_later_is_allowed_lowers_completeness_and_the_file_says_it_is_missing(
        en_client, make_user, make_team, make_customer, admin):
    rep = make_user("sales", team=make_team())
    customer = make_customer(owner=rep)
    before = Customer.get_by_id(customer.id).completeness
    define(admin, "brand", required="1", weight="10")
    assert Customer.get_by_id(customer.id).completeness < before
    define(admin, "founded", "date", required="1")  # no weight: listed as missing, not scored
    en_client.login(rep)
    page = body(en_client.get(f"/customers/{customer.id}"))
    missing = page[page.index("To complete this file"):]
    assert re.search(r"Brand <span class=\"muted\">\+10", missing)
    assert re.search(r"Founded <span class=\"muted\">required", missing)
    # the next save of the file asks for them
    r = en_client.post(f"/customers/{customer.id}/edit", data=customer_form(name=customer.name), htmx=True)
    assert r.status_code == 200 and body(r).count("Required.") == 2


# ---- completeness -----------------------------------------------------------------------------------

def test_weight_counts_for_its_business_models_and_changes_recompute_stored_scores(make_customer, admin):
    consumer = make_customer(name="只有名字服饰有限公司")  # consumer goods: name 10 of 100
    industrial = make_customer(name="工业品服饰有限公司", business_model="industrial")
    assert Customer.get_by_id(consumer.id).completeness == 10
    industrial_before = Customer.get_by_id(industrial.id).completeness
    f = define(admin, "capacity", "number", weight="20", business_models=["consumer"])
    assert Customer.get_by_id(consumer.id).completeness == round(100 * 10 / 120)
    assert Customer.get_by_id(industrial.id).completeness == industrial_before
    update_customer(admin, consumer, {**customer_form(name=consumer.name), "custom_capacity": "500"})
    assert Customer.get_by_id(consumer.id).completeness == round(100 * 30 / 120)
    save_custom_field(admin, {"label_zh": "产能", "label_en": "Capacity", "weight": "50",
                              "business_models": ["consumer"]}, CustomField.get_by_id(f.id))
    assert Customer.get_by_id(consumer.id).completeness == round(100 * 60 / 150)
    set_custom_field_active(admin, CustomField.get_by_id(f.id), False)
    assert Customer.get_by_id(consumer.id).completeness == 10
    assert not settings.pending_jobs().exists()
    scores = {c.id: c.completeness for c in Customer.select()}
    assert all(compute_completeness(c) == scores[c.id] for c in Customer.select())


def test_a_large_recompute_is_chunked_finished_by_the_sweep_and_idempotent(make_customer, admin, admin_client,
                                                                          monkeypatch):
    ids = [make_customer(name=f"分批服饰有限公司{i}").id for i in range(7)]
    monkeypatch.setattr(settings, "CHUNK", 2)
    monkeypatch.setattr(settings, "VERB_BUDGET", 2)
    define(admin, "capacity", "number", weight="20")
    job = CompletenessJob.get()
    assert job.done_at is None and job.after_id == ids[1]
    assert [Customer.get_by_id(pk).completeness for pk in ids] == [8, 8, 10, 10, 10, 10, 10]
    assert "being recomputed" in body(admin_client.get("/admin/fields"))
    assert settings.sweep()["completeness_recomputed"] == 5
    assert {Customer.get_by_id(pk).completeness for pk in ids} == {8}
    assert settings.sweep() == {"completeness_recomputed": 0}
    assert CompletenessJob.get().done_at is not None


# ---- the list filter ----------------------------------------------------------------------------------

@pytest.fixture
def filter_world(make_user, make_team, make_customer, admin):
    define(admin, "fabric", "choice", choices="羊毛,牛仔布,棉")
    define(admin, "capacity", "number")
    define(admin, "founded", "date")
    define(admin, "own_brand", "yes_no")
    rep = make_user("sales", team=make_team())
    made = {
        "wool": make_customer(owner=rep, custom_fabric="羊毛", custom_capacity="120", custom_founded="2001-05-01",
                              custom_own_brand="1"),
        "denim": make_customer(owner=rep, custom_fabric="牛仔布", custom_capacity="80", custom_own_brand="0"),
        "cotton": make_customer(owner=rep, custom_fabric="棉", custom_capacity="1,200", custom_founded="2015-01-01"),
        "none": make_customer(owner=rep),
    }
    other = make_customer(owner=make_user("sales", team=make_team()), custom_fabric="羊毛")  # not the rep's
    return rep, {k: c.id for k, c in made.items()}, other.id


@pytest.mark.parametrize("args, expected", [
    ({"cf.fabric": "羊毛"}, {"wool"}),
    ({"cf.capacity.min": "100"}, {"wool", "cotton"}),
    ({"cf.capacity.min": "80", "cf.capacity.max": "120"}, {"wool", "denim"}),
    ({"cf.founded.from": "2010-01-01"}, {"cotton"}),
    ({"cf.own_brand": "0"}, {"denim"}),
    ({"cf.fabric": "羊毛", "cf.own_brand": "1"}, {"wool"}),
    ({"cf.fabric": "丝绸"}, {"wool", "denim", "cotton", "none"}),  # not an option: no filter, a message
])
def test_list_filters_by_custom_values_within_what_the_user_sees(en_client, filter_world, monkeypatch, args, expected):
    rep, ids, other = filter_world
    en_client.login(rep)
    r = en_client.get("/customers", query_string={"scope": "all", **args})
    assert r.status_code == 200
    page = body(r)
    shown = {k for k, pk in ids.items() if f"/customers/{pk}\"" in page}
    assert shown == expected and f"/customers/{other}\"" not in page
    f = Filters.parse({"scope": "all", **args}, rep)
    for rare in (0, 10**9):  # every value common (checked row by row) or rare (its matches drive the query)
        monkeypatch.setattr(listing, "RARE", rare)
        assert {pk for pk, in filtered(rep, f).select(Customer.id).tuples()} == {ids[k] for k in expected}
    mine = Filters.parse({"scope": "mine", **args}, rep)  # a small scope: checked row by row
    assert {pk for pk, in filtered(rep, mine).select(Customer.id).tuples()} == {ids[k] for k in expected}
    if "丝绸" in args.values():
        assert "Choose one of the options." in page
    else:
        assert f.active_count == len({k.split(".")[1] for k in args})
        for key, value in f.as_args().items():
            if key.startswith("cf."):
                assert key in args


def test_junk_filter_values_give_a_message_not_an_error(en_client, filter_world):
    rep, ids, other = filter_world
    en_client.login(rep)
    for args in ({"cf.capacity.min": "lots"}, {"cf.founded.from": "9999-99-99"}, {"cf.capacity.max": "1e999"},
                 {"cf.own_brand": "perhaps"}, {"cf.nope": "x"}, {"cf.fabric": "x" * 5000}):
        r = en_client.get("/customers", query_string=args)
        assert r.status_code == 200, args


@sqlite_only  # the plan is SQLite's EXPLAIN QUERY PLAN
def test_the_filter_is_an_index_search_on_custom_value(filter_world):
    rep, ids, other = filter_world
    from models.listing import custom_matches
    field = CustomField.get(CustomField.key == "fabric")
    sql, params = custom_matches({"field": field, "eq": "羊毛"}).sql()
    plan = " ".join(str(r) for r in models.db.execute_sql("EXPLAIN QUERY PLAN " + sql, params).fetchall())
    assert "COVERING INDEX customvalue_field_id_value_customer_id" in plan
    number = CustomField.get(CustomField.key == "capacity")
    sql, params = custom_matches({"field": number, "lo": Decimal(100)}).sql()
    plan = " ".join(str(r) for r in models.db.execute_sql("EXPLAIN QUERY PLAN " + sql, params).fetchall())
    assert "COVERING INDEX customvalue_field_id_number_customer_id" in plan


def test_the_file_shows_values_in_the_readers_language(en_client, filter_world):
    rep, ids, other = filter_world
    en_client.login(rep)
    page = body(en_client.get(f"/customers/{ids['wool']}"))
    assert re.search(r'id="custom-own_brand">Yes<', page)
    assert re.search(r'id="custom-founded">May 1, 2001<', page)
    assert re.search(r'id="custom-capacity">120<', page)
    en_client.post("/language", data={"language": "zh_CN"})
    page = body(en_client.get(f"/customers/{ids['cotton']}"))
    assert re.search(r'id="custom-capacity">1,200<', page) and re.search(r'id="custom-own_brand">—<', page)
    assert "2015年1月1日" in page


def test_a_field_definition_problem_never_half_saves(admin, make_customer, monkeypatch):
    """The definition and its first recompute are one transaction."""
    make_customer()
    def boom(*args):
        raise RuntimeError("disk full")
    monkeypatch.setattr(settings, "recompute_range", boom)
    with pytest.raises(RuntimeError):
        define(admin, "capacity", "number", weight="10")
    assert not CustomField.select().exists() and not CompletenessJob.select().exists()


def test_verbs_refuse_non_admins(make_user, admin):
    from models.errors import NotFound
    f = define(admin, "brand")
    for role in ("sales", "manager", "marketing", "service"):
        with pytest.raises(NotFound):
            define(make_user(role), "x_field")
        with pytest.raises(NotFound):
            set_custom_field_active(make_user(role), f, False)
    assert CustomField.select().count() == 1 and CustomField.get_by_id(f.id).active


def test_a_merge_keeps_the_survivors_values_and_takes_the_rest(make_customer, admin):
    from models.merges import merge_customers
    define(admin, "brand")
    define(admin, "capacity", "number", weight="10")
    survivor = make_customer(name="留下的服饰有限公司", custom_brand="雅戈尔")
    loser = make_customer(name="并掉的服饰有限公司", custom_brand="杉杉", custom_capacity="300")
    merge_customers(admin, loser.id, survivor.id, [], "同一家公司")
    assert custom_values([survivor.id])[survivor.id] == {"brand": "雅戈尔", "capacity": "300"}
    assert CustomValue.select().count() == 2
    survivor = Customer.get_by_id(survivor.id)
    assert survivor.completeness == compute_completeness(survivor)
