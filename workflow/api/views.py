"""The JSON API, /api/v1 (CONTRACT.md "The HTTP API contract").

Each view: parse and check the request → one service call → serialize. Permissions are the web UI's: the
model methods (report.can_view, ...) and the scoped queries of workflow.reports.queries, enforced again by
the services. Unknown id → 404; visible to someone else only → 403; errors are problem details.
"""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request, send_file, url_for
from sqlalchemy import Select, func, select
from sqlalchemy.orm import selectinload
from werkzeug.exceptions import RequestEntityTooLarge

from models import (
    Assignment,
    AssignmentStatus,
    Attachment,
    Contribution,
    ContributionStatus,
    Department,
    Report,
    ReportStatus,
)
from workflow.api import queries, serializers
from workflow.api.auth import api_user, authenticate
from workflow.api.openapi import build_document
from workflow.api.problems import (
    Page,
    TooLarge,
    bool_arg,
    choice_arg,
    department_arg,
    int_arg,
    json_body,
    page_args,
    raise_if,
    str_arg,
    text_field,
    version_field,
)
from workflow.assignments import services as assignment_services
from workflow.calendar.lateness import days_late, overdue_before
from workflow.calendar.office import office_calendar
from workflow.clock import local, utcnow
from workflow.domain import DomainError, NotFound, require
from workflow.errors import problem
from workflow.extensions import csrf, db
from workflow.plans import services as plan_services
from workflow.reports import queries as report_queries
from workflow.reports import services as report_services
from workflow.reports import storage
from workflow.reports.services import ReportInput
from workflow.review import services as review_services

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)  # bearer tokens, never session cookies: nothing for a forged cross-site form to ride on
bp.before_request(authenticate)


@bp.errorhandler(DomainError)
def domain_error(exc: DomainError):
    db.session.rollback()
    response = problem(exc.status, exc.message, **exc.extra)
    if exc.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


@bp.errorhandler(RequestEntityTooLarge)
def request_too_large(exc: RequestEntityTooLarge):
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    shown = f"{limit / (1024 * 1024):g} MB" if limit else "上限"
    return problem(413, f"请求内容超过大小上限（{shown}）。", **({"max_bytes": limit} if limit else {}))


# -- helpers ---------------------------------------------------------------------------------------------

def _get(model, object_id: int, what: str):
    obj = db.session.get(model, object_id)
    if obj is None:
        raise NotFound(f"{what} #{object_id} 不存在。")
    return obj


def _page(stmt: Select, page: Page, serialize) -> dict:
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    rows = db.session.scalars(stmt.offset(page.offset).limit(page.per_page)).all()
    return {"items": [serialize(r) for r in rows], "total": total or 0, "page": page.page,
            "per_page": page.per_page}


def _page_list(rows: list, page: Page, serialize) -> dict:
    chunk = rows[page.offset:page.offset + page.per_page]
    return {"items": [serialize(r) for r in chunk], "total": len(rows), "page": page.page,
            "per_page": page.per_page}


def _today():
    return local(utcnow()).date()


def _visible_report(report_id: int) -> Report:
    report = _get(Report, report_id, "报告")
    require(report.can_view(api_user()), "无权查看其他单位的报告。")
    return report


def _visible_contribution(contribution_id: int) -> Contribution:
    contribution = _get(Contribution, contribution_id, "配合情况")
    leads = set(report_services.lead_departments(contribution))
    require(contribution.can_view(api_user(), leads), "无权查看其他单位的配合情况。")
    return contribution


def _visible_assignment(assignment_id: int) -> Assignment:
    assignment = _get(Assignment, assignment_id, "任务分工")
    require(assignment.can_view(api_user()), "无权查看其他单位的任务分工。")
    return assignment


def _report_detail(report: Report) -> dict:
    user = api_user()
    leads = set(report_services.lead_departments(report))
    contributions = [c for c in report_services.contributions_for(report) if c.can_view(user, leads)]
    return serializers.report_detail(report, user=user, contributions=contributions,
                                     diff=report_services.resubmission_diff(report),
                                     late=days_late(report, _today(), office_calendar()))


# -- the API's own description -----------------------------------------------------------------------------

@bp.get("/openapi.json")
def openapi_document():
    return jsonify(build_document())


