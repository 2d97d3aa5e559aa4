"""Customer value over the web (issue 15): the value rule (admin: weights, thresholds, SLA per tier, a
preview, versions), influence entered on the 360 page, the value card and tier badge there, the tier
sentences of the timeline, the value pyramid for managers and admins, and its click-through lists."""
import datetime as dt

from flask import Blueprint, make_response, render_template, request, url_for
from flask_login import current_user

from models import care, clock
from models import rules as pool_rules
from models import value as vm
from models.fields import parse_id
from models.customers import get_customer
from models.errors import N_, DomainError, NotFound, ValidationError
from models.permissions import can, require
from models.users import Region, Team
from views import extend
from views import htmx as hx
from views.forms import field_errors
from views.i18n import fmt_money, gettext as _, label, locale_code
from views.rules import effective_from

bp = Blueprint("value", __name__)

SLA_PRIORITY_LABELS = {"urgent": N_("Urgent"), "high": N_("High"), "normal": N_("Normal"), "low": N_("Low")}
REASON_TEXT = {
    "overdue": N_("an instalment overdue %(value)s days > %(limit)s"),
    "collection": N_("collection rate %(value)s %% < %(limit)s %%"),
    "growth": N_("growth %(value)s %% ≥ %(limit)s %%"),
    "influence": N_("influence %(value)s ≥ %(limit)s"),
    "pipeline": N_("open weighted pipeline %(value)s ≥ %(limit)s"),
    "none": N_("no orders, influence below %(i)s and pipeline below %(limit)s"),
    "score_at_least": N_("score %(value)s ≥ %(limit)s"),
    "score_below": N_("score %(value)s < %(limit)s"),
}


def reason_words(tier, reason, inputs, settings=None):
    """Why a tier, in words: 'collection rate 61 % < 70 %'."""
    limit = inputs.get("limit")
    params = {"limit": f"{limit:g}" if isinstance(limit, (int, float)) else str(limit or "")}
    key = reason
    if reason == "overdue":
        params["value"] = inputs.get("max_overdue_days")
    elif reason == "collection":
        params["value"] = f"{inputs.get('collection_rate') or 0:g}"
    elif reason == "growth":
        params["value"] = f"{inputs.get('growth_pct') or 0:g}"
    elif reason == "influence":
        params["value"] = inputs.get("influence")
    elif reason == "pipeline":
        params.update(value=fmt_money(inputs.get("pipeline") or 0), limit=fmt_money(limit or 0))
    elif reason == "none":
        params.update(i=(settings or vm.in_force())["important_influence"], limit=fmt_money(limit or 0))
    else:
        score = inputs.get("score")
        params["value"] = f"{score:g}" if isinstance(score, (int, float)) else "—"
        key = "score_below" if tier == "ordinary" else "score_at_least"
    text = REASON_TEXT[key]
    return _(text, **params)


# ---- the timeline ---------------------------------------------------------------------------------

@extend.timeline("value.")
def describe(e):
    d = e.data or {}
    if e.kind == "value.tier_changed":
        inputs = d.get("inputs") or {}
        why = reason_words(d.get("to"), d.get("reason"), inputs)
        if d.get("from"):
            return _("Value tier moved from %(from_)s to %(to)s: %(why)s (rule v%(v)s).",
                     from_=label(vm.TIER_LABELS, d.get("from")), to=label(vm.TIER_LABELS, d.get("to")), why=why,
                     v=d.get("rule_version", 0))
        return _("Value tier set to %(to)s: %(why)s (rule v%(v)s).", to=label(vm.TIER_LABELS, d.get("to")), why=why,
                 v=d.get("rule_version", 0))
    if e.kind == "value.influence_set":
        return _("Influence set to %(level)s of 5: %(reason)s", level=d.get("after"), reason=d.get("reason", ""))
    if e.kind == "value.rule_saved":
        return _("Value rule v%(v)s saved.", v=d.get("version"))
    if e.kind == "value.strategy_done":
        title = d.get("title") if locale_code().startswith("zh") else d.get("title_en") or d.get("title")
        if d.get("note"):
            return _("Tier strategy carried out: %(title)s (%(note)s)", title=title, note=d["note"])
        return _("Tier strategy carried out: %(title)s", title=title)
    return None


