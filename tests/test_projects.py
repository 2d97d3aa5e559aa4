"""Project sales (domain §8): approval (立项) against the admin's criteria, the project team and who
sees what, milestones with dependencies and the reminder / overdue sweep at its boundaries, costs,
margin and the signed contract (which exempts the customer from forced release)."""
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import pytest
from playhouse.test_utils import count_queries

from models import clock, hooks
from models import projects as pj
from models.audit import AuditEvent
from models.customers import Customer
from models.errors import DomainError, NotFound, ValidationError
from models.notifications import Notification
from models.permissions import can, scope
from models.users import Team
from tests.conftest import FROZEN

DAY = dt.timedelta(days=1)
TODAY = dt.date(2026, 11, 24)  # FROZEN in Shanghai


def body(response):
    return response.get_data(as_text=True)


@dataclass
class ProjectWorld:
    users: dict
    customers: dict
    criteria: list


@pytest.fixture
def project_world(make_user, make_team, make_customer):
    """Team A (manager, two reps), team B (manager, rep), an engineer in service, admin; project-type
    customers of rep_a and rep_b, and a consumer-goods customer of rep_a."""
    team_a, team_b = make_team("项目一组"), make_team("项目二组")
    users = {
        "rep_a": make_user("sales", team_a), "rep_a2": make_user("sales", team_a), "mgr_a": make_user("manager", team_a),
        "rep_b": make_user("sales", team_b), "mgr_b": make_user("manager", team_b),
        "engineer": make_user("service"), "marketing": make_user("marketing"), "admin": make_user("admin"),
    }
    Team.update(manager=users["mgr_a"]).where(Team.id == team_a.id).execute()
    Team.update(manager=users["mgr_b"]).where(Team.id == team_b.id).execute()
    customers = {
        "a": make_customer(owner=users["rep_a"], name="上海云杉信息系统工程有限公司", business_model="project"),
        "b": make_customer(owner=users["rep_b"], name="广州海棠智能装备有限公司", business_model="project"),
        "consumer": make_customer(owner=users["rep_a"], name="杭州百合服饰有限公司"),
    }
    return ProjectWorld(users, customers, pj.active_criteria())


def answers(criteria, yes=True, note="已确认"):
    out = {}
    for c in criteria:
        out[f"answer_{c.id}"] = "yes" if yes else "no"
        out[f"note_{c.id}"] = note
    return out


def propose(w, rep="rep_a", customer="a", **extra):
    data = {"name": "ERP 实施项目", "budget": "1,200,000", "expected_start": "2026-12-01",
            "expected_end": "2027-06-30", "description": "一期：财务与供应链", **answers(w.criteria), **extra}
    return pj.propose_project(w.users[rep], Customer.get_by_id(w.customers[customer].id), data)


def approved(w, **extra):
    project = propose(w, **extra)
    return pj.decide_project(w.users["mgr_a"], project, True, "预算与决策人已确认")


# ---- criteria ---------------------------------------------------------------------------------

def test_the_migration_seeds_the_four_criteria_of_the_article(project_world):
    texts = [c.text_en for c in project_world.criteria]
    assert texts == ["The customer's budget is known", "The decision maker is identified",
                     "The customer has a timeline", "The need fits our offering"]


def test_admin_edits_criteria_with_audit_and_proposals_keep_their_wording(project_world):
    w = project_world
    project = propose(w)
    c = w.criteria[0]
    pj.save_criterion(w.users["admin"], {"text_zh": "预算已批", "text_en": "Budget approved", "position": "5",
                                         "active": "1"}, c)
    assert AuditEvent.select().where(AuditEvent.kind == "project.criterion_updated").count() == 1
    answer = project.answers.order_by(pj.ProjectAnswer.id).first()
    assert answer.text_en == "The customer's budget is known"  # as answered
    pj.save_criterion(w.users["admin"], {"text_zh": "有竞争对手分析", "text_en": "Competitors known", "active": "1"})
    pj.save_criterion(w.users["admin"], {"text_zh": "预算已批", "text_en": "Budget approved", "active": ""}, c)
    assert [x.text_en for x in pj.active_criteria()][-1] == "Competitors known"
    assert c.id not in [x.id for x in pj.active_criteria()]
    with pytest.raises(NotFound):
        pj.save_criterion(w.users["mgr_a"], {"text_zh": "x", "text_en": "x"})
    with pytest.raises(ValidationError) as exc:
        pj.save_criterion(w.users["admin"], {"text_zh": "", "text_en": "x" * 201, "position": "abc"})
    assert set(exc.value.errors) == {"text_zh", "text_en", "position"}


