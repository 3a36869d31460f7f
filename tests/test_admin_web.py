"""The admin pages through HTTP: users (create, edit, deactivate, reset password), departments, and that only
admins get in — administration gives no review rights and the office no admin rights."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from models import AuditEvent, Department, Role, User
from tests.conftest import PASSWORD, make_department, make_user
from workflow.extensions import db


def log_in(client, username: str, password: str):
    client.post("/logout")
    return client.post("/login", data={"username": username, "password": password})


def temp_password(html: str) -> str:
    match = re.search(r'<p class="temp-password mb-0"><code>([^<]+)</code></p>', html)
    assert match, html
    return match.group(1)


def test_users_list_filters_and_search(client, login_as):
    housing = make_department("市住房城乡建设局")
    make_user(Role.LIAISON, housing, username="zhang.san")
    make_user(Role.DEPT_HEAD, housing, username="li.si")
    make_user(Role.LIAISON, "市交通运输局", username="wang.wu")
    login_as(Role.ADMIN)
    html = client.get("/admin/users").get_data(as_text=True)
    assert all(name in html for name in ("zhang.san", "li.si", "wang.wu")) and "联络员" in html
    html = client.get("/admin/users?role=liaison").get_data(as_text=True)
    assert "zhang.san" in html and "wang.wu" in html and "li.si" not in html
    html = client.get(f"/admin/users?department={housing.id}").get_data(as_text=True)
    assert "zhang.san" in html and "li.si" in html and "wang.wu" not in html
    html = client.get("/admin/users?q=WANG").get_data(as_text=True)
    assert "wang.wu" in html and "zhang.san" not in html
    make_user(Role.LIAISON, housing, username="zhao_qi")
    make_user(Role.LIAISON, housing, username="bo.qi")
    html = client.get("/admin/users?q=o_q").get_data(as_text=True)  # '_' is a character, not a wildcard
    assert "zhao_qi" in html and "bo.qi" not in html
    assert client.get("/admin/users?role=x&department=abc&active=9&q=%25").status_code == 200


def test_create_liaison_without_department_is_a_field_error_and_keeps_what_was_typed(client, login_as):
    make_department("市住房城乡建设局")
    login_as(Role.ADMIN)
    response = client.post("/admin/users/new", data={
        "username": "zhao.liu", "display_name": "赵六", "email": "zhao@example.gov.cn", "role": "liaison",
        "department": "", "password": "initial-pass-1"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "联络员和单位负责人必须选择所属单位" in html
    assert 'value="zhao.liu"' in html and 'value="赵六"' in html and 'value="zhao@example.gov.cn"' in html
    assert '<option selected value="liaison">' in html or 'value="liaison" selected' in html
    assert db.session.scalar(select(User).where(User.username == "zhao.liu")) is None


def test_create_user_then_log_in(client, login_as):
    housing = make_department("市住房城乡建设局")
    admin = login_as(Role.ADMIN)
    response = client.post("/admin/users/new", data={
        "username": "zhao.liu", "display_name": "赵六", "email": "zhao@example.gov.cn", "role": "liaison",
        "department": str(housing.id), "password": "initial-pass-1"})
    assert response.status_code == 302
    user = db.session.scalar(select(User).where(User.username == "zhao.liu"))
    assert user.department_id == housing.id and user.role == Role.LIAISON and user.display_name == "赵六"
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.create"))
    assert event.object_id == user.id and event.actor_id == admin.id
    assert "initial-pass-1" not in str(event.data)
    assert log_in(client, "zhao.liu", "initial-pass-1").status_code == 302


def test_create_user_with_a_generated_password_shows_it_once(client, login_as):
    login_as(Role.ADMIN)
    response = client.post("/admin/users/new", data={"username": "leader2", "display_name": "", "email": "",
                                                     "role": "leader", "department": "", "password": ""})
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    password = temp_password(response.get_data(as_text=True))
    assert len(password) >= 12
    assert log_in(client, "leader2", password).status_code == 302


def test_create_user_field_errors(client, login_as):
    make_user(Role.OFFICE, username="taken")
    login_as(Role.ADMIN)
    cases = [
        ({"username": "taken"}, "已被使用"),
        ({"username": "TAKEN"}, "已被使用"),
        ({"username": ""}, "请填写用户名"),
        ({"username": "a b"}, "用户名为 3–80 位"),
        ({"username": "ok.name", "email": "not-an-email"}, "电子邮箱格式不对"),
        ({"username": "ok.name", "password": "short"}, "初始密码至少 8 位"),
        ({"username": "ok.name", "role": "superuser"}, "请选择角色"),
        ({"username": "ok.name", "role": "liaison", "department": "99999"}, "所选单位不存在"),
    ]
    for changes, message in cases:
        data = {"username": "", "display_name": "", "email": "", "role": "office", "department": "",
                "password": "", **changes}
        response = client.post("/admin/users/new", data=data)
        assert response.status_code == 422, changes
        assert message in response.get_data(as_text=True), changes
    assert db.session.scalar(select(func.count(User.id))) == 2


def test_deactivated_user_cannot_log_in_and_can_be_reactivated(client, login_as):
    user = make_user(Role.LIAISON, "市住房城乡建设局", username="zhang.san")
    admin = login_as(Role.ADMIN)
    response = client.post(f"/admin/users/{user.id}/deactivate")
    assert response.status_code == 302
    db.session.expire_all()
    assert not user.active
    assert "已停用" in client.get("/admin/users").get_data(as_text=True)
    response = log_in(client, "zhang.san", PASSWORD)
    assert response.status_code == 200 and "已停用" in response.get_data(as_text=True)

    log_in(client, admin.username, PASSWORD)
    client.post(f"/admin/users/{user.id}/reactivate")
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.object_id == user.id,
                                                                 AuditEvent.object_type == "user_account")).all()
    assert actions == ["user.deactivate", "user.reactivate"]
    assert log_in(client, "zhang.san", PASSWORD).status_code == 302


def test_a_deactivated_user_loses_a_session_it_already_has(client, login_as):
    from flask import g

    from workflow.admin.services import deactivate_user
    from workflow.clock import utcnow

    liaison = login_as(Role.LIAISON, department="市住房城乡建设局")
    assert client.get("/my/").status_code == 200
    deactivate_user(liaison, actor=make_user(Role.ADMIN, username="root"), now=utcnow())
    g.pop("_login_user", None)  # the tests share one app context; a real next request loads the user afresh
    response = client.get("/my/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_admin_cannot_deactivate_or_demote_itself(client, login_as):
    admin = login_as(Role.ADMIN)
    client.post(f"/admin/users/{admin.id}/deactivate")
    db.session.expire_all()
    assert admin.active
    assert "不能停用自己的账号" in client.get("/admin/users").get_data(as_text=True)
    response = client.post(f"/admin/users/{admin.id}", data={"display_name": "", "email": "", "role": "office",
                                                             "department": ""})
    assert response.status_code == 422 and "不能取消自己的管理员角色" in response.get_data(as_text=True)


def test_reset_password_shows_a_temporary_password_that_works(client, login_as):
    user = make_user(Role.LIAISON, "市住房城乡建设局", username="zhang.san")
    login_as(Role.ADMIN)
    response = client.post(f"/admin/users/{user.id}/reset-password")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    password = temp_password(response.get_data(as_text=True))
    assert password != PASSWORD
    with client.session_transaction() as sess:
        assert password not in str(dict(sess))  # never kept in the session cookie
    assert log_in(client, "zhang.san", PASSWORD).status_code == 200
    assert log_in(client, "zhang.san", password).status_code == 302
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.reset_password")) is not None


def test_change_department_and_profile(client, login_as):
    housing, transport = make_department("市住房城乡建设局"), make_department("市交通运输局")
    user = make_user(Role.LIAISON, housing, username="zhang.san")
    login_as(Role.ADMIN)
    html = client.get(f"/admin/users/{user.id}").get_data(as_text=True)
    assert f'<option selected value="{housing.id}">' in html or f'value="{housing.id}" selected' in html
    response = client.post(f"/admin/users/{user.id}", data={"display_name": "张三", "email": "zs@example.gov.cn",
                                                            "role": "liaison", "department": str(transport.id)})
    assert response.status_code == 302
    db.session.expire_all()
    assert user.department_id == transport.id and user.display_name == "张三"
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.update"))
    assert event.data["changes"]["department"] == ["市住房城乡建设局", "市交通运输局"]
    response = client.post(f"/admin/users/{user.id}", data={"display_name": "张三", "email": "",
                                                            "role": "dept_head", "department": ""})
    assert response.status_code == 422 and "必须选择所属单位" in response.get_data(as_text=True)
    db.session.expire_all()
    assert user.role == Role.LIAISON and user.department_id == transport.id
    assert client.get("/admin/users/99999").status_code == 404


def test_departments_create_and_alias(client, login_as):
    make_department("市住房城乡建设局")
    login_as(Role.ADMIN)
    response = client.post("/admin/departments", data={"name": "市数据局", "kind": "municipal"})
    assert response.status_code == 302
    data_bureau = Department.lookup("市数据局")
    assert data_bureau is not None and data_bureau.kind == "municipal"
    response = client.post("/admin/departments", data={"name": "市数据局", "kind": "municipal"})
    assert response.status_code == 422 and "已存在" in response.get_data(as_text=True)
    response = client.post("/admin/departments", data={"name": "", "kind": "municipal"})
    assert response.status_code == 422 and "请填写单位名称" in response.get_data(as_text=True)
    response = client.post(f"/admin/departments/{data_bureau.id}/aliases", data={"alias": "市大数据局"})
    assert response.status_code == 302
    assert Department.lookup("市大数据局").id == data_bureau.id
    response = client.post(f"/admin/departments/{data_bureau.id}/aliases", data={"alias": "市住房城乡建设局"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "已用于市住房城乡建设局" in html
    html = client.get("/admin/departments").get_data(as_text=True)
    assert "市数据局" in html and "市大数据局" in html


@pytest.mark.parametrize("role", [Role.OFFICE, Role.LEADER, Role.LIAISON, Role.DEPT_HEAD])
def test_only_admins_administer(client, login_as, role):
    target = make_user(Role.LIAISON, "市住房城乡建设局", username="zhang.san")
    login_as(role, department="市交通运输局" if role in (Role.LIAISON, Role.DEPT_HEAD) else None)
    for url in ("/admin/users", "/admin/users/new", f"/admin/users/{target.id}", "/admin/departments"):
        assert client.get(url).status_code == 403, url
    for url, data in [("/admin/users/new", {"username": "x1", "role": "admin", "password": "12345678"}),
                      (f"/admin/users/{target.id}/deactivate", {}),
                      (f"/admin/users/{target.id}/reset-password", {}),
                      (f"/admin/users/{target.id}", {"role": "admin"}),
                      ("/admin/departments", {"name": "x", "kind": "other"})]:
        assert client.post(url, data=data).status_code == 403, url
    db.session.expire_all()
    assert target.active and target.check_password(PASSWORD)
    assert db.session.scalar(select(User).where(User.username == "x1")) is None


def test_anonymous_is_sent_to_log_in(client, app):
    response = client.get("/admin/users")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_csrf_is_required_on_admin_forms(app, client, login_as):
    target = make_user(Role.LIAISON, "市住房城乡建设局", username="zhang.san")
    login_as(Role.ADMIN)
    app.config["WTF_CSRF_ENABLED"] = True
    assert client.post(f"/admin/users/{target.id}/deactivate").status_code == 400
    assert 'name="csrf_token"' in client.get("/admin/users").get_data(as_text=True)
    db.session.expire_all()
    assert target.active
