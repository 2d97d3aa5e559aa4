"""Fairness figures and flags (issue 20 items 5 and 6): a manager's team (an admin's every team, with a team
filter) — claims, customers held, their Gini coefficients with Lorenz curves drawn as inline SVG, conversion
after claim per rep — and the detectors' flags with their evidence, reviewed with a note; a rep's own figures
beside the team's average."""
import datetime as dt

from flask import Blueprint, render_template, request, url_for
from flask_login import current_user

from models import clock
from models import fairness as fm
from models.customer_tables import Customer, FollowUp
from models.errors import N_, NotFound
from models.fields import date_or_none, parse_id
from models.keyset import keyset_page
from models.ledger import PoolEvent
from models.permissions import can, require
from models.users import Team, User
from views import extend
from views import htmx as hx
from views.forms import field_errors
from views.i18n import translate_error

bp = Blueprint("fairness", __name__)

SPANS = {"month": N_("Month"), "quarter": N_("Quarter"), "year": N_("Year")}
STEP_LABELS = {"claim": N_("Claims"), "claim_followed": N_("Valid follow-up"), "claim_opportunity": N_("Opportunity"),
               "claim_signed": N_("Signed")}
LORENZ = {"size": 220, "pad": 36}


def lorenz_chart(curves):
    """Polylines of Lorenz curves (name → points in [0, 1]²) in a square plot with the line of equality."""
    size, pad = LORENZ["size"], LORENZ["pad"]

    def xy(px, py):
        return f"{pad + px * size:.1f},{pad + (1 - py) * size:.1f}"

    return {"size": size + 2 * pad, "pad": pad, "end": pad + size,
            "equality": f"{xy(0, 0)} {xy(1, 1)}",
            "curves": [{"key": key, "points": " ".join(xy(px, py) for px, py in points)} for key, points in curves]}


def _period():
    span = request.args.get("span") if request.args.get("span") in SPANS else "month"
    today = clock.today()
    day = date_or_none(request.args.get("on")) or today
    day = min(max(day, dt.date(2000, 1, 1)), today)  # no period beyond today, none before the CRM's time
    return span, fm.period_start(span, day)


def _periods(span, start):
    """The previous and next period's first days (no next beyond today's)."""
    prev = fm.period_start(span, start - dt.timedelta(days=1))
    step = {"month": 32, "quarter": 95, "year": 370}[span]
    nxt = fm.period_start(span, start + dt.timedelta(days=step))
    return prev, (nxt if nxt <= clock.today() else None)


@bp.get("/fairness")
def index():
    require(current_user, "fairness.view")
    span, start = _period()
    if can(current_user, "fairness.all_teams"):
        team = request.args.get("team", type=parse_id)
        teams = list(Team.select(Team.id, Team.name).order_by(Team.name))
    else:
        team, teams = current_user.team_id or -1, []
    status = "reviewed" if request.args.get("status") == "reviewed" else "open"
    d = fm.figures(team, span, start)
    page = keyset_page(fm.flags(current_user, team, status), [fm.FairFlag.id], after=request.args.get("after"),
                       limit=25, descending=True)
    names = _user_names({f.rep_id for f in page.rows} | {f.other_id for f in page.rows})
    prev, nxt = _periods(span, start)
    return render_template("fairness/index.html", d=d, team=team, teams=teams, span=span, spans=SPANS, prev=prev,
                           nxt=nxt, status=status, flags=page.rows, after=page.next, names=names,
                           counts=fm.flag_counts(team),
                           chart=lorenz_chart([("claims", d["lorenz_claims"]), ("held", d["lorenz_held"])]),
                           step_labels=STEP_LABELS, flag_labels=fm.FLAG_LABELS)


