"""Dashboards for managers and admins (issue 16 item 5): the lifecycle funnel, stage promotions per week or
month, the forecast by historical conversion beside the weighted pipeline, pool health and completeness by
team, drawn as server-side SVG (geometry here, classes from static/dashboards.css); every figure links to the
customers behind it (the customer list with filters, or the stage changes behind a flow: /dashboards/moves)."""
import datetime as dt

from flask import Blueprint, render_template, request
from flask_login import current_user

from models import clock
from models import dashboards as dm
from models.customer_tables import STAGES
from models.errors import NotFound
from models.fields import date_or_none, parse_id
from models.permissions import can, require
from models.users import Team

bp = Blueprint("dashboards", __name__)

FUNNEL = {"width": 640, "bar": 30, "gap": 8, "min": 56, "label": 110, "side": 150}
BARS = {"width": 620, "height": 180, "top": 10, "bottom": 22, "left": 34}


def funnel_shapes(stages):
    """Centred bars, one per lifecycle stage, as wide as the customers in it now (a floor keeps the count of a
    small stage readable); the stage's name on the left, its conversion and dwell on the right."""
    top = max([s["now"] for s in stages] or [0]) or 1
    span = FUNNEL["width"] - FUNNEL["label"] - FUNNEL["side"]
    cx = FUNNEL["label"] + span / 2
    out, y = [], 4
    for s in stages:
        w = max(FUNNEL["min"], round(span * s["now"] / top))
        out.append({**s, "x": round(cx - w / 2), "y": y, "w": w, "h": FUNNEL["bar"], "tx": cx,
                    "ty": y + FUNNEL["bar"] / 2 + 5, "lx": FUNNEL["label"] - 8, "sx": FUNNEL["label"] + span + 10})
        y += FUNNEL["bar"] + FUNNEL["gap"]
    return {"bars": out, "width": FUNNEL["width"], "height": y}


def stacked_bars(columns, keys, height=BARS["height"]):
    """Stacked columns: `columns` a list of {key: value}; each segment {key, value, x, y, w, h}."""
    n = len(columns) or 1
    plot_h = height - BARS["top"] - BARS["bottom"]
    top = max([sum(c.get(k, 0) for k in keys) for c in columns] or [0]) or 1
    slot = (BARS["width"] - BARS["left"]) / n
    w = max(4, round(slot * 0.7))
    out = []
    for i, col in enumerate(columns):
        x = round(BARS["left"] + i * slot + (slot - w) / 2)
        y = BARS["top"] + plot_h
        segments = []
        for k in keys:
            v = col.get(k, 0)
            if not v:
                continue
            h = max(1, round(plot_h * v / top))
            y -= h
            segments.append({"key": k, "value": v, "x": x, "y": y, "w": w, "h": h})
        out.append({"segments": segments, "x": x + w / 2, "total": sum(col.get(k, 0) for k in keys)})
    return {"columns": out, "width": BARS["width"], "height": height, "base": BARS["top"] + plot_h,
            "top": top, "left": BARS["left"]}


def forecast_bars(total, periods, height=150):
    """Two pairs of bars (next month, next quarter): weighted pipeline beside historical conversion."""
    top = max([float(total[k][f]) for k, _a, _b in periods for f in ("weighted", "historical")] or [0]) or 1
    plot_h, out = height - 40, []
    for i, (key, _lo, _hi) in enumerate(periods):
        for j, figure in enumerate(("weighted", "historical")):
            v = float(total[key][figure])
            h = max(1, round(plot_h * v / top)) if v else 0
            out.append({"period": key, "figure": figure, "value": total[key][figure], "x": 40 + i * 200 + j * 70,
                        "y": 14 + plot_h - h, "w": 56, "h": h})
    return {"bars": out, "width": 440, "height": height, "base": 14 + plot_h}


TREND = {"width": 620, "height": 120, "left": 34, "top": 8, "bottom": 20}


def trend_line(points):
    """The completeness trend as a polyline over 0–100 %: {"points": "x,y …", "dots": [...], "first", "last"}."""
    if not points:
        return None
    w, h = TREND["width"] - TREND["left"] - 8, TREND["height"] - TREND["top"] - TREND["bottom"]
    step = w / max(len(points) - 1, 1)
    dots = [{"x": round(TREND["left"] + i * step, 1), "y": round(TREND["top"] + h * (1 - v / 100), 1), "day": day,
             "value": v} for i, (day, v) in enumerate(points)]
    return {"points": " ".join(f"{d['x']},{d['y']}" for d in dots), "dots": dots, "first": points[0][0],
            "last": points[-1][0], **TREND, "base": TREND["top"] + h}


def _team_arg():
    return request.args.get("team", type=parse_id) if can(current_user, "dashboard.all") else None


@bp.get("/dashboards")
def index():
    require(current_user, "dashboard.view")
    team = _team_arg()
    grain = "m" if request.args.get("grain") == "m" else "w"
    d = dm.overview(current_user, team, grain)
    promo = d["promotions"]
    columns = [{s: promo["series"][s][i] for s in promo["series"]} for i in range(len(promo["periods"]))]
    pool_cols = [{"claims": c, "releases": r} for c, r in zip(d["pools"]["series"]["claims"], d["pools"]["series"]["releases"])]
    teams = list(Team.select(Team.id, Team.name).order_by(Team.name)) if can(current_user, "dashboard.all") else []
    return render_template(
        "dashboards/index.html", d=d, team=team, grain=grain, teams=teams, today=clock.today(),
        funnel_chart=funnel_shapes(d["funnel"]["stages"]), promo_chart=stacked_bars(columns, list(promo["series"])),
        forecast_chart=forecast_bars(d["forecast"]["total"], d["forecast"]["periods"]),
        pool_chart=stacked_bars(pool_cols, ["claims"]), release_chart=stacked_bars(pool_cols, ["releases"]),
        stage_keys=list(promo["series"]), one_day=dt.timedelta(days=1),
        trend_chart=trend_line(d["completeness"]["trend"]))


@bp.get("/dashboards/moves")
def moves():
    """The customers behind a flow of the funnel or the promotions chart."""
    require(current_user, "dashboard.view")
    stage, move = request.args.get("stage"), request.args.get("move", "into")
    if stage not in STAGES or move not in dm.MOVES:
        raise NotFound()
    today = clock.today()
    since = date_or_none(request.args.get("since")) or today - dt.timedelta(days=365)
    until = date_or_none(request.args.get("until")) or today + dt.timedelta(days=1)
    if until <= since:
        until = since + dt.timedelta(days=1)
    team = _team_arg()
    found = dm.moved_customers(current_user, stage, move, since, until, team, after=request.args.get("after"))
    return render_template("dashboards/moves.html", rows=found.rows, after=found.next, stage=stage, move=move, since=since,
                           until=until, team=team, last_day=until - dt.timedelta(days=1))
