"""The overview's figures for one plan at one moment: reports by state, tasks by light, contributions missing,
open escalations by level and targets on or off track; in total, per area and per department, for the current
period, the year and every period opened so far.

Everything is read in a fixed number of statements (the plan, its periods, tasks, areas, assignments,
reports, contributions, open escalations, targets with their approved values and milestones, the calendar),
whatever the size of the plan, and counted in Python: lateness through workflow.calendar.lateness, the light
through workflow.overview.lights, what a target asks for through the evaluation's scoring. Reading writes
nothing; the office's thresholds are the one change made here (set_light_rules).

Definitions (printed on the page):
- the current period: the latest opened period that has ended (its reports are being filed or were due), or
  while none has ended the running one; the year: the opened periods ending in the current year;
- a report not handed in (a draft) is overdue when at least one working day late (lateness.days_late), due
  soon when its deadline is at most `due_soon_workdays` working days away, otherwise not yet due;
- a contribution is missing when it is still a draft at least one working day after its deadline;
- escalation levels are the reminder ladder's (the plan's reminder rules): level 1 and 2 count the items not
  handed in that have reached them, level 3 the open 督办 (escalation rows);
- a task's target, once per lead department (as the indicator tracker lists it), is on track when that
  department's latest approved value meets what is due this year (the evaluation's target_due, attainment 100),
  off track when it does not, without value while none was approved (or there is nothing to measure against).
"""
from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import NamedTuple

from flask_babel import gettext as _
from sqlalchemy import case, select, type_coerce

from models import (
    ACTIVE_ASSIGNMENT,
    AREA_LEVEL,
    Assignment,
    AssignmentRole,
    Contribution,
    ContributionStatus,
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
    Target,
    Task,
    TaskStatus,
    User,
)
from models.audit import record
from models.base import UTCDateTime
from models.evaluation import Evaluation, TargetMilestone
from workflow.calendar.lateness import (
    days_late_of,
    lateness,
    resubmission_due,
    workdays_left,
)
from workflow.calendar.office import office_calendar
from workflow.calendar.workdays import WorkdayCalendar
from workflow.clock import local
from workflow.domain import ValidationFailed, require
from workflow.evaluation.scoring import attainment, default_base_year, effective_settings, target_due
from workflow.extensions import db
from workflow.overview.lights import (
    DEFAULT_RULES,
    LIGHTS,
    RULE_BOUNDS,
    ReportFacts,
    Rules,
    Verdict,
    task_light,
)
from workflow.scheduling.reminders import rules_for

REPORT_STATES = ("not_due", "due_soon", "overdue", "submitted", "returned", "approved")
TARGET_STATES = ("on_track", "off_track", "no_value")
LEVELS = (1, 2, 3)
SCOPES = ("period", "year", "all")


def light_rules(plan: Plan) -> Rules:
    return Rules.of(plan.light_rules)


# -- what the page counts ----------------------------------------------------------------------------------

@dataclass
class Figures:
    """The counts of one scope for the whole plan, an area or a department."""

    reports: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REPORT_STATES, 0))
    tasks: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LIGHTS, 0))
    contributions_missing: int = 0
    escalations: dict[int, int] = field(default_factory=lambda: dict.fromkeys(LEVELS, 0))
    targets: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TARGET_STATES, 0))

    @property
    def report_total(self) -> int:
        return sum(self.reports.values())

    @property
    def task_total(self) -> int:
        return sum(self.tasks.values())

    def as_dict(self) -> dict:
        return {"reports": dict(self.reports), "tasks": {str(k): v for k, v in self.tasks.items()},
                "contributions_missing": self.contributions_missing,
                "escalations": {str(k): v for k, v in self.escalations.items()},
                "targets": dict(self.targets)}


class Item(NamedTuple):
    """A report or a contribution as counted: its scope keys, its state, the ladder level it has reached. (A
    tuple: there are as many as reports and contributions, and they are made on every read.)"""

    period_id: int
    task_id: int
    department_id: int
    area: str | None
    state: str          # a REPORT_STATES key; contributions: 'missing' or 'pending'
    level: int          # 1 or 2 when not handed in and that late on the reminder ladder, else 0
    facts: ReportFacts | None = None
    id: int = 0         # the report's (the task list links the latest one)


