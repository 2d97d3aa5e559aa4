"""Demo scenes for targets and performance (issue 16 items 1 and 4).

The performance counters are computed from the demo's rows (follow-ups, stage changes, claims, orders,
payments, lead answers), then every sales team gets a year of targets (this year's twelve months, four
quarters and the year) for revenue, new customers, collections and stage promotions: each month's team
figure is a little above what the team did (or, for months to come, its average month), decomposed to the
team's sellers by their share of the team's work and rounded up, so the shares add up. manager01 raised this
month's revenue target once with a reason (version 2), so the versions page has a history; rep001's and
manager01's workbench show progress, gap and pace.
"""
import math
from decimal import Decimal
from random import Random

from models import clock, db
from models import perf_tables as perf
from models import targets as tm
from models.user_tables import Team, User

SEED = 16


def _round(value, money):
    if money:
        return Decimal(max(10000, int(math.ceil(value / 10000.0)) * 10000))
    return Decimal(max(1, int(math.ceil(value))))


def _shares(total, weights, money):
    """The team figure split by weight, each share rounded up (so they add up to at least the total)."""
    whole = sum(weights.values()) or len(weights) or 1
    unit = Decimal(1000) if money else Decimal(1)
    out = {}
    for rep_id, w in weights.items():
        part = Decimal(total) * Decimal(w or (0 if sum(weights.values()) else 1)) / Decimal(whole)
        out[rep_id] = (part / unit).to_integral_value(rounding="ROUND_CEILING") * unit
    return out


def _claims():
    """A few pool claims by team 1's reps today (the demo's history has none), one of them released again,
    so the ranking's claims and what became of them show something."""
    from models.customer_tables import Customer
    from models.errors import DomainError
    from models.permissions import eligible_pool_ids
    from models.pools import claim_customer, release_customer

    reps = list(User.select().where(User.username.in_(["rep001", "rep002", "rep003", "rep004"])).order_by(User.username))
    for n, rep in enumerate(reps):
        pools = eligible_pool_ids(rep)
        if not pools:
            continue
        # A list, not a cursor: a refused claim rolls back its savepoint, which would abort an open SELECT.
        free = list(Customer.select(Customer.id).where(Customer.owner.is_null() & Customer.pool.in_(pools)
                                                   & Customer.staked_by.is_null() & Customer.released_at.is_null()
                                                   & Customer.stage.in_(("target", "intent")))
                .order_by(Customer.id.desc()).offset(7 * n).limit(3))  # plain pool files, not the scenes' ones
        claimed = []
        for c in free:
            try:
                claimed.append(claim_customer(rep, c.id))
            except DomainError:
                continue
        if claimed and n % 2 == 1:
            try:
                release_customer(rep, Customer.get_by_id(claimed[0].id), "客户已转行，不再采购面料")
            except DomainError:
                pass


def stage(say=None):
    say = say or (lambda msg: None)
    say("demo data: performance counters and a year of targets")
    _claims()
    perf.rebuild()
    rng = Random(SEED)
    now = clock.now()
    today = clock.today()
    year = tm.containing("year", today)
    months = [tm.Period("month", m) for m in year.months()]
    quarters = sorted({tm.containing("quarter", m.start) for m in months}, key=lambda p: p.start)
    kinds = [k for k in tm.kinds() if k.key in ("revenue", "new_customers", "collections", "promotions")]
    teams = [t for t in Team.select().where(Team.manager.is_null(False)).order_by(Team.id)
             if User.get_by_id(t.manager_id).role == "manager"]
    targets, shares, changes = [], [], []
    with db.atomic():
        for team in teams:
            reps = tm.team_reps(team)
            if not reps:
                continue
            for kind in kinds:
                got = {m.start: tm.actuals(kind, m, team_id=team.id) for m in months}
                year_got = tm.actuals(kind, year, team_id=team.id)
                past = [sum(got[m.start].values(), Decimal(0)) for m in months if m.end <= today]
                average = float(sum(past) / len(past)) if past else 0.0
                weights = {r.id: float(year_got.get(r.id, 0)) for r in reps}
                monthly = {}
                for m in months:
                    done = float(sum(got[m.start].values(), Decimal(0)))
                    base = done if m.end <= today else max(average, done)
                    monthly[m.start] = _round(max(base, average * 0.8) * rng.uniform(1.02, 1.25), kind.money)
                periods = [(m, monthly[m.start]) for m in months]
                periods += [(q, sum((monthly[m] for m in q.months()), Decimal(0))) for q in quarters]
                periods.append((year, sum(monthly.values(), Decimal(0))))
                for period, amount in periods:
                    targets.append(dict(team=team.id, kind=kind.id, period=period.kind, starts_on=period.start,
                                        amount=amount, version=1, updated_by=team.manager_id, updated_at=now))
                    shares.append(_shares(amount, weights, kind.money))
        for start in range(0, len(targets), 500):
            tm.Target.insert_many(targets[start:start + 500]).execute()
        ids = {(t.team_id, t.kind_id, t.period, t.starts_on): t.id for t in tm.Target.select()}
        share_rows = []
        for row, split in zip(targets, shares):
            target_id = ids[(row["team"], row["kind"], row["period"], row["starts_on"])]
            share_rows += [dict(target=target_id, rep=rep_id, amount=value) for rep_id, value in split.items()]
            changes.append(dict(target=target_id, version=1, actor=row["updated_by"], at=now, reason="年度目标分解",
                                amount=row["amount"], shares={str(k): str(v) for k, v in split.items()}))
        for start in range(0, len(share_rows), 500):
            tm.TargetShare.insert_many(share_rows[start:start + 500]).execute()
        for start in range(0, len(changes), 500):
            tm.TargetChange.insert_many(changes[start:start + 500]).execute()
    # manager01 raises this month's revenue target, through the verb (version 2 with its reason)
    manager = User.get_or_none(User.username == "manager01")
    revenue = tm.TargetKind.get_or_none(tm.TargetKind.key == "revenue")
    if manager is None or revenue is None or not manager.team_id:
        return
    month = tm.containing("month", today)
    target = tm.get_target(manager.team_id, revenue.id, month)
    if target is None:
        return
    old = {s.rep_id: s.amount for s in target.shares}
    data = {"amount": str(target.amount * Decimal("1.1")), "version": str(target.version),
            "reason": "旺季订单增加，总部要求本月销售额目标上调 10%"}
    data.update({f"rep_{rep_id}": str((amount * Decimal("1.1")).quantize(Decimal(1), rounding="ROUND_CEILING"))
                 for rep_id, amount in old.items()})
    tm.set_target(manager, Team.get_by_id(manager.team_id), revenue, month, data)
