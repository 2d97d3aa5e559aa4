"""Fairness figures and anti-gaming detectors (issue 20 items 5 and 6): the Gini coefficient, each detector at
its boundary (frozen clock), idempotent sweeps, conversion after claim from the claims' rows, holdings kept by
the hook, the review of a flag (a note, once), the pages (a rep sees no colleague and no flag)."""
import datetime as dt

import pytest

from models import clock, ledger
from models import fairness as fm
from models import rules as rules_mod
from models.customer_tables import Customer, Pool
from models.customers import log_follow_up
from models.errors import DomainError, NotFound, ValidationError
from models.opportunities import create_opportunity
from models.pools import claim_customer, release_customer
from models.user_tables import Region, Team
from tests.conftest import FROZEN

T0 = FROZEN - dt.timedelta(days=60)
SHORT = "电话沟通客户表示下周再确认采购数量与交期安排"  # 22 characters: valid (20) and within the margin (5)
LONG = "上门拜访采购经理，确认明年春季面料采购计划约三万米，需先寄送色卡与样布，下周二前报价并安排打样。"


@pytest.fixture
def teams(make_user, make_team):
    east = Region.get(Region.code == "east")
    a, b = make_team("华东一组", region=east), make_team("华东二组", region=east)
    mgr_a, mgr_b = make_user("manager", a), make_user("manager", b)
    Team.update(manager=mgr_a).where(Team.id == a.id).execute()
    Team.update(manager=mgr_b).where(Team.id == b.id).execute()
    return {"a": a, "b": b, "mgr_a": mgr_a, "mgr_b": mgr_b, "a1": make_user("sales", a), "a2": make_user("sales", a),
            "b1": make_user("sales", b)}


def row(kind, actor, customer, at, **kw):
    return ledger.record(kind, actor, customer, at, **kw)


def flags(kind=None):
    q = fm.FairFlag.select()
    return list(q.where(fm.FairFlag.kind == kind) if kind else q)


# ---- the Gini coefficient --------------------------------------------------------------------------------

@pytest.mark.parametrize("values,expected", [
    ([], 0.0), ([0, 0, 0], 0.0), ([5, 5, 5, 5], 0.0), ([7], 0.0),
    ([0, 0, 0, 1], 0.75),        # one of four holds all: (n - 1) / n
    ([1, 2, 3, 4], 0.25),        # Σ|xi - xj| = 20, 2 n² μ = 80
    ([1, 3], 0.25), ([0, 10], 0.5),
])
def test_gini_known_values(values, expected):
    assert fm.gini(values) == pytest.approx(expected)


def test_lorenz_runs_from_nothing_to_everything():
    points = fm.lorenz([3, 1, 0, 4])
    assert points[0] == (0.0, 0.0) and points[-1] == (1.0, 1.0)
    assert [p[1] for p in points] == sorted(p[1] for p in points)
    assert fm.lorenz([0, 0]) == [(0.0, 0.0), (0.5, 0.5), (1.0, 1.0)]  # nothing to share: the line of equality


# ---- detectors at their boundaries -----------------------------------------------------------------------

@pytest.mark.parametrize("gap,flagged", [(dt.timedelta(days=14), True), (dt.timedelta(days=14, minutes=1), False)])
def test_reclaim_by_the_former_team_within_the_days(teams, make_customer, gap, flagged):
    c = make_customer()
    row("release", teams["a1"], c, T0, from_owner=teams["a1"].id)
    claim = row("claim", teams["a2"], c, T0 + gap, to_owner=teams["a2"].id)
    fm.sweep(FROZEN)
    found = flags("reclaim")
    assert len(found) == int(flagged)
    if flagged:
        f = found[0]
        assert (f.rep_id, f.other_id, f.team_id) == (teams["a2"].id, teams["a1"].id, teams["a"].id)
        assert f.evidence["customers"] == [c.id] and claim.id in f.evidence["events"]
        assert f.evidence["facts"]["same_team"] is True
    fm.sweep(FROZEN)
    fm.sweep(FROZEN + dt.timedelta(hours=1))
    assert len(flags("reclaim")) == int(flagged)  # idempotent


