"""The reminders issue's acceptance from the outside: real `flask` processes on a fresh database and a real SMTP
server in this process. On PostgreSQL (TEST_DATABASE_URL set) each test uses a schema of its own."""
from __future__ import annotations

import json
import os
import signal
from collections import Counter

import pytest

from tests.test_outbox import SMTPServer
from tests.test_scheduler_processes import (
    START_TIMEOUT,
    flask,
    kill_all,
    postgres_schema_database,
    scheduler_env,
    sqlite_database,
    start_scheduler,
    wait_for_any,
    wait_until,
)

BACKENDS = ["sqlite"]
if os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"):
    BACKENDS.append("postgresql")


@pytest.fixture(params=BACKENDS)
def fresh_database(request, tmp_path):
    if request.param == "sqlite":
        with sqlite_database(tmp_path) as url:
            yield url
    else:
        with postgres_schema_database(os.environ["TEST_DATABASE_URL"]) as url:
            yield url


@pytest.fixture
def smtp():
    server = SMTPServer().start()
    yield server
    server.stop()


def run_json(env, *args) -> dict:
    result = flask(env, *args, "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def message_ids(server: SMTPServer) -> list[str]:
    return [m["Message-ID"] for m in server.handler.messages()]


def test_command_line_run_once_and_send_deliver_each_digest_once(fresh_database, smtp):
    env = scheduler_env(fresh_database)
    loaded = run_json(env, "demo", "load")
    run_json(env, "plan", "publish", "1", "--first-period", "2026Q1")
    first = run_json(env, "reminders", "run-once", "--now", "2026-04-20T09:00+08:00")
    departments = {a["department"] for a in loaded["accounts"] if a["department"]}
    assert {q["department"] for q in first["queued"]} == departments  # every lead and co department
    again = run_json(env, "reminders", "run-once", "--now", "2026-04-20T09:00+08:00")
    assert again == {"queued": [], "escalations_opened": [], "escalations_closed": []}

    without_server = run_json(env, "outbox", "send", "--now", "2026-04-20T09:05+08:00")
    assert without_server["sent"] == 0 and without_server["pending"] > 0 and smtp.received == []

    mail_env = {**env, "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(smtp.port)}
    sent = run_json(mail_env, "outbox", "send", "--now", "2026-04-20T09:10+08:00")
    assert sent["sent"] == without_server["pending"] and sent["failed"] == 0 and sent["pending"] == 0
    assert len(smtp.received) == sent["sent"]
    # one digest per recipient, covering every reminder's recipient (and the liaisons told of the publication)
    addressees = Counter(to for r in smtp.received for to in r["to"])
    assert max(addressees.values()) == 1
    assert {f"{q['recipient']}@example.gov.cn" for q in first["queued"]} <= set(addressees)
    second = run_json(mail_env, "outbox", "send", "--now", "2026-04-20T09:15+08:00")
    assert second["sent"] == 0 and len(smtp.received) == sent["sent"]
    subjects = [m["Subject"] for m in smtp.handler.messages()]
    assert all(s.startswith("【督办系统】") for s in subjects)
    assert max(Counter(message_ids(smtp)).values()) == 1


def test_two_schedulers_one_sends_and_the_other_takes_over(fresh_database, smtp):
    env = scheduler_env(fresh_database, MAIL_SERVER="127.0.0.1", MAIL_PORT=str(smtp.port))
    run_json(env, "demo", "load")
    run_json(env, "plan", "publish", "1", "--first-period", "2026Q1")
    procs = []
    try:
        procs = [start_scheduler(env), start_scheduler(env)]
        leader = wait_for_any(procs, "leader acquired", START_TIMEOUT)
        standby = next(p for p in procs if p is not leader)
        wait_until(lambda: len(smtp.received) > 0, 60, "the leader sends the first digests")
        assert standby.count("leader acquired") == 0
        leader.send_signal(signal.SIGKILL)
        leader.wait(10)
        wait_until(lambda: standby.count("leader acquired") == 1, 60, "the standby takes over within a minute")
        delivered = len(smtp.received)
        # new work for the new leader: a later reminder pass makes new digests, which it delivers
        run_json(env, "reminders", "run-once", "--now", "2030-01-10T09:00+08:00")
        wait_until(lambda: len(smtp.received) > delivered, 60, "the new leader delivers")
    finally:
        kill_all(procs)
    ids = message_ids(smtp)
    assert len(ids) == len(set(ids)), "a message arrived twice"
