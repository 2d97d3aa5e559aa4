"""The web way in: blueprints, login, CSRF, languages and error pages."""
import types
from collections import ChainMap

from flask import g, render_template, request, url_for
from flask.globals import _cv_request
from flask.templating import Environment as FlaskEnvironment
from jinja2.runtime import Context as JinjaContext
from jinja2.utils import internalcode
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from htmx_flask import Htmx
from werkzeug.routing import BuildError, IntegerConverter

from models import clock
from models.fields import MAX_INT, parse_id
from models.errors import DomainError, NotFound
from models.permissions import can
from models.users import ROLE_LABELS, session_user
from views import htmx as hx
from views import i18n
from views.forms import form_field
from views.layout import asset_tags, side_nav

# No inline script, handler or style attribute anywhere: behaviour lives in static/*.js (delegated
# listeners on data- attributes), htmx runs with allowEval off (templates/base.html), widths are classes.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "object-src 'none'",
    "base-uri 'self'", "form-action 'self'", "frame-ancestors 'none'",
])
# Static files and the pinned /vendor scripts keep their own caching (revalidated, resp. a day).
ASSET_ENDPOINTS = ("static", "htmx_js", "vendor")

login_manager = LoginManager()
csrf = CSRFProtect()


class _RowIdConverter(IntegerConverter):
    """<int:...> limited to SQLite's 64-bit row ids: a longer number is a 404, not an OverflowError."""

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("max", MAX_INT)
        super().__init__(url_map, *args, **kwargs)


def _domain_assets(app):
    """static/*.css and *.js beyond the shared app.css / app.js / charts.js (charts load where used)."""
    from pathlib import Path

    static = Path(app.static_folder)
    shared = {"app.css", "app.js", "charts.js"}
    return {kind: sorted(p.name for p in static.glob(f"*.{kind}") if p.name not in shared) for kind in ("css", "js")}


_PLAIN_CALLS = (types.FunctionType, types.BuiltinFunctionType, types.MethodType, types.BuiltinMethodType)


class _TemplateContext(JinjaContext):
    """Jinja's context, with a shorter way for the calls templates make most: every `url_for(...)`, `_()`,
    `can(...)` in a template goes through `Context.call`, which asks three times whether the callable wants the
    context injected (~0.75 µs a call; a customer's page makes ~330). A plain function or method that does not
    (no `jinja_pass_arg`) is called directly (~0.25 µs), as Jinja would call it; anything else goes Jinja's way."""

    @internalcode
    def call(__self, __obj, *args, **kwargs):  # noqa: N805 (Jinja's own signature)
        if type(__obj) not in _PLAIN_CALLS or hasattr(__obj, "jinja_pass_arg"):
            return JinjaContext.call(__self, __obj, *args, **kwargs)
        if kwargs:
            kwargs.pop("_block_vars", None)
            kwargs.pop("_loop_vars", None)
        try:
            return __obj(*args, **kwargs)
        except StopIteration:
            return __self.environment.undefined("value was undefined because a callable raised a StopIteration exception")


class _TemplateEnvironment(FlaskEnvironment):
    """Flask's Jinja environment whose templates share the environment's globals dict.

    Jinja gives each template a ChainMap(its own globals, the environment's), and then reads it key by key
    in Python: every render and every include copies it into a new context (`dict(globals, **vars)`, ~130
    names), and every `{% from ... import %}` computes `context keys - template.globals.keys()` through
    the ChainMap's views — ~130 ChainMap lookups each, 0.05 ms per import, five imports on a customer's page.
    No template here has globals of its own (nothing calls get_template with globals), so a template's
    globals are the environment's dict itself and those copies run in C; one given its own globals still
    gets Jinja's ChainMap."""

    context_class = _TemplateContext

    def make_globals(self, d):
        return self.globals if not d else ChainMap(d, self.globals)

    def get_template(self, name, parent=None, globals=None):
        """A loaded template by name from a plain dict when templates are not reloaded (in service): Jinja's
        own cache is an LRU whose every hit walks its queue under a lock (~10 µs), and a customer's page asks
        it ~15 times (its layout, imports and includes). With auto-reload on (debugging), Jinja's way."""
        if self.auto_reload or globals or not isinstance(name, str):
            return super().get_template(name, parent, globals)
        if parent is not None:
            name = self.join_path(name, parent)
        loaded = self.__dict__.setdefault("_kehu_loaded", {})
        template = loaded.get(name)
        if template is None:
            template = loaded[name] = super().get_template(name)
        return template


