"""Read models for the pickers (issue 13 points 3 and 7): what a customer lookup shows to tell same-named files
apart, ranked with the user's own active files first, and the type-ahead person search.

No writes, no Flask. A customer lookup reads at most `POOL` matches of the search index plus the user's own
matches (a small scope, searched row by row), so a common word across a million customers costs the same as a
rare one; the person search reads the users a field allows (a few hundred to a few thousand rows)."""
import functools
import operator

import peewee as pw

from models import search
from models.customer_tables import Customer, Pool
from models.permissions import scope
from models.user_tables import Region, Team, User

POOL = 50  # matches read from the search index before ranking
LOOKUP_COLUMNS = (Customer.id, Customer.name, Customer.city, Customer.region, Customer.owner, Customer.team,
                  Customer.pool, Customer.credit_code, Customer.business_model, Customer.grade, Customer.stage,
                  Customer.staked_by, Customer.value_tier)


def customer_lookup(user, q, limit=8, query=None):
    """The customers `user` may open that match `q` (name, phone, credit code), best first: the user's own
    files, then their team's, then other owned files, then the pools' (and marketing's leads); newest first
    within each, among the index's `POOL` newest matches and the user's own newest ones. `query` narrows
    further (a picker's own condition). One statement: the two candidate lists are subqueries of ids, ranked
    in SQL, and only the `limit` rows shown are read, with their `facts` (see `facts`)."""
    if not search.usable(q):
        return []
    base = scope("customer", user, query or Customer.select(Customer.id)).where(
        Customer.quarantined_at.is_null())  # a cleansing's junk (models/cleansing.py) is not offered
    base = base.select(Customer.id)
    own = (search.filter_query(base.where(Customer.owner == user.id), q, Customer, small=True)
           .order_by(Customer.id.desc()).limit(limit))
    rest = search.filter_query(base, q, Customer).order_by(Customer.id.desc()).limit(POOL)
    # One list of ids (UNION ALL of the two, each a derived table for its LIMIT): an OR of two IN lists would
    # run the index search twice. A NodeList, not `.in_()`: peewee would compile the subquery once more to
    # see whether it is empty.
    ids = functools.reduce(operator.add, [pw.Select([sub.alias(name)], [pw.Entity(name, "id")])
                                          for name, sub in (("own_ids", own), ("rest_ids", rest))])
    rows = (_with_facts(Customer.select(*LOOKUP_COLUMNS)).where(pw.NodeList((Customer.id, pw.SQL("IN"), ids)))
            .order_by(_rank_sql(user), Customer.id.desc()).limit(limit))
    return [_set_facts(c) for c in rows]


def _rank_sql(user):
    """`rank` as an SQL expression."""
    owned = Customer.owner.is_null(False)
    return pw.Case(None, [(Customer.owner == user.id, 0), (Customer.staked_by == user.id, 1),
                          (owned & (Customer.team == user.team_id) if user.team_id else pw.SQL("0 = 1"), 2),
                          (owned, 3)], 4)


def rank(user, customer):
    """0 the user's own, 1 staked by the user, 2 their team's, 3 owned by others, 4 in a pool or nobody's."""
    if customer.owner_id == user.id:
        return 0
    if customer.staked_by_id == user.id:
        return 1
    if customer.owner_id and user.team_id and customer.team_id == user.team_id:
        return 2
    return 3 if customer.owner_id else 4


_FactOwner, _FactPool, _FactRegion = User.alias("fact_owner"), Pool.alias("fact_pool"), Region.alias("fact_region")
_FACTS = ("owner_name", "pool_name_zh", "pool_name_en", "region_name_zh", "region_name_en")


def _with_facts(query):
    """`query` of customers with the owner's name, the pool's and the region's names on each row (left joins
    on aliases, so a caller's own joins stay as they are), as flat rows."""
    return (query.select_extend(_FactOwner.full_name.alias("owner_name"), _FactPool.name_zh.alias("pool_name_zh"),
                                _FactPool.name_en.alias("pool_name_en"), _FactRegion.name_zh.alias("region_name_zh"),
                                _FactRegion.name_en.alias("region_name_en"))
            .join_from(Customer, _FactOwner, pw.JOIN.LEFT_OUTER, on=(Customer.owner == _FactOwner.id))
            .join_from(Customer, _FactPool, pw.JOIN.LEFT_OUTER, on=(Customer.pool == _FactPool.id))
            .join_from(Customer, _FactRegion, pw.JOIN.LEFT_OUTER, on=(Customer.region == _FactRegion.id))
            .objects())


