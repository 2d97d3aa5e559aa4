"""The delegation table and the reads the lower floors need: who acts for whom right now
(models/permissions.py, audit rows) and how long an owner's release clock stood still (models/pools.py).
The verbs live in models/delegations.py, which re-exports these names."""
import datetime as dt

import peewee as pw

from models import audit, clock
from models.base import BaseModel, db, kept_select
from models.customer_tables import Customer
from models.user_tables import User

SELLER_ROLES = ("sales", "manager")
MAX_DAYS = 90  # a delegation covers a short absence; a longer one is a transfer (工作转移)


class Delegation(BaseModel):
    absentee = pw.ForeignKeyField(User, on_delete="CASCADE", backref="delegations_given")
    delegate = pw.ForeignKeyField(User, on_delete="CASCADE", index=False, backref="delegations_taken")
    starts_on = pw.DateField()
    ends_on = pw.DateField()  # included: the delegation ends at the end of this business day
    reason = pw.CharField(max_length=200, default="")
    created_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
    created_at = pw.DateTimeField()
    cancelled_at = pw.DateTimeField(null=True)
    cancelled_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")

    class Meta:
        indexes = ((("delegate", "ends_on"), False), (("absentee", "ends_on"), False))

    @property
    def start_at(self):
        """The first moment (naive UTC) of the range."""
        return clock.local_day_start(self.starts_on)

    @property
    def end_at(self):
        """The moment (naive UTC) it stops: the end of its last day, or when it was cancelled."""
        end = clock.local_day_start(self.ends_on + dt.timedelta(days=1))
        return min(end, max(self.cancelled_at, self.start_at)) if self.cancelled_at else end

    def state(self, now=None):
        now = now or clock.now()
        if self.cancelled_at and self.cancelled_at <= self.start_at:
            return "cancelled"
        if now < self.start_at:
            return "upcoming"
        if now < self.end_at:
            return "active"
        return "ended"

    @property
    def days(self):
        return (self.ends_on - self.starts_on).days + 1


def _active_where(now):
    return ((Delegation.starts_on <= clock.to_local(now).date()) & (Delegation.ends_on >= clock.to_local(now).date())
            & (Delegation.cancelled_at.is_null() | (Delegation.cancelled_at > now)))


def _acting_for(delegate_id, day, now):
    return (Delegation.select(Delegation.absentee).join(User, on=(Delegation.absentee == User.id))
            .where((Delegation.delegate == delegate_id) & (Delegation.starts_on <= day) & (Delegation.ends_on >= day)
                   & (Delegation.cancelled_at.is_null() | (Delegation.cancelled_at > now))
                   & (User.active == True)))  # noqa: E712


def acting_for_ids(user, now=None):
    """The absentees `user` acts for right now. Cached on the user object like eligible_pool_ids, so a
    request asks once (the request's user is loaded per request)."""
    if user is None or getattr(user, "role", None) not in SELLER_ROLES:
        return ()
    moment = now or clock.now()
    key = moment.replace(second=0, microsecond=0)  # a frozen or moved clock (tests) asks again
    cached = getattr(user, "_acting_for", None)
    if cached is not None and cached[0] == key:
        return cached[1]
    ids = tuple(d.absentee_id for d in kept_select("acting_for_ids", _acting_for, user.id,
                                                   clock.to_local(moment).date(), moment))
    user._acting_for = (key, ids)
    return ids


def acting_for_data(actor, customer):
    """{'acting_for': id, 'acting_for_name': name} when `actor` works `customer` as a delegate, else {}.
    Audit rows carry it, so the timeline says "acting for X"."""
    if not isinstance(actor, User):
        return {}
    if isinstance(customer, Customer) and customer.owner_id in (None, actor.id):  # their own or nobody's
        return {}
    absentees = acting_for_ids(actor)
    if not absentees:
        return {}
    owner_id = customer.owner_id if isinstance(customer, Customer) else \
        Customer.select(Customer.owner).where(Customer.id == customer).scalar()
    if owner_id is None or owner_id == actor.id or owner_id not in absentees:
        return {}
    name = User.select(User.full_name).where(User.id == owner_id).scalar()
    return {"acting_for": owner_id, "acting_for_name": name}


audit.annotate(acting_for_data)


# ---- the paused release clock ------------------------------------------------------------------

_PAUSES = {}  # bound database -> (read at, {absentee_id: [(start, end, delegation_id)]})
PAUSES_TTL = 30  # seconds; this process's verbs drop it at once, another process's writes within the TTL


def forget_pauses():
    _PAUSES.pop(_db_key(), None)


def _db_key():
    """The database bound now, itself: its name is not enough (a PostgreSQL database keeps its name when it
    is emptied and filled again, as the tests do; every SQLite test has a file of its own)."""
    return db.obj


def _pauses(rules):
    """{absentee_id: [(start, end, delegation_id)]} of every delegation. Delegations are few and change
    rarely, while every release date (the 360 page, each follow-up, the sweep) asks: kept per process
    for a few seconds, dropped by the delegation verbs."""
    import time

    key = _db_key()
    hit = _PAUSES.get(key)
    if hit is not None and time.monotonic() - hit[0] < PAUSES_TTL:
        return hit[1]
    pauses = {}
    for d in Delegation.select():
        if d.end_at > d.start_at:
            pauses.setdefault(d.absentee_id, []).append((d.start_at, d.end_at, d.id))
    for periods in pauses.values():
        periods.sort()
    _PAUSES.clear()  # one database bound at a time: an earlier one's entry is never read again
    _PAUSES[key] = (time.monotonic(), pauses)
    return pauses


def release_pause(rules, owner_id, start, at):
    """The clock that runs from `start` and would ring at `at`, stopped while its owner was (or will
    be) away on a delegation: (new_at, paused timedelta, delegation ids)."""
    periods = _pauses(rules).get(owner_id) if owner_id else None
    if not periods:
        return at, dt.timedelta(0), []
    paused, used = dt.timedelta(0), []
    for p_start, p_end, d_id in periods:  # sorted by start; `at` grows, so a later absence may now count
        if p_end <= start or p_start >= at:
            continue
        stop = p_end - max(p_start, start)
        at += stop
        paused += stop
        used.append(d_id)
    return at, paused, used
