"""The OpenAPI 3.1 document of /api/v1, served at GET /api/v1/openapi.json.

Written by hand next to the views and kept honest by tests: every route is described, every described path
exists, and real responses of every endpoint are validated against the schemas below.
"""
from __future__ import annotations

from copy import deepcopy

DESCRIPTION = """\
督办系统 JSON API：方案、任务、责任单位、任务分工、定期报告、配合情况、审核与审计记录。

* **认证**：`Authorization: Bearer <个人 API 令牌>`（在个人资料页或用 `flask users token USERNAME` 创建）。
  不使用会话 Cookie，因此也不需要 CSRF 令牌。缺少或无效（已撤销、账号停用）的令牌：401。
* **权限**与网页端完全一致：联络员只能看到和操作本单位的任务分工、报告、配合情况和附件，访问其他单位的
  记录得到 403，列表中也永远不会出现；角色无权执行的操作为 403；不存在的编号为 404。
  方案总览（`/plans`）只对领导小组办公室、领导和管理员开放；联络员和部门负责人通过 `/tasks` 看到本单位
  参与的任务。
* **时间**：时间戳为 ISO 8601，统一用 UTC 表示并带偏移量（如 `2026-04-03T01:00:00+00:00`）；
  日期（周期起止、报送期限）为北京时间的日历日 `YYYY-MM-DD`。
* **数值**：指标值、目标值为 JSON 数字（不是字符串）。
* **单位**：查询参数 `department` 接受规范名称或任何别名；响应中的单位一律为规范名称。
* **分页**：列表返回 `{"items": [...], "total": N, "page", "per_page"}`；`page` 从 1 开始，
  `per_page` 默认 50、最大 200。超出范围或不是整数的分页参数不会被悄悄截断，而是返回 400。
* **并发**：报告与配合情况带 `version`；保存（PATCH）时必须带上您编辑的版本号，版本已过期返回 409，
  问题详情中的 `current_version` 为当前版本，已保存的内容不受影响。
* **错误**：RFC 9457 问题详情（`application/problem+json`，含 `status`、`title`、`detail`）；
  422 时 `errors` 按字段给出原因（报告指标值的字段名为 `value-<target_id>`）。
  400：JSON 格式错误、请求体不是对象、查询参数无法识别（如 `per_page=abc`、未知单位名）；
  413：上传文件过大；409：版本过期或当前状态不允许该操作。
"""

STRING = {"type": "string"}
INT = {"type": "integer"}
BOOL = {"type": "boolean"}
NUMBER = {"type": "number"}
NULLABLE_STRING = {"type": ["string", "null"]}
NULLABLE_INT = {"type": ["integer", "null"]}
NULLABLE_NUMBER = {"type": ["number", "null"]}
TIMESTAMP = {"type": ["string", "null"], "format": "date-time",
             "description": "ISO 8601, UTC with offset (+00:00)"}
DATE = {"type": "string", "format": "date"}
STRINGS = {"type": "array", "items": STRING}


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(properties: dict, required: list[str] | None = None, **extra) -> dict:
    """An object schema; every listed property is required unless `required` narrows it."""
    return {"type": "object", "properties": properties,
            "required": list(properties) if required is None else required, **extra}


def nullable(schema: dict) -> dict:
    return {"oneOf": [schema, {"type": "null"}]}


def page_of(name: str) -> dict:
    return obj({"items": {"type": "array", "items": ref(name)}, "total": INT, "page": INT, "per_page": INT})


PROGRESS = {"type": "string", "enum": ["on_track", "at_risk", "behind", "completed"]}
REPORT_STATUS = {"type": "string", "enum": ["draft", "submitted", "returned", "approved"]}
ASSIGNMENT_STATUS = {"type": "string", "enum": ["draft", "pending", "acknowledged", "adjustment", "transferred"]}
CONTRIBUTION_STATUS = {"type": "string", "enum": ["draft", "submitted"]}
ROLE = {"type": "string", "enum": ["admin", "office", "leader", "liaison", "dept_head"]}

