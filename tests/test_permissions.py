"""Who may do what, checked over HTTP: the permission matrix (role × relation × route), lists, counts
and search showing only what `visible()` allows, and the security basics every route must keep."""
import importlib
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urljoin, urlparse

import pytest

import models
from app import default_config
from models import clock
from models import rules as rules_model
from models.audit import AuditEvent
from models.customers import (STAGES, Contact, Customer, CustomField, FollowUp, StageChange, save_contact,
                              update_customer)
from models.notifications import Notification, notify
from models.permissions import can, visible
from models.pools import CapacityAdjustment, LockRequest, Pool, PoolEvent
from models.rules import RuleVersion
from models.settings import save_custom_field
from models.users import LoginAttempt, Region, Team, User, set_active
from tests.conftest import PASSWORD
from views.rules import _form_values as _rule_form_values

ROLES = ("sales", "manager", "marketing", "service", "admin")
XSS = "<img src=x onerror=alert(1)>"
XSS_ESCAPED = "&lt;img src=x onerror=alert(1)&gt;"


# ---- the world: two teams, a rep and a manager in each, one user per other role --------------------

# Each name holds a unique three-character word, so a leak into a list or a search is detectable.
NAMES = {
    "a_rep": "上海锦绣坊服饰有限公司",   # owned by rep_a (team A), target
    "a_mgr": "杭州青松阁制衣有限公司",   # owned by mgr_a (team A), target
    "b_rep": "广州白鹭洲纺织有限公司",   # owned by rep_b (team B), target
    "b_lead": "深圳紫竹林鞋业有限公司",  # owned by rep_b (team B), prospect
    "lead": "南京金鼎轩西服有限公司",    # unowned, prospect (a marketing stage)
    "pool": "苏州翠微居衬衫有限公司",    # unowned, target
    "a_left": "宁波松鹤堂针织有限公司",  # owned by former_rep_a (team A, deactivated), target
}
TOKENS = {key: name[2:5] for key, name in NAMES.items()}


@dataclass
class World:
    users: dict
    teams: dict
    customers: dict
    contacts: dict
    field: object


@pytest.fixture
def world(make_user, make_team, make_customer):
    """Built per test through the factories and verbs (about 0.1 s), so every case starts clean."""
    team_a, team_b = make_team("华东一组"), make_team("华南二组")
    users = {
        "rep_a": make_user("sales", team_a), "mgr_a": make_user("manager", team_a),
        "rep_b": make_user("sales", team_b), "mgr_b": make_user("manager", team_b),
        "marketing": make_user("marketing"), "service": make_user("service"), "admin": make_user("admin"),
        "former_rep_a": make_user("sales", team_a),  # deactivated below, after the customer is theirs
    }
    Team.update(manager=users["mgr_a"]).where(Team.id == team_a.id).execute()
    Team.update(manager=users["mgr_b"]).where(Team.id == team_b.id).execute()
    owners_and_stages = {"a_rep": ("rep_a", "target"), "a_mgr": ("mgr_a", "target"), "b_rep": ("rep_b", "target"),
                         "b_lead": ("rep_b", "prospect"), "lead": (None, "prospect"), "pool": (None, "target"),
                         "a_left": ("former_rep_a", "target")}
    customers = {key: make_customer(owner=users[owner] if owner else None, name=NAMES[key], stage=stage)
                 for key, (owner, stage) in owners_and_stages.items()}
    User.update(active=False).where(User.id == users["former_rep_a"].id).execute()
    users["former_rep_a"].active = False
    admin = users["admin"]
    contacts = {key: save_contact(admin, c, {"name": "联系人" + TOKENS[key]}) for key, c in customers.items()}
    field = save_custom_field(admin, {"key": "wechat_group", "label_zh": "微信群", "label_en": "WeChat group",
                                      "kind": "text", "active": True})
    return World(users, {"a": team_a, "b": team_b}, customers, contacts, field)


def ids_for(world, customer_key="a_rep"):
    """The values an action's URL and form are filled with."""
    c = world.customers[customer_key]
    return {"c": c.id, "contact": world.contacts[customer_key].id, "next_stage": STAGES[STAGES.index(c.stage) + 1],
            "user": world.users["rep_b"].id, "team": world.teams["b"].id, "field": world.field.id,
            "idle": world.users["service"].id}


# ---- actions: every route, with a form that would succeed, and the row it must write -------------

EDITED_NAME = "改过名的服饰有限公司"
NEW_CUSTOMER = "新建的外贸服饰有限公司"
FOLLOWUP_TEXT = "电话沟通了下季度的订货计划，对方要样品"


# The pool rules form as the page fills it, with one setting changed.
RULES_FORM = {**{k: str(v) for k, v in _rule_form_values(rules_model.DEFAULTS).items()}, "claims_per_day": "3",
              "valid_types": list(rules_model.DEFAULTS["valid_types"]), "dealt_count": "1",
              "key_person_models": list(rules_model.DEFAULTS["key_person_models"])}


@dataclass(frozen=True)
class Action:
    method: str
    path: str  # {c} the customer, {contact} its contact, {user}/{team}/{field} what an admin edits
    data: dict = None  # form fields; values are formatted like the path ("{next_stage}")
    audit: str = None  # the audit kind an allowed POST must append
    row: object = None  # ids -> the query for the row an allowed POST must have written


