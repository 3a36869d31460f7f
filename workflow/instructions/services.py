"""Leaders' instructions (领导批示): a leader (or the office on a leader's behalf) writes one on a task, a report or
an escalation for one of the task's departments, with the date it must be answered by; the department answers
(办理情况) and the answer goes back to the leader, who closes it once read (the office may close it too).

Unanswered instructions climb the reminders' ladder (workflow.scheduling.reminders: liaison, head, office)
against their due date. Every step is audited; notifications go through workflow.notify (inbox and digest
mail) under unique keys.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask_babel import gettext as _
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import selectinload

from models import (
    Department,
    Escalation,
    Instruction,
    InstructionStatus,
    PlanStatus,
    Report,
    Role,
    Task,
    User,
)
from models.audit import record
from workflow import notify
from workflow.calendar.lateness import ON_TIME, Lateness, lateness
from workflow.calendar.workdays import WorkdayCalendar
from workflow.clock import local
from workflow.domain import Conflict, ValidationFailed, require
from workflow.extensions import db
from workflow.pagination import paginate
from workflow.transitions import apply_transition, check, committed

TEXT_LIMIT = 2000
ANSWER_LIMIT = 4000
MAX_DUE_DAYS = 366    # an instruction is answered within a year, or it is a task, not an instruction
TABS = ("all", InstructionStatus.OPEN.value, InstructionStatus.ANSWERED.value, InstructionStatus.CLOSED.value)


# -- what an instruction is written on ---------------------------------------------------------------------

@dataclass(frozen=True)
class Subject:
    """A task, a report or an escalation, with the departments an instruction on it may be addressed to."""

    task: Task
    report: Report | None = None
    escalation: Escalation | None = None

    @property
    def kind(self) -> str:
        if self.escalation is not None:
            return "escalation"
        return "report" if self.report is not None else "task"

    @property
    def own_department(self) -> Department | None:
        """The department the report or escalation is about (the one an instruction on it usually goes to)."""
        holder = self.escalation or self.report
        return holder.department if holder is not None else None

    @property
    def departments(self) -> list[Department]:
        """The subject's own department first, then the task's leads and co-departments."""
        found = [self.own_department] if self.own_department is not None else []
        for dept in self.task.leads + self.task.co + self.task.implied:
            if dept not in found:
                found.append(dept)
        return found

    @property
    def period(self):
        holder = self.escalation or self.report
        return holder.period if holder is not None else None


def subject_for(*, task_id: int | None = None, report_id: int | None = None,
                escalation_id: int | None = None) -> Subject | None:
    """The subject named by one of the ids (an escalation's or a report's task comes with it); None if missing."""
    if escalation_id is not None:
        escalation = db.session.get(Escalation, escalation_id)
        return Subject(escalation.task, escalation.report, escalation) if escalation else None
    if report_id is not None:
        report = db.session.get(Report, report_id)
        return Subject(report.task, report) if report else None
    if task_id is not None:
        task = db.session.get(Task, task_id)
        return Subject(task) if task else None
    return None


def leaders() -> list[User]:
    """Whom the office may record an instruction for."""
    return list(db.session.scalars(select(User).where(User.role == Role.LEADER, User.active.is_(True))
                                   .order_by(User.display_name, User.username)))


# -- writing, answering, closing ----------------------------------------------------------------------------

def _limited(text: str | None, limit: int, name: str, errors: dict, *, missing: str) -> str:
    text = (text or "").strip()
    if not text:
        errors[name] = missing
    elif len(text) > limit:
        errors[name] = _("不能超过 %(limit)s 字（当前 %(n)s 字）。", limit=limit, n=len(text))
    return text


def create_instruction(subject: Subject, *, text: str, due_date: date | None, department_id: int | None,
                       actor: User, now: datetime, leader_id: int | None = None) -> Instruction:
    """Write an instruction and send it to the department (inbox and mail), in one transaction.

    A leader writes as themself; the office names the leader whose written instruction it records. The due
    date is required: from today to a year ahead. The department must have a part in the task."""
    require(actor.can_write_instructions(), _("只有领导或领导小组办公室可以作出批示。"))
    if subject.task.plan.status != PlanStatus.PUBLISHED:
        raise Conflict(_("方案尚未发布，不能对其任务作出批示。"))
    errors: dict[str, str] = {}
    text = _limited(text, TEXT_LIMIT, "text", errors, missing=_("请填写批示内容。"))
    today = local(now).date()
    if due_date is None:
        errors["due_date"] = _("请填写办理期限。")
    elif due_date < today:
        errors["due_date"] = _("办理期限不能早于今天（%(today)s）。", today=f"{today:%Y-%m-%d}")
    elif due_date > today + timedelta(days=MAX_DUE_DAYS):
        errors["due_date"] = _("办理期限不能晚于一年以后（%(last)s）。",
                               last=f"{today + timedelta(days=MAX_DUE_DAYS):%Y-%m-%d}")
    department = next((d for d in subject.departments if d.id == department_id), None)
    if department is None:
        errors["department"] = _("请选择承办单位（须为该任务的责任单位）。")
    leader = actor if actor.role == Role.LEADER else db.session.get(User, leader_id) if leader_id else None
    if leader is None or leader.role != Role.LEADER or not leader.active:
        errors["leader"] = _("请选择作出批示的领导。")
    if errors:
        raise ValidationFailed(errors)
    instruction = Instruction(
        task=subject.task, report=subject.report, escalation=subject.escalation, department=department,
        leader=leader, entered_by=actor, text=text, due_date=due_date, status=InstructionStatus.OPEN,
        created_at=now)
    with committed(instruction):
        db.session.add(instruction)
        db.session.flush()
        record("instruction.create", instruction, actor=actor, now=now, comment=text,
               to_state=InstructionStatus.OPEN,
               data={"subject": subject.kind, "department": department.name, "due_date": due_date.isoformat(),
                     "leader": leader.username})
        _tell_department(instruction, now=now)
    return instruction


def _data(instruction: Instruction, **extra) -> dict:
    """What a digest shows of an instruction (workflow.mail.digests reads these keys)."""
    period = instruction.report.period if instruction.report is not None else None
    return {"department": instruction.department.name, "task": instruction.task.code,
            "task_title": instruction.task.title, "period_label": period.label if period else "",
            "deadline": instruction.due_date.isoformat(), "days_late": 0, "what": "instruction", **extra}


def _tell_department(instruction: Instruction, *, now: datetime) -> None:
    leader = instruction.leader.display
    for user in notify.department_users(instruction.department_id, roles=(Role.LIAISON, Role.DEPT_HEAD)):
        notify.queue(user, kind="instruction", key=f"instruction:i{instruction.id}", now=now,
                     subject=f"【领导批示】{leader}：{instruction.text[:60]}",
                     body=f"请于 {instruction.due_date:%Y-%m-%d} 前报送办理情况。",
                     link=f"/instructions/{instruction.id}", data=_data(instruction))


def answer_instruction(instruction: Instruction, answer: str, *, actor: User, now: datetime,
                       version=None) -> Instruction:
    """The department's 办理情况; it goes back to the leader (and to the office user who recorded it)."""
    check(instruction, "answer", actor=actor, version=version)
    errors: dict[str, str] = {}
    answer = _limited(answer, ANSWER_LIMIT, "answer", errors, missing=_("请填写办理情况。"))
    if errors:
        raise ValidationFailed(errors)

    def tell_leader() -> None:
        for user in dict.fromkeys((instruction.leader, instruction.entered_by)):
            notify.queue(user, kind="instruction.answered", key=f"instruction-answered:i{instruction.id}", now=now,
                         subject=f"【批示反馈】{instruction.department.name}已报送办理情况：{instruction.text[:40]}",
                         body=answer[:200], link=f"/instructions/{instruction.id}", data=_data(instruction))
    apply_transition(instruction, "answer", actor=actor, now=now, comment=answer,
                     changes={"answer": answer, "answered_at": now, "answered_by_id": actor.id},
                     notify=tell_leader)
    return instruction


