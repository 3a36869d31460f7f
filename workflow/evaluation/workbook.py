"""The evaluation as an Excel workbook (openpyxl): the report's tables, for the office to sort and filter.

Built from the stored scores like the PDF, so a frozen evaluation gives the same figures. The bytes are
deterministic: document properties carry the evaluation's own moment and the zip entries a fixed timestamp,
so the archive's sha256 identifies the content.
"""
from __future__ import annotations

import io
import re
import zipfile
from datetime import date, datetime

from flask import current_app
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from models.evaluation import Evaluation
from workflow.clock import local
from workflow.evaluation import scoring

ROLE_NAMES = {"lead": "牵头", "co": "配合"}
KIND_NAMES = {"report": "报告", "contribution": "配合情况"}
STATUS_NAMES = {"approved": "已通过", "submitted": "已报送", "returned": "已退回", "draft": "未报送"}
BASIS_NAMES = {"target": "目标值", "linear": "线性路径", "milestone": "节点值", "no_base": "无基期值"}
ZIP_TIME = (2000, 1, 1, 0, 0, 0)


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value[:10]) if value else None


def _num(value):
    return None if value is None else float(value)


def _sheet(wb: Workbook, title: str, headers: list[str], rows: list[list], widths: dict[int, int] | None = None):
    ws = wb.create_sheet(title)
    ws.append(headers)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in rows:
        ws.append(row)
    ws.freeze_panes = "A2"
    if rows:
        ws.auto_filter.ref = f"A1:{get_column_letter(len(headers))}{len(rows) + 1}"
    for index, header in enumerate(headers, start=1):
        ws.column_dimensions[get_column_letter(index)].width = (widths or {}).get(index, max(10, 2 * len(header) + 2))
    for column in ws.iter_cols(min_row=2):
        for cell in column:
            if isinstance(cell.value, date):
                cell.number_format = "yyyy-mm-dd"
    return ws


def build_workbook(evaluation: Evaluation) -> bytes:
    settings = scoring.effective_settings(evaluation)
    scores = list(evaluation.scores)
    parts = list(scoring.PARTS)
    wb = Workbook()
    wb.remove(wb.active)

    _sheet(wb, "汇总", ["排名", "单位", "得分", "等次", *[scoring.PART_NAMES[p] for p in parts], "基础分", "督办扣分",
                      "调整", "牵头任务数", "配合任务数", "应报", "按时", "逾期", "未报", "退回", "督办次数"],
           [[s.rank, s.department.name, _num(s.score), s.grade, *[s.parts.get(p) for p in parts], _num(s.base_score),
             _num(s.deduction), _num(s.adjustment), *[s.parts.get(k) for k in ("lead_tasks", "co_tasks", "due",
                                                                               "on_time", "late", "missing",
                                                                               "returns", "escalations")]]
            for s in scores], {2: 28})
    _sheet(wb, "任务得分", ["单位", "任务编号", "任务", "角色", "权重", "得分", *[scoring.PART_NAMES[p] for p in parts]],
           [[s.department.name, t["code"], t["title"], ROLE_NAMES.get(t["role"], t["role"]), t["weight"], t["score"],
             *[t["parts"].get(p) for p in parts]] for s in scores for t in s.detail["tasks"]], {1: 24, 3: 40})
    _sheet(wb, "报送记录", ["单位", "任务编号", "类型", "周期", "截止日期", "报送日期", "逾期天数", "得分", "状态",
                        "退回次数", "计入"],
           [[s.department.name, t["code"], KIND_NAMES.get(i["kind"], i["kind"]), i["period"], _day(i["deadline"]),
             _day(i["submitted"]), i["days_late"], i["points"], STATUS_NAMES.get(i["status"], i["status"]),
             i["returns"], "是" if i["counted"] else "否"]
            for s in scores for t in s.detail["tasks"] for i in t["items"]], {1: 24})
    _sheet(wb, "目标完成", ["单位", "任务编号", "指标", "目标", "目标年份", "本年应达值", "依据", "最新批准值", "报送周期",
                        "得分"],
           [[s.department.name, t["code"], g["metric"], g["label"], g["year"], g["due"],
             BASIS_NAMES.get(g["basis"], g["basis"]), g["value"], g["period"], g["score"]]
            for s in scores for t in s.detail["tasks"] for g in t["targets"]], {1: 24, 3: 40, 4: 16})
    escalations = [[s.department.name, "督办", e["task_code"], e["period"], None, e["opened"],
                    "退回后逾期未重新报送" if e["cause"] == "returned" else "逾期未报送",
                    "已关闭" if e["status"] == "closed" else "未关闭"]
                   for s in scores for e in s.detail["escalations"]]
    adjustments = [[s.department.name, "分数调整", None, None, a["points"], a["at"][:10], a["reason"], a["by"]]
                   for s in scores for a in s.detail["adjustments"]]
    _sheet(wb, "督办与调整", ["单位", "类型", "任务编号", "周期", "调整分值", "日期", "原因", "状态/调整人"],
           escalations + adjustments, {1: 24, 7: 40})
    state = "已签认" if evaluation.frozen else "草稿"
    signer = evaluation.signed_off_by.display if evaluation.signed_off_by else ""
    signed = local(evaluation.signed_off_at).date() if evaluation.signed_off_at else None
    rows = [["方案", evaluation.plan.title], ["年度", evaluation.year], ["状态", state], ["签认领导", signer],
            ["签认日期", signed], ["基期年份", settings["base_year"]],
            ["牵头任务权重", settings["role_weights"]["lead"]], ["配合任务权重", settings["role_weights"]["co"]],
            *[[f"{scoring.PART_NAMES[p]}权重", settings["part_weights"][p]] for p in parts],
            *[[f"{g}分数线", settings["thresholds"][g]] for g in scoring.GRADES[:-1]],
            ["逾期每天扣分", settings["late_points_per_day"]], ["逾期最低分", settings["late_floor"]],
            ["每次督办扣分", settings["escalation_points"]], ["督办扣分上限", settings["escalation_cap"]]]
    ws = _sheet(wb, "评估设置", ["项目", "值"], rows, {1: 18, 2: 40})
    ws.auto_filter.ref = None

    moment = _moment(evaluation)
    wb.properties.creator = current_app.config.get("OFFICE_NAME", "领导小组办公室")
    wb.properties.title = f"{evaluation.plan.title}{evaluation.year}年度评估（{state}）"
    wb.properties.created = wb.properties.modified = moment
    buffer = io.BytesIO()
    wb.save(buffer)
    return _deterministic(buffer.getvalue(), moment)


def _moment(evaluation: Evaluation) -> datetime:
    """The evaluation's own moment (sign-off, else last computation), naive UTC as openpyxl writes it."""
    moment = evaluation.signed_off_at or evaluation.computed_at or evaluation.created_at
    return moment.replace(tzinfo=None, microsecond=0)


def _deterministic(data: bytes, moment: datetime) -> bytes:
    """openpyxl stamps the zip entries and the `modified` property with the current time when saving; put
    fixed ones back so the same evaluation gives the same bytes."""
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            content = src.read(item.filename)
            if item.filename == "docProps/core.xml":
                content = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)", rb"\g<1>" + stamp + rb"\g<2>",
                                 content)
            info = zipfile.ZipInfo(item.filename, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(info, content)
    return out.getvalue()
