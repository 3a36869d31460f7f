"""The liaison's side of the reporting cycle through HTTP: 我的任务 (签收, 申请调整), 报送, the report page (drafts,
submission, validation, conflicts, attachments, contributions, returns) and who may see or touch what."""
from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import func, select

from models import (
    Assignment,
    AssignmentStatus,
    Attachment,
    Contribution,
    ContributionStatus,
    Department,
    Report,
    ReportStatus,
    Role,
    Task,
)
from tests.conftest import count_queries, make_user
from tests.factories import PDF, PUBLISH_AT, liaison_of, published_fushun, report_for
from workflow.extensions import db
from workflow.reports.services import ReportInput, save_report
from workflow.review.services import return_report

HOUSING = "市住房城乡建设局"
TRANSPORT = "市交通运输局"
NDRC = "市发展改革委"  # a co-department of 3.4.3
LATER = PUBLISH_AT + timedelta(days=3)  # 2026-04-04, before the 2026Q1 deadline (2026-04-08)
# A task code cell of 我的任务 and 报送: the code, linked to the task page (macros/tasks.html task_link).
CODE_CELL = r'<td class="text-nowrap"><a [^>]*task-link[^>]*>([\d.]+)</a></td>'


@pytest.fixture
def clock():
    with time_machine.travel(LATER, tick=False) as traveller:
        yield traveller


@pytest.fixture
def plan(app, clock):
    plan, _office = published_fushun()
    return plan


def dept(name: str) -> Department:
    return Department.lookup(name)


def lead_assignment(plan, code: str, name: str = HOUSING) -> Assignment:
    task = next(t for t in plan.tasks if t.code == code)
    return next(a for a in task.assignments if a.department_id == dept(name).id)


def report_form(report: Report, **fields) -> dict:
    """A complete, valid report form for the report's task; override any field."""
    data = {"narrative": "推进既有建筑节能改造", "percent_complete": "40", "progress": "on_track",
            "difficulties": "", "next_steps": "继续推进", "version": str(report.version)}
    data.update({f"value-{t.id}": "1" for t in report.task.targets})
    data.update(fields)
    return data


def html_of(response) -> str:
    return response.get_data(as_text=True)


# -- 我的任务 ----------------------------------------------------------------------------------------------

def test_my_tasks_shows_status_and_acknowledge(client, login_as, plan):
    login_as(Role.LIAISON, department=dept(HOUSING))
    html = html_of(client.get("/my/"))
    codes = re.findall(CODE_CELL, html)
    assert "3.4.3" in codes and html.count("待签收") >= len(codes)
    assert f'<option value="{TRANSPORT}">' in html  # the datalist of departments for 申请调整
    assignment = lead_assignment(plan, "3.4.3")

    response = client.post(f"/assignments/{assignment.id}/acknowledge", data={"version": assignment.version})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/my/#a{assignment.id}")
    db.session.refresh(assignment)
    assert assignment.status == AssignmentStatus.ACKNOWLEDGED and assignment.acknowledged_at is not None
    html = html_of(client.get("/my/"))
    row = re.search(rf'<tr id="a{assignment.id}".*?</tr>', html, re.S).group(0)
    assert "已签收" in row and "签收</button>" not in row

    again = client.post(f"/assignments/{assignment.id}/acknowledge")
    assert again.status_code == 409 and "不能签收" in html_of(again)


