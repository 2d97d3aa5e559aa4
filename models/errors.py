"""Domain errors carry a message a person can read (English source text, translated by the views)."""
import datetime as dt


def N_(message):
    """Marks a message for translation without translating it here (models never import Flask)."""
    return message


def plain_values(params):
    """A message's values as a log line, a ledger reason or a stored notification keeps them: a time (stored,
    naive UTC) as business time, 2026-11-25 10:00. The pages write a time in the reader's language instead
    (views.i18n.translate_error), so a refusal passes the time itself."""
    if not any(isinstance(v, dt.datetime) for v in params.values()):
        return params
    from models.clock import to_local  # errors sit below everything, the clock included

    return {k: to_local(v).strftime("%Y-%m-%d %H:%M") if isinstance(v, dt.datetime) else v for k, v in params.items()}


class DomainError(Exception):
    """A rule refused the action. `message` is translatable text, `params` fill its %(name)s slots."""

    def __init__(self, message, **params):
        super().__init__(message % plain_values(params) if params else message)
        self.message = message
        self.params = params


class NotFound(DomainError):
    """No such record, or one the user may not see (the two are indistinguishable on purpose)."""

    def __init__(self):
        super().__init__(N_("Not found."))


class ValidationError(DomainError):
    """Field-level problems: `errors` maps field name to a list of (message, params)."""

    def __init__(self, errors):
        super().__init__(N_("Please correct the highlighted fields."))
        self.errors = errors


class FieldErrors(dict):
    """Collects a form's problems field by field while a verb validates, then raises them together."""

    def add(self, field, message, **params):
        self.setdefault(field, []).append((message, params))

    def raise_if_any(self):
        if self:
            raise ValidationError(dict(self))
