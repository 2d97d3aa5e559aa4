"""Issue 11: login throttling per (username, address) with backoff, plus a per-address ceiling."""
from peewee import CharField, DateTimeField, IntegerField, Model


def up(migrator, db):
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

    db.create_tables([LoginThrottle, AddressThrottle])


def down(migrator, db):
    for name in ("address_throttle", "login_throttle"):
        migrator.migrate(migrator.drop_table(name))
