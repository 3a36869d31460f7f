"""The task page (/tasks/<id>): the task's text, departments, target values over time, every period's report and
contributions, escalations and audit trail; each part as its own rule lets the viewer see it; linked from
everywhere a task is named; a statement count that does not grow with periods, reports or trail entries."""
from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
import time_machine
from sqlalchemy import select

from models import Contribution, Department, Escalation, Period, Plan, Report, Role, Task, User
from tests.conftest import PASSWORD, count_queries, make_user
from tests.factories import file_report, liaison_of, published_fushun
from workflow.assignments.services import acknowledge, open_all_due_periods
from workflow.evaluation import services as evaluation_services
from workflow.extensions import db
from workflow.reports.services import ReportInput, save_contribution, save_report
from workflow.review.services import approve_report, return_report

HOUSING, NDRC, TRANSPORT = "市住房城乡建设局", "市发展改革委", "市交通运输局"
Q1_FILED = datetime(2026, 4, 7, 2, tzinfo=UTC)
Q2_OPEN = datetime(2026, 7, 1, 2, tzinfo=UTC)
Q2_FILED = datetime(2026, 7, 6, 2, tzinfo=UTC)
LOOKED = datetime(2026, 7, 20, 2, tzinfo=UTC)
VALUES = {"清洁取暖率": 95, "可再生能源替代率": 7, "光伏": 45}


def _login(client, user: User) -> None:
    client.post("/logout")
    assert client.post("/login", data={"username": user.username, "password": PASSWORD}).status_code == 302


def _contribution(task: Task, department: str, period: str = "2026Q1") -> Contribution:
    return db.session.scalar(select(Contribution).join(Period).where(
        Contribution.task_id == task.id, Period.key == period,
        Contribution.department_id == Department.lookup(department).id))


def _escalation(item: Report | Contribution, key: str) -> Escalation:
    row = Escalation(key=key, plan_id=item.task.plan_id, task_id=item.task_id, period_id=item.period_id,
                     department_id=item.department_id, cause="overdue", days_late=6, opened_at=Q1_FILED,
                     **({"report_id": item.id} if isinstance(item, Report) else {"contribution_id": item.id}))
    db.session.add(row)
    db.session.commit()
    return row


@pytest.fixture
def world(app):
    """3.4.3 (housing leads, NDRC among the co departments): housing's Q1 report returned once, then approved
    with its values; NDRC's contribution submitted; an escalation on NDRC's and one on housing's."""
    plan, office = published_fushun()
    task = next(t for t in plan.tasks if t.code == "3.4.3")
    housing = liaison_of(HOUSING)
    acknowledge(next(a for a in task.assignments if a.department.name == HOUSING), actor=housing, now=Q1_FILED)
    report = file_report(plan, office, "3.4.3", HOUSING, Q1_FILED, VALUES, approve=False)
    return_report(report, actor=office, now=Q1_FILED, reason="请注明清洁取暖率的统计口径")
    values = {t.id: str(v) for t in task.targets for m, v in VALUES.items() if m in t.metric}
    save_report(report, ReportInput(narrative="住建局正文：补充口径", percent_complete="30", progress="at_risk",
                                    values=values), actor=housing, now=Q1_FILED, version=report.version, submit=True)
    approve_report(report, actor=office, now=Q1_FILED)
    ndrc = _contribution(task, NDRC)
    save_contribution(ndrc, "发改委配合：协调光伏项目", actor=liaison_of(NDRC), now=Q1_FILED, version=ndrc.version,
                      submit=True)
    escalations = {"ndrc_escalation": _escalation(ndrc, "t:ndrc"),
                   "mof_escalation": _escalation(_contribution(task, "市财政局"), "t:mof")}
    return {"plan": plan, "office": office, "task": task, "report": report, "ndrc": ndrc, **escalations}


def test_the_office_sees_everything_about_the_task(client, world):
    task, report = world["task"], world["report"]
    with time_machine.travel(LOOKED, tick=False):
        _login(client, world["office"])
        html = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert "大力推广建筑屋顶、庭院分布式太阳能光伏设施建设" in html   # the task's text
    assert "牵头" in html and HOUSING in html and "市自然资源局" in html
    values = html[html.index('id="targets"'):html.index('id="periods"')]
    assert values.count('class="sparkline"') == 3 and "95%" in values and "97%" in values   # value, due
    assert f'href="/reports/{report.id}"' in values and "符合进度" not in values and "未达进度" in values
    periods = html[html.index('id="periods"'):html.index('id="escalations"')]
    assert f'href="/reports/{report.id}"' in periods and f'href="/reports/contributions/{world["ndrc"].id}"' in periods
    assert "退回 1 次" in periods and "存在风险 · 30%" in periods
    escalations = html[html.index('id="escalations"'):html.index('id="audit"')]
    assert escalations.count("<tr>") == 1 + 2 and "逾期未报送" in escalations   # the header and two
    trail = html[html.index('id="audit"'):]
    for entry in ("退回修改", "审核通过", "提交报告", "提交配合情况", "签收", "请注明清洁取暖率的统计口径",
                  f"2026Q1 报告 · {HOUSING}", f"2026Q1 配合情况 · {NDRC}", f"任务分工 · {HOUSING}"):
        assert entry in trail, entry


