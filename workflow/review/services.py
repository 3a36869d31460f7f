"""The office's review: the queue, approve (optional comment), return (reason required), bulk approve."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import gettext as _
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import Select, func, select
from sqlalchemy.orm import selectinload

from models import AREA_LEVEL, Department, OutlineNode, Period, Plan, Report, ReportStatus, Task, User
from workflow import notify
from workflow.calendar.lateness import OUTSTANDING_REPORT, due_soon_before, overdue_before
from workflow.calendar.office import office_calendar
from workflow.calendar.workdays import WorkdayCalendar
from workflow.clock import local
from workflow.domain import Conflict, PermissionDenied, ValidationFailed, require
from workflow.extensions import db
from workflow.overview.lights import Rules
from workflow.pagination import paginate
from workflow.transitions import apply_transition, check


def approve_report(report: Report, *, actor: User, now: datetime, comment: str = "",
                   version: int | None = None) -> Report:
    apply_transition(report, "approve", actor=actor, now=now, version=version, comment=(comment or "").strip(),
                     changes={"reviewed_at": now},
                     notify=lambda: _tell_department(report, now=now, kind="report.approved",
                                                     subject=f"任务 {report.task.code} {report.period.label}报告已审核通过"))
    return report


def return_report(report: Report, *, actor: User, now: datetime, reason: str, version: int | None = None) -> Report:
    check(report, "return", actor=actor, version=version)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed({"reason": _("退回时必须说明理由。")})
    count = report.return_count + 1
    apply_transition(report, "return", actor=actor, now=now, comment=reason,
                     changes={"reviewed_at": now, "last_return_reason": reason, "return_count": count},
                     notify=lambda: _tell_department(
                         report, now=now, kind="report.returned", level=count, body=f"退回理由：{reason}",
                         subject=f"任务 {report.task.code} {report.period.label}报告被退回，请修改后重新报送"))
    return report


def bulk_approve(report_ids: list[int], *, actor: User, now: datetime, comment: str = "") -> tuple[int, list[str]]:
    """Approve each selected report on its own; one that cannot be approved is reported, not fatal."""
    require(actor.is_reviewer, _("只有领导小组办公室可以审核报告。"))
    approved, problems = 0, []
    for report_id in report_ids:
        report = db.session.get(Report, report_id)
        if report is None:
            problems.append(_("报告 #%(report_id)s 不存在", report_id=report_id))
            continue
        try:
            approve_report(report, actor=actor, now=now, comment=comment)
            approved += 1
        except (Conflict, PermissionDenied) as exc:
            problems.append(f"{report.task.code} {report.department.name}：{exc.message}")
    return approved, problems


def _tell_department(report: Report, *, now: datetime, kind: str, subject: str, body: str = "",
                     level: int = 0) -> None:
    for user in notify.department_users(report.department_id):
        notify.queue(user, kind=kind, key=f"{kind}:r{report.id}:{level}", subject=subject, body=body,
                     link=f"/reports/{report.id}", now=now)


# -- the queue -------------------------------------------------------------------------------------------

@dataclass
class QueueFilters:
    status: str | None = ReportStatus.SUBMITTED
    department_id: int | None = None
    period_key: str | None = None
    area: str | None = None          # the code of a top-level outline part, e.g. '3.4'
    overdue: bool = False
    plan_id: int | None = None
    year: int | None = None          # periods ending in that year (the evaluation's and the overview's year)
    due: str | None = None           # 'not_due' or 'due_soon': not late, and the deadline beyond / within the
                                     # plan's due-soon working days (the overview's report states)
    page: int = 1
    per_page: int = 50


DUE_CHOICES = ("not_due", "due_soon")


@dataclass(frozen=True)
class Cutoffs:
    """The day bounds of `overdue` and `due` on the office calendar (lateness.overdue_before, due_soon_before)."""

    overdue: date
    due_soon: date


def _filtered(f: QueueFilters, *, cutoff: Cutoffs, ordered: bool = False) -> Select:
    """The reports matching `f`. Period and task (never null on a report) are joined only when a filter, or the
    page's order (`ordered`), reads them: the office's counts under no filter then read the report table alone
    instead of joining every report of every plan to its task and period."""
    q = select(Report)
    if ordered or f.period_key or f.year or f.overdue or f.due:
        q = q.join(Report.period)
    if ordered or f.plan_id or f.area:
        q = q.join(Report.task)
    if f.plan_id:
        q = q.where(Task.plan_id == f.plan_id)
    if f.status:
        q = q.where(Report.status == f.status)
    if f.department_id:
        q = q.where(Report.department_id == f.department_id)
    if f.period_key:
        q = q.where(Period.key == f.period_key)
    if f.year:
        q = q.where(Period.end >= date(f.year, 1, 1), Period.end <= date(f.year, 12, 31))
    if f.area:
        q = q.where(Task.in_area(f.area))
    if f.overdue:
        q = q.where(Report.deadline_column() < cutoff.overdue, Report.status.in_(OUTSTANDING_REPORT),
                    Report.withdrawn_at.is_(None))
    if f.due == "due_soon":
        q = q.where(Report.deadline_column() >= cutoff.overdue, Report.deadline_column() < cutoff.due_soon)
    elif f.due == "not_due":
        q = q.where(Report.deadline_column() >= cutoff.due_soon)
    return q


def _cutoffs(f: QueueFilters, today: date, calendar: WorkdayCalendar) -> Cutoffs:
    """`due_soon` counts the plan's light rule (the overview's yellow), the default without a plan filter."""
    plan = db.session.get(Plan, f.plan_id) if f.plan_id and f.due else None
    n = Rules.of(plan.light_rules if plan else None).due_soon_workdays
    return Cutoffs(overdue_before(today, calendar), due_soon_before(today, n, calendar))


def review_queue(f: QueueFilters, *, now: datetime,
                 calendar: WorkdayCalendar | None = None) -> tuple[Pagination, dict[str, int]]:
    """One page of the reports matching the filters, oldest submission (then deadline) first, and the counts per
    state (and overdue) under the same filters but any status.

    Overdue means at least one working day late (lateness.days_late), on the office calendar."""
    cutoff = _cutoffs(f, local(now).date(), calendar or office_calendar())
    same = {"department_id": f.department_id, "period_key": f.period_key, "area": f.area, "plan_id": f.plan_id,
            "year": f.year}
    counts = _state_counts(_filtered(QueueFilters(status=None, **same), cutoff=cutoff))
    # The counts are the page's filters but any status: without overdue / due they add up to the page's total.
    total = None if f.overdue or f.due else counts.get(f.status, 0) if f.status else sum(counts.values())
    page = paginate(
        _filtered(f, cutoff=cutoff, ordered=True)
        .options(selectinload(Report.task), selectinload(Report.department), selectinload(Report.period))
        .order_by(Report.queue_moment(), Period.deadline, Task.position, Report.id),
        page=f.page, per_page=f.per_page, count_from=_filtered(f, cutoff=cutoff), total=total)
    overdue = db.session.scalar(select(func.count()).select_from(
        _filtered(QueueFilters(status=None, overdue=True, **same), cutoff=cutoff).subquery()))
    counts["overdue"] = overdue or 0
    return page, counts


def _state_counts(q: Select) -> dict[str, int]:
    sub = q.subquery()
    rows = db.session.execute(select(sub.c.status, func.count()).group_by(sub.c.status)).all()
    counts = {s: 0 for s in ReportStatus}
    counts.update({status: n for status, n in rows})
    return counts


def queue_choices() -> dict:
    """Filter options: departments leading something, periods, top areas."""
    departments = db.session.scalars(
        select(Department).where(Department.id.in_(select(Report.department_id))).order_by(Department.id)).all()
    periods = db.session.scalars(select(Period.key).distinct().order_by(Period.key)).all()
    # One option per area code (the filter matches the code in every plan), not every plan's areas.
    areas = db.session.execute(select(OutlineNode.code, func.min(OutlineNode.title))
                               .where(OutlineNode.level == AREA_LEVEL).group_by(OutlineNode.code)
                               .order_by(func.min(OutlineNode.position), OutlineNode.code)).all()
    plans = db.session.execute(select(Plan.id, Plan.title).where(Plan.id.in_(select(Period.plan_id)))
                               .order_by(Plan.id)).all()
    return {"departments": departments, "periods": periods, "areas": areas, "plans": plans,
            "years": sorted({int(key[:4]) for key in periods if key[:4].isdigit()})}

