"""Models → JSON: canonical department names, decimals as numbers, times ISO 8601 in UTC (+00:00), dates as
YYYY-MM-DD. Field names here are the public contract: add, never rename."""
from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from flask import url_for

from models import (
    AdjustmentRequest,
    Assignment,
    Attachment,
    AuditEvent,
    Contribution,
    Department,
    Period,
    Plan,
    Report,
    ReportRevision,
    Target,
    Task,
    User,
)
from workflow.calendar.lateness import Lateness, is_outstanding


def number(value) -> int | float | None:
    """Decimal (or a decimal string) as a JSON number: 1000, not 1000.000000; None stays None."""
    if value is None or value == "":
        return None
    d = value if isinstance(value, Decimal) else Decimal(str(value))
    return int(d) if d == d.to_integral_value() else float(d)


def timestamp(dt: datetime | None) -> str | None:
    return dt.astimezone(UTC).isoformat() if dt else None


def day(d: date | None) -> str | None:
    return d.isoformat() if d else None


def username(user: User | None) -> str | None:
    return user.username if user else None


# -- people and departments ------------------------------------------------------------------------------

def me(user: User) -> dict:
    return {"id": user.id, "username": user.username, "display_name": user.display, "role": user.role,
            "department": user.department.name if user.department else None,
            "department_id": user.department_id, "email": user.email}


def department(d: Department) -> dict:
    return {"id": d.id, "name": d.name, "aliases": d.alias_names, "kind": d.kind, "active": d.active}


# -- plans and tasks -------------------------------------------------------------------------------------

def target(t: Target) -> dict:
    return {"id": t.id, "year": t.year, "value": number(t.value), "unit": t.unit, "comparator": t.comparator,
            "metric": t.metric, "sentence": t.sentence, "task_id": t.task_id}


def period(p: Period) -> dict:
    return {"id": p.id, "key": p.key, "label": p.label, "start": day(p.start), "end": day(p.end),
            "deadline": day(p.deadline), "computed_deadline": day(p.computed_deadline),
            "deadline_reason": p.deadline_reason, "opened": p.opened}


def plan_summary(p: Plan, task_count: int | None = None) -> dict:
    body = {"id": p.id, "title": p.title, "status": p.status, "issuing_body": p.issuing_body,
            "valid_from": p.valid_from, "valid_to": p.valid_to, "cadence": p.cadence,
            "deadline_workdays": p.deadline_workdays, "source_filename": p.source_filename,
            "created_at": timestamp(p.created_at), "published_at": timestamp(p.published_at),
            "implied_units": p.implied_unit_names}
    if task_count is not None:
        body["task_count"] = task_count
    return body


def outline_item(item) -> dict:
    node, task_row = item.node, item.task
    return {"id": node.id, "code": node.code, "level": node.level, "marker": node.marker, "title": node.title,
            "text": node.text, "task_id": task_row.id if task_row else None,
            "task_code": task_row.code if task_row else None,
            "children": [outline_item(child) for child in item.children]}


def plan_detail(p: Plan, *, outline, periods: list[Period]) -> dict:
    return {**plan_summary(p, len(p.tasks)), "outline": [outline_item(i) for i in outline],
            "periods": [period(x) for x in periods], "targets": [target(t) for t in p.targets],
            "tasks": [{"id": t.id, "code": t.code, "title": t.title} for t in p.tasks]}


def task(t: Task) -> dict:
    return {"id": t.id, "plan_id": t.plan_id, "code": t.code, "title": t.title, "text": t.text, "clause": t.clause,
            "leads": [d.name for d in t.leads], "co": [d.name for d in t.co],
            "implied": [d.name for d in t.implied], "targets": [target(x) for x in t.targets]}


# -- assignments -----------------------------------------------------------------------------------------

def adjustment(r: AdjustmentRequest) -> dict:
    return {"id": r.id, "assignment_id": r.assignment_id, "reason": r.reason,
            "proposed_department": r.proposed_name, "status": r.status,
            "requested_at": timestamp(r.requested_at), "decided_at": timestamp(r.decided_at),
            "decision_reason": r.decision_reason}


