"""Fair drops (issue 20 item 1, models/drops.py): a released customer drops at its pool's time on the next
working day; reps queue before; at the drop a seeded lottery picks the first entrant the claim rules allow,
through the normal claim verb; the ledger row re-derives the winner. Every rule at its boundary, frozen clock."""
import datetime as dt

import pytest

from models import clock, drop_settings, drops
from models.customers import Customer
from models.errors import DomainError, ValidationError
from models.notifications import Notification
from models.pools import (ClaimRefused, PoolEvent, assign_customer, claim_customer, release_customer,
                          stake_customer)
from models.rules import validate_settings
from models.service import ServiceSettings
from tests.conftest import FROZEN
from tests.test_pools import DAY, HOUR, SEC, W, at, body, new_rules, owned, pooled, refused, w  # noqa: F401

WED_10 = FROZEN + DAY  # FROZEN is Tuesday 2026-11-24 10:00 in Shanghai


@pytest.fixture
def drop_on(w):
    """The east pool drops at 10:00 on the next working day (a lottery)."""
    def turn_on(time="10:00", method="lottery", **more):
        return new_rules(w.admin, drops={str(w.pool.id): {"time": time, "method": method}}, **more)
    turn_on()
    return turn_on


def released(w, owned, rep=None, when=None):
    """A customer of `rep` released into the east pool at `when` (default now)."""
    rep = rep or w.rep_a
    c = owned(rep)
    if when:
        at(when)
    release_customer(rep, c, "客户暂无需求，释放给同事跟进")
    return Customer.get_by_id(c.id)


def reps(make_user, w, n):
    return [make_user("sales", w.team_b) for _ in range(n)]


# ---- the drop time ------------------------------------------------------------------------------

def test_off_by_default_a_release_has_no_drop_and_claims_work_as_before(w, owned):
    c = released(w, owned)
    assert c.drop_at is None
    at(FROZEN + 24 * HOUR)
    assert drops.claim(w.rep_b, c.id).owner_id == w.rep_b.id


def test_the_drop_is_the_pools_time_on_the_next_working_day_not_before_the_frozen_hours_end(w, owned, drop_on):
    # released Tuesday 10:00 exactly: frozen 24 h ends Wednesday 10:00, the drop's time: Wednesday
    assert released(w, owned).drop_at == WED_10
    # one second later the frozen hours end after Wednesday 10:00: Thursday
    assert released(w, owned, when=FROZEN + SEC).drop_at == WED_10 + DAY


def test_a_friday_release_drops_on_monday_and_a_holiday_is_skipped(w, owned, drop_on):
    friday = FROZEN + 3 * DAY  # Friday 2026-11-27 10:00
    assert released(w, owned, when=friday - HOUR).drop_at == friday + 3 * DAY  # Monday 10:00, frozen ended Sat
    ServiceSettings.create(settings={"holidays": ["2026-11-30"]}, updated_at=clock.now())  # Monday off
    assert released(w, owned, when=friday - HOUR).drop_at == friday + 4 * DAY  # Tuesday


def test_a_zero_frozen_period_drops_the_next_working_day_at_the_time(w, owned, drop_on):
    at(FROZEN - 8 * HOUR)  # Tuesday 02:00 local
    drop_on("09:30", frozen_hours=0)
    assert released(w, owned).drop_at == FROZEN + DAY - 30 * 60 * SEC  # Wednesday 09:30, not Tuesday


def test_the_rule_form_takes_a_time_per_pool_and_refuses_a_bad_one(w):
    base = {"drop_%s_time" % w.pool.id: "10:00", "drop_%s_method" % w.pool.id: "weighted"}
    assert validate_settings(base)["drops"] == {str(w.pool.id): {"time": "10:00", "method": "weighted"}}
    assert validate_settings({"drop_%s_time" % w.pool.id: "9：05"})["drops"][str(w.pool.id)]["time"] == "09:05"
    assert validate_settings({"drop_%s_time" % w.pool.id: ""})["drops"] == {}
    for bad in ("24:00", "10", "ten", "10:60"):
        with pytest.raises(ValidationError) as info:
            validate_settings({"drop_%s_time" % w.pool.id: bad})
        assert "drop_%s_time" % w.pool.id in info.value.errors
    with pytest.raises(ValidationError):
        validate_settings({**base, "drop_%s_method" % w.pool.id: "fastest"})
    assert drop_settings.form_values({"drops": {"3": {"time": "10:00", "method": "lottery"}}}) == {
        "drop_3_time": "10:00", "drop_3_method": "lottery"}


