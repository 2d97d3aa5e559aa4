"""models/fields.py, the one field-parsing module, at its boundaries; views/forms.py, the one way a view
shows a ValidationError; the customer's profile fields spelled once; the inline check of one field."""
import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import pytest
from wtforms import Form, StringField

from models import fields as f
from models.customers import AUDITED_FIELDS, PROFILE_CHECKS, PROFILE_FIELDS, Customer, validate_customer
from models.errors import FieldErrors, ValidationError
from models.merges import MERGE_FIELDS
from tests.test_import_graph import import_graph

ROOT = Path(__file__).resolve().parent.parent
HUGE = str(2**63)  # one past SQLite's (and int64's) largest integer
ODD = ["", "   ", "\x00", "🙂", "x" * 10_000, None]  # what hostile or careless input looks like


def refusal(parse, *args, **kw):
    with pytest.raises(f.FieldError) as caught:
        parse(*args, **kw)
    assert isinstance(caught.value, ValueError)  # callers that catch ValueError keep working
    return caught.value.message % caught.value.params if caught.value.params else caught.value.message


# ---- the module stands on the ground floor ------------------------------------------------------------

def test_the_field_module_imports_no_domain_and_no_web():
    assert import_graph()["models.fields"] <= {"models.errors"}
    text = (ROOT / "models" / "fields.py").read_text(encoding="utf-8")
    assert not re.search(r"^\s*(from|import) (flask|wtforms|werkzeug|peewee)", text, re.M)


def test_no_module_keeps_its_own_int_parser_or_error_mapper():
    helpers = re.compile(r"^def (_int|_parse_int|_int_id|_parse_id|_id_or_none|_truthy|_decimal_field|_date_field"
                         r"|_amount_field|_date|_errors|_apply_errors|_apply|parse_day)\(", re.M)
    found = [(p.name, m.group(1)) for package in ("models", "views") for p in sorted((ROOT / package).glob("*.py"))
             for m in helpers.finditer(p.read_text(encoding="utf-8"))]
    assert found == []


# ---- text ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, expected", [
    ("", ""), ("   ", ""), (None, ""), ("\x00", ""), ("a\x00b", "ab"), ("王\u202e经理", "王经理"),
    ("🙂 ok", "🙂 ok"), ("  two   words ", "two words"), ("x" * 10_000, None), ("x" * 200, "x" * 200)])
def test_clean_text(raw, expected):
    assert f.clean_text(raw, 200) == expected


def test_clean_text_keeps_lines_only_when_multiline():
    assert f.clean_text("a\r\nb", 10, multiline=True) == "a\r\nb" and f.clean_text("a\r\nb", 10) == "a b"


@pytest.mark.parametrize("raw, required, problem", [
    ("", True, "Required."), ("   ", True, "Required."), ("\x00", True, "Required."), ("", False, None),
    ("x" * 10_000, False, "At most 100 characters."), ("🙂", True, None)])
def test_text_field_and_parse_text_agree(raw, required, problem):
    e = FieldErrors()
    f.text_field({"t": raw}, e, "t", 100, required=required)
    if problem is None:
        assert "t" not in e
        assert f.parse_text(raw, 100, required=required) == f.clean_text(raw, 100)
    else:
        assert e["t"][0][0] % e["t"][0][1] == problem == refusal(f.parse_text, raw, 100, required=required)


def test_choice_and_bool():
    assert f.parse_choice("a", ("a", "b")) == "a" and f.parse_choice("A", ("a",)) is None
    assert f.parse_choice(None, ("a",)) is None and f.parse_choice("", ("a",)) is None
    assert all(f.parse_bool(v) for v in ("1", "yes", " TRUE ", "on", "是", "x", "Y"))
    assert not any(f.parse_bool(v) for v in ("", None, "0", "no", "off", "\x00", "🙂", "x" * 10_000))


# ---- numbers ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, value", [
    ("12", 12), (" 7 ", 7), ("-5", -5), ("0", 0), ("１２", 12), (str(2**63 - 1), 2**63 - 1), (str(-2**63), -2**63),
    (HUGE, None), (str(-2**63 - 1), None), ("9" * 5000, None), ("1.5", None), ("1,000", None), ("12abc", None),
    *[(v, None) for v in ODD]])
def test_int_or_none(raw, value):
    assert f.int_or_none(raw) == value


