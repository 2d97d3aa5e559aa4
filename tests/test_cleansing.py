"""Pool cleansing campaigns (issue 17 item 4, models/cleansing.py): a campaign over a pool split among the
teams of the records' region (or their reps), classification keep / doubtful / junk at every boundary,
quarantine out of the pool's list, the customer list, search and claims, the admin's restore (refused once
merged), the bulk normalisation, progress and rankings; all through the Flask test client."""
import pytest

from models import clock
from models import cleansing as cm
from models.audit import AuditEvent
from models.customer_tables import Contact, Customer, Industry
from models.fields import format_phone
from models.pools import Pool
from models.user_tables import Region, Team


@pytest.fixture
def camp(app, make_user, make_team, make_customer):
    east, south = Region.get(Region.code == "east"), Region.get(Region.code == "south")
    team_a, team_b = make_team("华东一组", region=east), make_team("华东二组", region=east)
    team_s = make_team("华南一组", region=south)
    users = {"rep_a": make_user("sales", team_a), "rep_a2": make_user("sales", team_a),
             "mgr_a": make_user("manager", team_a), "rep_b": make_user("sales", team_b),
             "rep_s": make_user("sales", team_s), "admin": make_user("admin"), "service": make_user("service")}
    Team.update(manager=users["mgr_a"]).where(Team.id == team_a.id).execute()
    pool = Pool.get((Pool.region == east.id) & (Pool.active == True))  # noqa: E712
    records = [make_customer(name=f"华东服饰{i}有限公司", region_id=str(east.id), phone="13800138%03d" % i)
               for i in range(6)]
    Customer.update(pool=pool.id).where(Customer.id.in_([c.id for c in records])).execute()
    return {"users": users, "teams": (team_a, team_b, team_s), "pool": pool, "records": records, "east": east}


def _start(client, camp, **extra):
    client.login(camp["users"]["admin"])
    data = {"name": "华东公海清洗", "pool_id": str(camp["pool"].id), "split": "team",
            "min_fields": ["phone", "address"], **extra}
    return client.post("/cleansing", data)


def _campaign():
    return cm.CleansingCampaign.select().order_by(cm.CleansingCampaign.id.desc()).first()


def _task_of(customer, campaign=None):
    campaign = campaign or _campaign()
    return cm.CleansingTask.get((cm.CleansingTask.campaign == campaign.id) & (cm.CleansingTask.customer_id == customer.id))


def test_a_campaign_splits_the_pool_among_the_teams_of_the_region(client, camp):
    response = _start(client, camp)
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:400]
    c = _campaign()
    in_pool = Customer.select().where((Customer.pool == camp["pool"].id) & Customer.owner.is_null()).count()
    assert c.total == in_pool == cm.CleansingTask.select().where(cm.CleansingTask.campaign == c.id).count()
    team_a, team_b, team_s = camp["teams"]
    mine = [t.customer_id for t in cm.CleansingTask.select().where(cm.CleansingTask.customer_id.in_(
        [r.id for r in camp["records"]]))]
    assert len(mine) == 6
    teams = {t.team for t in cm.CleansingTask.select().where(cm.CleansingTask.customer_id.in_(mine))}
    assert teams == {team_a.id, team_b.id}  # the east's teams only, evenly
    tally = {(r.team, r.region): r.total for r in cm.CleansingTally.select().where(cm.CleansingTally.campaign == c.id)}
    assert sum(tally.values()) == c.total
    assert AuditEvent.select().where(AuditEvent.kind == "cleansing.started").count() == 1


def test_split_by_rep_gives_each_record_to_one_rep(client, camp):
    _start(client, camp, split="rep")
    tasks = list(cm.CleansingTask.select().where(cm.CleansingTask.customer_id.in_([r.id for r in camp["records"]])))
    assert all(t.assignee for t in tasks)
    assert len({t.assignee for t in tasks}) >= 3  # rep_a, rep_a2, mgr_a, rep_b in turn


def test_a_campaign_over_an_empty_pool_or_filter_is_refused_and_writes_nothing(client, camp):
    industry = Industry.select().first()
    response = _start(client, camp, industry=str(industry.id), idle_days="3650")
    assert response.status_code == 200
    assert "nothing to cleanse" in response.get_data(as_text=True) or "没有" in response.get_data(as_text=True)
    assert cm.CleansingCampaign.select().count() == 0 and cm.CleansingTask.select().count() == 0
    for idle in ("0", "²", "3651", "abc"):
        bad = _start(client, camp, name="", pool_id="999999", idle_days=idle, region="x", industry="99999")
        assert bad.status_code == 200 and cm.CleansingCampaign.select().count() == 0


