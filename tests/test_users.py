"""Users and the way in: login, throttling, CSRF, redirects, administration of users and teams, language."""
import datetime as dt
import re

import pytest

import app as app_module
from models import clock
from models.audit import AuditEvent
from models.customers import set_owner
from models.users import LoginAttempt, Team, User
from tests.conftest import FROZEN, PASSWORD, TEST_CONFIG, Client

WRONG = "Wrong username or password"
THROTTLED = "Too many failed attempts"




def login_as(client, user, password=PASSWORD, address=None, next_url=None):
    url = "/login" + (f"?next={next_url}" if next_url else "")
    kw = {"environ_base": {"REMOTE_ADDR": address}} if address else {}
    client.token = None
    response = client.post(url, data={"username": user.username, "password": password}, **kw)
    client.token = None
    return response


def html_lang(response):
    return re.search(r'<html lang="([^"]+)"', response.get_data(as_text=True)).group(1)


# ---- login and logout ---------------------------------------------------------------------------

def test_login_success_redirects_to_workbench_and_records_attempt(en_client, make_user):
    user = make_user("sales")
    r = en_client.login(user)
    assert r.status_code == 303 and r.location == "/"
    assert en_client.get("/").status_code == 200
    attempt = LoginAttempt.get(LoginAttempt.username == user.username)
    assert attempt.success and attempt.at == FROZEN


def test_login_with_upper_case_username_works(en_client, make_user):
    make_user("sales", username="wang.wei")
    r = en_client.post("/login", data={"username": "  Wang.Wei ", "password": PASSWORD})
    assert r.status_code == 303


def test_wrong_password_shows_message_and_stays_logged_out(en_client, make_user):
    user = make_user("sales")
    r = en_client.login(user, password="not-the-password")
    assert r.status_code == 200
    body = r.get_data(as_text=True)
    assert 'id="login-error"' in body and WRONG in body
    assert f'value="{user.username}"' in body  # the username is kept in the form
    assert en_client.get("/").status_code == 302
    assert LoginAttempt.get(LoginAttempt.username == user.username).success is False


def test_unknown_user_gets_the_same_message(en_client):
    r = en_client.post("/login", data={"username": "nobody-here", "password": PASSWORD})
    assert r.status_code == 200 and WRONG in r.get_data(as_text=True)


def test_deactivated_user_cannot_log_in_and_keeps_history(en_client, make_user, make_customer):
    admin = make_user("admin")
    rep = make_user("sales")
    customer = make_customer(owner=rep)
    en_client.login(rep)
    en_client.post(f"/customers/{customer.id}/stage", data={"stage": "intent"})
    events_by_rep = AuditEvent.select().where(AuditEvent.actor == rep.id).count()
    assert events_by_rep == 1

    en_client.login(admin)
    # While the rep owns a customer, deactivation is refused and the leaver wizard opens instead.
    r = en_client.post(f"/admin/users/{rep.id}/active", data={"active": "0"})
    assert r.status_code == 303 and r.location.endswith(f"/transfers/leaver/{rep.id}")
    assert User.get_by_id(rep.id).active is True
    set_owner(admin, customer, make_user("sales"), "离职交接")
    r = en_client.post(f"/admin/users/{rep.id}/active", data={"active": "0"})
    assert r.status_code == 303
    assert User.get_by_id(rep.id).active is False
    assert AuditEvent.get(AuditEvent.kind == "user.deactivated").data["user_id"] == rep.id

    other = Client(en_client.app)
    other.http.set_cookie("lang", "en")
    r = other.login(rep)
    assert r.status_code == 200 and WRONG in r.get_data(as_text=True)
    # History stays: their audit rows are still there (the customer went to a colleague first).
    assert User.get_by_id(rep.id).customers.count() == 0
    assert AuditEvent.select().where(AuditEvent.actor == rep.id).count() == events_by_rep
    page = en_client.get(f"/customers/{customer.id}").get_data(as_text=True)
    assert rep.full_name in page


