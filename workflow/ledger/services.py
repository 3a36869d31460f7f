"""The 台账: one row per report (task × period × lead department) with everything an office keeps about it —
area, departments, deadline, when it was handed in, how late (calendar.lateness.days_late, the one
definition), status, progress, the target values reported, every return reason and how far the reminder ladder
went. The workbook and CSV (ledger/workbook.py), the ledger page and the bulletin's figures read these rows.

Rows are built in a fixed number of queries, whatever the number of reports: the reports with their task,
period and department, then the task's departments, the values, the return reasons, the reminder levels and
the escalations, each loaded once for all of them.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.orm import joinedload, selectinload

from models import (
    Assignment,
    AuditEvent,
    Department,
    Escalation,
    EscalationStatus,
    OutlineNode,
    Period,
    Plan,
    PlanStatus,
    Report,
    ReportStatus,
    ReportValue,
    Task,
    User,
)
from models.plan import target_label
from workflow.calendar.lateness import Lateness, days_late
from workflow.calendar.office import office_calendar
from workflow.calendar.workdays import WorkdayCalendar
from workflow.clock import local
from workflow.domain import NotFound, ValidationFailed
from workflow.extensions import db
from workflow.labels import item_status, label
from workflow.scheduling.reminders import reached_levels

ESCALATION_LEVEL = 3   # an escalation (督办) is the ladder's top level
# How a report stands against its deadline (labels: "ledger_state").
STATES = ("on_time", "late", "missing", "pending", "withdrawn")


@dataclass(frozen=True)
class LedgerFilters:
    """Which reports: a plan, and optionally some of its periods (keys: one for the ledger page, the quarters of
    a half-year for a bulletin), one area (outline code: the part and everything under it) and one lead
    department."""

    plan_id: int
    periods: tuple[str, ...] = ()
    area: str | None = None
    department_id: int | None = None


@dataclass(frozen=True)
class ReportedValue:
    target_id: int
    metric: str
    target: str          # the target as it reads: '≥ 1000兆瓦'
    year: int | None
    value: Decimal | None
    unit: str


@dataclass
class LedgerRow:
    report_id: int
    task_id: int
    department_id: int
    area_code: str | None
    area_title: str
    task_code: str
    task_title: str
    lead: str
    co: list[str]
    period_key: str
    period_label: str
    deadline: date
    first_submitted_at: datetime | None
    submitted_at: datetime | None
    withdrawn_at: datetime | None
    late: Lateness
    status: str
    progress: str | None
    percent_complete: int | None
    values: list[ReportedValue]
    return_reasons: list[str]
    level: int               # 0 none, 1 逾期提醒, 2 逾期催办, 3 督办
    escalation_open: bool

    @property
    def state(self) -> str:
        """on_time / late: handed in (first submission) within or past the deadline, in working days;
        withdrawn: never handed in and owed by no one any more (its task was closed); missing: never handed in
        and at least one working day late; pending: not handed in, not late yet."""
        if self.first_submitted_at is not None:
            return "late" if self.late else "on_time"
        if self.withdrawn_at is not None:
            return "withdrawn"
        return "missing" if self.late else "pending"

    @property
    def area(self) -> str:
        return f"{self.area_code} {self.area_title}".strip() if self.area_code else ""

    @property
    def status_label(self) -> str:
        return item_status("report", self.status)

    @property
    def level_label(self) -> str:
        if not self.level:
            return ""
        name = label("escalation_level", self.level)
        if self.level >= ESCALATION_LEVEL:
            return f"{name}（{label('escalation_status', 'open' if self.escalation_open else 'closed')}）"
        return name

    @property
    def values_text(self) -> str:
        return "；".join(f"{v.metric or v.target}：{_number(v.value)}{v.unit}" for v in self.values
                        if v.value is not None)

    @property
    def return_reasons_text(self) -> str:
        if len(self.return_reasons) == 1:
            return self.return_reasons[0]
        return "；".join(f"{i}. {reason}" for i, reason in enumerate(self.return_reasons, start=1))


def _number(value: Decimal) -> str:
    return f"{value.normalize():f}" if isinstance(value, Decimal) else str(value)


@dataclass
class Tally:
    """Counts over ledger rows: a department's, an area's or the whole ledger's."""

    reports: int = 0
    on_time: int = 0
    late: int = 0
    missing: int = 0
    pending: int = 0
    withdrawn: int = 0    # never handed in, withdrawn when the task was closed: not due
    returned: int = 0     # reports returned at least once
    approved: int = 0
    escalated: int = 0    # reports with an open escalation
    tasks: set[int] = field(default_factory=set)

    def add(self, row: LedgerRow) -> None:
        self.reports += 1
        setattr(self, row.state, getattr(self, row.state) + 1)
        self.returned += bool(row.return_reasons)
        self.approved += row.status == ReportStatus.APPROVED
        self.escalated += row.escalation_open
        self.tasks.add(row.task_id)

    @property
    def due(self) -> int:
        """Reports whose deadline has passed or that were handed in anyway, less those withdrawn unfiled."""
        return self.reports - self.pending - self.withdrawn

    @property
    def on_time_rate(self) -> float | None:
        return round(100 * self.on_time / self.due, 1) if self.due else None

    def as_dict(self) -> dict:
        return {"reports": self.reports, "due": self.due, "on_time": self.on_time, "late": self.late,
                "missing": self.missing, "pending": self.pending, "withdrawn": self.withdrawn,
                "returned": self.returned, "approved": self.approved, "escalated": self.escalated,
                "on_time_rate": self.on_time_rate}


