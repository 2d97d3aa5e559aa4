"""Transfers (工作转移) and the leaver hand-over (离职交接): customers move to other reps or to a pool
after the managers' approval, with their contacts, follow-ups and history, and a ledger row each.

A request names the giving rep, the customers and where each goes; the giving team's manager
approves (and, across teams, each receiving team's manager: both sides). The last approval carries
the move out in the same write transaction (BEGIN IMMEDIATE), after re-reading the request, so two
managers approving at once execute it once. A leaver's plan is a draft transfer the admin adjusts;
it is carried out by a job that commits in chunks and records its progress on the transfer row.
"""
import datetime as dt
import logging
import threading

import peewee as pw

from models import audit, clock, hooks, pools
from models import rules as rules_mod
from models.base import BaseModel, JSONField, db, row_by_id
from models.customers import Customer
from models.fields import clean_text, parse_id
from models.errors import N_, DomainError, NotFound, ValidationError
from models.notifications import notify
from models.permissions import can, require
from models.users import Team, User, set_active

log = logging.getLogger(__name__)

KINDS = ("request", "leaver")
STATUSES = ("draft", "pending", "rejected", "cancelled", "executing", "done", "failed")
OPEN = ("draft", "pending", "executing", "failed")  # a customer in one of these is not offered again
SELLERS = ("sales", "manager")
MAX_CUSTOMERS = 20000
JOB_CHUNK = 100
STALLED_SECONDS = 60


class Transfer(BaseModel):
    """One request to move customers of one giving rep; a leaver's plan is one too (kind 'leaver')."""
    kind = pw.CharField(max_length=10, default="request")
    requester = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
    from_user = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
    from_team = pw.ForeignKeyField(Team, null=True, on_delete="SET NULL", index=False, backref="+")
    reason = pw.CharField(max_length=300, default="")
    status = pw.CharField(max_length=10, default="pending")
    created_at = pw.DateTimeField()
    decided_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
    decided_at = pw.DateTimeField(null=True)
    decision_reason = pw.CharField(max_length=300, default="")
    override_reason = pw.CharField(max_length=300, default="")  # a manager's reason to exceed a capacity
    total = pw.IntegerField(default=0)
    done = pw.IntegerField(default=0)
    heartbeat_at = pw.DateTimeField(null=True)  # the job's last chunk: a stalled job is resumed
    error = JSONField(default=dict)  # {"message": ..., "params": {...}} when a job stopped

    class Meta:
        indexes = ((("status", "id"), False), (("requester", "id"), False), (("from_user", "status"), False),
                   (("from_team", "status"), False))

    # models/permissions.py asks these of the row it is given, so it never imports this module.
    def teams(self):
        return teams_of(self)

    def recipients(self):
        return recipients_of(self)


class TransferItem(BaseModel):
    """One customer of a transfer and where it goes: a rep (to_user) or a pool (to_pool)."""
    transfer = pw.ForeignKeyField(Transfer, on_delete="CASCADE", index=False, backref="items")
    customer = pw.ForeignKeyField(Customer, on_delete="CASCADE", index=False, backref="+")
    from_owner = pw.IntegerField(null=True)
    to_user = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
    to_pool = pw.ForeignKeyField(pools.Pool, null=True, on_delete="SET NULL", index=False, backref="+")
    why = JSONField(default=dict)  # the leaver proposal's reasons: {"room", "region", "industry", "full"}
    pinned = pw.BooleanField(default=False)  # chosen by hand in the leaver wizard
    done = pw.BooleanField(default=False)

    class Meta:
        indexes = ((("transfer", "done", "id"), False), (("transfer", "id"), False), (("customer", "transfer"), False),
                   (("to_user", "transfer"), False))


class TransferApproval(BaseModel):
    """One side that must approve: the giving team, and each receiving team across teams."""
    transfer = pw.ForeignKeyField(Transfer, on_delete="CASCADE", index=False, backref="approvals")
    team = pw.ForeignKeyField(Team, null=True, on_delete="SET NULL", index=False, backref="+")
    side = pw.CharField(max_length=10)  # giving, receiving
    status = pw.CharField(max_length=10, default="pending")
    decided_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
    decided_at = pw.DateTimeField(null=True)
    reason = pw.CharField(max_length=300, default="")

    class Meta:
        indexes = ((("transfer", "side", "team"), False), (("status", "team", "id"), False), (("team", "transfer"), False))

    def transfer_or_none(self):
        """Its transfer, or None when it is gone (asked by models/permissions.py)."""
        return Transfer.get_or_none(Transfer.id == self.transfer_id)


class CapacityRefused(DomainError):
    """A recipient would go over capacity: the approver may override with a reason."""


# ---- who is involved (used by the permission rules) ---------------------------------------------

def teams_of(transfer):
    ids = {a.team_id for a in TransferApproval.select(TransferApproval.team).where(TransferApproval.transfer == transfer.id)}
    return (ids | {transfer.from_team_id}) - {None}