CUSTOMER_ACTIONS = {
    "view": Action("GET", "/customers/{c}"),
    "view_timeline_tab": Action("GET", "/customers/{c}?tab=timeline"),
    "view_followups_tab": Action("GET", "/customers/{c}?tab=followups"),
    "view_contacts_tab": Action("GET", "/customers/{c}?tab=contacts"),
    "timeline_rows": Action("GET", "/customers/{c}/timeline"),
    "followup_rows": Action("GET", "/customers/{c}/followups"),
    "edit_form": Action("GET", "/customers/{c}/edit"),
    "edit": Action("POST", "/customers/{c}/edit",
                   {"name": EDITED_NAME, "business_model": "consumer", "source": "website"}, "customer.updated",
                   lambda i: Customer.select().where((Customer.id == i["c"]) & (Customer.name == EDITED_NAME))),
    "change_stage": Action("POST", "/customers/{c}/stage", {"stage": "{next_stage}"}, "customer.stage_changed",
                           lambda i: StageChange.select().where((StageChange.customer == i["c"])
                                                                & (StageChange.to_stage == i["next_stage"]))),
    "contact_new_form": Action("GET", "/customers/{c}/contacts/new"),
    "contact_new": Action("POST", "/customers/{c}/contacts/new", {"name": "新来的采购"}, "contact.added",
                          lambda i: Contact.select().where((Contact.customer == i["c"])
                                                           & (Contact.name == "新来的采购"))),
    "contact_edit_form": Action("GET", "/customers/{c}/contacts/{contact}/edit"),
    "contact_edit": Action("POST", "/customers/{c}/contacts/{contact}/edit", {"name": "改名的联系人"},
                           "contact.updated",
                           lambda i: Contact.select().where((Contact.id == i["contact"])
                                                            & (Contact.name == "改名的联系人"))),
    "followup_new": Action("POST", "/customers/{c}/followups/new", {"type": "call", "content": FOLLOWUP_TEXT},
                           "followup.logged",
                           lambda i: FollowUp.select().where((FollowUp.customer == i["c"])
                                                             & (FollowUp.content == FOLLOWUP_TEXT))),
    "followup_check": Action("POST", "/customers/{c}/followups/check", {"type": "call", "content": FOLLOWUP_TEXT}),
    "check_field": Action("POST", "/customers/check/name", {"customer_id": "{c}", "name": "某"}),
    "duplicates": Action("POST", "/customers/duplicates", {"customer_id": "{c}", "name": "某某公司"}),
    "custom_fieldset": Action("POST", "/customers/custom-fields", {"customer_id": "{c}", "business_model": "industrial"}),
}

READ = {"view", "view_timeline_tab", "view_followups_tab", "view_contacts_tab", "timeline_rows", "followup_rows"}
LOG = {"followup_new", "followup_check"}
EDIT = {"edit_form", "edit", "change_stage", "contact_new_form", "contact_new", "contact_edit_form", "contact_edit",
        "check_field", "duplicates", "custom_fieldset"}
ALL = READ | LOG | EDIT
NONE = set()

# The customer a relation means, seen from the role's acting user (rep_a, mgr_a, marketing, service, admin).
ACTOR = {"sales": "rep_a", "manager": "mgr_a", "marketing": "marketing", "service": "service", "admin": "admin"}
CUSTOMER_OF = {
    "sales": {"own": "a_rep", "same_team": "a_mgr"},
    "manager": {"own": "a_mgr", "same_team": "a_rep"},
}
COMMON = {"other_team": "b_rep", "unowned_lead": "lead", "unowned_target": "pool"}

# The rules (domain §1): what each role may do to a customer in each relation. Marketing, service and
# admin own no customers and lead no team, so "own" and "same team" do not apply to them.
EXPECTED = {
    "sales": {"own": ALL, "same_team": NONE, "other_team": NONE, "unowned_lead": NONE, "unowned_target": NONE},
    "manager": {"own": ALL, "same_team": ALL, "other_team": NONE, "unowned_lead": NONE, "unowned_target": NONE},
    "marketing": {"other_team": NONE, "unowned_lead": ALL, "unowned_target": NONE},
    "service": {"other_team": READ | LOG, "unowned_lead": READ | LOG, "unowned_target": READ | LOG},
    "admin": {"other_team": ALL, "unowned_lead": ALL, "unowned_target": ALL},
}

ROLE_ACTIONS = {
    "customer_new_form": Action("GET", "/customers/new"),
    "customer_new": Action("POST", "/customers/new",
                           {"name": NEW_CUSTOMER, "business_model": "consumer", "source": "website"},
                           "customer.created", lambda i: Customer.select().where(Customer.name == NEW_CUSTOMER)),
    "admin_users": Action("GET", "/admin/users"),
    "admin_user_new_form": Action("GET", "/admin/users/new"),
    "admin_user_new": Action("POST", "/admin/users/new",
                             {"username": "newhire", "full_name": "新员工", "role": "sales",
                              "password": "long-enough-1", "language": "zh_CN"},
                             "user.created", lambda i: User.select().where(User.username == "newhire")),
    "admin_user_edit_form": Action("GET", "/admin/users/{user}/edit"),
    "admin_user_edit": Action("POST", "/admin/users/{user}/edit",
                              {"full_name": "改名的代表", "role": "sales", "team_id": "{team}", "language": "en"},
                              "user.updated", lambda i: User.select().where(User.full_name == "改名的代表")),
    # {idle}: a user who owns no customers (deactivating one who does goes through the leaver wizard)
    "admin_user_deactivate": Action("POST", "/admin/users/{idle}/active", {"active": "0"}, "user.deactivated",
                                    lambda i: User.select().where((User.id == i["idle"]) & ~User.active)),
    "admin_teams": Action("GET", "/admin/teams"),
    "admin_team_new_form": Action("GET", "/admin/teams/new"),
    "admin_team_new": Action("POST", "/admin/teams/new", {"name": "西北三组"}, "team.created",
                             lambda i: Team.select().where(Team.name == "西北三组")),
    "admin_team_edit_form": Action("GET", "/admin/teams/{team}/edit"),
    "admin_team_edit": Action("POST", "/admin/teams/{team}/edit", {"name": "华南二组改"}, "team.updated",
                              lambda i: Team.select().where(Team.name == "华南二组改")),
    "admin_fields": Action("GET", "/admin/fields"),
    "admin_field_new_form": Action("GET", "/admin/fields/new"),
    "admin_field_new": Action("POST", "/admin/fields/new",
                              {"key": "store_count", "label_zh": "门店数", "label_en": "Stores", "kind": "number"},
                              "settings.custom_field_created",
                              lambda i: CustomField.select().where(CustomField.key == "store_count")),
    "admin_field_edit_form": Action("GET", "/admin/fields/{field}/edit"),
    "admin_field_edit": Action("POST", "/admin/fields/{field}/edit",
                               {"label_zh": "微信群号", "label_en": "WeChat group id", "kind": "text"},
                               "settings.custom_field_updated",
                               lambda i: CustomField.select().where(CustomField.label_zh == "微信群号")),
    "admin_field_deactivate": Action("POST", "/admin/fields/{field}/active", {"active": "0"},
                                     "settings.custom_field_deactivated",
                                     lambda i: CustomField.select().where((CustomField.id == i["field"]) & ~CustomField.active)),
    "admin_audit": Action("GET", "/admin/audit"),
    "admin_ledger": Action("GET", "/admin/ledger"),
    "admin_rules": Action("GET", "/admin/rules"),
    "admin_rules_save": Action("POST", "/admin/rules", {**RULES_FORM, "note": "收紧掉保"}, "rules.saved",
                               lambda i: RuleVersion.select().where(RuleVersion.note == "收紧掉保")),
    "admin_rules_preview": Action("POST", "/admin/rules/preview", RULES_FORM),
}

