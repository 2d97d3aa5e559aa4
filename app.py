"""Kehu CRM: the app factory and the command line.

`python3 app.py serve` and `python3 app.py test` work on a fresh machine: before anything else
they install what is missing (a virtualenv from pyproject.toml, the npm packages from the lock,
Debian's Chromium for the browser tests) and then run inside that virtualenv. The bootstrap
part uses the standard library only; Flask is imported once we are inside the venv.
"""
import datetime as dt
import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
VENV_PYTHON = VENV / "bin" / "python"
INSTANCE = Path(os.environ.get("KEHU_INSTANCE", ROOT / "instance"))
HTMX_DIST = ROOT / "node_modules" / "htmx.org" / "dist"
# Front-end files served from the npm packages (never committed): name -> folder.
VENDOR = {"htmx.min.js": HTMX_DIST, "chart.umd.js": ROOT / "node_modules" / "chart.js" / "dist"}
SWEEP_SECONDS = 300
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


# ---- bootstrap (standard library only) -----------------------------------------------------

def _say(msg):
    print(f"[kehu] {msg}", flush=True)


def _digest(*paths):
    h = hashlib.sha256()
    for p in paths:
        h.update(Path(p).read_bytes())
    return h.hexdigest()


def _ensure_venv(dev):
    stamp = VENV / (".installed-dev" if dev else ".installed")
    want = _digest(ROOT / "pyproject.toml")
    # The test install has everything serve needs: serve after test installs nothing.
    stamps = [stamp] if dev else [stamp, VENV / ".installed-dev"]
    if VENV_PYTHON.exists() and any(s.exists() and s.read_text() == want for s in stamps):
        return
    if not VENV_PYTHON.exists():
        _say("creating the virtualenv in .venv")
        if subprocess.run([sys.executable, "-m", "venv", str(VENV)]).returncode != 0:
            # Debian's python3 ships venv separately.
            shutil.rmtree(VENV, ignore_errors=True)
            _apt_install("python3-venv")
            subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    _say("installing Python packages from pyproject.toml")
    target = ".[dev]" if dev else "."
    subprocess.run([str(VENV_PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "-e", target], check=True, cwd=ROOT)
    stamp.write_text(want)


def _ensure_npm():
    stamp = ROOT / "node_modules" / ".kehu-lock"
    want = _digest(ROOT / "package-lock.json")
    if stamp.exists() and stamp.read_text() == want and (HTMX_DIST / "htmx.min.js").exists():
        return
    if shutil.which("npm") is None:
        sys.exit("npm is missing: install Node.js 20+ (apt-get install nodejs npm) and run again")
    _say("installing front-end packages (npm ci)")
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--silent"], check=True, cwd=ROOT)
    stamp.write_text(want)


CJK_FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")


def _ensure_chromium():
    """Debian's Chromium, and a CJK font so screenshots show Chinese text rather than boxes."""
    if os.access(CHROMIUM, os.X_OK) and CJK_FONT.exists():
        return
    _say("installing Debian's Chromium and CJK fonts for the browser tests")
    _apt_install("chromium", "fonts-noto-cjk")


def _ensure_postgres():
    """Debian's PostgreSQL server programs, for the tests' PostgreSQL pass (they start a throw-away cluster of
    their own on a free port; nothing is configured system-wide)."""
    if glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        return
    _say("installing Debian's PostgreSQL for the tests on PostgreSQL")
    _apt_install("postgresql")


def test_engines(whole):
    """The engines the test command runs the suite on: KEHU_TEST_ENGINES (comma-separated); by default both
    for the whole suite (`app.py test` alone, what CI runs), SQLite for a selection (`test --fast`, a file…)."""
    default = "sqlite,postgres" if whole else "sqlite"
    engines = [e.strip() for e in os.environ.get("KEHU_TEST_ENGINES", default).split(",") if e.strip()]
    unknown = set(engines) - {"sqlite", "postgres"}
    if unknown or not engines:
        sys.exit(f"KEHU_TEST_ENGINES: say sqlite, postgres or both (not {', '.join(sorted(unknown)) or 'nothing'})")
    return engines


def _apt_install(*packages):
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # Only what the packages need (no recommends: avahi, samba, printer tools...), and apt's progress kept
    # out of the log; shown only when apt fails.
    for step in (["update", "-qq"], ["install", "-y", "-qq", "--no-install-recommends", *packages]):
        done = subprocess.run(sudo + ["apt-get", *step], env=env, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"apt-get {step[0]} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")


def _in_venv():
    return Path(sys.prefix).resolve() == VENV.resolve()


def bootstrap(command):
    dev = command == "test"
    _ensure_venv(dev)
    _ensure_npm()
    if dev:
        _ensure_chromium()
        if "postgres" in test_engines(whole=not sys.argv[2:]):
            _ensure_postgres()
    if not _in_venv():
        os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), str(ROOT / "app.py"), *sys.argv[1:]])


