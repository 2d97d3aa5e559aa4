"""Field parsing: the one place a typed value becomes a Python value (ground floor: stdlib and
models.errors only, no domain, no Flask).

Every parser takes what a form, a query string or an import file gives (a string, None, sometimes a
number) and returns a value or raises `FieldError(message, **params)`: a `ValueError` that is also one
`(message, params)` of a `ValidationError`, so `FieldErrors.add(field, exc.message, **exc.params)` — or
`take(e, field, parse, raw, ...)` files it under its field. `clean_text`, `int_or_none` and `id_or_none`
answer None instead, for callers that treat junk as "nothing chosen". Messages are English source `N_()`.
"""
import datetime as dt
import re
import unicodedata
from decimal import Decimal, InvalidOperation

from models.errors import N_

MAX_INT = 2**63 - 1  # SQLite integers are 64-bit: binding a bigger Python int raises OverflowError
MIN_INT = -MAX_INT - 1
DATE_MIN, DATE_MAX = dt.date(1900, 1, 1), dt.date(2100, 12, 31)
CENT = Decimal("0.01")


class FieldError(ValueError):
    """A value that does not parse: `message` (translatable, %(name)s slots) and `params`."""

    def __init__(self, message, **params):
        super().__init__(message)
        self.message = message
        self.params = params


def take(e, field, parse, raw, *args, **kw):
    """`parse(raw, *args, **kw)`, or None with its FieldError recorded on the FieldErrors `e` under `field`."""
    try:
        return parse(raw, *args, **kw)
    except FieldError as exc:
        e.add(field, exc.message, **exc.params)
        return None


def blank(raw):
    """Nothing typed: None, or only whitespace."""
    return not str(raw if raw is not None else "").strip()


# ---- text ---------------------------------------------------------------------------------------

_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


def to_halfwidth(text):
    return unicodedata.normalize("NFKC", text or "")


def clean_text(value, max_len, multiline=False):
    """Trim, drop control and bidi-override characters; None if longer than `max_len`."""
    text = _CONTROL_RE.sub("", str(value or ""))
    if not multiline:
        text = " ".join(text.split())
    text = text.strip()
    return text if len(text) <= max_len else None


def clip_text(value, max_len):
    """`clean_text` cut to `max_len` instead of refused: a search box's or a filter's value (no control
    character reaches the database: PostgreSQL refuses a NUL in a string)."""
    return clean_text(value, float("inf"))[:max_len]


def parse_text(raw, max_len, required=False, multiline=False):
    """`clean_text` with its two refusals: too long, or empty when required."""
    value = clean_text(raw, max_len, multiline)
    if value is None:
        raise FieldError(N_("At most %(n)s characters."), n=max_len)
    if required and not value:
        raise FieldError(N_("Required."))
    return value


def text_field(data, e, field, max_len, required=False, multiline=False):
    """The text field `field` of `data`, cleaned; "" (and the problem on `e`) when it does not pass."""
    value = clean_text(data.get(field), max_len, multiline)
    if value is None:
        e.add(field, N_("At most %(n)s characters."), n=max_len)
        return ""
    if required and not value:
        e.add(field, N_("Required."))
    return value


def parse_choice(value, allowed):
    """`value` if it is one of `allowed`, else None."""
    return value if value in allowed else None


def parse_bool(raw):
    """A tick from a form or a spreadsheet cell: 1, y, yes, true, on, 是, x (any case) are true."""
    return str(raw or "").strip().lower() in ("1", "y", "yes", "true", "on", "是", "x")


# ---- numbers ------------------------------------------------------------------------------------

def parse_int(raw, lo=MIN_INT, hi=MAX_INT):
    """A whole number from `lo` to `hi` (64-bit by default: a bigger number is junk, not an OverflowError)."""
    try:
        number = int(str(raw).strip())
    except (TypeError, ValueError):  # ValueError also for a string of more than 4300 digits
        number = None
    if number is None or not lo <= number <= hi:
        raise FieldError(N_("A whole number from %(lo)s to %(hi)s."), lo=lo, hi=hi)
    return number


def int_or_none(raw, lo=MIN_INT, hi=MAX_INT):
    try:
        return parse_int(raw, lo, hi)
    except FieldError:
        return None


def parse_id(value):
    """A row id from user input, else ValueError (fits request.args.get(name, type=parse_id))."""
    try:
        return parse_int(value, 1, MAX_INT)
    except FieldError:
        raise FieldError(N_("Not found.")) from None


def id_or_none(value):
    return int_or_none(value, 1, MAX_INT)


