"""Every dynamic response carries the content security policy and `Cache-Control: no-store` (personal
data stays out of shared and back-button caches); static files and /vendor stay cacheable; templates
hold nothing the policy would block (inline scripts, handlers, style attributes)."""
import re
from pathlib import Path

import pytest

from models.documents import Document
from tests.test_documents import PDF, files_in, http_storage, post_file  # noqa: F401  (fixture)
from tests.test_projects import project_world  # noqa: F401  (fixture)

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def _csp_directives(response):
    value = response.headers.get("Content-Security-Policy", "")
    return {part.split()[0]: part.split()[1:] for part in (p.strip() for p in value.split(";")) if part}


def assert_private(response, what):
    """The strict policy and no-store, on a page, fragment, redirect or error."""
    csp = _csp_directives(response)
    assert csp.get("default-src") == ["'self'"], f"{what}: {response.headers.get('Content-Security-Policy')}"
    assert csp.get("script-src") == ["'self'"], what
    assert csp.get("style-src") == ["'self'"], what
    assert csp.get("object-src") == ["'none'"] and csp.get("frame-ancestors") == ["'none'"], what
    assert csp.get("base-uri") == ["'self'"] and csp.get("form-action") == ["'self'"], what
    assert not any("'unsafe-inline'" in v or "'unsafe-eval'" in v for v in csp.values()), what
    assert "no-store" in response.headers.get("Cache-Control", ""), f"{what}: {response.headers.get('Cache-Control')}"
    assert "max-age" not in response.headers.get("Cache-Control", ""), what


@pytest.fixture
def people(make_team, make_user, make_customer):
    team = make_team()
    manager = make_user("manager", team=team)
    team.manager = manager
    team.save()
    rep = make_user("sales", team=team)
    owned = make_customer(owner=rep)
    lead = make_customer(stage="prospect")  # marketing sees leads, not owned customers
    users = {"sales": rep, "manager": manager, "admin": make_user("admin"), "service": make_user("service"),
             "marketing": make_user("marketing")}
    return users, {"marketing": lead.id}, owned.id


@pytest.mark.parametrize("role", ["sales", "manager", "admin", "service", "marketing"])
def test_pages_fragments_and_errors_are_private_for_every_role(client, people, role):
    users, customer_for, owned = people
    client.login(users[role])
    customer_id = customer_for.get(role, owned)
    checks = [
        ("/", {}, 200),
        ("/customers", {}, 200),
        (f"/customers/{customer_id}", {}, 200),
        (f"/customers/{customer_id}?tab=contacts", {"htmx": True}, 200),   # the 360 tab fragment
        ("/customers?q=x", {"htmx": True}, 200),                           # the list fragment
        ("/notifications/badge", {"htmx": True}, 200),
        ("/customers/999999999", {}, 404),                                 # the error page
        ("/customers/999999999", {"htmx": True}, 404),                     # the error toast
    ]
    for url, kw, status in checks:
        response = client.get(url, **kw)
        assert response.status_code == status, (url, kw)
        assert_private(response, f"{role} {url} {kw}")


def test_login_redirects_exports_and_posts_are_private(client, people):
    users, _, _ = people
    assert_private(client.get("/login"), "login page")
    assert_private(client.get("/"), "redirect to the login page")
    assert_private(client.get("/", htmx=True), "HX-Redirect to the login page")
    client.login(users["admin"])
    export = client.get("/products/export.csv")
    assert export.status_code == 200
    assert_private(export, "CSV export")
    logout = client.post("/logout")
    assert logout.status_code in (302, 303)
    assert_private(logout, "logout redirect")


def test_static_files_and_vendor_stay_cacheable(client, people):
    users, _, _ = people
    client.login(users["sales"])
    for url in ("/static/app.css", "/static/app.js", "/vendor/htmx.min.js", "/vendor/chart.umd.js"):
        response = client.get(url)
        assert response.status_code == 200, url
        cache = response.headers.get("Cache-Control", "")
        assert "no-store" not in cache and "private" not in cache, (url, cache)
    # /vendor holds pinned releases: a day in any cache. /static changes with a deploy under the same
    # name, so it is revalidated (ETag) rather than kept blindly.
    for url in ("/vendor/htmx.min.js", "/vendor/chart.umd.js"):
        cache = client.get(url).headers["Cache-Control"]
        assert "public" in cache and "max-age=86400" in cache, (url, cache)
    assert client.get("/static/app.css").headers.get("ETag")
    # A missing static file is an error page with the user's name in it: private like the rest.
    assert_private(client.get("/static/no-such-file.css"), "404 under /static")


def test_a_download_keeps_its_own_sandbox_policy(client, project_world, http_storage):
    w = project_world
    storage, before = http_storage
    client.login(w.users["rep_a"])
    r = post_file(client, f"/customers/{w.customers['a'].id}/documents", PDF, "方案.pdf")
    assert r.status_code == 200 and "Document saved." in r.get_data(as_text=True)
    try:
        download = client.get(f"/documents/{Document.get().id}/download")
        assert download.status_code == 200 and download.data == PDF
        assert download.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"  # not the page policy
        assert "no-store" in download.headers["Cache-Control"]
    finally:
        for path in set(files_in(storage)) - before:
            path.unlink()


INLINE = [
    (re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.I), "<script> without src"),
    (re.compile(r"""(?<![\w:-])on[a-z]+\s*=\s*["'{]""", re.I), "an on...= event handler attribute"),
    (re.compile(r"\bhx-on\b", re.I), "hx-on (needs eval)"),
    (re.compile(r"javascript:", re.I), "a javascript: URL"),
    (re.compile(r"""\shx-(?:vals|vars)\s*=\s*['"]\s*js:""", re.I), "js: in hx-vals (needs eval)"),
    (re.compile(r"""(?<![\w:-])style\s*=\s*["'{]""", re.I), "a style attribute"),
    (re.compile(r"<style\b", re.I), "a <style> element"),
]


def test_no_template_holds_inline_script_handlers_or_styles():
    found = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        text = path.read_text(encoding="utf-8")
        for pattern, what in INLINE:
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                found.append(f"{path.relative_to(TEMPLATES)}:{line}: {what}: {match.group(0)!r}")
    assert not found, "the content security policy blocks these:\n" + "\n".join(found)


def test_the_inline_check_catches_what_it_should():
    samples = ['<select onchange="this.form.submit()">', "<a hx-on::after-request='x()'>", "<script>go()</script>",
               '<a href="javascript:void(0)">', '<span style="width: 5%">', "<style>p{}</style>",
               "<div hx-vals='js:{a: 1}'>"]
    for sample in samples:
        assert any(p.search(sample) for p, _ in INLINE), sample
    clean = ['<script src="/static/app.js" defer></script>', '<select data-autosubmit name="on">',
             '<p>Depends on = nothing</p>', '<a data-hx-target="x" class="person">', '<td class="w-12">']
    for sample in clean:
        assert not any(p.search(sample) for p, _ in INLINE), sample
