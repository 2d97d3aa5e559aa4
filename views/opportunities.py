"""Opportunities over the web: the pipeline board (drag or buttons), the list, the forecast, stage
settings, an opportunity's page, and the Opportunities tab of the 360 page. Rules live in
models/opportunities.py; this module maps requests to its verbs."""
import datetime as dt
from decimal import Decimal

from flask import Blueprint, make_response, render_template, request, url_for
from flask_login import current_user
from wtforms import DateField, SelectField, StringField

from models import audit, clock, sql
from models import opportunities as opps
from models.fields import parse_id
from models.customers import BUSINESS_MODEL_LABELS, BUSINESS_MODELS, get_customer
from models.errors import N_, DomainError, ValidationError
from models.permissions import SELLERS, can, require
from models.users import Team, User
from views import extend
from views import htmx as hx
from views.forms import Form, error_line, field_errors
from views.i18n import gettext as _
from views.i18n import label, translate_error

bp = Blueprint("opportunities", __name__)


class OpportunityForm(Form):
    name = StringField()
    amount = StringField()
    expected_close = DateField()
    stage = SelectField()
    probability = StringField()
    probability_reason = StringField()
    product_lines = StringField()
    next_step = StringField()
    competitors = StringField()
    owner_id = SelectField()

    LABELS = {"name": N_("Opportunity"), "amount": N_("Amount (yuan)"), "expected_close": N_("Expected close"),
              "stage": N_("Stage"), "probability": N_("Probability, per cent"),
              "probability_reason": N_("Why this probability?"), "product_lines": N_("Product lines"),
              "next_step": N_("Next step"), "competitors": N_("Competitors"), "owner_id": N_("Owner")}

    def __init__(self, formdata=None, opp=None, customer=None):
        super().__init__(formdata)
        for name, text in self.LABELS.items():
            self[name].label.text = _(text)
        self.stage.choices = [(s, label(opps.STAGE_LABELS, s)) for s in opps.OPEN_STAGES]
        self.owner_id.choices = []
        if customer is not None and can(current_user, "opportunity.choose_owner"):
            q = User.holding(*SELLERS, fields=(User.id, User.full_name))
            if customer.team_id:
                q = q.where(User.team == customer.team_id)
            self.owner_id.choices = [("", _("The customer's owner"))] + [(str(u.id), u.full_name)
                                                                       for u in q.order_by(User.full_name)]
        if formdata is None and opp is not None:
            for name in ("name", "product_lines", "next_step", "competitors"):
                self[name].data = getattr(opp, name)
            self.amount.data = "" if opp.amount is None else f"{opp.amount:.2f}"
            self.expected_close.data = opp.expected_close
        if formdata is None and opp is None:
            self.expected_close.data = clock.today() + dt.timedelta(days=60)


class MoveForm(Form):
    stage = SelectField()
    probability = StringField()
    probability_reason = StringField()
    lost_reason = StringField()
    amount = StringField()

    LABELS = {"stage": N_("Move to"), "probability": N_("Probability, per cent"),
              "probability_reason": N_("Why this probability?"), "lost_reason": N_("Why was it lost?"),
              "amount": N_("Amount won (yuan)")}

    def __init__(self, formdata=None, opp=None):
        super().__init__(formdata)
        for name, text in self.LABELS.items():
            self[name].label.text = _(text)
        self.stage.choices = [(s, label(opps.STAGE_LABELS, s)) for s in opps.STAGES if opp is None or s != opp.stage]


def _raw():
    return {k: v for k, v in request.form.items() if k != "csrf_token"}


def _load(opportunity_id, action="opportunity.view"):
    opp = opps.get_opportunity(opportunity_id)
    require(current_user, action, opp)
    return opp


# ---- board, list, statistics -------------------------------------------------------------------------

def _filter_choices(f):
    """The filter bar: teams and months as lists; the owner is a type-ahead person picker (views/pickers.py,
    field "opportunity_owner", over the same people), with its current choice."""
    teams = []
    owners = can(current_user, "opportunity.filter_team") or bool(
        can(current_user, "opportunity.filter_owner") and current_user.team_id)
    if can(current_user, "opportunity.filter_team"):
        teams = list(Team.select(Team.id, Team.name).order_by(Team.name).tuples())
    picked = User.get_or_none(User.id == f.owner) if owners and f.owner else None
    today = clock.today().replace(day=1)
    months = [opps._add_months(today, i) for i in range(-3, 13)]
    return {"owners": owners, "owner_pick": (picked.id, picked.full_name) if picked else None, "teams": teams,
            "months": months}


