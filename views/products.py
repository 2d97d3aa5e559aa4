"""The product list (admins): list, create and edit, import and export as CSV or Excel."""
import csv
import io

from flask import Blueprint, make_response, render_template, request, url_for
from flask_login import current_user

from models import clock
from models.errors import N_, DomainError, NotFound, ValidationError
from models.orders import PRODUCT_FIELDS, Product, import_products, save_product
from models.permissions import require
from views import htmx as hx
from views.forms import field_errors
from views.i18n import gettext as _
from views.i18n import locale_code, translate_error

bp = Blueprint("products", __name__, url_prefix="/products")
MAX_UPLOAD = 2 * 1024 * 1024
MAX_ROWS = 5000
LABELS = {"code": N_("Code"), "name_zh": N_("Name (Chinese)"), "name_en": N_("Name (English)"),
          "product_line": N_("Product line"), "unit": N_("Unit"), "list_price": N_("List price (¥)"),
          "unit_cost": N_("Unit cost (¥)"), "consumable": N_("Consumable"), "active": N_("Active")}


@bp.get("")
def index():
    require(current_user, "product.manage")
    line = request.args.get("line", "")[:40]
    q = Product.select().order_by(Product.product_line, Product.code)
    if line:
        q = q.where(Product.product_line == line)
    lines = [p for (p,) in Product.select(Product.product_line).distinct().order_by(Product.product_line).tuples()]
    return render_template("products/index.html", products=list(q.limit(2000)), lines=lines, line=line,
                           loc=locale_code(), import_errors=None, imported=request.args.get("imported"))


def _form(product, values, errors):
    template = "products/_form.html" if request.htmx and request.method == "POST" else "products/form.html"
    return render_template(template, product=product, values=values, errors=errors, labels=LABELS)


def _values_of(product):
    return {"code": product.code, "name_zh": product.name_zh, "name_en": product.name_en,
            "product_line": product.product_line, "unit": product.unit, "list_price": f"{product.list_price:f}",
            "unit_cost": f"{product.unit_cost:f}", "consumable": "1" if product.consumable else "",
            "active": "1" if product.active else ""}


@bp.route("/new", methods=["GET", "POST"])
@bp.route("/<int:product_id>/edit", methods=["GET", "POST"])
def form(product_id=None):
    require(current_user, "product.manage")
    product = None
    if product_id is not None:
        product = Product.get_or_none(Product.id == product_id)
        if product is None:
            raise NotFound()
    if request.method == "GET":
        values = _values_of(product) if product else {"active": "1", "consumable": "1"}
        return _form(product, values, {})
    values = {k: v for k, v in request.form.items() if k != "csrf_token"}
    values["active"] = request.form.get("active", "")
    try:
        save_product(current_user, values, product)
    except ValidationError as exc:
        return _form(product, values, field_errors(exc))
    return hx.redirect(url_for("products.index"))


def _cell(value):
    """A cell that cannot run as a formula in a spreadsheet (CSV injection)."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _rows_for_export():
    for p in Product.select().order_by(Product.code):
        yield [p.code, p.name_zh, p.name_en, p.product_line, p.unit, f"{p.list_price:f}", f"{p.unit_cost:f}",
               "1" if p.consumable else "0", "1" if p.active else "0"]


@bp.get("/export.<fmt>")
def export(fmt):
    require(current_user, "product.manage")
    stamp = clock.today().isoformat()
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(PRODUCT_FIELDS)
        for row in _rows_for_export():
            writer.writerow([_cell(v) for v in row])
        response = make_response("\ufeff" + out.getvalue())  # BOM: Excel opens UTF-8 Chinese correctly
        response.mimetype = "text/csv"
    elif fmt == "xlsx":
        from openpyxl import Workbook

        book = Workbook(write_only=True)
        sheet = book.create_sheet("products")
        sheet.append(list(PRODUCT_FIELDS))
        for row in _rows_for_export():
            sheet.append([_cell(v) for v in row])
        buf = io.BytesIO()
        book.save(buf)
        response = make_response(buf.getvalue())
        response.mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        raise NotFound()
    response.headers["Content-Disposition"] = f"attachment; filename=products-{stamp}.{fmt}"
    return response


def _read_upload(upload):
    """Rows (dicts keyed by the header) from an uploaded CSV or .xlsx file; DomainError if unreadable."""
    data = upload.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        raise DomainError(N_("The file is larger than 2 MB."))
    name = (upload.filename or "").lower()
    if name.endswith(".xlsx"):
        from openpyxl import load_workbook

        try:
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
            table = [["" if v is None else str(v) for v in row] for row in book.active.iter_rows(values_only=True)]
        except Exception:  # noqa: BLE001  a damaged upload is the user's problem, said plainly
            raise DomainError(N_("This is not a readable Excel file.")) from None
    elif name.endswith(".csv") or name.endswith(".txt"):
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                text = data.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise DomainError(N_("The file is neither UTF-8 nor GBK text."))
        table = list(csv.reader(io.StringIO(text.replace("\x00", ""))))
    else:
        raise DomainError(N_("Upload a .csv or .xlsx file."))
    if not table:
        raise DomainError(N_("The file has no product rows."))
    header = [h.strip().lower() for h in table[0]]
    missing = [f for f in ("code", "name_zh", "name_en", "list_price", "unit_cost") if f not in header]
    if missing:
        raise DomainError(N_("The first row must name the columns; missing: %(columns)s."), columns=", ".join(missing))
    if len(table) > MAX_ROWS + 1:
        raise DomainError(N_("At most %(n)s rows per file."), n=MAX_ROWS)
    return [{h: (row[i] if i < len(row) else "") for i, h in enumerate(header) if h in PRODUCT_FIELDS}
            for row in table[1:]]


@bp.post("/import")
def import_file():
    require(current_user, "product.manage")
    upload = request.files.get("file")
    errors = []
    if upload is None or not upload.filename:
        errors = [_("Choose a file to import.")]
    else:
        try:
            created, updated = import_products(current_user, _read_upload(upload))
        except ValidationError as exc:
            errors = [_("Row %(row)s, %(field)s: %(problem)s", row=p["row"], field=_(LABELS.get(p["field"], p["field"])),
                        problem=translate_error(m, p)) if "row" in p else translate_error(m, p)
                      for problems in exc.errors.values() for m, p in problems]
        except DomainError as exc:
            errors = [translate_error(exc.message, exc.params)]
        else:
            return hx.redirect(url_for("products.index", imported=f"{created}/{updated}"))
    q = Product.select().order_by(Product.product_line, Product.code)
    lines = [p for (p,) in Product.select(Product.product_line).distinct().order_by(Product.product_line).tuples()]
    template = "products/_import.html" if request.htmx else "products/index.html"
    return render_template(template, products=list(q.limit(2000)), lines=lines, line="", loc=locale_code(),
                           import_errors=errors, imported=None)

