"""Opportunities: stage settings per business model, opportunities, their stage changes and the summary
tables (pipeline totals per owner × stage × close month, stage flows); the
decision-tree columns of contact (influence, attitude to us, relationship strength)."""
from peewee import (BigIntegerField, BooleanField, CharField, DateField, DateTimeField, DecimalField, ForeignKeyField,
                    IntegerField, Model, SmallIntegerField)


def up(migrator, db):
    class User(Model):
        class Meta:
            database = db
            table_name = "user"

    class Team(Model):
        class Meta:
            database = db
            table_name = "team"

    class Customer(Model):
        class Meta:
            database = db
            table_name = "customer"

    class StageSetting(Model):
        business_model = CharField(max_length=20)
        stage = CharField(max_length=20)
        probability = SmallIntegerField()
        key_actions = CharField(max_length=300, default="")
        updated_at = DateTimeField()
        updated_by = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False)

        class Meta:
            database = db
            table_name = "stage_setting"
            indexes = ((("business_model", "stage"), True),)

    class Opportunity(Model):
        customer = ForeignKeyField(Customer, on_delete="CASCADE", index=False)
        owner = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False)
        team = ForeignKeyField(Team, null=True, on_delete="SET NULL", index=False)
        name = CharField(max_length=100)
        amount = DecimalField(max_digits=14, decimal_places=2, null=True, auto_round=True)
        probability = SmallIntegerField()
        weighted = DecimalField(max_digits=14, decimal_places=2, default=0, auto_round=True)
        probability_reason = CharField(max_length=200, default="")
        stage = CharField(max_length=20)
        expected_close = DateField()
        product_lines = CharField(max_length=200, default="")
        next_step = CharField(max_length=200, default="")
        competitors = CharField(max_length=200, default="")
        lost_reason = CharField(max_length=300, default="")
        created_at = DateTimeField()
        created_by = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
        updated_at = DateTimeField()
        stage_changed_at = DateTimeField()
        closed_at = DateTimeField(null=True)
        is_open = BooleanField(default=True)

        class Meta:
            database = db
            table_name = "opportunity"
            indexes = (
                (("owner", "stage", "expected_close", "id"), False),
                (("team", "stage", "expected_close", "id"), False),
                (("stage", "expected_close", "id"), False),
                (("owner", "is_open", "expected_close", "id"), False), (("team", "is_open", "expected_close", "id"), False),
                (("is_open", "expected_close", "id"), False),
                (("owner", "expected_close", "id"), False), (("team", "expected_close", "id"), False),
                (("expected_close", "id"), False),
                (("customer", "id"), False),
            )

    class OpportunityStageChange(Model):
        opportunity = ForeignKeyField(Opportunity, on_delete="CASCADE", index=False)
        from_stage = CharField(max_length=20, null=True)
        to_stage = CharField(max_length=20)
        at = DateTimeField()
        actor = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False)
        owner = IntegerField(null=True)
        team = IntegerField(null=True)
        probability = SmallIntegerField()
        amount = DecimalField(max_digits=14, decimal_places=2, null=True, auto_round=True)
        dwell_seconds = IntegerField(null=True)
        reason = CharField(max_length=300, default="")

        class Meta:
            database = db
            table_name = "opportunity_stage_change"
            indexes = ((("opportunity", "id"), False), (("owner", "to_stage"), False), (("team", "to_stage"), False),
                       (("to_stage", "at"), False))

    class PipelineTotal(Model):
        owner = IntegerField()
        team = IntegerField()
        stage = CharField(max_length=20)
        month = DateField()
        count = IntegerField(default=0)
        amount_fen = BigIntegerField(default=0)
        weighted_fen = BigIntegerField(default=0)

        class Meta:
            database = db
            table_name = "pipeline_total"
            indexes = ((("owner", "team", "stage", "month"), True), (("team", "stage", "month"), False),
                       (("stage", "month"), False), (("month", "stage"), False))

    class StageFlow(Model):
        owner = IntegerField()
        team = IntegerField()
        from_stage = CharField(max_length=20)
        to_stage = CharField(max_length=20)
        count = IntegerField(default=0)
        dwell_seconds = BigIntegerField(default=0)

        class Meta:
            database = db
            table_name = "stage_flow"
            indexes = ((("owner", "team", "from_stage", "to_stage"), True), (("team", "from_stage"), False))

    db.create_tables([StageSetting, Opportunity, OpportunityStageChange, PipelineTotal, StageFlow])

    m = migrator
    m.migrate(
        m.add_column("contact", "influence", CharField(max_length=10, default="")),
        m.add_column("contact", "attitude", CharField(max_length=10, default="")),
        m.add_column("contact", "relationship", SmallIntegerField(default=0)),
    )
