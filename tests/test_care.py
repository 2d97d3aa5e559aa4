"""Care plans for key accounts: who may plan them, due dates for a period and for a list of dates,
recording a visit as a follow-up (on the timeline), a repurchase lead from a care visit, the
reminder sweep, and the upcoming care tasks on the service workbench. Frozen clock: Tue 24 Nov 2026."""
import datetime as dt

import pytest

from models import care, clock
from models import service as sv
from models.audit import AuditEvent
from models.customers import FollowUp
from models.errors import DomainError, NotFound, ValidationError
from models.notifications import Notification
from models.users import Team, User
from tests.conftest import FROZEN

DAY = dt.timedelta(days=1)
TODAY = dt.date(2026, 11, 24)
VISIT = "上门回访，检查设备运行情况，客户对售后很满意"


@pytest.fixture
def agents(make_user, make_team):
    t = make_team("客服二组")
    manager = make_user("service", t)
    Team.update(manager=manager).where(Team.id == t.id).execute()
    return {"manager": User.get_by_id(manager.id), "a": make_user("service", t), "b": make_user("service", t),
            "outsider": make_user("service")}


@pytest.fixture
def key_account(make_customer, make_user):
    return make_customer(business_model="key_account", owner=make_user("sales"))


def plan(actor, customer, **kw):
    data = {"service_user_id": str(kw.pop("agent", actor).id), "kind": "visit", **kw}
    return care.create_care_plan(actor, customer, data)


def test_care_plans_are_for_key_accounts(agents, make_customer):
    with pytest.raises(DomainError) as exc:
        plan(agents["a"], make_customer(), every_days="30")
    assert "key accounts" in exc.value.message
    assert care.CarePlan.select().count() == 0


def test_who_may_plan(agents, key_account, make_user):
    for role in ("sales", "manager", "marketing"):
        with pytest.raises(NotFound):
            plan(make_user(role), key_account, every_days="30", agent=agents["a"])
    assert plan(make_user("admin"), key_account, every_days="30", agent=agents["a"]).service_user_id == agents["a"].id


@pytest.mark.parametrize("data,field", [
    ({"every_days": "0"}, "every_days"), ({"every_days": "366"}, "every_days"), ({"every_days": "abc"}, "every_days"),
    ({"every_days": str(2 ** 70)}, "every_days"), ({}, "every_days"),
    ({"dates": "2026-11-23"}, "dates"), ({"dates": "1900-01-01"}, "dates"), ({"dates": "9999-12-31"}, "dates"),
    ({"dates": "明天"}, "dates"), ({"every_days": "30", "dates": "2026-12-01"}, "dates"),
    ({"every_days": "30", "kind": "party"}, "kind"), ({"every_days": "30", "service_user_id": "999999"}, "service_user_id"),
    ({"every_days": "30", "starts_on": "2026-11-23"}, "starts_on"), ({"every_days": "30", "note": "x" * 301}, "note"),
])
def test_bad_plans_are_refused(agents, key_account, data, field):
    with pytest.raises(ValidationError) as exc:
        plan(agents["a"], key_account, **data)
    assert field in exc.value.errors
    assert care.CarePlan.select().count() == 0


def test_a_plan_by_period_keeps_its_rhythm(agents, key_account):
    p = plan(agents["a"], key_account, every_days="30", starts_on="2026-11-30")
    assert p.next_due == dt.date(2026, 11, 30)
    clock.freeze(FROZEN + 6 * DAY)  # done on the due date
    care.record_care(agents["a"], p, {"content": VISIT})
    assert care.CarePlan.get_by_id(p.id).next_due == dt.date(2026, 12, 30)
    # Done late (after the next due date has passed): the next one is the first planned date after today.
    clock.freeze(clock.from_local(dt.datetime(2027, 2, 1, 10)))
    p = care.CarePlan.get_by_id(p.id)
    care.record_care(agents["a"], p, {"content": VISIT})
    assert care.CarePlan.get_by_id(p.id).next_due == dt.date(2027, 2, 28)  # 12-30 + 30 = 01-29 (past) + 30


def test_next_due_boundaries():
    p = care.CarePlan(every_days=7, dates=[])
    assert care.next_due_after(p, TODAY, TODAY) == TODAY + 7 * DAY
    assert care.next_due_after(p, TODAY - 7 * DAY, TODAY) == TODAY + 7 * DAY   # due+7 is today: the next after today
    assert care.next_due_after(p, TODAY - 8 * DAY, TODAY) == TODAY + 6 * DAY
    listed = care.CarePlan(every_days=None, dates=["2026-11-24", "2026-12-01", "2027-01-05"])
    assert care.next_due_after(listed, TODAY, TODAY) == dt.date(2026, 12, 1)
    assert care.next_due_after(listed, dt.date(2026, 12, 1), dt.date(2026, 12, 20)) == dt.date(2027, 1, 5)
    assert care.next_due_after(listed, dt.date(2027, 1, 5), dt.date(2027, 1, 5)) is None


def test_a_list_of_dates_ends_the_plan_when_used_up(agents, key_account):
    p = plan(agents["a"], key_account, dates="2026-12-01\n2026-11-24")
    assert p.next_due == TODAY
    care.record_care(agents["a"], p, {"content": VISIT})
    p = care.CarePlan.get_by_id(p.id)
    assert p.next_due == dt.date(2026, 12, 1)
    care.record_care(agents["a"], p, {"content": VISIT})
    p = care.CarePlan.get_by_id(p.id)
    assert (p.next_due, p.active) == (None, False)
    with pytest.raises(DomainError):
        care.record_care(agents["a"], p, {"content": VISIT})


