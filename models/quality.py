"""Data you can trust (issue 17 items 1–3): directed checks from rules the nightly sweep evaluates, random
samples per rep, complaints about false data, and the versioned rule that turns outcomes into a score and
a reward, a warning or a capacity penalty. Tables in models/quality_tables.py.

The directed rules are set-based SQL per customer-id range, written once for SQLite and PostgreSQL through
models/sql.py (placeholders, hours between timestamps, a timestamp minus days), one transaction per chunk;
a check is unique per rule, customer and month."""
import datetime as dt
import json
import random

import peewee as pw

from models import audit, clock, hooks, ledger, pools
from models import rules as pool_rules
from models.base import db, fresh
from models.sql import days_before, hours_between, placeholders
from models.customer_tables import STAGES, Customer
from models.errors import N_, DomainError, FieldErrors, ValidationError
from models.fields import clean_text, parse_int, take
from models.notifications import notify
from models.permissions import can, require
from models.quality_tables import (CHECK_FIELDS, GRADES, OUTCOMES, RULE_KEYS, QualityCheck, QualityConsequence,
                                   QualityRule, QualityRun, QualitySample)
from models.user_tables import User

SELLER_ROLES = ("sales", "manager")

DEFAULTS = {
    "rules": list(RULE_KEYS),          # the directed rules switched on
    "short_min_count": 3,              # at least this many follow-ups by the owner in the window …
    "short_margin": 5,                 # … all at most the valid minimum length + this many characters
    "short_days": 90,
    "shared_min_customers": 2,         # a phone on at least this many unrelated customers (other 集团)
    "burst_min": 5,                    # a rep with at least this many files …
    "burst_hours": 24,                 # … released within this many hours of their creation …
    "burst_days": 30,                  # … in this many days
    "contact_grace_days": 7,           # files at least this old whose contacts have no phone at all
    "promotion_days": 7,               # a promotion with no follow-up in this many days before it
    "lookback_days": 30,               # promotions this recent are looked at
    "max_per_rep": 5,                  # directed checks per rep and rule per month
    "window_days": 90,                 # outcomes this recent make the score
    "weight_false": 20,
    "weight_incomplete": 5,
    "weight_rejected": 10,             # a complaint of the rep's that was not upheld
    "completeness_weight": 30,         # % of the score from the rep's average completeness
    "reward_from": 90,
    "reward_min_checks": 3,
    "reward_capacity": 5,
    "reward_days": 30,
    "warning_below": 75,
    "penalty_below": 60,
    "penalty_capacity": 10,
    "penalty_days": 30,
}

# name -> (lo, hi, label) for the rule form
NUMBERS = {
    "short_min_count": (1, 100, N_("Short follow-ups: at least this many in the window")),
    "short_margin": (0, 200, N_("Short follow-ups: at most this many characters above the valid minimum")),
    "short_days": (1, 365, N_("Short follow-ups: window in days")),
    "shared_min_customers": (2, 1000, N_("Shared phone: on at least this many unrelated customers")),
    "burst_min": (1, 1000, N_("Created before release: at least this many files per rep")),
    "burst_hours": (1, 720, N_("Created before release: released within this many hours of creation")),
    "burst_days": (1, 365, N_("Created before release: releases of the last days")),
    "contact_grace_days": (0, 365, N_("Contacts without a phone: files older than this many days")),
    "promotion_days": (1, 365, N_("Promotion without a follow-up: days before the promotion")),
    "lookback_days": (1, 365, N_("Promotion without a follow-up: promotions of the last days")),
    "max_per_rep": (1, 1000, N_("Directed checks per rep, rule and month")),
    "window_days": (1, 730, N_("Score: outcomes of the last days")),
    "weight_false": (0, 100, N_("Score: points off per false finding")),
    "weight_incomplete": (0, 100, N_("Score: points off per incomplete finding")),
    "weight_rejected": (0, 100, N_("Score: points off per complaint not upheld")),
    "completeness_weight": (0, 100, N_("Score: share of average completeness, per cent")),
    "reward_from": (0, 100, N_("Reward from this score")),
    "reward_min_checks": (1, 1000, N_("Reward: at least this many checks worked")),
    "reward_capacity": (0, 500, N_("Reward: capacity bonus")),
    "reward_days": (1, 365, N_("Reward: days")),
    "warning_below": (0, 100, N_("Warning below this score")),
    "penalty_below": (0, 100, N_("Penalty below this score")),
    "penalty_capacity": (0, 500, N_("Penalty: capacity reduced by")),
    "penalty_days": (1, 365, N_("Penalty: days")),
}


class QualitySettings(pool_rules.VersionedSettings):
    DEFAULTS = DEFAULTS


def in_force(now=None):
    row = pool_rules.version_in_force(QualityRule, now or clock.now())
    return QualitySettings(row.settings, row.version, row.effective_from) if row else QualitySettings({}, 0)


def latest():
    row = QualityRule.select().order_by(QualityRule.version.desc()).first()
    return QualitySettings(row.settings, row.version, row.effective_from) if row else QualitySettings({}, 0)


