"""`flask plan parse|import|export|publish` (CONTRACT.md): thin adapters over the plan services."""
from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from workflow.calendar.periods import Cadence
from workflow.cli.common import (
    clean_errors,
    format_option,
    get_plan,
    now_option,
    parse_now,
    print_json,
    read_input_file,
)
from workflow.plans.importer import PlanImportError, import_plan, plan_to_draft
from workflow.plans.parsing import PlanParseError, parse_plan_bytes
from workflow.plans.services import sha256_of
from workflow.plans.table import print_draft_table

plan_cli = AppGroup("plan", help="Parse, import, export and publish implementation plans.")


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