@dataclass
class TaskLine:
    """One task as the overview's task list shows it, in one scope."""

    task: object                         # a row: id, plan_id, code, title, position
    area: str | None
    leads: list                          # rows: id, name
    verdict: Verdict
    missing: dict[int, int]              # department id → contributions missing
    levels: dict[int, dict[int, int]]    # ladder level (1, 2) → department id → items at that level
    escalated: dict[int, int]            # department id → open 督办 on the task
    targets: dict                        # lead department id (None: nobody leads) → target state → targets
    report_id: int | None = None         # a lead's report of the latest period in scope

    @property
    def lead_ids(self) -> set[int]:
        return {d.id for d in self.leads}

    @property
    def target_counts(self) -> dict[str, int]:
        """Target state → the task's targets in it, counted once per lead department."""
        return {state: sum(per[state] for per in self.targets.values()) for state in TARGET_STATES}


@dataclass
class Row:
    """A line of the per-area or per-department table."""

    key: str | int
    name: str
    figures: Figures


@dataclass
class Overview:
    plan: Plan
    now: datetime
    today: date
    rules: Rules
    ladder: dict                         # the plan's reminder rules (level thresholds)
    period: Period | None                # the current period
    year: int
    scopes: dict[str, list[int]]         # scope → period ids
    figures: dict[str, Figures]
    tasks: dict[str, list[TaskLine]]
    areas: dict[str, list[Row]]
    departments: dict[str, list[Row]]
    area_titles: dict[str, str]
    department_names: dict[int, str]


# -- loading (a fixed number of statements) ----------------------------------------------------------------

@dataclass
class _Data:
    """What the figures are counted from, read as columns (rows, not ORM objects: a plan 20 times larger must
    not take 20 times longer to load)."""

    periods: list[Period]
    tasks: list                 # rows: id, plan_id, code, title, position, status
    areas: list[tuple[str, str]]
    leads: list                 # rows: task_id, department_id (active lead assignments)
    departments: dict           # id → row: id, name (every department with an active assignment)
    reports: list               # rows: REPORT_COLUMNS
    contributions: list         # rows: drafts past their deadline (the only ones counted), CONTRIBUTION_COLUMNS
    escalations: list           # rows: task_id, period_id, department_id (open ones)
    targets: list               # rows with a Target's attributes (what target_due reads)
    approved: list[tuple[int, int, float]]        # target id, department id, value: approved, oldest period first
    milestones: dict[int, dict[int, float]]


# What report_item reads (a handed-in report's lateness is history, so its submission times are not read; its
# period's deadline and start come from the periods already loaded, not once per row).
REPORT_COLUMNS = (Report.id, Report.task_id, Report.period_id, Report.department_id, Report.status, Report.progress,
                  Report.extended_deadline,
                  type_coerce(case((Report.status == ReportStatus.RETURNED, Report.reviewed_at)), UTCDateTime)
                  .label("reviewed_at"))   # only a returned report's (its resubmission deadline counts from it)
CONTRIBUTION_COLUMNS = (Contribution.task_id, Contribution.period_id, Contribution.department_id)


def _periods(plan: Plan) -> list[Period]:
    return list(db.session.scalars(select(Period).where(Period.plan_id == plan.id).order_by(Period.start)))