def validate_settings(data):
    """Form data to a settings dict, or one ValidationError naming every bad field."""
    e, out = FieldErrors(), {}
    for name, (lo, hi, _label) in NUMBERS.items():
        raw = data.get(name)
        out[name] = take(e, name, parse_int, DEFAULTS[name] if raw is None else raw, lo, hi)
    getlist = getattr(data, "getlist", None)
    chosen = getlist("rules") if getlist else data.get("rules", DEFAULTS["rules"])
    if isinstance(chosen, str):
        chosen = chosen.split(",")
    out["rules"] = [k for k in RULE_KEYS if k in (chosen or ())]
    if None not in (out["penalty_below"], out["warning_below"]) and out["penalty_below"] > out["warning_below"]:
        e.add("penalty_below", N_("The penalty starts below the warning (%(n)s) or at it, not above."),
              n=out["warning_below"])
    if None not in (out["reward_from"], out["warning_below"]) and out["reward_from"] < out["warning_below"]:
        e.add("reward_from", N_("A reward cannot start below the warning threshold (%(n)s)."), n=out["warning_below"])
    e.raise_if_any()
    return out


def save_rule(actor, settings, effective_from, note=""):
    """A new version of the quality rule from `effective_from`; refused when it changes nothing."""
    require(actor, "quality.rules")
    note = clean_text(note, 200)
    if note is None:
        raise ValidationError({"note": [(N_("At most %(n)s characters."), {"n": 200})]})
    if json.dumps(settings, sort_keys=True) == json.dumps(latest().s, sort_keys=True):
        raise ValidationError({"rule": [(N_("Nothing changed: these are the settings of the newest version."), {})]})
    return pool_rules.store_version(QualityRule, actor, settings, effective_from, note, "quality.rule_saved")


# ---- the directed rules: set-based SQL per customer-id range ----------------------------------------------

def _ts(value):
    return value.isoformat(sep=" ")


def _short_followups(s, lo, hi, now):
    maxlen = pool_rules.in_force(now)["valid_min_length"] + s["short_margin"]
    rows = db.execute_sql(placeholders(
        "SELECT f.customer_id, c.owner_id, COUNT(*), MAX(LENGTH(f.content)) FROM follow_up f "
        "JOIN customer c ON c.id = f.customer_id "
        "WHERE f.customer_id >= ? AND f.customer_id < ? AND f.at >= ? AND c.owner_id IS NOT NULL "
        "AND f.author_id = c.owner_id GROUP BY f.customer_id, c.owner_id HAVING COUNT(*) >= ? AND MAX(LENGTH(f.content)) <= ?"),
        (lo, hi, _ts(now - dt.timedelta(days=s["short_days"])), s["short_min_count"], maxlen)).fetchall()
    return [(cid, owner, {"count": n, "longest": longest, "limit": maxlen}) for cid, owner, n, longest in rows]


def _shared_phone(s, lo, hi, now):
    rows = db.execute_sql(placeholders(
        "WITH p(cid, phone) AS ("
        " SELECT id, phone_norm FROM customer WHERE id >= ? AND id < ? AND owner_id IS NOT NULL AND phone_norm != ''"
        " UNION SELECT k.customer_id, k.phone_norm FROM contact k JOIN customer c ON c.id = k.customer_id"
        "  WHERE k.customer_id >= ? AND k.customer_id < ? AND c.owner_id IS NOT NULL AND k.phone_norm != ''"
        " UNION SELECT k.customer_id, k.mobile_norm FROM contact k JOIN customer c ON c.id = k.customer_id"
        "  WHERE k.customer_id >= ? AND k.customer_id < ? AND c.owner_id IS NOT NULL AND k.mobile_norm != ''),"
        " o(cid, phone, other) AS ("
        " SELECT p.cid, p.phone, c2.id FROM p JOIN customer c2 ON c2.phone_norm = p.phone AND c2.id != p.cid"
        " UNION SELECT p.cid, p.phone, k.customer_id FROM p JOIN contact k ON k.phone_norm = p.phone AND k.customer_id != p.cid"
        " UNION SELECT p.cid, p.phone, k.customer_id FROM p JOIN contact k ON k.mobile_norm = p.phone AND k.customer_id != p.cid)"
        " SELECT o.cid, c.owner_id, o.phone, COUNT(DISTINCT o.other), MIN(o.other) FROM o"
        " JOIN customer c ON c.id = o.cid JOIN customer c2 ON c2.id = o.other"
        " WHERE c.group_id IS NULL OR c2.group_id IS NULL OR c.group_id != c2.group_id"
        " GROUP BY o.cid, c.owner_id, o.phone HAVING COUNT(DISTINCT o.other) >= ?"),
        (lo, hi, lo, hi, lo, hi, s["shared_min_customers"] - 1)).fetchall()
    out = {}
    for cid, owner, phone, others, example in rows:
        out.setdefault(cid, (cid, owner, {"phone": phone, "others": others, "example": example}))
    return list(out.values())


