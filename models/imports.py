"""Customer import (issue 14 point 7): an uploaded sheet, its column mapping, a dry run that classifies
every row (new / duplicate of #id / invalid), then a background job that writes in chunks.

The job's state is its `ImportJob` row (state, progress, counts, heartbeat); the uploaded bytes are an
`ImportFile` row, so a job resumes after a restart from its database alone (`resume_stalled`). Every chunk
is one transaction that writes its rows, its rejected rows and the job's progress together, and every row
inside it is a savepoint: a row that fails leaves nothing behind and goes to the rejected rows.

Rows are checked with the customer validation (`customers.validate_customer`, `validate_contact`) and the
duplicate rules (`duplicates.normalize_name`, `normalize_phone`, the credit code) — the look-ups batched
per chunk, never one query per row.
"""
import datetime as dt
import logging
import threading
import unicodedata
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import SimpleNamespace

import peewee as pw

from models import audit, clock, hooks, leads, pools, search
from models.base import BaseModel, JSONField, bulk_insert, db, is_sqlite
from models.customers import (BUSINESS_MODELS, BUSINESS_MODEL_LABELS, CHANNELS, CHANNEL_LABELS, GRADE_OF_STAGE,
                              MARKETING_STAGES, SIZES, SIZE_LABELS, SOURCES, SOURCE_LABELS, STAGES, Contact,
                              CustomField, Customer, CustomerGroup, Industry, StageChange,
                              CustomValue, completeness_weights, compute_completeness, custom_values, validate_contact,
                              validate_customer,
                              write_custom_values)
from models.duplicates import REASON_ORDER
from models.errors import N_, DomainError, FieldErrors, NotFound, ValidationError
from models.fields import clean_text, credit_code_error, to_halfwidth
from models.import_files import HEADER_SEARCH, cell_date, cell_text, first_rows, open_sheet
from models.permissions import can, require
from models.user_tables import Region, User

log = logging.getLogger("kehu")

CHUNK = 2000  # rows per transaction: fewer commits write the customer indexes' pages fewer times
BULK_CHECKPOINT_PAGES = 20000  # SQLite: the WAL is checkpointed every ~80 MB while an import writes
STALLED_SECONDS = 120
PREVIEW_ROWS = 8
SAMPLES = 50  # rows of each class the dry run keeps to show
STATES = ("mapping", "checking", "checked", "importing", "done", "failed")
RUNNING = ("checking", "importing")
CLASSES = ("credit_code", "phone", "name")  # the duplicate classes, strongest first (duplicates.REASON_ORDER)
DESTINATIONS = ("pool", "routing")  # where new customers go
CHOICES = {"credit_code": ("skip", "update"), "phone": ("skip", "update", "create"),
           "name": ("skip", "update", "create")}


