"""`make prod-check`: the production setup, run for real on this machine, then a smoke test through it.

In a database of its own, created beside PROD_CHECK_DATABASE_URL's (whose role must be allowed to create
databases) and dropped afterwards, so nothing else is touched: `flask db upgrade`, `flask demo load`, `flask plan publish`, an API token; then gunicorn with
deploy/gunicorn.conf.py (2 workers on a free loopback port) and, through it: the login page with its security
headers and no server named, static files, a login with the CSRF token, the department's and the office's
pages, the API's /me with the token and without one, a 404 page. gunicorn is stopped and the database dropped
afterwards. Prints one line per check and the timings; exits non-zero when any check fails.
"""
from __future__ import annotations

import http.cookiejar
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from sqlalchemy import create_engine, make_url, text

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test_ops"
SECURITY_HEADERS = ("Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy")
PASSWORD = "prod-check-demo-password"
SERVERS = ("werkzeug", "gunicorn")  # names a Server header must not carry (deploy/gunicorn.conf.py drops gunicorn's)


class Failed(Exception):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def flask(env: dict, *args: str) -> str:
    done = subprocess.run([str(BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600, check=False)
    if done.returncode != 0:
        raise Failed(f"flask {' '.join(args)}: {done.stderr.strip().splitlines()[-1:]}")
    return done.stdout


def demo_data(env: dict) -> str:
    """The demo plan published and its accounts, as `flask demo load` and `flask plan publish` make them but with a
    quick password hash (sixty scrypt hashes would be most of the check's time; a login checks any method);
    returns liaison01's API token, as `flask users token` makes it."""
    sys.path.insert(0, str(ROOT))
    from models import Plan, User
    from workflow import create_app
    from workflow.assignments.services import publish_plan
    from workflow.auth.tokens import create_token
    from workflow.clock import utcnow
    from workflow.demo import load_demo
    from workflow.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": env["DATABASE_URL"], "UPLOAD_DIR": env["UPLOAD_DIR"],
                      "SECRET_KEY": env["SECRET_KEY"], "DEMO_PASSWORD": PASSWORD,
                      "PASSWORD_HASH_METHOD": "pbkdf2:sha256:10000"})
    with app.app_context():
        now = utcnow()
        load_demo(now=now)
        publish_plan(db.session.scalar(db.select(Plan)), actor=None, now=now, first_period="2026Q1")
        liaison = db.session.scalar(db.select(User).where(User.username == "liaison01"))
        token = create_token(liaison, name="prod-check", now=now)[1]
        db.engine.dispose()
    return token


class Browser:
    """A cookie-keeping client that never follows redirects (the checks look at them)."""

    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    def __init__(self, base: str):
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
                                                  self._NoRedirect)
        self.requests = 0

    def open(self, path: str, data: dict | None = None, headers: dict | None = None):
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(self.base + path, data=body, headers=headers or {})
        self.requests += 1
        try:
            response = self.opener.open(request, timeout=60)
        except urllib.error.HTTPError as exc:  # 3xx (not followed), 4xx and 5xx answers
            response = exc
        return response.status, dict(response.headers), response.read().decode("utf-8", "replace")

    def login(self, username: str) -> None:
        status, _headers, page = self.open("/login")
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or \
            re.search(r'name="csrf_token" value="([^"]+)"', page)
        if status != 200 or not token:
            raise Failed(f"login page: {status}, CSRF token {'found' if token else 'missing'}")
        status, headers, _page = self.open("/login", {"csrf_token": token.group(1), "username": username,
                                                      "password": PASSWORD})
        if status != 302:
            raise Failed(f"log in as {username}: {status}")


