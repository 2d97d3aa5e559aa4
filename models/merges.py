"""Merging two customer files into one (admin only): issue 5 point 1, domain §6.

Every row that points at the merged-away customer (the loser) moves to the survivor: contacts,
follow-ups, stage changes, timeline and ledger rows, notifications, and whatever later domains
keep per customer (found generically through the foreign keys to Customer, so opportunities,
orders and tickets move too). Fields the survivor lacks may be taken from the loser. The loser is
then deleted and a CustomerMerge row remembers it, so `survivor_of(id)` answers "merged into S".
"""
import peewee as pw

from models import audit, clock, hooks, ledger, pools, rules as rules_mod, search
from models.base import BaseModel, JSONField, all_models, db, fresh
from models.customers import (GRADE_OF_STAGE, PROFILE_FIELDS, Contact, Customer, FollowUp,
                              compute_completeness)
from models.errors import N_, DomainError, ValidationError
from models.fields import clean_text, parse_id
from models.keyset import keyset_page
from models.notifications import notify
from models.users import User
from models.permissions import require

# The fields an admin may take from the loser on the compare screen (column name, label).
MERGE_FIELDS = tuple((f.column, f.label) for f in PROFILE_FIELDS)
FIELD_NAMES = tuple(f for f, _ in MERGE_FIELDS)
# What the compare screen calls the rows that move (other domains' tables show their table name).
TABLE_LABELS = {
    "contact": N_("contacts"), "follow_up": N_("follow-ups"), "stage_change": N_("stage changes"),
    "audit_event": N_("history entries"), "pool_event": N_("ledger entries"), "notification": N_("notifications"),
    "pool_view": N_("pool views"), "lock_request": N_("lock requests"), "conflict_case": N_("conflict cases"),
    "opportunity": N_("opportunities"), "order": N_("orders"), "ticket": N_("tickets"), "project": N_("projects"),
}
DERIVED = {"name": ("name_norm",), "phone": ("phone_norm",)}


class CustomerMerge(BaseModel):
    """A customer merged away: who it was, where it went, who did it and what moved."""
    loser_id = pw.IntegerField(unique=True)
    loser_name = pw.CharField(max_length=100)
    loser_credit_code = pw.CharField(max_length=18, null=True)
    loser_owner = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
    # The survivor row itself: when it is merged in turn, the CustomerMerge rows pointing at it move on.
    survivor = pw.ForeignKeyField(Customer, null=True, on_delete="SET NULL", backref="merged_from")
    actor = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
    at = pw.DateTimeField(index=True)
    moved = JSONField(default=dict)  # {table: rows moved}
    fields = JSONField(default=dict)  # {field: [survivor's old value, value taken from the loser]}
    reason = pw.CharField(max_length=300, default="")


def survivor_of(customer_id):
    """The customer that `customer_id` was merged into (following later merges), or None if it was
    never merged. A survivor deleted since is None too."""
    try:
        pk = parse_id(customer_id)
    except (TypeError, ValueError):
        return None
    row = CustomerMerge.get_or_none(CustomerMerge.loser_id == pk)
    if row is None or row.survivor_id is None:
        return None
    return Customer.get_or_none(Customer.id == row.survivor_id)


def merge_record(customer_id):
    try:
        return CustomerMerge.get_or_none(CustomerMerge.loser_id == parse_id(customer_id))
    except (TypeError, ValueError):
        return None


def customer_references():
    """(model, field) for every foreign key to Customer in every domain's tables."""
    all_models()
    refs = []
    for field, model in Customer._meta.backrefs.items():
        refs.append((model, field))
    return sorted(refs, key=lambda mf: (mf[0]._meta.table_name, mf[1].name))


def _load(value, which):
    try:
        pk = parse_id(value)
    except (TypeError, ValueError):
        raise DomainError(N_("Choose the customer to merge.") if which == "loser" else N_("Choose the customer to keep."))
    customer = Customer.get_or_none(Customer.id == pk)
    if customer is None:
        survivor = survivor_of(pk)
        if survivor is not None:
            raise DomainError(N_("Customer %(id)s no longer exists: it was merged into %(name)s."), id=pk,
                              name=survivor.name)
        raise DomainError(N_("Customer %(id)s does not exist (any more)."), id=pk)
    return customer


