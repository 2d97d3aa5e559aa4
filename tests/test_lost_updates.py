"""Lost updates (issue 11): a verb given a row read before its transaction must not write it back.

Each deterministic test reads object A, lets another verb change the row through another object, then
calls a verb with the stale A: the other verb's change survives and the audit's "from" is what was really
in the row. The threaded test mixes claims, releases, follow-ups, edits and stage changes on the same
customers against a real WAL file; the proof is in the rows and the ledger, never in timings."""
import contextlib

import pytest

from models.audit import AuditEvent
from models.customers import (Contact, Customer, FollowUp, StageChange, change_stage, log_follow_up, save_contact,
                              set_owner, update_customer)
from models.errors import DomainError, NotFound
from models.pools import (Pool, PoolEvent, assign_customer, claim_customer, decide_lock, release_customer,
                          request_lock, stake_customer, unlock_customer)
from models.users import Region, Team
from tests.test_pool_concurrency import fire

CONTENT = "拜访了采购部王经理，确认明年春季西装订单的面料需求和报价时间"  # a valid follow-up's length


def follow_up(actor, customer, **extra):
    return log_follow_up(actor, customer, {"type": "call", "content": CONTENT, **extra})


def form_of(customer, **over):
    """The edit form as the page renders it for `customer`, with `over` typed in."""
    data = {"name": customer.name, "short_name": customer.short_name, "credit_code": customer.credit_code or "",
            "industry_id": customer.industry_id or "", "region_id": customer.region_id or "",
            "city": customer.city, "address": customer.address, "phone": customer.phone,
            "website": customer.website, "size": customer.size, "business_model": customer.business_model,
            "source": customer.source, "first_channel": customer.first_channel, "tags": customer.tags,
            "group_name": ""}
    data.update(over)
    return data


def row(customer):
    return Customer.get_by_id(customer.id)


def last_audit(kind, customer):
    return (AuditEvent.select().where((AuditEvent.kind == kind) & (AuditEvent.customer == customer.id))
            .order_by(AuditEvent.id.desc()).first())


@pytest.fixture
def w(make_user, make_team):
    east = Region.get(Region.code == "east")
    team = make_team(region=east)
    other = make_team(region=east)
    mgr = make_user("manager", team)
    Team.update(manager=mgr).where(Team.id == team.id).execute()

    class W:
        pass
    w = W()
    w.region, w.pool, w.team, w.mgr = east, Pool.get(Pool.region == east.id), Team.get_by_id(team.id), mgr
    w.rep, w.rep2, w.rep3 = make_user("sales", team), make_user("sales", team), make_user("sales", other)
    w.service, w.admin = make_user("service"), make_user("admin")
    return w


@pytest.fixture
def owned(make_customer, w):
    def make(rep=None, **fields):
        return make_customer(owner=rep or w.rep, region_id=w.region.id, city="杭州", **fields)
    return make


@pytest.fixture
def pooled(make_customer, w):
    def make(**fields):
        c = make_customer(region_id=w.region.id, city="杭州", **fields)
        Customer.update(pool=w.pool.id).where(Customer.id == c.id).execute()
        return row(c)
    return make


# ---- a stale object handed to a verb -------------------------------------------------------------------

def test_a_follow_up_on_a_stale_object_does_not_undo_a_claim(w, pooled):
    stale = pooled()
    claim_customer(w.rep, stale.id)

    follow_up(w.service, stale)

    after = row(stale)
    assert (after.owner_id, after.team_id, after.pool_id) == (w.rep.id, w.team.id, None)
    assert after.claimed_at is not None and after.release_at is not None
    assert after.last_followup_at is not None
    assert stale.owner_id == w.rep.id  # the caller's object is current after the verb


def test_a_follow_up_on_a_stale_object_does_not_undo_a_release(w, owned):
    stale = owned()
    release_customer(w.rep, row(stale), "客户暂无需求")

    follow_up(w.service, stale)

    after = row(stale)
    assert (after.owner_id, after.pool_id, after.release_at) == (None, w.pool.id, None)
    assert after.released_from == w.rep.id


