"""The decision-maker tree (domain §8): the reports-to hierarchy with decision role, influence, attitude,
relationship and last contact; add / edit / move in place; cycles refused; the two warnings."""
import pytest
from playhouse.test_utils import count_queries

from models import decision_tree as tree
from models.customers import Contact, log_follow_up
from models.errors import NotFound, ValidationError
from tests.test_permissions import db_state

VALID_VISIT = "上门拜访总经理，演示了面料样品并确认了明年的采购预算和时间表"


@pytest.fixture
def rep(make_user, make_team):
    return make_user("sales", make_team())


@pytest.fixture
def customer(make_customer, rep):
    return make_customer(owner=rep, business_model="project")


def node(actor, customer, name, boss=None, **fields):
    data = {"name": name, "reports_to_id": str(boss.id) if boss else "", **fields}
    return tree.save_node(actor, customer, data)


def keys(customer):
    return [k for k, _m, _p in tree.build(customer)[2]]


def test_the_tree_follows_reports_to_and_carries_the_tree_fields(rep, customer):
    ceo = node(rep, customer, "王总", title="总经理", decision_role="decision_maker", influence="high",
               attitude="supporter", relationship="4")
    cfo = node(rep, customer, "李财务", ceo, title="财务总监", decision_role="buyer", influence="medium")
    node(rep, customer, "张工", cfo, decision_role="user", influence="low", attitude="neutral")
    roots, nodes, _ = tree.build(customer)
    assert [r.contact.name for r in roots] == ["王总"]
    assert [c.contact.name for c in roots[0].children] == ["李财务"]
    assert roots[0].children[0].children[0].contact.name == "张工"
    c = Contact.get_by_id(ceo.id)
    assert (c.influence, c.attitude, c.relationship) == ("high", "supporter", 4)


def test_a_cycle_is_refused_with_a_clear_message_and_nothing_written(rep, customer):
    a = node(rep, customer, "甲")
    b = node(rep, customer, "乙", a)
    c = node(rep, customer, "丙", b)
    before = db_state()
    with pytest.raises(ValidationError) as exc:
        tree.move_node(rep, customer, a, c.id)
    (message, params), = exc.value.errors["reports_to_id"]
    assert message % params == "丙 already reports to 甲 (directly or through others): that would make a reporting cycle."
    with pytest.raises(ValidationError) as exc:
        tree.move_node(rep, customer, a, a.id)
    assert "cannot report to themselves" in exc.value.errors["reports_to_id"][0][0]
    with pytest.raises(ValidationError):  # the edit form refuses it the same way
        tree.save_node(rep, customer, {"name": "甲", "reports_to_id": str(b.id)}, Contact.get_by_id(a.id))
    assert db_state() == before
    tree.move_node(rep, customer, c, a.id)  # a legal move
    assert Contact.get_by_id(c.id).reports_to_id == a.id


def test_editing_a_node_keeps_the_contacts_other_details(rep, customer):
    from models.customers import save_contact

    c = save_contact(rep, customer, {"name": "赵经理", "mobile": "13800138000", "email": "zhao@example.com"})
    tree.save_node(rep, customer, {"name": "赵经理", "title": "采购经理", "decision_role": "buyer",
                                   "influence": "high", "attitude": "opponent", "relationship": "2"}, c)
    c = Contact.get_by_id(c.id)
    assert (c.mobile, c.email, c.title, c.attitude) == ("13800138000", "zhao@example.com", "采购经理", "opponent")


@pytest.mark.parametrize("field,value", [("influence", "huge"), ("attitude", "hostile"), ("relationship", "9"),
                                         ("relationship", "x" * 50), ("name", ""), ("name", "名" * 61),
                                         ("decision_role", "king")])
def test_bad_node_input_writes_nothing(rep, customer, field, value):
    before = db_state()
    with pytest.raises(ValidationError) as exc:
        tree.save_node(rep, customer, {"name": "某人", field: value})
    assert field in exc.value.errors
    assert db_state() == before