def test_adjustment_errors_keep_what_was_typed(client, login_as, plan):
    login_as(Role.LIAISON, department=dept(HOUSING))
    assignment = lead_assignment(plan, "3.4.3")
    response = client.post(f"/assignments/{assignment.id}/adjustment",
                           data={"reason": "", "proposed_department": TRANSPORT})
    html = html_of(response)
    assert response.status_code == 422
    assert "请说明申请调整的理由" in html
    assert f'name="proposed_department" list="department-names" value="{TRANSPORT}"' in html
    assert re.search(rf'<details class="adjust d-inline-block" open>\s*<summary[^>]*>申请调整</summary>\s*'
                     rf'<form method="post" action="/assignments/{assignment.id}/adjustment"', html)
    db.session.refresh(assignment)
    assert assignment.status == AssignmentStatus.PENDING

    response = client.post(f"/assignments/{assignment.id}/adjustment",
                           data={"reason": "供暖改造由城管部门负责", "proposed_department": "不存在的局"})
    assert response.status_code == 422
    assert "没有名为“不存在的局”的单位" in html_of(response) and "供暖改造由城管部门负责</textarea>" in html_of(response)

    response = client.post(f"/assignments/{assignment.id}/adjustment",
                           data={"reason": "供暖改造由城管部门负责", "proposed_department": TRANSPORT})
    assert response.status_code == 302
    db.session.refresh(assignment)
    assert assignment.status == AssignmentStatus.ADJUSTMENT
    assert assignment.pending_adjustment.proposed_department.name == TRANSPORT
    row = re.search(rf'<tr id="a{assignment.id}".*?</tr>', html_of(client.get("/my/")), re.S).group(0)
    assert "申请调整中" in row and TRANSPORT in row


def test_dept_head_sees_tasks_but_cannot_respond(client, login_as, plan):
    login_as(Role.DEPT_HEAD, department=dept(HOUSING))
    assert client.get("/").headers["Location"].endswith("/my/")
    html = html_of(client.get("/my/"))
    assert "待签收" in html and "签收</button>" not in html
    assignment = lead_assignment(plan, "3.4.3")
    assert client.post(f"/assignments/{assignment.id}/acknowledge").status_code == 403
    assert client.post(f"/assignments/{assignment.id}/adjustment",
                       data={"reason": "x", "proposed_department": TRANSPORT}).status_code == 403


# -- 报送 -------------------------------------------------------------------------------------------------

def test_reports_list_groups_by_period_newest_first(client, login_as, plan):
    login_as(Role.LIAISON, department=dept(HOUSING))
    html = html_of(client.get("/reports/"))
    periods = re.findall(r'<h2 class="h5[^"]*">\s*<span>([^<]+)</span>', html)
    assert len(periods) == 2 and "2026" in periods[0] and periods[0] != periods[1]
    assert html.index(periods[0]) < html.index(periods[1])
    report = report_for(plan, "3.4.3")
    assert f'href="/reports/{report.id}"' in html
    own_contribution = db.session.scalar(select(Contribution).where(Contribution.department_id == dept(HOUSING).id))
    assert f'href="/reports/contributions/{own_contribution.id}"' in html
    other = report_for(plan, "3.1.1")
    assert other.department_id != dept(HOUSING).id and f'href="/reports/{other.id}"' not in html
    assert "逾期" not in html


def test_reports_list_shows_overdue_and_return_reason(client, login_as, plan, clock):
    report = report_for(plan, "3.4.3")
    housing = liaison_of(HOUSING)
    save_report(report, ReportInput(**_complete_input(report)), actor=housing, now=LATER, version=report.version,
                submit=True)
    return_report(report, actor=make_user(Role.OFFICE), now=LATER, reason="请补充改造户数的统计口径")
    clock.move_to(datetime(2026, 4, 11, 2, tzinfo=UTC))  # three days past the 2026Q1 deadline
    login_as(Role.LIAISON, department=dept(HOUSING))
    html = html_of(client.get("/reports/"))
    assert "逾期 2 个工作日" in html  # Thu 9 and Fri 10 April; Saturday the 11th is no working day
    assert "请补充改造户数的统计口径" in html and "已退回" in html


def _complete_input(report: Report) -> dict:
    return {"narrative": "推进清洁取暖\n完成改造 3 万户", "percent_complete": "40", "progress": "on_track",
            "values": {t.id: "1" for t in report.task.targets}}


