"""No customer is left where nobody can see it (issue 11, finding 10): a lead that marketing qualifies
to target with no owner goes to its home pool, visible and claimable; so does a customer created or
unassigned with no owner; the sweep repairs any row that got there another way."""
from models import hooks
from models.audit import AuditEvent
from models.customers import Customer, change_stage, create_customer, set_owner
from models.pools import Pool, PoolEvent, orphans, repair_orphans
from models.users import Region


def test_marketing_qualifies_a_lead_into_its_region_pool(make_user, make_team, client):
    east = Region.get(Region.code == "east")
    marketer = make_user("marketing")
    rep = make_user("sales", make_team(region=east))
    lead = create_customer(marketer, {"name": "华东来询线索有限公司", "business_model": "consumer", "source": "website",
                                      "region_id": east.id}, check_duplicates=False)
    assert lead.owner_id is None and lead.pool_id is None and lead.stage == "unidentified"
    client.login(marketer)
    answer = client.post(f"/customers/{lead.id}/stage", {"stage": "target"})
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/customers")
    assert "华东来询线索有限公司" in client.get("/customers").get_data(as_text=True)  # the flash says where it went
    row = Customer.get_by_id(lead.id)
    assert row.pool_id == Pool.get(Pool.region == east.id).id
    event = PoolEvent.select().where(PoolEvent.customer == lead.id).order_by(PoolEvent.id.desc()).first()
    assert event.kind == "placed" and event.to_pool == row.pool_id
    assert AuditEvent.select().where((AuditEvent.customer == lead.id) & (AuditEvent.kind == "pool.placed")).exists()
    client.login(rep)
    assert client.get(f"/customers/{lead.id}").status_code == 200
    assert client.post(f"/pools/{lead.id}/claim", htmx=True).status_code == 200
    assert Customer.get_by_id(lead.id).owner_id == rep.id


def test_created_or_unassigned_without_an_owner_lands_in_a_pool(make_user, make_customer):
    admin = make_user("admin")
    created = create_customer(admin, {"name": "无人认领测试有限公司", "business_model": "consumer", "source": "website"},
                              check_duplicates=False)
    assert Customer.get_by_id(created.id).pool_id is not None
    rep = make_user("sales")
    owned = make_customer(owner=rep)
    set_owner(admin, owned, None, "test")
    assert Customer.get_by_id(owned.id).pool_id is not None
    assert not orphans().exists()


def test_the_sweep_repairs_orphans_and_is_idempotent(make_customer):
    ids = [make_customer().id for _ in range(3)]
    Customer.update(pool=None, owner=None).where(Customer.id.in_(ids)).execute()
    assert orphans().count() == 3
    results = hooks.run_sweeps()
    assert results["orphans"] == {"placed": 3}
    assert not orphans().exists()
    assert repair_orphans() == {"placed": 0}
    assert PoolEvent.select().where((PoolEvent.kind == "placed") & (PoolEvent.reason == "repair")
                                    & PoolEvent.customer.in_(ids)).count() == 3
