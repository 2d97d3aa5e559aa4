"""Fair drops (issue 20 item 1): a released customer in a pool with a drop time is not claimable the instant
it falls. It drops at the pool's time of day on the next working day (never before the frozen hours end);
until then a rep may queue for it (`queue_for`; the queue shows its count only). At the drop (`run_drop`,
reached from the sweep or from a claim at or after the drop time) a seeded lottery orders the entrants,
and the first whose claim the normal rules allow (`pools.check_claim`: capacity, daily limit, cooling-off,
an appeal's hold …) gets it through the normal claim verb; the others are skipped (told why) or told
their place. One `drop` ledger row keeps the seed, the entrants, their weights, the order and who was
skipped for which rule: `draw(seed, entrants, weights)` on those inputs gives the same order again.

Methods (a setting per pool, models/drop_settings.py): "lottery" gives every entrant the same chance;
"weighted" gives weight 1 / (1 + the entrant's claims this business week), so a rep who claimed less
this week has better odds. The weighted draw is Efraimidis–Spirakis: each entrant, in ascending user id,
takes u = random() from `random.Random(seed)`, key = u ** (1 / weight), the highest key first.
"""
import datetime as dt
import random
import secrets

import peewee as pw

from models import clock, drop_settings, hooks, ledger, pools
from models import rules as rules_mod
from models.base import BaseModel, bulk_insert, db, fresh, id_in, is_sqlite
from models.customers import Customer
from models.errors import N_, DomainError
from models.ledger import PoolEvent
from models.notifications import Notification
from models.permissions import can, require
from models.service import WorkingCalendar
from models.users import User

WAITING, WON, LOST, SKIPPED, VOID = "", "won", "lost", "skipped", "void"


class DropEntry(BaseModel):
    """A rep in the queue for one drop of a customer (the customer's `drop_at` names the drop). After the
    draw: `outcome` won / lost / skipped (with the refusing `rule`) / void (the customer left the pool
    before its drop), and `place` in the lottery's order."""
    customer = pw.ForeignKeyField(Customer, on_delete="CASCADE", index=False)
    drop_at = pw.DateTimeField()
    user = pw.ForeignKeyField(User, on_delete="CASCADE", index=False)
    created_at = pw.DateTimeField()
    outcome = pw.CharField(max_length=8, default=WAITING)
    place = pw.IntegerField(null=True)
    rule = pw.CharField(max_length=20, default="")

    class Meta:
        indexes = ((("customer", "drop_at", "user"), True), (("user", "outcome", "drop_at"), False))


class Calendar:
    """Working days for the drop time: service's WorkingCalendar (holidays included); Monday to Friday when
    the service settings have none."""

    def __init__(self):
        try:
            self._cal = WorkingCalendar()
        except DomainError:
            self._cal = None

    def is_workday(self, day):
        return self._cal.is_workday(day) if self._cal else day.weekday() < 5


def drop_time(rules, pool_id, released_at, calendar=None):
    """When a customer released into `pool_id` at `released_at` drops: the pool's time of day on the next
    working day after the release day, moved on by working days until the frozen hours have passed. None
    when the pool has no drop."""
    setting = drop_settings.for_pool(rules, pool_id)
    if setting is None:
        return None
    hour, minute = drop_settings.parse_time(setting["time"])
    calendar = calendar or Calendar()
    earliest = released_at + dt.timedelta(hours=rules["frozen_hours"])
    day = clock.to_local(released_at).date()
    for _ in range(800):
        day += dt.timedelta(days=1)
        if not calendar.is_workday(day):
            continue
        at = clock.from_local(dt.datetime.combine(day, dt.time(hour, minute)))
        if at >= earliest:
            return at
    return None


def draw(seed, entrants, weights=None):
    """The lottery's order of `entrants` (user ids) for `seed`: reproducible from a ledger row's inputs.
    `weights` {user id (int or text): weight > 0}; none: equal chances."""
    rng = random.Random(int(seed))
    weights = {int(k): float(v) for k, v in (weights or {}).items()}
    keyed = []
    for uid in sorted(int(u) for u in entrants):
        u = rng.random()
        keyed.append((-(u ** (1.0 / weights.get(uid, 1.0))), uid))
    return [uid for _key, uid in sorted(keyed)]


def week_start(now):
    local = clock.to_local(now).date()
    return clock.local_day_start(local - dt.timedelta(days=local.weekday()))


