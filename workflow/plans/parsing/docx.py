"""Word documents: paragraphs with their automatic numbers, and responsibility tables as measure lines."""
from __future__ import annotations

import io
import re
import zipfile

from workflow.plans.parsing.draft import PlanParseError
from workflow.plans.parsing.numerals import _int_to_cn
from workflow.plans.parsing.outline import _match_marker, _open_styles
from workflow.plans.parsing.text import _dedupe

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
        lines: list[str] = []
        for child in document.element.body.iterchildren():
            tag = child.tag.rsplit("}", 1)[-1]
            if tag == "p":
                paragraph = Paragraph(child, document)
                marker = _auto_number(_num_pr(child, paragraph), numbering, counters)
                for k, part in enumerate(paragraph.text.splitlines()):
                    part = part.strip()
                    if k == 0 and marker and part and not _match_marker(part):
                        part = marker + part
                    if part:
                        lines.append(part)
            elif tag == "tbl":
                lines.extend(_table_lines(Table(child, document), lines))
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


def _num_pr(p, paragraph):
    """The paragraph's own numbering, else the one its style (or a base style) carries."""
    num_pr = p.find(f"{_W}pPr/{_W}numPr")
    if num_pr is not None:
        return num_pr
    try:
        style = paragraph.style
        for _ in range(6):
            if style is None:
                break
            found = style.element.find(f"{_W}pPr/{_W}numPr")
            if found is not None:
                return found
            style = style.base_style
    except Exception:   # a broken style chain only loses the automatic number
        return None
    return None


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


def _table_lines(table, before: list[str]) -> list[str]:
    """A responsibility table (header names 牵头单位/配合单位/责任单位) → one measure line per row."""
    rows = [_cell_texts(r) for r in table.rows]
    header_index = next((i for i, cells in enumerate(rows[:3])
                         if any(re.search(r"牵头|配合|责任单位|责任部门|主责|协办", c) for c in cells)), None)
    if header_index is None:
        return ["\u3000".join(_dedupe(c for c in cells if c)) for cells in rows if any(cells)]
    header = [re.sub(r"\s", "", h) for h in rows[header_index]]
    cols: dict[str, list[int]] = {"seq": [], "lead": [], "resp": [], "co": [], "deadline": [], "content": [],
                                  "category": [], "skip": []}
    for j, h in enumerate(header):
        if j and h == header[j - 1]:
            cols["skip"].append(j)      # a merged header cell
        elif re.search(r"序号|编号", h):
            cols["seq"].append(j)
        elif re.search(r"备注|说明|领导|责任人|联系人|电话", h):
            cols["skip"].append(j)
        elif re.search(r"配合|协办|协同|参与", h):
            cols["co"].append(j)
        elif re.search(r"牵头|主责|主办", h):
            cols["lead"].append(j)
        elif re.search(r"责任", h):
            cols["resp"].append(j)
        elif re.search(r"时限|时间|期限|进度", h):
            cols["deadline"].append(j)
        elif re.search(r"类别|领域|方面|板块|类型|重点任务|任务", h) and _repeats(rows[header_index + 1:], j) and any(
                re.search(r"内容|措施|举措|具体|事项|任务", x) for k, x in enumerate(header) if k != j):
            cols["category"].append(j)
        else:
            cols["content"].append(j)
    if not cols["content"] and cols["category"]:
        cols["content"], cols["category"] = cols["category"], []
    stack = _open_styles(before)
    free = [s for s in ("arabic", "arabic_paren", "arabic_rparen", "circled") if s not in stack]
    free += ["arabic"] * 2
    head_style, row_style = (free[0], free[1]) if cols["category"] else (None, free[0])
    out: list[str] = []
    count, heads, category = 0, 0, None

    def pick(cells: list[str], key: str) -> str:
        return "、".join(_dedupe(cells[j] for j in cols[key] if j < len(cells) and cells[j]))

    for cells in rows[header_index + 1:]:
        if not any(cells):
            continue
        if len(set(c for c in cells if c)) == 1 and len(cells) > 2:
            only = next(c for c in cells if c)
            if _match_marker(only):
                out.append(only)
            continue
        if head_style:
            cat = pick(cells, "category")
            if cat and cat != category:
                category, heads, count = cat, heads + 1, 0
                body = _match_marker(cat).body if _match_marker(cat) else cat
                out.append(_render_marker(head_style, heads) + body)
        parts = []
        for j in cols["content"]:
            if j < len(cells) and cells[j] and cells[j] not in parts:
                parts.append(cells[j])
        content = ""
        for part in parts:
            if content and not re.search(r"[。！？!?；;：:]$", content):
                content += "。"
            content += part
        marked = _match_marker(content)
        if marked and marked.style != "dash":
            content = marked.body
        lead, resp, co, deadline = pick(cells, "lead"), pick(cells, "resp"), pick(cells, "co"), pick(cells, "deadline")
        if not (content or lead or resp or co):
            continue
        clause = []
        if lead:
            clause.append(f"牵头单位：{lead}")
        if resp:
            clause.append(f"责任单位：{resp}")
        if co:
            clause.append(f"配合单位：{co}")
        if deadline and clause:
            clause.append(f"完成时限：{deadline}")
        count += 1
        line = _render_marker(row_style, count) + content
        if clause:
            line += "（" + "；".join(clause) + "）"
        out.append(line)
    return out


def _repeats(rows: list[list[str]], j: int) -> bool:
    """A column whose value repeats in consecutive rows (a vertically merged cell) groups the rows under it."""
    values = [r[j] if j < len(r) else "" for r in rows]
    return any(a and a == b for a, b in zip(values, values[1:], strict=False))


def _render_marker(style: str, n: int) -> str:
    if style == "arabic_paren":
        return f"（{n}）"
    if style == "arabic_rparen":
        return f"{n}）"
    if style == "circled" and 1 <= n <= 20:
        return chr(0x2460 + n - 1)
    return f"{n}. "
