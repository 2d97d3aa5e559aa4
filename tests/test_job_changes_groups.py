"""Issue 17 items 5–7: contacts who change job, customer groups (the page's roll-up, the one-owner policy, the
group-aware duplicate check) and completeness weighed per business model (set-based recompute, the daily trend,
the dashboard). Every refusal leaves nothing written."""
import datetime as dt
from decimal import Decimal

import pytest

from models import clock
from models import completeness as cm
from models import groups as gm
from models import settings
from models.audit import AuditEvent
from models.customer_tables import CompletenessWeight, Contact, Customer, CustomerGroup, FollowUp
from models.customers import compute_completeness, log_follow_up, save_contact, set_owner, update_customer
from models.decision_tree import build
from models.duplicates import find_matches
from models.errors import DomainError, NotFound, ValidationError
from models.job_changes import change_job, history
from models.opportunities import Opportunity
from models.orders import Order
from models.pools import assign_customer, claim_customer
from models.rules import save_version
from models.service import Ticket
from tests.test_permissions import pool_world  # noqa: F401


def rows():
    """What a refused verb must leave as it was."""
    return (Contact.select().count(), AuditEvent.select().count(),
            [(c.id, c.active, c.left_at, c.moved_to, c.moved_company) for c in Contact.select().order_by(Contact.id)])


@pytest.fixture
def people(make_user, make_team, make_customer):
    team = make_team("华东一组")
    rep, other = make_user("sales", team), make_user("sales", make_team("华南二组"))
    old = make_customer(owner=rep, name="上海锦绣坊服饰有限公司")
    new = make_customer(owner=rep, name="杭州青松阁制衣有限公司")
    theirs = make_customer(owner=other, name="广州白鹭洲纺织有限公司")
    boss = save_contact(rep, old, {"name": "王建国", "title": "总经理", "decision_role": "decision_maker",
                                   "mobile": "13912345678"})
    buyer = save_contact(rep, old, {"name": "李采购", "title": "采购经理", "decision_role": "buyer",
                                    "reports_to_id": str(boss.id)})
    return dict(rep=rep, other=other, old=old, new=new, theirs=theirs, boss=boss, buyer=buyer)


# ---- item 5: contacts who change job ------------------------------------------------------------------

def test_a_job_change_to_a_customer_keeps_the_history_and_links_the_new_role(people):
    p = people
    log_follow_up(p["rep"], p["old"], {"type": "visit", "content": "拜访王总，讨论明年春季西装面料的采购计划和报价",
                                       "contact_id": str(p["boss"].id)})
    moved = change_job(p["rep"], p["boss"], {"customer_id": str(p["new"].id), "title": "副总裁",
                                             "decision_role": "decision_maker"})
    old_row = Contact.get_by_id(p["boss"].id)
    assert not old_row.active and old_row.left_at == clock.now() and old_row.moved_to == moved.id
    assert old_row.moved_company == "杭州青松阁制衣有限公司"
    assert (moved.customer_id, moved.previous, moved.name, moved.mobile, moved.title) == (
        p["new"].id, p["boss"].id, "王建国", "13912345678", "副总裁")
    # the follow-up stays at the old customer, with the old contact row
    assert FollowUp.get().customer_id == p["old"].id and FollowUp.get().contact_id == p["boss"].id
    assert [c.id for c, _ in history(moved)] == [p["boss"].id, moved.id]
    kinds = {(e.kind, e.customer_id) for e in AuditEvent.select().where(AuditEvent.kind.startswith("contact."))}
    assert ("contact.left_for", p["old"].id) in kinds and ("contact.joined_from", p["new"].id) in kinds
    # the old tree shows the gap: the buyer still reports to the departed boss; a warning says the role is vacant
    roots, nodes, warns = build(Customer.get_by_id(p["old"].id))
    assert nodes[p["buyer"].id].contact.reports_to_id == p["boss"].id
    assert "left_gap" in [k for k, _, _ in warns]
    # completeness of both files follows (the new one now has a decision maker)
    assert Customer.get_by_id(p["new"].id).completeness == compute_completeness(Customer.get_by_id(p["new"].id))


def test_the_gap_closes_when_a_new_decision_maker_is_added(people):
    p = people
    change_job(p["rep"], p["boss"], {"company": "外地新东家服饰有限公司"})
    clock.freeze(clock.now() + dt.timedelta(minutes=5))
    save_contact(p["rep"], p["old"], {"name": "赵新总", "decision_role": "decision_maker"})
    assert "left_gap" not in [k for k, _, _ in build(Customer.get_by_id(p["old"].id))[2]]