def weights_for(user_ids, now):
    """{user id: (claims this business week, weight = 1 / (1 + claims))}: one grouped query."""
    counts = dict(PoolEvent.select(PoolEvent.actor, pw.fn.COUNT(PoolEvent.id))
                  .where(id_in(PoolEvent.actor, user_ids) & (PoolEvent.kind == "claim")
                         & (PoolEvent.at >= week_start(now)))
                  .group_by(PoolEvent.actor).tuples())
    return {uid: (counts.get(uid, 0), round(1.0 / (1 + counts.get(uid, 0)), 6)) for uid in user_ids}


# ---- the queue --------------------------------------------------------------------------------

def queue_for(actor, customer, now=None):
    """Join the queue for a pool customer before its drop. Refused when the drop has come (claim it), when the
    rep is already queued, or when a rule will still refuse them at the drop (cooling-off, a stake)."""
    require(actor, "drop.queue", customer)
    now = now or clock.now()
    rules = rules_mod.in_force(now)
    with db.atomic():
        customer = fresh(customer)
        require(actor, "drop.queue", customer)
        if customer.drop_at is None or now >= customer.drop_at:
            raise DomainError(N_("This customer is not waiting for a drop: claim it instead."))
        if customer.staked_by_id and customer.staked_by_id != actor.id:
            raise pools.ClaimRefused("staked", N_("Another rep has staked this customer until %(until_text)s."),
                                     until=customer.stake_due, until_text=customer.stake_due)
        holds_at_drop(actor, customer, rules)
        this_drop = (DropEntry.customer == customer.id) & (DropEntry.drop_at == customer.drop_at)
        if DropEntry.select().where(this_drop & (DropEntry.user == actor.id)).exists():
            raise DomainError(N_("You are already in the queue for this customer."))
        cap = rules["drop_queue_max"]
        if cap:  # queues a rep waits in at once: nobody queues for the whole pool to win by numbers
            waiting = waiting_count(actor, now)
            if waiting >= cap:
                raise DomainError(N_("You are waiting in %(n)s queues, the most at once: leave one or wait for its "
                                     "drop."), n=waiting)
        DropEntry.create(customer=customer.id, drop_at=customer.drop_at, user=actor.id, created_at=now)
        queued = queue_count(customer)
        ledger.record("drop_queued", actor, customer, now, rules, from_pool=customer.pool_id,
                      inputs={"drop_at": customer.drop_at.isoformat(sep=" "), "queued": queued})
    return queued


def holds_at_drop(actor, customer, rules):
    """Raise ClaimRefused if a release hold will still refuse `actor` at the customer's drop (a cooling-off
    running past it): queueing would be a place they cannot win."""
    drop_at = customer.drop_at
    customer.drop_at = None  # the holds as they will be at the drop, the drop itself aside
    try:
        pools.check_release_holds(actor, customer, rules, drop_at)
    finally:
        customer.drop_at = drop_at


def leave_queue(actor, customer, now=None):
    """Leave the queue for a customer's coming drop (before the drop only: at the drop the lottery has the
    entrants). The entry goes, so the rep may queue again; a `drop_left` ledger row says so."""
    now = now or clock.now()
    rules = rules_mod.in_force(now)
    with db.atomic():
        customer = fresh(customer)
        require(actor, "drop.queue", customer)
        entry = None
        if customer.drop_at is not None:
            entry = DropEntry.get_or_none((DropEntry.customer == customer.id) & (DropEntry.drop_at == customer.drop_at)
                                          & (DropEntry.user == actor.id) & (DropEntry.outcome == WAITING))
        if entry is None:
            raise DomainError(N_("You are not in the queue for this customer."))
        if now >= customer.drop_at:
            raise DomainError(N_("The drop is being drawn: too late to leave its queue."))
        entry.delete_instance()
        queued = queue_count(customer)
        ledger.record("drop_left", actor, customer, now, rules, from_pool=customer.pool_id,
                      inputs={"drop_at": customer.drop_at.isoformat(sep=" "), "queued": queued})
    return queued


def waiting_count(user, now):
    """How many queues `user` waits in for drops still to come (the (user, outcome, drop_at) index)."""
    return DropEntry.select().where((DropEntry.user == user.id) & (DropEntry.outcome == WAITING)
                                    & (DropEntry.drop_at > now)).count()


def queue_state(user, customer):
    """(entrants waiting, whether `user` is one of them) for the customer's coming drop; (0, False) if none."""
    if customer.drop_at is None:
        return 0, False
    users = [u for (u,) in DropEntry.select(DropEntry.user).where(
        (DropEntry.customer == customer.id) & (DropEntry.drop_at == customer.drop_at)
        & (DropEntry.outcome == WAITING)).tuples()]
    return len(users), user.id in users


