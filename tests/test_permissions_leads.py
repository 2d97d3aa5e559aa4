"""Permission matrix of leads and campaigns (issue 14), role × action over HTTP: marketing and admins
judge, route and keep web forms and campaigns; the rep a lead is routed to accepts or sends it back; the
rep's team manager re-routes; admins alone save the routing rule. Allowed: 2xx/3xx and the row written;
denied: 404 for a plain and an htmx request, nothing written."""
import datetime as dt

import pytest

from models import clock, leads
from models.customers import Customer
from models.lead_tables import Campaign, Lead
from tests.test_permissions import ACTOR, ROLES, Action, check_action, world  # noqa: F401

Y = {"marketing", "admin"}
SELLERS = {"sales", "manager"}

ACTIONS = {
    "view_queued": (Action("GET", "/leads/{q}"), Y),
    "view_routed": (Action("GET", "/leads/{ra}"), Y | SELLERS),
    "judge": (Action("POST", "/leads/{q}/judge", {"verdict": "junk", "reason": "空号"}, "lead.junked",
                     lambda i: Lead.select().where((Lead.id == i["q"]) & (Lead.status == "junk"))), Y),
    "restore": (Action("POST", "/leads/{junk}/restore", {}, "lead.restored",
                       lambda i: Lead.select().where((Lead.id == i["junk"]) & (Lead.status == "new"))), Y),
    "route": (Action("POST", "/leads/{q}/route", {"to_user_id": "{rep_a}", "reason": "客户点名"}, "lead.routed",
                     lambda i: Lead.select().where((Lead.id == i["q"]) & (Lead.routed_to == i["rep_a"]))), Y),
    "reroute": (Action("POST", "/leads/{ra}/route", {"to_user_id": "{mgr_a}", "reason": "没回应"}, "lead.routed",
                       lambda i: Lead.select().where((Lead.id == i["ra"]) & (Lead.routed_to == i["mgr_a"]))),
                Y | {"manager"}),
    "accept": (Action("POST", "/leads/{ra}/accept", {}, "lead.accepted",
                      lambda i: Lead.select().where((Lead.id == i["ra"]) & (Lead.status == "accepted"))), {"sales"}),
    "send_back": (Action("POST", "/leads/{ra}/send-back", {"reason": "明年才有预算"}, "lead.sent_back",
                         lambda i: Lead.select().where((Lead.id == i["ra"]) & (Lead.status == "sent_back"))), {"sales"}),
    "queue": (Action("GET", "/leads?tab=all&q=锦绣"), Y),
    "due": (Action("GET", "/leads?tab=due"), Y),
    "touch": (Action("POST", "/leads/{nurt}/touch", {"note": "寄送了新品目录"}, "lead.touched",
                     lambda i: Lead.select().where((Lead.id == i["nurt"]) & Lead.touched_at.is_null(False))), Y),
    "cadence": (Action("POST", "/leads/{nurt}/cadence", {"touch_days": "7"}, "lead.cadence_set",
                       lambda i: Lead.select().where((Lead.id == i["nurt"]) & (Lead.touch_days == 7))), Y),
    "nurture": (Action("GET", "/leads/nurture"), Y),
    "nurture_save": (Action("POST", "/leads/nurture", {"nurture_list": "春季回访", "cadence_days": "14"},
                            "lead.nurture_cadence",
                            lambda i: leads.NurtureList.select().where(leads.NurtureList.name == "春季回访")), Y),
    "new_form": (Action("GET", "/leads/new"), Y | SELLERS),
    "new": (Action("POST", "/leads/new", {"name": "全新的线索服饰有限公司", "source": "referral"}, "lead.created",
                   lambda i: Lead.select().join(Customer, on=(Lead.customer == Customer.id)).where(
                       Customer.name == "全新的线索服饰有限公司")), Y | SELLERS),
    "bulk": (Action("POST", "/leads/bulk", {"lead_id": "{q}", "verdict": "junk", "reason": "空号"}, "lead.junked",
                    lambda i: Lead.select().where((Lead.id == i["q"]) & (Lead.status == "junk"))), Y),
    "mine": (Action("GET", "/leads/mine"), SELLERS),
    "routing": (Action("GET", "/leads/routing"), Y),
    "routing_preview": (Action("POST", "/leads/routing/preview", {"use_owner": "1", "use_region": "1", "roles": "sales",
                                                                  "response_hours": "16", "warning_hours": "2"}), Y),
    "routing_save": (Action("POST", "/leads/routing", {"use_owner": "1", "roles": "sales", "response_hours": "16",
                                                       "warning_hours": "2", "effective_from": "2026-11-25T09:00"},
                            "lead.routing_saved", lambda i: leads.RoutingVersion.select()), {"admin"}),
    "sources": (Action("GET", "/leads/sources"), Y),
    "source_new": (Action("POST", "/leads/sources", {"name": "展会小程序", "source": "event", "per_hour": "30"},
                          "lead.source_created", lambda i: leads.LeadSource.select().where(leads.LeadSource.name == "展会小程序")), Y),
    "source_toggle": (Action("POST", "/leads/sources/{src}/toggle", {}, "lead.source_saved",
                             lambda i: leads.LeadSource.select().where(leads.LeadSource.active == False)), Y),  # noqa: E712
    "response_times": (Action("GET", "/leads/response-times?since=2026-11-01&until=2026-11-30"), Y | {"manager"}),
    "campaigns": (Action("GET", "/campaigns/?by=source"), Y | {"manager"}),
    "campaign_new_form": (Action("GET", "/campaigns/new"), Y),
    "campaign_new": (Action("POST", "/campaigns/new", {"name": "冬季展会", "channel": "exhibition", "source": "event",
                                                       "starts_on": "2026-12-01", "ends_on": "2026-12-03", "budget": "5000",
                                                       "cost": "4200"}, "campaign.created",
                            lambda i: Campaign.select().where(Campaign.name == "冬季展会")), Y),
    "campaign_edit_form": (Action("GET", "/campaigns/{camp}/edit"), Y),
    "campaign_edit": (Action("POST", "/campaigns/{camp}/edit", {"name": "秋季展会", "channel": "event", "source": "event",
                                                                 "starts_on": "2026-11-01", "ends_on": "2026-11-30",
                                                                 "budget": "1000", "cost": "950"}, "campaign.updated",
                             lambda i: Campaign.select().where(Campaign.cost == 950)), Y),
}
MATRIX_ACTIONS = [action for action, _ in ACTIONS.values()]
NOT_IN_MATRIX = {"leads.web_form": "public (a website's token, no login, no CSRF): tests/test_leads_web.py"}


