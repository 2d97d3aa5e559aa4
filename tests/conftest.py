"""Fixtures: an app on a fresh temp-file database per test, a frozen clock, and factories."""
import datetime as dt
import hashlib
import itertools
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from itsdangerous import URLSafeTimedSerializer
from jinja2 import BytecodeCache

# The tests' instance folder is this checkout's own: two checkouts testing at once do not share one. Under
# pytest-xdist (`-n 2`) each worker (gw0, gw1 ...) has its own too: documents, compiled translations.
_CHECKOUT = hashlib.sha1(str(Path(__file__).resolve().parent.parent).encode()).hexdigest()[:10]
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
os.environ.setdefault("KEHU_INSTANCE", str(Path(tempfile.gettempdir()) / f"kehu-test-{_CHECKOUT}"))
if WORKER:
    os.environ["KEHU_INSTANCE"] = f"{os.environ['KEHU_INSTANCE']}-{WORKER}"

import models  # noqa: E402
from app import configure_models, create_app  # noqa: E402
from models import clock  # noqa: E402
from models.users import Team, User, hash_password  # noqa: E402

# Tests need no durability: without fsync each request (which closes the database) is ~10 ms faster.
models.base.SQLITE_PRAGMAS["synchronous"] = "off"

FROZEN = dt.datetime(2026, 11, 24, 2, 0, 0)  # 10:00 in Shanghai
PASSWORD = "correct-horse-1"
TEST_CONFIG = {"TESTING": True, "PASSWORD_METHOD": "pbkdf2:sha256:1000", "SECRET_KEY": "test-only-key",
               # A header waitress cannot send (non-Latin-1) is an error in every test, not a silent repair.
               "STRICT_HEADERS": True,
               # Throw-away databases: no fsync (the concurrency tests still use a real file and locks).
               "SQLITE_PRAGMAS": {"synchronous": "off"}}


# The engine the tests run on: sqlite (default) or postgres (`app.py test --engine postgres`, or this variable;
# KEHU_TEST_PG_URL points at a server of one's own instead of a throw-away cluster).
ENGINE = os.environ.get("KEHU_TEST_ENGINE", "sqlite")
sqlite_only = pytest.mark.skipif(ENGINE != "sqlite", reason="SQLite only (the file, its pragmas or its locking)")


def worker_database(name):
    """A PostgreSQL database name of this xdist worker's own (kehu_test_gw0), for a server the workers share
    (KEHU_TEST_PG_URL); without one, each worker starts a throw-away cluster of its own anyway."""
    return f"{name}_{WORKER}" if WORKER else name


@pytest.fixture(scope="session")
def pg_server():
    """The PostgreSQL server's URL on the postgres pass (a throw-away cluster unless one is given)."""
    if ENGINE != "postgres":
        yield None
        return
    given = os.environ.get("KEHU_TEST_PG_URL")
    if given:
        yield given
        return
    from tests.pgcluster import Cluster

    cluster = Cluster(tempfile.mkdtemp(prefix="kehu-pg-")).start()
    try:
        yield cluster.url()
    finally:
        cluster.stop()


def _load_template(url):
    models.init_db(url)
    with models.db.connection_context():
        models.migrate()
        from seeds import reference
        reference.load()
        if models.base.is_sqlite():
            models.db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    models.db.close()


