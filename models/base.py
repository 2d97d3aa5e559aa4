"""The database handle, the base model and schema management.

One `DatabaseProxy` is bound at start-up from a URL (sqlite by default, PostgreSQL through
the same URL scheme), so no model or verb knows which engine it runs on.
"""
import datetime as dt
import json
import operator
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
    # A checkpoint copies the log back into the file when it reaches this many pages (40 MB); the commit
    # that crosses it pays for it. At SQLite's 1,000 a claim (~35 pages with its release) paid one every
    # few claims (the claim's p95 doubled); 10,000 makes them rarer, and each page written many times
    # between two (counters, index roots) is copied once.
    "wal_autocheckpoint": 10000,
}


def _field_sql(self, ctx):
    """`Field.__sql__` in one step for a column of a model's own table: the same `"t1"."name"` that peewee
    writes through a new `Column`, a pushed scope, the table's `apply_column` and two `Entity` nodes (about
    10 µs a column on this machine: a page that reads a few 50-column rows spent milliseconds writing their
    SELECT lists). Anything else (the VALUES scope, another kind of source) goes the way peewee goes;
    tests/test_sql_columns.py holds the two ways equal."""
    table = self.model._meta.table
    if ctx.state.scope == pw.SCOPE_VALUES or type(table) is not pw.Table:
        return ctx.sql(self.column)
    quote = ctx.state.quote or '""'
    cached = self.__dict__.get("_quoted_column")
    if cached is None or cached[0] != (self.column_name, quote):
        cached = ((self.column_name, quote), self.column_name.replace(quote[0], quote).join(quote))
        self._quoted_column = cached
    aliases = ctx.alias_manager
    if table._alias:
        aliases[table] = table._alias
    alias = aliases._mapping[aliases._current_index - 1].get(table) or aliases[table]  # AliasManager.get, inlined
    quoted = _QUOTED_ALIASES.get((alias, quote))
    if quoted is None:
        quoted = _QUOTED_ALIASES[(alias, quote)] = alias.replace(quote[0], quote).join(quote)
    return ctx.literal(quoted + "." + cached[1])


_QUOTED_ALIASES = {}


PEEWEE_FIELD_SQL = pw.Field.__sql__  # peewee's own, for the test that compares
pw.Field.__sql__ = _field_sql


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
    row = row_by_id(type(instance), instance._pk, lock=True)
    if row is None:
        raise NotFound()
    instance.__data__ = dict(row.__data__)
    instance.__rel__ = {}
    instance._dirty.clear()
    return instance




def row_by_id(model, pk, lock=False):
    """The row of `model` whose primary key is `pk` (every column), or None; `lock`: held until the transaction
    ends (`for_update`). The statement is built once per model and kept: building a 50-column SELECT costs peewee
    ~0.35 ms, four times what SQLite takes to answer it, and the hot verbs (a claim) read their row this way."""
    field = model._meta.primary_key
    pk = field.db_value(pk)
    if pk is None:
        return None
    return next(iter(kept_select(("row", model, lock), lambda k: (
        for_update(model.select().where(field == k)) if lock else model.select().where(field == k)), pk)), None)


_KEPT = {}  # kept_select's statements: key → (query, SQL, where each value goes)
_READING = {}  # and how their rows become objects (the cursor wrapper's initialize())


def _mark(value, i):
    """A stand-in for the i-th value of a kept statement, of the value's type and unlike any real one."""
    if isinstance(value, bool) or not isinstance(value, (int, str, dt.datetime, dt.date)):
        raise TypeError(f"kept_select takes ints, text, dates and times, not {type(value).__name__}")
    if isinstance(value, int):
        return -7_340_000_000_000_000_000 - i
    if isinstance(value, str):
        return f"\x00kept-{i}\x00"
    if isinstance(value, dt.datetime):
        return dt.datetime(1001, 1, 1, 0, 0, i % 60, 424242)
    return dt.date(1001, 1, 1 + i % 28)


