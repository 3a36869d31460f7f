"""The front matter of a plan: its title, issuing body and years of validity."""
from __future__ import annotations

import re

from workflow.plans.parsing.outline import _match_marker
from workflow.plans.parsing.targets import _FIVE_YEAR_RE
from workflow.plans.parsing.text import _quoted_spans

_TITLE_RE = re.compile(r"^[^。！？!?]{2,60}?(?:方案|规划|计划|意见|通知|办法|要点|纲要|细则|措施|决定|清单|安排|规定|指南|公告|函)"
                       r"(?:[(（][^()（）]{0,24}[)）])?$")


def _find_title(lines: list[str], limit: int) -> tuple[int | None, str, str]:
    """(line index, title, cover-notice line): the plan's own name wins over a '关于印发…的通知' cover line."""
    lead = re.compile(r"(?:近日|日前|记者|据|附件|索引号|发布机构|发文机关|成文日期|发布日期|主题分类|文号)")
    lines = [re.sub(r"^(?:标题|名称|文件名称)\s*[:：]\s*", "", line) for line in lines]
    candidates = [i for i in range(limit)
                  if len(lines[i].strip("《》 ")) <= 80 and _TITLE_RE.match(lines[i].strip("《》 "))
                  and not lead.match(lines[i])]
    if candidates:
        first = lines[candidates[0]].strip("《》 ")
        notice = re.search(r"关于(?:印发|转发|下发)《?(.+?)》?的(?:通知|函)", first)
        if notice:
            if len(candidates) > 1:
                return candidates[1], lines[candidates[1]].strip("《》 "), first
            return candidates[0], notice.group(1), first
        return candidates[0], first, ""
    for i in range(limit):
        line = lines[i]
        if len(line) <= 40 and not re.search(r"[。：:；;，,！!？?]$", line) and not lead.match(line):
            return i, line.strip("《》 "), ""
    return None, "", ""


def _issuing_body(lines: list[str], title: str, notice: str, first_marker: int) -> str:
    for line in lines:
        m = re.match(r"(?:发文单位|发文机关|发文机构|印发单位|制定单位|发布单位|发布机构)\s*[:：]\s*(.+)", line)
        if m:
            return m.group(1).strip()
    for source in (notice, title):
        if "关于" in source and source.index("关于") >= 2:
            return source[:source.index("关于")].strip()
    org = r"(?:人民政府|政府|办公室|办公厅|委员会|管委会|领导小组|指挥部)$"
    for line in lines[:first_marker] + lines[-3:]:
        if len(line) <= 30 and re.search(org, line) and not _match_marker(line) and line != title:
            return line
    m = re.match(r"^((?:[\u4e00-\u9fff]{2,7}?(?:自治区|自治州|省|市|县|区|州|盟|旗))+)", title)
    if m and not m.group(1).startswith("关于"):
        return m.group(1)
    return ""


def _validity(title: str, lines: list[str]) -> tuple[int | None, int | None]:
    pattern = re.compile(r"((?:19|20)[0-9]{2})\s*年?\s*[-—–－~～至到]+\s*((?:19|20)[0-9]{2})\s*年")
    for source in [title, *lines]:
        m = pattern.search(source)
        if m and int(m.group(1)) <= int(m.group(2)):
            return int(m.group(1)), int(m.group(2))
    valid_from = None
    for line in lines:
        m = re.fullmatch(r"(?:(?:成文|发布|印发)日期\s*[:：]\s*)?((?:19|20)[0-9]{2})\s*年\s*[0-9]{1,2}\s*月\s*[0-9]{1,2}\s*日",
                         line)
        if m:
            valid_from = int(m.group(1))
    horizon = []
    for line in lines:
        spans = _quoted_spans(line)
        for m in re.finditer(r"(?:到|至|截至)\s*((?:19|20)[0-9]{2})\s*年|((?:19|20)[0-9]{2})\s*年(?:底|末)?前", line):
            if not any(a <= m.start() < b for a, b in spans):
                horizon.append(int(m.group(1) or m.group(2)))
        for m in _FIVE_YEAR_RE.finditer(line):
            if m.group("post") in ("末", "期末", "规划期末") and not any(a <= m.start() < b for a, b in spans):
                horizon.append(2010 + 5 * ("一二三四五六".index(m.group("n"))))
    return valid_from, (max(horizon) if horizon else None)