def _burst_reps(s, now):
    """Reps with at least `burst_min` files released within `burst_hours` of being created (by them), in
    the last `burst_days`: one statement over the whole table, before the chunks."""
    rows = db.execute_sql(placeholders(
        "SELECT released_from, COUNT(*) FROM customer WHERE released_at >= ? AND released_from = created_by_id "
        f"AND {hours_between('released_at', 'created_at')} <= ? GROUP BY released_from HAVING COUNT(*) >= ?"),
        (_ts(now - dt.timedelta(days=s["burst_days"])), s["burst_hours"], s["burst_min"])).fetchall()
    return dict(rows)


def _created_before_release(s, lo, hi, now, reps):
    if not reps:
        return []
    marks = ", ".join("?" * len(reps))
    rows = db.execute_sql(placeholders(
        f"SELECT id, released_from, created_at, released_at FROM customer WHERE id >= ? AND id < ? "
        f"AND released_from IN ({marks}) AND released_at >= ? AND released_from = created_by_id "
        f"AND {hours_between('released_at', 'created_at')} <= ?"),
        (lo, hi, *reps, _ts(now - dt.timedelta(days=s["burst_days"])), s["burst_hours"])).fetchall()
    return [(cid, rep, {"files": reps[rep], "hours": s["burst_hours"], "created_at": str(created)[:16],
                        "released_at": str(released)[:16]}) for cid, rep, created, released in rows]


def _contact_no_phone(s, lo, hi, now):
    rows = db.execute_sql(placeholders(
        "SELECT c.id, c.owner_id, COUNT(*) FROM customer c JOIN contact k ON k.customer_id = c.id AND k.active = TRUE "
        "WHERE c.id >= ? AND c.id < ? AND c.owner_id IS NOT NULL AND c.created_at <= ? GROUP BY c.id, c.owner_id "
        "HAVING SUM(CASE WHEN k.phone != '' OR k.mobile != '' THEN 1 ELSE 0 END) = 0"),
        (lo, hi, _ts(now - dt.timedelta(days=s["contact_grace_days"])))).fetchall()
    return [(cid, owner, {"contacts": n}) for cid, owner, n in rows]


_RANK = "CASE {col} " + " ".join(f"WHEN '{st}' THEN {i}" for i, st in enumerate(STAGES)) + " ELSE -1 END"


def _promotion_no_followup(s, lo, hi, now):
    """The latest promotion per customer without a follow-up in the days before it (ROW_NUMBER, not SQLite's
    bare column beside MAX, so PostgreSQL reads it too)."""
    rows = db.execute_sql(placeholders(
        "SELECT customer_id, owner_id, from_stage, to_stage, at FROM ("
        "SELECT s.customer_id, c.owner_id, s.from_stage, s.to_stage, s.at, "
        "ROW_NUMBER() OVER (PARTITION BY s.customer_id ORDER BY s.at DESC, s.id DESC) AS rn FROM stage_change s "
        "JOIN customer c ON c.id = s.customer_id "
        f"WHERE s.customer_id >= ? AND s.customer_id < ? AND s.at >= ? AND c.owner_id IS NOT NULL "
        f"AND s.from_stage IN ('target', 'intent') AND ({_RANK.format(col='s.to_stage')}) > ({_RANK.format(col='s.from_stage')}) "
        "AND NOT EXISTS (SELECT 1 FROM follow_up f WHERE f.customer_id = s.customer_id "
        f"AND f.at >= {days_before('s.at')} AND f.at <= s.at)) latest WHERE rn = 1 ORDER BY customer_id"),
        (lo, hi, _ts(now - dt.timedelta(days=s["lookback_days"])), s["promotion_days"])).fetchall()
    return [(cid, owner, {"from": frm, "to": to, "at": str(at)[:16], "days": s["promotion_days"]})
            for cid, owner, frm, to, at in rows]


DETECTORS = {"short_followups": _short_followups, "shared_phone": _shared_phone,
             "contact_no_phone": _contact_no_phone, "promotion_no_followup": _promotion_no_followup}


def _month(now):
    return clock.to_local(now).strftime("%Y-%m")


def _month_counts(month_start):
    """(owner, rule) -> directed checks already made this month (the per-rep cap)."""
    return {(o, r): n for o, r, n in QualityCheck.select(QualityCheck.owner, QualityCheck.rule, pw.fn.COUNT(QualityCheck.id))
            .where((QualityCheck.source == "rule") & (QualityCheck.created_at >= month_start))
            .group_by(QualityCheck.owner, QualityCheck.rule).tuples()}


