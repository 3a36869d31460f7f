"""催报: on its report the lead department sees which contributions are missing and reminds a co-department's
liaison, at most once per contribution and day; refusals are clear (409) and write nothing; the office reads it
in the report's audit trail."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from models import AuditEvent, Contribution, Notification, Role
from tests.conftest import PASSWORD, make_user
from tests.factories import liaison_of, published_fushun, report_for
from workflow.domain import Conflict, NotFound, PermissionDenied
from workflow.extensions import db
from workflow.reports.services import chase_contribution, save_contribution

HOUSING = "市住房城乡建设局"   # leads 3.4.3
NDRC = "市发展改革委"          # co-operates on 3.4.3
MORNING = datetime(2026, 4, 9, 1, tzinfo=UTC)    # Thursday 9 April, 09:00 in Shanghai (the deadline was the 8th)


@pytest.fixture
def world(app):
    plan, office = published_fushun()
    report = report_for(plan, "3.4.3")
    contributions = {c.department.name: c for c in db.session.scalars(
        select(Contribution).where(Contribution.task_id == report.task_id, Contribution.period_id == report.period_id))}
    return {"plan": plan, "office": office, "report": report, "ndrc": contributions[NDRC],
            "contributions": contributions, "lead": liaison_of(HOUSING), "co": liaison_of(NDRC),
            "lead_head": make_user(Role.DEPT_HEAD, HOUSING, username="housing-head")}


def chases() -> list[Notification]:
    return list(db.session.scalars(select(Notification).where(Notification.kind == "contribution.chase")))


def audit() -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == "report.chase")
                                   .order_by(AuditEvent.id)))


def test_one_chase_per_contribution_and_day(world):
    report, ndrc = world["report"], world["ndrc"]
    chase_contribution(report, ndrc, actor=world["lead"], now=MORNING)
    [note] = chases()
    assert note.user == world["co"] and note.key == f"chase:c{ndrc.id}:20260409:u{world['co'].id}"
    assert note.subject == f"【催报】{HOUSING}请你单位报送任务 3.4.3 2026年第一季度配合情况"
    assert note.link == f"/reports/contributions/{ndrc.id}" and note.data["department"] == NDRC
    [event] = audit()
    assert (event.object_type, event.object_id, event.actor_id, event.comment) == (
        "report", report.id, world["lead"].id, NDRC)
    assert event.data == {"contribution_id": ndrc.id, "department": NDRC, "recipients": [world["co"].username]}

    # a second one the same (Beijing) day, by anyone of the lead department: refused, nothing written
    for actor, when in ((world["lead"], MORNING + timedelta(hours=8)), (world["lead_head"], MORNING)):
        with pytest.raises(Conflict, match="今天已催报过市发展改革委"):
            chase_contribution(report, ndrc, actor=actor, now=when)
    assert len(chases()) == 1 and len(audit()) == 1
    # the next day, again
    chase_contribution(report, ndrc, actor=world["lead_head"], now=MORNING + timedelta(days=1))
    assert len(chases()) == 2 and len(audit()) == 2


def test_who_may_chase_and_what(world):
    report, ndrc = world["report"], world["ndrc"]
    for actor in (world["co"], world["office"], make_user(Role.LEADER), make_user(Role.ADMIN)):
        with pytest.raises(PermissionDenied):
            chase_contribution(report, ndrc, actor=actor, now=MORNING)
    other = report_for(world["plan"], "3.1.1")
    stray = db.session.scalar(select(Contribution).where(Contribution.task_id == other.task_id))
    with pytest.raises(NotFound):   # not a contribution to this report
        chase_contribution(report, stray, actor=world["lead"], now=MORNING)
    no_liaison = next(c for name, c in world["contributions"].items() if name != NDRC)
    with pytest.raises(Conflict, match="还没有联络员账号"):
        chase_contribution(report, no_liaison, actor=world["lead"], now=MORNING)
    save_contribution(ndrc, "已配合完成摸底", actor=world["co"], now=MORNING, version=ndrc.version, submit=True)
    with pytest.raises(Conflict, match="已报送配合情况，无需催报"):
        chase_contribution(report, ndrc, actor=world["lead"], now=MORNING)
    assert chases() == [] and audit() == []


def login(client, user) -> None:
    client.post("/logout")
    assert client.post("/login", data={"username": user.username, "password": PASSWORD}).status_code == 302


def test_the_chase_button_on_the_report_page(client, world):
    report, ndrc = world["report"], world["ndrc"]
    url = f"/reports/{report.id}/contributions/{ndrc.id}/chase"
    with time_machine.travel(MORNING, tick=False):
        login(client, world["lead"])
        page = client.get(f"/reports/{report.id}").get_data(as_text=True)
        assert f'action="{url}"' in page and page.count('class="d-inline chase-form"') == len(world["contributions"])
        response = client.post(url)
        assert response.status_code == 302 and response.location.endswith(f"/reports/{report.id}#contributions")
        page = client.get(f"/reports/{report.id}").get_data(as_text=True)
        assert "已催报市发展改革委" in page and "今日已催报" in page and f'action="{url}"' not in page
        response = client.post(url)   # a second time today: a clear 409 on the report page
        assert response.status_code == 409
        html = response.get_data(as_text=True)
        assert "今天已催报过市发展改革委，每个配合单位每天只能催报一次" in html and 'id="contributions"' in html
        assert len(chases()) == 1

        login(client, world["co"])   # the co-department gets it in its inbox, and may not chase itself
        assert "【催报】" in client.get("/account/inbox").get_data(as_text=True)
        assert client.post(url).status_code == 403
        login(client, world["office"])   # the office sees who chased whom in the report's trail
        page = client.get(f"/reports/{report.id}").get_data(as_text=True)
        assert "催报配合单位" in page and 'class="d-inline chase-form"' not in page
        assert client.post(url).status_code == 403
        other = report_for(world["plan"], "3.1.1", department=NDRC)
        login(client, world["lead"])
        assert client.post(f"/reports/{other.id}/contributions/{ndrc.id}/chase").status_code == 403
        assert client.post(f"/reports/{report.id}/contributions/999999/chase").status_code == 404
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "report.chase")) == 1
