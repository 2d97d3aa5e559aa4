"""Leads over HTTP: the website's form endpoint under abuse (wrong token, missing name, 10 KB of text, a
flood, a honeypot, broken bodies: JSON errors, never a 500, never a half-created customer), the intake
form showing duplicates before anything is created, bulk judging, and the rep's answer."""
import json

import pytest

from models import clock, leads
from models.customers import Customer
from models.lead_tables import Campaign, Lead, LeadSource
from models.users import Region, Team
from tests.test_permissions import db_state


@pytest.fixture
def w(make_user, make_team):
    east = Region.select().first()
    team = make_team("华东一组", region=east)
    u = {"rep": make_user("sales", team), "mgr": make_user("manager", team), "mkt": make_user("marketing"),
         "admin": make_user("admin"), "east": east}
    Team.update(manager=u["mgr"]).where(Team.id == team.id).execute()
    camp = Campaign.create(name="官网春季推广", channel="website", source="website", starts_on=clock.today(),
                           ends_on=clock.today(), created_at=clock.now())
    source, token = leads.save_source(u["mkt"], {"name": "官网", "source": "website", "per_hour": "5",
                                                 "campaign_id": str(camp.id)})
    u.update(campaign=camp, source=source, token=token)
    return u


def post(client, data, as_json=False, **kw):
    if as_json:
        return client.http.post("/web-leads", data=json.dumps(data), content_type="application/json", **kw)
    return client.http.post("/web-leads", data=data, **kw)


def test_a_website_post_becomes_a_lead_with_its_source_and_campaign(client, w):
    r = post(client, {"token": w["token"], "name": "宁波海岸服饰有限公司", "contact_name": "陈女士",
                      "contact_mobile": "13600136000", "note": "想订200套工装"})
    assert r.status_code == 201 and r.get_json()["ok"] is True
    lead = Lead.get_by_id(r.get_json()["reference"])
    c = Customer.get_by_id(lead.customer_id)
    assert (lead.source, lead.campaign_id, lead.web_source_id, lead.status) == ("website", w["campaign"].id, w["source"].id, "new")
    assert (c.stage, c.owner_id, c.source, c.campaign_id) == ("unidentified", None, "website", w["campaign"].id)
    # The same company again (same mobile as a contact): the lead attaches, no second file.
    before = Customer.select().count()
    r = post(client, {"token": w["token"], "name": "海岸服饰", "contact_mobile": "13600136000"}, as_json=True)
    assert r.status_code == 201 and Customer.select().count() == before
    assert Lead.get_by_id(r.get_json()["reference"]).customer_id == c.id


@pytest.mark.parametrize("data,status,field", [
    ({"token": "wrong", "name": "某公司"}, 403, None),
    ({"name": "某公司"}, 403, None),
    ({"token": "{token}", "name": ""}, 400, "name"),
    ({"token": "{token}", "name": "某公司", "note": "x" * 10240}, 400, "note"),   # 10 KB of text
    ({"token": "{token}", "name": "某公司", "note": "长" * 2001}, 400, "note"),
    ({"token": "{token}", "name": "某" * 101}, 400, "name"),
    ({"token": "{token}", "name": "某公司", "contact_mobile": "12345"}, 400, "contact_mobile"),
    ({"token": "{token}", "name": "某公司", "credit_code": "91330000ABCDEFGHIJ"}, 400, "credit_code"),
])
def test_bad_posts_get_json_errors_and_write_nothing(client, w, data, status, field):
    data = {k: (w["token"] if v == "{token}" else v) for k, v in data.items()}
    customers, lead_count = Customer.select().count(), Lead.select().count()
    for as_json in (False, True):
        r = post(client, data, as_json=as_json)
        assert r.status_code == status and r.is_json and r.get_json()["ok"] is False, r.get_data(as_text=True)[:300]
        if field:
            assert field in r.get_json()["errors"]
    assert (Customer.select().count(), Lead.select().count()) == (customers, lead_count)


def test_broken_and_oversized_bodies(client, w):
    before = db_state()
    for body, ctype in (("{not json", "application/json"), ("[1, 2]", "application/json"), ("null", "application/json")):
        r = client.http.post("/web-leads", data=body, content_type=ctype)
        assert r.status_code in (400, 403) and r.is_json
    r = client.http.post("/web-leads", data={"token": w["token"], "name": "x", "note": "x" * 40000})
    assert r.status_code == 413 and r.is_json
    assert {k: v for k, v in db_state().items() if k != "intake_throttle"} == \
        {k: v for k, v in before.items() if k != "intake_throttle"}


