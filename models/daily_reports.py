"""Daily reports (日报, domain §11): each evening a seller's report is pre-filled from the day (plan items
against what was carried out, follow-ups, lifecycle stage moves, orders, collections) and the seller adds
what only they know: competitor news, customer opinions, problems needing help, tomorrow's plan. Their
team's manager reads, comments and marks read; an edit after the reading keeps the earlier version.
"""
import datetime as dt
from decimal import Decimal

import peewee as pw

from models import audit, clock, todo
from models.base import BaseModel, JSONField, db, fresh, kept_select
from models.customers import Customer, FollowUp, StageChange
from models.errors import N_, DomainError, FieldErrors, NotFound
from models.fields import blank, clean_text, id_or_none, text_field
from models.notifications import notify
from models.orders import Order, Payment
from models.permissions import SELLERS, can, require, scope
from models.plans import PlanItem
from models.users import User

TEXT_FIELDS = ("opinions", "problems", "tomorrow")
TEXT_MAX = 2000
NEWS_ROWS = 5      # competitor news lines a report holds
BACKDATE_DAYS = 31  # a report may be filed or edited for this many days back
LIST_MAX = 50       # follow-ups and stage moves listed in the pre-fill (the counts are complete)


class DailyReport(BaseModel):
    """One seller's report of one day. `facts` is the pre-fill as it stood when last saved."""
    rep = pw.ForeignKeyField(User, on_delete="CASCADE", index=False, backref="+")
    day = pw.DateField()
    facts = JSONField(default=dict)
    opinions = pw.TextField(default="")
    problems = pw.TextField(default="")
    tomorrow = pw.TextField(default="")
    version = pw.SmallIntegerField(default=1)
    filed_at = pw.DateTimeField()
    updated_at = pw.DateTimeField()
    read_at = pw.DateTimeField(null=True)
    read_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")

    class Meta:
        indexes = ((("rep", "day"), True), (("day", "rep"), False))


class CompetitorNews(BaseModel):
    """A line of competitor news in a report: which competitor, about which customer (if any), what."""
    report = pw.ForeignKeyField(DailyReport, on_delete="CASCADE", index=False, backref="news")
    competitor = pw.CharField(max_length=60)
    customer = pw.ForeignKeyField(Customer, null=True, on_delete="SET NULL", index=False, backref="+")
    note = pw.CharField(max_length=500, default="")
    day = pw.DateField()

    class Meta:
        indexes = ((("report",), False), (("competitor", "day"), False), (("customer", "day"), False), (("day",), False))


class ReportComment(BaseModel):
    report = pw.ForeignKeyField(DailyReport, on_delete="CASCADE", index=False, backref="comments")
    author = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
    body = pw.TextField()
    at = pw.DateTimeField()

    class Meta:
        indexes = ((("report", "at"), False),)


class ReportVersion(BaseModel):
    """What a report said before an edit made after the manager had read it."""
    report = pw.ForeignKeyField(DailyReport, on_delete="CASCADE", index=False, backref="versions")
    version = pw.SmallIntegerField()
    content = JSONField()
    read_at = pw.DateTimeField(null=True)
    saved_at = pw.DateTimeField()

    class Meta:
        indexes = ((("report", "version"), True),)


# ---- which days call for a report -------------------------------------------------------------------

def _calendar():
    from models.service import WorkingCalendar  # the working days and holidays of the service settings

    try:
        return WorkingCalendar()
    except DomainError:
        return None


def is_report_day(day, calendar=None):
    """A working day of the settings' calendar (Monday to Friday without one)."""
    calendar = calendar or _calendar()
    return calendar.is_workday(day) if calendar else day.weekday() < 5


def last_report_day(today):
    """The latest report day before `today`: whose reports are missing if not filed by now."""
    calendar = _calendar()
    day = today - dt.timedelta(days=1)
    for _ in range(60):
        if is_report_day(day, calendar):
            return day
        day -= dt.timedelta(days=1)
    return None


def report_days(first, last):
    calendar = _calendar()
    return {first + dt.timedelta(days=i) for i in range((last - first).days + 1)
            if is_report_day(first + dt.timedelta(days=i), calendar)}


# ---- the pre-fill ---------------------------------------------------------------------------------

def day_bounds(day):
    """The business day as naive UTC [start, end)."""
    return clock.local_day_start(day), clock.local_day_start(day + dt.timedelta(days=1))