def test_deactivating_logs_out_an_open_session(en_client, make_user):
    admin = make_user("admin")
    rep = make_user("sales")
    rep_client = Client(en_client.app)
    rep_client.login(rep)
    assert rep_client.get("/").status_code == 200
    en_client.login(admin)
    en_client.post(f"/admin/users/{rep.id}/active", data={"active": "0"})
    r = rep_client.get("/")
    assert r.status_code == 302 and r.location.startswith("/login")


def test_logout_is_a_post_with_csrf(en_client, make_user):
    user = make_user("sales")
    en_client.login(user)
    assert en_client.get("/logout").status_code == 405
    assert en_client.post("/logout", csrf=False).status_code == 400
    assert en_client.get("/").status_code == 200  # still logged in
    r = en_client.post("/logout")
    assert r.status_code == 303 and r.location == "/login"
    assert en_client.get("/").status_code == 302


def test_logout_from_htmx_answers_hx_redirect(en_client, make_user):
    en_client.login(make_user("sales"))
    r = en_client.post("/logout", htmx=True)
    assert r.headers["HX-Redirect"] == "/login"


# ---- throttling -----------------------------------------------------------------------------------

def _fail(client, username, address, times):
    for _ in range(times):
        r = client.post("/login", data={"username": username, "password": "wrong-password"},
                        environ_base={"REMOTE_ADDR": address})
        assert r.status_code == 200


def test_five_failures_lock_that_username_from_that_address_even_with_the_right_password(en_client, make_user):
    user = make_user("sales")
    for i in range(5):
        clock.freeze(FROZEN + dt.timedelta(minutes=i))
        _fail(en_client, user.username, "10.0.0.1", 1)
    r = login_as(en_client, user, address="10.0.0.1")
    assert r.status_code == 200
    body = r.get_data(as_text=True)
    assert THROTTLED in body
    # The 5th failure (10:04 in Shanghai) starts a one-minute wait; the backoff doubles from there
    # (tests/test_auth_security.py has the rest of the rules).
    assert "10:05" in body
    # The refused attempt is not recorded, so it does not extend the lock.
    assert LoginAttempt.select().count() == 5

    clock.freeze(FROZEN + dt.timedelta(minutes=4, seconds=59))
    assert THROTTLED in login_as(en_client, user, address="10.0.0.1").get_data(as_text=True)
    clock.freeze(FROZEN + dt.timedelta(minutes=5))
    assert login_as(en_client, user, address="10.0.0.1").status_code == 303


def test_four_failures_do_not_lock(en_client, make_user):
    user = make_user("sales")
    _fail(en_client, user.username, "10.0.0.9", 4)
    assert login_as(en_client, user, address="10.0.0.9").status_code == 303


def test_failures_before_a_quiet_hour_do_not_count(en_client, make_user):
    user = make_user("sales")
    clock.freeze(FROZEN - dt.timedelta(minutes=61))
    _fail(en_client, user.username, "10.0.0.9", 3)
    clock.freeze(FROZEN)
    _fail(en_client, user.username, "10.0.0.9", 2)
    assert login_as(en_client, user, address="10.0.0.9").status_code == 303


# ---- CSRF, login redirects --------------------------------------------------------------------

def test_post_without_csrf_token_is_refused_on_protected_routes(en_client, make_user, make_customer):
    admin = make_user("admin")
    customer = make_customer(owner=make_user("sales"))
    en_client.login(admin)
    before = (AuditEvent.select().count(), User.select().count())
    for url, data in (("/customers/new", {"name": "无令牌公司", "business_model": "consumer", "source": "website"}),
                      (f"/customers/{customer.id}/stage", {"stage": "signed"}),
                      (f"/customers/{customer.id}/followups/new", {"type": "call", "content": "x" * 30}),
                      ("/language", {"language": "zh_CN"}),
                      ("/admin/users/new", {"username": "nocsrf", "full_name": "No", "role": "sales",
                                            "password": "long-enough-1"}),
                      ("/logout", {})):
        r = en_client.post(url, data=data, csrf=False)
        assert r.status_code == 400, url
        assert "The form expired" in r.get_data(as_text=True)
    assert (AuditEvent.select().count(), User.select().count()) == before
    assert User.get_by_id(admin.id).language == "en"


