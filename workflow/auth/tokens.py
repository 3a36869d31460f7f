"""Personal API tokens: random, shown once, stored as sha256, revocable."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import select

from models import ApiToken, User
from models.audit import record
from workflow.domain import NotFound, require
from workflow.extensions import db

PREFIX = "dbt_"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(user: User, *, name: str = "", now: datetime, actor: User | None = None) -> tuple[ApiToken, str]:
    """Returns the row and the token itself, which is never stored and cannot be shown again."""
    require(actor is None or actor.id == user.id, "只能为自己创建令牌。")
    token = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user=user, name=(name or "").strip()[:100], token_hash=_hash(token), prefix=token[:12],
                   created_at=now)
    db.session.add(row)
    db.session.flush()
    record("token.create", row, actor=actor, now=now, comment=row.name)
    db.session.commit()
    return row, token


def user_for_token(token: str, *, now: datetime) -> User | None:
    """The active user owning an unrevoked token, or None; notes when it was last used."""
    if not token or not token.startswith(PREFIX):
        return None
    row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _hash(token)))
    if row is None or row.revoked_at is not None or not row.user.active:
        return None
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
        row.last_used_at = now
        db.session.commit()
    return row.user


def revoke_token(token_id: int, *, actor: User, now: datetime) -> ApiToken:
    row = db.session.get(ApiToken, token_id)
    if row is None:
        raise NotFound("令牌不存在。")
    require(row.user_id == actor.id or actor.is_admin, "只能撤销自己的令牌。")
    if row.revoked_at is None:
        row.revoked_at = now
        record("token.revoke", row, actor=actor, now=now)
        db.session.commit()
    return row


def tokens_of(user: User) -> list[ApiToken]:
    return list(db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())))
