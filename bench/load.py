"""Load test (issue #17): 200 liaisons saving and submitting in the hour before a deadline while the office
reviews, against a running server (gunicorn with 4 workers on PostgreSQL under `make load`), over loopback.

    make load        (= .venv/bin/python bench/load.py --database-url postgresql+psycopg://postgres@127.0.0.1/test_load)

By default it runs its own server: the database named by --database-url is created (dropped first if left over
from an interrupted run), migrated, served by gunicorn with deploy/gunicorn.conf.py and 4 workers on a free
loopback port, and dropped afterwards. The server must allow the logins of 200 people from one address, so it is
started with LOGIN_RATE_LIMIT and API_RATE_LIMIT raised; the limits themselves are tested in
tests/test_security.py. `--base-url` runs against a server already started on that database instead.

1. Set-up, in this process through the product's services, on the empty migrated database the server uses:
   `demo load`, the plan published from 2025Q1 (every period up to today opens), then one liaison account per
   open draft report of a lead department (up to --liaisons), and --reviewers office accounts.
2. Throughput: the department home (GET /my/ as a signed-in liaison) and a trivial page (GET /login) are each requested --probe times with the same concurrency; requests/s of both
   and their ratio, measured in the same run.
3. The rush: every liaison signs in, opens its report, saves a draft (the form with its CSRF token and
   version), then submits it; at the same time the reviewers sign in and approve what has been submitted,
   each its own share, through the report page's form. Latency p50/p95 per kind of request, requests/s.
4. Checks, from the database: every report of the rush submitted (or approved) exactly once (one submit in its
   audit trail), none lost; any answer other than the expected one is an error. Exit status 1 on any error.

It prints numbers; it never asserts on timing."""
from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))

PASSWORD = "load-test-pass-2026"
CSRF = re.compile(r'<input[^>]*name="csrf_token"[^>]*value="([^"]+)"')
VERSION = re.compile(r'<input[^>]*name="version"[^>]*value="(\d+)"')
VALUES = re.compile(r'name="(value-\d+)"')
APPROVE = re.compile(r'action="(/review/reports/\d+/approve)"')


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.times: dict[str, list[float]] = defaultdict(list)
        self.errors: list[str] = []

    def call(self, kind: str, session: requests.Session, method: str, url: str, expect=(200, 302, 303), **kw):
        started = time.perf_counter()
        try:
            response = session.request(method, url, timeout=60, **kw)
        except requests.RequestException as exc:
            with self.lock:
                self.errors.append(f"{kind}: {exc}")
            return None
        with self.lock:
            self.times[kind].append(time.perf_counter() - started)
            if response.status_code not in expect:
                self.errors.append(f"{kind}: HTTP {response.status_code}")
        return response


def _field(pattern: re.Pattern, html: str) -> str:
    found = pattern.search(html)
    if not found:
        raise RuntimeError(f"page without {pattern.pattern[:30]}")
    return found.group(1)


def login(base: str, username: str, rec: Recorder, password: str = PASSWORD) -> requests.Session:
    session = requests.Session()
    page = rec.call("GET /login", session, "GET", f"{base}/login")
    rec.call("POST /login", session, "POST", f"{base}/login", expect=(302,), allow_redirects=False, data={
        "csrf_token": _field(CSRF, page.text), "username": username, "password": password})
    return session


def set_up(database_url: str, liaisons: int, reviewers: int) -> tuple[list[tuple[str, int]], list[str]]:
    from sqlalchemy import select

    from models import AssignmentRole, Report, ReportStatus, Role, Task
    from workflow import create_app
    from workflow.admin.services import create_user
    from workflow.assignments.services import publish_plan
    from workflow.demo import load_demo
    from workflow.extensions import db

    # A quick password hash for the 200 accounts (a login checks any method); scrypt would be most of the set-up.
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "PASSWORD_HASH_METHOD": "pbkdf2:sha256:10000"})
    with app.app_context():
        now = datetime.now(UTC)
        plan_id = load_demo(now=now)["plan_id"]
        from models import Plan
        publish_plan(db.session.get(Plan, plan_id), actor=None, now=now, first_period="2025Q1")
        reports = db.session.scalars(
            select(Report).join(Task).where(Report.status == ReportStatus.DRAFT)
            .where(Report.department_id.in_(select(Report.department_id)))
            .order_by(Report.id)).all()
        reports = [r for r in reports
                   if any(a.role == AssignmentRole.LEAD and a.department_id == r.department_id
                          for a in r.task.assignments)][:liaisons]
        people = []
        for i, report in enumerate(reports):
            name = f"load-liaison-{i:03d}"
            create_user(name, PASSWORD, Role.LIAISON, now=now, department=report.department)
            people.append((name, report.id))
        office = [f"load-office-{i}" for i in range(reviewers)]
        for name in office:
            create_user(name, PASSWORD, Role.OFFICE, now=now)
        db.session.commit()
    return people, office


