"""Pool cleansing campaigns (issue 17 item 4): an admin starts a campaign over a public pool (narrowed by a
filter); its records are split among the teams of their region (and round-robin among the teams' reps) as
cleansing tasks; each task is classified keep (with the campaign's minimum fields filled), doubtful, or
junk, which quarantines the customer (`Customer.quarantined_at`): it leaves the pool's lists, the customer
list and its search (models/listing.py) and the customer lookups (models/pickers.py), cannot be claimed or
assigned (models/pools.py), and an admin restores it. The search index keeps it, so the duplicate check and
the merge still find it (a junk record is often a duplicate to merge). Progress and rankings per team
and region come from `CleansingTally`, kept by the verbs. Bulk normalisation tools run over a campaign's
records: phones to one format, invalid credit codes flagged, contacts marked as having left.

A task keeps the customer's id as a plain number (not a foreign key): a merge must not move it onto the
survivor, so that restoring a record merged since is refused by name instead of restoring the survivor.
The campaign's tasks are written by one `INSERT … SELECT` with a window function (both engines)."""
import datetime as dt

import peewee as pw

from models import audit, clock, search
from models import merges
from models.base import BaseModel, JSONField, db, fresh, id_in
from models.customer_tables import Contact, Customer, Industry, Pool
from models.customers import PROFILE_CHECKS, compute_completeness
from models.errors import N_, DomainError, FieldErrors, NotFound, ValidationError
from models.fields import clean_text, credit_code_error, format_phone, id_or_none, normalize_phone, parse_int, take
from models.permissions import can, cleansing_scope, require
from models.sql import is_sqlite, placeholders
from models.user_tables import Region, Team, User

VERDICTS = ("keep", "doubtful", "junk")
VERDICT_LABELS = {"keep": N_("Keep and complete"), "doubtful": N_("Doubtful"), "junk": N_("Junk: quarantine")}
SPLITS = ("team", "rep")
SPLIT_LABELS = {"team": N_("To the teams of the record's region"), "rep": N_("To the reps of those teams, in turn")}
# the profile fields a campaign may require before a record is kept (the customer form's checks)
MIN_FIELDS = ("phone", "address", "industry_id", "city", "credit_code", "website")
MIN_FIELD_LABELS = {"phone": N_("Phone"), "address": N_("Address"), "industry_id": N_("Industry"), "city": N_("City"),
                    "credit_code": N_("Unified social credit code"), "website": N_("Website")}
DEFAULT_MIN_FIELDS = ("phone", "address", "industry_id")
SELLER_ROLES = ("sales", "manager")


class CleansingCampaign(BaseModel):
    name = pw.CharField(max_length=100)
    pool = pw.ForeignKeyField(Pool, null=True, on_delete="SET NULL", index=False, backref="+")
    filters = JSONField(default=dict)  # region, industry, stage, idle_days: how the pool was narrowed
    split = pw.CharField(max_length=10, default="team")
    min_fields = JSONField(default=list)
    status = pw.CharField(max_length=10, default="open")  # open, closed
    total = pw.IntegerField(default=0)
    done = pw.IntegerField(default=0)
    created_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
    created_at = pw.DateTimeField()
    closed_at = pw.DateTimeField(null=True)


class CleansingTask(BaseModel):
    campaign = pw.ForeignKeyField(CleansingCampaign, on_delete="CASCADE", index=False, backref="tasks")
    customer_id = pw.BigIntegerField()  # not a foreign key: a merge must not carry the task to the survivor
    region = pw.IntegerField(default=0)  # 0: no region
    team = pw.IntegerField(null=True)
    assignee = pw.IntegerField(null=True)
    status = pw.CharField(max_length=10, default="open")  # open, done
    verdict = pw.CharField(max_length=10, default="")
    note = pw.CharField(max_length=500, default="")
    flags = pw.CharField(max_length=100, default="")  # bad_credit_code, phone_formatted, contacts_left
    classified_by = pw.IntegerField(null=True)
    classified_at = pw.DateTimeField(null=True)
    restored_by = pw.IntegerField(null=True)
    restored_at = pw.DateTimeField(null=True)

    class Meta:
        indexes = ((("campaign", "customer_id"), True), (("campaign", "assignee", "status", "id"), False),
                   (("campaign", "team", "status", "id"), False), (("campaign", "status", "id"), False))


