"""Customer import (issue 14 point 7): reading sheets (encodings, dates, formulas, merged cells, limits,
the header row), the dry run's classes, the choices per duplicate class, chunks that never half-write a
row, a job that resumes after a restart, and the file of rejected rows."""
import csv
import datetime as dt
import io

import pytest
from openpyxl import Workbook

from models import import_files, imports
from models.audit import AuditEvent
from models.customers import Contact, Customer, StageChange, custom_values, save_contact
from models.errors import DomainError
from models.import_files import cell_date, open_sheet
from models.imports import ImportJob, ImportRejection
from models.pools import Pool
from models.settings import save_custom_field
from models.users import Region
from tests.conftest import valid_credit_code

HEADER = ["客户名称", "统一社会信用代码", "电话", "城市", "区域", "联系人", "手机"]


def body(response):
    return response.get_data(as_text=True)


def csv_bytes(rows, encoding="utf-8", header=HEADER):
    out = io.StringIO()
    writer = csv.writer(out)
    if header:
        writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def xlsx_bytes(rows, merge=None, formula=None):
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    if merge:
        sheet.merge_cells(merge)
    if formula:
        sheet[formula] = "=1+1"
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


@pytest.fixture
def sync_jobs(monkeypatch):
    """Jobs run in the request's thread, so a test sees the end state when the response comes."""
    monkeypatch.setattr(imports, "start_job", lambda job_id: imports.run_job(job_id))


@pytest.fixture
def people(make_user, make_team):
    east = Region.get(Region.code == "east") if Region.select().where(Region.code == "east").exists() else Region.select().first()
    team = make_team(region=east)
    return {"marketing": make_user("marketing"), "admin": make_user("admin"), "rep": make_user("sales", team),
            "region": east}


def upload(client, data, name="客户.csv"):
    return client.post("/imports", {"file": (io.BytesIO(data), name)}, content_type="multipart/form-data")


def last_job():
    return ImportJob.select().order_by(ImportJob.id.desc()).first()


def check(client, job, **extra):
    form = {f"col_{k}": v for k, v in job.mapping.items()}
    form.update(header_row=str(job.header_row), action="check", **extra)
    return client.post(f"/imports/{job.id}/mapping", form, htmx=True)


# ---- reading sheets ---------------------------------------------------------------------------------

@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_in_utf8_with_or_without_bom_and_gbk_reads_the_chinese(encoding):
    sheet = open_sheet(csv_bytes([["上海华东西装有限公司", "", "021-62345678", "上海"]], encoding), "a.csv")
    rows = list(sheet.rows())
    assert rows[0][0] == "客户名称" and rows[1][0] == "上海华东西装有限公司"
    assert sheet.encoding == ("utf-8" if encoding.startswith("utf") else "gb18030")


def test_gbk_saved_as_mojibake_utf8_is_refused_with_a_message():
    garbled = "客户名称,城市\n上海华东西装有限公司,上海\n".encode("gbk").decode("latin-1").encode("utf-8")
    with pytest.raises(DomainError, match="garbled"):
        open_sheet(garbled, "a.csv")


def test_a_chosen_encoding_that_does_not_fit_the_bytes_is_refused():
    with pytest.raises(DomainError, match="not UTF-8 text"):
        open_sheet(csv_bytes([["华东西装"]], "gbk"), "a.csv", "utf-8")


@pytest.mark.parametrize("data,message", [
    (b"", "empty"), (b"%PDF-1.4\x00\x01binary", "not a spreadsheet"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "old Excel file"),
    (b"PK\x03\x04not really a zip", "damaged or not a spreadsheet"),
])
def test_what_is_not_a_spreadsheet_is_refused(data, message):
    with pytest.raises(DomainError, match=message):
        open_sheet(data, "x.xlsx")


