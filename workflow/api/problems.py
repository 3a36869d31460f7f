"""Request parsing for the API and its errors as RFC 9457 problem details.

Everything here raises a DomainError subclass; the blueprint's error handler turns each into an
`application/problem+json` answer through workflow.errors.problem.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from flask import request

from models import Department
from workflow.domain import DomainError, TooLarge, ValidationFailed  # noqa: F401  (re-exported)

MAX_PER_PAGE = 200
DEFAULT_PER_PAGE = 50
TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}


class BadRequest(DomainError):
    """Malformed JSON, a body that is not an object, or a query parameter that cannot be understood."""

    status = 400


class Unauthorized(DomainError):
    status = 401


# -- query parameters ------------------------------------------------------------------------------------

def _bad_arg(name: str, message: str) -> BadRequest:
    return BadRequest(f"查询参数 {name} 有误：{message}", errors={name: message})


def int_arg(name: str, *, minimum: int = 1, maximum: int | None = None, default: int | None = None) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise _bad_arg(name, "应为整数。") from None
    if value < minimum or (maximum is not None and value > maximum):
        bounds = f"{minimum} 到 {maximum}" if maximum is not None else f"不小于 {minimum}"
        raise _bad_arg(name, f"应为{bounds}的整数。")
    return value


def str_arg(name: str) -> str | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    return raw.strip() or None


def choice_arg(name: str, choices) -> str | None:
    value = str_arg(name)
    allowed = [str(c) for c in choices]
    if value is not None and value not in allowed:
        raise _bad_arg(name, f"应为 {'、'.join(allowed)} 之一。")
    return value


def bool_arg(name: str) -> bool:
    raw = (request.args.get(name) or "").strip().lower()
    if raw in TRUE_WORDS:
        return True
    if raw in FALSE_WORDS:
        return False
    raise _bad_arg(name, "应为 true 或 false。")


def department_arg(name: str = "department") -> Department | None:
    """A department by its canonical name or any alias; an unknown name is a 400, not an empty list."""
    value = str_arg(name)
    if value is None:
        return None
    department = Department.lookup(value)
    if department is None:
        raise _bad_arg(name, f"没有名为“{value}”的单位。")
    return department


@dataclass(frozen=True)
class Page:
    page: int
    per_page: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


def page_args() -> Page:
    """?page= (from 1) and ?per_page= (1–200, default 50); anything else is a 400, never silently clamped."""
    return Page(page=int_arg("page", default=1),
                per_page=int_arg("per_page", maximum=MAX_PER_PAGE, default=DEFAULT_PER_PAGE))


# -- JSON bodies -----------------------------------------------------------------------------------------

def json_body(*, required: bool) -> dict:
    """The request body as a JSON object. An empty body is {} unless `required`; anything else is a 400."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        if required:
            raise BadRequest("请求体不能为空，应为 JSON 对象。")
        return {}
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("请求体不是合法的 JSON。") from None
    if not isinstance(body, dict):
        raise BadRequest("请求体应为 JSON 对象。")
    return body


def text_field(body: dict, name: str, errors: dict[str, str]) -> str | None:
    """An optional string field: absent → None; present but not a string (or null) → a field error."""
    if name not in body:
        return None
    value = body[name]
    if value is None:
        return ""
    if not isinstance(value, str):
        errors[name] = "应为字符串。"
        return None
    return value


def version_field(body: dict, errors: dict[str, str], *, required: bool) -> int | None:
    value = body.get("version")
    if value is None:
        if required:
            errors["version"] = "请提供您编辑的版本号（version），以免覆盖他人的修改。"
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        errors["version"] = "版本号应为正整数。"
        return None
    return value


def raise_if(errors: dict[str, str]) -> None:
    if errors:
        raise ValidationFailed(errors)
