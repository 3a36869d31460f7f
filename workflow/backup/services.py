"""Backup and restore (`flask backup create -o DIR`, `flask backup restore DIR [--force]`, CONTRACT.md).

A backup is a folder: the database copy (workflow.backup.databases), every durable file of the store under
`files/` (attachments, archived evaluation files: workflow.files.durable_files, from the local folder or the S3
bucket alike), and `manifest.json` with the
sha256 and size of each file and the row count of every table. The database is copied first and the files
after it: files are written before the rows that name them and never deleted, so every file a copied row
names is in the copy. The folder is built under a temporary name and renamed into place when complete.

A restore reads the whole backup and checks it against its manifest before it writes anything: a changed,
missing or unexpected file is one clear error. It refuses a database that holds rows, or a store that holds
files, unless forced; then it puts the database back in one transaction, checks the row counts, and swaps the
store's areas for the backup's.
"""
from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath

from flask_babel import gettext as _

from workflow import files
from workflow.backup.databases import BackupError, for_engine, row_counts
from workflow.extensions import db
from workflow.storage import storage

__all__ = ["MANIFEST", "BackupError", "BackupResult", "create_backup", "restore_backup"]

MANIFEST = "manifest.json"
FORMAT = "duban-backup"
FORMAT_VERSION = 1
FILES_FOLDER = "files"


@dataclass(frozen=True)
class BackupResult:
    path: Path
    tables: int          # tables in the database copy
    rows: int            # rows in them, altogether
    files: int           # stored files (attachments, archived PDFs ...)
    bytes: int           # the database copy and the files
    dialect: str
    revision: str | None  # the schema's migration revision

    def as_json(self) -> dict:
        return {"path": str(self.path), "tables": self.tables, "files": self.files, "bytes": self.bytes,
                "rows": self.rows, "database": self.dialect, "revision": self.revision}


def _copy(key: str, target: Path) -> tuple[str, int]:
    """Copy a stored file out of the store and return (sha256, size) of what was written."""
    storage().download(key, target)
    return files.sha256_file(target), target.stat().st_size


def _entry(folder: Path, path: Path) -> dict:
    return {"path": path.relative_to(folder).as_posix(), "sha256": files.sha256_file(path),
            "bytes": path.stat().st_size}


