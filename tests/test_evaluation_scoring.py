"""The annual evaluation's scoring (issue #7), proved against hand computations.

The acceptance test builds a year of the bundled plan through the real services (reports saved, submitted,
returned, approved; contributions; the office's rating and milestones; 督办 escalations) with controlled times,
then checks two departments' score parts, base score, deduction, final score and grade against values worked
out below from the rules in workflow/evaluation/scoring.py's docstring, never copied from the program's output.
Further tests: grade boundaries, adjustments, settings, sign-off freezing and reopening, and the pure helpers.
"""
from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction as F

import pytest
from sqlalchemy import select

from models import (
    AuditEvent,
    Contribution,
    ContributionStatus,
    Department,
    Escalation,
    Period,
    Plan,
    Report,
    Role,
    Target,
    Task,
)
from tests.conftest import make_user
from tests.factories import liaison_of, published_fushun
from workflow.assignments.services import open_due_periods
from workflow.clock import LOCAL_TZ
from workflow.domain import Conflict, PermissionDenied, ValidationFailed
from workflow.evaluation import scoring, services
from workflow.evaluation.scoring import (
    DEFAULT_SETTINGS,
    attainment,
    default_base_year,
    due_value,
    grade_for,
    timeliness_points,
)
from workflow.extensions import db
from workflow.reports.services import ReportInput, save_contribution, save_report, submit_report
from workflow.review.services import approve_report, return_report
from workflow.scheduling.reminders import run_reminders

HOUSING = "市住房城乡建设局"     # lead-heavy: leads 3.4.1 3.4.2 3.4.3 3.6.4, co on 20 tasks
TRANSPORT = "市交通运输局"       # leads 3.5.1 3.5.2 3.5.3, co on 3.2.2 3.9.2 4.1 4.2 4.3 4.4
ORGANISATION = "市委组织部"      # leads 3.9.1 only (no targets), co on nothing
EDUCATION = "市教育局"           # leads 3.7.3, co on 3.7.1 3.7.2 3.9.1 3.9.2
YEAR = 2026
QUARTERS = ("2026Q1", "2026Q2", "2026Q3", "2026Q4")


def at(day: date, hour: int = 10, minute: int = 0) -> datetime:
    """A moment in Shanghai local time, stored as aware UTC (as the services expect)."""
    return datetime.combine(day, time(hour, minute), tzinfo=LOCAL_TZ).astimezone(UTC)


EVAL_AT = at(date(2027, 1, 20))   # after the 2026Q4 deadline (2027-01-07): every 2026 period is counted


def D(value) -> Decimal:
    return Decimal(str(value))


def half_up(value: F | Decimal | int, places: str) -> Decimal:
    """Round an exact hand-computed value the way the rules say (half up), without float error."""
    if isinstance(value, F):
        value = Decimal(value.numerator) / Decimal(value.denominator)
    return Decimal(value).quantize(Decimal(places), rounding=ROUND_HALF_UP)


# -- acting through the real services -----------------------------------------------------------------------

class Year:
    """The bundled plan published on 2026-04-01 with, by default, every 2026 period (and 2027Q1) opened; the
    office, a leader, and helpers that act through the real services."""

    def __init__(self, *, open_all: bool = True):
        self.plan, self.office = published_fushun()   # on 2026-04-01: 2026Q1 and 2026Q2 are open
        if open_all:
            open_due_periods(self.plan, now=at(date(2027, 1, 2)))
            db.session.commit()
        self.periods = {p.key: p for p in db.session.scalars(select(Period).where(Period.plan_id == self.plan.id))}
        self.tasks = {t.code: t for t in self.plan.tasks}
        self.leader = make_user(Role.LEADER, username="leader1")

    def deadline(self, period: str) -> date:
        return self.periods[period].deadline

    def report(self, dept: str, code: str, period: str) -> Report:
        return db.session.scalar(select(Report).where(
            Report.task_id == self.tasks[code].id, Report.period_id == self.periods[period].id,
            Report.department_id == Department.lookup(dept).id))

    def contribution(self, dept: str, code: str, period: str) -> Contribution:
        return db.session.scalar(select(Contribution).where(
            Contribution.task_id == self.tasks[code].id, Contribution.period_id == self.periods[period].id,
            Contribution.department_id == Department.lookup(dept).id))

    def target(self, code: str, metric: str) -> Target:
        return next(t for t in self.tasks[code].targets if metric in t.metric)

    def submit(self, dept: str, code: str, period: str, when: datetime, values: dict[str, object] | None = None,
               ) -> Report:
        """The lead department files its report (every target needs a value on submit)."""
        report = self.report(dept, code, period)
        given = {self.target(code, metric).id: str(v) for metric, v in (values or {}).items()}
        assert set(given) == {t.id for t in report.task.targets}, "give a value for every target"
        save_report(report, ReportInput(narrative=f"{code} {period} 工作进展", percent_complete="50",
                                        progress="on_track", values=given),
                    actor=liaison_of(dept), now=when, version=report.version, submit=True)
        return report

    def resubmit(self, report: Report, when: datetime) -> Report:
        return submit_report(report, actor=liaison_of(report.department.name), now=when, version=report.version)

    def approve(self, report: Report, when: datetime) -> Report:
        return approve_report(report, actor=self.office, now=when, version=report.version)

    def send_back(self, report: Report, when: datetime) -> Report:
        return return_report(report, actor=self.office, now=when, reason="请补充具体数据", version=report.version)

    def filed(self, dept, code, period, when, values=None, *, returns: int = 0) -> Report:
        """Submitted at `when`, returned `returns` times (each fixed two days later), then approved."""
        report = self.submit(dept, code, period, when, values)
        moment = when
        for _ in range(returns):
            self.send_back(report, moment + timedelta(days=1))
            moment += timedelta(days=2)
            self.resubmit(report, moment)
        return self.approve(report, moment + timedelta(days=1))

    def contribute(self, dept: str, code: str, period: str, when: datetime) -> Contribution:
        c = self.contribution(dept, code, period)
        return save_contribution(c, f"{dept}配合 {code}", actor=liaison_of(dept), now=when, version=c.version,
                                 submit=True)

    def contribute_rest_on_time(self, dept: str, *, leave: set[tuple[str, str]]) -> int:
        """Every 2026 contribution of the department still in draft, but those in `leave` (task, period),
        submitted two days before its deadline."""
        rows = db.session.scalars(select(Contribution).join(Period).where(
            Contribution.department_id == Department.lookup(dept).id, Period.key.in_(QUARTERS),
            Contribution.status == ContributionStatus.DRAFT)).all()
        rows = [c for c in rows if (c.task.code, c.period.key) not in leave]
        for c in rows:
            self.contribute(dept, c.task.code, c.period.key, at(c.period.deadline - timedelta(days=2)))
        return len(rows)

    def escalate(self, obj: Report | Contribution, opened: datetime) -> Escalation:
        """A 督办 (level-3) escalation, as the reminders open it."""
        kind = "report" if isinstance(obj, Report) else "contribution"
        e = Escalation(key=f"esc:test:{kind}{obj.id}", plan_id=self.plan.id, task_id=obj.task_id,
                       period_id=obj.period_id, department_id=obj.department_id, cause="overdue", days_late=5,
                       opened_at=opened, **{f"{kind}_id": obj.id})
        db.session.add(e)
        db.session.commit()
        return e

    def evaluation(self, now: datetime = EVAL_AT):
        return services.get_or_create(self.plan, YEAR, now=now)

    def score(self, evaluation, dept: str):
        return services.score_of(evaluation, Department.lookup(dept))