def test_formulas_merged_cells_and_wide_sheets_are_refused():
    rows = [HEADER, ["华东西装有限公司", "", "021-62345678"]]
    with pytest.raises(DomainError, match="formula"):
        list(open_sheet(xlsx_bytes(rows, formula="D2"), "a.xlsx").rows())
    with pytest.raises(DomainError, match=r"merged cells \(A1:B1\)"):
        open_sheet(xlsx_bytes(rows, merge="A1:B1"), "a.xlsx")
    with pytest.raises(DomainError, match="200 columns"):
        open_sheet(xlsx_bytes([[f"c{i}" for i in range(200)]]), "a.xlsx")
    with pytest.raises(DomainError, match="200 columns"):
        list(open_sheet(csv_bytes([], header=[f"c{i}" for i in range(200)]), "a.csv").rows())


def test_too_many_rows_are_refused_before_everything_is_read(monkeypatch):
    monkeypatch.setattr(import_files, "MAX_ROWS", 50)
    data = xlsx_bytes([HEADER] + [[f"公司{i}有限公司"] for i in range(100)])
    with pytest.raises(DomainError, match="more than 50 rows"):
        open_sheet(data, "a.xlsx")  # from the sheet's dimension, not a single row read
    read = []
    sheet = open_sheet(csv_bytes([[f"公司{i}"] for i in range(100)]), "a.csv")
    with pytest.raises(DomainError, match="more than 50 rows"):
        for row in sheet.rows():
            read.append(row)
    assert len(read) == 50 + import_files.HEADER_SEARCH


def test_dates_as_excel_serials_text_or_date_cells():
    assert cell_date(46350) == "2026-11-24"
    assert cell_date("46350") == "2026-11-24"
    assert cell_date(dt.datetime(2026, 11, 24)) == "2026-11-24"
    for text in ("2026-11-24", "2026/11/24", "2026.11.24", "2026年11月24日", "2026/11/24 10:30"):
        assert cell_date(text) == "2026-11-24", text
    assert cell_date("下周二") == "下周二"  # left for the validation to refuse
    assert cell_date("2026-02-30") == "2026-02-30"


def test_the_header_row_is_found_below_a_title_and_may_be_chosen(app):
    rows = [["2026 年展会客户名单"], [], HEADER, ["华东西装有限公司"]]
    assert imports.guess_header_row(rows) == 3
    mapping = imports.auto_mapping(rows[2], imports.Lookups.load())
    assert mapping == {0: "name", 1: "credit_code", 2: "phone", 3: "city", 4: "region", 5: "contact_name",
                       6: "contact_mobile"}
    english = imports.auto_mapping(["Company name", "Credit code", "Phone", "E-mail", "Mobile"], imports.Lookups.load())
    assert english == {0: "name", 1: "credit_code", 2: "phone", 3: "contact_email", 4: "contact_mobile"}


# ---- the dry run and the run over HTTP ----------------------------------------------------------------

def sample_sheet(existing):
    """Rows: 2 new, 1 duplicate by credit code, 1 by phone (a contact's mobile), 1 by name, 1 duplicate of
    an earlier row, 2 invalid (a bad phone; no name), 1 empty."""
    code = valid_credit_code(777)
    return [
        ["杭州新客服饰有限公司", "", "0571-88886666", "杭州", "", "王经理", "13900001111"],
        ["苏州另一家纺织有限公司", valid_credit_code(778), "", "苏州", "", "", ""],
        ["随便叫什么公司", code, "", "宁波", "", "", ""],
        ["又一家贸易有限公司", "", "", "", "", "李四", existing["mobile"]],
        [existing["name"] + "（集团）", "", "", "", "", "", ""],
        ["杭州新客服饰(有限公司)", "", "", "", "", "", ""],
        ["电话不对有限公司", "", "12345", "", "", "", ""],
        ["", "", "021-62345678", "上海", "", "", ""],
        ["", "", "", "", "", "", ""],
    ], code


@pytest.fixture
def existing(make_customer, people):
    c = make_customer(name="宁波老客户服装有限公司", credit_code=valid_credit_code(777))
    save_contact(people["admin"], c, {"name": "老张", "mobile": "13812345678"})
    return {"customer": c, "name": "宁波老客户服装", "mobile": "138 1234 5678"}