# ---- before the drop -----------------------------------------------------------------------------

def test_before_the_drop_nobody_claims_stakes_or_is_assigned_it(w, owned, drop_on):
    c = released(w, owned)
    at(WED_10 - SEC)
    exc = refused(drops.claim, w.rep_b, c.id)
    assert exc.rule == "drop" and exc.until == WED_10
    assert refused(stake_customer, w.rep_b, c).rule == "drop"
    assert refused(assign_customer, w.mgr_b, c, w.rep_b).rule == "drop"
    assert Customer.get_by_id(c.id).owner_id is None


def test_queueing_until_one_second_before_the_drop_counted_once_per_rep(w, owned, drop_on, make_user):
    c = released(w, owned)
    assert drops.queue_for(w.rep_b, c) == 1
    with pytest.raises(DomainError):
        drops.queue_for(w.rep_b, c)  # already queued
    at(WED_10 - SEC)
    second = make_user("sales", w.team_b)
    assert drops.queue_for(second, c) == 2
    row = PoolEvent.select().where(PoolEvent.kind == "drop_queued").order_by(PoolEvent.id.desc()).first()
    assert (row.actor_id, row.inputs["queued"], row.inputs["drop_at"]) == (second.id, 2, str(WED_10))
    at(WED_10)
    with pytest.raises(DomainError):
        drops.queue_for(make_user("sales", w.team_b), c)  # the drop has come: claim instead


def test_the_former_owner_cannot_queue_while_cooling_off_runs_past_the_drop(w, owned, drop_on):
    c = released(w, owned)
    assert refused(drops.queue_for, w.rep_a, c).rule == "cooling_off"
    assert refused(drops.queue_for, w.rep_a2, c).rule == "team_cooling_off"  # 7 days for the team
    assert drops.queue_for(w.rep_b, c) == 1


def test_a_rep_leaves_the_queue_before_the_drop_and_may_queue_again(w, owned, drop_on):
    c = released(w, owned)
    with pytest.raises(DomainError, match="not in the queue"):
        drops.leave_queue(w.rep_b, c)
    drops.queue_for(w.rep_b, c)
    at(WED_10 - SEC)
    assert drops.leave_queue(w.rep_b, c) == 0
    row = PoolEvent.select().where(PoolEvent.kind == "drop_left").get()
    assert (row.actor_id, row.inputs["queued"], row.inputs["drop_at"]) == (w.rep_b.id, 0, str(WED_10))
    assert drops.queue_for(w.rep_b, c) == 1  # back in
    at(WED_10)
    with pytest.raises(DomainError, match="too late"):  # at the drop the lottery has its entrants
        drops.leave_queue(w.rep_b, c)
    assert drops.DropEntry.select().where(drops.DropEntry.outcome == drops.WAITING).count() == 1


def test_a_rep_waits_in_at_most_the_rules_number_of_queues(w, owned, drop_on):
    drop_on(drop_queue_max=2)
    wanted = [released(w, owned) for _ in range(3)]
    drops.queue_for(w.rep_b, wanted[0])
    drops.queue_for(w.rep_b, wanted[1])
    with pytest.raises(DomainError, match="2 queues"):
        drops.queue_for(w.rep_b, wanted[2])
    drops.leave_queue(w.rep_b, wanted[0])
    assert drops.queue_for(w.rep_b, wanted[2]) == 1  # a place came free
    drop_on(drop_queue_max=0)  # no cap
    assert drops.queue_for(w.rep_b, wanted[0]) == 1
    with pytest.raises(ValidationError) as info:
        validate_settings({"drop_queue_max": "101"})
    assert "drop_queue_max" in info.value.errors


# ---- the draw ------------------------------------------------------------------------------------

