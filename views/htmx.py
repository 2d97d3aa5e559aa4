"""Response helpers for htmx: redirects, events and toasts (the one place that knows the headers).

HTTP header values travel as Latin-1: waitress refuses anything else with its own 500, after the
view has already committed. So every value written here is ASCII: JSON with \\u escapes (htmx parses
it back to the Chinese text) and URLs percent-encoded (`iri_to_uri`)."""
import json

from flask import make_response, request
from werkzeug.urls import iri_to_uri


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


def fragment_or_page(fragment_template, page_template, **context):
    """The partial alone for an htmx request, else the full page that includes it."""
    from flask import render_template

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
