"""Customer export: the customer list as filtered on /customers, streamed as .csv or .xlsx; and the
admins' page for the per-role row limits."""
import csv
import io
import tempfile

from flask import Response, Blueprint, render_template, request, stream_with_context, url_for
from flask_login import current_user

from models import clock, exports, listing
from models.errors import NotFound, ValidationError
from models.permissions import require
from models.users import ROLE_LABELS
from views import htmx as hx
from views.i18n import gettext as _
from views.i18n import locale_code, translate_error
from views.pools import mask

bp = Blueprint("exports", __name__, url_prefix="/exports")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CHUNK = 64 * 1024


@bp.get("/customers.<fmt>")
def customers(fmt):
    """The rows of the customer list with the same filters (the query string of /customers)."""
    if fmt not in ("csv", "xlsx"):
        raise NotFound()
    f = listing.Filters.parse(request.args, current_user)
    exports.start_export(current_user, f, fmt)  # the limit, and the audit row, before the first byte
    rows = exports.export_rows(current_user, f, _, locale_code(), mask)
    body = _csv(rows) if fmt == "csv" else _xlsx(rows)
    response = Response(stream_with_context(body), mimetype="text/csv" if fmt == "csv" else XLSX)
    response.headers["Content-Disposition"] = f"attachment; filename=customers-{clock.today().isoformat()}.{fmt}"
    return response


def _csv(rows):
    buf = io.StringIO()
    writer = csv.writer(buf)
    yield "\ufeff"  # BOM: Excel opens UTF-8 Chinese correctly
    for row in rows:
        writer.writerow(row)
        if buf.tell() > CHUNK:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def _xlsx(rows):
    """openpyxl's write-only workbook spools rows to disk as they come; the finished zip is sent in pieces."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(_("Customers"))
    for row in rows:
        sheet.append(row)
    with tempfile.TemporaryFile() as spool:
        book.save(spool)
        spool.seek(0)
        while True:
            block = spool.read(CHUNK)
            if not block:
                break
            yield block


@bp.route("/limits", methods=["GET", "POST"])
def limits():
    require(current_user, "export.settings")
    values, errors, saved = exports.limits(), {}, False
    if request.method == "POST":
        values = {role: request.form.get(role, "") for role in exports.ROLES}
        try:
            exports.save_limits(current_user, values)
        except ValidationError as exc:
            errors = {name: [translate_error(m, p) for m, p in problems] for name, problems in exc.errors.items()}
        else:
            return hx.redirect(url_for("exports.limits", saved=1))
    saved = request.args.get("saved") == "1"
    return render_template("imports/export_limits.html", values=values, errors=errors, saved=saved,
                           roles=exports.ROLES, ROLE_LABELS=ROLE_LABELS)
