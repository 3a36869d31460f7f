"""Import a confirmed PlanDraft into the database, in one transaction, and read it back in the same schema."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import select

from models import (
    Assignment,
    AssignmentRole,
    Department,
    DepartmentAlias,
    OutlineNode,
    Plan,
    Target,
    Task,
    User,
)
from models.audit import record
from workflow.extensions import db
from workflow.plans.parsing import DepartmentDraft, OutlineNodeDraft, PlanDraft, TargetDraft, TaskDraft


class PlanImportError(ValueError):
    """A plan that cannot be imported as it is (already imported, inconsistent names)."""


def code_key(code: str) -> tuple[int, ...]:
    """Sort key for positional codes: '3.10' after '3.9'."""
    return tuple(int(p) if p.isdigit() else 0 for p in re.split(r"[.]", code))


def find_plan_by_sha(sha256: str) -> Plan | None:
    return db.session.scalar(select(Plan).where(Plan.source_sha256 == sha256))


def import_plan(draft: PlanDraft, *, source_filename: str, source_sha256: str,
                actor: User | None, now: datetime, commit: bool = True) -> Plan:
    """Create the plan with its outline, tasks, departments, assignments and targets, then commit once.

    Nothing is written when the same source was imported before or anything fails half-way.
    `commit=False` leaves the transaction open for a caller that adds more to the same change.
    """
    existing = find_plan_by_sha(source_sha256)
    if existing is not None:
        raise PlanImportError(_("该文件已导入过（方案 #%(id)s《%(title)s》），不能重复导入。", id=existing.id,
                                 title=existing.title))
    try:
        departments = ensure_departments(draft.departments)
        plan = Plan(
            title=draft.title or source_filename, source_filename=source_filename,
            source_sha256=source_sha256, issuing_body=draft.issuing_body or "",
            valid_from=draft.valid_from, valid_to=draft.valid_to,
            implied_units="、".join(draft.implied_units), created_at=now, created_by_id=actor.id if actor else None,
        )
        db.session.add(plan)
        nodes = add_outline(plan, draft.outline)
        all_tasks = sorted([*draft.tasks, *draft.unassigned], key=lambda t: code_key(t.code))
        for position, task_draft in enumerate(all_tasks):
            add_task(plan, task_draft, position, nodes.get(task_draft.code), departments)
        for position, target in enumerate(draft.targets):
            db.session.add(make_target(plan, None, target, position))
        db.session.flush()
        record("plan.import", plan, actor=actor, now=now, to_state="imported",
               data={"file": source_filename, "sha256": source_sha256, "tasks": len(draft.tasks)})
        if commit:
            db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return plan


def ensure_departments(drafts: list[DepartmentDraft]) -> dict[str, Department]:
    """Map every name and alias of the draft to a department row, creating the missing ones."""
    by_name: dict[str, Department] = {}
    for d in drafts:
        dept = Department.lookup(d.name)
        if dept is None:
            for alias in d.aliases:
                dept = Department.lookup(alias)
                if dept is not None:
                    break
        if dept is None:
            dept = Department(name=d.name, kind=d.kind)
            db.session.add(dept)
            db.session.flush()
        known = {dept.name, *dept.alias_names}
        for alias in d.aliases:
            if alias in known:
                continue
            other = Department.lookup(alias)
            if other is not None and other.id != dept.id:
                raise PlanImportError(_("名称“%(alias)s”已属于单位“%(other)s”，不能再作为“%(name)s”的别名。", alias=alias,
                                        other=other.name, name=dept.name))
            dept.aliases.append(DepartmentAlias(name=alias))
            known.add(alias)
        for name in (d.name, *d.aliases):
            by_name[name] = dept
    return by_name


def add_outline(plan: Plan, roots: list[OutlineNodeDraft]) -> dict[str, OutlineNode]:
    nodes: dict[str, OutlineNode] = {}
    counter = iter(range(1_000_000))

    def walk(drafts: list[OutlineNodeDraft], parent: OutlineNode | None) -> None:
        for d in drafts:
            node = OutlineNode(plan=plan, parent=parent, code=d.code, level=d.level, marker=d.marker,
                               title=d.title, text=d.text, position=next(counter))
            db.session.add(node)
            nodes[d.code] = node
            walk(d.children, node)

    walk(roots, None)
    return nodes


def add_task(plan: Plan, d: TaskDraft, position: int, node: OutlineNode | None,
              departments: dict[str, Department]) -> Task:
    task = Task(plan=plan, outline_node=node, code=d.code, title=d.title, text=d.text,
                clause=d.clause, position=position, lead_rule=d.lead_rule or "")
    task.due, task.ongoing = due_of(d)
    db.session.add(task)
    for dept, role, implied in assignees(d, departments):
        task.assignments.append(Assignment(department=dept, role=role, implied=implied))
    for i, target in enumerate(d.targets):
        task.targets.append(make_target(plan, task, target, i))
    return task


def due_of(d: TaskDraft) -> tuple[date | None, bool]:
    """(due date, ongoing) of a task draft's `due`."""
    return (date.fromisoformat(d.due) if d.due and d.due != "ongoing" else None), d.due == "ongoing"