CREATORS = {"sales", "manager", "marketing", "admin"}
ADMINS = {"admin"}
ROLE_EXPECTED = {
    "customer_new_form": CREATORS,
    "customer_new": CREATORS,
    **{name: ADMINS for name in ROLE_ACTIONS if name.startswith("admin_")},
}

# Routes outside the matrix, and where they are checked instead. Every route is also in the CSRF and
# login sweeps, and every route with a <customer_id> in the invisible-customer sweep. The pool routes
# have their own matrix (section 4).
NOT_IN_MATRIX = {
    "auth.login": "test_login_itself_requires_csrf, test_login_never_redirects_off_site",
    "auth.logout": "test_every_post_route_refuses_a_missing_csrf_token",
    "auth.language": "test_every_post_route_refuses_a_missing_csrf_token",
    "workbench.home": "test_lists_counts_and_workbench_show_only_visible_customers",
    "customers.index": "test_lists_counts_and_workbench_show_only_visible_customers, test_search_finds_only_visible",
    "static": "public", "htmx_js": "public", "vendor": "public",
}
PUBLIC = {"auth.login", "static", "htmx_js", "vendor", "leads.web_form"}
CSRF_EXEMPT = {"auth.login", "leads.web_form"}  # login checks its own token; a website posts leads with its form token


# ---- helpers ----------------------------------------------------------------------------------------

def db_state():
    """Every row of every table: equal before and after means nothing was written. (PostgreSQL gives a
    bytea column as a memoryview, whose repr differs at each read: compared as bytes.)"""
    def plain(row):
        return repr(tuple(bytes(v) if isinstance(v, memoryview) else v for v in row))

    return {t: sorted(map(plain, models.db.execute_sql(f'SELECT * FROM "{t}"').fetchall()))
            for t in models.db.get_tables()}


def perform(client, action, ids, htmx=False, csrf=True):
    url = action.path.format(**ids)
    if action.method == "GET":
        return client.get(url, htmx=htmx)
    return client.post(url, form(action, ids), htmx=htmx, csrf=csrf)


def form(action, ids):
    return {k: v.format(**ids) if isinstance(v, str) else v for k, v in (action.data or {}).items()}


def check_action(client, action, ids, allowed):
    """Perform `action` and assert its outcome: allowed → 2xx/3xx and its rows written (GETs and checks
    write nothing); denied → 404 for a plain and an htmx request alike, and nothing written."""
    before = db_state()
    audits = AuditEvent.select().where(AuditEvent.kind == action.audit).count() if action.audit else 0
    response = perform(client, action, ids)
    if not allowed:
        assert response.status_code == 404, response.status_code
        assert perform(client, action, ids, htmx=True).status_code == 404
        assert db_state() == before, "a refused request wrote to the database"
        return
    assert 200 <= response.status_code < 400, (response.status_code, response.get_data(as_text=True)[:500])
    if action.audit:
        assert AuditEvent.select().where(AuditEvent.kind == action.audit).count() == audits + 1
    if action.row:  # the effect (some effects, e.g. marking notifications read, have no audit row)
        assert action.row(ids).exists(), "the audit row was written but not the record"
    if not action.audit and not action.row:
        assert response.status_code == 200
        assert db_state() == before, f"{action.method} {action.path} wrote to the database"


def route_list(app):
    """(rule, method, endpoint) of every route the app serves."""
    return sorted((rule.rule, method, rule.endpoint) for rule in app.url_map.iter_rules()
                  for method in rule.methods - {"HEAD", "OPTIONS"})


def fill(rule, world, customer_key="a_rep"):
    """A rule's URL with every parameter filled by an existing record (a new parameter must be added here)."""
    values = {"customer_id": world.customers[customer_key].id, "contact_id": world.contacts[customer_key].id,
              "user_id": world.users["rep_b"].id, "team_id": world.teams["b"].id, "field_id": world.field.id,
              "field": "name", "filename": "app.css", "name": "htmx.min.js"}
    # Any other parameter (a request, an opportunity, a ticket ...) gets 1: login and CSRF are checked
    # before the record is looked up, so the record need not exist.
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: str(values.get(m.group(1), 1)), rule)


def listed_ids(body):
    return {int(x) for x in re.findall(r'<td><a href="/customers/(\d+)">', body)}


def count_text(body):
    return int(re.search(r'result-count">\s*(\d+) customers?', body).group(1))


# ---- 1. the permission matrix --------------------------------------------------------------------

@pytest.mark.parametrize("role,relation,action", [
    (role, relation, action) for role, row in EXPECTED.items() for relation in row for action in CUSTOMER_ACTIONS])
def test_customer_routes(client, world, role, relation, action):
    customer_key = {**COMMON, **CUSTOMER_OF.get(role, {})}[relation]
    client.login(world.users[ACTOR[role]])
    check_action(client, CUSTOMER_ACTIONS[action], ids_for(world, customer_key),
                 allowed=action in EXPECTED[role][relation])


@pytest.mark.parametrize("role,action", [(role, action) for action in ROLE_ACTIONS for role in ROLES])
def test_role_routes(client, world, role, action):
    client.login(world.users[ACTOR[role]])
    check_action(client, ROLE_ACTIONS[action], ids_for(world), allowed=role in ROLE_EXPECTED[action])


@pytest.mark.parametrize("role,relation", [
    (role, relation) for role, row in EXPECTED.items() for relation, allowed in row.items() if "view" not in allowed])
def test_invisible_customers_are_404_on_every_customer_route(app, client, world, role, relation):
    """Enumerated from the url_map, so a new customer route is held to the rule without being listed."""
    customer_key = {**COMMON, **CUSTOMER_OF.get(role, {})}[relation]
    data = post_data(app, world, customer_key)
    client.login(world.users[ACTOR[role]])
    before = db_state()
    failures = []
    for rule, method, endpoint in route_list(app):
        if "<int:customer_id>" not in rule:
            continue
        url = fill(rule, world, customer_key)
        for htmx in (False, True):
            r = client.get(url, htmx=htmx) if method == "GET" else client.post(url, data.get((rule, method), {}),
                                                                                htmx=htmx)
            if r.status_code != 404:
                failures.append((method, url, htmx, r.status_code))
    assert failures == []
    assert db_state() == before


def test_expected_tables_are_complete():
    assert READ | LOG | EDIT == set(CUSTOMER_ACTIONS) and not (READ & LOG or READ & EDIT or LOG & EDIT)
    assert set(ROLE_EXPECTED) == set(ROLE_ACTIONS)
    assert set(EXPECTED) == set(ROLES)


