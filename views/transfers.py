"""Transfers over the web: the request form (from a customer's page or a rep's customer list), the
transfer page with its progress, my requests, the inbox section, and the leaver wizard."""
from flask import Blueprint, make_response, render_template, request, url_for
from flask_login import current_user
from peewee import fn

from models import clock, pools, transfers
from models.fields import id_or_none, parse_id
from models.customers import Customer, Industry, get_customer
from models.errors import N_, DomainError, NotFound, ValidationError
from models.keyset import keyset_page
from models.permissions import SELLERS, can, require, scope
from models.transfers import Transfer, TransferApproval, TransferItem
from models.users import Region, Team, User
from views import extend
from views import htmx as hx
from views.forms import field_errors
from views.i18n import gettext as _
from views.i18n import locale_code, translate_error

bp = Blueprint("transfers", __name__, url_prefix="/transfers")

PAGE = 30
ITEMS_PAGE = 50
PLAN_PAGE = 25
FORM_LIST = 500  # customers listed with checkboxes on the request form ("all of this rep's" covers the rest)
STATUS_LABELS = {"draft": N_("Being prepared"), "pending": N_("Waiting for approval"), "rejected": N_("Rejected"),
                 "cancelled": N_("Withdrawn"), "executing": N_("Being carried out"), "done": N_("Done"),
                 "failed": N_("Stopped")}
SIDE_LABELS = {"giving": N_("Giving team"), "receiving": N_("Receiving team")}
APPROVAL_LABELS = {"pending": N_("Waiting"), "approved": N_("Approved"), "rejected": N_("Rejected")}


def _id_arg(name):
    return id_or_none(request.args.get(name) or request.form.get(name))


def _query_id(name):
    return id_or_none(request.args.get(name))


def _load(transfer_id):
    transfer = Transfer.get_or_none(Transfer.id == transfer_id)
    if transfer is None:
        raise NotFound()
    require(current_user, "transfer.view", transfer)
    return transfer


def _load_user(user_id):
    user = User.get_or_none(User.id == user_id)
    if user is None:
        raise NotFound()
    return user


def _names(ids):
    ids = {i for i in ids if i}
    return {u.id: u.full_name for u in User.select(User.id, User.full_name).where(User.id.in_(ids))} if ids else {}


def _pool_names():
    loc = locale_code()
    return {p.id: p.label(loc) for p in pools.Pool.select()}


# ---- my requests ----------------------------------------------------------------------------------

@bp.get("/")
def index():
    """The requests I made, gave or received (a manager: the team's too), newest first."""
    require(current_user, "transfer.list")
    q = scope("transfer", current_user).where(Transfer.status != "draft")  # a leaver's plan shows once carried out
    found = keyset_page(q, [Transfer.id], after=request.args.get("before"), limit=PAGE, descending=True)
    rows = found.rows
    _annotate(rows)
    return render_template("transfers/index.html", rows=rows, next=found.next,
                           reps=_requestable_reps())


def _requestable_reps():
    """Whose customers the user may ask to move: their own, a manager's team, everyone for an admin."""
    return [rep for rep in User.holding(*SELLERS).order_by(User.full_name)
            if can(current_user, "transfer.request_for", rep)][:500]


def _annotate(rows):
    """Names and a one-line 'to whom' per transfer, with a fixed number of queries."""
    if not rows:
        return
    ids = [t.id for t in rows]
    targets = {}
    for tid, to_user, to_pool, n in (TransferItem.select(TransferItem.transfer, TransferItem.to_user, TransferItem.to_pool,
                                                         fn.COUNT(TransferItem.id))
                                     .where(TransferItem.transfer.in_(ids))
                                     .group_by(TransferItem.transfer, TransferItem.to_user, TransferItem.to_pool).tuples()):
        targets.setdefault(tid, []).append((to_user, to_pool, n))
    names = _names({t.requester_id for t in rows} | {t.from_user_id for t in rows}
                   | {u for ts in targets.values() for u, _p, _n in ts})
    pool_names = _pool_names()
    for t in rows:
        t.requester_name, t.from_name = names.get(t.requester_id, ""), names.get(t.from_user_id, "")
        parts = sorted(targets.get(t.id, []), key=lambda x: -x[2])
        t.to_text = ", ".join(f"{names.get(u, '') if u else pool_names.get(p, '')} ({n})" for u, p, n in parts[:4]) + \
            (" …" if len(parts) > 4 else "")


# ---- the request form ---------------------------------------------------------------------------

