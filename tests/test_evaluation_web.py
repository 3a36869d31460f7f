"""年度评估 pages as the office, a leader, an admin and a department see them: opening and computing, the
ranking with its parts and grade distribution, the department page tracing each figure to its reports, settings
with field errors, ratings, milestones, adjusting with a mandatory reason, sign-off freezing, reopening, each
department's own score page and files only, and bad input never a 500.

Time is frozen at the fixture's evaluation date, so recomputing in a view gives the fixture's figures."""
from __future__ import annotations

import re
from html import unescape

import pytest
import time_machine

from models import Department, Role, Target, Task, User
from models.evaluation import Evaluation, EvaluationFile
from tests.conftest import EVALUATED_AT as NOW
from tests.factories import published_fushun, report_for
from workflow.evaluation import archive, services
from workflow.extensions import db

HOUSING = "市住房城乡建设局"
TRANSPORT = "市交通运输局"


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


def page(plan_id: int, year: int = 2026, tail: str = "") -> str:
    return f"/evaluation/{plan_id}/{year}/{tail}"


def text(response) -> str:
    return unescape(response.get_data(as_text=True))


def plain(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html)


def ranking_row(html: str, name: str) -> list[str]:
    """The cells of a department's row in the ranking table after its name and ranking score, tags stripped (since
    issue 16 the rank cell holds a number or 不排名, and the ranking score follows the name)."""
    match = re.search(r"<tr[^>]*><td>(?:\d+|不排名)</td>\s*<td><a [^>]*>" + re.escape(name)
                      + r'</a></td>\s*<td class="[^"]*ranking-score">[^<]*</td>(.*?)</tr>', html, re.S)
    assert match, name
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", match.group(1), re.S)]


def score_cell(html: str, name: str) -> str:
    return ranking_row(html, name)[0]


def task_card(html: str, code: str) -> str:
    """One task's card on a department page (up to the next card)."""
    start = re.search(rf'task-link"[^>]*>{re.escape(code)}</a>', html).start()   # its code, linked to the task
    end = html.find('<div class="card mb-2">', start)
    return html[start:end if end > 0 else None]


def target_id(plan, metric: str) -> int:
    return db.session.query(Target).filter(Target.plan_id == plan.id, Target.metric == metric).one().id


# -- the office -------------------------------------------------------------------------------------------

def test_the_office_opens_this_years_evaluation_from_the_list_and_sees_the_ranking(client, login_as):
    plan, _ = published_fushun()
    login_as(Role.OFFICE)
    before = text(client.get("/evaluation/"))
    assert plan.title in before and "未计算" in before and "开始计算" in before   # this year's row, not computed
    response = client.post("/evaluation/open", data={"plan": plan.id, "year": "2026"})
    assert response.status_code == 302 and response.headers["Location"].endswith(page(plan.id))
    html = text(client.get(page(plan.id)))
    evaluation = services.find_evaluation(plan, 2026)
    assert evaluation.scores and "草稿" in html
    for s in evaluation.scores:
        assert s.department.name in html and score_cell(html, s.department.name) == f"{s.score:.1f}"
    listed = text(client.get("/evaluation/"))
    assert "未计算" not in listed and f">{len(evaluation.scores)}</td>" in listed
    bad = client.post("/evaluation/open", data={"plan": plan.id, "year": "99999"})
    assert bad.status_code == 422 and "年度应为 2000–2100 之间的四位数字" in text(bad)
    assert 'value="99999"' in text(bad)     # what was typed stays
    no_plan = client.post("/evaluation/open", data={"plan": "", "year": "2026"})
    assert no_plan.status_code == 422 and "请选择实施方案" in text(no_plan)


