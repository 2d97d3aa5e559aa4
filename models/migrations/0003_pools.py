"""Pools: public pools, the pool ledger, capacity adjustments, pool views, lock requests, rule
versions, notifications; the pool columns of customer and the validity of follow-ups."""
from peewee import BooleanField, CharField, DateField, DateTimeField, ForeignKeyField, IntegerField, Model

from models.base import JSONField


def up(migrator, db):
    class Region(Model):
        class Meta:
            database = db
            table_name = "region"

    class User(Model):
        class Meta:
            database = db
            table_name = "user"

    class Customer(Model):
        class Meta:
            database = db
            table_name = "customer"

    class Pool(Model):
        name_zh = CharField(max_length=40)
        name_en = CharField(max_length=40)
        region = ForeignKeyField(Region, null=True, on_delete="SET NULL")
        active = BooleanField(default=True)

        class Meta:
            database = db
            table_name = "pool"

    class PoolEvent(Model):
        at = DateTimeField()
        kind = CharField(max_length=30)
        actor = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False)
        customer = ForeignKeyField(Customer, null=True, on_delete="CASCADE", index=False)
        subject = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
        from_owner = IntegerField(null=True)
        to_owner = IntegerField(null=True)
        from_pool = IntegerField(null=True)
        to_pool = IntegerField(null=True)
        rule_version = IntegerField(default=0)
        inputs = JSONField(default=dict)
        reason = CharField(max_length=300, default="")

        class Meta:
            database = db
            table_name = "pool_event"
            indexes = ((("customer", "id"), False), (("actor", "kind", "at"), False), (("kind", "at"), False),
                       (("subject", "kind", "at"), False), (("from_owner", "at"), False), (("to_owner", "at"), False))

    class CapacityAdjustment(Model):
        user = ForeignKeyField(User, on_delete="CASCADE")
        delta = IntegerField()
        starts_at = DateTimeField()
        ends_at = DateTimeField(null=True)
        reason = CharField(max_length=200)
        actor = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "capacity_adjustment"

    class PoolView(Model):
        user = ForeignKeyField(User, on_delete="CASCADE", index=False)
        customer = ForeignKeyField(Customer, on_delete="CASCADE", index=False)
        day = DateField()

        class Meta:
            database = db
            table_name = "pool_view"
            indexes = ((("user", "day", "customer"), True),)

    class LockRequest(Model):
        customer = ForeignKeyField(Customer, on_delete="CASCADE")
        requester = ForeignKeyField(User, on_delete="CASCADE", index=False)
        reason = CharField(max_length=300)
        status = CharField(max_length=10, default="pending")
        created_at = DateTimeField()
        decided_by = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
        decided_at = DateTimeField(null=True)
        decision_reason = CharField(max_length=300, default="")

        class Meta:
            database = db
            table_name = "lock_request"
            indexes = ((("status", "id"), False),)

    class RuleVersion(Model):
        version = IntegerField(unique=True)
        effective_from = DateTimeField(index=True)
        settings = JSONField()
        note = CharField(max_length=200, default="")
        created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "rule_version"

    class Notification(Model):
        user = ForeignKeyField(User, on_delete="CASCADE", index=False)
        at = DateTimeField()
        kind = CharField(max_length=40)
        message = CharField(max_length=300)
        params = JSONField(default=dict)
        customer = ForeignKeyField(Customer, null=True, on_delete="CASCADE", index=False)
        read_at = DateTimeField(null=True)
        dedupe_key = CharField(max_length=120, null=True, unique=True)

        class Meta:
            database = db
            table_name = "notification"
            indexes = ((("user", "read_at", "id"), False),)

    db.create_tables([Pool, PoolEvent, CapacityAdjustment, PoolView, LockRequest, RuleVersion, Notification])

    m = migrator
    m.migrate(
        m.add_column("customer", "pool_id", ForeignKeyField(Pool, null=True, on_delete="SET NULL", index=False,
                                                            field=Pool.id)),
        m.add_column("customer", "claimed_at", DateTimeField(null=True)),
        m.add_column("customer", "last_valid_followup_at", DateTimeField(null=True)),
        m.add_column("customer", "release_at", DateTimeField(null=True)),
        m.add_column("customer", "release_rule", CharField(max_length=20, default="")),
        m.add_column("customer", "locked", BooleanField(default=False)),
        m.add_column("customer", "contract_end", DateField(null=True)),
        m.add_column("customer", "released_at", DateTimeField(null=True)),
        m.add_column("customer", "released_from", IntegerField(null=True)),
        m.add_column("customer", "released_team", IntegerField(null=True)),
        m.add_column("customer", "staked_by_id", ForeignKeyField(User, null=True, on_delete="SET NULL",
                                                                 index=False, field=User.id)),
        m.add_column("customer", "staked_at", DateTimeField(null=True)),
        m.add_column("customer", "stake_due", DateTimeField(null=True)),
        m.add_column("customer", "stake_completed_at", DateTimeField(null=True)),
        m.add_index("customer", ("release_at",), False),
        m.add_index("customer", ("owner_id", "release_at"), False),
        m.add_index("customer", ("pool_id", "id"), False),
        m.add_index("customer", ("pool_id", "name", "id"), False),
        m.add_index("customer", ("pool_id", "touched_at", "id"), False),
        m.add_index("customer", ("staked_by_id", "stake_due"), False),
        m.add_index("customer", ("stage", "region_id", "id"), False),
        m.add_index("customer", ("release_rule", "contract_end"), False),
        m.add_column("follow_up", "is_valid", BooleanField(default=False)),
        m.add_column("follow_up", "invalid_reasons", JSONField(default=list)),
    )
