"""The indicator tracker (指标): every numeric target of a plan, the plan's own and its tasks', once per department
that reports it, with its latest approved value, what is due by the end of this year, its trend over the
periods and whether it is on track.

What is due is the evaluation's own rule (workflow.evaluation.scoring.target_due, with the year's evaluation
settings and the office's milestones), so the tracker and the year's scores never disagree. On track: the
latest approved value meets what is due this year, i.e. the evaluation's attainment for it is 100 %; off track:
it falls short; no value: nothing approved yet, or nothing to measure against (no base value for the linear
path). A plan-level target has no reporting department: its values are nobody's report, so it has none.

Who sees what: office, leaders and admins every row; a department's liaison and head the rows their department
reports (the values are its reports', which no other department may read: Report.can_view).

The rows come from a fixed handful of queries whatever the size of the plan, and are filtered, sorted (off track
first, the furthest off first) and paginated in memory: the order depends on computed values.
"""
from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from models import Assignment, Department, OutlineNode, Period, Plan, PlanStatus, Target, Task, User
from models.evaluation import Evaluation
from workflow.evaluation import scoring
from workflow.extensions import db


class TrackStatus(enum.StrEnum):
    OFF_TRACK = "off_track"
    NO_VALUE = "no_value"
    ON_TRACK = "on_track"


ON_TRACK, OFF_TRACK, NO_VALUE = TrackStatus.ON_TRACK, TrackStatus.OFF_TRACK, TrackStatus.NO_VALUE
STATUSES = tuple(TrackStatus)   # the order rows are listed in: off track first


@dataclass
class TrackedTarget:
    """One target as one department reports it (a plan-level target, or a task nobody leads: no department)."""

    target: Target
    task: Task | None
    department: Department | None
    area: str | None                       # the outline part the task is under ('3.4'), as the review queue's
    year: int                              # the year `due` is for
    values: list[tuple[Period, float]]     # approved values, oldest period first
    due: float | None
    basis: str                             # scoring.due_value's: target / linear / milestone / no_base
    attainment: float | None               # the evaluation's attainment of the latest value, 0–100
    status: TrackStatus

    @property
    def latest(self) -> float | None:
        return self.values[-1][1] if self.values else None

    @property
    def latest_period(self) -> Period | None:
        return self.values[-1][0] if self.values else None

    @property
    def trend(self) -> list[tuple[str, float]]:
        """(period key, value), oldest first: the sparkline's points."""
        return [(period.key, value) for period, value in self.values]

    @property
    def plan_id(self) -> int:
        return self.target.plan_id


@dataclass
class Tracker:
    """The rows a user may see under the filters, with what the filters can choose from and the counts."""

    rows: list[TrackedTarget]
    areas: list[tuple[str, str]] = field(default_factory=list)          # (code, title) having rows
    departments: list[Department] = field(default_factory=list)         # reporting departments having rows
    counts: dict[str, int] = field(default_factory=dict)                # status → rows under the filters
    area: str | None = None                                             # the filters applied
    department_id: int | None = None


def tracker_plans() -> list[Plan]:
    """The plans the tracker offers, newest first: the published ones (an imported plan has no reports yet)."""
    return list(db.session.scalars(select(Plan).where(Plan.status == PlanStatus.PUBLISHED).order_by(Plan.id.desc())))


def tracked_targets(plans: list[Plan], *, user: User, year: int, task_id: int | None = None) -> list[TrackedTarget]:
    """Every target of `plans` (or of one task) the user may see, in plan order, with what is due in `year`."""
    return _load(plans, user=user, year=year, task_id=task_id)[0]


