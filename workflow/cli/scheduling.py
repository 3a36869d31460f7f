"""`flask reminders run-once`, `flask outbox send` and `flask scheduler run` (CONTRACT.md): one pass of the
reminder rules, one delivery pass, and the long-running scheduler process."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import inspect

from workflow.cli.common import clean_errors, format_option, now_option, parse_now, print_json
from workflow.extensions import db

reminders_cli = AppGroup("reminders", help="Reminder and escalation rules.")
outbox_cli = AppGroup("outbox", help="The outbox: email, SMS and group robot messages.")
scheduler_cli = AppGroup("scheduler", help="The scheduler process: reminders and email delivery.")


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
    """Build digests and deliver due messages on every channel (email over SMTP, SMS through the gateway, posts to
    group robots); without MAIL_SERVER mail is only reported, without SMS_GATEWAY_URL nobody is on SMS."""
    from workflow.mail.smtp import deliver_pass

    result = deliver_pass(now=parse_now(now))
    summary = {key: result.get(key, 0) for key in ("sent", "failed", "parked", "pending")}
    if fmt == "json":
        print_json({**result, **summary})
    else:
        click.echo(f"已发送 {summary['sent']} 封，失败 {summary['failed']} 封，已搁置 {summary['parked']} 封，"
                   f"待发送 {summary['pending']} 封。")


@scheduler_cli.command("run")
@format_option()
def scheduler_run(fmt: str) -> None:
    """Run the scheduler in the foreground until SIGTERM/Ctrl-C. A second copy stands by (database lock).

    With --format json the status lines go to stderr and one document is printed when the process stops:
    {"holder", "lock", "started_as": "leader"|"standby"}."""
    from workflow.scheduling.runner import SchedulerSettings, configure_logging, run_scheduler

    try:
        settings = SchedulerSettings.from_env()
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    app = current_app._get_current_object()
    if not inspect(db.engine).has_table("scheduler_lease"):
        raise click.ClickException("数据库尚未初始化（缺少 scheduler_lease 表），请先运行 flask db upgrade。")
    configure_logging()
    started_as: list[str] = []

    def announce(lock) -> None:
        started_as.append("leader" if lock.leading else "standby")
        if lock.leading:
            click.echo(f"调度器 {lock.holder}：已获得调度锁，作为主进程运行（leader）。", err=fmt == "json")
        else:
            click.echo(f"调度器 {lock.holder}：另一调度进程正在运行，本进程待命（standby）。", err=fmt == "json")

    lock = run_scheduler(app, settings=settings, announce=announce)
    if fmt == "json":
        print_json({"holder": lock.holder, "lock": lock.mode, "started_as": started_as[0] if started_as else None})
