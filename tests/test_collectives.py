"""Collective assignees (各区、县级市): the office links the member units once, and publishing gives each
member its own assignment and its own report in the collective's place."""
from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from models import Assignment, AssignmentRole, AuditEvent, Department, DepartmentKind, Period, Report, Role
from tests.conftest import import_text_plan, make_department
from workflow.assignments.services import publish_plan
from workflow.extensions import db

PLAN = """临川市城乡建设领域碳达峰实施方案

一、总体要求
到2030年，城乡建设领域碳排放达到峰值。

二、重点任务
（一）推进既有建筑节能改造。到2025年，完成既有居住建筑节能改造100万平方米。（市住房城乡建设局牵头，市发展改革委、各区、县级市人民政府配合）
（二）推广装配式建筑。新建装配式建筑占新建建筑比例达到30%。（责任单位：各区、县级市人民政府）
（三）加强农村住房节能。（市农业农村局、东湖区人民政府负责）
"""
DISTRICTS = ["东湖区人民政府", "西山区人民政府", "南溪县级市人民政府"]
COLLECTIVE = "各区、县级市人民政府"
PUBLISH = datetime(2026, 4, 1, 1, 0, tzinfo=UTC)


def _districts() -> list[Department]:
    return [Department.lookup(n) or make_department(n) for n in DISTRICTS]


def test_publishing_after_linking_three_districts_gives_each_its_assignment_and_report(client, login_as):
    plan = import_text_plan(PLAN)
    districts = _districts()
    collective = Department.lookup(COLLECTIVE)
    assert collective.kind == DepartmentKind.COLLECTIVE

    office = login_as(Role.OFFICE)
    response = client.post(f"/plans/departments/{collective.id}",
                           data={"members": "东湖区人民政府、西山区人民政府\n南溪县级市人民政府"})
    assert response.status_code == 303
    db.session.expire_all()
    assert sorted(m.name for m in collective.members) == sorted(DISTRICTS)

    publish_plan(plan, actor=office, now=PUBLISH, first_period="2026Q1")
    by_task = {t.code: t for t in plan.tasks}
    co = {a.department.name for a in by_task["2.1"].assignments if a.role == AssignmentRole.CO}
    assert co == {"市发展改革委", *DISTRICTS}
    leads = {a.department.name for a in by_task["2.2"].assignments if a.role == AssignmentRole.LEAD}
    assert leads == set(DISTRICTS)
    # 东湖区 is named on 2.3 on its own, beside no collective: exactly its one assignment there
    assert len([a for a in by_task["2.3"].assignments if a.department_id == districts[0].id]) == 1
    assert not db.session.scalars(select(Assignment).where(Assignment.department_id == collective.id)).all()

    reports = db.session.scalars(select(Report).join(Period).where(Report.task_id == by_task["2.2"].id,
                                                                   Period.key == "2026Q1")).all()
    assert sorted(r.department.name for r in reports) == sorted(DISTRICTS)  # one report each for 2026Q1
    assert not db.session.scalars(select(Report).where(Report.department_id == collective.id)).all()
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "collective_expanded",
                                                       AuditEvent.object_id == by_task["2.2"].id))
    assert event.data["collective"] == COLLECTIVE and sorted(event.data["members"]) == sorted(DISTRICTS)

    login_as(Role.LIAISON, department=districts[1])
    page = client.get("/reports/").get_data(as_text=True)
    assert "推广装配式建筑" in page


def test_a_collective_without_members_stays_one_assignee_and_the_publish_page_says_so(client, login_as):
    plan = import_text_plan(PLAN)
    _districts()
    office = login_as(Role.OFFICE)
    page = client.get(f"/review/plans/{plan.id}/publish").get_data(as_text=True)
    assert COLLECTIVE in page and "未关联成员单位" in page
    publish_plan(plan, actor=office, now=PUBLISH, first_period="2026Q1")
    by_task = {t.code: t for t in plan.tasks}
    assert [a.department.name for a in by_task["2.2"].assignments] == [COLLECTIVE]


def test_members_must_exist_and_not_be_collectives_and_what_was_typed_is_kept(client, login_as):
    import_text_plan(PLAN)
    _districts()
    collective = Department.lookup(COLLECTIVE)
    login_as(Role.OFFICE)
    response = client.post(f"/plans/departments/{collective.id}", data={"members": "东湖区人民政府、北岭区人民政府"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "北岭区人民政府" in html and "没有这些单位" in html
    response = client.post(f"/plans/departments/{collective.id}", data={"members": COLLECTIVE})
    assert response.status_code == 422 and "不能是集合单位" in response.get_data(as_text=True)
    db.session.expire_all()
    assert collective.members == []


def test_only_the_office_links_members_and_ordinary_departments_have_none(client, login_as):
    import_text_plan(PLAN)
    collective, housing = Department.lookup(COLLECTIVE), Department.lookup("市住房城乡建设局")
    login_as(Role.LEADER)
    assert client.post(f"/plans/departments/{collective.id}", data={"members": DISTRICTS[0]}).status_code == 403
    login_as(Role.OFFICE)
    assert client.post(f"/plans/departments/{housing.id}", data={"members": DISTRICTS[0]}).status_code == 403
    assert "成员单位" in client.get(f"/plans/departments/{collective.id}").get_data(as_text=True)