def test_reclaim_by_the_releaser_is_no_flag(teams, make_customer):
    c = make_customer()
    row("release", teams["a1"], c, T0, from_owner=teams["a1"].id)
    row("claim", teams["a1"], c, T0 + dt.timedelta(days=1), to_owner=teams["a1"].id)
    fm.sweep(FROZEN)
    assert flags() == []


def test_a_friend_in_another_team_is_flagged_the_second_time(teams, make_customer):
    c1, c2 = make_customer(), make_customer()
    row("release", teams["a1"], c1, T0, from_owner=teams["a1"].id)
    row("claim", teams["b1"], c1, T0 + dt.timedelta(days=2), to_owner=teams["b1"].id)
    fm.sweep(FROZEN)
    assert flags() == []  # once may be chance
    row("release", teams["a1"], c2, T0 + dt.timedelta(days=10), from_owner=teams["a1"].id)
    row("claim", teams["b1"], c2, T0 + dt.timedelta(days=11), to_owner=teams["b1"].id)
    fm.sweep(FROZEN)
    (f,) = flags("reclaim")
    assert f.team_id == teams["b"].id and f.evidence["facts"]["times"] == 2
    assert set(f.evidence["customers"]) == {c1.id, c2.id} and len(f.evidence["events"]) == 4


@pytest.mark.parametrize("k,flagged", [(4, False), (5, True)])
def test_claim_burst_at_its_count(teams, make_customer, k, flagged):
    for i in range(k):  # spread over exactly the window: 30 minutes from the first to the last
        row("claim", teams["a1"], make_customer(), T0 + dt.timedelta(minutes=30 * i / 4), to_owner=teams["a1"].id)
    fm.sweep(FROZEN)
    assert len(flags("claim_burst")) == int(flagged)
    if flagged:
        assert flags("claim_burst")[0].evidence["facts"]["claims"] == 5


def test_claims_spread_beyond_the_window_are_no_burst(teams, make_customer):
    for i in range(5):
        row("claim", teams["a1"], make_customer(), T0 + dt.timedelta(minutes=7.5 * i + (1 if i == 4 else 0)),
            to_owner=teams["a1"].id)
    fm.sweep(FROZEN)
    assert flags("claim_burst") == []


@pytest.mark.parametrize("gap,flagged", [(dt.timedelta(days=30), True), (dt.timedelta(days=30, minutes=1), False)])
def test_pingpong_transfer_within_the_days(teams, make_customer, gap, flagged):
    c = make_customer()
    away = row("transfer", teams["mgr_a"], c, T0, from_owner=teams["a1"].id, to_owner=teams["b1"].id,
               inputs={"same_team": False})
    back = row("transfer", teams["mgr_a"], c, T0 + gap, from_owner=teams["b1"].id, to_owner=teams["a1"].id,
               inputs={"same_team": False})
    fm.sweep(FROZEN)
    found = flags("pingpong")
    assert len(found) == int(flagged)
    if flagged:
        assert found[0].evidence["events"] == [away.id, back.id] and found[0].rep_id == teams["a1"].id


@pytest.mark.parametrize("before_due,flagged", [(dt.timedelta(days=5), True), (dt.timedelta(days=5, minutes=1), False)])
def test_transfer_that_restarts_a_clock_close_to_the_release_date(teams, make_customer, before_due, flagged):
    c = make_customer()  # consumer: released after 15 days without a valid follow-up
    row("claim", teams["a1"], c, T0, to_owner=teams["a1"].id)
    due = T0 + dt.timedelta(days=15)
    move = row("transfer", teams["mgr_a"], c, due - before_due, from_owner=teams["a1"].id, to_owner=teams["b1"].id,
               inputs={"same_team": False, "release_at": (due - before_due + dt.timedelta(days=15)).isoformat(sep=" ")})
    fm.sweep(FROZEN)
    found = flags("clock_restart")
    assert len(found) == int(flagged)
    if flagged:
        f = found[0]
        assert f.rep_id == teams["a1"].id and f.other_id == teams["b1"].id and f.evidence["events"] == [move.id]
        assert f.evidence["facts"]["due"] == due.isoformat(sep=" ")


