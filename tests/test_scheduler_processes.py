"""Real `flask --app wsgi scheduler run` processes against one database: only one leads, only the leader's jobs
run, a leader killed with SIGKILL is replaced within the lease time, and a clean stop hands over at once.

Runs on a temporary SQLite file, and also on PostgreSQL when TEST_DATABASE_URL is a postgresql URL: there in a
schema of its own (sched_<random>, dropped at the end), never touching the shared public schema.

The helpers (scheduler_env, start_scheduler, wait_for_line, wait_for_any, stop_scheduler, kill_all,
sqlite_database, postgres_schema_database, read_marker, job_runs, assert_no_overlap) are meant for reuse by
other end-to-end tests, e.g. one with an SMTP server whose inbox must have no duplicates.
"""
from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent

HEARTBEAT = 0.5
LEASE = 5.0
FAST = {
    "SCHEDULER_HEARTBEAT_SECONDS": str(HEARTBEAT),
    "SCHEDULER_LEASE_SECONDS": str(LEASE),
    "SCHEDULER_REMINDERS_SECONDS": "1",
    "SCHEDULER_OUTBOX_SECONDS": "1",
    "SCHEDULER_MISFIRE_GRACE_SECONDS": "5",
}
START_TIMEOUT = 60  # importing the app in a fresh interpreter on a busy machine


# -- helpers (reusable) -------------------------------------------------------------------------------------------

class SchedulerProcess(subprocess.Popen):
    """A Popen whose merged stdout+stderr is collected line by line in the background (.lines, .output())."""

    def __init__(self, args, **kwargs):
        super().__init__(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, encoding="utf-8",
                         errors="replace", bufsize=1, **kwargs)
        self.lines: list[str] = []
        self.eof = False
        self.cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.stdout:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    def output(self) -> str:
        with self.cond:
            return "\n".join(self.lines)

    def count(self, text_: str) -> int:
        with self.cond:
            return sum(text_ in line for line in self.lines)

    @property
    def holder(self) -> str | None:
        """The holder id from the "scheduler <holder>: starting" log line."""
        with self.cond:
            for line in self.lines:
                if ": starting (" in line and "scheduler " in line:
                    return line.split("scheduler ", 1)[1].split(": starting", 1)[0]
        return None


def scheduler_env(database_url: str, *, marker_file: Path | str | None = None, **extra: str) -> dict[str, str]:
    """The environment for `flask` subprocesses: this interpreter's, the given database, the fast intervals,
    no mail server unless given in extra, unbuffered output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAIL_", "SCHEDULER_"))}
    env.update(FAST)
    env.update(DATABASE_URL=database_url, PYTHONUNBUFFERED="1", PYTHONIOENCODING="utf-8")
    env.pop("FLASK_APP", None)
    if marker_file is not None:
        env["SCHEDULER_TEST_MARKER_FILE"] = str(marker_file)
    env.update(extra)
    return env


def flask(env: dict[str, str], *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    """`python -m flask --app wsgi ARGS` to completion (e.g. `db upgrade`); raises with its output on failure."""
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise AssertionError(f"flask {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done


def start_scheduler(env: dict[str, str]) -> SchedulerProcess:
    """Start `python -m flask --app wsgi scheduler run`; stop it with stop_scheduler / kill_all in a finally."""
    return SchedulerProcess([sys.executable, "-m", "flask", "--app", "wsgi", "scheduler", "run"], cwd=ROOT, env=env)


def wait_for_line(proc: SchedulerProcess, text_: str, timeout: float) -> str:
    """The first output line containing text_, waiting up to timeout seconds; fails (with the output) on timeout
    or if the process ends without printing it."""
    deadline = time.monotonic() + timeout
    with proc.cond:
        while True:
            for line in proc.lines:
                if text_ in line:
                    return line
            remaining = deadline - time.monotonic()
            if proc.eof or remaining <= 0:
                why = "exited" if proc.eof else f"timed out after {timeout:g}s"
                raise AssertionError(f"{why} waiting for {text_!r}; output:\n" + "\n".join(proc.lines))
            proc.cond.wait(min(remaining, 0.2))


def wait_for_any(procs: list[SchedulerProcess], text_: str, timeout: float) -> SchedulerProcess:
    """The first of procs to print a line containing text_."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc in procs:
            if proc.count(text_):
                return proc
        time.sleep(0.05)
    outputs = "\n---\n".join(p.output() for p in procs)
    raise AssertionError(f"none printed {text_!r} within {timeout:g}s:\n{outputs}")


