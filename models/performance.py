"""Performance per rep, team and period (issue 16 item 4): stage promotions by lifecycle stage, demotions,
conversion and average dwell per stage, new customers, revenue, collections, valid follow-ups, plan adherence
(visit plan items carried out, and on time, of those decided in the period), pool claims and
what became of them, routed leads' response time. A read model over the counters the verbs keep
(`models/perf_tables.py`): a grouped query or two over `rep_period` (one row per rep, metric and period), whatever the size
of the customer, follow-up and stage-change tables.

Who sees what is asked of `permissions`: a team's manager ranks their team, an admin every rep; a rep gets
their own figures and the team's average only (`for_rep`)."""
from decimal import Decimal

import peewee as pw

from models.base import db
from models.customer_tables import STAGES
from models.perf_tables import CLAIM_OUTCOMES, RepPeriod
from models.permissions import can, require
from models.targets import sales_teams, team_reps
from models.user_tables import Team, User

# columns of the ranking a manager may sort by (all descending but dwell and response time)
SORTS = ("promoted", "demoted", "new_customer", "revenue", "collection", "followup_valid", "valid_rate", "plan_rate",
         "on_time_rate", "claim", "claim_signed", "lead_hours")
ASCENDING = ("demoted", "lead_hours")
PROMOTION_STAGES = STAGES[1:]  # a promotion goes into one of these
LEFT_STAGES = STAGES[:-1]  # conversion and dwell of the stages a customer can move up from


HEADLINE = ("promoted", "demoted", "new_customer", "revenue", "collection", "followup", "followup_valid", "claim",
            "lead_answer", "lead_late", "plan", "plan_done", "plan_on_time") + tuple(f"claim_{o}" for o in CLAIM_OUTCOMES)
STAGE_METRICS = (tuple(f"into:{s}" for s in PROMOTION_STAGES) + tuple(f"left:{s}" for s in STAGES)
                 + tuple(f"up:{s}" for s in LEFT_STAGES))


def _empty():
    return {"promoted": 0, "demoted": 0, "new_customer": 0, "revenue": Decimal(0), "collection": Decimal(0),
            "followup": 0, "followup_valid": 0, "plan": 0, "plan_done": 0, "plan_on_time": 0, "claim": 0, "lead_answer": 0, "lead_minutes": 0, "lead_late": 0,
            "into": {s: 0 for s in PROMOTION_STAGES}, "left": {s: 0 for s in STAGES}, "dwell": {s: 0 for s in STAGES},
            "up": {s: 0 for s in STAGES}, "claims": {o: 0 for o in CLAIM_OUTCOMES}}


def _add(f, metric, n, amount):
    if ":" in metric:
        head, stage = metric.split(":", 1)
        if head == "left":
            f["left"][stage] = f["left"].get(stage, 0) + n
            f["dwell"][stage] = f["dwell"].get(stage, 0) + amount
        elif head in ("into", "up"):
            f[head][stage] = f[head].get(stage, 0) + n
    elif metric in ("revenue", "collection"):
        f[metric] += Decimal(amount) / 100
    elif metric == "lead_answer":
        f["lead_answer"] += n
        f["lead_minutes"] += amount
    elif metric.startswith("claim_"):
        f["claims"][metric[6:]] = f["claims"].get(metric[6:], 0) + n
    elif metric in f:
        f[metric] += n


def _finish(f):
    """Rates from the sums: conversion and average dwell (days) per stage, valid share, lead hours."""
    f["conversion"] = {s: (100.0 * f["up"][s] / f["left"][s] if f["left"][s] else None) for s in STAGES}
    f["dwell_days"] = {s: (f["dwell"][s] / f["left"][s] / 86400 if f["left"][s] else None) for s in STAGES}
    f["valid_rate"] = 100.0 * f["followup_valid"] / f["followup"] if f["followup"] else None
    f["plan_rate"] = 100.0 * f["plan_done"] / f["plan"] if f["plan"] else None  # plan adherence
    f["on_time_rate"] = 100.0 * f["plan_on_time"] / f["plan"] if f["plan"] else None
    f["lead_hours"] = f["lead_minutes"] / f["lead_answer"] / 60 if f["lead_answer"] else None
    f["claim_signed"] = f["claims"]["signed"]
    return f


def _where(period, team_id, rep_ids, metrics):
    cond = (RepPeriod.metric.in_(metrics) & (RepPeriod.span == period.kind) & (RepPeriod.starts_on == period.start))
    if team_id is not None:
        cond &= RepPeriod.team_id == team_id
    if rep_ids is not None:
        cond &= RepPeriod.rep.in_(rep_ids)
    return cond


