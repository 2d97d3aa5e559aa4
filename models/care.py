"""Care plans (关怀计划) for key accounts: scheduled care visits or calls by service staff, every N
days or on listed dates. Each care visit is recorded as a follow-up (customers.log_follow_up), so it
shows on the customer's timeline, and may raise a repurchase lead for the owning rep.
"""
import datetime as dt

import peewee as pw

from models import audit, clock, hooks
from models.base import BaseModel, JSONField, db, fresh
from models.customers import FollowUp, Customer, log_follow_up
from models.fields import clean_text, int_or_none, parse_date
from models.errors import N_, DomainError, NotFound, FieldErrors
from models.notifications import notify
from models.keyset import keyset_page
from models.permissions import require, scope
from models.service import raise_repurchase_lead, service_level
from models import value as value_mod
from models.users import User

KINDS = ("visit", "call")
KIND_LABELS = {"visit": N_("Care visit"), "call": N_("Care call")}
MAX_DATES = 60
HORIZON = dt.timedelta(days=730)


class CarePlan(BaseModel):
    customer = pw.ForeignKeyField(Customer, on_delete="CASCADE", index=False, backref="care_plans")
    service_user = pw.ForeignKeyField(User, on_delete="CASCADE", index=False, backref="care_plans")
    kind = pw.CharField(max_length=10, default="visit")
    every_days = pw.SmallIntegerField(null=True)
    dates = JSONField(default=list)  # ISO dates, when the plan lists them instead of a period
    starts_on = pw.DateField()
    next_due = pw.DateField(null=True)  # None once a list of dates is used up or the plan ended
    active = pw.BooleanField(default=True)
    note = pw.CharField(max_length=300, default="")
    created_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
    created_at = pw.DateTimeField()

    class Meta:
        indexes = ((("service_user", "active", "next_due"), False), (("customer", "id"), False),
                   (("active", "next_due"), False))

    def schedule_text(self):
        return self.every_days, self.dates


class CareRecord(BaseModel):
    """One care visit or call done under a plan: the follow-up it wrote and the due date it met."""
    plan = pw.ForeignKeyField(CarePlan, on_delete="CASCADE", index=False, backref="records")
    followup = pw.ForeignKeyField(FollowUp, null=True, on_delete="SET NULL", index=False)
    due_on = pw.DateField()
    done_at = pw.DateTimeField()
    done_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")

    class Meta:
        indexes = ((("plan", "id"), False), (("done_at",), False))


def _parse_dates(raw, e, today):
    values = []
    text = clean_text(str(raw or "").replace(",", " ").replace("，", " "), 2000, multiline=True)
    if text is None:
        e.add("dates", N_("At most %(n)s characters."), n=2000)
        return []
    for token in text.split():
        try:
            day = parse_date(token, lo=today, hi=today + HORIZON)
        except ValueError:
            e.add("dates", N_("%(value)s is not a date from today up to two years ahead."), value=token[:20])
            return []
        values.append(day)
    values = sorted(set(values))
    if len(values) > MAX_DATES:
        e.add("dates", N_("At most %(n)s dates."), n=MAX_DATES)
    return values


def eligible(customer):
    """Care plans are for key accounts, and for every customer of a tier the value rule requires one for."""
    return service_level(customer) == "key" or customer.value_tier in value_mod.in_force().care_tiers()


def needs_care_plan(customer):
    """The value rule requires a care plan for the customer's tier and it has no active one."""
    return (customer.value_tier in value_mod.in_force().care_tiers()
            and not CarePlan.select().where((CarePlan.customer == customer.id) & CarePlan.active).exists())


def missing_care_plans(user, after=None, limit=50):
    """The customers (in the user's scope) of the tiers that require a care plan without an active one, by id."""
    tiers = value_mod.in_force().care_tiers()
    active = CarePlan.select(CarePlan.customer).where(CarePlan.active)
    q = Customer.select(Customer.id, Customer.name, Customer.value_tier, Customer.city).where(
        Customer.value_tier.in_(list(tiers) or [""]) & (Customer.value_tier != "") & Customer.id.not_in(active))
    return keyset_page(scope("customer", user, q), [Customer.id], after=after, limit=limit)


def validate_plan(data, today):
    e = FieldErrors()
    kind = data.get("kind") or "visit"
    if kind not in KINDS:
        e.add("kind", N_("Choose one of the options."))
    user = User.get_or_none((User.id == (int_or_none(data.get("service_user_id")) or 0))
                            & (User.role == "service") & (User.active == True))  # noqa: E712
    if user is None:
        e.add("service_user_id", N_("Choose a service agent."))
    every = None
    if str(data.get("every_days") or "").strip():
        every = int_or_none(str(data["every_days"]).strip())
        if every is None or not 1 <= every <= 365:
            e.add("every_days", N_("Every 1 to 365 days."))
            every = None
    dates = _parse_dates(data.get("dates"), e, today)
    if not e and every is None and not dates:
        e.add("every_days", N_("Give a period in days or a list of dates."))
    if every is not None and dates:
        e.add("dates", N_("Either a period or a list of dates, not both."))
    starts_on = today
    if data.get("starts_on"):
        try:
            starts_on = parse_date(data["starts_on"], lo=today, hi=today + HORIZON)
        except ValueError:
            e.add("starts_on", N_("Enter a date from today up to two years ahead."))
    note = clean_text(data.get("note"), 300)
    if note is None:
        e.add("note", N_("At most %(n)s characters."), n=300)
    e.raise_if_any()
    return {"kind": kind, "service_user": user.id, "every_days": every, "dates": [d.isoformat() for d in dates],
            "starts_on": starts_on, "note": note or ""}


