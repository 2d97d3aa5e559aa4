"""Share of wallet and growth (domain §7, issue 15 item 8): per customer and product line, our 12-month
revenue (signed orders' lines) against the customer's estimated spend, entered by the rep with a date and a
source; our growth against the customer's own (estimated) growth and against named competitors' (entered
estimates).

Estimates are rows (the newest per customer × line, or per customer × line × competitor, is `current`, the
rest is history). `WalletLine` keeps, per customer × line with a spend estimate, the figures the lists read:
our revenue now and the 12 months before, the share now and a year ago (the spend then is today's estimate
deflated by the customer's growth), and `falling`: the customer grows and our share falls, i.e. we grow more
slowly than the customer. Entering an estimate and signing an order refresh that customer's lines; the
sweep refreshes every line once a business day (the 12-month window moves), in chunks.
"""
import datetime as dt
from decimal import Decimal

import peewee as pw

from models import audit, clock, hooks
from models import orders as om
from models.base import BaseModel, db, fresh
from models.customers import Customer
from models.errors import N_, FieldErrors
from models.fields import clean_text, date_field, parse_percent, parse_yuan, take
from models.keyset import keyset_page
from models.permissions import require, scope
from models.users import User

FOCUS_TIERS = ("diamond", "strategic", "potential")  # the article's minimum: these customers at least
MAX_SPEND = Decimal("1000000000")  # 10亿 a year on one product line: beyond it a typing slip, not an estimate
MAX_AGE = dt.timedelta(days=730)   # an estimate dated more than two years ago is history, not an estimate
GROWTH_RANGE = (-99, 500)          # percent a year: a customer cannot shrink by 100 % and still spend
SOURCE_MAX, NAME_MAX = 200, 60


def _money(**kw):
    return pw.DecimalField(max_digits=14, decimal_places=2, auto_round=True, default=0, **kw)


class SpendEstimate(BaseModel):
    """What a customer spends a year on one product line (all suppliers), as the rep estimated it."""
    customer = pw.ForeignKeyField(Customer, on_delete="CASCADE", index=False, backref="spend_estimates")
    product_line = pw.CharField(max_length=40)
    spend = _money()
    customer_growth = pw.FloatField(null=True)  # the customer's own growth on the line, percent a year
    source = pw.CharField(max_length=SOURCE_MAX)
    estimated_on = pw.DateField()
    entered_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
    entered_at = pw.DateTimeField()
    current = pw.BooleanField(default=True)

    class Meta:
        indexes = ((("customer", "product_line", "current"), False),)


class CompetitorEstimate(BaseModel):
    """A named competitor's growth (and share, if known) with the customer on one product line."""
    customer = pw.ForeignKeyField(Customer, on_delete="CASCADE", index=False, backref="competitor_estimates")
    product_line = pw.CharField(max_length=40)
    competitor = pw.CharField(max_length=NAME_MAX)
    growth = pw.FloatField()
    share = pw.FloatField(null=True)
    source = pw.CharField(max_length=SOURCE_MAX)
    estimated_on = pw.DateField()
    entered_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
    entered_at = pw.DateTimeField()
    current = pw.BooleanField(default=True)

    class Meta:
        indexes = ((("customer", "product_line", "competitor", "current"), False),)


class WalletLine(BaseModel):
    """A customer × product line with a spend estimate: the figures the per-customer view and the managers'
    list read (kept by `refresh`)."""
    customer = pw.ForeignKeyField(Customer, on_delete="CASCADE", index=False, backref="wallet_lines")
    product_line = pw.CharField(max_length=40)
    spend = _money()
    customer_growth = pw.FloatField(null=True)
    ours_12m = _money()
    ours_prev = _money()
    our_growth = pw.FloatField(null=True)
    share = pw.FloatField(default=0)
    share_prev = pw.FloatField(null=True)
    share_drop = pw.FloatField(default=0)  # points lost since a year ago (0 when it did not fall)
    falling = pw.BooleanField(default=False)
    refreshed_on = pw.DateField()

    class Meta:
        indexes = ((("customer", "product_line"), True), (("falling", "share_drop", "id"), False),
                   (("refreshed_on", "customer"), False))


