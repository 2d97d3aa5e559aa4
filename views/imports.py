"""Customer import screens (admins and marketing): upload, column mapping with a preview, the dry run,
the choices per duplicate class, the progress bar of the running job and the file of rejected rows."""
import csv
import io

from flask import Blueprint, Response, render_template, request, stream_with_context, url_for
from flask_login import current_user

from models import clock, imports
from models.customers import BUSINESS_MODEL_LABELS, BUSINESS_MODELS, MARKETING_STAGES, STAGE_LABELS, STAGES
from models.errors import N_, DomainError, ValidationError
from models.exports import safe_cell
from models.import_files import ENCODINGS, HEADER_SEARCH, MAX_BYTES, MAX_ROWS
from models.permissions import can, require
from views import extend
from views import htmx as hx
from views.i18n import gettext as _
from views.forms import field_errors
from views.i18n import locale_code, translate_error

bp = Blueprint("imports", __name__, url_prefix="/imports")

CLASS_LABELS = {"credit_code": N_("Same credit code"), "phone": N_("Same phone"), "name": N_("Same name")}
CHOICE_LABELS = {"skip": N_("Skip them"), "update": N_("Update the existing customer's empty fields"),
                 "create": N_("Create them anyway (with a reason)")}
DESTINATION_LABELS = {"pool": N_("Into the public pool of their region, where reps claim them"),
                      "routing": N_("Through the lead routing rules: each goes to a rep, who must answer by the deadline")}
OUTCOME_LABELS = {"invalid": N_("Invalid"), "skipped": N_("Skipped"), "failed": N_("Not saved")}
STATE_LABELS = {"mapping": N_("Waiting for the column mapping"), "checking": N_("Checking"),
                "checked": N_("Checked, ready to import"), "importing": N_("Importing"), "done": N_("Done"),
                "failed": N_("Stopped")}


def _target_labels(lookups):
    loc = locale_code()
    return [(key, label.label(loc) if hasattr(label, "label") else _(label)) for key, label in imports.targets(lookups)]


def problem_text(target_labels, problems):
    """'Phone: Enter a mobile number …; Credit code: …' for a row's problems."""
    labels = dict(target_labels)
    out = []
    for name, message, params in problems:
        reason = CLASS_LABELS.get(params.get("reason"))
        text = translate_error(message, {**params, "reason": _(reason)} if reason else params)
        label = labels.get(name) or (_(CLASS_LABELS[name]) if name in CLASS_LABELS else "")
        out.append(f"{label}: {text}" if label else text)
    return "; ".join(out)


