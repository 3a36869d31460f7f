"""延期申请: before a report's deadline the lead department's liaison or head asks for more time (a reason, the
proposed date, the progress so far); the office approves — that report's deadline moves to the new date, and
reminders, escalation, lateness (workflow.calendar.lateness), the overview's lights and the evaluation all count
from it (Report.deadline) — or refuses with a reason.

One request may be pending per report (the service's check, and a partial unique index for two at once); none
after the deadline. Every step is audited on the request and, for the decision, on the report (the report and
task pages' trails show it); notifications go through workflow.notify under unique keys.
"""
from __future__ import annotations

from datetime import date, datetime

from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from models import ExtensionRequest, ExtensionStatus, Period, Report, User
from models.audit import record
from models.org import DEPARTMENT_ROLES
from workflow import notify
from workflow.clock import local
from workflow.domain import Conflict, ValidationFailed, require
from workflow.extensions import db
from workflow.labels import label
from workflow.transitions import apply_transition, check, committed

TEXT_LIMIT = 2000


def one_year_after(day: date) -> date:
    """The same date a year later (29 February → 28 February): the latest deadline an extension may ask for."""
    try:
        return day.replace(year=day.year + 1)
    except ValueError:
        return day.replace(year=day.year + 1, day=28)


def limited_text(value: str | None, name: str, errors: dict, *, missing: str | None = None,
                 limit: int = TEXT_LIMIT) -> str:
    """Stripped text, with a field error when required and empty or longer than `limit`."""
    value = (value or "").strip()
    if missing and not value:
        errors[name] = missing
    elif len(value) > limit:
        errors[name] = _("不能超过 %(limit)s 字（当前 %(n)s 字）。", limit=limit, n=len(value))
    return value


def _data(request: ExtensionRequest, **extra) -> dict:
    """What a digest and the inbox show of a request (the keys workflow.mail.digests reads)."""
    report = request.report
    return {"department": report.department.name, "task": report.task.code, "task_title": report.task.title,
            "period": report.period.key, "period_label": report.period.label,
            "deadline": request.new_deadline.isoformat(), "days_late": 0, "what": "extension", **extra}


def request_extension(report: Report, *, reason: str | None, new_deadline: date | None, progress: str | None = "",
                      actor: User, now: datetime) -> ExtensionRequest:
    """File a request; the office is told. Refused: not the report's department (403), the report handed in,
    a request already pending, the deadline passed (409); no reason, no date, a date not after the current
    deadline or more than a year after it (field errors). Nothing is written on a refusal."""
    require(actor.role in DEPARTMENT_ROLES and actor.department_id == report.department_id,
            _("只有该报告牵头单位的联络员或负责人可以申请延期。"))
    if not report.can_request_extension(actor):
        raise Conflict(_("该报告当前（%(state)s）不能申请延期。", state=_state(report)))
    today, deadline = local(now).date(), report.deadline
    if today > deadline:
        raise Conflict(_("报送期限（%(deadline)s）已过，不能再申请延期；请尽快报送。", deadline=f"{deadline:%Y-%m-%d}"))
    pending = report.pending_extension
    if pending is not None:
        raise Conflict(_("该报告已有一项待审批的延期申请（申请延至 %(date)s），请等待办公室处理。",
                         date=f"{pending.new_deadline:%Y-%m-%d}"))
    errors: dict[str, str] = {}
    reason = limited_text(reason, "reason", errors, missing=_("请填写延期理由。"))
    progress = limited_text(progress, "progress", errors)
    latest = one_year_after(deadline)
    if new_deadline is None:
        errors["new_deadline"] = _("请填写申请延至的日期。")
    elif new_deadline <= deadline:
        errors["new_deadline"] = _("申请延至的日期须晚于当前报送期限（%(deadline)s）。", deadline=f"{deadline:%Y-%m-%d}")
    elif new_deadline > latest:
        errors["new_deadline"] = _("申请延至的日期不能晚于当前期限一年以后（%(last)s）。", last=f"{latest:%Y-%m-%d}")
    if errors:
        raise ValidationFailed(errors)
    request = ExtensionRequest(report=report, department_id=report.department_id, reason=reason, progress=progress,
                               current_deadline=deadline, new_deadline=new_deadline, requested_at=now,
                               requested_by_id=actor.id, status=ExtensionStatus.PENDING)
    try:
        with committed(request):
            db.session.add(request)
            db.session.flush()
            record("extension_request.create", request, actor=actor, now=now, comment=reason,
                   to_state=ExtensionStatus.PENDING,
                   data={"report_id": report.id, "current_deadline": deadline.isoformat(),
                         "new_deadline": new_deadline.isoformat()})
            record("report.extension_requested", report, actor=actor, now=now, comment=reason,
                   data={"extension_id": request.id, "new_deadline": new_deadline.isoformat()})
            for user in notify.office_users():
                notify.queue(user, kind="extension", key=f"extension:e{request.id}", now=now,
                             subject=f"【延期申请】{report.department.name} {report.task.code} {report.period.label}报告"
                                     f"申请延至 {new_deadline:%Y-%m-%d}",
                             body=reason[:200], link=f"/extensions/{request.id}", data=_data(request))
    except IntegrityError as exc:    # another request for the same report a moment ago
        raise Conflict(_("该报告已有一项待审批的延期申请，请等待办公室处理。")) from exc
    return request


