"""The plan parser: the bundled Fushun plan (acceptance), sample plans in other formats, clause forms,
targets versus non-targets, and bad input."""
from __future__ import annotations

import io
import json
import os
import re
import zipfile
from pathlib import Path

import pytest

from workflow.plans.parsing import (
    PlanDraft,
    PlanParseError,
    TaskDraft,
    department_kind,
    parse_plan,
    parse_plan_bytes,
    read_plan_bytes,
)

ROOT = Path(__file__).resolve().parent.parent
PLANS = Path(__file__).resolve().parent / "plans"
FUSHUN_PATH = ROOT / "data" / "plans" / "fushun-carbon-peak-plan.txt"


def task(draft: PlanDraft, code: str) -> TaskDraft:
    found = [t for t in [*draft.tasks, *draft.unassigned] if t.code == code]
    assert found, f"no task {code}; have {[t.code for t in draft.tasks]}"
    return found[0]


def targets_of(t: TaskDraft) -> set[tuple]:
    return {(x.year, x.value, x.unit, x.comparator) for x in t.targets}


def dept(draft: PlanDraft, name: str):
    found = [d for d in draft.departments if d.name == name]
    assert found, f"no department {name}"
    return found[0]


@pytest.fixture(scope="module")
def fushun() -> PlanDraft:
    return parse_plan_bytes(FUSHUN_PATH.read_bytes(), FUSHUN_PATH.name)


# -- the bundled plan ----------------------------------------------------------------------------------

def test_fushun_has_41_tasks_37_in_part_three_and_4_in_part_four(fushun):
    codes = [t.code for t in fushun.tasks]
    assert len(codes) == 41
    assert len([c for c in codes if c.startswith("3.")]) == 37
    assert [c for c in codes if c.startswith("4.")] == ["4.1", "4.2", "4.3", "4.4"]
    assert fushun.unassigned == []
    assert len(set(codes)) == len(codes)


def test_fushun_title_issuer_and_horizon(fushun):
    assert fushun.title == "抚顺市碳达峰实施方案"
    assert fushun.issuing_body == "抚顺市"
    assert fushun.valid_to == 2030


def test_fushun_leads(fushun):
    assert task(fushun, "3.1.1").leads == ["市发展改革委"]
    assert task(fushun, "3.4.3").leads == ["市住房城乡建设局"]
    assert task(fushun, "3.7.3").leads == ["市科技局", "市教育局"]
    assert task(fushun, "3.8.4").leads == ["市农业农村局"]
    assert task(fushun, "4.4").leads == ["市生态环境局"]


def test_fushun_first_measure_keeps_the_units_of_its_own_clause(fushun):
    first = task(fushun, "3.1.1")
    assert first.title == "推进煤炭消费替代和转型升级"
    assert "各县区政府" in first.co and "各开发区管委会" in first.co
    assert first.implied == []
    assert "按职责分工负责" not in first.text and first.text.endswith("严防散煤复燃。")
    assert first.clause.startswith("(市发展改革委") and "不再列出" in first.clause


def test_fushun_dash_items_are_tasks_and_their_heading_is_not(fushun):
    codes = [t.code for t in fushun.tasks]
    assert "3.3.1" not in codes
    assert [c for c in codes if c.startswith("3.3.1.")] == ["3.3.1.1", "3.3.1.2", "3.3.1.3"]
    assert task(fushun, "3.3.1.1").title == "推动石油化工行业碳达峰"
    assert task(fushun, "3.3.1.2").title == "推动钢铁行业碳达峰"
    assert task(fushun, "3.3.1.3").title == "推动建材行业碳达峰"
    assert task(fushun, "3.3.1.1").leads == ["市工业和信息化局"]


def test_fushun_alias_maps_to_the_outer_name(fushun):
    assert "市营商局" in task(fushun, "3.2.4").co
    assert "市营商局" in task(fushun, "3.3.2").co
    营商 = dept(fushun, "市营商局")
    assert 营商.aliases == ["市大数据管理局"]
    assert 营商.kind == "municipal"
    assert all(d.name != "市大数据管理局" for d in fushun.departments)


def test_fushun_bank_branch_is_a_co_unit(fushun):
    assert "人民银行抚顺市中心支行" in task(fushun, "4.3").co
    assert dept(fushun, "人民银行抚顺市中心支行").kind == "other"


