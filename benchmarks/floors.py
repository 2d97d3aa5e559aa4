"""Floors: what a main page would cost if its rows came from one raw SQL query and a bare Jinja template
rendered them — no app, no login, no session, no CSRF, no Babel, no permission checks, no base layout.

Each floor fetches the rows its page shows (the list's 25 customers with their owners' names; the 360
page's customer with its contacts, last follow-ups and timeline; the workbench's cards) in one statement
on a read-only connection with the app's pragmas, and renders them with an autoescaping Jinja environment
of its own. `run.py` times it with the same loop as the pages and prints page CPU / floor CPU.
"""
import sqlite3

from jinja2 import DictLoader, Environment

# The app's SQLite settings that matter to a read (models/base.py SQLITE_PRAGMAS).
PRAGMAS = ("PRAGMA cache_size = -64000", "PRAGMA mmap_size = 1073741824", "PRAGMA temp_store = memory")

ROW_COLUMNS = ("c.id, c.name, c.short_name, c.stage, c.grade, c.value_tier, u.full_name AS owner_name, c.city, "
               "c.touched_at, c.last_followup_at, c.next_followup_on, c.release_at, c.completeness, c.created_at")
LIST_SQL = (f"SELECT {ROW_COLUMNS} FROM customer c LEFT JOIN user u ON u.id = c.owner_id "
            "WHERE {where} AND c.quarantined_at IS NULL ORDER BY c.id DESC LIMIT 25")
MATCH = "c.id IN (SELECT rowid FROM customer_fts WHERE customer_fts MATCH ?)"
# A small scope (a rep's own) tests each of its rows' text instead, as models.search.filter_query does.
CONTAINS = ("EXISTS (SELECT 1 FROM customer_fts f WHERE f.rowid = c.id AND instr(lower(f.name || ' ' || f.short_name "
            "|| ' ' || f.credit_code || ' ' || f.people || ' ' || f.phones), ?) > 0)")

CARD = ("(SELECT json_group_array(json_object({fields})) FROM (SELECT {columns} FROM customer "
        "WHERE {where} ORDER BY {order} LIMIT 10))")


def _card(where, order, columns):
    fields = ", ".join(f"'{c}', {c}" for c in columns.split(", "))
    return CARD.format(fields=fields, columns=columns, where=where, order=order)


def _workbench_sql(who):
    """Due follow-ups, the coldest customers, the next releases, the stakes and the notifications."""
    cards = [
        _card(f"{who} = ? AND next_followup_on <= date('now')", "next_followup_on, id",
              "id, name, stage, grade, next_followup_on, last_followup_at"),
        _card(f"{who} = ?", "touched_at, id", "id, name, stage, grade, last_followup_at, touched_at"),
        _card(f"{who} = ? AND release_at IS NOT NULL", "release_at, id", "id, name, stage, release_at, release_rule"),
        _card("staked_by_id IN (SELECT id FROM user WHERE id = ? OR team_id = (SELECT team_id FROM user WHERE id = ?) "
              "AND ? = 'manager')", "stake_due, id", "id, name, completeness, stake_due, stake_completed_at"),
        "(SELECT json_group_array(json_object('id', id, 'at', at, 'message', message)) FROM (SELECT id, at, message "
        "FROM notification WHERE user_id = ? ORDER BY id DESC LIMIT 8))",
        f"(SELECT json_group_array(json_object('stage', stage, 'n', n)) FROM (SELECT stage, count(*) AS n FROM "
        f"customer WHERE {who} = ? GROUP BY stage))",
    ]
    return "SELECT " + ", ".join(f"{c} AS card{i}" for i, c in enumerate(cards))


CUSTOMER_SQL = (
    "SELECT c.*, u.full_name AS owner_name, r.name_zh AS region_name, i.name_zh AS industry_name, p.name_zh AS pool_name, "
    "(SELECT json_group_array(json_object('name', name, 'title', title, 'mobile', mobile, 'email', email, "
    "'decision_role', decision_role)) FROM (SELECT * FROM contact WHERE customer_id = c.id AND active ORDER BY id)) "
    "AS contacts, "
    "(SELECT json_group_array(json_object('at', at, 'type', type, 'content', content, 'outcome', outcome, "
    "'next_step', next_step)) FROM (SELECT * FROM follow_up WHERE customer_id = c.id ORDER BY at DESC LIMIT 10)) "
    "AS follow_ups, "
    "(SELECT json_group_array(json_object('at', at, 'kind', kind, 'data', data)) FROM (SELECT * FROM audit_event "
    "WHERE customer_id = c.id ORDER BY id DESC LIMIT 20)) AS timeline "
    "FROM customer c LEFT JOIN user u ON u.id = c.owner_id LEFT JOIN region r ON r.id = c.region_id "
    "LEFT JOIN industry i ON i.id = c.industry_id LEFT JOIN pool p ON p.id = c.pool_id WHERE c.id = ?")

