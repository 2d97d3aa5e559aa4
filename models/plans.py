"""Visit plans (拜访计划, domain §11): a seller's visits and calls for a day or a week (customer, contact,
time, objective), suggested from what is due; carried out by logging the follow-up through
`customers.log_follow_up` (which counts or not by the valid follow-up rule), else rolled over or closed
with a reason. `sweep` rolls what a past day left open into today, at most MAX_ROLLS times.
"""
import datetime as dt

import peewee as pw

from models import audit, clock, hooks
from models import perf_tables as perf
from models.base import BaseModel, db, fresh
from models.customers import Contact, Customer, FollowUp, log_follow_up
from models.errors import N_, DomainError, FieldErrors, NotFound, ValidationError
from models.fields import blank, id_or_none, parse_date, parse_time, take, text_field
from models.permissions import can, require, scope
from models.users import User

KINDS = ("visit", "call")
KIND_LABELS = {"visit": N_("Visit"), "call": N_("Call")}
STATUSES = ("planned", "done", "rolled", "closed", "expired")
STATUS_LABELS = {"planned": N_("Planned"), "done": N_("Carried out"), "rolled": N_("Rolled over"),
                 "closed": N_("Closed"), "expired": N_("Not carried out")}
SOURCES = ("followup_due", "release_near", "reorder", "strategy")
SOURCE_LABELS = {"followup_due": N_("Follow-up due"), "release_near": N_("Release date near"),
                 "reorder": N_("Reorder due"), "strategy": N_("Tier strategy due")}
HORIZON_DAYS = 60      # how far ahead a plan may reach
RELEASE_NEAR_DAYS = 5  # a customer whose release date is this close is suggested
MAX_ROLLS = 3          # the sweep rolls an item over this many times, then marks it not carried out
OWNER_CHANGED = perf.PLAN_OWNER_CHANGED  # the reason kept when an owner change closes an item (not counted)
ALREADY_PLANNED = N_("This customer is already on your plan for that day.")


class PlanItem(BaseModel):
    """One planned visit or call; `followup` is the follow-up that carried it out."""
    rep = pw.ForeignKeyField(User, on_delete="CASCADE", index=False, backref="+")
    day = pw.DateField()
    at = pw.TimeField(null=True)  # business time (Asia/Shanghai); None: some time that day
    kind = pw.CharField(max_length=10, default="visit")
    customer = pw.ForeignKeyField(Customer, on_delete="CASCADE", index=False, backref="plan_items")
    contact = pw.ForeignKeyField(Contact, null=True, on_delete="SET NULL", index=False, backref="+")
    objective = pw.CharField(max_length=300)
    source = pw.CharField(max_length=20, default="")
    status = pw.CharField(max_length=10, default="planned")
    followup = pw.ForeignKeyField(FollowUp, null=True, on_delete="SET NULL", index=False, backref="+")
    done_at = pw.DateTimeField(null=True)
    close_reason = pw.CharField(max_length=200, default="")
    closed_at = pw.DateTimeField(null=True)
    rolled_from = pw.IntegerField(null=True)  # the item of an earlier day this one continues
    rolls = pw.SmallIntegerField(default=0)
    created_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
    created_at = pw.DateTimeField()

    class Meta:
        indexes = ((("rep", "day", "status"), False), (("customer", "day"), False), (("status", "day"), False))


# ---- validating ---------------------------------------------------------------------------------------

def _local_now(now):
    return clock.to_local(now).replace(tzinfo=None)


