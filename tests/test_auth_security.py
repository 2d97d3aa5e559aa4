"""Issue 11: login throttling per (username, address) with backoff, counted atomically, unknown users costing
what known ones cost; sessions that logout, a password change and deactivation end on the server.

Nothing here measures time: password checks are counted, sessions are proven by the pages a copied
cookie still opens."""
import datetime as dt
import threading
import time

import pytest

import models.users as users
from models import clock
from models.errors import DomainError
from models.users import LoginAttempt, User
from tests.conftest import FROZEN, PASSWORD, Client
from tests.test_pool_concurrency import fire

from tests.test_users import THROTTLED, WRONG  # noqa: E402  the login messages, spelled once

NETWORK = "Too many failed attempts from this network"


def new_client(app):
    other = Client(app)
    other.http.set_cookie("lang", "en")
    return other


def attempt(client, username, password, address):
    client.token = None
    r = client.post("/login", data={"username": username, "password": password},
                    environ_base={"REMOTE_ADDR": address})
    client.token = None
    return r


def fail(client, username, address, times=1):
    for _ in range(times):
        r = attempt(client, username, "wrong-password", address)
        assert r.status_code == 200 and WRONG in r.get_data(as_text=True)


@pytest.fixture
def hash_checks(monkeypatch):
    """Every password hash check, as (hash method, password): counted, never timed."""
    calls, lock = [], threading.Lock()
    real = users.check_password_hash

    def counting(password_hash, password):
        with lock:
            calls.append((password_hash.split("$")[0], password))
        time.sleep(0.005)  # widens the window in which simultaneous attempts could slip past a count
        return real(password_hash, password)

    monkeypatch.setattr(users, "check_password_hash", counting)
    return calls


# ---- throttling: who is held back --------------------------------------------------------------

def test_one_persons_typos_do_not_lock_a_colleague_behind_the_same_address(en_client, make_user):
    typist, colleague = make_user("sales"), make_user("sales")
    fail(en_client, typist.username, "10.8.0.1", 5)
    assert THROTTLED in attempt(en_client, typist.username, PASSWORD, "10.8.0.1").get_data(as_text=True)
    # The office's NAT address is one address: everyone else behind it still logs in.
    assert attempt(en_client, colleague.username, PASSWORD, "10.8.0.1").status_code == 303


def test_failures_from_one_address_do_not_lock_the_account_from_another(en_client, make_user):
    rep = make_user("sales")
    fail(en_client, rep.username, "203.0.113.9", 5)  # a stranger guessing the rep's password
    assert THROTTLED in attempt(en_client, rep.username, PASSWORD, "203.0.113.9").get_data(as_text=True)
    assert attempt(en_client, rep.username, PASSWORD, "10.8.0.1").status_code == 303


def test_backoff_doubles_from_one_minute_up_to_fifteen(en_client, make_user):
    rep = make_user("sales")
    fail(en_client, rep.username, "10.8.0.1", 5)
    at = FROZEN
    for wait in (1, 2, 4, 8, 15, 15):
        local = clock.to_local(at + dt.timedelta(minutes=wait)).strftime("%H:%M")
        body = attempt(en_client, rep.username, PASSWORD, "10.8.0.1").get_data(as_text=True)
        assert THROTTLED in body and local in body, wait
        clock.freeze(at + dt.timedelta(minutes=wait, seconds=-1))
        assert THROTTLED in attempt(en_client, rep.username, PASSWORD, "10.8.0.1").get_data(as_text=True)
        at = at + dt.timedelta(minutes=wait)
        clock.freeze(at)
        fail(en_client, rep.username, "10.8.0.1")  # the lock is over: one more guess, a longer wait
    # The refused attempts were neither evaluated nor recorded: 5 + one per lock.
    assert LoginAttempt.select().count() == 5 + 6


def test_a_success_clears_the_count_of_that_username_and_address(en_client, make_user):
    rep = make_user("sales")
    for _ in range(3):
        fail(en_client, rep.username, "10.8.0.1", 4)
        assert attempt(en_client, rep.username, PASSWORD, "10.8.0.1").status_code == 303
    assert not users.LoginThrottle.select().where(users.LoginThrottle.username == rep.username).exists()


def test_the_count_outlives_fifteen_minutes_but_a_quiet_hour_starts_it_again(en_client, make_user):
    rep = make_user("sales")
    fail(en_client, rep.username, "10.8.0.1", 4)
    clock.freeze(FROZEN + dt.timedelta(minutes=16))
    fail(en_client, rep.username, "10.8.0.1")  # the 5th: guessing slowly does not escape the backoff
    assert THROTTLED in attempt(en_client, rep.username, PASSWORD, "10.8.0.1").get_data(as_text=True)
    clock.freeze(FROZEN + dt.timedelta(minutes=16 + 60))
    fail(en_client, rep.username, "10.8.0.1", 4)
    assert attempt(en_client, rep.username, PASSWORD, "10.8.0.1").status_code == 303


