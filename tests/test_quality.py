"""Data quality (issue 17 items 1–3): every directed rule at its boundary (frozen clock), samples, the worked
check, complaints and their bad input, the score, the consequences (idempotent, a penalty never below zero,
the reward's routing weight) and the pages."""
import datetime as dt

import pytest

from models import clock
from models import quality as qm
from models.customer_tables import Contact, Customer, FollowUp, StageChange
from models.errors import DomainError, ValidationError
from models.notifications import Notification
from models.pools import CapacityAdjustment, PoolEvent, capacity
from models.quality_tables import QualityCheck, QualityConsequence, QualityRun, QualitySample
from models.audit import AuditEvent
from tests.conftest import FROZEN

NOW = FROZEN
S = qm.QualitySettings({})


@pytest.fixture
def world(make_team, make_user, make_customer):
    team = make_team()
    rep = make_user("sales", team=team)
    other = make_user("sales", team=make_team())
    quality = make_user("service", grants="quality")
    admin = make_user("admin")
    return {"team": team, "rep": rep, "other": other, "quality": quality, "admin": admin,
            "make": lambda **kw: make_customer(owner=kw.pop("owner", rep), **kw)}


def _checks(rule=None):
    q = QualityCheck.select()
    return list(q.where(QualityCheck.rule == rule) if rule else q)


def _follow(customer, author, text, at):
    return FollowUp.create(customer=customer.id, author=author.id, type="call", at=at, content=text, created_at=at)


def _run(s=None, **settings):
    return qm.evaluate_rules(NOW, settings=s or qm.QualitySettings({**settings}))


# ---- the directed rules at their boundaries ------------------------------------------------------------------

def test_short_followups_boundary(world):
    rep, c = world["rep"], world["make"]()
    limit = 20 + S["short_margin"]  # the pool rules' valid minimum length + the margin
    for i in range(2):
        _follow(c, rep, "x" * limit, NOW - dt.timedelta(days=i + 1))
    assert _run(rules=["short_followups"]) == 0  # two of three
    _follow(c, rep, "x" * limit, NOW - dt.timedelta(days=5))
    assert _run(rules=["short_followups"]) == 1
    (check,) = _checks("short_followups")
    assert check.customer_id == c.id and check.owner_id == rep.id and check.findings["longest"] == limit
    assert _run(rules=["short_followups"]) == 0  # idempotent: once per rule, customer and month
    d = world["make"]()
    for i in range(3):
        _follow(d, rep, "y" * (limit + (1 if i == 0 else 0)), NOW - dt.timedelta(days=i + 1))
    assert _run(rules=["short_followups"]) == 0  # one longer than the limit clears the file
    e = world["make"]()
    for i in range(3):  # outside the window
        _follow(e, rep, "z", NOW - dt.timedelta(days=S["short_days"] + 1 + i))
    assert _run(rules=["short_followups"]) == 0


def test_shared_phone_unrelated_only(world, make_customer):
    a = world["make"](phone="13800138000")
    assert _run(rules=["shared_phone"]) == 0
    b = make_customer(owner=world["other"], phone="138 0013 8000")
    assert _run(rules=["shared_phone"]) == 2  # both files, each its owner's check
    assert {c.customer_id for c in _checks("shared_phone")} == {a.id, b.id}
    assert _checks("shared_phone")[0].findings["others"] == 1


def test_shared_phone_same_group_is_related(world, make_customer):
    from models.customer_tables import CustomerGroup

    group = CustomerGroup.create(name="华东集团")
    a = world["make"](phone="13800138001")
    b = make_customer(owner=world["other"], phone="13800138001")
    Customer.update(group=group.id).where(Customer.id.in_([a.id, b.id])).execute()
    assert _run(rules=["shared_phone"]) == 0
    Contact.create(customer=a.id, name="王经理", mobile="13900139000", mobile_norm="13900139000", created_at=NOW)
    c = make_customer(owner=world["other"])
    Contact.create(customer=c.id, name="李", phone="13900139000", phone_norm="13900139000", created_at=NOW)
    assert _run(rules=["shared_phone"]) == 2  # a contact's mobile on another group's contact


