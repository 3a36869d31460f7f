"""总览 through its public surfaces: the start page, the figures and the lists behind them, the office's light
thresholds, the API's overview, the filters it added to the review queue and the escalation list, and a number
of SQL statements that does not grow with the plan."""
from __future__ import annotations

import re
from datetime import UTC, datetime
from html import unescape

import pytest
import time_machine
from sqlalchemy import select

from models import AuditEvent, Contribution, Department, Period, Report, Role, Task
from tests.conftest import PASSWORD, count_queries, import_text_plan, make_user
from tests.factories import PUBLISH_AT, liaison_of
from workflow.assignments.services import publish_plan
from workflow.auth.tokens import create_token
from workflow.extensions import db
from workflow.reports.services import ReportInput, save_contribution, save_report
from workflow.review.services import approve_report, return_report
from workflow.scheduling.reminders import run_reminders

NAMES = "甲乙丙丁戊己庚辛壬癸"
Q1_FILED = datetime(2026, 4, 7, 2, tzinfo=UTC)
Q1_LATE = datetime(2026, 4, 9, 2, tzinfo=UTC)
Q1_RETURNED = datetime(2026, 4, 10, 2, tzinfo=UTC)
PASS = datetime(2026, 4, 20, 2, tzinfo=UTC)        # 8 working days after the Q1 deadline (8 April): 督办 opened
Q2_FILED = datetime(2026, 7, 2, 2, tzinfo=UTC)
NOW = datetime(2026, 7, 3, 2, tzinfo=UTC)          # Friday 10:00; Q2 (ended 30 June) is due Tuesday 7 July


def plan_text(per_area: int, departments: int, title: str = "总览测试方案") -> str:
    """Two areas of `per_area` tasks each, led in turn by `departments` departments, each with one target."""
    lines = [title, "一、重点任务"]
    for a, numeral in enumerate("一二"):
        lines.append(f"（{numeral}）领域{numeral}")
        for i in range(per_area):
            lead, co = NAMES[i % departments], NAMES[(i + 1) % departments]
            lines.append(f"{i + 1}.推进第{a}{i}项工作，2026年完成率达到90%。（市{lead}局牵头，市{co}局配合）")
    return "\n".join(lines) + "\n"


def world(per_area: int = 2, departments: int = 2, title: str = "总览测试方案"):
    """A published plan played through the services: of its tasks in order, the first (mod 4) filed 2026Q1 on time
    and was approved, the second filed late and was returned (never resubmitted), the third never filed, the
    fourth filed on time and awaits review; the first and fourth's co-departments filed their contributions, the
    others not; a reminder pass opened the 督办; in 2026Q2 the first task's lead filed early, saying 存在风险."""
    plan = import_text_plan(plan_text(per_area, departments, title), f"{title}.txt")
    office = make_user(Role.OFFICE, username=f"office-{plan.id}")
    publish_plan(plan, actor=office, now=PUBLISH_AT, first_period="2026Q1")
    run_reminders(now=datetime(2026, 4, 1, 2, tzinfo=UTC))
    for i, task in enumerate(plan.tasks):
        report = _report(task, "2026Q1")
        liaison = liaison_of(report.department.name)
        if i % 4 in (0, 3):
            _file(report, liaison, Q1_FILED)
            for c in db.session.scalars(select(Contribution).where(Contribution.task_id == task.id)):
                save_contribution(c, "配合推进", actor=liaison_of(c.department.name), now=Q1_FILED, version=c.version,
                                  submit=True)
        if i % 4 == 0:
            approve_report(report, actor=office, now=Q1_LATE)
        if i % 4 == 1:
            _file(report, liaison, Q1_LATE)
            return_report(report, actor=office, now=Q1_RETURNED, reason="请补充数据")
    run_reminders(now=PASS)
    first = plan.tasks[0]
    run_reminders(now=datetime(2026, 7, 1, 2, tzinfo=UTC))  # opens 2026Q2
    _file(_report(first, "2026Q2"), liaison_of(first.leads[0].name), Q2_FILED, progress="at_risk")
    return plan, office


