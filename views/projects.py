"""Projects over the web: proposals (立项) and their approval, the project page with its team,
milestones (list and timeline), costs and contract, the project list, the admin's approval
criteria, and the project cards on the 360 page, the workbench and the approvals inbox."""
from flask import Blueprint, make_response, render_template, request, url_for
from flask_login import current_user

from models import clock
from models import projects as pj
from models.fields import id_or_none, parse_id
from models.customers import get_customer
from models.errors import N_, DomainError, NotFound, ValidationError
from models.keyset import keyset_page
from models.opportunities import Opportunity
from models.permissions import can, require, scope
from models.users import User
from views import extend
from views import htmx as hx
from views.forms import field_errors
from views.i18n import label, locale_code, translate_error

bp = Blueprint("projects", __name__)
PAGE = 25


def _load(project_id, action="project.view"):
    project = pj.get_project(project_id)
    require(current_user, action, project)
    return project


# ---- list ------------------------------------------------------------------------------------------

def _scopes(user):
    scopes = [("mine", N_("Mine"))]
    if can(user, "project.list_team"):
        scopes.append(("team", N_("My team")))
    if can(user, "project.list_all"):
        scopes.append(("all", N_("All projects")))
    return scopes


@bp.get("/projects")
def index():
    require(current_user, "project.list")
    scopes = _scopes(current_user)
    scope = request.args.get("scope")
    if scope not in [s for s, _t in scopes]:
        scope = scopes[-1][0]  # the widest the user has
    status = request.args.get("status") if request.args.get("status") in pj.STATUSES else ""
    q = pj.scoped(current_user, scope)
    if status:
        q = q.where(pj.Project.status == status)
    found = keyset_page(q, [pj.Project.id], after=request.args.get("after"), limit=PAGE, descending=True)
    rows = found.rows
    _annotate_rows(rows)
    context = dict(rows=rows, scopes=scopes, scope=scope, status=status, next_after=found.next)
    return hx.fragment_or_page("projects/_list_rows.html", "projects/index.html", **context)


def _annotate_rows(rows):
    """Requester names and open/overdue milestone counts for a page of projects: three queries in all."""
    if not rows:
        return
    ids = [p.id for p in rows]
    names = {u.id: u.full_name for u in User.select(User.id, User.full_name)
             .where(User.id.in_({p.requested_by_id for p in rows if p.requested_by_id}))}
    today = clock.today()
    counts = {}
    for pid, due in (pj.Milestone.select(pj.Milestone.project, pj.Milestone.due_on)
                     .where(pj.Milestone.project.in_(ids) & pj.Milestone.status.in_(pj.OPEN_MILESTONE)).tuples()):
        c = counts.setdefault(pid, [0, 0])
        c[0] += 1
        if due < today:
            c[1] += 1
    for p in rows:
        p.requester_name = names.get(p.requested_by_id, "")
        p.open_milestones, p.overdue_milestones = counts.get(p.id, (0, 0))


# ---- proposal ---------------------------------------------------------------------------------------

def _opportunity_choices(customer):
    return [(o.id, o.name) for o in Opportunity.select(Opportunity.id, Opportunity.name)
            .where(Opportunity.customer == customer.id).order_by(Opportunity.id.desc()).limit(100)]


@bp.route("/customers/<int:customer_id>/projects/new", methods=["GET", "POST"])
def new(customer_id):
    customer = get_customer(customer_id)
    require(current_user, "customer.view", customer)
    require(current_user, "project.propose", customer)
    errors, form = {}, request.form
    if request.method == "POST":
        try:
            project = pj.propose_project(current_user, customer, request.form)
        except ValidationError as exc:
            errors = field_errors(exc, joined=True)
        except DomainError as exc:
            errors = {"_": translate_error(exc.message, exc.params)}
        else:
            return hx.redirect(url_for("projects.show", project_id=project.id, proposed=1))
    context = dict(customer=customer, criteria=pj.active_criteria(), errors=errors, form=form,
                   opportunities=_opportunity_choices(customer), loc=locale_code(),
                   project_type=pj.is_project_type(customer))
    if request.method == "POST" and request.htmx:
        return render_template("projects/_propose_form.html", **context)
    return render_template("projects/new.html", **context)