def recipients_of(transfer):
    return {i.to_user_id for i in TransferItem.select(TransferItem.to_user).where(
        (TransferItem.transfer == transfer.id) & TransferItem.to_user.is_null(False)).distinct()}


def open_transfer_of(customer_id):
    """The draft, pending or running transfer a customer is part of, or None."""
    return (Transfer.select().join(TransferItem, on=(TransferItem.transfer == Transfer.id))
            .where((TransferItem.customer == customer_id) & Transfer.status.in_(OPEN)).first())


# ---- targets ----------------------------------------------------------------------------------

def recipients_for(actor, from_user):
    """Active reps and managers a transfer from `from_user` may go to: everyone selling (a transfer
    may cross teams; the receiving manager approves), the giver excluded."""
    return (User.select().where((User.active == True) & User.role.in_(SELLERS) & (User.id != from_user.id))  # noqa: E712
            .order_by(User.team, User.full_name))


def _target(actor, value, from_user):
    """('user', User) or ('pool', Pool) from a form value 'u:<id>' / 'p:<id>', else None."""
    kind, _, raw = str(value or "").partition(":")
    try:
        pk = parse_id(raw)
    except (TypeError, ValueError):
        return None
    if kind == "u":
        user = User.get_or_none((User.id == pk) & (User.active == True) & User.role.in_(SELLERS))  # noqa: E712
        return ("user", user) if user is not None and user.id != from_user.id else None
    if kind == "p":
        pool = pools.Pool.get_or_none((pools.Pool.id == pk) & (pools.Pool.active == True))  # noqa: E712
        return ("pool", pool) if pool is not None else None
    return None


# ---- request -------------------------------------------------------------------------------------

def request_transfer(actor, from_user, moves, reason, now=None):
    """Ask to move customers of `from_user`: `moves` is [(customer_id, target value)], the target a
    rep ('u:<id>') or a pool ('p:<id>'). Every customer must still be the giver's and in no other open
    transfer. Writes the request, the sides that must approve, an audit row on each customer's
    timeline, and tells the approving managers."""
    require(actor, "transfer.request_for", from_user)
    now = now or clock.now()
    errors = {}
    reason = clean_text(reason, 300)
    if reason is None:
        errors["reason"] = [(N_("At most %(n)s characters."), {"n": 300})]
    elif not reason:
        errors["reason"] = [(N_("Say why: the managers and the new owner read it."), {})]
    parsed, bad_target = [], False
    for customer_id, value in moves or []:
        target = _target(actor, value, from_user)
        if target is None:
            bad_target = True
        parsed.append((customer_id, target))
    if not parsed:
        errors["customers"] = [(N_("Choose at least one customer."), {})]
    elif len(parsed) > MAX_CUSTOMERS:
        errors["customers"] = [(N_("At most %(n)s customers in one transfer."), {"n": MAX_CUSTOMERS})]
    if bad_target:
        errors["to"] = [(N_("Choose an active rep other than the current owner, or a pool."), {})]
    if errors:
        raise ValidationError(errors)
    ids = [cid for cid, _ in parsed]
    if len(set(ids)) != len(ids):
        raise ValidationError({"customers": [(N_("A customer is listed twice."), {})]})
    with db.atomic():
        owned = {c.id: c for c in _chunked_customers(ids, (Customer.id, Customer.name, Customer.owner, Customer.team))}
        not_theirs = [cid for cid in ids if cid not in owned or owned[cid].owner_id != from_user.id]
        if not_theirs:
            name = owned[not_theirs[0]].name if not_theirs[0] in owned else "#%s" % not_theirs[0]
            raise ValidationError({"customers": [(N_("%(name)s is not owned by %(owner)s (any more)."),
                                                  {"name": name, "owner": from_user.full_name})]})
        busy = _busy(ids)
        if busy:
            raise ValidationError({"customers": [(N_("%(name)s is already part of transfer #%(id)s."),
                                                  {"name": owned[busy[0][0]].name, "id": busy[0][1]})]})
        transfer = Transfer.create(kind="request", requester=actor, from_user=from_user, from_team=from_user.team_id,
                                   reason=reason, status="pending", created_at=now, total=len(ids))
        TransferItem.insert_many([
            {"transfer": transfer.id, "customer": cid, "from_owner": from_user.id,
             "to_user": target.id if kind == "user" else None, "to_pool": target.id if kind == "pool" else None,
             "why": {}, "pinned": True, "done": False}
            for cid, (kind, target) in parsed]).execute()
        sides = _sides(from_user, [t for _, t in parsed])
        for side, team_id in sides:
            TransferApproval.create(transfer=transfer, team=team_id, side=side)
        to_text = _targets_text(parsed)
        audit.AuditEvent.insert_many([
            {"at": now, "actor": actor.id, "customer": cid, "kind": "transfer.requested",
             "data": {"transfer_id": transfer.id, "to": to_text, "reason": reason, "from_owner": from_user.full_name}}
            for cid in ids]).execute()
        for _side, team_id in sides:
            manager_id = _manager_of(team_id)
            if manager_id and manager_id != actor.id:
                params = {"who": actor.full_name, "from": from_user.full_name, "reason": reason,
                          "transfer_id": transfer.id}
                if len(ids) == 1:
                    notify(manager_id, "transfer_requested", N_("%(who)s asks to transfer %(name)s (of %(from)s): "
                                                                "%(reason)s"), ids[0], name=owned[ids[0]].name, **params)
                else:
                    notify(manager_id, "transfer_requested",
                           N_("%(who)s asks to transfer %(n)s customers of %(from)s: %(reason)s"), None, n=len(ids),
                           **params)
    return transfer