def total(rows: list[LedgerRow]) -> Tally:
    counts = Tally()
    for row in rows:
        counts.add(row)
    return counts


def tally_by(rows: list[LedgerRow], key) -> dict:
    """The rows counted per `key(row)`, in the order the keys first appear."""
    groups: dict = {}
    for row in rows:
        groups.setdefault(key(row), Tally()).add(row)
    return groups


# -- which reports --------------------------------------------------------------------------------------------

def _in_area(code: str) -> ColumnElement[bool]:
    return or_(Task.code == code, Task.code.like(f"{code}.%"))


def ledger_query(filters: LedgerFilters, viewer: User | None) -> Select:
    """The filtered reports the viewer may see (a department's people: their own department's only; None, the
    command line: every one), in ledger order: period, then the plan's task order, then the department."""
    q = (select(Report).join(Report.task).join(Report.period).join(Report.department)
         .where(Task.plan_id == filters.plan_id))
    if viewer is not None:
        q = q.where(Report.visible_filter(viewer))
    if filters.periods:
        q = q.where(Period.key.in_(filters.periods))
    if filters.area:
        q = q.where(_in_area(filters.area))
    if filters.department_id:
        q = q.where(Report.department_id == filters.department_id)
    return q.order_by(Period.start, Task.position, Department.name, Report.id)


def build_rows(query: Select, *, now: datetime, calendar: WorkdayCalendar | None = None) -> list[LedgerRow]:
    """The ledger rows of the reports `query` selects (ledger_query, or one page of it)."""
    reports = list(db.session.scalars(query.options(
        joinedload(Report.period), joinedload(Report.department),
        joinedload(Report.task).selectinload(Task.assignments).joinedload(Assignment.department),
        selectinload(Report.values).joinedload(ReportValue.target))))
    if not reports:
        return []
    ids = query.with_only_columns(Report.id).order_by(None)
    calendar = calendar or office_calendar()
    today = local(now).date()
    plan_ids = {r.task.plan_id for r in reports}
    areas = dict(db.session.execute(select(OutlineNode.code, OutlineNode.title)
                                    .where(OutlineNode.plan_id.in_(plan_ids))).all())
    reasons: dict[int, list[str]] = defaultdict(list)
    for report_id, comment in db.session.execute(
            select(AuditEvent.object_id, AuditEvent.comment)
            .where(AuditEvent.object_type == Report.__tablename__, AuditEvent.action == "report.return",
                   AuditEvent.object_id.in_(ids))
            .order_by(AuditEvent.at, AuditEvent.id)):
        reasons[report_id].append(comment)
    escalations: dict[int, bool] = {}
    for report_id, status in db.session.execute(
            select(Escalation.report_id, Escalation.status).where(Escalation.report_id.in_(ids))):
        escalations[report_id] = escalations.get(report_id, False) or status == EscalationStatus.OPEN
    levels = reached_levels()
    return [_row(r, today, calendar, areas, reasons, escalations, levels) for r in reports]


