"""A list's first page keeps its statements when the filters alone tell its shape (models/listing.py
_kept_shape): a rep's own customers and an admin's whole list, filtered, sorted, searched. Each kept page must
be the page built each time — rows, order, cursor and count — for every shape, on either engine."""
import itertools

import pytest

from models import listing
from models.base import _KEPT
from models.customers import Customer, Industry
from models.users import Region

NAMES = ["杭州西装有限公司", "Alpha Suits", "北京西装厂", "上海牛仔服饰", "宁波针织西装", "广州童装", "Beta Suits Co"]


@pytest.fixture
def world(app, make_user, make_customer):
    rep, admin = make_user("sales"), make_user("admin")
    region = Region.select().first() or Region.create(code="east", name_zh="华东", name_en="East")
    industry = Industry.select().first() or Industry.create(code="suits", name_zh="西装", name_en="Suits")
    stages = ["prospect", "target", "intent", "signed"]
    for i in range(28):
        make_customer(owner=rep if i % 2 else None, name=f"{NAMES[i % len(NAMES)]}{i}", stage=stages[i % 4],
                      grade="ABCD"[i % 4], city="杭州" if i % 3 else "宁波",
                      region=region.id if i % 5 else None, industry=industry.id if i % 4 else None)
    return {"rep": rep, "admin": admin, "region": region.id, "industry": industry.id}


def _seen(p):
    return [r.id for r in p.rows], [r.owner_name for r in p.rows], p.next_cursor, p.prev_cursor, p.total, p.total_capped


def test_a_kept_first_page_is_the_page_built_each_time(world):
    filters = [{}, {"stage": "target"}, {"grade": "B", "city": "杭州"}, {"region": world["region"]},
               {"industry": world["industry"], "stage": "signed"}, {"q": "西装"}, {"q": "西装 杭州"},
               {"q": "suits"}, {"q": "西装", "grade": "C"}]
    checked, searched = 0, 0
    for (who, scope), extra, (sort, direction), size in itertools.product(
            [("rep", "mine"), ("admin", "all")], filters,
            [("created", "desc"), ("name", "asc"), ("activity", "desc"), ("release", "asc")], [5, 25]):
        user = world[who]
        f = listing.Filters(scope=scope, sort=sort, direction=direction, **extra)
        built = _seen(_built(user, f, size))
        for _ in range(2):  # built with marks, then kept
            assert _seen(listing.page(user, f, size=size)) == built, (who, extra, sort, direction, size)
        checked += 1
        searched += bool(f.q and built[0])
    assert checked == 144 and searched >= 16  # the searches found rows
    kept = [key for key, entry in _KEPT.items() if key[0][0] == "listing" and entry]
    assert len(kept) > 50, "the shapes were kept"


def _built(user, f, size):
    shape = listing._kept_shape
    listing._kept_shape = lambda *a: None
    try:
        return listing.page(user, f, size=size)
    finally:
        listing._kept_shape = shape


def test_shapes_told_by_more_than_the_filters_are_built_each_time(world, make_user, make_team):
    manager = make_user("manager", team=make_team())
    assert listing._kept_shape(manager, listing.Filters(scope="team"), 25) is None  # a team's scope
    assert listing._kept_shape(world["rep"], listing.Filters(scope="all"), 25) is None  # a seller's pools
    assert listing._kept_shape(world["admin"], listing.Filters(scope="all", q="西装"), 25) is None  # the index's
    import datetime as dt
    assert listing._kept_shape(world["rep"], listing.Filters(scope="mine", created_from=dt.date(2026, 1, 1)), 25) is None
    assert listing._kept_shape(world["rep"], listing.Filters(scope="mine"), 25) is not None


def test_a_cursor_page_is_not_kept_and_walks_on(world):
    f = listing.Filters(scope="mine", sort="name", direction="asc")
    first = listing.page(world["rep"], f, size=5)
    second = listing.page(world["rep"], f, after=first.next_cursor, size=5)
    assert not set(r.id for r in first.rows) & set(r.id for r in second.rows)
    owned = [c.id for c in Customer.select().where(Customer.owner == world["rep"].id).order_by(Customer.name, Customer.id)]
    assert [r.id for r in first.rows + second.rows] == owned[:10]
