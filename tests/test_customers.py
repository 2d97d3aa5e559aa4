"""Customer files: validation rules, the create/edit/stage/contact/follow-up verbs and routes, the 360 page,
and a battery of bad input that must never cause a 500 or a half-written record."""
import datetime as dt
import re

import pytest

from models import clock, db
from models.audit import AuditEvent
from models.base import all_models
from models.customers import (Contact, CustomField, Customer, CustomerGroup, FollowUp, StageChange, change_stage,
                              log_follow_up, save_contact, validate_contact, validate_customer)
from models.fields import EMAIL_RE, URL_RE, credit_code_check_char, credit_code_error, normalize_phone, phone_error
from models.errors import DomainError, NotFound, ValidationError
from tests.conftest import FROZEN, valid_credit_code

SCRIPT = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


def body(response):
    return response.get_data(as_text=True)


def fts_row(customer_id):
    return db.execute_sql("SELECT name, short_name, credit_code, people, phones FROM customer_fts WHERE rowid = " + db.param,
                          (customer_id,)).fetchone()


def row_counts():
    """Rows in every table plus the search index: a failed request must leave all of them alone."""
    counts = {m._meta.table_name: m.select().count() for m in all_models()}
    counts["customer_fts"] = db.execute_sql("SELECT count(*) FROM customer_fts").fetchone()[0]
    return counts


def customer_form(**over):
    data = {"name": "上海测试服饰有限公司", "short_name": "", "credit_code": "", "industry_id": "", "region_id": "",
            "city": "", "address": "", "phone": "", "website": "", "size": "", "business_model": "consumer",
            "source": "website", "first_channel": "", "tags": "", "group_name": ""}
    data.update(over)
    return data


@pytest.fixture
def rep(make_user, make_team):
    return make_user("sales", team=make_team())


@pytest.fixture
def rep_client(client, rep):
    client.login(rep)
    return client


# ---- GB 32100 credit codes ------------------------------------------------------------------------

REAL_LOOKING_BODIES = ["91350100M000100Y4", "91110000100000000", "91440300MA5DC7EG6", "12100000400000000",
                       "51310000MJ4925150", "91330106MA27XF4U1", "91320500MA1MXYYK2", "93310000000000000"]


@pytest.mark.parametrize("first17", REAL_LOOKING_BODIES)
def test_valid_credit_codes(first17):
    code = first17 + credit_code_check_char(first17)
    assert credit_code_error(code) is None


def test_published_example_code_is_valid():
    # The example printed with the standard; its check character is 3.
    assert credit_code_check_char("91350100M000100Y4") == "3"
    assert credit_code_error("91350100M000100Y43") is None


@pytest.mark.parametrize("first17", REAL_LOOKING_BODIES)
def test_every_wrong_check_character_is_refused(first17):
    good = credit_code_check_char(first17)
    for ch in "0123456789ABCDEFGHJKLMNPQRTUWXY":
        if ch != good:
            assert "check character" in credit_code_error(first17 + ch)


@pytest.mark.parametrize("code", ["", "9135010", "91350100M000100Y4", "91350100M000100Y433", "9" * 30])
def test_wrong_length_is_refused(code):
    assert "18 characters" in credit_code_error(code)


@pytest.mark.parametrize("letter", list("IOSVZ"))
def test_forbidden_letters_are_refused(letter):
    code = "91350100M000100" + letter + "4"
    code += "3"
    assert len(code) == 18
    assert "except I, O, S, V, Z" in credit_code_error(code)


def test_division_code_must_be_digits():
    body17 = "91AB0100M000100Y4"
    assert "administrative division" in credit_code_error(body17 + credit_code_check_char(body17))


@pytest.mark.parametrize("typed", ["91350100m000100y43", " 91350100M000100Y43 ", "９１３５０１００Ｍ０００１００Ｙ４３",
                                   "9135 0100 M000 100Y 43", "９１３５０１００ｍ０００１００ｙ４３"])
def test_credit_code_input_is_normalised(app, typed):
    values = validate_customer(customer_form(credit_code=typed))
    assert values["credit_code"] == "91350100M000100Y43"


def test_credit_code_stored_normalised_through_the_form(rep_client):
    r = rep_client.post("/customers/new", data=customer_form(credit_code="９１３５０１００ｍ０００１００ｙ４３"))
    assert r.status_code == 303
    assert Customer.get().credit_code == "91350100M000100Y43"


# ---- phones, e-mail, web address ------------------------------------------------------------------

@pytest.mark.parametrize("raw, norm", [
    ("13800138000", "13800138000"),
    ("138 0013 8000", "13800138000"),
    ("138-0013-8000", "13800138000"),
    ("+86 138 0013 8000", "13800138000"),
    ("+8613800138000", "13800138000"),
    ("0086 138-0013-8000", "13800138000"),
    ("8613800138000", "13800138000"),
    ("１３８ ００１３ ８０００", "13800138000"),
    ("010-12345678", "01012345678"),
    ("(010) 1234 5678", "01012345678"),
    ("0755-1234567", "07551234567"),
    ("0755-1234567转123", "07551234567"),
    ("021-6234 5678 ext. 12", "02162345678"),
    ("021-62345678#8", "02162345678"),
    ("+86 21 6234 5678", "02162345678"),
    ("(+86) 755-1234567", "07551234567"),
    ("0086 10 1234 5678", "01012345678"),
    ("400-123-4567", "4001234567"),
    ("800 123 4567", "8001234567"),
])
def test_normalize_phone(raw, norm):
    assert normalize_phone(raw) == norm


@pytest.mark.parametrize("raw", ["13800138000", "+86 138 0013 8000", "0086-138-0013-8000", "138-0013-8000",
                                 "010-12345678", "0755-1234567", "0755-1234567转123", "021 6234 5678",
                                 "400-123-4567", "4001234567", "800-123-4567", "１３８００１３８０００",
                                 "+86 21 6234 5678", "0086 755 1234567"])
def test_valid_phones(raw):
    assert phone_error(raw) is None


@pytest.mark.parametrize("raw", ["12345", "1380013800", "138001380001", "12800138000", "23800138000",
                                 "010-123456", "0755-123456789", "400-123-456", "abc", "138****8000",
                                 "电话13800138000", "转123", "13800138000; DROP", "<script>", "---", "+86"])
def test_junk_phones_are_refused(raw):
    assert phone_error(raw) is not None


@pytest.mark.parametrize("raw, ok", [("13912345678", True), ("+86 139 1234 5678", True), ("010-12345678", False),
                                     ("400-123-4567", False)])
