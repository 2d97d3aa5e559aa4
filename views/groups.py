"""Customer groups (集团, issue 17 item 6): the group page (its legal entities and the roll-up of their revenue,
orders, open opportunities and tickets) and the admin's choice of the group's one owner."""
from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user

from models import groups as gm
from models.errors import N_, DomainError
from models.fields import id_or_none
from models.permissions import can, require
from models.users import User
from views import extend
from views.i18n import gettext as _
from views.i18n import translate_error

bp = Blueprint("groups", __name__, url_prefix="/groups")


def _sellers():
    return list(User.holding("sales", "manager", fields=(User.id, User.full_name)).order_by(User.full_name))


@bp.get("/<int:group_id>")
def show(group_id):
    group = gm.get_group(group_id)
    page = gm.group_page(current_user, group)
    return render_template("groups/show.html", p=page, sellers=_sellers() if can(current_user, "group.manage") else [],
                           saved=request.args.get("saved"), refusal="")


@bp.post("/<int:group_id>/owner")
def set_owner(group_id):
    group = gm.get_group(group_id)
    require(current_user, "group.view", group)
    require(current_user, "group.manage", group)
    pk = id_or_none(request.form.get("owner_id"))
    owner = User.get_or_none(User.id == pk) if pk else None
    try:
        if pk and owner is None:
            raise DomainError(N_("Choose an active sales rep or manager."))
        gm.set_group_owner(current_user, group, owner)
    except DomainError as exc:
        page = gm.group_page(current_user, group)
        return render_template("groups/show.html", p=page, sellers=_sellers(), saved=None,
                               refusal=translate_error(exc.message, exc.params)), 409
    return redirect(url_for("groups.show", group_id=group.id, saved=1))


@extend.timeline("group.owner_set")
def describe(e):
    d = e.data
    if d.get("first_entity"):
        return _("%(owner)s became the owner of the group %(group)s with its first entity %(entity)s.",
                 owner=extend.names().person(d.get("to_owner_id")), group=d.get("group", ""), entity=d["first_entity"])
    if d.get("to_owner_id"):
        return _("The group %(group)s now has one owner: %(owner)s.", group=d.get("group", ""),
                 owner=extend.names().person(d.get("to_owner_id")))
    return _("The group %(group)s has no owner any more.", group=d.get("group", ""))
