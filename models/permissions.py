"""Who may do what: every rule in one place.

`can(user, action, obj)` answers, `require` raises NotFound when the answer is no (a forbidden
record is indistinguishable from a missing one), and `visible(query, user)` narrows a customer
query to what the user may see, so lists, counts and search never leak.
"""
from models.errors import NotFound

MARKETING_STAGES = ("unidentified", "prospect")
SELLERS = ("sales", "manager")


def eligible_pool_ids(user):
    """The public pools a rep or manager may browse and claim from: their region's and the open ones."""
    from models.pools import Pool

    if user.role not in SELLERS:
        return []
    cached = getattr(user, "_eligible_pools", None)  # pools change rarely; one answer per request's user
    if cached is not None:
        return cached
    region = Pool.region.is_null() if user.region_id is None else (Pool.region.is_null() | (Pool.region == user.region_id))
    q = Pool.select(Pool.id).where((Pool.active == True) & region)  # noqa: E712
    user._eligible_pools = [p.id for p in q]
    return user._eligible_pools


def _in_my_pool(user, c):
    return c.owner_id is None and c.pool_id is not None and c.pool_id in eligible_pool_ids(user)


def _own_or_team(user, c):
    if user.role == "sales":
        return c.owner_id == user.id
    if user.role == "manager":
        if user.team_id is None:
            return c.owner_id == user.id
        return c.team_id == user.team_id
    return False


def _customer_visible(user, c):
    if user.role in ("admin", "service"):
        return True
    if user.role in SELLERS:
        return _own_or_team(user, c) or c.staked_by_id == user.id or _in_my_pool(user, c)
    if user.role == "marketing":
        return c.stage in MARKETING_STAGES
    return False


def _customer_editable(user, c):
    """Owners (and their manager) edit; a staker edits the staked file to complete it."""
    if user.role == "admin":
        return True
    if user.role in SELLERS:
        return _own_or_team(user, c) or (c.staked_by_id == user.id and c.owner_id is None)
    if user.role == "marketing":
        return c.stage in MARKETING_STAGES
    return False


def _contacts_unmasked(user, c):
    """Key contact details stay masked for reps browsing the pool, until they claim (or stake)."""
    if not _customer_visible(user, c):
        return False
    if user.role in SELLERS and c.owner_id is None and c.staked_by_id != user.id:
        return False
    return True


def _team_manager_of(user, c):
    """Admins, or the manager of the customer's team deciding for a rep: nobody approves their own lock."""
    return user.role == "admin" or (user.role == "manager" and user.team_id is not None and c.team_id == user.team_id
                                    and c.owner_id != user.id)


