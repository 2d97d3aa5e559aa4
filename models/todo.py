"""The to-do centre (issue 16 item 6): what needs the user's action today, gathered from every domain.

A registry of sources. A source is a function `fn(user, now, limit)` returning `(count, items)`: how many
things wait for the user (0 when the source is not for them) and at most `limit` of them, most urgent first
(`limit=0`: the count only, which is what the header badge asks on every page, so keep it one indexed query).
An item is a dict:

    {"title": "苏州恒达纺织", "note": "…" or Both(zh, en) (data, optional), "due": date or datetime (optional),
     "late": bool, "endpoint": "customers.show", "args": {"customer_id": 5}}

`endpoint` and `args` name the page where the action is taken (the view builds the link): one click from the
to-do centre to the action. Register with the decorator:

    from models import todo

    @todo.register("plan_items", N_("Visits planned for today"), order=15)
    def plan_items(user, now, limit):
        ...
        return count, items

Sources show by `order`, then key; a key registered twice replaces the first (a module imported again).
The built-in sources follow: follow-ups due, leads to answer, approvals, reorder to-dos, overdue
milestones, tickets near their SLA deadline, overdue tier strategies.
"""
import datetime as dt

import peewee as pw

from models import clock
from models.customer_tables import Customer
from models.delegation_tables import acting_for_ids
from models.errors import N_
from models.lead_tables import Lead
from models.permissions import can, scope

_SOURCES = {}
NEAR_SLA_HOURS = 4  # a ticket whose pending deadline is this close (or past) is on the list
LIMIT = 8


def register(key, label, order=100):
    """Add a source `fn(user, now, limit) -> (count, items)` under `key`, shown as `label` (an N_ string)."""
    def add(fn):
        _SOURCES[key] = {"key": key, "label": label, "order": order, "fn": fn}
        return fn
    return add


def sources():
    return sorted(_SOURCES.values(), key=lambda s: (s["order"], s["key"]))


def gather(user, now=None, limit=LIMIT):
    """Every source's answer for the user, in order, those with something to do: [{key, label, count, items}]."""
    now = now or clock.now()
    out = []
    for s in sources():
        count, items = s["fn"](user, now, limit)
        if count:
            out.append({"key": s["key"], "label": s["label"], "count": count, "items": items})
    return out


def counts(user, now=None):
    """{key: count} of the sources with something to do (the header badge: counts only)."""
    now = now or clock.now()
    found = {}
    for s in sources():
        n = s["fn"](user, now, 0)[0]
        if n:
            found[s["key"]] = n
    return found


def total(user, now=None):
    return sum(counts(user, now).values())


def _page(query, limit, order):
    """(count, rows): the rows only when asked; the count from the rows when they are all there."""
    if not limit:
        return query.count(), []
    rows = list(query.order_by(*order).limit(limit))
    return (len(rows) if len(rows) < limit else query.count()), rows


class Both:
    """A note in both languages (a product's or a strategy's name): the template asks `label(locale)`."""

    def __init__(self, zh, en):
        self.zh, self.en = zh, en

    def label(self, locale):
        return self.zh if str(locale).startswith("zh") else self.en


def _customer_item(customer_id, name, **extra):
    return {"title": name, "endpoint": "customers.show", "args": {"customer_id": customer_id}, **extra}


# ---- the built-in sources -------------------------------------------------------------------------

@register("followups", N_("Follow-ups due"), order=10)
def followups_due(user, now, limit):
    """The user's customers whose next follow-up date is today or past (the (owner, next_followup_on) index)."""
    today = clock.to_local(now).date()
    q = Customer.select(Customer.id, Customer.name, Customer.next_followup_on).where(
        (Customer.owner == user.id) & (Customer.next_followup_on <= today))
    n, rows = _page(q, limit, (Customer.next_followup_on, Customer.id))
    return n, [_customer_item(c.id, c.name, due=c.next_followup_on, late=c.next_followup_on < today) for c in rows]


@register("leads", N_("Leads to answer"), order=20)
def leads_to_answer(user, now, limit):
    """A seller: the leads routed to them (or to someone they stand in for), soonest deadline first.
    Marketing: the new leads waiting to be judged in the queue."""
    if can(user, "lead.mine"):
        whom = [user.id, *acting_for_ids(user)]
        q = (Lead.select(Lead.id, Lead.due_at, Customer.name).join(Customer, on=(Lead.customer == Customer.id))
             .where(Lead.routed_to.in_(whom) & (Lead.status == "routed")))
        n, rows = _page(q, limit, (Lead.due_at, Lead.id))
        return n, [{"title": r.customer.name, "due": r.due_at, "late": bool(r.due_at and r.due_at <= now),
                    "endpoint": "leads.show", "args": {"lead_id": r.id}} for r in rows]
    if can(user, "lead.queue"):
        q = (Lead.select(Lead.id, Lead.created_at, Customer.name).join(Customer, on=(Lead.customer == Customer.id))
             .where(Lead.status == "new"))
        n, rows = _page(q, limit, (Lead.id,))
        return n, [{"title": r.customer.name, "due": r.created_at, "late": False,
                    "endpoint": "leads.show", "args": {"lead_id": r.id}} for r in rows]
    return 0, []


