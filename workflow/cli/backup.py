"""`flask backup create` and `flask backup restore` (CONTRACT.md): thin adapters over workflow.backup.services."""
from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from workflow.backup import services
from workflow.cli.common import clean_errors, format_option, print_json
from workflow.clock import utcnow

backup_cli = AppGroup("backup", help="Backups of the database and the stored files, and restoring them.")


def _print(result: services.BackupResult, fmt: str, verb: str) -> None:
    if fmt == "json":
        print_json(result.as_json())
        return
    click.echo(f"{verb} {result.path}：{result.tables} 张表（{result.rows} 行），{result.files} 个文件，"
               f"共 {result.bytes} 字节（{result.dialect}，迁移版本 {result.revision or '—'}）。")


@backup_cli.command("create")
@click.option("-o", "--output", "output", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="the backup folder to write; must not exist yet, or be empty")
@format_option()
@clean_errors(OSError)
def backup_create(output: Path, fmt: str) -> None:
    """Back up the database (pg_dump on PostgreSQL, the online backup API on SQLite) and the stored files,
    with a manifest of their sha256; prints {"path", "tables", "files", "bytes"}."""
    _print(services.create_backup(output, now=utcnow()), fmt, "已备份到")


@backup_cli.command("restore")
@click.argument("source", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="overwrite a database or file store that is not empty")
@format_option()
@clean_errors(OSError)
def backup_restore(source: Path, force: bool, fmt: str) -> None:
    """Restore a backup made by `backup create`: every file is checked against the manifest first; a database
    with rows, or a store with files, is refused unless --force. Stop the web and scheduler processes first."""
    _print(services.restore_backup(source, force=force), fmt, "已从备份恢复")
