"""Self-reports and contributions: save drafts (versioned), submit, attach files, keep every revision.

The office's side (approve, return) lives in workflow.review.services; both move reports by the tables of
workflow.transitions.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from models import (
    AssignmentRole,
    Attachment,
    CompletionReport,
    Contribution,
    ContributionStatus,
    Period,
    Progress,
    Report,
    ReportRevision,
    ReportValue,
    User,
)
from models.audit import record
from workflow import files, notify
from workflow.clock import local
from workflow.domain import Conflict, NotFound, TooLarge, ValidationFailed, require
from workflow.extensions import db
from workflow.transitions import apply_transition, check, check_version, committed

TEXT_LIMIT = 20_000


@dataclass
class ReportInput:
    """What a liaison typed; validated by clean_report_input (types always, completeness on submit)."""

    narrative: str = ""
    percent_complete: object = None
    progress: object = None
    difficulties: str = ""
    next_steps: str = ""
    values: dict[int, object] = field(default_factory=dict)


def _text(value, name: str, errors: dict, *, required: bool, label: str) -> str:
    text = (value or "").strip() if isinstance(value, str) or value is None else str(value).strip()
    if len(text) > TEXT_LIMIT:
        errors[name] = _("%(label)s不能超过 %(limit)s 字。", label=label, limit=TEXT_LIMIT)
    elif required and not text:
        errors[name] = _("请填写%(label)s。", label=label)
    return text


def clean_report_input(report: Report, data: ReportInput, *, complete: bool) -> tuple[dict, dict[str, str]]:
    """Validate types always and completeness when submitting; returns (clean values, field errors)."""
    errors: dict[str, str] = {}
    clean = {
        "narrative": _text(data.narrative, "narrative", errors, required=complete, label=_("工作进展")),
        "difficulties": _text(data.difficulties, "difficulties", errors, required=False, label=_("存在困难")),
        "next_steps": _text(data.next_steps, "next_steps", errors, required=False, label=_("下一步计划")),
    }
    percent = data.percent_complete
    if percent in (None, ""):
        clean["percent_complete"] = None
        if complete:
            errors["percent_complete"] = _("请填写完成百分比。")
    else:
        try:
            number = Decimal(str(percent).strip().rstrip("%"))
            if not number.is_finite() or number != number.to_integral_value():
                raise InvalidOperation
            clean["percent_complete"] = int(number)
            if not 0 <= clean["percent_complete"] <= 100:
                errors["percent_complete"] = _("完成百分比应在 0 到 100 之间。")
        except (InvalidOperation, ValueError):
            errors["percent_complete"] = _("完成百分比应为 0 到 100 的整数。")
    progress = data.progress or None
    if progress is not None and progress not in set(Progress) or progress is None and complete:
        errors["progress"] = _("请选择进展状态。")
    clean["progress"] = progress if progress in set(Progress) else None
    clean["values"] = {}
    for target in report.task.targets:
        raw = data.values.get(target.id, data.values.get(str(target.id)))
        name = f"value-{target.id}"
        if raw in (None, ""):
            clean["values"][target.id] = None
            if complete:
                errors[name] = _("请填写“%(metric)s”的当前值。", metric=target.metric or _("指标"))
            continue
        try:
            number = Decimal(str(raw).strip().replace(",", ""))
            if not number.is_finite() or abs(number) >= Decimal("1e14"):
                raise InvalidOperation
        except (InvalidOperation, ValueError):
            errors[name] = _("“%(metric)s”的当前值应为数字（单位：%(unit)s）。", metric=target.metric or _("指标"),
                             unit=target.unit or _("无"))
            continue
        if problem := _out_of_bounds(target, number):
            errors[name] = problem
        clean["values"][target.id] = number
    unknown = {str(k) for k in data.values} - {str(t.id) for t in report.task.targets}
    if unknown:
        errors["values"] = _("任务没有这些指标：%(metrics)s", metrics=", ".join(sorted(unknown)))
    return clean, errors


def _out_of_bounds(target, number: Decimal) -> str | None:
    """Implausible values (attainment caps at 100, so they would earn full marks): no negative amounts, and a
    percentage within 0–100, or up to the target itself when the target is above 100 %."""
    metric = target.metric or _("指标")
    if number < 0:
        return _("“%(metric)s”的当前值不能为负数。", metric=metric)
    top = max(Decimal(100), Decimal(target.value or 0))
    if target.unit == "%" and number > top:
        return _("“%(metric)s”是百分比，当前值应在 0 到 %(top)s 之间。", metric=metric, top=format(top.normalize(), "f"))
    return None


def previous_values(report: Report) -> dict[int, tuple[Decimal, str]]:
    """Per target: the value the department gave in its latest earlier period, with that period's key."""
    rows = db.session.execute(
        select(ReportValue.target_id, ReportValue.value, Period.key)
        .join(Report, ReportValue.report_id == Report.id).join(Period, Report.period_id == Period.id)
        .where(Report.task_id == report.task_id, Report.department_id == report.department_id,
               Period.start < report.period.start, ReportValue.value.is_not(None))
        .order_by(Period.start.desc())
    )
    found: dict[int, tuple[Decimal, str]] = {}
    for target_id, value, key in rows:
        found.setdefault(target_id, (value, key))
    return found