def test_a_flood_is_refused_per_address(client, w):
    codes = [post(client, {"token": w["token"], "name": f"洪水测试{n}号贸易有限公司", "duplicate_reason": "x"},
                  environ_base={"REMOTE_ADDR": "10.0.0.9"}).status_code for n in range(7)]
    assert codes == [201] * 5 + [429, 429]
    assert post(client, {"token": w["token"], "name": "另一个地址的公司"},
                environ_base={"REMOTE_ADDR": "10.0.0.10"}).status_code == 201
    assert Lead.select().count() == 6


def test_the_honeypot_takes_a_bot_quietly(client, w):
    r = post(client, {"token": w["token"], "name": "机器人公司", "homepage": "http://spam.example"})
    assert r.status_code == 201 and "reference" not in r.get_json()
    assert Lead.select().count() == 0 and Customer.select().count() == 0


def test_a_switched_off_form_or_a_gone_owner_is_refused(client, w):
    LeadSource.update(active=False).where(LeadSource.id == w["source"].id).execute()
    assert post(client, {"token": w["token"], "name": "某公司"}).status_code == 403
    LeadSource.update(active=True).where(LeadSource.id == w["source"].id).execute()
    from models.users import User
    User.update(active=False).where(User.id == w["mkt"].id).execute()
    assert post(client, {"token": w["token"], "name": "某公司"}).status_code == 403
    assert Lead.select().count() == 0


def test_intake_form_shows_duplicates_before_creating(client, w, make_customer):
    existing = make_customer(owner=w["rep"], name="温州雅戈服饰有限公司")
    client.login(w["mkt"])
    before = Customer.select().count()
    r = client.post("/leads/new", {"name": "温州雅戈服饰有限公司", "source": "event"}, htmx=True)
    body = r.get_data(as_text=True)
    assert r.status_code == 200 and 'id="lead-duplicates"' in body and f'value="{existing.id}"' in body
    assert Customer.select().count() == before and Lead.select().count() == 0
    r = client.post("/leads/new", {"name": "温州雅戈服饰有限公司", "source": "event", "customer_id": str(existing.id)})
    assert r.status_code == 303 and Lead.get().customer_id == existing.id


def test_bulk_judging_and_the_reps_answer(client, w):
    ids = [leads.intake_lead(w["mkt"], {"name": f"批量{n}号服饰有限公司", "source": "event", "region_id": str(w["east"].id),
                                        "duplicate_reason": "x"}).id for n in range(3)]
    client.login(w["mkt"])
    r = client.post("/leads/bulk", {"lead_id": [str(ids[0]), str(ids[1])], "verdict": "junk", "reason": ""})
    assert r.status_code == 303 and Lead.select().where(Lead.status == "junk").count() == 0  # junk needs a reason
    client.post("/leads/bulk", {"lead_id": [str(ids[0])], "verdict": "junk", "reason": "空号"})
    client.post("/leads/bulk", {"lead_id": [str(ids[1]), str(ids[2])], "verdict": "qualified"})
    assert [Lead.get_by_id(i).status for i in ids] == ["junk", "routed", "routed"]
    assert Lead.get_by_id(ids[1]).routed_to_id == w["rep"].id
    client.login(w["rep"])
    page = client.get("/leads/mine").get_data(as_text=True)
    assert f'data-lead-id="{ids[1]}"' in page
    r = client.post(f"/leads/{ids[1]}/send-back", {"reason": ""})
    assert r.status_code == 200 and "Say why it is still a prospect" in r.get_data(as_text=True)
    assert client.post(f"/leads/{ids[1]}/send-back", {"reason": "明年才有预算"}).status_code == 303
    assert client.post(f"/leads/{ids[2]}/accept").status_code == 303
    assert [Lead.get_by_id(i).status for i in ids[1:]] == ["sent_back", "accepted"]
    # answered: no second answer, and the sent-back customer is out of the rep's hands
    assert client.post(f"/leads/{ids[2]}/accept").status_code == 404
    assert client.get(f"/customers/{Lead.get_by_id(ids[1]).customer_id}").status_code == 404
    client.login(w["mkt"])
    assert "明年才有预算" in client.get("/").get_data(as_text=True)


def test_the_customer_page_puts_a_marketing_lead_into_the_queue(client, w, make_customer):
    old = make_customer(name="老线索服饰有限公司", stage="unidentified")
    client.login(w["mkt"])
    page = client.get(f"/customers/{old.id}").get_data(as_text=True)
    assert 'id="lead-card-queue"' in page
    r = client.post("/leads/new", {"customer_id": str(old.id), "name": old.name, "source": old.source})
    assert r.status_code == 303 and Lead.get().customer_id == old.id and Customer.select().count() == 1
    page = client.get(f"/customers/{old.id}").get_data(as_text=True)
    assert 'id="lead-card-queue"' not in page and f"/leads/{Lead.get().id}" in page
