"""撤回: the department takes a submitted report back as a draft before the office decides; through the service,
the report page and the API. Who may (the liaison, the head) and who may not is also in
tests/test_permissions_matrix.py."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from models import AuditEvent, ReportStatus, Role
from tests.conftest import make_user
from tests.factories import PUBLISH_AT, liaison_of, published_fushun, report_for
from workflow.calendar.lateness import days_late
from workflow.calendar.office import office_calendar
from workflow.domain import Conflict, PermissionDenied
from workflow.extensions import db
from workflow.reports.services import ReportInput, save_report, withdraw_report
from workflow.review.services import approve_report, return_report

HOUSING = "市住房城乡建设局"
LATER = PUBLISH_AT + timedelta(days=3)   # 2026-04-04, before the 2026Q1 deadline (2026-04-08)
AFTER_DEADLINE = datetime(2026, 4, 14, 2, tzinfo=UTC)


@pytest.fixture
def clock():
    with time_machine.travel(LATER, tick=False) as traveller:
        yield traveller


@pytest.fixture
def world(app, clock):
    plan, office = published_fushun()
    report = report_for(plan, "3.4.3")
    liaison = liaison_of(HOUSING)
    values = {t.id: "1" for t in report.task.targets}
    save_report(report, ReportInput(narrative="甲稿：完成改造", percent_complete="40", progress="on_track",
                                    values=values), actor=liaison, now=LATER, version=report.version, submit=True)
    return plan, office, report, liaison


def actions_of(report) -> list[str]:
    return list(db.session.scalars(select(AuditEvent.action).where(
        AuditEvent.object_type == "report", AuditEvent.object_id == report.id).order_by(AuditEvent.id)))


# -- the service -------------------------------------------------------------------------------------------

def test_liaison_withdraws_edits_and_submits_again(world):
    _plan, _office, report, liaison = world
    version = report.version
    withdraw_report(report, actor=liaison, now=LATER, version=version)
    assert report.status == ReportStatus.DRAFT and report.version == version + 1
    assert report.submitted_at is None and report.first_submitted_at is None
    assert report.narrative == "甲稿：完成改造" and report.can_edit(liaison)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "report.withdraw"))
    assert (event.from_state, event.to_state, event.actor_id) == ("submitted", "draft", liaison.id)
    save_report(report, ReportInput(narrative="乙稿", percent_complete="50", progress="on_track",
                                    values={t.id: "2" for t in report.task.targets}),
                actor=liaison, now=LATER, version=report.version, submit=True)
    assert report.status == ReportStatus.SUBMITTED
    assert actions_of(report) == ["report.submit", "report.withdraw", "report.submit"]


def test_the_head_may_withdraw_too(world):
    _plan, _office, report, _liaison = world
    head = make_user(Role.DEPT_HEAD, report.department)
    withdraw_report(report, actor=head, now=LATER)
    assert report.status == ReportStatus.DRAFT


@pytest.mark.parametrize("decision", ["approve", "return"])
def test_after_the_office_decided_it_is_a_conflict_and_nothing_changes(world, decision):
    _plan, office, report, liaison = world
    if decision == "approve":
        approve_report(report, actor=office, now=LATER)
    else:
        return_report(report, actor=office, now=LATER, reason="请补充数据")
    state, version = report.status, report.version
    with pytest.raises(Conflict) as refused:
        withdraw_report(report, actor=liaison, now=LATER)
    assert "不能再撤回" in refused.value.message
    db.session.refresh(report)
    assert (report.status, report.version) == (state, version)
    assert "report.withdraw" not in actions_of(report)


def test_a_draft_cannot_be_withdrawn_nor_a_stale_page(world):
    _plan, _office, report, liaison = world
    stale = report.version - 1
    with pytest.raises(Conflict):
        withdraw_report(report, actor=liaison, now=LATER, version=stale)
    withdraw_report(report, actor=liaison, now=LATER)
    with pytest.raises(Conflict) as refused:
        withdraw_report(report, actor=liaison, now=LATER)
    assert "尚未提交" in refused.value.message


@pytest.mark.parametrize("who", ["office", "leader", "other liaison"])
def test_others_may_not_withdraw(world, who):
    _plan, office, report, _liaison = world
    actor = {"office": office, "leader": make_user(Role.LEADER),
             "other liaison": liaison_of("市交通运输局")}[who]
    with pytest.raises(PermissionDenied):
        withdraw_report(report, actor=actor, now=LATER)
    assert report.status == ReportStatus.SUBMITTED


def test_withdrawn_before_a_return_is_late_again_after_a_return_keeps_its_first_hand_in(world):
    plan, office, report, liaison = world
    calendar, today = office_calendar(), AFTER_DEADLINE.date()

    def resubmit(r, who, narrative):
        save_report(r, ReportInput(narrative=narrative, percent_complete="40", progress="on_track",
                                   values={t.id: "1" for t in r.task.targets}),
                    actor=who, now=AFTER_DEADLINE, version=r.version, submit=True)

    assert not days_late(report, today, calendar)          # handed in before the deadline
    withdraw_report(report, actor=liaison, now=AFTER_DEADLINE)
    assert days_late(report, today, calendar)              # taken back: not handed in, late by now
    resubmit(report, liaison, "迟交")
    assert days_late(report, today, calendar)              # and late when handed in again

    other = report_for(plan, "3.1.1")
    other_liaison = liaison_of(other.department.name)
    save_report(other, ReportInput(narrative="进展", percent_complete="40", progress="on_track",
                                   values={t.id: "1" for t in other.task.targets}),
                actor=other_liaison, now=LATER, version=other.version, submit=True)
    return_report(other, actor=office, now=LATER, reason="请补充")
    resubmit(other, other_liaison, "补充后")
    withdraw_report(other, actor=other_liaison, now=AFTER_DEADLINE)
    resubmit(other, other_liaison, "再补充")
    assert not days_late(other, today, calendar)           # its first hand-in was on time


# -- the report page ---------------------------------------------------------------------------------------

def _login(client, user) -> None:
    from tests.conftest import PASSWORD
    client.post("/logout")
    assert client.post("/login", data={"username": user.username, "password": PASSWORD}).status_code == 302


def test_report_page_asks_to_confirm_and_withdraws(client, world):
    _plan, _office, report, liaison = world
    _login(client, liaison)
    page = client.get(f"/reports/{report.id}").get_data(as_text=True)
    assert f'action="/reports/{report.id}/withdraw"' in page and "确认撤回" in page
    assert "<details" in page.split('id="withdraw"')[0][-80:]   # the confirmation is folded until asked for
    response = client.post(f"/reports/{report.id}/withdraw", data={"version": str(report.version)})
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "报告已撤回为草稿" in page and "确认撤回" not in page
    db.session.refresh(report)
    assert report.status == ReportStatus.DRAFT


def test_report_page_after_approval_says_why_with_409(client, world):
    _plan, office, report, liaison = world
    _login(client, liaison)
    version = report.version
    approve_report(report, actor=office, now=LATER)
    response = client.post(f"/reports/{report.id}/withdraw", data={"version": str(version)})
    assert response.status_code == 409
    assert "不能" in response.get_data(as_text=True)
    db.session.refresh(report)
    assert report.status == ReportStatus.APPROVED
    page = client.get(f"/reports/{report.id}").get_data(as_text=True)
    assert "确认撤回" not in page


def test_office_sees_no_withdraw_button(client, world):
    _plan, office, report, _liaison = world
    _login(client, office)
    assert "确认撤回" not in client.get(f"/reports/{report.id}").get_data(as_text=True)
    assert client.post(f"/reports/{report.id}/withdraw", data={}).status_code == 403


# -- the API -----------------------------------------------------------------------------------------------

def test_api_withdraw_and_409_after_the_decision(client, world):
    from workflow.auth.tokens import create_token

    _plan, office, report, liaison = world
    token = create_token(liaison, name="t", now=LATER, actor=liaison)[1]
    headers = {"Authorization": f"Bearer {token}"}
    response = client.post(f"/api/v1/reports/{report.id}/withdraw", json={"version": report.version},
                           headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["status"] == "draft"
    client.post(f"/api/v1/reports/{report.id}/submit", headers=headers)
    approve_report(db.session.get(type(report), report.id), actor=office, now=LATER)
    response = client.post(f"/api/v1/reports/{report.id}/withdraw", headers=headers)
    assert response.status_code == 409 and response.mimetype == "application/problem+json"
    assert response.get_json()["status"] == 409
