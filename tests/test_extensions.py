"""延期申请: the lead asks before the deadline, the office approves (the report's deadline moves, and lateness,
reminders, escalation, the overview and the evaluation count from it) or refuses with a reason; every refusal
answers clearly with nothing written; the whole round through the API with a frozen reminder pass between."""
from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import time_machine
from sqlalchemy import func, select

from models import AuditEvent, ExtensionRequest, ExtensionStatus, Notification, Role
from tests.conftest import make_user
from tests.factories import file_report, liaison_of, published_fushun, report_for
from tests.test_api_scenario import Caller
from tests.test_reminders import at_nine
from workflow.calendar.lateness import days_late
from workflow.calendar.office import office_calendar
from workflow.domain import Conflict, PermissionDenied, ValidationFailed
from workflow.extension_requests import services
from workflow.extensions import db
from workflow.scheduling.reminders import run_reminders

HOUSING = "市住房城乡建设局"     # leads 3.4.3; 2026Q1 is due on 8 April
ASKED = datetime(2026, 4, 3, 2, tzinfo=UTC)
DEADLINE = date(2026, 4, 8)
NEW = date(2026, 4, 20)
REASON = "需等待省级统计数据发布"


@pytest.fixture
def world(app):
    plan, office = published_fushun()
    return {"plan": plan, "office": office, "report": report_for(plan, "3.4.3"), "liaison": liaison_of(HOUSING),
            "head": make_user(Role.DEPT_HEAD, HOUSING, username="housing-head")}


def ask(world, *, actor=None, new=NEW, reason=REASON, now=ASKED) -> ExtensionRequest:
    return services.request_extension(world["report"], reason=reason, new_deadline=new, progress="已完成初稿",
                                      actor=actor or world["liaison"], now=now)


def count(model, *criteria) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*criteria))


def test_a_request_tells_the_office_and_approval_moves_that_reports_deadline(world):
    report = world["report"]
    request = ask(world, actor=world["head"])
    assert (request.status, request.current_deadline, request.new_deadline) == ("pending", DEADLINE, NEW)
    assert {n.user for n in db.session.scalars(select(Notification).where(Notification.kind == "extension"))} \
        == {world["office"]}
    version = report.version
    services.approve_extension(request, actor=world["office"], now=ASKED, comment="同意", version=1)
    db.session.expire_all()
    assert request.status == ExtensionStatus.APPROVED and report.deadline == NEW
    assert report.period.deadline == DEADLINE                          # the period and the others keep theirs
    assert report.version == version                                    # a draft open in a form still saves
    other = report_for(world["plan"], "3.1.1")
    assert other.deadline == DEADLINE
    assert days_late(report, date(2026, 4, 17), office_calendar()).working == 0
    assert days_late(report, date(2026, 4, 22), office_calendar()).working == 2
    trail = db.session.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "report",
                                                              AuditEvent.object_id == report.id)).all()
    assert "report.extension_requested" in trail and "report.deadline_extended" in trail
    told = db.session.scalars(select(Notification.user_id).where(Notification.kind == "extension.decided")).all()
    assert set(told) == {world["liaison"].id, world["head"].id}


def test_a_refusal_needs_a_reason_and_keeps_the_deadline(world):
    request = ask(world)
    with pytest.raises(ValidationFailed) as missing:
        services.refuse_extension(request, "  ", actor=world["office"], now=ASKED)
    assert "reason" in missing.value.errors
    db.session.expire_all()
    assert request.status == ExtensionStatus.PENDING and count(AuditEvent, AuditEvent.action.like("extension%")) == 1
    services.refuse_extension(request, "理由不充分", actor=world["office"], now=ASKED)
    assert request.status == ExtensionStatus.REFUSED and world["report"].deadline == DEADLINE
    with pytest.raises(Conflict):                                       # decided already
        services.approve_extension(request, actor=world["office"], now=ASKED)
    ask(world)                                                          # a new request may follow a refusal


