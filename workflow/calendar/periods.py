"""Reporting periods: what period a report covers, its Chinese label, and when it is due.

Keys are the stable identifiers stored with reports ('2026-01', '2026Q1', '2026H1', '2026'); each cadence
accepts exactly one spelling so that the same period can never be stored under two keys. A report is due
N working days after its period ends, counted on the official calendar (see ``workdays``).
"""
from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import date, timedelta

from workflow.calendar.workdays import WorkdayCalendar, default_calendar

__all__ = [
    "DEFAULT_CADENCE",
    "DEFAULT_DEADLINE_WORKDAYS",
    "MAX_DEADLINE_WORKDAYS",
    "MAX_YEAR",
    "MIN_YEAR",
    "Cadence",
    "PeriodError",
    "PeriodSpec",
    "generate_periods",
    "next_key",
    "parse_period_key",
    "period_for",
    "period_label",
    "period_spec",
]


class Cadence(enum.StrEnum):
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    HALF_YEARLY = "half-yearly"
    YEARLY = "yearly"


DEFAULT_CADENCE = Cadence.QUARTERLY
DEFAULT_DEADLINE_WORKDAYS = 5
MAX_DEADLINE_WORKDAYS = 60
# Outside this range a key is almost certainly a typo (e.g. '2062Q1'); it also bounds generate_periods.
MIN_YEAR, MAX_YEAR = 2000, 2100

_CADENCE_NAMES = {
    Cadence.MONTHLY: "月度",
    Cadence.QUARTERLY: "季度",
    Cadence.HALF_YEARLY: "半年度",
    Cadence.YEARLY: "年度",
}
_PATTERNS = {
    Cadence.MONTHLY: re.compile(r"(\d{4})-(\d{2})"),
    Cadence.QUARTERLY: re.compile(r"(\d{4})Q(\d)"),
    Cadence.HALF_YEARLY: re.compile(r"(\d{4})H(\d)"),
    Cadence.YEARLY: re.compile(r"(\d{4})"),
}
# Sub-periods per year and months per sub-period.
_PARTS = {Cadence.MONTHLY: 12, Cadence.QUARTERLY: 4, Cadence.HALF_YEARLY: 2, Cadence.YEARLY: 1}
_QUARTER_NAMES = "一二三四"


class PeriodError(ValueError):
    """A bad cadence, period key or period setting; the message is one Chinese line fit to show users."""


@dataclass(frozen=True)
class PeriodSpec:
    key: str  # '2026-01' (monthly), '2026Q1', '2026H1', '2026' (yearly)
    start: date
    end: date  # inclusive last day
    deadline: date  # calendar.add_workdays(end, deadline_workdays)
    label: str  # '2026年1月', '2026年第一季度', '2026年上半年', '2026年度'


def _cadence(cadence: Cadence | str) -> Cadence:
    try:
        return Cadence(cadence)
    except ValueError:
        raise PeriodError(
            f"报送周期“{cadence}”无法识别，应为 monthly（月度）、quarterly（季度）、"
            f"half-yearly（半年度）或 yearly（年度）"
        ) from None


def _format_hint(cadence: Cadence, year: str) -> str:
    return {
        Cadence.MONTHLY: f"月度应写作 {year}-01–{year}-12",
        Cadence.QUARTERLY: f"季度应写作 {year}Q1–{year}Q4",
        Cadence.HALF_YEARLY: f"半年度应写作 {year}H1 或 {year}H2",
        Cadence.YEARLY: f"年度应写作四位年份，如 {year}",
    }[cadence]


def _parse(cadence: Cadence, key: str) -> tuple[int, int]:
    """(year, part) with part in 1.._PARTS[cadence]; raises PeriodError."""
    text = key if isinstance(key, str) else str(key)
    m = _PATTERNS[cadence].fullmatch(text) if isinstance(key, str) else None
    example = text[:4] if text[:4].isascii() and text[:4].isdigit() and MIN_YEAR <= int(text[:4]) <= MAX_YEAR else "2026"
    if m is None:
        raise PeriodError(f"周期“{text}”格式不对，{_format_hint(cadence, example)}")
    year = int(m.group(1))
    part = int(m.group(2)) if cadence is not Cadence.YEARLY else 1
    if not 1 <= part <= _PARTS[cadence]:
        raise PeriodError(f"周期“{text}”格式不对，{_format_hint(cadence, example)}")
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise PeriodError(f"周期“{text}”的年份超出范围，应在 {MIN_YEAR}–{MAX_YEAR} 年之间")
    return year, part