def test_contact_no_phone_boundary(world):
    c = world["make"]()
    Customer.update(created_at=NOW - dt.timedelta(days=S["contact_grace_days"]) + dt.timedelta(seconds=1)).where(
        Customer.id == c.id).execute()
    Contact.create(customer=c.id, name="无电话", created_at=NOW)
    assert _run(rules=["contact_no_phone"]) == 0  # younger than the grace period
    Customer.update(created_at=NOW - dt.timedelta(days=S["contact_grace_days"])).where(Customer.id == c.id).execute()
    assert _run(rules=["contact_no_phone"]) == 1
    d = world["make"]()
    Customer.update(created_at=NOW - dt.timedelta(days=30)).where(Customer.id == d.id).execute()
    Contact.create(customer=d.id, name="无", created_at=NOW)
    Contact.create(customer=d.id, name="有", mobile="13700137000", created_at=NOW)
    assert _run(rules=["contact_no_phone"]) == 0  # one contact with a phone is enough


def test_promotion_without_followup_boundary(world):
    rep, c = world["rep"], world["make"](stage="intent")
    at = NOW - dt.timedelta(days=2)
    StageChange.create(customer=c.id, from_stage="target", to_stage="intent", at=at, actor=rep.id)
    _follow(c, rep, "拜访客户，确认了采购计划和预算范围" * 2, at - dt.timedelta(days=S["promotion_days"], seconds=1))
    assert _run(rules=["promotion_no_followup"]) == 1  # the follow-up is one second too early
    d = world["make"](stage="intent")
    StageChange.create(customer=d.id, from_stage="target", to_stage="intent", at=at, actor=rep.id)
    _follow(d, rep, "拜访客户，确认了采购计划和预算范围" * 2, at - dt.timedelta(days=S["promotion_days"]))
    e = world["make"](stage="target")
    StageChange.create(customer=e.id, from_stage="intent", to_stage="target", at=at, actor=rep.id)  # a demotion
    assert _run(rules=["promotion_no_followup"]) == 0


def test_created_before_release_boundary(world, make_customer):
    rep = world["rep"]
    ids = []
    for i in range(S["burst_min"]):
        c = make_customer(owner=rep)
        ids.append(c.id)
    hours = S["burst_hours"]
    Customer.update(created_by=rep.id, released_from=rep.id, created_at=NOW - dt.timedelta(days=2, hours=hours),
                    released_at=NOW - dt.timedelta(days=2)).where(Customer.id.in_(ids[1:])).execute()
    Customer.update(created_by=rep.id, released_from=rep.id, created_at=NOW - dt.timedelta(days=2, hours=hours, seconds=1),
                    released_at=NOW - dt.timedelta(days=2)).where(Customer.id == ids[0]).execute()
    assert _run(rules=["created_before_release"]) == 0  # four within the hours, one a second over: not many
    Customer.update(created_at=NOW - dt.timedelta(days=2, hours=hours)).where(Customer.id == ids[0]).execute()
    assert _run(rules=["created_before_release"]) == S["burst_min"]
    assert {c.owner_id for c in _checks("created_before_release")} == {rep.id}


def test_cap_per_rep_and_month(world):
    rep = world["rep"]
    for _ in range(3):
        c = world["make"]()
        Contact.create(customer=c.id, name="无", created_at=NOW)
        Customer.update(created_at=NOW - dt.timedelta(days=30)).where(Customer.id == c.id).execute()
    assert _run(rules=["contact_no_phone"], max_per_rep=2) == 2
    assert _run(rules=["contact_no_phone"], max_per_rep=2) == 0


def test_sweep_once_a_day_and_resumable(world):
    c = world["make"]()
    Contact.create(customer=c.id, name="无", created_at=NOW)
    Customer.update(created_at=NOW - dt.timedelta(days=30)).where(Customer.id == c.id).execute()
    assert qm.sweep(NOW)["checks"] == 1
    assert qm.sweep(NOW + dt.timedelta(hours=1)) == {"checks": 0, "consequences": 0}
    assert QualityRun.select().count() == 1 and QualityRun.get().done_at is not None