# ---- the application ------------------------------------------------------------------------

def default_config():
    return {
        "DATABASE_URL": f"sqlite:///{INSTANCE / 'kehu.db'}",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": False,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "PERMANENT_SESSION_LIFETIME": 12 * 3600,
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session
        "PASSWORD_METHOD": "scrypt",
        "SECRET_KEY": "",  # empty: generated into the instance folder
        "STRICT_HEADERS": False,  # the tests' switch: a header waitress would refuse raises (views._sendable)
        "HOST": "0.0.0.0",
        "PORT": 8000,
        # waitress's worker threads. Python runs one thread at a time: past a thread per core plus two that
        # wait on the database or the network, more threads only hand the interpreter lock around (rep001's
        # list at 1M, 8 clients: 8 threads 103 requests/s, 4 threads 124, 2 threads 139; docs/benchmarks.md).
        "THREADS": 4,
        "BABEL_DEFAULT_LOCALE": "zh_CN",
        "BABEL_DEFAULT_TIMEZONE": "Asia/Shanghai",
        "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,
    }


def _env_value(text):
    """A KEHU_ value as JSON (8000, 0, a list) or a yes / no word in any case (true, False, on, NO); else
    it stays text."""
    word = text.strip().lower()
    if word in ("true", "yes", "on", "false", "no", "off"):
        return word in ("true", "yes", "on")
    return json.loads(text)


def _env_config(config):
    """KEHU_<NAME> environment variables override the defaults, read by Flask's `from_prefixed_env`. Its
    values are decoded, but a setting whose default is text stays exactly as typed (a secret key of
    digits or `yes` is a string, not an int or a bool); one whose default is a bool or a number must
    be one, or the app does not start."""
    config.from_prefixed_env("KEHU", loads=_env_value)
    for name, default in default_config().items():
        raw = os.environ.get(f"KEHU_{name}")
        if raw is None:
            continue
        value = config[name]
        if isinstance(default, str):
            config[name] = raw
        elif isinstance(default, bool):
            if value not in (0, 1):  # True and False are 1 and 0
                raise ValueError(f"KEHU_{name}={raw!r}: expected 1 or 0 (true / false, yes / no)")
            config[name] = bool(value)
        elif isinstance(default, int) and type(value) is not int:
            raise ValueError(f"KEHU_{name}={raw!r}: expected a whole number")


def _secret_key():
    """The configured key, else one generated once into the instance folder (never in the repo)."""
    path = INSTANCE / "secret_key"
    if not path.exists():
        INSTANCE.mkdir(parents=True, exist_ok=True)
        path.write_text(os.urandom(32).hex())
        path.chmod(0o600)
    return path.read_text().strip()


