"""DATABASE_REPLICA_URL: the heavy read pages read through the replica's engine, everything else and every write
through the primary; unset, everything uses the primary. The "replica" here is a second URL for the same
database, so the pages show the same data while the statements are counted per engine."""
from __future__ import annotations

from contextlib import contextmanager

import pytest
from flask import url_for
from sqlalchemy import event, select, text

from models import Department, Plan, Role
from tests.conftest import PASSWORD, make_app, make_user
from tests.factories import published_fushun
from workflow import replica
from workflow.evaluation import services as evaluation
from workflow.extensions import db

HEAVY = [("overview.index", {}), ("overview.show", {"plan_id": "plan"}), ("overview.tasks", {"plan_id": "plan"}),
         ("targets.index", {}), ("ledger.index", {}), ("search.index", {"q": "光伏"}),
         ("evaluation.show", {"plan_id": "plan", "year": 2026})]


@pytest.fixture
def replicated(database_url, tmp_path):
    for app in make_app(database_url, tmp_path, DATABASE_REPLICA_URL=database_url):
        yield app
        replica.engine().dispose()


@contextmanager
def counted(engine):
    statements: list[str] = []

    def before(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before)


@contextmanager
def logged():
    """Every statement in order, as ("primary" | "replica", SQL)."""
    log: list[tuple[str, str]] = []
    listeners = [(engine, lambda conn, cursor, statement, *args, name=name: log.append((name, statement)))
                 for name, engine in (("primary", db.engine), ("replica", replica.engine()))]
    for engine, listener in listeners:
        event.listen(engine, "before_cursor_execute", listener)
    try:
        yield log
    finally:
        for engine, listener in listeners:
            event.remove(engine, "before_cursor_execute", listener)


def is_select(statement: str) -> bool:
    return statement.lstrip().upper().startswith(("SELECT", "WITH"))


def signed_in_office(app):
    plan, office = published_fushun()
    evaluation.compute_evaluation(evaluation.get_or_create(plan, 2026, now=plan.created_at), actor=office,
                                  now=plan.created_at)
    db.session.commit()
    client = app.test_client()
    assert client.post("/login", data={"username": office.username, "password": PASSWORD}).status_code == 302
    return client, plan


def test_the_heavy_pages_read_through_the_replica_and_nothing_else_does(replicated):
    client, plan = signed_in_office(replicated)
    assert replica.engine() is not None and replica.engine() is not db.engine
    assert {endpoint for endpoint, _args in HEAVY} <= replica.HEAVY_READ_PAGES
    for endpoint, args in HEAVY:
        with replicated.test_request_context():
            url = url_for(endpoint, **{k: plan.id if v == "plan" else v for k, v in args.items()})
        with logged() as log:
            assert client.get(url).status_code == 200, url
        # reads from the replica; a write (the overview opens due periods) and all after it on the primary
        first_write = next((i for i, (_name, sql) in enumerate(log) if not is_select(sql)), len(log))
        assert first_write > 0 and {name for name, _sql in log[:first_write]} == {"replica"}, (url, log)
        assert {name for name, _sql in log[first_write:]} <= {"primary"}, (url, log)
    for url in ["/account/", "/reports/", "/review/"]:
        with counted(db.engine) as primary, counted(replica.engine()) as secondary:
            client.get(url)
        assert primary and not secondary, (url, secondary)
    assert "read_replica" not in db.session.info  # the routing ended with the request


def test_writes_and_the_reads_after_them_in_a_routed_request_go_to_the_primary(replicated):
    make_user(Role.OFFICE, username="o1")
    with replicated.test_request_context("/overview/"):
        replicated.preprocess_request()
        with counted(db.engine) as primary, counted(replica.engine()) as secondary:
            assert db.session.scalar(select(Plan)) is None
            assert db.session.scalar(text("SELECT count(*) FROM user_account")) == 1
            db.session.add(Department(name="市新设局", kind="municipal"))
            db.session.flush()
            db.session.scalar(select(Department).where(Department.name == "市新设局").with_for_update())
            assert db.session.scalar(select(Department.id).where(Department.name == "市新设局"))  # its own write
        db.session.rollback()
    assert len(secondary) == 2 and all(is_select(sql) for sql in secondary)
    assert any(s.lstrip().upper().startswith("INSERT") for s in primary)
    assert any("FOR UPDATE" in s.upper() for s in primary) or db.engine.dialect.name == "sqlite"


def test_without_a_replica_every_page_reads_the_primary(app, client, login_as):
    login_as(Role.OFFICE)
    with counted(db.engine) as primary:
        assert client.get("/overview/").status_code == 200
    assert replica.engine() is None and primary and "read_replica" not in db.session.info