def queue_count(customer):
    return DropEntry.select().where((DropEntry.customer == customer.id) & (DropEntry.drop_at == customer.drop_at)
                                    & (DropEntry.outcome == WAITING)).count()


def annotate(user, rows):
    """For a pool page: each row's `drop_at` (the list reads few columns), `drop_queue` (how many wait) and
    `drop_queued` (the viewer is one of them); two queries for the page."""
    ids = [r.id for r in rows if r.owner_id is None]
    pending = dict(Customer.select(Customer.id, Customer.drop_at)
                   .where(id_in(Customer.id, ids) & Customer.drop_at.is_null(False)).tuples()) if ids else {}
    counts, mine = {}, set()
    if pending:
        entries = (DropEntry.select(DropEntry.customer, DropEntry.user, DropEntry.drop_at)
                   .where(id_in(DropEntry.customer, list(pending)) & (DropEntry.outcome == WAITING)).tuples())
        for cid, uid, at in entries:
            if at == pending[cid]:
                counts[cid] = counts.get(cid, 0) + 1
                if uid == user.id:
                    mine.add(cid)
    for r in rows:
        r.drop_at = pending.get(r.id)
        r.drop_queue, r.drop_queued = counts.get(r.id, 0), r.id in mine


def latest_entry(user, customer):
    """The user's entry in the customer's last drop since its last release (None if they were in none)."""
    q = DropEntry.select().where((DropEntry.customer == customer.id) & (DropEntry.user == user.id))
    if customer.released_at:
        q = q.where(DropEntry.drop_at > customer.released_at)
    return q.order_by(DropEntry.drop_at.desc()).first()


# ---- the draw ---------------------------------------------------------------------------------

def run_drop(customer_id, now=None, claimer=None):
    """Draw a customer's due drop in a transaction of its own (idempotent: a drop already drawn, or not due,
    or nobody queued, returns None). A rep claiming at or after the drop time (`claimer`) joins first."""
    now = now or clock.now()
    with db.atomic():
        return draw_drops([customer_id], now, claimer=claimer).get(customer_id)


def draw_drops(customer_ids, now, claimer=None, contexts=None, users=None):
    """Inside the caller's transaction: draw the due drops among `customer_ids`. Each customer's drop ends
    (`drop_at` cleared) whoever queued; for those with entrants the lottery orders them and the first the
    claim rules allow claims it through `pools.claim_customer`. The entries' outcomes, the `drop` ledger rows
    and the entrants' notifications are written in bulk. Returns {customer id: {"winner", "order",
    "skipped"}} for the customers that had entrants. `contexts` / `users`: the reps' claim contexts (kept
    current by each win) and rows, kept across chunks by the sweep. A context only spares the claim verb for
    entrants the rules refuse anyway (a full private pool, the daily limit): the verb checks the one it tries
    again on fresh rows, so a context a few seconds old cannot let a claim through."""
    rules = rules_mod.in_force(now)
    contexts = {} if contexts is None else contexts
    users = {} if users is None else users
    query = Customer.select().where(id_in(Customer.id, customer_ids) & (Customer.drop_at <= now))
    due = list(query if is_sqlite() else query.for_update())  # SQLite: BEGIN IMMEDIATE holds the lock already
    if not due:
        return {}
    drop_at_of = {c.id: c.drop_at for c in due}
    Customer.update(drop_at=None).where(id_in(Customer.id, list(drop_at_of)) & (Customer.drop_at <= now)).execute()
    for c in due:
        c.drop_at = None
        if claimer is not None and can(claimer, "drop.queue", c):  # a claim at the drop instant is an entry
            DropEntry.insert(customer=c.id, drop_at=drop_at_of[c.id], user=claimer.id, created_at=now) \
                .on_conflict_ignore().execute()
    entries = {}
    for e in DropEntry.select().where(id_in(DropEntry.customer, list(drop_at_of)) & (DropEntry.outcome == WAITING)):
        if e.drop_at == drop_at_of[e.customer_id]:
            entries.setdefault(e.customer_id, {})[e.user_id] = e
    missing = {uid for found in entries.values() for uid in found} - set(users)
    if missing:
        users.update({u.id: u for u in User.select().where(id_in(User.id, missing))})
    methods = {c.id: (drop_settings.for_pool(rules, c.pool_id) or {}).get("method", "lottery") for c in due}
    weighted = {uid for cid, found in entries.items() if methods[cid] == "weighted" for uid in found}
    weights = weights_for(sorted(weighted), now) if weighted else {}
    results, outcomes, events, notes = {}, [], [], []
    for customer in due:
        found = entries.get(customer.id)
        if not found:
            continue
        if customer.owner_id is not None or customer.pool_id is None:  # it left the pool another way
            outcomes.extend((VOID, None, "", e.id) for e in found.values())
            continue
        drop_at, pool_id, method = drop_at_of[customer.id], customer.pool_id, methods[customer.id]
        mine = {uid: weights[uid] for uid in found} if method == "weighted" else {}
        seed = secrets.randbits(63)
        order = draw(seed, list(found), {u: w for u, (_n, w) in mine.items()})
        winner, skipped = None, {}
        for uid in order:
            user = users.get(uid)
            try:
                if user is None or not user.active:
                    raise pools.ClaimRefused("inactive", N_("Your account is not active."))
                if uid not in contexts:
                    contexts[uid] = pools.claim_context(user, rules, now)
                pools.check_claim(user, customer, rules, now, contexts[uid])
                pools.claim_customer(user, customer.id, now)  # the normal claim verb checks again, on fresh rows
            except pools.ClaimRefused as exc:
                skipped[uid] = (exc.rule, exc.message, exc.params)
                continue
            winner = uid
            _count_claim(contexts[uid], customer, rules)
            break
        places = {uid: i + 1 for i, uid in enumerate(order)}
        outcomes.extend((WON if uid == winner else SKIPPED if uid in skipped else LOST, places[uid],
                         skipped[uid][0] if uid in skipped else "", found[uid].id) for uid in order)
        inputs = {"drop_at": drop_at.isoformat(sep=" "), "method": method, "seed": seed,
                  "entrants": sorted(found), "order": order, "winner": winner,
                  "skipped": {str(u): rule for u, (rule, _m, _p) in skipped.items()}}
        if mine:
            inputs["weights"] = {str(u): w for u, (_n, w) in mine.items()}
            inputs["claims_this_week"] = {str(u): n for u, (n, _w) in mine.items()}
        events.append({"at": now, "kind": "drop", "actor": None, "customer": customer.id, "subject": None,
                       "from_owner": None, "to_owner": winner, "from_pool": pool_id, "to_pool": None,
                       "rule_version": rules.version, "inputs": inputs, "reason": ""})
        notes.extend(_notes(customer, drop_at, order, places, winner, skipped, now))
        results[customer.id] = {"winner": winner, "order": order,
                                "skipped": {u: r for u, (r, _m, _p) in skipped.items()}}
    if outcomes:
        p = db.param  # the engine's placeholder
        db.cursor().executemany(f"UPDATE drop_entry SET outcome = {p}, place = {p}, rule = {p} WHERE id = {p}",
                                outcomes)
    bulk_insert(PoolEvent, events)
    bulk_insert(Notification, notes)  # keys name the drop, drawn once: no duplicate to skip
    return results


