"""The evaluation as an Excel workbook (openpyxl): the report's tables, for the office to sort and filter.

Built from the stored scores (DepartmentScore.parts/detail) like the PDF, so a frozen evaluation gives the same
figures however the records change afterwards. Numbers are numbers and dates are dates, so the columns sort.

The bytes are deterministic, so the archived file's sha256 identifies its content: the document properties
carry the evaluation's own moment (the sign-off, else the last computation) instead of the time of saving,
and the zip is rewritten with that moment on every entry (openpyxl stamps entries with the wall clock, and
worksheets with the mtime of the temporary file they were written to).
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from flask import current_app
from flask_babel import gettext as _
from openpyxl import Workbook

from models.evaluation import DepartmentScore, Evaluation
from workflow import spreadsheets as sheets
from workflow.evaluation import scoring
from workflow.labels import chinese, item_status, label

COUNTS = ("lead_tasks", "co_tasks", "due", "on_time", "late", "missing", "returns", "escalations")
COUNT_NAMES = ("牵头任务数", "配合任务数", "应报", "按时", "逾期", "未报", "退回", "督办次数")


def build_workbook(evaluation: Evaluation, progress: Callable[[int, str], None] | None = None) -> bytes:
    """The evaluation's tables as an .xlsx, in Chinese whoever asks; one evaluation gives the same bytes.
    `progress(percent, message)` hears of each sheet (a background job's progress bar)."""
    with chinese():
        return _build(evaluation, progress or (lambda percent, message: None))


def _build(evaluation: Evaluation, step: Callable[[int, str], None]) -> bytes:
    settings = scoring.effective_settings(evaluation)
    scores = _ordered(evaluation.scores)
    office = current_app.config.get("OFFICE_NAME", "领导小组办公室")
    wb = Workbook()
    wb.remove(wb.active)
    step(10, _("正在写入汇总表"))
    _summary(wb, scores)
    step(25, _("正在写入任务明细"))
    _tasks(wb, scores)
    step(45, _("正在写入报送明细"))
    _items(wb, scores)
    step(65, _("正在写入指标完成情况"))
    _targets(wb, scores)
    step(80, _("正在写入督办与调整"))
    _escalations_and_adjustments(wb, scores)
    _settings(wb, evaluation, settings, office)
    step(90, _("正在归档"))

    state = label("evaluation_status", evaluation.status)
    return sheets.workbook_bytes(wb, moment=_moment(evaluation), creator=office,
                                 title=f"{evaluation.plan.title}{evaluation.year}年度评估（{state}）")


# -- the sheets ----------------------------------------------------------------------------------------------

def _ordered(scores: list[DepartmentScore]) -> list[DepartmentScore]:
    """As ranked (by group, then rank), then name: a tie would otherwise come in whatever order the database
    returns it."""
    return sorted(scores, key=lambda s: (s.position, s.department.name, s.department_id))


def _summary(wb: Workbook, scores: list[DepartmentScore]) -> None:
    """One row per department; 排名 is within its 分组, empty for a department not ranked."""
    headers = ["分组", "排名", "单位", "得分", "等次", *[label("score_part", p) for p in scoring.PARTS],
               "基础分", "督办扣分", "调整", *COUNT_NAMES, "工作量", "工作量得分", "排名得分"]
    num = sheets.num
    rows = [[s.group_name, s.rank, s.department.name, num(s.score), s.grade,
             *[num(s.parts.get(p)) for p in scoring.PARTS], num(s.base_score), num(s.deduction),
             num(s.adjustment), *[num(s.parts.get(k)) for k in COUNTS], num(s.parts.get("load")),
             num(s.parts.get("workload")), num(s.ranking_score)]
            for s in scores]
    sheets.sheet(wb, "汇总", headers, rows)


def _tasks(wb: Workbook, scores: list[DepartmentScore]) -> None:
    headers = ["单位", "任务编号", "任务", "角色", "权重", "得分", *[label("score_part", p) for p in scoring.PARTS],
               "办公室评语"]
    rows = [[s.department.name, t["code"], t["title"], label("assignment_role", t["role"]), sheets.num(t["weight"]),
             sheets.num(t["score"]), *[sheets.num(t["parts"].get(p)) for p in scoring.PARTS],
             (t.get("rating") or {}).get("comment") or None]
            for s in scores for t in s.detail["tasks"]]
    sheets.sheet(wb, "任务得分", headers, rows)


def _items(wb: Workbook, scores: list[DepartmentScore]) -> None:
    headers = ["单位", "任务编号", "类型", "周期", "周期名称", "截止日期", "报送日期", "逾期天数", "得分", "状态",
               "退回次数", "最近退回理由", "计入评分"]
    rows = [[s.department.name, t["code"], label("item_kind", i["kind"]), i["period"], i.get("period_label"),
             sheets.day(i["deadline"]), sheets.day(i["submitted"]), sheets.num(i["days_late"]), sheets.num(i["points"]),
             item_status(i["kind"], i["status"]), sheets.num(i.get("returns", 0)), i.get("return_reason") or None,
             "是" if i["counted"] else "否"]
            for s in scores for t in s.detail["tasks"] for i in t["items"]]
    sheets.sheet(wb, "报送记录", headers, rows)


def _targets(wb: Workbook, scores: list[DepartmentScore]) -> None:
    headers = ["单位", "任务编号", "指标", "目标", "目标年份", "本年应达值", "依据", "最新批准值", "计量单位",
               "取值周期", "得分"]
    rows = [[s.department.name, t["code"], g["metric"], g["label"], sheets.num(g["year"]), sheets.num(g["due"]),
             label("attainment_basis", g["basis"]), sheets.num(g["value"]), g.get("unit") or None, g["period"],
             sheets.num(g["score"])]
            for s in scores for t in s.detail["tasks"] for g in t["targets"]]
    sheets.sheet(wb, "目标完成", headers, rows)


def _escalations_and_adjustments(wb: Workbook, scores: list[DepartmentScore]) -> None:
    headers = ["单位", "类型", "任务编号", "周期", "日期", "逾期天数", "调整分值", "事由", "状态", "调整人"]
    rows = [[s.department.name, "督办", e["task_code"], e["period"], sheets.day(e["opened"]), sheets.num(e["days_late"]), None,
             label("escalation_cause", e["cause"]), label("escalation_status", e["status"]), None]
            for s in scores for e in s.detail["escalations"]]
    rows += [[s.department.name, "分数调整", None, None, sheets.local_naive(a["at"]), None, sheets.num(a["points"]), a["reason"],
              None, a["by"] or None]
             for s in scores for a in s.detail["adjustments"]]
    sheets.sheet(wb, "督办与调整", headers, rows)


def _settings(wb: Workbook, evaluation: Evaluation, settings: dict, office: str) -> None:
    signed_at = sheets.local_naive(evaluation.signed_off_at)
    rows = [
        ["方案", evaluation.plan.title],
        ["评估年度", evaluation.year],
        ["评估单位", office],
        ["状态", label("evaluation_status", evaluation.status)],
        ["计算时间", sheets.local_naive(evaluation.computed_at)],
        ["签认领导", evaluation.signed_off_by.display if evaluation.signed_off_by else None],
        ["签认时间", signed_at],
        ["签认意见", (evaluation.sign_off_note or None) if signed_at else None],
        ["基期年份", settings["base_year"]],
        ["牵头任务权重", settings["role_weights"].get("lead")],
        ["配合任务权重", settings["role_weights"].get("co")],
        *[[f"{label('score_part', p)}权重", settings["part_weights"].get(p)] for p in scoring.PARTS],
        *[[f"{grade}分数线（不低于）", settings["thresholds"].get(grade)] for grade in scoring.GRADES[:-1]],
        ["逾期每天扣分", settings["late_points_per_day"]],
        ["逾期报送最低得分", settings["late_floor"]],
        ["每次督办扣分", settings["escalation_points"]],
        ["督办扣分上限", settings["escalation_cap"]],
        ["排名分组", label("ranking_group_by", settings["group_by"])],
        *[[f"分组：{g['name']}", "、".join(g["departments"])] for g in settings["groups"]
          if settings["group_by"] == "custom"],
        ["参与排名的最少事项数", settings["min_items"]],
        ["工作量权重（%）", settings["workload_weight"]],
        ["每项指标折合任务数", settings["target_load"]],
    ]
    sheets.sheet(wb, "评估设置", ["项目", "值"], [[name, sheets.num(value)] for name, value in rows], autofilter=False)


# -- determinism ---------------------------------------------------------------------------------------------

def _moment(evaluation: Evaluation) -> datetime:
    """The evaluation's own moment — the sign-off, else the last computation, else its creation — as naive UTC,
    which is how openpyxl writes document properties."""
    moment = (evaluation.signed_off_at if evaluation.frozen else None) or evaluation.computed_at \
        or evaluation.created_at
    return sheets.aware(moment).astimezone(UTC).replace(tzinfo=None, microsecond=0)
