"""How late a report or contribution is: the one definition behind every page, the API, the reminder and
escalation rules, the evaluation and the PDFs.

Lateness is counted in working days on the office calendar (package data plus the office's 放假调休安排):
the working days after the deadline up to the day that counts — the day it was first handed in, or today
while it is still outstanding (a draft, or a report returned and not yet resubmitted). A deadline of today
is 0; a report due on Friday and handed in on Saturday is 0 working days late (1 calendar day). The calendar
days are kept beside the working days for the rules that count them (the evaluation's timeliness).
"""
from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from flask_babel import gettext as _

from models import Contribution, ContributionStatus, Report, ReportStatus
from workflow.calendar.workdays import WorkdayCalendar
from workflow.clock import local

__all__ = ["ON_TIME", "OUTSTANDING_REPORT", "Lateness", "days_late", "days_late_of", "due_soon_before", "first_day",
           "first_handed_in", "is_outstanding", "lateness", "overdue_before", "resubmission_due",
           "resubmission_due_from", "workdays_left"]

OUTSTANDING_REPORT = (ReportStatus.DRAFT, ReportStatus.RETURNED)


@dataclass(frozen=True)
class Lateness:
    working: int   # working days past the deadline: what pages, the API and the rules show and count
    calendar: int  # calendar days past it

    def __bool__(self) -> bool:
        return self.working > 0

    def __str__(self) -> str:
        """The one wording, e.g. '逾期 2 个工作日' ('' when not late)."""
        return _("逾期 %(n)d 个工作日", n=self.working) if self else ""


ON_TIME = Lateness(0, 0)


def lateness(deadline: date, day: date, calendar: WorkdayCalendar) -> Lateness:
    """How far ``day`` is past ``deadline`` (nothing when on or before it)."""
    return Lateness(calendar.workdays_between(deadline, day), max((day - deadline).days, 0))


def workdays_left(deadline: date, today: date, calendar: WorkdayCalendar) -> int:
    """Working days from today up to the deadline (the twin of lateness, before it): 0 when it is due today or
    already past, 1 when it is due on the next working day. The reminders' "due soon" and the pages' "还剩 N 个
    工作日" both count this."""
    return calendar.workdays_between(today, deadline)


def is_outstanding(item: Report | Contribution) -> bool:
    """Still to be handed in: a draft, or a report returned and not yet resubmitted (and not withdrawn by its
    task's closure)."""
    if item.withdrawn_at is not None:
        return False
    if isinstance(item, Report):
        return item.status in OUTSTANDING_REPORT
    return item.status == ContributionStatus.DRAFT


def first_handed_in(item: Report | Contribution) -> date | None:
    """The (Beijing) day the item was first handed in, if ever."""
    moment = getattr(item, "first_submitted_at", None) or item.submitted_at
    return local(moment).date() if moment else None


def days_late(item: Report | Contribution, today: date, calendar: WorkdayCalendar) -> Lateness:
    """Lateness of an item against its deadline (its period's, or the one an approved extension gave the
    report): to today while outstanding, else to its first hand-in. ``calendar`` is loaded once by the caller
    (office_calendar()), so a list costs no query per row."""
    return days_late_of(item.deadline, outstanding=is_outstanding(item), handed_in=first_handed_in(item),
                        today=today, calendar=calendar)


def days_late_of(deadline: date, *, outstanding: bool, handed_in: date | None, today: date,
                 calendar: WorkdayCalendar) -> Lateness:
    """days_late on plain values, for counts over many rows read as columns rather than objects (the overview)."""
    day = today if outstanding else handed_in
    return lateness(deadline, day, calendar) if day is not None else ON_TIME


def resubmission_due(report: Report, grace_workdays: int, calendar: WorkdayCalendar) -> date:
    """A returned report is due again `grace_workdays` working days after the return (the reminder rules and
    the 督办通知单 count its lateness from there)."""
    return resubmission_due_from(local(report.reviewed_at).date(), grace_workdays, calendar)


def resubmission_due_from(returned_on: date, grace_workdays: int, calendar: WorkdayCalendar) -> date:
    """resubmission_due from the (Beijing) day of the return."""
    return calendar.add_workdays(returned_on, grace_workdays)


def overdue_before(today: date, calendar: WorkdayCalendar) -> date:
    """Outstanding items whose deadline is before this day are at least one working day late (the SQL side
    of days_late, for filters and counts): the deadline must precede the last working day up to today."""
    return calendar.last_workday(today)


def due_soon_before(today: date, n: int, calendar: WorkdayCalendar) -> date:
    """Deadlines before this day are at most ``n`` working days away (the SQL side of workdays_left, for
    filters and counts: workdays_left(d) <= n exactly when d < due_soon_before(today, n))."""
    return calendar.add_workdays(today, n + 1)


def first_day(holds: Callable[[date], bool], near: date, span_days: int = 7305) -> date:
    """The first day within `span_days` of `near` from which `holds` is true, for a rule that is false up to
    some day and true from it on (a monotone rule: "less than n working days late", "waited under n working
    days"). The SQL side of any such rule, found by the rule itself: the column is before this day exactly
    when the rule does not hold, so a set-based query filters by the same definition the pages count with."""
    days = range((near - timedelta(days=span_days)).toordinal(), (near + timedelta(days=span_days)).toordinal())
    return date.fromordinal(days[0] + bisect_left(days, True, key=lambda o: holds(date.fromordinal(o))))
