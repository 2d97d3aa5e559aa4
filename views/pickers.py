"""The type-ahead person picker (issue 13 point 7): one route, GET /people/pick?field=<key>[&for=<id>]&q=…,
answering the matches of one field as `_people.html` (buttons the macro `person_picker` of `_pickers.html`
lists). A field names who may be chosen there — the same people the verb behind the form accepts; the verb
still validates the id it receives, so the picker only narrows what is offered. A field the user may not
use is a 404."""
from flask import Blueprint, render_template, request
from flask_login import current_user

from models import pickers, pools
from models.errors import NotFound
from models.fields import clip_text, id_or_none
from models.permissions import SELLERS, can, require
from models.user_tables import ROLE_LABELS, User
from views.i18n import label, locale_code
from views.i18n import gettext as _

bp = Blueprint("pickers", __name__)

FIELDS = {}  # key -> fn(user, for_id) -> (User query, [(value, text)] of non-person choices, value prefix)


def person_field(key):
    def register(fn):
        FIELDS[key] = fn
        return fn
    return register


@person_field("seller")
def _sellers(user, _for):
    """Active reps and managers (a delegate: the delegation verb checks the rest)."""
    return User.holding(*SELLERS), [], ""


@person_field("colleague")
def _colleagues(user, _for):
    """Any active user (a project team member)."""
    return User.select().where(User.active == True), [], ""  # noqa: E712


@person_field("owner")
def _owners(user, _for):
    """The customer list's owner filter: a manager's team, or every seller (also former ones) for those who
    filter across teams (views.customers.filter_options offers the same)."""
    if can(user, "team.leads_one"):
        return User.select().where(User.team == user.team_id), [], ""
    if can(user, "customer.filter_any_owner"):
        return User.holding(*SELLERS, active=None), [], ""
    raise NotFound()


@person_field("opportunity_owner")
def _opportunity_owners(user, _for):
    """The deal board's owner filter (views.opportunities._filter_choices offers the same)."""
    if can(user, "opportunity.filter_team"):
        return User.holding(*SELLERS), [], ""
    if can(user, "opportunity.filter_owner") and user.team_id:
        return User.select().where(User.team == user.team_id), [], ""
    raise NotFound()


@person_field("leaver")
def _leaver_targets(user, for_id):
    """Where a leaver's customer may go: a rep of the leaver's team (any team's for those the rule allows)
    or a public pool (models.transfers.set_plan_target checks it)."""
    leaver = User.get_or_none(User.id == for_id) if for_id else None
    if leaver is None:
        raise NotFound()
    require(user, "leaver.plan", leaver)
    people = User.holding(*SELLERS).where(User.id != leaver.id)
    if not can(user, "leaver.any_rep"):
        people = people.where(User.team == leaver.team_id) if leaver.team_id else people.where(User.id == 0)
    loc = locale_code()
    others = [(f"p:{p.id}", p.label(loc)) for p in
              pools.Pool.select().where(pools.Pool.active == True).order_by(pools.Pool.id)]  # noqa: E712
    return people, others, "u:"


@bp.get("/people/pick")
def people():
    spec = FIELDS.get(request.args.get("field", ""))
    if spec is None:
        raise NotFound()
    query, others, prefix = spec(current_user, id_or_none(request.args.get("for")))
    q = clip_text(request.args.get("q"), 40)
    found = pickers.person_search(query, q)
    options = [{"value": f"{prefix}{u.id}", "text": u.full_name,
                "detail": " · ".join(x for x in (u.team_name, label(ROLE_LABELS, u.role),
                                                 "" if u.active else _("deactivated")) if x)} for u in found]
    options += [{"value": value, "text": text, "detail": _("public pool")} for value, text in others
                if not q or q.lower() in text.lower()][:5]
    return render_template("_people.html", options=options, q=q)