def test_the_ranking_shows_each_part_the_base_deduction_and_the_grade_distribution(client, login_as, evaluation):
    ev, _ = evaluation
    login_as(Role.OFFICE)
    html = text(client.get(page(ev.plan_id)))
    housing = services.score_of(ev, Department.lookup(HOUSING))
    # score, grade, timeliness, quality, attainment, rating, base, deduction, adjustment (then, since issue 16,
    # the workload score)
    assert ranking_row(html, HOUSING)[:9] == [f"{housing.score:.1f}", housing.grade, "3.6", "100.0", "33.3", "—",
                                          "5.80", "0", "0"]
    assert ranking_row(html, TRANSPORT)[:5] == ["12.7", "较差", "7.5", "100.0", "45.5"]
    counts = {g: sum(1 for s in ev.scores if s.grade == g) for g in ("优秀", "良好", "一般", "较差")}
    for grade, n in counts.items():
        assert re.search(re.escape(grade) + r"</span> " + f"{n} 个", html), (grade, n)
    assert "权重 30" in html and "等次：优秀 ≥ 90，良好 ≥ 80，一般 ≥ 60，其余较差。" in html
    assert "签认并冻结" not in html    # the office does not sign off


def test_the_department_page_traces_every_figure_to_its_reports(client, login_as, evaluation):
    ev, _ = evaluation
    login_as(Role.OFFICE)
    housing = Department.lookup(HOUSING)
    html = text(client.get(page(ev.plan_id, tail=f"departments/{housing.id}")))
    assert "应报 48，按时 1，逾期 0，未报 47" in html and "牵头任务 4 项，配合任务 20 项" in html
    card = task_card(html, "3.4.3")
    filed = report_for(ev.plan, "3.4.3", "2026Q1", HOUSING)
    assert f'href="/reports/{filed.id}">2026Q1</a>' in card
    assert "2026-04-08" in card and "2026-04-07" in card and "已通过" in card
    assert "城市建成区清洁取暖率" in card and "97.00" in card and "目标值" in card and "97.0%" in card
    assert "<strong>81.3</strong>" in card      # the task's score: (50×30 + 100×20 + 100×30) / 80 = 81.25, half up

    transport = Department.lookup(TRANSPORT)
    card = task_card(text(client.get(page(ev.plan_id, tail=f"departments/{transport.id}"))), "3.5.1")
    assert "2026-04-10" in card and re.search(r'class="n late">2</td><td class="n">90</td>', card)
    assert "绿色出行比例" in card and "66.00" in card and "线性路径" in card and "90.9" in card


def test_settings_errors_come_back_on_the_form_and_nothing_changes(client, login_as, evaluation):
    ev, _ = evaluation
    login_as(Role.OFFICE)
    form = {"threshold_excellent": "70", "threshold_good": "80", "threshold_fair": "60", "weight_co": "abc"}
    response = client.post(page(ev.plan_id, tail="settings"), data=form)
    html = text(response)
    assert response.status_code == 422
    assert "配合任务权重应为数字" in html and 'value="abc"' in html and "<details open>" in html
    db.session.refresh(ev)
    assert not ev.settings
    descending = client.post(page(ev.plan_id, tail="settings"),
                             data={"threshold_excellent": "70", "threshold_good": "80", "threshold_fair": "60"})
    assert descending.status_code == 422 and "分数线应依次降低" in text(descending)
    for value in ("NaN", "1e999", "-1", "五十"):
        assert client.post(page(ev.plan_id, tail="settings"), data={"late_floor": value}).status_code == 422
    ok = client.post(page(ev.plan_id, tail="settings"), data={"weight_co": "1", "threshold_excellent": "95"})
    assert ok.status_code == 302
    db.session.refresh(ev)
    assert ev.settings["role_weights"]["co"] == 1.0 and ev.settings["thresholds"]["优秀"] == 95.0
    assert "优秀 ≥ 95.0" in text(client.get(page(ev.plan_id)))


