"""Errors are answers: a friendly page in the UI, problem details (RFC 9457) under /api/."""
from flask import Flask, abort, jsonify, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from workflow.extensions import db

TITLES = {
    400: _l("请求有误"),
    401: _l("需要登录"),
    403: _l("无权访问"),
    404: _l("页面不存在"),
    409: _l("数据冲突"),
    413: _l("文件过大"),
    422: _l("内容有误"),
    500: _l("系统错误"),
}


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


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        if _wants_json():
            return problem(400, error.description)
        return render_template("errors/error.html", status=400, title=_l("表单已过期"),
                               detail=_l("页面停留时间过长或表单已失效，请返回重新提交。")), 400

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

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        db.session.rollback()
        app.logger.exception("unhandled error")
        if _wants_json():
            return problem(500, str(_l("服务器内部错误，已记录。")))
        return render_template("errors/error.html", status=500, title=TITLES[500],
                               detail=InternalServerError.description), 500
