"""The database half of a backup, one class per engine: a consistent copy into a file, the row count of every
table as of that copy, and putting a copy back in one transaction.

* SQLite: the online backup API (`sqlite3.Connection.backup`), page by page from a live database, consistent
  even while the application writes; restoring copies the file's pages back the same way, all or nothing.
* PostgreSQL: `pg_dump` (custom format) of the application's schema inside an exported snapshot, so the row
  counts taken in that snapshot are exactly the rows dumped; restoring drops the schema and replays the dump
  through `psql` in one transaction (`--single-transaction`, `ON_ERROR_STOP`), so a failure leaves the
  database as it was. The client programs must be of the server's major version or newer (an older pg_dump
  refuses a newer server); `PG_BINDIR` names their folder when they are not on PATH.
"""
from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import Connection, create_engine, inspect, make_url, text

from workflow.domain import DomainError
from workflow.extensions import db


class BackupError(DomainError):
    """A backup that cannot be made or put back; nothing was written (the CLI prints it on one line)."""


def _quoted(conn: Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote(name)


def _row_counts(conn: Connection) -> dict[str, int]:
    names = sorted(inspect(conn).get_table_names())
    return {name: conn.execute(text(f"SELECT count(*) FROM {_quoted(conn, name)}")).scalar_one() for name in names}


def _revision(counts: dict[str, int], conn: Connection) -> str | None:
    if "alembic_version" not in counts:
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def for_engine():
    """The engine-specific half for the application's database."""
    name = db.engine.dialect.name
    if name == "sqlite":
        return SqliteDatabase()
    if name == "postgresql":
        return PostgresDatabase()
    raise BackupError(_("不支持备份 %(dialect)s 数据库（只支持 PostgreSQL 和 SQLite）。", dialect=name))


def row_counts() -> dict[str, int]:
    """Every table of the live database with its number of rows."""
    with db.engine.connect() as conn:
        return _row_counts(conn)


class SqliteDatabase:
    dialect = "sqlite"
    filename = "database.sqlite"
    schema = None

    def check_tools(self) -> None:
        """SQLite needs nothing outside Python."""

    def dump(self, target: Path) -> tuple[dict[str, int], str | None]:
        with db.engine.connect() as conn:
            source = conn.connection.dbapi_connection
            copy = sqlite3.connect(target)
            try:
                source.backup(copy)
            finally:
                copy.close()
        # Counted in the copy itself: the live database may have moved on since.
        engine = create_engine(f"sqlite:///{target}")
        try:
            with engine.connect() as conn:
                counts = _row_counts(conn)
                return counts, _revision(counts, conn)
        finally:
            engine.dispose()

    def restore(self, source: Path) -> None:
        db.session.remove()
        copy = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        try:
            with db.engine.connect() as conn:
                conn.commit()  # no transaction of ours may be open while the pages are replaced
                copy.backup(conn.connection.dbapi_connection)
        except sqlite3.Error as exc:
            raise BackupError(_("恢复 SQLite 数据库失败：%(error)s", error=exc)) from exc
        finally:
            copy.close()
        db.engine.dispose()  # pooled connections may hold the old schema's statements


_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")


class PostgresDatabase:
    dialect = "postgresql"
    filename = "database.dump"

    def __init__(self):
        url = make_url(current_app.config["SQLALCHEMY_DATABASE_URI"])
        # libpq's URI (the psycopg driver name dropped); the password goes by environment, never on a command
        # line another user could read in `ps`.
        self.uri = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
        self.env = {**os.environ, **({"PGPASSWORD": str(url.password)} if url.password else {})}
        self.bindir = current_app.config.get("PG_BINDIR") or None
        with db.engine.connect() as conn:
            # The schema the application's tables live in (a URL may set another search_path); a dump holds
            # that schema alone and is restored into the same one.
            self.schema = conn.execute(text("SELECT current_schema()")).scalar() or "public"

    @property
    def _quoted_schema(self) -> str:
        return db.engine.dialect.identifier_preparer.quote(self.schema)

    def _program(self, name: str) -> str:
        found = shutil.which(name, path=self.bindir) if self.bindir else shutil.which(name)
        if not found:
            raise BackupError(_("找不到 PostgreSQL 客户端程序 %(program)s：请安装与服务器同一主版本的 postgresql-client"
                                "（Debian：apt-get install postgresql-client-%(major)s），或用 PG_BINDIR 指明其所在目录。",
                                program=name, major=self.server_major()))
        return found

    def server_major(self) -> int:
        with db.engine.connect() as conn:
            return int(conn.execute(text("SHOW server_version_num")).scalar_one()) // 10000

    def check_tools(self) -> None:
        """pg_dump, pg_restore and psql exist and are not older than the server (an older pg_dump refuses a
        newer server, and its dump would not restore there)."""
        server = self.server_major()
        for name in ("pg_dump", "pg_restore", "psql"):
            program = self._program(name)
            try:
                out = subprocess.run([program, "--version"], capture_output=True, text=True, timeout=30, check=False)
            except (OSError, subprocess.SubprocessError) as exc:
                raise BackupError(_("无法运行 %(program)s：%(error)s", program=program, error=exc)) from exc
            match = _VERSION.search(out.stdout)
            if not match:
                raise BackupError(_("无法识别 %(program)s 的版本：%(output)s", program=program,
                                    output=out.stdout.strip() or out.stderr.strip()))
            if int(match.group(1)) < server:
                raise BackupError(_("%(program)s 的主版本 %(client)s 低于数据库服务器的 %(server)s：请安装 "
                                    "postgresql-client-%(server)s，或用 PG_BINDIR 指明其所在目录。",
                                    program=program, client=match.group(1), server=server))

    def _run(self, args: list[str], **options) -> subprocess.CompletedProcess:
        try:
            done = subprocess.run(args, env=self.env, capture_output=True, check=False, **options)
        except (OSError, subprocess.SubprocessError) as exc:
            raise BackupError(_("无法运行 %(program)s：%(error)s", program=args[0], error=exc)) from exc
        if done.returncode != 0:
            raise BackupError(_("%(program)s 失败：%(error)s", program=Path(args[0]).name,
                                error=_first_line(done.stderr)))
        return done

    def dump(self, target: Path) -> tuple[dict[str, int], str | None]:
        with db.engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, conn.begin():
            snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            counts = _row_counts(conn)
            revision = _revision(counts, conn)
            # Extensions installed in the schema (pg_trgm for search) go with it: dropping the schema on restore
            # drops them, and the dump must create them again before the indexes that use them.
            extensions = conn.execute(text(
                "SELECT e.extname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
                "WHERE n.nspname = :schema ORDER BY e.extname"), {"schema": self.schema}).scalars().all()
            # pg_dump reads the same snapshot while this transaction stays open.
            self._run([self._program("pg_dump"), "--format=custom", f"--snapshot={snapshot}",
                       f"--schema={self._quoted_schema}", *(f"--extension={name}" for name in extensions),
                       "--file", str(target), self.uri])
        return counts, revision

    def restore(self, source: Path) -> None:
        db.session.remove()
        drop = f"DROP SCHEMA IF EXISTS {self._quoted_schema} CASCADE"
        db.engine.dispose()  # our own idle connections must not hold locks on the tables being dropped
        with tempfile.TemporaryDirectory(prefix="restore-") as work:
            # The whole script first: psql fed by a pg_restore that died half-way would commit half a database.
            script = Path(work) / "restore.sql"
            self._run([self._program("pg_restore"), "--no-owner", "--no-privileges", "--file", str(script),
                       str(source)])
            # The schema is dropped and the dump (which creates it again) replayed in one transaction.
            self._run([self._program("psql"), "--no-psqlrc", "--quiet", "--single-transaction",
                       "--set", "ON_ERROR_STOP=1", "--command", drop, "--file", str(script), self.uri])


def _first_line(stderr: bytes | str) -> str:
    """The line that says what went wrong (psql's NOTICEs come first), else the first one."""
    output = stderr.decode(errors="replace") if isinstance(stderr, bytes) else stderr
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if re.search(r"\b(ERROR|FATAL|error)\b", line)]
    return (errors or lines or [_("（无输出）")])[0]