def test_bad_requests_are_refused_with_nothing_written(world):
    before = count(AuditEvent)
    for new, field in ((DEADLINE, "new_deadline"), (date(2026, 4, 1), "new_deadline"),
                       (date(2027, 4, 9), "new_deadline"), (None, "new_deadline")):
        with pytest.raises(ValidationFailed) as bad:
            ask(world, new=new)
        assert field in bad.value.errors
    with pytest.raises(ValidationFailed) as bad:
        ask(world, reason=" ")
    assert "reason" in bad.value.errors
    with pytest.raises(PermissionDenied):
        ask(world, actor=liaison_of("市发展改革委"))
    with pytest.raises(Conflict) as late:
        ask(world, now=datetime(2026, 4, 9, 2, tzinfo=UTC))
    assert "2026-04-08" in late.value.message
    assert count(AuditEvent) == before and count(ExtensionRequest) == 0
    ask(world, new=date(2027, 4, 8))                                    # a year to the day is allowed
    with pytest.raises(Conflict):
        ask(world)                                                       # one open request per report
    assert count(ExtensionRequest) == 1


def test_only_the_office_decides_and_a_stale_version_is_a_conflict(world):
    request = ask(world)
    for actor in (world["liaison"], world["head"], make_user(Role.LEADER, username="mayor")):
        with pytest.raises(PermissionDenied):
            services.approve_extension(request, actor=actor, now=ASKED)
    with pytest.raises(Conflict):
        services.approve_extension(request, actor=world["office"], now=ASKED, version=7)
    db.session.expire_all()
    assert request.status == ExtensionStatus.PENDING and world["report"].deadline == DEADLINE


def test_extension_through_the_api_no_reminder_until_the_new_date(app, client):
    with time_machine.travel(ASKED, tick=False):
        plan, office_user = published_fushun()
        report = report_for(plan, "3.4.3")
        office, housing = Caller(client, office_user), Caller(client, liaison_of(HOUSING))
        ndrc = Caller(client, liaison_of("市发展改革委"))
        body = {"reason": REASON, "new_deadline": NEW.isoformat(), "progress": "已完成初稿"}
        ndrc("POST", f"/reports/{report.id}/extension", body, expect=403)
        bad = housing("POST", f"/reports/{report.id}/extension", {**body, "new_deadline": "2026-04-07"}, expect=422)
        assert "new_deadline" in bad["errors"]
        created = housing("POST", f"/reports/{report.id}/extension", body, expect=201)
        assert created["status"] == "pending" and created["deadline"] == "2026-04-08"
        housing("POST", f"/reports/{report.id}/extension", body, expect=409)
        housing("POST", f"/extensions/{created['id']}/approve", {}, expect=403)
        office("POST", f"/extensions/{created['id']}/refuse", {}, expect=422)
        approved = office("POST", f"/extensions/{created['id']}/approve", {"comment": "同意"})
        assert approved["status"] == "approved" and approved["deadline"] == NEW.isoformat()
        office("POST", f"/extensions/{created['id']}/refuse", {"reason": "x"}, expect=409)
        assert office("GET", f"/reports/{report.id}")["deadline"] == NEW.isoformat()
    link = f"/reports/{report.id}"
    queued = []
    for day in (date(2026, 4, 9), date(2026, 4, 10), date(2026, 4, 13), date(2026, 4, 14), date(2026, 4, 15)):
        queued += run_reminders(now=at_nine(day))["queued"]
    assert any(q["kind"] == "overdue" for q in queued)                  # the others are chased ...
    assert not [q for q in queued if q["task"] == "3.4.3" and q["department"] == HOUSING
                and q["kind"] != "due_soon"]                            # ... not the extended report
    assert not db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.link == link, Notification.kind.in_(("overdue", "escalation", "due_today"))))
    with time_machine.travel(datetime(2026, 4, 17, 2, tzinfo=UTC), tick=False):
        db.session.refresh(report)
        file_report(plan, office_user, "3.4.3", HOUSING, datetime(2026, 4, 17, 2, tzinfo=UTC),
                    values={"清洁取暖率": 96, "可再生能源替代率": 7.5, "光伏": 47}, approve=False)
        detail = housing("GET", f"/reports/{report.id}")
        assert detail["status"] == "submitted" and detail["days_late"] == 0
