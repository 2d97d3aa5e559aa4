"""The extension points of the shared screens, in one registration style: a domain's view module calls
`extend.<point>(...)` at import (a decorator where it registers a function), the host screens read here.

    @extend.customer_tab("orders", N_("Orders"), "orders/_tab.html", order=30, visible=fn(user, customer))
    def tab_context(customer, user): return {...}            # the 360 page: a tab after the built-in ones
    @extend.side_card("orders/_figures_panel.html", order=30)
    def figures(customer, user): return {...} or None         # the 360 page: a card in the side column
    @extend.timeline("opportunity.")
    def describe(event): return "..." or None                 # timeline sentences for audit kinds
    @extend.workbench_panel("service/_wb_mine.html", roles=("service",), order=11)
    def mine(user): return {...} or None                      # a card on the workbench of those roles
    @extend.approvals_section("transfers", N_("Transfers"), "transfers/_approvals.html", count=fn(user), order=10)
    def rows(user): return [...]                              # the approvals inbox; the badge sums `count`
    extend.template_globals(NAME=value, ...); extend.template_filters(name=fn, ...)

Cards and tabs show in `order`, then by key / template name; `None` from a context shows nothing.
"""
from dataclasses import dataclass, field
from typing import Callable

from models.permissions import can
from views.i18n import gettext as _


@dataclass
class Tab:
    key: str
    label: str  # an N_() message
    template: str
    context: Callable = field(default=lambda customer, user: {})
    visible: Callable = field(default=lambda user, customer: True)
    order: int = 100


_tabs = {}
_side_cards = {}
_timeline = {}
_workbench_panels = {}
_approvals = {}
_globals = {}
_filters = {}
_gone_pages = []


# ---- registering -------------------------------------------------------------------------------

def customer_tab(key, label, template, visible=None, order=100):
    """A tab of the 360 page; the decorated `context(customer, user) -> dict` fills its partial."""
    def register(context):
        _tabs[key] = Tab(key, label, template, context, visible or (lambda user, customer: True), order)
        return context
    return register


def side_card(template, order=100):
    """A card in the 360 page's side column; the template reads the context as `p`."""
    def register(context):
        _side_cards[template] = (order, template, context)
        return context
    return register


def timeline(*prefixes):
    """Sentences for the audit rows whose kind starts with one of `prefixes` (the longest prefix
    answers first; a describer returning None leaves the row to a shorter prefix, else its kind)."""
    def register(describe):
        for prefix in prefixes:
            _timeline[prefix] = describe
        return describe
    return register


def gone_page(answer):
    """Asked in turn when a customer id is not found: `answer(customer_id)` returns a response or None
    (merges answers "merged into S" for a merged-away id, so the customer blueprint never imports merges)."""
    if answer not in _gone_pages:
        _gone_pages.append(answer)
    return answer


def gone_pages():
    return list(_gone_pages)


def workbench_panel(template, roles, order=100):
    """A workbench card for the users of `roles` (asked through the `workbench.panel` rule)."""
    def register(context):
        _workbench_panels[template] = (order, template, tuple(roles), context)
        return context
    return register


def approvals_section(key, title, template, count, order=100):
    """A section of the approvals inbox: the decorated `rows(user) -> list` (the template gets `rows`),
    and `count(user) -> int`, which the header badge sums."""
    def register(rows):
        _approvals[key] = dict(key=key, title=title, template=template, rows=rows, count=count, order=order)
        return rows
    return register


def template_globals(**values):
    """Names every template (and imported macro) may use; one domain's name never hides another's."""
    _claim(_globals, values)


def template_filters(**filters):
    _claim(_filters, filters)


def _claim(registry, values):
    taken = [name for name, value in values.items() if registry.get(name, value) is not value]
    if taken:
        raise ValueError(f"template names registered twice: {', '.join(taken)}")
    registry.update(values)


# ---- reading (the host screens) ------------------------------------------------------------------

def customer_tabs(user, customer):
    """The registered 360 tabs this user sees on this customer, in order."""
    return [t for t in sorted(_tabs.values(), key=lambda t: (t.order, t.key)) if t.visible(user, customer)]


def customer_tab_named(key):
    return _tabs.get(key)


def side_cards(customer, user):
    """[(template, context)] of the side cards that have something to show."""
    shown = []
    for _order, template, context in sorted(_side_cards.values(), key=lambda c: c[:2]):
        ctx = context(customer, user)
        if ctx is not None:
            shown.append((template, ctx))
    return shown


def describe_event(e):
    """One audit row as a sentence in the user's language."""
    for prefix in sorted((p for p in _timeline if e.kind.startswith(p)), key=len, reverse=True):
        text = _timeline[prefix](e)
        if text:
            return text
    return e.kind


def workbench_panels(user):
    shown = []
    for _order, template, roles, context in sorted(_workbench_panels.values(), key=lambda p: p[:2]):
        if can(user, "workbench.panel", roles):
            ctx = context(user)
            if ctx is not None:
                shown.append((template, ctx))
    return shown


def approvals_sections():
    return sorted(_approvals.values(), key=lambda s: (s["order"], s["key"]))


def _tab_label(tab):
    return tab.key, _(tab.label)


def init_app(app):
    """After every views module is imported: their template names, and the readers templates call."""
    app.jinja_env.globals.update(_globals, describe_event=describe_event)
    app.jinja_env.filters.update(_filters, tab_label=_tab_label)
