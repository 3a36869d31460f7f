"""The scheduler process: `flask --app wsgi scheduler run`.

APScheduler 3.x in its own long-running process, never inside web workers (nothing in create_app starts it):
several gunicorn workers would each run the jobs and send everything twice. Of several `scheduler run`
processes started against one database, the one holding the leader lock (workflow.scheduling.lock) runs the
jobs; the others stand by and keep trying to take the lock, so a leader that died is replaced within a minute
(PostgreSQL: at the next heartbeat after its connection dropped; SQLite: once its lease ran out).

Jobs (fixed ids, replace_existing, coalesce, max_instances=1, a misfire grace time):
  reminders   every SCHEDULER_REMINDERS_SECONDS (300)  workflow.scheduling.reminders.run_reminders(now=...)
  outbox      every SCHEDULER_OUTBOX_SECONDS (60)      workflow.mail.smtp.deliver_pass(now=...)
  jobs        every SCHEDULER_JOBS_SECONDS (5)         workflow.jobs.run_one(now=...): one background job
  heartbeat   every SCHEDULER_HEARTBEAT_SECONDS (15)   renew the lock, or try to take it (standby)

Environment (all optional; seconds may be fractional):
  SCHEDULER_HEARTBEAT_SECONDS  15    how often the lock is renewed / tried
  SCHEDULER_LEASE_SECONDS      45    lease length; at least twice the heartbeat. A dead leader's lease runs out
                                     after at most 45 s and a standby notices within one heartbeat: < 1 minute
  SCHEDULER_REMINDERS_SECONDS  300   reminder and escalation pass
  SCHEDULER_OUTBOX_SECONDS     60    digest building and email delivery pass
  SCHEDULER_JOBS_SECONDS       5     how often a queued background job (a big PDF) is looked for
  SCHEDULER_MISFIRE_GRACE_SECONDS 300  a run delayed longer than this is skipped (the next one catches up)
  SCHEDULER_TEST_MARKER_FILE   —     TEST HOOK ONLY: when set, every reminders/outbox run appends
                                     "<holder>\t<job>\tstart|end\t<unix time>" lines to this file, so tests
                                     can prove which process ran what and that runs never overlapped.

Every job runs inside app.app_context(), logs and swallows every exception (a failing SMTP server or a bad row
never stops the scheduler) and removes the database session afterwards. Logs go to stderr, each line naming
this process's holder id (hostname:pid:random): "leader acquired", "standing by", "lost leadership".
SIGTERM / SIGINT: finish running jobs, release the lock, exit 0.
"""
from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask

from workflow.clock import utcnow
from workflow.extensions import db
from workflow.scheduling.lock import LeaderLock

log = logging.getLogger("workflow.scheduler")

REMINDERS_JOB = "reminders"
OUTBOX_JOB = "outbox"
JOBS_JOB = "jobs"
HEARTBEAT_JOB = "heartbeat"
WORK_JOBS = (REMINDERS_JOB, OUTBOX_JOB, JOBS_JOB)


def reminders_body(*, now: datetime):
    from workflow.jobs import sweep_results
    from workflow.ratelimits import purge_expired
    from workflow.reports.services import sweep_attachments
    from workflow.scheduling.reminders import run_reminders

    # housekeeping beside the pass: rate-limit windows that ran out, files a killed request left without a row,
    # background jobs' own files past JOB_RESULT_DAYS
    purge_expired()
    sweep_attachments(now=now)
    sweep_results(now=now)
    return run_reminders(now=now)


def outbox_body(*, now: datetime):
    # imported lazily, at each run: a broken outbox module must not keep the scheduler from starting
    from workflow.mail.smtp import deliver_pass

    return deliver_pass(now=now)


def jobs_body(*, now: datetime):
    from workflow.jobs import run_one

    return run_one(now=now)


#: What each work job does; looked up at every run (tests replace entries with monkeypatch.setitem).
JOB_BODIES: dict[str, Callable[..., object]] = {REMINDERS_JOB: reminders_body, OUTBOX_JOB: outbox_body,
                                                JOBS_JOB: jobs_body}


