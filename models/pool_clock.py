"""Calendar-aware release clocks and order-driven release (issue 20 items 3 and 4).

`pools.release_plan` asks this module four things, and the sweep three:

- `due(rules, customer, start, days, inputs)`: when a clock of `days` started at `start` rings. With the
  rule `clock_days = "working"` the days are the service calendar's working days (models/service.py
  WorkingCalendar: its weekdays and holidays); with "calendar" every day counts. Org-wide freeze windows
  (`freeze_windows`, whole business days) and the customer's approved pause stop the clock: calendar days
  inside them do not count, and the clock rings that much later.
- `reorder_clock(...)`: a customer with an active reorder cycle (models/reorders.py) is judged by its
  orders: it goes back `reorder_release_percent` % of its usual interval after its last order, whatever
  its follow-ups and instead of the order protection; the owner is warned at `reorder_warn_percent` %.
- `hold(...)`: nothing is released inside a freeze window or a customer's pause; a release that falls in
  one waits for its end.
- `stuck_clock(...)`: an open opportunity stuck in one stage beyond `stage_timeout_release_days` stops
  follow-ups renewing the no-follow-up clock (see its docstring); the sweep's daily pass `note_stuck_deals`
  recomputes and tells the owner of the customers whose deal just got stuck.

Per-customer pauses (a customer asked for no contact until after a trade fair) are asked by the owner with
a reason and decided by the team's manager (the approvals inbox), at most `pause_max_days` long.

Speed: everything a plan needs is read once per Rules object (the working days of twelve years as a sorted
list, the freeze windows); the approved pauses and reorder cycles of a sweep chunk, a recompute batch or a
preview are read in one query each (`prefetch`), a single customer's alone.
"""
import bisect
import datetime as dt
import math

import peewee as pw

from models import audit, clock, hooks, ledger
from models import rules as rules_mod
from models.base import BaseModel, db
from models.customer_tables import Customer, FollowUp
from models.errors import N_, DomainError, FieldErrors, NotFound
from models.fields import clean_text, parse_date, take
from models.notifications import notify
from models.opportunities import OPEN_STAGES, Opportunity
from models.permissions import can, require, scope
from models.pool_clock_settings import windows
from models.reorders import ReorderCycle, UNIT_DAYS
from models.service_tables import WorkingCalendar
from models.user_tables import User

PAUSE_STATUSES = ("pending", "approved", "rejected")
DAY = dt.timedelta(days=1)


class CustomerPause(BaseModel):
    """A customer's release clocks stopped from `starts_on` to `ends_on` (business days, both included)."""
    customer = pw.ForeignKeyField(Customer, on_delete="CASCADE", index=False, backref="+")
    requester = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
    reason = pw.CharField(max_length=300)
    starts_on = pw.DateField()
    ends_on = pw.DateField()
    status = pw.CharField(max_length=10, default="pending")
    decided_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
    decided_at = pw.DateTimeField(null=True)
    decision_reason = pw.CharField(max_length=300, default="")
    created_at = pw.DateTimeField()

    class Meta:
        indexes = ((("customer", "status"), False), (("status", "id"), False))

    @property
    def days(self):
        return (self.ends_on - self.starts_on).days + 1


# ---- the clock of one Rules object ----------------------------------------------------------------

