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
    from models.customer_tables import Pool

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


def _acts_for(user, c):
    """A delegate (工作代理) works the absentee's customers while the delegation runs (models/delegations.py)."""
    from models.delegation_tables import acting_for_ids

    return c.owner_id is not None and c.owner_id in acting_for_ids(user)


def _works(user, c):
    """Works the customer's deals and orders: the owner, their team's manager, or a delegate acting for the
    owner while the delegation runs."""
    return _own_or_team(user, c) or _acts_for(user, c)


def _customer_visible(user, c):
    if user.role in ("admin", "service"):
        return True
    if user.role in SELLERS:
        return _own_or_team(user, c) or c.staked_by_id == user.id or _in_my_pool(user, c) or _acts_for(user, c)
    if user.role == "marketing":
        return c.stage in MARKETING_STAGES
    return False


def _customer_editable(user, c):
    """Owners (and their manager) edit; a staker edits the staked file to complete it."""
    if user.role == "admin":
        return True
    if user.role in SELLERS:
        return _own_or_team(user, c) or (c.staked_by_id == user.id and c.owner_id is None) or _acts_for(user, c)
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
    "order.view": lambda u, c: u.role in ("admin", "service") or _works(u, c),
    "order.create": lambda u, c: u.role == "admin" or (_works(u, c) and c.owner_id is not None),
    "order.edit": lambda u, c: u.role == "admin" or (_works(u, c) and c.owner_id is not None),
    "payment.manage": lambda u, c: u.role == "admin" or (_works(u, c) and c.owner_id is not None),
    "reorder.manage": lambda u, c: u.role == "admin" or (_works(u, c) and c.owner_id is not None),
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
    "opportunity.create": lambda u, c: u.role == "admin" or (_works(u, c) and c.owner_id is not None),
    "opportunity.edit": lambda u, o: u.role == "admin" or (u.role in SELLERS and (
        _works(u, o.customer) or o.owner_id == u.id or _leads_team(u, o.team_id))),
    "opportunity.pipeline": lambda u, _=None: u.role in SELLERS + ("admin", "service"),
    "opportunity.forecast": lambda u, _=None: u.role in SELLERS + ("admin",),
    "opportunity.settings": lambda u, _=None: u.role == "admin",
    "decision_tree.view": lambda u, c: _deal_viewer(u, c),
    "decision_tree.edit": lambda u, c: u.role == "admin" or (_works(u, c) and c.owner_id is not None),
    # ---- ownership disputes (issue 5): merges, conflict cases 撞单, delegation 工作代理 ----
    # (models/merges.py, models/conflicts.py, models/delegations.py). Admins merge. A seller disputes a
    # customer someone else owns; the parties, their teams' managers and admins see the case; the manager
    # of a team rules inside it (never as a party), admins across teams. A rep names their own delegate,
    # their manager or an admin does it for them.
    "customer.merge": lambda u, _=None: u.role == "admin",
    "conflict.open": lambda u, c: u.role in SELLERS and c.owner_id is not None and c.owner_id != u.id and not (
        u.role == "manager" and u.team_id is not None and c.team_id == u.team_id) and not _acts_for(u, c),
    "conflict.list": lambda u, _=None: u.role in SELLERS + ("admin",),
    "conflict.view": lambda u, case: u.role == "admin" or u.id in (case.claimant_id, case.owner_id) or (
        u.role == "manager" and u.team_id is not None and u.team_id in (case.claimant_team_id, case.owner_team_id)),
    "conflict.rule": lambda u, case: u.id not in (case.claimant_id, case.owner_id) and (u.role == "admin" or (
        u.role == "manager" and u.team_id is not None and case.claimant_team_id == u.team_id == case.owner_team_id)),
    "delegation.list": lambda u, _=None: u.role in SELLERS + ("admin",),
    "delegation.create": lambda u, absentee: absentee.role in SELLERS and (
        u.id == absentee.id or u.role == "admin" or (
            u.role == "manager" and u.team_id is not None and absentee.team_id == u.team_id)),
    "delegation.cancel": lambda u, d: u.role == "admin" or u.id in (d.absentee_id, d.delegate_id) or (
        u.role == "manager" and u.team_id is not None and d.absentee.team_id == u.team_id),
    # ---- projects and documents (issue 6; models/projects.py, models/documents.py) ----
    # A project is seen by its team, its proposer, the customer's owner and team manager, and admins; they
    # (not the proposer alone) work it. The customer's team manager (never on their own proposal) or an admin
    # decides it. Documents follow what they are attached to: a project, an opportunity or the customer.
    "project.list": lambda u, _=None: True,
    "project.criteria": lambda u, _=None: u.role == "admin",
    "project.propose": lambda u, c: u.role == "admin" or (u.role in SELLERS and c.owner_id is not None
                                                          and _own_or_team(u, c)),
    "project.view": lambda u, p: _project_worker(u, p) or p.requested_by_id == u.id,
    "project.work": lambda u, p: _project_worker(u, p),
    "project.decide": lambda u, p: u.role == "admin" or (
        _leads_team(u, p.customer.team_id) and p.requested_by_id != u.id),
    "project.manage_team": lambda u, p: u.role == "admin" or _leads_team(u, p.customer.team_id) or (
        _project_role(u, p) == "project_manager"),
    "project.sign_contract": lambda u, p: u.role == "admin" or _leads_team(u, p.customer.team_id) or (
        _project_role(u, p) == "project_manager") or (p.customer.owner_id == u.id and u.role in SELLERS),
    "document.view": lambda u, d: _document_rule(u, d, "project.view", "opportunity.view", "customer.view"),
    "document.edit": lambda u, d: _document_rule(u, d, "project.work", "opportunity.edit", "customer.edit"),
    "document.opportunity": lambda u, o: can(u, "opportunity.edit", o),
    # ---- transfers (工作转移) and the leaver hand-over (issue 5; models/transfers.py) ----
    # Owners, their manager or an admin ask; the giving team's manager (never for their own customers)
    # and, across teams, each receiving team's manager approve; an admin may approve either side. The
    # leaver's plan: the team's manager or an admin prepares it, an admin carries it out (it deactivates).
    "transfer.request": lambda u, c: c.owner_id is not None and (
        u.role == "admin" or (u.role in SELLERS and _own_or_team(u, c))),
    "transfer.request_for": lambda u, rep: rep.role in SELLERS and (
        u.role == "admin" or (u.role in SELLERS and u.id == rep.id)
        or (u.role == "manager" and u.team_id is not None and rep.team_id == u.team_id)),
    "transfer.view": lambda u, t: _transfer_involves(u, t),
    "transfer.decide": lambda u, approval: _transfer_decider(u, approval),
    "leaver.plan": lambda u, rep: rep.id != u.id and (u.role == "admin" or (
        u.role == "manager" and u.team_id is not None and rep.team_id == u.team_id)),
    "leaver.execute": lambda u, rep: u.role == "admin" and rep.id != u.id,
}


