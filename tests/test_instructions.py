"""Leaders' instructions (领导批示): writing one (a leader, or the office on a leader's behalf), the department's answer,
the leader closing it, every refusal with nothing half-written, the reminder ladder for one left unanswered, and
the pages (the list, one instruction, the panels on the report and escalation pages)."""
from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from models import (
    AuditEvent,
    Escalation,
    Instruction,
    InstructionStatus,
    Notification,
    Role,
)
from tests.conftest import PASSWORD, count_queries, import_text_plan, make_user
from tests.factories import liaison_of, published_fushun, report_for
from tests.test_reads_write_nothing import writes_during
from tests.test_reminders import at_nine
from workflow.domain import Conflict, PermissionDenied, ValidationFailed
from workflow.extensions import db
from workflow.instructions import services
from workflow.scheduling.reminders import run_reminders

HOUSING = "市住房城乡建设局"   # leads 3.4.3
NDRC = "市发展改革委"          # co-operates on 3.4.3, leads 3.1.1
WRITTEN = datetime(2026, 4, 8, 2, tzinfo=UTC)          # Wednesday 8 April, 10:00 in Shanghai
DUE = date(2026, 4, 15)                                 # a week later, a Wednesday
TEXT = "请市住建局本月底前拿出清洁取暖整改方案，报我阅。"


@pytest.fixture
def world(app):
    plan, office = published_fushun()
    leader = make_user(Role.LEADER, username="mayor")
    people = {"office": office, "leader": leader, "other_leader": make_user(Role.LEADER, username="deputy"),
              "liaison": liaison_of(HOUSING), "head": make_user(Role.DEPT_HEAD, HOUSING, username="housing-head"),
              "ndrc_liaison": liaison_of(NDRC), "ndrc_head": make_user(Role.DEPT_HEAD, NDRC, username="ndrc-head"),
              "admin": make_user(Role.ADMIN, username="root")}
    return {"plan": plan, "report": report_for(plan, "3.4.3"), **people}


def write(world, *, actor=None, due=DUE, department=HOUSING, text=TEXT, **subject) -> Instruction:
    report = world["report"]
    dept = next(d for d in services.subject_for(report_id=report.id).departments if d.name == department)
    subject = services.subject_for(**subject) if subject else services.subject_for(report_id=report.id)
    actor = actor or world["leader"]
    return services.create_instruction(subject, text=text, due_date=due, department_id=dept.id, actor=actor,
                                       now=WRITTEN, leader_id=world["leader"].id if actor.role == Role.OFFICE else None)


def rows(model, *criteria) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*criteria))


def notes(kind_prefix: str) -> list[Notification]:
    return list(db.session.scalars(select(Notification).where(Notification.kind.startswith(kind_prefix, autoescape=True))
                                   .order_by(Notification.id)))


# -- the services, transition by transition -----------------------------------------------------------------

def test_a_leader_writes_an_instruction_on_a_report(world):
    instruction = write(world)
    assert instruction.status == InstructionStatus.OPEN and instruction.version == 1
    assert (instruction.leader, instruction.entered_by) == (world["leader"], world["leader"])
    assert instruction.report_id == world["report"].id and instruction.task_id == world["report"].task_id
    assert instruction.subject_kind == "report" and instruction.department.name == HOUSING
    audit = db.session.scalars(select(AuditEvent).where(AuditEvent.object_type == "instruction")).all()
    assert [(a.action, a.to_state, a.actor_id, a.comment) for a in audit] == [
        ("instruction.create", "open", world["leader"].id, TEXT)]
    sent = notes("instruction")
    assert {n.user for n in sent} == {world["liaison"], world["head"]}   # the department, liaison and head
    assert {n.key for n in sent} == {f"instruction:i{instruction.id}:u{u.id}" for u in (world["liaison"], world["head"])}
    assert all(n.link == f"/instructions/{instruction.id}" and n.data["deadline"] == "2026-04-15" for n in sent)
    assert sent[0].subject.startswith("【领导批示】") and TEXT[:20] in sent[0].subject


