"""Custom fields end to end (issue 13 point 2): a field is for all business models or chosen ones
(`custom_field.business_models`); its values move from the customer's JSON column (`customer.custom`) into
`custom_value` (customer, field, value, number), indexed (field, value, customer) and (field, number, customer)
so a list filter on one field is an index search at a million customers; `completeness_job` holds the
recomputations a definition change leaves to the sweep.

Values are copied 5000 customers at a time in their canonical form (a number without trailing zeros also
in `number`, a date as YYYY-MM-DD); a value its field's kind does not read is kept as typed."""
import json

from peewee import (BigIntegerField, CharField, DateTimeField, DecimalField, ForeignKeyField, Model, TextField)

BATCH = 5000


def up(migrator, db):
    from models.fields import FieldError, parse_date, parse_decimal

    class Customer(Model):
        custom = TextField(null=True)

        class Meta:
            database = db
            table_name = "customer"

    class CustomField(Model):
        key = CharField()
        kind = CharField()

        class Meta:
            database = db
            table_name = "custom_field"

    class CustomValue(Model):
        customer = ForeignKeyField(Customer, on_delete="CASCADE", index=False)
        field = ForeignKeyField(CustomField, on_delete="CASCADE", index=False)
        value = CharField(max_length=200)
        number = DecimalField(max_digits=14, decimal_places=2, null=True, auto_round=True)

        class Meta:
            database = db
            table_name = "custom_value"
            indexes = ((("customer", "field"), True), (("field", "value", "customer"), False),
                       (("field", "number", "customer"), False))

    class CompletenessJob(Model):
        business_models = CharField(max_length=100, default="")
        after_id = BigIntegerField(default=0)
        created_at = DateTimeField()
        done_at = DateTimeField(null=True, index=True)

        class Meta:
            database = db
            table_name = "completeness_job"

    migrator.migrate(migrator.add_column("custom_field", "business_models", CharField(max_length=100, default="")))
    db.create_tables([CustomValue, CompletenessJob])

    fields = {f.key: f for f in CustomField.select()}
    last = 0
    while True:
        rows = list(Customer.select(Customer.id, Customer.custom).where(Customer.id > last)
                    .order_by(Customer.id).limit(BATCH).tuples())
        if not rows:
            break
        out = []
        for pk, raw in rows:
            try:
                values = json.loads(raw or "{}")
            except ValueError:
                values = {}
            for key, value in (values.items() if isinstance(values, dict) else ()):
                field, text, number = fields.get(key), str(value or "").strip()[:200], None
                if field is None or not text:
                    continue
                try:
                    if field.kind == "number":
                        number = parse_decimal(text, allow_zero=True)
                        text = format(number.normalize(), "f")
                    elif field.kind == "date":
                        text = parse_date(text).isoformat()
                except FieldError:
                    pass
                out.append({"customer": pk, "field": field.id, "value": text, "number": number})
        if out:
            CustomValue.insert_many(out).execute()
        last = rows[-1][0]
    migrator.migrate(migrator.drop_column("customer", "custom"))