def product_lines():
    """The product lines of the active products, sorted."""
    return [r[0] for r in om.Product.select(om.Product.product_line).where(
        (om.Product.product_line != "") & om.Product.active).distinct().order_by(om.Product.product_line).tuples()]


def our_revenue(customer_ids, today):
    """{(customer id, line): (last 12 months, the 12 before)} from the lines of signed orders."""
    since, prev = today - dt.timedelta(days=365), today - dt.timedelta(days=730)
    recent = pw.Case(None, [(om.Order.ordered_on > since, om.OrderLine.amount)], 0)
    before = pw.Case(None, [(om.Order.ordered_on <= since, om.OrderLine.amount)], 0)
    q = (om.OrderLine.select(om.Order.customer, om.Product.product_line, pw.fn.SUM(recent), pw.fn.SUM(before))
         .join(om.Order, on=(om.OrderLine.order == om.Order.id))
         .join(om.Product, on=(om.OrderLine.product == om.Product.id))
         .where(om.Order.customer.in_(list(customer_ids)) & (om.Order.status == "signed")
                & (om.Order.ordered_on > prev) & (om.Order.ordered_on <= today))
         .group_by(om.Order.customer, om.Product.product_line))
    return {(c, line): (Decimal(str(a or 0)).quantize(Decimal("0.01")), Decimal(str(b or 0)).quantize(Decimal("0.01")))
            for c, line, a, b in q.tuples()}


def figures(spend, customer_growth, ours_12m, ours_prev):
    """Share now and a year ago, our growth, the points lost, and whether the share falls while the customer
    grows. The spend a year ago is today's estimate deflated by the customer's growth."""
    spend, ours, prev = float(spend), float(ours_12m), float(ours_prev)
    share = round(100 * ours / spend, 1) if spend else 0.0
    our_growth = round(100 * (ours - prev) / prev, 1) if prev else None
    share_prev = None
    if customer_growth is not None and spend:
        spend_then = spend / (1 + customer_growth / 100)
        share_prev = round(100 * prev / spend_then, 1) if prev else None
    drop = round(share_prev - share, 1) if share_prev is not None and share_prev > share else 0.0
    falling = bool(customer_growth is not None and customer_growth > 0 and drop > 0)
    return {"share": share, "our_growth": our_growth, "share_prev": share_prev, "share_drop": drop, "falling": falling}


def refresh(customer_ids, today=None):
    """Recompute the wallet lines of these customers from their current spend estimates and their orders."""
    today = today or clock.today()
    ids = list(customer_ids)
    if not ids:
        return 0
    estimates = list(SpendEstimate.select().where(SpendEstimate.customer.in_(ids) & SpendEstimate.current))
    revenue = our_revenue({e.customer_id for e in estimates}, today) if estimates else {}
    rows = []
    for e in estimates:
        ours, prev = revenue.get((e.customer_id, e.product_line), (Decimal("0.00"), Decimal("0.00")))
        rows.append(dict(customer=e.customer_id, product_line=e.product_line, spend=e.spend,
                         customer_growth=e.customer_growth, ours_12m=ours, ours_prev=prev, refreshed_on=today,
                         **figures(e.spend, e.customer_growth, ours, prev)))
    with db.atomic():
        WalletLine.delete().where(WalletLine.customer.in_(ids)).execute()
        if rows:
            WalletLine.insert_many(rows).execute()
    return len(rows)


def sweep(now=None, chunk=1000):
    """Once a business day: every wallet line not refreshed today, a chunk of customers per transaction
    (idempotent: a second run the same day finds nothing to do)."""
    today = clock.to_local(now or clock.now()).date()
    done = 0
    while True:
        ids = [r[0] for r in WalletLine.select(WalletLine.customer).where(WalletLine.refreshed_on < today)
               .distinct().limit(chunk).tuples()]
        if not ids:
            return {"customers": done}
        refresh(ids, today)
        done += len(ids)


def _on_signed(order, lines):
    if WalletLine.select().where(WalletLine.customer == order.customer_id).exists():
        refresh([order.customer_id])


