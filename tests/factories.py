"""Small factories for the reporting cycle: a published plan and the people who act on it."""
from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from pypdf import PdfWriter
from sqlalchemy import select

from models import Department, Period, Report, Role, Task, User
from tests.conftest import FUSHUN, import_text_plan, make_user
from workflow.assignments.services import publish_plan
from workflow.extensions import db
from workflow.reports.services import ReportInput, save_report
from workflow.review.services import approve_report


def _blank_pdf() -> bytes:
    """A whole one-page PDF: uploads must parse as a PDF, not just start like one."""
    writer, buffer = PdfWriter(), io.BytesIO()
    writer.add_blank_page(72, 72)
    writer.write(buffer)
    return buffer.getvalue()


PDF = _blank_pdf()

PUBLISH_AT = datetime(2026, 4, 1, 1, 0, tzinfo=UTC)  # 2026-04-01 09:00 in Shanghai: 2026Q1 has opened
LATER_DAYS = 3  # a few days after publishing, before the 2026Q1 deadline (2026-04-08)


def published_fushun(now: datetime = PUBLISH_AT, first_period: str = "2026Q1"):
    return published_plan(FUSHUN, FUSHUN.name, now=now, first_period=first_period)


def published_plan(text, filename: str, *, now: datetime = PUBLISH_AT, first_period: str = "2026Q1"):
    """A plan (its text or path) imported and published by the office: (plan, office user)."""
    plan = import_text_plan(text, filename)
    office = (db.session.scalar(select(User).where(User.username == "office1"))
              or make_user(Role.OFFICE, username="office1"))
    publish_plan(plan, actor=office, now=now, first_period=first_period)
    return plan, office


def liaison_of(name: str) -> User:
    dept = Department.lookup(name)
    existing = db.session.scalar(select(User).where(User.department_id == dept.id, User.role == Role.LIAISON))
    return existing or make_user(Role.LIAISON, dept)


def report_for(plan, code: str, period_key: str = "2026Q1", department: str | None = None) -> Report:
    from models import Period

    q = (select(Report).join(Task).join(Period)
         .where(Task.plan_id == plan.id, Task.code == code, Period.key == period_key))
    if department:
        q = q.where(Report.department_id == Department.lookup(department).id)
    return db.session.scalars(q).first()


def file_report(plan, office, code: str, dept: str, when: datetime, values: dict[str, object] | None = None,
                approve: bool = True, period: str = "2026Q1") -> Report:
    """A lead department files (and the office approves) its report on `code` for `period` (opened), with target
    values by metric fragment."""
    task = next(t for t in plan.tasks if t.code == code)
    report = db.session.scalar(select(Report).join(Period).where(
        Report.task_id == task.id, Period.key == period, Report.department_id == Department.lookup(dept).id))
    given = {next(t.id for t in task.targets if m in t.metric): str(v) for m, v in (values or {}).items()}
    save_report(report, ReportInput(narrative="进展", percent_complete="30", progress="on_track", values=given),
                actor=liaison_of(dept), now=when, version=report.version, submit=True)
    if approve:
        approve_report(report, actor=office, now=when + timedelta(days=1))
    return report
