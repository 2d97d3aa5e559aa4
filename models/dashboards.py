"""Dashboards for managers and admins (issue 16 item 5): the customer-lifecycle funnel with conversion and
average dwell per stage, stage promotions per week or month, the forecast by historical conversion next to
the weighted pipeline, pool health and profile completeness by team. Read models, no verbs.

Two summary tables keep the pages off the million-row tables (tests/test_dashboards.py holds them equal
to a recount):

- `LifecycleFlow`: customer stage changes per grain (week / month, business time zone) × team × from → to,
  with the summed dwell in `from_stage`. `StageChange` rows are written by several verbs and bulk loaders
  (customers, leads, imports, the demo), so instead of each of them bumping a counter the sweep folds the
  rows past a watermark (`DashboardMark` "lifecycle") into the table, 10,000 at a time; a page adds the
  few rows written since the last fold itself (`flows`), so it is always current. The team is the
  customer's when the row is folded (at most one sweep after the change).
- `PoolFlow`: the pool ledger's claims and releases per business week × team, folded the same way (the
  "pools" watermark): twelve weeks of releases are 60,000 ledger rows at 1M customers.
- `CustomerTally`: the customers counted per team × pool × stage × completeness band × "recovered from a
  pool", taken by the sweep every `TALLY_MINUTES` (one scan of the customers, 11–40 s at 1M on this shared
  machine, outside the write lock). An admin's all-company figures read it (a GROUP BY over a million
  customers takes 100 ms and more on a page); a manager's team is counted live on the (team, …) index.
"""
import datetime as dt
from decimal import Decimal

import peewee as pw

from models import clock, hooks
from models.base import BaseModel, db
from models.customer_tables import STAGES, Customer, Pool, StageChange
from models.keyset import keyset_page
from models.opportunities import (DEFAULT_PROBABILITY, OPEN_STAGES, PipelineTotal, StageFlow, forecast_periods)
from models.permissions import can, pipeline_where
from models.user_tables import Team, User

SIGNED_STAGES = ("signed", "long_term")
FUNNEL_MONTHS = 12  # conversion and dwell over the changes of the last twelve months
FOLD_BATCH = 10000
FOLD_MAX = 200000  # per sweep: a fresh migration of 2.4M changes folds over a few sweeps
TAIL_MAX = 20000  # a page adds at most this many unfolded changes (else it says the figures are catching up)
TALLY_MINUTES = 60  # the all-company count reads every customer (11–40 s at 1M on this machine)
MIN_EXITS = 10  # a rep's own conversion of a stage counts from this many exits; else the team's, the company's
POOL_WEEKS = 12


class LifecycleFlow(BaseModel):
    """Customer stage changes per period × team × from → to (`from_stage` "" = the file's first stage),
    with the summed seconds spent in `from_stage` by the `dwell_count` changes whose previous one is known."""
    grain = pw.CharField(max_length=1)  # "w" (period = the Monday) or "m" (period = the 1st)
    period = pw.DateField()
    team = pw.IntegerField()  # 0: no team
    from_stage = pw.CharField(max_length=20)
    to_stage = pw.CharField(max_length=20)
    count = pw.IntegerField(default=0)
    dwell_seconds = pw.BigIntegerField(default=0)
    dwell_count = pw.IntegerField(default=0)

    class Meta:
        indexes = ((("grain", "period", "team", "from_stage", "to_stage"), True),
                   (("grain", "team", "period"), False))


class CustomerTally(BaseModel):
    """One count of the customers per team × pool × stage × completeness band (0–10) × recovered (owned
    again after a release), with the summed completeness; replaced whole by `take_tally`."""
    team = pw.IntegerField()  # 0: none
    pool = pw.IntegerField()  # 0: none
    stage = pw.CharField(max_length=20)
    band = pw.SmallIntegerField()
    recovered = pw.BooleanField()
    count = pw.IntegerField()
    completeness_sum = pw.BigIntegerField()


class DashboardMark(BaseModel):
    """Progress of the summaries: "lifecycle" = the last StageChange id folded, "tally" = when taken."""
    name = pw.CharField(max_length=20, unique=True)
    last_id = pw.BigIntegerField(default=0)
    at = pw.DateTimeField(null=True)