def evaluate_range(s, lo, hi, now, counts, burst):
    """Evaluate the switched-on rules on customers lo <= id < hi and write the new checks (one transaction);
    returns how many were created. Existing (rule, customer, month) checks are skipped: idempotent."""
    month = _month(now)
    found = []
    for key in s["rules"]:
        if key == "created_before_release":
            hits = _created_before_release(s, lo, hi, now, burst)
        else:
            hits = DETECTORS[key](s, lo, hi, now)
        found += [(key, cid, owner, facts) for cid, owner, facts in hits]
    if not found:
        return 0
    keys = {f"rule:{key}:{cid}:{month}" for key, cid, _o, _f in found}
    with db.atomic():
        taken = set()
        key_list = list(keys)
        for i in range(0, len(key_list), 500):
            taken |= {k for (k,) in QualityCheck.select(QualityCheck.dedupe_key)
                      .where(QualityCheck.dedupe_key.in_(key_list[i:i + 500])).tuples()}
        rows = []
        for key, cid, owner, facts in sorted(found, key=lambda f: (f[0], f[1])):
            dedupe = f"rule:{key}:{cid}:{month}"
            if dedupe in taken or counts.get((owner, key), 0) >= s["max_per_rep"]:
                continue
            taken.add(dedupe)
            counts[(owner, key)] = counts.get((owner, key), 0) + 1
            rows.append({"customer": cid, "owner": owner, "source": "rule", "rule": key, "findings": facts,
                         "status": "open", "created_at": now, "dedupe_key": dedupe})
        for i in range(0, len(rows), 500):
            QualityCheck.insert_many(rows[i:i + 500]).execute()
    return len(rows)


def evaluate_rules(now=None, chunk=50000, start_id=0, on_chunk=None, settings=None):
    """Every switched-on directed rule over every customer, chunk by chunk; returns checks created."""
    now = now or clock.now()
    s = settings or in_force(now)
    month_start = clock.local_day_start(clock.to_local(now).date().replace(day=1))
    counts = _month_counts(month_start)
    burst = _burst_reps(s, now) if "created_before_release" in s["rules"] else {}
    top = Customer.select(pw.fn.MAX(Customer.id)).scalar() or 0
    created, lo = 0, start_id
    while lo <= top:
        created += evaluate_range(s, lo, lo + chunk, now, counts, burst)
        lo += chunk
        if on_chunk:
            on_chunk(lo)
    return created


def sweep(now=None):
    """Once per business day: the directed rules (resumable), then the consequences for every rep with
    outcomes in the window. A second call the same day does nothing."""
    now = now or clock.now()
    day = clock.to_local(now).date()
    s = in_force(now)
    with db.atomic():  # two sweepers at once: one row, the second finds it
        QualityRun.insert(day=day, rule_version=s.version).on_conflict_ignore().execute()
        run = QualityRun.get(QualityRun.day == day)
    if run.done_at is not None:
        return {"checks": 0, "consequences": 0}

    def progress(next_id):
        QualityRun.update(next_id=next_id).where(QualityRun.id == run.id).execute()

    created = evaluate_rules(now, start_id=run.next_id, on_chunk=progress, settings=s)
    given = apply_all(now, s)
    QualityRun.update(done_at=now, created=QualityRun.created + created).where(QualityRun.id == run.id).execute()
    return {"checks": created, "consequences": given}


hooks.on("sweep", sweep, name="quality")


def run_rules_now(actor, now=None):
    """A quality user evaluates the directed rules at once (the nightly run's work, deduplicated)."""
    require(actor, "quality.work")
    now = now or clock.now()
    created = evaluate_rules(now)
    with db.atomic():
        audit.record("quality.rules_run", actor, created=created)
    return created


# ---- random samples -------------------------------------------------------------------------------------------

def _allocate(by_stage, n):
    """Split `n` picks over the stages in proportion to their files (largest remainder), never more than a
    stage has."""
    total = sum(len(v) for v in by_stage.values())
    if total <= n:
        return {st: len(v) for st, v in by_stage.items()}
    exact = {st: n * len(v) / total for st, v in by_stage.items()}
    out = {st: int(x) for st, x in exact.items()}
    for st in sorted(exact, key=lambda k: (-(exact[k] - out[k]), k))[:n - sum(out.values())]:
        out[st] += 1
    return out