def test_csrf_token_from_another_session_is_refused(app, make_user):
    a, b = Client(app), Client(app)
    a.login(make_user("sales"))
    b.login(make_user("sales"))
    stolen = b._csrf()
    r = a.post("/language", data={"language": "zh_CN", "csrf_token": stolen})
    assert r.status_code == 400


def test_unauthenticated_htmx_request_gets_hx_redirect_to_login(en_client):
    r = en_client.get("/customers?q=abc", htmx=True)
    assert r.status_code == 204
    assert r.headers["HX-Redirect"].startswith("/login?next=")
    assert "<html" not in r.get_data(as_text=True)
    r = en_client.post("/customers/new", data={"name": "x"}, htmx=True)
    assert r.headers["HX-Redirect"] == "/login"


def test_unauthenticated_page_request_redirects_with_next(en_client, make_user):
    r = en_client.get("/customers?stage=target")
    assert r.status_code == 302 and r.location.startswith("/login?next=")
    user = make_user("sales")
    r = login_as(en_client, user, next_url="/customers%3Fstage%3Dtarget")
    assert r.status_code == 303 and r.location == "/customers?stage=target"


@pytest.mark.parametrize("target", ["//evil.com", "//evil.com/customers", "http://evil", "https://evil.com/x",
                                    "https:evil.com", "evil.com", "%2F%2Fevil.com", "javascript:alert(1)"])
def test_next_parameter_open_redirect_is_refused(en_client, make_user, target):
    r = login_as(en_client, make_user("sales"), next_url=target)
    assert r.status_code == 303
    assert r.location == "/"


def test_next_with_backslash_stays_on_this_site(en_client, make_user):
    r = login_as(en_client, make_user("sales"), next_url="/%5Cevil.com")
    assert r.status_code == 303
    # Browsers read a raw "/\" as "//"; the location must not start with either.
    assert not r.location.startswith(("//", "/\\"))


# ---- administration: users ----------------------------------------------------------------------

def user_form(**over):
    data = {"username": "li.na", "full_name": "李娜", "email": "li.na@example.com", "role": "sales",
            "team_id": "", "region_id": "", "language": "zh_CN", "password": "secret-pass-1"}
    data.update(over)
    return data


def test_admin_creates_a_user_who_can_log_in(en_client, make_user, make_team):
    admin = make_user("admin")
    team = make_team(name="华东一组")
    en_client.login(admin)
    assert en_client.get("/admin/users/new").status_code == 200
    r = en_client.post("/admin/users/new", data=user_form(team_id=str(team.id)))
    assert r.status_code == 303 and r.location == "/admin/users"
    created = User.get(User.username == "li.na")
    assert (created.full_name, created.role, created.team_id, created.language, created.active) == \
        ("李娜", "sales", team.id, "zh_CN", True)
    event = AuditEvent.get(AuditEvent.kind == "user.created")
    assert event.actor_id == admin.id and event.data["user_id"] == created.id
    assert "li.na" in en_client.get("/admin/users").get_data(as_text=True)
    assert Client(en_client.app).login(created, password="secret-pass-1").status_code == 303


def test_admin_creates_a_user_through_htmx(en_client, make_user):
    en_client.login(make_user("admin"))
    r = en_client.post("/admin/users/new", data=user_form(), htmx=True)
    assert r.status_code == 204 and r.headers["HX-Redirect"] == "/admin/users"