def test_a_care_visit_is_a_follow_up_on_the_timeline(agents, key_account):
    p = plan(agents["a"], key_account, every_days="14")
    record = care.record_care(agents["a"], p, {"content": VISIT, "type": "call"})
    fu = FollowUp.get_by_id(record.followup_id)
    assert (fu.customer_id, fu.author_id, fu.type, fu.content) == (key_account.id, agents["a"].id, "call", VISIT)
    kinds = [e.kind for e in AuditEvent.select().where(AuditEvent.customer == key_account.id)]
    assert "followup.logged" in kinds and "care.recorded" in kinds
    with pytest.raises(ValidationError):  # the follow-up rules apply: content is required
        care.record_care(agents["a"], care.CarePlan.get_by_id(p.id), {"content": ""})
    assert care.CareRecord.select().count() == 1


def test_a_care_visit_may_raise_a_repurchase_lead(agents, key_account):
    p = plan(agents["a"], key_account, every_days="14")
    care.record_care(agents["a"], p, {"content": VISIT, "lead_note": "客户计划明年初扩产，需要新设备"})
    lead = sv.RepurchaseLead.get()
    assert (lead.source, lead.care_plan, lead.routed_to_id) == ("care", p.id, key_account.owner_id)
    # A bad lead note writes nothing: neither the follow-up nor the record.
    before = (FollowUp.select().count(), care.CareRecord.select().count())
    with pytest.raises(ValidationError):
        care.record_care(agents["a"], care.CarePlan.get_by_id(p.id), {"content": VISIT, "lead_note": "x" * 301})
    assert (FollowUp.select().count(), care.CareRecord.select().count()) == before


def test_who_may_record(agents, key_account, make_user):
    p = plan(agents["manager"], key_account, every_days="14", agent=agents["a"])
    with pytest.raises(NotFound):
        care.record_care(agents["b"], p, {"content": VISIT})          # another agent's plan
    with pytest.raises(NotFound):
        care.record_care(agents["outsider"], p, {"content": VISIT})
    with pytest.raises(NotFound):
        care.record_care(key_account.owner, p, {"content": VISIT})
    care.record_care(agents["manager"], p, {"content": VISIT})          # the service manager may


def test_sweep_reminds_once_per_overdue_task(agents, key_account):
    p = plan(agents["a"], key_account, every_days="7")
    assert care.sweep(FROZEN + DAY - dt.timedelta(hours=11))["reminded"] == 0   # 23:00 of the due day in Shanghai
    assert care.sweep(FROZEN + DAY - dt.timedelta(hours=10))["reminded"] == 1   # midnight: overdue
    assert care.sweep(FROZEN + DAY)["reminded"] == 0
    assert care.sweep(FROZEN + 2 * DAY)["reminded"] == 0
    note = Notification.get(Notification.kind == "care_due")
    assert (note.user_id, note.customer_id) == (agents["a"].id, key_account.id)
    assert p.id


def test_upcoming_care_tasks_on_the_service_workbench(client, agents, key_account):
    soon = plan(agents["a"], key_account, every_days="30", starts_on="2026-11-30")
    later = plan(agents["a"], key_account, every_days="30", starts_on="2026-12-15")
    client.login(agents["a"])
    body = client.get("/").get_data(as_text=True)
    card = body[body.index('id="wb-care"'):]
    assert f"/care/{soon.id}/record" in card and f"/care/{later.id}/record" not in card


def test_plan_and_record_through_the_web(client, agents, key_account, make_customer):
    client.login(agents["a"])
    r = client.post(f"/care/new/{key_account.id}", {"service_user_id": str(agents["a"].id), "kind": "visit",
                                                    "every_days": "0"}, htmx=True)
    assert r.status_code == 200 and "Every 1 to 365 days" in r.get_data(as_text=True)
    r = client.post(f"/care/new/{key_account.id}", {"service_user_id": str(agents["a"].id), "kind": "visit",
                                                    "every_days": "30"}, htmx=True)
    assert r.status_code == 204
    p = care.CarePlan.get()
    other = make_customer()
    r = client.post(f"/care/new/{other.id}", {"service_user_id": str(agents["a"].id), "every_days": "30"}, htmx=True)
    assert "key accounts" in r.get_data(as_text=True) and care.CarePlan.select().count() == 1
    r = client.post(f"/care/{p.id}/record", {"content": ""}, htmx=True)
    assert r.status_code == 200 and 'id="care-record-form"' in r.get_data(as_text=True)
    r = client.post(f"/care/{p.id}/record", {"content": VISIT, "type": "visit"}, htmx=True)
    assert r.status_code == 204 and care.CareRecord.select().count() == 1
    tab = client.get(f"/customers/{key_account.id}?tab=service", htmx=True).get_data(as_text=True)
    assert "every 30 days" in tab
    assert client.post(f"/care/{p.id}/end", htmx=True).status_code == 204
    assert not care.CarePlan.get_by_id(p.id).active
    assert client.get(f"/care/{2 ** 64}/record").status_code == 404
