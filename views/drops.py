"""Fair drops over the web (issue 20 item 1, models/drops.py): queueing for a pool customer before its
drop (the pool row answers, like a claim), the ledger's sentences for a queue and a drawn drop, and the
drop methods' labels for the rules page."""
from flask import Blueprint, request, url_for
from flask_login import current_user
from markupsafe import Markup

from models import drop_settings, drops
from models.customers import get_customer
from models.errors import DomainError
from models.permissions import require
from views import extend
from views import htmx as hx
from views.i18n import gettext as _
from views.i18n import label, translate_error
from views.ledger_text import REFUSALS, join, say, when
from views.pools import _local, _row_response

bp = Blueprint("drops", __name__)


@bp.post("/pools/<int:customer_id>/queue")
def queue(customer_id):
    """Join the queue for a customer waiting for its drop; the pool row answers with the queue's count."""
    customer = get_customer(customer_id)
    require(current_user, "drop.queue", customer)
    try:
        queued = drops.queue_for(current_user, customer)
    except DomainError as exc:
        return _row_response(customer, translate_error(exc.message, exc.params))
    if not request.htmx:
        return hx.redirect(url_for("customers.show", customer_id=customer.id))
    return hx.trigger(_row_response(customer, _("Queued: %(n)s waiting for the drop at %(at)s. A lottery decides.",
                                                n=queued, at=_local(customer.drop_at)), ok=True), "dropQueueChanged")


@bp.post("/pools/<int:customer_id>/queue/leave")
def leave(customer_id):
    """Leave the queue before the drop; the pool row (or the customer's page, on `dropQueueChanged`) answers."""
    customer = get_customer(customer_id)
    require(current_user, "drop.queue", customer)
    try:
        drops.leave_queue(current_user, customer)
    except DomainError as exc:
        return _row_response(customer, translate_error(exc.message, exc.params))
    if not request.htmx:
        return hx.redirect(url_for("customers.show", customer_id=customer.id))
    return hx.trigger(_row_response(customer, _("You left the queue for %(name)s.", name=customer.name), ok=True),
                      "dropQueueChanged")


@extend.timeline(extend.LEDGER + "drop")
def describe(e):
    n, d = extend.names(), e.inputs or {}
    if e.kind == "drop_queued":
        return say(_("%(who)s queued for %(customer)s, which drops at %(at)s (%(n)s in the queue)"),
                   who=n.person(e.actor_id, _("The system")), customer=n.customer(e.customer_id), at=when(d.get("drop_at")),
                   n=d.get("queued", "?"))
    if e.kind == "drop_left":
        return say(_("%(who)s left the queue for %(customer)s, which drops at %(at)s (%(n)s still in it)"),
                   who=n.person(e.actor_id, _("The system")), customer=n.customer(e.customer_id), at=when(d.get("drop_at")),
                   n=d.get("queued", "?"))
    if e.kind != "drop":
        return None
    n.load(user_ids=[u for u in d.get("order") or [] if u not in n.people])  # the entrants, in one query
    method = label(drop_settings.METHOD_LABELS, d.get("method"))
    text = say(_("%(customer)s dropped from %(pool)s at %(at)s: %(method)s among %(n)s entrants, seed %(seed)s, "
                 "order %(order)s"), customer=n.customer(e.customer_id), pool=n.pool(e.from_pool),
               at=when(d.get("drop_at")), method=method, n=len(d.get("entrants") or []), seed=d.get("seed", "?"),
               order=Markup(", ").join(n.person(u) for u in d.get("order") or []))
    parts = [text]
    if d.get("weights"):
        parts.append(say(_("(weights 1 / (1 + claims this week): %(weights)s)"), weights=Markup(", ").join(
            Markup("%s %s (%s)") % (n.person(int(u)), w, (d.get("claims_this_week") or {}).get(u, 0))
            for u, w in d["weights"].items())))
    for uid, rule in (d.get("skipped") or {}).items():
        parts.append(say(_("%(rep)s skipped: %(why)s;"), rep=n.person(int(uid)), why=label(REFUSALS, rule)))
    parts.append(say(_("%(rep)s won it."), rep=n.person(e.to_owner)) if e.to_owner
                 else say(_("Nobody could claim it: it stays in the pool for the first claim.")))
    return join(*parts)


extend.template_globals(DROP_METHOD_LABELS=drop_settings.METHOD_LABELS)
