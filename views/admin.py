"""Administration: users, teams, custom profile fields and the audit log (admins only)."""
from flask import Blueprint, abort, flash, render_template, request, url_for
from flask_login import current_user
from wtforms import (BooleanField, IntegerField, PasswordField, SelectField, SelectMultipleField, StringField,
                     TextAreaField)

from peewee import JOIN, fn
from models.audit import AuditEvent
from models.fields import clip_text, parse_id
from models.customers import BUSINESS_MODEL_LABELS, BUSINESS_MODELS, CUSTOM_KIND_LABELS, CUSTOM_KINDS, CustomField
from models.errors import N_, DomainError, ValidationError
from models.keyset import keyset_page
from models.permissions import require
from models.settings import pending_jobs, save_custom_field, set_custom_field_active
from models.users import (GRANT_LABELS, GRANTS, LANGUAGES, ROLE_LABELS, ROLES, Region, StillOwnsCustomers, Team, User, create_user, save_team,
                          set_active, update_user)
from views import extend
from views import htmx as hx
from views.auth import sign_in
from views.forms import Form, field_errors
from views.i18n import LANGUAGE_NAMES, label, locale_code, translate_error
from views.i18n import gettext as _

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
def _admins_only():
    require(current_user, "user.manage")


class UserForm(Form):
    username = StringField()
    full_name = StringField()
    email = StringField()
    role = SelectField()
    team_id = SelectField()
    region_id = SelectField()
    language = SelectField()
    password = PasswordField()

    LABELS = {"username": N_("Username"), "full_name": N_("Full name"), "email": N_("E-mail"), "role": N_("Role"),
              "team_id": N_("Team"), "region_id": N_("Region"), "language": N_("Screen language"),
              "password": N_("Password")}

    def __init__(self, formdata=None, user=None):
        super().__init__(formdata)
        # the permissions given on top of the role (User.grants), ticked one by one
        self.grants = [(g, label(GRANT_LABELS, g), (formdata.get(f"grant_{g}") if formdata is not None
                                                     else user is not None and user.granted(g))) for g in GRANTS]
        for name, text in self.LABELS.items():
            self[name].label.text = _(text)
        self.role.choices = [(r, label(ROLE_LABELS, r)) for r in ROLES]
        self.team_id.choices = [("", "—")] + [(str(t.id), t.name) for t in Team.select().order_by(Team.name)]
        self.region_id.choices = [("", "—")] + [(str(r.id), r.label(locale_code())) for r in Region.select()]
        self.language.choices = [(code, LANGUAGE_NAMES[code]) for code in LANGUAGES]
        if formdata is None and user is not None:
            for name in ("username", "full_name", "email", "role", "language"):
                self[name].data = getattr(user, name)
            self.team_id.data = str(user.team_id or "")
            self.region_id.data = str(user.region_id or "")


def _data():
    return {k: v for k, v in request.form.items() if k != "csrf_token"}


@bp.get("/users")
def users():
    q = clip_text(request.args.get("q"), 40)
    role = request.args.get("role") if request.args.get("role") in ROLES else ""
    query = (User.holding(role, active=None, fields=(User, Team)) if role else User.select(User, Team)).join(
        Team, on=(User.team == Team.id), join_type=JOIN.LEFT_OUTER)
    if q:
        query = query.where(User.username.contains(q) | User.full_name.contains(q))
    rows = list(query.order_by(User.active.desc(), User.role, User.username).limit(500))
    return hx.fragment_or_page("admin/_user_rows.html", "admin/users.html", rows=rows, q=q, role=role,
                               roles=[(r, label(ROLE_LABELS, r)) for r in ROLES])


@bp.route("/users/new", methods=["GET", "POST"])
@bp.route("/users/<int:user_id>/edit", methods=["GET", "POST"])
def user_form(user_id=None):
    user = User.get_or_none(User.id == user_id) if user_id else None
    if user_id and user is None:
        abort(404)
    form = UserForm(request.form if request.method == "POST" else None, user)
    if request.method == "POST":
        try:
            if user is None:
                create_user(current_user, _data())
            else:
                update_user(current_user, user, _data())
                if user.id == current_user.id and request.form.get("password"):
                    # A new password ends every session of the user: this browser gets a fresh one.
                    sign_in(user)
        except ValidationError as exc:
            field_errors(exc, form)
        else:
            return hx.redirect(url_for("admin.users"))
    return render_template("admin/user_form.html", form=form, user=user)


@bp.post("/users/<int:user_id>/active")
def user_active(user_id):
    user = User.get_or_none(User.id == user_id)
    if user is None:
        abort(404)
    try:
        set_active(current_user, user, request.form.get("active") == "1")
    except StillOwnsCustomers as exc:  # the leaver wizard hands the customers over, then deactivates
        flash(translate_error(exc.message, exc.params))
        return hx.redirect(url_for("transfers.leaver", user_id=user.id))
    except DomainError as exc:
        return hx.toast(translate_error(exc.message, exc.params), 409)
    return hx.redirect(url_for("admin.users"))


