"""models/base.py writes a model column's SQL in one step (`_field_sql`) instead of peewee's `Field.__sql__`:
the statements must be the same, character for character, on every engine's quoting."""
import peewee as pw
import pytest

from models import base


def _statements(model):
    """Statements of the shapes the code builds: a full row, a join, an alias, a subquery, writes."""
    pk = model._meta.primary_key
    out = [model.select().where(pk == 1), model.select().where(pk.in_(model.select(pk).where(pk > 2))).order_by(pk),
           model.select(pw.fn.COUNT(pk)).where(pk > 0).group_by(pk).having(pw.fn.COUNT(pk) > 1)]
    other = model.alias("other")
    if isinstance(pk, pw.AutoField):
        out.append(model.select(model, other).join(other, on=(other.id == model.id)).where(other.id > 3))
        out.append(model.select(pk).where(pk == 1).alias("sub").select_from(pw.SQL("*")))
    for fk in model._meta.refs:
        out.append(model.select(model, fk.rel_model).join(fk.rel_model, pw.JOIN.LEFT_OUTER, on=(fk == fk.rel_field))
                   .where(fk.is_null(False)).order_by(fk.desc()))
    if pk is not False and not isinstance(pk, pw.CompositeKey):
        out.append(model.update({pk: pk + 0}).where(pk == 1))
        out.append(model.delete().where(pk.in_([1, 2])))
    return out


@pytest.mark.parametrize("database", [pw.SqliteDatabase(None), pw.PostgresqlDatabase(None), pw.MySQLDatabase(None)],
                         ids=["sqlite", "postgres", "mysql"])
def test_columns_written_as_peewee_writes_them(database):
    compared = 0
    for model in base.all_models():
        for query in _statements(model):
            fast = database.get_sql_context().sql(query).query()
            pw.Field.__sql__ = base.PEEWEE_FIELD_SQL
            try:
                slow = database.get_sql_context().sql(query).query()
            finally:
                pw.Field.__sql__ = base._field_sql
            assert fast == slow, query
            compared += 1
    assert compared > 500
