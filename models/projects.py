"""Project sales (项目型): project approval (立项) against admin-set criteria, the project team,
milestones (里程碑) with dependencies and reminders, costs and profitability, and the signed contract.

A rep proposes a project for a project-type customer, answering every active approval criterion;
the manager of the customer's team (or an admin) approves or rejects it with a reason. An approved
project has a team whose members all see it; its milestones are reminded and flagged by `sweep(now)`.
"""
import datetime as dt
from decimal import Decimal

import peewee as pw

from models import audit, clock, hooks, permissions
from models.base import BaseModel, db, fresh
from models.customers import Customer
from models.fields import clean_text, date_field, id_or_none, parse_int, parse_money, take, text_field
from models.errors import DomainError, FieldErrors, N_, NotFound, ValidationError
from models.notifications import Notification, notify
from models.opportunities import Opportunity
from models.permissions import require
from models.pools import refresh_release
from models.users import Team, User

STATUSES = ("pending", "approved", "rejected")
STATUS_LABELS = {"pending": N_("Pending approval"), "approved": N_("Approved"), "rejected": N_("Rejected")}
TEAM_ROLES = ("project_manager", "sales_rep", "consultant", "engineer", "other")
TEAM_ROLE_LABELS = {"project_manager": N_("Project manager"), "sales_rep": N_("Sales rep"),
                    "consultant": N_("Consultant"), "engineer": N_("Engineer"), "other": N_("Other")}
MILESTONE_STATUSES = ("planned", "in_progress", "done", "cancelled")
MILESTONE_STATUS_LABELS = {"planned": N_("Planned"), "in_progress": N_("In progress"), "done": N_("Done"),
                           "cancelled": N_("Cancelled")}
OPEN_MILESTONE = ("planned", "in_progress")
COST_CATEGORIES = ("labour", "travel", "hardware", "software", "subcontract", "other")
COST_CATEGORY_LABELS = {"labour": N_("Labour"), "travel": N_("Travel"), "hardware": N_("Hardware"),
                        "software": N_("Software"), "subcontract": N_("Subcontract"), "other": N_("Other costs")}
COST_KINDS = ("planned", "actual")
COST_KIND_LABELS = {"planned": N_("Planned"), "actual": N_("Actual")}

MAX_AMOUNT = Decimal("1000000000000")  # 1 万亿: beyond any project, and well inside DECIMAL(15, 2)
DATE_MIN, DATE_MAX = dt.date(2000, 1, 1), dt.date(2100, 12, 31)
DEFAULT_REMIND_DAYS = 3
MAX_REMIND_DAYS = 60
DEFAULT_CRITERIA = (
    ("budget", "客户预算已知", "The customer's budget is known"),
    ("decision_maker", "已识别决策者", "The decision maker is identified"),
    ("timeline", "客户有明确的时间表", "The customer has a timeline"),
    ("fit", "需求与我们的方案匹配", "The need fits our offering"),
)


class ApprovalCriterion(BaseModel):
    """What a project proposal must answer (立项标准), set by the admins."""
    text_zh = pw.CharField(max_length=200)
    text_en = pw.CharField(max_length=200)
    active = pw.BooleanField(default=True)
    position = pw.SmallIntegerField(default=0)
    created_at = pw.DateTimeField()
    updated_at = pw.DateTimeField()

    def label(self, locale):
        return self.text_zh if locale.startswith("zh") else self.text_en


class Project(BaseModel):
    customer = pw.ForeignKeyField(Customer, backref="projects", on_delete="CASCADE", index=False)
    # The opportunity (models/opportunities.py, migration 0007) this project grew from, if any.
    opportunity = pw.ForeignKeyField(Opportunity, null=True, on_delete="SET NULL", index=False, backref="projects")
    name = pw.CharField(max_length=100)
    description = pw.TextField(default="")
    budget = pw.DecimalField(max_digits=15, decimal_places=2, null=True, auto_round=True)
    expected_start = pw.DateField(null=True)
    expected_end = pw.DateField(null=True)
    status = pw.CharField(max_length=10, default="pending")
    requested_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
    requested_at = pw.DateTimeField()
    decided_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
    decided_at = pw.DateTimeField(null=True)
    decision_reason = pw.CharField(max_length=300, default="")
    contract_amount = pw.DecimalField(max_digits=15, decimal_places=2, null=True, auto_round=True)
    contract_signed_on = pw.DateField(null=True)
    contract_start = pw.DateField(null=True)
    contract_end = pw.DateField(null=True)
    updated_at = pw.DateTimeField()

    class Meta:
        indexes = ((("customer", "id"), False), (("status", "id"), False), (("requested_by", "id"), False))

    @property
    def revenue(self):
        """The contract amount once signed, else the budget as an estimate."""
        return self.contract_amount if self.contract_amount is not None else self.budget

    def member_role(self, user):
        """The user's role in the team, or None (models/permissions.py asks the row it is given)."""
        return member_role(self, user)


