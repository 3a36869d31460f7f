"""The annual evaluation: a plan's year scored per department, the office's ratings and adjustments, the
leader's sign-off that freezes it, the office's milestones for targets, and the files generated from it."""
from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ColumnElement,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import UTCDateTime, db, in_clause
from models.org import Department, User
from models.plan import Plan, Target, Task


class EvaluationStatus(enum.StrEnum):
    DRAFT = "draft"      # recomputed from the records whenever asked
    FROZEN = "frozen"    # signed off by a leader: the stored scores are the result


class Evaluation(db.Model):
    """One plan's evaluation for one calendar year.

    `settings` holds the office's weights, thresholds and deductions (missing keys take the defaults of
    workflow.evaluation.scoring). `freeze_round` counts sign-offs, so a file archived from an earlier sign-off
    is never mistaken for one of the current result.
    """

    __tablename__ = "evaluation"
    __table_args__ = (
        UniqueConstraint("plan_id", "year"),
        CheckConstraint(f"status IN ({in_clause(*EvaluationStatus)})", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.id", ondelete="CASCADE"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default=EvaluationStatus.DRAFT)
    settings: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    computed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    computed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    signed_off_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    signed_off_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    sign_off_note: Mapped[str] = mapped_column(Text, default="")
    freeze_round: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=1)

    plan: Mapped[Plan] = relationship()
    computed_by: Mapped[User | None] = relationship(foreign_keys=[computed_by_id])
    signed_off_by: Mapped[User | None] = relationship(foreign_keys=[signed_off_by_id])
    scores: Mapped[list[DepartmentScore]] = relationship(
        back_populates="evaluation", cascade="all, delete-orphan", order_by="DepartmentScore.position"
    )
    ratings: Mapped[list[TaskRating]] = relationship(
        back_populates="evaluation", cascade="all, delete-orphan", order_by="TaskRating.id"
    )
    adjustments: Mapped[list[ScoreAdjustment]] = relationship(
        back_populates="evaluation", cascade="all, delete-orphan", order_by="ScoreAdjustment.id"
    )

    __mapper_args__ = {"version_id_col": version}

    @property
    def frozen(self) -> bool:
        return self.status == EvaluationStatus.FROZEN


class DepartmentScore(db.Model):
    """A department's computed result; `detail` lists every report and event behind each part.

    The ranking (workflow/evaluation/scoring.rank_results) is within `group_name`, by `ranking_score` (the
    score with the workload factor); `rank` is None for a department with too few scored items to be ranked.
    `position` is the order of the whole list: groups in their order, each ranked first.
    """

    __tablename__ = "department_score"
    __table_args__ = (UniqueConstraint("evaluation_id", "department_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    evaluation_id: Mapped[int] = mapped_column(ForeignKey("evaluation.id", ondelete="CASCADE"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    rank: Mapped[int | None] = mapped_column(Integer)
    group_name: Mapped[str] = mapped_column(String(100), default="", server_default="")
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    ranking_score: Mapped[Decimal | None] = mapped_column(Numeric(6, 2))
    base_score: Mapped[Decimal | None] = mapped_column(Numeric(6, 2))
    deduction: Mapped[Decimal] = mapped_column(Numeric(6, 2), default=0)
    adjustment: Mapped[Decimal] = mapped_column(Numeric(6, 2), default=0)
    score: Mapped[Decimal | None] = mapped_column(Numeric(6, 2))
    grade: Mapped[str | None] = mapped_column(String(10))
    parts: Mapped[dict] = mapped_column(JSON)
    detail: Mapped[dict] = mapped_column(JSON)

    evaluation: Mapped[Evaluation] = relationship(back_populates="scores")
    department: Mapped[Department] = relationship()


class TaskRating(db.Model):
    """The office's rating (0–100) of how a task was carried out in the year, with its comment."""

    __tablename__ = "task_rating"
    __table_args__ = (
        UniqueConstraint("evaluation_id", "task_id"),
        CheckConstraint("score >= 0 AND score <= 100", name="score_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    evaluation_id: Mapped[int] = mapped_column(ForeignKey("evaluation.id", ondelete="CASCADE"), index=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("task.id", ondelete="CASCADE"), index=True)
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    rated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    rated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    evaluation: Mapped[Evaluation] = relationship(back_populates="ratings")
    task: Mapped[Task] = relationship()
    rated_by: Mapped[User | None] = relationship()


class ScoreAdjustment(db.Model):
    """The office's change to a department's score (points, + or −); the reason is required and printed.

    Append-only: a correction is another adjustment, so the history stays in the report.
    """

    __tablename__ = "score_adjustment"
    __table_args__ = (
        CheckConstraint("length(reason) > 0", name="reason_required"),
        CheckConstraint("points >= -100 AND points <= 100 AND points <> 0", name="points_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    evaluation_id: Mapped[int] = mapped_column(ForeignKey("evaluation.id", ondelete="CASCADE"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    points: Mapped[Decimal] = mapped_column(Numeric(6, 2))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    evaluation: Mapped[Evaluation] = relationship(back_populates="adjustments")
    department: Mapped[Department] = relationship()
    created_by: Mapped[User | None] = relationship()


class TargetMilestone(db.Model):
    """The value the office expects a target to reach by a given year (replaces the linear path there)."""

    __tablename__ = "target_milestone"
    __table_args__ = (UniqueConstraint("target_id", "year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("target.id", ondelete="CASCADE"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    value: Mapped[Decimal] = mapped_column(Numeric(20, 6))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    target: Mapped[Target] = relationship()


class EvaluationFile(db.Model):
    """A generated PDF or workbook, kept under its sha256 so downloading it again gives the same bytes."""

    __tablename__ = "evaluation_file"
    __table_args__ = (CheckConstraint("kind IN ('pdf', 'xlsx')", name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    evaluation_id: Mapped[int] = mapped_column(ForeignKey("evaluation.id", ondelete="CASCADE"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    filename: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    pages: Mapped[int | None] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    # The evaluation's state the file shows: 'frozen' with the sign-off round, or 'draft' (watermarked).
    status: Mapped[str] = mapped_column(String(20))
    freeze_round: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    evaluation: Mapped[Evaluation] = relationship()
    department: Mapped[Department | None] = relationship()
    created_by: Mapped[User | None] = relationship()

    def can_view(self, user: User) -> bool:
        """A whole-plan file is for everyone who sees everything; a department's file also for its people."""
        return user.sees_everything or (self.department_id is not None and user.department_id == self.department_id)

    @classmethod
    def visible_filter(cls, user: User) -> ColumnElement[bool]:
        return true() if user.sees_everything else cls.department_id == (user.department_id or -1)
