"""workflow.transitions: every table walked (each allowed move succeeds with its audit row, every other one is a
conflict), stale versions and concurrent losers refused, and the effects other domains register."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, update

from models import (
    AdjustmentRequest,
    AuditEvent,
    Bulletin,
    CompletionReport,
    Contribution,
    Escalation,
    EscalationStatus,
    Evaluation,
    ExtensionRequest,
    Instruction,
    Job,
    Notice,
    OutboxEmail,
    Report,
    Role,
    Task,
)
from tests.conftest import make_user
from tests.factories import liaison_of, published_fushun
from workflow import transitions
from workflow.domain import Conflict, PermissionDenied
from workflow.escalations.effects import close_on_submission
from workflow.extensions import db
from workflow.reports.services import ReportInput, save_contribution, save_report

NOW = datetime(2026, 4, 3, 2, tzinfo=UTC)


@pytest.fixture
def world(app):
    """One object of every table, and the people who may act on them."""
    plan, office = published_fushun()
    office_id = office.id
    leader = make_user(Role.LEADER)
    report = db.session.scalar(select(Report).join(Task).where(~Task.targets.any()).order_by(Report.id))
    contribution = db.session.scalar(select(Contribution).order_by(Contribution.id))
    assignment = plan.tasks[0].assignments[0]
    request = AdjustmentRequest(assignment=assignment, reason="不属于本单位职责", requested_at=NOW)
    escalation = Escalation(key="esc:test", plan_id=plan.id, task_id=report.task_id, period_id=report.period_id,
                            department_id=report.department_id, report_id=report.id, cause="overdue", opened_at=NOW)
    evaluation = Evaluation(plan=plan, year=2026, created_at=NOW)
    email = OutboxEmail(to_address="a@example.org", subject="s", text_body="t", html_body="h", created_at=NOW)
    bulletin = Bulletin(plan=plan, period_key="2026Q1", kind="quarterly", year=2026, created_at=NOW)
    instruction = Instruction(task_id=report.task_id, report_id=report.id, department_id=report.department_id,
                              leader=leader, entered_by=leader, text="请本月底前拿出整改方案", due_date=NOW.date(),
                              created_at=NOW)
    notice = Notice(escalation=escalation, year=2026, number=1, issued_on=NOW.date(), facts={}, frozen_at=NOW)
    extension = ExtensionRequest(report_id=report.id, department_id=report.department_id, reason="等待数据",
                                 current_deadline=NOW.date(), new_deadline=NOW.date().replace(month=5),
                                 requested_at=NOW, requested_by_id=office_id)
    completion = CompletionReport(task_id=report.task_id, department_id=report.department_id, summary="已完成",
                                  values=[], files=[], submitted_at=NOW, submitted_by_id=office_id)
    job = Job(kind="evaluation_pdf", params={}, requested_by_id=office_id, created_at=NOW)
    db.session.add_all([request, escalation, evaluation, email, bulletin, instruction, notice, extension,
                        completion, job])
    db.session.commit()
    people = [None, office, leader, make_user(Role.ADMIN), make_user(Role.DEPT_HEAD, report.department)]
    people += [liaison_of(d.name) for d in {report.department, contribution.department, assignment.department}]
    objects = {"report": report, "contribution": contribution, "plan": plan, "assignment": assignment,
               "adjustment_request": request, "escalation": escalation, "evaluation": evaluation,
               "outbox_email": email, "bulletin": bulletin, "instruction": instruction, "notice": notice,
               "task": plan.tasks[-1], "extension_request": extension, "completion_report": completion,
               "job": job}
    return objects, people


def _put(obj, state: str) -> None:
    """Set the state behind the mechanism's back (test setup), as another process would."""
    model = type(obj)
    db.session.execute(update(model).where(model.id == obj.id).values(status=state))
    db.session.commit()
    db.session.expire(obj)


def _actor(transition, obj, people):
    if transition.permission is None:
        return None
    return next(p for p in people if transition.permission(obj, p))


def _audit_rows(obj) -> int:
    return db.session.scalar(select(func.count(AuditEvent.id)).where(
        AuditEvent.object_type == obj.__tablename__, AuditEvent.object_id == obj.id))


def test_every_table_is_walked(world):
    objects, people = world
    assert set(objects) == set(transitions.TABLES)
    moves = refusals = 0
    for kind, table in transitions.TABLES.items():
        obj = objects[kind]
        for state in table.states:
            for action, transition in table.transitions.items():
                _put(obj, state)
                actor, before = _actor(transition, obj, people), _audit_rows(obj)
                if state in transition.sources:
                    left = transitions.apply_transition(obj, action, actor=actor, now=NOW)
                    assert (left, obj.status) == (state, transition.target), (kind, state, action)
                    event = db.session.scalars(select(AuditEvent).where(
                        AuditEvent.object_type == kind, AuditEvent.object_id == obj.id)
                        .order_by(AuditEvent.id.desc())).first()
                    assert (event.action, event.from_state, event.to_state) == (
                        transition.audit or f"{kind}.{action}", state, transition.target)
                    assert _audit_rows(obj) == before + 1
                    moves += 1
                else:
                    with pytest.raises(Conflict):
                        transitions.apply_transition(obj, action, actor=actor, now=NOW)
                    db.session.expire(obj)
                    assert obj.status == state and _audit_rows(obj) == before, (kind, state, action)
                    refusals += 1
    assert moves == sum(len(t.sources) for table in transitions.TABLES.values() for t in table.transitions.values())
    assert refusals > moves


