"""The people tables (regions, teams, users) and their vocabulary: every domain's rows point at them,
so they sit on the ground floor's first step. The verbs (accounts, teams, sign-in, sessions) live in
models/users.py, which re-exports these names."""
import peewee as pw
from werkzeug.security import check_password_hash

from models.base import BaseModel
from models.errors import N_

ROLES = ("sales", "manager", "marketing", "service", "admin")
ROLE_LABELS = {
    "sales": N_("Sales rep"),
    "manager": N_("Sales manager"),
    "marketing": N_("Marketing"),
    "service": N_("Service"),
    "admin": N_("Sales operations / admin"),
}
LANGUAGES = ("zh_CN", "en")
# permissions an admin gives a user on top of their role (User.grants, comma-separated; models/permissions.py)
GRANTS = ("quality",)
GRANT_LABELS = {"quality": N_("Quality checks (work the quality queue, draw samples)")}


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
    grants = pw.CharField(max_length=100, default="")  # GRANTS given on top of the role

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
        # "<user id>:<session token>": the user_loader finds the server-side session, which logout,
        # a password change and deactivation revoke (see session_user).
        token = getattr(self, "session_token", None)
        return f"{self.id}:{token}" if token else str(self.id)

    def check_password(self, password):
        # the check models.users.verify_password makes at sign-in (not called from there: it sits above)
        return check_password_hash(self.password_hash, password)

    def __str__(self):
        return self.full_name

    def granted(self, name):
        return name in (self.grants or "").split(",")

    @classmethod
    def holding(cls, *roles, active=True, fields=()):
        """Users holding one of `roles` (the active ones unless active=None), for choice lists: owners,
        managers, service agents. Whether the asker may choose them is permissions' business."""
        q = cls.select(*fields).where(cls.role.in_(roles))
        return q if active is None else q.where(cls.active == active)

    @property
    def sells(self):
        """A seller (sales rep or manager): owns customers, works the pool, has a private pool."""
        return self.role in ("sales", "manager")


def team_id_of(user_id, known=None):
    """A user's team id (None without a user): from `known` when it is that user's row (a verb's actor, already
    loaded), else one statement. The verb that gives a customer to its actor writes the actor's row's team too."""
    if user_id is None:
        return None
    if isinstance(known, User) and known.id == user_id:
        return known.team_id
    return User.select(User.team).where(User.id == user_id).scalar()
