"""Search (搜索) on whichever database the suite runs on (SQLite: FTS5 trigram tables; PostgreSQL: pg_trgm): who
finds what, ranking, highlighting, queries of one and two characters, terms that look like syntax, paging, the
index following every write, and the page itself."""
from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
import time_machine
from markupsafe import Markup
from sqlalchemy import delete, select, text

from models import Department, DepartmentAlias, Period, Report, Role, Task
from tests.conftest import count_queries, make_user
from tests.factories import published_plan
from workflow.extensions import db
from workflow.reports.services import ReportInput, save_report
from workflow.search import services as search_services
from workflow.search.services import excerpt, highlight, parse_query, search

A, B = "市甲局", "市乙局"
PLAN = f"""搜索测试方案
一、重点任务
（一）能源
1.推进光伏发电项目建设。到2026年，新增装机达到100兆瓦。（{A}牵头，{B}配合）
2.开展建筑节能改造。推广光伏建筑一体化，打造示范工程，由各区住建局组织。（{B}牵头）
3.实施清洁取暖工程。覆盖率达100%的村镇给予奖励，项目编号沿用A_1格式。（{A}负责）
4.加强碳达峰宣传教育。面向干部开展ABC专题培训。（{B}负责）
"""
PUBLISHED = datetime(2026, 4, 1, 1, tzinfo=UTC)
NOW = datetime(2026, 4, 7, 2, tzinfo=UTC)
# Narratives by department: A's must never reach B's people, nor B's A's.
A_REPORT, A_DRAFT = "<b>光伏</b>组件已安装 & 并网发电", "甲局草稿：取暖改造进行中"
B_REPORT, B_DRAFT = "乙局机密：光伏屋顶已完工", "乙局草稿：碳达峰宣讲"


def write(report: Report, narrative: str, submit: bool) -> Report:
    liaison = make_user(Role.LIAISON, report.department)
    return save_report(report, ReportInput(narrative=narrative, percent_complete="30", progress="on_track",
                                           values={t.id: "1" for t in report.task.targets}),
                       actor=liaison, now=NOW, version=report.version, submit=submit)


def q1_report(plan, code: str) -> Report:
    return db.session.scalar(select(Report).join(Task).join(Period).where(
        Task.plan_id == plan.id, Task.code == code, Period.key == "2026Q1"))


@pytest.fixture
def plan(app):
    with time_machine.travel(NOW, tick=False):
        plan, _office = published_plan(PLAN, "search.txt", now=PUBLISHED)
        write(q1_report(plan, "1.1.1"), A_REPORT, True)
        write(q1_report(plan, "1.1.3"), A_DRAFT, False)
        write(q1_report(plan, "1.1.2"), B_REPORT, True)
        write(q1_report(plan, "1.1.4"), B_DRAFT, False)
        db.session.add(DepartmentAlias(department_id=Department.lookup(A).id, name="市能源局"))
        db.session.commit()
        yield plan


def user(role: str, department: str | None = None):
    return make_user(role, Department.lookup(department) if department else None)


def found(results) -> list[str]:
    """The hits of a page as 'task 1.1.1', 'report 1.1.2', 'department 市甲局'."""
    return [f"{h.kind} {h.item.name if h.kind == 'department' else (h.item.code if h.kind == 'task' else h.item.task.code)}"
            for h in results.page.items]


def test_office_finds_tasks_reports_and_departments_best_first(plan):
    office = user(Role.OFFICE)
    results = search(office, "光伏")
    assert results.counts == {"department": 0, "task": 2, "report": 2}
    hits = found(results)
    assert hits[0] == "task 1.1.1"   # the term is in its title
    assert sorted(hits[1:]) == ["report 1.1.1", "report 1.1.2", "task 1.1.2"]   # only in their text
    assert results.page.items[0].title == Markup("1.1.1 推进<mark>光伏</mark>发电项目建设")

    assert found(search(office, "1.1.3"))[0] == "task 1.1.3"          # an exact code comes first
    assert found(search(office, "碳达峰")) == ["task 1.1.4", "report 1.1.4"]   # title before narrative
    assert found(search(office, "市甲局")) == [f"department {A}"]
    assert found(search(office, "能源局")) == [f"department {A}"]    # by an alias
    assert str(search(office, "能源局").page.items[0].excerpt) == "市<mark>能源局</mark>"