def test_fushun_implied_units(fushun):
    assert fushun.implied_units == ["各县区政府", "各开发区管委会"]
    assert task(fushun, "3.1.2").implied == ["各县区政府", "各开发区管委会"]
    # 3.4.1 lists 各县区政府 itself, so only the other one is implied.
    assert "各县区政府" in task(fushun, "3.4.1").co
    assert task(fushun, "3.4.1").implied == ["各开发区管委会"]
    assert task(fushun, "4.4").implied == ["各县区政府", "各开发区管委会"]
    # Collectives: one assignee each, standing for the districts and the zones.
    assert dept(fushun, "各县区政府").kind == "collective"
    assert dept(fushun, "各开发区管委会").kind == "collective"


def test_fushun_targets_of_measures(fushun):
    t312 = task(fushun, "3.1.2")
    assert (2025, 1000, "兆瓦", ">=") in targets_of(t312)
    assert all(x.value != 400 for x in t312.targets)
    assert t312.targets[0].metric == "风电、太阳能发电、生物质热电联产等新能源总装机容量"
    t343 = task(fushun, "3.4.3")
    assert (2025, 97, "%", "=") in targets_of(t343)
    assert any(x.value == 97 and "清洁取暖率" in x.metric for x in t343.targets)
    t382 = task(fushun, "3.8.2")
    assert (2025, 8320, "万立方米", "=") in targets_of(t382)
    assert (2025, 69, "%", "~") in targets_of(t382)
    assert (2030, 70, "%", ">=") in targets_of(task(fushun, "3.5.1"))
    assert (2030, 9.5, "%", "~") in targets_of(task(fushun, "3.5.2"))
    assert (2030, 3000, "兆瓦", ">=") in targets_of(task(fushun, "3.1.4"))
    # A capability to reach is a target: 到2030年，市级电网基本具备5%以上的尖峰负荷响应能力
    capability = next(x for x in task(fushun, "3.1.4").targets if x.value == 5)
    assert (capability.year, capability.unit, capability.comparator) == (2030, "%", ">=")
    assert capability.metric == "市级电网尖峰负荷响应能力"


def test_fushun_project_sizes_and_ordinary_figures_are_not_targets(fushun):
    t314 = task(fushun, "3.1.4")
    assert {x.value for x in t314.targets} == {5, 3000}    # not 500/220 千伏, not 120 万千瓦
    assert task(fushun, "3.2.4").targets == []              # 5G, 1万吨标准煤 without a target year
    assert task(fushun, "3.3.1.2").targets == []            # 2023年底前完成… has no figure
    assert task(fushun, "3.1.1").targets == []


def test_fushun_plan_level_target(fushun):
    assert [(t.year, t.value, t.unit, t.comparator) for t in fushun.targets] == [(2025, 15.5, "%", "=")]
    assert "单位地区生产总值能源消耗" in fushun.targets[0].metric


def test_fushun_outline(fushun):
    roots = fushun.outline
    assert [(n.code, n.marker, n.title) for n in roots] == [
        ("1", "一、", "总体要求"), ("2", "二、", "主要目标"), ("3", "三、", "重点任务"),
        ("4", "四、", "政策保障"), ("5", "五、", "组织实施")]
    part3 = roots[2]
    assert part3.level == 1 and part3.text.startswith("坚持总体统筹")
    energy = part3.children[0]
    assert (energy.code, energy.marker, energy.level, energy.title) == ("3.1", "(一)", 2, "推进能源绿色低碳转型")
    item = energy.children[0]
    assert (item.code, item.marker, item.level) == ("3.1.1", "1.", 3)
    dash = part3.children[2].children[0].children[1]
    assert (dash.code, dash.marker, dash.level, dash.title) == ("3.3.1.2", "——", 4, "推动钢铁行业碳达峰")
    assert roots[0].text == ""          # a bare heading
    principles = roots[0].children[1]
    assert [c.marker for c in principles.children] == ["——"] * 4


def test_fushun_preamble_parts_are_neither_tasks_nor_unassigned(fushun):
    codes = {t.code for t in [*fushun.tasks, *fushun.unassigned]}
    assert not any(c.split(".")[0] in {"1", "2", "5"} for c in codes)
    assert fushun.warnings == []


def test_fushun_every_assigned_unit_is_a_department(fushun):
    names = {d.name for d in fushun.departments}
    for t in fushun.tasks:
        assert set(t.leads) | set(t.co) | set(t.implied) <= names
    assert fushun.departments[0].name == "市发展改革委"     # first-seen order