def on_time(year: Year, period: str, days_before: int = 2) -> datetime:
    return at(year.deadline(period) - timedelta(days=days_before))


def late(year: Year, period: str, days: int) -> datetime:
    return at(year.deadline(period) + timedelta(days=days))


def play_housing(y: Year) -> None:
    """市住房城乡建设局's year. Deadlines: Q1 04-08, Q2 07-07, Q3 10-13, Q4 2027-01-07."""
    h = HOUSING
    # 3.4.3 (targets 清洁取暖率 = 97, 可再生能源替代率 = 8, 屋顶光伏覆盖率 = 50; all due 2025, so the target itself)
    y.filed(h, "3.4.3", "2026Q1", on_time(y, "2026Q1"), {"清洁取暖率": 95, "可再生能源替代率": 7, "光伏": 40})
    y.filed(h, "3.4.3", "2026Q2", late(y, "2026Q2", 3), {"清洁取暖率": 96, "可再生能源替代率": 7.5, "光伏": 45},
            returns=1)                                               # 3 days late, returned once, then approved
    y.filed(h, "3.4.3", "2026Q3", on_time(y, "2026Q3"), {"清洁取暖率": 96.5, "可再生能源替代率": 8, "光伏": 48})
    y.filed(h, "3.4.3", "2026Q4", on_time(y, "2026Q4"), {"清洁取暖率": 97, "可再生能源替代率": 8.4, "光伏": 45})
    # 3.4.1 (装配式建筑占新建建筑比例 = 17, due 2025)
    y.filed(h, "3.4.1", "2026Q1", late(y, "2026Q1", 12), {"装配式": 15.3})   # 12 days late: floor 50
    # 2026Q2: never filed
    y.submit(h, "3.4.1", "2026Q3", on_time(y, "2026Q3"), {"装配式": 16})      # on time, not reviewed yet
    q4 = y.submit(h, "3.4.1", "2026Q4", on_time(y, "2026Q4"), {"装配式": 16.5})
    y.send_back(q4, on_time(y, "2026Q4", 1))                                   # returned, never resubmitted
    # 3.4.2 (no targets): every quarter on time, approved first time
    for q in QUARTERS:
        y.filed(h, "3.4.2", q, on_time(y, q))
    # 3.6.4 (无害化处理率 ≥ 98 due 2025; 资源化利用比例 = 65 due 2030: a linear path from 2020)
    y.filed(h, "3.6.4", "2026Q1", on_time(y, "2026Q1"), {"无害化": 95, "资源化": 40})
    y.filed(h, "3.6.4", "2026Q2", on_time(y, "2026Q2"), {"无害化": 93.1, "资源化": 49.5})
    # 2026Q3 and 2026Q4: never filed
    # Contributions: 3.1.1 all on time; 3.5.1 on time, 2 days late, 20 days late, missing; 3.6.1 Q1 only
    y.contribute(h, "3.5.1", "2026Q1", on_time(y, "2026Q1"))
    y.contribute(h, "3.5.1", "2026Q2", late(y, "2026Q2", 2))
    y.contribute(h, "3.5.1", "2026Q3", late(y, "2026Q3", 20))
    y.contribute(h, "3.6.1", "2026Q1", on_time(y, "2026Q1"))
    never = {("3.5.1", "2026Q4")} | {("3.6.1", q) for q in QUARTERS[1:]}
    assert y.contribute_rest_on_time(h, leave=never) == 20 * 4 - 4 - 4     # the other 18 co tasks: on time
    y.escalate(y.report(h, "3.4.1", "2026Q2"), at(date(2026, 7, 15)))
    y.escalate(y.report(h, "3.4.1", "2027Q1"), at(date(2027, 4, 20)))   # another year's period: not counted


