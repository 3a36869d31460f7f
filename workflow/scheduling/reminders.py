"""The reminder and escalation rules: one pass looks at every unfinished report and contribution and queues
what is due now, at most once per item, level and recipient (the notification key guarantees it).

Stages, in working days on the office calendar (package data plus entered arrangements):
- due soon (N before the deadline) and due today: the liaison;
- overdue level 1 (1 late): the liaison; level 2 (3 late): the department head, copy to the liaison;
  level 3 (5 late): an escalation (督办) for the office, and mail to the office and the department head;
- returned and not resubmitted: the same ladder, counted from N working days after the return;
- submitted and not reviewed within N working days: the office;
- a task's own completion deadline (完成时限, read from the plan's text): its lead department's liaisons N
  working days before it; once passed with the task not closed (办结销号), its liaisons, head and the office, once;
- a leader's instruction (领导批示) not answered: the same ladder against its due date (level 3 is mail to the
  office and the department head, not an escalation: a 督办 is about a report or contribution).
A pass only queues on working days. After the scheduler was down, the first pass queues each item once at
its current level, never the levels it missed. Escalations close when their report is submitted. An escalation
opens with its 督办通知单 numbered and frozen (workflow.escalations.notices); one opened before notices existed
gets its notice at the next pass.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

from sqlalchemy import func, insert, or_, select, text, update
from sqlalchemy.orm import joinedload

from models import (
    Assignment,
    AssignmentRole,
    Contribution,
    ContributionStatus,
    Escalation,
    EscalationStatus,
    Instruction,
    InstructionStatus,
    Notification,
    Period,
    Plan,
    PlanStatus,
    Report,
    ReportStatus,
    Role,
    Substitute,
    Task,
    TaskStatus,
    User,
)
from workflow import notify
from workflow.assignments.services import open_started_periods
from workflow.calendar.lateness import days_late, lateness, resubmission_due, workdays_left
from workflow.calendar.office import office_calendar
from workflow.calendar.workdays import WorkdayCalendar
from workflow.clock import local
from workflow.escalations.effects import settle
from workflow.escalations.notices import deadline_of, freeze_notices
from workflow.extensions import db
from workflow.labels import chinese_label as _chinese_label
from workflow.scheduling.lock import advisory_key

DEFAULT_RULES = {
    "due_soon_workdays": 3,     # remind this many working days before the deadline
    "level1_late": 1,           # working days late for each overdue level
    "level2_late": 3,
    "level3_late": 5,
    "returned_grace_workdays": 3,
    "review_grace_workdays": 3,
    "task_due_soon_workdays": 10,   # remind the lead this many working days before a task's own 完成时限
}
INSTRUCTION = "instruction_"   # the kinds of an instruction's reminders: instruction_due_soon, ...
TASK_DUE_SOON, TASK_OVERDUE = "task_due_soon", "task_overdue"   # a task's own 完成时限 (Task.due)
REMINDER_KINDS = ("due_soon", "due_today", "overdue", "returned_overdue", "review_pending", "escalation",
                  f"{INSTRUCTION}due_soon", f"{INSTRUCTION}due_today", f"{INSTRUCTION}overdue",
                  TASK_DUE_SOON, TASK_OVERDUE)
REPORT_LINK = "/reports/"
LADDER_KINDS = ("overdue", "returned_overdue", "escalation")   # the kinds that carry a level (1–3)


# The Chinese names are the source strings, the same on every call: a pass names tens of thousands of items, and
# each uncached call switches Babel's locale.
chinese_label = lru_cache(maxsize=None)(_chinese_label)


def rules_for(plan: Plan) -> dict:
    return {**DEFAULT_RULES, **(plan.reminder_rules or {})}


@dataclass
class Subject:
    """A report, contribution or leader's instruction as the rules see it."""

    row: Report | Contribution | Instruction
    kind: str  # 'report', 'contribution' or 'instruction'

    @property
    def key(self) -> str:
        return f"{self.kind[0]}{self.row.id}"

    @property
    def label(self) -> str:
        return chinese_label("item_kind", self.kind)

    @property
    def link(self) -> str:
        return {"report": f"{REPORT_LINK}{self.row.id}", "contribution": f"/reports/contributions/{self.row.id}",
                "instruction": f"/instructions/{self.row.id}"}[self.kind]

    @property
    def period(self) -> Period | None:
        """An instruction on a task has none; one on a report has its report's."""
        if self.kind == "instruction":
            return self.row.report.period if self.row.report is not None else None
        return self.row.period

    @property
    def what(self) -> str:
        t = self.row.task
        return f"{t.code} {t.title} {self.period.label if self.period else ''}{self.label}"

    @property
    def prefix(self) -> str:
        """Of its notification kinds: an instruction's are its own, so run-once and the inbox tell them apart."""
        return INSTRUCTION if self.kind == "instruction" else ""


