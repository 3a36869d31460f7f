"""Load test (issue #17): 200 liaisons saving and submitting in the hour before a deadline while the office
reviews, against a running server (gunicorn with 4 workers on PostgreSQL under `make load`), over loopback.

    .venv/bin/python bench/load.py --base-url http://127.0.0.1:5310 --database-url postgresql+psycopg://...

The server must allow the logins of 200 people from one address: start it with LOGIN_RATE_LIMIT and
API_RATE_LIMIT raised (`make load` does); the limits themselves are tested in tests/test_security.py.

1. Set-up, in this process through the product's services, on the empty migrated database the server uses:
   `demo load`, the plan published from 2025Q1 (every period up to today opens), then one liaison account per
   open draft report of a lead department (up to --liaisons), and --reviewers office accounts.
2. Throughput: the department home (GET / as a signed-in liaison, which the start page redirect serves) and a
   trivial page (GET /login) are each requested --probe times with the same concurrency; requests/s of both
   and their ratio, measured in the same run.
3. The rush: every liaison signs in, opens its report, saves a draft (the form with its CSRF token and
   version), then submits it; at the same time the reviewers sign in and approve what has been submitted,
   each its own share, through the report page's form. Latency p50/p95 per kind of request, requests/s.
4. Checks, from the database: every report of the rush submitted (or approved) exactly once (one submit in its
   audit trail), none lost; any answer other than the expected one is an error. Exit status 1 on any error.

It prints numbers; it never asserts on timing."""
from __future__ import annotations

import argparse
import re
import statistics
import sys
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
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


def login(base: str, username: str, rec: Recorder) -> requests.Session:
    session = requests.Session()
    page = rec.call("GET /login", session, "GET", f"{base}/login")
    rec.call("POST /login", session, "POST", f"{base}/login", expect=(302,), allow_redirects=False, data={
        "csrf_token": _field(CSRF, page.text), "username": username, "password": PASSWORD})
    return session


def set_up(database_url: str, liaisons: int, reviewers: int) -> tuple[list[tuple[str, int]], list[str]]:
    from sqlalchemy import select

    from models import AssignmentRole, Report, ReportStatus, Role, Task
    from workflow import create_app
    from workflow.admin.services import create_user
    from workflow.assignments.services import publish_plan
    from workflow.demo import load_demo
    from workflow.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url})
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


def liaison_rush(base: str, username: str, report_id: int, rec: Recorder, submitted: list[int]) -> None:
    session = login(base, username, rec)
    url = f"{base}/reports/{report_id}"
    page = rec.call("GET report", session, "GET", url)
    form = {"csrf_token": _field(CSRF, page.text), "version": _field(VERSION, page.text),
            "narrative": f"{username} 本季度完成改造任务的 80%。", "percent_complete": "80", "progress": "on_track",
            "difficulties": "", "next_steps": "继续推进", **{name: "1" for name in VALUES.findall(page.text)}}
    saved = rec.call("POST save", session, "POST", url, data={**form, "save": "1"})
    page = rec.call("GET report", session, "GET", url) if saved is not None else None
    if page is None:
        return
    form.update(csrf_token=_field(CSRF, page.text), version=_field(VERSION, page.text))
    if rec.call("POST submit", session, "POST", url, data={**form, "submit": "1"}) is not None:
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
            page = rec.call("GET report (office)", session, "GET", f"{base}/reports/{report_id}")
            action = APPROVE.search(page.text) if page is not None else None
            if action is None:
                continue
            form = page.text[action.end():]
            rec.call("POST approve", session, "POST", f"{base}{action.group(1)}", data={
                "csrf_token": _field(CSRF, form), "version": _field(VERSION, form), "comment": ""})
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


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--liaisons", type=int, default=200)
    parser.add_argument("--reviewers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--probe", type=int, default=400)
    args = parser.parse_args()
    base = args.base_url.rstrip("/")

    started = time.perf_counter()
    people, office = set_up(args.database_url, args.liaisons, args.reviewers)
    print(f"set-up: {len(people)} liaisons with a draft report each, {len(office)} reviewers "
          f"({time.perf_counter() - started:.1f} s)", file=sys.stderr)

    rec = Recorder()
    liaison_session = login(base, people[0][0], rec)
    anonymous = requests.Session()
    trivial = probe(base, anonymous, "/login", args.probe, args.concurrency, rec)
    home = probe(base, liaison_session, "/", args.probe, args.concurrency, rec)

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

    rush_requests = sum(len(v) for k, v in rec.times.items() if "(probe)" not in k)
    print(f"{'request':<24}{'n':>7}{'p50 ms':>9}{'p95 ms':>9}")
    for kind, times in sorted(rec.times.items()):
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


if __name__ == "__main__":
    sys.exit(main())
