"""Opportunity stages as each business model names them: a name per language and entry criteria."""
from peewee import CharField


def up(migrator, db):
    m = migrator
    m.migrate(
        m.add_column("stage_setting", "name_zh", CharField(max_length=30, default="")),
        m.add_column("stage_setting", "name_en", CharField(max_length=30, default="")),
        m.add_column("stage_setting", "entry_criteria", CharField(max_length=300, default="")),
    )
