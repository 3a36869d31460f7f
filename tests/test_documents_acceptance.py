"""Acceptance of the 台账 and the 情况通报 on a simulated year of the bundled plan (demo simulate through the
services): the ledger's totals agree with counts made here with plain queries; the bulletin's PDF (pdftotext)
and Word file (python-docx) name every late department and every open escalation the database holds for the
period, the PDF has page numbers and embedded subset CJK fonts; publishing freezes it and sends it once."""
from __future__ import annotations

import hashlib
import io
import json
import subprocess
from collections import Counter, defaultdict
from datetime import UTC, date, datetime

import openpyxl
import pytest
from docx import Document
from flask import g
from sqlalchemy import func, select

from models import (
    Department,
    Escalation,
    EscalationStatus,
    Notification,
    Period,
    Plan,
    Report,
    ReportStatus,
    Role,
    Task,
    User,
)
from tests.conftest import _config, _empty_tables
from tests.test_evaluation_pdf import pdf_fonts
from workflow import create_app
from workflow.assignments.services import publish_plan
from workflow.auth.tokens import create_token
from workflow.calendar.office import office_calendar
from workflow.clock import local
from workflow.demo import load_demo
from workflow.escalations.services import close_escalation
from workflow.extensions import db
from workflow.simulation import simulate

PUBLISHED = datetime(2026, 1, 5, 1, tzinfo=UTC)
UNTIL = date(2026, 12, 31)
NOW = "2026-12-31T18:00+08:00"
TODAY = date(2026, 12, 31)


@pytest.fixture(scope="module")
def year(database_url, tmp_path_factory):
    """demo load (the bundled plan and its accounts), published in January and played through 2026 (seed 3):
    the app and the plan's id."""
    app = create_app(_config(database_url, UPLOAD_DIR=str(tmp_path_factory.mktemp("uploads"))))

    @app.before_request
    def forget_cached_user():
        g.pop("_login_user", None)

    ctx = app.app_context()
    ctx.push()
    try:
        _empty_tables()
        plan = db.session.get(Plan, load_demo(now=PUBLISHED)["plan_id"])
        publish_plan(plan, actor=None, now=PUBLISHED, first_period="2026Q1")
        result = simulate(plan, until=UNTIL, seed=3)
        assert result["late"] > 0 and result["missing"] > 0 and result["escalations"]["open"] > 0
        yield {"app": app, "plan_id": plan.id}
    finally:
        db.session.remove()
        db.engine.dispose()
        ctx.pop()


