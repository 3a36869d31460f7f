"""A plan decomposed: outline headings, tasks (measures), department assignments and numeric targets."""
from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ColumnElement,
    Date,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    exists,
    or_,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import UTCDateTime, db, in_clause
from models.org import Department, User


class AssignmentRole(enum.StrEnum):
    LEAD = "lead"
    CO = "co"


class PlanStatus(enum.StrEnum):
    IMPORTED = "imported"
    PUBLISHED = "published"


class TaskStatus(enum.StrEnum):
    OPEN = "open"        # in the reporting cycle
    CLOSED = "closed"    # 办结销号 (or removed by a plan revision): no new periods, reminders or escalations


class AssignmentStatus(enum.StrEnum):
    DRAFT = "draft"                    # imported, not yet sent out
    PENDING = "pending"                # published, awaiting 签收
    ACKNOWLEDGED = "acknowledged"      # 已签收
    ADJUSTMENT = "adjustment"          # 申请调整, awaiting the office
    TRANSFERRED = "transferred"        # the office moved it to another department; kept as history
    WITHDRAWN = "withdrawn"            # a revision of the plan took the department off the task; kept as history


ACTIVE_ASSIGNMENT = (AssignmentStatus.PENDING, AssignmentStatus.ACKNOWLEDGED, AssignmentStatus.ADJUSTMENT)
ENDED_ASSIGNMENT = (AssignmentStatus.TRANSFERRED, AssignmentStatus.WITHDRAWN)