class _Clock:
    SPAN_YEARS = 6  # working days precomputed this far either side of today; beyond, day by day

    def __init__(self, rules):
        s = rules.s
        self.working = s.get("clock_days") == "working"
        self.freezes = [(clock.local_day_start(a), clock.local_day_start(b + DAY), name) for a, b, name in windows(s)]
        self.freeze_dates = [(a, b) for a, b, _ in windows(s)]
        self.reorder_any = rules.any_tier("reorder_release_percent")  # the general setting or a value tier's
        self.before = {}  # (customer id, moment) -> its owner's last valid follow-up at or before (stuck deals)
        self.stage_fus, self.stage_fus_all = {}, False  # … prefetched, per customer (`_load_stage_followups`)
        self.stuck_any = rules.any_tier("stage_timeout_release_days")
        self.cycles, self.known, self.all_known = {}, set(), False
        self.pauses, self.paused_known, self.all_paused = {}, set(), False
        self._calendar = None
        self._days = None  # (ordinals of counting days without freezes, with freezes skipped too)

    @property
    def calendar(self):
        if self._calendar is None:
            self._calendar = WorkingCalendar()
        return self._calendar

    def frozen(self, day):
        return any(a <= day <= b for a, b in self.freeze_dates)

    def days(self):
        """(ordinals of the working days, the same without freeze days) of twelve years around today; shared by
        the Rules objects of one calendar (every verb makes its own), so a verb does not build them again."""
        if self._days is None:
            today, cal = clock.today(), self.calendar
            key = (today, tuple(sorted(cal.workdays)), tuple(sorted(cal.holidays)), tuple(self.freeze_dates))
            self._days = _DAYS.get(key)
            if self._days is None:
                lo = today.replace(year=today.year - self.SPAN_YEARS, day=1)
                hi = today.replace(year=today.year + self.SPAN_YEARS, day=1)
                work = [d for d in range(lo.toordinal(), hi.toordinal()) if cal.is_workday(dt.date.fromordinal(d))]
                if len(_DAYS) > 16:
                    _DAYS.clear()
                self._days = _DAYS[key] = (work, [d for d in work if not self.frozen(dt.date.fromordinal(d))])
        return self._days

    def nth_day(self, day, n, skip_freezes, paused=()):
        """The n-th counting day after `day` (a date): working days if the rules say so, else every day;
        freeze days (if `skip_freezes`) and the dates of `paused` ((start, end) date pairs) do not count."""
        stops = _merged((self.freeze_dates if skip_freezes else []) + list(paused))
        if not self.working:  # every day counts: move past the stopped days, window by window
            target = day + dt.timedelta(days=n)
            for a, b in stops:
                if b <= day or a > target:
                    continue
                target += dt.timedelta(days=(b - max(a, day + DAY)).days + 1)
            return target
        if not paused:
            days = self.days()[1 if skip_freezes else 0]
            i = bisect.bisect_right(days, day.toordinal()) + n - 1
            if days and days[0] <= day.toordinal() and i < len(days):
                return dt.date.fromordinal(days[i])
        cal = self.calendar
        for _ in range(4000):
            day += DAY
            if cal.is_workday(day) and not any(a <= day <= b for a, b in stops):
                n -= 1
                if n <= 0:
                    return day
        raise DomainError(N_("The working calendar has no working day in the next two years."))

    def customer_pauses(self, customer_id):
        """The customer's approved pauses as (start date, end date, id), oldest first."""
        if not self.all_paused and customer_id not in self.paused_known:
            self._load_pauses([customer_id])
        return self.pauses.get(customer_id, ())

    def _load_pauses(self, ids=None):
        q = (CustomerPause.select(CustomerPause.customer, CustomerPause.starts_on, CustomerPause.ends_on, CustomerPause.id)
             .where(CustomerPause.status == "approved").order_by(CustomerPause.starts_on))
        if ids is not None:
            q = q.where(CustomerPause.customer.in_(list(ids)))
            self.paused_known.update(ids)
        else:
            self.all_paused = True
        for customer_id, a, b, pause_id in q.tuples():
            self.pauses.setdefault(customer_id, []).append((a, b, pause_id))

    def followup_before(self, customer, moment):
        """The owner's last valid follow-up of `customer` at or before `moment`: from the follow-ups since the deal's
        stage start read by `prefetch` (one query for a chunk or a preview), else one look-up on the (customer, at)
        index (a single customer, or one with no valid follow-up in the stage before it got stuck)."""
        times = self.stage_fus.get(customer.id)
        if times is not None:  # prefetched: the last before the stage start, then every one since, in order
            k = bisect.bisect_right(times, moment)
            return times[k - 1] if k else None
        key = (customer.id, moment)
        if key not in self.before:
            row = (FollowUp.select(FollowUp.at)
                   .where((FollowUp.customer == customer.id) & (FollowUp.at <= moment)
                          & (FollowUp.is_valid == True) & (FollowUp.author == customer.owner_id))  # noqa: E712
                   .order_by(FollowUp.at.desc()).first())
            self.before[key] = row.at if row else None
        return self.before[key]

    def _load_stage_followups(self, ids=None):
        """Of the customers (`ids`, else all) whose owner followed up validly after their deal's stage start (the only
        ones a stuck deal makes `followup_before` ask about): the owner's last valid follow-up before the stage start
        and every one since, two queries."""
        def owners(q):
            q = q.join(Customer, on=(Customer.id == FollowUp.customer)).where(
                Customer.deal_stage_since.is_null(False) & (Customer.last_valid_followup_at > Customer.deal_stage_since)
                & (FollowUp.author == Customer.owner) & (FollowUp.is_valid == True))  # noqa: E712
            return q.where(Customer.id.in_(list(ids))) if ids is not None else q
        earlier = owners(FollowUp.select(FollowUp.customer, pw.fn.MAX(FollowUp.at)).where(
            FollowUp.at < Customer.deal_stage_since)).group_by(FollowUp.customer)
        since = owners(FollowUp.select(FollowUp.customer, FollowUp.at).where(FollowUp.at >= Customer.deal_stage_since))
        for customer_id, at in earlier.tuples():
            self.stage_fus[customer_id] = [_as_datetime(at)]
        for customer_id, at in since.order_by(FollowUp.customer, FollowUp.at).tuples():
            self.stage_fus.setdefault(customer_id, []).append(at)
        if ids is None:
            self.stage_fus_all = True

    def customer_cycles(self, customer_id):
        if customer_id not in self.cycles and not self.all_known and customer_id not in self.known:
            self._load([customer_id])
        return self.cycles.get(customer_id, ())

    def _load(self, ids=None):
        q = ReorderCycle.select(ReorderCycle.customer, ReorderCycle.next_expected_on, ReorderCycle.every,
                                ReorderCycle.unit).where(ReorderCycle.active == True)  # noqa: E712
        if ids is not None:
            q = q.where(ReorderCycle.customer.in_(list(ids)))
            self.known.update(ids)
        else:
            self.all_known = True
        for c in q.tuples():
            self.cycles.setdefault(c[0], []).append((c[1], max(1, round(c[2] * UNIT_DAYS[c[3]]))))


