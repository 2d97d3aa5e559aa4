"""One rule book for lists: for every kind, `permissions.scope(kind, user)` holds exactly the records
`can_open(user, kind, record)` allows (both ways, every user × record of a small world), the list pages
show only what may be opened, and views and templates never compare roles themselves."""
import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import pytest

from models import clock
from models.conflicts import ConflictCase
from models.customers import Customer
from models.delegations import Delegation
from models.lead_tables import Lead
from models.opportunities import Opportunity, of_customer
from models.orders import Order
from models.permissions import OPEN_RULES, can, can_open, scope
from models.pool_clock import CustomerPause
from models.pools import LockRequest, Pool
from models.projects import Project, ProjectMember
from models.service import Ticket
from models.transfers import Transfer, TransferApproval, TransferItem
from models.users import Team, User

ROOT = Path(__file__).resolve().parent.parent
KINDS = tuple(OPEN_RULES)


@pytest.fixture
def world(make_user, make_team, make_customer):
    """Two teams with a rep, a second rep and a manager each, a manager without a team, one user per
    other role, a deactivated rep, and rep_b acting for rep_a (工作代理) today. Records in every state:
    owned, a teammate's, another team's, a lead, in the pool, staked, closed, draft, decided."""
    team_a, team_b = make_team("华东一组"), make_team("华南二组")
    u = {
        "rep_a": make_user("sales", team_a), "rep_a2": make_user("sales", team_a), "mgr_a": make_user("manager", team_a),
        "rep_b": make_user("sales", team_b), "mgr_b": make_user("manager", team_b), "mgr_none": make_user("manager"),
        "marketing": make_user("marketing"), "service": make_user("service"), "admin": make_user("admin"),
        "gone": make_user("sales", team_a),
    }
    Team.update(manager=u["mgr_a"]).where(Team.id == team_a.id).execute()
    Team.update(manager=u["mgr_b"]).where(Team.id == team_b.id).execute()
    owners = {"a_rep": "rep_a", "a_rep2": "rep_a2", "a_mgr": "mgr_a", "b_rep": "rep_b", "b_mgr": "mgr_b",
              "none_mgr": "mgr_none", "gone": "gone", "lead": None, "pool": None, "staked": None}
    c = {key: make_customer(owner=u[who] if who else None, stage="prospect" if key == "lead" else "target",
                            name=f"列表范围{key}服饰有限公司")
         for key, who in owners.items()}
    now, today = clock.now(), clock.today()
    pool = Pool.create(name_zh="全国公海", name_en="Open pool", region=None)  # every seller's
    Customer.update(pool=pool).where(Customer.id.in_([c["pool"].id, c["staked"].id])).execute()
    Customer.update(staked_by=u["rep_b"], staked_at=now, stake_due=now + dt.timedelta(days=14)).where(
        Customer.id == c["staked"].id).execute()
    User.update(active=False).where(User.id == u["gone"].id).execute()
    Delegation.create(absentee=u["rep_a"], delegate=u["rep_b"], starts_on=today, ends_on=today + dt.timedelta(days=5),
                      created_by=u["rep_a"], created_at=now)

    def opp(key, owner, stage="prospecting", team=None):
        owner = u[owner] if owner else None
        return Opportunity.create(customer=c[key], owner=owner, team=team if team is not None else (owner.team_id if owner else None),
                                  name=f"商机{key}{stage}", amount=Decimal("1000"), probability=10, stage=stage,
                                  expected_close=today + dt.timedelta(days=30), created_at=now, updated_at=now,
                                  stage_changed_at=now, is_open=stage not in ("won", "lost"))
    opps = [opp(k, owners[k]) for k in ("a_rep", "a_rep2", "a_mgr", "b_rep", "b_mgr", "none_mgr", "gone")]
    opps += [opp("a_rep", "rep_a2"),               # a teammate holds a deal on rep_a's customer
             opp("b_rep", "rep_a", stage="won"),   # closed by rep_a before the customer went to team B
             opp("pool", "rep_b", stage="lost"),   # closed before the customer was released
             opp("b_rep", None, team=team_a.id)]   # nobody's deal counted in team A

    def project(key, by, member=None, status="pending"):
        p = Project.create(customer=c[key], name=f"项目{key}", status=status, requested_by=u[by] if by else None,
                           requested_at=now, updated_at=now)
        if member:
            ProjectMember.create(project=p, user=u[member], role="engineer", added_at=now)
        return p
    project("a_rep", "mgr_a"), project("a_rep2", "rep_a2", status="approved"), project("b_rep", "rep_b", member="rep_a")
    project("pool", "rep_b", status="rejected"), project("none_mgr", None, member="service")
    project("a_rep", None)  # the proposer's account was deleted

    for key in owners:
        Order.create(customer=c[key], rep=u[owners[key]] if owners[key] else None, ordered_on=today, created_at=now)
        Ticket.create(customer=c[key], channel="hotline", category="fault", priority="normal", level="standard",
                      description="坏了", created_at=now, updated_at=now, respond_by=now, resolve_by=now)

    def transfer(by, giver, items, sides, status="pending"):
        t = Transfer.create(requester=u[by], from_user=u[giver], from_team=u[giver].team_id, status=status, created_at=now)
        for key, to in items:
            TransferItem.create(transfer=t, customer=c[key], from_owner=u[giver].id, to_user=u[to] if to else None,
                                to_pool=None if to else pool)
        for team, side in sides:
            TransferApproval.create(transfer=t, team=team, side=side)
        return t
    transfer("rep_a", "rep_a", [("a_rep", "rep_b")], [(team_a, "giving"), (team_b, "receiving")])
    transfer("mgr_a", "mgr_a", [("a_mgr", "rep_a2")], [(team_a, "giving")])
    transfer("admin", "rep_a2", [("a_rep2", "rep_a")], [(team_a, "giving")], status="draft")
    transfer("mgr_b", "rep_b", [("b_rep", None)], [(team_b, "giving")], status="approved")
    transfer("mgr_none", "mgr_none", [("none_mgr", "rep_b")], [(None, "giving"), (team_b, "receiving")])

    def case(claimant, owner, key, status="open"):
        return ConflictCase.create(customer=c[key], claimant=u[claimant], claimant_team=u[claimant].team_id,
                                   owner=u[owner], owner_team=u[owner].team_id, reason="先联系", opened_at=now,
                                   policy="first_valid_contact", proposed="owner", status=status)
    case("rep_b", "rep_a", "a_rep"), case("rep_a2", "rep_a", "a_rep", status="ruled"), case("mgr_none", "mgr_b", "b_mgr")

    for key, by, status in (("a_rep", "rep_a", "pending"), ("a_mgr", "mgr_a", "pending"), ("b_rep", "rep_b", "approved"),
                            ("none_mgr", "mgr_none", "pending")):
        LockRequest.create(customer=c[key], requester=u[by], reason="重点客户", status=status, created_at=now)
        CustomerPause.create(customer=c[key], requester=u[by], reason="展会", starts_on=now.date(),  # issue 20
                             ends_on=now.date(), status=status, created_at=now)

    # leads (issue 14): in the queue, entered by a rep, routed to rep_a (rep_b acts for them), to rep_b, to a
    # manager of team A, and to the deactivated rep
    def lead(key, by, to=None, status="routed"):
        to_user = u[to] if to else None
        return Lead.create(customer=c[key], source="event", created_at=now, created_by=u[by], status=status if to else "new",
                           routed_to=to_user, team=to_user.team_id if to_user else None, routed_at=now if to else None)
    lead("lead", "marketing"), lead("lead", "rep_a2"), lead("a_rep", "marketing", "rep_a"), lead("b_rep", "marketing", "rep_b")
    lead("a_mgr", "marketing", "mgr_a", status="accepted"), lead("gone", "marketing", "gone")

    # a rep's day (issue 16): plan items and daily reports of sellers of both teams, of a manager, of the gone rep
    from models.daily_reports import DailyReport
    from models.plans import PlanItem
    for key, who in (("a_rep", "rep_a"), ("a_rep2", "rep_a2"), ("a_mgr", "mgr_a"), ("b_rep", "rep_b"), ("gone", "gone"),
                     ("none_mgr", "mgr_none")):
        PlanItem.create(rep=u[who], day=today, customer=c[key], objective="拜访", created_at=now)
        DailyReport.create(rep=u[who], day=today, filed_at=now, updated_at=now)
    return u, c