def prefill(rep_id, day):
    """The day's facts for one seller, each an indexed query of that rep and day: plan items (rep, day),
    follow-ups (author, at), stage moves (actor, at), signed orders (rep, ordered_on), collections on their
    orders (payments received that day)."""
    start, end = day_bounds(day)
    plan = [plan_fact(p.id, p.customer_id, p.customer_name, p.kind, p.at, p.objective, p.status, p.followup_valid,
                      p.close_reason, p.followup_id)
            for p in (PlanItem.select(PlanItem, Customer.name.alias("customer_name"),
                                      FollowUp.is_valid.alias("followup_valid"))
                      .join(Customer, on=(PlanItem.customer == Customer.id))
                      .switch(PlanItem).join(FollowUp, pw.JOIN.LEFT_OUTER, on=(PlanItem.followup == FollowUp.id))
                      .where((PlanItem.rep == rep_id) & (PlanItem.day == day))
                      .order_by(PlanItem.at.is_null(), PlanItem.at, PlanItem.id).objects())]
    followups = [(f.id, f.customer_id, f.customer_name, f.type, f.is_valid, f.content)
                 for f in (FollowUp.select(FollowUp.id, FollowUp.customer, FollowUp.type, FollowUp.is_valid,
                                           FollowUp.content, Customer.name.alias("customer_name"))
                           .join(Customer, on=(FollowUp.customer == Customer.id))
                           .where((FollowUp.author == rep_id) & (FollowUp.at >= start) & (FollowUp.at < end))
                           .order_by(FollowUp.at).objects())]
    moves = [(s.customer_id, s.customer_name, s.from_stage, s.to_stage)
             for s in (StageChange.select(StageChange.customer, StageChange.from_stage, StageChange.to_stage,
                                          Customer.name.alias("customer_name"))
                       .join(Customer, on=(StageChange.customer == Customer.id))
                       .where((StageChange.actor == rep_id) & (StageChange.at >= start) & (StageChange.at < end))
                       .order_by(StageChange.at).limit(LIST_MAX).objects())]
    orders = [(o.id, o.customer_id, o.customer_name, o.total)
              for o in (Order.select(Order.id, Order.customer, Order.total, Customer.name.alias("customer_name"))
                        .join(Customer, on=(Order.customer == Customer.id))
                        .where((Order.rep == rep_id) & (Order.ordered_on == day) & (Order.status == "signed")).objects())]
    collected = (Payment.select(pw.fn.COALESCE(pw.fn.SUM(Payment.amount), 0))
                 .join(Order, on=(Payment.order == Order.id))
                 .where((Order.rep == rep_id) & (Payment.received_on == day)).scalar())
    return facts_of(plan, followups, moves, orders, collected)


def plan_fact(item_id, customer_id, customer_name, kind, at, objective, status, valid, reason, followup_id):
    """One plan item as the pre-fill keeps it."""
    return {"id": item_id, "customer_id": customer_id, "customer": customer_name, "kind": kind,
            "at": at.strftime("%H:%M") if at else "", "objective": objective, "status": status, "valid": valid,
            "reason": reason, "followup_id": followup_id}


def facts_of(plan, followups, moves, orders, collected):
    """The pre-fill from one day's rows: `plan` as `plan_fact` dicts, `followups` as (id, customer id, customer,
    type, valid, content) in time order, `moves` as (customer id, customer, from, to), `orders` as (id, customer
    id, customer, total), `collected` the day's payments (the demo's year of reports builds them the same way)."""
    planned_ids = {p.get("followup_id") for p in plan}
    return {
        "plan": plan,
        "planned": len(plan), "carried_out": sum(1 for p in plan if p["status"] == "done"),
        "followups": [{"customer_id": cid, "customer": name, "type": ftype, "valid": valid, "excerpt": content[:80],
                       "planned": fid in planned_ids}
                      for fid, cid, name, ftype, valid, content in followups[:LIST_MAX]],
        "followup_count": len(followups),
        "valid_followups": sum(1 for f in followups if f[4]),
        "unplanned_followups": len({f[1] for f in followups} - {p["customer_id"] for p in plan}),
        "stage_moves": [{"customer_id": cid, "customer": name, "from": old, "to": new}
                        for cid, name, old, new in moves[:LIST_MAX]],
        "orders": [{"id": oid, "customer_id": cid, "customer": name, "total": str(total)}
                   for oid, cid, name, total in orders],
        "order_total": str(sum((Decimal(str(o[3])) for o in orders), Decimal("0.00"))),
        "collected": str(Decimal(str(collected or 0)).quantize(Decimal("0.01"))),
    }


