"""Reporting period keys, labels, bounds and deadlines (deadlines on the real official calendar)."""
from datetime import date, timedelta

import pytest

from workflow.calendar.periods import (
    DEFAULT_CADENCE,
    Cadence,
    PeriodError,
    PeriodSpec,
    generate_periods,
    next_key,
    parse_period_key,
    period_for,
    period_label,
    period_spec,
)
from workflow.calendar.workdays import WorkdayCalendar


def test_default_cadence_is_quarterly():
    assert DEFAULT_CADENCE is Cadence.QUARTERLY
    assert Cadence("half-yearly") is Cadence.HALF_YEARLY


@pytest.mark.parametrize(
    ("cadence", "key", "start", "end", "label"),
    [
        (Cadence.MONTHLY, "2026-01", date(2026, 1, 1), date(2026, 1, 31), "2026年1月"),
        (Cadence.MONTHLY, "2028-02", date(2028, 2, 1), date(2028, 2, 29), "2028年2月"),
        (Cadence.MONTHLY, "2026-12", date(2026, 12, 1), date(2026, 12, 31), "2026年12月"),
        (Cadence.QUARTERLY, "2026Q1", date(2026, 1, 1), date(2026, 3, 31), "2026年第一季度"),
        (Cadence.QUARTERLY, "2026Q2", date(2026, 4, 1), date(2026, 6, 30), "2026年第二季度"),
        (Cadence.QUARTERLY, "2026Q3", date(2026, 7, 1), date(2026, 9, 30), "2026年第三季度"),
        (Cadence.QUARTERLY, "2026Q4", date(2026, 10, 1), date(2026, 12, 31), "2026年第四季度"),
        (Cadence.HALF_YEARLY, "2026H1", date(2026, 1, 1), date(2026, 6, 30), "2026年上半年"),
        (Cadence.HALF_YEARLY, "2026H2", date(2026, 7, 1), date(2026, 12, 31), "2026年下半年"),
        (Cadence.YEARLY, "2026", date(2026, 1, 1), date(2026, 12, 31), "2026年度"),
    ],
)
def test_keys_bounds_and_labels(cadence, key, start, end, label):
    assert parse_period_key(cadence, key) == (start, end)
    assert parse_period_key(cadence.value, key) == (start, end)
    assert period_label(cadence, key) == label
    assert period_for(cadence, start) == key
    assert period_for(cadence, end) == key
    spec = period_spec(cadence, key)
    assert (spec.key, spec.start, spec.end, spec.label) == (key, start, end, label)


def test_period_for():
    d = date(2026, 8, 15)
    assert period_for("monthly", d) == "2026-08"
    assert period_for("quarterly", d) == "2026Q3"
    assert period_for("half-yearly", d) == "2026H2"
    assert period_for("yearly", d) == "2026"


def test_next_key_across_year_boundary():
    assert next_key(Cadence.MONTHLY, "2026-12") == "2027-01"
    assert next_key(Cadence.MONTHLY, "2026-09") == "2026-10"
    assert next_key(Cadence.QUARTERLY, "2026Q4") == "2027Q1"
    assert next_key(Cadence.QUARTERLY, "2026Q1") == "2026Q2"
    assert next_key(Cadence.HALF_YEARLY, "2026H1") == "2026H2"
    assert next_key(Cadence.HALF_YEARLY, "2026H2") == "2027H1"
    assert next_key(Cadence.YEARLY, "2026") == "2027"


def test_2026q1_deadline_skips_qingming():
    # Tue 31 March; Wed 1, Thu 2, Fri 3, then Qingming Sat 4 – Mon 6 April, then Tue 7, Wed 8.
    spec = period_spec(Cadence.QUARTERLY, "2026Q1")
    assert spec == PeriodSpec("2026Q1", date(2026, 1, 1), date(2026, 3, 31), date(2026, 4, 8), "2026年第一季度")


def test_2025q3_deadline_pushed_past_national_day():
    # Holiday 1–8 October 2025; Thu 9, Fri 10, Sat 11 (make-up), Mon 13, Tue 14.
    assert period_spec(Cadence.QUARTERLY, "2025Q3").deadline == date(2025, 10, 14)
    # 2026: holiday 1–7 October; Thu 8, Fri 9, Sat 10 (make-up), Mon 12, Tue 13.
    assert period_spec(Cadence.QUARTERLY, "2026Q3").deadline == date(2026, 10, 13)


def test_other_deadlines():
    # January 2026 ends on a Saturday: Mon 2 – Fri 6 February.
    assert period_spec("monthly", "2026-01").deadline == date(2026, 2, 6)
    assert period_spec("monthly", "2026-01", deadline_workdays=0).deadline == date(2026, 2, 2)
    assert period_spec("half-yearly", "2026H1").deadline == date(2026, 7, 7)
    # New Year 2026 is off 1–3 January; Sunday 4 January is a make-up workday.
    assert period_spec("yearly", "2025").deadline == date(2026, 1, 8)
    assert period_spec("half-yearly", "2025H2", deadline_workdays=1).deadline == date(2026, 1, 4)


