"""A task's own completion deadline (完成时限, Task.due read from the plan's text) drives reminders of its own:
the lead's liaisons some working days before it, and once it has passed with the task still open, the lead and
the office, once per task and due date. A closed task (办结销号) and a task without a date get none."""
from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from models import Notification
from tests.factories import liaison_of, published_fushun, report_for
from workflow.extensions import db
from workflow.scheduling.reminders import TASK_DUE_SOON, TASK_OVERDUE, run_reminders
from workflow.tasks.closure import close_task

HOUSING = "市住房城乡建设局"   # leads 3.4.3
DUE = date(2026, 6, 30)        # a Tuesday


@pytest.fixture
def world(app):
    plan, office = published_fushun()
    task = report_for(plan, "3.4.3").task
    task.due = DUE
    db.session.commit()
    return {"plan": plan, "office": office, "task": task, "liaison": liaison_of(HOUSING)}


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 1, tzinfo=UTC)   # 09:00 in Shanghai


def task_notes(task, kind):
    return db.session.scalars(select(Notification).where(Notification.kind == kind,
                                                         Notification.link == f"/tasks/{task.id}")).all()


def test_the_lead_is_reminded_before_the_due_date_once(world):
    task, liaison = world["task"], world["liaison"]
    run_reminders(now=at(date(2026, 6, 1)))                      # 21 working days before: too early
    assert task_notes(task, TASK_DUE_SOON) == []
    run_reminders(now=at(date(2026, 6, 17)))                     # within 10 working days
    notes = task_notes(task, TASK_DUE_SOON)
    assert [n.user_id for n in notes] == [liaison.id]
    assert "2026-06-30" in notes[0].subject and "3.4.3" in notes[0].subject
    run_reminders(now=at(date(2026, 6, 18)))                     # the next day: not again
    assert len(task_notes(task, TASK_DUE_SOON)) == 1
    assert task_notes(task, TASK_OVERDUE) == []


def test_past_the_due_date_the_lead_and_the_office_are_told_once(world):
    task, liaison, office = world["task"], world["liaison"], world["office"]
    run_reminders(now=at(date(2026, 7, 2)))                      # two working days past
    notes = task_notes(task, TASK_OVERDUE)
    assert {n.user_id for n in notes} >= {liaison.id, office.id}
    assert all(n.data["days_late"] == 2 and n.data["deadline"] == "2026-06-30" for n in notes)
    count = len(notes)
    run_reminders(now=at(date(2026, 7, 9)))
    assert len(task_notes(task, TASK_OVERDUE)) == count


def test_a_closed_task_and_a_task_without_a_date_are_left_alone(world):
    task = world["task"]
    close_task(task, actor=world["office"], now=at(date(2026, 6, 10)), reason="已全部完成")
    other = report_for(world["plan"], "3.4.2").task
    assert other.due is None
    run_reminders(now=at(date(2026, 6, 17)))
    run_reminders(now=at(date(2026, 7, 2)))
    for kind in (TASK_DUE_SOON, TASK_OVERDUE):
        assert task_notes(task, kind) == [] and task_notes(other, kind) == []
