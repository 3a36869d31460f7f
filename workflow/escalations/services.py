"""Escalations (督办): listing, closing by the office, and what a 督办通知单 says.

The reminder pass (workflow.scheduling.reminders) opens escalations; workflow.escalations.effects closes them
when the work is submitted; this module is the office's side. Permission helpers live here until the model
grows methods for them.
"""
from __future__ import annotations

from datetime import date, datetime

from flask import current_app, has_app_context
from flask_babel import gettext as _
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import selectinload

from models import Department, Escalation, EscalationStatus, Period, Plan, Role, User
from workflow.calendar.lateness import lateness, resubmission_due
from workflow.calendar.office import office_calendar
from workflow.calendar.workdays import WorkdayCalendar
from workflow.clock import local
from workflow.domain import ValidationFailed
from workflow.extensions import db
from workflow.labels import label
from workflow.pagination import paginate
from workflow.scheduling.reminders import DEFAULT_RULES, rules_for
from workflow.transitions import apply_transition, check

NOTE_LIMIT = 2000
DEFAULT_OFFICE_NAME = "领导小组办公室"
RESPONSE_WORKDAYS = 3
EXCERPT_CHARS = 160


# -- scope (the permission rules are Escalation.can_view / can_close and User.can_list_escalations) ---------

def scope_department(user: User, department_id: int | None) -> int | None:
    """The department filter a user may use: a department head is always held to its own department."""
    if user.role == Role.DEPT_HEAD:
        return user.department_id
    return department_id


# -- listing -------------------------------------------------------------------------------------------------

def _filtered(*, status: str | None, department_id: int | None, plan_id: int | None, period_id: int | None = None,
              year: int | None = None) -> Select:
    """`period_id`: that period's escalations; `year`: those of the periods ending in it (the overview's year)."""
    q = select(Escalation)
    if status:
        q = q.where(Escalation.status == status)
    if department_id:
        q = q.where(Escalation.department_id == department_id)
    if plan_id:
        q = q.where(Escalation.plan_id == plan_id)
    if period_id:
        q = q.where(Escalation.period_id == period_id)
    if year:
        q = q.where(Escalation.period_id.in_(select(Period.id).where(
            Period.end >= date(year, 1, 1), Period.end <= date(year, 12, 31))))
    return q


def _listed(*, status: str | None, department_id: int | None, plan_id: int | None, **more) -> Select:
    """Escalations matching the filters with task, period, department (and report/contribution, closer) loaded.

    Open ones come first, oldest first (the longest-waiting item is at the top); closed ones, when listed on
    their own, most recently closed first.
    """
    q = _filtered(status=status, department_id=department_id, plan_id=plan_id, **more).options(
        selectinload(Escalation.task), selectinload(Escalation.period), selectinload(Escalation.department),
        selectinload(Escalation.report), selectinload(Escalation.contribution), selectinload(Escalation.closed_by),
    )
    if status == EscalationStatus.CLOSED:
        return q.order_by(Escalation.closed_at.desc(), Escalation.id.desc())
    return q.order_by(case((Escalation.status == EscalationStatus.OPEN, 0), else_=1), Escalation.opened_at,
                      Escalation.id)


def list_escalations(*, status: str | None = EscalationStatus.OPEN, department_id: int | None = None,
                     plan_id: int | None = None) -> list[Escalation]:
    """Every escalation matching the filters, in list order (see _listed)."""
    return list(db.session.scalars(_listed(status=status, department_id=department_id, plan_id=plan_id)))


def escalation_page(*, status: str | None = EscalationStatus.OPEN, department_id: int | None = None,
                    plan_id: int | None = None, period_id: int | None = None, year: int | None = None,
                    page: int = 1, per_page: int = 50) -> Pagination:
    """One page of the list, for the escalation page."""
    return paginate(_listed(status=status, department_id=department_id, plan_id=plan_id, period_id=period_id,
                            year=year), page=page, per_page=per_page)


def escalation_counts(*, department_id: int | None = None, plan_id: int | None = None, period_id: int | None = None,
                      year: int | None = None) -> dict[str, int]:
    """{'open': n, 'closed': n} under the same filters."""
    q = (_filtered(status=None, department_id=department_id, plan_id=plan_id, period_id=period_id, year=year)
         .with_only_columns(Escalation.status, func.count()).group_by(Escalation.status))
    counts = {EscalationStatus.OPEN.value: 0, EscalationStatus.CLOSED.value: 0}
    for status, n in db.session.execute(q):
        counts[str(status)] = n
    return counts


def filter_choices(*, department_id: int | None = None) -> dict:
    """Departments that have escalations (or the one a head is held to), the plans that have any, and the
    number of open escalations per department id."""
    dept_q = (select(Department).where(Department.id.in_(select(Escalation.department_id).distinct()))
              .order_by(Department.id))
    if department_id:
        dept_q = select(Department).where(Department.id == department_id)
    plans = db.session.scalars(select(Plan).where(Plan.id.in_(select(Escalation.plan_id).distinct()))
                               .order_by(Plan.id)).all()
    open_counts = dict(db.session.execute(
        select(Escalation.department_id, func.count()).where(Escalation.status == EscalationStatus.OPEN)
        .group_by(Escalation.department_id)).all())
    return {"departments": list(db.session.scalars(dept_q)), "plans": list(plans), "open_counts": open_counts}


# -- closing -------------------------------------------------------------------------------------------------