def test_deadline_in_a_year_without_data_uses_entries():
    # The package stops at 2026, so the 2026Q4 deadline falls in an unknown year: plain Mon–Fri ...
    assert period_spec("quarterly", "2026Q4").deadline == date(2027, 1, 7)
    # ... until the office enters the 2027 New Year holiday.
    cal = WorkdayCalendar(holidays=[date(2027, 1, 1)])
    assert period_spec("quarterly", "2026Q4", calendar=cal).deadline == date(2027, 1, 8)


def test_generate_twenty_quarters():
    periods = generate_periods(Cadence.QUARTERLY, "2026Q1", date(2030, 12, 31))
    assert len(periods) == 20
    assert periods[0].key == "2026Q1" and periods[-1].key == "2030Q4"
    assert periods[0].start == date(2026, 1, 1) and periods[-1].end == date(2030, 12, 31)
    for prev, cur in zip(periods, periods[1:], strict=False):
        assert cur.start == prev.end + timedelta(days=1)
        assert cur.key == next_key(Cadence.QUARTERLY, prev.key)
    for p in periods:
        assert p.deadline > p.end
    assert periods[0].deadline == date(2026, 4, 8)
    assert len({p.key for p in periods}) == 20


def test_generate_stops_at_period_containing_last_day():
    keys = [p.key for p in generate_periods("monthly", "2026-11", date(2027, 2, 1))]
    assert keys == ["2026-11", "2026-12", "2027-01", "2027-02"]
    assert [p.key for p in generate_periods("yearly", "2026", date(2026, 1, 1))] == ["2026"]
    assert [p.key for p in generate_periods("half-yearly", "2026H2", date(2027, 6, 30))] == ["2026H2", "2027H1"]


def test_generate_passes_calendar_and_deadline_rule():
    cal = WorkdayCalendar(holidays=[date(2026, 2, 2)])
    (p,) = generate_periods("monthly", "2026-01", date(2026, 1, 31), deadline_workdays=1, calendar=cal)
    assert p.deadline == date(2026, 2, 3)


@pytest.mark.parametrize(
    ("cadence", "key", "fragment"),
    [
        ("quarterly", "2026Q5", "季度应写作 2026Q1–2026Q4"),
        ("quarterly", "2026Q0", "季度应写作"),
        ("quarterly", "2026-01", "季度应写作"),
        ("quarterly", "2026q1", "季度应写作"),
        ("quarterly", " 2026Q1", "格式不对"),
        ("monthly", "2026-13", "月度应写作 2026-01–2026-12"),
        ("monthly", "2026-1", "月度应写作"),
        ("monthly", "2026Q1", "月度应写作"),
        ("half-yearly", "2026H3", "半年度应写作 2026H1 或 2026H2"),
        ("yearly", "26", "年度应写作四位年份"),
        ("yearly", "2026Q1", "年度应写作四位年份"),
        ("quarterly", "", "格式不对"),
        ("quarterly", "1999Q1", "年份超出范围"),
        ("weekly", "2026W01", "报送周期“weekly”无法识别"),
    ],
)
def test_bad_keys(cadence, key, fragment):
    with pytest.raises(PeriodError, match=fragment) as exc:
        parse_period_key(cadence, key)
    assert "\n" not in str(exc.value)
    with pytest.raises(PeriodError):
        next_key(cadence, key)


def test_period_error_is_value_error():
    assert issubclass(PeriodError, ValueError)
    with pytest.raises(ValueError):
        parse_period_key("quarterly", None)  # type: ignore[arg-type]


@pytest.mark.parametrize("n", [-1, 61, 5.0, True])
def test_bad_deadline_workdays(n):
    with pytest.raises(PeriodError, match="0–60 个工作日"):
        generate_periods("quarterly", "2026Q1", date(2026, 12, 31), deadline_workdays=n)


def test_deadline_workdays_bounds_accepted():
    assert generate_periods("quarterly", "2026Q1", date(2026, 3, 1), deadline_workdays=0)[0].deadline == date(
        2026, 3, 31
    )
    assert len(generate_periods("quarterly", "2026Q1", date(2026, 3, 1), deadline_workdays=60)) == 1


def test_last_day_before_first_period():
    with pytest.raises(PeriodError, match="早于首个周期“2026Q2”"):
        generate_periods("quarterly", "2026Q2", date(2026, 3, 31))


def test_unknown_cadence_in_generate():
    with pytest.raises(PeriodError, match="无法识别"):
        generate_periods("biweekly", "2026Q1", date(2026, 12, 31))
