"""The 督办通知单 as a document: numbered per year without gaps when its escalation opens (safe under concurrency),
dated and with its facts frozen, so printing it again gives the same document apart from the print stamp;
escalations from before numbering get theirs at the next pass; the department's 整改反馈 recorded against it."""
from __future__ import annotations

import re
import shutil
import subprocess
import threading
import time
from datetime import UTC, date, datetime

import pytest
import time_machine
from sqlalchemy import delete, select, update

from models import (
    AuditEvent,
    Escalation,
    Notice,
    NoticeStatus,
    Notification,
    NumberSeries,
    Report,
    Role,
    Task,
)
from tests.conftest import PASSWORD, make_user
from tests.factories import liaison_of, published_fushun, report_for
from tests.test_reads_write_nothing import writes_during
from workflow.domain import Conflict, PermissionDenied, ValidationFailed
from workflow.escalations import services
from workflow.escalations.notices import NOTICE_SERIES, take_number
from workflow.extensions import db
from workflow.reports.services import ReportInput, save_report
from workflow.review.services import return_report
from workflow.scheduling.reminders import run_reminders

PASS_AT = datetime(2026, 4, 20, 1, tzinfo=UTC)     # Monday 20 April, 09:00 in Shanghai: 8 working days late
LATER = datetime(2026, 5, 12, 1, tzinfo=UTC)       # three weeks on: more days late, things renamed
HOUSING = "市住房城乡建设局"
NDRC = "市发展改革委"
STAMP = re.compile(r'<div class="print-stamp">[^<]*</div>')


@pytest.fixture
def world(app):
    """The bundled plan published on 1 April, 3.4.3 returned on 8 April, one pass on 20 April opening the
    escalations; the wall clock at 20 April, 10:00 in Shanghai."""
    traveller = time_machine.travel(datetime(2026, 4, 20, 2, tzinfo=UTC), tick=False)
    traveller.start()
    plan, office = published_fushun()
    report = report_for(plan, "3.4.3")
    save_report(report, ReportInput(narrative="已完成年度清洁取暖改造", percent_complete=30, progress="on_track",
                                    values={t.id: "90" for t in report.task.targets}),
                actor=liaison_of(HOUSING), now=datetime(2026, 4, 7, 2, tzinfo=UTC), version=report.version, submit=True)
    return_report(report, actor=office, now=datetime(2026, 4, 8, 2, tzinfo=UTC), reason="缺少统计口径说明")
    result = run_reminders(now=PASS_AT)
    yield {"plan": plan, "office": office, "report": report, "result": result,
           "head": make_user(Role.DEPT_HEAD, HOUSING, username="housing-head")}
    traveller.stop()


def returned_escalation(world) -> Escalation:
    return db.session.scalar(select(Escalation).where(Escalation.report_id == world["report"].id,
                                                      Escalation.cause == "returned"))


def login(client, user) -> None:
    client.post("/logout")
    assert client.post("/login", data={"username": user.username, "password": PASSWORD}).status_code == 302


# -- numbering and freezing ------------------------------------------------------------------------------------

def test_an_escalation_opens_with_its_numbered_frozen_notice(world):
    opened = world["result"]["escalations_opened"]
    escalations = db.session.scalars(select(Escalation).order_by(Escalation.id)).all()
    assert len(escalations) == len(opened) >= 30
    numbers = [e.notice.number for e in escalations]
    assert numbers == list(range(1, len(escalations) + 1))   # per year, in the order they opened, no gaps
    assert [o["notice"] for o in opened] == [f"督办〔2026〕第 {n} 号" for n in numbers]
    assert db.session.get(NumberSeries, (NOTICE_SERIES, 2026)).last == len(escalations)
    notice = returned_escalation(world).notice
    assert (notice.year, notice.issued_on, notice.status, notice.frozen_at) == (
        2026, date(2026, 4, 20), NoticeStatus.ISSUED, PASS_AT)
    assert notice.facts["days_late"] == 5 and notice.facts["deadline"] == "2026-04-13"   # grace end after return
    assert notice.facts["return_reason"] == "缺少统计口径说明" and notice.facts["date_text"] == "2026年4月20日"
    assert run_reminders(now=PASS_AT)["escalations_opened"] == []   # a second pass numbers nothing again
    assert db.session.get(NumberSeries, (NOTICE_SERIES, 2026)).last == len(escalations)