hooks.on("sweep", sweep, name="wallet")
om.on_signed(_on_signed)


# ---- entering estimates -------------------------------------------------------------------------------

def _common(e, data, today):
    """The product line, date and source every estimate carries."""
    line = str(data.get("product_line") or "").strip()
    if line not in product_lines():
        e.add("product_line", N_("Choose a product line."))
    estimated_on = date_field(e, data, "estimated_on", lo=today - MAX_AGE, hi=today, required=True)
    source = clean_text(data.get("source"), SOURCE_MAX)
    if source is None:
        e.add("source", N_("At most %(n)s characters."), n=SOURCE_MAX)
    elif not source:
        e.add("source", N_("Say where the estimate comes from (a purchasing manager, the annual report, a tender…)."))
    return line, estimated_on, source or ""


def _spend(e, raw):
    text = str(raw if raw is not None else "").strip()
    if text.startswith(("-", "−", "－")):
        e.add("spend", N_("The spend cannot be negative."))
        return None
    value = take(e, "spend", parse_yuan, text)
    if value is None and "spend" not in e:
        e.add("spend", N_("Enter the customer's yearly spend on the line, e.g. 3000000 or 300万."))
    elif value is not None and value <= 0:
        e.add("spend", N_("Enter the customer's yearly spend on the line, e.g. 3000000 or 300万."))
        value = None
    elif value is not None and value > MAX_SPEND:
        e.add("spend", N_("More than 1,000,000,000 yuan a year on one product line is not a plausible estimate: "
                          "check the amount and the unit."))
        value = None
    return value


def _growth(e, field, raw, required=False):
    if not str(raw if raw is not None else "").strip() and not required:
        return None
    return take(e, field, parse_percent, raw, *GROWTH_RANGE)


def set_spend_estimate(actor, customer, data):
    """The customer's yearly spend on a product line (all suppliers) and its own growth, dated and sourced.
    An estimate below what the customer bought from us in the last 12 months is refused."""
    require(actor, "value.wallet", customer)
    today = clock.today()
    e = FieldErrors()
    line, estimated_on, source = _common(e, data, today)
    spend = _spend(e, data.get("spend"))
    growth = _growth(e, "customer_growth", data.get("customer_growth"))
    if spend is not None and line and "product_line" not in e:
        ours = our_revenue([customer.id], today).get((customer.id, line), (Decimal(0), Decimal(0)))[0]
        if spend < ours:
            e.add("spend", N_("Below what the customer bought from us on this line in 12 months (%(ours)s yuan): "
                              "its whole spend cannot be smaller."), ours=f"{ours:,.2f}")
    e.raise_if_any()
    now = clock.now()
    with db.atomic():
        fresh(customer)
        require(actor, "value.wallet", customer)
        old = SpendEstimate.get_or_none((SpendEstimate.customer == customer.id) & (SpendEstimate.product_line == line)
                                        & SpendEstimate.current)
        if old is not None:
            SpendEstimate.update(current=False).where(SpendEstimate.id == old.id).execute()
        row = SpendEstimate.create(customer=customer.id, product_line=line, spend=spend, customer_growth=growth,
                                   source=source, estimated_on=estimated_on, entered_by=actor.id, entered_at=now)
        audit.record("value.spend_estimated", actor, customer, product_line=line, spend=str(spend),
                     before=str(old.spend) if old else None, customer_growth=growth, source=source,
                     estimated_on=estimated_on.isoformat())
        refresh([customer.id], today)
    return row


