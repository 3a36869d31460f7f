"""`flask ledger export` (CONTRACT.md): the 台账 as .xlsx or .csv, a thin adapter over the web export's and the
background job's own build (workflow.ledger.exports)."""
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
from workflow.ledger import exports, services

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
    get_plan(plan_id)
    try:
        filters = services.resolve_filters(plan_id=plan_id, period_key=period, area=area, department=department)
    except ValidationFailed as exc:
        raise click.ClickException("；".join(exc.errors.values())) from exc
    made = exports.build(filters, target.suffix.lower().lstrip("."), viewer=None, now=moment)
    path = write_output(target, made.data)
    result = {"path": path, "rows": made.rows, "bytes": len(made.data), "sha256": hashlib.sha256(made.data).hexdigest()}
    if fmt == "json":
        print_json(result)
    else:
        click.echo(f"已写入 {path}：{result['rows']} 行，{result['bytes']} 字节，sha256 {result['sha256']}。")