def test_mobile_only(raw, ok):
    assert (phone_error(raw, mobile_only=True) is None) is ok


@pytest.mark.parametrize("email, ok", [
    ("wang.wei@example.com", True), ("a.b+tag@sub.example.com.cn", True), ("王伟@例子.中国", True),
    ("wang@", False), ("@example.com", False), ("wang@example", False), ("wang@@example.com", False),
    ("wang wei@example.com", False), ("wang@example..com", False), ("wang@.example.com", False),
])
def test_email_rule(email, ok):
    assert bool(EMAIL_RE.match(email)) is ok


@pytest.mark.parametrize("url, ok", [
    ("www.example.com", True), ("example.cn", True), ("https://shop.example.com/a?b=c", True),
    ("http://example.com:8080/x", True),
    ("javascript:alert(1)", False), ("ftp://example.com", False), ("not a url", False), ("http://", False),
    ("example", False), ("http://exa mple.com", False), ("javascript://example.com", False),
])
def test_url_rule(url, ok):
    assert bool(URL_RE.match(url)) is ok


def test_customer_website_and_phone_validated_on_the_form(rep_client):
    r = rep_client.post("/customers/new", data=customer_form(website="javascript:alert(1)", phone="12345"))
    assert r.status_code == 200
    text = body(r)
    assert "Not a web address" in text and "Enter a mobile number" in text
    assert not Customer.select().exists()


def test_contact_email_and_mobile_validated(rep_client, make_customer, rep):
    customer = make_customer(owner=rep)
    r = rep_client.post(f"/customers/{customer.id}/contacts/new",
                        data={"name": "王伟", "email": "wang@", "mobile": "010-12345678"})
    assert r.status_code == 200
    text = body(r)
    assert "Not a valid e-mail address." in text and "A mobile number has 11 digits" in text
    assert not Contact.select().exists()


# ---- create ---------------------------------------------------------------------------------------

def test_create_customer_plain_post(rep_client, rep):
    code = valid_credit_code(101)
    r = rep_client.post("/customers/new", data=customer_form(name="杭州西湖衬衫有限公司", short_name="西湖衬衫",
                                                             credit_code=code, phone="0571-87654321",
                                                             tags="重点, 华东，新客"))
    assert r.status_code == 303
    customer = Customer.get()
    assert r.location == f"/customers/{customer.id}?created=1"
    assert (customer.owner_id, customer.team_id, customer.stage, customer.grade) == (rep.id, rep.team_id, "target", "C")
    assert customer.phone_norm == "057187654321" and customer.tags == "重点,华东,新客"
    assert customer.created_by_id == rep.id and customer.created_at == FROZEN and customer.touched_at == FROZEN
    assert customer.completeness > 0
    change = StageChange.get()
    assert (change.customer_id, change.from_stage, change.to_stage, change.actor_id, change.at) == \
        (customer.id, None, "target", rep.id, FROZEN)
    event = AuditEvent.get()
    assert (event.kind, event.customer_id, event.actor_id, event.data["stage"], event.data["owner_id"]) == \
        ("customer.created", customer.id, rep.id, "target", rep.id)
    assert fts_row(customer.id)[:3] == ("杭州西湖衬衫有限公司", "西湖衬衫", code)
    page = rep_client.get(r.location)
    assert page.status_code == 200 and "杭州西湖衬衫有限公司" in body(page) and "Customer created." in body(page)


def test_create_customer_htmx(rep_client):
    r = rep_client.post("/customers/new", data=customer_form(), htmx=True)
    assert r.status_code == 204
    customer = Customer.get()
    assert r.headers["HX-Redirect"] == f"/customers/{customer.id}?created=1"


def test_create_form_page(rep_client):
    r = rep_client.get("/customers/new")
    assert r.status_code == 200 and 'id="customer-form"' in body(r)


@pytest.mark.parametrize("htmx", [False, True])
def test_invalid_credit_code_shows_inline_error_and_writes_nothing(rep_client, htmx):
    before = row_counts()
    bad = valid_credit_code(7)[:17] + ("0" if valid_credit_code(7)[17] != "0" else "1")
    r = rep_client.post("/customers/new", data=customer_form(credit_code=bad), htmx=htmx)
    assert r.status_code == 200
    text = body(r)
    assert "The check character (the 18th) does not match" in text
    assert re.search(r'id="err-credit_code">[^<]*check character', text)
    assert ("<html" in text) is (not htmx)
    assert row_counts() == before


def test_duplicate_credit_code_is_refused(rep_client, make_customer):
    code = valid_credit_code(55)
    make_customer(credit_code=code)
    before = row_counts()
    r = rep_client.post("/customers/new", data=customer_form(name="另一家公司", credit_code=code.lower()))
    assert r.status_code == 200 and "Another customer already has this credit code." in body(r)
    assert row_counts() == before


def test_marketing_creates_unowned_unidentified_leads(client, make_user):
    marketer = make_user("marketing")
    client.login(marketer)
    r = client.post("/customers/new", data=customer_form(stage="intent"))
    assert r.status_code == 303
    customer = Customer.get()
    assert (customer.owner_id, customer.stage) == (None, "unidentified")


def test_service_cannot_create(client, make_user):
    client.login(make_user("service"))
    assert client.get("/customers/new").status_code == 404
    assert client.post("/customers/new", data=customer_form()).status_code == 404
    assert not Customer.select().exists()


def test_manager_cannot_give_a_customer_to_another_team(client, make_user, make_team):
    team, other = make_team(), make_team()
    boss = make_user("manager", team=team)
    outsider = make_user("sales", team=other)
    client.login(boss)
    r = client.post("/customers/new", data=customer_form(owner_id=str(outsider.id)))
    assert r.status_code == 200 and "Choose an active colleague." in body(r)
    assert not Customer.select().exists()


# ---- edit -----------------------------------------------------------------------------------------

