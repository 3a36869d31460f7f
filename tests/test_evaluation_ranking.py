"""The evaluation's ranking (issue 16) at its edges, on a small plan written for it: a department carrying
twenty lead tasks, one with two co-operating tasks done perfectly, one with a single co task; groups (the
default lead / co-only split, by kind, the office's own, none), the minimum of scored items, the workload
factor, bad group definitions refused with nothing saved, `evaluation compute --format json` with each
department's group, the rule on the page and in the PDF, and the sign-off's confirmation and warnings."""
from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from html import unescape

import pytest
import time_machine
from sqlalchemy import func, select

from models import AuditEvent, Contribution, Department, Period, Report, Role
from tests.conftest import import_text_plan, make_user
from tests.factories import liaison_of
from workflow.assignments.services import open_due_periods, publish_plan
from workflow.clock import LOCAL_TZ
from workflow.domain import Conflict, ValidationFailed
from workflow.evaluation import archive, scoring, services
from workflow.extensions import db
from workflow.reports.services import ReportInput, save_contribution, save_report
from workflow.review.services import approve_report

BIG, SMALL, ONE = "市甲局", "市乙局", "市丙局"     # 20 lead tasks · 2 co tasks · 1 co task
PLAN = "\n".join([
    "排名测试方案", "一、重点任务", "（一）统筹推进",
    *[f"{n}.推进第{n}项工作。（{BIG}牵头，{SMALL}配合）" for n in (1, 2)],
    f"3.推进第3项工作。（{BIG}牵头，{ONE}配合）",
    *[f"{n}.推进第{n}项工作。（{BIG}负责）" for n in range(4, 21)],
]) + "\n"


def at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=LOCAL_TZ).astimezone(UTC)


PUBLISHED = at(date(2026, 4, 1))
EVALUATED = at(date(2026, 7, 20))      # after the 2026Q2 deadline (07-07): Q1 and Q2 are counted


@pytest.fixture
def year(app):
    """Q1 and Q2 of 2026: 市甲局 files every report, Q1 on time and Q2 four days late, each approved at once
    (task score (30·mean(100, 80) + 20·100) / 50 = 94); 市乙局 and 市丙局 hand in every contribution on time."""
    plan = import_text_plan(PLAN, "ranking.txt")
    office = make_user(Role.OFFICE, username="office1")
    publish_plan(plan, actor=office, now=PUBLISHED, first_period="2026Q1")
    open_due_periods(plan, now=at(date(2026, 7, 2)))
    db.session.commit()
    periods = {p.key: p for p in db.session.scalars(select(Period).where(Period.plan_id == plan.id))}
    filed = Period.key.in_(["2026Q1", "2026Q2"])     # 2026Q3 has opened too, but is not due yet
    for report in db.session.scalars(select(Report).join(Period).where(Period.plan_id == plan.id, filed)).all():
        when = at(report.period.deadline - timedelta(days=1) if report.period.key == "2026Q1"
                  else report.period.deadline + timedelta(days=4))
        save_report(report, ReportInput(narrative="进展", percent_complete="50", progress="on_track", values={}),
                    actor=liaison_of(BIG), now=when, version=report.version, submit=True)
        approve_report(report, actor=office, now=when + timedelta(hours=2))
    for c in db.session.scalars(select(Contribution).join(Period).where(Period.plan_id == plan.id, filed)).all():
        save_contribution(c, "配合情况", actor=liaison_of(c.department.name), now=at(c.period.deadline - timedelta(days=2)),
                          version=c.version, submit=True)
    evaluation = services.get_or_create(plan, 2026, now=EVALUATED)
    services.compute_evaluation(evaluation, actor=office, now=EVALUATED)
    assert set(periods) >= {"2026Q1", "2026Q2"}
    return {"plan": plan, "office": office, "evaluation": evaluation}


def scores(evaluation) -> dict:
    return {s.department.name: s for s in evaluation.scores}