# ---- the project page ----------------------------------------------------------------------------

def _context(project, **extra):
    customer = project.customer
    members = pj.members_of(project)
    milestones = pj.milestones_of(project)
    today = clock.today()
    names = {u.id: u.full_name for u in User.select(User.id, User.full_name)
             .where(User.id.in_({project.requested_by_id, project.decided_by_id} - {None}))}
    from models import documents as docs
    ctx = dict(
        project=project, customer=customer, members=members, milestones=milestones,
        by_id={m.id: m for m in milestones}, timeline=pj.timeline(milestones, today), today=today,
        answers=list(project.answers.order_by(pj.ProjectAnswer.id)), names=names, loc=locale_code(),
        profit=pj.profitability(project), costs=list(project.costs.order_by(pj.ProjectCost.id.desc())),
        documents=docs.documents_of(project=project), doc_target=("project", project.id),
        can_work=can(current_user, "project.work", project) and project.status == "approved",
        can_team=can(current_user, "project.manage_team", project) and project.status == "approved",
        can_decide=can(current_user, "project.decide", project) and project.status == "pending",
        can_sign=can(current_user, "project.sign_contract", project) and project.status == "approved",
        member_pick=None,
        opportunity=Opportunity.get_or_none(Opportunity.id == project.opportunity_id) if project.opportunity_id else None,
        errors={}, form={},
    )
    ctx.update(extra)
    if ctx["can_team"]:  # the colleague picker's current choice (the picker searches the rest)
        picked = User.get_or_none(User.id == id_or_none((ctx["form"] or {}).get("user_id")))
        ctx["member_pick"] = (picked.id, picked.full_name) if picked else None
    return ctx


@bp.get("/projects/<int:project_id>")
def show(project_id):
    project = _load(project_id)
    return render_template("projects/show.html", proposed=request.args.get("proposed"), **_context(project))


def _section_after(project, template, verb, error_extra=None, saved_extra=None):
    """Run a verb on the project's form and answer with its section: the form's errors in place, a
    refusal as a toast, or the saved section."""
    return hx.run_verb(
        lambda: verb(current_user, project, request.form),
        invalid=lambda exc: _section(project, template, errors=field_errors(exc, joined=True), form=request.form, **(error_extra or {})),
        done=lambda _result: _section(project, template, **(saved_extra or {"saved": True})))


def _section(project, template, **extra):
    """The section again for htmx; without JavaScript the whole page (errors shown in place) or, after a
    success, a redirect back to it."""
    project = pj.get_project(project.id)
    if not request.htmx:
        if extra.get("errors") or extra.get("status_error") or extra.get("decision_error"):
            return render_template("projects/show.html", **_context(project, **extra))
        return hx.redirect(url_for("projects.show", project_id=project.id))
    return render_template(template, **_context(project, **extra))


# ---- decision -------------------------------------------------------------------------------------

@bp.post("/projects/<int:project_id>/decide")
def decide(project_id):
    """One answer for htmx: the project's approval row with the decision or the reason it was refused,
    and `approvalsChanged` + `projectDecided` once decided. The project page takes the error out of it
    and draws itself again on `projectDecided`. Without htmx: the page with the error, or a redirect."""
    project = _load(project_id, "project.decide")
    approve = request.form.get("decision") == "approve"
    error = None
    try:
        pj.decide_project(current_user, project, approve, request.form.get("reason", ""))
    except ValidationError as exc:
        error = field_errors(exc, joined=True).get("reason")
    except DomainError as exc:
        error = translate_error(exc.message, exc.params)
    project = pj.get_project(project.id)
    if not request.htmx:
        if error is None:
            return hx.redirect(url_for("projects.show", project_id=project.id))
        return render_template("projects/show.html", **_context(project, decision_error=error, form=request.form))
    response = make_response(render_template("projects/_approval_row.html", p=project, error=error,
                                             names=_names(project)))
    return hx.trigger(hx.trigger(response, "approvalsChanged"), "projectDecided") if error is None else response


