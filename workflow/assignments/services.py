"""Publishing a plan and the assignment transitions: 签收 (acknowledge), 申请调整 (ask for an adjustment),
and the office's decision. Each transition: permission → state → change → audit → notifications, one commit."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select

from models import (
    ACTIVE_ASSIGNMENT,
    AdjustmentRequest,
    AdjustmentStatus,
    Assignment,
    AssignmentRole,
    AssignmentStatus,
    Contribution,
    ContributionStatus,
    Department,
    Period,
    Plan,
    PlanStatus,
    Report,
    ReportStatus,
    Task,
    User,
)
from models.audit import record
from workflow import notify
from workflow.clock import local
from workflow.domain import Conflict, ValidationFailed, require
from workflow.extensions import db
from workflow.scheduling.calendar import office_calendar
from workflow.scheduling.periods import (
    DEFAULT_DEADLINE_WORKDAYS,
    Cadence,
    PeriodError,
    generate_periods,
    period_for,
)
from workflow.scheduling.workdays import WorkdayCalendar


def publish_plan(plan: Plan, *, actor: User | None, now: datetime, cadence: str = Cadence.QUARTERLY,
                 first_period: str | None = None, deadline_workdays: int = DEFAULT_DEADLINE_WORKDAYS,
                 calendar: WorkdayCalendar | None = None) -> list[Period]:
    """Send the assignments out and create the reporting periods with their working-day deadlines.

    `actor` None means the operations CLI. Periods run from `first_period` (default: the current one)
    to the end of the plan's last year.
    """
    require(actor is None or actor.is_reviewer, "只有领导小组办公室可以发布方案。")
    if plan.status == PlanStatus.PUBLISHED:
        raise Conflict(f"方案 #{plan.id} 已于 {local(plan.published_at):%Y-%m-%d} 发布，不能重复发布。")
    today = local(now).date()
    try:
        first = first_period or period_for(cadence, today)
        last_year = max(plan.valid_to or 0, int(first[:4]))
        specs = generate_periods(cadence, first, date(last_year, 12, 31), deadline_workdays=deadline_workdays,
                                 calendar=calendar or office_calendar())
    except PeriodError as exc:
        raise ValidationFailed({"first_period": str(exc)}, str(exc)) from exc
    periods = [Period(plan=plan, key=s.key, label=s.label, start=s.start, end=s.end, deadline=s.deadline,
                      computed_deadline=s.deadline) for s in specs]
    db.session.add_all(periods)
    plan.status, plan.cadence, plan.deadline_workdays, plan.published_at = (
        PlanStatus.PUBLISHED, str(Cadence(cadence)), deadline_workdays, now)
    counts: dict[int, dict[str, int]] = {}
    for task in plan.tasks:
        for a in task.assignments:
            if a.status == AssignmentStatus.DRAFT:
                a.status = AssignmentStatus.PENDING
                counts.setdefault(a.department_id, {"lead": 0, "co": 0})[a.role] += 1
    db.session.flush()
    for dept_id, n in counts.items():
        for user in notify.department_users(dept_id):
            notify.queue(user, kind="assignment.published", key=f"publish:p{plan.id}", now=now,
                         subject=f"《{plan.title}》任务已下达：牵头 {n['lead']} 项，配合 {n['co']} 项",
                         body="请登录督办系统逐项签收；如任务不属于本单位职责，可申请调整。", link="/assignments/")
    record("plan.publish", plan, actor=actor, now=now, from_state=PlanStatus.IMPORTED, to_state=PlanStatus.PUBLISHED,
           data={"cadence": plan.cadence, "first_period": first, "periods": len(periods)})
    open_due_periods(plan, now=now)
    db.session.commit()
    return periods


def open_due_periods(plan: Plan, *, now: datetime) -> int:
    """Create the reports and contributions of every period that has started; safe to call often.

    Returns how many periods were opened. The caller commits.
    """
    today = local(now).date()
    due = db.session.scalars(
        select(Period).where(Period.plan_id == plan.id, Period.opened.is_(False), Period.start <= today)
        .order_by(Period.start)
    ).all()
    if not due:
        return 0
    assignments = db.session.scalars(
        select(Assignment).join(Task).where(Task.plan_id == plan.id,
                                            Assignment.status.in_(ACTIVE_ASSIGNMENT))
        .order_by(Assignment.id)  # report ids in a set order: PostgreSQL's heap order moves as rows are updated
    ).all()
    for period in due:
        for a in assignments:
            model = Report if a.role == AssignmentRole.LEAD else Contribution
            db.session.add(model(task_id=a.task_id, period=period, department_id=a.department_id, updated_at=now))
        period.opened = True
    db.session.flush()
    return len(due)




def open_all_due_periods(*, now: datetime) -> int:
    """Open due periods of every published plan (the scheduler and list pages call this)."""
    opened = 0
    for plan in db.session.scalars(select(Plan).where(Plan.status == PlanStatus.PUBLISHED)):
        opened += open_due_periods(plan, now=now)
    if opened:
        db.session.commit()
    return opened


def _check_version(obj, expected: int | None) -> None:
    if expected is not None and expected != obj.version:
        raise Conflict("该记录已被他人修改，请刷新后再操作。", current_version=obj.version)


def acknowledge(assignment: Assignment, *, actor: User, now: datetime, version: int | None = None) -> Assignment:
    require(actor.is_liaison_of(assignment.department_id), "只有本单位联络员可以签收。")
    _check_version(assignment, version)
    if assignment.status != AssignmentStatus.PENDING:
        raise Conflict(f"当前状态（{assignment.status}）不能签收。", current_version=assignment.version)
    assignment.status, assignment.acknowledged_at = AssignmentStatus.ACKNOWLEDGED, now
    record("assignment.acknowledge", assignment, actor=actor, now=now,
           from_state=AssignmentStatus.PENDING, to_state=AssignmentStatus.ACKNOWLEDGED)
    db.session.commit()
    return assignment


def request_adjustment(assignment: Assignment, *, reason: str, proposed_department: str, actor: User,
                       now: datetime, version: int | None = None) -> AdjustmentRequest:
    require(actor.is_liaison_of(assignment.department_id), "只有本单位联络员可以申请调整。")
    _check_version(assignment, version)
    if assignment.status != AssignmentStatus.PENDING:
        raise Conflict(f"当前状态（{assignment.status}）不能申请调整。", current_version=assignment.version)
    errors = {}
    reason = (reason or "").strip()
    proposed_name = (proposed_department or "").strip()
    if not reason:
        errors["reason"] = "请说明申请调整的理由。"
    proposed = Department.lookup(proposed_name) if proposed_name else None
    if not proposed_name:
        errors["proposed_department"] = "请填写建议承担的单位。"
    elif proposed is None:
        errors["proposed_department"] = f"没有名为“{proposed_name}”的单位。"
    elif proposed.id == assignment.department_id:
        errors["proposed_department"] = "建议单位不能是本单位。"
    if errors:
        raise ValidationFailed(errors)
    request = AdjustmentRequest(assignment=assignment, reason=reason, proposed_department=proposed,
                                proposed_name=proposed.name, requested_at=now, requested_by_id=actor.id)
    db.session.add(request)
    assignment.status = AssignmentStatus.ADJUSTMENT
    db.session.flush()
    record("assignment.request_adjustment", assignment, actor=actor, now=now, comment=reason,
           from_state=AssignmentStatus.PENDING, to_state=AssignmentStatus.ADJUSTMENT,
           data={"proposed_department": proposed.name})
    for user in notify.office_users():
        notify.queue(user, kind="assignment.adjustment", key=f"adjust:r{request.id}", now=now,
                     subject=f"{assignment.department.name}申请调整任务 {assignment.task.code}",
                     body=f"理由：{reason}\n建议由{proposed.name}承担。", link="/assignments/adjustments")
    db.session.commit()
    return request


def decide_adjustment(request: AdjustmentRequest, *, accept: bool, reason: str, actor: User,
                      now: datetime) -> AdjustmentRequest:
    """Accept: the task moves to the proposed department (the old assignment stays as history); reject: back."""
    require(actor.is_reviewer, "只有领导小组办公室可以处理调整申请。")
    if request.status != AdjustmentStatus.PENDING:
        raise Conflict("该申请已处理。")
    reason = (reason or "").strip()
    if not accept and not reason:
        raise ValidationFailed({"reason": "驳回申请时必须说明理由。"})
    old = request.assignment
    request.status = AdjustmentStatus.ACCEPTED if accept else AdjustmentStatus.REJECTED
    request.decided_at, request.decided_by_id, request.decision_reason = now, actor.id, reason
    if accept:
        new = _transfer(old, request.proposed_department, now=now)
        record("assignment.transfer", old, actor=actor, now=now, comment=reason, from_state=AssignmentStatus.ADJUSTMENT,
               to_state=AssignmentStatus.TRANSFERRED, data={"to_department": new.department.name})
    else:
        old.status = AssignmentStatus.PENDING
        record("assignment.adjustment_rejected", old, actor=actor, now=now, comment=reason,
               from_state=AssignmentStatus.ADJUSTMENT, to_state=AssignmentStatus.PENDING)
    verdict = "已同意" if accept else "未同意"
    for user in notify.department_users(old.department_id):
        notify.queue(user, kind="assignment.adjustment_decided", key=f"adjust-decided:r{request.id}", now=now,
                     subject=f"任务 {old.task.code} 的调整申请{verdict}", body=reason, link="/assignments/")
    db.session.commit()
    return request


def _transfer(old: Assignment, department: Department, *, now: datetime) -> Assignment:
    existing = db.session.scalar(select(Assignment).where(Assignment.task_id == old.task_id,
                                                          Assignment.department_id == department.id))
    if existing is not None:
        raise Conflict(f"{department.name}已在任务 {old.task.code} 的责任单位中，请在方案中直接调整分工。")
    new = Assignment(task_id=old.task_id, department=department, role=old.role, status=AssignmentStatus.PENDING)
    db.session.add(new)
    db.session.flush()
    old.status, old.transferred_to_id = AssignmentStatus.TRANSFERRED, new.id
    # Unsubmitted work of open periods follows the task to its new department; submitted work stays as history.
    model, open_states = ((Report, (ReportStatus.DRAFT,)) if old.role == AssignmentRole.LEAD
                          else (Contribution, (ContributionStatus.DRAFT,)))
    for row in db.session.scalars(select(model).where(model.task_id == old.task_id,
                                                      model.department_id == old.department_id,
                                                      model.status.in_(open_states))):
        if getattr(row, "first_submitted_at", None) is None:
            row.department_id, row.updated_at = department.id, now
    for user in notify.department_users(department):
        notify.queue(user, kind="assignment.published", key=f"transfer:a{new.id}", now=now,
                     subject=f"新任务已转交本单位：{old.task.code} {old.task.title}",
                     body="请登录督办系统签收。", link="/assignments/")
    return new


def move_deadline(period: Period, new_deadline: date, *, reason: str, actor: User, now: datetime) -> Period:
    """The office moves one period's deadline; the reason is kept on the period and in the audit trail."""
    require(actor.is_reviewer, "只有领导小组办公室可以调整报送期限。")
    reason = (reason or "").strip()
    errors = {}
    if not reason:
        errors["reason"] = "调整期限必须说明理由。"
    if new_deadline <= period.end:
        errors["deadline"] = f"新期限应晚于周期结束日 {period.end:%Y-%m-%d}。"
    if errors:
        raise ValidationFailed(errors)
    old = period.deadline
    period.deadline, period.deadline_reason = new_deadline, reason
    record("period.move_deadline", period, actor=actor, now=now, comment=reason,
           from_state=old.isoformat(), to_state=new_deadline.isoformat())
    db.session.commit()
    return period
