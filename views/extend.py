"""The extension points of the shared screens, in one registration style: a domain's view module calls
`extend.<point>(...)` at import (a decorator where it registers a function), the host screens read here.

    @extend.customer_tab("orders", N_("Orders"), "orders/_tab.html", order=30, visible=fn(user, customer))
    def tab_context(customer, user): return {...}            # the 360 page: a tab after the built-in ones
    @extend.side_card("orders/_figures_panel.html", order=30)
    def figures(customer, user): return {...} or None         # the 360 page: a card in the side column
    extend.customer_rows("order", Order)                      # a side card's table: `may_have_rows(id, "order")`
                                                              # is False for a customer without rows (one statement
                                                              # asks every such table while the cards are read)
    @extend.opportunity_card("value/_opp_factors.html", order=10)
    def guidance(opp, user): return {...} or None             # an opportunity's page: a card in its side column
    @extend.timeline("opportunity.")
    def describe(event): return "..." or None                 # timeline sentences for audit kinds
    @extend.workbench_panel("service/_wb_mine.html", roles=("service",), order=11)
    def mine(user): return {...} or None                      # a card on the workbench of those roles
    @extend.workbench_panel("x/_wb.html", roles=(...), probe=fn(user) -> query or [queries])
    def card(user, found): ...                                # found: whether the probe's query has a row
    @extend.approvals_section("transfers", N_("Transfers"), "transfers/_approvals.html", count=fn(user), order=10)
    def rows(user): return [...]                              # the approvals inbox; the badge sums `count`
    extend.template_globals(NAME=value, ...); extend.template_filters(name=fn, ...)

Cards and tabs show in `order`, then by key / template name; `None` from a context shows nothing.
"""
from dataclasses import dataclass, field
from typing import Callable

import peewee as pw
from flask import g, url_for
from flask_login import current_user
from markupsafe import Markup, escape

from models import workbench
from models.base import db, kept_select, kept_sql
from models.customer_tables import Customer, Pool
from models.ledger import PoolEvent
from models.permissions import acting_user, can, scope
from models.user_tables import User
from views.i18n import gettext as _
from views.i18n import locale_code


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
_opportunity_cards = {}
_timeline = {}
_workbench_panels = {}
_approvals = {}
_globals = {}
_filters = {}
_gone_pages = []
_customer_rows = {}
_event_labels = {}
_input_labels = {}


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


def opportunity_card(template, order=100):
    """A card in an opportunity page's side column; the template reads the context as `p`."""
    def register(context):
        _opportunity_cards[template] = (order, template, context)
        return context
    return register


LEDGER = "ledger."  # the pool ledger's kinds (PoolEvent) answer in the same registry as "ledger.<kind>"


def timeline(*prefixes):
    """Sentences for the audit rows whose kind starts with one of `prefixes`, and for the pool ledger's
    rows as "ledger.<kind>" (the longest prefix answers first; a describer returning None leaves the row
    to a shorter prefix, else to the readable fallback). A describer returns text (escaped) or Markup,
    and names customers and people through `names()` (links where the reader may open them)."""
    def register(describe):
        for prefix in prefixes:
            _timeline[prefix] = describe
        return describe
    return register


def customer_rows(key, model, column=None):
    """A table a 360 side card reads by customer (`column`, else the model's `customer`): `may_have_rows(
    customer_id, key)` then tells a customer without rows there without a statement of the card's own."""
    _customer_rows[key] = (model, model.customer if column is None else column)
    return model


def gone_page(answer):
    """Asked in turn when a customer id is not found: `answer(customer_id)` returns a response or None
    (merges answers "merged into S" for a merged-away id, so the customer blueprint never imports merges)."""
    if answer not in _gone_pages:
        _gone_pages.append(answer)
    return answer


def gone_pages():
    return list(_gone_pages)


