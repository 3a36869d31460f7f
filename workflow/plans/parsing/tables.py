"""Responsibility tables (序号 | 任务 | 牵头单位 | 配合单位 | 完成时限) from .docx and PDF, as measure lines."""
from __future__ import annotations

import re

from workflow.plans.parsing.outline import _match_marker, _open_styles
from workflow.plans.parsing.text import _dedupe


def table_lines(rows: list[list[str]], before: list[str]) -> list[str]:
    """A responsibility table (header names 牵头单位/配合单位/责任单位) → one measure line per row.

    `rows` are the cell texts of each row; `before` the lines above the table, whose open outline styles
    decide which marker styles the rows get."""
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
