"""The evaluation report as the office, the leaders and the departments receive it: what the PDF says (read back
with pdftotext and pdffonts), the draft watermark, the archive that gives frozen files back byte for byte, one
department's PDF, and the clear failures (no CJK font, unknown department)."""
from __future__ import annotations

import hashlib
import json
import re
import subprocess
from datetime import UTC, date, datetime, time
from pathlib import Path

import pytest
from sqlalchemy import select

from models import Department, Role
from models.evaluation import EvaluationFile
from tests.conftest import EVALUATED_AT as NOW
from tests.conftest import make_user
from workflow.clock import LOCAL_TZ
from workflow.evaluation import archive, services
from workflow.extensions import db

HOUSING = "市住房城乡建设局"


def at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=LOCAL_TZ).astimezone(UTC)


def pdf_text(data: bytes, tmp_path: Path, layout: bool = False) -> str:
    path = tmp_path / f"{hashlib.sha256(data).hexdigest()[:8]}.pdf"
    path.write_bytes(data)
    args = ["pdftotext", *(["-layout"] if layout else []), str(path), "-"]
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout


def pdf_fonts(path: Path) -> list[list[str]]:
    out = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout
    return [line.split() for line in out.splitlines()[2:] if line.strip()]


def test_the_draft_report_names_every_department_with_its_score_and_page_numbers(evaluation, tmp_path):
    ev, office = evaluation
    archived = archive.generate_pdf(ev, actor=office, now=NOW)
    data = archive.read_file(archived)
    assert data.startswith(b"%PDF") and archived.size == len(data)
    assert archived.sha256 == hashlib.sha256(data).hexdigest() and archived.status == "draft"
    text = pdf_text(data, tmp_path)
    flat = "".join(text.split())
    assert ev.scores, "every department with tasks is scored"
    for score in ev.scores:
        assert score.department.name in flat
        assert f"{score.score:.1f}" in flat
    assert f"第2页共{archived.pages}页" in flat and f"第{archived.pages}页共{archived.pages}页" in flat
    for heading in ("目录", "评估办法与参数", "总体情况", "各单位评估结果", "附录", "签认"):
        assert heading in flat
    assert "草稿" in flat                                        # watermark and cover note
    assert "3.4.3" in flat and "清洁取暖率" in flat               # the appendix's targets and reports


def test_fonts_are_embedded_cjk_subsets(evaluation, tmp_path):
    ev, office = evaluation
    path = tmp_path / "report.pdf"
    path.write_bytes(archive.read_file(archive.generate_pdf(ev, actor=office, now=NOW)))
    fonts = pdf_fonts(path)
    assert fonts and any("CJK" in row[0] for row in fonts)
    for row in fonts:
        name, emb, sub = row[0], row[-5], row[-4]
        assert (emb, sub) == ("yes", "yes"), row
        assert "+" in name  # subset tag


def test_a_frozen_report_has_no_watermark_and_downloads_again_as_the_same_bytes(evaluation, tmp_path, storage_backend):
    ev, office = evaluation
    leader = make_user(Role.LEADER, username="leader1")
    services.sign_off(ev, actor=leader, now=NOW, note="同意")
    first = archive.generate_pdf(ev, actor=office, now=NOW)
    again = archive.generate_pdf(ev, actor=leader, now=datetime(2026, 12, 1, tzinfo=UTC))
    assert again.id == first.id and archive.read_file(again) == archive.read_file(first)
    assert first.status == "frozen" and first.freeze_round == 1
    text = "".join(pdf_text(archive.read_file(first), tmp_path).split())
    assert "草稿" not in text and "已签认" in text and leader.display in text and "同意" in text

    services.reopen(ev, actor=office, now=NOW, reason="数据更正")
    services.sign_off(ev, actor=leader, now=datetime(2026, 12, 2, tzinfo=UTC))
    second_round = archive.generate_pdf(ev, actor=office, now=NOW)
    assert second_round.id != first.id and second_round.freeze_round == 2
    assert archive.read_file(first) == archive.read_file(db.session.get(EvaluationFile, first.id))


def test_drafts_are_archived_each_time_with_author_and_state(evaluation):
    ev, office = evaluation
    one = archive.generate_pdf(ev, actor=office, now=NOW)
    two = archive.generate_pdf(ev, actor=office, now=datetime(2026, 11, 25, tzinfo=UTC))
    assert one.id != two.id and {one.status, two.status} == {"draft"}
    assert one.created_by_id == office.id and one.filename.endswith("（草稿）.pdf")


def test_one_departments_report_holds_its_section_only(evaluation, tmp_path):
    ev, office = evaluation
    housing = Department.lookup(HOUSING)
    archived = archive.generate_pdf(ev, department=housing, actor=office, now=NOW)
    assert archived.department_id == housing.id
    pages = pdf_text(archive.read_file(archived), tmp_path).split("\f")
    contents, text = "".join(pages[1].split()), "".join("".join(pages).split())
    assert HOUSING in contents and "市交通运输局" not in contents   # one department's section in the contents
    assert len(re.findall(r"排名\d+/\d+", text)) == 1 and "3.4.3" in text
    whole = archive.generate_pdf(ev, actor=office, now=NOW)
    assert archived.pages < whole.pages
    assert "市交通运输局" in "".join(pdf_text(archive.read_file(whole), tmp_path).split("\f")[1].split())


