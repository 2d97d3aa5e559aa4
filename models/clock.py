"""The one clock: every reader of the current time goes through here, so tests can freeze it.

Times are stored as naive UTC datetimes (portable across engines) and shown in business time.
"""
import datetime as dt
from zoneinfo import ZoneInfo

BUSINESS_TZ = ZoneInfo("Asia/Shanghai")
_frozen = None


def now():
    """Current time, naive UTC."""
    if _frozen is not None:
        return _frozen
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)


_today = (None, None)  # (the time it was computed for, the day): a page asks ~30 times within one second


def today():
    """Today's date in business time (Shanghai)."""
    global _today
    at, kept = now(), _today
    if kept[0] != at:
        kept = _today = (at, to_local(at).date())
    return kept[1]


def to_local(value):
    """A stored naive-UTC datetime as an aware business-time datetime."""
    return value.replace(tzinfo=dt.timezone.utc).astimezone(BUSINESS_TZ)


def from_local(value):
    """An aware or naive business-time datetime as naive UTC for storage."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=BUSINESS_TZ)
    return value.astimezone(dt.timezone.utc).replace(tzinfo=None)


def local_day_start(day):
    """Start of a business day as naive UTC."""
    return from_local(dt.datetime.combine(day, dt.time()))


def freeze(value):
    """Freeze the clock at `value` (naive UTC), or unfreeze with None. Tests only."""
    global _frozen
    _frozen = value