def test_a_transfer_inside_the_team_keeps_the_clock_and_is_no_restart(teams, make_customer):
    c = make_customer()
    row("claim", teams["a1"], c, T0, to_owner=teams["a1"].id)
    row("transfer", teams["mgr_a"], c, T0 + dt.timedelta(days=14), from_owner=teams["a1"].id, to_owner=teams["a2"].id,
        inputs={"same_team": True})
    fm.sweep(FROZEN)
    assert flags("clock_restart") == []


def _pool_customers(make_customer, n):
    pool = Pool.get(Pool.region == Region.get(Region.code == "east").id)
    out = [make_customer(region_id=pool.region_id) for _ in range(n)]
    Customer.update(pool=pool.id).where(Customer.id.in_([c.id for c in out])).execute()
    return out


def _follow(rep, customer, content, at):
    clock.freeze(at)
    try:
        return log_follow_up(rep, Customer.get_by_id(customer.id), {"type": "call", "content": content})
    finally:
        clock.freeze(FROZEN)


@pytest.mark.parametrize("n,lead,flagged", [
    (3, dt.timedelta(days=2), True),                    # three, each exactly two days before the release date
    (2, dt.timedelta(days=2), False),                   # two are no burst
    (3, dt.timedelta(days=2, minutes=1), False),        # earlier than two days before: no
])
def test_minimum_follow_ups_just_before_release(teams, make_customer, n, lead, flagged):
    rep = teams["a1"]
    files = _pool_customers(make_customer, n)
    for c in files:
        claim_customer(rep, c.id, now=T0)
    due = T0 + dt.timedelta(days=15)
    written = [_follow(rep, c, SHORT, due - lead) for c in files]
    assert all(f.is_valid for f in written)
    fm.sweep(FROZEN)
    found = flags("followup_burst")
    assert len(found) == int(flagged)
    if flagged:
        assert sorted(found[0].evidence["followups"]) == sorted(f.id for f in written)
        fm.sweep(FROZEN)
        assert len(flags("followup_burst")) == 1


def test_long_follow_ups_before_release_are_no_burst(teams, make_customer):
    rep = teams["a1"]
    files = _pool_customers(make_customer, 3)
    for c in files:
        claim_customer(rep, c.id, now=T0)
    for c in files:
        _follow(rep, c, LONG, T0 + dt.timedelta(days=14))
    fm.sweep(FROZEN)
    assert flags("followup_burst") == []


# ---- figures -----------------------------------------------------------------------------------------------

def test_conversion_after_claim_and_holdings(teams, make_customer):
    a1, a2 = teams["a1"], teams["a2"]
    files = _pool_customers(make_customer, 3)
    for c in files:
        claim_customer(a1, c.id)
    clock.freeze(FROZEN + dt.timedelta(hours=1))
    log_follow_up(a1, Customer.get_by_id(files[0].id), {"type": "visit", "content": LONG})
    log_follow_up(a1, Customer.get_by_id(files[0].id), {"type": "call", "content": LONG})  # one claim counts once
    create_opportunity(a1, Customer.get_by_id(files[0].id), {"name": "春季面料", "amount": "30000", "expected_close": "2027-01-31"})
    release_customer(a1, Customer.get_by_id(files[2].id), "客户已转行，不再采购面料")
    clock.freeze(FROZEN)
    fm.sweep(FROZEN + dt.timedelta(hours=2))
    d = fm.figures(teams["a"].id, "month")
    by_rep = {r["rep"].id: r for r in d["rows"]}
    mine = by_rep[a1.id]
    assert (mine["claim"], mine["claim_followed"], mine["claim_opportunity"], mine["claim_signed"]) == (3, 1, 1, 0)
    assert mine["rates"]["claim_followed"] == pytest.approx(1 / 3)
    assert mine["held"] == 2 and by_rep[a2.id]["held"] == 0
    assert d["gini_held"] > 0 and d["gini_claims"] > 0
    fm.recount_holdings()  # the recount agrees with what the hook kept
    assert {r["rep"].id: r["held"] for r in fm.figures(teams["a"].id)["rows"]}[a1.id] == 2
    fm.sweep(FROZEN + dt.timedelta(hours=3))  # no double count on a re-run
    again = {r["rep"].id: r for r in fm.figures(teams["a"].id)["rows"]}[a1.id]
    assert (again["claim_followed"], again["claim_opportunity"]) == (1, 1)


