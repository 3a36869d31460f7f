"""The reporting cycle through its service functions: publish, acknowledge, adjust, report, review."""
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from models import (
    AssignmentStatus,
    AuditEvent,
    Contribution,
    Notification,
    Period,
    Report,
    ReportRevision,
    ReportStatus,
    Role,
)
from tests.conftest import make_user
from tests.factories import PUBLISH_AT, liaison_of, published_fushun, report_for
from workflow.assignments import services as assignments
from workflow.domain import Conflict, PermissionDenied, ValidationFailed
from workflow.extensions import db
from workflow.reports.services import (
    ReportInput,
    contributions_for,
    resubmission_diff,
    save_contribution,
    save_report,
)
from workflow.review.services import QueueFilters, approve_report, bulk_approve, return_report, review_queue

LATER = PUBLISH_AT + timedelta(days=3)


def test_publish_creates_periods_with_working_day_deadlines_and_opens_due_ones(app):
    plan, _ = published_fushun()
    periods = db.session.scalars(select(Period).where(Period.plan_id == plan.id).order_by(Period.start)).all()
    assert periods[0].key == "2026Q1" and periods[-1].key == "2030Q4" and len(periods) == 20
    assert str(periods[0].deadline) == "2026-04-08"  # Qingming 4–6 April pushes 5 working days
    assert [p.opened for p in periods[:2]] == [True, True]  # 2026Q2 starts on 1 April
    assert not periods[2].opened
    lead_reports = db.session.scalar(select(func.count(Report.id)).join(Period).where(Period.key == "2026Q1"))
    assert lead_reports == sum(len(t.leads) for t in plan.tasks)
    assert db.session.scalar(select(func.count(Contribution.id)).join(Period).where(Period.key == "2026Q1")) == sum(
        len(t.co) + len(t.implied) for t in plan.tasks)
    assert all(a.status == AssignmentStatus.PENDING for t in plan.tasks for a in t.assignments)
    with pytest.raises(Conflict):
        assignments.publish_plan(plan, actor=None, now=PUBLISH_AT)


def test_publish_notifies_each_liaison_once(app):
    liaison = make_user(Role.LIAISON, "市住房城乡建设局")
    published_fushun()
    notes = db.session.scalars(select(Notification).where(Notification.user_id == liaison.id)).all()
    assert len(notes) == 1 and "牵头" in notes[0].subject


def test_acknowledge_and_adjustment_accepted_moves_the_task(app):
    plan, office = published_fushun()
    housing = liaison_of("市住房城乡建设局")
    task = next(t for t in plan.tasks if t.code == "3.4.3")
    lead = next(a for a in task.assignments if a.role == "lead")
    other = liaison_of("市交通运输局")
    with pytest.raises(PermissionDenied):
        assignments.acknowledge(lead, actor=other, now=LATER)
    with pytest.raises(ValidationFailed) as err:
        assignments.request_adjustment(lead, reason="", proposed_department="不存在的局", actor=housing, now=LATER)
    assert set(err.value.errors) == {"reason", "proposed_department"}
    request = assignments.request_adjustment(lead, reason="供暖归城管", proposed_department="市交通运输局",
                                             actor=housing, now=LATER)
    assert lead.status == AssignmentStatus.ADJUSTMENT
    with pytest.raises(ValidationFailed):
        assignments.decide_adjustment(request, accept=False, reason="", actor=office, now=LATER)
    assignments.decide_adjustment(request, accept=True, reason="同意", actor=office, now=LATER)
    assert lead.status == AssignmentStatus.TRANSFERRED
    assert [d.name for d in task.leads] == ["市交通运输局"]
    report = report_for(plan, "3.4.3")
    assert report.department.name == "市交通运输局"  # the unsubmitted draft followed the task
    actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert "assignment.request_adjustment" in actions and "assignment.transfer" in actions