# ---- proposal and approval ----------------------------------------------------------------------

def test_a_rep_proposes_and_the_team_manager_is_asked(project_world):
    w = project_world
    project = propose(w)
    assert project.status == "pending" and project.budget == Decimal("1200000")
    assert [(a.answer, a.note) for a in project.answers] == [(True, "已确认")] * 4
    assert pj.member_role(project, w.users["rep_a"]) == "sales_rep"
    assert AuditEvent.get(AuditEvent.kind == "project.proposed").customer_id == w.customers["a"].id
    note = Notification.get(Notification.kind == "project_proposed")
    assert note.user_id == w.users["mgr_a"].id and note.params["name"] == "ERP 实施项目"


def test_proposals_are_for_project_customers_the_owner_or_team_only(project_world):
    w = project_world
    with pytest.raises(DomainError, match="project-sales"):
        propose(w, customer="consumer")
    for who in ("rep_b", "rep_a2", "marketing", "engineer"):
        with pytest.raises(NotFound):
            propose(w, rep=who)
    assert pj.Project.select().count() == 0


@pytest.mark.parametrize("field,value,message", [
    ("name", "", "Required."),
    ("name", "项" * 101, "At most"),
    ("budget", "12万", "Enter an amount"),
    ("budget", "1.000.000", "Enter an amount"),
    ("budget", "1,000.5.0", "Enter an amount"),
    ("budget", "-5", "Enter an amount"),
    ("budget", "9" * 30, "too large"),
    ("expected_start", "1900-01-01", "between"),
    ("expected_end", "9999-12-31", "between"),
    ("expected_end", "2026-11-01", "before the start"),
    ("expected_start", "2026-13-45", "YYYY-MM-DD"),
    ("description", "x" * 4001, "At most"),
    ("opportunity_id", "99999999999999999999999", "Choose an opportunity"),
])
def test_bad_proposals_write_nothing(project_world, field, value, message):
    w = project_world
    with pytest.raises(ValidationError) as exc:
        propose(w, **{field: value})
    assert message in str(exc.value.errors[field][0][0])
    assert pj.Project.select().count() == 0 and pj.ProjectAnswer.select().count() == 0


def test_every_criterion_needs_an_answer(project_world):
    w = project_world
    data = answers(w.criteria)
    del data[f"answer_{w.criteria[1].id}"]
    with pytest.raises(ValidationError) as exc:
        pj.propose_project(w.users["rep_a"], w.customers["a"], {"name": "OA", **data})
    assert list(exc.value.errors) == [f"answer_{w.criteria[1].id}"]


def test_manager_approves_requester_is_told_and_nobody_decides_twice(project_world):
    w = project_world
    project = propose(w)
    with pytest.raises(ValidationError):
        pj.decide_project(w.users["mgr_a"], project, True, " ")
    pj.decide_project(w.users["mgr_a"], project, True, "预算明确，可以立项")
    project = pj.Project.get_by_id(project.id)
    assert (project.status, project.decided_by_id, project.decision_reason) == ("approved", w.users["mgr_a"].id,
                                                                                "预算明确，可以立项")
    note = Notification.get(Notification.kind == "project_approved")
    assert note.user_id == w.users["rep_a"].id
    assert AuditEvent.select().where(AuditEvent.kind == "project.approved").count() == 1
    with pytest.raises(DomainError, match="already been decided"):
        pj.decide_project(w.users["admin"], project, False, "改主意了")


def test_two_deciders_at_once_make_one_decision(project_world):
    """The manager approves while the admin rejects, at the same instant: one decision, one audit row, the
    other told it was decided (the conditional update's row count decides, on both engines)."""
    from tests.test_pool_concurrency import fire
    w = project_world
    project = propose(w)
    results = fire([lambda: pj.decide_project(w.users["mgr_a"], project, True, "预算明确，可以立项").status,
                    lambda: pj.decide_project(w.users["admin"], project, False, "客户预算未落实").status])
    assert sorted(r[0] for r in results) == ["domain", "ok"], results
    status = pj.Project.get_by_id(project.id).status
    assert [r[1] for r in results if r[0] == "ok"] == [status]
    assert AuditEvent.select().where(AuditEvent.kind.in_(("project.approved", "project.rejected"))).count() == 1