def _chunked_customers(ids, fields):
    for start in range(0, len(ids), 500):
        yield from Customer.select(*fields).where(Customer.id.in_(ids[start:start + 500]))


def _busy(ids, exclude=None):
    """[(customer_id, transfer_id)] of the customers already in an open transfer."""
    found = []
    for start in range(0, len(ids), 500):
        q = (TransferItem.select(TransferItem.customer, TransferItem.transfer)
             .join(Transfer, on=(TransferItem.transfer == Transfer.id))
             .where(TransferItem.customer.in_(ids[start:start + 500]) & Transfer.status.in_(OPEN)))
        if exclude:
            q = q.where(Transfer.id != exclude)
        found.extend((i.customer_id, i.transfer_id) for i in q)
    return found


def _sides(from_user, targets):
    """The giving team, then every other team receiving a customer (a pool asks no team)."""
    sides = [("giving", from_user.team_id)]
    for team_id in sorted({t.team_id or 0 for kind, t in targets if kind == "user"} - {from_user.team_id or 0}):
        sides.append(("receiving", team_id or None))
    return sides


def _manager_of(team_id):
    team = Team.get_or_none(Team.id == team_id) if team_id else None
    return team.manager_id if team else None


def _targets_text(parsed):
    """The recipients' names for the timeline ('张三, 华东公海')."""
    names = []
    for _, (kind, target) in parsed:
        name = target.full_name if kind == "user" else target.name_zh
        if name not in names:
            names.append(name)
    return ", ".join(names[:5]) + (" …" if len(names) > 5 else "")


# ---- decide ------------------------------------------------------------------------------------

def decide_transfer(actor, approval_id, approve, reason, override_reason="", now=None):
    """Approve or reject one side of a transfer, with a reason. The last approval carries the move out
    in the same transaction; a refusal (capacity, a customer that changed owner) writes nothing.
    Two managers deciding at once: the first decision stands, the second is told."""
    now = now or clock.now()
    reason = pools._required_reason(reason, N_("Give a reason for the decision."))
    override_reason = clean_text(override_reason, 300) or ""
    with db.atomic():
        approval = TransferApproval.get_or_none(TransferApproval.id == approval_id)
        if approval is None:
            raise NotFound()
        require(actor, "transfer.decide", approval)
        # The transfer's row locked (PostgreSQL; SQLite's writers are serialised already): the giving and the
        # receiving side decided at once would each see the other still pending and neither carry it out.
        transfer = row_by_id(Transfer, approval.transfer_id, lock=True)
        if transfer.status != "pending" or approval.status != "pending":
            raise DomainError(N_("This request was already decided."))
        changed = (TransferApproval.update(status="approved" if approve else "rejected", decided_by=actor.id,
                                           decided_at=now, reason=reason)
                   .where((TransferApproval.id == approval.id) & (TransferApproval.status == "pending")).execute())
        if not changed:
            raise DomainError(N_("This request was already decided."))
        ids = [i.customer_id for i in TransferItem.select(TransferItem.customer).where(TransferItem.transfer == transfer.id)]
        if not approve:
            Transfer.update(status="rejected", decided_by=actor.id, decided_at=now, decision_reason=reason).where(
                (Transfer.id == transfer.id) & (Transfer.status == "pending")).execute()
            audit.AuditEvent.insert_many([
                {"at": now, "actor": actor.id, "customer": cid, "kind": "transfer.rejected",
                 "data": {"transfer_id": transfer.id, "reason": reason}} for cid in ids]).execute()
            _tell_decision(transfer, actor, N_("Transfer #%(id)s was rejected by %(who)s: %(reason)s"), reason)
            return Transfer.get_by_id(transfer.id)
        waiting = TransferApproval.select().where((TransferApproval.transfer == transfer.id)
                                                  & (TransferApproval.status != "approved")).count()
        if waiting:
            audit.AuditEvent.insert_many([
                {"at": now, "actor": actor.id, "customer": cid, "kind": "transfer.side_approved",
                 "data": {"transfer_id": transfer.id, "reason": reason}} for cid in ids]).execute()
            return Transfer.get_by_id(transfer.id)
        rules = rules_mod.in_force(now)
        items = list(TransferItem.select().where((TransferItem.transfer == transfer.id) & (TransferItem.done == False)))  # noqa: E712
        check_capacity(items, rules, now, override_reason)
        approvers = _approver_names(transfer)
        moved = _move(actor, transfer, items, now, rules, approvers, override_reason, strict=True)
        Transfer.update(status="done", decided_by=actor.id, decided_at=now, decision_reason=reason,
                        override_reason=override_reason, done=moved, heartbeat_at=now).where(
            Transfer.id == transfer.id).execute()
        _tell_done(transfer, actor, items, approvers)
    return Transfer.get_by_id(transfer.id)