def _target_choices(from_user, team_only=False):
    """[(group label, [(value, label)])]: reps by team (or the giver's team only), then the pools."""
    teams = {t.id: t.name for t in Team.select(Team.id, Team.name)}
    groups = {}
    q = transfers.recipients_for(current_user, from_user)
    if team_only:
        q = q.where(User.team == from_user.team_id) if from_user.team_id else q.where(User.id == 0)
    for u in q:
        groups.setdefault(teams.get(u.team_id, _("No team")), []).append((f"u:{u.id}", u.full_name))
    own = teams.get(from_user.team_id)
    ordered = sorted(groups.items(), key=lambda kv: (kv[0] != own, kv[0]))
    pool_choices = [(f"p:{p.id}", p.label(locale_code())) for p in pools.pools_for(current_user).order_by(pools.Pool.id)]
    return ordered + [(_("Public pools"), pool_choices)]


def _form_context(from_user, customer=None, errors=None, form=None):
    form = form or {}
    if customer is not None:
        rows, total = [customer], 1
    else:
        q = Customer.select(Customer.id, Customer.name, Customer.stage, Customer.city, Customer.release_at).where(
            Customer.owner == from_user.id)
        total = q.count()
        rows = list(q.order_by(Customer.name, Customer.id).limit(FORM_LIST))
    chosen = set(form.getlist("customer")) if hasattr(form, "getlist") else set()
    busy = dict(transfers._busy([c.id for c in rows]))  # already in an open transfer: not offered again
    return dict(from_user=from_user, customer=customer, rows=rows, total=total, errors=errors or {}, form=form,
                chosen=chosen, busy=busy, choices=_target_choices(from_user), row_choices=_target_choices(from_user, team_only=True),
                cap=pools.capacity(from_user) if from_user.sells else None)


@bp.route("/new", methods=["GET", "POST"])
def new():
    """From a customer's page (?customer=) or a rep's customer list (?rep=): choose customers, where each
    goes (one default, changed per customer for a split) and why."""
    customer_id, rep_id = _query_id("customer"), _query_id("rep")
    customer = None
    if customer_id:
        customer = get_customer(customer_id)
        require(current_user, "customer.view", customer)
        require(current_user, "transfer.request", customer)
        from_user = _load_user(customer.owner_id)
    else:
        from_user = _load_user(rep_id or current_user.id)
    require(current_user, "transfer.request_for", from_user)
    if request.method == "GET":
        return render_template("transfers/new.html", **_form_context(from_user, customer))
    form = request.form
    default = form.get("to", "")
    if customer is not None:
        ids = [customer.id]
    elif form.get("all") == "1":  # every customer of the rep's not already in an open transfer
        ids = [c.id for c in Customer.select(Customer.id).where(Customer.owner == from_user.id).order_by(Customer.id)]
        busy = {cid for cid, _t in transfers._busy(ids)}
        ids = [cid for cid in ids if cid not in busy]
    else:
        ids = []
        for raw in form.getlist("customer"):
            try:
                ids.append(parse_id(raw))
            except ValueError:
                continue
    moves = [(cid, form.get(f"to_{cid}") or default) for cid in ids]
    try:
        transfer = transfers.request_transfer(current_user, from_user, moves, form.get("reason", ""))
    except ValidationError as exc:
        context = _form_context(from_user, customer, field_errors(exc, joined=True), form)
        return render_template("transfers/_form.html" if request.htmx else "transfers/new.html", **context)
    return hx.redirect(url_for("transfers.show", transfer_id=transfer.id))


# ---- the transfer page ---------------------------------------------------------------------------

@bp.get("/<int:transfer_id>")
def show(transfer_id):
    transfer = _load(transfer_id)
    _annotate([transfer])
    after = _id_arg("after")
    q = (TransferItem.select(TransferItem, Customer.id, Customer.name, Customer.stage, Customer.owner, Customer.team,
                             Customer.pool, Customer.staked_by)
         .join(Customer, on=(TransferItem.customer == Customer.id)).where(TransferItem.transfer == transfer.id))
    found = keyset_page(q, [TransferItem.id], after=request.args.get("after"), limit=ITEMS_PAGE)
    items = found.rows
    approvals = list(TransferApproval.select().where(TransferApproval.transfer == transfer.id).order_by(TransferApproval.id))
    names = _names({i.to_user_id for i in items} | {i.from_owner for i in items} | {a.decided_by_id for a in approvals}
                   | {transfer.decided_by_id})
    teams = {t.id: t.name for t in Team.select(Team.id, Team.name)}
    mine = [_approval_row(a, transfer) for a in approvals
            if a.status == "pending" and transfer.status == "pending" and can(current_user, "transfer.decide", a)]
    # The parties see the whole list; a recipient only the customers they may see (their own share).
    parties = can(current_user, "transfer.all_items", transfer)
    context = dict(t=transfer, items=items, next=found.next, approvals=approvals, names=names,
                   parties=parties,
                   teams=teams, pool_names=_pool_names(), mine=mine, recipients=_recipient_capacity(transfer))
    if request.htmx and after:
        return render_template("transfers/_items.html", **context)
    return render_template("transfers/show.html", **context)