def test_numbers_run_per_year_and_a_rollback_gives_its_number_back(world):
    last = db.session.get(NumberSeries, (NOTICE_SERIES, 2026)).last
    assert take_number(NOTICE_SERIES, 2026) == last + 1
    db.session.rollback()                                  # the escalation was never opened
    assert take_number(NOTICE_SERIES, 2026) == last + 1    # so its number is the next one's: no gap
    assert take_number(NOTICE_SERIES, 2027) == 1           # a new year starts at 1
    assert take_number(NOTICE_SERIES, 2027) == 2
    db.session.commit()


def test_concurrent_takers_queue_for_the_next_number(app, world):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("row locks: PostgreSQL (SQLite lets one writer in at a time anyway)")
    take_number(NOTICE_SERIES, 2030)
    db.session.commit()
    got: dict[str, object] = {}

    def second() -> None:
        with app.app_context():
            started = time.monotonic()
            got["number"] = take_number(NOTICE_SERIES, 2030)
            got["waited"] = time.monotonic() - started
            db.session.commit()

    assert take_number(NOTICE_SERIES, 2030) == 2          # this transaction holds the year's row ...
    other = threading.Thread(target=second)
    other.start()
    time.sleep(0.5)
    assert "number" not in got                             # ... so the other taker waits
    db.session.commit()
    other.join(10)
    assert got["number"] == 3 and got["waited"] >= 0.4


def test_escalations_from_before_numbering_get_their_notice_at_the_next_pass(client, world):
    escalation = returned_escalation(world)
    db.session.execute(delete(Notice))                    # as they were when the migration ran
    db.session.execute(delete(NumberSeries))
    db.session.commit()
    login(client, world["office"])
    for url in (f"/escalations/{escalation.id}/notice", f"/escalations/{escalation.id}", "/escalations/"):
        assert writes_during(lambda url=url: client.get(url)) == [], url   # reads never write
    html = client.get(f"/escalations/{escalation.id}/notice").get_data(as_text=True)
    assert "督办〔2026〕第 — 号" in html and "（待编号）" in html
    assert "下一次提醒处理时编号" in client.get(f"/escalations/{escalation.id}").get_data(as_text=True)

    run_reminders(now=LATER)
    db.session.expire_all()
    escalations = db.session.scalars(select(Escalation).order_by(Escalation.opened_at, Escalation.id)).all()
    assert [e.notice.number for e in escalations] == list(range(1, len(escalations) + 1))
    notice = db.session.get(Escalation, escalation.id).notice
    # dated the day it opened, with that day's facts, not the pass's
    assert notice.issued_on == date(2026, 4, 20) and notice.facts["days_late"] == 5 and notice.frozen_at == LATER
    assert "（待编号）" not in client.get(f"/escalations/{escalation.id}/notice").get_data(as_text=True)


# -- printing again ----------------------------------------------------------------------------------------------

def _paper(html: str) -> str:
    return STAMP.sub("", re.search(r'<main class="paper">.*</main>', html, re.S).group(0))


def _change_the_world(world, app) -> None:
    """Everything a live notice used to read changes: names, the office's name, the return reason, the days late."""
    escalation = returned_escalation(world)
    db.session.execute(update(Task).where(Task.id == escalation.task_id).values(title="改名后的任务"))
    db.session.execute(update(Report).where(Report.id == world["report"].id).values(last_return_reason="另一个理由"))
    db.session.commit()
    app.config["OFFICE_NAME"] = "抚顺市碳达峰碳中和工作领导小组办公室"
    run_reminders(now=LATER)


needs_poppler = pytest.mark.skipif(not shutil.which("pdftotext"), reason="poppler-utils not installed")


def test_a_notice_printed_again_is_the_same_document(app, client, world):
    escalation = returned_escalation(world)
    login(client, world["office"])
    first = client.get(f"/escalations/{escalation.id}/notice").get_data(as_text=True)
    assert f"督办〔2026〕第 {escalation.notice.number} 号" in first and "2026年4月20日" in first
    assert "打印：2026-04-20 10:00" in first
    _change_the_world(world, app)
    with time_machine.travel(LATER, tick=False):
        login(client, make_user(Role.LEADER, username="mayor"))
        again = client.get(f"/escalations/{escalation.id}/notice").get_data(as_text=True)
    assert "打印：2026-05-12 09:00 mayor" in again
    assert first != again and _paper(first) == _paper(again)   # only the stamp differs on the paper
    assert "改名后的任务" not in again and "另一个理由" not in again and "已逾期 5 个工作日" in again


