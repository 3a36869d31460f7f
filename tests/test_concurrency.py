"""Concurrent writers on one report, as real requests in parallel threads (PostgreSQL): two reviewers deciding
at the same moment, two saves of one draft, a double-clicked submit. Exactly one wins; the other gets a clear
409; nothing is applied twice or half."""
from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
import time_machine
from sqlalchemy import func, select

from models import AuditEvent, Report, ReportRevision, ReportStatus, Role
from tests.conftest import make_user
from tests.factories import liaison_of, published_fushun
from workflow.auth.tokens import create_token
from workflow.extensions import db
from workflow.reports.services import ReportInput, save_report

NOW = datetime(2026, 7, 3, 2, tzinfo=UTC)  # 2026Q1, Q2 and Q3 open: enough reports for the trials
TRIALS = 100


@pytest.fixture(autouse=True)
def postgres_only(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL (SQLite serialises them behind one file lock)")
    with time_machine.travel(NOW, tick=False):
        yield


def _race(app, requests: list[tuple[str, str, str, dict]]) -> list[int]:
    """Fire the requests (method, path, token, body) at the same instant, each from its own thread and client;
    the statuses in request order."""
    ready = threading.Barrier(len(requests))
    statuses: list[int | None] = [None] * len(requests)
    errors: list[BaseException] = []

    def send(i: int, method: str, path: str, token: str, body: dict) -> None:
        try:
            client = app.test_client()
            ready.wait(timeout=30)
            response = client.open(path, method=method, json=body, headers={"Authorization": f"Bearer {token}"})
            statuses[i] = response.status_code
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(i, *r)) for i, r in enumerate(requests)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    return statuses


def _submitted_reports(n: int) -> list[int]:
    plan, _office = published_fushun(now=NOW)
    reports = db.session.scalars(select(Report).where(Report.status == ReportStatus.DRAFT)
                                 .order_by(Report.id).limit(n)).all()
    for report in reports:
        save_report(report, ReportInput(narrative="进展", percent_complete="30", progress="on_track",
                                        values={t.id: "1" for t in report.task.targets}),
                    actor=liaison_of(report.department.name), now=NOW, version=report.version, submit=True)
    ids = [r.id for r in reports]
    db.session.commit()
    db.session.close()
    return ids


def test_two_reviewers_approve_and_return_one_report_at_once_exactly_one_wins(app):
    ids = _submitted_reports(TRIALS)
    assert len(ids) == TRIALS
    one = create_token(make_user(Role.OFFICE, username="reviewer-a"), now=NOW)[1]
    two = create_token(make_user(Role.OFFICE, username="reviewer-b"), now=NOW)[1]
    db.session.close()
    outcomes = []
    for report_id in ids:
        outcomes.append(_race(app, [("POST", f"/api/v1/reports/{report_id}/approve", one, {}),
                                    ("POST", f"/api/v1/reports/{report_id}/return", two, {"reason": "数据不全"})]))
    for report_id, statuses in zip(ids, outcomes, strict=True):
        assert sorted(statuses) == [200, 409], (report_id, statuses)
        report = db.session.get(Report, report_id)
        expected = ReportStatus.APPROVED if statuses[0] == 200 else ReportStatus.RETURNED
        assert report.status == expected
        decisions = db.session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.object_type == "report", AuditEvent.object_id == report_id,
            AuditEvent.action.in_(("report.approve", "report.return"))))
        assert decisions == 1


def test_two_saves_of_one_draft_and_a_double_clicked_submit(app):
    plan, _office = published_fushun(now=NOW)
    report = db.session.scalars(select(Report).where(Report.status == ReportStatus.DRAFT).order_by(Report.id)).first()
    token = create_token(liaison_of(report.department.name), now=NOW)[1]
    report_id, version = report.id, report.version
    fields = {"percent_complete": 30, "progress": "on_track",
              "values": [{"target_id": t.id, "value": 1} for t in report.task.targets]}
    db.session.commit()
    db.session.close()

    saves = _race(app, [("PATCH", f"/api/v1/reports/{report_id}", token, {"version": version, "narrative": "甲稿"}),
                        ("PATCH", f"/api/v1/reports/{report_id}", token, {"version": version, "narrative": "乙稿"})])
    assert sorted(saves) == [200, 409]
    report = db.session.get(Report, report_id)
    assert report.narrative == ("甲稿" if saves[0] == 200 else "乙稿") and report.version == version + 1
    version = report.version
    revisions_before = db.session.scalar(select(func.count()).select_from(ReportRevision)
                                         .where(ReportRevision.report_id == report_id))
    db.session.close()

    body = {"version": version, **fields}
    submits = _race(app, [("POST", f"/api/v1/reports/{report_id}/submit", token, body),
                          ("POST", f"/api/v1/reports/{report_id}/submit", token, body)])
    assert sorted(submits) == [200, 409]
    report = db.session.get(Report, report_id)
    assert report.status == ReportStatus.SUBMITTED
    submitted = db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.object_type == "report", AuditEvent.object_id == report_id, AuditEvent.action == "report.submit"))
    revisions = db.session.scalar(select(func.count()).select_from(ReportRevision)
                                  .where(ReportRevision.report_id == report_id))
    assert submitted == 1 and revisions == revisions_before + 1