def test_an_adjustment_needs_a_reason_and_moves_the_score(client, login_as, evaluation):
    ev, _ = evaluation
    office = login_as(Role.OFFICE)
    housing = Department.lookup(HOUSING)
    refused = client.post(page(ev.plan_id, tail="adjust"), data={"department": housing.id, "points": "+3",
                                                                  "reason": "  "})
    assert refused.status_code == 422 and "调整分数必须说明理由" in text(refused) and 'value="+3"' in text(refused)
    not_a_number = client.post(page(ev.plan_id, tail="adjust"), data={"department": housing.id, "points": "三",
                                                                       "reason": "x"})
    assert not_a_number.status_code == 422 and "调整分值应为数字" in text(not_a_number)
    done = client.post(page(ev.plan_id, tail="adjust"), data={"department": housing.id, "points": "+3",
                                                               "reason": "清洁取暖数据统计口径有误"})
    assert done.status_code == 302
    html = text(client.get(page(ev.plan_id)))
    assert ranking_row(html, HOUSING)[0] == "8.8" and ranking_row(html, HOUSING)[8] == "+3.0"   # 5.80 + 3
    assert "清洁取暖数据统计口径有误" in html
    detail = text(client.get(page(ev.plan_id, tail=f"departments/{housing.id}")))
    assert "+3.0 分：清洁取暖数据统计口径有误" in plain(detail) and f"（{office.display}，2026-11-24）" in detail


def test_the_office_rates_a_task_and_sets_a_milestone(client, login_as, evaluation):
    ev, _ = evaluation
    login_as(Role.OFFICE)
    housing, transport = Department.lookup(HOUSING), Department.lookup(TRANSPORT)
    task = next(t for t in ev.plan.tasks if t.code == "3.4.3")
    too_high = client.post(page(ev.plan_id, tail="rate"), data={"task": task.id, "score": "101"})
    assert too_high.status_code == 422 and "评分应在 0 到 100 之间" in text(too_high)
    assert client.post(page(ev.plan_id, tail="rate"),
                       data={"task": task.id, "score": "60", "comment": "取暖数据翔实"}).status_code == 302
    card = task_card(text(client.get(page(ev.plan_id, tail=f"departments/{housing.id}"))), "3.4.3")
    assert "办公室评价：60 分" in card and "取暖数据翔实" in card
    assert "<strong>77.0</strong>" in card      # (50×30 + 100×20 + 100×30 + 60×20) / 100

    green = target_id(ev.plan, "绿色出行比例")
    bad_year = client.post(page(ev.plan_id, tail="milestone"), data={"target": green, "year": "明年", "value": "1"})
    assert bad_year.status_code == 422 and "年份应为数字" in text(bad_year)
    assert client.post(page(ev.plan_id, tail="milestone"),
                       data={"target": green, "year": "2026", "value": "62"}).status_code == 302
    card = task_card(text(client.get(page(ev.plan_id, tail=f"departments/{transport.id}"))), "3.5.1")
    assert "62.00" in card and "节点值" in card and "96.8" in card      # 60 / 62
    assert client.post(page(ev.plan_id, tail="milestone"),
                       data={"target": green, "year": "2026", "value": ""}).status_code == 302
    card = task_card(text(client.get(page(ev.plan_id, tail=f"departments/{transport.id}"))), "3.5.1")
    assert "66.00" in card and "线性路径" in card


# -- leaders, admins, sign-off --------------------------------------------------------------------------------

