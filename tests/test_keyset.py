"""models/keyset.py, the one keyset page every list uses: pages that cover the list once in order, ties on
the sort key, the first and the last page, walking back, and cursors that are garbage or beyond 64 bits
(the first page, never an error) — in the helper and on the list routes that use it."""
import base64
import datetime as dt
import json

import pytest

from models import clock
from models.audit import AuditEvent
from models.keyset import decode, encode, keyset_page
from models.orders import Order

T0 = dt.datetime(2026, 11, 20, 2, 0)


def token(values):
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


GARBAGE = ["abc", "", "-1", "0", "1.5", str(2**63), str(2**64), "99999999999999999999999", "-99999999999999999999",
           "=", "%%%", "W251bGwsIDFd" * 500, token([]), token([1]), token({"a": 1}), token(["x", 3]),
           token([1.5, 3]), token([None, 2**70]), token(["2026-11-20 02:00:00", -2**70]), token(["2026-11-20", True]),
           token([["2026"], 3]), token(["2026-11-20 02:00:00", None]),
           base64.urlsafe_b64encode(b"\xff\xfe\x00").decode()]


@pytest.fixture
def events(app):
    """Nine rows of one kind; `at` ties in threes (the id breaks them)."""
    rows = [AuditEvent.create(at=T0 + dt.timedelta(minutes=i // 3), kind="keyset.test", data={}) for i in range(9)]
    AuditEvent.create(at=T0, kind="keyset.other", data={})  # outside the query
    return rows


def query():
    return AuditEvent.select().where(AuditEvent.kind == "keyset.test")


KEY = [AuditEvent.at, AuditEvent.id]


def walk(limit, descending=False):
    pages, cursor = [], None
    while True:
        page = keyset_page(query(), KEY, after=cursor, limit=limit, descending=descending)
        pages.append(page)
        if page.next is None:
            return pages
        cursor = page.next


@pytest.mark.parametrize("limit", [1, 2, 3, 4, 9, 10])
@pytest.mark.parametrize("descending", [False, True])
def test_pages_cover_the_list_once_in_order_with_ties(events, limit, descending):
    pages = walk(limit, descending)
    ids = [r.id for p in pages for r in p.rows]
    expected = sorted(events, key=lambda e: (e.at, e.id), reverse=descending)
    assert ids == [e.id for e in expected]
    assert pages[0].prev is None and pages[-1].next is None
    assert all(p.rows for p in pages), "no empty page at the end, even when the rows fill the last page exactly"
    assert all(len(p.rows) == limit for p in pages[:-1])


def test_walking_back_gives_the_same_pages(events):
    pages = walk(2)
    back, cursor = [], pages[-1].prev
    while cursor:
        page = keyset_page(query(), KEY, before=cursor, limit=2)
        back.insert(0, [r.id for r in page.rows])
        cursor = page.prev
    assert back == [[r.id for r in p.rows] for p in pages[:-1]]


def test_an_empty_list_and_a_single_key(app):
    page = keyset_page(query(), KEY, limit=5)
    assert (page.rows, page.next, page.prev, page.more) == ([], None, None, False)
    rows = [AuditEvent.create(at=T0, kind="keyset.test", data={}) for _ in range(3)]
    first = keyset_page(query(), [AuditEvent.id], limit=2, descending=True)
    assert [r.id for r in first.rows] == [rows[2].id, rows[1].id] and first.next == str(rows[1].id)
    second = keyset_page(query(), [AuditEvent.id], after=first.next, limit=2, descending=True)
    assert [r.id for r in second.rows] == [rows[0].id] and second.next is None and second.prev == str(rows[0].id)


@pytest.mark.parametrize("bad", GARBAGE)
def test_a_garbage_cursor_is_the_first_page(events, bad):
    first = keyset_page(query(), KEY, limit=4)
    for kw in ({"after": bad}, {"before": bad}):
        page = keyset_page(query(), KEY, limit=4, **kw)
        assert [r.id for r in page.rows] == [r.id for r in first.rows] and page.prev is None
        single = keyset_page(query(), [AuditEvent.id], limit=4, descending=True, **kw)
        assert len(single.rows) == 4 and single.prev is None
        by_id = keyset_page(query(), KEY, limit=4, cursor_by_id=True, **kw)
        assert [r.id for r in by_id.rows] == [r.id for r in first.rows]


def test_a_cursor_by_id_keeps_a_plain_number_and_pages_on_the_full_key(events):
    """The follow-ups' way: the link carries the edge row's id; the key (at, id) is read back by id."""
    first = keyset_page(query(), KEY, limit=4, cursor_by_id=True, descending=True)
    assert first.next == str(first.rows[-1].id)
    rest = keyset_page(query(), KEY, after=first.next, limit=10, cursor_by_id=True, descending=True)
    assert [r.id for r in first.rows + rest.rows] == [e.id for e in sorted(events, key=lambda e: (e.at, e.id), reverse=True)]
    AuditEvent.delete().where(AuditEvent.id == first.rows[-1].id).execute()  # the edge row is gone: first page
    again = keyset_page(query(), KEY, after=first.next, limit=4, cursor_by_id=True, descending=True)
    assert again.prev is None and len(again.rows) == 4


def test_cursors_are_typed_by_their_fields():
    fields = [Order.ordered_on, Order.id]
    cursor = encode(fields, ["2026-11-20", 7])
    assert decode(fields, cursor) == [dt.date(2026, 11, 20), 7]
    assert decode(fields, token(["2026-13-45", 7])) is None
    assert decode(fields, token([20261120, 7])) is None
    assert decode(KEY, encode(KEY, ["2026-11-20 02:00:00", 3])) == [dt.datetime(2026, 11, 20, 2), 3]
    assert decode([Order.id], "12") == [12] and decode([Order.id], str(2**63)) is None


# ---- the list routes: a cursor nobody could have been given answers the first page --------------------

ROUTES = ["/notifications?before={c}", "/admin/audit?before={c}", "/admin/ledger?before={c}", "/service/?after={c}",
          "/opportunities/list?after={c}", "/projects?after={c}", "/transfers/?before={c}", "/conflicts?before={c}",
          "/merges?after={c}", "/customers?after={c}", "/customers?before={c}", "/pools?after={c}",
          "/customers/{customer}/timeline?before={c}", "/customers/{customer}/followups?before={c}",
          "/customers/{customer}/orders?before={c}"]


@pytest.mark.parametrize("route", ROUTES)
def test_list_routes_answer_garbage_cursors_with_the_first_page(client, make_user, make_customer, route):
    admin = make_user("admin")
    customer = make_customer(owner=make_user("sales"))
    client.login(admin)
    clock.freeze(clock.now())
    for bad in ("abc", "-5", "0", str(2**63), "99999999999999999999999", token(["x", 2**70]), "W251bGwsIDFd" * 300):
        url = route.format(c=bad, customer=customer.id)
        r = client.get(url, htmx=True)
        assert r.status_code in (200, 404), (url, r.status_code)  # 404: a screen the admin does not have
        assert r.status_code != 404 or route.startswith(("/service", "/pools")), url