def _as_datetime(value):
    """An aggregate's datetime as SQLite gives it (text) or PostgreSQL (a datetime)."""
    return dt.datetime.fromisoformat(value) if isinstance(value, str) else value


_DAYS = {}  # (today, workdays, holidays, freeze windows) -> _Clock.days(): pure values, no database rows


def _merged(stops):
    """(start, end) date pairs, sorted, with overlapping or touching ones joined."""
    out = []
    for a, b in sorted(stops):
        if out and a <= out[-1][1] + DAY:
            out[-1] = (out[-1][0], max(b, out[-1][1]))
        else:
            out.append((a, b))
    return out


def _clock(rules):
    ctx = rules.__dict__.get("_pool_clock")
    if ctx is None:
        ctx = rules.__dict__["_pool_clock"] = _Clock(rules)
    return ctx


def without_pauses(rules, customer_ids):
    """These customers have no pause at all (a caller that knows it): the plans made under `rules` read none."""
    _clock(rules).paused_known.update(customer_ids)


def prefetch(rules, customer_ids=None):
    """Read the approved pauses, the reorder cycles and the follow-ups a stuck deal asks about of these customers
    (every customer's when None), one query each, for the plans about to be made under `rules`; a customer not
    prefetched is read alone."""
    ctx = _clock(rules)
    if not ctx.all_paused:
        ctx._load_pauses(customer_ids)
    if ctx.reorder_any and not ctx.all_known:
        ctx._load(customer_ids)
    if ctx.stuck_any and not ctx.stage_fus_all:
        ctx._load_stage_followups(customer_ids)


# ---- what release_plan asks --------------------------------------------------------------------

