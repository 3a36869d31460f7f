"""Plan operations shared by the web views and the CLI: staging an upload, corrections, import, queries."""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from models import Assignment, AssignmentRole, Department, Plan, PlanRevision, PlanStatus, Task, User
from models.audit import record
from workflow import files
from workflow.domain import PermissionDenied, ValidationFailed
from workflow.extensions import db
from workflow.plans.diff import PlanDiff
from workflow.plans.importer import import_plan, outline_tree  # noqa: F401  (re-exported for views)
from workflow.plans.parsing import DepartmentDraft, PlanDraft, PlanParseError, parse_plan_bytes
from workflow.plans.revisions import apply_revision, check_source, revisable_plan, revision_diff

ALLOWED_SUFFIXES = {".txt", ".docx", ".pdf"}


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def parse_upload(data: bytes, filename: str) -> PlanDraft:
    if Path(filename).suffix.lower() not in ALLOWED_SUFFIXES:
        raise PlanParseError(_("只支持 .txt、.docx 和 .pdf 格式的方案文件。"))
    return parse_plan_bytes(data, filename)


# -- staging: the uploaded file waits in the store, keyed by its sha256, until the office confirms -------

def stage_upload(data: bytes, filename: str, revises: int | None = None) -> str:
    """Keep the upload for the review step; returns its key (the sha256). Parses first so bad files stop here.
    In the shared store, so the confirmation may reach another app host than the upload.

    `revises`: the upload is a revision of that published plan; the review shows it as a diff against the plan
    as it stands now (its revision number is kept, so a revision confirmed meanwhile is noticed)."""
    parse_upload(data, filename)
    key = sha256_of(data)
    meta: dict = {"filename": Path(filename).name}
    if revises:
        plan = revisable_plan(revises)
        check_source(key)
        meta.update(revises=plan.id, base=plan.revision_number)
    staging = files.area("staging")
    staging.storage.put_bytes(f"{staging.prefix}{key}", data)
    staging.storage.put_bytes(f"{staging.prefix}{key}.json", json.dumps(meta).encode("utf-8"))
    return key


def staged_revision(key: str) -> tuple[Plan, int] | None:
    """The plan a staged upload revises and the revision number it was staged against; None for a new plan."""
    meta = _staged_meta(key) or {}
    plan = load_plan(meta["revises"]) if meta.get("revises") else None
    return (plan, meta["base"]) if plan is not None else None


def revisable_choices() -> list[tuple[int, str]]:
    """The upload form's choice of plan to revise: 0 for a new plan, then the published plans."""
    plans = db.session.scalars(select(Plan).where(Plan.status == PlanStatus.PUBLISHED).order_by(Plan.id.desc()))
    return [(0, _("不是修订稿（新方案）")), *((p.id, f"#{p.id} {p.title}") for p in plans)]


def _staged_meta(key: str) -> dict | None:
    if len(key) != 64 or not all(c in "0123456789abcdef" for c in key):
        return None
    staging = files.area("staging")
    try:
        return json.loads(staging.storage.read_bytes(f"{staging.prefix}{key}.json").decode("utf-8"))
    except FileNotFoundError:
        return None


def load_staged(key: str) -> tuple[bytes, str] | None:
    meta = _staged_meta(key)
    if meta is None:
        return None
    staging = files.area("staging")
    try:
        return staging.storage.read_bytes(f"{staging.prefix}{key}"), meta["filename"]
    except FileNotFoundError:
        return None


def discard_staged(key: str) -> None:
    staging = files.area("staging")
    for name in (key, f"{key}.json"):
        staging.storage.delete(f"{staging.prefix}{name}")


# -- corrections made by the office before confirming ----------------------------------------------------

def split_names(text: str) -> list[str]:
    """'A、B，C' → ['A', 'B', 'C'] (the separators people type in the review form)."""
    for sep in "，,；;\n":
        text = text.replace(sep, "、")
    return [n.strip() for n in text.split("、") if n.strip()]


def apply_corrections(draft: PlanDraft, *, assignments: dict[str, tuple[list[str], list[str]]],
                      renames: dict[str, str]) -> PlanDraft:
    """Return the draft with the office's edits: per-task leads/co, and department renames or merges.

    Renaming A to the name of another department B merges them: A becomes an alias of B.
    A name typed in a task that no department has yet becomes a new department.
    """
    renames = {old: new for old, new in renames.items() if new and new != old}

    def canon(name: str) -> str:
        seen = set()
        while name in renames and name not in seen:
            seen.add(name)
            name = renames[name]
        return name

    def canon_list(names: list[str], exclude: set[str] = frozenset()) -> list[str]:
        out: list[str] = []
        for n in names:
            c = canon(n)
            if c not in out and c not in exclude:
                out.append(c)
        return out

    merged: dict[str, DepartmentDraft] = {}
    for d in draft.departments:
        target = canon(d.name)
        entry = merged.setdefault(target, DepartmentDraft(name=target, aliases=[], kind=d.kind))
        for alias in (d.name, *d.aliases):
            if alias != target and alias not in entry.aliases:
                entry.aliases.append(alias)

    def fix(task):
        leads, co = assignments.get(task.code, (task.leads, task.co))
        leads = canon_list(leads)
        co = canon_list(co, set(leads))
        implied = canon_list(task.implied, set(leads) | set(co))
        for name in (*leads, *co):
            merged.setdefault(name, DepartmentDraft(name=name, aliases=[], kind=guess_kind(name)))
        return replace(task, leads=leads, co=co, implied=implied)

    fixed = [fix(t) for t in [*draft.tasks, *draft.unassigned]]
    return replace(
        draft,
        tasks=[t for t in fixed if t.leads or t.co],
        unassigned=[t for t in fixed if not (t.leads or t.co)],
        implied_units=canon_list(draft.implied_units),
        departments=list(merged.values()),
    )


