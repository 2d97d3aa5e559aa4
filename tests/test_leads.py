"""Leads (issue 14): intake, qualification, routing by rule at every boundary (owner, staker, region,
industry, round-robin; absent, deactivated and full reps skipped), the response deadline in working
hours (frozen clock at the working-day edges and over a holiday), the escalation sweep, the send-back,
and the web-form endpoint under abuse."""
import datetime as dt

import pytest

from models import clock, leads
from models.customers import Customer, Industry, log_follow_up
from models.delegations import Delegation
from models.errors import ValidationError
from models.lead_tables import Lead, LeadRouting, LeadSource
from models.ledger import PoolEvent
from models.notifications import Notification
from models.pools import CapacityAdjustment, Pool
from models.rules import RuleVersion
from models.service import DEFAULTS, ServiceSettings
from models.users import Region, Team, User

VISIT = "上门拜访了采购经理，确认下季度西装面料需求和预算，约好下周送样品"


def local(y, m, d, hh=0, mm=0):
    return clock.from_local(dt.datetime(y, m, d, hh, mm))


@pytest.fixture
def w(make_user, make_team):
    """Region east: team A (rep a1, a2, manager); region south: team B (rep b1); marketing; admin."""
    east, south = Region.select().order_by(Region.id)[:2]
    team_a, team_b = make_team("华东一组", region=east), make_team("华南一组", region=south)
    u = {"a1": make_user("sales", team_a), "a2": make_user("sales", team_a), "mgr": make_user("manager", team_a),
         "b1": make_user("sales", team_b), "mkt": make_user("marketing"), "admin": make_user("admin")}
    Team.update(manager=u["mgr"]).where(Team.id == team_a.id).execute()
    return {"east": east, "south": south, "team_a": team_a, "team_b": team_b, **u}


def intake(w, name="杭州新客户服饰有限公司", actor=None, **extra):
    data = {"name": name, "source": "website", "region_id": str(w["east"].id), "contact_name": "王经理",
            "contact_mobile": "13800138000", "note": "想了解西装定制", "duplicate_reason": "另一家公司", **extra}
    return leads.intake_lead(actor or w["mkt"], data)


def qualify(w, lead):
    return leads.judge_lead(w["mkt"], lead, "qualified")


def test_intake_keeps_source_campaign_channel_and_shows_duplicates_first(w):
    camp = leads.Campaign.create(name="秋季展会", channel="event", source="event", starts_on=dt.date(2026, 11, 1),
                                 ends_on=dt.date(2026, 11, 30), created_at=clock.now())
    lead = intake(w, source="event", first_channel="visit", campaign_id=str(camp.id))
    c = Customer.get_by_id(lead.customer_id)
    assert (c.source, c.first_channel, c.campaign_id, c.stage, c.owner_id) == ("event", "visit", camp.id, "unidentified", None)
    assert c.contacts.count() == 1 and lead.status == "new"
    before = Customer.select().count()
    with pytest.raises(leads.DuplicatesFound) as found:
        intake(w, name="杭州新客户服饰有限公司", duplicate_reason="")
    assert [m.id for m in found.value.matches] == [c.id] and Customer.select().count() == before
    again = intake(w, name="杭州新客户服饰有限公司", customer_id=str(c.id))  # attach to the match
    assert again.customer_id == c.id and not again.new_customer and Customer.select().count() == before
    with pytest.raises(ValidationError):  # an id the check did not show is refused
        intake(w, name="完全不同的名字有限公司", customer_id=str(c.id), contact_mobile="")


def test_a_rep_enters_a_lead_for_marketing_not_for_themselves(w):
    lead = intake(w, actor=w["a1"], source="referral")
    c = Customer.get_by_id(lead.customer_id)
    assert c.owner_id is None and c.stage == "unidentified" and lead.created_by_id == w["a1"].id


