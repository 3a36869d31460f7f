"""Authentication: checking credentials without telling an attacker which half was wrong, or which names exist."""
from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache

from flask import current_app
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from models import User
from workflow.extensions import db


@cache
def _dummy_hash(method: str) -> str:
    return generate_password_hash("no such user", method=method)


def authenticate(username: str, password: str, *, now: datetime) -> User | None:
    """The user, or None. An unknown name costs a hash check like a known one; LOGIN_MAX_FAILURES wrong
    passwords in a row lock the account for LOGIN_LOCKOUT_MINUTES, even against the right password."""
    config = current_app.config
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        check_password_hash(_dummy_hash(config.get("PASSWORD_HASH_METHOD", "scrypt")), password)
        return None
    correct = user.check_password(password)
    if user.is_locked(now):
        return None
    if not correct:
        user.failed_logins = (user.failed_logins or 0) + 1
        if user.failed_logins >= config["LOGIN_MAX_FAILURES"]:
            user.locked_until, user.failed_logins = now + timedelta(minutes=config["LOGIN_LOCKOUT_MINUTES"]), 0
        db.session.commit()
        return None
    if not user.active:
        return None
    if user.failed_logins or user.locked_until:
        user.failed_logins, user.locked_until = 0, None
        db.session.commit()
    return user