def play_transport(y: Year) -> None:
    t = TRANSPORT
    # 3.5.1 (绿色出行比例 ≥ 70 by 2030; the office sets milestones 2020 = 50 and 2028 = 68)
    y.filed(t, "3.5.1", "2026Q1", on_time(y, "2026Q1"), {"绿色出行": 60})
    y.filed(t, "3.5.1", "2026Q2", on_time(y, "2026Q2"), {"绿色出行": 61})
    y.filed(t, "3.5.1", "2026Q3", on_time(y, "2026Q3"), {"绿色出行": 62.5}, returns=1)
    y.filed(t, "3.5.1", "2026Q4", on_time(y, "2026Q4"), {"绿色出行": 57.15})
    # 3.5.2 (车辆比例 = 100 due 2025; 碳排放强度比2020年下降 ≈ 9.5 by 2030: a change since 2020, so from 0)
    y.filed(t, "3.5.2", "2026Q1", on_time(y, "2026Q1"), {"车辆比例": 90, "碳排放强度": 2})
    y.filed(t, "3.5.2", "2026Q2", late(y, "2026Q2", 4), {"车辆比例": 95, "碳排放强度": 5.13})
    # 2026Q3, 2026Q4: never filed
    # 3.5.3 (no targets): approved; submitted, never reviewed; returned twice then approved; never filed
    y.filed(t, "3.5.3", "2026Q1", on_time(y, "2026Q1"))
    y.submit(t, "3.5.3", "2026Q2", on_time(y, "2026Q2"))
    y.filed(t, "3.5.3", "2026Q3", on_time(y, "2026Q3", 10), returns=2)
    # Contributions: 3.9.2 2026Q1 at 00:30 the day after the deadline (still the deadline day in UTC): 1 day
    # late; 4.1 never; the rest on time.
    deadline = y.deadline("2026Q1")
    y.contribute(t, "3.9.2", "2026Q1", at(deadline + timedelta(days=1), 0, 30))
    assert y.contribute_rest_on_time(t, leave={("4.1", q) for q in QUARTERS}) == 6 * 4 - 1 - 4
    y.escalate(y.report(t, "3.5.2", "2026Q3"), at(date(2026, 10, 22)))
    y.escalate(y.contribution(t, "4.1", "2026Q2"), at(date(2026, 7, 15)))


def office_inputs(y: Year, evaluation) -> None:
    now = EVAL_AT
    services.rate_task(evaluation, y.tasks["3.4.3"], score=88, comment="清洁取暖推进有力", actor=y.office, now=now)
    services.rate_task(evaluation, y.tasks["3.5.2"], score=70, comment="车辆更新偏慢", actor=y.office, now=now)
    green = y.target("3.5.1", "绿色出行")
    services.set_milestone(evaluation, green, year=2020, value="50", actor=y.office, now=now)
    services.set_milestone(evaluation, green, year=2028, value="68", actor=y.office, now=now)


@pytest.fixture
def year(app):
    y = Year()
    play_housing(y)
    play_transport(y)
    evaluation = y.evaluation()
    office_inputs(y, evaluation)
    services.compute_evaluation(evaluation, actor=y.office, now=EVAL_AT)
    y.eval = evaluation
    return y


# -- the hand computation ------------------------------------------------------------------------------------
#
# Task score = (30·timeliness + 20·quality + 30·attainment + 20·rating) / (sum of the weights of parts present).
# Timeliness per item: 100 on time, 100 − 5·days late (floor 50), 0 never submitted.
# Department base = Σ(role weight · task score) / Σ role weights, lead 1.0, co 0.5.

def task(t, q=None, a=None, r=None) -> F:
    parts = [(30, t), (20, q), (30, a), (20, r)]
    present = [(w, F(str(v))) for w, v in parts if v is not None]
    return sum(w * v for w, v in present) / sum(w for w, _ in present)


def mean(*values) -> F:
    return sum(F(str(v)) for v in values) / len(values)


# 市住房城乡建设局
H_343 = dict(t=mean(100, 100 - 5 * 3, 100, 100),   # Q2 filed 3 days late → 85
             q=mean(100, 0, 100, 100),             # Q2 returned once → 75
             a=mean(100 * (1 - F(0) / 97),         # 清洁取暖率 97 against 97 (=)
                    F(100),                        # 8.4 against 8 (=: a level to reach, exceeded) → 100
                    100 * (1 - F(5) / 50)),        # 45 against 50 → 90
             r=88)                                 # the office's rating
H_341 = dict(t=mean(50, 0, 100, 100),              # 12 days late → max(50, 40); Q2 never; Q3, Q4 on time
             q=mean(100, 0),                       # Q1 approved first time, Q4 returned (Q3 not reviewed)
             a=100 * (1 - F("1.7") / 17))          # latest *approved* value 15.3 (Q3 16 is not approved) → 90
H_342 = dict(t=100, q=100)                         # no targets, no rating
H_364_DUE = 40 + (65 - 40) * F(2026 - 2020, 2030 - 2020)   # linear from the first approved value (2020) → 55
H_364 = dict(t=mean(100, 100, 0, 0), q=100,
             a=mean(100 * F("93.1") / 98,           # ≥ 98: 93.1 / 98 → 95
                    100 * (1 - abs(F("49.5") - H_364_DUE) / H_364_DUE)))   # = 55: 49.5 → 90
H_LEAD = [H_343, H_341, H_342, H_364]
H_CO = ([mean(100, 100, 100, 100)]                 # 3.1.1
        + [mean(100, 100 - 5 * 2, 50, 0)]          # 3.5.1: on time, 2 days late, 20 days late (floor), never
        + [mean(100, 0, 0, 0)]                     # 3.6.1
        + [task(t=100, r=70)]                      # 3.5.2 on time; the task's rating (70) applies to it too
        + [F(100)] * 16)                           # the other 16 co tasks, on time
H_BASE = (sum(task(**p) for p in H_LEAD) + F(1, 2) * sum(H_CO)) / (4 * 1 + 20 * F(1, 2))
H_DEDUCTION = 1                                    # one 督办 in 2026 (the 2027Q1 one does not count)

# 市交通运输局
T_351_DUE = 50 + (68 - 50) * F(2026 - 2020, 2028 - 2020)    # through the office's milestones → 63.5
T_351 = dict(t=100, q=mean(100, 100, 0, 100), a=100 * F("57.15") / T_351_DUE)   # ≥: 57.15 / 63.5 → 90
T_352_DUE = 0 + (F("9.5") - 0) * F(2026 - 2020, 2030 - 2020)  # 比2020年: from 0 in 2020 → 5.7
T_352 = dict(t=mean(100, 100 - 5 * 4, 0, 0), q=100,
             a=mean(100 * (1 - F(5) / 100),                   # = 100: 95 → 95
                    100 * (1 - abs(F("5.13") - T_352_DUE) / T_352_DUE)),   # ≈ 5.7: 5.13 → 90
             r=70)
