"""How a year of recorded work becomes a score per task and department.

The rules, each configurable in the evaluation's settings (DEFAULT_SETTINGS) and printed in the report:

- Items counted: the reports (lead) and contributions (co-responsible) of the year's periods (periods ending in
  the year) whose deadline has passed on the evaluation date, plus any already submitted before it.
- Deadlines: with `extension_on_time` a report counts from the date an approved extension (延期申请) gave it,
  otherwise from its period's deadline. With `closed_on_time` a task closed early (办结销号) scores the periods
  of the year it no longer reports — what its closure withdrew and the periods after it — as on time (100);
  otherwise they are not counted.
- Timeliness, per item: 100 on time; late: 100 − `late_points_per_day` per calendar day late, never below
  `late_floor`; never submitted: 0. Lateness comes from workflow.calendar.lateness like everywhere else, but
  the evaluation counts its calendar days (Lateness.calendar), not the working days the pages and rules show:
  the published rule says 逾期每天扣分, and changing the unit would move the scores of a year already under way.
- Quality (lead reports the office has reviewed): 100 when approved at first submission, 0 when ever returned.
- Target attainment (lead): each target's latest approved value of the department against what was due this
  year: the target itself when its year has come, otherwise the linear path from the base year (base value:
  the office's milestone for that year, else the first approved value reported) to the target, through any
  milestones the office set. A target stated against a year (比2020年下降 9.5%) is a change since that year: its
  path starts there at 0. ≥ and = (a level to reach, 达到 97%): value / due; ≤: due / value; ≈: 1 − relative
  gap; capped at 100, none 0.
- The office's rating of the task (0–100), when given; it counts for every department of the task (for co
  departments at their lower role weight).
- A task's score is the weighted mean of the parts it has (`part_weights`, renormalised over those present);
  a department's base score is the mean of its task scores weighted by role (`role_weights`: lead, co).
- Deductions: `escalation_points` per level-3 escalation (督办) of the year, at most `escalation_cap`.
- The office's adjustments (points with a reason) are added; the result is clamped to 0–100, rounded to one
  decimal, and graded by `thresholds` (优秀 / 良好 / 一般, otherwise 较差).

The ranking (`rank_results`) compares like with like, so a department with two co-operating tasks done on time
is not put above one carrying twenty lead tasks:
- Groups (`group_by`): 'role' (default) ranks the departments that lead at least one task apart from those that
  only co-operate; 'kind' by department kind; 'custom' by the office's `groups` (every department in exactly
  one; one left out is refused when the settings are saved, and blocks the sign-off if the plan changed since);
  'none' ranks everyone together.
- A department needs `min_items` scored items (reports and contributions counted) to be ranked at all; the
  others are listed, unranked, under their group.
- Workload: load = Σ role weight of its tasks + `target_load` × the targets of its lead tasks; its workload
  score is 100 × load / the largest load in its group. The ranking score is the score × (100 −
  `workload_weight`)% + the workload score × `workload_weight`%; ranks follow it (equal ones share a rank),
  within each group. Grades stay with the score itself: how well a department did what it was given.
"""
from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value

from models import (
    AssignmentRole,
    AssignmentStatus,
    Contribution,
    Department,
    DepartmentKind,
    Escalation,
    Period,
    Plan,
    Report,
    ReportStatus,
    ReportValue,
    Target,
    Task,
)
from models.evaluation import Evaluation, TargetMilestone
from workflow.calendar.lateness import first_handed_in, lateness
from workflow.calendar.office import office_calendar
from workflow.calendar.workdays import WorkdayCalendar, default_calendar
from workflow.clock import local
from workflow.extensions import db
from workflow.labels import chinese_label

GRADES = ("优秀", "良好", "一般", "较差")
PARTS = ("timeliness", "quality", "attainment", "rating")