def configure_models(config):
    """What `models/` takes from the settings (it never reads Flask's config): the password hash, the session
    lifetime and the database. The tests' shared app calls it again for every test."""
    import models
    from models import users as users_model

    users_model.password_method = config["PASSWORD_METHOD"]
    lifetime = config["PERMANENT_SESSION_LIFETIME"]
    users_model.session_lifetime = lifetime if isinstance(lifetime, dt.timedelta) else dt.timedelta(seconds=lifetime)
    models.init_db(config["DATABASE_URL"], config.get("SQLITE_PRAGMAS"))


def create_app(test_config=None):
    from flask import Flask, send_from_directory

    import models

    INSTANCE.mkdir(parents=True, exist_ok=True)
    app = Flask(__name__, instance_path=str(INSTANCE), static_folder="static", template_folder="templates")
    app.config.update(default_config())
    _env_config(app.config)
    if test_config:
        app.config.update(test_config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _secret_key()
    configure_models(app.config)

    @app.before_request
    def _open_db():
        models.db.connect(reuse_if_open=True)

    @app.teardown_request
    def _close_db(exc):
        models.close_db()

    @app.get("/vendor/htmx.min.js")
    def htmx_js():
        return send_from_directory(HTMX_DIST, "htmx.min.js", max_age=86400)

    @app.get("/vendor/<name>")
    def vendor(name):
        if name not in VENDOR:
            from flask import abort
            abort(404)
        return send_from_directory(VENDOR[name], name, max_age=86400)

    import views
    views.init_app(app)
    return app


def setup_database(app, demo=False, quiet=False):
    """Migrate, load reference data, and (once) the demo data. Safe to run again."""
    import models
    from seeds import demo as demo_seed
    from seeds import reference

    with models.db.connection_context():
        applied = models.migrate()
        if applied and not quiet:
            _say(f"applied migrations: {', '.join(applied)}")
        reference.load()
        if demo:
            loaded = demo_seed.load_once(progress=None if quiet else _say)
            if not loaded and not quiet:
                _say("demo data already loaded")


def start_sweeper(interval=SWEEP_SECONDS):
    """Run the pool sweep every few minutes in the server process (it is idempotent, so an
    overlap with a manual `app.py sweep` does no harm)."""
    import threading
    import time

    import models
    from models import hooks

    def loop():
        while True:
            time.sleep(interval)
            try:
                with models.db.connection_context():
                    results = hooks.run_sweeps()
                if any(v for r in results.values() for v in (r.values() if isinstance(r, dict) else [r])):
                    _say(f"sweep: {results}")
            except Exception as exc:  # a failed sweep is retried next round; it works in transactions
                _say(f"sweep failed: {exc!r}")

    threading.Thread(target=loop, name="kehu-sweeper", daemon=True).start()


def freeze_startup():
    """Everything made so far (modules, routes, the app, its settings) out of the cycle collector's scans
    (`gc.freeze`): a full collection walked it all, now and then, inside a request — at 1M customers a
    page's p95 was such a collection (the deals board: 65 ms p95 on 19 ms median, 19.8 after)."""
    import gc

    gc.collect()
    gc.freeze()


def build_server(app, host, port, threads=None):
    """The waitress server users get (`serve`), also used by the tests that talk to a real server."""
    from waitress import create_server

    threads = int(threads or app.config["THREADS"])
    if threads < 1:
        raise ValueError(f"KEHU_THREADS={threads}: a server needs at least one thread")
    return create_server(app, host=host, port=int(port), threads=threads, ident="kehu")


def on_start():
    """Work the server picks up the moment it starts: leaver hand-overs and customer imports whose runner
    died with the previous process resume now, not at the first sweep five minutes later."""
    import models
    from models import imports, transfers

    with models.db.connection_context():
        return transfers.resume_stalled(at_start=True)["resumed"] + imports.resume_stalled(at_start=True)["resumed"]


def _in_child(fn, *args):
    """Run `fn(*args)` in a forked child and wait for it: the migrations and the demo load build large
    structures (20,000 customers, a year of history) whose memory Python keeps once freed; in a child, it
    goes back to the system when the child ends, and the server starts small (issue 19: memory)."""
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods():
        return fn(*args)
    child = multiprocessing.get_context("fork").Process(target=fn, args=args)
    child.start()
    child.join()
    if child.exitcode != 0:
        sys.exit(f"[kehu] setting up the database failed (exit {child.exitcode}); see the messages above")


def serve():
    from seeds import demo as demo_seed

    app = create_app()
    host, port = app.config["HOST"], int(app.config["PORT"])
    try:  # the port first: a busy one is said at once, before minutes of demo loading
        server = build_server(app, host, port)
    except OSError as exc:
        sys.exit(f"[kehu] cannot listen on {host}:{port}: {exc.strerror or exc}. Another program (or another Kehu) "
                 f"uses the port: stop it, or choose another port, e.g. KEHU_PORT={port + 1} python3 app.py serve")
    _in_child(setup_database, app, True)
    resumed = on_start()
    if resumed:
        _say(f"resumed {resumed} background job(s) (hand-overs, imports)")
    start_sweeper()
    pid_file = INSTANCE / "server.pid"  # restore refuses to run under a live server
    pid_file.write_text(str(os.getpid()))
    freeze_startup()
    print(demo_seed.logins_text(), flush=True)
    _say(f"Kehu CRM on http://{host}:{port}/ (set KEHU_HOST / KEHU_PORT to change)")
    try:
        server.run()
    finally:
        pid_file.unlink(missing_ok=True)


# `app.py test --fast`: the developers' loop, a few minutes: one pytest-xdist worker per core, and neither the
# browser, the real server nor the tests marked slow (the whole matrices, the demo load), which CI runs.
FAST_ARGS = ["-n", "auto", "-m", "not e2e and not server and not slow"]
WHOLE_ARGS = ["-n", "auto"]  # `app.py test` with no arguments


def run_tests(args):
    """The suite on each engine of KEHU_TEST_ENGINES in turn: SQLite runs everything; PostgreSQL the tests
    that do not need a browser or the real server (those test the pages and the server, not the engine).
    `--fast` first in the arguments stands for FAST_ARGS (a -m after it replaces its marker choice)."""
    import pytest

    args = list(args)
    whole = not args
    if whole:  # the whole suite, as CI runs it: a worker per core, both engines (unless KEHU_TEST_ENGINES says)
        args = list(WHOLE_ARGS)
    elif args[:1] == ["--fast"]:
        args = [*FAST_ARGS, *args[1:]]
    engines = test_engines(whole)
    if engines == ["sqlite"]:
        code = pytest.main(["-q", "-rs", *args])
        if code == pytest.ExitCode.NO_TESTS_COLLECTED:
            sys.exit("no tests were collected")
        sys.exit(int(code))
    results = []
    for engine in engines:
        extra = [] if engine == "sqlite" else ["-m", "not e2e and not server"]
        _say(f"the tests on {engine}")
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", *extra, *args],
                              env={**os.environ, "KEHU_TEST_ENGINE": engine}, cwd=ROOT)
        results.append((engine, done.returncode))
    for engine, code in results:
        _say(f"{engine}: {'passed' if code == 0 else f'FAILED (exit {code})'}")
    sys.exit(max(code for _, code in results))


