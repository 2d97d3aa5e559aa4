"""The demo data set (seeds/demo.py): loaded once per module into a database of its own (~15 s),
then checked for what the demo promises: its people and teams, valid data, consistent ownership
and release dates, nothing dated in the future, work due for rep001, and a customer in every pool
state (the scenes staged by seeds/demo_scenes.py after the bulk load)."""
import datetime as dt
import shutil
from types import SimpleNamespace

import peewee as pw
import pytest

import models
from app import create_app
from models import clock, pools
from models import rules as rules_mod
from models.base import all_models
from models.customers import Customer
from models.fields import credit_code_error
from models.users import Team, User
from seeds import demo as demo_seed
from tests.conftest import FROZEN, TEST_CONFIG, worker_database

# The demo load takes a minute or more: CI runs this module, the fast loop (app.py test --fast) does not.
pytestmark = pytest.mark.slow

# Columns that hold plans rather than history: they may lie after the load time.
FORWARD_LOOKING = {
    ("customer", "next_followup_on"), ("customer", "release_at"), ("customer", "contract_end"),
    ("customer", "stake_due"), ("follow_up", "next_date"), ("capacity_adjustment", "ends_at"),
    ("rule_version", "effective_from"),
    ("appeal", "window_ends_at"), ("customer", "restored_until"),  # appeal windows and holds (demo_appeals)
    ("delegation", "ends_on"),  # an absence planned to the end of the week (seeds/demo_conflicts.py)
    ("ticket", "respond_by"), ("ticket", "resolve_by"),  # SLA deadlines (seeds/demo_service.py)
    ("care_plan", "starts_on"), ("care_plan", "next_due"),  # scheduled care visits
    ("payment_due", "due_on"), ("reorder_cycle", "starts_on"), ("reorder_cycle", "next_expected_on"),
    ("reorder_cycle", "remind_on"), ("reorder_todo", "expected_on"),  # payment terms, expected reorders (demo_orders)
    ("milestone", "start_on"), ("milestone", "due_on"), ("project", "expected_start"), ("project", "expected_end"),
    ("project", "contract_end"),  # planned milestones and project dates (seeds/demo_projects.py)
    ("opportunity", "expected_close"), ("pipeline_total", "month"),  # expected close dates (seeds/demo_deals.py)
    ("target", "starts_on"),  # this year's targets, set for the months to come too (seeds/demo_targets.py)
    ("lead", "due_at"), ("lead", "warn_at"), ("lead_routing", "due_at"), ("campaign", "ends_on"),  # demo_leads
    ("quality_consequence", "ends_at"),  # a running quality penalty (seeds/demo_quality.py)
    ("lead", "next_touch_on"),  # nurtured prospects' next touch (seeds/demo_leads.py)
    ("plan_item", "day"),  # visits planned for today and tomorrow (seeds/demo_plans.py)
    ("customer", "drop_at"), ("drop_entry", "drop_at"),  # drops waiting for tomorrow (seeds/demo_drops.py)
    ("customer_pause", "starts_on"), ("customer_pause", "ends_on"),  # pauses until after a trade fair (demo_clock)
}