def _report(task: Task, key: str) -> Report:
    return db.session.scalar(select(Report).join(Period).where(Report.task_id == task.id, Period.key == key))


def _file(report: Report, liaison, when: datetime, progress: str = "on_track") -> None:
    values = {t.id: "50" for t in report.task.targets}
    save_report(report, ReportInput(narrative="进展", percent_complete="30", progress=progress, values=values),
                actor=liaison, now=when, version=report.version, submit=True)


def login(client, user) -> None:
    client.post("/logout")
    response = client.post("/login", data={"username": user.username, "password": PASSWORD})
    assert response.status_code == 302


def text_of(response) -> str:
    return unescape(re.sub(r"\s+", " ", response.get_data(as_text=True)))


def links(html: str, pattern: str) -> list[str]:
    return [unescape(h) for h in re.findall(r'href="([^"]*)"', html) if re.search(pattern, unescape(h))]


@pytest.fixture
def played(app):
    with time_machine.travel(PUBLISH_AT, tick=False):
        plan, office = world()
    with time_machine.travel(NOW, tick=False):
        yield plan, office


# -- the start page --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("role", [Role.OFFICE, Role.LEADER, Role.ADMIN])
def test_office_leaders_and_admins_start_on_the_overview(played, client, role):
    login(client, make_user(role))
    assert client.get("/").headers["Location"] == "/overview/"
    page = client.get("/overview/")
    assert page.status_code == 200 and "总览测试方案" in text_of(page)


@pytest.mark.parametrize("role", [Role.LIAISON, Role.DEPT_HEAD])
def test_a_departments_people_never_see_the_overview(played, client, role):
    plan, _office = played
    login(client, make_user(role, Department.lookup("市甲局")))
    assert client.get("/").headers["Location"] == "/my/"
    for url in ("/overview/", f"/overview/plans/{plan.id}", f"/overview/plans/{plan.id}/tasks?department=1"):
        response = client.get(url)
        assert response.status_code == 403 and "市乙局" not in text_of(response), url


def test_without_a_published_plan_the_overview_says_so(app, client):
    login(client, make_user(Role.LEADER))
    assert "还没有已发布的实施方案" in text_of(client.get("/overview/"))


def test_a_plan_selector_when_several_plans_are_published(played, client):
    plan, office = played
    other = import_text_plan(plan_text(1, 2, "第二个方案"), "second.txt")
    publish_plan(other, actor=office, now=NOW, first_period="2026Q3")
    login(client, office)
    html = client.get(f"/overview/plans/{plan.id}").get_data(as_text=True)
    assert 'id="plan-select"' in html and "第二个方案" in html
    assert client.get(f"/overview/?plan={other.id}").headers["Location"] == f"/overview/plans/{other.id}"
    assert "第二个方案" in text_of(client.get("/overview/"))   # the latest published is the default


# -- the figures and the lists behind them ----------------------------------------------------------------------