def test_a_job_change_outside_the_crm_keeps_the_name(people):
    p = people
    before = Contact.select().count()
    kept = change_job(p["rep"], p["buyer"], {"company": "宁波新东家服饰有限公司", "title": "采购总监"})
    assert kept.id == p["buyer"].id and not kept.active and kept.moved_company == "宁波新东家服饰有限公司"
    assert kept.moved_to is None and Contact.select().count() == before


@pytest.mark.parametrize("data,field", [
    ({}, "company"),                                                      # nowhere to go
    ({"company": "上海锦绣坊服饰有限公司"}, "company"),                    # the contact's own current company
    ({"company": "上海 锦绣坊服飾 股份有限公司"}, "company"),              # the same, written differently
    ({"customer_id": "{old}"}, "customer_id"),                            # the same customer
    ({"customer_id": "{theirs}"}, "customer_id"),                         # a customer one may not edit
    ({"customer_id": "999999999"}, "customer_id"),                        # no such customer
    ({"customer_id": "abc"}, "customer_id"),
    ({"company": "x" * 101}, "company"),
    ({"company": "新公司", "decision_role": "king"}, "decision_role"),
])
def test_bad_job_changes_are_refused_and_write_nothing(people, data, field):
    p = people
    data = {k: v.format(old=p["old"].id, theirs=p["theirs"].id) for k, v in data.items()}
    before = rows()
    with pytest.raises(ValidationError) as exc:
        change_job(p["rep"], p["boss"], data)
    assert field in exc.value.errors
    assert rows() == before


def test_a_contact_who_left_cannot_change_job_again_and_a_stranger_cannot_move_them(people):
    p = people
    with pytest.raises(NotFound):  # the rep of another team cannot edit the customer: as if it did not exist
        change_job(p["other"], p["boss"], {"company": "新公司"})
    change_job(p["rep"], p["boss"], {"company": "新公司"})
    before = rows()
    with pytest.raises(DomainError, match="already left"):
        change_job(p["rep"], Contact.get_by_id(p["boss"].id), {"company": "又一家公司"})
    assert rows() == before


def test_the_job_change_pages(client, people):
    p = people
    client.login(p["rep"])
    url = f"/customers/{p['old'].id}/contacts/{p['boss'].id}/job-change"
    page = client.get(url).get_data(as_text=True)
    assert "王建国" in page and 'name="company"' in page
    found = client.get(url + "/lookup?company=青松阁").get_data(as_text=True)
    assert f'value="{p["new"].id}"' in found and f'value="{p["old"].id}"' not in found
    assert f'value="{p["theirs"].id}"' not in client.get(url + "/lookup?company=白鹭洲").get_data(as_text=True)
    bad = client.post(url, {"company": "上海锦绣坊服饰有限公司"})
    assert bad.status_code == 422 and "current company" in bad.get_data(as_text=True)
    done = client.post(url, {"company": "杭州青松阁制衣有限公司", "customer_id": str(p["new"].id), "title": "副总裁"})
    assert done.status_code == 302 and f"/customers/{p['new'].id}" in done.location
    tab = client.get(f"/customers/{p['new'].id}?tab=contacts").get_data(as_text=True)
    assert "上海锦绣坊服饰有限公司" in tab  # formerly at …
    again = client.post(url, {"company": "又一家"})
    assert again.status_code == 409
    old_tab = client.get(f"/customers/{p['old'].id}?tab=tree").get_data(as_text=True)
    assert "dt-gap" in old_tab and "dt-warning-left_gap" in old_tab


# ---- item 6: groups ---------------------------------------------------------------------------------

@pytest.fixture
def group_world(people, make_customer, make_user):
    p = people
    group = CustomerGroup.create(name="恒力集团")
    a, b = p["old"], p["new"]
    c = make_customer(owner=p["other"], name="恒力（南通）纺织有限公司")
    Customer.update(group=group.id).where(Customer.id.in_([a.id, b.id, c.id])).execute()
    now = clock.now()
    for customer, total, status, on in ((a, "1000.00", "signed", now.date()), (a, "500.50", "signed", now.date()),
                                        (b, "300.00", "signed", (now - dt.timedelta(days=400)).date()),
                                        (b, "999.00", "draft", now.date()), (c, "7000.00", "signed", now.date())):
        Order.create(customer=customer.id, rep=customer.owner_id, ordered_on=on, status=status, total=Decimal(total),
                     created_at=now)
    for customer, stage, amount in ((a, "planning", "20000"), (a, "won", "5000"), (c, "final", "9000")):
        Opportunity.create(customer=customer.id, owner=customer.owner_id, name="面料", amount=Decimal(amount),
                           probability=50, stage=stage, expected_close=now.date(), created_at=now, updated_at=now,
                           stage_changed_at=now, is_open=stage not in ("won", "lost"))
    for customer, status in ((b, "new"), (b, "closed"), (c, "in_progress")):
        Ticket.create(customer=customer.id, channel="phone", category="quality", priority="normal", level="standard",
                      status=status, description="布料起球", created_at=now, updated_at=now, respond_by=now,
                      resolve_by=now)
    return dict(p, group=group, c=c, admin=make_user("admin"))


