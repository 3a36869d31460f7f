"""Errors are answers: a friendly page in the UI, problem details (RFC 9457) under /api/.

A service's refusal (workflow.domain.DomainError) that a view does not answer itself reaches `domain_error`: a
refused POST goes back to the page its form was on with the message flashed. Views that re-render a form so
that what was typed stays use `refused()`."""
from __future__ import annotations

from contextlib import suppress
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, flash, g, jsonify, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from werkzeug.exceptions import HTTPException, InternalServerError, MethodNotAllowed, NotFound

from forms import apply_errors
from workflow.domain import DomainError, PermissionDenied, ValidationFailed
from workflow.domain import NotFound as Missing
from workflow.extensions import db, login_manager

TITLES = {
    400: _l("请求有误"),
    401: _l("需要登录"),
    403: _l("无权访问"),
    404: _l("页面不存在"),
    409: _l("数据冲突"),
    413: _l("文件过大"),
    422: _l("内容有误"),
    500: _l("系统错误"),
    503: _l("系统暂时不可用"),
}
RETRY_AFTER_SECONDS = 30


def forbid_unless(allowed: bool) -> None:
    """A view's permission check: the rule is a model method (report.can_view(user), ...), the answer a 403."""
    if not allowed:
        abort(403)


def problem(status: int, detail: str = "", **extra):
    body = {"type": "about:blank", "status": status, "title": str(TITLES.get(status, _l("错误"))), "detail": detail, **extra}
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def require_valid(form) -> None:
    """A form that does not validate becomes a ValidationFailed with its first error per field, so a view
    handles it in the same `except DomainError` as the service's own refusals (`refused` puts them back)."""
    if not form.validate():
        raise ValidationFailed({name: str(errors[0]) for name, errors in form.errors.items()})


def refused(exc: DomainError, form=None) -> dict[str, str]:
    """A service said no to a view that re-renders its page: roll back what the call began. A ValidationFailed's
    field errors go onto `form` (when given) and are returned, for pages that show them per row; any other
    refusal is flashed and {} is returned. The caller renders with `exc.status`."""
    db.session.rollback()
    if isinstance(exc, ValidationFailed):
        if form is not None:
            apply_errors(form, exc.errors)
        return exc.errors
    flash(exc.message, "error")
    return {}


def _readable(path: str) -> bool:
    """A page of ours that answers GET (a form re-rendered at its POST-only address is not one)."""
    try:
        current_app.url_map.bind(request.host).match(path, method="GET")
    except (NotFound, MethodNotAllowed):
        return False
    except HTTPException:  # a redirect (trailing slash): still a page
        pass
    return True


def back_url() -> str:
    """The page a refused form was on: a same-site Referer that answers GET, else the home page."""
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc == request.host and referrer.path.startswith("/") and _readable(referrer.path):
        return referrer.path + (f"?{referrer.query}" if referrer.query else "")
    return url_for("dashboard.home")


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        if _wants_json():
            return problem(400, error.description)
        return render_template("errors/error.html", status=400, title=_l("表单已过期"),
                               detail=_l("页面停留时间过长或表单已失效，请返回重新提交。")), 400

    @app.errorhandler(DomainError)
    def domain_error(error: DomainError):
        """Missing or forbidden: its error page. Any other refusal of a POST: the message flashed on the page the
        form was on (303). On a GET there is no form to go back to: the error page with the status."""
        db.session.rollback()
        if _wants_json():
            return problem(error.status, error.message)
        if request.method in ("GET", "HEAD") or isinstance(error, (Missing, PermissionDenied)):
            return render_template("errors/error.html", status=error.status,
                                   title=TITLES.get(error.status, _l("错误")), detail=error.message), error.status
        flash(error.message, "error")
        return redirect(back_url(), 303)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        status = error.code or 500
        # the exception's own headers say what the status means (Allow on a 405, Retry-After ...)
        headers = [(k, v) for k, v in error.get_headers() if k.lower() != "content-type"]
        if _wants_json():
            response = problem(status, error.description or "")
            response.headers.extend(headers)
            return response
        return render_template("errors/error.html", status=status, title=TITLES.get(status, error.name),
                               detail=error.description if status != 404 else ""), status, headers

    @app.errorhandler(OperationalError)
    def database_unavailable(error: OperationalError):
        """The database is restarting or unreachable: a 503 that says to retry, never a traceback. The
        transaction was never committed, so nothing acknowledged is lost; pool_pre_ping reconnects after."""
        with suppress(SQLAlchemyError):
            db.session.rollback()
        app.logger.warning("database unavailable: %s", getattr(error, "orig", error))
        g._login_user = login_manager.anonymous_user()  # the page must not look the user up
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
        if _wants_json():
            response = problem(503, str(_l("数据库暂时无法连接，请稍后重试。")))
            response.headers.update(headers)
            return response
        return render_template("errors/unavailable.html"), 503, headers

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        db.session.rollback()
        app.logger.exception("unhandled error")
        if _wants_json():
            return problem(500, str(_l("服务器内部错误，已记录。")))
        return render_template("errors/error.html", status=500, title=TITLES[500],
                               detail=InternalServerError.description), 500