def cancel_transfer(actor, transfer, now=None):
    """The requester withdraws a request nobody has carried out."""
    now = now or clock.now()
    if actor.id != transfer.requester_id:
        raise NotFound()
    with db.atomic():
        changed = Transfer.update(status="cancelled", decided_by=actor.id, decided_at=now).where(
            (Transfer.id == transfer.id) & (Transfer.status == "pending")).execute()
        if not changed:
            raise DomainError(N_("This request was already decided."))
        ids = [i.customer_id for i in TransferItem.select(TransferItem.customer).where(TransferItem.transfer == transfer.id)]
        audit.AuditEvent.insert_many([
            {"at": now, "actor": actor.id, "customer": cid, "kind": "transfer.cancelled",
             "data": {"transfer_id": transfer.id}} for cid in ids]).execute()
    return Transfer.get_by_id(transfer.id)


def _approver_names(transfer):
    ids = [a.decided_by_id for a in TransferApproval.select(TransferApproval.decided_by).where(
        (TransferApproval.transfer == transfer.id) & (TransferApproval.status == "approved")
        & TransferApproval.decided_by.is_null(False)).order_by(TransferApproval.id)]
    names = {u.id: u.full_name for u in User.select(User.id, User.full_name).where(User.id.in_(ids))}
    out = []
    for i in ids:
        if names.get(i) and names[i] not in out:
            out.append(names[i])
    return out


def incoming(items):
    """{rep id: customers this plan gives them}."""
    counts = {}
    for item in items:
        if item.to_user_id:
            counts[item.to_user_id] = counts.get(item.to_user_id, 0) + 1
    return counts


def check_capacity(items, rules, now, override_reason=""):
    """Refuse (CapacityRefused naming the first rep) when a recipient would go over capacity, unless the
    approver gives a reason to override it. Dealt customers count when the rules say they do."""
    if not rules["dealt_count"]:
        dealt = {c.id for c in _chunked_customers([i.customer_id for i in items], (Customer.id, Customer.stage))
                 if c.stage in pools.DEALT_STAGES}
        items = [i for i in items if i.customer_id not in dealt]
    counts = incoming(items)
    for user in User.select().where(User.id.in_(list(counts))).order_by(User.full_name):
        cap = pools.capacity(user, now, rules)
        if cap["used"] + counts[user.id] > cap["total"] and not override_reason:
            raise CapacityRefused(
                N_("%(name)s has room for %(free)s more customers (%(used)s of %(total)s) and this transfer gives "
                   "%(n)s. Give a reason to override the capacity."),
                name=user.full_name, free=max(0, cap["free"]), used=cap["used"], total=cap["total"], n=counts[user.id])


