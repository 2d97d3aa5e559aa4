"""Completeness by business model (issue 17 item 7): `completeness_weight` (an admin's weight of a field —
built-in key or custom_<key> — per business model; a model without rows keeps the built-in weights) and
`completeness_daily` (owned customers and their summed completeness per business day × owner × team, taken by
the sweep once a day: the dashboard's trend)."""
from peewee import BigIntegerField, CharField, DateField, IntegerField, Model, SmallIntegerField


def up(migrator, db):
    class CompletenessWeight(Model):
        business_model = CharField(max_length=20)
        field = CharField(max_length=40)
        weight = SmallIntegerField()

        class Meta:
            database = db
            table_name = "completeness_weight"
            indexes = ((("business_model", "field"), True),)

    class CompletenessDaily(Model):
        day = DateField()
        owner = IntegerField()
        team = IntegerField()
        customers = IntegerField()
        total = BigIntegerField()

        class Meta:
            database = db
            table_name = "completeness_daily"
            indexes = ((("day", "owner", "team"), True), (("team", "day"), False))

    db.create_tables([CompletenessWeight, CompletenessDaily])
