"""The operations commands of CONTRACT.md: thin adapters over the services.

Each prints one JSON document on stdout with --format json, and on bad input one line on stderr and exit 1,
with nothing written.
"""
from __future__ import annotations

import functools
import json
from datetime import datetime
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from models import Plan, User
from workflow.clock import utcnow
from workflow.domain import DomainError
from workflow.extensions import db
from workflow.plans.importer import PlanImportError, import_plan, plan_to_draft
from workflow.plans.parsing import PlanParseError, parse_plan_bytes
from workflow.plans.services import sha256_of
from workflow.plans.table import print_draft_table
from workflow.scheduling.periods import Cadence


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


def get_plan(plan_id: int) -> Plan:
    plan = db.session.get(Plan, plan_id)
    if plan is None:
        raise click.ClickException(f"方案不存在：{plan_id}")
    return plan


plan_cli = AppGroup("plan", help="Parse, import, export and publish implementation plans.")
demo_cli = AppGroup("demo", help="Demo data for a first look and for training.")
users_cli = AppGroup("users", help="Accounts and personal API tokens.")
reminders_cli = AppGroup("reminders", help="Reminder and escalation rules.")
outbox_cli = AppGroup("outbox", help="The email outbox.")


@plan_cli.command("parse")
@click.argument("path")
@format_option()
@clean_errors(PlanParseError)
def plan_parse(path: str, fmt: str) -> None:
    """Parse PATH (.txt, .docx or .pdf) and print the decomposition; writes nothing."""
    draft = parse_plan_bytes(read_input_file(path), Path(path).name)
    if fmt == "json":
        print_json(draft.to_dict())
    else:
        print_draft_table(draft)


@plan_cli.command("import")
@click.argument("path")
@format_option()
@now_option
@clean_errors(PlanParseError, PlanImportError)
def plan_import(path: str, fmt: str, now: str | None) -> None:
    """Import PATH as a new plan; the same file twice is refused."""
    data = read_input_file(path)
    draft = parse_plan_bytes(data, Path(path).name)
    plan = import_plan(draft, source_filename=Path(path).name, source_sha256=sha256_of(data),
                       actor=None, now=parse_now(now))
    result = {
        "plan_id": plan.id,
        "tasks": len(draft.tasks),
        "unassigned": len(draft.unassigned),
        "assignments": sum(len(t.assignments) for t in plan.tasks),
        "targets": len(draft.targets) + sum(len(t.targets) for t in draft.tasks + draft.unassigned),
        "departments": len(draft.departments),
    }
    if fmt == "json":
        print_json(result)
    else:
        click.echo(f"已导入方案 #{plan.id}《{plan.title}》：任务 {result['tasks']} 项，"
                   f"分工 {result['assignments']} 条，目标 {result['targets']} 个。")


@plan_cli.command("export")
@click.argument("plan_id", type=int)
@format_option(default="json")
@clean_errors()
def plan_export(plan_id: int, fmt: str) -> None:
    """Print the stored plan in the schema of `plan parse`."""
    draft = plan_to_draft(get_plan(plan_id))
    if fmt == "json":
        print_json(draft.to_dict())
    else:
        print_draft_table(draft)


@plan_cli.command("publish")
@click.argument("plan_id", type=int)
@click.option("--cadence", type=click.Choice([c.value for c in Cadence]), default=Cadence.QUARTERLY.value,
              show_default=True)
@click.option("--first-period", default=None, help="e.g. 2026Q1 (default: the current period)")
@click.option("--deadline-workdays", type=click.IntRange(0, 60), default=5, show_default=True,
              help="working days after a period ends")
@format_option()
@now_option
@clean_errors()
def plan_publish(plan_id: int, cadence: str, first_period: str | None, deadline_workdays: int, fmt: str,
                 now: str | None) -> None:
    """Publish: assignments go out, reporting periods are created with working-day deadlines."""
    from workflow.assignments.services import publish_plan

    plan = get_plan(plan_id)
    periods = publish_plan(plan, actor=None, now=parse_now(now), cadence=cadence, first_period=first_period,
                           deadline_workdays=deadline_workdays)
    result = {
        "plan_id": plan.id,
        "assignments": sum(len(t.active_assignments) for t in plan.tasks),
        "periods": [{"key": p.key, "start": p.start.isoformat(), "end": p.end.isoformat(),
                     "deadline": p.deadline.isoformat()} for p in periods],
    }
    if fmt == "json":
        print_json(result)
    else:
        click.echo(f"已发布方案 #{plan.id}：分工 {result['assignments']} 条，报送周期 {len(periods)} 个"
                   f"（{periods[0].key}–{periods[-1].key}，首个期限 {periods[0].deadline}）。")


