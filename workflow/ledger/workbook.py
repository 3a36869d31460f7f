"""The 台账 as an Excel workbook and as CSV, in Chinese whoever asks (they are the office's documents).

Sheets: 台账 (every row), 按单位汇总 (the counts per lead department), 指标填报 (each reported target value as a
number), then one sheet per lead department with its own rows, to hand each department its tab. The CSV is
the 台账 sheet. Cells go through workflow.spreadsheets: frozen header, filter, fitted widths, numbers and dates
typed, typed text never a formula. The same rows at the same moment give the same bytes.
"""
from __future__ import annotations

from datetime import UTC, datetime

from flask import current_app
from openpyxl import Workbook

from models import Plan
from workflow import spreadsheets as sheets
from workflow.labels import chinese, label
from workflow.ledger.services import LedgerRow, tally_by

HEADERS = ["领域", "任务编号", "任务", "牵头单位", "配合单位", "周期", "截止日期", "首次报送时间", "最近报送时间",
           "逾期工作日", "报送情况", "状态", "进展", "完成比例（%）", "填报指标值", "退回次数", "退回理由",
           "催督级别", "催督情况"]
SUMMARY_HEADERS = ["单位", "报告数", "应报", "按时报送", "逾期报送", "逾期未报送", "待报送", "已撤销", "退回过",
                   "已通过", "督办未关闭", "按时率（%）"]
VALUE_HEADERS = ["任务编号", "任务", "牵头单位", "周期", "指标", "目标", "目标年份", "填报值", "计量单位", "状态"]
SHEET_ALL, SHEET_SUMMARY, SHEET_VALUES = "台账", "按单位汇总", "指标填报"


def _cells(row: LedgerRow) -> list:
    return [row.area or None, row.task_code, row.task_title, row.lead, "、".join(row.co) or None,
            row.period_label, row.deadline, sheets.local_naive(row.first_submitted_at),
            sheets.local_naive(row.submitted_at), row.late.working, label("ledger_state", row.state),
            row.status_label, label("progress", row.progress) if row.progress else None, row.percent_complete,
            row.values_text or None, len(row.return_reasons), row.return_reasons_text or None, row.level,
            row.level_label or None]


def _values(rows: list[LedgerRow]) -> list[list]:
    return [[row.task_code, row.task_title, row.lead, row.period_label, v.metric or None, v.target, v.year,
             sheets.num(v.value), v.unit or None, row.status_label]
            for row in rows for v in row.values if v.value is not None]


def _summary(rows: list[LedgerRow]) -> list[list]:
    counts = tally_by(sorted(rows, key=lambda r: r.lead), lambda r: r.lead)
    return [[name, t.reports, t.due, t.on_time, t.late, t.missing, t.pending, t.withdrawn, t.returned, t.approved,
             t.escalated, t.on_time_rate] for name, t in counts.items()]


def build_workbook(plan: Plan, rows: list[LedgerRow], *, now: datetime) -> bytes:
    with chinese():
        wb = Workbook()
        wb.remove(wb.active)
        taken = {SHEET_ALL.casefold(), SHEET_SUMMARY.casefold(), SHEET_VALUES.casefold()}
        sheets.sheet(wb, SHEET_ALL, HEADERS, [_cells(r) for r in rows])
        sheets.sheet(wb, SHEET_SUMMARY, SUMMARY_HEADERS, _summary(rows))
        sheets.sheet(wb, SHEET_VALUES, VALUE_HEADERS, _values(rows))
        by_department: dict[str, list[LedgerRow]] = {}
        for row in rows:
            by_department.setdefault(row.lead, []).append(row)
        for name in sorted(by_department):
            sheets.sheet(wb, sheets.sheet_title(name, taken), HEADERS, [_cells(r) for r in by_department[name]])
        office = current_app.config.get("OFFICE_NAME", "领导小组办公室")
        moment = now.astimezone(UTC).replace(tzinfo=None, microsecond=0)
        return sheets.workbook_bytes(wb, moment=moment, creator=office, title=f"{plan.title}台账")


def build_csv(rows: list[LedgerRow]) -> bytes:
    with chinese():
        return sheets.csv_bytes(HEADERS, [_cells(r) for r in rows])
