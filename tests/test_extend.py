"""The extension points of the shared screens (views/extend.py): every domain registers through that one
module, and the screens show what the domains registered, in order."""
import datetime as dt
import re
from pathlib import Path

from models.orders import create_order, save_product
from models.reorders import save_cycle
from views import extend

ROOT = Path(__file__).resolve().parent.parent

# The registries and registration styles that views/extend.py replaced.
OLD_STYLES = ("EXTRA_TABS", "SIDE_PANELS", "EVENT_DESCRIBERS", "register_panel", "register_approvals",
              "APPROVAL_SECTIONS", "record_once", "app_template_global", "app_template_filter",
              "app_context_processor", "add_app_template", "template_global(", "template_filter(")
# The app's own set-up (not a domain) may set its template names directly.
CORE = {"__init__.py", "i18n.py", "extend.py"}


def test_every_registration_goes_through_views_extend():
    found = []
    for path in sorted((ROOT / "views").glob("*.py")):
        text = path.read_text()
        for style in OLD_STYLES:
            if style in text and not (path.name == "extend.py" and style.startswith("template_")):
                found.append(f"{path.name}: {style}")
        if path.name not in CORE and "jinja_env" in text:
            found.append(f"{path.name}: jinja_env")
    assert found == []
    customers = (ROOT / "views" / "customers.py").read_text()
    assert "_pool_panel" not in customers and '"pool.' not in customers  # the pool's card and sentences: views/pools.py


def test_the_registered_points(app):
    assert [t.key for t in sorted(extend._tabs.values(), key=lambda t: (t.order, t.key))] == \
        ["opportunities", "tree", "orders", "reorders", "projects", "documents", "service"]
    assert [c[1] for c in sorted(extend._side_cards.values(), key=lambda c: c[:2])] == [
        "pools/_pool_panel.html", "appeals/_card.html", "value/_card.html", "value/_factors_card.html", "value/_wallet_card.html",
        "reorders/_status_panel.html", "leads/_side_card.html", "merges/_side_panel.html",
        "pool_clock/_pause_card.html", "orders/_figures_panel.html", "plans/_side_card.html", "service/_side.html",
        "transfers/_side_panel.html", "quality/_card.html"]
    assert [c[1] for c in sorted(extend._opportunity_cards.values(), key=lambda c: c[:2])] == [
        "value/_factors_card.html"]
    assert [s["key"] for s in extend.approvals_sections()] == ["transfers", "pauses", "projects", "appeals", "conflicts"]
    assert {"customer.", "followup.", "contact.", "pool.", "opportunity.", "service.", "care.", "transfer.",
            "conflict.", "customer.merged", "contact.tree_updated", "lead.", "value."} <= set(extend._timeline)
    assert {"describe_event", "STAGE_LABELS", "LEDGER_LABELS", "OPP_STAGE_LABELS", "service_labels",
            "merge_field_label", "conflict_why"} <= set(app.jinja_env.globals)
    assert {"tab_label", "yuan", "filesize"} <= set(app.jinja_env.filters)


def test_template_names_are_not_registered_twice():
    extend.template_globals(STAGE_LABELS=extend._globals["STAGE_LABELS"])  # the same value again is harmless
    try:
        extend.template_globals(STAGE_LABELS={})
    except ValueError as exc:
        assert "STAGE_LABELS" in str(exc)
    else:
        raise AssertionError("a second STAGE_LABELS was accepted")


def test_longest_timeline_prefix_answers_first(app):
    from flask_babel import force_locale

    class Event:
        def __init__(self, kind, data=None):
            self.kind, self.data = kind, data or {}

    with app.test_request_context(), force_locale("en"):
        _check_prefixes(Event)


def _check_prefixes(Event):
    assert extend.describe_event(Event("customer.merged", {"loser_name": "Old Co"})).startswith("merged Old Co")
    assert extend.describe_event(Event("customer.created", {"stage": "target"})).startswith("created the customer")
    assert extend.describe_event(Event("pool.claimed")) == "claimed the customer from the public pool"
    assert extend.describe_event(Event("customer.something_new")) == "Customer file: something new"
    assert extend.describe_event(Event("unknown.kind")) == "unknown: kind"  # no describer: still words, never the raw key


def test_the_360_page_shows_every_domains_tabs_and_cards(client, make_user, make_team, make_customer):
    team = make_team()
    rep = make_user("sales", team)
    admin = make_user("admin")
    customer = make_customer(owner=rep, stage="intent", business_model="project")
    thread = save_product(admin, {"code": "THR-40", "name_zh": "缝纫线", "name_en": "Sewing thread", "product_line": "辅料",
                                  "unit": "箱", "list_price": "120", "unit_cost": "80", "consumable": "1"})
    create_order(rep, customer, {"ordered_on": "2026-11-01", "product_0": str(thread.id), "quantity_0": "10"},
                 sign=True)
    save_cycle(rep, customer, {"product_id": str(thread.id), "every": "30", "unit": "day",
                               "starts_on": dt.date(2026, 12, 1).isoformat(), "remind_days": "7"})
    client.login(rep)
    page = client.get(f"/customers/{customer.id}").get_data(as_text=True)
    tabs = re.findall(r'role="tab" id="tab-([a-z]+)"', page)
    assert tabs == ["timeline", "followups", "contacts", "opportunities", "tree", "orders", "reorders", "projects",
                    "documents", "service"]
    cards = [m for m in re.findall(r'id="(pool-panel|reorder-status|ownership-card|order-figures|service-side|'
                                   r'transfer-panel|c360-profile)"', page)]
    assert cards == ["pool-panel", "reorder-status", "ownership-card", "order-figures", "service-side",
                     "transfer-panel", "c360-profile"]
    for key in tabs[3:]:  # each registered tab answers its fragment
        r = client.get(f"/customers/{customer.id}?tab={key}", htmx=True)
        assert r.status_code == 200 and "<html" not in r.get_data(as_text=True)