def test_junk_is_kept_searchable_and_restorable(w):
    lead = intake(w)
    with pytest.raises(ValidationError):
        leads.judge_lead(w["mkt"], lead, "junk", reason="")
    lead = leads.judge_lead(w["mkt"], lead, "junk", reason="同行打听价格")
    assert lead.status == "junk" and lead.junk_reason == "同行打听价格"
    assert Customer.get_or_none(Customer.id == lead.customer_id) is not None
    assert leads.restore_lead(w["mkt"], lead).status == "new"
    nurtured = leads.judge_lead(w["mkt"], lead, "prospect", nurture_list="明年春季")
    assert nurtured.status == "prospect" and Customer.get_by_id(lead.customer_id).stage == "prospect"


def test_qualified_lead_goes_to_a_rep_of_its_region_with_a_deadline_and_a_ledger_row(w):
    lead = qualify(w, intake(w))
    assert lead.status == "routed" and lead.routed_to_id in (w["a1"].id, w["a2"].id, w["mgr"].id)
    c = Customer.get_by_id(lead.customer_id)
    assert c.owner_id == lead.routed_to_id and c.stage == "target" and c.pool_id is None and c.release_at
    assert lead.due_at == local(2026, 11, 26, 16, 0)  # Tuesday 10:00 + 24 working hours (9 a day)
    row = PoolEvent.get((PoolEvent.kind == "lead_routed") & (PoolEvent.customer == c.id))
    assert row.to_owner == lead.routed_to_id and row.inputs["rule"] == "region" and row.inputs["steps"] == ["region", "round_robin"]


def test_round_robin_order_and_skips_absent_deactivated_and_full(w):
    routed = [qualify(w, intake(w, name=f"轮转客户{n}号服饰有限公司")).routed_to_id for n in range(4)]
    assert routed == [w["a1"].id, w["a2"].id, w["a1"].id, w["a2"].id]  # managers take no part by default
    # a1 absent (delegation today), a2 full: nobody of the region is available, so the rotation goes wider.
    Delegation.create(absentee=w["a1"], delegate=w["mgr"], starts_on=clock.today(), ends_on=clock.today(),
                      created_by=w["a1"], created_at=clock.now())
    CapacityAdjustment.create(user=w["a2"], delta=-50, starts_at=clock.now(), reason="罚", created_at=clock.now())
    lead = qualify(w, intake(w, name="缺席客户服饰有限公司"))
    assert lead.routed_to_id == w["b1"].id
    routing = LeadRouting.get_by_id(lead.routing_id)
    assert {(s["id"], s["why"]) for s in routing.skipped} >= {(w["a1"].id, "absent"), (w["a2"].id, "full")}
    User.update(active=False).where(User.id == w["b1"].id).execute()
    stuck = qualify(w, intake(w, name="无人可接服饰有限公司"))
    assert stuck.status == "qualified" and stuck.routed_to_id is None
    assert Customer.get_by_id(stuck.customer_id).owner_id is None  # still marketing's, not lost


def test_capacity_boundary_one_place_left_takes_it(w):
    RuleVersion.create(version=1, effective_from=clock.now() - dt.timedelta(days=1),
                       settings={"capacity": {"sales": 1, "manager": 1}}, created_at=clock.now())
    first = qualify(w, intake(w, name="容量一号服饰有限公司"))
    second = qualify(w, intake(w, name="容量二号服饰有限公司"))
    third = qualify(w, intake(w, name="容量三号服饰有限公司"))
    assert (first.routed_to_id, second.routed_to_id) == (w["a1"].id, w["a2"].id)
    assert third.routed_to_id == w["b1"].id  # both of the region are exactly full


def test_industry_specialist_within_the_region(w):
    industry = Industry.select().first()
    leads.save_routing(w["admin"], {**leads.ROUTING_DEFAULTS, "industry_reps": {str(industry.id): [w["a2"].id]}},
                       clock.now())
    lead = qualify(w, intake(w, industry_id=str(industry.id)))
    assert lead.routed_to_id == w["a2"].id and LeadRouting.get_by_id(lead.routing_id).rule == "industry"