def due(rules, customer, start, days, inputs):
    """When a clock of `days` days started at `start` (naive UTC) rings under the rules' day kind, freeze
    windows and the customer's approved pauses; what stopped it goes into `inputs` for the ledger."""
    ctx = _clock(rules)
    pauses = ctx.customer_pauses(customer.id)
    paused = [(a, b) for a, b, _ in pauses]
    if not ctx.working and not ctx.freezes and not paused:
        return start + dt.timedelta(days=days)
    local = clock.to_local(start).replace(tzinfo=None)
    first = local.date()
    plain = ctx.nth_day(first, days, False)
    target = ctx.nth_day(first, days, True, paused) if (ctx.freezes or paused) else plain
    if ctx.working:
        inputs["clock"] = "working"
    if target != plain:
        stopped = [(a, b) for a, b in _merged(ctx.freeze_dates + paused) if b > first and a <= target]
        inputs["stopped_days"] = sum((min(b, target) - max(a, first + DAY)).days + 1 for a, b in stopped)
        inputs["unstopped_at"] = clock.from_local(dt.datetime.combine(plain, local.time())).isoformat(sep=" ")
        names = [name for (a, b), (_s, _e, name) in zip(ctx.freeze_dates, ctx.freezes) if b > first and a <= target]
        if names:
            inputs["freezes"] = names[:3]
        pause_ids = [i for a, b, i in pauses if b > first and a <= target]
        if pause_ids:
            inputs["pause_ids"] = pause_ids[:3]
    return clock.from_local(dt.datetime.combine(target, local.time()))


def reorder_clock(customer, rules, at, rule, inputs):
    """A customer with an active reorder cycle goes back when its orders stop: `reorder_release_percent` %
    of the usual interval after the last order (the latest over its cycles), instead of its follow-up clocks
    and order protection. (release_at, rule) unchanged for other customers and exempt ones (at None)."""
    ctx = _clock(rules)
    if not ctx.reorder_any or at is None:
        return at, rule
    pct = rules.for_tier(customer, "reorder_release_percent")  # a value tier may set its own (0: off for it)
    cycles = ctx.customer_cycles(customer.id) if pct else None
    if not cycles:
        return at, rule
    last, interval = max((expected - dt.timedelta(days=i), i) for expected, i in cycles)
    # An order on the last day of the allowed span still counts: the release comes at that day's end.
    release = clock.local_day_start(last + dt.timedelta(days=math.ceil(interval * pct / 100) + 1))
    inputs.update(reorder_last_order=last.isoformat(), reorder_interval=interval, reorder_percent=pct,
                  followup_at=at.isoformat(sep=" "), followup_rule=rule)
    return release, "reorder"


def stuck_clock(customer, rules, start, last_valid, inputs):
    """Opportunity stage timeouts count against the customer's protection (rule `stage_timeout_release_days`,
    a value tier may set its own; 0: off). While an owned customer has an open opportunity that has stayed in
    one stage beyond that many days, follow-ups no longer renew its no-follow-up clock: the clock counts from the
    later of the claim (`start`) and the owner's last valid follow-up *before the opportunity became stuck*,
    stuck_since = the stage's start (`Customer.deal_stage_since`, the open opportunity longest in its stage,
    kept by models/opportunities.py) + that many calendar days; a follow-up at stuck_since itself still counts.
    A stage move or closing the opportunity moves `deal_stage_since` and gives the normal clock back.

    Returns the start of the no-follow-up clock when a later follow-up no longer counts, else None; `inputs`
    gets `stuck_opportunity_id`, `stuck_since` and `stuck_days` whenever a deal is stuck or will be, and
    `ignored_followup_at` when a follow-up was ignored. Cheap: the customer's own columns, and one indexed
    look-up only for a customer whose last valid follow-up came after its deal got stuck."""
    days = rules.for_tier(customer, "stage_timeout_release_days")
    since = getattr(customer, "deal_stage_since", None)
    if not days or since is None:
        return None
    stuck_since = since + dt.timedelta(days=days)
    inputs.update(stuck_opportunity_id=getattr(customer, "deal_stage_opportunity", None),
                  stuck_since=stuck_since.isoformat(sep=" "), stuck_days=days)
    if last_valid is None or last_valid <= stuck_since:
        return None
    before = _clock(rules).followup_before(customer, stuck_since)
    inputs["ignored_followup_at"] = last_valid.isoformat(sep=" ")
    return max(start, before) if before else start