def _load(plan: Plan, today: date, periods: list[Period], counted: list[int]) -> _Data:
    """The plan's data; its reports, contributions and open 督办 of the `counted` periods only (those of the
    scopes asked for: the page's period and year, not every period opened since the plan began)."""
    tasks = db.session.execute(select(Task.id, Task.plan_id, Task.code, Task.title, Task.position, Task.status)
                               .where(Task.plan_id == plan.id).order_by(Task.position)).all()
    areas = [(code, title) for code, title in db.session.execute(
        select(OutlineNode.code, OutlineNode.title).where(OutlineNode.plan_id == plan.id,
                                                          OutlineNode.level == AREA_LEVEL)
        .order_by(OutlineNode.position))]
    active = (Task.plan_id == plan.id, Assignment.status.in_(ACTIVE_ASSIGNMENT))
    leads = db.session.execute(select(Assignment.task_id, Assignment.department_id).join(Task)
                               .where(*active, Assignment.role == AssignmentRole.LEAD).order_by(Assignment.id)).all()
    departments = {d.id: d for d in db.session.execute(
        select(Department.id, Department.name).where(Department.id.in_(
            select(Assignment.department_id).join(Task).where(*active))))}
    # What a closure withdrew is owed by no one: not counted (the closed task's light says 已销号).
    reports = db.session.execute(select(*REPORT_COLUMNS)
                                 .where(Report.period_id.in_(counted), Report.withdrawn_at.is_(None))
                                 .order_by(Report.id)).all()
    past = [p.id for p in periods if p.id in set(counted) and p.deadline < today]
    contributions = db.session.execute(
        select(*CONTRIBUTION_COLUMNS)
        .where(Contribution.period_id.in_(past), Contribution.withdrawn_at.is_(None),
               Contribution.status == ContributionStatus.DRAFT)).all()
    escalations = db.session.execute(
        select(Escalation.task_id, Escalation.period_id, Escalation.department_id)
        .where(Escalation.plan_id == plan.id, Escalation.period_id.in_(counted),
               Escalation.status == EscalationStatus.OPEN)).all()
    targets = db.session.execute(
        select(Target.id, Target.task_id, Target.value, Target.year, Target.metric, Target.sentence,
               Target.comparator).where(Target.plan_id == plan.id, Target.task_id.is_not(None))
        .order_by(Target.task_id, Target.position, Target.id)).all()
    approved = [(t, d, float(v)) for t, d, v in db.session.execute(
        select(ReportValue.target_id, Report.department_id, ReportValue.value).join(Report).join(Report.period)
        .where(Period.plan_id == plan.id, Report.status == ReportStatus.APPROVED, ReportValue.value.is_not(None))
        .order_by(Period.start, Report.id))]
    milestones: dict[int, dict[int, float]] = defaultdict(dict)
    for target_id, year, value in db.session.execute(
            select(TargetMilestone.target_id, TargetMilestone.year, TargetMilestone.value).join(Target)
            .where(Target.plan_id == plan.id)):
        milestones[target_id][year] = float(value)
    return _Data(periods, tasks, areas, leads, departments, reports, contributions, escalations, targets,
                 approved, milestones)


def _base_year(plan: Plan, year: int) -> int:
    """The evaluation's base year for the plan's year (its settings when the office opened one)."""
    evaluation = db.session.scalar(select(Evaluation).where(Evaluation.plan_id == plan.id, Evaluation.year == year))
    return effective_settings(evaluation)["base_year"] if evaluation else default_base_year(plan, year)


# -- counting ------------------------------------------------------------------------------------------------

def current_period(periods: Iterable[Period], today: date) -> Period | None:
    """The latest opened period that has ended, else the running one (see the module's definitions)."""
    started = [p for p in periods if p.opened and p.start <= today]
    ended = [p for p in started if p.end < today]
    return ended[-1] if ended else (started[-1] if started else None)


def area_of(code: str, areas: Iterable[str]) -> str | None:
    """The area a task belongs to (the review queue's rule: its code is the area's or starts with it)."""
    return next((a for a in areas if code == a or code.startswith(f"{a}.")), None)


def _ladder_level(late: int, deadline: date, today: date, ladder: dict) -> int:
    """1 or 2 once past the deadline and that late (working days) on the reminder ladder; level 3 is the 督办
    row, counted as such."""
    if today <= deadline or late >= ladder["level3_late"]:
        return 0
    return next((n for n in (2, 1) if late >= ladder[f"level{n}_late"]), 0)


DRAFT, RETURNED = str(ReportStatus.DRAFT), str(ReportStatus.RETURNED)
HANDED_IN = (str(ReportStatus.SUBMITTED), str(ReportStatus.APPROVED))


def report_item(r, period: Period, today: date, cal: WorkdayCalendar, rules: Rules, ladder: dict,
                area: str | None = None) -> Item:
    """How a report (a row of REPORT_COLUMNS, of `period`) counts today: its state, its ladder level and the
    facts the light rule reads (working days left and late on the office calendar; a returned report late
    from its resubmission deadline, as the reminders count it). Made once per report on every read: kept lean."""
    status = r.status
    if status in HANDED_IN:   # its lateness is history: it counts for the evaluation, not for today's figures
        facts = ReportFacts(status, period.start.toordinal(), 0, 0, r.progress)
        return Item(r.period_id, r.task_id, r.department_id, area, status, 0, facts, r.id)
    deadline = r.extended_deadline or period.deadline   # Report.deadline, on a row
    if status == RETURNED and r.reviewed_at is not None:
        deadline = resubmission_due(r, ladder["returned_grace_workdays"], cal)
        late = lateness(deadline, today, cal).working
    else:
        late = days_late_of(deadline, outstanding=True, handed_in=None, today=today, calendar=cal).working
    left = workdays_left(deadline, today, cal) if status == DRAFT else 0
    if status != DRAFT:
        state = status
    elif late:
        state = "overdue"
    elif left <= rules.due_soon_workdays:
        state = "due_soon"
    else:
        state = "not_due"
    facts = ReportFacts(status, period.start.toordinal(), left, late, None)
    return Item(r.period_id, r.task_id, r.department_id, area, state, _ladder_level(late, deadline, today, ladder),
                facts, r.id)


