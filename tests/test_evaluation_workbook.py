"""The evaluation workbook: the report's tables as numbers and dates the office can sort, the same bytes for the
same evaluation, archived like the PDF."""
from __future__ import annotations

import io
from datetime import datetime

import openpyxl

from tests.conftest import EVALUATED_AT as NOW
from workflow.evaluation import documents
from workflow.evaluation.workbook import build_workbook


def test_the_workbook_holds_every_department_with_numbers_not_text(evaluation):
    ev, _ = evaluation
    wb = openpyxl.load_workbook(io.BytesIO(build_workbook(ev)))
    assert wb.sheetnames == ["汇总", "任务得分", "报送记录", "目标完成", "督办与调整", "评估设置"]
    summary = list(wb["汇总"].iter_rows(values_only=True))
    assert summary[0][:4] == ("排名", "单位", "得分", "等次") and wb["汇总"].freeze_panes == "A2"
    rows = {r[1]: r for r in summary[1:]}
    assert set(rows) == {s.department.name for s in ev.scores}
    for s in ev.scores:
        rank, _, score, grade = rows[s.department.name][:4]
        assert (rank, score, grade) == (s.rank, float(s.score), s.grade) and isinstance(score, float | int)
    records = list(wb["报送记录"].iter_rows(min_row=2, values_only=True))
    housing = [r for r in records if r[0] == "市住房城乡建设局" and r[1] == "3.4.3" and r[3] == "2026Q1"]
    assert housing and housing[0][4] == datetime(2026, 4, 8) and housing[0][5] == datetime(2026, 4, 7)
    assert housing[0][6] == 0 and housing[0][7] == 100
    settings = dict(wb["评估设置"].iter_rows(min_row=2, values_only=True))
    assert settings["状态"] == "草稿" and settings["优秀分数线"] == 90 and settings["年度"] == 2026


def test_the_same_evaluation_gives_the_same_bytes_and_is_archived(evaluation):
    ev, office = evaluation
    assert build_workbook(ev) == build_workbook(ev)
    archived = documents.generate_workbook(ev, actor=office, now=NOW)
    assert archived.kind == "xlsx" and archived.filename.endswith(".xlsx") and archived.created_by_id == office.id
    assert documents.read_file(archived) == build_workbook(ev)
