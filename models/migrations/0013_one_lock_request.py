"""One waiting lock request per customer (issue 11 point 7): a partial unique index on the pending requests.

Customers that collected several waiting requests keep the oldest; the later ones are closed as rejected
with a reason saying why (nobody decided them, so `decided_by` stays empty)."""
import datetime as dt

from peewee import SQL, CharField, DateTimeField, IntegerField, Model, fn

DUPLICATE_REASON = "Closed by migration 0013: another request for this customer was already waiting."


def up(migrator, db):
    class LockRequest(Model):
        customer = IntegerField(column_name="customer_id")
        status = CharField(max_length=10)
        decided_at = DateTimeField(null=True)
        decision_reason = CharField(max_length=300)

        class Meta:
            database = db
            table_name = "lock_request"

    oldest = (LockRequest.select(fn.MIN(LockRequest.id)).where(LockRequest.status == "pending")
              .group_by(LockRequest.customer))
    (LockRequest.update(status="rejected", decided_at=dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0),
                        decision_reason=DUPLICATE_REASON)
     .where((LockRequest.status == "pending") & LockRequest.id.not_in(oldest)).execute())
    migrator.migrate(
        migrator.add_index("lock_request", ("customer_id",), unique=True, where=SQL("status = 'pending'"),
                           name="lock_request_one_pending"),
    )
