"""models.base.kept_select: a statement built once, run with each call's values, reads what the query
built each time reads (the session's user on every request), on either engine."""
import datetime as dt

import pytest

from models import clock
from models.base import _KEPT, kept_select
from models.users import User, UserSession, _live_session, _token_hash, end_session, session_user, start_session


def _built(token, user_id, born_after):
    return [(s.id, s.user.id, s.user.username) for s in _live_session(_token_hash(token), user_id, born_after)]


def _kept(token, user_id, born_after):
    return [(s.id, s.user.id, s.user.username) for s in
            kept_select("session_user", _live_session, _token_hash(token), user_id, born_after)]


def test_the_kept_statement_reads_what_the_query_reads(app, make_user):
    a, b = make_user("sales"), make_user("manager")
    tokens = {a.id: start_session(a), b.id: start_session(b)}
    old = clock.now() - dt.timedelta(days=1)
    cases = [(tokens[a.id], a.id, old), (tokens[b.id], b.id, old), (tokens[a.id], b.id, old),
             ("not-a-token", a.id, old), (tokens[a.id], a.id, clock.now() + dt.timedelta(seconds=1))]
    for _ in range(2):  # built, then kept
        for case in cases:
            assert _kept(*case) == _built(*case), case
    assert len(_kept(*cases[0])) == 1 and _kept(*cases[2]) == []
    end_session(tokens[a.id])
    User.update(active=False).where(User.id == b.id).execute()
    assert _kept(*cases[0]) == _built(*cases[0]) == []
    assert _kept(*cases[1]) == _built(*cases[1]) == []
    assert session_user(a.id, tokens[a.id]) is None


def test_a_live_session_gives_its_user_with_the_token(app, make_user):
    user = make_user("sales")
    token = start_session(user)
    found = session_user(user.id, token)
    assert found.id == user.id and found.username == user.username and found.session_token == token
    assert session_user(user.id + 1, token) is None


def test_a_value_the_statement_does_not_show_keeps_nothing(app, make_user):
    user = make_user("sales")

    def build(name):  # the value is changed before it reaches the statement: no mark to find
        return User.select().where(User.username == name[1:])

    assert [u.id for u in kept_select("test-cut", build, f"x{user.username}")] == [user.id]
    assert not any(key[0] == "test-cut" for key in _KEPT)
    with pytest.raises(TypeError):
        kept_select("test-bool", lambda flag: User.select().where(User.active == flag), True)
