"""The service settings and the working calendar (domain §10): below the service verbs, so that a domain the
service verbs build on (the pool's release clocks, models/pool_clock.py) counts working days with the same
calendar. models/service.py re-exports them."""
import datetime as dt

import peewee as pw

from models import clock
from models.base import BaseModel, JSONField, kept_select
from models.errors import N_, DomainError
from models.user_tables import User

DEFAULTS = {
    "workdays": [0, 1, 2, 3, 4],          # Monday … Friday (Python weekday numbers)
    "day_start": "09:00",
    "day_end": "18:00",
    "holidays": [],                       # ISO dates off work (public holidays)
    "reopen_days": 7,
    "lead_conversion_days": 90,
    # level -> priority -> [response hours, resolution hours], in working hours
    "sla": {
        "key": {"urgent": [1, 4], "high": [2, 8], "normal": [4, 16], "low": [8, 40]},
        "standard": {"urgent": [2, 8], "high": [4, 16], "normal": [8, 36], "low": [16, 72]},
    },
}


class ServiceSettings(BaseModel):
    """The service settings in force: one row, replaced by the admin (the audit keeps the history)."""
    settings = JSONField(default=dict)
    updated_at = pw.DateTimeField()
    updated_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False)


def service_settings():
    row = next(iter(kept_select("service_settings", lambda: ServiceSettings.select().order_by(
        ServiceSettings.id.desc()).limit(1))), None)
    merged = {k: v for k, v in DEFAULTS.items()}
    if row is not None:
        merged.update(row.settings or {})
    return merged


def _hhmm(value):
    try:
        hours, minutes = str(value).strip().split(":")
        t = dt.time(int(hours), int(minutes))
    except (TypeError, ValueError):
        return None
    return t


# ---- working hours ----------------------------------------------------------------------------

class WorkingCalendar:
    """Working time in business time (Asia/Shanghai): the working days, hours and holidays of the
    settings. Times in and out are naive UTC, as stored."""

    def __init__(self, settings=None):
        s = settings or service_settings()
        self.workdays = set(s["workdays"])
        self.start = _hhmm(s["day_start"])
        self.end = _hhmm(s["day_end"])
        self.holidays = {dt.date.fromisoformat(d) for d in s.get("holidays") or []}
        if not self.workdays or self.start is None or self.end is None or self.end <= self.start:
            raise DomainError(N_("The working hours are not set up; ask an administrator."))

    def is_workday(self, day):
        return day.weekday() in self.workdays and day not in self.holidays

    def _window(self, day):
        return dt.datetime.combine(day, self.start), dt.datetime.combine(day, self.end)

    def _next_workday(self, day):
        for _ in range(800):
            day += dt.timedelta(days=1)
            if self.is_workday(day):
                return day
        raise DomainError(N_("The working calendar has no working day in the next two years."))

    def add(self, start, hours):
        """`start` + `hours` of working time. Friday 17:30 + 1 h = Monday 09:30; a start outside the
        working day counts from the next opening."""
        remaining = dt.timedelta(minutes=round(hours * 60))
        local = clock.to_local(start).replace(tzinfo=None)
        day = local.date()
        t = local
        if not self.is_workday(day):
            day = self._next_workday(day)
            t = dt.datetime.combine(day, self.start)
        while True:
            opens, closes = self._window(day)
            if t < opens:
                t = opens
            if t >= closes:
                day = self._next_workday(day)
                t = dt.datetime.combine(day, self.start)
                continue
            available = closes - t
            if remaining <= available:
                return clock.from_local(t + remaining)
            remaining -= available
            day = self._next_workday(day)
            t = dt.datetime.combine(day, self.start)

    def between(self, a, b):
        """Working time from `a` to `b` (naive UTC), negative when `b` is before `a`."""
        if b < a:
            return -self.between(b, a)
        la, lb = clock.to_local(a).replace(tzinfo=None), clock.to_local(b).replace(tzinfo=None)
        total = dt.timedelta()
        day = la.date()
        while day <= lb.date():
            if self.is_workday(day):
                opens, closes = self._window(day)
                lo, hi = max(opens, la), min(closes, lb)
                if hi > lo:
                    total += hi - lo
            day += dt.timedelta(days=1)
        return total