def compare(loser, survivor):
    """Per mergeable field: (field, label, survivor's value, loser's value, take by default). By default
    a field is taken from the loser where the survivor has none."""
    rows = []
    for name, text in MERGE_FIELDS:
        s, l_ = getattr(survivor, name), getattr(loser, name)
        if (s or None) == (l_ or None):
            continue
        rows.append((name, text, s, l_, not s and bool(l_)))
    return rows


def merge_customers(actor, loser_id, survivor_id, take=(), reason="", now=None):
    """Merge customer `loser_id` into `survivor_id` (admin only), in one transaction:

    1. `customer_merged` hooks run first (a domain that must reconcile rows, e.g. two open deals);
    2. every row of every table with a foreign key to Customer moves from the loser to the survivor;
    3. the fields named in `take` are copied from the loser (the survivor's old value is kept in the
       record), follow-up dates and completeness recomputed, the release clock refreshed;
    4. the loser is deleted; a CustomerMerge row, an audit row on the survivor's timeline and a ledger
       row say what happened and how many rows moved; the loser's owner is told.
    Refused with a message: merging a customer into itself, or a customer that no longer exists."""
    require(actor, "customer.merge")
    now = now or clock.now()
    reason = clean_text(reason, 300)
    if reason is None:
        raise ValidationError({"reason": [(N_("At most %(n)s characters."), {"n": 300})]})
    unknown = [f for f in take if f not in FIELD_NAMES]
    if unknown:
        raise ValidationError({"take": [(N_("Choose fields from the list."), {})]})
    with db.atomic():
        loser, survivor = _load(loser_id, "loser"), _load(survivor_id, "survivor")
        if loser.id == survivor.id:
            raise DomainError(N_("A customer cannot be merged into itself."))
        hooks.fire("customer_merged", actor, loser.id, survivor.id)
        moved = {}
        for model, field in customer_references():
            if model is CustomerMerge:
                continue
            count = _move(model, field, loser.id, survivor.id)
            if count:
                moved[model._meta.table_name] = moved.get(model._meta.table_name, 0) + count
        CustomerMerge.update(survivor=survivor.id).where(CustomerMerge.survivor == loser.id).execute()
        fresh(survivor)  # as the hooks left it; the save below writes only the fields the merge changes

        taken = {}
        values = {}
        for name in take:
            old, new = getattr(survivor, name), getattr(loser, name)
            if (old or None) == (new or None):
                continue
            taken[name] = [_plain(old), _plain(new)]
            values[name] = new
        if "credit_code" in values:  # unique: the loser gives it up first
            Customer.update(credit_code=None).where(Customer.id == loser.id).execute()
        for name, value in values.items():
            setattr(survivor, name, value)
            for derived in DERIVED.get(name, ()):
                setattr(survivor, derived, getattr(loser, derived))
        _combine_activity(survivor, loser)
        survivor.updated_at = now
        survivor.completeness = compute_completeness(survivor)
        survivor.save()
        if survivor.owner_id:
            pools.refresh_release(survivor, rules_mod.in_force(now), now)

        record = CustomerMerge.create(
            loser_id=loser.id, loser_name=loser.name, loser_credit_code=loser.credit_code,
            loser_owner=loser.owner_id, survivor=survivor.id, actor=actor.id, at=now, moved=moved, fields=taken,
            reason=reason)
        counts = {"contacts": moved.get(Contact._meta.table_name, 0),
                  "followups": moved.get(FollowUp._meta.table_name, 0)}
        owner_name = User.select(User.full_name).where(User.id == loser.owner_id).scalar() if loser.owner_id else None
        audit.record("customer.merged", actor, survivor, loser_id=loser.id, loser_name=loser.name,
                     loser_credit_code=loser.credit_code, loser_owner=owner_name, moved=moved, fields=taken,
                     reason=reason, merge_id=record.id, **counts)
        ledger.record("merge", actor, survivor, now, rules_mod.in_force(now), from_owner=loser.owner_id,
                      to_owner=survivor.owner_id, reason=reason or "",
                      inputs={"loser_id": loser.id, "loser_name": loser.name, "moved": moved, "fields": sorted(taken)})
        Customer.delete().where(Customer.id == loser.id).execute()
        search.index_customer(loser.id)
        search.index_customer(survivor.id)
        for uid in {loser.owner_id, survivor.owner_id} - {None, actor.id}:
            notify(uid, "merged", N_("%(loser)s was merged into %(survivor)s by %(who)s."), survivor.id,
                   loser=loser.name, survivor=survivor.name, who=actor.full_name)
    return record


