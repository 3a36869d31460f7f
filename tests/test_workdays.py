"""The working-day calendar against the real 2024–2026 official arrangements in chinese-calendar."""
from datetime import date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workflow.calendar.workdays import WorkdayCalendar, default_calendar, package_has_year

CAL = default_calendar()


def test_plain_weekend():
    assert CAL.is_workday(date(2026, 3, 6))  # Friday
    assert not CAL.is_workday(date(2026, 3, 7))  # Saturday
    assert not CAL.is_workday(date(2026, 3, 8))  # Sunday
    assert CAL.add_workdays(date(2026, 3, 6), 1) == date(2026, 3, 9)
    assert CAL.add_workdays(date(2026, 3, 6), 5) == date(2026, 3, 13)
    assert CAL.add_workdays(date(2026, 3, 7), 1) == date(2026, 3, 9)


def test_add_zero_workdays():
    assert CAL.add_workdays(date(2026, 3, 6), 0) == date(2026, 3, 6)
    assert CAL.add_workdays(date(2026, 3, 7), 0) == date(2026, 3, 9)
    # National Day 2026 runs 1–7 October.
    assert CAL.add_workdays(date(2026, 10, 1), 0) == date(2026, 10, 8)
    assert CAL.next_workday(date(2026, 10, 1)) == date(2026, 10, 8)
    assert CAL.next_workday(date(2026, 10, 8)) == date(2026, 10, 8)


def test_negative_n_rejected():
    with pytest.raises(ValueError):
        CAL.add_workdays(date(2026, 3, 6), -1)


def test_spring_festival_2026():
    # Holiday Sun 15 – Mon 23 February; make-up workdays Sat 14 and Sat 28 February.
    for day in range(15, 24):
        assert not CAL.is_workday(date(2026, 2, day))
    assert CAL.is_workday(date(2026, 2, 14))
    assert CAL.is_workday(date(2026, 2, 28))
    # From Friday the 13th: Sat 14 (make-up), then Tue 24 – Fri 27 after the holiday.
    assert CAL.add_workdays(date(2026, 2, 13), 5) == date(2026, 2, 27)
    assert CAL.add_workdays(date(2026, 2, 14), 5) == date(2026, 2, 28)
    assert CAL.add_workdays(date(2026, 2, 14), 1) == date(2026, 2, 24)


def test_spring_festival_2025():
    # Holiday Tue 28 January – Tue 4 February; make-up Sun 26 January and Sat 8 February.
    assert CAL.is_workday(date(2025, 1, 26))
    assert not CAL.is_workday(date(2025, 1, 28))
    assert not CAL.is_workday(date(2025, 2, 4))
    assert CAL.add_workdays(date(2025, 1, 27), 1) == date(2025, 2, 5)


def test_national_day_2025():
    # Holiday Wed 1 – Wed 8 October (incl. Mid-autumn on the 6th); make-up Sun 28 Sep and Sat 11 Oct.
    assert date(2025, 9, 28).weekday() == 6 and CAL.is_workday(date(2025, 9, 28))
    assert date(2025, 10, 11).weekday() == 5 and CAL.is_workday(date(2025, 10, 11))
    for day in range(1, 9):
        assert not CAL.is_workday(date(2025, 10, day))
    # Thu 9, Fri 10, Sat 11 (make-up), Mon 13, Tue 14.
    assert CAL.add_workdays(date(2025, 9, 30), 5) == date(2025, 10, 14)


def test_national_day_2026():
    # Holiday Thu 1 – Wed 7 October; make-up Sun 20 September and Sat 10 October.
    assert date(2026, 9, 20).weekday() == 6 and CAL.is_workday(date(2026, 9, 20))
    assert date(2026, 10, 10).weekday() == 5 and CAL.is_workday(date(2026, 10, 10))
    assert not CAL.is_workday(date(2026, 10, 7))
    # Thu 8, Fri 9, Sat 10 (make-up), Mon 12, Tue 13.
    assert CAL.add_workdays(date(2026, 9, 30), 5) == date(2026, 10, 13)


def test_new_year_2026_make_up_sunday():
    # New Year 1–3 January 2026; Sunday 4 January is a make-up workday.
    assert not CAL.is_workday(date(2026, 1, 2))
    assert CAL.is_workday(date(2026, 1, 4))
    assert CAL.add_workdays(date(2025, 12, 31), 1) == date(2026, 1, 4)


