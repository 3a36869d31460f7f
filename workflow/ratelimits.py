"""A storage for the `limits` library (behind Flask-Limiter) in the application's own database:
`RATELIMIT_STORAGE_URI=database://`. The library ships Redis, Memcached and MongoDB backends but none for SQL,
and its in-memory default counts per process, so N gunicorn workers would allow N times the limit. Each call
runs in its own short transaction on the engine, apart from the request's session, so a counted attempt
survives the request's rollback (a refused login must still count)."""
from __future__ import annotations

import time

from limits.storage import Storage
from sqlalchemy import case, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from models.ratelimit import RateLimitCounter
from workflow.extensions import db

COUNTER = RateLimitCounter.__table__


class DatabaseStorage(Storage):
    """Fixed-window counters as rows: one upsert per hit, atomic on PostgreSQL and SQLite alike."""

    STORAGE_SCHEME = ["database"]

    @property
    def base_exceptions(self):
        return SQLAlchemyError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        insert = (postgresql if db.engine.dialect.name == "postgresql" else sqlite).insert(COUNTER)
        expired = COUNTER.c.expires_at <= now
        statement = insert.values(key=key, hits=amount, expires_at=now + expiry).on_conflict_do_update(
            index_elements=[COUNTER.c.key],
            set_={"hits": case((expired, amount), else_=COUNTER.c.hits + amount),
                  "expires_at": case((expired, now + expiry), else_=COUNTER.c.expires_at)},
        ).returning(COUNTER.c.hits)
        with db.engine.begin() as conn:
            return conn.execute(statement).scalar_one()

    def get(self, key: str) -> int:
        with db.engine.connect() as conn:
            hits = conn.scalar(select(COUNTER.c.hits).where(COUNTER.c.key == key,
                                                            COUNTER.c.expires_at > time.time()))
        return hits or 0

    def get_expiry(self, key: str) -> float:
        with db.engine.connect() as conn:
            expires = conn.scalar(select(COUNTER.c.expires_at).where(COUNTER.c.key == key))
        return expires if expires is not None else time.time()

    def check(self) -> bool:
        try:
            with db.engine.connect() as conn:
                conn.scalar(select(func.count()).select_from(COUNTER))
        except SQLAlchemyError:
            return False
        return True

    def reset(self) -> int | None:
        with db.engine.begin() as conn:
            return conn.execute(delete(COUNTER)).rowcount

    def clear(self, key: str) -> None:
        with db.engine.begin() as conn:
            conn.execute(delete(COUNTER).where(COUNTER.c.key == key))


def purge_expired(now: float | None = None) -> int:
    """Drop windows that ran out (the scheduler's housekeeping): the table holds only live counters."""
    with db.engine.begin() as conn:
        return conn.execute(delete(COUNTER).where(COUNTER.c.expires_at <= (now or time.time()))).rowcount