def test_the_figures_of_the_played_world(played, client):
    plan, office = played
    login(client, office)
    page = client.get(f"/overview/plans/{plan.id}")
    html = text_of(page)
    assert "本期：2026年第二季度（报送期限 2026-07-07）" in html
    year = html[html.index("figures-year"):html.index("targets-card")]
    period = html[html.index("figures-period"):html.index("figures-year")]
    # Year: Q1 approved, returned, never filed (overdue), awaiting review; Q2 one filed, three due Tuesday; Q3 (from
    # 1 July) four not yet due.
    assert re.search(r"未到期</dt><dd><a [^>]*>4<", year) and re.search(r"即将到期</dt><dd><a [^>]*>3<", year)
    assert re.search(r"逾期未报</dt><dd><a [^>]*>1<", year) and re.search(r"待审核</dt><dd><a [^>]*>2<", year)
    assert re.search(r"已退回</dt><dd><a [^>]*>1<", year) and re.search(r"已通过</dt><dd><a [^>]*>1<", year)
    # Lights: 1 at risk (yellow), 2 returned and never resubmitted / 督办 (red), 3 filed, Q2 due soon (yellow).
    assert re.search(r'light-tile-red" [^>]*> ?<span class="tile-number">2<', year)
    assert re.search(r'light-tile-yellow" [^>]*> ?<span class="tile-number">2<', year)
    assert re.search(r'light-tile-yellow" [^>]*> ?<span class="tile-number">4<', period)
    # 督办: the third task's report, the second and third tasks' contributions (8 working days late on 20 April),
    # and the second task's returned report (past its resubmission deadline at the pass of 1 July).
    assert re.search(r"督办（未关闭）</dt><dd><a [^>]*>4<", year)
    assert re.search(r"配合情况未报送</dt><dd><a [^>]*>2<", year)
    assert "黄灯：到期前 3 个工作日内；红灯：逾期 1 个工作日起" in html


def test_each_number_leads_to_a_list_with_the_same_count(played, client):
    """Follow every linked number of the two figure cards: the review queue, the task list and the escalation
    list show that many reports, tasks (or counted items) and escalations."""
    plan, office = played
    login(client, office)
    html = client.get(f"/overview/plans/{plan.id}").get_data(as_text=True)
    cards = html[html.index("figures-period"):html.index("light-rule")]
    pairs = re.findall(r'<a href="([^"]+)" class="num[^"]*"[^>]*>(\d+)</a>', cards)
    tiles = re.findall(r'<a class="light-tile [^"]+" href="([^"]+)">\s*<span class="tile-number">(\d+)<', cards)
    assert len(pairs) >= 20 and len(tiles) == 10
    for href, n in pairs + tiles:
        target = text_of(client.get(unescape(href)))
        if href.startswith("/review/"):
            assert f"共 {n} 份报告" in target, href
        elif href.startswith("/escalations/"):
            assert re.search(rf"未关闭 <span [^>]*>{n}<", target), href
        else:
            counted = re.search(r"共 (\d+) 项任务(?:，[^0-9<]*(\d+))?", target)
            assert counted and int(counted.group(2) or counted.group(1)) == int(n), (href, counted.group(0))


def test_tables_sort_on_the_server_and_draw_a_chart(played, client):
    plan, office = played
    login(client, office)
    html = client.get(f"/overview/plans/{plan.id}?dsort=name&scope=period").get_data(as_text=True)
    departments = html[html.index('id="departments"'):]
    names = re.findall(r'<th scope="row" class="col-name fw-normal">([^<]+)</th>', departments)
    assert names == sorted(names) and {"市甲局", "市乙局"} <= set(names)
    assert "<svg" in departments and "script" not in html.split("<main")[1].lower()
    again = client.get(f"/overview/plans/{plan.id}?dsort=-name&scope=period").get_data(as_text=True)
    reversed_names = re.findall(r'<th scope="row" class="col-name fw-normal">([^<]+)</th>',
                                again[again.index('id="departments"'):])
    assert reversed_names == names[::-1]
    areas = html[html.index('id="areas"'):html.index('id="departments"')]
    assert "领域一" in areas and "领域二" in areas and "<svg" in areas


def test_the_task_list_filters(played, client):
    plan, office = played
    login(client, office)
    base = f"/overview/plans/{plan.id}/tasks"
    red = text_of(client.get(f"{base}?light=red"))
    assert "共 2 项任务" in red and "1.1.2" in red and "1.2.1" in red and "1.1.1" not in red
    assert "退回待重报" not in red   # red: past the resubmission deadline, or 督办
    a = Department.lookup("市甲局")
    mine = text_of(client.get(f"{base}?department={a.id}"))
    assert "（市甲局 牵头的任务）" in mine and "共 2 项任务" in mine
    assert "共 0 项任务" in text_of(client.get(f"{base}?light=green&scope=period"))
    assert "没有符合条件的任务" in text_of(client.get(f"{base}?light=green&scope=period"))
    bogus = client.get(f"{base}?light=purple&scope=never&department=abc&area=9.9&page=x")
    assert bogus.status_code == 200 and "共 4 项任务" in text_of(bogus)