def _form_of(kind: str, page, rec: Recorder) -> dict | None:
    """The CSRF token and version of the report form on `page`; None (and an error) when the page has none."""
    if page is None or page.status_code != 200:
        return None
    try:
        return {"csrf_token": _field(CSRF, page.text), "version": _field(VERSION, page.text)}
    except RuntimeError as exc:
        with rec.lock:
            rec.errors.append(f"{kind}: {exc} ({page.url})")
        return None


def liaison_rush(base: str, username: str, report_id: int, rec: Recorder, submitted: list[int]) -> None:
    session = login(base, username, rec)
    url = f"{base}/reports/{report_id}"
    page = rec.call("GET report", session, "GET", url, expect=(200,))
    if (form := _form_of("GET report", page, rec)) is None:
        return
    form.update({"narrative": f"{username} 本季度完成改造任务的 80%。", "percent_complete": "80",
                 "progress": "on_track", "difficulties": "", "next_steps": "继续推进",
                 **{name: "1" for name in VALUES.findall(page.text)}})
    if rec.call("POST save", session, "POST", url, expect=(302,), allow_redirects=False,
                data={**form, "save": "1"}) is None:
        return
    page = rec.call("GET report", session, "GET", url, expect=(200,))
    if (fresh := _form_of("GET report", page, rec)) is None:
        return
    submit = rec.call("POST submit", session, "POST", url, expect=(302,), allow_redirects=False,
                      data={**form, **fresh, "submit": "1"})
    if submit is not None and submit.status_code == 302:
        with rec.lock:
            submitted.append(report_id)


def reviewer(base: str, username: str, share: int, of: int, rec: Recorder, submitted: list[int],
             rush_done: threading.Event, approved: set[int]) -> None:
    session = login(base, username, rec)
    while True:
        with rec.lock:
            todo = [r for r in submitted if r % of == share and r not in approved]
        if not todo:
            if rush_done.is_set():
                return
            time.sleep(0.2)
            continue
        for report_id in todo:
            page = rec.call("GET report (office)", session, "GET", f"{base}/reports/{report_id}", expect=(200,))
            action = APPROVE.search(page.text) if page is not None else None
            if action is None:
                with rec.lock:
                    rec.errors.append(f"GET report (office): no approve form on report {report_id}")
                approved.add(report_id)
                continue
            form = page.text[action.end():]
            rec.call("POST approve", session, "POST", f"{base}{action.group(1)}", expect=(302,),
                     allow_redirects=False, data={"csrf_token": _field(CSRF, form), "version": _field(VERSION, form),
                                                  "comment": ""})
            approved.add(report_id)


def probe(base: str, session: requests.Session, path: str, n: int, concurrency: int, rec: Recorder) -> float:
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(lambda _: rec.call(f"GET {path} (probe)", session, "GET", f"{base}{path}"), range(n)))
    return n / (time.perf_counter() - started)


def check(database_url: str, report_ids: list[int]) -> list[str]:
    from sqlalchemy import func, select

    from models import AuditEvent, Report
    from workflow import create_app
    from workflow.extensions import db

    problems = []
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url})
    with app.app_context():
        for report_id in report_ids:
            report = db.session.get(Report, report_id)
            submits = db.session.scalar(select(func.count()).select_from(AuditEvent).where(
                AuditEvent.object_type == "report", AuditEvent.object_id == report_id,
                AuditEvent.action == "report.submit"))
            if report.status not in ("submitted", "approved") or submits != 1:
                problems.append(f"report {report_id}: {report.status}, {submits} submits")
    return problems


def server_env(database_url: str, work: Path) -> dict[str, str]:
    """The environment of a production-like process on that database: a random key, uploads in `work`, the login
    and API limits raised (one address signs in as hundreds of people; the limits are tested in the suite)."""
    env = {**os.environ, "DATABASE_URL": database_url, "UPLOAD_DIR": str(work / "uploads"),
           "SECRET_KEY": secrets.token_hex(32), "SESSION_COOKIE_SECURE": "0",
           "LOGIN_RATE_LIMIT": "100000 per minute", "API_RATE_LIMIT": "100000 per minute", "PYTHONFAULTHANDLER": "1"}
    env.pop("FLASK_DEBUG", None)
    return env