def hold(customer, rules, now, at, inputs):
    """No release inside a freeze window or an approved pause: a release due then waits for its end."""
    if at is None:
        return at
    ctx = _clock(rules)
    stops = ctx.freezes + [(clock.local_day_start(a), clock.local_day_start(b + DAY), "")
                           for a, b, _ in ctx.customer_pauses(customer.id)]
    for start, end, _name in sorted(stops):
        if start <= max(at, now) < end:
            inputs.setdefault("unstopped_at", at.isoformat(sep=" "))
            inputs["held_until"] = end.isoformat(sep=" ")
            at = end
    return at


def held(inputs, end):
    """Whether a plan would have released the customer by `end` but for a freeze window or a pause."""
    unstopped = inputs.get("unstopped_at")
    return bool(unstopped) and dt.datetime.fromisoformat(unstopped) <= end


def reason_words(inputs):
    """The ledger reason's English tail for what the new clocks did ("" when nothing)."""
    words = []
    if inputs.get("clock") == "working":
        words.append("counted in working days")
    if inputs.get("stopped_days"):
        words.append("%s days stopped by %s" % (inputs["stopped_days"], ", ".join(inputs.get("freezes") or [])
                                                  or "a pause"))
    return "; " + "; ".join(words) if words else ""


# ---- the sweep's warning --------------------------------------------------------------------------

def warn_reorders(rules, now):
    """Tell the owner of every customer whose orders are `reorder_warn_percent` % of the usual interval
    late (once per last order); the release follows at `reorder_release_percent` %. Returns how many."""
    ctx = _clock(rules)
    warn_pct = rules.s.get("reorder_warn_percent") or 0
    if not ctx.reorder_any or not warn_pct:
        return 0
    today = clock.to_local(now).date()
    q = (ReorderCycle.select(ReorderCycle.customer, ReorderCycle.next_expected_on, ReorderCycle.every,
                             ReorderCycle.unit, Customer.name, Customer.owner, Customer.release_at,
                             Customer.release_rule)
         .join(Customer, on=(Customer.id == ReorderCycle.customer))
         .where((ReorderCycle.active == True) & Customer.owner.is_null(False)))  # noqa: E712
    if warn_pct >= 100:  # only a cycle already past its expected date can be that late
        q = q.where(ReorderCycle.next_expected_on <= today)
    latest = {}
    for customer_id, expected, every, unit, name, owner_id, release_at, release_rule in q.tuples():
        interval = max(1, round(every * UNIT_DAYS[unit]))
        last = expected - dt.timedelta(days=interval)
        if customer_id not in latest or latest[customer_id][0] < last:
            latest[customer_id] = (last, interval, name, owner_id, release_at, release_rule)
    warned = 0
    with db.atomic():
        for customer_id, (last, interval, name, owner_id, release_at, release_rule) in latest.items():
            if today <= last + dt.timedelta(days=math.ceil(interval * warn_pct / 100)):
                continue  # an order on the last day of the span is still on time
            if release_rule != "reorder" or not release_at or release_at <= now:
                continue
            if notify(owner_id, "reorder_release_warning",
                      N_("%(name)s has not ordered since %(last)s (usual interval %(interval)s days): it goes back "
                         "to the pool on %(when)s unless it orders."), customer_id,
                      dedupe_key=f"reorder-warn:{customer_id}:{last.isoformat()}", name=name,
                      last=last.isoformat(), interval=interval,
                      when=clock.to_local(release_at).strftime("%Y-%m-%d %H:%M")):
                warned += 1
    return warned


