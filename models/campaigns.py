"""Campaigns and their return (domain §11, issue 14 point 5): name, channel, period, budget and cost;
the chain per campaign and per source from leads to qualified, accepted, signed customers and revenue,
with the cost per lead and per signed customer."""
import datetime as dt
from decimal import Decimal

import peewee as pw

from models import audit, clock
from models.base import db, fresh
from models.customer_tables import SOURCES, Customer
from models.fields import parse_date, text_field
from models.errors import FieldErrors, N_
from models.lead_tables import CAMPAIGN_CHANNELS, Campaign, Lead
from models.orders import Order, parse_decimal
from models.permissions import require

SIGNED_STAGES = ("signed", "long_term")
CENT = Decimal("0.01")


def validate_campaign(data, campaign=None):
    e = FieldErrors()
    out = {"name": text_field(data, e, "name", 100, required=True), "note": text_field(data, e, "note", 300)}
    channel = (data.get("channel") or "").strip()
    if channel not in CAMPAIGN_CHANNELS:
        e.add("channel", N_("Choose one of the options."))
    source = (data.get("source") or "media").strip()
    if source not in SOURCES:
        e.add("source", N_("Choose one of the options."))
    out.update(channel=channel, source=source)
    for field in ("starts_on", "ends_on"):
        try:
            out[field] = parse_date(data.get(field) or "")
        except ValueError as exc:
            e.add(field, str(exc))
    if out.get("starts_on") and out.get("ends_on") and out["ends_on"] < out["starts_on"]:
        e.add("ends_on", N_("The end cannot be before the start."))
    for field in ("budget", "cost"):
        raw = str(data.get(field) or "0").strip() or "0"
        try:
            out[field] = parse_decimal(raw, allow_zero=True)
        except ValueError as exc:
            e.add(field, str(exc))
    clash = Campaign.select().where(Campaign.name == out["name"])
    if campaign is not None:
        clash = clash.where(Campaign.id != campaign.id)
    if out["name"] and clash.exists():
        e.add("name", N_("That name is taken."))
    e.raise_if_any()
    return out


def save_campaign(actor, data, campaign=None):
    """Create or edit a campaign (audited, with the changed figures)."""
    require(actor, "campaign.manage")
    values = validate_campaign(data, campaign)
    with db.atomic():
        if campaign is None:
            campaign = Campaign.create(**values, created_by=actor, created_at=clock.now())
            audit.record("campaign.created", actor, campaign_id=campaign.id, name=campaign.name)
            return campaign
        fresh(campaign)
        changes = {k: [str(getattr(campaign, k)), str(v)] for k, v in values.items() if getattr(campaign, k) != v}
        if changes:
            Campaign.update(**values).where(Campaign.id == campaign.id).execute()
            audit.record("campaign.updated", actor, campaign_id=campaign.id, name=values["name"], changes=changes)
    return Campaign.get_by_id(campaign.id)


def _per(cost, n):
    return (Decimal(cost) / n).quantize(CENT) if n else None


def period_leads(since=None, until=None):
    """The leads that came in [since, until] (dates, business time): what `roi` counts."""
    period = []
    if since:
        period.append(Lead.created_at >= clock.local_day_start(since))
    if until:
        period.append(Lead.created_at < clock.local_day_start(until + dt.timedelta(days=1)))
    return period


def roi(since=None, until=None, by="campaign", any_leads=True):
    """The chain per campaign (or per source) for leads that came in [since, until] (dates, business time):
    leads, qualified, accepted, signed customers (stage signed or long-term), revenue (their signed orders
    from the first lead on), cost, cost per lead and per signed customer. Campaign cost counts whole for a
    campaign that overlaps the period; a source's cost is the cost of its campaigns. `any_leads=False`: the
    caller knows that no lead came in the period (the campaigns only, with zeros)."""
    key = Lead.campaign if by == "campaign" else Lead.source
    period = period_leads(since, until)
    leads = Lead.select(key.alias("k"), pw.fn.COUNT(Lead.id).alias("leads"),
                        pw.fn.COUNT(Lead.qualified_at).alias("qualified"),
                        pw.fn.COUNT(Lead.accepted_at).alias("accepted"))
    if period:
        leads = leads.where(*period)
    rows = {r["k"]: {"key": r["k"], "leads": r["leads"], "qualified": r["qualified"], "accepted": r["accepted"],
                     "signed": 0, "revenue": Decimal("0.00")} for r in leads.group_by(key).dicts()} if any_leads else {}
    pairs = Lead.select(key.alias("k"), Lead.customer.alias("cid"), pw.fn.MIN(Lead.created_at).alias("first"))
    if period:
        pairs = pairs.where(*period)
    pairs = pairs.group_by(key, Lead.customer).alias("p")
    signed = (Customer.select(pairs.c.k, pw.fn.COUNT(Customer.id)).join(pairs, on=(Customer.id == pairs.c.cid))
              .where(Customer.stage.in_(SIGNED_STAGES)).group_by(pairs.c.k).tuples())
    for k, n in signed if rows else ():
        if k in rows:
            rows[k]["signed"] = n
    revenue = (Order.select(pairs.c.k, pw.fn.SUM(Order.total)).join(pairs, on=(Order.customer == pairs.c.cid))
               .where((Order.status == "signed") & (Order.ordered_on >= pw.fn.DATE(pairs.c.first)))
               .group_by(pairs.c.k).tuples())
    for k, total in revenue if rows else ():
        if k in rows:
            rows[k]["revenue"] = Decimal(total or 0).quantize(CENT)
    campaigns = Campaign.select()
    if since:
        campaigns = campaigns.where(Campaign.ends_on >= since)
    if until:
        campaigns = campaigns.where(Campaign.starts_on <= until)
    campaigns = list(campaigns.order_by(Campaign.starts_on.desc(), Campaign.id.desc()))
    if by == "campaign":
        for c in campaigns:
            rows.setdefault(c.id, {"key": c.id, "leads": 0, "qualified": 0, "accepted": 0, "signed": 0,
                                   "revenue": Decimal("0.00")})
        named = {c.id: c for c in campaigns}  # the period's campaigns, read above; others only if a lead names one
        others = [k for k in rows if k and k not in named]
        if others:
            named.update((c.id, c) for c in Campaign.select().where(Campaign.id.in_(others)))
        for k, r in rows.items():
            c = named.get(k)
            r.update(campaign=c, name=c.name if c else None, cost=Decimal(c.cost if c else 0).quantize(CENT),
                     budget=Decimal(c.budget if c else 0).quantize(CENT), channel=c.channel if c else "")
    else:
        costs = {}
        for c in campaigns:
            costs[c.source] = costs.get(c.source, Decimal(0)) + Decimal(c.cost)
        for k, r in rows.items():
            r.update(name=k, cost=costs.get(k, Decimal(0)).quantize(CENT))
    out = []
    for r in rows.values():
        r["per_lead"] = _per(r["cost"], r["leads"])
        r["per_signed"] = _per(r["cost"], r["signed"])
        r["return"] = (r["revenue"] / r["cost"]).quantize(CENT) if r["cost"] else None
        out.append(r)
    return sorted(out, key=lambda r: (r["key"] is None, -r["leads"], str(r.get("name") or "")))


def active_campaigns(today=None, limit=5):
    today = today or clock.today()
    return list(Campaign.select().where((Campaign.starts_on <= today) & (Campaign.ends_on >= today))
                .order_by(Campaign.ends_on, Campaign.id).limit(limit))
