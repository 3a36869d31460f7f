"""The 情况通报 (bulletin): a plan's figures for a month, quarter or half-year, circulated by the office.

A draft is computed afresh whenever it is shown; publishing freezes what it says (`data`), gives it its
number for the year (2026年第3期) and archives its PDF and Word files under their sha256 (BulletinFile).
"""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import UTCDateTime, db, in_clause
from models.org import User
from models.plan import Plan


class BulletinStatus(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"


class BulletinKind(enum.StrEnum):
    """The span a bulletin covers, named as the period cadences are (its key: 2026-07, 2026Q3, 2026H1)."""

    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    HALF_YEARLY = "half-yearly"


class Bulletin(db.Model):
    __tablename__ = "bulletin"
    __table_args__ = (
        UniqueConstraint("plan_id", "period_key"),
        UniqueConstraint("plan_id", "year", "number"),
        CheckConstraint(f"status IN ({in_clause(*BulletinStatus)})", name="status"),
        CheckConstraint(f"kind IN ({in_clause(*BulletinKind)})", name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.id", ondelete="CASCADE"), index=True)
    period_key: Mapped[str] = mapped_column(String(10))
    kind: Mapped[str] = mapped_column(String(20))
    year: Mapped[int] = mapped_column(Integer)
    number: Mapped[int | None] = mapped_column(Integer)      # 第 N 期 of the year, given at publishing
    lead: Mapped[str] = mapped_column(Text, default="")      # the office's opening paragraph
    next_steps: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default=BulletinStatus.DRAFT, index=True)
    data: Mapped[dict | None] = mapped_column(JSON)          # what the published bulletin says, frozen
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)

    plan: Mapped[Plan] = relationship()
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    published_by: Mapped[User | None] = relationship(foreign_keys=[published_by_id])
    files: Mapped[list[BulletinFile]] = relationship(back_populates="bulletin", cascade="all, delete-orphan",
                                                     order_by="BulletinFile.kind")

    __mapper_args__ = {"version_id_col": version}

    @property
    def published(self) -> bool:
        return self.status == BulletinStatus.PUBLISHED

    @property
    def number_label(self) -> str | None:
        return f"{self.year}年第{self.number}期" if self.number else None

    def file(self, kind: str) -> BulletinFile | None:
        return next((f for f in self.files if f.kind == kind), None)

    def can_view(self, user: User) -> bool:
        """A published bulletin is circulated to everyone; a draft is the office's and the leaders'."""
        return self.published or user.can_read_bulletin_drafts()

    def can_edit(self, user: User) -> bool:
        return user.can_manage_bulletins() and not self.published


class BulletinFile(db.Model):
    """A published bulletin's PDF or Word file, kept under its sha256: it downloads as the same bytes."""

    __tablename__ = "bulletin_file"
    __table_args__ = (
        UniqueConstraint("bulletin_id", "kind"),
        CheckConstraint("kind IN ('pdf', 'docx')", name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    bulletin_id: Mapped[int] = mapped_column(ForeignKey("bulletin.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    filename: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    pages: Mapped[int | None] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    bulletin: Mapped[Bulletin] = relationship(back_populates="files")
