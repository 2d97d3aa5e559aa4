"""What each role's home page shows: queries only, bounded and index-backed."""
import datetime as dt
import functools
import operator

import peewee as pw

from models import clock
from models.audit import AuditEvent
from models.base import kept_select
from models.customers import STAGES, Customer, FollowUp
from models.pools import PoolEvent
from models.users import LoginAttempt, Team, User

ROWS = 10


# The cards' statements of a fixed shape are built once and kept (models.base.kept_select); a list of team
# members' ids keeps one statement per length.

def rep_due(user, limit=ROWS):
    """The rep's customers whose next follow-up is today or overdue, oldest due first."""
    return kept_select("workbench.rep_due", lambda owner, today, n: (
        Customer.select(Customer.id, Customer.name, Customer.stage, Customer.grade, Customer.next_followup_on,
                        Customer.last_followup_at)
        .where((Customer.owner == owner) & (Customer.next_followup_on <= today))
        .order_by(Customer.next_followup_on, Customer.id).limit(n)), user.id, clock.today(), limit)


def rep_due_count(user):
    return (Customer.select().where((Customer.owner == user.id) & (Customer.next_followup_on <= clock.today()))
            .count())


def rep_stalest(user, limit=ROWS):
    """The rep's customers without a follow-up for longest (never first, then oldest activity)."""
    return kept_select("workbench.rep_stalest", lambda owner, n: (
        Customer.select(Customer.id, Customer.name, Customer.stage, Customer.grade, Customer.last_followup_at,
                        Customer.touched_at)
        .where(Customer.owner == owner).order_by(Customer.touched_at, Customer.id).limit(n)), user.id, limit)


def stage_counts(query):
    """{stage: count} for a (scoped) customer query."""
    rows = query.select(Customer.stage, pw.fn.COUNT(Customer.id).alias("n")).group_by(Customer.stage).tuples()
    counts = dict(rows)
    return [(s, counts.get(s, 0)) for s in STAGES]


def _stage_list(counts):
    return [(s, counts.get(s, 0)) for s in STAGES]


def _flag(*conditions):
    """How many rows meet all `conditions` (all rows if none), as an aggregate column."""
    if not conditions:
        return pw.fn.COUNT(Customer.id)
    return pw.fn.SUM(pw.Case(None, [(functools.reduce(operator.and_, conditions), 1)], 0))


def rep_owned(user, counted, shape=None):
    """The rep's customers in one statement: by stage, those counting toward capacity (`counted`: the pool
    rules' conditions, `pools.counted_conditions`), locked ones, those due today or overdue, those on a release
    clock. `shape`: a key naming `counted` (the rules it came from), so that the statement is built once for it."""
    def build(owner, today):
        return (Customer.select(Customer.stage, pw.fn.COUNT(Customer.id), _flag(*counted),
                                _flag(Customer.locked == True),  # noqa: E712
                                _flag(Customer.next_followup_on <= today), _flag(Customer.release_at.is_null(False)))
                .where(Customer.owner == owner).group_by(Customer.stage).tuples())
    rows = (build(user.id, clock.today()).execute() if shape is None else
            kept_select(("workbench.rep_owned", shape), build, user.id, clock.today()))
    counts, used, locks, due, releasing = {}, 0, 0, 0, 0
    for stage, n, c, lk, d, r in rows:
        counts[stage] = n
        used, locks, due, releasing = used + (c or 0), locks + (lk or 0), due + (d or 0), releasing + (r or 0)
    return {"stages": _stage_list(counts), "owned": sum(counts.values()), "used": used, "locks": locks, "due": due,
            "releasing": releasing}


def team_owned(team_id):
    """The team's customers in one statement: ({owner id: customers}, [(stage, count)])."""
    owned, stages = {}, {}
    for owner, stage, n in kept_select("workbench.team_owned", lambda team: (
            Customer.select(Customer.owner, Customer.stage, pw.fn.COUNT(Customer.id))
            .where(Customer.team == team).group_by(Customer.owner, Customer.stage).tuples()), team_id):
        owned[owner] = owned.get(owner, 0) + n
        stages[stage] = stages.get(stage, 0) + n
    return owned, _stage_list(stages)


def team_members(team_id):
    """The users of a team (id, name, role, whether active), by name: the manager's cards name, count and filter
    them from this one read (the view keeps it for the request)."""
    if not team_id:
        return []
    return list(kept_select("workbench.team_members", lambda team: (
        User.select(User.id, User.full_name, User.role, User.active, User.team)
        .where(User.team == team).order_by(User.full_name, User.id)), team_id))


def team_activity(team_id, days=7, members=None, owned=None):
    """Per member of the team: follow-ups and customers in the last `days` days, and customers owned.
    `members`: the team's users as `team_members` reads them, `owned`: {owner id: customers} as `team_owned`
    counts them (each read here when not given)."""
    since = clock.now() - dt.timedelta(days=days)
    members = [m for m in (team_members(team_id) if members is None else members) if m.active]
    ids = [m.id for m in members]
    if not ids:
        return []
    fu = dict(kept_select(("workbench.team_followups", len(ids)), lambda *v: (
        FollowUp.select(FollowUp.author, pw.fn.COUNT(FollowUp.id))
        .where(FollowUp.author.in_(v[:-1]) & (FollowUp.at >= v[-1])).group_by(FollowUp.author).tuples()), *ids, since))
    if owned is None:
        owned = dict(Customer.select(Customer.owner, pw.fn.COUNT(Customer.id))
                     .where(Customer.team == team_id).group_by(Customer.owner).tuples())
    due = dict(kept_select(("workbench.team_overdue", len(ids)), lambda *v: (
        Customer.select(Customer.owner, pw.fn.COUNT(Customer.id))
        .where(Customer.owner.in_(v[:-1]) & (Customer.next_followup_on < v[-1])).group_by(Customer.owner).tuples()),
        *ids, clock.today()))
    return [{"user": m, "followups": fu.get(m.id, 0), "owned": owned.get(m.id, 0), "overdue": due.get(m.id, 0)}
            for m in members]


