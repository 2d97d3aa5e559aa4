"""Admin-owned settings: the custom profile fields shown on every customer file."""
import re

from models import audit
from models.base import db
from models.customers import CustomField
from models.fields import FieldError, clean_text, parse_int
from models.errors import N_, ValidationError
from models.permissions import require

KEY_RE = re.compile(r"^[a-z][a-z0-9_]{1,29}$")
KINDS = ("text", "number", "date", "choice")


def save_custom_field(actor, data, field=None):
    """Create or edit a custom field; the key is fixed once created (stored values refer to it)."""
    require(actor, "settings.manage")
    errors = {}
    key = (data.get("key") or "").strip().lower() if field is None else field.key
    if field is None:
        if not KEY_RE.match(key):
            errors["key"] = [(N_("2–30 characters: lower-case letters, digits, underscore; start with a letter."), {})]
        elif CustomField.select().where(CustomField.key == key).exists():
            errors["key"] = [(N_("This key is taken."), {})]
    labels = {}
    for name in ("label_zh", "label_en"):
        labels[name] = clean_text(data.get(name), 40)
        if not labels[name]:
            errors[name] = [(N_("1 to 40 characters."), {})]
    kind = data.get("kind")
    if kind not in KINDS:
        errors["kind"] = [(N_("Choose one of the options."), {})]
    choices = clean_text(data.get("choices"), 400)
    if choices is None:
        errors["choices"] = [(N_("At most %(n)s characters."), {"n": 400})]
    elif kind == "choice" and not [c for c in choices.replace("，", ",").split(",") if c.strip()]:
        errors["choices"] = [(N_("List the choices, separated by commas."), {})]
    numbers = {}
    for name, lo, hi in (("weight", 0, 50), ("position", 0, 999)):
        try:
            numbers[name] = parse_int(data.get(name) or 0, lo, hi)
        except FieldError as exc:
            errors[name] = [(exc.message, exc.params)]
    if errors:
        raise ValidationError(errors)
    with db.atomic():
        created = field is None
        field = field or CustomField(key=key)
        field.label_zh, field.label_en, field.kind = labels["label_zh"], labels["label_en"], kind
        field.choices = ",".join(c.strip() for c in (choices or "").replace("，", ",").split(",") if c.strip())
        field.required, field.active = bool(data.get("required")), bool(data.get("active"))
        field.weight, field.position = numbers["weight"], numbers["position"]
        field.save()
        audit.record("settings.custom_field_" + ("created" if created else "updated"), actor, key=key)
    return field