class ImportJob(BaseModel):
    created_by = pw.ForeignKeyField(User, on_delete="CASCADE", index=False)
    created_at = pw.DateTimeField()
    file_name = pw.CharField(max_length=200)
    kind = pw.CharField(max_length=5)  # xlsx, csv
    encoding = pw.CharField(max_length=20, default="")  # a CSV's text encoding as detected or chosen
    header_row = pw.SmallIntegerField(default=1)
    mapping = JSONField(default=dict)  # {"<column index>": "<target>"}
    options = JSONField(default=dict)  # defaults, stage, the choice per duplicate class, reason
    state = pw.CharField(max_length=10, default="mapping")
    total = pw.IntegerField(default=0)  # data rows below the header (known after the dry run)
    done = pw.IntegerField(default=0)  # rows the running phase has finished
    summary = JSONField(default=dict)  # the dry run: counts per class and sample rows
    created = pw.IntegerField(default=0)
    updated = pw.IntegerField(default=0)
    skipped = pw.IntegerField(default=0)
    rejected = pw.IntegerField(default=0)
    heartbeat_at = pw.DateTimeField(null=True)
    finished_at = pw.DateTimeField(null=True)
    error = JSONField(default=dict)

    class Meta:
        indexes = ((("created_by", "id"), False), (("state",), False))

    @property
    def running(self):
        return self.state in RUNNING

    @property
    def percent(self):
        return 100 if self.state == "done" else (100 * self.done // self.total if self.total else 0)


class ImportFile(BaseModel):
    """The uploaded bytes, kept apart from the job row so that polling the job never loads them."""
    job = pw.ForeignKeyField(ImportJob, unique=True, on_delete="CASCADE", backref="+")
    data = pw.BlobField()


class ImportRejection(BaseModel):
    """A row the import did not write (invalid, a skipped duplicate, a failed write): the result file."""
    job = pw.ForeignKeyField(ImportJob, on_delete="CASCADE", index=False, backref="+")
    line = pw.IntegerField()  # the sheet's row number
    cells = JSONField(default=list)
    outcome = pw.CharField(max_length=10)  # invalid, skipped, failed
    problems = JSONField(default=list)  # [[field, message, params], ...]

    class Meta:
        indexes = ((("job", "line"), False),)


# ---- targets: the fields a column can fill, and the headers that name them ------------------------

TARGETS = (
    ("name", N_("Company name")), ("short_name", N_("Short name")), ("credit_code", N_("Credit code")),
    ("industry", N_("Industry")), ("region", N_("Region")), ("city", N_("City")), ("address", N_("Address")),
    ("phone", N_("Phone")), ("website", N_("Website")), ("size", N_("Size")),
    ("business_model", N_("Business model")), ("source", N_("Source")), ("first_channel", N_("First channel")),
    ("tags", N_("Tags")), ("group_name", N_("Group")), ("contact_name", N_("Contact")),
    ("contact_title", N_("Contact's title")), ("contact_mobile", N_("Contact's mobile")),
    ("contact_email", N_("Contact's e-mail")),
)
ALIASES = {
    "name": ("客户名称", "公司名称", "企业名称", "单位名称", "客户", "公司", "名称", "company", "companyname",
             "customer", "customername", "name"),
    "short_name": ("简称", "客户简称", "公司简称", "shortname"),
    "credit_code": ("统一社会信用代码", "社会信用代码", "信用代码", "税号", "creditcode", "uscc"),
    "industry": ("行业", "所属行业", "industry"),
    "region": ("区域", "大区", "地区", "所属区域", "region"),
    "city": ("城市", "所在城市", "city"),
    "address": ("地址", "详细地址", "公司地址", "address"),
    "phone": ("电话", "公司电话", "座机", "联系电话", "总机", "phone", "telephone", "tel"),
    "website": ("网址", "网站", "官网", "website", "url", "web"),
    "size": ("规模", "人员规模", "企业规模", "员工人数", "size", "staff"),
    "business_model": ("业务模式", "经营模式", "客户类型", "businessmodel"),
    "source": ("来源", "客户来源", "source"),
    "first_channel": ("首次渠道", "渠道", "firstchannel", "channel"),
    "tags": ("标签", "tags", "tag"),
    "group_name": ("集团", "所属集团", "group"),
    "contact_name": ("联系人", "联系人姓名", "姓名", "contact", "contactname", "contactperson"),
    "contact_title": ("职务", "职位", "联系人职务", "title", "jobtitle", "position"),
    "contact_mobile": ("手机", "手机号", "手机号码", "联系人手机", "mobile", "cell", "mobilephone"),
    "contact_email": ("邮箱", "电子邮件", "电子邮箱", "email", "e-mail", "mail"),
}
# The vocabularies as they may be typed: the key, the English label, the Chinese label (as on screen).
ZH_LABELS = {
    "business_model": {"consumer": "消费品", "industrial": "工业品", "project": "项目型", "key_account": "大客户"},
    "source": {"media": "媒介", "website": "网站", "event": "活动", "referral": "推荐", "rep_developed": "业务员开发",
               "inbound_call": "客户来电", "import": "导入"},
    "first_channel": {"phone": "电话", "fax": "传真", "email": "电子邮件", "sms": "短信", "visit": "拜访", "media": "媒介"},
    "size": {"micro": "20 人以下", "small": "20–99 人", "medium": "100–499 人", "large": "500–999 人",
             "xlarge": "1000 人及以上"},
}
VOCABULARIES = {"business_model": (BUSINESS_MODELS, BUSINESS_MODEL_LABELS), "source": (SOURCES, SOURCE_LABELS),
                "first_channel": (CHANNELS, CHANNEL_LABELS), "size": (SIZES, SIZE_LABELS)}


def _key(text):
    """A header or a choice as compared: half-width, lower case, without spaces, punctuation or a '*'."""
    text = unicodedata.normalize("NFKC", str(text or "")).lower()
    return "".join(ch for ch in text if unicodedata.category(ch)[0] in "LN")


@dataclass
class Lookups:
    """What a row's text is resolved against, read once per job (or chunk), not once per row."""
    custom: list
    industries: dict
    regions: dict
    vocab: dict
    weights: dict = None  # the admin's completeness weights (customers.completeness_weights)

    @classmethod
    def load(cls):
        industries, regions = {}, {}
        for i in Industry.select():
            for text in (i.code, i.name_zh, i.name_en):
                industries.setdefault(_key(text), i.id)
        for r in Region.select():
            for text in (r.code, r.name_zh, r.name_en):
                regions.setdefault(_key(text), r.id)
        vocab = {}
        for name, (keys, labels) in VOCABULARIES.items():
            vocab[name] = {}
            for k in keys:
                for text in (k, labels[k], ZH_LABELS[name].get(k, "")):
                    if text:
                        vocab[name][_key(text)] = k
        custom = list(CustomField.select().where(CustomField.active == True).order_by(CustomField.position))  # noqa: E712
        return cls(custom, industries, regions, vocab, completeness_weights())


def targets(lookups=None):
    """(key, label) of every field a column can fill: the customer's, the first contact's, the custom fields."""
    lookups = lookups or Lookups.load()
    return list(TARGETS) + [("custom_" + f.key, f) for f in lookups.custom]


def guess_header_row(rows):
    """The 1-based row among the first ones whose cells name the most fields (1 when none does)."""
    best, best_hits = 1, 0
    names = {a for aliases in ALIASES.values() for a in aliases}
    for number, row in enumerate(rows[:HEADER_SEARCH], start=1):
        hits = sum(1 for cell in row if _key(cell_text(cell)) in names)
        if hits > best_hits:
            best, best_hits = number, hits
    return best


def auto_mapping(header, lookups):
    """{column index: target} from the header cells: a known Chinese or English name, a custom field's label
    or key. A target is taken once (the first column naming it)."""
    names = {}
    for target, aliases in ALIASES.items():
        for alias in aliases:
            names.setdefault(_key(alias), target)
    for f in lookups.custom:
        for text in (f.key, f.label_zh, f.label_en):
            names.setdefault(_key(text), "custom_" + f.key)
    for target, label in TARGETS:
        names.setdefault(_key(label), target)
    out, taken = {}, set()
    for index, cell in enumerate(header):
        target = names.get(_key(cell_text(cell)))
        if target and target not in taken:
            out[index] = target
            taken.add(target)
    return out


# ---- one row: from cells to checked values ------------------------------------------------------

@dataclass
class Row:
    line: int  # the sheet's row number
    cells: list
    status: str = "new"  # new, duplicate, invalid, empty
    values: dict = None  # the customer's column values, validated
    contact: dict = None  # the first contact's values, validated (or None)
    problems: list = field(default_factory=list)  # [(field, message, params)]
    reason: str = ""  # the duplicate class (credit_code, phone, name)
    match_id: int = None  # the existing customer it duplicates
    match_line: int = None  # or the earlier row of the same file

    @property
    def keys(self):
        v = self.values
        out = []
        if v.get("credit_code"):
            out.append(("credit_code", v["credit_code"]))
        for phone in (v.get("phone_norm"), (self.contact or {}).get("mobile_norm")):
            if phone and len(phone) >= 7:
                out.append(("phone", phone))
        if len(v.get("name_norm") or "") >= 2:
            out.append(("name", v["name_norm"]))
        return out


def check_cells(line, cells, mapping, lookups, defaults):
    """A Row with its values validated by the customer and contact rules, or its problems."""
    row = Row(line, cells)
    texts = {}
    for index, target in mapping.items():
        raw = cells[index] if index < len(cells) else ""
        texts[target] = raw
    if not any(cell_text(c) for c in cells):
        row.status = "empty"
        return row
    e = FieldErrors()
    data = {"business_model": defaults.get("business_model") or "consumer", "source": "import"}
    contact = {}
    custom_kinds = {"custom_" + f.key: f.kind for f in lookups.custom}
    for target, raw in texts.items():
        if custom_kinds.get(target) == "date":
            data[target] = cell_date(raw)
            continue
        text = cell_text(raw)
        if target in VOCABULARIES:
            if text:
                value = lookups.vocab[target].get(_key(text))
                if value is None:
                    e.add(target, N_("“%(value)s” is not one of the options."), value=text[:40])
                else:
                    data[target] = value
        elif target in ("industry", "region"):
            if text:
                pk = (lookups.industries if target == "industry" else lookups.regions).get(_key(text))
                if pk is None:
                    e.add(target, N_("“%(value)s” is not one of the options."), value=text[:40])
                data[target + "_pk"] = pk
        elif target.startswith("contact_"):
            contact[target[len("contact_"):]] = text
        else:
            data[target] = text
    # The look-ups the form's validation would make one row at a time are made here for the whole
    # chunk: the credit code's check character below, its clash with the duplicate classes.
    code = to_halfwidth(data.pop("credit_code", "") or "").strip().upper().replace(" ", "")
    if code:
        message = credit_code_error(code)
        if message:
            e.add("credit_code", message)
    try:
        values = _validate_with(lookups, data)
    except ValidationError as exc:
        values = None
        for name, problems in exc.errors.items():
            for message, params in problems:
                e.add(name, message, **params)
    if any(contact.values()):
        try:
            row.contact = validate_contact(None, contact)
        except ValidationError as exc:
            for name, problems in exc.errors.items():
                for message, params in problems:
                    e.add("contact_" + name, message, **params)
    if e:
        row.status = "invalid"
        row.problems = [(name, m, p) for name, problems in e.items() for m, p in problems]
        return row
    values["credit_code"] = code or None
    values["industry_id"] = data.get("industry_pk")
    values["region_id"] = data.get("region_pk")
    row.values = values
    return row


def _validate_with(lookups, data):
    """customers.validate_customer with the custom fields read once per job (the form reads them per call)."""
    return validate_customer(data, custom_fields=lookups.custom)


def classify(rows, seen=None):
    """Mark duplicates among checked rows: of an existing customer (one batched query per key kind for the
    whole chunk) or of an earlier row (`seen`: key -> line, kept across chunks by the dry run)."""
    seen = {} if seen is None else seen
    wanted = {kind: set() for kind in CLASSES}
    for row in rows:
        if row.status == "new":
            for kind, value in row.keys:
                wanted[kind].add(value)
    found = {kind: {} for kind in CLASSES}
    for chunk in _pieces(wanted["credit_code"]):
        for customer_id, code in _customers_by("credit_code", chunk):
            found["credit_code"].setdefault(code, customer_id)
    for chunk in _pieces(wanted["phone"]):
        for customer_id, phone in _customers_by("phone_norm", chunk):
            found["phone"].setdefault(phone, customer_id)
        for column in ("mobile_norm", "phone_norm"):
            for customer_id, phone in sorted(_contacts_by(column, chunk)):
                found["phone"].setdefault(phone, customer_id)
    for chunk in _pieces(wanted["name"]):
        for customer_id, name in _customers_by("name_norm", chunk):
            found["name"].setdefault(name, customer_id)
    for row in rows:
        if row.status != "new":
            continue
        keys = sorted(row.keys, key=lambda k: REASON_ORDER.index(k[0]))
        for kind, value in keys:
            if value in found[kind]:
                row.status, row.reason, row.match_id = "duplicate", kind, found[kind][value]
                break
            if (kind, value) in seen:
                row.status, row.reason, row.match_line = "duplicate", kind, seen[(kind, value)]
                break
        for key in row.keys:
            seen.setdefault(key, row.line)
    return rows


def _customers_by(column, values):
    """(id, value) of the customers whose `column` is one of `values`, lowest id first: plain SQL, since
    building a peewee IN expression of 400 values costs more than running it (once per key kind and chunk)."""
    marks = ", ".join([db.param] * len(values))
    table = Customer._meta.table_name
    return db.execute_sql(f'SELECT id, {column} FROM "{table}" WHERE {column} IN ({marks}) ORDER BY id',
                          list(values)).fetchall()


def _contacts_by(column, values):
    """(customer id, phone) of the contacts whose `column` is one of `values`. On SQLite the index is named:
    most contacts have no office phone, and with ANALYZE's statistics the planner would scan the table
    rather than use an index where one value ("") fills nearly every row."""
    hint = f" INDEXED BY contact_{column}" if is_sqlite() else ""
    marks = ", ".join([db.param] * len(values))
    return db.execute_sql(f'SELECT customer_id, {column} FROM contact{hint} WHERE {column} IN ({marks})',
                          list(values)).fetchall()


def _pieces(values, size=400):
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start:start + size]


