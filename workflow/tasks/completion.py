"""办结报告 and 销号: when a task is done its lead department files a completion report (what was achieved, the
final target values, attachments kept by workflow.files); the office confirms it — the task closes through
workflow.tasks.closure.close_task in the same transaction — or returns it with a reason, and the lead may file
again. The office may reopen a closed task with a reason (closure.reopen_task).
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation

from flask import Response, current_app
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from models import CompletionReport, CompletionStatus, Task, User
from models.audit import record
from models.extension import is_lead_member
from models.org import DEPARTMENT_ROLES
from workflow import files, notify
from workflow.domain import Conflict, TooLarge, ValidationFailed, require
from workflow.extension_requests.services import limited_text
from workflow.extensions import db
from workflow.reports.services import attachment_area
from workflow.tasks.closure import close_task
from workflow.transitions import apply_transition, check, committed

SUMMARY_LIMIT = 4000
MAX_FILES = 10


def pending_completion(task: Task) -> CompletionReport | None:
    return db.session.scalar(select(CompletionReport).where(CompletionReport.task_id == task.id,
                                                            CompletionReport.status == CompletionStatus.SUBMITTED))


def completions_of(task: Task) -> list[CompletionReport]:
    return list(db.session.scalars(
        select(CompletionReport).where(CompletionReport.task_id == task.id)
        .options(joinedload(CompletionReport.submitted_by), joinedload(CompletionReport.decided_by),
                 joinedload(CompletionReport.department))
        .order_by(CompletionReport.submitted_at.desc(), CompletionReport.id.desc())))


def _clean_values(task: Task, values, errors: dict) -> list[dict]:
    """[{"target_id", "value"}] (or {target_id: value}) → the task's targets with a number each given."""
    pairs = values.items() if isinstance(values, dict) else (
        (v.get("target_id"), v.get("value")) for v in values or () if isinstance(v, dict))
    ids = {t.id for t in task.targets}
    clean = []
    for target_id, value in pairs:
        try:
            target_id = int(target_id)
        except (TypeError, ValueError):
            target_id = None
        if target_id not in ids:
            errors["values"] = _("指标不属于该任务。")
            continue
        text = str(value if value is not None else "").strip()
        if not text:
            continue
        try:
            number = Decimal(text)
        except InvalidOperation:
            errors[f"value_{target_id}"] = _("请填写数字。")
            continue
        if not number.is_finite() or abs(number) >= Decimal(10) ** 14:
            errors[f"value_{target_id}"] = _("请填写数字。")
            continue
        clean.append({"target_id": target_id, "value": format(number.normalize(), "f")})
    return clean


def _store(uploads, errors: dict) -> list[dict]:
    stored = []
    uploads = [u for u in uploads or () if u is not None and getattr(u, "filename", "")]
    if len(uploads) > MAX_FILES:
        errors["files"] = _("附件最多 %(n)s 个。", n=MAX_FILES)
        return []
    for upload in uploads:
        try:
            f = files.store(upload.stream, upload.filename, attachment_area(),
                            max_bytes=current_app.config.get("ATTACHMENT_MAX_BYTES", files.DEFAULT_MAX_BYTES))
        except files.AttachmentError as exc:
            if exc.http_status == 413:
                raise TooLarge(str(exc)) from exc
            errors["files"] = str(exc)
            return []
        if all(s["sha256"] != f.sha256 for s in stored):
            stored.append({"filename": f.filename, "content_type": f.content_type, "size": f.size, "sha256": f.sha256})
    return stored


