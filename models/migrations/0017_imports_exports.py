"""Issue 14 points 7 and 8: customer import jobs (the job row, its uploaded file, its rejected rows) and the
per-role export row limits."""
from peewee import (BlobField, CharField, DateTimeField, ForeignKeyField, IntegerField, Model, SmallIntegerField,
                    TextField)


def up(migrator, db):
    class User(Model):
        class Meta:
            database = db
            table_name = "user"

    class ImportJob(Model):
        created_by = ForeignKeyField(User, on_delete="CASCADE", index=False, backref="+")
        created_at = DateTimeField()
        file_name = CharField(max_length=200)
        kind = CharField(max_length=5)
        encoding = CharField(max_length=20, default="")
        header_row = SmallIntegerField(default=1)
        mapping = TextField(default="{}")
        options = TextField(default="{}")
        state = CharField(max_length=10, default="mapping")
        total = IntegerField(default=0)
        done = IntegerField(default=0)
        summary = TextField(default="{}")
        created = IntegerField(default=0)
        updated = IntegerField(default=0)
        skipped = IntegerField(default=0)
        rejected = IntegerField(default=0)
        heartbeat_at = DateTimeField(null=True)
        finished_at = DateTimeField(null=True)
        error = TextField(default="{}")

        class Meta:
            database = db
            table_name = "import_job"
            indexes = ((("created_by", "id"), False), (("state",), False))

    class ImportFile(Model):
        job = ForeignKeyField(ImportJob, unique=True, on_delete="CASCADE", backref="+")
        data = BlobField()

        class Meta:
            database = db
            table_name = "import_file"

    class ImportRejection(Model):
        job = ForeignKeyField(ImportJob, on_delete="CASCADE", index=False, backref="+")
        line = IntegerField()
        cells = TextField(default="[]")
        outcome = CharField(max_length=10)
        problems = TextField(default="[]")

        class Meta:
            database = db
            table_name = "import_rejection"
            indexes = ((("job", "line"), False),)

    class ExportLimit(Model):
        role = CharField(max_length=20, unique=True)
        max_rows = IntegerField()
        updated_at = DateTimeField()
        updated_by = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")

        class Meta:
            database = db
            table_name = "export_limit"

    db.create_tables([ImportJob, ImportFile, ImportRejection, ExportLimit])


def down(migrator, db):
    for table in ("import_rejection", "import_file", "import_job", "export_limit"):
        db.execute_sql(f"DROP TABLE IF EXISTS {table}")