def test_a_reps_own_figures_beside_the_team_average(teams, make_customer):
    files = _pool_customers(make_customer, 2)
    claim_customer(teams["a1"], files[0].id)
    claim_customer(teams["a1"], files[1].id)
    m = fm.mine(teams["a2"])
    assert m["own"]["claim"] == 0 and m["reps"] == 3  # two reps and the manager
    assert m["team"]["claim"] == pytest.approx(2 / 3)


# ---- review ------------------------------------------------------------------------------------------------

def _flag(team, rep, key="k"):
    return fm.FairFlag.create(kind="claim_burst", team_id=team.id, rep=rep.id, evidence={"customers": []},
                              first_at=T0, last_at=T0, detected_at=FROZEN, dedupe_key=key)


def test_review_needs_a_note_and_happens_once(teams):
    f = _flag(teams["a"], teams["a1"])
    with pytest.raises(ValidationError):
        fm.review_flag(teams["mgr_a"], f, "   ")
    with pytest.raises(NotFound):
        fm.review_flag(teams["mgr_b"], f, "不是我的组")
    with pytest.raises(NotFound):
        fm.review_flag(teams["a1"], f, "自己审核自己")
    done = fm.review_flag(teams["mgr_a"], f, "已与销售核实：展会后集中认领，属正常")
    assert done.status == "reviewed" and done.reviewed_by_id == teams["mgr_a"].id
    with pytest.raises(DomainError):
        fm.review_flag(teams["mgr_a"], f, "再审一次")


def test_rules_validate_the_detector_settings():
    base = {k: str(v) for k, v in rules_mod.DEFAULTS.items() if isinstance(v, int) and not isinstance(v, bool)}
    with pytest.raises(ValidationError) as exc:
        rules_mod.validate_settings({**base, "fair_reclaim_days": "-1", "fair_claim_burst_minutes": "0"})
    assert {"fair_reclaim_days", "fair_claim_burst_minutes"} <= set(exc.value.errors)
    assert rules_mod.validate_settings({**base, "fair_reclaim_days": "0"})["fair_reclaim_days"] == 0


# ---- pages -------------------------------------------------------------------------------------------------

def test_pages_for_the_manager_and_the_rep(client, teams, make_customer):
    c = make_customer()
    row("release", teams["a1"], c, T0, from_owner=teams["a1"].id)
    row("claim", teams["a2"], c, T0 + dt.timedelta(days=3), to_owner=teams["a2"].id)
    fm.sweep(FROZEN)
    (f,) = flags("reclaim")
    client.login(teams["mgr_a"])
    page = client.get("/fairness").get_data(as_text=True)
    assert 'id="gini-claims"' in page and "<polyline" in page and f'data-flag="{f.id}"' in page
    assert teams["a2"].full_name in page
    flag_page = client.get(f"/fairness/flags/{f.id}").get_data(as_text=True)
    assert c.name in flag_page and 'id="flag-ledger"' in flag_page
    bad = client.post(f"/fairness/flags/{f.id}/review", {"note": ""})
    assert bad.status_code == 422 and "Say what you found" in bad.get_data(as_text=True)
    ok = client.post(f"/fairness/flags/{f.id}/review", {"note": "组内交接，已确认"})
    assert ok.status_code in (302, 303)
    assert "组内交接，已确认" in client.get(f"/fairness/flags/{f.id}").get_data(as_text=True)
    client.login(teams["a1"])
    assert client.get("/fairness").status_code == 404
    assert client.get(f"/fairness/flags/{f.id}").status_code == 404
    mine = client.get("/fairness/mine").get_data(as_text=True)
    assert 'id="fair-mine"' in mine and teams["a2"].full_name not in mine