def test_the_group_page_rolls_up_what_the_reader_may_see(group_world):
    w = group_world
    mine = gm.group_page(w["rep"], w["group"])
    assert [r["customer"].id for r in mine["entities"]] == sorted([w["old"].id, w["new"].id],
                                                                   key=lambda i: Customer.get_by_id(i).name)
    assert mine["hidden"] == 1 and mine["total"] == 3
    t = mine["totals"]
    assert (t["revenue"], t["revenue_12m"], t["orders"]) == (Decimal("1800.50"), Decimal("1500.50"), 3)
    assert (t["open_deals"], t["open_amount"], t["open_tickets"]) == (1, Decimal("20000"), 1)
    everything = gm.group_page(w["admin"], w["group"])["totals"]
    assert (everything["revenue"], everything["open_deals"], everything["open_tickets"]) == (Decimal("8800.50"), 2, 2)


def test_the_group_page_over_http(client, group_world, make_user):
    w = group_world
    client.login(w["rep"])
    page = client.get(f"/groups/{w['group'].id}").get_data(as_text=True)
    assert "恒力集团" in page and "上海锦绣坊服饰有限公司" in page and "恒力（南通）" not in page
    assert 'id="g-hidden"' in page and 'id="group-owner-form"' not in page
    assert f'href="/groups/{w["group"].id}"' in client.get(f"/customers/{w['old'].id}").get_data(as_text=True)
    client.login(make_user("sales"))  # opens none of its entities
    assert client.get(f"/groups/{w['group'].id}").status_code == 404
    assert client.get("/groups/999999").status_code == 404


def _policy(admin, on=True):
    save_version(admin, {"group_one_owner": on}, clock.now())


def test_one_owner_per_group_refuses_a_claim_by_another_rep(pool_world):
    users, customers = pool_world.users, pool_world.customers
    group = CustomerGroup.create(name="申洲集团", owner=users["rep_a2"].id)
    Customer.update(group=group.id).where(Customer.id == customers["pool_here"].id).execute()
    _policy(users["admin"])
    before = (AuditEvent.select().count(), Customer.get_by_id(customers["pool_here"].id).owner_id)
    with pytest.raises(DomainError, match="one-owner-per-group") as exc:
        claim_customer(users["rep_a"], customers["pool_here"].id)
    assert users["rep_a2"].full_name in str(exc.value)
    assert (AuditEvent.select().count(), Customer.get_by_id(customers["pool_here"].id).owner_id) == before
    with pytest.raises(DomainError, match="one-owner-per-group"):  # a manager cannot assign around it either
        assign_customer(users["mgr_a"], Customer.get_by_id(customers["pool_here"].id), users["rep_a"])
    claim_customer(users["rep_a2"], customers["pool_here"].id)  # the group's owner may
    assert Customer.get_by_id(customers["pool_here"].id).owner_id == users["rep_a2"].id


def test_without_the_policy_anyone_claims_and_a_groups_first_owner_is_taken(pool_world):
    users, customers = pool_world.users, pool_world.customers
    group = CustomerGroup.create(name="申洲集团", owner=users["rep_a2"].id)
    Customer.update(group=group.id).where(Customer.id == customers["pool_here"].id).execute()
    claim_customer(users["rep_a"], customers["pool_here"].id)  # policy off (the default)
    assert Customer.get_by_id(customers["pool_here"].id).owner_id == users["rep_a"].id
    fresh_group = CustomerGroup.create(name="无主集团")
    Customer.update(group=fresh_group.id).where(Customer.id == customers["pool_there"].id).execute()
    _policy(users["admin"])
    set_owner(users["admin"], Customer.get_by_id(customers["pool_there"].id), users["rep_b"])
    assert CustomerGroup.get_by_id(fresh_group.id).owner_id == users["rep_b"].id