# ---- the 360 page: the value card --------------------------------------------------------------------

def _card_context(customer, user, errors=None, values=None):
    """The value card: one query for a customer never classified, four for one with a tier."""
    row = vm.value_of(customer.id) if extend.may_have_rows(customer.id, "customer_value") else None
    tier = row.tier if row else ""
    settings = vm.in_force() if row else vm.ValueSettings({})
    effects = {}
    if tier:
        rules = pool_rules.in_force()
        effects["sla"] = [(p, settings.sla(tier, p)) for p in vm.SLA_PRIORITIES if settings.sla(tier, p)]
        periods = (rules.s.get("tiers") or {}).get(tier) or {}
        effects["release"] = periods
        effects["exempt"] = tier in (rules.s.get("capacity_exempt_tiers") or [])
    inputs = {}
    if row:
        inputs = {"max_overdue_days": row.max_overdue_days, "collection_rate": row.collection_rate,
                  "growth_pct": row.growth_pct, "influence": row.influence or settings["default_influence"],
                  "pipeline": float(row.pipeline or 0), "score": row.score, "limit": _limit(settings, row)}
    return {"customer": customer, "row": row, "settings": settings, "history": vm.history(customer.id, 5) if row else [],
            "checklist": vm.checklist(customer) if tier else [], "can_tick": can(user, "value.strategy", customer),
            "care_missing": tier in settings.care_tiers() and care.needs_care_plan(customer),
            "why": reason_words(tier, row.reason, inputs, settings) if row and tier else "",
            "effects": effects, "can_edit": can(user, "value.influence", customer), "errors": errors or {},
            "form": values or {}}


def _limit(settings, row):
    """The threshold the stored reason names, under the rule in force."""
    th = settings["thresholds"]
    return {"overdue": settings["problem_overdue_days"], "collection": settings["problem_collection_below"],
            "growth": settings["potential_growth"], "influence": settings["important_influence"],
            "pipeline": settings["important_pipeline"], "none": settings["important_pipeline"]}.get(
        row.reason, th.get(row.tier, th["potential"]))


extend.customer_rows("customer_value", vm.CustomerValue)


@extend.side_card("value/_card.html", order=5)
def _value_card(customer, user):
    if not can(user, "value.view", customer):
        return None
    return _card_context(customer, user)


@bp.route("/customers/<int:customer_id>/value/influence", methods=["GET", "POST"])
def influence(customer_id):
    customer = get_customer(customer_id)
    require(current_user, "value.influence", customer)
    if request.method == "GET":
        return render_template("value/_card.html", p=_card_context(customer, current_user), editing=True)
    try:
        vm.set_influence(current_user, customer, request.form.get("influence"), request.form.get("reason"))
    except ValidationError as exc:
        p = _card_context(customer, current_user, field_errors(exc, joined=True), request.form)
        return render_template("value/_card.html", p=p, editing=True)
    if not request.htmx:
        return hx.redirect(url_for("customers.show", customer_id=customer.id))
    return hx.trigger(make_response(render_template("value/_card.html", p=_card_context(customer, current_user))),
                      "customerChanged")


@bp.post("/customers/<int:customer_id>/value/strategies/<int:strategy_id>")
def strategy_done(customer_id, strategy_id):
    customer = get_customer(customer_id)
    require(current_user, "value.strategy", customer)
    try:
        vm.mark_strategy_done(current_user, customer, strategy_id, request.form.get("note", ""))
    except ValidationError as exc:
        p = _card_context(customer, current_user, field_errors(exc, joined=True), request.form)
        return render_template("value/_card.html", p=p)
    if not request.htmx:
        return hx.redirect(url_for("customers.show", customer_id=customer.id))
    return hx.trigger(make_response(render_template("value/_card.html", p=_card_context(customer, current_user))),
                      "customerChanged")


