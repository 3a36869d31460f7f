"""China's official working-day calendar (weekends off, statutory holidays off, 调休 make-up days on).

Deadlines are counted in working days, so the calendar must follow the State Council's yearly arrangement.
The chinese-calendar package carries that arrangement only for the years it knows (2004–2026 in 1.11.0);
for later years the office enters the 放假调休安排 itself and passes the entries in. A year with neither falls
back to Mon–Fri, and ``has_official_data`` reports False so the UI can warn that deadlines may be off.

Everything is computed once per year into a sorted tuple of working-day ordinals; lookups are bisections,
so adding a few working days costs microseconds even when called for every department, task and period.
"""
from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from functools import cache, lru_cache

import chinese_calendar

__all__ = ["WorkdayCalendar", "default_calendar", "package_has_year"]


def _as_date(d: date) -> date:
    # datetime is a date subclass; keep results plain dates so they compare and hash with other dates.
    return d.date() if isinstance(d, datetime) else d


@cache
def _package_year(year: int) -> frozenset[int] | None:
    """Working-day ordinals of ``year`` per the package, or None if the package has no data for it.

    Shared by every calendar instance: the package is asked once per day of a year, then never again.
    """
    try:
        chinese_calendar.is_workday(date(year, 1, 1))
    except NotImplementedError:
        return None
    day, end = date(year, 1, 1), date(year, 12, 31)
    out = set()
    while day <= end:
        if chinese_calendar.is_workday(day):
            out.add(day.toordinal())
        day += timedelta(days=1)
    return frozenset(out)


def package_has_year(year: int) -> bool:
    """Whether the installed chinese-calendar knows the official arrangement for ``year``."""
    return _package_year(year) is not None


class WorkdayCalendar:
    """Working days = package data, overridden by the office's own entries, else plain Mon–Fri."""

    def __init__(self, holidays: Iterable[date] = (), workdays: Iterable[date] = ()):
        """Package data plus office-entered extra holidays/make-up workdays (entries win over the package).

        A date entered both as a holiday and as a make-up workday is a data-entry error; it is rejected here
        rather than silently resolved one way, because either choice would move deadlines without notice.
        """
        self._holidays = frozenset(_as_date(d) for d in holidays)
        self._workdays = frozenset(_as_date(d) for d in workdays)
        clash = self._holidays & self._workdays
        if clash:
            listed = "、".join(d.isoformat() for d in sorted(clash))
            raise ValueError(f"以下日期同时被登记为放假和调休上班：{listed}")
        self._entry_years = frozenset(d.year for d in self._holidays | self._workdays)
        self._years: dict[int, tuple[int, ...]] = {}

    def __repr__(self) -> str:
        return f"WorkdayCalendar(holidays={len(self._holidays)}, workdays={len(self._workdays)})"

    def _year(self, year: int) -> tuple[int, ...]:
        """Sorted ordinals of the working days of ``year`` (cached)."""
        cached = self._years.get(year)
        if cached is not None:
            return cached
        base = _package_year(year)
        if base is None:
            first = date(year, 1, 1).toordinal()
            last = date(year, 12, 31).toordinal()
            # date.weekday() == (ordinal + 6) % 7, so Mon–Fri are the ordinals with (o + 6) % 7 < 5.
            days = {o for o in range(first, last + 1) if (o + 6) % 7 < 5}
        else:
            days = set(base)
        if year in self._entry_years:
            days -= {d.toordinal() for d in self._holidays if d.year == year}
            days |= {d.toordinal() for d in self._workdays if d.year == year}
        result = tuple(sorted(days))
        self._years[year] = result
        return result

    def is_workday(self, d: date) -> bool:
        d = _as_date(d)
        days = self._year(d.year)
        o = d.toordinal()
        i = bisect_left(days, o)
        return i < len(days) and days[i] == o

    def has_official_data(self, year: int) -> bool:
        """False means the year is computed as plain Mon–Fri, which the UI should flag."""
        return year in self._entry_years or package_has_year(year)

    def years_without_data(self, years: Iterable[int]) -> list[int]:
        """The given years (sorted, deduplicated) whose holiday arrangement is unknown."""
        return sorted({y for y in years if not self.has_official_data(y)})

    def add_workdays(self, d: date, n: int) -> date:
        """The n-th working day strictly after ``d``; n == 0 gives ``d`` itself if a workday, else the next one."""
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        d = _as_date(d)
        if n == 0:
            return self.next_workday(d)
        year = d.year
        days = self._year(year)
        target = bisect_right(days, d.toordinal()) + n - 1
        while target >= len(days):
            target -= len(days)
            year += 1
            days = self._year(year)
        return date.fromordinal(days[target])

    def next_workday(self, d: date) -> date:
        """``d`` if it is a workday, else the next one."""
        d = _as_date(d)
        year = d.year
        days = self._year(year)
        i = bisect_left(days, d.toordinal())
        while i >= len(days):
            year += 1
            days = self._year(year)
            i = 0
        return date.fromordinal(days[i])

    def last_workday(self, d: date) -> date:
        """``d`` if it is a workday, else the last one before it."""
        d = _as_date(d)
        year = d.year
        days = self._year(year)
        i = bisect_right(days, d.toordinal()) - 1
        while i < 0:
            year -= 1
            days = self._year(year)
            i = len(days) - 1
        return date.fromordinal(days[i])

    def workdays_between(self, start: date, end: date) -> int:
        """Working days in (start, end] — i.e. how many working days ``end`` is after ``start``; 0 if not after."""
        start, end = _as_date(start), _as_date(end)
        if end <= start:
            return 0
        s, e = start.toordinal(), end.toordinal()
        if start.year == end.year:
            days = self._year(start.year)
            return bisect_right(days, e) - bisect_right(days, s)
        first = self._year(start.year)
        total = len(first) - bisect_right(first, s)
        for year in range(start.year + 1, end.year):
            total += len(self._year(year))
        return total + bisect_right(self._year(end.year), e)


@lru_cache(maxsize=1)
def default_calendar() -> WorkdayCalendar:
    """The package-only calendar, shared so its per-year cache is built once per process."""
    return WorkdayCalendar()
