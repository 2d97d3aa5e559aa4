"""Data quality over the web (issue 17 items 1–3): the quality queue and a check worked as a task, random
samples, the directed rules run by hand, complaints from a customer's file, the quality rule with its
preview, and a rep's quality page with every consequence and the findings behind it."""
from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user

from models import clock
from models import quality as qm
from models.customer_tables import STAGES
from models.customers import get_customer
from models.errors import NotFound, ValidationError
from models.keyset import keyset_page
from models.permissions import can, require
from models.quality_tables import (CHECK_FIELD_LABELS, CHECK_FIELDS, GRADE_LABELS, OUTCOME_LABELS, RULE_KEYS,
                                   RULE_LABELS, SOURCE_LABELS, SOURCES, QualityCheck)
from models.users import Team, User
from views import extend
from views import htmx as hx
from views.customers import count_pool_view
from views.forms import field_errors
from views.rules import effective_from

bp = Blueprint("quality", __name__)
PAGE = 50


def _check(check_id, action="quality.view_check"):
    check = QualityCheck.get_or_none(QualityCheck.id == check_id)
    if check is None:
        raise NotFound()  # a missing check answers like a forbidden one
    require(current_user, action, check)
    return check


# ---- the queue --------------------------------------------------------------------------------------------

@bp.get("/quality")
def queue():
    require(current_user, "quality.work")
    status = request.args.get("status") if request.args.get("status") in ("open", "done") else "open"
    source = request.args.get("source") if request.args.get("source") in SOURCES else ""
    rule = request.args.get("rule") if request.args.get("rule") in RULE_KEYS else ""
    found = keyset_page(qm.queue(status, source, rule), [QualityCheck.id], after=request.args.get("after"), limit=PAGE,
                        descending=status == "done")
    return hx.fragment_or_page("quality/_rows.html", "quality/queue.html", rows=found.rows, next_after=found.next,
                               status=status, source=source, rule=rule, counts=qm.open_counts(),
                               ran=request.args.get("ran"))


@bp.post("/quality/run")
def run_rules():
    created = qm.run_rules_now(current_user)
    return hx.redirect(url_for("quality.queue", ran=created))


# ---- one check ----------------------------------------------------------------------------------------------

def _check_page(check, errors=None, form=None, status=200):
    customer = get_customer(check.customer_id) if can(current_user, "quality.work") else check.customer
    names = {u.id: u for u in User.select().where(User.id.in_(
        [i for i in (check.owner_id, check.checked_by_id, check.reporter_id) if i]))}
    see_reporter = can(current_user, "quality.see_reporter", check)
    record = qm.complaint_record(check.reporter_id) if see_reporter and check.reporter_id else None
    return render_template("quality/check.html", check=check, customer=customer, names=names, errors=errors or {},
                           form=form or {}, see_reporter=see_reporter, reporter_record=record), status


@bp.get("/quality/checks/<int:check_id>")
def check(check_id):
    return _check_page(_check(check_id))


@bp.post("/quality/checks/<int:check_id>/outcome")
def outcome(check_id):
    check = _check(check_id, "quality.view_check")
    require(current_user, "quality.work")
    return hx.run_verb(
        lambda: qm.record_outcome(current_user, check, request.form.get("outcome"), request.form.getlist("fields"),
                                  request.form.get("evidence")),
        done=lambda c: hx.redirect(url_for("quality.check", check_id=c.id)),
        invalid=lambda exc: _check_page(check, field_errors(exc, joined=True), request.form, 200),
        refused=lambda text: _check_page(check, {"outcome": text}, request.form, 409))


@bp.post("/quality/checks/<int:check_id>/respond")
def respond(check_id):
    check = _check(check_id)
    if check.owner_id != current_user.id:  # only the answerable rep answers; the verb says why not to them
        raise NotFound()
    return hx.run_verb(
        lambda: qm.respond_check(current_user, check, request.form.get("response")),
        done=lambda c: hx.redirect(url_for("quality.check", check_id=c.id)),
        invalid=lambda exc: _check_page(check, field_errors(exc, joined=True), request.form, 200),
        refused=lambda text: _check_page(check, {"response": text}, request.form, 409))


# ---- complaints ---------------------------------------------------------------------------------------------