# ---- the job's life: upload, mapping, dry run, run -----------------------------------------------

def create_job(actor, file_name, data):
    """Keep an uploaded sheet as a job waiting for its column mapping. The file is opened and its first
    rows read here, so a file that cannot be imported is refused before anything is kept."""
    require(actor, "import.run")
    sheet = open_sheet(data, file_name)
    rows = first_rows(sheet, HEADER_SEARCH)
    if not any(cell_text(c) for row in rows for c in row):
        raise DomainError(N_("The file is empty."))
    lookups = Lookups.load()
    header_row = guess_header_row(rows)
    mapping = auto_mapping(rows[header_row - 1], lookups)
    name = clean_text(file_name, 200) or "upload"
    with db.atomic():
        job = ImportJob.create(created_by=actor, created_at=clock.now(), file_name=name, kind=sheet.kind,
                               encoding=sheet.encoding, header_row=header_row,
                               mapping={str(k): v for k, v in mapping.items()},
                               options={"business_model": "consumer", "stage": "target"})
        ImportFile.create(job=job, data=data)
        audit.record("import.uploaded", actor, None, job_id=job.id, file_name=name)
    return job


def sheet_of(job, encoding=None):
    blob = ImportFile.select(ImportFile.data).where(ImportFile.job == job.id).scalar()
    return open_sheet(bytes(blob), job.file_name, encoding if encoding is not None else job.encoding)


