"""The customer list: keyset pagination in every order, filters, the capped count, search as you type,
visibility, and the number of SQL queries per page (no N+1)."""
import base64
import datetime as dt
import html
import json
import re

import pytest
from playhouse.test_utils import count_queries

from models import clock, listing
from models.customers import Customer, Industry, log_follow_up, save_contact
from models.users import Region
from tests.conftest import FROZEN, valid_credit_code


def body(response):
    return response.get_data(as_text=True)


def row_ids(text):
    """Customer ids of the result rows, in order."""
    match = re.search(r"<tbody>(.*?)</tbody>", text, re.S)
    return [int(i) for i in re.findall(r'<tr[^>]*>\s*<td><a href="/customers/(\d+)"', match.group(1))] if match else []


def link(text, rel_id):
    match = re.search(rf'id="{rel_id}"[^>]*href="([^"]+)"', text)
    return html.unescape(match.group(1)) if match else None


def raw_cursor(value):
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.fixture
def admin(make_user):
    return make_user("admin")


@pytest.fixture
def admin_client(client, admin):
    client.login(admin)
    return client


# ---- keyset pagination ----------------------------------------------------------------------------

NAMES = ["杭州西湖衬衫有限公司", "Alpha Textiles", "北京西装厂", "alpha textiles", "上海牛仔服饰", "Zeta 服装",
         "宁波针织有限公司", "广州童装", "深圳运动服", "成都面料", "重庆外套", "武汉职业装", "长沙配件", "Beta Co"]


