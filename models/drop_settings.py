"""The fair drops' settings per pool (issue 20 item 1), kept in the versioned pool rules under "drops":
{pool id (text): {"time": "10:00", "method": "lottery" | "weighted"}}. A pool without an entry has no drop:
a released customer is claimable as before (after the frozen hours). Ground floor: parsing only, so that
models/rules.py can validate the rule form without importing the drops domain."""
import re

from models.errors import N_

METHODS = ("lottery", "weighted")
METHOD_LABELS = {"lottery": N_("Lottery, equal chances"),
                 "weighted": N_("Lottery weighted: fewer claims this week, better chances")}
_TIME_RE = re.compile(r"([01]?\d|2[0-3])[:：.]([0-5]\d)")


def parse_time(raw):
    """'10:00' → (10, 0); None when it is not a time of day."""
    match = _TIME_RE.fullmatch(str(raw or "").strip())
    return (int(match.group(1)), int(match.group(2))) if match else None


def parse(data, errors):
    """{pool id: {"time", "method"}} from form fields `drop_<pool id>_time` (empty: no drop) and
    `drop_<pool id>_method`; a bad time or method goes to `errors` under its field."""
    out = {}
    for field, raw in data.items():
        match = re.fullmatch(r"drop_(\d{1,9})_time", field)
        if not match or not str(raw).strip():
            continue
        pool_id = match.group(1)
        hm = parse_time(raw)
        if hm is None:
            errors[field] = [(N_("A time of day such as 10:00, or empty for no drop."), {})]
            continue
        method = str(data.get(f"drop_{pool_id}_method") or "lottery")
        if method not in METHODS:
            errors[f"drop_{pool_id}_method"] = [(N_("Choose how the drop is drawn."), {})]
            continue
        out[pool_id] = {"time": "%02d:%02d" % hm, "method": method}
    return out


def form_values(settings):
    """The rule form's values for the drops of `settings` (a rules dict)."""
    out = {}
    for pool_id, drop in (settings.get("drops") or {}).items():
        out[f"drop_{pool_id}_time"] = drop.get("time", "")
        out[f"drop_{pool_id}_method"] = drop.get("method", "lottery")
    return out


def for_pool(rules, pool_id):
    """The drop setting of a pool under `rules` (Rules or a settings dict), or None: no drop there."""
    drops = (rules.s if hasattr(rules, "s") else rules).get("drops") or {}
    drop = drops.get(str(pool_id)) if pool_id else None
    if not drop or parse_time(drop.get("time")) is None:
        return None
    return drop
