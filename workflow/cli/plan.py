"""`flask plan parse|import|export|publish` (CONTRACT.md): thin adapters over the plan services."""
from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup
from flask_babel import gettext as _

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
from workflow.plans.diff import UNCHANGED
from workflow.plans.importer import PlanImportError, import_plan, plan_to_draft
from workflow.plans.parsing import PlanParseError, parse_plan_bytes
from workflow.plans.revisions import (
    apply_revision,
    check_source,
    revisable_plan,
    revision_diff,
    unrelated_warning,
)
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
@click.option("--revises", "revises", type=int, default=None, metavar="PLAN_ID",
              help="PATH is a revision of this published plan: applied as a diff (unchanged tasks keep history)")
@click.option("--dry-run", is_flag=True, help="with --revises: print the diff, write nothing")
@click.option("--unrelated-ok", is_flag=True,
              help="with --revises: apply even when no measure matches the plan's tasks")
@format_option()
@now_option
@clean_errors(PlanParseError, PlanImportError)
def plan_import(path: str, revises: int | None, dry_run: bool, unrelated_ok: bool, fmt: str,
                now: str | None) -> None:
    """Import PATH as a new plan (the same file twice is refused), or with --revises as a revised plan."""
    data = read_input_file(path)
    draft = parse_plan_bytes(data, Path(path).name)
    if revises is not None:
        _import_revision(revises, draft, Path(path).name, sha256_of(data), dry_run=dry_run,
                         unrelated_ok=unrelated_ok, fmt=fmt, now=now)
        return
    if dry_run or unrelated_ok:
        raise PlanImportError(_("--dry-run 和 --unrelated-ok 只能与 --revises 一起使用。"))
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


def _import_revision(plan_id: int, draft, filename: str, sha256: str, *, dry_run: bool, unrelated_ok: bool,
                     fmt: str, now: str | None) -> None:
    plan = revisable_plan(plan_id)
    check_source(sha256)
    diff, number = revision_diff(plan, draft), None
    if diff.matched == 0 and not unrelated_ok:
        if not dry_run:
            raise PlanImportError(unrelated_warning(plan) + _("如确为修订稿，请加 --unrelated-ok。"))
        click.echo(unrelated_warning(plan), err=True)
    if not dry_run:
        revision, diff = apply_revision(plan, draft, source_filename=filename, source_sha256=sha256, actor=None,
                                        now=parse_now(now), base_revision=plan.revision_number,
                                        unrelated_ok=unrelated_ok)
        number = revision.number
    result = {"plan_id": plan.id, "revision": number, "sha256": sha256, "dry_run": dry_run, **diff.to_dict()}
    if fmt == "json":
        print_json(result)
        return
    for change in diff.changes:
        if change.kind != UNCHANGED:
            detail = "、".join(change.fields)
            click.echo(f"{change.kind:9} {change.code:8} {(change.new or change.old).title}"
                       + (f"（{detail}）" if detail else ""))
    counts = diff.counts
    verb = "修订预览" if dry_run else f"第 {number} 次修订已导入"
    click.echo(f"方案 #{plan.id} {verb}：新增 {counts['added']} 项，撤销 {counts['removed']} 项，"
               f"修改 {counts['changed']} 项，未变 {counts['unchanged']} 项。")


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
