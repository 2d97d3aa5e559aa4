"""The pool ledger: one append-only `PoolEvent` row per change of hands (claims, releases, assignments,
locks, capacity, stakes, transfers, merges, rulings, delegations), written by the verb in its transaction."""
import peewee as pw

from models.base import BaseModel, JSONField
from models.customer_tables import Customer
from models.user_tables import User


class PoolEvent(BaseModel):
    """The ledger: claims, releases, assignments, locks, capacity changes and stakes. Append-only."""
    at = pw.DateTimeField()
    kind = pw.CharField(max_length=30)
    actor = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False)
    customer = pw.ForeignKeyField(Customer, null=True, on_delete="CASCADE", index=False)
    subject = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="subject_events")
    from_owner = pw.IntegerField(null=True)
    to_owner = pw.IntegerField(null=True)
    from_pool = pw.IntegerField(null=True)
    to_pool = pw.IntegerField(null=True)
    rule_version = pw.IntegerField(default=0)
    inputs = JSONField(default=dict)
    reason = pw.CharField(max_length=300, default="")

    class Meta:
        indexes = ((("customer", "id"), False), (("actor", "kind", "at"), False), (("kind", "at"), False),
                   (("subject", "kind", "at"), False), (("from_owner", "at"), False), (("from_owner", "kind", "at"), False),
                   (("to_owner", "at"), False),
                   (("kind", "rule_version", "at"), False))  # forced releases by rule version (models/appeals.py)


def record(kind, actor, customer, now, rules=None, subject=None, from_owner=None, to_owner=None, from_pool=None,
           to_pool=None, reason="", inputs=None):
    """Append a ledger row. `rules` is the rule version the verb decided under (its `version` is kept);
    actor, customer and subject may be rows or ids."""
    return PoolEvent.create(at=now, kind=kind, actor=getattr(actor, "id", actor),
                            customer=getattr(customer, "id", customer), subject=getattr(subject, "id", subject),
                            from_owner=from_owner, to_owner=to_owner, from_pool=from_pool, to_pool=to_pool,
                            rule_version=rules.version if rules is not None else 0, inputs=inputs or {},
                            reason=reason or "")
