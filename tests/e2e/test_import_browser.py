"""Real-browser journey through the customer import (issue 14 point 7): marketing uploads a sheet with
duplicates and bad rows, checks the column mapping, sees the dry run, chooses what happens to the
duplicates, runs the import, watches the progress bar finish and downloads the rejected rows.
Screenshots land in <--output>/<test-id>/."""
import io
import re
import time

from openpyxl import Workbook
from playwright.sync_api import Page, expect

from models.customers import Customer, save_contact
from models import imports
from models.imports import ImportJob
from tests.conftest import valid_credit_code
from tests.e2e.conftest import shot
from tests.e2e.test_pools_browser import _uid, admin, customer, region_and_pool, user

FILLER = 1500  # enough rows for the progress bar to be seen moving


def sheet(region, existing, uid):
    book = Workbook()
    rows = book.active
    rows.append([f"展会客户名单 {uid}"])  # a title above the header: the header row is found below it
    rows.append(["客户名称", "统一社会信用代码", "电话", "区域", "联系人", "手机"])
    rows.append([f"杭州新客{uid}服饰有限公司", "", "0571-88886666", region.name_zh, "王经理", "13900001111"])
    rows.append([f"随便叫{uid}公司", existing.credit_code, "0571-88880000", "", "", ""])  # duplicate: credit code
    rows.append([f"又一家{uid}贸易有限公司", "", "", "", "李四", "13812345678"])  # duplicate: a contact's mobile
    rows.append([existing.name + "（集团）", "", "", "", "", ""])  # duplicate: the name
    rows.append([f"电话不对{uid}有限公司", "", "12345", "", "", ""])  # invalid phone
    rows.append(["", "", "021-62345678", "", "", ""])  # invalid: no name
    for n in range(FILLER):
        rows.append([f"批量{uid}第{n}号服饰有限公司", valid_credit_code(900_000 + n), "", region.name_zh, "", ""])
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def test_marketing_imports_a_sheet_with_duplicates_and_bad_rows(page: Page, login, output_path, monkeypatch):
    # The server runs in this process: smaller, slower chunks, so the progress bar is seen moving.
    real = imports.write_rows

    def slow_write_rows(*args, **kw):
        time.sleep(0.25)
        return real(*args, **kw)

    monkeypatch.setattr(imports, "CHUNK", 100)
    monkeypatch.setattr(imports, "write_rows", slow_write_rows)
    region, pool = region_and_pool("east")
    uid = _uid()
    boss = admin()
    existing = customer(boss, uid, region, credit_code=valid_credit_code(int(uid, 16) % 10**9), stage="prospect")
    save_contact(boss, existing, {"name": "老张", "mobile": "13812345678"})
    marketer = user("marketing")
    login(marketer.username)

    page.get_by_role("link", name="Import customers").first.click()
    expect(page).to_have_url(re.compile(r"/imports$"))
    page.set_input_files("#import-file", files=[{"name": "展会客户.xlsx", "buffer": sheet(region, existing, uid),
                                                 "mimeType": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}])
    page.get_by_role("button", name="Upload and map the columns").click()
    expect(page).to_have_url(re.compile(r"/imports/\d+$"))
    expect(page.get_by_label("Header row")).to_have_value("2")
    expect(page.get_by_label("Field for column 客户名称")).to_have_value("name")
    expect(page.get_by_label("Field for column 手机")).to_have_value("contact_mobile")
    expect(page.locator("#mapping-table")).to_contain_text(f"杭州新客{uid}服饰有限公司")
    shot(page, output_path, "import-mapping.png")

    page.get_by_role("button", name="Check the rows").click()
    expect(page.locator("#dry-run")).to_be_visible(timeout=60_000)
    expect(page.locator("#count-new")).to_have_text(f"{FILLER + 1:,}")
    expect(page.locator("#count-duplicate")).to_have_text("3")
    expect(page.locator("#count-invalid")).to_have_text("2")
    expect(page.locator("#sample-duplicate")).to_contain_text(f"duplicate of customer #{existing.id}")
    expect(page.locator("#sample-invalid")).to_contain_text("Phone: Enter a mobile number")
    shot(page, output_path, "import-dry-run.png")

    page.locator("#import-choices").get_by_label("Update the existing customer's empty fields").first.check()
    page.locator("input[name=on_name][value=create]").check()
    page.get_by_role("button", name=re.compile(r"^Import [\d,]+ rows$")).click()
    expect(page.locator("#import-choices")).to_contain_text("Say why these rows are different customers")
    page.get_by_label("Why are the look-alikes different customers?").fill("集团下属的另一家工厂")
    page.get_by_role("button", name=re.compile(r"^Import [\d,]+ rows$")).click()
    expect(page).to_have_url(re.compile(r"/imports/\d+$"))
    expect(page.locator("#import-progress progress")).to_be_visible()
    expect(page.locator("#import-progress [role=status]")).to_contain_text(re.compile(r"[1-9][\d,]* of 1,506 rows imported"))
    shot(page, output_path, "import-progress.png")  # the bar moves (htmx polls), then the page refreshes itself
    expect(page.locator("#import-result")).to_be_visible(timeout=120_000)
    expect(page.locator("#import-result")).to_contain_text(
        f"Done: {FILLER + 2:,} customers created, 1 updated, 1 duplicates skipped, 2 rows rejected.")
    shot(page, output_path, "import-done.png")

    with page.expect_download() as download:
        page.locator("#rejected-file").click()
    text = open(download.value.path(), encoding="utf-8-sig").read()
    assert "Skipped" in text and "Invalid" in text and f"电话不对{uid}有限公司" in text

    job = ImportJob.select().order_by(ImportJob.id.desc()).first()
    assert (job.state, job.created_by_id) == ("done", marketer.id)
    new = Customer.get(Customer.name == f"杭州新客{uid}服饰有限公司")
    assert (new.owner_id, new.pool_id, new.source) == (None, pool.id, "import")
    assert Customer.get_by_id(existing.id).phone == "0571-88880000"  # its empty phone filled from the sheet