def file_completion(task: Task, *, summary: str | None, values=None, uploads=(), actor: User,
                    now: datetime) -> CompletionReport:
    """The lead department's 办结报告; the office is told. Refused: not one of the task's lead departments
    (403), the task already closed or a completion report already waiting (409), no summary (field error)."""
    require(is_lead_member(actor, task), _("只有该任务牵头单位的联络员或负责人可以报送办结报告。"))
    if task.is_closed:
        raise Conflict(_("任务 %(code)s 已销号，不能再报送办结报告。", code=task.code))
    if pending_completion(task) is not None:
        raise Conflict(_("该任务已有一份待确认的办结报告，请等待办公室处理。"))
    errors: dict[str, str] = {}
    summary = limited_text(summary, "summary", errors, missing=_("请填写完成情况。"), limit=SUMMARY_LIMIT)
    clean = _clean_values(task, values, errors)
    stored = _store(uploads, errors) if not errors else []
    if errors:
        raise ValidationFailed(errors)
    completion = CompletionReport(task=task, department_id=actor.department_id, summary=summary, values=clean,
                                  files=stored, submitted_at=now, submitted_by_id=actor.id,
                                  status=CompletionStatus.SUBMITTED)
    try:
        with committed(completion):
            db.session.add(completion)
            db.session.flush()
            record("completion_report.create", completion, actor=actor, now=now, comment=summary,
                   to_state=CompletionStatus.SUBMITTED,
                   data={"task_id": task.id, "values": clean, "files": [s["filename"] for s in stored]})
            record("task.completion_filed", task, actor=actor, now=now, comment=summary,
                   data={"completion_id": completion.id})
            for user in notify.office_users():
                notify.queue(user, kind="completion", key=f"completion:c{completion.id}", now=now,
                             subject=f"【办结报告】{task.code} {task.title[:40]}：申请销号",
                             body=summary[:200], link=f"/tasks/{task.id}", data=_data(completion))
    except IntegrityError as exc:    # a second one filed a moment ago
        raise Conflict(_("该任务已有一份待确认的办结报告，请等待办公室处理。")) from exc
    return completion


def _data(completion: CompletionReport, **extra) -> dict:
    return {"department": completion.department.name if completion.department else "",
            "task": completion.task.code, "task_title": completion.task.title, "period_label": "",
            "deadline": "", "days_late": 0, "what": "completion", **extra}


def _tell_department(completion: CompletionReport, *, now: datetime, subject: str, body: str) -> None:
    for user in notify.department_users(completion.department_id, roles=DEPARTMENT_ROLES):
        notify.queue(user, kind="completion.decided", key=f"completion-decided:c{completion.id}", now=now,
                     subject=subject, body=body, link=f"/tasks/{completion.task_id}",
                     data=_data(completion, decision=completion.status))


def confirm_completion(completion: CompletionReport, *, actor: User, now: datetime, comment: str | None = "",
                       version=None) -> CompletionReport:
    """销号: the completion report is confirmed and its task closed, in one transaction (closing a task that is
    already closed is a 409 and writes nothing)."""
    check(completion, "confirm", actor=actor, version=version)
    task = completion.task
    check(task, "close", actor=actor)
    errors: dict[str, str] = {}
    comment = limited_text(comment, "comment", errors)
    if errors:
        raise ValidationFailed(errors)
    with committed(completion):
        apply_transition(completion, "confirm", actor=actor, now=now, comment=comment, commit=False,
                         changes={"decided_at": now, "decided_by_id": actor.id, "decision_reason": comment})
        close_task(task, actor=actor, now=now, reason=comment or _("办结销号：%(summary)s", summary=completion.summary[:200]),
                   data={"completion_id": completion.id}, commit=False)
        _tell_department(completion, now=now, subject=f"【已销号】{task.code} {task.title[:40]}",
                         body=comment or "办结报告已确认，该任务已销号。")
    return completion


def return_completion(completion: CompletionReport, reason: str | None, *, actor: User, now: datetime,
                      version=None) -> CompletionReport:
    """Back to the lead with a reason (required); the task stays open and may be reported on and filed again."""
    check(completion, "return", actor=actor, version=version)
    errors: dict[str, str] = {}
    reason = limited_text(reason, "reason", errors, missing=_("请填写退回理由。"))
    if errors:
        raise ValidationFailed(errors)
    task = completion.task

    def tell() -> None:
        record("task.completion_returned", task, actor=actor, now=now, comment=reason,
               data={"completion_id": completion.id})
        _tell_department(completion, now=now, subject=f"【办结报告退回】{task.code} {task.title[:40]}",
                         body=f"退回理由：{reason[:200]}")

    apply_transition(completion, "return", actor=actor, now=now, comment=reason, notify=tell,
                     changes={"decided_at": now, "decided_by_id": actor.id, "decision_reason": reason})
    return completion


def load_completion(completion_id: int) -> CompletionReport | None:
    return db.session.scalar(select(CompletionReport).where(CompletionReport.id == completion_id).options(
        selectinload(CompletionReport.task).selectinload(Task.assignments)))


def completion_file(completion: CompletionReport, sha256: str) -> Response | None:
    """A download of one of its attachments (streamed from the store), or None when it has no such file;
    FileNotFoundError when the row is there and the stored file is not."""
    entry = next((f for f in completion.files if f["sha256"] == sha256), None)
    if entry is None:
        return None
    response = files.send_stored(attachment_area(), sha256, mimetype=entry["content_type"])
    response.headers["Content-Disposition"] = files.content_disposition(entry["filename"])
    return response
