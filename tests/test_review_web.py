"""The office's pages through HTTP: the review queue, approve / return / bulk approve, adjustment requests,
publishing a plan with its preview, moving a deadline, and who may do what."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from flask import render_template
from flask_login import login_user
from sqlalchemy import func, select

from models import (
    AdjustmentStatus,
    AssignmentStatus,
    AuditEvent,
    Period,
    Plan,
    PlanStatus,
    Report,
    ReportStatus,
    Role,
)
from tests.conftest import FUSHUN, count_queries, import_text_plan, make_user
from tests.factories import PUBLISH_AT, liaison_of, published_fushun, report_for
from workflow.assignments import services as assignments
from workflow.extensions import db
from workflow.reports.services import ReportInput, save_report
from workflow.review.views import FEEDBACK_KEY

# 2026-04-10 10:00 in Shanghai: 2026Q1 (due 8 April) is overdue for whoever has not reported, Q2 is open.
NOW = datetime(2026, 4, 10, 2, 0, tzinfo=UTC)
SUBMIT_AT = PUBLISH_AT + timedelta(days=2)


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


def submit(plan, code: str, *, at: datetime = SUBMIT_AT, period_key: str = "2026Q1") -> Report:
    """A lead department's liaison fills in and submits its report through the service."""
    report = report_for(plan, code, period_key)
    liaison = liaison_of(report.department.name)
    data = ReportInput(narrative=f"{code} 进展顺利", percent_complete=50, progress="on_track",
                       values={t.id: "1" for t in report.task.targets})
    save_report(report, data, actor=liaison, now=at, version=report.version, submit=True)
    return report


def tbody(html: str) -> str:
    match = re.search(r"<tbody>(.*?)</tbody>", html, re.S)
    return match.group(1) if match else ""


def codes_in(html: str) -> list[str]:
    return re.findall(r'<a class="badge [^"]*task-link"[^>]*>([\d.]+)</a>', tbody(html))


def tab_count(html: str, label: str) -> int:
    match = re.search(re.escape(label) + r'\s*<span class="badge[^"]*">(\d+)</span>', html)
    assert match, label
    return int(match.group(1))


# -- the queue -------------------------------------------------------------------------------------------

def test_queue_lists_submitted_reports_oldest_first_with_counts(client, login_as):
    plan, _office = published_fushun()
    late = submit(plan, "3.4.3", at=SUBMIT_AT + timedelta(hours=5))
    early = submit(plan, "3.1.1", at=SUBMIT_AT)
    middle = submit(plan, "3.5.1", at=SUBMIT_AT + timedelta(hours=1))
    login_as(Role.OFFICE)
    response = client.get("/review/")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert codes_in(html) == [early.task.code, middle.task.code, late.task.code]
    assert tab_count(html, "待审核") == 3
    drafts = db.session.scalar(select(func.count(Report.id)).where(Report.status == ReportStatus.DRAFT))
    assert tab_count(html, "草稿") == drafts > 0
    assert tab_count(html, "已通过") == 0
    overdue = db.session.scalar(select(func.count(Report.id)).join(Period).where(
        Period.key == "2026Q1", Report.status == ReportStatus.DRAFT))
    assert tab_count(html, "逾期") == overdue > 0
    assert 'type="checkbox" name="report_ids"' in html and "批量通过" in html
    assert "推动城乡建设碳达峰" in html  # the area filter offers the level-2 outline nodes


def test_queue_filters_by_area_department_period_status_and_overdue(client, login_as):
    plan, _office = published_fushun()
    housing_report = submit(plan, "3.4.3")
    other = submit(plan, "3.1.1")
    login_as(Role.OFFICE)
    assert codes_in(client.get("/review/?area=3.4").get_data(as_text=True)) == ["3.4.3"]
    dept = housing_report.department_id
    html = client.get(f"/review/?department={dept}").get_data(as_text=True)
    assert "3.4.3" in codes_in(html) and other.task.code not in codes_in(html)
    assert codes_in(client.get("/review/?period=2026Q2").get_data(as_text=True)) == []
    drafts = client.get("/review/?status=draft&period=2026Q1&area=3.4").get_data(as_text=True)
    assert drafts.count('type="checkbox" name="report_ids"') == 0  # only submitted reports can be ticked
    assert "3.4.3" not in codes_in(drafts) and codes_in(drafts)
    overdue = client.get("/review/?status=all&overdue=y&period=2026Q1").get_data(as_text=True)
    assert "逾期 2 个工作日" in overdue  # due Wed 8 April, today is Fri 10 April: Thu and Fri
    assert codes_in(overdue) and "3.4.3" not in codes_in(overdue)
    # nonsense in the query string is ignored, never a 500
    response = client.get("/review/?department=abc&status=bogus&page=-4&area=zz&period=1999")
    assert response.status_code == 200
    assert sorted(codes_in(response.get_data(as_text=True))) == sorted(["3.4.3", other.task.code])


