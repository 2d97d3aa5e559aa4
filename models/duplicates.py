"""Duplicate detection (查重) before a duplicate exists: domain §6, issue 5 point 1.

`find_matches` looks for customers with the same credit code, the same normalised phone (the
customer's, or a contact's mobile or office phone), the same normalised name, or a similar name.
Every lookup is indexed: credit_code (unique), customer.phone_norm, contact.mobile_norm,
contact.phone_norm, customer.name_norm, and a bounded FTS5 query for the similar names.

A match says why it matched and where the customer is (owned by whom, in which pool, or a marketing
lead), never its phones or contacts; `view_url` is set only for customers the actor may open.
"""
import difflib
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import zhconv

from models.errors import N_
from models.fields import normalize_phone, to_halfwidth

# zhconv's own first load leaves its dictionary file open; loading it by path closes it.
zhconv.loaddict(str(Path(zhconv.__file__).with_name("zhcdict.json")))

REASON_LABELS = {
    "credit_code": N_("Same credit code"),
    "phone": N_("Same phone"),
    "name": N_("Same name"),
    "similar_name": N_("Similar name"),
}
REASON_ORDER = ("credit_code", "phone", "name", "similar_name")
NEEDS_REASON = ("phone", "name", "similar_name")  # an exact credit code blocks creation instead
SIMILARITY = 0.8
CANDIDATES = 20

# Legal-form words, longest first: stripped from the end of a name, repeatedly.
LEGAL_SUFFIXES = ("股份有限公司", "有限责任公司", "有限公司", "分公司", "公司", "集团", "股份", "厂",
                  "co.,ltd.", "co.,ltd", "co. ltd.", "co. ltd", "co ltd", "limited", "ltd.", "ltd",
                  "inc.", "inc", "corporation", "corp.", "corp", "company", "group", "co.", "co")
BRACKETS_RE = re.compile(r"\([^()]{0,20}\)|\[[^\[\]]{0,20}\]|【[^【】]{0,20}】|〔[^〔〕]{0,20}〕")
# A leading place name (省 / 市 optional): left out of the similarity core, so that
# 上海华东西装 and 华东西装（上海） meet.
PLACES = ("北京", "天津", "上海", "重庆", "河北", "山西", "辽宁", "吉林", "黑龙江", "江苏", "浙江", "安徽",
          "福建", "江西", "山东", "河南", "湖北", "湖南", "广东", "海南", "四川", "贵州", "云南", "陕西",
          "甘肃", "青海", "台湾", "内蒙古", "广西", "西藏", "宁夏", "新疆", "香港", "澳门", "广州", "深圳",
          "杭州", "苏州", "南京", "宁波", "温州", "无锡", "常州", "绍兴", "嘉兴", "厦门", "泉州", "福州",
          "青岛", "济南", "武汉", "长沙", "成都", "西安", "郑州", "东莞", "佛山", "中山", "大连", "沈阳")
PLACE_RE = re.compile(r"^(?:%s)(?:省|市|自治区)?" % "|".join(sorted(PLACES, key=len, reverse=True)))


def to_simplified(text):
    """Traditional characters as simplified, so that 華東國際貿易 and 华东国际贸易 are one company. zhconv
    converts with MediaWiki's tables, word by word where a character has two simplified forms (乾坤 stays,
    乾洗 becomes 干洗); "zh-hans" changes the script only, never the vocabulary (軟體 stays 软体)."""
    return zhconv.convert(text, "zh-hans") if not text.isascii() else text


def _is_noise(ch):
    return unicodedata.category(ch)[0] in "PSZC"


def _pieces(name):
    """The name cut into the pieces that survive normalisation, in order."""
    text = unicodedata.normalize("NFKC", name or "").lower()
    text = to_simplified(text)
    text = BRACKETS_RE.sub("|", text)
    changed = True
    while changed:
        changed = False
        text = text.rstrip("|").rstrip()
        while text and _is_noise(text[-1]):
            text = text[:-1]
        for suffix in LEGAL_SUFFIXES:
            if not text.endswith(suffix):
                continue
            rest = text[:-len(suffix)]
            if suffix.isascii() and rest and not _is_noise(rest[-1]):
                continue  # an English word must stand alone: "taco" is not "ta" + "co"
            if len("".join(ch for ch in rest if not _is_noise(ch))) >= 2:
                text, changed = rest, True
                break
    return [p for p in re.split(r"[|\s]+", "".join(" " if _is_noise(ch) else ch for ch in text)) if p]


def normalize_name(name):
    """The company name for matching: half-width, simplified, lower case, without bracketed parts (cities), the
    trailing legal-form words (有限公司, 有限责任公司, 股份有限公司, 股份, 集团, 分公司, 公司, 厂),
    spaces and punctuation. 华东西装（上海）有限公司 → 华东西装."""
    return "".join(_pieces(name))


def strip_place(norm):
    """The normalised name without a leading province or city (kept if too little would remain)."""
    rest = PLACE_RE.sub("", norm, count=1)
    return rest if len(rest) >= 2 else norm


def name_core(name):
    """The longest piece of the name (without a leading place) to look up in the search index."""
    pieces = sorted((strip_place(p) for p in _pieces(name)), key=len, reverse=True)
    return pieces[0] if pieces else ""


def similarity(a, b):
    """How alike two normalised names are (0–1), with and without a leading place name."""
    if not a or not b:
        return 0.0
    return max(difflib.SequenceMatcher(None, a, b).ratio(),
               difflib.SequenceMatcher(None, strip_place(a), strip_place(b)).ratio())


