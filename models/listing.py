"""The customer list: filters, sort orders and keyset pagination that hold at a million rows.

No OFFSET and no full COUNT(*): a page is "rows after this (sort value, id)"; the total is
counted only up to a cap. Every filter is applied on top of permissions.visible().
"""
import datetime as dt
import functools
from dataclasses import dataclass, field

import peewee as pw

from models import clock, search
from models.customers import BUSINESS_MODELS, SOURCES, STAGES, Customer, CustomValue, active_custom_fields, parse_custom_value
from models.fields import FieldError, blank, clean_text, clip_text, decimal_text, id_or_none, parse_date, parse_decimal
from models.base import is_sqlite, kept_select
from models.keyset import first_page, keyset_union
from models.perf_tables import SIGNED_STAGES
from models.sql import no_index
from models.permissions import Marked, customer_scope_branches, sees_all_owned, sees_every_customer, visible
from models.users import User
from models.value import ALL_TIERS

PAGE_SIZE = 25
COUNT_CAP = 1000
RARE = 20000  # a custom filter value with fewer matches drives the list query (about sqrt(COUNT_CAP × customers / 2) at 1M)
SORTS = {
    "created": None,  # id order is creation order
    "name": Customer.name,
    "activity": Customer.touched_at,
    "release": Customer.release_at,  # releasing soonest: only customers with a release date
}
SCOPES = ("mine", "team", "all")
# Won back from a pool (the dashboards' "recovered", models/dashboards.py's tally): owned again after a
# release; "signed": and at signed or long-term now.
RECOVERED = ("yes", "signed")


@dataclass
class Filters:
    scope: str = "all"
    q: str = ""
    stage: str = ""
    grade: str = ""
    region: int = 0
    city: str = ""
    industry: int = 0
    business_model: str = ""
    source: str = ""
    owner: int = 0
    team: int = 0
    pool: int = 0
    tier: str = ""  # value tier (models/value.py)
    recovered: str = ""  # RECOVERED
    created_from: dt.date = None
    created_to: dt.date = None
    followup_from: dt.date = None
    followup_to: dt.date = None
    sort: str = "created"
    direction: str = "desc"
    errors: dict = field(default_factory=dict)
    # custom fields: {key: {"field": CustomField, "eq": text} or {"field", "lo", "hi"}} from cf.<key>,
    # cf.<key>.min / .max (numbers) and cf.<key>.from / .to (dates); keys are lower-case identifiers
    custom: dict = field(default_factory=dict)
    custom_fields: list = field(default_factory=list)  # the active ones, for the filter form
    terms: list = None  # search's usable terms of q (None: read from q)

    @classmethod
    def parse(cls, args, user):
        """From request args (any junk is dropped, with a message for bad dates)."""
        f = cls()
        f.scope = args.get("scope") if args.get("scope") in SCOPES else default_scope(user)
        f.q = search.normalize_query(args.get("q", ""))
        f.stage = args.get("stage") if args.get("stage") in STAGES else ""
        f.grade = args.get("grade") if args.get("grade") in ("A", "B", "C", "D") else ""
        f.business_model = args.get("business_model") if args.get("business_model") in BUSINESS_MODELS else ""
        f.source = args.get("source") if args.get("source") in SOURCES else ""
        f.tier = args.get("tier") if args.get("tier") in ALL_TIERS else ""
        f.recovered = args.get("recovered") if args.get("recovered") in RECOVERED else ""
        f.city = clip_text(args.get("city"), 40)
        for name in ("region", "industry", "owner", "team", "pool"):
            setattr(f, name, id_or_none(args.get(name)) or 0)  # an id SQLite can hold, else no filter
        for name in ("created_from", "created_to", "followup_from", "followup_to"):
            raw = args.get(name)
            if raw:
                try:
                    setattr(f, name, parse_date(raw))
                except ValueError as exc:
                    f.errors[name] = str(exc)
        f.sort = args.get("sort") if args.get("sort") in SORTS else "created"
        f.direction = "asc" if args.get("dir") == "asc" else "desc"
        f.custom_fields = active_custom_fields()
        for cf in f.custom_fields:
            f._parse_custom(cf, args)
        return f

    def _parse_custom(self, cf, args):
        name = "cf." + cf.key
        if cf.kind in ("number", "date"):
            bounds = {}
            for end, suffix in (("lo", ".min" if cf.kind == "number" else ".from"),
                                ("hi", ".max" if cf.kind == "number" else ".to")):
                raw = args.get(name + suffix)
                if blank(raw):
                    continue
                try:
                    bounds[end] = parse_decimal(raw, allow_zero=True) if cf.kind == "number" else parse_date(raw)
                except FieldError as exc:
                    self.errors[name + suffix] = exc.message
            if bounds:
                self.custom[cf.key] = {"field": cf, **bounds}
            return
        raw = clean_text(args.get(name), 200)
        if raw:
            try:
                value = parse_custom_value(cf, raw)
            except FieldError as exc:
                self.errors[name] = exc.message
            else:
                self.custom[cf.key] = {"field": cf, "eq": value}

    def custom_args(self):
        out = {}
        for key, c in self.custom.items():
            if "eq" in c:
                out["cf." + key] = c["eq"]
            lo_name, hi_name = (".min", ".max") if c["field"].kind == "number" else (".from", ".to")
            for end, suffix in (("lo", lo_name), ("hi", hi_name)):
                if c.get(end) is not None:
                    value = c[end]
                    out["cf." + key + suffix] = value.isoformat() if isinstance(value, dt.date) else decimal_text(value)
        return out

    def as_args(self, **override):
        """The URL state (only non-default values), so links and the back button keep it."""
        out = {}
        for key in ("scope", "q", "stage", "grade", "region", "city", "industry", "business_model", "source",
                    "owner", "team", "pool", "tier", "recovered", "created_from", "created_to", "followup_from",
                    "followup_to", "sort"):
            value = getattr(self, key)
            if value and not (key == "sort" and value == "created"):
                out[key] = value.isoformat() if isinstance(value, dt.date) else value
        if self.direction == "asc":
            out["dir"] = "asc"
        out.update(self.custom_args())
        out.update({k: v for k, v in override.items()})
        return {k: v for k, v in out.items() if v not in (None, "")}

    @property
    def active_count(self):
        return sum(1 for k in ("stage", "grade", "region", "city", "industry", "business_model", "source", "owner",
                               "team", "tier", "recovered", "created_from", "created_to", "followup_from", "followup_to")
                   if getattr(self, k)) + len(self.custom)


