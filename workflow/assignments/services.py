"""Publishing a plan and the assignment transitions: 签收 (acknowledge), 申请调整 (ask for an adjustment),
and the office's decision. Each transition: permission → state → change → audit → notifications, one commit."""
from __future__ import annotations

from datetime import date, datetime

from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite

from models import (
    ACTIVE_ASSIGNMENT,
    AdjustmentRequest,
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
    TaskStatus,
    User,
)
from models.audit import record
from workflow import notify
from workflow.calendar.office import office_calendar
from workflow.calendar.periods import (
    DEFAULT_DEADLINE_WORKDAYS,
    Cadence,
    PeriodError,
    generate_periods,
    period_for,
)
from workflow.calendar.workdays import WorkdayCalendar
from workflow.clock import local
from workflow.domain import Conflict, ValidationFailed, require
from workflow.extensions import db
from workflow.transitions import apply_transition, check, committed


def publish_plan(plan: Plan, *, actor: User | None, now: datetime, cadence: str = Cadence.QUARTERLY,
                 first_period: str | None = None, deadline_workdays: int = DEFAULT_DEADLINE_WORKDAYS,
                 calendar: WorkdayCalendar | None = None) -> list[Period]:
    """Send the assignments out and create the reporting periods with their working-day deadlines.

    `actor` None means the operations CLI. Periods run from `first_period` (default: the current one)
    to the end of the plan's last year.
    """
    check(plan, "publish", actor=actor)
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
    with committed(plan):
        counts = send_out_drafts(plan, actor=actor, now=now)
        apply_transition(plan, "publish", actor=actor, now=now, commit=False,
                         changes={"cadence": str(Cadence(cadence)), "deadline_workdays": deadline_workdays,
                                  "published_at": now},
                         data={"cadence": str(Cadence(cadence)), "first_period": first, "periods": len(periods)},
                         notify=lambda: tell_assigned(plan, counts, key=f"publish:p{plan.id}", now=now))
        open_due_periods(plan, now=now)
    return periods


def send_out_drafts(plan: Plan, *, actor: User | None, now: datetime) -> dict[int, dict[str, int]]:
    """Publish every draft assignment of the plan, collectives replaced by their members: at publish, and for
    the tasks and departments a revision adds. The caller commits; returns {department id: {role: count}}."""
    _expand_collectives(plan, actor=actor, now=now)
    counts: dict[int, dict[str, int]] = {}
    for task in plan.tasks:
        for a in task.assignments:
            if a.status == AssignmentStatus.DRAFT:
                apply_transition(a, "publish", actor=actor, now=now, commit=False)
                counts.setdefault(a.department_id, {"lead": 0, "co": 0})[a.role] += 1
    return counts


def draft_collectives(plan: Plan) -> list[Department]:
    """The collective assignees (各区、县级市) of a plan not yet published, for the publish page to show what
    becomes of each: its members take its place, or, with none linked, it stays one assignee."""
    found = {a.department.id: a.department for t in plan.tasks for a in t.assignments
             if a.status == AssignmentStatus.DRAFT and a.department.is_collective}
    return sorted(found.values(), key=lambda d: d.name)


def _expand_collectives(plan: Plan, *, actor: User | None, now: datetime) -> None:
    """A collective assignee (各区、县级市) whose member units the office linked is nobody to report: each
    member takes its place with the same role, unless the task already names that unit; the substitution is
    audited on the task. One without members stays a single assignee (its own liaison reports for all)."""
    for task in plan.tasks:
        assigned = {a.department_id for a in task.assignments}
        for collective in [a for a in task.assignments if a.status == AssignmentStatus.DRAFT
                           and a.department.is_collective and a.department.members]:
            added = [m for m in collective.department.members if m.id not in assigned]
            for member in added:
                task.assignments.append(Assignment(department=member, role=collective.role,
                                                   implied=collective.implied))
                assigned.add(member.id)
            task.assignments.remove(collective)
            db.session.flush()
            record("collective_expanded", task, actor=actor, now=now,
                   data={"collective": collective.department.name, "role": collective.role,
                         "members": [m.name for m in added]})


def tell_assigned(plan: Plan, counts: dict[int, dict[str, int]], *, key: str, now: datetime) -> None:
    """Tell each department what it now leads and co-operates on (at publish; after a revision, what it got)."""
    for dept_id, n in counts.items():
        for user in notify.department_users(dept_id):
            notify.queue(user, kind="assignment.published", key=key, now=now,
                         subject=f"《{plan.title}》任务已下达：牵头 {n['lead']} 项，配合 {n['co']} 项",
                         body="请登录督办系统逐项签收；如任务不属于本单位职责，可申请调整。", link="/assignments/")