def _recipient_capacity(transfer):
    if transfer.status not in ("pending", "draft"):
        return []
    now = clock.now()
    rules = pools.rules_mod.in_force(now)
    counts = dict(TransferItem.select(TransferItem.to_user, fn.COUNT(TransferItem.id))
                  .where((TransferItem.transfer == transfer.id) & TransferItem.to_user.is_null(False)
                         & (TransferItem.done == False)).group_by(TransferItem.to_user).tuples())  # noqa: E712
    out = []
    for user in User.select().where(User.id.in_(list(counts))).order_by(User.full_name):
        cap = pools.capacity(user, now, rules)
        out.append({"user": user, "n": counts[user.id], "used": cap["used"], "total": cap["total"],
                    "over": cap["used"] + counts[user.id] > cap["total"]})
    return out


@bp.post("/<int:transfer_id>/cancel")
def cancel(transfer_id):
    transfer = _load(transfer_id)
    if transfer.requester_id != current_user.id:  # only the requester withdraws
        raise NotFound()
    try:
        transfers.cancel_transfer(current_user, transfer)
    except DomainError as exc:
        return hx.toast(translate_error(exc.message, exc.params), 409)
    return hx.redirect(url_for("transfers.show", transfer_id=transfer.id))


@bp.get("/<int:transfer_id>/progress")
def progress(transfer_id):
    transfer = _load(transfer_id)
    response = make_response(render_template("transfers/_progress.html", t=transfer,
                                              stalled=transfers.is_stalled(transfer)))
    if request.htmx and transfer.status != "executing":
        response.headers["HX-Refresh"] = "true"  # the job ended: the whole page shows the outcome
    return response


# ---- approvals inbox ----------------------------------------------------------------------------

def _pending_approvals(user):
    return scope("approval", user, TransferApproval.select(TransferApproval, Transfer)
                 .join(Transfer, on=(TransferApproval.transfer == Transfer.id))
                 .where((TransferApproval.status == "pending") & (Transfer.status == "pending")))


def approval_count(user):
    if not can(user, "approvals.inbox"):
        return 0
    return _pending_approvals(user).count()


@extend.approvals_section("transfers", N_("Transfers"), "transfers/_approvals.html", count=approval_count, order=10)
def approval_rows(user):
    rows = list(_pending_approvals(user).order_by(TransferApproval.id).limit(200))
    transfers_ = [a.transfer for a in rows]
    _annotate(transfers_)
    teams = {t.id: t.name for t in Team.select(Team.id, Team.name)}
    for a in rows:
        a.team_name = teams.get(a.team_id, "")
    return rows


WORKBENCH_ROWS = 5


@extend.workbench_panel("transfers/_wb_waiting.html", roles=("manager", "admin"), order=3,
                        probe=lambda user: _pending_approvals(user).select(TransferApproval.id)
                        if can(user, "approvals.inbox") else None)
def workbench_waiting(user, found=True):
    """The transfers waiting for this user's decision, on the workbench itself (oldest first), not only
    behind the header badge; deciding stays in the inbox, where the reason is asked."""
    if not can(user, "approvals.inbox"):
        return None
    if not found:
        return {"rows": [], "count": 0}
    pending = _pending_approvals(user)
    rows = list(pending.order_by(TransferApproval.id).limit(WORKBENCH_ROWS))
    _annotate([a.transfer for a in rows])
    return {"rows": rows, "count": pending.count()}


def _approval_row(approval, transfer=None, error=None, capacity=False, message=None):
    approval.transfer = transfer or Transfer.get_by_id(approval.transfer_id)
    _annotate([approval.transfer])
    team = Team.get_or_none(Team.id == approval.team_id) if approval.team_id else None
    approval.team_name = team.name if team else ""
    approval.error, approval.capacity_refused, approval.message = error, capacity, message
    approval.decider_name = _names({approval.decided_by_id}).get(approval.decided_by_id, "")
    return approval


