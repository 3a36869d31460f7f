"""The office's upload → review → confirm flow, the plan and department pages, and the liaison's task list."""
import io
import re

import pytest
from sqlalchemy import func, select

from models import Assignment, Department, Plan, Role, Task
from tests.conftest import count_queries
from workflow.extensions import db

SMALL_PLAN = """某市节能工作方案
一、重点任务
(一)推进节能
1.开展建筑节能改造。到2025年,城镇新建建筑节能率达到75%以上。(市住建局、市发改委等按职责分工负责)
2.推广新能源车辆。(市交通局,市发改委、市财政局按职责分工负责)
3.加强宣传。各单位加强节能宣传。
"""


def upload(client, content: bytes, filename: str = "plan.txt"):
    return client.post("/plans/upload", data={"file": (io.BytesIO(content), filename)},
                       content_type="multipart/form-data")


def test_office_uploads_reviews_and_imports(client, login_as):
    login_as(Role.OFFICE)
    response = upload(client, SMALL_PLAN.encode())
    assert response.status_code == 302
    review_url = response.headers["Location"]
    html = client.get(review_url).get_data(as_text=True)
    assert "开展建筑节能改造" in html
    assert "市住建局" in html
    assert 'class="unassigned"' in html  # measure 3 has no department clause
    assert "<div class=\"source-text\">" in html and "加强宣传" in html

    form = {"leads-1.1.1": "市住建局", "co-1.1.1": "市发改委", "leads-1.1.2": "市交通局",
            "co-1.1.2": "市发改委、市财政局", "leads-1.1.3": "市住建局", "co-1.1.3": ""}
    # department renames: keep names, but merge 市发改委 into a new canonical name
    draft_names = re.findall(r'name="(rename-\d+)" value="([^"]*)"', html)
    for name, value in draft_names:
        form[name] = "市发展和改革委员会" if value == "市发改委" else value
    response = client.post(review_url, data=form)
    assert response.status_code == 302, response.get_data(as_text=True)

    plan = db.session.scalar(select(Plan))
    assert plan.title == "某市节能工作方案"
    tasks = {t.code: t for t in plan.tasks}
    assert [d.name for d in tasks["1.1.3"].leads] == ["市住建局"]  # the office assigned the unassigned measure
    assert [d.name for d in tasks["1.1.2"].co] == ["市发展和改革委员会", "市财政局"]
    merged = Department.lookup("市发改委")
    assert merged.name == "市发展和改革委员会" and merged.alias_names == ["市发改委"]
    assert tasks["1.1.1"].targets[0].number == 75
    page = client.get(f"/plans/{plan.id}").get_data(as_text=True)
    assert "开展建筑节能改造" in page and "市发展和改革委员会" in page


