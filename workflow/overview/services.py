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
- a task's target is on track when its latest approved value meets what is due this year (the evaluation's
  due_this_year and attainment), off track when it does not, without value while none was approved.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import contains_eager, load_only

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
    User,
)
from models.audit import record
from models.evaluation import Evaluation, TargetMilestone
from workflow.calendar.lateness import days_late, lateness, resubmission_due, workdays_left
from workflow.calendar.office import office_calendar
from workflow.calendar.workdays import WorkdayCalendar
from workflow.clock import local
from workflow.domain import ValidationFailed, require
from workflow.evaluation.scoring import default_base_year, due_this_year, effective_settings, on_track
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


@dataclass
class Item:
    """A report or a contribution as counted: its scope keys, its state, the ladder level it has reached."""

    period_id: int
    task_id: int
    department_id: int
    state: str          # a REPORT_STATES key; contributions: 'missing', 'submitted' or 'pending'
    level: int          # 1 or 2 when not handed in and that late on the reminder ladder, else 0
    facts: ReportFacts | None = None
    id: int = 0         # the report's (the task list links the latest one)


@dataclass
class TaskLine:
    """One task as the overview's task list shows it, in one scope."""

    task: Task
    area: str | None
    leads: list[Department]
    verdict: Verdict
    missing: dict[int, int]              # department id → contributions missing
    levels: dict[int, dict[int, int]]    # ladder level (1, 2) → department id → items at that level
    escalated: dict[int, int]            # department id → open 督办 on the task
    targets: dict[str, int]              # target state → number of the task's targets
    report_id: int | None = None         # a lead's report of the latest period in scope

    @property
    def lead_ids(self) -> set[int]:
        return {d.id for d in self.leads}


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
    periods: list[Period]
    tasks: list[Task]
    areas: list[tuple[str, str]]
    assignments: list[tuple[int, int, str]]      # task id, department id, role (active ones)
    departments: dict[int, Department]
    reports: list[Report]
    contributions: list[Contribution]
    escalations: list[tuple[int, int, int]]      # task id, period id, department id (open ones)
    targets: list[Target]
    approved: list[tuple[int, int, float]]        # target id, department id, value: approved, oldest period first
    milestones: dict[int, dict[int, float]]


def _load(plan: Plan) -> _Data:
    periods = list(db.session.scalars(select(Period).where(Period.plan_id == plan.id).order_by(Period.start)))
    tasks = list(db.session.scalars(
        select(Task).where(Task.plan_id == plan.id).order_by(Task.position)
        .options(load_only(Task.id, Task.code, Task.title, Task.position, Task.plan_id))))
    areas = [(code, title) for code, title in db.session.execute(
        select(OutlineNode.code, OutlineNode.title).where(OutlineNode.plan_id == plan.id,
                                                          OutlineNode.level == AREA_LEVEL)
        .order_by(OutlineNode.position))]
    rows = db.session.execute(
        select(Assignment.task_id, Assignment.department_id, Assignment.role, Department)
        .join(Task).join(Department).where(Task.plan_id == plan.id, Assignment.status.in_(ACTIVE_ASSIGNMENT))
        .order_by(Assignment.id)).all()
    departments = {d.id: d for *_, d in rows}
    opened = (Period.plan_id == plan.id, Period.opened.is_(True))
    reports = list(db.session.scalars(
        select(Report).join(Report.period).where(*opened)
        .options(contains_eager(Report.period),
                 load_only(Report.id, Report.task_id, Report.period_id, Report.department_id, Report.status,
                           Report.progress, Report.submitted_at, Report.first_submitted_at, Report.reviewed_at))
        .order_by(Report.id)))
    contributions = list(db.session.scalars(
        select(Contribution).join(Contribution.period).where(*opened)
        .options(contains_eager(Contribution.period),
                 load_only(Contribution.id, Contribution.task_id, Contribution.period_id,
                           Contribution.department_id, Contribution.status, Contribution.submitted_at))
        .order_by(Contribution.id)))
    escalations = [tuple(r) for r in db.session.execute(
        select(Escalation.task_id, Escalation.period_id, Escalation.department_id)
        .where(Escalation.plan_id == plan.id, Escalation.status == EscalationStatus.OPEN))]
    targets = list(db.session.scalars(select(Target).where(Target.plan_id == plan.id, Target.task_id.is_not(None))
                                      .order_by(Target.task_id, Target.position, Target.id)))
    approved = [(t, d, float(v)) for t, d, v in db.session.execute(
        select(ReportValue.target_id, Report.department_id, ReportValue.value).join(Report).join(Report.period)
        .where(Period.plan_id == plan.id, Report.status == ReportStatus.APPROVED, ReportValue.value.is_not(None))
        .order_by(Period.start, Report.id))]
    milestones: dict[int, dict[int, float]] = defaultdict(dict)
    for target_id, year, value in db.session.execute(
            select(TargetMilestone.target_id, TargetMilestone.year, TargetMilestone.value).join(Target)
            .where(Target.plan_id == plan.id)):
        milestones[target_id][year] = float(value)
    return _Data(periods, tasks, areas, [(t, d, role) for t, d, role, _ in rows], departments, reports,
                 contributions, escalations, targets, approved, milestones)


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