def tenth(value) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def settle(year, **values):
    services.update_settings(year["evaluation"], values, actor=year["office"], now=EVALUATED)
    return scores(year["evaluation"])


# -- the rule at its edges ----------------------------------------------------------------------------------------

def test_by_default_twenty_lead_tasks_are_not_ranked_below_two_co_tasks(year):
    ev = year["evaluation"]
    s = scores(ev)
    big, small, one = s[BIG], s[SMALL], s[ONE]
    # the scores themselves (and so the grades) are what the department did with what it was given
    assert (big.score, small.score, one.score) == (Decimal("94.0"), Decimal("100.0"), Decimal("100.0"))
    assert (big.parts["lead_tasks"], small.parts["co_tasks"], one.parts["co_tasks"]) == (20, 2, 1)
    assert (big.parts["due"], small.parts["due"], one.parts["due"]) == (40, 4, 2)
    # groups: the department that leads tasks is ranked among those that do, listed first
    assert (big.group_name, small.group_name, one.group_name) == ("牵头单位", "仅配合单位", "仅配合单位")
    assert [x.department.name for x in ev.scores] == [BIG, SMALL, ONE]
    assert big.position < small.position
    # the minimum of four scored items: two contributions are not enough to be ranked at all
    assert (big.rank, small.rank, one.rank) == (1, 1, None)
    # workload: 20 lead tasks (load 20); 2 co tasks at weight 0.5 (load 1), the largest of its group
    assert (big.parts["load"], small.parts["load"], one.parts["load"]) == (20, 1, 0.5)
    assert (big.parts["workload"], small.parts["workload"], one.parts["workload"]) == (100, 100, 50)
    assert big.ranking_score == tenth(Decimal("94.0") * Decimal("0.9") + 100 * Decimal("0.1"))    # 94.6
    assert one.ranking_score == tenth(100 * Decimal("0.9") + 50 * Decimal("0.1"))                 # 95.0


def test_in_one_group_the_workload_factor_keeps_twenty_lead_tasks_first(year):
    s = settle(year, group_by="none")
    big, small, one = s[BIG], s[SMALL], s[ONE]
    assert {big.group_name, small.group_name, one.group_name} == {"全部单位"}
    # loads 20, 1, 0.5 against the largest, 20: workload scores 100, 5, 2.5
    assert (big.parts["workload"], small.parts["workload"], one.parts["workload"]) == (100, 5, 2.5)
    assert (big.ranking_score, small.ranking_score) == (Decimal("94.6"), Decimal("90.5"))
    assert (big.rank, small.rank, one.rank) == (1, 2, None)
    # without the workload factor the two perfect contributions would come first: the factor is what does it
    s = settle(year, workload_weight="0")
    assert (s[SMALL].rank, s[BIG].rank) == (1, 2) and s[SMALL].ranking_score == s[SMALL].score


def test_the_minimum_of_items_at_its_edge(year):
    s = settle(year, min_items="4")
    assert s[SMALL].parts["due"] == 4 and s[SMALL].rank == 1          # exactly the minimum: ranked
    s = settle(year, min_items="5")
    assert s[SMALL].rank is None and s[BIG].rank == 1                  # one short: listed, not ranked
    s = settle(year, min_items="0")
    assert (s[SMALL].rank, s[ONE].rank) == (1, 2)                      # the larger co load first, then 市丙局
    with pytest.raises(ValidationFailed) as err:
        settle(year, min_items="2.5")
    assert "整数" in err.value.errors["min_items"]