def test_office_is_sent_to_the_review_queue_or_sees_everything(client, login_as, plan, app):
    login_as(Role.OFFICE)
    response = client.get("/reports/")
    if "review.queue" in app.view_functions:
        assert response.status_code == 302 and "/review" in response.headers["Location"]
    else:
        assert response.status_code == 200 and TRANSPORT in html_of(response)
    login_as(Role.ADMIN)  # no review queue for the admin: every department's reports
    html = html_of(client.get("/reports/"))
    assert HOUSING in html and TRANSPORT in html and ">查看</a>" in html and ">填写</a>" not in html


def test_list_pages_use_a_bounded_number_of_queries(app, client, login_as, plan):
    login_as(Role.LIAISON, department=dept(HOUSING))
    client.get("/reports/")  # opens nothing new the second time
    for url, bound in (("/reports/", 20), ("/my/", 32)):  # the home: tests/test_department_home.py, two sizes
        n = count_queries(lambda url=url: client.get(url))
        assert n <= bound, (url, n)
    # enough rows that a query per row would show
    assert len(re.findall(CODE_CELL, html_of(client.get("/reports/")))) > 30
    assert len(re.findall(CODE_CELL, html_of(client.get("/my/")))) > 15


# -- the report page --------------------------------------------------------------------------------------

def test_save_draft_then_submit_with_gaps_then_complete(client, login_as, plan):
    login_as(Role.LIAISON, department=dept(HOUSING))
    report = report_for(plan, "3.4.3")
    target = report.task.targets[0]
    html = html_of(client.get(f"/reports/{report.id}"))
    assert 'name="narrative"' in html and f'name="value-{target.id}"' in html
    assert "保存草稿" in html and "提交报告" in html and target.unit in html

    response = client.post(f"/reports/{report.id}", data={
        "narrative": "第一稿：推进清洁取暖", "percent_complete": "", "progress": "", f"value-{target.id}": "95.5",
        "version": str(report.version), "save": "1"})
    assert response.status_code == 302
    db.session.refresh(report)
    assert report.status == ReportStatus.DRAFT and report.narrative == "第一稿：推进清洁取暖"
    assert report.value_for(target.id) == 95.5
    html = html_of(client.get(f"/reports/{report.id}"))
    assert "第一稿：推进清洁取暖</textarea>" in html and 'value="95.5"' in html

    version = report.version
    response = client.post(f"/reports/{report.id}", data={
        "narrative": "第二稿：我刚写的内容", "percent_complete": "", "progress": "", f"value-{target.id}": "96",
        "next_steps": "下一步计划不能丢", "version": str(version), "submit": "1"})
    html = html_of(response)
    assert response.status_code == 422
    assert "请填写完成百分比" in html and "请选择进展状态" in html
    assert "第二稿：我刚写的内容</textarea>" in html and "下一步计划不能丢</textarea>" in html and 'value="96"' in html
    db.session.refresh(report)
    assert report.status == ReportStatus.DRAFT and report.version == version
    assert report.narrative == "第一稿：推进清洁取暖"

    response = client.post(f"/reports/{report.id}", data=report_form(report, submit="1"))
    assert response.status_code == 302
    db.session.refresh(report)
    assert report.status == ReportStatus.SUBMITTED and report.submitted_at is not None
    html = html_of(client.get(f"/reports/{report.id}"))
    assert 'name="narrative"' not in html and "推进既有建筑节能改造" in html  # read-only now
    assert "提交报告" in html and "草稿 → 待审核" in html  # the audit trail (one name per state: workflow/labels.py)


@pytest.mark.parametrize("field,value,message", [
    ("percent_complete", "130", "0 到 100"),
    ("value", "九十五", "应为数字"),
    ("value", "abc", "应为数字"),
])
def test_bad_numbers_are_field_errors(client, login_as, plan, field, value, message):
    login_as(Role.LIAISON, department=dept(HOUSING))
    report = report_for(plan, "3.4.3")
    target = report.task.targets[0]
    name = f"value-{target.id}" if field == "value" else field
    response = client.post(f"/reports/{report.id}",
                           data=report_form(report, narrative="保留我写的字", **{name: value}, save="1"))
    html = html_of(response)
    assert response.status_code == 422
    assert message in html and "is-invalid" in html
    assert f'value="{value}"' in html and "保留我写的字</textarea>" in html
    db.session.refresh(report)
    assert report.version == 1 and report.narrative == ""


