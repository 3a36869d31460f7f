"""Leaders' instructions (领导批示): a leader's written instruction on a task, a report or an escalation, for one
department to answer (办理情况) by a date."""
from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import CheckConstraint, ColumnElement, Date, ForeignKey, Integer, String, Text, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import UTCDateTime, db, in_clause
from models.org import DEPARTMENT_ROLES, Department, Role, User
from models.plan import Task


class InstructionStatus(enum.StrEnum):
    OPEN = "open"            # waiting for the department's answer
    ANSWERED = "answered"    # 办理情况 given, for the leader to read
    CLOSED = "closed"        # the leader (or the office) has read it: done


class Instruction(db.Model):
    """One 批示. `leader` is whose instruction it is; `entered_by` who typed it in: the leader, or the office
    recording a leader's written instruction on their behalf (paper 批示 reach the office first).

    It always names its task; `report_id` and `escalation_id` say whether it was written on a report or an
    escalation (an escalation's instruction also names the report, when the escalation is about one)."""

    __tablename__ = "instruction"
    __table_args__ = (CheckConstraint(f"status IN ({in_clause(*InstructionStatus)})", name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("task.id", ondelete="CASCADE"), index=True)
    report_id: Mapped[int | None] = mapped_column(ForeignKey("report.id", ondelete="CASCADE"), index=True)
    escalation_id: Mapped[int | None] = mapped_column(ForeignKey("escalation.id", ondelete="CASCADE"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    leader_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    entered_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    text: Mapped[str] = mapped_column(Text)
    due_date: Mapped[date] = mapped_column(Date, index=True)
    status: Mapped[str] = mapped_column(String(20), default=InstructionStatus.OPEN, index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    answer: Mapped[str] = mapped_column(Text, default="")
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    close_comment: Mapped[str] = mapped_column(Text, default="")

    task: Mapped[Task] = relationship()
    report = relationship("Report")
    escalation = relationship("Escalation")
    department: Mapped[Department] = relationship()
    leader: Mapped[User] = relationship(foreign_keys=[leader_id])
    entered_by: Mapped[User] = relationship(foreign_keys=[entered_by_id])
    answered_by: Mapped[User | None] = relationship(foreign_keys=[answered_by_id])
    closed_by: Mapped[User | None] = relationship(foreign_keys=[closed_by_id])

    __mapper_args__ = {"version_id_col": version}

    @property
    def subject_kind(self) -> str:
        """What it was written on: 'escalation', 'report' or 'task'."""
        if self.escalation_id is not None:
            return "escalation"
        return "report" if self.report_id is not None else "task"

    @property
    def is_open(self) -> bool:
        return self.status == InstructionStatus.OPEN

    def can_view(self, user: User) -> bool:
        """Leaders and the office; the department it is addressed to (liaison and head)."""
        return user.is_overseer or (user.department_id is not None and user.department_id == self.department_id)

    @classmethod
    def visible_filter(cls, user: User) -> ColumnElement[bool]:
        return true() if user.is_overseer else cls.department_id == (user.department_id or -1)

    def can_answer(self, user: User) -> bool:
        """The addressed department's liaison or head, while it waits for an answer."""
        return self.is_open and is_department_member(user, self.department_id)

    def can_close(self, user: User) -> bool:
        """Once answered: the leader who gave it, or the office."""
        return self.status == InstructionStatus.ANSWERED and may_close(self, user)


def is_department_member(user: User | None, department_id: int) -> bool:
    return user is not None and user.role in DEPARTMENT_ROLES and user.department_id == department_id


def may_close(instruction: Instruction, user: User | None) -> bool:
    """The transition table's rule for closing (the state is the table's business)."""
    return user is not None and (user.is_reviewer or (user.role == Role.LEADER and user.id == instruction.leader_id))