def pair_bars(own, team, keys, width=420, bar=12, gap=10, label=120):
    """Two horizontal bars per figure (the rep's, the team's average), each pair on its own scale."""
    span, out, y = width - label - 40, [], 4
    for k in keys:
        top = max(own.get(k, 0), team.get(k, 0)) or 1
        for who, value in (("own", own.get(k, 0)), ("team", team.get(k, 0))):
            out.append({"key": k, "who": who, "value": value, "x": label, "y": y, "h": bar,
                        "w": max(1, round(span * value / top)) if value else 0, "tx": label + 4 + (round(span * value / top) if value else 0),
                        "ty": y + bar - 2})
            y += bar + 2
        y += gap
    return {"bars": out, "width": width, "height": y, "label": label}


@bp.get("/fairness/mine")
def mine():
    require(current_user, "fairness.mine")
    span, start = _period()
    prev, nxt = _periods(span, start)
    m = fm.mine(current_user, span, start)
    keys = ["held", *STEP_LABELS]
    return render_template("fairness/mine.html", m=m, span=span, spans=SPANS, prev=prev, nxt=nxt,
                           step_labels=STEP_LABELS, chart=pair_bars(m["own"], m["team"], keys))


def _flag_or_404(flag_id):
    flag = fm.FairFlag.get_or_none(fm.FairFlag.id == flag_id)
    if flag is None:
        raise NotFound()
    require(current_user, "fairness.review", flag)
    return flag


def _user_names(ids):
    ids = {i for i in ids if i}
    return dict(User.select(User.id, User.full_name).where(User.id.in_(ids)).tuples()) if ids else {}


def _evidence(flag):
    """The rows a flag points at: customers (linked where the reader may open them), ledger rows, follow-ups."""
    ev = flag.evidence or {}
    customers = {c.id: c for c in Customer.select().where(Customer.id.in_(ev.get("customers") or [0]))}
    events = list(PoolEvent.select().where(PoolEvent.id.in_(ev.get("events") or [0])).order_by(PoolEvent.id))
    extend.load_names(events)
    followups = list(FollowUp.select().where(FollowUp.id.in_(ev.get("followups") or [0])).order_by(FollowUp.at))
    people = {flag.rep_id, flag.other_id, flag.reviewed_by_id, (ev.get("facts") or {}).get("between")}
    for e in events:
        people |= {e.actor_id, e.from_owner, e.to_owner}
    for f in followups:
        people.add(f.author_id)
    return {"customers": [customers[i] for i in ev.get("customers") or [] if i in customers],
            "open": {i for i, c in customers.items() if can(current_user, "customer.view", c)},
            "events": events, "followups": followups, "facts": ev.get("facts") or {},
            "dues": (ev.get("facts") or {}).get("dues") or {}, "names": _user_names(people)}


def _flag_page(flag, errors=None, note="", status=200):
    return render_template("fairness/flag.html", flag=flag, ev=_evidence(flag), errors=errors or {}, note=note,
                           flag_labels=fm.FLAG_LABELS, parse_dt=_parse_dt), status


def _parse_dt(text):
    try:
        return dt.datetime.fromisoformat(text) if text else None
    except (TypeError, ValueError):
        return None


@bp.get("/fairness/flags/<int:flag_id>")
def flag(flag_id):
    return _flag_page(_flag_or_404(flag_id))


@bp.post("/fairness/flags/<int:flag_id>/review")
def review(flag_id):
    flag_row = _flag_or_404(flag_id)
    note = request.form.get("note", "")
    return hx.run_verb(lambda: fm.review_flag(current_user, flag_row, note),
                       done=lambda f: hx.redirect(url_for("fairness.flag", flag_id=f.id)),
                       invalid=lambda exc: _flag_page(flag_row, field_errors(exc, joined=True), note, 422),
                       refused=lambda text: _flag_page(flag_row, {"note": text}, note, 409))


@extend.timeline("fairness.")
def describe(e):
    d = e.data or {}
    if e.kind == "fairness.reviewed":
        return translate_error(N_("reviewed fairness flag #%(id)s (%(kind)s): %(note)s"),
                               {"id": d.get("flag_id"), "kind": translate_error(fm.FLAG_LABELS.get(d.get("pattern"), ""), {}),
                                "note": d.get("note", "")})
    return None
