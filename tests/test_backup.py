"""`flask backup create` / `flask backup restore` (CONTRACT.md) on the test database, SQLite or PostgreSQL, with
the files in the local folder and in S3: a round trip compares every row of every table and every stored file; a damaged backup or a non-empty target
is refused with one line and nothing written."""
from __future__ import annotations

import json
import os
import shutil
import stat
from datetime import UTC, datetime
from pathlib import Path

import flask_migrate
import pytest
from sqlalchemy import MetaData, select, text

from models import Plan, Report, ReportStatus, Role, User
from tests.conftest import _drop_everything, _empty_tables
from tests.factories import PDF, file_report, liaison_of
from workflow import files
from workflow.evaluation import archive
from workflow.extensions import db
from workflow.reports.services import add_attachment
from workflow.storage import storage

LATER = datetime(2026, 11, 25, 2, tzinfo=UTC)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def world(evaluation, storage_backend):
    """The evaluation fixture's year (plan, reports, scores) with attachments, an archived workbook and a staged
    upload, on each storage backend; returns the plan."""
    ev, office = evaluation
    report = drafts()[1]
    add_attachment(report, PDF, "现场照片说明.pdf", actor=liaison_of(report.department.name), now=LATER)
    archive.generate_workbook(ev, actor=office, now=LATER)
    storage().put_bytes("staging/waiting-upload", b"transient")
    return ev.plan


def drafts() -> list[Report]:
    """2026Q1 drafts of tasks without targets (file_report fills no values)."""
    return [r for r in db.session.scalars(select(Report).where(Report.status == ReportStatus.DRAFT)
                                          .order_by(Report.id)) if not r.task.targets]


def database_state() -> dict[str, list[tuple]]:
    """Every row of every table (the migration table too), in a stable order."""
    metadata = MetaData()
    metadata.reflect(bind=db.engine)
    state = {}
    with db.engine.connect() as conn:
        for table in metadata.sorted_tables:
            order = list(table.primary_key.columns) or list(table.columns)
            state[table.name] = [tuple(row) for row in conn.execute(select(table).order_by(*order))]
    return state


def store_state() -> dict[str, bytes]:
    return {item.key: storage().read_bytes(item.key) for item in files.durable_files()}


def work_folders(app) -> list[Path]:
    """What a restore left in a local store's folder (its staging and retired copies are dot-folders)."""
    root = Path(app.config["UPLOAD_DIR"])
    return [p for p in root.iterdir() if p.name.startswith(".")] if root.is_dir() else []