def test_warnings_no_decision_maker_then_not_reached_then_reached(rep, customer):
    assert keys(customer) == ["no_decision_maker"]
    boss = node(rep, customer, "王总", decision_role="decision_maker")
    assert keys(customer) == ["decision_maker_not_reached"]
    # An invalid follow-up (too short) with the decision maker does not count.
    log_follow_up(rep, customer, {"type": "call", "content": "打了电话", "contact_id": str(boss.id)})
    assert keys(customer) == ["decision_maker_not_reached"]
    log_follow_up(rep, customer, {"type": "visit", "content": VALID_VISIT, "contact_id": str(boss.id)})
    assert keys(customer) == []
    roots, _, _ = tree.build(customer)
    assert roots[0].reached_validly and roots[0].last_contact_at is not None


def test_warning_for_a_high_influence_opponent(rep, customer):
    node(rep, customer, "王总", decision_role="decision_maker")
    node(rep, customer, "钱总工", decision_role="influencer", influence="high", attitude="opponent")
    node(rep, customer, "孙主任", decision_role="user", influence="low", attitude="opponent")
    found = tree.build(customer)[2]
    opponents = [p["name"] for k, _m, p in found if k == "opponent_high_influence"]
    assert opponents == ["钱总工"]


def test_others_cannot_edit_the_tree(rep, customer, make_user):
    stranger = make_user("sales")
    with pytest.raises(NotFound):
        tree.save_node(stranger, customer, {"name": "外人"})


# ---- over HTTP: in place, by htmx -----------------------------------------------------------------

def test_add_edit_and_move_in_place_answer_the_whole_tree(client, rep, customer):
    client.login(rep)
    body = client.get(f"/customers/{customer.id}?tab=tree").get_data(as_text=True)
    assert 'id="decision-tree"' in body and "No decision maker identified yet" in body
    r = client.post(f"/customers/{customer.id}/tree/nodes/new",
                    {"name": "王总", "title": "总经理", "decision_role": "decision_maker", "influence": "high",
                     "attitude": "supporter", "relationship": "3"}, htmx=True)
    assert r.headers["HX-Retarget"] == "#decision-tree"
    html = r.get_data(as_text=True)
    assert "王总" in html and "No decision maker has been reached by a valid follow-up" in html
    boss = Contact.get(Contact.name == "王总")
    r = client.post(f"/customers/{customer.id}/tree/nodes/new", {"name": "李工", "reports_to_id": str(boss.id)},
                    htmx=True)
    worker = Contact.get(Contact.name == "李工")
    assert worker.reports_to_id == boss.id
    # A bad edit answers the form in place with its error.
    r = client.post(f"/customers/{customer.id}/tree/nodes/{worker.id}/edit", {"name": "", "relationship": "0"},
                    htmx=True)
    assert "HX-Retarget" not in r.headers and "Required." in r.get_data(as_text=True)
    # A cycle through the move form: the tree comes back with the message at the node.
    r = client.post(f"/customers/{customer.id}/tree/nodes/{boss.id}/move", {"reports_to_id": str(worker.id)},
                    htmx=True)
    html = r.get_data(as_text=True)
    assert "李工 already reports to 王总" in html and Contact.get_by_id(boss.id).reports_to_id is None
    printable = client.get(f"/customers/{customer.id}/tree").get_data(as_text=True)
    assert "Printable view" not in printable and printable.count("data-print") == 1  # one print button (issue 13)


def test_a_tree_of_sixty_contacts_takes_a_fixed_number_of_queries(client, rep, customer):
    top = node(rep, customer, "董事长", decision_role="decision_maker")
    bosses = [top]
    for i in range(59):
        bosses.append(node(rep, customer, f"员工{i:02d}", bosses[i // 3], decision_role="user"))
    client.login(rep)
    client.get(f"/customers/{customer.id}/tree", htmx=True)
    with count_queries() as counter:
        html = client.get(f"/customers/{customer.id}/tree", htmx=True).get_data(as_text=True)
    assert html.count('class="dt-node"') == 60
    assert counter.count <= 8, counter.count
