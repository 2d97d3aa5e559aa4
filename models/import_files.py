"""Reading an uploaded customer sheet (.xlsx or .csv) into rows of cells, refusing what cannot be read
safely with a message a person can act on: not a spreadsheet, empty, too many rows or columns, merged
cells, formulas, text in an encoding that is neither UTF-8 nor GBK/GB18030.

Rows are read lazily (openpyxl's read-only mode, the csv module over the decoded text), so a file over
the row limit is refused when the limit is passed, not after everything was read."""
import csv
import datetime as dt
import io
import re
import zipfile
from dataclasses import dataclass

from models.errors import N_, DomainError

MAX_BYTES = 15 * 1024 * 1024  # under the app's MAX_CONTENT_LENGTH (16 MB): a larger upload is the 413 page
MAX_ROWS = 200_000
MAX_COLUMNS = 60
HEADER_SEARCH = 20  # the header row may be any of the first rows (a title above it)
ENCODINGS = ("utf-8", "gb18030")
EXCEL_EPOCH = dt.date(1899, 12, 30)  # Excel's day 0 (its 1900 leap-year bug already folded in)


@dataclass
class Sheet:
    kind: str  # "xlsx" or "csv"
    data: bytes
    encoding: str = ""  # the text encoding of a CSV file as detected (or chosen)
    delimiter: str = ","

    def rows(self, limit=None):
        """Every row as a list of cell values (str, int, float, datetime; "" for empty), the header
        included; DomainError as soon as the sheet is found bad (a formula, too many rows or columns)."""
        limit = limit or MAX_ROWS + HEADER_SEARCH
        source = self._xlsx_rows() if self.kind == "xlsx" else self._csv_rows()
        for number, row in enumerate(source, start=1):
            if number > limit:
                raise DomainError(N_("The file has more than %(n)s rows: split it into smaller files."), n=MAX_ROWS)
            while row and row[-1] == "":
                row.pop()
            if len(row) > MAX_COLUMNS:
                raise DomainError(N_("Row %(row)s has %(n)s columns; at most %(max)s are read. Delete the columns "
                                     "you do not import."), row=number, n=len(row), max=MAX_COLUMNS)
            yield row

    def _csv_rows(self):
        text = self.data.decode(self.encoding)
        if text.startswith("\ufeff"):
            text = text[1:]
        for row in csv.reader(io.StringIO(text.replace("\x00", ""), newline=""), delimiter=self.delimiter):
            yield [cell.strip() for cell in row]

    def _xlsx_rows(self):
        from openpyxl import load_workbook

        book = load_workbook(io.BytesIO(self.data), read_only=True, data_only=False)
        try:
            sheet = book.worksheets[0]
            for number, cells in enumerate(sheet.iter_rows(), start=1):
                row = []
                for cell in cells:
                    value = getattr(cell, "value", None)
                    if getattr(cell, "data_type", None) == "f":
                        raise DomainError(N_("Cell %(cell)s holds a formula (%(formula)s). Copy the sheet and paste "
                                             "values only, then upload it again."),
                                          cell=f"{_column_letter(len(row) + 1)}{number}", formula=str(value)[:40])
                    if value is None:
                        value = ""
                    elif isinstance(value, str):
                        value = value.strip()
                    elif isinstance(value, dt.time):
                        value = value.isoformat()
                    row.append(value)
                yield row
        finally:
            book.close()