def test_queue_paginates_and_uses_a_bounded_number_of_queries(app, client, login_as):
    plan, _office = published_fushun()
    reports = db.session.scalars(select(Report).join(Period).where(Period.key == "2026Q1")
                                 .order_by(Report.id)).all()
    for i, report in enumerate(reports[:12]):
        submit(plan, report.task.code, at=SUBMIT_AT + timedelta(minutes=i))
    total = db.session.scalar(select(func.count(Report.id)))
    assert total > 50
    login_as(Role.OFFICE)
    for url in ("/review/", "/review/?status=all", "/review/?status=all&page=2", "/review/?status=draft"):
        n = count_queries(lambda url=url: client.get(url))
        assert n <= 20, (url, n)
    first = client.get("/review/?status=all").get_data(as_text=True)
    assert len(codes_in(first)) == 50 and "下一页" in first
    second = client.get("/review/?status=all&page=2").get_data(as_text=True)
    assert len(codes_in(second)) == min(total - 50, 50)


def test_queue_totals_are_the_rows_it_lists_under_every_filter(client):
    """The page's total is the counts per state added up when no overdue / due filter narrows the page (one
    count fewer), counted on its own otherwise; either way it is the number of rows the pages list."""
    from workflow.review.services import QueueFilters, review_queue

    plan, _office = published_fushun()
    for i, code in enumerate(("3.4.3", "3.1.1", "3.5.1")):
        submit(plan, code, at=SUBMIT_AT + timedelta(minutes=i))
    housing = report_for(plan, "3.4.3", "2026Q1").department_id
    cases = [{}, {"status": None}, {"status": "draft"}, {"status": "approved"}, {"department_id": housing},
             {"status": None, "period_key": "2026Q1"}, {"status": None, "area": "3.4"}, {"plan_id": plan.id},
             {"status": None, "year": 2026}, {"status": None, "overdue": True}, {"status": "draft", "overdue": True},
             {"status": None, "due": "due_soon"}, {"status": None, "due": "not_due", "plan_id": plan.id}]
    for case in cases:
        listed, page_number, total = 0, 1, None
        while True:
            page, counts = review_queue(QueueFilters(**case, page=page_number, per_page=20), now=NOW)
            total = page.total if total is None else total
            assert page.total == total, case
            listed += len(page.items)
            if page_number >= page.pages:
                break
            page_number += 1
        assert listed == total, case
        if not case.get("overdue") and not case.get("due"):
            status = case.get("status", ReportStatus.SUBMITTED)
            assert total == (counts[status] if status else sum(n for k, n in counts.items() if k != "overdue"))
    assert review_queue(QueueFilters(), now=NOW)[0].total == 3
    assert review_queue(QueueFilters(status=None, overdue=True), now=NOW)[0].total > 0


def test_queue_opens_due_periods_before_listing(client, login_as):
    plan, _office = published_fushun()
    with time_machine.travel(datetime(2026, 7, 2, 2, tzinfo=UTC), tick=False):
        login_as(Role.OFFICE)
        client.get("/review/")
    q3 = db.session.scalar(select(Period).where(Period.plan_id == plan.id, Period.key == "2026Q3"))
    assert q3.opened


# -- approve / return ------------------------------------------------------------------------------------

def test_approve_with_comment_goes_to_the_next_report(client, login_as):
    plan, _office = published_fushun()
    first = submit(plan, "3.1.1", at=SUBMIT_AT)
    second = submit(plan, "3.4.3", at=SUBMIT_AT + timedelta(hours=1))
    office = login_as(Role.OFFICE)
    response = client.post(f"/review/reports/{first.id}/approve", data={"version": first.version, "comment": "内容翔实"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/reports/{second.id}")
    db.session.expire_all()
    assert first.status == ReportStatus.APPROVED
    event_ = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "report.approve"))
    assert event_.comment == "内容翔实" and event_.actor_id == office.id
    # the last one sends the office back to the queue
    response = client.post(f"/review/reports/{second.id}/approve", data={"version": second.version})
    assert response.headers["Location"].endswith("/review/")
    with client.session_transaction() as sess:
        assert any("已审核通过" in m for _c, m in sess.get("_flashes", []))