def test_owner_then_staker_first(w, make_customer):
    owned = make_customer(owner=w["b1"], name="老客户服饰有限公司")
    lead = intake(w, name="老客户服饰有限公司", customer_id=str(owned.id))
    lead = qualify(w, lead)
    assert lead.routed_to_id == w["b1"].id and not lead.made_owner
    assert LeadRouting.get_by_id(lead.routing_id).rule == "owner"
    pooled = make_customer(name="占坑客户服饰有限公司")
    pool = Pool.get(Pool.region == w["south"].id)
    Customer.update(pool=pool, staked_by=w["b1"], staked_at=clock.now(),
                    stake_due=clock.now() + dt.timedelta(days=14)).where(Customer.id == pooled.id).execute()
    lead = qualify(w, intake(w, name="占坑客户服饰有限公司", customer_id=str(pooled.id)))
    assert lead.routed_to_id == w["b1"].id and LeadRouting.get_by_id(lead.routing_id).rule == "staker"
    c = Customer.get_by_id(pooled.id)
    assert c.owner_id == w["b1"].id and c.pool_id is None and c.staked_by_id is None


def test_manual_override_needs_a_reason(w):
    lead = intake(w)
    with pytest.raises(ValidationError):
        leads.route_lead(w["mkt"], lead, to_user=w["b1"], reason="")
    lead = leads.route_lead(w["mkt"], lead, to_user=w["b1"], reason="客户点名要他")
    assert lead.routed_to_id == w["b1"].id and LeadRouting.get_by_id(lead.routing_id).rule == "manual"


@pytest.mark.parametrize("start,due", [
    (local(2026, 11, 24, 10, 0), local(2026, 11, 26, 16, 0)),   # Tuesday 10:00: 8 + 9 + 7 h = Thursday 16:00
    (local(2026, 11, 24, 9, 0), local(2026, 11, 26, 15, 0)),    # at opening
    (local(2026, 11, 24, 12, 0), local(2026, 11, 26, 18, 0)),   # lands exactly on closing: Thursday 18:00, not Friday
    (local(2026, 11, 24, 18, 0), local(2026, 11, 27, 15, 0)),   # at closing: counts from Wednesday 09:00
    (local(2026, 11, 27, 17, 0), local(2026, 12, 2, 14, 0)),    # Friday 17:00, over the weekend
    (local(2026, 11, 28, 11, 0), local(2026, 12, 2, 15, 0)),    # Saturday: from Monday 09:00
])
def test_deadline_in_working_hours_at_the_edges(w, start, due):
    clock.freeze(start)
    lead = qualify(w, intake(w))
    assert lead.due_at == due


def test_deadline_skips_holidays(w):
    ServiceSettings.create(settings={**DEFAULTS, "holidays": ["2026-11-25", "2026-11-26"]}, updated_at=clock.now())
    lead = qualify(w, intake(w))
    assert lead.due_at == local(2026, 11, 30, 16, 0)  # Tue 8 h, Wed and Thu off, Fri 9 h, Mon 7 h


