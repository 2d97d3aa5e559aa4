"""views/i18n.py formats a day once per process and a time as its day's text and its hour and minute's text:
the same text as Babel's own pattern walk, in both languages, for every minute of a day and days of years."""
import datetime as dt

from babel import dates as babel_dates
from flask_babel import force_locale


def test_dates_and_times_as_babel_writes_them(app):
    from views import i18n

    times = [dt.datetime(2026, 1, 1) + dt.timedelta(minutes=m) for m in range(0, 24 * 60, 1)]
    times += [dt.datetime(2024, 2, 28, 16, 30) + dt.timedelta(days=d, minutes=7 * d) for d in range(0, 1200, 3)]
    with app.test_request_context():
        for code in ("zh_CN", "en"):
            with force_locale(code):
                speech = i18n._speech()
                assert i18n._datetime_parts(speech.code) is not None  # the fast way is taken for both
                pattern = i18n._datetime_pattern(speech.code)
                for value in times:
                    assert i18n.fmt_datetime(value) == babel_dates.format_datetime(
                        value, pattern, tzinfo=speech.tz, locale=speech.locale), value
                    local = speech.tz.normalize(value.replace(tzinfo=dt.timezone.utc).astimezone(speech.tz))
                    assert i18n.fmt_date(value) == babel_dates.format_date(local, "medium", locale=speech.locale)
                    assert i18n.fmt_date(value.date()) == babel_dates.format_date(value.date(), "medium",
                                                                                  locale=speech.locale)
                aware = dt.datetime(2026, 11, 24, 2, 5, tzinfo=dt.timezone.utc)
                assert i18n.fmt_datetime(aware) == babel_dates.format_datetime(aware, pattern, tzinfo=speech.tz,
                                                                              locale=speech.locale)


def test_wall_clock_through_a_zones_transitions():
    """The kept hourly offsets give the zone's own conversion, also in the hours a zone changes its offset
    (a business time zone with summer time, or one that moves by 30 or 45 minutes)."""
    from zoneinfo import ZoneInfo

    import pytz

    from views import i18n

    zones = [pytz.timezone(name) for name in ("Europe/Berlin", "Australia/Lord_Howe", "Asia/Kathmandu", "Asia/Shanghai")]
    zones += [ZoneInfo("Europe/Berlin"), ZoneInfo("Australia/Lord_Howe")]
    starts = [dt.datetime(2026, 3, 28), dt.datetime(2026, 10, 24), dt.datetime(2026, 4, 4), dt.datetime(1986, 5, 3)]
    for tz in zones:
        for start in starts:
            for minutes in range(0, 3 * 24 * 60, 7):
                value = start + dt.timedelta(minutes=minutes, seconds=minutes % 60)
                expected = value.replace(tzinfo=dt.timezone.utc).astimezone(tz).replace(tzinfo=None)
                assert i18n._local_wall(value, tz) == expected, (tz, value)
                aware = value.replace(tzinfo=dt.timezone.utc)
                assert i18n._local_wall(aware, tz) == expected, (tz, aware)