class CleansingTally(BaseModel):
    """Per campaign × team × region: records and how many are classified each way (the rankings)."""
    campaign = pw.ForeignKeyField(CleansingCampaign, on_delete="CASCADE", index=False, backref="+")
    team = pw.IntegerField(default=0)
    region = pw.IntegerField(default=0)
    total = pw.IntegerField(default=0)
    keep = pw.IntegerField(default=0)
    doubtful = pw.IntegerField(default=0)
    junk = pw.IntegerField(default=0)
    restored = pw.IntegerField(default=0)

    class Meta:
        indexes = ((("campaign", "team", "region"), True),)


class NotYours(DomainError):
    pass


class CampaignClosed(DomainError):
    pass


# ---- starting a campaign --------------------------------------------------------------------------------

def _pool_records(pool_id, filters):
    """The pool's unowned, unquarantined records narrowed by the filter (a peewee query of ids)."""
    q = Customer.select(Customer.id).where((Customer.pool == pool_id) & Customer.owner.is_null()
                                           & Customer.quarantined_at.is_null())
    if filters.get("region"):
        q = q.where(Customer.region == filters["region"])
    if filters.get("industry"):
        q = q.where(Customer.industry == filters["industry"])
    if filters.get("stage"):
        q = q.where(Customer.stage == filters["stage"])
    if filters.get("idle_days"):
        q = q.where(Customer.touched_at < clock.now() - dt.timedelta(days=filters["idle_days"]))
    return q


def _slots(split, region_filter):
    """region -> [(team, assignee)]: the teams with active sellers (of their region), or their reps; key 0
    holds every slot, for records whose region has no team."""
    reps = (User.select(User.id, User.team, Team.region).join(Team, on=(User.team == Team.id))
            .where((User.active == True) & User.role.in_(SELLER_ROLES)).order_by(Team.id, User.id).tuples())  # noqa: E712
    by_region, seen = {}, set()
    for uid, team, region in reps:
        if region_filter and region != region_filter:
            continue
        slot = (team, uid if split == "rep" else None)
        if slot in seen:
            continue
        seen.add(slot)
        by_region.setdefault(region or 0, []).append(slot)
        if region:
            by_region.setdefault(0, []).append(slot)
    return by_region


def validate_campaign(data):
    e = FieldErrors()
    name = clean_text(data.get("name"), 100)
    if not name:
        e.add("name", N_("Required.") if name == "" else N_("At most %(n)s characters."), n=100)
    pool_id = id_or_none(data.get("pool_id"))
    pool = Pool.get_or_none(Pool.id == pool_id) if pool_id else None
    if pool is None:
        e.add("pool_id", N_("Choose a pool."))
    split = data.get("split") or "team"
    if split not in SPLITS:
        e.add("split", N_("Choose how the records are split."))
    filters = {}
    for key, model in (("region", Region), ("industry", Industry)):
        raw = str(data.get(key) or "").strip()
        if raw:
            pk = id_or_none(raw)
            if pk is None or not model.select().where(model.id == pk).exists():
                e.add(key, N_("Choose one from the list."))
            else:
                filters[key] = pk
    idle = str(data.get("idle_days") or "").strip()
    if idle:
        days = take(e, "idle_days", parse_int, idle, 1, 3650)
        if days is not None:
            filters["idle_days"] = days
    getlist = getattr(data, "getlist", None)
    chosen = getlist("min_fields") if getlist else data.get("min_fields", list(DEFAULT_MIN_FIELDS))
    min_fields = [f for f in MIN_FIELDS if f in (chosen or ())]
    e.raise_if_any()
    return {"name": name, "pool": pool, "split": split, "filters": filters, "min_fields": min_fields}


