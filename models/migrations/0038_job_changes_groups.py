"""Contacts who change job and customer groups (issue 17 items 5 and 6): on `contact`, `left_at` (when they left),
`moved_company` (the new company's name when it is not in the CRM), `moved_to` (the contact row of their new
role at another customer) and `previous` (the contact row of their former role, indexed: the relationship
follows the person both ways); on `customer_group`, `owner_id` (the group's one owner, under the policy) and an
index on `customer.group_id` for the group page's entities."""
from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField


def up(migrator, db):
    from models.user_tables import User

    m = migrator
    m.migrate(
        m.add_column("contact", "left_at", DateTimeField(null=True)),
        m.add_column("contact", "moved_company", CharField(max_length=100, default="")),
        m.add_column("contact", "moved_to", IntegerField(null=True)),
        m.add_column("contact", "previous", IntegerField(null=True)),
        m.add_index("contact", ("previous",), False),
        m.add_column("customer_group", "owner_id", ForeignKeyField(User, null=True, on_delete="SET NULL",
                                                                   index=False, field=User.id)),
        m.add_index("customer", ("group_id", "id"), False),
    )
