"""年度评估 pages as the office, a leader and a department see them: computing, settings with field errors,
adjusting with a mandatory reason, sign-off freezing, reopening, each department's own score page and files
only, and bad input never a 500."""
from __future__ import annotations

import re

import pytest

from models import Department, Role
from models.evaluation import EvaluationFile
from tests.conftest import EVALUATED_AT as NOW
from tests.factories import published_fushun
from workflow.evaluation import documents, services
from workflow.extensions import db

HOUSING = "市住房城乡建设局"
TRANSPORT = "市交通运输局"


def page(plan_id: int, year: int = 2026, tail: str = "") -> str:
    return f"/evaluation/{plan_id}/{year}/{tail}"


def score_cell(html: str, name: str) -> str:
    """The score printed after a department's name in the ranking table."""
    match = re.search(re.escape(name) + r"</a></td>\s*<td class=\"n fw-bold\">([^<]+)</td>", html)
    assert match, name
    return match.group(1)


def test_the_office_opens_an_evaluation_and_sees_the_ranking(app, client, login_as):
    plan, _ = published_fushun()
    login_as(Role.OFFICE)
    assert "年度评估" in client.get("/evaluation/").get_data(as_text=True)
    response = client.post("/evaluation/open", data={"plan": plan.id, "year": "2026"})
    assert response.status_code == 302 and response.headers["Location"].endswith(page(plan.id))
    html = client.get(page(plan.id)).get_data(as_text=True)
    evaluation = services.find_evaluation(plan, 2026)
    assert evaluation.scores and "草稿" in html
    for s in evaluation.scores:
        assert s.department.name in html and score_cell(html, s.department.name) == f"{s.score:.1f}"
    bad = client.post("/evaluation/open", data={"plan": plan.id, "year": "99999"}, follow_redirects=True)
    assert bad.status_code == 200 and "年度应为" in bad.get_data(as_text=True)


def test_settings_errors_come_back_on_the_form_and_nothing_changes(client, login_as, evaluation):
    ev, _ = evaluation
    login_as(Role.OFFICE)
    form = {"threshold_excellent": "70", "threshold_good": "80", "threshold_fair": "60", "weight_co": "abc"}
    response = client.post(page(ev.plan_id, tail="settings"), data=form)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "配合任务权重应为数字" in html
    db.session.refresh(ev)
    assert not ev.settings
    ok = client.post(page(ev.plan_id, tail="settings"), data={"weight_co": "1", "threshold_excellent": "95"})
    assert ok.status_code == 302
    db.session.refresh(ev)
    assert ev.settings["role_weights"]["co"] == 1.0 and ev.settings["thresholds"]["优秀"] == 95.0


def test_an_adjustment_needs_a_reason_and_moves_the_score(client, login_as, evaluation):
    ev, _ = evaluation
    login_as(Role.OFFICE)
    housing = Department.lookup(HOUSING)
    before = services.score_of(ev, housing).score
    refused = client.post(page(ev.plan_id, tail="adjust"), data={"department": housing.id, "points": "-3",
                                                                  "reason": "  "})
    assert refused.status_code == 422 and "调整分数必须说明理由" in refused.get_data(as_text=True)
    not_a_number = client.post(page(ev.plan_id, tail="adjust"), data={"department": housing.id, "points": "三",
                                                                       "reason": "x"})
    assert not_a_number.status_code == 422 and "调整分值应为数字" in not_a_number.get_data(as_text=True)
    done = client.post(page(ev.plan_id, tail="adjust"), data={"department": housing.id, "points": "-3",
                                                               "reason": "清洁取暖数据统计口径有误"})
    assert done.status_code == 302
    html = client.get(page(ev.plan_id)).get_data(as_text=True)
    expected = max(before - 3, 0)
    assert score_cell(html, HOUSING) == f"{expected:.1f}" and "清洁取暖数据统计口径有误" in html
    detail = client.get(page(ev.plan_id, tail=f"departments/{housing.id}")).get_data(as_text=True)
    assert "清洁取暖数据统计口径有误" in detail and "-3.0" in detail