SCHEMAS: dict[str, dict] = {
    "Problem": obj({
        "type": STRING, "title": STRING, "status": INT, "detail": STRING,
        "instance": STRING,
        "errors": {"type": "object", "additionalProperties": STRING,
                   "description": "field → reason (422; also on 400 for a bad query parameter)"},
        "current_version": {**INT, "description": "the record's current version (409)"},
        "max_bytes": {**INT, "description": "the upload size limit (413)"},
    }, required=["type", "title", "status", "detail"]),
    "ValidationProblem": {"allOf": [ref("Problem"), {"required": ["errors"]}]},
    "ConflictProblem": {"allOf": [ref("Problem"), {"required": ["current_version"]}]},
    "Me": obj({"id": INT, "username": STRING, "display_name": STRING, "role": ROLE,
               "department": NULLABLE_STRING, "department_id": NULLABLE_INT, "email": NULLABLE_STRING},
              required=["username", "role", "department"]),
    "Department": obj({"id": INT, "name": STRING, "aliases": STRINGS,
                       "kind": {"type": "string", "enum": ["municipal", "county", "zone", "other"]},
                       "active": BOOL}),
    "Target": obj({"id": INT, "year": NULLABLE_INT, "value": NUMBER, "unit": STRING,
                   "comparator": {"type": "string", "enum": [">=", "<=", "~", "="]}, "metric": STRING,
                   "sentence": STRING, "task_id": NULLABLE_INT},
                  required=["id", "year", "value", "unit", "comparator", "metric"]),
    "Period": obj({"id": INT, "key": {**STRING, "examples": ["2026Q1"]}, "label": STRING, "start": DATE,
                   "end": DATE, "deadline": DATE, "computed_deadline": DATE,
                   "deadline_reason": STRING, "opened": BOOL}),
    "PlanSummary": obj({
        "id": INT, "title": STRING, "status": {"type": "string", "enum": ["imported", "published"]},
        "issuing_body": STRING, "valid_from": NULLABLE_INT, "valid_to": NULLABLE_INT, "cadence": STRING,
        "deadline_workdays": INT, "source_filename": STRING, "created_at": TIMESTAMP,
        "published_at": TIMESTAMP, "implied_units": STRINGS, "task_count": INT,
    }),
    "OutlineNode": obj({"id": INT, "code": STRING, "level": INT, "marker": STRING, "title": STRING,
                        "text": STRING, "task_id": NULLABLE_INT, "task_code": NULLABLE_STRING,
                        "children": {"type": "array", "items": ref("OutlineNode")}}),
    "PlanDetail": {"allOf": [ref("PlanSummary"), obj({
        "outline": {"type": "array", "items": ref("OutlineNode")},
        "periods": {"type": "array", "items": ref("Period")},
        "targets": {"type": "array", "items": ref("Target"), "description": "plan-level targets"},
        "tasks": {"type": "array", "items": obj({"id": INT, "code": STRING, "title": STRING})},
    })]},
    "Task": obj({"id": INT, "plan_id": INT, "code": STRING, "title": STRING, "text": STRING, "clause": STRING,
                 "leads": {**STRINGS, "description": "lead departments (牵头), canonical names"},
                 "co": {**STRINGS, "description": "co-responsible departments (配合)"},
                 "implied": {**STRINGS, "description": "units named once for the whole plan"},
                 "targets": {"type": "array", "items": ref("Target")}},
                required=["id", "code", "title", "leads", "co", "targets"]),
    "Adjustment": obj({"id": INT, "assignment_id": INT, "reason": STRING, "proposed_department": STRING,
                       "status": {"type": "string", "enum": ["pending", "accepted", "rejected"]},
                       "requested_at": TIMESTAMP, "decided_at": TIMESTAMP, "decision_reason": STRING}),
    "Assignment": obj({"id": INT, "task_id": INT, "task_code": STRING, "task_title": STRING, "plan_id": INT,
                       "department": STRING, "role": {"type": "string", "enum": ["lead", "co"]},
                       "implied": BOOL, "status": ASSIGNMENT_STATUS, "acknowledged_at": TIMESTAMP,
                       "version": INT, "pending_adjustment": nullable(ref("Adjustment"))},
                      required=["id", "task_id", "task_code", "department", "role", "status"]),
    "AdjustmentCreated": {"allOf": [ref("Adjustment"), obj({"assignment": ref("Assignment")})]},
    "ReportSummary": obj({
        "id": INT, "task_id": INT, "task_code": STRING, "task_title": STRING, "plan_id": INT,
        "department": STRING, "period": {**STRING, "description": "period key, e.g. 2026Q1"},
        "period_label": STRING, "deadline": DATE, "status": REPORT_STATUS, "version": INT,
        "percent_complete": NULLABLE_INT, "progress": nullable(PROGRESS), "overdue": BOOL,
        "days_late": {**INT, "description": "working days past the deadline on the office calendar: to today "
                      "while outstanding, else to the first submission"},
        "submitted_at": TIMESTAMP, "updated_at": TIMESTAMP,
    }, required=["id", "task_id", "task_code", "department", "period", "deadline", "status", "version"]),
    "ReportValue": obj({"target_id": INT, "value": NULLABLE_NUMBER}),
    "Attachment": obj({"id": INT, "report_id": INT, "filename": STRING, "content_type": STRING, "size": INT,
                       "sha256": STRING, "uploaded_at": TIMESTAMP,
                       "url": {**STRING, "description": "download path (GET /api/v1/attachments/{id})"}}),
    "Contribution": obj({
        "id": INT, "task_id": INT, "task_code": STRING, "task_title": STRING, "department": STRING,
        "period": STRING, "period_label": STRING, "deadline": DATE, "status": CONTRIBUTION_STATUS,
        "text": STRING, "version": INT, "submitted_at": TIMESTAMP, "updated_at": TIMESTAMP,
    }),
    "ResubmissionDiff": obj({
        "from_version": INT, "to_version": INT,
        "narrative": {**STRINGS, "description": "ndiff lines: '  ' same, '- ' removed, '+ ' added"},
        "fields": {"type": "object", "additionalProperties": obj({"from": {}, "to": {}})},
        "values": {"type": "array", "items": obj({"target_id": INT, "from": NULLABLE_NUMBER,
                                                  "to": NULLABLE_NUMBER})},
    }),
    "ReportDetail": {"allOf": [ref("ReportSummary"), obj({
        "narrative": STRING, "difficulties": STRING, "next_steps": STRING,
        "values": {"type": "array", "items": ref("ReportValue")},
        "targets": {"type": "array", "items": {"allOf": [ref("Target"), obj({"reported_value": NULLABLE_NUMBER})]},
                    "description": "the task's targets with the value this report gives"},
        "attachments": {"type": "array", "items": ref("Attachment")},
        "contributions": {"type": "array", "items": ref("Contribution"),
                          "description": "the co-departments' contributions for the same task and period"},
        "missing_contributions": {**STRINGS, "description": "departments whose contribution is not submitted"},
        "last_return_reason": {**NULLABLE_STRING, "description": "the office's reason when it last returned it"},
        "return_count": INT, "first_submitted_at": TIMESTAMP, "reviewed_at": TIMESTAMP,
        "resubmission_diff": nullable(ref("ResubmissionDiff")),
        "permissions": obj({"edit": BOOL, "review": BOOL}),
    })]},
    "Revision": obj({"version": INT, "status": REPORT_STATUS, "created_at": TIMESTAMP, "actor": NULLABLE_STRING,
                     "narrative": STRING, "percent_complete": NULLABLE_INT, "progress": nullable(PROGRESS),
                     "difficulties": STRING, "next_steps": STRING,
                     "values": {"type": "array", "items": ref("ReportValue")}}),
    "AuditEvent": obj({"id": INT, "at": TIMESTAMP, "actor": {**NULLABLE_STRING, "description": "username"},
                       "actor_name": NULLABLE_STRING,
                       "action": {**STRING, "examples": ["report.submit", "report.return", "attachment.add"]},
                       "from": NULLABLE_STRING, "to": NULLABLE_STRING, "comment": STRING}),
    # -- request bodies ---------------------------------------------------------------------------------
    "VersionBody": obj({"version": {**INT, "minimum": 1,
                                    "description": "the version you edited; a stale one is 409"}}, required=[]),
    "ReportPatch": obj({
        "version": {**INT, "minimum": 1}, "narrative": STRING,
        "percent_complete": {"type": ["integer", "string", "null"], "description": "0–100"},
        "progress": nullable(PROGRESS), "difficulties": STRING, "next_steps": STRING,
        "values": {"oneOf": [
            {"type": "array", "items": obj({"target_id": INT, "value": {"type": ["number", "string", "null"]}},
                                           required=["target_id"])},
            {"type": "object", "additionalProperties": {"type": ["number", "string", "null"]},
             "description": "target id → value"}]},
    }, required=["version"], description="fields left out keep their saved value"),
    "ReportSubmit": obj({"version": {**INT, "minimum": 1}}, required=[],
                        description="optionally the same fields as PATCH, saved and submitted in one step"),
    "ApproveBody": obj({"version": {**INT, "minimum": 1}, "comment": STRING}, required=[]),
    "ReturnBody": obj({"version": {**INT, "minimum": 1}, "reason": STRING}, required=["reason"]),
    "AdjustmentBody": obj({"reason": STRING, "proposed_department": {
        **STRING, "description": "canonical name or alias of the department that should take the task"},
        "version": {**INT, "minimum": 1}}, required=["reason", "proposed_department"]),
    "ContributionPatch": obj({"version": {**INT, "minimum": 1}, "text": STRING}, required=["version"]),
    "ContributionSubmit": obj({"version": {**INT, "minimum": 1}, "text": STRING}, required=[]),
    "AttachmentUpload": obj({"file": {"type": "string", "contentMediaType": "application/octet-stream",
                                      "description": "pdf, docx, xlsx, jpg or png; type checked from content"}}),
}
SCHEMAS["ReportSubmit"]["properties"].update(
    {k: v for k, v in SCHEMAS["ReportPatch"]["properties"].items() if k != "version"})


