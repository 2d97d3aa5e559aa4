"""People: regions, teams, users with one primary role, login throttling and the server-side sessions."""
import datetime as dt
import hashlib
import re
import secrets

import peewee as pw
from werkzeug.security import check_password_hash, generate_password_hash

from models import audit, clock, hooks
from models.base import BaseModel, db, fresh, kept_select
from models.customers import Customer
from models.fields import id_or_none, parse_id
from models.errors import N_, DomainError, ValidationError
from models.permissions import require
from models.user_tables import (  # noqa: F401  the tables and the vocabulary, re-exported
    GRANT_LABELS, GRANTS, LANGUAGES, ROLE_LABELS, ROLES, Region, Team, User)

# Failed logins are counted per (username, address): one person's typos lock neither their colleagues
# behind the same NAT address nor their own account elsewhere. From the 5th failure on, each failure
# makes that pair wait 1, 2, 4, 8, then 15 minutes; an hour without a failure starts the count again.
THROTTLE_FAILURES = 5
THROTTLE_BACKOFF = dt.timedelta(minutes=1)
THROTTLE_BACKOFF_MAX = dt.timedelta(minutes=15)
THROTTLE_QUIET = dt.timedelta(hours=1)
# Password spraying (a few guesses at many accounts) is limited per address, with a ceiling an office
# of a few hundred reps does not reach with typos: 100 failures per 15 minutes.
ADDRESS_FAILURES = 100
ADDRESS_WINDOW = dt.timedelta(minutes=15)
PASSWORD_MIN = 8
# Overridden by the app factory (tests use a cheaper hash; sessions live as long as the session cookie).
password_method = "scrypt"
session_lifetime = dt.timedelta(hours=12)
SESSION_TOUCH = dt.timedelta(minutes=1)  # last_seen_at is written at most this often


class LoginAttempt(BaseModel):
    """Every evaluated login, kept as history (the admin's failed-logins count); throttling reads LoginThrottle."""
    at = pw.DateTimeField()
    username = pw.CharField(max_length=80)
    address = pw.CharField(max_length=64)
    success = pw.BooleanField()

    class Meta:
        indexes = ((("username", "at"), False), (("address", "at"), False))


class LoginThrottle(BaseModel):
    """Failures of one typed username from one address (the username need not exist). `locked_until`
    is set when the attempt is reserved, before its password is checked; a success deletes the row."""
    username = pw.CharField(max_length=80)
    address = pw.CharField(max_length=64)
    failures = pw.IntegerField(default=0)
    last_at = pw.DateTimeField()
    locked_until = pw.DateTimeField(null=True)

    class Meta:
        indexes = ((("username", "address"), True), (("last_at",), False))


class AddressThrottle(BaseModel):
    """Attempts from one address in the current window, successes given back: the ceiling against spraying."""
    address = pw.CharField(max_length=64, unique=True)
    failures = pw.IntegerField(default=0)
    window_start = pw.DateTimeField(index=True)


class UserSession(BaseModel):
    """One login: the browser's session cookie carries the token, the row only its SHA-256. Revoked by
    logout (this one), by a password change and by deactivation (all of the user's)."""
    token_hash = pw.CharField(max_length=64, unique=True)
    user = pw.ForeignKeyField(User, backref="sessions", on_delete="CASCADE", index=False)
    created_at = pw.DateTimeField()
    last_seen_at = pw.DateTimeField()
    revoked_at = pw.DateTimeField(null=True)
    address = pw.CharField(max_length=64, default="")
    agent = pw.CharField(max_length=200, default="")

    class Meta:
        indexes = ((("user", "revoked_at"), False), (("created_at",), False))


# ---- validation ------------------------------------------------------------------------------

USERNAME_RE = re.compile(r"^[a-z0-9_.-]{2,40}$")
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")


