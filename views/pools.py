"""Pools over the web: the public pool page, claim / stake / assign / release, locks and their
approval, capacity, notifications, stake ranking and pool health."""
import datetime as dt

from flask import Blueprint, make_response, render_template, request, url_for
from flask_login import current_user

from models import clock, drops, leads, listing, notifications, pool_clock, pool_reports, pools
from models import rules as rules_mod
from models.base import row_by_id
from models.fields import parse_id
from models.customers import Customer, get_customer
from models.errors import N_, DomainError, NotFound, ValidationError
from models.keyset import keyset_page
from models.permissions import can, require, scope
from models.users import User
from views import extend
from views import htmx as hx
from views.forms import field_errors
from views.i18n import gettext as _
from views.i18n import locale_code, translate_error

bp = Blueprint("pools", __name__)


def _pool_choices(user):
    loc = locale_code()
    return [(p.id, p.label(loc)) for p in pools.pools_for(user).order_by(pools.Pool.id)]


@bp.get("/pools")
def index():
    require(current_user, "pool.browse")
    choices = _pool_choices(current_user)
    if not choices:
        return render_template("pools/index.html", choices=[], f=None, page=None, pool_id=None)
    args = request.args.to_dict()
    pool_id = request.args.get("pool", type=parse_id)
    if pool_id not in [c[0] for c in choices]:
        pool_id = choices[0][0]
    args.update(pool=pool_id, scope="all")
    f = listing.Filters.parse(args, current_user)
    result = listing.page(current_user, f, after=request.args.get("after"), before=request.args.get("before"))
    claims = _annotate(result.rows, pool_ids=[c[0] for c in choices])
    context = dict(choices=choices, f=f, page=result, pool_id=pool_id, members=_team_members(),
                   full=claims["cap"] if claims and claims["cap"]["used"] >= claims["cap"]["total"] else None)
    return hx.fragment_or_page("pools/_results.html", "pools/index.html", **context)


def _team_members():
    if not can(current_user, "team.leads_one"):
        return []
    return list(User.select(User.id, User.full_name).where((User.team == current_user.team_id) & (User.active == True))  # noqa: E712
                .order_by(User.full_name))


def _annotate(rows, pool_ids=None):
    """What the viewer may do with each pool row, and why not (frozen, cooling-off, a full private pool …):
    a refused claim shows the reason instead of its button. Returns the claim context (None if the viewer
    does not claim). `pool_ids`: the viewer's pools (`pools_for`), when the page has read them."""
    now = clock.now()
    rules = pools.rules_mod.in_force(now)
    context = pools.claim_context(current_user, rules, now, pool_ids, rows) if can(current_user, "pool.work") else None
    drops.annotate(current_user, rows)  # fair drops: "drops at …", the queue's count (models/drops.py)
    for row in rows:
        row.refusal = row.refusal_rule = None
        if context is not None and row.owner_id is None:
            try:
                pools.check_claim(current_user, row, rules, now, context)
            except pools.ClaimRefused as exc:
                row.refusal, row.refusal_rule = translate_error(exc.message, exc.params), exc.rule
    return context


def _row_response(customer, message=None, ok=False):
    customer = Customer.get_by_id(customer.id)
    _annotate([customer])
    response = make_response(render_template("pools/_row.html", c=customer, message=message, ok=ok,
                                             members=_team_members()))
    return response


