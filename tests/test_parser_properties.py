"""Property tests: the parser survives arbitrary text and keeps its invariants on plan-like text."""
from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workflow.plans.parsing import PlanDraft, PlanParseError, parse_plan, read_plan_bytes

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

PIECES = [
    "一、", "二、", "十、", "(一)", "（二）", "1.", "2．", "3、", "（1）", "(2)", "——", "第一章", "第二节", "第三条",
    "1.1", "①", "\n", "\n", "\n", "。", "，", ",", "、", "；", "：", "(", ")", "（", "）", "〔", "〕", "【", "】",
    "年", "%", "到2025年", "2030年前", "“十四五”末", "比2020年", "下降", "达到", "不低于", "以上", "左右", "以内",
    "兆瓦", "万立方米", "项目", "0", "1", "5", "15.5", "400", "1000", "市教育局", "市数据局", "县人民政府",
    "各县区政府", "各开发区管委会", "市营商局(市大数据管理局)", "人民银行某市中心支行", "牵头单位：", "配合单位：",
    "责任单位：", "牵头", "配合", "负责", "按职责分工负责", "等", "由", "和", "及", "以下均需", "落实,不再列出",
    "推进试点", "加强监管", "方案", "　", " ",
    "有关部门", "各区、县级市", "各县（市、区）", "上述单位", "各配合单位", "各项目牵头单位", "下同", "参加单位:",
    "未明确牵头单位的，由所列单位按职责分工负责", "排在第一位的为牵头单位", "完成时限：", "2026年6月底前", "持续推进",
    "无", "/", "以下各项任务不再一一列出", "具备", "2012年起5年内",
]

plan_like = st.lists(st.sampled_from(PIECES), max_size=80).map("".join)
mixed = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=5)), max_size=60).map("".join)


def parse_or_none(text: str) -> PlanDraft | None:
    try:
        return parse_plan(text)
    except PlanParseError:
        return None


def check_invariants(draft: PlanDraft) -> None:
    items = [*draft.tasks, *draft.unassigned]
    codes = [t.code for t in items]
    assert len(codes) == len(set(codes))
    outline_codes = []

    def walk(nodes, level):
        for n in nodes:
            assert n.level == level
            outline_codes.append(n.code)
            walk(n.children, level + 1)

    walk(draft.outline, 1)
    assert len(outline_codes) == len(set(outline_codes))
    assert set(codes) <= set(outline_codes)
    names = {d.name for d in draft.departments}
    aliases = {a for d in draft.departments for a in d.aliases}
    assert not names & aliases
    for t in draft.tasks:
        assert t.leads or t.co or t.placeholders
        assert set(t.leads) | set(t.co) | set(t.implied) <= names
        assert not set(t.leads) & set(t.co)
        assert not set(t.placeholders) & names
        assert (t.lead_rule in {"marked", "single", "first_group", "first_listed", "declared_first",
                                "declared_joint"}) == bool(t.leads)
    for t in [*draft.tasks, *draft.unassigned]:
        assert t.due is None or t.due == "ongoing" or re.fullmatch(r"\d{4}-\d{2}-\d{2}", t.due)
    for t in draft.unassigned:
        assert not t.leads and not t.co
    assert set(draft.implied_units) <= names
    assert all(d.kind in {"municipal", "county", "zone", "other", "collective"} for d in draft.departments)
    data = draft.to_dict()
    for t in [*data["targets"], *(x for task in data["tasks"] for x in task["targets"])]:
        assert not (isinstance(t["value"], float) and t["value"].is_integer())


@SETTINGS
@given(st.text(max_size=400))
def test_arbitrary_text_raises_only_plan_parse_error(text):
    draft = parse_or_none(text)
    if draft is not None:
        check_invariants(draft)


@SETTINGS
@given(plan_like)
def test_plan_like_text_keeps_invariants(text):
    draft = parse_or_none(text)
    if draft is not None:
        check_invariants(draft)


@SETTINGS
@given(mixed)
def test_mixed_text_keeps_invariants(text):
    draft = parse_or_none(text)
    if draft is not None:
        check_invariants(draft)


@SETTINGS
@given(st.lists(st.sampled_from(PIECES), min_size=1, max_size=20).map("".join))
def test_a_numbered_measure_with_a_clause_is_always_found(extra):
    text = f"方案\n一、任务\n1. 推进试点。{extra.replace(chr(10), '')}\n2. 加强监管。（市数据局负责）"
    draft = parse_plan(text)
    check_invariants(draft)
    assert any(t.leads == ["市数据局"] for t in draft.tasks)


@SETTINGS
@given(st.one_of(st.binary(max_size=300), st.binary(max_size=300).map(lambda b: b"%PDF-1.4\n" + b)),
       st.sampled_from(["plan.txt", "plan.docx", "plan", "PLAN.TXT", "plan.pdf", "plan.doc"]))
def test_arbitrary_bytes_raise_only_plan_parse_error(data, filename):
    try:
        text = read_plan_bytes(data, filename)
    except PlanParseError:
        return
    assert isinstance(text, str)
    parse_or_none(text)
