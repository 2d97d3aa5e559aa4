"""Appeals and undo (issue 20 item 2): the appeal card on a released customer's page, the managers' section
of the approvals inbox, the conflict ruling's appeal, the admin's bulk undo of forced releases, and the ledger
and timeline sentences of all of it (models/appeals.py)."""
import datetime as dt

from flask import Blueprint, make_response, render_template, request, url_for
from flask_login import current_user

from models import appeals, clock
from models.appeal_tables import Appeal, open_appeal_on
from models.customers import Customer
from models.errors import N_, DomainError, NotFound, ValidationError
from models.fields import FieldError, parse_date, parse_int
from models.permissions import require
from models.users import User
from views import extend
from views import htmx as hx
from views.forms import field_errors
from views.i18n import gettext as _
from views.i18n import label, translate_error
from views.ledger_text import REFUSALS, join, reason, say, when
from views.pools import LEDGER_LABELS, RELEASE_RULE_LABELS

bp = Blueprint("appeals", __name__)

LEDGER_LABELS.update({
    "appeal_opened": N_("Appealed"), "appeal_refused": N_("Appeal refused"), "appeal_upheld": N_("Appeal upheld"),
    "appeal_rejected": N_("Appeal rejected"), "release_undone": N_("Release undone"),
    "restore_refused": N_("Restore refused"), "credit_split": N_("Credit split"),
})
RELEASE_RULE_LABELS["restored"] = N_("restored by an appeal or an undo: held")
REFUSALS["appealed"] = N_("its former owner appealed the release")
APPEAL_REFUSALS = {
    "off": N_("the rules allow no appeals"), "window": N_("the appeal window had closed"),
    "twice": N_("it was appealed already"), "claimed": N_("the customer changed hands since"),
    "back": N_("the customer was back with its owner already"), "merged": N_("the customer was merged since"),
    "inactive": N_("the former owner is no longer an active rep"), "capacity": N_("the former owner's private pool was full"),
    "open_appeal": N_("an appeal on it was open"), "not_forced": N_("it was not a forced release"),
}
STATUS_LABELS = {"open": N_("waiting for the manager"), "upheld": N_("upheld"), "rejected": N_("rejected")}
extend.template_filters(appeal_when=when)  # an ISO time from a ledger row's inputs, as the locale writes it
extend.template_globals(APPEAL_STATUS_LABELS=STATUS_LABELS,
                        conflict_appeal_state=lambda case: appeals.conflict_appeal_state(current_user, case),
                        credit_split_of=lambda case: _split(case))


def _split(case):
    from models.appeal_tables import CreditSplit

    split = CreditSplit.get_or_none((CreditSplit.customer == case.customer_id) & (CreditSplit.case_id == case.id))
    if split is None:
        return None
    names = {u.id: u.full_name for u in User.select(User.id, User.full_name).where(
        User.id.in_([split.rep_a_id, split.rep_b_id]))}
    return {"a": names.get(split.rep_a_id, "?"), "share_a": split.share_a, "b": names.get(split.rep_b_id, "?"),
            "share_b": split.share_b}


# ---- the released customer's page: the appeal card ----------------------------------------------------

@extend.side_card("appeals/_card.html", order=1)
def appeal_card(customer, user):
    """For the rep a release took the customer from: the window and the form, or their appeal's state; for
    everyone else who sees the customer: that an appeal holds it out of the pool."""
    if customer.owner_id is not None:
        restored = appeals.restored_by(customer) if customer.restored_until else None
        return {"restored": restored} if restored else None
    state = appeals.appeal_state(user, customer)
    if state is None:
        held = open_appeal_on(customer.id) if customer.owner_id is None and customer.released_at else None
        return {"held": held} if held else None
    return {**state, "errors": {}, "reason": ""}


def _card(customer, errors=None, text=""):
    p = appeal_card(customer, current_user) or {}
    p.update(errors=errors or {}, reason=text)
    return hx.fragment("appeals/_card.html", event=None if errors else "customerChanged", p=p, customer=customer)


@bp.post("/appeals/releases/<int:event_id>")
def appeal_release(event_id):
    ev = appeals._release_event(event_id)
    require(current_user, "appeal.file", ev)
    customer = Customer.get_or_none(Customer.id == ev.customer_id)
    text = request.form.get("reason", "")
    return hx.run_verb(
        lambda: appeals.appeal_release(current_user, ev.id, text),
        done=lambda a: _card(customer) if request.htmx else hx.redirect(url_for("customers.show", customer_id=customer.id)),
        invalid=lambda exc: _card(customer, field_errors(exc, joined=True), text),
        refused=lambda msg: (render_template("appeals/refused.html", message=msg, customer=customer), 409))


# ---- the approvals inbox ------------------------------------------------------------------------------