class Pass:
    """One run of the rules at one moment; collects what it queued for the caller's report.

    Rows are loaded with their many-to-one neighbours joined (joinedload), not selectinload, whose IN batches
    of 500 would add a statement per 500 items."""

    def __init__(self, now: datetime, calendar: WorkdayCalendar):
        self.now, self.today, self.cal = now, local(now).date(), calendar
        self.result: dict[str, list] = {"queued": [], "escalations_opened": [], "escalations_closed": []}
        # What the rules want sent, by full key; written at the end in one INSERT ... ON CONFLICT DO NOTHING, so
        # the pass never loads the keys queued before (the unique key refuses a second copy).
        self.pending: dict[str, tuple[dict, dict]] = {}
        # The escalations this pass opens (their columns, with their deadlines), inserted together by write().
        self.opened: list[tuple[dict, date]] = []
        self.late_days: dict[int, int] = {}   # open escalation id → its working days late today, if changed
        self.escalations = {e.key: e for e in db.session.scalars(_escalations_in_play().options(
            joinedload(Escalation.report), joinedload(Escalation.contribution), joinedload(Escalation.notice),
            joinedload(Escalation.department), joinedload(Escalation.task), joinedload(Escalation.period)))}
        users = db.session.scalars(select(User).where(User.active.is_(True))).all()
        self.by_department: dict[tuple[int, str], list[User]] = {}
        for u in users:
            if u.department_id is not None:
                self.by_department.setdefault((u.department_id, u.role), []).append(u)
        self.office = [u for u in users if u.role == Role.OFFICE]
        self.substitutes: dict[int, list[User]] = {}
        for s in db.session.scalars(select(Substitute).options(joinedload(Substitute.substitute)).where(
                Substitute.start_date <= self.today, Substitute.end_date >= self.today)):
            if s.substitute.active:
                self.substitutes.setdefault(s.user_id, []).append(s.substitute)

    def people(self, department_id: int, role: str) -> list[User]:
        return self.by_department.get((department_id, role), [])

    def send(self, users: list[User], *, kind: str, level: int, key: str, subject: Subject | None,
             title: str, body: str, data: dict) -> None:
        targets: list[User] = []
        for u in users:
            for person in (u, *self.substitutes.get(u.id, [])):
                if person not in targets:
                    targets.append(person)
        for person in targets:
            row = notify.row(person, kind=kind, level=level, key=key, subject=title, body=body,
                             link=subject.link if subject else data.get("link", ""), now=self.now, data=data)
            self.pending.setdefault(row["key"], (row, {
                "kind": kind, "level": level, "recipient": person.username, "department": data["department"],
                "task": data["task"], "period": data["period"],
            }))

    def write(self) -> None:
        """Number the notices of the escalations opened, in the order they opened; insert the notifications
        wanted, skipping the keys already stored (`queued` lists what was new, in rule order)."""
        if self.late_days:   # one executemany by primary key, not a flush of every loaded escalation
            db.session.execute(update(Escalation), [{"id": i, "days_late": n} for i, n in self.late_days.items()])
        opened = []
        if self.opened:   # one executemany, then the rows back by key (RETURNING in order is a row at a time)
            db.session.execute(insert(Escalation), [values for values, _deadline in self.opened])
            load = [joinedload(getattr(Escalation, name)) for name in
                    ("task", "period", "department", "report", "contribution")]
            stored = {e.key: e for e in db.session.scalars(   # by the moment: one parameter, whatever the number
                select(Escalation).options(*load).where(Escalation.opened_at == self.now))}
            opened = [stored[values["key"]] for values, _deadline in self.opened]
        notices = freeze_notices([(e, deadline) for e, (_v, deadline) in zip(opened, self.opened, strict=True)],
                                 calendar=self.cal, now=self.now)
        for e, notice in zip(opened, notices, strict=True):
            self.result["escalations_opened"].append({
                "key": e.key, "department": e.department.name, "task": e.task.code, "period": e.period.key,
                "cause": e.cause, "days_late": e.days_late, "notice": notice.title})
        if not self.pending:
            return
        added = notify.insert_new([row for row, _queued in self.pending.values()])
        self.result["queued"] = [queued for key, (_row, queued) in self.pending.items() if key in added]


