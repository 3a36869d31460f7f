"""The department's home (本单位首页) as a liaison and a head find it on a Monday after the first deadline: what is
due this period in how many working days, what was returned and why, the contributions owed to another lead,
what is overdue and under escalation, the task list with each task's history one click away; nothing of another
department; and a number of statements that does not grow with the department's tasks."""
from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import chinese_calendar
import pytest
import time_machine
from sqlalchemy import select

from models import Contribution, Department, Escalation, Period, Report, Role, Task
from tests.conftest import count_queries, make_user
from tests.factories import published_plan
from workflow.dashboard import services
from workflow.extension_requests.services import approve_extension, request_extension
from workflow.extensions import db
from workflow.reports.services import ReportInput, save_report
from workflow.review.services import approve_report, return_report
from workflow.tasks.closure import close_task

A, B = "市甲局", "市乙局"
PUBLISHED = datetime(2026, 4, 1, 1, tzinfo=UTC)   # 2026Q1 (deadline 2026-04-08) and 2026Q2 open at publication
NOW = datetime(2026, 4, 20, 2, tzinfo=UTC)         # Monday 2026-04-20, 10:00 in Shanghai
FILED = datetime(2026, 4, 7, 2, tzinfo=UTC)
RETURNED = datetime(2026, 4, 10, 2, tzinfo=UTC)    # a Friday
CODE_CELL = r'<td class="text-nowrap"><a [^>]*task-link[^>]*>([\d.]+)</a></td>'   # a task's code, linked to its page


def plan_text(n: int, title: str = "首页测试方案") -> str:
    """n tasks led by A with B co-operating (1.1.1 … 1.1.n), then one led by B with A co-operating."""
    lines = [title, "一、重点任务", "（一）节能"]
    lines += [f"{i}.推进第{i}项节能工作。（{A}牵头，{B}配合）" for i in range(1, n + 1)]
    lines.append(f"{n + 1}.推进乙局主办的工作。（{B}牵头，{A}配合）")
    return "\n".join(lines) + "\n"


def workdays_after(start: date, end: date) -> int:
    """Working days in (start, end], straight from the official calendar (not the product's code)."""
    return sum(chinese_calendar.is_workday(start + timedelta(days=i)) for i in range(1, (end - start).days + 1))


def workday_plus(start: date, n: int) -> date:
    day = start
    while n:
        day += timedelta(days=1)
        n -= chinese_calendar.is_workday(day)
    return day


def row(model, plan, code: str, period: str, department: str):
    return db.session.scalar(select(model).join(Task).join(Period).where(
        Task.plan_id == plan.id, Task.code == code, Period.key == period,
        model.department_id == Department.lookup(department).id))


def fill(report: Report, liaison, *, text: str, submit: bool, when: datetime = FILED) -> Report:
    return save_report(report, ReportInput(narrative=text, percent_complete="30", progress="on_track",
                                           values={t.id: "1" for t in report.task.targets}),
                       actor=liaison, now=when, version=report.version, submit=submit)


def build(n: int, title: str = "首页测试方案"):
    """The plan published on 1 April and worked on until the 20th (see the module docstring)."""
    plan, office = published_plan(plan_text(n, title), f"{title}.txt", now=PUBLISHED)
    a, b = Department.lookup(A), Department.lookup(B)
    a_liaison = make_user(Role.LIAISON, a, f"a-liaison-{n}")
    b_liaison = make_user(Role.LIAISON, b, f"b-liaison-{n}")
    approve_report(fill(row(Report, plan, "1.1.1", "2026Q1", A), a_liaison, text="甲局一季度报告", submit=True),
                   actor=office, now=FILED)
    return_report(fill(row(Report, plan, "1.1.2", "2026Q1", A), a_liaison, text="甲局待修改", submit=True),
                  actor=office, now=RETURNED, reason="缺少数据来源（甲局）")
    fill(row(Report, plan, "1.1.1", "2026Q2", A), a_liaison, text="二季度提前报送", submit=True)
    fill(row(Report, plan, "1.1.2", "2026Q2", A), a_liaison, text="二季度草稿", submit=False)
    b_code = f"1.1.{n + 1}"
    return_report(fill(row(Report, plan, b_code, "2026Q1", B), b_liaison, text="乙局报告", submit=True),
                  actor=office, now=RETURNED, reason="乙局退回原因")
    late = row(Report, plan, "1.1.3", "2026Q1", A)
    for key, dept, report in (("home-a", a, late), ("home-b", b, row(Report, plan, b_code, "2026Q2", B))):
        db.session.add(Escalation(key=f"{key}-{n}", plan_id=plan.id, task_id=report.task_id,
                                  period_id=report.period_id, department_id=dept.id, report_id=report.id,
                                  cause="overdue", days_late=8, opened_at=NOW))
    db.session.commit()
    return plan


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def plan(app, clock):
    return build(4)