def domain_matrices():
    """The other permission matrices: every `tests/test_permissions_<domain>.py` lists the actions it
    checks in MATRIX_ACTIONS and may place routes elsewhere in its own NOT_IN_MATRIX (with a reason)."""
    actions, elsewhere = [], {}
    for path in sorted(Path(__file__).parent.glob("test_permissions_*.py")):
        module = importlib.import_module(f"tests.{path.stem}")
        actions.extend(module.MATRIX_ACTIONS)
        elsewhere.update(getattr(module, "NOT_IN_MATRIX", {}))
    return actions, elsewhere


def test_matrix_covers_every_route(app, world):
    """A new route fails here until it is added to a matrix (or to a NOT_IN_MATRIX with a reason)."""
    adapter = app.url_map.bind("localhost")
    covered = set()
    extra_actions, extra_elsewhere = domain_matrices()
    not_in_matrix = {**NOT_IN_MATRIX, **extra_elsewhere}
    for action in [*CUSTOMER_ACTIONS.values(), *ROLE_ACTIONS.values(), *POOL_ACTIONS.values(),
                   *POOL_PAGES.values(), *CAPACITY_ACTIONS.values(), *extra_actions]:
        path = re.sub(r"\{\w+\}", "1", action.path)  # any id matches the rule
        rule, _ = adapter.match(path.split("?")[0], action.method, return_rule=True)
        covered.add((rule.rule, action.method))
    missing = [(rule, method) for rule, method, endpoint in route_list(app)
               if (rule, method) not in covered and endpoint not in not_in_matrix]
    assert missing == []
    assert not [endpoint for rule, method, endpoint in route_list(app)
                if (rule, method) in covered and endpoint in not_in_matrix]


def test_marketing_moves_leads_up_to_target_and_no_further(client, world):
    client.login(world.users["marketing"])
    lead = world.customers["lead"]
    before = db_state()
    for stage in ("intent", "signed", "long_term"):
        assert client.post(f"/customers/{lead.id}/stage", {"stage": stage}).status_code == 409
        assert client.post(f"/customers/{lead.id}/stage", {"stage": stage}, htmx=True).status_code == 409
    assert db_state() == before
    assert client.post(f"/customers/{lead.id}/stage", {"stage": "target"}).status_code == 303
    assert Customer.get_by_id(lead.id).stage == "target"
    # Handed over to sales: out of marketing's sight from now on.
    assert client.get(f"/customers/{lead.id}").status_code == 404


def test_a_contact_of_another_customer_cannot_be_reached_through_a_visible_one(client, world):
    client.login(world.users["rep_a"])
    mine, theirs = world.customers["a_rep"], world.contacts["b_rep"]
    before = db_state()
    assert client.get(f"/customers/{mine.id}/contacts/{theirs.id}/edit").status_code == 404
    assert client.post(f"/customers/{mine.id}/contacts/{theirs.id}/edit", {"name": "劫持"}).status_code == 404
    # Follow-ups and reporting lines only accept the customer's own contacts.
    r = client.post(f"/customers/{mine.id}/followups/new",
                    {"type": "call", "content": FOLLOWUP_TEXT, "contact_id": str(theirs.id)})
    assert r.status_code == 200 and "Choose a contact of this customer" in r.get_data(as_text=True)
    r = client.post(f"/customers/{mine.id}/contacts/new", {"name": "新人", "reports_to_id": str(theirs.id)})
    assert r.status_code == 200 and "Choose a contact of this customer" in r.get_data(as_text=True)
    assert db_state() == before
    assert Contact.get_by_id(theirs.id).name == theirs.name


def test_customers_follow_their_owner_into_a_new_team(client, world):
    """Managers see Customer.team == their team, so an owner's move must carry their customers."""
    client.login(world.users["admin"])
    mgr_a, rep_a, team_b = world.users["mgr_a"], world.users["rep_a"], world.teams["b"]
    # A rep moved by editing the user.
    client.post(f"/admin/users/{rep_a.id}/edit", {"full_name": rep_a.full_name, "role": "sales",
                                                   "team_id": str(team_b.id), "language": "en"})
    # A manager moved by putting them in charge of another team.
    client.post(f"/admin/teams/{team_b.id}/edit", {"name": team_b.name, "manager_id": str(mgr_a.id)})
    for key in ("a_rep", "a_mgr"):
        assert Customer.get_by_id(world.customers[key].id).team_id == team_b.id, key
    mgr_a = User.get_by_id(mgr_a.id)
    for key in ("a_mgr", "a_rep", "b_rep"):
        assert can(mgr_a, "customer.view", Customer.get_by_id(world.customers[key].id)), key


# ---- 2. visibility: can() == visible() == what lists, counts and search show ----------------------

EVERYONE = set(NAMES)
VISIBLE = {
    "rep_a": {"a_rep"},
    "mgr_a": {"a_rep", "a_mgr", "a_left"},
    "rep_b": {"b_rep", "b_lead"},
    "mgr_b": {"b_rep", "b_lead"},
    "marketing": {"b_lead", "lead"},
    "service": EVERYONE,
    "admin": EVERYONE,
    "former_rep_a": set(),  # deactivated: sees nothing, not even the customers still in their name
}
ACTIVE = [who for who in VISIBLE if who != "former_rep_a"]


def test_can_view_agrees_with_visible_for_every_pair(world):
    disagree = []
    for user in User.select():
        shown = {c.id for c in visible(Customer.select(), user)}
        for customer in Customer.select():
            if can(user, "customer.view", customer) != (customer.id in shown):
                disagree.append((user.username, customer.name))
    assert disagree == []
    for who, keys in VISIBLE.items():
        user = User.get_by_id(world.users[who].id)
        assert {c.id for c in visible(Customer.select(), user)} == {world.customers[k].id for k in keys}, who


@pytest.mark.parametrize("who", ACTIVE)
def test_lists_counts_and_workbench_show_only_visible_customers(client, world, who):
    client.login(world.users[who])
    expected = {world.customers[k].id for k in VISIBLE[who]}
    for url in ("/customers?scope=all", "/customers"):
        for htmx in (False, True):
            body = client.get(url, htmx=htmx).get_data(as_text=True)
            if url == "/customers?scope=all":
                assert listed_ids(body) == expected
                assert count_text(body) == len(expected)
            else:
                assert listed_ids(body) <= expected and count_text(body) == len(listed_ids(body))
            for key, name in NAMES.items():
                assert key in VISIBLE[who] or name not in body, (url, key)
    home = client.get("/").get_data(as_text=True)
    for key, name in NAMES.items():
        assert key in VISIBLE[who] or name not in home, key