def test_parse_int_names_its_range():
    assert f.parse_int("365", 1, 365) == 365
    for raw in ("0", "366", "-1", HUGE, "", "🙂", None, "x" * 10_000):
        assert refusal(f.parse_int, raw, 1, 365) == "A whole number from 1 to 365."


@pytest.mark.parametrize("raw, value", [
    ("1", 1), ("１２", 12), (" 42 ", 42), (str(2**63 - 1), 2**63 - 1), ("0", None), ("-3", None), (HUGE, None),
    *[(v, None) for v in ODD]])
def test_ids(raw, value):
    assert f.id_or_none(raw) == value
    if value is None:
        with pytest.raises(ValueError):
            f.parse_id(raw)
    else:
        assert f.parse_id(raw) == value


@pytest.mark.parametrize("raw, value", [
    ("1,280.50", "1280.50"), ("¥ 99", "99.00"), ("１２３", "123.00"), ("１２３．５", "123.50"), ("0.01", "0.01"),
    ("9999999999.99", "9999999999.99")])
def test_parse_decimal(raw, value):
    assert f.parse_decimal(raw) == Decimal(value)


@pytest.mark.parametrize("raw, problem", [
    ("", "Required."), ("   ", "Required."), (None, "Required."), ("-1", "Must not be negative."),
    ("0", "Must be more than zero."), ("12.345", "At most two decimal places."),
    ("10000000000", "That number is too large."), ("NaN", "Enter a number such as 1280.50."),
    ("Infinity", "Enter a number such as 1280.50."), ("\x00", "Enter a number such as 1280.50."),
    ("🙂", "Enter a number such as 1280.50."), ("9" * 10_000, "Enter a number such as 1280.50.")])
def test_parse_decimal_refuses(raw, problem):
    assert refusal(f.parse_decimal, raw) == problem


def test_parse_decimal_may_allow_zero():
    assert f.parse_decimal("0", allow_zero=True) == Decimal("0.00")


@pytest.mark.parametrize("raw, value", [
    ("12500", "12500"), ("12,500.50", "12500.50"), ("1,200,000", "1200000"), ("¥12 500", "12500"), ("１２", "12"),
    ("", None), ("   ", None), (None, None)])
def test_parse_money(raw, value):
    assert f.parse_money(raw) == (Decimal(value) if value else None)


@pytest.mark.parametrize("raw, problem", [
    ("1,2,3", "Enter an amount in yuan, e.g. 12500 or 12,500.50."), ("12,50", "Enter an amount in yuan, e.g. 12500 or 12,500.50."),
    ("-5", "Enter an amount in yuan, e.g. 12500 or 12,500.50."), ("1.234", "Enter an amount in yuan, e.g. 12500 or 12,500.50."),
    ("\x00", "Enter an amount in yuan, e.g. 12500 or 12,500.50."), ("🙂", "Enter an amount in yuan, e.g. 12500 or 12,500.50."),
    ("9" * 10_000, "That amount is too large."), ("1000000000000", "That amount is too large.")])
def test_parse_money_refuses(raw, problem):
    assert refusal(f.parse_money, raw) == problem


def test_parse_money_required_and_positive():
    assert refusal(f.parse_money, "", required=True) == "Required."
    assert refusal(f.parse_money, "0", positive=True) == "Enter an amount above zero."


@pytest.mark.parametrize("raw, value", [
    ("300000", "300000.00"), ("300,000.50", "300000.50"), ("¥30万", "300000.00"), ("1.5万", "15000.00"),
    ("2亿", "200000000.00"), ("３０万", "300000.00"), ("", None), ("   ", None)])
def test_parse_yuan(raw, value):
    assert f.parse_yuan(raw) == (Decimal(value) if value else None)


@pytest.mark.parametrize("raw, problem", [
    ("1.2.3", "Use one decimal point, e.g. 300000.50 (thousands may be separated by commas)."),
    ("12,50", "Use one decimal point, e.g. 300000.50 (thousands may be separated by commas)."),
    ("-5", "Enter an amount in yuan: digits only, e.g. 300000 or 30万."),
    ("🙂", "Enter an amount in yuan: digits only, e.g. 300000 or 30万."),
    ("\x00", "Enter an amount in yuan: digits only, e.g. 300000 or 30万."),
    ("1.001", "At most two decimals (fen)."), ("9" * 10_000, "That amount is too large.")])
