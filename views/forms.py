"""The one way a view shows a models `ValidationError`: its problems, translated, by field.

The verbs in models/ validate (through models/fields.py) and raise `ValidationError({field: [(message,
params)]})`; a view catches it and hands it here, for a WTForms form or for the errors dict its template
reads. WTForms renders and coerces; it does not validate.
"""
from views.i18n import translate_error


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
