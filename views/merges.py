"""Merging customers (admin) and the ownership card of the 360 page: the duplicates of a customer with
the actions on them (merge for admins, a conflict case for reps), and "merged into" for a merged-away id."""
from flask import Blueprint, make_response, render_template, request, url_for
from flask_login import current_user

from models import clock, merges, pickers
from models.fields import id_or_none
from models.conflicts import ConflictCase
from models.customers import Customer, get_customer
from models.delegations import acting_for_ids
from models.duplicates import REASON_LABELS, find_matches
from models.errors import N_, DomainError, ValidationError
from models.permissions import can, require
from models.users import User
from views import customers as customers_view
from views import extend
from views import htmx as hx
from views.forms import error_line
from views.i18n import gettext as _
from views.i18n import label, locale_code, translate_error

bp = Blueprint("merges", __name__, url_prefix="/merges")


def _id_arg(name):
    return id_or_none(request.values.get(name, ""))


# ---- the admin's duplicates list and the compare screen --------------------------------------------

@bp.get("")
def index():
    require(current_user, "customer.merge")
    kind = request.args.get("kind") if request.args.get("kind") in merges.PAIR_KINDS else "phone"
    after = request.args.get("after")
    groups, next_after = merges.duplicate_groups(kind, after=after)
    owners = {u.id: u.full_name for u in User.select(User.id, User.full_name).where(
        User.id.in_({c.owner_id for _k, _n, members in groups for c in members if c.owner_id}))}
    context = dict(kind=kind, groups=groups, owners=owners, after=after,
                   next_after=next_after, recent=list(merges.recent(10)))
    return hx.fragment_or_page("merges/_groups.html", "merges/index.html", **context)


@bp.route("/new", methods=["GET", "POST"])
def new():
    """Side by side: the customer to keep and the one to merge into it; the admin picks per field."""
    require(current_user, "customer.merge")
    loser_id, survivor_id = _id_arg("loser"), _id_arg("survivor")
    error = None
    if request.method == "POST":
        try:
            record = merges.merge_customers(current_user, request.form.get("loser"), request.form.get("survivor"),
                                            take=request.form.getlist("take"), reason=request.form.get("reason", ""))
        except ValidationError as exc:
            error = error_line(exc)
        except DomainError as exc:
            error = translate_error(exc.message, exc.params)
        else:
            return hx.redirect(url_for("customers.show", customer_id=record.survivor_id, merged=record.id))
    loser = Customer.get_or_none(Customer.id == loser_id) if loser_id else None
    survivor = Customer.get_or_none(Customer.id == survivor_id) if survivor_id else None
    if loser is None and loser_id and error is None:
        gone = merges.survivor_of(loser_id)
        error = translate_error(N_("Customer %(id)s no longer exists: it was merged into %(name)s."),
                                {"id": loser_id, "name": gone.name}) if gone else \
            translate_error(N_("Customer %(id)s does not exist (any more)."), {"id": loser_id})
    candidates = []
    if loser is not None and survivor is None:
        candidates = find_matches(current_user, name=loser.name, phone=loser.phone, credit_code=None,
                                  exclude_id=loser.id, limit=10)
    rows = merges.compare(loser, survivor) if loser and survivor else []
    # what tells look-alikes apart (city, owner or pool, credit code tail), read for the visible ones only
    facts = {c.id: c for c in pickers.facts(list(Customer.select(*pickers.LOOKUP_COLUMNS).where(
        Customer.id.in_([m.id for m in candidates if m.can_view] or [0]))))}
    context = dict(loser=loser, survivor=survivor, rows=rows, error=error, candidates=candidates, facts=facts,
                   reason=request.form.get("reason", ""), names=_names(loser, survivor),
                   counts=_counts(loser) if loser else {}, display=_display, TABLE_LABELS=merges.TABLE_LABELS)
    status = 200 if error is None or request.method == "POST" else 409
    return render_template("merges/new.html", **context), status


def _names(*customers):
    ids = {c.owner_id for c in customers if c is not None and c.owner_id}
    return {u.id: u.full_name for u in User.select(User.id, User.full_name).where(User.id.in_(ids))} if ids else {}


def _counts(customer):
    """How many rows would move, per table (what the admin is about to merge)."""
    out = {}
    for model, field in merges.customer_references():
        if model is merges.CustomerMerge:
            continue
        n = model.select().where(field == customer.id).count()
        if n:
            out[model._meta.table_name] = n
    return out