def backup(runner, target: Path) -> dict:
    result = runner.invoke(args=["backup", "create", "-o", str(target), "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def restore(runner, source: Path, *extra: str):
    return runner.invoke(args=["backup", "restore", str(source), "--format", "json", *extra])


def refused(result, *words: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    line = result.stderr.strip()
    assert len(line.splitlines()) == 1, line
    for word in words:
        assert word in line, line


def change_everything() -> None:
    """After the backup: a new attachment, a report filed and approved (rows, revisions, audit trail)."""
    plan = db.session.scalar(select(Plan))
    office = db.session.scalar(select(User).where(User.role == Role.OFFICE))
    report = drafts()[0]
    add_attachment(report, PNG, "新图.png", actor=liaison_of(report.department.name), now=LATER)
    file_report(plan, office, report.task.code, report.department.name, LATER)


def test_round_trip_restores_every_row_and_every_file(app, runner, world, tmp_path):
    before_rows, before_files = database_state(), store_state()
    assert len(before_files) == 2 and not any(name.startswith("staging/") for name in before_files)

    made = backup(runner, tmp_path / "backup")
    assert set(made) >= {"path", "tables", "files", "bytes"}
    assert made["path"] == str(tmp_path / "backup")
    assert made["tables"] == len(before_rows) and made["files"] == 2
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
    assert made["bytes"] == manifest["database"]["bytes"] + sum(f["bytes"] for f in manifest["files"])
    assert manifest["database"]["tables"] == {name: len(rows) for name, rows in before_rows.items()}
    assert {f["path"] for f in manifest["files"]} == {f"files/{name}" for name in before_files}
    assert stat.S_IMODE(os.stat(tmp_path / "backup").st_mode) == 0o700  # password hashes are inside

    change_everything()
    assert database_state() != before_rows and store_state() != before_files

    result = restore(runner, tmp_path / "backup", "--force")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["tables"] == made["tables"]
    assert database_state() == before_rows
    assert store_state() == before_files
    assert storage().read_bytes("staging/waiting-upload") == b"transient"  # left alone
    assert not work_folders(app)  # no work folders left
    # The application works on what came back: its sequences continue after the restored ids.
    change_everything()


def test_restore_into_an_empty_database(app, runner, world, tmp_path):
    """A freshly migrated database (tables, no rows) and an empty store take a backup without --force; so does a
    database without any table at all."""
    before_rows, before_files = database_state(), store_state()
    backup(runner, tmp_path / "backup")
    db.session.remove()  # the fixture's reads hold locks that TRUNCATE waits for
    _empty_tables()
    for item in files.durable_files():
        storage().delete(item.key)
    result = restore(runner, tmp_path / "backup")
    assert result.exit_code == 0, result.output
    assert database_state() == before_rows and store_state() == before_files

    db.session.remove()
    own = set(db.metadata.tables)
    _drop_everything()
    for name in set(db.metadata.tables) - own:  # reflected on SQLite (the search index's tables): not ours to list
        db.metadata.remove(db.metadata.tables[name])
    try:
        result = restore(runner, tmp_path / "backup", "--force")
        assert result.exit_code == 0, result.output
        assert database_state() == before_rows
    finally:
        with db.engine.connect() as conn:
            if "alembic_version" not in db.inspect(conn).get_table_names():
                flask_migrate.upgrade()  # keep the schema for the tests after this one


def test_a_non_empty_target_is_refused_without_force(app, runner, world, tmp_path):
    backup(runner, tmp_path / "backup")
    change_everything()
    rows, stored = database_state(), store_state()
    refused(restore(runner, tmp_path / "backup"), "--force")
    assert database_state() == rows and store_state() == stored


DAMAGES = {
    "tamper": ["sha256", "files/"],
    "missing": ["缺少文件"],
    "extra": ["清单未列出"],
    "database": ["sha256", "database."],
    "no-manifest": ["manifest.json"],
    "bad-json": ["manifest.json"],
    "traversal": ["路径不合法"],
}


def damaged_copy(original: Path, folder: Path, damage: str) -> Path:
    shutil.copytree(original, folder)
    manifest_path = folder / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    first_file = folder / manifest["files"][0]["path"]
    if damage == "tamper":
        first_file.write_bytes(first_file.read_bytes() + b"x")
    elif damage == "missing":
        first_file.unlink()
    elif damage == "extra":
        (folder / "files" / "attachments" / "planted").write_bytes(b"not ours")
    elif damage == "database":
        database = folder / manifest["database"]["path"]
        data = bytearray(database.read_bytes())
        data[len(data) // 2] ^= 0xFF
        database.write_bytes(bytes(data))
    elif damage == "no-manifest":
        manifest_path.unlink()
    elif damage == "bad-json":
        manifest_path.write_text("{not json")
    elif damage == "traversal":
        manifest["files"][0]["path"] = "files/../../outside"
        manifest_path.write_text(json.dumps(manifest))
    return folder


def test_a_damaged_backup_is_refused_before_anything_is_written(app, runner, world, tmp_path):
    backup(runner, tmp_path / "backup")
    change_everything()
    rows, stored = database_state(), store_state()
    for damage, words in DAMAGES.items():
        folder = damaged_copy(tmp_path / "backup", tmp_path / damage, damage)
        refused(restore(runner, folder, "--force"), *words)
        assert database_state() == rows and store_state() == stored, damage
        assert not work_folders(app), damage


def test_create_refuses_a_folder_that_is_not_empty(app, runner, world, tmp_path):
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "keep.txt").write_text("mine")
    refused(runner.invoke(args=["backup", "create", "-o", str(tmp_path / "used")]), "不为空")
    assert [p.name for p in (tmp_path / "used").iterdir()] == ["keep.txt"]
    refused(runner.invoke(args=["backup", "create", "-o", str(tmp_path / "no" / "such")]), "不存在")
    assert {p.name for p in tmp_path.iterdir()} - {"uploads"} == {"used"}  # nothing half-made beside it


def test_another_schema_or_engine_is_refused(app, runner, world, tmp_path):
    folder = tmp_path / "backup"
    backup(runner, folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    other = "sqlite" if manifest["database"]["dialect"] == "postgresql" else "postgresql"
    (folder / "manifest.json").write_text(json.dumps({**manifest, "database": {**manifest["database"],
                                                                              "dialect": other}}))
    refused(restore(runner, folder, "--force"), other)
    if manifest["database"]["dialect"] == "postgresql":
        (folder / "manifest.json").write_text(json.dumps({**manifest, "database": {**manifest["database"],
                                                                                  "schema": "elsewhere"}}))
        refused(restore(runner, folder, "--force"), "elsewhere")


postgres_only = pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"),
                                   reason="pg_dump and pg_restore are PostgreSQL's")


def _fake_client(folder: Path, version: str) -> Path:
    folder.mkdir()
    for name in ("pg_dump", "pg_restore", "psql"):
        script = folder / name
        script.write_text(f"#!/bin/sh\necho '{name} (PostgreSQL) {version}'\n")
        script.chmod(0o755)
    return folder


@postgres_only
def test_missing_or_older_postgresql_clients_are_named(app, runner, world, tmp_path):
    with db.engine.connect() as conn:
        server = int(conn.execute(text("SHOW server_version_num")).scalar()) // 10000
    app.config["PG_BINDIR"] = str(tmp_path / "empty")
    (tmp_path / "empty").mkdir()
    refused(runner.invoke(args=["backup", "create", "-o", str(tmp_path / "b1")]), "pg_dump",
            f"postgresql-client-{server}", "PG_BINDIR")
    app.config["PG_BINDIR"] = str(_fake_client(tmp_path / "old", f"{server - 1}.3"))
    refused(runner.invoke(args=["backup", "create", "-o", str(tmp_path / "b2")]), f"{server - 1}",
            f"postgresql-client-{server}")
    assert not (tmp_path / "b1").exists() and not (tmp_path / "b2").exists()
