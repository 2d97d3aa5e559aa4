"""Two screen languages (简体中文 / English) with Flask-Babel; dates, times and money in the user's locale.

English is the source text. The catalogue (views/translations/*.po) is compiled into the
instance folder at start-up, so no build artefact lives in the repository.
"""
import datetime as dt
import os
from pathlib import Path

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import request
from babel.numbers import format_currency, format_decimal
from flask_babel import Babel, get_locale
from flask_babel import gettext as _gettext
from flask_login import current_user

from models import clock
from models.users import LANGUAGES

SOURCE = Path(__file__).resolve().parent / "translations"
LANGUAGE_NAMES = {"zh_CN": "简体中文", "en": "English"}


def gettext(message, **params):
    return _gettext(message, **params)


def translate_error(message, params=None):
    """A domain error's message (English source) in the user's language."""
    text = _gettext(message)
    return text % params if params else text


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


def select_locale():
    if current_user and current_user.is_authenticated:
        return current_user.language
    chosen = request.cookies.get("lang")
    if chosen in LANGUAGES:
        return chosen
    best = request.accept_languages.best_match(["zh_CN", "zh", "en"])
    return "en" if best == "en" else "zh_CN"


def locale_code():
    return str(get_locale() or "zh_CN")


def fmt_datetime(value):
    if not value:
        return ""
    local = clock.to_local(value)
    if locale_code().startswith("zh"):
        return local.strftime("%Y-%m-%d %H:%M")
    return local.strftime("%d %b %Y %H:%M")


def fmt_date(value):
    if not value:
        return ""
    if isinstance(value, dt.datetime):
        value = clock.to_local(value).date()
    if locale_code().startswith("zh"):
        return f"{value.year}年{value.month}月{value.day}日"
    return value.strftime("%d %b %Y")


def fmt_money(value, currency="CNY"):
    if value is None:
        return ""
    # English CLDR writes "CN¥"; the screens show yuan as ¥ in both languages.
    return format_currency(value, currency, locale=locale_code()).replace("CN¥", "¥")


def fmt_number(value):
    return format_decimal(value or 0, locale=locale_code())


def fmt_ago(value):
    """'3 days ago' style, in business days relative to the clock."""
    if not value:
        return gettext("never")
    days = (clock.today() - clock.to_local(value).date()).days
    if days <= 0:
        return gettext("today")
    if days == 1:
        return gettext("yesterday")
    return gettext("%(n)s days ago", n=days)


def label(vocabulary, key):
    """A vocabulary key (e.g. a stage) as its translated label."""
    text = vocabulary.get(key)
    return _gettext(text) if text else (key or "")


def init_app(app):
    target = Path(app.instance_path) / "translations"
    _compile(target)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(target)
    Babel(app, locale_selector=select_locale)
    app.jinja_env.filters.update(datetime=fmt_datetime, date=fmt_date, money=fmt_money, number=fmt_number,
                                 ago=fmt_ago)
    app.jinja_env.globals.update(label=label, locale_code=locale_code, LANGUAGE_NAMES=LANGUAGE_NAMES,
                                 translate_error=translate_error)