def close_escalation(escalation: Escalation, *, note: str, actor: User, now: datetime) -> Escalation:
    """The office closes an escalation with a note (why it no longer needs chasing); audited, committed.

    A concurrent close (another office user, or the reminder pass closing it on submission) makes the
    conditional UPDATE of the transition match no row: the loser gets a Conflict, nothing is overwritten.
    """
    check(escalation, "close", actor=actor)
    note = (note or "").strip()
    if not note:
        raise ValidationFailed({"note": _("关闭督办事项时必须填写说明。")})
    if len(note) > NOTE_LIMIT:
        raise ValidationFailed({"note": _("说明不能超过 %(limit)s 字（当前 %(n)s 字）。", limit=NOTE_LIMIT, n=len(note))})
    apply_transition(escalation, "close", actor=actor, now=now, comment=note,
                     changes={"closed_at": now, "closed_by_id": actor.id, "close_reason": "office", "close_note": note},
                     data={"close_reason": "office", "department": escalation.department_id,
                           "task": escalation.task_id, "period": escalation.period_id})
    return escalation


def close_label(escalation: Escalation) -> str:
    """How a closed escalation was settled: '自动：已报送' or '办公室：<note>'."""
    reason = label("escalation_close_reason", escalation.close_reason)
    if escalation.close_reason == "office":
        return _("%(reason)s：%(note)s", reason=reason, note=escalation.close_note)
    return reason


# -- the 督办通知单 ----------------------------------------------------------------------------------------------

def office_name() -> str:
    name = current_app.config.get("OFFICE_NAME") if has_app_context() else None
    return name or DEFAULT_OFFICE_NAME


def notice_number(escalation: Escalation) -> str:
    return f"督办〔{local(escalation.opened_at).year}〕第 {escalation.id} 号"


def subject_deadline(escalation: Escalation, calendar: WorkdayCalendar | None = None) -> date:
    """The deadline the days late count from: the period's, or for a returned report the end of its grace
    (the return day plus the plan's returned_grace_workdays), as the reminder rules count it."""
    if escalation.cause == "returned" and escalation.report is not None and escalation.report.reviewed_at:
        plan = db.session.get(Plan, escalation.plan_id)
        grace = rules_for(plan)["returned_grace_workdays"] if plan else DEFAULT_RULES["returned_grace_workdays"]
        cal = calendar or office_calendar()
        return resubmission_due(escalation.report, grace, cal)
    return escalation.period.deadline


def days_late_now(escalation: Escalation, today: date, calendar: WorkdayCalendar | None = None) -> int:
    """Working days late as of `today` for an open escalation (the reminder pass stores the figure only on the
    working days it runs); a closed one keeps the figure it was closed with."""
    if not escalation.is_open:
        return escalation.days_late
    cal = calendar or office_calendar()
    deadline = subject_deadline(escalation, cal)
    if today <= deadline:
        return escalation.days_late
    return lateness(deadline, today, cal).working


def cn_date(d: date) -> str:
    """2026-04-08 → '2026年4月8日' (the form official documents use)."""
    return f"{d.year}年{d.month}月{d.day}日"


def _excerpt(text: str, title: str = "", limit: int = EXCERPT_CHARS) -> str:
    """The task's text without its opening title sentence, collapsed and cut to `limit` characters."""
    text = " ".join((text or "").split())
    if title and text.startswith(title):
        text = text[len(title):].lstrip("。.;；，, ") or text
    return text if len(text) <= limit else text[:limit].rstrip("，,。；; ") + "……"


def escalation_notice(escalation: Escalation, *, now: datetime | None = None) -> dict:
    """Everything the 督办通知单 shows.

    `now` dates the notice and, while the escalation is open, counts the working days late up to that day;
    without it (or for a closed escalation) the notice is dated the day the escalation opened and shows the
    days late stored with it.
    """
    task, period = escalation.task, escalation.period
    is_report = escalation.report_id is not None
    returned = escalation.cause == "returned"
    cal = office_calendar()
    deadline = subject_deadline(escalation, cal)
    dated = now if now is not None and escalation.is_open else escalation.opened_at
    days_late = days_late_now(escalation, local(dated).date(), cal) if now is not None else escalation.days_late
    what = "进展情况报告" if is_report else "配合工作情况"
    role = "牵头" if is_report else "配合"
    issued = local(dated).date()
    return_reason = escalation.report.last_return_reason if returned and escalation.report is not None else ""
    cause = label("escalation_cause", escalation.cause)
    if returned:
        body = (f"你单位{role}承担的任务 {task.code}“{task.title}”{period.label}{what}经审核被退回后，"
                f"未在规定时间（{cn_date(deadline)}前）重新报送，至今已逾期 {days_late} 个工作日。")
    else:
        body = (f"你单位{role}承担的任务 {task.code}“{task.title}”{period.label}{what}应于 "
                f"{cn_date(deadline)}前报送，至今未报送，已逾期 {days_late} 个工作日。")
    return {
        "id": escalation.id,
        "number": notice_number(escalation),
        "year": local(escalation.opened_at).year,
        "department": escalation.department.name,
        "task_code": task.code,
        "task_title": task.title,
        "task_excerpt": _excerpt(task.text or task.title, task.title),
        "period_label": period.label,
        "period_key": period.key,
        "what": what,
        "role": role,
        "deadline": deadline,
        "deadline_text": cn_date(deadline),
        "days_late": days_late,
        "cause": cause,
        "cause_key": escalation.cause,
        "return_reason": return_reason,
        "body": body,
        "request": f"请于收到本通知后 {RESPONSE_WORKDAYS} 个工作日内报送并说明原因。",
        "office_name": office_name(),
        "date": issued,
        "date_text": cn_date(issued),
        "opened_at": escalation.opened_at,
        "status": escalation.status,
        "closed": not escalation.is_open,
        "close_label": close_label(escalation) if not escalation.is_open else "",
        "filename": f"督办通知单-{escalation.department.name}-{task.code}-{period.key}.pdf",
    }