@pytest.fixture(scope="session")
def template_db(tmp_path_factory, pg_server):
    """A migrated database with reference data, copied for every test (faster than migrating each time):
    a file on SQLite; on PostgreSQL one database, put back as it was before every test."""
    if pg_server:
        from tests.pgcluster import Reset, admin_execute, with_database

        name = worker_database("kehu_test")
        admin_execute(pg_server, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", f"CREATE DATABASE {name}")
        url = with_database(pg_server, name)
        _load_template(url)
        reset = Reset(url)
        yield url, reset
        reset.close()
        return
    path = tmp_path_factory.mktemp("db") / "template.db"
    _load_template(f"sqlite:///{path}")
    yield path


@pytest.fixture
def db_url(template_db, tmp_path, pg_server):
    """The URL of the test's own fresh database: a copy of the template (SQLite), or the one database put
    back as it was (PostgreSQL)."""
    if pg_server:
        url, reset = template_db
        models.close_db()
        reset()
        return url
    path = tmp_path / "kehu.db"
    shutil.copy(template_db, path)
    return f"sqlite:///{path}"


@pytest.fixture
def db_path(db_url, tmp_path):
    """The test's own SQLite file, the one `app` uses (tests that need the file itself are SQLite only)."""
    if ENGINE != "sqlite":
        pytest.skip("SQLite only (the test works on the database file)")
    return tmp_path / "kehu.db"


class _SharedBytecodeCache(BytecodeCache):
    """Compiled templates shared by every test's app (each new app has its own Jinja environment)."""

    def __init__(self):
        self.store = {}

    def load_bytecode(self, bucket):
        if bucket.key in self.store:
            bucket.bytecode_from_string(self.store[bucket.key])

    def dump_bytecode(self, bucket):
        self.store[bucket.key] = bucket.bytecode_to_string()


_BYTECODE = _SharedBytecodeCache()


_SHARED = {}


def _shared_app(url):
    """One application for every test (building one compiles ~150 URL rules: ~0.1 s, a third of a fast
    test), pointed at each test's own database, its settings put back as they were created."""
    if "app" not in _SHARED:
        application = create_app({**TEST_CONFIG, "DATABASE_URL": url})
        application.jinja_env.bytecode_cache = _BYTECODE
        _SHARED.update(app=application, config=dict(application.config))
    application = _SHARED["app"]
    application.config.clear()
    application.config.update({**_SHARED["config"], "DATABASE_URL": url})
    # and what models/ took from them (another test's create_app may have changed the session lifetime)
    configure_models(application.config)
    return application


@pytest.fixture
def app(db_url):
    clock.freeze(FROZEN)
    application = _shared_app(db_url)
    models.db.connect(reuse_if_open=True)
    yield application
    # The invariant every verb keeps, checked after every test: no customer where nobody can see it.
    models.db.connect(reuse_if_open=True)
    from models.pools import orphans
    lost = [c.id for c in orphans().select(models.customers.Customer.id).limit(10)]
    models.close_db()
    clock.freeze(None)
    assert not lost, f"customers with no owner and in no pool past marketing's stages: {lost}"


class Client:
    """The Flask test client plus CSRF handling and login, as a browser would do it."""

    def __init__(self, app):
        self.app = app
        self.http = app.test_client()
        self.token = None

    def _csrf(self):
        """The token a page of this session would carry, made as Flask-WTF's generate_csrf makes it (the raw
        token kept in the session, signed) rather than read off a page: fetching one logged in rendered the
        whole workbench, a third of a POST's cost."""
        if self.token is None:
            with self.http.session_transaction() as session:
                raw = session.setdefault("csrf_token", hashlib.sha1(os.urandom(64)).hexdigest())
            signer = URLSafeTimedSerializer(self.app.secret_key, salt="wtf-csrf-token")
            self.token = signer.dumps(raw)
        return self.token

    def login(self, user, password=PASSWORD):
        self.token = None
        response = self.post("/login", data={"username": user.username, "password": password})
        self.token = None
        return response

    def get(self, url, htmx=False, **kw):
        headers = kw.pop("headers", {})
        if htmx:
            headers["HX-Request"] = "true"
        return self.http.get(url, headers=headers, **kw)

    def post(self, url, data=None, htmx=False, csrf=True, **kw):
        headers = kw.pop("headers", {})
        if htmx:
            headers["HX-Request"] = "true"
        data = dict(data or {})
        if csrf:
            data.setdefault("csrf_token", self._csrf())
        return self.http.post(url, data=data, headers=headers, **kw)


@pytest.fixture
def client(app):
    return Client(app)


@pytest.fixture
def en_client(client):
    """A client whose anonymous pages (the login form) are in English, whatever the catalogue holds."""
    client.http.set_cookie("lang", "en")
    return client


_seq = itertools.count(1)


@pytest.fixture
def make_team(app):
    def make(name=None, manager=None, region=None):
        return Team.create(name=name or f"测试组{next(_seq)}", manager=manager, region=region)
    return make


@pytest.fixture
def make_user(app):
    def make(role="sales", team=None, username=None, active=True, **kw):
        n = next(_seq)
        return User.create(username=username or f"{role}{n}", full_name=kw.pop("full_name", f"{role.title()} {n}"),
                           password_hash=hash_password(PASSWORD), role=role, team=team, active=active,
                           region=team.region_id if team else None, created_at=clock.now(),
                           language=kw.pop("language", "en"), **kw)
    return make


def valid_credit_code(seed):
    from models.fields import credit_code_check_char

    body = f"91310000{seed:09d}"[:17]
    return body + credit_code_check_char(body)


@pytest.fixture
def make_customer(app):
    from models.customers import Customer, create_customer, set_owner
    from models.users import User as U

    def make(owner=None, name=None, stage=None, actor=None, **fields):
        admin = actor or U.get_or_none(U.username == "factory-admin") or U.create(
            username="factory-admin", full_name="Factory Admin", password_hash="x", role="admin",
            created_at=clock.now())
        data = {"name": name or f"测试服饰有限公司{next(_seq)}", "business_model": "consumer", "source": "website",
                "stage": stage or "target", **fields}
        customer = create_customer(admin, data, check_duplicates=False)
        if owner is not None:
            set_owner(admin, customer, owner)
        return Customer.get_by_id(customer.id)
    return make


@pytest.fixture(scope="session")
def real_server(tmp_path_factory):
    """`python3 app.py serve` in its own process (waitress, demo data, zh_CN), shared by the tests
    that talk to the real server: the crawl, the hostile-input run and the concurrency run."""
    from tests.live import RealServer

    server = RealServer(tmp_path_factory.mktemp("real-server")).start()
    yield server
    server.stop()


def _matrix_cell(item):
    """One case of a permission matrix (tests/test_permissions*.py, parametrized by role and relation, action or
    route): half the suite's tests, each building its world. The fast loop leaves them out (they are `slow`)."""
    params = set(getattr(getattr(item, "callspec", None), "params", {}))
    return item.path.name.startswith("test_permissions") and "role" in params and bool(
        params & {"relation", "action", "route"})


def _group(item, group):
    """Put `item` in an xdist group. xdist 3.8 names a group's tests `<id>@<group>` in `_nodeid`, which pytest
    9.2 no longer reads (it keeps the id in `_id`): then the suffix is set here, where the controller reads it."""
    item.add_marker(pytest.mark.xdist_group(group))
    if WORKER and item.config.getvalue("loadgroup") and hasattr(item, "_id"):
        from _pytest.nodeid import NodeId

        item._id = NodeId.parse(f"{item.nodeid}@{group}")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """The permission matrices' cells are marked `slow` (see _matrix_cell).

    Under pytest-xdist (`-n 2`, `--dist loadgroup` in pyproject's addopts) the tests that share an expensive
    fixture run on one worker, so it is built once: every test of the real server (`app.py serve` loading the
    demo, minutes) on one worker, and a module with a module-scoped fixture (the demo database of
    test_demo.py, the translations extracted once) whole on one worker. The rest is spread test by test.
    Without -n the marks do nothing. (tryfirst: before xdist reads the marks.) On a worker the groups come first,
    the real server's first of all: xdist hands out work in collection order, and the longest piece started
    last would keep one worker busy long after the other has finished."""
    rank = {}
    for item in items:
        if _matrix_cell(item):
            item.add_marker(pytest.mark.slow)
        if "real_server" in item.fixturenames:
            group, rank[item] = "real_server", 0
        elif any(defs[-1].scope == "module" for defs in item._fixtureinfo.name2fixturedefs.values()):
            group, rank[item] = item.nodeid.split("::")[0], 1
        else:
            continue
        _group(item, group)
    if WORKER:
        items.sort(key=lambda item: rank.get(item, 2))


def pytest_sessionfinish(session):
    """An xdist worker hands its real-server figures to the controller, which prints them (below)."""
    if hasattr(session.config, "workeroutput"):
        from tests.live import FIGURES, TOTALS

        session.config.workeroutput["kehu_live"] = {"figures": FIGURES, "totals": TOTALS}


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    from tests.live import FIGURES, tally

    live = getattr(node, "workeroutput", {}).get("kehu_live")
    if live:
        FIGURES.extend(live["figures"])
        for run, (sent, errors) in live["totals"].items():
            tally(run, sent, errors)


def pytest_terminal_summary(terminalreporter):
    """The real-server figures (requests, status counts, ledger checks) at the end of every run."""
    from tests.live import FIGURES, TOTALS

    if FIGURES:
        terminalreporter.section("real server (waitress, demo data)")
        for line in FIGURES:
            terminalreporter.write_line(line)
        for run, (sent, errors) in TOTALS.items():
            terminalreporter.write_line(f"{run}: {sent} requests in all, {errors} answered 500")