def test_permission_is_checked_first(world):
    objects, people = world
    liaison = next(p for p in people if p is not None and p.role == Role.LIAISON)
    with pytest.raises(PermissionDenied, match="只有领导小组办公室可以审核报告"):
        transitions.apply_transition(objects["report"], "approve", actor=liaison, now=NOW)
    with pytest.raises(PermissionDenied):
        transitions.apply_transition(objects["evaluation"], "sign_off", actor=people[1], now=NOW)


@pytest.mark.parametrize("kind", [k for k, t in transitions.TABLES.items() if t.versioned])
def test_a_stale_version_is_refused(world, kind):
    objects, people = world
    obj, table = objects[kind], transitions.TABLES[kind]
    action, transition = next(iter(table.transitions.items()))
    _put(obj, transition.sources[0])
    before = _audit_rows(obj)
    with pytest.raises(Conflict) as refused:
        transitions.apply_transition(obj, action, actor=_actor(transition, obj, people), now=NOW,
                                     version=obj.version - 1)
    assert refused.value.extra["current_version"] == obj.version
    assert obj.status == transition.sources[0] and _audit_rows(obj) == before


@pytest.mark.parametrize("kind", list(transitions.TABLES))
def test_the_loser_of_a_concurrent_transition_gets_a_conflict(world, kind):
    objects, people = world
    obj, table = objects[kind], transitions.TABLES[kind]
    action, transition = next(iter(table.transitions.items()))
    _put(obj, transition.sources[0])
    assert obj.status == transition.sources[0]   # loaded: this session believes the move is allowed
    model = type(obj)
    with db.engine.begin() as conn:              # meanwhile another worker moved it first
        values = {"version": obj.version + 1} if table.versioned else {"status": transition.target}
        conn.execute(update(model).where(model.id == obj.id).values(**values))
    before = _audit_rows(obj)
    with pytest.raises(Conflict):
        transitions.apply_transition(obj, action, actor=_actor(transition, obj, people), now=NOW)
    assert _audit_rows(obj) == before


def test_closing_escalations_on_submission_is_registered_and_audited(world):
    objects, _people = world
    assert close_on_submission in transitions.effects_for("report", "submit")
    assert close_on_submission in transitions.effects_for("contribution", "submit")
    report, contribution, escalation = objects["report"], objects["contribution"], objects["escalation"]
    other = Escalation(key="esc:contribution", plan_id=contribution.task.plan_id, task_id=contribution.task_id,
                       period_id=contribution.period_id, department_id=contribution.department_id,
                       contribution_id=contribution.id, cause="overdue", opened_at=NOW)
    db.session.add(other)
    db.session.commit()
    liaison = liaison_of(report.department.name)
    save_report(report, ReportInput(narrative="已完成", percent_complete="40", progress="on_track"),
                actor=liaison, now=NOW, version=report.version, submit=True)
    save_contribution(contribution, "已配合", actor=liaison_of(contribution.department.name), now=NOW,
                      version=contribution.version, submit=True)
    for esc, actor in ((escalation, liaison), (other, None)):
        db.session.refresh(esc)
        assert (esc.status, esc.close_reason, esc.closed_at) == (EscalationStatus.CLOSED, "submitted", NOW)
        audit = db.session.scalars(select(AuditEvent).where(AuditEvent.object_type == "escalation",
                                                            AuditEvent.object_id == esc.id)).all()
        assert [(a.action, a.from_state, a.to_state) for a in audit] == [("escalation.settle", "open", "closed")]
        if actor is not None:
            assert audit[0].actor_id == actor.id


def test_bulk_moves_only_what_is_still_in_a_source_state(world):
    objects, _people = world
    escalation = objects["escalation"]
    moved = transitions.apply_bulk(Escalation, "settle", Escalation.id == escalation.id, actor=None, now=NOW,
                                   changes={"closed_at": NOW, "close_reason": "submitted"})
    assert moved == [escalation] and escalation.status == EscalationStatus.CLOSED
    assert transitions.apply_bulk(Escalation, "settle", Escalation.id == escalation.id, actor=None, now=NOW) == []
    assert _audit_rows(escalation) == 1
    with pytest.raises(TypeError):
        transitions.apply_bulk(Escalation, "close", Escalation.id == escalation.id, actor=None, now=NOW)


def test_effects_register_only_on_existing_transitions():
    with pytest.raises(KeyError):
        transitions.on("report", "publish")