def smoke(base: str, token: str) -> tuple[list[tuple[str, bool, str]], int]:
    """(check, passed, detail) for each check, and the number of requests made."""
    results: list[tuple[str, bool, str]] = []

    def check(name: str, ok: bool, detail: str = "") -> None:
        results.append((name, bool(ok), detail))

    anon = Browser(base)
    status, headers, page = anon.open("/login")
    check("login page answers 200", status == 200, str(status))
    missing = [h for h in SECURITY_HEADERS if h not in headers]
    check("security headers present", not missing, f"missing {missing}" if missing else ", ".join(SECURITY_HEADERS))
    server = headers.get("Server", "")
    check("no server named (Server: Werkzeug or gunicorn)", not any(name in server.lower() for name in SERVERS),
          f"Server: {server or '—'}")
    status, headers, css = anon.open("/static/app.css")
    check("static file /static/app.css", status == 200 and "text/css" in headers.get("Content-Type", ""),
          f"{status} {headers.get('Content-Type')}")
    status, headers, _css = anon.open("/bootstrap/static/css/bootstrap.min.css")
    check("vendored Bootstrap CSS", status == 200, str(status))
    status, headers, _page = anon.open("/my/")
    check("a page needs a login", status == 302 and "/login" in headers.get("Location", ""), str(status))
    status, _headers, page = anon.open("/no/such/page")
    check("404 page without a traceback", status == 404 and "Traceback" not in page, str(status))

    liaison = Browser(base)
    liaison.login("liaison01")
    for path, words in (("/my/", "本单位首页"), ("/reports/", "报送"), ("/account/", "API")):
        status, _headers, page = liaison.open(path)
        check(f"liaison01 GET {path}", status == 200 and words in page, str(status))
    office = Browser(base)
    office.login("office")
    for path, words in (("/review/", "审核"), ("/plans/1", "抚顺"), ("/escalations/", "督办")):
        status, _headers, page = office.open(path)
        check(f"office GET {path}", status == 200 and words in page, str(status))

    api = Browser(base)
    status, _headers, body = api.open("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    me = json.loads(body) if status == 200 else {}
    check("API /me with a token", status == 200 and me.get("username") == "liaison01", f"{status} {me}")
    status, headers, body = api.open("/api/v1/me")
    check("API /me without a token: 401 problem", status == 401 and "problem+json" in headers.get("Content-Type", ""),
          f"{status} {headers.get('Content-Type')}")
    return results, anon.requests + liaison.requests + office.requests + api.requests


def wait_until_up(base: str, process: subprocess.Popen, seconds: float = 60) -> float:
    began = time.perf_counter()
    while time.perf_counter() - began < seconds:
        if process.poll() is not None:
            raise Failed(f"gunicorn exited with {process.returncode} before answering")
        try:
            with urllib.request.urlopen(base + "/login", timeout=2):
                return time.perf_counter() - began
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    raise Failed(f"gunicorn did not answer within {seconds:.0f} s")


def main() -> int:
    base_url = os.environ.get("PROD_CHECK_DATABASE_URL") or DEFAULT_URL
    if not base_url.startswith("postgresql"):
        print(f"prod-check needs PostgreSQL, not {base_url.split(':', 1)[0]}", file=sys.stderr)
        return 2
    if not (BIN / "gunicorn").exists():
        print(f"gunicorn is not installed in {BIN} (make install)", file=sys.stderr)
        return 2
    name = f"prod_check_{os.getpid()}_{secrets.token_hex(3)}"
    url = make_url(base_url).set(database=name)
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    work = Path(tempfile.mkdtemp(prefix="prod-check-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DATABASE_URL": url.render_as_string(hide_password=False), "UPLOAD_DIR": str(work / "uploads"),
           "SECRET_KEY": secrets.token_hex(32), "DEMO_PASSWORD": PASSWORD, "SESSION_COOKIE_SECURE": "0",
           "TRUSTED_PROXIES": "1", "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": "2",
           "PYTHONUNBUFFERED": "1"}
    env.pop("FLASK_DEBUG", None)
    log = (work / "gunicorn.log").open("w+")
    process = None
    began = time.perf_counter()
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        flask(env, "db", "upgrade")
        token = demo_data(env)
        prepared = time.perf_counter() - began
        process = subprocess.Popen([str(BIN / "gunicorn"), "-c", "deploy/gunicorn.conf.py", "wsgi:app"], cwd=ROOT,
                                   env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        startup = wait_until_up(base, process)
        smoke_began = time.perf_counter()
        results, requests = smoke(base, token)
        smoke_time = time.perf_counter() - smoke_began
    except Failed as exc:
        print(f"FAIL  {exc}")
        log.seek(0)
        print(log.read()[-2000:], file=sys.stderr)
        return 1
    finally:
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    log.seek(0)
    logged = log.read()
    log.close()
    shutil.rmtree(work, ignore_errors=True)
    results.append(("access log written", '"GET /login HTTP/1.1" 200' in logged, "gunicorn access log"))
    results.append(("gunicorn stopped cleanly", process.returncode == 0, f"exit {process.returncode}"))
    failed = [r for r in results if not r[1]]
    for name, ok, detail in results:
        print(f"{'ok  ' if ok else 'FAIL'}  {name}{f'  ({detail})' if detail else ''}")
    print(f"prod-check: {len(results) - len(failed)} passed, {len(failed)} failed; database prepared in "
          f"{prepared:.1f} s, gunicorn up in {startup:.1f} s, smoke test {requests} requests in {smoke_time:.2f} s, "
          f"total {time.perf_counter() - began:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
