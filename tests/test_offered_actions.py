"""Issue 13 point 8: screens offer only what the user may do and say why the rest is unavailable — the stage
menu lists the stages `customer.set_stage` allows; a full private pool says so above the pool list and puts
the reason in place of each claim button (the claim that fills it reloads the list); a successful stake is not
followed by a red refusal."""
import json
import re

from models.customers import STAGES, Customer
from models.permissions import can
from models.pools import Pool, claim_customer
from models.rules import DEFAULTS, save_version
from models.users import Region
from models import clock


def body(response):
    return response.get_data(as_text=True)


def stage_options(page):
    menu = re.search(r'<select id="stage-select" name="stage">(.*?)</select>', page, re.S).group(1)
    return re.findall(r'<option value="([a-z_]+)"', menu)


def test_the_stage_menu_offers_marketing_only_the_stages_it_may_set(client, make_user, make_customer):
    marketer, rep = make_user("marketing"), make_user("sales")
    lead = make_customer(stage="prospect")
    assert [s for s in STAGES if can(marketer, "customer.set_stage", s)] == ["unidentified", "prospect", "target"]
    client.login(marketer)
    page = body(client.get(f"/customers/{lead.id}"))
    assert stage_options(page) == ["unidentified", "prospect", "target"]
    assert 'id="stage-limit"' in page and "up to Target" in page
    owned = make_customer(owner=rep, stage="intent")
    client.login(rep)
    page = body(client.get(f"/customers/{owned.id}"))
    assert stage_options(page) == list(STAGES) and 'id="stage-limit"' not in page


def _pool_world(make_user, make_team, make_customer, n=3):
    east = Region.get(Region.code == "east")
    rep = make_user("sales", make_team(region=east))
    pool = Pool.get(Pool.region == east.id)
    rows = []
    for _ in range(n):
        c = make_customer(region_id=east.id)
        Customer.update(pool=pool.id).where(Customer.id == c.id).execute()
        rows.append(Customer.get_by_id(c.id))
    return rep, pool, rows


def test_a_full_private_pool_offers_no_claim_and_says_why(client, make_user, make_team, make_customer):
    save_version(make_user("admin"), {**DEFAULTS, "capacity": {"sales": 2, "manager": 2}}, clock.now())
    rep, pool, rows = _pool_world(make_user, make_team, make_customer)
    client.login(rep)
    page = body(client.get(f"/pools?pool={pool.id}"))
    assert f'hx-post="/pools/{rows[0].id}/claim"' in page and 'id="pool-full"' not in page
    r = client.post(f"/pools/{rows[0].id}/claim", htmx=True)
    events = json.loads(r.headers["HX-Trigger"])
    assert "capacityChanged" in events and "poolFull" not in events  # one place left
    r = client.post(f"/pools/{rows[1].id}/claim", htmx=True)
    events = json.loads(r.headers["HX-Trigger"])
    assert events["poolFull"] is True and "Claimed" in events["showToast"]["message"]
    page = body(client.get(f"/pools?pool={pool.id}"))
    assert 'id="pool-full"' in page and "Your private pool is full (2 of 2)" in page
    assert 'data-reload-on="poolFull"' in page  # the claim that fills the pool redraws the list
    row = re.search(rf'<tr id="pool-row-{rows[2].id}".*?</tr>', page, re.S).group(0)
    assert f'hx-post="/pools/{rows[2].id}/claim"' not in row  # no claim button: the reason in its place
    assert re.search(rf'<span class="refusal" id="claim-why-{rows[2].id}">Your private pool is full', row)
    # The customer's own page says the same, with the button off.
    file_page = body(client.get(f"/customers/{rows[2].id}"))
    assert 'id="claim-button" disabled' in file_page and "Your private pool is full" in file_page


def test_a_successful_stake_is_not_followed_by_a_red_pool_full_line(client, make_user, make_team, make_customer):
    save_version(make_user("admin"), {**DEFAULTS, "capacity": {"sales": 1, "manager": 1}, "stake_multiplier": 1},
                 clock.now())
    rep, pool, rows = _pool_world(make_user, make_team, make_customer)
    claim_customer(rep, rows[0].id)
    client.login(rep)
    r = body(client.post(f"/pools/{rows[1].id}/stake", htmx=True))
    assert 'class="ok" role="status">Staked until' in r
    assert 'class="refusal"' not in r and "Your private pool is full" in r  # said, quietly, beside the claim
