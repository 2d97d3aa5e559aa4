"""Pool rules (admin): edit the settings, preview their effect on the real data, save a version
that takes effect from a stated time; and search the pool ledger."""

from flask import Blueprint, render_template, request, url_for
from flask_login import current_user

from models import clock, drop_settings, rules
from models.fields import FieldError, clip_text, parse_datetime, parse_id
from models.customers import BUSINESS_MODEL_LABELS, BUSINESS_MODELS, FOLLOWUP_TYPE_LABELS, FOLLOWUP_TYPES, Customer
from models.errors import N_, ValidationError
from models.keyset import keyset_page
from models.permissions import require
from models.pools import PoolEvent, preview_rules
from models.users import Team, User
from views import extend
from views import htmx as hx
from views import pool_clock as clock_view
from views.forms import field_errors

bp = Blueprint("rules", __name__, url_prefix="/admin")

FIELD_LABELS = {
    "capacity_sales": N_("Private capacity, sales rep"), "capacity_manager": N_("Private capacity, manager"),
    "lock_capacity": N_("Locks per rep"), "release_no_followup_days": N_("Release after days without a valid follow-up"),
    "release_no_followup_days_key_account": N_("… for key accounts"),
    "release_no_deal_days": N_("Release after days without a deal since the claim"),
    "release_no_deal_days_project": N_("… for project sales"), "warning_days": N_("Warn days before release"),
    "cooling_off_days": N_("Former owner's cooling-off (days)"), "team_cooling_off_days": N_("Whole team's cooling-off (days)"),
    "frozen_hours": N_("Freshly released customers frozen (hours)"), "claims_per_day": N_("Claims per day"),
    "views_per_day": N_("Pool views per day"), "contract_grace_days": N_("Contract exemption after the end (days)"),
    "order_protection_days": N_("Kept after a signed order or payment (days, 0: off)"),
    "stake_multiplier": N_("Stake quota (× capacity)"), "stake_days": N_("Days to complete a stake"),
    "stake_threshold": N_("Completeness a stake must reach (percent)"),
    "valid_min_length": N_("Valid follow-up: minimum characters"),
    "valid_backdate_hours": N_("Valid follow-up: backdating allowed (hours)"),
    # fairness detectors (issue 20 item 6): flags for the manager, never a penalty
    "fair_reclaim_days": N_("Flag a re-claim by the former team or a friend within (days, 0: off)"),
    "fair_restart_days": N_("Flag a cross-team transfer this close to the release date (days, 0: off)"),
    "fair_pingpong_days": N_("Flag a customer moved back to a rep within (days, 0: off)"),
    "fair_claim_burst": N_("Flag a claim burst: claims (0: off)"),
    "fair_claim_burst_minutes": N_("… within minutes"),
    "fair_fu_burst": N_("Flag minimum follow-ups just before release: how many (0: off)"),
    "fair_fu_before_days": N_("… each within days of the release date"),
    "fair_fu_window_days": N_("… within a window of days"),
    "fair_fu_margin": N_("… at most characters over the valid minimum"),
    "appeal_window_hours": N_("Appeal a release within (working hours, 0: no appeals)"),  # models/appeals.py
    "appeal_grace_days": N_("A restored customer whose clock ran out is kept (days)"),
    "conflict_appeal_hours": N_("Appeal a conflict ruling within (working hours, 0: no appeals)"),
    "drop_queue_max": N_("Drop queues a rep may wait in at once (0: no cap)"),  # models/drops.py
}
FIELD_LABELS.update(clock_view.FIELD_LABELS)  # pauses and reorder percentages (issue 20)


def _form_values(settings):
    out = {k: settings[k] for k in rules.NUMBERS}
    for pool_id, periods in (settings.get("pools") or {}).items():
        for key, value in periods.items():
            out[f"pool_{pool_id}_{key}"] = value
    for tier, periods in (settings.get("tiers") or {}).items():
        for key, value in periods.items():
            out[f"tier_{tier}_{key}"] = value
    out.update(capacity_sales=settings["capacity"]["sales"], capacity_manager=settings["capacity"]["manager"],
               warning_days=", ".join(str(d) for d in settings["warning_days"]),
               stock_phrases="\n".join(settings["stock_phrases"]))
    out.update(drop_settings.form_values(settings))  # fair drops per pool (models/drops.py)
    out.update(clock_view.form_values(settings))  # working days, freeze windows
    return out


