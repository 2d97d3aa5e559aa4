"""The calendar-aware clock's settings in the versioned pool rules (issue 20 item 3): parsed and checked
here, below `rules` (which calls `validate`), so that `rules` never imports the clock's domain module
(models/pool_clock.py, which reads the service calendar and the reorder cycles).

    clock_days        "calendar" (every day counts) or "working" (the service calendar's working days)
    freeze_windows    [{"start": "2027-02-05", "end": "2027-02-13", "name": "Spring Festival"}]: whole
                      business days, both ends included; no releases, and the clocks stand still
"""
import datetime as dt
import re

from models.errors import N_
from models.fields import FieldError, parse_date

CLOCK_MODES = ("calendar", "working")
CLOCK_MODE_LABELS = {"calendar": N_("Calendar days"), "working": N_("Working days (the service calendar)")}
MAX_WINDOWS = 50
_LINE = re.compile(r"^\s*(\S+)\s*(?:[~～—–]|\s-\s|\s)\s*(\S+)\s*(.*)$")


def windows(settings):
    """The freeze windows of a settings dict as sorted (start date, end date, name)."""
    out = []
    for w in settings.get("freeze_windows") or []:
        out.append((dt.date.fromisoformat(w["start"]), dt.date.fromisoformat(w["end"]), w.get("name") or ""))
    return sorted(out)


def windows_text(settings):
    """The freeze windows as the form's lines: `2027-02-05 2027-02-13 Spring Festival`."""
    return "\n".join(f"{a.isoformat()} {b.isoformat()} {name}".strip() for a, b, name in windows(settings))


def parse_windows(raw):
    """Form text (one window a line: start, end, a name) or a stored list to (windows, [(message, params)])."""
    if isinstance(raw, list):
        return raw, []
    parsed, problems = [], []
    lines = [line for line in str(raw or "").splitlines() if line.strip()]
    if len(lines) > MAX_WINDOWS:
        return [], [(N_("At most %(n)s freeze windows."), {"n": MAX_WINDOWS})]
    for number, line in enumerate(lines, 1):
        match = _LINE.match(line)
        try:
            if not match:
                raise FieldError("")
            start, end = parse_date(match.group(1)), parse_date(match.group(2))
        except FieldError:
            problems.append((N_("Line %(line)s: write a start date, an end date and a name, e.g. "
                                "2027-02-05 2027-02-13 Spring Festival."), {"line": number}))
            continue
        name = " ".join(match.group(3).split())[:40]
        if end < start:
            problems.append((N_("Line %(line)s: the freeze window ends (%(end)s) before it starts (%(start)s)."),
                             {"line": number, "start": start.isoformat(), "end": end.isoformat()}))
            continue
        if (end - start).days > 366:
            problems.append((N_("Line %(line)s: a freeze window lasts at most a year."), {"line": number}))
            continue
        parsed.append({"start": start.isoformat(), "end": end.isoformat(), "name": name})
    parsed.sort(key=lambda w: w["start"])
    for before, after in zip(parsed, parsed[1:]):
        if after["start"] <= before["end"]:
            problems.append((N_("The freeze windows %(a)s and %(b)s overlap: join them or move one."),
                             {"a": _window_words(before), "b": _window_words(after)}))
    return parsed, problems


def _window_words(w):
    return f"{w['name'] or ''} {w['start']}–{w['end']}".strip()


def validate(data, out, errors):
    """Add the clock settings of form data `data` to `out`; problems go to `errors` (a FieldErrors)."""
    mode = str(data.get("clock_days") or "calendar")
    if mode not in CLOCK_MODES:
        errors.add("clock_days", N_("Choose calendar days or working days."))
        mode = "calendar"
    out["clock_days"] = mode
    parsed, problems = parse_windows(data.get("freeze_windows", ""))
    for message, params in problems:
        errors.add("freeze_windows", message, **params)
    out["freeze_windows"] = [] if problems else parsed
    warn, release = out.get("reorder_warn_percent"), out.get("reorder_release_percent")
    if warn and release and warn >= release:
        errors.add("reorder_warn_percent", N_("Warn before the release: %(warn)s%% is not below %(release)s%%."),
                   warn=warn, release=release)
    if release and release < 100:
        errors.add("reorder_release_percent", N_("At least 100%% of the usual interval, or 0 for off."))
    for tier, own in (out.get("tiers") or {}).items():  # a value tier's own reorder release (models/rules.py)
        pct = own.get("reorder_release_percent")
        if pct and pct < 100:
            errors.add(f"tier_{tier}_reorder_release_percent", N_("At least 100%% of the usual interval, or 0 for off."))