def test_edit_writes_changes_from_to_and_leaves_the_follow_up_clock(rep_client, rep, make_customer):
    customer = make_customer(owner=rep, name="旧名称有限公司", city="杭州")
    log_follow_up(rep, customer, {"type": "call", "content": "电话沟通了春季西装订单的数量和交期", "next_step": "寄样品",
                                  "next_date": "2026-12-01"})
    customer = Customer.get_by_id(customer.id)
    clock.freeze(FROZEN + dt.timedelta(hours=3))
    r = rep_client.post(f"/customers/{customer.id}/edit",
                        data=customer_form(name="新名称有限公司", city="上海", phone="021-62345678"))
    assert r.status_code == 303 and r.location == f"/customers/{customer.id}"
    after = Customer.get_by_id(customer.id)
    assert (after.name, after.city, after.phone_norm) == ("新名称有限公司", "上海", "02162345678")
    assert after.last_followup_at == customer.last_followup_at
    assert after.touched_at == customer.touched_at
    assert after.next_followup_on == dt.date(2026, 12, 1)
    assert after.updated_at == FROZEN + dt.timedelta(hours=3)
    event = AuditEvent.select().where(AuditEvent.kind == "customer.updated").get()
    assert event.actor_id == rep.id and event.customer_id == customer.id
    assert event.data["changes"] == {"name": ["旧名称有限公司", "新名称有限公司"], "city": ["杭州", "上海"],
                                     "phone": ["", "021-62345678"]}
    timeline = body(rep_client.get(f"/customers/{customer.id}?tab=timeline", htmx=True))
    assert "旧名称有限公司" in timeline and "新名称有限公司" in timeline


def test_edit_without_changes_writes_no_audit_row(rep_client, rep, make_customer):
    customer = make_customer(owner=rep, name="不变有限公司")
    before = row_counts()
    r = rep_client.post(f"/customers/{customer.id}/edit", data=customer_form(name="不变有限公司"))
    assert r.status_code == 303
    assert row_counts() == before


def test_edit_htmx_invalid_returns_form_fragment(rep_client, rep, make_customer):
    customer = make_customer(owner=rep, name="原名有限公司")
    r = rep_client.post(f"/customers/{customer.id}/edit", data=customer_form(name=""), htmx=True)
    assert r.status_code == 200
    text = body(r)
    assert "<html" not in text and 'id="customer-form"' in text and "Required." in text
    assert Customer.get_by_id(customer.id).name == "原名有限公司"


def test_edit_keeps_own_credit_code_but_refuses_another(rep_client, rep, make_customer):
    mine = make_customer(owner=rep, credit_code=valid_credit_code(1))
    make_customer(credit_code=valid_credit_code(2))
    assert rep_client.post(f"/customers/{mine.id}/edit",
                           data=customer_form(credit_code=valid_credit_code(1))).status_code == 303
    r = rep_client.post(f"/customers/{mine.id}/edit", data=customer_form(credit_code=valid_credit_code(2)))
    assert r.status_code == 200 and "Another customer already has this credit code." in body(r)
    assert Customer.get_by_id(mine.id).credit_code == valid_credit_code(1)


def test_service_cannot_edit(client, make_user, make_customer):
    customer = make_customer(owner=make_user("sales"), name="只读有限公司")
    client.login(make_user("service"))
    assert client.get(f"/customers/{customer.id}").status_code == 200
    assert client.post(f"/customers/{customer.id}/edit", data=customer_form(name="改了")).status_code == 404
    assert Customer.get_by_id(customer.id).name == "只读有限公司"


# ---- inline field checks --------------------------------------------------------------------------

def test_check_field_returns_the_fields_error_fragment(rep_client, rep, make_customer):
    r = rep_client.post("/customers/check/credit_code", data={"credit_code": "91350100M000100Y44"}, htmx=True)
    assert r.status_code == 200
    text = body(r)
    assert text.startswith('<span class="field-error" id="err-credit_code">') and "check character" in text
    assert "<html" not in text

    ok = body(rep_client.post("/customers/check/credit_code", data={"credit_code": "91350100M000100Y43"}, htmx=True))
    assert ok == '<span class="field-error" id="err-credit_code"></span>'

    assert "Required." in body(rep_client.post("/customers/check/name", data={"name": "  "}, htmx=True))
    assert "Enter a mobile number" in body(rep_client.post("/customers/check/phone", data={"phone": "123"}, htmx=True))
    # Only the asked field's error: a bad phone does not show under the name.
    only = body(rep_client.post("/customers/check/name", data={"name": "好名字", "phone": "123"}, htmx=True))
    assert only == '<span class="field-error" id="err-name"></span>'


def test_check_field_duplicate_code_but_not_against_itself(rep_client, rep, make_customer):
    mine = make_customer(owner=rep, credit_code=valid_credit_code(11))
    make_customer(credit_code=valid_credit_code(12))
    dup = body(rep_client.post("/customers/check/credit_code", data={"credit_code": valid_credit_code(12)}))
    assert "Another customer already has this credit code." in dup
    own = body(rep_client.post("/customers/check/credit_code",
                               data={"credit_code": valid_credit_code(11), "customer_id": str(mine.id)}))
    assert "Another customer" not in own


def test_check_field_escapes_the_field_name_and_hides_others_customers(rep_client, make_user, make_customer):
    r = rep_client.post('/customers/check/"><script>', data={})
    assert r.status_code == 200 and "<script>" not in body(r)
    theirs = make_customer(owner=make_user("sales"))
    r = rep_client.post("/customers/check/name", data={"name": "x", "customer_id": str(theirs.id)})
    assert r.status_code == 404


# ---- stage changes --------------------------------------------------------------------------------

def test_stage_change_verb_records_from_to_actor_time_and_direction(rep, make_customer):
    customer = make_customer(owner=rep)
    clock.freeze(FROZEN + dt.timedelta(days=2))
    change_stage(rep, customer, "intent", reason="看过样品")
    clock.freeze(FROZEN + dt.timedelta(days=5))
    change_stage(rep, customer, "target")
    changes = list(StageChange.select().where(StageChange.customer == customer).order_by(StageChange.id))
    assert [(c.from_stage, c.to_stage, c.actor_id) for c in changes] == \
        [(None, "target", changes[0].actor_id), ("target", "intent", rep.id), ("intent", "target", rep.id)]
    assert [c.at for c in changes[1:]] == [FROZEN + dt.timedelta(days=2), FROZEN + dt.timedelta(days=5)]
    events = list(AuditEvent.select().where(AuditEvent.kind == "customer.stage_changed").order_by(AuditEvent.id))
    assert [(e.data["from_stage"], e.data["to_stage"], e.data["direction"]) for e in events] == \
        [("target", "intent", "promoted"), ("intent", "target", "demoted")]
    assert events[0].data["reason"] == "看过样品"
    after = Customer.get_by_id(customer.id)
    assert (after.stage, after.grade, after.stage_changed_at) == ("target", "C", FROZEN + dt.timedelta(days=5))