def start_campaign(actor, data, now=None):
    """The campaign and its tasks in one transaction: every matching pool record becomes a task of a team
    of its region (a rep of it with split "rep"), spread evenly by id order. Refused on an empty pool or
    filter, and when no team has an active seller."""
    require(actor, "cleansing.start")
    now = now or clock.now()
    v = validate_campaign(data)
    slots = _slots(v["split"], v["filters"].get("region"))
    if not slots:
        raise ValidationError({"split": [(N_("No team has an active sales rep to take the records."), {})]})
    records = _pool_records(v["pool"].id, v["filters"])
    with db.atomic():
        if not records.exists():
            raise ValidationError({"pool_id": [(N_("No record of this pool matches: there is nothing to cleanse."),
                                                {})]})
        campaign = CleansingCampaign.create(name=v["name"], pool=v["pool"].id, filters=v["filters"], split=v["split"],
                                            min_fields=v["min_fields"], created_by=actor.id, created_at=now)
        _insert_tasks(campaign, records, slots)
        tally = ("INSERT INTO cleansing_tally (campaign_id, team, region, total, keep, doubtful, junk, restored) "
                 "SELECT ?, team, region, COUNT(*), 0, 0, 0, 0 FROM cleansing_task WHERE campaign_id = ? "
                 "GROUP BY team, region")
        db.execute_sql(placeholders(tally), (campaign.id, campaign.id))
        total = CleansingTask.select().where(CleansingTask.campaign == campaign.id).count()
        CleansingCampaign.update(total=total).where(CleansingCampaign.id == campaign.id).execute()
        campaign.total = total
        audit.record("cleansing.started", actor, campaign_id=campaign.id, pool_id=v["pool"].id, total=total,
                     split=v["split"], filters=v["filters"])
    return campaign


SLOT_SPAN = 1_000_000  # a slot's key: bucket * SLOT_SPAN + its number in the bucket


def _insert_tasks(campaign, records, slots):
    """One INSERT … SELECT: the records numbered per region bucket (ROW_NUMBER over the pool's query), the
    n-th going to slot n mod (slots of the bucket), found by primary key in a temporary slot table (a join
    on a VALUES list is a scan per record: 18 s of CPU for 700k records over 800 reps)."""
    regions = sorted(k for k in slots if k)
    bucket = (pw.Case(None, [(Customer.region.in_(regions), Customer.region)], 0) if regions else pw.Value(0))
    sub, sub_params = records.select_extend(
        pw.fn.COALESCE(Customer.region, 0).alias("region"), bucket.alias("bucket"),
        (pw.fn.ROW_NUMBER().over(partition_by=[bucket], order_by=[Customer.id]) - 1).alias("rn")).sql()
    sizes = " ".join(f"WHEN {int(b)} THEN {len(taken)}" for b, taken in slots.items())
    db.execute_sql("DROP TABLE IF EXISTS cleansing_slot")
    db.execute_sql("CREATE TEMPORARY TABLE cleansing_slot (slot %s PRIMARY KEY, team INTEGER, assignee INTEGER)"
                   % ("INTEGER" if is_sqlite() else "BIGINT"))
    rows = [(int(b) * SLOT_SPAN + k, team, assignee) for b, taken in slots.items()
            for k, (team, assignee) in enumerate(taken)]
    db.cursor().executemany(placeholders("INSERT INTO cleansing_slot (slot, team, assignee) VALUES (?, ?, ?)"), rows)
    sql = ("INSERT INTO cleansing_task (campaign_id, customer_id, region, team, assignee, status, verdict, note, flags) "
           "SELECT ?, rec.id, rec.region, s.team, s.assignee, 'open', '', '', '' "
           f"FROM ({sub}) rec JOIN cleansing_slot s ON s.slot = rec.bucket * {SLOT_SPAN} + rec.rn % "
           f"(CASE rec.bucket {sizes} END)")
    db.execute_sql(_mixed(sql, sub), (campaign.id, *sub_params))
    db.execute_sql("DROP TABLE cleansing_slot")


