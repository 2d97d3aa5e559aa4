"""Audit rows: what happened to a record, by whom and when, written by verbs in their transaction.

The customer timeline is read from here; rows are append-only.
"""
import peewee as pw

from models import clock
from models.base import BaseModel, JSONField, kept_select
from models.keyset import first_page, keyset_page


class AuditEvent(BaseModel):
    at = pw.DateTimeField()
    actor = pw.DeferredForeignKey("User", null=True, on_delete="SET NULL", index=False)
    customer = pw.DeferredForeignKey("Customer", null=True, on_delete="CASCADE", index=False)
    kind = pw.CharField(max_length=40)
    data = JSONField(default=dict)

    class Meta:
        indexes = ((("customer", "id"), False), (("actor", "id"), False), (("kind", "id"), False))


# Functions (actor, customer) -> dict whose keys join a customer's audit row written by that actor:
# models/delegations.py adds `acting_for`, so a delegate's rows say whom they acted for.
_ANNOTATORS = []


def annotate(fn):
    """Register `fn(actor, customer) -> dict`, asked for every audit row with an actor and a customer."""
    if fn not in _ANNOTATORS:
        _ANNOTATORS.append(fn)
    return fn


def record(kind, actor=None, customer=None, **data):
    """Append one audit row. Call inside the verb's transaction."""
    if actor is not None and customer is not None and "acting_for" not in data:
        for fn in _ANNOTATORS:
            data.update(fn(actor, customer))
    return AuditEvent.create(
        at=clock.now(),
        actor=getattr(actor, "id", actor),
        customer=getattr(customer, "id", customer),
        kind=kind,
        data=data,
    )


def timeline(customer_id, before=None, limit=20):
    """A page of a customer's events, newest first, keyset-paginated on id (`before`: a page's `next`)."""
    events = lambda c: AuditEvent.select().where(AuditEvent.customer == c)  # noqa: E731
    if before is None:  # the customer's page opens on the first page: its statement kept
        return first_page(kept_select(("audit.timeline", limit), lambda c: events(c).order_by(AuditEvent.id.desc())
                                      .limit(limit + 1), customer_id), [AuditEvent.id], limit)
    return keyset_page(events(customer_id), [AuditEvent.id], after=before, limit=limit, descending=True)
