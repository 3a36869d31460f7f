"""Notifications: the in-app inbox, the email outbox (one digest per recipient and pass), and escalations (督办)."""
from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ColumnElement,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import UTCDateTime, db, in_clause
from models.org import Channel, Department, Role, User


class Notification(db.Model):
    """One message to one user, written in the transaction of the event that causes it.

    `key` names what, who, level and period, and is unique, so the same message can never be queued twice.
    Email leaves in digests: the sender gathers a recipient's unsent notifications into one OutboxEmail.
    """

    __tablename__ = "notification"
    __table_args__ = (
        Index("ix_notification_kind", "kind"),                         # the reminder pass's keys by kind
        Index("ix_notification_unread", "user_id", "read_at", "id"),   # the unread count and the inbox
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    level: Mapped[int] = mapped_column(Integer, default=0)
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str] = mapped_column(String(300), default="")
    # For digests and the run-once report: department, task code and title, period, deadline, days late.
    data: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    wants_email: Mapped[bool] = mapped_column(Boolean, default=True)
    email_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_email.id", ondelete="SET NULL"), index=True)

    user: Mapped[User] = relationship()
    email: Mapped[OutboxEmail | None] = relationship(back_populates="notifications")


class EmailStatus(enum.StrEnum):
    PENDING = "pending"   # waiting for its first or next attempt
    SENT = "sent"
    PARKED = "parked"     # failed too often; the admin can retry it


class OutboxEmail(db.Model):
    """One message on one channel to one recipient: a digest mail, an SMS, or a post to a department's group
    robot. The sender delivers it with retries and backoff, whatever the channel.

    `key` (channel, recipient, first notification) is unique, so the same notifications can never become two
    messages on one channel; `to_address` is the mail address or mobile number, for a robot the department's
    name (its webhook is read from the department when sending, so a corrected URL serves the retries).
    """

    __tablename__ = "outbox_email"
    __table_args__ = (CheckConstraint(f"status IN ({in_clause(*EmailStatus)})", name="status"),
                      CheckConstraint(f"channel IN ({in_clause(*Channel)})", name="channel"))

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str | None] = mapped_column(String(200), unique=True)
    channel: Mapped[str] = mapped_column(String(20), default=Channel.EMAIL, server_default="email", index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id", ondelete="SET NULL"), index=True)
    to_address: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(300))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    status: Mapped[str] = mapped_column(String(20), default=EmailStatus.PENDING, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(Text, default="")
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    message_id: Mapped[str] = mapped_column(String(200), default="")
    # A robot post: the mobile numbers it @-mentions.
    data: Mapped[dict | None] = mapped_column(JSON)

    user: Mapped[User | None] = relationship()
    department: Mapped[Department | None] = relationship()
    notifications: Mapped[list[Notification]] = relationship(back_populates="email", order_by="Notification.id")


class EscalationStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class Escalation(db.Model):
    """督办: a report or contribution five working days late (or returned and left), for the office to chase.

    It closes by itself when the work is submitted, or by the office with a note; its history stays for the
    annual evaluation. `key` (what, cause, round) makes opening it idempotent.
    """

    __tablename__ = "escalation"
    __table_args__ = (
        CheckConstraint(f"status IN ({in_clause(*EscalationStatus)})", name="status"),
        CheckConstraint("(report_id IS NULL) <> (contribution_id IS NULL)", name="one_subject"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(120), unique=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.id", ondelete="CASCADE"), index=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("task.id", ondelete="CASCADE"), index=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("period.id", ondelete="CASCADE"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    report_id: Mapped[int | None] = mapped_column(ForeignKey("report.id", ondelete="CASCADE"), index=True)
    contribution_id: Mapped[int | None] = mapped_column(ForeignKey("contribution.id", ondelete="CASCADE"),
                                                        index=True)
    cause: Mapped[str] = mapped_column(String(20))          # 'overdue' or 'returned'
    days_late: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(20), default=EscalationStatus.OPEN, index=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    close_reason: Mapped[str] = mapped_column(String(20), default="")   # 'submitted' or 'office'
    close_note: Mapped[str] = mapped_column(Text, default="")

    department: Mapped[Department] = relationship()
    task = relationship("Task")
    period = relationship("Period")
    report = relationship("Report")
    contribution = relationship("Contribution")
    closed_by: Mapped[User | None] = relationship()
    notice: Mapped[Notice | None] = relationship(back_populates="escalation", uselist=False)

    @property
    def is_open(self) -> bool:
        return self.status == EscalationStatus.OPEN

    def can_view(self, user: User) -> bool:
        """The office and leaders; the department's head (read-only). Liaisons get the reminders instead."""
        return user.is_overseer or (user.role == Role.DEPT_HEAD and user.department_id == self.department_id)

    @classmethod
    def visible_filter(cls, user: User) -> ColumnElement[bool]:
        """can_view as a where-clause (the department's home lists its open escalations to its head)."""
        if user.is_overseer:
            return true()
        if user.role == Role.DEPT_HEAD and user.department_id is not None:
            return cls.department_id == user.department_id
        return false()

    def can_close(self, user: User) -> bool:
        return user.can_close_escalations() and self.is_open


class NoticeStatus(enum.StrEnum):
    ISSUED = "issued"       # 督办通知单 issued, waiting for the department's 整改反馈
    ANSWERED = "answered"   # the department's written answer is recorded


class Notice(db.Model):
    """The 督办通知单 as a document: numbered per year without gaps (NumberSeries), dated and with its facts
    frozen (`facts`, a JSON snapshot) when its escalation opens, so every print is the same document; and the
    department's written answer (整改反馈) recorded against it."""

    __tablename__ = "notice"
    __table_args__ = (
        UniqueConstraint("year", "number"),
        CheckConstraint(f"status IN ({in_clause(*NoticeStatus)})", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    escalation_id: Mapped[int] = mapped_column(ForeignKey("escalation.id", ondelete="CASCADE"), unique=True)
    year: Mapped[int] = mapped_column(Integer)
    number: Mapped[int] = mapped_column(Integer)
    issued_on: Mapped[date] = mapped_column(Date)
    facts: Mapped[dict] = mapped_column(JSON)
    frozen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20), default=NoticeStatus.ISSUED)
    feedback: Mapped[str] = mapped_column(Text, default="")
    feedback_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    feedback_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    escalation: Mapped[Escalation] = relationship(back_populates="notice")
    feedback_by: Mapped[User | None] = relationship()

    @property
    def title(self) -> str:
        return f"督办〔{self.year}〕第 {self.number} 号"

    def can_give_feedback(self, user: User) -> bool:
        """整改反馈 is the department's formal answer: its head (who receives the notice) writes it."""
        return self.status == NoticeStatus.ISSUED and is_head_of(user, self.escalation.department_id)


def is_head_of(user: User | None, department_id: int) -> bool:
    return user is not None and user.role == Role.DEPT_HEAD and user.department_id == department_id


class NumberSeries(db.Model):
    """The last number given in a numbered series of documents per year (督办通知单: series 'notice').

    Taking a number is one UPDATE … SET last = last + 1 RETURNING last: it locks the row until the taker's
    transaction ends, so concurrent takers queue, and a rolled-back transaction gives its number back (no gaps)."""

    __tablename__ = "number_series"

    series: Mapped[str] = mapped_column(String(40), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)