def _run(app, *args) -> dict:
    result = app.test_cli_runner().invoke(args=[*args, "--now", NOW, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _independent_rows(plan_id: int, period_key: str | None = None) -> list[dict]:
    """Every report of the plan as plain columns, with its state worked out here from the working days
    between the deadline and the first hand-in (or today while never handed in)."""
    q = (select(Department.name, Report.status, Report.return_count, Report.first_submitted_at, Period.deadline,
                Period.key, Task.code)
         .join(Report.department).join(Report.period).join(Report.task).where(Task.plan_id == plan_id))
    if period_key:
        q = q.where(Period.key == period_key)
    cal = office_calendar()
    rows = []
    for name, status, returns, first, deadline, key, code in db.session.execute(q):
        day = local(first).date() if first else TODAY
        late = cal.workdays_between(deadline, day) > 0 if day > deadline else False
        state = ("late" if late else "on_time") if first else ("missing" if late else "pending")
        rows.append({"department": name, "status": status, "returned": returns > 0, "state": state,
                     "period": key, "task": code})
    return rows


def test_the_ledger_totals_agree_with_an_independent_count(year, tmp_path):
    app, plan_id = year["app"], year["plan_id"]
    out = tmp_path / "台账.xlsx"
    info = _run(app, "ledger", "export", "--plan", str(plan_id), "-o", str(out))
    expected = _independent_rows(plan_id)
    assert info["rows"] == len(expected) == db.session.scalar(
        select(func.count(Report.id)).join(Task).where(Task.plan_id == plan_id))

    wb = openpyxl.load_workbook(out)
    rows = list(wb["按单位汇总"].iter_rows(values_only=True))
    summary = {r[0]: dict(zip(rows[0], r, strict=True)) for r in rows[1:]}
    counted: dict[str, Counter] = defaultdict(Counter)
    for row in expected:
        c = counted[row["department"]]
        c["reports"] += 1
        c[row["state"]] += 1
        c["returned"] += row["returned"]
        c["approved"] += row["status"] == ReportStatus.APPROVED
    assert set(summary) == set(counted)
    for name, c in counted.items():
        got = summary[name]
        assert (got["报告数"], got["按时报送"], got["逾期报送"], got["逾期未报送"], got["待报送"], got["退回过"],
                got["已通过"]) == (c["reports"], c["on_time"], c["late"], c["missing"], c["pending"], c["returned"],
                                 c["approved"]), name
    detail = list(wb["台账"].iter_rows(values_only=True))
    states = Counter(r[detail[0].index("报送情况")] for r in detail[1:])
    total = Counter(row["state"] for row in expected)
    assert states == +Counter({"按时报送": total["on_time"], "逾期报送": total["late"],
                               "逾期未报送": total["missing"], "待报送": total["pending"]})

    csv_out = tmp_path / "台账.csv"
    assert _run(app, "ledger", "export", "--plan", str(plan_id), "-o", str(csv_out))["rows"] == len(expected)
    assert csv_out.read_bytes().startswith(b"\xef\xbb\xbf")


def _late_departments(plan_id: int, key: str) -> set[str]:
    return {r["department"] for r in _independent_rows(plan_id, key) if r["state"] in ("late", "missing")}


def _open_escalations(plan_id: int, key: str) -> set[tuple[str, str]]:
    return set(db.session.execute(
        select(Department.name, Task.code).select_from(Escalation).join(Escalation.department)
        .join(Task, Task.id == Escalation.task_id).join(Period, Period.id == Escalation.period_id)
        .where(Escalation.plan_id == plan_id, Escalation.status == EscalationStatus.OPEN, Period.key == key)).all())


def _docx_text(path) -> tuple[str, list[list[str]]]:
    doc = Document(str(path))
    rows = [[c.text for c in row.cells] for table in doc.tables for row in table.rows]
    return "\n".join(p.text for p in doc.paragraphs), rows


def test_the_bulletin_names_every_late_department_and_open_escalation(year, tmp_path):
    app, plan_id = year["app"], year["plan_id"]
    late, escalated = _late_departments(plan_id, "2026Q3"), _open_escalations(plan_id, "2026Q3")
    assert late and escalated   # the simulated year has both, so the checks below are not vacuous

    pdf = tmp_path / "通报.pdf"
    info = _run(app, "bulletin", "generate", "--plan", str(plan_id), "--period", "2026Q3", "-o", str(pdf))
    assert info["published"] is False and info["number"] is None
    assert set(info["late_departments"]) == late
    assert {(e["department"], e["task"]) for e in info["open_escalations"]} == escalated
    assert info["sha256"] == hashlib.sha256(pdf.read_bytes()).hexdigest()

    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    flat = "".join(text.split())
    for name in late | {d for d, _task in escalated}:
        assert name in flat, name
    for _department, task in escalated:
        assert task in flat, task
    for page in range(1, info["pages"] + 1):
        assert f"第{page}页共{info['pages']}页" in flat
    fonts = pdf_fonts(pdf)
    assert any("CJK" in f[0] for f in fonts)
    assert all(f[-5:-3] == ["yes", "yes"] and "+" in f[0] for f in fonts), fonts   # embedded, subset

    docx = tmp_path / "通报.docx"
    _run(app, "bulletin", "generate", "--plan", str(plan_id), "--period", "2026Q3", "-o", str(docx))
    paragraphs, rows = _docx_text(docx)
    for name in late:
        assert name in paragraphs, name
    for department, task in escalated:
        assert any(r[0] == department and r[1].startswith(f"{task} ") for r in rows), (department, task)
    footer = Document(str(docx)).sections[0].footer._element.xml
    assert 'w:instr="PAGE"' in footer and 'w:instr="NUMPAGES"' in footer


def test_publishing_freezes_the_bulletin_and_sends_it_once(year, tmp_path):
    app, plan_id = year["app"], year["plan_id"]
    late = _late_departments(plan_id, "2026Q3")
    first = _run(app, "bulletin", "generate", "--plan", str(plan_id), "--period", "2026Q3", "--publish",
                 "-o", str(tmp_path / "pub.docx"))
    assert first["published"] is True and first["number"] == "2026年第1期" and set(first["late_departments"]) == late
    readers = db.session.scalar(select(func.count(User.id)).where(User.role.in_([Role.DEPT_HEAD, Role.LEADER]),
                                                                  User.active.is_(True)))
    sent = db.session.scalars(select(Notification.user_id).where(Notification.kind == "bulletin")).all()
    assert len(sent) == len(set(sent)) == readers > 0

    again = app.test_cli_runner().invoke(args=["bulletin", "generate", "--plan", str(plan_id), "--period", "2026Q3",
                                               "--publish", "-o", str(tmp_path / "twice.pdf"), "--now", NOW])
    assert again.exit_code == 1 and "不能重复发布" in again.stderr and not (tmp_path / "twice.pdf").exists()
    assert db.session.scalar(select(func.count(Notification.id)).where(Notification.kind == "bulletin")) == readers

    # The records move on (an open escalation is closed by the office); the published bulletin does not.
    office = db.session.scalar(select(User).where(User.role == Role.OFFICE))
    escalation = db.session.scalar(select(Escalation).join(Period, Period.id == Escalation.period_id)
                                   .where(Escalation.status == EscalationStatus.OPEN, Period.key == "2026Q3"))
    close_escalation(escalation, note="已电话督促", actor=office, now=datetime(2027, 1, 4, 2, tzinfo=UTC))
    later = app.test_cli_runner().invoke(args=["bulletin", "generate", "--plan", str(plan_id), "--period", "2026Q3",
                                               "-o", str(tmp_path / "later.docx"), "--now", "2027-01-04T10:00+08:00",
                                               "--format", "json"])
    assert later.exit_code == 0, later.output
    again = json.loads(later.stdout)
    assert again["sha256"] == first["sha256"] and again["open_escalations"] == first["open_escalations"]
    assert (tmp_path / "later.docx").read_bytes() == (tmp_path / "pub.docx").read_bytes()
    client = app.test_client()
    token_user = db.session.scalar(select(User).where(User.role == Role.LIAISON))
    token = create_token(token_user, name="acceptance", now=datetime(2027, 1, 4, 2, tzinfo=UTC), actor=token_user)[1]
    detail = client.get(f"/api/v1/bulletins/{again['bulletin_id']}",
                        headers={"Authorization": f"Bearer {token}"}).get_json()
    assert detail["number"] == "2026年第1期" and set(detail["late_departments"]) == late
    docx_file = next(f for f in detail["files"] if f["kind"] == "docx")
    download = client.get(docx_file["url"], headers={"Authorization": f"Bearer {token}"})
    assert hashlib.sha256(download.data).hexdigest() == docx_file["sha256"] == first["sha256"]
    assert "2026年第1期" in "\n".join(p.text for p in Document(io.BytesIO(download.data)).paragraphs)