def set_competitor_estimate(actor, customer, data):
    """A named competitor's growth (and share, if known) with the customer on a line. Shares that would add
    up to more than 100 % with ours and the other competitors' are refused."""
    require(actor, "value.wallet", customer)
    today = clock.today()
    e = FieldErrors()
    line, estimated_on, source = _common(e, data, today)
    name = clean_text(data.get("competitor"), NAME_MAX)
    if name is None:
        e.add("competitor", N_("At most %(n)s characters."), n=NAME_MAX)
    elif not name:
        e.add("competitor", N_("Name the competitor."))
    growth = _growth(e, "growth", data.get("growth"), required=True)
    share = None
    if str(data.get("share") or "").strip():
        share = take(e, "share", parse_percent, data.get("share"), 0, 100)
    if share is not None and line and name and not e:
        ours = WalletLine.select(WalletLine.share).where((WalletLine.customer == customer.id)
                                                         & (WalletLine.product_line == line)).scalar() or 0
        others = sum(c.share or 0 for c in CompetitorEstimate.select().where(
            (CompetitorEstimate.customer == customer.id) & (CompetitorEstimate.product_line == line)
            & CompetitorEstimate.current & (CompetitorEstimate.competitor != name)))
        if ours + others + share > 100:
            e.add("share", N_("With our share (%(ours)s %%) and the other competitors' (%(others)s %%) this makes more "
                              "than 100 %%."), ours=f"{ours:g}", others=f"{others:g}")
    e.raise_if_any()
    now = clock.now()
    with db.atomic():
        fresh(customer)
        require(actor, "value.wallet", customer)
        CompetitorEstimate.update(current=False).where(
            (CompetitorEstimate.customer == customer.id) & (CompetitorEstimate.product_line == line)
            & (CompetitorEstimate.competitor == name) & CompetitorEstimate.current).execute()
        row = CompetitorEstimate.create(customer=customer.id, product_line=line, competitor=name, growth=growth,
                                        share=share, source=source, estimated_on=estimated_on, entered_by=actor.id,
                                        entered_at=now)
        audit.record("value.competitor_estimated", actor, customer, product_line=line, competitor=name, growth=growth,
                     share=share, source=source, estimated_on=estimated_on.isoformat())
    return row


# ---- reading ------------------------------------------------------------------------------------------

def wallet(customer):
    """The per-customer view: one entry per product line with an estimate or our revenue, in line order:
    {line, row (WalletLine or None), estimate, ours_12m, ours_prev, competitors}."""
    today = clock.today()
    lines = {w.product_line: w for w in WalletLine.select().where(WalletLine.customer == customer.id)}
    estimates = {s.product_line: s for s in SpendEstimate.select(SpendEstimate, User.full_name)
                 .join(User, pw.JOIN.LEFT_OUTER, on=(User.id == SpendEstimate.entered_by))
                 .where((SpendEstimate.customer == customer.id) & SpendEstimate.current)}
    competitors = {}
    for c in (CompetitorEstimate.select().where((CompetitorEstimate.customer == customer.id) & CompetitorEstimate.current)
              .order_by(CompetitorEstimate.competitor)):
        competitors.setdefault(c.product_line, []).append(c)
    revenue = {line: v for (_c, line), v in our_revenue([customer.id], today).items()}
    out = []
    for line in sorted(set(lines) | set(estimates) | set(revenue) | set(competitors)):
        ours, prev = revenue.get(line, (Decimal(0), Decimal(0)))
        out.append({"line": line, "row": lines.get(line), "estimate": estimates.get(line), "ours_12m": ours,
                    "ours_prev": prev, "our_growth": figures(1, None, ours, prev)["our_growth"],
                    "competitors": competitors.get(line, [])})
    return out


def estimate_history(customer_id, limit=20):
    return list(SpendEstimate.select(SpendEstimate, User.full_name)
                .join(User, pw.JOIN.LEFT_OUTER, on=(User.id == SpendEstimate.entered_by))
                .where(SpendEstimate.customer == customer_id)
                .order_by(SpendEstimate.entered_at.desc(), SpendEstimate.id.desc()).limit(limit))


def falling_shares(user, after=None, limit=50):
    """Growing customers where our share falls, most points lost first, in the user's customer scope:
    (rows of WalletLine with the customer's name and tier, next cursor)."""
    q = (WalletLine.select(WalletLine, Customer.id, Customer.name, Customer.value_tier)
         .join(Customer, on=(Customer.id == WalletLine.customer)).where(WalletLine.falling))
    return keyset_page(scope("customer", user, q), [WalletLine.share_drop, WalletLine.id], after=after, limit=limit,
                       descending=True)
