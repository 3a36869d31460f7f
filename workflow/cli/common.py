"""What every command of CONTRACT.md shares: --format and --now, one JSON document, clean failures.

A command prints one JSON document on stdout with --format json, and on bad input one line on stderr and
exits 1, with nothing written.
"""
from __future__ import annotations

import functools
import json
from datetime import datetime
from pathlib import Path

import click
from sqlalchemy.exc import SQLAlchemyError

from models import Plan
from workflow.clock import utcnow
from workflow.domain import DomainError
from workflow.extensions import db


def format_option(default: str = "table"):
    return click.option("--format", "fmt", type=click.Choice(["json", "table"]), default=default,
                        show_default=True, help="json: exactly one JSON document on stdout")


def now_option(fn):
    return click.option("--now", "now", default=None,
                        help="ISO 8601 time with offset, e.g. 2026-04-20T09:00+08:00; default: the real clock")(fn)


def parse_now(value: str | None) -> datetime:
    if value is None:
        return utcnow()
    try:
        dt = datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.ClickException(f"--now 不是 ISO 8601 时间：{value}") from exc
    if dt.tzinfo is None:
        raise click.ClickException(f"--now 需要带时区偏移，例如 2026-04-20T09:00+08:00：{value}")
    return dt


def print_json(data) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


def clean_errors(*known: type[Exception]):
    """Expected failures become one line on stderr and exit 1, after a rollback so nothing is half-written."""

    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except DomainError as exc:
                db.session.rollback()
                raise click.ClickException(exc.message) from exc
            except known as exc:
                db.session.rollback()
                raise click.ClickException(str(exc)) from exc
            except SQLAlchemyError as exc:
                db.session.rollback()
                lines = str(exc).strip().splitlines()
                raise click.ClickException(
                    f"数据库错误（是否已运行 flask db upgrade？）：{lines[0] if lines else type(exc).__name__}"
                ) from exc
        return wrapper

    return decorate


def read_input_file(path: str) -> bytes:
    p = Path(path)
    if not p.is_file():
        raise click.ClickException(f"文件不存在或不是普通文件：{path}")
    return p.read_bytes()


def output_path(path: str, suffixes: tuple[str, ...]) -> Path:
    """Where a command will write its file, checked before any work: an existing folder and a known suffix."""
    target = Path(path)
    if target.suffix.lower() not in suffixes:
        raise click.ClickException(f"输出文件应以 {' 或 '.join(suffixes)} 结尾：{path}")
    if not target.parent.is_dir():
        raise click.ClickException(f"输出目录不存在：{target.parent}")
    return target


def write_output(target: Path, data: bytes) -> str:
    """Write through a temporary file beside the target, so a failure never leaves half a file; the absolute
    path written."""
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        tmp.write_bytes(data)
        tmp.replace(target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise click.ClickException(f"无法写入 {target}：{exc.strerror or exc}") from exc
    return str(target.resolve())


def get_plan(plan_id: int) -> Plan:
    plan = db.session.get(Plan, plan_id)
    if plan is None:
        raise click.ClickException(f"方案不存在：{plan_id}")
    return plan