def value_jumps(report: Report, previous: dict[int, tuple[Decimal, str]]) -> dict[int, Decimal]:
    """Targets whose value rose or fell by more than VALUE_JUMP_FACTOR against the previous period, with the
    factor: a typo (an extra zero, a percentage typed as a count) is plausible on its own but not beside last
    quarter's figure, so the office is warned before it approves. Zero on either side has no factor."""
    limit = Decimal(str(current_app.config.get("VALUE_JUMP_FACTOR") or 0))
    jumps = {}
    for target_id, (before, _label) in previous.items():
        now_value = report.value_for(target_id)
        if limit <= 0 or now_value is None or before is None or now_value <= 0 or before <= 0:
            continue
        factor = max(now_value, before) / min(now_value, before)
        if factor > limit:
            jumps[target_id] = factor.quantize(Decimal("0.1"))
    return jumps


def snapshot(report: Report) -> dict:
    """The report's content as a revision stores it and a diff compares it."""
    return {
        "narrative": report.narrative, "percent_complete": report.percent_complete, "progress": report.progress,
        "difficulties": report.difficulties, "next_steps": report.next_steps,
        "values": {str(v.target_id): (f"{v.value.normalize():f}" if v.value is not None else None)
                   for v in report.values},
    }


def _write(report: Report, clean: dict, *, now: datetime) -> None:
    existing = {v.target_id: v for v in report.values}  # loaded before any change: one UPDATE, one version step
    for name in ("narrative", "percent_complete", "progress", "difficulties", "next_steps"):
        setattr(report, name, clean[name])
    for target_id, value in clean["values"].items():
        if target_id in existing:
            existing[target_id].value = value
        else:
            report.values.append(ReportValue(target_id=target_id, value=value))
    report.updated_at = now


def _add_revision(report: Report, *, actor: User, now: datetime) -> None:
    db.session.flush()  # bumps the version
    db.session.add(ReportRevision(report_id=report.id, version=report.version, status=report.status,
                                  data=snapshot(report), created_at=now, actor_id=actor.id))


def save_report(report: Report, data: ReportInput, *, actor: User, now: datetime,
                version: int | None, submit: bool = False) -> Report:
    """Save the draft (types checked, gaps allowed); with submit=True, check completeness and submit too."""
    require(report.can_view(actor), _("无权查看该报告。"))
    require(report.can_edit(actor), _("该报告当前不能由您修改。"))
    check_version(report, version)
    clean, errors = clean_report_input(report, data, complete=submit)
    if errors:
        raise ValidationFailed(errors)
    with committed(report):
        _write(report, clean, now=now)
        if submit:
            _submit(report, actor=actor, now=now)
        _add_revision(report, actor=actor, now=now)
    return report


def submit_report(report: Report, *, actor: User, now: datetime, version: int | None = None) -> Report:
    require(report.can_view(actor), _("无权查看该报告。"))
    require(report.can_edit(actor), _("该报告当前不能由您提交。"))
    check_version(report, version)
    clean, errors = clean_report_input(report, ReportInput(
        narrative=report.narrative, percent_complete=report.percent_complete, progress=report.progress,
        difficulties=report.difficulties, next_steps=report.next_steps,
        values={v.target_id: v.value for v in report.values}), complete=True)
    if errors:
        raise ValidationFailed(errors)
    with committed(report):
        _submit(report, actor=actor, now=now)
        _add_revision(report, actor=actor, now=now)
    return report


