"""Rate-limit counters kept in the application's database, so every web worker and host counts together."""
from __future__ import annotations

from sqlalchemy import Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import db


class RateLimitCounter(db.Model):
    """One fixed window of one limit key: `hits` since the window opened, until `expires_at` (epoch seconds,
    the clock the `limits` library uses)."""

    __tablename__ = "rate_limit_counter"

    key: Mapped[str] = mapped_column(String(500), primary_key=True)
    hits: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[float] = mapped_column(Float, index=True)
