"""The English catalog: the language switch shows English, every message has a translation, and the catalog
covers every string the sources mark for translation (so a new _('…') without an English line fails here)."""
from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from models import Role
from tests.factories import PUBLISH_AT

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "translations"
PO = TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po"
MO = TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.mo"
# Han characters and CJK punctuation (、。：（） and the like).
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff01-\uff5e]")
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")
LATER = PUBLISH_AT + timedelta(days=3)  # before the 2026Q1 deadline


@pytest.fixture(autouse=True)
def forget_cached_locale(app):
    """Flask-Babel caches the locale on `g`; the tests share one app context across requests (see conftest's
    forget_cached_user), so drop it for each request as production's per-request context does."""
    from flask import g

    @app.before_request
    def _forget():
        g.pop("_flask_babel", None)


@pytest.fixture(scope="module")
def po():
    with PO.open("rb") as f:
        return read_po(f, locale="en")


def _page(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, path
    return response.get_data(as_text=True)


def _switch_to_english(client) -> None:
    response = client.post("/lang/en", data={"next": "/login"})
    assert response.status_code == 302


def test_login_page_is_chinese_by_default(client):
    html = _page(client, "/login")
    assert 'lang="zh-CN"' in html
    assert "登录" in html
    assert "Log in" not in html


def test_language_switch_shows_the_english_login_page(client):
    _switch_to_english(client)
    html = _page(client, "/login")
    assert 'lang="en"' in html
    assert "Log in to the Supervision System" in html
    assert 'value="Log in"' in html                      # the submit button
    assert "登录" not in html
    # Only the switch back names its language in Chinese.
    assert not CJK.search(html.replace("中文", "")), CJK.findall(html)


def test_switching_back_to_chinese(client):
    _switch_to_english(client)
    client.post("/lang/zh_Hans_CN", data={"next": "/login"})
    html = _page(client, "/login")
    assert 'lang="zh-CN"' in html and "登录督办系统" in html


def test_office_plan_list_in_english_has_no_chinese_labels(client, login_as):
    login_as(Role.OFFICE)
    _page(client, "/plans/")    # shows (and so drops) login_as's leftover flash, queued in Chinese
    _switch_to_english(client)
    html = _page(client, "/plans/")
    nav = html[html.index("<nav"):html.index("</nav>")]
    for chinese, english in (("实施方案", "Plans"), ("审核", "Review"), ("消息", "Messages"), ("退出", "Log out"),
                             ("督办系统", "Supervision System")):
        assert chinese not in nav
        assert english in nav
    assert "No plans have been imported yet." in html
    assert not CJK.search(html.replace("中文", "")), CJK.findall(html)


def test_every_message_has_an_english_translation(po):
    messages = [m for m in po if m.id]
    assert len(messages) > 300
    for m in messages:
        assert isinstance(m.id, str), f"plural message not expected: {m.id}"
        assert m.string and m.string.strip(), f"untranslated: {m.id}"
        assert not m.fuzzy, f"fuzzy: {m.id}"
        assert not CJK.search(m.string.replace("“、”", "")), f"Chinese left in the translation of {m.id}: {m.string}"
        assert sorted(PLACEHOLDER.findall(m.string)) == sorted(PLACEHOLDER.findall(m.id)), m.id


def test_compiled_catalog_matches_the_po(po):
    """The .mo the app loads is compiled from the current .po (run `pybabel compile -d translations`)."""
    with MO.open("rb") as f:
        mo = read_mo(f)
    compiled = {m.id: m.string for m in mo if m.id}
    assert compiled == {m.id: m.string for m in po if m.id}


def test_catalog_covers_every_marked_string_in_the_sources(po):
    """Extract with the project's babel.cfg and keywords, as `pybabel extract -F babel.cfg -k _l -k lazy_gettext`
    does. A failure lists the strings to add: pybabel extract …, pybabel update -d translations, translate,
    pybabel compile -d translations."""
    with (ROOT / "babel.cfg").open() as f:
        method_map, options_map = parse_mapping_cfg(f)
    keywords = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}
    extracted = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=keywords):
        msgid = message[0] if isinstance(message, tuple) else message
        extracted.setdefault(msgid, f"{filename}:{lineno}")
    assert len(extracted) > 300
    missing = {msgid: where for msgid, where in extracted.items() if msgid not in po or not po[msgid].string}
    assert not missing, f"not in the English catalog: {missing}"


# -- the services' messages and the label registry in English ---------------------------------------------

def _published_report():
    """The bundled plan published; the lead department's 2026Q1 report on 3.4.3 (a draft) and the office."""
    from tests.factories import published_fushun, report_for

    plan, office = published_fushun()
    return report_for(plan, "3.4.3"), office


