"""Domain events other domains react to, inside the same transaction as the verb that fired them.

A domain that keeps per-customer rows with an owner of their own (open opportunities, say), or that
derives something from a customer (the pool's release date), registers a function here instead of being
imported by the verb that changes customers: a lower module never imports a higher one.

    hooks.on("owner_changed", fn)   # fn(actor, customer_ids, from_owner_id, to_owner_id, reason)
    hooks.on("customer_merged", fn) # fn(actor, loser_id, survivor_id), before the loser is deleted
    hooks.on("customer_changed", fn) # fn(customer, now): the stage, owner or owner's follow-up clock of
                                     # an owned customer changed (models/pools.py recomputes the release date)
    hooks.on("customer_edited", fn) # fn(customer): its fields or a contact were saved
                                    # (models/pools.py completes a stake once the file is complete enough)
    hooks.on("customer_grouped", fn) # fn(actor, customer_id, owner_id): an owned customer was put in a group
                                     # (models/groups.py keeps the one-owner-per-group policy)
    hooks.on("customer_unowned", fn) # fn(actor, customer_id, now, why): a customer verb left it with no
                                     # owner (models/pools.py places it in its home pool)
    hooks.on("payment_received", fn) # fn(customer_id, now): money came in (models/value.py reclassifies)
    hooks.on("inbound_lead", fn)    # fn(actor, customer_id, note, now): a known customer asked again (service's
                                    # repurchase lead); models/leads.py routes it by the lead routing rule
    hooks.on("sweep", fn)           # fn(now) -> dict: a domain's idempotent time rules, run by the
                                    # server every few minutes and by `app.py sweep`; the pool sweep
                                    # registers with first=True so it runs before the others

`fire` calls them in registration order; an exception aborts the whole transaction.

A verb that holds the customer rows as it wrote them may pass them: `fire("owner_changed", ..., rows=[customer])`.
While the handlers run, `known_rows(customer_ids)` gives them back (None when the verb passed none, or not every
id), so a handler whose work depends on a column of the row (a waiting drop, a restored hold, a group) skips its
query when the row says there is nothing to do. A handler reads only the columns its own domain writes, so a row
stays true for it whatever the handlers before it did. A nested `fire` sees only the rows passed to it.
"""
import contextvars

from models import clock
from models.base import all_models

_HANDLERS = {}
_FIRST = {}  # event -> how many handlers at the front were registered with first=True
_NAMES = {}  # sweep handler -> its key in run_sweeps' results (default: its module's name)
EVENTS = ("owner_changed", "customer_merged", "customer_changed", "customer_edited", "customer_grouped", "customer_unowned",
          "payment_received",
          "inbound_lead", "sweep")


def on(event, fn, first=False, name=None):
    if event not in EVENTS:
        raise KeyError(event)
    handlers = _HANDLERS.setdefault(event, [])
    if fn not in handlers:
        if first:
            handlers.insert(_FIRST.get(event, 0), fn)
            _FIRST[event] = _FIRST.get(event, 0) + 1
        else:
            handlers.append(fn)
    if name:
        _NAMES[fn] = name
    return fn


_ROWS = contextvars.ContextVar("hooks_rows", default=None)  # {customer id: row} passed to the running fire


def fire(event, *args, rows=None, **kwargs):
    if event not in EVENTS:
        raise KeyError(event)
    _load_domains()
    token = _ROWS.set({r.id: r for r in rows} if rows is not None else None)
    try:
        for fn in _HANDLERS.get(event, []):
            fn(*args, **kwargs)
    finally:
        _ROWS.reset(token)


def known_rows(customer_ids):
    """The rows the firing verb passed for `customer_ids` (as written in its transaction), or None: ask the
    database."""
    rows = _ROWS.get()
    if rows is None:
        return None
    try:
        return [rows[i] for i in customer_ids]
    except KeyError:
        return None


_loaded = False


def _load_domains():
    """Import every domain module once, so each handler is registered whichever modules the caller
    imported (a script that imports only models.customers still gets its release dates and pools)."""
    global _loaded
    if not _loaded:
        all_models()
        _loaded = True


def run_sweeps(now=None):
    """Every domain's registered sweep, the pool sweep first; {name: result}."""
    all_models()  # imports every domain module, so their sweeps are registered
    now = now or clock.now()
    results = {}
    for fn in _HANDLERS.get("sweep", []):
        results[_NAMES.get(fn) or fn.__module__.rsplit(".", 1)[-1]] = fn(now)
    return results