def test_fushun_to_dict_schema(fushun):
    data = fushun.to_dict()
    json.dumps(data, ensure_ascii=False)
    assert {"title", "issuing_body", "valid_from", "valid_to", "implied_units", "targets", "tasks",
            "unassigned", "departments", "outline", "warnings"} <= set(data)
    t = next(x for x in data["tasks"] if x["code"] == "3.1.2")
    assert {"code", "title", "leads", "co", "implied", "targets"} <= set(t)
    target = next(x for x in t["targets"] if x["value"] == 1000)
    assert type(target["value"]) is int
    assert {"year", "value", "unit", "comparator", "metric", "sentence"} <= set(target)
    assert data["targets"][0]["value"] == 15.5
    assert {"code", "marker", "title", "children"} <= set(data["outline"][0])
    assert {"name", "aliases", "kind"} == set(data["departments"][0])


def test_parser_source_names_no_department_of_the_sample(fushun):
    source = "".join(p.read_text("utf-8") for p in (ROOT / "workflow" / "plans" / "parsing").glob("*.py"))
    for d in fushun.departments:
        for name in (d.name, *d.aliases):
            assert name not in source, name


# -- sample plan 1: full-width punctuation, 第一章/第一节, （牵头单位：A；配合单位：B、C） ----------------

@pytest.fixture(scope="module")
def digital() -> PlanDraft:
    path = PLANS / "fullwidth-digital-government.txt"
    return parse_plan_bytes(path.read_bytes(), path.name)


def test_digital_outline_nests_chapter_section_item(digital):
    assert [n.marker for n in digital.outline] == ["第一章", "第二章", "第三章"]
    chapter2 = digital.outline[1]
    assert [c.marker for c in chapter2.children] == ["第一节", "第二节"]
    assert chapter2.children[0].children[0].marker == "一、"
    assert chapter2.children[0].children[0].level == 3


def test_digital_tasks(digital):
    assert [t.code for t in digital.tasks] == ["2.1.1", "2.1.2", "2.2.1", "2.2.2", "2.2.3"]
    cloud = task(digital, "2.1.1")
    assert cloud.title == "建设城市统一云平台"
    assert (cloud.leads, cloud.co) == (["市数据局"], ["市财政局", "市委网信办"])
    assert (2025, 100, "%", "=") in targets_of(cloud)
    net = task(digital, "2.1.2")
    assert net.co == ["市通信发展管理办公室", "各县（市、区）人民政府"]
    assert net.targets == []                    # 500兆带宽…工程 is a project size
    office = task(digital, "2.2.1")
    assert (office.leads, office.co) == (["市政务服务中心"], ["市直各部门"])
    assert {(2025, 90, "%", ">="), (2025, 5, "个工作日", "<=")} <= targets_of(office)


def test_digital_alias_in_a_labelled_clause(digital):
    assert task(digital, "2.2.2").leads == ["市营商环境建设局"]
    assert task(digital, "2.2.3").leads == ["市营商环境建设局"]     # later mention of the alias
    assert dept(digital, "市营商环境建设局").aliases == ["市政务服务管理局"]
    assert dept(digital, "各县（市、区）人民政府").kind == "collective"


def test_digital_unassigned_and_preamble(digital):
    assert [(t.code, t.title) for t in digital.unassigned] == [("2.2.4", "加强政务服务宣传培训")]
    assert "measure 2.2.4 has no department clause" in digital.warnings
    assert (2026, 98, "%", ">=") in {(t.year, t.value, t.unit, t.comparator) for t in digital.targets}


def test_digital_title_issuer_validity(digital):
    assert digital.title == "临江市数字政府建设三年行动计划（2024—2026年）"
    assert digital.issuing_body == "临江市人民政府办公室"
    assert (digital.valid_from, digital.valid_to) == (2024, 2026)


# -- sample plan 2: 责任单位：A牵头，B配合 / 【责任单位】 / 由A负责, with （1） levels ----------------

@pytest.fixture(scope="module")
def education() -> PlanDraft:
    path = PLANS / "county-education-points.txt"
    return parse_plan_bytes(path.read_bytes(), path.name)