# ---- samples ---------------------------------------------------------------------------------------------------

def test_sample_stratified_seeded_and_recorded(world, make_customer):
    rep = world["rep"]
    for stage in ("target",) * 6 + ("intent",) * 3 + ("signed",):
        make_customer(owner=rep, stage=stage)
    s = qm.draw_sample(world["quality"], "2026-11", 5, team_id=str(world["team"].id), seed="42")
    picked = list(QualityCheck.select().where(QualityCheck.sample == s.id))
    assert s.seed == 42 and s.picked == len(picked) == 5 and s.population == 10
    stages = sorted(c.findings["stage"] for c in picked)
    assert stages == ["intent", "intent", "target", "target", "target"]  # 6:3:1 of 5 → 3, 1.5, 0.5 → 3, 2, 0
    QualityCheck.delete().execute()
    again = qm.draw_sample(world["quality"], "2026-11", 5, team_id=str(world["team"].id), seed="42")
    assert sorted(c.customer_id for c in again.checks) == sorted(c.customer_id for c in picked)  # same seed, same draw
    with pytest.raises(ValidationError) as exc:
        qm.draw_sample(world["quality"], "2026-11", 11, team_id=str(world["team"].id))
    assert "larger than the population" in exc.value.errors["per_rep"][0][0]
    with pytest.raises(ValidationError):
        qm.draw_sample(world["quality"], "2026-13", 0)
    assert QualitySample.select().count() == 2


def test_allocate_largest_remainder():
    assert qm._allocate({"a": [1] * 6, "b": [1] * 3, "c": [1]}, 5) == {"a": 3, "b": 2, "c": 0}
    assert qm._allocate({"a": [1] * 7, "b": [1] * 3}, 5) == {"a": 4, "b": 1}
    assert qm._allocate({"a": [1, 2]}, 5) == {"a": 2}


# ---- working a check, answering ---------------------------------------------------------------------------------

def _open_check(world, **kw):
    c = kw.pop("customer", None) or world["make"]()
    return QualityCheck.create(customer=c.id, owner=kw.pop("owner", world["rep"].id), source=kw.pop("source", "sample"),
                               created_at=NOW, **kw)


def test_record_outcome_validation_and_notification(world):
    check = _open_check(world)
    with pytest.raises(ValidationError) as exc:
        qm.record_outcome(world["quality"], check, "false", [], "")
    assert set(exc.value.errors) == {"fields", "evidence"}
    with pytest.raises(ValidationError):
        qm.record_outcome(world["quality"], check, "maybe", ["phone"], "called")
    qm.record_outcome(world["quality"], check, "incomplete", ["contacts", "nonsense"], "打电话确认：联系人已离职")
    check = QualityCheck.get_by_id(check.id)
    assert (check.status, check.outcome, check.outcome_fields) == ("done", "incomplete", "contacts")
    assert Notification.select().where((Notification.user == world["rep"].id) & (Notification.kind == "quality")).exists()
    with pytest.raises(DomainError):
        qm.record_outcome(world["quality"], check, "true", [], "again")
    assert AuditEvent.select().where(AuditEvent.kind == "quality.checked").count() == 1


def test_owner_answers_once(world):
    check = _open_check(world)
    with pytest.raises(DomainError):
        qm.respond_check(world["rep"], check, "not yet")
    qm.record_outcome(world["quality"], check, "false", ["phone"], "号码为空号")
    with pytest.raises(DomainError):
        qm.respond_check(world["other"], check, "not mine")
    qm.respond_check(world["rep"], check, "已更正电话")
    with pytest.raises(DomainError):
        qm.respond_check(world["rep"], check, "twice")


def test_only_granted_users_work_checks(world):
    check = _open_check(world)
    with pytest.raises(DomainError):
        qm.record_outcome(world["other"], check, "true", [], "ok")


