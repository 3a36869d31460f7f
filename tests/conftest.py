"""Fixtures: a migrated database (SQLite, or PostgreSQL when TEST_DATABASE_URL is set), app, client, runner,
login_as, and small factories. The schema is built by the migrations, once per session; every test starts
from empty tables."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path

import flask_migrate
import pytest
from flask import g
from sqlalchemy import create_engine, event, make_url, text

from models import Department, Role, User
from workflow import create_app
from workflow.admin.services import create_user
from workflow.config import TestConfig
from workflow.extensions import db
from workflow.storage import S3Storage, from_config

ROOT = Path(__file__).resolve().parent.parent
FUSHUN = ROOT / "data" / "plans" / "fushun-carbon-peak-plan.txt"
NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
PASSWORD = "s3cret-pass"


def _database_per_worker() -> None:
    """Under pytest-xdist every worker gets a PostgreSQL database of its own (test_gw0, test_gw1, ...), created on
    first use, so workers never truncate each other's tables or contend for the same advisory locks. Set at
    import, before any test reads TEST_DATABASE_URL."""
    worker, base = os.environ.get("PYTEST_XDIST_WORKER"), os.environ.get("TEST_DATABASE_URL", "")
    if not worker or not base.startswith("postgresql"):
        return
    url = make_url(base)
    name = f"{url.database}_{worker}"
    if url.database.endswith(f"_{worker}"):  # this module imported a second time (tests import its helpers)
        return
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}):
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    os.environ["TEST_DATABASE_URL"] = url.set(database=name).render_as_string(hide_password=False)


_database_per_worker()


def _config(url: str, **extra) -> dict:
    cfg = {k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()}
    cfg.update(SQLALCHEMY_DATABASE_URI=url, **extra)
    return cfg


def _drop_everything() -> None:
    if db.engine.dialect.name == "postgresql":
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    else:
        db.reflect()
        db.drop_all()
        with db.engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    url = os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite'}"
    app = create_app(_config(url))
    with app.app_context():
        _drop_everything()
        flask_migrate.upgrade()
        db.engine.dispose()
    return url


def _empty_tables() -> None:
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    with db.engine.begin() as conn:
        if db.engine.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for name in tables:
                conn.execute(text(f"DELETE FROM {name}"))


@pytest.fixture
def app(database_url, tmp_path):
    yield from make_app(database_url, tmp_path)


def make_app(database_url: str, tmp_path: Path, **extra):
    """The app of a test, its tables emptied, inside an app context (a generator for fixtures)."""
    app = create_app(_config(database_url, UPLOAD_DIR=str(tmp_path / "uploads"), **extra))

    @app.before_request
    def forget_cached_user():
        """Tests keep one app context open, which requests then share, and with it Flask-Login's cached user;
        in production each request has its own. Load the user (and the locale) from this request's session."""
        g.pop("_login_user", None)
        g.pop("_flask_babel", None)

    with app.app_context():
        _empty_tables()
        yield app
        db.session.remove()
        db.engine.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def s3_endpoint():
    """A local S3-compatible server (moto's standalone server, a process of its own) that the app talks to over
    HTTP exactly as to MinIO; started once per test session, only by the tests that ask for it."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
                break
            except OSError:
                if server.poll() is not None:
                    pytest.fail("the moto S3 server exited at start")
                time.sleep(0.1)
        else:
            pytest.fail("the moto S3 server did not start")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def s3_settings(s3_endpoint) -> dict:
    """The S3_* settings of a fresh, empty bucket on the local server."""
    settings = {"S3_BUCKET": f"test-{uuid.uuid4().hex[:16]}", "S3_ENDPOINT_URL": s3_endpoint,
                "S3_ACCESS_KEY_ID": "test", "S3_SECRET_ACCESS_KEY": "test", "S3_REGION": "us-east-1", "S3_PREFIX": ""}
    store = from_config(settings)
    assert isinstance(store, S3Storage)
    store.client.create_bucket(Bucket=settings["S3_BUCKET"])
    return settings


@pytest.fixture(params=["local", "s3"])
def storage_backend(request, app) -> str:
    """Runs a test once on the local folder and once on S3 (the app's config pointed at a fresh bucket)."""
    if request.param == "s3":
        app.config.update(request.getfixturevalue("s3_settings"))
    return request.param


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def count_queries(fn) -> int:
    """How many SQL statements fn() runs: list pages assert a bound so an N+1 cannot slip in."""
    statements = []

    def before(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", before)
    try:
        fn()
    finally:
        event.remove(db.engine, "before_cursor_execute", before)
    return len(statements)


def make_department(name: str = "市测试局", kind: str = "municipal") -> Department:
    dept = Department.lookup(name)
    if dept is None:
        dept = Department(name=name, kind=kind)
        db.session.add(dept)
        db.session.commit()
    return dept


def make_user(role: str, department: Department | str | None = None, username: str | None = None) -> User:
    if isinstance(department, str):
        department = make_department(department)
    username = username or f"{role}-{department.id if department else 'x'}-{db.session.query(User).count()}"
    user = create_user(username, PASSWORD, role, now=NOW, department=department)
    db.session.commit()
    return user


@pytest.fixture
def login_as(client):
    """login_as('liaison', department='市住房城乡建设局') → the logged-in User."""

    def login(role: str = Role.OFFICE, department: Department | str | None = None) -> User:
        user = make_user(role, department)
        client.post("/logout")
        response = client.post("/login", data={"username": user.username, "password": PASSWORD})
        assert response.status_code == 302, response.get_data(as_text=True)
        return user

    return login


def import_text_plan(text_or_path: str | Path, filename: str = "plan.txt"):
    """Import a plan through the same service the web and CLI use; returns the Plan."""
    from workflow.plans.importer import import_plan
    from workflow.plans.parsing import parse_plan_bytes
    from workflow.plans.services import sha256_of

    data = Path(text_or_path).read_bytes() if isinstance(text_or_path, Path) else text_or_path.encode()
    draft = parse_plan_bytes(data, filename)
    return import_plan(draft, source_filename=filename, source_sha256=sha256_of(data), actor=None, now=NOW)


@pytest.fixture
def fushun_plan(app):
    return import_text_plan(FUSHUN, FUSHUN.name)


EVALUATED_AT = datetime(2026, 11, 24, 2, tzinfo=UTC)


@pytest.fixture
def evaluation(app):
    """The bundled plan published, two 2026Q1 reports filed and approved, the 2026 evaluation computed:
    (evaluation, office user)."""
    from tests.factories import file_report, published_fushun
    from workflow.evaluation import services

    plan, office = published_fushun()
    file_report(plan, office, "3.4.3", "市住房城乡建设局", datetime(2026, 4, 7, 2, tzinfo=UTC),
                {"清洁取暖率": 97, "可再生能源替代率": 8, "光伏": 50})
    file_report(plan, office, "3.5.1", "市交通运输局", datetime(2026, 4, 10, 2, tzinfo=UTC), {"绿色出行": 60})
    evaluation = services.get_or_create(plan, 2026, now=EVALUATED_AT)
    services.compute_evaluation(evaluation, actor=office, now=EVALUATED_AT)
    return evaluation, office
