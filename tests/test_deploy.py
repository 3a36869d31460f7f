"""The production files in deploy/ agree with the application (limits, commands, settings, paths), forwarded
headers are believed only from the proxies configured, and `make prod-check` passes on PostgreSQL."""
from __future__ import annotations

import os
import re
import runpy
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import click
import pytest
from flask import request

from deploy.prod_check import SERVERS, free_port, wait_until_up
from tests.conftest import _config
from workflow import create_app
from workflow.config import Config

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"


def _size(value: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([kmg]?)", value.lower()).groups()
    return int(number) * {"": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}[unit]


def _directive(text: str, name: str) -> str:
    return re.search(rf"^\s*{name}\s+([^;]+);", text, re.M).group(1).strip()


def test_nginx_takes_the_uploads_the_application_takes():
    nginx = (DEPLOY / "nginx.conf").read_text()
    assert _size(_directive(nginx, "client_max_body_size")) == Config.MAX_CONTENT_LENGTH
    gunicorn = runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))
    # nginx waits a little longer than gunicorn gives a worker, so the answer is the application's.
    assert int(_directive(nginx, "proxy_read_timeout").rstrip("s")) > gunicorn["timeout"]
    assert re.search(r"proxy_pass http://(\w+);", nginx).group(1) in nginx.split("server {")[0]
    assert gunicorn["bind"].startswith("127.0.0.1:") and f"server {gunicorn['bind']};" in nginx
    for header in ("X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host"):
        assert f"proxy_set_header {header}" in nginx
    assert "ssl_certificate " in nginx and "listen 443 ssl" in nginx and "return 301 https://" in nginx


def test_gunicorn_settings():
    settings = runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))
    assert settings["workers"] >= 2 and settings["worker_class"] == "sync"
    assert settings["accesslog"] == "-" and settings["errorlog"] == "-"
    assert settings["forwarded_allow_ips"] == "127.0.0.1"


TINY_APP = """
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]
"""


def test_gunicorn_with_the_deploy_settings_names_no_server(tmp_path):
    """gunicorn adds `Server: gunicorn` itself, whatever the application does; the deploy settings drop it. A tiny
    application that sets no Server header of its own, so only gunicorn could name one."""
    (tmp_path / "tiny.py").write_text(TINY_APP)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": "1", "PYTHONPATH": str(tmp_path)}
    server = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "-c", str(DEPLOY / "gunicorn.conf.py"),
                               "tiny:app"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              start_new_session=True)
    try:
        wait_until_up(base, server)
        for path in ("/login", "/anything"):
            with urllib.request.urlopen(base + path, timeout=10) as response:
                assert response.read() == b"ok"
                named = response.headers.get_all("Server") or []
            assert not any(name in value.lower() for value in named for name in SERVERS), named
            assert not named, named  # nothing else names it either
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
        _out, errors = server.communicate(timeout=30)
    assert server.returncode == 0, errors.decode()[-2000:]


def test_the_server_line_hook_refuses_to_start_when_gunicorn_changed(monkeypatch):
    from gunicorn.http import wsgi

    on_starting = runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))["on_starting"]
    monkeypatch.delattr(wsgi.Response, "default_headers")
    with pytest.raises(RuntimeError, match="default_headers is gone"):
        on_starting(None)


def _units() -> dict[str, str]:
    return {path.name: path.read_text() for path in DEPLOY.glob("duban-*.*")}


def _env_example() -> dict[str, str]:
    lines = (DEPLOY / "duban.env.example").read_text().splitlines()
    return dict(line.lstrip("#").split("=", 1) for line in lines
                if re.match(r"#?[A-Z_]+=", line) and not line.startswith("# "))


def test_the_units_run_the_contracts_commands_with_the_environment_file(app):
    units = _units()
    assert set(units) == {"duban-web.service", "duban-scheduler.service", "duban-backup.service",
                          "duban-backup.timer"}
    assert "ExecStart=/opt/duban/.venv/bin/gunicorn -c deploy/gunicorn.conf.py wsgi:app" in units["duban-web.service"]
    assert "ExecStart=/opt/duban/.venv/bin/flask --app wsgi scheduler run" in units["duban-scheduler.service"]
    assert "flask --app wsgi backup create -o /var/backups/duban/" in units["duban-backup.service"]
    assert "OnCalendar=" in units["duban-backup.timer"] and "Persistent=true" in units["duban-backup.timer"]
    for name in ("scheduler", "backup"):  # the commands exist
        assert app.cli.get_command(click.Context(app.cli), name) is not None
    upload_dir = _env_example()["UPLOAD_DIR"]
    for name, text in units.items():
        if name.endswith(".service"):
            assert "EnvironmentFile=/etc/duban/duban.env" in text and "User=duban" in text, name
            writable = re.search(r"ReadWritePaths=(.*)", text).group(1).split()
            assert "/opt/duban/instance" in writable, name  # instance/ (a generated secret key) stays writable
    for name in ("duban-web.service", "duban-scheduler.service"):
        assert "Environment=PYTHONFAULTHANDLER=1" in units[name], name   # a segfault leaves its traceback
        assert upload_dir.startswith(re.search(r"ReadWritePaths=(\S+)", units[name]).group(1)), name


def test_the_environment_file_sets_only_settings_there_are():
    known = {name for name in dir(Config) if name.isupper()} | {"DATABASE_URL", "PG_BINDIR"}
    for name in _env_example():
        assert name in known or name.startswith("GUNICORN_"), name
    assert _env_example()["TRUSTED_PROXIES"] == "1" and _env_example()["SESSION_COOKIE_SECURE"] == "1"
    assert _env_example()["SECRET_KEY"] == ""  # never a value someone might leave in place


def _client_address_app(database_url, tmp_path, proxies: int):
    app = create_app(_config(database_url, UPLOAD_DIR=str(tmp_path / "uploads"), TRUSTED_PROXIES=proxies))
    app.add_url_rule("/whoami", "whoami", lambda: f"{request.remote_addr} {request.scheme} {request.host}")
    return app.test_client()


@pytest.mark.parametrize("proxies, expected", [(0, "127.0.0.1 http localhost"),
                                               (1, "203.0.113.7 https duban.example.gov.cn")])
def test_forwarded_headers_are_believed_only_from_the_configured_proxies(database_url, tmp_path, proxies, expected):
    client = _client_address_app(database_url, tmp_path, proxies)
    response = client.get("/whoami", environ_base={"REMOTE_ADDR": "127.0.0.1"}, headers={
        "X-Forwarded-For": "198.51.100.1, 203.0.113.7", "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "duban.example.gov.cn"})
    assert response.get_data(as_text=True) == expected  # one proxy: only the address it added counts


@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"),
                    reason="make prod-check runs on PostgreSQL")
def test_prod_check_passes():
    done = subprocess.run([sys.executable, str(DEPLOY / "prod_check.py")], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "PROD_CHECK_DATABASE_URL": os.environ["TEST_DATABASE_URL"]},
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"prod-check: \d+ passed, 0 failed", done.stdout), done.stdout
