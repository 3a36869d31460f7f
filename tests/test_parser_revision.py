"""Matching a revised plan's measures to the stored ones (pure: two parsed drafts, no database)."""
from pathlib import Path

import pytest

from workflow.plans.diff import ADDED, CHANGED, REMOVED, UNCHANGED, changed_fields, diff_plans, normalised
from workflow.plans.parsing import parse_plan_bytes

HERE = Path(__file__).parent / "plans" / "revisions"


def parsed(name: str):
    return parse_plan_bytes((HERE / name).read_bytes(), name)


@pytest.fixture(scope="module")
def base():
    return parsed("base.txt")





def test_the_same_document_is_all_unchanged(base):
    diff = diff_plans(base, parsed("base.txt"))
    assert diff.counts == {CHANGED: 0, ADDED: 0, REMOVED: 0, UNCHANGED: len(base.tasks)}
    assert not any(c.renumbered for c in diff.changes)


def test_renumbered_measures_in_another_style_are_unchanged(base):
    """A measure inserted at the top renumbers everything after it, and the revision is written with 1、 and
    half-width punctuation and quotes: the old measures are still the same tasks, none changed."""
    diff = diff_plans(base, parsed("renumbered.txt"))
    assert [c.new.title for c in diff.of(ADDED)] == ["开展重点行业绩效分级"]
    assert diff.of(REMOVED) == [] and diff.of(CHANGED) == []
    unchanged = {c.old.code: c.new.code for c in diff.of(UNCHANGED)}
    assert unchanged["1.1.1"] == "1.1.2" and unchanged["1.1.3"] == "1.1.4"
    assert unchanged["2.3"] == "2.3" and len(unchanged) == len(base.tasks)


def test_reworded_measures_are_changed_with_the_fields_that_differ(base):
    diff = diff_plans(base, parsed("reworded.txt"))
    changed = {c.old.code: sorted(c.fields) for c in diff.of(CHANGED)}
    assert changed == {
        "1.1.2": ["text"],                 # reworded, same title and departments
        "1.2.1": ["co"],                   # a co-department added
        "1.2.2": ["targets", "text"],      # 80% → 85%
        "2.1": ["due", "text"],            # 2027年6月底 → 12月底
        "2.3": ["co", "leads"],            # the lead moved to another department
    }
    assert diff.of(ADDED) == [] and diff.of(REMOVED) == []
    assert all(c.old.code == c.new.code for c in diff.changes)


def test_a_measure_split_in_two_and_one_removed(base):
    """1.1.1 is dropped (everything after it renumbers); 2.3 becomes two measures: the closer half carries the
    task on (changed), the other is added and names the task it probably came from."""
    diff = diff_plans(base, parsed("split-removed.txt"))
    assert [c.old.title for c in diff.of(REMOVED)] == ["关停退出落后钢铁产能"]
    (added,) = diff.of(ADDED)
    (changed,) = diff.of(CHANGED)
    assert changed.old.code == "2.3" and {changed.new.title, added.new.title} == {
        "开展非道路移动机械编码登记", "划定非道路移动机械禁用区域"}
    assert "title" in changed.fields and added.related == "2.3"
    assert {c.old.code: c.new.code for c in diff.of(UNCHANGED)} == {
        "1.1.2": "1.1.1", "1.1.3": "1.1.2", "1.2.1": "1.2.1", "1.2.2": "1.2.2", "2.1": "2.1", "2.2": "2.2"}


def test_renamed_departments_are_no_change_once_the_registry_knows_them(base):
    revised = parsed("renamed.txt")
    plain = diff_plans(base, revised)
    assert {c.old.code for c in plain.of(CHANGED)} == {"1.1.1", "1.1.2", "1.2.2", "2.2", "2.3"}
    assert all(set(c.fields) <= {"leads", "co"} for c in plain.of(CHANGED))
    registry = {"市发展改革委": "市发展和改革委员会", "市市场监管局": "市市场监督管理局", "市住建局": "市住房和城乡建设局"}
    known = diff_plans(base, revised, canon=lambda n: [registry.get(n, n)])
    assert known.counts[UNCHANGED] == len(base.tasks)


def test_a_collective_compares_as_its_members():
    old = parse_plan_bytes("方案\n一、任务\n1.修路。（市交通局牵头，江东区人民政府、江西区人民政府配合）\n".encode(), "a.txt")
    new = parse_plan_bytes("方案\n一、任务\n1.修路。（市交通局牵头，各区配合）\n".encode(), "b.txt")
    members = {"各区": ["江东区人民政府", "江西区人民政府"]}
    assert diff_plans(old, new).of(CHANGED)[0].fields == ["co"]
    assert diff_plans(old, new, canon=lambda n: members.get(n, [n])).counts[UNCHANGED] == 1


def test_a_measure_that_names_no_department_keeps_the_tasks():
    old = parse_plan_bytes("方案\n一、任务\n1.修路。（市交通局牵头）\n".encode(), "a.txt")
    new = parse_plan_bytes("方案\n一、任务\n1.修路。\n".encode(), "b.txt")
    assert changed_fields(old.tasks[0], new.unassigned[0]) == []


def test_an_unrelated_document_matches_nothing(base):
    diff = diff_plans(base, parsed("unrelated.txt"))
    assert diff.matched == 0
    assert diff.counts[REMOVED] == len(base.tasks) and diff.counts[ADDED] == 2


def test_matching_is_one_to_one_even_for_duplicates():
    text = "方案\n一、任务\n1.开展宣传活动。（市委宣传部牵头）\n2.开展宣传活动。（市委宣传部牵头）\n"
    old = parse_plan_bytes(text.encode(), "a.txt")
    new = parse_plan_bytes(text.replace("2.开展宣传活动", "2.开展培训活动").encode(), "b.txt")
    diff = diff_plans(old, new)
    pairs = {c.old.code: c.new.code for c in diff.changes if c.old and c.new}
    assert pairs == {"1.1": "1.1", "1.2": "1.2"}
    assert diff.for_new("1.1").kind == UNCHANGED and diff.for_new("1.2").kind == CHANGED


def test_normalised_ignores_width_spaces_and_punctuation():
    assert normalised("1、开展 ＡＢ改造，（市局）") == normalised("1.开展AB改造,(市局)") == "1开展ab改造市局"


def test_to_dict_lists_every_kind(base):
    out = diff_plans(base, parsed("split-removed.txt")).to_dict()
    assert set(out) == {"added", "removed", "changed", "unchanged"}
    assert out["changed"][0]["old_code"] == "2.3" and "title" in out["changed"][0]["fields"]
    assert out["removed"] == [{"code": "1.1.1", "title": "关停退出落后钢铁产能"}]