# ---- complaints -------------------------------------------------------------------------------------------------

def test_complaint_bad_input(world, make_customer):
    reporter = world["other"]
    mine = make_customer(owner=reporter)
    with pytest.raises(ValidationError) as exc:
        qm.file_complaint(reporter, mine, "phone", "空号", "拨打两次")
    assert "your own file" in exc.value.errors["field"][0][0]
    with pytest.raises(DomainError):  # another team's file is not visible to them: 404
        qm.file_complaint(reporter, world["make"](), "phone", "空号", "拨打两次")
    with pytest.raises(DomainError):  # admins check, they do not complain
        qm.file_complaint(world["admin"], mine, "phone", "空号", "拨打两次")
    with pytest.raises(ValidationError) as exc:
        qm.file_complaint(world["rep"], make_customer(owner=world["rep"]), "nonsense", "", "")
    assert set(exc.value.errors) == {"field", "found", "evidence"}
    assert QualityCheck.select().count() == 0


def test_complaint_rules(world, make_customer, make_user):
    team = world["team"]
    rep, peer = world["rep"], make_user("manager", team=team)
    c = make_customer(owner=rep)
    with pytest.raises(ValidationError) as exc:
        qm.file_complaint(peer, c, "phone", "号码是别家公司的", "  ")
    assert "without evidence" in exc.value.errors["evidence"][0][0]
    check = qm.file_complaint(peer, c, "phone", "号码是别家公司的", "11月20日拨打，对方是另一家公司")
    assert (check.owner_id, check.reporter_id, check.source, check.status) == (rep.id, peer.id, "complaint", "open")
    with pytest.raises(ValidationError) as exc:
        qm.file_complaint(peer, c, "phone", "again", "again")
    assert "already reported" in exc.value.errors["field"][0][0]
    qm.file_complaint(peer, c, "address", "地址搬迁", "现场拜访")  # another field is fine
    assert not AuditEvent.select().where((AuditEvent.customer == c.id) & AuditEvent.kind.startswith("quality.")).exists()


def test_pool_record_complaint_accuses_the_releaser(world, make_customer):
    from models.pools import release_customer

    c = world["make"]()
    release_customer(world["rep"], Customer.get_by_id(c.id), "不再跟进")
    c = Customer.get_by_id(c.id)
    assert c.owner_id is None and qm.accused_of(c) == world["rep"].id


# ---- score and consequences ----------------------------------------------------------------------------------------

def _worked(world, outcome, n=1, owner=None):
    out = []
    for _ in range(n):
        check = _open_check(world, owner=(owner or world["rep"]).id)
        check.status, check.outcome, check.checked_at, check.checked_by = "done", outcome, NOW, world["quality"].id
        check.outcome_fields = "phone" if outcome != "true" else ""
        check.save()
        out.append(check)
    return out


def test_score_and_grade_boundaries(world):
    s = qm.QualitySettings({"completeness_weight": 0})
    rep = world["rep"]
    _worked(world, "false", 1)
    row = qm.scores([rep.id], NOW, s)[rep.id]
    assert row["score"] == 80 and qm.grade_of(row, s) is None  # 80 ≥ 75
    _worked(world, "incomplete", 1)
    row = qm.scores([rep.id], NOW, s)[rep.id]
    assert row["score"] == 75 and qm.grade_of(row, s) is None  # at the warning line: not below
    _worked(world, "incomplete", 1)
    row = qm.scores([rep.id], NOW, s)[rep.id]
    assert row["score"] == 70 and qm.grade_of(row, s) == "warning"
    _worked(world, "incomplete", 2)
    row = qm.scores([rep.id], NOW, s)[rep.id]
    assert row["score"] == 60 and qm.grade_of(row, s) == "warning"  # at the penalty line
    _worked(world, "incomplete", 1)
    assert qm.grade_of(qm.scores([rep.id], NOW, s)[rep.id], s) == "penalty"
    # outside the window nothing counts
    assert qm.scores([rep.id], NOW + dt.timedelta(days=s["window_days"], seconds=1), s)[rep.id]["score"] == 100


