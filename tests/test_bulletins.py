"""情况通报: the spans it covers and the refusals, the office's editor (field errors, stale versions, who may),
publishing (frozen, numbered per plan and year, archived, circulated once and mailed once), the list for
everyone, the API, and the command line's JSON."""
from __future__ import annotations

import hashlib
import io
import json
from datetime import UTC, datetime

import pytest
import time_machine
from docx import Document
from sqlalchemy import func, select

from models import Bulletin, BulletinFile, Escalation, Notification, OutboxEmail, Role, User
from tests.conftest import FUSHUN, count_queries, import_text_plan, make_user
from tests.factories import liaison_of, published_fushun, report_for
from workflow.auth.tokens import create_token
from workflow.bulletins import services
from workflow.bulletins.documents import overall_sentence
from workflow.domain import Conflict, PermissionDenied, ValidationFailed
from workflow.extensions import db
from workflow.mail.digests import build_digests
from workflow.reports.services import ReportInput, save_report

HOUSING, TRANSPORT = "市住房城乡建设局", "市交通运输局"
NOW = datetime(2026, 4, 20, 2, tzinfo=UTC)        # after the 2026Q1 deadline (04-08)
LATER = datetime(2026, 4, 27, 2, tzinfo=UTC)


def _submit(plan, code: str, dept: str, when: datetime):
    report = report_for(plan, code, "2026Q1", dept)
    save_report(report, ReportInput(narrative="进展", percent_complete="30", progress="behind",
                                    values={t.id: "1" for t in report.task.targets}),
                actor=liaison_of(dept), now=when, version=report.version, submit=True)
    return report


@pytest.fixture
def world(app):
    """The bundled plan in 2026Q1: housing files 3.4.3 late (says 滞后), transport leaves 3.5.2 unfiled and
    escalated; a leader and two department heads with email addresses."""
    plan, office = published_fushun()
    _submit(plan, "3.4.3", HOUSING, datetime(2026, 4, 10, 2, tzinfo=UTC))
    missing = report_for(plan, "3.5.2", "2026Q1", TRANSPORT)
    db.session.add(Escalation(key="esc:bulletin", plan_id=plan.id, task_id=missing.task_id,
                              period_id=missing.period_id, department_id=missing.department_id, cause="overdue",
                              days_late=5, opened_at=datetime(2026, 4, 16, 2, tzinfo=UTC), report_id=missing.id))
    readers = [make_user(Role.LEADER, username="leader1"), make_user(Role.DEPT_HEAD, HOUSING, "head_housing"),
               make_user(Role.DEPT_HEAD, TRANSPORT, "head_transport")]
    for user in readers:
        user.email = f"{user.username}@example.gov.cn"
    make_user(Role.LIAISON, HOUSING).email = "liaison@example.gov.cn"   # liaisons are not on the list
    db.session.commit()
    return plan, office, readers


# -- spans and refusals --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("key", "kind", "label", "periods"), [
    ("2026Q1", "quarterly", "2026年第一季度", ["2026Q1"]), ("2026-03", "monthly", "2026年3月", ["2026Q1"]),
    ("2026H1", "half-yearly", "2026年上半年", ["2026Q1", "2026Q2"]),
])
def test_a_bulletin_covers_the_periods_that_end_in_its_span(world, key, kind, label, periods):
    plan, office, _readers = world
    bulletin = services.open_bulletin(plan, key, actor=office, now=NOW)
    assert (bulletin.kind, bulletin.year, bulletin.status, bulletin.number) == (kind, 2026, "draft", None)
    data = services.compute(bulletin, now=NOW)
    assert data["period"]["label"] == label and [p["key"] for p in data["periods"]] == periods
    assert services.open_bulletin(plan, key, actor=office, now=LATER).id == bulletin.id   # opened once


@pytest.mark.parametrize(("key", "message"), [
    ("2026Q5", "无法识别"), ("Q3", "无法识别"), ("", "无法识别"),
    ("2026Q3", "尚未开始"),                      # 2026Q3 begins on 07-01
    ("2026-04", "没有结束的报送周期"),            # no quarter ends in April
])
def test_a_span_that_cannot_be_reported_is_a_field_error(world, key, message):
    plan, office, _readers = world
    with pytest.raises(ValidationFailed) as refused:
        services.open_bulletin(plan, key, actor=office, now=NOW)
    assert message in refused.value.errors["period"]
    assert db.session.scalar(select(func.count(Bulletin.id))) == 0


