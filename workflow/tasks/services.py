"""The task page: one task with its text and departments, its targets with their values over time, every
period's report and contributions, its escalations (督办) and its audit trail.

Who sees the page: everyone who sees the task (Task.visible_to: office, leaders, admins, and the departments that
have or had a part in it). What it shows of each part is that part's own rule, as everywhere else: reports
(Report.visible_filter), contributions (Contribution.visible_filter), assignments, escalations and, in the trail,
only the entries of what the viewer may see; target values come from the reports the viewer may read. A fixed
number of queries whatever the number of periods, departments or entries (the trail is paginated).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import gettext as _
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import selectinload

from models import (
    Assignment,
    AuditEvent,
    CompletionReport,
    Contribution,
    Escalation,
    ExtensionRequest,
    Period,
    Report,
    Task,
    User,
)
from workflow.calendar.lateness import Lateness, days_late
from workflow.calendar.office import office_calendar
from workflow.clock import local
from workflow.extensions import db
from workflow.pagination import paginate
from workflow.targets.services import TrackedTarget, area_of, plan_areas, tracked_targets
from workflow.tasks.completion import completions_of

AUDIT_PER_PAGE = 30


@dataclass
class PeriodRow:
    """One period of the task: the lead departments' reports and the co departments' contributions in it."""

    period: Period
    reports: list[tuple[Report, Lateness]] = field(default_factory=list)
    contributions: list[tuple[Contribution, Lateness]] = field(default_factory=list)


@dataclass
class ValueRow:
    """A value a report gave for a target, in whatever state the report is."""

    period: Period
    report: Report
    value: float


@dataclass
class TaskPage:
    task: Task
    area: tuple[str, str] | None                                         # (code, title) of its outline part
    targets: list[tuple[object, list[TrackedTarget], list[ValueRow]]]   # (target, tracker rows, reported values)
    assignments: list[Assignment]                                        # the viewer's to see, with their state
    periods: list[PeriodRow]                                             # newest first
    escalations: list[Escalation]
    trail: Pagination
    subjects: dict[tuple[str, int], str]                                 # what each trail entry is about
    completions: list[CompletionReport]                                  # newest first
    extensions: list[ExtensionRequest]                                   # of the reports shown, newest first


def load_task(task_id: int) -> Task | None:
    return db.session.scalar(select(Task).where(Task.id == task_id).options(
        selectinload(Task.assignments).selectinload(Assignment.department), selectinload(Task.targets),
        selectinload(Task.plan)))


def task_page(task: Task, *, user: User, now: datetime, audit_page: int = 1) -> TaskPage:
    """Everything the page shows of `task` to `user` (who may see the task: the caller checked visible_to)."""
    today = local(now).date()
    calendar = office_calendar()
    reports = db.session.scalars(
        select(Report).join(Period).where(Report.task_id == task.id, Report.visible_filter(user))
        .options(selectinload(Report.period), selectinload(Report.department), selectinload(Report.values),
                 selectinload(Report.extensions))
        .order_by(Period.start.desc(), Report.id)).all()
    contributions = db.session.scalars(
        select(Contribution).join(Period).where(Contribution.task_id == task.id, Contribution.visible_filter(user))
        .options(selectinload(Contribution.period), selectinload(Contribution.department))
        .order_by(Period.start.desc(), Contribution.id)).all()
    escalations = db.session.scalars(
        select(Escalation).where(Escalation.task_id == task.id, Escalation.visible_filter(user))
        .options(selectinload(Escalation.period), selectinload(Escalation.department))
        .order_by(Escalation.opened_at.desc(), Escalation.id.desc())).all()
    assignments = [a for a in task.assignments if a.can_view(user)]

    periods: dict[int, PeriodRow] = {}
    for r in reports:
        periods.setdefault(r.period_id, PeriodRow(r.period)).reports.append((r, days_late(r, today, calendar)))
    for c in contributions:
        periods.setdefault(c.period_id, PeriodRow(c.period)).contributions.append((c, days_late(c, today, calendar)))

    tracked = tracked_targets([task.plan], user=user, year=today.year, task_id=task.id)
    targets = []
    for target in task.targets:
        reported = [ValueRow(r.period, r, float(v.value)) for r in reversed(reports) for v in r.values
                    if v.target_id == target.id and v.value is not None]
        targets.append((target, [t for t in tracked if t.target.id == target.id], reported))

    subjects = _subjects(reports, contributions, assignments, escalations)
    subjects[(Task.__tablename__, task.id)] = _("任务 · 办结销号")
    trail = paginate(_trail(task, reports, contributions, assignments, escalations)
                     .options(selectinload(AuditEvent.actor)).order_by(AuditEvent.at.desc(), AuditEvent.id.desc()),
                     page=audit_page, per_page=AUDIT_PER_PAGE)
    return TaskPage(task=task, area=area_of(task, plan_areas([task.plan_id]).get(task.plan_id, [])), targets=targets, assignments=assignments,
                    periods=sorted(periods.values(), key=lambda p: p.period.start, reverse=True),
                    escalations=list(escalations), trail=trail, subjects=subjects,
                    completions=completions_of(task),
                    extensions=sorted((e for r in reports for e in r.extensions), key=lambda e: e.requested_at,
                                      reverse=True))


def _trail(task, reports, contributions, assignments, escalations):
    """The audit entries of the task itself (its 办结 and 销号) and of its parts the viewer sees (the ids are
    already the visible ones)."""
    parts = [(Task.__tablename__, [task.id]), (Report.__tablename__, [r.id for r in reports]),
             (Contribution.__tablename__, [c.id for c in contributions]),
             (Assignment.__tablename__, [a.id for a in assignments]),
             (Escalation.__tablename__, [e.id for e in escalations])]
    return select(AuditEvent).where(or_(*[and_(AuditEvent.object_type == kind, AuditEvent.object_id.in_(ids))
                                          for kind, ids in parts if ids] or [AuditEvent.id.is_(None)]))


def _subjects(reports, contributions, assignments, escalations) -> dict[tuple[str, int], str]:
    subjects = {}
    for r in reports:
        subjects[(Report.__tablename__, r.id)] = _("%(period)s 报告 · %(department)s", period=r.period.key,
                                                   department=r.department.name)
    for c in contributions:
        subjects[(Contribution.__tablename__, c.id)] = _("%(period)s 配合情况 · %(department)s",
                                                         period=c.period.key, department=c.department.name)
    for a in assignments:
        subjects[(Assignment.__tablename__, a.id)] = _("任务分工 · %(department)s", department=a.department.name)
    for e in escalations:
        subjects[(Escalation.__tablename__, e.id)] = _("%(period)s 督办 · %(department)s", period=e.period.key,
                                                       department=e.department.name)
    return subjects