def test_return_without_reason_is_refused_and_nothing_changes(app, client, login_as):
    plan, _office = published_fushun()
    report = submit(plan, "3.4.3")
    version = report.version
    login_as(Role.OFFICE)
    response = client.post(f"/review/reports/{report.id}/return", data={"version": version, "reason": "   "})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/reports/{report.id}")
    db.session.expire_all()
    assert report.status == ReportStatus.SUBMITTED and report.version == version and report.return_count == 0
    with client.session_transaction() as sess:
        feedback = sess[FEEDBACK_KEY]
    assert feedback["report_id"] == report.id and "理由" in feedback["errors"]["reason"]
    if "reports.show" in app.view_functions:  # the report page shows the error in the review panel, once
        html = client.get(f"/reports/{report.id}").get_data(as_text=True)
        assert "退回时必须说明理由" in html
        assert "退回时必须说明理由" not in client.get(f"/reports/{report.id}").get_data(as_text=True)


def test_review_panel_keeps_what_was_typed_and_shows_the_error(app, client, login_as):
    plan, office = published_fushun()
    report = submit(plan, "3.4.3")
    liaison = liaison_of(report.department.name)
    with app.test_request_context():
        login_user(liaison)
        assert render_template("review/_actions.html", report=report).strip() == ""  # not a reviewer
    with app.test_request_context():
        login_user(office)
        from flask import session

        session[FEEDBACK_KEY] = {"report_id": report.id, "action": "return", "reason": "请补充口径说明……",
                                 "errors": {"reason": "退回理由不能超过 2000 字。"}}
        html = render_template("review/_actions.html", report=report)
        assert "请补充口径说明……</textarea>" in html and "退回理由不能超过 2000 字" in html
        assert f'name="version" value="{report.version}"' in html
        assert f'action="/review/reports/{report.id}/return"' in html and 'name="csrf_token"' in html
        assert FEEDBACK_KEY not in session  # shown once
    report.status = ReportStatus.APPROVED
    with app.test_request_context():
        login_user(office)
        assert render_template("review/_actions.html", report=report).strip() == ""


def test_too_long_reason_is_answered_with_the_text_kept(client, login_as):
    plan, _office = published_fushun()
    report = submit(plan, "3.4.3")
    login_as(Role.OFFICE)
    text = "请补充说明。" + "理" * 2000
    response = client.post(f"/review/reports/{report.id}/return", data={"version": report.version, "reason": text})
    html = response.get_data(as_text=True)
    assert response.status_code == 422  # too long for the session cookie: answered here instead of redirecting
    assert text in html and "不能超过 2000 字" in html
    with client.session_transaction() as sess:
        assert FEEDBACK_KEY not in sess
    db.session.expire_all()
    assert report.status == ReportStatus.SUBMITTED


def test_return_with_reason(client, login_as):
    plan, _office = published_fushun()
    report = submit(plan, "3.4.3")
    login_as(Role.OFFICE)
    response = client.post(f"/review/reports/{report.id}/return",
                           data={"version": report.version, "reason": "请补充清洁取暖率的统计口径"})
    assert response.status_code == 302
    db.session.expire_all()
    assert report.status == ReportStatus.RETURNED and report.return_count == 1
    assert report.last_return_reason == "请补充清洁取暖率的统计口径"
    html = client.get("/review/?status=returned").get_data(as_text=True)
    assert codes_in(html) == ["3.4.3"]


def test_stale_version_is_a_409_with_the_text_kept(client, login_as):
    plan, _office = published_fushun()
    report = submit(plan, "3.4.3")
    login_as(Role.OFFICE)
    response = client.post(f"/review/reports/{report.id}/return",
                           data={"version": report.version - 1, "reason": "数据口径不一致"})
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "已被他人修改" in html and "数据口径不一致" in html and f"/reports/{report.id}" in html
    db.session.expire_all()
    assert report.status == ReportStatus.SUBMITTED
    # approving what is no longer awaiting review is a conflict too, not a 500
    client.post(f"/review/reports/{report.id}/approve", data={"version": report.version})
    response = client.post(f"/review/reports/{report.id}/approve", data={"version": ""})
    assert response.status_code == 409
    assert client.post("/review/reports/999999/approve", data={}).status_code == 404


