"""Targets and performance over the web (issue 16 items 1 and 4): the team's targets per period with each rep's
share and progress, the manager's form that decomposes a target (the shares must add up), its versions, the
admin's kinds, the workbench cards with gap and pace, and the performance page (ranking for managers and
admins; a rep's own figures beside the team average)."""
from flask import Blueprint, render_template, request, url_for
from flask_login import current_user

from models import clock
from models import performance as pm
from models import targets as tm
from models.customer_tables import STAGES
from models.errors import N_, NotFound, ValidationError
from models.fields import int_or_none
from models.permissions import Marked, can, require
from views import extend
from views import htmx as hx
from views.forms import field_errors
from views.i18n import fmt_money, fmt_number, gettext as _, label

bp = Blueprint("targets", __name__)

SORT_LABELS = {"promoted": N_("Promotions"), "demoted": N_("Demotions"), "new_customer": N_("New customers"),
               "revenue": N_("Revenue"), "collection": N_("Collections"), "followup_valid": N_("Valid follow-ups"),
               "valid_rate": N_("Valid share"), "plan_rate": N_("Plans carried out"), "on_time_rate": N_("Plans on time"),
               "claim": N_("Pool claims"), "claim_signed": N_("Claims signed"),
               "lead_hours": N_("Lead response (h)")}
CLAIM_OUTCOME_LABELS = {"open": N_("still worked"), "signed": N_("signed"), "released": N_("released"),
                        "moved": N_("moved on")}
PACE_TEXT = {"month": N_("At this pace: %(pct)s %% by month end"),
             "quarter": N_("At this pace: %(pct)s %% by quarter end"),
             "year": N_("At this pace: %(pct)s %% by year end")}
extend.template_globals(PERIOD_LABELS=tm.PERIOD_LABELS, MEASURE_LABELS=tm.MEASURE_LABELS,
                        PERF_SORT_LABELS=SORT_LABELS, CLAIM_OUTCOME_LABELS=CLAIM_OUTCOME_LABELS)


def figure(value, money):
    """A target or an actual as shown: money in yuan, counts as whole numbers."""
    if value is None:
        return "—"
    return fmt_money(value) if money else fmt_number(round(value))


def pace_line(rate):
    """'At this pace: 82 % by month end' (or the final figure once the period is over)."""
    if rate["state"] == "future" or rate["projected_pct"] is None:
        return ""
    if rate["state"] == "ended":
        return _("Final: %(pct)s %%", pct=fmt_number(round(rate["projected_pct"])))
    return _(PACE_TEXT[rate.get("kind", "month")], pct=fmt_number(round(rate["projected_pct"])))


extend.template_filters(target_figure=figure)
extend.template_globals(pace_line=pace_line)


def _period():
    return tm.period_or_current(request.args.get("period") or request.form.get("period"),
                                request.args.get("by", "month"))


def _team(teams):
    wanted = int_or_none(request.args.get("team") or request.form.get("team"))
    for team in teams:
        if team.id == wanted:
            return team
    if wanted:
        raise NotFound()
    return teams[0] if teams else None


# ---- the targets page --------------------------------------------------------------------------------

@bp.get("/targets")
def index():
    teams = tm.teams_for(current_user)
    if not teams and not can(current_user, "target.mine"):
        raise NotFound()
    period = _period()
    team = _team(teams) if teams else None  # a rep's page shows their own shares, whatever team is asked for
    board = tm.team_board(team, period) if team else None
    mine = tm.my_progress(current_user, periods=[period]) if can(current_user, "target.mine") else []
    return render_template("targets/index.html", teams=teams, team=team, period=period, board=board, mine=mine,
                           saved=request.args.get("saved"))


def _kind(kind_id):
    kind = tm.TargetKind.get_or_none((tm.TargetKind.id == (kind_id or 0)) & (tm.TargetKind.active == True))  # noqa: E712
    if kind is None:
        raise NotFound()
    return kind


def _form_page(team, kind, period, values=None, errors=None, status=200):
    target = tm.get_target(team.id, kind.id, period)
    reps = tm.team_reps(team)
    if values is None:
        values = {"amount": target.amount if target else "", "version": target.version if target else 0}
        shares = {s.rep_id: s.amount for s in target.shares} if target else {}
        values.update({f"rep_{r.id}": shares.get(r.id, "") for r in reps})
    html = render_template("targets/_form.html" if request.htmx else "targets/edit.html", team=team, kind=kind,
                           period=period, target=target, reps=reps, values=values, errors=errors or {})
    return html, status


@bp.route("/targets/edit", methods=["GET", "POST"])
def edit():
    team = tm.team_or_404(current_user, int_or_none(request.values.get("team")))
    require(current_user, "target.set", team.id)
    kind = _kind(int_or_none(request.values.get("kind")))
    try:
        period = tm.parse_period(request.values.get("period"))
    except Exception:
        raise NotFound() from None
    if request.method == "GET":
        return _form_page(team, kind, period)
    try:
        tm.set_target(current_user, team, kind, period, request.form)
    except ValidationError as exc:
        return _form_page(team, kind, period, request.form, field_errors(exc, joined=True), 422 if not request.htmx else 200)
    return hx.redirect(url_for("targets.index", team=team.id, period=period.key, by=period.kind, saved=1))


