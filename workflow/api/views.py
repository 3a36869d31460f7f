"""The JSON API, /api/v1 (CONTRACT.md "The HTTP API contract").

Each view is declared with api_route (workflow.api.operations): it receives its query and body already parsed
into the models of workflow.api.schemas, makes one service call and returns a response model. Permissions are the web UI's: the
model methods (report.can_view, ...) and the scoped queries of workflow.reports.queries, enforced again by
the services. Unknown id → 404; visible to someone else only → 403; errors are problem details.
"""
from __future__ import annotations

from functools import cache

from flask import Blueprint, current_app, jsonify, request, url_for
from flask_babel import gettext as _
from flask_babel import pgettext
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from werkzeug.exceptions import RequestEntityTooLarge

from models import (
    Assignment,
    Attachment,
    Bulletin,
    CompletionReport,
    Contribution,
    Department,
    ExtensionRequest,
    Plan,
    Report,
    Task,
)
from workflow import files
from workflow.api import queries
from workflow.api import schemas as s
from workflow.api.auth import api_user, authenticate
from workflow.api.openapi import FILE, build_document
from workflow.api.operations import api_route
from workflow.api.problems import FILE_PART, TooLarge, ValidationFailed, department_arg
from workflow.assignments import services as assignment_services
from workflow.bulletins import archive as bulletin_archive
from workflow.bulletins import services as bulletin_services
from workflow.calendar.lateness import days_late, overdue_before
from workflow.calendar.office import office_calendar
from workflow.clock import local, utcnow
from workflow.domain import DomainError, NotFound, require
from workflow.errors import problem
from workflow.extension_requests import services as extension_services
from workflow.extensions import csrf, db
from workflow.overview import services as overview_services
from workflow.pagination import paginate, paginate_list
from workflow.plans import services as plan_services
from workflow.reports import queries as report_queries
from workflow.reports import services as report_services
from workflow.reports.services import ReportInput
from workflow.review import services as review_services
from workflow.security import limit
from workflow.targets import services as target_services
from workflow.tasks import closure
from workflow.tasks import completion as completion_services

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)  # bearer tokens, never session cookies: nothing for a forged cross-site form to ride on
limit("API_RATE_LIMIT")(bp)
bp.before_request(authenticate)

# The usual failures of a call that changes a record, beyond the 400/404/422 every body and id implies.
CHANGE = (403, 409)


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
    shown = f"{limit / (1024 * 1024):g} MB" if limit else _("上限")
    return problem(413, _("请求内容超过大小上限（%(limit)s）。", limit=shown), **({"max_bytes": limit} if limit else {}))


# -- helpers ---------------------------------------------------------------------------------------------

def _get(model, object_id: int, what: str):
    obj = db.session.get(model, object_id)
    if obj is None:
        raise NotFound(_("%(what)s #%(id)s 不存在。", what=what, id=object_id))
    return obj


def _paginate(stmt, query: s.PageQuery, *, count_from=None):
    return paginate(stmt, page=query.page, per_page=query.per_page, max_per_page=s.MAX_PER_PAGE, held=False,
                    count_from=count_from)


def _today():
    return local(utcnow()).date()


def _visible_report(report_id: int) -> Report:
    report = _get(Report, report_id, pgettext("api object", "报告"))
    require(report.can_view(api_user()), _("无权查看其他单位的报告。"))
    return report


def _visible_contribution(contribution_id: int) -> Contribution:
    contribution = _get(Contribution, contribution_id, pgettext("api object", "配合情况"))
    require(contribution.can_view(api_user()), _("无权查看其他单位的配合情况。"))
    return contribution


def _visible_assignment(assignment_id: int) -> Assignment:
    assignment = _get(Assignment, assignment_id, pgettext("api object", "任务分工"))
    require(assignment.can_view(api_user()), _("无权查看其他单位的任务分工。"))
    return assignment


def _report_detail(report: Report) -> s.ReportDetail:
    user = api_user()
    return s.ReportDetail.of(report, user=user, contributions=report_services.contributions_for(report),
                             diff=report_services.resubmission_diff(report),
                             late=days_late(report, _today(), office_calendar()))


# -- the API's own description -----------------------------------------------------------------------------