@users_cli.command("token")
@click.argument("username")
@click.option("--name", default="cli", help="a label to recognise the token by")
@format_option()
@clean_errors()
def users_token(username: str, name: str, fmt: str) -> None:
    """Create a personal API token for USERNAME and print it once."""
    from workflow.auth.tokens import create_token

    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise click.ClickException(f"用户不存在：{username}")
    _, token = create_token(user, name=name, now=utcnow())
    if fmt == "json":
        print_json({"username": user.username, "token": token})
    else:
        click.echo(token)


@reminders_cli.command("run-once")
@now_option
@click.option("--dry-run", is_flag=True, help="show what would be queued; write nothing")
@format_option()
@clean_errors()
def reminders_run_once(now: str | None, dry_run: bool, fmt: str) -> None:
    """One pass of every reminder and escalation rule; a second run at the same time queues nothing."""
    from workflow.scheduling.reminders import run_reminders

    result = run_reminders(now=parse_now(now), dry_run=dry_run)
    if fmt == "json":
        print_json(result)
        return
    verb = "将排队" if dry_run else "已排队"
    click.echo(f"{verb}提醒 {len(result['queued'])} 条，新开督办 {len(result['escalations_opened'])} 项，"
               f"关闭督办 {len(result['escalations_closed'])} 项。")
    for q in result["queued"]:
        click.echo(f"  {q['kind']:<16} L{q['level']} {q['recipient']:<12} {q['department']} {q['task']} {q['period']}")


@outbox_cli.command("send")
@now_option
@format_option()
@clean_errors()
def outbox_send(now: str | None, fmt: str) -> None:
    """Build digests and deliver due mail over SMTP; without MAIL_SERVER, only report what would be sent."""
    from workflow.scheduling.outbox import deliver_pass

    result = deliver_pass(now=parse_now(now))
    summary = {key: result.get(key, 0) for key in ("sent", "failed", "parked", "pending")}
    if fmt == "json":
        print_json({**result, **summary})
    else:
        click.echo(f"已发送 {summary['sent']} 封，失败 {summary['failed']} 封，已搁置 {summary['parked']} 封，"
                   f"待发送 {summary['pending']} 封。")


@demo_cli.command("load")
@format_option()
@now_option
@clean_errors(PlanParseError, PlanImportError, OSError)
def demo_load(fmt: str, now: str | None) -> None:
    """On an empty database: import the bundled plan and create the demo accounts."""
    from workflow.demo import load_demo

    result = load_demo(now=parse_now(now))
    if result is None:
        click.echo("数据库中已有数据，未做任何更改。", err=True)
        if fmt == "json":
            print_json({"plan_id": None, "accounts": [], "changed": False})
        return
    if fmt == "json":
        print_json(result)
        return
    click.echo(f"已载入演示方案 #{result['plan_id']}，演示账号（密码均为 {result['accounts'][0]['password']}）：")
    for a in result["accounts"]:
        click.echo(f"  {a['username']:<12} {a['role']:<10} {a['department'] or ''}")


@demo_cli.command("simulate")
@click.option("--plan", "plan_id", type=int, required=True)
@click.option("--until", "until", type=click.DateTime(formats=["%Y-%m-%d"]), required=True,
              help="play the departments and the office until this day (YYYY-MM-DD)")
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--start", default=None, help="ISO 8601 with offset; default: the publication or, if earlier, the first period's start")
@format_option()
@clean_errors()
def demo_simulate(plan_id: int, until, seed: int, start: str | None, fmt: str) -> None:
    """Play a published plan's departments and office through the services until DATE (meant for a fresh plan)."""
    from workflow.simulation import simulate

    result = simulate(get_plan(plan_id), until=until.date(), seed=seed,
                      start=parse_now(start) if start else None)
    if fmt == "json":
        print_json(result)
        return
    click.echo(f"报告 {result['reports']} 份：已报送 {result['submitted']}（逾期 {result['late']}），"
               f"退回 {result['returned']}，已通过 {result['approved']}，未报送 {result['missing']}。")


def register_cli(app: Flask) -> None:
    from workflow.evaluation.cli import evaluation_cli
    from workflow.scheduling.runner import scheduler_cli

    for group in (plan_cli, demo_cli, users_cli, reminders_cli, outbox_cli, scheduler_cli, evaluation_cli):
        app.cli.add_command(group)
