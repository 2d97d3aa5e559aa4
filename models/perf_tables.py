"""Performance counters kept by the verbs (issue 16 items 1 and 4): one row per rep × team × period × metric,
where a period is a business month, quarter and year (every count lands in all three, so a year's ranking
reads one row per rep and metric, not twelve), updated in the transaction of the verb that did the work, so targets' progress and the performance
ranking read a few hundred rows instead of scanning follow-ups, stage changes, orders and payments.

Metrics (`n` a count, `amount` money in fen or dwell in seconds):
  new_customer            a customer that comes to the rep from nobody, by someone's decision or their own work:
                          a file created with the rep as owner (by them or for them), a lead (marketing's, or an
                          import sent through the routing rules) routed to them while it had no owner, a pool
                          customer a manager assigns to them (`pools.assign_customer`) or an admin gives them
                          (`customers.set_owner` from no owner). Not counted: their own pool claims (`claim`,
                          with what became of them), transfers and conflict rulings (a colleague's customer
                          changing hands), imports into a pool (nobody's yet).
  followup, followup_valid  follow-ups the rep wrote (month of when it happened), and those valid by the rule
  claim                   pool claims (what became of each: ClaimOutcome)
  claim_<outcome>         claims of the month by what became of them now: open, signed, released, moved
                          (a claim moves from claim_open to its outcome in the month it was claimed)
  revenue                 orders signed (month of the order's date; cancelling a signed one takes it back)
  collection              payments received (month of the received date), credited to the order's rep
  promoted, demoted       lifecycle moves up / down the ladder
  into:<stage>            promotions into a stage
  left:<stage>            moves out of a stage, amount = seconds spent in it (dwell)
  up:<stage>              promotions out of a stage (conversion of the stage = up / left)
  lead_answer, lead_late  routed leads answered (amount = working minutes to the answer), and those late
  plan, plan_done, plan_on_time
                          visit plan items decided in the month of their day: carried out, closed with a reason
                          or not carried out by the sweep (`plan`); carried out (`plan_done`); carried out on the
                          day planned, without rolling over (`plan_on_time`). An item rolled over is counted once,
                          where its last continuation ends; an item closed because the customer went to another
                          owner (PLAN_OWNER_CHANGED) is not counted: the rep could no longer carry it out.
A stage move is credited to the customer's owner at the time (else to whoever moved it), in the owner's team;
the stage change row keeps that owner (`StageChange.owner_id`, migration 0036).

Bulk loads (the demo, the benchmark generator) call `rebuild()` afterwards, as the opportunity board's
summaries do. This module sits on the tables floor: the customer, pool and order verbs call it.
"""
import datetime as dt

import peewee as pw

from models import clock, hooks
from models import sql
from models.base import BaseModel, db
from models.appeal_tables import shares
from models.errors import N_
from models.customer_tables import STAGES, Customer
from models.user_tables import User, team_id_of

SIGNED_STAGES = ("signed", "long_term")
CLAIM_OUTCOMES = ("open", "signed", "released", "moved")


SPANS = ("month", "quarter", "year")
PLAN_OWNER_CHANGED = N_("The customer went to another owner.")  # the close reason of plan items not counted


class RepPeriod(BaseModel):
    rep = pw.ForeignKeyField(User, on_delete="CASCADE", index=False, backref="+")
    team_id = pw.IntegerField(default=0)  # the rep's team when the work was done; 0 = none
    span = pw.CharField(max_length=7)  # SPANS
    starts_on = pw.DateField()  # the period's first day (business time, Asia/Shanghai)
    metric = pw.CharField(max_length=30)
    n = pw.IntegerField(default=0)
    amount = pw.BigIntegerField(default=0)

    class Meta:
        table_name = "rep_period"
        # the unique key serves a team's reads; (metric, span, starts_on, …) covers the every-rep reads
        indexes = ((("team_id", "span", "starts_on", "rep", "metric"), True), (("rep", "span", "starts_on"), False),
                   (("metric", "span", "starts_on", "rep", "team_id", "n", "amount"), False))