def test_service_errors_are_english_under_the_english_locale(app):
    """A wrong-state transition, a permission refusal and field errors, raised by the services themselves."""
    from flask_babel import force_locale

    from tests.factories import liaison_of
    from workflow.domain import Conflict, PermissionDenied, ValidationFailed
    from workflow.reports.services import ReportInput, save_report
    from workflow.review.services import approve_report

    report, office = _published_report()
    liaison = liaison_of("市住房城乡建设局")
    with force_locale("en"):
        with pytest.raises(Conflict) as conflict:
            approve_report(report, actor=office, now=LATER)
        with pytest.raises(PermissionDenied) as denied:
            approve_report(report, actor=liaison, now=LATER)
        with pytest.raises(ValidationFailed) as invalid:
            save_report(report, ReportInput(narrative="", percent_complete="130", progress="fast",
                                            values={t.id: "1" for t in report.task.targets}),
                        actor=liaison, now=LATER, version=report.version, submit=True)
    assert conflict.value.message == "Not possible while the status is “Draft”: Approve."
    assert denied.value.message == "Only the Leading Group Office can review reports."
    errors = invalid.value.errors
    assert errors["percent_complete"] == "The percentage complete must be between 0 and 100."
    assert errors["narrative"] == "Please fill in Progress."
    assert invalid.value.message == "Some entries are invalid; please correct them as indicated."
    for text in (conflict.value.message, denied.value.message, invalid.value.message, *errors.values()):
        assert not CJK.search(text), text
    # The same call without the switch answers in Chinese, the default.
    with pytest.raises(Conflict) as chinese:
        approve_report(report, actor=office, now=LATER)
    assert chinese.value.message == "当前状态为“草稿”，不能审核通过。"


def test_service_errors_are_english_on_the_english_pages(client, login_as):
    report, _office = _published_report()
    login_as(Role.OFFICE)
    _switch_to_english(client)
    response = client.post(f"/review/reports/{report.id}/approve", data={"version": report.version})
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "Not possible while the status is “Draft”: Approve." in html and "不能审核通过" not in html

    login_as(Role.LIAISON, department="市住房城乡建设局")
    _switch_to_english(client)
    response = client.post(f"/reports/{report.id}", data={
        "narrative": "推进清洁取暖", "percent_complete": "130", "progress": "on_track", "version": report.version,
        "submit": "1"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "The percentage complete must be between 0 and 100." in html and "完成百分比应在" not in html
    assert "推进清洁取暖</textarea>" in html  # what was typed is kept


def test_every_model_status_has_a_name():
    from models import (
        AdjustmentStatus,
        AssignmentRole,
        AssignmentStatus,
        BulletinKind,
        BulletinStatus,
        ContributionStatus,
        DepartmentKind,
        EmailStatus,
        EscalationStatus,
        EvaluationStatus,
        PlanStatus,
        Progress,
        ReportStatus,
    )
    from workflow.labels import LABELS

    for kind, enum in (("report_status", ReportStatus), ("contribution_status", ContributionStatus),
                       ("progress", Progress), ("role", Role), ("department_kind", DepartmentKind),
                       ("assignment_role", AssignmentRole), ("assignment_status", AssignmentStatus),
                       ("adjustment_status", AdjustmentStatus), ("plan_status", PlanStatus),
                       ("escalation_status", EscalationStatus), ("evaluation_status", EvaluationStatus),
                       ("email_status", EmailStatus), ("bulletin_status", BulletinStatus),
                       ("bulletin_kind", BulletinKind)):
        assert set(LABELS[kind]) == set(enum), kind


def test_a_submitted_report_has_one_name_on_every_surface(app, client, login_as):
    """The review queue, the report page, the API and the evaluation's workbook agree: 待审核."""
    from tests.factories import liaison_of
    from workflow.auth.tokens import create_token
    from workflow.reports.services import ReportInput, save_report

    report, _office = _published_report()
    liaison = liaison_of("市住房城乡建设局")
    save_report(report, ReportInput(narrative="进展", percent_complete="30", progress="on_track",
                                    values={t.id: "1" for t in report.task.targets}),
                actor=liaison, now=LATER, version=report.version, submit=True)

    login_as(Role.OFFICE)
    queue = _page(client, "/review/")
    assert '<span class="badge status-submitted">待审核</span>' in queue and "已报送" not in queue
    page = _page(client, f"/reports/{report.id}")
    assert "待审核</span>" in page and "已提交" not in page and "草稿 → 待审核" in page

    token = create_token(liaison, name="t", now=LATER, actor=liaison)[1]
    body = client.get(f"/api/v1/reports/{report.id}", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert (body["status"], body["status_label"]) == ("submitted", "待审核")
    assert (body["progress"], body["progress_label"]) == ("on_track", "进展顺利")


def test_documents_stay_chinese_when_asked_for_in_english(evaluation):
    """PDFs and workbooks are Chinese documents whatever the language of the page that asks for them."""
    import io

    from flask_babel import force_locale
    from openpyxl import load_workbook

    from workflow.evaluation import documents
    from workflow.evaluation.workbook import build_workbook
    from workflow.labels import label

    ev, _office = evaluation
    with force_locale("en"):
        assert label("report_status", "approved") == "Approved"
        html = documents.render_html(ev, generated_at=ev.computed_at)
        data = build_workbook(ev)
    assert "报送及时性" in html and "Timeliness" not in html
    sheet = load_workbook(io.BytesIO(data))["报送记录"]
    statuses = {row[9] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert "已通过" in statuses and "Approved" not in statuses