def default_scope(user):
    return {"sales": "mine", "manager": "team"}.get(user.role, "all")


def filtered(user, f, within=None):
    """The visible, filtered customer query (unordered); `within`: one branch of the user's scope
    (`customer_scope_branches`) instead of the whole of it. Cleansing's junk (quarantined) is left out."""
    if within is not None:
        q = Customer.select().where(within)
    elif f.scope == "mine" and sees_all_owned(user):
        q = Customer.select()  # narrowed to the owner's customers below, every one of which the user opens
    else:
        q = visible(Customer.select(), user)
    q = q.where(Customer.quarantined_at.is_null())
    if f.scope == "mine":
        q = q.where(Customer.owner == user.id)
    elif f.scope == "team" and user.team_id:
        q = q.where(Customer.team == user.team_id)
    if f.stage:
        q = q.where(Customer.stage == f.stage)
    if f.grade:
        q = q.where(Customer.grade == f.grade)
    if f.region:
        q = q.where(Customer.region == f.region)
    if f.city:
        q = q.where(Customer.city == f.city)
    if f.industry:
        q = q.where(Customer.industry == f.industry)
    if f.business_model:
        q = q.where(Customer.business_model == f.business_model)
    if f.source:
        q = q.where(Customer.source == f.source)
    if f.owner:
        q = q.where(Customer.owner == f.owner)
    if f.team:
        q = q.where(Customer.team == f.team)
    if f.pool:
        # on the pool's indexes (pool, sort column): the owner's index holds every pool's unowned customers
        q = q.where((Customer.pool == f.pool) & no_index(Customer.owner).is_null())
    if f.tier:
        q = q.where(Customer.value_tier == f.tier)
    if f.recovered:
        q = q.where(Customer.owner.is_null(False) & Customer.released_at.is_null(False))
        if f.recovered == "signed":
            q = q.where(Customer.stage.in_(SIGNED_STAGES))
    if f.sort == "release":
        q = q.where(Customer.release_at.is_null(False))
    if f.created_from:
        q = q.where(Customer.created_at >= clock.local_day_start(f.created_from))
    if f.created_to:
        q = q.where(Customer.created_at < clock.local_day_start(f.created_to + dt.timedelta(days=1)))
    if f.followup_from:
        q = q.where(Customer.last_followup_at >= clock.local_day_start(f.followup_from))
    if f.followup_to:
        q = q.where(Customer.last_followup_at < clock.local_day_start(f.followup_to + dt.timedelta(days=1)))
    small = f.scope in ("mine", "team") or bool(f.owner) or (user.role == "sales" and f.scope != "all")
    # A common value (and any value in a small scope: a rep's or a team's customers) is checked row by row
    # on custom_value's unique (customer, field) index while the list walks its sort order; the rare
    # values' matches come from (field, value | number, customer), intersected, and only those customers
    # are read. Rare is told by counting at most RARE index entries.
    rare = [] if small else [c for c in f.custom.values() if custom_matches(c).limit(RARE).count() < RARE]
    for c in f.custom.values():
        if not any(c is r for r in rare):
            q = q.where(pw.fn.EXISTS(custom_matches(c).where(CustomValue.customer == Customer.id)))
    if rare:
        q = q.where(Customer.id.in_(functools.reduce(lambda a, b: a & b, [custom_matches(c) for c in rare])))
    if f.q:
        q = search.filter_query(q, f.q, Customer, small=small, terms=f.terms)
    return q


