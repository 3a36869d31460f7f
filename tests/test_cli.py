"""The operations commands of CONTRACT.md, driven as cron or an operator would, through their JSON output."""
import json

import pytest
from sqlalchemy import func, select

from models import Plan, User
from tests.conftest import FUSHUN
from workflow.extensions import db


def run_json(runner, *args):
    result = runner.invoke(args=[*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_plan_parse_prints_the_draft_and_writes_nothing(runner):
    data = run_json(runner, "plan", "parse", str(FUSHUN))
    assert len(data["tasks"]) == 41
    task = next(t for t in data["tasks"] if t["code"] == "3.4.3")
    assert task["leads"] == ["市住房城乡建设局"]
    assert set(data) >= {"title", "implied_units", "targets", "tasks", "unassigned"}
    assert set(task) >= {"code", "title", "leads", "co", "targets"}
    assert set(task["targets"][0]) >= {"year", "value", "unit", "comparator", "metric"}
    assert db.session.scalar(select(func.count(Plan.id))) == 0


def test_plan_parse_table_is_readable(runner):
    result = runner.invoke(args=["plan", "parse", str(FUSHUN)])
    assert result.exit_code == 0
    assert "3.4.3" in result.stdout and "牵头：市住房城乡建设局" in result.stdout


def test_plan_import_then_export_round_trips(runner):
    parsed = run_json(runner, "plan", "parse", str(FUSHUN))
    imported = run_json(runner, "plan", "import", str(FUSHUN))
    assert imported["plan_id"] == 1
    assert imported["tasks"] == 41
    assert imported["assignments"] > 41
    assert imported["targets"] >= 10
    exported = run_json(runner, "plan", "export", "1")
    for key in ("title", "implied_units", "targets", "unassigned"):
        assert exported[key] == parsed[key], key
    strip = [{k: t[k] for k in ("code", "title", "leads", "co", "implied")} for t in parsed["tasks"]]
    assert [{k: t[k] for k in ("code", "title", "leads", "co", "implied")} for t in exported["tasks"]] == strip
    assert [t["targets"] for t in exported["tasks"]] == [t["targets"] for t in parsed["tasks"]]


def test_due_dates_and_lead_rules_are_stored_exported_and_in_the_api(runner, client, tmp_path):
    from models import Role
    from tests.conftest import make_user
    from workflow.auth.tokens import create_token
    from workflow.clock import utcnow

    path = tmp_path / "water.txt"
    path.write_text("测试市节水行动方案\n\n一、重点任务\n"
                    "（一）推进节水改造。2026年6月底前完成改造方案。（市水务局牵头，市财政局配合）\n"
                    "（二）加强节水宣传。（市水务局负责，持续推进）\n"
                    "（三）建立节水档案。（市水务局负责）\n", encoding="utf-8")
    parsed = run_json(runner, "plan", "parse", str(path))
    assert [t["due"] for t in parsed["tasks"]] == ["2026-06-30", "ongoing", None]
    plan_id = run_json(runner, "plan", "import", str(path))["plan_id"]
    exported = run_json(runner, "plan", "export", str(plan_id))
    assert [(t["due"], t["lead_rule"]) for t in exported["tasks"]] == [(t["due"], t["lead_rule"])
                                                                      for t in parsed["tasks"]]
    _row, token = create_token(make_user(Role.OFFICE), now=utcnow())
    items = client.get(f"/api/v1/tasks?plan_id={plan_id}", headers={"Authorization": f"Bearer {token}"}).json["items"]
    assert [t["due"] for t in items] == ["2026-06-30", "ongoing", None]


def test_importing_the_same_file_twice_is_refused(runner):
    run_json(runner, "plan", "import", str(FUSHUN))
    result = runner.invoke(args=["plan", "import", str(FUSHUN)])
    assert result.exit_code != 0
    assert "已导入过" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert db.session.scalar(select(func.count(Plan.id))) == 1


@pytest.mark.parametrize("content", [b"", b"   \n\n", b"\x00\x00\xff\xd8binary" * 30, "这里没有任何措施。".encode()])
def test_bad_files_fail_with_one_line_and_write_nothing(runner, tmp_path, content):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    for command in ("parse", "import"):
        result = runner.invoke(args=["plan", command, str(path)])
        assert result.exit_code != 0, (command, result.output)
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert result.stdout == ""
    assert db.session.scalar(select(func.count(Plan.id))) == 0


def test_a_docx_that_is_not_one_and_a_missing_file(runner, tmp_path):
    fake = tmp_path / "plan.docx"
    fake.write_text("hello")
    for path in (fake, tmp_path / "missing.txt"):
        result = runner.invoke(args=["plan", "import", str(path)])
        assert result.exit_code != 0
        assert len(result.stderr.strip().splitlines()) == 1


def test_export_of_unknown_plan_fails(runner):
    result = runner.invoke(args=["plan", "export", "42"])
    assert result.exit_code != 0
    assert "方案不存在" in result.stderr


def test_demo_load_on_empty_then_refuses_to_change_anything(runner):
    data = run_json(runner, "demo", "load")
    assert data["plan_id"] == 1
    roles = [a["role"] for a in data["accounts"]]
    assert roles.count("office") == 1 and roles.count("leader") == 1 and roles.count("admin") == 1
    departments = {a["department"] for a in data["accounts"] if a["role"] == "liaison"}
    heads = {a["department"] for a in data["accounts"] if a["role"] == "dept_head"}
    assert departments == heads
    assert {"市住房城乡建设局", "各县区政府", "人民银行抚顺市中心支行", "市营商局"} <= departments
    assert "市大数据管理局" not in departments  # an alias, not a department
    users = db.session.scalar(select(func.count(User.id)))
    assert users == len(data["accounts"])

    again = runner.invoke(args=["demo", "load", "--format", "json"])
    assert again.exit_code == 0
    assert "未做任何更改" in again.stderr
    assert db.session.scalar(select(func.count(User.id))) == users
    assert db.session.scalar(select(func.count(Plan.id))) == 1


def test_demo_accounts_can_log_in_and_a_liaison_sees_its_tasks(runner, client):
    data = run_json(runner, "demo", "load")
    liaison = next(a for a in data["accounts"] if a["department"] == "市住房城乡建设局" and a["role"] == "liaison")
    response = client.post("/login", data={"username": liaison["username"], "password": liaison["password"]})
    assert response.status_code == 302
    html = client.get("/", follow_redirects=True).get_data(as_text=True)
    assert "3.4.3" in html and "市住房城乡建设局" in html


def test_demo_simulate_plays_a_published_plan(runner):
    run_json(runner, "demo", "load")
    run_json(runner, "plan", "publish", "1", "--first-period", "2026Q1", "--now", "2026-01-05T09:00+08:00")
    data = run_json(runner, "demo", "simulate", "--plan", "1", "--until", "2026-05-15", "--seed", "3")
    assert set(data) >= {"reports", "submitted", "late", "returned", "approved", "missing"}
    assert data["submitted"] > 0 and data["reports"] >= data["submitted"]
    missing = runner.invoke(args=["demo", "simulate", "--plan", "9", "--until", "2026-05-15"])
    assert missing.exit_code != 0 and "方案不存在" in missing.stderr