def test_only_the_office_opens_one_and_only_on_a_published_plan(world):
    plan, _office, readers = world
    with pytest.raises(PermissionDenied):
        services.open_bulletin(plan, "2026Q1", actor=readers[0], now=NOW)
    draft = import_text_plan(FUSHUN.read_text(encoding="utf-8").replace("抚顺市", "测试市", 1), "other.txt")
    with pytest.raises(ValidationFailed) as refused:
        services.open_bulletin(draft, "2026Q1", actor=None, now=NOW)
    assert "尚未发布" in refused.value.errors["plan"]


# -- what it says ------------------------------------------------------------------------------------------

def test_it_names_the_late_departments_the_tasks_behind_and_the_open_escalations(world):
    plan, office, _readers = world
    data = services.compute(services.open_bulletin(plan, "2026Q1", actor=office, now=NOW), now=NOW)
    late = {d["name"]: d for d in data["late_departments"]}
    assert late[HOUSING]["late"] == 1 and {"code": "3.4.3", "state": "late", "days_late": 2} in late[HOUSING]["tasks"]
    assert late[TRANSPORT]["missing"] >= 1
    behind = {(b["code"], b["lead"]): b["situation"] for b in data["behind"]}
    assert behind[("3.4.3", HOUSING)] == "自评进展滞后" and "逾期未报送" in behind[("3.5.2", TRANSPORT)]
    [escalation] = data["escalations"]
    assert (escalation["department"], escalation["task"], escalation["what"]) == (TRANSPORT, "3.5.2", "报告")
    assert escalation["days_late"] == 8   # as late as today, not the figure the pass stored
    overall = data["overall"]
    assert overall["due"] == overall["reports"] and overall["late"] == 1
    assert overall["on_time"] + overall["late"] + overall["missing"] == overall["due"]
    assert sum(a["reports"] for a in data["areas"]) == sum(d["reports"] for d in data["departments"]) \
        == overall["reports"]


# -- the editor ----------------------------------------------------------------------------------------------

def test_the_office_edits_the_two_paragraphs(world, client, login_as):
    plan, _office, _readers = world
    with time_machine.travel(NOW, tick=False):
        login_as(Role.OFFICE)
        response = client.post("/bulletins/", data={"plan": plan.id, "period": "2026Q1"})
        assert response.status_code == 302
        bulletin = db.session.scalar(select(Bulletin))
        url = f"/bulletins/{bulletin.id}"
        page = client.get(url).get_data(as_text=True)
        assert "情况通报" in page and "（草稿，发布时编号）" in page and 'name="lead"' in page and TRANSPORT in page

        saved = client.post(url, data={"lead": "一季度通报导语", "next_steps": "下一步要求", "version": bulletin.version})
        assert saved.status_code == 302
        db.session.refresh(bulletin)
        assert (bulletin.lead, bulletin.next_steps, bulletin.version) == ("一季度通报导语", "下一步要求", 2)
        assert "一季度通报导语" in client.get(url).get_data(as_text=True)

        empty = client.post(url, data={"lead": "", "next_steps": "只写了下一步", "version": bulletin.version})
        assert empty.status_code == 422 and "请填写这一段" in empty.get_data(as_text=True)
        assert "只写了下一步</textarea>" in empty.get_data(as_text=True)
        stale = client.post(url, data={"lead": "另一版导语", "next_steps": "另一版", "version": 1})
        assert stale.status_code == 409 and "另一版导语</textarea>" in stale.get_data(as_text=True)
        long = client.post(url, data={"lead": "长" * 4001, "next_steps": "x", "version": bulletin.version})
        assert long.status_code == 422 and "不能超过 4000 字" in long.get_data(as_text=True)

        bad = client.post("/bulletins/", data={"plan": plan.id, "period": "2026Q4"})
        assert bad.status_code == 422 and "尚未开始" in bad.get_data(as_text=True)
        assert 'value="2026Q4"' in bad.get_data(as_text=True)
    db.session.refresh(bulletin)
    assert bulletin.lead == "一季度通报导语"


