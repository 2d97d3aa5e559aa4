"""Duplicate detection: customer.name_norm (the normalised company name) with its index, backfilled."""
from peewee import CharField

BATCH = 5000


def up(migrator, db):
    from models.duplicates import normalize_name

    m = migrator
    m.migrate(
        m.add_column("customer", "name_norm", CharField(max_length=100, default="")),
        m.add_index("customer", ("name_norm",), False),
    )
    last = 0
    while True:
        rows = db.execute_sql("SELECT id, name FROM customer WHERE id > ? ORDER BY id LIMIT ?",
                              (last, BATCH)).fetchall()
        if not rows:
            break
        with db.atomic():
            db.cursor().executemany("UPDATE customer SET name_norm = ? WHERE id = ?",
                                    [(normalize_name(name), pk) for pk, name in rows])
        last = rows[-1][0]