def test_rejection_and_who_may_decide(project_world):
    w = project_world
    project = propose(w)
    for who in ("rep_a", "rep_a2", "mgr_b", "engineer", "marketing"):
        with pytest.raises(NotFound):
            pj.decide_project(w.users[who], project, True, "可以")
    pj.decide_project(w.users["admin"], project, False, "客户预算未落实")
    assert pj.Project.get_by_id(project.id).status == "rejected"
    assert Notification.get(Notification.kind == "project_rejected").params["reason"] == "客户预算未落实"


def test_a_manager_never_approves_their_own_proposal(project_world, make_customer):
    w = project_world
    own = make_customer(owner=w.users["mgr_a"], business_model="project")
    project = pj.propose_project(w.users["mgr_a"], own, {"name": "自己的项目", **answers(w.criteria)})
    assert not can(w.users["mgr_a"], "project.decide", project)
    assert can(w.users["admin"], "project.decide", project)
    assert pj.pending_count(w.users["mgr_a"]) == 0 and pj.pending_count(w.users["admin"]) == 1


# ---- team and visibility -----------------------------------------------------------------------

def test_the_team_sees_the_project_and_others_do_not(project_world):
    w = project_world
    project = approved(w)
    engineer = w.users["engineer"]
    assert not can(engineer, "project.view", project)
    pj.add_member(w.users["mgr_a"], project, {"user_id": str(engineer.id), "role": "engineer"})
    project = pj.Project.get_by_id(project.id)
    assert can(engineer, "project.view", project) and can(engineer, "project.work", project)
    assert not can(engineer, "project.manage_team", project)
    assert project.id in [p.id for p in scope("project", engineer)]
    assert project.id in [p.id for p in pj.scoped(engineer, "mine")]
    assert Notification.get(Notification.kind == "project_member").user_id == engineer.id
    for who in ("rep_b", "mgr_b", "marketing", "rep_a2"):
        assert not can(w.users[who], "project.view", project), who
        assert project.id not in [p.id for p in scope("project", w.users[who])], who
    assert can(w.users["mgr_a"], "project.view", project) and can(w.users["admin"], "project.view", project)
    # the role changes in place; an open milestone keeps its owner on the team
    pj.add_member(w.users["mgr_a"], project, {"user_id": str(engineer.id), "role": "consultant"})
    assert pj.member_role(pj.Project.get_by_id(project.id), engineer) == "consultant"
    pj.save_milestone(w.users["rep_a"], project, {"name": "需求调研", "owner_id": str(engineer.id),
                                                   "due_on": "2026-12-10"})
    member = pj.ProjectMember.get(pj.ProjectMember.user == engineer.id)
    with pytest.raises(DomainError, match="open milestones"):
        pj.remove_member(w.users["mgr_a"], project, member.id)


def test_a_project_manager_manages_the_team(project_world):
    w = project_world
    project = approved(w)
    pj.add_member(w.users["admin"], project, {"user_id": str(w.users["rep_a2"].id), "role": "project_manager"})
    project = pj.Project.get_by_id(project.id)
    assert can(w.users["rep_a2"], "project.manage_team", project)
    pj.add_member(w.users["rep_a2"], project, {"user_id": str(w.users["engineer"].id), "role": "engineer"})
    assert not can(w.users["rep_a"], "project.manage_team", project)  # the proposing rep works, not staffs
    with pytest.raises(ValidationError) as exc:
        pj.add_member(w.users["rep_a2"], project, {"user_id": "abc", "role": "boss"})
    assert set(exc.value.errors) == {"user_id", "role"}


def test_a_pending_project_has_no_team_work_yet(project_world):
    w = project_world
    project = propose(w)
    with pytest.raises(DomainError, match="approved project"):
        pj.add_member(w.users["mgr_a"], project, {"user_id": str(w.users["engineer"].id), "role": "engineer"})
    with pytest.raises(DomainError, match="approved project"):
        pj.save_milestone(w.users["rep_a"], project, {"name": "x", "owner_id": str(w.users["rep_a"].id),
                                                       "due_on": "2026-12-01"})


