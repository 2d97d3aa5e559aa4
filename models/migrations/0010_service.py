"""Service (issue 7): service settings, tickets and their comments, repurchase leads, care plans and
care records."""
from peewee import (BooleanField, CharField, DateField, DateTimeField, ForeignKeyField, IntegerField, Model,
                    SmallIntegerField, TextField)

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

    class Contact(Model):
        class Meta:
            database = db
            table_name = "contact"

    class FollowUp(Model):
        class Meta:
            database = db
            table_name = "follow_up"

    class ServiceSettings(Model):
        settings = JSONField(default=dict)
        updated_at = DateTimeField()
        updated_by = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False)

        class Meta:
            database = db
            table_name = "service_settings"

    class Ticket(Model):
        customer = ForeignKeyField(Customer, on_delete="CASCADE", index=False)
        contact = ForeignKeyField(Contact, null=True, on_delete="SET NULL", index=False)
        contact_text = CharField(max_length=100, default="")
        channel = CharField(max_length=10)
        category = CharField(max_length=15)
        priority = CharField(max_length=10)
        level = CharField(max_length=10)
        status = CharField(max_length=12, default="new")
        description = TextField()
        created_by = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
        assignee = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
        created_at = DateTimeField()
        updated_at = DateTimeField()
        respond_by = DateTimeField()
        resolve_by = DateTimeField()
        responded_at = DateTimeField(null=True)
        resolved_at = DateTimeField(null=True)
        closed_at = DateTimeField(null=True)
        breached = BooleanField(default=False)
        breach_kind = CharField(max_length=12, default="")
        escalated_at = DateTimeField(null=True)
        resolution = TextField(default="")
        satisfaction = SmallIntegerField(null=True)
        reopened = SmallIntegerField(default=0)

        class Meta:
            database = db
            table_name = "ticket"
            indexes = (
                (("status", "id"), False), (("assignee", "status", "resolve_by"), False), (("assignee", "id"), False),
                (("status", "assignee", "id"), False), (("status", "breached", "id"), False),
                (("priority", "id"), False), (("category", "id"), False), (("breached", "id"), False),
                (("customer", "id"), False), (("status", "resolve_by"), False), (("status", "respond_by"), False),
                (("resolved_at",), False), (("category", "resolved_at"), False),
            )

    class TicketComment(Model):
        ticket = ForeignKeyField(Ticket, on_delete="CASCADE", index=False)
        author = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False)
        at = DateTimeField()
        body = TextField()
        internal = BooleanField(default=True)
        kind = CharField(max_length=12, default="comment")

        class Meta:
            database = db
            table_name = "ticket_comment"
            indexes = ((("ticket", "id"), False),)

    class RepurchaseLead(Model):
        customer = ForeignKeyField(Customer, on_delete="CASCADE", index=False)
        source = CharField(max_length=10)
        ticket = ForeignKeyField(Ticket, null=True, on_delete="SET NULL", index=False)
        care_plan = IntegerField(null=True)
        raised_by = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
        routed_to = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
        via = CharField(max_length=10)
        pool = IntegerField(null=True)
        note = CharField(max_length=300)
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "repurchase_lead"
            indexes = ((("routed_to", "id"), False), (("created_at",), False), (("customer", "id"), False),
                       (("ticket",), False))

    class CarePlan(Model):
        customer = ForeignKeyField(Customer, on_delete="CASCADE", index=False)
        service_user = ForeignKeyField(User, on_delete="CASCADE", index=False)
        kind = CharField(max_length=10, default="visit")
        every_days = SmallIntegerField(null=True)
        dates = JSONField(default=list)
        starts_on = DateField()
        next_due = DateField(null=True)
        active = BooleanField(default=True)
        note = CharField(max_length=300, default="")
        created_by = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "care_plan"
            indexes = ((("service_user", "active", "next_due"), False), (("customer", "id"), False),
                       (("active", "next_due"), False))

    class CareRecord(Model):
        plan = ForeignKeyField(CarePlan, on_delete="CASCADE", index=False)
        followup = ForeignKeyField(FollowUp, null=True, on_delete="SET NULL", index=False)
        due_on = DateField()
        done_at = DateTimeField()
        done_by = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")

        class Meta:
            database = db
            table_name = "care_record"
            indexes = ((("plan", "id"), False), (("done_at",), False))

    db.create_tables([ServiceSettings, Ticket, TicketComment, RepurchaseLead, CarePlan, CareRecord])