def preview(job, encoding=None, header_row=None):
    """(header, rows below it) for the mapping screen: the first rows as text."""
    rows = first_rows(sheet_of(job, encoding), (header_row or job.header_row) + PREVIEW_ROWS)
    header_row = header_row or job.header_row
    header = [cell_text(c) for c in rows[header_row - 1]] if len(rows) >= header_row else []
    body = [[cell_text(c) for c in row] for row in rows[header_row:]]
    width = max([len(header)] + [len(r) for r in body])
    return header + [""] * (width - len(header)), [r + [""] * (width - len(r)) for r in body]


def get_job(actor, job_id):
    job = ImportJob.get_or_none(ImportJob.id == job_id)
    if job is None:
        raise NotFound()
    require(actor, "import.view", job)
    return job


def check_job(actor, job, data):
    """Save the mapping (header row, encoding, column → field, defaults) and start the dry run."""
    require(actor, "import.view", job)
    e = FieldErrors()
    try:
        header_row = int(data.get("header_row") or 1)
        if not 1 <= header_row <= HEADER_SEARCH:
            raise ValueError
    except (TypeError, ValueError):
        e.add("header_row", N_("A whole number from %(lo)s to %(hi)s."), lo=1, hi=HEADER_SEARCH)
        header_row = 1
    encoding = data.get("encoding") or ""
    if job.kind != "csv" or encoding not in ("", "utf-8", "gb18030"):
        encoding = ""
    try:
        encoding = sheet_of(job, encoding).encoding  # a chosen encoding must fit the bytes; "" detects again
    except DomainError as exc:
        e.add("encoding", exc.message, **exc.params)
    lookups = Lookups.load()
    allowed = {key for key, _ in targets(lookups)}
    mapping, used = {}, {}
    for name, target in data.items():
        if not name.startswith("col_") or not target:
            continue
        try:
            index = int(name[4:])
        except ValueError:
            continue
        if target not in allowed or not 0 <= index < 200:
            e.add(name, N_("Choose one of the options."))
        elif target in used:
            e.add(name, N_("Column %(n)s already fills this field."), n=used[target] + 1)
        else:
            mapping[str(index)] = target
            used[target] = index
    if "name" not in used:
        e.add("mapping", N_("Choose the column with the company name."))
    business_model = data.get("business_model") or "consumer"
    if business_model not in BUSINESS_MODELS:
        e.add("business_model", N_("Choose one of the options."))
    e.raise_if_any()
    with db.atomic():
        changed = (ImportJob.update(header_row=header_row, encoding=encoding, mapping=mapping,
                                    options={**job.options, "business_model": business_model}, state="checking",
                                    done=0, total=0, summary={}, error={}, heartbeat_at=clock.now())
                   .where((ImportJob.id == job.id) & ImportJob.state.in_(("mapping", "checked", "failed")))
                   .execute())
        if not changed:
            raise DomainError(N_("This import is already running or finished."))
    return ImportJob.get_by_id(job.id)