def test_department_users_see_only_their_own_files(evaluation):
    ev, office = evaluation
    housing = Department.lookup(HOUSING)
    own = archive.generate_pdf(ev, department=housing, actor=office, now=NOW)
    archive.generate_pdf(ev, actor=office, now=NOW)
    liaison = make_user(Role.LIAISON, housing)
    assert [f.id for f in archive.visible_files(ev, liaison)] == [own.id]
    assert len(archive.visible_files(ev, office)) == 2


def test_a_rare_character_prints_as_text_never_as_a_box(evaluation, tmp_path):
    ev, office = evaluation
    housing = Department.lookup(HOUSING)
    housing.name = "市\U00020000住房城乡建设局\U00031350"   # Ext B (HanaMin has it); Ext H (no font here has it)
    db.session.commit()
    services.compute_evaluation(ev, actor=office, now=NOW)
    archived = archive.generate_pdf(ev, department=housing, actor=office, now=NOW)
    text = pdf_text(archive.read_file(archived), tmp_path)
    assert "\U00020000" in text
    assert "U+31350" in text and "\U00031350" not in text


def test_without_a_cjk_font_the_command_fails_with_one_clear_line(evaluation, runner, monkeypatch, tmp_path):
    ev, _ = evaluation
    monkeypatch.setattr("pdf.render.cjk_font_available", lambda: False)
    out = tmp_path / "report.pdf"
    result = runner.invoke(args=["evaluation", "pdf", "--plan", str(ev.plan_id), "--year", "2026", "-o", str(out)])
    assert result.exit_code == 1
    assert "fonts-noto-cjk" in result.output and len(result.output.strip().splitlines()) == 1
    assert not out.exists() and db.session.scalars(select(EvaluationFile)).all() == []


def test_the_pdf_command_writes_the_file_and_reports_it(evaluation, runner, tmp_path):
    ev, _ = evaluation
    out = tmp_path / "住建.pdf"
    result = runner.invoke(args=["evaluation", "pdf", "--plan", str(ev.plan_id), "--year", "2026",
                                 "--department", HOUSING, "-o", str(out), "--now", "2026-11-24T10:00+08:00"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    data = out.read_bytes()
    assert info["path"] == str(out.resolve()) and info["bytes"] == len(data) and info["pages"] >= 3
    assert info["sha256"] == hashlib.sha256(data).hexdigest()


def test_the_pdf_command_takes_the_contract_format_option(evaluation, runner, tmp_path):
    ev, _ = evaluation
    out = tmp_path / "whole.pdf"
    args = ["evaluation", "pdf", "--plan", str(ev.plan_id), "--year", "2026", "-o", str(out)]
    result = runner.invoke(args=[*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert set(info) >= {"path", "pages", "bytes", "sha256"}
    assert info["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest() and info["bytes"] == out.stat().st_size
    table = runner.invoke(args=[*args, "--format", "table"])
    assert table.exit_code == 0, table.output
    assert str(out.resolve()) in table.stdout and f"{info['pages']} 页" in table.stdout
    assert not table.stdout.lstrip().startswith("{")


@pytest.mark.parametrize("args, message", [
    (["--department", "市不存在局"], "单位不存在"),
    (["--year", "1900"], "1900"),
    (["-o", "/nonexistent-dir/x.pdf"], "输出目录不存在"),
])
def test_bad_pdf_arguments_fail_with_one_line(evaluation, runner, tmp_path, args, message):
    ev, _ = evaluation
    base = {"--plan": str(ev.plan_id), "--year": "2026", "-o": str(tmp_path / "x.pdf")}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        base[flag] = value
    result = runner.invoke(args=["evaluation", "pdf", *[x for kv in base.items() for x in kv]])
    assert result.exit_code != 0 and message in result.output
    assert not (tmp_path / "x.pdf").exists()


def test_the_pdf_command_warns_when_the_font_subsetter_is_missing(evaluation, runner, monkeypatch, tmp_path):
    ev, _ = evaluation
    monkeypatch.setattr("workflow.cli.evaluation.subsetter_warning", lambda: "未找到 libharfbuzz-subset")
    out = tmp_path / "report.pdf"
    result = runner.invoke(args=["evaluation", "pdf", "--plan", str(ev.plan_id), "--year", "2026", "-o", str(out)])
    assert result.exit_code == 0 and out.read_bytes().startswith(b"%PDF")
    assert "警告：未找到 libharfbuzz-subset" in result.stderr
    assert json.loads(result.stdout)["path"] == str(out.resolve())