def withdraw_report(report: Report, *, actor: User, now: datetime, version: int | None = None) -> Report:
    """撤回: a submission the office has not decided on goes back to the department as a draft (audited; the
    text, values and files stay). Withdrawn before any return it counts as not handed in, so its lateness runs
    on until it is submitted again; after a return it keeps its first hand-in. Once the office has approved or
    returned it, a Conflict."""
    require(report.can_view(actor), _("无权查看该报告。"))
    check(report, "withdraw", actor=actor)   # the office's decision is the reason to give, not a stale page
    changes = {"submitted_at": None, **({"first_submitted_at": None} if report.return_count == 0 else {})}
    apply_transition(report, "withdraw", actor=actor, now=now, version=version, changes=changes)
    return report


def _submit(report: Report, *, actor: User, now: datetime) -> None:
    apply_transition(report, "submit", actor=actor, now=now, commit=False,
                     changes={"submitted_at": now, "first_submitted_at": report.first_submitted_at or now})


# -- contributions ---------------------------------------------------------------------------------------

def save_contribution(contribution: Contribution, text: str, *, actor: User, now: datetime,
                      version: int | None, submit: bool = False) -> Contribution:
    require(contribution.can_edit(actor), _("该配合情况当前不能由您修改。"))
    check_version(contribution, version)
    errors: dict[str, str] = {}
    clean = _text(text, "text", errors, required=submit, label=_("配合情况"))
    if errors:
        raise ValidationFailed(errors)
    with committed(contribution):
        contribution.text, contribution.updated_at = clean, now
        if submit:
            apply_transition(contribution, "submit", actor=actor, now=now, commit=False,
                             changes={"submitted_at": now}, notify=lambda: _tell_leads(contribution, now=now))
    return contribution


def _tell_leads(contribution: Contribution, *, now: datetime) -> None:
    for lead in lead_departments(contribution):
        for user in notify.department_users(lead):
            notify.queue(user, kind="contribution.submitted", now=now, key=f"contribution:c{contribution.id}",
                         subject=f"{contribution.department.name}已报送任务 {contribution.task.code} "
                                 f"{contribution.period.label}配合情况", link=_lead_report_link(contribution))


def _lead_report_link(contribution: Contribution) -> str:
    report_id = db.session.scalar(select(Report.id).where(Report.task_id == contribution.task_id,
                                                          Report.period_id == contribution.period_id))
    return f"/reports/{report_id}" if report_id else "/reports/"


def lead_departments(obj) -> list[int]:
    return [a.department_id for a in obj.task.active_assignments if a.role == AssignmentRole.LEAD]


def contributions_for(report: Report) -> list[Contribution]:
    """The co-departments' contributions for the same task and period (the lead sees them while writing), with
    their departments loaded in the same round trip (not one query per co-department)."""
    return list(db.session.scalars(
        select(Contribution).where(Contribution.task_id == report.task_id, Contribution.period_id == report.period_id)
        .options(selectinload(Contribution.department)).order_by(Contribution.id)
    ))


# -- 催报: the lead chases a co-department ----------------------------------------------------------------

def chase_key(contribution: Contribution, now: datetime) -> str:
    """One reminder per contribution and (Beijing) day: the notification key says so, and is unique."""
    return f"chase:c{contribution.id}:{local(now):%Y%m%d}"


def chase_contribution(report: Report, contribution: Contribution, *, actor: User, now: datetime) -> list:
    """The lead department reminds the co-department's liaison(s) of a missing contribution to its report:
    at most once a day per contribution (a second time is a Conflict, also when two arrive at once: the
    notification key is unique). Audited on the report, so the office sees who chased whom and when."""
    require(report.can_chase(actor), _("只有牵头单位的联络员或负责人可以催报配合单位。"))
    if (contribution.task_id, contribution.period_id) != (report.task_id, report.period_id):
        raise NotFound(_("该配合情况不属于本报告。"))
    department = contribution.department.name
    if contribution.status != ContributionStatus.DRAFT:
        raise Conflict(_("%(dept)s已报送配合情况，无需催报。", dept=department))
    recipients = notify.department_users(contribution.department_id)
    if not recipients:
        raise Conflict(_("%(dept)s还没有联络员账号，无法催报，请联系领导小组办公室。", dept=department))
    again = _("今天已催报过%(dept)s，每个配合单位每天只能催报一次，请明天再试。", dept=department)
    key, task, period = chase_key(contribution, now), contribution.task, contribution.period
    notes = [notify.queue(user, kind="contribution.chase", key=key, now=now,
                          subject=f"【催报】{report.department.name}请你单位报送任务 {task.code} {period.label}配合情况",
                          body=f"报送期限：{period.deadline:%Y-%m-%d}。", link=f"/reports/contributions/{contribution.id}",
                          data={"department": department, "task": task.code, "task_title": task.title,
                                "period_label": period.label, "deadline": period.deadline.isoformat(),
                                "days_late": 0, "what": "contribution"})
             for user in recipients]
    if not all(notes):
        db.session.rollback()
        raise Conflict(again)
    record("report.chase", report, actor=actor, now=now, comment=department,
           data={"contribution_id": contribution.id, "department": department,
                 "recipients": [u.username for u in recipients]})
    try:
        db.session.commit()
    except IntegrityError as exc:   # the same chase a moment ago, from another request
        db.session.rollback()
        raise Conflict(again) from exc
    return notes