def test_the_former_owner_cannot_follow_up_a_released_customer_through_a_stale_page(w, owned):
    stale = owned()
    release_customer(w.rep, row(stale), "客户暂无需求")

    with pytest.raises(NotFound):
        follow_up(w.rep, stale)

    assert row(stale).owner_id is None and FollowUp.select().count() == 0


def test_only_the_owner_the_row_has_now_restarts_its_release_clock(w, owned):
    stale = owned(rep=w.mgr)
    set_owner(w.admin, row(stale), w.rep, "交给组员")
    before = row(stale)
    assert before.last_valid_followup_at is None

    followup = follow_up(w.mgr, stale)  # the manager owned it when the page was read, no longer

    after = row(stale)
    assert followup.is_valid and after.owner_id == w.rep.id
    assert (after.last_valid_followup_at, after.release_at) == (None, before.release_at)


def test_an_edit_is_not_undone_by_a_stale_follow_up(w, owned):
    stale = owned()
    update_customer(w.mgr, row(stale), form_of(stale, city="上海", address="南京西路 1 号"))

    follow_up(w.rep, stale)

    after = row(stale)
    assert (after.city, after.address) == ("上海", "南京西路 1 号")


def test_a_stage_change_is_not_undone_by_a_stale_edit_and_the_edit_audits_what_was_there(w, owned):
    stale = owned()
    change_stage(w.rep, row(stale), "intent")
    update_customer(w.mgr, row(stale), form_of(stale, city="上海"))

    update_customer(w.rep, stale, form_of(stale, city="北京"))

    after = row(stale)
    assert (after.stage, after.grade, after.city) == ("intent", "B", "北京")
    assert last_audit("customer.updated", stale).data["changes"] == {"city": ["上海", "北京"]}


def test_a_stale_edit_does_not_put_a_released_customer_back_with_its_owner(w, owned):
    stale = owned()
    release_customer(w.rep, row(stale), "客户暂无需求")

    update_customer(w.admin, stale, form_of(stale, city="北京"))

    after = row(stale)
    assert (after.owner_id, after.pool_id, after.city) == (None, w.pool.id, "北京")


def test_a_stale_stage_change_keeps_a_transfer_and_records_the_stage_really_left(w, owned):
    stale = owned()
    change_stage(w.rep, row(stale), "intent")
    set_owner(w.admin, row(stale), w.rep3, "跨组转移")

    change_stage(w.admin, stale, "signed")

    after = row(stale)
    assert (after.owner_id, after.team_id, after.stage) == (w.rep3.id, w.rep3.team_id, "signed")
    last = StageChange.select().where(StageChange.customer == stale.id).order_by(StageChange.id.desc()).first()
    assert (last.from_stage, last.to_stage) == ("intent", "signed")
    assert last_audit("customer.stage_changed", stale).data["from_stage"] == "intent"


def test_a_stale_stage_change_back_to_the_stage_the_page_showed_is_made_from_the_stage_there(w, owned):
    stale = owned()
    change_stage(w.rep, row(stale), "intent")
    set_owner(w.admin, row(stale), w.rep2)

    change_stage(w.admin, stale, "target")  # the stale row says target: the row says intent

    assert row(stale).stage == "target" and row(stale).owner_id == w.rep2.id
    last = StageChange.select().where(StageChange.customer == stale.id).order_by(StageChange.id.desc()).first()
    assert (last.from_stage, last.to_stage) == ("intent", "target")


def test_a_stale_owner_change_audits_the_owner_it_really_had(w, owned):
    stale = owned()
    set_owner(w.admin, row(stale), w.rep2, "一次")

    set_owner(w.admin, stale, w.rep3, "两次")

    event = last_audit("customer.owner_changed", stale)
    assert (event.data["from_owner_id"], event.data["to_owner_id"]) == (w.rep2.id, w.rep3.id)
    assert row(stale).owner_id == w.rep3.id


def test_a_stale_owner_change_to_the_owner_it_already_has_changes_nothing(w, owned):
    stale = owned()
    set_owner(w.admin, row(stale), w.rep2)
    update_customer(w.admin, row(stale), form_of(stale, city="上海"))

    set_owner(w.admin, stale, w.rep2)

    assert AuditEvent.select().where((AuditEvent.kind == "customer.owner_changed")
                                     & (AuditEvent.customer == stale.id)).count() == 2  # the factory's + the first
    assert (row(stale).owner_id, row(stale).city) == (w.rep2.id, "上海")