def close_instruction(instruction: Instruction, comment: str = "", *, actor: User, now: datetime,
                      version=None) -> Instruction:
    """The leader (or the office) has read the answer: the instruction is done (办结); the department is told."""
    check(instruction, "close", actor=actor, version=version)
    comment = (comment or "").strip()
    if len(comment) > TEXT_LIMIT:
        raise ValidationFailed({"comment": _("不能超过 %(limit)s 字（当前 %(n)s 字）。", limit=TEXT_LIMIT,
                                             n=len(comment))})

    def tell_department() -> None:
        for user in notify.department_users(instruction.department_id, roles=(Role.LIAISON, Role.DEPT_HEAD)):
            notify.queue(user, kind="instruction.closed", key=f"instruction-closed:i{instruction.id}", now=now,
                         subject=f"【批示办结】{instruction.task.code} {instruction.text[:40]}",
                         body=comment, link=f"/instructions/{instruction.id}", data=_data(instruction))
    apply_transition(instruction, "close", actor=actor, now=now, comment=comment,
                     changes={"closed_at": now, "closed_by_id": actor.id, "close_comment": comment},
                     notify=tell_department)
    return instruction


# -- reading -----------------------------------------------------------------------------------------------

def instruction_lateness(instruction: Instruction, today: date, calendar: WorkdayCalendar) -> Lateness:
    """Working days past the due date: up to today while unanswered, else up to the day it was answered."""
    if instruction.is_open:
        return lateness(instruction.due_date, today, calendar)
    if instruction.answered_at is None:
        return ON_TIME
    return lateness(instruction.due_date, local(instruction.answered_at).date(), calendar)