# -- who am I, plans, tasks, departments -----------------------------------------------------------------

@bp.get("/me")
def me():
    return serializers.me(api_user())


@bp.get("/plans")
def list_plans():
    page = page_args()
    require(queries.can_view_plans(api_user()), "只有领导小组办公室、领导和管理员可以查看方案总览。")
    return _page_list(plan_services.list_plans(), page, lambda row: serializers.plan_summary(*row))


@bp.get("/plans/<int:plan_id>")
def get_plan(plan_id: int):
    plan = plan_services.load_plan(plan_id)
    if plan is None:
        raise NotFound(f"方案 #{plan_id} 不存在。")
    require(queries.can_view_plans(api_user()), "只有领导小组办公室、领导和管理员可以查看方案总览。")
    periods = db.session.scalars(queries.plan_periods(plan)).all()
    return serializers.plan_detail(plan, outline=plan_services.outline_tree(plan), periods=periods)


@bp.get("/tasks")
def list_tasks():
    page = page_args()
    stmt = queries.visible_tasks(api_user(), plan_id=int_arg("plan_id"), department=department_arg(),
                                 q=str_arg("q"))
    return _page(stmt, page, serializers.task)


@bp.get("/tasks/<int:task_id>")
def get_task(task_id: int):
    task = queries.load_task(task_id)
    if task is None:
        raise NotFound(f"任务 #{task_id} 不存在。")
    require(queries.can_view_task(api_user(), task), "无权查看与本单位无关的任务。")
    return serializers.task(task)


@bp.get("/departments")
def list_departments():
    page = page_args()
    stmt = select(Department).options(selectinload(Department.aliases)).order_by(Department.id)
    return _page(stmt, page, serializers.department)


# -- assignments -----------------------------------------------------------------------------------------

@bp.get("/assignments")
def list_assignments():
    page = page_args()
    stmt = report_queries.visible_assignments(
        api_user(), department=department_arg(), status=choice_arg("status", AssignmentStatus),
        plan_id=int_arg("plan_id"),
    ).options(selectinload(Assignment.adjustments))
    return _page(stmt, page, serializers.assignment)


@bp.get("/assignments/<int:assignment_id>")
def get_assignment(assignment_id: int):
    return serializers.assignment(_visible_assignment(assignment_id))


@bp.post("/assignments/<int:assignment_id>/acknowledge")
def acknowledge_assignment(assignment_id: int):
    assignment = _visible_assignment(assignment_id)
    body, errors = json_body(required=False), {}
    version = version_field(body, errors, required=False)
    raise_if(errors)
    assignment_services.acknowledge(assignment, actor=api_user(), now=utcnow(), version=version)
    return serializers.assignment(assignment)


@bp.post("/assignments/<int:assignment_id>/adjustment")
def request_adjustment(assignment_id: int):
    assignment = _visible_assignment(assignment_id)
    body, errors = json_body(required=True), {}
    reason = text_field(body, "reason", errors)
    proposed = text_field(body, "proposed_department", errors)
    version = version_field(body, errors, required=False)
    raise_if(errors)
    adjustment = assignment_services.request_adjustment(
        assignment, reason=reason or "", proposed_department=proposed or "", actor=api_user(), now=utcnow(),
        version=version)
    return {**serializers.adjustment(adjustment), "assignment": serializers.assignment(assignment)}, 201


# -- reports ---------------------------------------------------------------------------------------------

@bp.get("/reports")
def list_reports():
    page = page_args()
    now = utcnow()
    filters = {"period": str_arg("period"), "status": choice_arg("status", ReportStatus),
               "department": department_arg(), "task_code": str_arg("task_code"), "overdue": bool_arg("overdue"),
               "plan_id": int_arg("plan_id")}
    assignment_services.open_all_due_periods(now=now)
    today, calendar = local(now).date(), office_calendar()
    stmt = report_queries.visible_reports(api_user(), overdue_before=overdue_before(today, calendar), **filters)
    return _page(stmt, page, lambda r: serializers.report_summary(r, late=days_late(r, today, calendar)))


@bp.get("/reports/<int:report_id>")
def get_report(report_id: int):
    return _report_detail(_visible_report(report_id))


