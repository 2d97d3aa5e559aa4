"""Run the value recompute (issue 15) on PostgreSQL and on SQLite over the same generated customers, orders,
instalments, payments and open deals, and compare every customer's inputs and tier: the recompute's SQL text
goes through models/sql.py's engine helpers, and this shows that it runs, and agrees, on both.

    .venv/bin/python benchmarks/value_on_postgres.py "postgresql://postgres@/kehu?host=/tmp/pgsock&port=5432" [--customers 300]

The PostgreSQL database must exist and be empty (its tables are created from the models); SQLite is a file
under /tmp. Prints the tiers on each engine and any customer whose figures differ (none expected).
"""
import argparse
import datetime as dt
import random
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import models.customers  # noqa: E402,F401  (customers before notifications: the import order that works)
import models  # noqa: E402
from models import clock, db  # noqa: E402
from models import value as vm  # noqa: E402
from models.customers import Customer  # noqa: E402
from models.opportunities import Opportunity  # noqa: E402
from models.orders import Order, Payment, PaymentDue  # noqa: E402
from models.users import Team, User  # noqa: E402

NOW = dt.datetime(2026, 11, 24, 2, 0)
TODAY = dt.date(2026, 11, 24)


def build(url, customers, seed=7):
    models.init_db(url)
    db.connect(reuse_if_open=True)
    db.create_tables(models.all_models())
    rng = random.Random(seed)
    with db.atomic():
        team = Team.create(name="Team 1")
        rep = User.create(username="rep001", full_name="Rep 1", password_hash="x", role="sales", team=team,
                          created_at=NOW)
        for i in range(1, customers + 1):
            c = Customer.create(id=i, name=f"客户{i}", name_norm=f"客户{i}", owner=rep, team=team, stage="signed",
                                business_model="consumer", source="website", created_at=NOW, updated_at=NOW,
                                stage_changed_at=NOW, touched_at=NOW)
            for _ in range(rng.choice((0, 0, 1, 2, 3, 5))):
                day = TODAY - dt.timedelta(days=rng.randint(1, 700))
                total = Decimal(rng.choice((20_000, 80_000, 300_000, 900_000, 1_500_000)))
                order = Order.create(customer=c, rep=rep, ordered_on=day, status="signed", total=total,
                                     cost=total * Decimal("0.62"), created_at=NOW, signed_at=NOW)
                due = day + dt.timedelta(days=30)
                PaymentDue.create(order=order, customer=c, due_on=due, amount=total)
                kind = rng.random()
                if kind < 0.7:
                    Payment.create(order=order, customer=c, received_on=min(due, TODAY), amount=total,
                                   method="cash", created_at=NOW)
                elif kind < 0.9:
                    late = min(due + dt.timedelta(days=rng.randint(5, 90)), TODAY)
                    Payment.create(order=order, customer=c, received_on=late, amount=total * Decimal("0.6"),
                                   method="cash", created_at=NOW)
            if rng.random() < 0.1:
                amount = Decimal(rng.choice((100_000, 600_000)))
                Opportunity.create(customer=c, owner=rep, team=team, name="deal", amount=amount, probability=50,
                                   weighted=amount / 2, stage="proposal", expected_close=TODAY, created_at=NOW,
                                   updated_at=NOW, stage_changed_at=NOW, is_open=True)
    clock.freeze(NOW)
    vm.recompute_all(NOW, chunk=100)
    rows = {r.customer_id: (r.tier, r.reason, float(r.score or 0), float(r.sales_12m), float(r.due_12m),
                            float(r.collected_12m), round(float(r.late_sum), 1), r.late_n, r.max_overdue_days,
                            float(r.pipeline))
            for r in vm.CustomerValue.select()}
    changes = vm.ValueChange.select().count()
    settings = vm.validate_settings({"sales_full": "800000"})  # a changed rule's preview, and the pyramid
    moved = vm.preview(settings)["moved"]
    admin = User.create(username="admin", full_name="Admin", password_hash="x", role="admin", created_at=NOW)
    pyramid = {t: v["count"] for t, v in vm.pyramid(admin)["tiers"].items()}
    print(f"{url.split(':')[0]}: the preview moves {moved}; pyramid {pyramid}")
    timeline = models.audit.AuditEvent.select().where(models.audit.AuditEvent.kind == "value.tier_changed").first()
    sample = timeline.data if timeline else None
    db.close()
    return rows, changes, sample


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("postgres_url")
    parser.add_argument("--customers", type=int, default=300)
    args = parser.parse_args()
    sqlite_path = Path(tempfile.mkdtemp()) / "value.db"
    lite, lite_changes, lite_sample = build(f"sqlite:///{sqlite_path}", args.customers)
    pg, pg_changes, pg_sample = build(args.postgres_url, args.customers)
    tiers = {}
    for name, rows in (("sqlite", lite), ("postgresql", pg)):
        for tier, *_ in rows.values():
            tiers.setdefault(name, {}).setdefault(tier, 0)
            tiers[name][tier] += 1
    print("tiers:", tiers)
    print("history rows:", {"sqlite": lite_changes, "postgresql": pg_changes})
    print("a timeline row on PostgreSQL:", pg_sample)
    differ = [(i, lite.get(i), pg.get(i)) for i in sorted(set(lite) | set(pg)) if lite.get(i) != pg.get(i)]
    for row in differ[:20]:
        print("DIFFERS", row)
    print(f"{len(lite)} customers on each engine; {len(differ)} differ")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
