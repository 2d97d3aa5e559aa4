"""Domain errors carry a message a person can read (English source text, translated by the views)."""


def N_(message):
    """Marks a message for translation without translating it here (models never import Flask)."""
    return message


class DomainError(Exception):
    """A rule refused the action. `message` is translatable text, `params` fill its %(name)s slots."""

    def __init__(self, message, **params):
        super().__init__(message % params if params else message)
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