DEFAULT_SETTINGS: dict = {
    "role_weights": {"lead": 1.0, "co": 0.5},
    "part_weights": {"timeliness": 30, "quality": 20, "attainment": 30, "rating": 20},
    "thresholds": {"优秀": 90, "良好": 80, "一般": 60},
    "late_points_per_day": 5,
    "late_floor": 50,
    "escalation_points": 1,
    "escalation_cap": 10,
    "base_year": None,   # None: the year before the plan's validity, else the year its targets compare with
    "group_by": "role",  # the ranking groups: role (lead / co only), kind, custom (`groups`), none
    "groups": [],        # custom groups, in order: [{"name": "…", "departments": ["canonical name", …]}]
    "min_items": 4,      # scored items a department needs to be ranked (a year of one quarterly task)
    "workload_weight": 10,   # % of the ranking score that is the workload score: it weighs, performance leads
    "target_load": 0.5,  # a target carried counts as this many lead tasks in the workload
    "extension_on_time": True,   # an approved 延期申请's date is the deadline: met, the report is on time
    "closed_on_time": True,      # a task closed early (办结销号) scores its remaining periods as on time
}
GROUP_BY = ("role", "kind", "custom", "none")
UNGROUPED = "未分组"

SUMMARY_CHARS = 160  # of a report's narrative, kept with the scores for the report's appendix
_COMPARED_YEAR = re.compile(r"比\s*(\d{4})\s*年")


def effective_settings(evaluation: Evaluation) -> dict:
    """The defaults overlaid with what the office set; `base_year` resolved for the plan."""
    return settings_for(evaluation.plan, evaluation.year, evaluation.settings)


def settings_for(plan: Plan, year: int, stored: dict | None, *, targets: list[Target] | None = None) -> dict:
    """effective_settings for a plan's year whether or not its evaluation exists yet (`stored`: its settings):
    the indicator tracker asks what is due this year before anyone opened the year's evaluation. `targets`, the
    plan's, when the caller has them loaded already."""
    settings = {key: (dict(value) if isinstance(value, dict) else list(value) if isinstance(value, list) else value)
                for key, value in DEFAULT_SETTINGS.items()}
    for key, value in (stored or {}).items():
        if isinstance(settings.get(key), dict) and isinstance(value, dict):
            settings[key].update(value)
        else:
            settings[key] = value
    if not settings["base_year"]:
        settings["base_year"] = default_base_year(plan, year, targets=targets)
    return settings


def default_base_year(plan: Plan, year: int, *, targets: list[Target] | None = None) -> int:
    """The year before the plan runs, else the year most of its targets compare with (比2020年…), else the
    year before the evaluated one."""
    if plan.valid_from:
        return plan.valid_from - 1
    if targets is None:
        targets = db.session.scalars(select(Target).where(Target.plan_id == plan.id)).all()
    years = Counter(int(m) for t in targets for m in _COMPARED_YEAR.findall(f"{t.metric} {t.sentence}"))
    if years:
        return years.most_common(1)[0][0]
    return year - 1


def grade_for(score: Decimal | None, thresholds: dict) -> str | None:
    if score is None:
        return None
    for grade in GRADES[:-1]:
        if score >= Decimal(str(thresholds[grade])):
            return grade
    return GRADES[-1]


def rounded(value: float | Decimal | None, places: str = "0.1") -> Decimal | None:
    if value is None:
        return None
    return Decimal(repr(float(value)) if isinstance(value, float) else value).quantize(Decimal(places),
                                                                                      rounding=ROUND_HALF_UP)


def _num(value) -> float | None:
    return None if value is None else round(float(value), 2)


# -- targets -----------------------------------------------------------------------------------------------

def compared_year(target: Target) -> int | None:
    """The year a target is measured against (比2020年下降…), if it says so in its metric or sentence."""
    match = _COMPARED_YEAR.search(f"{target.metric} {target.sentence}")
    return int(match.group(1)) if match else None


