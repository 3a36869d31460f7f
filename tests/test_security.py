"""Security findings of issue 13: each protection, proved from outside over HTTP where possible."""
from __future__ import annotations

import importlib
import io
import re
import stat
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.sessions import SecureCookieSessionInterface

from models import Role
from tests.conftest import NOW, PASSWORD, _config, make_user
from tests.factories import PDF
from workflow import config, create_app
from workflow.admin.services import deactivate_user, reactivate_user, reset_password
from workflow.extensions import db
from workflow.files import AttachmentError, detect_type
from workflow.security import init_secret_key


def _forged_session(secret_key: str, data: dict) -> str:
    signer = Flask("forger")
    signer.secret_key = secret_key
    return SecureCookieSessionInterface().get_signing_serializer(signer).dumps(data)


def _admin_session(admin) -> dict:
    return {"_user_id": admin.get_id(), "_fresh": True}


def test_without_secret_key_a_random_key_is_generated_once_with_mode_0600(app, tmp_path):
    key_file = tmp_path / "instance" / "secret_key"
    app.config.update(SECRET_KEY=None, SECRET_KEY_FILE=str(key_file))
    init_secret_key(app)
    key = app.config["SECRET_KEY"]
    assert len(key) >= 32 and key != "dev-only-change-me"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    app.config["SECRET_KEY"] = None
    init_secret_key(app)
    assert app.config["SECRET_KEY"] == key  # reused, so sessions survive a restart


def test_a_cookie_forged_with_the_old_dev_key_opens_nothing(app, client, tmp_path):
    admin = make_user(Role.ADMIN, username="root")
    app.config.update(SECRET_KEY=None, SECRET_KEY_FILE=str(tmp_path / "secret_key"))
    init_secret_key(app)
    client.set_cookie("session", _forged_session("dev-only-change-me", _admin_session(admin)))
    response = client.get("/admin/users")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    # the same cookie signed with the real key does open the page: the forgery, not the method, failed
    client.set_cookie("session", _forged_session(app.config["SECRET_KEY"], _admin_session(admin)))
    assert client.get("/admin/users").status_code == 200


@pytest.mark.parametrize("key", ["dev-only-change-me", "secret", "short-key"])
def test_a_known_or_short_secret_key_refuses_to_start_outside_tests(database_url, key):
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(_config(database_url, TESTING=False, SECRET_KEY=key))
    assert create_app(_config(database_url, TESTING=True, SECRET_KEY=key)).secret_key == key


# -- item 2: sessions can be revoked -------------------------------------------------------------------------

def _signed_in_cookies(app, username: str) -> dict[str, str]:
    """Log in with 记住我 on a client of its own; its session and remember cookies, as an attacker copies them."""
    thief = app.test_client()
    response = thief.post("/login", data={"username": username, "password": PASSWORD, "remember": "y"})
    assert response.status_code == 302
    return {name: thief.get_cookie(name).value for name in ("session", "remember_token")}


def _opens_account(app, name: str, value: str) -> bool:
    replay = app.test_client()
    replay.set_cookie(name, value)
    return replay.get("/account/").status_code == 200


def _end_by_reset(app, user, admin):
    reset_password(user, actor=admin, now=NOW)


def _end_by_deactivate_and_reactivate(app, user, admin):
    deactivate_user(user, actor=admin, now=NOW)
    reactivate_user(user, actor=admin, now=NOW)


def _end_everywhere(app, user, admin):
    own = app.test_client()
    own.post("/login", data={"username": user.username, "password": PASSWORD})
    assert own.post("/account/sessions/end").status_code == 302
    assert own.get("/account/").status_code == 302  # this device too


def _end_by_password_change(app, user, admin):
    own = app.test_client()
    own.post("/login", data={"username": user.username, "password": PASSWORD})
    response = own.post("/account/password", data={"current_password": PASSWORD, "new_password": "Ochre-Lantern-93",
                                                   "confirm_password": "Ochre-Lantern-93"})
    assert response.status_code == 302
    assert own.get("/account/").status_code == 200  # the device that changed it stays signed in


@pytest.mark.parametrize("end", [_end_by_reset, _end_by_deactivate_and_reactivate, _end_everywhere,
                                 _end_by_password_change])
@pytest.mark.parametrize("cookie", ["session", "remember_token"])
def test_old_session_and_remember_cookies_are_refused_after(app, end, cookie):
    admin = make_user(Role.ADMIN, username="root")
    user = make_user(Role.OFFICE, username="o1")
    stolen = _signed_in_cookies(app, "o1")
    assert _opens_account(app, cookie, stolen[cookie])
    end(app, user, admin)
    assert not _opens_account(app, cookie, stolen[cookie])