# ---- milestones ------------------------------------------------------------------------------------

def milestone(w, project, title, due, deps=(), owner="rep_a", **extra):
    data = {"name": title, "owner_id": str(w.users[owner].id), "due_on": due, **extra}
    from werkzeug.datastructures import MultiDict
    form = MultiDict(data)
    for d in deps:
        form.add("depends_on", str(d))
    return pj.save_milestone(w.users["rep_a"], project, form)


def test_milestone_dependencies_refuse_self_other_projects_and_cycles(project_world):
    w = project_world
    project = approved(w)
    a = milestone(w, project, "需求确认", "2026-12-05")
    b = milestone(w, project, "方案设计", "2026-12-20", deps=[a.id])
    c = milestone(w, project, "上线", "2027-01-20", deps=[b.id])
    with pytest.raises(ValidationError) as exc:
        milestone_edit(w, project, a, deps=[a.id])
    assert "itself" in exc.value.errors["depends_on"][0][0]
    with pytest.raises(ValidationError) as exc:
        milestone_edit(w, project, a, deps=[c.id])  # a -> c -> b -> a
    assert "cycle" in exc.value.errors["depends_on"][0][0]
    other = approved(w, name="二期")
    foreign = milestone(w, other, "别的项目", "2026-12-30")
    with pytest.raises(ValidationError) as exc:
        milestone_edit(w, project, a, deps=[foreign.id])
    assert "this project" in exc.value.errors["depends_on"][0][0]
    assert [d.depends_on_id for d in pj.Milestone.get_by_id(a.id).dependencies] == []
    assert [m.deps for m in pj.milestones_of(project)] == [[], [a.id], [b.id]]


def milestone_edit(w, project, m, deps=(), **changes):
    from werkzeug.datastructures import MultiDict
    form = MultiDict({"name": m.name, "owner_id": str(m.owner_id), "due_on": m.due_on.isoformat(),
                      "status": m.status, "remind_days": str(m.remind_days), **changes})
    for d in deps:
        form.add("depends_on", str(d))
    return pj.save_milestone(w.users["rep_a"], project, form, m)


def test_a_milestone_is_done_only_after_what_it_depends_on(project_world):
    w = project_world
    project = approved(w)
    a = milestone(w, project, "需求确认", "2026-12-05")
    b = milestone(w, project, "方案设计", "2026-12-20", deps=[a.id])
    with pytest.raises(DomainError, match="需求确认"):
        pj.set_milestone_status(w.users["rep_a"], b, "done")
    pj.set_milestone_status(w.users["rep_a"], a, "done")
    pj.set_milestone_status(w.users["rep_a"], pj.Milestone.get_by_id(b.id), "done")
    assert pj.Milestone.get_by_id(b.id).done_at == FROZEN
    assert AuditEvent.select().where(AuditEvent.kind == "milestone.status_changed").count() == 2


@pytest.mark.parametrize("field,value", [("due_on", "1900-01-01"), ("due_on", ""), ("remind_days", "61"),
                                         ("remind_days", "x"), ("status", "late"), ("name", "\x00" * 3),
                                         ("owner_id", "9223372036854775808")])
def test_bad_milestones_write_nothing(project_world, field, value):
    w = project_world
    project = approved(w)
    with pytest.raises(ValidationError):
        milestone(w, project, "验收", "2026-12-05", **{field: value})
    assert pj.Milestone.select().count() == 0


def test_a_milestone_owner_must_be_on_the_team(project_world):
    w = project_world
    project = approved(w)
    with pytest.raises(ValidationError) as exc:
        milestone(w, project, "验收", "2026-12-05", owner="engineer")
    assert "team" in exc.value.errors["owner_id"][0][0]


# ---- the sweep ------------------------------------------------------------------------------------

def notes(kind, user=None):
    q = Notification.select().where(Notification.kind == kind)
    if user is not None:
        q = q.where(Notification.user == user.id)
    return q.count()