def _mixed(sql, sub):
    """`sql` holds `?` marks of its own around peewee's rendered `sub` (already in the engine's style); a
    literal % (the modulo) is doubled for PostgreSQL's driver."""
    head, tail = sql.split(sub, 1)
    if not is_sqlite():
        head, tail = head.replace("%", "%%"), tail.replace("%", "%%")
    return placeholders(head) + sub + placeholders(tail)


# ---- classifying ------------------------------------------------------------------------------------------

def holder_text(task):
    """Who holds a task, in words for a refusal: the rep, else the team."""
    if task.assignee:
        name = User.select(User.full_name).where(User.id == task.assignee).scalar()
        return name or "#%s" % task.assignee
    return Team.select(Team.name).where(Team.id == task.team).scalar() or "#%s" % task.team


def _check_holder(actor, task):
    require(actor, "cleansing.see_task", task)
    if not can(actor, "cleansing.work", task):
        raise NotYours(N_("This record is held by %(holder)s in the campaign: only they (or their team's "
                          "manager) classify it."), holder=holder_text(task))


def classify_record(actor, task, verdict, values=None, note="", left_contacts=(), now=None):
    """keep (the campaign's minimum fields filled, written to the file with an audit row), doubtful (a note
    saying why) or junk (a reason; the customer is quarantined). One transaction with the tally."""
    now = now or clock.now()
    values = values or {}
    with db.atomic():
        fresh(task)
        campaign = CleansingCampaign.get_by_id(task.campaign_id)
        _check_holder(actor, task)
        if campaign.status != "open":
            raise CampaignClosed(N_("The campaign is closed."))
        if task.status != "open":
            raise CampaignClosed(N_("This record was already classified (%(verdict)s)."), verdict=task.verdict)
        customer = Customer.get_or_none(Customer.id == task.customer_id)
        if customer is None:
            raise CampaignClosed(N_("This record no longer exists (merged or deleted)."))
        if customer.owner_id is not None or customer.pool_id != campaign.pool_id:
            raise CampaignClosed(N_("This record has left the pool since the campaign started (claimed or "
                                    "assigned): its owner keeps it up to date."))
        e = FieldErrors()
        if verdict not in VERDICTS:
            e.add("verdict", N_("Choose keep, doubtful or junk."))
        text = clean_text(note, 500, multiline=True)
        if text is None:
            e.add("note", N_("At most %(n)s characters."), n=500)
        elif not text and verdict in ("doubtful", "junk"):
            e.add("note", N_("Say why the record is doubtful.") if verdict == "doubtful"
                  else N_("Say why the record is junk (e.g. the company closed, the number is not theirs)."))
        changes = _min_fields(campaign, customer, values, e) if verdict == "keep" else {}
        contacts = _leavers(customer, left_contacts, e)
        e.raise_if_any()
        if changes:
            for column, (_old, new) in changes.items():
                setattr(customer, column, new)
            customer.completeness = compute_completeness(customer)
            customer.updated_at = now
            audit.record("cleansing.completed", actor, customer, campaign_id=campaign.id,
                         changes={k: [_plain(o), _plain(n)] for k, (o, n) in changes.items() if not k.endswith("_norm")})
        if contacts:
            Contact.update(active=False).where(id_in(Contact.id, [c.id for c in contacts])).execute()
            audit.record("cleansing.contacts_left", actor, customer, campaign_id=campaign.id,
                         contacts=[c.name for c in contacts])
        if verdict == "junk":
            customer.quarantined_at = now
        customer.save()
        if changes or contacts:
            search.index_customer(customer.id)
        task.status, task.verdict, task.note = "done", verdict, text or ""
        task.classified_by, task.classified_at = actor.id, now
        task.save()
        _tally(task, verdict, 1)
        CleansingCampaign.update(done=CleansingCampaign.done + 1).where(CleansingCampaign.id == campaign.id).execute()
        audit.record("cleansing.classified", actor, customer, campaign_id=campaign.id, task_id=task.id,
                     verdict=verdict, note=text or "")
    return task


def _plain(value):
    return None if value is None else str(value)