def test_dry_run_classifies_every_row_and_writes_nothing(client, people, existing, sync_jobs):
    client.login(people["marketing"])
    rows, _code = sample_sheet(existing)
    before = Customer.select().count()
    r = upload(client, csv_bytes(rows, "gbk"))
    assert r.status_code == 303
    job = last_job()
    page = body(client.get(f"/imports/{job.id}"))
    assert "杭州新客服饰有限公司" in page and 'value="contact_mobile" selected' in page  # preview, auto-mapping
    r = check(client, job)
    assert r.status_code == 204
    job = ImportJob.get_by_id(job.id)
    counts = job.summary["counts"]
    assert (job.state, job.total, counts["new"], counts["duplicate"], counts["invalid"], counts["empty"]) == (
        "checked", 9, 2, 4, 2, 1)
    assert (counts["dup_credit_code"], counts["dup_phone"], counts["dup_name"]) == (1, 1, 2)
    samples = job.summary["samples"]
    dup = {s["line"]: s for s in samples["duplicate"]}
    c = existing["customer"].id
    assert (dup[4]["reason"], dup[4]["match_id"]) == ("credit_code", c)
    assert (dup[5]["reason"], dup[5]["match_id"]) == ("phone", c)
    assert (dup[6]["reason"], dup[6]["match_id"]) == ("name", c)
    assert (dup[7]["reason"], dup[7]["match_line"]) == ("name", 2)
    invalid = {s["line"]: s for s in samples["invalid"]}
    assert [p[0] for p in invalid[8]["problems"]] == ["phone"] and [p[0] for p in invalid[9]["problems"]] == ["name"]
    page = body(client.get(f"/imports/{job.id}"))
    assert "duplicate of customer #%s" % c in page and "Phone: Enter a mobile number" in page
    assert Customer.select().count() == before


def test_import_follows_the_choices_and_places_new_customers_in_their_pool(client, people, existing, sync_jobs):
    client.login(people["admin"])
    rows, _code = sample_sheet(existing)
    rows[0][4] = people["region"].name_zh
    upload(client, csv_bytes(rows))
    job = last_job()
    check(client, job)
    r = client.post(f"/imports/{job.id}/run", {"on_credit_code": "update", "on_phone": "skip", "on_name": "create"},
                    htmx=True)
    assert "Say why" in body(r) and ImportJob.get_by_id(job.id).state == "checked"  # create anyway needs a reason
    r = client.post(f"/imports/{job.id}/run", {"on_credit_code": "update", "on_phone": "skip", "on_name": "create",
                                               "reason": "同名不同厂", "stage": "target"}, htmx=True)
    assert r.status_code == 204
    job = ImportJob.get_by_id(job.id)
    # new: 2 + 2 created anyway by name (one of them the row duplicating row 2); update: the credit-code row
    assert (job.state, job.created, job.updated, job.skipped, job.rejected) == ("done", 4, 1, 1, 2)
    new = Customer.get(Customer.name == "杭州新客服饰有限公司")
    assert new.owner_id is None and new.pool_id == Pool.get(Pool.region == people["region"].id).id
    assert new.source == "import" and new.stage == "target" and new.region_id == people["region"].id
    assert Contact.get(Contact.customer == new.id).mobile_norm == "13900001111"
    assert StageChange.select().where(StageChange.customer == new.id).count() == 1
    created = AuditEvent.get((AuditEvent.customer == new.id) & (AuditEvent.kind == "customer.created"))
    assert created.data["import_job"] == job.id
    anyway = Customer.get(Customer.name == existing["name"] + "（集团）")
    audit = AuditEvent.get((AuditEvent.customer == anyway.id) & (AuditEvent.kind == "customer.created"))
    assert audit.data["duplicate_reason"] == "同名不同厂" and audit.data["duplicate_ids"] == [existing["customer"].id]
    updated = Customer.get_by_id(existing["customer"].id)
    assert (updated.name, updated.city) == ("宁波老客户服装有限公司", "宁波")  # what it had stays, the empty city filled
    csv_text = body(client.get(f"/imports/{job.id}/rejected.csv"))
    lines = list(csv.reader(io.StringIO(csv_text.lstrip("\ufeff"))))
    assert lines[0][:3] == ["Row", "Outcome", "Why"] and lines[0][3:] == HEADER
    assert [(line[0], line[1]) for line in lines[1:]] == [("5", "Skipped"), ("8", "Invalid"), ("9", "Invalid")]
    assert "Duplicate of customer #%s" % existing["customer"].id in lines[1][2]
    assert "Enter a mobile number" in lines[2][2] and "Company name: Required" in lines[3][2]