def test_the_office_records_a_leaders_written_instruction(world):
    instruction = write(world, actor=world["office"], department=NDRC)
    assert instruction.leader == world["leader"] and instruction.entered_by == world["office"]
    assert instruction.department.name == NDRC    # any department with a part in the task
    with pytest.raises(ValidationFailed) as refused:   # the office must say whose instruction it is
        services.create_instruction(services.subject_for(report_id=world["report"].id), text=TEXT, due_date=DUE,
                                    department_id=instruction.department_id, actor=world["office"], now=WRITTEN)
    assert set(refused.value.errors) == {"leader"}
    with pytest.raises(ValidationFailed):              # and it must be a leader's
        services.create_instruction(services.subject_for(report_id=world["report"].id), text=TEXT, due_date=DUE,
                                    department_id=instruction.department_id, actor=world["office"], now=WRITTEN,
                                    leader_id=world["office"].id)


def test_instructions_on_a_task_and_on_an_escalation(world):
    task = world["report"].task
    on_task = write(world, task_id=task.id)
    assert on_task.subject_kind == "task" and on_task.report_id is None
    escalation = Escalation(key="esc:t", plan_id=task.plan_id, task_id=task.id, period_id=world["report"].period_id,
                            department_id=world["report"].department_id, report_id=world["report"].id,
                            cause="overdue", days_late=5, opened_at=WRITTEN)
    db.session.add(escalation)
    db.session.commit()
    on_escalation = write(world, escalation_id=escalation.id)
    assert on_escalation.subject_kind == "escalation" and on_escalation.report_id == world["report"].id
    assert services.instructions_on(user=world["leader"], escalation=escalation) == [on_escalation]
    assert services.instructions_on(user=world["leader"], task=task) == [on_task, on_escalation]
    # the report's panel lists what was written on it and on its escalations
    assert services.instructions_on(user=world["leader"], report=world["report"]) == [on_escalation]


@pytest.mark.parametrize(("change", "field"), [
    ({"due": None}, "due_date"),                                      # an instruction without a due date
    ({"due": date(2026, 4, 7)}, "due_date"),                          # before today
    ({"due": date(2027, 4, 10)}, "due_date"),                         # more than a year ahead
    ({"text": "   "}, "text"),
    ({"text": "批" * (services.TEXT_LIMIT + 1)}, "text"),
])
def test_bad_input_is_a_field_error_and_writes_nothing(world, change, field):
    with pytest.raises(ValidationFailed) as refused:
        write(world, **change)
    assert set(refused.value.errors) == {field}
    assert rows(Instruction) == rows(AuditEvent, AuditEvent.object_type == "instruction") == 0
    assert notes("instruction") == []


def test_a_department_outside_the_task_or_a_role_that_may_not_write(world):
    outsider = import_text_plan("另一方案\n一、任务\n1.推进某项工作。（市外事办负责）\n", "other.txt").tasks[0]
    with pytest.raises(ValidationFailed) as refused:
        services.create_instruction(services.subject_for(report_id=world["report"].id), text=TEXT, due_date=DUE,
                                    department_id=outsider.leads[0].id, actor=world["leader"], now=WRITTEN)
    assert set(refused.value.errors) == {"department"}
    with pytest.raises(Conflict, match="尚未发布"):   # a plan not yet published has nobody to answer
        services.create_instruction(services.subject_for(task_id=outsider.id), text=TEXT, due_date=DUE,
                                    department_id=outsider.leads[0].id, actor=world["leader"], now=WRITTEN)
    for role in ("liaison", "head", "admin"):
        with pytest.raises(PermissionDenied):
            write(world, actor=world[role])
    assert rows(Instruction) == 0


