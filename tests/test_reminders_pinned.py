"""The reminder pass pinned: fifty daily passes over a rich world — two plans with different rules, late,
returned twice, extended, submitted and left unreviewed, closed by the office, settled behind the pass's back,
a notice lost, an entered holiday, stand-ins (for a liaison, for the office, an inactive one), people joining
and leaving mid-way, instructions, tasks' own 完成时限 —
compared, pass by pass and row by row, with what the rules produced when this test was written
(tests/data/reminders_pinned.json). Set PIN_REMINDERS=1 to write the file anew after a deliberate change.

Ids are replaced by what they name (plan, task, period, department; usernames), so the record holds on every
backend whatever order rows were numbered in."""
from __future__ import annotations

import json
import os
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, select, update

from models import (
    AuditEvent,
    Contribution,
    ContributionStatus,
    Department,
    Escalation,
    HolidayEntry,
    Instruction,
    Notice,
    Notification,
    Period,
    Plan,
    Report,
    ReportStatus,
    Role,
    Substitute,
    Task,
    User,
)
from tests.conftest import FUSHUN, make_user
from tests.factories import liaison_of, published_plan, report_for
from workflow.escalations.services import close_escalation
from workflow.extension_requests.services import approve_extension, request_extension
from workflow.extensions import db
from workflow.instructions.services import create_instruction, subject_for
from workflow.reports.services import ReportInput, save_report
from workflow.review.services import return_report
from workflow.scheduling.reminders import run_reminders
from workflow.tasks.closure import close_task

PINNED = Path(__file__).parent / "data" / "reminders_pinned.json"
HOUSING, NDRC = "市住房城乡建设局", "市发展改革委"
KEPT = ("3.4.3", "3.1.1", "3.1.2", "3.4.1", "3.5.2", "3.5.1")   # the tasks left outstanding in 2026Q1
OTHER_RULES = {"due_soon_workdays": 5, "level1_late": 2, "level2_late": 4, "level3_late": 7,
               "returned_grace_workdays": 2, "review_grace_workdays": 1, "task_due_soon_workdays": 5}


def at(day: date, hour: int = 9) -> datetime:
    return datetime(day.year, day.month, day.day, hour - 8, tzinfo=UTC)   # Shanghai time


def _world():
    text = FUSHUN.read_text("utf-8")
    plan_a, office = published_plan(text, "a.txt", now=at(date(2026, 4, 1)))
    plan_b, _ = published_plan(text.replace("碳达峰实施方案", "碳达峰实施方案（第2份）", 1), "b.txt", now=at(date(2026, 4, 1)))
    plan_b.reminder_rules = OTHER_RULES
    people = {"office": office, "housing": liaison_of(HOUSING), "ndrc": liaison_of(NDRC),
              "housing_head": make_user(Role.DEPT_HEAD, HOUSING, username="housing-head"),
              "ndrc_head": make_user(Role.DEPT_HEAD, NDRC, username="ndrc-head"),
              "leader": make_user(Role.LEADER, username="mayor"),
              "stand_in": make_user(Role.LIAISON, NDRC, username="stand-in")}
    for plan in (plan_a, plan_b):   # every 2026Q1 item settled but the kept tasks' (the record stays small)
        q1 = select(Period.id).where(Period.plan_id == plan.id, Period.key == "2026Q1").scalar_subquery()
        kept = select(Task.id).where(Task.plan_id == plan.id, Task.code.in_(KEPT)).scalar_subquery()
        db.session.execute(update(Report).where(Report.period_id == q1, Report.task_id.not_in(kept))
                           .values(status=ReportStatus.APPROVED))
        db.session.execute(update(Contribution).where(Contribution.period_id == q1, Contribution.task_id.not_in(kept))
                           .values(status=ContributionStatus.SUBMITTED))
    for plan, due in ((plan_a, date(2026, 4, 30)), (plan_b, date(2026, 5, 8))):
        for code, shift in (("3.4.3", 0), ("3.4.1", 7)):
            report_for(plan, code).task.due = due + timedelta(days=shift)
    db.session.add(HolidayEntry(day=date(2026, 4, 16), kind="holiday", name="office's own", created_at=at(date(2026, 4, 1))))
    db.session.add(Substitute(user_id=people["housing"].id, substitute_id=people["stand_in"].id,
                              start_date=date(2026, 4, 13), end_date=date(2026, 4, 17), created_at=at(date(2026, 4, 1))))
    deputy, idle = make_user(Role.LIAISON, HOUSING, username="office-deputy"), make_user(Role.LIAISON, NDRC, username="idle")
    idle.active = False
    for holder, stand_in, start, end in ((office, deputy, date(2026, 4, 20), date(2026, 4, 24)),   # the office's
                                         (people["ndrc"], idle, date(2026, 4, 13), date(2026, 5, 20))):   # inactive
        db.session.add(Substitute(user_id=holder.id, substitute_id=stand_in.id, start_date=start, end_date=end,
                                  created_at=at(date(2026, 4, 1))))
    db.session.commit()
    return plan_a, plan_b, people


