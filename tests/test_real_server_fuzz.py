"""Hostile input against the real server in zh_CN: every POST route (the forms the pages offer, plus every
POST rule of the app with ids from the demo) gets odd values — empty, 10,000 characters, emoji, U+202E,
NUL, markup, SQL, years 0000 and 9999, huge and negative numbers, ids beyond int64 — for all fields at once
and for one field at a time. Never a 500; afterwards the database holds nothing half-written."""
import random
import re
from collections import Counter

import pytest

from tests.live import links_of, report, tally
from tests.test_real_server_crawl import TABLE_OF, route_urls

pytestmark = pytest.mark.server

ODD = ["", "x" * 10000, "😀🎉👍🏽", "\u202eevil\u202c", "a\x00b", "<script>alert(1)</script><b>", "' OR 1=1; --",
       "0000-01-01", "9999-12-31", "0000-00-00T00:00", "99999999999999999999999999", "-1", "-99999999999",
       str(2**63 + 7), "1e308", "NaN", "   ", "华东国际贸易有限公司", "\r\n\t"]
# Actions that would end the fuzzing session itself (the crawl covers their pages).
SPARE = re.compile(r"^/(logout|language)$")
ROLES = ["manager01", "rep001", "marketing", "service01", "admin"]  # admin last: it can deactivate the others
PEOPLE = re.compile(r"/(users|leaver|capacity)/(\d+)(/|$)")
PAGES = ["/", "/customers", "/customers/new", "/pools", "/approvals", "/capacity", "/opportunities",
         "/opportunities/list", "/opportunities/settings", "/projects", "/service/", "/service/tickets/new",
         "/service/settings", "/transfers/", "/transfers/new", "/delegations", "/conflicts", "/conflicts/new",
         "/merges/new", "/admin/users/new", "/admin/teams/new", "/admin/fields/new", "/admin/rules",
         "/admin/project-criteria", "/products", "/products/new", "/care/", "/reorders/calendar", "/notifications"]


def post_rules():
    from app import create_app

    app = create_app({"SECRET_KEY": "fuzz", "DATABASE_URL": "sqlite:///:memory:"})
    return [(r.rule, re.findall(r"<(?:[a-z]+:)?([a-z_]+)>", r.rule)) for r in app.url_map.iter_rules()
            if "POST" in r.methods]


def harvest_forms(session, server, user_id, rng):
    """The forms the user's pages offer (action → field names and default values)."""
    conn = server.db()
    customers = [r[0] for r in conn.execute(
        "SELECT id FROM customer WHERE owner_id = ? ORDER BY id LIMIT 2", (user_id,))]
    customers += [r[0] for r in conn.execute("SELECT id FROM customer WHERE pool_id IS NOT NULL LIMIT 1")]
    pages = list(PAGES)
    for cid in customers:
        pages += [f"/customers/{cid}", f"/customers/{cid}/edit", f"/customers/{cid}/contacts/new",
                  f"/customers/{cid}/opportunities/new", f"/customers/{cid}/orders/new",
                  f"/customers/{cid}/projects/new", f"/customers/{cid}/reorders/new", f"/customers/{cid}/tree",
                  f"/care/new/{cid}", f"/customers/{cid}?tab=followups", f"/customers/{cid}?tab=contacts"]
    for table, path in (("opportunity", "/opportunities/{}"), ("project", "/projects/{}"), ("order", "/orders/{}"),
                        ("ticket", "/service/tickets/{}"), ("transfer", "/transfers/{}"),
                        ("conflict_case", "/conflicts/{}"), ("reorder_cycle", "/reorders/{}/edit")):
        for (rid,) in conn.execute(f'SELECT id FROM "{table}" ORDER BY random() LIMIT 2'):
            pages.append(path.format(rid))
    conn.close()
    forms = {}
    for page in pages:
        response = session.get(page)
        if response.status_code != 200:
            continue
        for form in links_of(response.text).forms:
            action = form["action"].split("#")[0]
            forms.setdefault(action, {}).update(form["fields"])
    return forms


def values_for(fields, rng):
    """All fields odd at once (one request per odd value), then one field odd at a time."""
    for odd in ODD:
        yield {name: odd for name in fields} or {"value": odd}
    for i, name in enumerate(sorted(fields)):
        yield {**fields, name: ODD[(i + rng.randrange(len(ODD))) % len(ODD)]}