def wait_until(predicate, timeout: float, message: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s: {message}")
        time.sleep(0.1)


def stop_scheduler(proc: SchedulerProcess, timeout: float = 30) -> int:
    """SIGTERM, then wait; SIGKILL if it does not stop. Returns the exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    proc._reader.join(5)
    return proc.returncode


def kill_all(procs: list[SchedulerProcess]) -> None:
    """For finally blocks: no process outlives its test."""
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
    for proc in procs:
        with suppress(subprocess.TimeoutExpired):
            proc.wait(10)
        if proc.stdout:
            proc.stdout.close()


@contextmanager
def sqlite_database(directory: Path) -> Iterator[str]:
    """A fresh SQLite file migrated with `flask db upgrade`; yields its URL."""
    url = f"sqlite:///{directory / 'scheduler.sqlite'}"
    flask(scheduler_env(url), "db", "upgrade")
    yield url


@contextmanager
def postgres_schema_database(base_url: str) -> Iterator[str]:
    """A schema of its own in the PostgreSQL database of base_url (never the shared public schema): created,
    migrated with `flask db upgrade`, yielded as a URL whose connections use it as search_path, dropped after."""
    schema = f"sched_{secrets.token_hex(4)}"
    url = make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
    url = url.render_as_string(hide_password=False)
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            flask(scheduler_env(url), "db", "upgrade")
            yield url
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()


@dataclass
class Run:
    holder: str
    job: str
    start: float
    end: float | None


def read_marker(path: Path) -> list[tuple[str, str, str, float]]:
    """The lines of SCHEDULER_TEST_MARKER_FILE: (holder, job, 'start'|'end', unix time)."""
    if not path.exists():
        return []
    rows = []
    content = path.read_text(encoding="utf-8")
    lines = content.splitlines()
    if lines and not content.endswith("\n"):
        lines.pop()  # a line still being written
    for line in lines:
        holder, job, event, at = line.split("\t")
        rows.append((holder, job, event, float(at)))
    return rows


def job_runs(path: Path) -> list[Run]:
    """Pair each start with its end per (holder, job); a run cut short by SIGKILL has end None."""
    runs: list[Run] = []
    open_runs: dict[tuple[str, str], Run] = {}
    for holder, job, event, at in read_marker(path):
        if event == "start":
            assert (holder, job) not in open_runs, f"{job} started twice at once in {holder}"
            open_runs[(holder, job)] = run = Run(holder, job, at, None)
            runs.append(run)
        else:
            open_runs.pop((holder, job)).end = at
    return runs


def assert_no_overlap(runs: list[Run], cut_off: dict[str, float] | None = None) -> None:
    """No two runs of different processes overlapped in time (an unfinished run lasts until cut_off[holder])."""
    cut_off = cut_off or {}

    def end(run: Run) -> float:
        return run.end if run.end is not None else cut_off.get(run.holder, float("inf"))

    for i, a in enumerate(runs):
        for b in runs[i + 1:]:
            if a.holder != b.holder:
                assert end(a) <= b.start or end(b) <= a.start, f"overlapping runs: {a} and {b}"


def runs_of(path: Path, holder: str, job: str | None = None) -> list[Run]:
    return [r for r in job_runs(path) if r.holder == holder and (job is None or r.job == job)]


# -- the test -----------------------------------------------------------------------------------------------------

BACKENDS = ["sqlite"]
if os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"):
    BACKENDS.append("postgresql")


@pytest.fixture(params=BACKENDS)
def scheduler_database(request, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        with sqlite_database(tmp_path) as url:
            yield url
    else:
        with postgres_schema_database(os.environ["TEST_DATABASE_URL"]) as url:
            yield url


def test_one_leader_acts_and_a_killed_leader_is_replaced(scheduler_database, tmp_path):
    marker = tmp_path / "marker.log"
    env = scheduler_env(scheduler_database, marker_file=marker)
    procs: list[SchedulerProcess] = []
    try:
        # 1. the first process leads; two more started later stand by
        a = start_scheduler(env)
        procs.append(a)
        wait_for_line(a, "leader acquired", START_TIMEOUT)
        assert "作为主进程运行（leader）" in wait_for_line(a, "调度器", 5)
        b, c = start_scheduler(env), start_scheduler(env)
        procs += [b, c]
        for standby in (b, c):
            wait_for_line(standby, "standing by", START_TIMEOUT)
            assert "本进程待命（standby）" in wait_for_line(standby, "调度器", 5)
        # while all three run, each job runs repeatedly, and only in the leader
        wait_until(lambda: len(runs_of(marker, a.holder, "reminders")) >= 3
                   and len(runs_of(marker, a.holder, "outbox")) >= 3, timeout=30,
                   message="the leader's jobs did not run")
        time.sleep(4 * HEARTBEAT)  # several standby heartbeats
        assert {r.holder for r in job_runs(marker)} == {a.holder}
        assert a.count("leader acquired") == 1 and b.count("leader acquired") == c.count("leader acquired") == 0

        # 2. SIGKILL the leader: no clean release; one standby takes over within the lease time
        a.kill()
        a.wait(10)
        killed_at = time.time()
        new = wait_for_any([b, c], "leader acquired", 15)
        takeover = time.time() - killed_at
        assert takeover < 15
        other = c if new is b else b
        wait_until(lambda: len(runs_of(marker, new.holder, "reminders")) >= 1
                   and len(runs_of(marker, new.holder, "outbox")) >= 1, timeout=20,
                   message="the new leader's jobs did not run")
        time.sleep(4 * HEARTBEAT)
        assert other.count("leader acquired") == 0, "two standbys both took over"
        assert all(r.start >= killed_at for r in runs_of(marker, new.holder))

        # 3. a clean stop (SIGTERM) releases the lock: the last process takes over at once, not after the lease
        assert stop_scheduler(new) == 0, new.output()
        assert new.count("lock released") == 1
        stopped_at = time.time()
        wait_for_line(other, "leader acquired", 15)
        handover = time.time() - stopped_at
        assert handover < LEASE - 2 * HEARTBEAT, f"handover took {handover:.1f}s: the lock was not released"
        wait_until(lambda: len(runs_of(marker, other.holder)) >= 1, timeout=20,
                   message="the last leader's jobs did not run")
        assert stop_scheduler(other) == 0, other.output()

        # no job ever ran in two processes at the same time
        runs = job_runs(marker)
        assert {r.holder for r in runs} == {a.holder, new.holder, other.holder}
        assert_no_overlap(runs, cut_off={a.holder: killed_at})
        assert all(r.end is not None for r in runs if r.holder != a.holder)
    finally:
        kill_all(procs)
    for proc in procs:  # the real passes ran cleanly on the empty database
        assert "pass failed" not in proc.output() and "Traceback" not in proc.output(), proc.output()


def test_with_format_json_the_process_prints_one_document_when_it_stops(tmp_path):
    """The contract's --format json: the status lines go to stderr, stdout holds exactly one JSON document."""
    with sqlite_database(tmp_path) as url:
        errors = tmp_path / "stderr.log"
        with errors.open("w", encoding="utf-8") as stderr:
            proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "scheduler", "run", "--format",
                                     "json"], cwd=ROOT, env=scheduler_env(url), stdout=subprocess.PIPE,
                                    stderr=stderr, text=True, encoding="utf-8")
            try:
                wait_until(lambda: "已获得调度锁" in errors.read_text(encoding="utf-8"), START_TIMEOUT,
                           "the scheduler never announced itself")
                proc.send_signal(signal.SIGTERM)
                out, _ = proc.communicate(timeout=30)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(10)
    assert proc.returncode == 0, errors.read_text(encoding="utf-8")
    document = json.loads(out)
    assert document["started_as"] == "leader" and document["lock"] == "lease"
    assert document["holder"] and document["holder"] in errors.read_text(encoding="utf-8")