def test_bulk_approve_reports_what_could_not_be_approved(client, login_as):
    plan, _office = published_fushun()
    a, b = submit(plan, "3.1.1"), submit(plan, "3.4.3")
    draft = report_for(plan, "3.5.1")
    assert draft.status == ReportStatus.DRAFT
    login_as(Role.OFFICE)
    response = client.post("/review/bulk-approve", data={
        "report_ids": [str(a.id), str(b.id), str(draft.id), "999999"], "comment": "同意",
        "next": "/review/?area=3.4"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/review/?area=3.4")
    html = client.get("/review/").get_data(as_text=True)
    assert "已通过 2 份报告" in html
    assert "未能通过" in html and "3.5.1" in html and "草稿" in html and "#999999 不存在" in html
    db.session.expire_all()
    assert (a.status, b.status, draft.status) == (ReportStatus.APPROVED, ReportStatus.APPROVED, ReportStatus.DRAFT)
    comments = db.session.scalars(select(AuditEvent.comment).where(AuditEvent.action == "report.approve")).all()
    assert comments == ["同意", "同意"]
    # nothing ticked; an off-site next is ignored
    response = client.post("/review/bulk-approve", data={"next": "https://evil.example/"})
    assert response.headers["Location"].endswith("/review/")


def test_csrf_is_required_on_review_forms(app, client, login_as):
    plan, _office = published_fushun()
    report = submit(plan, "3.4.3")
    login_as(Role.OFFICE)
    app.config["WTF_CSRF_ENABLED"] = True
    assert client.post(f"/review/reports/{report.id}/approve", data={"version": report.version}).status_code == 400
    assert client.post("/review/bulk-approve", data={"report_ids": [report.id]}).status_code == 400
    html = client.get("/review/").get_data(as_text=True)
    assert 'name="csrf_token"' in html
    db.session.expire_all()
    assert report.status == ReportStatus.SUBMITTED


# -- adjustment requests ---------------------------------------------------------------------------------

def _request_adjustment(plan, code: str, proposed: str, reason: str = "供暖不属于本局职责"):
    task = next(t for t in plan.tasks if t.code == code)
    lead = next(a for a in task.assignments if a.role == "lead")
    return assignments.request_adjustment(lead, reason=reason, proposed_department=proposed,
                                          actor=liaison_of(lead.department.name), now=SUBMIT_AT)


def test_adjustment_requests_are_accepted_or_rejected_with_a_reason(client, login_as):
    plan, _office = published_fushun()
    rejected = _request_adjustment(plan, "3.4.3", "市交通运输局")
    accepted = _request_adjustment(plan, "3.1.1", "市交通运输局", reason="应由交通部门牵头")
    login_as(Role.OFFICE)
    html = client.get("/assignments/adjustments").get_data(as_text=True)
    assert "3.4.3" in html and "供暖不属于本局职责" in html and "市交通运输局" in html
    assert html.count('class="card mb-3 adjustment"') == 2

    response = client.post(f"/assignments/adjustments/{rejected.id}/decide", data={"decision": "reject", "reason": ""})
    assert response.status_code == 422
    assert "驳回申请时必须说明理由" in response.get_data(as_text=True)
    db.session.expire_all()
    assert rejected.status == AdjustmentStatus.PENDING

    response = client.post(f"/assignments/adjustments/{rejected.id}/decide",
                           data={"decision": "reject", "reason": "清洁取暖由住建局牵头"})
    assert response.status_code == 302
    response = client.post(f"/assignments/adjustments/{accepted.id}/decide", data={"decision": "accept"})
    assert response.status_code == 302
    db.session.expire_all()
    assert rejected.status == AdjustmentStatus.REJECTED and rejected.assignment.status == AssignmentStatus.PENDING
    assert accepted.status == AdjustmentStatus.ACCEPTED
    assert accepted.assignment.status == AssignmentStatus.TRANSFERRED

    html = client.get("/assignments/adjustments").get_data(as_text=True)
    assert "没有待处理的调整申请" in html
    assert "已驳回" in html and "清洁取暖由住建局牵头" in html and "已同意" in html
    # deciding twice is a conflict, answered on the page
    response = client.post(f"/assignments/adjustments/{accepted.id}/decide", data={"decision": "reject", "reason": "x"})
    assert response.status_code == 409 and "该申请已处理" in response.get_data(as_text=True)
    assert client.post(f"/assignments/adjustments/{accepted.id}/decide", data={"decision": "maybe"}).status_code == 422


# -- publishing and deadlines ----------------------------------------------------------------------------

def test_publish_through_the_web_with_a_preview(client, login_as):
    plan = import_text_plan(FUSHUN, FUSHUN.name)
    login_as(Role.OFFICE)
    response = client.get(f"/review/plans/{plan.id}/publish")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'value="2026Q2"' in html  # the current period by default
    assert "2026年第二季度" in html and "2030年第四季度" in html
    assert "2026-07-07" in html  # Q2 ends Tue 30 June: the fifth working day after it
    assert "2027–2031 年尚无官方放假安排，期限按周末计算" in html
    assert db.session.get(Plan, plan.id).status == PlanStatus.IMPORTED  # a preview changes nothing

    response = client.post(f"/review/plans/{plan.id}/publish", data={
        "cadence": "yearly", "first_period": "2026Q2", "deadline_workdays": "5", "preview": "1"})
    assert response.status_code == 422 and "年度应写作四位年份" in response.get_data(as_text=True)
    response = client.post(f"/review/plans/{plan.id}/publish", data={
        "cadence": "quarterly", "first_period": "2026Q1", "deadline_workdays": "99", "preview": "1"})
    assert response.status_code == 422 and "0–60" in response.get_data(as_text=True)

    response = client.post(f"/review/plans/{plan.id}/publish", data={
        "cadence": "weekly", "first_period": "2026Q1", "deadline_workdays": "5", "confirm": "1"})
    assert response.status_code == 422 and "请选择报送周期" in response.get_data(as_text=True)

    data = {"cadence": "half-yearly", "first_period": "2026H1", "deadline_workdays": "10"}
    html = client.post(f"/review/plans/{plan.id}/publish", data={**data, "preview": "1"}).get_data(as_text=True)
    assert "2026年上半年" in html and "2030年下半年" in html and "第二季度" not in html
    # confirming other values than the ones previewed shows the new preview instead of publishing
    response = client.post(f"/review/plans/{plan.id}/publish",
                           data={**data, "previewed": "quarterly|2026Q1|5", "confirm": "1"})
    assert response.status_code == 200 and "请核对下方新的预览" in response.get_data(as_text=True)
    assert db.session.get(Plan, plan.id).status == PlanStatus.IMPORTED

    response = client.post(f"/review/plans/{plan.id}/publish",
                           data={**data, "previewed": "half-yearly|2026H1|10", "confirm": "1"})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/review/plans/{plan.id}/periods")
    db.session.expire_all()
    plan = db.session.get(Plan, plan.id)
    assert plan.status == PlanStatus.PUBLISHED and plan.cadence == "half-yearly" and plan.deadline_workdays == 10
    keys = db.session.scalars(select(Period.key).where(Period.plan_id == plan.id).order_by(Period.start)).all()
    assert keys[0] == "2026H1" and keys[-1] == "2030H2" and len(keys) == 10

    response = client.post(f"/review/plans/{plan.id}/publish",
                           data={**data, "previewed": "half-yearly|2026H1|10", "confirm": "1"})
    assert response.status_code == 409 and "不能重复发布" in response.get_data(as_text=True)
    assert client.get("/review/plans/999/publish").status_code == 404


def test_periods_page_and_moving_a_deadline_needs_a_reason(client, login_as):
    plan, _office = published_fushun()
    q2 = db.session.scalar(select(Period).where(Period.plan_id == plan.id, Period.key == "2026Q2"))
    login_as(Role.OFFICE)
    html = client.get(f"/review/plans/{plan.id}/periods").get_data(as_text=True)
    assert "2026年第二季度" in html and "2026-07-07" in html
    assert "2027–2031 年尚无官方放假安排" in html

    url = f"/review/plans/{plan.id}/periods/{q2.id}/deadline"
    response = client.post(url, data={"deadline": "2026-07-20", "reason": ""})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "调整期限必须说明理由" in html and 'value="2026-07-20"' in html
    response = client.post(url, data={"deadline": "20/07/2026", "reason": "汛期"})
    assert response.status_code == 422 and "日期格式不对" in response.get_data(as_text=True)
    response = client.post(url, data={"deadline": "2026-06-01", "reason": "汛期"})
    assert response.status_code == 422 and "新期限应晚于周期结束日" in response.get_data(as_text=True)
    db.session.expire_all()
    assert str(q2.deadline) == "2026-07-07" and q2.deadline_reason == ""

    response = client.post(url, data={"deadline": "2026-07-20", "reason": "防汛任务集中，延后报送"})
    assert response.status_code == 302
    db.session.expire_all()
    assert str(q2.deadline) == "2026-07-20" and str(q2.computed_deadline) == "2026-07-07"
    html = client.get(f"/review/plans/{plan.id}/periods").get_data(as_text=True)
    assert "防汛任务集中，延后报送" in html and "2026-07-20" in html
    audit = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "period.move_deadline"))
    assert (audit.from_state, audit.to_state) == ("2026-07-07", "2026-07-20")
    other = import_text_plan("另一方案\n一、任务\n(一)推进\n1.开展工作。(市交通运输局负责)\n", "other.txt")
    assert client.post(f"/review/plans/{other.id}/periods/{q2.id}/deadline",
                       data={"deadline": "2026-07-21", "reason": "x"}).status_code == 404