def _names(project):
    ids = {project.requested_by_id, project.decided_by_id} - {None}
    return {u.id: u.full_name for u in User.select(User.id, User.full_name).where(User.id.in_(ids))}


# ---- team -------------------------------------------------------------------------------------------

@bp.post("/projects/<int:project_id>/members")
def add_member(project_id):
    project = _load(project_id, "project.manage_team")
    return _section_after(project, "projects/_team.html", pj.add_member)


@bp.post("/projects/<int:project_id>/members/<int:member_id>/remove")
def remove_member(project_id, member_id):
    project = _load(project_id, "project.manage_team")
    try:
        pj.remove_member(current_user, project, member_id)
    except NotFound:
        raise
    except DomainError as exc:
        return _section(project, "projects/_team.html", errors={"_": translate_error(exc.message, exc.params)})
    return _section(project, "projects/_team.html")


# ---- milestones ------------------------------------------------------------------------------------

def _milestone(project, milestone_id):
    milestone = pj.Milestone.get_or_none((pj.Milestone.id == milestone_id) & (pj.Milestone.project == project.id))
    if milestone is None:
        raise NotFound()
    return milestone


@bp.post("/projects/<int:project_id>/milestones")
def add_milestone(project_id):
    project = _load(project_id, "project.work")
    return _section_after(project, "projects/_milestones.html", pj.save_milestone, error_extra={"open_form": True})


@bp.route("/projects/<int:project_id>/milestones/<int:milestone_id>/edit", methods=["GET", "POST"])
def edit_milestone(project_id, milestone_id):
    project = _load(project_id, "project.work")
    milestone = _milestone(project, milestone_id)
    errors, form = {}, None
    if request.method == "POST":
        try:
            pj.save_milestone(current_user, project, request.form, milestone)
        except ValidationError as exc:
            errors, form = field_errors(exc, joined=True), request.form
        except DomainError as exc:
            return hx.toast(translate_error(exc.message, exc.params), 409)
        else:
            return _section(project, "projects/_milestones.html", saved=True)
    if not request.htmx:  # without JavaScript: the page with the form open under the milestones
        return render_template("projects/show.html", **_context(project, editing=milestone, m=milestone,
                                                               errors=errors, form=form or {}))
    return render_template("projects/_milestone_form.html", **_context(project, m=milestone, errors=errors,
                                                                       form=form or {}))


@bp.post("/projects/<int:project_id>/milestones/<int:milestone_id>/status")
def milestone_status(project_id, milestone_id):
    project = _load(project_id, "project.work")
    milestone = _milestone(project, milestone_id)
    try:
        pj.set_milestone_status(current_user, milestone, request.form.get("status"))
    except DomainError as exc:
        return _section(project, "projects/_milestones.html", status_error=(milestone.id, translate_error(exc.message, exc.params)))
    return _section(project, "projects/_milestones.html")


# ---- costs and contract -----------------------------------------------------------------------------

@bp.post("/projects/<int:project_id>/costs")
def add_cost(project_id):
    project = _load(project_id, "project.work")
    return _section_after(project, "projects/_costs.html", pj.add_cost)


@bp.post("/projects/<int:project_id>/costs/<int:cost_id>/remove")
def remove_cost(project_id, cost_id):
    project = _load(project_id, "project.work")
    pj.remove_cost(current_user, project, cost_id)
    return _section(project, "projects/_costs.html")


@bp.post("/projects/<int:project_id>/contract")
def sign_contract(project_id):
    project = _load(project_id, "project.sign_contract")
    return _section_after(project, "projects/_costs.html", pj.sign_contract, error_extra={"contract_open": True},
                          saved_extra={"contract_saved": True})


# ---- approval criteria (admin) ----------------------------------------------------------------------

