"""The 督办 cycle's two requests to the office: more time for one report (延期申请), and a task's completion
report asking for it to be closed (办结报告 → 销号)."""
from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import UTCDateTime, db, in_clause
from models.org import DEPARTMENT_ROLES, Department, User
from models.plan import AssignmentRole, Task


class ExtensionStatus(enum.StrEnum):
    PENDING = "pending"      # asked, waiting for the office
    APPROVED = "approved"    # the report's deadline moved to the new date
    REFUSED = "refused"


class CompletionStatus(enum.StrEnum):
    SUBMITTED = "submitted"  # 办结报告 filed, waiting for the office
    CONFIRMED = "confirmed"  # 销号: the task is closed
    RETURNED = "returned"    # sent back with a reason; the lead may file again


def is_lead_member(user: User | None, task: Task) -> bool:
    """The liaison or head of one of the task's lead departments."""
    return user is not None and user.role in DEPARTMENT_ROLES and any(
        a.department_id == user.department_id and a.role == AssignmentRole.LEAD for a in task.active_assignments)


class ExtensionRequest(db.Model):
    """A lead department asking, before the deadline, for more time on one report. At most one pending per
    report (a partial unique index, beside the service's check)."""

    __tablename__ = "extension_request"
    __table_args__ = (
        CheckConstraint(f"status IN ({in_clause(*ExtensionStatus)})", name="status"),
        Index("ix_extension_request_one_pending", "report_id", unique=True,
              sqlite_where=text("status = 'pending'"), postgresql_where=text("status = 'pending'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("report.id", ondelete="CASCADE"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default=ExtensionStatus.PENDING, index=True)
    reason: Mapped[str] = mapped_column(Text)
    progress: Mapped[str] = mapped_column(Text, default="")
    current_deadline: Mapped[date] = mapped_column(Date)       # the deadline when it was asked
    new_deadline: Mapped[date] = mapped_column(Date)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    decision_reason: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(Integer, default=1)

    report = relationship("Report", back_populates="extensions")
    department: Mapped[Department] = relationship()
    requested_by: Mapped[User] = relationship(foreign_keys=[requested_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])

    __mapper_args__ = {"version_id_col": version}

    @property
    def is_pending(self) -> bool:
        return self.status == ExtensionStatus.PENDING

    def can_view(self, user: User) -> bool:
        return user.sees_everything or user.department_id == self.department_id

    def can_decide(self, user: User) -> bool:
        return self.is_pending and user.is_reviewer


class CompletionReport(db.Model):
    """A lead department's 办结报告 on a task: what was achieved, the final target values and attachments
    (stored by workflow.files under their sha256: [{"filename", "content_type", "size", "sha256"}])."""

    __tablename__ = "completion_report"
    __table_args__ = (
        CheckConstraint(f"status IN ({in_clause(*CompletionStatus)})", name="status"),
        Index("ix_completion_report_one_submitted", "task_id", unique=True,
              sqlite_where=text("status = 'submitted'"), postgresql_where=text("status = 'submitted'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("task.id", ondelete="CASCADE"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default=CompletionStatus.SUBMITTED, index=True)
    summary: Mapped[str] = mapped_column(Text)
    values: Mapped[list] = mapped_column(JSON, default=list)          # [{"target_id", "value"}], value a string
    files: Mapped[list] = mapped_column(JSON, default=list)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    submitted_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    decision_reason: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(Integer, default=1)

    task: Mapped[Task] = relationship()
    department: Mapped[Department] = relationship()
    submitted_by: Mapped[User] = relationship(foreign_keys=[submitted_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])

    __mapper_args__ = {"version_id_col": version}

    @property
    def is_pending(self) -> bool:
        return self.status == CompletionStatus.SUBMITTED

    def can_view(self, user: User) -> bool:
        return self.task.visible_to(user)

    def can_decide(self, user: User) -> bool:
        return self.is_pending and user.is_reviewer
