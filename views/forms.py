"""The one way a view shows a models `ValidationError`: its problems, translated, by field.

The verbs in models/ validate (through models/fields.py) and raise `ValidationError({field: [(message,
params)]})`; a view catches it and hands it here, for a WTForms form or for the errors dict its template
reads. WTForms renders and coerces; it does not validate.

Every form here subclasses `Form`: its fields render through `render_control` — the same HTML WTForms'
widgets write (tests/test_form_rendering.py compares them), without their per-attribute `Markup.format`
(a customer's page drew its follow-up form in ~1 ms, a third of the page). A widget it does not know
(a subclass, a datalist, option groups) still renders through WTForms. `form_field` is the templates'
`field` (templates/_macros.html): the label, the control and the inline error slot.
"""
from markupsafe import Markup, escape
from wtforms import Form as WTForm
from wtforms import widgets
from wtforms.meta import DefaultMeta
from wtforms.widgets.core import _DateTimeBaseInput, clean_key

from views.i18n import translate_error

_INPUTS = (widgets.TextInput, widgets.PasswordInput, widgets.CheckboxInput, widgets.DateInput,
           widgets.DateTimeLocalInput, widgets.NumberInput, widgets.HiddenInput, widgets.EmailInput,
           widgets.TelInput, widgets.SearchInput, widgets.TimeInput)


_QUOT = Markup("&quot;")


_NAMES = {}  # an attribute's name as written (clean_key, escaped), per keyword given: a few dozen names


def _name(key):
    name = _NAMES.get(key)
    if name is None:
        name = _NAMES[key] = str(escape(clean_key(key)))
    return name


def html_attributes(attrs):
    """WTForms' `html_params` (sorted by name; True: the bare name; False: left out), written directly."""
    out = []
    for key, value in sorted(attrs.items()):
        if value is True:
            out.append(_name(key))
        elif value is not False:
            text = escape(value)  # escapes a text's quotes; a Markup value keeps its own, written as &quot;
            out.append(f'{_name(key)}="{text.replace(chr(34), _QUOT) if hasattr(value, "__html__") else text}"')
    return " ".join(out)


def _plain_choices(field):
    """A select's choices as (value, label) pairs when they are plain 2-tuples or texts (no option groups, no
    per-option attributes, no callables): the options written without WTForms' two objects per choice."""
    choices = field.choices
    if type(choices) is not list:
        return None
    out = []
    for choice in choices:
        kind = type(choice)
        if kind is tuple and len(choice) == 2:
            out.append(choice)
        elif kind is str:
            out.append((choice, choice))
        else:
            return None
    return out


def _flags(widget, field, attrs, call):
    """The validation flags the widget shows as attributes (required, maxlength, ...), unless given."""
    flags = getattr(field, "flags", None)
    for key in (vars(flags) if flags is not None else ()):
        if key in widget.validation_attrs and key not in attrs:
            value = getattr(flags, key)
            attrs[key] = value() if call and callable(value) else value


def _input(widget, field, attrs):
    if isinstance(widget, widgets.NumberInput):
        for key in ("step", "min", "max"):
            if getattr(widget, key) is not None:
                attrs.setdefault(key, getattr(widget, key))
    elif getattr(field, "format", None) is not None and isinstance(widget, _DateTimeBaseInput):
        fmt = field.format[0] if isinstance(field.format, list) else field.format
        for key in ("min", "max"):  # a date or time bound in the field's own format
            value = attrs.get(key, getattr(field.flags, key, None))
            value = value() if callable(value) else value
            if hasattr(value, "strftime"):
                attrs[key] = value.strftime(fmt)
    attrs.setdefault("id", field.id)
    attrs.setdefault("type", widget.input_type)
    if type(widget) is widgets.PasswordInput and widget.hide_value:
        attrs["value"] = ""
    if type(widget) is widgets.CheckboxInput and getattr(field, "checked", field.data):
        attrs.setdefault("checked", True)
    if "value" not in attrs:
        attrs["value"] = field._value()
    _flags(widget, field, attrs, call=True)
    attrs["name"] = field.name
    return f"<input {html_attributes(attrs)}>"


def _textarea(widget, field, attrs):
    attrs.setdefault("id", field.id)
    _flags(widget, field, attrs, call=False)
    attrs["name"] = field.name
    return f"<textarea {html_attributes(attrs)}>\r\n{escape(field._value())}</textarea>"


def _select(widget, field, attrs):
    attrs.setdefault("id", field.id)
    if widget.multiple:
        attrs["multiple"] = True
    _flags(widget, field, attrs, call=False)
    attrs["name"] = field.name
    html = [f"<select {html_attributes(attrs)}>"]
    plain = _plain_choices(field)
    if plain is not None:
        coerce, data = field.coerce, field.data
        many = type(widget) is widgets.Select and widget.multiple
        chosen = (data or ()) if many else None
        for value, text in plain:
            selected = coerce(value) in chosen if many else coerce(value) == data
            shown = str(value) if isinstance(value, bool) else value
            html.append(f'<option {"selected " if selected else ""}value="{escape(shown)}">'
                        f"{escape(text or value)}</option>")
        html.append("</select>")
        return "".join(html)
    for choice in field._iter_choices_normalized():
        value = str(choice.value) if isinstance(choice.value, bool) else choice.value
        option = {"value": value, **(choice.render_kw or {})}
        if choice.selected:
            option["selected"] = True
        html.append(f"<option {html_attributes(option)}>{escape(choice.label or choice.value)}</option>")
    html.append("</select>")
    return "".join(html)


