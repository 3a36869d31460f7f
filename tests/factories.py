"""Small factories for the reporting cycle: a published plan and the people who act on it."""
from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from models import Department, Report, Role, Task, User
from tests.conftest import FUSHUN, import_text_plan, make_user
from workflow.assignments.services import publish_plan
from workflow.extensions import db

PUBLISH_AT = datetime(2026, 4, 1, 1, 0, tzinfo=UTC)  # 2026-04-01 09:00 in Shanghai: 2026Q1 has opened
LATER_DAYS = 3  # a few days after publishing, before the 2026Q1 deadline (2026-04-08)


def published_fushun(now: datetime = PUBLISH_AT, first_period: str = "2026Q1"):
    plan = import_text_plan(FUSHUN, FUSHUN.name)
    office = make_user(Role.OFFICE, username="office1")
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