def recent_events(query_filter=None, limit=ROWS):
    q = AuditEvent.select().order_by(AuditEvent.id.desc()).limit(limit)
    if query_filter is not None:
        q = q.where(query_filter)
    return q


def newest_leads(limit=ROWS):
    """Marketing: the newest customers in its stages."""
    return (Customer.select(Customer.id, Customer.name, Customer.stage, Customer.source, Customer.created_at,
                            Customer.completeness)
            .where(Customer.stage.in_(("unidentified", "prospect"))).order_by(Customer.id.desc()).limit(limit))


def admin_counts():
    """Active users by role, deactivated users, teams and the last day's failed logins, in one statement."""
    since = clock.now() - dt.timedelta(days=1)
    teams = Team.select(pw.fn.COUNT(Team.id))
    failed = LoginAttempt.select(pw.fn.COUNT(LoginAttempt.id)).where((LoginAttempt.at >= since)
                                                                    & (LoginAttempt.success == False))  # noqa: E712
    users, inactive, team_count, failed_logins = {}, 0, None, None
    for role, active, n, team_count, failed_logins in (
            User.select(User.role, User.active, pw.fn.COUNT(User.id), teams, failed)
            .group_by(User.role, User.active).order_by(User.role, User.active).tuples()):
        if active:
            users[role] = n
        else:
            inactive += n
    if team_count is None:  # no user at all (a fresh database)
        team_count, failed_logins = Team.select().count(), failed.scalar()
    return {"users": users, "inactive": inactive, "teams": team_count, "failed_logins": failed_logins}


def my_recent_followups(user, limit=ROWS):
    return (FollowUp.select(FollowUp, Customer.id, Customer.name).join(Customer)
            .where(FollowUp.author == user.id).order_by(FollowUp.at.desc()).limit(limit))


def rep_releasing(user, limit=ROWS):
    """The rep's customers releasing soonest (the release clock of domain §5)."""
    return kept_select("workbench.rep_releasing", lambda owner, n: (
        Customer.select(Customer.id, Customer.name, Customer.stage, Customer.release_at, Customer.release_rule)
        .where((Customer.owner == owner) & Customer.release_at.is_null(False))
        .order_by(Customer.release_at, Customer.id).limit(n)), user.id, limit)


def rep_stakes(user, limit=ROWS):
    """The rep's open stakes, due first, with their completeness."""
    return kept_select("workbench.rep_stakes", lambda staker, n: (
        Customer.select(Customer.id, Customer.name, Customer.completeness, Customer.stake_due,
                        Customer.stake_completed_at)
        .where(Customer.staked_by == staker).order_by(Customer.stake_due, Customer.id).limit(n)), user.id, limit)


def released_since(member_ids, since):
    """The pool events since `since` releasing a customer of one of `member_ids`."""
    return (PoolEvent.select(PoolEvent.id)
            .where(PoolEvent.kind.in_(("release", "forced_release")) & PoolEvent.from_owner.in_(member_ids)
                   & (PoolEvent.at >= since)))


def team_releases(team_id, days=7, member_ids=None, limit=50, now=None, released=True):
    """The team's customers going back to the pool within `days` days, and those released in the last `days`
    (at most `limit` of each, soonest / newest first), as plain rows: the card shows a few and counts the rest.
    Upcoming rows: {id, name, owner_id, release_at}; released: {customer_id, name, from_owner, kind, at}.
    `member_ids`: the ids of the team's users (read here when not given); `released=False`: the caller knows
    there is none."""
    now = now or clock.now()
    upcoming = [dict(zip(("id", "name", "owner_id", "release_at"), row)) for row in
                kept_select("workbench.team_upcoming", lambda team, until, n: (
                    Customer.select(Customer.id, Customer.name, Customer.owner, Customer.release_at)
                    .where((Customer.team == team) & Customer.release_at.is_null(False) & (Customer.release_at <= until))
                    .order_by(Customer.release_at).limit(n).tuples()), team_id, now + dt.timedelta(days=days), limit)]
    if member_ids is None:
        member_ids = [i for (i,) in User.select(User.id).where(User.team == team_id).tuples()]
    if not member_ids or not released:
        return upcoming, []
    # The newest events first, from the index alone; only then their customers (not a join on every match).
    def build(*v):
        newest = released_since(v[:-2], v[-2]).order_by(PoolEvent.id.desc()).limit(v[-1])
        return (PoolEvent.select(PoolEvent.customer, Customer.name, PoolEvent.from_owner, PoolEvent.kind, PoolEvent.at)
                .join(Customer, on=(PoolEvent.customer == Customer.id))
                .where(PoolEvent.id.in_(newest)).order_by(PoolEvent.id.desc()).tuples())
    released = [dict(zip(("customer_id", "name", "from_owner", "kind", "at"), row)) for row in
                kept_select(("workbench.team_released", len(member_ids)), build, *member_ids,
                            now - dt.timedelta(days=days), limit)]
    return upcoming, released
