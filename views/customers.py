"""Customer files over the web: the list, the 360° page, and the forms for customers, contacts,
follow-ups and stage changes. Rules live in models/; this module maps requests to verbs."""
from decimal import Decimal, InvalidOperation

from flask import Blueprint, abort, flash, make_response, render_template, request, url_for
from flask_login import current_user
from wtforms import DateField, DateTimeLocalField, SelectField, StringField, TextAreaField

from models import audit, db, listing, pools
from models.customers import (BUSINESS_MODEL_LABELS, BUSINESS_MODELS, CHANNEL_LABELS, CHANNELS, COMPLETENESS_FIELDS,
                              DECISION_ROLE_LABELS, DECISION_ROLES, FOLLOWUP_TYPE_LABELS, FOLLOWUP_TYPES,
                              CUSTOM_KIND_LABELS, PROFILE_FIELDS, SIZE_LABELS, SIZES, SOURCE_LABELS, SOURCES, STAGE_LABELS,
                              STAGES, YES_NO_LABELS, Contact, CustomField, CustomerGroup, Industry, active_custom_fields,
                              change_stage, check_customer_field, completeness_parts, contacts_of, create_customer, custom_values,
                              followup_validity, followups_of, get_customer, log_follow_up, save_contact, update_customer)
from models.base import kept_select, row_by_id
from models.fields import normalize_phone, parse_date, parse_id
from models.duplicates import REASON_LABELS, find_matches, normalize_name
from models.errors import N_, DomainError, NotFound, ValidationError
from models.permissions import SELLERS, acting_user, can, require
from models.users import Region, Team, User
from views import extend
from views import htmx as hx
from views.forms import Form, error_line, field_errors
from views.i18n import gettext as _
from views.i18n import fmt_date, fmt_number, label, locale_code, translate_error

bp = Blueprint("customers", __name__, url_prefix="/customers")


# ---- forms (WTForms renders and coerces; models/customers.py validates) ------------------------

def _choices(keys, labels, blank=True):
    out = [("", "—")] if blank else []
    return out + [(k, label(labels, k)) for k in keys]


def _stage_choices(customer, user=None):
    """The stages the user may move the customer to (its own stage always shown, as the menu's current value)."""
    user = user or acting_user(current_user)
    return [(k, label(STAGE_LABELS, k)) for k in STAGES if k == customer.stage or can(user, "customer.set_stage", k)]


# The profile's inputs come from the one field list (models.customer_tables.PROFILE_FIELDS).
_ProfileForm = type("_ProfileForm", (Form,), {f.form: SelectField() if f.kind == "choice" else StringField()
                                              for f in PROFILE_FIELDS})


class CustomerForm(_ProfileForm):
    owner_id = SelectField()
    stage = SelectField()
    duplicate_reason = StringField()

    LABELS = {**{f.form: f.label for f in PROFILE_FIELDS}, "owner_id": N_("Owner"), "stage": N_("Stage"),
              "duplicate_reason": N_("Why is this a different customer?")}

    def __init__(self, formdata=None, customer=None, actor=None):
        super().__init__(formdata)
        loc = locale_code()
        for name, text in self.LABELS.items():
            self[name].label.text = _(text)
        self.industry_id.choices = [("", "—")] + [
            (str(i.id), i.label(loc)) for i in Industry.select().where(Industry.active == True).order_by(Industry.id)]  # noqa: E712
        self.region_id.choices = [("", "—")] + [(str(r.id), r.label(loc)) for r in Region.select().order_by(Region.id)]
        self.size.choices = _choices(SIZES, SIZE_LABELS)
        self.business_model.choices = _choices(BUSINESS_MODELS, BUSINESS_MODEL_LABELS, blank=False)
        self.source.choices = _choices(SOURCES, SOURCE_LABELS, blank=False)
        self.first_channel.choices = _choices(CHANNELS, CHANNEL_LABELS)
        stages = STAGES if actor is None or can(actor, "customer.any_stage") else ("unidentified", "prospect")
        self.stage.choices = _choices(stages, STAGE_LABELS, blank=False)
        owners = User.holding(*SELLERS, fields=(User.id, User.full_name))
        if actor is not None and not can(actor, "customer.choose_any_owner"):
            owners = owners.where(User.team == actor.team_id)
        self.owner_id.choices = [("", _("Nobody (unowned)"))] + [(str(u.id), u.full_name) for u in owners.order_by(User.full_name)] \
            if actor is not None and can(actor, "customer.choose_owner") else []
        if formdata is None and customer is not None:
            for f in PROFILE_FIELDS:
                if f.column not in ("industry_id", "region_id", "tags", "group_id"):  # those four below
                    self[f.form].data = getattr(customer, f.column) or ""
            self.industry_id.data = str(customer.industry_id or "")
            self.region_id.data = str(customer.region_id or "")
            self.tags.data = "，".join(customer.tag_list()) if loc.startswith("zh") else ", ".join(customer.tag_list())
            self.group_name.data = customer.group.name if customer.group_id else ""
        if formdata is None and customer is None:
            self.business_model.data = "consumer"
            self.source.data = "rep_developed" if actor is not None and can(actor, "customer.creates_own") else "website"
            self.stage.data = "unidentified" if actor is not None and not can(actor, "customer.any_stage") else "target"
            if actor is not None and can(actor, "customer.choose_owner") and not can(actor, "customer.choose_any_owner"):
                self.owner_id.data = str(actor.id)


