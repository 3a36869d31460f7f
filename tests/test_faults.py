"""Faults survived: the database unreachable answers 503 (a page, a problem document) with Retry-After and no
traceback, and the app reconnects by itself once the database is back."""
from __future__ import annotations

import socket

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from models import Role
from tests.conftest import PASSWORD, _config, make_user
from workflow import create_app
from workflow.config import Config
from workflow.extensions import db


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def unreachable(tmp_path):
    """The app as it is while its PostgreSQL restarts: nothing listens where the database should be."""
    url = f"postgresql+psycopg://postgres@127.0.0.1:{_closed_port()}/test?connect_timeout=2"
    app = create_app(_config(url, UPLOAD_DIR=str(tmp_path / "uploads")))
    with app.app_context():
        yield app.test_client()
        db.engine.dispose()


@pytest.mark.parametrize("path", ["/", "/reports/", "/review/", "/account/inbox"])
def test_a_signed_in_page_answers_503_with_retry_after_while_the_database_is_away(unreachable, path):
    with unreachable.session_transaction() as session:  # a session as a signed-in browser sends it
        session.update({"_user_id": "1:0", "_fresh": True})
    response = unreachable.get(path)
    html = response.get_data(as_text=True)
    assert response.status_code == 503 and response.headers["Retry-After"].isdigit()
    assert "系统暂时不可用" in html and "Traceback" not in html and "psycopg" not in html


def test_a_login_and_the_api_answer_503_while_the_database_is_away(unreachable):
    response = unreachable.post("/login", data={"username": "office", "password": "x"})
    assert response.status_code == 503 and "系统暂时不可用" in response.get_data(as_text=True)
    response = unreachable.get("/api/v1/me", headers={"Authorization": "Bearer dbt_whatever"})
    assert response.status_code == 503 and response.mimetype == "application/problem+json"
    assert response.json["status"] == 503 and response.headers["Retry-After"].isdigit()


def test_after_the_database_dropped_every_connection_the_next_request_just_works(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("a server restart is a PostgreSQL event")
    make_user(Role.OFFICE, username="o1")
    url = db.engine.url.render_as_string(hide_password=False)
    db.session.remove()
    production = create_app(_config(url, SQLALCHEMY_ENGINE_OPTIONS=Config.SQLALCHEMY_ENGINE_OPTIONS))
    client = production.test_client()  # each request its own app context and session, as in a worker
    assert client.post("/login", data={"username": "o1", "password": PASSWORD}).status_code == 302
    assert client.get("/account/").status_code == 200
    with create_engine(url, poolclass=NullPool).connect() as conn:  # what a restart does to pooled connections
        killed = conn.execute(text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                   "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar()
    assert killed >= 1
    assert client.get("/account/").status_code == 200  # pool_pre_ping replaced the dead connection
    with production.app_context():
        db.engine.dispose()
