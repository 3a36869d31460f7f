"""Acceptance (issue 14): `demo simulate` plays the bundled plan; on two dates the overview's figures, on the
page and in the API, equal what plain queries over the reports, contributions and escalations count, written
here from the rules the page prints and not from the overview's code.

The dates: Friday 3 July 2026 (2026Q2 ended on 30 June and is due Tuesday 7 July: reports due soon, 2026Q1
stragglers overdue, returns waiting) and Friday 20 November 2026 (2026Q3 long due, 督办 open, 2026Q4 running)."""
from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, time

import pytest
import time_machine
from sqlalchemy import select, text

from models import Role
from tests.conftest import FUSHUN, PASSWORD, import_text_plan, make_user
from workflow.assignments.services import publish_plan
from workflow.auth.tokens import create_token
from workflow.calendar.office import office_calendar
from workflow.clock import LOCAL_TZ
from workflow.evaluation.scoring import attainment, default_base_year, target_due
from workflow.extensions import db
from workflow.simulation import simulate

PUBLISHED = datetime(2026, 1, 5, 1, tzinfo=UTC)
N, M = 3, 1                         # the default thresholds: yellow within 3 working days, red from 1 late
GRACE, LEVEL1, LEVEL2, LEVEL3 = 3, 1, 3, 5   # the default reminder rules
STATES = ("not_due", "due_soon", "overdue", "submitted", "returned", "approved")
LIGHTS = ("red", "yellow", "green", "grey", "done")


def expected(plan_id: int, today: date) -> dict:
    """Every figure of the overview, counted with plain SQL and the calendar."""
    cal = office_calendar()
    late_cutoff = cal.last_workday(today)            # deadline before it: at least 1 working day late
    soon_cutoff = cal.add_workdays(today, N + 1)     # deadline before it: at most N working days away
    q = lambda sql, **kw: db.session.execute(text(sql), {"plan": plan_id, **kw}).all()  # noqa: E731
    periods = q("SELECT id, start, \"end\", opened FROM period WHERE plan_id = :plan ORDER BY start")
    opened = [p for p in periods if p.opened]
    ended = [p for p in opened if _d(p.end) < today]
    current = ended[-1] if ended else [p for p in opened if _d(p.start) <= today][-1]
    scopes = {"period": {current.id}, "year": {p.id for p in opened if _d(p.end).year == today.year},
              "all": {p.id for p in opened}}
    reports = q("""SELECT r.id, r.task_id, r.department_id, r.status, r.progress, r.reviewed_at, p.id AS period_id,
                          p.deadline, p.start FROM report r JOIN period p ON p.id = r.period_id
                   WHERE p.plan_id = :plan AND p.opened""")
    contributions = q("""SELECT c.task_id, c.department_id, c.status, p.id AS period_id, p.deadline
                         FROM contribution c JOIN period p ON p.id = c.period_id WHERE p.plan_id = :plan AND p.opened""")
    escalations = q("SELECT task_id, period_id, department_id FROM escalation WHERE plan_id = :plan AND status = 'open'")
    tasks = [t.id for t in q("SELECT id FROM task WHERE plan_id = :plan")]
    leads, involved = defaultdict(set), set()
    for t, d, role in q("""SELECT a.task_id, a.department_id, a.role FROM assignment a JOIN task t ON t.id = a.task_id
                           WHERE t.plan_id = :plan AND a.status IN ('pending', 'acknowledged', 'adjustment')"""):
        involved.add(d)
        if role == "lead":
            leads[t].add(d)

    def state(r) -> str:
        if r.status != "draft":
            return r.status
        deadline = _d(r.deadline)
        return "overdue" if deadline < late_cutoff else "due_soon" if deadline < soon_cutoff else "not_due"

    def late(r) -> int:
        """Working days late today of a report not handed in (a returned one from its resubmission deadline)."""
        if r.status == "returned":
            returned_on = _moment(r.reviewed_at).astimezone(LOCAL_TZ).date()
            return cal.workdays_between(cal.add_workdays(returned_on, GRACE), today)
        return cal.workdays_between(_d(r.deadline), today)

    def level(days: int) -> int:
        return 2 if LEVEL2 <= days < LEVEL3 else 1 if LEVEL1 <= days < LEVEL2 else 0

    def light(task_reports, escalated: bool) -> str:
        handed = [r for r in task_reports if r.status in ("submitted", "approved")]
        last = max((_d(r.start) for r in handed), default=None)
        progress = [r.progress for r in handed if _d(r.start) == last]
        waiting = [r for r in task_reports if r.status in ("draft", "returned")]
        if progress and all(p == "completed" for p in progress):
            return "done"
        if escalated or any(late(r) >= M for r in waiting) or "behind" in progress:
            return "red"
        if any(r.status == "returned" for r in waiting) or any(late(r) > 0 for r in waiting) \
                or any(r.status == "draft" and _d(r.deadline) < soon_cutoff for r in waiting) or "at_risk" in progress:
            return "yellow"
        return "green" if progress else "grey"

    out = {}
    for scope, ids in scopes.items():
        rs = [r for r in reports if r.period_id in ids]
        cs = [c for c in contributions if c.period_id in ids]
        es = [e for e in escalations if e.period_id in ids]
        escalated_tasks = {e.task_id for e in es}
        by_task = defaultdict(list)
        for r in rs:
            by_task[r.task_id].append(r)
        lights = {t: light(by_task[t], t in escalated_tasks) for t in tasks}
        levels = Counter(level(late(r)) for r in rs if r.status in ("draft", "returned"))
        levels += Counter(level(cal.workdays_between(_d(c.deadline), today)) for c in cs if c.status == "draft")
        departments = {}
        for d in involved | {r.department_id for r in rs}:
            departments[d] = {"reports": _counts((state(r) for r in rs if r.department_id == d), STATES),
                              "tasks": _counts((lights[t] for t in tasks if d in leads[t]), LIGHTS)}
        out[scope] = {
            "reports": _counts(map(state, rs), STATES),
            "tasks": _counts(lights.values(), LIGHTS),
            "contributions_missing": sum(1 for c in cs if c.status == "draft" and _d(c.deadline) < late_cutoff),
            "escalations": {"level1": levels[1], "level2": levels[2], "level3": len(es)},
            "departments": departments,
        }
    out["targets"] = _targets(plan_id, today.year)
    out["period_key"] = q("SELECT key FROM period WHERE id = :id", id=current.id)[0].key
    return out