# -- the office's thresholds ---------------------------------------------------------------------------------

def test_the_office_sets_the_thresholds_and_the_lights_follow(played, client):
    plan, office = played
    login(client, office)
    url = f"/overview/plans/{plan.id}"
    wrong = client.post(f"{url}/lights", data={"due_soon_workdays": "四", "red_workdays_late": "0"})
    assert wrong.status_code == 422
    body = text_of(wrong)
    assert 'value="四"' in body and 'value="0"' in body and "请填写 0–30 之间的整数" in body
    assert "请填写 1–30 之间的整数" in body and plan.light_rules is None
    # N = 1: Tuesday's deadline is 2 working days away, so the three Q2 drafts are no longer due soon.
    done = client.post(f"{url}/lights", data={"due_soon_workdays": "1", "red_workdays_late": "1"})
    assert done.status_code == 302
    db.session.refresh(plan)
    assert plan.light_rules == {"due_soon_workdays": 1}
    page = text_of(client.get(url))
    period = page[page.index("figures-period"):page.index("figures-year")]
    assert re.search(r"未到期</dt><dd><a [^>]*>3<", period) and "到期前 1 个工作日内" in page
    queue = text_of(client.get(f"/review/?plan={plan.id}&status=draft&due=not_due&period=2026Q2"))
    assert "共 3 份报告" in queue   # the queue counts with the plan's rule too
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "plan.light_rules"))
    assert event.data["before"]["due_soon_workdays"] == 3 and event.data["after"]["due_soon_workdays"] == 1
    assert client.post(f"{url}/lights", data={"reset": "1"}).status_code == 302
    db.session.refresh(plan)
    assert plan.light_rules is None


def test_only_the_office_sets_thresholds(played, client):
    plan, _office = played
    login(client, make_user(Role.LEADER))
    html = client.get(f"/overview/plans/{plan.id}").get_data(as_text=True)
    assert "light-rules-form" not in html and "亮灯规则" in html
    assert client.post(f"/overview/plans/{plan.id}/lights", data={"reset": "1"}).status_code == 403


# -- the API ---------------------------------------------------------------------------------------------------