class ProjectAnswer(BaseModel):
    """The proposal's answer to one criterion, with the criterion's wording as it was then."""
    project = pw.ForeignKeyField(Project, backref="answers", on_delete="CASCADE")
    criterion = pw.ForeignKeyField(ApprovalCriterion, null=True, on_delete="SET NULL", index=False)
    text_zh = pw.CharField(max_length=200)
    text_en = pw.CharField(max_length=200)
    answer = pw.BooleanField()
    note = pw.CharField(max_length=300, default="")

    def label(self, locale):
        return self.text_zh if locale.startswith("zh") else self.text_en


class ProjectMember(BaseModel):
    project = pw.ForeignKeyField(Project, backref="members", on_delete="CASCADE", index=False)
    user = pw.ForeignKeyField(User, on_delete="CASCADE", index=False, backref="+")
    role = pw.CharField(max_length=20)
    added_at = pw.DateTimeField()

    class Meta:
        indexes = ((("project", "user"), True), (("user", "project"), False))


class Milestone(BaseModel):
    project = pw.ForeignKeyField(Project, backref="milestones", on_delete="CASCADE", index=False)
    name = pw.CharField(max_length=100)
    owner = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
    start_on = pw.DateField(null=True)
    due_on = pw.DateField()
    status = pw.CharField(max_length=12, default="planned")
    remind_days = pw.SmallIntegerField(default=DEFAULT_REMIND_DAYS)
    done_at = pw.DateTimeField(null=True)
    created_at = pw.DateTimeField()
    updated_at = pw.DateTimeField()

    class Meta:
        indexes = ((("project", "due_on"), False), (("owner", "status", "due_on"), False),
                   (("status", "due_on"), False))

    @property
    def is_open(self):
        return self.status in OPEN_MILESTONE

    def is_overdue(self, today=None):
        return self.is_open and self.due_on < (today or clock.today())


class MilestoneDependency(BaseModel):
    """`milestone` cannot be done before `depends_on` (same project; no cycles)."""
    milestone = pw.ForeignKeyField(Milestone, backref="dependencies", on_delete="CASCADE", index=False)
    depends_on = pw.ForeignKeyField(Milestone, backref="dependents", on_delete="CASCADE")

    class Meta:
        indexes = ((("milestone", "depends_on"), True),)


class ProjectCost(BaseModel):
    project = pw.ForeignKeyField(Project, backref="costs", on_delete="CASCADE", index=False)
    category = pw.CharField(max_length=12)
    kind = pw.CharField(max_length=8)  # planned / actual
    amount = pw.DecimalField(max_digits=15, decimal_places=2, auto_round=True)
    spent_on = pw.DateField(null=True)
    note = pw.CharField(max_length=200, default="")
    created_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
    created_at = pw.DateTimeField()

    class Meta:
        indexes = ((("project", "kind", "category"), False),)


# ---- parsing ----------------------------------------------------------------------------------

def _active_user(raw):
    pk = id_or_none(raw)
    return User.get_or_none((User.id == pk) & (User.active == True)) if pk else None  # noqa: E712


# ---- who is who ---------------------------------------------------------------------------------

def team_manager_id(customer):
    """The manager of the customer's team (who approves its projects), or None."""
    if not customer.team_id:
        return None
    team = Team.get_or_none(Team.id == customer.team_id)
    return team.manager_id if team else None


def member_role(project, user):
    """The user's role in the project team, or None (cached on the project for one request)."""
    cache = project.__dict__.setdefault("_roles", {})
    if user.id not in cache:
        row = ProjectMember.get_or_none((ProjectMember.project == project.id) & (ProjectMember.user == user.id))
        cache[user.id] = row.role if row else None
    return cache[user.id]


def project_managers(project):
    return [m.user_id for m in ProjectMember.select(ProjectMember.user)
            .where((ProjectMember.project == project.id) & (ProjectMember.role == "project_manager"))]


def is_project_type(customer):
    return customer.business_model == "project"


# ---- approval criteria (admin) ------------------------------------------------------------------

def active_criteria():
    return list(ApprovalCriterion.select().where(ApprovalCriterion.active == True)  # noqa: E712
                .order_by(ApprovalCriterion.position, ApprovalCriterion.id))


def ensure_default_criteria():
    """The four criteria of the article (budget, decision maker, timeline, fit), once."""
    if ApprovalCriterion.select().exists():
        return
    now = clock.now()
    with db.atomic():
        for i, (_key, zh, en) in enumerate(DEFAULT_CRITERIA):
            ApprovalCriterion.create(text_zh=zh, text_en=en, position=(i + 1) * 10, created_at=now, updated_at=now)