def start_import(actor, job, data):
    """The choices after the dry run (per duplicate class: skip, update empty fields, or create anyway with a
    reason; the stage of new customers), then the import job."""
    require(actor, "import.view", job)
    e = FieldErrors()
    choices = {}
    for kind in CLASSES:
        choice = data.get("on_" + kind) or "skip"
        if choice not in CHOICES[kind]:
            e.add("on_" + kind, N_("Choose one of the options."))
        choices[kind] = choice
    reason = clean_text(data.get("reason"), 200)
    if reason is None:
        e.add("reason", N_("At most %(n)s characters."), n=200)
    elif not reason and "create" in choices.values():
        e.add("reason", N_("Say why these rows are different customers: the reason is kept with each of them."))
    stage = data.get("stage") or "target"
    allowed = STAGES if can(actor, "customer.any_stage") else MARKETING_STAGES + ("target",)
    if stage not in allowed:
        e.add("stage", N_("Choose one of the options."))
    destination = data.get("destination") or "pool"
    if destination not in destinations(actor):
        e.add("destination", N_("Choose one of the options."))
    e.raise_if_any()
    options = {**job.options, "choices": choices, "reason": reason or "", "stage": stage, "destination": destination}
    with db.atomic():
        changed = (ImportJob.update(options=options, state="importing", done=0, created=0, updated=0, skipped=0,
                                    rejected=0, error={}, heartbeat_at=clock.now())
                   .where((ImportJob.id == job.id) & (ImportJob.state == "checked")).execute())
        if not changed:
            raise DomainError(N_("Run the check first; an import runs once."))
        ImportRejection.delete().where(ImportRejection.job == job.id).execute()
        audit.record("import.started", actor, None, job_id=job.id, file_name=job.file_name, choices=choices,
                     reason=reason or "", stage=stage, destination=destination)
    return ImportJob.get_by_id(job.id)


def start_job(job_id):
    """Run the job's current phase in a thread of the server process (its state lives in the job row)."""
    thread = threading.Thread(target=run_job, args=(job_id,), name=f"import-{job_id}", daemon=True)
    thread.start()
    return thread


class _Superseded(Exception):
    """Another runner moved the job on (or it was reset): this one stops, its chunk rolled back."""


def run_job(job_id, chunk=None):
    """Run the dry run or the import of a job to its end; safe to call twice (the second runner stops at
    its first chunk) and after a crash (the import carries on after the last committed chunk)."""
    chunk = chunk or CHUNK
    opened = db.is_closed()
    if opened:
        db.connect()
    try:
        job = ImportJob.get_or_none(ImportJob.id == job_id)
        if job is None or job.state not in RUNNING:
            return job
        if job.state == "checking":
            _dry_run(job, chunk)
        else:
            _import(job, chunk)
    except _Superseded:
        pass
    except DomainError as exc:
        _fail(job_id, exc.message, exc.params)
    except Exception:  # noqa: BLE001  the row must say the job stopped; the log has the trace
        log.exception("import job %s failed", job_id)
        _fail(job_id, N_("The import stopped on an error. Every finished chunk is saved: start it again to go on."),
              {})
    finally:
        if opened:
            db.close()
    return ImportJob.get_or_none(ImportJob.id == job_id)


def _fail(job_id, message, params):
    with db.atomic():
        job = ImportJob.select(ImportJob.state).where(ImportJob.id == job_id).first()
        if job is None or job.state not in RUNNING:
            return
        ImportJob.update(state="failed", error={"message": message, "params": params, "phase": job.state}).where(
            (ImportJob.id == job_id) & (ImportJob.state == job.state)).execute()


def retry_job(actor, job):
    """A stopped job goes on: the import after its last committed chunk, the check from the top."""
    require(actor, "import.view", job)
    phase = (job.error or {}).get("phase")
    with db.atomic():
        changed = ImportJob.update(state=phase, error={}, heartbeat_at=clock.now()).where(
            (ImportJob.id == job.id) & (ImportJob.state == "failed")).execute() if phase in RUNNING else 0
        if not changed:
            raise DomainError(N_("This import is not stopped."))
    return ImportJob.get_by_id(job.id)


def reopen_mapping(actor, job):
    """Back from the dry run to the column mapping (an import that ran cannot go back)."""
    require(actor, "import.view", job)
    with db.atomic():
        changed = ImportJob.update(state="mapping", summary={}, done=0, total=0).where(
            (ImportJob.id == job.id) & (ImportJob.state == "checked")).execute()
        if not changed:
            raise DomainError(N_("This import is already running or finished."))
    return ImportJob.get_by_id(job.id)


def _data_rows(job, skip=0):
    """(line, cells) of the rows below the header, from the `skip`-th on."""
    for line, cells in enumerate(sheet_of(job).rows(), start=1):
        if line > job.header_row + skip:
            yield line, cells