def guess_kind(name: str) -> str:
    from workflow.plans.parsing import department_kind

    return department_kind(name)


def _corrected(key: str, corrections: dict | None) -> tuple[PlanDraft, str]:
    staged = load_staged(key)
    if staged is None:
        raise PlanParseError(_("上传的文件已失效，请重新上传。"))
    data, filename = staged
    draft = parse_upload(data, filename)
    return (apply_corrections(draft, **corrections) if corrections else draft), filename


def confirm_import(key: str, *, corrections: dict | None, actor: User, now: datetime) -> Plan:
    draft, filename = _corrected(key, corrections)
    plan = import_plan(draft, source_filename=filename, source_sha256=key, actor=actor, now=now)
    discard_staged(key)
    return plan


def revision_preview(plan: Plan, draft: PlanDraft, corrections: dict | None) -> PlanDiff:
    """The diff the review page shows: the revised draft, with the office's corrections so far, against the plan."""
    return revision_diff(plan, apply_corrections(draft, **corrections) if corrections else draft)


def confirm_revision(key: str, *, corrections: dict | None, actor: User, now: datetime,
                     unrelated_ok: bool = False) -> tuple[PlanRevision, PlanDiff]:
    """Apply a staged revision with the office's corrections (the diff it saw is recomputed, not trusted)."""
    target = staged_revision(key)
    if target is None:
        raise PlanParseError(_("上传的文件已失效，请重新上传。"))
    draft, filename = _corrected(key, corrections)
    plan, base = target
    result = apply_revision(plan, draft, source_filename=filename, source_sha256=key, actor=actor, now=now,
                            base_revision=base, unrelated_ok=unrelated_ok)
    discard_staged(key)
    return result


# -- queries ---------------------------------------------------------------------------------------------

def list_plans() -> list[tuple[Plan, int]]:
    """Plans, newest first, each with its number of tasks."""
    task_count = select(func.count(Task.id)).where(Task.plan_id == Plan.id).scalar_subquery()
    return list(db.session.execute(select(Plan, task_count).order_by(Plan.id.desc())))


def load_plan(plan_id: int) -> Plan | None:
    return db.session.scalar(
        select(Plan).where(Plan.id == plan_id).options(
            selectinload(Plan.outline),
            selectinload(Plan.tasks).selectinload(Task.assignments).selectinload(Assignment.department),
            selectinload(Plan.tasks).selectinload(Task.targets),
            selectinload(Plan.targets),
        )
    )


def department_tasks(department: Department) -> list[tuple[Assignment, Task]]:
    """A department's assignments, lead tasks first, then co-operation, each in plan order."""
    rows = db.session.scalars(
        select(Assignment).join(Task).where(Assignment.department_id == department.id)
        .options(selectinload(Assignment.task).selectinload(Task.assignments).selectinload(Assignment.department),
                 selectinload(Assignment.task).selectinload(Task.targets),
                 selectinload(Assignment.task).selectinload(Task.plan))
        .order_by(Task.plan_id, Task.position)
    ).all()
    ordered = sorted(rows, key=lambda a: (a.role != AssignmentRole.LEAD, a.task.plan_id, a.task.position))
    return [(a, a.task) for a in ordered]


def departments_overview() -> list[tuple[Department, int, int]]:
    """Every department with its number of lead and co tasks."""
    depts = db.session.scalars(
        select(Department).options(selectinload(Department.aliases)).order_by(Department.id)
    ).all()
    counts: dict[tuple[int, str], int] = {}
    for dept_id, role in db.session.execute(select(Assignment.department_id, Assignment.role)):
        counts[(dept_id, role)] = counts.get((dept_id, role), 0) + 1
    return [(d, counts.get((d.id, "lead"), 0), counts.get((d.id, "co"), 0)) for d in depts]


def _unit_names(text: str) -> list[str]:
    """Names typed one per line or after commas; a chunk that names a unit as a whole is kept whole even when it
    holds a 、 (各区、县级市), otherwise 、 separates names too."""
    chunks = [c.strip() for c in re.split(r"[，,；;\n]", text) if c.strip()]
    return [n for c in chunks for n in ([c] if Department.lookup(c) else split_names(c))]


def set_members(collective: Department, text: str, *, actor: User, now: datetime) -> list[Department]:
    """Link the units a collective assignee stands for (the office names them once; every plan published after
    that gives each member its own assignment). Unknown names, the collective itself or another collective
    are a field error and nothing changes."""
    if not actor.can_import_plans():
        raise PermissionDenied(_("只有领导小组办公室可以关联成员单位。"))
    if not collective.is_collective:
        raise ValidationFailed({"members": _("只有集合单位才有成员单位。")})
    members, unknown, refused = [], [], []
    for name in dict.fromkeys(_unit_names(text)):
        dept = Department.lookup(name)
        if dept is None:
            unknown.append(name)
        elif dept.id == collective.id or dept.is_collective:
            refused.append(name)
        elif dept not in members:
            members.append(dept)
    if unknown:
        raise ValidationFailed({"members": _("没有这些单位：%(names)s（请先导入或核对名称）", names="、".join(unknown))})
    if refused:
        raise ValidationFailed({"members": _("成员单位不能是集合单位：%(names)s", names="、".join(refused))})
    before = [m.name for m in collective.members]
    collective.members = members
    record("members_set", collective, actor=actor, now=now,
           data={"before": before, "after": [m.name for m in members]})
    db.session.commit()
    return members
