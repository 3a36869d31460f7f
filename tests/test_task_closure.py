"""Closing a task (办结销号 or a plan revision) and reopening it: what it owed is withdrawn, not deleted; no period,
reminder or escalation for it while closed; the next period after reopening brings its reports back."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from models import AuditEvent, Notification, Period, Report, Role, TaskStatus
from tests.conftest import make_user
from tests.factories import liaison_of, published_fushun, report_for
from workflow.calendar.lateness import ON_TIME, days_late
from workflow.calendar.office import office_calendar
from workflow.domain import Conflict, PermissionDenied, ValidationFailed
from workflow.extensions import db
from workflow.scheduling.reminders import run_reminders
from workflow.tasks.closure import close_task, reopen_task

HOUSING = "市住房城乡建设局"   # leads 3.4.3
CLOSED_AT = datetime(2026, 4, 3, 2, tzinfo=UTC)


@pytest.fixture
def world(app):
    plan, office = published_fushun()
    report = report_for(plan, "3.4.3")
    return {"plan": plan, "office": office, "report": report, "task": report.task, "liaison": liaison_of(HOUSING)}


def reports_of(task, period_key):
    return db.session.scalar(select(func.count()).select_from(Report).join(Period)
                             .where(Report.task_id == task.id, Period.key == period_key))


def test_closing_withdraws_what_it_owed_and_keeps_it(world):
    task, report = world["task"], world["report"]
    close_task(task, actor=world["office"], now=CLOSED_AT, reason="已全部完成")
    db.session.expire_all()
    assert (task.status, task.close_reason, task.closed_at) == (TaskStatus.CLOSED, "已全部完成", CLOSED_AT)
    assert report.withdrawn_at == CLOSED_AT and report.status == "draft"     # kept, not deleted
    assert not report.can_edit(world["liaison"])
    assert days_late(report, datetime(2026, 6, 1).date(), office_calendar()) == ON_TIME
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "task")).all()
    assert actions == ["task.close", "task.withdraw"]


def test_a_closed_task_gets_no_period_and_no_reminder_and_reopens_from_the_next(world):
    task = world["task"]
    close_task(task, actor=world["office"], now=CLOSED_AT, reason="已全部完成")
    run_reminders(now=datetime(2026, 7, 20, 1, tzinfo=UTC))        # 2026Q3 opened, 2026Q2 long overdue
    assert reports_of(task, "2026Q3") == 0
    links = set(db.session.scalars(select(Notification.link)))
    owed = {f"/reports/{r}" for r in db.session.scalars(select(Report.id).where(Report.task_id == task.id))}
    assert links and not links & owed, links & owed
    reopen_task(task, actor=world["office"], now=datetime(2026, 8, 3, 2, tzinfo=UTC), reason="需继续推进")
    assert task.status == TaskStatus.OPEN and task.closed_at is None
    run_reminders(now=datetime(2026, 10, 9, 1, tzinfo=UTC))        # 2026Q4 opened
    assert reports_of(task, "2026Q3") == 0 and reports_of(task, "2026Q4") == 1


def test_bad_closures_are_refused_with_nothing_written(world):
    task = world["task"]
    with pytest.raises(PermissionDenied):
        close_task(task, actor=world["liaison"], now=CLOSED_AT, reason="完成")
    with pytest.raises(ValidationFailed) as missing:
        close_task(task, actor=world["office"], now=CLOSED_AT, reason="  ")
    assert "reason" in missing.value.errors
    with pytest.raises(Conflict):
        reopen_task(task, actor=world["office"], now=CLOSED_AT, reason="x")
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.object_type == "task")) == 0
    close_task(task, actor=None, now=CLOSED_AT, reason="方案修订删除该任务")      # the system's own move
    with pytest.raises(Conflict) as twice:
        close_task(task, actor=world["office"], now=CLOSED_AT, reason="again")
    assert "3.4.3" in twice.value.message
    with pytest.raises(PermissionDenied):
        reopen_task(task, actor=make_user(Role.LEADER, username="mayor"), now=CLOSED_AT, reason="x")