def test_a_stale_contact_save_keeps_a_release_and_audits_the_contact_as_it_was(w, owned):
    stale = owned()
    contact = save_contact(w.rep, row(stale), {"name": "王伟", "title": "采购经理"})
    stale_contact = Contact.get_by_id(contact.id)
    save_contact(w.rep, row(stale), {"name": "王伟", "title": "采购总监"}, contact=Contact.get_by_id(contact.id))
    release_customer(w.rep, row(stale), "客户暂无需求")

    save_contact(w.admin, stale, {"name": "王伟", "title": "副总经理"}, contact=stale_contact)

    after = row(stale)
    assert (after.owner_id, after.pool_id) == (None, w.pool.id)
    assert last_audit("contact.updated", stale).data["changes"] == {"title": ["采购总监", "副总经理"]}


def test_a_stale_release_by_the_former_owner_is_refused(w, owned):
    stale = owned()
    set_owner(w.admin, row(stale), w.rep3, "跨组转移")

    with pytest.raises(NotFound):
        release_customer(w.rep, stale, "不想要了")

    assert row(stale).owner_id == w.rep3.id
    assert not PoolEvent.select().where((PoolEvent.kind == "release") & (PoolEvent.customer == stale.id)).exists()


def test_a_stale_unlock_after_a_release_gives_no_release_date_to_a_pool_customer(w, owned):
    stale = owned()
    decide_lock(w.mgr, request_lock(w.rep, row(stale), "年底大单").id, True, "同意")
    stale = row(stale)
    release_customer(w.rep, row(stale), "客户暂无需求")

    with contextlib.suppress(DomainError):
        unlock_customer(w.mgr, stale, "解锁")

    after = row(stale)
    assert (after.owner_id, after.locked, after.release_at, after.release_rule) == (None, False, None, "")


def test_a_stale_lock_request_on_a_released_customer_is_refused(w, owned):
    stale = owned()
    release_customer(w.rep, row(stale), "客户暂无需求")

    with pytest.raises(DomainError):
        request_lock(w.rep, stale, "年底大单")


def test_a_stale_stake_or_assign_is_checked_against_the_row(w, pooled, make_user, make_team):
    stale = pooled()
    claim_customer(w.rep, stale.id)

    with pytest.raises(DomainError):
        stake_customer(w.rep2, stale)
    with pytest.raises(DomainError):
        assign_customer(w.mgr, stale, w.rep2)
    assert row(stale).owner_id == w.rep.id


# ---- many verbs at once on the same rows, against a real file -------------------------------------------

def test_claims_releases_follow_ups_edits_and_stage_changes_at_once_lose_nothing(w, pooled, owned, make_user):
    agents = [make_user("service") for _ in range(6)]
    reps = [make_user("sales", w.team) for _ in range(4)]
    in_pool = [pooled() for _ in range(4)]
    held = [owned(rep=reps[i]) for i in range(4)]
    calls, claims, releases, edits, stages = [], {}, {}, {}, {}
    for i, c in enumerate(in_pool):
        claims[c.id] = reps[(i + 1) % 4]
        calls.append(lambda c=c: ("claim", c.id, claim_customer(claims[c.id], c.id).owner_id))
    for i, c in enumerate(held):
        releases[c.id] = reps[i]
        calls.append(lambda c=c: ("release", c.id, release_customer(releases[c.id], row(c), "客户暂无需求").id))
    for c in in_pool + held:
        # each of these verbs is handed the row as a page read it before everything started
        for agent in agents:
            stale = row(c)
            calls.append(lambda a=agent, s=stale: ("followup", s.id, follow_up(a, s).id))
        edits[c.id] = f"城市{c.id}"
        stale = row(c)
        calls.append(lambda s=stale: ("edit", s.id, update_customer(w.admin, s, form_of(s, city=edits[s.id])).id))
        stale = row(c)
        stages[c.id] = "intent"
        calls.append(lambda s=stale: ("stage", s.id, change_stage(w.admin, s, "intent").id))

    results = fire(calls)

    outcomes = [r[1] for r in results if r[0] == "ok"]
    assert len(outcomes) == len(calls), [r for r in results if r[0] != "ok"]
    for c in in_pool:
        after = row(c)
        assert (after.owner_id, after.team_id, after.pool_id) == (claims[c.id].id, w.team.id, None)
        assert after.release_at is not None
    for c in held:
        after = row(c)
        assert (after.owner_id, after.team_id, after.pool_id, after.release_at) == (None, None, w.pool.id, None)
    for c in in_pool + held:
        after = row(c)
        assert (after.city, after.stage) == (edits[c.id], "intent")
        assert FollowUp.select().where(FollowUp.customer == c.id).count() == len(agents)
        last = (PoolEvent.select().where((PoolEvent.customer == c.id) & PoolEvent.kind.in_(("claim", "release")))
                .order_by(PoolEvent.id.desc()).first())
        if last.kind == "claim":
            assert (after.owner_id, after.pool_id) == (last.to_owner, None)
        else:
            assert (after.owner_id, after.pool_id) == (None, last.to_pool)
        assert PoolEvent.select().where((PoolEvent.customer == c.id) & (PoolEvent.kind == "claim")).count() \
            == (1 if c in in_pool else 0)