def _key(cadence: Cadence, year: int, part: int) -> str:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise PeriodError(f"{year} 年超出支持范围，应在 {MIN_YEAR}–{MAX_YEAR} 年之间")
    if cadence is Cadence.MONTHLY:
        return f"{year}-{part:02d}"
    if cadence is Cadence.QUARTERLY:
        return f"{year}Q{part}"
    if cadence is Cadence.HALF_YEARLY:
        return f"{year}H{part}"
    return f"{year}"


def _bounds(cadence: Cadence, year: int, part: int) -> tuple[date, date]:
    months = 12 // _PARTS[cadence]
    first_month = (part - 1) * months + 1
    start = date(year, first_month, 1)
    after = date(year + 1, 1, 1) if first_month + months > 12 else date(year, first_month + months, 1)
    return start, after - timedelta(days=1)


def _label(cadence: Cadence, year: int, part: int) -> str:
    if cadence is Cadence.MONTHLY:
        return f"{year}年{part}月"
    if cadence is Cadence.QUARTERLY:
        return f"{year}年第{_QUARTER_NAMES[part - 1]}季度"
    if cadence is Cadence.HALF_YEARLY:
        return f"{year}年{'上' if part == 1 else '下'}半年"
    return f"{year}年度"


def _check_deadline_workdays(n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= MAX_DEADLINE_WORKDAYS:
        raise PeriodError(f"报送期限应为周期结束后 0–{MAX_DEADLINE_WORKDAYS} 个工作日，不能是“{n}”")


def parse_period_key(cadence: Cadence | str, key: str) -> tuple[date, date]:
    """(first day, last day inclusive) of the period ``key``."""
    c = _cadence(cadence)
    return _bounds(c, *_parse(c, key))


def period_label(cadence: Cadence | str, key: str) -> str:
    """The Chinese label shown to users, e.g. '2026年第一季度'."""
    c = _cadence(cadence)
    return _label(c, *_parse(c, key))


def period_for(cadence: Cadence | str, d: date) -> str:
    """The key of the period containing ``d``."""
    c = _cadence(cadence)
    part = (d.month - 1) // (12 // _PARTS[c]) + 1
    return _key(c, d.year, part)


def next_key(cadence: Cadence | str, key: str) -> str:
    """The key of the period right after ``key`` (2026-12 → 2027-01, 2026Q4 → 2027Q1)."""
    c = _cadence(cadence)
    year, part = _parse(c, key)
    if part == _PARTS[c]:
        return _key(c, year + 1, 1)
    return _key(c, year, part + 1)


def period_spec(
    cadence: Cadence | str,
    key: str,
    *,
    deadline_workdays: int = DEFAULT_DEADLINE_WORKDAYS,
    calendar: WorkdayCalendar | None = None,
) -> PeriodSpec:
    """One period with its dates, label and deadline."""
    c = _cadence(cadence)
    _check_deadline_workdays(deadline_workdays)
    cal = calendar if calendar is not None else default_calendar()
    year, part = _parse(c, key)
    start, end = _bounds(c, year, part)
    return PeriodSpec(
        key=_key(c, year, part),
        start=start,
        end=end,
        deadline=cal.add_workdays(end, deadline_workdays),
        label=_label(c, year, part),
    )


def generate_periods(
    cadence: Cadence | str,
    first_key: str,
    last_day: date,
    *,
    deadline_workdays: int = DEFAULT_DEADLINE_WORKDAYS,
    calendar: WorkdayCalendar | None = None,
) -> list[PeriodSpec]:
    """Every period from ``first_key`` through the one containing ``last_day``, in order, without gaps."""
    c = _cadence(cadence)
    _check_deadline_workdays(deadline_workdays)
    cal = calendar if calendar is not None else default_calendar()
    first_start, _ = parse_period_key(c, first_key)
    if last_day < first_start:
        raise PeriodError(
            f"截止日期 {last_day.isoformat()} 早于首个周期“{first_key}”的开始日期 {first_start.isoformat()}"
        )
    last_key = period_for(c, last_day)
    periods = []
    key = first_key
    while True:
        periods.append(period_spec(c, key, deadline_workdays=deadline_workdays, calendar=cal))
        if key == last_key:
            return periods
        key = next_key(c, key)