def _pct(value):
    """A share in per cent as a whole number 0–100, for the w-N / left-N classes of static/app.css."""
    try:
        return min(max(int(round(float(value))), 0), 100)
    except (TypeError, ValueError):
        return 0


_ID_MARK = 7_340_000_000_000_000_000  # stands for an id while a link's shape is built (no real id is this large)
_MARK_TEXT = str(_ID_MARK)[:6]  # a text argument holding it is built by Flask
_WORD = 40  # the longest text argument kept in a link's shape
_SHAPES = 20_000  # link shapes kept per app


def _template_url_for(endpoint, **values):
    """`url_for` for templates, keeping the shape of the links a page repeats: an endpoint without
    arguments (the navigation's ~50 links) or a static file is built once per process and script root;
    an endpoint whose arguments are ids (a list's 25 `customers.show` links) and short words (a tab's name)
    once per set of argument names and words, with marks where the ids go, then filled in (ids need no
    quoting; the words were quoted by Flask). Anything else (long text, negative numbers, a blueprint-relative
    name, _external) is built as Flask builds it. No url_defaults or host matching is registered that
    could make the same call give another URL."""
    ctx = _cv_request.get(None)  # the request's context, read once (not through three proxies)
    if ctx is None or endpoint.startswith("."):
        return url_for(endpoint, **values)
    fixed, script_root = ctx.app.extensions["kehu_fixed_urls"], ctx.request.script_root
    if not values or (endpoint == "static" and set(values) == {"filename"}):
        key = (endpoint, values.get("filename"), script_root)
        found = fixed.get(key)
        if found is None:
            found = fixed[key] = url_for(endpoint, **values)
        return found
    words = ()  # short text arguments (a tab's name, a stage) are part of the shape: a handful of values each
    for name, value in values.items():
        kind = type(value)
        if kind is str and len(value) <= _WORD and _MARK_TEXT not in value and not name.startswith("_"):
            words += ((name, value),)
        elif kind is not int or value < 0 or value >= _ID_MARK or name.startswith("_"):
            return url_for(endpoint, **values)
    key = (endpoint, tuple(values), words, script_root)
    shape = fixed.get(key)
    if shape is None:
        if len(fixed) >= _SHAPES:  # text typed by users is not kept without end
            return url_for(endpoint, **values)
        marked = {name: value if type(value) is str else _ID_MARK + i for i, (name, value) in enumerate(values.items())}
        try:
            built = url_for(endpoint, **marked)
        except BuildError:  # a converter with bounds of its own: no shape, Flask decides
            return url_for(endpoint, **values)
        shape = built.replace("{", "{{").replace("}", "}}")
        for i, value in enumerate(marked.values()):
            if type(value) is int:
                shape = shape.replace(str(value), "{%d}" % i)
        fixed[key] = shape
    return shape.format(*values.values())


def _sendable(response):
    """Every header value must be Latin-1, or waitress answers its own 500 after the view committed.
    The helpers in views/htmx.py write ASCII; this is the net under them. Under STRICT_HEADERS (the
    tests) a stray value is an error, so the suite finds its source; in service it is repaired and logged."""
    import json
    import logging

    from flask import current_app
    from werkzeug.urls import iri_to_uri

    bad = hx.unsendable_headers(response)
    if not bad:
        return response
    if current_app.config.get("STRICT_HEADERS"):
        raise RuntimeError(f"unsendable response headers {bad} on {request.method} {request.path}")
    logging.getLogger("kehu").warning("repaired unsendable headers %s on %s %s", bad, request.method, request.path)
    for name in set(bad):
        value = str(response.headers[name]).replace("\r", " ").replace("\n", " ")
        if name.lower() in ("location", "hx-redirect", "hx-location", "hx-push-url", "hx-replace-url"):
            value = iri_to_uri(value)
        elif name.lower().startswith("hx-trigger"):
            try:
                value = json.dumps(json.loads(value))
            except ValueError:
                value = json.dumps(value)
        else:
            value = value.encode("utf-8").decode("latin-1")
        response.headers[name] = value
    return response


