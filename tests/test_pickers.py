"""Issue 13 points 3 and 7: customer pickers tell same-named files apart (city and region, owner or pool,
credit code tail, key-account tag, number) and rank the user's own active files first; the type-ahead person
picker (one route, one macro) finds people by name, pinyin initials or team, and the forms behind it still
validate the id they get."""
import re

import pytest

from models import pickers
from models.customers import Customer
from models.delegations import Delegation
from models.pools import Pool
from models.projects import ProjectMember
from models.user_tables import User
from models.users import Region, Team
from tests.conftest import valid_credit_code
from tests.test_projects import approved, project_world  # noqa: F401

SAME = "泉州豪亿时装有限公司"


def body(response):
    return response.get_data(as_text=True)


# ---- customers --------------------------------------------------------------------------------------

@pytest.fixture
def twins(make_user, make_team, make_customer):
    """Two files of one company: a key account owned by a rep, and a pool duplicate; plus the rep's own."""
    east = Region.get(Region.code == "east")
    team = make_team(region=east)
    rep, other = make_user("sales", team, full_name="王晓明"), make_user("sales", team, full_name="李娜")
    owned = make_customer(owner=other, name=SAME, city="泉州", region_id=east.id, business_model="key_account",
                          credit_code=valid_credit_code(4321))
    pooled = make_customer(name=SAME, city="泉州", region_id=east.id)
    Customer.update(pool=Pool.get(Pool.region == east.id).id).where(Customer.id == pooled.id).execute()
    mine = make_customer(owner=rep, name=SAME + "（晋江）", city="晋江", region_id=east.id)
    return rep, other, owned, pooled, mine


def test_the_lookup_ranks_own_then_owned_then_pool_and_says_what_tells_them_apart(twins, make_user):
    rep, other, owned, pooled, mine = twins
    rows = pickers.customer_lookup(rep, "豪亿时装")  # a teammate's file is not the rep's to open
    assert [c.id for c in rows] == [mine.id, pooled.id]
    Customer.update(owner=rep.id).where(Customer.id == owned.id).execute()
    assert [c.id for c in pickers.customer_lookup(rep, "豪亿时装")] == [mine.id, owned.id, pooled.id]
    Customer.update(owner=other.id).where(Customer.id == owned.id).execute()
    agent = make_user("service")  # owns nothing: owned files (newest first) before the pool's
    rows = pickers.customer_lookup(agent, "豪亿时装")
    assert pooled.id > owned.id and [c.id for c in rows] == [mine.id, owned.id, pooled.id]
    by_id = {c.id: c for c in rows}
    assert by_id[owned.id].owner_name == "李娜" and by_id[owned.id].key_account
    assert by_id[owned.id].credit_tail == valid_credit_code(4321)[-4:]
    assert by_id[pooled.id].owner_name is None and by_id[pooled.id].pool_row.id == pooled.pool_id
    assert pickers.customer_lookup(agent, "豪") == []  # one character is not a query


def test_a_lookup_is_one_statement_with_its_facts(twins, make_user):
    """An agent sees every file: one statement. A rep's scope reads their pools and delegations first (2 more)."""
    from playhouse.test_utils import count_queries

    rep, _other, owned, pooled, mine = twins
    agent = make_user("service")
    with count_queries() as counted:
        rows = pickers.customer_lookup(agent, "豪亿时装")
    assert counted.count == 1 and [c.id for c in rows] == [mine.id, owned.id, pooled.id]
    assert rows[2].pool_row.id == pooled.pool_id and rows[0].region_row.id == mine.region_id
    with count_queries() as counted:
        assert [c.id for c in pickers.customer_lookup(rep, "豪亿时装")] == [mine.id, pooled.id]
    assert counted.count == 3
    with count_queries() as counted:
        assert pickers.facts([]) == [] and pickers.facts([Customer.get_by_id(pooled.id)])[0].pool_row.id == pooled.pool_id
    assert counted.count == 2  # the row itself, then its facts in one


def test_the_service_lookup_shows_the_facts_and_the_picked_card_too(client, twins, make_user):
    _rep, _other, owned, pooled, _mine = twins
    client.login(make_user("service"))
    page = body(client.get("/service/lookup?q=豪亿时装"))
    items = re.findall(r'<li>(.*?)</li>', page, re.S)
    owned_item = next(i for i in items if f"/service/pick/{owned.id}" in i)
    pooled_item = next(i for i in items if f"/service/pick/{pooled.id}" in i)
    assert page.index(f"/service/pick/{owned.id}") < page.index(f"/service/pick/{pooled.id}")  # owned first
    assert "owner 李娜" in owned_item and "Key account" in owned_item and f"#{owned.id}" in owned_item
    assert f"credit code …{valid_credit_code(4321)[-4:]}" in owned_item and "泉州" in owned_item
    pool = Pool.get_by_id(pooled.pool_id)
    assert f"in {pool.name_en}" in pooled_item and f"#{pooled.id}" in pooled_item
    assert "owner" not in pooled_item
    picked = body(client.get(f"/service/pick/{owned.id}"))
    assert 'class="pick-facts"' in picked and "owner 李娜" in picked


# ---- people -----------------------------------------------------------------------------------------

def test_initials_of_chinese_names():
    assert pickers.initials("王晓明") == "wxm" and pickers.initials("陈思远") == "csy"
    assert pickers.initials("赵敏 Zoe") == "zmzoe" and pickers.initials("") == ""