class ContactForm(Form):
    name = StringField()
    title = StringField()
    department = StringField()
    mobile = StringField()
    phone = StringField()
    email = StringField()
    wechat = StringField()
    decision_role = SelectField()
    reports_to_id = SelectField()

    LABELS = {"name": N_("Name"), "title": N_("Title"), "department": N_("Department"), "mobile": N_("Mobile"),
              "phone": N_("Office phone"), "email": N_("E-mail"), "wechat": N_("WeChat"), "decision_role": N_("Decision role"),
              "reports_to_id": N_("Reports to")}

    def __init__(self, customer, formdata=None, contact=None):
        super().__init__(formdata)
        for name, text in self.LABELS.items():
            self[name].label.text = _(text)
        self.decision_role.choices = _choices(DECISION_ROLES, DECISION_ROLE_LABELS)
        others = Contact.select(Contact.id, Contact.name, Contact.title).where(Contact.customer == customer)
        if contact is not None:
            others = others.where(Contact.id != contact.id)
        self.reports_to_id.choices = [("", "—")] + [(str(c.id), f"{c.name} {c.title}".strip()) for c in others]
        if formdata is None and contact is not None:
            for name in ("name", "title", "department", "mobile", "phone", "email", "wechat", "decision_role"):
                self[name].data = getattr(contact, name)
            self.reports_to_id.data = str(contact.reports_to_id or "")


class FollowUpForm(Form):
    type = SelectField()
    at = DateTimeLocalField(format="%Y-%m-%dT%H:%M")
    contact_id = SelectField()
    content = TextAreaField()
    outcome = StringField()
    next_step = StringField()
    next_date = DateField()

    LABELS = {"type": N_("Type"), "at": N_("When"), "contact_id": N_("Contact reached"), "content": N_("What happened"),
              "outcome": N_("Outcome"), "next_step": N_("Next step"), "next_date": N_("Next step date")}

    def __init__(self, customer, formdata=None, contacts=None):
        """`contacts`: the customer's contacts when the page has read them (else one query)."""
        super().__init__(formdata)
        for name, text in self.LABELS.items():
            self[name].label.text = _(text)
        self.type.choices = _choices(FOLLOWUP_TYPES, FOLLOWUP_TYPE_LABELS, blank=False)
        if contacts is None:
            contacts = Contact.select(Contact.id, Contact.name, Contact.title, Contact.active).where(
                (Contact.customer == customer) & (Contact.active == True))  # noqa: E712
        self.contact_id.choices = [("", "—")] + [
            (str(c.id), f"{c.name} {c.title}".strip()) for c in sorted(contacts, key=lambda c: c.id) if c.active]
        if formdata is None:
            self.type.data = "call"


