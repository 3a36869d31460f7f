"""The overview's every number pinned: the figures of each scope in total, per area and per department, and
each task line (light, reason, days, items per ladder level, contributions missing, open 督办, targets, the
report it links), on a plan with drafts (not due, due soon, overdue, one with an extended deadline), returned,
late, on-time and approved reports, and on the bundled plan played by `demo simulate` on two dates.

tests/data/overview_pinned.json was written by the overview that counted every report in Python, before its
handed-in reports were counted in SQL; a change in how the overview reads must leave it as it is.
Regenerate (only for a deliberate change of a rule): OVERVIEW_PIN_WRITE=1 pytest tests/test_overview_pinned.py
"""
from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import select

from models import Department, Period, Report, ReportStatus, Task
from tests.conftest import FUSHUN, import_text_plan
from tests.factories import PUBLISH_AT
from tests.test_overview import NOW, world
from workflow.assignments.services import publish_plan
from workflow.clock import LOCAL_TZ
from workflow.extensions import db
from workflow.overview import services
from workflow.simulation import simulate

PINNED = Path(__file__).parent / "data" / "overview_pinned.json"


def snapshot(plan, now: datetime) -> dict:
    """compute() at `now` for every scope, named by task codes, department names and period keys (ids differ
    between databases), plus the task list behind a few numbers."""
    o = services.compute(plan, now=now)
    names = dict(db.session.execute(select(Department.id, Department.name)).all())
    codes = dict(db.session.execute(select(Task.id, Task.code).where(Task.plan_id == plan.id)).all())
    report_keys = {r.id: f"{codes[r.task_id]}|{r.period.key}|{names[r.department_id]}"
                   for r in db.session.scalars(select(Report).join(Task).where(Task.plan_id == plan.id))}

    def per_department(d: dict) -> dict:
        return {names[k] if k else "-": v for k, v in sorted(d.items(), key=lambda kv: names.get(kv[0], ""))}

    def line(t: services.TaskLine) -> dict:
        return {"area": t.area, "leads": [names[d.id] for d in t.leads], "light": str(t.verdict.light),
                "reason": t.verdict.reason, "days": t.verdict.days, "missing": per_department(t.missing),
                "levels": {str(n): per_department(per) for n, per in sorted(t.levels.items())},
                "escalated": per_department(t.escalated),
                "targets": {names.get(k, "-") if k else "-": v for k, v in t.targets.items()},
                "report": report_keys.get(t.report_id)}

    out = {"period": o.period.key if o.period else None}
    for scope in services.SCOPES:
        out[scope] = {
            "figures": o.figures[scope].as_dict(),
            "areas": [[r.key, r.name, r.figures.as_dict()] for r in o.areas[scope]],
            "departments": [[r.name, r.figures.as_dict()] for r in o.departments[scope]],
            "tasks": {codes[t.task.id]: line(t) for t in o.tasks[scope]},
        }
        lists = {}
        for args in ({}, {"light": "red"}, {"light": "yellow"}, {"what": "missing"}, {"what": "level1"},
                     {"what": "escalated"}, {"target": "off_track"}):
            chosen, total = services.select_tasks(o, services.TaskSelection(scope=scope, **args))
            lists[json.dumps(args)] = [[codes[t.task.id] for t in chosen], total]
        out[scope]["lists"] = lists
    return json.loads(json.dumps(out))   # keys as JSON has them


def small_world() -> dict:
    """test_overview's world with 8 tasks and 3 departments, one draft's deadline extended past today."""
    with time_machine.travel(PUBLISH_AT, tick=False):
        plan, _office = world(per_area=4, departments=3, title="钉住方案")
    with time_machine.travel(NOW, tick=False):
        services.compute(plan, now=NOW)   # nothing opens on a read; the same numbers as the page's
        draft = db.session.scalar(select(Report).join(Period).join(Task)
                                  .where(Task.plan_id == plan.id, Report.status == ReportStatus.DRAFT,
                                         Period.key == "2026Q1").order_by(Task.position))
        draft.extended_deadline = NOW.date() + timedelta(days=5)
        db.session.commit()
        return snapshot(plan, NOW)


def played(until: date) -> dict:
    plan = import_text_plan(FUSHUN, FUSHUN.name)
    publish_plan(plan, actor=None, now=datetime(2026, 1, 5, 1, tzinfo=UTC), first_period="2026Q1")
    simulate(plan, until=until, seed=5)
    now = datetime.combine(until, time(18), tzinfo=LOCAL_TZ).astimezone(UTC)
    with time_machine.travel(now, tick=False):
        return snapshot(plan, now)


WORLDS = {"small": small_world, "played 2026-07-03": lambda: played(date(2026, 7, 3)),
          "played 2026-11-20": lambda: played(date(2026, 11, 20))}


@pytest.mark.parametrize("name", list(WORLDS))
def test_the_overview_gives_the_pinned_numbers(app, name):
    got = WORLDS[name]()
    pinned = json.loads(PINNED.read_text("utf-8")) if PINNED.exists() else {}
    if os.environ.get("OVERVIEW_PIN_WRITE"):
        pinned[name] = got
        PINNED.parent.mkdir(exist_ok=True)
        PINNED.write_text(json.dumps(pinned, ensure_ascii=False, indent=1, sort_keys=True) + "\n", "utf-8")
    assert got == pinned[name]
