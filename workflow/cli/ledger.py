"""`flask ledger export` (CONTRACT.md): the 台账 as .xlsx or .csv, a thin adapter over workflow.ledger."""
from __future__ import annotations

import hashlib

import click
from flask.cli import AppGroup

from workflow.cli.common import (
    clean_errors,
    format_option,
    get_plan,
    now_option,
    output_path,
    parse_now,
    print_json,
    write_output,
)
from workflow.domain import ValidationFailed
from workflow.ledger import services
from workflow.ledger.workbook import build_csv, build_workbook

ledger_cli = AppGroup("ledger", help="The 台账: one row per report, as a workbook or CSV.")

@ledger_cli.command("export")
@click.option("--plan", "plan_id", type=int, required=True)
@click.option("--period", default=None, help="one reporting period, e.g. 2026Q3")
@click.option("--area", default=None, help="one part of the plan by its outline code, e.g. 3.4 (with all under it)")
@click.option("--department", default=None, help="one lead department (name or alias)")
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False),
              help="FILE.xlsx or FILE.csv (UTF-8 with BOM)")
@format_option(default="json")
@now_option
@clean_errors()
def ledger_export(plan_id: int, period: str | None, area: str | None, department: str | None, output: str,
                  fmt: str, now: str | None) -> None:
    """Write the ledger of a plan (days late counted to --now, default: now); prints {"path", "rows", "bytes",
    "sha256"}."""
    moment = parse_now(now)
    target = output_path(output, (".xlsx", ".csv"))
    plan = get_plan(plan_id)
    try:
        filters = services.resolve_filters(plan_id=plan_id, period_key=period, area=area, department=department)
    except ValidationFailed as exc:
        raise click.ClickException("；".join(exc.errors.values())) from exc
    plan_rows = services.ledger_rows(filters, viewer=None, now=moment)   # the operator reads every department
    data = build_csv(plan_rows) if target.suffix.lower() == ".csv" else build_workbook(plan, plan_rows, now=moment)
    path = write_output(target, data)
    result = {"path": path, "rows": len(plan_rows), "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    if fmt == "json":
        print_json(result)
    else:
        click.echo(f"已写入 {path}：{result['rows']} 行，{result['bytes']} 字节，sha256 {result['sha256']}。")
