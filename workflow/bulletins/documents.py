"""The bulletin as the documents that circulate: a PDF (WeasyPrint, the house fonts, templates/pdf/bulletin.html)
and a Word file (python-docx) the office can still edit and stamp, both from the same data
(services.compute), in Chinese whoever asks. A draft carries 草稿 on every page.

The .docx is deterministic for the same data and moment (document properties and zip entries dated with it),
like the evaluation workbook, so an archived file's sha256 identifies its content.
"""
from __future__ import annotations

import io
from datetime import UTC, datetime

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_TAB_ALIGNMENT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor
from flask import render_template

from pdf.render import render_document
from workflow import files
from workflow.clock import local
from workflow.labels import chinese

RED = RGBColor(0xC0, 0x00, 0x00)
BODY_FONT, HEADING_FONT, TITLE_FONT = "仿宋", "黑体", "宋体"
NUMERALS = "一二三四五六七八九十"

# The tables, shared by both documents: (heading, [(column, key)]).
DEPARTMENT_COLUMNS = [("应报", "due"), ("按时报送", "on_time"), ("逾期报送", "late"), ("逾期未报送", "missing"),
                      ("退回过", "returned"), ("已通过", "approved")]
AREA_COLUMNS = [("任务数", "tasks"), *DEPARTMENT_COLUMNS]


def _rate(value) -> str:
    return "—" if value is None else f"{value:.1f}%"


def overall_sentence(data: dict) -> str:
    """The figures of the period in one sentence, as the lead of 一、总体情况."""
    o = data["overall"]
    text = (f"截至{_day(data['as_of'])}，{data['period']['label']}各责任单位应报送报告 {o['due']} 份，按时报送 "
            f"{o['on_time']} 份（按时率 {_rate(o['on_time_rate'])}），逾期报送 {o['late']} 份，逾期未报送 "
            f"{o['missing']} 份")
    if o["pending"]:
        text += f"，尚待报送 {o['pending']} 份"
    if o.get("withdrawn"):
        text += f"（另有 {o['withdrawn']} 份因任务办结撤销，不计应报）"
    text += f"；被退回修改的 {o['returned']} 份，已审核通过 {o['approved']} 份"
    escalations = len(data["escalations"])
    text += f"；未关闭的督办事项 {escalations} 项。" if escalations else "；无未关闭的督办事项。"
    return text


def late_sentence(data: dict) -> str:
    late = data["late_departments"]
    if not late:
        return "本期各单位均按时报送。"
    named = []
    for d in late:
        parts = [f"逾期未报送 {d['missing']} 份" if d["missing"] else "", f"逾期报送 {d['late']} 份" if d["late"] else ""]
        named.append(f"{d['name']}（{'、'.join(p for p in parts if p)}）")
    return f"本期有 {len(late)} 个单位存在逾期：" + "、".join(named) + "。"


def escalation_sentence(data: dict) -> str:
    escalations = data["escalations"]
    if not escalations:
        return "本期报告和配合情况无未关闭的督办事项。"
    departments = sorted({e["department"] for e in escalations})
    return (f"截至{_day(data['as_of'])}，以下 {len(escalations)} 项督办事项尚未关闭，涉及 {len(departments)} 个单位："
            + "、".join(departments) + "。")


def extension_sentence(data: dict) -> str:
    extensions = data.get("extensions", [])   # bulletins published before the section have none
    if not extensions:
        return "本期没有批准延期的报告。"
    return f"本期经领导小组办公室批准延期报送的报告 {len(extensions)} 份：" + "、".join(
        f"{e['department']}（{e['task']}，延至{_day(e['to'])}）" for e in extensions) + "。"


def closed_sentence(data: dict) -> str:
    closed = data.get("closed", [])
    if not closed:
        return "本期没有办结销号的任务。"
    return f"本期办结销号的任务 {len(closed)} 项：" + "、".join(f"{c['task']} {c['title']}" for c in closed) + "。"


def _day(iso: str) -> str:
    y, m, d = iso.split("-")
    return f"{int(y)}年{int(m)}月{int(d)}日"


def sections() -> list[str]:
    """The headings in order, numbered as official documents number them."""
    names = ["总体情况", "分领域情况", "各单位报送情况", "逾期单位", "进展滞后的任务", "督办事项", "延期批准", "办结销号",
             "下一步工作"]
    return [f"{NUMERALS[i]}、{name}" for i, name in enumerate(names)]


def helpers(data: dict) -> dict:
    return {"d": data, "sections": sections(), "overall_sentence": overall_sentence(data),
            "late_sentence": late_sentence(data), "escalation_sentence": escalation_sentence(data),
            "extension_sentence": extension_sentence(data), "closed_sentence": closed_sentence(data),
            "department_columns": DEPARTMENT_COLUMNS, "area_columns": AREA_COLUMNS, "rate": _rate, "day": _day}