def _problem_response(description: str, schema: str = "Problem") -> dict:
    return {"description": description, "content": {"application/problem+json": {"schema": ref(schema)}}}


RESPONSES = {
    "BadRequest": _problem_response("malformed JSON, a body that is not an object, or a bad query parameter"),
    "Unauthorized": _problem_response("no token, or an invalid or revoked one"),
    "Forbidden": _problem_response("another department's record, or an action the caller's role may not take"),
    "NotFound": _problem_response("no such id"),
    "Conflict": _problem_response("stale version, or not allowed in the current state", "ConflictProblem"),
    "TooLarge": _problem_response("the upload is larger than the limit"),
    "Unprocessable": _problem_response("field errors; nothing was saved", "ValidationProblem"),
}


def _param(name: str, where: str, schema: dict, description: str = "", required: bool = False) -> dict:
    param = {"name": name, "in": where, "schema": schema, "required": required or where == "path"}
    if description:
        param["description"] = description
    return param


PARAMETERS = {
    "page": _param("page", "query", {**INT, "minimum": 1, "default": 1}, "page number, from 1"),
    "per_page": _param("per_page", "query", {**INT, "minimum": 1, "maximum": 200, "default": 50},
                       "items per page; outside 1–200 is a 400"),
    "department": _param("department", "query", STRING,
                         "department by canonical name or alias; an unknown name is a 400"),
    "plan_id": _param("plan_id", "query", {**INT, "minimum": 1}),
}