@bp.get("/targets/<int:target_id>/history")
def history(target_id):
    target = tm.Target.get_or_none(tm.Target.id == target_id)
    if target is None or not can(current_user, "target.team", target.team_id):
        raise NotFound()
    names = {r.id: r.full_name for r in tm.team_reps(target.team_id)}
    changes = tm.history(target)
    missing = {int(k) for c in changes for k in c.shares} - set(names)
    if missing:
        names.update({u.id: u.full_name for u in tm.User.select().where(tm.User.id.in_(missing))})
    return render_template("targets/history.html", target=target, changes=changes, names=names,
                           period=tm.Period(target.period, target.starts_on))


# ---- kinds (admin) -----------------------------------------------------------------------------------

def _kinds_page(errors=None, form=None, status=200):
    return render_template("targets/kinds.html", rows=tm.kinds(active_only=False), errors=errors or {}, form=form or {},
                           measures=tm.MEASURES, stages=STAGES[1:], saved=request.args.get("saved")), status


@bp.route("/targets/kinds", methods=["GET", "POST"])
def kinds():
    require(current_user, "target.kinds")
    if request.method == "GET":
        return _kinds_page()
    try:
        tm.save_kind(current_user, request.form)
    except ValidationError as exc:
        return _kinds_page(field_errors(exc, joined=True), request.form, 422)
    return hx.redirect(url_for("targets.kinds", saved=1))


@bp.post("/targets/kinds/<int:kind_id>")
def kind_edit(kind_id):
    require(current_user, "target.kinds")
    kind = tm.TargetKind.get_or_none(tm.TargetKind.id == kind_id)
    if kind is None:
        raise NotFound()
    try:
        tm.save_kind(current_user, request.form, kind)
    except ValidationError as exc:
        return _kinds_page(field_errors(exc, joined=True), None, 422)
    return hx.redirect(url_for("targets.kinds", saved=1))


# ---- performance ---------------------------------------------------------------------------------------

@bp.get("/performance")
def performance():
    require(current_user, "performance.view")
    period = _period()
    teams = pm.teams_for(current_user)
    sort = request.args.get("sort", "promoted")
    ranking = own = team = None
    if teams:
        if request.args.get("team") == "all" and can(current_user, "performance.all_teams"):
            ranking = pm.ranking(current_user, period, None, sort)
        else:
            team = _team(teams)
            ranking = pm.ranking(current_user, period, team.id, sort)
    else:
        own = pm.for_rep(current_user, current_user, period)
    return render_template("targets/performance.html", period=period, teams=teams, team=team, ranking=ranking,
                           own=own, stages=STAGES, sort=ranking["sort"] if ranking else sort)


# ---- workbench and timeline ------------------------------------------------------------------------------

def _leads_team(user):
    return user.team_id and can(user, "target.team", user.team_id)


def _probe(user):
    """Any target this month: the team's for its manager, else the user's shares; kept (the workbench asks it on
    every visit), the team or the user and the month's first day as marks."""
    start = tm.containing("month", clock.today()).start
    if _leads_team(user):
        return extend.kept_probe("targets.team_month", lambda team, day: tm.targets_query(
            team, [tm.Period("month", day)]), user.team_id, start)
    return extend.kept_probe("targets.shares_month", lambda user_id, day: tm.shares_query(
        Marked(user, user_id, None), [tm.Period("month", day)]), user.id, start)


@extend.workbench_panel("targets/_wb_panel.html", roles=("sales", "manager"), order=5, probe=_probe)
def _workbench_panel(user, found=True):
    month = [tm.containing("month", clock.today())]  # the month here; quarter and year on the targets page
    team_rows = mine = []  # not `found`: no target this month, nothing to read
    if found and _leads_team(user):  # a manager: the team's (their share is on the page)
        team_rows = tm.team_progress(tm.Team(id=user.team_id), periods=month)  # only its id is read
    elif found:
        mine = tm.my_progress(user, periods=month)
    if not mine and not team_rows and not can(user, "target.set", user.team_id):
        return None
    return {"period": month[0], "mine": mine, "team": team_rows,
            "can_set": user.team_id and can(user, "target.set", user.team_id)}


@extend.timeline("target.")
def describe(e):
    d = e.data or {}
    if e.kind == "target.set":
        return _("Target %(kind)s for %(team)s, %(period)s set to %(amount)s (version %(v)s). %(reason)s",
                 kind=d.get("target_kind", ""), team=d.get("team", ""), period=d.get("period", ""), amount=d.get("amount", ""),
                 v=d.get("version", 1), reason=d.get("reason", ""))
    if e.kind == "target.kind_saved":
        return _("Target kind saved: %(label)s (%(measure)s)", label=d.get("label", ""),
                 measure=label(tm.MEASURE_LABELS, d.get("measure", "")))
    return None