TEMPLATES = {
    "rows.html": """<!doctype html><title>Customers</title><p>{{ rows|length }} customers</p>
<table><thead><tr><th>Customer</th><th>Stage</th><th>Value tier</th><th>Owner</th><th>City</th><th>Last activity</th>
<th>Next follow-up</th><th>Release date</th><th>Complete</th><th>Created</th></tr></thead><tbody>
{% for c in rows %}<tr><td><a href="/customers/{{ c.id }}">{{ c.name }}</a> <span>{{ c.short_name or '' }}</span></td>
<td><span class="badge">{{ c.stage }}</span> {{ c.grade or '' }}</td><td>{{ c.value_tier or '' }}</td>
<td>{{ c.owner_name or 'Unowned' }}</td><td>{{ c.city }}</td><td title="{{ c.touched_at }}">{{ c.last_followup_at or '' }}</td>
<td>{{ c.next_followup_on or '' }}</td><td>{{ c.release_at or '—' }}</td>
<td><span class="bar w-{{ c.completeness }}"></span>{{ c.completeness }}%</td><td>{{ c.created_at[:10] }}</td></tr>
{% endfor %}</tbody></table><a rel="next" href="/customers?after={{ rows[-1].id if rows else '' }}">Next</a>""",
    "customer.html": """<!doctype html><title>{{ c.name }}</title><h1>{{ c.name }} <small>{{ c.short_name or '' }}</small></h1>
<p><span class="badge">{{ c.stage }}</span> {{ c.grade or '' }} · {{ c.owner_name or c.pool_name or '' }}</p>
<dl>{% for key in ('credit_code', 'region_name', 'industry_name', 'city', 'address', 'phone', 'website', 'business_model',
'source', 'completeness', 'release_at', 'release_rule', 'created_at', 'last_followup_at') %}<dt>{{ key }}</dt>
<dd>{{ c[key] if c[key] is not none else '' }}</dd>{% endfor %}</dl>
<h2>Contacts</h2><ul>{% for p in contacts %}<li>{{ p.name }} {{ p.title }} {{ p.mobile }} {{ p.email }} {{ p.decision_role }}</li>{% endfor %}</ul>
<h2>Follow-ups</h2><ol>{% for f in follow_ups %}<li>{{ f.at }} {{ f.type }}: {{ f.content }} — {{ f.outcome }} {{ f.next_step }}</li>{% endfor %}</ol>
<h2>Timeline</h2><ol>{% for e in timeline %}<li>{{ e.at }} {{ e.kind }} {{ e.data }}</li>{% endfor %}</ol>""",
    "workbench.html": """<!doctype html><title>Workbench</title>
{% for title, rows in cards %}<section><h2>{{ title }}</h2><table>{% for r in rows %}<tr>
{% for key, value in r.items() %}<td>{% if key == 'id' %}<a href="/customers/{{ value }}">{{ value }}</a>{% else %}{{ value if value is not none else '' }}{% endif %}</td>{% endfor %}
</tr>{% endfor %}</table></section>{% endfor %}""",
}

CARD_TITLES = ("Follow-ups due", "Gone quiet", "Next releases", "Stakes", "Notifications", "By stage")


def connect(path):
    """A read-only connection to the database at `path` (the floors never write)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    for pragma in PRAGMAS:
        conn.execute(pragma)
    return conn


def environment():
    return Environment(loader=DictLoader(TEMPLATES), autoescape=True)


def cases(conn, samples):
    """(page label, as run.py's main part names it; floor: a callable rendering the page's rows)."""
    import json

    env = environment()
    one = lambda sql, *params: conn.execute(sql, params).fetchone()  # noqa: E731
    user = {name: one("SELECT id, role, team_id, region_id FROM user WHERE username = ?", name)
            for name in ("rep001", "manager01", "admin")}
    rep, manager = user["rep001"], user["manager01"]
    pool = lambda u: one("SELECT id FROM pool WHERE active AND (region_id IS NULL OR region_id = ?) "  # noqa: E731
                         "ORDER BY id LIMIT 1", u["region_id"])[0]
    fts = 'grams : " 西装 "'  # models.search.match_expression("西装")
    rows_page = env.get_template("rows.html")
    customer_page = env.get_template("customer.html")
    workbench_page = env.get_template("workbench.html")

    def rows(where, *params):
        sql = LIST_SQL.format(where=where)
        return lambda: rows_page.render(rows=conn.execute(sql, params).fetchall())

    def customer(customer_id):
        def render():
            c = conn.execute(CUSTOMER_SQL, (customer_id,)).fetchone()
            return customer_page.render(c=c, contacts=json.loads(c["contacts"]), follow_ups=json.loads(c["follow_ups"]),
                                        timeline=json.loads(c["timeline"]))
        return render

    def workbench(u, who):
        sql = _workbench_sql(who)
        key = u["id"] if who == "owner_id" else u["team_id"]
        params = (key, key, key, u["id"], u["id"], u["role"], u["id"], key)

        def render():
            found = conn.execute(sql, params).fetchone()
            return workbench_page.render(cards=[(t, json.loads(found[i])) for i, t in enumerate(CARD_TITLES)])
        return render

    return [
        ("list, rep (mine)", rows("c.owner_id = ?", rep["id"])),
        ("list, manager (team)", rows("c.team_id = ?", manager["team_id"])),
        ("search, rep: 西装 (2 chars)", rows(f"c.owner_id = ? AND {CONTAINS}", rep["id"], "西装")),
        ("search, admin: 西装 (2 chars)", rows(MATCH, fts)),
        ("pool list, rep", rows("c.owner_id IS NULL AND c.pool_id = ?", pool(rep))),
        ("pool list, manager", rows("c.owner_id IS NULL AND c.pool_id = ?", pool(manager))),
        ("360, rep: own customer", customer(samples["own_id"])),
        ("360, admin: pool customer", customer(samples["pool_id"])),
        ("workbench, rep", workbench(rep, "owner_id")),
        ("workbench, manager", workbench(manager, "team_id")),
    ]
