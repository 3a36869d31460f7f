"""Word documents: paragraphs with their automatic numbers, and responsibility tables as measure lines."""
from __future__ import annotations

import io
import re
import zipfile

from workflow.plans.parsing.draft import PlanParseError
from workflow.plans.parsing.numerals import _int_to_cn
from workflow.plans.parsing.outline import _match_marker
from workflow.plans.parsing.tables import table_lines

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _docx_text(data: bytes) -> str:
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise PlanParseError("不是有效的 .docx 文件 (not a .docx / zip file)")
    try:
        import docx
        from docx.table import Table
        from docx.text.paragraph import Paragraph

        document = docx.Document(io.BytesIO(data))
        numbering = _numbering_formats(document)
        counters: dict[str, list[int | None]] = {}
        by_style: dict = {}
        lines: list[str] = []
        for child in document.element.body.iterchildren():
            tag = child.tag.rsplit("}", 1)[-1]
            if tag == "p":
                paragraph = Paragraph(child, document)
                marker = _auto_number(_num_pr(child, paragraph, by_style), numbering, counters)
                for k, part in enumerate(paragraph.text.splitlines()):
                    part = part.strip()
                    if k == 0 and marker and part and not _match_marker(part):
                        part = marker + part
                    if part:
                        lines.append(part)
            elif tag == "tbl":
                lines.extend(table_lines([_cell_texts(r) for r in Table(child, document).rows], lines))
    except PlanParseError:
        raise
    except Exception as exc:   # python-docx raises many kinds on damaged files
        raise PlanParseError(f"无法读取 .docx 文件 (cannot read the .docx: {type(exc).__name__})") from None
    return "\n".join(lines)


def _numbering_formats(document) -> dict[str, dict[int, tuple[str, str, int]]]:
    """numId → ilvl → (numFmt, lvlText, start), so Word's automatic numbers can be written out as markers."""
    try:
        root = document.part.numbering_part.element
    except Exception:
        return {}
    abstract: dict[str, dict[int, tuple[str, str, int]]] = {}
    for an in root.findall(f"{_W}abstractNum"):
        levels = {}
        for lvl in an.findall(f"{_W}lvl"):
            fmt, txt, start = lvl.find(f"{_W}numFmt"), lvl.find(f"{_W}lvlText"), lvl.find(f"{_W}start")
            try:
                levels[int(lvl.get(f"{_W}ilvl", "0"))] = (
                    fmt.get(f"{_W}val", "decimal") if fmt is not None else "decimal",
                    txt.get(f"{_W}val", "") if txt is not None else "",
                    int(start.get(f"{_W}val", "1")) if start is not None else 1)
            except ValueError:
                continue
        abstract[an.get(f"{_W}abstractNumId", "")] = levels
    nums = {}
    for num in root.findall(f"{_W}num"):
        ref = num.find(f"{_W}abstractNumId")
        if ref is not None:
            nums[num.get(f"{_W}numId", "")] = abstract.get(ref.get(f"{_W}val", ""), {})
    return nums


def _format_number(n: int, fmt: str) -> str:
    if fmt.startswith("chinese") or fmt.startswith("ideograph") or fmt == "taiwaneseCounting":
        return _int_to_cn(n)
    if fmt.startswith("decimalEnclosedCircle") and 1 <= n <= 20:
        return chr(0x2460 + n - 1)
    if fmt in ("lowerLetter", "upperLetter") and 1 <= n <= 26:
        return chr((0x61 if fmt == "lowerLetter" else 0x41) + n - 1)
    return str(n)


def _num_pr(p, paragraph, by_style: dict):
    """The paragraph's own numbering, else the one its style (or a base style) carries; `by_style` caches
    the style chains, since resolving a paragraph's style is the slowest step of reading a long document."""
    num_pr = p.find(f"{_W}pPr/{_W}numPr")
    if num_pr is not None:
        return num_pr
    style_el = p.find(f"{_W}pPr/{_W}pStyle")
    key = style_el.get(f"{_W}val") if style_el is not None else None
    if key in by_style:
        return by_style[key]
    found = None
    try:
        style = paragraph.style
        for _ in range(6):
            if style is None:
                break
            found = style.element.find(f"{_W}pPr/{_W}numPr")
            if found is not None:
                break
            style = style.base_style
    except Exception:   # a broken style chain only loses the automatic number
        found = None
    by_style[key] = found
    return found


def _auto_number(num_pr, numbering: dict, counters: dict[str, list[int | None]]) -> str:
    """Word's automatic number of a paragraph written out as text ('一、', '（1）'), or ''."""
    if num_pr is None or not numbering:
        return ""
    num_id_el, ilvl_el = num_pr.find(f"{_W}numId"), num_pr.find(f"{_W}ilvl")
    num_id = num_id_el.get(f"{_W}val", "") if num_id_el is not None else ""
    try:
        ilvl = int(ilvl_el.get(f"{_W}val", "0")) if ilvl_el is not None else 0
    except ValueError:
        return ""
    levels = numbering.get(num_id)
    if not levels or ilvl not in levels or not 0 <= ilvl < 9:
        return ""
    fmt, text, start = levels[ilvl]
    if fmt in ("bullet", "none"):
        return ""
    state = counters.setdefault(num_id, [None] * 9)
    state[ilvl] = start if state[ilvl] is None else state[ilvl] + 1
    for deeper in range(ilvl + 1, 9):
        state[deeper] = None

    def render(m: re.Match[str]) -> str:
        k = int(m.group(1)) - 1
        value = state[k] if 0 <= k < 9 and state[k] is not None else levels.get(k, ("", "", 1))[2]
        return _format_number(value, levels.get(k, (fmt, "", 1))[0])

    return re.sub(r"%([1-9])", render, text)


def _cell_texts(row) -> list[str]:
    try:
        cells = row.cells
    except Exception:
        return []
    return [re.sub(r"\s*\n\s*", "", c.text).strip() for c in cells]