T_353 = dict(t=mean(100, 100, 100, 0), q=mean(100, 0))   # Q2 not reviewed; Q3 returned twice
T_LEAD = [T_351, T_352, T_353]
T_CO = [F(100),                                   # 3.2.2
        mean(100 - 5, 100, 100, 100),             # 3.9.2: one day late (Shanghai time)
        F(0),                                     # 4.1 never
        F(100), F(100), F(100)]                   # 4.2 4.3 4.4
T_BASE = (sum(task(**p) for p in T_LEAD) + F(1, 2) * sum(T_CO)) / (3 * 1 + 6 * F(1, 2))
T_DEDUCTION = 2


def part_mean(tasks: list[tuple[float, dict]], part: str) -> F | None:
    present = [(F(str(w)), p[part]) for w, p in tasks if p.get(part) is not None]
    return sum(w * F(v) for w, v in present) / sum(w for w, _ in present) if present else None


def test_hand_computed_values_are_what_the_rules_say():
    """Guard the hand computation itself: the round numbers the scenario was designed to produce."""
    assert task(**H_343) == F("90.475")
    assert task(**H_341) == F("69.6875")
    assert task(**H_364) == F("78.4375") and H_364_DUE == 55
    bases, dues = (H_BASE, T_BASE), (T_351_DUE, T_352_DUE)
    assert bases == (F("1275.1") / 14, F("79.9375"))          # 91.0785…, 79.9375
    assert dues == (F("63.5"), F("5.7"))
    assert task(**T_351) == 90 and task(**T_352) == F("75.25") and task(**T_353) == 65


def check_department(row, base: F, deduction: int, adjustment: Decimal = Decimal(0)):
    assert row.base_score == half_up(base, "0.01")
    assert row.deduction == deduction
    assert row.adjustment == adjustment
    expected = half_up(half_up(base, "0.01") - deduction + adjustment, "0.1")
    assert row.score == expected
    return expected


def test_a_year_of_the_bundled_plan_scores_as_computed_by_hand(year):
    ev = year.eval
    assert not ev.frozen and scoring.effective_settings(ev)["base_year"] == 2020   # 比2020年 in a target

    # -- 市住房城乡建设局 --
    h = year.score(ev, HOUSING)
    score = check_department(h, H_BASE, H_DEDUCTION)
    assert score == Decimal("90.1") and h.grade == "优秀"       # 91.08 − 1 = 90.08 → 90.1
    parts = h.parts
    lead_w = [(1.0, p) for p in H_LEAD]
    co_t = [F(100), mean(100, 90, 50, 0), mean(100, 0, 0, 0), F(100)] + [F(100)] * 16
    co_w = [(0.5, {"t": v, "r": 70 if i == 3 else None}) for i, v in enumerate(co_t)]
    assert parts["timeliness"] == pytest.approx(float(part_mean(lead_w + co_w, "t")), abs=0.006)   # 89.375
    assert parts["quality"] == pytest.approx(float(mean(75, 50, 100, 100)))                        # 81.25
    assert parts["attainment"] == pytest.approx(float(mean(F(290, 3), 90, F(185, 2))), abs=0.006)  # 93.06
    assert parts["rating"] == pytest.approx(float((88 * 1 + 70 * F(1, 2)) / F(3, 2)))              # 82
    assert parts["base"] == pytest.approx(float(H_BASE), abs=0.006)
    assert parts["deduction"] == -1
    assert (parts["lead_tasks"], parts["co_tasks"], parts["due"]) == (4, 20, 16 + 80)
    assert (parts["missing"], parts["late"], parts["returns"], parts["escalations"]) == (3 + 4, 2 + 2, 2, 1)
    assert parts["on_time"] == 96 - 7 - 4

    # every figure traces back: the detail lists the reports, targets and events behind each part
    tasks = {t["code"]: t for t in h.detail["tasks"]}
    assert [t["code"] for t in h.detail["tasks"][:4]] == ["3.4.1", "3.4.2", "3.4.3", "3.6.4"]  # lead first
    t341 = tasks["3.4.1"]
    assert t341["role"] == "lead" and t341["score"] == pytest.approx(69.69, abs=0.01)
    assert [(i["period"], i["days_late"], i["points"]) for i in t341["items"]] == [
        ("2026Q1", 12, 50.0), ("2026Q2", (date(2027, 1, 20) - year.deadline("2026Q2")).days, 0.0),
        ("2026Q3", 0, 100.0), ("2026Q4", 0, 100.0)]
    assert [i["first_time"] for i in t341["items"]] == [True, None, None, False]
    (target,) = t341["targets"]
    assert (target["due"], target["basis"], target["value"], target["score"]) == (17, "target", 15.3, 90)
    rows = {t["metric"][:4]: t for t in tasks["3.6.4"]["targets"]}
    assert (rows["生活垃圾"]["due"], rows["生活垃圾"]["basis"], rows["生活垃圾"]["score"]) == (55, "linear", 90)
    assert tasks["3.4.3"]["rating"] == {"score": 88, "comment": "清洁取暖推进有力"}
    assert tasks["3.4.3"]["parts"] == pytest.approx({"timeliness": 96.25, "quality": 75, "attainment": 96.67,
                                                     "rating": 88})   # attainment mean(100, 100, 90)
    assert tasks["3.5.2"]["role"] == "co" and tasks["3.5.2"]["score"] == 88
    assert [e["period"] for e in h.detail["escalations"]] == ["2026Q2"]

    # -- 市交通运输局 --
    t = year.score(ev, TRANSPORT)
    score = check_department(t, T_BASE, T_DEDUCTION)
    assert score == Decimal("77.9") and t.grade == "一般"        # 79.94 − 2 = 77.94 → 77.9
    parts = t.parts
    lead_w = [(1.0, p) for p in T_LEAD]
    co_w = [(0.5, {"t": v}) for v in T_CO]
    assert parts["timeliness"] == pytest.approx(float(part_mean(lead_w + co_w, "t")), abs=0.006)   # 78.23
    assert parts["quality"] == pytest.approx(float(mean(75, 100, 50)))                             # 75
    assert parts["attainment"] == pytest.approx(float(mean(90, F(185, 2))))                       # 91.25
    assert parts["rating"] == 70
    assert (parts["lead_tasks"], parts["co_tasks"], parts["due"]) == (3, 6, 12 + 24)
    assert (parts["missing"], parts["late"], parts["returns"], parts["escalations"]) == (3 + 4, 2, 1 + 2, 2)
    tasks = {t["code"]: t for t in t.detail["tasks"]}
    (green,) = tasks["3.5.1"]["targets"]
    assert (green["due"], green["basis"], green["value"], green["score"]) == (63.5, "linear", 57.15, 90)
    vehicles, carbon = tasks["3.5.2"]["targets"]
    assert (vehicles["due"], vehicles["basis"], vehicles["score"]) == (100, "target", 95)
    assert (carbon["due"], carbon["basis"], carbon["value"], carbon["score"]) == (5.7, "linear", 5.13, 90)
    first = tasks["3.9.2"]["items"][0]
    assert (first["period"], first["days_late"], first["points"]) == ("2026Q1", 1, 95.0)

    # Ranking (issue 16 changed it from one list by score): within groups, the departments that lead tasks
    # first, then those that only co-operate, each by its ranking score; the result JSON carries the group.
    result = services.result_json(ev)
    by_name = {d["department"]: d for d in result["departments"]}
    assert by_name[HOUSING]["score"] == 90.1 and by_name[HOUSING]["grade"] == "优秀"
    assert by_name[TRANSPORT]["score"] == 77.9 and by_name[TRANSPORT]["grade"] == "一般"
    groups = [d["group"] for d in result["departments"]]
    assert by_name[HOUSING]["group"] == by_name[TRANSPORT]["group"] == "牵头单位"
    assert groups == sorted(groups, key=["牵头单位", "仅配合单位"].index)
    for group in set(groups):
        ranked = [d["ranking_score"] for d in result["departments"] if d["group"] == group and d["ranked"]]
        assert ranked == sorted(ranked, reverse=True), group


