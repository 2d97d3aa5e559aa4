"""Browser fixtures: Debian's Chromium driven by Playwright against the app served by waitress (the
server `python3 app.py serve` builds, through the same `build_server`) in a thread."""
import os
import shutil
import threading
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Error as PlaywrightError
import models
from app import build_server, create_app
from tests.conftest import PASSWORD, TEST_CONFIG

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
E2E_REQUIRED = os.environ.get("E2E_REQUIRED") == "1"


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:  # `pytest -m "not e2e"` leaves the browser tests out
        if item.path.is_relative_to(here):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    # Use the system Chromium, never a downloaded one.
    if not os.access(CHROMIUM, os.X_OK):
        msg = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
        if E2E_REQUIRED:
            pytest.fail(msg + "; E2E_REQUIRED=1 forbids skipping", pytrace=False)
        pytest.skip(msg)
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def e2e_db(template_db, tmp_path_factory):
    path = tmp_path_factory.mktemp("e2e") / "kehu.db"
    shutil.copy(template_db, path)
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def live_server(e2e_db):
    """The app on a free loopback port, served by waitress as in production, on its own database file."""
    app = create_app({**TEST_CONFIG, "DATABASE_URL": e2e_db, "TESTING": False})
    server = build_server(app, "127.0.0.1", 0)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    server.task_dispatcher.shutdown(timeout=5)
    server.close()


@pytest.fixture(scope="session")
def base_url(live_server):
    return live_server


@pytest.fixture(autouse=True)
def _bind_db(live_server, e2e_db):
    # Unit tests rebind the shared database handle; put it back on the browser tests' file (only then: the
    # server may still be answering the last page's requests on the connections of the binding there is).
    bound = getattr(models.db, "obj", None)
    if getattr(bound, "database", None) != e2e_db.removeprefix("sqlite:///"):
        models.init_db(e2e_db)
    yield


@pytest.fixture(autouse=True)
def _fail_on_js_errors(page):
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # Whatever the content security policy blocks (an inline handler, a style attribute) is reported
    # on the console, not as a page error.
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error"
            and "Content Security Policy" in msg.text else None)
    yield
    assert not errors, f"JavaScript errors on the page: {errors}"


def log_in(page, username, password=PASSWORD):
    """Log in through the real form (in English) and land on the workbench. A page left open after its cookies
    were cleared may be sent to the login page by its own polling (its badges) at that moment, aborting this
    navigation or, later, reloading the form just filled: the page goes blank first (its requests end with it),
    and a navigation interrupted all the same is done again."""
    page.goto("about:blank")  # the page left open stops polling: its answers cannot navigate this one away
    for attempt in range(3):
        try:
            page.goto("/login?lang=en")
            break
        except PlaywrightError as exc:
            if not ("ERR_ABORTED" in str(exc) or "interrupted by another navigation" in str(exc)) or attempt == 2:
                raise
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/")
    return page


def shot(page, output_path, name):
    """A full-page screenshot from the top, so the fixed top bar is drawn where the user sees it."""
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=Path(output_path) / name, full_page=True)


def mark_page(page):
    """A marker that survives htmx swaps but not a full page load."""
    page.evaluate("window.__noReload = true")


def assert_not_reloaded(page):
    assert page.evaluate("window.__noReload === true"), "the page was reloaded instead of swapped by htmx"


@pytest.fixture
def login(page):
    """Log in through the real form and land on the workbench."""
    return lambda username, password=PASSWORD: log_in(page, username, password)


def uid():
    """A short unique suffix for what a browser test makes of its own (teams, users, customers)."""
    return uuid.uuid4().hex[:8]


def e2e_user(role, team=None, **kw):
    """A user of `role` (in `team`, its region) with the tests' password, unique name, English screens."""
    from models import clock
    from models.users import User, hash_password

    u = uid()
    return User.create(username=f"e2e-{role}-{u}", full_name=kw.pop("full_name", f"E2E {role.title()} {u[:4]}"),
                       password_hash=hash_password(PASSWORD), role=role, team=team,
                       region=team.region_id if team else None, created_at=clock.now(), language="en", **kw)
