"""Domain exceptions shared by every service; views, the API and the CLI turn them into answers.

Messages are translated when raised (services run inside the request's or the CLI's app context), so the
caller receives plain text in the user's language.
"""
from __future__ import annotations

from flask_babel import gettext as _


class DomainError(Exception):
    status = 400

    def __init__(self, message: str, **extra):
        super().__init__(message)
        self.message = message
        self.extra = extra


class PermissionDenied(DomainError):
    status = 403


class NotFound(DomainError):
    status = 404


class Conflict(DomainError):
    """A stale version or a transition from the wrong state; `extra` carries the current version."""

    status = 409


class TooLarge(DomainError):
    status = 413


class ValidationFailed(DomainError):
    """Field errors, keyed by field name; nothing was saved."""

    status = 422

    def __init__(self, errors: dict[str, str], message: str | None = None):
        super().__init__(message or _("提交的内容有误，请按提示修改。"), errors=errors)
        self.errors = errors


def require(condition: bool, message: str | None = None) -> None:
    if not condition:
        raise PermissionDenied(message or _("无权执行此操作。"))