def _validate_user(data, user=None):
    errors = {}
    username = (data.get("username") or "").strip().lower()
    full_name = (data.get("full_name") or "").strip()
    email = (data.get("email") or "").strip()
    role = data.get("role") or ""
    if user is None:
        if not USERNAME_RE.match(username):
            errors["username"] = [(N_("2–40 characters: lower-case letters, digits, dot, dash or underscore."), {})]
        elif User.select().where(User.username == username).exists():
            errors["username"] = [(N_("This username is taken."), {})]
    if not full_name:
        errors["full_name"] = [(N_("Required."), {})]
    elif len(full_name) > 60:
        errors["full_name"] = [(N_("At most %(n)s characters."), {"n": 60})]
    if email and (len(email) > 120 or not EMAIL_RE.match(email)):
        errors["email"] = [(N_("Not a valid e-mail address."), {})]
    if role not in ROLES:
        errors["role"] = [(N_("Choose a role."), {})]
    if data.get("language") and data["language"] not in LANGUAGES:
        errors["language"] = [(N_("Choose a language."), {})]
    if user is None or data.get("password"):
        password = data.get("password") or ""
        if len(password) < PASSWORD_MIN or len(password) > 128:
            errors["password"] = [(N_("%(n)s to 128 characters."), {"n": PASSWORD_MIN})]
    team_id = data.get("team_id")
    team = None
    if team_id not in (None, "", 0):
        try:
            team = Team.get_by_id(parse_id(team_id))
        except (ValueError, Team.DoesNotExist):
            errors["team_id"] = [(N_("Choose a team."), {})]
    region_id = data.get("region_id")
    region = None
    if region_id not in (None, "", 0):
        try:
            region = Region.get_by_id(parse_id(region_id))
        except (ValueError, Region.DoesNotExist):
            errors["region_id"] = [(N_("Choose a region."), {})]
    if errors:
        raise ValidationError(errors)
    return username, full_name, email, role, team, region


def _grants(data):
    """The permissions ticked on the user form (`grant_<name>`), comma-separated; None when the form did
    not show them (`grants` marks that it did), so other callers leave them as they are."""
    if "grants" not in data:
        return None
    return ",".join(g for g in GRANTS if str(data.get(f"grant_{g}") or "") in ("1", "y", "on", "true"))


def hash_password(password):
    return generate_password_hash(password, method=password_method)


def create_user(actor, data):
    """Create a user (admin only). Validates every field; writes the audit row."""
    require(actor, "user.manage")
    username, full_name, email, role, team, region = _validate_user(data)
    with db.atomic():
        user = User.create(
            username=username, full_name=full_name, email=email, role=role, team=team,
            region=region or (team.region if team else None),
            language=data.get("language") or "zh_CN",
            password_hash=hash_password(data["password"]), created_at=clock.now(), grants=_grants(data) or "",
        )
        audit.record("user.created", actor, username=username, role=role, user_id=user.id)
    return user


def update_user(actor, user, data):
    """Edit name, e-mail, role, team, region, language; a non-empty password resets it."""
    require(actor, "user.manage")
    _, full_name, email, role, team, region = _validate_user(data, user)
    with db.atomic():
        fresh(user)  # compare with the row as it is now (deactivated, moved team meanwhile); write only changes
        changes = {}
        for field, value in (("full_name", full_name), ("email", email), ("role", role),
                             ("team_id", team.id if team else None),
                             ("region_id", region.id if region else None),
                             ("language", data.get("language") or user.language),
                             ("grants", user.grants if _grants(data) is None else _grants(data))):
            if getattr(user, field) != value:
                changes[field] = [getattr(user, field), value]
                setattr(user, field, value)
        if data.get("password"):
            user.password_hash = hash_password(data["password"])
            changes["password"] = ["***", "***"]
            revoke_sessions(user)  # whoever knew the old password is logged out everywhere
        user.save()
        if "team_id" in changes:
            # Customers follow their owner's team, so the manager's view stays right.
            Customer.update(team=user.team_id).where(Customer.owner == user.id).execute()
        if changes:
            audit.record("user.updated", actor, user_id=user.id, changes=changes)
    return user


class StillOwnsCustomers(DomainError):
    """A user who still owns customers cannot be deactivated: the leaver wizard hands them over first."""

    def __init__(self, user, count):
        super().__init__(N_("%(name)s still owns %(n)s customers: hand them over with the leaver wizard first. "
                            "No customer is ever left owned by a deactivated user."), name=user.full_name, n=count)
        self.user_id = user.id


def set_active(actor, user, active):
    """Deactivate (cannot log in, keeps history) or reactivate a user. No customer is ever left owned by
    a deactivated user: while they own any, deactivation is refused (models/transfers.py hands them over)."""
    require(actor, "user.manage")
    if user.id == actor.id and not active:
        raise DomainError(N_("You cannot deactivate yourself."))
    with db.atomic():
        if not active:  # counted under the write lock: no claim slips in between
            owned = Customer.select().where(Customer.owner == user.id).count()
            if owned:
                raise StillOwnsCustomers(user, owned)
        User.update(active=active).where(User.id == user.id).execute()
        user.active = active
        if not active:
            revoke_sessions(user)  # so a reactivation does not bring an old cookie back to life
        audit.record("user.activated" if active else "user.deactivated", actor, user_id=user.id)
    return user


