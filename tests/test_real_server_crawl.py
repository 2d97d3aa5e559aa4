"""A crawl of the real server (waitress, demo data): every GET route for each role, with ids from the demo
and the links the pages themselves offer, in zh_CN and in en, plain and as htmx → never a 500, never a
header the server could not send (waitress answers those with its own 500, which this would see)."""
import random
import re
from collections import Counter, defaultdict

import pytest

from tests.live import links_of, report, tally

pytestmark = pytest.mark.server

ROLES = ["admin", "manager01", "rep001", "marketing", "service", "service01"]
LANGUAGES = ["zh_CN", "en"]
PER_ENDPOINT = 4  # distinct URLs of one route per role and language (ids vary, query strings vary)
SKIP = re.compile(r"^/(logout|static/|vendor/)")

# Route parameter → the demo table its ids come from (a child is taken from its parent's rows).
TABLE_OF = {
    "customer_id": "customer", "contact_id": "contact", "case_id": "conflict_case", "delegation_id": "delegation",
    "document_id": "document", "opportunity_id": "opportunity", "order_id": "order", "project_id": "project",
    "milestone_id": "milestone", "member_id": "project_member", "cost_id": "project_cost",
    "cycle_id": "reorder_cycle", "ticket_id": "ticket", "transfer_id": "transfer", "user_id": "user",
    "item_id": "transfer_item", "approval_id": "transfer_approval", "field_id": "custom_field", "team_id": "team",
    "product_id": "product", "plan_id": "care_plan", "request_id": "lock_request",
    "criterion_id": "approval_criterion",
    "plan_item_id": "plan_item", "report_id": "daily_report", "rep_id": "user",
}
FIXED = {"number": ["1"], "fmt": ["csv", "xlsx"], "field": ["name", "phone"],
         "day_text": ["2026-11-24", "2100-01-01", "junk"]}


def route_urls(server, user_id, rules, rng, per_rule=PER_ENDPOINT + 1):
    """Concrete URLs for every GET rule: ids the user owns, pool ids and other ids from the demo."""
    conn = server.db()
    columns = {t: {r[1] for r in conn.execute(f'PRAGMA table_info("{t}")')} for t in set(TABLE_OF.values())}
    urls = []
    for rule, args in rules:
        choices = [{}]
        for arg in args:
            nxt = []
            for chosen in choices:
                values = FIXED.get(arg)
                if values is None:
                    table = TABLE_OF.get(arg)
                    if table is None:
                        values = ["1"]
                    else:
                        where, params = [], []
                        for parent_arg, parent_id in chosen.items():
                            parent = TABLE_OF.get(parent_arg)
                            if parent and f"{parent}_id" in columns[table]:
                                where.append(f'"{parent}_id" = ?')
                                params.append(parent_id)
                        clause = f" WHERE {' AND '.join(where)}" if where else ""
                        ids = [r[0] for r in conn.execute(f'SELECT id FROM "{table}"{clause} ORDER BY id', params)]
                        picked = set(ids[:1] + ids[-1:] + rng.sample(ids, min(2, len(ids))))
                        if table == "customer":
                            own = conn.execute("SELECT id FROM customer WHERE owner_id = ? LIMIT 1", (user_id,)).fetchone()
                            pool = conn.execute("SELECT id FROM customer WHERE pool_id IS NOT NULL LIMIT 1").fetchone()
                            picked |= {r[0] for r in (own, pool) if r}
                        values = [str(v) for v in sorted(picked)] or ["1"]
                        values.append(str(2**63 + 7))  # beyond int64: a 404, never an OverflowError
                for v in values:
                    nxt.append({**chosen, arg: v})
            choices = nxt
        for chosen in choices[:per_rule]:
            url = rule
            for arg, v in chosen.items():
                url = re.sub(r"<(?:[a-z]+:)?" + arg + ">", v, url)
            urls.append(url)
    conn.close()
    return urls


