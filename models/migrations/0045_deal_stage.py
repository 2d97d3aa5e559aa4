"""Opportunity stage timeouts count against the customer's protection (issue 20 item 4): the customer keeps
when its open opportunity longest in one stage entered that stage, and which one it is (models/opportunities.py
maintains both), so that `pools.release_plan` knows from the row alone when the deal got stuck under the rule
`stage_timeout_release_days`. A partial index over the customers that have an open opportunity serves the
daily pass that finds the ones just stuck. The columns are filled from the opportunities as they are."""
from peewee import SQL, DateTimeField, IntegerField


def up(migrator, db):
    migrator.migrate(
        migrator.add_column("customer", "deal_stage_since", DateTimeField(null=True)),
        migrator.add_column("customer", "deal_stage_opportunity", IntegerField(null=True)),
        migrator.add_index("customer", ("deal_stage_since",), False, where=SQL("deal_stage_since IS NOT NULL"),
                           name="customer_deal_stage"),
    )
    # a boolean column alone is a condition on both engines (SQLite stores 1, PostgreSQL a boolean)
    db.execute_sql(
        "UPDATE customer SET deal_stage_since = (SELECT MIN(o.stage_changed_at) FROM opportunity o "
        "WHERE o.customer_id = customer.id AND o.is_open), "
        "deal_stage_opportunity = (SELECT o.id FROM opportunity o WHERE o.customer_id = customer.id "
        "AND o.is_open ORDER BY o.stage_changed_at, o.id LIMIT 1) "
        "WHERE id IN (SELECT customer_id FROM opportunity WHERE is_open)")
