"""demo simulate: a year of the bundled plan played through the services; counts agree with the database,
every kind of event happens, the run is deterministic for a seed, and nothing is dated after `until`."""
from __future__ import annotations

import time
from datetime import UTC, date, datetime

from sqlalchemy import func, select

from models import (
    AuditEvent,
    Contribution,
    Escalation,
    Notification,
    Period,
    Report,
    ReportRevision,
    ReportStatus,
    Task,
)
from tests.conftest import FUSHUN, _empty_tables, import_text_plan
from workflow.assignments.services import publish_plan
from workflow.clock import local
from workflow.extensions import db
from workflow.simulation import simulate

PUBLISHED = datetime(2026, 1, 5, 1, tzinfo=UTC)
UNTIL = date(2026, 12, 31)
CONTRACT_KEYS = {"reports", "submitted", "late", "returned", "approved", "missing"}


def _published_plan():
    plan = import_text_plan(FUSHUN, FUSHUN.name)
    publish_plan(plan, actor=None, now=PUBLISHED, first_period="2026Q1")
    return plan


def _run(seed: int, until: date = UNTIL) -> tuple[object, dict, float]:
    plan = _published_plan()
    began = time.perf_counter()
    result = simulate(plan, until=until, seed=seed)
    return plan, result, time.perf_counter() - began


def _reports(plan):
    return db.session.scalars(select(Report).join(Task).where(Task.plan_id == plan.id)).all()


def test_a_simulated_year_agrees_with_the_database(app):
    plan, result, seconds = _run(7)
    print(f"\nsimulate bundled plan to {UNTIL}: {seconds:.1f} s, {result}")
    assert result.keys() >= CONTRACT_KEYS

    reports = _reports(plan)
    by_status = {s: sum(1 for r in reports if r.status == s) for s in ReportStatus}
    assert result["reports"] == len(reports)
    assert result["by_status"] == {str(k): v for k, v in by_status.items()}
    assert result["approved"] == by_status[ReportStatus.APPROVED]
    submitted = [r for r in reports if r.first_submitted_at is not None]
    assert result["submitted"] == len(submitted)
    assert result["late"] == sum(1 for r in submitted if local(r.first_submitted_at).date() > r.period.deadline)
    assert result["returned"] == sum(1 for r in reports if r.return_count > 0)
    missing = [r for r in reports if r.first_submitted_at is None and r.period.deadline <= UNTIL]
    assert result["missing"] == len(missing)
    for key in CONTRACT_KEYS:
        assert result[key] > 0, key
    assert result["submitted"] > result["missing"] * 5          # most departments report
    assert result["approved"] > result["returned"]               # most reports pass
    assert result["contributions"]["submitted"] > 0 and result["contributions"]["missing"] > 0

    # Every transition left its audit row; revisions exist for each save.
    actions = dict(db.session.execute(select(AuditEvent.action, func.count()).group_by(AuditEvent.action)).all())
    assert actions["report.submit"] == sum(1 + r.return_count - (r.status == ReportStatus.RETURNED)
                                           for r in submitted)
    assert actions["report.approve"] == result["approved"]
    assert actions["report.return"] == result["returns"]
    assert actions["contribution.submit"] == result["contributions"]["submitted"]
    assert actions["assignment.acknowledge"] == result["acknowledged"] > 0
    assert db.session.scalar(select(func.count(ReportRevision.id))) >= actions["report.submit"]
    returned = [r for r in reports if r.return_count]
    assert all(r.last_return_reason for r in returned)
    assert any("统计口径" in r.last_return_reason or "具体数据" in r.last_return_reason for r in returned)
    assert all(r.narrative and "lorem" not in r.narrative.lower() for r in submitted)
    # Reported values move toward their targets: a target with values in several quarters has some of each.
    valued = [r for r in submitted if r.task.targets]
    assert valued and all(r.values and all(v.value is not None for v in r.values) for r in valued
                          if r.status != ReportStatus.DRAFT)

    # Escalations opened for the reports that were never filed, and closed for those filed late.
    escalated = set(db.session.scalars(select(Escalation.report_id).where(Escalation.report_id.is_not(None))))
    due_by_level3 = [r for r in missing if r.period.deadline <= date(2026, 12, 20)]
    assert due_by_level3 and all(r.id in escalated for r in due_by_level3)
    assert result["escalations"]["closed"] > 0 and result["escalations"]["open"] > 0
    assert db.session.scalar(select(func.count(Notification.id)).where(Notification.kind == "overdue")) > 0

    # Nothing happened after `until`.
    for column in (AuditEvent.at, Notification.created_at, ReportRevision.created_at, Escalation.opened_at):
        latest = db.session.scalar(select(func.max(column)))
        assert latest is None or local(latest).date() <= UNTIL, column
    latest_sub = db.session.scalar(select(func.max(Contribution.submitted_at)))
    assert local(latest_sub).date() <= UNTIL


def test_until_inside_the_year_stops_there_and_is_deterministic_for_a_seed(app):
    plan, result, _ = _run(3, until=date(2026, 7, 31))
    assert result["reports"] > 0 and result["submitted"] > 0
    started = db.session.scalars(select(Period).where(Period.plan_id == plan.id, Period.opened.is_(True))).all()
    assert max(p.start for p in started) <= date(2026, 7, 31)
    latest = db.session.scalar(select(func.max(AuditEvent.at)))
    assert local(latest).date() <= date(2026, 7, 31)
    # Q3 ends after `until`: its reports are at most drafts, and not counted as missing.
    q3 = [r for r in _reports(plan) if r.period.key == "2026Q3"]
    assert q3 and all(r.status == ReportStatus.DRAFT for r in q3)

    # The same seed on a fresh database gives the same JSON; another seed differs.
    db.session.remove()
    _empty_tables()
    _, again, _ = _run(3, until=date(2026, 7, 31))
    assert again == result
    db.session.remove()
    _empty_tables()
    _, other, _ = _run(4, until=date(2026, 7, 31))
    assert {k: other[k] for k in CONTRACT_KEYS} != {k: result[k] for k in CONTRACT_KEYS}


def test_an_unpublished_plan_cannot_be_simulated(app):
    import pytest

    from workflow.domain import Conflict
    plan = import_text_plan(FUSHUN, FUSHUN.name)
    with pytest.raises(Conflict):
        simulate(plan, until=UNTIL)


def test_a_plan_published_late_in_the_year_is_played_from_its_first_period(app):
    """`plan publish 1 --first-period 2026Q1` in November, then `demo simulate`: the year is played from
    2026-01-01, not from the publication, so the first quarter's reports are filed."""
    plan = import_text_plan(FUSHUN, FUSHUN.name)
    publish_plan(plan, actor=None, now=datetime(2026, 11, 20, 2, tzinfo=UTC), first_period="2026Q1")
    result = simulate(plan, until=date(2026, 4, 30), seed=3)
    assert result["start"] == "2026-01-01"
    q1 = db.session.scalars(select(Report).join(Period).where(Period.plan_id == plan.id, Period.key == "2026Q1")).all()
    assert sum(1 for r in q1 if r.first_submitted_at is not None) > len(q1) / 2
    assert all(local(r.first_submitted_at).date() <= date(2026, 4, 30) for r in q1 if r.first_submitted_at)