def test_stale_version_is_409_and_keeps_the_typed_text(client, login_as, plan):
    login_as(Role.LIAISON, department=dept(HOUSING))
    report = report_for(plan, "3.4.3")
    stale = report.version
    save_report(report, ReportInput(narrative="同事先保存的内容"), actor=liaison_of(HOUSING), now=LATER,
                version=stale)
    response = client.post(f"/reports/{report.id}",
                           data=report_form(report, narrative="我在另一个窗口写的内容", version=str(stale), save="1"))
    html = html_of(response)
    assert response.status_code == 409
    assert "我在另一个窗口写的内容</textarea>" in html  # not lost
    assert "同事先保存的内容" in html and "当前已保存的版本" in html  # the saved version, to merge
    assert f'name="version" type="hidden" value="{report.version}"' in html
    db.session.refresh(report)
    assert report.narrative == "同事先保存的内容"
    # after merging, saving again with the version the page now carries is accepted
    response = client.post(f"/reports/{report.id}", data=report_form(report, narrative="合并后的内容", save="1"))
    assert response.status_code == 302
    db.session.refresh(report)
    assert report.narrative == "合并后的内容"


def test_saving_after_a_colleague_submitted_is_409_and_keeps_the_text(client, login_as, plan):
    login_as(Role.LIAISON, department=dept(HOUSING))
    report = report_for(plan, "3.4.3")
    stale = report.version
    save_report(report, ReportInput(**_complete_input(report)), actor=liaison_of(HOUSING), now=LATER,
                version=stale, submit=True)
    response = client.post(f"/reports/{report.id}", data=report_form(report, narrative="来不及保存的内容",
                                                                     version=str(stale), save="1"))
    assert response.status_code == 409
    assert "不能再修改" in html_of(response) and "来不及保存的内容" in html_of(response)
    assert upload(client, report, PDF, "late.pdf").status_code == 409
    db.session.refresh(report)
    assert report.status == ReportStatus.SUBMITTED and report.narrative.startswith("推进清洁取暖")


def test_returned_report_shows_reason_and_what_changed(client, login_as, plan):
    report = report_for(plan, "3.4.3")
    housing = liaison_of(HOUSING)
    save_report(report, ReportInput(**_complete_input(report)), actor=housing, now=LATER, version=report.version,
                submit=True)
    return_report(report, actor=make_user(Role.OFFICE), now=LATER, reason="请补充清洁取暖率的统计口径")
    login_as(Role.LIAISON, department=dept(HOUSING))
    html = html_of(client.get(f"/reports/{report.id}"))
    alert = re.search(r'<div class="alert alert-danger return-alert".*?</div>\s*</div>', html, re.S).group(0)
    assert "请补充清洁取暖率的统计口径" in alert
    assert 'name="narrative"' in html  # returned: editable again
    assert "待审核 → 已退回" in html and "请补充清洁取暖率的统计口径" in html

    target = report.task.targets[0]
    data = report_form(report, narrative="推进清洁取暖\n完成改造 3.2 万户，口径为城市建成区", submit="1",
                       **{f"value-{target.id}": "2"})
    assert client.post(f"/reports/{report.id}", data=data).status_code == 302
    html = html_of(client.get(f"/reports/{report.id}"))
    assert "与退回版本相比的修改" in html
    assert re.search(r'<div class="diff-add">\+ 完成改造 3.2 万户，口径为城市建成区</div>', html)
    assert re.search(r'<div class="diff-del">- 完成改造 3 万户</div>', html)
    assert re.search(rf'{re.escape(target.metric)}</td><td class="diff-del">1 ', html)


# -- attachments ------------------------------------------------------------------------------------------

def upload(client, report: Report, content: bytes, filename: str):
    return client.post(f"/reports/{report.id}/attachments", data={"file": (io.BytesIO(content), filename)},
                       content_type="multipart/form-data")


