"""Daily reports over the web: a seller's report of a day (pre-filled from the day, plus what only they
know), the list of their recent days, the manager's page of the team's reports (read, comment, missing
flagged), and the competitor news search. Rules live in models/daily_reports.py."""
import datetime as dt

from flask import Blueprint, abort, make_response, render_template, request, url_for
from flask_login import current_user

from models import clock
from models import daily_reports as dr
from models.customers import STAGE_LABELS, Customer
from models.errors import N_, DomainError, ValidationError
from models.fields import date_or_none, id_or_none
from models.permissions import can, require
from models.users import User
from views import extend
from views import htmx as hx
from views.forms import field_errors
from views.i18n import translate_error

bp = Blueprint("daily_reports", __name__, url_prefix="/reports")

RECENT_DAYS = 14


def _form():
    return {k: v for k, v in request.form.items() if k != "csrf_token"}


def _day(text):
    day = date_or_none(text)
    if day is None:
        abort(404)
    return day


def _user(user_id):
    user = User.get_or_none(User.id == user_id)
    if user is None:
        abort(404)
    return user


@bp.get("/")
def mine():
    require(current_user, "plan.make")
    today = clock.today()
    days = [today - dt.timedelta(days=i) for i in range(RECENT_DAYS)]
    reports = {r.day: r for r in dr.DailyReport.select().where(
        (dr.DailyReport.rep == current_user.id) & (dr.DailyReport.day >= days[-1]))}
    return render_template("reports/mine.html", days=days, reports=reports, today=today,
                           report_days=dr.report_days(days[-1], days[0]))


def _report_context(report):
    """What the report block shows: facts, texts, news, comments and earlier versions."""
    return {"report": report, "rep": User.get_by_id(report.rep_id),
            "news": dr.news_of([report.id]).get(report.id, []),
            "comments": dr.comments_of([report.id]).get(report.id, []),
            "versions": list(report.versions.order_by(dr.ReportVersion.version.desc()))}


def _news_rows(report, data=None):
    if data is not None:
        return [{"competitor": data.get(f"news-{i}-competitor", ""), "customer_id": data.get(f"news-{i}-customer_id", ""),
                 "note": data.get(f"news-{i}-note", "")} for i in range(dr.NEWS_ROWS)]
    rows = [{"competitor": n.competitor, "customer_id": n.customer_id or "", "note": n.note}
            for n in (dr.news_of([report.id]).get(report.id, []) if report else [])]
    return rows + [{"competitor": "", "customer_id": "", "note": ""}] * (dr.NEWS_ROWS - len(rows))


def _my_customers():
    """The customers a seller may name in competitor news from a list: their own (a manager's team's)."""
    mine = (Customer.team == current_user.team_id) if can(current_user, "team.leads_one") else (
        Customer.owner == current_user.id)
    return list(Customer.select(Customer.id, Customer.name).where(mine).order_by(Customer.name).limit(500))


@bp.route("/<int:rep_id>/<day_text>", methods=["GET", "POST"])
def day(rep_id, day_text):
    rep, day = _user(rep_id), _day(day_text)
    require(current_user, "plan.view_rep", rep)
    report = dr.report_of(rep.id, day)
    if not can(current_user, "report.write", rep):
        if request.method == "POST":
            require(current_user, "plan.make")  # a seller hears why not; anyone else: 404
            return hx.run_verb(lambda: dr.save_report(current_user, rep, day, _form()), done=lambda r: None,
                               refused=_refused)
        ctx = _report_context(report) if report else {"report": None, "rep": rep}
        return render_template("reports/read.html", day=day, **ctx)
    errors, refusal, data, saved = {}, None, None, request.args.get("saved") == "1"
    if request.method == "POST":
        data = _form()
        try:
            report = dr.save_report(current_user, rep, day, data)
        except ValidationError as exc:
            errors = field_errors(exc, joined=True)
        except DomainError as exc:
            refusal = translate_error(exc.message, exc.params)
        else:
            return hx.redirect(url_for("daily_reports.day", rep_id=rep.id, day_text=day.isoformat(), saved=1))
    elif day > clock.today():
        refusal = translate_error(N_("A daily report cannot be for a day that has not come yet."))
    facts = dr.prefill(rep.id, day) if day <= clock.today() else None
    texts = data or ({name: getattr(report, name) for name in dr.TEXT_FIELDS} if report else {})
    ctx = dict(rep=rep, day=day, report=report, facts=facts, texts=texts, news_rows=_news_rows(report, data),
               errors=errors, refusal=refusal, saved=saved, customers=_my_customers(),
               comments=dr.comments_of([report.id]).get(report.id, []) if report else [])
    if request.htmx and request.method == "POST":
        return render_template("reports/_form.html", **ctx)
    return render_template("reports/write.html", **ctx)


