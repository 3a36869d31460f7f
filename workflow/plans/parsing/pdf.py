"""PDF plans through PDFium (pypdfium2): text runs with their positions, so hard-wrapped lines are rejoined,
running headers, footers and page numbers dropped, and responsibility tables read as rows.

There is no OCR: a scanned PDF without a text layer is refused with an error that says so.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field

from workflow.plans.parsing.draft import PlanParseError
from workflow.plans.parsing.outline import _match_marker
from workflow.plans.parsing.tables import table_lines

_PAGE_NUMBER = re.compile(r"[-—–\s]*(?:第\s*)?[0-9]{1,4}\s*(?:页)?(?:\s*/\s*(?:共\s*)?[0-9]{1,4}\s*页?)?[-—–\s]*")
_TABLE_HEADER = re.compile(r"牵头|配合|责任单位|责任部门|主责|协办")
_PDFIUM = threading.Lock()    # PDFium is not thread-safe; a threaded web server may parse two uploads at once


@dataclass
class _Line:
    top: float
    bottom: float
    segments: list[tuple[float, float, str]] = field(default_factory=list)   # (left, right, text)
    page: int = 0

    @property
    def left(self) -> float:
        return self.segments[0][0]

    @property
    def right(self) -> float:
        return self.segments[-1][1]

    @property
    def height(self) -> float:
        return max(self.top - self.bottom, 1.0)

    @property
    def text(self) -> str:
        return "".join(t for _, _, t in self.segments).strip()

    def cells(self) -> list[tuple[float, str]]:
        """Segments separated by more than two characters' width: the cells of a table row."""
        out: list[tuple[float, str]] = []
        last_right = None
        for left, right, text in self.segments:
            if out and last_right is not None and left - last_right <= 0.6 * self.height:
                out[-1] = (out[-1][0], out[-1][1] + text)
            else:
                out.append((left, text))
            last_right = right
        return [(x, t.strip()) for x, t in out if t.strip()]


def _page_lines(page) -> list[_Line]:
    textpage = page.get_textpage()
    runs = []
    for i in range(textpage.count_rects()):
        left, bottom, right, top = textpage.get_rect(i)
        text = textpage.get_text_bounded(left, bottom, right, top).replace("\r", "").replace("\n", "")
        if text.strip():
            runs.append((left, bottom, right, top, text))
    runs.sort(key=lambda r: (-r[3], r[0]))
    lines: list[_Line] = []
    for left, bottom, right, top, text in runs:
        middle = (top + bottom) / 2
        line = next((ln for ln in reversed(lines[-3:]) if ln.bottom <= middle <= ln.top), None)
        if line is None:
            line = _Line(top, bottom)
            lines.append(line)
        line.segments.append((left, right, text))
    for line in lines:
        line.segments.sort()
    return lines


def _running_texts(pages: list[list[_Line]]) -> set[str]:
    """Texts at the top or bottom of most pages (digits ignored): running headers and footers."""
    if len(pages) < 2:
        return set()
    counts: dict[str, int] = {}
    for lines in pages:
        for key in {re.sub(r"[0-9]+", "#", line.text) for line in (*lines[:1], *lines[-1:])}:
            counts[key] = counts.get(key, 0) + 1
    return {k for k, n in counts.items() if n >= max(2, len(pages) // 2)}


def _is_furniture(line: _Line, k: int, count: int, running: set[str]) -> bool:
    edge = k < 2 or k >= count - 2
    return edge and (_PAGE_NUMBER.fullmatch(line.text) is not None or re.sub(r"[0-9]+", "#", line.text) in running)


def _table_rows(lines: list[_Line], start: int) -> tuple[list[list[str]], int]:
    """Rows of the table whose header is lines[start], and the index after the table.  A cell may wrap:
    lines closer together than the table's row pitch belong to one row, and a row broken by a page goes on
    where the next page starts without a first-column cell."""
    columns = [x for x, _ in lines[start].cells()]
    width = lines[start].height

    def column(x: float) -> int:
        return max((j for j, c in enumerate(columns) if c <= x + width), default=0)

    end = start + 1
    while end < len(lines):
        cells = lines[end].cells()
        spans = (len(cells) == 1 and len(columns) > 1 and lines[end].left <= columns[0] + width
                 and lines[end].right > columns[1] + 2 * width)
        if not cells or spans:     # a paragraph across the columns: the table has ended
            break
        end += 1
    gaps = [a.top - b.top for a, b in zip(lines[start:end], lines[start + 1:end], strict=False)
            if a.page == b.page]
    pitch = min(gaps, default=0)
    rows: list[list[str]] = []
    for k in range(start, end):
        placed = [""] * len(columns)
        for x, text in lines[k].cells():
            placed[column(x)] += text
        above = lines[k - 1] if k > start else None
        same_row = above is not None and (
            above.page == lines[k].page and above.top - lines[k].top <= pitch * 1.15
            or above.page != lines[k].page and not placed[0])
        if same_row:
            rows[-1] = [a + b for a, b in zip(rows[-1], placed, strict=True)]
        else:
            rows.append(placed)
    return rows, end


def pdf_text(data: bytes) -> str:
    with _PDFIUM:
        pages = _read_pages(data)
    return _text(pages)


def _read_pages(data: bytes) -> list[list[_Line]]:
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise PlanParseError("PDF 文件有密码保护，请去除密码后再上传 (the PDF is password-protected)") from None
        raise PlanParseError("无法读取 PDF 文件 (not a readable PDF)") from None
    try:
        pages = [_page_lines(document[i]) for i in range(len(document))]
    except Exception as exc:   # PDFium reports damaged pages in several ways
        raise PlanParseError(f"无法读取 PDF 文件 (cannot read the PDF: {type(exc).__name__})") from None
    finally:
        document.close()
    return pages


def _text(pages: list[list[_Line]]) -> str:
    """Page lines → plan text: furniture dropped, hard-wrapped lines rejoined, tables as measure lines."""
    if sum(len(line.text) for lines in pages for line in lines) < 10:
        raise PlanParseError("PDF 没有文字层（可能是扫描件），本系统不做文字识别，请上传带文字的 PDF、.docx 或 .txt "
                             "(the PDF has no text layer, probably a scan; OCR is not supported)")
    running = _running_texts(pages)
    body: list[_Line] = []
    margins: list[tuple[float, float]] = []
    for number, lines in enumerate(pages):
        kept = [ln for k, ln in enumerate(lines) if not _is_furniture(ln, k, len(lines), running)]
        for line in kept:
            line.page = number
        body.extend(kept)
        margins.append((min((ln.left for ln in kept), default=0), max((ln.right for ln in kept), default=0)))
    out: list[str] = []
    previous: _Line | None = None
    k = 0
    while k < len(body):
        line = body[k]
        cells = line.cells()
        if len(cells) >= 3 and any(_TABLE_HEADER.search(t) for _, t in cells):
            rows, k = _table_rows(body, k)
            out.extend(table_lines(rows, out))
            previous = None
            continue
        margin_left, margin_right = margins[line.page]
        indented = line.left > margin_left + line.height
        full = previous is not None and previous.right >= margin_right - 3 * previous.height
        if out and full and not indented and not _match_marker(line.text):
            out[-1] += line.text     # a hard-wrapped line: the one above ran to the right margin
        else:
            out.append(line.text)
        previous = line
        k += 1
    return "\n".join(out)