def test_review_errors_keep_what_was_typed(client, login_as):
    login_as(Role.OFFICE)
    review_url = upload(client, SMALL_PLAN.encode()).headers["Location"]
    response = client.post(review_url, data={"leads-1.1.2": "", "co-1.1.2": "市某某局（我刚输入的）"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "必须指定牵头单位" in html
    assert "市某某局（我刚输入的）" in html
    assert db.session.scalar(select(func.count(Plan.id))) == 0


@pytest.mark.parametrize("content,filename,message", [
    (b"", "plan.txt", None),
    (b"\x00\x01\x02binary\xff\xfe" * 50, "plan.txt", None),
    (b"not a zip", "plan.docx", None),
    ("随便写的一段话，没有任何措施。".encode(), "plan.txt", None),
    (b"MZ\x90\x00", "plan.exe", "只支持"),
])
def test_bad_uploads_get_a_field_error_and_write_nothing(client, login_as, content, filename, message):
    login_as(Role.OFFICE)
    response = upload(client, content, filename)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "invalid-feedback" in html
    if message:
        assert message in html
    assert db.session.scalar(select(func.count(Plan.id))) == 0


def test_missing_file_is_a_field_error(client, login_as):
    login_as(Role.OFFICE)
    response = client.post("/plans/upload", data={}, content_type="multipart/form-data")
    assert "请选择要上传的文件" in response.get_data(as_text=True)


def test_same_file_cannot_be_imported_twice(client, login_as):
    login_as(Role.OFFICE)
    review_url = upload(client, SMALL_PLAN.encode()).headers["Location"]
    html = client.get(review_url).get_data(as_text=True)
    form = dict(re.findall(r'name="((?:leads|co|rename)-[^"]+)"[^>]*>([^<]*)<', html))
    form.update(re.findall(r'name="(rename-\d+)" value="([^"]*)"', html))
    form["leads-1.1.3"] = "市住建局"
    assert client.post(review_url, data=form).status_code == 302
    again = upload(client, SMALL_PLAN.encode()).headers["Location"]
    html = client.get(again).get_data(as_text=True)
    assert "该文件已导入过" in html
    client.post(again, data=form)
    assert db.session.scalar(select(func.count(Plan.id))) == 0 + 1


def test_liaison_sees_own_tasks_lead_first(client, login_as, fushun_plan):
    dept = Department.lookup("市住房城乡建设局")
    login_as(Role.LIAISON, department=dept)
    html = client.get("/my/").get_data(as_text=True)
    assert "3.4.3" in html
    codes = re.findall(r'<td class="text-nowrap"><a [^>]*task-link[^>]*>([\d.]+)</a></td>', html)
    lead_codes = {t.code for t in fushun_plan.tasks if dept in t.leads}
    assert codes[: len(lead_codes)] and set(codes[: len(lead_codes)]) == lead_codes
    assert "3.7.3" not in codes  # 科技局/教育局 lead it; 住建局 has no part in it
    assert len(codes) == db.session.scalar(
        select(func.count(Assignment.id)).where(Assignment.department_id == dept.id))


def test_liaison_cannot_see_other_departments_or_whole_plan(client, login_as, fushun_plan):
    own = Department.lookup("市住房城乡建设局")
    other = Department.lookup("市交通运输局")
    login_as(Role.LIAISON, department=own)
    assert client.get(f"/plans/departments/{other.id}").status_code == 403
    assert client.get(f"/plans/departments/{own.id}").status_code == 200
    assert client.get(f"/plans/{fushun_plan.id}").status_code == 403
    assert client.get("/plans/").status_code == 403
    assert client.get("/plans/upload").status_code == 403


def test_leader_reads_but_cannot_import(client, login_as, fushun_plan):
    login_as(Role.LEADER)
    assert client.get(f"/plans/{fushun_plan.id}").status_code == 200
    assert client.get("/plans/upload").status_code == 403


def test_plan_page_shows_outline_departments_and_targets(client, login_as, fushun_plan):
    login_as(Role.OFFICE)
    html = client.get(f"/plans/{fushun_plan.id}").get_data(as_text=True)
    assert "推动城乡建设碳达峰" in html
    assert "人民银行抚顺市中心支行" in html
    assert "1000兆瓦" in html


def test_department_pages(client, login_as, fushun_plan):
    login_as(Role.OFFICE)
    html = client.get("/plans/departments").get_data(as_text=True)
    assert "市大数据管理局" in html  # shown as the alias of 市营商局
    dept = Department.lookup("市大数据管理局")
    assert dept.name == "市营商局"
    html = client.get(f"/plans/departments/{dept.id}").get_data(as_text=True)
    assert "3.2.4" in html


def test_list_pages_use_a_bounded_number_of_queries(app, client, login_as, fushun_plan):
    login_as(Role.OFFICE)
    for url in ("/plans/", f"/plans/{fushun_plan.id}", "/plans/departments",
                f"/plans/departments/{Department.lookup('市发展改革委').id}"):
        n = count_queries(lambda url=url: client.get(url))
        assert n <= 12, (url, n)
    assert db.session.scalar(select(func.count(Task.id))) > 40