def _p(name: str) -> dict:
    return {"$ref": f"#/components/parameters/{name}"}


def _path_id(name: str) -> dict:
    return _param(name, "path", {**INT, "minimum": 1})


def _json(schema: str) -> dict:
    return {"content": {"application/json": {"schema": ref(schema)}}}


def _ok(schema: str, description: str = "OK") -> dict:
    return {"description": description, **_json(schema)}


def _errors(*codes: int) -> dict:
    names = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 409: "Conflict",
             413: "TooLarge", 422: "Unprocessable"}
    return {str(code): {"$ref": f"#/components/responses/{names[code]}"} for code in (401, *codes)}


def op(summary: str, tag: str, responses: dict, *, params: list | None = None, body: dict | None = None,
       errors: tuple[int, ...] = (), operation_id: str = "", description: str = "") -> dict:
    operation = {"summary": summary, "tags": [tag], "operationId": operation_id,
                 "responses": {**responses, **_errors(*errors)}}
    if description:
        operation["description"] = description
    if params:
        operation["parameters"] = params
    if body:
        operation["requestBody"] = body
    return operation


def _body(schema: str, required: bool = True) -> dict:
    return {"required": required, **_json(schema)}


PAGE = [_p("page"), _p("per_page")]
REPORT_ID = [_path_id("report_id")]
CONTRIBUTION_ID = [_path_id("contribution_id")]
ASSIGNMENT_ID = [_path_id("assignment_id")]

