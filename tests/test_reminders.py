"""The reminder rules over time: a frozen clock, one pass a day through a whole quarter of the bundled plan."""
from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select, update

from models import (
    Contribution,
    ContributionStatus,
    Escalation,
    EscalationStatus,
    Notification,
    Period,
    Report,
    ReportStatus,
    Role,
    Task,
)
from tests.conftest import make_user
from tests.factories import published_fushun, report_for
from workflow.calendar.office import office_calendar
from workflow.extensions import db
from workflow.reports.services import ReportInput, save_report
from workflow.review.services import return_report
from workflow.scheduling.reminders import run_reminders

HOUSING = "市住房城乡建设局"


def at_nine(day: date) -> datetime:
    """09:00 in Shanghai."""
    return datetime(day.year, day.month, day.day, 1, 0, tzinfo=UTC)


def settle_everything_but(plan, keep: Report) -> None:
    """Mark every 2026Q1 report and contribution approved/submitted except `keep` (test set-up shortcut)."""
    q1 = select(Period.id).where(Period.plan_id == plan.id, Period.key == "2026Q1").scalar_subquery()
    db.session.execute(update(Report).where(Report.period_id == q1, Report.id != keep.id)
                       .values(status=ReportStatus.APPROVED))
    db.session.execute(update(Contribution).where(Contribution.period_id == q1)
                       .values(status=ContributionStatus.SUBMITTED))
    db.session.commit()


def test_a_quarter_of_daily_passes(app):
    plan, office = published_fushun(now=at_nine(date(2026, 4, 1)))
    liaison = make_user(Role.LIAISON, HOUSING, username="housing-liaison")
    make_user(Role.DEPT_HEAD, HOUSING, username="housing-head")
    report = report_for(plan, "3.4.3")
    settle_everything_but(plan, report)
    cal = office_calendar()

    log: dict[date, list[dict]] = defaultdict(list)
    day = date(2026, 4, 1)
    while day <= date(2026, 6, 30):
        if day == date(2026, 4, 20):  # the liaison finally submits, in the morning
            save_report(report, ReportInput(narrative="已完成", percent_complete=30, progress="behind",
                                            values={t.id: "90" for t in report.task.targets}),
                        actor=liaison, now=at_nine(day) - timedelta(hours=1), version=report.version, submit=True)
            # submitting closes the escalation at once, not at the next pass
            escalation = db.session.scalar(select(Escalation))
            assert escalation.status == EscalationStatus.CLOSED and escalation.close_reason == "submitted"
        result = run_reminders(now=at_nine(day))
        for item in result["queued"]:
            if item["task"] == "3.4.3" and item["period"] == "2026Q1":
                log[day].append(item)
        if result["escalations_opened"] or result["escalations_closed"]:
            log[day].append({"escalations": result["escalations_opened"] + result["escalations_closed"]})
        if not cal.is_workday(day):
            assert result["queued"] == [], day  # nothing on weekends and holidays (Qingming 4–6 April)
        day += timedelta(days=1)

    def who(d: date) -> set[tuple[str, int, str]]:
        return {(i["kind"], i["level"], i["recipient"]) for i in log[d] if "kind" in i}

    assert who(date(2026, 4, 1)) == set()  # four working days before the 8 April deadline
    assert who(date(2026, 4, 2)) == {("due_soon", 0, "housing-liaison")}
    assert who(date(2026, 4, 3)) == set()  # already told; no repeat
    assert who(date(2026, 4, 8)) == {("due_today", 0, "housing-liaison")}
    assert who(date(2026, 4, 9)) == {("overdue", 1, "housing-liaison")}
    assert who(date(2026, 4, 10)) == set()
    assert who(date(2026, 4, 13)) == {("overdue", 2, "housing-head"), ("overdue", 2, "housing-liaison")}
    assert who(date(2026, 4, 14)) == set()
    assert who(date(2026, 4, 15)) == {("escalation", 3, "office1"), ("escalation", 3, "housing-head")}
    opened = [i for i in log[date(2026, 4, 15)] if "escalations" in i][0]["escalations"]
    assert [(e["task"], e["cause"], e["days_late"]) for e in opened] == [("3.4.3", "overdue", 5)]
    assert not [i for i in log[date(2026, 4, 20)] if "escalations" in i]  # nothing left for the pass to close
    reminder_days = sorted(d for d, items in log.items() if any("kind" in i for i in items))
    # submitted on 20 April and not reviewed: the office is reminded three working days later
    assert who(date(2026, 4, 23)) == {("review_pending", 0, "office1")}
    assert reminder_days == [date(2026, 4, 2), date(2026, 4, 8), date(2026, 4, 9), date(2026, 4, 13),
                             date(2026, 4, 15), date(2026, 4, 23)]
    escalation = db.session.scalar(select(Escalation))
    assert escalation.status == EscalationStatus.CLOSED and escalation.close_reason == "submitted"


