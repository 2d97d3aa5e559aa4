"""customer.name_norm again with the converter (zhconv) in place of the 114-character table: a name
stored in traditional characters now normalises like its simplified form (issue 12 point 6).

Reads 5000 customers at a time in id order and rewrites only the values that change."""
from peewee import CharField, Model

BATCH = 5000


def up(migrator, db):
    from models.duplicates import normalize_name

    class Customer(Model):
        name = CharField()
        name_norm = CharField()

        class Meta:
            database = db
            table_name = "customer"

    last = 0
    while True:
        rows = list(Customer.select(Customer.id, Customer.name, Customer.name_norm)
                    .where(Customer.id > last).order_by(Customer.id).limit(BATCH).tuples())
        if not rows:
            break
        for pk, name, old in rows:
            new = normalize_name(name)
            if new != old:
                Customer.update(name_norm=new).where(Customer.id == pk).execute()
        last = rows[-1][0]
