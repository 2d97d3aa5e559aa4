"""Orders: products, orders and their lines, payment schedules and payments received; reorder cycles
and their to-dos (domain §9)."""
from peewee import (BooleanField, CharField, DateField, DateTimeField, DecimalField, ForeignKeyField,
                    Model, SmallIntegerField)


def _money(**kw):
    return DecimalField(max_digits=14, decimal_places=2, auto_round=True, **kw)


def up(migrator, db):
    class User(Model):
        class Meta:
            database = db
            table_name = "user"

    class Customer(Model):
        class Meta:
            database = db
            table_name = "customer"

    class Product(Model):
        code = CharField(max_length=30, unique=True)
        name_zh = CharField(max_length=100)
        name_en = CharField(max_length=100)
        product_line = CharField(max_length=40, default="", index=True)
        unit = CharField(max_length=10, default="")
        list_price = _money()
        unit_cost = _money()
        consumable = BooleanField(default=False)
        active = BooleanField(default=True)
        updated_at = DateTimeField()

        class Meta:
            database = db
            table_name = "product"

    class Order(Model):
        customer = ForeignKeyField(Customer, on_delete="CASCADE", index=False)
        rep = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False)
        ordered_on = DateField()
        status = CharField(max_length=10, default="draft")
        total = _money(default=0)
        cost = _money(default=0)
        note = CharField(max_length=200, default="")
        created_by = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
        created_at = DateTimeField()
        signed_at = DateTimeField(null=True)
        cancelled_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "order"
            indexes = ((("customer", "ordered_on", "id"), False), (("rep", "ordered_on"), False),
                       (("status", "ordered_on"), False))

    class OrderLine(Model):
        order = ForeignKeyField(Order, on_delete="CASCADE", index=False)
        product = ForeignKeyField(Product, on_delete="RESTRICT", index=False)
        quantity = DecimalField(max_digits=12, decimal_places=2, auto_round=True)
        unit_price = _money()
        unit_cost = _money()
        amount = _money()

        class Meta:
            database = db
            table_name = "order_line"
            indexes = ((("order", "id"), False), (("product", "order"), False))

    class PaymentDue(Model):
        order = ForeignKeyField(Order, on_delete="CASCADE", index=False)
        customer = ForeignKeyField(Customer, on_delete="CASCADE", index=False)
        due_on = DateField()
        amount = _money()

        class Meta:
            database = db
            table_name = "payment_due"
            indexes = ((("order", "due_on"), False), (("customer", "due_on"), False))

    class Payment(Model):
        order = ForeignKeyField(Order, on_delete="CASCADE", index=False)
        customer = ForeignKeyField(Customer, on_delete="CASCADE", index=False)
        received_on = DateField()
        amount = _money()
        method = CharField(max_length=20)
        prepayment = BooleanField(default=False)
        recorded_by = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "payment"
            indexes = ((("order", "received_on"), False), (("customer", "received_on"), False))

    class ReorderCycle(Model):
        customer = ForeignKeyField(Customer, on_delete="CASCADE", index=False)
        product = ForeignKeyField(Product, on_delete="CASCADE", index=False)
        every = SmallIntegerField()
        unit = CharField(max_length=5)
        starts_on = DateField()
        ends_on = DateField(null=True)
        remind_days = SmallIntegerField(default=7)
        service_user = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
        next_expected_on = DateField()
        remind_on = DateField()
        active = BooleanField(default=True)
        suggested = BooleanField(default=False)
        created_by = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
        created_at = DateTimeField()
        updated_at = DateTimeField()

        class Meta:
            database = db
            table_name = "reorder_cycle"
            indexes = ((("customer", "product"), True), (("active", "remind_on"), False),
                       (("service_user", "active"), False), (("next_expected_on",), False))

    class ReorderTodo(Model):
        cycle = ForeignKeyField(ReorderCycle, on_delete="CASCADE", index=False)
        customer = ForeignKeyField(Customer, on_delete="CASCADE", index=False)
        product = ForeignKeyField(Product, on_delete="CASCADE", index=False)
        rep = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
        service_user = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
        expected_on = DateField()
        remind_on = DateField()
        status = CharField(max_length=10, default="open")
        flagged_at = DateTimeField(null=True)
        created_at = DateTimeField()
        closed_at = DateTimeField(null=True)
        order = ForeignKeyField(Order, null=True, on_delete="SET NULL", index=False, backref="+")
        ordered_on = DateField(null=True)
        on_time = BooleanField(null=True)

        class Meta:
            database = db
            table_name = "reorder_todo"
            indexes = ((("cycle", "expected_on"), True), (("rep", "status", "remind_on"), False),
                       (("service_user", "status", "remind_on"), False), (("customer", "status"), False),
                       (("status", "expected_on"), False), (("rep", "expected_on"), False))

    db.create_tables([Product, Order, OrderLine, PaymentDue, Payment, ReorderCycle, ReorderTodo])