def test_reminder_from_n_days_before_overdue_the_day_after_idempotent(project_world):
    w = project_world
    project = approved(w)
    pj.add_member(w.users["mgr_a"], project, {"user_id": str(w.users["rep_a2"].id), "role": "project_manager"})
    due = TODAY + 5 * DAY
    m = milestone(w, project, "方案评审", due.isoformat(), remind_days="3")
    midnight = clock.local_day_start  # business-day boundaries in UTC

    # 3 days before at 23:59:59 local of the day before the window: nothing yet
    assert pj.sweep(midnight(due - 3 * DAY) - dt.timedelta(seconds=1)) == {"reminders": 0, "overdue": 0}
    assert pj.sweep(midnight(due - 3 * DAY)) == {"reminders": 1, "overdue": 0}
    assert pj.sweep(midnight(due - 3 * DAY) + DAY) == {"reminders": 0, "overdue": 0}  # once
    assert notes("milestone_due", w.users["rep_a"]) == 1
    # still on the due day: not overdue
    assert pj.sweep(midnight(due) + dt.timedelta(hours=23, minutes=59))["overdue"] == 0
    result = pj.sweep(midnight(due + DAY))
    assert result == {"reminders": 0, "overdue": 2}  # the owner and the project manager
    assert notes("milestone_overdue", w.users["rep_a"]) == 1 and notes("milestone_overdue", w.users["rep_a2"]) == 1
    assert pj.sweep(midnight(due + DAY)) == {"reminders": 0, "overdue": 0}
    assert pj.sweep(midnight(due + 10 * DAY)) == {"reminders": 0, "overdue": 0}
    # moved to a new due date: reminded again; done: nothing more
    milestone_edit(w, project, pj.Milestone.get_by_id(m.id), due_on=(due + 20 * DAY).isoformat())
    assert pj.sweep(midnight(due + 18 * DAY))["reminders"] == 1
    pj.set_milestone_status(w.users["rep_a"], pj.Milestone.get_by_id(m.id), "done")
    assert pj.sweep(midnight(due + 30 * DAY)) == {"reminders": 0, "overdue": 0}


def test_the_sweep_is_registered_and_runs_with_the_others(project_world):
    w = project_world
    project = approved(w)
    milestone(w, project, "到期", (TODAY - DAY).isoformat())
    results = hooks.run_sweeps(FROZEN)
    assert results["projects"] == {"reminders": 0, "overdue": 1}
    assert hooks.run_sweeps(FROZEN)["projects"] == {"reminders": 0, "overdue": 0}


def test_workbench_lists_the_owners_due_and_overdue_milestones(client, project_world):
    w = project_world
    project = approved(w)
    pj.add_member(w.users["mgr_a"], project, {"user_id": str(w.users["rep_a2"].id), "role": "project_manager"})
    milestone(w, project, "已逾期的里程碑", (TODAY - 2 * DAY).isoformat())
    milestone(w, project, "快到期的里程碑", (TODAY + 2 * DAY).isoformat())
    milestone(w, project, "还早的里程碑", (TODAY + 30 * DAY).isoformat())
    client.login(w.users["rep_a"])
    page = body(client.get("/"))
    assert 'id="milestones-due"' in page and "已逾期的里程碑" in page and "快到期的里程碑" in page
    assert "还早的里程碑" not in page
    client.login(w.users["rep_a2"])  # the project manager sees the overdue one flagged
    page = body(client.get("/"))
    assert "Overdue in projects you manage" in page and "已逾期的里程碑" in page and "快到期的里程碑" not in page
    client.login(w.users["rep_b"])
    assert 'id="milestones-due"' not in body(client.get("/"))


# ---- costs, margin and contract ------------------------------------------------------------------

def test_costs_by_category_and_margin(project_world):
    w = project_world
    project = approved(w)
    rep = w.users["rep_a"]
    for kind, category, amount in (("planned", "labour", "300,000"), ("planned", "hardware", "200000"),
                                   ("actual", "labour", "120000.50"), ("actual", "travel", "9,999.50")):
        pj.add_cost(rep, project, {"kind": kind, "category": category, "amount": amount})
    profit = pj.profitability(project)
    assert profit["planned"] == Decimal("500000") and profit["actual"] == Decimal("130000.00")
    assert profit["revenue"] == Decimal("1200000") and not profit["signed"]  # the budget until signed
    assert profit["actual_margin"] == Decimal("1070000.00") and profit["actual_pct"] == Decimal("89.2")
    assert dict(profit["categories"])["labour"] == {"planned": Decimal("300000.00"), "actual": Decimal("120000.50")}
    for bad in ("abc", "0", "-1", "1.234", "1,2.3.4", "1e9"):
        with pytest.raises(ValidationError):
            pj.add_cost(rep, project, {"kind": "actual", "category": "travel", "amount": bad})
    with pytest.raises(ValidationError):
        pj.add_cost(rep, project, {"kind": "maybe", "category": "food", "amount": "5"})
    assert pj.ProjectCost.select().count() == 4
    cost = pj.ProjectCost.get(pj.ProjectCost.category == "travel")
    pj.remove_cost(rep, project, cost.id)
    assert pj.profitability(project)["actual"] == Decimal("120000.50")
    assert AuditEvent.select().where(AuditEvent.kind.in_(("project.cost_added", "project.cost_removed"))).count() == 5