@bp.post("/approvals/<int:approval_id>")
def decide(approval_id):
    approval = TransferApproval.get_or_none(TransferApproval.id == approval_id)
    if approval is None:
        raise NotFound()
    require(current_user, "transfer.decide", approval)
    approve = request.form.get("decision") == "approve"
    try:
        transfers.decide_transfer(current_user, approval.id, approve, request.form.get("reason", ""),
                                  request.form.get("override_reason", ""))
    except transfers.CapacityRefused as exc:
        row = _approval_row(TransferApproval.get_by_id(approval.id), error=translate_error(exc.message, exc.params),
                            capacity=True)
        return render_template("transfers/_approval_row.html", a=row, form=request.form)
    except DomainError as exc:
        row = _approval_row(TransferApproval.get_by_id(approval.id), error=translate_error(exc.message, exc.params))
        return render_template("transfers/_approval_row.html", a=row, form=request.form)
    row = _approval_row(TransferApproval.get_by_id(approval.id))
    response = make_response(render_template("transfers/_approval_row.html", a=row, form={}))
    return hx.trigger(response, "approvalsChanged")


# ---- the leaver wizard ---------------------------------------------------------------------------

def _leaver(user_id):
    leaver = _load_user(user_id)
    require(current_user, "leaver.plan", leaver)
    return leaver


def _plan_context(leaver, draft, after=None):
    q = (TransferItem.select(TransferItem, Customer.id, Customer.name, Customer.stage, Customer.region, Customer.industry,
                             Customer.city)
         .join(Customer, on=(TransferItem.customer == Customer.id))
         .where((TransferItem.transfer == draft.id) & (TransferItem.done == False)))  # noqa: E712
    found = keyset_page(q, [TransferItem.id], after=after, limit=PLAN_PAGE)
    items = found.rows
    loc = locale_code()
    return dict(leaver=leaver, draft=draft, items=items, next=found.next,
                choices=_plan_choices(leaver), summary=transfers.plan_summary(draft),
                regions={r.id: r.label(loc) for r in Region.select()},
                industries={i.id: i.label(loc) for i in Industry.select()}, pool_names=_pool_names(),
                reps={u.id: u for u in transfers.team_reps(leaver)},
                to_names={u.id: u.full_name for u in User.select(User.id, User.full_name)
                          .where(User.id.in_({i.to_user_id for i in items if i.to_user_id} or {0}))})


def _plan_choices(leaver):
    reps = [(f"u:{u.id}", u.full_name) for u in transfers.team_reps(leaver)]
    pool_choices = [(f"p:{p.id}", p.label(locale_code())) for p in
                    pools.Pool.select().where(pools.Pool.active == True).order_by(pools.Pool.id)]  # noqa: E712
    return [(_("Team"), reps), (_("Public pools"), pool_choices)]


@bp.get("/leaver/<int:user_id>")
def leaver(user_id):
    """The hand-over of a leaver's customers before the account is deactivated."""
    leaver_ = _leaver(user_id)
    owned = Customer.select().where(Customer.owner == leaver_.id).count()
    draft = transfers.leaver_draft(leaver_)
    last = (Transfer.select().where((Transfer.kind == "leaver") & (Transfer.from_user == leaver_.id))
            .order_by(Transfer.id.desc()).first())
    ids = [c.id for c in Customer.select(Customer.id).where(Customer.owner == leaver_.id)]
    waiting = sorted({tid for _cid, tid in transfers._busy(ids, exclude=draft.id if draft else None)})
    context = dict(leaver=leaver_, owned=owned, draft=draft, last=last, waiting=waiting,
                   can_execute=can(current_user, "leaver.execute", leaver_))
    if draft is not None and draft.status == "draft":
        context.update(_plan_context(leaver_, draft))
    return render_template("transfers/leaver.html", **context)


@bp.post("/leaver/<int:user_id>/plan")
def leaver_plan(user_id):
    leaver_ = _leaver(user_id)
    try:
        transfers.prepare_leaver_plan(current_user, leaver_)
    except DomainError as exc:
        return hx.toast(translate_error(exc.message, exc.params), 409)
    return hx.redirect(url_for("transfers.leaver", user_id=leaver_.id))


@bp.get("/leaver/<int:user_id>/items")
def leaver_items(user_id):
    leaver_ = _leaver(user_id)
    draft = transfers.leaver_draft(leaver_)
    if draft is None or draft.status != "draft":
        raise NotFound()
    return render_template("transfers/_plan_rows.html", **_plan_context(leaver_, draft, request.args.get("after")))