def create_care_plan(actor, customer, data, now=None):
    """A care plan for a key account (service.service_level == key): who cares, how often."""
    require(actor, "care.plan", customer)
    if not eligible(customer):
        raise DomainError(N_("Care plans are for key accounts; %(name)s is not one."), name=customer.name)
    now = now or clock.now()
    values = validate_plan(data, clock.to_local(now).date())
    first = values["starts_on"] if values["every_days"] else dt.date.fromisoformat(values["dates"][0])
    with db.atomic():
        plan = CarePlan.create(customer=customer.id, next_due=first, created_by=actor.id, created_at=now, **values)
        audit.record("care.plan_created", actor, customer, plan_id=plan.id, every_days=values["every_days"],
                     dates=len(values["dates"]), first=first.isoformat(),
                     agent=User.get_by_id(values["service_user"]).full_name)
    return plan


def next_due_after(plan, due, today):
    """The due date after `due` is met: the period keeps its rhythm from the planned date (skipping
    dates already past), a list moves to its next date after today; None when the list is used up."""
    if plan.every_days:
        step = dt.timedelta(days=plan.every_days)
        nxt = due + step
        while nxt <= today:
            nxt += step
        return nxt
    later = [d for d in (dt.date.fromisoformat(x) for x in plan.dates) if d > max(due, today)]
    return later[0] if later else None


def record_care(actor, plan, data, now=None):
    """Record a care visit or call: logged as a follow-up on the customer (timeline, last contact),
    the plan moves to its next due date, and an optional repurchase note raises a lead for the rep."""
    require(actor, "care.record", plan)
    if not plan.active or plan.next_due is None:
        raise DomainError(N_("This care plan has ended."))
    now = now or clock.now()
    today = clock.to_local(now).date()
    customer = Customer.get_by_id(plan.customer_id)
    lead_note = (data.get("lead_note") or "").strip()
    with db.atomic():
        fresh(plan)  # two agents recording the same visit: the second sees the plan moved on (or ended)
        if not plan.active or plan.next_due is None:
            raise DomainError(N_("This care plan has ended."))
        followup = log_follow_up(actor, customer, {**data, "type": data.get("type") or plan.kind})
        due = plan.next_due
        record = CareRecord.create(plan=plan.id, followup=followup.id, due_on=due, done_at=now, done_by=actor.id)
        nxt = next_due_after(plan, due, today)
        CarePlan.update(next_due=nxt, active=nxt is not None).where(CarePlan.id == plan.id).execute()
        audit.record("care.recorded", actor, customer, plan_id=plan.id, due=due.isoformat(),
                     next=nxt.isoformat() if nxt else None)
        if lead_note:
            raise_repurchase_lead(actor, customer, lead_note, care_plan=plan.id, now=now)
    plan.next_due, plan.active = nxt, nxt is not None
    return record


def end_care_plan(actor, plan, now=None):
    require(actor, "care.record", plan)
    if not plan.active:
        raise DomainError(N_("This care plan has ended."))
    with db.atomic():
        fresh(plan)
        if not plan.active:
            raise DomainError(N_("This care plan has ended."))
        CarePlan.update(active=False, next_due=None).where(CarePlan.id == plan.id).execute()
        audit.record("care.plan_ended", actor, plan.customer_id, plan_id=plan.id)
    plan.active, plan.next_due = False, None
    return plan


def load_plan(actor, plan_id, action="care.record"):
    pk = int_or_none(plan_id)
    plan = CarePlan.get_or_none(CarePlan.id == pk) if pk and pk > 0 else None
    if plan is None:
        raise NotFound()
    require(actor, action, plan)
    return plan


def upcoming(user, days=7, limit=10):
    """The service user's care tasks due within `days` (overdue first)."""
    horizon = clock.today() + dt.timedelta(days=days)
    return (CarePlan.select(CarePlan, Customer.name.alias("customer_name"))
            .join(Customer, on=(CarePlan.customer == Customer.id))
            .where((CarePlan.service_user == user.id) & (CarePlan.active == True)  # noqa: E712
                   & (CarePlan.next_due <= horizon))
            .order_by(CarePlan.next_due, CarePlan.id).limit(limit).objects())


def plans_of(customer_id):
    return list(CarePlan.select(CarePlan, User.full_name.alias("agent_name"))
                .join(User, on=(CarePlan.service_user == User.id))
                .where(CarePlan.customer == customer_id).order_by(CarePlan.active.desc(), CarePlan.id.desc()).objects())


def sweep(now=None, batch=1000):
    """Remind the service user once of each overdue care task (dedupe key per plan and due date)."""
    now = now or clock.now()
    today = clock.to_local(now).date()
    reminded, last = 0, 0
    while True:
        rows = list(CarePlan.select(CarePlan.id, CarePlan.customer, CarePlan.service_user, CarePlan.next_due)
                    .where((CarePlan.active == True) & (CarePlan.next_due < today) & (CarePlan.id > last))  # noqa: E712
                    .order_by(CarePlan.id).limit(batch))
        if not rows:
            break
        with db.atomic():
            for p in rows:
                if notify(p.service_user_id, "care_due", N_("A care task for this customer was due on %(due)s."),
                          p.customer_id, dedupe_key=f"care:{p.id}:{p.next_due.isoformat()}",
                          due=p.next_due.isoformat()):
                    reminded += 1
        last = rows[-1].id
    return {"reminded": reminded}


def _register():
    hooks.on("sweep", sweep)


_register()