@api_route(bp, "get", "/openapi.json", operation_id="openapi", summary="this document", tag="meta",
           response=None, public=True,
           openapi={"description": "the OpenAPI 3.1 document",
                    "response": {"content": {"application/json": {"schema": {"type": "object"}}}}})
def openapi_document():
    return jsonify(_document())


@cache
def _document() -> dict:
    """Built once per process (it takes a tenth of a second): the operations are all declared at import."""
    return build_document()


# -- who am I, plans, tasks, departments -----------------------------------------------------------------

@api_route(bp, "get", "/me", operation_id="me", summary="the caller", tag="people", response=s.Me)
def me():
    return s.Me.of(api_user())


PLANS_ARE_THE_OVERVIEW = "office, leaders and admins (the web UI's plan overview); others 403"


@api_route(bp, "get", "/plans", operation_id="listPlans", summary="plans, newest first", tag="plans",
           response=s.PlanPage, query=s.PageQuery, errors=(403,), description=PLANS_ARE_THE_OVERVIEW)
def list_plans(query: s.PageQuery):
    require(api_user().sees_everything, _("只有领导小组办公室、领导和管理员可以查看方案总览。"))
    page = _paginate(queries.plans(), query)
    counts = queries.task_counts(page.items)
    return s.PlanPage.of(page, lambda plan: s.PlanSummary.of(plan, counts.get(plan.id, 0)))


@api_route(bp, "get", "/plans/<id:plan_id>", operation_id="getPlan",
           summary="one plan with its outline, periods and plan-level targets", tag="plans", response=s.PlanDetail,
           errors=(403,), description=PLANS_ARE_THE_OVERVIEW)
def get_plan(plan_id: int):
    plan = plan_services.load_plan(plan_id)
    if plan is None:
        raise NotFound(_("方案 #%(id)s 不存在。", id=plan_id))
    require(plan.visible_to(api_user()), _("只有领导小组办公室、领导和管理员可以查看方案总览。"))
    periods = db.session.scalars(queries.plan_periods(plan)).all()
    return s.PlanDetail.of(plan, outline=plan_services.outline_tree(plan), periods=periods)


@api_route(bp, "get", "/plans/<id:plan_id>/overview", operation_id="planOverview",
           summary="the overview: reports by state, tasks by light, contributions missing, escalations, targets; "
                   "per department and area; for the current period and the year",
           tag="plans", response=s.Overview, errors=(403,), description=PLANS_ARE_THE_OVERVIEW)
def plan_overview(plan_id: int):
    plan = db.session.get(Plan, plan_id)
    if plan is None:
        raise NotFound(_("方案 #%(id)s 不存在。", id=plan_id))
    require(plan.visible_to(api_user()), _("只有领导小组办公室、领导和管理员可以查看方案总览。"))
    now = utcnow()
    assignment_services.open_all_due_periods(now=now)
    return s.Overview.of(overview_services.compute(plan, now=now))


@api_route(bp, "get", "/tasks", operation_id="listTasks", summary="tasks the caller may see", tag="plans",
           response=s.TaskPage, query=s.TaskQuery,
           description="liaisons and department heads see the tasks their department has a part in")
def list_tasks(query: s.TaskQuery):
    stmt = queries.visible_tasks(api_user(), plan_id=query.plan_id, department=department_arg(query.department),
                                 q=query.q)
    return s.TaskPage.of(_paginate(stmt, query))


@api_route(bp, "get", "/tasks/<id:task_id>", operation_id="getTask", summary="one task", tag="plans",
           response=s.Task, errors=(403,))
def get_task(task_id: int):
    task = queries.load_task(task_id)
    if task is None:
        raise NotFound(_("任务 #%(id)s 不存在。", id=task_id))
    require(task.visible_to(api_user()), _("无权查看与本单位无关的任务。"))
    return s.Task.of(task)


@api_route(bp, "get", "/targets", operation_id="listTargets",
           summary="the indicator tracker: targets with their latest approved value, what is due this year and "
                   "whether they are on track", tag="plans", response=s.TrackedTargetPage, query=s.TargetQuery,
           errors=(404,),
           description="one item per target and reporting department, off track first; office, leaders and admins "
                       "see every target, liaisons and department heads those their department reports")
