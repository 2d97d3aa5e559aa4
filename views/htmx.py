"""Response helpers for htmx: redirects, events, toasts, retargeting and running a verb (the one place
that knows the headers: no other module sets an HX-* response header).

HTTP header values travel as Latin-1: waitress refuses anything else with its own 500, after the
view has already committed. So every value written here is ASCII: JSON with \\u escapes (htmx parses
it back to the Chinese text) and URLs percent-encoded (`iri_to_uri`)."""
import json

from flask import make_response, render_template, request
from werkzeug.urls import iri_to_uri

from models.errors import DomainError, ValidationError
from views.i18n import translate_error


def redirect(url):
    """Full-page navigation from an htmx request (or a plain 303 otherwise)."""
    if request.htmx:
        response = make_response("", 204)
        response.headers["HX-Redirect"] = iri_to_uri(url)
        return response
    from flask import redirect as flask_redirect

    return flask_redirect(url, code=303)


def trigger(response, event, detail=None):
    """Add an HX-Trigger event (camelCase) so other regions of the page can refresh."""
    existing = response.headers.get("HX-Trigger")
    events = json.loads(existing) if existing else {}
    events[event] = detail if detail is not None else True
    response.headers["HX-Trigger"] = json.dumps(events)  # ASCII: waitress sends headers as Latin-1
    return response


def toast(message, status=200):
    """A message for the page's toast region; the body is plain text so htmx 2 error handling can show it."""
    response = make_response(message, status)
    response.mimetype = "text/plain"
    return trigger(response, "showToast", {"message": message})


def retarget(response, target, swap="innerHTML"):
    """Swap `response` into `target` (a CSS selector) instead of the element the request named."""
    response = make_response(response)
    response.headers["HX-Retarget"] = target
    response.headers["HX-Reswap"] = swap
    return response


def fragment(template, event=None, target=None, swap="innerHTML", **context):
    """A rendered partial as the answer, swapped into `target` when given, with an `event` for the
    regions that listen to it (`customerChanged`, `opportunityMoved` …)."""
    response = make_response(render_template(template, **context))
    if target:
        response = retarget(response, target, swap)
    return trigger(response, event) if event else response


def run_verb(verb, done, invalid=None, refused=None, message=None):
    """Run a verb and answer: the one place a view turns a verb's outcome into a response.

    `verb()` does the work. A ValidationError answers `invalid(exc)` (the form again with its errors;
    use `retarget` / `fragment(target=...)` if it belongs elsewhere); without `invalid` it is a refusal
    like the others. Any other DomainError (a refusal, a NotFound) answers a toast with status 409 for
    htmx, or `refused(text)` for a plain request when given (a full page with the reason). Success answers `done(result)`: the verb's one shape, a
    fragment plus its event, or `redirect(url)`. `message(exc)` words a refusal (default: the
    translated message)."""
    try:
        result = verb()
    except DomainError as exc:
        if invalid is not None and isinstance(exc, ValidationError):
            return invalid(exc)
        text = message(exc) if message else translate_error(exc.message, exc.params)
        if refused is not None and not request.htmx:
            return refused(text)
        return toast(text, 409)
    return done(result)


def fragment_or_page(fragment_template, page_template, **context):
    """The partial alone for an htmx request, else the full page that includes it."""
    template = fragment_template if request.htmx and not request.htmx.boosted else page_template
    response = make_response(render_template(template, **context))
    response.vary.add("HX-Request")
    return response


def unsendable_headers(response):
    """The response headers a Latin-1 HTTP server cannot send (waitress answers 500 for them)."""
    bad = []
    for name, value in response.headers.items():
        try:
            name.encode("latin-1")
            str(value).encode("latin-1")
        except UnicodeEncodeError:
            bad.append(name)
        else:
            if "\n" in str(value) or "\r" in str(value):
                bad.append(name)
    return bad