@bp.route("/customers/<int:customer_id>/complaint", methods=["GET", "POST"])
def complaint(customer_id):
    customer = get_customer(customer_id)
    require(current_user, "quality.complain", customer)
    count_pool_view(customer)
    if request.method == "GET":
        return render_template("quality/complaint.html", customer=customer, errors={}, form={},
                               own=qm.accused_of(customer) == current_user.id)

    def invalid(exc):
        return render_template("quality/complaint.html", customer=customer, errors=field_errors(exc, joined=True),
                               form=request.form, own=False)

    return hx.run_verb(
        lambda: qm.file_complaint(current_user, customer, request.form.get("field"), request.form.get("found"),
                                  request.form.get("evidence")),
        done=lambda c: hx.redirect(url_for("quality.check", check_id=c.id)), invalid=invalid)


# ---- samples ------------------------------------------------------------------------------------------------

def _samples_page(errors=None, form=None, status=200):
    samples = list(qm.QualitySample.select().order_by(qm.QualitySample.id.desc()).limit(20))
    teams = list(Team.select().order_by(Team.name))
    month = clock.to_local(clock.now()).strftime("%Y-%m")
    return render_template("quality/samples.html", samples=samples, teams=teams, errors=errors or {},
                           form=form or {"month": month, "per_rep": "3"}, stages=STAGES), status


@bp.route("/quality/samples", methods=["GET", "POST"])
def samples():
    require(current_user, "quality.work")
    if request.method == "GET":
        return _samples_page()
    return hx.run_verb(
        lambda: qm.draw_sample(current_user, request.form.get("month"), request.form.get("per_rep"),
                               request.form.get("team_id"), request.form.getlist("stages"), request.form.get("seed")),
        done=lambda s: hx.redirect(url_for("quality.queue", source="sample")),
        invalid=lambda exc: _samples_page(field_errors(exc, joined=True), request.form))


# ---- the rule -------------------------------------------------------------------------------------------------

def _rule_page(values, errors, saved=False):
    versions = list(qm.QualityRule.select().order_by(qm.QualityRule.version.desc()).limit(20))
    return render_template("quality/rules.html", current=qm.in_force(), values=values, errors=errors, saved=saved,
                           versions=versions, numbers=qm.NUMBERS)


@bp.route("/quality/rules", methods=["GET", "POST"])
def rules():
    require(current_user, "quality.rules")
    if request.method == "GET":
        latest = qm.latest()
        return _rule_page({**latest.s}, {}, saved=bool(request.args.get("saved")))
    try:
        settings = qm.validate_settings(request.form)
        qm.save_rule(current_user, settings, effective_from(request.form), request.form.get("note", ""))
    except ValidationError as exc:
        values = dict(request.form.items())
        values["rules"] = request.form.getlist("rules")
        return _rule_page(values, field_errors(exc, joined=True))
    return hx.redirect(url_for("quality.rules", saved=1))


@bp.post("/quality/rules/preview")
def preview():
    require(current_user, "quality.rules")
    try:
        result = qm.preview(qm.validate_settings(request.form))
    except ValidationError as exc:
        return render_template("quality/_preview.html", errors=field_errors(exc, joined=True), result=None)
    return render_template("quality/_preview.html", result=result, errors={})


# ---- a rep's quality page -------------------------------------------------------------------------------------

@bp.get("/quality/me")
def mine():
    require(current_user, "quality.mine")
    return redirect(url_for("quality.rep", user_id=current_user.id))


@bp.get("/quality/reps/<int:user_id>")
def rep(user_id):
    person = User.get_or_none(User.id == user_id)
    if person is None or not can(current_user, "quality.view_rep", person):
        raise NotFound()
    return render_template("quality/rep.html", rep=person, r=qm.rep_record(person))


# ---- the customer's page: a side card -------------------------------------------------------------------------

extend.customer_rows("quality_check", qm.QualityCheck)


@extend.side_card("quality/_card.html", order=60)
def _card(customer, user):
    complain = qm.can_complain(user, customer)
    checks = [c for c in qm.customer_checks(customer.id) if can(user, "quality.view_check", c)] \
        if extend.may_have_rows(customer.id, "quality_check") else []
    if not complain and not checks:
        return None
    return {"complain": complain, "checks": checks, "customer": customer}


extend.template_globals(QUALITY_SOURCE_LABELS=SOURCE_LABELS, QUALITY_RULE_LABELS=RULE_LABELS,
                        QUALITY_OUTCOME_LABELS=OUTCOME_LABELS, QUALITY_FIELD_LABELS=CHECK_FIELD_LABELS,
                        QUALITY_FIELDS=CHECK_FIELDS, QUALITY_GRADE_LABELS=GRADE_LABELS, QUALITY_RULE_KEYS=RULE_KEYS,
                        QUALITY_SOURCES=SOURCES)