def _raw(form_data):
    return {k: v for k, v in form_data.items() if k != "csrf_token"}


def custom_value_text(cf, value):
    """A stored custom value as the reader's language shows it."""
    if not value:
        return ""
    if cf.kind == "yes_no":
        return label(YES_NO_LABELS, value)
    if cf.kind == "date":
        try:
            return fmt_date(parse_date(value))
        except ValueError:
            return value
    if cf.kind == "number":
        try:
            return fmt_number(Decimal(value))
        except InvalidOperation:
            return value
    return value


def _load(customer_id, action="customer.view"):
    """The customer the route works on, if the user may (else 404); opening a pool customer's file
    through any of its routes counts against the daily pool-view limit."""
    customer = get_customer(customer_id)
    require(current_user, action, customer)
    count_pool_view(customer)
    return customer


def count_pool_view(customer):
    """Every route that shows part of a pool customer's file (the 360 page plain or htmx, its tabs,
    timeline and follow-up rows, documents, forms, cards) calls this after its permission check: the
    first of them each day counts one view, the others are free, and over the limit all of them refuse
    (DomainError: 409, or a toast for htmx)."""
    pools.record_pool_view(current_user, customer)


# ---- list ---------------------------------------------------------------------------------------

@bp.get("")
def index():
    user = acting_user(current_user)  # the user itself: the list's scope reads it ~40 times
    f = listing.Filters.parse(request.args, user)
    result = listing.page(user, f, after=request.args.get("after"), before=request.args.get("before"))
    fragment = request.htmx and not request.htmx.boosted  # the results alone: no filter form to fill
    context = dict(f=f, page=result, filter_options=None if fragment else _filter_options(f))
    return hx.fragment_or_page("customers/_results.html", "customers/index.html", **context)


def _filter_options(f):
    loc = locale_code()
    options = {
        "stages": _choices(STAGES, STAGE_LABELS),
        "business_models": _choices(BUSINESS_MODELS, BUSINESS_MODEL_LABELS),
        "sources": _choices(SOURCES, SOURCE_LABELS),
        "regions": [("", "—")] + [(str(r.id), r.label(loc)) for r in kept_select(
            "regions", lambda: Region.select().order_by(Region.id))],
        "industries": [("", "—")] + [(str(i.id), i.label(loc)) for i in kept_select(
            "industries", lambda: Industry.select().order_by(Industry.id))],
        "scopes": [(s, {"mine": _("Mine"), "team": _("My team"), "all": _("All I may see")}[s])
                   for s in listing.SCOPES if s != "team" or current_user.team_id],
        "owners": [], "teams": [],
    }
    # The owner filter is a type-ahead person picker (views/pickers.py, field "owner": the same people).
    options["owners"] = can(current_user, "team.leads_one") or can(current_user, "customer.filter_any_owner")
    picked = User.get_or_none(User.id == f.owner) if options["owners"] and f.owner else None
    options["owner_pick"] = (picked.id, picked.full_name) if picked else None
    if not can(current_user, "team.leads_one") and can(current_user, "customer.filter_any_owner"):
        options["teams"] = [("", "—")] + [(str(t.id), t.name) for t in Team.select().order_by(Team.name)]
    return options


# ---- create / edit ----------------------------------------------------------------------------

@bp.route("/new", methods=["GET", "POST"])
def new():
    require(current_user, "customer.create")
    form = CustomerForm(request.form if request.method == "POST" else None, actor=current_user)
    if request.method == "POST":
        try:
            with db.atomic():
                customer = create_customer(current_user, _raw(request.form))
        except ValidationError as exc:
            field_errors(exc, form)
        else:
            return hx.redirect(url_for("customers.show", customer_id=customer.id, created=1))
    return _form_response(form, None)


@bp.route("/<int:customer_id>/edit", methods=["GET", "POST"])
def edit(customer_id):
    customer = _load(customer_id, "customer.edit")
    form = CustomerForm(request.form if request.method == "POST" else None, customer=customer, actor=current_user)
    if request.method == "POST":
        try:
            update_customer(current_user, customer, _raw(request.form))
        except ValidationError as exc:
            field_errors(exc, form)
        else:
            return hx.redirect(url_for("customers.show", customer_id=customer.id))
    return _form_response(form, customer)