def invariants(conn, created_after):
    """What must hold in the database whatever was sent."""
    problems = []
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    problems += [("foreign key", tuple(r)) for r in conn.execute("PRAGMA foreign_key_check")]
    problems += [("orphan customer", r[0]) for r in conn.execute(
        "SELECT id FROM customer WHERE owner_id IS NULL AND pool_id IS NULL"
        " AND stage NOT IN ('unidentified', 'prospect')")]
    problems += [("customer without its creation", r[0]) for r in conn.execute(
        "SELECT id FROM customer c WHERE id > ? AND (NOT EXISTS (SELECT 1 FROM stage_change s WHERE s.customer_id = c.id)"
        " OR NOT EXISTS (SELECT 1 FROM audit_event a WHERE a.customer_id = c.id AND a.kind = 'customer.created'))",
        (created_after,))]
    problems += [("blank customer name", r[0]) for r in conn.execute(
        "SELECT id FROM customer WHERE trim(name) = '' OR instr(name, char(0)) > 0")]
    problems += [("owner over no team", r[0]) for r in conn.execute(
        "SELECT c.id FROM customer c JOIN user u ON u.id = c.owner_id"
        " WHERE coalesce(c.team_id, -1) != coalesce(u.team_id, -1) LIMIT 20")]
    return problems


@pytest.mark.parametrize("role", ROLES)
def test_hostile_input_on_every_post_route(real_server, role):
    rng = random.Random(role)
    conn = real_server.db()
    user_id = conn.execute("SELECT id FROM user WHERE username = ?", (role,)).fetchone()[0]
    max_customer = conn.execute("SELECT max(id) FROM customer").fetchone()[0]
    protected = {r[0] for r in conn.execute(
        f"SELECT id FROM user WHERE username IN ({','.join('?' * len(ROLES))})", ROLES)}
    conn.close()
    session = real_server.session(role, language="zh_CN")
    forms = harvest_forms(session, real_server, user_id, rng)
    # Every POST rule too, with demo ids, and with fields seen on a form of the same shape.
    fields_of_shape = {}
    for action, fields in forms.items():
        fields_of_shape.setdefault(re.sub(r"\d+", "N", action.split("?")[0]), {}).update(fields)
    rules = post_rules()
    targets = dict(forms)
    extra = {}
    for url in route_urls(real_server, user_id, rules, rng, per_rule=2):
        if url in targets:
            continue
        shape = re.sub(r"\d+", "N", url)
        extra[url] = dict(fields_of_shape.get(shape, {"name": "", "reason": "", "note": ""}))
    sent, failures, statuses = 0, [], Counter()
    # The forms the pages offer get every odd value in every field; the other POST rules (ids from the
    # demo, ids beyond int64) a sample of them in all fields at once.
    for url, fields in extra.items():
        targets[url] = {**fields, "__sample__": "1"}
    for action, fields in sorted(targets.items()):
        path = action.split("?")[0]
        person = PEOPLE.search(path)
        if SPARE.match(path) or (person and int(person.group(2)) in protected):
            continue  # the fuzz does not deactivate, re-password or hand over the accounts the tests log in as
        sample = fields.pop("__sample__", None)
        fields = {k: v for k, v in fields.items() if k != "csrf_token"}
        variants = ([{name: odd for name in fields} for odd in rng.sample(ODD, 5)] if sample
                    else values_for(fields, rng))
        for n, data in enumerate(variants):
            response = session.post(action, data=data, htmx=n % 4 != 0)  # every fourth one as a plain form post
            sent += 1
            statuses[response.status_code] += 1
            if response.status_code >= 500:
                failures.append((response.status_code, action, {k: v[:20] for k, v in data.items()},
                                 response.text[:160]))
            if response.status_code in (302, 303) and "/login" in response.headers.get("Location", ""):
                session = real_server.session(role, language="zh_CN")
        if "document" in action or "import" in action:
            for name in ("😀\u202egpj.exe", "x" * 300 + ".xlsx", "a\x00.csv"):
                response = session.post(action, data={"title": "\u202e", "kind": "contract"}, htmx=True,
                                        files={"file": (name, b"PK\x03\x04 not really a zip \x00\xff")})
                sent += 1
                statuses[response.status_code] += 1
                if response.status_code >= 500:
                    failures.append((response.status_code, action, name, response.text[:160]))
    tally("fuzz", sent, sum(n for code, n in statuses.items() if code >= 500))
    report(f"fuzz {role}: {sent} requests to {len(targets)} targets ({len(forms)} forms), statuses {dict(statuses)}")
    assert not failures, f"{len(failures)} × 500, first: {failures[:5]}\n{real_server.tail()}"
    conn = real_server.db()
    problems = invariants(conn, max_customer)
    conn.close()
    assert not problems, problems[:20]