def test_same_stage_is_not_a_change(rep, make_customer):
    customer = make_customer(owner=rep)
    change_stage(rep, customer, "target")
    assert StageChange.select().count() == 1
    assert not AuditEvent.select().where(AuditEvent.kind == "customer.stage_changed").exists()


def test_unknown_stage_is_refused(rep, make_customer):
    customer = make_customer(owner=rep)
    with pytest.raises(DomainError):
        change_stage(rep, customer, "won")


@pytest.mark.parametrize("htmx", [False, True])
def test_stage_route(rep_client, rep, make_customer, htmx):
    customer = make_customer(owner=rep)
    r = rep_client.post(f"/customers/{customer.id}/stage", data={"stage": "signed", "reason": "合同已签"}, htmx=htmx)
    if htmx:
        assert r.status_code == 204 and r.headers["HX-Redirect"] == f"/customers/{customer.id}"
    else:
        assert r.status_code == 303 and r.location == f"/customers/{customer.id}"
    change = StageChange.select().order_by(StageChange.id.desc()).get()
    assert (change.from_stage, change.to_stage, change.actor_id, change.at) == ("target", "signed", rep.id, FROZEN)
    event = AuditEvent.get(AuditEvent.kind == "customer.stage_changed")
    assert event.data["direction"] == "promoted" and event.actor_id == rep.id
    assert Customer.get_by_id(customer.id).grade == "A"
    r = rep_client.post(f"/customers/{customer.id}/stage", data={"stage": "nonsense"}, htmx=htmx)
    assert r.status_code == 409
    assert Customer.get_by_id(customer.id).stage == "signed"


def test_marketing_cannot_move_a_customer_beyond_target(client, make_user, make_customer):
    marketer = make_user("marketing")
    lead = make_customer(stage="prospect")
    with pytest.raises(DomainError, match="up to Target"):
        change_stage(marketer, lead, "intent")
    client.login(marketer)
    for stage in ("intent", "signed", "long_term"):
        r = client.post(f"/customers/{lead.id}/stage", data={"stage": stage}, htmx=True)
        assert r.status_code == 409 and "up to Target" in body(r)
    assert Customer.get_by_id(lead.id).stage == "prospect"
    assert StageChange.select().where(StageChange.customer == lead).count() == 1
    r = client.post(f"/customers/{lead.id}/stage", data={"stage": "target"})
    assert r.status_code == 303
    assert Customer.get_by_id(lead.id).stage == "target"
    # Handed over to sales: marketing no longer sees it.
    assert client.get(f"/customers/{lead.id}").status_code == 404


def test_service_cannot_change_stage(client, make_user, make_customer):
    customer = make_customer(owner=make_user("sales"))
    client.login(make_user("service"))
    assert client.post(f"/customers/{customer.id}/stage", data={"stage": "signed"}).status_code == 404
    assert Customer.get_by_id(customer.id).stage == "target"


# ---- contacts -------------------------------------------------------------------------------------

def test_add_and_edit_contact(rep_client, rep, make_customer):
    customer = make_customer(owner=rep)
    r = rep_client.post(f"/customers/{customer.id}/contacts/new",
                        data={"name": "王伟", "title": "采购经理", "mobile": "+86 139-1234-5678",
                              "email": "wang@example.com", "decision_role": "buyer"})
    assert r.status_code == 303 and r.location == f"/customers/{customer.id}?tab=contacts"
    contact = Contact.get()
    assert (contact.customer_id, contact.mobile_norm, contact.active) == (customer.id, "13912345678", True)
    assert AuditEvent.get(AuditEvent.kind == "contact.added").data["contact_id"] == contact.id
    assert "王伟" in fts_row(customer.id)[3] and "13912345678" in fts_row(customer.id)[4]
    assert Customer.get_by_id(customer.id).completeness > customer.completeness

    r = rep_client.post(f"/customers/{customer.id}/contacts/{contact.id}/edit",
                        data={"name": "王伟", "title": "采购总监", "mobile": "13912345678", "email": "wang@example.com",
                              "decision_role": "decision_maker"}, htmx=True)
    assert r.status_code == 200 and r.headers["HX-Retarget"] == "#tab-body"
    assert "customerChanged" in r.headers["HX-Trigger"] and "Contact saved." in body(r)
    contact = Contact.get_by_id(contact.id)
    assert (contact.title, contact.decision_role) == ("采购总监", "decision_maker")
    changes = AuditEvent.get(AuditEvent.kind == "contact.updated").data["changes"]
    assert changes["title"] == ["采购经理", "采购总监"] and changes["decision_role"] == ["buyer", "decision_maker"]
    assert "mobile" in changes and "mobile_norm" not in changes  # the typed form changed, the number did not


def test_contact_form_pages(rep_client, rep, make_customer):
    customer = make_customer(owner=rep)
    contact = save_contact(rep, customer, {"name": "李娜"})
    assert 'id="contact-form"' in body(rep_client.get(f"/customers/{customer.id}/contacts/new", htmx=True))
    page = body(rep_client.get(f"/customers/{customer.id}/contacts/{contact.id}/edit"))
    assert "<html" in page and 'value="李娜"' in page


def test_reports_to_cycle_is_refused(rep_client, rep, make_customer):
    customer = make_customer(owner=rep)
    boss = save_contact(rep, customer, {"name": "总经理"})
    middle = save_contact(rep, customer, {"name": "副总", "reports_to_id": str(boss.id)})
    worker = save_contact(rep, customer, {"name": "采购", "reports_to_id": str(middle.id)})
    before = row_counts()
    r = rep_client.post(f"/customers/{customer.id}/contacts/{boss.id}/edit",
                        data={"name": "总经理", "reports_to_id": str(worker.id)})
    assert r.status_code == 200 and "That would make a reporting cycle." in body(r)
    r = rep_client.post(f"/customers/{customer.id}/contacts/{boss.id}/edit",
                        data={"name": "总经理", "reports_to_id": str(boss.id)})
    assert r.status_code == 200 and "reporting cycle" in body(r)
    assert row_counts() == before
    assert Contact.get_by_id(boss.id).reports_to_id is None


def test_reports_to_must_be_a_contact_of_the_same_customer(rep_client, rep, make_customer):
    customer, other = make_customer(owner=rep), make_customer(owner=rep)
    stranger = save_contact(rep, other, {"name": "别家的人"})
    before = row_counts()
    for value in (str(stranger.id), "999999", "abc", "99999999999999999999999"):
        r = rep_client.post(f"/customers/{customer.id}/contacts/new", data={"name": "新人", "reports_to_id": value})
        assert r.status_code == 200 and "Choose a contact of this customer." in body(r), value
    assert row_counts() == before