class PoolFlow(BaseModel):
    """Claims (and assignments) and releases (and forced ones) per business week × team: a claim counts for
    the team of the rep who got the customer, a release for the team of the rep who lost it (0: none)."""
    week = pw.DateField()  # the Monday
    team = pw.IntegerField()
    kind = pw.CharField(max_length=8)  # "claims" / "releases"
    count = pw.IntegerField(default=0)

    class Meta:
        indexes = ((("week", "team", "kind"), True), (("team", "week"), False))


POOL_KINDS = {"claim": "claims", "assign": "claims", "release": "releases", "forced_release": "releases"}


# ---- periods --------------------------------------------------------------------------------------------

def period_of(grain, day):
    """The week's Monday or the month's first day of a business date."""
    return day - dt.timedelta(days=day.weekday()) if grain == "w" else day.replace(day=1)


def _add_months(day, n):
    month = day.month - 1 + n
    return dt.date(day.year + month // 12, month % 12 + 1, 1)


def periods(grain, today, n):
    """The last `n` periods up to and including today's, oldest first."""
    last = period_of(grain, today)
    if grain == "w":
        return [last - dt.timedelta(weeks=n - 1 - i) for i in range(n)]
    return [_add_months(last, i - n + 1) for i in range(n)]


def period_end(grain, start):
    return start + dt.timedelta(weeks=1) if grain == "w" else _add_months(start, 1)


# ---- folding the stage changes ---------------------------------------------------------------------

def _as_datetime(value):
    if value is None or isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(str(value))


def _changes(after, limit, team=None):
    """Stage changes with id > `after` (oldest first): (id, team, from, to, at, previous change's at)."""
    sql = ("SELECT sc.id, c.team_id, sc.from_stage, sc.to_stage, sc.at, "
           "(SELECT p.at FROM stage_change p WHERE p.customer_id = sc.customer_id AND p.id < sc.id "
           "ORDER BY p.id DESC LIMIT 1) "
           "FROM stage_change sc LEFT JOIN customer c ON c.id = sc.customer_id WHERE sc.id > %s")
    params = [after]
    if team is not None:
        sql += " AND c.team_id = %s"
        params.append(team)
    sql += " ORDER BY sc.id LIMIT %s"
    params.append(limit)
    p = db.param
    return db.execute_sql(sql.replace("%s", p), params).fetchall()


def _aggregate(rows, grains=("w", "m")):
    """{(grain, period, team, from, to): [count, dwell seconds, dwell count]} of change rows."""
    out = {}
    for _id, team, src, dst, at, prev in rows:
        at, prev = _as_datetime(at), _as_datetime(prev)
        day = clock.to_local(at).date()
        dwell = int((at - prev).total_seconds()) if prev is not None and src else None
        for grain in grains:
            acc = out.setdefault((grain, period_of(grain, day), team or 0, src or "", dst), [0, 0, 0])
            acc[0] += 1
            if dwell is not None and dwell >= 0:
                acc[1] += dwell
                acc[2] += 1
    return out


def _mark(name):
    mark = DashboardMark.get_or_none(DashboardMark.name == name)
    return mark or DashboardMark(name=name, last_id=0, at=None)


def _fold_into(name, read, aggregate, upsert, now, limit):
    """Fold the rows past the watermark `name` into a summary, FOLD_BATCH at a time: `read(after, n)` gives
    rows (id first) outside the write lock, `aggregate(rows)` their sums per key, and one short transaction
    applies `upsert(key, sums)` and moves the watermark only if nobody moved it meanwhile (else nothing is
    written: a second runner or a crash folds nothing twice). Returns how many rows were folded."""
    done = 0
    while done < limit:
        start = _mark(name).last_id
        rows = read(start, min(FOLD_BATCH, limit - done))
        if not rows:
            break
        sums = aggregate(rows)
        with db.atomic():
            moved = DashboardMark.update(last_id=rows[-1][0], at=now or clock.now()).where(
                (DashboardMark.name == name) & (DashboardMark.last_id == start)).execute()
            if not moved:
                if start or DashboardMark.select().where(DashboardMark.name == name).exists():
                    raise _Raced()
                DashboardMark.create(name=name, last_id=rows[-1][0], at=now or clock.now())
            for key, values in sums.items():
                upsert(key, values)
        done += len(rows)
    return done


def _add_flow(key, values):
    (grain, period, team, src, dst), (n, secs, dn) = key, values
    LifecycleFlow.insert(grain=grain, period=period, team=team, from_stage=src, to_stage=dst, count=n,
                         dwell_seconds=secs, dwell_count=dn).on_conflict(
        conflict_target=[LifecycleFlow.grain, LifecycleFlow.period, LifecycleFlow.team, LifecycleFlow.from_stage,
                         LifecycleFlow.to_stage],
        update={LifecycleFlow.count: LifecycleFlow.count + n,
                LifecycleFlow.dwell_seconds: LifecycleFlow.dwell_seconds + secs,
                LifecycleFlow.dwell_count: LifecycleFlow.dwell_count + dn}).execute()


def fold(now=None, limit=FOLD_MAX):
    """Fold the customer stage changes past the "lifecycle" watermark into LifecycleFlow."""
    return _fold_into("lifecycle", _changes, _aggregate, _add_flow, now, limit)


class _Raced(Exception):
    pass


def flows(team, grain, since, now=None):
    """{(period, from, to): [count, dwell seconds, dwell count]} for periods ≥ `since` (team None: every
    team), from the folded table plus the changes not folded yet. Also whether the tail was cut short."""
    q = LifecycleFlow.select(LifecycleFlow.period, LifecycleFlow.from_stage, LifecycleFlow.to_stage,
                             pw.fn.SUM(LifecycleFlow.count), pw.fn.SUM(LifecycleFlow.dwell_seconds),
                             pw.fn.SUM(LifecycleFlow.dwell_count)).where(
        (LifecycleFlow.grain == grain) & (LifecycleFlow.period >= since))
    if team is not None:
        q = q.where(LifecycleFlow.team == team)
    out = {}
    for period, src, dst, n, secs, dn in q.group_by(LifecycleFlow.period, LifecycleFlow.from_stage,
                                                     LifecycleFlow.to_stage).tuples():
        out[(period, src, dst)] = [n or 0, secs or 0, dn or 0]
    tail = _changes(_mark("lifecycle").last_id, TAIL_MAX + 1, team)
    behind = len(tail) > TAIL_MAX
    for (_g, period, _t, src, dst), vals in _aggregate(tail[:TAIL_MAX], grains=(grain,)).items():
        if period >= since:
            acc = out.setdefault((period, src, dst), [0, 0, 0])
            for i in range(3):
                acc[i] += vals[i]
    return out, behind


# ---- the customer tally --------------------------------------------------------------------------

_TALLY_SQL = (
    "SELECT COALESCE(team_id, 0), COALESCE(pool_id, 0), stage, "
    "CASE WHEN completeness >= 100 THEN 10 WHEN completeness < 0 THEN 0 ELSE completeness / 10 END, "
    "CASE WHEN owner_id IS NOT NULL AND released_at IS NOT NULL THEN 1 ELSE 0 END, COUNT(*), SUM(completeness) "  # listing.RECOVERED
    "FROM customer {where} GROUP BY 1, 2, 3, 4, 5")


def _count_customers(team=None):
    where = "WHERE team_id = %s".replace("%s", db.param) if team is not None else ""
    return db.execute_sql(_TALLY_SQL.format(where=where), [team] if team is not None else []).fetchall()


def take_tally(now=None, force=False):
    """Recount CustomerTally when the last count is older than TALLY_MINUTES (or `force`): the scan runs
    outside the write transaction, the swap inside one."""
    now = now or clock.now()
    mark = _mark("tally")
    if not force and mark.at is not None and mark.at > now - dt.timedelta(minutes=TALLY_MINUTES):
        return False
    rows = _count_customers()
    with db.atomic():
        CustomerTally.delete().execute()
        for i in range(0, len(rows), 500):
            CustomerTally.insert_many(
                [dict(team=t, pool=p, stage=s, band=b, recovered=bool(r), count=n, completeness_sum=cs or 0)
                 for t, p, s, b, r, n, cs in rows[i:i + 500]]).execute()
        if not DashboardMark.update(at=now).where(DashboardMark.name == "tally").execute():
            DashboardMark.create(name="tally", last_id=0, at=now)
    return True


def tally(team=None):
    """Customer counts as (team, pool, stage, band, recovered, count, completeness sum) rows and when they
    were counted (None: now). A team is counted live; everyone from the sweep's tally once there is one."""
    if team is None:
        mark = _mark("tally")
        if mark.at is not None:
            rows = CustomerTally.select(CustomerTally.team, CustomerTally.pool, CustomerTally.stage, CustomerTally.band,
                                        CustomerTally.recovered, CustomerTally.count,
                                        CustomerTally.completeness_sum).tuples()
            return list(rows), mark.at
    return _count_customers(team), None


def sweep(now=None):
    now = now or clock.now()
    folded = 0
    for step in (fold, fold_pools):
        try:
            folded += step(now)
        except _Raced:
            pass
    return {"folded": folded, "tallied": take_tally(now)}


hooks.on("sweep", sweep, name="dashboards")


# ---- who sees what ---------------------------------------------------------------------------------

def team_of(user, team=None):
    """The team a dashboard covers: an admin's choice (None = all), a manager's own (-1 without one)."""
    if can(user, "dashboard.all"):
        return team or None
    return user.team_id if can(user, "team.leads_one") else -1


# ---- the lifecycle funnel ------------------------------------------------------------------------

def funnel(user, team=None, now=None, counted=None):
    """Per lifecycle stage: customers in it now, and over the last FUNNEL_MONTHS months how many entered
    it, left it upwards or downwards, conversion = moved up / entered (capped at 100 %: moves up out of the
    window's early entries count too) and the average days spent in it by those that left.
    {"stages": [...], "since", "as_of", "behind", "team"}."""
    now = now or clock.now()
    team = team_of(user, team)
    since = _add_months(period_of("m", clock.to_local(now).date()), 1 - FUNNEL_MONTHS)
    rows, as_of = counted or tally(team)
    now_in = {s: 0 for s in STAGES}
    for _t, _p, stage, _b, _r, n, _cs in rows:
        if stage in now_in:
            now_in[stage] += n
    flow, behind = flows(team, "m", since)
    rank = {s: i for i, s in enumerate(STAGES)}
    stats = {s: {"entered": 0, "up": 0, "down": 0, "dwell": 0, "dwell_n": 0} for s in STAGES}
    for (_period, src, dst), (n, secs, dn) in flow.items():
        if dst in stats:
            stats[dst]["entered"] += n
        if src in stats and dst in rank:
            s = stats[src]
            s["up" if rank[dst] > rank[src] else "down"] += n
            s["dwell"] += secs
            s["dwell_n"] += dn
    out = []
    for stage in STAGES:
        s = stats[stage]
        out.append({"stage": stage, "now": now_in[stage], "entered": s["entered"], "up": s["up"], "down": s["down"],
                    "conversion": min(100, round(100 * s["up"] / s["entered"])) if s["entered"] else None,
                    "dwell_days": round(s["dwell"] / s["dwell_n"] / 86400, 1) if s["dwell_n"] else None})
    return {"stages": out, "since": since, "as_of": as_of, "behind": behind, "team": team}


def promotions(user, team=None, grain="w", n=12, now=None):
    """Promotions (a move up the ladder, not a file's first stage) per period and stage reached, and
    demotions per period: {"periods": [(start, end)], "series": {stage: [count]}, "down": [count]}."""
    now = now or clock.now()
    grain = "m" if grain == "m" else "w"
    team = team_of(user, team)
    starts = periods(grain, clock.to_local(now).date(), n)
    flow, behind = flows(team, grain, starts[0])
    index = {p: i for i, p in enumerate(starts)}
    rank = {s: i for i, s in enumerate(STAGES)}
    series = {s: [0] * n for s in STAGES[1:]}
    down = [0] * n
    for (period, src, dst), (count, _secs, _dn) in flow.items():
        i = index.get(period)
        if i is None or src not in rank or dst not in rank:
            continue
        if rank[dst] > rank[src]:
            series[dst][i] += count
        else:
            down[i] += count
    totals = [sum(series[s][i] for s in series) for i in range(n)]
    return {"grain": grain, "periods": [(p, period_end(grain, p)) for p in starts], "series": series,
            "down": down, "totals": totals, "behind": behind, "team": team}


MOVES = ("into", "promoted", "up_from", "down_from")


def _unindexed(field):
    """`field || ''`: the same text, compared without an index (SQLite and PostgreSQL alike), so the planner
    takes the team's customers first instead of a stage index over every team."""
    return field.concat("")


def moved_customers(user, stage, move, since, until, team=None, after=None, limit=50):
    """The stage changes behind a dashboard figure, newest first: `move` "into" = every change into `stage`
    (its entries), "promoted" = the moves up into it, "up_from" / "down_from" = the moves out of it upwards /
    downwards; in [since, until) (business dates), on the customers the user's dashboard covers. All teams walk
    the (to_stage, at) or (from_stage, at) index back from `until`; a team starts from its customers.
    Returns a keyset page (models/keyset.py) of StageChange rows with their customer, cursor = change id."""
    team = team_of(user, team)
    lo, hi = clock.local_day_start(since), clock.local_day_start(until)
    i = STAGES.index(stage)
    below, above = list(STAGES[:i]) or ["-"], list(STAGES[i + 1:]) or ["-"]
    to_stage, from_stage = StageChange.to_stage, StageChange.from_stage
    if team is not None:
        to_stage, from_stage = _unindexed(to_stage), _unindexed(from_stage)
    cond = {"into": to_stage == stage,
            "promoted": (to_stage == stage) & from_stage.in_(below),
            "up_from": (from_stage == stage) & to_stage.in_(above),  # a team's: not the (to_stage, at) index either
            "down_from": (from_stage == stage) & to_stage.in_(below)}[move]
    q = (StageChange.select(StageChange.id, StageChange.at, StageChange.from_stage, StageChange.to_stage,
                            Customer.id, Customer.name)
         .join(Customer, on=(Customer.id == StageChange.customer))
         .where((StageChange.at >= lo) & (StageChange.at < hi) & cond))
    if team is not None:
        q = q.where(StageChange.customer.in_(Customer.select(Customer.id).where(Customer.team == team)))
    return keyset_page(q, [StageChange.at, StageChange.id], after=after, limit=limit, descending=True,
                       cursor_by_id=True)


# ---- forecast by historical conversion --------------------------------------------------------------

def _win_chances(counts):
    """P(won) from each open stage given exit counts {from: {to: n}}: the absorption probabilities of a
    chain (won = 1, lost = 0; a move to a stage nobody left counts as 0), solved as (I - T) p = b by
    Gaussian elimination; a stage nobody left is absent from the answer."""
    known = [st for st in OPEN_STAGES if sum((counts.get(st) or {}).values())]
    index = {st: i for i, st in enumerate(known)}
    n = len(known)
    a = [[0.0] * (n + 1) for _ in range(n)]
    for i, st in enumerate(known):
        exits = counts[st]
        total = sum(exits.values())
        a[i][i] += 1.0
        for to, k in exits.items():
            if to == "won":
                a[i][n] += k / total
            elif to in index:
                a[i][index[to]] -= k / total
    for col in range(n):  # partial pivoting; I - T is diagonally dominant, so a pivot is never 0
        pivot = max(range(col, n), key=lambda r: abs(a[r][col]))
        a[col], a[pivot] = a[pivot], a[col]
        if abs(a[col][col]) < 1e-12:
            return {st: 0.0 for st in known}
        for r in range(n):
            if r != col and a[r][col]:
                f = a[r][col] / a[col][col]
                a[r] = [x - f * y for x, y in zip(a[r], a[col])]
    return {st: min(1.0, max(0.0, a[i][n] / a[i][i])) for i, st in enumerate(known)}


def conversion_tables():
    """Exit counts per stage for every rep, every team and the company, from StageFlow (all history)."""
    reps, teams, company = {}, {}, {}
    for owner, team, src, dst, n in db.execute(StageFlow.select(StageFlow.owner, StageFlow.team, StageFlow.from_stage,
                                                                StageFlow.to_stage, StageFlow.count)
                                               .where(StageFlow.from_stage != "")).fetchall():
        for table, key in ((reps, owner), (teams, team), (company, 0)):
            exits = table.setdefault(key, {}).setdefault(src, {})
            exits[dst] = exits.get(dst, 0) + n
    return reps, teams, company[0] if company else {}


_RECORDS = {}


def conversion_records():
    """`conversion_tables` as Records, kept per process while StageFlow stays the same: its row count, summed
    count and highest id move with every opportunity stage change and every rebuild (one indexed scan of a
    few thousand rows instead of reading and solving them again)."""
    key = (getattr(db.obj, "database", None),
           *db.execute(StageFlow.select(pw.fn.COUNT(StageFlow.id), pw.fn.SUM(StageFlow.count),
                                        pw.fn.MAX(StageFlow.id))).fetchone())
    if _RECORDS.get("key") != key:
        reps, teams, company = conversion_tables()
        _RECORDS.update(key=key, value=({k: Record(v) for k, v in reps.items()},
                                        {k: Record(v) for k, v in teams.items()}, Record(company)))
    return _RECORDS["value"]


def win_chance(stage, own, team, company):
    """The chance to win from `stage`: the rep's own record if it has MIN_EXITS exits from the stage, else
    the team's, else the company's, else the stage's default probability. Each record is exit counts
    {from: {to: n}}, or a `Record` (counts with their chances worked out once). Returns (chance, basis)."""
    for basis, record in (("rep", own), ("team", team), ("company", company)):
        record = record if isinstance(record, Record) else Record(record or {})
        if record.exits(stage) >= MIN_EXITS:
            return record.chances.get(stage, 0.0), basis
    return DEFAULT_PROBABILITY.get(stage, 0) / 100, "default"


class Record:
    """Exit counts per stage of a rep, a team or the company, and the win chances they give (once)."""

    def __init__(self, counts):
        self.counts = counts
        self._chances = None

    def exits(self, stage):
        return sum((self.counts.get(stage) or {}).values())

    @property
    def chances(self):
        if self._chances is None:
            self._chances = _win_chances(self.counts)
        return self._chances


def forecast(user, team=None, today=None):
    """Next month and next quarter: per rep, the open pipeline closing then, weighted by the probabilities
    on the deals (the board's figure) and by the rep's historical conversion from each deal's stage.
    The few thousand PipelineTotal rows are summed here per rep × team × stage, money in fen until the end."""
    periods_ = forecast_periods(today)
    start, end = periods_[0][1], max(periods_[0][2], periods_[1][2])
    team = team_of(user, team)
    cond = pipeline_where(user, PipelineTotal.owner, PipelineTotal.team)
    if cond is False:
        return {"periods": periods_, "reps": [], "total": _empty(periods_), "bases": {}}
    q = PipelineTotal.select(PipelineTotal.owner, PipelineTotal.team, PipelineTotal.stage, PipelineTotal.month,
                             PipelineTotal.count, PipelineTotal.amount_fen, PipelineTotal.weighted_fen).where(
        (PipelineTotal.month >= start) & (PipelineTotal.month < end) & PipelineTotal.stage.in_(OPEN_STAGES))
    if cond is not True:
        q = q.where(cond)
    if team is not None:
        q = q.where(PipelineTotal.team == team)
    bounds = [(key, lo.isoformat(), hi.isoformat()) for key, lo, hi in periods_]
    found = {}  # (owner, team, stage) -> [count, amount, weighted] per period, then the deals in either
    for owner, team_id, stage, month, count, amount, weighted in db.execute(q).fetchall():  # raw: a few thousand
        month = str(month)[:10]
        acc = found.setdefault((owner, team_id, stage), [0] * (3 * len(bounds) + 1))
        for i, (_key, lo, hi) in enumerate(bounds):
            if lo <= month < hi:
                acc[3 * i] += count or 0
                acc[3 * i + 1] += amount or 0
                acc[3 * i + 2] += weighted or 0
        acc[-1] += count or 0
    reps_c, teams_c, company_c = conversion_records()
    keys = [k for k, _lo, _hi in periods_]
    reps, bases = {}, {}
    for (owner, team_id, stage), figures in found.items():
        chance, basis = win_chance(stage, reps_c.get(owner), teams_c.get(team_id), company_c)
        row = reps.setdefault((owner, team_id), {k: [0, 0, 0, 0.0] for k in keys})
        for i, key in enumerate(keys):
            count, amount, weighted = (int(v or 0) for v in figures[3 * i:3 * i + 3])
            acc = row[key]
            acc[0] += count
            acc[1] += amount
            acc[2] += weighted
            acc[3] += amount * chance
        bases[basis] = bases.get(basis, 0) + int(figures[-1] or 0)
    names = {u.id: u.full_name for u in User.select(User.id, User.full_name)
             .where(User.id.in_([o for o, _t in reps if o]))} if reps else {}
    team_names = {t.id: t.name for t in Team.select(Team.id, Team.name)}
    rows = []
    for (owner, team_id), figures in reps.items():
        rows.append({"owner_id": owner or None, "name": names.get(owner, ""), "team_id": team_id or None,
                     "team": team_names.get(team_id, ""),
                     **{k: {"count": c, "amount": _yuan(a), "weighted": _yuan(w), "historical": _yuan(h)}
                        for k, (c, a, w, h) in figures.items()}})
    rows.sort(key=lambda r: (-(r["month"]["weighted"] + r["quarter"]["weighted"]), r["name"]))
    total = _empty(periods_)
    for r in rows:
        for key in keys:
            for k in ("count", "amount", "weighted", "historical"):
                total[key][k] += r[key][k]
    return {"periods": periods_, "reps": rows, "total": total, "bases": bases}


def _yuan(fen):
    return (Decimal(round(fen)) / 100).quantize(Decimal("0.01"))


def _as_date(value):
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def _empty(periods_):
    return {key: {"count": 0, "amount": Decimal("0.00"), "weighted": Decimal("0.00"), "historical": Decimal("0.00")}
            for key, _lo, _hi in periods_}


# ---- pool health -------------------------------------------------------------------------------------

def _pool_events(after, limit, team=None):
    """Claims and releases with id > `after`, oldest first: (id, kind, at, team of the rep concerned)."""
    kinds = ", ".join(f"'{k}'" for k in POOL_KINDS)
    p = db.param
    sql = ("SELECT pe.id, pe.kind, pe.at, u.team_id FROM pool_event pe LEFT JOIN \"user\" u ON u.id = "
           f"CASE WHEN pe.kind IN ('claim', 'assign') THEN pe.to_owner ELSE pe.from_owner END "
           f"WHERE pe.id > {p} AND pe.kind IN ({kinds})")
    params = [after]
    if team is not None:
        sql += f" AND u.team_id = {p}"
        params.append(team)
    return db.execute_sql(sql + f" ORDER BY pe.id LIMIT {p}", params + [limit]).fetchall()


def _aggregate_pool(rows):
    out = {}
    for _id, kind, at, team in rows:
        key = (period_of("w", clock.to_local(_as_datetime(at)).date()), team or 0, POOL_KINDS[kind])
        out[key] = out.get(key, 0) + 1
    return out


def _add_pool_flow(key, n):
    week, team, kind = key
    PoolFlow.insert(week=week, team=team, kind=kind, count=n).on_conflict(
        conflict_target=[PoolFlow.week, PoolFlow.team, PoolFlow.kind],
        update={PoolFlow.count: PoolFlow.count + n}).execute()


def fold_pools(now=None, limit=FOLD_MAX):
    """Fold the pool ledger's claims and releases past the "pools" watermark into PoolFlow."""
    return _fold_into("pools", _pool_events, _aggregate_pool, _add_pool_flow, now, limit)


def pool_flows(team, since):
    """{(week, "claims" / "releases"): count} from `since` on, folded plus not yet folded; and if cut short."""
    q = PoolFlow.select(PoolFlow.week, PoolFlow.kind, pw.fn.SUM(PoolFlow.count)).where(PoolFlow.week >= since)
    if team is not None:
        q = q.where(PoolFlow.team == team)
    out = {(_as_date(w), kind): n or 0 for w, kind, n in q.group_by(PoolFlow.week, PoolFlow.kind).tuples()}
    tail = _pool_events(_mark("pools").last_id, TAIL_MAX + 1, team)
    for (week, _team, kind), n in _aggregate_pool(tail[:TAIL_MAX]).items():
        if week >= since:
            out[(week, kind)] = out.get((week, kind), 0) + n
    return out, len(tail) > TAIL_MAX


def pool_health(user, team=None, weeks=POOL_WEEKS, now=None, counted=None):
    """Pool sizes, claims (and assignments) and releases per business week, and the customers recovered
    from a pool (owned again after a release) and how many of those are signed now. A team's claims are
    its members' and its releases from them; an admin without a team filter sees all."""
    now = now or clock.now()
    team = team_of(user, team)
    starts = periods("w", clock.to_local(now).date(), weeks)
    flows_, behind = pool_flows(team, starts[0])
    series = {kind: [flows_.get((week, kind), 0) for week in starts] for kind in ("claims", "releases")}
    rows, as_of = counted or tally(team)
    sizes, recovered, signed = {}, 0, 0
    for _t, pool, stage, _b, rec, n, _cs in rows:
        if pool:
            sizes[pool] = sizes.get(pool, 0) + n
        if rec:
            recovered += n
            signed += n if stage in SIGNED_STAGES else 0
    if team is not None:  # a team's pool customers have no team: the pools' sizes are everyone's
        everyone, _ = tally(None)
        sizes = {}
        for _t, pool, _s, _b, _r, n, _cs in everyone:
            if pool:
                sizes[pool] = sizes.get(pool, 0) + n
    pools = list(Pool.select().order_by(Pool.id))
    return {"weeks": starts, "series": series, "sizes": sizes, "pools": pools, "recovered": recovered,
            "recovered_signed": signed, "as_of": as_of, "team": team, "behind": behind,
            "claims": sum(series["claims"]), "releases": sum(series["releases"])}


# ---- completeness by team ----------------------------------------------------------------------------

def completeness(user, team=None, counted=None):
    """Per team (owned customers): how many, the average profile completeness, and how many are ≥ 80 %
    and < 50 % complete (bands of ten points)."""
    team = team_of(user, team)
    rows, as_of = counted or tally(team)
    teams = {}
    for team_id, _p, _s, band, _r, n, cs in rows:
        if not team_id:
            continue
        t = teams.setdefault(team_id, {"team_id": team_id, "count": 0, "sum": 0, "high": 0, "low": 0})
        t["count"] += n
        t["sum"] += cs or 0
        t["high"] += n if band >= 8 else 0
        t["low"] += n if band < 5 else 0
    names = {t.id: t.name for t in Team.select(Team.id, Team.name).where(Team.id.in_(list(teams)))} if teams else {}
    out = []
    for t in teams.values():
        t["name"] = names.get(t["team_id"], "")
        t["average"] = round(t["sum"] / t["count"]) if t["count"] else 0
        out.append(t)
    out.sort(key=lambda t: (t["average"], t["name"]))
    from models import completeness as by_model  # per rep and the trend (issue 17 item 7)

    reps, reps_as_of = by_model.by_rep(team)
    return {"teams": out, "as_of": as_of, "reps": reps, "reps_as_of": reps_as_of, "trend": by_model.trend(team)}


def overview(user, team=None, grain="w", now=None, today=None):
    """Every section of the dashboard page, counting the customers once."""
    now = now or clock.now()
    counted = tally(team_of(user, team))
    return {"funnel": funnel(user, team, now, counted), "promotions": promotions(user, team, grain, now=now),
            "forecast": forecast(user, team, today or clock.to_local(now).date()),
            "pools": pool_health(user, team, now=now, counted=counted),
            "completeness": completeness(user, team, counted), "team": team_of(user, team)}
