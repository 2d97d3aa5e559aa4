"""Conflict cases (撞单) over the web: open one, the case list, the case page with both sides' evidence,
and the ruling (on the case page and inline in the approvals inbox)."""
from flask import Blueprint, make_response, render_template, request, url_for
from flask_login import current_user

from models import conflicts, pickers
from models.fields import parse_id
from models.customers import STAGE_LABELS, Customer, get_customer
from models.duplicates import REASON_LABELS, find_matches
from models.errors import N_, DomainError, NotFound, ValidationError
from models.keyset import keyset_page
from models.permissions import can, require
from models.users import Team, User
from views import htmx as hx
from views import extend
from views.forms import field_errors
from views.i18n import gettext as _
from views.i18n import label, translate_error

bp = Blueprint("conflicts", __name__, url_prefix="/conflicts")

EVIDENCE_ROWS = (
    ("registered_at", N_("First registration")),
    ("first_valid_at", N_("First valid follow-up")),
    ("valid_recent", N_("Valid follow-ups in the last 90 days")),
    ("key_person_at", N_("Key person first reached")),
    ("furthest_stage", N_("Furthest stage reached")),
    ("invalid", N_("Invalid follow-ups")),
)
SIDE_LABELS = {"claimant": N_("claimant"), "owner": N_("owner")}


def _names(cases):
    ids = set()
    for c in cases:
        ids |= {c.claimant_id, c.owner_id, c.ruled_by_id}
    ids.discard(None)
    return {u.id: u.full_name for u in User.select(User.id, User.full_name).where(User.id.in_(ids))} if ids else {}


def _customers(cases):
    ids = {c.customer_id for c in cases}
    return {c.id: c for c in Customer.select(Customer.id, Customer.name).where(Customer.id.in_(ids))} if ids else {}


def why_text(evidence):
    why = evidence.get("why") or ["", {}]
    params = dict(why[1] or {})
    if "side" in params:
        params["side"] = _(SIDE_LABELS.get(params["side"], params["side"]))
    if "stage" in params:
        params["stage"] = label(STAGE_LABELS, params["stage"])
    return translate_error(why[0], params) if why[0] else ""


def evidence_value(key, value):
    from views.i18n import fmt_datetime
    import datetime as dt

    if value in (None, ""):
        return "—"
    if key == "furthest_stage":
        return label(STAGE_LABELS, value)
    if key.endswith("_at"):
        return fmt_datetime(dt.datetime.fromisoformat(value))
    return value


extend.template_globals(conflict_why=why_text, evidence_value=evidence_value, EVIDENCE_ROWS=EVIDENCE_ROWS,
                        POLICY_LABELS=conflicts.POLICY_LABELS, OUTCOME_LABELS=conflicts.OUTCOME_LABELS)


# ---- list ---------------------------------------------------------------------------------------

@bp.get("")
def index():
    require(current_user, "conflict.list")
    status = request.args.get("status") if request.args.get("status") in conflicts.STATUSES else None
    awaiting = request.args.get("awaiting") == "1"
    found = keyset_page(conflicts.cases_for(current_user, status=status, awaiting=awaiting, limit=None),
                        [conflicts.ConflictCase.id], after=request.args.get("before"), limit=25, descending=True)
    cases = found.rows
    context = dict(cases=cases, names=_names(cases), customers=_customers(cases), status=status, awaiting=awaiting,
                   next_before=found.next)
    return hx.fragment_or_page("conflicts/_rows.html", "conflicts/index.html", **context)


# ---- open ---------------------------------------------------------------------------------------

def _seen():
    """What the rep's duplicate check ran on, carried by its link and by the form: the name, phone and
    credit code typed, and `via`, the file whose look-alikes were shown (models.conflicts.disputable)."""
    seen = {k: request.values.get(k, "").strip()[:200] for k in conflicts.SEEN_KEYS + ("via",)}
    seen["via"] = seen["via"] or request.values.get("own", "").strip()[:20]  # the rep's own file showed it
    return seen


def _own_files(customer, match, seen):
    """The rep's own customers that look like the disputed one: the "my file" the case may name. For a
    customer the rep cannot open only what they entered is looked up, never the hidden file's phone."""
    data = dict(name=customer.name, phone=customer.phone) if match is None else \
        {k: seen[k] for k in conflicts.SEEN_KEYS}
    ids = {m.id for m in find_matches(current_user, exclude_id=customer.id, limit=10, **data)}
    for value in (seen.get("via"), request.values.get("own")):
        if value and value.isdigit() and len(value) < 19:
            ids.add(int(value))
    ids.discard(customer.id)
    if not ids:
        return []
    return pickers.facts(list(Customer.select(*pickers.LOOKUP_COLUMNS).where(Customer.id.in_(list(ids))
                                                                         & (Customer.owner == current_user.id))))


def _target(customer, match):
    """What the form says about the disputed customer: for one the rep cannot open, no more than the
    duplicate warning showed (its name, why it matched, who owns it)."""
    if match is not None:
        return {"id": customer.id, "name": match.name, "owner": match.owner,
                "why": " · ".join(label(REASON_LABELS, r) for r in match.reasons)}
    owner = User.get_or_none(User.id == customer.owner_id) if customer.owner_id else None
    return {"id": customer.id, "name": customer.name, "owner": owner.full_name if owner else None, "why": ""}