# ---- strategies per tier (admin) ---------------------------------------------------------------------

def _strategies_page(errors=None, form=None, saved=False):
    rows = list(vm.TierStrategy.select().order_by(vm.TierStrategy.tier, vm.TierStrategy.id))
    order = {t: i for i, t in enumerate(vm.ALL_TIERS)}
    rows.sort(key=lambda r: (order.get(r.tier, 99), r.id))
    return render_template("value/strategies.html", rows=rows, errors=errors or {}, form=form or {}, saved=saved)


@bp.route("/admin/value-strategies", methods=["GET", "POST"])
def strategies():
    require(current_user, "value.rules")
    if request.method == "GET":
        return _strategies_page(saved=bool(request.args.get("saved")))
    try:
        vm.save_strategy(current_user, request.form)
    except ValidationError as exc:
        return _strategies_page(field_errors(exc, joined=True), request.form)
    return hx.redirect(url_for("value.strategies", saved=1))


@bp.post("/admin/value-strategies/<int:strategy_id>")
def strategy_edit(strategy_id):
    require(current_user, "value.rules")
    row = vm.TierStrategy.get_or_none(vm.TierStrategy.id == strategy_id)
    if row is None:
        raise NotFound()
    try:
        vm.save_strategy(current_user, request.form, row)
    except ValidationError as exc:
        return _strategies_page(field_errors(exc, joined=True))
    return hx.redirect(url_for("value.strategies", saved=1))


# ---- the value rule (admin) ----------------------------------------------------------------------------

def _form_values(settings):
    s = settings.s
    out = {f"weight_{m}": s["weights"][m] for m in vm.METRICS}
    out.update({f"threshold_{t}": s["thresholds"][t] for t in vm.SCORED_TIERS})
    out.update({name: s[name] for name in vm.NUMBERS})
    out["care_plan_from"] = s.get("care_plan_from", vm.DEFAULTS["care_plan_from"])
    for tier, row in (s.get("sla") or {}).items():
        for priority, pair in row.items():
            for kind, hours in zip(("response", "resolution"), pair or ()):
                out[f"sla_{tier}_{priority}_{kind}"] = hours
    return out


def _page(values, errors, saved=False, status=200):
    versions = list(vm.ValueRule.select().order_by(vm.ValueRule.version.desc()).limit(20))
    return render_template("value/rules.html", current=vm.in_force(), values=values, errors=errors, saved=saved,
                           versions=versions, numbers=vm.NUMBERS, metrics=vm.METRICS, scored=vm.SCORED_TIERS,
                           priorities=SLA_PRIORITY_LABELS, care_choices=vm.CARE_PLAN_LABELS), status


@bp.route("/admin/value-rules", methods=["GET", "POST"])
def rules():
    require(current_user, "value.rules")
    if request.method == "GET":
        return _page(_form_values(vm.latest()), {}, saved=bool(request.args.get("saved")))
    try:
        settings = vm.validate_settings(request.form)
        vm.save_rule(current_user, settings, effective_from(request.form), request.form.get("note", ""))
    except ValidationError as exc:
        return _page(dict(request.form.items()), field_errors(exc, joined=True))
    return hx.redirect(url_for("value.rules", saved=1))


@bp.post("/admin/value-rules/preview")
def preview():
    require(current_user, "value.rules")
    try:
        result = vm.preview(vm.validate_settings(request.form))
    except ValidationError as exc:
        return render_template("value/_preview.html", errors=field_errors(exc, joined=True), result=None)
    return render_template("value/_preview.html", result=result, errors={})


# ---- the pyramid ---------------------------------------------------------------------------------------

PYRAMID_ORDER = ("diamond", "strategic", "potential", "ordinary", "problem")