def custom_matches(c):
    """The ids of the customers whose value of one custom field passes the filter: an index range on
    custom_value (field, value, customer) or (field, number, customer)."""
    cf = c["field"]
    q = CustomValue.select(CustomValue.customer).where(CustomValue.field == cf.id)
    if "eq" in c:
        return q.where(CustomValue.value == c["eq"])
    column = CustomValue.number if cf.kind == "number" else CustomValue.value
    for end, op in (("lo", "__ge__"), ("hi", "__le__")):
        if c.get(end) is not None:
            bound = c[end].isoformat() if isinstance(c[end], dt.date) else c[end]
            q = q.where(getattr(column, op)(bound))
    return q


@dataclass
class Page:
    rows: list
    next_cursor: str = None
    prev_cursor: str = None
    total: int = 0
    total_capped: bool = False


# What a list's first page may filter on and still keep its statements (kept_select): values that go into the
# SQL as they are. Dates (turned into business-day bounds), custom fields and "recovered" build each time.
KEPT_FILTERS = ("stage", "grade", "region", "city", "industry", "business_model", "source", "owner", "team", "pool",
                "tier")


def _kept_shape(user, f, size):
    """(key, values, build(statement, *marks)) keeping a first page's statements, or None when the list's shape is
    not told by the filters alone: a seller's scope (their pools and delegations) or a team's, dates, custom fields.
    A rep's own customers and an admin's (or service's) whole list, filtered, sorted or searched, are."""
    if f.custom or f.recovered or f.created_from or f.created_to or f.followup_from or f.followup_to:
        return None
    mine = f.scope == "mine" and sees_all_owned(user)
    if not mine and not (f.scope == "all" and sees_every_customer(user)):
        return None
    if f.q and not (mine and is_sqlite()):
        return None  # a search over everything lists the index's matches; PostgreSQL's text carries its terms
    terms = search._terms(f.q) if f.q else []
    given = tuple(name for name in KEPT_FILTERS if getattr(f, name))
    values = ([user.id] if mine else []) + [getattr(f, name) for name in given] + terms
    key = ("listing", user.role, f.scope, f.sort, f.direction, given, bool(f.q), len(terms), size)

    def build(statement, *marks):
        user_id, marks = (marks[0], marks[1:]) if mine else (None, marks)
        shape = Filters(scope=f.scope, q=f.q, sort=f.sort, direction=f.direction,
                        terms=list(marks[len(given):]) if f.q else None, **dict(zip(given, marks)))
        return statement(filtered(Marked(user, user_id, None), shape))
    return key, values, build