def test_hits_are_escaped_then_marked(plan, client, login_as):
    office = user(Role.OFFICE)
    [report] = [h for h in search(office, "光伏").page.items if h.kind == "report" and h.item.task.code == "1.1.1"]
    assert str(report.excerpt) == "&lt;b&gt;<mark>光伏</mark>&lt;/b&gt;组件已安装 &amp; 并网发电"
    assert str(highlight("Abc abc <i>", ("ABC",))) == "<mark>Abc</mark> <mark>abc</mark> &lt;i&gt;"
    long = "甲" * 200 + "光伏" + "乙" * 200
    cut = str(excerpt(long, ("光伏",)))
    assert cut.startswith("…") and cut.endswith("…") and "<mark>光伏</mark>" in cut and len(cut) < 120
    login_as(Role.OFFICE)
    page = client.get("/search?q=<script>光伏").get_data(as_text=True)
    assert "<script>光伏" not in page and "&lt;script&gt;光伏" in page


@pytest.mark.parametrize(("q", "expected"), [
    ("伏", ["task 1.1.1", "task 1.1.2", "report 1.1.1", "report 1.1.2"]),   # one character
    ("光伏", ["task 1.1.1", "task 1.1.2", "report 1.1.1", "report 1.1.2"]),  # two: below a trigram
    ("取暖", ["task 1.1.3", "report 1.1.3"]),
    ("光伏 示范", ["task 1.1.2"]),             # every term must occur
    ("示范工程 光伏", ["task 1.1.2"]),         # a long and a short term
    ("光伏发电 100", ["task 1.1.1"]),
    ("abc", ["task 1.1.4"]),                   # letters in any case
])
def test_short_and_several_terms(plan, q, expected):
    assert sorted(found(search(user(Role.OFFICE), q))) == sorted(expected)


@pytest.mark.parametrize(("q", "expected"), [
    ("100%", ["task 1.1.3"]), ("%", ["task 1.1.3"]), ("_", ["task 1.1.3"]), ("A_1", ["task 1.1.3"]),
    ("A%1", []), ("__", []), ("%%%", []), ("\\", []), ("'", []), ("''", []), ('"', []), ('"光伏"', []),
    ('光伏"', []), ("*", []), ("ABC*", []), ("NEAR", []), ("光伏 NEAR 建筑", []), ("NEAR(光伏 建筑)", []),
    ("光伏 OR 取暖", []), ("AND", []), ("-光伏", []), ("^光伏", []), ("title:光伏", []), ("{code}:1.1.1", []),
    ("'; DROP TABLE task; --", []), ("光伏)", []), ("(", []),
])
def test_special_characters_are_looked_for_as_typed(plan, client, login_as, q, expected):
    assert sorted(found(search(user(Role.OFFICE), q))) == expected
    login_as(Role.LIAISON, department=A)
    assert client.get("/search", query_string={"q": q}).status_code == 200


@pytest.mark.parametrize("role", [Role.LIAISON, Role.DEPT_HEAD])
def test_a_department_finds_only_its_own_reports_and_tasks(plan, client, login_as, role):
    b_person = user(role, B)
    assert sorted(found(search(b_person, "光伏"))) == ["report 1.1.2", "task 1.1.1", "task 1.1.2"]  # co on 1.1.1
    assert sorted(found(search(b_person, "局"))) == [f"department {B}", "report 1.1.2", "report 1.1.4", "task 1.1.2"]
    for q in ("甲局", "取暖", "并网", "组件"):
        assert not [h for h in found(search(b_person, q)) if h.startswith("report")], q
    a_person = user(role, A)
    assert sorted(found(search(a_person, "光伏"))) == ["report 1.1.1", "task 1.1.1"]   # 1.1.2 is B's alone
    assert found(search(a_person, "乙局")) == [] and found(search(a_person, "碳达峰")) == []
    assert found(search(a_person, B)) == [] and found(search(a_person, "局")) == [f"department {A}", "report 1.1.3"]

    login_as(role, department=B)
    for q in ("光伏", "草稿", "局", "取暖", "甲局"):
        page = client.get("/search", query_string={"q": q}).get_data(as_text=True)
        assert "组件已安装" not in page and "甲局草稿" not in page, q