PATHS = {
    "/openapi.json": {"get": {
        "summary": "this document", "tags": ["meta"], "operationId": "openapi", "security": [],
        "responses": {"200": {"description": "the OpenAPI 3.1 document",
                              "content": {"application/json": {"schema": {"type": "object"}}}}}}},
    "/me": {"get": op("the caller", "people", {"200": _ok("Me")}, operation_id="me")},
    "/plans": {"get": op("plans, newest first", "plans", {"200": _ok("PlanPage")}, params=PAGE,
                         errors=(400, 403), operation_id="listPlans",
                         description="office, leaders and admins (the web UI's plan overview); others 403")},
    "/plans/{plan_id}": {"get": op("one plan with its outline, periods and plan-level targets", "plans",
                                   {"200": _ok("PlanDetail")}, params=[_path_id("plan_id")], errors=(403, 404),
                                   operation_id="getPlan")},
    "/tasks": {"get": op("tasks the caller may see", "plans", {"200": _ok("TaskPage")}, params=[
        _p("plan_id"), _p("department"),
        _param("q", "query", STRING, "a task code, or words in its title or text"), *PAGE],
        errors=(400,), operation_id="listTasks",
        description="liaisons and department heads see the tasks their department has a part in")},
    "/tasks/{task_id}": {"get": op("one task", "plans", {"200": _ok("Task")}, params=[_path_id("task_id")],
                                   errors=(403, 404), operation_id="getTask")},
    "/departments": {"get": op("departments with aliases and kind", "plans", {"200": _ok("DepartmentPage")},
                               params=PAGE, errors=(400,), operation_id="listDepartments")},
    "/assignments": {"get": op("assignments the caller may see (lead first)", "assignments",
                               {"200": _ok("AssignmentPage")}, params=[
                                   _p("department"), _param("status", "query", ASSIGNMENT_STATUS), _p("plan_id"),
                                   *PAGE], errors=(400,), operation_id="listAssignments")},
    "/assignments/{assignment_id}": {"get": op("one assignment", "assignments", {"200": _ok("Assignment")},
                                               params=ASSIGNMENT_ID, errors=(403, 404),
                                               operation_id="getAssignment")},
    "/assignments/{assignment_id}/acknowledge": {"post": op(
        "签收: the department's liaison acknowledges a pending assignment", "assignments",
        {"200": _ok("Assignment")}, params=ASSIGNMENT_ID, body=_body("VersionBody", required=False),
        errors=(400, 403, 404, 409, 422), operation_id="acknowledgeAssignment")},
    "/assignments/{assignment_id}/adjustment": {"post": op(
        "申请调整: not our responsibility; the office decides", "assignments",
        {"201": _ok("AdjustmentCreated", "the adjustment request, awaiting the office")}, params=ASSIGNMENT_ID,
        body=_body("AdjustmentBody"), errors=(400, 403, 404, 409, 422), operation_id="requestAdjustment")},
    "/reports": {"get": op("reports the caller may see", "reports", {"200": _ok("ReportSummaryPage")}, params=[
        _param("period", "query", STRING, "period key, e.g. 2026Q1"), _param("status", "query", REPORT_STATUS),
        _p("department"), _param("task_code", "query", STRING, "e.g. 3.4.3"),
        _param("overdue", "query", {"type": "boolean"}, "past the deadline and not submitted"), _p("plan_id"),
        *PAGE], errors=(400,), operation_id="listReports")},
    "/reports/{report_id}": {
        "get": op("one report with its values, attachments, contributions and last return reason", "reports",
                  {"200": _ok("ReportDetail")}, params=REPORT_ID, errors=(403, 404), operation_id="getReport"),
        "patch": op("save the draft (types checked, gaps allowed)", "reports", {"200": _ok("ReportDetail")},
                    params=REPORT_ID, body=_body("ReportPatch"), errors=(400, 403, 404, 409, 422),
                    operation_id="saveReport",
                    description="only the lead department's liaison, while draft or returned"),
    },
    "/reports/{report_id}/submit": {"post": op(
        "submit (completeness checked)", "reports", {"200": _ok("ReportDetail")}, params=REPORT_ID,
        body=_body("ReportSubmit", required=False), errors=(400, 403, 404, 409, 422), operation_id="submitReport")},
    "/reports/{report_id}/approve": {"post": op(
        "approve (the office)", "review", {"200": _ok("ReportDetail")}, params=REPORT_ID,
        body=_body("ApproveBody", required=False), errors=(400, 403, 404, 409, 422), operation_id="approveReport")},
    "/reports/{report_id}/return": {"post": op(
        "return with a reason (the office)", "review", {"200": _ok("ReportDetail")}, params=REPORT_ID,
        body=_body("ReturnBody"), errors=(400, 403, 404, 409, 422), operation_id="returnReport")},
    "/reports/{report_id}/revisions": {"get": op(
        "every saved revision, oldest first", "reports", {"200": _ok("RevisionPage")}, params=[*REPORT_ID, *PAGE],
        errors=(400, 403, 404), operation_id="listRevisions")},
    "/reports/{report_id}/audit": {"get": op(
        "the audit trail, oldest first", "reports", {"200": _ok("AuditEventPage")}, params=[*REPORT_ID, *PAGE],
        errors=(400, 403, 404), operation_id="reportAudit")},
    "/reports/{report_id}/attachments": {"post": op(
        "attach a file (multipart/form-data, field `file`)", "reports",
        {"201": {**_ok("Attachment", "stored"), "headers": {"Location": {"schema": STRING}}}}, params=REPORT_ID,
        body={"required": True, "content": {"multipart/form-data": {"schema": ref("AttachmentUpload")}}},
        errors=(403, 404, 413, 422), operation_id="uploadAttachment")},
    "/attachments/{attachment_id}": {"get": op(
        "download an attachment", "reports", {"200": {
            "description": "the file, with a safe Content-Disposition",
            "content": {"*/*": {"schema": {"type": "string", "contentMediaType": "application/octet-stream"}}}}},
        params=[_path_id("attachment_id")], errors=(403, 404), operation_id="downloadAttachment")},
    "/contributions": {"get": op("contributions (配合情况) the caller may see", "contributions",
                                 {"200": _ok("ContributionPage")}, params=[
                                     _param("report_id", "query", {**INT, "minimum": 1},
                                            "the contributions for that report's task and period"),
                                     _p("department"), _param("period", "query", STRING),
                                     _param("status", "query", CONTRIBUTION_STATUS), *PAGE],
                                 errors=(400,), operation_id="listContributions")},
    "/contributions/{contribution_id}": {
        "get": op("one contribution", "contributions", {"200": _ok("Contribution")}, params=CONTRIBUTION_ID,
                  errors=(403, 404), operation_id="getContribution"),
        "patch": op("save the draft text", "contributions", {"200": _ok("Contribution")}, params=CONTRIBUTION_ID,
                    body=_body("ContributionPatch"), errors=(400, 403, 404, 409, 422),
                    operation_id="saveContribution"),
    },
    "/contributions/{contribution_id}/submit": {"post": op(
        "submit the contribution (text required)", "contributions", {"200": _ok("Contribution")},
        params=CONTRIBUTION_ID, body=_body("ContributionSubmit", required=False),
        errors=(400, 403, 404, 409, 422), operation_id="submitContribution")},
}

for _name in ("Plan", "Task", "Department", "Assignment", "ReportSummary", "Revision", "AuditEvent",
              "Contribution"):
    SCHEMAS[f"{_name}Page"] = page_of("PlanSummary" if _name == "Plan" else _name)


def build_document() -> dict:
    return deepcopy({
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "info": {"title": "督办系统 API", "version": "1.0.0", "description": DESCRIPTION},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearerAuth": []}],
        "tags": [{"name": n} for n in ("meta", "people", "plans", "assignments", "reports", "review",
                                       "contributions")],
        "paths": PATHS,
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                               "description": "personal API token (dbt_...)"}},
            "schemas": SCHEMAS, "responses": RESPONSES, "parameters": PARAMETERS,
        },
    })