def save_criterion(actor, data, criterion=None):
    """Create or edit an approval criterion. Proposals keep the wording they answered."""
    require(actor, "project.criteria")
    e = FieldErrors()
    zh = text_field(data, e, "text_zh", 200, required=True)
    en = text_field(data, e, "text_en", 200, required=True)
    raw = str(data.get("position") or "").strip()
    if not raw:  # after the last one
        position = criterion.position if criterion is not None else min(
            999, (ApprovalCriterion.select(pw.fn.MAX(ApprovalCriterion.position)).scalar() or 0) + 10)
    else:
        position = take(e, "position", parse_int, raw, 0, 999) or 0
    e.raise_if_any()
    active = data.get("active") in (True, "1", "on", "true", "y")
    now = clock.now()
    with db.atomic():
        created = criterion is None
        if not created:
            fresh(criterion)  # the audit's "from" is what is there now
        before = None if created else {"text_zh": criterion.text_zh, "text_en": criterion.text_en,
                                       "active": criterion.active, "position": criterion.position}
        criterion = criterion or ApprovalCriterion(created_at=now)
        criterion.text_zh, criterion.text_en, criterion.active, criterion.position = zh, en, active, position
        criterion.updated_at = now
        criterion.save()
        after = {"text_zh": zh, "text_en": en, "active": active, "position": position}
        changes = after if created else {k: [before[k], v] for k, v in after.items() if before[k] != v}
        audit.record("project.criterion_" + ("created" if created else "updated"), actor,
                     criterion_id=criterion.id, changes=changes)
    return criterion


# ---- proposal and decision ------------------------------------------------------------------------

def _opportunity_of(customer, raw, e):
    if not str(raw or "").strip():
        return None
    pk = id_or_none(raw)
    row = Opportunity.get_or_none((Opportunity.id == pk) & (Opportunity.customer == customer.id)) if pk else None
    if row is None:
        e.add("opportunity_id", N_("Choose an opportunity of this customer."))
        return None
    return row.id


def validate_project(customer, data, criteria):
    e = FieldErrors()
    out = {
        "name": text_field(data, e, "name", 100, required=True),
        "description": text_field(data, e, "description", 4000, multiline=True),
        "budget": take(e, "budget", parse_money, data.get("budget"), hi=MAX_AMOUNT),
        "expected_start": date_field(e, data, "expected_start", DATE_MIN, DATE_MAX),
        "expected_end": date_field(e, data, "expected_end", DATE_MIN, DATE_MAX),
    }
    if out["expected_start"] and out["expected_end"] and out["expected_end"] < out["expected_start"]:
        e.add("expected_end", N_("The end cannot be before the start."))
    out["opportunity_id"] = _opportunity_of(customer, data.get("opportunity_id"), e)
    answers = []
    for c in criteria:
        raw = str(data.get(f"answer_{c.id}") or "").strip().lower()
        if raw not in ("yes", "no"):
            e.add(f"answer_{c.id}", N_("Answer yes or no."))
        note = text_field(data, e, f"note_{c.id}", 300)
        answers.append((c, raw == "yes", note))
    e.raise_if_any()
    return out, answers


def propose_project(actor, customer, data):
    """A rep proposes a project (立项申请) for a project-type customer, answering every active criterion.
    The proposer joins the team as sales rep; the team's manager is asked to decide."""
    require(actor, "project.propose", customer)
    if not is_project_type(customer):
        raise DomainError(N_("Projects are for project-sales customers; change the business model first."))
    criteria = active_criteria()
    values, answers = validate_project(customer, data, criteria)
    now = clock.now()
    with db.atomic():
        project = Project.create(customer=customer, status="pending", requested_by=actor, requested_at=now,
                                 updated_at=now, **values)
        for criterion, yes, note in answers:
            ProjectAnswer.create(project=project, criterion=criterion, text_zh=criterion.text_zh,
                                 text_en=criterion.text_en, answer=yes, note=note)
        ProjectMember.create(project=project, user=actor, role="sales_rep", added_at=now)
        audit.record("project.proposed", actor, customer, project_id=project.id, name=project.name,
                     budget=str(project.budget) if project.budget is not None else None,
                     criteria_met=sum(1 for _c, yes, _n in answers if yes), criteria=len(answers))
        decider = team_manager_id(customer)
        if decider and decider != actor.id:
            notify(decider, "project_proposed", N_("%(who)s proposes project %(name)s for approval."),
                   customer_id=customer.id, dedupe_key=f"project-proposed:{project.id}",
                   who=actor.full_name, name=project.name, project_id=project.id)
    return project


