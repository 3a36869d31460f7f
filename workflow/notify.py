"""Queue notifications in the caller's transaction, at most once per key (see ARCHITECTURE: outbox)."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select

from models import Department, Notification, Role, User
from workflow.extensions import db


def queue(user: User, *, kind: str, key: str, subject: str, body: str = "", link: str = "",
          now: datetime, level: int = 0, data: dict | None = None,
          known_keys: set[str] | None = None) -> Notification | None:
    """Add a notification unless one with the same key exists; the caller's commit writes it with its cause.

    A caller queueing many at once (the reminder pass) passes `known_keys`, the keys already stored, loaded in
    one query; the set is updated as rows are added.
    """
    full_key = f"{key}:u{user.id}"
    if known_keys is not None:
        if full_key in known_keys:
            return None
        known_keys.add(full_key)
    else:
        pending = {n.key for n in db.session.new if isinstance(n, Notification)}
        if full_key in pending or db.session.scalar(select(Notification.id).where(Notification.key == full_key)):
            return None
    note = Notification(key=full_key, user=user, kind=kind, level=level, subject=subject, body=body, link=link,
                        data=data, created_at=now)
    db.session.add(note)
    return note


def row(user: User, *, kind: str, key: str, subject: str, body: str = "", link: str = "", now: datetime,
        level: int = 0, data: dict | None = None) -> dict:
    """The notification `queue` would add, as a row for insert_new (the key completed with the recipient)."""
    return {"key": f"{key}:u{user.id}", "user_id": user.id, "kind": kind, "level": level, "subject": subject,
            "body": body, "link": link, "data": data, "created_at": now, "wants_email": True}


def insert_new(rows: list[dict]) -> set[str]:
    """Insert the rows whose key is not stored yet, set-based: INSERT ... ON CONFLICT (key) DO NOTHING RETURNING
    key, in the caller's transaction (batched by SQLAlchemy's insertmanyvalues, not a statement per row).
    Returns the keys inserted."""
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = db.session.get_bind().dialect.name
    stored = stored_keys(Notification.key, [row["key"] for row in rows])
    rows = [row for row in rows if row["key"] not in stored]
    if not rows:
        return set()
    insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[dialect]
    stmt = insert(Notification).on_conflict_do_nothing(index_elements=["key"]).returning(Notification.key)
    return set(db.session.scalars(stmt, rows))


def stored_keys(column, keys: list[str]) -> set[str]:
    """Which of `keys` are stored already in the unique `column` (an index lookup each), so that a pass
    re-wanting yesterday's rows writes none of them again: on PostgreSQL as one array parameter (= ANY),
    elsewhere in chunks of IN."""
    from sqlalchemy import String, any_, bindparam
    from sqlalchemy.dialects.postgresql import ARRAY

    if db.session.get_bind().dialect.name == "postgresql":
        wanted = bindparam("keys", keys, type_=ARRAY(String))
        return set(db.session.scalars(select(column).where(column == any_(wanted))))
    chunk = 10_000   # SQLite's bound-parameter limit is 32,766
    return {key for i in range(0, len(keys), chunk)
            for key in db.session.scalars(select(column).where(column.in_(keys[i:i + chunk])))}


def department_users(department: Department | int, roles: Iterable[str] = (Role.LIAISON,)) -> list[User]:
    dept_id = department if isinstance(department, int) else department.id
    return list(db.session.scalars(
        select(User).where(User.department_id == dept_id, User.role.in_(list(roles)), User.active.is_(True))
        .order_by(User.id)
    ))


def office_users() -> list[User]:
    return list(db.session.scalars(
        select(User).where(User.role == Role.OFFICE, User.active.is_(True)).order_by(User.id)
    ))


UNREAD_SHOWN = 99   # the badge says "99+" beyond this: counting further would read every unread row


def unread_count(user: User) -> int:
    """The user's unread notifications, counted up to UNREAD_SHOWN + 1 (every page shows the badge, and a
    liaison nobody reads for may have thousands); see unread_label."""
    from sqlalchemy import func

    unread = (select(Notification.id).where(Notification.user_id == user.id, Notification.read_at.is_(None))
              .limit(UNREAD_SHOWN + 1).subquery())
    return db.session.scalar(select(func.count()).select_from(unread)) or 0


def unread_label(count: int) -> str:
    return f"{UNREAD_SHOWN}+" if count > UNREAD_SHOWN else str(count)
