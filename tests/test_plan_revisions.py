"""Revised plans on a published plan: upload → diff → confirm on the review page, and what confirming keeps,
versions, adds and closes (the service the page and `plan import --revises` share)."""
from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from html import unescape
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import func, select

from models import (
    AssignmentStatus,
    AuditEvent,
    Department,
    Notification,
    Period,
    Plan,
    PlanRevision,
    Report,
    Role,
    Task,
    TaskStatus,
    TaskVersion,
)
from tests.conftest import import_text_plan, make_department, make_user
from tests.factories import file_report, liaison_of, published_plan
from workflow.assignments.services import publish_plan
from workflow.domain import Conflict, ValidationFailed
from workflow.extensions import db
from workflow.plans.parsing import parse_plan_bytes
from workflow.plans.revisions import apply_revision
from workflow.plans.services import set_members, sha256_of
from workflow.scheduling.reminders import run_reminders

HERE = Path(__file__).parent / "plans" / "revisions"
REVISED_AT = datetime(2026, 5, 11, 2, tzinfo=UTC)     # 2026-05-11 10:00 in Shanghai, inside 2026Q2
KILN, STEEL = "推进工业炉窑清洁能源替代", "关停退出落后钢铁产能"


@pytest.fixture
def world(app):
    """The base plan published on 2026-04-01, the kiln task's 2026Q1 report filed and approved."""
    plan, office = published_plan(HERE / "base.txt", "base.txt")
    report = file_report(plan, office, "1.1.3", "市工业和信息化局", datetime(2026, 4, 7, 2, tzinfo=UTC),
                         {"工业炉窑": 60})
    return {"plan": plan, "office": office, "report": report}


def task_titled(plan_id: int, title: str) -> Task:
    return db.session.scalar(select(Task).where(Task.plan_id == plan_id, Task.title == title))


def revise(plan, name: str, *, actor=None, now=REVISED_AT, **kwargs):
    data = (HERE / name).read_bytes()
    return apply_revision(plan, parse_plan_bytes(data, name), source_filename=name, source_sha256=sha256_of(data),
                          actor=actor, now=now, base_revision=plan.revision_number, **kwargs)


def trail_of(task: Task) -> list[str]:
    return list(db.session.scalars(select(AuditEvent.action).where(
        AuditEvent.object_type == "task", AuditEvent.object_id == task.id).order_by(AuditEvent.id)))


def browser_form(html: str) -> dict[str, str]:
    """What a browser would post from the review page: every textarea and text input with its value."""
    form = {name: unescape(value) for name, value in re.findall(r'<textarea name="([^"]+)"[^>]*>([^<]*)</textarea>', html)}
    form.update(re.findall(r'<input name="(rename-\d+)" value="([^"]*)"', html))
    return form


def upload(client, name: str, revises: int):
    return client.post("/plans/upload", data={"file": (io.BytesIO((HERE / name).read_bytes()), name),
                                              "revises": str(revises)}, content_type="multipart/form-data")