def decide_project(actor, project, approve, reason):
    """The manager of the customer's team (never the proposer) or an admin approves or rejects a
    pending project with a reason; the proposer is told."""
    customer = Customer.get_by_id(project.customer_id)
    require(actor, "project.decide", project)
    reason = clean_text(reason, 300)
    if reason is None:
        raise ValidationError({"reason": [(N_("At most %(n)s characters."), {"n": 300})]})
    if len(reason) < 2:
        raise ValidationError({"reason": [(N_("Give a reason for the decision."), {})]})
    now = clock.now()
    with db.atomic():
        status = "approved" if approve else "rejected"
        decided = (Project.update(status=status, decided_by=actor.id, decided_at=now, decision_reason=reason,
                                  updated_at=now)  # only while pending: the row count decides, on both engines
                   .where((Project.id == project.id) & (Project.status == "pending")).execute())
        if not decided:
            raise DomainError(N_("This project has already been decided."))
        project.status, project.decided_by, project.decided_at = status, actor.id, now
        project.decision_reason, project.updated_at = reason, now
        audit.record(f"project.{status}", actor, customer, project_id=project.id, name=project.name, reason=reason)
        if project.requested_by_id and project.requested_by_id != actor.id:
            message = (N_("Project %(name)s was approved by %(who)s: %(reason)s") if approve
                       else N_("Project %(name)s was rejected by %(who)s: %(reason)s"))
            notify(project.requested_by_id, f"project_{status}", message, customer_id=customer.id,
                   dedupe_key=f"project-decided:{project.id}", name=project.name, who=actor.full_name,
                   reason=reason, project_id=project.id)
    return project


def _require_approved(project):
    if project.status != "approved":
        raise DomainError(N_("Only an approved project has a team, milestones, costs and documents."))


# ---- the project team -------------------------------------------------------------------------

def add_member(actor, project, data):
    """Add a user to the project team with a role (or change the role of a member)."""
    require(actor, "project.manage_team", project)
    _require_approved(project)
    e = FieldErrors()
    user = _active_user(data.get("user_id"))
    if user is None:
        e.add("user_id", N_("Choose an active colleague."))
    role = data.get("role")
    if role not in TEAM_ROLES:
        e.add("role", N_("Choose one of the options."))
    e.raise_if_any()
    now = clock.now()
    with db.atomic():
        row = ProjectMember.get_or_none((ProjectMember.project == project.id) & (ProjectMember.user == user.id))
        if row is not None and row.role == role:
            return row
        if row is None:
            row = ProjectMember.create(project=project, user=user, role=role, added_at=now)
            audit.record("project.member_added", actor, project.customer_id, project_id=project.id,
                         user_id=user.id, user=user.full_name, role=role)
            if user.id != actor.id:
                notify(user.id, "project_member", N_("You joined the team of project %(name)s as %(role)s."),
                       customer_id=project.customer_id, name=project.name, role=TEAM_ROLE_LABELS[role],
                       project_id=project.id)
        else:
            audit.record("project.member_role_changed", actor, project.customer_id, project_id=project.id,
                         user_id=user.id, user=user.full_name, from_role=row.role, to_role=role)
            row.role = role
            row.save()
        project.__dict__.pop("_roles", None)
    return row


def remove_member(actor, project, member_id):
    require(actor, "project.manage_team", project)
    with db.atomic():  # checked under the write lock: no milestone is given to the member meanwhile
        row = ProjectMember.get_or_none((ProjectMember.id == (id_or_none(member_id) or 0))
                                        & (ProjectMember.project == project.id))
        if row is None:
            raise NotFound()
        if Milestone.select().where((Milestone.project == project.id) & (Milestone.owner == row.user_id)
                                    & Milestone.status.in_(OPEN_MILESTONE)).exists():
            raise DomainError(N_("This member owns open milestones: give them to someone else first."))
        user = User.get_by_id(row.user_id)
        row.delete_instance()
        audit.record("project.member_removed", actor, project.customer_id, project_id=project.id,
                     user_id=user.id, user=user.full_name, role=row.role)
        project.__dict__.pop("_roles", None)


def members_of(project):
    return list(ProjectMember.select(ProjectMember, User).join(User, on=(ProjectMember.user == User.id))
                .where(ProjectMember.project == project.id)
                .order_by(pw.Case(ProjectMember.role, [(r, i) for i, r in enumerate(TEAM_ROLES)]), User.full_name))


# ---- milestones ---------------------------------------------------------------------------------

def _would_cycle(milestone_id, depends_on_ids, project_id):
    """True if making `milestone_id` depend on `depends_on_ids` closes a loop (walks the project's graph)."""
    edges = {}
    for a, b in (MilestoneDependency.select(MilestoneDependency.milestone, MilestoneDependency.depends_on)
                 .join(Milestone, on=(MilestoneDependency.milestone == Milestone.id))
                 .where(Milestone.project == project_id).tuples()):
        if a != milestone_id:
            edges.setdefault(a, set()).add(b)
    edges[milestone_id] = set(depends_on_ids)
    seen, stack = set(), list(depends_on_ids)
    while stack:
        node = stack.pop()
        if node == milestone_id:
            return True
        if node not in seen:
            seen.add(node)
            stack.extend(edges.get(node, ()))
    return False