def validate_item(actor, data, now):
    """The plan form, cleaned: a customer the actor works (plan.customer), a contact of that customer, a
    day from today up to HORIZON_DAYS ahead and, today, a time not yet past; kind and objective."""
    e = FieldErrors()
    local = _local_now(now)
    today = local.date()
    customer = None
    pk = id_or_none(data.get("customer_id"))
    if pk is None:
        e.add("customer_id", N_("Choose a customer."))
    else:
        customer = Customer.get_or_none(Customer.id == pk)
        if customer is None or not can(actor, "plan.customer", customer):
            customer = None
            e.add("customer_id", N_("Choose a customer you work with."))
    contact = None
    if not blank(data.get("contact_id")) and customer is not None:
        contact = Contact.get_or_none((Contact.id == (id_or_none(data.get("contact_id")) or 0))
                                      & (Contact.customer == customer.id) & (Contact.active == True))  # noqa: E712
        if contact is None:
            e.add("contact_id", N_("Choose a contact of this customer."))
    day = None
    if blank(data.get("day")):
        e.add("day", N_("Required."))
    else:
        day = take(e, "day", parse_date, data.get("day"))
        if day is not None and day < today:
            e.add("day", N_("A plan cannot be in the past."))
            day = None
        elif day is not None and day > today + dt.timedelta(days=HORIZON_DAYS):
            e.add("day", N_("Plan at most %(n)s days ahead."), n=HORIZON_DAYS)
            day = None
    at = None
    if not blank(data.get("at")):
        at = take(e, "at", parse_time, data.get("at"))
        if at is not None and day == today and at < local.time().replace(second=0, microsecond=0):
            e.add("at", N_("That time has already passed today."))
    kind = data.get("kind") or "visit"
    if kind not in KINDS:
        e.add("kind", N_("Choose one of the options."))
    objective = text_field(data, e, "objective", 300, required=True)
    source = data.get("source") if data.get("source") in SOURCES else ""
    e.raise_if_any()
    return {"customer": customer, "contact": contact.id if contact else None, "day": day, "at": at, "kind": kind,
            "objective": objective, "source": source}


# ---- verbs --------------------------------------------------------------------------------------------

def plan_visit(actor, data, now=None):
    """Put a visit or call on the actor's plan. The same customer twice on one day is refused."""
    require(actor, "plan.make")
    now = now or clock.now()
    values = validate_item(actor, data, now)
    customer = values.pop("customer")
    with db.atomic():
        if _taken(actor.id, customer.id, values["day"]):
            raise ValidationError({"customer_id": [(ALREADY_PLANNED, {})]})
        item = PlanItem.create(rep=actor.id, customer=customer.id, created_by=actor.id, created_at=now, **values)
        audit.record("plan.added", actor, customer, item_id=item.id, day=values["day"].isoformat(), visit_kind=values["kind"],
                     objective=values["objective"][:80])
    return item


def _open_item(item):
    """Re-read inside the write transaction: two tabs carrying out or rolling one item act once."""
    fresh(item)
    if item.status != "planned":
        raise DomainError(N_("This plan item is no longer open."))


def carry_out(actor, item, data, now=None):
    """Carry out a plan item: its follow-up is logged through customers.log_follow_up (type, contact and
    validity by the same rules as any follow-up) and linked to the item."""
    require(actor, "plan.work", item)
    if item.status != "planned":
        raise DomainError(N_("This plan item is no longer open."))
    now = now or clock.now()
    customer = Customer.get_by_id(item.customer_id)
    data = dict(data)
    data.setdefault("type", item.kind)
    if "contact_id" not in data and item.contact_id:
        data["contact_id"] = str(item.contact_id)
    with db.atomic():
        _open_item(item)
        followup = log_follow_up(actor, customer, data)
        PlanItem.update(status="done", followup=followup.id, done_at=now).where(PlanItem.id == item.id).execute()
        perf.plan_decided(item, "done", now)
        audit.record("plan.done", actor, customer, item_id=item.id, followup_id=followup.id, valid=followup.is_valid,
                     day=item.day.isoformat())
    item.status, item.followup, item.done_at = "done", followup.id, now
    return followup


def next_day(item, today):
    return max(item.day + dt.timedelta(days=1), today)


def roll_over(actor, item, data=None, now=None):
    """Move an open item to another day (the next one by default, never the past): the item is marked
    rolled over and a new one continues it."""
    require(actor, "plan.work", item)
    now = now or clock.now()
    today = _local_now(now).date()
    e = FieldErrors()
    raw = (data or {}).get("day")
    day = take(e, "day", parse_date, raw) if not blank(raw) else next_day(item, today)
    if day is not None and (day < today or day <= item.day):
        e.add("day", N_("Roll over to a later day, from today on."))
    elif day is not None and day > today + dt.timedelta(days=HORIZON_DAYS):
        e.add("day", N_("Plan at most %(n)s days ahead."), n=HORIZON_DAYS)
    e.raise_if_any()
    with db.atomic():
        _open_item(item)
        if _taken(item.rep_id, item.customer_id, day):
            raise ValidationError({"day": [(ALREADY_PLANNED, {})]})
        new = _roll(item, day, now)
        audit.record("plan.rolled", actor, item.customer_id, item_id=item.id, to=day.isoformat(), new_id=new.id)
    return new


