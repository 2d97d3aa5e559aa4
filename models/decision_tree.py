"""The decision-maker tree (决策树): a customer's contacts in their reports-to hierarchy, each with a
decision role, influence, attitude to us and relationship strength, and the warnings a rep should act
on (no decision maker reached by a valid follow-up; an opponent with high influence).

Contacts are written through models.customers.save_contact (its validation, audit and completeness);
this module adds the tree's own columns and the move verb with a readable cycle refusal.
"""
import peewee as pw

from models import audit, clock
from models import job_changes
from models.base import db, fresh
from models.customers import Contact, FollowUp, save_contact, validate_contact
from models.fields import int_or_none
from models.errors import N_, NotFound, ValidationError, FieldErrors
from models.permissions import require

INFLUENCES = ("high", "medium", "low")
INFLUENCE_LABELS = {"high": N_("High influence"), "medium": N_("Medium influence"), "low": N_("Low influence")}
ATTITUDES = ("supporter", "neutral", "opponent")
ATTITUDE_LABELS = {"supporter": N_("Supporter"), "neutral": N_("Neutral"), "opponent": N_("Opponent")}
RELATIONSHIPS = range(0, 6)  # 0 unknown, 1 weak … 5 strong
RELATIONSHIP_LABELS = {0: N_("Not yet known"), 1: N_("Very weak"), 2: N_("Weak"), 3: N_("Fair"), 4: N_("Good"),
                       5: N_("Strong")}
CONTACT_FIELDS = ("name", "title", "department", "mobile", "phone", "email", "wechat", "decision_role")
MAX_NODES = 500  # a tree is drawn whole; beyond this the contacts tab is the place


class Node:
    """One contact in the drawn tree, with its children and last contact."""

    def __init__(self, contact):
        self.contact = contact
        self.children = []
        self.last_contact_at = None
        self.reached_validly = False

    @property
    def id(self):
        return self.contact.id


def build(customer):
    """(roots, nodes_by_id, warnings) in three queries: contacts, their follow-up summary, nothing per node."""
    contacts = list(Contact.select().where(Contact.customer == customer)
                    .order_by(Contact.active.desc(), Contact.id).limit(MAX_NODES))
    nodes = {c.id: Node(c) for c in contacts}
    if nodes:
        summary = (FollowUp.select(FollowUp.contact, pw.fn.MAX(FollowUp.at),
                                   pw.fn.MAX(pw.Case(None, [(FollowUp.is_valid == True, 1)], 0)))  # noqa: E712
                   .where((FollowUp.customer == customer) & FollowUp.contact.is_null(False))
                   .group_by(FollowUp.contact).tuples())
        for contact_id, last_at, valid in summary:
            node = nodes.get(contact_id)
            if node is not None:
                node.last_contact_at, node.reached_validly = last_at, bool(valid)
    roots = []
    for node in nodes.values():
        boss = nodes.get(node.contact.reports_to_id)
        if boss is not None and boss is not node:
            boss.children.append(node)
        else:
            roots.append(node)
    # A cycle written before the refusal existed would leave nodes unreachable: show them as roots.
    reached = set()
    stack = list(roots)
    while stack:
        n = stack.pop()
        if n.id in reached:
            continue
        reached.add(n.id)
        stack.extend(n.children)
    for node in nodes.values():
        if node.id not in reached:
            roots.append(node)
            node.children = []
    return roots, nodes, warnings(nodes.values())


def warnings(nodes):
    """[(message, params)]: what the rep should act on in this tree."""
    active = [n for n in nodes if n.contact.active]
    out = []
    makers = [n for n in active if n.contact.decision_role == "decision_maker"]
    if not makers:
        out.append(("no_decision_maker", N_("No decision maker identified yet: who signs off?"), {}))
    elif not any(n.reached_validly for n in makers):
        out.append(("decision_maker_not_reached",
                    N_("No decision maker has been reached by a valid follow-up (%(names)s)."),
                    {"names": "、".join(n.contact.name for n in makers)}))
    for c in job_changes.gaps([n.contact for n in nodes], clock.now()):
        out.append(("left_gap",
                    N_("%(name)s (%(role)s) left for %(company)s on %(date)s: nobody holds the role since — "
                       "who decides now?"),
                    {"name": c.name, "role": c.title or c.decision_role, "company": c.moved_company or "?",
                     "date": clock.to_local(c.left_at).strftime("%Y-%m-%d")}))
    for n in active:
        if n.contact.attitude == "opponent" and n.contact.influence == "high":
            out.append(("opponent_high_influence",
                        N_("%(name)s opposes us and has high influence: plan how to win them over or limit it."),
                        {"name": n.contact.name}))
    return out