def due_value(target: Target, year: int, *, base_year: int, base_value: float | None,
              milestones: dict[int, float]) -> tuple[float | None, str]:
    """What the target asks for by the end of `year`, and how that was found."""
    goal = float(target.value)
    target_year = target.year or year
    if year >= target_year:
        return goal, "target"
    if year in milestones:
        return milestones[year], "milestone"
    start = (base_year, milestones.get(base_year, base_value))
    points = sorted({**{y: v for y, v in milestones.items() if base_year < y < target_year}, target_year: goal}.items())
    if start[1] is None:
        return None, "no_base"
    for (y0, v0), (y1, v1) in zip([start, *points], points, strict=False):
        if y0 <= year <= y1:
            return v0 + (v1 - v0) * (year - y0) / (y1 - y0), "linear"
    return goal, "target"


def target_due(target: Target, year: int, *, base_year: int, first_value: float | None,
                milestones: dict[int, float]) -> tuple[float | None, str]:
    """What one department's target asks for by the end of `year` (due_value), from the base the rules give it:
    a target stated against a year (比2020年下降 9.5%) is a change since that year, so its path starts there at
    0; any other starts in `base_year` at the department's first approved value (or the office's milestone for
    that year). The evaluation's attainment, the overview's targets on / off track and the indicator tracker all
    ask here, so they never disagree."""
    relative_to = compared_year(target)
    if relative_to is not None:
        base_year, first_value = relative_to, 0.0
    return due_value(target, year, base_year=base_year, base_value=first_value, milestones=milestones)


def load_milestones(target_ids) -> dict[int, dict[int, float]]:
    """The office's milestones: target id → year → value. `target_ids`: a list or a select of ids."""
    milestones: dict[int, dict[int, float]] = defaultdict(dict)
    for m in db.session.scalars(select(TargetMilestone).where(TargetMilestone.target_id.in_(target_ids))):
        milestones[m.target_id][m.year] = float(m.value)
    return milestones


def approved_values(task_ids) -> dict[tuple[int, int], list[tuple[Period, float]]]:
    """(department id, target id) → the values its approved reports gave, oldest period first, in one query.
    `task_ids`: a list or a select of ids. The first is the base of the linear path (target_due)."""
    series: dict[tuple[int, int], list[tuple[Period, float]]] = defaultdict(list)
    rows = db.session.execute(
        select(Report.department_id, ReportValue.target_id, ReportValue.value, Period)
        .join(Report, ReportValue.report_id == Report.id).join(Period, Report.period_id == Period.id)
        .where(Report.task_id.in_(task_ids), Report.status == ReportStatus.APPROVED, ReportValue.value.is_not(None))
        .order_by(Period.start, Period.id))
    for department_id, target_id, value, period in rows:
        series[(department_id, target_id)].append((period, float(value)))
    return series


def attainment(comparator: str, value: float | None, due: float | None) -> float:
    if value is None or due is None:
        return 0.0
    if comparator in (">=", "="):   # a level to reach (达到 97%): exceeding it is not a shortfall
        share = 1.0 if value >= due else (value / due if due > 0 else 0.0)
    elif comparator == "<=":
        share = 1.0 if value <= due else (due / value if value > 0 else 0.0)
    else:
        share = 1.0 - abs(value - due) / abs(due) if due else (1.0 if value == due else 0.0)
    return max(0.0, min(1.0, share)) * 100


# -- items -------------------------------------------------------------------------------------------------

def timeliness_points(deadline: date, submitted: date | None, as_of: date, settings: dict,
                      calendar: WorkdayCalendar | None = None) -> tuple[float, int]:
    """(points, calendar days late) for one report or contribution, first submitted on `submitted`."""
    late = lateness(deadline, submitted or as_of, calendar or default_calendar()).calendar
    if submitted is None:
        return 0.0, late
    if late == 0:
        return 100.0, 0
    return max(float(settings["late_floor"]), 100.0 - settings["late_points_per_day"] * late), late


def weighted_mean(pairs) -> float | None:
    pairs = [(w, v) for w, v in pairs if v is not None and w > 0]
    total = sum(w for w, _ in pairs)
    return sum(w * v for w, v in pairs) / total if total else None


