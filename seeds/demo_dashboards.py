"""Demo scene of the dashboards (issue 16 item 5): a few reps win back customers from the pools (claims, some
of them taken on to intent and signed), so pool health shows recovered → signed; then the demo's stage history
is folded into the lifecycle summary and the customers are counted, as the sweep would within minutes of
start-up, so the admin's funnel, promotions and pool health read the summaries from the first page."""
from models import clock, customers, dashboards, pools
from models.customers import Customer
from models.errors import DomainError
from models.users import User

CLAIMS = 24  # spread over the reps of several teams; rep001's own demo figures stay as they are


def stage(say):
    say("demo data: dashboards (customers won back from the pools, lifecycle flows, customer tally)")
    reps = list(User.select().where((User.role == "sales") & User.active & (User.username != "rep001"))
                .order_by(User.id).limit(12))
    won = []
    pooled = (Customer.select(Customer.id).where(Customer.owner.is_null() & Customer.pool.is_null(False)
                                                 & Customer.released_at.is_null(False) & Customer.staked_by.is_null())
              .order_by(Customer.id).limit(400))
    candidates = [c.id for c in pooled]
    for i, rep in enumerate(reps):
        for cid in candidates[i::len(reps) or 1]:
            if len(won) >= CLAIMS or sum(1 for r, _c in won if r.id == rep.id) >= 2:
                break
            try:
                pools.claim_customer(rep, cid)
            except DomainError:
                continue
            won.append((rep, cid))
            candidates.remove(cid)
    for k, (rep, cid) in enumerate(won):
        if k % 3 == 0:  # a third taken on: intent, and every second of those signed
            customers.change_stage(rep, Customer.get_by_id(cid), "intent", "重新接触后确认需求")
            if k % 6 == 0:
                customers.change_stage(rep, Customer.get_by_id(cid), "signed", "签订首单")
    now = clock.now()
    while dashboards.fold(now) or dashboards.fold_pools(now):
        pass
    dashboards.take_tally(now, force=True)