def test_escalation_exactly_at_the_deadline_once_and_reminder_before(w):
    lead = qualify(w, intake(w))
    rep = lead.routed_to_id
    clock.freeze(local(2026, 11, 26, 11, 59))  # 4 working hours before Thursday 16:00 is 12:00
    assert leads.sweep()["warned"] == 0
    clock.freeze(local(2026, 11, 26, 12, 0))
    assert leads.sweep() == {"warned": 1, "escalated": 0}
    assert leads.sweep() == {"warned": 0, "escalated": 0}
    clock.freeze(local(2026, 11, 26, 15, 59))
    assert leads.sweep()["escalated"] == 0
    clock.freeze(local(2026, 11, 26, 16, 0))
    assert leads.sweep()["escalated"] == 1
    assert leads.sweep()["escalated"] == 0  # idempotent
    lead = Lead.get_by_id(lead.id)
    assert lead.escalated_to == w["mgr"].id and lead.status == "routed"
    assert Notification.select().where((Notification.user == w["mgr"].id) & (Notification.kind == "lead_escalated")).count() == 1
    assert PoolEvent.select().where(PoolEvent.kind == "lead_escalated").count() == 1
    # The manager re-routes by rule: the silent rep is skipped, the customer moves with the lead.
    mgr = User.get_by_id(w["mgr"].id)
    again = leads.route_lead(mgr, lead, reason="没有回应")
    assert again.routed_to_id not in (rep, None) and Customer.get_by_id(lead.customer_id).owner_id == again.routed_to_id
    first = LeadRouting.get(LeadRouting.lead == lead.id, LeadRouting.to_user == rep)
    assert first.late and first.response == "rerouted"
    assert again.due_at == leads.calendar().add(clock.now(), 24)


def test_accept_explicitly_or_by_a_valid_follow_up_after_routing(w):
    lead = qualify(w, intake(w))
    rep = User.get_by_id(lead.routed_to_id)
    clock.freeze(local(2026, 11, 24, 11, 30))
    log_follow_up(rep, Customer.get_by_id(lead.customer_id), {"type": "visit", "content": VISIT})
    lead = Lead.get_by_id(lead.id)
    assert lead.status == "accepted"
    routing = LeadRouting.get_by_id(lead.routing_id)
    assert (routing.response, routing.minutes, routing.late) == ("followup", 90, False)
    other = qualify(w, intake(w, name="第二个客户服饰有限公司"))
    clock.freeze(other.due_at)  # exactly at the deadline is late
    other = leads.accept_lead(User.get_by_id(other.routed_to_id), other)
    assert other.status == "accepted" and LeadRouting.get_by_id(other.routing_id).late


def test_send_back_returns_the_customer_to_marketing(w):
    lead = qualify(w, intake(w))
    rep = User.get_by_id(lead.routed_to_id)
    with pytest.raises(ValidationError):
        leads.send_back(rep, lead, "")
    lead = leads.send_back(rep, lead, "只是询价，明年才有预算")
    c = Customer.get_by_id(lead.customer_id)
    assert lead.status == "sent_back" and (c.owner_id, c.pool_id, c.stage) == (None, None, "prospect")
    assert lead.sent_back_reason == "只是询价，明年才有预算"
    # a delegate answers for the absentee; someone else may not
    lead2 = qualify(w, intake(w, name="代理客户服饰有限公司"))
    absentee = User.get_by_id(lead2.routed_to_id)
    delegate = w["a2"] if absentee.id == w["a1"].id else w["a1"]
    from models.errors import NotFound
    with pytest.raises(NotFound):
        leads.accept_lead(User.get_by_id(w["b1"].id), lead2)
    Delegation.create(absentee=absentee, delegate=delegate, starts_on=clock.today(), ends_on=clock.today(),
                      created_by=absentee, created_at=clock.now())
    assert leads.accept_lead(User.get_by_id(delegate.id), lead2).status == "accepted"


def test_response_times_per_rep_and_team(w):
    a = qualify(w, intake(w, name="响应一号服饰有限公司"))
    b = qualify(w, intake(w, name="响应二号服饰有限公司"))
    clock.freeze(local(2026, 11, 24, 12, 0))
    leads.accept_lead(User.get_by_id(a.routed_to_id), a)
    clock.freeze(local(2026, 11, 27, 10, 0))
    leads.sweep()
    rows = {r["key"]: r for r in leads.response_times(local(2026, 11, 1), local(2026, 12, 1))}
    assert rows[a.routed_to_id]["avg_hours"] == 2.0 and rows[a.routed_to_id]["late"] == 0
    assert rows[b.routed_to_id]["late"] == 1
    teams = {r["key"]: r for r in leads.response_times(local(2026, 11, 1), local(2026, 12, 1), by="team")}
    assert teams[w["team_a"].id]["routed"] == 2


