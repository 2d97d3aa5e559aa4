"""The side navigation is drawn once per language, endpoint and answer of its permission checks, and kept
(views/layout.py): a kept one must be the one the template draws, and a changed answer must show at once."""
import re
from pathlib import Path

import pytest

from models.user_tables import User
from views.layout import TEMPLATE, nav_actions

ROOT = Path(__file__).resolve().parent.parent
NAV = re.compile(r'<nav class="sidenav".*?</nav>', re.S)


def _nav(client, url):
    page = client.get(url).get_data(as_text=True)
    found = NAV.search(page)
    assert found, url
    return found.group(0)


def test_the_navigation_keys_on_every_permission_its_template_asks():
    source = (ROOT / "templates" / TEMPLATE).read_text(encoding="utf-8")
    asked = nav_actions(source)
    assert len(asked) > 20 and "user.manage" in asked and "pool.browse" in asked
    # the user enters the template only through those checks: anything else about them would not be in the key
    assert source.count("current_user") == source.count("can(current_user, '")
    assert not re.search(r"\b(request|session|g)\.", source)


@pytest.mark.parametrize("role", ["sales", "manager", "marketing", "service", "admin"])
def test_a_kept_navigation_is_the_one_the_template_draws(app, client, make_user, make_team, role):
    user = make_user(role, team=make_team() if role in ("sales", "manager") else None)
    client.login(user)
    for language in ("zh_CN", "en"):
        User.update(language=language).where(User.id == user.id).execute()
        for url in ("/", "/customers", "/todo", "/projects"):
            app.extensions.pop("kehu_navs", None)
            drawn = _nav(client, url)
            assert 'class="active"' in drawn
            assert _nav(client, url) == drawn  # kept
            assert app.extensions["kehu_navs"]
    assert ("Users" in drawn) == (role == "admin")


def test_a_changed_permission_shows_at_once(app, client, make_user):
    user = make_user("sales")
    client.login(user)
    assert '<a href="/quality" ' not in _nav(client, "/")
    User.update(grants="quality").where(User.id == user.id).execute()
    assert '<a href="/quality" ' in _nav(client, "/")
    User.update(grants="").where(User.id == user.id).execute()
    assert '<a href="/quality" ' not in _nav(client, "/")


def test_a_reps_own_quality_page_lights_its_link(app, client, make_user):
    rep, other = make_user("sales"), make_user("sales")
    client.login(rep)
    assert '<a href="/quality/me" class="active">' in _nav(client, f"/quality/reps/{rep.id}")
    client.login(make_user("manager"))  # a manager opening a rep's page: not their own
    assert '<a href="/quality/me" class="">' in _nav(client, f"/quality/reps/{rep.id}")
    client.login(other)
    assert '<a href="/quality/me" class="">' in _nav(client, "/")


def test_loaded_templates_are_kept_unless_templates_reload(app):
    """views._TemplateEnvironment.get_template: a plain dict in service, Jinja's own checking cache when
    templates auto-reload (debugging), and an include relative to its parent resolved as Jinja resolves it."""
    env = app.jinja_env
    env.__dict__.pop("_kehu_loaded", None)
    first = env.get_template("base.html")
    assert env.get_template("base.html") is first and env._kehu_loaded == {"base.html": first}
    assert env.get_template("_nav.html", "customers/show.html") is env.get_template("_nav.html")
    reload = env.auto_reload
    try:
        env.auto_reload = True
        env.__dict__.pop("_kehu_loaded", None)
        assert env.get_template("base.html").name == "base.html"
        assert "_kehu_loaded" not in env.__dict__
    finally:
        env.auto_reload = reload


def test_the_heads_stylesheets_and_scripts_are_drawn_once(app, client, make_user):
    client.login(make_user("sales"))
    app.extensions.pop("kehu_assets", None)
    page = client.get("/").get_data(as_text=True)
    head = page[:page.index("</head>")]
    assert '<link rel="stylesheet" href="/static/app.css">' in head and '<script src="/vendor/htmx.min.js" defer>' in head
    for name in app.jinja_env.globals["DOMAIN_ASSETS"]["css"]:
        assert f'href="/static/{name}"' in head
    assert list(app.extensions["kehu_assets"]) == [""]
    assert client.get("/customers").get_data(as_text=True).count('href="/static/app.css"') == 1