# -- PDF -----------------------------------------------------------------------------------------------------

def render_html(data: dict) -> str:
    with chinese():
        return render_template("pdf/bulletin.html", **helpers(data))


def pdf(data: dict) -> tuple[bytes, int]:
    rendered = render_document(render_html(data))
    return rendered.data, rendered.pages


# -- Word ----------------------------------------------------------------------------------------------------

def _font(run, name: str, size: float | None = None, *, bold: bool = False, color: RGBColor | None = None):
    run.font.name = name
    run._element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), name)
    if size:
        run.font.size = Pt(size)
    run.font.bold = bold
    if color is not None:
        run.font.color.rgb = color
    return run


def _paragraph(doc, text: str = "", *, font: str = BODY_FONT, size: float = 14, bold: bool = False,
               align=None, indent: bool = False, color: RGBColor | None = None, space_after: float = 4):
    p = doc.add_paragraph()
    if align is not None:
        p.alignment = align
    fmt = p.paragraph_format
    fmt.space_after, fmt.line_spacing = Pt(space_after), 1.4
    if indent:
        fmt.first_line_indent = Pt(size * 2)
    if text:
        _font(p.add_run(text), font, size, bold=bold, color=color)
    return p


def _red_rule(paragraph) -> None:
    """A red line under the paragraph (the 红线 of an official document's head)."""
    borders = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for key, value in (("val", "single"), ("sz", "12"), ("space", "1"), ("color", "C00000")):
        bottom.set(qn(f"w:{key}"), value)
    borders.append(bottom)
    paragraph._p.get_or_add_pPr().append(borders)


def _field(paragraph, instruction: str) -> None:
    """A Word field (PAGE, NUMPAGES) that Word fills in when it lays the document out."""
    field = OxmlElement("w:fldSimple")
    field.set(qn("w:instr"), instruction)
    run = OxmlElement("w:r")
    text = OxmlElement("w:t")
    text.text = "1"
    run.append(text)
    field.append(run)
    paragraph._p.append(field)


def _page_numbers(section) -> None:
    p = section.footer.paragraphs[0]
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _font(p.add_run("第 "), BODY_FONT, 10.5)
    _field(p, "PAGE")
    _font(p.add_run(" 页 共 "), BODY_FONT, 10.5)
    _field(p, "NUMPAGES")
    _font(p.add_run(" 页"), BODY_FONT, 10.5)


def _table(doc, headers: list[str], rows: list[list], *, total: list | None = None) -> None:
    table = doc.add_table(rows=1, cols=len(headers))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for cell, header in zip(table.rows[0].cells, headers, strict=True):
        _font(cell.paragraphs[0].add_run(header), HEADING_FONT, 10.5)
    for values in rows + ([total] if total else []):
        cells = table.add_row().cells
        for cell, value in zip(cells, values, strict=True):
            _font(cell.paragraphs[0].add_run("" if value is None else str(value)), BODY_FONT, 10.5,
                  bold=values is total)
    doc.add_paragraph()


