"""The 台账: the workbook opens with its sheets, typed cells and no formulas; the CSV carries its BOM; the command
line's JSON and its refusals; the page and downloads hold a department to its own rows; queries stay constant."""
from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import UTC, datetime

import openpyxl
import pytest
import time_machine

from models import Department, Escalation, Role, Task
from tests.conftest import count_queries
from tests.factories import liaison_of, published_fushun, report_for
from workflow.assignments.services import open_due_periods
from workflow.extensions import db
from workflow.ledger.services import LedgerFilters, ledger_rows, total
from workflow.ledger.workbook import HEADERS
from workflow.reports.services import ReportInput, save_report
from workflow.review.services import approve_report, return_report
from workflow.tasks.closure import close_task

HOUSING, TRANSPORT, DEVELOPMENT = "市住房城乡建设局", "市交通运输局", "市发展改革委"
NOW = datetime(2026, 4, 20, 2, tzinfo=UTC)           # 10:00 in Shanghai, after the 2026Q1 deadline (04-08)
FORMULA_REASON = '=HYPERLINK("http://x","请点此")'
NUMERIC = {"逾期工作日", "完成比例（%）", "退回次数", "催督级别"}
DATES = {"截止日期", "首次报送时间", "最近报送时间"}


def _file(plan, code: str, dept: str, when: datetime, *, values: dict | None = None, percent: str = "30"):
    report = report_for(plan, code, "2026Q1", dept)
    task = report.task
    given = {t.id: "1" for t in task.targets}   # submitting needs every target's value
    given.update({next(t.id for t in task.targets if m in t.metric): str(v) for m, v in (values or {}).items()})
    save_report(report, ReportInput(narrative="进展", percent_complete=percent, progress="on_track", values=given),
                actor=liaison_of(dept), now=when, version=report.version, submit=True)
    return report


@pytest.fixture
def ledger_world(app):
    """The bundled plan at 2026-04-20, in 2026Q1: housing's 3.4.3 on time with values and approved, 3.4.1 late
    (returned with a reason that looks like a formula, then resubmitted), transport's 3.5.2 never filed and
    escalated, the rest untouched."""
    plan, office = published_fushun()
    on_time = _file(plan, "3.4.3", HOUSING, datetime(2026, 4, 7, 2, tzinfo=UTC),
                    values={"清洁取暖率": 97, "可再生能源替代率": "8.5"}, percent="40")
    approve_report(on_time, actor=office, now=datetime(2026, 4, 8, 2, tzinfo=UTC))
    late = _file(plan, "3.4.1", HOUSING, datetime(2026, 4, 10, 2, tzinfo=UTC))
    return_report(late, actor=office, now=datetime(2026, 4, 13, 2, tzinfo=UTC), reason=FORMULA_REASON)
    save_report(late, ReportInput(narrative="补充", percent_complete="35", progress="at_risk",
                                  values={t.id: "2" for t in late.task.targets}),
                actor=liaison_of(HOUSING), now=datetime(2026, 4, 14, 2, tzinfo=UTC), version=late.version,
                submit=True)
    missing = report_for(plan, "3.5.2", "2026Q1", TRANSPORT)
    db.session.add(Escalation(key=f"esc:ledger:{missing.id}", plan_id=plan.id, task_id=missing.task_id,
                              period_id=missing.period_id, department_id=missing.department_id, cause="overdue",
                              days_late=5, opened_at=datetime(2026, 4, 16, 2, tzinfo=UTC), report_id=missing.id))
    db.session.commit()
    return plan, office


def _export(runner, plan, path, *extra):
    return runner.invoke(args=["ledger", "export", "--plan", str(plan.id), "-o", str(path),
                               "--now", "2026-04-20T10:00+08:00", *extra])


def _records(ws) -> list[dict]:
    rows = list(ws.iter_rows(values_only=True))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def _by_code(records: list[dict]) -> dict[str, dict]:
    return {r["任务编号"]: r for r in records}


