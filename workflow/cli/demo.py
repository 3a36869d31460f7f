"""`flask demo load` and `flask demo simulate` (CONTRACT.md): demo data for a first look and for training."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from workflow.cli.common import clean_errors, format_option, get_plan, now_option, parse_now, print_json
from workflow.plans.importer import PlanImportError
from workflow.plans.parsing import PlanParseError

demo_cli = AppGroup("demo", help="Demo data for a first look and for training.")


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