def stored_files(app) -> list[Path]:
    root = Path(app.config["UPLOAD_DIR"])
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_an_exe_behind_a_pdf_header_is_refused(client, login_as, plan):
    login_as(Role.LIAISON, department=dept(HOUSING))
    report = report_for(plan, "3.4.3")
    fake = b"%PDF-1.7\nMZ\x90\x00" + b"\x00" * 60 + b"This program cannot be run in DOS mode"
    response = upload(client, report, fake, "统计表.pdf")
    assert response.status_code == 422
    assert db.session.scalar(select(Attachment).where(Attachment.report_id == report.id)) is None


def test_an_upload_saves_the_typed_text_as_the_draft_first_whether_the_file_is_accepted_or_not(client, login_as,
                                                                                               plan):
    login_as(Role.LIAISON, department=dept(HOUSING))
    report = report_for(plan, "3.4.3")
    typed = report_form(report, narrative="尚未保存的进展说明", next_steps="下一步打算")
    response = client.post(f"/reports/{report.id}/attachments", content_type="multipart/form-data",
                           data={**typed, "file": (io.BytesIO(b"not a pdf"), "a.pdf")})
    html = html_of(response)
    assert response.status_code == 422 and "不支持的文件类型" in html
    assert "尚未保存的进展说明" in html and "下一步打算" in html
    db.session.refresh(report)
    assert report.narrative == "尚未保存的进展说明" and report.status == ReportStatus.DRAFT
    typed = report_form(report, narrative="再改一次")
    response = client.post(f"/reports/{report.id}/attachments", content_type="multipart/form-data",
                           data={**typed, "file": (io.BytesIO(PDF), "a.pdf")})
    assert response.status_code == 302
    db.session.refresh(report)
    assert report.narrative == "再改一次" and len(report.attachments) == 1


def test_the_same_file_twice_is_listed_once_and_an_attachment_can_be_removed_from_a_draft(client, login_as, plan):
    login_as(Role.LIAISON, department=dept(HOUSING))
    report = report_for(plan, "3.4.3")
    assert upload(client, report, PDF, "a.pdf").status_code == 302
    assert upload(client, report, PDF, "again.pdf").status_code == 302
    db.session.refresh(report)
    assert len(report.attachments) == 1
    attachment = report.attachments[0]
    assert f"/reports/attachments/{attachment.id}/remove" in html_of(client.get(f"/reports/{report.id}"))
    assert client.post(f"/reports/attachments/{attachment.id}/remove").status_code == 302
    assert "暂无附件" in html_of(client.get(f"/reports/{report.id}"))
    assert client.get(f"/reports/attachments/{attachment.id}").status_code == 404
    assert upload(client, report, PDF, "a.pdf").status_code == 302
    db.session.refresh(report)
    kept = next(a for a in report.attachments if not a.removed)
    login_as(Role.LIAISON, department=dept(TRANSPORT))  # another department cannot remove it
    assert client.post(f"/reports/attachments/{kept.id}/remove").status_code == 403
    db.session.refresh(kept)
    assert not kept.removed


@pytest.mark.parametrize("value", ["-3", "1000000000"])
def test_implausible_values_are_field_errors_and_keep_what_was_typed(client, login_as, plan, value):
    login_as(Role.LIAISON, department=dept(HOUSING))
    report = report_for(plan, "3.4.3")
    percent = next(t for t in report.task.targets if t.unit == "%")
    data = report_form(report, narrative="写好的说明", **{f"value-{percent.id}": value})
    response = client.post(f"/reports/{report.id}", data=data)
    html = html_of(response)
    assert response.status_code == 422 and "写好的说明" in html
    assert "不能为负数" in html or "是百分比" in html
    db.session.refresh(report)
    assert report.value_for(percent.id) is None


