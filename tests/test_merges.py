"""Merging customers (issue 5 point 1): every row moves, chosen fields are taken, the loser is gone but
remembered (survivor_of, "merged into" page), refusals leave nothing written, and it is atomic."""
import pytest

from models import hooks, merges
from models.audit import AuditEvent
from models.customers import Contact, Customer, FollowUp, StageChange, log_follow_up, save_contact
from models.errors import DomainError, NotFound
from models.merges import CustomerMerge, merge_customers, survivor_of
from models.notifications import Notification
from models.pools import PoolEvent
from tests.conftest import valid_credit_code
from tests.test_permissions import db_state

TEXT = "上门拜访了采购经理，确认了下季度的西装订单数量"


@pytest.fixture
def pair(make_user, make_team, make_customer):
    team = make_team()
    rep_a, rep_b = make_user("sales", team), make_user("sales", team)
    admin = make_user("admin")
    survivor = make_customer(owner=rep_a, name="上海锦绣服饰有限公司")
    loser = make_customer(owner=rep_b, name="上海锦绣服饰(集团)有限公司", phone="021-6234 5678", city="上海",
                          credit_code=valid_credit_code(4242))
    for i in range(3):
        save_contact(admin, loser, {"name": f"联系人{i}", "mobile": f"1391234{i:04d}"})
    for i in range(2):
        log_follow_up(rep_b, Customer.get_by_id(loser.id), {"type": "visit", "content": f"{TEXT}{i}"})
    return dict(admin=admin, rep_a=rep_a, rep_b=rep_b, survivor=Customer.get_by_id(survivor.id),
                loser=Customer.get_by_id(loser.id))


def test_merge_moves_every_row_and_remembers_the_loser(pair):
    admin, s, l_ = pair["admin"], pair["survivor"], pair["loser"]
    before = {m: m.select().where(f == l_.id).count() for m, f in merges.customer_references()}
    assert before[Contact] == 3 and before[FollowUp] == 2 and before[AuditEvent] >= 5
    record = merge_customers(admin, l_.id, s.id, take=["phone", "credit_code", "city"], reason="同一家公司")
    assert Customer.get_or_none(Customer.id == l_.id) is None
    for model, field in merges.customer_references():
        assert model.select().where(field == l_.id).count() == 0, model
    assert Contact.select().where(Contact.customer == s.id).count() == 3
    assert FollowUp.select().where(FollowUp.customer == s.id).count() == 2
    assert StageChange.select().where(StageChange.customer == s.id).count() == 2
    survivor = Customer.get_by_id(s.id)
    assert survivor.phone == "021-6234 5678" and survivor.phone_norm == "02162345678"
    assert survivor.credit_code == l_.credit_code and survivor.city == "上海"
    assert survivor.last_followup_at == l_.last_followup_at
    assert record.moved["contact"] == 3 and record.moved["follow_up"] == 2
    assert record.fields["phone"] == ["", "021-6234 5678"]
    assert survivor_of(l_.id).id == s.id and survivor_of(s.id) is None
    event = AuditEvent.select().where((AuditEvent.kind == "customer.merged") & (AuditEvent.customer == s.id)).get()
    assert event.data["contacts"] == 3 and event.data["followups"] == 2 and event.data["loser_name"] == l_.name
    ledger = PoolEvent.get((PoolEvent.kind == "merge") & (PoolEvent.customer == s.id))
    assert ledger.inputs["loser_id"] == l_.id and ledger.from_owner == pair["rep_b"].id
    # both owners are told
    assert Notification.select().where((Notification.kind == "merged")
                                       & Notification.user.in_([pair["rep_a"].id, pair["rep_b"].id])).count() == 2


def test_fields_are_taken_only_when_chosen(pair):
    merge_customers(pair["admin"], pair["loser"].id, pair["survivor"].id, take=[])
    survivor = Customer.get_by_id(pair["survivor"].id)
    assert survivor.phone == "" and survivor.credit_code is None and survivor.name == "上海锦绣服饰有限公司"


def test_compare_defaults_take_what_the_survivor_lacks(pair):
    rows = {name: default for name, _t, _s, _l, default in merges.compare(pair["loser"], pair["survivor"])}
    assert rows["phone"] is True and rows["credit_code"] is True and rows["name"] is False


def test_chained_merges_follow_to_the_last_survivor(pair, make_customer):
    third = make_customer(name="锦绣服饰控股有限公司")
    merge_customers(pair["admin"], pair["loser"].id, pair["survivor"].id)
    merge_customers(pair["admin"], pair["survivor"].id, third.id)
    assert survivor_of(pair["loser"].id).id == third.id
    assert survivor_of(pair["survivor"].id).id == third.id


