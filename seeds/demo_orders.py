"""Demo scenes for orders, payments and reorder cycles (domain §9): the product list of a supplier to
garment makers (fabrics, trims and machine consumables reordered in cycles; sewing and cutting
equipment), two years of orders in bulk for about a quarter of the signed customers — regular and
irregular reorderers, payments on time, late and outstanding, cycles accepted for some — and, through
the verbs, rep001's showcase: a monthly reorderer whose reorder is due this week, an irregular one, a
churn risk, and an intent customer whose first signed order makes it a signed customer.
"""
import datetime as dt
import time
from decimal import Decimal
from random import Random

from models import clock, db
from models import sql as sql_engine
from models import orders as om
from models import reorders as rm
from models.customers import Customer
from models.users import User

SEED = 20261124
SHARE = 4  # every 4th signed customer has an order history
CENT = Decimal("0.01")

# code, 中文, English, product line, unit, list price, unit cost, consumable, typical quantity (lo, hi)
PRODUCTS = [
    ("FAB-WOOL", "精纺羊毛西装面料", "Worsted wool suiting", "面料 Fabrics", "米", "128.00", "86.00", True, (150, 1200)),
    ("FAB-DENIM", "弹力牛仔面料", "Stretch denim", "面料 Fabrics", "米", "38.00", "24.50", True, (500, 4000)),
    ("FAB-POPLIN", "全棉府绸衬衫面料", "Cotton poplin shirting", "面料 Fabrics", "米", "26.50", "17.80", True, (500, 5000)),
    ("FAB-SILK", "真丝双绉面料", "Silk crepe de chine", "面料 Fabrics", "米", "168.00", "118.00", True, (50, 400)),
    ("FAB-JERSEY", "精梳棉针织汗布", "Combed cotton jersey", "面料 Fabrics", "公斤", "62.00", "41.00", True, (200, 2000)),
    ("TRM-THREAD", "涤纶缝纫线 40S/2", "Polyester sewing thread 40s/2", "辅料 Trims", "箱", "260.00", "176.00", True, (5, 40)),
    ("TRM-ZIP", "5号树脂拉链（百条）", "No. 5 resin zips (100)", "辅料 Trims", "包", "85.00", "52.00", True, (10, 120)),
    ("TRM-BUTTON", "四眼树脂纽扣（千粒）", "Four-hole resin buttons (1,000)", "辅料 Trims", "包", "45.00", "26.00", True, (10, 200)),
    ("TRM-INTER", "有纺粘合衬", "Woven fusible interlining", "辅料 Trims", "米", "9.80", "6.10", True, (300, 3000)),
    ("TRM-LABEL", "织唛商标（千个）", "Woven labels (1,000)", "辅料 Trims", "包", "120.00", "70.00", True, (2, 30)),
    ("CON-NEEDLE", "工业缝纫机针 DBx1", "Industrial sewing needles DBx1", "耗材 Machine consumables", "盒", "38.00", "19.00", True, (10, 100)),
    ("CON-BLADE", "裁床刀片", "Cutter blades", "耗材 Machine consumables", "片", "95.00", "52.00", True, (4, 40)),
    ("CON-OIL", "缝纫机专用油", "Sewing machine oil", "耗材 Machine consumables", "桶", "180.00", "115.00", True, (2, 20)),
    ("CON-PAPER", "唛架纸", "Marker paper", "耗材 Machine consumables", "卷", "150.00", "98.00", True, (5, 60)),
    ("EQ-LOCK", "电脑平缝机", "Computerised lockstitch machine", "设备 Equipment", "台", "3800.00", "2650.00", False, (5, 60)),
    ("EQ-OVER", "四线包缝机", "Four-thread overlock machine", "设备 Equipment", "台", "4600.00", "3200.00", False, (2, 30)),
    ("EQ-CUT", "自动裁床", "Automatic cutting machine", "设备 Equipment", "台", "380000.00", "286000.00", False, (1, 2)),
    ("EQ-PRESS", "全自动整烫机", "Automatic pressing machine", "设备 Equipment", "台", "56000.00", "39000.00", False, (1, 4)),
    ("EQ-SPREAD", "自动拉布机", "Automatic spreading machine", "设备 Equipment", "台", "88000.00", "61000.00", False, (1, 2)),
]
REGULAR_INTERVALS = (14, 30, 30, 30, 45, 60, 60, 90)


def _products(admin):
    out = {}
    for code, zh, en, line, unit, price, cost, consumable, qty in PRODUCTS:
        product = om.Product.get_or_none(om.Product.code == code) or om.save_product(admin, {
            "code": code, "name_zh": zh, "name_en": en, "product_line": line, "unit": unit, "list_price": price,
            "unit_cost": cost, "consumable": "1" if consumable else ""})
        product.qty = qty
        out[code] = product
    return out


def _line(rng, product):
    lo, hi = product.qty
    quantity = Decimal(rng.randrange(lo, hi + 1))
    price = (product.list_price * Decimal(str(rng.choice((1, 1, 0.98, 0.95, 0.92))))).quantize(CENT)
    return quantity, price, product.unit_cost, (quantity * price).quantize(CENT)


