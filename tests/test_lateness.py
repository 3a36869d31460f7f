"""days_late: working days on the office calendar, with the calendar days beside them."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import time_machine
from sqlalchemy import select

from models import ContributionStatus, Notification, Report, ReportStatus, Role
from tests.factories import liaison_of, published_fushun, report_for
from workflow.auth.tokens import create_token
from workflow.calendar.lateness import (
    ON_TIME,
    Lateness,
    days_late,
    due_soon_before,
    first_day,
    lateness,
    overdue_before,
    workdays_left,
)
from workflow.calendar.workdays import WorkdayCalendar
from workflow.extensions import db
from workflow.scheduling.reminders import run_reminders

CAL = WorkdayCalendar()
FRIDAY = date(2026, 4, 10)


def report(deadline: date, status: str = ReportStatus.DRAFT, first_submitted: datetime | None = None) -> Report:
    r = Report(status=status, first_submitted_at=first_submitted, submitted_at=first_submitted)
    r.period = SimpleNamespace(deadline=deadline)
    return r


def test_deadline_today_is_not_late():
    assert lateness(FRIDAY, FRIDAY, CAL) == ON_TIME
    assert days_late(report(FRIDAY), FRIDAY, CAL) == Lateness(0, 0)
    assert not days_late(report(FRIDAY), FRIDAY, CAL) and str(days_late(report(FRIDAY), FRIDAY, CAL)) == ""


def test_across_a_weekend_only_working_days_count():
    saturday, monday = date(2026, 4, 11), date(2026, 4, 13)
    assert days_late(report(FRIDAY), saturday, CAL) == Lateness(working=0, calendar=1)
    assert days_late(report(FRIDAY), monday, CAL) == Lateness(working=1, calendar=3)
    assert str(days_late(report(FRIDAY), monday, CAL)) == "逾期 1 个工作日"
    # the overdue filters agree: on Saturday a Friday deadline is not yet overdue, on Monday it is
    assert not overdue_before(saturday, CAL) > FRIDAY and overdue_before(monday, CAL) > FRIDAY


def test_across_a_holiday_and_a_make_up_workday():
    # 2026 National Day (package data): 1–7 October off, Saturday 10 October a make-up working day
    due = date(2026, 9, 30)
    assert days_late(report(due), date(2026, 10, 7), CAL) == Lateness(working=0, calendar=7)
    assert days_late(report(due), date(2026, 10, 8), CAL) == Lateness(working=1, calendar=8)
    assert days_late(report(due), date(2026, 10, 10), CAL) == Lateness(working=3, calendar=10)
    assert overdue_before(date(2026, 10, 7), CAL) == due
    # an arrangement the office entered moves the figure the same way
    office = WorkdayCalendar(holidays=[date(2026, 10, 8)])
    assert days_late(report(due), date(2026, 10, 8), office) == Lateness(working=0, calendar=8)


def test_handed_in_counts_to_the_first_submission_and_outstanding_to_today():
    deadline, today = date(2026, 4, 8), date(2026, 4, 20)
    on_time = datetime(2026, 4, 8, 15, 30, tzinfo=UTC)  # 23:30 in Beijing: still the deadline day
    late = datetime(2026, 4, 9, 16, 30, tzinfo=UTC)      # 00:30 on Friday 10 April in Beijing
    assert days_late(report(deadline, ReportStatus.SUBMITTED, on_time), today, CAL) == ON_TIME
    assert days_late(report(deadline, ReportStatus.APPROVED, late), today, CAL) == Lateness(2, 2)
    # returned and not resubmitted: outstanding again, counted to today
    assert days_late(report(deadline, ReportStatus.RETURNED, on_time), today, CAL) == Lateness(8, 12)
    contribution = SimpleNamespace(status=ContributionStatus.DRAFT, submitted_at=None, deadline=deadline,
                                   withdrawn_at=None)
    assert days_late(contribution, today, CAL).working == 8


def test_last_workday_crosses_the_year_back():
    assert CAL.last_workday(date(2026, 1, 1)) == date(2025, 12, 31)   # New Year's Day, a holiday
    assert CAL.last_workday(FRIDAY) == FRIDAY


def test_the_page_the_api_and_the_reminder_give_the_same_figure(client, login_as):
    plan, _office = published_fushun()
    now = datetime(2026, 4, 14, 2, tzinfo=UTC)   # Tuesday; due Wed 8 April: Thu, Fri, Mon, Tue = 4 working days
    report = report_for(plan, "3.4.3")
    liaison = liaison_of("市住房城乡建设局")
    with time_machine.travel(now, tick=False):
        run_reminders(now=now)
        note = db.session.scalar(select(Notification).where(Notification.kind == "overdue",
                                                            Notification.user_id == liaison.id,
                                                            Notification.key.like(f"overdue:r{report.id}:%")))
        assert note.data["days_late"] == 4 and "已逾期 4 个工作日" in note.subject
        token = create_token(liaison, name="t", now=now, actor=liaison)[1]
        item = client.get(f"/api/v1/reports/{report.id}", headers={"Authorization": f"Bearer {token}"}).get_json()
        assert (item["overdue"], item["days_late"]) == (True, 4)
        login_as(Role.LIAISON, department="市住房城乡建设局")
        assert "逾期 4 个工作日" in client.get(f"/reports/{report.id}").get_data(as_text=True)
        assert "逾期 4 个工作日" in client.get("/reports/").get_data(as_text=True)


def test_first_day_turns_a_working_day_rule_into_the_date_bound_sql_compares_with():
    """Around the Qingming and May Day holidays: at least n working days late exactly before first_day's bound,
    as the hand-written SQL sides say (overdue_before for 1, due_soon_before for workdays_left)."""
    for today in (date(2026, 4, 7) + timedelta(days=k) for k in range(40)):
        assert first_day(lambda d, today=today: lateness(d, today, CAL).working < 1, today) == overdue_before(today, CAL)
        for n in (0, 3, 10):
            bound = first_day(lambda d, today=today, n=n: workdays_left(d, today, CAL) > n, today)
            assert bound == due_soon_before(today, n, CAL), (today, n)
        for n in (2, 5):
            bound = first_day(lambda d, today=today, n=n: lateness(d, today, CAL).working < n, today)
            assert all((lateness(d, today, CAL).working >= n) == (d < bound)
                       for d in (today - timedelta(days=k) for k in range(-3, 30))), (today, n)