def test_signing_the_contract_sets_revenue_and_the_customers_contract_end(project_world):
    w = project_world
    project = approved(w)
    customer = Customer.get_by_id(w.customers["a"].id)
    assert customer.release_rule in ("no_followup", "no_deal")
    pj.add_cost(w.users["rep_a"], project, {"kind": "actual", "category": "labour", "amount": "1100000"})
    data = {"contract_amount": "1,000,000", "contract_signed_on": TODAY.isoformat(),
            "contract_start": "2026-12-01", "contract_end": "2027-11-30"}
    pj.sign_contract(w.users["rep_a"], project, data)
    customer = Customer.get_by_id(customer.id)
    assert customer.contract_end == dt.date(2027, 11, 30)
    assert customer.release_rule == "contract" and customer.release_at is None  # exempt (pools)
    profit = pj.profitability(pj.Project.get_by_id(project.id))
    assert profit["signed"] and profit["actual_margin"] == Decimal("-100000") and profit["actual_pct"] == Decimal("-10.0")
    assert AuditEvent.get(AuditEvent.kind == "project.contract_signed").data["contract_end"] == "2027-11-30"
    # a shorter second contract never shortens the customer's
    pj.sign_contract(w.users["mgr_a"], project, {**data, "contract_end": "2027-01-31"})
    assert Customer.get_by_id(customer.id).contract_end == dt.date(2027, 11, 30)


@pytest.mark.parametrize("field,value", [("contract_amount", "一百万"), ("contract_amount", ""),
                                         ("contract_signed_on", "2026-11-25"), ("contract_end", "2026-11-30"),
                                         ("contract_start", "1900-01-01")])
def test_bad_contracts_change_nothing(project_world, field, value):
    w = project_world
    project = approved(w)
    data = {"contract_amount": "1000000", "contract_signed_on": TODAY.isoformat(),
            "contract_start": "2026-12-01", "contract_end": "2027-11-30", field: value}
    with pytest.raises(ValidationError) as exc:
        pj.sign_contract(w.users["rep_a"], project, data)
    assert field in exc.value.errors
    assert Customer.get_by_id(w.customers["a"].id).contract_end is None
    assert pj.Project.get_by_id(project.id).contract_amount is None


def test_who_may_sign(project_world):
    w = project_world
    project = approved(w)
    assert can(w.users["rep_a"], "project.sign_contract", project)  # the customer's owner
    assert can(w.users["mgr_a"], "project.sign_contract", project)
    pj.add_member(w.users["mgr_a"], project, {"user_id": str(w.users["engineer"].id), "role": "engineer"})
    project = pj.Project.get_by_id(project.id)
    assert not can(w.users["engineer"], "project.sign_contract", project)
    assert not can(w.users["rep_b"], "project.sign_contract", project)


# ---- over HTTP --------------------------------------------------------------------------------------

def test_propose_over_http_with_inline_errors_then_success(client, project_world):
    w = project_world
    client.login(w.users["rep_a"])
    url = f"/customers/{w.customers['a'].id}/projects/new"
    page = body(client.get(url))
    assert "The customer&#39;s budget is known" in page
    r = client.post(url, {"name": "", "budget": "1.2.3"}, htmx=True)
    assert r.status_code == 200
    text = body(r)
    assert "Required." in text and "Enter an amount" in text and "Answer yes or no." in text
    assert pj.Project.select().count() == 0
    r = client.post(url, {"name": "数据中心改造", "budget": "800000", **answers(w.criteria)}, htmx=True)
    assert r.status_code == 204 and "/projects/" in r.headers["HX-Redirect"]
    project = pj.Project.get(pj.Project.name == "数据中心改造")
    assert "数据中心改造" in body(client.get(f"/projects/{project.id}"))
    # the consumer customer gets an explanation, not a form
    page = body(client.get(f"/customers/{w.customers['consumer'].id}/projects/new"))
    assert "project-sales customers" in page and "propose-form" not in page