@pytest.fixture
def lead_ids(world):
    """A lead in the queue (on the unowned prospect), a junked one, one routed to rep_a (team A) whose
    routing made rep_a the owner of a_rep, a web form and a campaign."""
    u, c, now = world.users, world.customers, clock.now()
    mkt = u["marketing"]
    queued = Lead.create(customer=c["lead"], source="event", created_at=now, created_by=mkt)
    junk = Lead.create(customer=c["lead"], source="event", created_at=now, created_by=mkt, status="junk",
                       junk_reason="空号")
    routed = Lead.create(customer=c["a_rep"], source="website", created_at=now, created_by=mkt, status="routed",
                         routed_to=u["rep_a"], team=u["rep_a"].team_id, routed_at=now, made_owner=True,
                         due_at=now + dt.timedelta(days=2))
    nurtured = Lead.create(customer=c["lead"], source="event", created_at=now, created_by=mkt, status="prospect",
                           nurture_list="春季回访", judged_at=now, next_touch_on=clock.today())
    src, _ = leads.save_source(mkt, {"name": "官网", "source": "website", "per_hour": "60"})
    camp = Campaign.create(name="秋季展会", channel="event", source="event", starts_on=dt.date(2026, 11, 1),
                           ends_on=dt.date(2026, 11, 30), budget=1000, cost=800, created_at=now)
    return {"q": queued.id, "junk": junk.id, "ra": routed.id, "nurt": nurtured.id, "src": src.id, "camp": camp.id,
            "rep_a": u["rep_a"].id, "mgr_a": u["mgr_a"].id}


@pytest.mark.parametrize("role,action", [(role, action) for action in ACTIONS for role in ROLES])
def test_lead_routes(client, world, lead_ids, role, action):
    client.login(world.users[ACTOR[role]])
    route, allowed = ACTIONS[action]
    check_action(client, route, lead_ids, allowed=role in allowed)


def test_another_teams_rep_and_manager_see_none_of_team_as_leads(client, world, lead_ids):
    for who in ("rep_b", "mgr_b"):
        client.login(world.users[who])
        assert client.get(f"/leads/{lead_ids['ra']}").status_code == 404
        assert client.post(f"/leads/{lead_ids['ra']}/accept").status_code == 404
        assert f'data-lead-id="{lead_ids["ra"]}"' not in client.get("/leads/mine").get_data(as_text=True)
