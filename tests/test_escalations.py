"""督办 (escalations): the services (listing, closing, the notice), the office's pages, who may see what, the
督办通知单 in HTML and PDF."""
from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, datetime
from urllib.parse import unquote

import pytest
import time_machine
from sqlalchemy import select, update

from models import AuditEvent, Department, Escalation, EscalationStatus, Role
from tests.conftest import ROOT, count_queries, make_user
from tests.factories import liaison_of, published_fushun, report_for
from workflow.domain import Conflict, PermissionDenied, ValidationFailed
from workflow.escalations import notices, services
from workflow.extensions import db
from workflow.reports.services import ReportInput, save_report
from workflow.review.services import return_report
from workflow.scheduling.reminders import run_reminders

PASS_AT = datetime(2026, 4, 20, 1, tzinfo=UTC)      # 09:00 in Shanghai, 8 working days after the 8 April deadline
CLOSE_AT = datetime(2026, 4, 20, 3, tzinfo=UTC)
HOUSING = "市住房城乡建设局"
NDRC = "市发展改革委"
RETURN_REASON = "清洁取暖率数据缺少统计口径说明"


@pytest.fixture
def world(app):
    """The bundled plan published on 1 April; 3.4.3 submitted on 7 April and returned on 8 April; one reminder
    pass on 20 April opens an escalation for every report and contribution still outstanding. The wall clock
    stays at 20 April, 11:00 in Shanghai (the pages count days late up to today)."""
    traveller = time_machine.travel(CLOSE_AT, tick=False)
    traveller.start()
    plan, office = published_fushun()
    report = report_for(plan, "3.4.3")
    liaison = liaison_of(HOUSING)
    save_report(report, ReportInput(narrative="已完成年度清洁取暖改造", percent_complete=30, progress="on_track",
                                    values={t.id: "90" for t in report.task.targets}),
                actor=liaison, now=datetime(2026, 4, 7, 2, tzinfo=UTC), version=report.version, submit=True)
    return_report(report, actor=office, now=datetime(2026, 4, 8, 2, tzinfo=UTC), reason=RETURN_REASON)
    result = run_reminders(now=PASS_AT)
    assert len(result["escalations_opened"]) >= 30
    yield {"plan": plan, "office": office, "returned_report": report, "opened": result["escalations_opened"]}
    traveller.stop()


def escalation_for(plan, code: str, department: str, *, cause: str | None = None) -> Escalation:
    q = (select(Escalation).join(Escalation.task).where(Escalation.plan_id == plan.id,
                                                           Escalation.department_id == Department.lookup(department).id)
         .where(Escalation.task.has(code=code)))
    if cause:
        q = q.where(Escalation.cause == cause)
    return db.session.scalars(q.order_by(Escalation.id)).first()


def tab_count(html: str, label: str) -> int:
    match = re.search(re.escape(label) + r'\s*<span class="badge[^"]*">(\d+)</span>', html)
    assert match, label
    return int(match.group(1))


def row_departments(html: str) -> set[str]:
    return set(re.findall(r'<tr id="esc-\d+">\s*<td class="small[^"]*">([^<]+)</td>', html))


# -- services ------------------------------------------------------------------------------------------------

def test_list_escalations_filters_and_order(world):
    plan = world["plan"]
    everything = services.list_escalations(status=None)
    opened = services.list_escalations(status="open")
    assert len(opened) == len(everything) == len(world["opened"])
    assert [e.opened_at for e in opened] == sorted(e.opened_at for e in opened)
    assert services.list_escalations(status="closed") == []
    housing = Department.lookup(HOUSING)
    mine = services.list_escalations(department_id=housing.id)
    assert mine and {e.department_id for e in mine} == {housing.id}
    assert len(services.list_escalations(plan_id=plan.id)) == len(opened)
    assert services.list_escalations(plan_id=plan.id + 1) == []
    assert services.escalation_counts() == {"open": len(opened), "closed": 0}
    assert services.escalation_counts(department_id=housing.id) == {"open": len(mine), "closed": 0}
    # a returned report left for five working days after its grace is escalated with its own cause
    returned = escalation_for(plan, "3.4.3", HOUSING, cause="returned")
    assert returned is not None and returned.report_id == world["returned_report"].id