def test_leaders_read_drafts_and_departments_do_not(world, client, login_as):
    plan, office, _readers = world
    bulletin = services.open_bulletin(plan, "2026Q1", actor=office, now=NOW)
    url = f"/bulletins/{bulletin.id}"
    with time_machine.travel(NOW, tick=False):
        login_as(Role.LEADER)
        page = client.get(url)
        assert page.status_code == 200 and 'name="lead"' not in page.get_data(as_text=True)
        assert client.post(url, data={"lead": "x", "next_steps": "y"}).status_code == 403
        assert client.get(url + "/file.docx").status_code == 200
        assert "（未编号）" in client.get("/bulletins/").get_data(as_text=True)
        login_as(Role.LIAISON, department=HOUSING)
        assert client.get(url).status_code == 403 and client.get(url + "/file.pdf").status_code == 403
        assert "（未编号）" not in client.get("/bulletins/").get_data(as_text=True)


# -- publishing ----------------------------------------------------------------------------------------------

def test_publishing_freezes_numbers_archives_and_circulates_once(world, client, login_as, storage_backend):
    plan, office, readers = world
    bulletin = services.open_bulletin(plan, "2026Q1", actor=office, now=NOW)
    services.publish(bulletin, actor=office, now=NOW)
    assert (bulletin.status, bulletin.number_label) == ("published", "2026年第1期")
    assert bulletin.data["number"] == "2026年第1期" and TRANSPORT in services.late_department_names(bulletin.data)
    files = {f.kind: f for f in db.session.scalars(select(BulletinFile))}
    assert set(files) == {"pdf", "docx"} and all(len(f.sha256) == 64 and f.size > 0 for f in files.values())
    assert files["pdf"].pages >= 1 and files["pdf"].filename.startswith("情况通报-2026年第1期-")

    with pytest.raises(Conflict, match="不能重复发布"):
        services.publish(bulletin, actor=office, now=LATER)
    with pytest.raises(Conflict, match="不能再修改"):
        services.update_text(bulletin, lead="改", next_steps="改", actor=office, now=LATER)

    notes = db.session.scalars(select(Notification).where(Notification.kind == "bulletin")).all()
    recipients = set(db.session.scalars(select(User.id).where(User.role.in_([Role.LEADER, Role.DEPT_HEAD]))))
    assert sorted(n.user_id for n in notes) == sorted(recipients) and {r.id for r in readers} <= recipients
    assert all(n.link == f"/bulletins/{bulletin.id}" and "2026年第1期" in n.subject for n in notes)
    assert build_digests(now=NOW) == len(readers) and build_digests(now=LATER) == 0   # mailed once
    mailed = {e.to_address for e in db.session.scalars(select(OutboxEmail))}
    assert mailed == {r.email for r in readers}

    # Frozen: a later submission changes neither what it says nor its files.
    _submit(plan, "3.5.2", TRANSPORT, LATER)
    assert TRANSPORT in services.late_department_names(services.content(bulletin, now=LATER))
    with time_machine.travel(LATER, tick=False):
        login_as(Role.LIAISON, department=HOUSING)
        for kind, row in files.items():
            download = client.get(f"/bulletins/{bulletin.id}/file.{kind}")
            assert download.status_code == 200
            assert hashlib.sha256(download.data).hexdigest() == row.sha256
        text = "\n".join(p.text for p in Document(io.BytesIO(client.get(f"/bulletins/{bulletin.id}/file.docx").data))
                         .paragraphs)
        assert "2026年第1期" in text and TRANSPORT in text
        listed = client.get("/bulletins/").get_data(as_text=True)
        assert "2026年第1期" in listed

    second = services.open_bulletin(plan, "2026H1", actor=office, now=datetime(2026, 7, 20, 2, tzinfo=UTC))
    services.publish(second, actor=office, now=datetime(2026, 7, 20, 2, tzinfo=UTC))
    assert second.number_label == "2026年第2期"   # numbered per plan and year


def test_a_stale_publish_is_refused(world):
    plan, office, _readers = world
    bulletin = services.open_bulletin(plan, "2026Q1", actor=office, now=NOW)
    services.update_text(bulletin, lead="新导语", next_steps="新要求", actor=office, now=NOW, version=1)
    with pytest.raises(Conflict):
        services.publish(bulletin, actor=office, now=NOW, version=1)
    assert bulletin.status == "draft" and db.session.scalar(select(func.count(BulletinFile.id))) == 0


# -- the API and the command line ----------------------------------------------------------------------------