def list_targets(query: s.TargetQuery):
    if query.plan_id is not None:
        plan = db.session.get(Plan, query.plan_id)
        if plan is None:
            raise NotFound(_("方案 #%(id)s 不存在。", id=query.plan_id))
        plans = [plan]
    else:
        plans = target_services.tracker_plans()
    department = department_arg(query.department)
    result = target_services.tracker(plans, user=api_user(), year=_today().year, area=query.area,
                                     department_id=department.id if department else None, strict=True)
    page = paginate_list(result.rows, page=query.page, per_page=query.per_page, held=False)
    return s.TrackedTargetPage.of(page)


@api_route(bp, "get", "/departments", operation_id="listDepartments", summary="departments with aliases and kind",
           tag="plans", response=s.DepartmentPage, query=s.PageQuery)
def list_departments(query: s.PageQuery):
    stmt = (select(Department).options(selectinload(Department.aliases), selectinload(Department.members))
            .order_by(Department.id))
    return s.DepartmentPage.of(_paginate(stmt, query))


# -- assignments -----------------------------------------------------------------------------------------

@api_route(bp, "get", "/assignments", operation_id="listAssignments",
           summary="assignments the caller may see (lead first)", tag="assignments", response=s.AssignmentPage,
           query=s.AssignmentQuery)
def list_assignments(query: s.AssignmentQuery):
    stmt = report_queries.visible_assignments(
        api_user(), department=department_arg(query.department), status=query.status, plan_id=query.plan_id,
    ).options(selectinload(Assignment.adjustments))
    return s.AssignmentPage.of(_paginate(stmt, query))


@api_route(bp, "get", "/assignments/<id:assignment_id>", operation_id="getAssignment", summary="one assignment",
           tag="assignments", response=s.Assignment, errors=(403,))
def get_assignment(assignment_id: int):
    return s.Assignment.of(_visible_assignment(assignment_id))


@api_route(bp, "post", "/assignments/<id:assignment_id>/acknowledge", operation_id="acknowledgeAssignment",
           summary="签收: the department's liaison acknowledges a pending assignment", tag="assignments",
           response=s.Assignment, body=s.VersionBody, body_required=False, errors=CHANGE, load=_visible_assignment)
def acknowledge_assignment(assignment: Assignment, body: s.VersionBody):
    assignment_services.acknowledge(assignment, actor=api_user(), now=utcnow(), version=body.version)
    return s.Assignment.of(assignment)


@api_route(bp, "post", "/assignments/<id:assignment_id>/adjustment", operation_id="requestAdjustment",
           summary="申请调整: not our responsibility; the office decides", tag="assignments",
           response=s.AdjustmentCreated, status=201, body=s.AdjustmentBody, errors=CHANGE, load=_visible_assignment,
           openapi={"description": "the adjustment request, awaiting the office"})
def request_adjustment(assignment: Assignment, body: s.AdjustmentBody):
    adjustment = assignment_services.request_adjustment(
        assignment, reason=body.reason, proposed_department=body.proposed_department, actor=api_user(),
        now=utcnow(), version=body.version)
    return s.AdjustmentCreated.of(adjustment, assignment)


def _visible_task(task_id: int) -> Task:
    task = queries.load_task(task_id)
    if task is None:
        raise NotFound(f"任务 #{task_id} 不存在。")
    require(task.visible_to(api_user()), "无权查看与本单位无关的任务。")
    return task


def _visible_extension(extension_id: int) -> ExtensionRequest:
    extension = _get(ExtensionRequest, extension_id, "延期申请")
    require(extension.can_view(api_user()), "无权查看其他单位的延期申请。")
    return extension


def _visible_completion(completion_id: int) -> CompletionReport:
    completion = _get(CompletionReport, completion_id, "办结报告")
    require(completion.can_view(api_user()), "无权查看与本单位无关的办结报告。")
    return completion


# -- 延期申请 and 办结销号 --------------------------------------------------------------------------------

@api_route(bp, "post", "/reports/<id:report_id>/extension", operation_id="requestExtension",
           summary="延期申请: the lead department asks for a later deadline, before the current one",
           tag="reports", response=s.Extension, status=201, body=s.ExtensionBody, errors=CHANGE,
           load=_visible_report, openapi={"description": "the request, awaiting the office"})
def request_extension(report: Report, body: s.ExtensionBody):
    extension = extension_services.request_extension(
        report, reason=body.reason, new_deadline=body.new_deadline, progress=body.progress, actor=api_user(),
        now=utcnow())
    return s.Extension.of(extension)