def test_adjustment_sign_off_freeze_and_reopen(year):
    ev, office, leader = year.eval, year.office, year.leader
    transport = Department.lookup(TRANSPORT)
    now = EVAL_AT + timedelta(hours=1)

    # An adjustment needs a reason and non-zero points; nothing is stored when refused.
    with pytest.raises(ValidationFailed) as err:
        services.adjust_score(ev, transport, points="2.5", reason="  ", actor=office, now=now)
    assert "reason" in err.value.errors
    with pytest.raises(ValidationFailed) as err:
        services.adjust_score(ev, transport, points="0", reason="理由", actor=office, now=now)
    assert "points" in err.value.errors
    with pytest.raises(PermissionDenied):
        services.adjust_score(ev, transport, points="2.5", reason="理由", actor=leader, now=now)
    assert ev.adjustments == []

    # +2.5 with a reason lifts 市交通运输局 from 一般 to 良好: 79.94 − 2 + 2.5 = 80.44 → 80.4
    services.adjust_score(ev, transport, points="2.5", reason="牵头完成绿色出行专项行动", actor=office, now=now)
    t = year.score(ev, TRANSPORT)
    assert check_department(t, T_BASE, T_DEDUCTION, Decimal("2.5")) == Decimal("80.4") and t.grade == "良好"
    (listed,) = t.detail["adjustments"]
    assert listed["points"] == 2.5 and listed["reason"] == "牵头完成绿色出行专项行动"
    assert t.parts["adjustment"] == 2.5
    # −0.2 with a reason takes 市住房城乡建设局 from 优秀 (90.1) to 良好: 91.08 − 1 − 0.2 = 89.88 → 89.9
    services.adjust_score(ev, Department.lookup(HOUSING), points="-0.2", reason="清洁取暖数据口径不一致",
                          actor=office, now=now)
    h = year.score(ev, HOUSING)
    assert check_department(h, H_BASE, H_DEDUCTION, Decimal("-0.2")) == Decimal("89.9") and h.grade == "良好"

    # Only a leader signs off.
    with pytest.raises(PermissionDenied):
        services.sign_off(ev, actor=office, now=now)
    services.sign_off(ev, actor=leader, now=now, note="同意")
    assert ev.frozen and ev.signed_off_by == leader
    frozen = services.result_json(ev)["departments"]

    # Later work on the reports does not move the frozen numbers.
    year.approve(year.report(TRANSPORT, "3.5.3", "2026Q2"), now)            # quality of 3.5.3 would change
    returned = year.report(HOUSING, "3.4.1", "2026Q4")
    year.resubmit(returned, now)
    year.approve(returned, now + timedelta(minutes=5))
    services.compute_evaluation(ev, actor=office, now=now + timedelta(days=1))
    db.session.expire_all()
    assert services.result_json(ev)["departments"] == frozen
    assert ev.frozen

    # A frozen evaluation refuses the office's changes.
    for change in (
        lambda: services.rate_task(ev, year.tasks["3.5.3"], score=90, comment="", actor=office, now=now),
        lambda: services.adjust_score(ev, transport, points="1", reason="再调", actor=office, now=now),
        lambda: services.update_settings(ev, {"weight_co": "0.2"}, actor=office, now=now),
        lambda: services.set_milestone(ev, year.target("3.5.1", "绿色出行"), year=2027, value="66",
                                       actor=office, now=now),
    ):
        with pytest.raises(Conflict):
            change()
    with pytest.raises(Conflict):
        services.sign_off(ev, actor=leader, now=now)

    # Only the office reopens, and only with a reason.
    with pytest.raises(PermissionDenied):
        services.reopen(ev, actor=leader, now=now, reason="重新核对")
    with pytest.raises(ValidationFailed):
        services.reopen(ev, actor=office, now=now, reason=" ")
    assert ev.frozen
    services.reopen(ev, actor=office, now=now, reason="3.4.1 四季度报告已重新报送并通过")
    assert not ev.frozen

    audit = db.session.scalars(select(AuditEvent).where(AuditEvent.object_type == "evaluation")
                               .order_by(AuditEvent.id)).all()
    actions = [a.action for a in audit]
    assert actions.count("evaluation.adjust") == 2 and actions.count("evaluation.sign_off") == 1
    assert actions.count("evaluation.reopen") == 1
    sign = next(a for a in audit if a.action == "evaluation.sign_off")
    assert (sign.actor_id, sign.from_state, sign.to_state) == (leader.id, "draft", "frozen")
    reopened = next(a for a in audit if a.action == "evaluation.reopen")
    assert reopened.actor_id == office.id and reopened.comment.startswith("3.4.1")
    adjust = next(a for a in audit if a.action == "evaluation.adjust")
    assert adjust.comment == "牵头完成绿色出行专项行动" and adjust.data["points"] == 2.5

    # After reopening, computing reflects the new data.
    services.compute_evaluation(ev, actor=office, now=now + timedelta(days=1))
    t353 = {**T_353, "q": mean(100, 100, 0)}                              # Q2 now approved first time
    t_base = (task(**T_351) + task(**T_352) + task(**t353) + F(1, 2) * sum(T_CO)) / 6
    t = year.score(ev, TRANSPORT)
    assert check_department(t, t_base, T_DEDUCTION, Decimal("2.5")) == Decimal("81.6") and t.grade == "良好"
    # 3.4.1 Q4 is approved now, after one return (quality unchanged: still not first time), and its 16.5 is
    # the latest approved value: attainment 1 − 0.5/17 → 97.06 instead of 90
    h341 = {**H_341, "a": 100 * (1 - F("0.5") / 17)}
    h_base = H_BASE + (task(**h341) - task(**H_341)) / 14
    h = year.score(ev, HOUSING)
    assert check_department(h, h_base, H_DEDUCTION, Decimal("-0.2")) == Decimal("90.1") and h.grade == "优秀"
    (target,) = next(x for x in h.detail["tasks"] if x["code"] == "3.4.1")["targets"]
    assert target["value"] == 16.5 and target["score"] == pytest.approx(float(100 * (1 - F("0.5") / 17)), abs=0.005)