@needs_poppler
def test_a_notice_pdf_printed_twice_differs_only_in_the_stamp(app, client, world, tmp_path):
    escalation = returned_escalation(world)
    login(client, world["office"])
    first = client.get(f"/escalations/{escalation.id}/notice.pdf").data
    _change_the_world(world, app)
    # the same minute and reader: the same stamp, so the very same bytes, whatever changed meanwhile
    assert client.get(f"/escalations/{escalation.id}/notice.pdf").data == first
    with time_machine.travel(LATER, tick=False):
        login(client, make_user(Role.LEADER, username="mayor"))
        later = client.get(f"/escalations/{escalation.id}/notice.pdf").data
    assert later != first

    def text(data: bytes, name: str) -> list[str]:
        path = tmp_path / name
        path.write_bytes(data)
        out = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True)
        return [line.strip() for line in out.stdout.splitlines() if line.strip()]

    a, b = text(first, "a.pdf"), text(later, "b.pdf")
    assert [line for line in a if not line.startswith("打印：")] == [line for line in b if not line.startswith("打印：")]
    assert "打印：2026-04-20 10:00 office1" in a and "打印：2026-05-12 09:00 mayor" in b
    compact = re.sub(r"\s+", "", "".join(a))
    assert f"督办〔2026〕第{escalation.notice.number}号" in compact and "2026年4月20日" in compact


# -- 整改反馈 ------------------------------------------------------------------------------------------------------

def test_the_department_head_records_its_feedback(world):
    notice = returned_escalation(world).notice
    for actor in (world["office"], make_user(Role.LEADER), liaison_of(HOUSING), make_user(Role.DEPT_HEAD, NDRC)):
        with pytest.raises(PermissionDenied):
            services.give_feedback(notice, "已整改", actor=actor, now=PASS_AT)
    for text in ("", "  "):
        with pytest.raises(ValidationFailed) as refused:
            services.give_feedback(notice, text, actor=world["head"], now=PASS_AT)
        assert set(refused.value.errors) == {"feedback"}
    with pytest.raises(ValidationFailed) as refused:
        services.give_feedback(notice, "改" * (services.FEEDBACK_LIMIT + 1), actor=world["head"], now=PASS_AT)
    assert "不能超过" in refused.value.errors["feedback"]
    assert notice.status == NoticeStatus.ISSUED and notice.feedback == ""

    services.give_feedback(notice, "已补充统计口径说明并重新报送。", actor=world["head"], now=PASS_AT)
    assert (notice.status, notice.feedback, notice.feedback_by, notice.feedback_at) == (
        NoticeStatus.ANSWERED, "已补充统计口径说明并重新报送。", world["head"], PASS_AT)
    audit = db.session.scalars(select(AuditEvent).where(AuditEvent.object_type == "notice")).all()
    assert [(a.action, a.from_state, a.to_state) for a in audit] == [("notice.answer", "issued", "answered")]
    told = db.session.scalars(select(Notification).where(Notification.kind == "notice.feedback")).all()
    assert {n.user for n in told} == {world["office"]}
    with pytest.raises(Conflict, match="已于 2026-04-20 报送"):
        services.give_feedback(notice, "再报一次", actor=world["head"], now=PASS_AT)


def test_feedback_on_the_escalation_page(client, world):
    escalation = returned_escalation(world)
    url = f"/escalations/{escalation.id}/feedback"
    login(client, world["head"])
    page = client.get(f"/escalations/{escalation.id}").get_data(as_text=True)
    assert 'name="feedback"' in page and "写批示" not in page
    long = "已补充说明" * 1000
    response = client.post(url, data={"feedback": long})
    assert response.status_code == 422
    assert long in response.get_data(as_text=True) and "不能超过" in response.get_data(as_text=True)
    assert client.post(url, data={"feedback": "已补充统计口径说明并重新报送。"}).status_code == 302
    page = client.get(f"/escalations/{escalation.id}").get_data(as_text=True)
    assert "已补充统计口径说明并重新报送。" in page and "已整改反馈" in page and 'name="feedback"' not in page
    response = client.post(url, data={"feedback": "再报一次"})
    assert response.status_code == 409 and "不能重复报送" in response.get_data(as_text=True)
    login(client, world["office"])
    page = client.get(f"/escalations/{escalation.id}").get_data(as_text=True)
    assert "报送整改反馈" in page and "已补充统计口径说明并重新报送。" in page   # the trail and the answer
    assert client.post(url, data={"feedback": "代报"}).status_code == 403
    listing = client.get("/escalations/").get_data(as_text=True)
    assert f"{escalation.notice.title} · 已整改反馈" in listing
