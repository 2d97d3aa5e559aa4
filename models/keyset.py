"""Keyset pagination, once for every list that pages (ground floor: imports no domain).

A list is a query and its order: one or more fields, all ascending or all descending, the last one
unique (the id), so that (sort value, id) names one row. A page is `limit` rows after (or before) a
cursor; the cursor is the key of the row at the page's edge, sent back by the next request:

    page = keyset_page(query, [Order.ordered_on, Order.id], after=request.args.get("before"),
                       limit=20, descending=True)
    page.rows, page.next, page.prev

The key compares as a row value, `(ordered_on, id) < (day, pk)`, which SQLite and PostgreSQL both
answer from an index on the same columns. A cursor is the id alone when the key is the id (`?before=123`),
else URL-safe base64 JSON of the values. A cursor that does not decode for the key (garbage, a value of
the wrong type, an integer beyond 64 bits) is no cursor: the first page, never an error.
"""
import base64
import datetime as dt
import json
from dataclasses import dataclass

import peewee as pw

from models.fields import MAX_INT

_INTEGER = (pw.IntegerField, pw.AutoField, pw.BigAutoField, pw.ForeignKeyField)


@dataclass
class KeysetPage:
    rows: list
    next: str = None  # cursor for the page after this one (None: this is the last)
    prev: str = None  # cursor for the page before it (None: this is the first)
    more: bool = False  # rows beyond this page in the direction walked
    from_cursor: bool = False  # the request named a cursor that decoded (not the first page)


def _is_int_field(field):
    return isinstance(field, _INTEGER)


def _row_value(row, field):
    value = getattr(row, getattr(field, "object_id_name", None) or field.name)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def encode(fields, values):
    """The cursor for a row whose key is `values`."""
    if len(fields) == 1 and _is_int_field(fields[0]):
        return str(values[0])
    raw = json.dumps(list(values), separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _typed(field, value):
    """`value` as the field compares it, else ValueError."""
    if value is None:
        return None
    if _is_int_field(field):
        if isinstance(value, bool) or not isinstance(value, int) or not -MAX_INT - 1 <= value <= MAX_INT:
            raise ValueError(value)
        return value
    if not isinstance(value, str):
        raise ValueError(value)
    if isinstance(field, pw.DateTimeField):
        return dt.datetime.fromisoformat(value)
    if isinstance(field, pw.DateField):
        return dt.date.fromisoformat(value)
    return value


def decode(fields, token):
    """The key values in `token`, typed for `fields`; None for anything that is not one."""
    if not token or not isinstance(token, str) or len(token) > 2000:
        return None
    try:
        if len(fields) == 1 and _is_int_field(fields[0]):
            number = int(token)
            return [number] if 0 < number <= MAX_INT else None  # ids are positive
        values = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if not isinstance(values, list) or len(values) != len(fields) or values[-1] is None:
            return None
        return [_typed(field, value) for field, value in zip(fields, values)]
    except (ValueError, TypeError, OverflowError):
        return None


def _decode_by_id(fields, token):
    """The key of the row whose id is `token` (a cursor that names its edge row by id alone)."""
    pk = decode(fields[-1:], token)
    if pk is None:
        return None
    model = fields[-1].model
    row = model.select(*fields).where(fields[-1] == pk[0]).tuples().first()
    return list(row) if row else None


def _sortable(values):
    return tuple((v is not None, v) for v in values)  # NULL first, as SQLite sorts


def _beyond(row, fields, cursor, walk_desc):
    """Whether `row` comes after the cursor in the walk's order."""
    key = _sortable(getattr(row, getattr(f, "object_id_name", None) or f.name) for f in fields)
    return key < _sortable(cursor) if walk_desc else key > _sortable(cursor)


def keyset_page(query, fields, after=None, before=None, limit=50, descending=False, values=None,
                cursor_by_id=False):
    """One page of `query` in the order of `fields` (all `descending` or all ascending, the last unique).

    `after`: the rows that follow that cursor in the list's order (the next page); `before`: the rows
    that precede it (the previous page, returned in the list's order). `values(row)` gives a row's key
    when the fields are not plain attributes of the row (an aliased or grouped column).
    `cursor_by_id`: the cursor is the edge row's id (`?before=123`) whatever the sort; its key is read
    back by primary key (one small query), so a link keeps a plain number."""
    return keyset_union([query], fields, after, before, limit, descending, values, cursor_by_id)


def keyset_union(queries, fields, after=None, before=None, limit=50, descending=False, values=None,
                 cursor_by_id=False, small=()):
    """`keyset_page` over the union of `queries` (the branches of an OR that no one index serves in the
    list's order): each branch walks its own index, ordered and limited to the page, and the branches'
    rows merge by key, a row found by two branches once. The union's first `limit + 1` rows are among
    its branches' first `limit + 1`, so the page is exact. `small`: the positions of branches known to
    hold few rows, read whole past the cursor (no ORDER BY to tempt the planner off their own index)."""
    fields = list(fields)
    read = (lambda token: _decode_by_id(fields, token)) if cursor_by_id else (lambda token: decode(fields, token))
    cursor = read(after) if after else None
    backwards = False
    if cursor is None and before:
        cursor = read(before)
        backwards = cursor is not None
    walk_desc = descending != backwards  # walking back flips the order; the page is reversed after
    order = [f.desc() if walk_desc else f.asc() for f in fields]
    rows = []
    for position, query in enumerate(queries):
        if position in small:  # read whole; past the cursor is decided here (in SQL it tempts the planner too)
            rows.extend(row for row in query if cursor is None or _beyond(row, fields, cursor, walk_desc))
            continue
        if cursor is not None:
            if len(fields) == 1:
                key, at = fields[0], cursor[0]
            else:
                key, at = pw.Tuple(*fields), pw.Tuple(*cursor)
            query = query.where(key < at if walk_desc else key > at)
        rows.extend(query.order_by(*order).limit(limit + 1))
    if len(queries) > 1:
        key_of_row = values or (lambda row: [_row_value(row, f) for f in fields])
        seen, unique = set(), []
        for row in rows:
            key = tuple(key_of_row(row))
            if key[-1] not in seen:
                seen.add(key[-1])
                unique.append((_sortable(key), row))
        unique.sort(key=lambda pair: pair[0], reverse=walk_desc)
        rows = [row for _, row in unique[:limit + 1]]
    return _page(rows, fields, limit, cursor, backwards, values, cursor_by_id)


def first_page(rows, fields, limit, values=None):
    """The first page of a list from its first `limit + 1` rows in the list's order, read by the caller (a
    statement kept by models.base.kept_select): what `keyset_page` answers without a cursor."""
    return _page(list(rows), list(fields), limit, None, False, values, False)


def _page(rows, fields, limit, cursor, backwards, values, cursor_by_id):
    """The page of `rows` (up to `limit + 1`, in the walk's order): its rows in the list's order and cursors."""
    more = len(rows) > limit
    rows = rows[:limit]
    if backwards:
        rows.reverse()
    page = KeysetPage(rows=rows, more=more, from_cursor=cursor is not None)
    if rows:
        edge = fields[-1:] if cursor_by_id else fields  # what a cursor holds
        key_of = values or (lambda row: [_row_value(row, f) for f in edge])
        has_next = more if not backwards else True
        has_prev = cursor is not None if not backwards else more
        if has_next:
            page.next = encode(edge, key_of(rows[-1]))
        if has_prev:
            page.prev = encode(edge, key_of(rows[0]))
    return page