def test_education_clause_forms(education):
    assert [t.code for t in education.tasks] == ["2.1.1", "2.1.2", "2.2.1", "2.2.2", "2.2.3", "2.3.1"]
    supply = task(education, "2.1.1")
    assert (supply.leads, supply.co) == (["县教育局"], ["县发展改革局", "县财政局"])
    assert supply.clause.startswith("责任单位：")
    assert "责任单位" not in supply.text
    care = task(education, "2.1.2")
    assert (care.leads, care.co) == (["县教育局"], ["县卫生健康局", "县妇联"])
    build = task(education, "2.2.1")
    assert (build.leads, build.co) == (["县教育局"], [])
    assert build.clause == "由县教育局负责"
    joint = task(education, "2.2.2")
    assert (joint.leads, joint.co) == (["县教育局"], ["县市场监管局"])
    staff = task(education, "2.2.3")
    assert (staff.leads, staff.co) == (["县委编办"], ["县教育局", "县人力资源社会保障局"])
    safety = task(education, "2.3.1")
    assert (safety.leads, safety.co) == (["县教育局"], ["县公安局", "县消防救援大队"])


def test_education_targets(education):
    assert {(2024, 900, "个", "="), (2024, 85, "%", ">=")} <= targets_of(task(education, "2.1.1"))
    assert task(education, "2.2.1").targets == []      # 400米…项目 is a project size
    plan = {(t.year, t.value, t.unit, t.comparator) for t in education.targets}
    assert plan == {(2024, 92, "%", "="), (2024, 98.5, "%", ">=")}


def test_education_levels_and_unassigned(education):
    part = education.outline[1]
    assert (part.marker, part.children[0].marker, part.children[0].children[0].marker) == ("二、", "（一）", "（1）")
    assert [t.code for t in education.unassigned] == ["2.3.2"]
    assert education.title == "清河县2024年教育高质量发展工作要点"
    assert education.issuing_body == "清河县人民政府办公室"
    assert education.valid_from == 2024


# -- sample plan 3: a .docx whose measures are table rows ---------------------------------------------

@pytest.fixture(scope="module")
def renewal() -> PlanDraft:
    path = PLANS / "district-renewal-tables.docx"
    return parse_plan_bytes(path.read_bytes(), path.name)


def test_docx_table_rows_become_measures(renewal):
    assert [t.code for t in renewal.tasks] == ["2.1.1", "2.1.2", "2.2.1", "2.3.1.1", "2.3.1.2", "2.3.2.1"]
    first = task(renewal, "2.1.1")
    assert first.title == "推进老旧小区综合改造"
    assert (first.leads, first.co) == (["区住房城乡建设局"], ["区财政局", "各街道办事处"])
    assert (2024, 50, "万平方米", "=") in targets_of(first)
    assert (2024, 100, "部", "=") in targets_of(task(renewal, "2.1.2"))
    alleys = task(renewal, "2.2.1")                     # a 责任单位 column: first unit leads
    assert (alleys.leads, alleys.co) == (["区城管局"], ["各街道办事处"])
    assert [t.code for t in renewal.unassigned] == ["2.2.2"]


def test_docx_table_keeps_its_place_in_the_outline(renewal):
    renewal_part = renewal.outline[1]
    assert renewal_part.title == "重点任务"
    assert [c.title for c in renewal_part.children] == ["老旧小区改造", "背街小巷整治", "基础设施补短板"]
    grouped = renewal_part.children[2]
    assert [c.title for c in grouped.children] == ["排水防涝", "燃气安全"]     # a merged category column
    assert task(renewal, "2.3.2.1").co == ["区市场监管局", "东岭燃气集团"]
    assert renewal.title == "东岭区2024年城市更新重点任务清单"
    assert [(t.year, t.value, t.unit) for t in renewal.targets] == [(2024, 60, "万平方米"), (2024, 75, "%")]


