"""Issue 11: server-side sessions (revocable by logout, password change, deactivation) and login
throttling per (username, address) with backoff, plus a per-address ceiling."""
from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, Model


def up(migrator, db):
    class User(Model):
        class Meta:
            database = db
            table_name = "user"

    class LoginThrottle(Model):
        username = CharField(max_length=80)
        address = CharField(max_length=64)
        failures = IntegerField(default=0)
        last_at = DateTimeField()
        locked_until = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "login_throttle"
            indexes = ((("username", "address"), True), (("last_at",), False))

    class AddressThrottle(Model):
        address = CharField(max_length=64, unique=True)
        failures = IntegerField(default=0)
        window_start = DateTimeField(index=True)

        class Meta:
            database = db
            table_name = "address_throttle"

    class UserSession(Model):
        token_hash = CharField(max_length=64, unique=True)
        user = ForeignKeyField(User, on_delete="CASCADE", index=False, backref="+")
        created_at = DateTimeField()
        last_seen_at = DateTimeField()
        revoked_at = DateTimeField(null=True)
        address = CharField(max_length=64, default="")
        agent = CharField(max_length=200, default="")

        class Meta:
            database = db
            table_name = "user_session"
            indexes = ((("user", "revoked_at"), False), (("created_at",), False))

    db.create_tables([LoginThrottle, AddressThrottle, UserSession])


def down(migrator, db):
    for name in ("user_session", "address_throttle", "login_throttle"):
        migrator.migrate(migrator.drop_table(name))