def _set_facts(c):
    c.pool_row = (Pool(id=c.pool_id, name_zh=c.pool_name_zh, name_en=c.pool_name_en)
                  if c.pool_id and c.pool_name_zh is not None else None)
    c.region_row = (Region(id=c.region_id, name_zh=c.region_name_zh, name_en=c.region_name_en)
                    if c.region_id and c.region_name_zh is not None else None)
    c.credit_tail = (c.credit_code or "")[-4:]
    c.key_account = c.business_model == "key_account"
    return c


def facts(rows):
    """Give each customer row what tells it apart from a same-named one, read in one small query:
    `owner_name`, `pool_row`, `region_row` (the pool's and region's names only), `credit_tail` (the credit
    code's last four characters), `key_account`."""
    if rows:
        read = {r.id: r for r in _with_facts(Customer.select(Customer.id)).where(Customer.id.in_({c.id for c in rows}))}
        for c in rows:
            for name in _FACTS:
                setattr(c, name, getattr(read.get(c.id), name, None))
            _set_facts(c)
    return rows


# ---- people ---------------------------------------------------------------------------------------

# GB2312 level-1 characters are ordered by pinyin: the first code of each initial (a, b, c … z; no i, u, v).
_GB_INITIALS = ((0xB0A1, "a"), (0xB0C5, "b"), (0xB2C1, "c"), (0xB4EE, "d"), (0xB6EA, "e"), (0xB7A2, "f"),
                (0xB8C1, "g"), (0xB9FE, "h"), (0xBBF7, "j"), (0xBFA6, "k"), (0xC0AC, "l"), (0xC2E8, "m"),
                (0xC4C3, "n"), (0xC5B6, "o"), (0xC5BE, "p"), (0xC6DA, "q"), (0xC8BB, "r"), (0xC8F6, "s"),
                (0xCCC2, "t"), (0xCDDA, "w"), (0xCEF4, "x"), (0xD1B9, "y"), (0xD4D1, "z"), (0xD7FA, None))


def initials(text):
    """The pinyin initials of a Chinese name ("王晓明" → "wxm"), letters and digits kept as they are (lower
    case); a character outside GB2312's level 1 (rare in names) gives nothing."""
    out = []
    for ch in text or "":
        if ch.isascii():
            if ch.isalnum():
                out.append(ch.lower())
            continue
        try:
            raw = ch.encode("gb2312")
        except UnicodeEncodeError:
            continue
        if len(raw) != 2:
            continue
        code = raw[0] << 8 | raw[1]
        letter = None
        for start, value in _GB_INITIALS:
            if code < start:
                break
            letter = value
        if letter:
            out.append(letter)
    return "".join(out)


def person_search(query, q, limit=12):
    """Users of `query` (the field's allowed people, a User query) matching `q` by name, user name, pinyin
    initials or team name, best first: a name that starts with `q`, then initials that start with it, then
    any match; by name within each. Each row carries `team_name`."""
    q = " ".join(str(q or "").split()).lower()[:40]
    people = list(query.select(User.id, User.full_name, User.username, User.role, User.team, User.active)
                  .order_by(User.full_name, User.id))
    teams = {t.id: t.name for t in Team.select(Team.id, Team.name)
             .where(Team.id.in_({u.team_id for u in people if u.team_id} or {0}))}
    found = []
    for u in people:
        u.team_name = teams.get(u.team_id, "")
        if not q:
            found.append((2, u))
            continue
        name, abbr = u.full_name.lower(), initials(u.full_name)
        if name.startswith(q) or u.username.lower().startswith(q):
            found.append((0, u))
        elif abbr.startswith(q):
            found.append((1, u))
        elif q in name or q in u.username.lower() or q in abbr or q in u.team_name.lower():
            found.append((2, u))
    found.sort(key=lambda pair: pair[0])
    return [u for _, u in found[:limit]]