def _rows(appeal_list):
    users = {a.appellant_id for a in appeal_list} | {a.decided_by_id for a in appeal_list if a.decided_by_id}
    names = {u.id: u.full_name for u in User.select(User.id, User.full_name).where(User.id.in_(users))} if users else {}
    releases = {e.id: e for e in appeals.PoolEvent.select().where(
        appeals.PoolEvent.id.in_([a.ref_id for a in appeal_list if a.kind == "release"]))} if appeal_list else {}
    return [dict(a=a, names=names, release=releases.get(a.ref_id) if a.kind == "release" else None,
                 customer_name=Customer.select(Customer.name).where(Customer.id == a.customer_id).scalar())
            for a in appeal_list]


@extend.approvals_section("appeals", N_("Appeals"), "appeals/_approvals.html", count=appeals.inbox_count, order=25)
def approval_rows(user):
    return _rows(list(appeals.inbox(user)))


@bp.post("/appeals/<int:appeal_id>/decide")
def decide(appeal_id):
    """Uphold or reject, with a reason. One answer for htmx: the inbox row (its errors, or the decision) with
    `approvalsChanged`; without JavaScript the approvals page again."""
    appeal = appeals.get_appeal(current_user, appeal_id, "appeal.decide")
    text = request.form.get("reason", "")
    errors, error = {}, None
    try:
        appeal = appeals.decide_appeal(current_user, appeal.id, request.form.get("decision") == "uphold", text)
    except ValidationError as exc:
        errors = field_errors(exc, joined=True)
    except DomainError as exc:
        error = translate_error(exc.message, exc.params)
        appeal = Appeal.get_by_id(appeal.id)
    if not request.htmx:
        if errors or error:
            return render_template("appeals/refused.html", message=error or " ".join(errors.values()), customer=None), 409
        return hx.redirect(url_for("pools.approvals"))
    response = make_response(render_template("appeals/_approval_row.html", row=_rows([appeal])[0], errors=errors,
                                             error=error, reason=text if (errors or error) else ""))
    return hx.trigger(response, "approvalsChanged") if not errors and not error else response


# ---- conflict rulings: the loser's appeal -----------------------------------------------------------------

@bp.post("/appeals/conflicts/<int:case_id>")
def appeal_ruling(case_id):
    text = request.form.get("reason", "")
    try:
        appeals.appeal_ruling(current_user, case_id, text)
    except ValidationError as exc:
        return render_template("appeals/refused.html", message=" ".join(field_errors(exc, joined=True).values()),
                               customer=None), 200
    except NotFound:
        raise
    except DomainError as exc:
        return render_template("appeals/refused.html", message=translate_error(exc.message, exc.params),
                               customer=None), 409
    return hx.redirect(url_for("conflicts.show", case_id=case_id))


# ---- the admin's bulk undo of forced releases ------------------------------------------------------------

def _filters(args):
    """(rule version, since, until, errors) from the list's query string; a bad value is an inline error."""
    errors, version, since, until = {}, None, None, None
    raw = (args.get("version") or "").strip().lstrip("vV")
    if raw:
        try:
            version = parse_int(raw, 0, 10 ** 6)
        except FieldError as exc:
            errors["version"] = translate_error(exc.message, exc.params)
    for key in ("since", "until"):
        raw = (args.get(key) or "").strip()
        if not raw:
            continue
        try:
            day = parse_date(raw)
        except FieldError as exc:
            errors[key] = translate_error(exc.message, exc.params)
            continue
        start = clock.local_day_start(day)
        if key == "since":
            since = start
        else:
            until = start + dt.timedelta(days=1)
    return version, since, until, errors


def _page(page, **context):
    """The list page: its rows' customers and former owners read in one query each."""
    customers = {c.id: c.name for c in Customer.select(Customer.id, Customer.name).where(
        Customer.id.in_({e.customer_id for e in page.rows}))} if page.rows else {}
    people = {u.id: u.full_name for u in User.select(User.id, User.full_name).where(
        User.id.in_({e.from_owner for e in page.rows if e.from_owner}))} if page.rows else {}
    return render_template("appeals/releases.html", page=page, done=appeals.undone(page.rows), customers=customers,
                           people=people, versions=_versions(), **context)


@bp.get("/admin/releases")
def releases():
    require(current_user, "release.undo")
    version, since, until, errors = _filters(request.args)
    page = appeals.forced_releases(current_user, version, since, until, after=request.args.get("after"))
    return _page(page, errors=errors, args=request.args, results=None)


def _versions():
    return [v for (v,) in appeals.PoolEvent.select(appeals.PoolEvent.rule_version).where(
        appeals.PoolEvent.kind == "rules_applied").order_by(appeals.PoolEvent.rule_version.desc()).limit(20).tuples()]