def _taken(rep_id, customer_id, day):
    return PlanItem.select().where((PlanItem.rep == rep_id) & (PlanItem.day == day) & (PlanItem.customer == customer_id)
                                   & (PlanItem.status == "planned")).exists()


def _roll(item, day, now):
    PlanItem.update(status="rolled", closed_at=now).where(PlanItem.id == item.id).execute()
    item.status = "rolled"
    return PlanItem.create(rep=item.rep_id, day=day, at=item.at, kind=item.kind, customer=item.customer_id,
                           contact=item.contact_id, objective=item.objective, source=item.source,
                           rolled_from=item.id, rolls=item.rolls + 1, created_by=item.created_by_id, created_at=now)


def close_item(actor, item, reason, now=None):
    """Close an open item without carrying it out; the reason is required and kept."""
    require(actor, "plan.work", item)
    e = FieldErrors()
    reason = text_field({"reason": reason}, e, "reason", 200, required=True)
    e.raise_if_any()
    now = now or clock.now()
    with db.atomic():
        _open_item(item)
        PlanItem.update(status="closed", close_reason=reason, closed_at=now).where(PlanItem.id == item.id).execute()
        perf.plan_decided(item, "closed")
        audit.record("plan.closed", actor, item.customer_id, item_id=item.id, reason=reason)
    item.status, item.close_reason = "closed", reason
    return item


def sweep(now=None, batch=1000):
    """Items a past day left open roll into today; one rolled MAX_ROLLS times (or whose customer is on
    today's plan already) is marked not carried out. Idempotent: only open items of days before today move, each once (a conditional update)."""
    now = now or clock.now()
    today = _local_now(now).date()
    rolled = expired = 0
    while True:
        rows = list(PlanItem.select().where((PlanItem.status == "planned") & (PlanItem.day < today))
                    .order_by(PlanItem.day, PlanItem.id).limit(batch))
        if not rows:
            break
        with db.atomic():
            for item in rows:
                if item.rolls >= MAX_ROLLS or _taken(item.rep_id, item.customer_id, today):
                    if PlanItem.update(status="expired", closed_at=now).where(
                            (PlanItem.id == item.id) & (PlanItem.status == "planned")).execute():
                        perf.plan_decided(item, "expired")
                        expired += 1
                elif PlanItem.update(status="rolled", closed_at=now).where(
                        (PlanItem.id == item.id) & (PlanItem.status == "planned")).execute():
                    _roll(item, today, now)
                    rolled += 1
    return {"rolled": rolled, "expired": expired}


# ---- reading ------------------------------------------------------------------------------------------

def load_item(actor, item_id, action="plan.view"):
    pk = id_or_none(item_id)
    item = PlanItem.get_or_none(PlanItem.id == pk) if pk else None
    if item is None:
        raise NotFound()
    require(actor, action, item)
    return item


def _with_names(query):
    return (query.select_extend(Customer.name.alias("customer_name"), Contact.name.alias("contact_name"),
                                User.full_name.alias("rep_name"), FollowUp.is_valid.alias("followup_valid"))
            .join(Customer, on=(PlanItem.customer == Customer.id))
            .switch(PlanItem).join(Contact, pw.JOIN.LEFT_OUTER, on=(PlanItem.contact == Contact.id))
            .switch(PlanItem).join(User, on=(PlanItem.rep == User.id))
            .switch(PlanItem).join(FollowUp, pw.JOIN.LEFT_OUTER, on=(PlanItem.followup == FollowUp.id)))


def items_between(viewer, rep_ids, first, last):
    """The plan items of these reps from `first` to `last` (days), as far as `viewer` may see them, by day,
    time and id; each carries customer_name, contact_name, rep_name and followup_valid."""
    q = scope("plan_item", viewer, PlanItem.select()).where(
        PlanItem.rep.in_(list(rep_ids)) & (PlanItem.day >= first) & (PlanItem.day <= last))
    return list(_with_names(q).order_by(PlanItem.day, PlanItem.at.is_null(), PlanItem.at, PlanItem.id).objects())


