"""The evaluation workbook: the report's tables as numbers and dates the office can sort, the same bytes for the
same evaluation, archived like the PDF."""
from __future__ import annotations

import io
import time
import zipfile
from datetime import UTC, datetime

import openpyxl
import pytest

from models import Department, Escalation, Role
from tests.conftest import EVALUATED_AT as NOW
from tests.conftest import make_user
from tests.factories import file_report, report_for
from workflow.clock import local
from workflow.evaluation import archive, scoring, services
from workflow.evaluation.workbook import build_workbook
from workflow.extensions import db

PARTS = ["报送及时性", "报送质量", "目标完成", "办公室评价"]  # the columns of scoring.PARTS, in order
HEADERS = {
    # 分组 and the workload columns since issue 16 (the ranking within groups)
    "汇总": ["分组", "排名", "单位", "得分", "等次", *PARTS, "基础分", "督办扣分", "调整", "牵头任务数", "配合任务数",
           "应报", "按时", "逾期", "未报", "退回", "督办次数", "工作量", "工作量得分", "排名得分"],
    "任务得分": ["单位", "任务编号", "任务", "角色", "权重", "得分", *PARTS, "办公室评语"],
    "报送记录": ["单位", "任务编号", "类型", "周期", "周期名称", "截止日期", "报送日期", "逾期天数", "得分", "状态",
             "退回次数", "最近退回理由", "计入评分"],
    "目标完成": ["单位", "任务编号", "指标", "目标", "目标年份", "本年应达值", "依据", "最新批准值", "计量单位",
             "取值周期", "得分"],
    "督办与调整": ["单位", "类型", "任务编号", "周期", "日期", "逾期天数", "调整分值", "事由", "状态", "调整人"],
    "评估设置": ["项目", "值"],
}
NUMERIC = {"排名", "得分", "工作量", "工作量得分", "排名得分", *PARTS, "基础分", "督办扣分", "调整", "牵头任务数", "配合任务数", "应报", "按时", "逾期",
           "未报", "退回", "督办次数", "权重", "逾期天数", "退回次数", "目标年份", "本年应达值", "最新批准值", "调整分值"}
DATES = {"截止日期", "报送日期", "日期"}
HOUSING, TRANSPORT = "市住房城乡建设局", "市交通运输局"
FORMULA_LIKE = "=HYPERLINK(\"http://x\") 核实后加分"


def load(data: bytes) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(data))


def records(ws) -> list[dict]:
    rows = list(ws.iter_rows(values_only=True))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


@pytest.fixture
def worked(evaluation):
    """The shared evaluation with a 督办, a rating with its comment and an adjustment whose reason looks like a
    formula: (evaluation, office)."""
    ev, office = evaluation
    missing = report_for(ev.plan, "3.5.2", "2026Q1", TRANSPORT)
    db.session.add(Escalation(key=f"esc:wb:report{missing.id}", plan_id=ev.plan_id, task_id=missing.task_id,
                              period_id=missing.period_id, department_id=missing.department_id, cause="overdue",
                              days_late=5, opened_at=datetime(2026, 4, 16, 2, tzinfo=UTC), report_id=missing.id))
    db.session.commit()
    housing_task = next(t for t in ev.plan.tasks if t.code == "3.4.3")
    services.rate_task(ev, housing_task, score=85, comment="清洁取暖推进有力", actor=office, now=NOW)
    services.adjust_score(ev, Department.lookup(HOUSING), points=2, reason=FORMULA_LIKE, actor=office, now=NOW)
    return ev, office