@api_route(bp, "post", "/extensions/<id:extension_id>/approve", operation_id="approveExtension",
           summary="approve a 延期申请 (the office): the report's deadline moves", tag="review",
           response=s.Extension, body=s.DecisionBody, body_required=False, errors=CHANGE, load=_visible_extension)
def approve_extension(extension: ExtensionRequest, body: s.DecisionBody):
    extension_services.approve_extension(extension, actor=api_user(), now=utcnow(), comment=body.comment,
                                         version=body.version)
    return s.Extension.of(extension)


@api_route(bp, "post", "/extensions/<id:extension_id>/refuse", operation_id="refuseExtension",
           summary="refuse a 延期申请 with a reason (the office)", tag="review", response=s.Extension,
           body=s.ReasonBody, errors=CHANGE, load=_visible_extension)
def refuse_extension(extension: ExtensionRequest, body: s.ReasonBody):
    extension_services.refuse_extension(extension, body.reason, actor=api_user(), now=utcnow(),
                                        version=body.version)
    return s.Extension.of(extension)


@api_route(bp, "post", "/tasks/<id:task_id>/completion", operation_id="fileCompletion",
           summary="办结报告: the lead department reports the task done and asks for 销号", tag="plans",
           response=s.Completion, status=201, body=s.CompletionBody, multipart=True, errors=(*CHANGE, 413),
           load=_visible_task,
           description="JSON, or multipart/form-data with the same fields (`values` as JSON) and up to 10 "
                       "evidence files as `file` parts; a refused file is a 422 (`errors.files`) and nothing "
                       "is filed",
           openapi={"description": "the completion report, awaiting the office"})
def file_completion(task: Task, body: s.CompletionBody, uploads: list):
    completion = completion_services.file_completion(task, summary=body.summary, values=_values(body.values or {}),
                                                     uploads=uploads, actor=api_user(), now=utcnow())
    return s.Completion.of(completion)


@api_route(bp, "post", "/completions/<id:completion_id>/confirm", operation_id="confirmCompletion",
           summary="销号 (the office): the task closes", tag="review", response=s.Completion, body=s.DecisionBody,
           body_required=False, errors=CHANGE, load=_visible_completion)
def confirm_completion(completion: CompletionReport, body: s.DecisionBody):
    completion_services.confirm_completion(completion, actor=api_user(), now=utcnow(), comment=body.comment,
                                           version=body.version)
    return s.Completion.of(completion)


@api_route(bp, "post", "/completions/<id:completion_id>/return", operation_id="returnCompletion",
           summary="return a 办结报告 with a reason (the office)", tag="review", response=s.Completion,
           body=s.ReasonBody, errors=CHANGE, load=_visible_completion)
def return_completion(completion: CompletionReport, body: s.ReasonBody):
    completion_services.return_completion(completion, body.reason, actor=api_user(), now=utcnow(),
                                          version=body.version)
    return s.Completion.of(completion)


@api_route(bp, "post", "/tasks/<id:task_id>/reopen", operation_id="reopenTask",
           summary="reopen a closed task with a reason (the office): periods resume from the next one",
           tag="review", response=s.Task, body=s.ReasonBody, errors=CHANGE, load=_visible_task)
def reopen_task(task: Task, body: s.ReasonBody):
    closure.reopen_task(task, actor=api_user(), now=utcnow(), reason=body.reason)
    return s.Task.of(task)


# -- reports ---------------------------------------------------------------------------------------------

@api_route(bp, "get", "/reports", operation_id="listReports", summary="reports the caller may see", tag="reports",
           response=s.ReportSummaryPage, query=s.ReportQuery)
def list_reports(query: s.ReportQuery):
    now = utcnow()
    department = department_arg(query.department)
    assignment_services.open_all_due_periods(now=now)
    today, calendar = local(now).date(), office_calendar()
    filters = {"overdue_before": overdue_before(today, calendar), "period": query.period, "status": query.status,
               "department": department, "task_code": query.task_code, "overdue": query.overdue,
               "plan_id": query.plan_id}
    stmt = report_queries.visible_reports(api_user(), **filters)
    count_from = report_queries.visible_reports(api_user(), **filters, ordered=False)
    return s.ReportSummaryPage.of(_paginate(stmt, query, count_from=count_from),
                                  lambda r: s.ReportSummary.of(r, late=days_late(r, today, calendar)))


