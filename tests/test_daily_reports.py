"""Daily reports: the pre-fill of one seller's day at its boundaries (business-day midnight), filing one's
own report only, for a day that has come and not too long ago, competitor news (checked, searchable within
what one may see), the manager's reading, comments and the versions an edit after the reading keeps,
missing reports, and the pages. Frozen clock: Tue 24 Nov 2026, 10:00 in Shanghai."""
import datetime as dt
from decimal import Decimal

import pytest

from models import clock
from models import daily_reports as dr
from models import plans as pm
from models.audit import AuditEvent
from models.customers import FollowUp, StageChange
from models.errors import DomainError, NotFound, ValidationError
from models.notifications import Notification
from models.orders import Order, Payment
from tests.test_plans import team  # noqa: F401  (the same team: a rep, a teammate, their manager, another team)

DAY = dt.timedelta(days=1)
TODAY = dt.date(2026, 11, 24)
REPORT = "上门拜访采购经理，确认了明年面料需求和报价时间表"


def local(day, hour, minute=0):
    return clock.from_local(dt.datetime.combine(day, dt.time(hour, minute)))


def follow_up(team, at, valid=True, customer=None):
    return FollowUp.create(customer=customer or team["mine"], author=team["rep"], type="visit", at=at, content=REPORT,
                           created_at=at, is_valid=valid)


def test_prefill_counts_the_business_day_only(team):
    rep, mine = team["rep"], team["mine"]
    item = pm.plan_visit(rep, {"customer_id": str(mine.id), "day": TODAY.isoformat(), "objective": "确认需求"})
    pm.carry_out(rep, item, {"content": REPORT})
    follow_up(team, local(TODAY, 0, 0), valid=False)            # first minute of the day: in
    follow_up(team, local(TODAY, 23, 59))                       # last minute: in
    follow_up(team, local(TODAY - DAY, 23, 59))                 # the day before: out
    follow_up(team, local(TODAY + DAY, 0, 0))                   # the day after: out
    StageChange.create(customer=mine, from_stage="target", to_stage="intent", at=local(TODAY, 9), actor=rep)
    StageChange.create(customer=mine, from_stage="intent", to_stage="signed", at=local(TODAY - DAY, 23, 30), actor=rep)
    order = Order.create(customer=mine, rep=rep, ordered_on=TODAY, status="signed", total=Decimal("1200.50"), created_at=clock.now())
    Order.create(customer=mine, rep=rep, ordered_on=TODAY, status="draft", total=Decimal("99"), created_at=clock.now())
    Payment.create(order=order, customer=mine, received_on=TODAY, amount=Decimal("500"), method="transfer", created_at=clock.now())
    Payment.create(order=order, customer=mine, received_on=TODAY - DAY, amount=Decimal("7"), method="transfer", created_at=clock.now())
    f = dr.prefill(rep.id, TODAY)
    assert (f["planned"], f["carried_out"], f["plan"][0]["valid"]) == (1, 1, True)
    assert (f["followup_count"], f["valid_followups"]) == (3, 2)  # the plan's own follow-up and the two at the edges
    assert [(m["from"], m["to"]) for m in f["stage_moves"]] == [("target", "intent")]
    assert (len(f["orders"]), f["order_total"], f["collected"]) == (1, "1200.50", "500.00")
    empty = dr.prefill(team["mate"].id, TODAY)
    assert (empty["planned"], empty["followup_count"], empty["collected"]) == (0, 0, "0.00")


def file(actor, rep=None, day=TODAY, **data):
    return dr.save_report(actor, rep or actor, day, data)


def test_a_rep_files_their_report_with_the_days_facts(team):
    follow_up(team, local(TODAY, 9))
    report = file(team["rep"], opinions="客户觉得价格偏高", tomorrow="拜访三家老客户",
                  **{"news-0-competitor": "鸿运纺织", "news-0-customer_id": str(team["mine"].id), "news-0-note": "报价低5%"})
    assert (report.rep_id, report.day, report.version, report.facts["followup_count"]) == (team["rep"].id, TODAY, 1, 1)
    news = list(dr.CompetitorNews.select())
    assert [(n.competitor, n.customer_id, n.day) for n in news] == [("鸿运纺织", team["mine"].id, TODAY)]
    assert AuditEvent.select().where(AuditEvent.kind == "report.filed").count() == 1


def test_a_report_for_another_reps_day_is_refused_with_a_message(team):
    with pytest.raises(DomainError) as exc:
        file(team["mgr"], rep=team["rep"], opinions="代写")
    assert exc.value.message == "You can file only your own daily report."
    with pytest.raises(DomainError):
        file(team["mate"], rep=team["rep"])
    with pytest.raises(NotFound):
        file(team["admin"], rep=team["rep"])
    assert dr.DailyReport.select().count() == 0


