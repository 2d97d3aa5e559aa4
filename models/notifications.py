"""Notifications: what a user must know (releases, warnings, refused claims, lapsed stakes).

Rows, not messages in flight: a sweep that runs twice writes a warning once (dedupe_key).
"""
import peewee as pw

from models import clock
from models.base import BaseModel, JSONField, db
from models.customer_tables import Customer
from models.user_tables import User


class Notification(BaseModel):
    user = pw.ForeignKeyField(User, on_delete="CASCADE", index=False)
    at = pw.DateTimeField()
    kind = pw.CharField(max_length=40)
    message = pw.CharField(max_length=300)  # English source text with %(name)s slots, translated on display
    params = JSONField(default=dict)
    customer = pw.ForeignKeyField(Customer, null=True, on_delete="CASCADE", index=False)
    read_at = pw.DateTimeField(null=True)
    dedupe_key = pw.CharField(max_length=120, null=True, unique=True)

    class Meta:
        indexes = ((("user", "read_at", "id"), False),)


def notify(user_id, kind, message, customer_id=None, dedupe_key=None, **params):
    """Write a notification (inside the caller's transaction). With a dedupe key, at most once: the row is
    written in a savepoint, so a twin another transaction wrote meanwhile (PostgreSQL has no BEGIN
    IMMEDIATE: two sweeps at once both find none) is refused by the unique index without breaking the
    caller's transaction."""
    row = dict(user=user_id, at=clock.now(), kind=kind, message=message, params=params, customer=customer_id,
               dedupe_key=dedupe_key)
    if not dedupe_key:
        return Notification.create(**row)
    twin = Notification.select().where(Notification.dedupe_key == dedupe_key)
    if twin.exists():
        return None
    try:
        with db.atomic():
            return Notification.create(**row)
    except pw.IntegrityError:
        if twin.exists():
            return None
        raise  # another constraint (a user or customer that is gone)


def unread_count(user):
    return Notification.select().where((Notification.user == user.id) & Notification.read_at.is_null()).count()


def latest(user, limit=30):
    """A user's notifications, newest first (the notifications page pages it with models.keyset)."""
    return Notification.select().where(Notification.user == user.id).order_by(Notification.id.desc()).limit(limit)


def mark_all_read(user):
    with db.atomic():
        (Notification.update(read_at=clock.now())
         .where((Notification.user == user.id) & Notification.read_at.is_null()).execute())
