"""Reads never write: the report list, the review queue, the report page and the API's lists change nothing once
the periods are open, and a period that has just begun is opened idempotently, even by concurrent GETs."""
from __future__ import annotations

import re
import threading
from datetime import UTC, datetime

import pytest
import time_machine
from sqlalchemy import event, func, select

from models import ACTIVE_ASSIGNMENT, Assignment, Contribution, Period, Report, Role, Task
from tests.conftest import PASSWORD, make_user
from tests.factories import PUBLISH_AT, liaison_of, published_fushun, report_for
from workflow.auth.tokens import create_token
from workflow.bulletins import services as bulletins
from workflow.extensions import db
from workflow.scheduling.reminders import run_reminders

HOUSING = "市住房城乡建设局"
# 1 July 2026, 00:30 in Shanghai: 2026Q3 has just begun and nobody has opened it yet.
Q3_BEGUN = datetime(2026, 6, 30, 16, 30, tzinfo=UTC)
WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE)\b", re.IGNORECASE)


def writes_during(fn) -> list[str]:
    """The INSERT / UPDATE / DELETE statements fn() executes (the count_queries pattern, filtered)."""
    seen: list[str] = []

    def before(conn, cursor, statement, *args):
        if WRITE.match(statement):
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", before)
    try:
        fn()
    finally:
        event.remove(db.engine, "before_cursor_execute", before)
    return seen


def test_get_pages_write_nothing_once_the_scheduler_opened_the_period(client, login_as):
    plan, _office = published_fushun()
    with time_machine.travel(Q3_BEGUN, tick=False):
        run_reminders(now=Q3_BEGUN)   # the scheduler's pass opens 2026Q3
        q3 = db.session.scalar(select(Period).where(Period.plan_id == plan.id, Period.key == "2026Q3"))
        assert q3.opened
        report = report_for(plan, "3.4.3", "2026Q3")
        office = make_user(Role.OFFICE)
        token = create_token(office, name="t", now=Q3_BEGUN, actor=office)[1]
        api = {"Authorization": f"Bearer {token}"}
        client.get("/api/v1/me", headers=api)   # the token's last-used stamp is written once a minute at most
        login_as(Role.LIAISON, department=HOUSING)
        liaison_pages = ("/reports/", f"/reports/{report.id}", "/my/", "/search?q=建筑", "/ledger/",
                         "/ledger/export.csv", "/targets/", f"/tasks/{report.task_id}")
        for url in liaison_pages:
            assert client.get(url).status_code == 200
            assert writes_during(lambda url=url: client.get(url)) == [], url
        client.post("/logout")
        client.post("/login", data={"username": office.username, "password": PASSWORD})
        draft = bulletins.open_bulletin(plan, "2026Q3", actor=office, now=Q3_BEGUN)
        for url in ("/review/", "/review/?status=all&overdue=y", "/reports/", "/search?q=碳达峰", "/ledger/",
                    "/ledger/export.xlsx", "/bulletins/", f"/bulletins/{draft.id}", f"/bulletins/{draft.id}/file.docx",
                    "/overview/", f"/overview/plans/{plan.id}?scope=period", f"/overview/plans/{plan.id}/tasks?light=yellow",
                    "/review/?status=draft&due=due_soon&year=2026", "/escalations/?year=2026",
                    "/targets/", f"/tasks/{report.task_id}"):
            assert writes_during(lambda url=url: client.get(url)) == [], url
        for url in ("/api/v1/reports?per_page=200", "/api/v1/reports?overdue=true", "/api/v1/contributions",
                    f"/api/v1/plans/{plan.id}/overview", "/api/v1/targets"):
            assert writes_during(lambda url=url: client.get(url, headers=api)) == [], url


def test_a_read_opens_a_just_begun_period_idempotently(client, login_as):
    plan, _office = published_fushun()
    with time_machine.travel(Q3_BEGUN, tick=False):
        login_as(Role.LIAISON, department=HOUSING)
        first = writes_during(lambda: client.get("/reports/"))
        assert first and all(s.lstrip().upper().startswith(("INSERT", "UPDATE")) for s in first)
        assert writes_during(lambda: client.get("/reports/")) == []   # opened: the next read writes nothing
        run_reminders(now=Q3_BEGUN)   # the scheduler arriving later opens nothing twice
    assert_one_row_per_key(plan.id)


def assert_one_row_per_key(plan_id: int) -> None:
    db.session.expire_all()
    for model in (Report, Contribution):
        dupes = db.session.execute(
            select(model.task_id, model.period_id, model.department_id, func.count())
            .group_by(model.task_id, model.period_id, model.department_id).having(func.count() > 1)).all()
        assert dupes == [], model
    q3 = db.session.scalar(select(Period).where(Period.plan_id == plan_id, Period.key == "2026Q3"))
    active = db.session.scalar(select(func.count()).select_from(Assignment).join(Task).where(
        Task.plan_id == plan_id, Assignment.status.in_(ACTIVE_ASSIGNMENT)))
    opened = sum(db.session.scalar(select(func.count()).select_from(m).where(m.period_id == q3.id))
                 for m in (Report, Contribution))
    assert q3.opened and opened == active > 0


def test_concurrent_gets_at_a_new_period_open_it_once(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL (SQLite serialises them behind one file lock)")
    plan, _office = published_fushun(now=PUBLISH_AT)
    users = [liaison_of(HOUSING), make_user(Role.LIAISON, "市交通运输局"), make_user(Role.OFFICE),
             *(make_user(Role.LIAISON, HOUSING) for _ in range(5))]
    names, plan_id = [u.username for u in users], plan.id
    db.session.commit()
    db.session.close()   # the test's own session holds no transaction while the threads run
    threads_n = len(names)
    ready = threading.Barrier(threads_n)
    statuses: list[int] = []
    errors: list[BaseException] = []

    def reader(username: str) -> None:
        try:
            client = app.test_client()   # its own thread: its own app context, session and connection
            assert client.post("/login", data={"username": username, "password": PASSWORD}).status_code == 302
            ready.wait(timeout=60)
            statuses.append(client.get("/reports/").status_code)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    with time_machine.travel(Q3_BEGUN, tick=False):
        threads = [threading.Thread(target=reader, args=(name,)) for name in names]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    assert errors == []
    assert len(statuses) == threads_n and all(s in (200, 302) for s in statuses), statuses
    assert_one_row_per_key(plan_id)