@pytest.mark.parametrize("day,ok", [(TODAY + DAY, False), (TODAY, True), (TODAY - 31 * DAY, True), (TODAY - 32 * DAY, False)])
def test_which_days_a_report_may_be_for(team, day, ok):
    if ok:
        assert file(team["rep"], day=day).day == day
    else:
        with pytest.raises(DomainError) as exc:
            file(team["rep"], day=day)
        assert exc.value.message in ("A daily report cannot be for a day that has not come yet.",
                                     "Daily reports are filed within %(n)s days.")
        assert dr.DailyReport.select().count() == 0


def test_the_day_turns_at_midnight_in_shanghai(team):
    clock.freeze(local(TODAY, 23, 59))
    with pytest.raises(DomainError):
        file(team["rep"], day=TODAY + DAY)
    clock.freeze(local(TODAY + DAY, 0, 0))
    assert file(team["rep"], day=TODAY + DAY).day == TODAY + DAY


def test_competitor_news_is_checked(team):
    with pytest.raises(ValidationError) as exc:
        file(team["rep"], **{"news-0-note": "降价了", "news-1-competitor": "鸿运", "news-1-customer_id": str(team["theirs"].id),
                             "news-2-competitor": "x" * 61, "opinions": "y" * 2001})
    assert set(exc.value.errors) == {"news-0-competitor", "news-1-customer_id", "news-2-competitor", "opinions"}
    assert dr.DailyReport.select().count() == 0 and dr.CompetitorNews.select().count() == 0


def test_competitor_news_is_searchable_within_what_one_may_see(team):
    file(team["rep"], **{"news-0-competitor": "鸿运纺织", "news-0-customer_id": str(team["mine"].id), "news-0-note": "报价低5%"})
    file(team["outsider"], **{"news-0-competitor": "鸿运纺织", "news-0-note": "在华南铺货"})
    assert [n.note for n in dr.search_news(team["rep"], "鸿运")] == ["报价低5%"]
    assert [n.note for n in dr.search_news(team["mgr"], "报价")] == ["报价低5%"]
    assert [n.note for n in dr.search_news(team["mgr"], customer_id=team["mine"].id)] == ["报价低5%"]
    assert len(dr.search_news(team["admin"], "鸿运")) == 2
    assert dr.search_news(team["other_mgr"], "报价") == []


def test_manager_reads_and_comments_and_an_edit_after_reading_keeps_a_version(team):
    report = file(team["rep"], opinions="第一版")
    file(team["rep"], opinions="改了一下")  # before anyone read it: no version kept
    assert dr.ReportVersion.select().count() == 0
    dr.comment_report(team["mgr"], dr.DailyReport.get_by_id(report.id), "明天一起去拜访")
    row = dr.DailyReport.get_by_id(report.id)
    assert row.read_at is not None and row.read_by_id == team["mgr"].id
    assert Notification.select().where(Notification.user == team["rep"].id).count() == 1
    file(team["rep"], opinions="第三版")
    row = dr.DailyReport.get_by_id(report.id)
    assert (row.version, row.read_at, row.opinions) == (2, None, "第三版")
    assert [(v.version, v.content["opinions"]) for v in dr.ReportVersion.select()] == [(1, "改了一下")]
    dr.mark_read(team["mgr"], row)
    dr.mark_read(team["mgr"], row)  # twice: one audit row
    assert AuditEvent.select().where(AuditEvent.kind == "report.read").count() == 1


def test_who_reviews(team):
    report = file(team["rep"])
    for user in (team["rep"], team["mate"], team["other_mgr"], team["outsider"]):
        with pytest.raises(NotFound):
            dr.comment_report(user, report, "看过")
        with pytest.raises(NotFound):
            dr.mark_read(user, report)
    assert dr.mark_read(team["admin"], report).read_at is not None
    with pytest.raises(ValidationError):
        dr.comment_report(team["mgr"], report, "  ")


def test_missing_reports(team):
    file(team["rep"], day=TODAY - DAY)
    assert [u.id for u in dr.missing(team["mgr"], TODAY - DAY)] == [team["mate"].id]
    assert dr.missing(team["rep"], TODAY - DAY) == []
    assert [u.id for u in dr.missing(team["rep"], TODAY)] == [team["rep"].id]
    assert {u.id for u in dr.missing(team["admin"], TODAY - DAY)} >= {team["mate"].id, team["outsider"].id, team["mgr"].id}
    assert team["rep"].id not in {u.id for u in dr.missing(team["admin"], TODAY - DAY)}


