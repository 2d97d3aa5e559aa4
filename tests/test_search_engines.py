"""Search on PostgreSQL (pg_trgm) finds the same customers as on SQLite (FTS5 trigram) for the same queries
(issue 18 point 4): the same customers and contacts are entered through the verbs on both engines, then each
query runs through both paths of models/search.py (the index for a large scope, the rows' own text for a
small one), before and after a bulk rebuild of the index (COPY on PostgreSQL).

Needs a PostgreSQL server: the postgres pass's, KEHU_TEST_PG_URL, or a throw-away cluster of Debian's binaries
started here (~2 s); skipped when there is none.
"""
import os
import tempfile

import pytest

import models
from models import clock, search
from models import sql as sql_engine
from models.customers import Customer, create_customer, save_contact
from models.users import User
from tests.conftest import valid_credit_code
from tests.pgcluster import Cluster, admin_execute, server_bin, with_database

DATABASE = "kehu_search_engines"

# (name, short name, phone, [(contact name, mobile, phone)])
CUSTOMERS = [
    ("上海华美西装有限公司", "华美西装", "021-62345678", [("王小明", "13800138000", ""), ("李娜", "13912345678", "")]),
    ("苏州锦绣丝绸服饰有限公司", "锦绣丝绸", "0512-65432100", [("张伟", "13700001111", "0512-65432101")]),
    ("杭州西湖羊绒制品厂", "西湖羊绒", "0571-87654321", [("王小红", "18600002222", "")]),
    ("北京华美服装贸易有限公司", "华美服装", "010-88886666", [("赵敏", "15000003333", "")]),
    ("ACME Trading Co., Ltd.", "Acme", "020-12345678", [("John Smith", "13611112222", "")]),
    ("Acme-Fabric 100% Cotton_Works", "AcmeFab", "0755-33334444", [("O'Brien", "13522223333", "")]),
    ("深圳南山西装定制中心", "南山定制", "0755-26668888", []),
    ("广州白云纺织品批发市场经营部", "白云纺织", "020-36667777", [("陈华美", "13344445555", "")]),
    ("宁波雅戈尔西服专卖店", "雅戈尔", "0574-87001234", [("王明", "13800138001", "")]),
    ("温州鞋业集团有限公司", "温州鞋业", "0577-88990011", [("林小明", "13999998888", "")]),
]

QUERIES = [
    "西装", "华美", "华美西装", "上海 西装", "上海西装", "西湖 羊绒", "王小明", "小明", "王小", "李娜", "张伟",
    "13800138", "138-0013-8000", "0138000", "62345678", "021-6234", "0512", "9876",
    "acme", "ACME", "trading", "100%", "cotton_w", "_wo", "o'brien", "John Smith", "smith john",
    "3100000", "91310000000000003", "有限公司", "服饰 有限", "贸易", "纺织品", "鞋", "x", "  ", "无此公司",
]


@pytest.fixture(scope="module")
def pg_url(pg_server):
    server, cluster = pg_server or os.environ.get("KEHU_TEST_PG_URL"), None
    if not server:
        if server_bin() is None:
            pytest.skip("no PostgreSQL server (apt-get install postgresql, or KEHU_TEST_PG_URL)")
        cluster = Cluster(tempfile.mkdtemp(prefix="kehu-pg-search-")).start()
        server = cluster.url()
    admin_execute(server, f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)", f"CREATE DATABASE {DATABASE}")
    try:
        yield with_database(server, DATABASE)
    finally:
        models.close_db()
        if models.db.obj is not None and hasattr(models.db.obj, "close_all"):
            models.db.obj.close_all()
        admin_execute(server, f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        if cluster is not None:
            cluster.stop()


def _results():
    """{query: (ids found through the index, ids found through the rows' own text)} for every query."""
    out = {}
    for q in QUERIES:
        big = search.filter_query(Customer.select(Customer.id), q, Customer)
        small = search.filter_query(Customer.select(Customer.id), q, Customer, small=True)
        out[q] = (sorted(c.id for c in big), sorted(c.id for c in small))
    return out


def _build_and_search(url):
    """Enter CUSTOMERS through the verbs on the database at `url` and search; then rebuild the index in bulk and
    search again. Returns both answers."""
    from seeds import reference

    models.init_db(url)
    with models.db.connection_context():
        models.migrate()
        reference.load()
        admin = User.create(username="admin", full_name="Admin", password_hash="x", role="admin",
                            created_at=clock.now())
        for n, (name, short_name, phone, contacts) in enumerate(CUSTOMERS, start=1):
            customer = create_customer(admin, {"name": name, "short_name": short_name, "phone": phone,
                                               "credit_code": valid_credit_code(n), "business_model": "consumer",
                                               "source": "website", "stage": "target"}, check_duplicates=False)
            for contact, mobile, contact_phone in contacts:
                save_contact(admin, customer, {"name": contact, "mobile": mobile, "phone": contact_phone})
        by_verbs = _results()
        search.rebuild()
        rebuilt = _results()
    models.close_db()
    return by_verbs, rebuilt


def test_pg_trgm_finds_what_fts5_finds(pg_url, tmp_path):
    lite, lite_rebuilt = _build_and_search(f"sqlite:///{tmp_path / 'search.db'}")
    pg, pg_rebuilt = _build_and_search(pg_url)
    assert lite_rebuilt == lite, "SQLite: the bulk rebuild changed the answers"
    assert pg_rebuilt == pg, "PostgreSQL: the bulk rebuild (COPY) changed the answers"
    differ = {q: (lite[q], pg[q]) for q in QUERIES if lite[q] != pg[q]}
    assert not differ, f"the engines disagree (SQLite, PostgreSQL): {differ}"
    for q, (big, small) in lite.items():
        assert big == small, f"{q!r}: the index and the rows' own text disagree: {big} / {small}"
    # The queries prove something: most find customers, and some find several but not all.
    found = [q for q in QUERIES if lite[q][0]]
    assert len(found) >= len(QUERIES) - 6, [q for q in QUERIES if q not in found]
    assert lite["西装"][0] and len(lite["西装"][0]) < len(CUSTOMERS)
    assert lite["王小明"][0] == [1] and lite["13800138"][0] == [1, 9]
    assert lite["x"] == ([], []) and lite["无此公司"] == ([], [])


def test_copy_writes_any_text(pg_url):
    """COPY's text format: backslashes, tabs, line breaks and NULLs arrive as they were."""
    models.init_db(pg_url)
    with models.db.connection_context():
        models.db.execute_sql("CREATE TEMPORARY TABLE copy_check (id BIGINT, t TEXT, b BOOLEAN)")
        rows = [(1, "a\\b\tc\nd\re", True), (2, None, False), (3, "", None), (4, "\\N", True)]
        with models.db.atomic():
            sql_engine.insert_many("copy_check", ("id", "t", "b"), rows)
        assert [tuple(r) for r in models.db.execute_sql("SELECT id, t, b FROM copy_check ORDER BY id")] == rows
    models.close_db()