def docx(data: dict, *, moment: datetime) -> tuple[bytes, None]:
    """The Word file; `moment` dates the document (its properties and zip entries)."""
    with chinese():
        doc = Document()
        section = doc.sections[0]
        section.orientation = WD_ORIENT.PORTRAIT
        section.page_width, section.page_height = Mm(210), Mm(297)
        section.top_margin, section.bottom_margin = Mm(37), Mm(30)
        section.left_margin, section.right_margin = Mm(28), Mm(26)
        normal = doc.styles["Normal"]
        normal.font.name = BODY_FONT
        normal.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), BODY_FONT)
        _page_numbers(section)
        published = data.get("published")
        if not published:
            head = section.header.paragraphs[0]
            head.alignment = WD_ALIGN_PARAGRAPH.RIGHT
            _font(head.add_run("草稿 · 未发布，数据可能变化"), HEADING_FONT, 10.5, color=RED)

        _paragraph(doc, "情况通报", font=TITLE_FONT, size=30, bold=True, align=WD_ALIGN_PARAGRAPH.CENTER,
                   color=RED, space_after=10)
        _paragraph(doc, data.get("number") or "（草稿，发布时编号）", size=14, align=WD_ALIGN_PARAGRAPH.CENTER)
        issued = _paragraph(doc, "", size=14)
        issued.paragraph_format.tab_stops.add_tab_stop(Mm(156), WD_TAB_ALIGNMENT.RIGHT)
        _font(issued.add_run(f"{data['office']}\t{_day(data.get('published_at') or data['as_of'])}"), BODY_FONT, 14)
        _red_rule(issued)
        _paragraph(doc, data["title"], font=TITLE_FONT, size=18, bold=True, align=WD_ALIGN_PARAGRAPH.CENTER,
                   space_after=12)
        _paragraph(doc, data["lead"], indent=True)

        heads = sections()
        _paragraph(doc, heads[0], font=HEADING_FONT, size=14)
        _paragraph(doc, overall_sentence(data), indent=True)
        o = data["overall"]
        _table(doc, ["应报", "按时报送", "逾期报送", "逾期未报送", "待报送", "退回过", "已通过", "按时率", "未关闭督办"],
               [[o["due"], o["on_time"], o["late"], o["missing"], o["pending"], o["returned"], o["approved"],
                 _rate(o["on_time_rate"]), len(data["escalations"])]])

        _paragraph(doc, heads[1], font=HEADING_FONT, size=14)
        _table(doc, ["领域", *[c for c, _k in AREA_COLUMNS], "按时率"],
               [[a["name"], *[a[k] for _c, k in AREA_COLUMNS], _rate(a["on_time_rate"])] for a in data["areas"]])

        _paragraph(doc, heads[2], font=HEADING_FONT, size=14)
        _table(doc, ["单位", *[c for c, _k in DEPARTMENT_COLUMNS], "按时率"],
               [[d["name"], *[d[k] for _c, k in DEPARTMENT_COLUMNS], _rate(d["on_time_rate"])]
                for d in data["departments"]],
               total=["合计", *[o[k] for _c, k in DEPARTMENT_COLUMNS], _rate(o["on_time_rate"])])

        _paragraph(doc, heads[3], font=HEADING_FONT, size=14)
        _paragraph(doc, late_sentence(data), indent=True)
        if data["late_departments"]:
            _table(doc, ["单位", "逾期未报送", "逾期报送", "涉及任务"],
                   [[d["name"], d["missing"], d["late"], "、".join(t["code"] for t in d["tasks"])]
                    for d in data["late_departments"]])

        _paragraph(doc, heads[4], font=HEADING_FONT, size=14)
        if data["behind"]:
            _table(doc, ["任务编号", "任务", "牵头单位", "周期", "情况"],
                   [[b["code"], b["title"], b["lead"], b["period"], b["situation"]] for b in data["behind"]])
        else:
            _paragraph(doc, "本期没有逾期未报送或自评进展滞后的任务。", indent=True)

        _paragraph(doc, heads[5], font=HEADING_FONT, size=14)
        _paragraph(doc, escalation_sentence(data), indent=True)
        if data["escalations"]:
            _table(doc, ["单位", "任务", "类型", "周期", "原因", "逾期工作日"],
                   [[e["department"], f"{e['task']} {e['task_title']}", e["what"], e["period_label"], e["cause"],
                     e["days_late"]] for e in data["escalations"]])

        _paragraph(doc, heads[6], font=HEADING_FONT, size=14)
        _paragraph(doc, extension_sentence(data), indent=True)
        if data.get("extensions"):
            _table(doc, ["单位", "任务", "周期", "原期限", "延至", "理由"],
                   [[e["department"], f"{e['task']} {e['task_title']}", e["period_label"], e["from"], e["to"],
                     e["reason"]] for e in data["extensions"]])

        _paragraph(doc, heads[7], font=HEADING_FONT, size=14)
        _paragraph(doc, closed_sentence(data), indent=True)
        if data.get("closed"):
            _table(doc, ["任务编号", "任务", "牵头单位", "销号日期", "完成情况"],
                   [[c["task"], c["title"], c["leads"], c["closed"], c["summary"]] for c in data["closed"]])

        _paragraph(doc, heads[8], font=HEADING_FONT, size=14)
        _paragraph(doc, data["next_steps"], indent=True)
        _paragraph(doc, data["office"], align=WD_ALIGN_PARAGRAPH.RIGHT, space_after=0)
        _paragraph(doc, _day(data.get("published_at") or data["as_of"]), align=WD_ALIGN_PARAGRAPH.RIGHT)

        stamp = moment.astimezone(UTC).replace(tzinfo=None, microsecond=0)
        props = doc.core_properties
        props.author = props.last_modified_by = data["office"]
        props.title = f"情况通报 {data.get('number') or '草稿'} {data['title']}"
        props.created = props.modified = stamp
        props.revision = 1
        buffer = io.BytesIO()
        doc.save(buffer)
        return files.normalised_zip(buffer.getvalue(), {}, local(moment)), None
