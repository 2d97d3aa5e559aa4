"""Marketing to sales (issue 14): campaigns, web-form sources, leads, their routings, the routing rule
versions and the web-form flood guard; the campaign a customer came from, kept on the customer."""
from peewee import (BooleanField, CharField, DateField, DateTimeField, DecimalField, ForeignKeyField, IntegerField,
                    Model, TextField)

from models.base import JSONField


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

    class Campaign(Model):
        name = CharField(max_length=100, unique=True)
        channel = CharField(max_length=12)
        source = CharField(max_length=20, default="media")
        starts_on = DateField()
        ends_on = DateField()
        budget = DecimalField(max_digits=14, decimal_places=2, default=0)
        cost = DecimalField(max_digits=14, decimal_places=2, default=0)
        note = CharField(max_length=300, default="")
        created_by = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "campaign"
            indexes = ((("starts_on", "ends_on"), False),)

    class LeadSource(Model):
        name = CharField(max_length=60, unique=True)
        token_hash = CharField(max_length=64, unique=True)
        token_hint = CharField(max_length=8, default="")
        source = CharField(max_length=20, default="website")
        channel = CharField(max_length=10, default="")
        campaign = ForeignKeyField(Campaign, null=True, on_delete="SET NULL", index=False, backref="+")
        owner = ForeignKeyField(User, on_delete="CASCADE", index=False, backref="+")
        per_hour = IntegerField(default=60)
        active = BooleanField(default=True)
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "lead_source"

    class Lead(Model):
        customer = ForeignKeyField(Customer, on_delete="CASCADE", index=False, backref="+")
        source = CharField(max_length=20)
        channel = CharField(max_length=10, default="")
        campaign = ForeignKeyField(Campaign, null=True, on_delete="SET NULL", index=False, backref="+")
        web_source = ForeignKeyField(LeadSource, null=True, on_delete="SET NULL", index=False, backref="+")
        note = TextField(default="")
        status = CharField(max_length=12, default="new")
        new_customer = BooleanField(default=True)
        created_at = DateTimeField()
        created_by = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
        judged_at = DateTimeField(null=True)
        junk_reason = CharField(max_length=200, default="")
        nurture_list = CharField(max_length=40, default="")
        qualified_at = DateTimeField(null=True)
        routing_id = IntegerField(null=True)
        routed_to = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
        team = ForeignKeyField(Team, null=True, on_delete="SET NULL", index=False, backref="+")
        routed_at = DateTimeField(null=True)
        made_owner = BooleanField(default=False)
        due_at = DateTimeField(null=True)
        warn_at = DateTimeField(null=True)
        warned_at = DateTimeField(null=True)
        escalated_at = DateTimeField(null=True)
        escalated_to = IntegerField(null=True)
        accepted_at = DateTimeField(null=True)
        sent_back_at = DateTimeField(null=True)
        sent_back_reason = CharField(max_length=300, default="")

        class Meta:
            database = db
            table_name = "lead"
            indexes = (
                (("status", "id"), False), (("status", "created_at"), False), (("customer", "status"), False),
                (("routed_to", "status", "due_at"), False), (("team", "status"), False), (("status", "due_at"), False),
                (("status", "warn_at"), False), (("campaign", "created_at"), False), (("created_at",), False),
                (("created_by", "id"), False),
            )

    class LeadRouting(Model):
        lead = ForeignKeyField(Lead, on_delete="CASCADE", index=False, backref="+")
        at = DateTimeField()
        actor = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
        to_user = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
        team = ForeignKeyField(Team, null=True, on_delete="SET NULL", index=False, backref="+")
        rule = CharField(max_length=20)
        rule_version = IntegerField(default=0)
        skipped = JSONField(default=list)
        reason = CharField(max_length=300, default="")
        due_at = DateTimeField(null=True)
        responded_at = DateTimeField(null=True)
        response = CharField(max_length=12, default="")
        minutes = IntegerField(null=True)
        late = BooleanField(default=False)
        escalated_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "lead_routing"
            indexes = ((("lead", "id"), False), (("to_user", "rule", "id"), False), (("at",), False),
                       (("team", "at"), False))

    class RoutingVersion(Model):
        version = IntegerField(unique=True)
        effective_from = DateTimeField(index=True)
        settings = JSONField()
        note = CharField(max_length=200, default="")
        created_by = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "routing_version"

    class IntakeThrottle(Model):
        key = CharField(max_length=120, unique=True)
        window_start = DateTimeField()
        count = IntegerField(default=0)

        class Meta:
            database = db
            table_name = "intake_throttle"

    db.create_tables([Campaign, LeadSource, Lead, LeadRouting, RoutingVersion, IntakeThrottle])
    migrator.migrate(migrator.add_column("customer", "campaign_id", IntegerField(null=True)))