def html_of(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def section(html: str, name: str) -> str:
    found = re.search(rf'<section class="[^"]*" id="{name}">(.*?)</section>', html, re.S)
    assert found, name
    return re.sub(r"\s+", " ", found.group(1))


def test_the_home_is_the_start_page_of_liaisons_and_heads(client, login_as, plan):
    for role in (Role.LIAISON, Role.DEPT_HEAD):
        login_as(role, department=A)
        assert client.get("/").headers["Location"].endswith("/my/")
        assert client.get("/my/tasks?page=2").headers["Location"].endswith("/my/?page=2#tasks")
    login_as(Role.OFFICE)
    assert client.get("/my/").status_code == 404


def test_a_liaison_sees_what_is_due_returned_owed_and_overdue(client, login_as, plan):
    login_as(Role.LIAISON, department=A)
    html = html_of(client.get("/my/"))
    today = date(2026, 4, 20)
    q2 = db.session.scalar(select(Period).where(Period.plan_id == plan.id, Period.key == "2026Q2"))

    due = section(html, "due")
    assert "2026年第二季度" in due and "2026年第一季度" not in due
    assert f"还剩 {workdays_after(today, q2.deadline)} 个工作日" in due
    assert "已报送 1 / 4" in due   # 1.1.1 handed in early; 1.1.2 a saved draft, 1.1.3 and 1.1.4 not begun
    assert "1.1.1" not in due and all(code in due for code in ("1.1.2", "1.1.3", "1.1.4"))
    assert due.count("未填写") == 2 and due.count(">草稿<") == 1

    returned = section(html, "returned")
    resubmit_by = workday_plus(date(2026, 4, 10), 3)   # the plan's grace: 3 working days after the return
    assert "1.1.2" in returned and "缺少数据来源（甲局）" in returned and "2026年第一季度" in returned
    assert f"请于 {resubmit_by.isoformat()} 前重新提交" in returned
    assert f"逾期 {workdays_after(resubmit_by, today)} 个工作日" in returned
    assert "乙局退回原因" not in html   # the other department's return is its own business

    owed = section(html, "owed")
    assert "1.1.5" in owed and B in owed and "2026年第二季度" in owed and "1.1.1" not in owed

    overdue = section(html, "overdue")
    late = f"逾期 {workdays_after(date(2026, 4, 8), today)} 个工作日"
    assert late in overdue
    items = re.findall(r'task-link"[^>]*>([\d.]+)</a>', overdue)
    assert sorted(items) == ["1.1.3", "1.1.4", "1.1.5"]   # two drafts it leads, one contribution it owes
    assert "1.1.2" not in items   # returned reports are listed once, under returned
    assert 'id="escalations"' not in html and "督办" not in overdue   # liaisons do not see escalations

    figures = re.sub(r"<[^>]+>|\s+", "", html.split('class="home-figures')[1].split("</nav>")[0])
    assert "3本期待报送" in figures and "1被退回" in figures and "1待提供配合" in figures and "3已逾期" in figures


def test_a_head_also_sees_its_departments_open_escalations(client, login_as, plan):
    login_as(Role.DEPT_HEAD, department=A)
    html = html_of(client.get("/my/"))
    escalations = section(html, "escalations")
    assert "1.1.3" in escalations and "1.1.5" not in escalations   # B's escalation is not A's
    assert re.search(r"1\.1\.3</a>.*?督办</span>", section(html, "overdue"))
    assert ">查看</a>" in html and ">填写</a>" not in html   # heads read, liaisons write


def test_the_task_list_pages_and_keeps_each_tasks_history_one_click_away(client, login_as, plan, monkeypatch):
    """Each row counts the department's reports and contributions of the task and links to the task page, where
    the history is (各期报送); the home itself does not carry it, so it stays small as the years add periods."""
    monkeypatch.setattr(services, "TASKS_PER_PAGE", 2)
    liaison = login_as(Role.LIAISON, department=A)
    first = section(html_of(client.get("/my/")), "tasks")
    assert re.findall(CODE_CELL, first) == ["1.1.1", "1.1.2"]
    assert "共 5 项：牵头 4 项，配合 1 项。" in first and 'href="/my/?page=2#tasks"' in first
    q1 = row(Report, plan, "1.1.1", "2026Q1", A)
    history = re.search(r'<tr id="a\d+">.*?</tr>', first).group(0)
    link = f"/tasks/{q1.task_id}#periods"
    assert f'href="{link}">历次报送（2）</a>' in history
    assert "2026年第一季度" not in history and f'href="/reports/{q1.id}"' not in history
    periods = re.search(r'<section class="mb-3" id="periods">(.*?)</section>',
                        html_of(client.get(link.split("#")[0])), re.S).group(1)
    assert "2026年第一季度" in periods and "2026年第二季度" in periods
    assert f'href="/reports/{q1.id}"' in periods and f'href="/reports/{row(Report, plan, "1.1.1", "2026Q2", A).id}"' \
        in periods

    third = section(html_of(client.get("/my/?page=99")), "tasks")   # past the end: the last page
    assert re.findall(CODE_CELL, third) == ["1.1.5"]
    contribution = row(Contribution, plan, "1.1.5", "2026Q1", A)
    assert f'href="/tasks/{contribution.task_id}#periods">历次报送（2）</a>' in third   # two contributions, Q1 and Q2
    task_page = html_of(client.get(f"/tasks/{contribution.task_id}"))
    assert f'href="/reports/contributions/{contribution.id}"' in task_page

    assignment = next(a for a in contribution.task.assignments if a.department_id == liaison.department_id)
    response = client.post(f"/assignments/{assignment.id}/acknowledge", data={"version": assignment.version,
                                                                              "page": "3"})
    assert response.headers["Location"].endswith(f"/my/?page=3#a{assignment.id}")


def test_the_service_counts_working_days_with_the_calendar(plan):
    liaison = make_user(Role.LIAISON, Department.lookup(A))
    home = services.department_home(liaison, now=NOW)
    [group] = home.due
    assert group.period.key == "2026Q2" and group.left == workdays_after(date(2026, 4, 20), group.period.deadline)
    assert (group.handed_in, group.total) == (1, 4)
    [returned] = home.returned
    assert returned.returned_on == date(2026, 4, 10) and returned.left == 0 and returned.late.working == 3
    assert [o.contribution.task.code for o in home.owed] == ["1.1.5"]
    assert [o.leads[0].name for o in home.owed] == [B]
    assert home.escalations is None and not any(o.escalated for o in home.overdue)
    head = make_user(Role.DEPT_HEAD, Department.lookup(A))
    assert [e.task.code for e in services.department_home(head, now=NOW).escalations] == ["1.1.3"]


def test_a_report_given_more_time_is_due_by_its_own_deadline_not_overdue(client, login_as, plan):
    """An approved 延期申请 moves one report's deadline (Report.deadline): the home lists it under what is due,
    in a group of its own with the new date and the working days left to it, and no longer as overdue."""
    liaison = login_as(Role.LIAISON, department=A)
    office = make_user(Role.OFFICE)
    extended = date(2026, 4, 24)   # the Friday after NOW
    report = row(Report, plan, "1.1.4", "2026Q1", A)
    approve_extension(request_extension(report, reason="等待统计数据", new_deadline=extended, actor=liaison,
                                        now=FILED), actor=office, now=FILED)
    home = services.department_home(liaison, now=NOW)
    assert [(g.period.key, g.deadline) for g in home.due] == [("2026Q1", extended), ("2026Q2", home.due[1].deadline)]
    moved = home.due[0]
    assert [r.task.code for r in moved.reports] == ["1.1.4"] and (moved.handed_in, moved.total) == (0, 1)
    assert moved.left == workdays_after(date(2026, 4, 20), extended)
    assert (home.due[1].handed_in, home.due[1].total) == (1, 4)   # the period's other reports keep their group
    assert "1.1.4" not in [o.item.task.code for o in home.overdue]

    html = html_of(client.get("/my/"))
    due = section(html, "due")
    assert "2026年第一季度" in due and f"报送截止 {extended.isoformat()}" in due and "已延期" in due and "1.1.4" in due
    assert "1.1.4" not in section(html, "overdue")


def test_each_section_holds_its_first_items_and_counts_the_rest(client, login_as, plan, monkeypatch):
    """However much a department owes, each section loads its first LIMIT items (most urgent first) and counts
    the others, which the full list on 报送 shows."""
    early = row(Report, plan, "1.1.1", "2026Q2", A)   # handed in early, returned: due again before the deadline
    return_report(early, actor=make_user(Role.OFFICE), now=NOW, reason="请补充")
    monkeypatch.setattr(services, "LIMIT", 1)
    liaison = login_as(Role.LIAISON, department=A)
    home = services.department_home(liaison, now=NOW)
    [group] = home.due
    assert [r.task.code for r in group.reports] == ["1.1.2"] and group.drafts == 3 and home.due_count == 3
    assert [o.item.task.code for o in home.overdue] == ["1.1.3"] and home.totals["overdue"] == 3
    assert [x.report.task.code for x in home.returned] == ["1.1.2"] and home.totals["returned"] == 2
    assert home.totals["owed"] == 1 and home.attention == 9
    html = html_of(client.get("/my/"))
    assert "另有 2 项，见“报送”" in section(html, "due") and "另有 2 项，见“报送”" in section(html, "overdue")
    assert "另有 1 项，见“报送”" in section(html, "returned")
    figures = re.sub(r"<[^>]+>|\s+", "", html.split('class="home-figures')[1].split("</nav>")[0])
    assert "3本期待报送" in figures and "2被退回" in figures and "3已逾期" in figures and "本单位有 9 项待办" in html


def test_what_a_closed_task_withdrew_is_owed_by_no_one(client, login_as, plan):
    """办结销号 withdraws the task's unsent reports (kept as history): the home lists them nowhere."""
    login_as(Role.LIAISON, department=A)
    task = row(Report, plan, "1.1.4", "2026Q1", A).task
    close_task(task, actor=make_user(Role.OFFICE), now=NOW, reason="提前完成")
    home = services.department_home(make_user(Role.LIAISON, Department.lookup(A)), now=NOW)
    listed = [r.task.code for g in home.due for r in g.reports] + [o.item.task.code for o in home.overdue]
    assert sorted(listed) == ["1.1.2", "1.1.3", "1.1.3", "1.1.5"]   # due: Q2 1.1.2, 1.1.3; overdue: Q1 1.1.3, 1.1.5
    assert (home.due[0].handed_in, home.due[0].total) == (1, 3)   # the withdrawn Q2 report is not owed either
    html = html_of(client.get("/my/"))
    assert "1.1.4" not in section(html, "due") and "1.1.4" not in section(html, "overdue")


def test_the_home_runs_the_same_statements_for_three_tasks_and_for_thirty(client, login_as, plan):
    counts = []
    for n, title in ((None, None), (26, "第二个方案")):
        if n:
            build(n, title)   # a second plan: the department now has 4 + 26 tasks led and 2 co-operated
        for role in (Role.LIAISON, Role.DEPT_HEAD):
            login_as(role, department=A)
            client.get("/my/")
            counts.append(count_queries(lambda: client.get("/my/")))
    assert counts[:2] == counts[2:], counts
    assert len(re.findall(r'<td class="text-nowrap">', html_of(client.get("/my/")))) == 32