@dataclass
class YearData:
    """Everything the year's scores are computed from, loaded in a handful of queries."""

    periods: list[Period]
    tasks: dict[int, Task]
    roles: dict[tuple[int, int], str]          # (department id, task id) → lead / co
    departments: dict[int, Department]
    reports: list[Report]
    contributions: list[Contribution]
    escalations: list[Escalation]
    milestones: dict[int, dict[int, float]]    # target id → year → value
    first_values: dict[tuple[int, int], float]  # (department id, target id) → first approved value

    def __post_init__(self) -> None:
        """Each department's tasks and escalations, grouped in one pass (not one scan of all per department)."""
        self.tasks_of: dict[int, list[tuple[int, str]]] = defaultdict(list)
        for (dept_id, task_id), role in self.roles.items():
            self.tasks_of[dept_id].append((task_id, role))
        self.escalations_of: dict[int, list[Escalation]] = defaultdict(list)
        for e in self.escalations:
            self.escalations_of[e.department_id].append(e)


def load_year(evaluation: Evaluation, as_of: date) -> YearData:
    plan_id, year = evaluation.plan_id, evaluation.year
    periods = db.session.scalars(select(Period).where(Period.plan_id == plan_id).order_by(Period.start)).all()
    year_periods = [p for p in periods if p.end.year == year]
    period_ids = [p.id for p in year_periods]
    tasks = {t.id: t for t in db.session.scalars(
        select(Task).where(Task.plan_id == plan_id).order_by(Task.position)
        .options(selectinload(Task.targets), selectinload(Task.assignments))).all()}
    roles: dict[tuple[int, int], str] = {}
    for task in tasks.values():
        for a in task.assignments:
            if a.status != AssignmentStatus.TRANSFERRED and a.status != AssignmentStatus.DRAFT:
                roles[(a.department_id, task.id)] = a.role
    reports = db.session.scalars(
        select(Report).where(Report.task_id.in_(tasks), Report.period_id.in_(period_ids))
        .options(selectinload(Report.values))).all() if period_ids else []
    contributions = db.session.scalars(
        select(Contribution).where(Contribution.task_id.in_(tasks), Contribution.period_id.in_(period_ids))
    ).all() if period_ids else []
    for r in reports:
        roles.setdefault((r.department_id, r.task_id), "lead")
    for c in contributions:
        roles.setdefault((c.department_id, c.task_id), "co")
    escalations = db.session.scalars(
        select(Escalation).where(Escalation.plan_id == plan_id, Escalation.period_id.in_(period_ids))
        .order_by(Escalation.opened_at, Escalation.id)).all() if period_ids else []
    _attach(reports, contributions, escalations, {p.id: p for p in year_periods}, tasks)
    milestones = load_milestones([t.id for task in tasks.values() for t in task.targets])
    first_values = {key: values[0][1] for key, values in approved_values(list(tasks)).items()}
    department_ids = {d for d, _ in roles}
    departments = {d.id: d for d in db.session.scalars(select(Department).where(Department.id.in_(department_ids)))}
    return YearData(year_periods, tasks, roles, departments, reports, contributions, escalations, milestones,
                    first_values)


def _attach(reports, contributions, escalations, periods: dict[int, Period], tasks: dict[int, Task]) -> None:
    """Give each row its period (and an escalation its task) from the rows already loaded. Reading `r.period`
    otherwise runs the lazy loader once per row, an identity-map hit but ~20,000 of them for a province plan
    (1.5 s of 10 in its profile)."""
    for row in (*reports, *contributions, *escalations):
        set_committed_value(row, "period", periods[row.period_id])
    for e in escalations:
        if e.task_id in tasks:
            set_committed_value(e, "task", tasks[e.task_id])


def _counted(deadline: date, submitted: date | None, as_of: date) -> bool:
    return submitted is not None or deadline < as_of