def _display(field, value):
    """A compare-screen value in words (a foreign key as its name, a vocabulary key as its label)."""
    from models.customers import (BUSINESS_MODEL_LABELS, CHANNEL_LABELS, SIZE_LABELS, SOURCE_LABELS,
                                  CustomerGroup, Industry)
    from models.users import Region

    if value in (None, ""):
        return "—"
    if field == "industry_id":
        row = Industry.get_or_none(Industry.id == value)
        return row.label(locale_code()) if row else value
    if field == "region_id":
        row = Region.get_or_none(Region.id == value)
        return row.label(locale_code()) if row else value
    if field == "group_id":
        row = CustomerGroup.get_or_none(CustomerGroup.id == value)
        return row.name if row else value
    vocab = {"business_model": BUSINESS_MODEL_LABELS, "size": SIZE_LABELS, "source": SOURCE_LABELS,
             "first_channel": CHANNEL_LABELS}.get(field)
    return label(vocab, value) if vocab else value


# ---- the ownership card on the 360 page (loaded by htmx, so the page itself costs nothing) --------

@bp.get("/customer/<int:customer_id>/card")
def customer_card(customer_id):
    customer = get_customer(customer_id)
    require(current_user, "customer.view", customer)
    customers_view.count_pool_view(customer)
    matches = find_matches(current_user, name=customer.name, phone=customer.phone, credit_code=customer.credit_code,
                           exclude_id=customer.id)
    owners = {m.id: m for m in matches}
    owner_ids = dict(Customer.select(Customer.id, Customer.owner).where(Customer.id.in_(list(owners))).tuples()) \
        if owners else {}
    rows = []
    for m in matches:
        owner_id = owner_ids.get(m.id)
        rows.append(dict(id=m.id, name=m.name, can_view=m.can_view,
                         why=" · ".join(label(REASON_LABELS, r) for r in m.reasons),
                         where=_("Owned by %(name)s", name=m.owner) if m.owner else (
                             _("In the public pool %(pool)s", pool=m.pool.label(locale_code()))
                             if m.pool is not None else _("A marketing lead, not yet with a rep")),
                         can_merge=can(current_user, "customer.merge"),
                         can_dispute=owner_id is not None and owner_id != current_user.id
                         and can(current_user, "conflict.dispute")))
    acting_for = None
    if customer.owner_id and customer.owner_id != current_user.id and customer.owner_id in acting_for_ids(current_user):
        acting_for = User.get_or_none(User.id == customer.owner_id)
    absence = None  # the owner's running or coming delegation: the release clock stands still for it
    if customer.owner_id:
        from models.delegations import Delegation
        absence = (Delegation.select().where((Delegation.absentee == customer.owner_id)
                                             & (Delegation.ends_on >= clock.today()) & Delegation.cancelled_at.is_null())
                   .order_by(Delegation.starts_on).first())
        if absence is not None:
            absence.names = {u.id: u.full_name for u in User.select(User.id, User.full_name)
                             .where(User.id.in_([absence.absentee_id, absence.delegate_id]))}
    open_cases = list(ConflictCase.select().where((ConflictCase.customer == customer.id)
                                                 & (ConflictCase.status == "open")).limit(5))
    open_cases = [c for c in open_cases if can(current_user, "conflict.view", c)]
    return render_template("merges/_card.html", customer=customer, rows=rows, acting_for=acting_for,
                           open_cases=open_cases, absence=absence,
                           can_dispute_this=can(current_user, "conflict.open", customer))


@extend.side_card("merges/_side_panel.html", order=20)
def _side_panel(customer, user):
    return {"customer_id": customer.id}


def merged_away(customer_id):
    """The page for a customer id that was merged away: "merged into S" (a link if S is visible), with a
    404 status so nothing that expected the customer mistakes it for one. None if it was never merged."""
    record = merges.merge_record(customer_id)
    if record is None:
        return None
    survivor = merges.survivor_of(customer_id)
    visible = survivor is not None and can(current_user, "customer.view", survivor)
    response = make_response(render_template("merges/gone.html", record=record,
                                              survivor=survivor if visible else None), 404)
    return response


def _merge_field_label(name):
    return _(dict(merges.MERGE_FIELDS).get(name, name))


extend.template_globals(merge_field_label=_merge_field_label)


@extend.timeline("customer.merged")
def _describe_merge(e):
    d = e.data or {}
    text = _("merged %(name)s into this customer: %(contacts)s contacts, %(followups)s follow-ups moved",
             name=d.get("loser_name", ""), contacts=d.get("contacts", 0), followups=d.get("followups", 0))
    if d.get("fields"):
        text += " — " + _("taken from it: %(fields)s", fields=", ".join(_merge_field_label(f) for f in d["fields"]))
    return text + (" — " + d["reason"] if d.get("reason") else "")


extend.gone_page(merged_away)
