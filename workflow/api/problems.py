"""Reading a request (a JSON body, a multipart form, query parameters) into the models of workflow.api.schemas,
and its errors as RFC 9457 problem details.

Everything here raises a DomainError subclass; the blueprint's error handler turns each into an
`application/problem+json` answer through workflow.errors.problem.
"""
from __future__ import annotations

import json
import re
from functools import cache
from typing import TypeVar

from flask import request
from flask_babel import gettext as _
from pydantic import BaseModel, ValidationError
from werkzeug.datastructures import FileStorage

from models import Department
from workflow.domain import DomainError, TooLarge, ValidationFailed  # noqa: F401  (re-exported)

MAX_JSON_DEPTH = 32
UNION_TAGS = {"int", "float", "str", "bool", "none"}
Q = TypeVar("Q", bound=BaseModel)
B = TypeVar("B", bound=BaseModel)


class BadRequest(DomainError):
    """Malformed JSON, a body that is not an object, or a query parameter that cannot be understood."""

    status = 400


class Unauthorized(DomainError):
    status = 401


# -- pydantic errors as field errors ---------------------------------------------------------------------

def _message(error: dict) -> str:
    kind = error["type"]
    if kind == "value_error":  # our own validators name the rule they enforce
        kind = str(error["ctx"]["error"])
    ctx = error.get("ctx") or {}
    messages = {
        "missing": lambda: _("必须提供此项。"),
        "int_type": lambda: _("应为整数。"),
        "int_parsing": lambda: _("应为整数。"),
        "int_from_float": lambda: _("应为整数。"),
        "string_type": lambda: _("应为字符串。"),
        "bool_parsing": lambda: _("应为 true 或 false。"),
        "bool_type": lambda: _("应为 true 或 false。"),
        "number_type": lambda: _("应为数字或数字字符串。"),
        "finite_number": lambda: _("应为有限的数字（不接受 NaN、Infinity 或超出范围的数）。"),
        "greater_than_equal": lambda: _("应不小于 %(limit)s。", limit=ctx.get("ge")),
        "less_than_equal": lambda: _("应不大于 %(limit)s。", limit=ctx.get("le")),
        "enum": lambda: _("应为 %(choices)s 之一。", choices="、".join(re.findall(r"'([^']*)'", ctx.get("expected", "")))),
        "text_nul": lambda: _("不能包含 NUL 字符。"),
        "text_surrogate": lambda: _("含有无效的 Unicode 字符（孤立的代理项）。"),
    }
    return messages.get(kind, lambda: _("格式不正确。"))()


def _path(loc: tuple) -> str:
    """("values", "list[ValueInput]", 0, "value") → "values.0.value": without the union branch tags pydantic adds,
    and printable even where the caller sent an unpaired surrogate as a key."""
    parts = [str(p) for p in loc if not (isinstance(p, str) and ("[" in p or p in UNION_TAGS))]
    return ".".join(parts).encode("utf-8", "backslashreplace").decode() or "body"


def field_errors(exc: ValidationError) -> dict[str, str]:
    """{"percent_complete": "...", "values.0.value": "..."}: one reason per field, the most specific one (a
    union's "not a list" is dropped when its list branch says which item is wrong)."""
    errors: dict[str, str] = {}
    for error in exc.errors(include_url=False):
        errors.setdefault(_path(error["loc"]), _message(error))
    return {name: message for name, message in errors.items()
            if not any(other.startswith(name + ".") for other in errors)}


# -- query parameters ------------------------------------------------------------------------------------

def parse_query(model: type[Q]) -> Q:
    try:
        return model.model_validate(request.args.to_dict())
    except ValidationError as exc:
        errors = field_errors(exc)
        listed = "；".join(f"{name}：{message}" for name, message in errors.items())
        raise BadRequest(_("查询参数有误：%(errors)s", errors=listed), errors=errors) from None


def department_arg(name: str | None, field: str = "department") -> Department | None:
    """A department by its canonical name or any alias; an unknown name is a 400, not an empty list."""
    if name is None:
        return None
    department = Department.lookup(name)
    if department is None:
        message = _("没有名为“%(name)s”的单位。", name=name)
        raise BadRequest(_("查询参数 %(field)s 有误：%(message)s", field=field, message=message),
                         errors={field: message})
    return department


# -- JSON bodies -----------------------------------------------------------------------------------------

def _too_deep(value, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth > limit:
                return True
            stack.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))
    return False


def _loads(raw: bytes | str):
    """JSON text as a value, nested no deeper than MAX_JSON_DEPTH; anything else is a 400."""
    try:
        value = json.loads(raw)
    except RecursionError:
        raise BadRequest(_("请求体嵌套过深（最多 %(limit)s 层）。", limit=MAX_JSON_DEPTH)) from None
    except (UnicodeDecodeError, ValueError):
        raise BadRequest(_("请求体不是合法的 JSON。")) from None
    if _too_deep(value, MAX_JSON_DEPTH):
        raise BadRequest(_("请求体嵌套过深（最多 %(limit)s 层）。", limit=MAX_JSON_DEPTH))
    return value


def json_body(*, required: bool) -> dict:
    """The request body as a JSON object. An empty body is {} unless `required`; anything else is a 400."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        if required:
            raise BadRequest(_("请求体不能为空，应为 JSON 对象。"))
        return {}
    body = _loads(raw)
    if not isinstance(body, dict):
        raise BadRequest(_("请求体应为 JSON 对象。"))
    return body


def _validated(model: type[B], data: dict) -> B:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed(field_errors(exc)) from None


def parse_body(model: type[B], *, required: bool) -> B:
    """The body as `model`: not JSON or not an object is a 400, a field of the wrong type a 422."""
    return _validated(model, json_body(required=required))


# -- multipart/form-data bodies --------------------------------------------------------------------------

FILE_PART = "file"


@cache
def json_fields(model: type[BaseModel]) -> frozenset[str]:
    """The fields that take an object or a list: OpenAPI sends those as JSON parts."""
    def structured(schema: dict) -> bool:
        return schema.get("type") in ("array", "object") or "$ref" in schema or \
            any(structured(branch) for branch in schema.get("anyOf", ()))

    return frozenset(name for name, schema in model.model_json_schema()["properties"].items() if structured(schema))


def parse_form(model: type[B]) -> tuple[B, list[FileStorage]]:
    """A multipart/form-data body as `model`, and its `file` parts: each field is a part of its name (one that
    takes an object or a list is JSON, the whole value in one part or, for a list, one part per item, as OpenAPI
    encodes it), validated as the JSON body is, with the same 400 and 422 problems. Files are the service's to
    check and store."""
    structured = json_fields(model)
    data = {}
    for name in model.model_fields:
        parts = request.form.getlist(name)  # beyond MAX_CONTENT_LENGTH werkzeug answers 413 here
        if name in structured:
            parts = [_loads(part) for part in parts]
        if parts:
            data[name] = parts[0] if len(parts) == 1 else parts
    return _validated(model, data), request.files.getlist(FILE_PART)
