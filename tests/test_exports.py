"""Customer export (issue 14 point 8): the list a user sees with its filters, pool contacts masked as on
screen, formula injection neutralised, audited, capped by the per-role limit an admin sets."""
import csv
import io

import pytest
from openpyxl import load_workbook

from models import exports
from models.audit import AuditEvent
from models.customers import Customer, save_contact
from models.exports import safe_cell
from models.pools import Pool
from models.users import Region


def body(response):
    return response.get_data(as_text=True)


def read_csv(response):
    text = body(response)
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


@pytest.fixture
def book(make_user, make_team, make_customer):
    region = Region.select().first()
    team = make_team(region=region)
    rep, admin = make_user("sales", team), make_user("admin")
    own = make_customer(owner=rep, name="自己的客户服饰有限公司", phone="021-62345678", city="上海")
    save_contact(admin, own, {"name": "王经理", "mobile": "13812345678", "email": "wang@example.com"})
    pool = make_customer(name="公海里的客户纺织有限公司", phone="021-68889999", region_id=region.id, city="上海")
    save_contact(admin, pool, {"name": "李经理", "mobile": "13987654321", "email": "li@example.com"})
    other = make_customer(owner=make_user("sales", make_team()), name="别人的客户鞋业有限公司")
    evil = make_customer(owner=rep, name="=HYPERLINK(\"http://evil\")公司", city="-2+3", tags="@SUM(A1)")
    assert Customer.get_by_id(pool.id).pool_id == Pool.get(Pool.region == region.id).id
    return {"rep": rep, "admin": admin, "own": own, "pool": pool, "other": other, "evil": evil}


def test_a_rep_exports_what_they_see_with_pool_contacts_masked(client, book):
    client.login(book["rep"])
    rows = read_csv(client.get("/exports/customers.csv?scope=all"))
    header, data = rows[0], {r[1]: dict(zip(rows[0], r)) for r in rows[1:]}
    assert header[:3] == ["ID", "Company name", "Short name"]
    assert set(data) == {"自己的客户服饰有限公司", "公海里的客户纺织有限公司", "'=HYPERLINK(\"http://evil\")公司"}
    own, pool = data["自己的客户服饰有限公司"], data["公海里的客户纺织有限公司"]
    assert (own["Phone"], own["Contact's mobile"], own["Contact's e-mail"]) == (
        "021-62345678", "13812345678", "wang@example.com")
    assert (pool["Phone"], pool["Contact's mobile"], pool["Contact's e-mail"]) == (
        "021****9999", "139****4321", "l***@example.com")
    assert pool["Contact"] == "李经理" and pool["Owner"] == ""


def test_the_current_filters_apply_and_the_export_is_audited(client, book):
    client.login(book["rep"])
    rows = read_csv(client.get("/exports/customers.csv?scope=mine&city=上海"))
    assert [r[1] for r in rows[1:]] == ["自己的客户服饰有限公司"]
    event = AuditEvent.select().where(AuditEvent.kind == "customer.exported").order_by(AuditEvent.id.desc()).get()
    assert event.actor_id == book["rep"].id
    assert event.data == {"rows": 1, "format": "csv", "filters": {"scope": "mine", "city": "上海"}}


def test_formula_injection_is_neutralised_in_csv_and_xlsx(client, book):
    for value, safe in (("=1+1", "'=1+1"), ("+86", "'+86"), ("-2", "'-2"), ("@A1", "'@A1"), ("\tx", "'\tx"),
                        ("\rx", "'\rx"), ("正常", "正常"), (5, 5), (None, ""), ("a\x01b", "ab")):
        assert safe_cell(value) == safe
    client.login(book["rep"])
    rows = read_csv(client.get("/exports/customers.csv?scope=mine"))
    evil = next(dict(zip(rows[0], r)) for r in rows[1:] if "HYPERLINK" in r[1])
    assert (evil["Company name"], evil["City"], evil["Tags"]) == ("'=HYPERLINK(\"http://evil\")公司", "'-2+3", "'@SUM(A1)")
    response = client.get("/exports/customers.xlsx?scope=mine")
    assert response.mimetype.endswith("spreadsheetml.sheet")
    sheet = load_workbook(io.BytesIO(response.data)).active
    cells = [[c.value for c in row] for row in sheet.iter_rows()]
    assert cells[0][1] == "Company name"
    assert all(not str(v).startswith("=") for row in cells for v in row if v is not None)
    assert any(row[1] == "'=HYPERLINK(\"http://evil\")公司" for row in cells[1:])
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)


def test_the_row_limit_per_role_is_an_admin_setting(client, book):
    client.login(book["admin"])
    r = client.post("/exports/limits", {role: "abc" if role == "sales" else "10" for role in exports.ROLES})
    assert r.status_code == 200 and "A whole number from 0 to 1000000" in body(r)
    r = client.post("/exports/limits", {**{role: "100" for role in exports.ROLES}, "sales": "1"})
    assert r.status_code == 303 and exports.limits()["sales"] == 1
    assert AuditEvent.select().where(AuditEvent.kind == "export.limits_changed").count() == 1
    client.login(book["rep"])
    r = client.get("/exports/customers.csv?scope=mine")
    assert r.status_code == 409 and "more than 1 customers" in body(r)
    assert client.get("/exports/customers.csv?scope=mine&city=上海").status_code == 200
    exports.save_limits(book["admin"], {**{role: "100" for role in exports.ROLES}, "sales": "0"})
    assert "turned off" in body(client.get("/exports/customers.csv?scope=mine&city=上海"))
    assert AuditEvent.select().where(AuditEvent.kind == "customer.exported").count() == 1


def test_export_links_on_the_customer_list_carry_the_filters(client, book):
    client.login(book["rep"])
    page = body(client.get("/customers?scope=mine&city=上海"))
    assert 'id="export-csv" href="/exports/customers.csv?scope=mine&amp;city=%E4%B8%8A%E6%B5%B7"' in page
    assert client.get("/exports/customers.pdf").status_code == 404
