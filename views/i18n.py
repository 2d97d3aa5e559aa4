"""Two screen languages (简体中文 / English) with Flask-Babel; dates, times and money in the user's locale
(Flask-Babel's formatters: stored naive-UTC times are shown in BABEL_DEFAULT_TIMEZONE, the business time).

English is the source text. The catalogue (views/translations/*.po) is compiled into the
instance folder at start-up, so no build artefact lives in the repository.
"""
import functools
import os
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from babel import Locale
from babel import dates as babel_dates
from babel import numbers as babel_numbers
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import request
from flask.globals import _cv_app
from flask_babel import Babel, get_locale, get_timezone, get_translations
from flask_login import current_user
from markupsafe import Markup

from models import clock
from models.fields import decimal_text
from models.users import LANGUAGES

SOURCE = Path(__file__).resolve().parent / "translations"
LANGUAGE_NAMES = {"zh_CN": "简体中文", "en": "English"}


class _Speech:
    """What this request speaks: the locale Flask-Babel chose, its catalogue, its code and the time zone.

    Flask-Babel looks these up through `g` on every call (three context-local lookups, then the catalogue by
    the locale's name): ~800 lookups for a list page. They are computed once per request instead and kept
    in Flask-Babel's own per-request namespace, next to the locale they belong to; `force_locale()` puts
    another locale object there, which makes them stale and they are computed again.
    """
    __slots__ = ("locale", "translations", "code", "tz")

    def __init__(self, locale, in_app=True):
        self.locale = locale
        self.translations = get_translations()  # outside an app: the source text (NullTranslations)
        self.code = str(locale) if locale else "zh_CN"
        self.tz = get_timezone() if in_app else None


def _speech():
    app_ctx = _cv_app.get(None)
    if app_ctx is None:
        return _Speech(None, in_app=False)
    space = app_ctx.g.__dict__.get("_flask_babel") if app_ctx is not None else None
    if space is not None:
        kept = space.__dict__.get("kehu_speech")
        if kept is not None and kept.locale is space.__dict__.get("babel_locale"):
            return kept
    speech = _Speech(get_locale())
    if app_ctx is not None:
        app_ctx.g._flask_babel.kehu_speech = speech  # get_locale() made the namespace
    return speech


def gettext(message, **params):
    text = _speech().translations.ugettext(message)
    return text % params if params else text


def _ngettext(singular, plural, n):
    return _speech().translations.ungettext(singular, plural, n)


def translate_error(message, params=None):
    """A domain error's message (English source) in the user's language; a date or time among its values is
    written as the user's language writes it (a refusal's "frozen until …"), in business time."""
    text = _speech().translations.ugettext(message)
    if not params:
        return text
    return text % {key: _value_text(value) for key, value in params.items()}


def _value_text(value):
    if isinstance(value, datetime):
        return fmt_datetime(value)
    if isinstance(value, date):
        return fmt_date(value)
    return value


def _compile(target):
    for po_path in SOURCE.glob("*/LC_MESSAGES/messages.po"):
        # Under the name Flask-Babel looks up: Locale.parse("zh_CN") is zh_Hans_CN.
        mo_path = target / str(Locale.parse(po_path.parts[-3])) / "LC_MESSAGES" / "messages.mo"
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        mo_path.parent.mkdir(parents=True, exist_ok=True)
        with po_path.open("rb") as f:
            catalog = read_po(f)
        tmp = mo_path.with_suffix(f".{os.getpid()}.tmp")  # two processes starting at once do not collide
        with tmp.open("wb") as f:
            write_mo(f, catalog)
        tmp.replace(mo_path)


@functools.cache
def _locale(code):
    """The Babel locale of a language code, parsed once per process: Flask-Babel parses the selector's
    answer on every request (a directory check and a load of the locale's data), and keeps a Locale as it is."""
    return Locale.parse(code)


def select_locale():
    if current_user and current_user.is_authenticated:
        return _locale(current_user.language) if current_user.language else None
    chosen = request.cookies.get("lang")
    if chosen in LANGUAGES:
        return _locale(chosen)
    best = request.accept_languages.best_match(["zh_CN", "zh", "en"])
    return _locale("en" if best == "en" else "zh_CN")


