from models import Role
from tests.conftest import PASSWORD, make_user


def test_login_page_is_chinese_and_has_csrf_field_when_enabled(app, client):
    app.config["WTF_CSRF_ENABLED"] = True
    html = client.get("/login").get_data(as_text=True)
    assert 'lang="zh-CN"' in html
    assert "登录督办系统" in html
    assert 'name="csrf_token"' in html
    assert "cdn" not in html.lower()


def test_login_without_csrf_token_is_refused(app, client):
    make_user(Role.OFFICE, username="o1")
    app.config["WTF_CSRF_ENABLED"] = True
    response = client.post("/login", data={"username": "o1", "password": PASSWORD})
    assert response.status_code == 400
    assert "表单已过期" in response.get_data(as_text=True)


def test_wrong_password_shows_field_error_and_keeps_username(client):
    make_user(Role.OFFICE, username="o1")
    response = client.post("/login", data={"username": "o1", "password": "nope"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "用户名或密码不正确" in html
    assert 'value="o1"' in html


def test_deactivated_user_cannot_log_in(client):
    from workflow.extensions import db

    user = make_user(Role.OFFICE, username="o1")
    user.active = False
    db.session.commit()
    response = client.post("/login", data={"username": "o1", "password": PASSWORD})
    assert response.status_code == 200
    assert "已停用" in response.get_data(as_text=True)


def test_password_is_hashed(app):
    user = make_user(Role.OFFICE, username="o1")
    assert PASSWORD not in user.password_hash
    assert user.check_password(PASSWORD)


def test_session_cookie_is_httponly_and_samesite(client):
    make_user(Role.OFFICE, username="o1")
    response = client.post("/login", data={"username": "o1", "password": PASSWORD})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_pages_require_login(client):
    response = client.get("/my/tasks")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_login_ignores_offsite_next(client):
    make_user(Role.OFFICE, username="o1")
    response = client.post("/login?next=https://evil.example/x", data={"username": "o1", "password": PASSWORD})
    assert response.headers["Location"] == "/"


def test_logout_then_pages_need_login_again(client, login_as):
    login_as(Role.OFFICE)
    assert client.get("/plans/").status_code == 200
    client.post("/logout")
    assert client.get("/plans/").status_code == 302


def test_language_switch_to_english_keeps_working(client, login_as):
    login_as(Role.OFFICE)
    client.post("/lang/en", data={"next": "/plans/"})
    html = client.get("/plans/").get_data(as_text=True)
    assert 'lang="en"' in html


def test_unknown_page_is_a_friendly_404(client, login_as):
    login_as(Role.OFFICE)
    response = client.get("/plans/999999")
    assert response.status_code == 404
    assert "页面不存在" in response.get_data(as_text=True)
