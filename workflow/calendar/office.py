"""The working-day calendar in force: the package's official data plus the office's entries for later years."""
from __future__ import annotations

from datetime import date

from sqlalchemy import select

from models import HolidayEntry
from workflow.calendar.workdays import WorkdayCalendar
from workflow.extensions import db


def office_calendar() -> WorkdayCalendar:
    """All deadline and reminder arithmetic goes through this, so an entered 放假调休安排 applies everywhere."""
    rows = db.session.execute(select(HolidayEntry.day, HolidayEntry.kind)).all()
    return WorkdayCalendar(holidays=[d for d, kind in rows if kind == "holiday"],
                           workdays=[d for d, kind in rows if kind == "workday"])


def missing_years_warning(today: date, calendar: WorkdayCalendar | None = None) -> list[int]:
    """This year and the coming one, where neither the package nor the office's entries cover them."""
    cal = calendar or office_calendar()
    return cal.years_without_data([today.year, today.year + 1])
