"""办结销号: the lead files a completion report, the office confirms it (the task closes: no new period, no
reminder, drafts withdrawn and kept) or returns it with a reason, and may reopen the task; every refusal is clear
with nothing written; the round through the API, with the next quarter's reminder pass finding nothing for it."""
from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pytest
import time_machine
from pypdf import PdfWriter
from sqlalchemy import func, select

from models import AuditEvent, CompletionReport, CompletionStatus, Period, Report, Role, TaskStatus
from tests.conftest import make_user
from tests.factories import PDF, liaison_of, published_fushun, report_for
from tests.test_api_scenario import Caller
from tests.test_security import EXE
from workflow.domain import Conflict, PermissionDenied, ValidationFailed
from workflow.extensions import db
from workflow.scheduling.reminders import run_reminders
from workflow.tasks import completion as services

HOUSING = "市住房城乡建设局"     # leads 3.4.3
FILED = datetime(2026, 4, 3, 2, tzinfo=UTC)
SUMMARY = "清洁取暖改造全部完成，验收合格。"


@pytest.fixture
def world(app):
    plan, office = published_fushun()
    report = report_for(plan, "3.4.3")
    return {"plan": plan, "office": office, "task": report.task, "report": report, "liaison": liaison_of(HOUSING)}


def file(world, *, actor=None, summary=SUMMARY, values=None):
    task = world["task"]
    values = {task.targets[0].id: "98.5"} if values is None else values
    return services.file_completion(task, summary=summary, values=values, actor=actor or world["liaison"], now=FILED)


def count(model, *criteria) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*criteria))


def test_confirming_closes_the_task_and_withdraws_its_drafts(world):
    task, report = world["task"], world["report"]
    completion = file(world)
    assert completion.status == CompletionStatus.SUBMITTED
    assert completion.values == [{"target_id": task.targets[0].id, "value": "98.5"}]
    services.confirm_completion(completion, actor=world["office"], now=FILED, comment="同意销号", version=1)
    db.session.expire_all()
    assert completion.status == CompletionStatus.CONFIRMED and task.status == TaskStatus.CLOSED
    assert task.close_reason == "同意销号" and report.withdrawn_at is not None and report.status == "draft"
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "task")).all()
    assert actions == ["task.completion_filed", "task.close", "task.withdraw"]


def test_a_return_needs_a_reason_and_the_lead_may_file_again(world):
    completion = file(world)
    with pytest.raises(ValidationFailed) as missing:
        services.return_completion(completion, "", actor=world["office"], now=FILED)
    assert "reason" in missing.value.errors
    services.return_completion(completion, "请补充验收材料", actor=world["office"], now=FILED)
    assert completion.status == CompletionStatus.RETURNED and world["task"].status == TaskStatus.OPEN
    again = file(world)
    assert again.id != completion.id and again.is_pending


def test_bad_completions_are_refused_with_nothing_written(world):
    before = count(AuditEvent)
    with pytest.raises(PermissionDenied):                      # a co-department's liaison: not the user's task
        file(world, actor=liaison_of("市发展改革委"))
    with pytest.raises(PermissionDenied):
        file(world, actor=world["office"])
    with pytest.raises(ValidationFailed) as bad:
        file(world, summary=" ", values={world["task"].targets[0].id: "很多"})
    assert set(bad.value.errors) == {"summary", f"value_{world['task'].targets[0].id}"}
    assert count(AuditEvent) == before and count(CompletionReport) == 0
    completion = file(world)
    with pytest.raises(Conflict):                               # one waiting at a time
        file(world)
    for actor in (world["liaison"], make_user(Role.LEADER, username="mayor")):
        with pytest.raises(PermissionDenied):
            services.confirm_completion(completion, actor=actor, now=FILED)
    with pytest.raises(Conflict):
        services.confirm_completion(completion, actor=world["office"], now=FILED, version=5)
    services.confirm_completion(completion, actor=world["office"], now=FILED)
    with pytest.raises(Conflict):                               # closing an already closed task
        file(world)


def test_confirming_when_the_task_was_closed_meanwhile_is_a_conflict(world):
    from workflow.tasks.closure import close_task

    completion = file(world)
    close_task(world["task"], actor=None, now=FILED, reason="方案修订删除")
    before = count(AuditEvent)
    with pytest.raises(Conflict):
        services.confirm_completion(completion, actor=world["office"], now=FILED)
    db.session.expire_all()
    assert completion.status == CompletionStatus.SUBMITTED and count(AuditEvent) == before


