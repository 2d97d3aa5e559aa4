"""Screen languages: every extractable message has a Chinese translation, placeholders survive
translation, and users see their own language, dates and money formats."""
import datetime as dt
import importlib
import pkgutil
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from flask_babel import force_locale

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "views" / "translations"
MAPPING = TRANSLATIONS / "babel.cfg"
ZH_PO = TRANSLATIONS / "zh_CN" / "LC_MESSAGES" / "messages.po"
# The same keywords as the pybabel command in docs/translations.md.
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
SKIP_DIRS = {"node_modules", "tests", "seeds", "benchmarks", "static", "instance"}
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def _catalog():
    with ZH_PO.open("rb") as f:
        return read_po(f, locale="zh_CN")


def _extracted():
    """{msgid: [where, ...]} straight from the source, as `pybabel extract` sees it."""
    with MAPPING.open() as f:
        method_map, options_map = parse_mapping_cfg(f, str(MAPPING))

    def keep(dirpath):
        name = Path(dirpath).name
        return not (name.startswith((".", "_")) or name in SKIP_DIRS)

    found = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
            ROOT, method_map, options_map, keywords=KEYWORDS, directory_filter=keep):
        found.setdefault(message, []).append(f"{filename}:{lineno}")
    return found


def _first(text):
    return text[0] if isinstance(text, (tuple, list)) else text


def _placeholders(text):
    return set(PLACEHOLDER.findall(text or ""))


@pytest.fixture(scope="module")
def catalog():
    return _catalog()


@pytest.fixture(scope="module")
def extracted():
    return _extracted()


def test_catalogue_header_is_chinese_with_one_plural_form(catalog):
    assert not catalog.fuzzy, "the header is marked fuzzy: the .mo would lose its plural forms"
    assert catalog.num_plurals == 1
    assert "nplurals=1" in catalog.plural_forms


def test_extraction_finds_the_screens(extracted):
    # Guards the mapping itself: templates, views and models (N_) all contribute.
    ids = {_first(m) for m in extracted}
    for expected in ("Workbench", "Customers", "Not found.", "Unidentified", "Sales rep", "%(n)s days ago"):
        assert expected in ids
    assert ("%(num)s customer", "%(num)s customers") in extracted


def test_every_extracted_message_is_translated(catalog, extracted):
    problems = []
    for msgid, where in sorted(extracted.items(), key=lambda kv: str(kv[0])):
        key = msgid[0] if isinstance(msgid, tuple) else msgid
        entry = catalog.get(key)
        if entry is None:
            problems.append(f"missing: {msgid!r} ({where[0]})")
        elif entry.fuzzy:
            problems.append(f"fuzzy: {msgid!r} ({where[0]})")
        elif isinstance(msgid, tuple) and (not entry.pluralizable or tuple(entry.id) != msgid):
            problems.append(f"plural forms differ: {msgid!r} vs {entry.id!r} ({where[0]})")
        elif not all(s.strip() for s in (entry.string if entry.pluralizable else [entry.string])):
            problems.append(f"untranslated: {msgid!r} ({where[0]})")
    assert not problems, ("run the pybabel commands in docs/translations.md and translate:\n"
                          + "\n".join(problems))


def test_no_message_has_a_bare_percent_sign(extracted):
    # Jinja's gettext %-formats every message, even one without parameters (a label dictionary
    # shown with {{ _(text) }}): "(%)" raises ValueError on the page. Write "percent" or "%%".
    bad = [f"{m!r} ({where[0]})" for m, where in extracted.items()
           if any("%" in PLACEHOLDER.sub("", text).replace("%%", "") for text in (m if isinstance(m, tuple) else [m]))]
    assert not bad, "\n".join(bad)


def test_no_fuzzy_or_empty_entries_in_the_catalogue(catalog):
    bad = [m.id for m in catalog if m.id and (m.fuzzy or not all(s.strip() for s in
                                                               (m.string if m.pluralizable else [m.string])))]
    assert not bad


def test_translations_keep_their_placeholders(catalog):
    problems = []
    for m in catalog:
        if not m.id:
            continue
        ids = m.id if m.pluralizable else [m.id]
        want = set().union(*(_placeholders(i) for i in ids))
        for text in (m.string if m.pluralizable else [m.string]):
            if _placeholders(text) != want:
                problems.append(f"{m.id!r}: {sorted(want)} → {text!r}")
            # Messages are %-formatted (templates format every one), so a bare % breaks the page: write %%.
            if "%" in PLACEHOLDER.sub("", text).replace("%%", ""):
                problems.append(f"{m.id!r}: stray % in {text!r}")
    assert not problems, "\n".join(problems)


def _label_dictionaries():
    """Every *LABELS dictionary of models/ and views/ (module level or on a form class)."""
    found = {}
    for package in ("models", "views"):
        pkg = importlib.import_module(package)
        for info in pkgutil.iter_modules(pkg.__path__):
            module = importlib.import_module(f"{package}.{info.name}")
            for name, value in vars(module).items():
                if name.endswith("LABELS") and isinstance(value, dict):
                    found[f"{module.__name__}.{name}"] = value
                elif isinstance(value, type) and value.__module__ == module.__name__ \
                        and isinstance(vars(value).get("LABELS"), dict):
                    found[f"{module.__name__}.{name}.LABELS"] = value.LABELS
    return found