def test_admin_sees_every_team_and_filters_one(client, teams, make_user, make_customer):
    files = _pool_customers(make_customer, 2)
    claim_customer(teams["a1"], files[0].id)
    claim_customer(teams["b1"], files[1].id)
    client.login(make_user("admin"))
    page = client.get("/fairness").get_data(as_text=True)
    assert 'id="fair-teams"' in page and f'data-team="{teams["a"].id}"' in page and f'data-team="{teams["b"].id}"' in page
    assert teams["a1"].full_name not in page  # every team summed, no rep listed
    one = client.get(f"/fairness?team={teams['b'].id}").get_data(as_text=True)
    assert 'id="fair-reps"' in one and teams["b1"].full_name in one and teams["a1"].full_name not in one
    d = fm.figures(None)
    by_team = {t["id"]: t for t in d["teams"]}
    assert by_team[teams["a"].id]["claim"] == 1 and by_team[teams["b"].id]["claim"] == 1


def test_a_manager_without_a_team_sees_no_flags(teams, make_user):
    _flag(teams["a"], teams["a1"])
    lone = make_user("manager")
    assert list(fm.flags(lone)) == [] and list(fm.flags(teams["mgr_a"])) != []
    assert fm.figures(-1)["rows"] == []


@pytest.mark.parametrize("query", ["span=year&on=0001-01-01", "span=quarter&on=9999-12-31", "on=garbage", "span=decade"])
def test_odd_periods_answer_a_page(client, teams, query):
    client.login(teams["mgr_a"])
    assert client.get(f"/fairness?{query}").status_code == 200
    client.login(teams["a1"])
    assert client.get(f"/fairness/mine?{query}").status_code == 200


def test_every_kind_of_flag_opens_in_both_languages(client, teams, make_customer):
    a1, a2, b1, mgr = teams["a1"], teams["a2"], teams["b1"], teams["mgr_a"]
    c = make_customer()
    row("release", a1, c, T0, from_owner=a1.id)
    row("claim", a2, c, T0 + dt.timedelta(days=1), to_owner=a2.id)  # reclaim
    for i in range(5):
        row("claim", a1, make_customer(), T0 + dt.timedelta(minutes=i), to_owner=a1.id)  # claim burst
    d = make_customer()
    row("claim", a1, d, T0, to_owner=a1.id)
    row("transfer", mgr, d, T0 + dt.timedelta(days=12), from_owner=a1.id, to_owner=b1.id, inputs={"same_team": False})
    row("transfer", mgr, d, T0 + dt.timedelta(days=13), from_owner=b1.id, to_owner=a1.id, inputs={"same_team": False})
    files = _pool_customers(make_customer, 3)
    for f in files:
        claim_customer(a2, f.id, now=T0)
    for f in files:
        _follow(a2, f, SHORT, T0 + dt.timedelta(days=14))
    fm.sweep(FROZEN)
    kinds = {f.kind for f in flags()}
    assert kinds == set(fm.FLAG_KINDS)
    from models.user_tables import User

    for lang, word in (("en", "Evidence"), ("zh_CN", "证据")):
        User.update(language=lang).where(User.id == mgr.id).execute()
        client.login(mgr)
        client.http.set_cookie("lang", lang)
        assert client.get("/fairness").status_code == 200
        for f in flags():
            page = client.get(f"/fairness/flags/{f.id}")
            assert page.status_code == 200, (f.kind, lang)
            assert 'class="fair-what"' in page.get_data(as_text=True) and word in page.get_data(as_text=True)
