"""Every list page answers with the same number of SQL statements whatever the data (issue 18): counted with
one plan published and again with three, after the reminders pass has queued its notifications and opened
its escalations for each, as the office, a liaison and through the API."""
from __future__ import annotations

from datetime import UTC, datetime

import time_machine
from sqlalchemy import func, select

from models import Escalation, Role
from tests.conftest import FUSHUN, PASSWORD, _empty_tables, count_queries, make_user
from tests.factories import PUBLISH_AT, liaison_of, published_fushun, published_plan
from workflow.auth.tokens import create_token
from workflow.extensions import db
from workflow.scheduling.reminders import run_reminders

HOUSING = "市住房城乡建设局"
LATE = datetime(2026, 4, 20, 2, tzinfo=UTC)   # 2026Q1 (deadline 8 April) is 8 working days late: every level


def _login(client, username: str) -> None:
    client.post("/logout")
    assert client.post("/login", data={"username": username, "password": PASSWORD}).status_code == 302


def _counts(client, plan_id: int, task_id: int, office, liaison, token: str) -> dict[str, int]:
    pages = {
        "office": ["/review/", "/review/?status=all&area=1", "/review/?status=all&overdue=y",
                   f"/overview/plans/{plan_id}",
                   f"/overview/plans/{plan_id}/tasks?light=red", f"/tasks/{task_id}", "/targets/",
                   "/account/inbox", "/escalations/"],
        "liaison": ["/my/", "/reports/", "/account/inbox", f"/tasks/{task_id}"],
    }
    counts = {}
    users = {"office": office.username, "liaison": liaison.username}
    for who, username in users.items():
        _login(client, username)
        for url in pages[who]:
            assert client.get(url).status_code == 200, url   # the first read may open a period and warm caches
            db.session.remove()
            counts[f"{who} {url}"] = count_queries(lambda url=url: client.get(url))
    api = {"Authorization": f"Bearer {token}"}
    for url in ("/api/v1/reports", "/api/v1/reports?overdue=true", "/api/v1/reports?period=2026Q1",
                "/api/v1/contributions"):
        assert client.get(url, headers=api).status_code == 200, url
        db.session.remove()
        counts[f"api {url}"] = count_queries(lambda url=url: client.get(url, headers=api))
    return counts


def test_every_list_page_runs_the_same_statements_for_one_plan_and_for_three(client):
    plan, office = published_fushun()
    ids = {"plan": plan.id, "task": next(t.id for t in plan.tasks if t.code == "3.4.3")}
    liaison = liaison_of(HOUSING)
    make_user(Role.DEPT_HEAD, liaison.department)
    token = create_token(office, name="t", now=PUBLISH_AT, actor=office)[1]
    with time_machine.travel(LATE, tick=False):
        run_reminders(now=LATE)
        small = _counts(client, ids["plan"], ids["task"], office, liaison, token)
    text = FUSHUN.read_text("utf-8")
    for n in (2, 3):
        published_plan(text.replace("碳达峰实施方案", f"碳达峰实施方案（第{n}份）", 1), f"plan{n}.txt")
    with time_machine.travel(LATE, tick=False):
        run_reminders(now=LATE)
        large = _counts(client, ids["plan"], ids["task"], office, liaison, token)
    grew = {page: (small[page], large[page]) for page in small if small[page] != large[page]}
    assert not grew, grew
    assert max(large.values()) <= 40, large


def test_a_reminders_pass_runs_the_same_statements_for_one_plan_and_for_three(app):
    """Set-based: the first pass over one overdue plan, and over three on an emptied database (three times the
    reminders and escalations to queue and open, every period to open at publishing), run the same statements,
    but for the driver's insert batches (SQLAlchemy's insertmanyvalues: one statement per page of rows)."""
    text = FUSHUN.read_text("utf-8")
    counted, made = [], []
    for plans in (1, 3):
        db.session.remove()   # end the session's transaction: PostgreSQL's TRUNCATE waits for its locks
        _empty_tables()
        for n in range(plans):
            published_plan(text.replace("碳达峰实施方案", f"碳达峰实施方案（第{n + 1}份）", 1), f"plan{n}.txt")
        make_user(Role.DEPT_HEAD, liaison_of(HOUSING).department)
        result = {}
        counted.append(count_queries(lambda result=result: result.update(run_reminders(now=LATE))))
        made.append((len(result["queued"]), len(result["escalations_opened"])))
        assert db.session.scalar(select(func.count()).select_from(Escalation)) == made[-1][1] > 0
    assert made[1] == (3 * made[0][0], 3 * made[0][1])
    page = db.engine.dialect.insertmanyvalues_page_size

    def batches(queued: int, opened: int) -> int:   # notifications, escalations, notices
        return sum(-(-n // page) for n in (queued, opened, opened))

    assert 0 <= counted[1] - counted[0] <= batches(*made[1]) - batches(*made[0]), (counted, made, page)


def test_the_unread_badge_counts_up_to_a_hundred(client, login_as):
    """Every page shows the badge: it counts at most 100 rows and says 99+ beyond 99."""
    from models import Notification

    user = login_as(Role.LIAISON, department=HOUSING)
    for n in range(101):
        db.session.add(Notification(key=f"t:{n}:u{user.id}", user_id=user.id, kind="test", subject=f"第{n}条",
                                    created_at=PUBLISH_AT))
    db.session.commit()
    html = client.get("/account/inbox").get_data(as_text=True)
    assert '<span class="badge text-bg-warning">99+</span>' in html and "未读 99+ 条" in html
    db.session.execute(Notification.__table__.update().where(Notification.id > 2).values(read_at=PUBLISH_AT))
    db.session.commit()
    html = client.get("/account/inbox").get_data(as_text=True)
    assert '<span class="badge text-bg-warning">2</span>' in html and "未读 2 条" in html


def test_a_pass_with_nothing_new_to_do_loads_nothing_that_grows_with_the_data(app):
    """The day after every item was told and escalated, a pass finds nothing to send in SQL: with one plan and
    with three it runs the same statements and loads the same rows (people, today's stand-ins), but for the
    published plans themselves — no report, contribution, escalation or task; it still moves every open
    escalation's days late, set-based."""
    from collections import Counter

    from sqlalchemy import event

    text = FUSHUN.read_text("utf-8")
    next_day = datetime(2026, 4, 21, 2, tzinfo=UTC)
    counted, loaded = [], []
    for plans in (1, 3):
        db.session.remove()
        _empty_tables()
        for n in range(plans):
            published_plan(text.replace("碳达峰实施方案", f"碳达峰实施方案（第{n + 1}份）", 1), f"plan{n}.txt")
        make_user(Role.DEPT_HEAD, liaison_of(HOUSING).department)
        assert run_reminders(now=LATE)["escalations_opened"]
        db.session.remove()
        rows = Counter()

        def count(target, context, rows=rows):
            rows[type(target).__name__] += 1

        event.listen(db.Model, "load", count, propagate=True)
        result = {}
        try:
            counted.append(count_queries(lambda result=result: result.update(run_reminders(now=next_day))))
        finally:
            event.remove(db.Model, "load", count)
        assert result == {"queued": [], "escalations_opened": [], "escalations_closed": []}
        assert rows.pop("Plan") == plans
        loaded.append(rows)
        assert set(db.session.scalars(select(Escalation.days_late))) == {9}   # 8 working days late yesterday
    assert counted[0] == counted[1], counted
    assert loaded[0] == loaded[1] and set(loaded[0]) <= {"User", "Substitute"}, loaded
