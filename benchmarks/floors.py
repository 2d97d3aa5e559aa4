"""Floors: what a main page would cost if everything its main content shows came from ONE raw SQL statement
and a bare Jinja template rendered it — no Flask, no login, no session, no CSRF, no permission checks, no
app code on the way, no base layout (nav, header, menus and their badges stay out: the floor is the page's
`<main>`, or the whole htmx fragment for a search).

Each floor renders the same visible text as its page, in the user's language (the demo users speak zh_CN):
translated labels (the app's catalogue, views/translations/zh_CN/LC_MESSAGES/messages.po, compiled once into a
babel.support.Translations), dates and times as Babel writes them in that language, memoised per value as the
app does (views/i18n.py), "3 days ago" against the real clock, and the same links. What is set up once per
process — the catalogue, the vocabularies' translated labels (read from the app's modules at set-up, plain
dicts afterwards), which parts a user's role shows (the floor checks no permission: a case says what its user
sees) — is outside the timing, as the app's own compiled catalogue and templates are.

`check(pages, renders)` proves it: the page's and the floor's visible text tokens compared as multisets
(`run.py --check-floors`). What a floor still leaves out is said at each floor below; a closed <select>
shows one option, so the check counts only the selected one (or the first) on either side.
"""
import datetime as dt
import functools
import io
import json
import sqlite3
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

from babel import Locale
from babel import dates as babel_dates
from babel import numbers as babel_numbers
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from jinja2 import DictLoader, Environment

ROOT = Path(__file__).resolve().parent.parent
# The app's SQLite settings that matter to a read (models/base.py SQLITE_PRAGMAS).
PRAGMAS = ("PRAGMA cache_size = -64000", "PRAGMA mmap_size = 1073741824", "PRAGMA temp_store = memory")
BUSINESS_TZ = ZoneInfo("Asia/Shanghai")  # models/clock.py
PAGE_SIZE, COUNT_CAP = 25, 1000  # models/listing.py
GOAL = 0.95  # the share of a page's visible tokens its floor must render


# ---- the user's language: catalogue, vocabularies, dates -----------------------------------------------

def _parse_time(text):
    """A stored naive-UTC time (SQLite text) as an aware business-time datetime."""
    value = dt.datetime.fromisoformat(text)
    return value.replace(tzinfo=dt.timezone.utc).astimezone(BUSINESS_TZ)


class Speech:
    """One language, set up once: its catalogue, its vocabularies' labels and its date formatters."""

    def __init__(self, code):
        self.code = code
        self.locale = Locale.parse(code)
        po = ROOT / "views" / "translations" / code / "LC_MESSAGES" / "messages.po"
        if po.exists():
            with po.open("rb") as f:
                catalog = read_po(f)
            buffer = io.BytesIO()
            write_mo(buffer, catalog)
            buffer.seek(0)
            self.translations = Translations(buffer)
        else:  # English is the source text
            self.translations = NullTranslations()
        self.gettext = self.translations.ugettext
        loc = self.locale
        self.datetime_pattern = (loc.datetime_formats["medium"].replace("{1}", loc.date_formats["medium"].pattern)
                                 .replace("{0}", loc.time_formats["short"].pattern))
        self.labels = {name: {k: self.gettext(v) for k, v in vocabulary.items()}
                       for name, vocabulary in vocabularies().items()}
        # Memoised per value, as views/i18n.py keeps its day and clock texts.
        self.date = functools.lru_cache(maxsize=8192)(self._date)
        self.datetime = functools.lru_cache(maxsize=8192)(self._datetime)

    def _date(self, value):
        """A stored day ('2026-12-01') or time (its business day) as the language writes a day."""
        if not value:
            return ""
        day = _parse_time(value).date() if len(value) > 10 else dt.date.fromisoformat(value)
        return babel_dates.format_date(day, "medium", locale=self.locale)

    def _datetime(self, value):
        if not value:
            return ""
        return babel_dates.format_datetime(_parse_time(value), self.datetime_pattern, locale=self.locale)

    def ago(self, value, today):
        if not value:
            return self.gettext("never")
        days = (today - _parse_time(value).date()).days
        if days <= 0:
            return self.gettext("today")
        if days == 1:
            return self.gettext("yesterday")
        return self.gettext("%(n)s days ago") % {"n": days}

    def number(self, value):
        return babel_numbers.format_decimal(value or 0, locale=self.locale)

    def money(self, value):
        return babel_numbers.format_currency(value or 0, "CNY", locale=self.locale).replace("CN¥", "¥")

    def environment(self, templates):
        env = Environment(loader=DictLoader(templates), autoescape=True, extensions=["jinja2.ext.i18n", "jinja2.ext.do"])
        env.install_gettext_translations(self.translations, newstyle=True)
        env.filters.update(date=self.date, datetime=self.datetime, number=self.number, money=self.money,
                           urlq=lambda v: quote(str(v), safe=""))
        env.globals.update(L=self.labels, ago=self.ago)
        return env


def vocabularies():
    """The app's vocabularies (English source labels), read once at set-up."""
    from models import customer_tables as ct
    from models import value as vm
    from models.user_tables import ROLE_LABELS
    from views.pools import LEDGER_LABELS, RELEASE_RULE_LABELS
    return {"role": ROLE_LABELS, "ledger": LEDGER_LABELS, "stage": ct.STAGE_LABELS, "tier": vm.TIER_LABELS, "business_model": ct.BUSINESS_MODEL_LABELS,
            "source": ct.SOURCE_LABELS, "release_rule": RELEASE_RULE_LABELS, "size": ct.SIZE_LABELS,
            "decision_role": ct.DECISION_ROLE_LABELS, "followup_type": ct.FOLLOWUP_TYPE_LABELS,
            "channel": ct.CHANNEL_LABELS}


def today():
    return dt.datetime.now(BUSINESS_TZ).date()


def now_text():
    """Now as stored (naive UTC text), for comparisons in the SQL."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0).isoformat(" ")


# ---- the customer list, search and pool pages ---------------------------------------------------------

ROW_COLUMNS = ("c.id, c.name, c.short_name, c.stage, c.grade, c.value_tier, u.full_name AS owner_name, c.city, "
               "c.touched_at, c.last_followup_at, c.next_followup_on, c.release_at, c.release_rule, c.locked, "
               "c.completeness, c.created_at, c.owner_id, c.staked_by_id, c.stake_due, c.released_at, "
               "c.released_from, c.released_team, c.drop_at")
ROW_NAMES = ", ".join(c.split()[-1].split(".")[-1] for c in ROW_COLUMNS.split(", "))
ROWS = ("(SELECT json_group_array(json_array({names})) FROM (SELECT {columns} FROM customer c "
        "LEFT JOIN user u ON u.id = c.owner_id WHERE {where} AND c.quarantined_at IS NULL ORDER BY c.id DESC "
        f"LIMIT {PAGE_SIZE + 1}))")
COUNT = (f"(SELECT count(*) FROM (SELECT 1 FROM customer c WHERE {{where}} AND c.quarantined_at IS NULL "
         f"LIMIT {COUNT_CAP + 1}))")
# The filter form's regions and industries (their names in the user's language).
CHOICES = ("(SELECT json_group_array(json_array(id, CASE WHEN :lang = 'en' THEN coalesce(nullif(name_en, ''), name_zh) "
           "ELSE name_zh END)) FROM (SELECT * FROM {table} ORDER BY id))")
MATCH = "c.id IN (SELECT rowid FROM customer_fts WHERE customer_fts MATCH :fts)"
# A small scope (a rep's own) tests each of its rows' text instead, as models.search.filter_query does.
CONTAINS = ("EXISTS (SELECT 1 FROM customer_fts f WHERE f.rowid = c.id AND instr(lower(f.name || ' ' || f.short_name "
            "|| ' ' || f.credit_code || ' ' || f.people || ' ' || f.phones), :q) > 0)")
# The rep's room in the private pool (models/pools.room) with the capacity rules in force.
ROOM = ("(SELECT json_array((SELECT count(*) FROM customer WHERE owner_id = :user AND (:dealt OR stage NOT IN "
        "('signed', 'long_term')) AND coalesce(value_tier, '') NOT IN (SELECT value FROM json_each(:exempt))), (SELECT coalesce(sum(delta), 0) FROM capacity_adjustment WHERE user_id = :user "
        "AND starts_at <= :now AND (ends_at IS NULL OR ends_at > :now)), (SELECT count(*) FROM pool_event WHERE actor_id = :user AND "
        "kind = 'claim' AND at >= :day_start)))")

# The release holds a claim meets (models/pools.check_release_holds): rule, message, hours per unit.
HOLDS = (("frozen", "Freshly released: frozen until %(until_text)s.", 1),
         ("cooling_off_days", "You released this customer: cooling-off until %(until_text)s.", 24),
         ("team_cooling_off_days", "Your team released this customer: cooling-off until %(until_text)s.", 24))

FILTER_FORM = """{% macro sel(name, text, options, value='') %}<label>{{ text }}<select name="{{ name }}">
{% for v, t in options %}<option value="{{ v }}" {{ 'selected' if value == v }}>{{ t }}</option>{% endfor %}</select></label>
{% endmacro %}<div class="page-head"><h1>{{ _("Customers") }}</h1>{% if creates %}<a class="button primary" href="/customers/new">{{ _("New customer") }}</a>{% endif %}</div>
<form id="customer-filters" class="filters" action="/customers" method="get"><div class="filter-row">
<input id="q" type="search" name="q" value="{{ q }}" placeholder="{{ _('Type to search: name, short name, credit code, contact, phone') }}" aria-label="{{ _('Search') }}">
<select name="scope" aria-label="{{ _('Scope') }}">{% for v, t in [('mine', _('Mine')), ('team', _('My team')), ('all', _('All I may see'))] %}{% if v != 'team' or has_team %}<option value="{{ v }}" {{ 'selected' if scope == v }}>{{ t }}</option>{% endif %}{% endfor %}</select>
<select name="sort" aria-label="{{ _('Sort by') }}">{% for v, t in [('created', _('Newest first')), ('name', _('Company name')), ('activity', _('Last activity')), ('release', _('Releasing soonest'))] %}<option value="{{ v }}" {{ 'selected' if v == 'created' }}>{{ t }}</option>{% endfor %}</select>
<select name="dir" aria-label="{{ _('Direction') }}"><option value="desc" selected>↓ {{ _("Descending") }}</option><option value="asc">↑ {{ _("Ascending") }}</option></select>
<noscript><button>{{ _("Apply") }}</button></noscript></div>
<details class="more-filters"><summary>{{ _("Filters") }}</summary><div class="filter-grid">
{{ sel('stage', _('Stage'), [('', '—')] + stages) }}
{{ sel('grade', _('Grade'), [('', '—'), ('A','A'), ('B','B'), ('C','C'), ('D','D')]) }}
{{ sel('region', _('Region'), [('', '—')] + regions) }}
<label>{{ _("City") }}<input name="city" value="" maxlength="40"></label>
{{ sel('industry', _('Industry'), [('', '—')] + industries) }}
{{ sel('business_model', _('Business model'), [('', '—')] + L.business_model|list_items) }}
{{ sel('source', _('Source'), [('', '—')] + L.source|list_items) }}
{{ sel('tier', _('Value tier'), [('', '—')] + L.tier|list_items) }}
{{ sel('recovered', _('Won back from a pool'), [('', '—'), ('yes', _('Won back')), ('signed', _('Won back and signed'))]) }}
{% if owner_picker %}<div class="field person-picker"><label for="filter-owner">{{ _("Owner") }}</label><input type="hidden" name="owner" value="">
<input type="search" id="filter-owner" placeholder="{{ _('Everyone') }}" hx-get="/people/pick?field=owner"><div id="filter-owner-list" role="listbox" aria-label="{{ _('Matching people') }}"></div></div>{% endif %}
<label>{{ _("Created from") }}<input type="date" name="created_from"></label><label>{{ _("Created to") }}<input type="date" name="created_to"></label>
<label>{{ _("Last follow-up from") }}<input type="date" name="followup_from"></label><label>{{ _("Last follow-up to") }}<input type="date" name="followup_to"></label>
</div><a href="/customers">{{ _("Clear filters") }}</a></details></form>
"""

LIST_TEMPLATES = {
    "_bar.html": """<span class="meter" title="{{ _('Completeness') }} {{ v }}%"><span class="w-{{ v }} {{ 'low' if v < 50 else ('mid' if v < 80 else 'high') }}"></span></span>