def _load(plans: list[Plan], *, user: User, year: int,
          task_id: int | None = None) -> tuple[list[TrackedTarget], dict[int, list[tuple[str, str]]]]:
    """The rows, and the plans' areas they were placed in."""
    if not plans:
        return [], {}
    plan_ids = [p.id for p in plans]
    stmt = select(Target).where(Target.plan_id.in_(plan_ids)).options(
        selectinload(Target.task).selectinload(Task.assignments).selectinload(Assignment.department))
    if task_id is not None:
        stmt = stmt.where(Target.task_id == task_id)
    targets = db.session.scalars(stmt).all()
    if not targets:
        return [], {}
    stored = {e.plan_id: e.settings for e in db.session.scalars(
        select(Evaluation).where(Evaluation.plan_id.in_(plan_ids), Evaluation.year == year))}
    base_years = {}
    for plan in plans:
        plan_targets = [t for t in targets if t.plan_id == plan.id] if task_id is None else None
        base_years[plan.id] = scoring.settings_for(plan, year, stored.get(plan.id), targets=plan_targets)["base_year"]
    tasks = select(Task.id).where(Task.plan_id.in_(plan_ids))
    milestones = scoring.load_milestones([t.id for t in targets])
    series = scoring.approved_values(tasks if task_id is None else [task_id])
    areas = plan_areas(plan_ids)

    rows = []
    for target in targets:
        task = target.task
        leads = task.leads if task is not None else []
        for department in leads or [None]:
            if not (user.sees_everything or (department is not None and department.id == user.department_id)):
                continue
            values = series.get((department.id, target.id), []) if department is not None else []
            due, basis = scoring.target_due(target, year, base_year=base_years[target.plan_id],
                                            first_value=values[0][1] if values else None,
                                            milestones=milestones.get(target.id, {}))
            score = scoring.attainment(target.comparator, values[-1][1], due) if values and due is not None else None
            status = NO_VALUE if score is None else ON_TRACK if score >= 100 else OFF_TRACK
            rows.append(TrackedTarget(target=target, task=task, department=department,
                                      area=_code(area_of(task, areas.get(target.plan_id, []))), year=year, values=values,
                                      due=due, basis=basis, attainment=score, status=status))
    rows.sort(key=lambda r: (r.plan_id, r.task.position if r.task else -1, r.target.position, r.target.id,
                             r.department.name if r.department else ""))
    return rows, areas


def tracker(plans: list[Plan], *, user: User, year: int, area: str | None = None, department_id: int | None = None,
            strict: bool = False) -> Tracker:
    """The tracker's rows under the filters, off track first (the furthest off first), then those without a
    value, then those on track, each in plan order; the filters' choices are the areas and departments the
    user's rows have. A choice that is none of them is no filter on a page (an old link), and (`strict`, the
    API) a filter that matches nothing."""
    everything, areas = _load(plans, user=user, year=year)
    titles = {code: title for plan_areas in areas.values() for code, title in plan_areas}
    present_areas = {r.area for r in everything if r.area}
    departments = {r.department.id: r.department for r in everything if r.department is not None}
    if not strict:
        area = area if area in present_areas else None
        department_id = department_id if department_id in departments else None
    rows = [r for r in everything if (area is None or r.area == area)
            and (department_id is None or (r.department is not None and r.department.id == department_id))]
    order = {status: i for i, status in enumerate(STATUSES)}
    rows.sort(key=lambda r: (order[r.status], r.attainment if r.status == OFF_TRACK else 0))   # stable: plan order
    counts = Counter(r.status for r in rows)
    return Tracker(rows=rows, areas=[(code, titles[code]) for code in titles if code in present_areas],
                   departments=sorted(departments.values(), key=lambda d: d.id),
                   counts={status: counts.get(status, 0) for status in STATUSES}, area=area,
                   department_id=department_id)


def plan_areas(plan_ids: list[int]) -> dict[int, list[tuple[str, str]]]:
    """Per plan, its outline parts tasks are filtered by (the review queue's areas: the second level), in order."""
    areas: dict[int, list[tuple[str, str]]] = {}
    for node in db.session.scalars(select(OutlineNode).where(OutlineNode.plan_id.in_(plan_ids),
                                                             OutlineNode.level == 2).order_by(OutlineNode.position)):
        areas.setdefault(node.plan_id, []).append((node.code, node.title))
    return areas


def area_of(task: Task | None, areas: list[tuple[str, str]]) -> tuple[str, str] | None:
    """The part, (code, title), whose code the task's extends (Task.in_area, in Python)."""
    if task is None:
        return None
    return next(((code, title) for code, title in areas if task.code == code or task.code.startswith(f"{code}.")),
                None)


def _code(area: tuple[str, str] | None) -> str | None:
    return area[0] if area else None