def draw_sample(actor, month, per_rep, team_id=None, stages=None, seed=None, now=None):
    """N files per rep (sellers with customers; one team if given) for `month`, stratified by stage, drawn
    with a recorded seed so the same draw can be repeated. A file already in a check this month is kept
    out by the dedupe key. Refused when N exceeds every rep's book."""
    require(actor, "quality.work")
    now = now or clock.now()
    e = FieldErrors()
    month = (month or "").strip()
    try:
        dt.datetime.strptime(month, "%Y-%m")
    except ValueError:
        e.add("month", N_("A month as YYYY-MM."))
    n = take(e, "per_rep", parse_int, per_rep, 1, 100)
    stages = [st for st in (stages or []) if st in STAGES] or list(STAGES)
    team = take(e, "team_id", parse_int, team_id, 1) if str(team_id or "").strip() else None
    seed = take(e, "seed", parse_int, seed, 0, 2**53) if str(seed or "").strip() else random.SystemRandom().randrange(2**31)
    e.raise_if_any()
    reps = User.select(User.id).where(User.role.in_(SELLER_ROLES) & (User.active == True))  # noqa: E712
    if team:
        reps = reps.where(User.team == team)
    rng = random.Random(seed)
    books = {}
    for (rep,) in reps.order_by(User.id).tuples():
        by_stage = {}
        for cid, stage in (Customer.select(Customer.id, Customer.stage)
                           .where((Customer.owner == rep) & Customer.stage.in_(stages)).order_by(Customer.id).tuples()):
            by_stage.setdefault(stage, []).append(cid)
        if by_stage:
            books[rep] = by_stage
    population = sum(len(v) for b in books.values() for v in b.values())
    largest = max((sum(len(v) for v in b.values()) for b in books.values()), default=0)
    if n > largest:
        raise ValidationError({"per_rep": [(N_("The sample is larger than the population: the largest book in "
                                               "scope has %(n)s files (%(total)s in all)."), {"n": largest, "total": population})]})
    with db.atomic():
        sample = QualitySample.create(month=month, per_rep=n, seed=seed, team=team, stages=stages,
                                      population=population, created_by=actor, created_at=now)
        rows, short = [], {}
        for rep, by_stage in books.items():
            have = sum(len(v) for v in by_stage.values())
            if have < n:
                short[str(rep)] = have
            for stage, k in sorted(_allocate(by_stage, n).items()):
                for cid in rng.sample(by_stage[stage], k):
                    rows.append({"customer": cid, "owner": rep, "source": "sample", "sample": sample.id,
                                 "findings": {"stage": stage, "seed": seed}, "status": "open", "created_at": now,
                                 "dedupe_key": f"sample:{cid}:{month}"})
        keys = [r["dedupe_key"] for r in rows]
        taken = set()
        for i in range(0, len(keys), 500):
            taken |= {k for (k,) in QualityCheck.select(QualityCheck.dedupe_key)
                      .where(QualityCheck.dedupe_key.in_(keys[i:i + 500])).tuples()}
        rows = [r for r in rows if r["dedupe_key"] not in taken]
        for i in range(0, len(rows), 500):
            QualityCheck.insert_many(rows[i:i + 500]).execute()
        sample.picked, sample.short = len(rows), short
        sample.save()
        audit.record("quality.sample_drawn", actor, sample_id=sample.id, month=month, per_rep=n, seed=seed,
                     picked=len(rows))
    return sample


# ---- working a check, responding, complaining -------------------------------------------------------------------

class CheckClosed(DomainError):
    pass


def record_outcome(actor, check, outcome, fields, evidence, now=None):
    """The checker's verdict: true, incomplete or false, with the fields concerned (for incomplete and false)
    and the evidence (what was verified, how). The owner is told and may respond; a complaint's reporter
    is told whether it was upheld. The owner's (and a rejected reporter's) consequences follow at once."""
    require(actor, "quality.work")
    now = now or clock.now()
    e = FieldErrors()
    if outcome not in OUTCOMES:
        e.add("outcome", N_("Choose true, incomplete or false."))
    fields = [f for f in (fields or []) if f in CHECK_FIELDS]
    if outcome in ("incomplete", "false") and not fields:
        e.add("fields", N_("Say which fields are incomplete or false."))
    evidence = clean_text(evidence, 2000, multiline=True)
    if evidence is None:
        e.add("evidence", N_("At most %(n)s characters."), n=2000)
    elif not evidence:
        e.add("evidence", N_("Say what you verified and how (e.g. called the contact on …)."))
    e.raise_if_any()
    with db.atomic():
        fresh(check)
        if check.status != "open":
            raise CheckClosed(N_("This check was already worked (%(outcome)s)."), outcome=check.outcome)
        if check.owner_id == actor.id or check.reporter_id == actor.id:
            raise CheckClosed(N_("You cannot work a check on your own file or your own complaint."))
        check.status, check.outcome, check.outcome_fields = "done", outcome, ",".join(fields)
        check.outcome_evidence, check.checked_by, check.checked_at = evidence, actor.id, now
        check.save()
        audit.record("quality.checked", actor, check.customer_id, check_id=check.id, outcome=outcome,
                     fields=",".join(fields), source=check.source)
        if check.owner_id:
            notify(check.owner_id, "quality", N_("A quality check of %(customer)s found it %(outcome)s. You can respond."),
                   customer_id=check.customer_id, customer=_customer_name(check.customer_id), outcome=outcome,
                   check_id=check.id)
        if check.reporter_id:
            message = (N_("Your complaint about %(customer)s was upheld.") if outcome != "true"
                       else N_("Your complaint about %(customer)s was not upheld: the information was found true."))
            notify(check.reporter_id, "quality", message, customer_id=check.customer_id,
                   customer=_customer_name(check.customer_id), check_id=check.id)
        s = in_force(now)
        if check.owner_id:
            apply_consequences([check.owner_id], now, s)
        if check.reporter_id and outcome == "true":
            apply_consequences([check.reporter_id], now, s)
    return check


def _customer_name(customer_id):
    return Customer.select(Customer.name).where(Customer.id == customer_id).scalar() or ""