def test_the_api_overview_has_the_contracts_shape_and_the_pages_numbers(played, client):
    plan, office = played
    token = create_token(office, name="t", now=NOW, actor=office)[1]
    body = client.get(f"/api/v1/plans/{plan.id}/overview", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert {"plan_id", "as_of", "reports", "tasks", "escalations_open", "departments"} <= set(body)
    assert body["plan_id"] == plan.id and body["as_of"] == "2026-07-03"
    assert body["reports"] == {"not_due": 4, "due_soon": 3, "overdue": 1, "submitted": 2, "returned": 1,
                               "approved": 1}
    assert body["tasks"] == {"red": 2, "yellow": 2, "green": 0, "grey": 0, "done": 0}
    assert body["escalations_open"] == 4 and body["contributions_missing"] == 2
    assert body["period"]["key"] == "2026Q2" and body["period"]["tasks"]["yellow"] == 4
    a = next(d for d in body["departments"] if d["department"] == "市甲局")
    assert set(a) >= {"department", "reports", "tasks"} and sum(a["tasks"].values()) == 2
    assert sum(sum(d["reports"].values()) for d in body["departments"]) == sum(body["reports"].values())
    assert [x["code"] for x in body["areas"]] == ["1.1", "1.2"]
    for role in (Role.LIAISON, Role.DEPT_HEAD):
        user = make_user(role, Department.lookup("市甲局"))
        denied = client.get(f"/api/v1/plans/{plan.id}/overview",
                            headers={"Authorization": f"Bearer {create_token(user, name='t', now=NOW, actor=user)[1]}"})
        assert denied.status_code == 403 and denied.mimetype == "application/problem+json"
        assert "市乙局" not in denied.get_data(as_text=True)


# -- the filters added to existing lists ----------------------------------------------------------------------

def test_queue_filters_by_plan_year_and_how_near_the_deadline_is(played, client):
    plan, office = played
    other = import_text_plan(plan_text(1, 2, "第二个方案"), "second.txt")
    publish_plan(other, actor=office, now=PUBLISH_AT, first_period="2026Q1")
    login(client, office)
    q = "/review/?status=draft"
    assert "共 3 份报告" in text_of(client.get(f"{q}&plan={plan.id}&due=due_soon"))
    assert "共 5 份报告" in text_of(client.get(f"{q}&due=due_soon"))                 # both plans
    assert "共 8 份报告" in text_of(client.get(f"{q}&plan={plan.id}&year=2026"))     # Q1 1, Q2 3, Q3 4
    assert "共 6 份报告" in text_of(client.get(f"{q}&plan={other.id}&year=2026"))     # 2 tasks, 3 periods
    assert "共 8 份报告" in text_of(client.get(f"{q}&plan={plan.id}&year=2031"))     # no period then: ignored
    assert "共 1 份报告" in text_of(client.get(f"{q}&plan={plan.id}&overdue=y"))
    form = client.get(f"{q}&plan={plan.id}&due=due_soon").get_data(as_text=True)
    assert re.search(rf'<option selected value="{plan.id}">', form) and '<option selected value="due_soon">' in form


def test_escalation_list_by_period_and_year(played, client):
    plan, office = played
    login(client, office)
    q1 = db.session.scalar(select(Period).where(Period.plan_id == plan.id, Period.key == "2026Q1"))
    q2 = db.session.scalar(select(Period).where(Period.plan_id == plan.id, Period.key == "2026Q2"))
    assert re.search(r"未关闭 <span [^>]*>4<", text_of(client.get(f"/escalations/?plan={plan.id}&period={q1.id}")))
    only_q2 = text_of(client.get(f"/escalations/?plan={plan.id}&period={q2.id}"))
    assert re.search(r"未关闭 <span [^>]*>0<", only_q2) and "范围：2026年第二季度" in only_q2
    assert re.search(r"未关闭 <span [^>]*>4<", text_of(client.get("/escalations/?year=2026")))
    assert re.search(r"未关闭 <span [^>]*>0<", text_of(client.get("/escalations/?year=2027")))


# -- speed: statements do not grow with the plan ----------------------------------------------------------------

def test_statements_do_not_grow_with_tasks_departments_or_periods(app, client):
    counts = []
    for per_area, departments, title in ((2, 2, "小方案"), (12, 9, "大方案")):
        with time_machine.travel(PUBLISH_AT, tick=False):
            plan, office = world(per_area, departments, title)
        token = create_token(office, name="t", now=NOW, actor=office)[1]
        with time_machine.travel(NOW, tick=False):
            login(client, office)
            urls = [f"/overview/plans/{plan.id}", f"/overview/plans/{plan.id}?scope=period&dsort=-overdue",
                    f"/overview/plans/{plan.id}/tasks?light=red", f"/overview/plans/{plan.id}/tasks?what=missing"]
            for url in urls:
                client.get(url)   # the first read may open a period; count the steady state
            sizes = [count_queries(lambda url=url: client.get(url)) for url in urls]
            api = (f"/api/v1/plans/{plan.id}/overview", {"Authorization": f"Bearer {token}"})
            sizes.append(count_queries(lambda api=api: client.get(api[0], headers=api[1])))
            counts.append(sizes)
        assert len(plan.tasks) == per_area * 2
    small, large = counts
    assert small == large, counts
    assert max(large) <= 25
