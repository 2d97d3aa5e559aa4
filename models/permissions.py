"""Who may do what: every rule in one place.

`can(user, action, obj)` answers, `require` raises NotFound when the answer is no (a forbidden
record is indistinguishable from a missing one), and `visible(query, user)` narrows a customer
query to what the user may see, so lists, counts and search never leak.
"""
from models.base import kept_select
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
    if user.region_id is None:
        q = kept_select("open_pools", lambda: Pool.select(Pool.id).where((Pool.active == True) & Pool.region.is_null()))  # noqa: E712
    else:
        q = kept_select("region_pools", lambda region: Pool.select(Pool.id).where(
            (Pool.active == True) & (Pool.region.is_null() | (Pool.region == region))), user.region_id)  # noqa: E712
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


def _sees_an_entity(user, group):
    """Whether the user opens at least one legal entity of the group (one indexed query)."""
    from models.customer_tables import Customer

    return scope("customer", user, Customer.select(Customer.id).where(Customer.group == group.id)).exists()


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


def _enters_value(user, c):
    """Enters what the rep knows about an owned customer's value (influence, strategies done, buying factors,
    spend estimates): the owner, their team's manager or a delegate; admins on any file."""
    return user.role == "admin" or (user.role in SELLERS and _works(user, c) and c.owner_id is not None)


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
    "drop.queue": lambda u, c: u.role in SELLERS and _in_my_pool(u, c),  # fair drops (models/drops.py)
    "pool.assign": lambda u, c: c.owner_id is None and (u.role == "admin" or (u.role == "manager" and _in_my_pool(u, c))),
    "lock.request": lambda u, c: c.owner_id is not None and _own_or_team(u, c),
    "lock.decide": _team_manager_of,
    "pause.request": lambda u, c: c.owner_id is not None and c.owner_id == u.id,  # models/pool_clock.py
    "pause.decide": _team_manager_of,
    "capacity.adjust": lambda u, rep: u.role == "admin" or (
        u.role == "manager" and u.team_id is not None and rep.team_id == u.team_id and rep.id != u.id),
    # a private pool is a seller's: marketing, service and admins have none to show (issue 13)
    "capacity.view": lambda u, rep: rep.role in SELLERS and (u.id == rep.id or u.role == "admin" or (
        u.role == "manager" and u.team_id is not None and rep.team_id == u.team_id)),
    "pool.health": lambda u, _=None: u.role in ("manager", "admin"),
    "lead.route": lambda u, c: u.role in ("marketing", "service", "admin") and _customer_visible(u, c),
    "user.manage": lambda u, _=None: u.role == "admin",
    "team.manage": lambda u, _=None: u.role == "admin",
    "settings.manage": lambda u, _=None: u.role == "admin",
    # Custom profile fields: admins define them; their values are edited by whoever may edit the customer
    # (customer.edit), through the customer form.
    "custom_field.manage": lambda u, _=None: u.role == "admin",
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
    # A customer's tickets (360 tab and side card): service and admins, and the sellers who see the customer.
    "ticket.list": lambda u, c: u.role in ("service", "admin") or (u.role in SELLERS and _customer_visible(u, c)),
    "ticket.view": lambda u, t: can(u, "ticket.list", t.customer),
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
    # Service reads a customer's deals on its file (the repurchase leads it raises go to that owner), not the
    # pipeline board, list and statistics of every team with their amounts (issue 13): sellers and admins only.
    "opportunity.pipeline": lambda u, _=None: u.role in SELLERS + ("admin",),
    "opportunity.forecast": lambda u, _=None: u.role in SELLERS + ("admin",),
    "opportunity.settings": lambda u, _=None: u.role == "admin",
    # Narrowing the board, list and forecast by rep or team: within what the user sees anyway.
    "opportunity.filter_owner": lambda u, _=None: u.role in ("manager", "admin"),
    "opportunity.filter_team": lambda u, _=None: u.role == "admin",
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
    "project.list_team": lambda u, _=None: _leads_team(u, u.team_id),
    "project.list_all": lambda u, _=None: u.role == "admin",
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
    "leaver.any_rep": lambda u, _=None: u.role == "admin",
    # the transfer list and its menu entry: those who own, give or approve customers (issue 13)
    "transfer.list": lambda u, _=None: u.role in SELLERS + ("admin",),  # a leaver's customers may go to any team's rep
    "transfer.all_items": lambda u, t: u.role == "admin" or u.id in (t.requester_id, t.from_user_id) or (
        _leads_team(u, u.team_id) and u.team_id in t.teams()),  # a recipient sees only their share
    # ---- leads and campaigns (issue 14; models/leads.py, models/campaigns.py) ----
    # Marketing and reps enter leads; marketing (and admins) judge, route and override; the rep a lead is
    # routed to (or their delegate) accepts or sends it back; the rep's team manager re-routes; admins keep
    # the routing rule. A seller sees the leads they entered, were given, or (a manager) their team's.
    "lead.intake": lambda u, _=None: u.role in ("marketing", "sales", "manager", "admin"),
    "lead.queue": lambda u, _=None: u.role in ("marketing", "admin"),
    "lead.view": lambda u, lead: _lead_viewer(u, lead),
    "lead.judge": lambda u, lead: u.role in ("marketing", "admin"),
    "lead.respond": lambda u, lead: u.role in SELLERS and lead.status == "routed" and lead.routed_to_id is not None and (
        lead.routed_to_id == u.id or lead.routed_to_id in _absentees(u)),
    "lead.reroute": lambda u, lead: lead.status in ("new", "qualified", "sent_back", "routed") and (
        u.role in ("marketing", "admin") or (lead.status == "routed" and _leads_team(u, lead.team_id)
                                            and lead.routed_to_id != u.id)),
    "lead.mine": lambda u, _=None: u.role in SELLERS,
    "lead.report": lambda u, _=None: u.role in ("marketing", "manager", "admin"),
    "routing.view": lambda u, _=None: u.role in ("marketing", "admin"),
    "routing.manage": lambda u, _=None: u.role == "admin",
    "lead_source.manage": lambda u, _=None: u.role in ("marketing", "admin"),
    "campaign.view": lambda u, _=None: u.role in ("marketing", "manager", "admin"),
    "campaign.manage": lambda u, _=None: u.role in ("marketing", "admin"),
    # ---- customer import and export (issue 14 points 7 and 8; models/imports.py, models/exports.py) ----
    # Admins and marketing import; a job is seen by whoever uploaded it (and admins). Everyone exports the
    # customer list they see (the export reads through the customer scope); admins set the row limits.
    "import.run": lambda u, _=None: u.role in ("admin", "marketing"),
    "import.view": lambda u, job: u.role in ("admin", "marketing") and (
        u.role == "admin" or job.created_by_id == u.id),
    "import.all": lambda u, _=None: u.role == "admin",
    "customer.export": lambda u, _=None: True,
    "export.settings": lambda u, _=None: u.role == "admin",
    # ---- customer value (issue 15; models/value.py) ----
    # The value card follows the sales figures (owner, team manager, delegate, admin, service); the owner or
    # their manager (or an admin) enters influence and ticks the tier's strategies off; managers see their
    # team's pyramid, admins everyone's and edit the value rule and the strategies per tier.
    "value.view": lambda u, c: u.role in ("admin", "service") or _works(u, c),
    "value.influence": _enters_value,
    "value.strategy": _enters_value,
    "value.pyramid": lambda u, _=None: u.role in ("manager", "admin"),
    "value.pyramid_all": lambda u, _=None: u.role == "admin",
    "value.rules": lambda u, _=None: u.role == "admin",
    # Buying factors and share of wallet (items 7 and 8): entered by whoever enters influence; read with the
    # value card; the factor split and the "share falls" list follow the pyramid (a manager's: the team's).
    "value.factors": _enters_value,
    "value.wallet": _enters_value,
    # ---- appeals and undo (issue 20 item 2; models/appeals.py) ----
    # The rep a release took a customer from appeals it (the verb checks the window); the manager of the team
    # they were in when appealing decides, never on their own appeal, else an admin. A conflict ruling is
    # appealed by the rep who lost it; its appeal is decided by whoever may rule the case. Admins undo forced
    # releases in bulk.
    "appeal.file": lambda u, ev: u.role in SELLERS and ev.from_owner is not None and ev.from_owner == u.id,
    "appeal.decide": lambda u, a: a.appellant_id != u.id and (u.role == "admin" or _leads_team(u, a.team_id)),
    "appeal.view": lambda u, a: a.appellant_id == u.id or can(u, "appeal.decide", a),
    "conflict.appeal": lambda u, case: case.status == "closed" and u.id == (
        case.owner_id if case.outcome == "claimant" else case.claimant_id),
    "release.undo": lambda u, _=None: u.role == "admin",
    # ---- data quality (issue 17; models/quality.py) ----
    # Admins and users an admin granted "quality" work the queue, draw samples and run the directed rules;
    # admins keep the quality rule. Any seller complains about a file they may see (not their own: the verb
    # says so). A check opens for its workers, the file's answerable rep (and their team's manager) and a
    # complaint's reporter; only workers and the reporter see who complained. The owner answers once.
    "quality.work": lambda u, _=None: u.role == "admin" or u.granted("quality"),
    "quality.rules": lambda u, _=None: u.role == "admin",
    "quality.complain": lambda u, c: u.role in SELLERS and _customer_visible(u, c),
    "quality.view_check": lambda u, k: can(u, "quality.work") or u.id in (k.owner_id, k.reporter_id) or (
        k.owner_id is not None and _leads_team(u, _team_of(k.owner_id))),
    "quality.see_reporter": lambda u, k: can(u, "quality.work") or k.reporter_id == u.id,
    "quality.respond": lambda u, k: k.owner_id == u.id and k.status == "done" and k.responded_at is None,
    "quality.view_rep": lambda u, rep: u.id == rep.id or can(u, "quality.work") or (
        rep.team_id is not None and _leads_team(u, rep.team_id)),
    "quality.mine": lambda u, _=None: u.role in SELLERS,
    # ---- fairness figures and flags (issue 20 items 5 and 6; models/fairness.py) ----
    # A team's manager sees the team's figures and reviews its flags, an admin every team's; a rep (or manager)
    # sees their own figures beside the team's average, never a colleague's, and no flags.
    "fairness.view": lambda u, _=None: u.role in ("manager", "admin"),
    "fairness.all_teams": lambda u, _=None: u.role == "admin",
    "fairness.mine": lambda u, _=None: u.role in SELLERS,
    "fairness.review": lambda u, f: u.role == "admin" or _leads_team(u, f.team_id),
    # ---- pool cleansing (issue 17 item 4; models/cleansing.py) ----
    # Admins start, close and normalise campaigns and restore quarantined records. Sellers see the open
    # campaigns; a task is classified by the rep it was given to (or, given to a team, by its members), by
    # the team's manager, or by an admin; everyone else is told who holds it.
    "cleansing.start": lambda u, _=None: u.role == "admin",
    "cleansing.restore": lambda u, _=None: u.role == "admin",
    "cleansing.view": lambda u, _=None: u.role == "admin" or u.role in SELLERS,
    "cleansing.see_task": lambda u, t: u.role == "admin" or (
        u.role in SELLERS and u.team_id is not None and t.team == u.team_id),
    "cleansing.work": lambda u, t: u.role == "admin" or (u.role in SELLERS and u.team_id is not None and (
        t.assignee == u.id or (t.team == u.team_id and (t.assignee is None or u.role == "manager")))),
    # ---- contacts who change job, customer groups, completeness weights (issue 17 items 5–7) ----
    # A job change is an edit of the contact's customer (the new role goes only to a customer one edits too);
    # a group opens to whoever opens one of its entities and to its owner; admins name its owner and weigh
    # completeness per business model.
    "contact.change_job": lambda u, c: _customer_editable(u, c),
    "group.view": lambda u, g: u.role in ("admin", "service") or g.owner_id == u.id or _sees_an_entity(u, g),
    "group.manage": lambda u, _=None: u.role == "admin",
    "completeness.weights": lambda u, _=None: u.role == "admin",
    # ---- dashboards and the to-do centre (issue 16 items 5 and 6, models/dashboards.py, models/todo.py) ----
    # Managers see their team's dashboards, admins everyone's (with a team filter); every role has a to-do centre.
    "dashboard.view": lambda u, _=None: u.role in ("manager", "admin"),
    "dashboard.all": lambda u, _=None: u.role == "admin",
    "todo.view": lambda u, _=None: u.active,
    # ---- targets and performance (issue 16; models/targets.py, models/performance.py) ----
    # A team's manager sets and reads its targets and its ranking, an admin every team's; reps see their own
    # shares and their own figures beside the team's average, never a colleague's details. Admins add kinds.
    "target.team": lambda u, team_id: u.role == "admin" or _leads_team(u, team_id),
    "target.set": lambda u, team_id: u.role == "admin" or _leads_team(u, team_id),
    "target.all_teams": lambda u, _=None: u.role == "admin",
    "target.kinds": lambda u, _=None: u.role == "admin",
    "target.mine": lambda u, _=None: u.role in SELLERS,
    "performance.view": lambda u, _=None: u.role in SELLERS + ("admin",),
    "performance.team": lambda u, team_id: u.role == "admin" or _leads_team(u, team_id),
    "performance.all_teams": lambda u, _=None: u.role == "admin",
    "performance.rep": lambda u, rep: u.role == "admin" or u.id == rep.id or _leads_team(u, rep.team_id),
    # ---- what a role's screens offer: menus, workbench cards, choices and defaults ----
    # Views and templates ask these by name and never compare roles (tests/test_list_scopes.py greps).
    "pool.work": lambda u, _=None: u.role in SELLERS,  # claims and stakes, a private pool and its capacity
    "approvals.inbox": lambda u, _=None: u.role in ("manager", "admin"),
    "team.lead": lambda u, _=None: u.role == "manager",  # a manager, with or without a team yet
    "team.leads_one": lambda u, _=None: _leads_team(u, u.team_id),
    "customer.creates_own": lambda u, _=None: u.role == "sales",  # a rep's new customer is theirs, rep-developed
    "customer.place_new": lambda u, _=None: u.role in ("manager", "marketing", "admin"),  # stage (and owner) of a new one
    "customer.any_stage": lambda u, _=None: u.role != "marketing",
    # the stages a user may move a customer to (asked per stage; the stage menu offers only these)
    "customer.set_stage": lambda u, stage=None: u.role != "marketing" or stage in MARKETING_STAGES + ("target",),
    "customer.choose_owner": lambda u, _=None: u.role in ("manager", "admin"),
    "customer.choose_any_owner": lambda u, _=None: u.role == "admin",
    "customer.filter_any_owner": lambda u, _=None: u.role in ("admin", "service", "marketing"),
    "conflict.dispute": lambda u, _=None: u.role in SELLERS,  # the duplicate warning offers a conflict case
    "conflict.awaiting": lambda u, _=None: u.role in ("manager", "admin"),  # "waiting for my ruling"
    "opportunity.choose_owner": lambda u, _=None: u.role in ("manager", "admin"),
    "opportunity.forecast_teams": lambda u, _=None: u.role == "admin",
    "delegation.all": lambda u, _=None: u.role == "admin",
    "delegation.absent": lambda u, _=None: u.role in SELLERS,  # may be away and have a delegate
    "care.own_plans": lambda u, _=None: u.role == "service",  # the care list starts with one's own plans
    "order.take": lambda u, _=None: u.role in SELLERS + ("admin",),
    "reorder.as_service": lambda u, _=None: u.role == "service",  # the calendar of one's serviced customers
    "reorder.any_team": lambda u, _=None: u.role == "admin",
    "pool.health_all": lambda u, _=None: u.role == "admin",
    "pool.any_region": lambda u, _=None: u.role in ("admin", "service", "marketing"),  # every pool in the filters
    "capacity.team": lambda u, _=None: u.role in ("manager", "admin"),  # the rep's team beside their capacity
    # ---- a rep's day (issue 16; models/plans.py, models/daily_reports.py) ----
    # A seller plans visits and calls on the customers they may log follow-ups on, carries them out, rolls
    # them over or closes them; their team's manager and admins see the plans. A seller files their own
    # daily report; the manager of their team (never on their own report) or an admin reads, comments and
    # marks it read.
    "plan.make": lambda u, _=None: u.role in SELLERS,
    "plan.customer": lambda u, c: u.role in SELLERS and can(u, "followup.create", c),
    "plan.view_rep": lambda u, rep: (u.id == rep.id and u.role in SELLERS) or u.role == "admin" or (
        _leads_team(u, rep.team_id)),
    "plan.view": lambda u, item: can(u, "plan.view_rep", item.rep),
    "plan.work": lambda u, item: u.role in SELLERS and item.rep_id == u.id,
    "plan.team": lambda u, _=None: u.role == "admin" or _leads_team(u, u.team_id),
    "report.write": lambda u, rep: u.role in SELLERS and rep.id == u.id,
    "report.view": lambda u, r: can(u, "plan.view_rep", r.rep),
    "report.review": lambda u, r: r.rep_id != u.id and (u.role == "admin" or _leads_team(u, r.rep.team_id)),
    "workbench.panel": lambda u, roles: u.role in roles,  # a card registered for these roles
    "workbench.seller": lambda u, _=None: u.role in SELLERS,
    "workbench.marketing": lambda u, _=None: u.role == "marketing",
    "workbench.service": lambda u, _=None: u.role == "service",
    "workbench.admin": lambda u, _=None: u.role == "admin",
}


