"""Customer search: a trigram index over names, credit code, contacts and phones.

Kept in sync by the verbs (index_customer). Trigrams find substrings of three or more
characters; two-character Chinese queries (e.g. 西装) hit a column of space-padded CJK
bigrams. The same table `customer_fts` (rowid, name, short_name, credit_code, people, phones, grams) on
both engines: on SQLite an FTS5 table with the trigram tokenizer; on PostgreSQL a plain table with a
pg_trgm GIN index over its text (substring LIKE) and a GIN index over its bigrams as an array. Both
answer the same question: every term of the query is a substring of the customer's text.
"""
import re
import unicodedata

from models import sql as sql_engine
from models.base import db, id_in, is_sqlite
from models.customer_tables import Contact, Customer

CJK_RE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
TABLE = "customer_fts"
COLUMNS = ("rowid", "name", "short_name", "credit_code", "people", "phones", "grams")


# PostgreSQL: the searchable text of a row, as the trigram index holds it.
PG_TEXT = "lower(name || ' ' || short_name || ' ' || credit_code || ' ' || people || ' ' || phones)"
PG_GRAMS = "string_to_array(btrim(grams), ' ')"


def create_index_table():
    if is_sqlite():
        db.execute_sql(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {TABLE} USING fts5("
            "name, short_name, credit_code, people, phones, grams, tokenize='trigram')")
        return
    db.execute_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    db.execute_sql(f"CREATE TABLE IF NOT EXISTS {TABLE} (rowid BIGINT PRIMARY KEY, name TEXT NOT NULL, "
                   "short_name TEXT NOT NULL, credit_code TEXT NOT NULL, people TEXT NOT NULL, "
                   "phones TEXT NOT NULL, grams TEXT NOT NULL)")
    db.execute_sql(f"CREATE INDEX IF NOT EXISTS {TABLE}_text ON {TABLE} USING gin (({PG_TEXT}) gin_trgm_ops)")
    db.execute_sql(f"CREATE INDEX IF NOT EXISTS {TABLE}_grams ON {TABLE} USING gin (({PG_GRAMS}))")


def _bigrams(text):
    """' 上海 海华 ' for '上海华': every pair of adjacent CJK characters, space-padded."""
    grams = set()
    for run in re.findall(r"[\u3400-\u9fff\uf900-\ufaff]{2,}", text):
        grams.update(run[i:i + 2] for i in range(len(run) - 1))
    return " " + " ".join(sorted(grams)) + " " if grams else ""


def normalize_query(q):
    # Control characters (a NUL ends the MATCH string early in SQLite) become spaces.
    text = re.sub(r"[\x00-\x1f\x7f]", " ", unicodedata.normalize("NFKC", q or ""))
    return " ".join(text.split())[:100]


def document(customer_id):
    """The searchable text of one customer, from the tables (the source of truth)."""
    c = (Customer.select(Customer.name, Customer.short_name, Customer.credit_code, Customer.phone,
                         Customer.phone_norm).where(Customer.id == customer_id).first())
    if c is None:
        return None
    contacts = list(Contact.select(Contact.name, Contact.mobile_norm, Contact.phone_norm)
                    .where(Contact.customer == customer_id))
    people = " ".join(x.name for x in contacts)
    phones = " ".join(p for p in [c.phone_norm] + [x.mobile_norm for x in contacts]
                      + [x.phone_norm for x in contacts] if p)
    return (c.name, c.short_name, c.credit_code or "", people, phones,
            _bigrams(" ".join([c.name, c.short_name, people])))


def _insert_sql():
    marks = ", ".join([db.param] * len(COLUMNS))
    return f"INSERT INTO {TABLE}({', '.join(COLUMNS)}) VALUES ({marks})"


def index_customer(customer_id):
    """Re-index one customer; call inside the verb's transaction."""
    doc = document(customer_id)
    db.execute_sql(f"DELETE FROM {TABLE} WHERE rowid = {db.param}", (customer_id,))
    if doc is not None:
        db.execute_sql(_insert_sql(), (customer_id, *doc))


def rebuild():
    """Rebuild the whole index from the tables (after bulk loads)."""
    db.execute_sql(f"DELETE FROM {TABLE}")
    batch, last = 5000, 0
    while True:
        ids = [r.id for r in Customer.select(Customer.id).where(Customer.id > last)
               .order_by(Customer.id).limit(batch)]
        if not ids:
            break
        with db.atomic():
            index_customers(ids, fresh=True)
        last = ids[-1]


def index_customers(ids, fresh=False):
    """(Re-)index many customers in a few statements (bulk loads, imports); call inside a transaction.
    `fresh`: they are not in the index yet."""
    if not ids:
        return
    rows = {c[0]: c for c in Customer.select(Customer.id, Customer.name, Customer.short_name,
                                               Customer.credit_code, Customer.phone_norm)
            .where(id_in(Customer.id, ids)).tuples()}
    people = {i: ([], []) for i in rows}
    for customer_id, name, mobile, phone in (Contact.select(Contact.customer, Contact.name, Contact.mobile_norm,
                                                            Contact.phone_norm)
                                             .where(id_in(Contact.customer, list(rows))).tuples()):
        people[customer_id][0].append(name)
        people[customer_id][1].extend(p for p in (mobile, phone) if p)
    values = []
    for i, (_, name, short_name, credit_code, phone_norm) in rows.items():
        names, phones = people[i]
        joined = " ".join(names)
        values.append((i, name, short_name, credit_code or "", joined,
                       " ".join(([phone_norm] if phone_norm else []) + phones),
                       _bigrams(" ".join([name, short_name, joined]))))
    if not fresh:
        db.cursor().executemany(f"DELETE FROM {TABLE} WHERE rowid = {db.param}", [(i,) for i in rows])
    sql_engine.insert_many(TABLE, COLUMNS, values)


def usable(q):
    """A query worth running: two or more CJK characters, or three or more of anything else."""
    q = normalize_query(q)
    return len(q) >= 3 or (len(q) == 2 and all(CJK_RE.match(ch) for ch in q))


def _terms(q):
    """The usable terms of a query: digits of phone-like terms joined, too-short terms dropped."""
    out = []
    for term in normalize_query(q).split(" "):
        digits = re.sub(r"[\s\-()]", "", term)
        if digits.isdigit() and len(digits) >= 3:
            term = digits
        if len(term) >= 3 or (len(term) == 2 and all(CJK_RE.match(ch) for ch in term)):
            out.append(term)
    return out


def match_expression(q):
    """The FTS5 MATCH string for a user query (every term must match, as a substring)."""
    terms = []
    for term in _terms(q):
        quoted = term.replace('"', '""')
        if len(term) >= 3:
            terms.append(f'{{name short_name credit_code people phones}} : "{quoted}"')
        else:
            terms.append(f'grams : " {quoted} "')
    return " AND ".join(terms)


def _pg_condition(terms):
    """PostgreSQL: (sql, params) true for a row of the index holding every term as a substring."""
    parts, params = [], []
    for term in terms:
        if len(term) >= 3:
            escaped = term.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            parts.append(f"{PG_TEXT} LIKE {db.param}")
            params.append(f"%{escaped}%")
        else:
            # The LIKE on the space-padded grams says the same, and costs far less per row than building the
            # array: where the planner walks the id order (a common term, the first page) it runs first.
            parts.append(f"{PG_GRAMS} @> ARRAY[{db.param}]::text[] AND grams LIKE {db.param}")
            params.extend([term, f"% {term} %"])
    return " AND ".join(parts), params


def matching_ids(queries, limit=None):
    """A subquery of the customer ids whose text matches any of `queries` (each: all of its terms), at
    most `limit` of them; None when no query has a usable term."""
    import peewee as pw

    groups = [t for t in (_terms(q) for q in queries) if t]
    if not groups:
        return None
    tail = f" LIMIT {int(limit)}" if limit else ""
    if is_sqlite():
        expression = " OR ".join(f"({e})" for e in dict.fromkeys(match_expression(q) for q in queries) if e)
        return pw.SQL(f"(SELECT rowid FROM {TABLE} WHERE {TABLE} MATCH ?{tail})", [expression])
    conditions, params = [], []
    for terms in groups:
        sql, values = _pg_condition(terms)
        conditions.append(f"({sql})")
        params.extend(values)
    return pw.SQL(f"(SELECT rowid FROM {TABLE} WHERE {' OR '.join(conditions)}{tail})", params)


def filter_query(query, q, model, small=False, terms=None):
    """Restrict a customer query to rows matching `q` (nothing for unusable queries).

    For a large scope the index finds the matches. For a small scope (a rep's or a team's own
    customers) it is cheaper to test each of those few rows' indexed text directly than to list
    every match of a common term across a million customers. `terms`: `_terms(q)`, when the caller has them
    (a list's kept statement puts its marks there)."""
    import functools

    import peewee as pw

    terms = _terms(q) if terms is None else terms
    if not terms:
        return query.where(pw.SQL("1 = 0"))
    if not small:
        return query.where(model.id.in_(matching_ids([q])))
    if is_sqlite():
        fts = pw.Table(TABLE, ("rowid",)).alias("fts_row")
        # The row's indexed text as one literal (a chain of nine || nodes costs more to compile than to run).
        text = pw.SQL("lower(fts_row.name || ' ' || fts_row.short_name || ' ' || fts_row.credit_code || ' ' || "
                      "fts_row.people || ' ' || fts_row.phones)")
        cond = functools.reduce(lambda a, b: a & b, [pw.fn.instr(text, t.lower()) > 0 for t in terms])
        return query.where(pw.fn.EXISTS(fts.select(pw.SQL("1")).where((fts.rowid == model.id) & cond)))
    sql, params = _pg_condition(terms)
    return query.where(pw.NodeList((pw.SQL(f"EXISTS (SELECT 1 FROM {TABLE} WHERE {TABLE}.rowid ="), model.id,
                                    pw.SQL(f"AND {sql})", params))))