def test_second_pass_at_the_same_time_queues_nothing_and_dry_run_writes_nothing(app):
    plan, _ = published_fushun(now=at_nine(date(2026, 4, 1)))
    make_user(Role.LIAISON, HOUSING)
    now = at_nine(date(2026, 4, 9))
    dry = run_reminders(now=now, dry_run=True)
    assert dry["queued"] and db.session.scalar(select(func.count(Notification.id)).where(
        Notification.kind == "overdue")) == 0
    first = run_reminders(now=now)
    assert [q for q in first["queued"]] == dry["queued"]
    assert run_reminders(now=now) == {"queued": [], "escalations_opened": [], "escalations_closed": []}


def test_after_downtime_each_item_is_queued_once_at_its_current_level(app):
    plan, _ = published_fushun(now=at_nine(date(2026, 4, 1)))
    liaison = make_user(Role.LIAISON, HOUSING, username="l")
    make_user(Role.DEPT_HEAD, HOUSING, username="h")
    result = run_reminders(now=at_nine(date(2026, 4, 20)))  # the scheduler was down since publishing
    mine = [q for q in result["queued"] if q["task"] == "3.4.3" and q["period"] == "2026Q1"]
    assert {(q["kind"], q["level"]) for q in mine} == {("escalation", 3)}
    assert not db.session.scalar(select(func.count(Notification.id)).where(
        Notification.user_id == liaison.id, Notification.kind.in_(["due_soon", "due_today", "overdue"])))


def test_returned_report_ladder_counts_from_the_return(app):
    plan, office = published_fushun(now=at_nine(date(2026, 4, 1)))
    liaison = make_user(Role.LIAISON, HOUSING, username="l")
    report = report_for(plan, "3.4.3")
    save_report(report, ReportInput(narrative="x", percent_complete=10, progress="on_track",
                                    values={t.id: "1" for t in report.task.targets}),
                actor=liaison, now=at_nine(date(2026, 4, 7)), version=report.version, submit=True)
    return_report(report, actor=office, now=at_nine(date(2026, 4, 9)), reason="数据口径不清")
    # 3 working days of grace after the 9 April return: 10, 13, 14 April; level 1 on the next working day
    for day, expected in ((date(2026, 4, 14), set()), (date(2026, 4, 15), {("returned_overdue", 1)})):
        result = run_reminders(now=at_nine(day))
        got = {(q["kind"], q["level"]) for q in result["queued"]
               if q["task"] == "3.4.3" and q["period"] == "2026Q1" and q["recipient"] == "l"}
        assert got == expected, day


def test_submitted_and_not_reviewed_reminds_the_office(app):
    plan, office = published_fushun(now=at_nine(date(2026, 4, 1)))
    liaison = make_user(Role.LIAISON, HOUSING, username="l")
    report = report_for(plan, "3.4.3")
    save_report(report, ReportInput(narrative="x", percent_complete=10, progress="on_track",
                                    values={t.id: "1" for t in report.task.targets}),
                actor=liaison, now=at_nine(date(2026, 4, 2)), version=report.version, submit=True)
    result = run_reminders(now=at_nine(date(2026, 4, 8)))  # 3, 7, 8 April: three working days waiting
    assert {(q["kind"], q["recipient"]) for q in result["queued"] if q["task"] == "3.4.3"} >= {
        ("review_pending", "office1")}


def test_cli_from_a_fresh_database(runner):
    """The issue's command-line acceptance: demo load, publish, run-once twice."""
    assert runner.invoke(args=["demo", "load"]).exit_code == 0
    assert runner.invoke(args=["plan", "publish", "1", "--first-period", "2026Q1"]).exit_code == 0
    first = runner.invoke(args=["reminders", "run-once", "--now", "2026-04-20T09:00+08:00", "--format", "json"])
    assert first.exit_code == 0, first.output
    data = json.loads(first.stdout)
    involved = {a.department.name for t in db.session.scalars(select(Task)) for a in t.active_assignments}
    assert {q["department"] for q in data["queued"]} == involved
    assert all(set(q) >= {"kind", "level", "recipient", "department", "task", "period"} for q in data["queued"])
    assert data["escalations_opened"]
    second = runner.invoke(args=["reminders", "run-once", "--now", "2026-04-20T09:00+08:00", "--format", "json"])
    assert json.loads(second.stdout) == {"queued": [], "escalations_opened": [], "escalations_closed": []}
    bad = runner.invoke(args=["reminders", "run-once", "--now", "2026-04-20 09:00"])
    assert bad.exit_code != 0 and "时区" in bad.stderr
