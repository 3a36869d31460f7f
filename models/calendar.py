"""Office-entered official working-day arrangements (放假调休安排) for years the calendar package does not know."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import UTCDateTime, db


class HolidayEntry(db.Model):
    """One day: an official holiday (kind 'holiday') or a make-up working day on a weekend (kind 'workday')."""

    __tablename__ = "holiday_entry"
    __table_args__ = (CheckConstraint("kind IN ('holiday', 'workday')", name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, unique=True)
    kind: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(60), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))


class SchedulerLease(db.Model):
    """Who runs the scheduler: a lease renewed by the leader; another copy takes over once it expires
    (SQLite; on PostgreSQL an advisory lock decides and this row only records the holder)."""

    __tablename__ = "scheduler_lease"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder: Mapped[str] = mapped_column(String(120))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    renewed_at: Mapped[datetime] = mapped_column(UTCDateTime)
