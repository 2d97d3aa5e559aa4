"""The few SQL constructs that SQLite and PostgreSQL spell differently, in one place.

Everything else is written once: Peewee expressions, or raw SQL with `db.param` for the placeholder,
TRUE / FALSE for booleans (SQLite reads them as 1 / 0) and `INSERT ... SELECT ... WHERE ... ON CONFLICT DO
NOTHING` to skip rows that break a unique index (SQLite 3.24+ reads it too). A verb that needs one of these asks here instead
of testing the engine itself.
"""
import peewee as pw

from models import base


def is_sqlite():
    return base.is_sqlite()


def placeholders(text):
    """A statement written with `?` placeholders, in the engine's placeholder style."""
    return text if is_sqlite() else text.replace("?", "%s")


def days_between(later, earlier):
    """SQL text: days from `earlier` to `later` (SQL expressions of dates or ISO date text) as a number."""
    if is_sqlite():
        return f"(julianday({later}) - julianday({earlier}))"
    return f"(CAST({later} AS date) - CAST({earlier} AS date))"


def hours_between(later, earlier):
    """SQL text: hours (fractional) from the timestamp `earlier` to the timestamp `later`."""
    if is_sqlite():
        return f"((julianday({later}) - julianday({earlier})) * 24)"
    return f"(EXTRACT(EPOCH FROM (CAST({later} AS timestamp) - CAST({earlier} AS timestamp))) / 3600)"


def days_before(expr):
    """SQL text: the timestamp `expr` minus a number of days given as one `?` parameter (an integer)."""
    if is_sqlite():
        return f"datetime({expr}, '-' || ? || ' days')"
    return f"(CAST({expr} AS timestamp) - CAST(? AS integer) * INTERVAL '1 day')"


def greatest(*exprs):
    """SQL text: the largest of the expressions (SQLite's scalar MAX, PostgreSQL's GREATEST)."""
    return f"{'MAX' if is_sqlite() else 'GREATEST'}({', '.join(exprs)})"


def round_to(expr, places):
    """SQL text: ROUND to `places` decimals of any numeric expression (PostgreSQL rounds numerics, not floats)."""
    return f"ROUND({expr}, {int(places)})" if is_sqlite() else f"ROUND(CAST({expr} AS numeric), {int(places)})"


def json_object(pairs):
    """SQL text: a JSON object from (key, SQL expression) pairs, as the engine's JSON value (nestable)."""
    args = ", ".join(f"'{key}', {expr}" for key, expr in pairs)
    return f"json_object({args})" if is_sqlite() else f"json_build_object({args})"


def json_text(expr):
    """SQL text: a JSON value as text, for a JSONField column."""
    return expr if is_sqlite() else f"CAST({expr} AS text)"


def json_int(column, key):
    """A Peewee expression: the integer at `key` of the JSON text in `column` (NULL when absent)."""
    if is_sqlite():
        return pw.fn.json_extract(column, f"$.{key}")
    return pw.NodeList((pw.SQL("CAST(("), column, pw.SQL(f"::json ->> '{key}') AS BIGINT)")), glue="")


def month_start(column):
    """SQL text: the first day of the month of the date in `column` (a date on both engines)."""
    return period_start("month", column)


def period_start(span, column):
    """SQL text: the first day of the month, quarter or year (`span`) of the date or timestamp in `column`."""
    if span not in ("month", "quarter", "year"):
        raise ValueError(span)
    if not is_sqlite():
        return f"CAST(date_trunc('{span}', {column}) AS DATE)"
    if span == "month":
        return f"substr({column}, 1, 8) || '01'"
    if span == "year":
        return f"substr({column}, 1, 5) || '01-01'"
    return f"date({column}, 'start of month', '-' || ((CAST(substr({column}, 6, 2) AS INTEGER) - 1) % 3) || ' months')"


BUSINESS_OFFSET_HOURS = 8  # Asia/Shanghai (models/clock.py BUSINESS_TZ) keeps no summer time


