"""`plan parse --format table`: the decomposition as a readable terminal table."""
import click

from workflow.plans.parsing import PlanDraft


def _targets(targets) -> str:
    return "；".join(f"{t.year or ''} {t.comparator}{t.value}{t.unit}" for t in targets)


def print_draft_table(draft: PlanDraft) -> None:
    click.echo(f"{draft.title}  任务 {len(draft.tasks)} 项，未明确责任单位 {len(draft.unassigned)} 项")
    if draft.implied_units:
        click.echo(f"统一落实单位：{'、'.join(draft.implied_units)}")
    if draft.targets:
        click.echo(f"方案目标：{_targets(draft.targets)}")
    click.echo("-" * 100)
    for t in draft.tasks:
        click.echo(f"{t.code:<10} {t.title}")
        click.echo(f"{'':<10} 牵头：{'、'.join(t.leads)}")
        if t.co:
            click.echo(f"{'':<10} 配合：{'、'.join(t.co)}")
        if t.placeholders:
            click.echo(f"{'':<10} 待明确：{'、'.join(t.placeholders)}")
        if t.due:
            click.echo(f"{'':<10} 时限：{'持续推进' if t.due == 'ongoing' else t.due}")
        if t.targets:
            click.echo(f"{'':<10} 目标：{_targets(t.targets)}")
    for t in draft.unassigned:
        click.echo(f"{t.code:<10} {t.title}  [未明确责任单位]")