REPORT_TEXT_FIELDS = ("narrative", "difficulties", "next_steps")
REPORT_FIELDS = (*REPORT_TEXT_FIELDS, "percent_complete", "progress", "values")


def _report_input(report: Report, body: dict, errors: dict[str, str]) -> ReportInput:
    """The report as it stands, overlaid with the fields the body carries (a PATCH keeps the others)."""
    data = ReportInput(narrative=report.narrative, percent_complete=report.percent_complete,
                       progress=report.progress, difficulties=report.difficulties, next_steps=report.next_steps,
                       values={v.target_id: v.value for v in report.values})
    for name in REPORT_TEXT_FIELDS:
        value = text_field(body, name, errors)
        if value is not None:
            setattr(data, name, value)
    if "percent_complete" in body:
        percent = body["percent_complete"]
        if isinstance(percent, bool) or not isinstance(percent, int | float | str | None):
            errors["percent_complete"] = "完成百分比应为 0 到 100 的整数。"
        else:
            data.percent_complete = percent
    if "progress" in body:
        progress = body["progress"]
        if progress is not None and not isinstance(progress, str):
            errors["progress"] = "进展状态应为 on_track、at_risk、behind、completed 之一。"
        else:
            data.progress = progress
    if "values" in body:
        values = _values(body["values"], errors)
        if values is not None:
            data.values.update(values)
    return data


def _values(raw, errors: dict[str, str]) -> dict | None:
    """[{"target_id", "value"}] (as GET shows them) or {"<target_id>": value}."""
    if isinstance(raw, dict):
        pairs = list(raw.items())
    elif isinstance(raw, list) and all(isinstance(i, dict) and "target_id" in i for i in raw):
        pairs = [(i["target_id"], i.get("value")) for i in raw]
    else:
        errors["values"] = "指标值应为 [{\"target_id\": 编号, \"value\": 数值}] 形式的列表。"
        return None
    out = {}
    for key, value in pairs:
        try:
            key = int(key)
        except (TypeError, ValueError):
            key = str(key)  # the service names it as an unknown target
        out[key] = None if value is None else str(value)
    return out


@bp.patch("/reports/<int:report_id>")
def save_report(report_id: int):
    report = _visible_report(report_id)
    body, errors = json_body(required=True), {}
    version = version_field(body, errors, required=True)
    data = _report_input(report, body, errors)
    raise_if(errors)
    report_services.save_report(report, data, actor=api_user(), now=utcnow(), version=version)
    return _report_detail(report)


@bp.post("/reports/<int:report_id>/submit")
def submit_report(report_id: int):
    """Submit as saved; a body carrying report fields saves them and submits in one step."""
    report = _visible_report(report_id)
    body, errors = json_body(required=False), {}
    version = version_field(body, errors, required=False)
    with_fields = any(name in body for name in REPORT_FIELDS)
    data = _report_input(report, body, errors) if with_fields else None
    raise_if(errors)
    if data is not None:
        report_services.save_report(report, data, actor=api_user(), now=utcnow(), version=version, submit=True)
    else:
        report_services.submit_report(report, actor=api_user(), now=utcnow(), version=version)
    return _report_detail(report)


@bp.post("/reports/<int:report_id>/approve")
def approve_report(report_id: int):
    report = _visible_report(report_id)
    body, errors = json_body(required=False), {}
    comment = text_field(body, "comment", errors)
    version = version_field(body, errors, required=False)
    raise_if(errors)
    review_services.approve_report(report, actor=api_user(), now=utcnow(), comment=comment or "", version=version)
    return _report_detail(report)


@bp.post("/reports/<int:report_id>/return")
def return_report(report_id: int):
    report = _visible_report(report_id)
    body, errors = json_body(required=False), {}
    reason = text_field(body, "reason", errors)
    version = version_field(body, errors, required=False)
    raise_if(errors)
    review_services.return_report(report, actor=api_user(), now=utcnow(), reason=reason or "", version=version)
    return _report_detail(report)


@bp.get("/reports/<int:report_id>/revisions")
def report_revisions(report_id: int):
    page = page_args()
    report = _visible_report(report_id)
    return _page_list(report_services.report_revisions(report), page, serializers.revision)


