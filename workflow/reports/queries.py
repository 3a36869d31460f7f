"""What a user may see, as queries: the web lists and the API both start here, each scoped by the model's
`visible_filter` (the where-clause twin of its can_view), so a list never shows what the page would refuse."""
from __future__ import annotations

from datetime import date

from sqlalchemy import Select, literal, select, union_all
from sqlalchemy.orm import selectinload

from models import (
    Assignment,
    AssignmentRole,
    Contribution,
    Department,
    Period,
    Report,
    Task,
    User,
)
from workflow.calendar.lateness import OUTSTANDING_REPORT
from workflow.extensions import db
from workflow.pagination import paginate


def visible_reports(user: User, *, period: str | None = None, status: str | None = None,
                    department: Department | None = None, task_code: str | None = None,
                    overdue: bool = False, overdue_before: date | None = None, plan_id: int | None = None,
                    ordered: bool = True) -> Select:
    """In period order, then plan (the plans' periods of one quarter start on the same day: ix_period_start_plan
    then reads one plan's period at a time instead of every plan's), then the plan's order.
    `overdue` keeps the outstanding reports due before `overdue_before` (lateness.overdue_before). Without
    `ordered` (a list's count) period and task (never null on a report) are joined only when a filter reads
    them, so counting every visible report reads the report table alone instead of joining it to both."""
    q = select(Report).where(Report.visible_filter(user))
    if ordered or period or overdue:
        q = q.join(Report.period)
    if ordered or plan_id or task_code:
        q = q.join(Report.task)
    if plan_id:
        q = q.where(Task.plan_id == plan_id)
    if period:
        q = q.where(Period.key == period)
    if status:
        q = q.where(Report.status == status)
    if department is not None:
        q = q.where(Report.department_id == department.id)
    if task_code:
        q = q.where(Task.code == task_code)
    if overdue and overdue_before is not None:
        q = q.where(Report.deadline_column() < overdue_before, Report.status.in_(OUTSTANDING_REPORT),
                    Report.withdrawn_at.is_(None))
    if not ordered:
        return q
    return (q.options(selectinload(Report.task), selectinload(Report.department), selectinload(Report.period))
            .order_by(Period.start, Period.plan_id, Task.position, Report.id))


def visible_contributions(user: User, *, report: Report | None = None, department: Department | None = None,
                          period: str | None = None) -> Select:
    """Contributions of the user's department, plus the submitted ones on tasks the user's department leads."""
    q = (select(Contribution).join(Contribution.period).join(Contribution.task)
         .where(Contribution.visible_filter(user))
         .options(selectinload(Contribution.task), selectinload(Contribution.department),
                  selectinload(Contribution.period)))
    if report is not None:
        q = q.where(Contribution.task_id == report.task_id, Contribution.period_id == report.period_id)
    if department is not None:
        q = q.where(Contribution.department_id == department.id)
    if period:
        q = q.where(Period.key == period)
    return q.order_by(Period.start, Task.position, Contribution.id)


def visible_assignments(user: User, *, department: Department | None = None, status: str | None = None,
                        plan_id: int | None = None) -> Select:
    q = (select(Assignment).join(Assignment.task).where(Assignment.visible_filter(user))
         .options(selectinload(Assignment.task).selectinload(Task.plan), selectinload(Assignment.department)))
    if department is not None:
        q = q.where(Assignment.department_id == department.id)
    if status:
        q = q.where(Assignment.status == status)
    if plan_id:
        q = q.where(Task.plan_id == plan_id)
    return q.order_by(Assignment.role != AssignmentRole.LEAD, Task.plan_id, Task.position, Assignment.id)


ITEMS_PER_PAGE = 50


def visible_items_page(user: User, *, department: Department | None, page: int, per_page: int = ITEMS_PER_PAGE):
    """One page of 报送, reports and contributions together, newest period first, a period's reports before its
    contributions, each in plan order: the ids come from one paginated UNION of the two visible queries, then the
    page's rows are loaded by id (with what the list shows), so the page reads a fixed number of rows and
    statements however many periods and tasks the department has. Returns (pagination, reports, contributions).
    """
    def keyed(q: Select, kind: int, model) -> Select:
        return q.order_by(None).with_only_columns(
            literal(kind).label("kind"), model.id.label("id"), Period.start.label("start"),
            Period.plan_id.label("plan_id"), Task.position.label("position"), maintain_column_froms=False)

    both = union_all(keyed(visible_reports(user), 0, Report),
                     keyed(visible_contributions(user, department=department), 1, Contribution)).subquery()
    ordered = select(both.c.kind, both.c.id).order_by(both.c.start.desc(), both.c.plan_id.desc(), both.c.kind,
                                                      both.c.position, both.c.id)
    pagination = paginate(ordered, page=page, per_page=per_page, rows=True)
    wanted = {kind: [row.id for row in pagination.items if row.kind == kind] for kind in (0, 1)}
    reports = list(db.session.scalars(visible_reports(user).where(Report.id.in_(wanted[0])))) if wanted[0] else []
    contributions = list(db.session.scalars(visible_contributions(user, department=department)
                                            .where(Contribution.id.in_(wanted[1])))) if wanted[1] else []
    return pagination, reports, contributions