def workbench_panel(template, roles, order=100, probe=None):
    """A workbench card for the users of `roles` (asked through the `workbench.panel` rule). `probe(user)`:
    a query (or a list of them) whose rows the card would read; the probes of every card on the page are
    asked in one statement, `EXISTS` each, and the card's context is then called as `context(user, found)`
    (a bool, or a list of them), so that a card with nothing to show reads nothing more."""
    def register(context):
        _workbench_panels[template] = (order, template, tuple(roles), context, probe)
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
    """[(template, context)] of the side cards that have something to show. While they are asked,
    `may_have_rows` answers every registered table from one statement (an EXISTS each)."""
    g.kehu_customer_rows = {}
    try:
        return _cards(_side_cards, customer, acting_user(user))
    finally:
        g.kehu_customer_rows = None


def may_have_rows(customer_id, key):
    """False when the customer surely has no row in the table registered as `key` (`customer_rows`): inside
    `side_cards` every registered table is asked in one statement (an EXISTS each) the first time a card
    asks; elsewhere always True (the caller reads its rows as it would anyway)."""
    known = g.get("kehu_customer_rows")
    if known is None:
        return True
    if customer_id not in known:
        keys = tuple(sorted(_customer_rows))
        sql, n = _probe_sql(keys)
        found = db.execute_sql(sql, [customer_id] * n).fetchone()
        known[customer_id] = dict(zip(keys, (bool(v) for v in found or (True,) * len(keys))))
    return known[customer_id][key]


_probe_sqls = {}


def _probe_sql(keys):
    """The statement asking the tables of `keys` about one customer (its id every parameter), built once a
    process for each engine: text only, no data in it."""
    engine = type(db.obj)
    if (engine, keys) not in _probe_sqls:
        probes = [pw.fn.EXISTS(model.select(pw.SQL("1")).where(column == 0))
                  for model, column in (_customer_rows[k] for k in keys)]
        sql, params = Customer.select(*probes).where(Customer.id == 0).sql()  # every parameter the id
        _probe_sqls[engine, keys] = (sql, len(params))
    return _probe_sqls[engine, keys]


def opportunity_cards(opp, user):
    """[(template, context)] of the opportunity page's cards that have something to show."""
    return _cards(_opportunity_cards, opp, user)


def _cards(registry, record, user):
    shown = []
    for _order, template, context in sorted(registry.values(), key=lambda c: c[:2]):
        ctx = context(record, user)
        if ctx is not None:
            shown.append((template, ctx))
    return shown


def event_key(e):
    """The registry key of an audit row (its kind) or a ledger row ("ledger.<kind>")."""
    return LEDGER + e.kind if isinstance(e, PoolEvent) else e.kind


def describe_event(e):
    """One audit or ledger row as a sentence in the user's language (Markup: names may be links)."""
    key = event_key(e)
    for prefix in sorted((p for p in _timeline if key.startswith(p)), key=len, reverse=True):
        text = _timeline[prefix](e)
        if text:
            return escape(text)
    return describe_unknown(e)


def event_labels(labels):
    """{kind or "ledger.<kind>": N_(label)}: what the fallback sentence calls a kind (and a filter may list)."""
    _claim(_event_labels, labels)


def event_label(key):
    label = _event_labels.get(key)
    if label:
        return _(label)
    domain, _dot, rest = (LEDGER[:-1], ".", key[len(LEDGER):]) if key.startswith(LEDGER) else key.partition(".")
    known = _event_labels.get(domain + ".")
    head = _(known) if known else domain.replace("_", " ")
    return f"{head}: {rest.replace('_', ' ')}" if rest else head


def describe_unknown(e):
    """The readable fallback for a kind no describer knows: its label, then its inputs as "key: value" words."""
    data = dict(getattr(e, "data", None) or {})
    if isinstance(e, PoolEvent):
        data = {**(e.inputs or {}), **({"reason": e.reason} if e.reason else {})}
    parts = [f"{_input_label(k)}: {_input_value(v)}" for k, v in data.items() if v not in (None, "", [], {})]
    return escape(event_label(event_key(e)) + (" — " + "; ".join(parts) if parts else ""))


def _input_label(key):
    label = _input_labels.get(key)
    return _(label) if label else key.replace("_", " ")