def validate_milestone(project, data, milestone=None):
    e = FieldErrors()
    out = {"name": text_field(data, e, "name", 100, required=True)}
    owner = _active_user(data.get("owner_id"))
    if owner is None or not ProjectMember.select().where((ProjectMember.project == project.id)
                                                         & (ProjectMember.user == owner.id)).exists():
        e.add("owner_id", N_("Choose a member of the project team."))
    out["owner"] = owner.id if owner else None
    out["start_on"] = date_field(e, data, "start_on", DATE_MIN, DATE_MAX)
    out["due_on"] = date_field(e, data, "due_on", DATE_MIN, DATE_MAX, required=True)
    if out["start_on"] and out["due_on"] and out["due_on"] < out["start_on"]:
        e.add("due_on", N_("The due date cannot be before the start."))
    status = data.get("status") or "planned"
    if status not in MILESTONE_STATUSES:
        e.add("status", N_("Choose one of the options."))
    out["status"] = status
    remind = take(e, "remind_days", parse_int, str(data.get("remind_days", DEFAULT_REMIND_DAYS)).strip()
                  or DEFAULT_REMIND_DAYS, 0, MAX_REMIND_DAYS)
    if remind is None:
        remind = DEFAULT_REMIND_DAYS
    out["remind_days"] = remind
    raw = data.getlist("depends_on") if hasattr(data, "getlist") else data.get("depends_on") or []
    if isinstance(raw, (str, int)):
        raw = [raw]
    wanted = []
    for value in raw:
        if str(value).strip() == "":
            continue
        pk = id_or_none(value)
        if pk is None:
            e.add("depends_on", N_("Choose milestones of this project."))
            break
        wanted.append(pk)
    wanted = sorted(set(wanted))
    if milestone is not None and milestone.id in wanted:
        e.add("depends_on", N_("A milestone cannot depend on itself."))
    elif wanted:
        found = {m.id for m in Milestone.select(Milestone.id).where(Milestone.id.in_(wanted)
                                                                    & (Milestone.project == project.id))}
        if found != set(wanted):
            e.add("depends_on", N_("Choose milestones of this project."))
        elif milestone is not None and _would_cycle(milestone.id, wanted, project.id):
            e.add("depends_on", N_("That would make a dependency cycle."))
    out["depends_on"] = wanted
    if status == "done":
        _check_dependencies_done(wanted, e)
    e.raise_if_any()
    return out


def _check_dependencies_done(depends_on_ids, e=None):
    if not depends_on_ids:
        return
    blocking = [m.name for m in Milestone.select(Milestone.name)
                .where(Milestone.id.in_(depends_on_ids) & Milestone.status.in_(OPEN_MILESTONE))]
    if blocking:
        message, params = N_("Finish %(names)s first: this milestone depends on it."), {"names": "、".join(blocking)}
        if e is None:
            raise DomainError(message, **params)
        e.add("status", message, **params)


def save_milestone(actor, project, data, milestone=None):
    """Add or edit a milestone. Dependencies stay inside the project and never form a cycle; a
    milestone is done only after what it depends on."""
    require(actor, "project.work", project)
    _require_approved(project)
    if milestone is not None and milestone.project_id != project.id:
        raise NotFound()
    values = validate_milestone(project, data, milestone)
    depends_on = values.pop("depends_on")
    now = clock.now()
    with db.atomic():
        created = milestone is None
        changes = {}
        if created:
            milestone = Milestone.create(project=project, created_at=now, updated_at=now,
                                         done_at=now if values["status"] == "done" else None, **values)
        else:
            fresh(milestone)  # diff and audit against the row as it is now; write only what changes
            for field, new in values.items():
                column = "owner_id" if field == "owner" else field
                old = getattr(milestone, column)
                if old != new:
                    changes[field] = [_plain(old), _plain(new)]
                    setattr(milestone, column, new)
            if "status" in changes:
                milestone.done_at = now if milestone.status == "done" else None
            milestone.updated_at = now
            milestone.save()
        old_deps = {d.depends_on_id for d in MilestoneDependency.select().where(MilestoneDependency.milestone == milestone.id)}
        if old_deps != set(depends_on):
            MilestoneDependency.delete().where(MilestoneDependency.milestone == milestone.id).execute()
            for dep in depends_on:
                MilestoneDependency.create(milestone=milestone, depends_on=dep)
            if not created:
                changes["depends_on"] = [sorted(old_deps), depends_on]
        if created:
            audit.record("milestone.added", actor, project.customer_id, project_id=project.id,
                         milestone_id=milestone.id, name=milestone.name, due_on=milestone.due_on.isoformat(),
                         owner_id=milestone.owner_id, depends_on=depends_on)
        elif changes:
            audit.record("milestone.updated", actor, project.customer_id, project_id=project.id,
                         milestone_id=milestone.id, name=milestone.name, changes=changes)
    return milestone


