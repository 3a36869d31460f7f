"""Security findings of issue 13: each protection, proved from outside over HTTP where possible."""
from __future__ import annotations

import stat

import pytest
from flask import Flask
from flask.sessions import SecureCookieSessionInterface

from models import Role
from tests.conftest import _config, make_user
from workflow import create_app
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
