"""The web round of issue 15's first two points: the lead asks for an extension on the report page (a bad date
answered in the form with the input kept), the office approves it, no reminder fires before the new date and the
report is handed in on time; the lead files a completion report on the task page, the office closes the task
(a return needs a reason), no reminder for it the next quarter, and the office reopens it."""
from __future__ import annotations

from datetime import UTC, date, datetime

import time_machine
from sqlalchemy import func, select

from models import CompletionReport, ExtensionRequest, Notification, TaskStatus
from tests.factories import file_report, liaison_of, published_fushun, report_for
from tests.test_reminders import at_nine
from workflow.extensions import db
from workflow.scheduling.reminders import run_reminders

HOUSING = "市住房城乡建设局"
VALUES = {"清洁取暖率": 96, "可再生能源替代率": 7.5, "光伏": 47}


def at(moment: datetime) -> time_machine.travel:
    return time_machine.travel(moment, tick=False)


def login(client, user):
    from tests.conftest import PASSWORD

    client.post("/logout")
    assert client.post("/login", data={"username": user.username, "password": PASSWORD}).status_code == 302


def test_extension_and_closure_through_the_pages(app, client):
    with at(datetime(2026, 4, 3, 2, tzinfo=UTC)):
        plan, office = published_fushun()
        report = report_for(plan, "3.4.3")
        liaison = liaison_of(HOUSING)
        login(client, liaison)
        page = client.get(f"/reports/{report.id}").get_data(as_text=True)
        assert 'class="extension-form"' in page
        bad = client.post(f"/reports/{report.id}/extension",
                          data={"new_deadline": "2026-04-07", "reason": "等待省级数据", "progress": "初稿"})
        assert bad.status_code == 422
        text = bad.get_data(as_text=True)
        assert "须晚于当前报送期限" in text and "等待省级数据" in text          # the error beside the kept input
        ok = client.post(f"/reports/{report.id}/extension",
                         data={"new_deadline": "2026-04-20", "reason": "等待省级数据", "progress": "初稿"})
        assert ok.status_code == 302
        again = client.post(f"/reports/{report.id}/extension", data={"new_deadline": "2026-04-21", "reason": "再次"})
        assert again.status_code == 409 and db.session.scalar(select(func.count()).select_from(ExtensionRequest)) == 1
        extension = db.session.scalar(select(ExtensionRequest))

        login(client, office)
        office_page = client.get(f"/reports/{report.id}").get_data(as_text=True)
        assert "extensions-panel" in office_page, office_page[office_page.find("col-lg-4"):][:3000]
        assert "approve-extension" in office_page
        refused = client.post(f"/extensions/{extension.id}/refuse", data={"version": "1", "reason": ""})
        assert refused.status_code == 422 and "请填写不予批准的理由" in refused.get_data(as_text=True)
        assert client.post(f"/extensions/{extension.id}/approve", data={"version": "1"}).status_code == 302
        db.session.expire_all()
        assert report.deadline == date(2026, 4, 20)
        assert "2026-04-20" in client.get(f"/tasks/{report.task_id}").get_data(as_text=True)

    for day in (date(2026, 4, 9), date(2026, 4, 13), date(2026, 4, 16)):
        run_reminders(now=at_nine(day))
    assert not db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.link == f"/reports/{report.id}", Notification.kind.in_(("overdue", "escalation", "due_today"))))
    file_report(plan, office, "3.4.3", HOUSING, datetime(2026, 4, 17, 2, tzinfo=UTC), VALUES, approve=False)

    task = report.task
    with at(datetime(2026, 5, 6, 2, tzinfo=UTC)):
        login(client, liaison)
        assert 'class="completion-form"' in client.get(f"/tasks/{task.id}").get_data(as_text=True)
        target = task.targets[0]
        bad = client.post(f"/tasks/{task.id}/completion", data={"summary": "", f"value_{target.id}": "九十八"})
        assert bad.status_code == 422 and "九十八" in bad.get_data(as_text=True)
        assert client.post(f"/tasks/{task.id}/completion",
                           data={"summary": "全部完成", f"value_{target.id}": "98"}).status_code == 302
        login(client, office)

        completion_id = db.session.scalar(select(CompletionReport.id))
        no_reason = client.post(f"/tasks/completions/{completion_id}/return", data={"version": "1", "reason": ""})
        assert no_reason.status_code == 422
        assert client.post(f"/tasks/completions/{completion_id}/confirm",
                           data={"version": "1", "comment": "同意销号"}).status_code == 302
        db.session.expire_all()
        assert task.status == TaskStatus.CLOSED
        page = client.get(f"/tasks/{task.id}").get_data(as_text=True)
        assert "task-closed" in page and 'class="reopen-form"' in page
        twice = client.post(f"/tasks/completions/{completion_id}/confirm", data={"version": "2"})
        assert twice.status_code == 409

    result = run_reminders(now=datetime(2026, 7, 20, 1, tzinfo=UTC))
    assert not [q for q in result["queued"] if q["task"] == "3.4.3"]
    with at(datetime(2026, 8, 3, 2, tzinfo=UTC)):
        login(client, office)
        assert client.post(f"/tasks/{task.id}/reopen", data={"reason": ""}).status_code == 422
        assert client.post(f"/tasks/{task.id}/reopen", data={"reason": "继续推进"}).status_code == 302
        db.session.expire_all()
        assert task.status == TaskStatus.OPEN
        login(client, liaison_of("市发展改革委"))
        assert client.post(f"/tasks/{task.id}/reopen", data={"reason": "x"}).status_code == 403