def test_the_department_answers_and_the_leader_is_told(world):
    instruction = write(world, actor=world["office"])
    for who in ("ndrc_liaison", "ndrc_head", "office", "leader"):   # someone else's instruction
        with pytest.raises(PermissionDenied):
            services.answer_instruction(instruction, "已办", actor=world[who], now=WRITTEN)
    with pytest.raises(ValidationFailed) as refused:
        services.answer_instruction(instruction, "  ", actor=world["liaison"], now=WRITTEN)
    assert set(refused.value.errors) == {"answer"}
    with pytest.raises(Conflict) as stale:   # the form was rendered before someone else's change
        services.answer_instruction(instruction, "整改方案已报", actor=world["liaison"], now=WRITTEN, version=7)
    assert stale.value.extra["current_version"] == 1
    assert instruction.status == InstructionStatus.OPEN and instruction.answer == ""

    answered_at = WRITTEN + timedelta(days=2)
    services.answer_instruction(instruction, "已制定整改方案，4月底前完成。", actor=world["head"], now=answered_at,
                                version=1)
    db.session.expire_all()
    instruction = db.session.get(Instruction, instruction.id)
    assert (instruction.status, instruction.answer, instruction.answered_by, instruction.answered_at) == (
        InstructionStatus.ANSWERED, "已制定整改方案，4月底前完成。", world["head"], answered_at)
    assert instruction.version == 2
    back = notes("instruction.answered")
    assert {n.user for n in back} == {world["leader"], world["office"]}   # the leader, and who recorded it
    assert "已报送办理情况" in back[0].subject
    with pytest.raises(Conflict, match="已反馈"):
        services.answer_instruction(instruction, "再报一次", actor=world["liaison"], now=answered_at)


def test_the_leader_closes_an_answered_instruction(world):
    instruction = write(world)
    with pytest.raises(Conflict, match="待办理"):   # nothing to read yet
        services.close_instruction(instruction, actor=world["leader"], now=WRITTEN)
    services.answer_instruction(instruction, "已办理", actor=world["liaison"], now=WRITTEN)
    for who in ("other_leader", "liaison", "head", "admin"):
        with pytest.raises(PermissionDenied):
            services.close_instruction(instruction, actor=world[who], now=WRITTEN)
    services.close_instruction(instruction, "同意，继续跟进。", actor=world["leader"], now=WRITTEN)
    assert instruction.status == InstructionStatus.CLOSED and instruction.closed_by == world["leader"]
    assert instruction.close_comment == "同意，继续跟进。"
    assert {n.user for n in notes("instruction.closed")} == {world["liaison"], world["head"]}
    with pytest.raises(Conflict, match="已办结"):
        services.close_instruction(instruction, actor=world["office"], now=WRITTEN)
    trail = db.session.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "instruction")
                               .order_by(AuditEvent.id)).all()
    assert trail == ["instruction.create", "instruction.answer", "instruction.close"]
    # the office may close one too (a leader away, a paper instruction)
    other = write(world, actor=world["office"])
    services.answer_instruction(other, "已办理", actor=world["liaison"], now=WRITTEN)
    services.close_instruction(other, actor=world["office"], now=WRITTEN)
    assert other.status == InstructionStatus.CLOSED


# -- the reminder ladder --------------------------------------------------------------------------------------

def _instruction_notes(instruction: Instruction) -> list[tuple[str, int, str]]:
    return sorted((n.kind, n.level, n.user.username) for n in db.session.scalars(
        select(Notification).where(Notification.kind.startswith("instruction_", autoescape=True),
                                   Notification.link == f"/instructions/{instruction.id}")))