def _move(actor, transfer, items, now, rules, approvers, override_reason, strict):
    """The writes of a transfer for `items` (inside the caller's transaction): owners, teams, release
    dates and clocks; a ledger row and a timeline row per customer; the owner_changed hook per giver
    and recipient. `strict`: a customer no longer the giver's refuses the whole move; otherwise (a
    leaver job resumed) it is skipped. Returns the number moved."""
    customers = {c.id: c for c in _chunked_customers([i.customer_id for i in items], (Customer,))}
    users = {u.id: u for u in User.select().where(User.id.in_(
        {i.to_user_id for i in items if i.to_user_id} | {i.from_owner for i in items if i.from_owner}))}
    pool_rows = {p.id: p for p in pools.Pool.select()}
    owner_updates, pool_updates, ledger, events, groups, skipped = [], [], [], [], {}, []
    for item in items:
        c = customers.get(item.customer_id)
        if c is None or c.owner_id != item.from_owner:
            if strict:
                raise DomainError(N_("%(name)s changed owner since the request: ask again."),
                                  name=c.name if c else "#%s" % item.customer_id)
            skipped.append(item.id)
            continue
        old_owner, old_team = c.owner_id, c.team_id
        giver = users.get(old_owner)
        if item.to_user_id:
            rep = users.get(item.to_user_id)
            if rep is None or not rep.active or rep.role not in SELLERS:
                raise DomainError(N_("%(name)s can no longer receive customers (deactivated or another role)."),
                                  name=rep.full_name if rep else "#%s" % item.to_user_id)
            same_team = bool(old_team) and old_team == rep.team_id
            # Domain §5: a transfer inside the team does not restart the release clock.
            c.claimed_at = c.claimed_at if same_team else now
            c.owner_id, c.team_id, c.pool_id = rep.id, rep.team_id, None
            at, rule, _ = pools.release_plan(c, rules, now)
            owner_updates.append((rep.id, rep.team_id, c.claimed_at, at, rule, now, c.id, old_owner))
            to_name, pool = rep.full_name, None
            inputs = {"transfer_id": transfer.id, "same_team": same_team, "clock_kept": same_team,
                      "release_at": at.isoformat(sep=" ") if at else None, "release_rule": rule}
        else:
            pool = pool_rows.get(item.to_pool_id) or pools.home_pool(c)
            pool_updates.append((pool.id if pool else None, now, old_owner, old_team, now, c.id, old_owner))
            to_name, same_team = None, False
            inputs = {"transfer_id": transfer.id}
        inputs.update(approved_by=approvers, requested_by=transfer.requester_id)
        if override_reason:
            inputs["capacity_override"] = override_reason
        ledger.append({"at": now, "kind": "transfer", "actor": actor.id, "customer": c.id, "subject": None,
                       "from_owner": old_owner, "to_owner": item.to_user_id, "from_pool": None,
                       "to_pool": pool.id if pool else None, "rule_version": rules.version, "inputs": inputs,
                       "reason": transfer.reason})
        events.append({"at": now, "actor": actor.id, "customer": c.id, "kind": "transfer.moved",
                       "data": {"transfer_id": transfer.id, "from_owner": giver.full_name if giver else "",
                                "from_owner_id": old_owner, "to_owner": to_name, "to_owner_id": item.to_user_id,
                                "pool": pool.name_zh if pool else "", "pool_en": pool.name_en if pool else "",
                                "approved_by": ", ".join(approvers), "reason": transfer.reason,
                                "override": override_reason, "clock_kept": same_team}})
        groups.setdefault((old_owner, item.to_user_id), []).append(c.id)
    p = db.param
    cursor = db.cursor()
    if owner_updates:
        cursor.executemany(
            f"UPDATE customer SET owner_id = {p}, team_id = {p}, pool_id = NULL, claimed_at = {p}, release_at = {p}, "
            f"release_rule = {p}, updated_at = {p} WHERE id = {p} AND owner_id = {p}", owner_updates)
        if cursor.rowcount != len(owner_updates):
            raise DomainError(N_("A customer changed owner while the transfer ran: ask again."))
    if pool_updates:
        cursor.executemany(
            f"UPDATE customer SET owner_id = NULL, team_id = NULL, pool_id = {p}, released_at = {p}, released_from = {p}, "
            f"released_team = {p}, release_at = NULL, release_rule = '', locked = FALSE, updated_at = {p} "
            f"WHERE id = {p} AND owner_id = {p}", pool_updates)
        if cursor.rowcount != len(pool_updates):
            raise DomainError(N_("A customer changed owner while the transfer ran: ask again."))
    if ledger:
        pools.PoolEvent.insert_many(ledger).execute()
        audit.AuditEvent.insert_many(events).execute()
    for (from_id, to_id), ids in groups.items():
        hooks.fire("owner_changed", actor, ids, from_id, to_id, transfer.reason)
    done_ids = [i.id for i in items]
    for start in range(0, len(done_ids), 500):
        TransferItem.update(done=True).where(TransferItem.id.in_(done_ids[start:start + 500])).execute()
    return len(ledger)


def _tell_decision(transfer, actor, message, reason):
    for user_id in {transfer.requester_id, transfer.from_user_id} - {None, actor.id}:
        notify(user_id, "transfer_decided", message, None, id=transfer.id, who=actor.full_name, reason=reason)


def _tell_done(transfer, actor, items, approvers):
    by = ", ".join(approvers) or actor.full_name
    for user_id in {transfer.requester_id, transfer.from_user_id} - {None}:
        notify(user_id, "transfer_decided", N_("Transfer #%(id)s was approved by %(who)s and carried out: %(reason)s"),
               None, id=transfer.id, who=by, reason=transfer.reason)
    giver = User.get_or_none(User.id == transfer.from_user_id)
    for user_id, n in incoming(items).items():
        params = {"from": giver.full_name if giver else "", "who": by, "reason": transfer.reason}
        if n == 1:
            cid = next(i.customer_id for i in items if i.to_user_id == user_id)
            notify(user_id, "transfer_received",
                   N_("%(name)s (from %(from)s) was transferred to you, approved by %(who)s: %(reason)s"), cid,
                   name=Customer.get_by_id(cid).name, **params)
            continue
        notify(user_id, "transfer_received",
               N_("%(n)s customers of %(from)s were transferred to you (approved by %(who)s): %(reason)s"),
               None, n=n, **params)


# ---- the leaver wizard -----------------------------------------------------------------------

def leaver_draft(leaver):
    return (Transfer.select().where((Transfer.kind == "leaver") & (Transfer.from_user == leaver.id)
                                    & Transfer.status.in_(("draft", "executing", "failed")))
            .order_by(Transfer.id.desc()).first())


def team_reps(leaver):
    """The active reps (and the manager) of the leaver's team who can take customers."""
    if not leaver.team_id:
        return []
    return list(User.select().where((User.team == leaver.team_id) & (User.active == True)  # noqa: E712
                                    & User.role.in_(SELLERS) & (User.id != leaver.id)).order_by(User.full_name))