def test_keep_needs_the_minimum_fields_then_writes_them(client, camp):
    _start(client, camp)
    record = camp["records"][0]
    task = _task_of(record)
    holder = camp["users"]["mgr_a"] if task.team == camp["teams"][0].id else camp["users"]["rep_b"]
    client.login(holder)
    response = client.post(f"/cleansing/tasks/{task.id}", {"verdict": "keep"})
    assert response.status_code == 200
    assert cm.CleansingTask.get_by_id(task.id).status == "open"  # nothing half-done
    assert Customer.get_by_id(record.id).address == ""
    bad_phone = client.post(f"/cleansing/tasks/{task.id}", {"verdict": "keep", "address": "上海市长宁路1号",
                                                             "phone": "12ab"})
    assert bad_phone.status_code == 200 and Customer.get_by_id(record.id).address == ""
    ok = client.post(f"/cleansing/tasks/{task.id}", {"verdict": "keep", "address": "上海市长宁路1号"})
    assert ok.status_code in (302, 303)
    assert Customer.get_by_id(record.id).address == "上海市长宁路1号"
    assert cm.CleansingTask.get_by_id(task.id).verdict == "keep"
    assert _campaign().done == 1
    again = client.post(f"/cleansing/tasks/{task.id}", {"verdict": "doubtful", "note": "再看"})
    assert again.status_code == 409 and cm.CleansingTask.get_by_id(task.id).verdict == "keep"


def test_doubtful_and_junk_need_a_note(client, camp):
    _start(client, camp)
    task = _task_of(camp["records"][1])
    client.login(camp["users"]["admin"])
    for verdict in ("doubtful", "junk", "nonsense"):
        response = client.post(f"/cleansing/tasks/{task.id}", {"verdict": verdict, "note": ""})
        assert response.status_code == 200
    assert cm.CleansingTask.get_by_id(task.id).status == "open"
    assert Customer.get_by_id(task.customer_id).quarantined_at is None


def test_a_record_someone_else_holds_is_refused_by_name(client, camp):
    _start(client, camp, split="rep")
    users = camp["users"]
    task = cm.CleansingTask.get(cm.CleansingTask.assignee == users["rep_a2"].id)
    client.login(users["rep_a"])  # same team, another rep's record: told who holds it
    page = client.get(f"/cleansing/tasks/{task.id}")
    assert page.status_code == 200 and users["rep_a2"].full_name in page.get_data(as_text=True)
    response = client.post(f"/cleansing/tasks/{task.id}", {"verdict": "junk", "note": "空号"})
    assert response.status_code == 409 and users["rep_a2"].full_name in response.get_data(as_text=True)
    assert cm.CleansingTask.get_by_id(task.id).status == "open"
    client.login(users["rep_s"])  # another region's team: not theirs to see
    assert client.get(f"/cleansing/tasks/{task.id}").status_code == 404
    assert client.post(f"/cleansing/tasks/{task.id}", {"verdict": "junk", "note": "x"}).status_code == 404
    client.login(users["mgr_a"])  # the team's manager classifies for the team
    assert client.post(f"/cleansing/tasks/{task.id}", {"verdict": "doubtful", "note": "电话无人接"}).status_code in (302, 303)


def test_junk_leaves_the_pool_list_search_and_claims_and_the_admin_restores_it(client, camp):
    _start(client, camp)
    record = camp["records"][2]
    task = _task_of(record)
    client.login(camp["users"]["admin"])
    assert client.post(f"/cleansing/tasks/{task.id}", {"verdict": "junk", "note": "公司已注销"}).status_code in (302, 303)
    assert Customer.get_by_id(record.id).quarantined_at is not None
    rep = camp["users"]["rep_a"]
    client.login(rep)
    pool_page = client.get(f"/pools?pool={camp['pool'].id}").get_data(as_text=True)
    assert record.name not in pool_page and camp["records"][3].name in pool_page
    from models.pickers import customer_lookup
    assert customer_lookup(rep, record.name) == []
    from models.pools import ClaimRefused, claim_customer
    with pytest.raises(ClaimRefused):
        claim_customer(rep, record.id)
    assert Customer.get_by_id(record.id).owner_id is None
    # the customer row stays, auditable
    assert AuditEvent.select().where((AuditEvent.kind == "cleansing.classified")
                                     & (AuditEvent.customer == record.id)).count() == 1
    client.login(camp["users"]["admin"])
    assert f'/customers/{record.id}"' not in client.get("/customers?q=" + record.name).get_data(as_text=True)
    assert client.get(f"/customers/{record.id}").status_code == 200  # the file still opens, for the audit
    assert client.post(f"/cleansing/tasks/{task.id}/restore", {"reason": ""}).status_code == 200
    assert Customer.get_by_id(record.id).quarantined_at is not None
    assert client.post(f"/cleansing/tasks/{task.id}/restore", {"reason": "核实公司仍在经营"}).status_code in (302, 303)
    assert Customer.get_by_id(record.id).quarantined_at is None
    client.login(rep)
    assert record.name in client.get(f"/pools?pool={camp['pool'].id}").get_data(as_text=True)
    client.login(camp["users"]["admin"])
    assert f'/customers/{record.id}"' in client.get("/customers?q=" + record.name).get_data(as_text=True)
    assert client.post(f"/cleansing/tasks/{task.id}/restore", {"reason": "again"}).status_code == 409


