"""The whole reporting loop in a real browser (Debian's Chromium through Playwright), desktop and phone: a
liaison fills and submits a report with an attachment, the office returns it, the liaison reads why and
resubmits, the office approves, a leader downloads the evaluation PDF. Screenshots of each step are kept in
tests/e2e/artifacts/ (git-ignored) for a person to look at."""
from __future__ import annotations

import re
import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from models import Plan, Report, ReportStatus, Role, User
from tests.conftest import PASSWORD, make_user
from tests.factories import PDF, liaison_of, published_fushun, report_for
from workflow.clock import utcnow
from workflow.evaluation import archive
from workflow.evaluation import services as evaluation_services
from workflow.extensions import db

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).parent / "artifacts"
playwright = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not shutil.which(CHROMIUM), reason="needs Debian's chromium (make system-deps)")


@pytest.fixture
def live(app):
    """The test app served over HTTP on a free loopback port, from a thread (requests run in their own
    contexts, on the test database)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def browser():
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield chromium
        chromium.close()


def _login(browser, base: str, username: str, viewport: dict):
    page = browser.new_page(viewport=viewport, accept_downloads=True)
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit], form input[type=submit]")
    page.wait_for_load_state()
    assert "/login" not in page.url, page.content()[:500]
    return page


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 900}, {"width": 390, "height": 844}],
                         ids=["desktop", "phone"])
def test_report_returned_resubmitted_approved_and_the_leader_downloads_the_pdf(app, live, browser, viewport,
                                                                                tmp_path):
    size = "phone" if viewport["width"] < 600 else "desktop"
    plan, office = published_fushun(now=utcnow())
    report = report_for(plan, "3.4.3")
    liaison = liaison_of(report.department.name)
    make_user(Role.LEADER, username="leader1")
    report_id, targets = report.id, [t.id for t in report.task.targets]
    names, plan_id, office_id = (liaison.username, office.username), plan.id, office.id
    db.session.commit()
    db.session.close()

    page = _login(browser, live, names[0], viewport)
    page.goto(f"{live}/reports/{report_id}")
    page.fill("textarea[name=narrative]", "完成清洁取暖改造 3 万户。")
    page.fill("input[name=percent_complete]", "35")
    page.select_option("select[name=progress]", "on_track")
    for target_id in targets:
        page.fill(f"input[name=value-{target_id}]", "60")
    upload = tmp_path / "改造清单.pdf"
    upload.write_bytes(PDF)
    page.set_input_files("input[type=file]", str(upload))
    page.click("input[name=upload], button[name=upload]")
    page.wait_for_load_state()
    assert "改造清单.pdf" in page.content()
    assert page.input_value("textarea[name=narrative]") == "完成清洁取暖改造 3 万户。"  # kept by the upload
    _shot(page, f"{size}-1-liaison-draft")
    page.click("input[name=submit], button[name=submit]")
    page.wait_for_load_state()
    _shot(page, f"{size}-2-liaison-submitted")
    assert db.session.get(Report, report_id).status == ReportStatus.SUBMITTED
    db.session.close()

    reviewer = _login(browser, live, names[1], viewport)
    reviewer.goto(f"{live}/reports/{report_id}")
    reviewer.fill("textarea[name=reason]", "请补充改造户数的分县统计。")
    reviewer.click("text=退回修改")
    reviewer.wait_for_load_state()
    _shot(reviewer, f"{size}-3-office-returned")
    db.session.close()

    page.goto(f"{live}/reports/{report_id}")
    assert "请补充改造户数的分县统计。" in page.content()
    _shot(page, f"{size}-4-liaison-reads-why")
    page.fill("textarea[name=narrative]", "完成清洁取暖改造 3 万户，其中新宾县 1.2 万户。")
    page.click("input[name=submit], button[name=submit]")
    page.wait_for_load_state()
    assert db.session.get(Report, report_id).status == ReportStatus.SUBMITTED
    db.session.close()

    reviewer.goto(f"{live}/reports/{report_id}")
    reviewer.click("text=通过")
    reviewer.wait_for_load_state()
    _shot(reviewer, f"{size}-5-office-approved")
    assert db.session.get(Report, report_id).status == ReportStatus.APPROVED

    plan, office = db.session.get(Plan, plan_id), db.session.get(User, office_id)
    evaluation = evaluation_services.get_or_create(plan, 2026, now=utcnow())
    evaluation_services.compute_evaluation(evaluation, actor=office, now=utcnow())
    archive.generate_pdf(evaluation, actor=office, now=utcnow())
    db.session.commit()
    db.session.close()

    leader = _login(browser, live, "leader1", viewport)
    leader.goto(f"{live}/evaluation/{plan_id}/2026/")
    _shot(leader, f"{size}-6-leader-evaluation")
    link = leader.locator("ul.files a").first
    with leader.expect_download() as download:
        link.click()
    path = download.value.path()
    assert Path(path).read_bytes()[:5] == b"%PDF-"
    assert re.search(r"\.pdf$", download.value.suggested_filename)


PHONE = {"width": 390, "height": 844}
# Cells the check measures: laid out as cells or blocks (an inline cell of the audit trail has no width), with
# at least three characters of text, which must get at least 2.5 characters of width.
NARROW_CELLS = """() => [...document.querySelectorAll('main td, main th')].filter(c => {
    const style = getComputedStyle(c), text = c.innerText.trim();
    return ['table-cell', 'block'].includes(style.display) && text.length >= 3 && c.offsetParent !== null
        && c.clientWidth < 2.5 * parseFloat(style.fontSize);
}).map(c => c.closest('table').className + ': ' + c.innerText.trim().slice(0, 20) + ' (' + c.clientWidth + 'px)')"""


def _phone_check(page, base: str, path: str, name: str) -> None:
    page.goto(f"{base}{path}")
    assert page.url.split("?")[0].endswith(path.split("?")[0]), page.url
    top = page.evaluate("document.querySelector('main').getBoundingClientRect().top")
    assert top < 150, f"{path}: the content starts {top:.0f} px down: the menu is not folded"
    narrow = page.evaluate(NARROW_CELLS)
    assert not narrow, f"{path}: cells squeezed: {narrow[:5]}"
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], f"{path} is wider than the phone"
    _shot(page, f"phone-{name}")


def test_phone_menu_folds_and_tables_stay_readable(app, live, browser):
    """390 × 844: each role's list pages start right under the bar (the menu folded behind 菜单, no JavaScript
    needed: the test opens it by its label), and no table squeezes a name to a character or two per line."""
    plan, office = published_fushun(now=utcnow())
    report = report_for(plan, "3.4.3")
    liaison = liaison_of(report.department.name)
    make_user(Role.ADMIN, username="admin1")
    names, report_id = (liaison.username, office.username), report.id
    db.session.commit()
    db.session.close()

    page = _login(browser, live, names[0], PHONE)
    for path, name in (("/my/", "home"), ("/reports/", "reports"), (f"/reports/{report_id}", "report"),
                       ("/account/inbox", "inbox"), ("/ledger/", "ledger"), ("/targets/", "targets")):
        _phone_check(page, live, path, f"liaison-{name}")
    assert not page.is_visible("#nav-menu")
    page.click("label[for=nav-toggle]")
    assert page.is_visible("#nav-menu a[href='/reports/']")
    _shot(page, "phone-menu-open")

    office_page = _login(browser, live, names[1], PHONE)
    for path, name in (("/review/?status=draft", "review"), ("/overview/", "overview"),
                       ("/escalations/", "escalations"), ("/ledger/", "ledger"), ("/targets/", "targets")):
        _phone_check(office_page, live, path, f"office-{name}")
    admin_page = _login(browser, live, "admin1", PHONE)
    _phone_check(admin_page, live, "/admin/users", "admin-users")