def parse_decimal(raw, *, lo_exclusive=Decimal("0.00"), hi=Decimal("9999999999.99"), places=2, allow_zero=False):
    """A positive decimal from user input ("1,280.50", "¥ 1280", full-width digits), required."""
    text = str(raw if raw is not None else "").strip()
    text = text.translate({0xFF10 + i: 0x30 + i for i in range(10)} | {0xFF0E: ".", 0xFF0C: ","})
    text = text.replace(",", "").replace("¥", "").replace("￥", "").replace(" ", "")
    if not text:
        raise FieldError(N_("Required."))
    if len(text) > 30:
        raise FieldError(N_("Enter a number such as 1280.50."))
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise FieldError(N_("Enter a number such as 1280.50.")) from None
    if not value.is_finite():
        raise FieldError(N_("Enter a number such as 1280.50."))
    if value < 0:
        raise FieldError(N_("Must not be negative."))
    if value == 0 and not allow_zero:
        raise FieldError(N_("Must be more than zero."))
    if value > hi:
        raise FieldError(N_("That number is too large."))
    if value != value.quantize(Decimal(1).scaleb(-places)):
        raise FieldError(N_("At most two decimal places."))
    return value.quantize(Decimal(1).scaleb(-places))


_AMOUNT_RE = re.compile(r"^\d+(\.\d{1,2})?$")
_GROUPED_RE = re.compile(r"^\d{1,3}(,\d{3})+(\.\d{1,2})?$")


def decimal_text(value):
    """A number as its shortest plain text (28.50 → "28.5", 100 → "100", never "1E+2"), the same whether the
    engine gave a Decimal (PostgreSQL's numeric keeps the scale) or a float (SQLite); None → ""."""
    if value is None:
        return ""
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    return format(number.normalize(), "f")


def parse_money(raw, required=False, positive=False, hi=Decimal("1000000000000")):
    """Yuan as Decimal from '12500', '12,500.00', '¥12 500' (None when empty and optional).
    Letters, two decimal separators, more than two decimals or a negative amount: FieldError."""
    text = to_halfwidth(str(raw if raw is not None else "")).strip()
    text = re.sub(r"[\s¥￥]", "", text)
    if not text:
        if required:
            raise FieldError(N_("Required."))
        return None
    if "," in text:  # thousands separators only where they belong: 1,200,000.50
        if not _GROUPED_RE.match(text):
            raise FieldError(N_("Enter an amount in yuan, e.g. 12500 or 12,500.50."))
        text = text.replace(",", "")
    if not _AMOUNT_RE.match(text):
        raise FieldError(N_("Enter an amount in yuan, e.g. 12500 or 12,500.50."))
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise FieldError(N_("Enter an amount in yuan, e.g. 12500 or 12,500.50.")) from None
    if value >= hi:
        raise FieldError(N_("That amount is too large."))
    if positive and value <= 0:
        raise FieldError(N_("Enter an amount above zero."))
    return value


def parse_yuan(raw, hi=Decimal("999999999999.99")):
    """A yuan amount as people say it: 300000, 300,000.50, ¥30万, 1.5万 (None when empty)."""
    text = unicodedata.normalize("NFKC", str(raw or "")).strip().replace(" ", "")
    text = text.lstrip("¥￥").replace("元", "")
    if not text:
        return None
    scale = Decimal(1)
    if text.endswith("万"):
        scale, text = Decimal(10000), text[:-1]
    elif text.endswith("亿"):
        scale, text = Decimal(100000000), text[:-1]
    if re.fullmatch(r"\d{1,3}(,\d{3})+(\.\d+)?", text):
        text = text.replace(",", "")
    if text.count(".") > 1 or "," in text:
        raise FieldError(N_("Use one decimal point, e.g. 300000.50 (thousands may be separated by commas)."))
    if not re.fullmatch(r"\d+(\.\d+)?", text):
        raise FieldError(N_("Enter an amount in yuan: digits only, e.g. 300000 or 30万."))
    try:
        value = (Decimal(text) * scale)
    except InvalidOperation:
        raise FieldError(N_("Enter an amount in yuan: digits only, e.g. 300000 or 30万.")) from None
    if value > hi:
        raise FieldError(N_("That amount is too large."))
    if value != value.quantize(CENT):
        raise FieldError(N_("At most two decimals (fen)."))
    return value.quantize(CENT)


def parse_percent(raw, lo=-100, hi=1000):
    """A signed percentage as people type it: 12.5, -8, +30 %, −5％, full-width digits; from `lo` to `hi`,
    at most one decimal. Required."""
    text = unicodedata.normalize("NFKC", str(raw if raw is not None else "")).strip()
    text = text.replace("\u2212", "-").replace(" ", "").rstrip("%")
    if not text:
        raise FieldError(N_("Required."))
    if not re.fullmatch(r"[+-]?\d{1,6}(\.\d+)?", text):
        raise FieldError(N_("Enter a percentage such as 12.5 or -8."))
    value = Decimal(text)
    if value != value.quantize(Decimal("0.1")):
        raise FieldError(N_("At most one decimal place."))
    if not lo <= value <= hi:
        raise FieldError(N_("A percentage from %(lo)s to %(hi)s."), lo=lo, hi=hi)
    return float(value)


# ---- dates --------------------------------------------------------------------------------------

def parse_date(raw, lo=DATE_MIN, hi=DATE_MAX):
    """A date from YYYY-MM-DD from `lo` to `hi`."""
    try:
        value = dt.date.fromisoformat(str(raw).strip())
    except ValueError:
        raise FieldError(N_("Enter a date as YYYY-MM-DD.")) from None
    if not lo <= value <= hi:
        if (lo, hi) == (DATE_MIN, DATE_MAX):
            raise FieldError(N_("Enter a date between 1900 and 2100."))
        raise FieldError(N_("Enter a date between %(lo)s and %(hi)s."), lo=lo.isoformat(), hi=hi.isoformat())
    return value