@api_route(bp, "get", "/reports/<id:report_id>", operation_id="getReport",
           summary="one report with its values, attachments, contributions and last return reason", tag="reports",
           response=s.ReportDetail, errors=(403,))
def get_report(report_id: int):
    return _report_detail(_visible_report(report_id))


REPORT_FIELDS = tuple(s.ReportFields.model_fields)


def _report_input(report: Report, body: s.ReportFields) -> ReportInput:
    """The report as it stands, overlaid with the fields the body carries (a PATCH keeps the others)."""
    data = ReportInput(narrative=report.narrative, percent_complete=report.percent_complete,
                       progress=report.progress, difficulties=report.difficulties, next_steps=report.next_steps,
                       values={v.target_id: v.value for v in report.values})
    for name in ("narrative", "difficulties", "next_steps"):
        if body.given(name):
            setattr(data, name, getattr(body, name) or "")
    for name in ("percent_complete", "progress"):
        if body.given(name):
            setattr(data, name, getattr(body, name))
    if body.values is not None:
        data.values.update(_values(body.values))
    return data


def _values(raw: list[s.ValueInput] | dict) -> dict:
    """[{"target_id", "value"}] (as GET shows them) or {"<target_id>": value}; the service names unknown ids."""
    pairs = raw.items() if isinstance(raw, dict) else ((item.target_id, item.value) for item in raw)
    return {(int(key) if isinstance(key, int) or key.strip().isdecimal() else key): None if value is None else str(value)
            for key, value in pairs}


@api_route(bp, "patch", "/reports/<id:report_id>", operation_id="saveReport",
           summary="save the draft (types checked, gaps allowed)", tag="reports", response=s.ReportDetail,
           body=s.ReportPatch, errors=CHANGE, load=_visible_report,
           description="only the lead department's liaison, while draft or returned")
def save_report(report: Report, body: s.ReportPatch):
    report_services.save_report(report, _report_input(report, body), actor=api_user(), now=utcnow(),
                                version=body.version)
    return _report_detail(report)


@api_route(bp, "post", "/reports/<id:report_id>/submit", operation_id="submitReport",
           summary="submit (completeness checked)", tag="reports", response=s.ReportDetail, body=s.ReportSubmit,
           body_required=False, errors=CHANGE, load=_visible_report)
def submit_report(report: Report, body: s.ReportSubmit):
    """Submit as saved; a body carrying report fields saves them and submits in one step."""
    if any(body.given(name) for name in REPORT_FIELDS):
        report_services.save_report(report, _report_input(report, body), actor=api_user(), now=utcnow(),
                                    version=body.version, submit=True)
    else:
        report_services.submit_report(report, actor=api_user(), now=utcnow(), version=body.version)
    return _report_detail(report)


@api_route(bp, "post", "/reports/<id:report_id>/withdraw", operation_id="withdrawReport",
           summary="撤回: back to draft before the office decides", tag="reports", response=s.ReportDetail,
           body=s.VersionBody, body_required=False, errors=CHANGE, load=_visible_report,
           description="the department's liaison or head, while submitted; 409 once approved or returned")
def withdraw_report(report: Report, body: s.VersionBody):
    report_services.withdraw_report(report, actor=api_user(), now=utcnow(), version=body.version)
    return _report_detail(report)


@api_route(bp, "post", "/reports/<id:report_id>/approve", operation_id="approveReport",
           summary="approve (the office)", tag="review", response=s.ReportDetail, body=s.ApproveBody,
           body_required=False, errors=CHANGE, load=_visible_report)
def approve_report(report: Report, body: s.ApproveBody):
    review_services.approve_report(report, actor=api_user(), now=utcnow(), comment=body.comment or "",
                                   version=body.version)
    return _report_detail(report)


@api_route(bp, "post", "/reports/<id:report_id>/return", operation_id="returnReport",
           summary="return with a reason (the office)", tag="review", response=s.ReportDetail, body=s.ReturnBody,
           errors=CHANGE, load=_visible_report)
def return_report(report: Report, body: s.ReturnBody):
    review_services.return_report(report, actor=api_user(), now=utcnow(), reason=body.reason,
                                  version=body.version)
    return _report_detail(report)


