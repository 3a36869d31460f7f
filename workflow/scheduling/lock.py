"""The leader lock: of all `flask scheduler run` processes started against one database, exactly one acts.

Two mechanisms, chosen by the database:

* PostgreSQL ("advisory"): `pg_try_advisory_lock` on a connection opened for this purpose and kept for as long
  as this process leads. The server releases the lock the moment that connection ends, so a leader that was
  killed is replaced at the next heartbeat of a standby. Each heartbeat checks in `pg_locks` that the lock is
  still held on that connection; if the check fails the process steps down. The `scheduler_lease` row is then
  only a record of who leads (for operators), written by the holder of the advisory lock.
  The lock key is fixed per schema (a constant namespace plus a hash of `current_schema()`), so two deployments
  or test runs that share one PostgreSQL database in separate schemas do not block each other.
* SQLite, or any database ("lease"): the `scheduler_lease` row. A process takes it when the row is absent or
  expired, with one conditional UPDATE (or INSERT against the primary key) whose row count says who won, so two
  processes can never both win; the leader renews it every heartbeat and expires it on a clean shutdown.
  A leader that died is replaced once its lease runs out.

A leader only acts while its lease is valid by its own clock (`is_leader(now)`): a leader that could not renew
(database busy, process paused) stops running jobs before anybody else may take over.
"""
from __future__ import annotations

import contextlib
import logging
import os
import secrets
import socket
import threading
import zlib
from datetime import datetime, timedelta

from sqlalchemy import insert, select, text, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from models import SchedulerLease
from workflow.clock import utcnow

log = logging.getLogger("workflow.scheduler")

LEASE_NAME = "scheduler"
# First half of the two-int4 advisory lock key: a fixed namespace for this product ("sche" in ASCII).
ADVISORY_NAMESPACE = 0x73636865
DEFAULT_LEASE_SECONDS = 45.0

ADVISORY = "advisory"
LEASE = "lease"