def _custom_form_context(customer, data=None):
    """The custom fields of the form's business model, with what is typed (or stored) in them."""
    business_model = (data or {}).get("business_model") or (customer.business_model if customer else "consumer")
    if data is None:
        values = {"custom_" + k: v for k, v in (custom_values([customer.id])[customer.id] if customer else {}).items()}
    else:
        values = {k: v for k, v in data.items() if k.startswith("custom_")}
    return dict(custom_fields=active_custom_fields(business_model), custom_values=values)


def _form_response(form, customer):
    context = dict(form=form, customer=customer,
                   **_custom_form_context(customer, request.form if request.method == "POST" else None),
                   custom_errors={k: v for k, v in getattr(form, "custom_errors", {}).items()},
                   **(_duplicates_context(request.form, customer, form) if request.method == "POST" else {"dup": None}))
    if request.htmx and request.method == "POST":
        return render_template("customers/_form.html", **context)
    return render_template("customers/form.html", **context)


@bp.post("/custom-fields")
def custom_fieldset():
    """The custom fields again when the business model changes on the form (what was typed stays)."""
    customer = None
    if request.form.get("customer_id"):
        customer = _load(request.form["customer_id"], "customer.edit")
    else:
        require(current_user, "customer.create")
    return render_template("customers/_custom_fields.html", customer=customer, custom_errors={},
                           **_custom_form_context(customer, request.form))


@bp.post("/check/<field>")
def check_field(field):
    """Inline validation of one field while the user types (the same rules as on save)."""
    customer = None
    if request.form.get("customer_id"):
        customer = _load(request.form["customer_id"], "customer.edit")
    message = ""
    try:
        check_customer_field(field, _raw(request.form), customer)
    except ValidationError as exc:
        message = error_line(exc)
    return render_template("_field_error.html", field_id=field, message=message)


def _duplicates_context(data, customer, form=None):
    """The matches for the name, phone and credit code being typed, and whether saving needs a reason."""
    found = find_matches(current_user, name=data.get("name"), phone=data.get("phone"),
                         credit_code=data.get("credit_code"), exclude_id=customer.id if customer else None,
                         group=data.get("group_name"))
    loc = locale_code()
    matches = []
    for m in found:
        if m.owner:
            where = _("Owned by %(name)s", name=m.owner)
        elif m.pool is not None:
            where = _("In the public pool %(pool)s", pool=m.pool.label(loc))
        else:
            where = _("A marketing lead, not yet with a rep")
        if m.sibling:
            where += " · " + _("another entity of the group %(group)s", group=m.group)
        elif m.group:
            where += " · " + _("group %(group)s", group=m.group)
        matches.append(dict(id=m.id, name=m.name, can_view=m.can_view, where=where,
                            why=" · ".join(label(REASON_LABELS, r) for r in m.reasons),
                            dispute=m.owner_id is not None and m.owner_id != current_user.id
                            and can(current_user, "conflict.dispute")))  # a conflict case (撞单)
    needs_reason = any(m.needs_reason for m in found)
    if customer is not None and needs_reason:  # on edit only a changed name or phone asks for a reason
        phone = (data.get("phone") or "").strip()
        needs_reason = not (normalize_name(data.get("name") or "") == customer.name_norm
                            and (normalize_phone(phone) if phone else "") == customer.phone_norm)
    reason_error = " ".join(form.duplicate_reason.errors) if form is not None and form.duplicate_reason.errors else ""
    # A conflict case starts from this warning: its link carries what the check ran on, and the
    # conflict form runs the check again before it shows anything (models.conflicts.disputable).
    dispute_args = {k: (data.get(k) or "").strip()[:200] for k in ("name", "phone", "credit_code") if data.get(k)}
    if customer is not None:
        dispute_args["via"] = customer.id
        if customer.owner_id == current_user.id:
            dispute_args["own"] = customer.id
    return {"dup": dict(matches=matches, dispute_args=dispute_args, needs_reason=needs_reason, blocked=any("credit_code" in m.reasons for m in found),
                        reason=data.get("duplicate_reason") or "", reason_error=reason_error,
                        reason_label=label(CustomerForm.LABELS, "duplicate_reason"))}