@bp.post("/pools/<int:customer_id>/claim")
def claim(customer_id):
    """One answer wherever the button sits: the pool row as it is now, with the claim's message (the
    customer's page picks the message out of it), `capacityChanged`, and `ownerChanged` on success (the
    customer's page draws itself again on it). Without htmx a success goes to the customer's page."""
    customer = get_customer(customer_id)
    # A taken customer the user may not see is a 404 too: its row would show another team's file.
    require(current_user, "pool.claim_attempt", customer)
    try:
        customer = drops.claim(current_user, customer.id)  # a due drop is drawn first (models/drops.py)
    except pools.ClaimRefused as exc:
        response = _row_response(customer, translate_error(exc.message, exc.params))
        # A capacity changed since the page loaded (a penalty, a claim in another tab): show it as it is now.
        return hx.trigger(response, "capacityChanged") if exc.rule == "capacity" else response
    if not request.htmx:
        return hx.redirect(url_for("customers.show", customer_id=customer.id))
    message = _("Claimed: %(name)s is now in your private pool.", name=customer.name)
    response = hx.trigger(hx.trigger(_row_response(customer, message, ok=True), "capacityChanged"), "ownerChanged")
    cap = pools.capacity(current_user, clock.now())
    if cap["used"] >= cap["total"]:  # that was the last place: the pool list reloads, its claim buttons off
        response = hx.trigger(hx.trigger(response, "poolFull"), "showToast", {"message": message})
    return response


@bp.post("/pools/<int:customer_id>/stake")
def stake(customer_id):
    customer = get_customer(customer_id)
    require(current_user, "pool.stake", customer)
    try:
        customer = pools.stake_customer(current_user, customer)
    except DomainError as exc:
        return _row_response(customer, translate_error(exc.message, exc.params))
    return hx.trigger(_row_response(customer, _("Staked until %(date)s: complete the file to %(t)s%%.",
                                                  date=_local(customer.stake_due),
                                                  t=pools.rules_mod.in_force()["stake_threshold"]), ok=True),
                      "capacityChanged")


@bp.post("/pools/<int:customer_id>/assign")
def assign(customer_id):
    customer = get_customer(customer_id)
    require(current_user, "pool.assign", customer)
    rep = User.get_or_none(User.id == request.form.get("rep_id", type=parse_id))
    try:
        customer = pools.assign_customer(current_user, customer, rep, request.form.get("reason", ""))
    except DomainError as exc:
        return _row_response(customer, translate_error(exc.message, exc.params))
    return _row_response(customer, _("Assigned to %(name)s.", name=rep.full_name), ok=True)


def _local(value):
    return clock.to_local(value).strftime("%Y-%m-%d %H:%M") if value else ""


# ---- on the customer file -----------------------------------------------------------------

def _on_file(customer_id, permission, verb):
    """A pool verb run from the customer's own page with the reason typed there; back to the page."""
    customer = get_customer(customer_id)
    require(current_user, permission, customer)
    return hx.run_verb(lambda: verb(current_user, customer, request.form.get("reason", "")), invalid=None,
                       done=lambda _result: hx.redirect(url_for("customers.show", customer_id=customer.id)))


@bp.post("/customers/<int:customer_id>/release")
def release(customer_id):
    return _on_file(customer_id, "customer.release", pools.release_customer)


@bp.post("/customers/<int:customer_id>/lock-request")
def lock_request(customer_id):
    return _on_file(customer_id, "lock.request", pools.request_lock)


@bp.post("/customers/<int:customer_id>/unlock")
def unlock(customer_id):
    return _on_file(customer_id, "lock.decide", pools.unlock_customer)


@bp.post("/customers/<int:customer_id>/inbound-lead")
def inbound_lead(customer_id):
    """An enquiry from a known customer, logged from its pool card: a lead routed by the lead routing rule."""
    customer = get_customer(customer_id)
    require(current_user, "lead.route", customer)

    def routed(lead):
        rep = User.get_by_id(lead.routed_to_id) if lead.status == "routed" else None
        message = (_("Routed to %(name)s.", name=rep.full_name) if rep
                   else _("No rep is available by the rule: the lead waits in marketing's queue."))
        return hx.trigger(hx.toast(message), "customerChanged")
    return hx.run_verb(lambda: leads.log_inbound_lead(current_user, customer, request.form.get("note", "")),
                       invalid=None, done=routed)


# ---- approvals ------------------------------------------------------------------------------