def test_groups_by_kind_and_the_offices_own(year):
    for name, kind in ((BIG, "municipal"), (SMALL, "municipal"), (ONE, "county")):
        Department.lookup(name).kind = kind
    db.session.commit()
    s = settle(year, group_by="kind")
    assert (s[BIG].group_name, s[SMALL].group_name, s[ONE].group_name) == ("市直部门", "市直部门", "县区政府")
    assert (s[BIG].rank, s[SMALL].rank, s[ONE].rank) == (1, 2, None)
    s = settle(year, group_by="custom", groups=f"重点单位：{BIG}、{ONE}\n一般单位：{SMALL}")
    assert (s[BIG].group_name, s[ONE].group_name, s[SMALL].group_name) == ("重点单位", "重点单位", "一般单位")
    assert [x.group_name for x in year["evaluation"].scores] == ["重点单位", "重点单位", "一般单位"]
    assert scoring.effective_settings(year["evaluation"])["groups"] == [
        {"name": "重点单位", "departments": [BIG, ONE]}, {"name": "一般单位", "departments": [SMALL]}]


@pytest.mark.parametrize(("text", "message"), [
    (f"重点单位：{BIG}、{SMALL}", f"以下单位不在任何分组中：{ONE}"),
    (f"重点单位：{BIG}、{SMALL}、市不存在局\n其他：{ONE}", "第 1 行：没有名为“市不存在局”的单位"),
    (f"甲组：{BIG}、{SMALL}\n乙组：{SMALL}、{ONE}", f"“{SMALL}”同时在“甲组”和“乙组”两个分组中"),
    (f"甲组：{BIG}\n甲组：{SMALL}、{ONE}", "分组名称“甲组”已用过"),
    (f"{BIG}、{SMALL}、{ONE}", "第 1 行应为“组名：单位、单位”"),
    ("", "须填写分组"),
])
def test_bad_group_definitions_are_refused_and_nothing_is_saved(year, text, message):
    ev = year["evaluation"]
    before = dict(ev.settings or {})
    audits = db.session.scalar(select(func.count(AuditEvent.id)))
    with pytest.raises(ValidationFailed) as err:
        settle(year, group_by="custom", groups=text)
    assert message in err.value.errors["groups"]
    db.session.expire_all()
    assert (ev.settings or {}) == before and {s.group_name for s in ev.scores} == {"牵头单位", "仅配合单位"}
    assert db.session.scalar(select(func.count(AuditEvent.id))) == audits


def test_a_department_left_out_since_the_groups_were_set_blocks_the_sign_off(year):
    ev = year["evaluation"]
    settle(year, group_by="custom", groups=f"重点单位：{BIG}\n一般单位：{SMALL}、{ONE}")
    ev.settings = {**ev.settings, "groups": [{"name": "重点单位", "departments": [BIG, SMALL]}]}  # as if edited away
    db.session.commit()
    services.compute_evaluation(ev, actor=year["office"], now=EVALUATED)
    assert scores(ev)[ONE].group_name == scoring.UNGROUPED and scores(ev)[ONE].rank is None
    with pytest.raises(Conflict) as err:
        services.sign_off(ev, actor=make_user(Role.LEADER), now=EVALUATED)
    assert ONE in err.value.message
    db.session.expire_all()
    assert not ev.frozen