def test_make_docx_script_rebuilds_the_same_plan(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_docx", PLANS / "make_docx.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    built = module.build(tmp_path / "plan.docx")
    assert read_plan_bytes(built.read_bytes(), "plan.docx") == read_plan_bytes(
        (PLANS / "district-renewal-tables.docx").read_bytes(), "plan.docx")


def test_docx_paragraph_numbering_and_plain_paragraphs(tmp_path):
    import docx

    document = docx.Document()
    document.add_paragraph("试点工作方案")
    document.add_paragraph("一、重点任务")
    document.add_paragraph("1. 开展试点。到2025年，试点覆盖率达到30%。（市教育局负责）")
    document.add_paragraph("2. 总结推广经验。")
    document.add_table(rows=2, cols=2).rows[0].cells[0].text = "附表：说明"
    path = tmp_path / "p.docx"
    document.save(str(path))
    draft = parse_plan_bytes(path.read_bytes(), "方案.DOCX")
    assert [(t.code, t.leads) for t in draft.tasks] == [("1.1", ["市教育局"])]
    assert [t.code for t in draft.unassigned] == ["1.2"]


def test_docx_automatic_numbering_becomes_markers(tmp_path):
    import docx
    from docx.oxml import parse_xml
    from docx.oxml.ns import nsdecls, qn

    document = docx.Document()
    numbering = document.part.numbering_part.element
    levels = [("chineseCounting", "%1、"), ("chineseCounting", "（%2）"), ("decimal", "%3.")]
    numbering.find(qn("w:num")).addprevious(parse_xml(
        f'<w:abstractNum {nsdecls("w")} w:abstractNumId="90">'
        + "".join(f'<w:lvl w:ilvl="{i}"><w:start w:val="1"/><w:numFmt w:val="{fmt}"/><w:lvlText w:val="{text}"/>'
                  "</w:lvl>" for i, (fmt, text) in enumerate(levels))
        + "</w:abstractNum>"))
    numbering.append(parse_xml(f'<w:num {nsdecls("w")} w:numId="90"><w:abstractNumId w:val="90"/></w:num>'))

    def numbered(text: str, level: int) -> None:
        paragraph = document.add_paragraph(text)
        paragraph._p.get_or_add_pPr().append(parse_xml(
            f'<w:numPr {nsdecls("w")}><w:ilvl w:val="{level}"/><w:numId w:val="90"/></w:numPr>'))

    document.add_paragraph("能源转型工作方案")
    numbered("总体要求", 0)
    document.add_paragraph("坚持统筹推进。")
    numbered("重点任务", 0)
    numbered("能源转型", 1)
    numbered("推进甲。（市能源局负责）", 2)
    numbered("推进乙。（市财政局负责）", 2)
    numbered("交通转型", 1)
    numbered("推进丙。（市交通运输局负责）", 2)
    path = tmp_path / "numbered.docx"
    document.save(str(path))
    text = read_plan_bytes(path.read_bytes(), path.name)
    assert text.splitlines()[1:4] == ["一、总体要求", "坚持统筹推进。", "二、重点任务"]
    draft = parse_plan(text)
    assert [(t.code, t.leads) for t in draft.tasks] == [
        ("2.1.1", ["市能源局"]), ("2.1.2", ["市财政局"]), ("2.2.1", ["市交通运输局"])]
    assert [n.marker for n in draft.outline[1].children] == ["（一）", "（二）"]
    assert draft.outline[1].children[1].children[0].marker == "1."


def test_docx_table_ignores_leader_and_note_columns(tmp_path):
    import docx

    document = docx.Document()
    document.add_paragraph("重点工作任务分工方案")
    document.add_paragraph("一、任务分工")
    rows = [["序号", "工作任务", "责任领导", "牵头部门", "协办单位", "备注"],
            ["1", "推进政务数据共享", "王某某副市长", "市数据局", "市委网信办", "按季度调度"],
            ["2", "开展营商环境评价", "李某某副市长", "市发展改革委", "", ""]]
    table = document.add_table(rows=3, cols=6)
    for i, row in enumerate(rows):
        for j, text in enumerate(row):
            table.cell(i, j).text = text
    path = tmp_path / "leaders.docx"
    document.save(str(path))
    draft = parse_plan_bytes(path.read_bytes(), path.name)
    assert [(t.code, t.title, t.leads, t.co) for t in draft.tasks] == [
        ("1.1", "推进政务数据共享", ["市数据局"], ["市委网信办"]), ("1.2", "开展营商环境评价", ["市发展改革委"], [])]


# -- sample plan 4: GB18030 ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ecology() -> PlanDraft:
    path = PLANS / "ecology-gb18030.txt"
    data = path.read_bytes()
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    return parse_plan_bytes(data, path.name)


def test_gb18030_plan(ecology):
    assert ecology.title == "南湖市2025年生态环境保护工作方案"
    assert [t.code for t in ecology.tasks] == ["2.1", "2.2", "2.3", "2.4"]
    air = task(ecology, "2.1")
    assert (air.leads, air.co) == (["市生态环境局"], ["市公安局", "市交通运输局"])
    assert (2025, 0.5, "%", "<=") in targets_of(air)
    soil = task(ecology, "2.3")
    assert (soil.leads, soil.co) == (["市生态环境局"], ["市自然资源局", "市农业农村局"])
    assert [t.code for t in ecology.unassigned] == ["2.3.1"]       # a —— item without its own clause


def test_gb18030_plan_alias_and_blanket_sentence(ecology):
    assert dept(ecology, "市生态环境局").aliases == ["市河长制办公室"]
    restore = task(ecology, "2.4")                      # a trailing clause after 。 without brackets
    assert (restore.leads, restore.co) == (["市生态环境局"], ["市林业局"])
    assert ecology.implied_units == ["各县（市、区）人民政府"]
    assert all(t.implied == ["各县（市、区）人民政府"] for t in ecology.tasks)
    plan = {(t.year, t.value, t.unit, t.comparator) for t in ecology.targets}
    assert plan == {(2025, 30, "微克/立方米", "<="), (2025, 85, "%", "=")}


# -- clause forms and their edges ---------------------------------------------------------------------

def one_task(body: str) -> TaskDraft:
    draft = parse_plan(f"试行方案\n一、重点任务\n{body}")
    items = [*draft.tasks, *draft.unassigned]
    assert len(items) == 1, [t.code for t in items]
    return items[0]


@pytest.mark.parametrize(("body", "leads", "co"), [
    ("1. 推进试点。开展工作。（牵头单位：市数据局；配合单位：市财政局、市审计局）", ["市数据局"], ["市财政局", "市审计局"]),
    ("1. 推进试点。开展工作。(市数据局牵头,市财政局、市审计局配合)", ["市数据局"], ["市财政局", "市审计局"]),
    ("1. 推进试点。开展工作。（责任单位：市数据局、市财政局）", ["市数据局"], ["市财政局"]),
    ("1. 推进试点。开展工作。〔市数据局，市财政局、市审计局等按职责分工负责〕", ["市数据局"], ["市财政局", "市审计局"]),
    ("1. 推进试点。开展工作。\n责任单位：市数据局牵头，市财政局、市审计局配合", ["市数据局"], ["市财政局", "市审计局"]),
    ("1. 推进试点。开展工作。【责任单位】市数据局（牵头），市财政局，市审计局", ["市数据局"], ["市财政局", "市审计局"]),
    ("1. 推进试点。开展工作，由市数据局负责。", ["市数据局"], []),
    ("1. 推进试点。开展工作。市数据局、市财政局分别负责。", ["市数据局"], ["市财政局"]),
    ("1. 推进试点。开展工作。（市委组织部和市委宣传部共同负责）", ["市委组织部"], ["市委宣传部"]),
    ("1. 推进试点。开展工作。（市人力资源和社会保障局负责）", ["市人力资源和社会保障局"], []),
    ("1. 推进试点。开展工作。（市数据局牵头，2025年底前完成）", ["市数据局"], []),
    ("1. 推进试点。开展工作。（牵头单位：市数据局）（完成时限：2025年6月）", ["市数据局"], []),
    ("1. 推进试点（市数据局负责）", ["市数据局"], []),
    ("1. 推进试点（责任单位：市数据局）。开展工作。", ["市数据局"], []),
    ("1. 推进试点。开展工作。（牵头：市数据局；配合：市财政局、社会组织）", ["市数据局"], ["市财政局", "社会组织"]),
    ("1. 推进试点。开展工作。\n牵头单位：市数据局\n配合单位：市财政局\n完成时限：2025年12月底", ["市数据局"], ["市财政局"]),
    ("1. 推进试点。开展工作。（市数据局牵头；配合单位：市财政局）", ["市数据局"], ["市财政局"]),
])
def test_clause_forms(body, leads, co):
    t = one_task(body)
    assert (t.leads, t.co) == (leads, co)
    assert t.title == "推进试点"


@pytest.mark.parametrize("body", [
    "1. 推进试点。严控高耗能、高排放、低水平(以下简称“两高一低”)",
    "1. 推进试点。发展碳捕集、利用和封存(CCUS)",
    "1. 推进试点。在重点区域先行（省级以上）",
    "1. 推进试点。各县区要积极落实。",
    "1. 推进试点。（2025年底前完成）",
])
def test_ordinary_parentheticals_are_not_clauses(body):
    t = one_task(body)
    assert (t.leads, t.co, t.clause) == ([], [], "")


def test_alias_inside_clause_and_later_mention():
    draft = parse_plan("试行方案\n一、重点任务\n1. 甲。（市大数据局负责）\n2. 乙。（市营商局（市大数据局）负责）\n"
                       "3. 丙。（市财政局牵头，市大数据局配合）")
    assert [t.leads for t in draft.tasks] == [["市营商局"], ["市营商局"], ["市财政局"]]
    assert draft.tasks[2].co == ["市营商局"]
    assert [(d.name, d.aliases) for d in draft.departments] == [("市营商局", ["市大数据局"]), ("市财政局", [])]


def test_alias_with_two_other_names_and_web_page_metadata():
    draft = parse_plan("索引号：11210400/2023-00123\n发布机构：江城市人民政府\n标题：江城市宣传文化事业发展行动方案\n"
                       "成文日期：2023年06月15日\n一、重点任务\n"
                       "1. 繁荣文艺创作。（市委宣传部（市新闻出版局、市电影局）牵头，市文化旅游局配合）\n"
                       "2. 加强版权保护。（市电影局负责）")
    assert (draft.title, draft.issuing_body, draft.valid_from) == ("江城市宣传文化事业发展行动方案", "江城市人民政府", 2023)
    assert [t.leads for t in draft.tasks] == [["市委宣传部"], ["市委宣传部"]]
    assert draft.departments[0].aliases == ["市新闻出版局", "市电影局"]


def test_implied_sentence_applies_only_to_following_tasks():
    draft = parse_plan("试行方案\n一、重点任务\n1. 甲。（市财政局负责）\n"
                       "2. 乙。（市数据局负责。以下各项均需各县区政府落实，不再列出）\n"
                       "3. 丙。（市审计局、各县区政府负责）\n4. 丁。（市审计局负责）")
    assert [t.implied for t in draft.tasks] == [[], [], [], ["各县区政府"]]
    assert draft.tasks[1].leads == ["市数据局"] and draft.tasks[1].co == []
    assert draft.implied_units == ["各县区政府"]
    assert "各县区政府" in {d.name for d in draft.departments}


def test_levels_follow_first_appearance_not_fixed_depths():
    draft = parse_plan("方案\n（一）甲类任务\n1、推进甲。（市财政局负责）\n——细化甲。（市数据局负责）\n"
                       "（二）乙类任务\n1、推进乙。（市财政局负责）")
    assert [(t.code, t.leads) for t in draft.tasks] == [
        ("1.1", ["市财政局"]), ("1.1.1", ["市数据局"]), ("2.1", ["市财政局"])]
    assert draft.outline[0].marker == "（一）" and draft.outline[0].children[0].marker == "1、"


def test_heading_grouping_subitems_is_not_a_task_but_a_bare_leaf_is_unassigned():
    draft = parse_plan("方案\n一、任务\n（一）分组标题\n1. 甲。（市财政局负责）\n（二）没有分工的措施。认真做好。")
    assert [t.code for t in draft.tasks] == ["1.1.1"]
    assert [(t.code, t.title) for t in draft.unassigned] == [("1.2", "没有分工的措施")]


def test_plan_without_any_clause_lists_its_measures_as_unassigned():
    draft = parse_plan("工作方案\n一、总体要求\n坚持统筹。\n二、重点任务\n1. 甲。\n2. 乙。")
    assert [t.code for t in draft.unassigned] == ["2.1", "2.2"]
    assert draft.tasks == []


# -- targets ------------------------------------------------------------------------------------------

def targets_in(sentence: str) -> set[tuple]:
    t = one_task(f"1. 测试。{sentence}（市统计局负责）")
    return {(x.year, x.value, x.unit, x.comparator) for x in t.targets}


@pytest.mark.parametrize(("sentence", "expected"), [
    ("到2025年，全市绿化率达到40%。", {(2025, 40, "%", "=")}),
    ("到2025年，能耗比2020年下降13.5%。", {(2025, 13.5, "%", "=")}),
    ("2026年底前，新能源装机提升至1,200兆瓦以上。", {(2026, 1200, "兆瓦", ">=")}),
    ("“十四五”末，耕地保有量不低于300万亩。", {(2025, 300, "万亩", ">=")}),
    ("到“十五五”末，碳排放强度控制在1.2吨以内。", {(2030, 1.2, "吨", "<=")}),
    ("到2030年，覆盖率稳定在60%左右。", {(2030, 60, "%", "~")}),
    ("到2025年，重点企业能耗分别下降10%、12%。", {(2025, 10, "%", "="), (2025, 12, "%", "=")}),
    ("到2025年，全市新增充电桩5000个。", {(2025, 5000, "个", "=")}),
    ("到２０２５年，优良天数比例达到８５％。", {(2025, 85, "%", "=")}),
])
def test_targets(sentence, expected):
    assert targets_in(sentence) == expected


@pytest.mark.parametrize("sentence", [
    "持续推进400兆瓦光伏发电项目建设。",
    "到2025年，建成500千伏送出工程。",
    "到2025年，推进120万千瓦项目建设前期工作。",
    "统筹布局5G基站。",
    "2023年底前完成超低排放改造。",
    "推进“三改联动”。",
    "全市能耗达到15%。",
    "到2025年，达到第3批示范。",
    "根据《2030年前碳达峰行动方案》，排放达到峰值。",
])
def test_non_targets(sentence):
    assert targets_in(sentence) == set()


def test_metric_words():
    t = one_task("1. 测试。到2025年，城市建成区清洁取暖率达到97%，城镇建筑可再生能源替代率达到8%。（市统计局负责）")
    assert [x.metric for x in t.targets] == ["城市建成区清洁取暖率", "城镇建筑可再生能源替代率"]
    assert t.targets[0].sentence.startswith("到2025年")


# -- reading bytes and bad input ----------------------------------------------------------------------

SIMPLE = "方案\n一、任务\n1. 推进试点。（市数据局负责）\n"


def test_reads_utf8_with_and_without_bom_and_gb18030():
    for data in (SIMPLE.encode("utf-8"), b"\xef\xbb\xbf" + SIMPLE.encode("utf-8"), SIMPLE.encode("gb18030"),
                 SIMPLE.encode("utf-16")):
        assert read_plan_bytes(data, "plan.txt").lstrip("\ufeff") == SIMPLE
        assert parse_plan_bytes(data, "plan.txt").tasks[0].leads == ["市数据局"]


@pytest.mark.parametrize("text", ["", "   \n\t\u3000\n", "这是一段普通的文字，没有任何条目。",
                                  "工作方案\n一、总体要求\n坚持统筹。\n二、主要目标\n到2025年，绿化率达到40%。"])
def test_text_without_measures_is_rejected(text):
    with pytest.raises(PlanParseError):
        parse_plan(text)


@pytest.mark.parametrize(("data", "filename"), [
    (b"", "plan.txt"),
    (b"\x00\x01\x02abc\x00", "plan.txt"),
    ("一、任务\x00".encode(), "plan.txt"),
    (os.urandom(2048), "plan.txt"),
    (b"\xff\xfe\xfd\x80\x81" * 50, "plan.txt"),
    (b"this is not a zip file", "plan.docx"),
    (SIMPLE.encode("utf-8"), "plan.docx"),
    (os.urandom(512), "plan.docx"),
    (b"PK\x03\x04" + os.urandom(200), "plan.docx"),
    (SIMPLE.encode("utf-8"), "plan.doc"),
])
def test_bad_bytes_are_rejected(data, filename):
    with pytest.raises(PlanParseError):
        parse_plan_bytes(data, filename)


def test_a_zip_that_is_not_a_word_document_is_rejected():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("hello.txt", "hi")
    with pytest.raises(PlanParseError):
        read_plan_bytes(buffer.getvalue(), "plan.docx")


def test_error_messages_are_one_line():
    for data in (b"", b"\x00"):
        with pytest.raises(PlanParseError) as info:
            parse_plan_bytes(data, "x.txt")
        assert "\n" not in str(info.value) and str(info.value)


@pytest.mark.parametrize(("name", "kind"), [
    ("市发展改革委", "municipal"), ("市委党校", "municipal"), ("市政府办公室", "municipal"),
    ("各县区政府", "collective"), ("各县（市、区）人民政府", "collective"), ("西山区人民政府", "county"),
    ("各开发区管委会", "collective"), ("高新区管委会", "zone"), ("某某经济开发区", "zone"),
    ("各区、县级市", "collective"), ("市直各部门", "collective"), ("某某县人民政府", "county"),
    ("人民银行某市中心支行", "other"), ("某某学院", "other"), ("省财政厅", "other"),
])
def test_department_kind(name, kind):
    assert department_kind(name) == kind


def test_no_department_clause_warning_wording():
    draft = parse_plan("方案\n一、任务\n1. 甲。（市财政局负责）\n2. 乙。")
    assert draft.warnings == ["measure 1.2 has no department clause"]
    assert re.fullmatch(r"[\d.]+", draft.unassigned[0].code)