def set_milestone_status(actor, milestone, status):
    """Move a milestone on (planned → in progress → done, or cancelled)."""
    project = Project.get_by_id(milestone.project_id)
    require(actor, "project.work", project)
    _require_approved(project)
    if status not in MILESTONE_STATUSES:
        raise DomainError(N_("Choose one of the options."))
    now = clock.now()
    with db.atomic():
        fresh(milestone)
        if status == milestone.status:
            return milestone
        if status == "done":  # what it depends on, as it is now
            _check_dependencies_done([d.depends_on_id for d in milestone.dependencies])
        old = milestone.status
        milestone.status, milestone.updated_at = status, now
        milestone.done_at = now if status == "done" else None
        milestone.save()
        audit.record("milestone.status_changed", actor, project.customer_id, project_id=project.id,
                     milestone_id=milestone.id, name=milestone.name, from_status=old, to_status=status)
    return milestone


def milestones_of(project):
    """The project's milestones by due date, each with `deps` (the ids it depends on) and `owner_name`."""
    rows = list(Milestone.select(Milestone, User.full_name.alias("owner_name"))
                .join(User, pw.JOIN.LEFT_OUTER, on=(Milestone.owner == User.id))
                .where(Milestone.project == project.id).order_by(Milestone.due_on, Milestone.id).objects())
    deps = {}
    if rows:
        for a, b in (MilestoneDependency.select(MilestoneDependency.milestone, MilestoneDependency.depends_on)
                     .where(MilestoneDependency.milestone.in_([m.id for m in rows])).tuples()):
            deps.setdefault(a, []).append(b)
    for m in rows:
        m.deps = sorted(deps.get(m.id, []))
    return rows


def timeline(milestones, today=None):
    """Bars for a Gantt-like view: each milestone's left offset and width in % of the span."""
    today = today or clock.today()
    if not milestones:
        return None
    starts = [m.start_on or m.due_on for m in milestones]
    first = min(starts + [today])
    last = max([m.due_on for m in milestones] + [today])
    span = max((last - first).days + 1, 1)
    bars = []
    for m, start in zip(milestones, starts):
        bars.append({"m": m, "left": round(100 * (start - first).days / span, 2),
                     "width": round(max(100 * ((m.due_on - start).days + 1) / span, 1.2), 2)})
    months = []
    day = first.replace(day=1)
    while day <= last:
        if day >= first:
            months.append({"label": day, "left": round(100 * (day - first).days / span, 2)})
        day = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return {"first": first, "last": last, "bars": bars, "months": months,
            "today": round(100 * (today - first).days / span, 2)}


# ---- costs, contract and profitability -------------------------------------------------------

def add_cost(actor, project, data):
    """A planned or actual cost line in one of the categories."""
    require(actor, "project.work", project)
    _require_approved(project)
    e = FieldErrors()
    category, kind = data.get("category"), data.get("kind")
    if category not in COST_CATEGORIES:
        e.add("category", N_("Choose one of the options."))
    if kind not in COST_KINDS:
        e.add("kind", N_("Choose one of the options."))
    amount = take(e, "amount", parse_money, data.get("amount"), required=True, positive=True, hi=MAX_AMOUNT)
    spent_on = date_field(e, data, "spent_on", DATE_MIN, DATE_MAX)
    note = text_field(data, e, "note", 200)
    e.raise_if_any()
    with db.atomic():
        cost = ProjectCost.create(project=project, category=category, kind=kind, amount=amount, spent_on=spent_on,
                                  note=note, created_by=actor, created_at=clock.now())
        audit.record("project.cost_added", actor, project.customer_id, project_id=project.id, cost_id=cost.id,
                     category=category, cost_kind=kind, amount=str(amount), note=note)
    return cost


def remove_cost(actor, project, cost_id):
    require(actor, "project.work", project)
    with db.atomic():  # removed twice at once: the second finds nothing and audits nothing
        cost = ProjectCost.get_or_none((ProjectCost.id == (id_or_none(cost_id) or 0))
                                       & (ProjectCost.project == project.id))
        if cost is None:
            raise NotFound()
        cost.delete_instance()
        audit.record("project.cost_removed", actor, project.customer_id, project_id=project.id, cost_id=cost.id,
                     category=cost.category, cost_kind=cost.kind, amount=str(cost.amount), note=cost.note)