APPROVAL_KINDS = {"locks": N_("Lock requests"), "transfers": N_("Transfers"), "conflicts": N_("Conflict cases"),
                  "projects": N_("Project approvals (立项)")}


def approval_counts(user):
    """Waiting decisions per kind for the user's approvals inbox (the scopes the inbox lists through)."""
    if not can(user, "approvals.inbox"):
        return {}
    from models import conflicts, projects
    from models.pools import LockRequest
    from models.transfers import Transfer, TransferApproval

    return {
        "locks": scope("lock_request", user, LockRequest.select().where(LockRequest.status == "pending")).count(),
        "transfers": scope("approval", user, TransferApproval.select().join(
            Transfer, on=(TransferApproval.transfer == Transfer.id)).where(
            (TransferApproval.status == "pending") & (Transfer.status == "pending"))).count(),
        "conflicts": conflicts.awaiting_count(user),
        "projects": projects.pending_count(user),
    }


@register("approvals", N_("Approvals waiting for you"), order=30)
def approvals(user, now, limit):
    """One item per kind of decision waiting in the approvals inbox, which is where they are taken."""
    found = {k: n for k, n in approval_counts(user).items() if n}
    items = [{"title": APPROVAL_KINDS[k], "note": n, "endpoint": "pools.approvals", "args": {}, "label": True}
             for k, n in found.items()][:limit]
    return sum(found.values()), items


@register("reorders", N_("Reorders due"), order=40)
def reorders_due(user, now, limit):
    """Open reorder to-dos whose reminder day has come (models/reorders.py: the rep's, or the service contact's)."""
    from models import reorders

    today = clock.to_local(now).date()
    if not limit:
        return reorders.open_todo_count(user, today), []
    rows = list(reorders.open_todos(user, today, limit))
    n = len(rows) if len(rows) < limit else reorders.open_todo_count(user, today)
    return n, [_customer_item(t.customer_id, t.customer.name, due=t.expected_on, late=t.expected_on < today,
                              note=Both(t.product.name_zh, t.product.name_en)) for t in rows]


@register("milestones", N_("Overdue project milestones"), order=50)
def overdue_milestones(user, now, limit):
    """The user's open milestones past their due date (the (owner, status, due_on) index)."""
    from models.projects import OPEN_MILESTONE, Milestone, Project

    today = clock.to_local(now).date()
    q = (Milestone.select(Milestone.id, Milestone.name, Milestone.due_on, Project.id, Project.name)
         .join(Project, on=(Milestone.project == Project.id))
         .where((Milestone.owner == user.id) & Milestone.status.in_(OPEN_MILESTONE) & (Milestone.due_on < today)))
    n, rows = _page(q, limit, (Milestone.due_on, Milestone.id))
    return n, [{"title": m.name, "note": m.project.name, "due": m.due_on, "late": True,
                "endpoint": "projects.show", "args": {"project_id": m.project.id}} for m in rows]


@register("tickets", N_("Tickets near their SLA deadline"), order=60)
def tickets_near_sla(user, now, limit):
    """Open tickets assigned to the user (service: also the unassigned new ones) whose pending deadline,
    the first response or the resolution, falls within NEAR_SLA_HOURS or has passed."""
    from models.service import OPEN_STATUSES, Ticket

    if not can(user, "ticket.queue"):
        return 0, []
    soon = now + dt.timedelta(hours=NEAR_SLA_HOURS)
    mine = Ticket.assignee == user.id
    if can(user, "reorder.as_service"):
        mine = mine | (Ticket.assignee.is_null() & (Ticket.status == "new"))
    due = pw.Case(None, [(Ticket.responded_at.is_null(), Ticket.respond_by)], Ticket.resolve_by)
    q = (Ticket.select(Ticket.id, Ticket.respond_by, Ticket.resolve_by, Ticket.responded_at,
                       Customer.name).join(Customer, on=(Ticket.customer == Customer.id))
         .where(mine & Ticket.status.in_(OPEN_STATUSES)
                & ((Ticket.responded_at.is_null() & (Ticket.respond_by <= soon)) | (Ticket.resolve_by <= soon))))
    n, rows = _page(q, limit, (due, Ticket.id))
    out = []
    for t in rows:
        when = t.respond_by if t.responded_at is None else t.resolve_by
        out.append({"title": t.customer.name, "note": f"#{t.id}", "due": when, "late": when <= now,
                    "endpoint": "service.ticket", "args": {"ticket_id": t.id}})
    return n, out


@register("strategies", N_("Tier strategies overdue"), order=70)
def strategies_overdue(user, now, limit):
    """The tier strategies past due on the user's customers (a manager's: the team's), models/value.py."""
    from models import value

    if not can(user, "pool.work"):
        return 0, []
    rows = value.overdue_strategies(user, now=now, limit=200)
    return len(rows), [_customer_item(c.id, c.name, note=Both(s.title_zh, s.title_en), due=due, late=True)
                       for c, s, due in rows[:limit]]
