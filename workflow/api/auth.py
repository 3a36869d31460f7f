"""Bearer-token authentication for /api/v1: `Authorization: Bearer <personal token>`, never a session cookie."""
from __future__ import annotations

from flask import g, request
from flask_babel import gettext as _

from models import User
from workflow.api.problems import Unauthorized
from workflow.auth.tokens import user_for_token
from workflow.clock import utcnow

# Endpoints anyone may read without a token (the API's own description).
PUBLIC_ENDPOINTS = {"api.openapi_document"}


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def authenticate() -> None:
    """before_request: put the token's user on `g.api_user` or answer 401."""
    if request.endpoint in PUBLIC_ENDPOINTS or request.endpoint is None:
        return
    token = bearer_token()
    if token is None:
        raise Unauthorized(_("缺少访问令牌：请在 Authorization 头中以 “Bearer 令牌” 的形式提供个人 API 令牌。"))
    user = user_for_token(token, now=utcnow())
    if user is None:
        raise Unauthorized(_("访问令牌无效、已撤销，或其所属账号已停用。"))
    g.api_user = user


def api_user() -> User:
    return g.api_user
