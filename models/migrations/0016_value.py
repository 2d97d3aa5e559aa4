"""Customer value (issue 15): value rule versions, each customer's tier and inputs, tier history, the
nightly runs, and the tier on the customer row (the list's filter)."""
from peewee import (CharField, DateField, DateTimeField, DecimalField, FloatField, ForeignKeyField, IntegerField,
                    Model, SmallIntegerField)

from models.base import JSONField


def up(migrator, db):
    class User(Model):
        class Meta:
            database = db
            table_name = "user"

    class Customer(Model):
        class Meta:
            database = db
            table_name = "customer"

    def money():
        return DecimalField(max_digits=14, decimal_places=2, auto_round=True, default=0)

    class ValueRule(Model):
        version = IntegerField(unique=True)
        effective_from = DateTimeField(index=True)
        settings = JSONField()
        note = CharField(max_length=200, default="")
        created_by = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "value_rule"

    class CustomerValue(Model):
        customer = ForeignKeyField(Customer, primary_key=True, on_delete="CASCADE")
        tier = CharField(max_length=13, default="")
        score = FloatField(null=True)
        reason = CharField(max_length=12, default="")
        sales_12m = money()
        cost_12m = money()
        sales_prev = money()
        due_12m = money()
        collected_12m = money()
        late_sum = FloatField(default=0)
        late_n = IntegerField(default=0)
        max_overdue_days = IntegerField(default=0)
        pipeline = money()
        influence = SmallIntegerField(null=True)
        influence_reason = CharField(max_length=200, default="")
        influence_by = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
        influence_at = DateTimeField(null=True)
        rule_version = IntegerField(default=0)
        computed_at = DateTimeField(null=True)
        tier_since = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "customer_value"
            indexes = ((("tier", "customer"), False),)

    class ValueChange(Model):
        customer = ForeignKeyField(Customer, on_delete="CASCADE", index=False)
        at = DateTimeField(index=True)
        from_tier = CharField(max_length=13, default="")
        to_tier = CharField(max_length=13)
        rule_version = IntegerField()
        score = FloatField(null=True)
        reason = CharField(max_length=12, default="")
        inputs = JSONField(default=dict)

        class Meta:
            database = db
            table_name = "value_change"
            indexes = ((("customer", "at"), False),)

    class ValueRun(Model):
        day = DateField()
        rule_version = IntegerField()
        started_at = DateTimeField()
        finished_at = DateTimeField(null=True)
        next_id = IntegerField(default=0)
        customers = IntegerField(default=0)
        changes = IntegerField(default=0)

        class Meta:
            database = db
            table_name = "value_run"
            indexes = ((("day", "rule_version"), True),)

    db.create_tables([ValueRule, CustomerValue, ValueChange, ValueRun])
    migrator.migrate(
        migrator.add_column("customer", "value_tier", CharField(max_length=13, default="")),
        migrator.add_index("customer", ("value_tier",), unique=False),
        migrator.add_index("customer", ("value_tier", "team_id", "region_id"), unique=False),
    )
