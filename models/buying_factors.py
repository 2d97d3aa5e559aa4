"""Buying factors (domain §7, issue 15 item 7): what a customer buys on, ranked by the rep with evidence —
value (an innovation partner), price (price-led), relationship (a trusted supplier) — and the guidance that
follows for the file and its deals, the history of who ranked what when, and how the customer base splits
against the article's 46 / 36 / 18 %.

A ranking is a row; setting a new one keeps the old rows (history) and marks the newest `current`. An
opportunity may have its own ranking (a deal bought on other grounds than the account); without one it
follows the customer's.
"""
import peewee as pw

from models import audit, clock, hooks
from models.base import BaseModel, db, fresh
from models.customers import Customer
from models.errors import N_, DomainError, FieldErrors
from models.fields import clean_text
from models.opportunities import Opportunity
from models.permissions import can, require, scope
from models.users import User

FACTORS = ("relationship", "price", "value")
FACTOR_LABELS = {"relationship": N_("Trusted supplier"), "price": N_("Price-led"), "value": N_("Innovation partner")}
FACTOR_WORDS = {"relationship": N_("Relationship"), "price": N_("Price"), "value": N_("Value")}
# IBM's split of the market by the factor buyers put first (source article 003): 46 % choose a trusted
# supplier, 36 % are price-led, 18 % look for an innovation partner.
ARTICLE_SHARES = {"relationship": 46, "price": 36, "value": 18}
GUIDANCE = {
    "price": N_("Price-led: lead with terms, not differentiation."),
    "relationship": N_("Trusted supplier: lead with reliability and the people they know; do not open with a discount."),
    "value": N_("Innovation partner: lead with differentiation and new ideas, not with price."),
}
THEN = {
    "price": N_("Then: keep the terms sharp (price, payment, delivery)."),
    "relationship": N_("Then: show the track record and who stands behind it."),
    "value": N_("Then: show what is new and what it is worth to them."),
}
RANKS = ("first", "second", "third")
MIN_EVIDENCE, MAX_EVIDENCE = 10, 500


class BuyingFactors(BaseModel):
    """One ranking of a customer's (or a deal's) buying factors, with the evidence and who set it when."""
    customer = pw.ForeignKeyField(Customer, on_delete="CASCADE", index=False, backref="buying_factors")
    opportunity = pw.ForeignKeyField(Opportunity, null=True, on_delete="CASCADE", index=False, backref="+")
    first = pw.CharField(max_length=12)
    second = pw.CharField(max_length=12)
    third = pw.CharField(max_length=12)
    evidence = pw.CharField(max_length=MAX_EVIDENCE)
    set_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
    set_at = pw.DateTimeField()
    current = pw.BooleanField(default=True)

    class Meta:
        indexes = ((("customer", "opportunity", "current"), False), (("opportunity", "current"), False),
                   (("current", "first"), False))

    @property
    def ranking(self):
        return (self.first, self.second, self.third)


def validate_ranking(data):
    """(first, second, third, evidence) from form data, or one ValidationError naming each bad field."""
    e = FieldErrors()
    ranks = []
    for rank in RANKS:
        factor = str(data.get(rank) or "").strip()
        if factor not in FACTORS:
            e.add(rank, N_("Choose a factor."))
        elif factor in ranks:
            e.add(rank, N_("Each factor once: rank value, price and relationship in order."))
        ranks.append(factor)
    evidence = clean_text(data.get("evidence"), MAX_EVIDENCE, multiline=True)
    if evidence is None:
        e.add("evidence", N_("At most %(n)s characters."), n=MAX_EVIDENCE)
    elif len(evidence) < MIN_EVIDENCE:
        e.add("evidence", N_("Give the evidence (at least %(n)s characters): what the customer said or did."),
              n=MIN_EVIDENCE)
    e.raise_if_any()
    return (*ranks, evidence)


def _current_query(customer_id, opportunity_id=None):
    q = BuyingFactors.select().where((BuyingFactors.customer == customer_id) & BuyingFactors.current)
    if opportunity_id is None:
        return q.where(BuyingFactors.opportunity.is_null())
    return q.where(BuyingFactors.opportunity == opportunity_id)


