"""Reporting periods: what period a report covers, its name (Chinese when stored, the reader's on pages), and when
it is due.

Keys are the stable identifiers stored with reports ('2026-01', '2026Q1', '2026H1', '2026'); each cadence
accepts exactly one spelling so that the same period can never be stored under two keys. A report is due
N working days after its period ends, counted on the official calendar (see ``workdays``).
"""
from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import date, timedelta

from flask_babel import force_locale

from workflow.calendar.workdays import WorkdayCalendar, default_calendar
from workflow.i18n import gettext as _

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
    "period_name",
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
CHINESE = "zh_Hans_CN"   # the language of stored labels and documents


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
            _("报送周期“%(cadence)s”无法识别，应为 monthly（月度）、quarterly（季度）、half-yearly（半年度）或 yearly（年度）",
              cadence=cadence)
        ) from None


def _format_hint(cadence: Cadence, year: str) -> str:
    return {
        Cadence.MONTHLY: _("月度应写作 %(year)s-01–%(year)s-12", year=year),
        Cadence.QUARTERLY: _("季度应写作 %(year)sQ1–%(year)sQ4", year=year),
        Cadence.HALF_YEARLY: _("半年度应写作 %(year)sH1 或 %(year)sH2", year=year),
        Cadence.YEARLY: _("年度应写作四位年份，如 %(year)s", year=year),
    }[cadence]


def _parse(cadence: Cadence, key: str) -> tuple[int, int]:
    """(year, part) with part in 1.._PARTS[cadence]; raises PeriodError."""
    text = key if isinstance(key, str) else str(key)
    m = _PATTERNS[cadence].fullmatch(text) if isinstance(key, str) else None
    example = text[:4] if text[:4].isascii() and text[:4].isdigit() and MIN_YEAR <= int(text[:4]) <= MAX_YEAR else "2026"
    if m is None:
        raise PeriodError(_("周期“%(text)s”格式不对，%(hint)s", text=text, hint=_format_hint(cadence, example)))
    year = int(m.group(1))
    part = int(m.group(2)) if cadence is not Cadence.YEARLY else 1
    if not 1 <= part <= _PARTS[cadence]:
        raise PeriodError(_("周期“%(text)s”格式不对，%(hint)s", text=text, hint=_format_hint(cadence, example)))
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise PeriodError(_("周期“%(text)s”的年份超出范围，应在 %(min_year)s–%(max_year)s 年之间", text=text,
                            min_year=MIN_YEAR, max_year=MAX_YEAR))
    return year, part


def _key(cadence: Cadence, year: int, part: int) -> str:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise PeriodError(_("%(year)s 年超出支持范围，应在 %(min_year)s–%(max_year)s 年之间", year=year,
                            min_year=MIN_YEAR, max_year=MAX_YEAR))
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


def _name(cadence: Cadence, year: int, part: int) -> str:
    """The one place periods are named, in the active language: 2026年第一季度 / 2026 Q1."""
    if cadence is Cadence.MONTHLY:
        return _("%(year)s年%(month)s月", year=year, month=part)
    if cadence is Cadence.QUARTERLY:
        return {1: lambda: _("%(year)s年第一季度", year=year), 2: lambda: _("%(year)s年第二季度", year=year),
                3: lambda: _("%(year)s年第三季度", year=year), 4: lambda: _("%(year)s年第四季度", year=year)}[part]()
    if cadence is Cadence.HALF_YEARLY:
        return _("%(year)s年上半年", year=year) if part == 1 else _("%(year)s年下半年", year=year)
    return _("%(year)s年度", year=year)


def _label(cadence: Cadence, year: int, part: int) -> str:
    """The Chinese label stored with a period, for documents and messages, whoever's request creates it."""
    with force_locale(CHINESE):
        return _name(cadence, year, part)


def period_name(key: str) -> str:
    """A period's name in the reader's language, from its key alone (the key says its cadence): what pages show
    (the `period_name` template filter); a key of no known shape is shown as it is."""
    for cadence, pattern in _PATTERNS.items():
        if isinstance(key, str) and pattern.fullmatch(key):
            try:
                return _name(cadence, *_parse(cadence, key))
            except PeriodError:
                break
    return str(key)


def _check_deadline_workdays(n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= MAX_DEADLINE_WORKDAYS:
        raise PeriodError(_("报送期限应为周期结束后 0–%(max)s 个工作日，不能是“%(n)s”", max=MAX_DEADLINE_WORKDAYS, n=n))


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
    first_start, _end = parse_period_key(c, first_key)
    if last_day < first_start:
        raise PeriodError(
            _("截止日期 %(last_day)s 早于首个周期“%(first_key)s”的开始日期 %(first_start)s", last_day=last_day.isoformat(),
              first_key=first_key, first_start=first_start.isoformat())
        )
    last_key = period_for(c, last_day)
    periods = []
    key = first_key
    while True:
        periods.append(period_spec(c, key, deadline_workdays=deadline_workdays, calendar=cal))
        if key == last_key:
            return periods
        key = next_key(c, key)