def prepare_leaver_plan(actor, leaver, now=None):
    """The draft hand-over of everything `leaver` owns: a proposal for each customer not yet in it
    (those no longer theirs are dropped). Re-running it keeps the choices made by hand."""
    require(actor, "leaver.plan", leaver)
    now = now or clock.now()
    with db.atomic():
        draft = leaver_draft(leaver)
        if draft is not None and draft.status == "executing":
            return draft
        if draft is None:
            draft = Transfer.create(kind="leaver", requester=actor, from_user=leaver, from_team=leaver.team_id,
                                    status="draft", created_at=now)
        elif draft.status == "failed":
            Transfer.update(status="draft", error={}).where(Transfer.id == draft.id).execute()
        owned = [c.id for c in Customer.select(Customer.id).where(Customer.owner == leaver.id)]
        owned_set = set(owned)
        # items of customers that left the leaver's hands (released, moved) are dropped; done ones stay
        stale = [i.id for i in TransferItem.select(TransferItem.id, TransferItem.customer).where(
            (TransferItem.transfer == draft.id) & (TransferItem.done == False)) if i.customer_id not in owned_set]  # noqa: E712
        for start in range(0, len(stale), 500):
            TransferItem.delete().where(TransferItem.id.in_(stale[start:start + 500])).execute()
        have = {i.customer_id for i in TransferItem.select(TransferItem.customer).where(
            (TransferItem.transfer == draft.id) & (TransferItem.done == False))}  # noqa: E712
        new = [cid for cid in owned if cid not in have]
        busy = {cid for cid, _ in _busy(new, exclude=draft.id)}
        new = [cid for cid in new if cid not in busy]
        if new:
            rows = propose(leaver, new, draft, now)
            for start in range(0, len(rows), 500):
                TransferItem.insert_many(rows[start:start + 500]).execute()
        total = TransferItem.select().where((TransferItem.transfer == draft.id) & (TransferItem.done == False)).count()  # noqa: E712
        Transfer.update(total=total, done=0).where(Transfer.id == draft.id).execute()
    return Transfer.get_by_id(draft.id)


def propose(leaver, customer_ids, draft, now):
    """A split of `customer_ids` over the team: each customer to the rep with room left, preferring one in
    the customer's region, then one who already sells its industry, then the one with most room left.
    Nobody with room: the customer's pool. Returns TransferItem rows with the reasons in `why`."""
    rules = rules_mod.in_force(now)
    reps = team_reps(leaver)
    room = {}
    for rep in reps:
        cap = pools.capacity(rep, now, rules)
        room[rep.id] = cap["total"] - cap["used"]
    # what the plan already gives them (choices made by hand, earlier proposals)
    for item in TransferItem.select(TransferItem.to_user).where(
            (TransferItem.transfer == draft.id) & (TransferItem.done == False) & TransferItem.to_user.is_null(False)):  # noqa: E712
        if item.to_user_id in room:
            room[item.to_user_id] -= 1
    industries = {}
    if reps:
        for owner_id, industry_id, n in (Customer.select(Customer.owner, Customer.industry, pw.fn.COUNT(Customer.id))
                                         .where(Customer.owner.in_([r.id for r in reps]) & Customer.industry.is_null(False))
                                         .group_by(Customer.owner, Customer.industry).tuples()):
            industries[(owner_id, industry_id)] = n
    rows = []
    customers = sorted(_chunked_customers(customer_ids, (Customer.id, Customer.region, Customer.industry,
                                                         Customer.stage)), key=lambda c: c.id)
    for c in customers:
        counts = rules["dealt_count"] or c.stage not in pools.DEALT_STAGES
        best, best_key = None, None
        for rep in reps:
            if counts and room[rep.id] <= 0:
                continue
            region = bool(c.region_id) and rep.region_id == c.region_id
            industry = industries.get((rep.id, c.industry_id), 0) if c.industry_id else 0
            key = (region, industry > 0, room[rep.id], industry, -rep.id)
            if best_key is None or key > best_key:
                best, best_key = rep, key
        if best is None:
            pool = pools.home_pool(c)
            rows.append({"transfer": draft.id, "customer": c.id, "from_owner": leaver.id, "to_user": None,
                         "to_pool": pool.id if pool else None, "why": {"full": True}, "pinned": False, "done": False})
            continue
        why = {"room": room[best.id], "region": best_key[0], "industry": best_key[3]}
        if counts:
            room[best.id] -= 1
        if c.industry_id:
            industries[(best.id, c.industry_id)] = industries.get((best.id, c.industry_id), 0) + 1
        rows.append({"transfer": draft.id, "customer": c.id, "from_owner": leaver.id, "to_user": best.id,
                     "to_pool": None, "why": why, "pinned": False, "done": False})
    return rows


def _draft_for(actor, transfer):
    leaver = User.get_by_id(transfer.from_user_id)
    require(actor, "leaver.plan", leaver)
    if transfer.kind != "leaver" or transfer.status != "draft":
        raise DomainError(N_("This hand-over is already under way; it can no longer be changed."))
    return leaver