@bp.get("/reports/<int:report_id>/audit")
def report_audit(report_id: int):
    page = page_args()
    report = _visible_report(report_id)
    return _page(queries.report_audit(report), page, serializers.audit_event)


# -- attachments -----------------------------------------------------------------------------------------

def _upload_limit() -> int:
    return int(current_app.config.get("ATTACHMENT_MAX_BYTES") or storage.DEFAULT_MAX_BYTES)


def _stream_size(stream) -> int:
    position = stream.tell()
    stream.seek(0, 2)
    size = stream.tell()
    stream.seek(position)
    return size


@bp.post("/reports/<int:report_id>/attachments")
def upload_attachment(report_id: int):
    report = _visible_report(report_id)
    require(report.can_edit(api_user()), "该报告当前不能由您添加附件。")  # before reading a large body
    upload = request.files.get("file")  # beyond MAX_CONTENT_LENGTH werkzeug answers 413 here
    if upload is None or not upload.filename:
        raise_if({"file": "请以 multipart/form-data 的 file 字段上传文件。"})
    limit = _upload_limit()
    if _stream_size(upload.stream) > limit:
        raise TooLarge(f"文件超过大小上限（{limit / (1024 * 1024):g} MB）。", max_bytes=limit)
    attachment = report_services.add_attachment(report, upload.stream, upload.filename, actor=api_user(),
                                                now=utcnow())
    response = jsonify(serializers.attachment(attachment))
    response.status_code = 201
    response.headers["Location"] = url_for("api.download_attachment", attachment_id=attachment.id)
    return response


@bp.get("/attachments/<int:attachment_id>")
def download_attachment(attachment_id: int):
    attachment = _get(Attachment, attachment_id, "附件")
    if attachment.removed:
        raise NotFound(f"附件 #{attachment_id} 已删除。")
    require(attachment.report.can_view(api_user()), "无权下载其他单位的附件。")
    try:
        path = report_services.attachment_path(attachment)
    except FileNotFoundError:
        current_app.logger.error("attachment %s: stored file %s is missing", attachment.id, attachment.sha256)
        raise NotFound(f"附件 #{attachment_id} 的文件已丢失，请联系管理员。") from None
    response = send_file(path, mimetype=attachment.content_type,
                         max_age=0, conditional=True, etag=attachment.sha256)
    response.headers["Content-Disposition"] = storage.content_disposition(attachment.filename)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


# -- contributions ---------------------------------------------------------------------------------------

@bp.get("/contributions")
def list_contributions():
    page = page_args()
    now = utcnow()
    report_id, department = int_arg("report_id"), department_arg()
    period, status = str_arg("period"), choice_arg("status", ContributionStatus)
    report = db.session.get(Report, report_id) if report_id else None
    if report_id and report is None:
        return {"items": [], "total": 0, "page": page.page, "per_page": page.per_page}
    assignment_services.open_all_due_periods(now=now)
    stmt = report_queries.visible_contributions(api_user(), report=report, department=department, period=period)
    if status:
        stmt = stmt.where(Contribution.status == status)
    return _page(stmt, page, serializers.contribution)


@bp.get("/contributions/<int:contribution_id>")
def get_contribution(contribution_id: int):
    return serializers.contribution(_visible_contribution(contribution_id))


@bp.patch("/contributions/<int:contribution_id>")
def save_contribution(contribution_id: int):
    contribution = _visible_contribution(contribution_id)
    body, errors = json_body(required=True), {}
    text = text_field(body, "text", errors)
    version = version_field(body, errors, required=True)
    raise_if(errors)
    report_services.save_contribution(contribution, contribution.text if text is None else text,
                                      actor=api_user(), now=utcnow(), version=version)
    return serializers.contribution(contribution)


@bp.post("/contributions/<int:contribution_id>/submit")
def submit_contribution(contribution_id: int):
    contribution = _visible_contribution(contribution_id)
    body, errors = json_body(required=False), {}
    text = text_field(body, "text", errors)
    version = version_field(body, errors, required=False)
    raise_if(errors)
    report_services.save_contribution(contribution, contribution.text if text is None else text,
                                      actor=api_user(), now=utcnow(), version=version, submit=True)
    return serializers.contribution(contribution)