def test_upload_shows_the_diff_and_confirming_applies_it(client, login_as, world):
    plan, report = world["plan"], world["report"]
    liaison_of("市生态环境局")          # leads the added measure: told about it
    kiln = task_titled(plan.id, KILN)
    kiln_trail = trail_of(kiln)
    with time_machine.travel(REVISED_AT, tick=False):
        login_as(Role.OFFICE)
        response = upload(client, "split-removed.txt", plan.id)
        assert response.status_code == 302, response.get_data(as_text=True)
        review_url = response.headers["Location"]
        html = client.get(review_url).get_data(as_text=True)
        assert "修订对比" in html and plan.title in html
        assert re.search(r"修改\s*1</span>", html) and re.search(r"新增\s*1</span>", html)
        assert re.search(r"撤销\s*1</span>", html) and re.search(r"未变\s*6</span>", html)
        removed = html[html.index('class="revision-removed"'):]
        assert STEEL in removed[:removed.index("</ul>")]
        assert "可能由原 2.3 拆分而来" in html
        assert "<ins>" in html and "<del>" in html              # the reworded title marked piece by piece
        assert "原 1.1.3" in html                               # the kiln task, now 1.1.2, is shown renumbered

        response = client.post(review_url, data=browser_form(html))
        assert response.status_code == 302, response.get_data(as_text=True)
        assert response.headers["Location"].endswith(f"/plans/{plan.id}")

    db.session.expire_all()
    (revision,) = db.session.scalars(select(PlanRevision)).all()
    assert (revision.plan_id, revision.number, revision.revised_at) == (plan.id, 1, REVISED_AT)
    assert revision.source_sha256 == sha256_of((HERE / "split-removed.txt").read_bytes())
    assert revision.revised_by.role == Role.OFFICE

    # unchanged: same row, renumbered; its report, values and trail untouched but for the renumbering
    kiln = db.session.get(Task, kiln.id)
    assert kiln.code == "1.1.2" and kiln.status == TaskStatus.OPEN
    report = db.session.get(Report, report.id)
    assert (report.task_id, report.status, [str(v.value) for v in report.values]) == (kiln.id, "approved", ["60.000000"])
    assert trail_of(kiln) == [*kiln_trail, "task.renumbered"]

    # removed: closed with the reason, kept
    steel = task_titled(plan.id, STEEL)
    assert steel.status == TaskStatus.CLOSED and steel.close_reason == "因方案修订（2026-05-11）撤销"
    assert steel.code == "1.1.1~1"        # its number went to another measure

    # changed: the old wording and departments kept as a version; 住建 no longer co-operates
    changed = task_titled(plan.id, "开展非道路移动机械编码登记")
    (version,) = changed.versions
    assert version.title == "加强非道路移动机械监管" and version.co == ["市住房和城乡建设局", "市交通运输局"]
    assert {"title", "text", "co"} <= set(version.changed)
    housing = next(a for a in changed.assignments if a.department.name == "市住房和城乡建设局")
    assert housing.status == AssignmentStatus.WITHDRAWN and housing not in changed.active_assignments

    # added: sent out as at publish, with the running period's report
    added = task_titled(plan.id, "划定非道路移动机械禁用区域")
    assert {a.status for a in added.assignments} == {AssignmentStatus.PENDING}
    q2 = db.session.scalar(select(Period).where(Period.plan_id == plan.id, Period.key == "2026Q2"))
    assert db.session.scalar(select(func.count()).select_from(Report).where(
        Report.task_id == added.id, Report.period_id == q2.id)) == 1
    assert db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.kind == "assignment.published", Notification.key.like("revise:%"))) >= 1

    with time_machine.travel(REVISED_AT, tick=False):
        page = client.get(f"/plans/{plan.id}").get_data(as_text=True)
    assert "修订记录" in page and "split-removed.txt" in page and "因方案修订（2026-05-11）撤销" in page


def test_renumbered_revision_keeps_every_task_and_report(world):
    plan = world["plan"]
    before = {t.id: t.title for t in plan.tasks}
    reports = db.session.execute(select(Report.id, Report.task_id, Report.status, Report.version)).all()
    revision, diff = revise(plan, "renumbered.txt")
    assert diff.counts == {"changed": 0, "added": 1, "removed": 0, "unchanged": len(before)}
    db.session.expire_all()
    after = {t.id: t for t in db.session.get(Plan, plan.id).tasks}
    assert all(after[i].title == title and after[i].status == TaskStatus.OPEN for i, title in before.items())
    assert db.session.execute(select(Report.id, Report.task_id, Report.status, Report.version)
                              .where(Report.id.in_([r.id for r in reports]))).all() == reports
    assert db.session.scalar(select(func.count(TaskVersion.id))) == 0
    assert [t.code for t in sorted(after.values(), key=lambda t: t.position)][:3] == ["1.1.1", "1.1.2", "1.1.3"]


def test_reworded_revision_versions_and_moves_departments(world):
    plan = world["plan"]
    machinery = task_titled(plan.id, "加强非道路移动机械监管")
    building = task_titled(plan.id, "推广绿色建筑")
    target_id = building.targets[0].id
    revise(plan, "reworded.txt")
    db.session.expire_all()
    roles = {a.department.name: (a.role, a.status) for a in machinery.assignments}
    assert roles == {"市交通运输局": ("lead", "pending"), "市生态环境局": ("co", "pending"),
                     "市住房和城乡建设局": ("co", "withdrawn")}
    assert [d.name for d in machinery.leads] == ["市交通运输局"]
    assert (building.targets[0].id, building.targets[0].number) == (target_id, 85)   # updated in place
    assert building.versions[0].targets[0]["value"] == 80
    lorries = task_titled(plan.id, "淘汰老旧柴油货车")
    assert lorries.due.isoformat() == "2027-12-31" and lorries.versions[0].due.isoformat() == "2027-06-30"
    finance = Department.lookup("市财政局")
    equipment = task_titled(plan.id, "培育环保装备制造业")
    assert finance in equipment.co
    assert "task.revised" in trail_of(equipment)


def test_a_removed_task_is_no_longer_reminded(world):
    plan = world["plan"]
    steel = task_titled(plan.id, STEEL)
    revise(plan, "split-removed.txt")
    run_reminders(now=datetime(2026, 7, 20, 1, tzinfo=UTC))     # 2026Q3 opened, 2026Q2 overdue
    owed = {f"/reports/{r}" for r in db.session.scalars(select(Report.id).where(Report.task_id == steel.id))}
    links = set(db.session.scalars(select(Notification.link)))
    assert links and not links & owed
    q3 = db.session.scalar(select(Period.id).where(Period.plan_id == plan.id, Period.key == "2026Q3"))
    assert db.session.scalar(select(func.count()).select_from(Report).where(
        Report.task_id == steel.id, Report.period_id == q3)) == 0