def _pending_locks(user):
    """Waiting lock requests the user decides (a manager's own requests go to the admins)."""
    return scope("lock_request", user, pools.LockRequest.select(
        pools.LockRequest, Customer.id, Customer.name, Customer.team, Customer.owner)
        .join(Customer).where(pools.LockRequest.status == "pending")).order_by(pools.LockRequest.id)


def pending_count(user):
    locks = _pending_locks(user).count() if can(user, "approvals.inbox") else 0
    # The other domains' sections (transfers, conflict cases, projects ...) register with views.extend.
    return locks + sum(section["count"](user) for section in extend.approvals_sections())


@bp.get("/approvals")
def approvals():
    if not can(current_user, "approvals.inbox"):
        raise NotFound()
    rows = list(_pending_locks(current_user).limit(200))
    sections = [dict(section, items=section["rows"](current_user)) for section in extend.approvals_sections()]
    names = {u.id: u.full_name for u in User.select(User.id, User.full_name)
             .where(User.id.in_({r.requester_id for r in rows} | {r.customer.owner_id for r in rows}))}
    return render_template("pools/approvals.html", rows=rows, names=names, sections=sections)


@bp.post("/approvals/locks/<int:request_id>")
def decide_lock(request_id):
    approve = request.form.get("decision") == "approve"
    req = pools.LockRequest.get_or_none(pools.LockRequest.id == request_id)
    if req is None:
        raise NotFound()
    require(current_user, "lock.decide", Customer.get_by_id(req.customer_id))
    try:
        pools.decide_lock(current_user, request_id, approve, request.form.get("reason", ""))
    except DomainError as exc:
        return render_template("pools/_approval_row.html", r=pools.LockRequest.get_by_id(request_id),
                               error=translate_error(exc.message, exc.params), names=_names(req))
    r = pools.LockRequest.get_by_id(request_id)
    return hx.trigger(make_response(render_template("pools/_approval_row.html", r=r, names=_names(r))),
                      "approvalsChanged")


def _names(req):
    ids = {req.requester_id, req.decided_by_id, Customer.get_by_id(req.customer_id).owner_id} - {None}
    return {u.id: u.full_name for u in User.select(User.id, User.full_name).where(User.id.in_(ids))}


# ---- capacity ---------------------------------------------------------------------------------

@bp.get("/capacity/badge")
def capacity_badge():
    if not can(current_user, "pool.work"):
        return ""
    return render_template("pools/_capacity_badge.html", cap=pools.capacity(current_user))


@bp.route("/capacity", methods=["GET"])
@bp.route("/capacity/<int:user_id>", methods=["GET", "POST"])
def capacity(user_id=None):
    rep = User.get_or_none(User.id == (user_id or current_user.id))
    if rep is None or not can(current_user, "capacity.view", rep):
        raise NotFound()
    errors = {}
    if request.method == "POST":
        try:
            pools.adjust_capacity(current_user, rep, request.form.get("delta"), request.form.get("days"),
                                  request.form.get("reason"))
        except ValidationError as exc:
            errors = field_errors(exc, joined=True)
        else:
            return hx.redirect(url_for("pools.capacity", user_id=rep.id))
    cap = pools.capacity(rep)
    events = list(pools.PoolEvent.select().where(
        (pools.PoolEvent.subject == rep.id) | (pools.PoolEvent.to_owner == rep.id) | (pools.PoolEvent.from_owner == rep.id))
        .order_by(pools.PoolEvent.id.desc()).limit(30))
    extend.load_names(events)
    releasing = list(Customer.select(Customer.id, Customer.name, Customer.release_at, Customer.release_rule)
                     .where((Customer.owner == rep.id) & Customer.release_at.is_null(False))
                     .order_by(Customer.release_at).limit(10))
    team = []
    if can(current_user, "capacity.team") and rep.team_id:
        team = list(User.select().where((User.team == rep.team_id) & (User.active == True)).order_by(User.full_name))  # noqa: E712
    return render_template("pools/capacity.html", rep=rep, cap=cap, events=events, releasing=releasing,
                           team=team, errors=errors, form=request.form)


