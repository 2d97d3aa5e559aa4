"""Customer groups (集团, issue 17 item 6): a group's legal entities, its one owner, and the roll-up of their
revenue, orders, open opportunities and tickets.

- `CustomerGroup` (customer_tables) has a name and, since 0038, an `owner`. Under the rules' `group_one_owner`
  policy (pool rules page, off by default) an entity of a group may only be owned by the group's owner: the
  `owner_changed` hook refuses any other owner inside the verb's transaction (a claim, an assignment, a
  transfer, a ruling: nothing is written) and names the group's owner; the first owner of an entity of a group
  without one becomes the group's owner. An admin changes the group's owner (`set_group_owner`); entities still
  owned by someone else are listed on the group page as "outside the group's owner".
- `group_page(user, group)`: the entities the user may open (capped), and the figures of those whose orders,
  deals and tickets the user may see (the same rules as the 360 page), one grouped query per kind.
- The duplicate check knows groups: a sibling entity of the group being typed matched by a similar name or a
  shared phone is shown as such and needs no reason (models/duplicates.py).
"""
import datetime as dt
from decimal import Decimal

import peewee as pw

from models import audit, clock, hooks
from models import rules as rules_mod
from models.base import db, fresh
from models.customer_tables import Customer, CustomerGroup
from models.errors import N_, DomainError, NotFound, ValidationError
from models.fields import id_or_none
from models.permissions import can, require, scope
from models.user_tables import User

MAX_ENTITIES = 500  # a group page lists at most this many entities


def get_group(group_id):
    pk = id_or_none(group_id)
    group = CustomerGroup.get_or_none(CustomerGroup.id == pk) if pk else None
    if group is None:
        raise NotFound()
    return group


def group_page(user, group, now=None):
    """{"entities": [row dict], "hidden": n, "capped": more than MAX_ENTITIES opened (the list and the figures are
    the first ones by name), "totals": {...}, "outside": [entity rows not owned by the group's owner],
    "figures_for": n}: the user's view of a group."""
    require(user, "group.view", group)
    now = now or clock.now()
    mine = scope("customer", user, Customer.select().where(Customer.group == group.id))
    visible = list(mine.order_by(Customer.name, Customer.id).limit(MAX_ENTITIES))
    total = Customer.select().where(Customer.group == group.id).count()
    opened = len(visible) if len(visible) < MAX_ENTITIES else mine.count()
    owners = {u.id: u for u in User.select(User.id, User.full_name, User.team)
              .where(User.id.in_({c.owner_id for c in visible if c.owner_id} | ({group.owner_id} - {None})))}
    order_ids = [c.id for c in visible if can(user, "order.view", c)]
    deal_ids = [c.id for c in visible if can(user, "opportunity.list", c)]
    ticket_ids = [c.id for c in visible if can(user, "ticket.list", c)]
    figures = _figures(order_ids, deal_ids, ticket_ids, now)
    rows, totals = [], {"revenue": Decimal("0.00"), "revenue_12m": Decimal("0.00"), "orders": 0, "open_deals": 0,
                        "open_amount": Decimal("0.00"), "open_tickets": 0}
    for c in visible:
        f = figures.get(c.id, {})
        row = {"customer": c, "owner": owners.get(c.owner_id), "orders_shown": c.id in order_ids,
               "deals_shown": c.id in deal_ids, "tickets_shown": c.id in ticket_ids,
               "outside": bool(group.owner_id and c.owner_id and c.owner_id != group.owner_id)}
        for key in totals:
            row[key] = f.get(key, 0)
            totals[key] += f.get(key, 0)
        rows.append(row)
    return {"group": group, "owner": owners.get(group.owner_id), "entities": rows, "hidden": total - opened,
            "capped": opened > len(visible),
            "total": total, "totals": totals, "outside": [r for r in rows if r["outside"]],
            "policy": bool(rules_mod.in_force(now)["group_one_owner"]),
            "figures_for": len(set(order_ids) | set(deal_ids) | set(ticket_ids))}