def test_updating_empty_fields_keeps_what_the_customer_has(client, people, make_customer, sync_jobs):
    c = make_customer(name="温州老客户鞋业有限公司", city="温州", stage="prospect")
    client.login(people["marketing"])
    upload(client, csv_bytes([["温州老客户鞋业有限公司", "", "0577-88886666", "上海", "", "", ""]]))
    job = last_job()
    check(client, job)
    client.post(f"/imports/{job.id}/run", {"on_name": "update"}, htmx=True)
    c = Customer.get_by_id(c.id)
    assert (c.city, c.phone_norm) == ("温州", "057788886666")
    event = AuditEvent.get((AuditEvent.customer == c.id) & (AuditEvent.kind == "customer.updated"))
    assert event.data["changes"] == {"phone": ["", "0577-88886666"]}


def test_marketing_may_not_update_a_customer_it_cannot_edit(client, people, make_customer, sync_jobs):
    c = make_customer(name="绍兴别人的客户纺织有限公司", owner=people["rep"])
    client.login(people["marketing"])
    upload(client, csv_bytes([["绍兴别人的客户纺织有限公司", "", "0575-88886666", "", "", "", ""]]))
    job = last_job()
    check(client, job)
    client.post(f"/imports/{job.id}/run", {"on_name": "update"}, htmx=True)
    job = ImportJob.get_by_id(job.id)
    assert (job.updated, job.skipped) == (0, 1) and Customer.get_by_id(c.id).phone == ""
    rejection = ImportRejection.get(ImportRejection.job == job.id)
    assert "which you may not edit" in rejection.problems[0][1]


def test_custom_fields_map_and_dates_arrive_as_serials_or_text(client, people, sync_jobs):
    save_custom_field(people["admin"], {"key": "founded", "label_zh": "成立日期", "label_en": "Founded",
                                        "kind": "date", "active": True})
    client.login(people["admin"])
    rows = [["客户名称", "成立日期"], ["序列号日期服饰有限公司", 46350], ["文本日期服饰有限公司", "2026年11月24日"],
            ["坏日期服饰有限公司", "明年"]]
    upload(client, xlsx_bytes(rows), "c.xlsx")
    job = last_job()
    assert job.mapping == {"0": "name", "1": "custom_founded"}
    check(client, job)
    client.post(f"/imports/{job.id}/run", {}, htmx=True)
    for name in ("序列号日期服饰有限公司", "文本日期服饰有限公司"):
        customer = Customer.get(Customer.name == name)
        assert custom_values([customer.id])[customer.id] == {"founded": "2026-11-24"}
    job = ImportJob.get_by_id(job.id)
    assert (job.created, job.rejected) == (2, 1)


def test_the_header_row_may_be_chosen_on_the_mapping_screen(client, people, sync_jobs):
    client.login(people["marketing"])
    data = csv_bytes([["说明：请从第三行开始"], ["客户名称", "城市"], ["嘉兴第三行服饰有限公司", "嘉兴"]], header=None)
    upload(client, data)
    job = last_job()
    r = client.post(f"/imports/{job.id}/mapping", {"header_row": "2", "action": "preview"}, htmx=True)
    assert 'value="name" selected' in body(r) and "嘉兴第三行服饰有限公司" in body(r)
    client.post(f"/imports/{job.id}/mapping", {"header_row": "2", "col_0": "name", "col_1": "city",
                                               "action": "check"}, htmx=True)
    job = ImportJob.get_by_id(job.id)
    assert (job.state, job.total, job.summary["counts"]["new"]) == ("checked", 1, 1)


def test_bad_files_get_a_message_and_nothing_is_kept(client, people):
    client.login(people["marketing"])
    for data, name, message in ((b"", "a.csv", "The file is empty"), (b"%PDF-1.4\x00", "a.pdf", "not a spreadsheet"),
                                (xlsx_bytes([HEADER], merge="A1:C1"), "a.xlsx", "merged cells"),
                                (b"\n\n,,\n", "a.csv", "The file is empty")):
        r = upload(client, data, name)
        assert r.status_code == 200 and message in body(r), (name, body(r)[:300])
    assert ImportJob.select().count() == 0