def test_an_unanswered_instruction_climbs_the_reminder_ladder(world):
    left = write(world)
    answered = write(world, department=NDRC)
    services.answer_instruction(answered, "已办理", actor=world["ndrc_liaison"], now=WRITTEN)
    office = world["office"].username
    liaison, head = world["liaison"].username, world["head"].username
    expected = []
    for day, new in ((date(2026, 4, 13), [("instruction_due_soon", 0, liaison)]),   # 3 working days before
                     (DUE, [("instruction_due_today", 0, liaison)]),
                     (date(2026, 4, 16), [("instruction_overdue", 1, liaison)]),       # 1 working day late
                     (date(2026, 4, 20), [("instruction_overdue", 2, head), ("instruction_overdue", 2, liaison)]),
                     (date(2026, 4, 22), [("instruction_overdue", 3, head), ("instruction_overdue", 3, office)])):
        result = run_reminders(now=at_nine(day))
        expected = sorted(expected + new)
        assert _instruction_notes(left) == expected, day
        queued = [q for q in result["queued"] if q["kind"].startswith("instruction_")]
        assert sorted((q["kind"], q["level"], q["recipient"]) for q in queued) == sorted(new)
        assert all(q["department"] == HOUSING and q["task"] == "3.4.3" and q["period"] == "2026Q1" for q in queued)
        assert run_reminders(now=at_nine(day))["queued"] == []   # a second pass queues nothing
    assert _instruction_notes(answered) == []                    # answered: nothing climbs
    title = next(n.subject for n in notes("instruction_overdue") if n.level == 3)
    assert title.startswith("【督办】市住房城乡建设局 3.4.3") and "逾期未报送办理情况，已逾期 5 个工作日" in title
    services.answer_instruction(left, "已办理", actor=world["liaison"], now=at_nine(date(2026, 4, 23)))
    assert [q for q in run_reminders(now=at_nine(date(2026, 4, 24)))["queued"]
            if q["kind"].startswith("instruction_")] == []


# -- the web -------------------------------------------------------------------------------------------------

def login(client, user) -> None:
    client.post("/logout")
    assert client.post("/login", data={"username": user.username, "password": PASSWORD}).status_code == 302


def test_web_scenario_an_instruction_answered_and_one_left_to_climb(client, world):
    report = world["report"]
    with time_machine.travel(WRITTEN, tick=False):
        login(client, world["leader"])
        page = client.get(f"/reports/{report.id}").get_data(as_text=True)
        assert 'id="instructions"' in page and f"/instructions/new?report={report.id}" in page
        form = client.get(f"/instructions/new?report={report.id}").get_data(as_text=True)
        assert 'name="leader"' not in form   # a leader writes as themself
        assert f'<option selected value="{report.department_id}">{HOUSING}</option>' in form
        # without a due date: a field error, what was typed kept, nothing written
        response = client.post(f"/instructions/new?report={report.id}",
                               data={"department": report.department_id, "due_date": "", "text": TEXT})
        assert response.status_code == 422
        html = response.get_data(as_text=True)
        assert "请填写办理期限" in html and TEXT in html and "is-invalid" in html
        response = client.post(f"/instructions/new?report={report.id}",
                               data={"department": report.department_id, "due_date": "2026-4-15x", "text": TEXT})
        assert response.status_code == 422 and "日期格式不对" in response.get_data(as_text=True)
        assert rows(Instruction) == 0
        response = client.post(f"/instructions/new?report={report.id}",
                               data={"department": report.department_id, "due_date": "2026-04-15", "text": TEXT})
        assert response.status_code == 302
        answered_id = int(response.location.rsplit("/", 1)[1])
        response = client.post(f"/instructions/new?report={report.id}",
                               data={"department": report.department_id, "due_date": "2026-04-15",
                                     "text": "请同步报送施工进度。"})
        left_id = int(response.location.rsplit("/", 1)[1])

        # the department sees it in its inbox and its list, and answers; another department may not
        login(client, world["ndrc_liaison"])
        assert client.get(f"/instructions/{answered_id}").status_code == 403
        assert client.post(f"/instructions/{answered_id}/answer", data={"answer": "x", "version": "1"}).status_code == 403
        assert TEXT[:10] not in client.get("/instructions/").get_data(as_text=True)
        login(client, world["liaison"])
        assert "【领导批示】" in client.get("/account/inbox").get_data(as_text=True)
        listing = client.get("/instructions/").get_data(as_text=True)
        assert TEXT[:10] in listing and "待办理" in listing
        page = client.get(f"/instructions/{answered_id}").get_data(as_text=True)
        assert 'name="answer"' in page and "写批示" not in page
        response = client.post(f"/instructions/{answered_id}/answer", data={"answer": "  ", "version": "1"})
        assert response.status_code == 422 and "请填写办理情况" in response.get_data(as_text=True)
        response = client.post(f"/instructions/{answered_id}/answer",
                               data={"answer": "已制定整改方案，4月底前完成。", "version": "1"})
        assert response.status_code == 302
        response = client.post(f"/instructions/{answered_id}/answer", data={"answer": "又一次", "version": "2"})
        assert response.status_code == 409 and "已反馈" in response.get_data(as_text=True)

        # back to the leader: the answer, and the close button
        login(client, world["leader"])
        assert "【批示反馈】" in client.get("/account/inbox").get_data(as_text=True)
        page = client.get(f"/instructions/{answered_id}").get_data(as_text=True)
        assert "已制定整改方案，4月底前完成。" in page and "已阅，办结" in page
        response = client.post(f"/instructions/{answered_id}/close", data={"comment": "同意。", "version": "2"})
        assert response.status_code == 302
        page = client.get(f"/instructions/{answered_id}").get_data(as_text=True)
        assert "已办结" in page and "同意。" in page and "已阅，办结" not in page

    # the other one is left unanswered: the reminder passes climb the ladder to the head and the office
    for day in (DUE, date(2026, 4, 16), date(2026, 4, 20), date(2026, 4, 22)):
        run_reminders(now=at_nine(day))
    with time_machine.travel(at_nine(date(2026, 4, 22)), tick=False):
        login(client, world["head"])
        assert "领导批示逾期未报送办理情况，已逾期 3 个工作日" in client.get("/account/inbox").get_data(as_text=True)
        login(client, world["office"])
        assert "领导批示逾期未报送办理情况，已逾期 5 个工作日" in client.get("/account/inbox").get_data(as_text=True)
        listing = client.get("/instructions/?tab=open").get_data(as_text=True)
        row = re.search(rf'<tr id="instruction-{left_id}">.*?</tr>', listing, re.S).group(0)
        assert "逾期 5 个工作日" in row and "待办理" in row
        assert f'id="instruction-{answered_id}"' not in listing
        assert "已办结" in client.get("/instructions/?tab=closed").get_data(as_text=True)