@bp.get("")
def index():
    require(current_user, "import.run")
    return render_template("imports/index.html", jobs=list(imports.jobs_of(current_user)), error=None,
                           STATE_LABELS=STATE_LABELS, max_mb=MAX_BYTES // (1024 * 1024), max_rows=MAX_ROWS)


@bp.post("")
def upload():
    require(current_user, "import.run")
    file = request.files.get("file")
    error = None
    if file is None or not file.filename:
        error = _("Choose a file to import.")
    else:
        data = file.read(MAX_BYTES + 1)
        try:
            job = imports.create_job(current_user, file.filename, data)
        except DomainError as exc:
            error = translate_error(exc.message, exc.params)
        else:
            return hx.redirect(url_for("imports.show", job_id=job.id))
    return render_template("imports/index.html", jobs=list(imports.jobs_of(current_user)), error=error,
                           STATE_LABELS=STATE_LABELS, max_mb=MAX_BYTES // (1024 * 1024), max_rows=MAX_ROWS), 200


def _mapping_context(job, values=None, errors=None):
    """The mapping form: the preview under the chosen header row and encoding, the column choices."""
    values = values or {}
    encoding = values.get("encoding", job.encoding if values else "") if job.kind == "csv" else ""
    try:
        header_row = int(values.get("header_row") or job.header_row)
    except ValueError:
        header_row = job.header_row
    header_row = min(max(header_row, 1), HEADER_SEARCH)
    lookups = imports.Lookups.load()
    preview_error = None
    try:
        header, rows = imports.preview(job, encoding if encoding in ENCODINGS else "", header_row)
    except DomainError as exc:
        header, rows, preview_error = [], [], translate_error(exc.message, exc.params)
    if values and values.get("action") != "preview":
        mapping = {int(k[4:]): v for k, v in values.items() if k.startswith("col_") and k[4:].isdigit() and v}
    elif header_row != job.header_row or not job.mapping:
        mapping = imports.auto_mapping(header, lookups)
    else:
        mapping = {int(k): v for k, v in job.mapping.items()}
    return dict(job=job, header=header, rows=rows, header_row=header_row, encoding=encoding,
                mapping=mapping, targets=_target_labels(lookups), errors=errors or {}, preview_error=preview_error,
                business_model=values.get("business_model") or job.options.get("business_model", "consumer"),
                BUSINESS_MODELS=BUSINESS_MODELS, BUSINESS_MODEL_LABELS=BUSINESS_MODEL_LABELS,
                header_search=HEADER_SEARCH, ENCODINGS=ENCODINGS)


def _result_context(job):
    lookups = imports.Lookups.load()
    labels = _target_labels(lookups)
    stages = STAGES if can(current_user, "customer.any_stage") else MARKETING_STAGES + ("target",)
    return dict(job=job, target_labels=labels, mapping_shown=_mapping_shown(job), problem_text=problem_text, CLASS_LABELS=CLASS_LABELS,
                CHOICES=imports.CHOICES, CHOICE_LABELS=CHOICE_LABELS, stages=stages, STAGE_LABELS=STAGE_LABELS,
                STATE_LABELS=STATE_LABELS, stalled=_stalled(job), destinations=imports.destinations(current_user),
                DESTINATION_LABELS=DESTINATION_LABELS)


def _mapping_shown(job):
    return job.state == "mapping" or (job.state == "failed" and (job.error or {}).get("phase") == "checking")


def _stalled(job):
    import datetime as dt

    return job.running and (job.heartbeat_at is None or
                            job.heartbeat_at < clock.now() - dt.timedelta(seconds=imports.STALLED_SECONDS))


@bp.get("/<int:job_id>")
def show(job_id):
    job = imports.get_job(current_user, job_id)
    context = _result_context(job)
    if _mapping_shown(job):
        context.update(_mapping_context(job))
    return render_template("imports/show.html", **context, values={}, choice_errors={})


@bp.post("/<int:job_id>/mapping")
def mapping(job_id):
    """Save the mapping and start the dry run; or (action=preview) show the preview under another header row."""
    job = imports.get_job(current_user, job_id)
    values = {k: v for k, v in request.form.items() if k != "csrf_token"}
    if values.get("action") == "preview":
        return render_template("imports/_mapping.html", **_mapping_context(job, values))
    try:
        job = imports.check_job(current_user, job, values)
    except ValidationError as exc:
        return render_template("imports/_mapping.html", **_mapping_context(job, values, field_errors(exc)))
    imports.start_job(job.id)
    return hx.redirect(url_for("imports.show", job_id=job.id))


@bp.post("/<int:job_id>/run")
def run(job_id):
    job = imports.get_job(current_user, job_id)
    values = {k: v for k, v in request.form.items() if k != "csrf_token"}
    try:
        job = imports.start_import(current_user, job, values)
    except ValidationError as exc:
        context = _result_context(job)
        return render_template("imports/_choices.html", **context, values=values, choice_errors=field_errors(exc))
    imports.start_job(job.id)
    return hx.redirect(url_for("imports.show", job_id=job.id))


@bp.post("/<int:job_id>/remap")
def remap(job_id):
    """Back from the dry run to the mapping (before the import ran)."""
    job = imports.get_job(current_user, job_id)
    imports.reopen_mapping(current_user, job)
    return hx.redirect(url_for("imports.show", job_id=job.id))


@bp.post("/<int:job_id>/retry")
def retry(job_id):
    job = imports.get_job(current_user, job_id)
    imports.retry_job(current_user, job)
    imports.start_job(job.id)
    return hx.redirect(url_for("imports.show", job_id=job.id))


@bp.get("/<int:job_id>/progress")
def progress(job_id):
    job = imports.get_job(current_user, job_id)
    response = Response(render_template("imports/_progress.html", **_result_context(job)))
    if request.htmx and not job.running:
        response.headers["HX-Refresh"] = "true"  # the phase ended: the whole page shows its outcome
    return response


@bp.get("/<int:job_id>/rejected.csv")
def rejected(job_id):
    """The rows not imported, as the sheet had them, with the outcome and the reason in two more columns."""
    job = imports.get_job(current_user, job_id)
    labels = _target_labels(imports.Lookups.load())
    header = imports.header_cells(job)

    def lines():
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow([_("Row"), _("Outcome"), _("Why")] + header)
        yield "\ufeff" + buf.getvalue()  # BOM: Excel opens UTF-8 Chinese correctly
        for r in imports.rejected_rows(job):
            buf.seek(0)
            buf.truncate()
            writer.writerow([r.line, _(OUTCOME_LABELS.get(r.outcome, r.outcome)), problem_text(labels, r.problems)]
                            + [safe_cell(c) for c in r.cells])
            yield buf.getvalue()

    response = Response(stream_with_context(lines()), mimetype="text/csv")
    response.headers["Content-Disposition"] = f"attachment; filename=import-{job.id}-rejected.csv"
    return response


@extend.workbench_panel("imports/_wb_panel.html", roles=("marketing",), order=40,
                        probe=lambda user: imports.jobs_of(user).select(imports.ImportJob.id)
                        if can(user, "import.run") else None)
def _workbench_panel(user, found=True):
    if not can(user, "import.run"):
        return None
    return {"jobs": list(imports.jobs_of(user, limit=3)) if found else [], "STATE_LABELS": STATE_LABELS}
