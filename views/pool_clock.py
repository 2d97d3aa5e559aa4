"""Calendar-aware clocks over the web (issue 20 items 3 and 4): the pause card on the 360 page (the owner
asks, the card shows what waits and what runs), the approvals section where the team's manager decides,
the rule form's clock fields, and the ledger and timeline sentences."""
import datetime as dt

from flask import Blueprint, make_response, render_template, request, url_for
from flask_login import current_user

from models import pool_clock
from models.customers import get_customer
from models.errors import N_, DomainError, NotFound, ValidationError
from models.permissions import can, require
from models.pool_clock_settings import CLOCK_MODE_LABELS, CLOCK_MODES, windows_text
from models.users import User
from views import extend
from views import htmx as hx
from views.forms import field_errors
from views.i18n import gettext as _, translate_error
from views.ledger_text import join, reason, say, when

bp = Blueprint("pool_clock", __name__)


def _names(ids):
    ids = {i for i in ids if i}
    return {u.id: u.full_name for u in User.select(User.id, User.full_name).where(User.id.in_(ids))} if ids else {}


def _card_context(customer, user, errors=None, form=None):
    pauses = pool_clock.pauses_for(customer.id) if extend.may_have_rows(customer.id, "customer_pause") else []
    return {"customer": customer, "pauses": pauses, "errors": errors or {}, "form": form or {},
            "names": _names([p.requester_id for p in pauses] + [p.decided_by_id for p in pauses]),
            "can_request": can(user, "pause.request", customer)}


extend.customer_rows("customer_pause", pool_clock.CustomerPause)


@extend.side_card("pool_clock/_pause_card.html", order=25)
def _card(customer, user):
    """Shown to whoever may ask for a pause or decide one, and wherever a pause exists to be seen."""
    if customer.owner_id is None or not (can(user, "pause.request", customer) or can(user, "pause.decide", customer)):
        return None
    return _card_context(customer, user)


@bp.post("/customers/<int:customer_id>/pause")
def request_pause(customer_id):
    customer = get_customer(customer_id)
    require(current_user, "customer.view", customer)  # the owner's card: never a pool customer's file

    def card(errors=None, form=None, status=200):
        return make_response(render_template("pool_clock/_pause_card.html",
                                              p=_card_context(get_customer(customer_id), current_user, errors, form)),
                             status)
    try:
        pool_clock.request_pause(current_user, customer, request.form)
    except ValidationError as exc:
        return card(field_errors(exc, joined=True), request.form)
    except NotFound:
        raise
    except DomainError as exc:
        if request.htmx:
            return hx.toast(translate_error(exc.message, exc.params), 409)
        return card({"form": translate_error(exc.message, exc.params)}, request.form, 409)
    if not request.htmx:
        return hx.redirect(url_for("customers.show", customer_id=customer.id))
    return hx.trigger(card(), "approvalsChanged")


# ---- the approvals inbox ---------------------------------------------------------------------------

def _pending_count(user):
    return pool_clock.pending_pauses(user).count()


@extend.approvals_section("pauses", N_("Release clock pauses"), "pool_clock/_approvals.html",
                          count=_pending_count, order=15)
def _pending_rows(user):
    rows = list(pool_clock.pending_pauses(user).limit(100))
    names = _names([r.requester_id for r in rows] + [r.customer.owner_id for r in rows])
    return [dict(r=r, names=names) for r in rows]


@bp.post("/approvals/pauses/<int:pause_id>")
def decide_pause(pause_id):
    pause = pool_clock.CustomerPause.get_or_none(pool_clock.CustomerPause.id == pause_id)
    if pause is None:
        raise NotFound()
    require(current_user, "pause.decide", get_customer(pause.customer_id))
    error = None
    try:
        pool_clock.decide_pause(current_user, pause_id, request.form.get("decision") == "approve",
                                request.form.get("reason", ""))
    except NotFound:
        raise
    except DomainError as exc:
        error = translate_error(exc.message, exc.params)
    r = pool_clock.CustomerPause.get_by_id(pause_id)
    if not request.htmx:
        return hx.redirect(url_for("pools.approvals")) if error is None else (
            render_template("pool_clock/_approval_page.html", r=r, names=_names([r.requester_id, r.decided_by_id]),
                            error=error), 409)
    response = make_response(render_template("pool_clock/_approval_row.html", r=r, error=error,
                                             names=_names([r.requester_id, r.decided_by_id])))
    return response if error else hx.trigger(response, "approvalsChanged")


PAUSE_STATUS_LABELS = {"pending": N_("Waiting for approval"), "approved": N_("Approved"), "rejected": N_("Rejected")}


# ---- the rule form ----------------------------------------------------------------------------------

FIELD_LABELS = {
    "pause_max_days": N_("Longest pause of one customer's clocks (days)"),
    "stage_timeout_days": N_("Warn when an opportunity stays in one stage (days, 0: off)"),
    "stage_timeout_release_days": N_("After this many days in one stage, follow-ups no longer keep the customer "
                                     "(days, 0: off)"),
    "reorder_warn_percent": N_("Reorder customers: warn the owner when no order for (percent of the usual interval)"),
    "reorder_release_percent": N_("Reorder customers: release when no order for (percent of the usual interval, 0: off)"),
}


def form_values(settings):
    """The rule form's clock fields from a settings dict."""
    return {"clock_days": settings.get("clock_days") or "calendar", "freeze_windows": windows_text(settings)}


def from_iso(value):
    """An ISO date or time from a release plan's inputs as a date or datetime (for the date filters)."""
    text = str(value or "")
    return dt.date.fromisoformat(text) if len(text) <= 10 else dt.datetime.fromisoformat(text)


extend.template_globals(CLOCK_MODES=CLOCK_MODES, CLOCK_MODE_LABELS=CLOCK_MODE_LABELS,
                        PAUSE_STATUS_LABELS=PAUSE_STATUS_LABELS)
extend.template_filters(from_iso=from_iso)


# ---- the ledger and the timeline ---------------------------------------------------------------------

@extend.timeline(extend.LEDGER + "pause")
def _describe_pause_ledger(e):
    n, d = extend.names(), e.inputs or {}
    return join(say(_("%(who)s paused the release clock of %(customer)s from %(a)s to %(b)s: back to the pool on "
                      "%(at)s at the earliest (was %(before)s)"), who=n.person(e.actor_id, _("The system")),
                    customer=n.customer(e.customer_id), a=when(d.get("starts_on")), b=when(d.get("ends_on")),
                    at=when(d.get("release_at")), before=when(d.get("release_before"))), reason(e.reason))


@extend.timeline("pool.pause_")
def _describe_pause(e):
    d = e.data or {}
    texts = {"pool.pause_requested": _("asked to pause the release clock from %(a)s to %(b)s: %(reason)s"),
             "pool.pause_approved": _("approved the pause of the release clock from %(a)s to %(b)s: %(reason)s"),
             "pool.pause_rejected": _("rejected the pause of the release clock from %(a)s to %(b)s: %(reason)s")}
    if e.kind not in texts:
        return None
    return say(texts[e.kind], a=when(d.get("starts_on")), b=when(d.get("ends_on")), reason=d.get("reason", ""))