def set_language(user, language):
    if language not in LANGUAGES:
        raise DomainError(N_("Unknown language."))
    User.update(language=language).where(User.id == user.id).execute()
    user.language = language


def save_team(actor, data, team=None):
    """Create or edit a team: unique name, optional region and manager (a manager-role user)."""
    require(actor, "team.manage")
    errors = {}
    name = (data.get("name") or "").strip()
    if not name or len(name) > 60:
        errors["name"] = [(N_("1 to 60 characters."), {})]
    elif Team.select().where((Team.name == name) & (Team.id != (team.id if team else 0))).exists():
        errors["name"] = [(N_("A team with this name exists."), {})]
    region = manager = None
    if data.get("region_id"):
        region = Region.get_or_none(Region.id == (id_or_none(data["region_id"]) or 0))
        if region is None:
            errors["region_id"] = [(N_("Choose a region."), {})]
    if data.get("manager_id"):
        manager = User.get_or_none((User.id == (id_or_none(data["manager_id"]) or 0)) & (User.role == "manager"))
        if manager is None:
            errors["manager_id"] = [(N_("Choose a user with the manager role."), {})]
    if errors:
        raise ValidationError(errors)
    with db.atomic():
        created = team is None
        team = fresh(team) if team is not None else Team()
        team.name, team.region, team.manager = name, region, manager
        team.save()
        if manager is not None and manager.team_id != team.id:
            User.update(team=team).where(User.id == manager.id).execute()
            # Customers follow their owner's team (as in update_user).
            Customer.update(team=team.id).where(Customer.owner == manager.id).execute()
        audit.record("team.created" if created else "team.updated", actor, team_id=team.id, name=name)
    return team


# ---- authentication ---------------------------------------------------------------------------

def verify_password(password_hash, password):
    """The one place a password is checked against a hash."""
    return check_password_hash(password_hash, password)


_dummy_hashes = {}


def _dummy_hash():
    """A hash of a random password made like the real ones: an unknown username is checked against it,
    so that it costs what a known one costs and the answer time does not tell which usernames exist."""
    if password_method not in _dummy_hashes:
        _dummy_hashes[password_method] = generate_password_hash(secrets.token_hex(16), method=password_method)
    return _dummy_hashes[password_method]


class Throttled(DomainError):
    def __init__(self, message, until):
        super().__init__(message, time=clock.to_local(until).strftime("%H:%M"))
        self.until = until


def _lock_after(failures, now):
    """locked_until for the pair's count after this attempt: none below THROTTLE_FAILURES, then
    exponential backoff capped at THROTTLE_BACKOFF_MAX (an SQL CASE, so the count is read and
    written by one statement)."""
    cases, n, delay = [(failures < THROTTLE_FAILURES, None)], THROTTLE_FAILURES, THROTTLE_BACKOFF
    while delay < THROTTLE_BACKOFF_MAX:
        cases.append((failures == n, now + delay))
        n, delay = n + 1, delay * 2
    return pw.Case(None, cases, now + THROTTLE_BACKOFF_MAX)


def _reserve_attempt(username, address, now):
    """Count this attempt as a failure before its password is checked (a success gives it back).

    Inside one write transaction, one conditional UPDATE per counter both checks and counts, so however
    many attempts arrive at once, no more than the limit are ever evaluated. Raises Throttled."""
    pair = (LoginThrottle.username == username) & (LoginThrottle.address == address)
    with db.atomic():
        LoginThrottle.insert(username=username, address=address, last_at=now).on_conflict_ignore().execute()
        AddressThrottle.insert(address=address, window_start=now).on_conflict_ignore().execute()
        LoginThrottle.update(failures=0, locked_until=None).where(
            pair & (LoginThrottle.last_at <= now - THROTTLE_QUIET)).execute()
        AddressThrottle.update(failures=0, window_start=now).where(
            (AddressThrottle.address == address) & (AddressThrottle.window_start <= now - ADDRESS_WINDOW)).execute()
        counted = (LoginThrottle
                   .update(failures=LoginThrottle.failures + 1, last_at=now,
                           locked_until=_lock_after(LoginThrottle.failures + 1, now))
                   .where(pair & (LoginThrottle.locked_until.is_null() | (LoginThrottle.locked_until <= now)))
                   .execute())
        if not counted:
            raise Throttled(N_("Too many failed attempts. Try again after %(time)s."),
                            LoginThrottle.get(pair).locked_until)
        counted = (AddressThrottle.update(failures=AddressThrottle.failures + 1)
                   .where((AddressThrottle.address == address) & (AddressThrottle.failures < ADDRESS_FAILURES))
                   .execute())
        if not counted:  # the exception rolls the pair's count back too
            window_start = AddressThrottle.get(AddressThrottle.address == address).window_start
            raise Throttled(N_("Too many failed attempts from this network. Try again after %(time)s."),
                            window_start + ADDRESS_WINDOW)