def fresh_users():
    return list(User.select().order_by(User.id))  # new objects: no cached pools or delegations


def listed_only_on_the_customer_tab(user, kind, record):
    """The one gap, kept for the board's speed (permissions._opportunity_scope): a deal on a manager's team
    customer filed outside the team opens for the manager and is listed on that customer's 360 tab."""
    return (kind == "opportunity" and can(user, "team.leads_one") and record.customer.team_id == user.team_id
            and record.team_id != user.team_id and can(user, "opportunity.list", record.customer)
            and record.id in {o.id for o in of_customer(record.customer)})


@pytest.mark.parametrize("kind", KINDS)
def test_scope_agrees_with_the_open_rule_for_every_user_and_record(world, kind):
    model = scope(kind, None).model
    records = list(model.select())
    assert len(records) >= 3, kind
    disagree, gap = [], []
    for user in fresh_users():
        shown = {r.id for r in scope(kind, user)}
        for record in records:
            if can_open(user, kind, record) != (record.id in shown):
                if record.id not in shown and listed_only_on_the_customer_tab(user, kind, record):
                    gap.append((user.username, record.id))
                else:
                    disagree.append((user.username, user.role, record.id, record.id in shown))
    assert disagree == []
    assert bool(gap) == (kind == "opportunity")  # the world holds the gap, so the exception stays this narrow


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_is_seen_by_someone_and_hidden_from_someone(world, kind):
    """The world is rich enough that the agreement above is not trivial."""
    counts = {scope(kind, user).count() for user in fresh_users() if user.active}
    assert len(counts) > 1 and 0 < max(counts), kind


