"""The issue's acceptance scenario through the web UI, one browser session per person, as they would click it."""
from __future__ import annotations

import re

import time_machine
from sqlalchemy import select

from models import AuditEvent, Contribution, Department, Plan, PlanStatus, Report, ReportStatus, Role
from tests.conftest import FUSHUN, import_text_plan, make_user
from tests.factories import LATER_DAYS, PUBLISH_AT, report_for
from workflow.extensions import db

HOUSING, NDRC, TRANSPORT = "市住房城乡建设局", "市发展改革委", "市交通运输局"


def login(app, user):
    client = app.test_client()
    response = client.post("/login", data={"username": user.username, "password": "s3cret-pass"})
    assert response.status_code == 302
    return client


def hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}"[^>]*value="([^"]*)"', html) or re.search(
        rf'value="([^"]*)"[^>]*name="{name}"', html)
    assert match, f"no field {name}"
    return match.group(1)


def test_publish_report_contribute_return_resubmit_approve(app):
    plan = import_text_plan(FUSHUN, FUSHUN.name)
    office = make_user(Role.OFFICE, username="office-web")
    housing = make_user(Role.LIAISON, HOUSING, username="housing")
    ndrc = make_user(Role.LIAISON, NDRC, username="ndrc")
    transport = make_user(Role.LIAISON, TRANSPORT, username="transport")

    with time_machine.travel(PUBLISH_AT, tick=False):
        office_web = login(app, office)
        data = {"cadence": "quarterly", "first_period": "2026Q1", "deadline_workdays": "5"}
        office_web.post(f"/review/plans/{plan.id}/publish", data={**data, "preview": "1"})
        response = office_web.post(f"/review/plans/{plan.id}/publish",
                                   data={**data, "previewed": "quarterly|2026Q1|5", "confirm": "1"})
        assert response.status_code == 302
        assert db.session.get(Plan, plan.id).status == PlanStatus.PUBLISHED

    with time_machine.travel(PUBLISH_AT.replace(day=1 + LATER_DAYS), tick=False):
        # the housing liaison acknowledges 3.4.3 from 我的任务
        housing_web = login(app, housing)
        html = housing_web.get("/my/").get_data(as_text=True)
        task = next(t for t in plan.tasks if t.code == "3.4.3")
        assignment = next(a for a in task.assignments if a.department.name == HOUSING)
        assert f"/assignments/{assignment.id}/acknowledge" in html
        assert housing_web.post(f"/assignments/{assignment.id}/acknowledge",
                                data={"version": assignment.version}).status_code == 302

        # files the first-quarter report as a draft with a value for 清洁取暖率
        report = report_for(plan, "3.4.3")
        heating = next(t for t in task.targets if "清洁取暖率" in t.metric)
        form_html = housing_web.get(f"/reports/{report.id}").get_data(as_text=True)
        assert f'name="value-{heating.id}"' in form_html
        values = {f"value-{t.id}": "1" for t in task.targets}
        values[f"value-{heating.id}"] = "95.5"
        draft = {"narrative": "完成清洁取暖改造 3 万户", "percent_complete": "40", "progress": "on_track",
                 "difficulties": "", "next_steps": "继续推进", **values}
        response = housing_web.post(f"/reports/{report.id}", data={**draft, "version": report.version,
                                                                   "save": "1"})
        assert response.status_code == 302

        # the co-department files its contribution; the lead sees it while writing
        ndrc_web = login(app, ndrc)
        contribution = db.session.scalar(select(Contribution).where(
            Contribution.task_id == task.id, Contribution.period_id == report.period_id,
            Contribution.department_id == Department.lookup(NDRC).id))
        contribution_url = f"/reports/contributions/{contribution.id}"
        # 报送 lists a period's reports before its contributions, 50 a page: NDRC's are on its second page
        listing = "".join(ndrc_web.get(f"/reports/?page={n}").get_data(as_text=True) for n in (1, 2))
        assert f'href="{contribution_url}"' in listing
        page = ndrc_web.get(contribution_url).get_data(as_text=True)
        assert ndrc_web.post(contribution_url, data={"text": "配合推进热源建设", "submit": "1",
                                                     "version": hidden(page, "version")}).status_code == 302
        form_html = housing_web.get(f"/reports/{report.id}").get_data(as_text=True)
        assert "配合推进热源建设" in form_html

        # the lead submits
        response = housing_web.post(f"/reports/{report.id}", data={**draft, "submit": "1",
                                                                   "version": hidden(form_html, "version")})
        assert response.status_code == 302
        db.session.expire_all()
        assert db.session.get(Report, report.id).status == ReportStatus.SUBMITTED

        # the office finds it in the queue and returns it with a reason
        queue = office_web.get("/review/").get_data(as_text=True)
        assert f"/reports/{report.id}" in queue
        page = office_web.get(f"/reports/{report.id}").get_data(as_text=True)
        assert office_web.post(f"/review/reports/{report.id}/return",
                               data={"reason": "请说明清洁取暖率的统计口径", "version": hidden(page, "version")}
                               ).status_code == 302

        # the liaison sees the reason, revises and resubmits
        page = housing_web.get(f"/reports/{report.id}").get_data(as_text=True)
        assert "请说明清洁取暖率的统计口径" in page
        revised = {**draft, "narrative": "完成清洁取暖改造 3.2 万户，口径为城市建成区", f"value-{heating.id}": "96"}
        assert housing_web.post(f"/reports/{report.id}", data={**revised, "submit": "1",
                                                               "version": hidden(page, "version")}
                                ).status_code == 302

        # the office sees what changed and approves
        page = office_web.get(f"/reports/{report.id}").get_data(as_text=True)
        assert "与退回版本相比的修改" in page and "95.5" in page and "96" in page and "3.2 万户" in page
        assert office_web.post(f"/review/reports/{report.id}/approve",
                               data={"comment": "同意", "version": hidden(page, "version")}).status_code == 302
        db.session.expire_all()
        assert db.session.get(Report, report.id).status == ReportStatus.APPROVED

        # the audit trail shows each step, on the page and in the database
        trail = db.session.scalars(select(AuditEvent).where(AuditEvent.object_type == "report",
                                                            AuditEvent.object_id == report.id)
                                   .order_by(AuditEvent.id)).all()
        assert [(e.action, e.to_state, e.actor.username) for e in trail] == [
            ("report.submit", "submitted", "housing"), ("report.return", "returned", "office-web"),
            ("report.submit", "submitted", "housing"), ("report.approve", "approved", "office-web")]
        page = housing_web.get(f"/reports/{report.id}").get_data(as_text=True)
        assert page.count("请说明清洁取暖率的统计口径") >= 1 and "同意" in page

        # the transport liaison gets 403 and never sees it listed
        transport_web = login(app, transport)
        assert transport_web.get(f"/reports/{report.id}").status_code == 403
        listing = transport_web.get("/reports/").get_data(as_text=True)
        assert f"/reports/{report.id}\"" not in listing and "3.4.3" not in listing
        assert Department.lookup(TRANSPORT).name in transport_web.get("/my/").get_data(as_text=True)