def test_compute_json_carries_each_departments_group(year, runner):
    plan = year["plan"]
    result = runner.invoke(args=["evaluation", "compute", "--plan", str(plan.id), "--year", "2026", "--now",
                                 "2026-07-20T09:00+08:00", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = {d["department"]: d for d in json.loads(result.stdout)["departments"]}
    assert {k: (v["group"], v["rank"], v["ranked"]) for k, v in rows.items()} == {
        BIG: ("牵头单位", 1, True), SMALL: ("仅配合单位", 1, True), ONE: ("仅配合单位", None, False)}
    assert rows[BIG]["ranking_score"] == 94.6 and rows[BIG]["score"] == 94.0
    assert rows[SMALL]["parts"]["workload"] == 100 and rows[BIG]["parts"]["load"] == 20
    table = runner.invoke(args=["evaluation", "compute", "--plan", str(plan.id), "--year", "2026", "--now",
                                "2026-07-20T09:00+08:00"])
    assert table.exit_code == 0 and "【牵头单位】" in table.stdout and "不排名" in table.stdout


# -- the page, the PDF, the sign-off --------------------------------------------------------------------------------

def page_text(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return unescape(response.get_data(as_text=True))


def test_the_page_shows_the_ranking_by_group_and_the_rule(year, client, login_as):
    ev = year["evaluation"]
    with time_machine.travel(EVALUATED, tick=False):
        login_as(Role.OFFICE)
        html = page_text(client, f"/evaluation/{ev.plan_id}/2026/")
    sections = re.findall(r'<section class="ranking-group[^>]*>\s*<h2[^>]*>(.*?) <span', html)
    assert sections == ["牵头单位", "仅配合单位"]
    co_section = html.split('id="group-2"', 1)[1]
    assert SMALL in co_section and ONE in co_section and BIG not in co_section.split("</section>", 1)[0]
    assert re.search(r'<tr class="unranked"><td>不排名</td>\s*<td><a [^>]*>' + ONE + r"</a></td>\s*<td[^>]*>95.0</td>",
                     html)
    plain = re.sub(r"\s+", "", html)
    assert "应报事项不少于4项的单位参与排名" in plain
    assert "排名得分=得分×90%+工作量得分×10%" in plain and "等次按得分评定" in plain

    # bad groups through the form: a field error, the typed text kept, nothing saved
    with time_machine.travel(EVALUATED, tick=False):
        bad = client.post(f"/evaluation/{ev.plan_id}/2026/settings", data={"group_by": "custom",
                                                                           "groups": f"重点：{BIG}"})
    text = unescape(bad.get_data(as_text=True))
    assert bad.status_code == 422 and f"以下单位不在任何分组中：{SMALL}、{ONE}" in text and f"重点：{BIG}" in text
    db.session.expire_all()
    assert scoring.effective_settings(ev)["group_by"] == "role"


def test_the_pdf_prints_the_rule_and_the_groups(year, tmp_path):
    from tests.test_evaluation_pdf import pdf_text

    ev = year["evaluation"]
    archived = archive.generate_pdf(ev, actor=year["office"], now=EVALUATED)
    text = "".join(pdf_text(archive.read_file(archived), tmp_path).split())
    assert "承担牵头任务的单位与仅承担配合任务的单位分开排名" in text
    assert "应报事项（报告和配合情况）不少于4项的单位参与排名" in text
    assert "排名得分=得分×90%+工作量得分×10%" in text and "工作量得分=本单位工作量÷组内最大工作量×100" in text
    assert "牵头单位1个单位，1个参与排名" in text and "仅配合单位2个单位，1个参与排名" in text
    assert "仅配合单位，不参与排名" in text


def test_the_sign_off_asks_for_confirmation_and_warns_while_periods_are_open(year, client, login_as):
    ev = year["evaluation"]
    url = f"/evaluation/{ev.plan_id}/2026/"
    with time_machine.travel(EVALUATED, tick=False):
        leader = login_as(Role.LEADER)
        html = page_text(client, url)
        assert "本年度还有报送期未截止" in html
        assert "2026年第三季度（2026Q3）" in html and "2026年第四季度（2026Q4）" in html
        assert "2026Q2）" not in html                       # its deadline has passed
        assert "我已核对各单位的得分、等次和分组排名" in html
        refused = client.post(url + "sign-off", data={"version": ev.version, "note": "同意"})
        assert refused.status_code == 422 and "请先勾选确认" in unescape(refused.get_data(as_text=True))
        db.session.expire_all()
        assert not ev.frozen
        assert client.post(url + "sign-off", data={"version": ev.version, "note": "同意",
                                                   "confirm": "y"}).status_code == 302
    db.session.expire_all()
    assert ev.frozen and ev.signed_off_by_id == leader.id
    # after the year's last deadline there is nothing to warn of
    assert services.open_periods(ev, date(2027, 1, 8)) == []
    assert [p.key for p in services.open_periods(ev, date(2027, 1, 7))] == ["2026Q4"]