def test_upload_and_download_a_pdf(client, login_as, plan, app):
    login_as(Role.LIAISON, department=dept(HOUSING))
    report = report_for(plan, "3.4.3")
    response = upload(client, report, PDF, "清洁取暖 统计表.pdf")
    assert response.status_code == 302, html_of(response)
    attachment = db.session.scalar(select(Attachment).where(Attachment.report_id == report.id))
    html = html_of(client.get(f"/reports/{report.id}"))
    assert attachment.filename == "清洁取暖_统计表.pdf"  # made safe by the storage
    assert f'href="/reports/attachments/{attachment.id}">清洁取暖_统计表.pdf</a>' in html

    response = client.get(f"/reports/attachments/{attachment.id}")
    assert response.status_code == 200
    assert response.data == PDF
    disposition = response.headers["Content-Disposition"]
    assert "filename*=" in disposition and "attachment" in disposition
    assert response.headers["Content-Type"].startswith("application/pdf")

    login_as(Role.DEPT_HEAD, department=dept(HOUSING))  # readers download too
    assert client.get(f"/reports/attachments/{attachment.id}").data == PDF
    assert upload(client, report, PDF, "head.pdf").status_code == 403


def test_disguised_executable_is_refused_and_nothing_stored(client, login_as, plan, app):
    login_as(Role.LIAISON, department=dept(HOUSING))
    report = report_for(plan, "3.4.3")
    response = upload(client, report, b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 200, "统计表.pdf")
    assert response.status_code == 422
    assert "invalid-feedback" in html_of(response)
    assert db.session.scalar(select(func.count(Attachment.id))) == 0
    assert stored_files(app) == []


def test_file_over_the_limit_is_refused_and_nothing_stored(client, login_as, plan, app):
    app.config["ATTACHMENT_MAX_BYTES"] = 1024
    login_as(Role.LIAISON, department=dept(HOUSING))
    report = report_for(plan, "3.4.3")
    response = upload(client, report, PDF + b"%" + b"0" * 4096, "big.pdf")
    assert response.status_code == 413
    assert "invalid-feedback" in html_of(response) and "上限" in html_of(response)
    assert db.session.scalar(select(func.count(Attachment.id))) == 0
    assert stored_files(app) == []


def test_missing_file_is_a_field_error(client, login_as, plan):
    login_as(Role.LIAISON, department=dept(HOUSING))
    report = report_for(plan, "3.4.3")
    response = client.post(f"/reports/{report.id}/attachments", data={}, content_type="multipart/form-data")
    assert response.status_code == 422 and "请选择要上传的文件" in html_of(response)


# -- contributions ----------------------------------------------------------------------------------------

def test_contribution_flow_and_the_lead_sees_it(client, login_as, plan):
    report = report_for(plan, "3.4.3")
    contribution = db.session.scalar(select(Contribution).where(
        Contribution.task_id == report.task_id, Contribution.period_id == report.period_id,
        Contribution.department_id == dept(NDRC).id))
    login_as(Role.LIAISON, department=dept(NDRC))
    html = html_of(client.get(f"/reports/contributions/{contribution.id}"))
    assert 'name="text"' in html and "保存草稿" in html

    response = client.post(f"/reports/contributions/{contribution.id}",
                           data={"text": "", "version": contribution.version, "submit": "1"})
    assert response.status_code == 422 and "请填写配合情况" in html_of(response)
    response = client.post(f"/reports/contributions/{contribution.id}",
                           data={"text": "配合推进热源建设（草稿）", "version": contribution.version, "save": "1"})
    assert response.status_code == 302
    db.session.refresh(contribution)

    login_as(Role.LIAISON, department=dept(HOUSING))
    html = html_of(client.get(f"/reports/{report.id}"))
    assert "配合推进热源建设（草稿）" not in html  # a draft is not shown to the lead
    block = re.search(r'id="contributions".*?</section>', html, re.S).group(0)
    assert NDRC in block and "未报送" in block

    login_as(Role.LIAISON, department=dept(NDRC))
    response = client.post(f"/reports/contributions/{contribution.id}",
                           data={"text": "配合推进热源建设，新增供热能力 200 万平方米", "version": contribution.version,
                                 "submit": "1"})
    assert response.status_code == 302
    db.session.refresh(contribution)
    assert contribution.status == ContributionStatus.SUBMITTED
    html = html_of(client.get(f"/reports/contributions/{contribution.id}"))
    assert 'name="text"' not in html and "新增供热能力 200 万平方米" in html  # read-only after submit
    response = client.post(f"/reports/contributions/{contribution.id}",
                           data={"text": "改一下", "version": contribution.version, "save": "1"})
    assert response.status_code == 409 and "改一下</textarea>" in html_of(response)

    login_as(Role.LIAISON, department=dept(HOUSING))
    block = re.search(r'id="contributions".*?</section>', html_of(client.get(f"/reports/{report.id}")), re.S).group(0)
    assert "新增供热能力 200 万平方米" in block
    assert client.get(f"/reports/contributions/{contribution.id}").status_code == 200  # the lead reads it
    assert client.post(f"/reports/contributions/{contribution.id}",
                       data={"text": "x", "save": "1"}).status_code == 403
    login_as(Role.OFFICE)
    assert "新增供热能力 200 万平方米" in html_of(client.get(f"/reports/contributions/{contribution.id}"))


