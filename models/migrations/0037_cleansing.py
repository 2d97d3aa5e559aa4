"""Pool cleansing campaigns (issue 17 item 4, models/cleansing.py): `customer.quarantined_at` (a record judged
junk leaves the lists, search and claims until an admin restores it), the campaigns, their tasks (the
customer kept as a plain id, so that a merge does not move a task onto the survivor) and the tallies per
team and region that the rankings read."""
from peewee import BigIntegerField, CharField, DateTimeField, ForeignKeyField, IntegerField, Model, TextField


def up(migrator, db):
    migrator.migrate(migrator.add_column("customer", "quarantined_at", DateTimeField(null=True)))

    class User(Model):
        class Meta:
            database = db
            table_name = "user"

    class Pool(Model):
        class Meta:
            database = db
            table_name = "pool"

    class CleansingCampaign(Model):
        name = CharField(max_length=100)
        pool = ForeignKeyField(Pool, null=True, on_delete="SET NULL", index=False, backref="+")
        filters = TextField(default="{}")
        split = CharField(max_length=10, default="team")
        min_fields = TextField(default="[]")
        status = CharField(max_length=10, default="open")
        total = IntegerField(default=0)
        done = IntegerField(default=0)
        created_by = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
        created_at = DateTimeField()
        closed_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "cleansing_campaign"

    class CleansingTask(Model):
        campaign = ForeignKeyField(CleansingCampaign, on_delete="CASCADE", index=False, backref="tasks")
        customer_id = BigIntegerField()
        region = IntegerField(default=0)
        team = IntegerField(null=True)
        assignee = IntegerField(null=True)
        status = CharField(max_length=10, default="open")
        verdict = CharField(max_length=10, default="")
        note = CharField(max_length=500, default="")
        flags = CharField(max_length=100, default="")
        classified_by = IntegerField(null=True)
        classified_at = DateTimeField(null=True)
        restored_by = IntegerField(null=True)
        restored_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "cleansing_task"
            indexes = ((("campaign", "customer_id"), True), (("campaign", "assignee", "status", "id"), False),
                       (("campaign", "team", "status", "id"), False), (("campaign", "status", "id"), False))

    class CleansingTally(Model):
        campaign = ForeignKeyField(CleansingCampaign, on_delete="CASCADE", index=False, backref="+")
        team = IntegerField(default=0)
        region = IntegerField(default=0)
        total = IntegerField(default=0)
        keep = IntegerField(default=0)
        doubtful = IntegerField(default=0)
        junk = IntegerField(default=0)
        restored = IntegerField(default=0)

        class Meta:
            database = db
            table_name = "cleansing_tally"
            indexes = ((("campaign", "team", "region"), True),)

    db.create_tables([CleansingCampaign, CleansingTask, CleansingTally])