def test_routing_versions_take_effect_from_their_start_and_the_preview_writes_nothing(w):
    from tests.test_permissions import db_state

    start = clock.now() + dt.timedelta(days=1)
    leads.save_routing(w["admin"], {**leads.ROUTING_DEFAULTS, "response_hours": 8}, start, "短一点")
    with pytest.raises(ValidationError):
        leads.save_routing(w["admin"], leads.ROUTING_DEFAULTS, clock.now() - dt.timedelta(hours=1))
    assert qualify(w, intake(w)).due_at == local(2026, 11, 26, 16, 0)  # still the 24 hours in force today
    waiting = intake(w, name="预览客户服饰有限公司")
    before = db_state()
    rows = leads.preview_routing({**leads.ROUTING_DEFAULTS, "use_region": False})
    assert db_state() == before
    row = next(r for r in rows if r["lead"].id == waiting.id)
    assert (row["old_rule"], row["new_rule"]) == ("region", "round_robin")
    clock.freeze(start)
    lead = qualify(w, waiting)
    assert lead.due_at == leads.calendar().add(start, 8)
    assert LeadRouting.get_by_id(lead.routing_id).rule_version == 1


def test_a_reroute_finding_nobody_leaves_the_lead_with_its_rep_and_says_so(w):
    from models.errors import DomainError

    lead = qualify(w, intake(w))
    for rep in ("a1", "a2", "b1"):
        if w[rep].id != lead.routed_to_id:
            User.update(active=False).where(User.id == w[rep].id).execute()
    with pytest.raises(DomainError):
        leads.route_lead(User.get_by_id(w["mgr"].id), lead, reason="没回应")
    assert Lead.get_by_id(lead.id).routed_to_id == lead.routed_to_id


# ---- inbound leads from known customers: the same routing ---------------------------------------

def _pooled(w, make_customer, name, region="east"):
    c = make_customer(name=name, region_id=str(w[region].id))
    Customer.update(pool=Pool.get(Pool.region == w[region].id)).where(Customer.id == c.id).execute()
    return Customer.get_by_id(c.id)


def test_an_inbound_lead_goes_through_the_routing_rule_and_a_send_back_returns_it_to_its_pool(w, make_user,
                                                                                             make_customer, client):
    service = make_user("service")
    owned = make_customer(owner=w["b1"], name="来电老客户服饰有限公司")
    with pytest.raises(ValidationError):
        leads.log_inbound_lead(service, owned, "")
    lead = leads.log_inbound_lead(service, owned, "客户来电询问春季新款面料")
    assert (lead.status, lead.routed_to_id, lead.new_customer, lead.made_owner) == ("routed", w["b1"].id, False, False)
    assert LeadRouting.get_by_id(lead.routing_id).rule == "owner" and lead.due_at is not None
    pooled = _pooled(w, make_customer, "公海来电客户服饰有限公司")
    stage = pooled.stage
    client.login(service)
    r = client.post(f"/customers/{pooled.id}/inbound-lead", {"note": "官网来询：想了解批量采购价格"}, htmx=True)
    assert r.status_code == 200 and "Routed to" in r.headers["HX-Trigger"]
    lead = Lead.get(Lead.customer == pooled.id)
    routing = LeadRouting.get_by_id(lead.routing_id)
    assert lead.routed_to_id in (w["a1"].id, w["a2"].id) and routing.rule == "region" and lead.made_owner
    event = PoolEvent.get((PoolEvent.customer == pooled.id) & (PoolEvent.kind == "lead_routed"))
    assert (event.to_owner, event.inputs["rule"]) == (lead.routed_to_id, "region")
    c = Customer.get_by_id(pooled.id)
    assert (c.owner_id, c.pool_id) == (lead.routed_to_id, None)
    leads.send_back(User.get_by_id(lead.routed_to_id), lead, "客户只是比价，无采购计划")
    c = Customer.get_by_id(pooled.id)  # a known customer goes back to its pool, its stage kept
    assert (c.owner_id, c.pool_id, c.stage) == (None, Pool.get(Pool.region == w["east"].id).id, stage)