def _column_letter(n):
    letters = ""
    while n:
        n, rest = divmod(n - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def open_sheet(data, filename="", encoding=""):
    """The uploaded bytes as a Sheet, its type told by its content (the file name only breaks a tie)."""
    if not data:
        raise DomainError(N_("The file is empty."))
    if len(data) > MAX_BYTES:
        raise DomainError(N_("The file is larger than %(n)s MB."), n=MAX_BYTES // (1024 * 1024))
    if data[:4] == b"PK\x03\x04":
        return _xlsx(data)
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise DomainError(N_("This is an old Excel file (.xls). Save it as .xlsx or .csv and upload that."))
    return _csv(data, encoding)


def _xlsx(data):
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        names = set(archive.namelist())
    except zipfile.BadZipFile:
        raise DomainError(N_("This file is damaged or not a spreadsheet: upload an .xlsx or .csv file.")) from None
    if "xl/workbook.xml" not in names:
        raise DomainError(N_("This is not an Excel workbook: upload an .xlsx or .csv file."))
    try:
        from openpyxl import load_workbook

        book = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
        sheet = book.worksheets[0]
        path = sheet._worksheet_path.lstrip("/")  # noqa: SLF001  openpyxl keeps no public name for it
        rows, columns = sheet.max_row, sheet.max_column  # the sheet's own dimension record, when it has one
        book.close()
    except Exception:  # noqa: BLE001  a damaged upload is the user's problem, said plainly
        raise DomainError(N_("This Excel file cannot be read: open it in Excel, save it again and upload that.")) from None
    if rows and rows > MAX_ROWS + HEADER_SEARCH:  # refused before a single row is read
        raise DomainError(N_("The file has more than %(n)s rows: split it into smaller files."), n=MAX_ROWS)
    if columns and columns > MAX_COLUMNS:
        raise DomainError(N_("The sheet has %(n)s columns; at most %(max)s are read. Delete the columns you do "
                             "not import."), n=columns, max=MAX_COLUMNS)
    merged = _first_merged_range(archive, path)
    if merged:
        raise DomainError(N_("The sheet has merged cells (%(range)s). Unmerge them and fill in every cell, then "
                             "upload it again."), range=merged)
    return Sheet("xlsx", data)


MERGE_RE = re.compile(rb'<(?:\w+:)?mergeCell\b[^>]*\bref="([A-Z0-9:]+)"')


def _first_merged_range(archive, path):
    """The first merged range of the worksheet XML (read-only mode does not report them), or None."""
    if path not in archive.namelist():
        return None
    tail = b""
    with archive.open(path) as stream:
        while True:
            block = stream.read(1 << 20)
            if not block:
                return None
            found = MERGE_RE.search(tail + block)
            if found:
                return found.group(1).decode()
            tail = block[-200:]


def decode_text(data, encoding=""):
    """(text encoding, delimiter) of a CSV upload. UTF-8 (with or without BOM) when it decodes as such,
    else GB18030 (a superset of GBK and GB2312); a chosen encoding must fit the bytes."""
    if b"\x00" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DomainError(N_("This file is not a spreadsheet or text: upload an .xlsx or .csv file."))
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DomainError(N_("This text is UTF-16: save the sheet as CSV (UTF-8) or .xlsx and upload that."))
    tried = [encoding] if encoding in ENCODINGS else list(ENCODINGS)
    for name in tried:
        try:
            text = data.decode(name)
        except UnicodeDecodeError:
            continue
        if name == "utf-8" and looks_like_mojibake(text):
            raise DomainError(N_("The text looks garbled (Chinese saved in the wrong encoding, e.g. %(sample)s). "
                                 "Save the sheet again as CSV UTF-8 or as .xlsx."), sample=_mojibake_sample(text))
        return name, _delimiter(text)
    if encoding in ENCODINGS:
        raise DomainError(N_("The file is not %(encoding)s text. Choose another encoding or leave it to be "
                             "detected."), encoding=encoding.upper())
    raise DomainError(N_("The file is neither UTF-8 nor GBK text: upload an .xlsx or .csv file."))


MOJIBAKE_RE = re.compile(r"[\u00c0-\u00ff][\u0080-\u00ff]")


def looks_like_mojibake(text):
    """GBK bytes once read as Latin-1 and saved as UTF-8 ('ÉÏº£' for 上海): Latin-1 letter pairs that
    decode as Chinese when turned back into bytes."""
    sample = text[:20000]
    pairs = MOJIBAKE_RE.findall(sample)
    if len(pairs) < 4:
        return False
    try:
        back = "".join(pairs).encode("latin-1").decode("gb18030")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return False
    return sum("\u4e00" <= ch <= "\u9fff" for ch in back) >= len(back) // 2


def _mojibake_sample(text):
    found = MOJIBAKE_RE.search(text)
    return text[found.start():found.start() + 8] if found else ""


def _delimiter(text):
    first = text.lstrip("\ufeff").split("\n", 1)[0]
    counts = {d: first.count(d) for d in (",", "\t", ";")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def _csv(data, encoding):
    name, delimiter = decode_text(data, encoding)
    return Sheet("csv", data, name, delimiter)


def first_rows(sheet, n):
    """The first `n` rows (for the preview and the header guess)."""
    out = []
    for row in sheet.rows():
        out.append(row)
        if len(out) >= n:
            break
    return out


# ---- cell values ------------------------------------------------------------------------------------

def cell_text(value):
    """A cell as text: whole numbers without '.0' (phones and codes typed as numbers), dates as YYYY-MM-DD."""
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e17:
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


DATE_TEXT_RE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?$")


def cell_date(value):
    """A date cell as YYYY-MM-DD: an Excel date, an Excel serial number (45000 is 2023-03-15), or text as
    2026-11-24, 2026/11/24, 2026.11.24 or 2026年11月24日. Anything else is returned as text for the
    validation to refuse with its message."""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = cell_text(value)
    serial = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        serial = value
    elif re.fullmatch(r"\d{5}(\.\d+)?", text):
        serial = float(text)
    if serial is not None and 1 <= serial < 2958466:  # up to 9999-12-31
        return (EXCEL_EPOCH + dt.timedelta(days=int(serial))).isoformat()
    found = DATE_TEXT_RE.match(text)
    if found:
        try:
            return dt.date(*(int(g) for g in found.groups())).isoformat()
        except ValueError:
            return text
    return text