def test_the_admin_names_the_group_owner(client, group_world):
    w = group_world
    with pytest.raises(NotFound):
        gm.set_group_owner(w["rep"], w["group"], w["rep"])
    with pytest.raises(DomainError):
        gm.set_group_owner(w["admin"], w["group"], w["admin"])  # not a seller
    gm.set_group_owner(w["admin"], w["group"], w["rep"])
    page = gm.group_page(w["admin"], w["group"])
    assert page["owner"].id == w["rep"].id and [r["customer"].id for r in page["outside"]] == [w["c"].id]
    client.login(w["admin"])
    assert client.post(f"/groups/{w['group'].id}/owner", {"owner_id": "999999"}).status_code == 409
    assert client.post(f"/groups/{w['group'].id}/owner", {"owner_id": ""}).status_code == 302
    assert CustomerGroup.get_by_id(w["group"].id).owner_id is None


def test_the_duplicate_check_knows_the_group(group_world):
    w = group_world
    typed = "恒力（苏州）纺织有限公司"  # similar to 恒力（南通）纺织有限公司, another entity of the group
    loose = [m for m in find_matches(w["admin"], name=typed) if m.id == w["c"].id]
    assert loose and loose[0].needs_reason and loose[0].group == "恒力集团" and not loose[0].sibling
    sibling = [m for m in find_matches(w["admin"], name=typed, group="恒力集团") if m.id == w["c"].id][0]
    assert sibling.sibling and not sibling.needs_reason
    same = [m for m in find_matches(w["admin"], name="恒力（南通）纺织有限公司", group="恒力集团") if m.id == w["c"].id][0]
    assert same.needs_reason  # the very same name stays a duplicate, group or not


# ---- item 7: completeness by business model ------------------------------------------------------------

def test_weights_per_business_model_change_the_scores_set_based(people, make_customer, admin_user):
    p = people
    key = make_customer(owner=p["rep"], name="重点客户服饰有限公司", business_model="key_account")
    boss = save_contact(p["rep"], key, {"name": "钱总", "decision_role": "decision_maker"})
    before = Customer.get_by_id(key.id).completeness
    cm.save_weights(admin_user, "key_account", {"w_name": "10", "w_decision_tree": "40", "w_contacts": "10"})
    assert Customer.get_by_id(key.id).completeness == round(100 * 20 / 60) != before  # no reporting line yet
    save_contact(p["rep"], key, {"name": "孙采购", "reports_to_id": str(boss.id)})
    assert Customer.get_by_id(key.id).completeness == 100
    assert Customer.get_by_id(p["old"].id).completeness == compute_completeness(Customer.get_by_id(p["old"].id))
    # the set-based recompute and the per-file computation agree on every file
    Customer.update(completeness=0).execute()
    settings.advance(settings.CompletenessJob.create(business_models="", created_at=clock.now()))
    assert all(c.completeness == compute_completeness(c) for c in Customer.select())
    assert cm.reset_weights(admin_user, "key_account") == len(cm.fields_for("key_account"))  # every row went
    assert not CompletenessWeight.select().where(CompletenessWeight.business_model == "key_account").exists()


@pytest.fixture
def admin_user(make_user):
    return make_user("admin")


@pytest.mark.parametrize("data,field", [
    ({"w_name": "-1"}, "w_name"),
    ({"w_name": "101"}, "w_name"),
    ({"w_name": "ten"}, "w_name"),
    ({"w_name": "0", "w_phone": "0"}, "weights"),
    ({}, "weights"),
])
def test_bad_weights_are_refused_whole(admin_user, make_customer, data, field):
    make_customer()
    before = (CompletenessWeight.select().count(), settings.CompletenessJob.select().count(),
              AuditEvent.select().count(), [c.completeness for c in Customer.select()])
    with pytest.raises(ValidationError) as exc:
        cm.save_weights(admin_user, "consumer", {**data, "w_city": "5"} if field != "weights" else data)
    assert field in exc.value.errors
    assert before == (CompletenessWeight.select().count(), settings.CompletenessJob.select().count(),
                      AuditEvent.select().count(), [c.completeness for c in Customer.select()])


def test_weight_boundaries(admin_user):
    assert cm.save_weights(admin_user, "project", {"w_name": "100", "w_project": "0"})["name"] == 100
    assert cm.current("project") == ({**{k: 0 for k, _ in cm.fields_for("project")}, "name": 100}, True)