@contextmanager
def served(database_url: str, workers: int):
    """gunicorn with deploy/gunicorn.conf.py on a database already there, on a free loopback port; yields (base URL,
    the gunicorn master process, its environment). Stopped on the way out, whatever happened."""
    from deploy.prod_check import free_port, wait_until_up

    work = Path(tempfile.mkdtemp(prefix="served-"))
    port = free_port()
    env = {**server_env(database_url, work), "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": str(workers),
           "GUNICORN_ACCESS_LOG": str(work / "access.log")}
    process = None
    try:
        with (work / "gunicorn.log").open("w") as log:
            process = subprocess.Popen([str(BIN / "gunicorn"), "-c", "deploy/gunicorn.conf.py", "wsgi:app"], cwd=ROOT,
                                       env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        base = f"http://127.0.0.1:{port}"
        wait_until_up(base, process)
        print(f"gunicorn: {workers} workers on {base}", file=sys.stderr)
        yield base, process, env
    finally:
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        shutil.rmtree(work, ignore_errors=True)


@contextmanager
def own_server(database_url: str, workers: int):
    """A fresh database of that name, migrated, served (served()); yields the base URL. The database is dropped on
    the way out, whatever happened."""
    from sqlalchemy import create_engine, make_url, text

    from deploy.prod_check import flask

    url = make_url(database_url)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    drop = text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
    work = Path(tempfile.mkdtemp(prefix="load-"))
    try:
        with admin.connect() as conn:
            conn.execute(drop)
            conn.execute(text(f'CREATE DATABASE "{url.database}"'))
        flask(server_env(database_url, work), "db", "upgrade")
        with served(database_url, workers) as (base, _process, _env):
            yield base
    finally:
        with admin.connect() as conn:
            conn.execute(drop)
        admin.dispose()
        shutil.rmtree(work, ignore_errors=True)


def run(base: str, args: argparse.Namespace) -> int:
    started = time.perf_counter()
    people, office = set_up(args.database_url, args.liaisons, args.reviewers)
    print(f"set-up: {len(people)} liaisons with a draft report each, {len(office)} reviewers "
          f"({time.perf_counter() - started:.1f} s)", file=sys.stderr)

    rec = Recorder()
    liaison_session = login(base, people[0][0], rec)
    anonymous = requests.Session()
    trivial = probe(base, anonymous, "/login", args.probe, args.concurrency, rec)
    home = probe(base, liaison_session, "/my/", args.probe, args.concurrency, rec)

    submitted: list[int] = []
    approved: set[int] = set()
    rush_done = threading.Event()
    started = time.perf_counter()
    reviewers = [threading.Thread(target=reviewer, args=(base, name, i, len(office), rec, submitted, rush_done,
                                                        approved)) for i, name in enumerate(office)]
    for t in reviewers:
        t.start()
    with ThreadPoolExecutor(args.concurrency) as pool:
        list(pool.map(lambda p: liaison_rush(base, p[0], p[1], rec, submitted), people))
    rush_done.set()
    for t in reviewers:
        t.join()
    rush_seconds = time.perf_counter() - started
    problems = check(args.database_url, [report_id for _name, report_id in people])

    rush_times = [t for k, v in rec.times.items() if "(probe)" not in k for t in v]
    rush_requests = len(rush_times)
    print(f"{'request':<24}{'n':>7}{'p50 ms':>9}{'p95 ms':>9}")
    for kind, times in [*sorted(rec.times.items()), ("all of the rush", rush_times)]:
        ordered = sorted(times)
        p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
        print(f"{kind:<24}{len(times):>7}{statistics.median(times) * 1000:>9.0f}{p95 * 1000:>9.0f}")
    print(f"rush: {len(people)} liaisons, {len(submitted)} submitted, {len(approved)} approved, "
          f"{rush_requests} requests in {rush_seconds:.1f} s = {rush_requests / rush_seconds:.1f} req/s")
    print(f"throughput: department home {home:.1f} req/s, trivial page {trivial:.1f} req/s, "
          f"ratio {home / trivial:.2f}")
    print(f"errors: {len(rec.errors)}; lost or duplicated reports: {len(problems)}")
    for line in (rec.errors + problems)[:20]:
        print("  " + line)
    return 1 if rec.errors or problems else 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", help="a server already running on --database-url (default: start one)")
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--liaisons", type=int, default=200)
    parser.add_argument("--reviewers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--probe", type=int, default=400)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers of the server it starts")
    args = parser.parse_args()
    if args.base_url:
        return run(args.base_url.rstrip("/"), args)
    with own_server(args.database_url, args.workers) as base:
        return run(base, args)


if __name__ == "__main__":
    sys.exit(main())
