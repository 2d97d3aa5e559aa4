"""Documents (domain §8): files stored under hashed names in the instance folder, type checked by
content, names sanitised for display only, size limits, versions kept, download checked by permission,
and nothing half-written when a step fails."""
import io
import zipfile
from pathlib import Path

import pytest

from models import documents as docs
from models import projects as pj
from models.audit import AuditEvent
from models.errors import NotFound, ValidationError
from tests.test_projects import approved, body, project_world  # noqa: F401  (fixture)

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 200
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 40


def office(kind="word"):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr(f"{kind}/document.xml", "<doc/>")
    return buf.getvalue()


@pytest.fixture
def storage(tmp_path):
    return tmp_path / "documents"


def files_in(storage):
    return sorted(p for p in Path(storage).rglob("*") if p.is_file()) if Path(storage).exists() else []


def upload(w, storage, data, filename, who="rep_a", target="customer", max_bytes=docs.MAX_BYTES, **meta):
    where = {"customer": w.customers["a"]} if target == "customer" else {"project": target}
    return docs.upload_document(w.users[who], storage, io.BytesIO(data), filename,
                                {"title": "", "kind": "proposal", **meta}, max_bytes=max_bytes, **where)


@pytest.mark.parametrize("data,name,kind", [
    (PDF, "方案.pdf", "pdf"), (office("word"), "报价.docx", "docx"), (office("xl"), "报价单.xlsx", "xlsx"),
    (office("ppt"), "汇报.pptx", "pptx"), (PNG, "现场.png", "png"), (b"\xff\xd8\xff\xe0" + b"\x00" * 20, "a.jpg", "jpeg"),
    ("会议纪要：确认范围\n".encode(), "纪要.txt", "txt"), ("GB 文本".encode("gb18030"), "gb.txt", "txt"),
])
def test_allowed_types_are_recognised_by_content(project_world, storage, data, name, kind):
    document = upload(project_world, storage, data, name)
    version = document.versions.get()
    assert (version.file_type, version.filename, version.size) == (kind, name, len(data))
    assert docs.read_bytes(storage, version) == data
    assert version.stored_name not in name and len(version.stored_name) == 64
    assert files_in(storage) == [docs.path_of(storage, version)]


@pytest.mark.parametrize("data,name,message", [
    (EXE, "合同.pdf", "program"),
    (EXE, "setup.exe", "program"),
    (b"\x7fELF\x02\x01\x01" + b"\x00" * 50, "run.txt", "program"),
    (PDF, "合同.docx", "content is PDF"),
    (office("word"), "表格.xlsx", "content is Word"),
    (b"PK\x03\x04" + b"\x00" * 100, "x.docx", "Only PDF"),  # a zip that is not an Office file
    (b"\x00\x01\x02\x03" * 50, "blob.bin", "Only PDF"),
    (b"", "empty.pdf", "empty"),
])
def test_refused_files_leave_nothing_behind(project_world, storage, data, name, message):
    with pytest.raises(ValidationError) as exc:
        upload(project_world, storage, data, name)
    assert message in exc.value.errors["file"][0][0] % exc.value.errors["file"][0][1]
    assert files_in(storage) == [] and docs.Document.select().count() == 0


def test_too_large_is_refused_while_reading(project_world, storage):
    with pytest.raises(ValidationError) as exc:
        upload(project_world, storage, PDF + b"x" * 2048, "big.pdf", max_bytes=1024)
    assert "larger than" in exc.value.errors["file"][0][0]
    assert files_in(storage) == [] and docs.DocumentVersion.select().count() == 0


@pytest.mark.parametrize("raw,shown", [
    ("../../etc/passwd", "passwd.txt"), ("..\\..\\windows\\system.ini", "system.ini.txt"),
    ("/abs/path/../.hidden.txt", "hidden.txt"), ("a\x00b<>:|?*.txt", "ab.txt"), ("", None), ("...", "document.txt"),
    ("名" * 300 + ".txt", "名" * 116 + ".txt"), ("\u202eevil.txt", "evil.txt"),
])
def test_names_are_sanitised_for_display_and_never_used_on_disk(project_world, storage, raw, shown):
    if shown is None:
        with pytest.raises(ValidationError):
            upload(project_world, storage, b"root:x:0:0\n", raw)
        return
    document = upload(project_world, storage, b"root:x:0:0\n", raw)
    version = document.versions.get()
    assert version.filename == shown
    (path,) = files_in(storage)
    assert path.is_relative_to(storage) and path.name == version.stored_name
    assert not (storage.parent / "etc").exists()