@bp.post("/admin/releases/undo")
def undo():
    require(current_user, "release.undo")
    version, since, until, errors = _filters(request.form)
    try:
        results = appeals.undo_releases(current_user, request.form.getlist("events"), request.form.get("reason", ""))
    except ValidationError as exc:
        errors.update(field_errors(exc, joined=True))
        results = None
    if results is not None:
        results = [(pk, name, translate_error(exc.message, exc.params) if exc else None) for pk, name, exc in results]
    page = appeals.forced_releases(current_user, version, since, until)
    return _page(page, errors=errors, args=request.form, results=results,
                 chosen=set(request.form.getlist("events")) if errors else set(),
                 reason_text=request.form.get("reason", "") if errors else "")


# ---- sentences: the ledger's and the timeline's ----------------------------------------------------------

def _refusal_words(d):
    return label(APPEAL_REFUSALS, d.get("rule"))


@extend.timeline("ledger.appeal_opened", "ledger.appeal_refused", "ledger.appeal_upheld", "ledger.appeal_rejected",
                 "ledger.release_undone", "ledger.restore_refused", "ledger.credit_split")
def describe_ledger(e):
    n, d, k = extend.names(), e.inputs or {}, e.kind
    who, customer = n.person(e.actor_id, _("The system")), n.customer(e.customer_id)
    if k == "appeal_opened" and d.get("case_id"):
        return join(say(_("%(who)s appealed the ruling of conflict case #%(id)s on %(customer)s (window until %(until)s)"),
                        who=who, id=d["case_id"], customer=customer, until=when(d.get("window_ends_at"))), reason(e.reason))
    if k == "appeal_opened":
        return join(say(_("%(who)s appealed the release of %(customer)s (window until %(until)s, %(h)s working hours): "
                          "held out of the pool until a manager decides"), who=who, customer=customer,
                        until=when(d.get("window_ends_at")), h=d.get("window_hours", "?")), reason(e.reason))
    if k == "appeal_refused":
        return say(_("%(who)s tried to appeal about %(customer)s and was refused: %(why)s"), who=who, customer=customer,
                   why=_refusal_words(d))
    if k == "appeal_upheld" and d.get("case_id"):
        return join(say(_("%(who)s upheld the appeal against the ruling of conflict case #%(id)s: %(customer)s goes to "
                          "%(owner)s"), who=who, id=d["case_id"], customer=customer, owner=n.person(e.to_owner)),
                    reason(e.reason))
    if k in ("appeal_upheld", "release_undone"):
        text = (_("%(who)s upheld the appeal: %(customer)s is back with %(owner)s with its original clock")
                if k == "appeal_upheld" else
                _("%(who)s undid the forced release of %(customer)s: back with %(owner)s with its original clock"))
        text = say(text, who=who, customer=customer, owner=n.person(e.to_owner))
        if d.get("held_until"):
            text = join(text, say(_("(claimed on %(claimed)s; the clock had run out on %(at)s, so it is kept until "
                                    "%(held)s)"), claimed=when(d.get("claimed_at")), at=when(d.get("release_at")),
                                  held=when(d["held_until"])))
        elif d.get("release_at"):
            text = join(text, say(_("(claimed on %(claimed)s; back to the pool on %(at)s unless worked)"),
                                  claimed=when(d.get("claimed_at")), at=when(d["release_at"])))
        return join(text, reason(e.reason))
    if k == "appeal_rejected":
        return join(say(_("%(who)s rejected the appeal of %(rep)s about %(customer)s"), who=who,
                        rep=n.person(e.subject_id), customer=customer), reason(e.reason))
    if k == "restore_refused":
        return join(say(_("%(who)s could not give %(customer)s back to its former owner: %(why)s"), who=who,
                        customer=customer, why=_refusal_words(d)), reason(e.reason))
    if k == "credit_split":
        shares = d.get("shares") or {}
        return say(_("%(who)s split the credit for %(customer)s (conflict case #%(id)s): %(a)s %(sa)s%%, %(b)s %(sb)s%%"),
                   who=who, customer=customer, id=d.get("case_id", "?"), a=n.person(e.to_owner),
                   sa=shares.get(str(e.to_owner), "?"), b=n.person(e.from_owner), sb=shares.get(str(e.from_owner), "?"))
    return None


@extend.timeline("pool.appeal", "pool.restored")
def describe_event(e):
    d = e.data or {}
    if e.kind == "pool.appealed":
        return _("appealed: %(reason)s", reason=d.get("reason", ""))
    if e.kind == "pool.appeal_rejected":
        return _("rejected the appeal: %(reason)s", reason=d.get("reason", ""))
    if e.kind == "pool.restored" and d.get("held_until"):
        return _("gave the customer back to %(owner)s with its original clock, which had run out on %(at)s: kept until "
                 "%(held)s. %(reason)s", owner=d.get("owner", ""), at=when(d.get("release_at")), held=when(d["held_until"]),
                 reason=d.get("reason", ""))
    if e.kind == "pool.restored":
        return _("gave the customer back to %(owner)s with its original clock (back to the pool on %(at)s unless "
                 "worked): %(reason)s", owner=d.get("owner", ""), at=when(d.get("release_at")), reason=d.get("reason", ""))
    return None
