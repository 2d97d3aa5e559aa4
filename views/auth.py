"""Log in, log out and the screen language."""
from urllib.parse import urlparse

from flask import Blueprint, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user

from models import db
from models.errors import DomainError
from models.users import LANGUAGES, authenticate, end_session, set_language, start_session
from views import htmx as hx
from views.i18n import translate_error

bp = Blueprint("auth", __name__)


def _safe_next(target):
    if not target:
        return url_for("workbench.home")
    parts = urlparse(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("workbench.home")
    # Browsers read "\" as "/" and drop tabs and newlines: "/\evil.example" would leave the site.
    if "\\" in target or any(ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return url_for("workbench.home")
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated and request.method == "GET":
        return redirect(url_for("workbench.home"))
    if request.args.get("lang") in LANGUAGES:
        # Before logging in, the language choice lives in a cookie.
        response = redirect(url_for("auth.login", next=request.args.get("next")))
        response.set_cookie("lang", request.args["lang"], max_age=365 * 86400, samesite="Lax", httponly=True)
        return response
    error, username = None, ""
    if request.method == "POST":
        username = (request.form.get("username") or "")[:80]
        try:
            user = authenticate(username, request.form.get("password") or "", request.remote_addr or "?")
        except DomainError as exc:
            error = translate_error(exc.message, exc.params)
        else:
            _end_current_session()
            sign_in(user)
            return hx.redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html", error=error, username=username)


def sign_in(user):
    """Start a server-side session for the user and log this browser into it."""
    user.session_token = start_session(user, request.remote_addr or "?", request.user_agent.string)
    login_user(user)


def _end_current_session():
    token = getattr(current_user, "session_token", None)
    if token:
        end_session(token)


@bp.post("/logout")
def logout():
    _end_current_session()  # a copy of the cookie taken before now no longer logs anyone in
    logout_user()
    return hx.redirect(url_for("auth.login"))


@bp.post("/language")
def language():
    lang = request.form.get("language")
    if lang not in LANGUAGES:
        return hx.toast("?", 400)
    with db.atomic():
        set_language(current_user, lang)
    back = _safe_next(request.form.get("next") or request.referrer and urlparse(request.referrer).path)
    response = make_response(hx.redirect(back))
    response.set_cookie("lang", lang, max_age=365 * 86400, samesite="Lax", httponly=True)
    return response