class TeamForm(Form):
    name = StringField()
    region_id = SelectField()
    manager_id = SelectField()

    def __init__(self, formdata=None, team=None):
        super().__init__(formdata)
        self.name.label.text, self.region_id.label.text, self.manager_id.label.text = _("Team name"), _("Region"), _("Manager")
        self.region_id.choices = [("", "—")] + [(str(r.id), r.label(locale_code())) for r in Region.select()]
        self.manager_id.choices = [("", "—")] + [
            (str(u.id), u.full_name) for u in User.holding("manager").order_by(User.full_name)]
        if formdata is None and team is not None:
            self.name.data = team.name
            self.region_id.data = str(team.region_id or "")
            self.manager_id.data = str(team.manager_id or "")


@bp.get("/teams")
def teams():
    rows = list(Team.select().order_by(Team.name))
    sizes = dict(User.select(User.team, fn.COUNT(User.id))
                 .where(User.active == True).group_by(User.team).tuples())  # noqa: E712
    managers = {u.id: u.full_name for u in User.holding("manager", active=None, fields=(User.id, User.full_name))}
    regions = {r.id: r.label(locale_code()) for r in Region.select()}
    return render_template("admin/teams.html", rows=rows, sizes=sizes, managers=managers, regions=regions)


@bp.route("/teams/new", methods=["GET", "POST"])
@bp.route("/teams/<int:team_id>/edit", methods=["GET", "POST"])
def team_form(team_id=None):
    team = Team.get_or_none(Team.id == team_id) if team_id else None
    if team_id and team is None:
        abort(404)
    form = TeamForm(request.form if request.method == "POST" else None, team)
    if request.method == "POST":
        try:
            save_team(current_user, _data(), team)
        except ValidationError as exc:
            field_errors(exc, form)
        else:
            return hx.redirect(url_for("admin.teams"))
    members = list(User.select().where(User.team == team.id).order_by(User.role, User.full_name)) if team else []
    return render_template("admin/team_form.html", form=form, team=team, members=members)


class FieldForm(Form):
    key = StringField()
    label_zh = StringField()
    label_en = StringField()
    kind = SelectField()
    choices = TextAreaField()
    business_models = SelectMultipleField()
    required = BooleanField()
    weight = IntegerField(default=0)
    position = IntegerField(default=0)

    LABELS = {"key": N_("Key (letters, digits, underscore)"), "label_zh": N_("Label in Chinese"),
              "label_en": N_("Label in English"), "kind": N_("Kind"), "choices": N_("Options (one per line)"),
              "business_models": N_("For business models"), "required": N_("Required"),
              "weight": N_("Weight toward completeness"), "position": N_("Position")}

    def __init__(self, formdata=None, field=None):
        super().__init__(formdata)
        for name, text in self.LABELS.items():
            self[name].label.text = _(text)
        self.kind.choices = [(k, label(CUSTOM_KIND_LABELS, k)) for k in CUSTOM_KINDS]
        self.business_models.choices = [(m, label(BUSINESS_MODEL_LABELS, m)) for m in BUSINESS_MODELS]
        if formdata is None and field is not None:
            for name in ("key", "label_zh", "label_en", "kind", "required", "weight", "position"):
                self[name].data = getattr(field, name)
            self.choices.data = "\n".join(field.choice_list())
            self.business_models.data = field.model_list()


@bp.get("/fields")
def fields():
    rows = list(CustomField.select().order_by(CustomField.active.desc(), CustomField.position, CustomField.id))
    return render_template("admin/fields.html", rows=rows, recomputing=pending_jobs().exists())


@bp.route("/fields/new", methods=["GET", "POST"])
@bp.route("/fields/<int:field_id>/edit", methods=["GET", "POST"])
def field_form(field_id=None):
    custom_field = CustomField.get_or_none(CustomField.id == field_id) if field_id else None
    if field_id and custom_field is None:
        abort(404)
    form = FieldForm(request.form if request.method == "POST" else None, custom_field)
    if request.method == "POST":
        data = _data()
        data["required"] = "required" in request.form
        data["business_models"] = request.form.getlist("business_models")
        data.pop("active", None)  # deactivating has its own button
        try:
            save_custom_field(current_user, data, custom_field)
        except ValidationError as exc:
            field_errors(exc, form)
        else:
            return hx.redirect(url_for("admin.fields"))
    return render_template("admin/field_form.html", form=form, custom_field=custom_field)


@bp.post("/fields/<int:field_id>/active")
def field_active(field_id):
    custom_field = CustomField.get_or_none(CustomField.id == field_id)
    if custom_field is None:
        abort(404)
    set_custom_field_active(current_user, custom_field, request.form.get("active") == "1")
    return hx.redirect(url_for("admin.fields"))


@bp.get("/audit")
def audit_log():
    require(current_user, "audit.view")
    kind = clip_text(request.args.get("kind"), 40)
    query = AuditEvent.select()
    if kind:
        query = query.where(AuditEvent.kind.startswith(kind))
    found = keyset_page(query, [AuditEvent.id], after=request.args.get("before"), limit=50, descending=True)
    rows = found.rows
    names = extend.load_names(rows)  # actors, customers and the people the sentences name
    return render_template("admin/audit.html", rows=rows, names=names, kind=kind,
                           next=found.next)