# ---- notifications -------------------------------------------------------------------------

@bp.get("/notifications")
def notifications_page():
    found = keyset_page(notifications.latest(current_user, limit=None), [notifications.Notification.id],
                        after=request.args.get("before"), limit=50, descending=True)
    return render_template("pools/notifications.html", rows=found.rows, next=found.next)


@bp.post("/notifications/read")
def notifications_read():
    notifications.mark_all_read(current_user)
    return hx.redirect(url_for("pools.notifications_page"))


@bp.get("/notifications/badge")
def notifications_badge():
    return render_template("pools/_notification_badge.html", n=notifications.unread_count(current_user),
                           approvals=pending_count(current_user))


# ---- ranking and health ----------------------------------------------------------------

@bp.get("/pools/ranking")
def ranking():
    """Reps, teams and regions by stakes completed and stake → signed conversion."""
    return render_template("pools/ranking.html", **pool_reports.ranking(locale_code()))


@bp.get("/pools/health")
def health():
    require(current_user, "pool.health")
    h = pool_reports.health(current_user)
    return render_template("pools/health.html", labels=h["labels"], series=h["series"], sizes=h["sizes"],
                           pools_=h["pools"], funnel=h["funnel"])


RELEASE_RULE_LABELS = {"no_followup": N_("no valid follow-up"), "no_deal": N_("no deal since the claim"),
                       "locked": N_("locked"), "contract": N_("under contract"),
                       "order": N_("kept by a recent signed order or payment"),
                       "reorder": N_("no order within its reorder cycle"),  # models/pool_clock.py
                       "stuck": N_("no valid follow-up counted since its opportunity got stuck in one stage")}
LEDGER_LABELS = {
    "claim": N_("Claimed"), "claim_refused": N_("Claim refused"), "release": N_("Released"),
    "forced_release": N_("Forced release"), "assign": N_("Assigned"), "lock": N_("Locked"), "unlock": N_("Unlocked"),
    "capacity": N_("Capacity adjusted"), "stake": N_("Staked"), "stake_completed": N_("Stake completed"),
    "stake_lapsed": N_("Stake lapsed"), "lead_routed": N_("Lead routed"), "rules_applied": N_("Pool rules"),
    "placed": N_("Placed in the pool"), "transfer": N_("Transferred"), "merge": N_("Merged"),
    "conflict_ruled": N_("Conflict ruled"), "delegation_started": N_("Delegation started"),
    "delegation_ended": N_("Delegation ended"),
    "lead_escalated": N_("Lead escalated"), "lead_sent_back": N_("Lead sent back"),  # models/leads.py
    "quality": N_("Quality consequence"),  # models/quality.py
    "drop": N_("Lottery drop"), "drop_queued": N_("Queued for a drop"), "drop_left": N_("Left a drop queue"),  # models/drops.py
    "pause": N_("Release clock paused"),  # models/pool_clock.py
}


def mask(value):
    """Key contact details of a pool customer: enough to recognise, not to call ('138****8000')."""
    value = value or ""
    if not value:
        return ""
    if "@" in value:
        name, _, domain = value.partition("@")
        return name[:1] + "***@" + domain
    digits = value.replace(" ", "").replace("-", "")
    return digits[:3] + "****" + digits[-4:] if len(digits) > 7 else "****"


extend.template_globals(pool_pending_count=pending_count, RELEASE_RULE_LABELS=RELEASE_RULE_LABELS,
                        LEDGER_LABELS=LEDGER_LABELS, dt_days=lambda n: dt.timedelta(days=n), mask=mask)


# ---- on the 360 page: the pool card and the pool's timeline sentences ------------------------------

extend.customer_rows("lock_request", pools.LockRequest)
extend.customer_rows("customer_pause", pool_clock.CustomerPause)