def _escalations_in_play():
    """The escalations a pass can touch: open ones (to update or settle), those without a notice (to number),
    and any on a report or contribution still outstanding in an opened period (so a closed one is not opened
    twice). Not every escalation ever opened: the rest are history."""
    outstanding_reports = (select(Report.id).join(Report.period)
                           .where(Period.opened.is_(True), Report.status.in_([ReportStatus.DRAFT, ReportStatus.RETURNED])))
    outstanding_contributions = (select(Contribution.id).join(Contribution.period)
                                 .where(Period.opened.is_(True), Contribution.status == ContributionStatus.DRAFT))
    return select(Escalation).where(or_(
        Escalation.status == EscalationStatus.OPEN, ~Escalation.notice.has(),
        Escalation.report_id.in_(outstanding_reports), Escalation.contribution_id.in_(outstanding_contributions)))


def reached_levels() -> dict[int, int]:
    """Report id → the highest level of the overdue ladder its reminders reached (1 逾期提醒, 2 逾期催办,
    3 督办), over every round; reports never reminded are absent. One grouped query: the notifications name
    their report by the link Subject gives them."""
    rows = db.session.execute(
        select(Notification.link, func.max(Notification.level))
        .where(Notification.kind.in_(LADDER_KINDS), Notification.link.like(f"{REPORT_LINK}%"))
        .group_by(Notification.link))
    levels = {}
    for link, level in rows:
        tail = link.removeprefix(REPORT_LINK)
        if tail.isdigit():
            levels[int(tail)] = level
    return levels


def _describe(subject: Subject, deadline: date, days_late: int) -> dict:
    row, period = subject.row, subject.period
    return {"department": row.department.name, "task": row.task.code, "task_title": row.task.title,
            "period": period.key if period else "", "period_label": period.label if period else "",
            "deadline": deadline.isoformat(), "days_late": days_late, "what": subject.kind, "link": subject.link}