def test_a_mapping_without_the_name_column_is_refused(client, people):
    client.login(people["marketing"])
    upload(client, csv_bytes([["华东西装有限公司", "", "021-62345678"]]))
    job = last_job()
    r = client.post(f"/imports/{job.id}/mapping", {"col_0": "", "col_2": "phone", "action": "check"}, htmx=True)
    assert "Choose the column with the company name" in body(r) and ImportJob.get_by_id(job.id).state == "mapping"
    r = client.post(f"/imports/{job.id}/mapping", {"col_0": "name", "col_2": "name", "action": "check"}, htmx=True)
    assert "Column 1 already fills this field" in body(r)


def test_a_formula_found_in_the_dry_run_stops_it_with_the_cell(client, people, sync_jobs):
    client.login(people["admin"])
    r = upload(client, xlsx_bytes([HEADER, ["公式服饰有限公司"]], formula="C2"), "f.xlsx")
    assert "Cell C2 holds a formula (=1+1)" in body(r) and last_job() is None  # seen in the first rows
    upload(client, xlsx_bytes([HEADER] + [[f"第{i}家服饰有限公司"] for i in range(30)], formula="C25"), "f.xlsx")
    job = last_job()
    check(client, job)
    job = ImportJob.get_by_id(job.id)
    assert job.state == "failed" and job.error["params"]["cell"] == "C25"
    assert "formula" in body(client.get(f"/imports/{job.id}"))


# ---- chunks, failures, restarts -----------------------------------------------------------------------

def _checked_job(client, people, names):
    client.login(people["admin"])
    upload(client, csv_bytes([[n, "", "", "", "", "联系人", ""] for n in names]))
    job = last_job()
    check(client, job)
    return ImportJob.get_by_id(job.id)


def test_a_row_that_fails_to_write_leaves_nothing_and_its_chunk_keeps_the_others(client, people, sync_jobs,
                                                                                   monkeypatch):
    names = [f"分块测试{i}服饰有限公司" for i in range(5)]
    job = _checked_job(client, people, names)
    real = imports.pools.place_orphans

    def explode_on_row_3(actor, ids, now, why):
        if Customer.select().where(Customer.id.in_(list(ids)) & (Customer.name == names[2])).exists():
            raise RuntimeError("disk on fire")
        return real(actor, ids, now, why)

    monkeypatch.setattr(imports.pools, "place_orphans", explode_on_row_3)
    imports.start_import(people["admin"], job, {})
    imports.run_job(job.id, chunk=5)
    job = ImportJob.get_by_id(job.id)
    assert (job.state, job.created, job.rejected) == ("done", 4, 1)
    assert not Customer.select().where(Customer.name == names[2]).exists()
    assert not Contact.select().join(Customer, on=(Contact.customer == Customer.id)).where(
        Customer.name == names[2]).exists()
    assert AuditEvent.select().where(AuditEvent.kind == "customer.created").count() == 4
    assert Customer.select().where(Customer.name.in_(names)).count() == 4
    assert all(c.pool_id for c in Customer.select().where(Customer.name.in_(names)))
    rejection = ImportRejection.get(ImportRejection.job == job.id)
    assert (rejection.line, rejection.outcome) == (4, "failed") and "disk on fire" in rejection.problems[0][2]["error"]


class Crash(BaseException):
    """The process dying mid-chunk (not an error the job catches)."""