@pytest.mark.slow  # many seconds: left out of the fast loop
def test_spraying_many_accounts_from_one_address_meets_the_address_ceiling(app, make_user):
    rep = make_user("sales")
    address = "198.51.100.7"
    # An office's successful logins do not use the ceiling up: only failures count.
    for _ in range(3):
        users.authenticate(rep.username, PASSWORD, address)
    for n in range(users.ADDRESS_FAILURES):
        with pytest.raises(DomainError) as exc:
            users.authenticate(f"guess{n}", "Summer2026!", address)
        assert exc.value.message.startswith(WRONG)
    with pytest.raises(DomainError) as exc:
        users.authenticate(rep.username, PASSWORD, address)
    assert exc.value.message.startswith(NETWORK) and exc.value.params["time"] == "10:15"
    # The refused attempt left no count behind for the pair, and other addresses are not concerned.
    assert not users.LoginThrottle.select().where(users.LoginThrottle.username == rep.username).exists()
    assert users.authenticate(rep.username, PASSWORD, "198.51.100.8").id == rep.id
    clock.freeze(FROZEN + users.ADDRESS_WINDOW)
    assert users.authenticate(rep.username, PASSWORD, address).id == rep.id


def test_the_network_message_is_translated(client, make_user):
    client.http.set_cookie("lang", "zh_CN")
    with users.db.atomic():
        users.AddressThrottle.create(address="198.51.100.7", failures=users.ADDRESS_FAILURES, window_start=FROZEN)
    r = attempt(client, make_user("sales").username, PASSWORD, "198.51.100.7")
    assert r.status_code == 200 and "网络" in r.get_data(as_text=True)


# ---- throttling: counted atomically, unknown users cost the same ------------------------------------

def test_forty_simultaneous_guesses_get_at_most_five_evaluated(make_user, hash_checks):
    rep = make_user("sales")

    results = fire([lambda: users.authenticate(rep.username, "wrong-password", "10.8.0.1") for _ in range(40)])

    assert len(hash_checks) == users.THROTTLE_FAILURES
    messages = sorted(r[1] for r in results)
    assert all(r[0] == "domain" for r in results)
    assert sum(m.startswith(WRONG) for m in messages) == 5
    assert sum(m.startswith(THROTTLED) for m in messages) == 35
    assert LoginAttempt.select().count() == 5
    # The right password is refused too until the backoff ends.
    assert THROTTLED in fire([lambda: users.authenticate(rep.username, PASSWORD, "10.8.0.1")])[0][1]


def test_an_unknown_username_costs_one_hash_check_like_a_known_one(en_client, make_user, hash_checks):
    rep = make_user("sales")
    gone = make_user("sales", active=False)
    answers = []
    for username in (rep.username, "nobody-here", gone.username):
        before = len(hash_checks)
        r = attempt(en_client, username, "wrong-password", "10.8.0.1")
        answers.append(r.get_data(as_text=True).count(WRONG))
        assert len(hash_checks) == before + 1, username
    assert answers == [1, 1, 1]
    # The unknown username was checked against a hash made the same way as the users' hashes.
    assert hash_checks[1][0] == hash_checks[0][0] == User.get_by_id(rep.id).password_hash.split("$")[0]
    # A deactivated user with the right password: the same check, the same answer.
    before = len(hash_checks)
    assert WRONG in attempt(en_client, gone.username, PASSWORD, "10.8.0.2").get_data(as_text=True)
    assert len(hash_checks) == before + 1


# ---- sessions ------------------------------------------------------------------------------------

def copy_of(client):
    """Another browser holding a copy of this client's session cookie."""
    thief = new_client(client.app)
    thief.http.set_cookie("session", client.http.get_cookie("session").value)
    return thief


def test_a_cookie_copied_before_logout_stops_working(en_client, make_user):
    rep = make_user("sales")
    en_client.login(rep)
    elsewhere = new_client(en_client.app)
    elsewhere.login(rep)  # the rep's other browser
    thief = copy_of(en_client)
    assert thief.get("/").status_code == 200
    assert en_client.post("/logout").status_code == 303
    r = thief.get("/")
    assert r.status_code == 302 and r.location.startswith("/login")
    assert thief.get("/", htmx=True).headers["HX-Redirect"].startswith("/login")
    assert elsewhere.get("/").status_code == 200  # logout ends this session only


def test_the_session_token_is_stored_hashed(en_client, make_user):
    rep = make_user("sales")
    en_client.login(rep)
    app = en_client.app
    cookie = app.session_interface.get_signing_serializer(app).loads(en_client.http.get_cookie("session").value)
    user_id, _, token = cookie["_user_id"].partition(":")
    session = users.UserSession.get(users.UserSession.user == rep.id)
    assert user_id == str(rep.id) and len(token) >= 40 and session.revoked_at is None
    assert not users.UserSession.select().where(users.UserSession.token_hash == token).exists()
    assert session.token_hash == users._token_hash(token)


