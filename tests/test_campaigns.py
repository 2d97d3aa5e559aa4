"""Campaign ROI (issue 14 point 5) at its boundaries: the chain leads → qualified → accepted → signed →
revenue per campaign and per source, the period filter by the lead's business date, revenue counted from
the first lead on, cost per lead and per signed customer; the page's table and chart."""
import datetime as dt
from decimal import Decimal

import pytest

from models import clock
from models.campaigns import roi
from models.lead_tables import Campaign, Lead
from models.orders import Order


def local(y, m, d, hh=0, mm=0):
    return clock.from_local(dt.datetime(y, m, d, hh, mm))


@pytest.fixture
def chain(make_customer, make_user):
    """Campaign 秋季展会 (cost 1,000): four leads from Nov 1 to Nov 30; one qualified, accepted and signed with
    an order of 5,000 after its lead (and one of 700 before it, not the campaign's)."""
    rep = make_user("sales")
    camp = Campaign.create(name="秋季展会", channel="exhibition", source="event", starts_on=dt.date(2026, 11, 1),
                           ends_on=dt.date(2026, 11, 30), budget=Decimal("1200"), cost=Decimal("1000"),
                           created_at=clock.now())
    won = make_customer(owner=rep, stage="signed", name="展会签约服饰有限公司")
    at = [local(2026, 11, 1, 0, 0), local(2026, 11, 10, 9), local(2026, 11, 20, 9), local(2026, 11, 30, 23, 59)]
    for i, when in enumerate(at):
        customer = won if i == 1 else make_customer(name=f"展会线索{i}服饰有限公司", stage="prospect")
        Lead.create(customer=customer.id, source="event", campaign=camp.id, created_at=when, status="accepted" if i == 1 else "new",
                    qualified_at=when if i == 1 else None, accepted_at=when if i == 1 else None)
    for day, total in ((dt.date(2026, 11, 12), "5000"), (dt.date(2026, 11, 9), "700")):
        Order.create(customer=won.id, rep=rep.id, ordered_on=day, status="signed", total=Decimal(total),
                     created_at=clock.now())
    return camp


def test_the_chain_reaches_revenue_with_cost_per_lead_and_per_signed_customer(chain):
    (row,) = [r for r in roi(dt.date(2026, 11, 1), dt.date(2026, 11, 30)) if r.get("campaign")]
    assert (row["leads"], row["qualified"], row["accepted"], row["signed"]) == (4, 1, 1, 1)
    assert row["revenue"] == Decimal("5000.00")  # the order before the lead is not the campaign's
    assert (row["cost"], row["per_lead"], row["per_signed"], row["return"]) == (
        Decimal("1000.00"), Decimal("250.00"), Decimal("1000.00"), Decimal("5.00"))
    (source,) = [r for r in roi(dt.date(2026, 11, 1), dt.date(2026, 11, 30), by="source") if r["key"] == "event"]
    assert (source["leads"], source["signed"], source["cost"]) == (4, 1, Decimal("1000.00"))


def test_the_period_counts_leads_by_their_business_date(chain):
    assert [r["leads"] for r in roi(dt.date(2026, 11, 2), dt.date(2026, 11, 29)) if r.get("campaign")] == [2]
    assert [r["leads"] for r in roi(dt.date(2026, 11, 30), dt.date(2026, 11, 30)) if r.get("campaign")] == [1]
    assert [r["leads"] for r in roi(dt.date(2026, 12, 1), dt.date(2026, 12, 31)) if r.get("campaign")] == []


def test_the_roi_page_shows_the_table_and_the_chart(client, make_user, chain):
    client.login(make_user("marketing"))
    page = client.get("/campaigns/?since=2026-11-01&until=2026-11-30").get_data(as_text=True)
    table = page[page.index('id="roi-table"'):page.index('id="roi-chart"')]
    assert "秋季展会" in table and "5,000" in table and "250" in table
    chart = page[page.index('id="roi-chart"'):]
    assert "<svg" in chart and "秋季展会" in chart
