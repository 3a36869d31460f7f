"""One department registry across plans: exact names and aliases reused, abbreviations suggested on the
review page (never merged silently), and a merge of two existing departments that keeps history and accounts."""
from __future__ import annotations

import io
import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from models import Assignment, AuditEvent, Department, Report, Role, User
from tests.conftest import PASSWORD, import_text_plan, make_user
from workflow.admin.services import merge_departments
from workflow.assignments.services import publish_plan
from workflow.domain import ValidationFailed
from workflow.extensions import db
from workflow.plans.registry import abbreviates

FIRST = """甲市就业促进方案
一、重点任务
（一）扩大就业。（市人力资源和社会保障局牵头，市财政局配合）
（二）稳定物价。（市发展和改革委员会负责）
（三）改造老旧小区。（市住房和城乡建设局负责）
"""
SECOND = """甲市稳增长若干措施
一、政策措施
1.加快项目审批。（市发展改革委牵头，市住建局、市财政局配合）
2.落实社保补贴。（市人社局负责）
"""


@pytest.mark.parametrize(("a", "b", "same"), [
    ("市发展改革委", "市发展和改革委员会", True), ("市住建局", "市住房和城乡建设局", True),
    ("市人社局", "市人力资源和社会保障局", True), ("市住房城乡建设局", "市住房和城乡建设局", True),
    ("市交通局", "市交通运输局", True), ("县国资委", "县人民政府国有资产监督管理委员会", True),
    ("市水务局", "市水利局", False), ("市民政局", "市民族宗教事务局", False), ("区住建局", "市住建局", False),
    ("市财政局", "市财政局", False), ("市委", "市发展改革委", False),
])
def test_abbreviation_rules(a, b, same):
    assert abbreviates(a, b) is same and abbreviates(b, a) is same


def _upload(client, text: str) -> str:
    response = client.post("/plans/upload", data={"file": (io.BytesIO(text.encode()), "second.txt")},
                           content_type="multipart/form-data")
    assert response.status_code == 302
    return response.headers["Location"]


def test_a_second_plan_reuses_exact_names_and_suggests_abbreviations_the_office_ticks(client, login_as):
    import_text_plan(FIRST, "first.txt")
    before = db.session.scalar(select(func.count(Department.id)))
    login_as(Role.OFFICE)
    url = _upload(client, SECOND)
    html = client.get(url).get_data(as_text=True)
    boxes = dict(re.findall(r'name="(merge-\d+)" id="merge-\d+" value="([^"]+)"', html))
    assert sorted(boxes.values()) == ["市人力资源和社会保障局", "市住房和城乡建设局", "市发展和改革委员会"]
    renames = dict(re.findall(r'name="(rename-\d+)" value="([^"]*)"', html))
    form = {**renames, "leads-1.1": "市发展改革委", "co-1.1": "市住建局、市财政局", "leads-1.2": "市人社局", "co-1.2": ""}
    form.update({k: v for k, v in boxes.items() if v != "市人力资源和社会保障局"})  # the office ticks two of three
    assert client.post(url, data=form).status_code == 302
    db.session.expire_all()
    ndrc = Department.lookup("市发展改革委")
    assert ndrc.name == "市发展和改革委员会" and "市发展改革委" in ndrc.alias_names
    assert Department.lookup("市住建局").name == "市住房和城乡建设局"
    assert Department.lookup("市人社局").name == "市人社局"  # not ticked: a department of its own, never merged
    assert db.session.scalar(select(func.count(Department.id))) == before + 1
    assert db.session.scalar(select(func.count(Department.id)).where(Department.name == "市财政局")) == 1


def test_merging_two_existing_departments_keeps_accounts_reports_and_history(client, login_as):
    first = import_text_plan(FIRST, "first.txt")
    second = import_text_plan(SECOND, "second.txt")
    office = make_user(Role.OFFICE, username="office-x")
    now = datetime(2026, 4, 1, 1, tzinfo=UTC)
    publish_plan(first, actor=office, now=now, first_period="2026Q1")
    publish_plan(second, actor=office, now=now, first_period="2026Q1")
    long, short = Department.lookup("市人力资源和社会保障局"), Department.lookup("市人社局")
    liaison = make_user(Role.LIAISON, short, username="renshe")
    reports = db.session.scalar(select(func.count(Report.id)).where(Report.department_id == short.id))
    assert reports > 0

    login_as(Role.ADMIN)
    response = client.post(f"/admin/departments/{short.id}/merge", data={"target": "市人力资源和社会保障局"})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Department, short.id) is None
    assert db.session.get(User, liaison.id).department_id == long.id
    assert db.session.scalar(select(func.count(Report.id)).where(Report.department_id == long.id)) >= reports
    assert {a.task.plan_id for a in db.session.scalars(select(Assignment).where(Assignment.department_id == long.id))} \
        == {first.id, second.id}
    assert Department.lookup("市人社局").id == long.id
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "department.merge"))
    assert event.data["merged"] == ["市人社局"]
    response = client.post("/login", data={"username": "renshe", "password": PASSWORD})
    assert response.status_code == 302


def test_a_merge_of_two_departments_sharing_a_task_is_refused_and_changes_nothing(client, login_as):
    import_text_plan(FIRST, "first.txt")
    admin = make_user(Role.ADMIN, username="root")
    finance, hr = Department.lookup("市财政局"), Department.lookup("市人力资源和社会保障局")
    with pytest.raises(ValidationFailed):
        merge_departments(finance, hr.name, actor=admin, now=datetime(2026, 4, 1, tzinfo=UTC))
    db.session.rollback()
    assert db.session.get(Department, finance.id) is not None
    login_as(Role.ADMIN)
    response = client.post(f"/admin/departments/{finance.id}/merge", data={"target": "市不存在局"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "市不存在局" in html
    login_as(Role.OFFICE)
    assert client.post(f"/admin/departments/{finance.id}/merge", data={"target": hr.name}).status_code == 403