@api_route(bp, "get", "/reports/<id:report_id>/revisions", operation_id="listRevisions",
           summary="every saved revision, oldest first", tag="reports", response=s.RevisionPage, query=s.PageQuery,
           errors=(403,))
def report_revisions(report_id: int, query: s.PageQuery):
    report = _visible_report(report_id)
    return s.RevisionPage.of(_paginate(report_services.revisions_query(report), query))


@api_route(bp, "get", "/reports/<id:report_id>/audit", operation_id="reportAudit",
           summary="the audit trail, oldest first", tag="reports", response=s.AuditEventPage, query=s.PageQuery,
           errors=(403,))
def report_audit(report_id: int, query: s.PageQuery):
    report = _visible_report(report_id)
    return s.AuditEventPage.of(_paginate(queries.report_audit(report), query))


# -- attachments -----------------------------------------------------------------------------------------

def _upload_limit() -> int:
    return int(current_app.config.get("ATTACHMENT_MAX_BYTES") or files.DEFAULT_MAX_BYTES)


def _stream_size(stream) -> int:
    position = stream.tell()
    stream.seek(0, 2)
    size = stream.tell()
    stream.seek(position)
    return size


UPLOAD_BODY = {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": [FILE_PART], "properties": {FILE_PART: FILE}}}}}


@api_route(bp, "post", "/reports/<id:report_id>/attachments", operation_id="uploadAttachment",
           summary="attach a file (multipart/form-data, field `file`)", tag="reports", response=None, status=201,
           errors=(403, 413, 422),
           openapi={"description": "stored", "requestBody": UPLOAD_BODY, "response": {
               "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Attachment"}}},
               "headers": {"Location": {"schema": {"type": "string"}}}}})
def upload_attachment(report_id: int):
    report = _visible_report(report_id)
    require(report.can_edit(api_user()), _("该报告当前不能由您添加附件。"))  # before reading a large body
    upload = request.files.get("file")  # beyond MAX_CONTENT_LENGTH werkzeug answers 413 here
    if upload is None or not upload.filename:
        raise ValidationFailed({"file": _("请以 multipart/form-data 的 file 字段上传文件。")})
    limit = _upload_limit()
    if _stream_size(upload.stream) > limit:
        raise TooLarge(_("文件超过大小上限（%(limit)s MB）。", limit=f"{limit / (1024 * 1024):g}"), max_bytes=limit)
    attachment = report_services.add_attachment(report, upload.stream, upload.filename, actor=api_user(),
                                                now=utcnow())
    response = jsonify(s.Attachment.of(attachment).dump())
    response.status_code = 201
    response.headers["Location"] = url_for("api.download_attachment", attachment_id=attachment.id)
    return response


@api_route(bp, "get", "/attachments/<id:attachment_id>", operation_id="downloadAttachment",
           summary="download an attachment", tag="reports", response=None, errors=(403,),
           openapi={"description": "the file, with a safe Content-Disposition", "response": {"content": {
               "*/*": {"schema": {"type": "string", "contentMediaType": "application/octet-stream"}}}}})
def download_attachment(attachment_id: int):
    attachment = _get(Attachment, attachment_id, pgettext("api object", "附件"))
    if attachment.removed:
        raise NotFound(_("附件 #%(id)s 已删除。", id=attachment_id))
    require(attachment.can_view(api_user()), _("无权下载其他单位的附件。"))
    try:
        response = files.send_stored(report_services.attachment_area(), attachment.sha256,
                                     mimetype=attachment.content_type)
    except FileNotFoundError:
        current_app.logger.error("attachment %s: stored file %s is missing", attachment.id, attachment.sha256)
        raise NotFound(_("附件 #%(id)s 的文件已丢失，请联系管理员。", id=attachment_id)) from None
    response.headers["Content-Disposition"] = files.content_disposition(attachment.filename)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


# -- contributions ---------------------------------------------------------------------------------------

@api_route(bp, "get", "/contributions", operation_id="listContributions",
           summary="contributions (配合情况) the caller may see", tag="contributions", response=s.ContributionPage,
           query=s.ContributionQuery)