@dataclass
class Match:
    id: int
    name: str
    reasons: list = field(default_factory=list)
    owner: str = None  # the owner's full name
    owner_id: int = None
    pool: object = None  # the Pool, when in a public pool
    lead: bool = False  # unowned and in no pool: a marketing lead
    can_view: bool = False
    score: float = 0.0
    group: str = ""  # the match's group (集团), by name
    sibling: bool = False  # in the group being typed: another legal entity of it, not a duplicate by itself
    same_text: bool = False  # its name is the very name typed (not only the same once normalised)

    @property
    def needs_reason(self):
        """Inside the typed group a similar name, a name differing only in its bracketed place (恒力（苏州）/
        恒力（南通）) or a shared phone (the group's switchboard) is a sibling entity; the very same name stays a
        duplicate even there."""
        if self.sibling and not self.same_text:
            return False
        return any(r in NEEDS_REASON for r in self.reasons)

    @property
    def reason_labels(self):
        return [REASON_LABELS[r] for r in self.reasons]


def _clean_code(code):

    return to_halfwidth(code or "").strip().upper().replace(" ", "")


def _similar_ids(name_norm, core, exclude_id):
    """Customer ids whose name is similar: a few index candidates for the core, scored on name_norm."""
    from models import search
    from models.customer_tables import Customer

    if not core or not search.usable(core):
        return {}
    # The core, and for a longer one its first and last four characters: a name that adds or changes
    # a word at either end still meets its look-alike.
    terms = [core] + ([core[:4], core[-4:]] if len(core) > 5 else [])
    rows = search.matching_ids(terms, limit=CANDIDATES)
    if rows is None:
        return {}
    q = Customer.select(Customer.id, Customer.name_norm).where(Customer.id.in_(rows))
    out = {}
    for c in q:
        if c.id == exclude_id or c.name_norm == name_norm:
            continue
        score = similarity(name_norm, c.name_norm)
        if score >= SIMILARITY:
            out[c.id] = score
    return out


def find_matches(actor, name=None, phone=None, credit_code=None, exclude_id=None, limit=5, group=None):
    """Customers that look like the one being entered, most certain first (at most `limit`). `group`: the
    group (集团) name being typed; a match in it is marked `sibling`."""
    from models.customer_tables import Contact, Customer, CustomerGroup, Pool
    from models.permissions import can
    from models.user_tables import User

    reasons, scores = {}, {}

    def add(ids, reason):
        for i in ids:
            if i != exclude_id:
                reasons.setdefault(i, [])
                if reason not in reasons[i]:
                    reasons[i].append(reason)

    code = _clean_code(credit_code)
    if len(code) == 18:
        add([c.id for c in Customer.select(Customer.id).where(Customer.credit_code == code)], "credit_code")
    digits = normalize_phone(phone) if phone else ""
    if len(digits) >= 7:
        ids = [c.id for c in Customer.select(Customer.id).where(Customer.phone_norm == digits).limit(limit)]
        ids += [c.customer_id for c in Contact.select(Contact.customer).where(Contact.mobile_norm == digits).limit(limit)]
        ids += [c.customer_id for c in Contact.select(Contact.customer).where(Contact.phone_norm == digits).limit(limit)]
        add(ids, "phone")
    norm = normalize_name(name) if name else ""
    if len(norm) >= 2:
        add([c.id for c in Customer.select(Customer.id).where(Customer.name_norm == norm).limit(limit)], "name")
        scores = _similar_ids(norm, name_core(name), exclude_id)
        add([i for i in scores if "name" not in reasons.get(i, [])], "similar_name")
    if not reasons:
        return []

    def rank(i):
        return (min(REASON_ORDER.index(r) for r in reasons[i]), -scores.get(i, 1.0), i)

    ids = sorted(reasons, key=rank)[:limit]
    customers = {c.id: c for c in Customer.select().where(Customer.id.in_(ids))}
    owners = {u.id: u.full_name for u in User.select(User.id, User.full_name)
              .where(User.id.in_([c.owner_id for c in customers.values() if c.owner_id]))}
    pool_ids = [c.pool_id for c in customers.values() if c.pool_id and not c.owner_id]
    pools = {p.id: p for p in Pool.select().where(Pool.id.in_(pool_ids))} if pool_ids else {}
    group_ids = {c.group_id for c in customers.values() if c.group_id}
    groups = dict(CustomerGroup.select(CustomerGroup.id, CustomerGroup.name)
                  .where(CustomerGroup.id.in_(list(group_ids))).tuples()) if group_ids else {}
    typed_group = " ".join(str(group or "").split())
    typed_name = "".join(to_halfwidth(str(name or "")).split())
    out = []
    for i in ids:
        c = customers.get(i)
        if c is None:
            continue
        out.append(Match(
            id=c.id, name=c.name, reasons=sorted(reasons[i], key=REASON_ORDER.index),
            owner=owners.get(c.owner_id) if c.owner_id else None, owner_id=c.owner_id,
            pool=pools.get(c.pool_id) if not c.owner_id and c.pool_id else None,
            lead=not c.owner_id and not c.pool_id, can_view=can(actor, "customer.view", c),
            score=scores.get(i, 1.0), group=groups.get(c.group_id, ""),
            sibling=bool(typed_group) and groups.get(c.group_id) == typed_group,
            same_text="".join(to_halfwidth(c.name).split()) == typed_name))
    return out