def open_due_periods(plan: Plan, *, now: datetime) -> int:
    """Create the reports and contributions of every period of `plan` that has started. The caller commits.

    Returns how many periods this call marked opened."""
    return _open(Period.plan_id == plan.id, now=now)


def open_started_periods(*, now: datetime) -> int:
    """Open the started periods of every published plan in a fixed number of statements (one SELECT when there
    are none; else the INSERT ... ON CONFLICT DO NOTHING batches and one UPDATE). The caller commits."""
    return _open(Plan.status == PlanStatus.PUBLISHED, now=now) or 0


def open_all_due_periods(*, now: datetime) -> int:
    """Open the started periods of every published plan and commit: for a read that must see a period that
    began since the scheduler's last pass. It writes only then, and only idempotently; otherwise it is one
    SELECT (periods open in the scheduler's pass and at publish)."""
    opened = _open(Plan.status == PlanStatus.PUBLISHED, now=now)
    if opened is not None:
        db.session.commit()
    return opened or 0


def open_current_work(plan: Plan, tasks: list[Task], *, now: datetime) -> None:
    """The running period's reports and contributions for the active assignments of `tasks` that have none yet:
    a task or a department a revision added joins the cycle at the current period (periods already over stay as they were).
    Idempotent (ON CONFLICT DO NOTHING); the caller commits."""
    today = local(now).date()
    periods = db.session.scalars(select(Period.id).where(Period.plan_id == plan.id, Period.opened.is_(True),
                                                          Period.start <= today, Period.end >= today)).all()
    rows: dict[type, list[dict]] = {Report: [], Contribution: []}
    for task in tasks:
        for a in task.assignments:
            if a.is_active and not task.is_closed:
                for period_id in periods:
                    rows[Report if a.role == AssignmentRole.LEAD else Contribution].append(
                        {"task_id": task.id, "period_id": period_id, "department_id": a.department_id,
                         "updated_at": now})
    for model, values in rows.items():
        if values:
            db.session.execute(_insert_missing(model), values)


def _open(*which, now: datetime) -> int | None:
    """Open the started, unopened periods matching `which`; None when there were none (nothing written).

    Safe against itself: the scheduler's pass, a publish and concurrent reads may all open the same period,
    so rows are inserted with ON CONFLICT DO NOTHING on the (task, period, department) key and a period is
    marked opened only where still unmarked; all writers go in the same order, so they wait, never deadlock.
    """
    today = local(now).date()
    due = db.session.execute(
        select(Period.id, Period.plan_id).join(Plan)
        .where(*which, Period.opened.is_(False), Period.start <= today).order_by(Period.start, Period.id)
    ).all()
    if not due:
        return None
    assignments = db.session.execute(
        select(Task.plan_id, Assignment.task_id, Assignment.department_id, Assignment.role).join(Task)
        .where(Task.plan_id.in_({plan_id for _, plan_id in due}), Task.status == TaskStatus.OPEN,
               Assignment.status.in_(ACTIVE_ASSIGNMENT))
        .order_by(Assignment.id)  # report ids in a set order: PostgreSQL's heap order moves as rows are updated
    ).all()
    rows: dict[type, list[dict]] = {Report: [], Contribution: []}
    for period_id, plan_id in due:
        for a_plan, task_id, department_id, role in assignments:
            if a_plan == plan_id:
                rows[Report if role == AssignmentRole.LEAD else Contribution].append(
                    {"task_id": task_id, "period_id": period_id, "department_id": department_id, "updated_at": now})
    for model, values in rows.items():
        if values:
            db.session.execute(_insert_missing(model), values)
    marked = db.session.execute(
        update(Period).where(Period.id.in_([period_id for period_id, _ in due]), Period.opened.is_(False))
        .values(opened=True).execution_options(synchronize_session="fetch"))
    return marked.rowcount


def _insert_missing(model: type[Report] | type[Contribution]):
    """INSERT ... ON CONFLICT (task, period, department) DO NOTHING, in the dialect of the database in use."""
    dialect = db.session.get_bind().dialect.name
    insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[dialect]
    return insert(model).on_conflict_do_nothing(index_elements=["task_id", "period_id", "department_id"])


def acknowledge(assignment: Assignment, *, actor: User, now: datetime, version: int | None = None) -> Assignment:
    apply_transition(assignment, "acknowledge", actor=actor, now=now, version=version,
                     changes={"acknowledged_at": now})
    return assignment


