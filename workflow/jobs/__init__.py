"""Background jobs: long work taken off the web request and run by the scheduler process (`run_one`).

The job table is the queue. `claim` takes the oldest queued job, or a running one whose lease ran out (its
worker died or hung), with SELECT … FOR UPDATE SKIP LOCKED on PostgreSQL so that several workers never take
the same row; SQLite has one worker and no row locks. Each claim counts an attempt; a worker finishes only the
attempt it claimed (`_finish` re-reads the row under lock), so a job taken over after its lease expired is
completed once, by whoever holds the current attempt. A handler that raises puts the job back in the queue until
JOB_MAX_ATTEMPTS, then it fails with the error's message; a refusal (a DomainError: the bulletin was edited
since it was queued) fails it at once, since trying again would be refused again. Done or failed, the requester
gets a notification. While a handler runs, a heartbeat thread renews the lease every JOB_HEARTBEAT_SECONDS (on its own connection),
so a long job whose worker is alive is never taken over; only a dead or hung worker's lease runs out.

Handlers register by kind: `@handler("evaluation_pdf")` on a function(job, progress) -> result dict, where
progress(percent, message) records how far it got, `link(job)` names the result and `back(job)` the page the
job was started from. `inline_max` names the setting of the one inline-or-job rule (`runs_in_background`): a
document bigger than it (tasks, rows) is a job, a smaller one is made in the request. A handler whose result is
a file of its own (not an archived document) keeps it with `keep_file`; only its requester downloads it, for
JOB_RESULT_DAYS after the job finished, when the scheduler's housekeeping sweeps it (`sweep_results`).
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import or_, select, update

from models import Job, JobStatus, User
from workflow import files, notify
from workflow.clock import utcnow
from workflow.domain import DomainError
from workflow.extensions import db
from workflow.labels import chinese
from workflow.transitions import apply_transition

Progress = Callable[[int, str], None]


@dataclass(frozen=True)
class Handler:
    run: Callable[[Job, Progress], dict]
    title: Callable[[Job], str]                 # what the job makes, for its page and the notification
    link: Callable[[Job], tuple[str, str] | None]   # (url, label) of the result once done
    back: Callable[[Job], tuple[str, str] | None] | None = None   # (url, label) of the page it was started from
    inline_max: str | None = None               # the setting: up to this size the document is made in the request


HANDLERS: dict[str, Handler] = {}


def handler(kind: str, *, title: Callable[[Job], str], link: Callable[[Job], tuple[str, str] | None],
            back: Callable[[Job], tuple[str, str] | None] | None = None, inline_max: str | None = None):
    """Register the function that runs jobs of `kind` (a domain registers at import)."""
    def register(run):
        HANDLERS[kind] = Handler(run, title, link, back, inline_max)
        return run
    return register


def runs_in_background(kind: str, size: int) -> bool:
    """The one inline-or-job rule: a document of `kind` whose size (its plan's tasks, its rows) is above the
    kind's setting is made by the worker; up to it, in the request."""
    return size > current_app.config[HANDLERS[kind].inline_max]


# -- a job's own result file (e.g. a ledger export): the job-results area, the requester's alone ----------------

def _results() -> files.Area:
    return files.area(files.JOB_RESULTS_AREA)


def keep_file(data: bytes, *, filename: str, mimetype: str) -> dict:
    """Store a handler's file (content-addressed, like every generated file); the result dict naming it."""
    digest, _key = files.write_blob(_results(), data)
    return {"file": {"sha256": digest, "filename": filename, "mimetype": mimetype, "bytes": len(data)}}


def result_file(job: Job) -> dict | None:
    """The job's own file, if it made one and the job is done."""
    return (job.result or {}).get("file") if job.status == JobStatus.DONE else None


def _kept_since(now: datetime) -> datetime:
    return now - timedelta(days=current_app.config["JOB_RESULT_DAYS"])


def kept_until(job: Job) -> datetime | None:
    """When the job's own file expires (JOB_RESULT_DAYS after the job finished); None if it made none."""
    if result_file(job) is None:
        return None
    return job.finished_at + timedelta(days=current_app.config["JOB_RESULT_DAYS"])


def result_expired(job: Job, *, now: datetime) -> bool:
    """Whether the job's own file is past its days: swept, or about to be (ask for it again)."""
    until = kept_until(job)
    return until is not None and until < now


def send_file(job: Job, *, now: datetime):
    """The job's file streamed (FileNotFoundError when it made none, or it expired or is gone)."""
    made = result_file(job)
    if made is None or result_expired(job, now=now):
        raise FileNotFoundError(job.id)
    return files.send_stored(_results(), made["sha256"], mimetype=made["mimetype"]), made["filename"]


def sweep_results(*, now: datetime) -> int:
    """The scheduler's housekeeping: job files older than JOB_RESULT_DAYS that no job finished since names (the
    store is content-addressed, so a newer job's identical file keeps the blob); see files.sweep."""
    kept = db.session.scalars(select(Job.result).where(Job.status == JobStatus.DONE,
                                                       Job.finished_at >= _kept_since(now)))
    referenced = {result["file"]["sha256"] for result in kept if result and result.get("file")}
    return len(files.sweep(_results(), referenced, older_than=_kept_since(now)))


@dataclass(frozen=True)
class Claim:
    """A worker's hold on a job: the attempt it claimed is the only one it may finish."""

    job_id: int
    attempt: int


def enqueue(kind: str, params: dict, *, actor: User | None, now: datetime) -> Job:
    if kind not in HANDLERS:
        raise ValueError(f"unknown job kind: {kind}")
    job = Job(kind=kind, params=params, status=JobStatus.QUEUED, progress=0, message="", requested_by=actor,
              created_at=now, attempts=0)
    db.session.add(job)
    db.session.commit()
    return job


def _lease(now: datetime) -> datetime:
    return now + timedelta(seconds=current_app.config.get("JOB_LEASE_SECONDS", 900))


def _max_attempts() -> int:
    return max(1, current_app.config.get("JOB_MAX_ATTEMPTS", 3))


def claim(now: datetime) -> Claim | None:
    """The oldest claimable job moved to running with a fresh lease, or None. A job whose lease ran out after its
    last allowed attempt fails instead of running again."""
    while True:
        query = (select(Job).where(or_(Job.status == JobStatus.QUEUED,
                                       (Job.status == JobStatus.RUNNING) & (Job.lease_until < now)))
                 .order_by(Job.id).limit(1))
        if db.session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        job = db.session.scalar(query.execution_options(populate_existing=True))
        if job is None:
            db.session.rollback()
            return None
        if job.attempts >= _max_attempts():
            _fail(job, _("多次尝试后仍未完成（工作进程中断）。"), now)
            continue
        apply_transition(job, "start", actor=None, now=now,
                         changes={"attempts": job.attempts + 1, "started_at": now, "lease_until": _lease(now)})
        return Claim(job.id, job.attempts)


def run_one(now: datetime) -> dict:
    """Claim one job and run it: the scheduler's pass. Returns counts for its log line."""
    taken = claim(now)
    if taken is None:
        return {"ran": 0}
    return {"ran": 1, execute(taken, now=now): 1}


def execute(taken: Claim, *, now: datetime) -> str:
    """Run a claimed job's handler; "done", "retry", "failed" or "stale" (another worker holds the job now)."""
    job = db.session.get(Job, taken.job_id, populate_existing=True)
    if job is None or job.status != JobStatus.RUNNING or job.attempts != taken.attempt:
        return "stale"
    try:
        with _heartbeat(taken):
            result = HANDLERS[job.kind].run(job, _progress(taken))
    except DomainError as exc:   # the domain's answer, not a crash: the same next time
        db.session.rollback()
        return _after_failure(taken, exc.message, now, final=True)
    except Exception as exc:   # any failure of the work: logged, retried, then reported
        db.session.rollback()
        current_app.logger.exception("job %s (%s) attempt %s failed", taken.job_id, job.kind, taken.attempt)
        return _after_failure(taken, str(exc) or type(exc).__name__, now)
    job = _locked(taken)
    if job is None:
        return "stale"
    apply_transition(job, "finish", actor=None, now=now, notify=lambda: _tell(job, now, done=True),
                     changes={"progress": 100, "message": "", "result": result, "finished_at": now,
                              "lease_until": None})
    return "done"


@contextmanager
def _heartbeat(taken: Claim) -> Iterator[None]:
    """Renew this attempt's lease every JOB_HEARTBEAT_SECONDS while the handler runs, from a thread with its
    own connection (the handler's session may be mid-transaction). It stops with the handler; if the worker
    dies, so does the heartbeat, and the lease runs out as before. The lease is measured on the real clock."""
    app = current_app._get_current_object()
    interval = app.config.get("JOB_HEARTBEAT_SECONDS", 60)
    stop = threading.Event()

    def beat() -> None:
        with app.app_context():
            while not stop.wait(interval):
                try:
                    with db.engine.begin() as connection:
                        connection.execute(update(Job).where(Job.id == taken.job_id, Job.attempts == taken.attempt,
                                                             Job.status == JobStatus.RUNNING)
                                           .values(lease_until=_lease(utcnow())))
                except Exception:   # a busy database: the next beat tries again, well within the lease
                    app.logger.warning("job %s: lease renewal failed", taken.job_id, exc_info=True)

    thread = threading.Thread(target=beat, name=f"job-{taken.job_id}-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _progress(taken: Claim) -> Progress:
    """Record how far the handler got, committed at once so the job page shows it (only while this attempt
    holds the job)."""
    def report(percent: int, message: str) -> None:
        db.session.execute(update(Job).where(Job.id == taken.job_id, Job.attempts == taken.attempt,
                                             Job.status == JobStatus.RUNNING)
                           .values(progress=max(0, min(100, int(percent))), message=message))
        db.session.commit()
    return report


def _locked(taken: Claim) -> Job | None:
    """The job, locked, if this attempt still holds it."""
    query = select(Job).where(Job.id == taken.job_id, Job.attempts == taken.attempt, Job.status == JobStatus.RUNNING)
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    job = db.session.scalar(query.execution_options(populate_existing=True))
    if job is None:
        db.session.rollback()
    return job


def _after_failure(taken: Claim, message: str, now: datetime, *, final: bool = False) -> str:
    job = _locked(taken)
    if job is None:
        return "stale"
    if final or job.attempts >= _max_attempts():
        _fail(job, message, now)
        return "failed"
    apply_transition(job, "requeue", actor=None, now=now, changes={"message": message[:500], "lease_until": None})
    return "retry"


def _fail(job: Job, message: str, now: datetime) -> None:
    apply_transition(job, "fail", actor=None, now=now, notify=lambda: _tell(job, now, done=False),
                     changes={"message": message[:500], "finished_at": now, "lease_until": None})


def _tell(job: Job, now: datetime, *, done: bool) -> None:
    """The requester's notification, in the transaction that finishes the job (stored in Chinese, as every
    notification title is)."""
    if job.requested_by is None:
        return
    with chinese():
        title = HANDLERS[job.kind].title(job)
        subject = _("已生成：%(title)s", title=title) if done else _("生成失败：%(title)s", title=title)
    notify.queue(job.requested_by, kind="job_done" if done else "job_failed", key=f"job:{job.id}", now=now,
                 subject=subject, link=f"/jobs/{job.id}")