def _chunks(job, size, skip=0):
    batch = []
    for item in _data_rows(job, skip):
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _mapping(job):
    return {int(k): v for k, v in job.mapping.items()}


def _dry_run(job, size):
    """Classify every row (nothing written but the job's summary); a restart runs it again from the top."""
    lookups, mapping = Lookups.load(), _mapping(job)
    counts = {"new": 0, "duplicate": 0, "invalid": 0, "empty": 0, **{"dup_" + k: 0 for k in CLASSES}}
    samples = {"new": [], "duplicate": [], "invalid": []}
    seen, done = {}, 0
    for batch in _chunks(job, size):
        rows = classify([check_cells(line, cells, mapping, lookups, job.options) for line, cells in batch], seen)
        for row in rows:
            counts[row.status] += 1
            if row.status == "duplicate":
                counts["dup_" + row.reason] += 1
            if row.status in samples and len(samples[row.status]) < SAMPLES:
                samples[row.status].append(_sample(row, mapping))
        done += len(batch)
        _progress(job, done, summary={"counts": counts, "samples": samples})
    with db.atomic():
        changed = ImportJob.update(state="checked", total=done, done=done, heartbeat_at=clock.now(),
                                   summary={"counts": counts, "samples": samples}).where(
            (ImportJob.id == job.id) & (ImportJob.state == "checking")).execute()
        if not changed:
            raise _Superseded()


def _sample(row, mapping):
    name_col = next((i for i, t in mapping.items() if t == "name"), None)
    name = cell_text(row.cells[name_col]) if name_col is not None and name_col < len(row.cells) else ""
    return {"line": row.line, "name": name[:100], "reason": row.reason, "match_id": row.match_id,
            "match_line": row.match_line, "problems": [[f, m, p] for f, m, p in row.problems][:5]}


def _progress(job, done, **fields):
    with db.atomic():
        changed = ImportJob.update(done=done, heartbeat_at=clock.now(), **fields).where(
            (ImportJob.id == job.id) & (ImportJob.state == job.state)).execute()
    if not changed:
        raise _Superseded()


def _import(job, size):
    """Write the rows chunk by chunk after the last committed one; each chunk one transaction with its
    rejected rows and the job's counters, each row a savepoint."""
    lookups, mapping = Lookups.load(), _mapping(job)
    actor = User.get_by_id(job.created_by_id)
    options = job.options
    with _bulk_writes():
        _import_chunks(job, size, lookups, mapping, actor, options)
    with db.atomic():
        ImportJob.update(state="done", done=ImportJob.total, finished_at=clock.now(), heartbeat_at=clock.now()).where(
            (ImportJob.id == job.id) & (ImportJob.state == "importing")).execute()
        finished = ImportJob.get_by_id(job.id)
        audit.record("import.finished", actor, None, job_id=job.id, file_name=job.file_name,
                     created=finished.created, updated=finished.updated, skipped=finished.skipped,
                     rejected=finished.rejected)


@contextmanager
def _bulk_writes():
    """SQLite: while the import writes, the WAL is checkpointed every BULK_CHECKPOINT_PAGES rather than every
    1,000 pages (each chunk dirties thousands of index pages, which a checkpoint after every commit would copy
    into the database file again and again); afterwards the connection's setting is restored and the WAL
    checkpointed once."""
    if not is_sqlite():
        yield
        return
    before = db.execute_sql("PRAGMA wal_autocheckpoint").fetchone()[0]
    db.execute_sql(f"PRAGMA wal_autocheckpoint={int(BULK_CHECKPOINT_PAGES)}")
    try:
        yield
    finally:
        db.execute_sql(f"PRAGMA wal_autocheckpoint={int(before)}")
        try:  # best effort: SQLite refuses while this connection still reads ("table is locked"); the
            db.execute_sql("PRAGMA wal_checkpoint(PASSIVE)")  # next automatic checkpoint does it then
        except pw.OperationalError:
            pass


def _import_chunks(job, size, lookups, mapping, actor, options):
    for batch in _chunks(job, size, skip=job.done):
        with db.atomic():
            current = ImportJob.select(ImportJob.state, ImportJob.done).where(ImportJob.id == job.id).first()
            if current is None or current.state != "importing":
                raise _Superseded()
            start = current.done
            if batch[0][0] != job.header_row + start + 1:  # the rows this runner holds are not the next ones
                raise _Superseded()
            rows = classify([check_cells(line, cells, mapping, lookups, options) for line, cells in batch])
            tally = write_rows(actor, job, rows, options, lookups)
            changed = ImportJob.update(done=start + len(batch), heartbeat_at=clock.now(),
                                       created=ImportJob.created + tally["created"],
                                       updated=ImportJob.updated + tally["updated"],
                                       skipped=ImportJob.skipped + tally["skipped"],
                                       rejected=ImportJob.rejected + tally["rejected"]).where(
                (ImportJob.id == job.id) & (ImportJob.done == start) & (ImportJob.state == "importing")).execute()
            if not changed:
                raise _Superseded()