# -- permissions ------------------------------------------------------------------------------------------

def _housing_objects(plan):
    """A report, contribution, attachment and assignment of 市住房城乡建设局."""
    report = report_for(plan, "3.4.3")
    housing = liaison_of(HOUSING)
    from workflow.reports.services import add_attachment
    attachment = add_attachment(report, io.BytesIO(PDF), "a.pdf", actor=housing, now=LATER)
    contribution = db.session.scalar(select(Contribution).where(Contribution.department_id == dept(HOUSING).id))
    assignment = lead_assignment(plan, "3.4.3")
    return report, contribution, attachment, assignment


def test_another_departments_liaison_gets_403_everywhere(client, login_as, plan):
    report, contribution, attachment, assignment = _housing_objects(plan)
    login_as(Role.LIAISON, department=dept(TRANSPORT))
    checks = [
        ("get", f"/reports/{report.id}", None),
        ("post", f"/reports/{report.id}", report_form(report, save="1")),
        ("post", f"/reports/{report.id}", report_form(report, submit="1")),
        ("post", f"/reports/{report.id}/attachments", {"file": (io.BytesIO(PDF), "x.pdf")}),
        ("get", f"/reports/attachments/{attachment.id}", None),
        ("get", f"/reports/contributions/{contribution.id}", None),
        ("post", f"/reports/contributions/{contribution.id}", {"text": "x", "save": "1"}),
        ("post", f"/reports/contributions/{contribution.id}", {"text": "x", "submit": "1"}),
        ("post", f"/assignments/{assignment.id}/acknowledge", {}),
        ("post", f"/assignments/{assignment.id}/adjustment", {"reason": "x", "proposed_department": TRANSPORT}),
    ]
    for method, url, data in checks:
        response = getattr(client, method)(url, data=data)
        assert response.status_code == 403, (method, url, response.status_code)
    db.session.refresh(report)
    db.session.refresh(assignment)
    assert report.version == 1 and assignment.status == AssignmentStatus.PENDING
    assert db.session.scalar(select(func.count(Attachment.id))) == 1
    html = html_of(client.get("/reports/"))
    assert f'href="/reports/{report.id}"' not in html


def test_unknown_ids_are_404(client, login_as, plan):
    login_as(Role.LIAISON, department=dept(HOUSING))
    for method, url in [("get", "/reports/999999"), ("post", "/reports/999999"),
                        ("post", "/reports/999999/attachments"), ("get", "/reports/attachments/999999"),
                        ("get", "/reports/contributions/999999"), ("post", "/reports/contributions/999999"),
                        ("post", "/assignments/999999/acknowledge"), ("post", "/assignments/999999/adjustment")]:
        assert getattr(client, method)(url).status_code == 404, url