def list_contributions(query: s.ContributionQuery):
    department = department_arg(query.department)
    report = db.session.get(Report, query.report_id) if query.report_id else None
    if query.report_id and report is None:
        return s.ContributionPage(items=[], total=0, page=query.page, per_page=query.per_page)
    assignment_services.open_all_due_periods(now=utcnow())
    stmt = report_queries.visible_contributions(api_user(), report=report, department=department,
                                                period=query.period)
    if query.status:
        stmt = stmt.where(Contribution.status == query.status)
    return s.ContributionPage.of(_paginate(stmt, query))


@api_route(bp, "get", "/contributions/<id:contribution_id>", operation_id="getContribution",
           summary="one contribution", tag="contributions", response=s.Contribution, errors=(403,))
def get_contribution(contribution_id: int):
    return s.Contribution.of(_visible_contribution(contribution_id))


@api_route(bp, "patch", "/contributions/<id:contribution_id>", operation_id="saveContribution",
           summary="save the draft text", tag="contributions", response=s.Contribution, body=s.ContributionPatch,
           errors=CHANGE, load=_visible_contribution)
def save_contribution(contribution: Contribution, body: s.ContributionPatch):
    text = contribution.text if not body.given("text") else body.text or ""
    report_services.save_contribution(contribution, text, actor=api_user(), now=utcnow(), version=body.version)
    return s.Contribution.of(contribution)


@api_route(bp, "post", "/contributions/<id:contribution_id>/submit", operation_id="submitContribution",
           summary="submit the contribution (text required)", tag="contributions", response=s.Contribution,
           body=s.ContributionSubmit, body_required=False, errors=CHANGE, load=_visible_contribution)
def submit_contribution(contribution: Contribution, body: s.ContributionSubmit):
    text = contribution.text if not body.given("text") else body.text or ""
    report_services.save_contribution(contribution, text, actor=api_user(), now=utcnow(), version=body.version,
                                      submit=True)
    return s.Contribution.of(contribution)


# -- bulletins (情况通报) ---------------------------------------------------------------------------------

def _published_bulletin(bulletin_id: int) -> Bulletin:
    """Published bulletins are circulated to everyone; a draft is not there (404), as on no list."""
    bulletin = db.session.get(Bulletin, bulletin_id)
    if bulletin is None or not bulletin.published:
        raise NotFound(_("情况通报 #%(id)s 不存在或尚未发布。", id=bulletin_id))
    return bulletin


@api_route(bp, "get", "/bulletins", operation_id="listBulletins", summary="published 情况通报, newest first",
           tag="bulletins", response=s.BulletinPage, query=s.BulletinQuery,
           description="every caller: bulletins are circulated to all departments")
def list_bulletins(query: s.BulletinQuery):
    stmt = bulletin_services.visible_bulletins(api_user(), plan_id=query.plan_id, published_only=True)
    return s.BulletinPage.of(_paginate(stmt, query))


@api_route(bp, "get", "/bulletins/<id:bulletin_id>", operation_id="getBulletin",
           summary="one published bulletin with its figures and files", tag="bulletins", response=s.BulletinDetail)
def get_bulletin(bulletin_id: int):
    return s.BulletinDetail.of(_published_bulletin(bulletin_id))


@api_route(bp, "get", "/bulletins/<id:bulletin_id>/file", operation_id="downloadBulletin",
           summary="a published bulletin's archived PDF or Word file", tag="bulletins", response=None,
           query=s.BulletinFileQuery,
           openapi={"description": "the archived file, the same bytes as its sha256 says", "response": {"content": {
               "application/pdf": {"schema": {"type": "string", "contentMediaType": "application/pdf"}},
               "application/vnd.openxmlformats-officedocument.wordprocessingml.document": {"schema": {
                   "type": "string", "contentMediaType": "application/octet-stream"}}}}})
def download_bulletin(bulletin_id: int, query: s.BulletinFileQuery):
    row = _published_bulletin(bulletin_id).file(query.kind)
    try:
        if row is None:
            raise FileNotFoundError(query.kind)
        response = bulletin_archive.send(row)
    except FileNotFoundError:
        current_app.logger.error("bulletin %s: archived %s is missing", bulletin_id, query.kind)
        raise NotFound(_("情况通报 #%(id)s 的 %(kind)s 文件已丢失，请联系管理员。", id=bulletin_id,
                           kind=query.kind)) from None
    response.headers["Content-Disposition"] = files.content_disposition(row.filename)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response