def warn_stuck_opportunities(rules, now):
    """Tell the owner of every open opportunity that has stayed `stage_timeout_days` in one stage (once per
    stage it entered); only those that crossed the line in the last two days, on the (is_open,
    stage_changed_at) index. Returns how many were told."""
    days = rules.s.get("stage_timeout_days") or 0
    if not days:
        return 0
    line = now - dt.timedelta(days=days)
    q = (Opportunity.select(Opportunity.id, Opportunity.name, Opportunity.owner, Opportunity.customer,
                            Opportunity.stage, Opportunity.stage_changed_at)
         .where((Opportunity.is_open == True) & (Opportunity.stage_changed_at <= line)  # noqa: E712
                & (Opportunity.stage_changed_at > line - dt.timedelta(days=2)) & Opportunity.owner.is_null(False)
                & Opportunity.stage.in_(OPEN_STAGES)))
    warned = 0
    with db.atomic():
        for o in q:
            if notify(o.owner_id, "stage_timeout",
                      N_("The opportunity %(name)s has been in the same stage for %(days)s days: move it on or "
                         "close it."), o.customer_id, dedupe_key=f"stage-timeout:{o.id}:{o.stage_changed_at.isoformat()}",
                      name=o.name, days=days):
                warned += 1
    return warned


def note_stuck_deals(rules, now):
    """The daily pass of `stage_timeout_release_days`: the owned customers whose deal got stuck in the last two
    days (on the partial index over `Customer.deal_stage_since`) have their release date recomputed (through the
    `customer_changed` hook: models/pools.py) and their owner is told once per stuck stage. Returns how many."""
    key = "stage_timeout_release_days"
    lines = {d for d in [rules.s.get(key)] + [(t or {}).get(key) for t in (rules.s.get("tiers") or {}).values()] if d}
    told = 0
    for days in sorted(lines):
        line = now - dt.timedelta(days=days)
        q = Customer.select().where(Customer.deal_stage_since.is_null(False) & (Customer.deal_stage_since <= line)
                                    & (Customer.deal_stage_since > line - 2 * DAY) & Customer.owner.is_null(False))
        with db.atomic():
            for c in q:
                if rules.for_tier(c, key) != days:
                    continue  # its value tier sets another timeout: that line's turn
                hooks.fire("customer_changed", c, now)  # the release date as the stuck deal makes it
                if c.release_at and notify(
                        c.owner_id, "stage_timeout_release",
                        N_("An opportunity of %(name)s has been in the same stage for %(days)s days: follow-ups no "
                           "longer keep the customer, it goes back to the pool on %(when)s unless the opportunity "
                           "moves on or closes."), c.id,
                        dedupe_key=f"stage-stuck:{c.id}:{c.deal_stage_opportunity}:{c.deal_stage_since.isoformat()}",
                        name=c.name, days=days, when=clock.to_local(c.release_at).strftime("%Y-%m-%d %H:%M")):
                    told += 1
    return told


# ---- pauses: asked by the owner, decided by the manager ------------------------------------------

def request_pause(actor, customer, data, now=None):
    """The owner asks to stop a customer's release clocks for a while, with a reason; the team's manager
    decides. At most `pause_max_days` long, not in the past, not overlapping another pause."""
    now = now or clock.now()
    rules = rules_mod.in_force(now)
    with db.atomic():
        customer = Customer.get_or_none(Customer.id == customer.id)
        if customer is None:
            raise NotFound()
        if not can(actor, "pause.request", customer):
            raise DomainError(N_("Only the owner of %(name)s may ask to pause its release clock."), name=customer.name)
        e = FieldErrors()
        today = clock.to_local(now).date()
        starts_on = take(e, "starts_on", parse_date, data.get("starts_on") or today.isoformat())
        ends_on = take(e, "ends_on", parse_date, data.get("ends_on") or "")
        reason = clean_text(data.get("reason"), 300)
        if not reason:
            e.add("reason", N_("Say why the customer asked for no contact."))
        if starts_on and starts_on < today:
            e.add("starts_on", N_("A pause cannot start in the past."))
        if starts_on and ends_on:
            longest = rules.s.get("pause_max_days") or rules_mod.DEFAULTS["pause_max_days"]
            if ends_on < starts_on:
                e.add("ends_on", N_("The pause ends before it starts."))
            elif (ends_on - starts_on).days + 1 > longest:
                e.add("ends_on", N_("A pause lasts at most %(n)s days; this one is %(days)s."), n=longest,
                      days=(ends_on - starts_on).days + 1)
            elif CustomerPause.select().where(
                    (CustomerPause.customer == customer.id) & CustomerPause.status.in_(("pending", "approved"))
                    & (CustomerPause.starts_on <= ends_on) & (CustomerPause.ends_on >= starts_on)).exists():
                e.add("starts_on", N_("Another pause of this customer, waiting or approved, covers these days."))
        e.raise_if_any()
        pause = CustomerPause.create(customer=customer.id, requester=actor.id, reason=reason, starts_on=starts_on,
                                     ends_on=ends_on, created_at=now)
        audit.record("pool.pause_requested", actor, customer, reason=reason, pause_id=pause.id,
                     starts_on=starts_on.isoformat(), ends_on=ends_on.isoformat())
    return pause


