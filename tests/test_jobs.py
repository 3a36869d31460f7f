"""Background jobs (workflow/jobs): the evaluation PDF of a big plan made by the worker, not in the request;
claimed once even by concurrent workers (PostgreSQL: SKIP LOCKED), taken over when a worker's lease ran out and
never completed twice, failed after its attempts, its page visible to the requester, the office and admins."""
from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select, text

from models import Job, JobStatus, Notification, Role
from models.evaluation import EvaluationFile
from tests.conftest import EVALUATED_AT as NOW
from workflow import jobs
from workflow.evaluation import archive, background
from workflow.extensions import db

HOUSING = "市住房城乡建设局"


def files_count() -> int:
    return db.session.scalar(select(func.count(EvaluationFile.id)))


def notes_of(user) -> list[Notification]:
    return list(db.session.scalars(select(Notification).where(Notification.user_id == user.id,
                                                              Notification.kind.like("job_%"))))


@pytest.fixture
def quick(monkeypatch):
    """A handler kind that does nothing but count its runs (no PDF: for the queue's own behaviour)."""
    runs: list[int] = []

    def run(job, progress):
        progress(50, "halfway")
        runs.append(job.id)
        return {"n": len(runs)}

    monkeypatch.setitem(jobs.HANDLERS, "quick", jobs.Handler(run, lambda job: "quick", lambda job: None))
    return runs


def test_a_queued_pdf_is_made_once_archived_and_the_requester_notified(evaluation):
    ev, office = evaluation
    job = background.request_pdf(ev, department=None, actor=office, now=NOW)
    assert job.status == JobStatus.QUEUED and job.progress == 0 and files_count() == 0
    assert jobs.run_one(NOW) == {"ran": 1, "done": 1}
    db.session.refresh(job)
    assert job.status == JobStatus.DONE and job.progress == 100 and job.attempts == 1
    assert job.finished_at == NOW and job.lease_until is None
    archived = db.session.get(EvaluationFile, job.result["evaluation_file"])
    data = archive.read_file(archived)
    assert data.startswith(b"%PDF") and archived.sha256 == job.result["sha256"] and archived.created_by == office
    [note] = notes_of(office)
    assert note.kind == "job_done" and note.link == f"/jobs/{job.id}" and "年度评估报告" in note.subject
    # nothing left to do: a second pass runs nothing and makes no second file
    assert jobs.run_one(NOW + timedelta(minutes=1)) == {"ran": 0}
    assert files_count() == 1 and len(notes_of(office)) == 1
    actions = db.session.scalars(text("SELECT action FROM audit_event WHERE object_type = 'job' ORDER BY id")).all()
    assert actions == ["job.start", "job.finish"]


def test_an_expired_lease_is_taken_over_and_the_job_completes_once(app, evaluation, quick):
    _ev, office = evaluation
    job = jobs.enqueue("quick", {}, actor=office, now=NOW)
    first = jobs.claim(NOW)                       # a worker takes it, then dies without finishing
    assert first == jobs.Claim(job.id, 1)
    assert jobs.claim(NOW + timedelta(seconds=1)) is None          # its lease still holds
    later = NOW + timedelta(seconds=app.config["JOB_LEASE_SECONDS"] + 1)
    assert jobs.run_one(later) == {"ran": 1, "done": 1}          # another worker retries it
    db.session.refresh(job)
    assert job.status == JobStatus.DONE and job.attempts == 2 and job.result == {"n": 1}
    # the first worker coming back finishes nothing: its attempt is no longer the job's
    assert jobs.execute(first, now=later) == "stale"
    assert quick == [job.id] and len(notes_of(office)) == 1
    assert jobs.run_one(later + timedelta(hours=1)) == {"ran": 0}