def test_the_api_lists_published_bulletins_with_their_files(world, client, storage_backend):
    plan, office, _readers = world
    draft = services.open_bulletin(plan, "2026H1", actor=office, now=NOW)
    published = services.open_bulletin(plan, "2026Q1", actor=office, now=NOW)
    services.publish(published, actor=office, now=NOW)
    liaison = liaison_of(HOUSING)
    headers = {"Authorization": f"Bearer {create_token(liaison, name='t', now=NOW, actor=liaison)[1]}"}
    listed = client.get(f"/api/v1/bulletins?plan_id={plan.id}", headers=headers).get_json()
    assert listed["total"] == 1 and listed["items"][0]["number"] == "2026年第1期"
    item = listed["items"][0]
    assert item["period"] == "2026Q1" and item["kind"] == "quarterly" and TRANSPORT in item["late_departments"]
    assert item["open_escalations"][0]["task"] == "3.5.2"
    detail = client.get(f"/api/v1/bulletins/{published.id}", headers=headers).get_json()
    assert detail["overall"]["late"] == 1 and detail["as_of"] == "2026-04-20" and detail["lead"]
    by_kind = {f["kind"]: f for f in detail["files"]}
    pdf = client.get(by_kind["pdf"]["url"], headers=headers)
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    assert hashlib.sha256(pdf.data).hexdigest() == by_kind["pdf"]["sha256"]
    assert client.get(f"/api/v1/bulletins/{draft.id}", headers=headers).status_code == 404
    assert client.get(f"/api/v1/bulletins/{published.id}/file?kind=xls", headers=headers).status_code == 400


def test_the_command_line_generates_and_publishes_once(world, runner, tmp_path):
    plan, _office, _readers = world

    def generate(*extra, out="b.docx"):
        return runner.invoke(args=["bulletin", "generate", "--plan", str(plan.id), "--period", "2026Q1",
                                   "-o", str(tmp_path / out), "--now", "2026-04-20T10:00+08:00", *extra])

    draft = generate()
    assert draft.exit_code == 0, draft.output
    info = json.loads(draft.stdout)
    assert info["published"] is False and info["number"] is None and TRANSPORT in info["late_departments"]
    assert info["open_escalations"][0]["department"] == TRANSPORT and info["path"].endswith("b.docx")
    assert "草稿" in Document(str(tmp_path / "b.docx")).sections[0].header.paragraphs[0].text

    published = generate("--publish", out="b.pdf")
    assert published.exit_code == 0, published.output
    info = json.loads(published.stdout)
    assert info["published"] is True and info["number"] == "2026年第1期" and info["pages"] >= 1
    again = generate("--publish", out="c.pdf")
    assert again.exit_code == 1 and "不能重复发布" in again.stderr and not (tmp_path / "c.pdf").exists()
    for args, message in ((["--period", "2026Q3"], "尚未开始"), (["--period", "2026Q9"], "无法识别")):
        result = runner.invoke(args=["bulletin", "generate", "--plan", str(plan.id), *args, "-o",
                                     str(tmp_path / "x.pdf"), "--now", "2026-04-20T10:00+08:00"])
        assert result.exit_code == 1 and message in result.stderr and not (tmp_path / "x.pdf").exists()
    wrong = runner.invoke(args=["bulletin", "generate", "--plan", str(plan.id), "--period", "2026Q1",
                                "-o", str(tmp_path / "x.xlsx")])
    assert wrong.exit_code == 1 and ".pdf" in wrong.stderr


def test_the_editor_runs_a_constant_number_of_queries(world, client, login_as):
    """A quarter's draft and a half-year's (twice the periods, more reports and escalations) cost the same."""
    plan, office, _readers = world
    when = datetime(2026, 7, 20, 2, tzinfo=UTC)
    with time_machine.travel(when, tick=False):
        login_as(Role.OFFICE)
        urls = [f"/bulletins/{services.open_bulletin(plan, key, actor=office, now=when).id}"
                for key in ("2026Q1", "2026H1")]
        client.get(urls[0])   # the first page after logging in also shows (and drops) the login's flash
        counts = []
        for url in urls:
            db.session.expunge_all()   # as in a request of its own: nothing already loaded
            counts.append(count_queries(lambda url=url: client.get(url)))
    assert counts[0] == counts[1], counts


