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
its current level, never the levels it missed. The pass is set-based: SQL finds the items at a stage whose
notifications (or escalation) are not all stored yet, and only those are loaded and run through the rules, so
a day with nothing new to send loads no item whatever the size of the plans. Escalations close when their report is submitted. An escalation
opens with its 督办通知单 numbered and frozen (workflow.escalations.notices); one opened before notices existed
gets its notice at the next pass.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache

from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    and_,
    case,
    cast,
    exists,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    text,
    true,
    union_all,
    update,
)
from sqlalchemy.orm import aliased, joinedload

from models import (
    ENDED_ASSIGNMENT,
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
from workflow.calendar.lateness import (
    days_late,
    due_soon_before,
    first_day,
    lateness,
    resubmission_due,
    resubmission_due_from,
    workdays_left,
)
from workflow.calendar.office import office_calendar
from workflow.calendar.sql import formatted, local_date, looked_up
from workflow.calendar.workdays import WorkdayCalendar
from workflow.clock import local, start_of
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
# Who is told, by name: the roles in the item's department (or a task's leads), in the order they are told, and
# whether the office is told first. The ladder's levels (0: due soon and due today) name theirs in LADDER_PEOPLE;
# Pass.told reads both, and so does the SQL that finds who has not been told yet (_untold).
TOLD = {"liaisons": ((Role.LIAISON,), False), "heads and liaisons": ((Role.DEPT_HEAD, Role.LIAISON), False),
        "office and heads": ((Role.DEPT_HEAD,), True), "office": ((), True),
        "leads and office": ((Role.LIAISON, Role.DEPT_HEAD), True)}
LADDER_PEOPLE = {0: "liaisons", 1: "liaisons", 2: "heads and liaisons", 3: "office and heads"}


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
        # The escalations the rules want open (their columns, with their deadlines); write() inserts those whose
        # key is not stored yet.
        self.opened: list[tuple[dict, date]] = []
        users = db.session.scalars(select(User).where(User.active.is_(True))).all()
        self.by_department: dict[tuple[int, str], list[User]] = {}
        for u in users:
            if u.department_id is not None:
                self.by_department.setdefault((u.department_id, u.role), []).append(u)
        self.office = [u for u in users if u.role == Role.OFFICE]
        self.substitutes: dict[int, list[User]] = {}
        self.standing_in: list[int] = []   # today's Substitute rows (ids) with an active stand-in
        for s in db.session.scalars(select(Substitute).options(joinedload(Substitute.substitute)).where(
                Substitute.start_date <= self.today, Substitute.end_date >= self.today)):
            if s.substitute.active:
                self.substitutes.setdefault(s.user_id, []).append(s.substitute)
                self.standing_in.append(s.id)

    def people(self, department_id: int, role: str) -> list[User]:
        return self.by_department.get((department_id, role), [])

    def told(self, level: int, department_id: int) -> list[User]:
        """Whom the ladder tells at `level` (LADDER_PEOPLE), in the order they are told."""
        roles, office = TOLD[LADDER_PEOPLE[level]]
        return (self.office if office else []) + [u for role in roles for u in self.people(department_id, role)]

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
        """Insert the escalations wanted whose key is not stored yet and number their notices, in the order they
        opened; insert the notifications wanted, skipping the keys already stored (`queued` lists what was new,
        in rule order)."""
        if self.opened:
            stored = notify.stored_keys(Escalation.key, [values["key"] for values, _deadline in self.opened])
            self.opened = [(values, deadline) for values, deadline in self.opened if values["key"] not in stored]
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


@dataclass(frozen=True)
class Stages:
    """Where one group of plans (those with the same rules) stands today, as bounds for SQL: each is the first
    day (or moment) from which a rule no longer holds, found from the rule's own working-day definition by
    first_day, so the queries select by exactly what _ladder computes."""

    plans: tuple[int, ...]
    rules: dict
    due_soon: date                    # today < deadline < due_soon: due soon
    late: dict[int, date]             # level → a deadline before it is at least that level's days late
    returned: dict[int, datetime]     # level → a report returned before it is too (counted from its grace's end)
    returned_past: datetime           # returned before it: the grace ended before today
    review: datetime                  # submitted before it: waited review_grace_workdays
    task_due_soon: date               # today <= due < task_due_soon: a task's 完成时限 is near
    task_late: date                   # due before it: a working day past
    alone: bool = False               # the only group: every published plan

    def member(self) -> ColumnElement[bool]:
        """Its plans, in SQL; nothing to add when it is the only group (the queries take published plans alone),
        which keeps the statements short (an IN list costs a pass over the statement's text at execution)."""
        return true() if self.alone else Task.plan_id.in_(self.plans)


def _stages(p: Pass, plans: list[Plan]) -> list[Stages]:
    groups: dict[tuple, list[int]] = {}
    for plan in plans:
        groups.setdefault(tuple(sorted(rules_for(plan).items())), []).append(plan.id)
    return [_stage(tuple(plan_ids), dict(rules), p.today, p.cal, alone=len(groups) == 1)
            for rules, plan_ids in groups.items()]


def _stage(plans: tuple[int, ...], rules: dict, today: date, cal: WorkdayCalendar, *, alone: bool) -> Stages:
    def levels(late_on):   # level → the first day from which an item is less late than the level
        return {n: first_day(lambda d, n=n: late_on(d) < rules[f"level{n}_late"], today) for n in (1, 2, 3)}

    def grace_end(returned_on: date) -> date:
        return resubmission_due_from(returned_on, rules["returned_grace_workdays"], cal)

    def waited(submitted_on: date) -> int:
        return cal.workdays_between(submitted_on, today)

    returned = levels(lambda day: lateness(grace_end(day), today, cal).working)
    return Stages(
        plans=plans, rules=rules,
        due_soon=due_soon_before(today, rules["due_soon_workdays"], cal),
        late=levels(lambda d: lateness(d, today, cal).working),
        returned={n: start_of(day) for n, day in returned.items()},
        returned_past=start_of(first_day(lambda day: grace_end(day) >= today, today)),
        review=start_of(first_day(lambda day: waited(day) < rules["review_grace_workdays"], today)),
        task_due_soon=due_soon_before(today, rules["task_due_soon_workdays"], cal),
        task_late=first_day(lambda d: lateness(d, today, cal).working < 1, today), alone=alone)


def _key(*parts) -> ColumnElement[str]:
    """A key in SQL, from text and columns (ids, rounds) in the order Python writes them."""
    pieces = [literal(part) if isinstance(part, str) else cast(part, String) for part in parts]
    key = pieces[0]
    for piece in pieces[1:]:
        key = key + piece
    return key


@dataclass
class Rung:
    """A stage an item can be at today (`when`), the key the rules would queue it under, who is told, and at
    level 3 of a report or contribution the escalation's key."""

    when: ColumnElement[bool]
    key: ColumnElement[str]
    who: str
    escalation: ColumnElement[str] | None = None


def _at_level(value, bounds: dict, level: int) -> ColumnElement[bool]:
    """`value` is below the level's bound and not below a higher one's (_level: the highest level reached)."""
    return and_(value < bounds[level], *(value >= bounds[n] for n in (1, 2, 3) if n > level))


def _ladder_rungs(deadline, bounds: dict, key_of, escalation=None) -> list[Rung]:
    """The overdue levels of an item whose `deadline` (or moment of return) is compared with `bounds`."""
    return [Rung(_at_level(deadline, bounds, level), key_of(level), LADDER_PEOPLE[level],
                 escalation if level == 3 else None) for level in (1, 2, 3)]


def _item_rungs(p: Pass, s: Stages, deadline, subject_key: str, subject_id, *, escalates: bool) -> list[Rung]:
    """Due soon, due today and the overdue levels of an item against `deadline` (what _ladder queues)."""
    prefix = INSTRUCTION if subject_key == "i" else ""
    levels = _ladder_rungs(deadline, s.late, lambda level: _key(f"{prefix}overdue:{subject_key}", subject_id,
                                                                    f":L{level}"),
                           _key(f"esc:{subject_key}", subject_id, ":overdue") if escalates else None)
    return [Rung(and_(deadline > p.today, deadline < s.due_soon), _key(f"{prefix}due_soon:{subject_key}", subject_id),
                 LADDER_PEOPLE[0]),
            Rung(deadline == p.today, _key(f"{prefix}due_today:{subject_key}", subject_id), LADDER_PEOPLE[0]),
            *(Rung(and_(deadline < p.today, r.when), r.key, r.who, r.escalation) for r in levels)]


def _staged(rungs: list[tuple[ColumnElement[bool], Rung]]) -> dict[str, ColumnElement]:
    """The rungs as columns: the key, who and escalation of the (first) rung an item is at, NULL at none."""
    def column(value):
        whens = [(when, value(r)) for when, r in rungs if value(r) is not None]
        return case(*whens, else_=null()) if whens else null()

    return {"key": column(lambda r: r.key), "who": column(lambda r: literal(r.who)),
            "escalation": column(lambda r: r.escalation)}


def _untold(p: Pass, staged, homes=None):
    """The ids of staged items with someone untold: a recipient of the rung (an active user of its roles in the
    item's department, or in one of its `homes` — a subquery of id and department_id —, the office, or a
    stand-in today for one of them: Pass.send's recipients) without the notification of its key (stored as
    key:u<id>), or an escalation wanted and not stored. Recipients are joined, then anti-joined with the stored
    keys: no per-item subquery, and staged is scanned, never joined to itself (its rows have no index)."""
    def told(user, home):
        return and_(user.active.is_(True), user.department_id == home.c.department_id, or_(*(
            and_(user.role == role, staged.c.who.in_([name for name, (roles, _o) in TOLD.items() if role in roles]))
            for role in (Role.LIAISON, Role.DEPT_HEAD))))

    def at_home(query):   # the item's department (a column of staged), or the departments `homes` joins
        return query if homes is None else query.join(homes, homes.c.id == staged.c.id)

    home = staged if homes is None else homes
    office = [u.id for u in p.office]
    told_office = staged.c.who.in_([name for name, (_roles, by_office) in TOLD.items() if by_office])
    recipients = [at_home(select(staged.c.id, staged.c.key, User.id.label("user_id"))).join(User, told(User, home))]
    if office:
        recipients.append(select(staged.c.id, staged.c.key, User.id).join(User, User.id.in_(office)).where(told_office))
    if p.standing_in:   # a stand-in for a recipient
        holder = aliased(User)
        recipients.append(at_home(select(staged.c.id, staged.c.key, Substitute.substitute_id)).join(holder, told(holder, home))
                          .join(Substitute, and_(Substitute.user_id == holder.id, Substitute.id.in_(p.standing_in))))
        if office:
            recipients.append(select(staged.c.id, staged.c.key, Substitute.substitute_id).join(Substitute, and_(
                Substitute.user_id.in_(office), Substitute.id.in_(p.standing_in))).where(told_office))
    pairs = union_all(*recipients).subquery()
    return union_all(
        select(pairs.c.id).where(~exists().where(Notification.key == pairs.c.key + ":u" + cast(pairs.c.user_id, String))),
        select(staged.c.id).where(staged.c.escalation.is_not(None),
                                  ~exists().where(Escalation.key == staged.c.escalation)))


def _wanted(p: Pass, model, query, rungs, ordered, load=(), homes=None) -> list:
    """The rows of `model` at a rung with someone untold: `query` (a select of the item's id and department_id
    labelled so, with its joins and the rule's filters) staged by `rungs`, then the untold ones loaded with
    `load` by `ordered` (a select of model with its joins and order). `homes` selects (id, department_id) the
    departments whose users are told (default: the item's own). Staged and untold are CTEs computed once: the
    planner may not know how many rows they hold (a table just filled has no statistics) and must not run them
    per row."""
    columns = _staged(rungs)
    staged = query.add_columns(*(c.label(name) for name, c in columns.items())).where(
        columns["key"].is_not(None)).cte("staged").prefix_with("MATERIALIZED")
    untold = _untold(p, staged, homes.subquery() if homes is not None else None).cte("untold").prefix_with(
        "MATERIALIZED")
    return db.session.scalars(ordered.options(*load).where(model.id.in_(select(untold.c.id)))).unique().all()


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
    what, prefix = subject.what, subject.prefix
    instruction = subject.kind == "instruction"
    round_tag = f":r{row.return_count}" if returned else ""
    if p.today < deadline:
        if returned:
            return
        left = workdays_left(deadline, p.today, p.cal)
        if left <= rules["due_soon_workdays"]:
            p.send(p.told(0, dept), kind=f"{prefix}due_soon", level=0, key=f"{prefix}due_soon:{subject.key}", subject=subject,
                   title=f"【即将到期】{what}将于 {deadline:%Y-%m-%d} 截止",
                   body=f"还有 {left} 个工作日，请及时{'报送办理情况' if instruction else '填报'}。",
                   data=_describe(subject, deadline, 0))
        return
    if p.today == deadline:
        if not returned:
            p.send(p.told(0, dept), kind=f"{prefix}due_today", level=0, key=f"{prefix}due_today:{subject.key}",
                   subject=subject, title=f"【今日截止】{what}今天截止",
                   body="请在今天内报送办理情况。" if instruction else "请在今天内提交。",
                   data=_describe(subject, deadline, 0))
        return
    # A returned report counts from the end of its grace, an instruction from its due date; everything else
    # from its period's deadline.
    late = (lateness(deadline, p.today, p.cal) if returned or instruction else days_late(row, p.today, p.cal)).working
    level = _level(late, rules)
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
    if level == 3 and not instruction:
        _escalate(p, subject, late, deadline=deadline, returned=returned, round_tag=round_tag)
    p.send(p.told(level, dept), kind="escalation" if level == 3 and not instruction else kind, level=level, key=key,
           subject=subject, title=title, body=body, data=data)


def _level(late: int, rules: dict) -> int:
    """The highest overdue level `late` working days reach (0: none yet)."""
    return next((n for n in (3, 2, 1) if late >= rules[f"level{n}_late"]), 0)


def _escalate(p: Pass, subject: Subject, late: int, *, deadline: date, returned: bool, round_tag: str) -> None:
    """Want the escalation open (write() skips it when its key is stored: one per item, cause and round; an open
    one's days late are kept by _days_late)."""
    key = f"esc:{subject.key}:{'returned' if returned else 'overdue'}{round_tag}"
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
    waiting = db.session.scalars(select(Escalation).options(*(joinedload(getattr(Escalation, name)) for name in (
        "report", "contribution", "department", "task", "period"))).where(~Escalation.notice.has())
        .order_by(Escalation.opened_at, Escalation.id)).all()
    freeze_notices([(e, deadline_of(e, rules.get(e.plan_id, DEFAULT_RULES)["returned_grace_workdays"], p.cal))
                    for e in waiting], calendar=p.cal, now=p.now)


def _close_settled(p: Pass) -> None:
    """An escalation closes by itself once its report or contribution has been submitted: one UPDATE of those
    whose subject is handed in (submission closes them at once; this catches any that were not)."""
    open_ = Escalation.status == EscalationStatus.OPEN   # from the open ones to their subjects, not the reverse
    handed_in = union_all(
        select(Escalation.id).join(Report, Report.id == Escalation.report_id).where(
            open_, Report.status.in_([ReportStatus.SUBMITTED, ReportStatus.APPROVED])),
        select(Escalation.id).join(Contribution, Contribution.id == Escalation.contribution_id).where(
            open_, Contribution.status == ContributionStatus.SUBMITTED))
    settled = settle(Escalation.id.in_(handed_in), actor=None, now=p.now)
    if not settled:
        return
    for e in db.session.scalars(select(Escalation).options(
            joinedload(Escalation.department), joinedload(Escalation.task), joinedload(Escalation.period))
            .where(Escalation.id.in_([e.id for e in settled])).order_by(Escalation.id)):
        p.result["escalations_closed"].append({"key": e.key, "department": e.department.name, "task": e.task.code,
                                               "period": e.period.key, "reason": "submitted"})


def _task_deadlines(p: Pass, stages: list[Stages], rules_of: dict[int, dict]) -> None:
    """Open tasks whose 完成时限 is near or past and whose lead (or, past it, the office) has not been told: one
    query, their assignments joined. Past it, one notice per task and due date; the task leaves the rule when it
    is closed."""
    leads = select(Assignment.task_id.label("id"), Assignment.department_id).where(
        Assignment.role == AssignmentRole.LEAD, Assignment.status.not_in(ENDED_ASSIGNMENT))

    due = formatted(Task.due, "%Y%m%d")
    rungs = [(and_(s.member(), rung.when), rung) for s in stages for rung in (
        Rung(and_(Task.due >= p.today, Task.due < s.task_due_soon), _key(f"{TASK_DUE_SOON}:t", Task.id, ":", due),
             "liaisons"),
        Rung(and_(Task.due < p.today, Task.due < s.task_late), _key(f"{TASK_OVERDUE}:t", Task.id, ":", due),
             "leads and office"))]
    tasks = _wanted(p, Task, select(Task.id.label("id"), null().label("department_id")).where(
        Task.plan_id.in_(list(rules_of)), Task.status == TaskStatus.OPEN, Task.due.is_not(None)), rungs,
        select(Task).order_by(Task.plan_id, Task.position, Task.id),
        load=[joinedload(Task.assignments).joinedload(Assignment.department)], homes=leads)
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
    """The open items of every published plan that have something to send today, in four queries (reports,
    contributions, instructions, tasks near or past their 完成时限; plan by plan, in plan order): each stages
    the items in SQL by their rule group's Stages and keeps those at a stage whose notifications are not all
    stored (or whose escalation is not), so a pass with nothing new to do loads no item, whatever the number
    of plans and items. The rules (_ladder) then run on those alone. Open escalations' days late move in
    _days_late, set-based."""
    rules_of = {plan.id: rules_for(plan) for plan in plans}
    stages = _stages(p, plans)

    def of(s, status, rungs):
        return [(and_(s.member(), status, rung.when), rung) for rung in rungs]

    def items(model, statuses):
        return (select(model.id.label("id"), model.department_id.label("department_id"))
                .join(Period, Period.id == model.period_id).join(Task, Task.id == model.task_id)
                .where(Task.plan_id.in_(list(rules_of)), Task.status == TaskStatus.OPEN, Period.opened.is_(True),
                       model.withdrawn_at.is_(None), model.status.in_(statuses)))

    def ordered(model):
        return (select(model).join(Period, Period.id == model.period_id).join(Task, Task.id == model.task_id)
                .order_by(Task.plan_id, Period.start, Task.position, model.id))

    rungs = []
    for s in stages:
        rungs += of(s, Report.status == ReportStatus.DRAFT,
                    _item_rungs(p, s, Report.deadline_column(), "r", Report.id, escalates=True))
        rungs += of(s, and_(Report.status == ReportStatus.RETURNED, Report.reviewed_at < s.returned_past),
                    _ladder_rungs(Report.reviewed_at, s.returned, lambda level: _key(
                        "returned_overdue:r", Report.id, ":r", Report.return_count, f":L{level}"),
                        _key("esc:r", Report.id, ":returned:r", Report.return_count)))
        rungs += of(s, Report.status == ReportStatus.SUBMITTED, [Rung(
            Report.submitted_at < s.review,
            _key("review_pending:r", Report.id, ":", formatted(Report.submitted_at, "%Y%m%d%H%M%S")), "office")])
    reports = _wanted(p, Report, items(Report, [ReportStatus.DRAFT, ReportStatus.RETURNED, ReportStatus.SUBMITTED]),
                      rungs, ordered(Report),
                      load=(joinedload(Report.task), joinedload(Report.period), joinedload(Report.department)))
    for report in reports:
        rules = rules_of[report.task.plan_id]
        if report.status == ReportStatus.DRAFT:
            _ladder(p, Subject(report, "report"), report.deadline, rules, returned=False)
        elif report.status == ReportStatus.RETURNED and report.reviewed_at is not None:
            grace_end = resubmission_due(report, rules["returned_grace_workdays"], p.cal)
            _ladder(p, Subject(report, "report"), grace_end, rules, returned=True)
        elif report.status == ReportStatus.SUBMITTED and report.submitted_at is not None:
            _review_pending(p, report, rules)
    rungs = [rung for s in stages for rung in of(s, Contribution.status == ContributionStatus.DRAFT, _item_rungs(
        p, s, Period.deadline, "c", Contribution.id, escalates=True))]
    contributions = _wanted(p, Contribution, items(Contribution, [ContributionStatus.DRAFT]), rungs,
                            ordered(Contribution), load=(
        joinedload(Contribution.task), joinedload(Contribution.period), joinedload(Contribution.department)))
    for contribution in contributions:
        _ladder(p, Subject(contribution, "contribution"), contribution.period.deadline,
                rules_of[contribution.task.plan_id], returned=False)
    rungs = [rung for s in stages for rung in of(s, Instruction.status == InstructionStatus.OPEN, _item_rungs(
        p, s, Instruction.due_date, "i", Instruction.id, escalates=False))]
    instructions = _wanted(
        p, Instruction, select(Instruction.id.label("id"), Instruction.department_id.label("department_id"))
        .join(Task, Task.id == Instruction.task_id).where(Task.plan_id.in_(list(rules_of)),
                                                          Task.status == TaskStatus.OPEN), rungs,
        select(Instruction).join(Task, Task.id == Instruction.task_id).order_by(Task.plan_id, Instruction.due_date,
                                                                                 Instruction.id),
        load=(joinedload(Instruction.task), joinedload(Instruction.department),
              joinedload(Instruction.report).joinedload(Report.period)))
    for instruction in instructions:
        _ladder(p, Subject(instruction, "instruction"), instruction.due_date, rules_of[instruction.task.plan_id],
                returned=False)
    _task_deadlines(p, stages, rules_of)
    _days_late(p, stages)


def _days_late(p: Pass, stages: list[Stages]) -> None:
    """The open escalations of items still at level 3 take today's working days late, as _ladder counts them,
    set-based: one query for the distinct days they count from (a deadline; a return's day, whose grace is the
    plan's), then per kind of item one UPDATE whose new value is a CASE over those days; nothing is loaded."""
    grace_of = {plan: s.rules["returned_grace_workdays"] for s in stages for plan in s.plans}

    def at_level3(model, status, value, bound_of, *more):
        return and_(Task.id == model.task_id, Period.id == model.period_id, Task.status == TaskStatus.OPEN,
                    Period.opened.is_(True), model.withdrawn_at.is_(None), model.status == status,
                    Task.plan_id.in_(list(grace_of)), or_(*(and_(s.member(), value < bound_of(s)) for s in stages)),
                    *more)

    def escalated(subject_id, key):
        return and_(Escalation.status == EscalationStatus.OPEN, subject_id, Escalation.key == key)

    deadline, handed_back = Report.deadline_column(), Report.reviewed_at
    returned_on = formatted(local_date(handed_back), "%Y-%m-%d")
    kinds = {   # what → (the open escalations of items at level 3, the day counted from, the key of its value)
        "report": (at_level3(Report, ReportStatus.DRAFT, deadline, lambda s: s.late[3], deadline < p.today,
                             escalated(Escalation.report_id == Report.id, _key("esc:r", Report.id, ":overdue"))),
                   deadline, formatted(deadline, "%Y-%m-%d")),
        "contribution": (at_level3(Contribution, ContributionStatus.DRAFT, Period.deadline, lambda s: s.late[3],
                                   Period.deadline < p.today, escalated(Escalation.contribution_id == Contribution.id,
                                                                        _key("esc:c", Contribution.id, ":overdue"))),
                         Period.deadline, formatted(Period.deadline, "%Y-%m-%d")),
        # a return's lateness counts from the end of its plan's grace: one value per day and plan
        "returned": (at_level3(Report, ReportStatus.RETURNED, handed_back, lambda s: min(s.returned[3],
                                                                                            s.returned_past),
                               escalated(Escalation.report_id == Report.id,
                                         _key("esc:r", Report.id, ":returned:r", Report.return_count))),
                     local_date(handed_back), returned_on + "/" + cast(Task.plan_id, String))}
    late: dict[str, dict[str, int]] = {what: {} for what in kinds}
    days = union_all(*(select(literal(what), day, Task.plan_id if what == "returned" else cast(null(), Integer))
                       .where(where).distinct() for what, (where, day, _key_of) in kinds.items()))
    for what, day, plan in db.session.execute(days):
        if what == "returned":
            due = resubmission_due_from(day, grace_of[plan], p.cal)
            late[what][f"{day.isoformat()}/{plan}"] = lateness(due, p.today, p.cal).working
        else:
            late[what][day.isoformat()] = lateness(day, p.today, p.cal).working
    for what, (where, _day, key_of) in kinds.items():
        if late[what]:
            value = looked_up(late[what], key_of)
            db.session.execute(update(Escalation).where(where, Escalation.days_late != value)
                               .values(days_late=value).execution_options(synchronize_session=False))