def _row(r: Report, today: date, calendar: WorkdayCalendar, areas: dict, reasons: dict, escalations: dict,
         levels: dict) -> LedgerRow:
    task, area = r.task, r.task.area_code
    level = max(levels.get(r.id, 0), ESCALATION_LEVEL if r.id in escalations else 0)
    values = [ReportedValue(target_id=v.target_id, metric=v.target.metric, year=v.target.year,
                            target=target_label(v.target.comparator, v.target.value, v.target.unit),
                            value=v.value, unit=v.target.unit)
              for v in sorted(r.values, key=lambda v: (v.target.position, v.target_id))]
    return LedgerRow(
        report_id=r.id, task_id=task.id, department_id=r.department_id, area_code=area,
        area_title=areas.get(area, "") if area else "", task_code=task.code, task_title=task.title,
        lead=r.department.name, co=[d.name for d in task.co], period_key=r.period.key,
        period_label=r.period.label, deadline=r.deadline, first_submitted_at=r.first_submitted_at,
        submitted_at=r.submitted_at, withdrawn_at=r.withdrawn_at, late=days_late(r, today, calendar), status=r.status, progress=r.progress,
        percent_complete=r.percent_complete, values=values, return_reasons=reasons.get(r.id, []), level=level,
        escalation_open=escalations.get(r.id, False))


def ledger_rows(filters: LedgerFilters, *, viewer: User | None, now: datetime,
                calendar: WorkdayCalendar | None = None) -> list[LedgerRow]:
    return build_rows(ledger_query(filters, viewer), now=now, calendar=calendar)


# -- filters from the outside ---------------------------------------------------------------------------------

def resolve_filters(*, plan_id: int, period_key: str | None = None, area: str | None = None,
                    department: str | None = None) -> LedgerFilters:
    """Check what the command line or a form names: an unknown plan is NotFound; a period, area or department
    the plan does not have is a field error, so a typo never gives an empty ledger that looks like a result."""
    plan = db.session.get(Plan, plan_id)
    if plan is None:
        raise NotFound(_("方案 #%(id)s 不存在。", id=plan_id))
    errors = {}
    if plan.status != PlanStatus.PUBLISHED:
        errors["plan"] = _("方案 #%(id)s 尚未发布，还没有报送记录。", id=plan_id)
    period_key = (period_key or "").strip() or None
    if period_key and not db.session.scalar(select(Period.id).where(Period.plan_id == plan_id,
                                                                     Period.key == period_key)):
        errors["period"] = _("方案中没有报送周期“%(key)s”。", key=period_key)
    area = (area or "").strip() or None
    if area and not db.session.scalar(select(OutlineNode.id).where(OutlineNode.plan_id == plan_id,
                                                                    OutlineNode.code == area)):
        errors["area"] = _("方案中没有编号为“%(code)s”的部分。", code=area)
    department_id = None
    if department and department.strip():
        dept = Department.lookup(department.strip())
        if dept is None:
            errors["department"] = _("单位不存在：%(name)s", name=department.strip())
        else:
            department_id = dept.id
    if errors:
        raise ValidationFailed(errors, next(iter(errors.values())))
    return LedgerFilters(plan_id=plan_id, periods=(period_key,) if period_key else (), area=area,
                         department_id=department_id)


def filter_choices(viewer: User, plan: Plan | None) -> dict:
    """The page's options: the plans the viewer has reports in (every published plan for those who see
    everything), and the chosen plan's periods that have opened, areas and lead departments."""
    plans_q = select(Plan).where(Plan.status == PlanStatus.PUBLISHED).order_by(Plan.id)
    if not viewer.sees_everything:
        plans_q = plans_q.where(Plan.id.in_(select(Task.plan_id).join(Report, Report.task_id == Task.id)
                                            .where(Report.visible_filter(viewer))))
    plans = list(db.session.scalars(plans_q))
    if plan is None:
        return {"plans": plans, "periods": [], "areas": [], "departments": []}
    periods = db.session.execute(select(Period.key, Period.label).where(Period.plan_id == plan.id,
                                                                        Period.opened.is_(True))
                                 .order_by(Period.start)).all()
    codes = {t.area_code for t in db.session.scalars(select(Task).where(Task.plan_id == plan.id))} - {None}
    areas = db.session.execute(select(OutlineNode.code, OutlineNode.title).where(
        OutlineNode.plan_id == plan.id, OutlineNode.code.in_(codes)).order_by(OutlineNode.position)).all()
    departments = db.session.scalars(
        select(Department).where(Department.id.in_(
            select(Report.department_id).join(Task).where(Task.plan_id == plan.id, Report.visible_filter(viewer))))
        .order_by(Department.name)).all()
    return {"plans": plans, "periods": periods, "areas": areas, "departments": list(departments)}