def _tally(task, column, step):
    field = getattr(CleansingTally, column)
    (CleansingTally.update({field: field + step})
     .where((CleansingTally.campaign == task.campaign_id) & (CleansingTally.team == (task.team or 0))
            & (CleansingTally.region == task.region)).execute())


def _min_fields(campaign, customer, values, e):
    """{column: (old, new)} for the minimum fields: a value typed now, else the one on file; each through
    the customer form's check; a field still empty is refused."""
    changes = {}
    for field in campaign.min_fields:
        raw = values.get(field)
        current = getattr(customer, field)
        if raw is None or str(raw).strip() == "":
            if current in (None, ""):
                e.add(field, N_("Required to keep the record: fill it in."))
            continue
        data = {field: raw}
        sub = FieldErrors()
        out = PROFILE_CHECKS[field](field, data, sub, customer)
        if sub.get(field):
            for message, params in sub[field]:
                e.add(field, message, **params)
            continue
        for column, new in out.items():
            if getattr(customer, column) != new:
                changes[column] = (getattr(customer, column), new)
    if "credit_code" in changes and changes["credit_code"][1]:
        clash = Customer.select(Customer.id).where((Customer.credit_code == changes["credit_code"][1])
                                                   & (Customer.id != customer.id)).first()
        if clash is not None:
            e.add("credit_code", N_("Another customer has this credit code (#%(id)s)."), id=clash.id)
    return changes


def _leavers(customer, ids, e):
    ids = [i for i in (id_or_none(x) for x in ids or ()) if i]
    if not ids:
        return []
    rows = list(Contact.select().where(id_in(Contact.id, ids) & (Contact.customer == customer.id)
                                       & (Contact.active == True)))  # noqa: E712
    if len(rows) != len(set(ids)):
        e.add("left", N_("Choose contacts of this record."))
    return rows


# ---- restoring ----------------------------------------------------------------------------------------------

def restore_record(actor, task, reason, now=None):
    """An admin takes a record out of quarantine: it returns to its pool's lists and search. Refused when
    the record was merged since (named with the survivor) or is not in quarantine."""
    require(actor, "cleansing.restore")
    now = now or clock.now()
    text = clean_text(reason, 300)
    if not text:
        raise ValidationError({"reason": [(N_("Say why the record is restored.") if text == ""
                                           else N_("At most %(n)s characters."), {} if text == "" else {"n": 300})]})
    with db.atomic():
        fresh(task)
        if task.verdict != "junk" or task.restored_at is not None:
            raise DomainError(N_("This record is not in quarantine."))
        customer = Customer.get_or_none(Customer.id == task.customer_id)
        if customer is None:
            survivor = merges.survivor_of(task.customer_id)
            if survivor is not None:
                raise DomainError(N_("This record was merged into %(name)s (#%(id)s) since: there is nothing to "
                                     "restore; the merged file is the one to keep."), name=survivor.name, id=survivor.id)
            raise DomainError(N_("This record no longer exists: there is nothing to restore."))
        if customer.quarantined_at is None:
            raise DomainError(N_("This record is not in quarantine."))
        Customer.update(quarantined_at=None).where(Customer.id == customer.id).execute()
        task.restored_by, task.restored_at = actor.id, now
        task.save()
        _tally(task, "restored", 1)
        audit.record("cleansing.restored", actor, customer, campaign_id=task.campaign_id, task_id=task.id, reason=text)
    return task


def close_campaign(actor, campaign, now=None):
    require(actor, "cleansing.start")
    with db.atomic():
        fresh(campaign)
        if campaign.status != "open":
            raise CampaignClosed(N_("The campaign is closed."))
        campaign.status, campaign.closed_at = "closed", now or clock.now()
        campaign.save()
        audit.record("cleansing.closed", actor, campaign_id=campaign.id)
    return campaign


# ---- bulk normalisation --------------------------------------------------------------------------------------

