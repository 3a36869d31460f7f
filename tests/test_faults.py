"""Faults survived: the database unreachable answers 503 (a page, a problem document) with Retry-After and no
traceback, the app reconnects by itself once the database is back, and a web process killed mid-upload leaves
the draft whole and no stray file after the scheduler's sweep."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import suppress
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.pool import NullPool

from deploy.prod_check import wait_until_up
from models import Attachment, Report, Role
from tests.conftest import PASSWORD, _config, make_user
from tests.factories import PDF, liaison_of, published_fushun, report_for
from workflow import create_app
from workflow.clock import utcnow
from workflow.config import Config
from workflow.extensions import db
from workflow.reports.services import sweep_attachments
from workflow.storage import storage


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


def test_a_web_process_killed_mid_upload_leaves_the_draft_whole_and_no_stray_file(app, database_url, tmp_path,
                                                                                  storage_backend):
    """kill -9 while an attachment's bytes are in the store (local folder or S3) but its row is not committed: the
    report is still a draft with the text typed (saved first), has no attachment row, and the scheduler's sweep
    removes the blob."""
    if db.engine.dialect.name == "sqlite" and database_url.endswith(":memory:"):
        pytest.skip("another process needs the database on disk")
    plan, _office = published_fushun()
    report = report_for(plan, "3.4.3")
    liaison = liaison_of(report.department.name)
    report_id, version, username = report.id, report.version, liaison.username
    db.session.commit()
    db.session.close()

    port, marker = _closed_port(), tmp_path / "written"
    uploads = Path(app.config["UPLOAD_DIR"])
    env = {**os.environ, "TEST_DATABASE_URL": database_url, "UPLOAD_DIR": str(uploads),
           **{name: str(value) for name, value in app.config.items() if name.startswith("S3_") and value}}
    server = subprocess.Popen([sys.executable, "tests/fault_server.py", str(port), str(marker)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        session = requests.Session()
        wait_until_up(base, server, seconds=120)
        assert session.post(f"{base}/login", data={"username": username, "password": PASSWORD},
                            allow_redirects=False, timeout=10).status_code == 302
        form = {"version": str(version), "narrative": "断电前写好的说明", "percent_complete": "20",
                "progress": "on_track", "difficulties": "", "next_steps": ""}
        upload = threading.Thread(target=lambda: _ignore_errors(lambda: session.post(
            f"{base}/reports/{report_id}/attachments", data=form, files={"file": ("表.pdf", PDF)}, timeout=30)))
        upload.start()
        for _ in range(300):
            if marker.exists():
                break
            time.sleep(0.05)
        assert marker.exists(), "the upload never reached the disk"
        os.kill(server.pid, signal.SIGKILL)
        upload.join(timeout=30)
    finally:
        server.kill()
        server.wait(timeout=10)

    blob = marker.read_text()
    report = db.session.get(Report, report_id)
    assert report.status == "draft" and report.narrative == "断电前写好的说明"
    assert db.session.scalar(select(func.count(Attachment.id)).where(Attachment.report_id == report_id)) == 0
    assert storage().exists(blob)  # the stray the kill left
    assert sweep_attachments(now=utcnow()) == 0  # too fresh: a live request might still commit its row
    assert sweep_attachments(now=utcnow() + timedelta(hours=2)) == 1
    assert not storage().exists(blob)


def _ignore_errors(call) -> None:
    with suppress(requests.RequestException):  # the server is killed under this request on purpose
        call()