def set_plan_target(actor, item_id, value, now=None):
    """Give one customer of a leaver's plan to another rep of the team, or to a pool (by hand)."""
    item = TransferItem.get_or_none(TransferItem.id == item_id)
    if item is None:
        raise NotFound()
    with db.atomic():
        transfer = Transfer.get_by_id(item.transfer_id)
        leaver = _draft_for(actor, transfer)
        target = _plan_target(actor, leaver, value)
        kind, obj = target
        TransferItem.update(to_user=obj.id if kind == "user" else None, to_pool=obj.id if kind == "pool" else None,
                            pinned=True, why={}).where(TransferItem.id == item.id).execute()
    return TransferItem.get_by_id(item.id)


def assign_remaining(actor, transfer, value, now=None):
    """The bulk choice: every customer of the plan not yet chosen by hand goes to one rep (or pool)."""
    with db.atomic():
        transfer = Transfer.get_by_id(transfer.id)
        leaver = _draft_for(actor, transfer)
        kind, obj = _plan_target(actor, leaver, value)
        return (TransferItem.update(to_user=obj.id if kind == "user" else None,
                                    to_pool=obj.id if kind == "pool" else None, pinned=True, why={})
                .where((TransferItem.transfer == transfer.id) & (TransferItem.pinned == False)  # noqa: E712
                       & (TransferItem.done == False)).execute())  # noqa: E712


def _plan_target(actor, leaver, value):
    target = _target(actor, value, leaver)
    if target is None or (target[0] == "user" and not can(actor, "leaver.any_rep") and target[1].team_id != leaver.team_id):
        raise DomainError(N_("Choose an active rep of the team, or a pool."))
    return target


def plan_summary(transfer, now=None):
    """Per recipient: how many customers the plan gives, their room now, and whether they go over."""
    now = now or clock.now()
    rules = rules_mod.in_force(now)
    rows = list(TransferItem.select(TransferItem.to_user, TransferItem.to_pool, pw.fn.COUNT(TransferItem.id).alias("n"))
                .where((TransferItem.transfer == transfer.id) & (TransferItem.done == False))  # noqa: E712
                .group_by(TransferItem.to_user, TransferItem.to_pool).dicts())
    users = {u.id: u for u in User.select().where(User.id.in_([r["to_user"] for r in rows if r["to_user"]]))}
    pool_rows = {p.id: p for p in pools.Pool.select()}
    out = []
    for r in rows:
        if r["to_user"]:
            user = users.get(r["to_user"])
            cap = pools.capacity(user, now, rules)
            out.append({"user": user, "pool": None, "n": r["n"], "free": cap["free"], "total": cap["total"],
                        "used": cap["used"], "over": cap["used"] + r["n"] > cap["total"]})
        else:
            out.append({"user": None, "pool": pool_rows.get(r["to_pool"]), "n": r["n"], "over": False})
    out.sort(key=lambda s: (s["user"] is None, -s["n"]))
    return out


def execute_leaver_plan(actor, transfer, reason, override_reason="", now=None):
    """The admin approves the hand-over: one approved transfer, carried out by a job (start_job) that
    commits in chunks and deactivates the leaver when nothing is left in their name."""
    now = now or clock.now()
    reason = pools._required_reason(reason, N_("Say why: the new owners read it."))
    override_reason = clean_text(override_reason, 300) or ""
    with db.atomic():
        transfer = Transfer.get_by_id(transfer.id)
        leaver = User.get_by_id(transfer.from_user_id)
        require(actor, "leaver.execute", leaver)
        if transfer.kind != "leaver" or transfer.status != "draft":
            raise DomainError(N_("This hand-over is already under way; it can no longer be changed."))
        items = list(TransferItem.select().where((TransferItem.transfer == transfer.id) & (TransferItem.done == False)))  # noqa: E712
        in_plan = {i.customer_id for i in items}
        outside = [c.id for c in Customer.select(Customer.id).where(Customer.owner == leaver.id) if c.id not in in_plan]
        if outside:  # the account could not be deactivated at the end: say so now
            busy = _busy(outside, exclude=transfer.id)
            if busy:
                raise DomainError(N_("%(n)s customers of %(name)s wait in other transfers (#%(id)s): decide or "
                                     "withdraw them first."), n=len(busy), name=leaver.full_name, id=busy[0][1])
            raise DomainError(N_("Prepare the proposal again: %(name)s owns customers that are not in it."),
                              name=leaver.full_name)
        gone = User.select().where(User.id.in_(list(incoming(items))) & ((User.active == False)  # noqa: E712
                                                                        | User.role.not_in(SELLERS))).first()
        if gone is not None:
            raise DomainError(N_("%(name)s can no longer receive customers (deactivated or another role)."),
                              name=gone.full_name)
        check_capacity(items, rules_mod.in_force(now), now, override_reason)
        changed = Transfer.update(status="executing", reason=reason, override_reason=override_reason,
                                  decided_by=actor.id, decided_at=now, decision_reason=reason, total=len(items),
                                  done=0, heartbeat_at=now, error={}).where(
            (Transfer.id == transfer.id) & (Transfer.status == "draft")).execute()
        if not changed:
            raise DomainError(N_("This hand-over is already under way; it can no longer be changed."))
        sides = _sides(leaver, [("user", u) for u in User.select().where(User.id.in_(list(incoming(items))))])
        for side, team_id in sides:
            TransferApproval.create(transfer=transfer.id, team=team_id, side=side, status="approved",
                                    decided_by=actor.id, decided_at=now, reason=reason)
        audit.record("transfer.leaver_started", actor, None, transfer_id=transfer.id, user_id=leaver.id,
                     customers=len(items), reason=reason, override=override_reason)
    return Transfer.get_by_id(transfer.id)


