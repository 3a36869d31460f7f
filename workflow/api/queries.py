"""Read-side queries the API needs beyond workflow.reports.queries, scoped by the models' rules like the web UI:
plans are the overview of office, leaders and admins (Plan.visible_to); a department's people see the tasks
their department has a part in (Task.visible_filter)."""
from __future__ import annotations

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import selectinload

from models import Assignment, AuditEvent, Department, Period, Plan, Report, Task, User
from models.base import contains
from workflow.extensions import db


def visible_tasks(user: User, *, plan_id: int | None = None, department: Department | None = None,
                  q: str | None = None) -> Select:
    stmt = select(Task).where(Task.visible_filter(user)).options(
        selectinload(Task.assignments).selectinload(Assignment.department), selectinload(Task.targets))
    if plan_id:
        stmt = stmt.where(Task.plan_id == plan_id)
    if department is not None:
        stmt = stmt.where(Task.has_department(department.id))
    if q:
        stmt = stmt.where(or_(Task.code == q, contains(Task.title, q), contains(Task.text, q)))
    return stmt.order_by(Task.plan_id, Task.position, Task.id)


def load_task(task_id: int) -> Task | None:
    return db.session.scalar(select(Task).where(Task.id == task_id).options(
        selectinload(Task.assignments).selectinload(Assignment.department), selectinload(Task.targets)))


def plans() -> Select:
    return select(Plan).order_by(Plan.id.desc())


def task_counts(plans: list[Plan]) -> dict[int, int]:
    """Each plan's number of tasks, in one query for a page of plans."""
    rows = db.session.execute(select(Task.plan_id, func.count(Task.id))
                              .where(Task.plan_id.in_([p.id for p in plans])).group_by(Task.plan_id))
    return {plan_id: count for plan_id, count in rows}


def plan_periods(plan: Plan) -> Select:
    return select(Period).where(Period.plan_id == plan.id).order_by(Period.start)


def report_audit(report: Report) -> Select:
    """The report's append-only trail: transitions, attachments; oldest first."""
    return (select(AuditEvent).where(AuditEvent.object_type == Report.__tablename__,
                                     AuditEvent.object_id == report.id)
            .options(selectinload(AuditEvent.actor)).order_by(AuditEvent.at, AuditEvent.id))