class ClaimOutcome(BaseModel):
    """One pool claim and what became of it: still open with the claimer, signed (reached signed while
    theirs), released back to a pool, or moved to someone else."""
    customer = pw.ForeignKeyField(Customer, on_delete="CASCADE", index=False, backref="+")
    rep = pw.ForeignKeyField(User, on_delete="CASCADE", index=False, backref="+")
    team_id = pw.IntegerField(default=0)
    month = pw.DateField()
    claimed_at = pw.DateTimeField()
    outcome = pw.CharField(max_length=10, default="open")
    ended_at = pw.DateTimeField(null=True)

    class Meta:
        table_name = "claim_outcome"
        indexes = ((("customer", "outcome"), False),)


def month_of(value):
    """The business month (its first day) of a naive-UTC datetime or of a date."""
    if isinstance(value, dt.datetime):
        value = clock.to_local(value).date()
    return value.replace(day=1)


def fen(amount):
    return int(round((amount or 0) * 100))


def period_starts(value):
    """(span, first day) of the month, quarter and year a naive-UTC datetime or a date falls in."""
    month = month_of(value)
    return (("month", month), ("quarter", month.replace(month=(month.month - 1) // 3 * 3 + 1)),
            ("year", month.replace(month=1)))


def bump(rep_id, team_id, when, metric, n=1, amount=0):
    """Add to one counter of its month, quarter and year (upserts; SQLite ≥ 3.24 and PostgreSQL)."""
    bump_many(rep_id, team_id, when, [(metric, n, amount)])


def bump_many(rep_id, team_id, when, counts):
    """Add `counts` [(metric, n, amount)] (distinct metrics) to the rep's counters of the month, quarter and
    year of `when`: one statement, whatever the number of counters (the verbs that call it are hot)."""
    if not rep_id or not counts:
        return
    rows = [{"rep": rep_id, "team_id": team_id or 0, "span": span, "starts_on": start, "metric": metric, "n": n,
             "amount": amount} for span, start in period_starts(when) for metric, n, amount in counts]
    (RepPeriod.insert_many(rows)
     .on_conflict(conflict_target=[RepPeriod.team_id, RepPeriod.span, RepPeriod.starts_on, RepPeriod.rep,
                                   RepPeriod.metric],
                  update={RepPeriod.n: RepPeriod.n + pw.EXCLUDED.n,
                          RepPeriod.amount: RepPeriod.amount + pw.EXCLUDED.amount})
     .execute())


def team_of(user_id):
    return team_id_of(user_id) if user_id else None


def _credit(customer, actor):
    """Who a customer's lifecycle move counts for: its owner, else whoever moved it."""
    if customer.owner_id:
        return customer.owner_id, customer.team_id
    if actor is not None:
        return getattr(actor, "id", actor), getattr(actor, "team_id", None)
    return None, None


def stage_changed(customer, old, new, at, entered_at, actor):
    """Count a lifecycle move (call before `customer.stage_changed_at` is overwritten: `entered_at` is when
    the customer came into `old`)."""
    if old is None or old == new or old not in STAGES or new not in STAGES:
        return
    rep, team = _credit(customer, actor)
    dwell = max(0, int((at - entered_at).total_seconds())) if entered_at else 0
    left = (f"left:{old}", 1, dwell)
    if STAGES.index(new) > STAGES.index(old):
        bump_many(rep, team, at, [left, ("promoted", 1, 0), (f"into:{new}", 1, 0), (f"up:{old}", 1, 0)])
        if new in SIGNED_STAGES and old not in SIGNED_STAGES:
            _claims_end((ClaimOutcome.customer == customer.id), "signed", at)
    else:
        bump_many(rep, team, at, [left, ("demoted", 1, 0)])


def customer_created(customer):
    if customer.owner_id:
        bump(customer.owner_id, customer.team_id, customer.created_at, "new_customer")


def customer_given(rep_id, team_id, at):
    """A customer without an owner given to a rep: a routed lead, a pool assignment, an admin's choice."""
    bump(rep_id, team_id, at, "new_customer")


def followup_logged(author, valid, at):
    author_id = getattr(author, "id", author)
    team = getattr(author, "team_id", None) if not isinstance(author, int) else team_of(author)
    bump_many(author_id, team, at, [("followup", 1, 0)] + ([("followup_valid", 1, 0)] if valid else []))


def claimed(actor, customer_id, at):
    bump_many(actor.id, actor.team_id, at, [("claim", 1, 0), ("claim_open", 1, 0)])
    ClaimOutcome.create(customer=customer_id, rep=actor.id, team_id=actor.team_id or 0, month=month_of(at),
                        claimed_at=at)


def order_signed(order, customer, sign=1):
    """Revenue in the month of the order's date (a cancelled signed order takes it back from there)."""
    rep = order.rep_id or customer.owner_id
    team = customer.team_id if rep == customer.owner_id else team_of(rep)
    _bump_shared(customer.id, rep, team, order.ordered_on, "revenue", sign, sign * fen(order.total))


def payment_received(order, customer, received_on, amount):
    rep = order.rep_id or customer.owner_id
    team = customer.team_id if rep == customer.owner_id else team_of(rep)
    _bump_shared(customer.id, rep, team, received_on, "collection", 1, fen(amount))


def _bump_shared(customer_id, rep, team, when, metric, n, amount):
    """A customer's money credited by a conflict ruling's credit split (models/appeal_tables.py) while it is with
    one of the split's reps, else to `rep`: the amount shared (the rounding to the smaller share), the count to the
    larger share."""
    parts = shares(customer_id, rep, team)
    given = 0
    for i, (rep_id, team_id, fraction) in enumerate(parts):
        part = amount - given if i == len(parts) - 1 else int(round(amount * fraction))
        given += part
        bump(rep_id, team_id, when, metric, n if i == 0 else 0, part)


def move_new_customer_credit(customer, rep_id):
    """A credit split's larger share gets the customer's new-customer credit (a count, not divisible), in the
    month the file was created; returns whom it was taken from (None when it was theirs or nobody's)."""
    holder = getattr(customer, "created_by_id", None)
    credited = RepPeriod.select().where((RepPeriod.rep == holder) & (RepPeriod.metric == "new_customer")
                                        & (RepPeriod.span == "month") & (RepPeriod.starts_on == month_of(customer.created_at))
                                        & (RepPeriod.n > 0)).first() if holder else None
    if credited is None or holder == rep_id:
        return None
    bump(holder, credited.team_id, customer.created_at, "new_customer", -1)
    bump(rep_id, team_of(rep_id), customer.created_at, "new_customer", 1)
    return holder


def lead_answered(rep_id, team_id, at, minutes, late):
    bump_many(rep_id, team_id, at, [("lead_answer", 1, minutes)] + ([("lead_late", 1, 0)] if late else []))


def plan_decided(item, status, at=None):
    """A plan item reached its end (`status` done, closed or expired; `at` when it was carried out): counted in
    the month of its day for its rep, on time when carried out by its day without a roll-over."""
    counts = [("plan", 1, 0)]
    if status == "done":
        counts.append(("plan_done", 1, 0))
        if not item.rolls and at is not None and clock.to_local(at).date() <= item.day:
            counts.append(("plan_on_time", 1, 0))
    bump_many(item.rep_id, team_of(item.rep_id), item.day, counts)


def _owner_changed(actor, customer_ids, from_owner_id, to_owner_id, reason=""):
    """A claimed customer leaving its claimer: released to a pool, or moved on to someone else."""
    if not from_owner_id or not customer_ids:
        return
    now = clock.now()
    for start in range(0, len(customer_ids), 500):
        _claims_end(ClaimOutcome.customer.in_(customer_ids[start:start + 500]) & (ClaimOutcome.rep == from_owner_id),
                    "released" if to_owner_id is None else "moved", now)


def _claims_end(where, outcome, at):
    """Open claims that ended: their row, and the counters of the month they were claimed in."""
    rows = list(ClaimOutcome.select(ClaimOutcome.id, ClaimOutcome.rep, ClaimOutcome.team_id, ClaimOutcome.month)
                .where(where & (ClaimOutcome.outcome == "open")).tuples())
    if not rows:
        return
    ClaimOutcome.update(outcome=outcome, ended_at=at).where(ClaimOutcome.id.in_([r[0] for r in rows])).execute()
    for _id, rep, team, month in rows:
        bump(rep, team, month, "claim_open", -1)
        bump(rep, team, month, f"claim_{outcome}")


hooks.on("owner_changed", _owner_changed)


# ---- bulk loads ------------------------------------------------------------------------------------

OWNER_KINDS = ("claim", "assign", "lead_routed", "transfer", "conflict_ruled", "release", "forced_release")


def _owner_at_move():
    """SQL for whom stage change `s` counts for: the owner it kept (0: it had none, the mover), or for rows from
    before 0036, which keep none, the
    owner after the last ownership row of the ledger at or before the move (0 when it left the customer
    without one), else the owner before the first one after it (a routed lead neither from a pool, nor from
    someone, nor marked `new_owner` was its rep's already), else the owner now. A sent-back lead the rep
    owned leaves it without one. Admins' direct owner changes (`set_owner`) write no ledger row."""
    kinds = ", ".join(f"'{k}'" for k in OWNER_KINDS)
    ownership = (f"e.customer_id = s.customer_id AND (e.kind IN ({kinds}) "
                 "OR (e.kind = 'lead_sent_back' AND e.from_owner IS NOT NULL))")
    before = (f"(SELECT CASE WHEN e.kind = 'lead_sent_back' THEN 0 ELSE COALESCE(e.to_owner, 0) END FROM pool_event e "
              f"WHERE {ownership} AND e.at <= s.at ORDER BY e.at DESC, e.id DESC LIMIT 1)")
    after = ("(SELECT CASE WHEN e.from_owner IS NOT NULL THEN e.from_owner WHEN e.kind != 'lead_routed' "
             f"OR e.from_pool IS NOT NULL OR {sql.json_true('e.inputs', 'new_owner')} THEN 0 ELSE e.to_owner END "
             "FROM pool_event e "
             f"WHERE {ownership} AND e.at > s.at ORDER BY e.at, e.id LIMIT 1)")
    return (f"CASE WHEN s.owner_id IS NOT NULL THEN COALESCE(NULLIF(s.owner_id, 0), s.actor_id) "
            f"ELSE COALESCE(NULLIF(COALESCE({before}, {after}, c.owner_id), 0), s.actor_id) END")


def rebuild():
    """Recompute every counter from the rows (demo loader, benchmark generator). Approximations where the
    rows keep no history: a stage move before 0036 counts for the owner the ledger says it had then
    (`_owner_at_move`), in that owner's team as it is now; claims' outcomes are read from the customer as it
    is now; new customers from the creation and owner-change timeline rows, the assignments and the routed
    leads marked `new_owner` in the ledger (a file without its creation row: new for its creator if still
    theirs)."""
    month = sql.month_start(sql.business_time("{col}"))
    user = '"user"'  # a reserved word on PostgreSQL
    with db.atomic():
        RepPeriod.delete().execute()
        ClaimOutcome.delete().execute()
        db.execute_sql(
            "INSERT INTO claim_outcome (customer_id, rep_id, team_id, month, claimed_at, outcome, ended_at) "
            "SELECT e.customer_id, e.actor_id, COALESCE(u.team_id, 0), " + month.format(col="e.at") + ", e.at, "
            "CASE WHEN c.owner_id IS NULL THEN 'released' WHEN c.owner_id != e.actor_id THEN 'moved' "
            f"WHEN c.stage IN ('signed', 'long_term') THEN 'signed' ELSE 'open' END, NULL "
            f"FROM pool_event e JOIN {user} u ON u.id = e.actor_id JOIN customer c ON c.id = e.customer_id "
            "WHERE e.kind = 'claim'")
        ins = ("INSERT INTO rep_period (rep_id, team_id, span, starts_on, metric, n, amount) "
               "SELECT rep, team, 'month', m, metric, SUM(n), SUM(amount) FROM ({src}) AS src "
               "WHERE rep IS NOT NULL GROUP BY rep, team, m, metric")
        kept = "owner_id" if any(c.name == "owner_id" for c in db.get_columns("stage_change")) else "CAST(NULL AS INTEGER) AS owner_id"
        db.execute_sql("DROP TABLE IF EXISTS perf_moves")
        db.execute_sql(  # each move once, with whom it counts for (read four times below)
            "CREATE TEMP TABLE perf_moves AS SELECT r.rep, COALESCE(ru.team_id, 0) AS team, r.m, r.f, r.t, r.dwell "
            "FROM (SELECT " + _owner_at_move() + " AS rep, " + month.format(col="s.at") + " AS m, s.from_stage AS f, "
            "s.to_stage AS t, CAST(ROUND(" + sql.hours_between("s.at", "COALESCE(s.prev_at, c.created_at)") + " * 3600) "
            "AS INTEGER) AS dwell FROM (SELECT customer_id, actor_id, " + kept + ", from_stage, to_stage, at, LAG(at) OVER "
            "(PARTITION BY customer_id ORDER BY at, id) AS prev_at FROM stage_change) s "
            "JOIN customer c ON c.id = s.customer_id WHERE s.from_stage IS NOT NULL AND s.from_stage != s.to_stage) r "
            f"LEFT JOIN {user} ru ON ru.id = r.rep")
        order = {s: i for i, s in enumerate(STAGES)}
        rank = "CASE {col} " + " ".join(f"WHEN '{s}' THEN {i}" for s, i in order.items()) + " END"
        up = f"({rank.format(col='t')} > {rank.format(col='f')})"
        parts = [
            f"SELECT rep, team, m, 'left:' || f AS metric, 1 AS n, {sql.greatest('dwell', '0')} AS amount FROM perf_moves",
            f"SELECT rep, team, m, CASE WHEN {up} THEN 'promoted' ELSE 'demoted' END, 1, 0 FROM perf_moves",
            f"SELECT rep, team, m, 'into:' || t, 1, 0 FROM perf_moves WHERE {up}",
            f"SELECT rep, team, m, 'up:' || f, 1, 0 FROM perf_moves WHERE {up}",
            "SELECT a.rep, COALESCE(u.team_id, 0), " + month.format(col="a.at") + ", 'new_customer', 1, 0 FROM "
            f"(SELECT {sql.json_integer('data', 'owner_id')} AS rep, at FROM audit_event "
            f"WHERE kind = 'customer.created' UNION ALL SELECT {sql.json_integer('data', 'to_owner_id')}, at "
            f"FROM audit_event WHERE kind = 'customer.owner_changed' AND {sql.json_value('data', 'from_owner_id')} IS NULL "
            "UNION ALL SELECT to_owner, at FROM pool_event WHERE kind = 'assign' OR (kind = 'lead_routed' "
            f"AND {sql.json_true('inputs', 'new_owner')}) ) a JOIN {user} u ON u.id = a.rep",
            "SELECT c.owner_id, COALESCE(c.team_id, 0), " + month.format(col="c.created_at") + ", 'new_customer', 1, 0 "
            "FROM customer c WHERE c.owner_id IS NOT NULL AND c.created_by_id = c.owner_id AND NOT EXISTS (SELECT 1 "
            "FROM audit_event a WHERE a.customer_id = c.id AND a.kind = 'customer.created')",
            "SELECT f.author_id, COALESCE(u.team_id, 0), " + month.format(col="f.at") + ", 'followup', 1, 0 "
            f"FROM follow_up f JOIN {user} u ON u.id = f.author_id",
            "SELECT f.author_id, COALESCE(u.team_id, 0), " + month.format(col="f.at") + ", 'followup_valid', 1, 0 "
            f"FROM follow_up f JOIN {user} u ON u.id = f.author_id WHERE f.is_valid",
            "SELECT e.actor_id, COALESCE(u.team_id, 0), " + month.format(col="e.at") + ", 'claim', 1, 0 "
            f"FROM pool_event e JOIN {user} u ON u.id = e.actor_id WHERE e.kind = 'claim'",
        ]
        tables = set(db.get_tables())
        params = []
        if "lead_routing" in tables:
            answered = ("FROM lead_routing r WHERE r.responded_at IS NOT NULL AND r.response != 'rerouted' "
                        "AND r.minutes IS NOT NULL AND r.to_user_id IS NOT NULL")
            lead_month = month.format(col="r.responded_at")
            parts.append(f"SELECT r.to_user_id, COALESCE(r.team_id, 0), {lead_month}, 'lead_answer', 1, r.minutes {answered}")
            parts.append(f"SELECT r.to_user_id, COALESCE(r.team_id, 0), {lead_month}, 'lead_late', 1, 0 {answered} AND r.late")
        if "order" in tables:
            parts.append(
                f"SELECT COALESCE(o.rep_id, c.owner_id), COALESCE(u.team_id, 0), {sql.month_start('o.ordered_on')}, "
                "'revenue', 1, CAST(ROUND(o.total * 100) AS INTEGER) FROM \"order\" o JOIN customer c ON c.id = o.customer_id "
                f"LEFT JOIN {user} u ON u.id = COALESCE(o.rep_id, c.owner_id) WHERE o.status = 'signed'")
            parts.append(
                f"SELECT COALESCE(o.rep_id, c.owner_id), COALESCE(u.team_id, 0), {sql.month_start('p.received_on')}, "
                "'collection', 1, CAST(ROUND(p.amount * 100) AS INTEGER) FROM payment p JOIN \"order\" o ON o.id = p.order_id "
                f"JOIN customer c ON c.id = o.customer_id LEFT JOIN {user} u ON u.id = COALESCE(o.rep_id, c.owner_id)")
        if "plan_item" in tables:
            decided = (f"FROM plan_item p JOIN {user} u ON u.id = p.rep_id WHERE (p.status IN ('done', 'expired') "
                       "OR (p.status = 'closed' AND p.close_reason != ?))")
            plan_month = sql.month_start("p.day")
            parts.append(f"SELECT p.rep_id, COALESCE(u.team_id, 0), {plan_month}, 'plan', 1, 0 {decided}")
            parts.append(f"SELECT p.rep_id, COALESCE(u.team_id, 0), {plan_month}, 'plan_done', 1, 0 {decided} "
                         "AND p.status = 'done'")
            parts.append(f"SELECT p.rep_id, COALESCE(u.team_id, 0), {plan_month}, 'plan_on_time', 1, 0 {decided} "
                         f"AND p.status = 'done' AND p.rolls = 0 AND {sql.business_date('p.done_at')} <= p.day")
            params += [PLAN_OWNER_CHANGED] * 3
        parts.append("SELECT rep_id, team_id, month, 'claim_' || outcome, 1, 0 FROM claim_outcome")
        db.execute_sql(sql.placeholders(ins.format(src=" UNION ALL ".join(parts))), params)
        db.execute_sql("DROP TABLE perf_moves")
        roll_up()


def roll_up():
    """The quarters' and years' counters summed from the months' (after a bulk load of month rows)."""
    with db.atomic():
        RepPeriod.delete().where(RepPeriod.span != "month").execute()
        for span in ("quarter", "year"):
            start = sql.period_start(span, "starts_on")
            db.execute_sql(f"INSERT INTO rep_period (rep_id, team_id, span, starts_on, metric, n, amount) "
                           f"SELECT rep_id, team_id, '{span}', {start} AS s, metric, SUM(n), SUM(amount) FROM rep_period "
                           f"WHERE span = 'month' GROUP BY rep_id, team_id, s, metric")