_TABLES = {}


def _table(name):
    """A domain's table by class name, for the list scopes. permissions sits below the domains (they import
    it), so it never imports them: the tables come from `all_models()`, which has them all."""
    if not _TABLES:
        from models.base import all_models

        _TABLES.update({model.__name__: model for model in all_models()})
    return _TABLES[name]


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


def _absentees(user):
    from models.delegation_tables import acting_for_ids

    return acting_for_ids(user)


def _lead_viewer(user, lead):
    """Marketing and admins; the seller who entered it, the rep it is routed to and their delegate, and
    the manager of that rep's team."""
    if user.role in ("marketing", "admin"):
        return True
    if user.role not in SELLERS:
        return False
    return lead.created_by_id == user.id or (lead.routed_to_id is not None and (
        lead.routed_to_id == user.id or lead.routed_to_id in _absentees(user))) or _leads_team(user, lead.team_id)


def _deal_viewer(user, c):
    return user.role in ("admin", "service") or _works(user, c)


def _leads_team(user, team_id):
    return user.role == "manager" and user.team_id is not None and team_id == user.team_id


def _team_of(user_id):
    from models.user_tables import User

    return User.select(User.team).where(User.id == user_id).scalar()


def _leads_team_of(user, other_id):
    """A service manager (Team.manager of a service team) acts for the agents of that team."""
    from models.user_tables import Team, User

    if not user.team_id:
        return False
    leads = Team.select().where((Team.id == user.team_id) & (Team.manager == user.id)).exists()
    return leads and User.select().where((User.id == other_id) & (User.team == user.team_id)).exists()


