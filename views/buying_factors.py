"""Buying factors over the web (issue 15 item 7): the card on the 360 page and on an opportunity (the ranking,
its guidance, evidence and history, the form to rank them), the timeline sentence, and the split across the
customer base beside the article's 46 / 36 / 18 % for managers and admins."""
from flask import Blueprint, make_response, render_template, request, url_for
from flask_login import current_user

from models import buying_factors as bf
from models.customers import get_customer
from models.errors import DomainError, NotFound, ValidationError
from models.fields import parse_id
from models.opportunities import Opportunity
from models.permissions import can, require
from models.users import Team
from views import extend
from views import htmx as hx
from views.customers import count_pool_view
from views.forms import field_errors
from views.i18n import gettext as _, label, translate_error

bp = Blueprint("buying_factors", __name__)


def _context(customer, user, opp=None, errors=None, form=None):
    history = []
    if opp is not None:
        row, inherited = bf.for_opportunity(opp)
    else:  # one query: the current ranking is among the last few, else it is looked up
        history = bf.history(customer.id, 5) if extend.may_have_rows(customer.id, "buying_factors") else []
        row = next((h for h in history if h.current and h.opportunity_id is None), None)
        if row is None and len(history) == 5:
            row = bf.current(customer.id)
        inherited = False
    return {"customer": customer, "opp": opp, "row": row, "inherited": inherited, "errors": errors or {},
            "form": form or {}, "can_edit": can(user, "value.factors", customer), "history": history}


extend.customer_rows("buying_factors", bf.BuyingFactors)


@extend.side_card("value/_factors_card.html", order=6)
def _card(customer, user):
    if not can(user, "value.view", customer):
        return None
    return _context(customer, user)


@extend.opportunity_card("value/_factors_card.html", order=10)
def _opportunity_card(opp, user):
    if not can(user, "value.view", opp.customer):
        return None
    return _context(opp.customer, user, opp)


def _answer(customer, opp, editing, errors=None, form=None):
    return render_template("value/_factors_card.html", p=_context(customer, current_user, opp, errors, form),
                           editing=editing)


def _rank(customer, opp):
    """GET: the form; POST: set the ranking (inline errors, or the card again with `customerChanged`)."""
    require(current_user, "value.factors", customer)
    count_pool_view(customer)
    if request.method == "GET":
        return _answer(customer, opp, True)
    try:
        bf.set_buying_factors(current_user, customer, request.form, opp)
    except ValidationError as exc:
        return _answer(customer, opp, True, field_errors(exc, joined=True), request.form)
    except DomainError as exc:
        return _answer(customer, opp, True, {"form": translate_error(exc.message, exc.params)}, request.form)
    if not request.htmx:
        return hx.redirect(url_for("opportunities.show", opportunity_id=opp.id) if opp
                           else url_for("customers.show", customer_id=customer.id))
    return hx.trigger(make_response(_answer(customer, opp, False)), "customerChanged")


@bp.route("/customers/<int:customer_id>/buying-factors", methods=["GET", "POST"])
def customer_factors(customer_id):
    return _rank(get_customer(customer_id), None)


@bp.route("/opportunities/<int:opportunity_id>/buying-factors", methods=["GET", "POST"])
def opportunity_factors(opportunity_id):
    opp = Opportunity.get_or_none(Opportunity.id == opportunity_id)
    if opp is None or not can(current_user, "opportunity.view", opp):
        raise NotFound()
    return _rank(opp.customer, opp)


# ---- the split across the customer base ----------------------------------------------------------------

FACTOR_LABEL_W, FACTOR_CHART_W = 140, 290


def bars(rows, bar=16):
    """Paired bars per factor (ours, the article's) as SVG geometry on a 0–100 % scale after the labels."""
    out, scale, x = [], FACTOR_CHART_W / 100, FACTOR_LABEL_W
    for i, (factor, count, pct, article) in enumerate(rows):
        y = 14 + i * (2 * bar + 22)
        w, w2 = round(pct * scale, 1), round(article * scale, 1)
        out.append({"factor": factor, "count": count, "pct": pct, "article": article, "x": x, "y": y,
                    "y2": y + bar + 2, "w": w, "w2": w2, "tx": x + w + 4, "tx2": x + w2 + 4})
    return {"bars": out, "width": FACTOR_LABEL_W + FACTOR_CHART_W + 50}


@bp.get("/value/buying-factors")
def distribution():
    require(current_user, "value.pyramid")
    team = request.args.get("team", type=parse_id) if can(current_user, "value.pyramid_all") else None
    data = bf.distribution(current_user, team)
    first = request.args.get("first")
    customers = bf.customers_by_first(current_user, first, request.args.get("before", type=parse_id)) \
        if first in bf.FACTORS else []
    teams = list(Team.select(Team.id, Team.name).order_by(Team.name)) if can(current_user, "value.pyramid_all") else []
    return render_template("value/factors.html", d=data, bars=bars(data["rows"]), team=team, teams=teams,
                           first=first if first in bf.FACTORS else None, customers=customers)


# ---- the timeline ---------------------------------------------------------------------------------------

def ranking_words(ranking):
    return " › ".join(label(bf.FACTOR_LABELS, f) for f in ranking or ())


@extend.timeline("value.factors_set")
def describe(e):
    d = e.data or {}
    if d.get("opportunity_id"):
        return _("Buying factors of a deal ranked: %(ranking)s. Evidence: %(evidence)s",
                 ranking=ranking_words(d.get("ranking")), evidence=d.get("evidence", ""))
    return _("Buying factors ranked: %(ranking)s. Evidence: %(evidence)s", ranking=ranking_words(d.get("ranking")),
             evidence=d.get("evidence", ""))


extend.template_filters(factor_ranking=ranking_words)
extend.template_globals(BUYING_FACTORS=bf.FACTORS, BUYING_FACTOR_LABELS=bf.FACTOR_LABELS,
                        BUYING_FACTOR_WORDS=bf.FACTOR_WORDS, BUYING_GUIDANCE=bf.GUIDANCE, BUYING_THEN=bf.THEN)