def test_a_job_resumes_after_a_restart_from_its_last_committed_chunk(app, client, people, monkeypatch):
    import app as app_module

    names = [f"续传测试{i}服饰有限公司" for i in range(5)]
    monkeypatch.setattr(imports, "start_job", lambda job_id: imports.run_job(job_id))
    job = _checked_job(client, people, names)
    imports.start_import(people["admin"], job, {})
    real, calls = imports.write_rows, []

    def crash_in_second_chunk(*args, **kw):
        calls.append(1)
        tally = real(*args, **kw)  # the rows are written ... and then the process dies before the commit
        if len(calls) == 2:
            raise Crash()
        return tally

    monkeypatch.setattr(imports, "write_rows", crash_in_second_chunk)
    with pytest.raises(Crash):
        imports.run_job(job.id, chunk=2)
    job = ImportJob.get_by_id(job.id)
    assert (job.state, job.done, job.created) == ("importing", 2, 2)
    assert Customer.select().where(Customer.name.in_(names)).count() == 2  # the second chunk rolled back whole
    monkeypatch.setattr(imports, "write_rows", real)
    monkeypatch.setattr(imports, "CHUNK", 2)
    assert app_module.on_start() == 1
    job = ImportJob.get_by_id(job.id)
    assert (job.state, job.done, job.created) == ("done", 5, 5)
    assert sorted(c.name for c in Customer.select().where(Customer.name.in_(names))) == sorted(names)
    assert imports.resume_stalled(at_start=True) == {"resumed": 0}


def test_a_second_runner_stops_without_writing_twice(client, people, sync_jobs):
    names = [f"双跑测试{i}服饰有限公司" for i in range(3)]
    job = _checked_job(client, people, names)
    imports.start_import(people["admin"], job, {})
    imports.run_job(job.id)
    imports.run_job(job.id)
    ImportJob.update(state="importing", done=1).where(ImportJob.id == job.id).execute()  # a stale runner's view
    imports.run_job(job.id)
    assert Customer.select().where(Customer.name.in_(names)).count() == 3


def test_progress_polls_while_running_and_refreshes_the_page_at_the_end(client, people, sync_jobs):
    job = _checked_job(client, people, ["进度条服饰有限公司"])
    ImportJob.update(state="importing", total=10, done=4).where(ImportJob.id == job.id).execute()
    r = client.get(f"/imports/{job.id}/progress", htmx=True)
    assert 'hx-trigger="every 1s"' in body(r) and 'value="4"' in body(r) and "HX-Refresh" not in r.headers
    ImportJob.update(state="done", done=10).where(ImportJob.id == job.id).execute()
    r = client.get(f"/imports/{job.id}/progress", htmx=True)
    assert r.headers["HX-Refresh"] == "true" and "every 1s" not in body(r)


def test_an_import_job_is_seen_by_its_uploader_and_admins_only(client, people, make_user, sync_jobs):
    job = _checked_job(client, people, ["别人的导入服饰有限公司"])
    client.login(make_user("marketing"))
    assert client.get(f"/imports/{job.id}").status_code == 404
    assert client.get(f"/imports/{job.id}/rejected.csv").status_code == 404
    client.login(people["admin"])
    assert client.get(f"/imports/{job.id}").status_code == 200


def test_an_upload_over_the_limits_gets_a_message_and_nothing_is_kept(client, people, monkeypatch):
    client.login(people["marketing"])
    r = client.post("/imports", {"file": (io.BytesIO(b"x" * (17 * 1024 * 1024)), "big.csv")},
                    content_type="multipart/form-data")
    assert r.status_code == 413 and "That upload is too large" in body(r)  # over MAX_CONTENT_LENGTH: the 413 page
    monkeypatch.setattr(import_files, "MAX_BYTES", 1000)
    monkeypatch.setattr("views.imports.MAX_BYTES", 1000)
    r = upload(client, csv_bytes([["华东西装有限公司"]] * 100))
    assert r.status_code == 200 and "The file is larger than 0 MB" in body(r)
    assert ImportJob.select().count() == 0


def test_marketing_finds_the_import_on_its_workbench_and_in_the_menu(client, people):
    client.login(people["marketing"])
    page = body(client.get("/"))
    assert 'id="import-panel"' in page and 'href="/imports"' in page
    client.login(people["rep"])
    page = body(client.get("/"))
    assert 'id="import-panel"' not in page and 'href="/imports"' not in page


def test_a_chosen_encoding_that_does_not_fit_is_said_on_the_mapping_form(client, people):
    client.login(people["marketing"])
    upload(client, csv_bytes([["华东西装有限公司", "", "021-62345678"]], "gbk"))
    job = last_job()
    assert job.encoding == "gb18030"
    r = client.post(f"/imports/{job.id}/mapping", {"col_0": "name", "encoding": "utf-8", "action": "check"}, htmx=True)
    assert "The file is not UTF-8 text" in body(r) and ImportJob.get_by_id(job.id).state == "mapping"