def appeal_inbox(user, query, Appeal):
    """`appeal.decide` as a condition on an Appeal query: a team manager's team's (not their own), an admin's all."""
    if user.role == "admin":
        return query.where(Appeal.appellant != user.id)
    if user.role == "manager" and user.team_id is not None:
        return query.where((Appeal.team_id == user.team_id) & (Appeal.appellant != user.id))
    return query.where(Appeal.id == 0)


def acting_user(user):
    """The user object behind `user`: the web layer hands in a proxy of the request's user (Flask-Login's
    current_user), whose every attribute read looks the request up again (~3 µs: a rule reading the role,
    the team and the id four times cost 12 µs against 0.6). A rule reads the object itself."""
    unwrap = getattr(type(user), "_get_current_object", None)
    return user if unwrap is None else user._get_current_object()


def can(user, action, obj=None):
    user = acting_user(user)
    if user is None or not getattr(user, "is_authenticated", False) or not user.active:
        return False
    rule = RULES.get(action)
    if rule is None:
        raise KeyError(f"unknown permission {action!r}")
    return bool(rule(user, obj))


def require(user, action, obj=None):
    if not can(user, action, obj):
        raise NotFound()


def sees_all_owned(user):
    """Whether every customer `user` owns is one they may open (customer.view): a rep's own (`_own_or_team`), and
    everything for admins and service. A list of "mine" then needs nothing of the scope but the owner's index."""
    user = acting_user(user)
    if user is None or not getattr(user, "active", False):
        return False
    return user.role in ("admin", "service", "sales") or (user.role == "manager" and user.team_id is None)


