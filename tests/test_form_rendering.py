"""views/forms.py writes the fields' controls itself (render_control) and the templates' `field` in Python
(form_field): both must give the HTML WTForms and the old Jinja macro gave, byte for byte, for every kind of
field the app uses and for awkward values and attributes."""
import datetime as dt
import re
from pathlib import Path

import pytest
from jinja2 import Environment
from markupsafe import Markup
from werkzeug.datastructures import MultiDict
from wtforms import (BooleanField, DateField, DateTimeLocalField, DecimalField, EmailField, HiddenField, IntegerField,
                     PasswordField, SelectField, SelectMultipleField, StringField, TelField, TextAreaField)
from wtforms import Form as WTForm
from wtforms import validators
from wtforms.fields.choices import SelectChoice

from views.forms import Form, form_field, html_attributes, render_control

ROOT = Path(__file__).resolve().parent.parent
AWKWARD = ['a "quoted" <b>tag</b> & more', "中文 'single'", "", "x" * 300, "line\nbreak\r\n", Markup("<i>safe</i> \"q\"")]
CHOICES = [("", "—"), ("call", "Call"), ("visit", "拜访 <b>"), ("a&b", 'Quote "x"'), ("7", "")]
ATTRS = [{}, {"maxlength": 200}, {"required": True, "autofocus": True, "disabled": False},
         {"class_": "wide", "data_role": "x", "aria_label": "A <b>", "hx-post": "/c/1/check?x=1&y=2"},
         {"rows": 3, "placeholder": 'say "hi"', "value": "given", "title": Markup('a "b" <i>')}, {"id": "other-id", "type": "tel"}]


class Sample(WTForm):
    text = StringField("Text")
    required = StringField("Required", [validators.InputRequired(), validators.Length(max=30, min=2)])
    password = PasswordField("Password")
    shown = PasswordField("Shown", widget=PasswordField.widget.__class__(hide_value=False))
    area = TextAreaField("Area", [validators.Length(max=4000)])
    when = DateTimeLocalField("When", format="%Y-%m-%dT%H:%M")
    day = DateField("Day")
    number = IntegerField("Number")
    amount = DecimalField("Amount", places=2)
    flag = BooleanField("Flag")
    hidden = HiddenField("Hidden")
    email = EmailField("Email")
    tel = TelField("Tel")
    pick = SelectField("Pick", choices=CHOICES)
    picks = SelectMultipleField("Picks", choices=CHOICES)
    numbers = SelectField("Numbers", coerce=int, choices=[(1, "one"), (2, "two")])
    flags = SelectField("Flags", coerce=str, choices=[(True, "yes"), (False, "no")])
    plain = SelectField("Plain", choices=["call", "visit", "<b>&"])  # texts: value and label alike
    rich = SelectField("Rich", choices=[SelectChoice("a", "A <1>", render_kw={"data-x": '"1"', "disabled": True}),
                                        SelectChoice("visit", None), SelectChoice("", "—")])  # WTForms' own path


def _forms():
    yield Sample()
    for value in AWKWARD:
        text = str(value)
        yield Sample(MultiDict({"text": text, "required": text, "password": text, "shown": text, "area": text,
                                "when": "2026-12-06T10:30", "day": "2026-12-06", "number": "12", "amount": "3.5",
                                "flag": "y", "hidden": text, "email": text, "tel": text, "pick": "visit",
                                "picks": ["call", "a&b"], "numbers": "2", "flags": "True",
                                "plain": "<b>&", "rich": "visit"}))
    yield Sample(MultiDict({"when": "not a time", "day": "2026-02-30", "number": "x", "pick": "nope"}))
    form = Sample(data={"when": dt.datetime(2026, 1, 2, 3, 4), "day": dt.date(2027, 1, 1), "pick": "a&b", "flag": True})
    form.text.errors = ["Too long <b>", Markup("<i>marked</i>")]
    yield form


def test_each_control_is_what_its_wtforms_widget_writes():
    checked = 0
    for form in _forms():
        form.validate()
        for field in form:
            for attrs in ATTRS:
                mine = render_control(field, dict(attrs))
                assert mine is not None, field.name
                assert mine == field.widget(field, **attrs), (field.name, attrs)
                checked += 1
    assert checked > 500


def test_a_form_of_the_app_renders_through_render_control_and_the_same_html():
    class Mine(Form):
        pick = SelectField("Pick", choices=CHOICES)
        text = StringField("Text")

    class Theirs(WTForm):
        pick = SelectField("Pick", choices=CHOICES)
        text = StringField("Text")

    data = MultiDict({"pick": "a&b", "text": 'x "y" <z>'})
    mine, theirs = Mine(data), Theirs(data)
    for name in ("pick", "text"):
        assert mine[name](maxlength=5, class_="c") == theirs[name](maxlength=5, class_="c")
        assert isinstance(mine[name](), Markup)


def test_what_it_does_not_write_falls_back_to_wtforms():
    class Grouped(Form):
        grouped = SelectField("G", choices={"Group <1>": [("a", "A")], "Two": [("b", "B")]})
        radio = SelectField("R", choices=CHOICES, widget=type("MySelect", (SelectField.widget.__class__,), {})())

    form = Grouped()
    assert render_control(form.grouped, {}) is None
    assert render_control(form.radio, {}) is None
    assert "<optgroup" in form.grouped()
    assert form.radio() == SelectField.widget.__class__()(form.radio)