def _kept(key, build, values):
    """The kept (query, SQL, where each value goes) of `key`, made on first use; None when a value is not in
    the SQL as it was given (peewee folded or converted it): such a statement is built each time (and the key
    remembers it: not tried again)."""
    entry = _KEPT.get((key, type(db.obj)))
    if entry is None:
        marks = [_mark(v, i) for i, v in enumerate(values)]
        query = build(*marks)
        sql, params = query.sql()
        slots = [next((i for i, m in enumerate(marks) if type(p) is type(m) and p == m), None) for p in params]
        if {i for i in slots if i is not None} != set(range(len(values))):
            entry = False
        else:
            entry = (query, sql, [(i, p) for i, p in zip(slots, params)])
        _KEPT[(key, type(db.obj))] = entry
    return entry or None


def kept_sql(key, build, *values):
    """The SQL and parameters of a statement kept as `kept_select` keeps one, for use inside another statement
    (the workbench's probes: views.extend.kept_probe), or None when it cannot be kept."""
    entry = _kept(key, build, values)
    return None if entry is None else (entry[1], [p if i is None else values[i] for i, p in entry[2]])


def kept_select(key, build, *values):
    """The rows of a SELECT whose shape never changes, only its values (the session's user, read on every
    request): `build(*marks)` makes the peewee query once per engine with a mark where each of `values`
    goes (a value may be used more than once); every call runs its SQL with the values and reads the rows
    as the query would (model rows, joins). Peewee builds a 40-column join in ~0.25 ms; SQLite answers it in
    0.02 ms. A value the statement does not show (peewee folded or converted it) keeps nothing: built each
    time. Values are ints, text, dates and times (a bool or None: TypeError)."""
    entry = _kept(key, build, values)
    if entry is None:
        return build(*values).execute()
    query, sql, slots = entry
    rows = query._get_cursor_wrapper(db.execute_sql(sql, [p if i is None else values[i] for i, p in slots]))
    # How the rows become objects (each column's field and converter, the joins' constructors) is the same for
    # every run of the statement: peewee works it out on each run's first row (~30 µs for a 60-column row,
    # ~60 µs for the session's join); kept with the statement, after the first run.
    reading = _READING.get((key, type(db.obj)))
    if reading is None:
        before = dict(vars(rows))
        rows.initialize()
        reading = _READING[(key, type(db.obj))] = {
            name: value for name, value in vars(rows).items() if name not in before or before[name] is not value}
    else:
        rows.__dict__.update(reading)
    rows.initialized = True
    return rows


def for_update(query):
    """`query` with the rows it reads locked until the transaction ends: PostgreSQL's FOR UPDATE. SQLite
    has no row locks and needs none (BEGIN IMMEDIATE already serialises every writer)."""
    return query if is_sqlite() else query.for_update()


def lock(model, *ids):
    """Hold rows `ids` of `model` until the transaction ends, so a verb that counts, then writes (a rep's
    capacity, a daily limit) cannot interleave with another verb on the same rows. In id order, so two
    verbs locking the same rows cannot deadlock. Nothing to do on SQLite (see `for_update`)."""
    if ids and not is_sqlite():
        pk = model._meta.primary_key
        list(model.select(pk).where(pk.in_(sorted(set(ids)))).order_by(pk).for_update())


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
    elif url.startswith(("postgres://", "postgresql://")):
        # The same for PostgreSQL, where a new connection is a new server process (~5 ms). The server's
        # threads bound how many are open at once (waitress: 8 and the sweeper), as on SQLite.
        url = url.replace("://", "+pool://", 1)
        kwargs.update(max_connections=None, stale_timeout=600)
    before = getattr(db, "obj", None)
    if isinstance(before, pw.SqliteDatabase) and hasattr(before, "close_idle"):
        # The pool bound before (tests bind one per test): its idle connections. One a thread is using (a
        # browser test's server answering a page's last poll) stays with that thread: closing it under a
        # running statement crashes the interpreter (CI: a segfault in sqlite3 at a rebind).
        before.close_idle()
    elif before is not None and hasattr(before, "close_all"):
        before.close_all()  # PostgreSQL: every connection, or the test's database cannot be dropped
    database = db_url.connect(url, **kwargs)
    if isinstance(database, pw.SqliteDatabase):
        # Writes that read then write (claims, capacity) take the lock up front.
        database.begin = lambda *a, **k: database.execute_sql("BEGIN IMMEDIATE")  # noqa: E731
    db.initialize(database)
    return database