<span class="meter-label">{{ v }}%</span>""",
    "list.html": """{% if not fragment %}""" + FILTER_FORM + """{% endif %}<section id="results" aria-live="polite">
<p class="muted result-count">{% if capped %}{{ _("More than %(n)s customers", n=total|number) }}{% else %}{{ ngettext("%(num)s customer", "%(num)s customers", total) }}{% endif %}
{% if q %} · {{ _("matching “%(q)s”", q=q) }}{% endif %}
{% if rows and export %}· {{ _("Export") }} <a id="export-xlsx" href="/exports/customers.xlsx?{{ args }}">.xlsx</a> <a id="export-csv" href="/exports/customers.csv?{{ args }}">.csv</a>{% endif %}</p>
{% if rows %}<table class="grid" id="customer-table"><thead><tr>
<th><a href="/customers?{{ args }}&amp;sort=name&amp;dir=desc">{{ _("Customer") }}</a></th><th>{{ _("Stage") }}</th><th>{{ _("Value tier") }}</th>
<th>{{ _("Owner") }}</th><th>{{ _("City") }}</th><th><a href="/customers?{{ args }}&amp;sort=activity&amp;dir=desc">{{ _("Last activity") }}</a></th>
<th>{{ _("Next follow-up") }}</th><th><a href="/customers?{{ args }}&amp;sort=release&amp;dir=desc">{{ _("Release date") }}</a></th>
<th>{{ _("Complete") }}</th><th><a href="/customers?{{ args }}&amp;sort=created&amp;dir=asc">{{ _("Created") }} ↓</a></th></tr></thead><tbody>
{% for c in rows %}<tr><td><a href="/customers/{{ c[0] }}">{{ c[1] }}</a>{% if c[2] %} <span class="muted">{{ c[2] }}</span>{% endif %}</td>
<td><span class="badge stage-{{ c[3] }}">{{ L.stage[c[3]] }}</span> {% if c[4] %}<span class="grade grade-{{ c[4] }}" title="{{ _('Grade') }}">{{ c[4] }}</span>{% endif %}</td>
<td>{% if c[5] %}<span class="badge tier tier-{{ c[5] }}" title="{{ _('Value tier') }}">{{ L.tier[c[5]] }}</span>{% endif %}</td>
<td>{{ c[6] or _("Unowned") }}</td><td>{{ c[7] }}</td>
<td title="{{ c[8]|datetime }}">{{ ago(c[9], day) if c[9] else _("no follow-up yet") }}</td>
<td class="{{ 'overdue' if c[10] and c[10] < day_text }}">{{ c[10]|date }}</td>
<td class="{{ 'overdue' if c[11] and c[11] < soon }}" title="{{ L.release_rule.get(c[12], c[12] or '') }}">{{ c[11]|date if c[11] else (_("Locked") if c[13] else "—") }}</td>
<td>{% with v = c[14] %}{% include "_bar.html" %}{% endwith %}</td><td>{{ c[15]|date }}</td></tr>
{% endfor %}</tbody></table>
<nav class="pager" aria-label="{{ _('Pages') }}">{% if more %}<a id="pager-next" rel="next" href="/customers?{{ args }}&amp;after={{ rows[-1][0] }}">{{ _("Next") }} →</a>{% endif %}</nav>
{% else %}<div class="empty"><p>{{ _("No customer matches these filters.") }}</p><p><a href="/customers">{{ _("Clear filters") }}</a></p></div>{% endif %}
</section>""",
    "pool.html": """<div class="page-head"><h1>{{ _("Public pool") }}</h1></div>