def test_the_workbook_has_its_sheets_typed_cells_and_no_formulas(ledger_world, runner, tmp_path):
    plan, _office = ledger_world
    out = tmp_path / "台账.xlsx"
    result = _export(runner, plan, out)
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    data = out.read_bytes()
    assert info == {"path": str(out.resolve()), "rows": info["rows"], "bytes": len(data),
                    "sha256": hashlib.sha256(data).hexdigest()}

    wb = openpyxl.load_workbook(io.BytesIO(data))
    assert wb.sheetnames[:3] == ["台账", "按单位汇总", "指标填报"]
    ws = wb["台账"]
    assert [c.value for c in ws[1]] == HEADERS and all(c.font.bold for c in ws[1])
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == f"A1:S{info['rows'] + 1}"
    assert ws.column_dimensions["C"].width > 20            # fitted to the task titles, not the default 13
    records = _records(ws)
    leads = [a for t in plan.tasks for a in t.active_assignments if a.role == "lead"]
    # 2026Q1 and 2026Q2 (begun on the day of publishing): one report per task, lead department and period.
    assert len(records) == info["rows"] == 2 * len(leads)
    assert wb.sheetnames[3:] == sorted({a.department.name for a in leads})
    rows = _by_code([r for r in records if r["周期"] == "2026年第一季度"])

    good, late, missing = rows["3.4.3"], rows["3.4.1"], rows["3.5.2"]
    assert good["领域"] == "3.4 推动城乡建设碳达峰" and good["牵头单位"] == HOUSING and "市发展改革委" in good["配合单位"]
    assert good["周期"] == "2026年第一季度" and good["报送情况"] == "按时报送" and good["状态"] == "已通过"
    assert good["首次报送时间"] == datetime(2026, 4, 7, 10, 0) and good["逾期工作日"] == 0
    assert "清洁取暖率" in good["填报指标值"] and "97" in good["填报指标值"] and good["完成比例（%）"] == 40
    assert (late["报送情况"], late["逾期工作日"], late["退回次数"]) == ("逾期报送", 2, 1)
    assert late["退回理由"] == FORMULA_REASON and late["进展"] == "存在风险" and late["状态"] == "待审核"
    assert (missing["报送情况"], missing["状态"], missing["首次报送时间"]) == ("逾期未报送", "未报送", None)
    assert missing["逾期工作日"] == 8 and missing["催督级别"] == 3 and missing["催督情况"] == "督办（未关闭）"

    for sheet in wb.worksheets:
        headers = [c.value for c in sheet[1]]
        for row in sheet.iter_rows(min_row=2):
            for header, cell in zip(headers, row, strict=True):
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                if cell.value is None:
                    continue
                if header in DATES:
                    assert cell.is_date and cell.number_format.startswith("yyyy-mm-dd"), cell.coordinate
                elif header in NUMERIC or header == "填报值":
                    assert isinstance(cell.value, int | float), (header, cell.value)
    reason_cell = next(c for c in wb["台账"]["Q"] if c.value == FORMULA_REASON)
    assert reason_cell.data_type == "s"

    summary = _by_code([{**r, "任务编号": r["单位"]} for r in _records(wb["按单位汇总"])])
    assert summary[HOUSING]["按时报送"] == 1 and summary[HOUSING]["逾期报送"] == 1
    assert summary[TRANSPORT]["逾期未报送"] >= 1 and summary[TRANSPORT]["督办未关闭"] == 1
    values = [r for r in _records(wb["指标填报"]) if r["任务编号"] == "3.4.3"]
    assert {r["填报值"] for r in values} == {97, 8.5, 1} and all(r["牵头单位"] == HOUSING for r in values)
    own = _records(wb[HOUSING])
    assert own and {r["牵头单位"] for r in own} == {HOUSING}

    again = tmp_path / "again.xlsx"
    assert json.loads(_export(runner, plan, again).stdout)["sha256"] == info["sha256"]   # same rows, same bytes


def test_the_csv_has_a_bom_and_formula_safe_text(ledger_world, runner, tmp_path):
    plan, _office = ledger_world
    out = tmp_path / "ledger.csv"
    result = _export(runner, plan, out, "--department", HOUSING, "--period", "2026Q1", "--area", "3.4")
    assert result.exit_code == 0, result.output
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert json.loads(result.stdout)["rows"] == len(rows) > 0
    assert {r["牵头单位"] for r in rows} == {HOUSING} and all(r["任务编号"].startswith("3.4.") for r in rows)
    late = next(r for r in rows if r["任务编号"] == "3.4.1")
    assert late["退回理由"] == "'" + FORMULA_REASON and late["截止日期"] == "2026-04-08"
    assert late["首次报送时间"] == "2026-04-10 10:00" and late["逾期工作日"] == "2"


@pytest.mark.parametrize(("args", "message"), [
    (["--plan", "999"], "方案不存在"),
    (["--period", "2026Q9"], "2026Q9"),
    (["--period", "2031Q1"], "2031Q1"),
    (["--area", "9.9"], "9.9"),
    (["--department", "市不存在局"], "市不存在局"),
])
def test_bad_input_is_one_line_and_writes_nothing(ledger_world, runner, tmp_path, args, message):
    plan, _office = ledger_world
    out = tmp_path / "x.xlsx"
    base = ["ledger", "export", "--plan", str(plan.id), "-o", str(out)]
    if args[0] == "--plan":
        base[3] = args[1]
        args = []
    result = runner.invoke(args=[*base, *args, "--format", "json"])
    assert result.exit_code == 1 and result.stdout == ""
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_a_wrong_suffix_or_folder_is_refused(ledger_world, runner, tmp_path):
    plan, _office = ledger_world
    for path in (tmp_path / "ledger.pdf", tmp_path / "missing" / "ledger.xlsx"):
        result = runner.invoke(args=["ledger", "export", "--plan", str(plan.id), "-o", str(path)])
        assert result.exit_code == 1 and len(result.stderr.strip().splitlines()) == 1
        assert not path.exists()