def test_approve_from_the_inbox_replaces_the_row(client, project_world):
    w = project_world
    project = propose(w)
    client.login(w.users["mgr_a"])
    inbox = body(client.get("/approvals"))
    assert f'id="project-approval-{project.id}"' in inbox and "4 / 4" in inbox
    r = client.post(f"/projects/{project.id}/decide", {"decision": "approve", "reason": "", "from": "inbox"}, htmx=True)
    assert r.status_code == 200 and "Give a reason" in body(r) and "approvalsChanged" not in r.headers.get("HX-Trigger", "")
    r = client.post(f"/projects/{project.id}/decide", {"decision": "approve", "reason": "同意立项", "from": "inbox"},
                    htmx=True)
    assert r.status_code == 200 and "approvalsChanged" in r.headers["HX-Trigger"] and "同意立项" in body(r)
    assert pj.Project.get_by_id(project.id).status == "approved"
    assert f'id="project-approval-{project.id}"' not in body(client.get("/approvals"))


def test_project_page_sections_over_http(client, project_world):
    w = project_world
    project = approved(w)
    client.login(w.users["rep_a"])
    r = client.post(f"/projects/{project.id}/milestones", {"name": "蓝图设计", "owner_id": str(w.users["rep_a"].id),
                                                          "due_on": "2026-12-15", "remind_days": "3"}, htmx=True)
    assert r.status_code == 200 and "蓝图设计" in body(r) and 'id="project-milestones"' in body(r)
    m = pj.Milestone.get(pj.Milestone.name == "蓝图设计")
    r = client.post(f"/projects/{project.id}/milestones/{m.id}/edit",
                    {"name": "蓝图设计", "owner_id": str(w.users["rep_a"].id), "due_on": "2026-12-15",
                     "status": "planned", "depends_on": str(m.id)}, htmx=True)
    assert r.status_code == 200 and "cannot depend on itself" in body(r)
    r = client.post(f"/projects/{project.id}/costs", {"kind": "actual", "category": "travel", "amount": "12万"}, htmx=True)
    assert r.status_code == 200 and "Enter an amount" in body(r)
    r = client.post(f"/projects/{project.id}/costs", {"kind": "actual", "category": "travel", "amount": "3,500"}, htmx=True)
    assert "¥3,500.00" in body(r)
    r = client.post(f"/projects/{project.id}/contract", {"contract_amount": "1500000", "contract_signed_on": "2026-11-20",
                                                        "contract_start": "2026-12-01", "contract_end": "2027-12-31"},
                    htmx=True)
    assert r.status_code == 200 and "Contract recorded" in body(r)
    assert Customer.get_by_id(w.customers["a"].id).contract_end == dt.date(2027, 12, 31)
    tab = body(client.get(f"/customers/{w.customers['a'].id}?tab=projects", htmx=True))
    assert "ERP 实施项目" in tab and "Propose a project" in tab


def test_project_list_scopes_and_pagination_with_bounded_queries(client, project_world, make_customer):
    w = project_world
    for i in range(30):
        c = make_customer(owner=w.users["rep_a"], business_model="project", name=f"项目客户{i:02d}有限公司")
        p = pj.propose_project(w.users["rep_a"], c, {"name": f"项目{i:02d}", **answers(w.criteria)})
        pj.Milestone.create(project=p, name="m", owner=w.users["rep_a"], due_on=TODAY - DAY, created_at=FROZEN,
                            updated_at=FROZEN)
    propose(w, rep="rep_b", customer="b", name="B 组的项目")
    client.login(w.users["mgr_a"])
    with count_queries() as counter:
        page = body(client.get("/projects?scope=team"))
    assert "项目29" in page and "项目05" in page and "项目04" not in page and "B 组的项目" not in page and "1 overdue" in page
    assert counter.count <= 12, counter.count
    after = int(page.split("after=")[1].split('"')[0].split("&")[0])
    page2 = body(client.get(f"/projects?scope=team&after={after}"))
    assert "项目04" in page2 and "项目00" in page2 and "项目05" not in page2
    client.login(w.users["rep_b"])
    page = body(client.get("/projects"))
    assert "B 组的项目" in page and "项目29" not in page
    client.login(w.users["admin"])
    assert "B 组的项目" in body(client.get("/projects?scope=all"))
    assert body(client.get("/projects?after=abc")).count("project-row-") == 25