def test_the_office_writes_for_a_leader_and_errors_keep_what_was_typed(client, world):
    report = world["report"]
    with time_machine.travel(WRITTEN, tick=False):
        login(client, world["office"])
        form = client.get(f"/instructions/new?report={report.id}").get_data(as_text=True)
        assert 'name="leader"' in form and world["leader"].display in form
        response = client.post(f"/instructions/new?report={report.id}",
                               data={"leader": "", "department": "999999", "due_date": "2026-04-01", "text": TEXT})
        assert response.status_code == 422
        html = response.get_data(as_text=True)
        assert "请选择作出批示的领导" in html and "请选择承办单位" in html and "不能早于今天" in html
        assert TEXT in html and 'value="2026-04-01"' in html
        response = client.post(f"/instructions/new?report={report.id}",
                               data={"leader": world["leader"].id, "department": report.department_id,
                                     "due_date": "2026-04-15", "text": TEXT})
        assert response.status_code == 302
        page = client.get(response.location).get_data(as_text=True)
        assert f"{world['office'].display} 代录" in page
        for url in ("/instructions/new", "/instructions/new?report=abc", "/instructions/new?task=999999"):
            assert client.get(url).status_code == 404, url
        login(client, world["liaison"])
        assert client.get(f"/instructions/new?report={report.id}").status_code == 403


def test_the_list_runs_a_bounded_number_of_queries_and_reads_write_nothing(client, world):
    def add(n: int) -> None:
        for k in range(n):
            write(world, department=(HOUSING, NDRC)[k % 2], text=f"批示 {k}")

    with time_machine.travel(WRITTEN, tick=False):
        login(client, world["leader"])
        add(3)
        client.get("/instructions/")
        small = count_queries(lambda: client.get("/instructions/"))
        add(30)
        client.get("/instructions/")   # the writes expired the logged-in user: reload it outside the count
        large = count_queries(lambda: client.get("/instructions/"))
        assert large == small <= 20, (small, large)
        one = db.session.scalar(select(Instruction.id).order_by(Instruction.id))
        for url in ("/instructions/", "/instructions/?tab=open", f"/instructions/{one}",
                    f"/instructions/new?report={world['report'].id}", f"/reports/{world['report'].id}"):
            assert writes_during(lambda url=url: client.get(url)) == [], url