def test_a_repurchase_lead_from_service_is_routed_by_the_same_rule(w, make_user, make_customer):
    from models import service as sv

    agent = make_user("service")
    pooled = _pooled(w, make_customer, "复购公海客户服饰有限公司")
    repurchase = sv.raise_repurchase_lead(agent, pooled, "客户想再订一批衬衫面料")
    lead = Lead.get(Lead.customer == pooled.id)
    assert repurchase.routed_to_id == lead.routed_to_id and lead.routed_to_id in (w["a1"].id, w["a2"].id)
    assert repurchase.via == "rule" and LeadRouting.get_by_id(lead.routing_id).rule == "region"
    for u in ("a1", "a2", "b1", "mgr"):  # nobody has room: the lead waits in marketing's queue, the customer in its pool
        CapacityAdjustment.create(user=w[u], delta=-10_000, reason="满", starts_at=clock.now() - dt.timedelta(days=1),
                                  actor=w["admin"], created_at=clock.now())
    other = _pooled(w, make_customer, "复购无人客户服饰有限公司")
    repurchase = sv.raise_repurchase_lead(agent, other, "客户想再订一批西装")
    assert (repurchase.routed_to_id, repurchase.via, repurchase.pool) == (None, "pool", other.pool_id)
    assert Lead.get(Lead.customer == other.id).status == "qualified"


# ---- nurture lists: due for a touch ---------------------------------------------------------------

def test_a_nurtured_prospect_is_due_on_its_touch_date_and_a_touch_moves_it(w):
    from models.errors import DomainError

    clock.freeze(local(2026, 11, 24, 23, 30))  # late evening in Shanghai: the business date is the 24th
    lead = leads.judge_lead(w["mkt"], intake(w), "prospect", nurture_list="春季展会")
    assert lead.next_touch_on == dt.date(2026, 12, 24)  # the default cadence, 30 days
    assert [x.id for x in leads.due_for_touch(dt.date(2026, 12, 23))] == []
    assert [x.id for x in leads.due_for_touch(dt.date(2026, 12, 24))] == [lead.id]
    clock.freeze(local(2026, 12, 23, 23, 59))
    assert not leads.due_for_touch().exists()
    clock.freeze(local(2026, 12, 24, 0, 0))
    assert [x.id for x in leads.due_for_touch()] == [lead.id]
    for note in ("", "x" * 501):
        with pytest.raises(ValidationError):
            leads.log_touch(w["mkt"], lead, note)
    clock.freeze(local(2026, 12, 26, 10, 0))  # touched two days late: the next one counts from the touch
    lead = leads.log_touch(w["mkt"], lead, "寄送了新品目录并电话回访")
    assert (lead.next_touch_on, lead.touched_at) == (dt.date(2027, 1, 25), clock.now())
    assert not leads.due_for_touch().exists()
    # the list's cadence moves its prospects (from their last touch); a lead's own cadence beats it
    for days in ("0", "366", "x", ""):
        with pytest.raises(ValidationError):
            leads.save_nurture_cadence(w["mkt"], "春季展会", days)
    leads.save_nurture_cadence(w["mkt"], "春季展会", "7")
    assert Lead.get_by_id(lead.id).next_touch_on == dt.date(2027, 1, 2)
    lead = leads.set_lead_cadence(w["mkt"], Lead.get_by_id(lead.id), "3")
    assert (lead.touch_days, lead.next_touch_on) == (3, dt.date(2026, 12, 29))
    leads.save_nurture_cadence(w["mkt"], "春季展会", "14")
    assert Lead.get_by_id(lead.id).next_touch_on == dt.date(2026, 12, 29)  # its own cadence stays
    lead = leads.set_lead_cadence(w["mkt"], lead, "")
    assert (lead.touch_days, lead.next_touch_on) == (None, dt.date(2027, 1, 9))
    assert leads.nurture_lists() == [("春季展会", 14, 1)]
    # qualified or back in the queue: no touch due any more, and no touch logged
    leads.restore_lead(w["mkt"], lead)
    assert Lead.get_by_id(lead.id).next_touch_on is None
    with pytest.raises(DomainError):
        leads.log_touch(w["mkt"], Lead.get_by_id(lead.id), "电话回访客户")