@bp.post("/duplicates")
def duplicates():
    """While the user types the name, phone or credit code: the customers this one may duplicate.
    Each match says why and where it is (owner, pool or marketing lead), never its details; a link
    only where the user may open it."""
    customer = None
    if request.form.get("customer_id"):
        customer = _load(request.form["customer_id"], "customer.edit")
    else:
        require(current_user, "customer.create")
    return render_template("customers/_duplicates.html", **_duplicates_context(request.form, customer))


# ---- the 360 page ----------------------------------------------------------------------------

TABS = ("timeline", "followups", "contacts")  # then the tabs other domains register (views.extend)


@bp.get("/<int:customer_id>")
def show(customer_id):
    try:
        customer = _load(customer_id)
    except NotFound:
        for gone_page in extend.gone_pages():  # a merged-away id says where it went instead of a bare 404
            page = gone_page(customer_id)
            if page is not None:
                return page
        raise
    user = acting_user(current_user)  # the user itself: the page asks ~70 permission checks of it
    extra_tabs = extend.customer_tabs(user, customer)
    wanted = request.args.get("tab")
    tab = wanted if wanted in TABS or wanted in {t.key for t in extra_tabs} else "timeline"
    contacts = contacts_of(customer.id)
    context = dict(customer=customer, tab=tab, contacts=contacts, **_tab_context(customer, tab))
    context.update(extra_tabs=extra_tabs, tab_template=f"customers/_tab_{tab}.html" if tab in TABS
                   else extend.customer_tab_named(tab).template)
    if request.htmx and request.args.get("tab"):
        return render_template(context["tab_template"], **context)
    owner = _owner(customer)
    custom_fields = active_custom_fields(customer.business_model)
    values = custom_values([customer.id])[customer.id]
    parts = completeness_parts(customer, [c for c in contacts if c.active], values, custom_fields)
    context.update(side_panels=extend.side_cards(customer, user))
    loc = locale_code()
    context.update(
        owner=owner, parts=parts, stage_choices=_stage_choices(customer, user),
        stage_limited=not all(can(user, "customer.set_stage", s) for s in STAGES),
        followup_form=FollowUpForm(customer, contacts=contacts),
        industry=row_by_id(Industry, customer.industry_id) if customer.industry_id else None,
        region=row_by_id(Region, customer.region_id) if customer.region_id else None,
        group=row_by_id(CustomerGroup, customer.group_id) if customer.group_id else None,
        custom_fields=[(cf, custom_value_text(cf, values.get(cf.key))) for cf in custom_fields], loc=loc,
        created=request.args.get("created"),
    )
    return render_template("customers/show.html", **context)


def _owner(customer):
    """The owner, from the people the timeline named (its sentences name the owner as a rule), else read."""
    if not customer.owner_id:
        return None
    people = extend.names().people
    if customer.owner_id in people:
        return people[customer.owner_id]
    return User.get_or_none(User.id == customer.owner_id)


def _tab_context(customer, tab):
    if tab == "timeline":
        return {"events": _timeline_page(customer)}
    if tab == "followups":
        return {"followups": _followup_page(customer)}
    if tab in TABS:
        return {}
    return extend.customer_tab_named(tab).context(customer, current_user)


def _timeline_page(customer, before=None):
    found = audit.timeline(customer.id, before=before, limit=20)
    events = found.rows
    names = extend.load_names(events, known=[customer])  # actors and the people the sentences name: one query
    for e in events:
        e.actor_name = names.full_name(e.actor_id)
        if (e.data or {}).get("acting_for_name"):  # a delegate's row (工作代理)
            e.actor_name = _("%(who)s, acting for %(name)s", who=e.actor_name, name=e.data["acting_for_name"])
    return {"rows": events, "next": found.next}


def _followup_page(customer, before=None):
    found = followups_of(customer, before=before, limit=20)
    return {"rows": found.rows, "next": found.next}