def test_completion_through_the_api_no_reminder_next_quarter_then_reopened(app, client):
    with time_machine.travel(FILED, tick=False):
        plan, office_user = published_fushun()
        task = report_for(plan, "3.4.3").task
        office, housing = Caller(client, office_user), Caller(client, liaison_of(HOUSING))
        ndrc = Caller(client, liaison_of("市发展改革委"))
        body = {"summary": SUMMARY, "values": [{"target_id": task.targets[0].id, "value": 98.5}]}
        ndrc("POST", f"/tasks/{task.id}/completion", body, expect=403)
        assert "summary" in housing("POST", f"/tasks/{task.id}/completion", {"summary": ""}, expect=422)["errors"]
        created = housing("POST", f"/tasks/{task.id}/completion", body, expect=201)
        assert created["status"] == "submitted" and created["values"][0]["value"] == 98.5
        housing("POST", f"/completions/{created['id']}/confirm", {}, expect=403)
        office("POST", f"/completions/{created['id']}/return", {}, expect=422)
        confirmed = office("POST", f"/completions/{created['id']}/confirm", {"comment": "同意销号"})
        assert confirmed["status"] == "confirmed" and confirmed["task_status"] == "closed"
        assert office("GET", f"/tasks/{task.id}")["status"] == "closed"
        office("POST", f"/completions/{created['id']}/confirm", {}, expect=409)
        housing("POST", f"/tasks/{task.id}/completion", body, expect=409)
    result = run_reminders(now=datetime(2026, 7, 20, 1, tzinfo=UTC))       # next quarter, 2026Q2 long overdue
    assert result["queued"] and not [q for q in result["queued"] if q["task"] == "3.4.3"]
    assert not [e for e in result["escalations_opened"] if e["task"] == "3.4.3"]
    q3 = select(func.count()).select_from(Report).join(Period).where(Report.task_id == task.id, Period.key == "2026Q3")
    assert db.session.scalar(q3) == 0
    with time_machine.travel(datetime(2026, 8, 3, 2, tzinfo=UTC), tick=False):
        housing("POST", f"/tasks/{task.id}/reopen", {"reason": "x"}, expect=403)
        office("POST", f"/tasks/{task.id}/reopen", {}, expect=422)
        reopened = office("POST", f"/tasks/{task.id}/reopen", {"reason": "省里要求继续推进"})
        assert reopened["status"] == "open"
        office("POST", f"/tasks/{task.id}/reopen", {"reason": "again"}, expect=409)
    run_reminders(now=datetime(2026, 10, 9, 1, tzinfo=UTC))
    q4 = select(func.count()).select_from(Report).join(Period).where(Report.task_id == task.id, Period.key == "2026Q4")
    assert db.session.scalar(q3) == 0 and db.session.scalar(q4) == 1



def _pdf(width: int) -> bytes:
    writer, buffer = PdfWriter(), io.BytesIO()
    writer.add_blank_page(width, 72)
    writer.write(buffer)
    return buffer.getvalue()


def _multipart(caller: Caller, task, data: dict, files: list[tuple[str, bytes]], expect: int) -> dict:
    form = {**data, "file": [(io.BytesIO(content), name) for name, content in files]}
    return caller("POST", f"/tasks/{task.id}/completion", data=form, content_type="multipart/form-data",
                  expect=expect)


def test_a_completion_through_the_api_as_multipart_with_evidence_files(app, client):
    """The JSON body's fields as parts (`values` as JSON) and `file` parts, checked and stored as the web form's
    files are; a refused file or a bad part is a problem and no completion is filed."""
    with time_machine.travel(FILED, tick=False):
        plan, _office = published_fushun()
        task = report_for(plan, "3.4.3").task
        housing = Caller(client, liaison_of(HOUSING))
        values = json.dumps({str(task.targets[0].id): 98.5})
        refused = _multipart(housing, task, {"summary": SUMMARY, "values": values},
                             [("验收.pdf", PDF), ("setup.exe", EXE)], expect=422)
        assert set(refused["errors"]) == {"files"}
        assert _multipart(housing, task, {"summary": SUMMARY, "values": "{"}, [], expect=400)["status"] == 400
        wrong = _multipart(housing, task, {"summary": SUMMARY, "values": '{"x": [1]}'}, [], expect=422)
        assert [name.split(".")[0] for name in wrong["errors"]] == ["values"], wrong["errors"]
        assert "summary" in _multipart(housing, task, {"values": values}, [("验收.pdf", PDF)], expect=422)["errors"]
        assert count(CompletionReport, CompletionReport.task_id == task.id) == 0

        created = _multipart(housing, task, {"summary": SUMMARY, "values": values},
                             [("验收.pdf", PDF), ("现场.pdf", _pdf(144))], expect=201)
        assert created["attachments"] == ["验收.pdf", "现场.pdf"] and created["values"][0]["value"] == 98.5
        completion = db.session.get(CompletionReport, created["id"])
        with app.test_request_context():
            stored = services.completion_file(completion, completion.files[0]["sha256"])
            stored.direct_passthrough = False
            assert stored.get_data() == PDF


def test_the_json_completion_body_takes_no_files(app, client):
    with time_machine.travel(FILED, tick=False):
        plan, _office = published_fushun()
        task = report_for(plan, "3.4.3").task
        created = Caller(client, liaison_of(HOUSING))("POST", f"/tasks/{task.id}/completion", {"summary": SUMMARY},
                                                     expect=201)
        assert created["attachments"] == [] and created["summary"] == SUMMARY
