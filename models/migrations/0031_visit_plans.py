"""Visit plans (issue 16 item 2): a seller's planned visits and calls per day, the follow-up that carried
one out, and the chain of roll-overs."""
from peewee import (CharField, DateField, DateTimeField, ForeignKeyField, IntegerField, Model, SmallIntegerField,
                    TimeField)


def up(migrator, db):
    def table(name):
        class Meta:
            database = db
            table_name = name
        return type(name.title(), (Model,), {"Meta": Meta})

    User, Customer, Contact, FollowUp = table("user"), table("customer"), table("contact"), table("follow_up")

    class PlanItem(Model):
        rep = ForeignKeyField(User, on_delete="CASCADE", index=False, backref="+")
        day = DateField()
        at = TimeField(null=True)
        kind = CharField(max_length=10, default="visit")
        customer = ForeignKeyField(Customer, on_delete="CASCADE", index=False, backref="+")
        contact = ForeignKeyField(Contact, null=True, on_delete="SET NULL", index=False, backref="+")
        objective = CharField(max_length=300)
        source = CharField(max_length=20, default="")
        status = CharField(max_length=10, default="planned")
        followup = ForeignKeyField(FollowUp, null=True, on_delete="SET NULL", index=False, backref="+")
        done_at = DateTimeField(null=True)
        close_reason = CharField(max_length=200, default="")
        closed_at = DateTimeField(null=True)
        rolled_from = IntegerField(null=True)
        rolls = SmallIntegerField(default=0)
        created_by = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "plan_item"
            indexes = ((("rep", "day", "status"), False), (("customer", "day"), False), (("status", "day"), False))

    db.create_tables([PlanItem])