def test_a_leader_signs_off_then_the_office_cannot_edit_until_it_reopens(client, login_as, evaluation):
    ev, _ = evaluation
    login_as(Role.OFFICE)
    assert client.post(page(ev.plan_id, tail="sign-off"), data={"version": ev.version}).status_code == 403
    leader = login_as(Role.LEADER)
    shown = text(client.get(page(ev.plan_id)))
    assert "签认并冻结" in shown and "调整单位分数" not in shown and "修改评估参数" not in shown
    # Since issue 16 the leader ticks a confirmation: without it nothing is signed and the note is kept
    unconfirmed = client.post(page(ev.plan_id, tail="sign-off"), data={"version": ev.version, "note": "同意上报"})
    assert unconfirmed.status_code == 422 and "请先勾选确认" in text(unconfirmed) and "同意上报" in text(unconfirmed)
    db.session.refresh(ev)
    assert not ev.frozen
    stale = client.post(page(ev.plan_id, tail="sign-off"), data={"version": ev.version + 5, "note": "同意上报",
                                                                  "confirm": "y"})
    assert stale.status_code == 409 and "请刷新后核对再签认" in text(stale) and "同意上报" in text(stale)
    assert f'name="version" type="hidden" value="{ev.version}"' in text(stale) and not ev.frozen
    garbage = client.post(page(ev.plan_id, tail="sign-off"), data={"version": "²", "confirm": "y"})
    assert garbage.status_code == 409 and not ev.frozen
    assert client.post(page(ev.plan_id, tail="sign-off"),
                       data={"version": ev.version, "note": "同意", "confirm": "y"}).status_code == 302
    db.session.refresh(ev)
    assert ev.frozen and ev.signed_off_by_id == leader.id
    frozen_page = text(client.get(page(ev.plan_id)))
    assert "已签认" in frozen_page and "签认意见：同意" in plain(frozen_page) and "签认并冻结" not in frozen_page
    assert client.post(page(ev.plan_id, tail="adjust"), data={}).status_code == 403   # leaders only read

    login_as(Role.OFFICE)
    housing = Department.lookup(HOUSING)
    frozen = client.post(page(ev.plan_id, tail="adjust"), data={"department": housing.id, "points": "2",
                                                                 "reason": "补充材料"})
    assert frozen.status_code == 409 and "已由领导签认并冻结" in text(frozen) and not ev.adjustments
    assert "重新开启的理由" in text(frozen)
    no_reason = client.post(page(ev.plan_id, tail="reopen"), data={"reason": ""})
    assert no_reason.status_code == 422 and "重新开启必须说明理由" in text(no_reason)
    assert client.post(page(ev.plan_id, tail="reopen"), data={"reason": "数据更正"}).status_code == 302
    db.session.refresh(ev)
    assert not ev.frozen
    assert "调整单位分数" in text(client.get(page(ev.plan_id)))


def test_an_admin_reads_everything_and_changes_nothing(client, login_as, evaluation):
    ev, _ = evaluation
    login_as(Role.ADMIN)
    html = text(client.get(page(ev.plan_id)))
    assert TRANSPORT in html and "调整单位分数" not in html and "签认并冻结" not in html
    transport = Department.lookup(TRANSPORT)
    assert client.get(page(ev.plan_id, tail=f"departments/{transport.id}")).status_code == 200
    for action in ("compute", "settings", "adjust", "rate", "milestone", "sign-off", "reopen"):
        assert client.post(page(ev.plan_id, tail=action), data={}).status_code == 403, action
    assert client.post("/evaluation/open", data={"plan": ev.plan_id, "year": "2026"}).status_code == 403


# -- departments -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("role", [Role.LIAISON, Role.DEPT_HEAD])
def test_a_department_sees_its_own_result_and_files_only(client, login_as, evaluation, role):
    ev, office = evaluation
    housing, transport = Department.lookup(HOUSING), Department.lookup(TRANSPORT)
    other = archive.generate_pdf(ev, department=transport, actor=office, now=NOW)
    whole = archive.generate_pdf(ev, actor=office, now=NOW)
    login_as(role, housing)
    index = text(client.get("/evaluation/"))
    own = services.score_of(ev, housing)
    assert TRANSPORT not in index and "本单位得分" in index and f"{own.score:.1f}" in index
    group_size = sum(1 for s in ev.scores if s.group_name == own.group_name)    # ranked within its group
    assert f"{own.rank} / {group_size}" in index and "开始计算" not in index
    assert client.get(page(ev.plan_id)).headers["Location"].endswith(f"departments/{housing.id}")
    response = client.get(page(ev.plan_id, tail=f"departments/{housing.id}"))
    html = text(response)
    assert response.status_code == 200 and "3.4.3" in html and TRANSPORT not in html
    assert other.filename not in html and whole.filename not in html
    assert client.get(page(ev.plan_id, tail=f"departments/{transport.id}")).status_code == 403
    assert client.get(f"/evaluation/files/{other.id}").status_code == 403
    assert client.get(f"/evaluation/files/{whole.id}").status_code == 403
    assert client.post(page(ev.plan_id, tail="files"), data={"kind": "xlsx"}).status_code == 403
    assert client.post(page(ev.plan_id, tail="files"), data={"kind": "pdf"}).status_code == 403
    assert client.post(page(ev.plan_id, tail="files"),
                       data={"kind": "pdf", "department": transport.id}).status_code == 403
    made = client.post(page(ev.plan_id, tail="files"), data={"kind": "pdf", "department": housing.id})
    assert made.status_code == 302
    download = client.get(made.headers["Location"])
    assert download.status_code == 200 and download.data.startswith(b"%PDF")
    assert download.mimetype == "application/pdf" and "attachment" in download.headers["Content-Disposition"]
    assert "filename*=UTF-8''" in download.headers["Content-Disposition"]
    listed = text(client.get(page(ev.plan_id, tail=f"departments/{housing.id}")))
    own_file = db.session.query(EvaluationFile).filter_by(department_id=housing.id).one()
    assert own_file.filename in listed
    for action in ("compute", "settings", "adjust", "rate", "milestone", "sign-off", "reopen"):
        assert client.post(page(ev.plan_id, tail=action), data={}).status_code == 403, action