def _state(report: Report) -> str:
    return _("已撤销") if report.withdrawn_at else label("report_status", report.status)


def _tell_department(request: ExtensionRequest, *, now: datetime, approved: bool) -> None:
    report = request.report
    verdict = "已批准" if approved else "未批准"
    body = (f"报送期限调整为 {request.new_deadline:%Y-%m-%d}。" if approved
            else f"理由：{request.decision_reason[:200]}。报送期限仍为 {request.current_deadline:%Y-%m-%d}。")
    for user in notify.department_users(report.department_id, roles=DEPARTMENT_ROLES):
        notify.queue(user, kind="extension.decided", key=f"extension-decided:e{request.id}", now=now,
                     subject=f"【延期申请{verdict}】{report.task.code} {report.period.label}报告", body=body,
                     link=f"/reports/{report.id}", data=_data(request, decision=request.status))


def approve_extension(request: ExtensionRequest, *, actor: User, now: datetime, comment: str | None = "",
                      version=None) -> ExtensionRequest:
    """The office agrees: the report's deadline becomes the new date (its own, not the period's). The report's
    version is left alone, so a liaison editing the draft meanwhile saves without a conflict."""
    check(request, "approve", actor=actor, version=version)
    errors: dict[str, str] = {}
    comment = limited_text(comment, "comment", errors)
    if errors:
        raise ValidationFailed(errors)
    report = request.report

    def move_deadline() -> None:
        db.session.execute(update(Report).where(Report.id == report.id)
                           .values(extended_deadline=request.new_deadline)
                           .execution_options(synchronize_session=False))
        db.session.expire(report, ["extended_deadline"])
        record("report.deadline_extended", report, actor=actor, now=now, comment=comment,
               data={"extension_id": request.id, "from": request.current_deadline.isoformat(),
                     "to": request.new_deadline.isoformat()})
        _tell_department(request, now=now, approved=True)

    apply_transition(request, "approve", actor=actor, now=now, comment=comment,
                     changes={"decided_at": now, "decided_by_id": actor.id, "decision_reason": comment},
                     notify=move_deadline)
    return request


def refuse_extension(request: ExtensionRequest, reason: str | None, *, actor: User, now: datetime,
                     version=None) -> ExtensionRequest:
    """The office says no, with a reason (required); the deadline stays."""
    check(request, "refuse", actor=actor, version=version)
    errors: dict[str, str] = {}
    reason = limited_text(reason, "reason", errors, missing=_("请填写不予批准的理由。"))
    if errors:
        raise ValidationFailed(errors)

    def tell() -> None:
        record("report.extension_refused", request.report, actor=actor, now=now, comment=reason,
               data={"extension_id": request.id})
        _tell_department(request, now=now, approved=False)

    apply_transition(request, "refuse", actor=actor, now=now, comment=reason,
                     changes={"decided_at": now, "decided_by_id": actor.id, "decision_reason": reason}, notify=tell)
    return request


def load_extension(extension_id: int) -> ExtensionRequest | None:
    return db.session.scalar(select(ExtensionRequest).where(ExtensionRequest.id == extension_id).options(
        selectinload(ExtensionRequest.report).selectinload(Report.task),
        selectinload(ExtensionRequest.report).selectinload(Report.period),
        selectinload(ExtensionRequest.requested_by), selectinload(ExtensionRequest.decided_by)))


def approved_for_periods(period_ids: list[int]) -> list[ExtensionRequest]:
    """The extensions the office approved on the reports of these periods: the bulletin's 延期批准."""
    return list(db.session.scalars(
        select(ExtensionRequest).join(ExtensionRequest.report).join(Report.period)
        .where(Report.period_id.in_(period_ids), ExtensionRequest.status == ExtensionStatus.APPROVED)
        .options(selectinload(ExtensionRequest.report).selectinload(Report.task),
                 selectinload(ExtensionRequest.report).selectinload(Report.period),
                 selectinload(ExtensionRequest.report).selectinload(Report.department))
        .order_by(Period.start, ExtensionRequest.decided_at, ExtensionRequest.id)))