def test_full_report_cycle_with_return_diff_and_approval(app):
    plan, office = published_fushun()
    housing = liaison_of("市住房城乡建设局")
    ndrc = liaison_of("市发展改革委")
    report = report_for(plan, "3.4.3")
    target = next(t for t in report.task.targets if "清洁取暖率" in t.metric)
    others = {t.id: "1" for t in report.task.targets if t.id != target.id}

    save_report(report, ReportInput(narrative="推进清洁取暖", values={target.id: "95.5"}), actor=housing,
                now=LATER, version=report.version)
    assert report.status == ReportStatus.DRAFT and report.version == 2

    contribution = next(c for c in contributions_for(report) if c.department.name == "市发展改革委")
    save_contribution(contribution, "配合推进热源建设", actor=ndrc, now=LATER, version=contribution.version,
                      submit=True)

    with pytest.raises(ValidationFailed) as err:
        save_report(report, ReportInput(narrative="推进清洁取暖", values={target.id: "95.5"}), actor=housing,
                    now=LATER, version=report.version, submit=True)
    assert {"percent_complete", "progress"} <= set(err.value.errors)
    assert report.status == ReportStatus.DRAFT

    data = ReportInput(narrative="推进清洁取暖\n完成改造 3 万户", percent_complete="40", progress="on_track",
                       values={target.id: "95.5", **others})
    save_report(report, data, actor=housing, now=LATER, version=report.version, submit=True)
    assert report.status == ReportStatus.SUBMITTED
    with pytest.raises(PermissionDenied):
        save_report(report, data, actor=housing, now=LATER, version=report.version)

    with pytest.raises(ValidationFailed):
        return_report(report, actor=office, now=LATER, reason=" ")
    return_report(report, actor=office, now=LATER, reason="请补充清洁取暖率的统计口径")
    assert report.status == ReportStatus.RETURNED and report.last_return_reason.startswith("请补充")

    data.narrative = "推进清洁取暖\n完成改造 3.2 万户，口径为城市建成区"
    data.values[target.id] = "96"
    save_report(report, data, actor=housing, now=LATER, version=report.version, submit=True)
    diff = resubmission_diff(report)
    assert diff["values"] == {str(target.id): ("95.5", "96")}
    assert any(line.startswith("+ ") and "3.2" in line for line in diff["narrative"])

    approve_report(report, actor=office, now=LATER, comment="好")
    assert report.status == ReportStatus.APPROVED
    trail = db.session.scalars(select(AuditEvent).where(AuditEvent.object_type == "report")
                               .order_by(AuditEvent.id)).all()
    assert [(e.from_state, e.to_state) for e in trail] == [
        ("draft", "submitted"), ("submitted", "returned"), ("returned", "submitted"), ("submitted", "approved")]
    assert trail[1].comment == "请补充清洁取暖率的统计口径"
    assert db.session.scalar(select(func.count(ReportRevision.id)).where(ReportRevision.report_id == report.id)) == 3


def test_bad_values_are_field_errors_and_nothing_is_lost(app):
    plan, _ = published_fushun()
    housing = liaison_of("市住房城乡建设局")
    report = report_for(plan, "3.4.3")
    target = report.task.targets[0]
    save_report(report, ReportInput(narrative="第一稿"), actor=housing, now=LATER, version=1)
    with pytest.raises(ValidationFailed) as err:
        save_report(report, ReportInput(narrative="第二稿", percent_complete="130", values={target.id: "九十"}),
                    actor=housing, now=LATER, version=report.version)
    assert set(err.value.errors) == {"percent_complete", f"value-{target.id}"}
    db.session.expire_all()
    assert report.narrative == "第一稿"


def test_stale_version_is_a_conflict(app):
    plan, _ = published_fushun()
    housing = liaison_of("市住房城乡建设局")
    report = report_for(plan, "3.4.3")
    save_report(report, ReportInput(narrative="A 的稿"), actor=housing, now=LATER, version=1)
    with pytest.raises(Conflict) as err:
        save_report(report, ReportInput(narrative="B 的稿"), actor=housing, now=LATER, version=1)
    assert err.value.extra["current_version"] == 2
    assert report.narrative == "A 的稿"


def test_review_queue_filters_counts_and_bulk_approve(app):
    plan, office = published_fushun()
    submitted = []
    for code in ("3.4.3", "3.1.1", "3.5.1"):
        report = report_for(plan, code)
        liaison = liaison_of(report.department.name)
        values = {t.id: "1" for t in report.task.targets}
        save_report(report, ReportInput(narrative="进展", percent_complete=50, progress="on_track", values=values),
                    actor=liaison, now=LATER + timedelta(hours=len(submitted)), version=report.version, submit=True)
        submitted.append(report)
    page, counts = review_queue(QueueFilters(), now=LATER)
    rows, total = page.items, page.total
    assert [r.id for r in rows] == [r.id for r in submitted]  # oldest first
    assert total == 3 and counts["submitted"] == 3 and counts["draft"] > 0
    rows = review_queue(QueueFilters(area="3.4"), now=LATER)[0].items
    assert [r.task.code for r in rows] == ["3.4.3"]
    late = datetime(2026, 4, 20, 1, tzinfo=UTC)
    page, counts = review_queue(QueueFilters(status=None, overdue=True, period_key="2026Q1"), now=late)
    overdue_total = page.total
    assert overdue_total == counts["overdue"] > 0
    approved, problems = bulk_approve([r.id for r in submitted] + [999999], actor=office, now=LATER)
    assert approved == 3 and len(problems) == 1
