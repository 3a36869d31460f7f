"""Domain exceptions shared by every service; views, the API and the CLI turn them into answers."""
from __future__ import annotations


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

    def __init__(self, errors: dict[str, str], message: str = "提交的内容有误，请按提示修改。"):
        super().__init__(message, errors=errors)
        self.errors = errors


def require(condition: bool, message: str = "无权执行此操作。") -> None:
    if not condition:
        raise PermissionDenied(message)
