"""`flask users token` (CONTRACT.md): a personal API token, printed once."""
from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import select

from models import User
from workflow.cli.common import clean_errors, format_option, print_json
from workflow.clock import utcnow
from workflow.extensions import db

users_cli = AppGroup("users", help="Accounts and personal API tokens.")


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
