"""What the evaluation report (年度评估报告) shows, whole or per department, as the HTML the PDF is made from.

Everything printed comes from the stored scores (DepartmentScore.parts/detail), so a frozen evaluation prints
the same figures however the reports change afterwards. Generating and archiving the files: archive.py.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from flask import current_app, render_template
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from models import Assignment, Department, OutlineNode, Task
from models.evaluation import Evaluation
from pdf import charts
from workflow.clock import local
from workflow.evaluation import scoring
from workflow.extensions import db
from workflow.labels import chinese, item_status

# Report status → colour in the status-by-area chart, in stacking order.
STATUS_COLOURS = {"approved": "#2e7d32", "submitted": "#1565c0", "returned": "#ef6c00", "draft": "#c62828"}


# -- what the report shows --------------------------------------------------------------------------------

def fmt(value, places: int = 1) -> str:
    """A score as printed: rounded half up like the scores themselves (81.25 → 81.3, where '%.1f' gives 81.2)."""
    if value is None or value == "":
        return "—"
    try:
        number = Decimal(str(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError):
        return str(value)
    return str(abs(number) if number == 0 else number)


def signed(value) -> str:
    """Points added or taken, with their sign and as many decimals as they have (+3.0, −1.25)."""
    if value is None:
        return "—"
    number = Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    text = fmt(number, 2 if number != number.quantize(Decimal("0.1")) else 1)
    return text if text.startswith("-") or number == 0 else f"+{text}"


def _areas(plan_id: int) -> dict[str, str]:
    """Outline code → title of the headings tasks are grouped under (the level above a task)."""
    return {n.code: n.title for n in db.session.scalars(select(OutlineNode).where(OutlineNode.plan_id == plan_id))}


def _area_of(code: str) -> str:
    return code.rsplit(".", 1)[0] if "." in code else code


def report_context(evaluation: Evaluation, *, department: Department | None = None,
                   generated_at: datetime) -> dict:
    """The template's data: the whole plan, or one department's section and its tasks."""
    settings = scoring.effective_settings(evaluation)
    all_scores = list(evaluation.scores)
    scores = [s for s in all_scores if department is None or s.department_id == department.id]
    tasks = {t.id: t for t in db.session.scalars(
        select(Task).where(Task.plan_id == evaluation.plan_id).order_by(Task.position)
        .options(selectinload(Task.targets), selectinload(Task.assignments).selectinload(Assignment.department)))}
    outline = _areas(evaluation.plan_id)

    # Reports per task across departments, from the stored detail (one report belongs to one department).
    per_task: dict[int, dict] = {}
    for s in all_scores:
        for row in s.detail["tasks"]:
            entry = per_task.setdefault(row["task_id"], {"reports": [], "contributions": [], "rating": row["rating"]})
            for item in row["items"]:
                target = entry["reports"] if item["kind"] == "report" else entry["contributions"]
                target.append({**item, "department": s.department.name})
    wanted = {row["task_id"] for s in scores for row in s.detail["tasks"]}
    appendix = []
    for task_id, task in tasks.items():
        if task_id not in wanted or task_id not in per_task:
            continue
        entry = per_task[task_id]
        # Reports not yet due and not filed say nothing about the year: left out.
        reports = sorted((r for r in entry["reports"] if r["counted"]), key=lambda i: (i["period_start"], i["department"]))
        contributions = [c for c in entry["contributions"] if c["counted"]]
        appendix.append({
            "task": task, "reports": reports, "rating": entry["rating"],
            "targets": [{"target": t, "values": [(r["period_label"], r["department"], r["values"].get(str(t.id)))
                                                 for r in reports if r.get("values", {}).get(str(t.id)) is not None]}
                        for t in task.targets],
            "contributions": {"due": len(contributions),
                              "on_time": sum(1 for c in contributions if c["submitted"] and not c["days_late"]),
                              "late": sum(1 for c in contributions if c["submitted"] and c["days_late"]),
                              "missing": sum(1 for c in contributions if not c["submitted"])},
        })

    area_counts: dict[str, Counter] = defaultdict(Counter)
    for entry in appendix:
        for r in entry["reports"]:
            if r["counted"]:
                area_counts[_area_of(entry["task"].code)][r["status"]] += 1
    area_rows = [(f"{code} {outline.get(code, '')}".strip()[:16], dict(counts))
                 for code, counts in sorted(area_counts.items(), key=lambda kv: _code_key(kv[0]))]
    legend = {status: (item_status("report", status), colour) for status, colour in STATUS_COLOURS.items()}
    grades = Counter(s.grade for s in all_scores)
    grade_counts = {g: grades.get(g, 0) for g in scoring.GRADES}
    return {
        "evaluation": evaluation, "plan": evaluation.plan, "year": evaluation.year, "settings": settings,
        "office_name": current_app.config.get("OFFICE_NAME", "领导小组办公室"),
        "generated_at": local(generated_at), "frozen": evaluation.frozen, "department": department,
        "scores": scores, "all_scores": all_scores, "grade_counts": grade_counts, "appendix": appendix,
        "groups": ranking_groups(all_scores),
        "fmt": fmt, "signed": signed, "parts": scoring.PARTS,
        "signed_off_at": local(evaluation.signed_off_at) if evaluation.signed_off_at else None,
        "charts": {
            "ranking": charts.svg_data_uri(charts.ranking_chart(
                [(s.department.name, _float(s.score), s.grade) for s in all_scores])),
            "grades": charts.svg_data_uri(charts.grade_chart(grade_counts)),
            "areas": (charts.svg_data_uri(charts.stacked_status_chart(area_rows, legend))
                      if area_rows else None),
        },
        "totals": {
            "departments": len(all_scores),
            "tasks": len(per_task),
            "reports": sum(1 for e in per_task.values() for r in e["reports"] if r["counted"]),
            "on_time": sum(s.parts.get("on_time", 0) for s in all_scores),
            "late": sum(s.parts.get("late", 0) for s in all_scores),
            "missing": sum(s.parts.get("missing", 0) for s in all_scores),
            "escalations": sum(s.parts.get("escalations", 0) for s in all_scores),
        },
    }


def ranking_groups(scores: list) -> list[tuple[str, list]]:
    """The scores (in their stored order) under their groups, in the groups' order: the page and the PDF."""
    groups: dict[str, list] = {}
    for s in scores:
        groups.setdefault(s.group_name, []).append(s)
    return list(groups.items())


def _code_key(code: str) -> tuple:
    return tuple(int(p) if p.isdigit() else 0 for p in code.split("."))


def _float(value) -> float | None:
    return None if value is None else float(value)


def render_html(evaluation: Evaluation, *, department: Department | None = None, generated_at: datetime) -> str:
    """The report is a Chinese document, whatever the language of the page that asked for it."""
    with chinese():
        return render_template("pdf/evaluation.html", **report_context(evaluation, department=department,
                                                                        generated_at=generated_at))