def make_holder_id() -> str:
    """hostname:pid:random — unique per process start, readable in logs and in the lease row."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{secrets.token_hex(3)}"


def _int4(value: int) -> int:
    """An unsigned 32-bit value as the signed int4 PostgreSQL expects."""
    return value - (1 << 32) if value >= (1 << 31) else value


def advisory_key(conn, name: str) -> tuple[int, int]:
    """The two-int4 advisory lock key for `name` in the connection's schema (tests run several schemas on one
    database; each must lock on its own)."""
    schema = conn.execute(text("SELECT current_schema()")).scalar() or "public"
    return _int4(ADVISORY_NAMESPACE), _int4(zlib.crc32(f"{name}:{schema}".encode()))


class LeaderLock:
    """try_acquire(now) → bool, renew(now) → bool, release(), is_leader(now), holder.

    Thread-safe: the scheduler's heartbeat and its jobs run in different threads.
    """

    def __init__(self, engine: Engine, *, lease_seconds: float = DEFAULT_LEASE_SECONDS, holder: str | None = None,
                 name: str = LEASE_NAME, mode: str | None = None) -> None:
        if mode is None:
            mode = ADVISORY if engine.dialect.name == "postgresql" else LEASE
        if mode not in (ADVISORY, LEASE):
            raise ValueError(f"unknown lock mode {mode!r}")
        if mode == ADVISORY and engine.dialect.name != "postgresql":
            raise ValueError("advisory locks need PostgreSQL")
        self.engine = engine
        self.mode = mode
        self.name = name
        self.holder = holder or make_holder_id()
        self.lease = timedelta(seconds=lease_seconds)
        self._mutex = threading.RLock()
        self._leader = False
        self._valid_until: datetime | None = None
        self._conn: Connection | None = None  # advisory mode: the dedicated connection holding the lock
        self._key: tuple[int, int] | None = None

    # -- public API -------------------------------------------------------------------------------------------

    def is_leader(self, now: datetime) -> bool:
        """True while this process holds the lock and its last confirmation is younger than the lease."""
        with self._mutex:
            return self._leader and self._valid_until is not None and now < self._valid_until

    @property
    def leading(self) -> bool:
        """Whether this process believes it leads (without the clock check); for logs and the CLI line."""
        return self._leader

    def try_acquire(self, now: datetime) -> bool:
        """Become the leader if nobody else is; True if this process leads afterwards (also when it already did)."""
        with self._mutex:
            if self._leader:
                return self.renew(now)
            won = self._acquire_advisory(now) if self.mode == ADVISORY else self._acquire_lease(now)
            if won:
                self._leader = True
                self._valid_until = now + self.lease
            return won

    def renew(self, now: datetime) -> bool:
        """Confirm leadership; False (and this process steps down) when it was lost.

        A database error while the local lease is still valid keeps the leadership for now (the next heartbeat
        tries again); once the lease ran out, the process steps down.
        """
        with self._mutex:
            if not self._leader:
                return False
            try:
                kept = self._renew_advisory(now) if self.mode == ADVISORY else self._renew_lease(now)
            except SQLAlchemyError as exc:
                if self.mode == ADVISORY:
                    log.warning("scheduler %s: lock connection failed: %s", self.holder, _first_line(exc))
                    kept = False
                elif self._valid_until is not None and now < self._valid_until:
                    log.warning("scheduler %s: could not renew the lease (will retry): %s", self.holder,
                                _first_line(exc))
                    return True
                else:
                    log.warning("scheduler %s: could not renew the lease: %s", self.holder, _first_line(exc))
                    kept = False
            if kept:
                self._valid_until = now + self.lease
            else:
                self._step_down()
            return kept

    def release(self, now: datetime | None = None) -> None:
        """Give the lock up (clean shutdown): a standby can take over at its next heartbeat."""
        now = now or utcnow()
        with self._mutex:
            was_leader = self._leader
            self._leader = False
            self._valid_until = None
            if self.mode == ADVISORY:
                self._release_advisory(now)
            elif was_leader:
                try:
                    with self.engine.begin() as conn:
                        conn.execute(self._expire_stmt(now))
                except SQLAlchemyError as exc:
                    log.warning("scheduler %s: could not release the lease: %s", self.holder, _first_line(exc))

    # -- lease mode -------------------------------------------------------------------------------------------

    def _acquire_lease(self, now: datetime) -> bool:
        table = SchedulerLease.__table__
        values = {"holder": self.holder, "expires_at": now + self.lease, "renewed_at": now}
        try:
            with self.engine.begin() as conn:
                taken = conn.execute(
                    update(table)
                    .where(table.c.name == self.name, (table.c.expires_at <= now) | (table.c.holder == self.holder))
                    .values(**values)
                ).rowcount
                if taken == 1:
                    return True
                if conn.execute(select(table.c.name).where(table.c.name == self.name)).first() is not None:
                    return False  # held by someone else and not expired
            with self.engine.begin() as conn:  # absent: the primary key lets only one INSERT win
                conn.execute(insert(table).values(name=self.name, **values))
            return True
        except IntegrityError:
            return False  # the row exists and is held by someone else (or another process inserted it first)
        except SQLAlchemyError as exc:
            log.warning("scheduler %s: could not try the lease: %s", self.holder, _first_line(exc))
            return False

    def _renew_lease(self, now: datetime) -> bool:
        table = SchedulerLease.__table__
        with self.engine.begin() as conn:
            kept = conn.execute(
                update(table).where(table.c.name == self.name, table.c.holder == self.holder)
                .values(expires_at=now + self.lease, renewed_at=now)
            ).rowcount
        return kept == 1

    def _expire_stmt(self, now: datetime):
        table = SchedulerLease.__table__
        return update(table).where(table.c.name == self.name, table.c.holder == self.holder).values(expires_at=now)

    # -- advisory mode ----------------------------------------------------------------------------------------

    def _acquire_advisory(self, now: datetime) -> bool:
        conn = None
        try:
            conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            if self._key is None:
                self._key = advisory_key(conn, self.name)
            got = conn.execute(text("SELECT pg_try_advisory_lock(:a, :b)"),
                               {"a": self._key[0], "b": self._key[1]}).scalar()
            if not got:
                conn.close()
                return False
            self._conn = conn
            self._record(now)
            return True
        except SQLAlchemyError as exc:
            log.warning("scheduler %s: could not try the advisory lock: %s", self.holder, _first_line(exc))
            self._conn = None
            _discard(conn)
            return False

    def _renew_advisory(self, now: datetime) -> bool:
        if self._conn is None:
            return False
        held = self._conn.execute(
            text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() "
                 "AND classid = CAST(:a AS oid) AND objid = CAST(:b AS oid) AND objsubid = 2 AND granted"),
            {"a": self._key[0] & 0xFFFFFFFF, "b": self._key[1] & 0xFFFFFFFF},
        ).scalar()
        if not held:
            return False
        self._record(now)
        return True

    def _record(self, now: datetime) -> None:
        """Advisory mode: write who leads into the lease row (we hold the lock, so nobody else writes it)."""
        table = SchedulerLease.__table__
        values = {"holder": self.holder, "expires_at": now + self.lease, "renewed_at": now}
        try:
            if not self._conn.execute(update(table).where(table.c.name == self.name).values(**values)).rowcount:
                self._conn.execute(insert(table).values(name=self.name, **values))
        except SQLAlchemyError as exc:
            if not self._conn.closed and not self._conn.invalidated:
                try:
                    self._conn.execute(text("SELECT 1"))
                except SQLAlchemyError:
                    raise exc from None  # the connection itself is gone: the caller steps down
            log.warning("scheduler %s: could not record the lease row: %s", self.holder, _first_line(exc))

    def _release_advisory(self, now: datetime) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.execute(self._expire_stmt(now))
            conn.execute(text("SELECT pg_advisory_unlock(:a, :b)"), {"a": self._key[0], "b": self._key[1]})
            conn.close()
        except SQLAlchemyError as exc:
            log.warning("scheduler %s: could not release the advisory lock cleanly: %s", self.holder,
                        _first_line(exc))
            _discard(conn)  # closing the session releases the lock on the server anyway

    def _step_down(self) -> None:
        self._leader = False
        self._valid_until = None
        if self.mode == ADVISORY and self._conn is not None:
            conn, self._conn = self._conn, None
            _discard(conn)


def _discard(conn: Connection | None) -> None:
    """Close a connection for good (not back into the pool): ending the session frees any advisory lock."""
    if conn is None:
        return
    with contextlib.suppress(SQLAlchemyError):
        if not conn.invalidated:
            conn.invalidate()
    with contextlib.suppress(SQLAlchemyError):
        conn.close()


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