def set_buying_factors(actor, customer, data, opportunity=None):
    """Rank a customer's buying factors (or one deal's) with evidence; the previous ranking stays as
    history. Refused when it changes nothing."""
    require(actor, "value.factors", customer)
    first, second, third, evidence = validate_ranking(data)
    now = clock.now()
    with db.atomic():
        fresh(customer)
        require(actor, "value.factors", customer)
        opp_id = None
        if opportunity is not None:
            fresh(opportunity)
            if opportunity.customer_id != customer.id:
                raise DomainError(N_("That opportunity is not this customer's."))
            opp_id = opportunity.id
        old = _current_query(customer.id, opp_id).first()
        if old is not None and old.ranking == (first, second, third) and old.evidence == evidence:
            raise DomainError(N_("Nothing changed: that is the ranking on file."))
        if old is not None:
            BuyingFactors.update(current=False).where(BuyingFactors.id == old.id).execute()
        row = BuyingFactors.create(customer=customer.id, opportunity=opp_id, first=first, second=second, third=third,
                                   evidence=evidence, set_by=actor.id, set_at=now, current=True)
        audit.record("value.factors_set", actor, customer, opportunity_id=opp_id, ranking=[first, second, third],
                     before=list(old.ranking) if old else None, evidence=evidence)
    return row


# ---- reading ----------------------------------------------------------------------------------------

def current(customer_id, opportunity_id=None):
    return _current_query(customer_id, opportunity_id).first()


def for_opportunity(opportunity):
    """(ranking row, inherited): the deal's own ranking, else the customer's (inherited=True), else (None, False)."""
    own = current(opportunity.customer_id, opportunity.id)
    if own is not None:
        return own, False
    row = current(opportunity.customer_id)
    return row, row is not None


def history(customer_id, limit=10):
    """The customer's rankings, newest first (its deals' too), with who set them."""
    return list(BuyingFactors.select(BuyingFactors, User.full_name)
                .join(User, pw.JOIN.LEFT_OUTER, on=(User.id == BuyingFactors.set_by))
                .where(BuyingFactors.customer == customer_id)
                .order_by(BuyingFactors.set_at.desc(), BuyingFactors.id.desc()).limit(limit))


def distribution(user, team=None):
    """How the customers the user's pyramid covers split by the factor ranked first, beside the article's
    split: {"rows": [(factor, count, percent, article percent)], "total": n}. Managers see their team's."""
    q = (BuyingFactors.select(BuyingFactors.first, pw.fn.COUNT(BuyingFactors.id))
         .where(BuyingFactors.current & BuyingFactors.opportunity.is_null()))
    if not can(user, "value.pyramid_all"):
        team = user.team_id or -1
    if team:
        q = q.join(Customer, on=(Customer.id == BuyingFactors.customer)).where(Customer.team == team)
    counts = dict(q.group_by(BuyingFactors.first).tuples())
    total = sum(counts.values())
    rows = [(f, counts.get(f, 0), round(100 * counts.get(f, 0) / total, 1) if total else 0.0, ARTICLE_SHARES[f])
            for f in FACTORS]
    return {"rows": rows, "total": total}


def customers_by_first(user, factor, after_id=None, limit=50):
    """The customers (in the user's customer scope) whose current ranking puts `factor` first."""
    q = (BuyingFactors.select(BuyingFactors, Customer.id, Customer.name)
         .join(Customer, on=(Customer.id == BuyingFactors.customer))
         .where(BuyingFactors.current & BuyingFactors.opportunity.is_null() & (BuyingFactors.first == factor))
         .where(Customer.id.in_(scope("customer", user, Customer.select(Customer.id)))))
    if after_id:
        q = q.where(BuyingFactors.id < after_id)
    return list(q.order_by(BuyingFactors.id.desc()).limit(limit))


def _follow_merge(actor, loser_id, survivor_id):
    """A merge moves the loser's rankings to the survivor: the survivor's own stays current."""
    if current(survivor_id) is not None:
        BuyingFactors.update(current=False).where((BuyingFactors.customer == loser_id)
                                                  & BuyingFactors.opportunity.is_null()).execute()


hooks.on("customer_merged", _follow_merge)