def date_or_none(raw, lo=DATE_MIN, hi=DATE_MAX):
    """A date from YYYY-MM-DD, or None for empty or bad input (a filter that is simply not applied)."""
    try:
        return parse_date(raw, lo, hi) if not blank(raw) else None
    except FieldError:
        return None


def parse_datetime(raw):
    """A date and time from ISO text (2026-11-24T10:05, an offset kept if typed)."""
    try:
        return dt.datetime.fromisoformat(str(raw).strip())
    except ValueError:
        raise FieldError(N_("Enter a date and time.")) from None


def parse_time(raw):
    """A time of day from HH:MM (a full-width colon or digits accepted), 00:00 to 23:59."""
    text = to_halfwidth(str(raw or "").strip())
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", text)
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise FieldError(N_("Enter a time as HH:MM."))
    return dt.time(int(match.group(1)), int(match.group(2)))


def date_field(e, data, field, lo=DATE_MIN, hi=DATE_MAX, required=False):
    """The date field `field` of `data`: None when empty ("Required." on `e` if required) or bad."""
    if blank(data.get(field)):
        if required:
            e.add(field, N_("Required."))
        return None
    return take(e, field, parse_date, data.get(field), lo, hi)


# ---- phones, addresses, codes ---------------------------------------------------------------------

MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")
LANDLINE_RE = re.compile(r"^0\d{2,3}\d{7,8}$")
SERVICE_RE = re.compile(r"^[48]00\d{7}$")


def normalize_phone(raw):
    """Digits only, without +86/0086 and extension: the form used for matching duplicates."""
    text = to_halfwidth(raw).strip()
    text = re.split(r"(?:ext\.?|转|#|x)", text, maxsplit=1, flags=re.I)[0]
    digits = re.sub(r"[\s\-()（）.+]", "", text)
    international = text.lstrip("(（").startswith("+86") or digits.startswith("0086")
    if digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and (international or len(digits) == 13):
        digits = digits[2:]
    if international and digits and not (MOBILE_RE.match(digits) or digits.startswith(("0", "400", "800"))):
        digits = "0" + digits  # +86 21 6234 5678: dialled from abroad, the area code drops its leading 0
    return digits


def format_phone(digits):
    """One written format for a normalised phone (normalize_phone): a mobile as 138 0013 8000, a landline as
    021-6234 5678 (three-digit area codes 010 and 02x, else four), a 400/800 number as 400-820-8820; '' for
    anything else (left as typed)."""
    if MOBILE_RE.match(digits or ""):
        return f"{digits[:3]} {digits[3:7]} {digits[7:]}"
    if SERVICE_RE.match(digits or ""):
        return f"{digits[:3]}-{digits[3:6]}-{digits[6:]}"
    if LANDLINE_RE.match(digits or ""):
        area = 3 if digits.startswith(("010", "02")) else 4
        number = digits[area:]
        if len(number) not in (7, 8):
            return ""
        split = len(number) - 4
        return f"{digits[:area]}-{number[:split]} {number[split:]}"
    return ""


def phone_error(raw, mobile_only=False):
    text = to_halfwidth(raw).strip()
    if re.search(r"[^\d\s\-()（）.+#转extEXT]", text):
        return N_("Use digits, spaces, dashes and an optional +86; an extension after 转 or ext.")
    digits = normalize_phone(text)
    if MOBILE_RE.match(digits):
        return None
    if mobile_only:
        return N_("A mobile number has 11 digits starting with 1 (e.g. 138 0013 8000).")
    if LANDLINE_RE.match(digits) or SERVICE_RE.match(digits):
        return None
    return N_("Enter a mobile number (11 digits) or a landline with its area code (e.g. 021-6234 5678).")


EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+$")
URL_RE = re.compile(r"^(https?://)?([a-z0-9-]+\.)+[a-z]{2,}(:\d{1,5})?(/\S*)?$", re.I)

CREDIT_CODE_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_CODE_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def credit_code_check_char(first17):
    """GB 32100-2015: check character = 31 - (Σ value × 3^i mod 31) mod 31, over 31 symbols."""
    total = sum(CREDIT_CODE_CHARS.index(ch) * w for ch, w in zip(first17, CREDIT_CODE_WEIGHTS))
    return CREDIT_CODE_CHARS[(31 - total % 31) % 31]


def credit_code_error(code):
    """None if `code` is a valid unified social credit code, else a message."""
    if len(code) != 18:
        return N_("A unified social credit code has 18 characters.")
    bad = [ch for ch in code if ch not in CREDIT_CODE_CHARS]
    if bad:
        return N_("Only digits and the capital letters A–Y except I, O, S, V, Z are allowed.")
    if not code[2:8].isdigit():
        return N_("Characters 3–8 must be the administrative division code (digits).")
    if credit_code_check_char(code[:17]) != code[17]:
        return N_("The check character (the 18th) does not match: please check the code.")
    return None
