"""The English catalog: the language switch shows English, every message has a translation, and the catalog
covers every string the sources mark for translation (so a new _('…') without an English line fails here)."""
from __future__ import annotations

import html as html_module
import re
from datetime import date, timedelta
from pathlib import Path

import pytest
import time_machine
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from sqlalchemy import String, Text, select

from models import Escalation, Report, Role, Task
from tests.conftest import FUSHUN, PASSWORD, import_text_plan, make_user
from tests.factories import PUBLISH_AT
from workflow.assignments.services import publish_plan
from workflow.escalations.notices import office_name
from workflow.extensions import db
from workflow.simulation import simulate

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
    for filename, lineno, message, _comments, context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=keywords):
        msgid = message[0] if isinstance(message, tuple) else message
        extracted.setdefault((msgid, context), f"{filename}:{lineno}")
    assert len(extracted) > 300
    missing = {msgid: where for (msgid, context), where in extracted.items()
               if po.get(msgid, context=context) is None or not po.get(msgid, context=context).string}
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


def test_a_request_looks_its_catalogue_up_once_and_a_forced_or_switched_locale_still_wins(app, monkeypatch):
    """workflow.i18n binds the catalogue once per context (a page names thousands of things) and reads Flask-Babel's
    locale as flask_babel.gettext does: force_locale() for its block, then back; refresh() after a switch."""
    from flask import g, session
    from flask_babel import force_locale, refresh

    from workflow import i18n
    from workflow.calendar.periods import period_name
    from workflow.labels import label

    looked_up = []
    real = i18n.get_translations
    monkeypatch.setattr(i18n, "get_translations", lambda: looked_up.append(1) or real())
    with app.test_request_context("/"):
        g.pop("_flask_babel", None)   # the tests' shared app context: begin as a fresh request does
        assert {label("report_status", "draft") for _ in range(100)} == {"草稿"}
        with force_locale("en"):
            assert {label("report_status", "draft") for _ in range(100)} == {"Draft"}
            assert period_name("2026Q1") == "2026 Q1"
        assert period_name("2026Q1") == "2026年第一季度" and label("weekday", 0) == "周一"
        assert len(looked_up) == 2   # Chinese once, English once; Chinese again from the binding force_locale kept
        session["locale"] = "en"
        refresh()
        assert label("report_status", "draft") == "Draft" and len(looked_up) == 3


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


# -- the main pages in English, as each role ------------------------------------------------------------------

HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
# A run of Chinese: what lies between markup and English words (digits, spaces and punctuation included).
CHINESE_RUN = re.compile(r"[^A-Za-z<>\"\n]*[\u3400-\u9fff\uf900-\ufaff][^A-Za-z<>\"\n]*")
# The part of a run from its first Chinese character to its last.
HAN_SPAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff](?:.*[\u3400-\u9fff\uf900-\ufaff])?", re.S)
# Stored texts that are the product's own words rather than the users': a period's label is named on pages from
# its key ("2026 Q1"), so it must not hide Chinese.
NOT_DATA = {("period", "label")}
WALK = {
    Role.LIAISON: ["/my/", "/reports/", "/reports/{report}", "/account/", "/account/inbox", "/ledger/",
                   "/targets/", "/evaluation/", "/bulletins/", "/instructions/", "/settings/",
                   "/tasks/{task}", "/search?q=3.4"],
    Role.DEPT_HEAD: ["/my/", "/reports/", "/reports/{report}", "/escalations/", "/ledger/"],
    Role.OFFICE: ["/review/", "/review/?status=approved", "/review/?status=returned", "/reports/{report}",
                  "/overview/", "/overview/plans/{plan}/tasks", "/escalations/", "/escalations/?tab=closed",
                  "/escalations/{escalation}", "/escalations/{escalation}/notice", "/ledger/", "/targets/", "/plans/",
                  "/plans/{plan}", "/plans/departments", "/evaluation/", "/bulletins/", "/instructions/",
                  "/settings/", "/settings/holidays", "/tasks/{task}"],
    Role.LEADER: ["/overview/", "/overview/plans/{plan}/tasks", "/evaluation/", "/instructions/", "/escalations/"],
    Role.ADMIN: ["/admin/users", "/admin/departments", "/admin/mailbox", "/settings/"],
}


def _user_texts() -> list[str]:
    """Every text stored in the database but the product's own (NOT_DATA): names, titles, narratives, reasons,
    notification subjects ..., and the office's name (a setting), longest first, so a text is removed before any
    part of it."""
    texts = set()
    for table in db.metadata.sorted_tables:
        columns = [c for c in table.columns if isinstance(c.type, (String, Text))
                   and (table.name, c.name) not in NOT_DATA]
        for column in columns:
            texts.update(v for v in db.session.scalars(select(column).distinct()) if v and HAN.search(v))
    texts.add(office_name())
    return sorted(texts, key=len, reverse=True)


