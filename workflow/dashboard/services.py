"""The department's home (本单位首页), the start page of liaisons and department heads: what is due this period
and in how many working days, what the office returned and why, the contributions owed to other departments'
leads, what is overdue and under escalation, then the department's tasks, each with a link to its history on
the task page.

Every figure comes from a fixed number of statements, whatever the number of tasks, periods and reports
(tests/test_department_home.py counts them at two sizes). Working days come from workflow.calendar (the
reminders count the same days), names from the models' relationships loaded up front."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime

from flask_babel import gettext as _
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import and_, case, func, or_, select, union_all
from sqlalchemy.orm import contains_eager, joinedload, selectinload

from models import (
    AdjustmentRequest,
    Assignment,
    AssignmentRole,
    AssignmentStatus,
    Contribution,
    ContributionStatus,
    Department,
    Escalation,
    EscalationStatus,
    Period,
    Report,
    ReportStatus,
    Task,
    User,
)
from workflow.calendar.lateness import (
    OUTSTANDING_REPORT,
    Lateness,
    days_late,
    lateness,
    overdue_before,
    resubmission_due,
    workdays_left,
)
from workflow.calendar.office import office_calendar
from workflow.clock import local
from workflow.domain import NotFound
from workflow.extensions import db
from workflow.pagination import paginate
from workflow.scheduling.reminders import rules_for

TASKS_PER_PAGE = 50
LIMIT = 8   # the items each section shows; the rest are on 报送, the full list


@dataclass
class PeriodDue:
    """The department's reports of one open period with one deadline that has not passed, and those still to
    hand in: reports given more time (延期申请) form a group of their own under their new date."""

    period: Period
    deadline: date                              # the reports' own (Report.deadline): the period's or extended
    left: int                                   # working days to the deadline; 0 = due today
    reports: list[Report] = field(default_factory=list)   # the first LIMIT drafts of the group
    drafts: int = 0                             # how many drafts the group has in all
    handed_in: int = 0                          # the department's reports of the period submitted or approved
    total: int = 0


@dataclass(frozen=True)
class Returned:
    """A report the office returned: the reason, and by when it should be back (the reminders' grace)."""

    report: Report
    returned_on: date | None
    resubmit_by: date | None
    left: int
    late: Lateness


@dataclass(frozen=True)
class Owed:
    """A contribution (配合情况) the department owes the task's lead departments, before its deadline."""

    contribution: Contribution
    leads: list[Department]
    left: int


@dataclass(frozen=True)
class Overdue:
    """A draft report or contribution past its period's deadline (returned reports are under Returned)."""

    kind: str                                   # 'report' or 'contribution'
    item: Report | Contribution
    late: Lateness
    escalated: bool                             # an open escalation (shown to those who may see escalations)


@dataclass
class DepartmentHome:
    department: Department
    today: date
    due: list[PeriodDue]
    returned: list[Returned]
    owed: list[Owed]
    overdue: list[Overdue]
    escalations: list[Escalation] | None        # None: the user may not see escalations (a liaison)
    totals: dict[str, int]                      # each section's size: returned, owed, overdue, escalations
    tasks: Pagination                           # of Assignment, lead first, in plan order
    handed: dict[int, int]                      # task id -> the department's reports and contributions in it
    counts: dict[str, int]                      # 'total', 'lead', 'co', 'pending' over every assignment

    @property
    def due_count(self) -> int:
        return sum(g.drafts for g in self.due)

    @property
    def attention(self) -> int:
        """How many things ask for action now (the page's heading)."""
        return self.due_count + sum(self.totals[k] for k in ("returned", "owed", "overdue"))


def department_home(user: User, *, now: datetime, page: int = 1) -> DepartmentHome:
    """The home of the user's department at `now`; NotFound for users without one (office, leaders, admins).
    Each section holds its first LIMIT items and counts the rest (the full lists are on 报送)."""
    department = user.department
    if department is None or user.sees_everything:
        raise NotFound(_("您的账号不属于任何单位。"))
    today = local(now).date()
    calendar = office_calendar()
    cutoff = overdue_before(today, calendar)   # an outstanding item with an earlier deadline is late
    totals = dict.fromkeys(("returned", "owed", "late reports", "late contributions", "escalations"), 0)

    due = {(g.period.id, g.deadline): g for g in _due_periods(department.id, today, calendar)}
    returned, overdue = [], []
    for report, total in _outstanding_reports(department.id, cutoff):
        if report.status == ReportStatus.RETURNED:
            returned.append(_returned(report, today, calendar))
            totals["returned"] = total
        elif report.deadline < cutoff:
            overdue.append(Overdue("report", report, days_late(report, today, calendar), False))
            totals["late reports"] = total
        else:  # in a group _due_periods counted (or in one a concurrent extension made since)
            key = (report.period_id, report.deadline)
            if key not in due:
                due[key] = PeriodDue(report.period, report.deadline, workdays_left(report.deadline, today, calendar))
            due[key].reports.append(report)
            due[key].drafts = total
    owed = []
    for contribution, total in _outstanding_contributions(department.id, cutoff):
        if contribution.deadline < cutoff:
            overdue.append(Overdue("contribution", contribution, days_late(contribution, today, calendar), False))
            totals["late contributions"] = total
        else:
            owed.append(Owed(contribution, contribution.task.leads, workdays_left(contribution.deadline, today,
                                                                                  calendar)))
            totals["owed"] = total
    # Most late first: the earliest deadline (SQL picked each kind's first LIMIT in this order).
    overdue = sorted(overdue, key=lambda o: (o.item.deadline, o.item.task.plan_id, o.item.task.position,
                                             o.kind))[:LIMIT]
    totals["overdue"] = totals.pop("late reports") + totals.pop("late contributions")

    escalations = None
    if user.can_list_escalations():
        escalations, totals["escalations"] = _open_escalations(user, department.id)
        escalated = _escalated(user, department.id, overdue)
        overdue = [replace(o, escalated=(o.item.id, o.kind) in escalated) for o in overdue]

    tasks = paginate(_assignments(department.id), page=page, per_page=TASKS_PER_PAGE)
    return DepartmentHome(
        department=department, today=today, due=sorted(due.values(), key=lambda g: (g.deadline, g.period.id)),
        returned=returned, owed=owed, overdue=overdue, escalations=escalations, totals=totals, tasks=tasks,
        handed=_history_counts(department.id, [a.task_id for a in tasks.items]),
        counts=_assignment_counts(department.id),
    )


def _first_of_each(model, sections: list, order: list, criteria: list, options: list) -> list[tuple[object, int]]:
    """The first LIMIT rows of `model` in each section (rows alike in every expression of `sections`), in
    `order`, each with the size of its section: one statement whatever the number of rows."""
    numbered = (select(model.id.label("id"),
                       func.row_number().over(partition_by=sections, order_by=order).label("n"),
                       func.count().over(partition_by=sections).label("total"))
                .join(model.period).join(model.task).where(*criteria).subquery())
    rows = db.session.execute(select(model, numbered.c.total).join(numbered, numbered.c.id == model.id)
                              .where(numbered.c.n <= LIMIT).options(*options).order_by(numbered.c.n))
    return [(item, total) for item, total in rows]


def _outstanding_reports(department_id: int, cutoff: date) -> list[tuple[Report, int]]:
    """The department's owed reports of opened periods (drafts and returned ones, not withdrawn): the first of
    the returned, of the late drafts, and of the drafts of each period and deadline, in deadline and plan order."""
    deadline = Report.deadline_column()
    returned = Report.status == ReportStatus.RETURNED
    late, on_time = and_(~returned, deadline < cutoff), and_(~returned, deadline >= cutoff)
    return _first_of_each(
        Report, [returned, late, case((on_time, Report.period_id)), case((on_time, deadline))],
        [deadline, Task.plan_id, Task.position, Report.id],
        [Report.department_id == department_id, Period.opened.is_(True), Report.status.in_(OUTSTANDING_REPORT),
         Report.withdrawn_at.is_(None)],
        [joinedload(Report.task).joinedload(Task.plan), joinedload(Report.period)])


def _outstanding_contributions(department_id: int, cutoff: date) -> list[tuple[Contribution, int]]:
    """The first of the department's unsubmitted contributions of opened periods still on time and of the late
    ones (deadline and plan order), with the task's lead departments."""
    return _first_of_each(
        Contribution, [Period.deadline < cutoff], [Period.deadline, Task.plan_id, Task.position, Contribution.id],
        [Contribution.department_id == department_id, Period.opened.is_(True),
         Contribution.status == ContributionStatus.DRAFT, Contribution.withdrawn_at.is_(None)],
        [joinedload(Contribution.task).selectinload(Task.assignments).joinedload(Assignment.department),
         joinedload(Contribution.period)])


def _open_escalations(user: User, department_id: int) -> tuple[list[Escalation], int]:
    """The first LIMIT of the department's open escalations the user may see, oldest first, and how many."""
    criteria = (Escalation.visible_filter(user), Escalation.department_id == department_id,
                Escalation.status == EscalationStatus.OPEN)
    rows = db.session.execute(
        select(Escalation, func.count().over()).where(*criteria)
        .options(joinedload(Escalation.task), joinedload(Escalation.period))
        .order_by(Escalation.opened_at, Escalation.id).limit(LIMIT)
    ).all()
    return [e for e, _ in rows], (rows[0][1] if rows else 0)


def _escalated(user: User, department_id: int, overdue: list[Overdue]) -> set[tuple[int, str]]:
    """Which of the overdue items shown are under an open escalation the user may see: (id, kind)."""
    reports = [o.item.id for o in overdue if o.kind == "report"]
    contributions = [o.item.id for o in overdue if o.kind == "contribution"]
    rows = db.session.execute(select(Escalation.report_id, Escalation.contribution_id).where(
        Escalation.visible_filter(user), Escalation.department_id == department_id,
        Escalation.status == EscalationStatus.OPEN,
        or_(Escalation.report_id.in_(reports), Escalation.contribution_id.in_(contributions))))
    return {(c, "contribution") if c is not None else (r, "report") for r, c in rows}


def _due_periods(department_id: int, today: date, calendar) -> list[PeriodDue]:
    """The department's reports of opened periods grouped by period and their own deadline (an approved
    extension's, else the period's), the groups whose deadline has not passed by a working day
    (lateness.overdue_before: nothing due in them is late yet), with how many reports are handed in."""
    groups: dict[tuple[int, date], PeriodDue] = {}
    deadline = Report.deadline_column()
    rows = db.session.execute(
        select(Period, deadline, Report.status, func.count(Report.id)).join(Report, Report.period_id == Period.id)
        .where(Report.department_id == department_id, Period.opened.is_(True), Report.withdrawn_at.is_(None),
               deadline >= overdue_before(today, calendar))
        .group_by(Period.id, deadline, Report.status)
    )
    for period, day, status, n in rows:
        group = groups.get((period.id, day))
        if group is None:
            group = groups[period.id, day] = PeriodDue(period, day, workdays_left(day, today, calendar))
        group.total += n
        if status in (ReportStatus.SUBMITTED, ReportStatus.APPROVED):
            group.handed_in += n
    return list(groups.values())


def _returned(report: Report, today: date, calendar) -> Returned:
    """By when a returned report is due back: the plan's grace after the return, as the reminders count it."""
    if report.reviewed_at is None:
        return Returned(report, None, None, 0, days_late(report, today, calendar))
    due = resubmission_due(report, rules_for(report.task.plan)["returned_grace_workdays"], calendar)
    return Returned(report, local(report.reviewed_at).date(), due, workdays_left(due, today, calendar),
                    lateness(due, today, calendar))


def _assignments(department_id: int):
    """The department's assignments (transferred ones too, as history), lead first, each in plan order, with
    everything the task list shows loaded up front."""
    task = contains_eager(Assignment.task)
    return (select(Assignment).join(Task).where(Assignment.department_id == department_id)
            .options(task.selectinload(Task.assignments).joinedload(Assignment.department),
                     task.selectinload(Task.targets), task.joinedload(Task.plan),
                     selectinload(Assignment.adjustments).joinedload(AdjustmentRequest.proposed_department))
            .order_by(Assignment.role != AssignmentRole.LEAD, Task.plan_id, Task.position, Assignment.id))


def _assignment_counts(department_id: int) -> dict[str, int]:
    counts = {"total": 0, "lead": 0, "co": 0, "pending": 0}
    rows = db.session.execute(select(Assignment.role, Assignment.status, func.count())
                              .where(Assignment.department_id == department_id)
                              .group_by(Assignment.role, Assignment.status))
    for role, status, n in rows:
        counts["total"] += n
        counts["lead" if role == AssignmentRole.LEAD else "co"] += n
        if status == AssignmentStatus.PENDING:
            counts["pending"] += n
    return counts


def _history_counts(department_id: int, task_ids: list[int]) -> dict[int, int]:
    """Per task of the page: how many reports and contributions the department has in it. The history itself is
    one click away, on the task page (its 各期报送): a task's periods inline made the page grow with the years."""
    rows = union_all(*(select(model.task_id).where(model.department_id == department_id, model.task_id.in_(task_ids))
                       for model in (Report, Contribution))).subquery()
    counts = dict.fromkeys(task_ids, 0)
    if task_ids:
        counts.update(db.session.execute(select(rows.c.task_id, func.count()).group_by(rows.c.task_id)).all())
    return counts


def department_names() -> list[str]:
    """The names offered when proposing another department in 申请调整."""
    return list(db.session.scalars(select(Department.name).where(Department.active.is_(True))
                                   .order_by(Department.name)))