def compute(evaluation: Evaluation, as_of: date) -> list[dict]:
    """One result per department with tasks: score parts, base, deduction, adjustment, score, grade, detail.

    Pure reading: nothing is written. The caller stores it (workflow.evaluation.services.compute_evaluation).
    """
    settings = effective_settings(evaluation)
    data = load_year(evaluation, as_of)
    ratings = {r.task_id: r for r in evaluation.ratings}
    adjustments: dict[int, list] = defaultdict(list)
    for adj in evaluation.adjustments:
        adjustments[adj.department_id].append(adj)
    items: dict[tuple[int, int], list[dict]] = defaultdict(list)
    calendar = office_calendar()
    for r in data.reports:
        items[(r.department_id, r.task_id)].append(_report_item(r, as_of, settings, calendar))
    for c in data.contributions:
        items[(c.department_id, c.task_id)].append(_contribution_item(c, as_of, settings, calendar))
    if settings["closed_on_time"]:
        _closed_periods(data, items, as_of)
    latest: dict[tuple[int, int], tuple[float, Report]] = {}
    for r in sorted((r for r in data.reports if r.status == ReportStatus.APPROVED), key=lambda r: r.period.start):
        for v in r.values:
            if v.value is not None:
                latest[(r.department_id, v.target_id)] = (float(v.value), r)

    results = []
    for dept_id, dept in data.departments.items():
        task_rows = []
        for task_id, role in data.tasks_of[dept_id]:
            task = data.tasks[task_id]
            rows = [i for i in items[(dept_id, task_id)] if i["counted"]]
            parts = {p: None for p in PARTS}
            if rows:
                parts["timeliness"] = sum(i["points"] for i in rows) / len(rows)
            reviewed = [i for i in rows if i["first_time"] is not None]
            if role == AssignmentRole.LEAD and reviewed:
                parts["quality"] = 100.0 * sum(1 for i in reviewed if i["first_time"]) / len(reviewed)
            targets = []
            if role == AssignmentRole.LEAD and rows:
                targets = [_target_row(t, dept_id, evaluation.year, data, latest, settings) for t in task.targets]
                if targets:
                    parts["attainment"] = sum(t["score"] for t in targets) / len(targets)
            rating = ratings.get(task_id)
            if rating is not None:
                parts["rating"] = float(rating.score)
            score = weighted_mean((settings["part_weights"].get(p, 0), v) for p, v in parts.items())
            task_rows.append({
                "task_id": task_id, "code": task.code, "title": task.title, "role": role,
                "weight": float(settings["role_weights"].get(role, 0)), "position": task.position,
                "score": _num(score), "parts": {p: _num(v) for p, v in parts.items()},
                "items": sorted(items[(dept_id, task_id)], key=lambda i: (i["period_start"], i["kind"])),
                "targets": targets,
                "rating": {"score": rating.score, "comment": rating.comment} if rating else None,
            })
        task_rows.sort(key=lambda t: (t["role"] != "lead", t["position"]))
        scored = [t for t in task_rows if t["score"] is not None]
        base = weighted_mean((t["weight"], t["score"]) for t in scored)
        dept_parts = {p: _num(weighted_mean((t["weight"], t["parts"][p]) for t in scored)) for p in PARTS}
        escalations = data.escalations_of[dept_id]
        deduction = min(float(settings["escalation_cap"]), float(settings["escalation_points"]) * len(escalations))
        adjustment = sum((a.points for a in adjustments[dept_id]), Decimal(0))
        score = None
        if base is not None:
            # In Decimal, from the printed base and deduction: float sums like 90.57 − 0.62 = 89.94999… would
            # otherwise round down where the rule (half up) gives 90.0.
            total = rounded(base, "0.01") - rounded(deduction, "0.01") + adjustment
            score = rounded(min(Decimal(100), max(Decimal(0), total)))
        counted = [i for t in task_rows for i in t["items"] if i["counted"]]
        targets_carried = sum(len(data.tasks[t["task_id"]].targets) for t in task_rows
                              if t["role"] == AssignmentRole.LEAD)
        load = sum(t["weight"] for t in task_rows) + float(settings["target_load"]) * targets_carried
        results.append({
            "department_id": dept_id, "department": dept.name,
            "base_score": rounded(base, "0.01"), "deduction": rounded(deduction, "0.01"),
            "adjustment": rounded(adjustment, "0.01"), "score": score,
            "grade": grade_for(score, settings["thresholds"]),
            "parts": {**dept_parts, "base": _num(base), "deduction": -deduction if deduction else 0.0,
                      "adjustment": float(adjustment),
                      "lead_tasks": sum(1 for t in task_rows if t["role"] == "lead"),
                      "co_tasks": sum(1 for t in task_rows if t["role"] == "co"),
                      "due": len(counted),
                      "on_time": sum(1 for i in counted if i["submitted"] and i["days_late"] == 0),
                      "late": sum(1 for i in counted if i["submitted"] and i["days_late"] > 0),
                      "missing": sum(1 for i in counted if not i["submitted"]),
                      "returns": sum(i.get("returns", 0) for i in counted),
                      "escalations": len(escalations),
                      "targets": targets_carried, "load": round(load, 2)},
            "detail": {
                "tasks": task_rows,
                "escalations": [_escalation_row(e) for e in escalations],
                "adjustments": [{"id": a.id, "points": float(a.points), "reason": a.reason,
                                 "by": a.created_by.display if a.created_by else "",
                                 "at": local(a.created_at).isoformat()} for a in adjustments[dept_id]],
            },
        })
    rank_results(results, settings, {d.id: d.kind for d in data.departments.values()})
    return results