# ---- pages ------------------------------------------------------------------------------------------------

def test_the_report_page_is_prefilled_and_files(client, team):
    follow_up(team, local(TODAY, 9))
    client.login(team["rep"])
    page = client.get(f"/reports/{team['rep'].id}/{TODAY.isoformat()}").get_data(as_text=True)
    assert 'id="report-facts"' in page and team["mine"].name in page and 'id="report-form"' in page
    r = client.post(f"/reports/{team['rep'].id}/{TODAY.isoformat()}", {"opinions": "满意", "news-0-note": "降价"}, htmx=True)
    assert r.status_code == 200 and "Which competitor?" in r.get_data(as_text=True)
    r = client.post(f"/reports/{team['rep'].id}/{TODAY.isoformat()}", {"opinions": "满意"}, htmx=True)
    assert r.status_code == 204 and dr.report_of(team["rep"].id, TODAY).opinions == "满意"
    future = client.get(f"/reports/{team['rep'].id}/{(TODAY + DAY).isoformat()}").get_data(as_text=True)
    assert "A daily report cannot be for a day that has not come yet." in future
    r = client.post(f"/reports/{team['rep'].id}/{(TODAY + DAY).isoformat()}", {"opinions": "x"}, htmx=True)
    assert "A daily report cannot be for a day that has not come yet." in r.get_data(as_text=True)
    assert client.get(f"/reports/{team['rep'].id}/junk").status_code == 404
    assert "missing" in client.get("/reports/").get_data(as_text=True)


def test_another_reps_day(client, team):
    client.login(team["mgr"])
    r = client.post(f"/reports/{team['rep'].id}/{TODAY.isoformat()}", {"opinions": "代写"}, htmx=True)
    assert r.status_code == 409 and "You can file only your own daily report." in r.get_data(as_text=True)
    client.login(team["mate"])
    assert client.post(f"/reports/{team['rep'].id}/{TODAY.isoformat()}", {"opinions": "代写"}).status_code == 404
    assert client.get(f"/reports/{team['rep'].id}/{TODAY.isoformat()}").status_code == 404
    assert dr.DailyReport.select().count() == 0


def test_the_manager_reads_the_teams_reports_in_one_place(client, team):
    report = file(team["rep"], day=TODAY - DAY, problems="需要技术支持",
                  **{"news-0-competitor": "鸿运纺织", "news-0-note": "报价低5%"})
    client.login(team["mgr"])
    page = client.get(f"/reports/team?day={(TODAY - DAY).isoformat()}").get_data(as_text=True)
    assert "需要技术支持" in page and "鸿运纺织" in page and f'id="missing-{team["mate"].id}"' in page
    r = client.post(f"/reports/{report.id}/comments", {"body": ""}, htmx=True)
    assert r.status_code == 200 and "Required." in r.get_data(as_text=True)
    r = client.post(f"/reports/{report.id}/comments", {"body": "下午电话聊"}, htmx=True)
    assert r.status_code == 200 and "下午电话聊" in r.get_data(as_text=True)
    assert dr.DailyReport.get_by_id(report.id).read_at is not None
    assert "鸿运纺织" in client.get("/reports/news?q=鸿运").get_data(as_text=True)
    client.login(team["other_mgr"])
    assert "需要技术支持" not in client.get(f"/reports/team?day={(TODAY - DAY).isoformat()}").get_data(as_text=True)
    assert client.post(f"/reports/{report.id}/read").status_code == 404
    assert "鸿运纺织" not in client.get("/reports/news?q=鸿运").get_data(as_text=True)


def test_workbench_flags_missing_reports_for_the_manager(client, team):
    client.login(team["mgr"])
    home = client.get("/").get_data(as_text=True)
    assert 'id="wb-daily-report"' in home and team["rep"].full_name in home  # Monday 23 Nov: nobody filed


def test_report_days_follow_the_working_calendar(team):
    from models import service as sv

    monday, friday, saturday = dt.date(2026, 11, 23), dt.date(2026, 11, 20), dt.date(2026, 11, 21)
    assert dr.last_report_day(monday) == friday and dr.last_report_day(TODAY) == monday
    assert dr.is_report_day(friday) and not dr.is_report_day(saturday)
    sv.ServiceSettings.create(settings={**sv.service_settings(), "holidays": ["2026-11-20"]}, updated_at=clock.now())
    assert dr.last_report_day(monday) == dt.date(2026, 11, 19)
    assert dr.report_days(dt.date(2026, 11, 16), monday) == {dt.date(2026, 11, d) for d in (16, 17, 18, 19, 23)}