def pyramid_shapes(tiers, width=420, height=250):
    """Trapezoid bands of a pyramid (diamond at the top) as SVG polygon points, labelled with each tier's count
    and its share of the five tiers' customers."""
    total = sum(tiers[t]["count"] for t in PYRAMID_ORDER) or 1
    band = height / len(PYRAMID_ORDER)
    shapes, cx = [], width / 2
    n = len(PYRAMID_ORDER)
    for i, tier in enumerate(PYRAMID_ORDER):  # a cut top, wide enough for the first label
        top_w = width * (0.3 + 0.7 * i / n)
        base_w = width * (0.3 + 0.7 * (i + 1) / n)
        y0, y1 = i * band, (i + 1) * band - 3
        points = f"{cx - top_w / 2:.1f},{y0:.1f} {cx + top_w / 2:.1f},{y0:.1f} {cx + base_w / 2:.1f},{y1:.1f} {cx - base_w / 2:.1f},{y1:.1f}"
        shapes.append({"tier": tier, "points": points, "y": (y0 + y1) / 2 + 4, "x": cx,
                       "count": tiers[tier]["count"], "share_count": round(100 * tiers[tier]["count"] / total)})
    return shapes


@bp.get("/value/pyramid")
def pyramid():
    require(current_user, "value.pyramid")
    team = request.args.get("team", type=parse_id) if can(current_user, "value.pyramid_all") else None
    region = request.args.get("region", type=parse_id)
    by = "region" if request.args.get("by") == "region" else "team"
    data = vm.pyramid(current_user, team=team, region=region, by=by)
    names = ({r.id: r.label(locale_code()) for r in Region.select()} if by == "region"
             else {t.id: t.name for t in Team.select(Team.id, Team.name)})
    return render_template("value/pyramid.html", d=data, shapes=pyramid_shapes(data["tiers"]), order=PYRAMID_ORDER,
                           names=names, by=by, team=team, region=region,
                           teams=list(Team.select(Team.id, Team.name).order_by(Team.name)) if can(
                               current_user, "value.pyramid_all") else [],
                           regions=list(Region.select()))


@bp.get("/value/moves")
def moves():
    require(current_user, "value.pyramid")
    a, b = request.args.get("from"), request.args.get("to")
    if a not in vm.ALL_TIERS or b not in vm.ALL_TIERS:
        raise DomainError(N_("Choose a move between two tiers."))
    rows = vm.movers(current_user, a, b, before_id=request.args.get("before", type=parse_id))
    return render_template("value/moves.html", rows=rows, a=a, b=b,
                           next=rows[-1].id if len(rows) == 50 else None)


# ---- names for every template -------------------------------------------------------------------------

extend.template_globals(VALUE_TIER_LABELS=vm.TIER_LABELS, VALUE_TIERS=vm.ALL_TIERS,
                        VALUE_METRIC_LABELS=vm.METRIC_LABELS)


def _tier_choice(tier):
    return tier, label(vm.TIER_LABELS, tier)


extend.template_filters(tier_choice=_tier_choice)


def _probes(user, days=30):
    """`vm.workbench_probes`, each statement built once (`extend.kept_probe`)."""
    lead = can(user, "team.leads_one")
    who = user.team_id if lead else user.id
    return [extend.kept_probe(("value.tiered", lead), lambda w: vm.tiered_ids(lead, w), who),
            extend.kept_probe(("value.fell", lead), lambda w, since: vm.fell_ids(lead, w, since), who,
                              clock.now() - dt.timedelta(days=days)),
            extend.kept_probe("value.strategies", vm.strategy_ids)]


@extend.workbench_panel("value/_wb_panel.html", roles=("sales", "manager"), order=25, probe=_probes)
def _workbench_panel(user, found=(True,)):
    if not any(found):
        return None
    data = vm.workbench(user, limit=3)  # the newest falls and the most overdue strategies, three each: a card of
    data["overdue"] = vm.overdue_strategies(user, limit=3)  # the workbench; the rest are on the pyramid and files
    if not data["counts"] and not data["fell"] and not data["overdue"]:
        return None
    for change in data["fell"]:
        change.why = reason_words(change.to_tier, change.reason, change.inputs or {})
    return data