@bp.route("/admin/project-criteria", methods=["GET", "POST"])
def criteria():
    require(current_user, "project.criteria")
    errors, form = {}, {}
    if request.method == "POST":
        try:
            pj.save_criterion(current_user, request.form)
        except ValidationError as exc:
            errors, form = field_errors(exc, joined=True), request.form
        else:
            return hx.redirect(url_for("projects.criteria", saved=1))
    rows = list(pj.ApprovalCriterion.select().order_by(pj.ApprovalCriterion.position, pj.ApprovalCriterion.id))
    return render_template("projects/criteria.html", rows=rows, errors=errors, form=form,
                           saved=request.args.get("saved"))


@bp.post("/admin/project-criteria/<int:criterion_id>")
def criterion_edit(criterion_id):
    require(current_user, "project.criteria")
    row = pj.ApprovalCriterion.get_or_none(pj.ApprovalCriterion.id == criterion_id)
    if row is None:
        raise NotFound()
    try:
        row = pj.save_criterion(current_user, request.form, row)
    except ValidationError as exc:
        return render_template("projects/_criterion_row.html", c=row, errors=field_errors(exc, joined=True), form=request.form)
    return render_template("projects/_criterion_row.html", c=row, errors={}, form={}, saved=True)


# ---- on other pages: 360 tab, workbench, approvals inbox --------------------------------------------

# project-sales customers only (no query on every 360 page); a customer whose business model changed
# later keeps its projects in the project list
@extend.customer_tab("projects", N_("Projects"), "projects/_tab.html", order=40,
                     visible=lambda user, customer: pj.is_project_type(customer))
def _customer_tab(customer, user):
    rows = list(scope("project", user).where(pj.Project.customer == customer.id)
                .order_by(pj.Project.id.desc()).limit(50))
    _annotate_rows(rows)
    return {"projects": rows, "can_propose": can(user, "project.propose", customer) and pj.is_project_type(customer)}


@extend.workbench_panel("projects/_workbench.html", roles=("sales", "manager", "service", "admin", "marketing"),
                        order=15, probe=lambda user: [
                            extend.kept_probe("projects.due_milestones", pj.due_milestone_ids, user.id,
                                              pj.milestone_horizon(clock.today())),
                            extend.kept_probe("projects.managed", pj.managed_project_ids, user.id)])
def _workbench_panel(user, found=(True, True)):
    mine = pj.my_milestones(user) if found[0] else []
    flagged = pj.managed_overdue(user) if found[1] else []
    if not mine and not flagged:
        return None
    return {"mine": mine, "flagged": flagged, "today": clock.today()}


@extend.approvals_section("projects", N_("Project approvals (立项)"), "projects/_approvals.html",
                          count=pj.pending_count, order=20)
def _inbox_rows(user):
    rows = list(pj.pending_for(user))
    ids = {p.requested_by_id for p in rows} - {None}
    names = {u.id: u.full_name for u in User.select(User.id, User.full_name).where(User.id.in_(ids))} if ids else {}
    met = {}
    if rows:
        from peewee import fn
        for pid, yes, total in (pj.ProjectAnswer.select(pj.ProjectAnswer.project,
                                                        fn.SUM(pj.ProjectAnswer.answer.cast("int")),
                                                        fn.COUNT(pj.ProjectAnswer.id))
                                .where(pj.ProjectAnswer.project.in_([p.id for p in rows]))
                                .group_by(pj.ProjectAnswer.project).tuples()):
            met[pid] = (int(yes or 0), total)
    for p in rows:
        p.met = met.get(p.id, (0, 0))
    return [{"p": p, "names": names} for p in rows]


extend.template_globals(
    PROJECT_STATUS_LABELS=pj.STATUS_LABELS, TEAM_ROLE_LABELS=pj.TEAM_ROLE_LABELS, TEAM_ROLES=pj.TEAM_ROLES,
    MILESTONE_STATUS_LABELS=pj.MILESTONE_STATUS_LABELS, MILESTONE_STATUSES=pj.MILESTONE_STATUSES,
    COST_CATEGORY_LABELS=pj.COST_CATEGORY_LABELS, COST_CATEGORIES=pj.COST_CATEGORIES,
    COST_KIND_LABELS=pj.COST_KIND_LABELS, choice_options=lambda keys, labels: [(k, label(labels, k)) for k in keys],
    member_options=lambda members: [(m.user_id, m.user.full_name) for m in members])
