"""The office's review step: the draft as editable rows, and the corrections read back from the form."""
from __future__ import annotations

from collections.abc import Mapping

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from workflow.plans.diff import CHANGED, PlanDiff, inline_diff
from workflow.plans.importer import code_key
from workflow.plans.parsing import PlanDraft
from workflow.plans.services import split_names

# Why the parser chose a task's leads (TaskDraft.lead_rule), so the office can tell what to check.
LEAD_RULES = {
    "marked": _l("条文标明牵头"),
    "single": _l("仅列一个单位"),
    "first_group": _l("第一个逗号前的单位牵头"),
    "first_listed": _l("排在第一位的单位牵头"),
    "declared_first": _l("按文件约定：排在第一位的为牵头单位"),
    "declared_joint": _l("按文件约定：未明确牵头的由所列单位共同负责"),
}


def _all_tasks(draft: PlanDraft):
    return sorted([*draft.tasks, *draft.unassigned], key=lambda t: code_key(t.code))


def review_rows(draft: PlanDraft, values: Mapping[str, str] | None, suggestions: Mapping | None = None,
                diff: PlanDiff | None = None) -> dict:
    """Rows for the review table; `values` (the submitted form) wins over the draft so nothing typed is lost.
    `suggestions` maps a department name to the existing department it probably abbreviates (a merge the office
    ticks, never one made for it). `diff`, for a revised plan, marks each row with what becomes of its task."""
    suggestions = suggestions or {}
    unassigned = {t.code for t in draft.unassigned}
    tasks = []
    for t in _all_tasks(draft):
        tasks.append({
            "task": t,
            "unassigned": t.code in unassigned,
            "leads": values.get(f"leads-{t.code}", "") if values else "、".join(t.leads),
            "co": values.get(f"co-{t.code}", "") if values else "、".join(t.co),
            "lead_rule": LEAD_RULES.get(t.lead_rule, ""),
            "change": diff.for_new(t.code) if diff else None,
        })
    departments = [
        {"dept": d, "index": i, "rename": values.get(f"rename-{i}", d.name) if values else d.name,
         "suggestion": suggestions.get(d.name), "merge": bool(values and values.get(f"merge-{i}"))}
        for i, d in enumerate(draft.departments)
    ]
    return {"tasks": tasks, "departments": departments}


def corrections_from_form(form: Mapping[str, str], draft: PlanDraft) -> tuple[dict, dict[str, str]]:
    """Read per-task leads/co and department renames; returns (corrections, field errors by input name)."""
    errors: dict[str, str] = {}
    assignments: dict[str, tuple[list[str], list[str]]] = {}
    for t in _all_tasks(draft):
        leads = split_names(form.get(f"leads-{t.code}", ""))
        co = split_names(form.get(f"co-{t.code}", ""))
        if co and not leads:
            errors[f"leads-{t.code}"] = _("有配合单位时必须指定牵头单位。")
        too_long = [n for n in (*leads, *co) if len(n) > 200]
        if too_long:
            errors[f"co-{t.code}"] = _("单位名称过长：%(name)s", name=too_long[0][:20])
        assignments[t.code] = (leads, co)
    renames: dict[str, str] = {}
    for i, d in enumerate(draft.departments):
        new = (form.get(f"merge-{i}") or form.get(f"rename-{i}", d.name)).strip()
        if not new:
            errors[f"rename-{i}"] = _("单位名称不能为空。")
        elif len(new) > 200:
            errors[f"rename-{i}"] = _("单位名称过长。")
        else:
            renames[d.name] = new
    return {"assignments": assignments, "renames": renames}, errors


def revision_rows(diff: PlanDiff) -> dict:
    """The diff as the review page shows it: per changed task each changed field with its old and new value
    (wording marked piece by piece), then the added, removed and unchanged tasks."""
    changed = []
    for c in diff.of(CHANGED):
        fields = []
        for name in c.fields:
            old, new = getattr(c.old, name), getattr(c.new, name)
            if name == "co":
                old, new = [*c.old.co, *c.old.implied], [*c.new.co, *c.new.implied]
            fields.append({"name": name, "old": old, "new": new,
                           "pieces": inline_diff(old, new) if name in ("title", "text") else None})
        changed.append({"change": c, "fields": fields})
    return {"counts": diff.counts, "changed": changed, "added": diff.of("added"), "removed": diff.of("removed"),
            "unchanged": diff.of("unchanged"), "unrelated": diff.matched == 0}
