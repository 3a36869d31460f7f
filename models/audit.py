"""Append-only audit trail: who did what to which record, when, from which state to which."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, Select, String, Text, and_, or_, select
from sqlalchemy.orm import Mapped, mapped_column, relationship, selectinload

from models.base import UTCDateTime, db
from models.org import User


class AuditEvent(db.Model):
    __tablename__ = "audit_event"
    # A record's trail (the report and task pages, the API) reads by the audited object, newest first.
    __table_args__ = (Index("ix_audit_event_object", "object_type", "object_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    action: Mapped[str] = mapped_column(String(60))
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[int] = mapped_column(Integer)
    from_state: Mapped[str | None] = mapped_column(String(40))
    to_state: Mapped[str | None] = mapped_column(String(40))
    comment: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict | None] = mapped_column(JSON)

    actor: Mapped[User | None] = relationship()


def record(action: str, obj, *, actor: User | None, now: datetime, comment: str = "",
           from_state: str | None = None, to_state: str | None = None, data: dict | None = None) -> AuditEvent:
    """Add an audit row to the current transaction; the caller commits it with the change it describes."""
    event = AuditEvent(
        at=now, actor=actor, action=action, object_type=obj.__tablename__, object_id=obj.id,
        from_state=from_state, to_state=to_state, comment=comment, data=data,
    )
    db.session.add(event)
    return event


def trail(*subjects: tuple[str, int | None]) -> Select:
    """The audit rows of the (object_type, object_id) pairs, oldest first, with their actors: one page's trail
    may span several records (an escalation and its notice)."""
    wanted = [and_(AuditEvent.object_type == kind, AuditEvent.object_id == object_id)
              for kind, object_id in subjects if object_id is not None]
    return (select(AuditEvent).where(or_(*wanted)).options(selectinload(AuditEvent.actor))
            .order_by(AuditEvent.at, AuditEvent.id))