@extend.side_card("pools/_pool_panel.html", order=0)
def pool_panel(customer, user):
    """What the 360 page says about pools: the release clock of an owned customer, or the pool state."""
    now = clock.now()
    panel = {"pool": None, "refusal": None, "plan": None, "lock_pending": False, "staker": None, "drop": None}
    if customer.owner_id:
        rules_now = rules_mod.in_force(now)
        if not extend.may_have_rows(customer.id, "customer_pause"):
            pool_clock.without_pauses(rules_now, [customer.id])
        at, rule, inputs = pools.release_plan(customer, rules_now, now)
        panel["plan"] = {"at": customer.release_at, "rule": customer.release_rule or rule, "inputs": inputs,
                         "version": rules_now.version, "unprotected_at": dt.datetime.fromisoformat(
                             inputs["unprotected_at"]) if inputs.get("unprotected_at") else None}
        panel["lock_pending"] = extend.may_have_rows(customer.id, "lock_request") and pools.LockRequest.select().where(
            (pools.LockRequest.customer == customer.id) & (pools.LockRequest.status == "pending")).exists()
    elif customer.pool_id:
        panel["pool"] = row_by_id(pools.Pool, customer.pool_id)
        if can(user, "pool.work"):
            try:
                pools.check_claim(user, customer, rules_mod.in_force(now), now)
            except pools.ClaimRefused as exc:
                panel["refusal"] = translate_error(exc.message, exc.params)
                if exc.rule == "drop":  # waiting for its drop: the queue instead of the claim (models/drops.py)
                    queued, mine = drops.queue_state(user, customer)
                    try:
                        if not mine:
                            drops.holds_at_drop(user, customer, rules_mod.in_force(now))
                        panel["drop"] = {"at": customer.drop_at, "queue": queued, "queued": mine}
                    except pools.ClaimRefused as hold:  # a cooling-off past the drop: say that instead
                        panel["refusal"] = translate_error(hold.message, hold.params)
    if customer.staked_by_id:
        panel["staker"] = User.get_or_none(User.id == customer.staked_by_id)
    return panel


@extend.timeline("pool.")
def describe(e):
    kind, d = e.kind, e.data or {}
    if kind == "pool.claimed":
        return _("claimed the customer from the public pool")
    if kind == "pool.assigned":
        return _("assigned the customer from the pool to %(name)s", name=d.get("owner", "")) + \
            (" — " + d["reason"] if d.get("reason") else "")
    if kind == "pool.lock_requested":
        return _("asked to lock the customer: %(reason)s", reason=d.get("reason", ""))
    if kind == "pool.lock_approved":
        return _("approved the lock: %(reason)s", reason=d.get("reason", ""))
    if kind == "pool.lock_rejected":
        return _("rejected the lock: %(reason)s", reason=d.get("reason", ""))
    if kind == "pool.unlocked":
        return _("unlocked the customer") + (" — " + d["reason"] if d.get("reason") else "")
    if kind == "pool.staked":
        return _("staked the customer (to be %(t)s%% complete by %(due)s)", t=d.get("threshold"),
                 due=(d.get("due") or "")[:10])
    if kind == "pool.lead_routed":
        return _("logged an inbound lead (%(note)s), routed to %(to)s", note=d.get("note", ""),
                 to=d.get("to") or _("the pool"))
    if kind == "pool.placed":
        why = {"qualified": _("qualified by marketing with no owner yet"), "created": _("created with no owner"),
               "unassigned": _("its owner was removed"), "repair": _("found with no owner and in no pool")}
        return _("placed the customer in %(pool)s: %(why)s",
                 pool=d.get("pool") if locale_code().startswith("zh") else d.get("pool_en"),
                 why=why.get(d.get("why"), d.get("why", "")))
    if kind == "pool.stake_lapsed":
        return _("the stake lapsed at %(c)s%% complete (%(t)s%% needed)", c=d.get("completeness"),
                 t=d.get("threshold"))
    return None
