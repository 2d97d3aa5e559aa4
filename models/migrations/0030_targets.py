"""Targets (issue 16 item 1): kinds (four to start with; admins add more), a team's target per kind and period,
its reps' shares, and every version with who and why."""
from peewee import (BooleanField, CharField, DateField, DateTimeField, DecimalField, ForeignKeyField, IntegerField,
                    Model, SmallIntegerField, TextField)

KINDS = [("revenue", "销售额", "Revenue", "revenue"), ("new_customers", "新客户", "New customers", "new_customers"),
         ("collections", "回款", "Collections", "collections"), ("promotions", "阶段晋升", "Stage promotions", "promotions")]


def up(migrator, db):
    class User(Model):
        class Meta:
            database = db
            table_name = "user"

    class Team(Model):
        class Meta:
            database = db
            table_name = "team"

    class TargetKind(Model):
        key = CharField(max_length=30, unique=True)
        label_zh = CharField(max_length=40)
        label_en = CharField(max_length=40)
        measure = CharField(max_length=20)
        stage = CharField(max_length=20, default="")
        active = BooleanField(default=True)
        position = SmallIntegerField(default=0)

        class Meta:
            database = db
            table_name = "target_kind"

    class Target(Model):
        team = ForeignKeyField(Team, on_delete="CASCADE", index=False, backref="+")
        kind = ForeignKeyField(TargetKind, on_delete="CASCADE", index=False, backref="+")
        period = CharField(max_length=7)
        starts_on = DateField()
        amount = DecimalField(max_digits=14, decimal_places=2)
        version = IntegerField(default=1)
        updated_by = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
        updated_at = DateTimeField()

        class Meta:
            database = db
            table_name = "target"
            indexes = ((("team", "period", "starts_on", "kind"), True), (("period", "starts_on"), False))

    class TargetShare(Model):
        target = ForeignKeyField(Target, on_delete="CASCADE", index=False, backref="shares")
        rep = ForeignKeyField(User, on_delete="CASCADE", backref="+")
        amount = DecimalField(max_digits=14, decimal_places=2)

        class Meta:
            database = db
            table_name = "target_share"
            indexes = ((("target", "rep"), True),)

    class TargetChange(Model):
        target = ForeignKeyField(Target, on_delete="CASCADE", index=False, backref="changes")
        version = IntegerField()
        actor = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
        at = DateTimeField()
        reason = CharField(max_length=200, default="")
        amount = DecimalField(max_digits=14, decimal_places=2)
        shares = TextField(default="{}")

        class Meta:
            database = db
            table_name = "target_change"
            indexes = ((("target", "version"), True),)

    db.create_tables([TargetKind, Target, TargetShare, TargetChange])
    for position, (key, zh, en, measure) in enumerate(KINDS):
        TargetKind.create(key=key, label_zh=zh, label_en=en, measure=measure, position=position)
