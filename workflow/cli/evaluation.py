"""`flask evaluation compute` and `flask evaluation pdf` (CONTRACT.md): thin adapters over the services."""
from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from models import Department
from pdf.render import PdfError, subsetter_warning
from workflow.cli.common import (
    clean_errors,
    format_option,
    get_plan,
    now_option,
    parse_now,
    print_json,
    write_output,
)
from workflow.evaluation import archive, services

evaluation_cli = AppGroup("evaluation", help="The annual evaluation: scores and the evaluation report.")


def year_option(fn):
    return click.option("--year", type=click.IntRange(services.MIN_YEAR, services.MAX_YEAR), required=True,
                        help="the calendar year evaluated, e.g. 2026")(fn)


def _evaluation(plan_id: int, year: int, now):
    evaluation = services.get_or_create(get_plan(plan_id), year, now=now)
    return services.compute_evaluation(evaluation, actor=None, now=now)


@evaluation_cli.command("compute")
@click.option("--plan", "plan_id", type=int, required=True)
@year_option
@format_option()
@now_option
@clean_errors()
def evaluation_compute(plan_id: int, year: int, fmt: str, now: str | None) -> None:
    """Compute the year's scores (a frozen evaluation's stored scores are shown unchanged).

    Reports whose deadline is after --now (default: today) and were not submitted yet are not counted."""
    evaluation = _evaluation(plan_id, year, parse_now(now))
    result = services.result_json(evaluation)
    if fmt == "json":
        print_json(result)
        return
    state = "已签认（冻结）" if result["frozen"] else "草稿"
    click.echo(f"方案 #{plan_id} {year} 年度评估（{state}），{len(result['departments'])} 个单位：")
    for row in result["departments"]:
        score = "—" if row["score"] is None else f"{row['score']:.1f}"
        click.echo(f"  {row['rank']:>3}  {score:>5}  {row['grade'] or '—':<3} {row['department']}")


@evaluation_cli.command("pdf")
@click.option("--plan", "plan_id", type=int, required=True)
@year_option
@click.option("--department", default=None, help="one department's report (name or alias)")
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False, writable=True),
              help="where to write the PDF")
@format_option(default="json")
@now_option
@clean_errors(PdfError, OSError)
def evaluation_pdf(plan_id: int, year: int, department: str | None, output: str, fmt: str,
                   now: str | None) -> None:
    """Write the evaluation report PDF (a draft carries a 草稿 watermark); prints {"path", "pages", "bytes",
    "sha256"}. The file is archived as well."""
    moment = parse_now(now)
    dept = None
    if department is not None:
        dept = Department.lookup(department.strip())
        if dept is None:
            raise click.ClickException(f"单位不存在：{department}")
    target = Path(output)
    if not target.parent.is_dir():
        raise click.ClickException(f"输出目录不存在：{target.parent}")
    warning = subsetter_warning()
    if warning:
        click.echo(f"警告：{warning}", err=True)
    evaluation = _evaluation(plan_id, year, moment)
    archived = archive.generate_pdf(evaluation, department=dept, actor=None, now=moment)
    path = write_output(target, archive.read_file(archived))
    result = {"path": path, "pages": archived.pages, "bytes": archived.size,
              "sha256": archived.sha256, "frozen": evaluation.frozen, "file_id": archived.id}
    if fmt == "json":
        print_json(result)
    else:
        click.echo(f"已写入 {result['path']}：{result['pages']} 页，{result['bytes']} 字节，sha256 {result['sha256']}。")