def test_reward_needs_enough_clean_checks(world):
    s = qm.QualitySettings({"completeness_weight": 0})
    rep = world["rep"]
    _worked(world, "true", s["reward_min_checks"] - 1)
    assert qm.grade_of(qm.scores([rep.id], NOW, s)[rep.id], s) is None
    _worked(world, "true", 1)
    assert qm.grade_of(qm.scores([rep.id], NOW, s)[rep.id], s) == "reward"


def test_penalty_writes_capacity_ledger_once(world):
    s = qm.QualitySettings({"completeness_weight": 0})
    rep = world["rep"]
    found = _worked(world, "false", 3)  # 40 < 60
    assert qm.apply_consequences([rep.id], NOW, s) == 1
    (con,) = QualityConsequence.select()
    assert con.grade == "penalty" and con.findings == [c.id for c in found] and con.capacity_delta == -10
    adj = CapacityAdjustment.get(CapacityAdjustment.user == rep.id)
    assert adj.delta == -10 and "#%d" % found[0].id in adj.reason
    assert capacity(rep, NOW)["total"] == 40
    assert PoolEvent.select().where((PoolEvent.kind == "quality") & (PoolEvent.subject == rep.id)).count() == 1
    assert PoolEvent.select().where((PoolEvent.kind == "capacity") & (PoolEvent.subject == rep.id)).count() == 1
    assert qm.apply_consequences([rep.id], NOW + dt.timedelta(days=1), s) == 0  # running: idempotent
    # once it has run its 30 days, findings still in the window bring the next one
    assert qm.apply_consequences([rep.id], NOW + dt.timedelta(days=s["penalty_days"]), s) == 1


def test_penalty_never_below_zero(world):
    assert qm.penalty_delta(50, 10) == (-10, "", {})
    assert qm.penalty_delta(10, 10)[0] == -10
    delta, note, params = qm.penalty_delta(4, 10)
    assert delta == -4 and "below zero" in note and params == {"asked": 10, "total": 4, "applied": 4}
    delta, note, _p = qm.penalty_delta(0, 10)
    assert delta == 0 and "already zero" in note
    s = qm.QualitySettings({"completeness_weight": 0, "penalty_capacity": 500})
    _worked(world, "false", 3)
    qm.apply_consequences([world["rep"].id], NOW, s)
    con = QualityConsequence.get()
    assert con.capacity_delta == -50 and "below zero" in con.note
    assert capacity(world["rep"], NOW)["total"] == 0


def test_rejected_complaint_counts_against_the_reporter(world, make_customer, make_user):
    peer = make_user("manager", team=world["team"])  # a rep sees only their own files and the pool; a manager the team's
    s = qm.in_force(NOW)
    for i, field in enumerate(("phone", "address", "website")):
        c = make_customer(owner=world["rep"])
        check = qm.file_complaint(peer, c, field, "不对", "打过电话")
        qm.record_outcome(world["quality"], check, "true", [], "核实无误")
    row = qm.scores([peer.id], NOW, s)[peer.id]
    assert row["rejected"] == 3 and len(row["findings"]) == 3
    assert qm.rep_record(peer)["complaints"]["rejected"] == 3


def test_reward_gives_routing_weight(world):
    from models.quality_tables import rewarded_ids

    s = qm.QualitySettings({"completeness_weight": 0})
    _worked(world, "true", 3)
    assert qm.apply_consequences([world["rep"].id], NOW, s) == 1
    assert rewarded_ids([world["rep"].id, world["other"].id], NOW) == {world["rep"].id}
    assert capacity(world["rep"], NOW)["total"] == 55


def test_preview_changes_nothing(world):
    _worked(world, "false", 2)
    before = (QualityConsequence.select().count(), CapacityAdjustment.select().count())
    result = qm.preview({**qm.DEFAULTS, "penalty_below": 70, "warning_below": 80, "completeness_weight": 0})
    assert result["reps"] == 1 and result["rows"][0]["grade"] == "penalty" and result["rows"][0]["score"] == 60
    assert (QualityConsequence.select().count(), CapacityAdjustment.select().count()) == before