def profitability(project):
    """Planned and actual cost per category, their totals, revenue (contract, else budget) and margins."""
    rows = {c: {"planned": Decimal(0), "actual": Decimal(0)} for c in COST_CATEGORIES}
    for category, kind, total in (ProjectCost.select(ProjectCost.category, ProjectCost.kind,
                                                     pw.fn.SUM(ProjectCost.amount))
                                  .where(ProjectCost.project == project.id)
                                  .group_by(ProjectCost.category, ProjectCost.kind).tuples()):
        if category in rows and kind in COST_KINDS:
            rows[category][kind] = Decimal(str(total or 0)).quantize(Decimal("0.01"))
    planned = sum((r["planned"] for r in rows.values()), Decimal(0))
    actual = sum((r["actual"] for r in rows.values()), Decimal(0))
    revenue = project.revenue

    def margin(cost):
        if revenue is None:
            return None, None
        value = revenue - cost
        return value, (round(100 * value / revenue, 1) if revenue else None)

    planned_margin, planned_pct = margin(planned)
    actual_margin, actual_pct = margin(actual)
    return {"categories": [(c, rows[c]) for c in COST_CATEGORIES], "planned": planned, "actual": actual,
            "revenue": revenue, "signed": project.contract_amount is not None,
            "planned_margin": planned_margin, "planned_pct": planned_pct,
            "actual_margin": actual_margin, "actual_pct": actual_pct}


def sign_contract(actor, project, data):
    """Record the signed contract: its amount becomes the project's revenue and its dates the customer's
    contract dates, which exempt the customer from forced release (pools) until the end + grace."""
    require(actor, "project.sign_contract", project)
    _require_approved(project)
    e = FieldErrors()
    amount = take(e, "contract_amount", parse_money, data.get("contract_amount"), required=True, positive=True, hi=MAX_AMOUNT)
    today = clock.today()
    signed_on = date_field(e, data, "contract_signed_on", DATE_MIN, today, required=True)
    start = date_field(e, data, "contract_start", DATE_MIN, DATE_MAX, required=True)
    end = date_field(e, data, "contract_end", DATE_MIN, DATE_MAX, required=True)
    if start and end and end < start:
        e.add("contract_end", N_("The end cannot be before the start."))
    e.raise_if_any()
    now = clock.now()
    with db.atomic():
        fresh(project)
        require(actor, "project.sign_contract", project)
        _require_approved(project)
        customer = Customer.get_by_id(project.customer_id)
        old_end = customer.contract_end
        project.contract_amount, project.contract_signed_on = amount, signed_on
        project.contract_start, project.contract_end, project.updated_at = start, end, now
        project.save()
        # The customer's contract runs to the latest end of its contracts.
        new_end = max(end, old_end) if old_end else end
        if new_end != old_end:
            Customer.update(contract_end=new_end, updated_at=now).where(Customer.id == customer.id).execute()
            customer.contract_end = new_end
        if customer.owner_id:
            refresh_release(customer, now=now)
        audit.record("project.contract_signed", actor, customer, project_id=project.id, name=project.name,
                     amount=str(amount), signed_on=signed_on.isoformat(), contract_start=start.isoformat(),
                     contract_end=end.isoformat(), customer_contract_end=[_plain(old_end), _plain(new_end)])
    return project


def _plain(value):
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


# ---- lists ------------------------------------------------------------------------------------

def get_project(project_id):
    pk = id_or_none(project_id)
    project = Project.get_or_none(Project.id == pk) if pk else None
    if project is None:
        raise NotFound()
    return project


def scoped(user, scope):
    """Projects for a list, narrowed to what `user` may open (`permissions.scope`): 'mine' (proposed by me
    or on my team), 'team' (my team's customers' projects), 'all' (every project I may open)."""
    q = permissions.scope("project", user, Project.select(Project, Customer.id, Customer.name, Customer.team,
                                                          Customer.owner).join(Customer, on=(Project.customer == Customer.id)))
    if scope == "all" and permissions.can(user, "project.list_all"):
        return q
    if scope == "team" and permissions.can(user, "project.list_team"):
        return q.where(Customer.team == user.team_id)
    return q.where((Project.requested_by == user.id) | Project.id.in_(
        ProjectMember.select(ProjectMember.project).where(ProjectMember.user == user.id)))


def pending_for(user, limit=200):
    """Pending proposals `user` may decide, oldest first (the approvals inbox)."""
    q = (Project.select(Project, Customer.id, Customer.name, Customer.team, Customer.owner)
         .join(Customer, on=(Project.customer == Customer.id)).where(Project.status == "pending"))
    return permissions.scope("project_decision", user, q).order_by(Project.id).limit(limit)


def pending_count(user):
    if not permissions.can(user, "approvals.inbox"):
        return 0  # the header badge asks on every page
    return permissions.scope("project_decision", user, Project.select().where(Project.status == "pending")).count()


# Queries with a row when `my_milestones` / `managed_overdue` may have one (the workbench asks first).

def milestone_horizon(today):
    return today + dt.timedelta(days=MAX_REMIND_DAYS)


def due_milestone_ids(user_id, horizon):
    return Milestone.select(Milestone.id).where(
        (Milestone.owner == user_id) & Milestone.status.in_(OPEN_MILESTONE) & (Milestone.due_on <= horizon))


def managed_project_ids(user_id):
    return ProjectMember.select(ProjectMember.project).where((ProjectMember.user == user_id)
                                                             & (ProjectMember.role == "project_manager"))