# ---- filing -----------------------------------------------------------------------------------------

def _parse_news(actor, data, e):
    rows = []
    for i in range(NEWS_ROWS):
        competitor = clean_text(data.get(f"news-{i}-competitor"), 60)
        note = clean_text(data.get(f"news-{i}-note"), 500)
        raw_customer = data.get(f"news-{i}-customer_id")
        if competitor is None:
            e.add(f"news-{i}-competitor", N_("At most %(n)s characters."), n=60)
        if note is None:
            e.add(f"news-{i}-note", N_("At most %(n)s characters."), n=500)
        if competitor is None or note is None:
            continue
        if not competitor and not note and blank(raw_customer):
            continue
        if not competitor:
            e.add(f"news-{i}-competitor", N_("Which competitor?"))
        customer_id = None
        if not blank(raw_customer):
            customer = Customer.get_or_none(Customer.id == (id_or_none(raw_customer) or 0))
            if customer is None or not can(actor, "customer.view", customer):
                e.add(f"news-{i}-customer_id", N_("Choose a customer you can see."))
            else:
                customer_id = customer.id
        rows.append({"competitor": competitor, "customer": customer_id, "note": note})
    return rows


def validate_report(actor, rep, day, data, now):
    """Who may file which day: only one's own report (a clear refusal otherwise), for a day that has come,
    at most BACKDATE_DAYS back; the free texts and up to NEWS_ROWS competitor news lines."""
    if not can(actor, "report.write", rep):
        if actor.role in SELLERS:
            raise DomainError(N_("You can file only your own daily report."))
        raise NotFound()
    today = clock.to_local(now).date()
    if day > today:
        raise DomainError(N_("A daily report cannot be for a day that has not come yet."))
    if day < today - dt.timedelta(days=BACKDATE_DAYS):
        raise DomainError(N_("Daily reports are filed within %(n)s days."), n=BACKDATE_DAYS)
    e = FieldErrors()
    values = {name: text_field(data, e, name, TEXT_MAX, multiline=True) for name in TEXT_FIELDS}
    news = _parse_news(actor, data, e)
    e.raise_if_any()
    return values, news


def _content(report, news):
    return {**{name: getattr(report, name) for name in TEXT_FIELDS},
            "news": [{"competitor": n.competitor, "customer": n.customer_id, "note": n.note} for n in news]}


def save_report(actor, rep, day, data, now=None):
    """File or edit one's report of `day`, with the day's facts pre-filled afresh. An edit after the
    manager read it keeps the earlier text as a ReportVersion and asks for a new reading."""
    now = now or clock.now()
    values, news = validate_report(actor, rep, day, data, now)
    facts = prefill(rep.id, day)
    with db.atomic():
        report = DailyReport.get_or_none((DailyReport.rep == rep.id) & (DailyReport.day == day))
        if report is None:
            report = DailyReport.create(rep=rep.id, day=day, facts=facts, filed_at=now, updated_at=now, **values)
            kind = "report.filed"
        else:
            fresh(report)
            old_news = list(CompetitorNews.select().where(CompetitorNews.report == report.id).order_by(CompetitorNews.id))
            if report.read_at is not None:
                ReportVersion.create(report=report.id, version=report.version, content=_content(report, old_news),
                                     read_at=report.read_at, saved_at=report.updated_at)
                report.version += 1
                report.read_at = report.read_by = None
            for name, value in values.items():
                setattr(report, name, value)
            report.facts, report.updated_at = facts, now
            report.save()
            CompetitorNews.delete().where(CompetitorNews.report == report.id).execute()
            kind = "report.edited"
        if news:
            CompetitorNews.insert_many([{**n, "report": report.id, "day": day} for n in news]).execute()
        audit.record(kind, actor, None, report_id=report.id, day=day.isoformat(), version=report.version,
                     news=len(news))
    return report


