"""The indicator tracker (指标): what is due is the evaluation's number, on/off track and the order follow from it,
each role sees its rows on the page and in the API, and the page's statement count does not grow with the data."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from models import Department, Plan, Role, Target, User
from models.evaluation import Evaluation
from tests.conftest import EVALUATED_AT, count_queries, make_user
from tests.factories import file_report
from workflow.auth.tokens import create_token
from workflow.evaluation import services as evaluation_services
from workflow.extensions import db
from workflow.targets.services import STATUSES, tracked_targets, tracker

HOUSING, TRANSPORT, NDRC = "市住房城乡建设局", "市交通运输局", "市发展改革委"
FILED = datetime(2026, 4, 7, 2, tzinfo=UTC)
# Q1 values for the other tasks with targets, by metric fragment, all of a task's targets (a report is complete).
MORE = [("3.1.2", NDRC, {"新能源总装机容量": 800}), ("3.1.4", NDRC, {"尖峰负荷": 4, "抽水蓄能": 2600}),
        ("3.4.1", HOUSING, {"装配式": 14}), ("3.5.2", TRANSPORT, {"新能源或清洁能源车辆": 80, "碳排放强度": 6}),
        ("3.6.2", NDRC, {"大宗固体废弃物": 55}), ("3.6.4", HOUSING, {"无害化": 85, "资源化利用": 56}),
        ("3.8.2", "市自然资源局", {"森林蓄积量": 6300, "森林覆盖率": 58})]


def _evaluation_targets(ev: Evaluation) -> dict[tuple[int, str], dict]:
    """(target id, department) → the target row the evaluation stored in its scores."""
    return {(t["target_id"], score.department.name): t
            for score in ev.scores for task in score.detail["tasks"] for t in task["targets"]}


def _same_numbers(ev: Evaluation, office: User) -> int:
    db.session.refresh(ev)
    stored = _evaluation_targets(ev)
    rows = [r for r in tracked_targets([ev.plan], user=office, year=ev.year) if r.department is not None]
    assert {(r.target.id, r.department.name) for r in rows} == set(stored)
    for r in rows:
        t = stored[(r.target.id, r.department.name)]
        assert (None if r.due is None else round(r.due, 2), r.basis) == (t["due"], t["basis"]), t["metric"]
        assert r.latest == t["value"], t["metric"]
        assert round(r.attainment or 0.0, 2) == t["score"], t["metric"]
    return len(rows)


def test_what_is_due_and_the_latest_value_are_the_evaluations_numbers(evaluation):
    ev, office = evaluation
    for code, dept, values in MORE[:3]:
        file_report(ev.plan, office, code, dept, FILED, values)
    evaluation_services.compute_evaluation(ev, actor=office, now=EVALUATED_AT)
    assert _same_numbers(ev, office) == 15   # every task target, once per lead department

    # the office's milestone and base year move both, through the one rule
    green = db.session.scalar(select(Target).where(Target.metric.like("%绿色出行%")))
    evaluation_services.set_milestone(ev, green, year=2026, value="65", actor=office, now=EVALUATED_AT)
    evaluation_services.update_settings(ev, {"base_year": "2024"}, actor=office, now=EVALUATED_AT)
    _same_numbers(ev, office)
    row = next(r for r in tracked_targets([ev.plan], user=office, year=2026) if r.target.id == green.id)
    assert (row.due, row.basis, row.latest, row.status) == (65.0, "milestone", 60.0, "off_track")
    pump = next(r for r in tracked_targets([ev.plan], user=office, year=2026) if "抽水蓄能" in r.target.metric)
    assert pump.basis == "linear" and pump.due == pytest.approx(2600 + (3000 - 2600) * 2 / 6)   # 2024 → 2030


def test_on_track_off_track_no_value_and_off_track_first(evaluation):
    ev, office = evaluation
    result = tracker([ev.plan], user=office, year=2026)
    by_metric = {r.target.metric: r for r in result.rows}
    heating = next(r for m, r in by_metric.items() if "清洁取暖率" in m)
    green = next(r for m, r in by_metric.items() if "绿色出行" in m)
    pv = next(r for m, r in by_metric.items() if "光伏" in m)
    assert (heating.latest, heating.due, heating.status) == (97.0, 97.0, "on_track")   # = 97%: reached
    assert (pv.latest, pv.status) == (50.0, "on_track")
    # 绿色出行 ≥ 70% by 2030 from its first value 60 in the base year 2020 (比2020年 in the plan's targets)
    assert green.basis == "linear" and green.due == pytest.approx(66.0) and green.status == "off_track"
    assert green.attainment == pytest.approx(60 / 66 * 100)
    unreported = [r for r in result.rows if not r.values]
    assert unreported and all(r.status == "no_value" for r in unreported)
    plan_level = [r for r in result.rows if r.task is None]
    assert len(plan_level) == 1 and plan_level[0].department is None and plan_level[0].status == "no_value"
    order = [STATUSES.index(r.status) for r in result.rows]
    assert order == sorted(order)
    off = [r.attainment for r in result.rows if r.status == "off_track"]
    assert off == sorted(off)
    assert result.counts == {"off_track": 1, "no_value": 12, "on_track": 3}


def test_filters_by_area_and_department(evaluation):
    ev, office = evaluation
    housing = Department.lookup(HOUSING)
    by_area = tracker([ev.plan], user=office, year=2026, area="3.4")
    assert by_area.area == "3.4" and by_area.rows
    assert {r.task.code.rsplit(".", 1)[0] for r in by_area.rows} == {"3.4"}
    assert ("3.4", "推动城乡建设碳达峰") in by_area.areas and ("3.5", "加快交通运输绿色低碳转型") in by_area.areas
    by_dept = tracker([ev.plan], user=office, year=2026, department_id=housing.id)
    assert by_dept.rows and {r.department.name for r in by_dept.rows} == {HOUSING}
    # an unknown choice (an old link) is no filter on the page, and matches nothing in the API
    assert len(tracker([ev.plan], user=office, year=2026, area="9.9").rows) == 16
    assert tracker([ev.plan], user=office, year=2026, area="9.9", strict=True).rows == []


def _login(client, user: User) -> None:
    from tests.conftest import PASSWORD

    client.post("/logout")
    assert client.post("/login", data={"username": user.username, "password": PASSWORD}).status_code == 302


def test_the_page_for_the_office_and_for_a_department(client, evaluation):
    ev, office = evaluation
    with time_machine.travel(EVALUATED_AT, tick=False):
        _login(client, office)
        html = client.get("/targets/").get_data(as_text=True)
        assert "绿色出行比例" in html and "城市建成区清洁取暖率" in html and "方案总体目标" in html
        assert html.count('class="sparkline"') == 4   # the four targets with approved values
        assert "66" in html and "2026 年应达" in html
        assert html.index("绿色出行比例") < html.index("城市建成区清洁取暖率")   # off track first
        assert f'href="/tasks/{next(t.id for t in ev.plan.tasks if t.code == "3.5.1")}"' in html
        area = client.get("/targets/?area=3.5").get_data(as_text=True)
        assert "绿色出行比例" in area and "城市建成区清洁取暖率" not in area

        liaison = make_user(Role.LIAISON, Department.lookup(TRANSPORT))
        _login(client, liaison)
        html = client.get("/targets/").get_data(as_text=True)
        assert "绿色出行比例" in html and "城市建成区清洁取暖率" not in html and "方案总体目标" not in html
        assert 'name="department"' not in html   # held to its own department
        assert client.get("/targets/?plan=99999").status_code == 404


def test_the_page_pages_and_runs_the_same_statements_for_more_data(client, evaluation, monkeypatch):
    ev, office = evaluation
    plan_id, office_id = ev.plan_id, office.id
    monkeypatch.setattr("workflow.targets.views.PER_PAGE", 5)
    with time_machine.travel(EVALUATED_AT, tick=False):
        _login(client, office)

        def counted(url: str) -> int:
            db.session.remove()
            return count_queries(lambda: client.get(url))

        few = [counted("/targets/"), counted("/targets/?area=3.4&page=2")]
        plan, office = db.session.get(Plan, plan_id), db.session.get(User, office_id)
        for code, dept, values in MORE:
            file_report(plan, office, code, dept, FILED, values)
        evaluation = db.session.get(Evaluation, ev.id)
        for target in db.session.scalars(select(Target).where(Target.plan_id == plan_id, Target.year == 2030)):
            evaluation_services.set_milestone(evaluation, target, year=2027, value="1", actor=office,
                                              now=EVALUATED_AT)
        many = [counted("/targets/"), counted("/targets/?area=3.4&page=2")]
        assert many == few and max(many) <= 20, (few, many)
        html = client.get("/targets/?page=4").get_data(as_text=True)
        assert 'aria-current="page">4<' in html and html.count("<tr class=\"target-") == 1   # 16 rows, 5 a page
        assert 'aria-current="page">4<' in client.get("/targets/?page=40").get_data(as_text=True)


def test_the_api_shape_and_permissions(client, evaluation):
    ev, office = evaluation
    liaison = make_user(Role.LIAISON, Department.lookup(HOUSING))
    tokens = {u.username: create_token(u, name="t", now=EVALUATED_AT, actor=u)[1] for u in (office, liaison)}
    with time_machine.travel(EVALUATED_AT + timedelta(minutes=1), tick=False):
        def get(user: User, **query):
            response = client.get("/api/v1/targets", query_string=query,
                                  headers={"Authorization": f"Bearer {tokens[user.username]}"})
            return response.status_code, response.get_json()

        status, body = get(office, plan_id=ev.plan_id, per_page=200)
        assert status == 200 and body["total"] == 16 and len(body["items"]) == 16
        green = next(i for i in body["items"] if "绿色出行" in i["metric"])
        assert green == {
            "target_id": green["target_id"], "plan_id": ev.plan_id, "task_id": green["task_id"], "task_code": "3.5.1",
            "area": "3.5", "metric": green["metric"], "year": 2030, "value": 70, "unit": "%", "comparator": ">=",
            "label": "≥ 70%", "department": TRANSPORT, "latest": 60, "latest_period": "2026Q1", "due_year": 2026,
            "due": 66, "due_basis": "linear", "due_basis_label": "线性路径", "attainment": 90.91,
            "status": "off_track", "status_label": "未达进度", "trend": [{"period": "2026Q1", "value": 60}]}
        assert body["items"][0] == green   # off track first
        plan_level = next(i for i in body["items"] if i["task_id"] is None)
        assert plan_level["department"] is None and plan_level["status"] == "no_value"

        status, page = get(office, per_page=5, page=4)
        assert status == 200 and page["total"] == 16 and len(page["items"]) == 1 and page["page"] == 4
        assert get(office, per_page=5, page=9)[1]["items"] == []
        assert get(office, area="3.5")[1]["total"] == 3
        assert get(office, department=TRANSPORT)[1]["total"] == 3
        assert get(office, department="不存在的局")[0] == 400
        assert get(office, plan_id=99999)[0] == 404

        status, mine = get(liaison)
        assert status == 200 and mine["total"] == 6 and {i["department"] for i in mine["items"]} == {HOUSING}
        assert get(liaison, department=TRANSPORT)[1] == {"items": [], "total": 0, "page": 1, "per_page": 50}