def test_label_dictionaries_are_marked_for_translation(catalog):
    # A dictionary whose values are not wrapped in N_() is invisible to the extraction above.
    missing = []
    for where, labels in _label_dictionaries().items():
        for key, text in labels.items():
            if isinstance(text, str) and text and not (catalog.get(text) and catalog.get(text).string):
                missing.append(f"{where}[{key!r}] = {text!r}")
    assert _label_dictionaries(), "no label dictionaries found"
    assert not missing, "wrap these in N_() and translate them:\n" + "\n".join(missing)


# ---- on screen ----------------------------------------------------------------------------------

def _page(client, user, url):
    client.login(user)
    response = client.get(url)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_chinese_user_sees_chinese(client, make_user, make_customer):
    rep = make_user("sales", language="zh_CN")
    make_customer(owner=rep, name="上海衬衫有限公司")
    home = _page(client, rep, "/")
    assert "工作台" in home and "销售代表" in home and "今日待跟进及逾期" in home
    assert "2026年11月24日" in home  # the workbench shows today's date
    for english in ("Workbench", "Customers", "Log out", "Follow-ups due today"):
        assert english not in home
    customers = client.get("/customers").get_data(as_text=True)
    assert "客户" in customers and "新建客户" in customers and "上海衬衫有限公司" in customers
    assert "目标客户" in customers  # the stage label, through label(STAGE_LABELS, …)
    assert "共 1 个客户" in customers  # ngettext with one plural form
    assert "2026年11月24日" in customers  # created date
    for english in ("New customer", "Last activity", "Target"):
        assert english not in customers


def test_english_user_sees_english(client, make_user, make_customer):
    rep = make_user("sales", language="en")
    make_customer(owner=rep, name="上海衬衫有限公司")
    home = _page(client, rep, "/")
    assert "Workbench" in home and "Sales rep" in home and "Nov 24, 2026" in home
    assert "工作台" not in home and "2026年11月24日" not in home
    customers = client.get("/customers").get_data(as_text=True)
    assert "Customers" in customers and "New customer" in customers and "1 customer" in customers
    assert "Target" in customers and "Nov 24, 2026" in customers
    assert "新建客户" not in customers and "目标客户" not in customers


def test_domain_errors_are_translated(client, make_user):
    admin = make_user("admin", language="zh_CN")
    client.login(admin)
    response = client.post("/admin/users/new", data={"username": "x", "full_name": "", "role": "sales",
                                                     "password": "short"})
    page = response.get_data(as_text=True)
    assert "此项必填。" in page and "请修改标出的字段" in page


def test_follow_up_validity_names_the_types_in_chinese(client, make_user, make_customer):
    rep = make_user("sales", language="zh_CN")
    customer = make_customer(owner=rep)
    client.login(rep)
    page = client.post(f"/customers/{customer.id}/followups/check", htmx=True,
                       data={"type": "sms", "content": "客户确认下周二来工厂看样，带采购经理一起，谈秋季衬衫订单的价格。"})
    text = page.get_data(as_text=True)
    assert "这条记录会保存，但不算有效跟进" in text
    assert "“短信”不算有效跟进" in text and "拜访, 电话, 会议, 电子邮件" in text
    assert "sms" not in text


def test_dates_follow_the_locale(app):
    from views.i18n import fmt_date, fmt_datetime

    day = dt.date(2026, 11, 24)
    with app.test_request_context():
        with force_locale("zh_CN"):
            assert fmt_date(day) == "2026年11月24日"
            assert fmt_datetime(dt.datetime(2026, 11, 24, 2, 5)) == "2026年11月24日 10:05"  # UTC stored, Shanghai shown
            assert fmt_datetime(dt.datetime(2026, 11, 24, 17, 5)) == "2026年11月25日 01:05"  # the next business day
            assert fmt_date(dt.datetime(2026, 11, 24, 17, 5)) == "2026年11月25日"
        # CLDR's English (the library's, not a hand pattern): month first, 12-hour clock with a narrow space.
        with force_locale("en"):
            assert fmt_date(day) == "Nov 24, 2026"
            assert fmt_datetime(dt.datetime(2026, 11, 24, 2, 5)) == "Nov 24, 2026, 10:05\u202fAM"


def test_the_babel_timezone_is_the_business_timezone(app):
    from models import clock

    assert app.config["BABEL_DEFAULT_TIMEZONE"] == clock.BUSINESS_TZ.key


def test_money_is_in_yuan_in_both_languages(app):
    from views.i18n import fmt_money, fmt_number

    with app.test_request_context():
        for locale in ("zh_CN", "en"):
            with force_locale(locale):
                assert fmt_money(1234.5) == "¥1,234.50"
                assert fmt_money(1234.5, "CNY") == "¥1,234.50"
                assert fmt_money(None) == ""
                assert fmt_money(-5) == "-¥5.00"
                assert fmt_number(1234567.5) == "1,234,567.5"