# -- grade boundaries, through adjustments and thresholds, on one small department ---------------------------

@pytest.fixture
def organisation(app):
    """市委组织部 (lead on 3.9.1 only, no targets) files 2026Q1 on time and is approved at first submission.
    Evaluated on 2026-04-20, only 2026Q1 is due: timeliness 100, quality 100 → base 100."""
    y = Year(open_all=False)
    y.filed(ORGANISATION, "3.9.1", "2026Q1", on_time(y, "2026Q1"))
    y.now = at(date(2026, 4, 20))
    y.eval = services.get_or_create(y.plan, YEAR, now=y.now)
    services.compute_evaluation(y.eval, actor=y.office, now=y.now)
    return y


def test_grade_boundaries_through_adjustments(organisation):
    y = organisation
    dept = Department.lookup(ORGANISATION)
    row = y.score(y.eval, ORGANISATION)
    assert (row.base_score, row.score, row.grade) == (Decimal("100.00"), Decimal("100.0"), "优秀")
    steps = [("-10", "90.0", "优秀"), ("-0.1", "89.9", "良好"), ("-9.9", "80.0", "良好"), ("-0.1", "79.9", "一般"),
             ("-19.9", "60.0", "一般"), ("-0.1", "59.9", "较差"), ("-59.9", "0.0", "较差"),
             ("-50", "0.0", "较差"),      # clamped at 0
             ("100", "50.0", "较差"), ("60", "100.0", "优秀")]   # 0 − 50 + 100 = 50; + 60 = 110 → clamped 100
    total = Decimal(0)
    for points, score, grade in steps:
        total += D(points)
        services.adjust_score(y.eval, dept, points=points, reason=f"调整 {points}", actor=y.office, now=y.now)
        row = y.score(y.eval, ORGANISATION)
        assert (row.score, row.grade, row.adjustment) == (D(score), grade, total), points
    assert [a["reason"] for a in row.detail["adjustments"]] == [f"调整 {p}" for p, _, _ in steps]


def test_grade_boundaries_through_thresholds(organisation):
    y = organisation
    services.adjust_score(y.eval, Department.lookup(ORGANISATION), points="-40.1", reason="示例",
                          actor=y.office, now=y.now)
    assert y.score(y.eval, ORGANISATION).score == Decimal("59.9")
    for thresholds, grade in [((59.9, 50, 40), "优秀"), ((60, 59.9, 40), "良好"), ((70, 60, 59.9), "一般"),
                              ((70, 65, 60), "较差"), ((90, 80, 60), "较差")]:
        values = dict(zip(("threshold_优秀", "threshold_良好", "threshold_一般"), map(str, thresholds), strict=True))
        services.update_settings(y.eval, values, actor=y.office, now=y.now)
        row = y.score(y.eval, ORGANISATION)
        assert row.grade == grade, thresholds
    assert scoring.effective_settings(y.eval)["thresholds"] == {"优秀": 90, "良好": 80, "一般": 60}


def test_a_sum_ending_in_5_is_rounded_half_up_whatever_the_float_arithmetic(organisation):
    """The rules round the final score to one decimal, half up. 100 − 10.05 and 90.57 − 0.62 both come to
    exactly 89.95, which is 90.0 (优秀): the same total must give the same score and grade."""
    y = organisation
    dept = Department.lookup(ORGANISATION)
    services.adjust_score(y.eval, dept, points="-10.05", reason="示例", actor=y.office, now=y.now)
    row = y.score(y.eval, ORGANISATION)
    assert (row.score, row.grade) == (Decimal("90.0"), "优秀")
    services.adjust_score(y.eval, dept, points="10.05", reason="撤回示例", actor=y.office, now=y.now)

    # A rating of 67: (30·100 + 20·100 + 20·67) / 70 = 90.5714… → base 90.57; − 0.62 → 89.95 → 90.0
    services.rate_task(y.eval, y.tasks["3.9.1"], score=67, comment="", actor=y.office, now=y.now)
    row = y.score(y.eval, ORGANISATION)
    assert row.base_score == half_up(F(30 * 100 + 20 * 100 + 20 * 67, 70), "0.01") == Decimal("90.57")
    services.adjust_score(y.eval, dept, points="-0.62", reason="示例", actor=y.office, now=y.now)
    row = y.score(y.eval, ORGANISATION)
    assert row.adjustment == 0 - D("0.62")
    assert (row.score, row.grade) == (Decimal("90.0"), "优秀")


