"""Completeness weights by business model (issue 17 item 7): the admin's page, one business model at a time."""
from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user

from models import completeness as cm
from models import settings
from models.customer_tables import BUSINESS_MODEL_LABELS, BUSINESS_MODELS, CustomField
from models.errors import ValidationError
from models.permissions import require
from views import extend
from views.forms import field_errors
from views.i18n import gettext as _
from views.i18n import label, locale_code

bp = Blueprint("completeness", __name__, url_prefix="/admin/completeness")


def _model():
    model = request.values.get("model") or "consumer"
    return model if model in BUSINESS_MODELS else "consumer"


def _page(model, values=None, errors=None, status=200, saved=None):
    weights, own = cm.current(model)
    rows = [(key, label(cm.COMPLETENESS_FIELDS, key) if not isinstance(what, CustomField)
             else what.label(locale_code()), weights.get(key, 0))
            for key, what in cm.fields_for(model)]
    return render_template("completeness/weights.html", model=model, rows=rows, own=own, values=values or {},
                           errors=errors or {}, saved=saved, models=BUSINESS_MODELS,
                           pending=settings.pending_jobs().exists()), status


@bp.get("")
def weights():
    require(current_user, "completeness.weights")
    return _page(_model(), saved=request.args.get("saved"))


@bp.post("")
def save():
    require(current_user, "completeness.weights")
    model = _model()
    data = {k: v for k, v in request.form.items() if k.startswith("w_")}
    try:
        cm.save_weights(current_user, model, data)
    except ValidationError as exc:
        return _page(model, values=data, errors=field_errors(exc, joined=True), status=422)
    return redirect(url_for("completeness.weights", model=model, saved=1))


@bp.post("/reset")
def reset():
    require(current_user, "completeness.weights")
    model = _model()
    cm.reset_weights(current_user, model)
    return redirect(url_for("completeness.weights", model=model, saved=1))


@extend.timeline("completeness.")
def describe(e):
    model = label(BUSINESS_MODEL_LABELS, e.data.get("business_model", ""))
    if e.kind == "completeness.weights_reset":
        return _("Completeness weights of %(model)s back to the built-in ones.", model=model)
    return _("Completeness weights of %(model)s changed (%(n)s fields).", model=model,
             n=len(e.data.get("changes") or {}))