@bp.route("/new", methods=["GET", "POST"])
def new():
    """The form for a case, reached from a duplicate warning or an ownership card (with what the rep's
    check ran on) or from a customer the rep can open. Any other id is a 404 like a missing one."""
    seen = _seen()
    claimant_file = request.values.get("claimant_customer_id") or request.values.get("own") or None
    customer, match = conflicts.disputable(current_user, request.values.get("customer", ""), seen, claimant_file)
    errors, refusal = {}, None
    if request.method == "POST":
        try:
            case = conflicts.open_case(current_user, customer.id, request.form.get("reason", ""),
                                       request.form.get("claimant_customer_id") or None, seen=seen)
        except ValidationError as exc:
            errors = field_errors(exc, joined=True)
        except DomainError as exc:
            if isinstance(exc, NotFound):
                raise
            refusal = translate_error(exc.message, exc.params)
        else:
            return hx.redirect(url_for("conflicts.show", case_id=case.id, opened=1))
    elif customer.owner_id == current_user.id:
        refusal = _("You own this customer: there is nothing to dispute.")
    elif customer.owner_id is None:
        refusal = _("Nobody owns this customer: claim it from the pool instead of opening a case.")
    else:
        require(current_user, "conflict.open", customer)
    own_files = _own_files(customer, match, seen) if refusal is None else []
    chosen = request.values.get("claimant_customer_id") or request.values.get("own") or ""
    template = "conflicts/_form.html" if request.htmx and request.method == "POST" else "conflicts/new.html"
    response = make_response(render_template(template, target=_target(customer, match), errors=errors,
                                             refusal=refusal, own_files=own_files, chosen=str(chosen),
                                             seen={k: v for k, v in seen.items() if v},
                                             reason=request.form.get("reason", "")))
    if refusal and request.method == "GET":
        response.status_code = 409
    return response


# ---- the case ----------------------------------------------------------------------------------

def _case_context(case):
    customer = Customer.get_or_none(Customer.id == case.customer_id)
    live = case.status == "open"
    if live and customer is not None:
        own = Customer.get_or_none(Customer.id == case.claimant_customer_id) if case.claimant_customer_id else None
        evidence = conflicts.gather(customer, case.claimant_id, case.owner_id, own)
    else:
        evidence = case.evidence
    teams = {t.id: t.name for t in Team.select(Team.id, Team.name).where(
        Team.id.in_([x for x in (case.claimant_team_id, case.owner_team_id) if x]))}
    own_file = Customer.get_or_none(Customer.id == case.claimant_customer_id) if case.claimant_customer_id else None
    return dict(case=case, customer=customer, evidence=evidence, names=_names([case]), teams=teams,
                can_rule=live and can(current_user, "conflict.rule", case), own_file=own_file,
                can_view_customer=customer is not None and can(current_user, "customer.view", customer),
                can_view_own=own_file is not None and can(current_user, "customer.view", own_file))


@bp.get("/<int:case_id>")
def show(case_id):
    case = conflicts.get_case(current_user, case_id)
    return render_template("conflicts/show.html", opened=request.args.get("opened"), errors={}, error=None,
                           **_case_context(case))


@bp.post("/<int:case_id>/rule")
def rule(case_id):
    """A ruling with its reason. One answer for htmx: the case's inbox row (its errors, or the ruling)
    with `approvalsChanged`; the case page posts without htmx and gets the page again or a redirect."""
    case = conflicts.get_case(current_user, case_id)
    require(current_user, "conflict.rule", case)
    errors, error = {}, None
    try:
        case = conflicts.rule_case(current_user, case.id, request.form.get("outcome", ""), request.form.get("reason", ""),
                                   split=request.form.get("split", ""))
    except ValidationError as exc:
        errors = field_errors(exc, joined=True)
    except DomainError as exc:
        error = translate_error(exc.message, exc.params)
        case = conflicts.ConflictCase.get_by_id(case.id)
    if request.htmx:
        response = make_response(render_template("conflicts/_approval_row.html", case=case, names=_names([case]),
                                                 customers=_customers([case]), errors=errors, error=error,
                                                 reason=request.form.get("reason", "")))
        return hx.trigger(response, "approvalsChanged") if not errors and not error else response
    if errors or error:
        return render_template("conflicts/show.html", opened=None, errors=errors, error=error,
                               **_case_context(case)), 200
    return hx.redirect(url_for("conflicts.show", case_id=case.id))


# ---- the approvals inbox -------------------------------------------------------------------------

@extend.approvals_section("conflicts", N_("Conflict cases"), "conflicts/_approvals.html",
                          count=conflicts.awaiting_count, order=30)
def _awaiting_rows(user):
    """The open cases waiting for this user's ruling, with the names each row shows (read in bulk)."""
    cases = list(conflicts.cases_for(user, awaiting=True, limit=50))
    names, customers = _names(cases), _customers(cases)
    return [dict(case=c, names=names, customers=customers) for c in cases]


@extend.timeline("conflict.")
def _describe_conflict(e):
    d = e.data or {}
    if e.kind == "conflict.opened":
        return _("opened conflict case #%(id)s against %(owner)s: %(reason)s", id=d.get("case_id"),
                 owner=d.get("owner", ""), reason=d.get("reason", ""))
    if e.kind == "conflict.ruled":
        return _("ruled conflict case #%(id)s: %(outcome)s — %(reason)s", id=d.get("case_id"),
                 outcome=_(conflicts.OUTCOME_LABELS.get(d.get("outcome"), "")), reason=d.get("reason", ""))
    return None