def test_contact_of_another_customer_is_404_through_this_one(rep_client, rep, make_customer):
    customer, other = make_customer(owner=rep), make_customer(owner=rep)
    stranger = save_contact(rep, other, {"name": "别家的人"})
    assert rep_client.get(f"/customers/{customer.id}/contacts/{stranger.id}/edit").status_code == 404
    r = rep_client.post(f"/customers/{customer.id}/contacts/{stranger.id}/edit", data={"name": "改名"})
    assert r.status_code == 404
    assert Contact.get_by_id(stranger.id).name == "别家的人"
    with pytest.raises(NotFound):
        save_contact(rep, customer, {"name": "改名"}, stranger)


def test_contact_who_left_keeps_history(rep_client, rep, make_customer):
    customer = make_customer(owner=rep)
    contact = save_contact(rep, customer, {"name": "赵敏", "title": "厂长"})
    log_follow_up(rep, customer, {"type": "visit", "content": "拜访赵厂长，确认了秋季订单的面料要求",
                                  "contact_id": str(contact.id)})
    r = rep_client.post(f"/customers/{customer.id}/contacts/{contact.id}/edit",
                        data={"name": "赵敏", "title": "厂长", "active": "0"})
    assert r.status_code == 303
    contact = Contact.get_by_id(contact.id)
    assert contact.active is False
    assert AuditEvent.get(AuditEvent.kind == "contact.updated").data["changes"]["active"] == [True, False]
    assert FollowUp.get().contact_id == contact.id
    contacts_tab = body(rep_client.get(f"/customers/{customer.id}?tab=contacts", htmx=True))
    assert "赵敏" in contacts_tab and "(left)" in contacts_tab
    followups_tab = body(rep_client.get(f"/customers/{customer.id}?tab=followups", htmx=True))
    assert "with 赵敏" in followups_tab
    # A contact who left is no longer offered for new follow-ups.
    page = body(rep_client.get(f"/customers/{customer.id}"))
    form = page[page.index('id="followup-form"'):]
    assert f'value="{contact.id}"' not in form[:form.index("</form>")]
    # Ticking the box brings them back.
    rep_client.post(f"/customers/{customer.id}/contacts/{contact.id}/edit",
                    data={"name": "赵敏", "title": "厂长", "active": ["0", "1"]})
    assert Contact.get_by_id(contact.id).active is True


def test_contact_validation_in_the_verb(app):
    with pytest.raises(ValidationError) as exc:
        validate_contact(None, {"name": "", "decision_role": "boss", "phone": "abc"})
    assert set(exc.value.errors) == {"name", "decision_role", "phone"}


# ---- follow-ups -----------------------------------------------------------------------------------

GOOD_CONTENT = "电话沟通，客户对春季西装面料很感兴趣，约下周看样"


def local(delta=dt.timedelta()):
    """A datetime-local form value, `delta` from the frozen now, in business time."""
    return clock.to_local(FROZEN + delta).strftime("%Y-%m-%dT%H:%M")


@pytest.mark.parametrize("data, field, message", [
    ({"content": ""}, "content", "Required."),
    ({"content": "   \n  "}, "content", "Required."),
    ({"type": "telepathy"}, "type", "Choose one of the options."),
    ({"at": local(dt.timedelta(hours=1))}, "at", "cannot be in the future"),
    ({"at": local(dt.timedelta(days=367))}, "at", "cannot be in the future"),
    ({"at": local(-dt.timedelta(days=367))}, "at", "more than a year ago"),
    ({"at": "yesterday"}, "at", "Enter a date and time."),
    ({"next_step": "寄样品"}, "next_date", "When is the next step?"),
    ({"next_step": "寄样品", "next_date": "2026-11-23"}, "next_date", "from today up to two years ahead"),
    ({"next_date": "2020-01-01"}, "next_date", "from today up to two years ahead"),
    ({"next_date": "2030-01-01"}, "next_date", "from today up to two years ahead"),
    ({"next_date": "31/12/2026"}, "next_date", "from today up to two years ahead"),
    ({"contact_id": "999999"}, "contact_id", "Choose a contact of this customer."),
])
def test_follow_up_validation(rep_client, rep, make_customer, data, field, message):
    customer = make_customer(owner=rep)
    before = row_counts()
    r = rep_client.post(f"/customers/{customer.id}/followups/new", data={"type": "call", "content": GOOD_CONTENT, **data},
                        htmx=True)
    assert r.status_code == 200
    text = body(r)
    assert re.search(rf'id="err-{field}">[^<]*{re.escape(message)}', text), text[-3000:]
    assert row_counts() == before
    after = Customer.get_by_id(customer.id)
    assert (after.last_followup_at, after.next_followup_on) == (None, None)


def test_follow_up_at_the_edges_is_accepted(rep, make_customer):
    customer = make_customer(owner=rep)
    log_follow_up(rep, customer, {"type": "call", "content": GOOD_CONTENT, "at": local(dt.timedelta(minutes=4))})
    log_follow_up(rep, customer, {"type": "call", "content": GOOD_CONTENT, "at": local(-dt.timedelta(days=365))})
    log_follow_up(rep, customer, {"type": "call", "content": GOOD_CONTENT, "next_step": "回访",
                                  "next_date": clock.today().isoformat()})
    assert FollowUp.select().count() == 3


def test_follow_up_from_another_customer_contact_is_refused(rep, make_customer):
    customer, other = make_customer(owner=rep), make_customer(owner=rep)
    stranger = save_contact(rep, other, {"name": "别家的人"})
    with pytest.raises(ValidationError) as exc:
        log_follow_up(rep, customer, {"type": "call", "content": GOOD_CONTENT, "contact_id": str(stranger.id)})
    assert "contact_id" in exc.value.errors


