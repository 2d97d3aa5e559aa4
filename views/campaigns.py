"""Campaigns over the web (issue 14 point 5): the list with the ROI table and chart per campaign or per
source, filtered by period, and the campaign form. The chart is an inline SVG drawn here on the server."""
import datetime as dt

from flask import Blueprint, make_response, render_template, request, url_for
from flask_login import current_user

from models import campaigns as cm
from models import clock
from models.customers import SOURCES
from models.fields import date_or_none
from models.errors import NotFound, ValidationError
from models.lead_tables import CAMPAIGN_CHANNEL_LABELS, CAMPAIGN_CHANNELS, Campaign
from models.permissions import require
from views import extend
from views import htmx as hx
from views.forms import field_errors

bp = Blueprint("campaigns", __name__, url_prefix="/campaigns")
STEPS = ("leads", "qualified", "accepted", "signed")
CHART = {"width": 640, "label": 170, "bar": 9, "gap": 1, "group_gap": 12, "top": 28}



def funnel_chart(rows, limit=12):
    """Geometry of the funnel chart: per row (campaign or source) one bar per step, scaled to the
    largest lead count; the template draws it as SVG rects with classes (no style attributes)."""
    rows = [r for r in rows if r["leads"]][:limit]
    top = max([r["leads"] for r in rows] or [1])
    span = CHART["width"] - CHART["label"] - 50
    groups, y = [], CHART["top"]
    for r in rows:
        bars = []
        for i, step in enumerate(STEPS):
            value = r[step]
            bars.append({"step": step, "value": value, "x": CHART["label"], "y": y + i * (CHART["bar"] + CHART["gap"]),
                         "w": max(1, round(span * value / top)) if value else 0, "h": CHART["bar"]})
        height = len(STEPS) * (CHART["bar"] + CHART["gap"])
        groups.append({"name": str(r.get("name") or "–"), "y": y, "label_y": y + height / 2 + 4, "bars": bars})
        y += height + CHART["group_gap"]
    return {"groups": groups, "width": CHART["width"], "height": y + 4, "label": CHART["label"]}


@bp.get("/")
def index():
    require(current_user, "campaign.view")
    by = "source" if request.args.get("by") == "source" else "campaign"
    until = date_or_none(request.args.get("until"))
    since = date_or_none(request.args.get("since"))
    if since is None and until is None:
        until = clock.today()
        since = until - dt.timedelta(days=364)
    rows = cm.roi(since, until, by)
    return render_template("campaigns/index.html", rows=rows, by=by, since=since, until=until,
                           chart=funnel_chart(rows), steps=STEPS)


def _form_page(campaign=None, form=None, errors=None):
    if form is None:
        form = {"channel": "event", "source": "event", "starts_on": clock.today().isoformat(),
                "ends_on": (clock.today() + dt.timedelta(days=30)).isoformat(), "budget": "0", "cost": "0"}
        if campaign is not None:
            form = {k: str(getattr(campaign, k)) for k in ("name", "channel", "source", "starts_on", "ends_on",
                                                         "budget", "cost", "note")}
    return make_response(render_template("campaigns/form.html", campaign=campaign, form=form, errors=errors or {},
                                          channels=CAMPAIGN_CHANNELS, sources=SOURCES))


def _save(campaign):
    form = {k: v for k, v in request.form.items() if k != "csrf_token"}
    try:
        cm.save_campaign(current_user, form, campaign)
    except ValidationError as exc:
        errors = field_errors(exc, joined=True)
        return _form_page(campaign, form, errors)
    return hx.redirect(url_for("campaigns.index", saved=1))


@bp.get("/new")
def new():
    require(current_user, "campaign.manage")
    return _form_page()


@bp.post("/new")
def create():
    require(current_user, "campaign.manage")
    return _save(None)


def _campaign(campaign_id):
    row = Campaign.get_or_none(Campaign.id == campaign_id)
    if row is None:
        raise NotFound()
    return row


@bp.get("/<int:campaign_id>/edit")
def edit(campaign_id):
    require(current_user, "campaign.manage")
    return _form_page(_campaign(campaign_id))


@bp.post("/<int:campaign_id>/edit")
def update(campaign_id):
    require(current_user, "campaign.manage")
    return _save(_campaign(campaign_id))


extend.template_globals(CAMPAIGN_CHANNEL_LABELS=CAMPAIGN_CHANNEL_LABELS)