def _submit(report: Report, actor: User, when: datetime) -> None:
    save_report(report, ReportInput(narrative="进展", percent_complete=30, progress="on_track",
                                    values={t.id: "1" for t in report.task.targets}),
                actor=actor, now=when, version=report.version, submit=True)


def _events(plan_a, plan_b, people) -> dict:
    """What people do on which day (before that day's pass), as callables."""
    office, housing, ndrc = people["office"], people["housing"], people["ndrc"]

    def lead(plan, code):
        return report_for(plan, code)

    def liaison_of_report(report):
        return liaison_of(report.department.name)

    def submit_and_return_3_1_1():
        report = lead(plan_a, "3.1.1")
        _submit(report, liaison_of_report(report), at(date(2026, 4, 7)))
        return_report(report, actor=office, now=at(date(2026, 4, 9), 10), reason="数据口径不清")

    def second_round():
        report = lead(plan_a, "3.1.1")
        _submit(report, liaison_of_report(report), at(date(2026, 4, 20), 8))
        return_report(report, actor=office, now=at(date(2026, 4, 21), 16), reason="仍缺指标")

    def extend_3_4_1():
        report = lead(plan_a, "3.4.1")
        asker = liaison_of_report(report)
        request = request_extension(report, reason="数据未出", new_deadline=date(2026, 4, 24), actor=asker,
                                    now=at(date(2026, 4, 7)))
        approve_extension(request, actor=office, now=at(date(2026, 4, 7), 11))

    def submit_unreviewed():
        for plan in (plan_a, plan_b):
            report = lead(plan, "3.5.2")
            _submit(report, liaison_of_report(report), at(date(2026, 4, 10), 8))

    def instructions():
        for plan in (plan_a, plan_b):
            report = lead(plan, "3.4.3")
            subject = subject_for(report_id=report.id)
            dept = next(d for d in subject.departments if d.name == HOUSING)
            create_instruction(subject, text="请抓紧报送。", due_date=date(2026, 4, 15), department_id=dept.id,
                               actor=people["leader"], now=at(date(2026, 4, 8), 10))
        task = lead(plan_a, "3.1.2").task
        subject = subject_for(task_id=task.id)
        create_instruction(subject, text="请说明进度。", due_date=date(2026, 4, 22),
                           department_id=subject.departments[0].id, actor=people["leader"], now=at(date(2026, 4, 8), 11))

    def newcomers():
        make_user(Role.LIAISON, HOUSING, username="housing-new")

    def office_closes_one():
        escalation = db.session.scalar(select(Escalation).where(Escalation.report_id == lead(plan_a, "3.5.1").id))
        close_escalation(escalation, note="已电话督促", actor=office, now=at(date(2026, 4, 17), 10))

    def settled_behind_the_back():   # a submission that bypassed the transitions: the pass closes its escalation
        db.session.execute(update(Contribution).where(
            Contribution.task_id == lead(plan_b, "3.4.3").task_id,
            Contribution.period_id == lead(plan_b, "3.4.3").period_id).values(
            status=ContributionStatus.SUBMITTED, submitted_at=at(date(2026, 4, 22), 8)))
        db.session.commit()

    def lost_notice():
        escalation = db.session.scalar(select(Escalation).where(Escalation.report_id == lead(plan_b, "3.1.2").id))
        db.session.execute(delete(Notice).where(Notice.escalation_id == escalation.id))
        db.session.commit()

    def second_office_and_gone_head():
        make_user(Role.OFFICE, username="office2")
        people["ndrc_head"].active = False
        db.session.commit()

    def late_submission():
        report = lead(plan_a, "3.4.3")
        _submit(report, housing, at(date(2026, 4, 28), 8))

    def closes_a_task():
        close_task(lead(plan_b, "3.5.1").task, actor=office, now=at(date(2026, 5, 6), 8), reason="合并办理")

    def ndrc_submits():
        _submit(lead(plan_b, "3.1.1"), ndrc, at(date(2026, 5, 11), 8))

    return {date(2026, 4, 7): [submit_and_return_3_1_1, extend_3_4_1], date(2026, 4, 8): [instructions],
            date(2026, 4, 10): [submit_unreviewed], date(2026, 4, 14): [newcomers],
            date(2026, 4, 17): [office_closes_one], date(2026, 4, 20): [second_round],
            date(2026, 4, 22): [settled_behind_the_back], date(2026, 4, 23): [lost_notice],
            date(2026, 4, 27): [second_office_and_gone_head], date(2026, 4, 28): [late_submission],
            date(2026, 5, 6): [closes_a_task], date(2026, 5, 11): [ndrc_submits]}