@dataclass(frozen=True)
class SchedulerSettings:
    heartbeat_seconds: float = 15.0
    lease_seconds: float = 45.0
    reminders_seconds: float = 300.0
    outbox_seconds: float = 60.0
    misfire_grace_seconds: int = 300
    marker_file: str | None = None
    jobs_seconds: float = 5.0

    ENV = {
        "heartbeat_seconds": "SCHEDULER_HEARTBEAT_SECONDS",
        "lease_seconds": "SCHEDULER_LEASE_SECONDS",
        "reminders_seconds": "SCHEDULER_REMINDERS_SECONDS",
        "outbox_seconds": "SCHEDULER_OUTBOX_SECONDS",
        "jobs_seconds": "SCHEDULER_JOBS_SECONDS",
        "misfire_grace_seconds": "SCHEDULER_MISFIRE_GRACE_SECONDS",
    }

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SchedulerSettings:
        environ = os.environ if environ is None else environ
        values: dict = {}
        for field, var in cls.ENV.items():
            raw = environ.get(var, "").strip()
            if not raw:
                continue
            try:
                number = float(raw)
            except ValueError:
                raise ValueError(f"{var} 不是数字：{raw}") from None
            if number <= 0:
                raise ValueError(f"{var} 必须大于 0：{raw}")
            values[field] = max(1, round(number)) if field == "misfire_grace_seconds" else number
        values["marker_file"] = environ.get("SCHEDULER_TEST_MARKER_FILE") or None
        settings = cls(**values)
        if settings.lease_seconds < 2 * settings.heartbeat_seconds:
            raise ValueError(f"SCHEDULER_LEASE_SECONDS（{settings.lease_seconds:g}）至少应为心跳间隔的两倍"
                             f"（{2 * settings.heartbeat_seconds:g}）")
        return settings


# -- jobs ---------------------------------------------------------------------------------------------------------

def run_job(app: Flask, lock: LeaderLock, name: str, settings: SchedulerSettings) -> str:
    """One run of a work job: only on the leader, in an app context, never raising.

    Returns "skipped" (not the leader), "ok" or "failed" (the exception was logged).
    """
    now = utcnow()
    if not lock.is_leader(now):
        return "skipped"
    _mark(settings, lock.holder, name, "start")
    try:
        with app.app_context():
            try:
                result = JOB_BODIES[name](now=now)
                summary, busy = _summary(result)
                # a pass that did something is worth a line; idle passes (most of them) only at DEBUG
                log.log(logging.INFO if busy else logging.DEBUG, "scheduler %s: %s pass done %s", lock.holder,
                        name, summary)
                return "ok"
            except Exception:
                log.exception("scheduler %s: %s pass failed", lock.holder, name)
                with contextlib.suppress(Exception):  # an unusable session is discarded by remove() below
                    db.session.rollback()
                return "failed"
            finally:
                db.session.remove()
    except Exception:  # the app context itself failed: still never kill the scheduler
        log.exception("scheduler %s: %s could not run", lock.holder, name)
        return "failed"
    finally:
        _mark(settings, lock.holder, name, "end")


def heartbeat(lock: LeaderLock) -> bool:
    """Renew the lock (leader) or try to take it (standby); logs every change. Returns whether this process leads."""
    try:
        now = utcnow()
        if lock.leading:
            if lock.renew(now):
                return True
            log.warning("scheduler %s: lost leadership", lock.holder)
            log.info("scheduler %s: standing by", lock.holder)
            return False
        if lock.try_acquire(now):
            log.info("scheduler %s: leader acquired", lock.holder)
            return True
        return False
    except Exception:
        log.exception("scheduler %s: heartbeat failed", lock.holder)
        return lock.leading


def _summary(result) -> tuple[str, bool]:
    """"(sent=2, failed=0, …)" and whether any count is non-zero."""
    if not isinstance(result, Mapping):
        return "", result is not None
    counts = {k: len(v) if isinstance(v, list | tuple | dict | set) else v for k, v in result.items()}
    busy = any(v for v in counts.values() if isinstance(v, int | float))
    return "(" + ", ".join(f"{k}={v}" for k, v in counts.items()) + ")", busy


def _mark(settings: SchedulerSettings, holder: str, job: str, event: str) -> None:
    """Test hook (SCHEDULER_TEST_MARKER_FILE): one short appended line per job start and end."""
    if not settings.marker_file:
        return
    try:
        with open(settings.marker_file, "a", encoding="utf-8") as fh:
            fh.write(f"{holder}\t{job}\t{event}\t{time.time():.6f}\n")
    except OSError:
        log.exception("scheduler %s: could not write the test marker file", holder)


# -- the scheduler ------------------------------------------------------------------------------------------------