def _history(rng, customers, products, today):
    """Orders (with their lines, dues and payments) for `customers`, in bulk with explicit ids."""
    consumables = [p for p in products.values() if p.consumable]
    equipment = [p for p in products.values() if not p.consumable]
    next_id = (db.execute_sql('SELECT MAX(id) FROM "order"').fetchone()[0] or 0) + 1
    orders, lines, dues, payments, patterns = [], [], [], [], []
    now = clock.now()
    for c in customers:
        events = []
        for product in rng.sample(consumables, rng.choice((1, 1, 2, 2, 3))):
            regular = rng.random() < 0.6
            base = rng.choice(REGULAR_INTERVALS)
            day = today - dt.timedelta(days=730 - rng.randrange(0, 120))
            while day <= today:
                events.append((day, product))
                gap = round(base * rng.uniform(0.9, 1.1)) if regular else rng.randrange(12, 160)
                day += dt.timedelta(days=max(7, gap))
            patterns.append((c, product, regular))
        if rng.random() < 0.25:
            events.append((today - dt.timedelta(days=rng.randrange(30, 700)), rng.choice(equipment)))
        for day, product in sorted(events, key=lambda e: e[0]):
            oid = next_id
            next_id += 1
            quantity, price, cost, amount = _line(rng, product)
            orders.append({"id": oid, "customer": c.id, "rep": c.owner_id, "ordered_on": day, "status": "signed",
                           "total": amount, "cost": (quantity * cost).quantize(CENT), "note": "",
                           "created_by": c.owner_id, "created_at": now, "signed_at": now})
            lines.append({"order": oid, "product": product.id, "quantity": quantity, "unit_price": price,
                          "unit_cost": cost, "amount": amount})
            terms = 60 if c.business_model == "key_account" else 30
            due_on = day + dt.timedelta(days=terms)
            dues.append({"order": oid, "customer": c.id, "due_on": due_on, "amount": amount})
            roll = rng.random()
            if roll < 0.68:
                paid_on = due_on - dt.timedelta(days=rng.randrange(0, 12))
            elif roll < 0.9:
                paid_on = due_on + dt.timedelta(days=rng.randrange(3, 75))
            else:
                paid_on = None if due_on > today - dt.timedelta(days=150) else due_on + dt.timedelta(days=rng.randrange(60, 140))
            if paid_on is not None and paid_on <= today:
                payments.append({"order": oid, "customer": c.id, "received_on": max(paid_on, day), "amount": amount,
                                 "method": rng.choice(("bank_transfer", "bank_transfer", "acceptance_bill", "online")),
                                 "prepayment": False, "recorded_by": c.owner_id, "created_at": now})
    for model, rows in ((om.Order, orders), (om.OrderLine, lines), (om.PaymentDue, dues), (om.Payment, payments)):
        _bulk(model, rows)
    return patterns, len(orders)


def _bulk(model, rows):
    """executemany with the columns of `rows` (peewee's insert_many spends seconds building SQL text)."""
    if not rows:
        return
    fields = [model._meta.fields[name] for name in rows[0]]
    sql = 'INSERT INTO "{}" ({}) VALUES ({})'.format(model._meta.table_name,
                                                     ", ".join(f'"{f.column_name}"' for f in fields),
                                                     ", ".join(db.param for _ in fields))
    db.cursor().executemany(sql, [tuple(f.db_value(r[f.name]) for f in fields) for r in rows])
    sql_engine.sync_sequence(model)


def _bulk_cycles(rng, patterns, today):
    """Cycles accepted as suggested for about 40 % of the regular reorderers."""
    rows, now = [], clock.now()
    for c, product, regular in patterns:
        if not regular or rng.random() > 0.4:
            continue
        s = rm.suggest_cycle(c.id, product.id, today)
        if not s.get("enough"):
            continue
        nxt = s["next_expected_on"]
        rows.append({"customer": c.id, "product": product.id, "every": s["every"], "unit": s["unit"],
                     "starts_on": nxt, "remind_days": s["remind_days"], "next_expected_on": nxt,
                     "remind_on": nxt - dt.timedelta(days=s["remind_days"]), "active": True, "suggested": True,
                     "created_by": c.owner_id, "created_at": now, "updated_at": now})
    _bulk(rm.ReorderCycle, rows)
    return len(rows)


def _months_back(day, n):
    return rm.add_interval(day, -n, "month") if n else day


