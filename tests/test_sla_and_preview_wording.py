"""Issue 13, findings 6 and 10: a breached ticket says which deadline it missed and when, beside a countdown
that may be green (the ticket page, queue rows and workbench cards agree), at the boundary with a frozen
clock; the rule preview shows the same figure under the rules in force, and the difference per team."""
import datetime as dt
import re

from models import clock
from models import service as sv
from models.pools import preview_rules
from models.rules import DEFAULTS
from tests.conftest import FROZEN
from tests.test_pools import DAY, new_rules, owned, w  # noqa: F401  (fixtures)
from tests.test_service import log, team  # noqa: F401  (fixture)

MINUTE = dt.timedelta(minutes=1)


def _text(html):
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_a_response_breach_names_its_deadline_beside_the_running_resolution_countdown(client, team, make_customer):
    agent = team["agents"][0]
    t = log(agent, make_customer(), priority="urgent")          # respond within 2 working hours
    assert sv.sweep(t.respond_by) == {"flagged": 0, "escalated": 0}   # at the deadline: not yet breached
    client.login(agent)
    clock.freeze(t.respond_by)
    page = _text(client.get(f"/service/tickets/{t.id}").get_data(as_text=True))
    assert "deadline missed" not in page and "SLA breached" not in page
    clock.freeze(t.respond_by + MINUTE)
    sv.sweep(clock.now())
    t = sv.move_ticket(agent, sv.Ticket.get_by_id(t.id), "in_progress")   # answered late, then being worked
    ticket = sv.Ticket.get_by_id(t.id)
    assert (ticket.breach_kind, ticket.breach_due) == ("response", ticket.respond_by)
    expected = " ".join(("Response deadline missed: " + _fmt_en(client, ticket.respond_by)).split())
    for url in (f"/service/tickets/{t.id}", "/service/?status=all", "/"):
        html = client.get(url).get_data(as_text=True)
        page = _text(html)
        assert expected in page, url
        assert "Resolution time: " in page and " left" in page, url       # the countdown still running, and green
        assert 'class="badge breached">SLA breached' not in html, url      # never a bare "breached" badge


def _fmt_en(client, value):
    with client.app.test_request_context():
        from flask_babel import force_locale

        from views.i18n import fmt_datetime

        with force_locale("en"):
            return fmt_datetime(value)


def test_a_reopen_keeps_the_missed_resolution_deadline_it_refers_to(team, make_customer, app):
    agent = team["agents"][0]
    t = sv.move_ticket(agent, log(agent, make_customer(), priority="urgent"), "in_progress")
    missed = t.resolve_by
    clock.freeze(missed + MINUTE)
    t = sv.move_ticket(agent, sv.move_ticket(agent, t, "resolved", "换件"), "closed")
    t = sv.reopen_ticket(agent, t, "客户来电：又坏了")
    assert t.resolve_by > missed and (t.breach_kind, t.breach_due) == ("resolution", missed)
    from views.service import sla_breach

    with app.test_request_context():
        from flask_babel import force_locale

        with force_locale("en"):
            assert sla_breach(t).startswith("Earlier resolution deadline missed: ")   # a new one runs now
            t.resolve_by = missed
            assert sla_breach(t).startswith("Resolution deadline missed: ")
            t.breach_due = None   # a ticket breached before the deadline was kept (migration 0024)
            assert sla_breach(t) == "An earlier resolution deadline was missed"
        with force_locale("zh_CN"):
            assert sla_breach(sv.Ticket.get_by_id(t.id)).startswith("此前的解决时限已超：")


def test_the_preview_shows_the_rules_in_force_and_the_difference_per_team(client, w, owned):
    for rep in (w.rep_a, w.rep_a, w.rep_b):
        owned(rep)                                    # each due at +15 days under the defaults (v0)
    result = preview_rules({**DEFAULTS, "release_no_followup_days": 60}, FROZEN, horizon_days=30)
    assert (result["total"], result["baseline_total"], result["difference"]) == (0, 3, -3)
    assert result["baseline_per_team"] == {w.team_a.id: 2, w.team_b.id: 1}
    assert {r["team_id"]: (r["baseline"], r["new"], r["difference"]) for r in result["teams"]} == {
        w.team_a.id: (2, 0, -2), w.team_b.id: (1, 0, -1)}
    # The baseline is the version in force at the effective time: a saved v1 of 10 days counts the same three.
    new_rules(w.admin, FROZEN, release_no_followup_days=10)
    shorter = preview_rules({**DEFAULTS, "release_no_followup_days": 20}, FROZEN, horizon_days=12)
    assert (shorter["baseline_version"], shorter["baseline_total"], shorter["total"]) == (1, 3, 0)
    client.login(w.admin)
    html = client.post("/admin/rules/preview", data={"release_no_followup_days": "60", "effective_from": ""},
                       htmx=True).get_data(as_text=True)
    page = _text(html)
    assert "Under the rules in force (v1): 3 customers in the same 30 days." in page
    assert "3 fewer with the new settings." in page
    assert re.search(r"%s 2 0 -2" % re.escape(w.team_a.name), page) and re.search(r"%s 1 0 -1" % re.escape(w.team_b.name), page)