def test_workdays_between_across_holiday():
    assert CAL.workdays_between(date(2025, 9, 30), date(2025, 10, 14)) == 5
    assert CAL.workdays_between(date(2026, 2, 13), date(2026, 2, 27)) == 5
    # Through the whole Spring Festival week only the make-up Saturday counts.
    assert CAL.workdays_between(date(2026, 2, 13), date(2026, 2, 23)) == 1
    # Across the year boundary: Wed 31 Dec 2025 → Mon 5 Jan 2026 = Sun 4 (make-up) + Mon 5.
    assert CAL.workdays_between(date(2025, 12, 31), date(2026, 1, 5)) == 2
    assert CAL.workdays_between(date(2026, 3, 6), date(2026, 3, 6)) == 0
    assert CAL.workdays_between(date(2026, 3, 9), date(2026, 3, 6)) == 0


def test_workdays_between_over_several_years():
    # Official working days per year (weekdays − weekday holidays + make-up days): 251, 248, 248.
    per_year = [CAL.workdays_between(date(y - 1, 12, 31), date(y, 12, 31)) for y in (2024, 2025, 2026)]
    assert per_year == [251, 248, 248]
    assert CAL.workdays_between(date(2023, 12, 31), date(2026, 12, 31)) == 747


def test_2027_without_entries_is_weekends_only():
    assert not package_has_year(2027)
    assert not CAL.has_official_data(2027)
    assert CAL.has_official_data(2026)
    assert CAL.years_without_data([2028, 2025, 2027, 2026, 2027]) == [2027, 2028]
    assert CAL.is_workday(date(2027, 1, 1))  # a Friday; no New Year data yet
    assert not CAL.is_workday(date(2027, 1, 2))
    assert CAL.add_workdays(date(2026, 12, 31), 1) == date(2027, 1, 1)
    assert CAL.add_workdays(date(2027, 9, 30), 5) == date(2027, 10, 7)
    assert CAL.workdays_between(date(2027, 1, 1), date(2027, 12, 31)) == 260


def test_2027_with_entries():
    national_day = [date(2027, 10, d) for d in range(1, 8)]
    cal = WorkdayCalendar(holidays=national_day, workdays=[date(2027, 9, 26), date(2027, 10, 9)])
    assert cal.has_official_data(2027)
    assert not cal.has_official_data(2028)
    assert cal.years_without_data(range(2026, 2029)) == [2028]
    assert not cal.is_workday(date(2027, 10, 1))  # entered holiday, a Friday
    assert cal.is_workday(date(2027, 10, 9))  # entered make-up Saturday
    assert cal.is_workday(date(2027, 9, 26))  # entered make-up Sunday
    # Fri 8, Sat 9 (make-up), Mon 11, Tue 12, Wed 13.
    assert cal.add_workdays(date(2027, 9, 30), 5) == date(2027, 10, 13)
    assert cal.workdays_between(date(2027, 9, 30), date(2027, 10, 13)) == 5
    # Package years are untouched by entries for another year.
    assert cal.add_workdays(date(2025, 9, 30), 5) == date(2025, 10, 14)


def test_entries_override_package():
    cal = WorkdayCalendar(holidays=[date(2026, 3, 9)], workdays=[date(2026, 3, 7)])
    assert not cal.is_workday(date(2026, 3, 9))
    assert cal.is_workday(date(2026, 3, 7))
    assert cal.add_workdays(date(2026, 3, 6), 2) == date(2026, 3, 10)
    # The shared default calendar is not affected.
    assert CAL.is_workday(date(2026, 3, 9))


def test_conflicting_entries_rejected():
    with pytest.raises(ValueError, match="2027-10-01"):
        WorkdayCalendar(holidays=[date(2027, 10, 1)], workdays=[date(2027, 10, 1)])


def test_datetime_is_treated_as_its_date():
    assert CAL.add_workdays(datetime(2026, 3, 6, 18, 30), 1) == date(2026, 3, 9)
    assert type(CAL.next_workday(datetime(2026, 3, 6, 9))) is date


@settings(max_examples=300, deadline=None)
@given(d=st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31)), n=st.integers(0, 30))
def test_add_workdays_properties(d, n):
    result = CAL.add_workdays(d, n)
    assert CAL.is_workday(result)
    assert result >= d
    if n >= 1:
        assert result > d
        assert CAL.workdays_between(d, result) == n
        assert CAL.workdays_between(d, result - timedelta(days=1)) == n - 1


def test_add_workdays_is_fast():
    """Deadlines are computed for every department × task × period; this must stay far below a second."""
    import time

    cal = WorkdayCalendar()
    start = date(2024, 1, 1)
    began = time.perf_counter()
    for i in range(40 * 40 * 20):
        cal.add_workdays(date.fromordinal(start.toordinal() + i % 1800), 5)
    assert time.perf_counter() - began < 1.0
