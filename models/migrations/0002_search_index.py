"""Full-text search over customers (SQLite FTS5, trigram tokenizer); other engines use LIKE."""
from models import search


def up(migrator, db):
    search.create_index_table()
