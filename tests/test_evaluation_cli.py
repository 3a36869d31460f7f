"""`flask evaluation compute` (CONTRACT.md) driven as an operator would, checked through its JSON output."""
from __future__ import annotations

import json
from datetime import UTC, date, datetime, time
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction as F

import pytest
from sqlalchemy import func, select

from models import Assignment, AssignmentStatus, Department, Period, Report, Role, Task
from models.evaluation import Evaluation
from tests.conftest import ROOT, import_text_plan, make_user
from tests.factories import file_report, published_fushun
from workflow.clock import LOCAL_TZ
from workflow.evaluation import services
from workflow.evaluation.scoring import DEFAULT_SETTINGS, GRADES, PARTS, grade_for
from workflow.extensions import db
from workflow.review.services import approve_report

HOUSING = "市住房城乡建设局"
NOW = "2026-04-20T09:00+08:00"   # after the 2026Q1 deadline (04-08), before 2026Q2's (07-07)


def at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=LOCAL_TZ).astimezone(UTC)


def compute(runner, *args: str):
    return runner.invoke(args=["evaluation", "compute", *args])


def compute_json(runner, plan_id: int, now: str = NOW) -> dict:
    result = compute(runner, "--plan", str(plan_id), "--year", "2026", "--now", now, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture
def reported(app):
    """The bundled plan published, a few 2026Q1 reports filed (the rest never)."""
    plan, office = published_fushun()
    file_report(plan, office, "3.4.3", HOUSING, at(date(2026, 4, 7)),
                {"清洁取暖率": 97, "可再生能源替代率": 8, "光伏": 50})
    file_report(plan, office, "3.5.1", "市交通运输局", at(date(2026, 4, 10)), {"绿色出行": 60})
    file_report(plan, office, "3.9.1", "市委组织部", at(date(2026, 4, 3)), approve=False)
    return plan, office


def half_up(value: F, places: str) -> Decimal:
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(Decimal(places), ROUND_HALF_UP)


def test_compute_gives_every_department_with_tasks_a_score_and_grade(runner, reported):
    plan, _ = reported
    data = compute_json(runner, plan.id)
    assert {"plan_id", "year", "frozen", "departments"} <= set(data)
    assert (data["plan_id"], data["year"], data["frozen"]) == (plan.id, 2026, False)

    with_tasks = set(db.session.scalars(
        select(Department.name).join(Assignment, Assignment.department_id == Department.id).join(Task)
        .where(Task.plan_id == plan.id, Assignment.status != AssignmentStatus.TRANSFERRED)))
    names = [d["department"] for d in data["departments"]]
    assert len(names) == len(set(names)) and set(names) == with_tasks and len(names) > 20
    thresholds = DEFAULT_SETTINGS["thresholds"]
    for row in data["departments"]:
        assert {"department", "score", "grade", "parts"} <= set(row), row
        assert isinstance(row["score"], float) and 0 <= row["score"] <= 100, row
        assert row["grade"] in GRADES and row["grade"] == grade_for(Decimal(str(row["score"])), thresholds), row
        assert set(PARTS) <= set(row["parts"]), row
        assert row["group"] in ("牵头单位", "仅配合单位"), row      # issue 16: ranked within groups
        assert row["ranked"] == (row["rank"] is not None) == (row["parts"]["due"] >= 4), row
    # Issue 16 changed the order from one list by score: by group, each group's ranked departments by their
    # ranking score, then its unranked ones (fewer than four scored items).
    for group in ("牵头单位", "仅配合单位"):
        rows = [row for row in data["departments"] if row["group"] == group]
        ranked = [row["ranking_score"] for row in rows if row["ranked"]]
        assert ranked == sorted(ranked, reverse=True)
        assert [row["ranked"] for row in rows] == sorted((row["ranked"] for row in rows), reverse=True)

    # 市住房城乡建设局 on 2026-04-20: only 2026Q1 is due. Its 3.4.3 report was on time, approved first time and
    # met all three targets: (30·100 + 20·100 + 30·100) / 80 = 100. Its three other lead reports and twenty
    # contributions were never filed: 0 each. Base = (1·100 + 3·0 + 0.5·20·0) / (4 + 0.5·20) = 100 / 14.
    housing = next(row for row in data["departments"] if row["department"] == HOUSING)
    assert housing["score"] == float(half_up(F(100, 14), "0.1")) == 7.1 and housing["grade"] == "较差"
    assert (housing["parts"]["due"], housing["parts"]["on_time"], housing["parts"]["missing"]) == (24, 1, 23)
    # 市委组织部: its only report (3.9.1, no targets) on time but not yet reviewed: timeliness 100, nothing else.
    organisation = next(row for row in data["departments"] if row["department"] == "市委组织部")
    assert organisation["score"] == 100.0 and organisation["grade"] == "优秀"
    assert organisation["parts"]["quality"] is None
    # ... and with one scored item it is not ranked at all, where it used to come first (issue 16)
    assert organisation["rank"] is None and housing["rank"] is not None

    table = compute(runner, "--plan", str(plan.id), "--year", "2026", "--now", NOW)
    assert table.exit_code == 0 and HOUSING in table.stdout and "草稿" in table.stdout


def test_unknown_plan_fails_with_one_line(runner, app):
    result = compute(runner, "--plan", "999", "--year", "2026", "--format", "json")
    assert result.exit_code == 1
    assert result.stdout == "" and len(result.stderr.strip().splitlines()) == 1 and "999" in result.stderr


def test_unpublished_plan_fails_with_one_line(runner, app):
    plan = import_text_plan(ROOT / "tests" / "plans" / "county-education-points.txt", "county.txt")
    result = compute(runner, "--plan", str(plan.id), "--year", "2026", "--now", NOW, "--format", "json")
    assert result.exit_code == 1
    assert result.stdout == "" and len(result.stderr.strip().splitlines()) == 1 and "发布" in result.stderr
    assert db.session.scalar(select(func.count(Evaluation.id))) == 0


@pytest.mark.parametrize("year", ["99999", "1999", "abc"])
def test_a_bad_year_is_an_error(runner, reported, year):
    plan, _ = reported
    result = compute(runner, "--plan", str(plan.id), "--year", year, "--now", NOW, "--format", "json")
    assert result.exit_code != 0
    assert result.stdout == "" and "--year" in result.stderr
    assert db.session.scalar(select(func.count(Evaluation.id))) == 0


def test_a_bad_now_is_an_error(runner, reported):
    plan, _ = reported
    result = compute(runner, "--plan", str(plan.id), "--year", "2026", "--now", "2026-04-20", "--format", "json")
    assert result.exit_code == 1 and len(result.stderr.strip().splitlines()) == 1


def test_a_frozen_evaluation_shows_its_signed_off_scores(runner, reported):
    plan, office = reported
    before = compute_json(runner, plan.id)
    evaluation = services.find_evaluation(plan, 2026)
    services.sign_off(evaluation, actor=make_user(Role.LEADER, username="leader1"), now=at(date(2026, 4, 21)))

    # More work is done after sign-off: 市委组织部's report approved, 市住房城乡建设局 files a late report.
    organisation = db.session.scalar(select(Report).join(Task).join(Period).where(
        Task.code == "3.9.1", Period.key == "2026Q1", Report.department_id == Department.lookup("市委组织部").id))
    approve_report(organisation, actor=office, now=at(date(2026, 4, 22)))
    file_report(plan, office, "3.4.2", HOUSING, at(date(2026, 4, 22)))

    later = "2026-04-25T09:00+08:00"
    frozen = compute_json(runner, plan.id, now=later)
    assert frozen["frozen"] is True
    assert frozen["departments"] == before["departments"]

    # Reopened by the office, the same command shows the new data.
    db.session.expire_all()
    services.reopen(services.find_evaluation(plan, 2026), actor=office, now=at(date(2026, 4, 25)),
                    reason="补充审核结果")
    reopened = compute_json(runner, plan.id, now=later)
    assert reopened["frozen"] is False
    housing = {d["department"]: d for d in reopened["departments"]}[HOUSING]
    # 3.4.2 (no targets) filed 14 days late, approved: (30·max(50, 100 − 70) + 20·100) / 50 = 70
    assert housing["score"] == float(half_up(F(100 + 70, 14), "0.1")) == 12.1
    organisation_row = {d["department"]: d for d in reopened["departments"]}["市委组织部"]
    assert organisation_row["parts"]["quality"] == 100.0
