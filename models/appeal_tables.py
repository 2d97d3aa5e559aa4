"""Appeals and credit splits (issue 20 item 2): the tables the lower floors read.

`Appeal`: a rep's appeal against a release of their customer (kind "release", `ref_id` = the release's ledger
row) or against a conflict ruling they lost (kind "conflict", `ref_id` = the case). One appeal per release or
ruling, kept by a unique index. While a release appeal is open, `pools.check_claim` refuses everyone's claim on
the customer (and so the drop's lottery leaves it out).

`CreditSplit`: a conflict ruling's split of a customer's credit between two reps (e.g. 70/30); the performance
counters (models/perf_tables.py) share the customer's revenue, collections and new-customer credit by it.
"""
import peewee as pw

from models.base import BaseModel, JSONField, db, kept_select
from models.customer_tables import Customer
from models.user_tables import User

KINDS = ("release", "conflict")
STATUSES = ("open", "upheld", "rejected")


class Appeal(BaseModel):
    kind = pw.CharField(max_length=10)
    ref_id = pw.IntegerField()  # the release's PoolEvent id, or the ConflictCase id
    customer = pw.ForeignKeyField(Customer, on_delete="CASCADE", index=False, backref="appeals")
    appellant = pw.ForeignKeyField(User, on_delete="CASCADE", index=False, backref="+")
    team_id = pw.IntegerField(null=True)  # the appellant's team when they appealed: its manager decides
    reason = pw.CharField(max_length=500)
    status = pw.CharField(max_length=10, default="open")
    opened_at = pw.DateTimeField()
    window_ends_at = pw.DateTimeField()  # the window the appeal was made in (working hours)
    decided_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
    decided_at = pw.DateTimeField(null=True)
    decision_reason = pw.CharField(max_length=500, default="")
    outcome = JSONField(default=dict)  # what an upheld appeal restored (owner, clock)

    class Meta:
        table_name = "appeal"
        indexes = ((("kind", "ref_id"), True), (("customer", "status"), False), (("status", "team_id", "id"), False))


class CreditSplit(BaseModel):
    """The shares of one customer's credit (percent, summing to 100), set by a conflict ruling."""
    customer = pw.ForeignKeyField(Customer, on_delete="CASCADE", unique=True, backref="+")
    case_id = pw.IntegerField(null=True)
    rep_a = pw.ForeignKeyField(User, on_delete="CASCADE", index=False, backref="+")
    share_a = pw.SmallIntegerField()
    rep_b = pw.ForeignKeyField(User, on_delete="CASCADE", index=False, backref="+")
    share_b = pw.SmallIntegerField()
    created_at = pw.DateTimeField()

    class Meta:
        table_name = "credit_split"


def open_appeal_on(customer_id):
    """The open release appeal holding a customer out of the pool's claims, or None (one indexed read)."""
    return next(iter(kept_select("appeal.open_on", lambda c: (
        Appeal.select(Appeal.id, Appeal.appellant, Appeal.opened_at)
        .where((Appeal.customer == c) & (Appeal.status == "open") & (Appeal.kind == "release")).limit(1)), customer_id)), None)


def held_by_appeal(customer_id):
    """Whether an open release appeal holds the customer out of claims: asked per entrant of a drop (10,000 at once),
    so one prepared statement on the (customer, status) index rather than a query built each time."""
    p = db.param
    return db.execute_sql(f"SELECT 1 FROM appeal WHERE customer_id = {p} AND status = 'open' AND kind = 'release' LIMIT 1",
                          (customer_id,)).fetchone() is not None


def held_by_appeals(customer_ids):
    """`held_by_appeal` for a page of customers in one statement: the ids held."""
    if not customer_ids:
        return set()
    return {cid for (cid,) in Appeal.select(Appeal.customer).where(
        Appeal.customer.in_(list(customer_ids)) & (Appeal.status == "open") & (Appeal.kind == "release")).tuples()}


def shares(customer_id, rep_id, team_id):
    """[(rep, team, fraction)] a customer's credit goes to: the split's two reps (larger share first) while `rep` is
    one of them, else `rep` whole (a customer moved on to a third rep since the ruling is theirs)."""
    split = CreditSplit.get_or_none(CreditSplit.customer == customer_id) if customer_id else None
    if split is None or rep_id not in (split.rep_a_id, split.rep_b_id):
        return [(rep_id, team_id, 1)]
    teams = {u.id: u.team_id for u in User.select(User.id, User.team).where(User.id.in_([split.rep_a_id, split.rep_b_id]))}
    return [(split.rep_a_id, teams.get(split.rep_a_id), split.share_a / 100),
            (split.rep_b_id, teams.get(split.rep_b_id), split.share_b / 100)]
