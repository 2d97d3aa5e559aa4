"""Delegation (工作代理) over the web: "My delegations" (name a delegate, end one early), the absentee's
customers for the delegate, and the workbench banner for whoever acts for a colleague."""
from flask import Blueprint, make_response, render_template, request, url_for
from flask_login import current_user

from models import clock, delegations
from models.fields import id_or_none
from models.customers import Customer
from models.errors import DomainError, NotFound, ValidationError
from models.keyset import keyset_page
from models.permissions import can, require, visible
from models.users import User
from views import extend
from views import htmx as hx
from views.forms import field_errors
from views.i18n import translate_error

bp = Blueprint("delegations", __name__, url_prefix="/delegations")
PAGE = 50


def _absentees(user):
    """Whom the user may name a delegate for: themselves; a manager their team; an admin every seller."""
    q = User.holding(*delegations.SELLER_ROLES, fields=(User.id, User.full_name, User.role, User.team))
    if can(user, "delegation.all"):
        return list(q.order_by(User.full_name))
    if can(user, "team.leads_one"):
        return list(q.where(User.team == user.team_id).order_by(User.full_name))
    return [user] if can(user, "delegation.absent") else []


def _page(errors=None, form=None, status=200):
    user = current_user
    if can(user, "delegation.all"):
        rows = list(delegations.Delegation.select().order_by(delegations.Delegation.starts_on.desc(),
                                                             delegations.Delegation.id.desc()).limit(PAGE))
    else:
        rows = list(delegations.delegations_of(user, PAGE))
        if can(user, "team.leads_one"):
            seen = {d.id for d in rows}
            rows += [d for d in delegations.team_delegations(user.team_id, PAGE) if d.id not in seen]
    ids = {d.absentee_id for d in rows} | {d.delegate_id for d in rows}
    names = {u.id: u.full_name for u in User.select(User.id, User.full_name).where(User.id.in_(ids))} if ids else {}
    absentees = _absentees(user)
    form = form or {"absentee_id": str(user.id), "starts_on": clock.today().isoformat(),
                    "ends_on": clock.today().isoformat()}
    chosen = User.get_or_none(User.id == id_or_none(form.get("absentee_id"))) or user
    picked = User.get_or_none(User.id == id_or_none(form.get("delegate_id"))) if chosen.sells else None
    context = dict(rows=rows, names=names, absentees=absentees, delegate=(picked.id, picked.full_name) if picked else None,
                   offers_delegate=chosen.sells, form=form,
                   errors=errors or {}, now=clock.now())
    template = "delegations/_form.html" if request.htmx and request.method == "POST" else "delegations/index.html"
    return make_response(render_template(template, **context), status)


@bp.get("")
def index():
    require(current_user, "delegation.list")
    return _page()


@bp.post("/new")
def new():
    require(current_user, "delegation.list")
    data = {k: v for k, v in request.form.items() if k != "csrf_token"}
    try:
        delegations.create_delegation(current_user, data)
    except ValidationError as exc:
        errors = field_errors(exc, joined=True)
        return _page(errors, data)
    return hx.redirect(url_for("delegations.index", saved=1))


@bp.post("/<int:delegation_id>/cancel")
def cancel(delegation_id):
    require(current_user, "delegation.list")
    try:
        delegations.cancel_delegation(current_user, delegation_id)
    except NotFound:
        raise
    except DomainError as exc:
        return hx.toast(translate_error(exc.message, exc.params), 409)
    return hx.redirect(url_for("delegations.index"))


@bp.get("/<int:delegation_id>/customers")
def customers(delegation_id):
    """The absentee's customers, for the delegate while the delegation runs (and for whoever sees them
    anyway), keyset-paginated on id."""
    d = delegations.Delegation.get_or_none(delegations.Delegation.id == delegation_id)
    if d is None or not (current_user.id in (d.delegate_id, d.absentee_id) or can(current_user, "delegation.cancel", d)):
        raise NotFound()
    absentee = User.get_by_id(d.absentee_id)
    q = visible(Customer.select(Customer.id, Customer.name, Customer.stage, Customer.release_at, Customer.last_followup_at,
                                Customer.next_followup_on, Customer.owner, Customer.team, Customer.staked_by,
                                Customer.pool)
                .where(Customer.owner == absentee.id), current_user)
    found = keyset_page(q, [Customer.id], after=request.args.get("after"), limit=PAGE)
    return hx.fragment_or_page("delegations/_customers.html", "delegations/customers.html", d=d, absentee=absentee,
                               rows=found.rows, next_after=found.next, state=d.state())


# ---- the workbench banner -----------------------------------------------------------------------

@extend.workbench_panel("delegations/_banner.html", roles=("sales", "manager"), order=5)
def _banner(user):
    ids = delegations.acting_for_ids(user)
    if not ids:
        return None
    now = clock.now()
    rows = list(delegations.Delegation.select().where((delegations.Delegation.delegate == user.id)
                                                      & delegations.Delegation.absentee.in_(list(ids))
                                                      & delegations._active_where(now)))
    names = {u.id: u.full_name for u in User.select(User.id, User.full_name).where(User.id.in_(list(ids)))}
    return {"rows": rows, "names": names}
