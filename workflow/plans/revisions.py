"""Revised plans (年度调整): the diff of a new document against a published plan, and applying it on confirm.

One transaction: unchanged tasks keep their rows, assignments, reports and trail (only their number and place
follow the new document); changed tasks keep their row too, the wording and departments they had are kept as a
TaskVersion, departments taken off are withdrawn and new ones sent out as at publish; added measures are
created and sent out; removed tasks are closed, never deleted. The plan records the revision.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import select

from models import (
    Assignment,
    AssignmentStatus,
    Department,
    Plan,
    PlanRevision,
    PlanStatus,
    ReportValue,
    Task,
    TaskVersion,
    User,
)
from models.audit import record
from workflow.assignments.services import open_current_work, send_out_drafts, tell_assigned
from workflow.clock import local
from workflow.domain import Conflict, PermissionDenied, ValidationFailed
from workflow.extensions import db
from workflow.plans.diff import ADDED, CHANGED, REMOVED, UNCHANGED, Canon, PlanDiff, diff_plans
from workflow.plans.importer import (
    PlanImportError,
    add_outline,
    add_task,
    assignees,
    code_key,
    due_of,
    ensure_departments,
    find_plan_by_sha,
    make_target,
    plan_to_draft,
)
from workflow.plans.parsing import PlanDraft, TaskDraft
from workflow.tasks.closure import close_task
from workflow.transitions import apply_transition, committed


def revisable_plan(plan_id: int | None) -> Plan:
    """The published plan a revision is for; an unknown or unpublished one is a one-line error."""
    plan = db.session.get(Plan, plan_id) if plan_id is not None else None
    if plan is None:
        raise PlanImportError(_("没有编号为 %(id)s 的方案。", id=plan_id))
    if plan.status != PlanStatus.PUBLISHED:
        raise PlanImportError(_("方案 #%(id)s 尚未发布：未发布的方案请直接在核对页修改，或重新导入，不必修订。", id=plan.id))
    return plan


def registry_canon() -> Canon:
    """A name as the registry knows it: an alias is its department, a collective with linked members is those
    members (publishing gave each of them the assignment); an unknown name stays itself."""
    cache: dict[str, list[str]] = {}

    def canon(name: str) -> list[str]:
        if name not in cache:
            dept = Department.lookup(name)
            cache[name] = ([m.name for m in dept.members] if dept and dept.is_collective and dept.members
                           else [dept.name] if dept else [name])
        return cache[name]
    return canon


def revision_diff(plan: Plan, draft: PlanDraft) -> PlanDiff:
    return diff_plans(plan_to_draft(plan), draft, registry_canon())


def check_source(sha256: str) -> None:
    """The same document never counts twice: not as another plan, not as a second revision."""
    existing = find_plan_by_sha(sha256)
    if existing is not None:
        raise PlanImportError(_("该文件已作为方案 #%(id)s《%(title)s》导入过，不能作为修订稿。", id=existing.id,
                                title=existing.title))
    revision = db.session.scalar(select(PlanRevision).where(PlanRevision.source_sha256 == sha256))
    if revision is not None:
        raise PlanImportError(_("该文件已作为方案 #%(id)s 的第 %(n)d 次修订导入过。", id=revision.plan_id,
                                n=revision.number))


def removal_reason(when: datetime) -> str:
    return _("因方案修订（%(date)s）撤销", date=f"{local(when):%Y-%m-%d}")


def apply_revision(plan: Plan, draft: PlanDraft, *, source_filename: str, source_sha256: str, actor: User | None,
                   now: datetime, base_revision: int, unrelated_ok: bool = False) -> tuple[PlanRevision, PlanDiff]:
    """Apply the revised draft to the published plan in one transaction (see the module doc).

    `base_revision` is the plan's revision number the office reviewed the diff against: a revision confirmed by
    someone else in between makes this one a conflict (its diff is no longer what was shown). A document none
    of whose measures matches is refused unless `unrelated_ok` (the office confirmed it is a revision)."""
    if actor is not None and not actor.can_import_plans():
        raise PermissionDenied(_("只有领导小组办公室可以修订方案。"))
    plan = revisable_plan(plan.id)
    check_source(source_sha256)
    if plan.revision_number != base_revision:
        raise Conflict(_("方案 #%(id)s 刚被修订过（第 %(n)d 次），请重新上传修订稿核对。", id=plan.id,
                         n=plan.revision_number))
    diff = revision_diff(plan, draft)
    if diff.matched == 0 and not unrelated_ok:
        raise ValidationFailed({"unrelated_ok": unrelated_warning(plan)})
    with committed(plan):
        revision = PlanRevision(plan=plan, number=base_revision + 1, title=draft.title or source_filename,
                                source_filename=source_filename, source_sha256=source_sha256, revised_at=now,
                                revised_by_id=actor.id if actor else None, summary={})
        db.session.add(revision)
        departments = ensure_departments(draft.departments)
        tasks = {t.code: t for t in plan.tasks}
        for task in plan.tasks:           # free every code: the new numbering may hand one task's to another
            task.code, task.outline_node = f"~{task.id}", None
        for node in list(plan.outline):
            db.session.delete(node)
        db.session.flush()
        db.session.expire(plan, ["outline"])
        nodes = add_outline(plan, draft.outline)
        new_codes = {c.new.code for c in diff.changes if c.new is not None}
        touched: list[Task] = []
        ordered = sorted(diff.changes, key=lambda c: (c.new is None, code_key(c.code)))
        for position, change in enumerate(ordered):
            if change.kind == ADDED:
                task = add_task(plan, change.new, position, nodes.get(change.new.code), departments)
                db.session.flush()
                record("task.added_by_revision", task, actor=actor, now=now, data={"revision": revision.number})
                touched.append(task)
                continue
            task = tasks[change.old.code]
            if change.kind == REMOVED:
                task.code = change.old.code if change.old.code not in new_codes else \
                    f"{change.old.code}~{revision.number}"
                task.position = position
                close_removed_task(task, reason=removal_reason(now), actor=actor, now=now, revision=revision.number)
                continue
            task.code, task.position, task.outline_node = change.new.code, position, nodes.get(change.new.code)
            if change.renumbered:
                record("task.renumbered", task, actor=actor, now=now, from_state=change.old.code,
                       to_state=change.new.code, data={"revision": revision.number})
            if change.kind == CHANGED:
                _revise_task(task, change.new, change.fields, revision, departments, actor=actor, now=now)
                touched.append(task)
        db.session.flush()
        counts = send_out_drafts(plan, actor=actor, now=now)
        open_current_work(plan, touched, now=now)
        removed = [tasks[c.old.code] for c in diff.of(REMOVED)]
        revision.summary = {**{k: [c.code for c in diff.of(k)] for k in (ADDED, REMOVED, CHANGED, UNCHANGED)},
                            "removed_ids": [t.id for t in removed]}
        record("plan.revise", plan, actor=actor, now=now, data={
            "revision": revision.number, "file": source_filename, "sha256": source_sha256, **diff.counts})
        tell_assigned(plan, counts, key=f"revise:p{plan.id}:r{revision.number}", now=now)
    return revision, diff


def unrelated_warning(plan: Plan) -> str:
    return _("新文件中没有一项措施与方案 #%(id)s《%(title)s》的任务相符，可能不是它的修订稿。", id=plan.id, title=plan.title)


def close_removed_task(task: Task, *, reason: str, actor: User | None, now: datetime, revision: int) -> None:
    """A measure the revision dropped is closed (task closure): it leaves the reporting cycle, what it still
    owed is withdrawn, its reports, assignments and trail stay."""
    close_task(task, actor=actor, now=now, reason=reason, data={"revision": revision}, commit=False)


def _revise_task(task: Task, new: TaskDraft, fields: list[str], revision: PlanRevision,
                 departments: dict[str, Department], *, actor: User | None, now: datetime) -> None:
    db.session.add(TaskVersion(
        task=task, revision=revision, code=task.code, title=task.title, text=task.text, clause=task.clause,
        due=task.due, ongoing=task.ongoing, leads=[d.name for d in task.leads],
        co=[d.name for d in [*task.co, *task.implied]], changed=list(fields),
        targets=[{"year": t.year, "value": t.number, "unit": t.unit, "comparator": t.comparator,
                  "metric": t.metric} for t in task.targets]))
    task.title, task.text = new.title, new.text
    if new.clause:
        task.clause, task.lead_rule = new.clause, new.lead_rule or task.lead_rule
    task.due, task.ongoing = due_of(new)
    if "targets" in fields:
        _revise_targets(task, new)
    if "leads" in fields or "co" in fields:
        _revise_assignments(task, new, departments, actor=actor, now=now)
    record("task.revised", task, actor=actor, now=now, data={"revision": revision.number, "fields": fields})


def _revise_targets(task: Task, new: TaskDraft) -> None:
    """Targets carry reported values: the one for the same year and metric (else at the same place) is updated
    in place; a target no longer stated is dropped unless values were reported against it (kept as history)."""
    old = list(task.targets)
    unused = list(old)
    for i, t in enumerate(new.targets):
        same = next((o for o in unused if (o.year, o.metric) == (t.year, t.metric)), None) \
            or (old[i] if i < len(old) and old[i] in unused else None)
        if same is None:
            task.targets.append(make_target(task.plan, task, t, i))
            continue
        unused.remove(same)
        same.year, same.metric, same.value, same.unit = t.year, t.metric, Decimal(str(t.value)), t.unit
        same.comparator, same.sentence, same.position = t.comparator, t.sentence, i
    reported = set(db.session.scalars(select(ReportValue.target_id).where(
        ReportValue.target_id.in_([o.id for o in unused])))) if unused else set()
    for o in unused:
        if o.id not in reported:
            task.targets.remove(o)


def _revise_assignments(task: Task, new: TaskDraft, departments: dict[str, Department], *, actor: User | None,
                        now: datetime) -> None:
    """Departments as the new clause names them: new ones are added as drafts (sent out with the added tasks),
    one named again is restored, one no longer named is withdrawn, one whose role changed keeps its row."""
    wanted: dict[int, tuple[Department, str, bool]] = {}
    for dept, role, implied in assignees(new, departments):
        for unit in (dept.members if dept.is_collective and dept.members else [dept]):   # as publishing expanded it
            wanted.setdefault(unit.id, (unit, role, implied))
    rows = {a.department_id: a for a in task.assignments}
    for dept_id, a in rows.items():
        if dept_id not in wanted and a.is_active:
            apply_transition(a, "withdraw", actor=actor, now=now, commit=False,
                             comment=_("方案修订后不再承担该任务"))
    for dept_id, (dept, role, implied) in wanted.items():
        a = rows.get(dept_id)
        if a is None:
            task.assignments.append(Assignment(department=dept, role=role, implied=implied))
            continue
        if a.status == AssignmentStatus.TRANSFERRED:
            raise PlanImportError(_("任务 %(code)s 已由%(name)s转交他人，请先在分工中处理，再导入修订稿。", code=task.code,
                                    name=dept.name))
        if a.status == AssignmentStatus.WITHDRAWN:
            apply_transition(a, "restore", actor=actor, now=now, commit=False)
        if (a.role, a.implied) != (role, implied):
            record("assignment.role_changed", a, actor=actor, now=now, from_state=a.role, to_state=role)
            a.role, a.implied = role, implied