def test_an_admin_password_reset_ends_the_users_sessions(en_client, make_user):
    admin, rep = make_user("admin"), make_user("sales")
    rep_browser = new_client(en_client.app)
    rep_browser.login(rep)
    en_client.login(admin)
    r = en_client.post(f"/admin/users/{rep.id}/edit",
                       data={"username": rep.username, "full_name": rep.full_name, "role": "sales", "team_id": "",
                             "region_id": "", "language": "en", "email": "", "password": "brand-new-pass"})
    assert r.status_code == 303
    r = rep_browser.get("/")
    assert r.status_code == 302 and r.location.startswith("/login")
    assert rep_browser.login(rep, password="brand-new-pass").status_code == 303


def test_changing_ones_own_password_keeps_this_browser_and_ends_the_others(en_client, make_user):
    admin = make_user("admin")
    en_client.login(admin)
    other = new_client(en_client.app)
    other.login(admin)
    thief = copy_of(en_client)
    r = en_client.post(f"/admin/users/{admin.id}/edit",
                       data={"username": admin.username, "full_name": admin.full_name, "role": "admin",
                             "team_id": "", "region_id": "", "language": "en", "email": "",
                             "password": "brand-new-pass"})
    assert r.status_code == 303
    assert en_client.get("/").status_code == 200  # re-issued
    assert other.get("/").status_code == 302
    assert thief.get("/").status_code == 302  # the copy holds the old session


def test_deactivation_ends_the_sessions_for_good(en_client, make_user):
    admin, rep = make_user("admin"), make_user("sales")
    rep_browser = new_client(en_client.app)
    rep_browser.login(rep)
    en_client.login(admin)
    assert en_client.post(f"/admin/users/{rep.id}/active", data={"active": "0"}).status_code == 303
    assert en_client.post(f"/admin/users/{rep.id}/active", data={"active": "1"}).status_code == 303
    # Reactivated, the rep logs in afresh: the cookie from before the deactivation stays dead.
    assert rep_browser.get("/").status_code == 302
    assert rep_browser.login(rep).status_code == 303 and rep_browser.get("/").status_code == 200


def test_a_session_ends_on_the_server_after_its_lifetime(en_client, make_user):
    rep = make_user("sales")
    en_client.login(rep)
    clock.freeze(FROZEN + dt.timedelta(hours=11, minutes=59))
    assert en_client.get("/").status_code == 200
    clock.freeze(FROZEN + dt.timedelta(hours=12))
    assert en_client.get("/").status_code == 302


def test_last_seen_is_written_at_most_once_a_minute(en_client, make_user):
    rep = make_user("sales")
    en_client.login(rep)

    def last_seen():
        return users.UserSession.get(users.UserSession.user == rep.id).last_seen_at

    clock.freeze(FROZEN + dt.timedelta(seconds=59))
    en_client.get("/")
    assert last_seen() == FROZEN
    clock.freeze(FROZEN + dt.timedelta(seconds=60))
    en_client.get("/")
    en_client.get("/")
    assert last_seen() == FROZEN + dt.timedelta(seconds=60)


def test_the_sweep_forgets_spent_counters_and_old_sessions(en_client, make_user):
    from models import hooks

    rep = make_user("sales")
    fail(en_client, rep.username, "10.8.0.1", 2)
    en_client.login(rep)
    assert hooks.run_sweeps(FROZEN)["users"] == {"throttles": 0, "sessions": 0}
    later = FROZEN + dt.timedelta(days=2)
    assert hooks.run_sweeps(later)["users"] == {"throttles": 3, "sessions": 1}  # the pair, two addresses
    assert hooks.run_sweeps(later)["users"] == {"throttles": 0, "sessions": 0}


def test_a_fragment_asked_without_a_session_sends_the_page_to_the_login_with_the_page_as_next(client):
    """A badge polled after the session ended: the page goes to the login, and back to that page after it — not
    to the badge's fragment (a browser test found /login?next=/notifications/badge)."""
    response = client.get("/notifications/badge", htmx=True,
                          headers={"HX-Current-URL": "http://kehu.local/customers?scope=team"})
    assert response.headers["HX-Redirect"] == "/login?next=/customers?scope%3Dteam"
    # only the path is kept: another host's address cannot become the way back
    response = client.get("/notifications/badge", htmx=True, headers={"HX-Current-URL": "http://evil.example/x"})
    assert response.headers["HX-Redirect"] == "/login?next=/x"
    # no page said (an htmx request from elsewhere): the request itself, as before
    assert client.get("/notifications/badge", htmx=True).headers["HX-Redirect"] == "/login?next=/notifications/badge?"