def test_logging_a_follow_up_updates_the_customer_and_the_timeline(rep_client, rep, make_customer):
    customer = make_customer(owner=rep)
    contact = save_contact(rep, customer, {"name": "孙丽"})
    clock.freeze(FROZEN + dt.timedelta(hours=5))
    r = rep_client.post(f"/customers/{customer.id}/followups/new",
                        data={"type": "visit", "content": GOOD_CONTENT, "at": local(dt.timedelta(hours=4)),
                              "contact_id": str(contact.id), "outcome": "有意向", "next_step": "寄样品",
                              "next_date": "2026-12-01"})
    assert r.status_code == 303 and r.location == f"/customers/{customer.id}?tab=followups"
    followup = FollowUp.get()
    happened = FROZEN + dt.timedelta(hours=4)
    assert (followup.author_id, followup.type, followup.at, followup.contact_id, followup.next_date) == \
        (rep.id, "visit", happened, contact.id, dt.date(2026, 12, 1))
    after = Customer.get_by_id(customer.id)
    assert after.last_followup_at == happened
    assert after.touched_at == happened
    assert after.next_followup_on == dt.date(2026, 12, 1)
    event = AuditEvent.get(AuditEvent.kind == "followup.logged")
    assert event.data["followup_id"] == followup.id and event.actor_id == rep.id
    timeline = body(rep_client.get(f"/customers/{customer.id}?tab=timeline", htmx=True))
    assert "logged a follow-up" in timeline and GOOD_CONTENT in timeline
    followups = body(rep_client.get(f"/customers/{customer.id}?tab=followups", htmx=True))
    assert GOOD_CONTENT in followups and "有意向" in followups and "寄样品" in followups


def test_follow_up_htmx_returns_a_fresh_form_and_an_event(rep_client, rep, make_customer):
    customer = make_customer(owner=rep)
    r = rep_client.post(f"/customers/{customer.id}/followups/new", data={"type": "call", "content": GOOD_CONTENT},
                        htmx=True)
    assert r.status_code == 200 and "Follow-up saved." in body(r) and "customerChanged" in r.headers["HX-Trigger"]
    assert FollowUp.select().count() == 1


def test_an_older_follow_up_does_not_move_the_clock_back(rep, make_customer):
    customer = make_customer(owner=rep)
    log_follow_up(rep, customer, {"type": "call", "content": GOOD_CONTENT, "next_step": "报价",
                                  "next_date": "2026-11-30"})
    customer = Customer.get_by_id(customer.id)
    log_follow_up(rep, customer, {"type": "call", "content": GOOD_CONTENT, "at": local(-dt.timedelta(days=3))})
    after = Customer.get_by_id(customer.id)
    assert after.last_followup_at == FROZEN and after.next_followup_on == dt.date(2026, 11, 30)


def test_any_visible_user_may_log_but_not_others(client, make_user, make_customer):
    customer = make_customer(owner=make_user("sales"))
    client.login(make_user("sales"))
    r = client.post(f"/customers/{customer.id}/followups/new", data={"type": "call", "content": GOOD_CONTENT})
    assert r.status_code == 404
    assert not FollowUp.select().exists()


# ---- the 360 page ---------------------------------------------------------------------------------

def test_360_page_shows_contacts_follow_ups_and_timeline(rep_client, rep, make_customer):
    customer = make_customer(owner=rep, name="宁波牛仔服饰有限公司", credit_code=valid_credit_code(77))
    save_contact(rep, customer, {"name": "钱多多", "title": "老板", "decision_role": "decision_maker"})
    save_contact(rep, customer, {"name": "周小周", "title": "采购"})
    log_follow_up(rep, customer, {"type": "meeting", "content": GOOD_CONTENT})
    page = body(rep_client.get(f"/customers/{customer.id}"))
    assert '<h1 id="customer-name">宁波牛仔服饰有限公司</h1>' in page
    assert valid_credit_code(77) in page and rep.full_name in page
    assert "Contacts (2)" in page
    assert 'id="tab-timeline" aria-selected="true"' in page
    assert "added the contact 钱多多 老板" in page and "logged a follow-up" in page
    assert 'id="followup-form"' in page

    contacts = rep_client.get(f"/customers/{customer.id}?tab=contacts", htmx=True)
    text = body(contacts)
    assert "<html" not in text and 'id="contact-table"' in text and "钱多多" in text and "周小周" in text
    followups = body(rep_client.get(f"/customers/{customer.id}?tab=followups", htmx=True))
    assert "<html" not in followups and 'id="followup-list"' in followups and GOOD_CONTENT in followups
    timeline = body(rep_client.get(f"/customers/{customer.id}?tab=timeline", htmx=True))
    assert "<html" not in timeline and 'id="timeline-list"' in timeline

    full = body(rep_client.get(f"/customers/{customer.id}?tab=contacts"))
    assert "<html" in full and 'id="tab-contacts" aria-selected="true"' in full and "周小周" in full
    assert 'id="tab-timeline" aria-selected="true"' in body(rep_client.get(f"/customers/{customer.id}?tab=bogus"))


def _events(html):
    return re.findall(r'<li class="event kind-([a-z_-]+)">', html)


def test_timeline_pagination_returns_older_events_without_duplicates(rep_client, rep, make_customer):
    customer = make_customer(owner=rep)
    for n in range(25):
        clock.freeze(FROZEN + dt.timedelta(minutes=n))
        log_follow_up(rep, customer, {"type": "call", "content": f"第{n:02d}次跟进：讨论了订单细节和交货安排"})
    expected = [e.kind.replace(".", "-") for e in
                AuditEvent.select().where(AuditEvent.customer == customer).order_by(AuditEvent.id.desc())]
    assert len(expected) > 25 and expected[-1] == "customer-created"

    first = body(rep_client.get(f"/customers/{customer.id}?tab=timeline", htmx=True))
    assert _events(first) == expected[:20]
    seen = re.findall(r"第(\d\d)次跟进", first)
    assert seen == [f"{n:02d}" for n in range(24, 4, -1)]  # newest first
    more = re.search(r'hx-get="(/customers/\d+/timeline\?before=\d+)"[^>]*>Older events', first)
    assert more, "no Older events link"
    second = rep_client.get(more.group(1))
    assert second.status_code == 200
    rest = body(second)
    assert "<html" not in rest and "Older events" not in rest
    assert _events(rest) == expected[20:]
    seen_rest = re.findall(r"第(\d\d)次跟进", rest)
    assert seen_rest == [f"{n:02d}" for n in range(4, -1, -1)]
    assert not set(seen) & set(seen_rest)


def test_follow_up_pagination(rep_client, rep, make_customer):
    customer = make_customer(owner=rep)
    for n in range(22):
        clock.freeze(FROZEN + dt.timedelta(minutes=n))
        log_follow_up(rep, customer, {"type": "call", "content": f"第{n:02d}次跟进：讨论了订单细节和交货安排"})
    first = body(rep_client.get(f"/customers/{customer.id}?tab=followups", htmx=True))
    more = re.search(r'hx-get="(/customers/\d+/followups\?before=\d+)"', first)
    rest = body(rep_client.get(more.group(1)))
    got = re.findall(r"第(\d\d)次跟进", first) + re.findall(r"第(\d\d)次跟进", rest)
    assert got == [f"{n:02d}" for n in range(21, -1, -1)]


