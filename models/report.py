"""The reporting cycle: periods, the lead department's report per task and period, the co-departments'
contributions, their revisions and attachments."""
from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ColumnElement,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    and_,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import UTCDateTime, db, in_clause
from models.org import DEPARTMENT_ROLES, Department, User
from models.plan import ENDED_ASSIGNMENT, Assignment, AssignmentRole, Plan, Target, Task


class ReportStatus(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    RETURNED = "returned"
    APPROVED = "approved"


class Progress(enum.StrEnum):
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    BEHIND = "behind"
    COMPLETED = "completed"


class ContributionStatus(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"


class Period(db.Model):
    """One reporting period of a plan, with its working-day deadline (movable by the office, with a reason)."""

    __tablename__ = "period"
    __table_args__ = (UniqueConstraint("plan_id", "key"),
                      Index("ix_period_start_plan", "start", "plan_id"))   # report lists in period, then plan order:
                                                                     # read one plan's period at a time

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(10))
    label: Mapped[str] = mapped_column(String(40))
    start: Mapped[date] = mapped_column(Date)
    end: Mapped[date] = mapped_column(Date)
    deadline: Mapped[date] = mapped_column(Date)
    computed_deadline: Mapped[date] = mapped_column(Date)
    deadline_reason: Mapped[str] = mapped_column(Text, default="")
    # Reports and contributions are created when a period opens (its start has come), not all at publish time.
    opened: Mapped[bool] = mapped_column(Boolean, default=False)

    plan: Mapped[Plan] = relationship()


class Report(db.Model):
    """A lead department's self-report on one task for one period."""

    __tablename__ = "report"
    __table_args__ = (
        UniqueConstraint("task_id", "period_id", "department_id"),
        CheckConstraint(f"status IN ({in_clause(*ReportStatus)})", name="status"),
        Index("ix_report_department_status", "department_id", "status"),   # a department's lists, the queue
        CheckConstraint(f"progress IS NULL OR progress IN ({in_clause(*Progress)})", name="progress"),
        CheckConstraint("percent_complete IS NULL OR (percent_complete >= 0 AND percent_complete <= 100)",
                        name="percent_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("task.id", ondelete="CASCADE"), index=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("period.id", ondelete="CASCADE"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default=ReportStatus.DRAFT, index=True)
    narrative: Mapped[str] = mapped_column(Text, default="")
    percent_complete: Mapped[int | None] = mapped_column(Integer)
    progress: Mapped[str | None] = mapped_column(String(20))
    difficulties: Mapped[str] = mapped_column(Text, default="")
    next_steps: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(Integer, default=1)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    return_count: Mapped[int] = mapped_column(Integer, default=0)
    last_return_reason: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when its task was closed (办结销号) before it was handed in: kept as history, owed by no one.
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # An approved 延期申请's date: this report's own deadline instead of its period's.
    extended_deadline: Mapped[date | None] = mapped_column(Date)

    task: Mapped[Task] = relationship()
    period: Mapped[Period] = relationship()
    department: Mapped[Department] = relationship()
    values: Mapped[list[ReportValue]] = relationship(back_populates="report", cascade="all, delete-orphan",
                                                     order_by="ReportValue.id")
    attachments: Mapped[list[Attachment]] = relationship(back_populates="report", order_by="Attachment.id")
    extensions = relationship("ExtensionRequest", back_populates="report", order_by="ExtensionRequest.id",
                              cascade="all, delete-orphan")

    __mapper_args__ = {"version_id_col": version}

    @property
    def deadline(self) -> date:
        """The deadline this report counts from: its period's, or the date an approved extension gave it."""
        return self.extended_deadline or self.period.deadline

    @classmethod
    def deadline_column(cls) -> ColumnElement[date]:
        """The same rule in SQL, for a query that joins Period."""
        return func.coalesce(cls.extended_deadline, Period.deadline)

    @classmethod
    def queue_moment(cls) -> ColumnElement[datetime]:
        """When the report joined the review queue (handed in, else last saved): the queue's first order, indexed
        (ix_report_queue_order) so one page of the queue reads one page of reports instead of sorting them all."""
        return func.coalesce(cls.submitted_at, cls.updated_at)

    @property
    def pending_extension(self):
        return next((e for e in self.extensions if e.is_pending), None)

    def can_request_extension(self, user: User) -> bool:
        """延期申请: the lead department's liaison or head, while the report is still owed."""
        return (user.role in DEPARTMENT_ROLES and user.department_id == self.department_id
                and self.withdrawn_at is None and self.status in (ReportStatus.DRAFT, ReportStatus.RETURNED))

    # Permissions: enforced by the services, reused by templates to hide what a user may not do; the
    # `visible_filter` is the same rule as a where-clause for every list, search, export and the API.
    def can_view(self, user: User) -> bool:
        return user.sees_everything or user.department_id == self.department_id

    @classmethod
    def visible_filter(cls, user: User) -> ColumnElement[bool]:
        return true() if user.sees_everything else cls.department_id == (user.department_id or -1)

    def can_edit(self, user: User) -> bool:
        return (user.is_liaison_of(self.department_id) and self.withdrawn_at is None
                and self.status in (ReportStatus.DRAFT, ReportStatus.RETURNED))

    def can_review(self, user: User) -> bool:
        return user.is_reviewer and self.status == ReportStatus.SUBMITTED

    def can_withdraw(self, user: User) -> bool:
        """撤回: the department's liaison or head takes a submission back as a draft until the office decides."""
        return (user.role in DEPARTMENT_ROLES and user.department_id == self.department_id
                and self.status == ReportStatus.SUBMITTED)

    def can_chase(self, user: User) -> bool:
        """催报: the lead department's liaison or head reminds a co-department whose contribution is missing."""
        return user.role in DEPARTMENT_ROLES and user.department_id == self.department_id

    def value_for(self, target_id: int) -> Decimal | None:
        return next((v.value for v in self.values if v.target_id == target_id), None)


Index("ix_report_queue_order", Report.queue_moment())


class ReportValue(db.Model):
    """The value a report gives for one of its task's targets."""

    __tablename__ = "report_value"
    __table_args__ = (UniqueConstraint("report_id", "target_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("report.id", ondelete="CASCADE"), index=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("target.id", ondelete="CASCADE"))
    value: Mapped[Decimal | None] = mapped_column(Numeric(20, 6))

    report: Mapped[Report] = relationship(back_populates="values")
    target: Mapped[Target] = relationship()


class Contribution(db.Model):
    """A co-responsible department's account (配合情况) of its part in a task for a period."""

    __tablename__ = "contribution"
    __table_args__ = (
        UniqueConstraint("task_id", "period_id", "department_id"),
        CheckConstraint(f"status IN ({in_clause(*ContributionStatus)})", name="status"),
        Index("ix_contribution_department_status", "department_id", "status"),   # a department's lists
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("task.id", ondelete="CASCADE"), index=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("period.id", ondelete="CASCADE"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default=ContributionStatus.DRAFT)
    text: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(Integer, default=1)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)   # as Report.withdrawn_at

    task: Mapped[Task] = relationship()
    period: Mapped[Period] = relationship()
    department: Mapped[Department] = relationship()

    __mapper_args__ = {"version_id_col": version}

    @property
    def deadline(self) -> date:
        """A contribution counts from its period's deadline (an extension is the lead report's)."""
        return self.period.deadline

    def can_view(self, user: User) -> bool:
        """Office, leaders and admins; the contributing department; and, once it is submitted, the task's lead
        departments (a draft is the co-department's own business)."""
        if user.sees_everything or user.department_id == self.department_id:
            return True
        return self.status == ContributionStatus.SUBMITTED and any(
            a.department_id == user.department_id and a.role == AssignmentRole.LEAD
            for a in self.task.active_assignments)

    @classmethod
    def visible_filter(cls, user: User) -> ColumnElement[bool]:
        if user.sees_everything:
            return true()
        department_id = user.department_id or -1
        led = select(Assignment.task_id).where(Assignment.department_id == department_id,
                                               Assignment.role == AssignmentRole.LEAD,
                                               Assignment.status.not_in(ENDED_ASSIGNMENT))
        return or_(cls.department_id == department_id,
                   and_(cls.status == ContributionStatus.SUBMITTED, cls.task_id.in_(led)))

    def can_edit(self, user: User) -> bool:
        return (user.is_liaison_of(self.department_id) and self.withdrawn_at is None
                and self.status == ContributionStatus.DRAFT)


class ReportRevision(db.Model):
    """A snapshot of a report each time it is saved or submitted, so a resubmission can be diffed."""

    __tablename__ = "report_revision"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("report.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    data: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    actor: Mapped[User | None] = relationship()


class Attachment(db.Model):
    """A file attached to a report, stored outside the web root under its sha256."""

    __tablename__ = "attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("report.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    removed: Mapped[bool] = mapped_column(Boolean, default=False)

    report: Mapped[Report] = relationship(back_populates="attachments")

    def can_view(self, user: User) -> bool:
        return self.report.can_view(user)
