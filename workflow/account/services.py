"""The user's own things: the in-app inbox (notifications) and preferences."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from flask_babel import gettext as _
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import select, update

from models import Notification, User
from models.audit import record
from workflow.auth.passwords import password_problem
from workflow.domain import NotFound, ValidationFailed
from workflow.extensions import db
from workflow.pagination import paginate

PER_PAGE = 30
LOCALES = ("zh_Hans_CN", "en")


def inbox(user: User, page: int = 1, per_page: int = PER_PAGE) -> Pagination:
    """One page of the user's notifications, newest first."""
    return paginate(select(Notification).where(Notification.user_id == user.id)
                    .order_by(Notification.created_at.desc(), Notification.id.desc()), page=page, per_page=per_page)


def mark_read(user: User, ids: Iterable[int] | None, now: datetime) -> int:
    """Mark the user's notifications read: those with the given ids, or every unread one when ids is None.

    Other users' ids are ignored. Returns how many changed.
    """
    q = update(Notification).where(Notification.user_id == user.id, Notification.read_at.is_(None))
    if ids is not None:
        ids = [int(i) for i in ids]
        if not ids:
            return 0
        q = q.where(Notification.id.in_(ids))
    changed = db.session.execute(q.values(read_at=now).execution_options(synchronize_session="fetch")).rowcount
    db.session.commit()
    return changed or 0


def open_notification(user: User, notification_id: int, now: datetime) -> Notification:
    """The user's notification, marked read (what its link points to is opened next)."""
    note = db.session.get(Notification, notification_id)
    if note is None or note.user_id != user.id:
        raise NotFound(_("消息不存在。"))
    if note.read_at is None:
        note.read_at = now
        db.session.commit()
    return note


def set_locale(user: User, locale: str) -> User:
    if locale not in LOCALES:
        raise ValidationFailed({"locale": _("不支持的语言。")})
    user.locale = locale
    db.session.commit()
    return user


def change_password(user: User, *, current: str, new: str, confirm: str, now: datetime) -> None:
    """The user's own change: the current password proves it is them; every other session ends."""
    errors: dict[str, str] = {}
    if not user.check_password(current or ""):
        errors["current_password"] = _("当前密码不正确。")
    if problem := password_problem(new or "", user.role, (user.username, user.display_name)):
        errors["new_password"] = problem
    elif new != confirm:
        errors["confirm_password"] = _("两次输入的新密码不一致。")
    if errors:
        raise ValidationFailed(errors)
    user.set_password(new)
    record("user.change_password", user, actor=user, now=now)
    db.session.commit()


def end_sessions(user: User, *, now: datetime) -> None:
    """退出所有设备: voids every session and remember cookie of the user, this one included."""
    user.end_sessions()
    record("user.end_sessions", user, actor=user, now=now)
    db.session.commit()
