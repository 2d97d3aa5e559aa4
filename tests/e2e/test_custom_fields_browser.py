"""Real-browser journey through custom profile fields (issue 13 point 2): an admin creates a choice field for
industrial customers (a duplicate option refused inline first), a rep fills it on a customer's file (the
field follows the business model on the form), sees it on the 360 profile and filters the list by it.

Every test makes its own team, users, customers and field key. Screenshots land in <--output>/<test-id>/.
"""
import re
import uuid

from playwright.sync_api import Page, expect

from models import clock
import pytest

from models.customers import CustomField, create_customer, custom_values, set_owner
from models.settings import set_custom_field_active
from models.users import Region, Team, User, hash_password
from tests.conftest import PASSWORD
from tests.e2e.conftest import log_in, shot


def _uid():
    return uuid.uuid4().hex[:8]


def _user(role, team=None):
    uid = _uid()
    return User.create(username=f"e2e-{role}-{uid}", full_name=f"E2E {role.title()} {uid[:4]}",
                       password_hash=hash_password(PASSWORD), role=role, team=team,
                       region=team.region_id if team else None, created_at=clock.now(), language="en")


@pytest.fixture
def fields_left_as_found():
    """The browser tests share one database: the field this test adds must not weigh on the others' files."""
    before = {f.id for f in CustomField.select(CustomField.id)}
    yield
    for field in CustomField.select().where(CustomField.id.not_in(before) & CustomField.active):
        set_custom_field_active(User.get((User.role == "admin") & User.active), field, False)


def test_admin_defines_a_choice_field_a_rep_fills_it_and_filters_by_it(page: Page, output_path, fields_left_as_found):
    region = Region.get(Region.code == "east")
    team = Team.create(name=f"E2E 字段{_uid()}组", region=region)
    rep, admin = _user("sales", team), _user("admin")
    uid = _uid()
    customers = []
    for name in (f"锦纶织造有限公司{uid}", f"恒丰纺织有限公司{uid}"):
        c = create_customer(admin, {"name": name, "business_model": "industrial", "source": "website",
                                    "region_id": str(region.id)}, check_duplicates=False)
        set_owner(admin, c, rep)
        customers.append(c)
    filled, other = customers
    key = f"fabric_{uid}"

    # the admin creates the field through the real form
    log_in(page, admin.username)
    page.goto("/admin/fields")
    page.locator("#new-field").click()
    page.wait_for_url("**/admin/fields/new")
    expect(page.locator("#key")).to_be_enabled()
    page.locator("#key").fill(key)
    page.get_by_label("Label in Chinese").fill("主营面料")
    page.get_by_label("Label in English").fill(f"Main fabric {uid}")
    page.get_by_label("Kind").select_option("choice")
    page.get_by_label("Options (one per line)").fill("羊毛\n牛仔布\n羊毛")
    page.locator("#business-models").get_by_label("Industrial goods").check()
    page.get_by_label("Weight toward completeness").fill("5")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#err-choices")).to_have_text("Each option once: 羊毛 is listed twice.")
    assert not CustomField.select().where(CustomField.key == key).exists()
    shot(page, output_path, "admin-field-refused.png")
    page.get_by_label("Options (one per line)").fill("羊毛\n牛仔布\n全棉")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url("**/admin/fields")
    row = page.locator(f"#field-{key}")
    expect(row).to_contain_text("Choice")
    expect(row).to_contain_text("Industrial goods")
    expect(row).to_contain_text("羊毛 · 牛仔布 · 全棉")
    shot(page, output_path, "admin-fields.png")

    # the rep fills it on the customer's file
    page.context.clear_cookies()
    log_in(page, rep.username)
    page.goto(f"/customers/{filled.id}")
    expect(page.locator(f"#custom-{key}")).to_have_text("—")
    expect(page.locator("#c360-profile")).to_contain_text(f"Main fabric {uid}")  # missing, +5
    page.get_by_role("link", name="Edit", exact=True).click()
    page.wait_for_url(f"**/customers/{filled.id}/edit")
    select = page.locator(f"#custom_{key}")
    expect(select).to_be_visible()
    page.locator("#business_model").select_option("consumer")  # not a field of consumer goods
    expect(select).to_have_count(0)
    page.locator("#business_model").select_option("industrial")
    expect(select).to_be_visible()
    select.select_option("牛仔布")
    shot(page, output_path, "customer-form.png")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(f"**/customers/{filled.id}")
    expect(page.locator(f"#custom-{key}")).to_have_text("牛仔布")
    assert custom_values([filled.id])[filled.id] == {key: "牛仔布"}
    shot(page, output_path, "customer-360.png")

    # and filters the list by it
    page.goto("/customers?scope=mine")
    page.locator("details.more-filters summary").click()
    page.locator(f"#filter-{key}").select_option("牛仔布")
    results = page.locator("#results")
    expect(results).to_contain_text(filled.name)
    expect(results).not_to_contain_text(other.name)
    assert re.search(rf"cf\.{key}=", page.url)
    shot(page, output_path, "customer-list-filtered.png")

    # the same in Chinese: the filtered list's own address keeps the filter, the file names the field in Chinese
    page.goto(page.url)
    page.get_by_role("button", name="简体中文").click()
    page.wait_for_load_state()
    expect(page.locator(f"#filter-{key}")).to_have_value("牛仔布")
    expect(page.locator("#results")).to_contain_text(filled.name)
    shot(page, output_path, "customer-list-filtered-zh.png")
    page.goto(f"/customers/{filled.id}")
    expect(page.locator("#c360-profile")).to_contain_text("主营面料")
    shot(page, output_path, "customer-360-zh.png")
