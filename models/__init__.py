"""Kehu CRM domain: tables, query scopes and verbs. Never imports Flask."""
from models.base import db, init_db, close_db, all_models, migrate, schema_diff  # noqa: F401