def _ladder(p: Pass, subject: Subject, deadline: date, rules: dict, *, returned: bool) -> None:
    """Queue the stage the subject is in today against `deadline` (for a returned report: the grace end; for an
    instruction: its due date)."""
    row = subject.row
    dept = row.department_id
    liaisons, heads = p.people(dept, Role.LIAISON), p.people(dept, Role.DEPT_HEAD)
    what, prefix = subject.what, subject.prefix
    instruction = subject.kind == "instruction"
    round_tag = f":r{row.return_count}" if returned else ""
    if p.today < deadline:
        if returned:
            return
        left = workdays_left(deadline, p.today, p.cal)
        if left <= rules["due_soon_workdays"]:
            p.send(liaisons, kind=f"{prefix}due_soon", level=0, key=f"{prefix}due_soon:{subject.key}", subject=subject,
                   title=f"【即将到期】{what}将于 {deadline:%Y-%m-%d} 截止",
                   body=f"还有 {left} 个工作日，请及时{'报送办理情况' if instruction else '填报'}。",
                   data=_describe(subject, deadline, 0))
        return
    if p.today == deadline:
        if not returned:
            p.send(liaisons, kind=f"{prefix}due_today", level=0, key=f"{prefix}due_today:{subject.key}",
                   subject=subject, title=f"【今日截止】{what}今天截止",
                   body="请在今天内报送办理情况。" if instruction else "请在今天内提交。",
                   data=_describe(subject, deadline, 0))
        return
    # A returned report counts from the end of its grace, an instruction from its due date; everything else
    # from its period's deadline.
    late = (lateness(deadline, p.today, p.cal) if returned or instruction else days_late(row, p.today, p.cal)).working
    level = next((n for n in (3, 2, 1) if late >= rules[f"level{n}_late"]), 0)
    if level == 0:
        return
    kind = "returned_overdue" if returned else f"{prefix}overdue"
    cause = "逾期未报送办理情况" if instruction else chinese_label("escalation_cause",
                                                                 "returned" if returned else "overdue")
    title = f"【{chinese_label('escalation_level', level)}】{row.department.name} {what}{cause}，已逾期 {late} 个工作日"
    if instruction:
        body = f"办理期限：{deadline:%Y-%m-%d}。批示：{row.text[:200]}"
    else:
        body = f"报送期限：{deadline:%Y-%m-%d}。" + (f"退回理由：{row.last_return_reason}" if returned else "")
    data = _describe(subject, deadline, late)
    key = f"{kind}:{subject.key}{round_tag}:L{level}"
    if level == 1:
        p.send(liaisons, kind=kind, level=1, key=key, subject=subject, title=title, body=body, data=data)
    elif level == 2:
        p.send(heads + liaisons, kind=kind, level=2, key=key, subject=subject, title=title, body=body, data=data)
    else:
        if not instruction:
            _escalate(p, subject, late, deadline=deadline, returned=returned, round_tag=round_tag)
        p.send(p.office + heads, kind=kind if instruction else "escalation", level=3, key=key, subject=subject,
               title=title, body=body, data=data)


def _escalate(p: Pass, subject: Subject, late: int, *, deadline: date, returned: bool, round_tag: str) -> None:
    key = f"esc:{subject.key}:{'returned' if returned else 'overdue'}{round_tag}"
    existing = p.escalations.get(key)
    if existing is not None:
        if existing.is_open and existing.days_late != late:
            p.late_days[existing.id] = late
        return
    row = subject.row
    p.opened.append(({
        "key": key, "plan_id": row.task.plan_id, "task_id": row.task_id, "period_id": row.period_id,
        "department_id": row.department_id, "cause": "returned" if returned else "overdue", "days_late": late,
        "opened_at": p.now, "status": EscalationStatus.OPEN, "closed_at": None, "close_reason": "", "close_note": "",
        "report_id": row.id if subject.kind == "report" else None,
        "contribution_id": row.id if subject.kind == "contribution" else None}, deadline))


def _number_unfrozen(p: Pass, plans: list[Plan]) -> None:
    """Escalations opened before notices were numbered get theirs now, in the order they opened, dated the day
    they opened and with the facts of that day."""
    rules = {plan.id: rules_for(plan) for plan in plans}
    waiting = sorted((e for e in p.escalations.values() if e.notice is None), key=lambda e: (e.opened_at, e.id))
    freeze_notices([(e, deadline_of(e, rules.get(e.plan_id, DEFAULT_RULES)["returned_grace_workdays"], p.cal))
                    for e in waiting], calendar=p.cal, now=p.now)