def respond_check(actor, check, text, now=None):
    """The owner answers a worked check once (what they corrected, or why they disagree)."""
    now = now or clock.now()
    with db.atomic():
        fresh(check)
        require(actor, "quality.view_check", check)
        if check.owner_id != actor.id:
            raise CheckClosed(N_("Only the file's owner answers a check."))
        if check.status != "done":
            raise CheckClosed(N_("The check has no outcome yet: answer once it is worked."))
        if check.responded_at:
            raise CheckClosed(N_("You already answered this check."))
        text = clean_text(text, 2000, multiline=True)
        if not text:
            raise ValidationError({"response": [(N_("Required.") if text == "" else N_("At most %(n)s characters."),
                                                 {} if text == "" else {"n": 2000})]})
        check.response, check.responded_at = text, now
        check.save()
        audit.record("quality.responded", actor, check.customer_id, check_id=check.id)
        if check.checked_by_id:
            notify(check.checked_by_id, "quality", N_("The owner of %(customer)s answered your check."),
                   customer_id=check.customer_id, customer=_customer_name(check.customer_id), check_id=check.id)
    return check


def accused_of(customer):
    """Who answers for a file's data: its owner, else the rep who released it to the pool, else its creator."""
    return customer.owner_id or customer.released_from or customer.created_by_id


def file_complaint(actor, customer, field, found, evidence, now=None):
    """A rep reports false or outdated information met on a file they may see (their team's, the pool's):
    which field, what they found, the evidence. It joins the quality queue; the accused never learns who
    filed it. Not on one's own file, not without evidence, once per field of a file."""
    require(actor, "quality.complain", customer)
    now = now or clock.now()
    e = FieldErrors()
    if field not in CHECK_FIELDS:
        e.add("field", N_("Choose the field the complaint is about."))
    found_text = clean_text(found, 1000, multiline=True)
    if not found_text:
        e.add("found", N_("Say what you found.") if found_text == "" else N_("At most %(n)s characters."), n=1000)
    evidence_text = clean_text(evidence, 2000, multiline=True)
    if evidence_text is None:
        e.add("evidence", N_("At most %(n)s characters."), n=2000)
    elif not evidence_text:
        e.add("evidence", N_("Give the evidence (who you called, what the registry or website says): a complaint "
                             "without evidence is not taken."))
    with db.atomic():
        fresh(customer)
        require(actor, "quality.complain", customer)
        accused = accused_of(customer)
        if accused == actor.id:
            e.add("field", N_("This is your own file: correct it yourself rather than complain about it."))
        if field in CHECK_FIELDS:
            earlier = (QualityCheck.select(QualityCheck.created_at)
                       .where((QualityCheck.reporter == actor.id) & (QualityCheck.customer == customer.id)
                              & (QualityCheck.field == field)).first())
            if earlier is not None:
                e.add("field", N_("You already reported this field of this file (%(when)s)."),
                      when=clock.to_local(earlier.created_at).strftime("%Y-%m-%d"))
        e.raise_if_any()
        check = QualityCheck.create(customer=customer.id, owner=accused, source="complaint", reporter=actor.id,
                                    field=field, found=found_text, evidence=evidence_text, status="open",
                                    created_at=now)
        # not on the customer's timeline: the owner reads that, and must not learn who complained
        audit.record("quality.complaint_filed", actor, check_id=check.id, customer_id=customer.id, field=field)
    return check


# ---- score and consequences ----------------------------------------------------------------------------------

def scores(user_ids, now, s):
    """{user id: {"score", "true", "incomplete", "false", "rejected", "completeness", "findings"}} over
    the rule's window, set-based: one query for outcomes, one for complaints not upheld, one for completeness."""
    if not user_ids:
        return {}
    ids = list(user_ids)
    since = now - dt.timedelta(days=s["window_days"])
    out = {u: {"true": 0, "incomplete": 0, "false": 0, "rejected": 0, "completeness": 0, "findings": []} for u in ids}
    done = (QualityCheck.select(QualityCheck.id, QualityCheck.owner, QualityCheck.outcome)
            .where(QualityCheck.owner.in_(ids) & (QualityCheck.status == "done") & (QualityCheck.checked_at > since))
            .order_by(QualityCheck.id).tuples())
    for cid, owner, outcome in done:
        out[owner][outcome] += 1
        if outcome != "true":
            out[owner]["findings"].append(cid)
    rejected = (QualityCheck.select(QualityCheck.id, QualityCheck.reporter)
                .where(QualityCheck.reporter.in_(ids) & (QualityCheck.source == "complaint") & (QualityCheck.status == "done")
                       & (QualityCheck.outcome == "true") & (QualityCheck.checked_at > since)).order_by(QualityCheck.id).tuples())
    for cid, reporter in rejected:
        out[reporter]["rejected"] += 1
        out[reporter]["findings"].append(cid)
    for owner, avg in (Customer.select(Customer.owner, pw.fn.AVG(Customer.completeness))
                       .where(Customer.owner.in_(ids)).group_by(Customer.owner).tuples()):
        out[owner]["completeness"] = int(round(avg or 0))
    for row in out.values():
        checks = max(0, 100 - s["weight_false"] * row["false"] - s["weight_incomplete"] * row["incomplete"]
                     - s["weight_rejected"] * row["rejected"])
        cw = s["completeness_weight"]
        row["checks_score"] = checks
        row["score"] = int(round((checks * (100 - cw) + row["completeness"] * cw) / 100))
        row["worked"] = row["true"] + row["incomplete"] + row["false"]
    return out


