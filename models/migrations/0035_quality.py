"""The data-quality tables (issue 17 items 1-3): checks (directed by a rule, drawn in a sample, or a
complaint), samples, the versioned quality rule, the consequences it gave, and the nightly runs."""
from peewee import (BigIntegerField, CharField, DateField, DateTimeField, ForeignKeyField, IntegerField, Model,
                    SmallIntegerField, TextField)

def up(migrator, db):
    class User(Model):
        class Meta:
            database = db
            table_name = "user"

    class Customer(Model):
        class Meta:
            database = db
            table_name = "customer"

    class QualitySample(Model):
        month = CharField(max_length=7)
        per_rep = SmallIntegerField()
        seed = BigIntegerField()
        team = IntegerField(null=True)
        stages = TextField(default="[]")
        population = IntegerField(default=0)
        picked = IntegerField(default=0)
        short = TextField(default="{}")
        created_by = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "quality_sample"

    class QualityCheck(Model):
        customer = ForeignKeyField(Customer, on_delete="CASCADE", index=False, backref="+")
        owner = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
        source = CharField(max_length=10)
        rule = CharField(max_length=30, default="")
        findings = TextField(default="{}")
        sample = ForeignKeyField(QualitySample, null=True, on_delete="SET NULL", index=False, backref="checks")
        reporter = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
        field = CharField(max_length=20, default="")
        found = TextField(default="")
        evidence = TextField(default="")
        status = CharField(max_length=10, default="open")
        outcome = CharField(max_length=10, default="")
        outcome_fields = CharField(max_length=200, default="")
        outcome_evidence = TextField(default="")
        checked_by = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
        checked_at = DateTimeField(null=True)
        response = TextField(default="")
        responded_at = DateTimeField(null=True)
        created_at = DateTimeField()
        dedupe_key = CharField(max_length=80, null=True, unique=True)

        class Meta:
            database = db
            table_name = "quality_check"
            indexes = ((("status", "id"), False), (("status", "source", "id"), False), (("customer", "id"), False),
                       (("owner", "checked_at"), False), (("reporter", "customer", "field"), False),
                       (("owner", "id"), False))

    class QualityRule(Model):
        version = IntegerField(unique=True)
        effective_from = DateTimeField(index=True)
        settings = TextField()
        note = CharField(max_length=200, default="")
        created_by = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "quality_rule"

    class QualityConsequence(Model):
        user = ForeignKeyField(User, on_delete="CASCADE", index=False, backref="+")
        grade = CharField(max_length=10)
        rule_version = IntegerField()
        score = SmallIntegerField()
        findings = TextField(default="[]")
        inputs = TextField(default="{}")
        capacity_delta = IntegerField(default=0)
        note = CharField(max_length=300, default="")
        note_params = TextField(default="{}")
        starts_at = DateTimeField()
        ends_at = DateTimeField()
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "quality_consequence"
            indexes = ((("user", "grade", "ends_at"), False), (("grade", "ends_at"), False))

    class QualityRun(Model):
        day = DateField(unique=True)
        rule_version = IntegerField(default=0)
        next_id = BigIntegerField(default=0)
        created = IntegerField(default=0)
        done_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "quality_run"

    db.create_tables([QualitySample, QualityCheck, QualityRule, QualityConsequence, QualityRun])