def test_escalations_opened_by_the_reminders_are_deducted(organisation):
    """督办 opened by the real reminder pass (five working days after the 2026Q1 deadline) count one point each,
    at most 10, per department."""
    y = organisation
    opened = run_reminders(now=at(date(2026, 4, 17)))["escalations_opened"]
    assert opened
    services.compute_evaluation(y.eval, actor=y.office, now=y.now)
    counts = Counter(e.department.name for e in db.session.scalars(select(Escalation)))
    assert ORGANISATION not in counts                      # it filed on time
    for row in y.eval.scores:
        n = counts.get(row.department.name, 0)
        assert row.parts["escalations"] == n, row.department.name
        assert row.deduction == min(10, n), row.department.name
        assert row.score == half_up(max(Decimal(0), row.base_score - row.deduction), "0.1"), row.department.name
    assert max(counts.values()) > 10                       # the cap is reached by someone


# -- settings ------------------------------------------------------------------------------------------------

@pytest.fixture
def education(app):
    """市教育局 on 2026-04-20 (only 2026Q1 due): its lead report on 3.7.3 filed 3 days late and approved at
    first submission (timeliness 85, quality 100, no targets → (30·85 + 20·100)/50 = 91); its contribution to
    3.7.1 on time (100); 3.7.2, 3.9.1 and 3.9.2 never (0); three 督办 escalations."""
    y = Year(open_all=False)
    y.filed(EDUCATION, "3.7.3", "2026Q1", late(y, "2026Q1", 3))
    y.contribute(EDUCATION, "3.7.1", "2026Q1", on_time(y, "2026Q1"))
    for code in ("3.7.2", "3.9.1", "3.9.2"):
        y.escalate(y.contribution(EDUCATION, code, "2026Q1"), at(date(2026, 4, 16)))
    y.now = at(date(2026, 4, 20))
    y.eval = services.get_or_create(y.plan, YEAR, now=y.now)
    services.compute_evaluation(y.eval, actor=y.office, now=y.now)
    return y


def test_settings_change_role_weights_part_weights_late_points_and_deductions(education):
    y, ev, office = education, education.eval, education.office
    lead, co = F(30 * 85 + 20 * 100, 50), [F(100), F(0), F(0), F(0)]
    assert lead == 91

    def expect(lead_task, co_tasks, w_lead=1, w_co=F(1, 2), deduction=3):
        row = y.score(ev, EDUCATION)
        base = (w_lead * lead_task + w_co * sum(co_tasks)) / (w_lead + w_co * len(co_tasks))
        check_department(row, base, deduction)
        return row

    expect(lead, co)                                      # (91 + 0.5·100) / 3 = 47 → 47 − 3 = 44.0
    assert y.score(ev, EDUCATION).score == Decimal("44.0")
    services.update_settings(ev, {"weight_co": "0"}, actor=office, now=y.now)
    assert expect(lead, co, w_co=0).score == Decimal("88.0")              # co tasks no longer count
    services.update_settings(ev, {"weight_co": "1", "weight_lead": "1"}, actor=office, now=y.now)
    assert expect(lead, co, w_co=1).score == Decimal("35.2")              # (91 + 100) / 5 = 38.2 − 3
    services.update_settings(ev, {"weight_co": "0.5", "part_quality": "0"}, actor=office, now=y.now)
    expect(F(85), co)                                     # timeliness alone: (85 + 50) / 3 = 45 → 42.0
    services.update_settings(ev, {"part_quality": "20", "late_points_per_day": "10"}, actor=office, now=y.now)
    expect(F(30 * 70 + 20 * 100, 50), co)                 # 3 days late at 10 a day → 70; task 82
    services.update_settings(ev, {"late_points_per_day": "5", "escalation_points": "2", "escalation_cap": "5"},
                             actor=office, now=y.now)
    assert expect(lead, co, deduction=5).deduction == 5   # 3 × 2 = 6, capped at 5

    # Refused: thresholds that do not descend, weights out of range, all part weights zero, a non-office user.
    for values, field in [({"threshold_优秀": "80", "threshold_良好": "80"}, "threshold_良好"),
                          ({"threshold_良好": "95"}, "threshold_良好"),
                          ({"threshold_一般": "85"}, "threshold_良好"),
                          ({"weight_co": "1.5"}, "weight_co"),
                          ({"part_timeliness": "-1"}, "part_timeliness"),
                          ({"part_timeliness": "0", "part_quality": "0", "part_attainment": "0",
                            "part_rating": "0"}, "part_timeliness"),
                          ({"escalation_points": "x"}, "escalation_points")]:
        before = dict(ev.settings)
        with pytest.raises(ValidationFailed) as err:
            services.update_settings(ev, values, actor=office, now=y.now)
        assert field in err.value.errors, values
        assert ev.settings == before
    with pytest.raises(PermissionDenied):
        services.update_settings(ev, {"weight_co": "0.3"}, actor=make_user(Role.LEADER, username="leader2"),
                                 now=y.now)
    settings = services.result_json(ev)["settings"]
    assert settings["role_weights"] == {"lead": 1.0, "co": 0.5} and settings["escalation_cap"] == 5
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "evaluation.settings")) is not None


# -- the pure helpers ----------------------------------------------------------------------------------------

