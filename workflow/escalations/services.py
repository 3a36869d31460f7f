"""Escalations (督办): listing, closing by the office, what a 督办通知单 says and the department's 整改反馈.

The reminder pass (workflow.scheduling.reminders) opens escalations; workflow.escalations.effects closes them
when the work is submitted; this module is the office's side. Permission helpers live here until the model
grows methods for them.
"""
from __future__ import annotations

from datetime import date, datetime

from flask_babel import gettext as _
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import selectinload

from models import Department, Escalation, EscalationStatus, Notice, Period, Plan, Role, User
from workflow import notify
from workflow.calendar.lateness import lateness
from workflow.calendar.office import office_calendar
from workflow.calendar.workdays import WorkdayCalendar
from workflow.clock import local
from workflow.domain import ValidationFailed
from workflow.escalations.notices import deadline_of, notice_facts, notice_title, notice_wording
from workflow.extensions import db
from workflow.labels import label
from workflow.pagination import paginate
from workflow.scheduling.reminders import DEFAULT_RULES, rules_for
from workflow.transitions import apply_transition, check

NOTE_LIMIT = 2000
FEEDBACK_LIMIT = 4000


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
        selectinload(Escalation.notice),
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

def notice_number(escalation: Escalation) -> str:
    """督办〔2026〕第 N 号 once numbered (workflow.escalations.notices); '第 — 号' until the next pass numbers it."""
    if escalation.notice is not None:
        return notice_title(escalation.notice.year, escalation.notice.number)
    return notice_title(local(escalation.opened_at).year, None)


def subject_deadline(escalation: Escalation, calendar: WorkdayCalendar | None = None) -> date:
    """The deadline the days late count from, with the plan's grace for a returned report."""
    plan = db.session.get(Plan, escalation.plan_id)
    grace = rules_for(plan)["returned_grace_workdays"] if plan else DEFAULT_RULES["returned_grace_workdays"]
    return deadline_of(escalation, grace, calendar or office_calendar())


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


def escalation_notice(escalation: Escalation) -> dict:
    """Everything the 督办通知单 shows: its frozen facts (number, date, what was late and by how much on the day
    the escalation opened) and, beside them, the escalation's state and the department's 整改反馈.

    An escalation opened before notices were numbered has no snapshot until the next reminder pass: it shows
    the same facts computed now, marked provisional, with no number (reads never write)."""
    notice = escalation.notice
    if notice is not None:
        facts, number = notice.facts, notice_title(notice.year, notice.number)
    else:
        facts = notice_facts(escalation, deadline=subject_deadline(escalation), calendar=office_calendar())
        number = notice_title(facts["year"], None)
    task, period = escalation.task, escalation.period
    return {
        **facts,
        **notice_wording(facts),   # in the reader's language (a PDF renders under chinese())
        "id": escalation.id,
        "number": number,
        "provisional": notice is None,
        "deadline": date.fromisoformat(facts["deadline"]),
        "date": date.fromisoformat(facts["date"]),
        "opened_at": escalation.opened_at,
        "status": escalation.status,
        "closed": not escalation.is_open,
        "close_label": close_label(escalation) if not escalation.is_open else "",
        "filename": f"督办通知单-{escalation.department.name}-{task.code}-{period.key}.pdf",
    }


def give_feedback(notice: Notice, text: str, *, actor: User, now: datetime) -> Notice:
    """The department's written answer to its notice (整改反馈): once, by its head; audited, committed."""
    check(notice, "answer", actor=actor)
    text = (text or "").strip()
    if not text:
        raise ValidationFailed({"feedback": _("请填写整改反馈：原因、已采取的措施和完成时间。")})
    if len(text) > FEEDBACK_LIMIT:
        raise ValidationFailed({"feedback": _("整改反馈不能超过 %(limit)s 字（当前 %(n)s 字）。", limit=FEEDBACK_LIMIT,
                                              n=len(text))})
    escalation = notice.escalation

    def tell_office() -> None:
        for user in notify.office_users():
            notify.queue(user, kind="notice.feedback", key=f"notice-feedback:n{notice.id}", now=now,
                         subject=f"{escalation.department.name}已报送{notice.title}的整改反馈",
                         body=text[:200], link=f"/escalations/{escalation.id}/notice",
                         data={"department": escalation.department.name, "task": escalation.task.code,
                               "task_title": escalation.task.title, "period_label": escalation.period.label})
    apply_transition(notice, "answer", actor=actor, now=now, comment=text,
                     changes={"feedback": text, "feedback_at": now, "feedback_by_id": actor.id},
                     data={"escalation": escalation.id}, notify=tell_office)
    return notice