@pytest.fixture(scope="module")
def demo_db(template_db, tmp_path_factory, pg_server):
    """A migrated database with reference data and the demo, loaded once for this module (a file on SQLite,
    a database of its own on PostgreSQL)."""
    if pg_server:
        from tests.pgcluster import admin_execute, with_database

        name = worker_database("kehu_demo")
        admin_execute(pg_server, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", f"CREATE DATABASE {name}")
        path, url = None, with_database(pg_server, name)
    else:
        path = tmp_path_factory.mktemp("demo") / "demo.db"
        shutil.copy(template_db, path)
        url = f"sqlite:///{path}"
    clock.freeze(FROZEN)
    app = create_app({**TEST_CONFIG, "DATABASE_URL": url})
    models.db.connect(reuse_if_open=True)
    try:
        if pg_server:
            models.migrate()
            from seeds import reference
            reference.load()
        loaded = demo_seed.load_once()
        yield SimpleNamespace(app=app, path=path, loaded=loaded)
    finally:
        models.close_db()
        clock.freeze(None)


@pytest.fixture(autouse=True)
def demo(demo_db):
    """Every test here: the clock at the load time and the models on the demo database."""
    clock.freeze(FROZEN)
    models.db.connect(reuse_if_open=True)
    yield demo_db


@pytest.fixture
def rules():
    return rules_mod.in_force(FROZEN)


def needs_scenes(what):
    """Skip (naming what is missing) while seeds/demo.py stages no pool scenes after the bulk load."""
    scenes = getattr(demo_seed, "demo_scenes", None)
    if scenes is None or not hasattr(scenes, "stage"):
        pytest.skip(f"seeds/demo.py stages no pool scenes yet (seeds/demo_scenes.stage): no {what}")


def table_counts():
    return {m._meta.table_name: m.select().count() for m in all_models()}


def user(username):
    return User.get(User.username == username)


def refusal(actor, customer, rules):
    """The rule that refuses `actor` the released `customer` (frozen, cooling-off …), or None."""
    try:
        pools.check_release_holds(actor, customer, rules, FROZEN)
    except pools.ClaimRefused as exc:
        return exc.rule
    return None


# ---- loading -------------------------------------------------------------------------------

def test_loads_once_and_a_second_load_writes_nothing(demo):
    assert demo.loaded is True
    mark, counts = write_mark(), table_counts()
    assert demo_seed.load_once() is False
    assert write_mark() == mark + (0 if models.base.is_sqlite() else 1)
    assert table_counts() == counts


def write_mark():
    """A number a write moves. SQLite: the rows this connection changed. PostgreSQL: the transaction id the
    next write takes (reading it takes one, so two reads without a write between differ by one)."""
    if models.base.is_sqlite():
        return models.db.connection().total_changes
    return models.db.execute_sql("SELECT txid_current()").fetchone()[0]


# ---- people and data -------------------------------------------------------------------------

def test_223_users_and_20_teams_each_with_its_manager():
    # plus the service team (seeds/demo_service.py): five agents led by the `service` user, and the quality
    # checker (seeds/demo_quality.py)
    assert User.select().count() == 223 + 5 + 1
    service_team = Team.get(Team.name == "客服一组")
    assert User.get_by_id(service_team.manager_id).username == "service"
    teams = list(Team.select().where(Team.id != service_team.id))
    assert len(teams) == 20
    for team in teams:
        assert team.manager_id is not None, team.name
        manager = User.get_by_id(team.manager_id)
        assert (manager.role, manager.team_id) == ("manager", team.id), team.name


def test_every_credit_code_is_valid():
    codes = [c for (c,) in Customer.select(Customer.credit_code).where(Customer.credit_code.is_null(False)).tuples()]
    assert len(codes) > 10_000
    bad = [(code, credit_code_error(code)) for code in codes if credit_code_error(code)]
    assert bad == []


def test_owned_customers_belong_to_their_owners_team():
    Owner = User.alias()
    mismatched = (Customer.select(Customer.id, Customer.team, Owner.team.alias("owner_team"))
                  .join(Owner, on=(Customer.owner == Owner.id))
                  .where(Customer.team.is_null() | Owner.team.is_null() | (Customer.team != Owner.team)))
    assert list(mismatched.dicts()) == []
    assert Customer.select().where(Customer.owner.is_null(False)).count() > 8_000


def test_nothing_is_dated_in_the_future():
    """History (created, changed, followed up, released, logged …) lies at or before the load time;
    only plans (next follow-up, release date, contract end, stake due …) may lie after it."""
    today = clock.today()
    future = {}
    for model in all_models():
        for field in model._meta.sorted_fields:
            if not isinstance(field, (pw.DateTimeField, pw.DateField)):
                continue
            if (model._meta.table_name, field.column_name) in FORWARD_LOOKING:
                continue
            limit = FROZEN if isinstance(field, pw.DateTimeField) else today
            n = model.select().where(field > limit).count()
            if n:
                future[f"{model._meta.table_name}.{field.column_name}"] = n
    assert future == {}


def test_release_dates_set_for_owned_customers_and_none_in_the_past():
    owned = Customer.select().where(Customer.owner.is_null(False))
    # without a date only when exempt: locked, or under contract
    undated = owned.where(Customer.release_at.is_null() & Customer.release_rule.not_in(("locked", "contract")))
    assert [c.id for c in undated] == []
    assert owned.where(Customer.release_at.is_null(False)).count() > 0.9 * owned.count()
    assert [c.id for c in Customer.select().where(Customer.release_at <= FROZEN)] == []
    assert Customer.select().where(Customer.owner.is_null() & Customer.release_at.is_null(False)).count() == 0


def test_rep001_has_follow_ups_due_today_and_overdue():
    rep = user("rep001")
    mine = Customer.select().where(Customer.owner == rep.id)
    assert mine.where(Customer.next_followup_on == clock.today()).count() >= 1
    assert mine.where(Customer.next_followup_on < clock.today()).count() >= 1


# ---- a customer in every pool state (the scenes) ---------------------------------------------

def test_customers_about_to_be_released_within_three_days():
    needs_scenes("customer about to be released")
    soon = Customer.select().where(Customer.owner.is_null(False) & (Customer.release_at > FROZEN)
                                   & (Customer.release_at <= FROZEN + dt.timedelta(days=3)))
    assert soon.count() >= 1
    assert soon.where(Customer.owner == user("rep001").id).count() >= 1


def test_a_locked_customer():
    needs_scenes("locked customer")
    locked = list(Customer.select().where(Customer.owner.is_null(False) & (Customer.locked == True)))  # noqa: E712
    assert locked
    assert all(c.release_at is None and c.release_rule == "locked" for c in locked)


def test_a_customer_under_contract(rules):
    needs_scenes("customer under contract")
    grace = dt.timedelta(days=rules["contract_grace_days"])
    exempt = [c for c in Customer.select().where(Customer.owner.is_null(False) & Customer.contract_end.is_null(False))
              if c.contract_end + grace >= clock.today()]
    assert exempt
    assert all(c.release_at is None and c.release_rule == "contract" for c in exempt)


def test_a_staked_pool_customer():
    needs_scenes("staked customer")
    staked = list(Customer.select().where(Customer.owner.is_null() & Customer.staked_by.is_null(False)))
    assert staked
    assert all(c.pool_id and c.stake_due > FROZEN for c in staked)


def test_a_released_customer_inside_the_freeze(rules):
    needs_scenes("customer released inside the freeze")
    since = FROZEN - dt.timedelta(hours=rules["frozen_hours"])
    frozen = list(Customer.select().where(Customer.owner.is_null() & Customer.pool.is_null(False)
                                          & (Customer.released_at > since)))
    assert frozen
    someone_else = user("rep010")
    # frozen; in a pool with a drop time (seeds/demo_drops.py) it says when it drops, which is after the frozen
    # hours; or held out while its former owner's appeal is open (seeds/demo_appeals.py)
    assert all(refusal(someone_else, c, rules) in ("drop" if c.drop_at else "frozen", "appealed") for c in frozen)


def test_a_customer_cooling_off_for_its_former_owner(rules):
    needs_scenes("customer cooling off for its former owner")
    thawed = FROZEN - dt.timedelta(hours=rules["frozen_hours"])
    since = FROZEN - dt.timedelta(days=rules["cooling_off_days"])
    released = Customer.select().where(Customer.owner.is_null() & Customer.pool.is_null(False)
                                       & (Customer.released_at > since) & (Customer.released_at <= thawed)
                                       & Customer.released_from.is_null(False))
    cooling = [c for c in released if refusal(User.get_by_id(c.released_from), c, rules) == "cooling_off"]
    assert cooling


def test_a_lottery_drop_ten_reps_one_winner_reproducible_from_the_ledger():
    """seeds/demo_drops.py: ten reps queued for one dropped customer; the ledger row's seed and entrants give
    the lottery's order again, and the first entrant the claim rules allowed owns it."""
    from models import drops

    row = pools.PoolEvent.select().where(pools.PoolEvent.kind == "drop").order_by(pools.PoolEvent.id).first()
    d = row.inputs
    assert len(d["entrants"]) == 10 and d["method"] == "lottery"
    order = drops.draw(d["seed"], d["entrants"], d.get("weights"))
    assert order == d["order"]
    winner = next(uid for uid in order if str(uid) not in d["skipped"])
    assert winner == d["winner"] == row.to_owner == Customer.get_by_id(row.customer_id).owner_id
    places = {e.user_id: e.place for e in drops.DropEntry.select().where(drops.DropEntry.customer == row.customer_id)}
    assert places == {uid: i + 1 for i, uid in enumerate(order)}
    waiting = list(Customer.select().where(Customer.drop_at > FROZEN))
    # the scene's three released this morning, and what later scenes (appeals) released into the drop pool
    assert len(waiting) >= 3 and max(drops.queue_count(c) for c in waiting) == 4


# ---- last: the sweep writes (warnings are deduplicated, so nothing new) ------------------------

def test_a_sweep_right_after_loading_releases_nothing():
    result = pools.sweep(FROZEN)
    assert result["released"] == 0
    assert result["lapsed"] == 0


def test_generated_companies_never_take_a_scene_brand():
    """The scenes stage their own look-alikes (上海锦绣服饰…); a generated file with the same brand made the
    load fail on some days, depending on the clock. The generator leaves the scenes' brands alone."""
    from seeds.demo import SCENE_BRANDS, Random, company_name

    rng = Random(1)
    names = {company_name(rng, "上海", "suits")[0] for _ in range(20000)}
    assert not [n for n in names if any(b in n for b in SCENE_BRANDS)]


def test_leads_in_every_state_with_campaigns_late_reps_and_escalations():
    """seeds/demo_leads.py: months of leads in every state, reps who answered late, escalated leads, and
    campaigns whose chain reaches signed customers and revenue."""
    from models.campaigns import roi
    from models.lead_tables import Lead, LeadRouting

    counts = dict(Lead.select(Lead.status, pw.fn.COUNT(Lead.id)).group_by(Lead.status).tuples())
    print("leads by status", counts)
    assert {"new", "junk", "prospect", "routed", "accepted", "sent_back"} <= set(counts)
    first = Lead.select(pw.fn.MIN(Lead.created_at)).scalar()
    assert FROZEN - first > dt.timedelta(days=120)
    assert Lead.select().where((Lead.status == "routed") & Lead.escalated_at.is_null(False)).count() >= 1
    late = LeadRouting.select().where(LeadRouting.late == True).count()  # noqa: E712
    assert late and LeadRouting.select().where(LeadRouting.late == False).count() > late  # noqa: E712
    rows = [r for r in roi() if r.get("campaign")]
    assert len(rows) == 5 and any(r["signed"] and r["revenue"] > 0 for r in rows)
    assert user("rep001").id in {lead.routed_to_id for lead in Lead.select().where(Lead.status == "routed")}
    due = Lead.select().where((Lead.status == "prospect") & (Lead.next_touch_on <= FROZEN.date())).count()
    assert 0 < due < Lead.select().where(Lead.status == "prospect").count()  # nurture lists due for a touch


def test_custom_fields_with_values_on_part_of_the_customers_and_completeness_in_step():
    from models.customers import CustomField, CustomValue, compute_completeness
    from models.settings import pending_jobs

    fields = {f.key: f for f in CustomField.select()}
    assert {"annual_capacity", "main_fabric", "own_brand"} <= set(fields)
    assert fields["main_fabric"].kind == "choice" and "project" not in fields["main_fabric"].model_list()
    for f in fields.values():
        assert 0.2 < CustomValue.select().where(CustomValue.field == f.id).count() / Customer.select().count() < 0.7
    assert not pending_jobs().exists()
    sample = Customer.select().where(Customer.id.in_([i for (i,) in Customer.select(Customer.id).tuples() if i % 97 == 0]))
    assert all(compute_completeness(c) == c.completeness for c in sample)


def test_quality_demo_has_a_directed_list_worked_checks_and_a_consequence():
    from models.quality_tables import QualityCheck, QualityConsequence

    checker = User.get(User.username == "quality")
    assert checker.granted("quality")
    assert QualityCheck.select().where((QualityCheck.source == "rule") & (QualityCheck.status == "open")).count() > 0
    assert QualityCheck.select().where(QualityCheck.source == "sample").count() > 0
    outcomes = {o for (o,) in QualityCheck.select(QualityCheck.outcome).where(QualityCheck.status == "done").tuples()}
    assert outcomes == {"true", "incomplete", "false"}
    rep = User.get(User.username == "rep002")
    assert QualityConsequence.select().where(QualityConsequence.user == rep.id).exists()


def test_manager01s_team_has_weeks_of_plans_and_reports():
    """seeds/demo_plans.py: plans and reports for the team's reps, yesterday's unread, one missing, one
    edited after the reading, rep001 with visits still to carry out today."""
    from models import daily_reports as dr
    from models import plans as pm

    manager = User.get(User.username == "manager01")
    rep = User.get(User.username == "rep001")
    assert pm.PlanItem.select().where(pm.PlanItem.status == "done").count() > 100
    assert list(pm.due_items(rep, clock.today()))
    assert dr.DailyReport.select().count() > 50 and dr.CompetitorNews.select().count() > 10
    assert dr.ReportVersion.select().count() == 1 and dr.unread(manager)
    yesterday = max(r.day for r in dr.DailyReport.select(dr.DailyReport.day))
    assert len(dr.missing(manager, yesterday)) >= 1


def test_every_rep_has_a_year_of_plans_and_reports():
    """seeds/demo_plans.py `_year`: every rep plans, carries out (linked to their own follow-up of that day),
    rolls over and closes for about a year; most report days have a report pre-filled from that day, some are
    missing, most are read, some commented; the performance counters show the plan adherence."""
    from models import daily_reports as dr
    from models import performance
    from models import plans as pm
    from models import targets as tm

    today = clock.today()
    reps = [r.id for r in User.select(User.id).where((User.role == "sales") & User.active)]
    first = dict(pm.PlanItem.select(pm.PlanItem.rep, pw.fn.MIN(pm.PlanItem.day)).group_by(pm.PlanItem.rep).tuples())
    assert set(first) >= set(reps) and all((today - first[r]).days >= 330 for r in reps)
    filed = dict(dr.DailyReport.select(dr.DailyReport.rep, pw.fn.COUNT(dr.DailyReport.id))
                 .group_by(dr.DailyReport.rep).tuples())
    days = len(dr.report_days(today - dt.timedelta(days=365), today - dt.timedelta(days=1)))
    assert all(0.8 * days <= filed.get(r, 0) < days for r in reps), (days, min(filed.values()))
    statuses = dict(pm.PlanItem.select(pm.PlanItem.status, pw.fn.COUNT(pm.PlanItem.id)).group_by(pm.PlanItem.status).tuples())
    assert statuses["done"] > 20_000 and statuses["rolled"] > 2_000 and statuses["closed"] > 2_000
    from models.customers import FollowUp
    done = (pm.PlanItem.select(pm.PlanItem, FollowUp.author.alias("author"), FollowUp.at.alias("followed_at"))
            .join(FollowUp, on=(pm.PlanItem.followup == FollowUp.id)).where(pm.PlanItem.status == "done")
            .order_by(pm.PlanItem.id).limit(2000).objects())
    assert all(i.author == i.rep_id and clock.to_local(i.followed_at).date() == i.day for i in done)
    late = pm.PlanItem.select().where((pm.PlanItem.status == "done") & (pm.PlanItem.rolls == 1)).first()
    assert pm.PlanItem.get_by_id(late.rolled_from).status == "rolled"
    reports = dr.DailyReport.select().where(dr.DailyReport.day < today - dt.timedelta(days=30))
    read = reports.where(dr.DailyReport.read_at.is_null(False)).count()
    assert 0.8 < read / reports.count() < 0.95
    assert dr.ReportComment.select().count() > 2_000 and dr.CompetitorNews.select().count() > 5_000
    sample = dr.DailyReport.select().where(dr.DailyReport.day < today - dt.timedelta(days=30)).order_by(
        dr.DailyReport.id).limit(50)
    for report in sample:  # the stored pre-fill says what the day's rows say
        fresh = dr.prefill(report.rep_id, report.day)
        assert {k: report.facts[k] for k in ("planned", "carried_out", "followup_count", "valid_followups")} == {
            k: fresh[k] for k in ("planned", "carried_out", "followup_count", "valid_followups")}
    rep = user("rep001")
    f = performance.figures(tm.containing("year", today), rep_ids=[rep.id])[rep.id]
    assert f["plan"] > 100 and 50 < f["plan_rate"] < 90 and f["on_time_rate"] < f["plan_rate"]


def test_pool_health_shows_weeks_of_claims_releases_and_reclaims():
    """Issue 13 point 11: the pool health dashboard and the ledger tell a story on the demo: claims by reps
    of several teams in most of the past weeks, forced releases by the rule in words, re-claims, a signing."""
    from models import pool_reports

    h = pool_reports.health(user("admin"))
    weeks_with_claims = sum(1 for n in h["series"]["claim"][:-1] if n)
    assert weeks_with_claims >= 8, h["series"]["claim"]
    assert sum(h["series"]["forced_release"]) >= 10, h["series"]["forced_release"]
    released, reclaimed, signed = h["funnel"]
    assert released >= 10 and reclaimed >= 3 and signed >= 1, h["funnel"]
    claim_teams = {u.team_id for u in User.select().join(pools.PoolEvent, on=(pools.PoolEvent.actor == User.id))
                   .where(pools.PoolEvent.kind == "claim")}
    assert len(claim_teams) >= 5
    forced = pools.PoolEvent.select().where(pools.PoolEvent.kind == "forced_release").first()
    assert forced.inputs["rule"] == "no_followup" and "no valid follow-up since" in forced.reason
    manager_view = pool_reports.health(user("manager01"))
    assert sum(manager_view["series"]["claim"]) > 0


def test_the_ledger_is_numbered_in_time_order():
    times = [at for (at,) in pools.PoolEvent.select(pools.PoolEvent.at).order_by(pools.PoolEvent.id).tuples()]
    assert times == sorted(times)


def test_appeals_upheld_rejected_waiting_undone_and_a_credit_split():
    """seeds/demo_appeals.py (issue 20 item 2): rep001's appeal upheld (back with its clock, not restarted) and
    one rejected, rep003's waiting on manager01's approvals with the customer held out of the pool, rep005's
    forced releases undone by the admin, a ruling's 70/30 split appealed within its window."""
    from models import appeals
    from models.appeal_tables import Appeal, CreditSplit

    rep1, rep3 = user("rep001"), user("rep003")
    upheld = Appeal.get((Appeal.appellant == rep1.id) & (Appeal.status == "upheld"))
    back = Customer.get_by_id(upheld.customer_id)
    assert back.owner_id == rep1.id and back.claimed_at < upheld.decided_at - dt.timedelta(days=10)  # not restarted
    assert upheld.outcome["claimed_at"] == str(back.claimed_at)
    assert Appeal.select().where((Appeal.appellant == rep1.id) & (Appeal.status == "rejected")).exists()
    waiting = Appeal.get((Appeal.appellant == rep3.id) & (Appeal.status == "open"))
    held = Customer.get_by_id(waiting.customer_id)
    with pytest.raises(pools.ClaimRefused) as refused:
        pools.check_claim(user("rep004"), held, rules_mod.in_force(), clock.now())
    assert refused.value.rule == "appealed"
    assert [r.id for r in appeals.inbox(user("manager01"))]
    assert pools.PoolEvent.select().where(pools.PoolEvent.kind == "release_undone").count() == 2
    assert pools.PoolEvent.select().where(pools.PoolEvent.kind == "restore_refused").count() == 1
    assert CreditSplit.select().where(CreditSplit.share_a == 70).exists()
    assert Appeal.select().where((Appeal.kind == "conflict") & (Appeal.status == "open")).exists()


def test_clock_scenes_freeze_windows_a_paused_customer_and_release_by_orders(rules):
    """Issue 20 items 3 and 4 (seeds/demo_clock.py): last year's Spring Festival freeze in the rules, rep001's
    customer paused until after a trade fair (and rep002's pause waiting for manager01), a reorder customer warned
    and one released by its orders."""
    from models import pool_clock
    from models.notifications import Notification

    assert {"start": "2026-02-15", "end": "2026-02-23", "name": "春节"} in rules.s["freeze_windows"]
    approved = pool_clock.CustomerPause.get(pool_clock.CustomerPause.status == "approved")
    paused = Customer.get_by_id(approved.customer_id)
    assert paused.owner_id == user("rep001").id
    plan_at, _rule, inputs = pools.release_plan(paused, rules, FROZEN)
    assert inputs.get("pause_ids") == [approved.id] and paused.release_at == plan_at
    assert pool_clock.pending_pauses(user("manager01")).count() == 1
    warned = Notification.get((Notification.kind == "reorder_release_warning") & (Notification.user == user("rep001").id))
    assert Customer.get_by_id(warned.customer_id).release_rule == "reorder"
    released = pools.PoolEvent.get((pools.PoolEvent.kind == "forced_release")
                                   & (pools.PoolEvent.from_owner == user("rep001").id)
                                   & (pools.PoolEvent.reason.contains("no order since")))
    assert released.inputs["rule"] == "reorder" and Customer.get_by_id(released.customer_id).owner_id is None


def test_clock_scenes_a_deal_stuck_in_one_stage_no_longer_keeps_its_customer(rules):
    """seeds/demo_clock.py: rep001's deal 211 days in the presentation stage (the rules: warn at 180, count against
    the customer from 210): today's follow-up does not count, rep001 is told when the customer goes back; no other
    customer of the demo is stuck on the day of the load."""
    from models.notifications import Notification

    assert (rules.s["stage_timeout_days"], rules.s["stage_timeout_release_days"]) == (180, 210)
    told = Notification.get((Notification.kind == "stage_timeout_release") & (Notification.user == user("rep001").id))
    customer = Customer.get_by_id(told.customer_id)
    assert customer.owner_id == user("rep001").id and customer.release_rule == "stuck"
    at, rule, inputs = pools.release_plan(customer, rules, FROZEN)
    assert (at, rule) == (customer.release_at, "stuck") and inputs["stuck_opportunity_id"] == customer.deal_stage_opportunity
    assert inputs["ignored_followup_at"] and at > FROZEN
    assert Customer.select().where(Customer.release_rule == "stuck").count() == 1
    assert not pools.PoolEvent.select().where((pools.PoolEvent.kind == "forced_release")
                                              & (pools.PoolEvent.reason.contains("stuck in one stage"))).exists()