@pytest.mark.parametrize("over, field_text", [
    ({"username": "a"}, "2–40 characters"),
    ({"username": "has space"}, "2–40 characters"),
    ({"username": "名字"}, "2–40 characters"),
    ({"username": "x" * 41}, "2–40 characters"),
    ({"username": "taken"}, "This username is taken."),
    ({"username": "TAKEN"}, "This username is taken."),
    ({"password": "short7c"}, "8 to 128 characters."),
    ({"password": ""}, "8 to 128 characters."),
    ({"password": "p" * 129}, "8 to 128 characters."),
    ({"role": "superuser"}, "Choose a role."),
    ({"role": ""}, "Choose a role."),
    ({"full_name": ""}, "Required."),
    ({"email": "not-an-address"}, "Not a valid e-mail address."),
    ({"team_id": "99999"}, "Choose a team."),
    ({"language": "fr"}, "Choose a language."),
])
def test_admin_user_validation(en_client, make_user, over, field_text):
    make_user("sales", username="taken")
    en_client.login(make_user("admin"))
    users_before = User.select().count()
    r = en_client.post("/admin/users/new", data=user_form(**over))
    assert r.status_code == 200
    body = r.get_data(as_text=True)
    assert field_text in body and "Nothing was saved" in body
    assert User.select().count() == users_before
    assert not AuditEvent.select().where(AuditEvent.kind == "user.created").exists()


def test_admin_edits_a_user(en_client, make_user, make_team, make_customer):
    admin = make_user("admin")
    team = make_team()
    rep = make_user("sales", full_name="Old Name")
    customer = make_customer(owner=rep)
    en_client.login(admin)
    assert "Old Name" in en_client.get(f"/admin/users/{rep.id}/edit").get_data(as_text=True)
    r = en_client.post(f"/admin/users/{rep.id}/edit",
                       data=user_form(username="ignored", full_name="New Name", role="sales",
                                      team_id=str(team.id), language="en", password=""))
    assert r.status_code == 303
    rep = User.get_by_id(rep.id)
    assert rep.username != "ignored" and rep.full_name == "New Name" and rep.team_id == team.id
    # The customer follows its owner into the new team (so the manager's view stays right).
    assert customer.__class__.get_by_id(customer.id).team_id == team.id
    changes = AuditEvent.get(AuditEvent.kind == "user.updated").data["changes"]
    assert changes["full_name"] == ["Old Name", "New Name"] and changes["team_id"] == [None, team.id]
    assert "password" not in changes
    assert Client(en_client.app).login(rep).status_code == 303  # password unchanged


def test_admin_resets_a_password(en_client, make_user):
    admin = make_user("admin")
    rep = make_user("sales")
    en_client.login(admin)
    r = en_client.post(f"/admin/users/{rep.id}/edit",
                       data=user_form(full_name=rep.full_name, role="sales", language="en",
                                      password="brand-new-pass"))
    assert r.status_code == 303
    assert AuditEvent.get(AuditEvent.kind == "user.updated").data["changes"]["password"] == ["***", "***"]
    other = Client(en_client.app)
    other.http.set_cookie("lang", "en")
    assert WRONG in other.login(rep).get_data(as_text=True)
    assert other.login(rep, password="brand-new-pass").status_code == 303


def test_admin_password_reset_too_short_is_refused(en_client, make_user):
    admin = make_user("admin")
    rep = make_user("sales")
    en_client.login(admin)
    r = en_client.post(f"/admin/users/{rep.id}/edit",
                       data=user_form(full_name=rep.full_name, role="sales", password="short"))
    assert r.status_code == 200 and "8 to 128 characters." in r.get_data(as_text=True)
    assert Client(en_client.app).login(rep).status_code == 303


def test_admin_deactivates_and_reactivates(en_client, make_user):
    admin = make_user("admin")
    rep = make_user("sales")
    en_client.login(admin)
    assert en_client.post(f"/admin/users/{rep.id}/active", data={"active": "0"}).status_code == 303
    assert User.get_by_id(rep.id).active is False
    assert "Deactivated" in en_client.get("/admin/users").get_data(as_text=True)
    assert en_client.post(f"/admin/users/{rep.id}/active", data={"active": "1"}, htmx=True).headers["HX-Redirect"] \
        == "/admin/users"
    assert User.get_by_id(rep.id).active is True
    kinds = [e.kind for e in AuditEvent.select().order_by(AuditEvent.id)]
    assert kinds == ["user.deactivated", "user.activated"]
    assert Client(en_client.app).login(rep).status_code == 303