def test_the_list_runs_a_constant_number_of_queries(world, client, login_as):
    plan, office, _readers = world
    login_as(Role.LIAISON, department=HOUSING)
    counts = []
    for key in ("2026Q1", "2026H1"):
        services.publish(services.open_bulletin(plan, key, actor=office, now=datetime(2026, 7, 20, 2, tzinfo=UTC)),
                         actor=office, now=datetime(2026, 7, 20, 2, tzinfo=UTC))
        counts.append(count_queries(lambda: client.get("/bulletins/")))
    assert counts[0] == counts[1], counts


def test_it_lists_the_extensions_granted_and_the_tasks_closed_in_both_documents(world, tmp_path):
    """延期批准 and 办结销号: an extension approved on a 2026Q1 report and a task closed in the quarter's bulletin,
    the same facts in the PDF (pdftotext) and the .docx (python-docx); a refused extension is not listed."""
    import subprocess

    from workflow.bulletins import documents
    from workflow.extension_requests import services as extensions
    from workflow.tasks import completion

    plan, office, _readers = world
    asked = datetime(2026, 4, 3, 2, tzinfo=UTC)
    report = report_for(plan, "3.1.1", "2026Q1")
    lead = liaison_of(report.department.name)
    granted = extensions.request_extension(report, reason="等待统计年鉴", new_deadline=datetime(2026, 4, 24).date(),
                                           actor=lead, now=asked)
    extensions.approve_extension(granted, actor=office, now=asked)
    other = report_for(plan, "3.1.2", "2026Q1")
    refused = extensions.request_extension(other, reason="人手不足", new_deadline=datetime(2026, 4, 30).date(),
                                           actor=liaison_of(other.department.name), now=asked)
    extensions.refuse_extension(refused, "理由不充分", actor=office, now=asked)
    task = report_for(plan, "3.4.3", "2026Q1").task
    filed = completion.file_completion(task, summary="清洁取暖改造全部完成", actor=liaison_of(HOUSING),
                                       now=datetime(2026, 4, 15, 2, tzinfo=UTC))
    completion.confirm_completion(filed, actor=office, now=datetime(2026, 4, 16, 2, tzinfo=UTC))

    data = services.compute(services.open_bulletin(plan, "2026Q1", actor=office, now=NOW), now=NOW)
    assert [(e["task"], e["to"]) for e in data["extensions"]] == [("3.1.1", "2026-04-24")]
    assert [(c["task"], c["closed"], c["summary"]) for c in data["closed"]] == [
        ("3.4.3", "2026-04-16", "清洁取暖改造全部完成")]
    pdf, _pages = documents.pdf(data)
    (tmp_path / "b.pdf").write_bytes(pdf)
    pdf_text = "".join(subprocess.run(["pdftotext", str(tmp_path / "b.pdf"), "-"], capture_output=True, text=True,
                                      check=True).stdout.split())
    docx_bytes, _ = documents.docx(data, moment=NOW)
    doc = Document(io.BytesIO(docx_bytes))
    docx_text = "".join("".join(p.text for p in doc.paragraphs).split()) + "".join(
        cell.text for table in doc.tables for row in table.rows for cell in row.cells)
    for text in (pdf_text, docx_text):
        assert "七、延期批准" in text and "八、办结销号" in text and "九、下一步工作" in text
        assert "2026-04-24" in text and "等待统计年鉴" in text and "人手不足" not in text
        assert "清洁取暖改造全部完成" in text and "2026-04-16" in text
    empty = services.compute(services.open_bulletin(plan, "2026H1", actor=office, now=NOW), now=NOW)
    assert documents.closed_sentence({**empty, "closed": []}) == "本期没有办结销号的任务。"


def test_the_overall_sentence_names_reports_withdrawn_apart_from_those_owed():
    overall = {"due": 10, "on_time": 8, "on_time_rate": 80.0, "late": 1, "missing": 1, "pending": 0,
               "returned": 2, "approved": 7}
    data = {"as_of": "2026-04-20", "period": {"label": "2026年第一季度"}, "escalations": [], "overall": overall}
    assert "撤销" not in overall_sentence(data)       # old snapshots have no count of withdrawn reports
    text = overall_sentence({**data, "overall": {**overall, "withdrawn": 3}})
    assert "应报送报告 10 份" in text and "另有 3 份因任务办结撤销，不计应报" in text