def grade_of(row, s):
    """reward / warning / penalty / None: a penalty or warning needs at least one finding behind it, a reward
    enough checks worked and none found wanting."""
    if row["findings"] and row["score"] < s["penalty_below"]:
        return "penalty"
    if row["findings"] and row["score"] < s["warning_below"]:
        return "warning"
    if not row["findings"] and row["worked"] >= s["reward_min_checks"] and row["score"] >= s["reward_from"]:
        return "reward"
    return None


def penalty_delta(total, asked):
    """(delta applied, note, params): a penalty never takes capacity below zero; it says so when cut."""
    if asked <= 0:
        return 0, "", {}
    if total <= 0:
        return 0, N_("Capacity is already zero: the penalty of %(asked)s could not reduce it further."), {"asked": asked}
    if total - asked < 0:
        return -total, N_("The penalty of %(asked)s would take capacity below zero (it is %(total)s): it was cut to "
                          "%(applied)s."), {"asked": asked, "total": total, "applied": total}
    return -asked, "", {}


def _running(user_ids, now):
    return {(u, g) for u, g in QualityConsequence.select(QualityConsequence.user, QualityConsequence.grade)
            .where(QualityConsequence.user.in_(list(user_ids)) & (QualityConsequence.ends_at > now)).tuples()}


def apply_consequences(user_ids, now, s):
    """Give each rep the consequence their score calls for, unless one of that grade is still running:
    idempotent. Writes the consequence, the capacity change through the capacity ledger, a `quality` ledger
    row and a notification; returns how many were given."""
    reps = {u.id: u for u in User.select().where(User.id.in_(list(user_ids)) & User.role.in_(SELLER_ROLES)
                                                 & (User.active == True))}  # noqa: E712
    if not reps:
        return 0
    rows, running, given = scores(reps, now, s), _running(reps, now), 0
    prules = pool_rules.in_force(now)
    for uid, row in rows.items():
        grade = grade_of(row, s)
        if grade is None or (uid, grade) in running:
            continue
        rep, delta, note, params = reps[uid], 0, "", {}
        days = s["reward_days"] if grade == "reward" else s["penalty_days"]
        threshold = {"reward": s["reward_from"], "warning": s["warning_below"], "penalty": s["penalty_below"]}[grade]
        if grade == "penalty":
            delta, note, params = penalty_delta(pools.capacity(rep, now, prules)["total"], s["penalty_capacity"])
        elif grade == "reward":
            delta = s["reward_capacity"]
        findings = row["findings"][:50]
        inputs = {k: row[k] for k in ("score", "true", "incomplete", "false", "rejected", "completeness", "checks_score")}
        inputs["threshold"] = threshold
        with db.atomic():
            consequence = QualityConsequence.create(
                user=uid, grade=grade, rule_version=s.version, score=row["score"], findings=findings, inputs=inputs,
                capacity_delta=delta, note=note, note_params=params, starts_at=now, ends_at=now + dt.timedelta(days=days),
                created_at=now)
            if delta:
                reason = f"Q v{s.version} {grade}: {row['score']} ({' '.join('#%d' % f for f in findings[:8])})".strip()
                pools.apply_adjustment(None, rep, delta, days, reason[:200], now, prules,
                                       {"quality_consequence": consequence.id})
            ledger.record("quality", None, None, now, s, subject=uid, reason=grade,
                          inputs={**inputs, "grade": grade, "findings": findings, "delta": delta, "days": days,
                                  "consequence": consequence.id})
            message = {"reward": N_("Quality reward under rule v%(v)s: score %(score)s. Capacity +%(delta)s for %(days)s "
                                    "days and priority for routed leads."),
                       "warning": N_("Quality warning under rule v%(v)s: score %(score)s is below %(threshold)s. See the "
                                     "findings on your quality page."),
                       "penalty": N_("Quality penalty under rule v%(v)s: score %(score)s is below %(threshold)s. Capacity "
                                     "%(delta)s for %(days)s days.")}[grade]
            notify(uid, "quality", message, v=s.version, score=row["score"], threshold=threshold, delta=delta, days=days)
        given += 1
    return given


