"""Read models of the pools: the stake ranking (reps, teams, regions) and pool health (weekly flows,
pool sizes, the release → re-claim → signed funnel). Queries only; the verbs are in models/pools.py."""
import datetime as dt

from peewee import fn

from models import clock
from models.customers import Customer, Pool
from models.ledger import PoolEvent
from models.permissions import can
from models.pools import DEALT_STAGES
from models.users import Region, Team, User

HEALTH_KINDS = ("claim", "release", "forced_release", "assign")


def _order(rows):
    return sorted(rows, key=lambda r: (-r["completed"], -r["signed"], r["name"]))


def ranking(locale, top=50):
    """Reps (the `top` first), teams and regions by stakes completed and stake → signed conversion.
    Region names in `locale`. {"reps": [...], "teams": [...], "regions": [...]}, each row
    {name, stakes, completed, leads, signed}."""
    stakes = (PoolEvent.select(PoolEvent.actor, fn.COUNT(PoolEvent.id))
              .where(PoolEvent.kind == "stake").group_by(PoolEvent.actor).tuples())
    completed = (PoolEvent.select(PoolEvent.to_owner, fn.COUNT(PoolEvent.id))
                 .where(PoolEvent.kind == "stake_completed").group_by(PoolEvent.to_owner).tuples())
    staked_customers = (PoolEvent.select(PoolEvent.actor, PoolEvent.customer)
                        .where(PoolEvent.kind == "stake"))
    signed = {}
    pairs = list(staked_customers.tuples())
    if pairs:
        won = {c.id: c.owner_id for c in Customer.select(Customer.id, Customer.owner)
               .where(Customer.id.in_({p[1] for p in pairs}) & Customer.stage.in_(DEALT_STAGES))}
        for actor, cid in pairs:
            if won.get(cid) == actor:
                signed[actor] = signed.get(actor, 0) + 1
    stakes, completed = dict(stakes), dict(completed)
    leads = {}
    for to_owner, inputs in (PoolEvent.select(PoolEvent.to_owner, PoolEvent.inputs)
                             .where(PoolEvent.kind == "lead_routed").tuples()):
        inputs = inputs if isinstance(inputs, dict) else {}
        if to_owner and (inputs.get("via") or inputs.get("rule")) == "staker":  # pools' inbound route, the lead rules
            leads[to_owner] = leads.get(to_owner, 0) + 1
    users = {u.id: u for u in User.select().where(User.id.in_(set(stakes) | set(completed)))}
    teams = {t.id: t for t in Team.select()}
    regions = {r.id: r.label(locale) for r in Region.select()}
    reps, by_team, by_region = [], {}, {}
    for uid, u in users.items():
        row = {"name": u.full_name, "stakes": stakes.get(uid, 0), "completed": completed.get(uid, 0),
               "leads": leads.get(uid, 0), "signed": signed.get(uid, 0)}
        reps.append(row)
        for key, bucket in ((teams[u.team_id].name if u.team_id in teams else "—", by_team),
                            (regions.get(u.region_id, "—"), by_region)):
            agg = bucket.setdefault(key, {"name": key, "stakes": 0, "completed": 0, "leads": 0, "signed": 0})
            for k in ("stakes", "completed", "leads", "signed"):
                agg[k] += row[k]
    return {"reps": _order(reps)[:top], "teams": _order(by_team.values()), "regions": _order(by_region.values())}


def health(user, weeks=12):
    """Pool health as `user` may see it (a manager: flows touching their team; `pool.health_all`: all).
    {"labels": week starts, "series": {kind: [count per week]}, "sizes": {pool id: customers},
    "pools": [Pool], "funnel": (released, re-claimed, signed)}."""
    today = clock.today()
    start_day = today - dt.timedelta(days=today.weekday() + 7 * (weeks - 1))
    start = clock.local_day_start(start_day)
    q = PoolEvent.select(PoolEvent.kind, PoolEvent.at).where(
        PoolEvent.kind.in_(HEALTH_KINDS) & (PoolEvent.at >= start))
    if not can(user, "pool.health_all"):  # a manager: their team's
        members = [u.id for u in User.select(User.id).where(User.team == user.team_id)]
        q = q.where(PoolEvent.to_owner.in_(members) | PoolEvent.from_owner.in_(members))
    series = {k: [0] * weeks for k in HEALTH_KINDS}
    for kind, at in q.tuples():
        index = (clock.to_local(at).date() - start_day).days // 7
        if 0 <= index < weeks:
            series[kind][index] += 1
    labels = [(start_day + dt.timedelta(days=7 * i)).isoformat() for i in range(weeks)]
    sizes = dict(Customer.select(Customer.pool, fn.COUNT(Customer.id)).where(Customer.pool.is_null(False))
                 .group_by(Customer.pool).tuples())
    for pool_id, junk in (Customer.select(Customer.pool, fn.COUNT(Customer.id))  # a cleansing's quarantine is
                          .where(Customer.quarantined_at.is_null(False) & Customer.pool.is_null(False))  # not
                          .group_by(Customer.pool).tuples()):  # in the pool (customer_quarantined, 0046)
        sizes[pool_id] = sizes.get(pool_id, 0) - junk
    released = {c for (c,) in PoolEvent.select(PoolEvent.customer)
                .where(PoolEvent.kind.in_(("release", "forced_release")) & (PoolEvent.at >= start)).tuples()}
    reclaimed = {c for (c,) in PoolEvent.select(PoolEvent.customer)
                 .where((PoolEvent.kind.in_(("claim", "assign"))) & (PoolEvent.at >= start)
                        & PoolEvent.customer.in_(released)).tuples()} if released else set()
    signed = Customer.select().where(Customer.id.in_(reclaimed) & Customer.stage.in_(DEALT_STAGES)).count() \
        if reclaimed else 0
    return {"labels": labels, "series": series, "sizes": sizes, "pools": list(Pool.select()),
            "funnel": (len(released), len(reclaimed), signed)}