def test_close_escalation_rules_and_audit(world):
    plan, office = world["plan"], world["office"]
    escalation = escalation_for(plan, "3.1.1", NDRC)
    for role, dept in ((Role.LEADER, None), (Role.ADMIN, None), (Role.DEPT_HEAD, NDRC), (Role.LIAISON, NDRC)):
        with pytest.raises(PermissionDenied):
            services.close_escalation(escalation, note="不需要了", actor=make_user(role, dept), now=CLOSE_AT)
    for note in ("", "   ", None):
        with pytest.raises(ValidationFailed) as exc:
            services.close_escalation(escalation, note=note, actor=office, now=CLOSE_AT)
        assert "note" in exc.value.errors
    with pytest.raises(ValidationFailed) as exc:
        services.close_escalation(escalation, note="长" * (services.NOTE_LIMIT + 1), actor=office, now=CLOSE_AT)
    assert "不能超过" in exc.value.errors["note"]
    assert escalation.is_open

    services.close_escalation(escalation, note="  已电话督促，单位已说明原因  ", actor=office, now=CLOSE_AT)
    db.session.expire_all()
    escalation = db.session.get(Escalation, escalation.id)
    assert escalation.status == EscalationStatus.CLOSED and escalation.close_reason == "office"
    assert escalation.closed_by_id == office.id and escalation.closed_at == CLOSE_AT
    assert escalation.close_note == "已电话督促，单位已说明原因"
    audit = db.session.scalars(select(AuditEvent).where(AuditEvent.object_type == "escalation",
                                                        AuditEvent.object_id == escalation.id)).all()
    assert [(a.action, a.from_state, a.to_state, a.actor_id, a.comment) for a in audit] == [
        ("escalation.close", "open", "closed", office.id, "已电话督促，单位已说明原因")]

    with pytest.raises(Conflict, match="已被关闭"):
        services.close_escalation(escalation, note="再关一次", actor=office, now=CLOSE_AT)
    assert services.escalation_counts()["closed"] == 1
    assert services.close_label(escalation) == "办公室：已电话督促，单位已说明原因"


def test_close_loses_to_a_concurrent_close_without_overwriting(world):
    plan, office = world["plan"], world["office"]
    escalation = escalation_for(plan, "3.1.2", NDRC)
    assert escalation.is_open  # loaded: this session believes it is open
    with db.engine.begin() as conn:  # meanwhile the reminder pass closes it on submission
        conn.execute(update(Escalation).where(Escalation.id == escalation.id)
                     .values(status="closed", close_reason="submitted", closed_at=PASS_AT))
    with pytest.raises(Conflict, match="自动关闭"):
        services.close_escalation(escalation, note="办公室关闭", actor=office, now=CLOSE_AT)
    db.session.expire_all()
    stored = db.session.get(Escalation, escalation.id)
    assert (stored.close_reason, stored.close_note, stored.closed_by_id) == ("submitted", "", None)
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.object_type == "escalation")) is None


def test_escalation_notice_contents(app, world):
    plan = world["plan"]
    escalation = escalation_for(plan, "3.4.3", NDRC)  # a contribution: 发展改革委 co-operates on 3.4.3
    if escalation is None or escalation.contribution_id is None:
        escalation = next(e for e in services.list_escalations() if e.contribution_id)
    n = services.escalation_notice(escalation)
    assert n["number"] == f"督办〔2026〕第 {escalation.notice.number} 号" and not n["provisional"]
    assert n["department"] == escalation.department.name
    assert n["task_code"] == escalation.task.code and n["task_title"] == escalation.task.title
    assert n["period_label"] == escalation.period.label == "2026年第一季度"
    assert n["deadline"].isoformat() == "2026-04-08" and n["deadline_text"] == "2026年4月8日"
    assert n["days_late"] == 8 == escalation.days_late
    assert n["cause"] == "逾期未报送" and n["role"] == "配合" and n["what"] == "配合工作情况"
    assert n["request"].startswith("请于收到本通知后 3 个工作日内报送并说明原因")
    assert n["office_name"] == "领导小组办公室"
    assert n["date_text"] == "2026年4月20日"
    assert "逾期 8 个工作日" in n["body"] and escalation.department.name not in n["body"]
    assert 0 < len(n["task_excerpt"]) <= notices.EXCERPT_CHARS + 2

    returned = escalation_for(plan, "3.4.3", HOUSING, cause="returned")
    r = services.escalation_notice(returned)
    assert r["cause"] == "退回后逾期未重新报送" and r["return_reason"] == RETURN_REASON
    assert r["deadline"].isoformat() == "2026-04-13"  # returned 8 April + 3 working days of grace
    assert r["role"] == "牵头" and "退回" in r["body"]

    # frozen when the escalation opened: a later setting changes the next notices, not this one
    app.config["OFFICE_NAME"] = "抚顺市碳达峰碳中和工作领导小组办公室"
    assert services.escalation_notice(returned)["office_name"] == "领导小组办公室"
    assert services.escalation_notice(returned)["date_text"] == "2026年4月20日"


# -- the list page -------------------------------------------------------------------------------------------