@pytest.fixture
def sixty(app, admin, make_user, make_team):
    """60 customers with deliberate ties on name, activity and release date, created at different times."""
    team = make_team()
    reps = [make_user("sales", team=team) for _ in range(3)]
    now = FROZEN - dt.timedelta(days=30)
    rows = []
    for i in range(60):
        touched = now + dt.timedelta(hours=i // 4)  # four customers share each activity time
        rows.append({
            "name": NAMES[i % len(NAMES)],  # every name appears four or five times
            "short_name": "", "business_model": "consumer", "source": "website", "stage": "target", "grade": "C",
            "owner": reps[i % 3].id, "team": team.id, "created_at": now + dt.timedelta(minutes=i),
            "updated_at": now, "stage_changed_at": now, "touched_at": touched,
            "release_at": (FROZEN + dt.timedelta(days=i % 7)) if i % 5 else None,
        })
    Customer.insert_many(rows).execute()
    return {"reps": reps, "ids": [c.id for c in Customer.select(Customer.id)]}


def expected_order(sort, direction, query=None):
    column = listing.SORTS[sort]
    q = query if query is not None else Customer.select()
    if sort == "release":
        q = q.where(Customer.release_at.is_null(False))
    rows = list(q)
    key = (lambda c: c.id) if column is None else (lambda c: (getattr(c, column.name), c.id))
    return [c.id for c in sorted(rows, key=key, reverse=direction == "desc")]


def walk(client, url):
    """Follow the Next links to the end, then the Previous links back; returns both lists of pages."""
    pages, texts = [], []
    while url:
        r = client.get(url, htmx=True)
        assert r.status_code == 200
        text = body(r)
        pages.append(row_ids(text))
        texts.append(text)
        url = link(text, "pager-next")
        assert len(pages) < 20, "the walk does not end"
    back = [pages[-1]]
    url = link(texts[-1], "pager-prev")
    while url:
        text = body(client.get(url, htmx=True))
        back.insert(0, row_ids(text))
        url = link(text, "pager-prev")
        assert len(back) < 20, "the walk back does not end"
    return pages, back


@pytest.mark.parametrize("direction", ["desc", "asc"])
@pytest.mark.parametrize("sort", ["created", "name", "activity", "release"])
def test_keyset_walk_visits_every_row_once_and_back(admin_client, sixty, sort, direction):
    pages, back = walk(admin_client, f"/customers?scope=all&sort={sort}&dir={direction}")
    expected = expected_order(sort, direction)
    walked = [i for p in pages for i in p]
    assert walked == expected
    assert len(walked) == len(set(walked))
    assert all(len(p) == listing.PAGE_SIZE for p in pages[:-1])
    assert back == pages  # Previous returns exactly the page before


def test_keyset_walk_as_a_rep_sees_only_their_rows(client, sixty):
    rep = sixty["reps"][1]
    client.login(rep)
    pages, back = walk(client, "/customers?sort=name&dir=asc")
    walked = [i for p in pages for i in p]
    assert walked == expected_order("name", "asc", Customer.select().where(Customer.owner == rep.id))
    assert len(walked) == 20 and back == pages


def test_first_page_has_no_previous_and_last_no_next(admin_client, sixty):
    first = body(admin_client.get("/customers?scope=all", htmx=True))
    assert link(first, "pager-prev") is None and link(first, "pager-next")
    assert "60 customers" in first


def test_walking_keeps_the_filters(admin_client, sixty):
    rep_ids = [r.id for r in sixty["reps"][:2]]
    # Move the first two reps' customers to another city: a filter that keeps 40 of the 60 rows.
    Customer.update(city="上海").where(Customer.owner.in_(rep_ids)).execute()
    pages, back = walk(admin_client, "/customers?scope=all&sort=name&dir=desc&city=上海")
    first = body(admin_client.get("/customers?scope=all&sort=name&dir=desc&city=上海", htmx=True))
    nxt = link(first, "pager-next")
    assert "city=" in nxt and "sort=name" in nxt
    walked = [i for p in pages for i in p]
    assert walked == expected_order("name", "desc", Customer.select().where(Customer.city == "上海"))
    assert [len(p) for p in pages] == [25, 15] and back == pages


BAD_CURSORS = [
    "garbage", "!!!", "%%%", "", "=", raw_cursor({}), raw_cursor([1]), raw_cursor(["x", "y"]),
    raw_cursor([{"a": 1}, 3]), raw_cursor([None, 99999999999999999999]), raw_cursor([None, -99999999999999999999]),
    raw_cursor([1.5, 3]), raw_cursor([[1], 3]), raw_cursor([None, True]), raw_cursor(["2026-01-01", 10**30]), raw_cursor([10**30, 3]),
    base64.urlsafe_b64encode(b"\xff\xfe\x00").decode(), "W251bGwsIDFd" * 500,
]


@pytest.mark.parametrize("sort", ["created", "name", "activity", "release"])
def test_malformed_cursor_does_not_500(admin_client, sixty, subtests, sort):
    for token in BAD_CURSORS:
        for param in ("after", "before"):
            with subtests.test(token=token[:40], param=param):
                r = admin_client.get(f"/customers?scope=all&sort={sort}&{param}={token}", htmx=True)
                assert r.status_code == 200
                ids = row_ids(body(r))
                assert len(ids) <= listing.PAGE_SIZE and len(ids) == len(set(ids))


def test_a_cursor_of_the_wrong_type_for_the_sort_is_harmless(admin_client, sixty):
    # A name cursor given to the activity sort (someone edited the URL): rows, or none, but no error.
    r = admin_client.get(f"/customers?scope=all&sort=activity&after={raw_cursor(['Alpha', 5])}", htmx=True)
    assert r.status_code == 200


# ---- filters --------------------------------------------------------------------------------------

@pytest.fixture
def varied(app, admin, make_user, make_team, make_customer):
    """A dozen customers that differ in every filtered attribute."""
    east = Region.get(Region.code == "east")
    south = Region.get(Region.code == "south")
    suits = Industry.get(Industry.code == "suits")
    jeans = Industry.get(Industry.code == "jeans")
    team_a, team_b = make_team(), make_team()
    rep_a, rep_b = make_user("sales", team=team_a), make_user("sales", team=team_b)
    specs = [
        dict(owner=rep_a, stage="target", region_id=east.id, city="上海", industry_id=suits.id,
             business_model="consumer", source="website", day=0),
        dict(owner=rep_a, stage="intent", region_id=east.id, city="杭州", industry_id=jeans.id,
             business_model="industrial", source="event", day=1),
        dict(owner=rep_a, stage="signed", region_id=south.id, city="广州", industry_id=suits.id,
             business_model="project", source="referral", day=2),
        dict(owner=rep_b, stage="target", region_id=south.id, city="深圳", industry_id=jeans.id,
             business_model="consumer", source="media", day=3),
        dict(owner=rep_b, stage="prospect", region_id=east.id, city="上海", industry_id=None,
             business_model="key_account", source="website", day=4),
        dict(owner=rep_b, stage="long_term", region_id=None, city="", industry_id=suits.id,
             business_model="consumer", source="import", day=5),
        dict(owner=None, stage="unidentified", region_id=east.id, city="南京", industry_id=jeans.id,
             business_model="consumer", source="website", day=6),
        dict(owner=None, stage="target", region_id=south.id, city="上海", industry_id=suits.id,
             business_model="industrial", source="event", day=7),
    ]
    made = []
    for n, spec in enumerate(specs):
        day = spec.pop("day")
        clock.freeze(FROZEN - dt.timedelta(days=10 - day))
        owner = spec.pop("owner")
        fields = {k: v for k, v in spec.items() if v is not None}
        made.append(make_customer(owner=owner, name=f"筛选测试客户{n}", **fields))
    # Follow-ups on some of them, on different days.
    for n, days_ago in ((0, 1), (1, 3), (3, 5), (4, 8)):
        clock.freeze(FROZEN - dt.timedelta(days=days_ago))
        log_follow_up(admin, made[n], {"type": "call", "content": "电话跟进：确认了需求和预算，准备报价"})
    clock.freeze(FROZEN)
    return {"customers": [Customer.get_by_id(c.id) for c in made], "rep_a": rep_a, "rep_b": rep_b,
            "team_a": team_a, "team_b": team_b, "east": east, "south": south, "suits": suits, "jeans": jeans}


def _ids(client, query):
    r = client.get(f"/customers?scope=all&{query}", htmx=True)
    assert r.status_code == 200
    return set(row_ids(body(r))), body(r)


def _local_day(value):
    return clock.to_local(value).date() if value else None


FILTER_CASES = {
    "stage=target": lambda c, v: c.stage == "target",
    "grade=A": lambda c, v: c.grade == "A",
    "grade=D": lambda c, v: c.grade == "D",
    "region={east}": lambda c, v: c.region_id == v["east"].id,
    "city=上海": lambda c, v: c.city == "上海",
    "city=%20上海%20": lambda c, v: c.city == "上海",
    "industry={jeans}": lambda c, v: c.industry_id == v["jeans"].id,
    "business_model=industrial": lambda c, v: c.business_model == "industrial",
    "source=website": lambda c, v: c.source == "website",
    "owner={rep_a}": lambda c, v: c.owner_id == v["rep_a"].id,
    "team={team_b}": lambda c, v: c.team_id == v["team_b"].id,
    "created_from=2026-11-18": lambda c, v: _local_day(c.created_at) >= dt.date(2026, 11, 18),
    "created_to=2026-11-16": lambda c, v: _local_day(c.created_at) <= dt.date(2026, 11, 16),
    "created_from=2026-11-16&created_to=2026-11-18":
        lambda c, v: dt.date(2026, 11, 16) <= _local_day(c.created_at) <= dt.date(2026, 11, 18),
    "followup_from=2026-11-19": lambda c, v: c.last_followup_at and _local_day(c.last_followup_at) >= dt.date(2026, 11, 19),
    "followup_to=2026-11-19": lambda c, v: c.last_followup_at and _local_day(c.last_followup_at) <= dt.date(2026, 11, 19),
    "stage=target&region={south}": lambda c, v: c.stage == "target" and c.region_id == v["south"].id,
    "business_model=consumer&source=website&city=上海":
        lambda c, v: (c.business_model, c.source, c.city) == ("consumer", "website", "上海"),
}


def test_each_filter_narrows_correctly(admin_client, varied, subtests):
    ids = {k: getattr(v, "id", v) for k, v in varied.items() if k != "customers"}
    for query, predicate in FILTER_CASES.items():
        with subtests.test(query=query):
            expected = {c.id for c in varied["customers"] if predicate(c, varied)}
            assert 0 < len(expected) < len(varied["customers"]), "the case must narrow"
            got, text = _ids(admin_client, query.format(**ids))
            assert got == expected
            assert f"{len(expected)} customer" in text


def test_filters_combine_with_the_visible_scope(client, varied):
    client.login(varied["rep_a"])
    got, _ = _ids(client, f"owner={varied['rep_b'].id}")
    assert got == set()
    got, _ = _ids(client, "city=上海")
    assert got == {varied["customers"][0].id}


@pytest.mark.parametrize("name", ["created_from", "created_to", "followup_from", "followup_to"])
def test_invalid_dates_give_a_message_not_a_500(admin_client, varied, subtests, name):
    for bad in ("2026-13-45", "yesterday", "2026/11/01", "9999-12-31", "0000-01-01", "'; --", "2026-11-01T00:00"):
        with subtests.test(bad=bad):
            r = admin_client.get(f"/customers?scope=all&{name}={bad}", htmx=True)
            assert r.status_code == 200
            text = body(r)
            assert "Enter a date" in text and 'class="form-error"' in text
            assert set(row_ids(text)) == {c.id for c in varied["customers"]}  # the bad filter is dropped


JUNK_FILTERS = ["stage=won", "grade=E", "region=abc", "region=-3", "owner=1e9", "region=99999999999999999999999",
                "team=99999999999999999999999", "industry=99999999999999999999999", "owner=99999999999999999999999",
                "pool=99999999999999999999999", "sort=bogus", "dir=sideways", "scope=everything",
                "business_model=<script>", "city=" + "x" * 500, "city=%00"]


def test_junk_filter_values_do_not_500(admin_client, varied, subtests):
    for query in JUNK_FILTERS:
        with subtests.test(query=query[:40]):
            r = admin_client.get(f"/customers?scope=all&{query}", htmx=True)
            assert r.status_code == 200
            assert "<script>" not in body(r)


# ---- the capped count -----------------------------------------------------------------------------

@pytest.fixture
def rep_in_pools(sixty, make_user):
    """A rep of the east region who works 10 of the sixty, stakes 3 pool customers (one in each pool and
    one unstaked by the others), with 30 customers in the east pool, 10 in an open pool and 10 in another
    region's pool: their `scope=all` is the union that the list walks part by part."""
    from models.pools import Pool
    from models.users import Team

    east = Region.get(Region.code == "east")
    other = Region.select().where(Region.id != east.id).first()
    east_pool = Pool.get(Pool.region == east.id)
    open_pool = Pool.create(name_zh="公共池", name_en="Open pool", region=None)
    other_pool = Pool.get_or_none(Pool.region == other.id) or Pool.create(name_zh="他区", name_en="Other", region=other)
    team = Team.get_by_id(sixty["reps"][0].team_id)
    Team.update(region=east.id).where(Team.id == team.id).execute()
    rep = make_user("sales", team=Team.get_by_id(team.id))
    ids = sorted(sixty["ids"])
    Customer.update(owner=rep.id).where(Customer.id.in_(ids[:10])).execute()
    for pool, chunk in ((east_pool, ids[10:40]), (open_pool, ids[40:50]), (other_pool, ids[50:60])):
        Customer.update(owner=None, team=None, pool=pool.id, release_at=None).where(Customer.id.in_(chunk)).execute()
    Customer.update(staked_by=rep.id, stake_due=FROZEN).where(Customer.id.in_([ids[12], ids[45], ids[55]])).execute()
    return rep


@pytest.mark.parametrize("direction", ["desc", "asc"])
@pytest.mark.parametrize("sort", ["created", "name", "activity", "release"])
def test_a_reps_scope_all_walks_the_union_of_their_parts_exactly(client, rep_in_pools, sort, direction):
    """Own, staked, each pool: each part on its own index, merged by key, equals the OR in one query —
    every row once, in order, both ways, a staked pool customer once."""
    from models.permissions import visible

    assert len(listing.customer_scope_branches(rep_in_pools)) == 4  # own, staked, east pool, open pool
    client.login(rep_in_pools)
    pages, back = walk(client, f"/customers?scope=all&sort={sort}&dir={direction}")
    walked = [i for p in pages for i in p]
    assert walked == expected_order(sort, direction, visible(Customer.select(), rep_in_pools))
    assert len(walked) == len(set(walked)) and back == pages
    assert len(walked) == (8 if sort == "release" else 51)  # 10 own (8 with a release date), 40 pooled, 1 staked elsewhere


def test_a_reps_union_count_is_exact_below_the_cap_and_capped_above(client, rep_in_pools, monkeypatch):
    client.login(rep_in_pools)
    text = body(client.get("/customers?scope=all", htmx=True))
    assert "51 customers" in text  # the staked customer of the east pool counted once
    monkeypatch.setattr(listing, "COUNT_CAP", 20)  # the east pool alone passes it
    text = body(client.get("/customers?scope=all", htmx=True))
    assert "More than 20 customers" in text


def test_count_is_capped(admin_client, make_customer, monkeypatch):
    for n in range(5):
        make_customer(name=f"计数客户{n}")
    monkeypatch.setattr(listing, "COUNT_CAP", 3)
    text = body(admin_client.get("/customers?scope=all", htmx=True))
    assert "More than 3 customers" in text
    assert len(row_ids(text)) == 5  # the cap limits the count, not the rows
    monkeypatch.setattr(listing, "COUNT_CAP", 5)
    text = body(admin_client.get("/customers?scope=all", htmx=True))
    assert "More than" not in text and "5 customers" in text


def test_count_follows_the_filter(admin_client, make_customer, monkeypatch):
    for n in range(4):
        make_customer(name=f"计数客户{n}", city="上海" if n % 2 else "北京")
    monkeypatch.setattr(listing, "COUNT_CAP", 3)
    text = body(admin_client.get("/customers?scope=all&city=上海", htmx=True))
    assert "2 customers" in text and "More than" not in text


# ---- search as you type ---------------------------------------------------------------------------

@pytest.fixture
def searchable(app, make_user, make_team, make_customer):
    team = make_team()
    rep_a, rep_b = make_user("sales", team=team), make_user("sales", team=make_team())
    code = valid_credit_code(424242)
    suit = make_customer(owner=rep_a, name="上海西装服饰有限公司", short_name="申城西服", credit_code=code,
                         phone="021-6234 5678")
    admin = suit.created_by
    save_contact(admin, suit, {"name": "欧阳小明", "mobile": "139 1234 5678", "title": "采购经理"})
    jeans = make_customer(owner=rep_a, name="杭州牛仔裤业有限公司", short_name="杭牛", phone="0571-88886666")
    save_contact(admin, jeans, {"name": "王芳", "mobile": "13800138000"})
    theirs = make_customer(owner=rep_b, name="苏州西装定制有限公司", short_name="苏西")
    return {"rep_a": rep_a, "rep_b": rep_b, "suit": suit, "jeans": jeans, "theirs": theirs, "code": code}


def _search(client, q, **params):
    r = client.get("/customers", query_string={"q": q, **params}, htmx=True)
    assert r.status_code == 200
    return r


SEARCHES = [
    ("西装", {"suit"}),                 # two Chinese characters (bigram column)
    ("西装服饰", {"suit"}),             # longer substring
    ("装服饰", {"suit"}),               # 3-character substring from the middle
    ("牛仔裤业", {"jeans"}),
    ("申城西服", {"suit"}),             # the short name
    ("申城", {"suit"}),
    ("杭牛", {"jeans"}),
    ("有限公司", {"suit", "jeans"}),
    ("西装 上海", {"suit"}),            # every term must match
    ("欧阳小明", {"suit"}),             # a contact's name
    ("小明", {"suit"}),
    ("王芳", {"jeans"}),
    ("139 1234 5678", {"suit"}),        # a contact's mobile, typed with spaces
    ("139-1234-5678", {"suit"}),        # … or dashes
    ("13912345678", {"suit"}),
    ("1234 5678", {"suit"}),
    ("138-0013-8000", {"jeans"}),
    ("021-6234 5678", {"suit"}),        # the customer's phone
    ("62345678", {"suit"}),
    ("0571 8888 6666", {"jeans"}),
    ("西装 不存在", set()),
    ("没有这家公司", set()),
    ("%%%", set()),                     # LIKE's wildcards are text on PostgreSQL too, as in FTS5
    ("___", set()),
    ("西装%", set()),
    ("限公_", set()),
]


def test_search_finds(client, searchable, subtests):
    client.login(searchable["rep_a"])
    for q, who in SEARCHES:
        with subtests.test(q=q):
            r = _search(client, q)
            text = body(r)
            assert "<html" not in text and 'id="results"' in text
            assert "HX-Request" in r.headers.get("Vary", "")
            assert set(row_ids(text)) == {searchable[k].id for k in who}


def test_search_by_part_of_the_credit_code(client, searchable):
    client.login(searchable["rep_a"])
    code = searchable["code"]
    for part in (code[-8:], code[-8:].lower(), code[4:12], code):
        assert set(row_ids(body(_search(client, part)))) == {searchable["suit"].id}, part


def test_search_full_page_without_htmx(client, searchable):
    client.login(searchable["rep_a"])
    r = client.get("/customers?q=西装")
    text = body(r)
    assert "<html" in text and 'id="customer-filters"' in text
    assert set(row_ids(text)) == {searchable["suit"].id}
    assert "HX-Request" in r.headers.get("Vary", "")


def test_too_short_query_explains_itself(client, searchable):
    client.login(searchable["rep_a"])
    text = body(_search(client, "西"))
    assert row_ids(text) == [] and "Type at least two Chinese characters" in text
    assert row_ids(body(_search(client, "ab"))) == []


def test_search_never_returns_what_the_user_may_not_see(client, make_user, searchable):
    client.login(searchable["rep_a"])
    for q in ("苏州西装定制有限公司", "苏州西装", "苏西", "定制"):
        for scope in ("mine", "all", "team"):
            text = body(_search(client, q, scope=scope))
            assert row_ids(text) == [] and "0 customers" in text, (q, scope)
            assert f'href="/customers/{searchable["theirs"].id}"' not in text
    # The owner and an admin do find it.
    client.login(searchable["rep_b"])
    assert row_ids(body(_search(client, "苏州西装"))) == [searchable["theirs"].id]
    client.login(make_user("admin"))
    assert set(row_ids(body(_search(client, "西装", scope="all")))) == {searchable["suit"].id, searchable["theirs"].id}


def test_fts_syntax_in_the_query_is_harmless(client, searchable, subtests):
    client.login(searchable["rep_a"])
    for q in ['"', '""', "'", "西装\"", "AND", "OR NOT", "name:西装", "*", "^", "(", "西装 OR 牛仔", "NEAR(西装 牛仔)",
              "{name}: x", "\x00\x00\x00", "西装\x00", "😀😀😀", "<script>", "-", "+86", "x" * 5000]:
        with subtests.test(q=q[:40]):
            r = client.get("/customers", query_string={"q": q}, htmx=True)
            assert r.status_code == 200 and "<script>" not in body(r)


def test_search_index_follows_a_rename(client, searchable):
    rep = searchable["rep_a"]
    suit = searchable["suit"]
    client.login(rep)
    r = client.post(f"/customers/{suit.id}/edit",
                    data={"name": "宁波羊绒制品有限公司", "short_name": "甬绒", "credit_code": searchable["code"],
                          "phone": "021-6234 5678", "business_model": "consumer", "source": "website"})
    assert r.status_code == 303
    assert row_ids(body(_search(client, "羊绒制品"))) == [suit.id]
    assert row_ids(body(_search(client, "甬绒"))) == [suit.id]
    assert row_ids(body(_search(client, "西装服饰"))) == []
    assert row_ids(body(_search(client, "申城西服"))) == []


def test_search_index_follows_contact_edits(client, searchable):
    from models.customers import Contact

    rep = searchable["rep_a"]
    suit = searchable["suit"]
    contact = Contact.get(Contact.name == "欧阳小明")
    client.login(rep)
    r = client.post(f"/customers/{suit.id}/contacts/{contact.id}/edit",
                    data={"name": "司马光", "mobile": "137 0000 1111"})
    assert r.status_code == 303
    assert row_ids(body(_search(client, "司马光"))) == [suit.id]
    assert row_ids(body(_search(client, "13700001111"))) == [suit.id]
    assert row_ids(body(_search(client, "欧阳小明"))) == []
    assert row_ids(body(_search(client, "139 1234 5678"))) == []
    client.post(f"/customers/{suit.id}/contacts/new", data={"name": "诸葛亮"})
    assert row_ids(body(_search(client, "诸葛亮"))) == [suit.id]


def test_search_works_with_filters_and_sorting(client, searchable):
    client.login(searchable["rep_a"])
    got = row_ids(body(_search(client, "有限公司", sort="name", dir="asc")))
    assert got == sorted([searchable["suit"].id, searchable["jeans"].id],
                         key=lambda i: Customer.get_by_id(i).name)
    assert row_ids(body(_search(client, "有限公司", city="不存在"))) == []


def test_vary_header_on_the_list(admin_client):
    assert "HX-Request" in admin_client.get("/customers", htmx=True).headers.get("Vary", "")
    assert "HX-Request" in admin_client.get("/customers").headers.get("Vary", "")


# ---- number of queries ----------------------------------------------------------------------------

def _bulk_customers(n, owner, team, all_owned=False):
    now = FROZEN
    Customer.insert_many([{
        "name": f"批量客户{i:03d}", "short_name": "", "business_model": "consumer", "source": "website",
        "stage": "target", "grade": "C", "owner": owner.id if all_owned or i % 2 else None, "team": team.id,
        "created_at": now, "updated_at": now, "stage_changed_at": now, "touched_at": now,
    } for i in range(n)]).execute()


def _list_queries(client, url="/customers?scope=all"):
    client.get(url)  # warm up (session, login)
    with count_queries() as counter:
        r = client.get(url)
    assert r.status_code == 200
    return counter.count, len(row_ids(body(r)))


LIST_QUERIES = 8  # 8, plus the active custom fields (the filter form), less the owner list (a type-ahead picker now)
# The file itself (customer, contacts, timeline and the people it names, custom fields and values, completeness
# weights), the release clock (rules in force, approved pauses: none read when the customer has none) and one
# statement that asks every side card's table (orders, tickets, transfers, leads, value, buying factors, wallet,
# quality checks, plans, pauses, reorder cycles, lock requests) whether the customer has rows: a card with
# nothing to show reads nothing more (views/extend.py `may_have_rows`). The owner comes with the timeline's names,
# the follow-up form's contacts with the page's.
SHOW_QUERIES = 10


def test_list_page_query_count_is_pinned_and_flat(client, make_user, make_team):
    team = make_team()
    admin = make_user("admin")
    owners = [make_user("sales", team=team) for _ in range(4)]
    client.login(admin)
    _bulk_customers(5, owners[0], team)
    small, rows_small = _list_queries(client)
    every = lambda n: [i for (i,) in Customer.select(Customer.id).tuples() if i % n == 0]  # noqa: E731
    # (Peewee's % is LIKE, not a remainder: the ids are picked here, and the ownerless half given an owner.)
    Customer.update(owner=owners[1].id).where(Customer.owner.is_null() | Customer.id.in_(every(3))).execute()
    _bulk_customers(35, owners[2], team)
    Customer.update(owner=owners[3].id).where(Customer.owner.is_null() | Customer.id.in_(every(5))).execute()
    large, rows_large = _list_queries(client)
    assert (rows_small, rows_large) == (5, listing.PAGE_SIZE)
    assert small == large, "the list page makes more queries with more rows (N+1)"
    assert large == LIST_QUERIES, f"list page queries changed: {large} (pinned {LIST_QUERIES})"


def test_list_page_query_count_for_a_rep_and_a_search(client, make_user, make_team):
    team = make_team()
    rep = make_user("sales", team=team)
    client.login(rep)
    _bulk_customers(6, rep, team, all_owned=True)
    from models import search
    search.rebuild()
    small, _ = _list_queries(client, "/customers?q=批量客户")
    _bulk_customers(40, rep, team, all_owned=True)
    search.rebuild()
    large, rows = _list_queries(client, "/customers?q=批量客户")
    assert rows == listing.PAGE_SIZE
    assert small == large


def _customer_with(make_customer, rep, n):
    customer = make_customer(owner=rep, name=f"三百六十度客户{n}")
    for i in range(n):
        save_contact(rep, customer, {"name": f"联系人{i}", "title": "经理", "mobile": f"1390000{i:04d}",
                                     "decision_role": "buyer"})
    contacts = list(customer.contacts)
    for i in range(n):
        clock.freeze(FROZEN + dt.timedelta(minutes=i))
        log_follow_up(rep, customer, {"type": "visit", "content": f"第{i}次拜访：讨论了新一季的订单和面料",
                                      "contact_id": str(contacts[i].id), "next_step": "报价",
                                      "next_date": "2026-12-20"})
    clock.freeze(FROZEN + dt.timedelta(hours=1))
    return customer


@pytest.mark.parametrize("tab", ["", "?tab=followups", "?tab=contacts"])
def test_360_page_query_count_is_pinned_and_flat(client, make_user, make_team, make_customer, tab):
    rep = make_user("sales", team=make_team())
    client.login(rep)
    small_customer = _customer_with(make_customer, rep, 2)
    large_customer = _customer_with(make_customer, rep, 15)
    counts = []
    for customer in (small_customer, large_customer):
        url = f"/customers/{customer.id}{tab}"
        client.get(url)
        with count_queries() as counter:
            r = client.get(url)
        assert r.status_code == 200
        counts.append(counter.count)
    assert counts[0] == counts[1], f"the 360 page makes more queries with more rows (N+1): {counts}"
    if not tab:
        assert counts[1] == SHOW_QUERIES, f"360 page queries changed: {counts[1]} (pinned {SHOW_QUERIES})"


def test_360_fragments_are_flat(client, make_user, make_team, make_customer):
    rep = make_user("sales", team=make_team())
    client.login(rep)
    counts = {}
    for n in (2, 15):
        customer = _customer_with(make_customer, rep, n)
        for tab in ("timeline", "followups", "contacts"):
            url = f"/customers/{customer.id}?tab={tab}"
            client.get(url, htmx=True)
            with count_queries() as counter:
                assert client.get(url, htmx=True).status_code == 200
            counts.setdefault(tab, []).append(counter.count)
    for tab, (small, large) in counts.items():
        assert small == large, (tab, small, large)