def sees_every_customer(user):
    """Whether `user` may open every customer (their customer scope is the whole table)."""
    user = acting_user(user)
    return user is not None and getattr(user, "active", False) and _customer_scope(user) is True


def visible(query, user):
    """Narrow a Customer query to the rows `user` may see (`scope("customer", ...)`, the older name)."""
    return scope("customer", user, query)


# ---- list scopes: one per kind, each the SQL twin of the kind's `view` rule ---------------------------
# `scope(kind, user, query)` narrows a query of that kind to exactly the records `can_open(user, kind, r)`
# allows, so a list, a count or a search never shows what the record's page would refuse, and nothing a
# user may open is missing from every list (tests/test_list_scopes.py checks both ways for every kind).
# Lists add their own filters (status, "mine", pending) on top; they never narrow by role themselves.

def _model(kind):
    ConflictCase = _table("ConflictCase")
    from models.customer_tables import Customer
    Opportunity = _table("Opportunity")
    Order = _table("Order")
    LockRequest = _table("LockRequest")
    Project = _table("Project")
    Ticket = _table("Ticket")
    Transfer = _table("Transfer")
    TransferApproval = _table("TransferApproval")
    Lead = _table("Lead")

    return {"plan_item": _table("PlanItem"), "daily_report": _table("DailyReport"), "lead": Lead, "customer": Customer, "opportunity": Opportunity, "project": Project, "order": Order,
            "ticket": Ticket, "transfer": Transfer, "conflict": ConflictCase, "lock_request": LockRequest,
            "approval": TransferApproval, "project_decision": Project, "pause": _table("CustomerPause")}[kind]