def _figures(order_ids, deal_ids, ticket_ids, now):
    """{customer id: {revenue, revenue_12m, orders, open_deals, open_amount, open_tickets}} in three grouped
    queries on the (customer, …) indexes."""
    from models.opportunities import Opportunity
    from models.orders import Order
    from models.service import OPEN_STATUSES, Ticket

    out = {}
    year_ago = (clock.to_local(now) - dt.timedelta(days=365)).date()
    if order_ids:
        recent = pw.Case(None, [(Order.ordered_on >= year_ago, Order.total)], 0)
        for pk, revenue, revenue_12m, n in (Order.select(Order.customer, pw.fn.SUM(Order.total), pw.fn.SUM(recent),
                                                         pw.fn.COUNT(Order.id))
                                            .where(Order.customer.in_(order_ids) & (Order.status == "signed"))
                                            .group_by(Order.customer).tuples()):
            out.setdefault(pk, {}).update(revenue=Decimal(str(revenue or 0)), revenue_12m=Decimal(str(revenue_12m or 0)),
                                          orders=n)
    if deal_ids:
        for pk, n, amount in (Opportunity.select(Opportunity.customer, pw.fn.COUNT(Opportunity.id),
                                                 pw.fn.SUM(Opportunity.amount))
                              .where(Opportunity.customer.in_(deal_ids) & (Opportunity.is_open == True))  # noqa: E712
                              .group_by(Opportunity.customer).tuples()):
            out.setdefault(pk, {}).update(open_deals=n, open_amount=Decimal(str(amount or 0)))
    if ticket_ids:
        for pk, n in (Ticket.select(Ticket.customer, pw.fn.COUNT(Ticket.id))
                      .where(Ticket.customer.in_(ticket_ids) & Ticket.status.in_(OPEN_STATUSES))
                      .group_by(Ticket.customer).tuples()):
            out.setdefault(pk, {}).update(open_tickets=n)
    return out


def set_group_owner(actor, group, owner):
    """An admin names the group's one owner (None: nobody yet). Entities keep their owners; the page lists
    those owned by someone else."""
    require(actor, "group.manage", group)
    with db.atomic():
        fresh(group)
        if owner is not None:
            fresh(owner)
            if not owner.active or owner.role not in ("sales", "manager"):
                raise DomainError(N_("Choose an active sales rep or manager."))
        old = group.owner_id
        new = owner.id if owner else None
        if old == new:
            return group
        CustomerGroup.update(owner=new).where(CustomerGroup.id == group.id).execute()
        fresh(group)
        audit.record("group.owner_set", actor, None, group_id=group.id, group=group.name, from_owner_id=old,
                     to_owner_id=new, to_owner=owner.full_name if owner else "")
    return group


def _one_owner(actor, customer_ids, from_owner_id, to_owner_id, reason=""):  # noqa: ARG001
    """hooks.owner_changed: under `group_one_owner`, an entity goes only to its group's owner (a group without
    an owner takes this one). Raising aborts the verb's whole transaction."""
    if to_owner_id is None:
        return
    known = hooks.known_rows(customer_ids)  # no entity of a group among them: no rule to read
    if known is not None and all(c.group_id is None for c in known):
        return
    if not rules_mod.in_force()["group_one_owner"]:
        return
    rows = (Customer.select(Customer.id, Customer.name, CustomerGroup.id, CustomerGroup.name, CustomerGroup.owner)
            .join(CustomerGroup, on=(Customer.group == CustomerGroup.id))
            .where(Customer.id.in_(list(customer_ids))).tuples())
    for _cid, cname, gid, gname, gowner in rows:
        if gowner is None:
            (CustomerGroup.update(owner=to_owner_id)
             .where((CustomerGroup.id == gid) & CustomerGroup.owner.is_null()).execute())
            audit.record("group.owner_set", actor, None, group_id=gid, group=gname, from_owner_id=None,
                         to_owner_id=to_owner_id, first_entity=cname)
        elif gowner != to_owner_id:
            owner = User.get_or_none(User.id == gowner)
            raise DomainError(
                N_("%(customer)s is an entity of the group %(group)s, whose owner is %(owner)s: under the "
                   "one-owner-per-group policy its entities go to %(owner)s only. Ask an admin to change the "
                   "group's owner first."),
                customer=cname, group=gname, owner=owner.full_name if owner else "?")


hooks.on("owner_changed", _one_owner)


def _grouped(actor, customer_id, owner_id):
    """hooks.customer_grouped: an owned customer typed into a group on its form keeps the same policy as an
    owner change: the group field is refused, naming the group's owner (a group without one takes this owner).
    A field error, so the form keeps everything typed."""
    try:
        _one_owner(actor, [customer_id], None, owner_id)
    except DomainError as exc:
        raise ValidationError({"group_name": [(exc.message, exc.params)]}) from exc


hooks.on("customer_grouped", _grouped)
