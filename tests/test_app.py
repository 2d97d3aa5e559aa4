"""app.py itself: KEHU_* settings read by Flask's from_prefixed_env (text stays text) and the command
line (click commands with help and errors)."""
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo

import app as app_module
import models
from tests.conftest import TEST_CONFIG, Client

ROOT = Path(__file__).resolve().parent.parent


def _env_app(db_url, **config):
    """An app configured from the environment only (no test mapping over what is being tested)."""
    return app_module.create_app({"TESTING": True, "DATABASE_URL": db_url, **config})


# ---- settings -----------------------------------------------------------------------------------

@pytest.mark.parametrize("secret", ["12345", "yes", "true", "0", "null", "[1, 2]"])
def test_a_secret_key_of_digits_or_a_word_stays_a_string_and_pages_work(app, db_url, make_user, monkeypatch,
                                                                        secret):
    monkeypatch.setenv("KEHU_SECRET_KEY", secret)
    monkeypatch.setenv("KEHU_PASSWORD_METHOD", TEST_CONFIG["PASSWORD_METHOD"])
    env_app = _env_app(db_url)
    assert env_app.config["SECRET_KEY"] == secret
    user = make_user("sales")
    client = Client(env_app)
    assert client.login(user).status_code == 303
    assert client.get("/").status_code == 200


