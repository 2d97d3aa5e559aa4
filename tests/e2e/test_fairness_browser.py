"""Real-browser journey through the fairness figures (issue 20 items 5 and 6): a team's manager opens the
fairness page, reads the Gini coefficients beside the Lorenz curves and the conversion after claim per rep,
opens the flag the sweep raised (a customer released by one rep and re-claimed by a team mate days later)
with its evidence — the customer, the two ledger rows — and marks it reviewed with a note (refused without
one). A rep of the team sees only their own figures against the team's average.

The test makes its own team, users and customers with unique names. Screenshots land in <--output>/<test-id>/.
"""
import datetime as dt
import uuid

from playwright.sync_api import Page, expect

from models import clock
from models import fairness as fm
from models.customers import Customer, create_customer, set_owner
from models.pools import claim_customer, release_customer
from models.users import Region, Team, User, hash_password
from tests.conftest import PASSWORD
from tests.e2e.conftest import log_in, shot


def _uid():
    return uuid.uuid4().hex[:8]


def _user(role, team, name):
    return User.create(username=f"e2e-{role}-{_uid()}", full_name=name, password_hash=hash_password(PASSWORD),
                       role=role, team=team, region=team.region_id, created_at=clock.now(), language="en")


def _world():
    region = Region.get(Region.code == "east")
    team = Team.create(name=f"E2E 公平{_uid()}组", region=region)
    manager = _user("manager", team, f"Judge {_uid()[:4]}")
    Team.update(manager=manager).where(Team.id == team.id).execute()
    giver, friend = _user("sales", team, f"Giver {_uid()[:4]}"), _user("sales", team, f"Friend {_uid()[:4]}")
    admin = _user("admin", team, f"Admin {_uid()[:4]}")
    now = clock.now()
    files = []
    for name in ("锦华服饰", "恒远制衣", "新禾纺织"):
        c = create_customer(admin, {"name": f"{name}有限公司{_uid()}", "business_model": "consumer",
                                    "source": "website", "stage": "target", "region_id": str(region.id)},
                            check_duplicates=False)
        set_owner(admin, c, giver)
        files.append(Customer.get_by_id(c.id))
    released = release_customer(giver, files[0], "客户暂停采购，放回公海", now=now - dt.timedelta(days=9))
    claim_customer(friend, released.id, now=now - dt.timedelta(hours=2))
    fm.sweep(now)
    flag = fm.FairFlag.get((fm.FairFlag.kind == "reclaim") & (fm.FairFlag.rep == friend.id))
    return {"manager": manager, "giver": giver, "friend": friend, "customer": released, "flag": flag}


def test_manager_reads_the_gini_and_reviews_a_flag(page: Page, output_path):
    w = _world()
    log_in(page, w["manager"].username)
    page.get_by_role("link", name="Fairness", exact=True).click()
    expect(page.locator("#gini-claims")).to_have_text("0.67")  # one of three (the manager claims too) made the only claim: (n - 1) / n
    expect(page.locator(".fair-lorenz polyline.fair-claims")).to_have_count(1)
    row = page.locator(f'#fair-reps tr[data-rep="{w["friend"].id}"]')
    expect(row).to_contain_text(w["friend"].full_name)
    shot(page, output_path, "1-fairness-team.png")
    page.locator(f'tr[data-flag="{w["flag"].id}"] a').first.click()
    expect(page.locator("#flag-summary")).to_contain_text(f"{w['friend'].full_name} claimed a customer 8.9 days after")
    expect(page.locator("#flag-evidence")).to_contain_text(w["customer"].name)
    expect(page.locator("#flag-ledger tbody tr")).to_have_count(2)
    page.get_by_role("button", name="Mark reviewed").click()
    expect(page.locator("#flag-review .field-error")).to_contain_text("Say what you found")
    page.get_by_label("What you found").fill("组内交接：原销售调岗前已口头移交，属正常")
    page.get_by_role("button", name="Mark reviewed").click()
    expect(page.locator("#flag-review [role=status]")).to_contain_text("组内交接")
    shot(page, output_path, "2-flag-evidence-reviewed.png")

    page.context.clear_cookies()
    log_in(page, w["giver"].username)
    page.get_by_role("link", name="Fairness", exact=True).click()
    expect(page.locator("#fair-mine")).to_be_visible()
    expect(page.locator("body")).not_to_contain_text(w["friend"].full_name)
    shot(page, output_path, "3-rep-own-figures.png")
