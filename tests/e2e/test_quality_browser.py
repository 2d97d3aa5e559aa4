"""Real-browser journeys through data quality (issue 17 items 1–3): a quality checker works three directed
checks (true, incomplete, false), a rep files a complaint about a pool record (refused without evidence,
then accepted) that the checker upholds, and the answerable rep's quality page shows the warning and the
capacity penalty with the rule and the findings behind them, without the complainant's name.

The test makes its own team, users and customers with unique names. Screenshots land in <--output>/<test-id>/.
"""
import uuid

from playwright.sync_api import Page, expect

from models import clock
from models import quality as qm
from models.customers import Customer, create_customer, set_owner
from models.pools import Pool
from models.quality_tables import QualityCheck
from models.users import Region, Team, User, hash_password
from tests.conftest import PASSWORD
from tests.e2e.conftest import log_in, shot


def _uid():
    return uuid.uuid4().hex[:8]


def _user(role, team=None, **kw):
    uid = _uid()
    return User.create(username=f"e2e-{role}-{uid}", full_name=kw.pop("full_name", f"E2E {role.title()} {uid[:4]}"),
                       password_hash=hash_password(PASSWORD), role=role, team=team,
                       region=team.region_id if team else None, created_at=clock.now(), language="en", **kw)


def _world():
    region = Region.get(Region.code == "east")
    team = Team.create(name=f"E2E 质检{_uid()}组", region=region)
    rep, colleague, admin = _user("sales", team), _user("sales", team, full_name=f"Whistle {_uid()[:4]}"), _user("admin")
    checker = _user("service", grants="quality")
    files = []
    for name in ("锦华服饰", "恒远制衣", "新禾纺织", "远景服装"):
        c = create_customer(admin, {"name": f"{name}有限公司{_uid()}", "business_model": "industrial",
                                    "source": "website", "stage": "target", "region_id": str(region.id)},
                            check_duplicates=False)
        set_owner(admin, c, rep)
        files.append(Customer.get_by_id(c.id))
    # the last one went back to the east pool from the rep (a pool record they answer for)
    pooled = files.pop()
    Customer.update(owner=None, team=None, pool=Pool.get(Pool.region == region.id).id, released_from=rep.id,
                    released_at=clock.now(), release_at=None).where(Customer.id == pooled.id).execute()
    # the score from the outcomes alone (the files are new and nearly empty): 95, 75, then 55 < 60
    if qm.in_force()["completeness_weight"]:
        qm.save_rule(admin, {**qm.in_force().s, "completeness_weight": 0}, clock.now(), note="e2e")
    checks = [QualityCheck.create(customer=c.id, owner=rep.id, source="rule", rule="contact_no_phone",
                                  findings={"contacts": 2}, created_at=clock.now()) for c in files]
    return {"rep": rep, "colleague": colleague, "checker": checker, "files": files, "pooled": pooled, "checks": checks}


def _work(page: Page, check_id, outcome, fields, evidence):
    page.goto(f"/quality/checks/{check_id}")
    expect(page.locator("#check-open-file")).to_be_visible()
    page.get_by_label(outcome, exact=True).check()
    for f in fields:
        page.get_by_label(f, exact=True).check()
    page.get_by_label("Evidence: what you verified and how").fill(evidence)
    page.get_by_role("button", name="Record the outcome").click()
    expect(page.locator("#check-outcome")).to_contain_text(outcome)


def test_checker_complaint_and_the_reps_penalty(page: Page, output_path):
    w = _world()
    log_in(page, w["checker"].username)
    page.get_by_role("link", name="Quality queue").click()
    expect(page.locator("#quality-table")).to_contain_text(w["files"][0].name)
    shot(page, output_path, "1-quality-queue.png")
    a, b, c = w["checks"]
    _work(page, a.id, "True", [], "Called the buyer, the file matches what they said.")
    _work(page, b.id, "Incomplete", ["Contacts"], "Only a surname on file; the switchboard gave the buyer's mobile.")
    # a colleague reports the pool record the rep released
    page.context.clear_cookies()
    log_in(page, w["colleague"].username)
    page.goto(f"/customers/{w['pooled'].id}")
    page.locator("#complain-link").click()
    page.get_by_label("Which information").select_option("contact_phone")
    page.get_by_label("What you found (e.g. the number belongs to another company)").fill("The buyer's mobile is a fax line.")
    page.get_by_role("button", name="Send the complaint").click()
    expect(page.locator("#err-evidence")).to_contain_text("without evidence is not taken")
    shot(page, output_path, "4-complaint-without-evidence.png")
    page.get_by_label("Evidence (who you called and when, the registry, the website)").fill("Called it on Monday: fax tone.")
    page.get_by_role("button", name="Send the complaint").click()
    expect(page.locator("#check-reporter")).to_contain_text(w["colleague"].full_name)
    complaint = QualityCheck.get((QualityCheck.source == "complaint") & (QualityCheck.customer == w["pooled"].id))

    # the checker upholds it
    page.context.clear_cookies()
    log_in(page, w["checker"].username)
    _work(page, complaint.id, "False", ["A contact's phone"], "Dialled it twice: a fax machine answers.")
    # a false outcome without fields is refused inline, nothing saved
    page.goto(f"/quality/checks/{c.id}")
    page.get_by_label("False", exact=True).check()
    page.get_by_label("Evidence: what you verified and how").fill("The number answers at another company.")
    page.get_by_role("button", name="Record the outcome").click()
    expect(page.locator("#err-fields")).to_contain_text("Say which fields")
    shot(page, output_path, "2-outcome-refused.png")
    _work(page, c.id, "False", ["Phone"], "The number answers at another company.")
    shot(page, output_path, "3-check-false.png")


    # the rep sees the consequences with the rule and the findings, and never the complainant's name
    page.context.clear_cookies()
    log_in(page, w["rep"].username)
    page.get_by_role("link", name="My data quality").click()
    consequences = page.locator("#quality-consequences")
    expect(consequences).to_contain_text("Penalty")
    expect(consequences).to_contain_text(f"Quality rule v{qm.in_force().version}: score 55 is below 60.")
    expect(consequences).to_contain_text("Capacity -10")
    for check in (b, c, complaint):
        expect(consequences.get_by_role("link", name=f"#{check.id}").first).to_be_visible()
    shot(page, output_path, "5-rep-quality-page.png")
    page.goto(f"/quality/checks/{complaint.id}")
    expect(page.locator("#check-reporter")).to_contain_text("kept confidential")
    expect(page.locator("body")).not_to_contain_text(w["colleague"].full_name)
    page.get_by_label("Your answer (what you corrected, or why you disagree)").fill("Corrected to the buyer's mobile.")
    page.get_by_role("button", name="Send the answer").click()
    expect(page.locator("#check-response")).to_contain_text("Corrected")
    shot(page, output_path, "6-rep-answers.png")
    page.goto(f"/capacity/{w['rep'].id}")
    expect(page.locator("body")).to_contain_text(f"Q v{qm.in_force().version} penalty: 55")
    shot(page, output_path, "7-capacity.png")