@pytest.mark.parametrize("case", ["itself", "gone", "gone_merged", "bad_field", "not_admin", "long_reason"])
def test_refusals_write_nothing(pair, make_customer, case):
    admin, s, l_ = pair["admin"], pair["survivor"], pair["loser"]
    if case == "gone_merged":
        other = make_customer(name="别的公司有限公司")
        merge_customers(admin, other.id, s.id)
    before = db_state()
    with pytest.raises((DomainError, NotFound)) as info:
        if case == "itself":
            merge_customers(admin, s.id, s.id)
        elif case == "gone":
            merge_customers(admin, 999999, s.id)
        elif case == "gone_merged":
            merge_customers(admin, other.id, s.id)
        elif case == "bad_field":
            merge_customers(admin, l_.id, s.id, take=["owner_id"])
        elif case == "not_admin":
            merge_customers(pair["rep_a"], l_.id, s.id)
        else:
            merge_customers(admin, l_.id, s.id, reason="长" * 301)
    assert db_state() == before
    if case == "itself":
        assert "itself" in info.value.message
    if case == "gone_merged":
        assert "merged into" in info.value.message


def test_merge_is_atomic_when_a_domain_hook_fails(pair):
    def refuse(actor, loser_id, survivor_id):
        Contact.update(name="改动").where(Contact.customer == loser_id).execute()
        raise DomainError("two open deals cannot be reconciled")

    hooks.on("customer_merged", refuse)
    try:
        before = db_state()
        with pytest.raises(DomainError):
            merge_customers(pair["admin"], pair["loser"].id, pair["survivor"].id)
        assert db_state() == before
    finally:
        hooks._HANDLERS["customer_merged"].remove(refuse)


def test_hook_runs_before_the_rows_move(pair):
    seen = []

    def look(actor, loser_id, survivor_id):
        seen.append(Contact.select().where(Contact.customer == loser_id).count())

    hooks.on("customer_merged", look)
    try:
        merge_customers(pair["admin"], pair["loser"].id, pair["survivor"].id)
    finally:
        hooks._HANDLERS["customer_merged"].remove(look)
    assert seen == [3]


# ---- over HTTP -------------------------------------------------------------------------------------

def body(r):
    return r.get_data(as_text=True)


def test_compare_screen_and_merge_through_the_form(client, pair):
    client.login(pair["admin"])
    s, l_ = pair["survivor"], pair["loser"]
    r = client.get(f"/merges/new?loser={l_.id}&survivor={s.id}")
    assert r.status_code == 200 and 'id="take-phone"' in body(r) and "checked" in body(r)
    r = client.post("/merges/new", {"loser": l_.id, "survivor": s.id, "take": ["phone"], "reason": "重复录入"})
    assert r.status_code == 303 and f"/customers/{s.id}" in r.headers["Location"]
    assert CustomerMerge.select().where(CustomerMerge.loser_id == l_.id).exists()
    # the survivor's timeline explains it
    r = client.get(f"/customers/{s.id}")
    assert "3 contacts, 2 follow-ups moved" in body(r)
    # the loser's address says where it went
    r = client.get(f"/customers/{l_.id}")
    assert r.status_code == 404 and 'id="survivor-link"' in body(r) and s.name in body(r)


def test_merged_page_hides_a_survivor_the_user_may_not_see(client, pair, make_user):
    merge_customers(pair["admin"], pair["loser"].id, pair["survivor"].id)
    outsider = make_user("sales")
    client.login(outsider)
    r = client.get(f"/customers/{pair['loser'].id}")
    assert r.status_code == 404 and pair["survivor"].name not in body(r) and "cannot open" in body(r)


def test_form_refusals_answer_with_a_message(client, pair):
    client.login(pair["admin"])
    s = pair["survivor"]
    before = db_state()
    r = client.post("/merges/new", {"loser": s.id, "survivor": s.id})
    assert r.status_code == 200 and "cannot be merged into itself" in body(r)
    r = client.post("/merges/new", {"loser": "99999999999999999999", "survivor": s.id})
    assert r.status_code == 200 and "merge-error" in body(r)
    r = client.get("/merges/new?loser=987654&survivor=1")
    assert r.status_code == 409 and "does not exist" in body(r)
    assert db_state() == before


def test_duplicates_list_pairs_same_phone_and_name(client, pair, make_customer):
    make_customer(name="上海锦绣服饰股份有限公司")  # same normalised name as the survivor
    make_customer(name="完全不同的公司", phone="021 62345678")  # same phone as the loser
    client.login(pair["admin"])
    r = client.get("/merges?kind=name")
    assert r.status_code == 200 and "上海锦绣服饰股份有限公司" in body(r) and "Compare and merge" in body(r)
    r = client.get("/merges?kind=phone")
    assert "02162345678" in body(r) and "完全不同的公司" in body(r)


def test_ownership_card_offers_merge_to_admins_and_a_case_to_reps(client, pair):
    s, l_ = pair["survivor"], pair["loser"]
    client.login(pair["admin"])
    r = client.get(f"/merges/customer/{s.id}/card")
    assert f"/merges/new?loser={l_.id}&amp;survivor={s.id}" in body(r)
    client.login(pair["rep_a"])
    r = client.get(f"/merges/customer/{s.id}/card")
    assert f"/conflicts/new?customer={l_.id}" in body(r) and "/merges/new" not in body(r)