def _board_texts():
    """The board's words, translated once per request (160 cards would otherwise translate each)."""
    stages = {s: label(opps.STAGE_LABELS, s) for s in opps.STAGES}
    return {"stage": stages, "back": {s: _("Back to %(stage)s", stage=t) for s, t in stages.items()},
            "on": {s: _("On to %(stage)s", stage=t) for s, t in stages.items()},
            "weighted": _("Weighted"), "close": _("Expected close"), "move": _("Move…"), "unassigned": _("Unassigned"),
            "no_amount": _("no amount"), "override": _("Probability set by the rep"), "none": _("None"),
            "move_to": _("Move to another stage"), "base": url_for("opportunities.board")}


def _board_context(f):
    b = opps.board(current_user, f)
    editable = {o.id: can(current_user, "opportunity.edit", o) for cards in b["cards"].values() for o in cards}
    return dict(f=f, b=b, tx=_board_texts(), editable=editable, today_=clock.today())


@bp.get("/opportunities")
def board():
    require(current_user, "opportunity.pipeline")
    f = opps.Filters.parse(request.args, current_user)
    context = dict(choices=_filter_choices(f), **_board_context(f))
    return hx.fragment_or_page("opportunities/_board.html", "opportunities/board.html", **context)


def _board_response(f, status=200):
    response = make_response(render_template("opportunities/_board.html", **_board_context(f)), status)
    return hx.trigger(response, "opportunityMoved")


def yuan(value):
    """|money for the bulk pages (the board's 160 cards): the same text in both screen languages
    (¥1,234.50), without Babel's per-call pattern parsing; other locales fall back to |money."""
    from views.i18n import fmt_money, locale_code

    if value is None:
        return ""
    if not locale_code().startswith(("zh", "en")):
        return fmt_money(value)
    return f"¥{value:,.2f}" if value >= 0 else f"-¥{-value:,.2f}"


@bp.get("/opportunities/list")
def listing():
    require(current_user, "opportunity.pipeline")
    f = opps.Filters.parse(request.args, current_user)
    stage = request.args.get("stage") if request.args.get("stage") in opps.STAGES else None
    status = request.args.get("status") if request.args.get("status") in ("open", "closed", "all") else "open"
    rows, cursor = opps.page(current_user, f, stage=stage, status=status, after=request.args.get("after"))
    context = dict(f=f, rows=rows, cursor=cursor, stage=stage, status=status, choices=_filter_choices(f))
    if request.htmx and request.args.get("after"):
        return render_template("opportunities/_list_rows.html", **context)
    return hx.fragment_or_page("opportunities/_list.html", "opportunities/list.html", **context)


@bp.get("/opportunities/stats")
def stats():
    require(current_user, "opportunity.pipeline")
    f = opps.Filters.parse(request.args, current_user)
    return render_template("opportunities/_stats.html", s=opps.stage_statistics(current_user, f))


# ---- forecast ---------------------------------------------------------------------------------------------

@bp.get("/opportunities/forecast")
def forecast():
    require(current_user, "opportunity.forecast")
    by_teams = can(current_user, "opportunity.forecast_teams")
    team = request.args.get("team", type=parse_id) if by_teams else None
    fc = opps.forecast(current_user, team=team)
    teams = list(Team.select(Team.id, Team.name).order_by(Team.name).tuples()) if by_teams else []
    rows = fc["reps"] if not by_teams or team else fc["teams"]
    chart = {"labels": [r["name"] or _("Unassigned") for r in rows][:30],
             "month": [float(r["month"]["weighted"]) for r in rows][:30],
             "quarter": [float(r["quarter"]["weighted"]) for r in rows][:30],
             "names": {"month": _("Next month (weighted)"), "quarter": _("Next quarter (weighted)")}}
    ends = {key: hi - dt.timedelta(days=1) for key, _lo, hi in fc["periods"]}
    return render_template("opportunities/forecast.html", fc=fc, teams=teams, team=team, chart=chart, ends=ends,
                           by_team=by_teams and not team)


# ---- settings --------------------------------------------------------------------------------------------

@bp.route("/opportunities/settings", methods=["GET", "POST"])
def settings():
    require(current_user, "opportunity.settings")
    errors, saved = {}, None
    values = {}
    for bm, stages in opps.all_stage_settings().items():
        for s, config in stages.items():
            values.update({f"prob-{bm}-{s}": config.probability, f"actions-{bm}-{s}": config.key_actions,
                           f"name_zh-{bm}-{s}": config.name_zh, f"name_en-{bm}-{s}": config.name_en,
                           f"criteria-{bm}-{s}": config.entry_criteria})
    if request.method == "POST":
        values.update(_raw())
        try:
            saved = opps.save_stage_settings(current_user, _raw())
        except ValidationError as exc:
            errors = field_errors(exc, joined=True)
    return render_template("opportunities/settings.html", values=values, errors=errors, saved=saved,
                           models=[(bm, label(BUSINESS_MODEL_LABELS, bm)) for bm in BUSINESS_MODELS])