def test_admin_cannot_deactivate_self(en_client, make_user):
    admin = make_user("admin")
    en_client.login(admin)
    r = en_client.post(f"/admin/users/{admin.id}/active", data={"active": "0"}, htmx=True)
    assert r.status_code == 409
    assert "You cannot deactivate yourself." in r.get_data(as_text=True)
    assert User.get_by_id(admin.id).active is True
    assert not AuditEvent.select().exists()


def test_admin_huge_numbers_are_junk_not_errors(en_client, make_user):
    en_client.login(make_user("admin"))
    huge = "99999999999999999999999"
    r = en_client.post("/admin/users/new", data=user_form(team_id=huge, region_id=huge))
    assert r.status_code == 200 and "Choose a team." in r.get_data(as_text=True)
    r = en_client.post("/admin/teams/new", data={"name": "大数组", "manager_id": huge, "region_id": huge})
    assert r.status_code == 200 and "Choose a user with the manager role." in r.get_data(as_text=True)
    assert en_client.get(f"/admin/audit?before={huge}").status_code == 200
    assert not User.select().where(User.username == "li.na").exists()
    assert not Team.select().exists()


def test_admin_unknown_user_is_404(en_client, make_user):
    en_client.login(make_user("admin"))
    assert en_client.get("/admin/users/999999/edit").status_code == 404
    assert en_client.post("/admin/users/999999/active", data={"active": "0"}).status_code == 404
    assert en_client.get("/admin/users/99999999999999999999999/edit").status_code == 404


# ---- administration: teams ----------------------------------------------------------------------

def test_admin_creates_and_edits_a_team_with_a_manager(en_client, make_user):
    admin = make_user("admin")
    boss = make_user("manager", full_name="Boss One")
    boss2 = make_user("manager", full_name="Boss Two")
    en_client.login(admin)
    r = en_client.post("/admin/teams/new", data={"name": "华南二组", "region_id": "", "manager_id": str(boss.id)})
    assert r.status_code == 303 and r.location == "/admin/teams"
    team = Team.get(Team.name == "华南二组")
    assert team.manager_id == boss.id
    assert User.get_by_id(boss.id).team_id == team.id  # the manager joins the team they lead
    assert AuditEvent.get(AuditEvent.kind == "team.created").data["team_id"] == team.id
    listing = en_client.get("/admin/teams").get_data(as_text=True)
    assert "华南二组" in listing and "Boss One" in listing

    r = en_client.post(f"/admin/teams/{team.id}/edit", data={"name": "华南三组", "manager_id": str(boss2.id)})
    assert r.status_code == 303
    team = Team.get_by_id(team.id)
    assert (team.name, team.manager_id) == ("华南三组", boss2.id)
    assert AuditEvent.get(AuditEvent.kind == "team.updated").data["name"] == "华南三组"
    # Saving with its own name is not a duplicate.
    assert en_client.post(f"/admin/teams/{team.id}/edit", data={"name": "华南三组"}).status_code == 303


def test_team_manager_moves_with_their_customers(en_client, make_user, make_team, make_customer):
    admin = make_user("admin")
    old_team = make_team()
    boss = make_user("manager", team=old_team)
    customer = make_customer(owner=boss)
    assert customer.team_id == old_team.id
    en_client.login(admin)
    en_client.post("/admin/teams/new", data={"name": "新组", "manager_id": str(boss.id)})
    new_team = Team.get(Team.name == "新组")
    assert User.get_by_id(boss.id).team_id == new_team.id
    # Customers follow their owner's team (as when the admin edits the user's team).
    assert customer.__class__.get_by_id(customer.id).team_id == new_team.id


