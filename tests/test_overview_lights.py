"""The light rule at its boundaries, table by table: each row is a task's reports on the 2026 official calendar
(National Day 1–7 October with 8 October off too and Saturday 10 October worked; Mid-Autumn 25 September), the
day it is looked at, and the light and reason it must get. The reports go through the overview's own counting
(services.report_item: days_late, workdays_left, resubmission_due on the calendar) into lights.task_light."""
from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from models import Period, Report
from workflow.calendar.workdays import default_calendar
from workflow.clock import LOCAL_TZ
from workflow.overview.lights import Light, ReportFacts, Rules, task_light
from workflow.overview.services import report_item
from workflow.scheduling.reminders import DEFAULT_RULES as LADDER

CAL = default_calendar()
Q2_START = date(2026, 4, 1)


def at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=LOCAL_TZ).astimezone(UTC)


def report(status: str, deadline: date, *, handed_in: date | None = None, returned: date | None = None,
           progress: str | None = None, start: date = Q2_START) -> Report:
    """A transient report of a period due on `deadline`: first handed in on `handed_in`, returned on `returned`."""
    period = Period(key=f"P{start}", start=start, end=start, deadline=deadline)
    return Report(status=status, period=period, progress=progress,
                  first_submitted_at=at(handed_in) if handed_in else None,
                  submitted_at=at(handed_in) if handed_in else None, reviewed_at=at(returned) if returned else None)


DEFAULTS = Rules()


def light(reports: list[Report], today: date, *, escalated: bool = False, rules: Rules = DEFAULTS):
    facts = [report_item(r, r.period, today, CAL, rules, LADDER).facts for r in reports]
    return task_light(facts, escalated=escalated, rules=rules)


FRI, SAT, MON = date(2026, 6, 5), date(2026, 6, 6), date(2026, 6, 8)
SEP30, OCT7, OCT8, OCT9, OCT12 = date(2026, 9, 30), date(2026, 10, 7), date(2026, 10, 8), date(2026, 10, 9), \
    date(2026, 10, 12)
M3 = Rules(red_workdays_late=3)
N0 = Rules(due_soon_workdays=0)