def test_rule_versions(world):
    data = {k: str(v) for k, v in qm.DEFAULTS.items() if k != "rules"}
    with pytest.raises(ValidationError) as exc:
        qm.validate_settings({**data, "penalty_below": "80", "warning_below": "70"})
    assert "penalty_below" in exc.value.errors
    settings = qm.validate_settings({**data, "rules": ["shared_phone"], "penalty_below": "50"})
    row = qm.save_rule(world["admin"], settings, NOW)
    assert row.version == 1 and qm.in_force(NOW).version == 1 and qm.in_force(NOW)["rules"] == ["shared_phone"]
    with pytest.raises(ValidationError):
        qm.save_rule(world["admin"], settings, NOW)  # nothing changed
    with pytest.raises(DomainError):
        qm.save_rule(world["quality"], {**settings, "penalty_below": 40}, NOW)  # rules are the admins'


# ---- over HTTP ----------------------------------------------------------------------------------------------------

def test_pages(client, world):
    check = _open_check(world)
    client.login(world["quality"])
    page = client.get("/quality")
    assert page.status_code == 200 and f"#{check.id}" in page.get_data(as_text=True)
    assert client.get(f"/quality/checks/{check.id}").status_code == 200
    bad = client.post(f"/quality/checks/{check.id}/outcome", {"outcome": "false", "evidence": ""})
    assert bad.status_code == 200 and "field-error" in bad.get_data(as_text=True)
    done = client.post(f"/quality/checks/{check.id}/outcome", {"outcome": "true", "evidence": "电话核实"})
    assert done.status_code in (302, 303)
    assert client.get("/quality/samples").status_code == 200
    assert client.get(f"/quality/reps/{world['rep'].id}").status_code == 200
    assert client.post("/quality/run").status_code in (302, 303)
    client.login(world["rep"])
    assert client.get("/quality").status_code == 404
    assert client.get("/quality/me").status_code in (302, 303)
    mine = client.get(f"/quality/reps/{world['rep'].id}")
    assert mine.status_code == 200 and f"#{check.id}" in mine.get_data(as_text=True)
    assert client.get(f"/quality/reps/{world['other'].id}").status_code == 404


def test_complaint_form_hides_the_reporter(client, world, make_user):
    peer = make_user("manager", team=world["team"], full_name="举报人甲")
    c = world["make"]()
    client.login(peer)
    assert client.get(f"/customers/{c.id}/complaint").status_code == 200
    bad = client.post(f"/customers/{c.id}/complaint", {"field": "phone", "found": "空号", "evidence": ""})
    assert bad.status_code == 200 and "without evidence" in bad.get_data(as_text=True)
    ok = client.post(f"/customers/{c.id}/complaint", {"field": "phone", "found": "空号", "evidence": "两次拨打均为空号"})
    assert ok.status_code in (302, 303)
    check = QualityCheck.get(QualityCheck.source == "complaint")
    client.login(world["rep"])
    page = client.get(f"/quality/checks/{check.id}").get_data(as_text=True)
    assert "举报人甲" not in page and "confidential" in page
    client.login(world["quality"])
    assert "举报人甲" in client.get(f"/quality/checks/{check.id}").get_data(as_text=True)


def test_user_form_grants_quality(client, world):
    client.login(world["admin"])
    rep = world["rep"]
    data = {"full_name": rep.full_name, "role": "sales", "team_id": str(rep.team_id), "language": "en",
            "grants": "1", "grant_quality": "1"}
    assert client.post(f"/admin/users/{rep.id}/edit", data).status_code in (302, 303)
    from models.users import User
    assert User.get_by_id(rep.id).granted("quality")
    data.pop("grant_quality")
    client.post(f"/admin/users/{rep.id}/edit", data)
    assert not User.get_by_id(rep.id).granted("quality")
