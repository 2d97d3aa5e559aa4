"""The frame of every page: the side navigation, drawn once and kept.

`asset_tags` keeps the page head's stylesheet and script tags the same way (one per script root).

The navigation is the same for everyone whose permissions answer the same, in the same language, on the same
endpoint: ~30 permission checks, ~40 links and ~40 texts, 0.3–0.4 ms of every full page. `side_nav` asks
the checks the template asks (read from templates/_nav.html itself, so the two cannot drift apart), and
renders the template only for an answer it has not kept yet. The checks themselves run on every request: a
changed role, grant or team is seen at once.
"""
import re
from pathlib import Path

from flask import current_app, render_template, request
from flask_login import current_user
from markupsafe import Markup

from models.permissions import acting_user, can
from views.i18n import locale_code

TEMPLATE = "_nav.html"
KEEP = 4000  # navigations kept per process (roles' answers × languages × endpoints visited); past it, drawn each time
_ASKED = re.compile(r"can\(current_user, '([a-z_.]+)'\)")


def nav_actions(source):
    """The permissions the navigation's template asks, in order, each once."""
    return tuple(dict.fromkeys(_ASKED.findall(source)))


def _actions():
    kept = current_app.extensions.get("kehu_nav_actions")
    if kept is None:
        source = Path(current_app.root_path, current_app.template_folder, TEMPLATE).read_text(encoding="utf-8")
        kept = current_app.extensions["kehu_nav_actions"] = nav_actions(source)
    return kept


def asset_tags():
    """The page's stylesheet and script tags (templates/_assets.html): the same for every page of the process
    (DOMAIN_ASSETS is read at start-up), so drawn once per script root."""
    kept = current_app.extensions.setdefault("kehu_assets", {})
    key = request.script_root
    html = kept.get(key)
    if html is None:
        html = kept[key] = Markup(render_template("_assets.html"))
    return html


def side_nav():
    """The side navigation for the request's user, page and language."""
    user = acting_user(current_user)
    ep = request.endpoint or ""
    own_quality = ep == "quality.rep" and (request.view_args or {}).get("user_id") == user.id
    key = (locale_code(), ep, own_quality, tuple(can(user, action) for action in _actions()))
    kept = current_app.extensions.setdefault("kehu_navs", {})
    html = kept.get(key)
    if html is None:
        html = Markup(render_template(TEMPLATE, ep=ep, own_quality=own_quality))
        if len(kept) < KEEP:
            kept[key] = html
    return html