@pytest.mark.parametrize("who", ACTIVE)
def test_search_finds_only_visible(client, world, who):
    client.login(world.users[who])
    for key, token in TOKENS.items():
        seen = key in VISIBLE[who]
        for url in (f"/customers?q={token}", f"/customers?q={token}&scope=all"):
            body = client.get(url, htmx=True).get_data(as_text=True)
            if seen and url.endswith("scope=all"):
                assert listed_ids(body) == {world.customers[key].id} and count_text(body) == 1, url
            if not seen:
                assert listed_ids(body) == set() and count_text(body) == 0, url
                assert NAMES[key] not in body, url


# ---- 3. security basics ---------------------------------------------------------------------------

def post_data(app, world, customer_key="a_rep"):
    """A valid form for the POST routes of the matrix, keyed by (rule, method)."""
    adapter = app.url_map.bind("localhost")
    ids = ids_for(world, customer_key)
    data = {("/logout", "POST"): {}, ("/language", "POST"): {"language": "zh_CN"},
            ("/login", "POST"): {"username": world.users["rep_a"].username, "password": PASSWORD}}
    for action in [*CUSTOMER_ACTIONS.values(), *ROLE_ACTIONS.values()]:
        if action.method == "POST":
            rule, _ = adapter.match(action.path.format(**ids), "POST", return_rule=True)
            data[(rule.rule, "POST")] = form(action, ids)
    return data


def test_every_post_route_refuses_a_missing_csrf_token(app, client, world):
    data = post_data(app, world)
    client.login(world.users["admin"])
    failures = []
    for rule, method, endpoint in route_list(app):
        if method != "POST" or endpoint in CSRF_EXEMPT:
            continue
        url = fill(rule, world)
        before = db_state()
        for htmx in (False, True):
            r = client.post(url, data.get((rule, method), {}), htmx=htmx, csrf=False)
            if r.status_code != 400:
                failures.append((url, htmx, r.status_code))
        if db_state() != before:
            failures.append((url, "wrote to the database"))
    assert failures == []
    assert client.get("/").status_code == 200, "a logout without a token must not log out"
    # A wrong token is refused too; the token in the X-CSRFToken header (how htmx sends it) is accepted.
    follow = f"/customers/{world.customers['a_rep'].id}/followups/new"
    assert client.post(follow, {"type": "call", "content": FOLLOWUP_TEXT, "csrf_token": "forged"},
                       csrf=False).status_code == 400
    r = client.post(follow, {"type": "call", "content": FOLLOWUP_TEXT}, htmx=True, csrf=False,
                    headers={"X-CSRFToken": client._csrf()})
    assert r.status_code == 200 and FollowUp.select().where(FollowUp.content == FOLLOWUP_TEXT).count() == 1


def test_login_itself_requires_csrf(client, world):
    """Login CSRF: a forged login would sign the victim in as the attacker."""
    before = LoginAttempt.select().count()
    r = client.post("/login", {"username": world.users["rep_a"].username, "password": PASSWORD}, csrf=False)
    assert r.status_code == 400
    assert LoginAttempt.select().count() == before
    assert client.get("/").status_code == 302


def test_every_route_but_login_and_assets_requires_login(app, client, world):
    assert client.get("/login").status_code == 200
    assert client.get("/static/app.css").status_code == 200
    assert client.get("/vendor/htmx.min.js").status_code == 200
    before = db_state()
    failures = []
    for rule, method, endpoint in route_list(app):
        url = fill(rule, world)
        if endpoint in PUBLIC:
            continue
        for htmx in (False, True):
            r = client.get(url, htmx=htmx) if method == "GET" else client.post(url, {}, htmx=htmx)
            target = r.headers.get("HX-Redirect") if htmx else (r.location if r.status_code == 302 else None)
            if not target or urlparse(target).path != "/login" or (htmx and r.status_code >= 300):
                failures.append((method, url, htmx, r.status_code, target))
    assert failures == []
    assert db_state() == before


def test_passwords_are_stored_hashed(client, world):
    assert default_config()["PASSWORD_METHOD"] == "scrypt"
    client.login(world.users["admin"])
    secret = "Plain-Text-Secret-9"
    client.post("/admin/users/new", {"username": "newhire", "full_name": "新员工", "role": "sales",
                                     "password": secret, "language": "zh_CN"})
    user = User.get(User.username == "newhire")
    assert user.password_hash.startswith("pbkdf2:sha256:") and user.check_password(secret)
    for row in models.db.execute_sql('SELECT * FROM "user"').fetchall():
        assert not any(isinstance(v, str) and (secret in v or PASSWORD in v) for v in row), row


def test_session_cookie_is_httponly_and_samesite_lax(client, world):
    lang = client.get("/login?lang=en").headers.get("Set-Cookie", "")
    assert "HttpOnly" in lang and "SameSite=Lax" in lang
    r = client.login(world.users["rep_a"])
    session = [c for c in r.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert session, "login must (re)issue the session cookie"
    assert "HttpOnly" in session[0] and "SameSite=Lax" in session[0]


def test_responses_carry_nosniff_and_deny_framing(client, world):
    responses = [client.get("/login"), client.get("/static/app.css"), client.get("/vendor/htmx.min.js"),
                 client.get("/customers"), client.post("/login", {}, csrf=False)]
    client.login(world.users["rep_a"])
    responses += [client.get("/"), client.get("/customers", htmx=True), client.get("/customers/999999"),
                  client.get(f"/customers/{world.customers['b_rep'].id}", htmx=True), client.get("/admin/users")]
    for r in responses:
        assert r.headers.get("X-Content-Type-Options") == "nosniff", r.request.path
        assert r.headers.get("X-Frame-Options") == "DENY", r.request.path
    assert all(r.status_code != 403 for r in responses)


def test_a_deactivated_users_session_stops_working(client, world):
    # Marketing owns no customers (a rep who does cannot be deactivated: tests/test_transfers.py), and may
    # log follow-ups on the lead until the session ends.
    user = world.users["marketing"]
    client.login(user)
    assert client.get("/").status_code == 200
    set_active(world.users["admin"], user, False)
    r = client.get("/")
    assert r.status_code == 302 and urlparse(r.location).path == "/login"
    assert urlparse(client.get("/customers", htmx=True).headers["HX-Redirect"]).path == "/login"
    before = db_state()
    client.post(f"/customers/{world.customers['lead'].id}/followups/new", {"type": "call", "content": FOLLOWUP_TEXT})
    assert db_state() == before


def lands_on_site(target):
    """Would a browser stay on our site? It drops tabs and newlines, and reads a backslash as a slash."""
    url = urljoin("http://kehu.local/login", re.sub(r"[\t\n\r]", "", target).strip().replace("\\", "/"))
    return urlparse(url).scheme == "http" and urlparse(url).netloc == "kehu.local"


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example",
                                    "/\t/evil.example", " //evil.example", "javascript:alert(1)"])
