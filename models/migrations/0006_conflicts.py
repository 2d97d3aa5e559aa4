"""Ownership disputes (issue 5): customer merges, conflict cases (撞单) and delegations (工作代理)."""
from peewee import CharField, DateField, DateTimeField, ForeignKeyField, IntegerField, Model

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

    class CustomerMerge(Model):
        loser_id = IntegerField(unique=True)
        loser_name = CharField(max_length=100)
        loser_credit_code = CharField(max_length=18, null=True)
        loser_owner = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
        survivor = ForeignKeyField(Customer, null=True, on_delete="SET NULL", backref="+")
        actor = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
        at = DateTimeField(index=True)
        moved = JSONField(default=dict)
        fields = JSONField(default=dict)
        reason = CharField(max_length=300, default="")

        class Meta:
            database = db
            table_name = "customer_merge"

    class ConflictCase(Model):
        customer = ForeignKeyField(Customer, on_delete="CASCADE", backref="+")
        claimant = ForeignKeyField(User, on_delete="CASCADE", backref="+")
        claimant_team = ForeignKeyField(Team, null=True, on_delete="SET NULL", index=False, backref="+")
        claimant_customer = ForeignKeyField(Customer, null=True, on_delete="SET NULL", index=False, backref="+")
        owner = ForeignKeyField(User, on_delete="CASCADE", backref="+")
        owner_team = ForeignKeyField(Team, null=True, on_delete="SET NULL", index=False, backref="+")
        reason = CharField(max_length=500)
        status = CharField(max_length=10, default="open")
        opened_at = DateTimeField()
        policy = CharField(max_length=30)
        proposed = CharField(max_length=10)
        evidence = JSONField(default=dict)
        outcome = CharField(max_length=10, default="")
        ruled_by = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
        ruled_at = DateTimeField(null=True)
        ruling_reason = CharField(max_length=500, default="")

        class Meta:
            database = db
            table_name = "conflict_case"
            indexes = ((("status", "id"), False), (("claimant_team", "status", "id"), False),
                       (("owner_team", "status", "id"), False))

    class Delegation(Model):
        absentee = ForeignKeyField(User, on_delete="CASCADE", backref="+")
        delegate = ForeignKeyField(User, on_delete="CASCADE", index=False, backref="+")
        starts_on = DateField()
        ends_on = DateField()
        reason = CharField(max_length=200, default="")
        created_by = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
        created_at = DateTimeField()
        cancelled_at = DateTimeField(null=True)
        cancelled_by = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")

        class Meta:
            database = db
            table_name = "delegation"
            indexes = ((("delegate", "ends_on"), False), (("absentee", "ends_on"), False))

    db.create_tables([CustomerMerge, ConflictCase, Delegation])
