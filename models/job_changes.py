"""Contacts who change job (issue 17 item 5): one verb moves a person from one customer to another company.

The old contact row stays at the old customer, inactive, with when they left and where to: its follow-ups,
its place in the decision-maker tree (drawn as a gap) and the timeline stay there. When the new company is a
customer in the CRM (one the actor may edit), a new contact row is made there with the person's details and
`previous` pointing at the old row, so the relationship follows the person; otherwise the company's name is
kept on the old row. `history(contact)` walks the chain both ways for the pages.
"""
import datetime as dt

import peewee as pw

from models import audit, clock, hooks, search
from models.base import db, fresh
from models.customer_tables import DECISION_ROLES, Contact, Customer, FollowUp
from models.customers import compute_completeness
from models.duplicates import normalize_name
from models.errors import N_, DomainError, FieldErrors, NotFound
from models.fields import id_or_none, text_field
from models.permissions import can, require

COPIED = ("name", "mobile", "mobile_norm", "phone", "phone_norm", "email", "wechat")
GAP_DAYS = 365  # a decision maker who left this recently, with nobody in the role since, is a gap in the tree


def change_job(actor, contact, data, now=None):
    """Move `contact` to another company. `data`: `customer_id` (a customer the actor may edit) or `company`
    (a name outside the CRM), `title`, `department`, `decision_role` at the new company. Returns the new
    contact row, or the old one when the company is not in the CRM. All or nothing."""
    now = now or clock.now()
    with db.atomic():
        fresh(contact)
        old_customer = Customer.get_or_none(Customer.id == contact.customer_id)
        if old_customer is None:
            raise NotFound()
        require(actor, "contact.change_job", old_customer)
        if not contact.active:
            raise DomainError(N_("%(name)s has already left this customer."), name=contact.name)
        values, target = validate_job_change(actor, contact, old_customer, data)
        new_contact = None
        if target is not None:
            fresh(target)
            require(actor, "customer.edit", target)
            new_contact = Contact.create(customer=target.id, created_at=now, previous=contact.id,
                                         title=values["title"], department=values["department"],
                                         decision_role=values["decision_role"],
                                         **{f: getattr(contact, f) for f in COPIED})
        (Contact.update(active=False, left_at=now, moved_company=values["company"],
                        moved_to=new_contact.id if new_contact else None)
         .where(Contact.id == contact.id).execute())
        fresh(contact)
        audit.record("contact.left_for", actor, old_customer, contact_id=contact.id, name=contact.name,
                     company=values["company"], to_customer_id=target.id if target else None,
                     to_contact_id=new_contact.id if new_contact else None)
        for customer in (old_customer, target):
            if customer is None:
                continue
            (Customer.update(completeness=compute_completeness(customer), updated_at=now)
             .where(Customer.id == customer.id).execute())
            search.index_customer(customer.id)
            hooks.fire("customer_edited", fresh(customer))
        if target is not None:
            audit.record("contact.joined_from", actor, target, contact_id=new_contact.id, name=contact.name,
                         title=values["title"], from_customer_id=old_customer.id, from_contact_id=contact.id)
    return new_contact or contact


def validate_job_change(actor, contact, old_customer, data):
    """({company, title, department, decision_role}, target customer or None), or ValidationError."""
    e = FieldErrors()
    company = text_field(data, e, "company", 100)
    title = text_field(data, e, "title", 60)
    department = text_field(data, e, "department", 60)
    role = (data.get("decision_role") or "").strip()
    if role and role not in DECISION_ROLES:
        e.add("decision_role", N_("Choose one of the options."))
    target = None
    raw = str(data.get("customer_id") or "").strip()
    if raw:
        pk = id_or_none(raw)
        target = Customer.get_or_none(Customer.id == pk) if pk else None
        if target is not None and target.id == old_customer.id:
            e.add("customer_id", N_("%(name)s already works at %(customer)s: choose the new company."),
                  name=contact.name, customer=old_customer.name)
            target = None
        elif target is None or not can(actor, "customer.edit", target):
            e.add("customer_id", N_("Choose a customer you may edit, or type the company's name."))
            target = None
        else:  # the customer picked names the company, whatever was typed to find it
            company = target.name
    elif not company:
        e.add("company", N_("Name the new company, or choose it among the customers."))
    if company and not e.get("customer_id") and normalize_name(company) == normalize_name(old_customer.name) \
            and (target is None or target.id == old_customer.id):
        e.add("company", N_("%(company)s is %(name)s's current company: a job change goes to another one."),
              company=company, name=contact.name)
    e.raise_if_any()
    return {"company": company, "title": title, "department": department, "decision_role": role}, target


def history(contact):
    """The person's roles, oldest first: [(contact row, customer row)], following `previous` back and
    `moved_to` forward (one query per step; a person has few jobs)."""
    chain, seen = [contact], {contact.id}
    node = contact
    while node.previous and node.previous not in seen and len(chain) < 20:
        node = Contact.get_or_none(Contact.id == node.previous)
        if node is None:
            break
        chain.insert(0, node)
        seen.add(node.id)
    node = contact
    while node.moved_to and node.moved_to not in seen and len(chain) < 20:
        node = Contact.get_or_none(Contact.id == node.moved_to)
        if node is None:
            break
        chain.append(node)
        seen.add(node.id)
    customers = {c.id: c for c in Customer.select(Customer.id, Customer.name, Customer.owner, Customer.team,
                                                   Customer.stage, Customer.pool, Customer.staked_by)
                 .where(Customer.id.in_([c.customer_id for c in chain]))}
    return [(c, customers.get(c.customer_id)) for c in chain]


def earlier_roles(contacts):
    """{contact id: (former contact row, its customer, follow-ups with them there, last one)} for the contacts
    that came from another customer: what the relationship brings along, in three queries."""
    prev_ids = {c.previous: c.id for c in contacts if c.previous}
    if not prev_ids:
        return {}
    former = {c.id: c for c in Contact.select().where(Contact.id.in_(list(prev_ids)))}
    customers = {c.id: c for c in Customer.select(Customer.id, Customer.name, Customer.owner, Customer.team,
                                                   Customer.stage, Customer.pool, Customer.staked_by)
                 .where(Customer.id.in_([c.customer_id for c in former.values()]))}
    counts = dict((pk, (n, last)) for pk, n, last in FollowUp.select(
        FollowUp.contact, pw.fn.COUNT(FollowUp.id), pw.fn.MAX(FollowUp.at))
        .where(FollowUp.contact.in_(list(former))).group_by(FollowUp.contact).tuples())
    out = {}
    for pk, new_id in prev_ids.items():
        c = former.get(pk)
        if c is not None:
            n, last = counts.get(pk, (0, None))
            out[new_id] = (c, customers.get(c.customer_id), n, last)
    return out


def gaps(contacts, now):
    """The decision makers and high-influence people who left recently with nobody in their role since:
    [(contact row)] for the tree's warning."""
    since = now - dt.timedelta(days=GAP_DAYS)
    active = [c for c in contacts if c.active]
    out = []
    for c in contacts:
        if c.active or c.left_at is None or c.left_at < since:
            continue
        if c.decision_role != "decision_maker" and c.influence != "high":
            continue
        if c.decision_role and any(a.decision_role == c.decision_role and a.created_at >= c.left_at for a in active):
            continue
        out.append(c)
    return out