# ---- one opportunity --------------------------------------------------------------------------------

def _history(opp):
    """The opportunity's audit rows (stage changes, probability overrides, edits), oldest first."""
    rows = (audit.AuditEvent.select().where(
        (audit.AuditEvent.customer == opp.customer_id) & audit.AuditEvent.kind.startswith("opportunity.")
        & (sql.json_int(audit.AuditEvent.data, "opportunity_id") == opp.id))
        .order_by(audit.AuditEvent.id).limit(200))
    rows = list(rows)
    names = {u.id: u.full_name for u in User.select(User.id, User.full_name)
             .where(User.id.in_({r.actor_id for r in rows if r.actor_id} or {0}))}
    for r in rows:
        r.actor_name = names.get(r.actor_id, "")
    return rows


def _dwell(opp):
    """Days spent in each stage so far, from the stage-change rows (the current stage: until now)."""
    changes = opps.history(opp)
    out = []
    for i, ch in enumerate(changes):
        until = changes[i + 1].at if i + 1 < len(changes) else (opp.closed_at or clock.now())
        out.append({"stage": ch.to_stage, "at": ch.at, "days": round((until - ch.at).total_seconds() / 86400, 1),
                    "probability": ch.probability, "actor": ch.actor_name or "", "reason": ch.reason,
                    "current": i + 1 == len(changes)})
    return out


@bp.get("/opportunities/<int:opportunity_id>")
def show(opportunity_id):
    opp = _load(opportunity_id)
    owner = User.get_or_none(User.id == opp.owner_id) if opp.owner_id else None
    default = opps.default_probability(opp.customer.business_model, opp.stage)
    return render_template("opportunities/show.html", opp=opp, owner=owner, events=_history(opp),
                           dwell=_dwell(opp), default=default, move_form=MoveForm(opp=opp),
                           stage_config=opps.stage_settings(opp.customer.business_model),
                           cards=extend.opportunity_cards(opp, current_user))


@bp.route("/opportunities/<int:opportunity_id>/edit", methods=["GET", "POST"])
def edit(opportunity_id):
    opp = _load(opportunity_id, "opportunity.edit")
    form = OpportunityForm(request.form if request.method == "POST" else None, opp=opp)
    if request.method == "POST":
        try:
            opps.update_opportunity(current_user, opp, _raw())
        except ValidationError as exc:
            field_errors(exc, form)
        else:
            return hx.redirect(url_for("opportunities.show", opportunity_id=opp.id))
    template = "opportunities/_form.html" if request.htmx else "opportunities/form.html"
    return render_template(template, form=form, opp=opp, customer=opp.customer)


@bp.route("/opportunities/<int:opportunity_id>/move", methods=["GET", "POST"])
def move(opportunity_id):
    """GET: the move form (a dialog on the board). POST: the move; from the board (`from=board`) the
    answer is the board with its new totals, or the form with its errors retargeted into the dialog."""
    opp = _load(opportunity_id, "opportunity.edit")
    origin = "board" if request.values.get("from") == "board" else "page"
    f = opps.Filters.parse(request.values, current_user)
    if request.method == "GET":
        form = MoveForm(opp=opp)
        if request.args.get("stage") in opps.STAGES and request.args.get("stage") != opp.stage:
            form.stage.data = request.args["stage"]
        return _move_form(opp, form, origin, f)
    form = MoveForm(request.form, opp=opp)
    try:
        opps.move_opportunity(current_user, opp, request.form.get("stage", ""), _raw())
    except ValidationError as exc:
        field_errors(exc, form)
        if origin == "page":
            return render_template("opportunities/_move_inline.html", opp=opp, move_form=form)
        response = _move_form(opp, form, origin, f)
        return hx.retarget(response, "#move-dialog-body") if request.htmx else response
    if origin == "board" and request.htmx:
        return _board_response(f)
    return hx.redirect(url_for("opportunities.show", opportunity_id=opp.id))


def _move_form(opp, form, origin, f):
    default = {s: opps.default_probability(opp.customer.business_model, s) for s in opps.STAGES}
    return make_response(render_template("opportunities/_move_form.html", opp=opp, form=form, origin=origin, f=f,
                                         defaults=default))


