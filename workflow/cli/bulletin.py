"""`flask bulletin generate` (CONTRACT.md): the 情况通报 of a period as PDF or .docx, a draft unless --publish;
a thin adapter over workflow.bulletins."""
from __future__ import annotations

import hashlib

import click
from flask.cli import AppGroup

from pdf.render import PdfError, subsetter_warning
from workflow.bulletins import services
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

bulletin_cli = AppGroup("bulletin", help="The 情况通报: the period's figures, late departments and open escalations.")


@bulletin_cli.command("generate")
@click.option("--plan", "plan_id", type=int, required=True)
@click.option("--period", required=True, help="2026Q3 (quarter), 2026-07 (month) or 2026H1 (half-year)")
@click.option("--publish", is_flag=True, help="publish it: frozen, numbered, archived, sent to heads and leaders")
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False),
              help="FILE.pdf or FILE.docx")
@format_option(default="json")
@now_option
@clean_errors(PdfError)
def bulletin_generate(plan_id: int, period: str, publish: bool, output: str, fmt: str, now: str | None) -> None:
    """Write the bulletin (a draft, watermarked 草稿, unless --publish or already published); prints {"path",
    "number", "published", "late_departments", "open_escalations", "sha256"}."""
    moment = parse_now(now)
    target = output_path(output, (".pdf", ".docx"))
    kind = target.suffix.lower().lstrip(".")
    plan = get_plan(plan_id)
    if kind == "pdf" and (warning := subsetter_warning()):
        click.echo(f"警告：{warning}", err=True)
    try:
        bulletin = services.open_bulletin(plan, period, actor=None, now=moment)
        if publish:
            services.publish(bulletin, actor=None, now=moment)
    except ValidationFailed as exc:
        raise click.ClickException("；".join(exc.errors.values())) from exc
    content = services.content(bulletin, now=moment)
    data, pages, _filename = services.document(bulletin, kind, now=moment, data=content)
    path = write_output(target, data)
    result = {"path": path, "number": bulletin.number_label, "published": bulletin.published,
              "late_departments": services.late_department_names(content),
              "open_escalations": [{key: e[key] for key in ("department", "task", "period", "what", "cause",
                                                             "days_late")} for e in content["escalations"]],
              "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data), "pages": pages,
              "bulletin_id": bulletin.id, "period": content["period"]["key"]}
    if fmt == "json":
        print_json(result)
    else:
        state = f"已发布 {result['number']}" if result["published"] else "草稿"
        click.echo(f"已写入 {path}（{state}）：逾期单位 {len(result['late_departments'])} 个，"
                   f"未关闭督办 {len(result['open_escalations'])} 项，sha256 {result['sha256']}。")