def test_restoring_a_record_merged_since_is_refused_naming_the_survivor(client, camp):
    from models.merges import merge_customers

    _start(client, camp)
    record, survivor = camp["records"][4], camp["records"][5]
    task = _task_of(record)
    admin = camp["users"]["admin"]
    cm.classify_record(admin, task, "junk", note="重复档案")
    merge_customers(admin, record.id, survivor.id, {}, "重复")
    assert Customer.get_or_none(Customer.id == record.id) is None
    client.login(admin)
    response = client.post(f"/cleansing/tasks/{task.id}/restore", {"reason": "要恢复"})
    assert response.status_code == 409 and survivor.name in response.get_data(as_text=True)
    assert cm.CleansingTask.get_by_id(task.id).restored_at is None
    assert Customer.get_by_id(survivor.id).quarantined_at is None


def test_progress_and_rankings(client, camp):
    _start(client, camp)
    admin = camp["users"]["admin"]
    for record, verdict in zip(camp["records"][:3], ("keep", "doubtful", "junk")):
        cm.classify_record(admin, _task_of(record), verdict, {"address": "北京路2号"}, note="核实")
    c = _campaign()
    p = cm.progress(c)
    assert sum(r["done"] for r in p["teams"]) == 3 == c.done
    assert sum(r["junk"] for r in p["regions"]) == 1
    assert [r["pct"] for r in p["teams"]] == sorted((r["pct"] for r in p["teams"]), reverse=True)
    client.login(camp["users"]["rep_a"])
    page = client.get(f"/cleansing/{c.id}")
    assert page.status_code == 200 and "华东一组" in page.get_data(as_text=True)


def test_task_lists_follow_the_work_rule(client, camp):
    _start(client, camp, split="rep")
    c = _campaign()
    for who in ("rep_a", "rep_a2", "mgr_a", "rep_b", "rep_s", "admin", "service"):
        user = camp["users"][who]
        listed = {t.id for t in cm.tasks(user, c, status="")}
        allowed = {t.id for t in cm.CleansingTask.select().where(cm.CleansingTask.campaign == c.id)
                   if __import__("models.permissions", fromlist=["can"]).can(user, "cleansing.work", t)}
        assert listed == allowed, who


def test_normalise_formats_phones_and_flags_invalid_credit_codes(client, camp):
    _start(client, camp)
    record = camp["records"][0]
    Customer.update(phone="+86 138-0013-8000", credit_code="91310000MA1FL0000X").where(Customer.id == record.id).execute()
    client.login(camp["users"]["admin"])
    c = _campaign()
    assert client.post(f"/cleansing/{c.id}/normalise").status_code in (302, 303)
    assert Customer.get_by_id(record.id).phone == "138 0013 8000"
    assert "bad_credit_code" in _task_of(record).flags


def test_contacts_who_left_are_marked(client, camp):
    _start(client, camp)
    record = camp["records"][3]
    now = clock.now()
    k = Contact.create(customer=record.id, name="王经理", created_at=now)
    client.login(camp["users"]["admin"])
    task = _task_of(record)
    response = client.post(f"/cleansing/tasks/{task.id}", {"verdict": "doubtful", "note": "联系人已离职", "left": [str(k.id)]})
    assert response.status_code in (302, 303)
    assert Contact.get_by_id(k.id).active is False


def test_format_phone_boundaries():
    assert format_phone("13800138000") == "138 0013 8000"
    assert format_phone("02162345678") == "021-6234 5678"
    assert format_phone("01012345678") == "010-1234 5678"
    assert format_phone("057188776655") == "0571-8877 6655"
    assert format_phone("4008208820") == "400-820-8820"
    assert format_phone("12345") == "" and format_phone("") == ""