@bp.get("/<int:customer_id>/timeline")
def timeline(customer_id):
    customer = _load(customer_id)
    return render_template("customers/_timeline_rows.html", customer=customer,
                           events=_timeline_page(customer, request.args.get("before")))


@bp.get("/<int:customer_id>/followups")
def followups(customer_id):
    customer = _load(customer_id)
    return render_template("customers/_followup_rows.html", customer=customer,
                           followups=_followup_page(customer, request.args.get("before")))


# ---- stage, contacts, follow-ups -------------------------------------------------------------

@bp.post("/<int:customer_id>/stage")
def stage(customer_id):
    customer = _load(customer_id, "customer.change_stage")
    try:
        change_stage(current_user, customer, request.form.get("stage", ""), request.form.get("reason", ""))
    except DomainError as exc:
        return hx.toast(translate_error(exc.message, exc.params), 409) if request.htmx else abort(409)
    fresh = get_customer(customer.id)
    if not can(current_user, "customer.view", fresh):
        # Marketing qualified its lead: it went to the pool, out of marketing's sight. Say where.
        pool = fresh.pool.label(locale_code()) if fresh.pool_id else ""
        flash(_("%(name)s is qualified and went to %(pool)s, where sales can claim it.", name=fresh.name, pool=pool))
        return hx.redirect(url_for("customers.index"))
    return hx.redirect(url_for("customers.show", customer_id=customer.id))


@bp.route("/<int:customer_id>/contacts/new", methods=["GET", "POST"])
@bp.route("/<int:customer_id>/contacts/<int:contact_id>/edit", methods=["GET", "POST"])
def contact_form(customer_id, contact_id=None):
    customer = _load(customer_id, "customer.edit")
    contact = None
    if contact_id is not None:
        contact = Contact.get_or_none((Contact.id == contact_id) & (Contact.customer == customer))
        if contact is None:
            abort(404)
    form = ContactForm(customer, request.form if request.method == "POST" else None, contact)
    if request.method == "POST":
        data = _raw(request.form)
        if contact is not None and "active" in request.form:
            data["active"] = "1" if "1" in request.form.getlist("active") else "0"
        try:
            save_contact(current_user, customer, data, contact)
        except ValidationError as exc:
            field_errors(exc, form)
        else:
            if request.htmx:
                return hx.fragment(
                    "customers/_tab_contacts.html", "customerChanged", target="#tab-body", customer=customer,
                    contacts=contacts_of(customer.id),
                    contact_form=ContactForm(customer), saved=True,
                    followup_form=FollowUpForm(customer) if can(current_user, "followup.create", customer) else None)
            return hx.redirect(url_for("customers.show", customer_id=customer.id, tab="contacts"))
    template = "customers/_contact_form.html" if request.htmx else "customers/contact_page.html"
    return render_template(template, customer=customer, contact=contact, contact_form=form)


@bp.post("/<int:customer_id>/followups/new")
def followup_new(customer_id):
    customer = _load(customer_id, "followup.create")
    form = FollowUpForm(customer, request.form)
    try:
        log_follow_up(current_user, customer, _raw(request.form))
    except ValidationError as exc:
        field_errors(exc, form)
        return render_template("customers/_followup_form.html", customer=customer, followup_form=form)
    if not request.htmx:
        return hx.redirect(url_for("customers.show", customer_id=customer.id, tab="followups"))
    response = make_response(render_template("customers/_followup_form.html", customer=customer,
                                             followup_form=FollowUpForm(customer), saved=True))
    return hx.trigger(response, "customerChanged")


FIELD_LABELS = {**CustomerForm.LABELS, **{k: v for k, v in ContactForm.LABELS.items() if k not in CustomerForm.LABELS},
                **{f.column: f.label for f in PROFILE_FIELDS}, "custom": N_("More about the customer"), "active": N_("Still at the company"),
                "reports_to": N_("Reports to")}
COMPLETENESS_LABELS = {"contacts": N_("At least one contact"), "decision_maker": N_("A decision maker among the contacts"),
                       "key_contact_phone": N_("A phone number for the decision maker or buyer"), "group": N_("Group (集团)"),
                       "industry": N_("Industry"), "region": N_("Region")}