# kind -> (the rule that opens one record, what the rule is asked about)
OPEN_RULES = {
    "customer": ("customer.view", lambda c: c),
    "opportunity": ("opportunity.view", lambda o: o),
    "project": ("project.view", lambda p: p),
    "order": ("order.view", lambda o: o.customer),
    "ticket": ("ticket.view", lambda t: t),
    "transfer": ("transfer.view", lambda t: t),
    "conflict": ("conflict.view", lambda case: case),
    "lock_request": ("lock.decide", lambda r: r.customer),  # the inbox row: who decides it
    "pause": ("pause.decide", lambda r: r.customer),        # a customer's pause, in the inbox
    "approval": ("transfer.decide", lambda a: a),           # a transfer's side, in the inbox
    "project_decision": ("project.decide", lambda p: p),     # a proposal, in the inbox
    "lead": ("lead.view", lambda lead: lead),
    "plan_item": ("plan.view", lambda item: item),
    "daily_report": ("report.view", lambda r: r),
}


def can_open(user, kind, record):
    """The single-record rule a scope mirrors."""
    action, subject = OPEN_RULES[kind]
    return can(user, action, subject(record))


def scope(kind, user, query=None):
    """Narrow `query` (every row of `kind` when None) to the records `user` may open."""
    user = acting_user(user)
    model = _model(kind)
    if query is None:
        query = model.select()
    if user is None or not getattr(user, "active", False):
        return query.where(model.id == 0)  # as can(): a deactivated user sees nothing
    cond = _SCOPES[kind](user)
    if cond is True:
        return query
    if cond is False:
        return query.where(model.id == 0)
    return query.where(cond)


