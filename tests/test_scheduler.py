"""The scheduler's mechanics in-process: the leader lock (lease row on every backend, advisory lock on PostgreSQL),
the job wrappers, the job definitions, and run_scheduler's loop. tests/test_scheduler_processes.py runs real
`flask scheduler run` processes."""
from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text

from models import Department, SchedulerLease
from workflow.extensions import db
from workflow.scheduling import runner
from workflow.scheduling.lock import ADVISORY, LEASE, LeaderLock
from workflow.scheduling.runner import (
    HEARTBEAT_JOB,
    JOBS_JOB,
    OUTBOX_JOB,
    REMINDERS_JOB,
    SchedulerSettings,
    build_scheduler,
    heartbeat,
    run_job,
    run_scheduler,
)

T0 = datetime(2026, 4, 20, 1, 0, tzinfo=UTC)
LEASE_S = 45


def lease_lock(holder: str, lease: float = LEASE_S) -> LeaderLock:
    return LeaderLock(db.engine, lease_seconds=lease, holder=holder, mode=LEASE)


def lease_row() -> SchedulerLease | None:
    db.session.expire_all()
    return db.session.get(SchedulerLease, "scheduler")


@pytest.fixture
def pg(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("advisory locks need PostgreSQL (TEST_DATABASE_URL)")


# -- the lease (SQLite's mechanism; tested on every backend) --------------------------------------------------------

def test_only_one_of_two_takes_the_lease(app):
    a, b = lease_lock("a"), lease_lock("b")
    assert a.try_acquire(T0) is True
    assert b.try_acquire(T0) is False
    assert b.try_acquire(T0 + timedelta(seconds=LEASE_S - 1)) is False
    assert a.is_leader(T0) and not b.is_leader(T0)
    row = lease_row()
    assert (row.holder, row.expires_at, row.renewed_at) == ("a", T0 + timedelta(seconds=LEASE_S), T0)


def test_renewal_keeps_the_lease_and_moves_its_expiry(app):
    a, b = lease_lock("a"), lease_lock("b")
    assert a.try_acquire(T0)
    later = T0 + timedelta(seconds=30)
    assert a.renew(later) is True
    assert b.try_acquire(T0 + timedelta(seconds=LEASE_S + 1)) is False  # would have expired without the renewal
    assert lease_row().expires_at == later + timedelta(seconds=LEASE_S)


def test_an_expired_lease_is_taken_over_and_the_old_holder_cannot_renew(app):
    a, b = lease_lock("a"), lease_lock("b")
    assert a.try_acquire(T0)
    takeover = T0 + timedelta(seconds=LEASE_S + 1)
    assert not a.is_leader(takeover), "a leader that could not renew stops acting once its lease ran out"
    assert b.try_acquire(takeover) is True
    assert a.renew(takeover + timedelta(seconds=1)) is False
    assert not a.leading and not a.is_leader(takeover)
    assert a.try_acquire(takeover + timedelta(seconds=2)) is False
    assert lease_row().holder == "b"


def test_release_frees_the_lease_at_once(app):
    a, b = lease_lock("a"), lease_lock("b")
    assert a.try_acquire(T0)
    a.release(T0 + timedelta(seconds=5))
    assert not a.leading
    assert b.try_acquire(T0 + timedelta(seconds=5)) is True
    # a release by a process that no longer holds the lease changes nothing
    a.release(T0 + timedelta(seconds=6))
    assert b.renew(T0 + timedelta(seconds=7)) and lease_row().holder == "b"


def test_many_contenders_at_the_same_moment_elect_exactly_one(app):
    locks = [lease_lock(f"p{i}") for i in range(6)]
    barrier = threading.Barrier(len(locks))
    results: dict[str, bool] = {}

    def contend(lock: LeaderLock) -> None:
        barrier.wait()
        results[lock.holder] = lock.try_acquire(T0)

    threads = [threading.Thread(target=contend, args=(lock,)) for lock in locks]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sum(results.values()) == 1, results
    winner = next(h for h, won in results.items() if won)
    assert lease_row().holder == winner


# -- the advisory lock (PostgreSQL) ---------------------------------------------------------------------------------

def test_advisory_lock_admits_one_and_records_the_holder(pg):
    a, b = LeaderLock(db.engine, holder="a"), LeaderLock(db.engine, holder="b")
    try:
        assert a.mode == ADVISORY
        assert a.try_acquire(T0) is True
        assert b.try_acquire(T0) is False
        assert a.renew(T0 + timedelta(seconds=15)) is True
        assert lease_row().holder == "a"
        a.release(T0 + timedelta(seconds=16))
        assert b.try_acquire(T0 + timedelta(seconds=16)) is True
        assert lease_row().holder == "b"
    finally:
        a.release()
        b.release()


def test_advisory_lock_is_freed_when_the_leaders_connection_dies(pg):
    a, b = LeaderLock(db.engine, holder="a"), LeaderLock(db.engine, holder="b")
    try:
        assert a.try_acquire(T0)
        pid = a._conn.execute(text("SELECT pg_backend_pid()")).scalar()
        with db.engine.connect() as conn:  # what a crash or a network cut does to the leader's session
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        deadline = time.monotonic() + 10
        while not b.try_acquire(T0 + timedelta(seconds=1)):
            assert time.monotonic() < deadline, "the server never released the dead session's lock"
            time.sleep(0.05)
        assert a.renew(T0 + timedelta(seconds=2)) is False  # the old leader notices at its heartbeat
        assert not a.leading and a._conn is None
        assert a.try_acquire(T0 + timedelta(seconds=3)) is False
    finally:
        a.release()
        b.release()


# -- job wrappers -------------------------------------------------------------------------------------------------

def test_a_failing_job_is_logged_its_session_removed_and_the_next_run_works(app, monkeypatch, caplog):
    lock = lease_lock("me")
    assert lock.try_acquire(runner.utcnow())
    sessions = []

    def broken(*, now):
        sessions.append(db.session())
        db.session.add(Department(name="半途而废局", kind="municipal"))
        db.session.flush()
        raise RuntimeError("SMTP server said no")

    calls = []
    monkeypatch.setitem(runner.JOB_BODIES, OUTBOX_JOB, broken)
    with caplog.at_level(logging.INFO, logger="workflow.scheduler"):
        assert run_job(app, lock, OUTBOX_JOB, SchedulerSettings()) == "failed"
        monkeypatch.setitem(runner.JOB_BODIES, OUTBOX_JOB, lambda *, now: calls.append(now) or {"sent": [1, 2]})
        assert run_job(app, lock, OUTBOX_JOB, SchedulerSettings()) == "ok"
    assert "SMTP server said no" in caplog.text and "outbox pass failed" in caplog.text
    assert "outbox pass done (sent=2)" in caplog.text
    assert len(calls) == 1 and calls[0].tzinfo is not None
    assert not sessions[0].new
    assert db.session.scalar(select(Department).where(Department.name == "半途而废局")) is None


def test_jobs_do_nothing_on_a_standby(app, monkeypatch):
    leader, standby = lease_lock("leader"), lease_lock("standby")
    assert leader.try_acquire(runner.utcnow())
    assert not standby.try_acquire(runner.utcnow())
    calls = []
    monkeypatch.setitem(runner.JOB_BODIES, REMINDERS_JOB, lambda *, now: calls.append(now))
    assert run_job(app, standby, REMINDERS_JOB, SchedulerSettings()) == "skipped"
    assert run_job(app, leader, REMINDERS_JOB, SchedulerSettings()) == "ok"
    assert len(calls) == 1


def test_job_runs_are_marked_in_the_test_hook_file(app, monkeypatch, tmp_path):
    lock = lease_lock("me")
    assert lock.try_acquire(runner.utcnow())
    marker = tmp_path / "marker.log"
    monkeypatch.setitem(runner.JOB_BODIES, REMINDERS_JOB, lambda *, now: 1 / 0)
    run_job(app, lock, REMINDERS_JOB, SchedulerSettings(marker_file=str(marker)))
    lines = [line.split("\t") for line in marker.read_text().splitlines()]
    assert [(h, j, e) for h, j, e, _ in lines] == [("me", "reminders", "start"), ("me", "reminders", "end")]


def test_heartbeat_logs_taking_and_losing_the_lead(app, caplog):
    a, b = lease_lock("a", lease=0.3), lease_lock("b", lease=0.3)
    with caplog.at_level(logging.INFO, logger="workflow.scheduler"):
        assert heartbeat(a) is True
        assert heartbeat(b) is False
        time.sleep(0.35)  # a misses its renewals; its lease runs out
        assert heartbeat(b) is True
        assert heartbeat(a) is False
    assert "scheduler a: leader acquired" in caplog.text
    assert "scheduler b: leader acquired" in caplog.text
    assert "scheduler a: lost leadership" in caplog.text
    assert "scheduler a: standing by" in caplog.text


# -- the scheduler ------------------------------------------------------------------------------------------------

def test_jobs_have_fixed_ids_and_safe_options(app):
    settings = SchedulerSettings()
    scheduler = build_scheduler(app, lease_lock("me"), settings)
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == {REMINDERS_JOB, OUTBOX_JOB, JOBS_JOB, HEARTBEAT_JOB}
    assert {job.id: job.trigger.interval.total_seconds() for job in jobs.values()} == {
        REMINDERS_JOB: 300, OUTBOX_JOB: 60, JOBS_JOB: 5, HEARTBEAT_JOB: 15}
    for job in jobs.values():
        assert job.coalesce is True and job.max_instances == 1
    assert jobs[REMINDERS_JOB].misfire_grace_time == jobs[OUTBOX_JOB].misfire_grace_time == 300
    assert jobs[HEARTBEAT_JOB].misfire_grace_time == 15
    # fixed ids with replace_existing: adding the set again (e.g. a restart with a persistent job store)
    # replaces the jobs instead of doubling them
    scheduler.start(paused=True)
    try:
        for job in list(jobs.values()):
            scheduler.add_job(job.func, job.trigger, args=job.args, id=job.id, replace_existing=True)
        assert sorted(job.id for job in scheduler.get_jobs()) == sorted(jobs)
    finally:
        scheduler.shutdown(wait=False)


def test_settings_come_from_the_environment():
    assert SchedulerSettings.from_env({}) == SchedulerSettings()
    fast = SchedulerSettings.from_env({
        "SCHEDULER_HEARTBEAT_SECONDS": "0.5", "SCHEDULER_LEASE_SECONDS": "5", "SCHEDULER_REMINDERS_SECONDS": "2",
        "SCHEDULER_OUTBOX_SECONDS": "1", "SCHEDULER_MISFIRE_GRACE_SECONDS": "30",
        "SCHEDULER_TEST_MARKER_FILE": "/tmp/x"})
    assert fast == SchedulerSettings(0.5, 5, 2, 1, 30, "/tmp/x")
    with pytest.raises(ValueError, match="两倍"):
        SchedulerSettings.from_env({"SCHEDULER_HEARTBEAT_SECONDS": "30", "SCHEDULER_LEASE_SECONDS": "45"})
    with pytest.raises(ValueError, match="SCHEDULER_OUTBOX_SECONDS"):
        SchedulerSettings.from_env({"SCHEDULER_OUTBOX_SECONDS": "soon"})


def test_run_scheduler_survives_failing_jobs_and_releases_the_lock_on_stop(app, monkeypatch):
    calls = {REMINDERS_JOB: 0, OUTBOX_JOB: 0}

    def failing(name):
        def body(*, now):
            calls[name] += 1
            db.session.execute(select(1))  # runs inside an app context
            raise ConnectionRefusedError("nobody listens")
        return body

    monkeypatch.setitem(runner.JOB_BODIES, REMINDERS_JOB, failing(REMINDERS_JOB))
    monkeypatch.setitem(runner.JOB_BODIES, OUTBOX_JOB, failing(OUTBOX_JOB))
    settings = SchedulerSettings(heartbeat_seconds=0.1, lease_seconds=2, reminders_seconds=0.1, outbox_seconds=0.1)
    lock = LeaderLock(db.engine, lease_seconds=settings.lease_seconds, holder="in-process")
    announced = []
    stop = threading.Event()
    thread = threading.Thread(target=run_scheduler, args=(app,),
                              kwargs={"stop_event": stop, "settings": settings, "lock": lock,
                                      "announce": lambda lk: announced.append(lk.leading)})
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while min(calls.values()) < 3:
            assert time.monotonic() < deadline, calls
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(20)
    assert not thread.is_alive()
    assert announced == [True]
    assert not lock.leading
    other = LeaderLock(db.engine, holder="next")
    try:
        assert other.try_acquire(runner.utcnow()), "a clean stop hands the lock over at once"
    finally:
        other.release()


def test_the_web_app_never_starts_a_scheduler(client):
    client.get("/login")
    assert not [t for t in threading.enumerate() if "APScheduler" in t.name]
