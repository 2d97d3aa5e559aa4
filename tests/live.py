"""The real server, as users get it: `python3 app.py serve` (waitress, demo data, zh_CN by default) in a
process of its own on a loopback port and a fresh instance folder, plus a small HTTP client.

The tests here never talk to Flask's test client: every request crosses a socket into waitress, so a
header waitress cannot send, a lock that only shows under real threads or a commit before a crash is
seen as users would see it."""
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
DEMO_PASSWORD = "kehu2026!"
FIGURES = []  # what the real-server runs measured, printed at the end of every test run (conftest)


TOTALS = {}  # run -> [requests, 500s]


def tally(run, requests_sent, server_errors):
    totals = TOTALS.setdefault(run, [0, 0])
    totals[0] += requests_sent
    totals[1] += server_errors


def report(line):
    """Keep a figure of a real-server run for the summary at the end of the run (no -s needed)."""
    FIGURES.append(line)
    print("\n" + line)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RealServer:
    """`app.py serve` in a subprocess. `db()` opens the same SQLite file read-only for checks."""

    def __init__(self, instance, extra_env=None):
        self.instance = Path(instance)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = self.instance / "server.log"
        self.env = {**os.environ, "KEHU_NO_BOOTSTRAP": "1", "KEHU_INSTANCE": str(self.instance),
                    "KEHU_HOST": "127.0.0.1", "KEHU_PORT": str(self.port),
                    # A header waitress cannot send is a 500 here, never a silent repair.
                    "KEHU_STRICT_HEADERS": "1",
                    # Cheaper password hashes: the demo hashes ~230 accounts and the tests log in often.
                    "KEHU_PASSWORD_METHOD": "pbkdf2:sha256:1000", **(extra_env or {})}
        self.env.pop("KEHU_DATABASE_URL", None)
        self.proc = None

    def start(self, timeout=600):  # the demo loads first: minutes on a machine shared with a second worker
        self.instance.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log, "ab")
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "serve"], cwd=ROOT, env=self.env,
                                     stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited ({self.proc.returncode}):\n{self.tail()}")
            try:
                if requests.get(self.url + "/login", timeout=5).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"the server did not answer within {timeout} s:\n{self.tail()}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if getattr(self, "_log", None):
            self._log.close()

    def tail(self, n=60):
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def db(self):
        conn = sqlite3.connect(f"file:{self.instance / 'kehu.db'}?mode=ro", uri=True, timeout=30)
        conn.row_factory = sqlite3.Row
        return conn

    def session(self, username, password=DEMO_PASSWORD, language=None):
        return Session(self.url).login(username, password, language)


class Session:
    """One user's browser: cookies, the CSRF token from the last page, htmx headers on demand."""

    def __init__(self, base):
        self.base = base
        self.http = requests.Session()
        self.token = None

    def _remember_token(self, response):
        found = re.search(r'name="csrf-token" content="([^"]+)"|"X-CSRFToken": *"([^"]+)"|'
                          r'name="csrf_token"[^>]*value="([^"]+)"', response.text or "")
        if found:
            self.token = next(g for g in found.groups() if g)

    def get(self, path, htmx=False, **kw):
        headers = {**({"HX-Request": "true"} if htmx else {}), **kw.pop("headers", {})}
        response = self.http.get(self.base + path, headers=headers, allow_redirects=kw.pop("allow_redirects", True),
                                 timeout=kw.pop("timeout", 60), **kw)
        if "text/html" in response.headers.get("Content-Type", ""):
            self._remember_token(response)
        return response

    def post(self, path, data=None, htmx=False, csrf=True, **kw):
        headers = {**({"HX-Request": "true"} if htmx else {}), **kw.pop("headers", {})}
        if csrf and self.token is None:
            self.get("/")
        if csrf:
            headers.setdefault("X-CSRFToken", self.token or "")
        return self.http.post(self.base + path, data=data or {}, headers=headers,
                              allow_redirects=kw.pop("allow_redirects", False), timeout=kw.pop("timeout", 60), **kw)

    def login(self, username, password=DEMO_PASSWORD, language=None):
        page = self.get("/login")
        assert page.status_code == 200, page.status_code
        self._remember_token(page)
        response = self.http.post(self.base + "/login", data={"username": username, "password": password,
                                                              "csrf_token": self.token}, allow_redirects=False, timeout=60)
        assert response.status_code in (302, 303), f"login as {username}: {response.status_code} {response.text[:300]}"
        self.token = None
        self.get("/")
        if language:
            answer = self.post("/language", {"language": language})
            assert answer.status_code in (302, 303), answer.status_code
        return self


class Links(HTMLParser):
    """Same-site GET targets (href, hx-get, action of GET forms) and the forms that POST, with field names."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.gets, self.forms, self._form = set(), [], None
        self._select, self._textarea, self._first_option = None, None, False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for name in ("href", "hx-get"):
            if a.get(name, "").startswith("/") and not a[name].startswith("//"):
                self.gets.add(a[name])
        if tag == "form":
            target = a.get("hx-post") or (a.get("action") if (a.get("method") or "get").lower() == "post" else None)
            if target and target.startswith("/"):
                self._form = {"action": target, "fields": {}}
                self.forms.append(self._form)
            else:
                self._form = None
                if a.get("action", "").startswith("/"):
                    self.gets.add(a["action"])
        elif tag in ("button", "a") and a.get("hx-post", "").startswith("/"):
            self.forms.append({"action": a["hx-post"], "fields": {}})
        elif tag in ("input", "select", "textarea") and self._form is not None and a.get("name"):
            if a.get("type") in ("submit", "button", "file", "image", "reset"):
                return
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                self._form["fields"].setdefault(a["name"], "")
                return
            if a.get("type") in ("checkbox", "radio"):
                self._form["fields"][a["name"]] = a.get("value") or "on"
                return
            self._form["fields"].setdefault(a["name"], a.get("value") or "")
            if tag == "select":
                self._select, self._first_option = a["name"], True
            elif tag == "textarea":
                self._textarea = a["name"]
        elif tag == "option" and self._select and self._form is not None:
            # what the browser would send: the selected option, else the first one
            if "selected" in a or self._first_option:
                self._form["fields"][self._select] = a.get("value", "")
            self._first_option = False

    def handle_data(self, data):
        if self._textarea and self._form is not None:
            self._form["fields"][self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def links_of(html):
    parser = Links()
    parser.feed(html)
    return parser