def _tree_fields(data, e, contact=None):
    out = {}
    influence = (data.get("influence") or "").strip()
    if influence and influence not in INFLUENCES:
        e.add("influence", N_("Choose one of the options."))
    attitude = (data.get("attitude") or "").strip()
    if attitude and attitude not in ATTITUDES:
        e.add("attitude", N_("Choose one of the options."))
    raw = str(data.get("relationship") or "0").strip()
    relationship = int_or_none(raw)
    if relationship is None or relationship not in RELATIONSHIPS:
        e.add("relationship", N_("Choose one of the options."))
        relationship = 0
    out.update(influence=influence, attitude=attitude, relationship=relationship)
    return out


def _cycle_error(contact, boss):
    """A readable refusal if `boss` is `contact` or already reports (directly or not) to it."""
    if boss.id == contact.id:
        return N_("%(name)s cannot report to themselves."), {"name": contact.name}
    seen, node = set(), boss
    while node is not None and node.id not in seen:
        if node.reports_to_id == contact.id:
            return (N_("%(boss)s already reports to %(name)s (directly or through others): that would make a "
                       "reporting cycle."), {"boss": boss.name, "name": contact.name})
        seen.add(node.id)
        node = Contact.get_or_none(Contact.id == node.reports_to_id) if node.reports_to_id else None
    return None


def save_node(actor, customer, data, contact=None):
    """Add or edit a contact in the tree: the contact's fields (through save_contact) and the tree's
    (influence, attitude, relationship), all validated before anything is written. Fields the form does
    not send keep the values the contact has when the write lock is taken, not the page's copy."""
    with db.atomic():
        if contact is not None:
            fresh(contact)
        return _save_node(actor, customer, data, contact)


def _save_node(actor, customer, data, contact):
    require(actor, "decision_tree.edit", customer)
    if contact is not None and contact.customer_id != customer.id:
        raise NotFound()
    base = {f: getattr(contact, f) for f in CONTACT_FIELDS} if contact is not None else {}
    base["reports_to_id"] = str(contact.reports_to_id or "") if contact is not None else ""
    for f in CONTACT_FIELDS + ("reports_to_id",):
        if f in data:
            base[f] = data[f]
    e = FieldErrors()
    tree = _tree_fields(data if any(k in data for k in ("influence", "attitude", "relationship")) or contact is None
                        else {"influence": contact.influence, "attitude": contact.attitude,
                              "relationship": contact.relationship}, e)
    if contact is not None and base.get("reports_to_id"):
        boss = Contact.get_or_none((Contact.id == (int_or_none(base["reports_to_id"]) or 0))
                                   & (Contact.customer == customer))
        if boss is not None:
            problem = _cycle_error(contact, boss)
            if problem:
                e.add("reports_to_id", problem[0], **problem[1])
    try:
        validate_contact(customer, base, contact)
    except ValidationError as exc:
        for field, problems in exc.errors.items():
            if field in e:  # our clearer cycle message already says it
                continue
            for message, params in problems:
                e.add(field, message, **params)
    e.raise_if_any()
    with db.atomic():
        contact = save_contact(actor, customer, base, contact)
        changes = {k: [getattr(contact, k), v] for k, v in tree.items() if getattr(contact, k) != v}
        if changes:
            Contact.update(**{k: tree[k] for k in changes}).where(Contact.id == contact.id).execute()
            for k in changes:
                setattr(contact, k, tree[k])
            audit.record("contact.tree_updated", actor, customer, contact_id=contact.id, name=contact.name,
                         changes=changes)
    return contact


def move_node(actor, customer, contact, boss_id):
    """Change whom a contact reports to (None: the top of the tree). A cycle is refused with a message
    naming both people; nothing is written. The contact's other fields are sent as they are now."""
    with db.atomic():
        return _move_node(actor, customer, fresh(contact), boss_id)


def _move_node(actor, customer, contact, boss_id):
    require(actor, "decision_tree.edit", customer)
    if contact.customer_id != customer.id:
        raise NotFound()
    boss = None
    if boss_id not in (None, ""):
        boss = Contact.get_or_none((Contact.id == (int_or_none(boss_id) or 0)) & (Contact.customer == customer))
        if boss is None:
            raise ValidationError({"reports_to_id": [(N_("Choose a contact of this customer."), {})]})
        problem = _cycle_error(contact, boss)
        if problem:
            raise ValidationError({"reports_to_id": [problem]})
    if (boss.id if boss else None) == contact.reports_to_id:
        return contact
    data = {f: getattr(contact, f) for f in CONTACT_FIELDS}
    data["reports_to_id"] = str(boss.id) if boss else ""
    return save_contact(actor, customer, data, contact)


def last_contacted(customer):
    """{contact_id: last follow-up time} (for other views)."""
    return dict(FollowUp.select(FollowUp.contact, pw.fn.MAX(FollowUp.at))
                .where((FollowUp.customer == customer) & FollowUp.contact.is_null(False))
                .group_by(FollowUp.contact).tuples())