def my_milestones(user, today=None, limit=10):
    """The user's open milestones that are overdue or inside their reminder window, soonest first."""
    today = today or clock.today()
    horizon = today + dt.timedelta(days=MAX_REMIND_DAYS)
    rows = list(Milestone.select(Milestone, Project.id, Project.name, Project.customer)
                .join(Project, on=(Milestone.project == Project.id))
                .where((Milestone.owner == user.id) & Milestone.status.in_(OPEN_MILESTONE)
                       & (Milestone.due_on <= horizon))
                .order_by(Milestone.due_on, Milestone.id).limit(200))
    return [m for m in rows if m.due_on - dt.timedelta(days=m.remind_days) <= today][:limit]


def managed_overdue(user, today=None, limit=10):
    """Overdue milestones of the projects `user` manages (as project manager)."""
    today = today or clock.today()
    managed = ProjectMember.select(ProjectMember.project).where((ProjectMember.user == user.id)
                                                               & (ProjectMember.role == "project_manager"))
    return list(Milestone.select(Milestone, Project.id, Project.name, User.full_name.alias("owner_name"))
                .join(Project, on=(Milestone.project == Project.id))
                .switch(Milestone).join(User, pw.JOIN.LEFT_OUTER, on=(Milestone.owner == User.id))
                .where(Milestone.project.in_(managed) & Milestone.status.in_(OPEN_MILESTONE)
                       & (Milestone.due_on < today))
                .order_by(Milestone.due_on, Milestone.id).limit(limit).objects())


# ---- the time rules -----------------------------------------------------------------------------

def sweep(now=None, chunk=500):
    """Milestone reminders and overdue flags, idempotent (dedupe keys include the due date, so a moved
    milestone is reminded again). Reminder: to the owner from `remind_days` before the due date.
    Overdue: the day after the due date, to the owner and the project managers."""
    now = now or clock.now()
    today = clock.to_local(now).date()
    horizon = today + dt.timedelta(days=MAX_REMIND_DAYS)
    counts = {"reminders": 0, "overdue": 0}
    last = 0
    while True:
        rows = list(Milestone.select(Milestone.id, Milestone.name, Milestone.owner, Milestone.due_on,
                                     Milestone.remind_days, Milestone.project, Project.id, Project.name, Project.customer)
                    .join(Project, on=(Milestone.project == Project.id))
                    .where(Milestone.status.in_(OPEN_MILESTONE) & (Milestone.due_on <= horizon)
                           & (Milestone.id > last))
                    .order_by(Milestone.id).limit(chunk))
        if not rows:
            break
        last = rows[-1].id
        due = []
        for m in rows:
            if m.due_on < today:
                due.append(("overdue", m))
            elif m.due_on - dt.timedelta(days=m.remind_days) <= today:
                due.append(("reminder", m))
        if not due:
            continue
        managers = {}
        overdue_projects = {m.project_id for kind, m in due if kind == "overdue"}
        if overdue_projects:
            for pid, uid in (ProjectMember.select(ProjectMember.project, ProjectMember.user)
                             .where(ProjectMember.project.in_(overdue_projects)
                                    & (ProjectMember.role == "project_manager")).tuples()):
                managers.setdefault(pid, set()).add(uid)
        planned = []
        for kind, m in due:
            if kind == "reminder":
                if m.owner_id:
                    planned.append((m.owner_id, "milestone_due", f"ms-due:{m.id}:{m.due_on}", m,
                                    N_("Milestone %(name)s of project %(project)s is due on %(due)s.")))
            else:
                for uid in ({m.owner_id} | managers.get(m.project_id, set())) - {None}:
                    planned.append((uid, "milestone_overdue", f"ms-overdue:{m.id}:{m.due_on}:{uid}", m,
                                    N_("Milestone %(name)s of project %(project)s is overdue since %(due)s.")))
        keys = [p[2] for p in planned]
        with db.atomic():  # the write lock up front: the keys read here are still absent when inserted
            existing = {k for (k,) in Notification.select(Notification.dedupe_key)
                        .where(Notification.dedupe_key.in_(keys)).tuples()} if keys else set()
            rows = [{"user": uid, "at": now, "kind": kind, "message": message, "customer": m.project.customer_id,
                     "dedupe_key": key, "params": {"name": m.name, "project": m.project.name,
                                                   "due": m.due_on.isoformat(), "project_id": m.project_id,
                                                   "milestone_id": m.id}}
                    for uid, kind, key, m, message in planned if key not in existing]
            for i in range(0, len(rows), 100):  # bulk: a first sweep over a backlog writes thousands
                Notification.insert_many(rows[i:i + 100]).on_conflict_ignore().execute()
            for row in rows:
                counts["reminders" if row["kind"] == "milestone_due" else "overdue"] += 1
    return counts


hooks.on("sweep", sweep)