def group_names(settings: dict) -> list[str]:
    """The groups in the order they are shown (before any department is placed)."""
    by = settings["group_by"]
    if by == "role":
        return [chinese_label("ranking_group", "lead"), chinese_label("ranking_group", "co")]
    if by == "kind":
        return [chinese_label("department_kind", k) for k in DepartmentKind]
    if by == "custom":
        return [g["name"] for g in settings["groups"]]
    return [chinese_label("ranking_group", "all")]


def group_of(row: dict, settings: dict, kind: str | None) -> str:
    by = settings["group_by"]
    if by == "role":
        return chinese_label("ranking_group", "lead" if row["parts"]["lead_tasks"] else "co")
    if by == "kind":
        return chinese_label("department_kind", kind or DepartmentKind.OTHER)
    if by == "custom":
        return next((g["name"] for g in settings["groups"] if row["department"] in g["departments"]), UNGROUPED)
    return chinese_label("ranking_group", "all")


def rank_results(results: list[dict], settings: dict, kinds: dict[int, str] | None = None) -> None:
    """Place each department in its group, give it its workload and ranking score, and rank each group.

    Sets "group", "ranking_score", "rank" (None when unranked: no score, or fewer than `min_items` scored
    items), parts["workload"], and "position"; orders `results` by group, then the ranked by ranking score
    (ties: the higher score, then the name; equal ranking scores share a rank), then the unranked.
    """
    kinds = kinds or {}
    share = Decimal(str(settings["workload_weight"])) / 100
    for row in results:
        row["group"] = group_of(row, settings, kinds.get(row["department_id"]))
    order = group_names(settings)
    order += [g for g in dict.fromkeys(r["group"] for r in results) if g not in order]
    placed: list[dict] = []
    for group in order:
        members = [r for r in results if r["group"] == group]
        top = max((r["parts"]["load"] for r in members), default=0)
        for row in members:
            workload = 100 * row["parts"]["load"] / top if top else 0.0
            row["parts"]["workload"] = _num(workload)
            row["ranking_score"] = (None if row["score"] is None else
                                    rounded(row["score"] * (1 - share) + rounded(workload, "0.01") * share))
        ranked = sorted((r for r in members if r["score"] is not None and r["parts"]["due"] >= settings["min_items"]),
                        key=lambda r: (-r["ranking_score"], -r["score"], r["department"]))
        previous, rank = None, 0
        for index, row in enumerate(ranked, start=1):
            if row["ranking_score"] != previous:
                rank, previous = index, row["ranking_score"]
            row["rank"] = rank
        unranked = sorted((r for r in members if r not in ranked),
                          key=lambda r: (r["score"] is None, -(r["score"] or 0), r["department"]))
        for row in unranked:
            row["rank"] = None
        placed += ranked + unranked
    for position, row in enumerate(placed, start=1):
        row["position"] = position
    results[:] = placed