def _refused(text):
    return render_template("error.html", message=text, status=409), 409


def _block(report):
    response = make_response(render_template("reports/_report.html", **_report_context(report), reviewing=True))
    return hx.trigger(response, "reportsChanged")


@bp.post("/<int:report_id>/read")
def read(report_id):
    report = dr.load_report(current_user, report_id)
    require(current_user, "report.review", report)
    return hx.run_verb(lambda: dr.mark_read(current_user, report),
                       done=lambda r: _block(r) if request.htmx else hx.redirect(
                           url_for("daily_reports.team", day=r.day.isoformat())), refused=_refused)


@bp.post("/<int:report_id>/comments")
def comment(report_id):
    report = dr.load_report(current_user, report_id)
    require(current_user, "report.review", report)
    body = request.form.get("body", "")

    def invalid(exc):
        ctx = _report_context(report)
        response = render_template("reports/_report.html", **ctx, reviewing=True, comment_error=field_errors(
            exc, joined=True).get("body"), body=body)
        return response if request.htmx else (render_template("reports/read.html", day=report.day, **ctx), 200)

    return hx.run_verb(lambda: dr.comment_report(current_user, report, body), invalid=invalid,
                       done=lambda c: _block(dr.DailyReport.get_by_id(report.id)) if request.htmx else hx.redirect(
                           url_for("daily_reports.team", day=report.day.isoformat())), refused=_refused)


@bp.get("/team")
def team():
    require(current_user, "plan.team")
    today = clock.today()
    day = date_or_none(request.args.get("day")) or today
    reps = dr.team_reps(current_user)
    reports = dr.reports_for(current_user, [r.id for r in reps], day)
    ids = [r.id for r in reports.values()]
    news, comments = dr.news_of(ids), dr.comments_of(ids)
    versions = {}
    for v in dr.ReportVersion.select().where(dr.ReportVersion.report.in_(ids)).order_by(dr.ReportVersion.version.desc()):
        versions.setdefault(v.report_id, []).append(v)
    unread = [r for r in dr.unread(current_user) if r.day != day]
    due = day < today and dr.is_report_day(day)
    return render_template("reports/team.html", day=day, today=today, reps=reps, reports=reports, news=news,
                           comments=comments, versions=versions, unread=unread, due=due,
                           prev_day=day - dt.timedelta(days=1), next_day=day + dt.timedelta(days=1))


@bp.get("/news")
def news():
    if not can(current_user, "plan.make"):
        require(current_user, "plan.team")  # sellers search their own news, managers and admins their teams'
    q = (request.args.get("q") or "")[:60]
    customer_id = id_or_none(request.args.get("customer_id"))
    customer = Customer.get_or_none(Customer.id == customer_id) if customer_id else None
    if customer is not None and not can(current_user, "customer.view", customer):
        customer = None
    rows = dr.search_news(current_user, q, customer.id if customer else None) if (q.strip() or customer) else \
        dr.search_news(current_user, limit=30)
    return hx.fragment_or_page("reports/_news_rows.html", "reports/news.html", rows=rows, q=q, customer=customer)


# ---- the shared screens ----------------------------------------------------------------------------------

@extend.workbench_panel("reports/_wb_panel.html", roles=("sales", "manager"), order=6,
                        probe=lambda user: extend.kept_probe("daily_reports.today", lambda rep, day: dr.DailyReport.select(
                            dr.DailyReport.id).where((dr.DailyReport.rep == rep) & (dr.DailyReport.day == day)),
                            user.id, clock.today()))
def _report_panel(user, found=None):
    today = clock.today()
    ctx = {"today": today, "filed_today": dr.report_of(user.id, today) is not None if found is None else found}
    if can(user, "plan.team"):
        last = dr.last_report_day(today)
        reps = dr.team_reps(user, extend.team_members(user.team_id) if can(user, "team.leads_one") else None)
        ctx["missing"] = dr.missing(user, last, reps=reps) if last else []
        ctx["yesterday"] = last
        ctx["unread"] = dr.unread_count(user, reps=reps)
    return ctx


@extend.timeline("report.")
def _describe(e):
    d = e.data or {}
    sentences = {"report.filed": N_("Filed the daily report of %(day)s."),
                 "report.edited": N_("Edited the daily report of %(day)s (version %(version)s)."),
                 "report.read": N_("Read the daily report of %(day)s."),
                 "report.commented": N_("Commented on the daily report of %(day)s: %(excerpt)s")}
    if e.kind not in sentences:
        return None
    return translate_error(sentences[e.kind], {"day": d.get("day", ""), "version": d.get("version", ""),
                                               "excerpt": d.get("excerpt", "")})


extend.template_globals(REPORT_STAGE_LABELS=STAGE_LABELS)
