"""Customer export (issue 14 point 8): the customer list a user sees, with its filters, as rows for a
spreadsheet. Rows come through `listing.filtered` (the customer scope), key contacts are masked where the
screen masks them (`customer.see_contacts`), cells that a spreadsheet would run as a formula are made text,
each export is audited, and a per-role row limit that admins set caps it."""
import datetime as dt

import peewee as pw
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from models import audit, clock
from models.base import BaseModel, db
from models.customers import (BUSINESS_MODEL_LABELS, SIZE_LABELS, SOURCE_LABELS, STAGE_LABELS, Contact, CustomField,
                              Customer, Industry, custom_values)
from models.errors import N_, DomainError, FieldErrors
from models.listing import filtered
from models.permissions import can, require
from models.user_tables import Region, Team, User

ROLES = ("sales", "manager", "marketing", "service", "admin")
DEFAULT_LIMITS = {"sales": 2_000, "manager": 20_000, "marketing": 50_000, "service": 20_000, "admin": 200_000}
MAX_LIMIT = 1_000_000
BATCH = 1000
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class ExportLimit(BaseModel):
    """The most rows one export may hold, per role (an admin's setting; DEFAULT_LIMITS where unset)."""
    role = pw.CharField(max_length=20, unique=True)
    max_rows = pw.IntegerField()
    updated_at = pw.DateTimeField()
    updated_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")


def limits():
    saved = {row.role: row.max_rows for row in ExportLimit.select()}
    return {role: saved.get(role, DEFAULT_LIMITS[role]) for role in ROLES}


def limit_for(user):
    return limits().get(user.role, 0)


def save_limits(actor, data):
    """Set the row limit of every role (a whole number from 0, which turns export off, to 1,000,000)."""
    require(actor, "export.settings")
    e, values = FieldErrors(), {}
    for role in ROLES:
        raw = str(data.get(role, "")).replace(",", "").strip()
        try:
            values[role] = int(raw)
            if not 0 <= values[role] <= MAX_LIMIT:
                raise ValueError
        except ValueError:
            e.add(role, N_("A whole number from %(lo)s to %(hi)s."), lo=0, hi=MAX_LIMIT)
    e.raise_if_any()
    now = clock.now()
    with db.atomic():
        before = limits()
        for role, value in values.items():
            (ExportLimit.insert(role=role, max_rows=value, updated_at=now, updated_by=actor.id)
             .on_conflict(conflict_target=[ExportLimit.role],
                          update={ExportLimit.max_rows: value, ExportLimit.updated_at: now,
                                  ExportLimit.updated_by: actor.id}).execute())
        audit.record("export.limits_changed", actor, None,
                     changes={r: [before[r], values[r]] for r in ROLES if before[r] != values[r]})
    return limits()


def safe_cell(value):
    """A cell no spreadsheet runs as a formula (CSV / formula injection): text starting with = + - @, a tab
    or a carriage return gets a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, (int, float, dt.date)) and not isinstance(value, bool):
        return value
    text = ILLEGAL_CHARACTERS_RE.sub("", str(value))  # control characters a workbook cannot hold
    return "'" + text if text.startswith(FORMULA_STARTS) else text


COLUMNS = (
    ("id", N_("ID")), ("name", N_("Company name")), ("short_name", N_("Short name")), ("credit_code", N_("Credit code")),
    ("stage", N_("Stage")), ("grade", N_("Grade")), ("owner", N_("Owner")), ("team", N_("Team")),
    ("industry", N_("Industry")), ("region", N_("Region")), ("city", N_("City")), ("address", N_("Address")),
    ("phone", N_("Phone")), ("website", N_("Website")), ("size", N_("Size")),
    ("business_model", N_("Business model")), ("source", N_("Source")), ("tags", N_("Tags")),
    ("contact", N_("Contact")), ("contact_mobile", N_("Contact's mobile")), ("contact_email", N_("Contact's e-mail")),
    ("created_at", N_("Created")), ("last_followup_at", N_("Last follow-up")),
)


def start_export(actor, f, fmt):
    """Check the export against the user's row limit and audit it (who, how many rows, which filters) before
    the first row is sent. Returns the number of rows; DomainError over the limit."""
    require(actor, "customer.export")
    limit = limit_for(actor)
    if limit <= 0:
        raise DomainError(N_("Exporting is turned off for your role."))
    capped = filtered(actor, f).select(pw.SQL("1")).limit(limit + 1)
    count = Customer.select(pw.fn.COUNT(pw.SQL("*"))).from_(capped.alias("capped")).scalar()
    if count > limit:
        raise DomainError(N_("This list has more than %(n)s customers, the most your role may export at once. "
                             "Narrow it with the filters and export again."), n=limit)
    with db.atomic():
        audit.record("customer.exported", actor, None, rows=count, format=fmt, filters=f.as_args())
    return count


def export_rows(actor, f, translate, locale, mask):
    """The header and then one list per customer, keyset-paged (BATCH rows per query, their owners, teams
    and first contacts in one query each). `translate` turns labels into the user's language; `mask` is the
    screen's masking of a key contact detail."""
    custom = list(CustomField.select().where(CustomField.active == True).order_by(CustomField.position))  # noqa: E712
    yield [translate(label) for _, label in COLUMNS] + [c.label(locale) for c in custom]
    industries = {i.id: i.label(locale) for i in Industry.select()}
    regions = {r.id: r.label(locale) for r in Region.select()}
    teams = {t.id: t.name for t in Team.select(Team.id, Team.name)}
    last = None
    while True:
        q = filtered(actor, f).order_by(Customer.id).limit(BATCH)
        if last is not None:
            q = q.where(Customer.id > last)
        rows = list(q)
        if not rows:
            return
        last = rows[-1].id
        owners = {u.id: u.full_name for u in User.select(User.id, User.full_name)
                  .where(User.id.in_({c.owner_id for c in rows if c.owner_id}))}
        custom_of = custom_values([c.id for c in rows]) if custom else {}
        contacts = {}
        for person in (Contact.select(Contact.customer, Contact.name, Contact.mobile, Contact.phone, Contact.email)
                       .where(Contact.customer.in_([c.id for c in rows]) & (Contact.active == True))  # noqa: E712
                       .order_by(Contact.id)):
            contacts.setdefault(person.customer_id, person)
        for c in rows:
            person = contacts.get(c.id)
            shown = can(actor, "customer.see_contacts", c)
            phone = c.phone if shown else mask(c.phone)
            mobile = (person.mobile or person.phone) if person else ""
            email = person.email if person else ""
            if not shown:
                mobile, email = mask(mobile), mask(email)
            values = [c.id, c.name, c.short_name, c.credit_code or "", translate(STAGE_LABELS.get(c.stage, c.stage)),
                      c.grade, owners.get(c.owner_id, ""), teams.get(c.team_id, ""), industries.get(c.industry_id, ""),
                      regions.get(c.region_id, ""), c.city, c.address, phone, c.website,
                      translate(SIZE_LABELS[c.size]) if c.size in SIZE_LABELS else "",
                      translate(BUSINESS_MODEL_LABELS.get(c.business_model, c.business_model)),
                      translate(SOURCE_LABELS.get(c.source, c.source)), c.tags, person.name if person else "",
                      mobile, email, clock.to_local(c.created_at).strftime("%Y-%m-%d %H:%M"),
                      clock.to_local(c.last_followup_at).strftime("%Y-%m-%d %H:%M") if c.last_followup_at else ""]
            values += [custom_of.get(c.id, {}).get(field.key, "") for field in custom]
            yield [safe_cell(v) for v in values]
