"""Strategies per value tier (issue 15 item 6): the admin's list per tier and who carried one out when."""
from peewee import BooleanField, CharField, DateTimeField, ForeignKeyField, IntegerField, Model


def up(migrator, db):
    class User(Model):
        class Meta:
            database = db
            table_name = "user"

    class Customer(Model):
        class Meta:
            database = db
            table_name = "customer"

    class TierStrategy(Model):
        tier = CharField(max_length=13, index=True)
        title_zh = CharField(max_length=100)
        title_en = CharField(max_length=100)
        every_days = IntegerField(null=True)
        active = BooleanField(default=True)
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "tier_strategy"

    class StrategyDone(Model):
        customer = ForeignKeyField(Customer, on_delete="CASCADE", index=False)
        strategy = ForeignKeyField(TierStrategy, on_delete="CASCADE", index=False)
        done_by = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
        done_at = DateTimeField()
        note = CharField(max_length=200, default="")

        class Meta:
            database = db
            table_name = "strategy_done"
            indexes = ((("customer", "strategy", "done_at"), False),)

    db.create_tables([TierStrategy, StrategyDone])