def request_adjustment(assignment: Assignment, *, reason: str, proposed_department: str, actor: User,
                       now: datetime, version: int | None = None) -> AdjustmentRequest:
    check(assignment, "request_adjustment", actor=actor, version=version)
    errors = {}
    reason = (reason or "").strip()
    proposed_name = (proposed_department or "").strip()
    if not reason:
        errors["reason"] = _("请说明申请调整的理由。")
    proposed = Department.lookup(proposed_name) if proposed_name else None
    if not proposed_name:
        errors["proposed_department"] = _("请填写建议承担的单位。")
    elif proposed is None:
        errors["proposed_department"] = _("没有名为“%(name)s”的单位。", name=proposed_name)
    elif proposed.id == assignment.department_id:
        errors["proposed_department"] = _("建议单位不能是本单位。")
    if errors:
        raise ValidationFailed(errors)
    request = AdjustmentRequest(assignment=assignment, reason=reason, proposed_department=proposed,
                                proposed_name=proposed.name, requested_at=now, requested_by_id=actor.id)
    db.session.add(request)
    db.session.flush()

    def tell_office() -> None:
        for user in notify.office_users():
            notify.queue(user, kind="assignment.adjustment", key=f"adjust:r{request.id}", now=now,
                         subject=f"{assignment.department.name}申请调整任务 {assignment.task.code}",
                         body=f"理由：{reason}\n建议由{proposed.name}承担。", link="/assignments/adjustments")
    apply_transition(assignment, "request_adjustment", actor=actor, now=now, comment=reason,
                     data={"proposed_department": proposed.name}, notify=tell_office)
    return request


def decide_adjustment(request: AdjustmentRequest, *, accept: bool, reason: str, actor: User,
                      now: datetime) -> AdjustmentRequest:
    """Accept: the task moves to the proposed department (the old assignment stays as history); reject: back."""
    decision = "accept" if accept else "reject"
    check(request, decision, actor=actor)
    reason = (reason or "").strip()
    if not accept and not reason:
        raise ValidationFailed({"reason": _("驳回申请时必须说明理由。")})
    old = request.assignment
    verdict = "已同意" if accept else "未同意"

    def tell_department() -> None:
        for user in notify.department_users(old.department_id):
            notify.queue(user, kind="assignment.adjustment_decided", key=f"adjust-decided:r{request.id}", now=now,
                         subject=f"任务 {old.task.code} 的调整申请{verdict}", body=reason, link="/assignments/")
    with committed(old):
        apply_transition(request, decision, actor=actor, now=now, comment=reason, commit=False,
                         changes={"decided_at": now, "decided_by_id": actor.id, "decision_reason": reason},
                         notify=tell_department)
        if accept:
            _transfer(old, request.proposed_department, actor=actor, now=now, reason=reason)
        else:
            apply_transition(old, "reject_adjustment", actor=actor, now=now, comment=reason, commit=False)
    return request


def _transfer(old: Assignment, department: Department, *, actor: User, now: datetime, reason: str) -> Assignment:
    existing = db.session.scalar(select(Assignment).where(Assignment.task_id == old.task_id,
                                                          Assignment.department_id == department.id))
    if existing is not None:
        raise Conflict(_("%(name)s已在任务 %(code)s 的责任单位中，请在方案中直接调整分工。", name=department.name,
                         code=old.task.code))
    new = Assignment(task_id=old.task_id, department=department, role=old.role, status=AssignmentStatus.PENDING)
    db.session.add(new)
    db.session.flush()
    apply_transition(old, "transfer", actor=actor, now=now, comment=reason, commit=False,
                     changes={"transferred_to_id": new.id}, data={"to_department": department.name})
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
    require(actor.is_reviewer, _("只有领导小组办公室可以调整报送期限。"))
    reason = (reason or "").strip()
    errors = {}
    if not reason:
        errors["reason"] = _("调整期限必须说明理由。")
    if new_deadline <= period.end:
        errors["deadline"] = _("新期限应晚于周期结束日 %(end)s。", end=f"{period.end:%Y-%m-%d}")
    if errors:
        raise ValidationFailed(errors)
    old = period.deadline
    period.deadline, period.deadline_reason = new_deadline, reason
    record("period.move_deadline", period, actor=actor, now=now, comment=reason,
           from_state=old.isoformat(), to_state=new_deadline.isoformat())
    db.session.commit()
    return period