def contribution_item(c, period: Period, today: date, cal: WorkdayCalendar, ladder: dict,
                      area: str | None = None) -> Item:
    """A draft contribution past its deadline (a row of CONTRIBUTION_COLUMNS): missing once a working day late."""
    late = days_late_of(period.deadline, outstanding=True, handed_in=None, today=today, calendar=cal).working
    return Item(c.period_id, c.task_id, c.department_id, area, "missing" if late else "pending",
                _ladder_level(late, period.deadline, today, ladder))


def _target_states(data: _Data, leads: dict, year: int, base_year: int) -> dict[int, dict]:
    """Task id → lead department id (None for a task nobody leads) → target state → number of the task's
    targets in that state for that department: its latest approved value against what is due this year."""
    latest: dict[tuple[int, int], float] = {}
    first: dict[tuple[int, int], float] = {}
    for target_id, department_id, value in data.approved:
        latest[(department_id, target_id)] = value
        first.setdefault((department_id, target_id), value)
    out: dict[int, dict] = {}
    for t in data.targets:
        for department_id in [d.id for d in leads.get(t.task_id, [])] or [None]:
            value = latest.get((department_id, t.id))
            due, _basis = target_due(t, year, base_year=base_year, first_value=first.get((department_id, t.id)),
                                     milestones=data.milestones.get(t.id, {}))
            state = ("no_value" if value is None or due is None
                     else "on_track" if attainment(t.comparator, value, due) >= 100 else "off_track")
            per = out.setdefault(t.task_id, {}).setdefault(department_id, dict.fromkeys(TARGET_STATES, 0))
            per[state] += 1
    return out


def compute(plan: Plan, *, now: datetime, calendar: WorkdayCalendar | None = None,
            scopes: Iterable[str] = SCOPES) -> Overview:
    """Every figure of the overview of `plan` at `now` (pure reading), for the `scopes` asked for."""
    today = local(now).date()
    cal = calendar or office_calendar()
    rules, ladder = light_rules(plan), rules_for(plan)
    periods = _periods(plan)
    period = current_period(periods, today)
    opened = [p for p in periods if p.opened]
    within = {"period": [period.id] if period else [], "year": [p.id for p in opened if p.end.year == today.year],
              "all": [p.id for p in opened]}
    scopes = {scope: within[scope] for scope in SCOPES if scope in set(scopes)}
    data = _load(plan, today, periods, sorted({i for ids in scopes.values() for i in ids}))
    area_codes = [code for code, _title in data.areas]
    task_area = {t.id: area_of(t.code, area_codes) for t in data.tasks}
    leads: dict[int, list] = defaultdict(list)
    for task_id, department_id in data.leads:
        leads[task_id].append(data.departments[department_id])
    by_id = {p.id: p for p in data.periods}
    reports = [report_item(r, by_id[r.period_id], today, cal, rules, ladder, task_area[r.task_id])
               for r in data.reports]
    contributions = [contribution_item(c, by_id[c.period_id], today, cal, ladder, task_area[c.task_id])
                     for c in data.contributions]
    task_targets = _target_states(data, leads, today.year, _base_year(plan, today.year))

    overview = Overview(plan=plan, now=now, today=today, rules=rules, ladder=ladder, period=period,
                        year=today.year, scopes=scopes, figures={}, tasks={}, areas={}, departments={},
                        area_titles=dict(data.areas), department_names={d.id: d.name for d in data.departments.values()})
    done: dict[tuple[int, ...], str] = {}
    for scope, period_ids in scopes.items():
        same = done.setdefault(tuple(period_ids), scope)
        if same != scope:   # the year is often every period so far (a plan's first year): counted once
            for part in (overview.tasks, overview.figures, overview.areas, overview.departments):
                part[scope] = part[same]
            continue
        overview.tasks[scope], overview.figures[scope], areas, departments = _scope(
            data, set(period_ids), reports, contributions, task_area, leads, task_targets, rules)
        overview.areas[scope] = [Row(code, title, areas[code]) for code, title in data.areas if code in areas]
        if None in areas:
            overview.areas[scope].append(Row("", _("其他"), areas[None]))
        overview.departments[scope] = [Row(d.id, d.name, departments.get(d.id) or Figures())
                                       for d in sorted(data.departments.values(), key=lambda d: d.name)]
    return overview


