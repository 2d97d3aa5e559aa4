"""Permissions an admin gives a user on top of their role (issue 17: the "quality" permission), as a
comma-separated list on the user row (`User.grants`, vocabulary `user_tables.GRANTS`)."""
from peewee import CharField


def up(migrator, db):
    migrator.migrate(migrator.add_column("user", "grants", CharField(max_length=100, default="")))
