"""Nurture lists due for a touch (issue 14 point 6): a nurtured lead's next touch date, its own cadence and its
last touch, indexed (status, next_touch_on, id) for marketing's "due for a touch" list; a table of the cadence
per nurture list. Leads already nurturing get their first touch date from when they were judged."""
from peewee import CharField, DateField, DateTimeField, ForeignKeyField, Model, SmallIntegerField

DEFAULT_DAYS = 30


def up(migrator, db):
    class User(Model):
        class Meta:
            database = db
            table_name = "user"

    class NurtureList(Model):
        name = CharField(max_length=40, unique=True)
        cadence_days = SmallIntegerField()
        updated_by = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
        updated_at = DateTimeField()

        class Meta:
            database = db
            table_name = "nurture_list"

    migrator.migrate(
        migrator.add_column("lead", "touch_days", SmallIntegerField(null=True)),
        migrator.add_column("lead", "next_touch_on", DateField(null=True)),
        migrator.add_column("lead", "touched_at", DateTimeField(null=True)),
        migrator.add_index("lead", ("status", "next_touch_on", "id"), False),
    )
    db.create_tables([NurtureList])
    # the business date of the verdict plus the default cadence (in Python: no engine's date functions)
    import datetime as dt

    from models import clock

    rows = db.execute_sql("SELECT id, judged_at FROM lead WHERE status = 'prospect' AND judged_at IS NOT NULL").fetchall()
    for lead_id, judged_at in rows:
        if isinstance(judged_at, str):
            judged_at = dt.datetime.fromisoformat(judged_at)
        due = clock.to_local(judged_at).date() + dt.timedelta(days=DEFAULT_DAYS)
        db.execute_sql("UPDATE lead SET next_touch_on = %s WHERE id = %s" % (db.param, db.param), (due, lead_id))
