"""Plans as offices publish them: clause forms, declared conventions, collectives and placeholders,
numbering and headings, deadlines, PDF input and bad uploads -- on sample plans written for these tests,
through `plan parse --format json` and the parser API."""
from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from models import Department, Plan, Role
from tests.conftest import FUSHUN
from workflow.extensions import db
from workflow.plans.parsing import PlanParseError, TaskDraft, parse_plan, parse_plan_bytes

PLANS = Path(__file__).resolve().parent / "plans"


def parse_json(runner, path: Path) -> dict:
    result = runner.invoke(args=["plan", "parse", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def by_code(data: dict) -> dict[str, dict]:
    return {t["code"]: t for t in data["tasks"]}


def kinds(data: dict) -> dict[str, str]:
    return {d["name"]: d["kind"] for d in data["departments"]}


def one_task(body: str) -> TaskDraft:
    draft = parse_plan(f"试行方案\n一、重点任务\n{body}")
    items = [*draft.tasks, *draft.unassigned]
    assert len(items) == 1, [t.code for t in items]
    return items[0]


# -- a national division of work: half-width punctuation, 参加单位 after a space, a 负责单位 rule ----------

def test_national_division_of_work(runner):
    data = parse_json(runner, PLANS / "national-division-halfwidth.txt")
    tasks = by_code(data)
    assert data["title"] == "全民数字素养提升重点任务分工方案" and data["unassigned"] == []
    # '牵头单位:教育部 参加单位:工业和信息化部、文化和旅游部': the co label is separated only by a space
    assert (tasks["1.1"]["leads"], tasks["1.1"]["co"]) == (["教育部"], ["工业和信息化部", "文化和旅游部"])
    assert tasks["1.1"]["lead_rule"] == "marked"
    # the 负责单位 clause declares joint responsibility ('…按职责分工负责,下同'): every listed unit leads, from there on
    assert (tasks["1.2"]["leads"], tasks["1.2"]["co"]) == (["国家数据局", "工业和信息化部"], [])
    assert tasks["1.2"]["lead_rule"] == "declared_joint" and "未明确" not in "".join(tasks["1.2"]["leads"])
    assert (tasks["1.3"]["leads"], tasks["1.3"]["lead_rule"]) == (["国家标准委", "教育部"], "declared_joint")
    assert tasks["2.3"]["leads"] == ["民政部", "全国老龄办"]
    # placeholders are listed per task and never become departments
    assert tasks["2.1"]["placeholders"] == ["国务院有关部门"] and tasks["2.1"]["co"] == []
    assert tasks["2.3"]["placeholders"] == ["有关部门"]
    assert not {"国务院有关部门", "有关部门"} & set(kinds(data))
    # ';' and '/' between labels; a 完成时限 label
    assert (tasks["2.2"]["leads"], tasks["2.2"]["co"], tasks["2.2"]["due"]) == (["教育部"], ["共青团中央"], "ongoing")
    assert tasks["1.2"]["due"] == "2026-06-30"
    # measure numbers run through the document (4 is the first of part two): no out-of-sequence warnings
    assert data["warnings"] == []
    # a horizon relative to a stated year: 2012年起5年内 → 2012–2016
    assert [(t["year"], t["value"], t["unit"]) for t in tasks["2.1"]["targets"]] == [(2016, 1, "万名")]


# -- a municipal plan: collectives at the end of co lists, a preface convention, back-references --------

def test_municipal_collectives_placeholders_and_back_references(runner):
    data = parse_json(runner, PLANS / "municipal-collective-running.txt")
    tasks = by_code(data)
    # 各区、县级市 is one collective unit, never split into 各区 and 县级市
    assert kinds(data)["各区、县级市"] == "collective"
    assert not {"各区", "县级市"} & set(kinds(data))
    assert data["implied_units"] == ["各区、县级市"]       # '各区、县级市要…，以下各项任务不再一一列出'
    # the preface declares '排在第一位的为牵头单位' for clauses without a marked lead
    assert (tasks["1.1.1"]["leads"], tasks["1.1.1"]["co"]) == (["市住房城乡建设局"], ["市财政局", "各区、县级市"])
    assert tasks["1.1.1"]["lead_rule"] == "declared_first"
    assert tasks["1.1.2"]["co"] == ["市市场监管局", "各区、县级市"]
    assert tasks["1.1.2"]["placeholders"] == ["各有关单位"] and tasks["1.1.2"]["lead_rule"] == "marked"
    # '各项目牵头单位' points at the leads of the projects under the measure
    assert tasks["1.2.1"]["leads"] == ["市文化广电旅游局"]
    assert tasks["1.2.1"]["co"] == ["市自然资源局", "市工业和信息化局"] and tasks["1.2.1"]["placeholders"] == []
    # '上述单位' beside listed units means those units
    assert (tasks["1.2.2"]["leads"], tasks["1.2.2"]["co"]) == (["市数据局"], ["市文化广电旅游局"])
    assert tasks["2.1"]["placeholders"] == ["相关单位"]
    # a grouping heading with prose ('…行动计划。围绕…，实施如下重点项目：') is not a task
    assert "1.1" not in tasks and "1.2" not in tasks
    assert data["outline"][0]["children"][0]["title"] == "老旧小区改造行动计划"
    assert tasks["1.1.1"]["due"] == "2025-12-31" and data["warnings"] == []


# -- unnumbered headings, clause lines of their own, 配合单位：无, an unresolved back-reference ------------

def test_plain_headings_and_clause_lines(runner):
    data = parse_json(runner, PLANS / "prefecture-plain-headings.txt")
    assert [(t["code"], t["title"]) for t in data["tasks"]] == [
        ("1.1", "推行高频事项一网通办"), ("1.2", "压缩工程建设项目审批时限"),
        ("2.1", "加强信用分级分类监管"), ("2.2", "规范涉企收费行为")]
    tasks = by_code(data)
    assert (tasks["1.1"]["leads"], tasks["1.1"]["co"], tasks["1.1"]["due"]) == (["州政务服务局"], [], "2026-12-31")
    assert (tasks["1.2"]["lead_rule"], tasks["1.2"]["due"]) == ("first_listed", "ongoing")
    assert tasks["2.1"]["co"] == ["各开发区管委会"] and tasks["2.1"]["due"] == "2026-06-30"
    assert tasks["2.2"]["placeholders"] == ["各配合单位"] and tasks["2.2"]["due"] == "2026-09-30"
    assert data["implied_units"] == ["各县（市、区）人民政府"]      # '各项任务均需…参与落实'
    assert kinds(data)["各县（市、区）人民政府"] == "collective"


# -- a .docx duty table: 责任单位 column with a declared convention, 完成时限 column ------------------------

def test_docx_duty_table(runner):
    data = parse_json(runner, PLANS / "township-duties-table.docx")
    tasks = by_code(data)
    assert [t["title"] for t in data["tasks"]] == ["垃圾分类收运", "农村厕所改造", "河塘清淤", "村容村貌提升"]
    assert (tasks["1.1"]["leads"], tasks["1.1"]["co"]) == (["镇生态办"], ["镇财政所", "各村（社区）"])
    assert tasks["1.1"]["lead_rule"] == "declared_first"      # '说明：责任单位栏中排在第一位的为牵头单位'
    assert tasks["1.2"]["placeholders"] == ["相关站所"]
    assert tasks["1.3"]["co"] == [] and tasks["1.3"]["due"] == "ongoing"      # 协同单位 '无'
    assert [t["due"] for t in data["tasks"]] == ["2025-09-30", "2025-12-31", "ongoing", "ongoing"]
    assert kinds(data)["各村（社区）"] == "collective"


def test_make_docx_script_rebuilds_the_duty_table(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_docx", PLANS / "make_docx.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    built = module.build_township(tmp_path / "plan.docx")
    stored = PLANS / "township-duties-table.docx"
    assert parse_plan_bytes(built.read_bytes(), "a.docx").to_dict() == parse_plan_bytes(stored.read_bytes(),
                                                                                        "b.docx").to_dict()


# -- a PDF: running header and page numbers, hard-wrapped lines, 第一条 articles, a table across a page ----

def test_pdf_plan(runner):
    data = parse_json(runner, PLANS / "harbour-measures.pdf")
    assert (data["title"], data["issuing_body"]) == ("海港市促进港航经济高质量发展若干措施", "海港市人民政府办公室")
    tasks = by_code(data)
    assert list(tasks) == ["1", "2", "3", "4.1", "4.2", "4.3"]
    # the first article was wrapped over six lines; rejoined, its target and clause are whole
    assert [(t["year"], t["value"], t["unit"]) for t in tasks["1"]["targets"]] == [(2027, 50, "万标准箱")]
    assert (tasks["1"]["leads"], tasks["1"]["co"]) == (["市交通运输局"], ["市发展改革委", "市自然资源局"])
    assert "经验做法" in tasks["2"]["text"] and "规范性文件" not in tasks["2"]["text"]
    assert "—" not in json.dumps(data["outline"], ensure_ascii=False).replace("——", "")
    # the table's rows, one of them broken by the page, with their deadlines
    assert (tasks["4.2"]["leads"], tasks["4.2"]["co"], tasks["4.2"]["placeholders"]) == (
        ["市港航中心"], ["市生态环境局"], ["有关单位"])
    assert [tasks[c]["due"] for c in ("4.1", "4.2", "4.3")] == ["2026-06-30", "2026-12-31", "ongoing"]
    assert tasks["4.3"]["title"] == "推进冷链物流园建设"       # a cell wrapped inside the table


def test_make_pdf_script_rebuilds_the_same_plan(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_pdf", PLANS / "make_pdf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    built = module.build(tmp_path / "plan.pdf")
    stored = PLANS / "harbour-measures.pdf"
    assert parse_plan_bytes(built.read_bytes(), "a.pdf").to_dict() == parse_plan_bytes(stored.read_bytes(),
                                                                                       "b.pdf").to_dict()


# -- clause forms and conventions, one measure at a time ----------------------------------------------

@pytest.mark.parametrize(("body", "leads", "co", "rule"), [
    ("1. 推进试点。开展工作。牵头单位:市数据局 参加单位:市财政局", ["市数据局"], ["市财政局"], "marked"),
    ("1. 推进试点。开展工作。主责单位：市数据局，协同单位：市财政局", ["市数据局"], ["市财政局"], "marked"),
    ("1. 推进试点。开展工作。[主办:市数据局;协办部门:市财政局]", ["市数据局"], ["市财政局"], "marked"),
    ("1. 推进试点。开展工作。\n实施主体：市数据局、市财政局", ["市数据局"], ["市财政局"], "first_listed"),
    ("1. 推进试点。开展工作。（牵头单位：市数据局；配合单位：无）", ["市数据局"], [], "marked"),
    ("1. 推进试点。开展工作。（牵头单位：市数据局；参与单位：—）", ["市数据局"], [], "marked"),
    ("1. 推进试点。开展工作。(市数据局、市财政局和市审计局)", ["市数据局"], ["市财政局", "市审计局"], "first_listed"),
    ("1. 推进试点。开展工作。（市数据局，市财政局及市审计局）", ["市数据局"], ["市财政局", "市审计局"], "first_group"),
    ("1. 推进试点。开展工作。（市数据局负责）", ["市数据局"], [], "single"),
    ("1. 推进试点。开展工作。（责任单位：市数据局、市财政局。未明确牵头单位的，由所列单位共同负责）",
     ["市数据局", "市财政局"], [], "declared_joint"),
])
def test_clause_forms_and_lead_rules(body, leads, co, rule):
    t = one_task(body)
    assert (t.leads, t.co, t.lead_rule) == (leads, co, rule)


def test_a_convention_in_a_clause_without_xiatong_holds_for_that_clause_only():
    draft = parse_plan("方案\n一、任务\n1. 甲。（负责单位：市数据局、市财政局。未明确牵头单位的，由所列单位按职责分工负责）\n"
                       "2. 乙。（负责单位：市数据局、市财政局）")
    assert [t.lead_rule for t in draft.tasks] == ["declared_joint", "first_listed"]
    assert draft.tasks[1].co == ["市财政局"]


def test_a_convention_declared_after_a_measure_does_not_reach_back():
    draft = parse_plan("方案\n一、任务\n1. 甲。（市数据局、市财政局）\n"
                       "2. 乙。注：本方案中排在第一位的为牵头单位。（市审计局、市统计局）")
    assert [t.lead_rule for t in draft.tasks] == ["first_listed", "declared_first"]


@pytest.mark.parametrize(("body", "collective"), [
    ("1. 推进试点。（市数据局牵头，市财政局、各区、县级市配合）", "各区、县级市"),
    ("1. 推进试点。（市数据局牵头，各县（市、区）配合）", "各县（市、区）"),
    ("1. 推进试点。（市数据局牵头，市直各部门配合）", "市直各部门"),
    ("1. 推进试点。（市数据局牵头，各县区人民政府、各开发区管委会配合）", "各县区人民政府"),
])
def test_collectives_are_one_unit(body, collective):
    draft = parse_plan(f"方案\n一、任务\n{body}")
    assert collective in draft.tasks[0].co
    assert {d.name: d.kind for d in draft.departments}[collective] == "collective"
    assert not {"县级市", "各区", "区）"} & {d.name for d in draft.departments}


def test_a_list_of_levels_is_not_merged_into_a_neighbouring_department():
    t = one_task("1. 推进试点。（市数据局牵头，各区、市场监管局配合）")
    assert t.co == ["各区", "市场监管局"]


@pytest.mark.parametrize("sentence", [
    "各区、县级市要结合实际抓好落实，以下各项任务不再一一列出。",
    "以下均需各区、县级市落实，不再列出。",
    "各项任务均需各区、县级市参与。",
])
def test_implied_units_wordings(sentence):
    draft = parse_plan(f"方案\n{sentence}\n一、任务\n1. 甲。（市数据局负责）")
    assert draft.implied_units == ["各区、县级市"] and draft.tasks[0].implied == ["各区、县级市"]


@pytest.mark.parametrize(("marker", "second"), [("1. ", "2. "), ("1、", "2、"), ("（1）", "（2）"), ("①", "②"),
                                                ("第一条 ", "第二条 ")])
def test_numbering_styles(marker, second):
    draft = parse_plan(f"方案\n{marker}甲。（市数据局负责）\n{second}乙。（市财政局负责）")
    assert [(t.title, t.leads) for t in draft.tasks] == [("甲", ["市数据局"]), ("乙", ["市财政局"])]


@pytest.mark.parametrize(("clause", "due"), [
    ("完成时限：2026年6月底前", "2026-06-30"), ("完成时限：2026年12月", "2026-12-31"),
    ("完成时限：2026年底", "2026-12-31"), ("完成时限：2026年3月15日", "2026-03-15"),
    ("完成时限：2026年上半年", "2026-06-30"), ("完成时限：持续推进", "ongoing"), ("完成时限：长期", "ongoing"),
])
def test_deadlines(clause, due):
    assert one_task(f"1. 推进试点。（牵头单位：市数据局；{clause}）").due == due


def test_deadline_in_the_measure_text_and_none_when_not_stated():
    assert one_task("1. 推进试点。2026年9月底前完成验收。（市数据局负责）").due == "2026-09-30"
    assert one_task("1. 推进试点。到2026年，覆盖率达到90%。（市数据局负责）").due is None


def test_fushun_keeps_its_rule_and_has_no_placeholders():
    draft = parse_plan_bytes(FUSHUN.read_bytes(), FUSHUN.name)
    assert len(draft.tasks) == 41
    assert {t.lead_rule for t in draft.tasks} <= {"first_listed", "first_group", "single", "marked"}
    assert all(t.placeholders == [] for t in draft.tasks)


# -- bad input: one clear PlanParseError each ------------------------------------------------------------

def _encrypted_pdf() -> bytes:
    pypdf = pytest.importorskip("pypdf")
    writer = pypdf.PdfWriter(clone_from=io.BytesIO((PLANS / "harbour-measures.pdf").read_bytes()))
    writer.encrypt("secret", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _scanned_pdf() -> bytes:
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_pdf", PLANS / "make_pdf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.scanned()


OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504


@pytest.mark.parametrize(("make", "filename", "says"), [
    (lambda: b"", "plan.txt", "为空"),
    (lambda: b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "plan.txt", "图片"),
    (lambda: b"\xff\xd8\xff\xe0" + b"\x00" * 100, "plan.pdf", "图片"),
    (lambda: OLE + "EncryptedPackage".encode("utf-16-le") + b"\x00" * 64, "plan.docx", "密码"),
    (_encrypted_pdf, "plan.pdf", "密码"),
    (lambda: OLE + "WordDocument".encode("utf-16-le"), "plan.doc", ".doc"),
    (lambda: OLE + "WordDocument".encode("utf-16-le"), "plan.txt", ".doc"),
    (lambda: b"x" * (50 * 1024 * 1024), "plan.txt", "过大"),
    (lambda: "海濱市城市更新行動方案\n一、重點任務\n1. 完成老舊小區改造。（市住房城鄉建設局負責）".encode("big5"),
     "plan.txt", "Big5"),
    (_scanned_pdf, "plan.pdf", "扫描件"),
    (lambda: b"%PDF-1.7\n" + b"garbage" * 20, "plan.pdf", "PDF"),
])
def test_bad_input_gets_one_clear_error(make, filename, says):
    with pytest.raises(PlanParseError) as info:
        parse_plan_bytes(make(), filename)
    message = str(info.value)
    assert says in message and "\n" not in message


def test_bad_pdf_through_the_cli_is_one_line_on_stderr(runner, tmp_path):
    path = tmp_path / "scan.pdf"
    path.write_bytes(_scanned_pdf())
    result = runner.invoke(args=["plan", "parse", str(path), "--format", "json"])
    assert result.exit_code != 0
    assert "扫描件" in result.output and result.output.strip().count("\n") == 0


# -- the review page ----------------------------------------------------------------------------------

def test_review_page_shows_lead_rules_placeholders_collectives_and_deadlines(client, login_as):
    login_as(Role.OFFICE)
    data = (PLANS / "municipal-collective-running.txt").read_bytes()
    response = client.post("/plans/upload", data={"file": (io.BytesIO(data), "plan.txt")},
                           content_type="multipart/form-data")
    assert response.status_code == 302
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "按文件约定：排在第一位的为牵头单位" in html
    assert "待明确的单位" in html and "各有关单位" in html
    assert "集合单位" in html and "一个承办主体" in html
    assert "2025-12-31" in html


def test_a_pdf_upload_imports_with_its_collective(client, login_as):
    login_as(Role.OFFICE)
    data = (PLANS / "harbour-measures.pdf").read_bytes()
    response = client.post("/plans/upload", data={"file": (io.BytesIO(data), "plan.pdf")},
                           content_type="multipart/form-data")
    review_url = response.headers["Location"]
    html = client.get(review_url).get_data(as_text=True)
    assert "海港市促进港航经济高质量发展若干措施" in html
    assert client.post(review_url, data={}).status_code == 302
    plan = db.session.query(Plan).one()
    assert len(plan.tasks) == 6
    assert db.session.query(Department).filter_by(name="各区人民政府").one().kind == "collective"


def test_draft_schema_fields(runner):
    data = parse_json(runner, PLANS / "prefecture-plain-headings.txt")
    assert {"lead_rule", "placeholders", "due"} <= set(data["tasks"][0])
    unassigned = parse_plan("方案\n一、任务\n1. 甲。2026年6月底前完成。").to_dict()["unassigned"][0]
    assert (unassigned["placeholders"], unassigned["due"]) == ([], "2026-06-30")


def test_an_upload_over_the_size_limit_is_refused_and_writes_nothing(app, client, login_as):
    login_as(Role.OFFICE)
    app.config["MAX_CONTENT_LENGTH"] = 4096
    response = client.post("/plans/upload", data={"file": (io.BytesIO(b"x" * 8192), "plan.txt")},
                           content_type="multipart/form-data")
    assert response.status_code == 413
    assert "文件过大" in response.get_data(as_text=True)
    assert db.session.query(Plan).count() == 0