@pytest.mark.parametrize("role", ["sales", "admin", "marketing", "service"])
def test_team_manager_must_have_the_manager_role(en_client, make_user, role):
    en_client.login(make_user("admin"))
    not_manager = make_user(role)
    r = en_client.post("/admin/teams/new", data={"name": "坏组", "manager_id": str(not_manager.id)})
    assert r.status_code == 200
    assert "Choose a user with the manager role." in r.get_data(as_text=True)
    assert not Team.select().where(Team.name == "坏组").exists()


@pytest.mark.parametrize("data, message", [
    ({"name": ""}, "1 to 60 characters."),
    ({"name": "x" * 61}, "1 to 60 characters."),
    ({"name": "已有组"}, "A team with this name exists."),
    ({"name": "好组", "manager_id": "abc"}, "Choose a user with the manager role."),
    ({"name": "好组", "region_id": "9999"}, "Choose a region."),
])
def test_team_validation(en_client, make_user, make_team, data, message):
    make_team(name="已有组")
    en_client.login(make_user("admin"))
    teams = Team.select().count()
    r = en_client.post("/admin/teams/new", data=data)
    assert r.status_code == 200 and message in r.get_data(as_text=True)
    assert Team.select().count() == teams


def test_renaming_a_team_to_an_existing_name_is_refused(en_client, make_user, make_team):
    make_team(name="甲组")
    second = make_team(name="乙组")
    en_client.login(make_user("admin"))
    r = en_client.post(f"/admin/teams/{second.id}/edit", data={"name": "甲组"})
    assert r.status_code == 200 and "A team with this name exists." in r.get_data(as_text=True)
    assert Team.get_by_id(second.id).name == "乙组"


# ---- non-admins never see /admin ----------------------------------------------------------------

def _admin_urls(app, ids):
    out = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/admin"):
            continue
        url = rule.rule
        for arg in rule.arguments:
            url = url.replace(f"<int:{arg}>", str(ids.get(arg, 1)))  # other records (a criterion ...): id 1
        for method in sorted(rule.methods & {"GET", "POST"}):
            out.append((method, url))
    return out


@pytest.mark.parametrize("role", ["sales", "manager", "marketing", "service"])
def test_non_admins_get_404_on_every_admin_url(en_client, make_user, make_team, role):
    from models.customers import CustomField

    team = make_team()
    victim = make_user("sales", team=team)
    field = CustomField.create(key="brand", label_zh="品牌", label_en="Brand")
    urls = _admin_urls(en_client.app, {"user_id": victim.id, "team_id": team.id, "field_id": field.id})
    assert len(urls) >= 15  # the walk found the admin blueprint
    en_client.login(make_user(role, team=team))
    for method, url in urls:
        if method == "GET":
            r = en_client.get(url)
        else:
            r = en_client.post(url, data={"active": "0", "name": "hijack", "username": "hijack", "role": "admin",
                                          "full_name": "H", "password": "long-enough-1", "key": "hijack",
                                          "label_zh": "x", "label_en": "x", "kind": "text"})
        assert r.status_code == 404, (method, url)
    assert User.get_by_id(victim.id).active is True
    assert not User.select().where(User.username == "hijack").exists()
    assert Team.get_by_id(team.id).name != "hijack"
    assert not AuditEvent.select().exists()


def test_admin_can_open_every_admin_page(en_client, make_user, make_team):
    from models.customers import CustomField

    team = make_team()
    victim = make_user("sales", team=team)
    field = CustomField.create(key="brand", label_zh="品牌", label_en="Brand")
    en_client.login(make_user("admin"))
    for method, url in _admin_urls(en_client.app, {"user_id": victim.id, "team_id": team.id, "field_id": field.id}):
        if method == "GET":
            assert en_client.get(url).status_code == 200, url


# ---- language -----------------------------------------------------------------------------------