# ---- unknown and forbidden ------------------------------------------------------------------------

@pytest.mark.parametrize("url", ["/customers/999999", "/customers/abc", "/customers/0", "/customers/-1",
                                 "/customers/99999999999999999999", "/customers/999999/edit",
                                 "/customers/999999/timeline", "/customers/999999/followups",
                                 "/customers/999999/contacts/new", "/customers/1.5"])
def test_unknown_ids_are_404(rep_client, url):
    assert rep_client.get(url).status_code == 404


def test_junk_before_cursors_on_the_360_page_do_not_500(rep_client, rep, make_customer):
    customer = make_customer(owner=rep)
    for page in ("timeline", "followups"):
        for before in ("abc", "-1", "0", "99999999999999999999999", "-99999999999999999999999"):
            r = rep_client.get(f"/customers/{customer.id}/{page}?before={before}", htmx=True)
            assert r.status_code == 200, (page, before)


def test_unknown_ids_in_posts_are_404(rep_client):
    for url in ("/customers/999999/stage", "/customers/999999/followups/new", "/customers/999999/edit",
                "/customers/999999/contacts/new"):
        assert rep_client.post(url, data={"stage": "signed", "name": "x"}).status_code == 404, url
    r = rep_client.post("/customers/check/name", data={"name": "x", "customer_id": "99999999999999999999"})
    assert r.status_code == 404


def test_other_users_customers_are_404(client, make_user, make_customer, make_team):
    owner = make_user("sales", team=make_team())
    customer = make_customer(owner=owner, name="别人的客户有限公司")
    contact = save_contact(owner.__class__.get(owner.__class__.username == "factory-admin"), customer, {"name": "某人"})
    client.login(make_user("sales", team=make_team()))
    before = row_counts()
    for url in (f"/customers/{customer.id}", f"/customers/{customer.id}?tab=contacts", f"/customers/{customer.id}/edit",
                f"/customers/{customer.id}/timeline", f"/customers/{customer.id}/followups",
                f"/customers/{customer.id}/contacts/new", f"/customers/{customer.id}/contacts/{contact.id}/edit"):
        r = client.get(url)
        assert r.status_code == 404, url
        assert "别人的客户" not in body(r)
    for url, data in ((f"/customers/{customer.id}/stage", {"stage": "signed"}),
                      (f"/customers/{customer.id}/edit", customer_form(name="抢走")),
                      (f"/customers/{customer.id}/followups/new", {"type": "call", "content": GOOD_CONTENT}),
                      (f"/customers/{customer.id}/contacts/new", {"name": "新人"}),
                      (f"/customers/{customer.id}/contacts/{contact.id}/edit", {"name": "改名"})):
        assert client.post(url, data=data).status_code == 404, url
    assert row_counts() == before
    assert "别人的客户" not in body(client.get("/customers?scope=all"))


def test_htmx_404_is_a_toast_not_a_page(rep_client):
    r = rep_client.get("/customers/999999", htmx=True)
    assert r.status_code == 404 and "<html" not in body(r) and "showToast" in r.headers["HX-Trigger"]


# ---- bad input battery ----------------------------------------------------------------------------

BAD = {
    "empty": "",
    "long": "长" * 10_000,
    "emoji": "😀🚀",
    "rtl": "مرحبا بالعالم",
    "bidi": "abc\u202eevil",
    "sql": "'; DROP TABLE customer; --",
    "html": SCRIPT,
    "nul": "ab\x00cd",
    "date": "9999-12-31",
    "old_date": "0001-01-01T00:00",
}
CUSTOMER_TEXT_FIELDS = ["name", "short_name", "credit_code", "city", "address", "phone", "website", "tags",
                        "group_name", "custom_brand", "custom_founded"]
CONTACT_TEXT_FIELDS = ["name", "title", "department", "mobile", "phone", "email", "wechat"]
FOLLOWUP_TEXT_FIELDS = ["content", "outcome", "next_step", "at", "next_date"]


def _assert_safe(response, before, written):
    """Not a 500; on refusal nothing written, on success exactly one complete record; no raw HTML echoed."""
    assert response.status_code in (200, 204, 303), response.status_code
    text = body(response)
    assert SCRIPT not in text
    after = row_counts()
    if response.status_code == 200:
        assert after == before
        assert "Nothing was saved" in text or "field-error" in text
        return False
    changed = {k: after[k] - before[k] for k in after if after[k] != before[k]}
    for table, n in written.items():
        assert changed.pop(table, 0) == n, (table, changed)
    # a custom_<key> value is a row of its own; rep_period holds the performance counters the verbs keep
    assert set(changed) <= {"customer_group", "custom_value", "rep_period"}, changed
    return True


def _assert_shown_escaped(client, value, *urls):
    """The record's pages render (the first always, all of them for the HTML case, which at least one must
    show escaped and none raw)."""
    responses = [client.get(url) for url in (urls if value == SCRIPT else urls[:1])]
    assert all(r.status_code == 200 for r in responses)
    texts = [body(r) for r in responses]
    assert all(SCRIPT not in text for text in texts)
    if value == SCRIPT:
        assert any(ESCAPED in text for text in texts)


@pytest.fixture
def custom_fields(app):
    CustomField.create(key="brand", label_zh="品牌", label_en="Brand", kind="text")
    CustomField.create(key="founded", label_zh="成立日期", label_en="Founded", kind="date")


def _newest(model):
    return model.select().order_by(model.id.desc()).get()


@pytest.mark.parametrize("field", CUSTOMER_TEXT_FIELDS)
def test_bad_input_customer_create(rep_client, custom_fields, subtests, field):
    for case, value in BAD.items():
        with subtests.test(case=case):
            before = row_counts()
            r = rep_client.post("/customers/new", data=customer_form(**{field: value}), htmx=True)
            saved = _assert_safe(r, before, {"customer": 1, "stage_change": 1, "audit_event": 1, "customer_fts": 1})
            if saved:
                customer = _newest(Customer)
                stored = " ".join(str(v) for v in customer.__data__.values()) + " ".join(v.value for v in customer.custom_values)
                assert "\x00" not in stored and "\u202e" not in stored
                if field == "name":
                    assert fts_row(customer.id)[0] == customer.name
                _assert_shown_escaped(rep_client, value, f"/customers/{customer.id}", "/customers",
                                      f"/customers/{customer.id}/edit")
            elif case == "long":
                assert "At most" in body(r) or "18 characters" in body(r)