<nav class="tabs" aria-label="{{ _('Pools') }}">{% for pid, name in pools %}<a href="/pools?pool={{ pid }}" class="{{ 'active' if pid == pool }}">{{ name }}</a>{% endfor %}</nav>
<form id="pool-filters" class="filters" action="/pools" method="get"><input type="hidden" name="pool" value="{{ pool }}"><div class="filter-row">
<input id="pool-q" type="search" name="q" value="" placeholder="{{ _('Type to search the pool') }}" aria-label="{{ _('Search') }}">
<select name="stage" aria-label="{{ _('Stage') }}"><option value="">{{ _("All stages") }}</option>{% for v, t in stages %}<option value="{{ v }}">{{ t }}</option>{% endfor %}</select>
<select name="sort" aria-label="{{ _('Sort by') }}">{% for v, t in [('created', _('Newest first')), ('name', _('Company name')), ('activity', _('Last activity'))] %}<option value="{{ v }}" {{ 'selected' if v == 'created' }}>{{ t }}</option>{% endfor %}</select>
<input name="city" value="" placeholder="{{ _('City') }}" aria-label="{{ _('City') }}" maxlength="40"></div></form>
<p class="muted">{{ _("Contact details stay masked until you claim. Freshly released customers are frozen for a while; a former owner waits out the cooling-off.") }}</p>
<section id="results" aria-live="polite" data-reload-on="poolFull">
{% if full %}<p class="notice" id="pool-full">{{ _("Your private pool is full (%(used)s of %(total)s): claims are off until you release a customer or your capacity grows. You can still stake.", used=used, total=capacity) }}</p>{% endif %}
<p class="muted result-count">{% if capped %}{{ _("More than %(n)s customers", n=total|number) }}{% else %}{{ ngettext("%(num)s customer", "%(num)s customers", total) }}{% endif %}</p>
{% if rows %}<table class="grid" id="pool-table"><thead><tr><th>{{ _("Customer") }}</th><th>{{ _("Stage") }}</th><th>{{ _("City") }}</th><th>{{ _("Last activity") }}</th><th>{{ _("Released") }}</th><th>{{ _("Complete") }}</th><th></th></tr></thead><tbody>
{% for c in rows %}<tr id="pool-row-{{ c[0] }}"><td><a href="/customers/{{ c[0] }}">{{ c[1] }}</a>
{% if c[17] %}<span class="badge stake" title="{{ _('Staked') }}">{{ _("Staked until %(d)s", d=c[18]|date) }}</span>{% endif %}</td>
<td><span class="badge stage-{{ c[3] }}">{{ L.stage[c[3]] }}</span></td><td>{{ c[7] }}</td>
<td>{{ ago(c[9], day) if c[9] else _("no follow-up yet") }}</td><td>{{ c[19]|date if c[19] else "—" }}</td>
<td>{% with v = c[14] %}{% include "_bar.html" %}{% endwith %}</td><td class="row-actions">
{% if works %}{% set why = refusal(c) %}{% if why %}<span class="refusal" id="claim-why-{{ c[0] }}">{{ why }}</span>{% else %}
<button class="primary" hx-post="/pools/{{ c[0] }}/claim">{{ _("Claim") }}</button>{% endif %}
{% if not c[17] %}<button hx-post="/pools/{{ c[0] }}/stake">{{ _("Stake") }}</button>{% endif %}
{% if members %}<form class="inline" hx-post="/pools/{{ c[0] }}/assign"><select name="rep_id" aria-label="{{ _('Assign to') }}">{% for m in members %}<option value="{{ m[0] }}">{{ m[1] }}</option>{% endfor %}</select><button>{{ _("Assign") }}</button></form>{% endif %}
{% endif %}</td></tr>{% endfor %}</tbody></table>
<nav class="pager">{% if more %}<a id="pager-next" rel="next" href="/pools?scope=all&amp;pool={{ pool }}&amp;after={{ rows[-1][0] }}">{{ _("Next") }} →</a>{% endif %}</nav>
{% else %}<div class="empty"><p>{{ _("The pool is empty here.") }}</p></div>{% endif %}</section>""",
}


def _list_items(vocabulary):
    return list(vocabulary.items())


def list_floor(conn, speech, env, where, params, scope, q="", fragment=False, export=True, creates=True,
               owner_picker=False, has_team=True):
    """The customer list (or its search fragment): the filter form (not fragment), the count, the 25 rows,
    the next link. Leaves out the custom-field filters (none are defined in the benchmark database) and the
    previous link (a first page has none). A search counts what it shows, as models/listing.page does."""
    count = "NULL" if q else COUNT.format(where=where)
    sql = (f"SELECT {ROWS.format(names=ROW_NAMES, columns=ROW_COLUMNS, where=where)}, {count}, {CHOICES.format(table='region')}, "
           f"{CHOICES.format(table='industry')}")
    template = env.get_template("list.html")
    args = f"scope={scope}" + (f"&q={quote(q, safe='')}" if q else "")
    stages = _list_items(speech.labels["stage"])

    def render():
        rows_json, total, regions, industries = conn.execute(sql, {**params, "lang": speech.code}).fetchone()
        rows = json.loads(rows_json)
        more = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE]
        if q:
            total, capped = len(rows), more
        else:
            total, capped = min(total, COUNT_CAP), total > COUNT_CAP
        day = today()
        soon = (dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) + dt.timedelta(days=3)).isoformat(" ")
        return template.render(rows=rows, more=more, total=total, capped=capped, q=q, fragment=fragment,
                               export=export, creates=creates, owner_picker=owner_picker, has_team=has_team,
                               args=args, scope=scope, day=day, day_text=day.isoformat(), soon=soon,
                               stages=stages, regions=[(str(i), n) for i, n in json.loads(regions)],
                               industries=[(str(i), n) for i, n in json.loads(industries)])
    return render


def pool_floor(conn, speech, env, user, pool_id, rules, members=()):
    """The pool page: its tabs, filters, the count, 25 unowned rows with what the viewer may do (claim,
    stake, assign, or why not). A claim's refusal is told here for the rules a first page meets — a full
    private pool, today's claims, another rep's stake, a release still frozen or cooling off — from the
    rules in force read at set-up; the pool's drop lottery (none in the benchmark database) is left out."""
    where = "c.owner_id IS NULL AND c.pool_id = :pool"
    tabs = (CHOICES.format(table="pool WHERE active AND (region_id IS NULL OR region_id = :region)")
            if user["role"] != "admin" else CHOICES.format(table="pool WHERE active"))
    sql = f"SELECT {ROWS.format(names=ROW_NAMES, columns=ROW_COLUMNS, where=where)}, {COUNT.format(where=where)}, {ROOM}, {tabs}"
    template = env.get_template("pool.html")
    stages = _list_items(speech.labels["stage"])
    gettext = speech.gettext
    works = user["role"] in ("sales", "manager")
    stamp = functools.lru_cache(maxsize=4096)(
        lambda text: _parse_time(text).strftime("%Y-%m-%d %H:%M"))  # models/pools._fmt: a domain message's time

    def render():
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
        day_start = dt.datetime.combine(now.replace(tzinfo=dt.timezone.utc).astimezone(BUSINESS_TZ).date(), dt.time(),
                                        BUSINESS_TZ).astimezone(dt.timezone.utc).replace(tzinfo=None)
        rows_json, total, room, pools = conn.execute(sql, {"pool": pool_id, "region": user["region_id"],
                                                           "lang": speech.code, "user": user["id"], "dealt": rules["dealt_count"],
                                                    "exempt": json.dumps(rules["capacity_exempt_tiers"]),
                                                    "now": now.isoformat(" "),
                                                    "day_start": day_start.isoformat(" ")}).fetchone()
        rows = json.loads(rows_json)
        more = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE]
        used, delta, claims_today = json.loads(room)
        capacity = max(0, rules["capacity"].get(user["role"], 0) + delta)
        full = works and used >= capacity

        def refusal(c):
            if c[17] and c[17] != user["id"]:
                return gettext("Another rep has staked this customer until %(until_text)s.") % {
                    "until_text": stamp(c[18])}
            if c[19]:
                released = dt.datetime.fromisoformat(c[19])
                for rule, message, hours in HOLDS:
                    if rule == "frozen" or c[{"cooling_off_days": 20, "team_cooling_off_days": 21}[rule]] == (
                            user["id"] if rule == "cooling_off_days" else user["team_id"]):
                        until = released + dt.timedelta(hours=rules[rule] * hours)
                        if now < until:
                            return gettext(message) % {"until_text": stamp(until.isoformat(" "))}
            if claims_today >= rules["claims_per_day"]:
                return gettext("You have made %(n)s claims today, the daily limit. Again from %(until_text)s.") % {
                    "n": claims_today, "until_text": stamp((day_start + dt.timedelta(days=1)).isoformat(" "))}
            if full:
                return gettext("Your private pool is full (%(used)s of %(total)s). Release a customer first.") % {
                    "used": used, "total": capacity}
            return None

        return template.render(rows=rows, more=more, total=min(total, COUNT_CAP), capped=total > COUNT_CAP,
                               day=today(), pool=pool_id, pools=json.loads(pools), stages=stages, works=works, full=full,
                               used=used, capacity=capacity, members=members, refusal=refusal)
    return render


# ---- the check: the page's visible text against the floor's -----------------------------------------

class _Text(HTMLParser):
    """The visible text tokens of `<main>` (or of the whole fragment when there is none): text nodes split
    at white space; scripts, styles and templates left out; a <select> shows its selected option (or its
    first)."""
    SKIP = {"script", "style", "template"}

    def __init__(self, whole):
        super().__init__()
        self.inside = whole
        self.skip = 0
        self.tokens = []
        self.links = Counter()
        self.options = None  # the current select's [(selected, text)]
        self.option = None

    def handle_starttag(self, tag, attrs):
        if tag == "main":
            self.inside = True
        elif tag == "a" and self.inside and not self.skip:
            self.links[dict(attrs).get("href")] += 1
        elif tag in self.SKIP:
            self.skip += 1
        elif tag == "select":
            self.options = []
        elif tag == "option" and self.options is not None:
            self.option = [any(k == "selected" for k, _ in attrs), ""]
            self.options.append(self.option)

    def handle_endtag(self, tag):
        if tag == "main":
            self.inside = False
        elif tag in self.SKIP:
            self.skip -= 1
        elif tag == "option":
            self.option = None
        elif tag == "select" and self.options is not None:
            chosen = [o for o in self.options if o[0]] or self.options[:1]
            if chosen and self.inside and not self.skip:
                self.tokens += chosen[0][1].split()
            self.options = self.option = None

    def handle_data(self, data):
        if self.option is not None:
            self.option[1] += data
        elif self.options is None and self.inside and not self.skip:
            self.tokens += data.split()


def tokens(page_html, links=False):
    """The visible text tokens of a page (a Counter), or with `links` the hrefs of its links."""
    parser = _Text(whole="<main" not in page_html)
    parser.feed(page_html)
    parser.close()
    return parser.links if links else Counter(parser.tokens)


def compare(page_html, floor_html, links=False):
    """(share of the page's tokens — or links — the floor renders, missing ones, extra ones)."""
    page, floor = tokens(page_html, links), tokens(floor_html, links)
    missing, extra = page - floor, floor - page
    total = sum(page.values())
    return (1 - sum(missing.values()) / total if total else 1.0), missing, extra


def check(cases_pages, renders, out=print):
    """Print, for each floor, the share of its page's visible tokens it renders and what it misses or adds."""
    shares = {}
    for label, page_html in cases_pages.items():
        if label not in renders:
            continue
        floor_html = renders[label]()
        share, missing, extra = compare(page_html, floor_html)
        shares[label] = share
        out(f"{label}: {share:6.1%} of {sum(tokens(page_html).values())} page tokens")
        show = lambda c: " ".join(f"{t}×{n}" if n > 1 else t for t, n in c.most_common(20))  # noqa: E731
        if missing:
            out(f"   missing ({sum(missing.values())}): {show(missing)}")
        if extra:
            out(f"   extra ({sum(extra.values())}): {show(extra)}")
        link_share, missing, extra = compare(page_html, floor_html, links=True)
        out(f"   links: {link_share:6.1%} of {sum(tokens(page_html, links=True).values())}"
            + (f"; missing {show(missing)}" if missing else "") + (f"; extra {show(extra)}" if extra else ""))
    return shares


# ---- the cases run.py times -------------------------------------------------------------------------

