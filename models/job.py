"""A background job (后台任务): long work (big PDFs) taken off the web request and run by the scheduler process.

The row is the queue: a worker claims one queued job (or one whose lease ran out: its worker died) and moves it to
running with a lease; `attempts` counts the claims, so a worker whose lease expired and was overtaken cannot
mark the job done a second time (workflow/jobs checks its attempt when it finishes).
"""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import UTCDateTime, db, in_clause
from models.org import User


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class Job(db.Model):
    __tablename__ = "job"
    __table_args__ = (
        CheckConstraint(f"status IN ({in_clause(*JobStatus)})", name="status"),
        CheckConstraint("progress >= 0 AND progress <= 100", name="progress"),
        Index("ix_job_claimable", "status", "id"),   # the claim's scan: queued (and running) jobs, oldest first
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default=JobStatus.QUEUED)
    progress: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str] = mapped_column(Text, default="")
    result: Mapped[dict | None] = mapped_column(JSON)         # what it made, e.g. {"evaluation_file": 12}
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"),
                                                        index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)

    requested_by: Mapped[User | None] = relationship()

    @property
    def finished(self) -> bool:
        return self.status in (JobStatus.DONE, JobStatus.FAILED)

    def can_view(self, user: User) -> bool:
        """The one who asked for it, the office and the admins."""
        return user.id == self.requested_by_id or user.is_reviewer or user.is_admin

    def can_download(self, user: User) -> bool:
        """A job's own file (a ledger export, cut to what its requester may see) is the requester's alone."""
        return self.requested_by_id is not None and user.id == self.requested_by_id