def test_a_worker_overtaken_while_it_ran_does_not_mark_the_job_done(app, evaluation, monkeypatch):
    """The slow worker's lease ran out mid-run and another worker claimed the job: the slow one's result is
    dropped, the job stays the new attempt's."""
    _ev, office = evaluation

    def overtaken(job, progress):
        later = job.started_at + timedelta(seconds=app.config["JOB_LEASE_SECONDS"] + 1)
        assert jobs.claim(later) == jobs.Claim(job.id, 2)      # the other worker, meanwhile
        progress(80, "too late")                                # no longer this attempt's to report
        return {"slow": True}

    monkeypatch.setitem(jobs.HANDLERS, "slow", jobs.Handler(overtaken, lambda job: "slow", lambda job: None))
    job = jobs.enqueue("slow", {}, actor=office, now=NOW)
    assert jobs.run_one(NOW) == {"ran": 1, "stale": 1}
    db.session.refresh(job)
    assert job.status == JobStatus.RUNNING and job.attempts == 2 and job.result is None and job.progress == 0
    assert not notes_of(office)


def test_a_failing_job_is_retried_then_failed_with_its_message(app, evaluation, monkeypatch):
    _ev, office = evaluation
    app.config["JOB_MAX_ATTEMPTS"] = 2

    def broken(job, progress):
        raise RuntimeError("磁盘已满")

    monkeypatch.setitem(jobs.HANDLERS, "broken", jobs.Handler(broken, lambda job: "broken", lambda job: None))
    job = jobs.enqueue("broken", {}, actor=office, now=NOW)
    assert jobs.run_one(NOW) == {"ran": 1, "retry": 1}
    db.session.refresh(job)
    assert job.status == JobStatus.QUEUED and job.message == "磁盘已满" and not notes_of(office)
    assert jobs.run_one(NOW + timedelta(seconds=5)) == {"ran": 1, "failed": 1}
    db.session.refresh(job)
    assert job.status == JobStatus.FAILED and job.attempts == 2 and job.message == "磁盘已满"
    [note] = notes_of(office)
    assert note.kind == "job_failed"
    assert jobs.run_one(NOW + timedelta(minutes=1)) == {"ran": 0}


def test_a_job_whose_worker_died_on_its_last_attempt_fails(app, evaluation, quick):
    _ev, office = evaluation
    app.config["JOB_MAX_ATTEMPTS"] = 1
    job = jobs.enqueue("quick", {}, actor=office, now=NOW)
    assert jobs.claim(NOW) is not None
    later = NOW + timedelta(seconds=app.config["JOB_LEASE_SECONDS"] + 1)
    assert jobs.claim(later) is None
    db.session.refresh(job)
    assert job.status == JobStatus.FAILED and job.message and quick == []
    assert [n.kind for n in notes_of(office)] == ["job_failed"]


def test_concurrent_workers_never_claim_the_same_job(app, evaluation, quick):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("row locks (SKIP LOCKED) need PostgreSQL; SQLite runs one worker")
    _ev, office = evaluation
    ids = [jobs.enqueue("quick", {}, actor=office, now=NOW).id for _ in range(12)]
    db.session.remove()
    # one worker holds the oldest job's row lock: another claims the next one instead of waiting or doubling it
    with db.engine.connect() as holder:
        holder.execute(text("SELECT id FROM job WHERE id = :id FOR UPDATE"), {"id": ids[0]})
        assert jobs.claim(NOW).job_id == ids[1]
        holder.rollback()
    claimed: list[int] = []
    barrier = threading.Barrier(2)

    def worker():
        with app.app_context():
            barrier.wait()
            while (taken := jobs.claim(NOW)) is not None:
                claimed.append(taken.job_id)
            db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(claimed) == sorted(set(ids) - {ids[1]})   # each once, none twice
    attempts = db.session.scalars(select(Job.attempts).where(Job.id.in_(ids))).all()
    assert set(attempts) == {1}


# -- the pages ----------------------------------------------------------------------------------------------

@pytest.fixture
def big_plan(app):
    """The bundled plan counts as big: its PDF goes to the worker. (Flask-Babel's locale cached on `g` is dropped
    per request, as production's per-request context does: see test_i18n.)"""
    from flask import g

    app.config["EVALUATION_PDF_INLINE_MAX_TASKS"] = 10
    app.before_request(lambda: g.pop("_flask_babel", None))
    with time_machine.travel(NOW, tick=False):
        yield


