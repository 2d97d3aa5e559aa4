"""Buying factors and share of wallet (issue 15 items 7 and 8): rankings with evidence and history, spend and
competitor estimates with date and source, and the wallet lines the managers' list reads."""
from peewee import (BooleanField, CharField, DateField, DateTimeField, DecimalField, FloatField, ForeignKeyField,
                    Model)


def up(migrator, db):
    class User(Model):
        class Meta:
            database = db
            table_name = "user"

    class Customer(Model):
        class Meta:
            database = db
            table_name = "customer"

    class Opportunity(Model):
        class Meta:
            database = db
            table_name = "opportunity"

    def money():
        return DecimalField(max_digits=14, decimal_places=2, auto_round=True, default=0)

    class BuyingFactors(Model):
        customer = ForeignKeyField(Customer, on_delete="CASCADE", index=False)
        opportunity = ForeignKeyField(Opportunity, null=True, on_delete="CASCADE", index=False)
        first = CharField(max_length=12)
        second = CharField(max_length=12)
        third = CharField(max_length=12)
        evidence = CharField(max_length=500)
        set_by = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
        set_at = DateTimeField()
        current = BooleanField(default=True)

        class Meta:
            database = db
            table_name = "buying_factors"
            indexes = ((("customer", "opportunity", "current"), False), (("opportunity", "current"), False),
                       (("current", "first"), False))

    class SpendEstimate(Model):
        customer = ForeignKeyField(Customer, on_delete="CASCADE", index=False)
        product_line = CharField(max_length=40)
        spend = money()
        customer_growth = FloatField(null=True)
        source = CharField(max_length=200)
        estimated_on = DateField()
        entered_by = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
        entered_at = DateTimeField()
        current = BooleanField(default=True)

        class Meta:
            database = db
            table_name = "spend_estimate"
            indexes = ((("customer", "product_line", "current"), False),)

    class CompetitorEstimate(Model):
        customer = ForeignKeyField(Customer, on_delete="CASCADE", index=False)
        product_line = CharField(max_length=40)
        competitor = CharField(max_length=60)
        growth = FloatField()
        share = FloatField(null=True)
        source = CharField(max_length=200)
        estimated_on = DateField()
        entered_by = ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
        entered_at = DateTimeField()
        current = BooleanField(default=True)

        class Meta:
            database = db
            table_name = "competitor_estimate"
            indexes = ((("customer", "product_line", "competitor", "current"), False),)

    class WalletLine(Model):
        customer = ForeignKeyField(Customer, on_delete="CASCADE", index=False)
        product_line = CharField(max_length=40)
        spend = money()
        customer_growth = FloatField(null=True)
        ours_12m = money()
        ours_prev = money()
        our_growth = FloatField(null=True)
        share = FloatField(default=0)
        share_prev = FloatField(null=True)
        share_drop = FloatField(default=0)
        falling = BooleanField(default=False)
        refreshed_on = DateField()

        class Meta:
            database = db
            table_name = "wallet_line"
            indexes = ((("customer", "product_line"), True), (("falling", "share_drop", "id"), False),
                       (("refreshed_on", "customer"), False))

    db.create_tables([BuyingFactors, SpendEstimate, CompetitorEstimate, WalletLine])