def business_time(column):
    """SQL text: the naive-UTC timestamp in `column` as business time (Asia/Shanghai), a timestamp."""
    if is_sqlite():
        return f"datetime({column}, '+{BUSINESS_OFFSET_HOURS} hours')"
    return f"(CAST({column} AS timestamp) + INTERVAL '{BUSINESS_OFFSET_HOURS} hours')"


def business_date(column):
    """SQL text: the business-time (Asia/Shanghai) day of the naive-UTC timestamp in `column`, a date."""
    if is_sqlite():
        return f"date({column}, '+{BUSINESS_OFFSET_HOURS} hours')"
    return f"CAST({business_time(column)} AS DATE)"


def json_value(column, key):
    """SQL text: the value at `key` of the JSON text in `column`: SQLite's json_extract (true reads 1), on
    PostgreSQL the value as text (NULL when absent or JSON null)."""
    return f"json_extract({column}, '$.{key}')" if is_sqlite() else f"(CAST({column} AS json) ->> '{key}')"


def json_integer(column, key):
    """SQL text: the integer at `key` of the JSON text in `column` (NULL when absent)."""
    return f"CAST({json_value(column, key)} AS {'INTEGER' if is_sqlite() else 'BIGINT'})"


def json_true(column, key):
    """SQL text: a condition, the value at `key` of the JSON text in `column` is true (or a non-zero number)."""
    if is_sqlite():
        return f"COALESCE({json_value(column, key)}, 0)"
    return f"COALESCE(CAST({json_value(column, key)} AS boolean), FALSE)"


def no_index(column):
    """A Peewee expression equal to `column` that SQLite's planner will not answer from the column's index
    (the unary +), for a query where another index is the better start. PostgreSQL plans by cost."""
    if is_sqlite():
        return pw.NodeList((pw.SQL("+"), column), glue="")
    return column


def sync_sequence(model):
    """After rows were inserted with explicit ids (bulk loads): PostgreSQL's id sequence of `model`'s table
    set past the largest id, so the next ordinary insert does not collide. SQLite takes max(id) + 1 itself."""
    pk = model._meta.primary_key
    if is_sqlite() or not isinstance(pk, pw.AutoField):
        return
    table, column = model._meta.table_name, pk.column_name
    model._meta.database.execute_sql(
        f"SELECT setval(pg_get_serial_sequence('\"{table}\"', '{column}'), COALESCE(MAX(\"{column}\"), 1), "
        f"MAX(\"{column}\") IS NOT NULL) FROM \"{table}\"")


def _copy_text(value):
    """One value in COPY's text format."""
    if value is None:
        return "\\N"
    if value is True or value is False:
        return "t" if value else "f"
    text = str(value)
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text


def insert_many(table, columns, rows):
    """Write many rows (tuples in `columns` order, values in database form: text, numbers, booleans, None) into
    `table`, inside the caller's transaction: one prepared statement run for each row on SQLite, one COPY on
    PostgreSQL (where executemany is a round trip per row: ~10x slower for a bulk load)."""
    if not rows:
        return
    names = ", ".join(f'"{c}"' for c in columns)
    if is_sqlite():
        marks = ", ".join(["?"] * len(columns))
        base.db.cursor().executemany(f'INSERT INTO "{table}" ({names}) VALUES ({marks})', rows)
        return
    import io

    buffer = io.StringIO()
    buffer.writelines("\t".join(map(_copy_text, row)) + "\n" for row in rows)
    buffer.seek(0)
    base.db.cursor().copy_expert(f'COPY "{table}" ({names}) FROM STDIN', buffer)


__all__ = ["sync_sequence", "insert_many", "placeholders", "days_between", "hours_between", "days_before", "greatest", "round_to", "json_object", "json_text", "json_int",
           "month_start", "period_start", "business_time", "business_date", "json_value", "json_integer", "json_true",
           "no_index"]