def test_a_big_plans_pdf_is_queued_shown_with_progress_and_linked_when_done(client, login_as, evaluation,
                                                                           big_plan):
    ev, _office = evaluation
    office = login_as(Role.OFFICE)
    response = client.post(f"/evaluation/{ev.plan_id}/2026/files", data={"kind": "pdf"})
    assert response.status_code == 302 and files_count() == 0
    location = response.headers["Location"]
    assert re.fullmatch(r"/jobs/\d+", location)
    page = client.get(location).get_data(as_text=True)
    assert '<meta http-equiv="refresh" content="3">' in page and "<progress" in page and "排队" in page
    job = db.session.get(Job, int(location.rsplit("/", 1)[1]))
    assert job.requested_by_id == office.id and job.params == {"evaluation_id": ev.id, "department_id": None}
    assert jobs.run_one(NOW) == {"ran": 1, "done": 1}
    page = client.get(location).get_data(as_text=True)
    assert 'http-equiv="refresh"' not in page and "已生成完毕" in page
    assert f'href="/evaluation/{ev.plan_id}/2026/"' in page             # back to where it was asked for
    link = re.search(r'href="(/evaluation/files/\d+)"', page).group(1)
    download = client.get(link)
    assert download.status_code == 200 and download.data.startswith(b"%PDF")
    client.post("/lang/en", data={"next": location})
    english = client.get(location).get_data(as_text=True)
    assert "Download PDF" in english and "Background job" in english


def test_the_job_page_is_the_requesters_the_offices_and_admins(client, login_as, evaluation, big_plan):
    ev, _office = evaluation
    liaison = login_as(Role.LIAISON, department=HOUSING)
    response = client.post(f"/evaluation/{ev.plan_id}/2026/files", data={"kind": "pdf", "department": liaison.department_id})
    location = response.headers["Location"]
    assert client.get(location).status_code == 200
    login_as(Role.LIAISON, department="市交通运输局")
    assert client.get(location).status_code == 403
    assert client.get("/jobs/99999").status_code == 404
    for role in (Role.OFFICE, Role.ADMIN):
        login_as(role)
        assert client.get(location).status_code == 200


# -- the heartbeat, the workbook, the ledger export ---------------------------------------------------------

def test_a_live_workers_heartbeat_keeps_a_job_that_outlives_its_lease(app, evaluation, monkeypatch):
    """Lease 1 s, heartbeat every 0.2 s, a job running 2.5 s: another worker looking meanwhile never takes it."""
    import time

    from workflow.clock import utcnow
    _ev, office = evaluation
    app.config.update(JOB_LEASE_SECONDS=1, JOB_HEARTBEAT_SECONDS=0.2)
    seen: list = []

    def long(job, progress):
        for _ in range(5):
            time.sleep(0.5)
            with app.app_context():      # another worker, its own session
                seen.append(jobs.claim(utcnow()))
                db.session.remove()
        return {"long": True}

    monkeypatch.setitem(jobs.HANDLERS, "long", jobs.Handler(long, lambda job: "long", lambda job: None))
    job = jobs.enqueue("long", {}, actor=office, now=utcnow())
    assert jobs.run_one(utcnow()) == {"ran": 1, "done": 1}
    assert seen == [None] * 5
    db.session.refresh(job)
    assert job.status == JobStatus.DONE and job.attempts == 1 and len(notes_of(office)) == 1


def _run_one_hearing_progress() -> list[int]:
    """Run the one queued job to the end; the percentages its progress bar was given, in order."""
    steps: list[int] = []
    real = jobs._progress

    def spy(taken):
        report = real(taken)
        return lambda percent, message: (steps.append(percent), report(percent, message))

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(jobs, "_progress", spy)
        assert jobs.run_one(NOW) == {"ran": 1, "done": 1}
    return steps


def test_a_big_plans_workbook_is_a_job_with_its_steps_archived_once(client, login_as, evaluation, big_plan):
    ev, _office = evaluation
    app = client.application
    app.config["EVALUATION_WORKBOOK_INLINE_MAX_TASKS"] = 10
    login_as(Role.OFFICE)
    response = client.post(f"/evaluation/{ev.plan_id}/2026/files", data={"kind": "xlsx"})
    location = response.headers["Location"]
    assert re.fullmatch(r"/jobs/\d+", location) and files_count() == 0
    steps = _run_one_hearing_progress()
    assert steps == sorted(steps) and len(steps) >= 5
    page = client.get(location).get_data(as_text=True)
    link = re.search(r'href="(/evaluation/files/\d+)"', page).group(1)
    assert client.get(link).data[:2] == b"PK" and files_count() == 1


