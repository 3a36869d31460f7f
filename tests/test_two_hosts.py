"""Two app "hosts" against one PostgreSQL and one S3 endpoint: each host is a process group of its own (gunicorn
with two workers, and a scheduler) with an upload folder of its own. An attachment uploaded through host A
downloads through host B; the session cookie of host A is good on host B (signed cookies, nothing in a worker's
memory); the login rate limit counts attempts on both hosts together (counters in the database); of the two
schedulers exactly one leads (the advisory lock), and when its host dies the other takes over.

PostgreSQL only (TEST_DATABASE_URL), in a schema of its own; S3 is moto's server (tests/conftest.py)."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, select

from deploy.prod_check import wait_until_up
from models import Attachment
from tests.conftest import PASSWORD, _config, free_port
from tests.factories import PDF, liaison_of, published_fushun, report_for
from tests.test_scheduler_processes import (
    ROOT,
    SchedulerProcess,
    kill_all,
    postgres_schema_database,
    scheduler_env,
    start_scheduler,
    wait_for_any,
    wait_for_line,
)
from workflow import create_app
from workflow.extensions import db

pytestmark = pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"),
                                reason="several hosts share a PostgreSQL server")
LOGIN_LIMIT = 5
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
VERSION = re.compile(r'name="version"[^>]*value="(\d+)"')


@contextmanager
def web_host(env: dict[str, str]) -> Iterator[str]:
    """gunicorn with two workers in a process group of its own; yields its base URL, kills the group after."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", "wsgi:app"],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, server, seconds=180)
        yield base
    finally:
        with suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)


def csrf(session: requests.Session, url: str) -> tuple[str, str]:
    page = session.get(url, timeout=30)
    assert page.status_code == 200, (url, page.status_code)
    return CSRF.search(page.text).group(1), page.text


def seed(url: str, folder: Path) -> tuple[int, str]:
    """The bundled plan published in the hosts' schema: (a draft's id, its liaison's username)."""
    app = create_app(_config(url, UPLOAD_DIR=str(folder)))
    with app.app_context():
        plan, _office = published_fushun()
        report = report_for(plan, "3.4.3")
        found = report.id, liaison_of(report.department.name).username
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return found


def test_an_upload_through_one_host_downloads_through_the_other_and_one_scheduler_leads(tmp_path, s3_settings):
    with postgres_schema_database(os.environ["TEST_DATABASE_URL"]) as url:
        report_id, username = seed(url, tmp_path / "seed")
        shared = {**{k: str(v) for k, v in s3_settings.items() if v}, "SECRET_KEY": "two-hosts-shared-secret",
                  "LOGIN_RATE_LIMIT": f"{LOGIN_LIMIT} per 10 minutes", "RATELIMIT_STORAGE_URI": "database://"}
        env_a = scheduler_env(url, UPLOAD_DIR=str(tmp_path / "host-a"), **shared)
        env_b = scheduler_env(url, UPLOAD_DIR=str(tmp_path / "host-b"), **shared)
        schedulers: list[SchedulerProcess] = []
        try:
            with web_host(env_a) as host_a, web_host(env_b) as host_b:
                schedulers += [start_scheduler(env_a), start_scheduler(env_b)]
                browser = requests.Session()
                token, _html = csrf(browser, f"{host_a}/login")
                signed_in = browser.post(f"{host_a}/login", data={"csrf_token": token, "username": username,
                                                                  "password": PASSWORD},
                                         allow_redirects=False, timeout=30)
                assert signed_in.status_code == 302, signed_in.text

                # upload through A (the form's CSRF token too comes from the cookie, valid on B as well)
                token, html = csrf(browser, f"{host_a}/reports/{report_id}")
                form = {"csrf_token": token, "version": VERSION.search(html).group(1), "narrative": "甲机上传",
                        "percent_complete": "20", "progress": "on_track", "difficulties": "", "next_steps": ""}
                uploaded = browser.post(f"{host_a}/reports/{report_id}/attachments", data=form,
                                        files={"file": ("现场.pdf", PDF)}, allow_redirects=False, timeout=60)
                assert uploaded.status_code == 302, uploaded.text
                engine = create_engine(url)
                try:
                    with engine.connect() as conn:
                        attachment_id = conn.scalar(select(Attachment.id).where(Attachment.report_id == report_id))
                finally:
                    engine.dispose()
                assert attachment_id is not None

                # ... and download through B, with A's session cookie; neither host's folder holds the file
                for _ in range(4):  # each of B's workers, whichever answers
                    download = browser.get(f"{host_b}/reports/attachments/{attachment_id}", timeout=30)
                    assert download.status_code == 200 and download.content == PDF
                assert not [p for host in ("host-a", "host-b") for p in (tmp_path / host).rglob("*") if p.is_file()]

                # the login limit counts attempts on both hosts and all their workers together
                statuses = []
                for attempt in range(LOGIN_LIMIT):   # one attempt (the sign-in above) already counted
                    host = (host_a, host_b)[attempt % 2]
                    stranger = requests.Session()
                    token, _html = csrf(stranger, f"{host}/login")
                    statuses.append(stranger.post(f"{host}/login", data={"csrf_token": token, "username": "nobody",
                                                                         "password": "wrong-password"},
                                                  allow_redirects=False, timeout=30).status_code)
                assert statuses == [200] * (LOGIN_LIMIT - 1) + [429], statuses

                # one scheduler leads, the other stands by; the leader's host dies, the other takes over
                leader = wait_for_any(schedulers, "leader acquired", 90)
                standby = next(p for p in schedulers if p is not leader)
                wait_for_line(standby, "standing by", 90)
                assert leader.count("leader acquired") == 1 and standby.count("leader acquired") == 0
                leader.kill()
                leader.wait(10)
                wait_for_line(standby, "leader acquired", 30)
                assert browser.get(f"{host_b}/reports/", allow_redirects=False, timeout=30).status_code == 200
        finally:
            kill_all(schedulers)