def test_ten_reps_want_one_customer_the_lottery_picks_one_reproducibly_from_the_ledger(w, owned, drop_on, make_user):
    c = released(w, owned)
    entrants = reps(make_user, w, 10)
    for rep in entrants:
        drops.queue_for(rep, c)
    at(WED_10)
    assert drops.sweep()["won"] == 1
    row = PoolEvent.get((PoolEvent.kind == "drop") & (PoolEvent.customer == c.id))
    d = row.inputs
    assert sorted(d["entrants"]) == sorted(r.id for r in entrants) and d["method"] == "lottery"
    order = drops.draw(d["seed"], d["entrants"], d.get("weights"))  # re-derived from the row alone
    assert order == d["order"] and order[0] == d["winner"] == row.to_owner
    assert Customer.get_by_id(c.id).owner_id == order[0] and Customer.get_by_id(c.id).drop_at is None
    claim = PoolEvent.get((PoolEvent.kind == "claim") & (PoolEvent.customer == c.id))
    assert claim.actor_id == order[0]  # through the normal claim verb
    places = {n.user_id: n.params.get("place") for n in Notification.select().where(Notification.kind.startswith("drop_"))}
    assert places == {uid: i + 1 for i, uid in enumerate(order)}
    assert {e.user_id: (e.outcome, e.place) for e in drops.DropEntry.select()} == {
        uid: ("won" if i == 0 else "lost", i + 1) for i, uid in enumerate(order)}


def test_the_draw_is_a_pure_function_of_seed_entrants_and_weights():
    assert drops.draw(42, [5, 3, 9]) == drops.draw(42, [9, 5, 3])
    orders = {tuple(drops.draw(seed, [1, 2, 3])) for seed in range(60)}
    assert len(orders) == 6  # every order happens
    firsts = [drops.draw(seed, [1, 2], {1: 1.0, 2: 0.25})[0] for seed in range(2000)]
    assert 0.75 < firsts.count(1) / 2000 < 0.85  # weight 1 vs 0.25: P(first) = 1 / 1.25 = 0.8


def test_an_entrant_a_claim_rule_refuses_is_skipped_and_told_why(w, owned, drop_on, make_user, monkeypatch):
    c = released(w, owned)
    full, ok = reps(make_user, w, 2)
    new_rules(w.admin, drops={str(w.pool.id): {"time": "10:00", "method": "lottery"}}, claims_per_day=1)
    for rep in (full, ok):
        drops.queue_for(rep, c)
    at(WED_10)
    other = released(w, owned, rep=w.rep_a2)  # some claim today for `full`, at the drop time
    Customer.update(drop_at=None, released_at=FROZEN - 10 * DAY).where(Customer.id == other.id).execute()
    claim_customer(full, other.id)
    seed = next(s for s in range(100) if drops.draw(s, [full.id, ok.id])[0] == full.id)  # `full` drawn first
    monkeypatch.setattr(drops.secrets, "randbits", lambda _bits: seed)
    result = drops.run_drop(c.id)
    assert result["winner"] == ok.id and result["skipped"] == {full.id: "claims_per_day"}
    row = PoolEvent.get(PoolEvent.kind == "drop")
    assert row.inputs["skipped"] == {str(full.id): "claims_per_day"}
    told = [n.message for n in Notification.select().where((Notification.user == full.id)
                                                          & (Notification.kind == "drop_skipped"))]
    assert len(told) == 2 and any("daily limit" in m for m in told)


def test_nobody_the_rules_allow_leaves_it_in_the_pool_for_the_first_claim(w, owned, drop_on, make_user):
    c = released(w, owned)
    rep = reps(make_user, w, 1)[0]
    drops.queue_for(rep, c)
    User = type(rep)
    User.update(active=False).where(User.id == rep.id).execute()
    at(WED_10)
    assert drops.sweep() == {"dropped": 1, "drawn": 1, "won": 0}
    assert PoolEvent.get(PoolEvent.kind == "drop").inputs["skipped"] == {str(rep.id): "inactive"}
    assert drops.claim(w.rep_b, c.id).owner_id == w.rep_b.id