def init_app(app):
    if "jinja_env" in app.__dict__:
        raise RuntimeError("views.init_app must run before anything renders a template")
    app.jinja_environment = _TemplateEnvironment
    app.url_map.converters["int"] = _RowIdConverter
    app.jinja_env.add_extension("jinja2.ext.do")
    app.jinja_env.globals.update(can=can, form_field=form_field, side_nav=side_nav, asset_tags=asset_tags, ROLE_LABELS=ROLE_LABELS, DOMAIN_ASSETS=_domain_assets(app), url_for=_template_url_for,
                                 today=clock.today, now=clock.now, local_now=lambda: clock.to_local(clock.now()))
    app.jinja_env.filters["pct"] = _pct
    app.extensions["kehu_fixed_urls"] = {}  # _template_url_for's links
    Htmx(app)
    csrf.init_app(app)
    i18n.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None
    login_manager.session_protection = "strong"

    @login_manager.user_loader
    def _load_user(session_id):
        # User.get_id() is "<user id>:<token>"; the same id sits in a remember-me cookie, so both
        # end when the server-side session is revoked. A bare user id (an older cookie) is no session.
        user_id, _, token = session_id.partition(":")
        try:
            user_id = parse_id(user_id)
        except ValueError:
            return None
        return session_user(user_id, token) if token else None

    @login_manager.unauthorized_handler
    def _unauthorized():
        from urllib.parse import urlsplit

        from flask import redirect

        here = request.full_path if request.method == "GET" else None
        if request.htmx:  # a fragment (a badge's poll, a tab): back to the page it was on, not to the fragment
            page = urlsplit(request.headers.get("HX-Current-URL", ""))
            back = page.path + (f"?{page.query}" if page.query else "")
            return hx.redirect(url_for("auth.login", next=back if back.startswith("/") and not back.startswith("//")
                                       else here))
        return redirect(url_for("auth.login", next=here))

    import importlib
    import pkgutil

    import views

    # Every module of views/ with a blueprint `bp` is registered; the built-in ones first, in this order.
    first = ["auth", "workbench", "customers", "pools", "rules", "admin"]
    others = sorted(info.name for info in pkgutil.iter_modules(views.__path__)
                    if not info.ispkg and info.name not in first)
    for name in first + others:
        module = importlib.import_module(f"views.{name}")
        if hasattr(module, "bp"):
            app.register_blueprint(module.bp)
    from views import extend

    extend.init_app(app)  # what the modules just imported registered for templates

    @app.before_request
    def _require_login():
        # Login is required everywhere but the login page, static assets and the website's lead form
        # (views/leads.py: its own token per source, CSRF-exempt there only).
        if request.endpoint in ("auth.login", "leads.web_form", None) + ASSET_ENDPOINTS:
            return None
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        return None

    @app.after_request
    def _headers(response):
        # A view with its own policy (document downloads: sandbox) keeps it.
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        if not (request.endpoint in ASSET_ENDPOINTS and response.status_code in (200, 206, 304)):
            # Pages, fragments, exports, redirects and errors hold personal data: no shared cache keeps
            # them, and the back button after logging out asks the server again.
            if "no-store" not in (response.headers.get("Cache-Control") or ""):
                response.headers["Cache-Control"] = "no-store"
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if "HX-Request" in request.headers or request.args:
            response.vary.add("HX-Request")
        return _sendable(response)

    @app.errorhandler(NotFound)
    @app.errorhandler(404)
    def _not_found(exc):
        return _error_page(404, i18n.gettext("Not found, or you do not have access to it."))

    @app.errorhandler(DomainError)
    def _domain_error(exc):
        return _error_page(409, i18n.translate_error(exc.message, exc.params))

    @app.errorhandler(CSRFError)
    def _csrf_error(exc):
        return _error_page(400, i18n.gettext("The form expired or came from elsewhere. Reload the page and try again."))

    @app.errorhandler(405)
    def _method(exc):
        return _error_page(405, i18n.gettext("That action is not available here."))

    @app.errorhandler(413)
    def _too_large(exc):
        return _error_page(413, i18n.gettext("That upload is too large."))

    @app.errorhandler(500)
    def _server_error(exc):
        return _error_page(500, i18n.gettext("Something went wrong on our side. Nothing was saved; please try again."))


def _error_page(status, message):
    if request.htmx:
        # htmx 2 does not swap 4xx/5xx: the page shows the message in its toast region.
        response = hx.toast(message, status=status)
        return response
    g.error_message = message
    return render_template("error.html", message=message, status=status), status