# ---- the command line (inside the venv) -------------------------------------------------------

def command_line():
    """The commands as a Flask CLI group (click): `--help`, an error for an unknown command or option,
    and for the commands marked so, the app created by `create_app` with an application context."""
    import click
    from flask import current_app
    from flask.cli import AppGroup, routes_command, shell_command

    group = AppGroup("app.py", help="Kehu CRM. Without a command: serve. Settings: KEHU_* variables (README).")

    @group.command("serve", with_appcontext=False)
    def serve_command():
        """Migrate, load the demo once and serve (waitress).

        Prints the demo logins; listens on KEHU_HOST:KEHU_PORT (0.0.0.0:8000)."""
        serve()

    # Every argument, --help included, goes to pytest.
    @group.command("test", with_appcontext=False, add_help_option=False,
                   context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
    @click.argument("pytest_args", nargs=-1, type=click.UNPROCESSED)
    def test_command(pytest_args):
        """Run the tests; every argument goes to pytest.

        app.py test --fast: the quick loop (a worker per core; no browser, real server or slow tests);
        e.g. app.py test -n 2 -m "not e2e and not server" (app.py test --help is pytest's help)."""
        run_tests(pytest_args)

    @group.command("migrate")
    def migrate_command():
        """Apply pending migrations and load the reference data."""
        setup_database(current_app)

    @group.command("demo")
    def demo_command():
        """Migrate and load the demo data (once)."""
        setup_database(current_app, demo=True)

    @group.command("sweep")
    def sweep_command():
        """Run every registered sweep now.

        Pools, projects, service, ...: the server runs them every 5 minutes."""
        import models
        from models import hooks

        with models.db.connection_context():
            click.echo(hooks.run_sweeps())

    @group.command("reindex")
    def reindex_command():
        """Rebuild the customer search index from the tables."""
        import models
        from models import search

        with models.db.connection_context():
            search.rebuild()

    @group.command("backup")
    @click.argument("path", required=False, type=click.Path(file_okay=False))
    def backup_command(path):
        """Back up the database and the documents while the server runs.

        PATH: a new or empty folder (default: instance/backups/kehu-<time>)."""
        import models
        from models import backup, clock

        now = clock.to_local(clock.now())
        folder = Path(path) if path else backup.default_folder(INSTANCE, now)
        try:
            with models.db.connection_context():
                manifest = backup.backup(current_app.config["DATABASE_URL"], folder,
                                         Path(current_app.instance_path) / "documents", now)
        except backup.BackupError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"backup in {folder}: {manifest['engine']} database {manifest['database_bytes']:,} bytes "
                   f"({manifest['database_seconds']} s), {manifest['documents']} document file(s), "
                   f"{manifest['seconds']} s in all")

    @group.command("restore")
    @click.argument("path", type=click.Path(file_okay=False))
    @click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
    def restore_command(path, yes):
        """Replace the database with a backup and add its documents (stop the server first)."""
        import models
        from models import backup, clock

        url = current_app.config["DATABASE_URL"]
        if not yes:
            click.confirm(f"Replace the database at {url} with the backup in {path}?", abort=True)
        models.close_db()
        if getattr(models.db.obj, "close_all", None):
            models.db.obj.close_all()
        try:
            summary = backup.restore(url, path, Path(current_app.instance_path) / "documents", INSTANCE,
                                     clock.to_local(clock.now()))
        except backup.BackupError as exc:
            raise click.ClickException(str(exc)) from None
        kept = f"; the database it replaced is kept as {summary['kept']}" if summary["kept"] else ""
        click.echo(f"restored {summary['database']}, {summary['documents']} document file(s) added{kept}")

    group.add_command(routes_command)
    group.add_command(shell_command)
    return group


def main(argv):
    """Bootstrap (standard library only), then the click commands inside the venv."""
    argv = list(argv) or ["serve"]
    if os.environ.get("KEHU_NO_BOOTSTRAP") != "1":
        if argv[0] in ("serve", "test"):
            bootstrap(argv[0])
        elif not _in_venv() and VENV_PYTHON.exists():
            os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), str(ROOT / "app.py"), *argv])
    try:
        from flask.cli import ScriptInfo
    except ImportError:
        sys.exit("Flask is not installed here: run `python3 app.py serve` (or test) once, it installs what is missing")
    command_line().main(args=argv, prog_name="app.py", obj=ScriptInfo(create_app=create_app))


if __name__ == "__main__":
    main(sys.argv[1:])