def test_a_bare_user_id_in_the_session_loads_nobody(app, client):
    admin = make_user(Role.ADMIN, username="root")
    client.set_cookie("session", _forged_session(app.secret_key, {"_user_id": str(admin.id), "_fresh": True}))
    assert client.get("/admin/users").status_code == 302


def test_remember_cookie_lasts_30_days_and_is_secure_with_the_session_cookie(app, client, monkeypatch):
    make_user(Role.OFFICE, username="o1")
    before = datetime.now(UTC)
    client.post("/login", data={"username": "o1", "password": PASSWORD, "remember": "y"})
    expires = client.get_cookie("remember_token").expires
    assert timedelta(days=29) < expires - before <= timedelta(days=30, minutes=1)
    monkeypatch.setenv("SESSION_COOKIE_SECURE", "1")
    try:
        assert importlib.reload(config).Config.REMEMBER_COOKIE_SECURE is True
    finally:
        monkeypatch.delenv("SESSION_COOKIE_SECURE")
        importlib.reload(config)


def test_password_change_needs_the_current_password_and_a_matching_confirmation(client, login_as):
    user = login_as(Role.LIAISON, department="市测试局")
    response = client.post("/account/password", data={"current_password": "wrong", "new_password": "Ochre-Lantern-93",
                                                      "confirm_password": "Ochre-Lantern-93"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "当前密码不正确" in html
    response = client.post("/account/password", data={"current_password": PASSWORD, "new_password": "Ochre-Lantern-93",
                                                      "confirm_password": "different-thing-1"})
    assert response.status_code == 422 and "两次输入的新密码不一致" in response.get_data(as_text=True)
    db.session.refresh(user)
    assert user.check_password(PASSWORD)
    client.post("/account/password", data={"current_password": PASSWORD, "new_password": "Ochre-Lantern-93",
                                           "confirm_password": "Ochre-Lantern-93"})
    db.session.refresh(user)
    assert user.check_password("Ochre-Lantern-93")


# -- item 5: headers -----------------------------------------------------------------------------------------

def _assert_security_headers(response) -> None:
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in response.headers  # HSTS_SECONDS is off by default
    assert "Server" not in response.headers


def test_security_headers_on_a_page_the_api_and_a_pdf_download(app, client, login_as):
    _assert_security_headers(client.get("/login"))
    login_as(Role.OFFICE)
    _assert_security_headers(client.get("/account/"))
    _assert_security_headers(client.get("/api/v1/openapi.json"))
    _assert_security_headers(client.get("/api/v1/plans"))
    app.config["HSTS_SECONDS"] = 31536000
    assert client.get("/login").headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_security_headers_on_a_pdf_download(client, login_as, evaluation):
    ev, _office = evaluation
    login_as(Role.OFFICE)
    location = client.post(f"/evaluation/{ev.plan_id}/{ev.year}/files", data={"kind": "pdf"}).headers["Location"]
    response = client.get(location)
    assert response.mimetype == "application/pdf"
    _assert_security_headers(response)


TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def test_no_template_has_inline_script_or_event_handlers():
    """The CSP refuses inline script, so none may be written: the enhancements live in static/app.js."""
    for path in TEMPLATES.rglob("*.html"):
        html = path.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), path
        assert not re.search(r"\son[a-z]+\s*=", html), path


def test_every_page_names_its_icon_from_its_own_origin(client):
    """Browsers ask for an icon on every page: a same-origin one (the CSP's img-src 'self'), not a 404 per page."""
    html = client.get("/login").get_data(as_text=True)
    icon = re.search(r'<link rel="icon"[^>]*href="([^"]+)"', html).group(1)
    assert icon.startswith("/static/")
    served = client.get(icon)
    assert served.status_code == 200 and served.mimetype == "image/svg+xml"
    assert served.headers["X-Content-Type-Options"] == "nosniff"


# -- item 4: brute force and enumeration ---------------------------------------------------------------------

def _login(client, username: str, password: str):
    return client.post("/login", data={"username": username, "password": password})


def test_the_21st_login_attempt_is_refused_even_with_the_right_password(app, client):
    app.config.update(LOGIN_RATE_LIMIT=config.Config.LOGIN_RATE_LIMIT, LOGIN_MAX_FAILURES=1000)
    make_user(Role.OFFICE, username="o1")
    for _ in range(20):
        assert _login(client, "o1", "wrong").status_code == 200
    response = _login(client, "o1", PASSWORD)
    assert response.status_code == 429
    assert client.get("/account/").status_code == 302


def test_the_login_limit_counts_per_username_across_addresses(app, client):
    app.config.update(LOGIN_RATE_LIMIT="3 per minute", LOGIN_MAX_FAILURES=1000)
    make_user(Role.OFFICE, username="o1")
    for n in range(3):
        response = client.post("/login", data={"username": "o1", "password": "wrong"},
                               environ_base={"REMOTE_ADDR": f"10.0.0.{n}"})
        assert response.status_code == 200
    response = client.post("/login", data={"username": "o1", "password": PASSWORD},
                           environ_base={"REMOTE_ADDR": "10.0.0.99"})
    assert response.status_code == 429


def test_wrong_passwords_lock_the_account_until_an_admin_unlocks_it(app, client):
    user = make_user(Role.OFFICE, username="o1")
    make_user(Role.ADMIN, username="root")
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        _login(client, "o1", "wrong")
    response = _login(client, "o1", PASSWORD)
    assert response.status_code == 200 and "用户名或密码不正确" in response.get_data(as_text=True)
    db.session.refresh(user)
    assert user.locked_until is not None

    admin = app.test_client()
    _login(admin, "root", PASSWORD)
    page = admin.get(f"/admin/users/{user.id}").get_data(as_text=True)
    assert "临时锁定" in page and f"/admin/users/{user.id}/unlock" in page
    assert admin.post(f"/admin/users/{user.id}/unlock").status_code == 302
    assert "临时锁定" not in admin.get(f"/admin/users/{user.id}").get_data(as_text=True)
    assert _login(client, "o1", PASSWORD).status_code == 302


def test_a_lockout_runs_out_by_itself(app, client):
    user = make_user(Role.OFFICE, username="o1")
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        _login(client, "o1", "wrong")
    db.session.refresh(user)
    user.locked_until = datetime.now(UTC) - timedelta(seconds=1)
    db.session.commit()
    assert _login(client, "o1", PASSWORD).status_code == 302


def test_an_unknown_username_costs_a_password_hash_check(client, monkeypatch):
    from workflow.auth import services

    checked = []
    real = services.check_password_hash
    monkeypatch.setattr(services, "check_password_hash", lambda h, p: checked.append(p) or real(h, p))
    assert _login(client, "nobody", "guess-1").status_code == 200
    assert checked == ["guess-1"]


def test_the_api_is_rate_limited_per_token_with_a_problem_answer(app, client):
    from workflow.auth.tokens import create_token

    app.config["API_RATE_LIMIT"] = "3 per minute"
    _row, token = create_token(make_user(Role.OFFICE, username="o1"), now=NOW)
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(3):
        assert client.get("/api/v1/me", headers=headers).status_code == 200
    response = client.get("/api/v1/me", headers=headers)
    assert response.status_code == 429 and response.mimetype == "application/problem+json"


def test_pdf_generation_is_rate_limited(app, client, login_as, evaluation):
    ev, _office = evaluation
    app.config["PDF_RATE_LIMIT"] = "1 per minute"
    login_as(Role.OFFICE)
    url = f"/evaluation/{ev.plan_id}/{ev.year}/files"
    assert client.post(url, data={"kind": "pdf"}).status_code == 302
    assert client.post(url, data={"kind": "pdf"}).status_code == 429


def test_rate_limit_counts_live_in_the_database_shared_by_every_worker(app, database_url):
    """The production default: a second worker (here a second app, whose limiter starts with empty memory)
    continues the count the first one began, and a worker restart forgets nothing."""
    from models import RateLimitCounter

    make_user(Role.OFFICE, username="o1")
    settings = dict(RATELIMIT_STORAGE_URI="database://", LOGIN_RATE_LIMIT="3 per minute", LOGIN_MAX_FAILURES=1000)
    first = create_app(_config(database_url, **settings)).test_client()
    for _ in range(2):
        assert _login(first, "o1", "wrong").status_code == 200
    second = create_app(_config(database_url, **settings)).test_client()
    assert _login(second, "o1", "wrong").status_code == 200
    assert _login(second, "o1", PASSWORD).status_code == 429
    assert _login(first, "o1", PASSWORD).status_code == 429
    counters = db.session.scalars(db.select(RateLimitCounter)).all()
    assert counters and max(c.hits for c in counters) >= 4


def test_expired_rate_limit_windows_are_purged_and_start_again(app):
    from workflow.ratelimits import DatabaseStorage, purge_expired

    storage = DatabaseStorage("database://")
    assert [storage.incr("k", 60) for _ in range(3)] == [1, 2, 3]
    assert storage.get("k") == 3 and storage.get_expiry("k") > NOW.timestamp()
    assert purge_expired(now=storage.get_expiry("k") - 1) == 0
    assert purge_expired(now=storage.get_expiry("k") + 1) == 1
    assert storage.get("k") == 0 and storage.incr("k", 60) == 1
    storage.clear("k")
    assert storage.get("k") == 0 and storage.check()


# -- item 6: passwords ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("weak", ["12345678", "aaaaaaaa"])
@pytest.mark.parametrize("role", [Role.OFFICE, Role.ADMIN, Role.LIAISON])
def test_weak_passwords_are_a_field_error_on_the_admin_form(client, login_as, role, weak):
    dept = make_user(Role.LIAISON, department="市测试局").department
    login_as(Role.ADMIN)
    response = client.post("/admin/users/new", data={"username": "new.user", "role": role,
                                                     "department": str(dept.id), "password": weak})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "初始密码" in html and "new.user" in html
    assert "太容易被猜中" in html or "常见密码" in html


@pytest.mark.parametrize("weak", ["12345678", "aaaaaaaa", "password1"])
def test_weak_passwords_are_a_field_error_on_the_own_change(client, login_as, weak):
    login_as(Role.OFFICE)
    response = client.post("/account/password", data={"current_password": PASSWORD, "new_password": weak,
                                                      "confirm_password": weak})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and 'id="new_password"' in html and "is-invalid" in html


def test_the_office_and_admins_need_more_than_a_liaison():
    from workflow.auth.passwords import password_problem

    assert password_problem("iloveyou2", Role.LIAISON) is not None  # score 1
    assert password_problem("s3cret-pass", Role.LIAISON) is None    # score 2: enough for a liaison
    assert password_problem("s3cret-pass", Role.OFFICE) is not None
    assert "常见密码" in password_problem("qwertyuiop", Role.ADMIN)
    assert password_problem("Ochre-Lantern-93", Role.ADMIN) is None
    assert password_problem("zhang.san.2026", Role.OFFICE, ("zhang.san",)) is not None


# -- item 7: uploads are checked as a whole container -------------------------------------------------------

def _zip_with(base: bytes, extra: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(base)) as source, zipfile.ZipFile(buffer, "w") as target:
        for item in source.infolist():
            target.writestr(item, source.read(item))
        for name, data in extra.items():
            target.writestr(name, data)
    return buffer.getvalue()


def _real_docx() -> bytes:
    import docx

    buffer = io.BytesIO()
    document = docx.Document()
    document.add_paragraph("督办事项进展")
    document.save(buffer)
    return buffer.getvalue()


def _real_xlsx() -> bytes:
    import openpyxl

    buffer = io.BytesIO()
    workbook = openpyxl.Workbook()
    workbook.active["A1"] = "进展"
    workbook.save(buffer)
    return buffer.getvalue()


EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 54 + b"This program cannot be run in DOS mode"


def test_real_pdfs_documents_and_workbooks_are_accepted():
    assert detect_type(PDF) == "pdf"
    assert detect_type(_real_docx()) == "docx"
    assert detect_type(_real_xlsx()) == "xlsx"


@pytest.mark.parametrize("data", [
    b"%PDF-1.7\n" + EXE,                                                  # an .exe behind a PDF header
    PDF[:len(PDF) // 2],                                                  # a truncated PDF
    _zip_with(_real_docx(), {"word/media/setup.exe": EXE}),               # a document carrying a program
    _zip_with(_real_docx(), {"word/vbaProject.bin": b"macro"}),           # a .docm renamed
    _zip_with(_real_xlsx(), {"xl/embeddings/oleObject1.bin": EXE}),       # an OLE package
    _zip_with(_real_xlsx(), {"payload/run.js": b"WScript.Echo(1)"}),      # a part outside the OOXML folders
], ids=["exe-behind-pdf-header", "truncated-pdf", "docx-with-exe", "docx-with-macros", "xlsx-with-ole",
        "xlsx-with-script"])
def test_containers_with_anything_else_are_refused(data):
    with pytest.raises(AttachmentError):
        detect_type(data)