# (case, today, reports, escalated, rules, light, reason, days)
CASES = [
    ("no report yet (no period begun)", FRI, [], False, Rules(), Light.GREY, "not_started", None),
    ("deadline today, not handed in", FRI, [report("draft", FRI)], False, Rules(), Light.YELLOW, "due_soon", 0),
    ("deadline today, handed in today", FRI, [report("submitted", FRI, handed_in=FRI, progress="on_track")],
     False, Rules(), Light.GREEN, "handed_in", None),
    ("Friday deadline, looked at on Saturday: 0 working days late", SAT, [report("draft", FRI)], False, Rules(),
     Light.YELLOW, "due_soon", 0),
    ("Friday deadline, Monday: 1 working day late", MON, [report("draft", FRI)], False, Rules(), Light.RED,
     "overdue", 1),
    ("handed in late, approved: lateness is history, the light is green", MON,
     [report("approved", FRI, handed_in=MON, progress="on_track")], False, Rules(), Light.GREEN, "handed_in", None),
    ("N working days before, across the holiday (8, 9, 10 Sat worked, 12)", OCT8, [report("draft", OCT12)],
     False, Rules(), Light.YELLOW, "due_soon", 3),
    ("N+1 working days before, across the holiday: not yet due", SEP30, [report("draft", OCT12)], False,
     Rules(), Light.GREY, "not_started", None),
    ("9 calendar days but 2 working days before (the holiday)", SEP30, [report("draft", OCT9)], False, Rules(),
     Light.YELLOW, "due_soon", 2),
    ("deadline before the holiday, looked at during it: not late in working days", OCT7,
     [report("draft", SEP30)], False, Rules(), Light.YELLOW, "due_soon", 0),
    ("deadline before the holiday, first working day after it: late", OCT8, [report("draft", SEP30)], False,
     Rules(), Light.RED, "overdue", 1),
    ("N = 0: the day before the deadline is not yet due", date(2026, 6, 4), [report("draft", FRI)], False, N0,
     Light.GREY, "not_started", None),
    ("N = 0: the deadline day is", FRI, [report("draft", FRI)], False, N0, Light.YELLOW, "due_soon", 0),
    ("red from 3 working days: 2 late is yellow", date(2026, 6, 9), [report("draft", FRI)], False, M3,
     Light.YELLOW, "late", 2),
    ("red from 3 working days: 3 late is red", date(2026, 6, 10), [report("draft", FRI)], False, M3, Light.RED,
     "overdue", 3),
    ("returned, within its 3 working days to resubmit", date(2026, 6, 11),
     [report("returned", FRI, handed_in=FRI, returned=date(2026, 6, 9))], False, Rules(), Light.YELLOW,
     "returned", None),
    ("returned, resubmission deadline (3 working days after the return) today", date(2026, 6, 12),
     [report("returned", FRI, handed_in=FRI, returned=date(2026, 6, 9))], False, Rules(), Light.YELLOW,
     "returned", None),
    ("returned, one working day past its resubmission deadline", date(2026, 6, 15),
     [report("returned", FRI, handed_in=FRI, returned=date(2026, 6, 9))], False, Rules(), Light.RED, "overdue", 1),
    ("resubmitted after a return", date(2026, 6, 15),
     [report("submitted", FRI, handed_in=FRI, returned=date(2026, 6, 9), progress="on_track")], False, Rules(),
     Light.GREEN, "handed_in", None),
    ("escalated (level 3 open) although handed in on track", MON,
     [report("approved", FRI, handed_in=FRI, progress="on_track")], True, Rules(), Light.RED, "escalated", None),
    ("progress 滞后", MON, [report("approved", FRI, handed_in=FRI, progress="behind")], False, Rules(), Light.RED,
     "behind", None),
    ("progress 存在风险", MON, [report("submitted", FRI, handed_in=FRI, progress="at_risk")], False, Rules(),
     Light.YELLOW, "at_risk", None),
    ("completed (已完成), even with a 督办 open", MON,
     [report("approved", FRI, handed_in=FRI, progress="completed")], True, Rules(), Light.DONE, "completed", None),
    ("completed only when every lead of the latest period says so", MON,
     [report("approved", FRI, handed_in=FRI, progress="completed"),
      report("approved", FRI, handed_in=FRI, progress="on_track")], False, Rules(), Light.GREEN, "handed_in", None),
    ("an earlier 滞后 is superseded by the latest period's report", MON,
     [report("approved", FRI, handed_in=FRI, progress="behind", start=date(2026, 1, 1)),
      report("approved", FRI, handed_in=FRI, progress="on_track")], False, Rules(), Light.GREEN, "handed_in", None),
    ("last period handed in, this one not yet due", date(2026, 6, 1),
     [report("approved", date(2026, 4, 8), handed_in=date(2026, 4, 7), progress="on_track", start=date(2026, 1, 1)),
      report("draft", date(2026, 7, 7))], False, Rules(), Light.GREEN, "handed_in", None),
    ("one lead handed in, the other lead overdue", MON,
     [report("approved", FRI, handed_in=FRI, progress="on_track"), report("draft", FRI)], False, Rules(),
     Light.RED, "overdue", 1),
]


@pytest.mark.parametrize(("case", "today", "reports", "escalated", "rules", "expected", "reason", "days"), CASES,
                         ids=[c[0] for c in CASES])
def test_light_rule(case, today, reports, escalated, rules, expected, reason, days):
    verdict = light(reports, today, escalated=escalated, rules=rules)
    assert (verdict.light, verdict.reason, verdict.days) == (expected, reason, days), case


def test_the_calendar_the_table_assumes():
    """The boundaries above sit where the 2026 arrangement puts them (if the package changes, so must they)."""
    assert [CAL.is_workday(date(2026, 10, d)) for d in range(1, 13)] == [False] * 7 + [True, True, True, False, True]
    assert not CAL.is_workday(date(2026, 9, 25))


def test_rules_take_the_offices_values_over_the_defaults():
    assert Rules.of(None) == Rules(3, 1)
    assert Rules.of({"due_soon_workdays": 5, "unknown": 9}) == Rules(5, 1)
    facts = [ReportFacts(status="draft", workdays_left=5)]
    assert task_light(facts).light == Light.GREY
    assert task_light(facts, rules=Rules.of({"due_soon_workdays": 5})).light == Light.YELLOW