def _either(*conds):
    """OR of the conditions that are not False (True wins); False when none is left."""
    out = False
    for cond in conds:
        if cond is True:
            return True
        if cond is False:
            continue
        out = cond if out is False else (out | cond)
    return out


def _own_or_team_where(user):
    """`_own_or_team` as a Customer condition."""
    from models.customer_tables import Customer

    if user.role == "sales" or (user.role == "manager" and user.team_id is None):
        return Customer.owner == user.id
    if user.role == "manager":
        return Customer.team == user.team_id
    return False


def _acts_for_where(user):
    from models.customer_tables import Customer
    from models.delegation_tables import acting_for_ids

    absentees = acting_for_ids(user)
    return Customer.owner.in_(list(absentees)) if absentees else False


def _works_where(user):
    return _either(_own_or_team_where(user), _acts_for_where(user))


def _customers(cond):
    """Customer ids where `cond` holds, for another kind's `customer IN (...)` (False stays False)."""
    from models.customer_tables import Customer

    if cond is False or cond is True:
        return cond
    return Customer.select(Customer.id).where(cond)


def _seller_branches(user):
    """The parts of a seller's customer scope, each answered by an index of its own: what they work, what
    they staked, the pools' unowned customers, the absentees' they act for (False: a part they lack)."""
    from models.customer_tables import Customer

    pools = eligible_pool_ids(user)
    return [_own_or_team_where(user), Customer.staked_by == user.id,
            (Customer.owner.is_null() & Customer.pool.in_(pools)) if pools else False, _acts_for_where(user)]


def customer_scope_branches(user, owned=False, unowned=False):
    """`scope("customer", user)` as a list of conditions whose union it is, when it is a union of more than
    one (a seller's): a list ordered on another column walks each one's index — one per pool, on (pool,
    sort column) — and merges the pages, where the OR would read and sort a region's whole pool. Each part
    is (condition, small): a small part (the stakes, bounded by the stake quota) is read whole on its own
    index and sorted with the rest (ordered in SQL, the planner would walk the whole sort index). `owned`:
    only owned customers are wanted (a list of release dates: a pool customer has none), so no pool part.
    `unowned`: only unowned ones (a pool's page), so no part of owned customers — what they work (their own,
    their team's: an unowned customer has no team) and the absentees' — which would walk a whole team's
    customers to find none (a manager's pool page at 1M: 2.4 s). None when the scope is one condition."""
    from models.customer_tables import Customer

    if user is None or not getattr(user, "active", False) or user.role not in SELLERS:
        return None
    from models.sql import no_index

    work, staked, _, acts_for = _seller_branches(user)
    # on (pool, sort column): SQLite's statistics cannot tell that a NULL owner is a fifth of the table
    pools = [] if owned else [no_index(Customer.owner).is_null() & (Customer.pool == p) for p in eligible_pool_ids(user)]
    owners = () if unowned else (work, acts_for)
    branches = [(b, b is staked) for b in (*owners[:1], staked, *pools, *owners[1:]) if b is not False]
    return branches if len(branches) > 1 else None


def _customer_scope(user):
    from models.customer_tables import Customer

    if user.role in ("admin", "service"):
        return True
    if user.role in SELLERS:
        return _either(*_seller_branches(user))
    if user.role == "marketing":
        return Customer.stage.in_(MARKETING_STAGES)
    return False


RESIDUE_MAX = 500


def _opportunity_scope(user):
    """The opportunities on a user's board and list: their pipeline (a rep's own, a manager's team's; the
    absentees' when acting for them), plus, looked up by id first, the few deals on customers a rep owns
    or acts for that the pipeline leaves out (a teammate holds it, it closed before the customer came to
    them), so the board and the list keep their index-ordered plans. All of it opens (opportunity.view).

    One gap, for speed: a deal on a team customer that is filed outside the team (closed before the
    customer came over, or left by a claim) opens for the team's manager but is listed only on the
    customer's 360 Opportunities tab. Finding those means reading every deal of the team's customers
    (30 ms for 10 reps on 200,000 deals, more than the whole board); tests/test_list_scopes.py pins it."""
    shape = opportunity_shape(user)
    return shape[2](*shape[1]) if isinstance(shape, tuple) else shape


class Marked:
    """A user as a kept statement's builder reads them: their role, and marks (or their values) for their id and
    team. Only what the scopes' conditions put into SQL is here: a rule that reads more is not built with it."""

    active = is_authenticated = True

    def __init__(self, user, user_id, team_id):
        self.role, self.id, self.team_id = user.role, user_id, team_id