def test_a_leader_signs_off_then_the_office_cannot_edit_until_it_reopens(client, login_as, evaluation):
    ev, _ = evaluation
    login_as(Role.OFFICE)
    assert client.post(page(ev.plan_id, tail="sign-off"), data={"version": ev.version}).status_code == 403
    leader = login_as(Role.LEADER)
    stale = client.post(page(ev.plan_id, tail="sign-off"), data={"version": ev.version + 5}, follow_redirects=True)
    assert "请刷新后核对再签认" in stale.get_data(as_text=True) and not ev.frozen
    assert client.post(page(ev.plan_id, tail="sign-off"),
                       data={"version": ev.version, "note": "同意"}).status_code == 302
    db.session.refresh(ev)
    assert ev.frozen and ev.signed_off_by_id == leader.id
    assert client.post(page(ev.plan_id, tail="adjust"), data={}).status_code == 403   # leaders only read

    login_as(Role.OFFICE)
    housing = Department.lookup(HOUSING)
    frozen = client.post(page(ev.plan_id, tail="adjust"), data={"department": housing.id, "points": "2",
                                                                 "reason": "补充材料"}, follow_redirects=True)
    assert "已由领导签认并冻结" in frozen.get_data(as_text=True) and not ev.adjustments
    no_reason = client.post(page(ev.plan_id, tail="reopen"), data={"reason": ""})
    assert no_reason.status_code == 422 and "重新开启必须说明理由" in no_reason.get_data(as_text=True)
    assert client.post(page(ev.plan_id, tail="reopen"), data={"reason": "数据更正"}).status_code == 302
    db.session.refresh(ev)
    assert not ev.frozen


def test_a_department_sees_its_own_result_and_files_only(client, login_as, evaluation):
    ev, office = evaluation
    housing, transport = Department.lookup(HOUSING), Department.lookup(TRANSPORT)
    other = documents.generate_pdf(ev, department=transport, actor=office, now=NOW)
    whole = documents.generate_pdf(ev, actor=office, now=NOW)
    login_as(Role.LIAISON, housing)
    index = client.get("/evaluation/").get_data(as_text=True)
    assert TRANSPORT not in index
    assert client.get(page(ev.plan_id)).headers["Location"].endswith(f"departments/{housing.id}")
    own = client.get(page(ev.plan_id, tail=f"departments/{housing.id}"))
    assert own.status_code == 200 and "3.4.3" in own.get_data(as_text=True)
    assert client.get(page(ev.plan_id, tail=f"departments/{transport.id}")).status_code == 403
    assert client.get(f"/evaluation/files/{other.id}").status_code == 403
    assert client.get(f"/evaluation/files/{whole.id}").status_code == 403
    assert client.post(page(ev.plan_id, tail="files"), data={"kind": "xlsx"}).status_code == 403
    assert client.post(page(ev.plan_id, tail="files"),
                       data={"kind": "pdf", "department": transport.id}).status_code == 403
    made = client.post(page(ev.plan_id, tail="files"), data={"kind": "pdf", "department": housing.id})
    assert made.status_code == 302
    download = client.get(made.headers["Location"])
    assert download.status_code == 200 and download.data.startswith(b"%PDF")
    assert download.mimetype == "application/pdf" and "attachment" in download.headers["Content-Disposition"]
    assert client.post(page(ev.plan_id, tail="settings"), data={}).status_code == 403


def test_the_office_downloads_the_workbook_and_a_frozen_pdf_twice_as_the_same_bytes(client, login_as,
                                                                                    evaluation):
    ev, _ = evaluation
    login_as(Role.OFFICE)
    xlsx = client.get(client.post(page(ev.plan_id, tail="files"), data={"kind": "xlsx"}).headers["Location"])
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"
    services.sign_off(ev, actor=login_as(Role.LEADER), now=NOW)
    first = client.post(page(ev.plan_id, tail="files"), data={"kind": "pdf"}).headers["Location"]
    second = client.post(page(ev.plan_id, tail="files"), data={"kind": "pdf"}).headers["Location"]
    assert first == second and client.get(first).data == client.get(second).data
    assert db.session.query(EvaluationFile).filter_by(kind="pdf").count() == 1


@pytest.mark.parametrize("url", [
    "/evaluation/1/99999/", "/evaluation/999/2026/", "/evaluation/1/2026/departments/99999",
    "/evaluation/files/99999",
])
def test_unknown_things_are_404_not_500(client, login_as, evaluation, url):
    login_as(Role.OFFICE)
    assert client.get(url).status_code == 404


def test_bad_form_input_is_never_a_500(client, login_as, evaluation):
    ev, _ = evaluation
    login_as(Role.OFFICE)
    cases = [("rate", {"task": "abc"}), ("rate", {"task": str(ev.plan.tasks[0].id), "score": "101"}),
             ("milestone", {"target": "0"}), ("adjust", {"department": "x"}), ("files", {"kind": "exe"}),
             ("milestone", {"target": str(ev.plan.tasks[3].targets[0].id) if ev.plan.tasks[3].targets else "0",
                            "year": "abc", "value": "1"})]
    for action, data in cases:
        status = client.post(page(ev.plan_id, tail=action), data=data).status_code
        assert status in (400, 404, 422), (action, data, status)