def decide_pause(actor, pause_id, approve, reason, now=None):
    """The team's manager (or an admin) approves or rejects a waiting pause, with a reason. An approval
    stops the customer's clocks for the pause's days: its release date moves now, and the ledger says so."""
    now = now or clock.now()
    rules = rules_mod.in_force(now)
    reason = clean_text(reason, 300)
    if not reason:
        raise DomainError(N_("Give a reason for the decision."))
    with db.atomic():
        pause = CustomerPause.get_or_none(CustomerPause.id == pause_id)
        if pause is None:
            raise NotFound()
        customer = Customer.get_by_id(pause.customer_id)
        require(actor, "pause.decide", customer)
        status = "approved" if approve else "rejected"
        if not (CustomerPause.update(status=status, decided_by=actor.id, decided_at=now, decision_reason=reason)
                .where((CustomerPause.id == pause.id) & (CustomerPause.status == "pending")).execute()):
            raise DomainError(N_("This request was already decided."))
        if approve and customer.owner_id is None:
            raise DomainError(N_("%(name)s is back in the pool: there is no clock to pause."), name=customer.name)
        if approve and customer.owner_id != pause.requester_id:
            raise DomainError(N_("%(name)s has changed hands since the request: its new owner asks again if needed."),
                              name=customer.name)
        if approve:
            before = customer.release_at
            hooks.fire("customer_changed", customer, now)  # models/pools.py recomputes the release date
            ledger.record("pause", actor, customer, now, rules, to_owner=customer.owner_id, reason=reason,
                          inputs={"pause_id": pause.id, "starts_on": pause.starts_on.isoformat(),
                                  "ends_on": pause.ends_on.isoformat(), "requested_reason": pause.reason,
                                  "release_before": before.isoformat(sep=" ") if before else None,
                                  "release_at": customer.release_at.isoformat(sep=" ") if customer.release_at else None})
        audit.record("pool.pause_approved" if approve else "pool.pause_rejected", actor, customer, reason=reason,
                     pause_id=pause.id, starts_on=pause.starts_on.isoformat(), ends_on=pause.ends_on.isoformat())
        notify(pause.requester_id, "pause_decided",
               N_("Your pause for %(name)s was approved: %(reason)s") if approve else
               N_("Your pause for %(name)s was rejected: %(reason)s"), customer.id, name=customer.name, reason=reason)
    return CustomerPause.get_by_id(pause.id)


def pending_pauses(user):
    """The waiting pauses `user` decides, oldest first."""
    return scope("pause", user, CustomerPause.select(CustomerPause, Customer.id, Customer.name, Customer.owner,
                                                     Customer.team).join(Customer)
                 .where(CustomerPause.status == "pending")).order_by(CustomerPause.id)


def pauses_for(customer_id, limit=5):
    """The customer's latest pauses, newest first (its pool card)."""
    return list(CustomerPause.select().where(CustomerPause.customer == customer_id)
                .order_by(CustomerPause.id.desc()).limit(limit))