def opportunity_shape(user):
    """`scope("opportunity", user)`'s condition for a statement kept by models.base.kept_select, as (key, values,
    condition(*values)): what the scope reads — the delegations, the residue's ids (read here, with the user) —
    and the same condition rebuilt from marks in their place. True: the whole table (admin, service); False:
    nothing (a deactivated user)."""
    from models.base import kept_select
    from models.delegation_tables import acting_for_ids
    O = _table("Opportunity")

    user = acting_user(user)
    if not getattr(user, "active", False):
        return False
    if user.role in ("admin", "service"):
        return True
    absentees = list(acting_for_ids(user))
    leads = _leads_team(user, user.team_id)
    head = [user.id, user.team_id] if leads else [user.id]  # the team is read only by its manager's scope
    shape = ("opportunity", user.role, leads, len(absentees))

    def parts(*values):
        """(pipeline, left_out) from the user's id, their team's (a manager's) and the absentees' ids."""
        user_id, team_id = values[0], (values[1] if leads else None)
        marked, away = Marked(user, user_id, team_id), list(values[len(head):])
        pipeline = _either((O.team == team_id) if leads else (O.owner == user_id), O.owner.in_(away) if away else False)
        worked = _either(False if leads else _own_or_team_where(marked), _customer_owner_in(away) if away else False)
        left_out = _either(O.owner == user_id if leads else False,
                           O.customer.in_(_customers(worked)) if worked is not False else False)
        return pipeline, left_out

    def residue(*values):
        # EXCEPT over the covering indexes: no deal row is read (each request starts with a cold page cache)
        # and a NULL owner or team is simply not in the pipeline.
        pipeline, left_out = parts(*values)
        query = O.select(O.id).where(left_out)
        if pipeline is not False:
            query = query - O.select(O.id).where(pipeline)
        return query.limit(RESIDUE_MAX + 1).tuples()

    values = head + absentees
    if parts(*values)[1] is False:
        ids = []
    else:
        ids = [pk for (pk,) in kept_select(shape + ("residue",), residue, *values)]
    if len(ids) > RESIDUE_MAX:
        return shape + ("all left out",), values, lambda *v: _either(*parts(*v))
    n = len(values)
    return (shape + (len(ids),), values + ids,
            lambda *v: _either(parts(*v[:n])[0], O.id.in_(list(v[n:])) if len(v) > n else False))


def pipeline_head(user):
    """(leads, values): whether the user answers for a team's pipeline, and the values `pipeline_where` puts into
    SQL for them, for a kept statement: a team's manager their team, a seller their id, nobody else anything."""
    if user.role in SELLERS:
        leads = _leads_team(user, user.team_id)
        return leads, [user.team_id] if leads else [user.id]
    return False, []


def _customer_owner_in(ids):
    from models.customer_tables import Customer

    return Customer.owner.in_(ids)


def pipeline_where(user, owner, team, delegated=False):
    """The pipeline a user answers for, on a table with owner and team columns (the opportunity summary
    tables): all for admin and service, a manager's team, a rep's own (a manager without a team: their
    own); `delegated` adds the absentees the user acts for (their board). False: none."""
    from models.delegation_tables import acting_for_ids

    if user.role in ("admin", "service"):
        return True
    if user.role not in SELLERS:
        return False
    cond = (team == user.team_id) if _leads_team(user, user.team_id) else (owner == user.id)
    absentees = acting_for_ids(user) if delegated else ()
    return cond | owner.in_(list(absentees)) if absentees else cond


def _project_scope(user):
    P = _table("Project")
    ProjectMember = _table("ProjectMember")

    if user.role == "admin":
        return True
    own = _customers(_own_or_team_where(user))
    return _either(P.requested_by == user.id,
                   P.id.in_(ProjectMember.select(ProjectMember.project).where(ProjectMember.user == user.id)),
                   P.customer.in_(own) if own is not False else False)


def _order_scope(user):
    Order = _table("Order")

    if user.role in ("admin", "service"):
        return True
    works = _customers(_works_where(user))
    return Order.customer.in_(works) if works is not False else False


def _ticket_scope(user):
    Ticket = _table("Ticket")

    if user.role in ("admin", "service"):
        return True
    if user.role not in SELLERS:
        return False
    seen = _customers(_customer_scope(user))
    return Ticket.customer.in_(seen) if seen is not False else False


def _transfer_scope(user):
    T = _table("Transfer")
    TransferApproval = _table("TransferApproval")
    TransferItem = _table("TransferItem")

    if user.role == "admin":
        return True
    mine = (T.requester == user.id) | (T.from_user == user.id)
    if user.role == "manager" and user.team_id is not None:
        sides = TransferApproval.select(TransferApproval.transfer).where(TransferApproval.team == user.team_id)
        mine = mine | (T.from_team == user.team_id) | T.id.in_(sides)
    if user.role in SELLERS:
        mine = mine | T.id.in_(TransferItem.select(TransferItem.transfer).where(TransferItem.to_user == user.id))
    return mine


def _conflict_scope(user):
    K = _table("ConflictCase")

    if user.role == "admin":
        return True
    cond = (K.claimant == user.id) | (K.owner == user.id)
    if user.role == "manager" and user.team_id is not None:
        cond = cond | (K.claimant_team == user.team_id) | (K.owner_team == user.team_id)
    return cond