# -- who may do what -------------------------------------------------------------------------------------

def _office_pages(plan_id: int, report_id: int, period_id: int, request_id: int) -> tuple[list, list]:
    gets = ["/review/", "/assignments/adjustments", f"/review/plans/{plan_id}/periods",
            f"/review/plans/{plan_id}/publish"]
    posts = [(f"/review/reports/{report_id}/approve", {"version": "2"}),
             (f"/review/reports/{report_id}/return", {"reason": "x"}),
             ("/review/bulk-approve", {"report_ids": [str(report_id)]}),
             (f"/review/plans/{plan_id}/publish", {"cadence": "quarterly", "first_period": "2026Q2",
                                                   "deadline_workdays": "5", "confirm": "1"}),
             (f"/review/plans/{plan_id}/periods/{period_id}/deadline", {"deadline": "2026-07-20", "reason": "x"}),
             (f"/assignments/adjustments/{request_id}/decide", {"decision": "accept"})]
    return gets, posts


@pytest.mark.parametrize("role", [Role.LIAISON, Role.DEPT_HEAD, Role.ADMIN, Role.LEADER])
def test_only_the_office_reviews(client, login_as, role):
    plan, _office = published_fushun()
    report = submit(plan, "3.4.3")
    period = db.session.scalar(select(Period).where(Period.plan_id == plan.id, Period.key == "2026Q2"))
    request = _request_adjustment(plan, "3.1.1", "市交通运输局")
    department = report.department if role in (Role.LIAISON, Role.DEPT_HEAD) else None
    login_as(role, department=department)
    gets, posts = _office_pages(plan.id, report.id, period.id, request.id)
    for url, data in posts:
        assert client.post(url, data=data).status_code == 403, url
    for url in gets:
        status = client.get(url).status_code
        if role == Role.LEADER and "publish" not in url:
            assert status == 200, url  # leaders read the office's pages
        else:
            assert status == 403, (role, url)
    db.session.expire_all()
    assert report.status == ReportStatus.SUBMITTED and request.status == AdjustmentStatus.PENDING
    assert str(period.deadline) == "2026-07-07"


def test_leader_reads_without_buttons(client, login_as):
    plan, _office = published_fushun()
    submit(plan, "3.4.3")
    _request_adjustment(plan, "3.1.1", "市交通运输局")
    login_as(Role.LEADER)
    queue = client.get("/review/").get_data(as_text=True)
    assert codes_in(queue) == ["3.4.3"] and "只读" in queue
    assert 'name="report_ids"' not in queue and "批量通过" not in queue and 'method="post" action="/review' not in queue
    adjustments = client.get("/assignments/adjustments").get_data(as_text=True)
    assert "供暖不属于本局职责" in adjustments and "同意调整" not in adjustments
    periods = client.get(f"/review/plans/{plan.id}/periods").get_data(as_text=True)
    assert "2026年第二季度" in periods and "/deadline" not in periods


def test_anonymous_users_are_sent_to_log_in(client, app):
    make_user(Role.OFFICE)
    for url in ("/review/", "/assignments/adjustments"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.post("/review/bulk-approve").status_code == 302