def test_the_weights_page(client, admin_user, make_customer):
    make_customer(business_model="project")
    client.login(admin_user)
    assert "w_project" in client.get("/admin/completeness?model=project").get_data(as_text=True)
    bad = client.post("/admin/completeness?model=project", {"w_name": "-5"})
    assert bad.status_code == 422 and "cannot be negative" in bad.get_data(as_text=True)
    zero = client.post("/admin/completeness?model=project", {"w_name": "0"})
    assert zero.status_code == 422 and "At least one field" in zero.get_data(as_text=True)
    assert client.post("/admin/completeness?model=project", {"w_name": "50", "w_project": "50"}).status_code == 302
    assert {c.completeness for c in Customer.select().where(Customer.business_model == "project")} == {50}


def test_the_trend_and_the_reps_on_the_dashboard(client, people, make_user, admin_user):
    p = people
    assert cm.snapshot() == 2 and cm.snapshot() == 0  # a row per rep (two reps own files), once a business day
    clock.freeze(clock.now() + dt.timedelta(days=1))
    save_contact(p["rep"], p["new"], {"name": "新联系人", "mobile": "13800001111"})
    cm.snapshot()
    points = cm.trend(p["rep"].team_id)
    assert len(points) == 2 and points[1][1] >= points[0][1]
    reps, as_of = cm.by_rep(p["rep"].team_id)
    assert as_of is None and [r["user"].id for r in reps] == [p["rep"].id] and reps[0]["count"] == 2
    everyone, as_of = cm.by_rep(None)
    assert as_of == clock.to_local(clock.now()).date() and {r["user"].id for r in everyone} == {p["rep"].id, p["other"].id}
    client.login(admin_user)
    page = client.get("/dashboards").get_data(as_text=True)
    assert 'id="completeness-trend"' in page and 'id="completeness-reps"' in page and p["rep"].full_name in page


def test_a_large_group_lists_and_counts_the_first_entities(group_world, monkeypatch):
    monkeypatch.setattr(gm, "MAX_ENTITIES", 2)
    page = gm.group_page(group_world["admin"], group_world["group"])
    assert page["capped"] and len(page["entities"]) == 2 and page["hidden"] == 0 and page["total"] == 3


def test_the_policy_is_a_pool_rules_setting_and_a_refused_claim_says_why_over_http(client, pool_world):
    from models.rules import validate_settings

    assert validate_settings({"group_one_owner": "1"})["group_one_owner"] is True
    assert validate_settings({})["group_one_owner"] is False
    users, customers = pool_world.users, pool_world.customers
    group = CustomerGroup.create(name="申洲集团", owner=users["rep_a2"].id)
    Customer.update(group=group.id).where(Customer.id == customers["pool_here"].id).execute()
    _policy(users["admin"])
    client.login(users["rep_a"])
    for htmx in (False, True):
        r = client.post(f"/pools/{customers['pool_here'].id}/claim", {}, htmx=htmx)
        assert r.status_code == 409 and "申洲集团" in r.get_data(as_text=True) + str(r.headers), (htmx, r.status_code)
    assert Customer.get_by_id(customers["pool_here"].id).owner_id is None


def test_the_group_field_on_the_form_keeps_the_one_owner_policy(client, group_world, make_customer):
    """Typing a group on an owned customer's form is an owner change into the group: under the policy it is
    refused on the field, naming the group's owner, and nothing of the edit is saved."""
    w = group_world
    gm.set_group_owner(w["admin"], w["group"], w["other"])
    mine = make_customer(owner=w["rep"], name="苏州恒信制衣有限公司")
    _policy(w["admin"])
    data = {"name": "苏州恒信制衣有限公司", "business_model": "consumer", "source": "website", "address": "新地址",
            "group_name": "恒力集团"}
    with pytest.raises(ValidationError) as exc:
        update_customer(w["rep"], Customer.get_by_id(mine.id), data)
    assert "group_name" in exc.value.errors
    row = Customer.get_by_id(mine.id)
    assert row.group_id is None and not row.address
    client.login(w["rep"])
    answer = client.post(f"/customers/{mine.id}/edit", data={**data, "short_name": "", "credit_code": ""}, htmx=True)
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200 and "恒力集团" in page and w["other"].full_name in page
    assert Customer.get_by_id(mine.id).group_id is None
    update_customer(w["rep"], Customer.get_by_id(mine.id), {**data, "group_name": "新成立集团"})  # no owner yet: takes it
    grouped = Customer.get_by_id(mine.id)
    assert grouped.group.name == "新成立集团" and grouped.group.owner_id == w["rep"].id and grouped.address == "新地址"
    _policy(w["admin"], on=False)
    update_customer(w["rep"], Customer.get_by_id(mine.id), data)  # without the policy any group goes
    assert Customer.get_by_id(mine.id).group_id == w["group"].id