def test_person_search_by_name_initials_and_team(make_user, make_team):
    east_team = make_team(name="华东一组")
    wang = make_user("sales", east_team, full_name="王晓明")
    wu = make_user("sales", make_team(name="华南二组"), full_name="吴梅")
    xu = make_user("manager", east_team, full_name="徐明")
    query = User.select().where(User.id.in_([wang.id, wu.id, xu.id]))
    assert [u.id for u in pickers.person_search(query, "王")] == [wang.id]
    assert [u.id for u in pickers.person_search(query, "wx")] == [wang.id]  # pinyin initials
    assert [u.id for u in pickers.person_search(query, "x")] == [xu.id, wang.id]  # initials prefix first
    assert {u.id for u in pickers.person_search(query, "华东")} == {wang.id, xu.id}  # the team
    assert len(pickers.person_search(query, "")) == 3


def test_the_pick_route_lists_people_with_team_and_role(client, make_user, make_team):
    team = make_team(name="华东一组")
    wang = make_user("sales", team, full_name="王晓明")
    make_user("service", full_name="王服务")
    client.login(make_user("sales", team))
    page = body(client.get("/people/pick?field=seller&q=wxm"))
    assert f'data-value="{wang.id}" data-text="王晓明"' in page and "华东一组" in page and "Sales rep" in page
    assert "王服务" not in body(client.get("/people/pick?field=seller&q=王"))  # not a seller
    assert "王服务" in body(client.get("/people/pick?field=colleague&q=王"))
    assert "Nobody matches" in body(client.get("/people/pick?field=seller&q=zzzz"))


def test_the_leaver_picker_offers_the_team_and_the_pools(client, make_user, make_team):
    east = Region.get(Region.code == "east")
    team, other_team = make_team(region=east), make_team(region=east)
    manager = make_user("manager", team, full_name="张经理")
    Team.update(manager=manager).where(Team.id == team.id).execute()
    leaver, mate = make_user("sales", team, full_name="离职员工"), make_user("sales", team, full_name="同组同事")
    outsider = make_user("sales", other_team, full_name="外组同事")
    client.login(manager)
    page = body(client.get(f"/people/pick?field=leaver&for={leaver.id}&q="))
    assert f'data-value="u:{mate.id}"' in page and f'data-value="u:{manager.id}"' in page
    assert f'u:{outsider.id}' not in page and f'u:{leaver.id}' not in page
    pool = Pool.get(Pool.region == east.id)
    assert f'data-value="p:{pool.id}"' in page
    client.login(make_user("admin"))
    assert f'u:{outsider.id}' in body(client.get(f"/people/pick?field=leaver&for={leaver.id}&q=外组"))


def test_the_forms_render_the_picker_and_still_validate_the_id(client, make_user, make_team):
    team = make_team()
    rep, mate = make_user("sales", team, full_name="王晓明"), make_user("sales", team, full_name="李娜")
    service = make_user("service", full_name="王服务")
    client.login(rep)
    page = body(client.get("/delegations"))
    assert 'data-person-picker' in page and 'hx-get="/people/pick?field=seller"' in page
    assert '<select id="delegate_id"' not in page
    r = client.post("/delegations/new", {"absentee_id": rep.id, "delegate_id": service.id, "starts_on": "2026-11-25",
                                         "ends_on": "2026-11-26"}, htmx=True)
    assert Delegation.select().count() == 0 and 'id="err-delegate_id"' in body(r)
    assert 'value="王服务"' in body(r)  # the refused choice stays in the box, with its error
    client.post("/delegations/new", {"absentee_id": rep.id, "delegate_id": mate.id, "starts_on": "2026-11-25",
                                     "ends_on": "2026-11-26"}, htmx=True)
    assert Delegation.get().delegate_id == mate.id


def test_the_owner_filters_are_pickers_with_the_current_choice(client, make_user, make_team):
    team = make_team()
    manager = make_user("manager", team)
    Team.update(manager=manager).where(Team.id == team.id).execute()
    rep = make_user("sales", team, full_name="王晓明")
    client.login(manager)
    page = body(client.get(f"/customers?owner={rep.id}"))
    assert 'hx-get="/people/pick?field=owner"' in page and f'name="owner" value="{rep.id}"' in page
    assert 'id="filter-owner"' in page and 'value="王晓明"' in page
    page = body(client.get(f"/opportunities?owner={rep.id}"))
    assert 'hx-get="/people/pick?field=opportunity_owner"' in page and f'name="owner" value="{rep.id}"' in page


def test_the_project_team_adds_a_colleague_through_the_picker(client, project_world):
    w = project_world
    project = approved(w)
    client.login(w.users["mgr_a"])
    page = body(client.get(f"/projects/{project.id}"))
    assert 'hx-get="/people/pick?field=colleague"' in page and 'id="member-user_id"' in page
    members = ProjectMember.select().count()
    r = client.post(f"/projects/{project.id}/members", {"user_id": "abc", "role": "engineer"}, htmx=True)
    assert "Choose an active colleague." in body(r) and ProjectMember.select().count() == members
    client.post(f"/projects/{project.id}/members", {"user_id": str(w.users["engineer"].id), "role": "engineer"},
                htmx=True)
    assert ProjectMember.select().where(ProjectMember.user == w.users["engineer"].id).exists()
