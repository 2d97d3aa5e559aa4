"""The database handle, the base model and schema management.

One `DatabaseProxy` is bound at start-up from a URL (sqlite by default, PostgreSQL through
the same URL scheme), so no model or verb knows which engine it runs on.
"""
import json
from pathlib import Path

import peewee as pw
from playhouse import db_url
from playhouse.migrations import Runner
from playhouse.schema_diff import diff_models
from models.errors import NotFound

db = pw.DatabaseProxy()

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "busy_timeout": 10000,
    "synchronous": "normal",
    "cache_size": -64000,  # 64 MB page cache per connection
    "mmap_size": 1 << 30,
    "temp_store": "memory",
}


class BaseModel(pw.Model):
    class Meta:
        database = db
        legacy_table_names = False
        # save() writes only the columns set since the row was read (inserts write them all): a verb
        # that changes the stage cannot write back an owner or pool it read before another verb moved it.
        # A JSON value changed in place is not noticed: assign a new value.
        only_save_dirty = True


class JSONField(pw.TextField):
    """JSON stored as text: portable across SQLite and PostgreSQL."""

    def db_value(self, value):
        return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)

    def python_value(self, value):
        return None if value is None else json.loads(value)


def is_sqlite():
    return isinstance(db.obj, pw.SqliteDatabase)


def fresh(instance):
    """Re-read `instance`'s row and make the object current (the row's values, nothing dirty); returns it.

    Call it inside the verb's `db.atomic()` before deciding anything on the row: what a view read before
    the transaction may be stale by the time the write lock is held. SQLite's BEGIN IMMEDIATE already
    serialises writers; on PostgreSQL the row is locked (`FOR UPDATE`) until the transaction ends.
    A row that is gone (deleted, merged away) is NotFound."""
    model = type(instance)
    query = model.select().where(model._meta.primary_key == instance._pk)
    if not is_sqlite():
        query = query.for_update()
    row = query.first()
    if row is None:
        raise NotFound()
    instance.__data__ = dict(row.__data__)
    instance.__rel__ = {}
    instance._dirty.clear()
    return instance


def init_db(url, pragmas=None):
    """Bind the proxy to the database at `url` (e.g. sqlite:///instance/kehu.db). `pragmas`
    override the SQLite defaults (the tests trade durability for speed with synchronous=off)."""
    kwargs = {}
    if url.startswith("sqlite"):
        kwargs = {"pragmas": {**SQLITE_PRAGMAS, **(pragmas or {})}, "check_same_thread": False}
        if url.startswith("sqlite:///") and ":memory:" not in url:
            # A request borrows an open connection instead of opening the file, reading the schema and
            # setting the pragmas again (~0.9 ms at 1M customers), and finds its page cache warm. The pool
            # rolls back whatever a borrower left open; a connection is reopened after ten minutes.
            url = "sqlite+pool" + url[len("sqlite"):]
            kwargs.update(max_connections=None, stale_timeout=600)
    if getattr(db, "obj", None) is not None and hasattr(db.obj, "close_all"):
        db.obj.close_all()  # the pool of the database bound before (tests bind one per test)
    database = db_url.connect(url, **kwargs)
    if isinstance(database, pw.SqliteDatabase):
        # Writes that read then write (claims, capacity) take the lock up front.
        database.begin = lambda *a, **k: database.execute_sql("BEGIN IMMEDIATE")  # noqa: E731
    db.initialize(database)
    return database


def close_db():
    if not db.is_closed():
        db.close()


def all_models():
    import importlib
    import pkgutil

    for info in pkgutil.iter_modules([str(Path(__file__).resolve().parent)]):  # importing a domain module registers its tables
        if not info.ispkg and info.name not in ("base", "registry"):
            importlib.import_module(f"models.{info.name}")

    found, stack = [], list(BaseModel.__subclasses__())
    while stack:
        model = stack.pop(0)
        found.append(model)
        stack.extend(model.__subclasses__())
    return pw.sort_models(found)


def migrate():
    """Apply the pending migrations in models/migrations (numbered scripts, Peewee's runner)."""
    return Runner(db.obj, directory=str(MIGRATIONS)).up()


def schema_diff():
    """What differs between the migrated database and the models (falsy when nothing)."""
    return diff_models(db.obj, all_models())