def authenticate(username, password, address):
    """The active user with these credentials, or a DomainError saying why not (throttling first).

    Unknown usernames, deactivated users and wrong passwords get the same message after the same
    work: one password hash check each."""
    username = (username or "").strip().lower()[:80]
    address = (address or "?")[:64]
    now = clock.now()
    _reserve_attempt(username, address, now)
    user = User.get_or_none(User.username == username)
    ok = verify_password(user.password_hash if user is not None else _dummy_hash(), password or "")
    ok = ok and user is not None and user.active
    with db.atomic():
        LoginAttempt.create(at=now, username=username, address=address, success=ok)
        if ok:
            LoginThrottle.delete().where((LoginThrottle.username == username)
                                         & (LoginThrottle.address == address)).execute()
            AddressThrottle.update(failures=AddressThrottle.failures - 1).where(
                (AddressThrottle.address == address) & (AddressThrottle.failures > 0)).execute()
    if not ok:
        raise DomainError(N_("Wrong username or password, or the account is deactivated."))
    return user


# ---- sessions -----------------------------------------------------------------------------------

def _token_hash(token):
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(user, address="", agent=""):
    """A new server-side session for a user who just logged in; returns its token (for the cookie)."""
    token = secrets.token_urlsafe(32)
    now = clock.now()
    with db.atomic():
        UserSession.create(token_hash=_token_hash(token), user=user.id, created_at=now, last_seen_at=now,
                           address=(address or "")[:64], agent=(agent or "")[:200])
    return token


def _live_session(token_hash, user_id, born_after):
    return (UserSession.select(UserSession, User).join(User)
            .where((UserSession.token_hash == token_hash) & (UserSession.user == user_id)
                   & UserSession.revoked_at.is_null() & (UserSession.created_at > born_after)
                   & (User.active == True))  # noqa: E712
            .limit(1))


def session_user(user_id, token):
    """The active user of a live session (not revoked, younger than session_lifetime), else None.
    One indexed query; last_seen_at is written at most once per SESSION_TOUCH, not on every request."""
    now = clock.now()
    row = next(iter(kept_select("session_user", _live_session, _token_hash(token), user_id, now - session_lifetime)), None)
    if row is None:
        return None
    if now - row.last_seen_at >= SESSION_TOUCH:
        UserSession.update(last_seen_at=now).where(UserSession.id == row.id).execute()
    user = row.user
    user.session_token = token
    return user


def end_session(token):
    """Logout: revoke this session only."""
    with db.atomic():
        UserSession.update(revoked_at=clock.now()).where(
            (UserSession.token_hash == _token_hash(token)) & UserSession.revoked_at.is_null()).execute()


def revoke_sessions(user):
    """End every session of the user (a password change, a deactivation); call inside the verb's transaction."""
    return UserSession.update(revoked_at=clock.now()).where(
        (UserSession.user == user.id) & UserSession.revoked_at.is_null()).execute()


def sweep(now):
    """Forget counters that no longer hold anyone back, and sessions a day past their end."""
    pairs = LoginThrottle.delete().where(LoginThrottle.last_at <= now - THROTTLE_QUIET).execute()
    addresses = AddressThrottle.delete().where(AddressThrottle.window_start <= now - ADDRESS_WINDOW).execute()
    sessions = UserSession.delete().where(
        UserSession.created_at <= now - session_lifetime - dt.timedelta(days=1)).execute()
    return {"throttles": pairs + addresses, "sessions": sessions}


hooks.on("sweep", sweep)