def _move(model, field, loser_id, survivor_id):
    """Point the loser's rows of one table at the survivor. A row that would duplicate one the survivor
    has under a unique key (one pool view per user and day) stays behind and goes with the loser."""
    try:
        with db.atomic():  # a savepoint: a unique clash undoes only this statement
            return model.update({field: survivor_id}).where(field == loser_id).execute()
    except pw.IntegrityError:
        pass
    pk = model._meta.primary_key
    moved = 0
    for row in model.select(pk).where(field == loser_id).tuples():
        try:
            with db.atomic():
                moved += model.update({field: survivor_id}).where(pk == row[0]).execute()
        except pw.IntegrityError:
            continue
    return moved


def _combine_activity(survivor, loser):
    """The survivor's follow-up dates now cover both files' follow-ups."""
    def later(a, b):
        return max(x for x in (a, b) if x is not None) if (a or b) else None

    survivor.last_followup_at = later(survivor.last_followup_at, loser.last_followup_at)
    survivor.touched_at = later(survivor.touched_at, loser.touched_at)
    if survivor.owner_id and survivor.owner_id == loser.owner_id:
        # The same owner's valid follow-ups on either file count for the clock (domain §5).
        survivor.last_valid_followup_at = later(survivor.last_valid_followup_at, loser.last_valid_followup_at)
    if survivor.next_followup_on is None:
        survivor.next_followup_on = loser.next_followup_on
    if survivor.grade == "" and survivor.stage in GRADE_OF_STAGE:
        survivor.grade = GRADE_OF_STAGE[survivor.stage]


def _plain(value):
    return value if isinstance(value, (str, int, float, type(None))) else str(value)


def recent(limit=20):
    return CustomerMerge.select().order_by(CustomerMerge.id.desc()).limit(limit)


# ---- the admin's duplicates list ---------------------------------------------------------------

PAIR_KINDS = ("phone", "name")


def duplicate_groups(kind, after=None, limit=30):
    """Groups of customers sharing a normalised phone or name, by key, keyset-paginated on the key:
    ([(key, count, members)], the next page's cursor or None).
    Walks the (phone_norm) / (name_norm) index: GROUP BY over a covering index, no table scan.
    (Credit codes are unique in the table: two files with one code cannot exist.)"""
    column = Customer.phone_norm if kind == "phone" else Customer.name_norm
    q = (Customer.select(column.alias("key"), pw.fn.COUNT(Customer.id).alias("n"))
         .where(column != "").group_by(column).having(pw.fn.COUNT(Customer.id) > 1))
    found = keyset_page(q.objects(), [column], after=after, limit=limit, values=lambda r: [r.key])
    keys = [(r.key, r.n) for r in found.rows]
    if not keys:
        return [], None
    members = {}
    for c in (Customer.select(Customer.id, Customer.name, Customer.owner, Customer.pool, Customer.credit_code,
                              Customer.stage, Customer.created_at, column.alias("key"))
              .where(column.in_([k for k, _ in keys])).order_by(Customer.id).objects()):
        members.setdefault(c.key, []).append(c)
    return [(key, n, members.get(key, [])) for key, n in keys], found.next