def test_a_failed_database_write_removes_the_file(project_world, storage, monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("disk full in the database")

    monkeypatch.setattr(docs.audit, "record", boom)
    with pytest.raises(RuntimeError):
        upload(project_world, storage, PDF, "方案.pdf")
    assert files_in(storage) == [] and docs.Document.select().count() == 0


def test_a_failed_file_move_leaves_no_rows(project_world, storage, monkeypatch):
    def boom(src, dst):
        raise OSError("no space left on device")

    monkeypatch.setattr(docs.os, "replace", boom)
    with pytest.raises(OSError):
        upload(project_world, storage, PDF, "方案.pdf")
    assert files_in(storage) == [] and docs.Document.select().count() == 0
    assert AuditEvent.select().where(AuditEvent.kind == "document.uploaded").count() == 0


def test_versions_are_kept_and_listed_newest_first(project_world, storage):
    w = project_world
    document = upload(w, storage, PDF, "方案v1.pdf", title="实施方案")
    docs.upload_version(w.users["rep_a"], storage, document, io.BytesIO(PDF + b"% v2\n"), "方案v2.pdf",
                        {"note": "改了报价"})
    docs.upload_version(w.users["mgr_a"], storage, document, io.BytesIO(office()), "方案v3.docx", {})
    (listed,) = docs.documents_of(customer=w.customers["a"])
    assert listed.title == "实施方案" and listed.latest_version == 3
    assert [(v.number, v.filename, v.note) for v in listed.all_versions] == [
        (3, "方案v3.docx", ""), (2, "方案v2.pdf", "改了报价"), (1, "方案v1.pdf", "")]
    assert len(files_in(storage)) == 3
    _doc, latest = docs.get_version(w.users["rep_a"], document.id)
    assert latest.number == 3
    _doc, first = docs.get_version(w.users["rep_a"], document.id, 1)
    assert docs.read_bytes(storage, first) == PDF
    with pytest.raises(ValidationError):
        docs.upload_version(w.users["rep_a"], storage, document, io.BytesIO(EXE), "v4.pdf", {})
    assert docs.Document.get_by_id(document.id).latest_version == 3 and len(files_in(storage)) == 3
    assert AuditEvent.select().where(AuditEvent.kind == "document.version_uploaded").count() == 2


def test_who_may_upload_and_download(project_world, storage):
    w = project_world
    customer_doc = upload(w, storage, PDF, "客户资料.pdf")
    for who in ("rep_b", "mgr_b", "marketing", "rep_a2"):
        with pytest.raises(NotFound):
            upload(w, storage, PDF, "x.pdf", who=who)
        with pytest.raises(NotFound):
            docs.get_version(w.users[who], customer_doc.id)
    docs.get_version(w.users["engineer"], customer_doc.id)  # service reads every customer file
    project = approved(w)
    project_doc = upload(w, storage, PDF, "项目合同.pdf", target=project, kind="contract")
    with pytest.raises(NotFound):
        docs.get_version(w.users["engineer"], project_doc.id)  # not on the team (yet)
    pj.add_member(w.users["mgr_a"], project, {"user_id": str(w.users["engineer"].id), "role": "engineer"})
    docs.get_version(w.users["engineer"], project_doc.id)
    upload(w, storage, PDF, "实施记录.pdf", who="engineer", target=pj.Project.get_by_id(project.id))
    pending = pj.propose_project(w.users["rep_a"], w.customers["a"], {"name": "待批", **{
        f"answer_{c.id}": "yes" for c in w.criteria}})
    with pytest.raises(Exception, match="approved project"):
        upload(w, storage, PDF, "x.pdf", target=pending)


# ---- over HTTP ----------------------------------------------------------------------------------

@pytest.fixture
def http_storage(app):
    path = Path(app.instance_path) / "documents"
    before = set(files_in(path))
    yield path, before


def post_file(client, url, data, filename, **fields):
    return client.post(url, {"file": (io.BytesIO(data), filename), "kind": "proposal", **fields}, htmx=True,
                       content_type="multipart/form-data")


def test_upload_and_download_over_http(client, project_world, http_storage):
    w = project_world
    storage, before = http_storage
    client.login(w.users["rep_a"])
    url = f"/customers/{w.customers['a'].id}/documents"
    r = post_file(client, url, EXE, "合同.pdf")
    assert r.status_code == 200 and "program, not a document" in body(r)
    r = post_file(client, url, b"root:x:0:0\n", "../../etc/passwd")
    assert r.status_code == 200 and "passwd.txt" in body(r) and "Document saved." in body(r)
    document = docs.Document.get()
    r = client.get(f"/documents/{document.id}/download")
    assert r.status_code == 200 and r.data == b"root:x:0:0\n"
    assert "attachment" in r.headers["Content-Disposition"] and "passwd.txt" in r.headers["Content-Disposition"]
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    r = client.post(f"/documents/{document.id}/versions", {"file": (io.BytesIO(b"root:x:0:0\nv2\n"), "passwd.txt")},
                    htmx=True, content_type="multipart/form-data")
    assert r.status_code == 200 and "2 versions" in body(r)
    assert client.get(f"/documents/{document.id}/versions/1/download").data == b"root:x:0:0\n"
    assert client.get(f"/documents/{document.id}/versions/9/download").status_code == 404
    tab = body(client.get(f"/customers/{w.customers['a'].id}?tab=documents", htmx=True))
    assert "passwd.txt" in tab
    client.login(w.users["rep_b"])
    assert client.get(f"/documents/{document.id}/download").status_code == 404
    assert post_file(client, url, PDF, "x.pdf").status_code == 404
    new = set(files_in(storage)) - before
    assert len(new) == 2 and all(p.is_relative_to(storage) for p in new)
    for p in new:
        p.unlink()


def test_an_upload_over_the_request_limit_is_a_clear_413(app, client, project_world):
    w = project_world
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    client.login(w.users["rep_a"])
    r = post_file(client, f"/customers/{w.customers['a'].id}/documents", PDF + b"0" * (128 * 1024), "big.pdf")
    assert r.status_code == 413 and "too large" in body(r)
    r = client.post(f"/customers/{w.customers['a'].id}/documents",
                    {"file": (io.BytesIO(PDF + b"0" * (128 * 1024)), "big.pdf")}, content_type="multipart/form-data")
    assert r.status_code == 413 and "too large" in body(r)
    assert docs.Document.select().count() == 0


def test_the_document_limit_answers_inline(app, client, project_world, http_storage):
    w = project_world
    storage, before = http_storage
    app.config["DOCUMENT_MAX_BYTES"] = 1024
    client.login(w.users["rep_a"])
    r = post_file(client, f"/customers/{w.customers['a'].id}/documents", PDF + b"0" * 4096, "big.pdf")
    assert r.status_code == 200 and "larger than" in body(r)
    assert set(files_in(storage)) == before and not any(p.name.endswith(".part") for p in files_in(storage))
