"""The home page: each role's workbench of what needs its action today."""
import datetime as dt
import time

from flask import Blueprint, render_template
from flask_login import current_user

from models import clock, notifications, pools
from models import rules as rules_mod
from models.permissions import can, scope
from models import workbench as wb
from models.customers import Customer
from models.notifications import Notification
from models.pools import LockRequest
from views import extend
from views import pools as pools_view

bp = Blueprint("workbench", __name__)
_cache = {}

def _cached(key, seconds, compute):
    """A short-lived per-process cache for expensive whole-table counts (admin only)."""
    hit = _cache.get(key)
    if hit and hit[0] > time.monotonic():
        return hit[1]
    value = compute()
    _cache[key] = (time.monotonic() + seconds, value)
    return value


@bp.get("/")
def home():
    u = current_user._get_current_object()  # the user itself: the cards ask it ~250 times (a proxy: ~2 µs each)
    now = clock.now()
    seller, lead = can(u, "workbench.seller"), can(u, "team.leads_one")
    members = extend.team_members(u.team_id) if lead else []
    # Whether the page's lists have rows at all, asked with the cards' probes in one statement (views.extend):
    # an empty list reads nothing more.
    probes = {}
    if seller:
        probes.update(stakes=extend.kept_probe("workbench.stakes", lambda staker: Customer.select(Customer.id).where(
                          Customer.staked_by == staker), u.id),
                      adjustments=extend.kept_probe("workbench.adjustments", pools.active_adjustment_ids, u.id, now),
                      notes=extend.kept_probe("workbench.notes", lambda user_id: Notification.select(
                          Notification.id).where(Notification.user == user_id), u.id))
    if lead:
        probes.update(locks=scope("lock_request", u, LockRequest.select(LockRequest.id).where(LockRequest.status == "pending")),
                      released=extend.kept_probe(("workbench.released", len(members)), lambda *v: wb.released_since(
                          v[:-1], v[-1]), *[m.id for m in members], now - dt.timedelta(days=7)))
    panels, found = extend.workbench_panels(u, own=probes)  # the other domains' cards (views.extend)
    ctx = {"panels": panels}
    if seller:
        rules = rules_mod.in_force(now)
        owned = wb.rep_owned(u, pools.counted_conditions(rules), shape=pools.counted_key(rules))  # stages, capacity's counts, due: one statement
        stakes = list(wb.rep_stakes(u)) if found["stakes"] else []
        stake_count = len(stakes) if len(stakes) < wb.ROWS else Customer.select().where(Customer.staked_by == u.id).count()
        ctx.update(due=list(wb.rep_due(u)) if owned["due"] else [], due_count=owned["due"],
                   stalest=list(wb.rep_stalest(u)) if owned["owned"] else [], my_stages=owned["stages"],
                   cap=pools.capacity(u, now, rules, counts=(owned["used"], stake_count, owned["locks"]), upcoming=False,
                                      adjustments=None if found["adjustments"] else []),
                   releasing=list(wb.rep_releasing(u)) if owned["releasing"] else [], stakes=stakes,
                   notes=list(notifications.latest(u, limit=8)) if found["notes"] else [])
    if lead:
        upcoming, released = wb.team_releases(u.team_id, member_ids=[m.id for m in members], now=now,
                                              released=found["released"])
        owned, team_stages = wb.team_owned(u.team_id)
        ctx.update(team_upcoming=upcoming, team_released=released, member_names={m.id: m.full_name for m in members},
                   lock_requests=list(pools_view._pending_locks(u).limit(10)) if found["locks"] else [],
                   team=wb.team_activity(u.team_id, members=members, owned=owned), team_stages=team_stages)
    if can(u, "workbench.marketing"):
        ctx.update(leads=list(wb.newest_leads()),
                   lead_stages=_cached("lead_stages", 60, lambda: wb.stage_counts(
                       Customer.select().where(Customer.stage.in_(("unidentified", "prospect"))))))
    if can(u, "workbench.service"):
        ctx.update(recent=list(wb.my_recent_followups(u)))
    if can(u, "workbench.admin"):
        ctx.update(counts=wb.admin_counts(),
                   all_stages=_cached("all_stages", 60, lambda: wb.stage_counts(Customer.select())),
                   events=list(wb.recent_events()))
        names = extend.load_names(ctx["events"])  # the people and customers their sentences name, actors too
        for e in ctx["events"]:
            e.actor_name = names.full_name(e.actor_id)
    return render_template("workbench/home.html", **ctx)