@pytest.mark.parametrize("field", ["name", "short_name", "address", "tags", "custom_brand", "custom_founded"])
def test_bad_input_customer_edit(rep_client, rep, make_customer, custom_fields, subtests, field):
    customer = make_customer(owner=rep, name="原来的名字有限公司")
    for case in ("long", "html", "nul", "bidi", "sql", "emoji", "empty"):
        with subtests.test(case=case):
            value = BAD[case]
            before = row_counts()
            original = Customer.get_by_id(customer.id).__data__
            r = rep_client.post(f"/customers/{customer.id}/edit",
                                data=customer_form(**{"name": "原来的名字有限公司", field: value}), htmx=True)
            if r.status_code == 204 and row_counts() == before:
                continue  # nothing changed (e.g. emptying an empty field): nothing to record
            saved = _assert_safe(r, before, {"audit_event": 1})
            if saved:
                _assert_shown_escaped(rep_client, value, f"/customers/{customer.id}",
                                      f"/customers/{customer.id}/timeline", f"/customers/{customer.id}/edit")
            else:
                assert Customer.get_by_id(customer.id).__data__ == original


@pytest.mark.parametrize("field", CONTACT_TEXT_FIELDS)
def test_bad_input_contact(rep_client, rep, make_customer, subtests, field):
    customer = make_customer(owner=rep)
    for case, value in BAD.items():
        with subtests.test(case=case):
            data = {"name": "王伟", **{field: value}}
            before = row_counts()
            r = rep_client.post(f"/customers/{customer.id}/contacts/new", data=data)
            saved = _assert_safe(r, before, {"contact": 1, "audit_event": 1})
            if saved:
                contact = _newest(Contact)
                stored = " ".join(str(v) for v in contact.__data__.values())
                assert "\x00" not in stored and "\u202e" not in stored
                assert fts_row(customer.id) is not None
                _assert_shown_escaped(rep_client, value, f"/customers/{customer.id}?tab=contacts",
                                      f"/customers/{customer.id}",
                                      f"/customers/{customer.id}/contacts/{contact.id}/edit")
                # Editing it with the same bad value changes nothing, and breaks nothing.
                before = row_counts()
                r = rep_client.post(f"/customers/{customer.id}/contacts/{contact.id}/edit", data=data)
                assert r.status_code == 303 and row_counts() == before


@pytest.mark.parametrize("field", FOLLOWUP_TEXT_FIELDS)
def test_bad_input_follow_up(rep_client, rep, make_customer, subtests, field):
    customer = make_customer(owner=rep)
    for case, value in BAD.items():
        with subtests.test(case=case):
            data = {"type": "call", "content": GOOD_CONTENT, "next_step": "回访", "next_date": "2026-12-01",
                    field: value}
            before, state = row_counts(), Customer.get_by_id(customer.id).__data__
            r = rep_client.post(f"/customers/{customer.id}/followups/new", data=data)
            saved = _assert_safe(r, before, {"follow_up": 1, "audit_event": 1})
            if field in ("at", "next_date") and case in ("date", "old_date"):
                assert not saved
            if saved:
                followup = _newest(FollowUp)
                assert "\x00" not in followup.content + followup.outcome + followup.next_step
                _assert_shown_escaped(rep_client, value, f"/customers/{customer.id}?tab=followups",
                                      f"/customers/{customer.id}")
            else:
                assert Customer.get_by_id(customer.id).__data__ == state


@pytest.mark.parametrize("field, value", [
    ("industry_id", "abc"), ("industry_id", "99999"), ("industry_id", "99999999999999999999999"),
    ("region_id", "-1"), ("region_id", "99999999999999999999999"),
    ("business_model", SCRIPT), ("source", ""), ("size", "huge"), ("first_channel", "telepathy"),
    ("owner_id", "99999999999999999999999"), ("owner_id", "abc"), ("stage", "'; DROP TABLE customer; --"),
])
def test_bad_input_in_customer_selects(client, make_user, field, value):
    client.login(make_user("admin"))
    before = row_counts()
    r = client.post("/customers/new", data=customer_form(**{field: value}))
    assert r.status_code in (200, 303)
    assert SCRIPT not in body(r)
    if r.status_code == 200:
        assert row_counts() == before


@pytest.mark.parametrize("field, value", [("decision_role", SCRIPT), ("reports_to_id", "99999999999999999999999"),
                                          ("reports_to_id", "-5"), ("reports_to_id", "\x00")])
def test_bad_input_in_contact_selects(rep_client, rep, make_customer, field, value):
    customer = make_customer(owner=rep)
    before = row_counts()
    r = rep_client.post(f"/customers/{customer.id}/contacts/new", data={"name": "王伟", field: value})
    assert r.status_code == 200 and SCRIPT not in body(r)
    assert row_counts() == before


@pytest.mark.parametrize("field, value", [("type", SCRIPT), ("contact_id", "99999999999999999999999"),
                                          ("contact_id", "abc"), ("at", "2026-11-24T25:61")])
def test_bad_input_in_follow_up_selects(rep_client, rep, make_customer, field, value):
    customer = make_customer(owner=rep)
    before = row_counts()
    r = rep_client.post(f"/customers/{customer.id}/followups/new",
                        data={"type": "call", "content": GOOD_CONTENT, field: value})
    assert r.status_code == 200 and SCRIPT not in body(r)
    assert row_counts() == before


def test_many_values_for_one_field_do_not_break_the_form(rep_client):
    r = rep_client.post("/customers/new", data={"name": ["甲公司", "乙公司"], "business_model": "consumer",
                                                "source": "website"})
    assert r.status_code == 303
    assert Customer.get().name == "甲公司"


def test_group_name_creates_one_group_per_name(rep_client):
    # two clearly different names: look-alikes would need a duplicate reason (tests/test_duplicates.py)
    rep_client.post("/customers/new", data=customer_form(name="申洲针织（宁波）有限公司", group_name="申洲集团"))
    rep_client.post("/customers/new", data=customer_form(name="申洲服装（衢州）有限公司", group_name="申洲集团"))
    assert CustomerGroup.select().count() == 1
    assert Customer.select().where(Customer.group.is_null(False)).count() == 2