def _count_claim(context, customer, rules):
    """Keep a rep's claim context current after a drop gave them `customer`: one claim more today, and one
    customer more held where it counts toward capacity (as `pools.capacity` counts). The claim verb itself
    re-checks on fresh rows; the context only spares re-reading it for the rep's next drop."""
    context["claims_today"] += 1
    counts = (rules["dealt_count"] or customer.stage not in pools.DEALT_STAGES) and \
        customer.value_tier not in (rules["capacity_exempt_tiers"] or [])
    if counts:
        context["cap"] = {**context["cap"], "used": context["cap"]["used"] + 1}


def _notes(customer, drop_at, order, places, winner, skipped, now):
    """The entrants' notifications of one drawn drop (rows for a bulk insert, deduplicated by key): the
    winner, each skipped entrant with the rule that refused them, and the others with their place."""
    n, rows = len(order), []

    def note(uid, kind, message, key, **params):
        rows.append({"user": uid, "at": now, "kind": kind, "customer": customer.id, "read_at": None,
                     "message": message, "params": params, "dedupe_key": key})

    for uid in order:
        key = f"drop:{customer.id}:{drop_at.isoformat()}:{uid}"
        if uid == winner:
            note(uid, "drop_won", N_("You won the drop of %(name)s (place %(place)s of %(n)s in the lottery): "
                                     "it is in your private pool."), key, name=customer.name, place=places[uid], n=n)
        elif uid in skipped:
            _rule, message, params = skipped[uid]
            note(uid, "drop_skipped", N_("The drop of %(name)s: you drew place %(place)s of %(n)s but a claim rule "
                                         "refused you, so the next entrant was asked."), key,
                 name=customer.name, place=places[uid], n=n)
            note(uid, "drop_skipped", message, key + ":why", **pools.stored_params(params))
        else:
            note(uid, "drop_lost", N_("The drop of %(name)s went to another rep: you drew place %(place)s of %(n)s."),
                 key, name=customer.name, place=places[uid], n=n)
    return rows