def assignees(d: TaskDraft, departments: dict[str, Department]) -> list[tuple[Department, str, bool]]:
    """(department, role, implied) for each unit the draft names, leads first, each department once."""
    out: dict[int, tuple[Department, str, bool]] = {}
    for names, role, implied in ((d.leads, AssignmentRole.LEAD, False), (d.co, AssignmentRole.CO, False),
                                 (d.implied, AssignmentRole.CO, True)):
        for name in names:
            dept = departments.get(name) or Department.lookup(name)
            if dept is None:
                raise PlanImportError(_("任务 %(code)s 的责任单位“%(name)s”不在单位列表中。", code=d.code, name=name))
            out.setdefault(dept.id, (dept, role, implied))
    return list(out.values())


def make_target(plan: Plan, task: Task | None, t: TargetDraft, position: int) -> Target:
    return Target(plan=plan, task=task, year=t.year, metric=t.metric, value=Decimal(str(t.value)),
                  unit=t.unit, comparator=t.comparator, sentence=t.sentence, position=position)


@dataclass
class OutlineItem:
    node: OutlineNode
    task: Task | None
    children: list[OutlineItem]


def outline_tree(plan: Plan) -> list[OutlineItem]:
    """The plan's headings as a tree built in memory from the loaded rows (no query per node)."""
    task_by_node = {t.outline_node_id: t for t in plan.tasks}
    items = {n.id: OutlineItem(n, task_by_node.get(n.id), []) for n in plan.outline}
    roots: list[OutlineItem] = []
    for n in plan.outline:
        (items[n.parent_id].children if n.parent_id in items else roots).append(items[n.id])
    return roots


def plan_to_draft(plan: Plan) -> PlanDraft:
    """The stored plan as it stands (without the tasks revisions removed) in the parser's schema, so `plan export`
    and `plan parse` print the same shape and a revision is compared with it."""

    def outline(items: list[OutlineItem]) -> list[OutlineNodeDraft]:
        return [OutlineNodeDraft(code=i.node.code, level=i.node.level, marker=i.node.marker, title=i.node.title,
                                 text=i.node.text, children=outline(i.children)) for i in items]

    def targets(rows: list[Target]) -> list[TargetDraft]:
        return [TargetDraft(year=t.year, value=t.number, unit=t.unit, comparator=t.comparator,
                            metric=t.metric, sentence=t.sentence) for t in rows]

    def names(depts: list[Department]) -> list[str]:
        return [d.name for d in depts]

    tasks, unassigned, seen_depts = [], [], {}
    removed = plan.removed_task_ids
    for t in plan.tasks:
        if t.id in removed:
            continue
        draft = TaskDraft(code=t.code, title=t.title, text=t.text, leads=names(t.leads), co=names(t.co),
                          implied=names(t.implied), targets=targets(t.targets), clause=t.clause,
                          lead_rule=t.lead_rule, due=t.due_label)
        (tasks if t.is_assigned else unassigned).append(draft)
        for a in t.assignments:
            seen_depts.setdefault(a.department.id, a.department)
    departments = [DepartmentDraft(name=d.name, aliases=d.alias_names, kind=d.kind) for d in seen_depts.values()]
    return PlanDraft(
        title=plan.title, issuing_body=plan.issuing_body, valid_from=plan.valid_from, valid_to=plan.valid_to,
        outline=outline(outline_tree(plan)), tasks=tasks, unassigned=unassigned, targets=targets(plan.targets),
        implied_units=plan.implied_unit_names, departments=departments, warnings=[],
    )