def test_language_switch_sets_the_user_language_and_the_next_page(en_client, make_user):
    user = make_user("sales", language="en")
    en_client.login(user)
    assert html_lang(en_client.get("/")) == "en"
    r = en_client.post("/language", data={"language": "zh_CN", "next": "/customers"})
    assert r.status_code == 303 and r.location == "/customers"
    assert User.get_by_id(user.id).language == "zh_CN"
    assert html_lang(en_client.get("/customers")) == "zh-CN"
    en_client.post("/language", data={"language": "en"}, htmx=True)
    assert User.get_by_id(user.id).language == "en"
    assert html_lang(en_client.get("/")) == "en"


def test_language_survives_a_new_login(app, make_user):
    user = make_user("sales", language="en")
    first = Client(app)
    first.login(user)
    first.post("/language", data={"language": "zh_CN"})
    second = Client(app)
    second.login(user)
    assert html_lang(second.get("/")) == "zh-CN"


def test_unknown_language_is_refused(en_client, make_user):
    user = make_user("sales", language="en")
    en_client.login(user)
    r = en_client.post("/language", data={"language": "fr"})
    assert r.status_code == 400
    assert User.get_by_id(user.id).language == "en"


def test_language_next_cannot_leave_the_site(en_client, make_user):
    en_client.login(make_user("sales"))
    r = en_client.post("/language", data={"language": "en", "next": "//evil.com"})
    assert r.status_code == 303 and r.location == "/"


def test_login_page_language_follows_the_cookie(client):
    r = client.get("/login?lang=en")
    assert r.status_code == 302
    assert html_lang(client.get("/login")) == "en"
    client.get("/login?lang=zh_CN")
    assert html_lang(client.get("/login")) == "zh-CN"


# ---- secret key ---------------------------------------------------------------------------------

def test_secret_key_is_generated_once_into_the_instance_folder(monkeypatch, tmp_path, db_url):
    import models

    instance = tmp_path / "instance"
    monkeypatch.setattr(app_module, "INSTANCE", instance)
    monkeypatch.delenv("KEHU_SECRET_KEY", raising=False)
    config = {"TESTING": True, "PASSWORD_METHOD": TEST_CONFIG["PASSWORD_METHOD"], "DATABASE_URL": db_url}
    try:
        first = app_module.create_app(dict(config))
        key_file = instance / "secret_key"
        assert key_file.exists()
        assert (key_file.stat().st_mode & 0o777) == 0o600
        key = key_file.read_text().strip()
        assert len(key) == 64 and first.config["SECRET_KEY"] == key
        second = app_module.create_app(dict(config))
        assert second.config["SECRET_KEY"] == key
        assert key_file.read_text().strip() == key
        # A configured key wins and the file is left alone.
        third = app_module.create_app({**config, "SECRET_KEY": "from-config"})
        assert third.config["SECRET_KEY"] == "from-config" and key_file.read_text().strip() == key
    finally:
        models.close_db()


def test_sessions_survive_an_app_restart_with_the_stored_key(monkeypatch, tmp_path, db_url):
    import models

    monkeypatch.setattr(app_module, "INSTANCE", tmp_path / "instance")
    monkeypatch.delenv("KEHU_SECRET_KEY", raising=False)
    config = {"TESTING": True, "PASSWORD_METHOD": TEST_CONFIG["PASSWORD_METHOD"], "DATABASE_URL": db_url}
    clock.freeze(FROZEN)
    try:
        first = app_module.create_app(dict(config))
        with models.db.connection_context():
            from models.users import hash_password
            User.create(username="restart", full_name="R", password_hash=hash_password(PASSWORD), role="sales",
                        created_at=FROZEN, language="en")
        c = Client(first)
        assert c.post("/login", data={"username": "restart", "password": PASSWORD}).status_code == 303
        cookie = c.http.get_cookie("session")
        second = app_module.create_app(dict(config))
        http = second.test_client()
        http.set_cookie("session", cookie.value)
        assert http.get("/").status_code == 200
    finally:
        clock.freeze(None)
        models.close_db()