@bp.post("/opportunities/<int:opportunity_id>/probability")
def probability(opportunity_id):
    opp = _load(opportunity_id, "opportunity.edit")
    error = None
    try:
        opps.set_probability(current_user, opp, request.form.get("probability"), request.form.get("probability_reason"))
    except ValidationError as exc:
        error = error_line(exc)
    except DomainError as exc:
        error = translate_error(exc.message, exc.params)
    if error is None:
        return hx.redirect(url_for("opportunities.show", opportunity_id=opp.id))
    default = opps.default_probability(opp.customer.business_model, opp.stage)
    return render_template("opportunities/_probability_form.html", opp=opp, default=default, error=error,
                           value=request.form.get("probability", ""), reason=request.form.get("probability_reason", ""))


@bp.route("/customers/<int:customer_id>/opportunities/new", methods=["GET", "POST"])
def new(customer_id):
    customer = get_customer(customer_id)
    require(current_user, "opportunity.create", customer)
    form = OpportunityForm(request.form if request.method == "POST" else None, customer=customer)
    if request.method == "POST":
        try:
            opps.create_opportunity(current_user, customer, _raw())
        except ValidationError as exc:
            field_errors(exc, form)
        else:
            if request.htmx:
                return hx.fragment("opportunities/_tab.html", "customerChanged", target="#tab-body", customer=customer,
                                   **_tab_context(customer, current_user), saved=True)
            return hx.redirect(url_for("customers.show", customer_id=customer.id, tab="opportunities"))
    template = "opportunities/_form.html" if request.htmx else "opportunities/form.html"
    return render_template(template, form=form, opp=None, customer=customer,
                           defaults={s: opps.default_probability(customer.business_model, s) for s in opps.OPEN_STAGES})


# ---- the 360 tab -------------------------------------------------------------------------------------

@extend.customer_tab("opportunities", N_("Opportunities"), "opportunities/_tab.html", order=20,
                     visible=lambda user, customer: can(user, "opportunity.list", customer))
def _tab_context(customer, user):
    rows = list(opps.of_customer(customer))
    owners = {u.id: u.full_name for u in User.select(User.id, User.full_name)
              .where(User.id.in_({r.owner_id for r in rows if r.owner_id} or {0}))}
    open_rows = [r for r in rows if r.is_open]
    return {"opps": rows, "owners": owners, "stage_config": opps.stage_settings(customer.business_model),
            "open_amount": sum((r.amount or Decimal(0) for r in open_rows), Decimal("0.00")),
            "open_weighted": sum((r.weighted or Decimal(0) for r in open_rows), Decimal("0.00"))}


@extend.workbench_panel("opportunities/_wb_panel.html", roles=("sales", "manager"), order=15)
def _workbench_panel(user):
    if not can(user, "opportunity.pipeline"):
        return None
    return opps.workbench_summary(user)



# ---- timeline sentences -----------------------------------------------------------------------------

@extend.timeline("opportunity.")
def describe(e):
    """An opportunity audit row as a sentence (the 360 timeline)."""
    from views.i18n import fmt_money

    d = e.data or {}
    name = d.get("name", "")
    stage = lambda key: label(opps.STAGE_LABELS, d.get(key))  # noqa: E731
    money = lambda key: fmt_money(Decimal(d[key])) if d.get(key) not in (None, "") else "—"  # noqa: E731
    if e.kind == "opportunity.created":
        return _("opened the opportunity %(name)s (%(amount)s, %(stage)s, %(p)s%%)", name=name, amount=money("amount"),
                 stage=stage("stage"), p=d.get("probability")) + (" — " + d["reason"] if d.get("reason") else "")
    if e.kind == "opportunity.stage_changed":
        text = _("moved %(name)s from %(a)s to %(b)s: %(p0)s%% → %(p)s%%, weighted %(w)s", name=name,
                 a=stage("from_stage"), b=stage("to_stage"), p0=d.get("from_probability"), p=d.get("probability"),
                 w=money("weighted"))
        extra = d.get("lost_reason") or d.get("reason")
        return text + (" — " + extra if extra else "")
    if e.kind == "opportunity.probability_changed":
        return _("changed the probability of %(name)s from %(p0)s%% to %(p)s%%, weighted %(w)s", name=name,
                 p0=d.get("from_probability"), p=d.get("probability"), w=money("weighted")) + \
            (" — " + d["reason"] if d.get("reason") else "")
    if e.kind == "opportunity.updated":
        return _("edited the opportunity %(name)s", name=name)
    if e.kind == "opportunity.merged":
        return _("took over %(n)s opportunity(ies) from a merged duplicate", n=len(d.get("opportunity_ids", [])))
    if e.kind == "opportunity.owner_followed":
        return _("%(n)s open opportunity(ies) followed the customer to its new owner", n=len(d.get("opportunity_ids", [])))
    return None


extend.template_globals(OPP_STAGE_LABELS=opps.STAGE_LABELS, OPP_STAGES=opps.STAGES, OPP_OPEN_STAGES=opps.OPEN_STAGES)
extend.template_filters(yuan=yuan)