def test_a_department_without_a_score_sees_no_evaluation(client, login_as, evaluation):
    ev, _ = evaluation
    from tests.conftest import make_department
    login_as(Role.LIAISON, make_department("市无任务局"))
    assert "本单位还没有年度评估结果" in text(client.get("/evaluation/"))
    assert client.get(page(ev.plan_id)).status_code == 403


# -- files -------------------------------------------------------------------------------------------------

def test_the_office_downloads_the_workbook_and_a_frozen_pdf_twice_as_the_same_bytes(client, login_as,
                                                                                    evaluation):
    ev, _ = evaluation
    office = login_as(Role.OFFICE)
    xlsx = client.get(client.post(page(ev.plan_id, tail="files"), data={"kind": "xlsx"}).headers["Location"])
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"
    assert xlsx.mimetype.endswith("spreadsheetml.sheet")
    services.sign_off(ev, actor=login_as(Role.LEADER), now=NOW)
    login_as(Role.OFFICE)   # another office user
    first = client.post(page(ev.plan_id, tail="files"), data={"kind": "pdf"}).headers["Location"]
    second = client.post(page(ev.plan_id, tail="files"), data={"kind": "pdf"}).headers["Location"]
    assert first == second and client.get(first).data == client.get(second).data
    frozen = db.session.query(EvaluationFile).filter_by(kind="pdf").one()
    html = text(client.get(page(ev.plan_id)))
    assert frozen.filename in html and f"sha256 {frozen.sha256[:12]}" in html and "签认版" in html
    assert office.display in html and "草稿" in html      # the workbook made before sign-off stays a draft
    assert "已作废" not in html
    services.reopen(ev, actor=office, now=NOW, reason="数据更正")
    reopened = text(client.get(page(ev.plan_id)))
    assert frozen.filename in reopened and "第 1 次签认版（已作废）" in reopened


def test_without_a_cjk_font_generating_a_pdf_answers_503_with_the_reason(client, login_as, evaluation,
                                                                          monkeypatch):
    import pdf.render

    monkeypatch.setattr(pdf.render, "cjk_font_available", lambda: False)
    ev, _ = evaluation
    login_as(Role.OFFICE)
    response = client.post(page(ev.plan_id, tail="files"), data={"kind": "pdf"})
    assert response.status_code == 503
    html = text(response)
    assert "未安装中文字体（fonts-noto-cjk）" in html and "apt-get install fonts-noto-cjk" in html
    assert f'href="{page(ev.plan_id)}"' in html
    assert db.session.query(EvaluationFile).count() == 0