def test_the_sweep_is_idempotent_and_a_drop_nobody_queued_for_just_ends(w, owned, drop_on, make_user):
    quiet, wanted = released(w, owned), released(w, owned)
    drops.queue_for(reps(make_user, w, 1)[0], wanted)
    at(WED_10 - SEC)
    assert drops.sweep() == {"dropped": 0, "drawn": 0, "won": 0}
    at(WED_10)
    assert drops.sweep() == {"dropped": 2, "drawn": 1, "won": 1}
    before = (PoolEvent.select().count(), Notification.select().count())
    assert drops.sweep() == {"dropped": 0, "drawn": 0, "won": 0}
    assert (PoolEvent.select().count(), Notification.select().count()) == before
    assert Customer.get_by_id(quiet.id).drop_at is None and Customer.get_by_id(quiet.id).owner_id is None


def test_a_claim_at_the_drop_instant_draws_the_drop_with_the_claimer_in_it(w, owned, drop_on, make_user):
    c = released(w, owned)
    queued, late = w.rep_b, make_user("sales", w.team_b)
    drops.queue_for(queued, c)
    at(WED_10)
    try:
        won = drops.claim(late, c.id)
        winner, loser = late, queued
        assert won.owner_id == late.id
    except ClaimRefused as exc:
        winner, loser = queued, late
        assert exc.rule == "drop_lost" and exc.params == {"place": 2, "n": 2}
    assert sorted(PoolEvent.get(PoolEvent.kind == "drop").inputs["entrants"]) == sorted([queued.id, late.id])
    exc = refused(drops.claim, loser, c.id)  # asking again: still told the place
    assert exc.rule == "drop_lost" and exc.params["place"] == 2
    assert Customer.get_by_id(c.id).owner_id == winner.id


def test_a_skipped_entrant_claiming_after_is_told_the_rule_and_place(w, owned, drop_on, make_user, monkeypatch):
    c = released(w, owned)
    drops.queue_for(w.rep_b, c)
    at(WED_10)
    seed = next(s for s in range(100) if drops.draw(s, [w.rep_a2.id, w.rep_b.id])[0] == w.rep_a2.id)
    monkeypatch.setattr(drops.secrets, "randbits", lambda _bits: seed)
    exc = refused(drops.claim, w.rep_a2, c.id)  # drawn first, but their team released it a day ago
    assert exc.rule == "team_cooling_off" and exc.params == {"place": 1, "n": 2}
    assert Customer.get_by_id(c.id).owner_id == w.rep_b.id


def test_weighted_draw_records_fewer_claims_this_week_as_better_odds(w, owned, drop_on, make_user):
    drop_on(method="weighted")
    c = released(w, owned)
    busy, idle = reps(make_user, w, 2)
    for _ in range(3):
        spare = released(w, owned, rep=w.rep_a2)
        Customer.update(drop_at=None, released_at=FROZEN - 10 * DAY).where(Customer.id == spare.id).execute()
        claim_customer(busy, spare.id)
    for rep in (busy, idle):
        drops.queue_for(rep, c)
    at(WED_10)
    drops.sweep()
    d = PoolEvent.get(PoolEvent.kind == "drop").inputs
    assert d["method"] == "weighted" and d["claims_this_week"] == {str(busy.id): 3, str(idle.id): 0}
    assert d["weights"] == {str(busy.id): 0.25, str(idle.id): 1.0}
    assert drops.draw(d["seed"], d["entrants"], d["weights"]) == d["order"]


def test_an_owner_given_another_way_voids_the_waiting_queue(w, owned, drop_on, make_user):
    c = released(w, owned)
    drops.queue_for(w.rep_b, c)
    from models.customers import set_owner
    set_owner(w.admin, Customer.get_by_id(c.id), w.rep_a2)
    assert Customer.get_by_id(c.id).drop_at is None
    assert drops.DropEntry.get().outcome == "void"


# ---- over HTTP -----------------------------------------------------------------------------------