def test_office_list_counts_filters_and_history(client, login_as, world):
    plan = world["plan"]
    office = login_as(Role.OFFICE)
    html = client.get("/escalations/").get_data(as_text=True)
    total = len(world["opened"])
    assert tab_count(html, "未关闭") == total and tab_count(html, "已关闭（历史）") == 0
    assert "逾期未报送" in html and "退回后逾期未重新报送" in html and RETURN_REASON in html
    assert "8 个工作日" in html and "2026-04-20 09:00" in html
    assert html.count('name="note"') == 50  # one page of 50, each with a close form
    assert "/escalations/" in html and "/notice.pdf" in html

    housing = Department.lookup(HOUSING)
    filtered = client.get(f"/escalations/?department={housing.id}").get_data(as_text=True)
    assert row_departments(filtered) == {HOUSING}
    n_housing = len(services.list_escalations(department_id=housing.id))
    assert tab_count(filtered, "未关闭") == n_housing
    other_plan = client.get(f"/escalations/?plan={plan.id}&department=999999").get_data(as_text=True)
    assert tab_count(other_plan, "未关闭") == total  # unknown filter values are ignored

    # close one by hand; the reminder pass closes another on submission
    by_hand = escalation_for(plan, "3.1.1", NDRC)
    response = client.post(f"/escalations/{by_hand.id}/close?department={housing.id}",
                           data={"note": "单位已书面说明原因"})
    assert response.status_code == 302 and response.location.endswith(f"/escalations/?department={housing.id}")
    report = report_for(plan, "3.4.1")
    save_report(report, ReportInput(narrative="按期推进", percent_complete=25, progress="on_track",
                                    values={t.id: "1" for t in report.task.targets}),
                actor=liaison_of(report.department.name), now=CLOSE_AT, version=report.version, submit=True)
    run_reminders(now=datetime(2026, 4, 21, 1, tzinfo=UTC))

    page = client.get("/escalations/").get_data(as_text=True)
    assert "已关闭督办事项" in page  # the flash
    assert tab_count(page, "未关闭") == total - 2 and tab_count(page, "已关闭（历史）") == 2
    history = client.get("/escalations/?tab=closed").get_data(as_text=True)
    assert "办公室：" in history and "单位已书面说明原因" in history and office.display in history
    assert "自动：已报送" in history
    assert 'name="note"' not in history


def test_list_page_uses_a_bounded_number_of_queries(client, login_as, world):
    assert len(world["opened"]) >= 30
    for e in services.list_escalations()[:5]:
        services.close_escalation(e, note="已说明", actor=world["office"], now=CLOSE_AT)
    login_as(Role.OFFICE)
    client.get("/escalations/")  # warm-up
    for url in ("/escalations/", "/escalations/?tab=closed", "/escalations/?page=3",
                f"/escalations/?department={Department.lookup(NDRC).id}"):
        n = count_queries(lambda url=url: client.get(url))
        assert n <= 20, (url, n)


def test_close_errors_keep_the_typed_note(client, login_as, world):
    plan = world["plan"]
    login_as(Role.OFFICE)
    escalation = escalation_for(plan, "3.1.3", NDRC)
    response = client.post(f"/escalations/{escalation.id}/close", data={"note": "   "})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "关闭督办事项时必须填写说明" in html and "is-invalid" in html

    long_note = "已约谈单位负责人" + "并督促整改" * 500
    response = client.post(f"/escalations/{escalation.id}/close", data={"note": long_note})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert long_note in html and "不能超过" in html
    assert re.search(rf'<details class="close-item[^"]*" open>\s*<summary[^>]*>[^<]*</summary>\s*'
                     rf'<form method="post" action="/escalations/{escalation.id}/close', html)

    assert client.post(f"/escalations/{escalation.id}/close", data={"note": "已说明"}).status_code == 302
    response = client.post(f"/escalations/{escalation.id}/close", data={"note": "第二次关闭的说明"})
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "已被关闭" in html
    assert client.post("/escalations/999999/close", data={"note": "x"}).status_code == 404


# -- who may see what ----------------------------------------------------------------------------------------