def due_items(user, day):
    """The user's plan items for `day` not carried out yet (for the to-do centre and the workbench)."""
    return (PlanItem.select(PlanItem, Customer.name.alias("customer_name"))
            .join(Customer, on=(PlanItem.customer == Customer.id))
            .where((PlanItem.rep == user.id) & (PlanItem.day == day) & (PlanItem.status == "planned"))
            .order_by(PlanItem.at.is_null(), PlanItem.at, PlanItem.id).objects())


def day_items_query(rep_id, day):
    """The plan items of rep `rep_id` of `day` planned or done."""
    return PlanItem.select(PlanItem.id).where((PlanItem.rep == rep_id) & (PlanItem.day == day)
                                              & PlanItem.status.in_(("planned", "done")))


def day_items(user, day):
    """The workbench's card in one statement: (`due_items(user, day)`, how many of the day's items are done)."""
    rows = list(day_items_query(user.id, day).select(PlanItem, Customer.name.alias("customer_name"))
                .join(Customer, on=(PlanItem.customer == Customer.id))
                .order_by(PlanItem.at.is_null(), PlanItem.at, PlanItem.id).objects())
    return [i for i in rows if i.status == "planned"], sum(1 for i in rows if i.status == "done")


def items_of_customer(viewer, customer_id, limit=10):
    q = scope("plan_item", viewer, PlanItem.select()).where(PlanItem.customer == customer_id)
    return list(_with_names(q).order_by(PlanItem.day.desc(), PlanItem.id.desc()).limit(limit).objects())


def suggestions(user, day, limit=8):
    """What is due around `day` among the user's own customers, not yet on that day's plan: follow-ups due
    (next follow-up date reached), release dates near, reorder to-dos whose reminder came, tier strategies
    past due. [{customer_id, customer_name, source, due}] in that order, one line per customer."""
    from models.reorders import ReorderTodo
    from models.value import overdue_strategies

    planned = {cid for (cid,) in PlanItem.select(PlanItem.customer).where(
        (PlanItem.rep == user.id) & (PlanItem.day == day) & (PlanItem.status == "planned")).tuples()}
    out, seen = [], set(planned)

    def add(cid, name, source, due):
        if cid not in seen and len(out) < limit:
            seen.add(cid)
            out.append({"customer_id": cid, "customer_name": name, "source": source, "due": due})

    mine = Customer.owner == user.id
    for c in (Customer.select(Customer.id, Customer.name, Customer.next_followup_on)
              .where(mine & (Customer.next_followup_on <= day)).order_by(Customer.next_followup_on).limit(limit * 2)):
        add(c.id, c.name, "followup_due", c.next_followup_on)
    horizon = clock.from_local(dt.datetime.combine(day + dt.timedelta(days=RELEASE_NEAR_DAYS + 1), dt.time()))
    for c in (Customer.select(Customer.id, Customer.name, Customer.release_at)
              .where(mine & (Customer.release_at < horizon)).order_by(Customer.release_at).limit(limit * 2)):
        add(c.id, c.name, "release_near", clock.to_local(c.release_at).date())
    for t in (ReorderTodo.select(ReorderTodo.customer, ReorderTodo.expected_on, Customer.name)
              .join(Customer, on=(ReorderTodo.customer == Customer.id))
              .where((ReorderTodo.rep == user.id) & (ReorderTodo.status == "open") & (ReorderTodo.remind_on <= day))
              .order_by(ReorderTodo.expected_on).limit(limit * 2).objects()):
        add(t.customer_id, t.name, "reorder", t.expected_on)
    if len(out) < limit:
        for c, _strategy, due in overdue_strategies(user, limit=limit * 2):
            add(c.id, c.name, "strategy", clock.to_local(due).date())
    return out


def _owner_changed(actor, customer_ids, from_owner_id, to_owner_id, reason):  # noqa: ARG001
    """A customer that leaves its rep leaves their open plan items: they are closed, the reason says why."""
    if from_owner_id is None:
        return
    ids = list(customer_ids)
    for i in range(0, len(ids), 500):
        PlanItem.update(status="closed", close_reason=OWNER_CHANGED, closed_at=clock.now()).where(
            PlanItem.customer.in_(ids[i:i + 500]) & (PlanItem.rep == from_owner_id)
            & (PlanItem.status == "planned")).execute()


def _register():
    hooks.on("sweep", sweep)
    hooks.on("owner_changed", _owner_changed)


_register()