def test_parse_yuan_refuses(raw, problem):
    assert refusal(f.parse_yuan, raw) == problem


# ---- dates ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, value", [
    ("2026-11-24", dt.date(2026, 11, 24)), (" 2026-11-24 ", dt.date(2026, 11, 24)), ("1900-01-01", dt.date(1900, 1, 1)),
    ("2100-12-31", dt.date(2100, 12, 31)), ("2024-02-29", dt.date(2024, 2, 29))])
def test_parse_date(raw, value):
    assert f.parse_date(raw) == value


@pytest.mark.parametrize("raw, problem", [
    ("0000-01-01", "Enter a date as YYYY-MM-DD."), ("9999-12-31", "Enter a date between 1900 and 2100."),
    ("1899-12-31", "Enter a date between 1900 and 2100."), ("2026-02-29", "Enter a date as YYYY-MM-DD."),
    ("２０２６-０１-０１", "Enter a date as YYYY-MM-DD."), ("24/11/2026", "Enter a date as YYYY-MM-DD."),
    *[(v, "Enter a date as YYYY-MM-DD.") for v in ODD]])
def test_parse_date_refuses(raw, problem):
    assert refusal(f.parse_date, raw) == problem


def test_a_narrower_date_range_names_its_ends():
    lo, hi = dt.date(2026, 1, 1), dt.date(2026, 12, 31)
    assert refusal(f.parse_date, "2027-01-01", lo, hi) == "Enter a date between 2026-01-01 and 2026-12-31."


@pytest.mark.parametrize("raw, value", [
    ("09:30", dt.time(9, 30)), ("9:05", dt.time(9, 5)), ("00:00", dt.time(0, 0)), ("23:59", dt.time(23, 59)),
    ("１４：３０", dt.time(14, 30)), (" 08:00 ", dt.time(8, 0))])
def test_parse_time(raw, value):
    assert f.parse_time(raw) == value


@pytest.mark.parametrize("raw", ["24:00", "23:60", "9", "930", "09:3", "9.30", "", None, *ODD])
def test_parse_time_refuses(raw):
    assert refusal(f.parse_time, raw) == "Enter a time as HH:MM."


def test_date_field_required_or_optional():
    e = FieldErrors()
    assert f.date_field(e, {"d": "  "}, "d") is None and not e
    assert f.date_field(e, {}, "d", required=True) is None and e["d"] == [("Required.", {})]
    e = FieldErrors()
    assert f.date_field(e, {"d": "9999-12-31"}, "d", dt.date(2000, 1, 1), dt.date(2100, 12, 31)) is None
    assert e["d"] == [("Enter a date between %(lo)s and %(hi)s.", {"lo": "2000-01-01", "hi": "2100-12-31"})]


@pytest.mark.parametrize("raw", ["0000-01-01T00:00", "2026-13-01T10:00", "", "\x00", "🙂", "x" * 10_000, None])
def test_parse_datetime_refuses(raw):
    assert refusal(f.parse_datetime, raw) == "Enter a date and time."


def test_parse_datetime():
    assert f.parse_datetime(" 2026-11-24T10:05 ") == dt.datetime(2026, 11, 24, 10, 5)
    assert f.parse_datetime("9999-12-31T23:59") == dt.datetime(9999, 12, 31, 23, 59)


# ---- phones and codes ---------------------------------------------------------------------------------

@pytest.mark.parametrize("raw", ["", "   ", "\x00", "🙂", "x" * 10_000])
def test_phone_helpers_survive_junk(raw):
    assert isinstance(f.normalize_phone(raw), str)
    assert f.phone_error(raw) is not None


def test_full_width_phone_digits_count():
    assert f.normalize_phone("１３８ ００１３ ８０００") == "13800138000" and f.phone_error("１３８００１３８０００") is None


# ---- one mapping of a ValidationError in views ------------------------------------------------------------