def _closed_periods(data: YearData, items: dict, as_of: date) -> None:
    """The year's periods after a closed task's closure for which its departments have nothing: on time."""
    for task in data.tasks.values():
        if task.closed_at is None:
            continue
        closed_on = local(task.closed_at).date()
        for dept_id, task_id in data.roles:
            if task_id != task.id:
                continue
            have = {i["period"] for i in items[(dept_id, task_id)]}
            for p in data.periods:
                if p.key not in have and p.start > closed_on:
                    items[(dept_id, task_id)].append({
                        "kind": "closed", "id": None, "period": p.key, "period_label": p.label,
                        "period_start": p.start.isoformat(), "deadline": p.deadline.isoformat(), "submitted": None,
                        "days_late": 0, "points": 100.0, "status": "closed", "returns": 0, "first_time": None,
                        "summary": "", "counted": _counted(p.deadline, None, as_of)})


def _withdrawn(item: dict, settings: dict) -> dict:
    """What a closure withdrew: on time under `closed_on_time`, else not counted."""
    item.update(points=100.0, days_late=0, status="closed", first_time=None)
    if not settings["closed_on_time"]:
        item["counted"] = False
    return item


def _report_item(r: Report, as_of: date, settings: dict, calendar: WorkdayCalendar) -> dict:
    submitted = first_handed_in(r)
    deadline = r.deadline if settings["extension_on_time"] else r.period.deadline
    points, late = timeliness_points(deadline, submitted, as_of, settings, calendar)
    reviewed = r.status == ReportStatus.APPROVED or r.return_count > 0
    item = {"kind": "report", "id": r.id, "period": r.period.key, "period_label": r.period.label,
            "period_start": r.period.start.isoformat(), "deadline": deadline.isoformat(),
            "submitted": submitted.isoformat() if submitted else None, "days_late": late, "points": points,
            "status": r.status, "returns": r.return_count,
            "first_time": (r.return_count == 0) if reviewed else None,
            "percent_complete": r.percent_complete, "progress": r.progress,
            "summary": (r.narrative or "")[:SUMMARY_CHARS], "return_reason": r.last_return_reason,
            "values": {str(v.target_id): _num(v.value) for v in r.values if v.value is not None},
            "counted": _counted(deadline, submitted, as_of)}
    return _withdrawn(item, settings) if r.withdrawn_at is not None else item


def _contribution_item(c: Contribution, as_of: date, settings: dict, calendar: WorkdayCalendar) -> dict:
    submitted = first_handed_in(c)
    points, late = timeliness_points(c.period.deadline, submitted, as_of, settings, calendar)
    item = {"kind": "contribution", "id": c.id, "period": c.period.key, "period_label": c.period.label,
            "period_start": c.period.start.isoformat(), "deadline": c.period.deadline.isoformat(),
            "submitted": submitted.isoformat() if submitted else None, "days_late": late, "points": points,
            "status": c.status, "returns": 0, "first_time": None, "summary": (c.text or "")[:SUMMARY_CHARS],
            "counted": _counted(c.period.deadline, submitted, as_of)}
    return _withdrawn(item, settings) if c.withdrawn_at is not None else item


def _target_row(target: Target, dept_id: int, year: int, data: YearData, latest: dict, settings: dict) -> dict:
    value, report = latest.get((dept_id, target.id), (None, None))
    due, basis = target_due(target, year, base_year=settings["base_year"],
                            first_value=data.first_values.get((dept_id, target.id)),
                            milestones=data.milestones.get(target.id, {}))
    return {"target_id": target.id, "metric": target.metric, "label": target.label, "year": target.year,
            "unit": target.unit, "comparator": target.comparator, "due": _num(due), "basis": basis,
            "value": value, "report_id": report.id if report else None,
            "period": report.period.key if report else None,
            "score": round(attainment(target.comparator, value, due), 2)}


def _escalation_row(e: Escalation) -> dict:
    return {"id": e.id, "task_code": e.task.code, "period": e.period.key, "cause": e.cause,
            "days_late": e.days_late, "opened": local(e.opened_at).date().isoformat(), "status": e.status}
