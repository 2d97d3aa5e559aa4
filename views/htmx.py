"""Response helpers for htmx: redirects, events and toasts (the one place that knows the headers)."""
import json

from flask import make_response, request


def redirect(url):
    """Full-page navigation from an htmx request (or a plain 303 otherwise)."""
    if request.htmx:
        response = make_response("", 204)
        response.headers["HX-Redirect"] = url
        return response
    from flask import redirect as flask_redirect

    return flask_redirect(url, code=303)


def trigger(response, event, detail=None):
    """Add an HX-Trigger event (camelCase) so other regions of the page can refresh."""
    existing = response.headers.get("HX-Trigger")
    events = json.loads(existing) if existing else {}
    events[event] = detail if detail is not None else True
    response.headers["HX-Trigger"] = json.dumps(events, ensure_ascii=False)
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
