"""The operations commands of CONTRACT.md, one module per command group; shared options in `common`."""
from __future__ import annotations

from flask import Flask

from workflow.cli.backup import backup_cli
from workflow.cli.bulletin import bulletin_cli
from workflow.cli.demo import demo_cli
from workflow.cli.evaluation import evaluation_cli
from workflow.cli.ledger import ledger_cli
from workflow.cli.plan import plan_cli
from workflow.cli.scheduling import outbox_cli, reminders_cli, scheduler_cli
from workflow.cli.users import users_cli

GROUPS = (plan_cli, demo_cli, users_cli, reminders_cli, outbox_cli, scheduler_cli, evaluation_cli,
          ledger_cli, bulletin_cli, backup_cli)


def register_cli(app: Flask) -> None:
    for group in GROUPS:
        app.cli.add_command(group)