def locale_code():
    return _speech().code


@functools.cache
def _datetime_pattern(locale):
    """CLDR's medium date and short time (no seconds), joined by the locale's own medium pattern:
    2026年11月24日 10:05, Nov 24, 2026, 10:05 AM."""
    loc = Locale.parse(locale)
    return (loc.datetime_formats["medium"].replace("{1}", loc.date_formats["medium"].pattern)
            .replace("{0}", loc.time_formats["short"].pattern))


@functools.cache
def _datetime_parts(locale):
    """(joint, time pattern) when the medium date-time pattern is the medium date and the short time joined
    by literal text ("{1} {0}", "{1}, {0}") and the time shows only hours, minutes and the day period: then a
    time is its day's text and its hour and minute's text, each formatted once per process (`_day_text`,
    `_clock_text`) instead of Babel's pattern walk per value (a list page shows ~100 dates). Else None."""
    loc = Locale.parse(locale)
    joint, time_pattern = loc.datetime_formats["medium"], loc.time_formats["short"].pattern
    literal = joint.replace("{0}", "").replace("{1}", "")
    fields = {c for c in time_pattern if c.isascii() and c.isalpha()}
    if any(c.isascii() and c.isalpha() or c in "'{}" for c in literal) or "'" in time_pattern or not fields <= set("hHkKma"):
        return None
    return joint, time_pattern


@functools.lru_cache(maxsize=8192)
def _day_text(day, locale):
    """A day in the locale's medium date (a few years of days: the cache holds them all)."""
    return babel_dates.format_date(day, "medium", locale=_locale(locale))


@functools.lru_cache(maxsize=4096)
def _clock_text(hour, minute, locale, pattern):
    return babel_dates.format_time(datetime(2000, 1, 1, hour, minute), pattern, locale=_locale(locale))


_HOUR = timedelta(hours=1)
_TICK = timedelta(microseconds=1)


@functools.lru_cache(maxsize=65536)
def _hour_offset(tz, hour):
    """The offset of `tz` from UTC through the UTC hour starting at `hour` (naive), or None when it changes
    within that hour (a zone's transition): a conversion is ~8 µs, a list page converts ~75 times."""
    start = hour.replace(tzinfo=timezone.utc).astimezone(tz).utcoffset()
    end = (hour + _HOUR - _TICK).replace(tzinfo=timezone.utc).astimezone(tz).utcoffset()
    return start if start == end else None


def _local_wall(value, tz):
    """A stored time (naive UTC, or aware) as the naive wall-clock time in `tz`."""
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    offset = _hour_offset(tz, value.replace(minute=0, second=0, microsecond=0))
    if offset is None:
        return value.replace(tzinfo=timezone.utc).astimezone(tz).replace(tzinfo=None)
    return value + offset


def fmt_datetime(value):
    """A stored time (naive UTC) in business time, as the locale writes a date and a time of day."""
    if not value:
        return ""
    speech = _speech()
    fast = isinstance(value, datetime) and speech.tz is not None and speech.locale is not None
    parts = _datetime_parts(speech.code) if fast else None
    if parts is None:
        return babel_dates.format_datetime(value, _datetime_pattern(speech.code), tzinfo=speech.tz, locale=speech.locale)
    local = _local_wall(value, speech.tz)
    return parts[0].replace("{1}", _day_text(local.date(), speech.code)).replace(
        "{0}", _clock_text(local.hour, local.minute, speech.code, parts[1]))


def fmt_date(value):
    """A day as the locale writes it (2026年11月24日, Nov 24, 2026); a stored time is its business day."""
    if not value:
        return ""
    speech = _speech()
    if isinstance(value, datetime):  # naive UTC, as stored
        value = _local_wall(value, speech.tz).date()
    if speech.locale is None:  # outside the app: Babel's default locale
        return babel_dates.format_date(value, "medium", locale=speech.locale)
    return _day_text(value, speech.code)


