"""Documents over the web: upload to a customer, a project or an opportunity, new versions, and
downloads checked by permission. Files are stored under the instance folder (instance/documents)."""
from pathlib import Path

from flask import Blueprint, current_app, render_template, request, send_file, url_for
from flask_login import current_user

from models import documents as docs
from models import projects as pj
from models.customers import get_customer
from models.errors import N_, DomainError, NotFound, ValidationError
from models.opportunities import Opportunity
from models.permissions import can, require
from views import customers as customers_view
from views import extend
from views import htmx as hx
from views.forms import error_line, field_errors
from views.i18n import translate_error

bp = Blueprint("documents", __name__)
DEFAULT_MAX_BYTES = 15 * 1024 * 1024  # under the app's MAX_CONTENT_LENGTH (16 MB), so our message shows first


def storage():
    return Path(current_app.instance_path) / "documents"


def max_bytes():
    return int(current_app.config.get("DOCUMENT_MAX_BYTES", DEFAULT_MAX_BYTES))


def _list(target, **extra):
    kind, obj = target
    if kind == "project":
        documents = docs.documents_of(project=obj)
        can_upload = can(current_user, "project.work", obj) and obj.status == "approved"
    elif kind == "opportunity":
        documents = docs.documents_of(opportunity=obj)
        can_upload = can(current_user, "document.opportunity", obj)
    else:
        documents = docs.documents_of(customer=obj)
        can_upload = can(current_user, "customer.edit", obj)
        documents = [d for d in documents if can(current_user, "document.view", d)]
    context = dict(documents=documents, doc_target=(kind, obj.id), can_upload=can_upload,
                   limit_mb=max_bytes() // (1024 * 1024), errors={}, form={})
    context.update(extra)
    return render_template("documents/_list.html", **context)


def _upload(target, **where):
    file = request.files.get("file")
    try:
        docs.upload_document(current_user, storage(), file.stream if file else None, file.filename if file else "",
                             request.form, max_bytes=max_bytes(), **where)
    except ValidationError as exc:
        return _list(target, errors=field_errors(exc, joined=True), form=request.form)
    except DomainError as exc:
        return _list(target, errors={"file": translate_error(exc.message, exc.params)}, form=request.form)
    if not request.htmx:
        return hx.redirect(_back(target))
    return _list(target, saved=True)


def _back(target):
    kind, obj = target
    if kind == "project":
        return url_for("projects.show", project_id=obj.id) + "#project-documents"
    if kind == "customer":
        return url_for("customers.show", customer_id=obj.id, tab="documents")
    return url_for("opportunities.show", opportunity_id=obj.id) + "#opp-documents"


@bp.post("/customers/<int:customer_id>/documents")
def upload_to_customer(customer_id):
    customer = get_customer(customer_id)
    require(current_user, "customer.view", customer)
    require(current_user, "customer.edit", customer)
    customers_view.count_pool_view(customer)  # the answer lists the file's documents
    return _upload(("customer", customer), customer=customer)


@bp.post("/projects/<int:project_id>/documents")
def upload_to_project(project_id):
    project = pj.get_project(project_id)
    require(current_user, "project.work", project)
    return _upload(("project", project), project=project)


@bp.get("/opportunities/<int:opportunity_id>/documents")
def opportunity_documents(opportunity_id):
    opportunity = _opportunity(opportunity_id, "opportunity.view")
    return _list(("opportunity", opportunity))


@bp.post("/opportunities/<int:opportunity_id>/documents")
def upload_to_opportunity(opportunity_id):
    opportunity = _opportunity(opportunity_id, "document.opportunity")
    return _upload(("opportunity", opportunity), opportunity=opportunity)


def _opportunity(opportunity_id, action):
    opportunity = Opportunity.get_or_none(Opportunity.id == opportunity_id)
    if opportunity is None:
        raise NotFound()
    require(current_user, action, opportunity)
    return opportunity


def _target_of(document):
    if document.project_id:
        return ("project", pj.Project.get_by_id(document.project_id))
    if document.opportunity_id:
        return ("opportunity", Opportunity.get_by_id(document.opportunity_id))
    return ("customer", document.customer)


@bp.post("/documents/<int:document_id>/versions")
def new_version(document_id):
    document = docs.get_document(document_id)
    require(current_user, "document.view", document)
    require(current_user, "document.edit", document)
    customers_view.count_pool_view(document.customer)
    target = _target_of(document)
    file = request.files.get("file")
    try:
        docs.upload_version(current_user, storage(), document, file.stream if file else None,
                            file.filename if file else "", request.form, max_bytes=max_bytes())
    except ValidationError as exc:
        return _list(target, version_errors={document.id: field_errors(exc, joined=True).get("file") or error_line(exc)})
    if not request.htmx:
        return hx.redirect(_back(target))
    return _list(target, saved=True)


@bp.get("/documents/<int:document_id>/download")
@bp.get("/documents/<int:document_id>/versions/<int:number>/download")
def download(document_id, number=None):
    document, version = docs.get_version(current_user, document_id, number)
    customers_view.count_pool_view(document.customer)  # a pool customer's document is part of its file
    path = docs.path_of(storage(), version)
    if not path.is_file():
        raise NotFound()
    response = send_file(path, mimetype=version.mimetype, as_attachment=True, download_name=version.filename,
                         max_age=0, conditional=True, etag=version.sha256)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@extend.customer_tab("documents", N_("Documents"), "documents/_tab.html", order=45)
def _customer_tab(customer, user):
    documents = [d for d in docs.documents_of(customer=customer) if can(user, "document.view", d)]
    return {"documents": documents, "doc_target": ("customer", customer.id),
            "can_upload": can(user, "customer.edit", customer),
            "limit_mb": max_bytes() // (1024 * 1024), "errors": {}, "form": {}}


def filesize(n):
    """Bytes as KB / MB for people."""
    if n is None:
        return ""
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.0f} KB"
    return f"{n / (1024 * 1024):.1f} MB"


extend.template_globals(DOCUMENT_KIND_LABELS=docs.KIND_LABELS, DOCUMENT_KINDS=docs.KINDS)
extend.template_filters(filesize=filesize)
