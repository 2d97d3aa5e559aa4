"""Documents (文档): proposals, quotations, contracts attached to a customer, a project or an
opportunity, with every version kept.

Files live on disk under a storage folder (the app's instance/documents) with a random hashed
name; the name the user gave is sanitised and kept for display and download only. The type is
checked by content (magic bytes), not by the name. A version is written to a temporary file
first and moved into place inside the database transaction, so a failure leaves neither a row
without a file nor a file without a row.
"""
import hashlib
import io
import os
import re
import secrets
import unicodedata
import zipfile
from pathlib import Path

import peewee as pw

from models import audit, clock
from models.base import BaseModel, db
from models.customers import Customer
from models.fields import clean_text, id_or_none
from models.errors import N_, DomainError, NotFound, ValidationError
from models.opportunities import Opportunity
from models.permissions import require
from models.projects import Project
from models.users import User

KINDS = ("proposal", "quotation", "contract", "other")
KIND_LABELS = {"proposal": N_("Proposal"), "quotation": N_("Quotation"), "contract": N_("Contract"),
               "other": N_("Other document")}
MAX_BYTES = 20 * 1024 * 1024
CHUNK = 1024 * 1024
# Detected type -> (extension, mimetype, label)
TYPES = {
    "pdf": (".pdf", "application/pdf", "PDF"),
    "docx": (".docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "Word"),
    "xlsx": (".xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "Excel"),
    "pptx": (".pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation", "PowerPoint"),
    "png": (".png", "image/png", "PNG"),
    "jpeg": (".jpg", "image/jpeg", "JPEG"),
    "gif": (".gif", "image/gif", "GIF"),
    "webp": (".webp", "image/webp", "WebP"),
    "txt": (".txt", "text/plain; charset=utf-8", "Text"),
}
EXTENSIONS = {".pdf": "pdf", ".docx": "docx", ".xlsx": "xlsx", ".pptx": "pptx", ".png": "png", ".jpg": "jpeg",
              ".jpeg": "jpeg", ".gif": "gif", ".webp": "webp", ".txt": "txt", ".csv": "txt", ".md": "txt"}


class Document(BaseModel):
    """One document (its title and kind) with its versions; attached to a customer and optionally
    to one of its projects or opportunities."""
    customer = pw.ForeignKeyField(Customer, backref="documents", on_delete="CASCADE", index=False)
    project = pw.ForeignKeyField(Project, null=True, backref="documents", on_delete="CASCADE", index=False)
    opportunity = pw.ForeignKeyField(Opportunity, null=True, backref="documents", on_delete="CASCADE", index=False)
    title = pw.CharField(max_length=120)
    kind = pw.CharField(max_length=12)
    created_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
    created_at = pw.DateTimeField()
    updated_at = pw.DateTimeField()
    latest_version = pw.IntegerField(default=0)

    class Meta:
        indexes = ((("customer", "id"), False), (("project", "id"), False), (("opportunity", "id"), False))


class DocumentVersion(BaseModel):
    document = pw.ForeignKeyField(Document, backref="versions", on_delete="CASCADE", index=False)
    number = pw.IntegerField()
    filename = pw.CharField(max_length=160)  # sanitised, for display and the download name only
    stored_name = pw.CharField(max_length=64, unique=True)  # random hex: the file under the storage folder
    size = pw.IntegerField()
    file_type = pw.CharField(max_length=8)
    sha256 = pw.CharField(max_length=64)
    note = pw.CharField(max_length=200, default="")
    uploaded_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", index=False, backref="+")
    uploaded_at = pw.DateTimeField()

    class Meta:
        indexes = ((("document", "number"), True),)

    @property
    def mimetype(self):
        return TYPES[self.file_type][1]

    @property
    def type_label(self):
        return TYPES[self.file_type][2]


# ---- checks on the file ---------------------------------------------------------------------------

_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*\u202a-\u202e\u2066-\u2069]')


def sanitize_filename(raw, max_len=120):
    """The last path segment of what the browser sent, without control, bidi or path characters and
    leading dots; never empty. For display and the download name: the file on disk never uses it."""
    name = unicodedata.normalize("NFC", str(raw or ""))
    name = re.split(r"[/\\]", name)[-1]
    name = _UNSAFE.sub("", name).strip().lstrip(".").strip()
    name = " ".join(name.split())
    if len(name) > max_len:
        stem, ext = os.path.splitext(name)
        ext = ext[:10]
        name = stem[: max_len - len(ext)] + ext
    return name or "document"


def _zip_kind(head_path):
    """docx / xlsx / pptx for an Office Open XML package, else None (any other zip is refused)."""
    try:
        with zipfile.ZipFile(head_path) as z:
            names = set(z.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return None
    if "[Content_Types].xml" not in names:
        return None
    for prefix, kind in (("word/", "docx"), ("xl/", "xlsx"), ("ppt/", "pptx")):
        if any(n.startswith(prefix) for n in names):
            return kind
    return None


def _looks_like_text(sample):
    if b"\x00" in sample:
        return False
    for encoding in ("utf-8", "gb18030"):
        try:
            text = sample.decode(encoding)
        except UnicodeDecodeError:
            # a multi-byte character cut at the end of the sample is fine
            try:
                text = sample[:-3].decode(encoding)
            except UnicodeDecodeError:
                continue
        controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\n\r\f")
        return controls == 0
    return False


def detect_type(path):
    """The file's type from its content (magic bytes), or None when it is none of the allowed ones."""
    with open(path, "rb") as f:
        head = f.read(4096)
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        return _zip_kind(path)
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head.startswith(b"MZ") or head.startswith(b"\x7fELF"):
        return None
    if head and _looks_like_text(head):
        return "txt"
    return None


def _refusal(detected_program):
    if detected_program:
        return N_("This file is a program, not a document: only PDF, Word, Excel, PowerPoint, images and text files are accepted.")
    return N_("Only PDF, Word, Excel, PowerPoint (docx, xlsx, pptx), images (PNG, JPEG, GIF, WebP) and text files are accepted.")


# ---- storage ----------------------------------------------------------------------------------------

def _receive(stream, storage, max_bytes):
    """Copy the upload to a temporary file in the storage folder, at most `max_bytes`.
    Returns (temp path, size, sha256) or raises ValidationError (the temp file removed)."""
    storage.mkdir(parents=True, exist_ok=True)
    tmp = storage / f".upload-{secrets.token_hex(12)}.part"
    digest, size = hashlib.sha256(), 0
    try:
        with open(tmp, "xb") as out:
            while True:
                chunk = stream.read(CHUNK)
                if not chunk:
                    break
                size += len(chunk)
                if size > max_bytes:
                    limit = (f"{max_bytes // (1024 * 1024)} MB" if max_bytes >= 1024 * 1024
                             else f"{max_bytes // 1024} KB")
                    raise ValidationError({"file": [(N_("The file is larger than %(limit)s."), {"limit": limit})]})
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if size == 0:
            raise ValidationError({"file": [(N_("The file is empty."), {})]})
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp, size, digest.hexdigest()


def _checked_name(filename, kind, tmp):
    """The display name with an extension that agrees with the content; ValidationError otherwise."""
    name = sanitize_filename(filename)
    stem, ext = os.path.splitext(name)
    ext = ext.lower()
    if kind is None:
        with open(tmp, "rb") as f:
            program = f.read(4).startswith((b"MZ", b"\x7fELF"))
        raise ValidationError({"file": [(_refusal(program), {})]})
    if ext in EXTENSIONS:
        if EXTENSIONS[ext] != kind:
            raise ValidationError({"file": [(N_("The name ends in %(ext)s but the content is %(type)s: rename the file or upload the right one."),
                                             {"ext": ext, "type": TYPES[kind][2]})]})
        return name
    return name + TYPES[kind][0]  # no or an unknown extension: the content decides


def path_of(storage, version):
    """Where a version's bytes are: always inside `storage`, named by the stored random name."""
    if not re.fullmatch(r"[0-9a-f]{64}", version.stored_name):
        raise NotFound()
    return Path(storage) / version.stored_name[:2] / version.stored_name


def _store(actor, storage, stream, filename, max_bytes, write_rows):
    """Receive, check and store one file; `write_rows(name, kind, size, sha, stored_name)` writes the
    rows inside the transaction. The file is moved into place before the commit and removed if the
    transaction fails; the temporary file never outlives the call."""
    storage = Path(storage)
    tmp, size, sha = _receive(stream, storage, max_bytes)
    final = None
    try:
        kind = detect_type(tmp)
        name = _checked_name(filename, kind, tmp)
        stored_name = hashlib.sha256(secrets.token_bytes(32) + sha.encode()).hexdigest()
        final = storage / stored_name[:2] / stored_name
        with db.atomic():
            result = write_rows(name, kind, size, sha, stored_name)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, final)
        return result
    except BaseException:
        tmp.unlink(missing_ok=True)
        if final is not None:
            final.unlink(missing_ok=True)
        raise


def _validate_meta(data, with_title=True):
    errors = {}
    out = {}
    if with_title:
        title = clean_text(data.get("title"), 120)
        if title is None:
            errors["title"] = [(N_("At most %(n)s characters."), {"n": 120})]
        out["title"] = title or ""
        kind = data.get("kind") or "other"
        if kind not in KINDS:
            errors["kind"] = [(N_("Choose one of the options."), {})]
        out["kind"] = kind
    note = clean_text(data.get("note"), 200)
    if note is None:
        errors["note"] = [(N_("At most %(n)s characters."), {"n": 200})]
    out["note"] = note or ""
    if errors:
        raise ValidationError(errors)
    return out


def _target(customer=None, project=None, opportunity=None):
    """(customer, project, opportunity, the permission to upload) for where a document goes."""
    if project is not None:
        return Customer.get_by_id(project.customer_id), project, None, ("project.work", project)
    if opportunity is not None:
        return Customer.get_by_id(opportunity.customer_id), None, opportunity, ("document.opportunity", opportunity)
    if customer is not None:
        return customer, None, None, ("customer.edit", customer)
    raise NotFound()


def upload_document(actor, storage, stream, filename, data, customer=None, project=None, opportunity=None,
                    max_bytes=MAX_BYTES):
    """A new document (version 1) on a customer, a project or an opportunity."""
    customer, project, opportunity, (action, obj) = _target(customer, project, opportunity)
    require(actor, action, obj)
    if project is not None and project.status != "approved":
        raise DomainError(N_("Only an approved project has a team, milestones, costs and documents."))
    meta = _validate_meta(data)
    if stream is None or not filename:
        raise ValidationError({"file": [(N_("Choose a file."), {})]})
    now = clock.now()

    def write(name, kind, size, sha, stored_name):
        title = meta["title"] or os.path.splitext(name)[0][:120]
        document = Document.create(customer=customer, project=project, opportunity=opportunity, title=title,
                                   kind=meta["kind"], created_by=actor, created_at=now, updated_at=now,
                                   latest_version=1)
        DocumentVersion.create(document=document, number=1, filename=name, stored_name=stored_name, size=size,
                               file_type=kind, sha256=sha, note=meta["note"], uploaded_by=actor, uploaded_at=now)
        audit.record("document.uploaded", actor, customer, document_id=document.id, title=title, document_kind=meta["kind"],
                     filename=name, size=size, version=1, project_id=project.id if project else None,
                     opportunity_id=opportunity.id if opportunity else None)
        return document

    return _store(actor, storage, stream, filename, max_bytes, write)


def upload_version(actor, storage, document, stream, filename, data, max_bytes=MAX_BYTES):
    """A new version of a document; the earlier versions stay downloadable."""
    require(actor, "document.edit", document)
    meta = _validate_meta(data, with_title=False)
    if stream is None or not filename:
        raise ValidationError({"file": [(N_("Choose a file."), {})]})
    now = clock.now()

    def write(name, kind, size, sha, stored_name):
        number = (DocumentVersion.select(pw.fn.MAX(DocumentVersion.number))
                  .where(DocumentVersion.document == document.id).scalar() or 0) + 1
        version = DocumentVersion.create(document=document, number=number, filename=name, stored_name=stored_name,
                                         size=size, file_type=kind, sha256=sha, note=meta["note"], uploaded_by=actor,
                                         uploaded_at=now)
        Document.update(latest_version=number, updated_at=now).where(Document.id == document.id).execute()
        document.latest_version, document.updated_at = number, now
        audit.record("document.version_uploaded", actor, document.customer_id, document_id=document.id,
                     title=document.title, filename=name, size=size, version=number,
                     project_id=document.project_id)
        return version

    return _store(actor, storage, stream, filename, max_bytes, write)


def get_document(document_id):
    pk = id_or_none(document_id)
    document = Document.get_or_none(Document.id == pk) if pk else None
    if document is None:
        raise NotFound()
    return document


def get_version(actor, document_id, number=None):
    """A version the actor may download (the latest without a number), else NotFound."""
    document = get_document(document_id)
    require(actor, "document.view", document)
    q = DocumentVersion.select().where(DocumentVersion.document == document.id)
    if number is None:
        q = q.order_by(DocumentVersion.number.desc())
    else:
        q = q.where(DocumentVersion.number == (id_or_none(number) or 0))
    version = q.first()
    if version is None:
        raise NotFound()
    return document, version


def documents_of(customer=None, project=None, opportunity=None, limit=100):
    """Documents with all their versions (newest first), two queries."""
    q = Document.select()
    if project is not None:
        q = q.where(Document.project == project.id)
    elif opportunity is not None:
        q = q.where(Document.opportunity == opportunity.id)
    else:
        q = q.where(Document.customer == customer.id)
    docs = list(q.order_by(Document.updated_at.desc(), Document.id.desc()).limit(limit))
    versions = {}
    if docs:
        names = {}
        rows = list(DocumentVersion.select().where(DocumentVersion.document.in_([d.id for d in docs]))
                    .order_by(DocumentVersion.number.desc()))
        ids = {v.uploaded_by_id for v in rows if v.uploaded_by_id}
        if ids:
            names = {u.id: u.full_name for u in User.select(User.id, User.full_name).where(User.id.in_(ids))}
        for v in rows:
            v.uploader = names.get(v.uploaded_by_id, "")
            versions.setdefault(v.document_id, []).append(v)
    for d in docs:
        d.all_versions = versions.get(d.id, [])
    return docs


def read_bytes(storage, version):
    """The stored bytes (for tests and integrity checks)."""
    return path_of(storage, version).read_bytes()


def as_stream(data):
    return io.BytesIO(data)