def mark_read(actor, report, now=None):
    require(actor, "report.review", report)
    now = now or clock.now()
    with db.atomic():
        fresh(report)
        if report.read_at is None:
            DailyReport.update(read_at=now, read_by=actor.id).where(DailyReport.id == report.id).execute()
            report.read_at, report.read_by = now, actor.id
            audit.record("report.read", actor, None, report_id=report.id, rep=report.rep_id, day=report.day.isoformat())
    return report


def comment_report(actor, report, body, now=None):
    """The manager's comment on a report; it also marks the report read and tells the seller."""
    require(actor, "report.review", report)
    e = FieldErrors()
    body = text_field({"body": body}, e, "body", TEXT_MAX, required=True, multiline=True)
    e.raise_if_any()
    now = now or clock.now()
    with db.atomic():
        fresh(report)
        comment = ReportComment.create(report=report.id, author=actor.id, body=body, at=now)
        if report.read_at is None:
            DailyReport.update(read_at=now, read_by=actor.id).where(DailyReport.id == report.id).execute()
            report.read_at = now
        notify(report.rep_id, "report_comment", N_("%(name)s commented on your daily report of %(day)s."),
               name=actor.full_name, day=report.day.isoformat())
        audit.record("report.commented", actor, None, report_id=report.id, rep=report.rep_id,
                     day=report.day.isoformat(), excerpt=body[:80])
    return comment


# ---- reading --------------------------------------------------------------------------------------

def load_report(actor, report_id):
    pk = id_or_none(report_id)
    report = DailyReport.get_or_none(DailyReport.id == pk) if pk else None
    if report is None:
        raise NotFound()
    require(actor, "report.view", report)
    return report


def report_of(rep_id, day):
    return DailyReport.get_or_none((DailyReport.rep == rep_id) & (DailyReport.day == day))


def team_reps(user, members=None):
    """The sellers whose reports `user` reads: a manager's team (without the manager), every seller for
    admins; by name. `members`: the manager's team's users, when the caller has read them already."""
    q = User.select().where(User.role.in_(SELLERS) & (User.active == True))  # noqa: E712
    if can(user, "team.leads_one"):
        if members is not None:
            return sorted((u for u in members if u.role in SELLERS and u.active and u.id != user.id),
                          key=lambda u: (u.full_name, u.id))
        q = q.where((User.team == user.team_id) & (User.id != user.id))
    elif not can(user, "audit.view"):
        return []
    return list(q.order_by(User.full_name, User.id))


def missing(manager_or_user, day, reps=None):
    """The sellers with no report for `day`: for a manager their team's, for an admin every seller's, for
    a seller themselves (or nobody). Whether `day` calls for one is the caller's (`is_report_day`,
    `last_report_day`). `reps`: `team_reps(user)` when the caller has them."""
    user = manager_or_user
    if reps is None or not can(user, "plan.team"):
        reps = team_reps(user) if can(user, "plan.team") else ([user] if can(user, "plan.make") else [])
    if not reps:
        return []
    filed = {r for (r,) in kept_select(("daily_reports.filed", len(reps)), lambda *v: DailyReport.select(
        DailyReport.rep).where((DailyReport.day == v[-1]) & DailyReport.rep.in_(v[:-1])).tuples(),
        *[u.id for u in reps], day)}
    return [u for u in reps if u.id not in filed]


def reports_for(viewer, rep_ids, day):
    """{rep_id: report} of `day` for these reps, as far as the viewer may open them."""
    q = scope("daily_report", viewer, DailyReport.select()).where(
        (DailyReport.day == day) & DailyReport.rep.in_(list(rep_ids)))
    return {r.rep_id: r for r in q}


def unread(viewer, limit=50):
    """Reports the viewer reviews and nobody has read yet, oldest first."""
    reps = [u.id for u in team_reps(viewer)]
    if not reps:
        return []
    return list(DailyReport.select(DailyReport, User.full_name.alias("rep_name"))
                .join(User, on=(DailyReport.rep == User.id))
                .where(DailyReport.rep.in_(reps) & DailyReport.read_at.is_null())
                .order_by(DailyReport.day, DailyReport.id).limit(limit).objects())