def apply_all(now, s, chunk=500):
    """The consequences for every rep with an outcome or a rejected complaint in the window."""
    since = now - dt.timedelta(days=s["window_days"])
    owners = QualityCheck.select(QualityCheck.owner).where((QualityCheck.status == "done") & (QualityCheck.checked_at > since)
                                                           & QualityCheck.owner.is_null(False))
    reporters = QualityCheck.select(QualityCheck.reporter).where(
        (QualityCheck.status == "done") & (QualityCheck.checked_at > since) & QualityCheck.reporter.is_null(False))
    ids = sorted({u for (u,) in owners.distinct().tuples()} | {u for (u,) in reporters.distinct().tuples()})
    given = 0
    for i in range(0, len(ids), chunk):
        given += apply_consequences(ids[i:i + chunk], now, s)
    return given


def preview(settings, now=None, limit=200):
    """What a candidate rule would give each rep with outcomes now, against the rule in force; writes nothing."""
    now = now or clock.now()
    candidate, current = QualitySettings(settings), in_force(now)
    since = now - dt.timedelta(days=max(candidate["window_days"], current["window_days"]))
    ids = sorted({u for (u,) in QualityCheck.select(QualityCheck.owner).where(
        (QualityCheck.status == "done") & (QualityCheck.checked_at > since) & QualityCheck.owner.is_null(False)).distinct().tuples()}
        | {u for (u,) in QualityCheck.select(QualityCheck.reporter).where(
            (QualityCheck.status == "done") & (QualityCheck.checked_at > since) & QualityCheck.reporter.is_null(False)).distinct().tuples()})
    reps = {u.id: u for u in User.select().where(User.id.in_(ids) & User.role.in_(SELLER_ROLES))}
    new, old = scores(reps, now, candidate), scores(reps, now, current)
    prules = pool_rules.in_force(now)
    out = []
    for uid in sorted(reps, key=lambda u: (new[u]["score"], u)):
        grade = grade_of(new[uid], candidate)
        delta, note, params = 0, "", {}
        if grade == "penalty":
            delta, note, params = penalty_delta(pools.capacity(reps[uid], now, prules)["total"], candidate["penalty_capacity"])
        elif grade == "reward":
            delta = candidate["reward_capacity"]
        out.append({"user": reps[uid], "score": new[uid]["score"], "grade": grade, "was_score": old[uid]["score"],
                    "was_grade": grade_of(old[uid], current), "delta": delta, "note": note, "params": params})
    counts = {g: sum(1 for r in out if r["grade"] == g) for g in GRADES}
    return {"rows": out[:limit], "counts": counts, "reps": len(out)}


# ---- read models: the queue, a rep's record ---------------------------------------------------------------

def queue(status="open", source="", rule=""):
    """The quality queue's query (the view pages it by id with models.keyset): oldest first."""
    q = QualityCheck.select(QualityCheck, Customer.name, Customer.id).join(
        Customer, on=(QualityCheck.customer == Customer.id))
    if status in ("open", "done"):
        q = q.where(QualityCheck.status == status)
    if source:
        q = q.where(QualityCheck.source == source)
    if rule:
        q = q.where(QualityCheck.rule == rule)
    return q


def open_counts():
    return dict(QualityCheck.select(QualityCheck.source, pw.fn.COUNT(QualityCheck.id))
                .where(QualityCheck.status == "open").group_by(QualityCheck.source).tuples())


def rep_record(rep, now=None):
    """A rep's quality page: score under the rule in force, the consequences with their findings, the checks
    on their files, and their complaints (how many upheld, how many not)."""
    now = now or clock.now()
    s = in_force(now)
    row = scores([rep.id], now, s)[rep.id]
    consequences = list(QualityConsequence.select().where(QualityConsequence.user == rep.id)
                        .order_by(QualityConsequence.id.desc()).limit(20))
    ids = sorted({f for c in consequences for f in c.findings})
    found = {c.id: c for c in QualityCheck.select(QualityCheck, Customer.name).join(
        Customer, on=(QualityCheck.customer == Customer.id)).where(QualityCheck.id.in_(ids or [0]))}
    checks = list(QualityCheck.select(QualityCheck, Customer.name).join(Customer, on=(QualityCheck.customer == Customer.id))
                  .where(QualityCheck.owner == rep.id).order_by(QualityCheck.id.desc()).limit(30))
    return {"settings": s, "score": row, "grade": grade_of(row, s), "consequences": consequences, "found": found,
            "checks": checks, "complaints": complaint_record(rep.id), "now": now}


def complaint_record(user_id):
    """A reporter's complaints: open, upheld, and not upheld (the abusive ones count against them)."""
    counts = dict(QualityCheck.select(QualityCheck.outcome, pw.fn.COUNT(QualityCheck.id))
                  .where(QualityCheck.reporter == user_id).group_by(QualityCheck.outcome).tuples())
    return {"open": counts.get("", 0), "upheld": counts.get("incomplete", 0) + counts.get("false", 0),
            "rejected": counts.get("true", 0)}


def customer_checks(customer_id, limit=10):
    return list(QualityCheck.select().where(QualityCheck.customer == customer_id)
                .order_by(QualityCheck.id.desc()).limit(limit))


def can_complain(user, customer):
    return can(user, "quality.complain", customer) and accused_of(customer) != user.id
