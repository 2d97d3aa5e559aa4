"""The deadline a ticket's SLA breach refers to (issue 13: "breached" beside "resolution: 8 h left" must say
which deadline was missed and when). Known for a missed response deadline and for a missed resolution
deadline that was not reset by a reopen; otherwise left empty ("an earlier resolution deadline")."""
from peewee import DateTimeField


def up(migrator, db):
    migrator.migrate(migrator.add_column("ticket", "breach_due", DateTimeField(null=True)))
    db.execute_sql("UPDATE ticket SET breach_due = respond_by WHERE breached AND breach_kind = 'response'")
    db.execute_sql("UPDATE ticket SET breach_due = resolve_by WHERE breached AND breach_kind = 'resolution' "
                   "AND reopened = 0")