# ---- the other rows more than one verb writes ----------------------------------------------------------

def pipeline():
    from models.opportunities import PipelineTotal

    return sorted((p.owner, p.team, p.stage, p.month, p.count, p.amount_fen, p.weighted_fen)
                  for p in PipelineTotal.select() if p.count or p.amount_fen or p.weighted_fen)


def test_a_stale_opportunity_move_keeps_the_owner_a_transfer_gave_it_and_the_totals_right(w, owned):
    from models import opportunities as opps

    customer = owned(business_model="project")
    created = opps.create_opportunity(w.rep, customer, {"name": "ERP 项目", "amount": "1000000",
                                                        "expected_close": "2026-12-20"})
    stale = opps.Opportunity.get_by_id(created.id)
    set_owner(w.admin, row(customer), w.rep2, "转给同事")  # the owner_changed hook moves the open deal
    assert opps.Opportunity.get_by_id(created.id).owner_id == w.rep2.id

    opps.move_opportunity(w.admin, stale, "approach")
    opps.set_probability(w.admin, opps.Opportunity.get_by_id(created.id), "40", "客户预算已批")

    after = opps.Opportunity.get_by_id(created.id)
    assert (after.owner_id, after.stage, after.probability) == (w.rep2.id, "approach", 40)
    kept = pipeline()
    opps.rebuild_summaries()
    assert kept == pipeline()


def test_a_stale_opportunity_edit_audits_the_values_really_there(w, owned):
    from models import opportunities as opps

    customer = owned(business_model="project")
    created = opps.create_opportunity(w.rep, customer, {"name": "ERP 项目", "amount": "1000000",
                                                        "expected_close": "2026-12-20"})
    stale = opps.Opportunity.get_by_id(created.id)
    opps.move_opportunity(w.rep, opps.Opportunity.get_by_id(created.id), "approach")

    opps.update_opportunity(w.rep, stale, {"name": "ERP 二期", "amount": "1000000", "expected_close": "2026-12-20"})

    after = opps.Opportunity.get_by_id(created.id)
    assert (after.name, after.stage, after.probability) == ("ERP 二期", "approach", 30)
    assert last_audit("opportunity.updated", customer).data["changes"] == {"name": ["ERP 项目", "ERP 二期"]}
    kept = pipeline()
    opps.rebuild_summaries()
    assert kept == pipeline()


@pytest.fixture
def shop(w, owned):
    from models.orders import save_product

    product = save_product(w.admin, {"code": "FAB-01", "name_zh": "全棉府绸面料", "name_en": "Cotton poplin",
                                     "product_line": "面料", "unit": "米", "list_price": "28.50",
                                     "unit_cost": "19.20", "consumable": "1"})
    return owned(stage="intent"), product