def assignment(a: Assignment) -> dict:
    pending = a.pending_adjustment
    return {"id": a.id, "task_id": a.task_id, "task_code": a.task.code, "task_title": a.task.title,
            "plan_id": a.task.plan_id, "department": a.department.name, "role": a.role, "implied": a.implied,
            "status": a.status, "acknowledged_at": timestamp(a.acknowledged_at), "version": a.version,
            "pending_adjustment": adjustment(pending) if pending else None}


# -- reports ---------------------------------------------------------------------------------------------

def report_summary(r: Report, *, late: Lateness) -> dict:
    """`late` is lateness.days_late(r, ...): overdue while outstanding, and the working days either way."""
    return {"id": r.id, "task_id": r.task_id, "task_code": r.task.code, "task_title": r.task.title,
            "plan_id": r.task.plan_id, "department": r.department.name, "period": r.period.key,
            "period_label": r.period.label, "deadline": day(r.period.deadline), "status": r.status,
            "version": r.version, "percent_complete": r.percent_complete, "progress": r.progress,
            "overdue": bool(late) and is_outstanding(r), "days_late": late.working,
            "submitted_at": timestamp(r.submitted_at), "updated_at": timestamp(r.updated_at)}


def attachment(a: Attachment) -> dict:
    return {"id": a.id, "report_id": a.report_id, "filename": a.filename, "content_type": a.content_type,
            "size": a.size, "sha256": a.sha256, "uploaded_at": timestamp(a.uploaded_at),
            "url": url_for("api.download_attachment", attachment_id=a.id)}


def contribution(c: Contribution) -> dict:
    return {"id": c.id, "task_id": c.task_id, "task_code": c.task.code, "task_title": c.task.title,
            "department": c.department.name, "period": c.period.key, "period_label": c.period.label,
            "deadline": day(c.period.deadline), "status": c.status, "text": c.text, "version": c.version,
            "submitted_at": timestamp(c.submitted_at), "updated_at": timestamp(c.updated_at)}


def _diff(diff: dict | None) -> dict | None:
    if diff is None:
        return None
    return {"from_version": diff["from_version"], "to_version": diff["to_version"], "narrative": diff["narrative"],
            "fields": {name: {"from": old, "to": new} for name, (old, new) in diff["fields"].items()},
            "values": [{"target_id": int(tid), "from": number(old), "to": number(new)}
                       for tid, (old, new) in diff["values"].items()]}


def report_detail(r: Report, *, user: User, contributions: list[Contribution], diff: dict | None,
                  late: Lateness) -> dict:
    values = {v.target_id: v.value for v in r.values}
    return {
        **report_summary(r, late=late),
        "narrative": r.narrative, "difficulties": r.difficulties, "next_steps": r.next_steps,
        "values": [{"target_id": v.target_id, "value": number(v.value)} for v in r.values],
        "targets": [{**target(t), "reported_value": number(values.get(t.id))} for t in r.task.targets],
        "attachments": [attachment(a) for a in r.attachments if not a.removed],
        "contributions": [contribution(c) for c in contributions],
        "missing_contributions": [c.department.name for c in contributions if c.status != "submitted"],
        "last_return_reason": r.last_return_reason or None, "return_count": r.return_count,
        "first_submitted_at": timestamp(r.first_submitted_at), "reviewed_at": timestamp(r.reviewed_at),
        "resubmission_diff": _diff(diff),
        "permissions": {"edit": r.can_edit(user), "review": r.can_review(user)},
    }


def revision(rev: ReportRevision) -> dict:
    data = rev.data or {}
    return {"version": rev.version, "status": rev.status, "created_at": timestamp(rev.created_at),
            "actor": username(rev.actor),
            "narrative": data.get("narrative", ""), "percent_complete": data.get("percent_complete"),
            "progress": data.get("progress"), "difficulties": data.get("difficulties", ""),
            "next_steps": data.get("next_steps", ""),
            "values": [{"target_id": int(tid), "value": number(v)} for tid, v in (data.get("values") or {}).items()]}


def audit_event(e: AuditEvent) -> dict:
    return {"id": e.id, "at": timestamp(e.at), "actor": username(e.actor),
            "actor_name": e.actor.display if e.actor else None, "action": e.action,
            "from": e.from_state, "to": e.to_state, "comment": e.comment}