def test_project_page_queries_do_not_grow_with_milestones_members_or_documents(client, project_world, tmp_path):
    import io

    from models import documents as docs

    w = project_world
    small, big = approved(w), approved(w, name="大项目")
    for project, n in ((small, 1), (big, 8)):
        for i in range(n):
            milestone(w, project, f"里程碑{i}", (TODAY + i * DAY).isoformat())
            pj.add_cost(w.users["rep_a"], project, {"kind": "actual", "category": "travel", "amount": "100"})
            docs.upload_document(w.users["rep_a"], tmp_path, io.BytesIO(b"%PDF-1.4\n"), f"d{i}.pdf", {}, project=project)
    pj.add_member(w.users["mgr_a"], big, {"user_id": str(w.users["engineer"].id), "role": "engineer"})
    client.login(w.users["rep_a"])
    counts = []
    for project in (small, big):
        with count_queries() as counter:
            assert client.get(f"/projects/{project.id}").status_code == 200
        counts.append(counter.count)
    assert counts[0] == counts[1], counts
    assert counts[1] <= 30, counts


def test_demo_scenes_stage_projects_through_the_verbs(make_user, make_team, make_customer):
    from models import documents as docs
    from seeds import demo_projects

    team = make_team("华东一组")
    manager = make_user("manager", team, username="manager01")
    Team.update(manager=manager).where(Team.id == team.id).execute()
    rep1, rep2 = make_user("sales", team, username="rep001"), make_user("sales", team, username="rep002")
    make_user("service", username="service")
    for i in range(4):
        make_customer(owner=rep1, business_model="project", name=f"演示项目客户{i}有限公司")
    make_customer(owner=rep2, business_model="project", name="演示项目客户乙有限公司")
    demo_projects.stage()
    statuses = sorted(p.status for p in pj.Project.select())
    assert statuses == ["approved", "approved", "pending", "pending", "rejected"]
    mes = pj.Project.get(pj.Project.name == "智慧工厂 MES 一期")
    assert mes.contract_amount == Decimal("1650000") and Customer.get_by_id(mes.customer_id).contract_end
    assert {m.role for m in pj.ProjectMember.select().where(pj.ProjectMember.project == mes.id)} == {
        "sales_rep", "project_manager", "engineer", "consultant"}
    milestones = pj.milestones_of(mes)
    assert any(m.is_overdue() for m in milestones) and any(m.status == "done" for m in milestones)
    assert docs.Document.select().where(docs.Document.latest_version == 2).count() == 1
    assert Notification.select().where(Notification.kind == "milestone_overdue").count() >= 1
    assert pj.pending_count(manager) == 2
    for version in docs.DocumentVersion.select():
        assert docs.detect_type(docs.path_of(demo_projects._storage(), version)) == version.file_type


def test_the_project_page_works_without_javascript(client, project_world):
    w = project_world
    project = approved(w)
    m = milestone(w, project, "蓝图", "2026-12-15")
    client.login(w.users["rep_a"])
    r = client.post(f"/projects/{project.id}/costs", {"kind": "actual", "category": "travel", "amount": "500"})
    assert r.status_code == 303 and r.location.endswith(f"/projects/{project.id}")
    r = client.post(f"/projects/{project.id}/costs", {"kind": "actual", "category": "travel", "amount": "五百"})
    assert r.status_code == 200 and "<html" in body(r) and "Enter an amount" in body(r)
    r = client.get(f"/projects/{project.id}/milestones/{m.id}/edit")
    assert r.status_code == 200 and "<html" in body(r) and 'id="milestone-edit-form"' in body(r)
    r = client.get(f"/projects/{project.id}/milestones/{m.id}/edit", htmx=True)
    assert "<html" not in body(r) and 'id="milestone-edit-form"' in body(r)