def start_job(transfer_id):
    """Run a transfer job in a background thread (its state lives in the transfer row)."""
    thread = threading.Thread(target=run_job, args=(transfer_id,), name=f"transfer-{transfer_id}", daemon=True)
    thread.start()
    return thread


def run_job(transfer_id, chunk=JOB_CHUNK):
    """Carry out an approved leaver hand-over in chunks of `chunk` customers, each one transaction that
    re-reads its rows; then deactivate the leaver. Idempotent: a second runner (or a restart after a
    crash) finds the done items done and moves nothing twice."""
    opened = db.is_closed()  # a thread of its own opens (and closes) its own connection
    if opened:
        db.connect()
    try:
        while True:
            with db.atomic():
                transfer = Transfer.get_or_none(Transfer.id == transfer_id)
                if transfer is None or transfer.status != "executing":
                    return transfer
                now = clock.now()
                actor = User.get_by_id(transfer.decided_by_id)
                items = list(TransferItem.select().where((TransferItem.transfer == transfer.id)
                                                         & (TransferItem.done == False))  # noqa: E712
                             .order_by(TransferItem.id).limit(chunk))
                if not items:
                    _finish_leaver(actor, transfer, now)
                    return Transfer.get_by_id(transfer.id)
                rules = rules_mod.in_force(now)
                _move(actor, transfer, items, now, rules, _approver_names(transfer), transfer.override_reason, strict=False)
                Transfer.update(done=Transfer.done + len(items), heartbeat_at=clock.now()).where(
                    Transfer.id == transfer.id).execute()
    except DomainError as exc:
        _fail(transfer_id, exc.message, exc.params)
    except Exception:  # noqa: BLE001 - the row must say the job stopped; the log has the trace
        log.exception("transfer job %s failed", transfer_id)
        _fail(transfer_id, N_("The hand-over stopped on an error. Nothing half-done: start it again."), {})
    finally:
        if opened:
            db.close()
    return Transfer.get_or_none(Transfer.id == transfer_id)


def _fail(transfer_id, message, params):
    with db.atomic():
        Transfer.update(status="failed", error={"message": message, "params": params}).where(
            (Transfer.id == transfer_id) & (Transfer.status == "executing")).execute()


def _finish_leaver(actor, transfer, now):
    """The last step, in the last chunk's transaction: nothing left in the leaver's name, then deactivate."""
    leaver = User.get_by_id(transfer.from_user_id)
    left = Customer.select().where(Customer.owner == leaver.id).count()
    if left:
        Transfer.update(status="failed", error={
            "message": N_("%(n)s customers came into %(name)s's hands during the hand-over: prepare the proposal again."),
            "params": {"n": left, "name": leaver.full_name}}).where(Transfer.id == transfer.id).execute()
        return
    if leaver.active:
        set_active(actor, leaver, False)
    Transfer.update(status="done", heartbeat_at=now).where(Transfer.id == transfer.id).execute()
    approvers = _approver_names(transfer)
    _tell_done(transfer, actor, list(TransferItem.select().where(TransferItem.transfer == transfer.id)), approvers)


def resume_stalled(now=None, at_start=False):
    """Sweep: a job whose runner died carries on where it stopped. Idempotent. When the server starts
    (`at_start`), every executing job is an orphan of the previous process: each resumes at once in a
    thread of its own instead of waiting for its heartbeat to go stale and the next sweep."""
    now = now or clock.now()
    query = Transfer.select(Transfer.id).where(Transfer.status == "executing")
    if not at_start:
        query = query.where(Transfer.heartbeat_at.is_null()
                            | (Transfer.heartbeat_at < now - dt.timedelta(seconds=STALLED_SECONDS)))
    stalled = [t.id for t in query]
    for transfer_id in stalled:
        if at_start:
            start_job(transfer_id)
        else:
            run_job(transfer_id)
    return {"resumed": len(stalled)}


def is_stalled(transfer, now=None):
    now = now or clock.now()
    return transfer.status == "executing" and (
        transfer.heartbeat_at is None or transfer.heartbeat_at < now - dt.timedelta(seconds=STALLED_SECONDS))


hooks.on("sweep", resume_stalled)