def test_marketing_sees_prospects_due_for_a_touch_on_its_workbench_and_in_the_queue(w, client):
    clock.freeze(local(2026, 11, 24, 10, 0))
    due = leads.judge_lead(w["mkt"], intake(w), "prospect", nurture_list="老客户回访")
    later = leads.judge_lead(w["mkt"], intake(w, name="以后再说服饰有限公司"), "prospect", nurture_list="老客户回访")
    leads.set_lead_cadence(w["mkt"], later, "60")
    clock.freeze(local(2026, 12, 25, 10, 0))
    client.login(w["mkt"])
    home = client.get("/").get_data(as_text=True)
    card = home[home.index('id="wb-nurture-due"'):]
    card = card[:card.index("</section>")]
    assert "杭州新客户服饰有限公司" in card and "以后再说服饰有限公司" not in card
    rows = client.get("/leads?tab=due").get_data(as_text=True)
    assert f'data-lead-id="{due.id}"' in rows and f'data-lead-id="{later.id}"' not in rows
    r = client.post(f"/leads/{due.id}/touch", {"note": ""})
    assert "Say how you touched the prospect" in r.get_data(as_text=True)
    r = client.post(f"/leads/{due.id}/touch", {"note": "邀请参加春季订货会"}, htmx=True)
    assert r.status_code in (200, 204) and Lead.get_by_id(due.id).next_touch_on == dt.date(2027, 1, 24)
    from models.audit import AuditEvent
    touched = AuditEvent.get((AuditEvent.customer == due.customer_id) & (AuditEvent.kind == "lead.touched"))
    assert touched.data["note"] == "邀请参加春季订货会"
    r = client.post("/leads/nurture", {"nurture_list": "老客户回访", "cadence_days": "400"})
    assert "A whole number from 1 to 365" in r.get_data(as_text=True)
    client.post("/leads/nurture", {"nurture_list": "老客户回访", "cadence_days": "10"})
    assert "老客户回访" in client.get("/leads/nurture").get_data(as_text=True)
    assert Lead.get_by_id(due.id).next_touch_on == dt.date(2027, 1, 4)


def test_the_workbenchs_kept_probe_for_routed_leads_answers_as_the_scope_does(w):
    """views/leads.py keeps the workbench's "any lead routed to me?" statement (permissions.lead_shape): for the
    rep it went to, their teammate, the team's manager, a rep acting for the rep, and another region's rep."""
    from models.delegations import create_delegation
    from views import extend
    from views.leads import _routed, _routed_probe

    lead = qualify(w, intake(w))
    leads.route_lead(w["mkt"], lead, to_user=w["a1"], reason="客户点名要他")
    create_delegation(w["admin"], {"absentee_id": w["a1"].id, "delegate_id": w["b1"].id,
                                   "starts_on": clock.today().isoformat(),
                                   "ends_on": (clock.today() + dt.timedelta(days=2)).isoformat()})
    for _ in range(2):  # built with marks, then kept
        for name, sees in (("a1", True), ("a2", False), ("mgr", True), ("b1", True), ("mkt", False)):
            user = w[name]
            if name == "mkt":
                continue  # marketing has no seller's workbench card
            assert extend.exists(_routed_probe(user)) == [_routed(user, leads.Lead.id).exists()] == [sees], name
