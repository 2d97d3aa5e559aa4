"""People: regions, teams, users with one primary role, and login throttling."""
import datetime as dt
import re

import peewee as pw
from werkzeug.security import check_password_hash, generate_password_hash

from models import audit, clock
from models.base import BaseModel, db, fresh, parse_id
from models.errors import N_, DomainError, ValidationError

ROLES = ("sales", "manager", "marketing", "service", "admin")
ROLE_LABELS = {
    "sales": N_("Sales rep"),
    "manager": N_("Sales manager"),
    "marketing": N_("Marketing"),
    "service": N_("Service"),
    "admin": N_("Sales operations / admin"),
}
LANGUAGES = ("zh_CN", "en")
THROTTLE_WINDOW = dt.timedelta(minutes=15)
THROTTLE_FAILURES = 5
PASSWORD_MIN = 8
# Overridden by the app factory (tests use a cheaper hash).
password_method = "scrypt"


class Region(BaseModel):
    code = pw.CharField(max_length=20, unique=True)
    name_zh = pw.CharField(max_length=40)
    name_en = pw.CharField(max_length=40)

    def label(self, locale):
        return self.name_zh if locale.startswith("zh") else self.name_en


class Team(BaseModel):
    name = pw.CharField(max_length=60, unique=True)
    region = pw.ForeignKeyField(Region, null=True, on_delete="SET NULL")
    manager = pw.DeferredForeignKey("User", null=True, on_delete="SET NULL")


class User(BaseModel):
    username = pw.CharField(max_length=40, unique=True)
    full_name = pw.CharField(max_length=60)
    email = pw.CharField(max_length=120, default="")
    password_hash = pw.CharField(max_length=255)
    role = pw.CharField(max_length=20, index=True)
    team = pw.ForeignKeyField(Team, null=True, backref="members", on_delete="SET NULL")
    region = pw.ForeignKeyField(Region, null=True, on_delete="SET NULL")
    language = pw.CharField(max_length=10, default="zh_CN")
    active = pw.BooleanField(default=True)
    created_at = pw.DateTimeField()

    # Flask-Login protocol, kept here so the view layer needs no wrapper class.
    @property
    def is_authenticated(self):
        return True

    @property
    def is_active(self):
        return self.active

    @property
    def is_anonymous(self):
        return False

    def get_id(self):
        return str(self.id)

    def check_password(self, password):
        return check_password_hash(self.password_hash, password)

    def __str__(self):
        return self.full_name




class LoginAttempt(BaseModel):
    at = pw.DateTimeField()
    username = pw.CharField(max_length=80)
    address = pw.CharField(max_length=64)
    success = pw.BooleanField()

    class Meta:
        indexes = ((("username", "at"), False), (("address", "at"), False))


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


def hash_password(password):
    return generate_password_hash(password, method=password_method)


def create_user(actor, data):
    """Create a user (admin only). Validates every field; writes the audit row."""
    from models.permissions import require

    require(actor, "user.manage")
    username, full_name, email, role, team, region = _validate_user(data)
    with db.atomic():
        user = User.create(
            username=username, full_name=full_name, email=email, role=role, team=team,
            region=region or (team.region if team else None),
            language=data.get("language") or "zh_CN",
            password_hash=hash_password(data["password"]), created_at=clock.now(),
        )
        audit.record("user.created", actor, username=username, role=role, user_id=user.id)
    return user


def update_user(actor, user, data):
    """Edit name, e-mail, role, team, region, language; a non-empty password resets it."""
    from models.permissions import require

    require(actor, "user.manage")
    _, full_name, email, role, team, region = _validate_user(data, user)
    with db.atomic():
        fresh(user)  # compare with the row as it is now (deactivated, moved team meanwhile); write only changes
        changes = {}
        for field, value in (("full_name", full_name), ("email", email), ("role", role),
                             ("team_id", team.id if team else None),
                             ("region_id", region.id if region else None),
                             ("language", data.get("language") or user.language)):
            if getattr(user, field) != value:
                changes[field] = [getattr(user, field), value]
                setattr(user, field, value)
        if data.get("password"):
            user.password_hash = hash_password(data["password"])
            changes["password"] = ["***", "***"]
        user.save()
        if "team_id" in changes:
            # Customers follow their owner's team, so the manager's view stays right.
            from models.customers import Customer
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
    from models.permissions import require

    require(actor, "user.manage")
    if user.id == actor.id and not active:
        raise DomainError(N_("You cannot deactivate yourself."))
    with db.atomic():
        if not active:  # counted under the write lock: no claim slips in between
            from models.customers import Customer
            owned = Customer.select().where(Customer.owner == user.id).count()
            if owned:
                raise StillOwnsCustomers(user, owned)
        User.update(active=active).where(User.id == user.id).execute()
        user.active = active
        audit.record("user.activated" if active else "user.deactivated", actor, user_id=user.id)
    return user


def set_language(user, language):
    if language not in LANGUAGES:
        raise DomainError(N_("Unknown language."))
    User.update(language=language).where(User.id == user.id).execute()
    user.language = language


def save_team(actor, data, team=None):
    """Create or edit a team: unique name, optional region and manager (a manager-role user)."""
    from models.permissions import require

    require(actor, "team.manage")
    errors = {}
    name = (data.get("name") or "").strip()
    if not name or len(name) > 60:
        errors["name"] = [(N_("1 to 60 characters."), {})]
    elif Team.select().where((Team.name == name) & (Team.id != (team.id if team else 0))).exists():
        errors["name"] = [(N_("A team with this name exists."), {})]
    region = manager = None
    if data.get("region_id"):
        region = Region.get_or_none(Region.id == _int(data["region_id"]))
        if region is None:
            errors["region_id"] = [(N_("Choose a region."), {})]
    if data.get("manager_id"):
        manager = User.get_or_none((User.id == _int(data["manager_id"])) & (User.role == "manager"))
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
            from models.customers import Customer
            Customer.update(team=team.id).where(Customer.owner == manager.id).execute()
        audit.record("team.created" if created else "team.updated", actor, team_id=team.id, name=name)
    return team


def _int(value):
    try:
        return parse_id(value)
    except (TypeError, ValueError):
        return 0


# ---- authentication ---------------------------------------------------------------------------

def throttled_until(username, address):
    """When the account or the address may try again, or None if not throttled.

    5 failures within 15 minutes, per account and per address, lock out until the oldest of
    those failures leaves the window.
    """
    since = clock.now() - THROTTLE_WINDOW
    for cond in (LoginAttempt.username == username.lower(), LoginAttempt.address == address):
        fails = (LoginAttempt.select(LoginAttempt.at)
                 .where(cond & (LoginAttempt.at > since) & (LoginAttempt.success == False))  # noqa: E712
                 .order_by(LoginAttempt.at.desc()).limit(THROTTLE_FAILURES))
        times = [f.at for f in fails]
        if len(times) >= THROTTLE_FAILURES:
            return times[-1] + THROTTLE_WINDOW
    return None


def authenticate(username, password, address):
    """The active user with these credentials, or a DomainError saying why not (throttling first)."""
    username = (username or "").strip().lower()[:80]
    until = throttled_until(username, address)
    if until is not None:
        raise DomainError(N_("Too many failed attempts. Try again after %(time)s."),
                          time=clock.to_local(until).strftime("%H:%M"))
    user = User.get_or_none(User.username == username)
    ok = user is not None and user.active and user.check_password(password or "")
    with db.atomic():
        LoginAttempt.create(at=clock.now(), username=username, address=address, success=ok)
    if not ok:
        raise DomainError(N_("Wrong username or password, or the account is deactivated."))
    return user