def _showcase(rep, products, today, service):
    """rep001's customers, through the verbs: what a rep sees on the first morning."""
    def place(customer, day, code, qty, paid=True, late=0):
        order = om.create_order(rep, customer, {"ordered_on": day.isoformat(), "product_0": str(products[code].id),
                                                "quantity_0": str(qty)}, sign=True)
        due = om.PaymentDue.get(om.PaymentDue.order == order)
        received = due.due_on + dt.timedelta(days=late)
        if paid and received <= today:
            om.record_payment(rep, order, {"received_on": received.isoformat(), "amount": str(order.total),
                                           "method": "bank_transfer"})
        return order

    mine = list(Customer.select().where((Customer.owner == rep.id) & Customer.stage.in_(("signed", "long_term")))
                .order_by(Customer.id))
    # The first order moves the customer up the ladder, and so its release clock: leave the pool scenes
    # (customers about to be released, locked) as they were staged.
    intent = (Customer.select().where((Customer.owner == rep.id) & (Customer.stage == "intent") & ~Customer.locked
                                      & (Customer.release_at > clock.now() + dt.timedelta(days=7)))
              .order_by(Customer.id).first())
    if len(mine) < 4:
        return 0
    regular, irregular, churn, fourth = mine[:4]
    # A monthly thread and needle buyer for two years; the next reorder is due in three days.
    due_day = today + dt.timedelta(days=3)
    for n in range(24, 0, -1):
        day = _months_back(due_day, n) - dt.timedelta(days=(n * 7) % 3 if n > 1 else 0)
        place(regular, day, "TRM-THREAD", 12 + n % 5, late=(0 if n % 6 else 9))
    for n in range(8, 0, -1):
        place(regular, _months_back(due_day, 3 * n) + dt.timedelta(days=1), "CON-NEEDLE", 30)
    for code in ("TRM-THREAD", "CON-NEEDLE"):
        s = rm.suggest_cycle(regular.id, products[code].id, today)
        rm.save_cycle(rep, regular, {"product_id": str(products[code].id), "every": str(s["every"]), "unit": s["unit"],
                                     "starts_on": s["starts_on"].isoformat(), "remind_days": "7", "suggested": "1",
                                     "service_user_id": str(service.id) if service and code == "CON-NEEDLE" else ""})
    # An irregular denim buyer: the suggestion says so, no cycle accepted yet; one invoice outstanding.
    gaps = (0, 21, 95, 30, 140, 44, 77)
    for i in range(len(gaps)):
        day = today - dt.timedelta(days=420) + dt.timedelta(days=sum(gaps[:i + 1]))
        place(irregular, day, "FAB-DENIM", 800 + 100 * i, paid=i != 6)
    # A churn risk: monthly poplin, the last order 42 days ago; the cycle's expected date has passed.
    for n in range(10, 0, -1):
        place(churn, _months_back(today - dt.timedelta(days=42), n - 1), "FAB-POPLIN", 1500, late=20 if n < 4 else 0)
    rm.save_cycle(rep, churn, {"product_id": str(products["FAB-POPLIN"].id), "every": "1", "unit": "month",
                               "starts_on": (today - dt.timedelta(days=12)).isoformat(), "remind_days": "7",
                               "suggested": "1"})
    # Buttons every two weeks, the next on Friday-ish: a second to-do this week.
    for n in range(12, 0, -1):
        place(fourth, today + dt.timedelta(days=5) - dt.timedelta(days=14 * n), "TRM-BUTTON", 60)
    rm.save_cycle(rep, fourth, {"product_id": str(products["TRM-BUTTON"].id), "every": "2", "unit": "week",
                                "starts_on": (today + dt.timedelta(days=5)).isoformat(), "remind_days": "7",
                                "suggested": "1"})
    # An intent customer signs its first order (two lockstitch machines): it becomes a signed customer.
    if intent is not None:
        first = om.create_order(rep, intent, {"ordered_on": (today - dt.timedelta(days=2)).isoformat(),
                                              "product_0": str(products["EQ-LOCK"].id), "quantity_0": "20",
                                              "product_1": str(products["CON-NEEDLE"].id), "quantity_1": "50",
                                              "note": "首批设备，含随机针"})
        om.add_payment_due(rep, first, {"due_on": (today + dt.timedelta(days=10)).isoformat(), "amount": "30000"})
        om.sign_order(rep, first)
        om.record_payment(rep, first, {"received_on": today.isoformat(), "amount": "30000", "method": "bank_transfer"})
        om.create_order(rep, intent, {"ordered_on": today.isoformat(), "product_0": str(products["EQ-OVER"].id),
                                      "quantity_0": "6", "note": "包缝机报价草稿"})
    return len(mine)


def stage(say=None):
    say = say or (lambda msg: None)
    started = time.perf_counter()
    rng = Random(SEED)
    today = clock.today()
    admin = User.get(User.username == "admin")
    rep = User.get_or_none(User.username == "rep001")
    service = User.get_or_none(User.username == "service")
    products = _products(admin)
    showcase = set()
    if rep is not None:
        _showcase(rep, products, today, service)
        showcase = {c for (c,) in om.Order.select(om.Order.customer).distinct().tuples()}
    signed = [c for c in Customer.select(Customer.id, Customer.owner, Customer.business_model)
              .where(Customer.stage.in_(("signed", "long_term")) & Customer.owner.is_null(False))
              .order_by(Customer.id) if c.id not in showcase]
    patterns, count = _history(rng, signed[::SHARE], products, today)
    cycles = _bulk_cycles(rng, patterns, today)
    swept = rm.sweep(clock.now())
    say(f"demo data: {count} orders in bulk for {len(signed[::SHARE])} customers, {cycles} reorder cycles, "
        f"reorder sweep {swept}, in {time.perf_counter() - started:.1f} s")