def _team_manager_rows(table_name):
    """The scope of a `_team_manager_of` rule over a table of requests about a customer (`customer` field):
    the manager of the customer's team (not on their own customer's request), admins."""
    def scope_(user):
        from models.customer_tables import Customer
        rows = _table(table_name)

        if user.role == "admin":
            return True
        if not _leads_team(user, user.team_id):
            return False
        return rows.customer.in_(Customer.select(Customer.id).where(
            (Customer.team == user.team_id) & (Customer.owner.is_null() | (Customer.owner != user.id))))
    return scope_


_lock_request_scope = _team_manager_rows("LockRequest")  # lock.decide
_pause_scope = _team_manager_rows("CustomerPause")       # pause.decide (models/pool_clock.py)


def _approval_scope(user):
    """transfer.decide: a manager their team's side of a transfer not from themselves; admins every side."""
    Transfer = _table("Transfer")
    TransferApproval = _table("TransferApproval")

    if user.role == "admin":
        return True
    if not _leads_team(user, user.team_id):
        return False
    return (TransferApproval.team == user.team_id) & TransferApproval.transfer.in_(
        Transfer.select(Transfer.id).where(Transfer.from_user.is_null() | (Transfer.from_user != user.id)))


def _project_decision_scope(user):
    """project.decide: the manager of the customer's team, never on their own proposal; admins."""
    from models.customer_tables import Customer
    Project = _table("Project")

    if user.role == "admin":
        return True
    if not _leads_team(user, user.team_id):
        return False
    return Project.customer.in_(Customer.select(Customer.id).where(Customer.team == user.team_id)) & (
        Project.requested_by.is_null() | (Project.requested_by != user.id))


def lead_shape(user):
    """`scope("lead", user)`'s condition for a statement kept by models.base.kept_select (see `opportunity_shape`):
    (key, values, condition(*values)), the delegations read with the user; True or False: all or none."""
    user = acting_user(user)
    if not getattr(user, "active", False):
        return False
    if user.role in ("marketing", "admin"):
        return True
    if user.role not in SELLERS:
        return False
    absentees = list(_absentees(user))
    leads = _leads_team(user, user.team_id)
    head = [user.id, user.team_id] if leads else [user.id]
    return (("lead", user.role, leads, len(absentees)), head + absentees,
            lambda *v: _lead_scope(Marked(user, v[0], v[1] if leads else None), list(v[len(head):])))


def _lead_scope(user, absentees=None):
    """lead.view: marketing and admins all; a seller what they entered, were given or act for; a manager
    their team's."""
    L = _table("Lead")

    if user.role in ("marketing", "admin"):
        return True
    if user.role not in SELLERS:
        return False
    absentees = list(_absentees(user)) if absentees is None else absentees
    return _either(L.created_by == user.id, L.routed_to == user.id,
                   L.routed_to.in_(absentees) if absentees else False,
                   (L.team == user.team_id) if _leads_team(user, user.team_id) else False)


def _rep_rows_scope(kind):
    """plan.view / report.view: a seller's own rows, a manager's team's, every row for admins."""
    def cond(user):
        from models.user_tables import User
        rep = _table(kind).rep

        if user.role == "admin":
            return True
        if user.role not in SELLERS:
            return False
        if _leads_team(user, user.team_id):
            return (rep == user.id) | rep.in_(User.select(User.id).where(User.team == user.team_id))
        return rep == user.id
    return cond


_SCOPES = {"plan_item": _rep_rows_scope("PlanItem"), "daily_report": _rep_rows_scope("DailyReport"), "lead": _lead_scope, "customer": _customer_scope, "opportunity": _opportunity_scope, "project": _project_scope,
           "order": _order_scope, "ticket": _ticket_scope, "transfer": _transfer_scope,
           "conflict": _conflict_scope, "lock_request": _lock_request_scope, "approval": _approval_scope,
           "project_decision": _project_decision_scope, "pause": _pause_scope}


def cleansing_scope(user, mine=False, split=None):
    """The cleansing tasks `user` may classify, as a condition (True: all, False: none); mirrors
    `cleansing.work`, and `mine` keeps those given to the user (or their team, unassigned). `split`, the
    campaign's, says which half of the rule can match (every task of a "rep" campaign has a rep, none of a
    "team" one), so the list reads one index instead of an OR."""
    T = _table("CleansingTask")
    if user.role == "admin" and not mine:
        return True
    if user.role not in SELLERS or user.team_id is None:
        return (T.assignee == user.id) if mine and user.role == "admin" else False
    given = T.assignee == user.id
    to_team = (T.team == user.team_id) & T.assignee.is_null()
    own = given if split == "rep" else to_team if split == "team" else (given | to_team)
    if user.role == "manager" and not mine:
        return T.team == user.team_id
    return own