def fmt_money(value, currency="CNY"):
    if value is None:
        return ""
    # English CLDR writes "CN¥" (against the yen); every amount here is yuan, shown as ¥ in both languages.
    return babel_numbers.format_currency(value, currency, locale=_speech().locale).replace("CN¥", "¥")


def fmt_number(value):
    return babel_numbers.format_decimal(value or 0, locale=_speech().locale)


def fmt_ago(value):
    """'3 days ago' style, in business days relative to the clock."""
    if not value:
        return gettext("never")
    days = (clock.today() - _local_wall(value, clock.BUSINESS_TZ).date()).days
    if days <= 0:
        return gettext("today")
    if days == 1:
        return gettext("yesterday")
    return gettext("%(n)s days ago", n=days)


# A template's _("…") without arguments, per language: the catalogue's text as Markup, its %% written as %
# (Jinja's newstyle gettext formats every message). Messages are literals in the templates: a bounded set.
_TEMPLATE_TEXTS = {}


def template_gettext(message, **params):
    """_() and gettext() in templates: what Jinja's newstyle i18n does (the catalogue's text, trusted and
    marked safe, then `%` with the arguments escaped), in one call instead of three context-resolved ones
    (a page calls it 100–200 times)."""
    speech = _speech()
    if params:
        return Markup(speech.translations.ugettext(message)) % params
    texts = _TEMPLATE_TEXTS.get(speech.code)
    if texts is None:
        texts = _TEMPLATE_TEXTS.setdefault(speech.code, {})
    text = texts.get(message)
    if text is None:
        if speech.locale is None:  # outside a request: not kept (no catalogue was chosen)
            return Markup(speech.translations.ugettext(message)) % {}
        text = texts[message] = Markup(speech.translations.ugettext(message)) % {}
    return text


def template_ngettext(singular, plural, num, **params):
    params.setdefault("num", num)
    return Markup(_speech().translations.ungettext(singular, plural, num)) % params


class PerLanguage:
    """A macro whose HTML depends only on its arguments and the screen language (a badge, a meter), kept
    per language and arguments: a table calls its cell macros 100 times a page, with a handful of values.
    Templates wrap such a macro once where it is defined: `{% set stage_badge = per_language(_stage_badge) %}`."""
    __slots__ = ("macro", "kept")
    LIMIT = 4096  # distinct calls kept before starting over (the values are small vocabularies)

    def __init__(self, macro):
        self.macro, self.kept = macro, {}

    def __call__(self, *args):
        try:
            key = (_speech().code, *args)
            found = self.kept.get(key)
        except TypeError:  # an unhashable argument: made each time
            return self.macro(*args)
        if found is None:
            if len(self.kept) >= self.LIMIT:
                self.kept.clear()
            found = self.kept[key] = self.macro(*args)
        return found


def label(vocabulary, key):
    """A vocabulary key (e.g. a stage) as its translated label."""
    text = vocabulary.get(key)
    return _speech().translations.ugettext(text) if text else (key or "")


def init_app(app):
    target = Path(app.instance_path) / "translations"
    _compile(target)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(target)
    Babel(app, locale_selector=select_locale)
    # The template's _() and ngettext() read this request's catalogue once (see _Speech).
    app.jinja_env.install_gettext_callables(
        gettext=lambda message: _speech().translations.ugettext(message), ngettext=_ngettext, newstyle=True,
        pgettext=lambda context, message: _speech().translations.upgettext(context, message),
        npgettext=lambda context, s, p, n: _speech().translations.unpgettext(context, s, p, n))
    app.jinja_env.globals.update(_=template_gettext, gettext=template_gettext, ngettext=template_ngettext,
                                 per_language=PerLanguage)
    app.jinja_env.filters.update(datetime=fmt_datetime, date=fmt_date, money=fmt_money, number=fmt_number,
                                 ago=fmt_ago, plain_number=decimal_text)
    app.jinja_env.globals.update(label=label, locale_code=locale_code, LANGUAGE_NAMES=LANGUAGE_NAMES,
                                 translate_error=translate_error)