# -- bad input -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("url", [
    "/evaluation/1/99999/", "/evaluation/999/2026/", "/evaluation/1/2026/departments/99999",
    "/evaluation/files/99999", "/evaluation/99999999999999999999999/2026/",
    "/evaluation/1/2026/departments/99999999999999999999999", "/evaluation/files/99999999999999999999999",
    "/evaluation/1/0/", "/evaluation/1/abc/",
])
def test_unknown_things_are_404_not_500(client, login_as, evaluation, url):
    login_as(Role.OFFICE)
    assert client.get(url).status_code == 404


def test_bad_form_input_is_never_a_500(client, login_as, evaluation):
    ev, _ = evaluation
    login_as(Role.OFFICE)
    huge = "9" * 30
    cases = [("rate", {"task": "abc"}), ("rate", {"task": "²"}), ("rate", {"task": huge}),
             ("rate", {"task": str(ev.plan.tasks[0].id), "score": "101"}),
             ("rate", {"task": str(ev.plan.tasks[0].id), "score": "12.5"}),
             ("milestone", {"target": "0"}), ("milestone", {"target": huge}), ("adjust", {"department": "x"}),
             ("adjust", {"department": huge}), ("files", {"kind": "exe"}), ("files", {"kind": "pdf", "department": huge}),
             ("adjust", {"department": str(Department.lookup(HOUSING).id), "points": "1e999", "reason": "x"}),
             ("adjust", {"department": str(Department.lookup(HOUSING).id), "points": "0", "reason": "x"}),
             ("milestone", {"target": str(target_id(ev.plan, "绿色出行比例")), "year": "2031", "value": "1"}),
             ("milestone", {"target": str(target_id(ev.plan, "绿色出行比例")), "year": "2026", "value": "多"}),
             ("reopen", {"reason": "x"})]
    for action, data in cases:
        status = client.post(page(ev.plan_id, tail=action), data=data).status_code
        assert status in (400, 404, 409, 422), (action, data, status)
    assert client.post("/evaluation/open", data={"plan": "²", "year": "２０２６"}).status_code == 422
    assert client.post("/evaluation/open", data={"plan": huge, "year": huge}).status_code == 422
    db.session.refresh(ev)
    assert not ev.adjustments and not ev.ratings and not ev.frozen


def test_the_pages_run_a_bounded_number_of_queries(client, login_as, evaluation):
    """More ratings, adjustments, milestones and files add rows, not queries. Each count starts from an empty
    session, so objects the test itself keeps loaded cannot hide a query."""
    from tests.conftest import count_queries

    ev, office = evaluation
    user = login_as(Role.OFFICE)
    housing = Department.lookup(HOUSING)
    urls = ["/evaluation/", page(ev.plan_id), page(ev.plan_id, tail=f"departments/{housing.id}")]
    ids = {"evaluation": ev.id, "office": office.id, "user": user.id,
           "tasks": [t.id for t in ev.plan.tasks if t.targets],
           "targets": [t.id for task in ev.plan.tasks for t in task.targets if t.year and t.year > 2026],
           "departments": [s.department_id for s in ev.scores]}

    def add(n: int, first: int = 0) -> None:
        evaluation = db.session.get(Evaluation, ids["evaluation"])
        people = {key: db.session.get(User, ids[key]) for key in ("office", "user")}
        for i in range(first, first + n):
            services.rate_task(evaluation, db.session.get(Task, ids["tasks"][i]), score=80, comment="按时",
                               actor=people["office"], now=NOW)
            services.adjust_score(evaluation, db.session.get(Department, ids["departments"][i]), points=1,
                                  reason="补充材料", actor=people["office"], now=NOW)
            archive.generate_workbook(evaluation, actor=people["office" if i % 2 else "user"], now=NOW)
        for target_id in ids["targets"][first:first + n]:
            services.set_milestone(evaluation, db.session.get(Target, target_id), year=2026, value=1,
                                   actor=people["office"], now=NOW)

    def counts() -> list[int]:
        result = []
        for url in urls:
            db.session.remove()
            result.append(count_queries(lambda url=url: client.get(url)))
        db.session.remove()
        return result

    add(1)
    few = counts()
    add(4, first=1)
    many = counts()
    assert many == few and max(many) <= 30, (few, many)