def figures(period, team_id=None, rep_ids=None):
    """{rep id: headline figures} of the period (`team_id`: work done in that team). The stage
    details (promotions into, conversion, dwell per stage) are left at zero here: `stage_figures` sums them
    for a whole group in one query, which is what the pages show."""
    q = (RepPeriod.select(RepPeriod.rep, RepPeriod.metric, pw.fn.SUM(RepPeriod.n), pw.fn.SUM(RepPeriod.amount))
         .where(_where(period, team_id, rep_ids, HEADLINE)).group_by(RepPeriod.rep, RepPeriod.metric))
    out = {}
    for rep, metric, n, amount in db.execute(q).fetchall():  # plain integers and text: no row objects
        f = out.get(rep)
        if f is None:
            f = out[rep] = _empty()
        _add(f, metric, n or 0, amount or 0)
    return {rep: _finish(f) for rep, f in out.items()}


def stage_figures(period, team_id=None, rep_ids=None, into=None):
    """The stage details of a group (one rep, a team, everyone) summed over the period, into `into` (a
    figures dict, e.g. the group's total) or a fresh one."""
    f = into if into is not None else _empty()
    rows = (RepPeriod.select(RepPeriod.metric, pw.fn.SUM(RepPeriod.n), pw.fn.SUM(RepPeriod.amount))
            .where(_where(period, team_id, rep_ids, STAGE_METRICS)).group_by(RepPeriod.metric).tuples())
    for metric, n, amount in rows:
        _add(f, metric, n or 0, amount or 0)
    return _finish(f)


def combine(many):
    """The sum of several reps' figures (a team's total), rates recomputed from the sums."""
    total = _empty()
    for f in many:
        for key, value in f.items():
            if isinstance(value, dict) and key in total and key not in ("conversion", "dwell_days"):
                for k, v in value.items():
                    total[key][k] = total[key].get(k, 0) + v
            elif key in total and not isinstance(value, dict):
                total[key] += value
    return _finish(total)


def average(total, n):
    """A team's figures per rep (for the rep's own page): counts and money divided, rates as the team's."""
    if not n:
        return total
    avg = dict(total)
    for key in ("promoted", "demoted", "new_customer", "revenue", "collection", "followup", "followup_valid", "plan",
                "plan_done", "plan_on_time", "claim", "claim_signed"):
        avg[key] = total[key] / n
    avg["into"] = {s: v / n for s, v in total["into"].items()}
    avg["claims"] = {o: v / n for o, v in total["claims"].items()}
    return avg


def _sort_key(sort):
    def key(row):
        value = row["f"].get(sort)
        missing = value is None
        value = value or 0
        return (missing, value if sort in ASCENDING else -value, row["rep"].full_name)
    return key


def ranking(actor, period, team_id=None, sort="promoted"):
    """The sortable ranking: a team's reps (its manager, an admin) or every rep (an admin, no team), with the
    team total. Reps who did nothing in the period are listed with zeros."""
    sort = sort if sort in SORTS else "promoted"
    if team_id is None:
        require(actor, "performance.all_teams")
        reps = list(User.select().where((User.active == True) & User.role.in_(("sales", "manager")))  # noqa: E712
                    .order_by(User.full_name))
        figs = figures(period)
    else:
        require(actor, "performance.team", team_id)
        reps = team_reps(team_id)
        figs = figures(period, team_id=team_id)
        known = {r.id for r in reps}
        gone = [i for i in figs if i not in known]  # left the team or deactivated: their work still counts
        if gone:
            reps += list(User.select().where(User.id.in_(gone)))
    rows = [{"rep": r, "f": figs.get(r.id) or _finish(_empty())} for r in reps]
    rows.sort(key=_sort_key(sort))
    total = stage_figures(period, team_id=team_id, into=combine([r["f"] for r in rows]))
    return {"rows": rows, "total": total, "sort": sort}


def for_rep(actor, rep, period):
    """A rep's own figures and their team's average per rep (the team's members are not named)."""
    require(actor, "performance.rep", rep)
    mine = stage_figures(period, rep_ids=[rep.id], into=figures(period, rep_ids=[rep.id]).get(rep.id) or _empty())
    team_avg = None
    if rep.team_id:
        team_total = stage_figures(period, team_id=rep.team_id,
                                   into=combine(figures(period, team_id=rep.team_id).values()))
        team_avg = average(team_total, max(len(team_reps(rep.team_id)), 1))
    return {"mine": mine, "team_avg": team_avg}


def teams_for(actor):
    """The teams whose ranking `actor` may read."""
    if can(actor, "performance.all_teams"):
        return sales_teams()
    if actor.team_id and can(actor, "performance.team", actor.team_id):
        return [Team.get_by_id(actor.team_id)]
    return []