def _close_settled(p: Pass) -> None:
    """An escalation closes by itself once its report or contribution has been submitted."""
    settled = [e.id for e in p.escalations.values() if e.is_open and (
        e.report.status in (ReportStatus.SUBMITTED, ReportStatus.APPROVED) if e.report_id
        else e.contribution.status == ContributionStatus.SUBMITTED)]
    if not settled:
        return
    for e in settle(Escalation.id.in_(settled), actor=None, now=p.now):
        p.result["escalations_closed"].append({"key": e.key, "department": e.department.name, "task": e.task.code,
                                               "period": e.period.key, "reason": "submitted"})


def _task_deadlines(p: Pass, rules_of: dict[int, dict]) -> None:
    """Open tasks of the plans whose 完成时限 is near or past: one query (their assignments joined), whatever the
    number of tasks. Past it, one notice per task and due date; the task leaves the rule when it is closed."""
    horizon = p.today + timedelta(days=2 * max(r["task_due_soon_workdays"] for r in rules_of.values()) + 14)
    tasks = db.session.scalars(
        select(Task).options(joinedload(Task.assignments).joinedload(Assignment.department))
        .where(Task.plan_id.in_(list(rules_of)), Task.status == TaskStatus.OPEN, Task.due.is_not(None),
               Task.due <= horizon)
        .order_by(Task.plan_id, Task.position, Task.id)).unique().all()
    for task in tasks:
        leads = [a.department_id for a in task.active_assignments if a.role == AssignmentRole.LEAD]
        liaisons = [u for d in leads for u in p.people(d, Role.LIAISON)]
        data = {"department": "、".join(sorted({a.department.name for a in task.active_assignments
                                                  if a.role == AssignmentRole.LEAD})),
                "task": task.code, "task_title": task.title, "period": "", "period_label": "",
                "deadline": task.due.isoformat(), "what": "task", "link": f"/tasks/{task.id}"}
        if p.today <= task.due:
            left = workdays_left(task.due, p.today, p.cal)
            if left <= rules_of[task.plan_id]["task_due_soon_workdays"]:
                p.send(liaisons, kind=TASK_DUE_SOON, level=0, key=f"{TASK_DUE_SOON}:t{task.id}:{task.due:%Y%m%d}",
                       subject=None, title=f"【完成时限临近】{task.code} {task.title}应于 {task.due:%Y-%m-%d} 前完成",
                       body=f"还有 {left} 个工作日。完成后请在任务页报送办结报告。", data={**data, "days_late": 0})
            continue
        late = lateness(task.due, p.today, p.cal).working
        if late < 1:
            continue
        heads = [u for d in leads for u in p.people(d, Role.DEPT_HEAD)]
        p.send(liaisons + heads + p.office, kind=TASK_OVERDUE, level=0,
               key=f"{TASK_OVERDUE}:t{task.id}:{task.due:%Y%m%d}", subject=None,
               title=f"【逾期未办结】{data['department']} {task.code} {task.title}已超过完成时限 {task.due:%Y-%m-%d}",
               body="任务尚未办结销号。已完成的，请报送办结报告；未完成的，请说明原因和计划完成时间。",
               data={**data, "days_late": late})


def _review_pending(p: Pass, report: Report, rules: dict) -> None:
    submitted_on = local(report.submitted_at).date()
    waiting = p.cal.workdays_between(submitted_on, p.today)
    if waiting < rules["review_grace_workdays"]:
        return
    subject = Subject(report, "report")
    p.send(p.office, kind="review_pending", level=0,
           key=f"review_pending:{subject.key}:{report.submitted_at:%Y%m%d%H%M%S}", subject=subject,
           title=f"【待审核】{report.department.name} {report.task.code} {report.period.label}报告已等待审核 "
                 f"{waiting} 个工作日",
           body="请及时审核通过或退回。", data=_describe(subject, report.deadline, 0))


