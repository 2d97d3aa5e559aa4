from pathlib import Path

from playwright.sync_api import Page, expect

from models import clock
from models.users import User, hash_password
from tests.conftest import PASSWORD


def test_admin_lands_on_workbench(page: Page, login, output_path):
    if not User.select().where(User.username == "e2e-admin").exists():
        User.create(username="e2e-admin", full_name="E2E 管理员", password_hash=hash_password(PASSWORD),
                    role="admin", created_at=clock.now(), language="en")
    login("e2e-admin")
    assert page.evaluate("typeof htmx") == "object"
    expect(page.locator("#workbench-title")).to_contain_text("Workbench")
    page.screenshot(path=Path(output_path) / "admin-workbench.png", full_page=True)