def test_the_pool_list_shows_the_drop_and_queues_with_the_count(client, w, owned, drop_on):
    c = released(w, owned)
    client.login(w.rep_b)
    page = body(client.get(f"/pools?pool={w.pool.id}"))
    assert "Drops at" in page or "掉落" in page
    assert f"/pools/{c.id}/queue" in page and f"/pools/{c.id}/claim" not in page
    r = client.post(f"/pools/{c.id}/queue", htmx=True)
    assert r.status_code == 200 and f'id="queued-{c.id}"' in body(r)
    assert drops.DropEntry.select().count() == 1
    r = client.post(f"/pools/{c.id}/queue", htmx=True)  # twice: told, nothing more
    assert r.status_code == 200 and drops.DropEntry.select().count() == 1
    client.login(w.rep_a2)
    assert "1" in body(client.get(f"/pools?pool={w.pool.id}")).split(f'id="drop-info-{c.id}"')[1][:300]


def test_the_customer_page_queues_and_leaves_the_queue(client, w, owned, drop_on):
    c = released(w, owned)
    client.login(w.rep_b)
    page = body(client.get(f"/customers/{c.id}"))
    assert 'id="queue-button"' in page and 'id="claim-button"' not in page
    r = client.post(f"/pools/{c.id}/queue", htmx=True)
    assert r.status_code == 200 and r.headers["HX-Trigger"].count("dropQueueChanged") == 1
    page = body(client.get(f"/customers/{c.id}"))
    assert 'id="leave-queue-button"' in page and 'id="queue-button"' not in page
    r = client.post(f"/pools/{c.id}/queue/leave", htmx=True)
    assert r.status_code == 200 and "dropQueueChanged" in r.headers["HX-Trigger"]
    assert drops.DropEntry.select().count() == 0
    r = client.post(f"/pools/{c.id}/queue/leave", htmx=True)  # again: told, nothing more
    assert r.status_code == 200 and "HX-Trigger" not in r.headers and 'role="status"' in body(r)
    r = client.post(f"/pools/{c.id}/queue/leave")  # without htmx: back to the customer's page
    assert r.status_code in (200, 302, 303)
    client.login(w.rep_a)  # the former owner, cooling off past the drop: no queue button, told why
    page = body(client.get(f"/customers/{c.id}"))
    assert 'id="queue-button"' not in page and 'id="claim-refusal"' in page


def test_the_rules_page_saves_a_drop_time_and_the_ledger_reads_the_drop(client, w, owned, make_user):
    client.login(w.admin)
    page = body(client.get("/admin/rules"))
    assert f'name="drop_{w.pool.id}_time"' in page
    r = client.post("/admin/rules", {**_rule_form(), f"drop_{w.pool.id}_time": "25:00"})
    assert f"drop_{w.pool.id}_time" in body(r) and "has-error" in body(r)
    client.post("/admin/rules", {**_rule_form(), f"drop_{w.pool.id}_time": "10:00", f"drop_{w.pool.id}_method": "weighted"})
    from models.rules import in_force
    assert in_force()["drops"] == {str(w.pool.id): {"time": "10:00", "method": "weighted"}}
    c = released(w, owned)
    drops.queue_for(w.rep_b, c)
    at(WED_10)
    drops.sweep()
    client.login(w.admin)
    ledger = body(client.get(f"/admin/ledger?q={c.id}&kind=drop"))
    assert "seed" in ledger and w.rep_b.full_name in ledger


def _rule_form():
    from models.rules import DEFAULTS, NUMBERS
    form = {k: str(DEFAULTS[k]) for k in NUMBERS}
    form.update(capacity_sales="50", capacity_manager="50", warning_days="3, 1", dealt_count="1",
                stock_phrases="\n".join(DEFAULTS["stock_phrases"]))
    return form


def test_once_the_drop_time_has_come_the_row_offers_the_claim_that_draws_it(client, w, owned, drop_on):
    c = released(w, owned)
    drops.queue_for(w.rep_b, c)
    at(WED_10)
    client.login(w.rep_a2)  # not queued, in the releasing team: cooling-off refuses them at the draw
    page = body(client.get(f"/pools?pool={w.pool.id}"))
    assert f"/pools/{c.id}/claim" in page and f"/pools/{c.id}/queue" not in page
    client.login(w.rep_b)
    r = client.post(f"/pools/{c.id}/claim", htmx=True)
    assert r.status_code == 200 and Customer.get_by_id(c.id).owner_id == w.rep_b.id
    assert PoolEvent.get(PoolEvent.kind == "drop").inputs["entrants"] == [w.rep_b.id]