def _input_value(value):
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, dict):
        return ", ".join(f"{_input_label(k)} {_input_value(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(_input_value(v) for v in value)
    return str(value)


def input_labels(labels):
    """{input key: N_(label)}: how the fallback sentence names a row's inputs."""
    _input_labels.update(labels)


# ---- names in sentences: loaded once per page, linked where the reader may open them ------------

class Names:
    """Customer, people and pool names of a page of audit / ledger rows, read in bulk by `load_names`.
    A name asked for that was not loaded is read then (one query each: views load first)."""

    def __init__(self, user):
        self.user = user if getattr(user, "is_authenticated", False) else None
        self.customers, self.open_customers, self.people, self.pools = {}, set(), {}, None

    def load(self, customer_ids=(), user_ids=()):
        customer_ids = {int(i) for i in customer_ids if i} - set(self.customers)
        if customer_ids:
            self.customers.update(dict.fromkeys(customer_ids))  # one not found stays None: deleted, not re-read
            self.customers.update(Customer.select(Customer.id, Customer.name)
                                  .where(Customer.id.in_(customer_ids)).tuples())
            if self.user is not None:
                ids = Customer.select(Customer.id).where(Customer.id.in_(customer_ids))
                scoped = scope("customer", self.user, ids)
                if scoped is ids:  # the reader may open every customer (the scope left the query as it was)
                    self.open_customers.update(i for i in customer_ids if self.customers[i] is not None)
                else:
                    self.open_customers.update(i for (i,) in scoped.tuples())
        user_ids = {int(i) for i in user_ids if i} - set(self.people)
        if user_ids:
            self.people.update(dict.fromkeys(user_ids))
            ids = sorted(user_ids)
            build = lambda *pks: User.select(User.id, User.full_name, User.role, User.team, User.active).where(  # noqa: E731
                User.id.in_(list(pks)))
            # a page names a few people: the statement kept per how many (kept_select)
            for person in kept_select(("names.people", len(ids)), build, *ids) if len(ids) <= 30 else build(*ids):
                self.people[person.id] = person
        return self

    def known(self, customer):
        """A customer the page has read and the reader opened already: named and linked without a query."""
        self.customers[customer.id] = customer.name
        self.open_customers.add(customer.id)
        return self

    def full_name(self, user_id):
        """A loaded person's plain name ("" if unknown)."""
        person = self.people.get(user_id)
        return person.full_name if person else ""

    def customer(self, customer_id, fallback=None):
        """The customer's name, linked to its file if the reader may open it."""
        if not customer_id:
            return fallback or _("a customer")
        if customer_id not in self.customers:
            self.load(customer_ids=[customer_id])
        name = self.customers.get(customer_id)
        if name is None:
            return fallback or _("a deleted customer")
        if customer_id in self.open_customers:
            return Markup('<a href="%s">%s</a>') % (url_for("customers.show", customer_id=customer_id), name)
        return escape(name)

    def person(self, user_id, fallback=None):
        """A person's name, linked to their private pool where the reader may open it."""
        if not user_id:
            return fallback or _("the system")
        if user_id not in self.people:
            self.load(user_ids=[user_id])
        person = self.people.get(user_id)
        if person is None:
            return fallback or _("a removed user")
        if self.user is not None and can(self.user, "capacity.view", person) and can(person, "pool.work"):
            return Markup('<a href="%s">%s</a>') % (url_for("pools.capacity", user_id=user_id), person.full_name)
        return escape(person.full_name)

    def pool(self, pool_id):
        if self.pools is None:  # a handful of rows, read once a request when a sentence names a pool
            self.pools = {p.id: p for p in Pool.select()}
        pool = self.pools.get(pool_id)
        return pool.label(locale_code()) if pool else _("the public pool")


_PERSON_KEYS = ("actor_id", "subject_id", "from_owner", "to_owner")
_PERSON_DATA = ("owner_id", "from_owner_id", "to_owner_id", "user_id", "absentee_id", "delegate_id", "requested_by")


def names():
    """This request's Names (empty until `load_names`)."""
    found = g.get("kehu_names")
    if found is None:
        found = g.kehu_names = Names(current_user._get_current_object())
    return found


def load_names(rows, known=()):
    """Read the names a page of audit / ledger rows mentions: customers (and which the reader may open)
    and people, in one query each (`known`: customers the page has read and opened already). Call before
    rendering the rows."""
    for customer in known:
        names().known(customer)
    customer_ids, user_ids = set(), set()
    for e in rows:
        customer_ids.add(e.customer_id)
        user_ids.update(getattr(e, key, None) for key in _PERSON_KEYS)
        data = e.inputs if isinstance(e, PoolEvent) else (e.data or {})
        user_ids.update(v for k, v in (data or {}).items() if k in _PERSON_DATA and isinstance(v, int))
    return names().load(customer_ids - {None}, user_ids - {None})


def team_members(team_id):
    """The users of a team (`workbench.team_members`), read once a request: the workbench's cards of a
    manager name, count and filter them."""
    memo = g.setdefault("kehu_team_members", {})
    if team_id not in memo:
        memo[team_id] = workbench.team_members(team_id)
    return memo[team_id]


def workbench_panels(user, own=None):
    """[(template, context)] of the cards this user's workbench shows, and {name: found} for the host's own
    probes (`own`: {name: query or [queries]}), asked in the one statement with the cards' probes."""
    user = acting_user(user)
    cards = [(template, context, probe(user) if probe else None)
             for _order, template, roles, context, probe in sorted(_workbench_panels.values(), key=lambda p: p[:2])
             if can(user, "workbench.panel", roles)]
    asked = [(template, probe) for template, _context, probe in cards if probe is not None]
    asked += [(("own", name), probe) for name, probe in (own or {}).items()]
    found = dict(zip((key for key, _probe in asked), exists(*(probe for _key, probe in asked))))
    shown = []
    for template, context, _probe in cards:
        ctx = context(user, found[template]) if template in found else context(user)
        if ctx is not None:
            shown.append((template, ctx))
    return shown, {name: found[("own", name)] for name in (own or {})}


def kept_probe(key, build, *values):
    """A probe whose shape never changes, only its values (the user's id, today), kept as
    `models.base.kept_select` keeps a SELECT (`kept_sql`): each call gives its SQL with this call's values,
    which `exists` joins as it is (peewee builds a probe in ~0.05–0.15 ms, a workbench asks twenty). A value
    of no kept type (None), or one the SQL does not show: the query itself."""
    try:
        kept = kept_sql(("probe", key), lambda *marks: build(*marks).order_by(), *values)
    except TypeError:
        return build(*values)
    return build(*values) if kept is None else pw.SQL(*kept)


def exists(*probes):
    """For each probe (a query, a `kept_probe`, or a list of them: a list of answers) whether it has a row, in
    one statement."""
    queries = [q for probe in probes for q in (probe if isinstance(probe, (list, tuple)) else [probe])]
    # the kept probes' SQL joined as text (peewee would wrap each in two nodes to write the same)
    parts = [(q.sql, q.params or ()) if isinstance(q, pw.SQL) else q.order_by().sql() for q in queries]
    row = list(db.execute_sql("SELECT " + ", ".join(f"EXISTS({sql})" for sql, _ in parts),
                              [p for _, params in parts for p in params]).fetchone()) if queries else []
    answers = []
    for probe in probes:
        if isinstance(probe, (list, tuple)):
            answers.append([bool(x) for x in row[:len(probe)]])
            del row[:len(probe)]
        else:
            answers.append(bool(row.pop(0)))
    return answers


def approvals_sections():
    return sorted(_approvals.values(), key=lambda s: (s["order"], s["key"]))


def _tab_label(tab):
    return tab.key, _(tab.label)


def init_app(app):
    """After every views module is imported: their template names, and the readers templates call."""
    app.jinja_env.globals.update(_globals, describe_event=describe_event)
    app.jinja_env.filters.update(_filters, tab_label=_tab_label)