def connect(path):
    """A read-only connection to the database at `path` (the floors never write)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    for pragma in PRAGMAS:
        conn.execute(pragma)
    return conn


def _rules(conn):
    """The pool rules in force (models/rules.py: the newest version in effect, over the defaults)."""
    from models.rules import DEFAULTS
    found = conn.execute("SELECT settings FROM rule_version WHERE effective_from <= ? ORDER BY effective_from DESC, "
                         "id DESC LIMIT 1", (now_text(),)).fetchone()
    return {**DEFAULTS, **(json.loads(found[0]) if found else {})}


# What each benchmark user's role shows on a 360 page (the floor checks no permission).
REP_SEES = {"edit": True, "release": True, "lock": True, "pause": True, "plan": True, "transfer": True, "followup": True}
ADMIN_SEES = {"edit": True, "route_lead": True, "ticket": True, "followup": True}
TABS = (("timeline", "Timeline"), ("followups", "Follow-ups"), ("contacts", "Contacts"), ("opportunities", "Opportunities"),
        ("tree", "Decision tree"), ("orders", "Orders"), ("reorders", "Reorder cycles"), ("documents", "Documents"),
        ("service", "Service"))


def cases(conn, samples):
    """(page label, as run.py's main part names it; floor: a callable rendering the page's main content)."""
    one = lambda sql, *params: conn.execute(sql, params).fetchone()  # noqa: E731
    user = {}
    for name in ("rep001", "manager01", "admin"):
        found = one("SELECT id, role, team_id, region_id, language FROM user WHERE username = ?", name)
        user[name] = dict(zip(("id", "role", "team_id", "region_id", "language"), found))
    speeches = {}

    def speech_of(u):
        code = u["language"] or "zh_CN"
        if code not in speeches:
            s = Speech(code)
            speeches[code] = (s, s.environment(LIST_TEMPLATES))
            speeches[code][1].filters["list_items"] = _list_items
        return speeches[code]

    rep, manager, admin = user["rep001"], user["manager01"], user["admin"]
    rules = _rules(conn)

    def first_pool(u):
        return one("SELECT id FROM pool WHERE active AND (region_id IS NULL OR region_id = ?) ORDER BY id LIMIT 1",
                   u["region_id"])[0]

    def members(u):
        return conn.execute("SELECT id, full_name FROM user WHERE team_id = ? AND active ORDER BY full_name",
                            (u["team_id"],)).fetchall()

    fts = 'grams : " 西装 "'  # models.search.match_expression("西装")
    customer_envs, workbench_envs = {}, {}

    def workbench(u):
        s, _ = speech_of(u)
        if s.code not in workbench_envs:
            workbench_envs[s.code] = s.environment(WORKBENCH_TEMPLATES)
        return workbench_floor(conn, s, workbench_envs[s.code], u, rules)

    def customer(u, customer_id, sees):
        s, _ = speech_of(u)
        if s.code not in customer_envs:
            customer_envs[s.code] = (s.environment(CUSTOMER_TEMPLATES), customer_setup(conn, s))
        env, setup = customer_envs[s.code]
        tabs = [(k, s.gettext(t)) for k, t in TABS]
        return customer_floor(conn, s, env, customer_id, sees, tabs, setup)

    lst = lambda u, where, params, scope, **kw: list_floor(conn, *speech_of(u), where, params, scope, **kw)  # noqa: E731
    pool = lambda u, **kw: pool_floor(conn, *speech_of(u), u, first_pool(u), rules, **kw)  # noqa: E731
    return [
        ("list, rep (mine)", lst(rep, "c.owner_id = :user", {"user": rep["id"]}, "mine")),
        ("list, manager (team)", lst(manager, "c.team_id = :team", {"team": manager["team_id"]}, "team",
                                     owner_picker=True)),
        ("search, rep: 西装 (2 chars)", lst(rep, f"c.owner_id = :user AND {CONTAINS}", {"user": rep["id"], "q": "西装"},
                                          "mine", q="西装", fragment=True)),
        ("search, admin: 西装 (2 chars)", lst(admin, MATCH, {"fts": fts}, "all", q="西装", fragment=True)),
        ("pool list, rep", pool(rep)),
        ("pool list, manager", pool(manager, members=members(manager))),
        ("360, rep: own customer", customer(rep, samples["own_id"], REP_SEES)),
        ("360, admin: pool customer", customer(admin, samples["pool_id"], ADMIN_SEES)),
        ("workbench, rep", workbench(rep)),
        ("workbench, manager", workbench(manager)),
    ]


# ---- the customer 360 page --------------------------------------------------------------------------

def _json_rows(select, columns):
    """A subselect answering its rows as a JSON array of objects."""
    fields = ", ".join(f"'{c}', {c}" for c in columns.split(", "))
    return f"(SELECT json_group_array(json_object({fields})) FROM ({select}))"


NAME = "CASE WHEN :lang = 'en' THEN coalesce(nullif({t}.name_en, ''), {t}.name_zh) ELSE {t}.name_zh END"
CUSTOMER_SQL = (
    "SELECT c.*, u.full_name AS owner_name, " + NAME.format(t="r") + " AS region_name, "
    + NAME.format(t="i") + " AS industry_name, " + NAME.format(t="p") + " AS pool_name, g.name AS group_name, "
    + _json_rows("SELECT id, name, title, decision_role, mobile, phone, reports_to_id, active FROM contact "
                 "WHERE customer_id = c.id ORDER BY active DESC, id", "id, name, title, decision_role, mobile, phone, "
                 "reports_to_id, active") + " AS contacts, "
    + _json_rows("SELECT e.id, e.at, e.kind, e.data, a.full_name AS actor FROM audit_event e LEFT JOIN user a "
                 "ON a.id = e.actor_id WHERE e.customer_id = c.id ORDER BY e.id DESC LIMIT 21",
                 "id, at, kind, data, actor") + " AS events, "
    "(SELECT json_object('tier', tier, 'influence', influence, 'influence_reason', influence_reason) FROM customer_value "
    "WHERE customer_id = c.id) AS value_row, "
    "(SELECT json_object('first', first, 'second', second, 'evidence', evidence) FROM buying_factors "
    "WHERE customer_id = c.id AND opportunity_id IS NULL AND current) AS factors, "
    + _json_rows("SELECT status, starts_on, ends_on, reason FROM customer_pause WHERE customer_id = c.id AND status IN "
                 "('pending', 'approved') ORDER BY id DESC LIMIT 1", "status, starts_on, ends_on, reason") + " AS pauses, "
    + _json_rows("SELECT day, kind, objective, status FROM plan_item WHERE customer_id = c.id AND status = 'planned' "
                 "ORDER BY day, id LIMIT 5", "day, kind, objective, status") + " AS plans, "
    "(SELECT json_array(count(*), (SELECT json_array(satisfaction, resolved_at) FROM ticket WHERE customer_id = c.id "
    "AND satisfaction IS NOT NULL ORDER BY id DESC LIMIT 1)) FROM ticket WHERE customer_id = c.id AND status NOT IN "
    "('resolved', 'closed')) AS tickets, "
    "(SELECT json_array(t.id, t.status) FROM transfer_item ti JOIN transfer t ON t.id = ti.transfer_id "
    "WHERE ti.customer_id = c.id AND t.status IN ('pending', 'approved', 'running') ORDER BY t.id DESC LIMIT 1) "
    "AS transfer, "
    "EXISTS (SELECT 1 FROM lock_request WHERE customer_id = c.id AND status = 'pending') AS lock_pending, "
    "EXISTS (SELECT 1 FROM \"order\" WHERE customer_id = c.id) AS has_orders, "
    "EXISTS (SELECT 1 FROM reorder_cycle WHERE customer_id = c.id AND active) AS has_cycles, "
    "EXISTS (SELECT 1 FROM wallet_line WHERE customer_id = c.id) AS has_wallet, "
    "EXISTS (SELECT 1 FROM lead WHERE customer_id = c.id) AS has_leads, "
    "EXISTS (SELECT 1 FROM quality_check WHERE customer_id = c.id) AS has_checks, "
    "(SELECT group_concat(v.value, '\x1f') FROM custom_value v WHERE v.customer_id = c.id) AS custom, "
    "coalesce((SELECT version FROM rule_version WHERE effective_from <= :now ORDER BY effective_from DESC, version DESC "
    "LIMIT 1), 0) AS rules_version, (SELECT json_extract(settings, '$.default_influence') FROM value_rule "
    "WHERE effective_from <= :now ORDER BY effective_from DESC, version DESC LIMIT 1) AS default_influence "
    "FROM customer c LEFT JOIN user u ON u.id = c.owner_id LEFT JOIN region r ON r.id = c.region_id "
    "LEFT JOIN industry i ON i.id = c.industry_id LEFT JOIN pool p ON p.id = c.pool_id "
    "LEFT JOIN customer_group g ON g.id = c.group_id WHERE c.id = :id")

CUSTOMER_TEMPLATES = {
    "_bar.html": LIST_TEMPLATES["_bar.html"],
    "customer.html": """{% set cid = c.id %}<header class="c360-head card" id="c360-head"><div>