def write_rows(actor, job, rows, options, lookups=None):
    """Inside the chunk's transaction: each row written whole or rejected with its reason. The new customers
    go in together (one savepoint); if that fails, one savepoint per row, so only the row that cannot be
    written is left out, and nothing of it."""
    lookups = lookups or Lookups.load()
    tally = {"created": 0, "updated": 0, "skipped": 0, "rejected": 0}
    now = clock.now()
    creates, updates, rejections = [], [], []
    choices = options.get("choices") or {}
    for row in rows:
        if row.status == "empty":
            continue
        if row.status == "invalid":
            rejections.append((row, "invalid", row.problems))
            continue
        choice = choices.get(row.reason, "skip") if row.status == "duplicate" else "create"
        if choice == "skip":
            rejections.append((row, "skipped", [(row.reason, *_duplicate_message(row))]))
        elif choice == "update":
            updates.append(row)
        else:
            creates.append(row)
    try:
        with db.atomic():
            tally["created"] += len(create_customers(actor, job, creates, options, now, lookups))
    except Exception as exc:  # noqa: BLE001  one bad row must not cost its chunk: find it row by row
        log.info("import job %s: a chunk failed as a whole (%r), writing its rows one by one", job.id, exc)
        for row in creates:
            try:
                with db.atomic():
                    tally["created"] += len(create_customers(actor, job, [row], options, now, lookups))
            except Exception as exc:  # noqa: BLE001
                rejections.append((row, "failed", [("", *_failure(job, row, exc))]))
    for row in updates:
        try:
            with db.atomic():  # a savepoint: this row whole, or nothing of it
                _update_empty_fields(actor, job, row, now)
            tally["updated"] += 1
        except _Refused as exc:
            rejections.append((row, "skipped", [(row.reason, exc.message, exc.params)]))
        except Exception as exc:  # noqa: BLE001
            rejections.append((row, "failed", [("", *_failure(job, row, exc))]))
    if rejections:
        bulk_insert(ImportRejection, [
            {"job": job.id, "line": row.line, "cells": [cell_text(c) for c in row.cells], "outcome": outcome,
             "problems": [[f, m, p] for f, m, p in problems]} for row, outcome, problems in rejections])
    tally["skipped"] = sum(1 for _, outcome, _ in rejections if outcome == "skipped")
    tally["rejected"] = len(rejections) - tally["skipped"]
    return tally


def _failure(job, row, exc):
    log.warning("import job %s, row %s not written: %r", job.id, row.line, exc)
    return N_("This row could not be saved (%(error)s)."), {"error": str(exc)[:120]}


class _Refused(DomainError):
    pass


def _duplicate_message(row):
    if row.match_id:
        return N_("Duplicate of customer #%(id)s (%(reason)s)."), {"id": row.match_id, "reason": row.reason}
    return N_("Duplicate of row %(line)s of this file (%(reason)s)."), {"line": row.match_line, "reason": row.reason}


def create_customers(actor, job, rows, options, now, lookups):
    """New customers with their first contact, as `customers.create_customer` writes one (stage change,
    timeline row, search index), in a few bulk statements; then `route_new_customers` places them.
    The timeline rows skip audit.record's annotators: they add to rows on a customer with an owner."""
    if not rows:
        return []
    stage = options.get("stage") or "target"
    groups = {name: _group_for(name) for name in {r.values.get("group_name") for r in rows} if name}
    # Plain rows over the model's defaults (building a model object per row costs more than writing it);
    # completeness reads the same attributes from a namespace.
    customer_defaults, contact_defaults = Customer().__data__, Contact().__data__
    records, people, customs, shapes = [], [], [], []
    for row in rows:
        values = dict(row.values)
        custom = {k: v for k, v in (values.pop("custom", None) or {}).items() if v}
        values["group"] = groups.get(values.pop("group_name", ""))
        values["industry"], values["region"] = values.pop("industry_id"), values.pop("region_id")
        record = {**customer_defaults, **values, "stage": stage, "grade": GRADE_OF_STAGE.get(stage, ""),
                  "created_at": now, "created_by": actor.id, "updated_at": now, "stage_changed_at": now,
                  "touched_at": now}
        contacts = [{**contact_defaults, **row.contact, "created_at": now}] if row.contact else []
        shape = SimpleNamespace(**record, group_id=record["group"], industry_id=record["industry"],
                                region_id=record["region"])
        shapes.append(shape)
        record["completeness"] = compute_completeness(shape, contacts=[SimpleNamespace(**c) for c in contacts],
                                                      values=custom, fields=lookups.custom, saved=lookups.weights)
        records.append(record)
        people.append(contacts)
        customs.append(custom)
    to_pool = (options.get("destination") or "pool") == "pool"
    homes = pools.home_pools(shapes) if to_pool else [None] * len(records)
    for record, home in zip(records, homes):  # into their pool as they are written: no update after
        record["pool"] = home.id if home else None
    ids = bulk_insert(Customer, records, new_ids=True)
    by_key = {f.key: f for f in lookups.custom}
    bulk_insert(CustomValue, [dict(customer=customer_id, field=by_key[key].id, value=value,
                                   number=value if by_key[key].kind == "number" else None)
                              for customer_id, custom in zip(ids, customs) for key, value in custom.items()])
    bulk_insert(Contact, [{**contact, "customer": customer_id}
                          for customer_id, contacts in zip(ids, people) for contact in contacts])
    bulk_insert(StageChange, [dict(customer=i, from_stage=None, to_stage=stage, at=now, actor=actor.id) for i in ids])
    audits = []
    for customer_id, row in zip(ids, rows):
        data = {"stage": stage, "owner_id": None, "owner": None, "import_job": job.id, "line": row.line}
        if row.status == "duplicate":  # created anyway: the reason and the look-alike stay with it
            data.update(duplicate_reason=options.get("reason", ""), duplicate_ids=[row.match_id] if row.match_id else [])
        audits.append(dict(at=now, actor=actor.id, customer=customer_id, kind="customer.created", data=data))
    bulk_insert(audit.AuditEvent, audits)
    search.index_customers(ids, fresh=True)
    pools.record_placements(actor, [(i, stage, home) for i, home in zip(ids, homes) if home], now, "import")
    route_new_customers(actor, ids, now, options.get("destination") or "pool", job.id)
    return ids