def _ladder_level(late: int, ladder: dict) -> int:
    """1 or 2 once that late (working days) on the reminder ladder; level 3 is the 督办 row, counted as such."""
    if late >= ladder["level3_late"]:
        return 0
    return next((n for n in (2, 1) if late >= ladder[f"level{n}_late"]), 0)


def report_item(r: Report, today: date, cal: WorkdayCalendar, rules: Rules, ladder: dict) -> Item:
    """How a report counts today: its state, its ladder level and the facts the light rule reads (working days
    left and late on the office calendar; a returned report late from its resubmission deadline)."""
    deadline = r.period.deadline
    late = days_late(r, today, cal).working
    if r.status == ReportStatus.RETURNED and r.reviewed_at is not None:
        late = lateness(resubmission_due(r, ladder["returned_grace_workdays"], cal), today, cal).working
    handed_in = r.status in (ReportStatus.SUBMITTED, ReportStatus.APPROVED)
    if r.status != ReportStatus.DRAFT:
        state = r.status
    elif late:
        state = "overdue"
    elif workdays_left(deadline, today, cal) <= rules.due_soon_workdays:
        state = "due_soon"
    else:
        state = "not_due"
    facts = ReportFacts(status=r.status, period=r.period.start.toordinal(),
                        workdays_left=workdays_left(deadline, today, cal),
                        workdays_late=0 if handed_in else late, progress=r.progress if handed_in else None)
    return Item(r.period_id, r.task_id, r.department_id, str(state),
                0 if handed_in else _ladder_level(late, ladder), facts, r.id)


def contribution_item(c: Contribution, today: date, cal: WorkdayCalendar, ladder: dict) -> Item:
    if c.status == ContributionStatus.SUBMITTED:
        return Item(c.period_id, c.task_id, c.department_id, "submitted", 0)
    late = days_late(c, today, cal).working
    return Item(c.period_id, c.task_id, c.department_id, "missing" if late else "pending",
                _ladder_level(late, ladder))


def _target_states(data: _Data, year: int, base_year: int) -> dict[int, str]:
    """Target id → on_track / off_track / no_value: the latest approved value (of the department that reported
    it) against what is due this year."""
    latest: dict[int, tuple[int, float]] = {}
    first: dict[tuple[int, int], float] = {}
    for target_id, department_id, value in data.approved:
        latest[target_id] = (department_id, value)
        first.setdefault((department_id, target_id), value)
    states = {}
    for t in data.targets:
        department_id, value = latest.get(t.id, (None, None))
        due, _basis = due_this_year(t, year, base_year=base_year, first_value=first.get((department_id, t.id)),
                                    milestones=data.milestones.get(t.id, {}))
        verdict = on_track(t.comparator, value, due)
        states[t.id] = "no_value" if verdict is None else ("on_track" if verdict else "off_track")
    return states


def compute(plan: Plan, *, now: datetime, calendar: WorkdayCalendar | None = None) -> Overview:
    """Every figure of the overview of `plan` at `now` (pure reading)."""
    today = local(now).date()
    cal = calendar or office_calendar()
    rules, ladder = light_rules(plan), rules_for(plan)
    data = _load(plan)
    period = current_period(data.periods, today)
    opened = [p for p in data.periods if p.opened]
    scopes = {"period": [period.id] if period else [], "year": [p.id for p in opened if p.end.year == today.year],
              "all": [p.id for p in opened]}
    area_codes = [code for code, _title in data.areas]
    task_area = {t.id: area_of(t.code, area_codes) for t in data.tasks}
    leads: dict[int, list[Department]] = defaultdict(list)
    for task_id, department_id, role in data.assignments:
        if role == AssignmentRole.LEAD:
            leads[task_id].append(data.departments[department_id])
    reports = [report_item(r, today, cal, rules, ladder) for r in data.reports]
    contributions = [contribution_item(c, today, cal, ladder) for c in data.contributions]
    target_state = _target_states(data, today.year, _base_year(plan, today.year))
    task_targets: dict[int, dict[str, int]] = defaultdict(lambda: dict.fromkeys(TARGET_STATES, 0))
    for t in data.targets:
        task_targets[t.task_id][target_state[t.id]] += 1

    overview = Overview(plan=plan, now=now, today=today, rules=rules, ladder=ladder, period=period,
                        year=today.year, scopes=scopes, figures={}, tasks={}, areas={}, departments={},
                        area_titles=dict(data.areas), department_names={d.id: d.name for d in data.departments.values()})
    for scope, period_ids in scopes.items():
        in_scope = set(period_ids)
        lines = _task_lines(data, in_scope, reports, contributions, task_area, leads, task_targets, rules)
        overview.tasks[scope] = lines
        overview.figures[scope], overview.areas[scope], overview.departments[scope] = _scope_figures(
            data, lines, [i for i in reports if i.period_id in in_scope],
            [i for i in contributions if i.period_id in in_scope],
            [e for e in data.escalations if e[1] in in_scope], task_area, overview.area_titles)
    return overview