def _transfer_involves(user, transfer):
    """Admins; the requester, the giver and every recipient; the managers of the teams involved."""
    if user.role == "admin" or user.id in (transfer.requester_id, transfer.from_user_id):
        return True
    if user.role == "manager" and user.team_id is not None and user.team_id in transfer.teams():
        return True
    return user.role in SELLERS and user.id in transfer.recipients()


def _transfer_decider(user, approval):
    """An admin decides either side; a manager their team's side, never for their own customers."""
    if user.role == "admin":
        return True
    if user.role != "manager" or user.team_id is None or approval.team_id != user.team_id:
        return False
    transfer = approval.transfer_or_none()
    return transfer is not None and transfer.from_user_id != user.id


def _project_role(user, project):
    return project.member_role(user)


def _project_worker(user, project):
    """Admins, the project team, and the customer's owner and team manager."""
    return user.role == "admin" or _project_role(user, project) is not None or _own_or_team(user, project.customer)


def _document_rule(user, document, on_project, on_opportunity, on_customer):
    if document.project_id:
        return can(user, on_project, document.project)
    if document.opportunity_id:
        return can(user, on_opportunity, document.opportunity)
    return can(user, on_customer, document.customer)


def _deal_viewer(user, c):
    return user.role in ("admin", "service") or _works(user, c)


def _leads_team(user, team_id):
    return user.role == "manager" and user.team_id is not None and team_id == user.team_id


def _leads_team_of(user, other_id):
    """A service manager (Team.manager of a service team) acts for the agents of that team."""
    from models.user_tables import Team, User

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
    from models.customer_tables import Customer

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
        from models.delegation_tables import acting_for_ids
        absentees = acting_for_ids(user)
        if absentees:
            cond = cond | Customer.owner.in_(list(absentees))
        return query.where(cond)
    if user.role == "marketing":
        return query.where(Customer.stage.in_(MARKETING_STAGES))
    return query.where(Customer.id == 0)