# ---- new customers through the lead routing rules --------------------------------------------------

def _routing_job(client, people, names):
    client.login(people["marketing"])
    upload(client, csv_bytes([[n, "", "", "杭州", people["region"].name_zh, "", ""] for n in names]))
    job = last_job()
    check(client, job)
    return ImportJob.get_by_id(job.id)


def test_new_customers_may_go_through_the_lead_routing_rules_chunk_by_chunk(client, people, make_user, sync_jobs,
                                                                            monkeypatch):
    from models.leads import Lead, LeadRouting
    from models.ledger import PoolEvent
    from models.notifications import Notification

    second = make_user("sales", people["rep"].team)
    names = [f"路由导入{i}服饰有限公司" for i in range(3)]
    job = _routing_job(client, people, names)
    page = body(client.get(f"/imports/{job.id}"))
    assert 'name="destination" value="routing"' in page and 'name="destination" value="pool"' in page
    r = client.post(f"/imports/{job.id}/run", {"destination": "everywhere"}, htmx=True)
    assert "Choose one of the options" in body(r) and ImportJob.get_by_id(job.id).state == "checked"
    monkeypatch.setattr(imports, "CHUNK", 2)
    r = client.post(f"/imports/{job.id}/run", {"destination": "routing", "stage": "target"}, htmx=True)
    assert r.status_code == 204
    job = ImportJob.get_by_id(job.id)
    assert (job.state, job.created, job.rejected, job.options["destination"]) == ("done", 3, 0, "routing")
    made = list(Customer.select().where(Customer.name.in_(names)).order_by(Customer.id))
    assert {c.owner_id for c in made} == {people["rep"].id, second.id}  # round-robin inside the region
    assert all(c.pool_id is None and c.stage == "target" and c.claimed_at is not None for c in made)
    for c in made:
        lead = Lead.get(Lead.customer == c.id)
        assert (lead.status, lead.source, lead.new_customer, lead.routed_to_id) == ("routed", "import", True, c.owner_id)
        assert lead.due_at is not None and lead.created_by_id == people["marketing"].id
        routing = LeadRouting.get_by_id(lead.routing_id)
        assert (routing.rule, routing.to_user_id, routing.due_at) == ("region", c.owner_id, lead.due_at)
        assert PoolEvent.select().where((PoolEvent.customer == c.id) & (PoolEvent.kind == "lead_routed")).count() == 1
        assert AuditEvent.get((AuditEvent.customer == c.id) & (AuditEvent.kind == "lead.created")).data["import_job"] == job.id
    assert Notification.select().where(Notification.user.in_([people["rep"].id, second.id])
                                       & (Notification.kind == "lead")).count() == 3


def test_a_routed_import_row_that_fails_leaves_nothing_and_nobody_available_waits_in_the_pool(
        client, people, sync_jobs, monkeypatch):
    from models import leads
    from models.leads import Lead

    names = [f"路由失败{i}服饰有限公司" for i in range(3)]
    job = _routing_job(client, people, names)
    real = leads.route_lead

    def explode_on_the_second(actor, lead, **kw):
        if Customer.get_by_id(lead.customer_id).name == names[1]:
            raise RuntimeError("no route")
        return real(actor, lead, **kw)

    monkeypatch.setattr(leads, "route_lead", explode_on_the_second)
    people["rep"].active = False  # nobody can take them: the leads wait qualified, the customers in their pool
    people["rep"].save()
    imports.start_import(people["marketing"], job, {"destination": "routing"})
    imports.run_job(job.id, chunk=3)
    job = ImportJob.get_by_id(job.id)
    assert (job.state, job.created, job.rejected) == ("done", 2, 1)
    assert not Customer.select().where(Customer.name == names[1]).exists()
    assert not Lead.select().join(Customer, on=(Lead.customer == Customer.id)).where(Customer.name == names[1]).exists()
    for c in Customer.select().where(Customer.name.in_(names)):
        assert c.owner_id is None and c.pool_id == Pool.get(Pool.region == people["region"].id).id
        assert Lead.get(Lead.customer == c.id).status == "qualified"