def _one_pass_at_a_time() -> None:
    """Two passes at once (the scheduler's and an operator's `reminders run-once`) would queue the same rows and
    one would fail on their unique keys. On PostgreSQL the second waits for the first to commit (an advisory lock
    held until the end of this transaction, keyed per schema like the leader lock), then finds the work done;
    SQLite lets one writer in at a time anyway."""
    if db.session.get_bind().dialect.name != "postgresql":
        return
    a, b = advisory_key(db.session, "reminder-pass")
    db.session.execute(text("SELECT pg_advisory_xact_lock(:a, :b)"), {"a": a, "b": b})


def run_reminders(*, now: datetime, dry_run: bool = False, calendar: WorkdayCalendar | None = None) -> dict:
    """One pass of every rule; commits (or, with dry_run, rolls back) and returns what it did."""
    try:
        _one_pass_at_a_time()
        plans = db.session.scalars(select(Plan).where(Plan.status == PlanStatus.PUBLISHED).order_by(Plan.id)).all()
        open_started_periods(now=now)
        p = Pass(now, calendar or office_calendar())
        _close_settled(p)
        _number_unfrozen(p, plans)
        if p.cal.is_workday(p.today) and plans:
            _rules_pass(p, plans)
        p.write()
        if dry_run:
            db.session.rollback()
        else:
            db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return p.result


def _rules_pass(p: Pass, plans: list[Plan]) -> None:
    """Every published plan's open items in four queries (reports, contributions, instructions, tasks near or
    past their 完成时限; plan by plan, in plan order), whatever the number of plans and items: each plan's rules
    are looked up per row."""
    rules_of = {plan.id: rules_for(plan) for plan in plans}
    plan_ids = list(rules_of)
    load = (joinedload(Report.task), joinedload(Report.period), joinedload(Report.department))
    reports = db.session.scalars(
        select(Report).join(Report.period).join(Report.task).options(*load)
        .where(Task.plan_id.in_(plan_ids), Task.status == TaskStatus.OPEN, Period.opened.is_(True),
               Report.withdrawn_at.is_(None),
               Report.status.in_([ReportStatus.DRAFT, ReportStatus.RETURNED, ReportStatus.SUBMITTED]))
        .order_by(Task.plan_id, Period.start, Task.position, Report.id)
    ).all()
    for report in reports:
        rules = rules_of[report.task.plan_id]
        if report.status == ReportStatus.DRAFT:
            _ladder(p, Subject(report, "report"), report.deadline, rules, returned=False)
        elif report.status == ReportStatus.RETURNED and report.reviewed_at is not None:
            grace_end = resubmission_due(report, rules["returned_grace_workdays"], p.cal)
            _ladder(p, Subject(report, "report"), grace_end, rules, returned=True)
        elif report.status == ReportStatus.SUBMITTED and report.submitted_at is not None:
            _review_pending(p, report, rules)
    contributions = db.session.scalars(
        select(Contribution).join(Contribution.period).join(Contribution.task)
        .options(joinedload(Contribution.task), joinedload(Contribution.period),
                 joinedload(Contribution.department))
        .where(Task.plan_id.in_(plan_ids), Task.status == TaskStatus.OPEN, Period.opened.is_(True),
               Contribution.withdrawn_at.is_(None), Contribution.status == ContributionStatus.DRAFT)
        .order_by(Task.plan_id, Period.start, Task.position, Contribution.id)
    ).all()
    for contribution in contributions:
        _ladder(p, Subject(contribution, "contribution"), contribution.period.deadline,
                rules_of[contribution.task.plan_id], returned=False)
    instructions = db.session.scalars(
        select(Instruction).join(Instruction.task)
        .options(joinedload(Instruction.task), joinedload(Instruction.department),
                 joinedload(Instruction.report).joinedload(Report.period))
        .where(Task.plan_id.in_(plan_ids), Task.status == TaskStatus.OPEN, Instruction.status == InstructionStatus.OPEN)
        .order_by(Task.plan_id, Instruction.due_date, Instruction.id)
    ).all()
    for instruction in instructions:
        _ladder(p, Subject(instruction, "instruction"), instruction.due_date, rules_of[instruction.task.plan_id],
                returned=False)
    _task_deadlines(p, rules_of)