def test_the_sheets_hold_every_department_with_numbers_and_dates(worked, app):
    ev, office = worked
    wb = load(build_workbook(ev))

    assert wb.sheetnames == list(HEADERS)
    for name, headers in HEADERS.items():
        ws = wb[name]
        assert [c.value for c in ws[1]] == headers, name
        assert all(c.font.b for c in ws[1]) and ws.freeze_panes == "A2", name
        assert all(ws.column_dimensions[c.column_letter].width >= 6 for c in ws[1]), name
        if name != "评估设置":
            assert ws.auto_filter.ref == f"A1:{ws.cell(1, len(headers)).column_letter}{ws.max_row}", name
            assert ws.max_row > 1, name
        for row in records(ws):
            for header, value in row.items():
                if header in NUMERIC:
                    assert value is None or type(value) in (int, float), (name, header, value)
                if header in DATES:
                    assert value is None or isinstance(value, datetime), (name, header, value)

    summary = {r["单位"]: r for r in records(wb["汇总"])}
    assert set(summary) == {s.department.name for s in ev.scores} and len(summary) == len(ev.scores)
    for s in ev.scores:
        row = summary[s.department.name]
        assert (row["排名"], row["得分"], row["等次"]) == (s.rank, float(s.score), s.grade)
        assert [row[name] for name in PARTS] == [s.parts[p] for p in scoring.PARTS]
        assert (row["基础分"], row["督办扣分"], row["调整"]) == (float(s.base_score), float(s.deduction),
                                                        float(s.adjustment))
        assert (row["应报"], row["按时"], row["逾期"], row["未报"], row["督办次数"]) == tuple(
            s.parts[k] for k in ("due", "on_time", "late", "missing", "escalations"))
    # Issue 16: ranked within groups (分组), in the stored order; a department not ranked has no 排名
    assert [(r["分组"], r["排名"]) for r in records(wb["汇总"])] == [(s.group_name, s.rank) for s in ev.scores]
    assert summary[HOUSING]["调整"] == 2 and summary[TRANSPORT]["督办次数"] == 1 and summary[TRANSPORT]["督办扣分"] == 1

    tasks = [r for r in records(wb["任务得分"]) if r["单位"] == HOUSING and r["任务编号"] == "3.4.3"]
    assert tasks and tasks[0]["角色"] == "牵头" and tasks[0]["权重"] == 1
    assert tasks[0]["办公室评价"] == 85 and tasks[0]["办公室评语"] == "清洁取暖推进有力"

    items = wb["报送记录"]
    filed = [r for r in records(items) if (r["单位"], r["任务编号"], r["周期"]) == (HOUSING, "3.4.3", "2026Q1")]
    assert filed == [{**filed[0], "类型": "报告", "截止日期": datetime(2026, 4, 8), "报送日期": datetime(2026, 4, 7),
                      "逾期天数": 0, "得分": 100, "状态": "已通过", "退回次数": 0, "计入评分": "是"}]
    assert items["F2"].number_format == "yyyy-mm-dd"

    targets = [r for r in records(wb["目标完成"]) if r["单位"] == TRANSPORT and r["任务编号"] == "3.5.1"]
    assert targets and targets[0]["最新批准值"] == 60 and targets[0]["取值周期"] == "2026Q1"
    assert (targets[0]["本年应达值"], targets[0]["依据"], targets[0]["得分"]) == (66, "线性路径", 90.91)

    events = wb["督办与调整"]
    rows = records(events)
    escalation = next(r for r in rows if r["类型"] == "督办")
    assert (escalation["单位"], escalation["任务编号"], escalation["周期"], escalation["日期"], escalation["逾期天数"],
            escalation["事由"], escalation["状态"]) == (TRANSPORT, "3.5.2", "2026Q1", datetime(2026, 4, 16), 5,
                                                    "逾期未报送", "未关闭")
    adjustment = next(r for r in rows if r["类型"] == "分数调整")
    assert (adjustment["单位"], adjustment["调整分值"], adjustment["事由"], adjustment["调整人"]) == (
        HOUSING, 2, FORMULA_LIKE, office.display)
    assert adjustment["日期"] == local(NOW).replace(tzinfo=None)
    reason_cell = next(c for c in events["H"] if c.value == FORMULA_LIKE)
    assert reason_cell.data_type == "s"  # typed text never becomes a formula

    settings = dict(wb["评估设置"].iter_rows(min_row=2, values_only=True))
    assert settings["状态"] == "草稿" and settings["签认领导"] is None and settings["签认时间"] is None
    assert settings["评估年度"] == 2026 and settings["优秀分数线（不低于）"] == 90 and settings["逾期每天扣分"] == 5
    assert settings["报送及时性权重"] == 30 and settings["配合任务权重"] == 0.5
    assert settings["计算时间"] == local(NOW).replace(tzinfo=None)
    assert settings["评估单位"] == app.config["OFFICE_NAME"]

    assert wb.properties.creator == app.config["OFFICE_NAME"]
    assert wb.properties.created == wb.properties.modified == NOW.replace(tzinfo=None)


def test_the_same_evaluation_gives_the_same_bytes_whenever_it_is_built(worked, monkeypatch):
    ev, _ = worked
    first = build_workbook(ev)
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 3 * 86400 + 7)   # openpyxl stamps zip entries with this
    assert build_workbook(ev) == first
    stamp = local(NOW)
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        assert {i.date_time for i in archive.infolist()} == {
            (stamp.year, stamp.month, stamp.day, stamp.hour, stamp.minute, stamp.second)}
        core = archive.read("docProps/core.xml").decode()
    assert core.count(NOW.strftime("%Y-%m-%dT%H:%M:%SZ")) == 2   # created and modified


def test_a_signed_off_evaluation_shows_who_and_when_and_ignores_later_records(worked):
    ev, office = worked
    leader = make_user(Role.LEADER, username="leader1")
    signed = datetime(2026, 12, 1, 7, 30, tzinfo=UTC)
    services.sign_off(ev, actor=leader, now=signed, note="同意")
    frozen = build_workbook(ev)
    wb = load(frozen)
    settings = dict(wb["评估设置"].iter_rows(min_row=2, values_only=True))
    assert (settings["状态"], settings["签认领导"], settings["签认时间"], settings["签认意见"]) == (
        "已签认", leader.display, datetime(2026, 12, 1, 15, 30), "同意")
    assert wb.properties.created == wb.properties.modified == datetime(2026, 12, 1, 7, 30)

    file_report(ev.plan, office, "3.5.2", TRANSPORT, datetime(2026, 12, 2, 2, tzinfo=UTC), {"新能源": 100, "碳排放强度": 3})
    services.compute_evaluation(ev, actor=office, now=datetime(2026, 12, 3, tzinfo=UTC))
    assert build_workbook(ev) == frozen


def test_the_workbook_is_archived_like_the_pdf(worked):
    ev, office = worked
    archived = archive.generate_workbook(ev, actor=office, now=NOW)
    assert archived.kind == "xlsx" and archived.filename.endswith(".xlsx") and archived.created_by_id == office.id
    assert archive.read_file(archived) == build_workbook(ev)
