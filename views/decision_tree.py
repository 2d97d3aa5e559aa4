"""The decision-maker tree over the web: a tab of the 360 page and a printable page; nodes are added,
edited and moved in place (htmx swaps the whole tree, so its warnings follow every change)."""
from flask import Blueprint, abort, render_template, request
from flask_login import current_user
from wtforms import SelectField, StringField

from models import decision_tree as tree
from models import job_changes
from models.customers import DECISION_ROLE_LABELS, DECISION_ROLES, Contact, get_customer
from models.errors import N_, ValidationError
from models.permissions import can, require
from views import extend
from views.forms import Form, error_line, field_errors
from views import htmx as hx
from views.i18n import gettext as _
from views.i18n import label, translate_error

bp = Blueprint("decision_tree", __name__, url_prefix="/customers")


class NodeForm(Form):
    name = StringField()
    title = StringField()
    department = StringField()
    decision_role = SelectField()
    influence = SelectField()
    attitude = SelectField()
    relationship = SelectField()
    reports_to_id = SelectField()

    LABELS = {"name": N_("Name"), "title": N_("Title"), "department": N_("Department"),
              "decision_role": N_("Decision role"), "influence": N_("Influence"), "attitude": N_("Attitude to us"),
              "relationship": N_("Relationship strength"), "reports_to_id": N_("Reports to")}

    def __init__(self, customer, formdata=None, contact=None, reports_to=None):
        super().__init__(formdata)
        for name, text in self.LABELS.items():
            self[name].label.text = _(text)
        self.decision_role.choices = [("", "—")] + [(k, label(DECISION_ROLE_LABELS, k)) for k in DECISION_ROLES]
        self.influence.choices = [("", "—")] + [(k, label(tree.INFLUENCE_LABELS, k)) for k in tree.INFLUENCES]
        self.attitude.choices = [("", "—")] + [(k, label(tree.ATTITUDE_LABELS, k)) for k in tree.ATTITUDES]
        self.relationship.choices = [(str(k), f"{k} · {label(tree.RELATIONSHIP_LABELS, k)}") for k in tree.RELATIONSHIPS]
        self.reports_to_id.choices = _boss_choices(customer, contact)
        if formdata is None and contact is not None:
            for name in ("name", "title", "department", "decision_role", "influence", "attitude"):
                self[name].data = getattr(contact, name)
            self.relationship.data = str(contact.relationship)
            self.reports_to_id.data = str(contact.reports_to_id or "")
        if formdata is None and contact is None and reports_to is not None:
            self.reports_to_id.data = str(reports_to)


def _boss_choices(customer, contact=None):
    q = Contact.select(Contact.id, Contact.name, Contact.title).where(
        (Contact.customer == customer) & (Contact.active == True))  # noqa: E712
    if contact is not None:
        q = q.where(Contact.id != contact.id)
    return [("", _("Nobody (top of the tree)"))] + [(str(c.id), f"{c.name} {c.title}".strip()) for c in q.order_by(Contact.id)]


def _load(customer_id, action="decision_tree.view"):
    customer = get_customer(customer_id)
    require(current_user, action, customer)
    return customer


def _contact(customer, contact_id):
    contact = Contact.get_or_none((Contact.id == contact_id) & (Contact.customer == customer))
    if contact is None:
        abort(404)
    return contact


def _texts(customer):
    """The tree's words, translated once per request rather than once per node."""
    from flask import url_for

    return {"role": {k: label(DECISION_ROLE_LABELS, k) for k in DECISION_ROLES},
            "influence": {k: label(tree.INFLUENCE_LABELS, k) for k in tree.INFLUENCES},
            "attitude": {k: label(tree.ATTITUDE_LABELS, k) for k in tree.ATTITUDES},
            "relationship": {k: label(tree.RELATIONSHIP_LABELS, k) for k in tree.RELATIONSHIPS},
            "role_unknown": _("Role unknown"), "influence_unknown": _("Influence unknown"),
            "attitude_unknown": _("Attitude unknown"), "relationship_word": _("Relationship"),
            "last_contact": _("Last contact"), "never": _("never"), "reached": _("reached by a valid follow-up"),
            "left": _("left"), "edit": _("Edit"), "add_report": _("Add report"), "move": _("Move…"),
            "edit_label": _("Edit"), "base": url_for("decision_tree.page", customer_id=customer.id) + "/nodes/"}