def unread_count(viewer, reps=None, limit=50):
    """How many reports `unread` lists (at most `limit`), counted without reading them. `reps`: `team_reps(viewer)`."""
    ids = [u.id for u in (team_reps(viewer) if reps is None else reps)]
    if not ids:
        return 0
    return len(list(kept_select(("daily_reports.unread", len(ids)), lambda *v: DailyReport.select(DailyReport.id)
                                .where(DailyReport.rep.in_(v[:-1]) & DailyReport.read_at.is_null()).limit(v[-1])
                                .tuples(), *ids, limit)))


def news_of(report_ids):
    out = {}
    for n in (CompetitorNews.select(CompetitorNews, Customer.name.alias("customer_name"))
              .join(Customer, pw.JOIN.LEFT_OUTER, on=(CompetitorNews.customer == Customer.id))
              .where(CompetitorNews.report.in_(list(report_ids))).order_by(CompetitorNews.id).objects()):
        out.setdefault(n.report_id, []).append(n)
    return out


def comments_of(report_ids):
    out = {}
    for c in (ReportComment.select(ReportComment, User.full_name.alias("author_name"))
              .join(User, pw.JOIN.LEFT_OUTER, on=(ReportComment.author == User.id))
              .where(ReportComment.report.in_(list(report_ids))).order_by(ReportComment.at, ReportComment.id).objects()):
        out.setdefault(c.report_id, []).append(c)
    return out


def search_news(viewer, text="", customer_id=None, limit=100):
    """Competitor news across the reports the viewer may open: by competitor or words of the note
    (substring), and/or about one customer; newest first."""
    q = (CompetitorNews.select(CompetitorNews, DailyReport.rep.alias("rep_id"), User.full_name.alias("rep_name"),
                               Customer.name.alias("customer_name"))
         .join(DailyReport, on=(CompetitorNews.report == DailyReport.id))
         .join(User, on=(DailyReport.rep == User.id))
         .switch(CompetitorNews).join(Customer, pw.JOIN.LEFT_OUTER, on=(CompetitorNews.customer == Customer.id)))
    q = scope("daily_report", viewer, q)
    text = (clean_text(text, 60) or "").strip()
    if text:
        q = q.where(CompetitorNews.competitor.contains(text) | CompetitorNews.note.contains(text))
    if customer_id:
        q = q.where(CompetitorNews.customer == customer_id)
    return list(q.order_by(CompetitorNews.day.desc(), CompetitorNews.id.desc()).limit(limit).objects())


# ---- the to-do centre (models/todo.py): today's visits not carried out, and reports missing -------------

@todo.register("plan_items", N_("Visits planned for today"), order=15)
def _todo_plan_items(user, now, limit):
    """The user's plan items of today still to carry out, by time."""
    from models.plans import PlanItem

    today = clock.to_local(now).date()
    q = (PlanItem.select(PlanItem.id, PlanItem.at, PlanItem.customer, Customer.name)
         .join(Customer, on=(PlanItem.customer == Customer.id))
         .where((PlanItem.rep == user.id) & (PlanItem.day == today) & (PlanItem.status == "planned")))
    if not limit:
        return q.count(), []
    rows = list(q.order_by(PlanItem.at.is_null(), PlanItem.at, PlanItem.id).limit(limit))
    count = len(rows) if len(rows) < limit else q.count()
    start = clock.local_day_start(today)  # a visit's time is local: its moment is the local day's start + it
    due = {r.id: start + dt.timedelta(hours=r.at.hour, minutes=r.at.minute) if r.at else None for r in rows}
    return count, [{"title": r.customer.name, "due": due[r.id], "late": bool(due[r.id] and due[r.id] <= now),
                    "endpoint": "plans.carry_out", "args": {"plan_item_id": r.id}} for r in rows]


@todo.register("reports_missing", N_("Daily reports missing"), order=16)
def _todo_reports_missing(user, now, limit):
    """A seller: their own report of the last report day, if not filed. A manager: the team's missing ones."""
    if not (can(user, "plan.team") or can(user, "plan.make")):
        return 0, []
    day = last_report_day(clock.to_local(now).date())
    if day is None:
        return 0, []
    # Someone who joined after that day owes no report for it.
    absent = [u for u in missing(user, day) if u.created_at is None or clock.to_local(u.created_at).date() <= day]
    return len(absent), [{"title": u.full_name, "due": day, "late": True, "endpoint": "daily_reports.day",
                          "args": {"rep_id": u.id, "day_text": day.isoformat()}} for u in absent[:limit]]
