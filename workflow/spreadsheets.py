"""Workbooks and CSV files the office opens in Excel: the evaluation workbook and the 台账 share these cells.

What every sheet gets: a bold, frozen header row, a filter over the data, widths fitted to the content (CJK
characters count double), numbers as numbers, dates as dates, and text that is never a formula — whatever a
department or the office typed (`=HYPERLINK(…)`, `+1`, `@SUM`) stays text, in the workbook and in the CSV.

The bytes are deterministic (`workbook_bytes`, through files.normalised_zip), so an archived file's sha256 identifies its content.
"""
from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from openpyxl.xml.constants import ARC_CORE
from openpyxl.xml.functions import tostring

from workflow import files
from workflow.clock import local

DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
BOLD = Font(bold=True)
MIN_WIDTH, MAX_WIDTH = 6, 50
# What spreadsheet programs read as the start of a formula (OWASP "CSV injection"); tab and CR too.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
SHEET_TITLE_LIMIT = 31
_SHEET_TITLE_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


def sheet(wb: Workbook, title: str, headers: Sequence[str], rows: Sequence[Sequence], *,
          autofilter: bool = True) -> Worksheet:
    """A sheet with a bold, frozen header row, widths fitting the content, and a filter over the data."""
    ws = wb.create_sheet(title)
    for col, header in enumerate(headers, start=1):
        ws.cell(row=1, column=col, value=header).font = BOLD
    for r, row in enumerate(rows, start=2):
        for col, value in enumerate(row, start=1):
            put(ws, r, col, value)
    ws.freeze_panes = "A2"
    if autofilter:
        ws.auto_filter.ref = f"A1:{get_column_letter(len(headers))}{len(rows) + 1}"
    for col, header in enumerate(headers, start=1):
        width = max([width_of(header) + (2 if autofilter else 0), *(width_of(row[col - 1]) for row in rows)])
        ws.column_dimensions[get_column_letter(col)].width = min(MAX_WIDTH, max(MIN_WIDTH, width + 2))
    return ws


def put(ws: Worksheet, row: int, col: int, value) -> None:
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
    cell = ws.cell(row=row, column=col, value=value)
    if isinstance(value, str) and cell.data_type == "f":
        cell.data_type = "s"   # text the office or a department typed is never a formula (=HYPERLINK…)
    elif isinstance(value, datetime):
        cell.number_format = DATETIME_FORMAT
    elif isinstance(value, date):
        cell.number_format = DATE_FORMAT


def width_of(value) -> int:
    """Display width: CJK characters take two columns."""
    if value is None:
        return 0
    if isinstance(value, datetime):
        return len("2026-01-01 00:00")
    if isinstance(value, date):
        return len("2026-01-01")
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in str(value))


def sheet_title(name: str, taken: set[str]) -> str:
    """A legal, unique sheet title for `name` (at most 31 characters, none of []:*?/\\); `taken` is updated.
    Excel compares titles without case."""
    base = _SHEET_TITLE_FORBIDDEN.sub("_", name).strip("'") or "_"
    title, n = base[:SHEET_TITLE_LIMIT], 1
    while title.casefold() in taken:
        n += 1
        suffix = f"({n})"
        title = base[:SHEET_TITLE_LIMIT - len(suffix)] + suffix
    taken.add(title.casefold())
    return title


def num(value):
    """Numbers as int or float (a Decimal too), never text; anything else as it is."""
    if isinstance(value, Decimal):
        return float(value)
    return value


def day(value: str | None) -> date | None:
    return date.fromisoformat(value[:10]) if value else None


def local_naive(value: datetime | str | None) -> datetime | None:
    """A moment as Beijing time without its offset (Excel has no time zones), to the minute."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return local(aware(moment)).replace(tzinfo=None, second=0, microsecond=0)


def aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def workbook_bytes(wb: Workbook, *, moment: datetime, creator: str, title: str) -> bytes:
    """The saved .xlsx, the same bytes for the same content and `moment` (naive UTC, the document's own time:
    a sign-off, a computation, the day a ledger describes), which the properties carry instead of the time of
    saving."""
    props = wb.properties
    props.creator = props.lastModifiedBy = creator
    props.title = title
    props.created = props.modified = moment
    buffer = io.BytesIO()
    wb.save(buffer)
    # wb.save stamps `modified` with the wall clock: write the properties again as they were set.
    props.modified = moment
    return files.normalised_zip(buffer.getvalue(), {ARC_CORE: tostring(props.to_tree())}, local(aware(moment)))


# -- CSV -----------------------------------------------------------------------------------------------------

def csv_cell(value) -> str | int | float:
    """One CSV field: dates as YYYY-MM-DD, moments as YYYY-MM-DD HH:MM, numbers as numbers, and text that a
    spreadsheet would run as a formula prefixed with an apostrophe (shown as text, as OWASP advises)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, int | float | Decimal):
        return num(value)
    text = ILLEGAL_CHARACTERS_RE.sub("", str(value))
    return f"'{text}" if text.startswith(FORMULA_START) else text


def csv_bytes(headers: Sequence[str], rows: Iterable[Sequence]) -> bytes:
    """UTF-8 with a byte-order mark, so Excel opens the Chinese text as UTF-8; CRLF line ends (RFC 4180)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(headers)
    for row in rows:
        writer.writerow([csv_cell(v) for v in row])
    return "\ufeff".encode() + buffer.getvalue().encode("utf-8")
