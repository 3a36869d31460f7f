"""The OpenAPI 3.1 document of /api/v1, served at GET /api/v1/openapi.json, built from the operations the views
declare (workflow.api.operations) and the pydantic models they read and answer with (workflow.api.schemas)."""
from __future__ import annotations

from pydantic.json_schema import models_json_schema

from workflow.api import schemas
from workflow.api.operations import OPERATIONS, Operation
from workflow.api.problems import FILE_PART, json_fields
from workflow.converters import MAX_ID

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
* **数值**：指标值、目标值为 JSON 数字（不是字符串）；请求中的数字必须是有限值（不接受 NaN、Infinity、1e400）。
* **单位**：查询参数 `department` 接受规范名称或任何别名；响应中的单位一律为规范名称。
* **分页**：列表返回 `{"items": [...], "total": N, "page", "per_page"}`；`page` 从 1 开始，
  `per_page` 默认 50、最大 200。超出范围、为空或不是整数的分页参数不会被悄悄截断，而是返回 400。
* **并发**：报告与配合情况带 `version`；保存（PATCH）时必须带上您编辑的版本号，版本已过期返回 409，
  问题详情中的 `current_version` 为当前版本，已保存的内容不受影响。
* **错误**：RFC 9457 问题详情（`application/problem+json`，含 `status`、`title`、`detail`）；
  422 时 `errors` 按字段给出原因（报告指标值的字段名为 `value-<target_id>`；类型错误按字段路径，如
  `values.0.value`）；字符串不能含 NUL 字符或孤立的代理项（422）。
  400：JSON 格式错误、请求体不是对象或嵌套超过 32 层、查询参数无法识别（如 `per_page=abc`、未知单位名）；
  413：上传文件过大；409：版本过期或当前状态不允许该操作；编号超出 1 到 2^31-1 为 404。
"""

PROBLEM_RESPONSES = {
    400: ("BadRequest", "malformed JSON, a body that is not an object or nests too deep, or a bad query parameter",
          schemas.Problem),
    401: ("Unauthorized", "no token, or an invalid or revoked one", schemas.Problem),
    403: ("Forbidden", "another department's record, or an action the caller's role may not take", schemas.Problem),
    404: ("NotFound", "no such id", schemas.Problem),
    409: ("Conflict", "stale version, or not allowed in the current state", schemas.ConflictProblem),
    413: ("TooLarge", "the upload is larger than the limit", schemas.Problem),
    422: ("Unprocessable", "field errors; nothing was saved", schemas.ValidationProblem),
}
# An uploaded file, as a part of a multipart/form-data body.
FILE = {"type": "string", "contentMediaType": "application/octet-stream",
        "description": "pdf, docx, xlsx, jpg or png; type checked from content"}
TAGS = ("meta", "people", "plans", "assignments", "reports", "review", "contributions", "bulletins")


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(model) -> dict:
    return {"content": {"application/json": {"schema": ref(model.__name__)}}}


def _form(model, defs: dict) -> dict:
    """The body's fields as parts (those taking an object or a list as JSON) and any number of `file` parts."""
    schema = {k: v for k, v in defs[model.__name__].items() if k in ("properties", "required")}
    schema["properties"] = {**schema["properties"], FILE_PART: {"type": "array", "items": FILE}}
    return {"schema": {"type": "object", **schema},
            "encoding": {name: {"contentType": "application/json"} for name in sorted(json_fields(model))}}


def _query_parameter(name: str, prop: dict) -> dict:
    """A query model's property as a parameter: never null (an absent parameter is the default)."""
    schema = {k: v for k, v in prop.items() if k not in ("title", "description", "default")}
    if "anyOf" in schema:
        [schema] = [branch for branch in schema["anyOf"] if branch != {"type": "null"}]
    if prop.get("default") is not None:
        schema = {**schema, "default": prop["default"]}
    parameter = {"name": name, "in": "query", "required": False, "schema": schema}
    if prop.get("description"):
        parameter["description"] = prop["description"]
    return parameter


def _statuses(op: Operation) -> list[int]:
    implied = {401} if not op.public else set()
    if op.query is not None or op.body is not None:
        implied.add(400)
    if op.body is not None:
        implied.add(422)
    if op.path_parameters:
        implied.add(404)
    return sorted(implied | set(op.errors))


def _operation(op: Operation, defs: dict) -> dict:
    parameters = [{"name": name, "in": "path", "required": True,
                   "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID}} for name in op.path_parameters]
    if op.query is not None:
        properties = defs[op.query.__name__]["properties"]
        parameters += [_query_parameter(name, prop) for name, prop in properties.items()]
    success = {"description": op.openapi.get("description", "OK"),
               **(_json(op.response) if op.response is not None else {}),
               **op.openapi.get("response", {})}
    operation = {"summary": op.summary, "tags": [op.tag], "operationId": op.operation_id,
                 "responses": {str(op.status): success}}
    operation["responses"] |= {str(code): {"$ref": f"#/components/responses/{PROBLEM_RESPONSES[code][0]}"}
                               for code in _statuses(op)}
    if op.description:
        operation["description"] = op.description
    if op.public:
        operation["security"] = []
    if parameters:
        operation["parameters"] = parameters
    if op.body is not None:
        operation["requestBody"] = {"required": op.body_required, **_json(op.body)}
        if op.multipart:
            operation["requestBody"]["content"]["multipart/form-data"] = _form(op.body, defs)
    elif "requestBody" in op.openapi:
        operation["requestBody"] = op.openapi["requestBody"]
    return operation


def build_document() -> dict:
    responses = {op.response for op in OPERATIONS if op.response is not None}
    responses |= {model for _, _, model in PROBLEM_RESPONSES.values()}
    requests = {op.body for op in OPERATIONS if op.body is not None}
    queries = {op.query for op in OPERATIONS if op.query is not None}
    inputs = [(m, "serialization") for m in sorted(responses, key=lambda m: m.__name__)]
    inputs += [(m, "validation") for m in sorted(requests | queries, key=lambda m: m.__name__)]
    _, top = models_json_schema(inputs, ref_template="#/components/schemas/{model}")
    defs = top["$defs"]
    paths: dict[str, dict] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = _operation(op, defs)
    for model in queries:  # described as parameters, not as a body
        del defs[model.__name__]
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "info": {"title": "督办系统 API", "version": "1.0.0", "description": DESCRIPTION},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearerAuth": []}],
        "tags": [{"name": name} for name in TAGS],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                               "description": "personal API token (dbt_...)"}},
            "schemas": defs,
            "responses": {name: {"description": description,
                                 "content": {"application/problem+json": {"schema": ref(model.__name__)}}}
                          for name, description, model in PROBLEM_RESPONSES.values()},
        },
    }