def test_booleans_numbers_and_text_from_the_environment(app, db_url, monkeypatch):
    env = {"KEHU_STRICT_HEADERS": "1", "KEHU_SESSION_COOKIE_SECURE": "yes", "KEHU_PORT": "8123",
           "KEHU_HOST": "127.0.0.1", "KEHU_PASSWORD_METHOD": "pbkdf2:sha256:1000",
           "KEHU_PERMANENT_SESSION_LIFETIME": "3600", "KEHU_NO_BOOTSTRAP": "1"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    config = _env_app(db_url).config
    assert config["STRICT_HEADERS"] is True and config["SESSION_COOKIE_SECURE"] is True
    assert config["PORT"] == 8123 and config["PERMANENT_SESSION_LIFETIME"] == 3600
    assert config["HOST"] == "127.0.0.1" and config["PASSWORD_METHOD"] == "pbkdf2:sha256:1000"
    for off in ("0", "false", "no", "off", "False"):
        monkeypatch.setenv("KEHU_SESSION_COOKIE_SECURE", off)
        assert _env_app(db_url).config["SESSION_COOKIE_SECURE"] is False
    # The database URL comes from the environment too (a string, whatever it looks like).
    monkeypatch.setenv("KEHU_DATABASE_URL", db_url)
    assert app_module.create_app({"TESTING": True}).config["DATABASE_URL"] == db_url


@pytest.mark.parametrize("key,value", [("KEHU_PORT", "eighty"), ("KEHU_PORT", "true"), ("KEHU_PORT", "80.5"),
                                       ("KEHU_SESSION_COOKIE_SECURE", "maybe"), ("KEHU_STRICT_HEADERS", "2")])
def test_a_setting_of_the_wrong_kind_stops_the_app(app, db_url, monkeypatch, key, value):
    monkeypatch.setenv(key, value)
    with pytest.raises(ValueError, match=key):
        _env_app(db_url)


def test_the_servers_threads_from_the_setting(app, db_url, monkeypatch):
    monkeypatch.setenv("KEHU_THREADS", "3")
    env_app = _env_app(db_url)
    server = app_module.build_server(env_app, "127.0.0.1", 0)
    try:
        assert server.adj.threads == 3
    finally:
        server.close()
    server = app_module.build_server(_env_app(db_url, THREADS=4), "127.0.0.1", 0)
    try:
        assert server.adj.threads == 4
    finally:
        server.close()
    monkeypatch.setenv("KEHU_THREADS", "0")
    with pytest.raises(ValueError, match="KEHU_THREADS"):
        app_module.build_server(_env_app(db_url), "127.0.0.1", 0)


# ---- command line -------------------------------------------------------------------------------

def _run(*args):
    env = {"PATH": "/usr/bin:/bin", "KEHU_NO_BOOTSTRAP": "1", "KEHU_INSTANCE": str(app_module.INSTANCE)}
    return subprocess.run([sys.executable, str(ROOT / "app.py"), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def test_help_lists_the_commands():
    result = _run("--help")
    assert result.returncode == 0, result.stderr
    for command in ("serve", "test", "migrate", "demo", "sweep", "reindex"):
        assert f"  {command} " in result.stdout


def test_an_unknown_command_fails_with_a_message():
    result = _run("frobnicate")
    assert result.returncode != 0
    assert "No such command 'frobnicate'" in result.stderr
    assert _run("migrate", "--nonsense").returncode != 0


def test_test_passes_its_arguments_to_pytest():
    result = _run("test", "--version")
    assert result.returncode == 0 and "pytest" in (result.stdout + result.stderr)


def test_fast_stands_for_parallel_workers_without_the_slow_tests(monkeypatch):
    """`app.py test --fast -k x`: pytest gets -n auto and the fast marker choice, then the rest as given."""
    monkeypatch.setenv("KEHU_TEST_ENGINES", "sqlite")
    given = []
    monkeypatch.setattr(pytest, "main", lambda args: given.append(args) or 0)
    for argv in (["--fast", "-k", "x"], ["-k", "x"]):
        with pytest.raises(SystemExit):
            app_module.run_tests(argv)
    assert given[0] == ["-q", "-rs", "-n", "auto", "-m", "not e2e and not server and not slow", "-k", "x"]
    assert given[1] == ["-q", "-rs", "-k", "x"]


def test_test_alone_is_the_whole_suite_on_both_engines_a_selection_on_sqlite(monkeypatch):
    """`app.py test` with no arguments is what CI runs: a worker per core, SQLite then PostgreSQL; anything
    given (a file, -k, --fast) is a selection, on SQLite unless KEHU_TEST_ENGINES says otherwise."""
    monkeypatch.delenv("KEHU_TEST_ENGINES", raising=False)
    assert app_module.test_engines(whole=True) == ["sqlite", "postgres"]
    assert app_module.test_engines(whole=False) == ["sqlite"]
    monkeypatch.setenv("KEHU_TEST_ENGINES", "postgres")
    assert app_module.test_engines(whole=True) == app_module.test_engines(whole=False) == ["postgres"]
    ran = []
    monkeypatch.setattr(app_module.subprocess, "run", lambda argv, env, cwd: ran.append(
        (env["KEHU_TEST_ENGINE"], argv[3:])) or SimpleNamespace(returncode=0))
    monkeypatch.delenv("KEHU_TEST_ENGINES")
    with pytest.raises(SystemExit) as done:
        app_module.run_tests([])
    assert done.value.code == 0
    assert ran == [("sqlite", ["-q", "-rs", "-n", "auto"]),
                   ("postgres", ["-q", "-rs", "-m", "not e2e and not server", "-n", "auto"])]


def test_migrate_sweep_and_reindex_through_click(tmp_path, monkeypatch):
    monkeypatch.setenv("KEHU_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    runner = CliRunner()
    group = app_module.command_line()
    try:
        for command in ("migrate", "reindex", "sweep"):
            result = runner.invoke(group, [command], obj=ScriptInfo(create_app=app_module.create_app))
            assert result.exit_code == 0, (command, result.output, result.exception)
        assert "pools" in result.output  # the sweep prints what each sweep did
        with models.db.connection_context():
            assert "customer" in models.db.get_tables() and not models.schema_diff()
    finally:
        models.close_db()


def test_serve_on_a_busy_port_says_so_and_how_to_choose_another(tmp_path):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = {"PATH": "/usr/bin:/bin", "KEHU_NO_BOOTSTRAP": "1", "KEHU_INSTANCE": str(tmp_path),
               "KEHU_HOST": "127.0.0.1", "KEHU_PORT": str(port)}
        result = subprocess.run([sys.executable, str(ROOT / "app.py"), "serve"], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr and f"KEHU_PORT={port + 1}" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "kehu.db").exists()  # nothing loaded first
