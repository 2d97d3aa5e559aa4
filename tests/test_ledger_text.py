"""Ledger and audit rows read as sentences (views/ledger_text.py, views/extend.py's timeline registry):
every kind the code writes has a describer, both languages, names linked only where the reader may open
them, no JSON, the rule version in words; and the pages that show them load names in bulk."""
import ast
import datetime as dt
from pathlib import Path

from models import clock
from models.audit import AuditEvent
from models.pools import PoolEvent, claim_customer, release_customer, sweep
from models.transfers import Transfer  # noqa: F401  (the transfer tables exist)
from tests.conftest import FROZEN
from tests.test_pools import DAY, owned, pooled, w  # noqa: F401  (fixtures)
from views import extend

ROOT = Path(__file__).resolve().parent.parent


def _strings(node, scope, seen=frozenset()):
    """Every kind a `record(...)` first argument can be: literals, both sides of an if, 'a' + ('b' or 'c'),
    f"project.{status}" over the values `status` is assigned, a name over its assignments and defaults."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        return _strings(node.body, scope) | _strings(node.orelse, scope)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return {a + b for a in _strings(node.left, scope) for b in _strings(node.right, scope)}
    if isinstance(node, ast.JoinedStr):
        out = {""}
        for part in node.values:
            values = _strings(part.value, scope) if isinstance(part, ast.FormattedValue) else _strings(part, scope)
            out = {a + b for a in out for b in values}
        return out
    if isinstance(node, ast.Name) and node.id not in seen:
        return set().union(set(), *(_strings(v, scope, seen | {node.id}) for v in scope.get(node.id, [])))
    return set()


def written_kinds():
    """(audit kinds, ledger kinds) written anywhere in models/ and seeds/ (record calls, bulk inserts, create)."""
    audit_kinds, ledger_kinds = set(), set()
    for path in sorted((ROOT / "models").glob("*.py")) + sorted((ROOT / "seeds").glob("*.py")):
        tree = ast.parse(path.read_text())
        scope = {}  # name -> the values assigned to it anywhere in the module (kind = "...", defaults, kind=...)
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                scope.setdefault(node.targets[0].id, []).append(node.value)
            if isinstance(node, (ast.FunctionDef,)):
                args = node.args.args[-len(node.args.defaults):] if node.args.defaults else []
                for arg, default in zip(args, node.args.defaults):
                    scope.setdefault(arg.arg, []).append(default)
            if isinstance(node, ast.Call):
                for kw in node.keywords:
                    if kw.arg == "kind":
                        scope.setdefault(kw.arg, []).append(kw.value)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                owner = getattr(node.func.value, "id", getattr(node.func.value, "attr", ""))
                if node.func.attr == "record" and owner in ("audit", "ledger") and node.args:
                    (audit_kinds if owner == "audit" else ledger_kinds).update(_strings(node.args[0], scope))
                if node.func.attr == "create" and owner == "AuditEvent":
                    for kw in node.keywords:
                        if kw.arg == "kind":
                            audit_kinds.update(_strings(kw.value, scope))
            if isinstance(node, ast.Dict):
                keys = [k.value for k in node.keys if isinstance(k, ast.Constant)]
                if {"kind", "at", "customer"} <= set(keys):
                    kinds = _strings(node.values[keys.index("kind")], scope)
                    (ledger_kinds if "from_owner" in keys else audit_kinds).update(
                        k for k in kinds if "from_owner" in keys or "." in k)
    return audit_kinds, ledger_kinds


def test_every_written_kind_has_a_describer(app):
    audit_kinds, ledger_kinds = written_kinds()
    # the finder itself: dynamic kinds are found, not only literals
    assert {"project.approved", "project.rejected", "reorder.cycle_accepted", "user.deactivated",
            "settings.custom_field_created", "pool.forced_release", "demo.loaded", "transfer.moved"} <= audit_kinds
    assert {"claim", "forced_release", "release", "transfer", "delegation_started", "rules_applied"} <= ledger_kinds
    missing = []
    with app.test_request_context():
        for kind in sorted(audit_kinds):
            e = AuditEvent(kind=kind, data={}, at=FROZEN)
            if extend.describe_event(e) == extend.describe_unknown(e):
                missing.append(kind)
        for kind in sorted(ledger_kinds):
            e = PoolEvent(kind=kind, inputs={}, at=FROZEN, rule_version=3)
            if extend.describe_event(e) == extend.describe_unknown(e):
                missing.append("ledger." + kind)
    assert not missing, f"kinds with no sentence (add one in views/ledger_text.py or the domain's view): {missing}"


def test_unknown_kinds_still_read_as_words_not_json(app):
    from flask_babel import force_locale

    with app.test_request_context(), force_locale("en"):
        text = str(extend.describe_event(AuditEvent(kind="pool.something_new", at=FROZEN,
                                                    data={"reason": "测试", "moved": {"contacts": 2}, "ok": True})))
        ledger = str(extend.describe_event(PoolEvent(kind="brand_new", at=FROZEN, inputs={"days": 3}, reason="x")))
    assert text.startswith("Pool: something new") and "Reason: 测试" in text and "contacts 2" in text
    assert "{" not in text and "\\u" not in text and "ok: yes" in text
    assert ledger.startswith("Pool ledger: brand new")
    assert "Days: 3" in ledger and "{" not in ledger


def _page(client, user, url):
    client.login(user)
    response = client.get(url)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _rows(html):
    start = html.index('<table class="grid compact ledger')
    return html[start:html.index("</table>", start)]


def test_capacity_and_ledger_read_as_sentences_in_both_languages(client, w, owned, pooled):
    kept = owned(w.rep_a, name="泉州豪亿时装有限公司")
    released = owned(w.rep_a, name="厦门明达服饰有限公司")
    free = pooled(name="福州远航制衣有限公司")
    claim_customer(w.rep_a, free.id)
    release_customer(w.rep_a, kept, "客户转做外贸，不再采购")
    clock.freeze(FROZEN + 16 * DAY)
    sweep(clock.now())  # the no-follow-up rule (15 days for consumer files by default) takes `released`
    for language, words in (("en", ("claimed", "released", "release rules v0: no valid follow-up for 15 days")),
                            ("zh_CN", ("领取了", "释放了", "公海规则 v0：连续 15 天无有效跟进"))):
        for user in (w.rep_a, w.admin):
            user.language = language
            user.save()
            for url in (f"/capacity/{w.rep_a.id}", "/admin/ledger"):
                if url == "/admin/ledger" and user is w.rep_a:
                    continue
                rows = _rows(_page(client, user, url))
                assert "{" not in rows and "\\u" not in rows and "#%s" % released.id not in rows
                for word in words:
                    assert word in rows, (language, url, word)
                for c in (kept, released, free):
                    assert c.name in rows
    AuditEvent.create(at=clock.now(), actor=w.admin.id, kind="demo.loaded", data={"customers": 3})
    w.admin.language = "en"
    w.admin.save()
    audit = _page(client, w.admin, "/admin/audit")
    assert "loaded the demo data (3 customers)" in audit and "went back to" in audit
    assert "{" not in _rows(audit) and released.name in audit


def test_a_forbidden_customer_is_named_but_not_linked(app, client, w, owned):
    theirs = owned(w.rep_b, name="别组客户有限公司")
    mine = owned(w.rep_a, name="本人客户有限公司")
    client.login(w.rep_a)
    with app.test_request_context():
        from flask_login import login_user

        login_user(w.rep_a)
        names = extend.names().load([theirs.id, mine.id], [w.rep_b.id, w.rep_a.id])
        assert str(names.customer(theirs.id)) == "别组客户有限公司"
        assert str(names.customer(mine.id)).startswith('<a href="/customers/%s' % mine.id)
        assert "<a" not in str(names.person(w.rep_b.id))  # another team's private pool: not the rep's to open
        assert "<a" in str(names.person(w.rep_a.id))


def test_the_ledger_page_loads_names_in_bulk(client, w, owned, pooled):
    for i in range(12):
        c = owned(w.rep_a, name=f"批量释放客户{i}")
        release_customer(w.rep_a, c, "不再跟进")
    from peewee import Database

    client.login(w.admin)
    client.get("/admin/ledger")  # warm
    seen = []
    original = Database.execute_sql

    def counting(self, sql, *args, **kw):
        seen.append(sql)
        return original(self, sql, *args, **kw)

    Database.execute_sql = counting
    try:
        html = client.get("/admin/ledger").get_data(as_text=True)
    finally:
        Database.execute_sql = original
    assert html.count("批量释放客户") >= 12
    customer_reads = [s for s in seen if 'FROM "customer"' in s]
    assert len(customer_reads) <= 3, customer_reads