def get_rules(app_rules):
    out = []
    for rule in app_rules:
        if "GET" in rule.methods and not SKIP.match(rule.rule):
            out.append((rule.rule, [a for a in re.findall(r"<(?:[a-z]+:)?([a-z_]+)>", rule.rule)]))
    return out


@pytest.fixture(scope="module")
def url_rules(real_server):
    from app import create_app

    app = create_app({"SECRET_KEY": "crawl", "DATABASE_URL": "sqlite:///:memory:"})
    return get_rules(app.url_map.iter_rules())


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("role", ROLES)
def test_crawl_every_get_route(real_server, url_rules, role, language, record_property):
    rng = random.Random(f"{role}-{language}")
    session = real_server.session(role, language=language)
    user_id = real_server.db().execute("SELECT id FROM user WHERE username = ?", (role,)).fetchone()[0]
    queue = route_urls(real_server, user_id, url_rules, rng)
    seen, per_route, failures, statuses = set(), Counter(), [], Counter()
    pattern_of = {}
    while queue:
        url = queue.pop(0)
        if url in seen or SKIP.match(url):
            continue
        shape = re.sub(r"\d+", "N", url.split("?")[0])
        if per_route[shape] >= PER_ENDPOINT * 2:
            continue
        seen.add(url)
        per_route[shape] += 1
        for htmx in (False, True):
            response = session.get(url, htmx=htmx, allow_redirects=False)
            statuses[response.status_code] += 1
            if response.status_code >= 500 or "Internal Server Error" in response.text[:500]:
                failures.append((response.status_code, "htmx" if htmx else "plain", url, response.text[:200]))
            if not htmx and response.status_code == 200 and "text/html" in response.headers.get("Content-Type", ""):
                for link in links_of(response.text).gets:
                    if link not in seen:
                        queue.append(link)
                        pattern_of.setdefault(link, url)
    record_property("requests", sum(statuses.values()))
    tally("crawl", sum(statuses.values()), sum(n for code, n in statuses.items() if code >= 500))
    report(f"crawl {role}/{language}: {sum(statuses.values())} requests, statuses {dict(statuses)}")
    assert not failures, f"{len(failures)} failures, first: {failures[:5]}\n{real_server.tail()}"
    assert statuses[200] > 50, statuses  # the crawl reached real pages, not only redirects to the login


def test_login_with_chinese_next_keeps_the_session_over_htmx(real_server):
    """An htmx login with a Chinese ?next= answers an HX-Redirect that waitress can send, and the
    session cookie arrives with it."""
    from tests.live import Session

    s = Session(real_server.url)
    page = s.get("/login?next=/customers?q=华东")
    assert page.status_code == 200
    response = s.http.post(real_server.url + "/login?next=/customers?q=华东",
                           data={"username": "rep001", "password": "kehu2026!", "csrf_token": s.token},
                           headers={"HX-Request": "true"}, allow_redirects=False, timeout=60)
    assert response.status_code == 204, response.status_code
    assert response.headers["HX-Redirect"] == "/customers?q=%E5%8D%8E%E4%B8%9C"
    assert s.http.cookies.get("session"), "the session cookie was lost"
    assert s.get("/customers?q=华东").status_code == 200


def test_refusals_in_chinese_are_toasts_not_500s(real_server):
    """The htmx branch of the error pages (404, 400 CSRF) answers its Chinese message in HX-Trigger,
    which waitress can send because it is ASCII JSON."""
    import json

    s = real_server.session("rep001", language="zh_CN")
    missing = s.get("/customers/999999999", htmx=True)
    assert missing.status_code == 404, missing.status_code
    message = json.loads(missing.headers["HX-Trigger"])["showToast"]["message"]
    assert re.search(r"[\u4e00-\u9fff]", message), message
    forged = s.post("/notifications/read", htmx=True, headers={"X-CSRFToken": "forged"})
    assert forged.status_code == 400, forged.status_code
    assert re.search(r"[\u4e00-\u9fff]", json.loads(forged.headers["HX-Trigger"])["showToast"]["message"])