def test_scopes_narrow_a_given_query_and_a_deactivated_user_sees_nothing(world):
    u, c = world
    rep_a = User.get_by_id(u["rep_a"].id)
    assert scope("customer", rep_a, Customer.select().where(Customer.id == c["a_rep"].id)).count() == 1
    assert scope("customer", rep_a, Customer.select().where(Customer.id == c["b_mgr"].id)).count() == 0
    gone = User.get_by_id(u["gone"].id)
    assert all(scope(kind, gone).count() == 0 for kind in KINDS)


# ---- disagreements found and fixed ---------------------------------------------------------------

def test_a_delegate_lists_the_absentees_deals_they_may_open(client, world):
    u, c = world
    rep_b = User.get_by_id(u["rep_b"].id)
    absentee_deal = Opportunity.get((Opportunity.customer == c["a_rep"].id) & (Opportunity.owner == u["rep_a"].id))
    assert can(rep_b, "opportunity.view", absentee_deal)
    assert absentee_deal.id in {o.id for o in scope("opportunity", rep_b)}
    client.login(u["rep_b"])
    for url in ("/opportunities", "/opportunities/list"):
        assert f"/opportunities/{absentee_deal.id}\"" in client.get(url).get_data(as_text=True), url


def test_a_rep_lists_the_deals_on_their_customers_held_by_someone_else(client, world):
    u, c = world
    rep_b = User.get_by_id(u["rep_b"].id)
    history = Opportunity.get((Opportunity.customer == c["b_rep"].id) & (Opportunity.stage == "won"))
    assert history.owner_id == u["rep_a"].id and can(rep_b, "opportunity.view", history)
    client.login(u["rep_b"])
    assert f"/opportunities/{history.id}\"" in client.get("/opportunities/list?status=closed").get_data(as_text=True)
    assert f"/opportunities/{history.id}\"" in client.get("/opportunities").get_data(as_text=True)


def test_a_proposal_whose_proposer_is_gone_reaches_the_deciding_managers_inbox(client, world):
    from models.projects import pending_for

    u, c = world
    orphan = Project.get((Project.customer == c["a_rep"].id) & Project.requested_by.is_null())
    mgr_a = User.get_by_id(u["mgr_a"].id)
    assert can(mgr_a, "project.decide", orphan)
    assert orphan.id in {p.id for p in pending_for(mgr_a)}
    client.login(u["mgr_a"])
    assert f"/projects/{orphan.id}\"" in client.get("/approvals").get_data(as_text=True)


# ---- the list pages show only what may be opened ---------------------------------------------------

LIST_PAGES = {
    "opportunity": (("/opportunities", "/opportunities/list", "/opportunities/list?status=closed",
                     "/opportunities/list?status=all"), r'href="/opportunities/(\d+)"'),
    "project": (("/projects", "/projects?scope=mine", "/projects?scope=team", "/projects?scope=all"),
                r'href="/projects/(\d+)"'),
    "transfer": (("/transfers/",), r'href="/transfers/(\d+)"'),
    "conflict": (("/conflicts", "/conflicts?awaiting=1", "/conflicts?status=ruled"), r'href="/conflicts/(\d+)"'),
    "ticket": (("/service/?status=all",), r'href="/service/tickets/(\d+)"'),
    "approval": (("/approvals",), r'/transfers/approvals/(\d+)'),
    "lock_request": (("/approvals",), r'/approvals/locks/(\d+)'),
}


@pytest.mark.parametrize("who", ["rep_a", "rep_a2", "mgr_a", "rep_b", "mgr_b", "mgr_none", "marketing", "service",
                                 "admin"])
def test_list_pages_show_only_records_the_user_may_open(client, world, who):
    u, _c = world
    client.login(u[who])
    user = User.get_by_id(u[who].id)
    for kind, (urls, pattern) in LIST_PAGES.items():
        model = scope(kind, None).model
        for url in urls:
            response = client.get(url)
            if response.status_code == 404:
                continue  # not a page of this role
            assert response.status_code == 200, (url, response.status_code)
            for pk in {int(x) for x in re.findall(pattern, response.get_data(as_text=True))}:
                assert can_open(user, kind, model.get_by_id(pk)), (who, url, pk)


# ---- views and templates ask can(); they never compare roles ------------------------------------------

ROLE_COMPARISON = re.compile(
    r"""\.role\s*(==|!=|\bin\b|\bnot\s+in\b)|\.role\.(in_|not_in)\(|\brole\s*(==|!=)\s*['"]|\brole\s+(not\s+)?in\s*[\(\[]""")


def role_comparisons(folder, suffixes):
    found = []
    for path in sorted((ROOT / folder).rglob("*")):
        if path.suffix in suffixes:
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if ROLE_COMPARISON.search(line):
                    found.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    return found


def test_views_and_templates_never_compare_roles():
    assert role_comparisons("views", {".py"}) + role_comparisons("templates", {".html"}) == []