def _task_lines(data: _Data, in_scope: set[int], reports: list[Item], contributions: list[Item],
                task_area: dict, leads: dict, task_targets: dict, rules: Rules) -> list[TaskLine]:
    facts: dict[int, list[ReportFacts]] = defaultdict(list)
    latest: dict[int, Item] = {}
    levels: dict[int, dict[int, dict[int, int]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
    missing: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for item in reports:
        if item.period_id in in_scope:
            facts[item.task_id].append(item.facts)
            if item.task_id not in latest or item.facts.period > latest[item.task_id].facts.period:
                latest[item.task_id] = item
            if item.level:
                levels[item.task_id][item.level][item.department_id] += 1
    for item in contributions:
        if item.period_id in in_scope:
            if item.state == "missing":
                missing[item.task_id][item.department_id] += 1
            if item.level:
                levels[item.task_id][item.level][item.department_id] += 1
    escalated: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for task_id, period_id, department_id in data.escalations:
        if period_id in in_scope:
            escalated[task_id][department_id] += 1
    return [TaskLine(task=t, area=task_area[t.id], leads=leads.get(t.id, []),
                     verdict=task_light(facts.get(t.id, ()), escalated=bool(escalated.get(t.id)), rules=rules),
                     missing=dict(missing.get(t.id, {})),
                     levels={n: dict(by) for n, by in levels.get(t.id, {}).items()},
                     escalated=dict(escalated.get(t.id, {})),
                     targets=dict(task_targets.get(t.id, dict.fromkeys(TARGET_STATES, 0))),
                     report_id=latest[t.id].id if t.id in latest else None)
            for t in data.tasks]


def _tally(lines: Iterable[TaskLine], reports: Iterable[Item], contributions: Iterable[Item],
           escalations: Iterable[tuple[int, int, int]], *, line_keys, item_key, escalation_key) -> dict:
    """Figures per key in one pass over each list: `line_keys(line)` are the keys a task counts under (its
    area, or each of its lead departments), `item_key(item)` and `escalation_key(row)` the key of a report or
    contribution and of an open 督办. The lists are already held to the scope."""
    out: dict = defaultdict(Figures)
    for line in lines:
        for key in line_keys(line):
            figures = out[key]
            figures.tasks[line.verdict.light] += 1
            for state, n in line.targets.items():
                figures.targets[state] += n
    for item in reports:
        figures = out[item_key(item)]
        figures.reports[item.state] += 1
        if item.level:
            figures.escalations[item.level] += 1
    for item in contributions:
        figures = out[item_key(item)]
        figures.contributions_missing += item.state == "missing"
        if item.level:
            figures.escalations[item.level] += 1
    for row in escalations:
        out[escalation_key(row)].escalations[3] += 1
    return out


def _scope_figures(data: _Data, lines: list[TaskLine], reports: list[Item], contributions: list[Item],
                   escalations: list[tuple[int, int, int]], task_area: dict[int, str | None],
                   area_titles: dict[str, str]) -> tuple[Figures, list[Row], list[Row]]:
    """The scope's totals, its per-area rows (the plan's areas in outline order, then tasks under none) and
    its per-department rows (every department with a part in the plan, in name order)."""
    total = _tally(lines, reports, contributions, escalations, line_keys=lambda line: (None,),
                   item_key=lambda item: None, escalation_key=lambda row: None)[None]
    by_area = _tally(lines, reports, contributions, escalations, line_keys=lambda line: (line.area,),
                     item_key=lambda item: task_area[item.task_id], escalation_key=lambda row: task_area[row[0]])
    areas = [Row(code, area_titles[code], by_area[code]) for code in area_titles if code in by_area]
    if None in by_area:
        areas.append(Row("", _("其他"), by_area[None]))
    by_department = _tally(lines, reports, contributions, escalations,
                           line_keys=lambda line: line.lead_ids, item_key=lambda item: item.department_id,
                           escalation_key=lambda row: row[2])
    departments = [Row(d.id, d.name, by_department.get(d.id, Figures()))
                   for d in sorted(data.departments.values(), key=lambda d: d.name)]
    return total, areas, departments


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
        return line.targets.get(s.target, 0)
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