def _group_for(name):
    group, _ = CustomerGroup.get_or_create(name=name)
    return group.id


UPDATABLE = ("short_name", "credit_code", "industry_id", "region_id", "city", "address", "phone", "website", "size",
             "first_channel", "tags")


def _update_empty_fields(actor, job, row, now):
    """Fill the existing customer's empty fields from the row; what it has stays. A customer the importer may
    not edit is skipped with that reason."""
    if not row.match_id:
        raise _Refused(N_("Duplicate of row %(line)s of this file: created once, not updated from a second row."),
                       line=row.match_line)
    customer = Customer.get_or_none(Customer.id == row.match_id)
    if customer is None or not can(actor, "customer.edit", customer):
        raise _Refused(N_("Duplicate of customer #%(id)s, which you may not edit: not updated."), id=row.match_id)
    values, changes = row.values, {}
    for name in UPDATABLE:
        new = values.get(name)
        if new and not getattr(customer, name):
            if name == "credit_code" and Customer.select().where(Customer.credit_code == new).exists():
                continue
            changes[name] = [getattr(customer, name) or "", new]
            setattr(customer, name, new)
    if values.get("phone") and "phone" in changes:
        customer.phone_norm = values["phone_norm"]
    present = custom_values([customer.id])[customer.id]
    changes.update(write_custom_values(customer, {k: v for k, v in (values.get("custom") or {}).items()
                                                  if v and not present.get(k)}))
    added = None
    if row.contact and not Contact.select().where(
            (Contact.customer == customer.id) & (Contact.name == row.contact["name"])).exists():
        added = Contact.create(customer=customer.id, created_at=now, **row.contact)
    if not changes and added is None:
        raise _Refused(N_("Duplicate of customer #%(id)s, which has these fields already: nothing to update."),
                       id=row.match_id)
    customer.completeness = compute_completeness(customer)
    customer.updated_at = now
    customer.save()
    if changes:
        audit.record("customer.updated", actor, customer, changes=changes, import_job=job.id, line=row.line)
    if added is not None:
        audit.record("contact.added", actor, customer, contact_id=added.id, name=added.name, title=added.title)
    search.index_customer(customer.id)
    hooks.fire("customer_edited", customer)
    return "updated"


def destinations(actor):
    """Where the importer may send new customers: their region's pool, or (marketing, admins) the lead
    routing rules."""
    return DESTINATIONS if can(actor, "lead.queue") else DESTINATIONS[:1]


def route_new_customers(actor, customer_ids, now, destination="pool", job_id=None):
    """Where imported customers go, inside the transaction that created them: through the lead routing
    rules (`leads.route_imported`: a routed lead each, with its ledger row and response deadline), or
    unowned into their region's pool. Whatever is left without an owner (the pool choice, or nobody had
    room) is placed by `pools.place_orphans`, the placement of any customer left without an owner
    (marketing's lead stages stay with marketing)."""
    if destination == "routing":
        leads.route_imported(actor, customer_ids, now, job_id=job_id)
    pools.place_orphans(actor, customer_ids, now, why="import")


# ---- after the run -------------------------------------------------------------------------------

def rejected_rows(job):
    """The rejected and skipped rows in sheet order (for the result file), a query iterated lazily."""
    return (ImportRejection.select().where(ImportRejection.job == job.id)
            .order_by(ImportRejection.line).iterator())


def header_cells(job):
    rows = first_rows(sheet_of(job), job.header_row)
    return [cell_text(c) for c in rows[job.header_row - 1]] if len(rows) >= job.header_row else []


def jobs_of(actor, limit=20):
    q = ImportJob.select(*[f for f in ImportJob._meta.sorted_fields]).order_by(ImportJob.id.desc()).limit(limit)
    if not can(actor, "import.all"):
        q = q.where(ImportJob.created_by == actor.id)
    return q


def resume_stalled(now=None, at_start=False):
    """Sweep: a job whose runner died carries on (the import after its last chunk, a dry run from the top).
    At start every running job is an orphan of the previous process and resumes in a thread at once."""
    now = now or clock.now()
    query = ImportJob.select(ImportJob.id).where(ImportJob.state.in_(RUNNING))
    if not at_start:
        query = query.where(ImportJob.heartbeat_at.is_null()
                            | (ImportJob.heartbeat_at < now - dt.timedelta(seconds=STALLED_SECONDS)))
    stalled = [j.id for j in query]
    for job_id in stalled:
        if at_start:
            start_job(job_id)
        else:
            run_job(job_id)
    return {"resumed": len(stalled)}


hooks.on("sweep", resume_stalled, name="imports")