def order_data(product, quantity="10"):
    from models import clock

    return {"ordered_on": clock.today().isoformat(), "product_0": str(product.id), "quantity_0": quantity,
            "unit_price_0": "30", "unit_cost_0": ""}


def test_a_stale_draft_is_not_signed_twice_nor_edited_once_signed(w, shop):
    from models.orders import Order, OrderLine, create_order, sign_order, update_order

    customer, product = shop
    draft = create_order(w.rep, customer, order_data(product))
    stale, stale_too = Order.get_by_id(draft.id), Order.get_by_id(draft.id)
    sign_order(w.rep, Order.get_by_id(draft.id))

    with pytest.raises(DomainError):
        sign_order(w.rep, stale)
    with pytest.raises(DomainError):
        update_order(w.rep, stale_too, order_data(product, quantity="99"))

    assert AuditEvent.select().where(AuditEvent.kind == "order.signed").count() == 1
    assert [ln.quantity for ln in OrderLine.select().where(OrderLine.order == draft.id)] == [10]
    assert Order.get_by_id(draft.id).status == "signed"


def test_a_stale_user_edit_does_not_reactivate_a_deactivated_user(w, make_user):
    from models.users import User, set_active, update_user

    user = make_user("service")
    stale = User.get_by_id(user.id)
    set_active(w.admin, User.get_by_id(user.id), False)

    update_user(w.admin, stale, {"full_name": "新名字", "email": "", "role": "service", "team_id": "",
                                 "region_id": "", "language": "en"})

    after = User.get_by_id(user.id)
    assert (after.full_name, after.active) == ("新名字", False)


def test_moving_a_stale_tree_node_keeps_the_contacts_other_fields(w, owned):
    from models.decision_tree import move_node

    customer = owned()
    boss = save_contact(w.rep, row(customer), {"name": "赵厂长", "title": "厂长"})
    contact = save_contact(w.rep, row(customer), {"name": "王伟", "title": "采购经理"})
    stale = Contact.get_by_id(contact.id)
    save_contact(w.rep, row(customer), {"name": "王伟", "title": "采购总监", "mobile": "13912345678"},
                 contact=Contact.get_by_id(contact.id))

    move_node(w.rep, row(customer), stale, str(boss.id))

    after = Contact.get_by_id(contact.id)
    assert (after.reports_to_id, after.title, after.mobile) == (boss.id, "采购总监", "13912345678")


def test_a_customer_is_not_given_to_a_colleague_deactivated_since_the_page_was_read(w, owned, pooled, make_user):
    from models.users import User, set_active

    leaver = make_user("sales", w.team)
    stale, stale_too = User.get_by_id(leaver.id), User.get_by_id(leaver.id)
    set_active(w.admin, User.get_by_id(leaver.id), False)
    customer, in_pool = owned(), pooled()

    with pytest.raises(DomainError):
        set_owner(w.admin, row(customer), stale)
    with pytest.raises(DomainError):
        assign_customer(w.mgr, row(in_pool), stale_too)

    assert Customer.select().where(Customer.owner == leaver.id).count() == 0


def test_payments_and_signatures_at_once_are_decided_on_the_rows(w, shop):
    from models.orders import Order, Payment, PaymentDue, create_order, record_payment, sign_order

    customer, product = shop
    draft = create_order(w.rep, customer, order_data(product))  # 10 × 30 = 300.00
    pages = [Order.get_by_id(draft.id) for _ in range(8)]

    signed = fire([lambda o=o: sign_order(w.rep, o).status for o in pages])

    assert sorted(r[0] for r in signed) == ["domain"] * 7 + ["ok"], signed
    assert AuditEvent.select().where(AuditEvent.kind == "order.signed").count() == 1
    assert PaymentDue.select().where(PaymentDue.order == draft.id).count() == 1
    pages = [Order.get_by_id(draft.id) for _ in range(8)]
    pay = {"received_on": pages[0].ordered_on.isoformat(), "amount": "300", "method": "cash"}

    paid = fire([lambda o=o: record_payment(w.rep, o, pay).id for o in pages])

    assert [r[0] for r in paid].count("ok") == 1, paid
    assert Payment.select().where(Payment.order == draft.id).count() == 1