def test_login_never_redirects_off_site(client, world, target):
    """Both ways the login answers: a 303 Location, and HX-Redirect for htmx (followed by JavaScript)."""
    url = "/login?" + urlencode({"next": target})
    credentials = {"username": world.users["rep_a"].username, "password": PASSWORD}
    r = client.post(url, credentials)
    assert r.status_code == 303 and lands_on_site(r.location), r.location
    client.post("/logout", htmx=True)
    r = client.post(url, credentials, htmx=True)
    assert lands_on_site(r.headers["HX-Redirect"]), r.headers["HX-Redirect"]


def test_stored_xss_is_escaped_everywhere_the_name_shows(client, world, make_customer):
    rep, marketing = world.users["rep_a"], world.users["marketing"]
    customer = make_customer(owner=rep, name="待改名的客户", stage="prospect")
    client.login(rep)
    base = f"/customers/{customer.id}"
    client.post(f"{base}/edit", {"name": XSS, "short_name": XSS, "tags": XSS, "address": XSS,
                                 "business_model": "consumer", "source": "website"})
    client.post(f"{base}/contacts/new", {"name": XSS, "title": XSS})
    client.post(f"{base}/followups/new", {"type": "call", "content": XSS, "outcome": XSS})
    client.post(f"{base}/stage", {"stage": "unidentified", "reason": XSS})
    assert Customer.get_by_id(customer.id).name == XSS
    pages = {"list": "/customers", "search": "/customers?q=img+src", "reflected": f"/customers?q={XSS}",
             "360": base, "timeline": f"{base}/timeline", "timeline tab": f"{base}?tab=timeline",
             "followups": f"{base}/followups", "contacts tab": f"{base}?tab=contacts", "edit": f"{base}/edit",
             "workbench": "/"}
    for who in (rep, marketing):
        client.login(who)
        for page, url in pages.items():
            body = client.get(url).get_data(as_text=True)
            assert XSS not in body, (who.role, page)
        assert XSS_ESCAPED in client.get("/").get_data(as_text=True), who.role
    client.login(rep)
    for page in ("list", "search", "360", "timeline", "followups", "contacts tab", "workbench"):
        assert XSS_ESCAPED in client.get(pages[page]).get_data(as_text=True), page


# ---- 4. the pools: role × relation × pool route ----------------------------------------------------

# The pool world is regional: team A sells in the east, team B in the south, each region has its pool.
POOL_NAMES = {
    "pool_here": "苏州碧螺坊衬衫有限公司",   # in the east pool (the region of rep_a, mgr_a and the others)
    "pool_there": "广州荔枝湾服装有限公司",  # in the south pool
    "own_rep": "上海云锦轩服饰有限公司",     # owned by rep_a (team A)
    "own_mgr": "杭州西溪堂制衣有限公司",     # owned by mgr_a (team A)
    "team_mate": "宁波月湖苑针织有限公司",   # owned by rep_a2 (team A)
    "other_team": "深圳梧桐山鞋业有限公司",  # owned by rep_b (team B)
}
# Key contact details of every pool-world customer: masked for reps browsing the pool.
CUSTOMER_PHONE, NEW_PHONE = "021-6234 5678", "021-6987 4321"
CONTACT_MOBILE, CONTACT_EMAIL = "13912345678", "buyer.zhang@example.cn"


@dataclass
class PoolWorld:
    users: dict
    customers: dict
    pools: dict


@pytest.fixture
def pool_world(make_user, make_team, make_customer):
    east, south = Region.get(Region.code == "east"), Region.get(Region.code == "south")
    team_a, team_b = make_team("华东一组", region=east), make_team("华南二组", region=south)
    users = {
        "rep_a": make_user("sales", team_a), "rep_a2": make_user("sales", team_a),
        "mgr_a": make_user("manager", team_a),
        "rep_b": make_user("sales", team_b), "mgr_b": make_user("manager", team_b),
        "marketing": make_user("marketing"), "service": make_user("service"), "admin": make_user("admin"),
    }
    Team.update(manager=users["mgr_a"]).where(Team.id == team_a.id).execute()
    Team.update(manager=users["mgr_b"]).where(Team.id == team_b.id).execute()
    # The roles without a team work in the east too, so "their region's pool" means the same for everyone.
    for who in ("marketing", "service", "admin"):
        User.update(region=east).where(User.id == users[who].id).execute()
        users[who] = User.get_by_id(users[who].id)
    pools = {"east": Pool.get(Pool.region == east.id), "south": Pool.get(Pool.region == south.id)}
    placing = {"pool_here": (None, east), "pool_there": (None, south), "own_rep": ("rep_a", east),
               "own_mgr": ("mgr_a", east), "team_mate": ("rep_a2", east), "other_team": ("rep_b", south)}
    customers = {}
    for key, (owner, region) in placing.items():
        c = make_customer(owner=users[owner] if owner else None, name=POOL_NAMES[key], region_id=str(region.id),
                          phone=CUSTOMER_PHONE)
        save_contact(users["admin"], c, {"name": "张采购", "title": "采购经理", "decision_role": "buyer",
                                         "mobile": CONTACT_MOBILE, "email": CONTACT_EMAIL})
        if owner is None:  # in the region's pool, never released (so not frozen)
            Customer.update(pool=pools["east" if region == east else "south"].id).where(Customer.id == c.id).execute()
        customers[key] = Customer.get_by_id(c.id)
    return PoolWorld(users, customers, pools)


