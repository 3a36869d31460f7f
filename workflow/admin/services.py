"""Accounts: created by the demo loader, the CLI and (later) the admin pages through the same function."""
from datetime import datetime

from sqlalchemy import select

from models import Department, Role, User
from workflow.extensions import db


class AccountError(ValueError):
    pass


def create_user(username: str, password: str, role: str, *, now: datetime, department: Department | None = None,
                display_name: str = "", email: str | None = None) -> User:
    """Add (not commit) a user; the caller commits with whatever else belongs to the same change."""
    if role not in set(Role):
        raise AccountError(f"未知角色：{role}")
    if role in (Role.LIAISON, Role.DEPT_HEAD) and department is None:
        raise AccountError("联络员和单位负责人必须属于一个单位。")
    if db.session.scalar(select(User.id).where(User.username == username)) is not None:
        raise AccountError(f"用户名已存在：{username}")
    user = User(username=username, role=role, department=department, display_name=display_name,
                email=email, created_at=now)
    user.set_password(password)
    db.session.add(user)
    return user
