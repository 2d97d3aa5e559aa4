"""Share of wallet and growth over the web (issue 15 item 8): the per-customer view (a table and two
server-drawn SVG charts: share per product line, our growth against the customer's and the competitors'),
the forms for spend and competitor estimates with their inline errors, the card on the 360 page, the
timeline sentences, and the managers' list of growing customers where our share falls."""
from decimal import Decimal

from flask import Blueprint, render_template, request, url_for
from flask_login import current_user

from models import clock
from models import wallet as wm
from models.customers import get_customer
from models.errors import ValidationError
from models.permissions import can, require
from views import extend
from views import htmx as hx
from views.customers import count_pool_view
from views.forms import field_errors
from views.i18n import fmt_money, gettext as _

bp = Blueprint("wallet", __name__)

LABEL_W, CHART_W, ROW_H, BAR_MAX = 130, 340, 30, 150


def share_chart(lines):
    """Per product line a stacked bar of the customer's spend: our share, each named competitor's, the rest;
    a tick where our share stood a year ago."""
    rows, scale = [], CHART_W / 100
    for i, item in enumerate(x for x in lines if x["row"]):
        y, x, parts = 8 + i * ROW_H, LABEL_W, []
        w = item["row"]
        pieces = [("ours", _("Us"), min(w.share, 100))]
        pieces += [("competitor", c.competitor, c.share) for c in item["competitors"] if c.share]
        used = 0
        for kind, name, pct in pieces:
            pct = max(0, min(pct, 100 - used))
            parts.append({"kind": kind, "name": name, "pct": pct, "x": round(x, 1), "w": round(pct * scale, 1)})
            x += pct * scale
            used += pct
        parts.append({"kind": "rest", "name": _("Others and unknown"), "pct": round(100 - used, 1), "x": round(x, 1),
                      "w": round((100 - used) * scale, 1)})
        tick = round(LABEL_W + min(w.share_prev, 100) * scale, 1) if w.share_prev is not None else None
        rows.append({"line": item["line"], "y": y, "parts": parts, "tick": tick, "share": w.share,
                     "falling": w.falling})
    return {"rows": rows, "height": 16 + len(rows) * ROW_H, "width": LABEL_W + CHART_W + 50}


def growth_chart(lines):
    """Per product line, bars from a zero line: our growth, the customer's, each competitor's."""
    rows = []
    for item in lines:
        bars = [("ours", _("Us"), item["our_growth"])]
        estimate = item["estimate"]
        bars.append(("customer", _("The customer"), estimate.customer_growth if estimate else None))
        bars += [("competitor", c.competitor, c.growth) for c in item["competitors"]]
        bars = [b for b in bars if b[2] is not None]
        if bars:
            rows.append((item["line"], bars))
    values = [v for _line, bars in rows for _k, _n, v in bars]
    biggest = max([abs(v) for v in values] + [10])
    room = 110  # for a bar's words beside it
    zero = LABEL_W + (BAR_MAX + room if any(v < 0 for v in values) else 10)
    out, y = [], 8
    for line, bars in rows:
        group = {"line": line, "y": y, "bars": []}
        for kind, name, value in bars:
            w = round(abs(value) / biggest * BAR_MAX, 1)
            group["bars"].append({"kind": kind, "name": name, "value": value, "y": y, "w": w,
                                  "x": zero if value >= 0 else round(zero - w, 1),
                                  "tx": round(zero + w + 4 if value >= 0 else zero - w - 4, 1),
                                  "anchor": "start" if value >= 0 else "end"})
            y += 16
        out.append(group)
        y += 12
    return {"groups": out, "zero": zero, "height": y + 4, "width": zero + BAR_MAX + room + 40}


def _page(customer, errors=None, form=None, kind=None, status=200):
    lines = wm.wallet(customer)
    ctx = dict(customer=customer, lines=lines, share=share_chart(lines), growth=growth_chart(lines),
               history=wm.estimate_history(customer.id), product_lines=wm.product_lines(),
               can_edit=can(current_user, "value.wallet", customer), today=clock.today().isoformat(),
               errors={kind: errors or {}}, forms={kind: form or {}}, saved=request.args.get("saved"))
    return render_template("value/wallet.html", **ctx), status


@bp.get("/customers/<int:customer_id>/wallet")
def show(customer_id):
    customer = get_customer(customer_id)
    require(current_user, "value.view", customer)
    count_pool_view(customer)
    return _page(customer)


def _enter(customer_id, kind, verb):
    customer = get_customer(customer_id)
    require(current_user, "value.wallet", customer)
    count_pool_view(customer)
    try:
        verb(current_user, customer, request.form)
    except ValidationError as exc:
        errors = field_errors(exc, joined=True)
        if request.htmx:
            return render_template("value/_wallet_form.html", kind=kind, customer=customer, errors=errors,
                                   form=request.form, product_lines=wm.product_lines(), today=clock.today().isoformat())
        return _page(customer, errors, request.form, kind)
    return hx.redirect(url_for("wallet.show", customer_id=customer.id, saved=kind))


@bp.post("/customers/<int:customer_id>/wallet/spend")
def spend(customer_id):
    return _enter(customer_id, "spend", wm.set_spend_estimate)


@bp.post("/customers/<int:customer_id>/wallet/competitor")
def competitor(customer_id):
    return _enter(customer_id, "competitor", wm.set_competitor_estimate)


extend.customer_rows("wallet_line", wm.WalletLine)


@extend.side_card("value/_wallet_card.html", order=7)
def _card(customer, user):
    if not can(user, "value.view", customer):
        return None
    rows = list(wm.WalletLine.select().where(wm.WalletLine.customer == customer.id).order_by(wm.WalletLine.product_line)) \
        if extend.may_have_rows(customer.id, "wallet_line") else []
    if not rows and customer.value_tier not in wm.FOCUS_TIERS:
        return None
    return {"customer": customer, "rows": rows, "focus": customer.value_tier in wm.FOCUS_TIERS}


@bp.get("/value/share-falls")
def falls():
    require(current_user, "value.pyramid")
    page = wm.falling_shares(current_user, after=request.args.get("after"))
    return render_template("value/share_falls.html", page=page)


@extend.timeline("value.spend_estimated", "value.competitor_estimated")
def describe(e):
    d = e.data or {}
    if e.kind == "value.spend_estimated":
        growth = d.get("customer_growth")
        text = _("Spend on %(line)s estimated at %(spend)s a year (source: %(source)s, %(date)s).", line=d.get("product_line"),
                 spend=fmt_money(Decimal(d.get("spend") or 0)), source=d.get("source", ""), date=d.get("estimated_on", ""))
        if growth is not None:
            text += " " + _("The customer grows %(g)s %% a year.", g=f"{growth:g}")
        return text
    if e.kind == "value.competitor_estimated":
        return _("%(name)s on %(line)s: growth %(g)s %% (source: %(source)s, %(date)s).", name=d.get("competitor"),
                 line=d.get("product_line"), g=f"{d.get('growth') or 0:g}", source=d.get("source", ""),
                 date=d.get("estimated_on", ""))
    return None
