"""`demo simulate`: play the departments and the office through the same services the web uses, as if the
clock had run from the plan's publication until a given date.

Everything is driven by one event queue ordered by (moment, sequence number) and one random.Random(seed), so
a seed on a fresh database always gives the same data. Each action goes through the real service with an
actor and a `now`, so audit rows, revisions, notifications and escalations exist as in real use. The wall
clock is never read.
"""
from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from models import (
    Assignment,
    AssignmentStatus,
    Contribution,
    ContributionStatus,
    Department,
    Escalation,
    EscalationStatus,
    Period,
    Plan,
    PlanStatus,
    Report,
    ReportStatus,
    Role,
    Task,
    User,
)
from workflow.admin.services import create_user
from workflow.assignments.services import acknowledge, open_due_periods
from workflow.calendar.office import office_calendar
from workflow.clock import LOCAL_TZ, local
from workflow.domain import Conflict, DomainError
from workflow.extensions import db
from workflow.reports.services import ReportInput, save_contribution, save_report
from workflow.review.services import approve_report, return_report
from workflow.scheduling.reminders import rules_for, run_reminders

SIM_PASSWORD = "demo1234"

# How the departments behave (shares of reports and contributions).
P_MISSING = 0.06          # never filed
P_LATE = 0.16             # filed 1–15 working days after the deadline
P_RETURN = 0.18           # the office returns a first submission
P_RETURN_AGAIN = 0.05     # … and a resubmission
P_CONTRIBUTION_MISSING = 0.05
P_CONTRIBUTION_LATE = 0.12
P_VALUE_MISSING_IN_DRAFT = 0.35
P_CONTRIBUTION_DRAFT_FIRST = 0.3  # most co-departments type their few lines and submit at once

NARRATIVE_OPENINGS = [
    "本季度围绕“{title}”，我单位成立工作专班，明确责任分工，按月调度推进。",
    "对照“{title}”任务要求，我单位细化年度工作清单，逐项落实到责任科室。",
    "本期“{title}”工作总体按计划推进，主要负责同志多次专题研究部署。",
    "围绕“{title}”，我单位加强与相关部门的协调联动，形成工作合力。",
]
NARRATIVE_PROGRESS = [
    "已完成年度计划工作量的{percent}%，重点项目前期手续基本办结。",
    "截至本期末，任务完成进度约{percent}%，各项指标总体符合序时进度。",
    "累计完成{percent}%，已召开推进会{n}次，开展现场督导{m}次。",
    "完成进度约{percent}%，已梳理形成问题清单{n}项并逐项销号。",
]
DIFFICULTIES = [
    "项目资金到位较慢，部分工程进度受到影响。",
    "冬季施工条件受限，室外作业时间较短。",
    "基础数据统计口径尚不统一，需与统计部门进一步衔接。",
    "企业改造意愿不强，需加大政策引导力度。",
    "",
    "",
]
NEXT_STEPS = [
    "下一步将加快项目建设进度，确保按期完成年度目标。",
    "下一步将加强调度督导，每月通报进展情况。",
    "下一步将积极争取上级资金支持，推动重点项目落地。",
    "下一步将完善统计监测体系，按时报送相关数据。",
]
RESUBMIT_NOTES = [
    "根据审核意见，已补充相关统计数据及口径说明。",
    "按照退回意见，补充了具体项目清单和完成数据。",
    "已对照审核意见逐条修改，补充了佐证材料说明。",
]
RETURN_REASONS = [
    "进展描述过于笼统，请补充具体数据",
    "请补充本季度完成的具体项目及投资额",
    "完成百分比与进展描述不一致，请核实后重新报送",
    "请说明存在困难的具体原因及拟采取的措施",
    "下一步计划缺少时间节点，请细化",
]
CONTRIBUTION_TEXTS = [
    "我单位按照牵头单位要求，配合开展“{title}”相关工作，已报送基础数据{n}项。",
    "围绕“{title}”，我单位积极配合牵头单位开展联合督导{n}次，及时提供政策和数据支持。",
    "本期我单位配合完成“{title}”相关调研{n}次，提出意见建议{m}条。",
]


def _short(title: str, limit: int = 30) -> str:
    title = title.strip().rstrip("。；;")
    return title if len(title) <= limit else title[:limit] + "…"