def test_a_department_sees_its_own_parts_only(client, world):
    task, report, ndrc = world["task"], world["report"], world["ndrc"]
    with time_machine.travel(LOOKED, tick=False):
        _login(client, liaison_of(HOUSING))   # the lead: its report and values, the submitted contributions
        html = client.get(f"/tasks/{task.id}").get_data(as_text=True)
        assert f'href="/reports/{report.id}"' in html and "95%" in html
        assert f'href="/reports/contributions/{ndrc.id}"' in html
        assert 'id="escalations"' not in html   # escalations are the office's and the department head's

        _login(client, liaison_of(NDRC))   # a co department: its own contribution, not the lead's report
        html = client.get(f"/tasks/{task.id}").get_data(as_text=True)
        assert f'href="/reports/contributions/{ndrc.id}"' in html
        assert f"/reports/{report.id}\"" not in html and "95%" not in html and "请注明" not in html
        assert "您无权查看其报告" in html and f"2026Q1 报告 · {HOUSING}" not in html
        assert f"任务分工 · {NDRC}" in html and f"任务分工 · {HOUSING}" not in html

        _login(client, make_user(Role.DEPT_HEAD, Department.lookup(NDRC)))   # its own escalation only
        escalations = client.get(f"/tasks/{task.id}").get_data(as_text=True)
        escalations = escalations[escalations.index('id="escalations"'):escalations.index('id="audit"')]
        assert escalations.count("<tr>") == 1 + 1 and NDRC in escalations and "市财政局" not in escalations

        _login(client, liaison_of(TRANSPORT))   # no part in 3.4.3
        assert client.get(f"/tasks/{task.id}").status_code == 403
        assert client.get("/tasks/99999").status_code == 404
        client.post("/logout")
        assert client.get(f"/tasks/{task.id}").status_code == 302


def test_the_statement_count_does_not_grow_and_the_trail_is_paginated(client, world, monkeypatch):
    ids = {"task": world["task"].id, "plan": world["plan"].id, "office": world["office"].id}
    monkeypatch.setattr("workflow.tasks.services.AUDIT_PER_PAGE", 4)
    with time_machine.travel(LOOKED, tick=False):
        _login(client, world["office"])

        def counted() -> int:
            db.session.remove()
            return count_queries(lambda: client.get(f"/tasks/{ids['task']}"))

        few = counted()
        plan, office = db.session.get(Plan, ids["plan"]), db.session.get(User, ids["office"])
        open_all_due_periods(now=Q2_OPEN)
        file_report(plan, office, "3.4.3", HOUSING, Q2_FILED, {"清洁取暖率": 96, "可再生能源替代率": 7.5, "光伏": 47},
                    period="2026Q2")
        task = db.session.get(Task, ids["task"])
        for name in ("市自然资源局", "市生态环境局", "市财政局"):
            c = _contribution(task, name, "2026Q2")
            save_contribution(c, "配合推进", actor=liaison_of(name), now=Q2_FILED, version=c.version, submit=True)
            _escalation(_contribution(task, name), f"t:{name}")
        evaluation_services.get_or_create(plan, 2026, now=LOOKED)
        db.session.commit()
        many = counted()
        assert many == few and many <= 40, (few, many)

        html = client.get(f"/tasks/{ids['task']}?page=2").get_data(as_text=True)
        trail = html[html.index('id="audit"'):]
        assert trail.count("<tr>") == 4 + 1 and 'aria-current="page">2<' in trail   # header + a page of 4
        total = int(re.search(r"共 (\d+) 条", trail).group(1))
        assert total > 8
        assert "2026年第二季度" in html and html.index("2026年第二季度") < html.index("2026年第一季度")


def test_every_page_naming_a_task_links_to_it(client, world):
    plan, task, report = world["plan"], world["task"], world["report"]
    link = f'href="/tasks/{task.id}"'
    housing = Department.lookup(HOUSING)
    evaluation = evaluation_services.get_or_create(plan, 2026, now=LOOKED)
    evaluation_services.compute_evaluation(evaluation, actor=world["office"], now=LOOKED)
    with time_machine.travel(LOOKED, tick=False):
        _login(client, world["office"])
        for url in ("/review/?status=approved", f"/reports/{report.id}", f"/reports/contributions/{world['ndrc'].id}",
                    "/escalations/", f"/plans/{plan.id}", f"/plans/departments/{housing.id}", "/targets/",
                    f"/evaluation/{plan.id}/2026/departments/{housing.id}"):
            response = client.get(url)
            assert response.status_code == 200 and link in response.get_data(as_text=True), url
        _login(client, liaison_of(HOUSING))
        for url in ("/my/", "/reports/", f"/search?q={task.code}"):
            assert link in client.get(url).get_data(as_text=True), url