def field_label(name):
    if name.startswith("custom_") and name not in FIELD_LABELS:
        return completeness_label(name)
    return FIELD_LABELS.get(name, FIELD_LABELS.get(name + "_id", name))


def completeness_label(name):
    if name.startswith("custom_"):
        cf = CustomField.get_or_none(CustomField.key == name[7:])
        return cf.label(locale_code()) if cf else name
    return COMPLETENESS_LABELS.get(name) or COMPLETENESS_FIELDS.get(name) or field_label(name)


@extend.timeline("customer.", "followup.", "contact.")
def describe(e):
    """The customer file's own audit rows as sentences (views.extend.describe_event asks every domain)."""
    d = e.data or {}
    if e.kind == "customer.created":
        return _("created the customer file (stage: %(stage)s)", stage=label(STAGE_LABELS, d.get("stage")))
    if e.kind == "customer.updated":
        return _("edited %(n)s field(s)", n=len(d.get("changes", {})))
    if e.kind == "customer.stage_changed":
        text = _("promoted the customer from %(a)s to %(b)s") if d.get("direction") == "promoted" else \
            _("moved the customer back from %(a)s to %(b)s")
        text = text % {"a": label(STAGE_LABELS, d.get("from_stage")), "b": label(STAGE_LABELS, d.get("to_stage"))}
        return text + (" — " + d["reason"] if d.get("reason") else "")
    if e.kind == "customer.owner_changed":
        return _("changed the owner from %(a)s to %(b)s", a=d.get("from_owner") or _("nobody"),
                 b=d.get("to_owner") or _("nobody")) + (" — " + d["reason"] if d.get("reason") else "")
    if e.kind == "followup.logged":
        return _("logged a follow-up (%(type)s)", type=label(FOLLOWUP_TYPE_LABELS, d.get("type")))
    if e.kind == "contact.added":
        return _("added the contact %(name)s", name=(d.get("name", "") + " " + d.get("title", "")).strip())
    if e.kind == "contact.updated":
        fields = ", ".join(_(field_label(k)) for k in d.get("changes", {}))
        return _("updated the contact %(name)s: %(fields)s", name=d.get("name", ""), fields=fields)
    return None


@bp.post("/<int:customer_id>/followups/check")
def followup_check(customer_id):
    """While the rep types: will this follow-up count as valid, and if not, why not."""
    customer = _load(customer_id, "followup.create")
    data = _raw(request.form)
    try:
        from models.customers import validate_followup
        values = validate_followup(customer, data, draft=True)
    except ValidationError:
        return render_template("customers/_followup_validity.html", valid=None, reasons=[])
    values["content"] = data.get("content") or ""
    valid, reasons = followup_validity(customer, values)
    return render_template("customers/_followup_validity.html", valid=valid,
                           reasons=[translate_error(m, _type_labels(p)) for m, p in reasons])


def _type_labels(params):
    """Follow-up type keys in a validity reason ("call", "visit, call") as their labels."""
    if "type" not in params:
        return params
    return {**params, "type": label(FOLLOWUP_TYPE_LABELS, params["type"]),
            "types": ", ".join(label(FOLLOWUP_TYPE_LABELS, t) for t in str(params.get("types", "")).split(", ") if t)}


extend.template_globals(
    STAGE_LABELS=STAGE_LABELS, STAGES=STAGES, BUSINESS_MODEL_LABELS=BUSINESS_MODEL_LABELS, SOURCE_LABELS=SOURCE_LABELS,
    CHANNEL_LABELS=CHANNEL_LABELS, SIZE_LABELS=SIZE_LABELS, DECISION_ROLE_LABELS=DECISION_ROLE_LABELS,
    FOLLOWUP_TYPE_LABELS=FOLLOWUP_TYPE_LABELS, field_label=field_label, completeness_label=completeness_label,
    CUSTOM_KIND_LABELS=CUSTOM_KIND_LABELS, YES_NO_LABELS=YES_NO_LABELS)