def test_a_big_ledger_export_is_offered_queued_and_the_requesters_alone(client, login_as, evaluation, big_plan):
    ev, _office = evaluation
    client.application.config["LEDGER_EXPORT_INLINE_MAX_ROWS"] = 1
    office = login_as(Role.OFFICE)
    offer = client.get(f"/ledger/export.csv?plan={ev.plan_id}")
    offered = offer.get_data(as_text=True)
    assert offer.status_code == 200 and "开始生成" in offered
    assert re.search(r"台账-\d{8}\.csv，共 \d+ 行", offered)                # the file it would make, its rows
    assert db.session.scalar(select(func.count(Job.id))) == 0           # a read queues nothing
    response = client.post(f"/ledger/export.csv?plan={ev.plan_id}")
    location = response.headers["Location"]
    job = db.session.get(Job, int(location.rsplit("/", 1)[1]))
    assert job.kind == "ledger_export" and job.requested_by_id == office.id
    assert jobs.run_one(NOW) == {"ran": 1, "done": 1}
    page = client.get(location).get_data(as_text=True)
    assert f'href="/jobs/{job.id}/file"' in page
    download = client.get(f"/jobs/{job.id}/file")
    assert download.status_code == 200 and "任务编号" in download.data.decode("utf-8-sig")
    assert download.data.decode("utf-8-sig").count("\n") > 2
    [note] = notes_of(office)
    assert note.kind == "job_done" and "台账" in note.subject
    login_as(Role.ADMIN)        # sees the job, not the requester's file
    page = client.get(location).get_data(as_text=True)
    assert "只有申请人可以下载" in page and client.get(f"/jobs/{job.id}/file").status_code == 403


def test_a_ledger_export_restarted_in_the_middle_completes_once(app, client, login_as, evaluation, big_plan):
    ev, _office = evaluation
    app.config["LEDGER_EXPORT_INLINE_MAX_ROWS"] = 1
    office = login_as(Role.OFFICE)
    client.post(f"/ledger/export.xlsx?plan={ev.plan_id}")
    first = jobs.claim(NOW)                      # the worker is killed after claiming
    later = NOW + timedelta(seconds=app.config["JOB_LEASE_SECONDS"] + 1)
    assert jobs.run_one(later) == {"ran": 1, "done": 1}
    assert jobs.execute(first, now=later) == "stale"
    job = db.session.get(Job, first.job_id)
    assert job.attempts == 2 and job.result["file"]["filename"].endswith(".xlsx")
    assert len(notes_of(office)) == 1


# -- bulletins, the job results' sweep --------------------------------------------------------------------------

@pytest.fixture
def big_bulletin(app):
    """A 2026Q1 bulletin of the bundled plan, whose 41 tasks count as big (BULLETIN_INLINE_MAX_TASKS 10), and a
    leader to circulate it to."""
    from tests.conftest import make_user
    from tests.factories import published_fushun
    from workflow.bulletins import services

    plan, office = published_fushun()
    make_user(Role.LEADER, username="leader1")
    app.config["BULLETIN_INLINE_MAX_TASKS"] = 10
    with time_machine.travel(NOW, tick=False):
        yield services.open_bulletin(plan, "2026Q1", actor=office, now=NOW), office


def bulletin_files() -> int:
    from models import BulletinFile

    return db.session.scalar(select(func.count(BulletinFile.id)))


def test_a_big_plans_bulletin_is_published_by_the_worker_and_circulated_once(client, login_as, big_bulletin):
    bulletin, _office = big_bulletin
    office = login_as(Role.OFFICE)
    response = client.post(f"/bulletins/{bulletin.id}/publish", data={"version": bulletin.version})
    location = response.headers["Location"]
    assert response.status_code == 302 and re.fullmatch(r"/jobs/\d+", location)
    db.session.refresh(bulletin)
    assert bulletin.status == "draft" and bulletin_files() == 0          # nothing rendered in the request
    steps = _run_one_hearing_progress()
    assert steps == sorted(steps) and len(steps) >= 4
    db.session.refresh(bulletin)
    assert bulletin.status == "published" and bulletin.number_label == "2026年第1期" and bulletin_files() == 2
    assert bulletin.published_by_id == office.id and bulletin.published_at == NOW
    [circulated] = db.session.scalars(select(Notification).where(Notification.kind == "bulletin")).all()
    assert circulated.link == f"/bulletins/{bulletin.id}" and "2026年第1期" in circulated.subject
    [note] = notes_of(office)
    assert note.kind == "job_done" and "情况通报" in note.subject
    page = client.get(location).get_data(as_text=True)
    assert "已生成完毕" in page and f'href="/bulletins/{bulletin.id}"' in page