RULES = {
    "customer.view": _customer_visible,
    "customer.see_contacts": _contacts_unmasked,
    "customer.edit": _customer_editable,
    "customer.change_stage": lambda u, c: _customer_editable(u, c) and (c.owner_id is not None or u.role in ("admin", "marketing")),
    "customer.assign": lambda u, c: u.role == "admin" or (u.role == "manager" and _own_or_team(u, c)),
    "customer.release": lambda u, c: c.owner_id is not None and (u.role == "admin" or _own_or_team(u, c)),
    "followup.create": lambda u, c: u.role == "service" or (_customer_editable(u, c) and not (u.role in SELLERS and c.owner_id is None)),
    "customer.create": lambda u, _=None: u.role in ("sales", "manager", "marketing", "admin"),
    "customer.list": lambda u, _=None: True,
    "pool.browse": lambda u, _=None: u.role in SELLERS + ("admin",),
    "pool.claim": lambda u, c: u.role in SELLERS and _in_my_pool(u, c),
    # Sending a claim and hearing why not: a pool customer one may claim, or one a seller still sees after
    # it was taken (the answer names the rule). Nobody else learns anything: 404.
    "pool.claim_attempt": lambda u, c: u.role in SELLERS and (
        _in_my_pool(u, c) or (c.owner_id is not None and _customer_visible(u, c))),
    "pool.stake": lambda u, c: u.role in SELLERS and _in_my_pool(u, c),
    "pool.assign": lambda u, c: c.owner_id is None and (u.role == "admin" or (u.role == "manager" and _in_my_pool(u, c))),
    "lock.request": lambda u, c: c.owner_id is not None and _own_or_team(u, c),
    "lock.decide": _team_manager_of,
    "capacity.adjust": lambda u, rep: u.role == "admin" or (
        u.role == "manager" and u.team_id is not None and rep.team_id == u.team_id and rep.id != u.id),
    "capacity.view": lambda u, rep: u.id == rep.id or u.role == "admin" or (
        u.role == "manager" and u.team_id is not None and rep.team_id == u.team_id),
    "pool.health": lambda u, _=None: u.role in ("manager", "admin"),
    "lead.route": lambda u, c: u.role in ("marketing", "service", "admin") and _customer_visible(u, c),
    "user.manage": lambda u, _=None: u.role == "admin",
    "team.manage": lambda u, _=None: u.role == "admin",
    "settings.manage": lambda u, _=None: u.role == "admin",
    "audit.view": lambda u, _=None: u.role == "admin",
    # ---- orders, payments and reorder cycles (models/orders.py, models/reorders.py) ----
    # The owner, the team's manager and admins take orders and payments and keep cycles; service reads.
    "product.manage": lambda u, _=None: u.role == "admin",
    "order.view": lambda u, c: u.role in ("admin", "service") or _own_or_team(u, c),
    "order.create": lambda u, c: u.role == "admin" or (_own_or_team(u, c) and c.owner_id is not None),
    "order.edit": lambda u, c: u.role == "admin" or (_own_or_team(u, c) and c.owner_id is not None),
    "payment.manage": lambda u, c: u.role == "admin" or (_own_or_team(u, c) and c.owner_id is not None),
    "reorder.manage": lambda u, c: u.role == "admin" or (_own_or_team(u, c) and c.owner_id is not None),
    "reorder.calendar": lambda u, _=None: u.role in ("sales", "manager", "service", "admin"),
    # ---- service (issue 7): tickets, SLA settings, care plans, repurchase leads (models/service.py, care.py) ----
    "ticket.create": lambda u, _=None: u.role in ("service", "admin"),
    "ticket.queue": lambda u, _=None: u.role in ("service", "admin"),
    "ticket.view": lambda u, t: u.role in ("service", "admin") or (
        u.role in SELLERS and _customer_visible(u, t.customer)),
    "ticket.work": lambda u, t: u.role in ("service", "admin"),
    "ticket.reopen": lambda u, t: u.role in ("service", "admin"),
    "service.dashboard": lambda u, _=None: u.role in ("service", "admin"),
    "service.settings": lambda u, _=None: u.role == "admin",
    "repurchase.raise": lambda u, c: u.role in ("service", "admin") and _customer_visible(u, c),
    "care.plan": lambda u, c=None: u.role in ("service", "admin") and (c is None or _customer_visible(u, c)),
    "care.record": lambda u, plan: u.role == "admin" or (u.role == "service" and (
        plan.service_user_id == u.id or _leads_team_of(u, plan.service_user_id))),
    # ---- opportunities and decision-maker trees (issue 6; models/opportunities.py, models/decision_tree.py) ----
    # Deals follow the customer: its owner, the team's manager and admins see and work them; service reads;
    # the rep an opportunity is given to works it too. Pool browsers and marketing see none.
    "opportunity.list": lambda u, c: _deal_viewer(u, c),
    "opportunity.view": lambda u, o: _deal_viewer(u, o.customer) or o.owner_id == u.id or _leads_team(u, o.team_id),
    "opportunity.create": lambda u, c: u.role == "admin" or (_own_or_team(u, c) and c.owner_id is not None),
    "opportunity.edit": lambda u, o: u.role == "admin" or (u.role in SELLERS and (
        _own_or_team(u, o.customer) or o.owner_id == u.id or _leads_team(u, o.team_id))),
    "opportunity.pipeline": lambda u, _=None: u.role in SELLERS + ("admin", "service"),
    "opportunity.forecast": lambda u, _=None: u.role in SELLERS + ("admin",),
    "opportunity.settings": lambda u, _=None: u.role == "admin",
    "decision_tree.view": lambda u, c: _deal_viewer(u, c),
    "decision_tree.edit": lambda u, c: u.role == "admin" or (_own_or_team(u, c) and c.owner_id is not None),
}


def _deal_viewer(user, c):
    return user.role in ("admin", "service") or _own_or_team(user, c)


def _leads_team(user, team_id):
    return user.role == "manager" and user.team_id is not None and team_id == user.team_id


def _leads_team_of(user, other_id):
    """A service manager (Team.manager of a service team) acts for the agents of that team."""
    from models.users import Team, User

    if not user.team_id:
        return False
    leads = Team.select().where((Team.id == user.team_id) & (Team.manager == user.id)).exists()
    return leads and User.select().where((User.id == other_id) & (User.team == user.team_id)).exists()


def can(user, action, obj=None):
    if user is None or not getattr(user, "is_authenticated", False) or not user.active:
        return False
    rule = RULES.get(action)
    if rule is None:
        raise KeyError(f"unknown permission {action!r}")
    return bool(rule(user, obj))


def require(user, action, obj=None):
    if not can(user, action, obj):
        raise NotFound()


def visible(query, user):
    """Narrow a Customer query to the rows `user` may see (mirrors customer.view)."""
    from models.customers import Customer

    if user is None or not user.active:
        return query.where(Customer.id == 0)  # as can(): a deactivated user sees nothing
    if user.role in ("admin", "service"):
        return query
    if user.role in SELLERS:
        if user.role == "sales" or user.team_id is None:
            cond = Customer.owner == user.id
        else:
            cond = Customer.team == user.team_id
        cond = cond | (Customer.staked_by == user.id)
        pools = eligible_pool_ids(user)
        if pools:
            cond = cond | (Customer.owner.is_null() & Customer.pool.in_(pools))
        return query.where(cond)
    if user.role == "marketing":
        return query.where(Customer.stage.in_(MARKETING_STAGES))
    return query.where(Customer.id == 0)