@bp.post("/leaver/items/<int:item_id>")
def leaver_item(item_id):
    item = TransferItem.get_or_none(TransferItem.id == item_id)
    if item is None:
        raise NotFound()
    transfer = Transfer.get_by_id(item.transfer_id)
    leaver_ = _leaver(transfer.from_user_id)
    error = None
    try:
        transfers.set_plan_target(current_user, item.id, request.form.get("to", ""))
    except DomainError as exc:
        error = translate_error(exc.message, exc.params)
    context = _plan_context(leaver_, Transfer.get_by_id(transfer.id))
    row = (TransferItem.select(TransferItem, Customer.id, Customer.name, Customer.stage, Customer.region, Customer.industry,
                               Customer.city)
           .join(Customer, on=(TransferItem.customer == Customer.id)).where(TransferItem.id == item.id).get())
    return render_template("transfers/_plan_row_oob.html", i=row, error=error, **{k: v for k, v in context.items()
                                                                                  if k not in ("items", "next")})


@bp.post("/leaver/<int:user_id>/remaining")
def leaver_remaining(user_id):
    leaver_ = _leaver(user_id)
    draft = transfers.leaver_draft(leaver_)
    if draft is None:
        raise NotFound()
    try:
        transfers.assign_remaining(current_user, draft, request.form.get("to", ""))
    except DomainError as exc:
        return hx.toast(translate_error(exc.message, exc.params), 409)
    return hx.redirect(url_for("transfers.leaver", user_id=leaver_.id))


@bp.post("/leaver/<int:user_id>/execute")
def leaver_execute(user_id):
    leaver_ = _leaver(user_id)
    require(current_user, "leaver.execute", leaver_)
    draft = transfers.leaver_draft(leaver_)
    if draft is None:
        raise NotFound()
    try:
        transfers.execute_leaver_plan(current_user, draft, request.form.get("reason", ""),
                                      request.form.get("override_reason", ""))
    except DomainError as exc:
        context = dict(_plan_context(leaver_, draft), error=translate_error(exc.message, exc.params),
                       capacity_refused=isinstance(exc, transfers.CapacityRefused), form=request.form)
        return render_template("transfers/_execute_form.html", **context)
    transfers.start_job(draft.id)
    return hx.redirect(url_for("transfers.show", transfer_id=draft.id))


# ---- on other pages ------------------------------------------------------------------------------

extend.customer_rows("transfer_item", transfers.TransferItem)


@extend.side_card("transfers/_side_panel.html", order=50)
def _side_panel(customer, user):
    """The 360 page: a transfer waiting for this customer, or the way to ask for one."""
    open_ = transfers.open_transfer_of(customer.id) if extend.may_have_rows(customer.id, "transfer_item") else None
    may = can(user, "transfer.request", customer)
    if open_ is None and not may:
        return None
    if open_ is not None and not can(user, "transfer.view", open_):
        open_ = None
    return {"open": open_, "may": may and open_ is None, "customer": customer}




def describe_transfer_event(kind, d):
    """A transfer's timeline rows as sentences (the customer page's describer knows pools and files)."""
    if kind == "transfer.moved":
        to = d.get("to_owner") or (d.get("pool") if locale_code().startswith("zh") else d.get("pool_en"))
        text = _("transferred the customer from %(a)s to %(b)s, approved by %(by)s: %(reason)s",
                 a=d.get("from_owner") or _("nobody"), b=to or _("the pool"), by=d.get("approved_by", ""),
                 reason=d.get("reason", ""))
        if d.get("override"):
            text += " " + _("(capacity overridden: %(r)s)", r=d["override"])
        if d.get("clock_kept"):
            text += " " + _("The release clock keeps running (same team).")
        return text
    if kind == "transfer.requested":
        return _("asked to transfer the customer from %(a)s to %(b)s: %(reason)s", a=d.get("from_owner", ""),
                 b=d.get("to", ""), reason=d.get("reason", ""))
    if kind == "transfer.rejected":
        return _("rejected transfer #%(id)s: %(reason)s", id=d.get("transfer_id"), reason=d.get("reason", ""))
    if kind == "transfer.side_approved":
        return _("approved transfer #%(id)s for their team: %(reason)s", id=d.get("transfer_id"),
                 reason=d.get("reason", ""))
    if kind == "transfer.cancelled":
        return _("withdrew transfer #%(id)s", id=d.get("transfer_id"))
    return None


@extend.timeline("transfer.")
def _describe(e):
    return describe_transfer_event(e.kind, e.data or {})


extend.template_globals(TRANSFER_STATUS_LABELS=STATUS_LABELS, TRANSFER_SIDE_LABELS=SIDE_LABELS,
                        TRANSFER_APPROVAL_LABELS=APPROVAL_LABELS)
