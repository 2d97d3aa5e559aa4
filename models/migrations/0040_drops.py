"""Fair drops (issue 20 item 1, models/drops.py): `customer.drop_at`, when a released customer drops from its
pool (indexed: the sweep draws what is due), and `drop_entry`, the reps queued for a drop with the outcome
and place the lottery gave them."""
from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, Model


def up(migrator, db):
    class User(Model):
        class Meta:
            database = db
            table_name = "user"

    class Customer(Model):
        class Meta:
            database = db
            table_name = "customer"

    migrator.migrate(migrator.add_column("customer", "drop_at", DateTimeField(null=True)),
                     migrator.add_index("customer", ("drop_at",), False))

    class DropEntry(Model):
        customer = ForeignKeyField(Customer, on_delete="CASCADE", index=False, backref="+")
        drop_at = DateTimeField()
        user = ForeignKeyField(User, on_delete="CASCADE", index=False, backref="+")
        created_at = DateTimeField()
        outcome = CharField(max_length=8, default="")
        place = IntegerField(null=True)
        rule = CharField(max_length=20, default="")

        class Meta:
            database = db
            table_name = "drop_entry"
            indexes = ((("customer", "drop_at", "user"), True), (("user", "outcome", "drop_at"), False))

    db.create_tables([DropEntry])