def _chinese_outside(html: str, texts: list[str]) -> list[str]:
    """The Chinese left on a page that is not data: each run of Chinese (with its punctuation) must be an
    excerpt of eight characters or more of a stored text, or nothing once the stored texts in it are taken
    out (names joined by 、, a title in quotes); the switch back to 中文 aside."""
    page = html_module.unescape(html).replace("中文", "")
    data, whole = "\n".join(texts), re.compile("|".join(map(re.escape, texts)) or "$^")
    found = []
    for m in CHINESE_RUN.finditer(page):
        run, span = m.group(), HAN_SPAN.search(m.group()).group()
        if len(span) >= 8 and span in data or not HAN.search(whole.sub("", run)):
            continue
        found.append(page[max(0, m.start() - 30):m.end() + 30].replace("\n", " "))
    return found


def test_main_pages_in_english_show_no_chinese_but_the_data(app, client):
    """A played quarter and a half (returns, late reports, escalations, a notice): each role's main pages, in
    English, show Chinese only where users wrote it."""
    plan = import_text_plan(FUSHUN, FUSHUN.name)
    publish_plan(plan, actor=None, now=PUBLISH_AT, first_period="2026Q1")
    simulate(plan, until=date(2026, 7, 20), seed=3)
    report = db.session.scalar(select(Report).where(Report.status == "returned").order_by(Report.id)) or \
        db.session.scalar(select(Report).order_by(Report.id))
    escalation = db.session.scalar(select(Escalation).order_by(Escalation.id))
    task = db.session.get(Task, report.task_id)
    ids = {"report": report.id, "plan": plan.id, "task": task.id, "escalation": escalation.id if escalation else 0}
    people = {role: make_user(role, report.department if role in (Role.LIAISON, Role.DEPT_HEAD) else None)
              for role in WALK}
    texts = _user_texts()
    problems = []
    with time_machine.travel("2026-07-20T10:00+08:00", tick=False):
        for role, paths in WALK.items():
            _switch_to_english(client)
            client.post("/logout")
            _switch_to_english(client)
            assert client.post("/login", data={"username": people[role].username,
                                               "password": PASSWORD}).status_code == 302
            for path in paths:
                if "{escalation}" in path and not ids["escalation"]:
                    continue
                url = path.format(**ids)
                response = client.get(url)
                if response.status_code != 200:
                    problems.append(f"{role} {url}: HTTP {response.status_code}")
                    continue
                problems += [f"{role} {url}: …{hit}…" for hit in _chinese_outside(response.get_data(as_text=True),
                                                                                 texts)[:3]]
    assert not problems, "\n".join(problems[:40])


def _messages_on(html: str) -> list[str]:
    """The refusals a page shows: field errors and error alerts, their text only."""
    found = re.findall(r'class="invalid-feedback[^"]*"[^>]*>(.*?)</div>|class="alert alert-danger[^"]*"[^>]*>(.*?)</div>',
                       html, re.S)
    return [re.sub(r"<[^>]+>", " ", a or b).strip() for a, b in found]


def test_validation_messages_in_english(app, client):
    """Refused input in English: the web forms' field errors (WTForms' own and the services') and the API's
    problem details carry no Chinese."""
    from workflow.auth.tokens import create_token

    _switch_to_english(client)
    html = client.post("/login", data={"username": "", "password": ""}).get_data(as_text=True)
    assert _messages_on(html) and not [m for m in _messages_on(html) if HAN.search(m)], _messages_on(html)

    plan = import_text_plan(FUSHUN, FUSHUN.name)
    publish_plan(plan, actor=None, now=PUBLISH_AT, first_period="2026Q1")
    report = db.session.scalar(select(Report).order_by(Report.id))
    liaison = make_user(Role.LIAISON, report.department)
    with time_machine.travel(LATER, tick=False):
        assert client.post("/login", data={"username": liaison.username, "password": PASSWORD}).status_code == 302
        _switch_to_english(client)
        form = {"narrative": "", "percent_complete": "abc", "progress": "nonsense", "version": str(report.version),
                "submit": "1", **{f"value-{t.id}": "x" for t in report.task.targets}}
        response = client.post(f"/reports/{report.id}", data=form)
        assert response.status_code == 422
        messages = _messages_on(response.get_data(as_text=True))
        assert len(messages) >= 3 and not [m for m in messages if HAN.search(m)], messages

        token = create_token(liaison, name="t", now=LATER, actor=liaison)[1]
        for headers in ({"Authorization": f"Bearer {token}", "Accept-Language": "en"},
                        {"Authorization": "Bearer nonsense", "Accept-Language": "en-GB,en;q=0.9"}):
            for response in (client.patch(f"/api/v1/reports/{report.id}", headers=headers,
                                          json={"version": report.version, "percent_complete": "abc"}),
                             client.get("/api/v1/reports/999999", headers=headers),
                             client.post(f"/api/v1/reports/{report.id}/withdraw", headers=headers)):
                problem = response.get_json()
                assert response.status_code >= 400 and problem["detail"], problem
                assert not HAN.search(str(problem)), problem
        chinese = app.test_client().get("/api/v1/reports/999999",
                                        headers={"Authorization": f"Bearer {token}"}).get_json()
        assert HAN.search(chinese["detail"])   # without a choice the API answers in Chinese, as the pages do