<h1 id="customer-name">{{ c.name }}</h1><p class="muted">{{ c.short_name or '' }}{% if c.short_name and c.credit_code %} · {% endif %}{% if c.credit_code %}<span class="mono">{{ c.credit_code }}</span>{% endif %}</p>
<p class="tags">{% for t in tags %}<span class="tag">{{ t }}</span>{% endfor %}</p></div>
<dl class="facts"><div><dt>{{ _("Owner") }}</dt><dd id="customer-owner">{{ c.owner_name or _("Unowned") }}</dd></div>
<div><dt>{{ _("Stage") }}</dt><dd id="customer-stage"><span class="badge stage-{{ c.stage }}">{{ L.stage[c.stage] }}</span> {% if c.grade %}<span class="grade grade-{{ c.grade }}" title="{{ _('Grade') }}">{{ c.grade }}</span>{% endif %} {% if c.value_tier %}<span class="badge tier tier-{{ c.value_tier }}">{{ L.tier[c.value_tier] }}</span>{% endif %}</dd></div>
<div><dt>{{ _("Last follow-up") }}</dt><dd>{{ c.last_followup_at|datetime if c.last_followup_at else _("never") }}</dd></div>
<div><dt>{{ _("Next follow-up") }}</dt><dd class="{{ 'overdue' if c.next_followup_on and c.next_followup_on < day }}">{{ c.next_followup_on|date or "—" }}</dd></div>
<div><dt>{{ _("Completeness") }}</dt><dd>{% with v = c.completeness %}{% include "_bar.html" %}{% endwith %}</dd></div></dl>
<div class="head-actions">{% if sees.edit %}<a class="button" href="/customers/{{ cid }}/edit">{{ _("Edit") }}</a>
<form class="inline stage-form" method="post" action="/customers/{{ cid }}/stage"><label for="stage-select" class="sr-only">{{ _("Move to stage") }}</label>
<select id="stage-select" name="stage">{% for v, t in L.stage.items() %}<option value="{{ v }}" {{ 'selected' if v == c.stage }}>{{ t }}</option>{% endfor %}</select>
<input name="reason" placeholder="{{ _('Reason (optional)') }}" aria-label="{{ _('Reason') }}"><button type="submit">{{ _("Change stage") }}</button></form>{% endif %}</div></header>
<div class="c360"><div class="side-col">
<section class="card pool-panel" id="pool-panel"><h2>{{ _("Pool") }}</h2>
{% if c.owner_id %}
  {% if c.locked %}<p><span class="badge locked">{{ _("Locked") }}</span> {{ _("Exempt from forced release.") }}</p>
  {% elif c.release_at %}<p id="release-date" class="{{ 'overdue' if c.release_at < soon }}">{{ _("Goes back to the pool on %(d)s", d=c.release_at|datetime) }}</p>
  <p class="muted small">{{ _("Rule: %(rule)s (v%(v)s).", rule=L.release_rule.get(c.release_rule, c.release_rule or ''), v=rules_version) }}
  {% if c.release_rule == 'no_followup' %}{{ _("Last valid follow-up: %(d)s.", d=(c.last_valid_followup_at|datetime) or _("none yet")) }}{% endif %}</p>{% endif %}
  {% if sees.release %}<details><summary>{{ _("Release to the pool") }}</summary><form method="post" action="/customers/{{ cid }}/release" class="form">
  <div class="field"><label for="release-reason">{{ _("Why (the next owner reads this)") }}</label><input id="release-reason" name="reason" required></div><button>{{ _("Release") }}</button></form></details>{% endif %}
  {% if sees.lock and not c.locked and c.stage not in ('signed', 'long_term') %}{% if c.lock_pending %}<p class="muted">{{ _("A lock request is waiting for the manager.") }}</p>
  {% else %}<details><summary>{{ _("Ask to lock") }}</summary><form method="post" action="/customers/{{ cid }}/lock-request" class="form"><div class="field"><label for="lock-reason">{{ _("Why should it be locked") }}</label><input id="lock-reason" name="reason" required></div><button>{{ _("Send to the manager") }}</button></form></details>{% endif %}{% endif %}
{% elif c.pool_id %}<p>{{ _("In %(pool)s", pool=c.pool_name) }}{% if c.released_at %} · {{ _("released %(d)s", d=c.released_at|datetime) }}{% endif %}</p>
{% else %}<p class="muted">{{ _("Not owned and in no pool (a marketing lead).") }}</p>{% endif %}
{% if sees.route_lead %}<details><summary>{{ _("Log an inbound lead") }}</summary><form method="post" action="/customers/{{ cid }}/inbound-lead" class="form">
<div class="field"><label for="lead-note">{{ _("What the customer asked for") }}</label><input id="lead-note" name="note" required></div><button>{{ _("Route to the owner or staker") }}</button></form></details>{% endif %}
</section>
<aside class="card" id="value-card"><h2>{{ _("Customer value") }} {% if value.tier %}<span id="value-tier"><span class="badge tier tier-{{ value.tier }}">{{ L.tier[value.tier] }}</span></span>{% endif %}</h2>
{% if not value.tier %}<p class="muted">{{ _("Not classified yet: the nightly recompute will place it.") }}</p>{% endif %}
<p class="muted" id="value-influence">{{ _("Influence") }}:
{% if value.influence %}<strong>{{ value.influence }}/5</strong> · {{ value.influence_reason }}{% else %}{{ _("not entered (counts as %(n)s)", n=default_influence) }}{% endif %}</p>
<a class="button small" id="value-influence-edit" href="/customers/{{ cid }}/value/influence">{{ _("Enter influence") }}</a></aside>
<aside class="card" id="buying-factors"><h2>{{ _("Buying factors") }}</h2>
{% if factors %}<p class="muted small" id="buying-evidence">{{ _("Evidence") }}: {{ factors.evidence }}</p>
{% else %}<p class="muted" id="buying-none">{{ _("Not ranked yet: what does this customer buy on — a trusted supplier, the price, or new ideas?") }}</p>{% endif %}
<a class="button small" id="buying-edit" href="/customers/{{ cid }}/buying-factors">{{ _("Rank buying factors") }}</a></aside>
<div id="ownership-card"></div>
{% if sees.pause and c.owner_id %}<aside class="card" id="pause-card"><h2>{{ _("Pause the release clock") }}</h2>
{% if pauses %}{% for p in pauses %}<p>{{ p.starts_on|date }} – {{ p.ends_on|date }}: {{ p.reason }}</p>{% endfor %}
{% else %}<p class="muted" id="pause-none">{{ _("No pause. A customer who asked for no contact for a while (e.g. until after a trade fair) can have its clock paused, with the manager's approval.") }}</p>
<form class="form compact" method="post" action="/customers/{{ cid }}/pause" novalidate><div class="grid-2">
<div class="field"><label for="pause-starts">{{ _("From") }}</label><input id="pause-starts" type="date" name="starts_on"></div>
<div class="field"><label for="pause-ends">{{ _("Until (included)") }}</label><input id="pause-ends" type="date" name="ends_on"></div></div>
<div class="field"><label for="pause-reason">{{ _("Why (what the customer asked)") }}</label><input id="pause-reason" name="reason"></div>
<button type="submit">{{ _("Ask for a pause") }}</button></form>{% endif %}</aside>{% endif %}
{% if sees.plan %}<aside class="card" id="plan-side-card"><h2>{{ _("Visit plan") }}</h2>
{% if plans %}<ul>{% for i in plans %}<li>{{ i.day|date }} {{ i.objective }}</li>{% endfor %}</ul>{% else %}<p class="muted">{{ _("No visits planned.") }}</p>{% endif %}
<p><a class="button" id="plan-from-file" href="/plans/new?customer_id={{ cid }}">{{ _("Plan a visit or call") }}</a></p></aside>{% endif %}
<section class="card service-side" id="service-side"><h2>{{ _("Service") }} <span class="badge level-{{ level }}">{{ L.service_level[level] }}</span></h2>
{% if tickets[0] %}<p>{{ ngettext("%(num)s open ticket", "%(num)s open tickets", tickets[0]) }}</p>{% else %}<p class="muted">{{ _("No open tickets.") }}</p>{% endif %}
<p>{{ _("Last satisfaction") }}: {% if tickets[1] %}<b id="last-satisfaction">{{ tickets[1][0] }}/5</b> <span class="muted small">({{ tickets[1][1]|date }})</span>{% else %}—{% endif %}</p>
<p><a href="/customers/{{ cid }}?tab=service">{{ _("All tickets and care plans") }}</a>
{% if sees.ticket %} · <a href="/service/tickets/new?customer_id={{ cid }}">{{ _("Log a ticket") }}</a>{% endif %}</p></section>
{% if sees.transfer %}<section class="card" id="transfer-panel"><h2>{{ _("Transfer") }}</h2>
{% if transfer %}<p>{{ _("Part of transfer #%(id)s: %(status)s.", id=transfer[0], status=transfer[1]) }} <a href="/transfers/{{ transfer[0] }}">{{ _("Open the transfer") }}</a></p>
{% else %}<p class="muted">{{ _("Move this customer to another rep or to a pool, with the manager's approval. Its contacts, follow-ups and history go with it.") }}</p>
<a class="button" id="transfer-customer" href="/transfers/new?customer={{ cid }}">{{ _("Transfer…") }}</a>{% endif %}</section>{% endif %}
<aside class="card profile" id="c360-profile"><h2>{{ _("Profile") }}</h2><dl class="kv">
<dt>{{ _("Industry") }}</dt><dd>{{ c.industry_name or "—" }}</dd>
<dt>{{ _("Business model") }}</dt><dd>{{ L.business_model.get(c.business_model, c.business_model or '') }}</dd>
<dt>{{ _("Size") }}</dt><dd>{{ L.size.get(c.size) or "—" }}</dd>
<dt>{{ _("Region") }}</dt><dd>{% if c.region_name or c.city %}{{ c.region_name or '' }} {{ c.city or '' }}{% else %}—{% endif %}</dd>
<dt>{{ _("Address") }}</dt><dd>{{ c.address or "—" }}</dd>
<dt>{{ _("Phone") }}</dt><dd>{{ c.phone or "—" }}</dd>
<dt>{{ _("Website") }}</dt><dd>{% if c.website %}<a href="{{ c.website if '://' in c.website else 'http://' ~ c.website }}" rel="noopener noreferrer" target="_blank">{{ c.website }}</a>{% else %}—{% endif %}</dd>
<dt>{{ _("Source") }}</dt><dd>{{ L.source.get(c.source, c.source or '') }}{% if c.first_channel %} · {{ L.channel.get(c.first_channel, c.first_channel) }}{% endif %}</dd>
<dt>{{ _("Group") }}</dt><dd>{% if c.group_id %}<a href="/groups/{{ c.group_id }}" id="group-link">{{ c.group_name }}</a>{% else %}—{% endif %}</dd>
<dt>{{ _("Created") }}</dt><dd>{{ c.created_at|datetime }}</dd></dl>
{% if missing %}<h3>{{ _("To complete this file") }}</h3><ul class="missing">{% for text, weight in missing %}<li>{{ text }} <span class="muted">{% if weight %}+{{ weight }}{% else %}{{ _("required") }}{% endif %}</span></li>{% endfor %}</ul>{% endif %}
</aside></div>
<section class="card main-col"><nav class="tabs" role="tablist">
{% for key, text in tabs %}<a role="tab" id="tab-{{ key }}" class="{{ 'active' if key == 'timeline' }}" href="/customers/{{ cid }}?tab={{ key }}">{{ text }}{% if key == 'contacts' %} ({{ contacts|length }}){% endif %}</a>{% endfor %}</nav>
{% if sees.followup %}<details class="quick-form" id="followup-box"><summary>{{ _("Log a follow-up") }}</summary>
<form id="followup-form" method="post" action="/customers/{{ cid }}/followups/new"><div class="grid-3">
<div class="field"><label for="type">{{ _("Type") }}</label><select id="type" name="type">{% for v, t in L.followup_type.items() %}<option value="{{ v }}" {{ 'selected' if v == 'call' }}>{{ t }}</option>{% endfor %}</select></div>
<div class="field"><label for="at">{{ _("When") }}</label><input id="at" name="at" type="datetime-local"><small class="hint">{{ _("Leave empty for now") }}</small></div>
<div class="field"><label for="contact_id">{{ _("Contact reached") }}</label><select id="contact_id" name="contact_id"><option value="">—</option>{% for p in contacts if p.active %}<option value="{{ p.id }}">{{ (p.name ~ ' ' ~ (p.title or ''))|trim }}</option>{% endfor %}</select></div></div>
<div class="field"><label for="content">{{ _("What happened") }}</label><textarea id="content" name="content" required></textarea></div>
<div class="grid-3"><div class="field"><label for="outcome">{{ _("Outcome") }}</label><input id="outcome" name="outcome"></div>
<div class="field"><label for="next_step">{{ _("Next step") }}</label><input id="next_step" name="next_step"></div>
<div class="field"><label for="next_date">{{ _("Next step date") }}</label><input id="next_date" name="next_date" type="date"></div></div>
<div class="actions"><button class="primary" type="submit">{{ _("Save follow-up") }}</button></div></form></details>{% endif %}
<div id="tab-body"><div id="timeline"><ol class="timeline" id="timeline-list">
{% for e in events %}<li class="event kind-{{ e.kind|replace('.', '-') }}"><time datetime="{{ e.at }}Z">{{ e.at|datetime }}</time>
<span class="who">{{ e.actor or _("System") }}</span> <span class="what">{{ describe(e) }}</span>
{% if e.kind == 'customer.updated' %}<ul class="changes">{% for name, pair in e.data.changes.items() %}<li><b>{{ name }}</b>: <del>{{ pair[0] if pair[0] not in (None, '') else '—' }}</del> → <ins>{{ pair[1] if pair[1] not in (None, '') else '—' }}</ins></li>{% endfor %}</ul>
{% elif e.kind == 'followup.logged' %}<blockquote>{{ e.data.excerpt }}</blockquote>{% endif %}</li>
{% else %}<li class="empty">{{ _("Nothing has happened yet.") }}</li>{% endfor %}
{% if more %}<li class="more" id="timeline-more"><button type="button" hx-get="/customers/{{ cid }}/timeline?before={{ events[-1].id }}">{{ _("Older events") }}</button></li>{% endif %}
</ol></div></div></section></div>""",
}


def customer_floor(conn, speech, env, customer_id, sees, tabs, setup):
    """The 360 page as its user first sees it: the header with the stage form, the side cards (pool clock or pool
    state, value, buying factors, pause, visit plan, service, transfer), the profile with what is missing, the
    tabs, the follow-up form and the first 20 timeline events. One statement fetches the customer with its
    contacts, events (with their actors' names), value row, buying factors, pauses, planned visits, tickets,
    open transfer and whether it has orders, reorder cycles, wallet lines, leads or quality checks.

    Left out or simplified: the cards that show only when such rows exist (orders' figures, reorder cycles,
    wallet, leads, quality checks, appeals) — none of the two benchmark customers has one, the floor still
    fetches whether they exist; a ranked buying-factor card, a pause or a plan are rendered as a short line;
    the pool clock's own words (pool_clock/_clock_words.html) and a release protected by an order or a
    contract; the timeline's sentences for the customer file's own kinds (created, edited, stage, owner,
    follow-up, contact), any other kind is shown by its key; custom fields (none defined here)."""
    template = env.get_template("customer.html")
    labels, gettext = speech.labels, speech.gettext
    stage, follow_type = labels["stage"], labels["followup_type"]

    def describe(e):
        d, kind = e["data"], e["kind"]
        if kind == "customer.created":
            return gettext("created the customer file (stage: %(stage)s)") % {"stage": stage.get(d.get("stage"), "")}
        if kind == "customer.updated":
            return gettext("edited %(n)s field(s)") % {"n": len(d.get("changes", {}))}
        if kind == "customer.stage_changed":
            text = gettext("promoted the customer from %(a)s to %(b)s" if d.get("direction") == "promoted" else
                           "moved the customer back from %(a)s to %(b)s")
            text %= {"a": stage.get(d.get("from_stage"), ""), "b": stage.get(d.get("to_stage"), "")}
            return text + (" — " + d["reason"] if d.get("reason") else "")
        if kind == "customer.owner_changed":
            nobody = gettext("nobody")
            return gettext("changed the owner from %(a)s to %(b)s") % {"a": d.get("from_owner") or nobody,
                                                                       "b": d.get("to_owner") or nobody} + (
                " — " + d["reason"] if d.get("reason") else "")
        if kind == "followup.logged":
            return gettext("logged a follow-up (%(type)s)") % {"type": follow_type.get(d.get("type"), "")}
        if kind == "contact.added":
            return gettext("added the contact %(name)s") % {
                "name": (d.get("name", "") + " " + d.get("title", "")).strip()}
        return kind

    def render():
        c = dict(zip(setup["columns"], conn.execute(CUSTOMER_SQL, {"id": customer_id, "lang": speech.code, "now": now_text()}).fetchone()))
        contacts = json.loads(c["contacts"])
        events = json.loads(c["events"])
        for e in events:
            e["data"] = json.loads(e["data"]) if e["data"] else {}
        more = len(events) > 20
        active = [p for p in contacts if p["active"]]
        makers = any(p["decision_role"] == "decision_maker" for p in active)
        filled = {"name": c["name"], "short_name": c["short_name"], "credit_code": c["credit_code"],
                  "industry": c["industry_id"], "region": c["region_id"], "city": c["city"], "address": c["address"],
                  "phone": c["phone"], "website": c["website"], "size": c["size"], "first_channel": c["first_channel"],
                  "group": c["group_id"], "contacts": active, "decision_maker": makers,
                  "key_contact_phone": any(p["decision_role"] in ("decision_maker", "buyer") and (p["mobile"] or p["phone"])
                                           for p in active),
                  "decision_tree": makers and any(p["reports_to_id"] for p in active)}
        missing = [(setup["part_labels"][k], w) for k, w in setup["weights"].get(c["business_model"], ())
                   if not filled.get(k)]
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        level = "key" if (c["business_model"] == "key_account" or c["grade"] == "A"
                          or c["size"] in setup["key_sizes"]) else "standard"
        return template.render(
            c=c, tags=[t for t in (c["tags"] or "").split(",") if t], contacts=contacts, events=events[:20],
            more=more, describe=describe, missing=missing, sees=sees, tabs=tabs, level=level,
            value=json.loads(c["value_row"]) if c["value_row"] else {},
            factors=json.loads(c["factors"]) if c["factors"] else None, pauses=json.loads(c["pauses"]),
            plans=json.loads(c["plans"]), tickets=json.loads(c["tickets"]),
            transfer=json.loads(c["transfer"]) if c["transfer"] else None, day=today().isoformat(),
            soon=(now + dt.timedelta(days=3)).isoformat(" "), rules_version=c["rules_version"],
            default_influence=c["default_influence"] or setup["default_influence"])
    return render


def customer_setup(conn, speech):
    """What the 360 floor reads once: the result's column names, the completeness weights and labels per
    business model, the service levels' labels, the rules' version and the default influence."""
    from models import customers as cm
    from models import service as sv
    from models import value as vm
    from views.customers import completeness_label
    columns = [d[0] for d in conn.execute(CUSTOMER_SQL + " LIMIT 0", {"id": 0, "lang": "zh_CN", "now": now_text()}).description]
    weights = {bm: cm.weights_for(bm, []) for bm in cm.BUSINESS_MODELS}
    part_labels = {k: speech.gettext(completeness_label(k)) for pairs in weights.values() for k, _ in pairs}
    speech.labels["service_level"] = {k: speech.gettext(v) for k, v in sv.LEVEL_LABELS.items()}
    return {"columns": columns, "weights": weights, "part_labels": part_labels, "key_sizes": sv.KEY_SIZES,
            "default_influence": vm.DEFAULTS["default_influence"]}


# ---- the workbench ----------------------------------------------------------------------------------

WORKBENCH_SQL = "SELECT " + ", ".join(f"{sql} AS {name}" for name, sql in (
    # a seller's cards (models/workbench.py)
    ("due", _json_rows("SELECT id, name, stage, next_followup_on FROM customer WHERE owner_id = :user AND next_followup_on "
                  "<= :today ORDER BY next_followup_on, id LIMIT 10", "id, name, stage, next_followup_on")),
    ("due_count", "(SELECT count(*) FROM customer WHERE owner_id = :user AND next_followup_on <= :today)"),
    ("stalest", _json_rows("SELECT id, name, stage, last_followup_at FROM customer WHERE owner_id = :user "
                      "ORDER BY touched_at, id LIMIT 10", "id, name, stage, last_followup_at")),
    ("my_stages", "(SELECT json_group_object(stage, n) FROM (SELECT stage, count(*) AS n FROM customer "
                  "WHERE owner_id = :user GROUP BY stage))"),
    ("cap", "(SELECT json_array((SELECT count(*) FROM customer WHERE owner_id = :user AND (:dealt OR stage NOT IN "
            "('signed', 'long_term')) AND coalesce(value_tier, '') NOT IN (SELECT value FROM json_each(:exempt))), "
            "(SELECT count(*) FROM customer WHERE staked_by_id = :user), (SELECT count(*) FROM customer "
            "WHERE owner_id = :user AND locked)))"),
    ("adjustments", _json_rows("SELECT delta, reason, ends_at FROM capacity_adjustment WHERE user_id = :user AND "
                          "starts_at <= :now AND (ends_at IS NULL OR ends_at > :now) ORDER BY id",
                          "delta, reason, ends_at")),
    ("releasing", _json_rows("SELECT id, name, release_at, release_rule FROM customer WHERE owner_id = :user AND "
                        "release_at IS NOT NULL ORDER BY release_at, id LIMIT 10", "id, name, release_at, release_rule")),
    ("stakes", _json_rows("SELECT id, name, completeness, stake_due, stake_completed_at FROM customer WHERE staked_by_id = "
                     ":user ORDER BY stake_due, id LIMIT 10", "id, name, completeness, stake_due, stake_completed_at")),
    ("notes", _json_rows("SELECT at, message, params, customer_id, read_at FROM notification WHERE user_id = :user "
                    "ORDER BY id DESC LIMIT 8", "at, message, params, customer_id, read_at")),
    # a team leader's cards
    ("locks", _json_rows("SELECT lr.customer_id, c.name, u.full_name AS requester, lr.reason FROM lock_request lr JOIN "
                    "customer c ON c.id = lr.customer_id LEFT JOIN user u ON u.id = lr.requester_id WHERE :leader AND "
                    "lr.status = 'pending' AND c.team_id = :team ORDER BY lr.id LIMIT 10",
                    "customer_id, name, requester, reason")),
    ("upcoming", _json_rows("SELECT c.id, c.name, u.full_name AS owner, c.release_at FROM customer c LEFT JOIN user u ON "
                       "u.id = c.owner_id WHERE :leader AND c.team_id = :team AND c.release_at IS NOT NULL AND "
                       "c.release_at <= :week_ahead ORDER BY c.release_at LIMIT 50", "id, name, owner, release_at")),
    ("released", _json_rows("SELECT e.customer_id, c.name, u.full_name AS owner, e.kind, e.at FROM pool_event e JOIN "
                       "customer c ON c.id = e.customer_id LEFT JOIN user u ON u.id = e.from_owner WHERE :leader "
                       "AND e.kind IN ('release', 'forced_release') AND e.from_owner IN (SELECT id FROM user WHERE "
                       "team_id = :team) AND e.at >= :week_ago ORDER BY e.id DESC LIMIT 50",
                       "customer_id, name, owner, kind, at")),
    ("team", _json_rows("SELECT m.id, m.full_name, (SELECT count(*) FROM follow_up f WHERE f.author_id = m.id AND "
                   "f.at >= :week_ago) AS followups, (SELECT count(*) FROM customer c WHERE c.team_id = :team AND "
                   "c.owner_id = m.id) AS owned, (SELECT count(*) FROM customer c WHERE c.owner_id = m.id AND "
                   "c.next_followup_on < :today) AS overdue FROM user m WHERE :leader AND m.team_id = :team AND "
                   "m.active ORDER BY m.full_name", "id, full_name, followups, owned, overdue")),
    ("team_stages", "(SELECT json_group_object(stage, n) FROM (SELECT stage, count(*) AS n FROM customer "
                    "WHERE :leader AND team_id = :team GROUP BY stage))"),
    ("transfers", "(SELECT count(*) FROM transfer_approval a WHERE :leader AND a.status = 'pending' AND "
                  "a.team_id = :team)"),
    # the other domains' cards
    ("plan_today", _json_rows("SELECT p.id, p.at, p.customer_id, c.name, p.objective, p.status FROM plan_item p LEFT JOIN "
                         "customer c ON c.id = p.customer_id WHERE p.rep_id = :user AND p.day = :today ORDER BY p.at, "
                         "p.id", "id, at, customer_id, name, objective, status")),
    ("filed_today", "EXISTS (SELECT 1 FROM daily_report WHERE rep_id = :user AND day = :today)"),
    ("missing", "(SELECT json_group_array(full_name) FROM (SELECT full_name FROM user m WHERE :leader AND "
                "m.team_id = :team AND m.id != :user AND m.role IN ('sales', 'manager') AND m.active AND NOT EXISTS "
                "(SELECT 1 FROM daily_report r WHERE r.rep_id = m.id AND r.day = :last_day) ORDER BY full_name, id))"),
    ("pipeline", "(SELECT json_array(coalesce(sum(count), 0), coalesce(sum(weighted_fen), 0), coalesce(sum(CASE WHEN "
                 "month = :month THEN weighted_fen END), 0)) FROM pipeline_total WHERE stage IN ('prospecting', "
                 "'planning', 'approach', 'presentation', 'objections', 'final') AND (owner = :user OR :leader AND "
                 "team = :team))"),
    ("todos", "(SELECT count(*) FROM reorder_todo WHERE status = 'open' AND remind_on <= :today AND (rep_id = :user "
              "OR :leader AND rep_id IN (SELECT id FROM user WHERE team_id = :team)))"),
    ("risks", "(SELECT count(*) FROM reorder_todo WHERE status = 'open' AND flagged_at IS NOT NULL AND (rep_id = :user "
              "OR :leader AND rep_id IN (SELECT id FROM user WHERE team_id = :team)))"),
    ("targets", "(SELECT count(*) FROM target WHERE team_id = :team AND period = :period)"),
))

WORKBENCH_TEMPLATES = {
    "_chart.html": """{% set top = (stages|map(attribute=1)|max) or 1 %}<ul class="bars" aria-label="{{ title }}">
{% for stage, n in stages %}<li><a href="/customers?stage={{ stage }}&amp;scope={{ scope }}"><span class="bar-label">{{ L.stage[stage] }}</span>
<span class="bar">{% if n %}<span class="stage-{{ stage }} w-{{ (100 * n / top)|round|int }}"></span>{% endif %}</span><span class="bar-value">{{ n|number }}</span></a></li>{% endfor %}</ul>""",
    "workbench.html": """<div class="page-head"><h1 id="workbench-title">{{ _("Workbench") }} · {{ role }}</h1><span class="muted">{{ day_text }}</span></div>
<div class="workbench">
{% if leader %}<div class="cards"><section class="card" id="wb-lock-requests"><h2>{{ _("Lock requests to decide") }}</h2>
{% if locks %}<table class="grid compact"><tbody>{% for r in locks %}<tr><td><a href="/customers/{{ r.customer_id }}">{{ r.name }}</a></td><td>{{ r.requester or '' }}</td><td>{{ r.reason }}</td></tr>{% endfor %}</tbody></table>
<p><a href="/pools/approvals">{{ _("Decide in the approvals inbox") }}</a></p>{% else %}<p class="empty">{{ _("Nothing waits for your decision.") }}</p>{% endif %}</section>
<section class="card" id="wb-team-releases"><h2>{{ _("Team releases this week") }}</h2>
{% if upcoming %}<h3>{{ _("Coming up") }}</h3><table class="grid compact"><tbody>{% for c in upcoming[:6] %}<tr><td><a href="/customers/{{ c.id }}">{{ c.name }}</a></td><td>{{ c.owner or '' }}</td><td>{{ c.release_at|date }}</td></tr>{% endfor %}</tbody></table>
<p><a href="/customers?scope=team&amp;sort=release&amp;dir=asc">{{ _("All of the team's customers, releasing soonest first") }}{% if upcoming|length > 6 %} (+{{ upcoming|length - 6 }}){% endif %}</a></p>{% endif %}
{% if released %}<h3>{{ _("Released in the last 7 days") }}</h3><table class="grid compact"><tbody>{% for e in released[:5] %}<tr><td><a href="/customers/{{ e.customer_id }}">{{ e.name }}</a></td><td>{{ e.owner or '' }}</td><td>{{ L.ledger.get(e.kind, e.kind) }}</td><td>{{ e.at|date }}</td></tr>{% endfor %}</tbody></table>
{% if released|length > 5 %}<p><a href="/pools/health">{{ _("Pool health: claims and releases by week") }} (+{{ released|length - 5 }})</a></p>{% endif %}{% endif %}
{% if not upcoming and not released %}<p class="empty">{{ _("No releases this week.") }}</p>{% endif %}</section></div>
<div class="cards"><section class="card wide" id="team-activity"><h2>{{ _("Team activity, last 7 days") }}</h2><table class="grid compact">
<thead><tr><th>{{ _("Rep") }}</th><th>{{ _("Follow-ups") }}</th><th>{{ _("Customers owned") }}</th><th>{{ _("Overdue follow-ups") }}</th></tr></thead>
<tbody>{% for r in team %}<tr><td><a href="/customers?scope=team&amp;owner={{ r.id }}">{{ r.full_name }}</a></td><td>{{ r.followups }}</td><td>{{ r.owned }}</td><td class="{{ 'overdue' if r.overdue }}">{{ r.overdue }}</td></tr>
{% else %}<tr><td colspan="4" class="empty">{{ _("No one in your team yet.") }}</td></tr>{% endfor %}</tbody></table></section>
<section class="card" id="team-stages"><h2>{{ _("Team customers by stage") }}</h2>{% with stages=team_stages, scope='team', title=_("Team customers by stage") %}{% include "_chart.html" %}{% endwith %}</section></div>{% endif %}
<div class="cards"><section class="card" id="due-today"><h2>{{ _("Follow-ups due today and overdue") }}{% if due_count %} <span class="count">{{ due_count }}</span>{% endif %}</h2>
{% if due %}<table class="grid compact"><tbody>{% for c in due %}<tr><td><a href="/customers/{{ c.id }}">{{ c.name }}</a></td><td><span class="badge stage-{{ c.stage }}">{{ L.stage[c.stage] }}</span></td><td class="{{ 'overdue' if c.next_followup_on < today_text }}">{{ c.next_followup_on|date }}</td></tr>{% endfor %}</tbody></table>
{% else %}<p class="empty">{{ _("Nothing due. Well done.") }}</p>{% endif %}</section>
<section class="card" id="stalest"><h2>{{ _("Longest without a follow-up") }}</h2>
{% if stalest %}<table class="grid compact"><tbody>{% for c in stalest %}<tr><td><a href="/customers/{{ c.id }}">{{ c.name }}</a></td><td><span class="badge stage-{{ c.stage }}">{{ L.stage[c.stage] }}</span></td><td>{{ ago(c.last_followup_at, day) if c.last_followup_at else _("never") }}</td></tr>{% endfor %}</tbody></table>
{% else %}<p class="empty">{{ _("You own no customers yet.") }} <a href="/customers/new">{{ _("Create one") }}</a></p>{% endif %}</section>
<section class="card" id="my-stages"><h2>{{ _("My customers by stage") }}</h2>{% with stages=my_stages, scope='mine', title=_("My customers by stage") %}{% include "_chart.html" %}{% endwith %}</section></div>
<div class="cards"><section class="card" id="wb-capacity"><h2>{{ _("My private pool") }}</h2><p class="big-number {{ 'overdue' if cap.over }}">{{ cap.used }} / {{ cap.total }}</p>
{% if cap.over %}<p class="refusal">{{ _("Over capacity: claims are frozen until customers are released or the capacity grows.") }}</p>{% endif %}
<p class="muted">{{ _("Stakes") }} {{ cap.stakes }} / {{ cap.stake_quota }} · {{ _("Locked customers") }} {{ cap.locks }} / {{ cap.lock_capacity }}
{% for a in adjustments %}<br>{{ "%+d"|format(a.delta) }} {{ a.reason }} ({{ _("until %(d)s", d=a.ends_at|date) }}){% endfor %}</p><p><a href="/pools">{{ _("Browse the public pool") }}</a></p></section>
<section class="card" id="wb-releasing"><h2>{{ _("Releasing soonest") }}</h2>
{% if releasing %}<table class="grid compact"><tbody>{% for c in releasing %}<tr><td><a href="/customers/{{ c.id }}">{{ c.name }}</a></td><td class="{{ 'overdue' if c.release_at < soon }}">{{ c.release_at|date }}</td><td class="muted small">{{ L.release_rule.get(c.release_rule, c.release_rule or '') }}</td></tr>{% endfor %}</tbody></table>
<p><a href="/customers?scope=mine&amp;sort=release&amp;dir=asc">{{ _("All, releasing soonest first") }}</a></p>{% else %}<p class="empty">{{ _("No customer is on a release clock.") }}</p>{% endif %}</section>
<section class="card" id="wb-stakes"><h2>{{ _("My stakes") }}</h2>
{% if stakes %}<table class="grid compact"><tbody>{% for c in stakes %}<tr><td><a href="/customers/{{ c.id }}">{{ c.name }}</a></td><td>{{ c.completeness }}%</td><td>{% if c.stake_completed_at %}<span class="ok">✓ {{ _("completed") }}</span>{% else %}<span class="{{ 'overdue' if c.stake_due < soon }}">{{ _("due %(d)s", d=c.stake_due|date) }}</span>{% endif %}</td></tr>{% endfor %}</tbody></table>
{% else %}<p class="empty">{{ _("No stakes. Stake promising pool customers and complete their files.") }}</p>{% endif %}</section>
<section class="card" id="wb-notifications"><h2>{{ _("Notifications") }}</h2>
{% if notes %}<ul class="notifications">{% for n in notes %}<li class="{{ 'unread' if not n.read_at }}"><time>{{ n.at|datetime }}</time>
{% if n.customer_id %}<a href="/customers/{{ n.customer_id }}">{{ message(n) }}</a>{% else %}{{ message(n) }}{% endif %}</li>{% endfor %}</ul><p><a href="/pools/notifications">{{ _("All notifications") }}</a></p>
{% else %}<p class="empty">{{ _("No notifications.") }}</p>{% endif %}</section></div>
<div class="cards" id="wb-panels">
{% if leader %}<section class="card" id="wb-transfer-approvals"><h2>{{ _("Transfers waiting for your decision") }}{% if transfers %} <span class="count">{{ transfers }}</span>{% endif %}</h2>
{% if transfers %}<p><a href="/pools/approvals">{{ _("Decide in the approvals inbox") }}</a></p>{% else %}<p class="empty">{{ _("No transfer waits for your decision.") }}</p>{% endif %}</section>{% endif %}
<section class="card" id="wb-plan-today"><h2>{{ _("Today's plan") }}{% if plan_today %} <span class="count">{{ plan_today|length }}</span>{% endif %}</h2>
{% if plan_today %}<table class="grid compact"><tbody>{% for i in plan_today %}<tr><td>{{ i.at[11:16] if i.at else '' }}</td><td><a href="/customers/{{ i.customer_id }}">{{ i.name }}</a><br><span class="muted small">{{ i.objective|truncate(40, True, '…') }}</span></td><td><a class="button" href="/plans/{{ i.id }}/carry-out">{{ _("Carry out") }}</a></td></tr>{% endfor %}</tbody></table>
{% else %}<p class="empty">{{ _("Nothing planned for today.") }}</p>{% endif %}
<p><a href="/plans/?view=day">{{ _("Visit plan") }}</a> · <a href="/plans/new">{{ _("Plan tomorrow") }}</a></p></section>
{% if leader %}<section class="card wide" id="targets-panel"><h2>{{ _("My targets") }} · {{ period }}</h2>
{% if not targets %}<p class="muted">{{ _("No team targets for this period yet.") }}</p>{% endif %}
<p><a href="/targets">{{ _("Quarter and year") }} →</a> · <a href="/performance">{{ _("Performance") }} →</a></p></section>{% endif %}
<section class="card" id="wb-daily-report"><h2>{{ _("Daily report") }}</h2>
{% if filed_today %}<p>{{ _("Today's report is filed.") }}</p>{% else %}<p><a class="button primary" href="/reports/{{ user_id }}/{{ today_text }}">{{ _("Write today's report") }}</a></p>{% endif %}
{% if leader %}{% if missing %}<p><span class="badge missing">{{ _("missing") }}</span> {{ _("No report of %(day)s from: %(names)s", day=last_day|date, names=missing|join(', ')) }}</p>{% endif %}
<p><a href="/reports/team">{{ _("The team's reports") }}</a></p>{% endif %}</section>
<section class="card" id="wb-pipeline"><h2>{{ _("Pipeline") }}</h2><dl class="kv">
<dt>{{ _("Open opportunities") }}</dt><dd>{{ pipeline[0]|number }}</dd><dt>{{ _("Weighted pipeline") }}</dt><dd><strong>{{ pipeline[1]|money }}</strong></dd>
<dt>{{ _("Weighted, closing this month") }}</dt><dd>{{ pipeline[2]|money }}</dd></dl>
<p><a href="/opportunities">{{ _("Pipeline board") }}</a> · <a href="/opportunities/forecast">{{ _("Forecast") }}</a></p></section>
<section class="card" id="reorder-todos"><h2>{{ _("Reorders due") }}{% if todos %} <span class="count">{{ todos }}</span>{% endif %}</h2>
{% if not todos %}<p class="empty">{{ _("No reorders due.") }}</p>{% endif %}<p><a href="/reorders/calendar">{{ _("Reorder calendar") }}</a></p></section>
<section class="card" id="churn-risks"><h2>{{ _("Churn risks: expected reorders that did not come") }}</h2>
{% if not risks %}<p class="empty">{{ _("No churn risks.") }}</p>{% endif %}</section>
</div></div>""",
}


def workbench_floor(conn, speech, env, user, rules):
    """A seller's workbench (and a team leader's): the lock requests, the team's releases, activity and stages;
    the follow-ups due, the stalest customers, my stages, my private pool, releasing soonest, my stakes and
    notifications; then the other domains' cards (transfers waiting, today's plan, targets, the daily report
    with the team's missing reports, the pipeline, reorders due, churn risks) — all from one statement.

    Left out or simplified: the rows of the cards the benchmark users have none of (transfers waiting, reorders
    due, churn risks, late opportunities, a team's target figures: the floor counts them and shows the empty
    card's text); the last report day skips weekends only (the app asks its service calendar too); the
    cards the benchmark users are not shown (value, leads, delegations: the app shows them only when they
    have rows)."""
    template = env.get_template("workbench.html")
    leader = user["role"] == "manager"
    labels, gettext = speech.labels, speech.gettext
    role = labels["role"][user["role"]]
    message = lambda n: (gettext(n["message"]) % json.loads(n["params"])  # noqa: E731
                         if n["params"] not in (None, "{}", "null") else gettext(n["message"]))
    stage_keys = list(labels["stage"])

    def render():
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
        day = today()
        last_day = day - dt.timedelta(days=1)
        while last_day.weekday() >= 5:
            last_day -= dt.timedelta(days=1)
        month = day.replace(day=1)
        next_month = (month + dt.timedelta(days=32)).replace(day=1)
        params = {"user": user["id"], "team": user["team_id"], "leader": leader, "today": day.isoformat(),
                  "now": now.isoformat(" "), "week_ago": (now - dt.timedelta(days=7)).isoformat(" "),
                  "week_ahead": (now + dt.timedelta(days=7)).isoformat(" "), "last_day": last_day.isoformat(),
                  "month": month.isoformat(), "next_month": next_month.isoformat(), "period": f"{day:%Y-%m}",
                  "dealt": rules["dealt_count"], "exempt": json.dumps(rules["capacity_exempt_tiers"])}
        found = conn.execute(WORKBENCH_SQL, params).fetchone()
        d = {name: found[i] for i, name in enumerate(setup_columns)}
        rows = {k: json.loads(d[k]) for k in ("due", "stalest", "adjustments", "releasing", "stakes", "notes", "locks",
                                              "upcoming", "released", "team", "plan_today", "missing", "pipeline")}
        used, stakes, locks = json.loads(d["cap"])
        total = max(0, rules["capacity"].get(user["role"], 0) + sum(a["delta"] for a in rows["adjustments"]))
        cap = {"used": used, "total": total, "over": used > total, "stakes": stakes,
               "stake_quota": rules["stake_multiplier"] * total, "locks": locks, "lock_capacity": rules["lock_capacity"]}
        counts = lambda text: [(s, (json.loads(text) if text else {}).get(s, 0)) for s in stage_keys]  # noqa: E731
        pipeline = rows.pop("pipeline")
        return template.render(
            role=role, day=day, day_text=speech.date(day.isoformat()), today_text=day.isoformat(), leader=leader,
            soon=(now + dt.timedelta(days=3)).isoformat(" "), cap=cap, due_count=d["due_count"],
            my_stages=counts(d["my_stages"]), team_stages=counts(d["team_stages"]), transfers=d["transfers"],
            filed_today=d["filed_today"], last_day=last_day.isoformat(), todos=d["todos"], risks=d["risks"],
            targets=d["targets"], period=params["period"], user_id=user["id"], message=message,
            pipeline=[pipeline[0], pipeline[1] / 100, pipeline[2] / 100], **rows)

    setup_columns = [x[0] for x in conn.execute(WORKBENCH_SQL + " LIMIT 0", {
        k: None for k in ("user", "team", "leader", "today", "now", "week_ago", "week_ahead", "last_day", "month",
                          "next_month", "period", "dealt", "exempt")}).description]
    return render