def build_scheduler(app: Flask, lock: LeaderLock, settings: SchedulerSettings,
                    now: datetime | None = None) -> BackgroundScheduler:
    """A BackgroundScheduler with its jobs added (not started)."""
    now = now or utcnow()
    scheduler = BackgroundScheduler(
        timezone=UTC,
        executors={"default": ThreadPoolExecutor(max_workers=4)},
        logger=logging.getLogger("apscheduler.scheduler"),
    )
    common = {"replace_existing": True, "coalesce": True, "max_instances": 1}
    for name, every in ((REMINDERS_JOB, settings.reminders_seconds), (OUTBOX_JOB, settings.outbox_seconds),
                        (JOBS_JOB, settings.jobs_seconds)):
        scheduler.add_job(
            run_job, "interval", seconds=every, args=(app, lock, name, settings), id=name, name=name,
            misfire_grace_time=settings.misfire_grace_seconds,
            # a fresh leader starts with a pass soon rather than a whole interval later
            next_run_time=now + timedelta(seconds=min(every, 10.0)),
            **common,
        )
    scheduler.add_job(
        heartbeat, "interval", seconds=settings.heartbeat_seconds, args=(lock,), id=HEARTBEAT_JOB,
        name=HEARTBEAT_JOB, misfire_grace_time=max(1, round(settings.heartbeat_seconds)), **common,
    )
    return scheduler


def run_scheduler(app: Flask, *, stop_event: threading.Event | None = None,
                  settings: SchedulerSettings | None = None, lock: LeaderLock | None = None,
                  announce: Callable[[LeaderLock], None] | None = None) -> LeaderLock:
    """Run until stop_event is set (or SIGTERM/SIGINT when called from the main thread); release the lock.

    announce(lock) is called once after the first attempt to take the lock (the CLI prints its line there).
    Returns the lock (released).
    """
    settings = settings or SchedulerSettings.from_env()
    stop = stop_event or threading.Event()
    with app.app_context():
        engine = db.engine
    lock = lock or LeaderLock(engine, lease_seconds=settings.lease_seconds)
    log.info("scheduler %s: starting (%s lock; heartbeat %gs, lease %gs, reminders every %gs, outbox every %gs, "
             "jobs every %gs)", lock.holder, lock.mode, settings.heartbeat_seconds, settings.lease_seconds,
             settings.reminders_seconds, settings.outbox_seconds, settings.jobs_seconds)
    scheduler = build_scheduler(app, lock, settings)
    with _stop_on_signals(stop):
        try:
            if not heartbeat(lock):
                log.info("scheduler %s: standing by", lock.holder)
            if announce is not None:
                announce(lock)
            scheduler.start()
            while not stop.wait(0.5):
                pass
            log.info("scheduler %s: stopping", lock.holder)
        finally:
            if scheduler.running:
                scheduler.shutdown(wait=True)
            was_leader = lock.leading
            lock.release()
            if was_leader:
                log.info("scheduler %s: lock released", lock.holder)
            log.info("scheduler %s: stopped", lock.holder)
    return lock


@contextmanager
def _stop_on_signals(stop: threading.Event):
    """SIGTERM/SIGINT set the stop event; only from the main thread.

    A repeat more than a second later (Ctrl-C pressed again) exits at once without waiting for running jobs;
    a repeat within the second is the same request (`make run` on Ctrl-C: SIGINT from the terminal, then
    SIGTERM from its trap).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    first: list[float] = []

    def handle(signum, _frame):
        if not first:
            first.append(time.monotonic())
            stop.set()
        elif time.monotonic() - first[0] > 1.0:
            raise SystemExit(128 + signum)

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def configure_logging() -> None:
    """Scheduler logs on stderr: ours (and the job modules') at INFO, APScheduler's own at WARNING."""
    from flask.logging import default_handler

    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(fmt)
    ours = logging.getLogger("workflow")  # also Flask's app.logger (import name "workflow")
    ours.removeHandler(default_handler)
    if not any(getattr(h, "_scheduler_handler", False) for h in ours.handlers):
        handler._scheduler_handler = True  # type: ignore[attr-defined]
        ours.addHandler(handler)
    ours.setLevel(logging.INFO)
    aps = logging.getLogger("apscheduler")
    if not any(getattr(h, "_scheduler_handler", False) for h in aps.handlers):
        aps.addHandler(handler)
    aps.setLevel(logging.WARNING)
