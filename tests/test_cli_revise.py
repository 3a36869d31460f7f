"""`flask plan import PATH --revises PLAN_ID` (CONTRACT.md) through its JSON output and its one-line errors."""
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from models import AuditEvent, PlanRevision, Task, TaskStatus
from workflow.extensions import db

HERE = Path(__file__).parent / "plans" / "revisions"
NOW = "2026-05-11T10:00+08:00"


def run_json(runner, *args):
    result = runner.invoke(args=[*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def revise(runner, name: str, plan_id: int = 1, *extra):
    return runner.invoke(args=["plan", "import", str(HERE / name), "--revises", str(plan_id), "--now", NOW, *extra])


@pytest.fixture
def published(runner):
    plan_id = run_json(runner, "plan", "import", str(HERE / "base.txt"))["plan_id"]
    run_json(runner, "plan", "publish", str(plan_id), "--first-period", "2026Q1", "--now", "2026-04-01T09:00+08:00")
    return plan_id


def test_revision_prints_the_diff_and_applies_it(runner, published):
    dry = run_json(runner, "plan", "import", str(HERE / "split-removed.txt"), "--revises", str(published),
                   "--dry-run", "--now", NOW)
    assert dry["dry_run"] is True and dry["revision"] is None
    assert db.session.scalar(select(func.count(PlanRevision.id))) == 0
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "plan.revise")) == 0

    out = run_json(runner, "plan", "import", str(HERE / "split-removed.txt"), "--revises", str(published),
                   "--now", NOW)
    assert set(out) >= {"plan_id", "added", "removed", "changed", "unchanged"}
    assert (out["plan_id"], out["revision"], out["dry_run"]) == (published, 1, False)
    assert {k: out[k] for k in ("added", "removed", "changed")} == {k: dry[k] for k in ("added", "removed", "changed")}
    assert out["removed"] == [{"code": "1.1.1", "title": "关停退出落后钢铁产能"}]
    assert out["added"] == [{"code": "2.4", "title": "划定非道路移动机械禁用区域", "related": "2.3"}]
    assert [(c["old_code"], c["code"]) for c in out["unchanged"]][:2] == [("1.1.2", "1.1.1"), ("1.1.3", "1.1.2")]
    steel = db.session.scalar(select(Task).where(Task.title == "关停退出落后钢铁产能"))
    assert steel.status == TaskStatus.CLOSED and steel.close_reason == "因方案修订（2026-05-11）撤销"


def test_table_output_lists_what_is_not_unchanged(runner, published):
    result = revise(runner, "reworded.txt", published, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "changed   2.3" in result.stdout and "leads" in result.stdout
    assert "修改 5 项" in result.stdout and "未变 3 项" in result.stdout


def test_unknown_plan_and_stray_options_are_one_line_and_non_zero(runner, published):
    unknown = revise(runner, "reworded.txt", 99)
    assert unknown.exit_code != 0 and "没有编号为 99 的方案" in unknown.output
    assert len(unknown.output.strip().splitlines()) == 1
    stray = runner.invoke(args=["plan", "import", str(HERE / "reworded.txt"), "--dry-run"])
    assert stray.exit_code != 0 and "--revises" in stray.output and len(stray.output.strip().splitlines()) == 1
    assert db.session.scalar(select(func.count(PlanRevision.id))) == 0


def test_bad_revisions_are_refused_and_write_nothing(runner):
    plan_id = run_json(runner, "plan", "import", str(HERE / "base.txt"))["plan_id"]
    unpublished = revise(runner, "reworded.txt", plan_id)
    assert unpublished.exit_code != 0 and "尚未发布" in unpublished.output
    run_json(runner, "plan", "publish", str(plan_id), "--first-period", "2026Q1", "--now", "2026-04-01T09:00+08:00")

    unrelated = revise(runner, "unrelated.txt", plan_id)
    assert unrelated.exit_code != 0 and "--unrelated-ok" in unrelated.output
    assert len(unrelated.output.strip().splitlines()) == 1
    same_as_plan = revise(runner, "base.txt", plan_id)
    assert same_as_plan.exit_code != 0 and "已作为方案" in same_as_plan.output
    assert db.session.scalar(select(func.count(PlanRevision.id))) == 0

    assert revise(runner, "reworded.txt", plan_id).exit_code == 0
    again = revise(runner, "reworded.txt", plan_id)
    assert again.exit_code != 0 and "第 1 次修订" in again.output
    forced = run_json(runner, "plan", "import", str(HERE / "unrelated.txt"), "--revises", str(plan_id),
                      "--unrelated-ok", "--now", NOW)
    assert forced["revision"] == 2 and len(forced["removed"]) == 8 and len(forced["added"]) == 2
    assert db.session.scalar(select(func.count(Task.id)).where(Task.status == TaskStatus.CLOSED)) == 8