class AdjustmentStatus(enum.StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class Comparator(enum.StrEnum):
    GE = ">="
    LE = "<="
    ABOUT = "~"
    EQ = "="


class Plan(db.Model):
    __tablename__ = "plan"
    __table_args__ = (
        CheckConstraint(f"status IN ({in_clause(*PlanStatus)})", name="status"),
        CheckConstraint("deadline_workdays >= 0 AND deadline_workdays <= 60", name="deadline_workdays"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    source_filename: Mapped[str] = mapped_column(String(300))
    source_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    issuing_body: Mapped[str] = mapped_column(String(200), default="")
    valid_from: Mapped[int | None] = mapped_column(Integer)
    valid_to: Mapped[int | None] = mapped_column(Integer)
    implied_units: Mapped[str] = mapped_column(Text, default="")  # '、'-joined, as the plan states them
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    status: Mapped[str] = mapped_column(String(20), default=PlanStatus.IMPORTED)
    cadence: Mapped[str] = mapped_column(String(20), default="quarterly")
    deadline_workdays: Mapped[int] = mapped_column(Integer, default=5)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The office's reminder rules for this plan; missing keys take workflow.scheduling.reminders.DEFAULT_RULES.
    reminder_rules: Mapped[dict | None] = mapped_column(JSON)
    # The office's thresholds for the overview's lights; missing keys take workflow.overview.lights.DEFAULT_RULES.
    light_rules: Mapped[dict | None] = mapped_column(JSON)
    revisions: Mapped[list[PlanRevision]] = relationship(
        back_populates="plan", cascade="all, delete-orphan", order_by="PlanRevision.number"
    )

    outline: Mapped[list[OutlineNode]] = relationship(
        back_populates="plan", cascade="all, delete-orphan", order_by="OutlineNode.position"
    )
    tasks: Mapped[list[Task]] = relationship(
        back_populates="plan", cascade="all, delete-orphan", order_by="Task.position"
    )
    # Plan-level targets only; a task's targets are reached through the task.
    targets: Mapped[list[Target]] = relationship(
        primaryjoin="and_(Plan.id == Target.plan_id, Target.task_id.is_(None))",
        order_by="Target.position",
        viewonly=True,
    )

    def __repr__(self) -> str:
        return f"<Plan {self.id} {self.title}>"

    @property
    def implied_unit_names(self) -> list[str]:
        return [u for u in self.implied_units.split("、") if u]

    def visible_to(self, user: User) -> bool:
        """The whole plan (outline, periods, overview) is the office's, leaders' and admins'; departments see
        their tasks of it (Task.visible_to)."""
        return user.sees_everything

    @property
    def removed_task_ids(self) -> set[int]:
        """The tasks revisions removed (closed, kept as history): no longer part of the plan as it stands."""
        return {i for r in self.revisions for i in r.summary.get("removed_ids", [])}

    @property
    def revision_number(self) -> int:
        """0 for the plan as first imported, then 1, 2 ... for each confirmed revision."""
        return self.revisions[-1].number if self.revisions else 0


class PlanRevision(db.Model):
    """A confirmed revision (年度调整) of a published plan: the new document, when, by whom, what it did."""

    __tablename__ = "plan_revision"
    __table_args__ = (UniqueConstraint("plan_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    source_filename: Mapped[str] = mapped_column(String(300))
    source_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    revised_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revised_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    summary: Mapped[dict] = mapped_column(JSON, default=dict)   # {"added": [codes], "removed": ..., ...}

    plan: Mapped[Plan] = relationship(back_populates="revisions")
    revised_by: Mapped[User | None] = relationship()


# The outline level whose headings are the plan's areas (领域, e.g. 3.4 推动城乡建设碳达峰): the review queue's
# area filter and the overview's per-area table group tasks by them (a task belongs to the area its code
# starts with).
AREA_LEVEL = 2


class OutlineNode(db.Model):
    """A heading of the plan (一、 / (一) / 1. / ——); tasks hang off their own node."""

    __tablename__ = "outline_node"
    __table_args__ = (UniqueConstraint("plan_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.id", ondelete="CASCADE"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("outline_node.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(40))
    level: Mapped[int] = mapped_column(Integer)
    marker: Mapped[str] = mapped_column(String(20), default="")
    title: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer)

    plan: Mapped[Plan] = relationship(back_populates="outline")
    parent: Mapped[OutlineNode | None] = relationship(remote_side="OutlineNode.id", back_populates="children")
    children: Mapped[list[OutlineNode]] = relationship(back_populates="parent", order_by="OutlineNode.position")
    task: Mapped[Task | None] = relationship(back_populates="outline_node")


class Task(db.Model):
    """One measure of the plan. A task without assignments is an unassigned measure awaiting the office."""

    __tablename__ = "task"
    __table_args__ = (UniqueConstraint("plan_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.id", ondelete="CASCADE"), index=True)
    outline_node_id: Mapped[int | None] = mapped_column(ForeignKey("outline_node.id", ondelete="SET NULL"))
    code: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text, default="")
    clause: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer)
    # 完成时限 as the plan states it: a date (its final deadline) or 持续推进/长期 (ongoing); neither when silent.
    due: Mapped[date | None] = mapped_column(Date)
    ongoing: Mapped[bool] = mapped_column(Boolean, default=False)
    lead_rule: Mapped[str] = mapped_column(String(30), default="")  # how the parser chose the leads
    # open, or closed with when and why (the audit trail says who); a closed task leaves the reporting cycle.
    status: Mapped[str] = mapped_column(String(20), default=TaskStatus.OPEN, server_default=TaskStatus.OPEN.value,
                                        index=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    close_reason: Mapped[str] = mapped_column(Text, default="", server_default="")

    plan: Mapped[Plan] = relationship(back_populates="tasks")
    outline_node: Mapped[OutlineNode | None] = relationship(back_populates="task")
    assignments: Mapped[list[Assignment]] = relationship(
        back_populates="task", cascade="all, delete-orphan", order_by="Assignment.id"
    )
    targets: Mapped[list[Target]] = relationship(
        back_populates="task", cascade="all, delete-orphan", order_by="Target.position"
    )
    versions: Mapped[list[TaskVersion]] = relationship(
        back_populates="task", cascade="all, delete-orphan", order_by="TaskVersion.id"
    )

    def __repr__(self) -> str:
        return f"<Task {self.code}>"

    @property
    def active_assignments(self) -> list[Assignment]:
        return [a for a in self.assignments if a.status not in ENDED_ASSIGNMENT]

    def departments_with(self, role: AssignmentRole, *, implied: bool = False) -> list[Department]:
        return [a.department for a in self.active_assignments if a.role == role and a.implied == implied]

    @property
    def leads(self) -> list[Department]:
        return self.departments_with(AssignmentRole.LEAD)

    @property
    def co(self) -> list[Department]:
        return self.departments_with(AssignmentRole.CO)

    @property
    def implied(self) -> list[Department]:
        return self.departments_with(AssignmentRole.CO, implied=True)

    @property
    def due_label(self) -> str | None:
        """'YYYY-MM-DD', 'ongoing' or None: the PlanDraft's `due`."""
        return "ongoing" if self.ongoing else self.due.isoformat() if self.due else None

    @property
    def is_closed(self) -> bool:
        return self.status == TaskStatus.CLOSED

    @property
    def is_assigned(self) -> bool:
        return bool(self.active_assignments)

    @property
    def area_code(self) -> str | None:
        """The part of the plan (领域) the task belongs to, by its positional code: the second-level heading
        above it (3.4.3 → 3.4, 3.3.1.1 → 3.3), or the top-level one for a task right under it (4.1 → 4); a
        task at the top level belongs to none. The ledger and the bulletin group and filter by it."""
        parts = self.code.split(".")
        return ".".join(parts[:min(2, len(parts) - 1)]) or None

    def visible_to(self, user: User) -> bool:
        """Everyone who sees everything, and the departments that have (or had) a part in it."""
        return user.sees_everything or any(a.department_id == user.department_id for a in self.assignments)

    @classmethod
    def visible_filter(cls, user: User) -> ColumnElement[bool]:
        return true() if user.sees_everything else cls.has_department(user.department_id or -1)

    @classmethod
    def has_department(cls, department_id: int) -> ColumnElement[bool]:
        return exists().where(Assignment.task_id == cls.id, Assignment.department_id == department_id)

    @classmethod
    def in_area(cls, code: str) -> ColumnElement[bool]:
        """Tasks under an outline part ('3.4'): a task's code extends its heading's (3.4.1, 3.4.2 ...)."""
        return or_(cls.code == code, cls.code.like(f"{code}.%"))


class TaskVersion(db.Model):
    """A task as it stood before a revision changed it: its wording, departments, targets and due date. The
    task row itself carries on (reports, contributions and the audit trail keep pointing at it)."""

    __tablename__ = "task_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("task.id", ondelete="CASCADE"), index=True)
    revision_id: Mapped[int] = mapped_column(ForeignKey("plan_revision.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text, default="")
    clause: Mapped[str] = mapped_column(Text, default="")
    due: Mapped[date | None] = mapped_column(Date)
    ongoing: Mapped[bool] = mapped_column(Boolean, default=False)
    leads: Mapped[list] = mapped_column(JSON, default=list)      # department names then
    co: Mapped[list] = mapped_column(JSON, default=list)
    targets: Mapped[list] = mapped_column(JSON, default=list)    # [{"year", "value", "unit", "comparator", "metric"}]
    changed: Mapped[list] = mapped_column(JSON, default=list)    # the fields the revision changed

    task: Mapped[Task] = relationship(back_populates="versions")
    revision: Mapped[PlanRevision] = relationship()


class Assignment(db.Model):
    """A department's part in a task: it leads (牵头) or co-operates (配合)."""

    __tablename__ = "assignment"
    __table_args__ = (
        UniqueConstraint("task_id", "department_id"),
        CheckConstraint(f"role IN ({in_clause(*AssignmentRole)})", name="role"),
        CheckConstraint(f"status IN ({in_clause(*AssignmentStatus)})", name="status"),
        CheckConstraint("NOT (implied AND role = 'lead')", name="implied_is_co"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("task.id", ondelete="CASCADE"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    role: Mapped[str] = mapped_column(String(10))
    # True for units named once by a blanket sentence (以下均需……落实,不再列出) rather than in this task's clause.
    implied: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(20), default=AssignmentStatus.DRAFT, index=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    transferred_to_id: Mapped[int | None] = mapped_column(ForeignKey("assignment.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)

    task: Mapped[Task] = relationship(back_populates="assignments")
    department: Mapped[Department] = relationship()
    adjustments: Mapped[list[AdjustmentRequest]] = relationship(
        back_populates="assignment", order_by="AdjustmentRequest.id", cascade="all, delete-orphan"
    )

    __mapper_args__ = {"version_id_col": version}

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_ASSIGNMENT

    def can_view(self, user: User) -> bool:
        return user.sees_everything or user.department_id == self.department_id

    @classmethod
    def visible_filter(cls, user: User) -> ColumnElement[bool]:
        return true() if user.sees_everything else cls.department_id == (user.department_id or -1)

    def can_respond(self, user: User) -> bool:
        """签收 or 申请调整: the department's liaison, while the assignment awaits an answer."""
        return user.is_liaison_of(self.department_id) and self.status == AssignmentStatus.PENDING

    @property
    def pending_adjustment(self) -> AdjustmentRequest | None:
        return next((r for r in self.adjustments if r.status == AdjustmentStatus.PENDING), None)


class AdjustmentRequest(db.Model):
    """A department's 申请调整 ("not our responsibility"), decided by the office."""

    __tablename__ = "adjustment_request"
    __table_args__ = (CheckConstraint(f"status IN ({in_clause(*AdjustmentStatus)})", name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignment.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    proposed_department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    proposed_name: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(20), default=AdjustmentStatus.PENDING)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    decision_reason: Mapped[str] = mapped_column(Text, default="")

    assignment: Mapped[Assignment] = relationship(back_populates="adjustments")
    proposed_department: Mapped[Department | None] = relationship()


class Target(db.Model):
    """A numeric target of a task or, when task_id is null, of the whole plan."""

    __tablename__ = "target"
    __table_args__ = (CheckConstraint(f"comparator IN ({in_clause(*Comparator)})", name="comparator"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.id", ondelete="CASCADE"), index=True)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("task.id", ondelete="CASCADE"), index=True)
    year: Mapped[int | None] = mapped_column(Integer)
    metric: Mapped[str] = mapped_column(Text, default="")
    value: Mapped[Decimal] = mapped_column(Numeric(20, 6))
    unit: Mapped[str] = mapped_column(String(40), default="")
    comparator: Mapped[str] = mapped_column(String(2), default=Comparator.EQ)
    sentence: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer, default=0)

    plan: Mapped[Plan] = relationship()
    task: Mapped[Task | None] = relationship(back_populates="targets")

    @property
    def number(self) -> int | float:
        """The value as JSON shows it: 1000, not 1000.000000."""
        v = float(self.value)
        return int(v) if v.is_integer() else v

    @property
    def label(self) -> str:
        return target_label(self.comparator, self.value, self.unit)


def target_label(comparator: str, value, unit: str) -> str:
    """'≥ 1000兆瓦', '≈ 69%', '15.5%': how a target reads in pages and PDFs."""
    number = float(value)
    shown = int(number) if number.is_integer() else number
    prefix = {">=": "≥ ", "<=": "≤ ", "~": "≈ "}.get(comparator, "")
    return f"{prefix}{shown}{unit}"
