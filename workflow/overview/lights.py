"""THE light rule of a task (红黄绿灯), as the overview prints it: a pure function of what is known about the
task's reports, so pages, the API, exports and tests share one rule and can check it table by table.

In order, the first that applies:
- **done** (已销号 / 已完成): the task is closed (办结销号), or the latest report handed in (submitted or approved)
  says 已完成;
- **red**: a level-3 escalation (督办) is open on the task; a report not handed in is `red_workdays_late`
  (default 1) or more working days late (a returned report counting from its resubmission deadline, as the
  reminder ladder does); or the latest report handed in says 滞后;
- **yellow**: a report not handed in is due within `due_soon_workdays` (default 3) working days, or late by
  less than the red threshold; a report was returned and not yet resubmitted; or the latest report says
  存在风险;
- **green**: a report has been handed in (submitted or approved) and nothing above applies;
- **grey**: nothing handed in and nothing due yet (not started, or no period has begun).

Working days are the office calendar's (workflow.calendar): the facts carry them already counted.
"""
from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from models import Progress, ReportStatus


class Light(enum.StrEnum):
    RED = "red"
    YELLOW = "yellow"
    GREEN = "green"
    GREY = "grey"
    DONE = "done"


# Display order (worst first), the order of every count and legend.
LIGHTS = (Light.RED, Light.YELLOW, Light.GREEN, Light.GREY, Light.DONE)

DEFAULT_RULES = {
    "due_soon_workdays": 3,   # yellow: due within this many working days and not handed in
    "red_workdays_late": 1,   # red: this many working days late (and not handed in)
}
RULE_BOUNDS = {"due_soon_workdays": (0, 30), "red_workdays_late": (1, 30)}  # working days, inclusive

HANDED_IN = (ReportStatus.SUBMITTED, ReportStatus.APPROVED)


@dataclass(frozen=True)
class Rules:
    due_soon_workdays: int = DEFAULT_RULES["due_soon_workdays"]
    red_workdays_late: int = DEFAULT_RULES["red_workdays_late"]

    @classmethod
    def of(cls, stored: Mapping | None) -> Rules:
        """A plan's rules: what the office stored over the defaults."""
        return cls(**{**DEFAULT_RULES, **{k: v for k, v in (stored or {}).items() if k in DEFAULT_RULES}})


class ReportFacts(NamedTuple):
    """One report of the task (a lead department, one opened period), counted on the office calendar. (A tuple:
    one is made per report on every read of the overview.)"""

    status: str                  # ReportStatus
    period: int = 0              # the period's order (its start); later periods have larger numbers
    workdays_left: int = 0       # working days until the deadline, 0 on the day and after (lateness.workdays_left)
    workdays_late: int = 0       # working days late (lateness.days_late; for a returned report: past its
                                 # resubmission deadline, lateness.resubmission_due)
    progress: str | None = None  # Progress, as handed in


class Verdict(NamedTuple):
    light: Light
    reason: str          # why (labels 'light_reason'): closed, completed, escalated, overdue, behind, returned, late,
                         # due_soon, at_risk, handed_in, not_started
    days: int | None = None  # overdue / late: the most working days late; due_soon: the fewest left


def latest_progress(reports: Iterable[ReportFacts]) -> list[str | None]:
    """The progress of the reports handed in for the latest period that has any (a task with two leads has two)."""
    handed_in = [r for r in reports if r.status in HANDED_IN]
    if not handed_in:
        return []
    last = max(r.period for r in handed_in)
    return [r.progress for r in handed_in if r.period == last]


def task_light(reports: Iterable[ReportFacts], *, escalated: bool = False, closed: bool = False,
               rules: Rules = Rules()) -> Verdict:
    """The light of a task from its reports in scope, whether a 督办 is open on it and whether it is closed (see
    the module's rule)."""
    if closed:
        return Verdict(Light.DONE, "closed")
    reports = list(reports)
    progress = latest_progress(reports)
    outstanding = [r for r in reports if r.status not in HANDED_IN]
    if progress and all(p == Progress.COMPLETED for p in progress):
        return Verdict(Light.DONE, "completed")
    if escalated:
        return Verdict(Light.RED, "escalated")
    late = max((r.workdays_late for r in outstanding), default=0)
    if outstanding and late >= rules.red_workdays_late:
        return Verdict(Light.RED, "overdue", late)
    if Progress.BEHIND in progress:
        return Verdict(Light.RED, "behind")
    if any(r.status == ReportStatus.RETURNED for r in outstanding):
        return Verdict(Light.YELLOW, "returned")
    if late:
        return Verdict(Light.YELLOW, "late", late)
    left = min((r.workdays_left for r in outstanding if r.status == ReportStatus.DRAFT), default=None)
    if left is not None and left <= rules.due_soon_workdays:
        return Verdict(Light.YELLOW, "due_soon", left)
    if Progress.AT_RISK in progress:
        return Verdict(Light.YELLOW, "at_risk")
    if progress:
        return Verdict(Light.GREEN, "handed_in")
    return Verdict(Light.GREY, "not_started")