NONE: dict = {}   # shared by the task lines that have nothing of a kind (never written to)


def _scope(data: _Data, in_scope: set[int], reports: list[Item], contributions: list[Item], task_area: dict,
           leads: dict, task_targets: dict, rules: Rules) -> tuple[list[TaskLine], Figures, dict, dict]:
    """One scope: the task lines, the totals, and the figures per area and per department (a task's light and
    targets count for its area and each of its lead departments; a report, contribution or 督办 for its task's
    area and its own department). Items are tallied by (area, department, state, level) first, so the figures
    cost a pass of Counter over the items and then only as many steps as there are distinct keys."""
    reports = [i for i in reports if i.period_id in in_scope]
    contributions = [i for i in contributions if i.period_id in in_scope]
    escalations = [e for e in data.escalations if e.period_id in in_scope]
    total, by_area, by_department = Figures(), defaultdict(Figures), defaultdict(Figures)

    def each(area, department_id):
        return total, by_area[area], by_department[department_id]

    for (area, department_id, state, level), n in Counter(
            (i.area, i.department_id, i.state, i.level) for i in reports).items():
        for figures in each(area, department_id):
            figures.reports[state] += n
            if level:
                figures.escalations[level] += n
    for (area, department_id, missing_one, level), n in Counter(
            (i.area, i.department_id, i.state == "missing", i.level) for i in contributions).items():
        for figures in each(area, department_id):
            figures.contributions_missing += n if missing_one else 0
            if level:
                figures.escalations[level] += n
    for (area, department_id), n in Counter((task_area[e.task_id], e.department_id) for e in escalations).items():
        for figures in each(area, department_id):
            figures.escalations[3] += n

    facts: dict[int, list[ReportFacts]] = defaultdict(list)
    latest: dict[int, Item] = {}
    for item in reports:
        facts[item.task_id].append(item.facts)
        last = latest.get(item.task_id)
        if last is None or item.facts.period > last.facts.period:
            latest[item.task_id] = item
    levels: dict[int, dict[int, dict[int, int]]] = {}
    missing: dict[int, dict[int, int]] = {}
    escalated: dict[int, dict[int, int]] = {}
    for item in reports + contributions:
        if item.level:
            per = levels.setdefault(item.task_id, {}).setdefault(item.level, {})
            per[item.department_id] = per.get(item.department_id, 0) + 1
        if item.state == "missing":
            per = missing.setdefault(item.task_id, {})
            per[item.department_id] = per.get(item.department_id, 0) + 1
    for e in escalations:
        per = escalated.setdefault(e.task_id, {})
        per[e.department_id] = per.get(e.department_id, 0) + 1

    lines = [TaskLine(task=t, area=task_area[t.id], leads=leads.get(t.id, []),
                      verdict=task_light(facts.get(t.id, ()), escalated=t.id in escalated,
                                         closed=t.status == TaskStatus.CLOSED, rules=rules),
                      missing=missing.get(t.id, NONE), levels=levels.get(t.id, NONE),
                      escalated=escalated.get(t.id, NONE), targets=task_targets.get(t.id, NONE),
                      report_id=latest[t.id].id if t.id in latest else None)
             for t in data.tasks]
    for line in lines:
        light = line.verdict.light
        total.tasks[light] += 1
        by_area[line.area].tasks[light] += 1
        for d in line.leads:
            by_department[d.id].tasks[light] += 1
        for department_id, per in line.targets.items():
            for figures in (total, by_area[line.area]) + ((by_department[department_id],) if department_id else ()):
                for state, n in per.items():
                    figures.targets[state] += n
    return lines, total, by_area, by_department


# -- the task list behind a number ------------------------------------------------------------------------

WHATS = ("missing", "level1", "level2", "escalated")