def test_permission_matrix(client, login_as, world):
    plan = world["plan"]
    own = escalation_for(plan, "3.1.1", NDRC)
    other = escalation_for(plan, "3.4.1", HOUSING)
    reads = ("/escalations/", f"/escalations/{own.id}/notice", f"/escalations/{own.id}/notice.pdf")

    for role in (Role.LIAISON, Role.ADMIN):
        login_as(role, department=NDRC if role == Role.LIAISON else None)
        for url in reads:
            assert client.get(url).status_code == 403, (role, url)
        assert client.post(f"/escalations/{own.id}/close", data={"note": "x"}).status_code == 403

    login_as(Role.LEADER)
    html = client.get("/escalations/").get_data(as_text=True)
    assert "只读" in html and 'name="note"' not in html and "通知单" in html
    assert client.get(f"/escalations/{other.id}/notice").status_code == 200
    assert client.post(f"/escalations/{own.id}/close", data={"note": "领导关闭"}).status_code == 403

    login_as(Role.DEPT_HEAD, department=NDRC)
    html = client.get("/escalations/").get_data(as_text=True)
    assert row_departments(html) == {NDRC} and "只读" in html and 'name="note"' not in html
    assert tab_count(html, "未关闭") == len(services.list_escalations(department_id=own.department_id))
    forced = client.get(f"/escalations/?department={other.department_id}").get_data(as_text=True)
    assert row_departments(forced) == {NDRC}  # a head cannot filter its way into another department
    assert client.get(f"/escalations/{own.id}/notice").status_code == 200
    assert client.get(f"/escalations/{other.id}/notice").status_code == 403
    assert client.get(f"/escalations/{other.id}/notice.pdf").status_code == 403
    assert client.post(f"/escalations/{own.id}/close", data={"note": "x"}).status_code == 403

    db.session.expire_all()
    assert db.session.get(Escalation, own.id).is_open
    client.post("/logout")
    assert client.get("/escalations/").status_code == 302  # to the login page


# -- the 督办通知单 ------------------------------------------------------------------------------------------------

def test_notice_html(client, login_as, world):
    plan = world["plan"]
    escalation = escalation_for(plan, "3.4.3", HOUSING, cause="returned")
    login_as(Role.OFFICE)
    response = client.get(f"/escalations/{escalation.id}/notice")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert '<html lang="zh-CN">' in html
    assert "<h1>督办通知单</h1>" in html
    assert f"督办〔2026〕第 {escalation.notice.number} 号" in html
    assert f'<p class="addressee">{HOUSING}：</p>' in html
    assert "3.4.3" in html and escalation.task.title in html and "2026年第一季度" in html
    assert "退回后逾期未重新报送" in html and RETURN_REASON in html
    assert "请于收到本通知后 3 个工作日内报送并说明原因" in html
    assert 'class="signature"' in html and "领导小组办公室" in html
    assert "@media print" in html and 'id="print-button"' in html and 'src="/static/app.js"' in html
    assert "window.print()" in (ROOT / "static" / "app.js").read_text()  # no inline script (CSP)
    assert f"/escalations/{escalation.id}/notice.pdf" in html
    assert '"Noto Serif CJK SC", "Noto Sans CJK SC", serif' in html
    assert not re.search(r'(src|href)="(https?:)?//', html)  # nothing from outside


needs_poppler = pytest.mark.skipif(not shutil.which("pdftotext") or not shutil.which("pdffonts"),
                                   reason="poppler-utils not installed")


@needs_poppler
def test_notice_pdf(client, login_as, world, tmp_path):
    plan = world["plan"]
    escalation = escalation_for(plan, "3.4.3", HOUSING, cause="returned")
    login_as(Role.LEADER)
    response = client.get(f"/escalations/{escalation.id}/notice.pdf")
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/pdf"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert unquote(disposition.split("filename*=UTF-8''")[1]) == f"督办通知单-{HOUSING}-3.4.3-2026Q1.pdf"
    data = response.data
    assert data.startswith(b"%PDF")
    path = tmp_path / "notice.pdf"
    path.write_bytes(data)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout
    compact = re.sub(r"\s+", "", text)
    assert "督办通知单" in compact
    assert HOUSING in compact and RETURN_REASON in compact and f"第{escalation.notice.number}号" in compact
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout
    cjk = [line for line in fonts.splitlines() if "CJK" in line]
    assert cjk, fonts
    for line in cjk:
        assert line.split()[-5] == "yes", line  # emb


def test_notice_pdf_without_cjk_fonts_answers_503(client, login_as, world, monkeypatch):
    import pdf.render

    def no_rendering(*args, **kwargs):
        raise AssertionError("rendered although no CJK font is installed")

    monkeypatch.setattr(pdf.render, "cjk_font_available", lambda: False)
    monkeypatch.setattr(pdf.render, "_weasyprint", no_rendering)
    escalation = escalation_for(world["plan"], "3.1.1", NDRC)
    login_as(Role.OFFICE)
    response = client.get(f"/escalations/{escalation.id}/notice.pdf")
    assert response.status_code == 503
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "未安装中文字体（fonts-noto-cjk），无法生成 PDF：请安装后重试" in html
    assert f"/escalations/{escalation.id}/notice" in html  # the HTML notice still works
    assert client.get(f"/escalations/{escalation.id}/notice").status_code == 200


def test_odd_query_arguments_do_not_break_the_list(client, login_as, world):
    login_as(Role.OFFICE)
    for url in ("/escalations/?escalation_id=5&tab=nonsense&page=-3&plan=x",
                "/escalations/?page=999", "/escalations/?department=abc"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert 'action="/escalations/' in response.get_data(as_text=True)