def test_attributes_sort_escape_and_drop_false_as_wtforms_does():
    from wtforms.widgets.core import html_params

    for attrs in ATTRS + [{"z": 1, "a": None, "m": 0, "b": Markup('"raw"'), "data_x_y": "1", "for_": "f"}]:
        assert html_attributes(attrs) == html_params(**attrs)


# The templates' `field` macro as it was written in Jinja (templates/_macros.html before form_field).
MACRO = '''{% macro field(f, check=None, customer=None, hint=None, cls="", attrs={}) -%}
<div class="field {{ cls }} {{ 'has-error' if f.errors }}">
  <label for="{{ f.id }}">{{ f.label.text }}</label>
  {%- set a = dict(attrs) %}
  {%- do a.update({'aria-describedby': 'err-' ~ f.id, 'aria-invalid': 'true' if f.errors else 'false'}) %}
  {%- if check %}
    {%- do a.update({'hx-post': check, 'hx-trigger': 'change, input changed delay:500ms', 'hx-target': '#err-' ~ f.id,
                     'hx-swap': 'outerHTML', 'hx-include': '#customer-id-field', 'hx-sync': 'this:replace'}) %}
  {%- endif %}
  {{ f(**a) }}
  {% if hint %}<small class="hint">{{ hint }}</small>{% endif %}
  <span class="field-error" id="err-{{ f.id }}">{{ f.errors | join(" ") }}</span>
</div>
{%- endmacro %}'''


@pytest.mark.parametrize("call", [
    "field(f)",
    "field(f, attrs={'maxlength': 200, 'required': True})",
    "field(f, check='/customers/check?field=name&x=1', hint='Hint <b> & \"q\"', cls='span-2 <x>')",
    "field(f, hint=h, attrs={'rows': 3, 'hx-post': '/x'})",
    "field(f, customer=1, cls='')",
])
def test_form_field_is_what_the_jinja_macro_wrote(call):
    env = Environment(autoescape=True, extensions=["jinja2.ext.do"])
    old = env.from_string(MACRO + "{{ " + call + " }}")
    new = env.from_string("{{ " + call + " }}", globals={"field": form_field})
    for form in _forms():
        form.validate()
        for f in form:
            expected = old.render(f=f, h=Markup("<em>marked</em>"))
            assert new.render(f=f, h=Markup("<em>marked</em>")) == expected, (f.name, call)


def test_every_form_of_the_app_is_a_views_forms_form():
    """A form class built on WTForms' own Form would render through its slow widgets (and escape the net)."""
    for path in (ROOT / "views").glob("*.py"):
        if path.name == "forms.py":
            continue
        for line in re.findall(r"^from wtforms import[^\n]*(?:\n\s+[^\n]*)?", path.read_text(), re.M):
            assert not re.search(r"\bForm\b", line), f"{path.name}: {line}"


def test_a_kept_field_is_drawn_again_when_anything_it_shows_changes():
    """form_field keeps a field's HTML by everything it is drawn from: the same field asked twice is the kept
    HTML; another value, label, error, choice, check or attribute is drawn anew."""
    fresh = Sample()
    first = form_field(fresh.text, attrs={"maxlength": 5})
    assert form_field(Sample().text, attrs={"maxlength": 5}) is first
    assert 'value="x&#34;"' in form_field(Sample(MultiDict({"text": 'x"'})).text, attrs={"maxlength": 5})
    relabelled = Sample()
    relabelled.text.label.text = "Other <b>"
    assert "Other &lt;b&gt;" in form_field(relabelled.text, attrs={"maxlength": 5})
    wrong = Sample()
    wrong.text.errors = ["Too long"]
    assert "has-error" in form_field(wrong.text, attrs={"maxlength": 5}) and "Too long" in form_field(wrong.text)
    assert "has-error" not in form_field(Sample().text, attrs={"maxlength": 5})
    assert 'maxlength="6"' in form_field(Sample().text, attrs={"maxlength": 6})
    assert "hx-post" in form_field(Sample().text, check="/check", attrs={"maxlength": 5})
    on, off = Sample(data={"flag": True}), Sample(data={"flag": False})
    assert " checked " in form_field(on.flag) and " checked " not in form_field(off.flag)
    picked = Sample(MultiDict({"pick": "visit"}))
    assert '<option selected value="visit">' in form_field(picked.pick)
    assert '<option selected value="visit">' not in form_field(Sample(MultiDict({"pick": "call"})).pick)
    other = Sample()
    other.pick.choices = [("x", "X")]
    assert 'value="x"' in form_field(other.pick) and 'value="call"' not in form_field(other.pick)


def test_a_marked_up_text_is_not_kept_as_the_same_plain_text():
    plain, marked = form_field(Sample().text, hint="<b>hint</b>"), form_field(Sample().text, hint=Markup("<b>hint</b>"))
    assert "&lt;b&gt;hint" in plain and "<b>hint</b>" in marked
    a = form_field(Sample().text, attrs={"title": "<i>"})
    b = form_field(Sample().text, attrs={"title": Markup("<i>")})
    assert a != b