POOL_ROUTES = ("claim", "stake", "assign", "release", "lock_request", "unlock", "decide_lock", "inbound_lead")
POOL_ACTIONS = {
    "claim": Action("POST", "/pools/{c}/claim", {}, "pool.claimed",
                    lambda i: Customer.select().where((Customer.id == i["c"]) & (Customer.owner == i["me"]))),
    "stake": Action("POST", "/pools/{c}/stake", {}, "pool.staked",
                    lambda i: Customer.select().where((Customer.id == i["c"]) & (Customer.staked_by == i["me"]))),
    "assign": Action("POST", "/pools/{c}/assign", {"rep_id": "{mate}", "reason": "熟悉该客户的行业"}, "pool.assigned",
                     lambda i: Customer.select().where((Customer.id == i["c"]) & (Customer.owner == i["mate"]))),
    "release": Action("POST", "/customers/{c}/release", {"reason": "客户转做外贸，不再需要国内面料"}, "pool.released",
                      lambda i: Customer.select().where((Customer.id == i["c"]) & Customer.owner.is_null()
                                                        & Customer.pool.is_null(False))),
    "lock_request": Action("POST", "/customers/{c}/lock-request", {"reason": "年底大单谈判中"}, "pool.lock_requested",
                           lambda i: LockRequest.select().where((LockRequest.customer == i["c"])
                                                                & (LockRequest.requester == i["me"])
                                                                & (LockRequest.status == "pending"))),
    "unlock": Action("POST", "/customers/{c}/unlock", {"reason": "谈判结束"}, "pool.unlocked",
                     lambda i: Customer.select().where((Customer.id == i["c"]) & ~Customer.locked)),
    "decide_lock": Action("POST", "/approvals/locks/{request}", {"decision": "approve", "reason": "同意，春节前签约"},
                          "pool.lock_approved",
                          lambda i: Customer.select().where((Customer.id == i["c"]) & Customer.locked)),
    "inbound_lead": Action("POST", "/customers/{c}/inbound-lead", {"note": "客户来电询问春季新款面料"},
                           "lead.created",
                           lambda i: PoolEvent.select().where((PoolEvent.kind == "lead_routed")
                                                              & (PoolEvent.customer == i["c"]))),
}

# Y: allowed, the effect happens. R: the user may ask, and a pool rule answers no (200 or 409, nothing
# written but, for a claim, its `claim_refused` ledger row). -: denied, 404 and nothing written.
# Marketing, service and admin own no customers and lead no team: "own" and "team_mate" do not apply.
POOL_EXPECTED_TABLE = """
role       relation    claim stake assign release lock_request unlock decide_lock inbound_lead
sales      pool_here   Y     Y     -      -       -            -      -           -
sales      pool_there  -     -     -      -       -            -      -           -
sales      own         R     -     -      Y       Y            -      -           -
sales      team_mate   -     -     -      -       -            -      -           -
sales      other_team  -     -     -      -       -            -      -           -
manager    pool_here   Y     Y     Y      -       -            -      -           -
manager    pool_there  -     -     -      -       -            -      -           -
manager    own         R     -     -      Y       Y            -      -           -
manager    team_mate   R     -     -      Y       Y            Y      Y           -
manager    other_team  -     -     -      -       -            -      -           -
marketing  pool_here   -     -     -      -       -            -      -           -
marketing  pool_there  -     -     -      -       -            -      -           -
marketing  other_team  -     -     -      -       -            -      -           -
service    pool_here   -     -     -      -       -            -      -           Y
service    pool_there  -     -     -      -       -            -      -           Y
service    other_team  -     -     -      -       -            -      -           Y
admin      pool_here   -     -     Y      -       -            R      R           Y
admin      pool_there  -     -     Y      -       -            R      R           Y
admin      other_team  -     -     -      Y       -            Y      Y           Y
"""


def parse_table(text):
    """{(role, relation): {column: mark}} from a whitespace-aligned table with a header line."""
    header, *lines = [line.split() for line in text.strip().splitlines()]
    return {(row[0], row[1]): dict(zip(header[2:], row[2:], strict=True)) for row in lines}


POOL_EXPECTED = parse_table(POOL_EXPECTED_TABLE)
POOL_CUSTOMER_OF = {
    "sales": {"own": "own_rep"}, "manager": {"own": "own_mgr"},
}


def pool_customer_key(role, relation):
    return POOL_CUSTOMER_OF.get(role, {}).get(relation, relation)


def pool_ids(pw_, role, customer_key, action):
    """The ids a pool action's URL and form are filled with, after the state the action needs:
    a locked customer to unlock, a pending request to decide (pool customers are never locked)."""
    c = pw_.customers[customer_key]
    ids = {"c": c.id, "me": pw_.users[ACTOR[role]].id, "mate": pw_.users["rep_a2"].id}
    if action == "unlock" and c.owner_id:
        Customer.update(locked=True, release_at=None, release_rule="locked").where(Customer.id == c.id).execute()
    if action == "decide_lock":
        ids["request"] = LockRequest.create(customer=c, requester=c.owner_id or pw_.users["rep_a"].id,
                                            reason="年底大单谈判中", created_at=clock.now()).id
    return ids


def without_claim_refusals(state):
    return {**state, "pool_event": [row for row in state["pool_event"] if "'claim_refused'" not in row]}


def check_refused(client, action, ids):
    """A pool rule says no: an answer the page shows (not a 404), and nothing written but a claim's ledger row."""
    before = db_state()
    for htmx in (False, True):
        response = perform(client, action, ids, htmx=htmx)
        assert response.status_code in (200, 409), response.status_code
    after = db_state()
    assert without_claim_refusals(after) == without_claim_refusals(before), "a refused request wrote to the database"
    refusals = len(after["pool_event"]) - len(before["pool_event"])
    assert refusals == (2 if action.path == "/pools/{c}/claim" else 0)


@pytest.mark.parametrize("role,relation,action", [
    (role, relation, action) for (role, relation) in POOL_EXPECTED for action in POOL_ROUTES])
def test_pool_routes(client, pool_world, role, relation, action):
    ids = pool_ids(pool_world, role, pool_customer_key(role, relation), action)
    client.login(pool_world.users[ACTOR[role]])
    mark = POOL_EXPECTED[(role, relation)][action]
    if mark == "R":
        check_refused(client, POOL_ACTIONS[action], ids)
    else:
        check_action(client, POOL_ACTIONS[action], ids, allowed=mark == "Y")


# The pool pages belong to a role, not to a customer.
POOL_PAGES = {
    "pools": Action("GET", "/pools"),
    "approvals": Action("GET", "/approvals"),
    "my_capacity": Action("GET", "/capacity"),
    "capacity_badge": Action("GET", "/capacity/badge"),
    "notifications": Action("GET", "/notifications"),
    "notifications_badge": Action("GET", "/notifications/badge"),
    "notifications_read": Action("POST", "/notifications/read",
                                 row=lambda i: Notification.select().where((Notification.user == i["me"])
                                                                           & Notification.read_at.is_null(False))),
    "ranking": Action("GET", "/pools/ranking"),
    "health": Action("GET", "/pools/health"),
}
SELLERS_AND_ADMIN = {"sales", "manager", "admin"}
POOL_PAGE_EXPECTED = {
    "pools": SELLERS_AND_ADMIN,
    "approvals": {"manager", "admin"},
    "my_capacity": {"sales", "manager"},  # one's own private pool: only sellers have one (issue 13)
    "capacity_badge": set(ROLES),  # likewise: an empty answer for marketing, service and admin
    "notifications": set(ROLES),
    "notifications_badge": set(ROLES),
    "notifications_read": set(ROLES),
    "ranking": set(ROLES),  # aggregate stake figures, no customer data (the menu shows it to sellers and admin)
    "health": {"manager", "admin"},
}