@pytest.mark.parametrize("role", [Role.OFFICE, Role.LEADER, Role.ADMIN])
def test_the_office_leaders_and_admins_find_everything_drafts_included(plan, role):
    everyone = user(role)
    assert sorted(found(search(everyone, "草稿"))) == ["report 1.1.3", "report 1.1.4"]
    assert {h for h in found(search(everyone, "局"))} >= {f"department {A}", f"department {B}"}


def test_results_page_through_in_a_stable_order(plan, client, login_as):
    office = user(Role.OFFICE)
    pages = [search(office, "1.1", page=n, per_page=3) for n in (1, 2)]
    assert [len(p.page.items) for p in pages] == [3, 1] and pages[0].page.total == 4
    assert sorted(found(pages[0]) + found(pages[1])) == ["task 1.1.1", "task 1.1.2", "task 1.1.3", "task 1.1.4"]
    assert found(search(office, "1.1", page=99, per_page=3)) == found(pages[1])   # past the end: the last page
    assert found(search(office, "光伏", kind="report")) and \
        all(h.startswith("report") for h in found(search(office, "光伏", kind="report")))
    assert search(office, "光伏", kind="report").counts["task"] == 2   # the counts are over every kind
    assert search(office, "   ").query is None and parse_query("a " * 50).terms == ("a",)

    login_as(Role.OFFICE)
    page = client.get("/search?q=光伏&kind=task").get_data(as_text=True)
    assert 'href="/search?q=%E5%85%89%E4%BC%8F&amp;kind=report"' in page and "组件已安装" not in page
    assert re.search(r'class="hit-title" href="/tasks/\d+"', page)   # a task links to its page


def test_without_pg_trgm_search_still_answers(plan, monkeypatch):
    """A PostgreSQL role that may not create pg_trgm (the migration then skips it and its indexes): ILIKE alone,
    ranked by the tiers without similarity()."""
    monkeypatch.setattr(search_services, "_trigram", lambda: False)
    assert found(search(user(Role.OFFICE), "碳达峰")) == ["task 1.1.4", "report 1.1.4"]
    assert found(search(user(Role.OFFICE), "市甲局")) == [f"department {A}"]


def test_the_index_follows_every_write(plan):
    office = user(Role.OFFICE)
    draft = q1_report(plan, "1.1.3")
    write(draft, "甲局草稿：地热供暖试点", False)
    assert found(search(office, "地热供暖")) == ["report 1.1.3"] and found(search(office, "取暖改造")) == []
    task = next(t for t in plan.tasks if t.code == "1.1.4")
    task.title = "加强低碳生活宣传"
    db.session.commit()
    assert found(search(office, "低碳生活")) == ["task 1.1.4"]
    db.session.execute(delete(Task).where(Task.id == task.id))   # its reports go with it (ON DELETE CASCADE)
    db.session.commit()
    assert found(search(office, "低碳生活")) == [] and found(search(office, "碳达峰宣讲")) == []
    if db.engine.dialect.name == "sqlite":   # the external-content FTS tables agree with their tables
        for fts in ("search_task", "search_report"):
            db.session.execute(text(f"INSERT INTO {fts}({fts}, rank) VALUES ('integrity-check', 1)"))


def test_the_page_runs_no_more_statements_for_many_hits_than_for_few(plan, client, login_as):
    login_as(Role.OFFICE)
    page = client.get("/search?q=局").get_data(as_text=True)
    assert {"search-department", "search-task", "search-report"} <= set(re.findall(r"search-hit (\S+)\"", page))
    few = count_queries(lambda: client.get("/search?q=局"))
    many = "\n".join(["第二个方案", "一、重点任务", "（一）协同"] +
                     [f"{i}.推进第{i}项工作，各区局协同落实。（{A}牵头，{B}配合）" for i in range(1, 41)]) + "\n"
    published_plan(many, "second.txt", now=PUBLISHED)
    page = client.get("/search?q=局").get_data(as_text=True)
    assert "下一页" in page and len(re.findall(r'class="search-hit', page)) == 20
    assert count_queries(lambda: client.get("/search?q=局")) <= few


def test_the_navbar_box_is_a_plain_get_form(client, login_as):
    login_as(Role.LIAISON, department=A)
    page = client.get("/account/").get_data(as_text=True)
    assert re.search(r'<form class="navbar-search[^"]*" role="search" method="get" action="/search">\s*'
                     r'<input[^>]* type="search" name="q"', page)
    assert "请输入要查找的内容" in client.get("/search").get_data(as_text=True)