class Names:
    """Ids in keys and links replaced by what they name."""

    def __init__(self):
        plans = {p.id: f"P{n}" for n, p in enumerate(db.session.scalars(select(Plan).order_by(Plan.id)), 1)}
        self.users = dict(db.session.execute(select(User.id, User.username)).all())

        def item(model):
            rows = db.session.execute(select(model.id, Task.plan_id, Task.code, Period.key, Department.name)
                                      .join(Task, model.task_id == Task.id).join(Period, model.period_id == Period.id)
                                      .join(Department, model.department_id == Department.id))
            return {i: f"{plans[p]}/{code}/{key}/{dept}" for i, p, code, key, dept in rows}

        self.of = {"r": item(Report), "c": item(Contribution),
                   "t": {i: f"{plans[p]}/{code}" for i, p, code in db.session.execute(
                       select(Task.id, Task.plan_id, Task.code))},
                   "i": {i: f"{plans[p]}/{code}/{n}" for n, (i, p, code) in enumerate(db.session.execute(
                       select(Instruction.id, Task.plan_id, Task.code).join(Task).order_by(Instruction.due_date,
                                                                                             Task.plan_id, Task.code)))}}

    def __call__(self, text: str) -> str:
        text = re.sub(r":u(\d+)$", lambda m: f":u[{self.users[int(m[1])]}]", text)
        text = re.sub(r"(?<=:)([rcit])(\d+)(?=:|$)", lambda m: f"{m[1]}[{self.of[m[1]][int(m[2])]}]", text,
                      count=1)   # the subject; a round (:r2) after it stays
        for path, kind in (("/reports/contributions/", "c"), ("/reports/", "r"), ("/instructions/", "i"),
                           ("/tasks/", "t")):
            text = re.sub(rf"^{path}(\d+)$", lambda m, path=path, kind=kind: f"{path}[{self.of[kind][int(m[1])]}]",
                          text)
        return text


def _state(names: Names) -> dict:
    """Every notification, escalation and notice, and the audit trail's escalation rows, by name."""
    def moment(value):
        return value.isoformat() if value else None

    notes = []
    for n in db.session.scalars(select(Notification)):
        data = {**n.data, "link": names(n.data["link"])} if n.data and "link" in n.data else n.data
        notes.append([names(n.key), names.users[n.user_id], n.kind, n.level, n.subject, n.body, names(n.link), data,
                      moment(n.created_at)])
    escalations = [[names(e.key), e.status, e.cause, e.days_late, moment(e.opened_at), moment(e.closed_at),
                    e.close_reason, [e.notice.year, e.notice.number, e.notice.issued_on.isoformat(),
                                     {**e.notice.facts, "office_name": None}] if e.notice else None]
                   for e in db.session.scalars(select(Escalation))]
    audits = [[a.action, moment(a.at)] for a in db.session.scalars(
        select(AuditEvent).where(AuditEvent.action.like("escalation.%")))]
    return {"notifications": sorted(notes), "escalations": sorted(escalations), "audit": sorted(audits)}


def _recorded() -> dict:
    plan_a, plan_b, people = _world()
    events = _events(plan_a, plan_b, people)
    passes, day = {}, date(2026, 4, 1)
    while day <= date(2026, 5, 20):
        for event in events.get(day, []):
            event()
        if day == date(2026, 4, 15):   # a dry run first: the same answer, nothing written
            dry = run_reminders(now=at(day), dry_run=True)
            db.session.expire_all()
        result = run_reminders(now=at(day))
        if day == date(2026, 4, 15):
            assert dry == result
        names = Names()
        passes[day.isoformat()] = {
            "queued": result["queued"],
            "opened": [{**e, "key": names(e["key"])} for e in result["escalations_opened"]],
            "closed": [{**e, "key": names(e["key"])} for e in result["escalations_closed"]],
            "days_late": sorted([names(k), s, n] for k, s, n in db.session.execute(
                select(Escalation.key, Escalation.status, Escalation.days_late)))}
        assert run_reminders(now=at(day)) == {"queued": [], "escalations_opened": [], "escalations_closed": []}
        day += timedelta(days=1)
    return {"passes": passes, "final": _state(Names())}


def test_fifty_passes_do_exactly_what_they_did(app):
    got = json.loads(json.dumps(_recorded(), ensure_ascii=False, default=str))
    if os.environ.get("PIN_REMINDERS"):
        PINNED.parent.mkdir(exist_ok=True)
        PINNED.write_text(json.dumps(got, ensure_ascii=False, indent=0, sort_keys=True) + "\n", "utf-8")
    pinned = json.loads(PINNED.read_text("utf-8"))
    assert sum(len(p["queued"]) for p in pinned["passes"].values()) > 100   # the record is not empty
    for day in pinned["passes"]:
        assert got["passes"][day] == pinned["passes"][day], day
    for part in ("escalations", "audit", "notifications"):
        assert got["final"][part] == pinned["final"][part], part