def page(user, f, after=None, before=None, size=PAGE_SIZE, count=True):
    """One page of the list in the filter's order, after or before a cursor."""
    column = SORTS[f.sort]
    fields = [Customer.id] if column is None else [column, Customer.id]
    columns = (Customer.id, Customer.name, Customer.short_name, Customer.stage, Customer.grade, Customer.city,
               Customer.region, Customer.industry, Customer.owner, Customer.team, Customer.business_model,
               Customer.created_at, Customer.last_followup_at, Customer.touched_at, Customer.next_followup_on,
               Customer.completeness, Customer.release_at, Customer.release_rule, Customer.locked, Customer.pool,
               Customer.released_at, Customer.released_from, Customer.released_team, Customer.staked_by,
               Customer.stake_due, Customer.value_tier)
    # A seller's scope is an OR of what they work, stake, and the pools: in any order, the OR
    # reads and sorts a region's whole pool, so each part walks its own index and the pages merge.
    # "Mine" and "my team" narrow it to the owner's or the team's index already (the parts would add
    # two empty walks, and a count that reads every id of the part that is not empty).
    # A pool's page (f.pool: unowned only) needs no part of owned customers.
    kept = None if after or before else _kept_shape(user, f, size)
    if kept is not None:  # the first page of a list whose statements are kept: read as keyset_page reads it
        key, values, build = kept
        order = [field.desc() if f.direction == "desc" else field.asc() for field in fields]
        rows = kept_select(key + ("rows",), lambda *marks: build(
            lambda q: q.select(*columns).order_by(*order).limit(size + 1), *marks), *values)
        found = first_page(rows, fields, size)
        result = Page(rows=found.rows, next_cursor=found.next)
        if count and f.q:
            result.total, result.total_capped = len(found.rows), found.more
        elif count:
            total = next(iter(kept_select(key + ("count",), lambda *marks: build(
                lambda q: _capped(q).tuples(), *marks), *values)))[0]
            result.total, result.total_capped = min(total, COUNT_CAP), total > COUNT_CAP
        _attach_owners(result.rows, known=user)
        return result
    branches = None if f.q or f.scope in ("mine", "team") else \
        customer_scope_branches(user, owned=f.sort == "release", unowned=bool(f.pool))
    queries = [filtered(user, f, within=b).select(*columns) for b, _ in branches] if branches else \
        [filtered(user, f).select(*columns)]
    found = keyset_union(queries, fields, after=after, before=before, limit=size, descending=f.direction == "desc",
                         small={i for i, (_, small) in enumerate(branches or ()) if small})
    rows, more = found.rows, found.more
    result = Page(rows=rows, next_cursor=found.next, prev_cursor=found.prev)
    if count and f.q:
        # Search as you type says "these, and more": counting a common term's matches would list
        # them all a second time.
        result.total, result.total_capped = len(rows), more or found.from_cursor
    elif count and branches:
        # A part past the cap alone decides; else the ids of the parts, a customer in two counted once.
        if any(_capped_count(query) > COUNT_CAP for query in queries):
            result.total, result.total_capped = COUNT_CAP, True
        else:
            ids = {pk for query in queries for (pk,) in query.select(Customer.id).tuples()}
            result.total, result.total_capped = min(len(ids), COUNT_CAP), len(ids) > COUNT_CAP
    elif count:
        total = _capped_count(filtered(user, f))
        result.total, result.total_capped = min(total, COUNT_CAP), total > COUNT_CAP
    _attach_owners(result.rows, known=user)
    return result


def _capped(query):
    """The statement counting `query`'s rows no further than COUNT_CAP + 1."""
    capped = query.select(pw.SQL("1")).limit(COUNT_CAP + 1)
    return Customer.select(pw.fn.COUNT(pw.SQL("*"))).from_(capped.alias("capped"))


def _capped_count(query):
    """How many rows `query` has, counting no further than COUNT_CAP + 1."""
    return _capped(query).scalar()


def _attach_owners(rows, known=None):
    """One query for the owners of a page (no N+1); none when `known` (the reader) owns them all."""
    ids = {r.owner_id for r in rows if r.owner_id}
    if known is not None and ids == {known.id}:
        owners = {known.id: known}
    else:
        owners = {u.id: u for u in User.select(User.id, User.full_name).where(User.id.in_(ids))} if ids else {}
    for r in rows:
        r.owner_name = owners[r.owner_id].full_name if r.owner_id in owners else ""
