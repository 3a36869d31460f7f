from datetime import UTC, datetime

import pytest
import time_machine

from tests.e2e.test_browser import _login, browser, live  # noqa: F401
from tests.factories import liaison_of, published_fushun, report_for
from workflow.extensions import db

OUT = "/tmp/duban/shots"


@pytest.mark.parametrize("width", [1280, 390])
def test_shots(app, live, browser, width):  # noqa: F811
    import os
    os.makedirs(OUT, exist_ok=True)
    vp = {"width": width, "height": 900}
    size = "phone" if width < 600 else "desktop"
    with time_machine.travel(datetime(2026, 4, 3, 2, tzinfo=UTC), tick=True):
        plan, office = published_fushun()
        report = report_for(plan, "3.4.3")
        liaison = liaison_of(report.department.name)
        rid, tid = report.id, report.task_id
        lname, oname = liaison.username, office.username
        db.session.commit()
        page = _login(browser, live, lname, vp)
        page.goto(f"{live}/reports/{rid}#extensions")
        page.fill("input[name=new_deadline]", "2026-04-07")
        page.fill("textarea[name=reason]", "需等待省统计局发布年度清洁取暖数据后再核实填报")
        page.fill("textarea[name=progress]", "已完成初稿，数据待核")
        page.click("form.extension-form button")
        page.wait_for_load_state()
        page.locator("#extensions").scroll_into_view_if_needed()
        page.screenshot(path=f"{OUT}/ext-error-{size}.png", full_page=False)
        page.fill("input[name=new_deadline]", "2026-04-20")
        page.click("form.extension-form button")
        page.wait_for_load_state()
        page.locator("#extensions").screenshot(path=f"{OUT}/ext-pending-{size}.png")
        office_page = _login(browser, live, oname, vp)
        office_page.goto(f"{live}/reports/{rid}")
        office_page.locator("#extensions").screenshot(path=f"{OUT}/ext-decide-{size}.png")
        office_page.click("form.approve-extension button")
        office_page.wait_for_load_state()
        office_page.screenshot(path=f"{OUT}/ext-approved-{size}.png", full_page=False)
        page.goto(f"{live}/tasks/{tid}")
        page.fill("textarea[name=summary]", "清洁取暖改造全部完成，已通过验收。")
        page.locator(".completion-form input[inputmode=decimal]").first.fill("98")
        page.locator("#completion").screenshot(path=f"{OUT}/completion-form-{size}.png")
        page.click("form.completion-form button")
        page.wait_for_load_state()
        office_page.goto(f"{live}/tasks/{tid}")
        office_page.locator("#completion").screenshot(path=f"{OUT}/completion-decide-{size}.png")
        office_page.fill("form.confirm-completion textarea", "同意销号")
        office_page.click("form.confirm-completion button")
        office_page.wait_for_load_state()
        office_page.screenshot(path=f"{OUT}/closed-{size}.png", full_page=True)