def test_a_revision_of_a_revision_diffs_against_the_plan_as_revised(world):
    plan = world["plan"]
    revise(plan, "split-removed.txt")
    _, diff = revise(plan, "reworded.txt", now=datetime(2026, 6, 1, 2, tzinfo=UTC))
    # the steel measure comes back (added: its task stays closed), the split half is dropped again
    assert [c.new.title for c in diff.of("added")] == [STEEL]
    assert [c.old.title for c in diff.of("removed")] == ["划定非道路移动机械禁用区域"]
    assert plan.revision_number == 2
    assert len([t for t in plan.tasks if t.title == STEEL]) == 2


def test_bad_revisions_write_nothing(world):
    plan = world["plan"]
    with pytest.raises(ValidationFailed) as unrelated:
        revise(plan, "unrelated.txt")
    assert "可能不是它的修订稿" in unrelated.value.errors["unrelated_ok"]
    revise(plan, "renumbered.txt")
    with pytest.raises(Conflict):          # reviewed against revision 0, but revision 1 landed meanwhile
        data = (HERE / "reworded.txt").read_bytes()
        apply_revision(plan, parse_plan_bytes(data, "r.txt"), source_filename="r.txt",
                       source_sha256=sha256_of(data), actor=None, now=REVISED_AT, base_revision=0)
    assert db.session.scalar(select(func.count(PlanRevision.id))) == 1


def test_upload_refuses_an_unpublished_plan_and_keeps_the_choice(client, login_as, app):
    draft_plan = Plan(title="草稿方案", source_filename="x.txt", source_sha256="0" * 64, created_at=REVISED_AT)
    db.session.add(draft_plan)
    db.session.commit()
    login_as(Role.OFFICE)
    response = upload(client, "base.txt", draft_plan.id)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f"方案 #{draft_plan.id} 尚未发布" in html and "is-invalid" in html
    assert db.session.scalar(select(func.count(PlanRevision.id))) == 0


def test_unrelated_upload_needs_the_tick(client, login_as, world):
    plan = world["plan"]
    with time_machine.travel(REVISED_AT, tick=False):
        login_as(Role.OFFICE)
        review_url = upload(client, "unrelated.txt", plan.id).headers["Location"]
        html = client.get(review_url).get_data(as_text=True)
        assert "可能不是它的修订稿" in html and 'name="unrelated_ok"' in html
        form = browser_form(html)
        form["co-1.2"] = "市教育局（我改的）"
        response = client.post(review_url, data=form)
        html = response.get_data(as_text=True)
        assert response.status_code == 200 and "is-invalid" in html
        assert "市教育局（我改的）" in html
        assert db.session.scalar(select(func.count(PlanRevision.id))) == 0
        response = client.post(review_url, data={**form, "unrelated_ok": "1"})
        assert response.status_code == 302, response.get_data(as_text=True)
    assert all(t.status == TaskStatus.CLOSED for t in plan.tasks if t.title in {STEEL, KILN})


def test_a_collective_is_compared_and_sent_out_as_its_members(app):
    """Published with 各区人民政府 linked to two districts: the revision naming the collective again is no change
    for the old measure, and its added measure goes to each district, as a publish would."""
    roads = "某市道路方案\n一、任务\n1.修建城市道路。（市交通运输局牵头，各区人民政府配合）\n"
    plan = import_text_plan(roads, "roads.txt")
    office = make_user(Role.OFFICE, username="office1")
    districts = [make_department(name, "county") for name in ("东湖区人民政府", "西山区人民政府")]
    set_members(Department.lookup("各区人民政府"), "东湖区人民政府、西山区人民政府", actor=office, now=REVISED_AT)
    publish_plan(plan, actor=office, now=datetime(2026, 4, 1, 1, tzinfo=UTC), first_period="2026Q1")
    revised = roads + "2.整治城市河道。（市水务局牵头，各区人民政府配合）\n"
    _, diff = apply_revision(plan, parse_plan_bytes(revised.encode(), "r.txt"), source_filename="r.txt",
                             source_sha256=sha256_of(revised.encode()), actor=office, now=REVISED_AT,
                             base_revision=0)
    assert diff.counts == {"changed": 0, "added": 1, "removed": 0, "unchanged": 1}
    rivers = task_titled(plan.id, "整治城市河道")
    assert {d.name for d in rivers.co} == {d.name for d in districts}
    assert all(a.status == AssignmentStatus.PENDING for a in rivers.assignments)
