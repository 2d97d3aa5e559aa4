"""Read models of the service desk: the ticket queue (filters and pages), SLA compliance, the
satisfaction trend and the dashboard's open counts. Queries only; the verbs are in models/service.py.

Portable SQL only (SQLite today, PostgreSQL later): business weeks are ranges between their UTC
boundaries, not an engine's date functions."""
import datetime as dt
import functools
import operator

import peewee as pw

from models import clock
from models import service as sv
from models.customers import Customer
from models.fields import id_or_none
from models.keyset import keyset_page
from models.permissions import scope

PAGE = 50


def list_columns():
    """The ticket columns a queue row or workbench card shows."""
    T = sv.Ticket
    return (T.id, T.customer, T.category, T.priority, T.status, T.assignee, T.created_at, T.respond_by, T.resolve_by,
            T.responded_at, T.breached, T.breach_kind, T.breach_due, T.description)


def with_customer(query):
    """`query` of tickets with the customer's name on each row (`customer_name`), one join."""
    return query.select_extend(Customer.name.alias("customer_name")).join(
        Customer, on=(sv.Ticket.customer == Customer.id)).objects()


class QueueFilters:
    FIELDS = ("status", "priority", "category", "assignee", "breached", "mine")

    def __init__(self, args, user):
        self.status = args.get("status", "open")
        if self.status not in ("open", "all", *sv.STATUSES):
            self.status = "open"
        self.priority = args.get("priority") if args.get("priority") in sv.PRIORITIES else ""
        self.category = args.get("category") if args.get("category") in sv.CATEGORIES else ""
        raw = args.get("assignee", "")
        self.assignee = raw if raw == "none" else str(id_or_none(raw) or "")
        self.breached = args.get("breached") == "1"
        self.mine = args.get("mine") == "1"
        self.user = user

    def apply(self, q):
        T = sv.Ticket
        if self.status == "open":
            q = q.where(T.status.in_(sv.OPEN_STATUSES))
        elif self.status != "all":
            q = q.where(T.status == self.status)
        if self.priority:
            q = q.where(T.priority == self.priority)
        if self.category:
            q = q.where(T.category == self.category)
        if self.mine:
            q = q.where(T.assignee == self.user.id)
        elif self.assignee == "none":
            q = q.where(T.assignee.is_null())
        elif self.assignee:
            q = q.where(T.assignee == int(self.assignee))
        if self.breached:
            q = q.where(T.breached == True)  # noqa: E712
        return q

    def args(self, **override):
        out = {"status": self.status, "priority": self.priority, "category": self.category,
               "assignee": self.assignee, "breached": "1" if self.breached else "", "mine": "1" if self.mine else ""}
        out.update(override)
        return {k: v for k, v in out.items() if v}


def queue_page(user, f, after=None, size=PAGE):
    """One page of the queue, newest first, keyset-paginated on the ticket id."""
    T = sv.Ticket
    q = f.apply(scope("ticket", user, with_customer(T.select(*list_columns()))))
    found = keyset_page(q, [T.id], after=after, limit=size, descending=True)
    return {"rows": found.rows, "next": found.next}


def week_start(day):
    return day - dt.timedelta(days=day.weekday())


def compliance(since, until=None):
    """Per category: tickets resolved in [since, until) and how many met every SLA deadline."""
    T = sv.Ticket
    q = (T.select(T.category, pw.fn.COUNT(T.id), pw.fn.SUM(pw.Case(None, [(T.breached == False, 1)], 0)))  # noqa: E712
         .where(T.resolved_at >= since))
    if until:
        q = q.where(T.resolved_at < until)
    rows = {cat: (n, ok or 0) for cat, n, ok in q.group_by(T.category).tuples()}
    out = []
    total = [0, 0]
    for cat in sv.CATEGORIES:
        n, ok = rows.get(cat, (0, 0))
        total[0] += n
        total[1] += ok
        out.append({"category": cat, "n": n, "ok": ok, "rate": round(100 * ok / n) if n else None})
    out.append({"category": "", "n": total[0], "ok": total[1], "rate": round(100 * total[1] / total[0]) if total[0] else None})
    return out


def satisfaction_trend(weeks=12):
    """Average satisfaction per business week (Monday to Sunday, Shanghai), aggregated in SQL: one range
    per week over the rated tickets' index (ticket_rated, 0049), the weeks joined by UNION ALL (portable,
    and no grouping of a quarter's rows by a CASE)."""
    T = sv.Ticket
    start_day = week_start(clock.today()) - dt.timedelta(weeks=weeks - 1)
    bounds = [clock.local_day_start(start_day + dt.timedelta(weeks=i)) for i in range(weeks + 1)]
    parts = [T.select(pw.Value(i).alias("week"), pw.fn.AVG(T.satisfaction), pw.fn.COUNT(pw.SQL("*")))
             .where((T.resolved_at >= bounds[i]) & (T.resolved_at < bounds[i + 1]) & T.satisfaction.is_null(False))
             for i in range(weeks)]
    buckets = {w: (avg, n) for w, avg, n in functools.reduce(operator.add, parts).tuples()}
    labels, values, counts = [], [], []
    for i in range(weeks):
        day = (start_day + dt.timedelta(weeks=i)).isoformat()
        avg, n = buckets.get(i, (None, 0))
        labels.append(day)
        values.append(round(float(avg), 2) if avg is not None else None)
        counts.append(n)
    return {"labels": labels, "scores": values, "counts": counts}


def open_figures():
    """Open tickets per status, and how many of them are past a deadline."""
    T = sv.Ticket
    open_counts = dict(T.select(T.status, pw.fn.COUNT(T.id)).where(T.status.in_(sv.OPEN_STATUSES))
                       .group_by(T.status).tuples())
    breached_open = T.select().where(T.status.in_(sv.OPEN_STATUSES) & (T.breached == True)).count()  # noqa: E712
    return open_counts, breached_open
