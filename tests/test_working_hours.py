"""The working-hours calculator behind every SLA deadline (models.service.WorkingCalendar), at its
boundaries: the end of the day, the weekend, holidays, a start outside the working day, and the
countdown of a ticket with the clock frozen on either side of a deadline."""
import datetime as dt

import pytest

from models import clock
from models.service import DEFAULTS, Ticket, WorkingCalendar, countdown

H = dt.timedelta(hours=1)
MIN = dt.timedelta(minutes=1)


def local(y, m, d, hh=0, mm=0):
    """A Shanghai wall-clock time as stored (naive UTC). 2026-11-27 is a Friday."""
    return clock.from_local(dt.datetime(y, m, d, hh, mm))


@pytest.fixture
def cal():
    return WorkingCalendar(DEFAULTS)


@pytest.mark.parametrize("start,hours,expected", [
    (local(2026, 11, 27, 17, 30), 1, local(2026, 11, 30, 9, 30)),    # Friday 17:30 + 1 h = Monday 09:30
    (local(2026, 11, 27, 17, 0), 1, local(2026, 11, 27, 18, 0)),     # exactly to closing time
    (local(2026, 11, 27, 17, 59), 0.5, local(2026, 11, 30, 9, 29)),
    (local(2026, 11, 27, 18, 0), 0.5, local(2026, 11, 30, 9, 30)),   # at closing: from the next opening
    (local(2026, 11, 28, 12, 0), 2, local(2026, 11, 30, 11, 0)),     # Saturday counts from Monday 09:00
    (local(2026, 11, 29, 23, 59), 1, local(2026, 11, 30, 10, 0)),    # Sunday night
    (local(2026, 11, 24, 7, 0), 1, local(2026, 11, 24, 10, 0)),      # before opening: from 09:00
    (local(2026, 11, 24, 8, 59), 0.5, local(2026, 11, 24, 9, 30)),
    (local(2026, 11, 24, 9, 0), 9, local(2026, 11, 24, 18, 0)),      # a whole working day
    (local(2026, 11, 24, 9, 0), 9.5, local(2026, 11, 25, 9, 30)),
    (local(2026, 11, 24, 10, 0), 36, local(2026, 11, 30, 10, 0)),    # Tue 10:00 + 4 days' worth = next Mon
    (local(2026, 11, 24, 10, 0), 0, local(2026, 11, 24, 10, 0)),
])
def test_adding_working_hours(cal, start, hours, expected):
    assert cal.add(start, hours) == expected


def test_holidays_and_custom_days():
    settings = {**DEFAULTS, "holidays": ["2026-10-01", "2026-10-02"]}
    cal = WorkingCalendar(settings)
    # Wednesday 30 September 17:00 + 2 h: Thursday and Friday are holidays, so Monday 5 October 10:00.
    assert cal.add(local(2026, 9, 30, 17, 0), 2) == local(2026, 10, 5, 10, 0)
    six_days = WorkingCalendar({**DEFAULTS, "workdays": [0, 1, 2, 3, 4, 5], "day_start": "08:30", "day_end": "17:30"})
    assert six_days.add(local(2026, 11, 27, 17, 0), 1) == local(2026, 11, 28, 9, 0)  # Saturday works
    assert six_days.add(local(2026, 11, 28, 17, 30), 0.5) == local(2026, 11, 30, 9, 0)


def test_working_time_between(cal):
    assert cal.between(local(2026, 11, 27, 17, 0), local(2026, 11, 30, 10, 0)) == 2 * H
    assert cal.between(local(2026, 11, 28, 10, 0), local(2026, 11, 29, 10, 0)) == dt.timedelta()  # weekend
    assert cal.between(local(2026, 11, 30, 10, 0), local(2026, 11, 27, 17, 0)) == -2 * H
    assert cal.between(local(2026, 11, 24, 7, 0), local(2026, 11, 24, 20, 0)) == 9 * H
    for start, hours in ((local(2026, 11, 27, 17, 30), 1), (local(2026, 11, 24, 10, 15), 23.5)):
        assert cal.between(start, cal.add(start, hours)) == dt.timedelta(minutes=round(hours * 60))


def test_a_calendar_without_working_days_is_refused():
    from models.errors import DomainError

    with pytest.raises(DomainError):
        WorkingCalendar({**DEFAULTS, "workdays": []})
    with pytest.raises(DomainError):
        WorkingCalendar({**DEFAULTS, "day_start": "18:00", "day_end": "09:00"})


def _ticket(respond_by, resolve_by, status="new", responded_at=None):
    return Ticket(status=status, respond_by=respond_by, resolve_by=resolve_by, responded_at=responded_at)


def test_countdown_at_the_deadline(cal):
    due = local(2026, 11, 30, 9, 30)   # Monday 09:30, set on Friday 17:30 for a 1-hour response
    t = _ticket(due, local(2026, 11, 30, 12, 0))
    friday = local(2026, 11, 27, 17, 30)
    c = countdown(t, friday, cal)
    assert (c["kind"], c["minutes"], c["overdue"]) == ("response", 60, False)
    assert countdown(t, local(2026, 11, 28, 12, 0), cal)["minutes"] == 30  # the weekend does not count
    assert countdown(t, due, cal)["overdue"] is False
    late = countdown(t, due + MIN, cal)
    assert late["overdue"] is True and late["minutes"] == -1
    # Responded: the resolution deadline is what counts now.
    t.responded_at = friday
    assert countdown(t, friday, cal)["kind"] == "resolution"
    t.status = "resolved"
    assert countdown(t, friday, cal) is None


def test_overdue_outside_working_hours_still_reads_overdue(cal):
    t = _ticket(local(2026, 11, 27, 18, 0), local(2026, 11, 27, 18, 0))
    c = countdown(t, local(2026, 11, 28, 10, 0), cal)  # Saturday: no working time has passed since
    assert c["overdue"] is True and c["minutes"] < 0
