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
        mark = db.param  # ? on SQLite, %s on PostgreSQL
        rows = db.execute_sql(f"SELECT id, name FROM customer WHERE id > {mark} ORDER BY id LIMIT {mark}",
                              (last, BATCH)).fetchall()
        if not rows:
            break
        with db.atomic():
            db.cursor().executemany(f"UPDATE customer SET name_norm = {mark} WHERE id = {mark}",
                                    [(normalize_name(name), pk) for pk, name in rows])
        last = rows[-1][0]