_KNOWN = frozenset(_INPUTS + (widgets.TextArea, widgets.Select))


def render_control(field, attrs):
    """The field's control as its widget would render it with `attrs`, or None for a widget not written here."""
    widget = field.widget
    kind = type(widget)
    if kind in _INPUTS:
        if getattr(field, "_datalist", None) is not None:
            return None
        return _input(widget, field, attrs)
    if kind is widgets.TextArea:
        return _textarea(widget, field, attrs)
    if kind is widgets.Select:
        if field.has_groups():
            return None
        return _select(widget, field, attrs)
    return None


class _Meta(DefaultMeta):
    def render_field(self, field, render_kw):
        attrs = {clean_key(k): v for k, v in render_kw.items()}
        extra = getattr(field, "render_kw", None)
        if extra is not None:
            attrs = dict({clean_key(k): v for k, v in extra.items()}, **attrs)
        html = render_control(field, dict(attrs))
        return field.widget(field, **attrs) if html is None else Markup(html)


class Form(WTForm):
    """A WTForms form whose fields render through `render_control`."""

    Meta = _Meta


_DRAWN = {}  # form_field's HTML of a field without errors, by everything it is drawn from
_DRAWN_MAX = 20_000


def _drawn_key(f, check, hint, cls, attrs):
    """Everything `form_field` draws a field from — what the field is (its kind, widget, name, label, flags,
    format), what it holds (data, text, choices) and how the template asks for it — or None when the field has
    errors, is of a kind not written here, or holds something not plainly comparable: then it is drawn."""
    if f.errors or getattr(f, "_datalist", None) is not None or type(f.widget) not in _KNOWN:
        return None
    data = f.data
    if isinstance(data, list):
        data = tuple(data)
    choices = None
    if getattr(f, "choices", None) is not None:
        plain = _plain_choices(f)
        if plain is None:
            return None
        choices = (tuple(plain), f.coerce)
    text = f._value() if hasattr(f, "_value") else None
    typed = lambda items: tuple(sorted((k, type(v), v) for k, v in items))  # noqa: E731  (a Markup is not its text)
    label = f.label.text
    key = (type(f), f.widget, f.id, f.name, type(label), label, type(text), text, type(data), data, choices,
           typed(vars(f.flags).items()), typed((f.render_kw or {}).items()), getattr(f, "format", None),
           check, type(hint), hint, type(cls), cls, typed(attrs.items()))
    try:
        hash(key)
    except TypeError:
        return None
    return key


def form_field(f, check=None, customer=None, hint=None, cls="", attrs={}):  # noqa: B006 (read, never changed)
    """A form field as the templates show one: its label, its control and the slot for its inline error,
    which htmx fills when `check` (a URL) answers for the field as it is typed. `customer`: unused (the
    templates name it for the reader). A field without errors is drawn once per everything it is drawn from
    (`_drawn_key`: a form's fresh fields repeat on every page that shows it) and kept."""
    key = _drawn_key(f, check, hint, cls, attrs)
    html = _DRAWN.get(key) if key is not None else None
    if html is None:
        html = _draw_field(f, check, hint, cls, attrs)
        if key is not None and len(_DRAWN) < _DRAWN_MAX:
            _DRAWN[key] = html
    return html


def _draw_field(f, check, hint, cls, attrs):
    a = dict(attrs)
    a["aria-describedby"] = "err-" + f.id
    a["aria-invalid"] = "true" if f.errors else "false"
    if check:
        a.update({"hx-post": check, "hx-trigger": "change, input changed delay:500ms", "hx-target": "#err-" + f.id,
                  "hx-swap": "outerHTML", "hx-include": "#customer-id-field", "hx-sync": "this:replace"})
    hint_html = f'<small class="hint">{escape(hint)}</small>' if hint else ""
    return Markup(f'<div class="field {escape(cls)} {"has-error" if f.errors else ""}">\n'
                  f'  <label for="{escape(f.id)}">{escape(f.label.text)}</label>\n'
                  f"  {f(**a)}\n"
                  f"  {hint_html}\n"
                  f'  <span class="field-error" id="err-{escape(f.id)}">{Markup(" ").join(f.errors)}</span>\n'
                  "</div>")


def field_errors(exc, form=None, joined=False):
    """{field: [translated message, ...]} from `exc`; `joined=True` gives {field: "one line"} for templates
    that show one line per field. With a WTForms `form`, each problem also lands on its field (after what
    the field already holds), a `custom_<key>` one in `form.custom_errors` (the admin-defined fields have
    no WTForms field) and any other name in `form.form_errors`."""
    errors = {name: [translate_error(m, p) for m, p in problems] for name, problems in exc.errors.items()}
    if form is not None:
        form.custom_errors = getattr(form, "custom_errors", None) or {}
        for name, messages in errors.items():
            if name.startswith("custom_"):
                form.custom_errors[name] = messages
            elif name in form._fields:
                form[name].errors = list(form[name].errors or []) + messages
            else:
                form.form_errors.extend(messages)
    return {name: " ".join(messages) for name, messages in errors.items()} if joined else errors


def error_line(exc):
    """All of `exc`'s problems in one line, for a toast or a refusal shown above a form."""
    return " ".join(field_errors(exc, joined=True).values())