@pytest.mark.parametrize("role,route", [(role, route) for route in POOL_PAGES for role in ROLES])
def test_pool_pages(client, pool_world, role, route):
    me = pool_world.users[ACTOR[role]]
    if route == "notifications_read":
        notify(me.id, "capacity", "Your capacity changes by %(delta)s for %(days)s days: %(reason)s",
               delta="-5", days=30, reason="测试")
    client.login(me)
    check_action(client, POOL_PAGES[route], {"me": me.id}, allowed=role in POOL_PAGE_EXPECTED[route])


# Capacity pages and adjustments: relation to the rep whose capacity it is.
CAPACITY_ACTIONS = {
    "view": Action("GET", "/capacity/{rep}"),
    "adjust": Action("POST", "/capacity/{rep}", {"delta": "-5", "days": "30", "reason": "连续两周未写日报"},
                     row=lambda i: CapacityAdjustment.select().where((CapacityAdjustment.user == i["rep"])
                                                                     & (CapacityAdjustment.delta == -5))),
}
VIEW, ADJUST = {"view"}, {"view", "adjust"}
CAPACITY_EXPECTED = {
    "sales": {"self": VIEW, "team_mate": NONE, "other_team": NONE},
    "manager": {"self": VIEW, "team_mate": ADJUST, "other_team": NONE},  # never their own capacity
    # a private pool is a seller's: marketing, service and admins have none of their own (issue 13)
    "marketing": {"self": NONE, "other_team": NONE},
    "service": {"self": NONE, "other_team": NONE},
    "admin": {"self": NONE, "other_team": ADJUST},
}
CAPACITY_OF = {"team_mate": "rep_a2", "other_team": "rep_b"}


@pytest.mark.parametrize("role,relation,action", [
    (role, relation, action) for role, row in CAPACITY_EXPECTED.items() for relation in row
    for action in CAPACITY_ACTIONS])
def test_capacity_routes(client, pool_world, role, relation, action):
    me = pool_world.users[ACTOR[role]]
    rep = me if relation == "self" else pool_world.users[CAPACITY_OF[relation]]
    client.login(me)
    check_action(client, CAPACITY_ACTIONS[action], {"rep": rep.id},
                 allowed=action in CAPACITY_EXPECTED[role][relation])
    if action == "adjust" and action in CAPACITY_EXPECTED[role][relation]:
        assert PoolEvent.select().where((PoolEvent.kind == "capacity") & (PoolEvent.subject == rep.id)).count() == 1


def test_pool_tables_are_complete():
    roles_relations = {"sales": {"pool_here", "pool_there", "own", "team_mate", "other_team"},
                       "manager": {"pool_here", "pool_there", "own", "team_mate", "other_team"},
                       **{role: {"pool_here", "pool_there", "other_team"}
                          for role in ("marketing", "service", "admin")}}
    assert set(POOL_EXPECTED) == {(role, rel) for role, rels in roles_relations.items() for rel in rels}
    assert all(set(row) == set(POOL_ROUTES) and set(row.values()) <= {"Y", "R", "-"} for row in POOL_EXPECTED.values())
    assert set(POOL_ROUTES) == set(POOL_ACTIONS)
    assert set(POOL_PAGE_EXPECTED) == set(POOL_PAGES)
    assert set(CAPACITY_EXPECTED) == set(ROLES)


def test_a_pool_customers_contact_details_are_masked_until_claimed(client, pool_world):
    """Domain §5: key contact details are masked for a rep browsing the pool, in every place the 360 page
    shows them (profile, contacts, the history of edits); after the claim they are the rep's to use."""
    rep, admin, c = pool_world.users["rep_a"], pool_world.users["admin"], pool_world.customers["pool_here"]
    update_customer(admin, c, {"name": c.name, "business_model": "consumer", "source": "website",
                               "region_id": str(c.region_id), "phone": NEW_PHONE})  # an edit in the timeline
    secrets = (CUSTOMER_PHONE, NEW_PHONE, CONTACT_MOBILE, CONTACT_EMAIL)
    pages = [f"/customers/{c.id}", f"/customers/{c.id}?tab=contacts", f"/customers/{c.id}?tab=timeline",
             f"/customers/{c.id}?tab=followups", f"/customers/{c.id}/timeline"]
    client.login(rep)
    for url in pages + ["/pools", f"/pools?q={c.name[2:5]}"]:
        for htmx in (False, True):
            r = client.get(url, htmx=htmx)
            html = r.get_data(as_text=True)
            fragment = htmx or url.endswith("/timeline")  # the tab or the rows alone
            assert r.status_code == 200 and (fragment or c.name in html), url
            leaked = [s for s in secrets if s in html]
            assert leaked == [], (url, htmx, leaked)
    contacts = client.get(f"/customers/{c.id}?tab=contacts").get_data(as_text=True)
    assert "139****5678" in contacts and "b***@example.cn" in contacts  # recognisable, not usable
    assert "021****4321" in client.get(f"/customers/{c.id}").get_data(as_text=True)

    assert client.post(f"/pools/{c.id}/claim", htmx=True).status_code == 200
    assert Customer.get_by_id(c.id).owner_id == rep.id
    profile = client.get(f"/customers/{c.id}").get_data(as_text=True)
    contacts = client.get(f"/customers/{c.id}?tab=contacts").get_data(as_text=True)
    assert NEW_PHONE in profile and CUSTOMER_PHONE in profile  # the edit's history, now in full
    assert CONTACT_MOBILE in contacts and CONTACT_EMAIL in contacts


def test_a_manager_and_an_admin_see_a_pool_customers_details_only_as_their_role_allows(client, pool_world):
    """The mask is for sellers browsing the pool; service and admin work with the full file."""
    c = pool_world.customers["pool_here"]
    for who, shown in (("mgr_a", False), ("service", True), ("admin", True)):
        client.login(pool_world.users[who])
        html = client.get(f"/customers/{c.id}?tab=contacts").get_data(as_text=True)
        assert (CONTACT_MOBILE in html and CONTACT_EMAIL in html) == shown, who