def test_an_unpublished_plan_has_no_ledger(app, runner, tmp_path):
    from tests.conftest import FUSHUN, import_text_plan

    plan = import_text_plan(FUSHUN, FUSHUN.name)
    result = runner.invoke(args=["ledger", "export", "--plan", str(plan.id), "-o", str(tmp_path / "x.csv")])
    assert result.exit_code == 1 and "尚未发布" in result.stderr


def test_the_command_line_writes_what_the_office_downloads(ledger_world, runner, client, login_as, tmp_path):
    """One build for the page's export, the background job and `flask ledger export`: the same bytes."""
    plan, _office = ledger_world
    out = tmp_path / "ledger.csv"
    assert _export(runner, plan, out, "--period", "2026Q1").exit_code == 0
    with time_machine.travel(NOW, tick=False):
        login_as(Role.OFFICE)
        web = client.get(f"/ledger/export.csv?plan={plan.id}&period=2026Q1")
    assert web.status_code == 200 and out.read_bytes() == web.data


def test_a_department_downloads_only_its_own_rows(ledger_world, client, login_as):
    with time_machine.travel(NOW, tick=False):
        login_as(Role.LIAISON, department=HOUSING)
        page = client.get("/ledger/")
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert "3.4.3" in html and "3.5.2" not in html and TRANSPORT not in html
        # Asking for another department is ignored: the rows stay the department's own.
        other = Department.lookup(TRANSPORT)
        xlsx = client.get(f"/ledger/export.xlsx?department={other.id}")
        assert xlsx.status_code == 200 and "attachment" in xlsx.headers["Content-Disposition"]
        wb = openpyxl.load_workbook(io.BytesIO(xlsx.data))
        assert {r["牵头单位"] for r in _records(wb["台账"])} == {HOUSING}
        assert wb.sheetnames == ["台账", "按单位汇总", "指标填报", HOUSING]
        text = client.get("/ledger/export.csv").data.decode("utf-8-sig")
        assert {r["牵头单位"] for r in csv.DictReader(io.StringIO(text))} == {HOUSING}

        login_as(Role.OFFICE)
        html = client.get(f"/ledger/?department={other.id}").get_data(as_text=True)
        assert "3.5.2" in html and "3.4.3" not in html and "逾期未报送" in html


def test_the_page_and_export_run_a_constant_number_of_queries(ledger_world, client, login_as):
    plan, _office = ledger_world
    login_as(Role.OFFICE)
    counts = []
    for when in (NOW, datetime(2026, 10, 20, 2, tzinfo=UTC)):   # one period, then three periods of reports
        open_due_periods(plan, now=when)
        with time_machine.travel(when, tick=False):
            counts.append((count_queries(lambda: client.get("/ledger/")),
                           count_queries(lambda: client.get("/ledger/export.xlsx")),
                           count_queries(lambda: client.get("/ledger/?page=2"))))
    assert counts[0] == counts[1], counts
    assert max(counts[0]) < 30, counts


def test_a_report_withdrawn_by_the_tasks_closure_is_neither_owed_nor_missing(ledger_world, runner, client, login_as,
                                                                          tmp_path):
    """A draft left when the office closes its task is owed by no one: the ledger says 已撤销, not 待报送 or
    逾期未报送, and the summaries leave it out of 应报 (so it does not lower the on-time rate)."""
    plan, office = ledger_world
    filters = LedgerFilters(plan_id=plan.id, periods=("2026Q1",))
    before = {r.task_code: r for r in ledger_rows(filters, viewer=None, now=NOW)}
    code = next(c for c, r in before.items() if r.state == "missing" and not r.escalation_open)
    closed = before[code]
    close_task(db.session.get(Task, closed.task_id), actor=office, now=datetime(2026, 4, 15, 2, tzinfo=UTC),
               reason="并入其他任务")
    after = {r.task_code: r for r in ledger_rows(filters, viewer=None, now=NOW)}
    assert after[code].state == "withdrawn" and after[code].withdrawn_at is not None
    assert {c: r.state for c, r in after.items() if c != code} == {c: r.state for c, r in before.items() if c != code}
    was, now = total(list(before.values())), total(list(after.values()))
    assert (now.withdrawn, now.missing, now.due) == (1, was.missing - 1, was.due - 1)
    assert now.on_time_rate > was.on_time_rate

    out = tmp_path / "台账.xlsx"
    assert _export(runner, plan, out, "--period", "2026Q1").exit_code == 0
    wb = openpyxl.load_workbook(out)
    assert _by_code(_records(wb["台账"]))[code]["报送情况"] == "已撤销"
    lead = {r["单位"]: r for r in _records(wb["按单位汇总"])}[closed.lead]
    assert lead["已撤销"] == 1 and lead["应报"] == lead["报告数"] - lead["待报送"] - 1

    with time_machine.travel(NOW, tick=False):
        login_as(Role.OFFICE)
        html = client.get("/ledger/?period=2026Q1").get_data(as_text=True)
    assert html.count("已撤销") >= 2        # the column of the summary and the row's state