def _targets(plan_id: int, year: int) -> dict:
    """Each task target once per lead department: that department's latest approved value against what is due
    this year (the evaluation's target_due and attainment)."""
    from models import Plan, Target

    plan = db.session.get(Plan, plan_id)
    values = db.session.execute(text(
        """SELECT v.target_id, v.value, r.department_id FROM report_value v JOIN report r ON r.id = v.report_id
           JOIN period p ON p.id = r.period_id WHERE p.plan_id = :plan AND r.status = 'approved'
           AND v.value IS NOT NULL ORDER BY p.start, r.id"""), {"plan": plan_id}).all()
    latest, first = {}, {}
    for target_id, value, department_id in values:
        latest[(department_id, target_id)] = float(value)
        first.setdefault((department_id, target_id), float(value))
    leads = defaultdict(list)
    for task_id, department_id in db.session.execute(text(
            """SELECT a.task_id, a.department_id FROM assignment a JOIN task t ON t.id = a.task_id
               WHERE t.plan_id = :plan AND a.role = 'lead' AND a.status IN ('pending', 'acknowledged', 'adjustment')"""),
            {"plan": plan_id}):
        leads[task_id].append(department_id)
    counts = Counter()
    base = default_base_year(plan, year)
    for t in db.session.scalars(select(Target).where(Target.plan_id == plan_id, Target.task_id.is_not(None))):
        for department in leads[t.task_id] or [None]:
            value = latest.get((department, t.id))
            due, _ = target_due(t, year, base_year=base, first_value=first.get((department, t.id)), milestones={})
            counts["no_value" if value is None or due is None else
                   "on_track" if attainment(t.comparator, value, due) >= 100 else "off_track"] += 1
    return {k: counts[k] for k in ("on_track", "off_track", "no_value")}


def _counts(values, keys) -> dict:
    c = Counter(values)
    return {k: c[k] for k in keys}


def _d(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _moment(value) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _figures(body: dict) -> dict:
    return {k: body[k] for k in ("reports", "tasks", "contributions_missing", "escalations")}


@pytest.mark.parametrize("until", [date(2026, 7, 3), date(2026, 11, 20)])
def test_the_overview_counts_what_the_records_say(app, client, until):
    plan = import_text_plan(FUSHUN, FUSHUN.name)
    publish_plan(plan, actor=None, now=PUBLISHED, first_period="2026Q1")
    simulate(plan, until=until, seed=5)
    now = datetime.combine(until, time(18), tzinfo=LOCAL_TZ).astimezone(UTC)
    leader = make_user(Role.LEADER, username="leader-x")
    token = create_token(leader, name="t", now=now, actor=leader)[1]
    with time_machine.travel(now, tick=False):
        body = client.get(f"/api/v1/plans/{plan.id}/overview", headers={"Authorization": f"Bearer {token}"}).get_json()
        want = expected(plan.id, until)
        # a date that exercises the figures: some of each on 3 July, 督办 and overdue work on 20 November
        assert want["period"]["reports"]["due_soon"] > 0 if until.month == 7 else want["all"]["escalations"]["level3"] > 0
        assert sum(want["all"]["tasks"].values()) == len(plan.tasks) == 41
        assert _figures(body) == {k: want["all"][k] for k in ("reports", "tasks", "contributions_missing",
                                                              "escalations")}
        assert body["escalations_open"] == want["all"]["escalations"]["level3"]
        assert _figures(body["period"]) == {k: want["period"][k] for k in _figures(body["period"])}
        assert _figures(body["year"]) == {k: want["year"][k] for k in _figures(body["year"])}
        assert body["period"]["key"] == want["period_key"]
        assert body["targets"] == want["targets"]
        names = dict(db.session.execute(text("SELECT id, name FROM department")).all())
        got = {d["department"]: {"reports": d["reports"], "tasks": d["tasks"]} for d in body["departments"]}
        assert got == {names[d]: v for d, v in want["all"]["departments"].items()}

        # the page shows the same numbers
        client.post("/login", data={"username": leader.username, "password": PASSWORD})
        html = re.sub(r"\s+", " ", client.get(f"/overview/plans/{plan.id}").get_data(as_text=True))
        for scope in ("period", "year"):
            card = html[html.index(f"figures-{scope}"):]
            card = card[:card.index("</dl> </div> </div>")]
            shown = [int(n) for n in re.findall(r'class="tile-number">(\d+)<', card)]
            assert shown == [want[scope]["tasks"][x] for x in LIGHTS], scope
            numbers = [int(n) for n in re.findall(r'class="num[^"]*"[^>]*>(\d+)</a>', card)]
            assert numbers == [want[scope]["reports"][s] for s in STATES] + [
                want[scope]["contributions_missing"], *want[scope]["escalations"].values()], scope