def _loaded(q: Select) -> Select:
    return q.options(selectinload(Instruction.task), selectinload(Instruction.department),
                     selectinload(Instruction.leader), selectinload(Instruction.entered_by),
                     selectinload(Instruction.answered_by),
                     selectinload(Instruction.report).selectinload(Report.period),
                     selectinload(Instruction.escalation))


def _listed(user: User, *, tab: str, department_id: int | None) -> Select:
    q = select(Instruction).where(Instruction.visible_filter(user))
    if tab != "all":
        q = q.where(Instruction.status == tab)
    if department_id:
        q = q.where(Instruction.department_id == department_id)
    order = case((Instruction.status == InstructionStatus.OPEN, 0),
                 (Instruction.status == InstructionStatus.ANSWERED, 1), else_=2)
    return _loaded(q).order_by(order, Instruction.due_date, Instruction.id)


def instruction_page(user: User, *, tab: str = "all", department_id: int | None = None, page: int = 1,
                     per_page: int = 50) -> Pagination:
    """One page of the instructions the user may see: waiting for an answer first (soonest due first), then
    answered and waiting for the leader, then closed."""
    return paginate(_listed(user, tab=tab, department_id=department_id), page=page, per_page=per_page)


def instruction_counts(user: User, *, department_id: int | None = None) -> dict[str, int]:
    q = select(Instruction.status, func.count()).where(Instruction.visible_filter(user)).group_by(Instruction.status)
    if department_id:
        q = q.where(Instruction.department_id == department_id)
    counts = {tab: 0 for tab in TABS}
    for status, n in db.session.execute(q):
        counts[str(status)] = n
        counts["all"] += n
    return counts


def instruction_departments(user: User) -> list[Department]:
    """The departments that have instructions the user may see (the list's filter)."""
    ids = select(Instruction.department_id).where(Instruction.visible_filter(user)).distinct()
    return list(db.session.scalars(select(Department).where(Department.id.in_(ids)).order_by(Department.id)))


def instructions_on(*, user: User, task: Task | None = None, report: Report | None = None,
                    escalation: Escalation | None = None) -> list[Instruction]:
    """The instructions written on a task, a report (including those on its escalations) or an escalation
    that the user may see, oldest first."""
    q = select(Instruction).where(Instruction.visible_filter(user))
    if escalation is not None:
        q = q.where(Instruction.escalation_id == escalation.id)
    elif report is not None:
        q = q.where(Instruction.report_id == report.id)
    elif task is not None:
        q = q.where(Instruction.task_id == task.id)
    return list(db.session.scalars(_loaded(q).order_by(Instruction.created_at, Instruction.id)))