# -- attachments -----------------------------------------------------------------------------------------

def attachment_area() -> files.Area:
    return files.area("attachments")


def add_attachment(report: Report, stream, filename: str, *, actor: User, now: datetime) -> Attachment:
    require(report.can_edit(actor), _("该报告当前不能由您添加附件。"))
    try:
        stored = files.store(stream, filename, attachment_area(),
                             max_bytes=current_app.config.get("ATTACHMENT_MAX_BYTES", files.DEFAULT_MAX_BYTES))
    except files.AttachmentError as exc:
        if exc.http_status == 413:
            raise TooLarge(str(exc)) from exc
        raise ValidationFailed({"file": str(exc)}, str(exc)) from exc
    same = next((a for a in report.attachments if not a.removed and a.sha256 == stored.sha256), None)
    if same is not None:  # the same file again: listed once
        return same
    attachment = Attachment(report=report, filename=stored.filename, content_type=stored.content_type,
                            size=stored.size, sha256=stored.sha256, uploaded_at=now, uploaded_by_id=actor.id)
    db.session.add(attachment)
    db.session.flush()
    record("attachment.add", report, actor=actor, now=now, comment=stored.filename,
           data={"attachment_id": attachment.id, "sha256": stored.sha256})
    db.session.commit()
    return attachment


def remove_attachment(attachment: Attachment, *, actor: User, now: datetime) -> Attachment:
    """Take an attachment off a report that can still be edited; the stored file and the audit row stay."""
    require(attachment.report.can_edit(actor), _("该报告当前不能由您删除附件。"))
    if not attachment.removed:
        attachment.removed = True
        record("attachment.remove", attachment.report, actor=actor, now=now, comment=attachment.filename,
               data={"attachment_id": attachment.id, "sha256": attachment.sha256})
        db.session.commit()
    return attachment


def sweep_attachments(*, now: datetime) -> int:
    """The scheduler's housekeeping: attachment files without a row, an hour old (see files.sweep)."""
    referenced = {*db.session.scalars(select(Attachment.sha256).distinct()),
                  *(f["sha256"] for files_ in db.session.scalars(select(CompletionReport.files)) for f in files_ or ())}
    return len(files.sweep(attachment_area(), referenced, older_than=now - timedelta(hours=1)))


# -- revisions and diffs ---------------------------------------------------------------------------------

def resubmission_diff(report: Report) -> dict | None:
    """What changed between the submission that was returned and the latest one (None if never returned)."""
    submitted = [r for r in sorted(report_revisions(report), key=lambda r: r.version) if r.status == "submitted"]
    if report.return_count == 0 or len(submitted) < 2:
        return None
    before, after = submitted[-2].data, submitted[-1].data
    narrative = list(difflib.ndiff(before["narrative"].splitlines() or [""], after["narrative"].splitlines() or [""]))
    fields = {name: (before.get(name), after.get(name))
              for name in ("percent_complete", "progress", "difficulties", "next_steps")
              if before.get(name) != after.get(name)}
    values = {tid: (before["values"].get(tid), after["values"].get(tid))
              for tid in sorted(set(before["values"]) | set(after["values"]))
              if before["values"].get(tid) != after["values"].get(tid)}
    return {"from_version": submitted[-2].version, "to_version": submitted[-1].version,
            "narrative": [line for line in narrative if not line.startswith("?")], "fields": fields,
            "values": values}


def revisions_query(report: Report) -> Select:
    return select(ReportRevision).where(ReportRevision.report_id == report.id).order_by(ReportRevision.version)


def report_revisions(report: Report) -> list[ReportRevision]:
    return list(db.session.scalars(revisions_query(report)))
