"""The few SQL constructs that SQLite and PostgreSQL spell differently, in one place.

Everything else is written once: Peewee expressions, or raw SQL with `db.param` for the placeholder,
TRUE / FALSE for booleans (SQLite reads them as 1 / 0) and `INSERT ... SELECT ... WHERE ... ON CONFLICT DO
NOTHING` to skip rows that break a unique index (SQLite 3.24+ reads it too). A verb that needs one of these asks here instead
of testing the engine itself.
"""
import peewee as pw

from models.base import is_sqlite


def json_object(*pairs):
    """SQL text building a JSON object (as text) from 'key', expression, ... pairs: for raw INSERT ... SELECT
    into a JSONField column."""
    inner = ", ".join(pairs)
    return f"json_object({inner})" if is_sqlite() else f"json_build_object({inner})::text"


def json_int(column, key):
    """A Peewee expression: the integer at `key` of the JSON text in `column` (NULL when absent)."""
    if is_sqlite():
        return pw.fn.json_extract(column, f"$.{key}")
    return pw.NodeList((pw.SQL("CAST(("), column, pw.SQL(f"::json ->> '{key}') AS BIGINT)")), glue="")


def month_start(column):
    """SQL text: the first day of the month of the date in `column` (a date on both engines)."""
    return f"substr({column}, 1, 8) || '01'" if is_sqlite() else f"CAST(date_trunc('month', {column}) AS DATE)"


def no_index(column):
    """A Peewee expression equal to `column` that SQLite's planner will not answer from the column's index
    (the unary +), for a query where another index is the better start. PostgreSQL plans by cost."""
    if is_sqlite():
        return pw.NodeList((pw.SQL("+"), column), glue="")
    return column


__all__ = ["json_object", "json_int", "month_start", "no_index"]