@dataclass(order=True)
class _Event:
    when: datetime
    seq: int
    action: Callable[[datetime], None] = field(compare=False)


class Simulation:
    def __init__(self, plan: Plan, *, until: date, seed: int, start: datetime):
        self.plan, self.until, self.start = plan, until, start
        self.rng = random.Random(seed)
        self.cal = office_calendar()
        self.rules = rules_for(plan)
        self.queue: list[_Event] = []
        self.seq = 0
        self.reminder_days: set[date] = set()
        self.stats = {"acknowledged": 0, "actions": 0, "skipped": 0, "reminder_passes": 0}
        self.paths: dict[int, tuple[float, float, float, float]] = {}  # target id → (start, goal, t0, t1)

    # -- time ------------------------------------------------------------------------------------------
    def at(self, day: date, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(day, time(hour, minute), tzinfo=LOCAL_TZ).astimezone(UTC)

    def office_hours(self, day: date) -> datetime:
        return self.at(day, self.rng.randint(9, 17), self.rng.choice((0, 10, 20, 30, 40, 50)))

    def schedule(self, when: datetime, action: Callable[[datetime], None]) -> None:
        if local(when).date() > self.until or when < self.start:
            return
        self.seq += 1
        heapq.heappush(self.queue, _Event(when, self.seq, action))

    def workday(self, d: date, n: int) -> date:
        return self.cal.add_workdays(d, n)

    # -- people ----------------------------------------------------------------------------------------
    def ensure_people(self) -> None:
        self.office = db.session.scalar(select(User).where(User.role == Role.OFFICE, User.active.is_(True))
                                        .order_by(User.id))
        if self.office is None:
            self.office = create_user("sim-office", SIM_PASSWORD, Role.OFFICE, now=self.start,
                                      display_name="模拟办公室")
        dept_ids = sorted(set(db.session.scalars(
            select(Assignment.department_id).join(Task).where(Task.plan_id == self.plan.id))))
        self.liaisons: dict[int, User] = {}
        for dept_id in dept_ids:
            user = db.session.scalar(select(User).where(User.department_id == dept_id, User.role == Role.LIAISON,
                                                        User.active.is_(True)).order_by(User.id))
            if user is None:
                dept = db.session.get(Department, dept_id)
                user = create_user(f"sim-liaison-{dept_id}", SIM_PASSWORD, Role.LIAISON, now=self.start,
                                   department=dept, display_name=f"{dept.name}联络员")
            self.liaisons[dept_id] = user
        db.session.commit()

    def run_action(self, fn: Callable[[], object]) -> bool:
        try:
            fn()
            self.stats["actions"] += 1
            return True
        except DomainError:
            db.session.rollback()
            self.stats["skipped"] += 1
            return False

    # -- targets ---------------------------------------------------------------------------------------
    def plan_targets(self) -> None:
        base = self.plan.valid_from or (self.start.year - 1)
        tasks = db.session.scalars(select(Task).where(Task.plan_id == self.plan.id).order_by(Task.id)).all()
        for task in tasks:
            for target in sorted(task.targets, key=lambda t: t.id):
                goal = float(target.value)
                year = target.year or self.plan.valid_to or self.until.year
                if target.comparator == "<=":
                    first = goal * self.rng.uniform(1.08, 1.35)
                else:
                    first = goal * self.rng.uniform(0.7, 0.93)
                t0 = date(base, 12, 31).toordinal()
                t1 = date(max(year, base + 1), 12, 31).toordinal()
                self.paths[target.id] = (first, goal, t0, t1)

    def value_at(self, target, day: date) -> Decimal:
        first, goal, t0, t1 = self.paths[target.id]
        share = min(max((day.toordinal() - t0) / (t1 - t0), 0.0), 1.0)
        value = first + (goal - first) * share
        value += abs(goal - first) * self.rng.uniform(-0.08, 0.08)
        if (target.unit or "").strip() in ("%", "％"):
            value = min(value, 100.0)
        value = max(value, 0.0)
        places = 0 if abs(goal) >= 1000 and float(goal).is_integer() else 2
        return Decimal(str(round(value, places)))

    # -- report content --------------------------------------------------------------------------------
    def percent_for(self, period: Period) -> int:
        year_start = date(period.end.year, 1, 1).toordinal()
        share = (period.end.toordinal() - year_start + 1) / 365
        return max(5, min(100, int(share * 100 + self.rng.randint(-12, 6))))

    def report_input(self, report: Report, *, complete: bool, note: str = "") -> ReportInput:
        title = _short(report.task.title)
        percent = self.percent_for(report.period)
        narrative = self.rng.choice(NARRATIVE_OPENINGS).format(title=title) + self.rng.choice(
            NARRATIVE_PROGRESS).format(percent=percent, n=self.rng.randint(2, 6), m=self.rng.randint(2, 9))
        if note:
            narrative += "\n" + note
        progress = ("completed" if percent >= 100 else
                    self.rng.choices(("on_track", "at_risk", "behind"), weights=(75, 17, 8))[0])
        values = {}
        for target in report.task.targets:
            if not complete and self.rng.random() < P_VALUE_MISSING_IN_DRAFT:
                values[target.id] = None
            else:
                values[target.id] = self.value_at(target, report.period.end)
        return ReportInput(narrative=narrative, percent_complete=percent, progress=progress,
                           difficulties=self.rng.choice(DIFFICULTIES), next_steps=self.rng.choice(NEXT_STEPS),
                           values=values)

    def return_reason(self, report: Report) -> str:
        targets = list(report.task.targets)
        if targets and self.rng.random() < 0.4:
            metric = self.rng.choice(targets).metric or "相关指标"
            return f"请补充{metric}的统计口径"
        return self.rng.choice(RETURN_REASONS)

    # -- the plan of play ------------------------------------------------------------------------------
    def setup(self) -> None:
        self.ensure_people()
        self.plan_targets()
        first_day = local(self.start).date()
        # Acknowledgements: within the first week or so.
        pending = db.session.scalars(select(Assignment).join(Task).where(
            Task.plan_id == self.plan.id, Assignment.status == AssignmentStatus.PENDING).order_by(Assignment.id)).all()
        for a in pending:
            day = self.workday(first_day, self.rng.choices((0, 1, 2, 3, 5, 8), weights=(2, 5, 4, 3, 2, 1))[0])
            self.schedule(max(self.office_hours(day), self.start), self.acknowledge_action(a.id))
        # Periods: open each as it starts; run the reminder passes at the days that matter.
        periods = db.session.scalars(select(Period).where(Period.plan_id == self.plan.id, Period.start <= self.until)
                                     .order_by(Period.start, Period.id)).all()
        for period in periods:
            opens = max(self.at(period.start, 8), self.start)
            self.schedule(opens, self.open_action(period.id))
            d = period.deadline
            for offset in (1, 3, 5, 10, 15):
                self.reminder_days.add(self.workday(d, offset))
            self.reminder_days.add(d)
        for day in sorted(self.reminder_days):
            self.schedule(self.at(day, 8, 30), self.reminder_action())

    def run(self) -> None:
        self.setup()
        while self.queue:
            event = heapq.heappop(self.queue)
            event.action(event.when)

    # -- actions ---------------------------------------------------------------------------------------
    def acknowledge_action(self, assignment_id: int):
        def act(now: datetime) -> None:
            a = db.session.get(Assignment, assignment_id)
            user = self.liaisons.get(a.department_id)
            if user is not None and a.status == AssignmentStatus.PENDING and self.run_action(
                    lambda: acknowledge(a, actor=user, now=now)):
                self.stats["acknowledged"] += 1
        return act

    def reminder_action(self):
        def act(now: datetime) -> None:
            run_reminders(now=now, calendar=self.cal)
            self.stats["reminder_passes"] += 1
        return act

    def open_action(self, period_id: int):
        def act(now: datetime) -> None:
            open_due_periods(self.plan, now=now)
            db.session.commit()
            period = db.session.get(Period, period_id)
            reports = db.session.scalars(select(Report).where(Report.period_id == period_id)
                                         .order_by(Report.id)).all()
            for report in reports:
                self.plan_report(report, period)
            contributions = db.session.scalars(select(Contribution).where(Contribution.period_id == period_id)
                                               .order_by(Contribution.id)).all()
            for contribution in contributions:
                self.plan_contribution(contribution, period)
        return act

    def plan_report(self, report: Report, period: Period) -> None:
        if report.status != ReportStatus.DRAFT or report.first_submitted_at is not None:
            return
        # A draft a few working days before the end of the period.
        draft_day = max(local(self.start).date(), self.workday(period.end - _days(10), 0))
        roll = self.rng.random()
        if roll < P_MISSING:
            submit_day = None
        elif roll < P_MISSING + P_LATE:
            submit_day = self.workday(period.deadline, self.rng.randint(1, 15))
        else:
            window = max(self.cal.workdays_between(period.end, period.deadline), 1)
            submit_day = self.workday(period.end, self.rng.randint(1, window))
        self.schedule(self.office_hours(draft_day), self.draft_action(report.id))
        if submit_day is not None:
            self.schedule(self.office_hours(submit_day), self.submit_action(report.id))

    def plan_contribution(self, contribution: Contribution, period: Period) -> None:
        if contribution.status != ContributionStatus.DRAFT:
            return
        draft_day = max(local(self.start).date(), self.workday(period.end - _days(7), 0))
        roll = self.rng.random()
        if roll < P_CONTRIBUTION_MISSING:
            submit_day = None
        elif roll < P_CONTRIBUTION_MISSING + P_CONTRIBUTION_LATE:
            submit_day = self.workday(period.deadline, self.rng.randint(1, 10))
        else:
            window = max(self.cal.workdays_between(period.end, period.deadline) - 1, 1)
            submit_day = self.workday(period.end, self.rng.randint(1, window))
        text = self.rng.choice(CONTRIBUTION_TEXTS).format(title=_short(contribution.task.title),
                                                          n=self.rng.randint(2, 8), m=self.rng.randint(1, 5))
        if self.rng.random() < P_CONTRIBUTION_DRAFT_FIRST:
            self.schedule(self.office_hours(draft_day), self.contribution_action(contribution.id, text, submit=False))
        if submit_day is not None:
            self.schedule(self.office_hours(submit_day), self.contribution_action(contribution.id, text, submit=True))

    def draft_action(self, report_id: int):
        def act(now: datetime) -> None:
            report = db.session.get(Report, report_id)
            user = self.liaisons.get(report.department_id)
            if user is None or report.status != ReportStatus.DRAFT:
                return
            data = self.report_input(report, complete=False)
            self.run_action(lambda: save_report(report, data, actor=user, now=now, version=report.version))
        return act

    def submit_action(self, report_id: int, note: str = ""):
        def act(now: datetime) -> None:
            report = db.session.get(Report, report_id)
            user = self.liaisons.get(report.department_id)
            if user is None or report.status not in (ReportStatus.DRAFT, ReportStatus.RETURNED):
                return
            data = self.report_input(report, complete=True, note=note)
            if self.run_action(lambda: save_report(report, data, actor=user, now=now, version=report.version,
                                                   submit=True)):
                review_day = self.workday(local(now).date(), self.rng.choices((1, 2, 3, 4, 6),
                                                                              weights=(3, 4, 3, 2, 1))[0])
                self.schedule(self.office_hours(review_day), self.review_action(report_id))
        return act

    def review_action(self, report_id: int):
        def act(now: datetime) -> None:
            report = db.session.get(Report, report_id)
            if report.status != ReportStatus.SUBMITTED:
                return
            chance = P_RETURN if report.return_count == 0 else P_RETURN_AGAIN
            if report.return_count < 2 and self.rng.random() < chance:
                reason = self.return_reason(report)
                if self.run_action(lambda: return_report(report, actor=self.office, now=now, reason=reason,
                                                         version=report.version)):
                    day = self.workday(local(now).date(), self.rng.randint(1, 6))
                    self.schedule(self.office_hours(day), self.submit_action(report_id, self.rng.choice(
                        RESUBMIT_NOTES)))
                    grace_end = self.workday(local(now).date(), self.rules["returned_grace_workdays"])
                    for offset in (1, 3, 5):
                        day = self.workday(grace_end, offset)
                        if day not in self.reminder_days:
                            self.reminder_days.add(day)
                            self.schedule(self.at(day, 8, 30), self.reminder_action())
            else:
                comment = self.rng.choice(("", "", "内容详实，同意。", "请继续保持工作进度。"))
                self.run_action(lambda: approve_report(report, actor=self.office, now=now, comment=comment,
                                                       version=report.version))
        return act

    def contribution_action(self, contribution_id: int, text: str, *, submit: bool):
        def act(now: datetime) -> None:
            contribution = db.session.get(Contribution, contribution_id)
            user = self.liaisons.get(contribution.department_id)
            if user is None or contribution.status != ContributionStatus.DRAFT:
                return
            self.run_action(lambda: save_contribution(contribution, text, actor=user, now=now,
                                                      version=contribution.version, submit=submit))
        return act


def _days(n: int) -> timedelta:
    return timedelta(days=n)


def summary(plan: Plan, *, until: date) -> dict:
    """The contract's counts, read from the database (so they hold for any history, simulated or real)."""
    rows = db.session.execute(
        select(Report.status, Report.first_submitted_at, Report.return_count, Period.deadline)
        .join(Period, Report.period_id == Period.id).where(Period.plan_id == plan.id)
    ).all()
    by_status = {s: 0 for s in ReportStatus}
    result = {"reports": len(rows), "submitted": 0, "late": 0, "returned": 0, "approved": 0, "missing": 0}
    returns = 0
    for status, first_submitted, return_count, deadline in rows:
        by_status[status] += 1
        returns += return_count or 0
        if first_submitted is not None:
            result["submitted"] += 1
            if local(first_submitted).date() > deadline:
                result["late"] += 1
        elif deadline <= until:
            result["missing"] += 1
        if return_count:
            result["returned"] += 1
        if status == ReportStatus.APPROVED:
            result["approved"] += 1
    result["due"] = sum(1 for r in rows if r.deadline <= until)
    result["by_status"] = {str(k): v for k, v in by_status.items()}
    result["returns"] = returns
    crow = db.session.execute(
        select(Contribution.status, Contribution.submitted_at, Period.deadline)
        .join(Period, Contribution.period_id == Period.id).where(Period.plan_id == plan.id)
    ).all()
    result["contributions"] = {
        "total": len(crow),
        "submitted": sum(1 for c in crow if c.status == ContributionStatus.SUBMITTED),
        "late": sum(1 for c in crow if c.submitted_at is not None and local(c.submitted_at).date() > c.deadline),
        "missing": sum(1 for c in crow if c.status == ContributionStatus.DRAFT and c.deadline <= until),
    }
    esc = dict(db.session.execute(select(Escalation.status, func.count()).where(Escalation.plan_id == plan.id)
                                  .group_by(Escalation.status)).all())
    result["escalations"] = {"opened": sum(esc.values()), "open": esc.get(EscalationStatus.OPEN, 0),
                             "closed": esc.get(EscalationStatus.CLOSED, 0)}
    result["acknowledged"] = db.session.scalar(
        select(func.count(Assignment.id)).join(Task).where(Task.plan_id == plan.id,
                                                           Assignment.status == AssignmentStatus.ACKNOWLEDGED)) or 0
    return result


def default_start(plan: Plan) -> datetime:
    """The publication, or the start of the first period when the plan was published with periods already
    under way (`plan publish --first-period 2026Q1` in November): the year is then played from its start."""
    first = db.session.scalar(select(func.min(Period.start)).where(Period.plan_id == plan.id))
    if first is None:
        return plan.published_at
    return min(plan.published_at, datetime.combine(first, time(8), tzinfo=LOCAL_TZ).astimezone(UTC))


def simulate(plan: Plan, *, until: date, seed: int = 1, start: datetime | None = None) -> dict:
    """Play the plan's departments and office from default_start() (or `start`) until the end of `until`
    (Asia/Shanghai); returns the contract's counts plus details. The plan must be published."""
    if plan.status != PlanStatus.PUBLISHED or plan.published_at is None:
        raise Conflict(f"方案 #{plan.id} 尚未发布，不能模拟。")
    start = start or default_start(plan)
    if local(start).date() > until:
        raise Conflict(f"模拟截止日 {until:%Y-%m-%d} 早于开始时间 {local(start):%Y-%m-%d}。")
    sim = Simulation(plan, until=until, seed=seed, start=start)
    sim.run()
    result = summary(plan, until=until)
    result.update({"plan": plan.id, "seed": seed, "start": local(start).date().isoformat(),
                   "until": until.isoformat(), "reminder_passes": sim.stats["reminder_passes"],
                   "actions": sim.stats["actions"], "skipped": sim.stats["skipped"]})
    return result