@dataclass
class TaskSelection:
    """Which tasks of the overview to list (each number of the page links here with its filter): by `light`,
    by `what` (contributions missing, ladder level 1 or 2, open 督办) or by `target` state, in a scope, for an
    area and a department (the tasks it leads; with `what`, the department whose items are counted)."""

    scope: str = "year"
    light: str | None = None
    what: str | None = None
    target: str | None = None
    area: str | None = None
    department_id: int | None = None

    @classmethod
    def of(cls, args: dict, *, areas: dict, departments: dict) -> TaskSelection:
        """From query arguments; a value that is no choice is dropped (a list page never fails on a filter)."""
        def pick(name, choices):
            value = args.get(name) or None
            return value if value in choices else None

        department = args.get("department")
        department_id = int(department) if str(department or "").isdigit() else None
        return cls(scope=pick("scope", SCOPES) or "year", light=pick("light", [str(x) for x in LIGHTS]),
                   what=pick("what", WHATS), target=pick("target", TARGET_STATES), area=pick("area", areas),
                   department_id=department_id if department_id in departments else None)

    def form_data(self) -> dict[str, str]:
        return {"scope": self.scope, "light": self.light or "", "what": self.what or "",
                "target": self.target or "", "area": self.area or "",
                "department": str(self.department_id) if self.department_id else ""}


def _matched(line: TaskLine, s: TaskSelection) -> int:
    """How many of the counted things `line` holds for the selection (0: not listed); a task counts 1."""
    if s.area and line.area != s.area:
        return 0
    if s.what:
        per_department = {"missing": line.missing, "level1": line.levels.get(1, {}),
                          "level2": line.levels.get(2, {}), "escalated": line.escalated}[s.what]
        n = per_department.get(s.department_id, 0) if s.department_id else sum(per_department.values())
        return n if not s.light or line.verdict.light == s.light else 0
    if s.department_id and s.department_id not in line.lead_ids:
        return 0
    if s.light and line.verdict.light != s.light:
        return 0
    if s.target:
        per = [line.targets.get(s.department_id, NONE)] if s.department_id else line.targets.values()
        return sum(p.get(s.target, 0) for p in per)
    return 1


def select_tasks(overview: Overview, s: TaskSelection) -> tuple[list[TaskLine], int]:
    """The tasks matching the selection, worst light first then in plan order, and the count the overview
    shows for the same filter (tasks; or contributions, items, 督办 or targets with `what` / `target`)."""
    order = {light: i for i, light in enumerate(LIGHTS)}
    matched = [(line, n) for line in overview.tasks[s.scope] if (n := _matched(line, s))]
    matched.sort(key=lambda pair: (order[pair[0].verdict.light], pair[0].task.position))
    return [line for line, _n in matched], sum(n for _line, n in matched)


# -- the office's thresholds ---------------------------------------------------------------------------------

def _as_int(value) -> int | None:
    text = str(value if value is not None else "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 3 else None


def set_light_rules(plan: Plan, values: dict | None, *, actor: User, now: datetime) -> Rules:
    """Save the plan's light thresholds (whole working days within RULE_BOUNDS), or None to restore the
    defaults; audited and committed. Only what differs from a default is stored, so a plan that keeps a default
    follows it if it changes. Returns the rules now in force."""
    require(actor is not None and actor.can_edit_light_rules(), _("只有领导小组办公室可以修改亮灯规则。"))
    before = light_rules(plan)
    if values is None:
        plan.light_rules = None
    else:
        errors, clean = {}, {}
        for key, (low, high) in RULE_BOUNDS.items():
            number = _as_int(values.get(key))
            if number is None or not low <= number <= high:
                errors[key] = _("请填写 %(min)s–%(max)s 之间的整数。", min=low, max=high)
            else:
                clean[key] = number
        if errors:
            raise ValidationFailed(errors)
        plan.light_rules = {k: v for k, v in clean.items() if v != DEFAULT_RULES[k]} or None
    after = light_rules(plan)
    record("plan.light_rules", plan, actor=actor, now=now,
           data={"before": before.__dict__, "after": after.__dict__})
    db.session.commit()
    return after


def published_plans() -> list[Plan]:
    """The plans an overview can be shown for, the most recently published first."""
    return list(db.session.scalars(select(Plan).where(Plan.status == PlanStatus.PUBLISHED)
                                   .order_by(Plan.published_at.desc(), Plan.id.desc())))