@extend.customer_tab("tree", N_("Decision tree"), "decision_tree/_tab.html", order=25,
                     visible=lambda user, customer: can(user, "decision_tree.view", customer))
def tree_context(customer, user, error=None, error_node=None):
    roots, nodes, warns = tree.build(customer)
    return {"roots": roots, "node_count": len(nodes),
            "earlier": job_changes.earlier_roles([n.contact for n in nodes.values()]),
            "warnings": [(key, translate_error(m, p)) for key, m, p in warns],
            "can_edit": can(user, "decision_tree.edit", customer), "tx": _texts(customer),
            "move_error": error, "error_node": error_node}


def _tree_response(customer, changed=True, **extra):
    followup_form = None
    if changed and can(current_user, "followup.create", customer):
        from views.customers import FollowUpForm
        followup_form = FollowUpForm(customer)
    return hx.fragment("decision_tree/_tree.html", target="#decision-tree", swap="outerHTML", customer=customer,
                       oob_followup_form=followup_form, **tree_context(customer, current_user, **extra))


@bp.get("/<int:customer_id>/tree")
def page(customer_id):
    """The tree alone: the fragment for htmx (cancel, refresh), else the printable page."""
    customer = _load(customer_id)
    if request.htmx:
        return render_template("decision_tree/_tree.html", customer=customer, **tree_context(customer, current_user))
    return render_template("decision_tree/page.html", customer=customer, **tree_context(customer, current_user))


@bp.route("/<int:customer_id>/tree/nodes/new", methods=["GET", "POST"])
@bp.route("/<int:customer_id>/tree/nodes/<int:contact_id>/edit", methods=["GET", "POST"])
def node_form(customer_id, contact_id=None):
    customer = _load(customer_id, "decision_tree.edit")
    contact = _contact(customer, contact_id) if contact_id is not None else None
    reports_to = request.args.get("reports_to", type=int)
    form = NodeForm(customer, request.form if request.method == "POST" else None, contact, reports_to)
    if request.method == "POST":
        try:
            tree.save_node(current_user, customer, {k: v for k, v in request.form.items() if k != "csrf_token"}, contact)
        except ValidationError as exc:
            field_errors(exc, form)
        else:
            return _tree_response(customer)
    return render_template("decision_tree/_node_form.html", customer=customer, contact=contact, form=form)


@bp.route("/<int:customer_id>/tree/nodes/<int:contact_id>/move", methods=["GET", "POST"])
def move(customer_id, contact_id):
    """GET: the small "reports to" form under the node; POST: the move, answered with the whole tree."""
    customer = _load(customer_id, "decision_tree.edit")
    contact = _contact(customer, contact_id)
    if request.method == "GET":
        return render_template("decision_tree/_move_form.html", customer=customer, contact=contact,
                               bosses=_boss_choices(customer, contact))
    try:
        tree.move_node(current_user, customer, contact, request.form.get("reports_to_id") or None)
    except ValidationError as exc:
        message = error_line(exc)
        return _tree_response(customer, changed=False, error=message, error_node=contact.id)
    return _tree_response(customer)


@extend.timeline("contact.tree_updated")
def describe(e):
    d = e.data or {}
    fields = ", ".join(_(NodeForm.LABELS.get(k, k)) for k in d.get("changes", {}))
    return _("updated %(name)s in the decision tree: %(fields)s", name=d.get("name", ""), fields=fields)


extend.template_globals(INFLUENCE_LABELS=tree.INFLUENCE_LABELS, ATTITUDE_LABELS=tree.ATTITUDE_LABELS,
                        RELATIONSHIP_LABELS=tree.RELATIONSHIP_LABELS)