def _parse(form):
    data = dict(form)
    data["valid_types"] = form.getlist("valid_types")
    data["key_person_models"] = form.getlist("key_person_models")
    data["dealt_count"] = "1" if form.get("dealt_count") else "0"
    data["capacity_exempt_tiers"] = form.getlist("capacity_exempt_tiers")
    return rules.validate_settings(data)


def effective_from(form):
    raw = (form.get("effective_from") or "").strip()
    if not raw:
        return clock.now()
    try:
        value = clock.from_local(parse_datetime(raw))
    except FieldError as exc:
        raise ValidationError({"effective_from": [(exc.message, exc.params)]}) from None
    except OverflowError:  # e.g. 0001-01-01 or 9999-12-31T23:59-05:00: out of range once moved to UTC
        value = None
    if value is None or not 1900 <= value.year <= 2100:
        raise ValidationError({"effective_from": [(N_("Enter a date between 1900 and 2100."), {})]})
    return value


@bp.route("/rules", methods=["GET", "POST"])
def edit():
    require(current_user, "settings.manage")
    current = rules.in_force()
    errors, values = {}, _form_values(current.s)
    settings = current.s
    if request.method == "POST":
        values = {k: v for k, v in request.form.items()}
        try:
            settings = _parse(request.form)
            effective = effective_from(request.form)
            rules.save_version(current_user, settings, effective, request.form.get("note", ""))
        except ValidationError as exc:
            errors = field_errors(exc, joined=True)
        else:
            return hx.redirect(url_for("rules.edit", saved=1))
    versions = list(rules.RuleVersion.select().order_by(rules.RuleVersion.version.desc()).limit(20))
    from models.pools import Pool
    return render_template("rules/edit.html", current=current, values=values, settings=settings, errors=errors,
                           pools_=list(Pool.select().order_by(Pool.id)),
                           labels=FIELD_LABELS, versions=versions, saved=request.args.get("saved"),
                           types=[(t, FOLLOWUP_TYPE_LABELS[t]) for t in FOLLOWUP_TYPES],
                           models_=[(m, BUSINESS_MODEL_LABELS[m]) for m in BUSINESS_MODELS])


@bp.post("/rules/preview")
def preview():
    require(current_user, "settings.manage")
    try:
        settings = _parse(request.form)
        effective = effective_from(request.form)
    except ValidationError as exc:
        return render_template("rules/_preview.html", errors=field_errors(exc, joined=True), result=None)
    result = preview_rules(settings, effective)
    teams = {t.id: t.name for t in Team.select()}
    owners = {u.id: u.full_name for u in User.select(User.id, User.full_name)
              .where(User.id.in_({r["owner_id"] for r in result["rows"]}))}
    return render_template("rules/_preview.html", result=result, teams=teams, owners=owners, errors={},
                           effective=effective, settings_days=settings["order_protection_days"])


@bp.get("/ledger")
def ledger():
    require(current_user, "audit.view")
    kind = request.args.get("kind") or ""
    q = clip_text(request.args.get("q"), 60)
    query = PoolEvent.select()
    if kind:
        query = query.where(PoolEvent.kind == kind)
    if q:
        if q.isdecimal() and int(q) < 2**63:  # a customer id (SQLite integers are 64-bit)
            query = query.where(PoolEvent.customer == int(q))
        else:
            ids = [c.id for c in Customer.select(Customer.id).where(Customer.name.contains(q)).limit(200)]
            users = [u.id for u in User.select(User.id).where(User.full_name.contains(q) | (User.username == q))]
            query = query.where(PoolEvent.customer.in_(ids) | PoolEvent.actor.in_(users) | PoolEvent.subject.in_(users)
                                | PoolEvent.from_owner.in_(users) | PoolEvent.to_owner.in_(users))
    found = keyset_page(query, [PoolEvent.id], after=request.args.get("before"), limit=50, descending=True)
    extend.load_names(found.rows)
    return render_template("rules/ledger.html", events=found.rows, kind=kind, q=q, next=found.next)