def test_dept_head_leader_and_office_read_but_do_not_edit(client, login_as, plan):
    report, contribution, attachment, _assignment = _housing_objects(plan)
    save_report(report, ReportInput(narrative="住建局的报告"), actor=liaison_of(HOUSING), now=LATER,
                version=report.version)
    for role, department in ((Role.DEPT_HEAD, dept(HOUSING)), (Role.LEADER, None), (Role.OFFICE, None)):
        login_as(role, department=department)
        response = client.get(f"/reports/{report.id}")
        html = html_of(response)
        assert response.status_code == 200, role
        assert "住建局的报告" in html and 'name="narrative"' not in html, role
        assert client.post(f"/reports/{report.id}", data=report_form(report, save="1")).status_code == 403, role
        assert client.get(f"/reports/contributions/{contribution.id}").status_code == 200, role
        assert client.get(f"/reports/attachments/{attachment.id}").status_code == 200, role
    db.session.refresh(report)
    assert report.narrative == "住建局的报告"


def test_reports_pages_never_fail_for_a_department_without_reports(client, login_as, plan):
    login_as(Role.LIAISON, department="市某某新设局")
    assert "当前没有需要报送的内容" in html_of(client.get("/reports/"))
    assert "本单位暂无分配的任务" in html_of(client.get("/my/"))


def test_a_period_lists_lead_reports_then_contributions_in_plan_order(client, login_as, plan):
    login_as(Role.LIAISON, department=dept(HOUSING))
    newest = html_of(client.get("/reports/")).split('<section class="period-group')[1]
    rows = re.findall(CODE_CELL + r'.*?badge text-bg-(primary|secondary)">(牵头|配合)', newest,
                      re.S)
    positions = {t.code: t.position for t in db.session.scalars(select(Task).where(Task.plan_id == plan.id))}
    kinds = [kind for _code, _cls, kind in rows]
    assert kinds == sorted(kinds, key=lambda k: k != "牵头") and "牵头" in kinds and "配合" in kinds
    for kind in ("牵头", "配合"):
        codes = [code for code, _cls, k in rows if k == kind]
        assert codes == sorted(codes, key=positions.get)


@pytest.mark.parametrize(("before", "after", "warned"), [("10", "100", True), ("100", "10", True),
                                                         ("10", "30", False), ("0", "50", False)])
def test_the_office_is_warned_when_a_value_jumps_against_the_previous_period(client, login_as, plan, clock,
                                                                           before, after, warned):
    from workflow.assignments.services import open_all_due_periods
    from workflow.review.services import approve_report

    report = report_for(plan, "3.4.3")
    count = report.task.targets[0]
    liaison, office = liaison_of(HOUSING), make_user(Role.OFFICE, username="reviewer")
    save_report(report, ReportInput(narrative="一季度", percent_complete="20", progress="on_track",
                                    values={t.id: "1" for t in report.task.targets} | {count.id: before}),
                actor=liaison, now=LATER, version=report.version, submit=True)
    approve_report(report, actor=office, now=LATER)
    q2_open = datetime(2026, 7, 2, 1, 0, tzinfo=UTC)
    clock.move_to(q2_open)
    open_all_due_periods(now=q2_open)
    q2 = report_for(plan, "3.4.3", "2026Q2", HOUSING)
    save_report(q2, ReportInput(narrative="二季度", percent_complete="40", progress="on_track",
                                values={t.id: "1" for t in q2.task.targets} | {count.id: after}),
                actor=liaison, now=q2_open, version=q2.version, submit=True)

    login_as(Role.OFFICE)
    html = html_of(client.get(f"/reports/{q2.id}"))
    assert ("value-jump" in html) is warned
    if warned:
        assert re.search(rf"与上期（2026年第一季度：{before}%?）相比变化 10(\.0)? 倍", html)
    login_as(Role.LIAISON, department=dept(HOUSING))
    assert "value-jump" not in html_of(client.get(f"/reports/{q2.id}"))  # a check for the reviewer, not a scold
