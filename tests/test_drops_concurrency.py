"""Fair drops under races (issue 20 item 1), against a real SQLite file: ten queued reps claim at the drop
instant while the sweep runs; exactly one wins, the lottery's winner, once; the others are told their place.
Threads with their own connections, released together by a barrier (tests/test_pool_concurrency.py)."""
import datetime as dt

from models import clock, drops
from models.customers import Customer
from models.notifications import Notification
from models.pools import PoolEvent
from models.rules import save_version
from tests.test_pool_concurrency import east, fire, pool_customers  # noqa: F401  (fixtures)


def _queued_drop(make_user, make_team, east, pool_customers, n):  # noqa: F811
    region, pool = east
    save_version(make_user("admin"), {"drops": {str(pool.id): {"time": "10:00", "method": "lottery"}}}, clock.now())
    teams = [make_team(region=region) for _ in range(3)]
    reps = [make_user("sales", teams[i % 3]) for i in range(n)]
    [cid] = pool_customers(1)
    drop_at = clock.now() + dt.timedelta(hours=1)
    Customer.update(drop_at=drop_at).where(Customer.id == cid).execute()
    for rep in reps:
        drops.queue_for(rep, Customer.get_by_id(cid))
    clock.freeze(drop_at)
    return reps, cid


def test_ten_queued_reps_claim_at_the_drop_instant_with_the_sweep_one_wins_by_the_lottery(
        make_user, make_team, east, pool_customers):  # noqa: F811
    reps, cid = _queued_drop(make_user, make_team, east, pool_customers, 10)
    calls = [lambda rep=rep: drops.claim(rep, cid) for rep in reps] + [drops.sweep]
    results = fire(calls)
    claims = results[:-1]
    assert [r[0] for r in claims].count("ok") == 1
    assert sorted(r[1] for r in claims if r[0] != "ok") == ["drop_lost"] * 9
    rows = list(PoolEvent.select().where(PoolEvent.kind == "drop"))
    assert len(rows) == 1  # drawn once, whoever came first
    d = rows[0].inputs
    assert drops.draw(d["seed"], d["entrants"]) == d["order"] and sorted(d["entrants"]) == sorted(r.id for r in reps)
    winner = reps[[r[0] for r in claims].index("ok")].id
    assert d["winner"] == d["order"][0] == winner == Customer.get_by_id(cid).owner_id
    assert PoolEvent.select().where((PoolEvent.kind == "claim") & (PoolEvent.customer == cid)).count() == 1
    places = {e.user_id: e.place for e in drops.DropEntry.select()}
    assert places == {uid: i + 1 for i, uid in enumerate(d["order"])}
    assert Notification.select().where(Notification.kind.in_(("drop_won", "drop_lost"))).count() == 10


def test_two_reps_queued_claim_at_once_the_loser_is_told_place_two(make_user, make_team, east, pool_customers):  # noqa: F811
    reps, cid = _queued_drop(make_user, make_team, east, pool_customers, 2)
    results = fire([lambda rep=rep: drops.claim(rep, cid) for rep in reps])
    assert sorted(r[0] for r in results) == ["ok", "refused"]
    loser = reps[[r[0] for r in results].index("refused")]
    entry = drops.DropEntry.get(drops.DropEntry.user == loser.id)
    assert (entry.outcome, entry.place) == ("lost", 2)