def create_backup(target: Path, *, now: datetime) -> BackupResult:
    """Write a backup into `target`, a folder that must not exist yet or be empty."""
    target = Path(target).absolute()
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise BackupError(_("备份目录已存在且不为空：%(path)s（请指定新的目录）。", path=target))
    if not target.parent.is_dir():
        raise BackupError(_("备份目录的上级目录不存在：%(path)s", path=target.parent))
    database = for_engine()
    database.check_tools()
    work = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.partial-"))
    try:
        counts, revision = database.dump(work / database.filename)
        stored = []
        for item in files.durable_files():
            digest, size = _copy(item.key, work / FILES_FOLDER / item.key)
            stored.append({"path": f"{FILES_FOLDER}/{item.key}", "sha256": digest, "bytes": size})
        manifest = {
            "format": FORMAT, "version": FORMAT_VERSION, "created_at": now.isoformat(),
            "database": {**_entry(work, work / database.filename), "dialect": database.dialect,
                         "schema": database.schema, "revision": revision, "tables": counts},
            "files": stored,
        }
        (work / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
        if target.exists():
            target.rmdir()
        work.rename(target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return _result(target, manifest)


def _result(path: Path, manifest: dict) -> BackupResult:
    database = manifest["database"]
    return BackupResult(path=path, tables=len(database["tables"]), rows=sum(database["tables"].values()),
                        files=len(manifest["files"]),
                        bytes=database["bytes"] + sum(f["bytes"] for f in manifest["files"]),
                        dialect=database["dialect"], revision=database["revision"])


# -- restore ---------------------------------------------------------------------------------------------

def _read_manifest(folder: Path) -> dict:
    path = folder / MANIFEST
    if not folder.is_dir():
        raise BackupError(_("备份目录不存在：%(path)s", path=folder))
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise BackupError(_("不是备份目录（缺少 %(name)s）：%(path)s", name=MANIFEST, path=folder)) from exc
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise BackupError(_("备份清单 %(name)s 无法读取：%(error)s", name=MANIFEST, error=exc)) from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(_("备份清单 %(name)s 不是本系统的备份。", name=MANIFEST))
    if manifest.get("version") != FORMAT_VERSION:
        raise BackupError(_("备份格式版本 %(version)s 不受支持（支持 %(supported)s）。",
                            version=manifest.get("version"), supported=FORMAT_VERSION))
    return manifest


def _safe_relative(value, *, under: str | None) -> PurePosixPath:
    """A manifest path that stays inside the backup (and under `under`): nothing absolute, no '..'."""
    path = PurePosixPath(value) if isinstance(value, str) else None
    if (path is None or path.is_absolute() or ".." in path.parts or not path.parts
            or (under is not None and (len(path.parts) < 2 or path.parts[0] != under))):
        raise BackupError(_("备份清单中的路径不合法：%(path)s", path=value))
    return path


def _verify(folder: Path, manifest: dict) -> list[tuple[PurePosixPath, Path]]:
    """Every file of the manifest present with its size and sha256, and no file the manifest does not list;
    returns the stored files as (path inside the store, path in the backup)."""
    try:
        database = manifest["database"]
        expected = {_safe_relative(database["path"], under=None): database}
        stored = []
        for entry in manifest["files"]:
            relative = _safe_relative(entry["path"], under=FILES_FOLDER)
            expected[relative] = entry
            stored.append((PurePosixPath(*relative.parts[1:]), folder / relative))
        tables = database["tables"]
        if not (isinstance(tables, dict) and all(isinstance(n, int) for n in tables.values())):
            raise TypeError("tables")
    except (KeyError, TypeError, AttributeError) as exc:
        raise BackupError(_("备份清单 %(name)s 不完整。", name=MANIFEST)) from exc
    present = {PurePosixPath(p.relative_to(folder).as_posix()) for p in folder.rglob("*") if p.is_file()}
    present.discard(PurePosixPath(MANIFEST))
    if missing := sorted(set(expected) - present):
        raise BackupError(_("备份不完整，缺少文件：%(path)s", path=missing[0]))
    if unexpected := sorted(present - set(expected)):
        raise BackupError(_("备份中有清单未列出的文件：%(path)s", path=unexpected[0]))
    for relative, entry in expected.items():
        path = folder / relative
        if path.stat().st_size != entry.get("bytes") or files.sha256_file(path) != entry.get("sha256"):
            raise BackupError(_("备份文件已损坏或被修改（sha256 不符）：%(path)s", path=relative))
    return stored


def _target_contents() -> tuple[int, int]:
    """(rows in the application's tables, files in the store). The migration table and what the database keeps
    beside the tables (SQLite's full-text index tables, filled even when empty) do not count."""
    own = set(db.metadata.tables)
    rows = sum(n for name, n in row_counts().items() if name in own)
    return rows, len(files.durable_files())


def restore_backup(source: Path, *, force: bool = False) -> BackupResult:
    """Put a backup back: verified first, refused on a non-empty database or store unless `force`."""
    folder = Path(source).absolute()
    manifest = _read_manifest(folder)
    stored = _verify(folder, manifest)
    database = for_engine()
    if manifest["database"]["dialect"] != database.dialect:
        raise BackupError(_("备份来自 %(source)s 数据库，不能恢复到 %(target)s 数据库。",
                            source=manifest["database"]["dialect"], target=database.dialect))
    if manifest["database"].get("schema") != database.schema:
        raise BackupError(_("备份来自数据库模式（schema）%(source)s，当前连接使用的是 %(target)s：不能恢复到另一个模式。",
                            source=manifest["database"].get("schema"), target=database.schema))
    database.check_tools()
    rows, present = _target_contents()
    if (rows or present) and not force:
        raise BackupError(_("目标不为空（数据库中有 %(rows)s 行数据，文件库中有 %(files)s 个文件）：恢复会覆盖它们。"
                            "确认要覆盖时请加 --force。", rows=rows, files=present))
    staged = files.staging_folder("restore")
    try:
        for relative, path in stored:
            destination = staged / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, destination)
        database.restore(folder / manifest["database"]["path"])
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    files.replace_durable(staged)
    restored = row_counts()
    if restored != manifest["database"]["tables"]:
        wrong = sorted(name for name in set(restored) | set(manifest["database"]["tables"])
                       if restored.get(name) != manifest["database"]["tables"].get(name))
        raise BackupError(_("恢复后的行数与备份清单不符：%(tables)s", tables="、".join(wrong)))
    return _result(folder, manifest)
