"""Closing a task and opening it again: the one mechanism behind 办结销号 (the office confirming a completion
report) and a plan revision removing a task.

A closed task leaves the reporting cycle: periods that open while it is closed create nothing for it
(workflow.assignments.services), the reminder pass and the overview skip it, and what it still owed when it
closed (drafts and returned reports, draft contributions) is withdrawn — kept with its history, owed by no one.
Its open escalations close with it. Reopening puts it back in the cycle from the next period that opens; what
was withdrawn stays withdrawn.
"""
from __future__ import annotations

from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import update

from models import (
    Contribution,
    ContributionStatus,
    Escalation,
    Report,
    ReportStatus,
    Task,
    User,
)
from models.audit import record
from workflow.domain import ValidationFailed
from workflow.extensions import db
from workflow.transitions import apply_bulk, apply_transition, check

REASON_LIMIT = 2000


def _reason(reason: str | None, *, missing: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed({"reason": missing})
    if len(reason) > REASON_LIMIT:
        raise ValidationFailed({"reason": _("不能超过 %(limit)s 字（当前 %(n)s 字）。", limit=REASON_LIMIT, n=len(reason))})
    return reason


def close_task(task: Task, *, actor: User | None, now: datetime, reason: str, data: dict | None = None,
               commit: bool = True) -> Task:
    """Close `task` (open → closed) with a free-text reason, withdrawing what it still owed and closing its open
    escalations, in one transaction. `actor` None is the system's own move (a plan revision); commit=False
    leaves the commit to the caller's `committed(...)` block (the 销号 confirmation closes its completion report
    in the same transaction). Closing a closed task is a Conflict."""
    check(task, "close", actor=actor)
    reason = _reason(reason, missing=_("请填写销号理由。"))

    def withdraw() -> None:
        reports = db.session.execute(
            update(Report).where(Report.task_id == task.id, Report.withdrawn_at.is_(None),
                                 Report.status.in_((ReportStatus.DRAFT, ReportStatus.RETURNED)))
            .values(withdrawn_at=now).returning(Report.id), execution_options={"synchronize_session": "fetch"}
        ).scalars().all()
        contributions = db.session.execute(
            update(Contribution).where(Contribution.task_id == task.id, Contribution.withdrawn_at.is_(None),
                                       Contribution.status == ContributionStatus.DRAFT)
            .values(withdrawn_at=now).returning(Contribution.id), execution_options={"synchronize_session": "fetch"}
        ).scalars().all()
        closed = apply_bulk(Escalation, "settle", Escalation.task_id == task.id, actor=actor, now=now,
                            changes={"closed_at": now, "close_reason": "task_closed"},
                            data={"close_reason": "task_closed"})
        if reports or contributions:
            record("task.withdraw", task, actor=actor, now=now, comment=reason,
                   data={"reports": sorted(reports), "contributions": sorted(contributions),
                         "escalations": [e.id for e in closed]})

    apply_transition(task, "close", actor=actor, now=now, comment=reason, data=data, commit=commit,
                     changes={"closed_at": now, "close_reason": reason}, notify=withdraw)
    return task


def reopen_task(task: Task, *, actor: User | None, now: datetime, reason: str, commit: bool = True) -> Task:
    """Put a closed task back in the reporting cycle (closed → open) with a reason: the next period that opens
    creates its reports again; the periods it missed while closed stay as they were."""
    check(task, "reopen", actor=actor)
    reason = _reason(reason, missing=_("请填写重新开启的理由。"))
    apply_transition(task, "reopen", actor=actor, now=now, comment=reason, commit=commit,
                     changes={"closed_at": None, "close_reason": ""})
    return task