def test_timeliness_points():
    s = DEFAULT_SETTINGS
    deadline, as_of = date(2026, 4, 8), date(2026, 5, 1)
    assert timeliness_points(deadline, date(2026, 4, 1), as_of, s) == (100.0, 0)
    assert timeliness_points(deadline, deadline, as_of, s) == (100.0, 0)            # on the deadline day
    assert timeliness_points(deadline, date(2026, 4, 9), as_of, s) == (95.0, 1)
    assert timeliness_points(deadline, date(2026, 4, 11), as_of, s) == (85.0, 3)     # 3 days late
    assert timeliness_points(deadline, date(2026, 4, 18), as_of, s) == (50.0, 10)    # 100 − 50: the floor
    assert timeliness_points(deadline, date(2026, 4, 28), as_of, s) == (50.0, 20)    # never below it
    assert timeliness_points(deadline, None, as_of, s) == (0.0, 23)                  # missing: 0
    custom = {**s, "late_points_per_day": 2, "late_floor": 60}
    assert timeliness_points(deadline, date(2026, 4, 11), as_of, custom) == (94.0, 3)
    assert timeliness_points(deadline, date(2026, 6, 1), as_of, custom) == (60.0, 54)


@pytest.mark.parametrize(("comparator", "value", "due", "expected"), [
    (">=", 50, 100, 50), (">=", 100, 100, 100), (">=", 130, 100, 100),          # capped at 100
    (">=", 5, 0, 100), (">=", -1, 0, 0),                                          # zero due
    ("<=", 80, 100, 100), ("<=", 125, 100, 80), ("<=", 0, 0, 100), ("<=", 5, 0, 0),
    ("~", 90, 100, 90), ("~", 110, 100, 90), ("~", 250, 100, 0), ("~", 0, 0, 100), ("~", 1, 0, 0),
    ("=", 97, 97, 100), ("=", 45, 50, 90), ("=", 55, 50, 100),
    (">=", None, 100, 0), ("~", 5, None, 0),                                      # nothing reported / no due
])
def test_attainment(comparator, value, due, expected):
    assert attainment(comparator, value, due) == pytest.approx(expected)


def _target(value, year):
    return Target(value=Decimal(str(value)), year=year, comparator=">=", metric="m")


def test_due_value():
    target = _target(200, 2030)
    assert due_value(target, 2030, base_year=2020, base_value=100, milestones={}) == (200, "target")
    assert due_value(target, 2031, base_year=2020, base_value=100, milestones={}) == (200, "target")
    assert due_value(_target(200, None), 2026, base_year=2020, base_value=None, milestones={}) == (200, "target")
    # linear from the base year: 100 in 2020 → 200 in 2030, so 160 in 2026
    assert due_value(target, 2026, base_year=2020, base_value=100, milestones={}) == (pytest.approx(160), "linear")
    # a milestone in between: 100 (2020) → 180 (2025) → 200 (2030)
    ms = {2025: 180}
    assert due_value(target, 2023, base_year=2020, base_value=100, milestones=ms) == (pytest.approx(148), "linear")
    assert due_value(target, 2025, base_year=2020, base_value=100, milestones=ms) == (180, "milestone")
    assert due_value(target, 2026, base_year=2020, base_value=100, milestones=ms) == (pytest.approx(184), "linear")
    # the office's milestone for the base year replaces the first reported value
    assert due_value(target, 2026, base_year=2020, base_value=100,
                     milestones={2020: 120}) == (pytest.approx(168), "linear")
    assert due_value(target, 2026, base_year=2020, base_value=None,
                     milestones={2020: 120}) == (pytest.approx(168), "linear")
    # no base value: nothing to draw the path from
    assert due_value(target, 2026, base_year=2020, base_value=None, milestones={}) == (None, "no_base")


def test_grade_for():
    t = DEFAULT_SETTINGS["thresholds"]
    cases = [("100", "优秀"), ("90", "优秀"), ("90.0", "优秀"), ("89.95", "良好"), ("89.9", "良好"), ("80", "良好"),
             ("79.99", "一般"), ("60", "一般"), ("59.9", "较差"), ("0", "较差")]
    for score, grade in cases:
        assert grade_for(D(score), t) == grade, score
    assert grade_for(None, t) is None
    assert grade_for(D("70"), {"优秀": 70, "良好": 50, "一般": 30}) == "优秀"


def test_default_base_year(app, fushun_plan):
    assert default_base_year(fushun_plan, 2026) == 2020                     # 比2020年 in a target's metric
    fushun_plan.valid_from = 2021
    assert default_base_year(fushun_plan, 2026) == 2020                     # the year before the plan runs
    fushun_plan.valid_from = 2024
    assert default_base_year(fushun_plan, 2026) == 2023
    fushun_plan.valid_from = None
    task = db.session.scalars(select(Task).where(Task.plan_id == fushun_plan.id)).first()
    for n in range(10):   # the year most targets compare with wins (the bundled plan's 比2020年: a few)
        db.session.add(Target(plan_id=fushun_plan.id, task_id=task.id, year=2030, value=Decimal(5), unit="%",
                              comparator="~", metric=f"指标{n}比 2015 年下降", sentence=""))
    db.session.flush()
    assert default_base_year(fushun_plan, 2026) == 2015
    empty = Plan(id=10**6, title="空", source_filename="x", source_sha256="0" * 64, valid_from=None)
    assert default_base_year(empty, 2026) == 2025                           # fallback: the year before


def test_bad_sign_off_version_and_base_year_are_clear_errors_and_reopening_recomputes(evaluation):
    ev, office = evaluation
    leader = make_user(Role.LEADER, username="leader2")
    with pytest.raises(ValidationFailed) as err:
        services.update_settings(ev, {"base_year": "2026"}, actor=office, now=EVAL_AT)
    assert "base_year" in err.value.errors
    with pytest.raises(Conflict):
        services.sign_off(ev, actor=leader, now=EVAL_AT, version="abc")
    services.sign_off(ev, actor=leader, now=EVAL_AT, note="同意", version=str(ev.version))
    frozen_at = ev.computed_at
    services.reopen(ev, actor=office, now=EVAL_AT + timedelta(days=1), reason="数据更正")
    assert not ev.frozen and ev.sign_off_note == "" and ev.computed_at > frozen_at


def test_an_adjustment_reports_every_bad_field_at_once(evaluation):
    ev, office = evaluation
    with pytest.raises(ValidationFailed) as err:
        services.adjust_score(ev, ev.scores[0].department, points="abc", reason=" ", actor=office, now=EVAL_AT)
    assert set(err.value.errors) == {"points", "reason"} and ev.adjustments == []
