"""Orders and payments keep a customer out of forced release (issue 13 point 9): `customer.last_deal_on`, the
date of its last signed order or received payment, kept by the order verbs (models/orders.py) and read by
the release plan (models/pools.py) under the rule setting `order_protection_days`. Filled here from the
orders and payments already recorded (one statement each, on their (customer, date) indexes). Stored release
dates are not rewritten here: the sweep re-plans every due customer before releasing it (so a protected one
stays, counted in `kept_by_orders`), and the next rule version or change of the customer stores the new date."""
from peewee import DateField


def up(migrator, db):
    migrator.migrate(migrator.add_column("customer", "last_deal_on", DateField(null=True)))
    db.execute_sql("UPDATE customer SET last_deal_on = (SELECT MAX(o.ordered_on) FROM \"order\" o "
                   "WHERE o.customer_id = customer.id AND o.status = 'signed') "
                   "WHERE id IN (SELECT customer_id FROM \"order\" WHERE status = 'signed')")
    db.execute_sql("UPDATE customer SET last_deal_on = (SELECT MAX(p.received_on) FROM payment p "
                   "WHERE p.customer_id = customer.id) "
                   "WHERE id IN (SELECT customer_id FROM payment) AND (last_deal_on IS NULL OR last_deal_on < "
                   "(SELECT MAX(p.received_on) FROM payment p WHERE p.customer_id = customer.id))")
