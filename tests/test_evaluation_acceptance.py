"""The evaluation issue's command-line acceptance, from the outside: real `flask` processes on a fresh database
(SQLite, and a PostgreSQL schema of its own when TEST_DATABASE_URL is set) play the bundled plan's year, then
`evaluation compute` and `evaluation pdf` give every department a score, and the PDF says so.

Times are printed, never asserted (bench/ measures speed)."""
from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from tests.test_evaluation_pdf import pdf_fonts
from tests.test_scheduler_processes import flask, postgres_schema_database, scheduler_env, sqlite_database

BACKENDS = ["sqlite"]
if os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"):
    BACKENDS.append("postgresql")
GRADES = {"优秀", "良好", "一般", "较差"}


@pytest.fixture(params=BACKENDS)
def fresh_env(request, tmp_path):
    def env(url):
        return {**scheduler_env(url), "UPLOAD_DIR": str(tmp_path / "uploads")}

    if request.param == "sqlite":
        with sqlite_database(tmp_path) as url:
            yield env(url)
    else:
        with postgres_schema_database(os.environ["TEST_DATABASE_URL"]) as url:
            yield env(url)


def run_json(env, *args) -> dict:
    return json.loads(flask(env, *args).stdout)


def test_a_simulated_year_is_scored_and_printed_for_every_department(fresh_env, tmp_path):
    env = fresh_env
    flask(env, "demo", "load")
    flask(env, "plan", "publish", "1", "--first-period", "2026Q1")
    simulated = run_json(env, "demo", "simulate", "--plan", "1", "--until", "2026-12-31", "--format", "json")
    assert simulated["approved"] > 0 and simulated["late"] > 0 and simulated["missing"] > 0

    exported = run_json(env, "plan", "export", "1")
    with_tasks = {d for t in exported["tasks"] for d in (*t["leads"], *t["co"])}
    result = run_json(env, "evaluation", "compute", "--plan", "1", "--year", "2026", "--format", "json")
    assert result["plan_id"] == 1 and result["year"] == 2026 and result["frozen"] is False
    rows = {row["department"]: row for row in result["departments"]}
    assert set(rows) == with_tasks
    for row in rows.values():
        assert isinstance(row["score"], float) and 0 <= row["score"] <= 100 and row["grade"] in GRADES
        assert {"timeliness", "quality", "attainment", "rating"} <= set(row["parts"])

    out = tmp_path / "report.pdf"
    began = time.perf_counter()
    info = run_json(env, "evaluation", "pdf", "--plan", "1", "--year", "2026", "-o", str(out))
    seconds = time.perf_counter() - began
    print(f"\nevaluation pdf: {info['pages']} pages, {info['bytes'] / 1e6:.2f} MB, {seconds:.1f} s")
    data = out.read_bytes()
    assert info["bytes"] == len(data) < 3_000_000 and info["path"] == str(out.resolve())

    text = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True, check=True).stdout
    flat = "".join(text.split())
    for name, row in rows.items():
        assert name in flat and f"{row['score']:.1f}" in flat, name
    for page in range(2, info["pages"] + 1):
        assert f"第{page}页共{info['pages']}页" in flat
    fonts = pdf_fonts(out)
    assert any("CJK" in f[0] for f in fonts)
    assert all(f[-5:-3] == ["yes", "yes"] and "+" in f[0] for f in fonts), fonts

    one = tmp_path / "one.pdf"
    name = sorted(rows)[0]
    single = run_json(env, "evaluation", "pdf", "--plan", "1", "--year", "2026", "--department", name, "-o", str(one))
    assert 0 < single["pages"] < info["pages"] and name in "".join(
        subprocess.run(["pdftotext", str(one), "-"], capture_output=True, text=True, check=True).stdout.split())