def claim(actor, customer_id, now=None):
    """The pool's claim: before the drop it is refused (queue instead); at or after the drop time the drop is
    drawn first, with the claimer among its entrants; a rep who was in the drop and lost is told their place;
    otherwise the normal claim."""
    now = now or clock.now()
    customer = Customer.get_or_none(Customer.id == customer_id)
    if customer is not None and customer.drop_at is not None and customer.drop_at <= now:
        run_drop(customer.id, now, claimer=actor)
        customer = Customer.get_by_id(customer.id)
    if customer is not None and customer.owner_id is not None and customer.drop_at is None:
        entry = latest_entry(actor, customer)
        if entry is not None and entry.outcome == WON and customer.owner_id == actor.id:
            return customer
        if entry is not None and entry.outcome in (LOST, SKIPPED):
            n = DropEntry.select().where((DropEntry.customer == customer.id) & (DropEntry.drop_at == entry.drop_at)
                                         & DropEntry.place.is_null(False)).count()
            if entry.outcome == SKIPPED:
                raise pools.ClaimRefused(entry.rule, N_("You drew place %(place)s of %(n)s in the drop, but a claim "
                                                        "rule refused you, so the next entrant was asked."),
                                         place=entry.place, n=n)
            raise pools.ClaimRefused("drop_lost", N_("The lottery gave this customer to another rep: you drew place "
                                                     "%(place)s of %(n)s."), place=entry.place, n=n)
    return pools.claim_customer(actor, customer_id, now)


# ---- time rules -------------------------------------------------------------------------------

def sweep(now=None, batch=1000, chunk=100):
    """Draw every due drop. Drops nobody queued for end in one statement; the others are drawn in chunks of
    `chunk` customers, a transaction each. Idempotent: a drawn drop is gone from `Customer.drop_at`."""
    now = now or clock.now()
    queued = DropEntry.select(DropEntry.id).where((DropEntry.customer == Customer.id)
                                                  & (DropEntry.drop_at == Customer.drop_at)
                                                  & (DropEntry.outcome == WAITING))
    with db.atomic():
        empty = Customer.update(drop_at=None).where((Customer.drop_at <= now) & ~pw.fn.EXISTS(queued)).execute()
    drawn = won = 0
    contexts, users = {}, {}
    while True:
        ids = [c.id for c in Customer.select(Customer.id).where(Customer.drop_at <= now)
               .order_by(Customer.drop_at, Customer.id).limit(batch)]
        if not ids:
            break
        for start in range(0, len(ids), chunk):
            with db.atomic():  # a chunk of drops a transaction, their rows written in bulk
                results = draw_drops(ids[start:start + chunk], now, contexts=contexts, users=users)
            drawn += len(results)
            won += sum(r["winner"] is not None for r in results.values())
    return {"dropped": empty + drawn, "drawn": drawn, "won": won}


hooks.on("sweep", sweep, name="drops")


def _owner_changed(actor, customer_ids, from_owner_id, to_owner_id, reason):
    """A release into a pool with a drop time sets the customer's drop; a customer that gets an owner another
    way (an assignment, a transfer) leaves its waiting drop, whose entries are void."""
    if not customer_ids:
        return
    if to_owner_id is not None:
        known = hooks.known_rows(customer_ids)  # a claim passes its row: a claimable customer has no drop
        leaving = ([c for c in known if c.drop_at is not None] if known is not None else
                   list(Customer.select(Customer.id, Customer.drop_at)
                        .where(id_in(Customer.id, customer_ids) & Customer.drop_at.is_null(False))))
        for c in leaving:
            DropEntry.update(outcome=VOID).where((DropEntry.customer == c.id) & (DropEntry.drop_at == c.drop_at)
                                                 & (DropEntry.outcome == WAITING)).execute()
        if leaving:
            Customer.update(drop_at=None).where(id_in(Customer.id, [c.id for c in leaving])).execute()
        return
    rows = list(Customer.select(Customer.id, Customer.pool, Customer.released_at)
                .where(id_in(Customer.id, customer_ids) & Customer.owner.is_null() & Customer.pool.is_null(False)))
    if not rows:
        return
    rules = rules_mod.in_force(clock.now())
    if not rules["drops"]:
        return
    calendar, groups = Calendar(), {}
    for c in rows:
        at = drop_time(rules, c.pool_id, c.released_at or clock.now(), calendar)
        if at is not None:
            groups.setdefault(at, []).append(c.id)
    for at, ids in groups.items():
        Customer.update(drop_at=at).where(id_in(Customer.id, ids)).execute()


hooks.on("owner_changed", _owner_changed)