def test_a_bulletin_job_whose_worker_died_after_publishing_publishes_once(app, client, login_as, big_bulletin):
    from workflow.bulletins import services

    bulletin, _office = big_bulletin
    office = login_as(Role.OFFICE)
    client.post(f"/bulletins/{bulletin.id}/publish", data={"version": bulletin.version})
    first = jobs.claim(NOW)
    # the first worker committed the publishing, then died before it finished the job
    services.publish(bulletin, actor=office, now=NOW, version=bulletin.version)
    later = NOW + timedelta(seconds=app.config["JOB_LEASE_SECONDS"] + 1)
    assert jobs.run_one(later) == {"ran": 1, "done": 1}
    db.session.refresh(bulletin)
    assert bulletin.number == 1 and bulletin_files() == 2 and bulletin.published_at == NOW
    assert db.session.scalar(select(func.count(Notification.id)).where(Notification.kind == "bulletin")) == 1
    assert jobs.execute(first, now=later) == "stale"
    assert [n.kind for n in notes_of(office)] == ["job_done"]


def test_a_bulletin_edited_after_it_was_queued_fails_at_once_with_the_conflict(client, login_as, big_bulletin):
    from workflow.bulletins import services

    bulletin, _office = big_bulletin
    office = login_as(Role.OFFICE)
    location = client.post(f"/bulletins/{bulletin.id}/publish", data={"version": bulletin.version}).headers["Location"]
    services.update_text(bulletin, lead="新导语", next_steps="新要求", actor=office, now=NOW, version=bulletin.version)
    assert jobs.run_one(NOW) == {"ran": 1, "failed": 1}                 # a refusal is not retried
    job = db.session.get(Job, int(location.rsplit("/", 1)[1]))
    assert job.attempts == 1 and job.message and bulletin.status == "draft" and bulletin_files() == 0
    assert [n.kind for n in notes_of(office)] == ["job_failed"]
    assert "生成失败" in client.get(location).get_data(as_text=True)
    # a publish asked for with a stale version is refused in the request, as publishing at once would be
    stale = client.post(f"/bulletins/{bulletin.id}/publish", data={"version": 1})
    assert stale.status_code == 409 and db.session.scalar(select(func.count(Job.id))) == 1


def test_a_jobs_file_is_swept_after_its_days_by_the_schedulers_housekeeping(app, client, login_as, evaluation,
                                                                           big_plan):
    import os

    from workflow import files
    from workflow.scheduling.runner import reminders_body

    ev, _office = evaluation
    app.config.update(LEDGER_EXPORT_INLINE_MAX_ROWS=1, JOB_RESULT_DAYS=7)
    login_as(Role.OFFICE)
    location = client.post(f"/ledger/export.csv?plan={ev.plan_id}").headers["Location"]
    assert jobs.run_one(NOW) == {"ran": 1, "done": 1}
    job = db.session.get(Job, int(location.rsplit("/", 1)[1]))
    area = files.area(files.JOB_RESULTS_AREA)
    key = area.key(job.result["file"]["sha256"])
    os.utime(area.storage.local_path(key), (NOW.timestamp(), NOW.timestamp()))   # written when the job ran
    reminders_body(now=NOW + timedelta(days=6))
    assert area.storage.exists(key) and client.get(f"/jobs/{job.id}/file").status_code == 200
    with time_machine.travel(NOW + timedelta(days=8), tick=False):
        assert client.get(f"/jobs/{job.id}/file").status_code == 404      # expired, even before the sweep
        reminders_body(now=NOW + timedelta(days=8))
        assert not area.storage.exists(key)
        page = client.get(location).get_data(as_text=True)
    assert "已不存在，请重新生成" in page and f"/jobs/{job.id}/file" not in page