def normalise(actor, campaign, chunk=2000):
    """Over the campaign's records still in the pool: phones rewritten to one format (mobile 138 0013 8000,
    landline 021-6234 5678), invalid credit codes flagged on the task, chunk by chunk; returns the counts."""
    require(actor, "cleansing.start")
    counts, last = {"phones": 0, "credit_codes": 0}, 0
    while True:
        rows = (CleansingTask.select(CleansingTask.id, CleansingTask.flags, Customer.id.alias("cid"), Customer.phone,
                                     Customer.credit_code)
                .join(Customer, on=(Customer.id == CleansingTask.customer_id))
                .where((CleansingTask.campaign == campaign.id) & (CleansingTask.id > last))
                .order_by(CleansingTask.id).limit(chunk).dicts())
        rows = list(rows)
        if not rows:
            break
        phones, flags = [], []
        for r in rows:
            if r["phone"]:
                formatted = format_phone(normalize_phone(r["phone"]))
                if formatted and formatted != r["phone"]:
                    phones.append((formatted, r["cid"]))
            bad = bool(r["credit_code"]) and credit_code_error(r["credit_code"]) is not None
            marks = [f for f in r["flags"].split(",") if f and f != "bad_credit_code"] + (["bad_credit_code"] if bad else [])
            if ",".join(marks) != r["flags"]:
                flags.append((",".join(marks), r["id"]))
            counts["credit_codes"] += bad
        with db.atomic():
            if phones:
                db.cursor().executemany(placeholders("UPDATE customer SET phone = ? WHERE id = ?"), phones)
            if flags:
                db.cursor().executemany(placeholders("UPDATE cleansing_task SET flags = ? WHERE id = ?"), flags)
        counts["phones"] += len(phones)
        last = rows[-1]["id"]
    with db.atomic():
        audit.record("cleansing.normalised", actor, campaign_id=campaign.id, **counts)
    return counts


# ---- read models -------------------------------------------------------------------------------------------

def tasks(user, campaign, status="open", verdict="", mine=False):
    """The task list of a campaign as `user` may work it (the view pages it by id): a rep's own and their
    team's unassigned ones, a manager's team's, an admin's every one; `mine` keeps the user's own."""
    q = (CleansingTask.select(CleansingTask, Customer.name, Customer.phone, Customer.credit_code, Customer.city)
         .join(Customer, on=(Customer.id == CleansingTask.customer_id))
         .where(CleansingTask.campaign == campaign.id).objects())  # the customer's columns on the task row
    cond = cleansing_scope(user, mine, campaign.split)
    if cond is False:
        return q.where(CleansingTask.id == 0)
    if cond is not True:
        q = q.where(cond)
    if status in ("open", "done"):
        q = q.where(CleansingTask.status == status)
    if verdict in VERDICTS:
        q = q.where(CleansingTask.verdict == verdict)
    return q


def progress(campaign):
    """Rankings per team and per region from the tally: classified share, then count."""
    rows = list(CleansingTally.select().where(CleansingTally.campaign == campaign.id))
    teams = {t.id: t.name for t in Team.select(Team.id, Team.name)}
    regions = {r.id: r for r in Region.select()}

    def ranked(key, names):
        out = {}
        for r in rows:
            k = getattr(r, key)
            agg = out.setdefault(k, {"key": k, "name": names.get(k), "total": 0, "keep": 0, "doubtful": 0, "junk": 0})
            for f in ("total", "keep", "doubtful", "junk"):
                agg[f] += getattr(r, f)
        for agg in out.values():
            agg["done"] = agg["keep"] + agg["doubtful"] + agg["junk"]
            agg["pct"] = int(100 * agg["done"] / agg["total"]) if agg["total"] else 0
        return sorted(out.values(), key=lambda a: (-a["pct"], -a["done"], a["key"]))

    return {"teams": ranked("team", teams), "regions": ranked("region", regions),
            "pct": int(100 * campaign.done / campaign.total) if campaign.total else 0}


def campaigns_for(user):
    q = CleansingCampaign.select().order_by(CleansingCampaign.id.desc())
    return q if can(user, "cleansing.start") else q.where(CleansingCampaign.status == "open")


def get_task(task_id):
    pk = id_or_none(task_id)
    task = CleansingTask.get_or_none(CleansingTask.id == pk) if pk else None
    if task is None:
        raise NotFound()
    return task