# Fields whose Python values the driver takes as they are (ints, text, dates), so bulk_insert skips their
# db_value; a subclass (JSONField, a foreign key to a row object) is converted as usual.
_AS_IS = (pw.CharField, pw.IntegerField, pw.SmallIntegerField, pw.BooleanField, pw.DateTimeField, pw.DateField)


def id_in(field, ids):
    """`field IN (…)` for a long list of ids (a chunk of an import), the ids written as integer literals: peewee
    builds a parameter node per value, which costs more than the query for hundreds of them."""
    return field.in_(pw.SQL("(%s)" % ", ".join(str(int(i)) for i in ids))) if ids else field.in_([])


def bulk_insert(model, rows, new_ids=False):
    """Insert many rows (dicts with the same keys) with one prepared statement, inside the caller's
    transaction: for bulk loads such as an import, where building each INSERT costs more than running it.
    `new_ids`: give the rows ids and return them. On SQLite they are max(id)+1 onwards, safe because
    writes hold the database lock from BEGIN IMMEDIATE; elsewhere each row is inserted and returns its id."""
    if not rows:
        return []
    if new_ids and not is_sqlite():
        return [model.insert(**row).execute() for row in rows]
    ids = []
    if new_ids:
        first = (model.select(pw.fn.MAX(model._meta.primary_key)).scalar() or 0) + 1
        ids = list(range(first, first + len(rows)))
        rows = [{model._meta.primary_key.name: i, **row} for i, row in zip(ids, rows)]
    fields = [model._meta.fields[name] for name in rows[0]]
    columns = ", ".join(f'"{f.column_name}"' for f in fields)
    marks = ", ".join([db.param] * len(fields))
    sql = f'INSERT INTO "{model._meta.table_name}" ({columns}) VALUES ({marks})'
    take = operator.itemgetter(*[f.name for f in fields])
    params = [take(row) for row in rows] if len(fields) > 1 else [(take(row),) for row in rows]
    convert = [(i, f.db_value) for i, f in enumerate(fields) if type(f) not in _AS_IS]
    if convert:  # only the columns that need it, a row at a time
        for n, values in enumerate(params):
            values = list(values)
            for i, to_db in convert:
                values[i] = to_db(values[i])
            params[n] = values
    db.cursor().executemany(sql, params)
    return ids


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
    """Apply the pending migrations in models/migrations (numbered scripts, Peewee's runner); then give the
    planner back the statistics of any table a migration rebuilt. Returns the names applied."""
    applied = Runner(db.obj, directory=str(MIGRATIONS)).up()
    if applied:
        refresh_statistics()
    return applied


def refresh_statistics():
    """SQLite drops a table's planner statistics (sqlite_stat1) with the table, so a migration that rebuilds
    one (0025 rebuilt customer) leaves a million rows planned as if they were few: the stake check of the sweep
    went from an index search (3 ms) to a scan (170 ms). Analyse the tables with indexes that have none, and
    the indexes a migration added without statistics, in a database that was analysed before (the demo loader
    analyses). PostgreSQL: ANALYZE (its autovacuum would get there too)."""
    if not is_sqlite():
        db.execute_sql("ANALYZE")
        return
    if db.execute_sql("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").fetchone() is None:
        return
    analysed = {t for (t,) in db.execute_sql("SELECT DISTINCT tbl FROM sqlite_stat1")}
    known = {i for (i,) in db.execute_sql("SELECT DISTINCT idx FROM sqlite_stat1 WHERE idx IS NOT NULL")}
    indexes = db.execute_sql("SELECT name, tbl_name FROM sqlite_master WHERE type = 'index' "
                             "AND tbl_name NOT LIKE 'sqlite_%' AND name NOT LIKE 'sqlite_autoindex_%'").fetchall()
    for table in sorted({t for _, t in indexes} - analysed):
        db.execute_sql(f'ANALYZE "{table}"')
    for index, table in indexes:  # an index a migration added to an analysed table: planned blind otherwise
        if table in analysed and index not in known:  # (0041's ledger index turned a 1 ms read into a 50 ms sort)
            db.execute_sql(f'ANALYZE "{index}"')


def schema_diff():
    """What differs between the migrated database and the models (falsy when nothing)."""
    return diff_models(db.obj, all_models())