def test_field_errors_maps_onto_a_dict_a_line_and_a_form(app):
    from views.forms import error_line, field_errors

    class SomeForm(Form):
        name = StringField()

    exc = ValidationError({"name": [("Required.", {}), ("At most %(n)s characters.", {"n": 5})],
                           "custom_size": [("Enter a number.", {})], "elsewhere": [("Choose a team.", {})]})
    with app.test_request_context(headers={"Cookie": "lang=en"}):
        assert field_errors(exc)["name"] == ["Required.", "At most 5 characters."]
        assert field_errors(exc, joined=True)["name"] == "Required. At most 5 characters."
        assert error_line(exc) == "Required. At most 5 characters. Enter a number. Choose a team."
        form = SomeForm()
        field_errors(exc, form)
    assert form.name.errors == ["Required.", "At most 5 characters."]
    assert form.custom_errors == {"custom_size": ["Enter a number."]} and form.form_errors == ["Choose a team."]


# ---- the customer's profile fields, spelled once --------------------------------------------------------

def test_the_profile_field_list_drives_form_checks_audit_and_merge(app):
    from views.customers import CustomerForm

    assert set(PROFILE_CHECKS) == {p.form for p in PROFILE_FIELDS}
    assert AUDITED_FIELDS == tuple(p.column for p in PROFILE_FIELDS)  # custom fields are audited as custom_<key>
    assert MERGE_FIELDS == tuple((p.column, p.label) for p in PROFILE_FIELDS)
    with app.test_request_context():
        form = CustomerForm()
    for p in PROFILE_FIELDS:
        assert form[p.form].type == ("SelectField" if p.kind == "choice" else "StringField")
        assert CustomerForm.LABELS[p.form] == p.label
        assert p.column in Customer._meta.columns


def test_validate_customer_still_checks_every_profile_field(app):  # it reads the custom fields
    bad = {p.form: "x" * 10_000 for p in PROFILE_FIELDS}
    with pytest.raises(ValidationError) as caught:
        validate_customer(bad)
    assert set(caught.value.errors) == {p.form for p in PROFILE_FIELDS}


def test_the_inline_check_validates_only_its_field(client, make_user):
    """No placeholder name or business model is filled in: the check reads the one field it is asked about."""
    client.login(make_user("sales"))
    for field, value, message in (("phone", "12", "Enter a mobile number"), ("credit_code", "123", "18 characters"),
                                  ("tags", "x" * 300, "At most 200 characters."), ("name", "", "Required."),
                                  ("size", "enormous", "Choose one of the options.")):
        r = client.post(f"/customers/check/{field}", {field: value}, htmx=True)
        assert r.status_code == 200 and message in r.get_data(as_text=True), field
    for field, value in (("phone", "021-6234 5678"), ("website", "www.example.com"), ("name", "华东贸易"),
                         ("size", ""), ("no_such_field", "x")):
        body = client.post(f"/customers/check/{field}", {field: value}, htmx=True).get_data(as_text=True)
        assert f'id="err-{field}"></span>' in body, (field, body)


@pytest.mark.parametrize("raw, value", [
    ("12.5", 12.5), ("-8", -8.0), ("+30 %", 30.0), ("−5％", -5.0), ("１２", 12.0), ("-100", -100.0), ("1000", 1000.0),
    ("0", 0.0)])
def test_parse_percent(raw, value):
    assert f.parse_percent(raw) == value


@pytest.mark.parametrize("raw, problem", [
    ("", "Required."), (None, "Required."), ("-100.1", "A percentage from -100 to 1000."),
    ("1000.1", "A percentage from -100 to 1000."), ("12.55", "At most one decimal place."),
    ("abc", "Enter a percentage such as 12.5 or -8."), ("1e3", "Enter a percentage such as 12.5 or -8."),
    ("NaN", "Enter a percentage such as 12.5 or -8."), ("9" * 5000, "Enter a percentage such as 12.5 or -8.")])
def test_parse_percent_refuses(raw, problem):
    assert refusal(f.parse_percent, raw) == problem


def test_clip_text_drops_control_characters_and_cuts_instead_of_refusing():
    assert f.clip_text("上海\x00 浦东\x1f\n新区", 40) == "上海 浦东 新区"
    assert f.clip_text("x" * 500, 40) == "x" * 40
    assert f.clip_text(None, 40) == ""


def test_decimal_text_is_the_same_for_either_engines_number():
    from decimal import Decimal

    assert f.decimal_text(Decimal("28.50")) == f.decimal_text(28.5) == "28.5"
    assert f.decimal_text(Decimal("100.00")) == f.decimal_text(100.0) == "100"
    assert f.decimal_text(None) == ""
