"""Benchmark: the office's pages on the bundled plan and on a generated plan 20× its size (issue 14).

Run from the repository root: `.venv/bin/python bench/bench_pages.py` (or `make bench`).

1. Set-up (timed on its own): a fresh SQLite database in a temporary directory, migrated in-process, `demo load`,
   plan 1 published from 2026Q1 and `demo simulate` until 2026-11-20 (seed 1), through the services the CLI
   calls, with fixed moments.
2. The large plan: the bundled text with the measures of every area repeated `--scale` times (renumbered, so
   the same areas and departments with `--scale`× the tasks, assignments, targets, reports and contributions),
   imported and published the same way. Rather than simulate it again (minutes), every report, contribution,
   reported value and escalation of the simulated plan is copied onto the copies of its task: the large plan
   has the small one's history `--scale` times over.
3. Each page (PAGES: the overview, its period tables sorted, its task list, the API's overview), as the office
   through the test client at the simulation's last day: one uncounted warm-up, then the best of `--runs`,
   the two plans taking turns, in CPU time of the process (the request, SQLite included, runs in-process: the
   figure does not move with what else the machine runs); the SQL statements of one request; the growth
   ratio large / small.
   Target: every page's time grows less than 2× for 20× the data, and its statements not at all.

Benchmarks print numbers and never assert on timing: the exit status is 0 unless something fails to run.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TARGET_RATIO = 2.0
PUBLISHED = datetime(2026, 1, 5, 1, tzinfo=UTC)
UNTIL = date(2026, 11, 20)
NOW = datetime(2026, 11, 20, 10, tzinfo=UTC)   # 18:00 Beijing on the simulation's last day
SEED = 1
MEASURE = re.compile(r"^(\d+)\.\s*")
AREA = re.compile(r"^[（(][一二三四五六七八九十]+[）)]")
# name → URL template ({plan}); add a page here to time it.
PAGES = {
    "overview": "/overview/plans/{plan}",
    "overview, period, sorted": "/overview/plans/{plan}?scope=period&dsort=-overdue&asort=-red",
    "overview task list": "/overview/plans/{plan}/tasks?light=red",
    "API overview": "/api/v1/plans/{plan}/overview",
}


def scaled_text(text: str, scale: int) -> str:
    """The plan with each area's numbered measures repeated `scale` times, renumbered 1…; lines between a
    measure and the next (continuations) travel with it."""
    out: list[str] = []
    measures: list[str] = []

    def flush():
        for copy in range(scale):
            for i, line in enumerate(measures):
                out.append(MEASURE.sub(f"{copy * len(measures) + i + 1}. ", line, count=1))
        measures.clear()

    for line in text.splitlines():
        if MEASURE.match(line):
            measures.append(line)
        elif measures and not AREA.match(line) and not re.match(r"^[一二三四五六七八九十]+、", line):
            measures[-1] += "\n" + line
        else:
            flush()
            out.append(line)
    flush()
    return "\n".join(out).replace("抚顺市碳达峰实施方案", f"抚顺市碳达峰实施方案（×{scale} 基准测试）", 1) + "\n"


def timed(fn, clock=time.perf_counter):
    began = clock()
    result = fn()
    return clock() - began, result


def cpu_timed(fn):
    """The process's CPU time: the request runs in-process, so this is its work, whatever else the machine
    runs at the same time (wall time on a shared machine measures the neighbours too)."""
    return timed(fn, time.process_time)


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per page and plan (best is kept)")
    parser.add_argument("--scale", type=int, default=22,
                        help="how many times the large plan repeats each area's measures (22: 20× the tasks)")
    parser.add_argument("--database", type=Path, help="keep the set-up in this SQLite file and reuse it when it "
                                                       "exists (to time changes without setting up again)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-pages-") as tmp:
        database = args.database.resolve() if args.database else Path(tmp) / "bench.sqlite"
        os.environ["DATABASE_URL"] = f"sqlite:///{database}"
        os.environ["UPLOAD_DIR"] = str(Path(tmp) / "uploads")
        return run(args, database, reuse=database.exists())


def copy_history(small, large) -> dict:
    """Give every report, contribution, value and escalation of `small` to the copies of its task in `large`."""
    from sqlalchemy import select, update

    from models import Contribution, Escalation, Period, Report, ReportValue, Target
    from workflow.extensions import db

    def base_of(task) -> str:     # '3.1.7' in the large plan is the copy of '3.1.3' when areas have 4 measures
        return task.code.rsplit(".", 1)[0]

    small_tasks = {t.code: t for t in small.tasks}
    per_area: dict[str, list] = {}
    for t in small.tasks:
        per_area.setdefault(base_of(t), []).append(t)
    original = {}
    for t in large.tasks:
        siblings = per_area.get(base_of(t))
        number = int(t.code.rsplit(".", 1)[1]) if siblings else 0
        original[t.id] = siblings[(number - 1) % len(siblings)] if siblings else small_tasks.get(t.code)
    periods = {p.key: p.id for p in db.session.scalars(select(Period).where(Period.plan_id == large.id))}
    small_periods = {p.id: p.key for p in db.session.scalars(select(Period).where(Period.plan_id == small.id))}
    counts = {}
    for model, fields in ((Report, ("status", "narrative", "percent_complete", "progress", "version", "submitted_at",
                                    "first_submitted_at", "reviewed_at", "return_count", "last_return_reason",
                                    "updated_at")),
                          (Contribution, ("status", "text", "version", "submitted_at", "updated_at"))):
        source = {(r.task_id, small_periods[r.period_id], r.department_id): r for r in db.session.scalars(
            select(model).where(model.period_id.in_(small_periods)))}
        rows = []
        for r in db.session.scalars(select(model).where(model.period_id.in_(periods.values()))):
            base = original.get(r.task_id)
            key = [k for k, v in periods.items() if v == r.period_id][0]
            s = source.get((base.id, key, r.department_id)) if base else None
            if s is not None:
                rows.append({"id": r.id, **{f: getattr(s, f) for f in fields}})
        for row in rows:   # the versioned models refuse a bulk update without their version; set them plainly
            db.session.execute(update(model).where(model.id == row.pop("id")).values(**row)
                               .execution_options(synchronize_session=False))
        counts[model.__tablename__] = len(rows)
    db.session.commit()
    # Reported values and escalations, pointing at the copies.
    targets = {(t.task_id, t.position): t.id for t in db.session.scalars(select(Target).where(Target.plan_id == large.id))}
    small_targets = {t.id: (t.task_id, t.position) for t in db.session.scalars(
        select(Target).where(Target.plan_id == small.id))}
    reports = {(r.task_id, r.period_id, r.department_id): r.id for r in db.session.scalars(
        select(Report).where(Report.period_id.in_(periods.values())))}
    contributions = {(c.task_id, c.period_id, c.department_id): c.id for c in db.session.scalars(
        select(Contribution).where(Contribution.period_id.in_(periods.values())))}
    copies: dict[int, list] = {}
    for task_id, base in original.items():
        if base is not None:
            copies.setdefault(base.id, []).append(task_id)
    values = []
    for v, r in db.session.execute(select(ReportValue, Report).join(Report).where(
            Report.period_id.in_(small_periods))).all():
        base_task, position = small_targets[v.target_id]
        for task_id in copies.get(base_task, []):
            report_id = reports.get((task_id, periods[small_periods[r.period_id]], r.department_id))
            target_id = targets.get((task_id, position))
            if report_id and target_id:
                values.append(ReportValue(report_id=report_id, target_id=target_id, value=v.value))
    db.session.add_all(values)
    escalations = []
    for e in db.session.scalars(select(Escalation).where(Escalation.plan_id == small.id)):
        for n, task_id in enumerate(copies.get(e.task_id, [])):
            where = (task_id, periods[small_periods[e.period_id]], e.department_id)
            subject = ({"report_id": reports.get(where)} if e.report_id else {"contribution_id": contributions.get(where)})
            if None in subject.values():
                continue
            escalations.append(Escalation(
                key=f"bench:{e.key}:{n}", plan_id=large.id, task_id=task_id, period_id=where[1],
                department_id=e.department_id, cause=e.cause, days_late=e.days_late, status=e.status,
                opened_at=e.opened_at, closed_at=e.closed_at, close_reason=e.close_reason, **subject))
    db.session.add_all(escalations)
    db.session.commit()
    counts.update(report_value=len(values), escalation=len(escalations))
    return counts


def run(args, database: Path, *, reuse: bool) -> int:
    from sqlalchemy import select

    from models import Plan
    from workflow import create_app
    from workflow.extensions import db

    print(f"bench_pages: Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, database {database}"
          f"{' (reused)' if reuse else ''}")
    app = create_app()
    app.config["WTF_CSRF_ENABLED"] = False   # the bench logs in with a plain POST
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{database}", "not the bench's database"
    with app.app_context():
        if reuse:
            small, large = db.session.scalars(select(Plan).order_by(Plan.id)).all()[:2]
        else:
            text = (ROOT / "data" / "plans" / "fushun-carbon-peak-plan.txt").read_text("utf-8")
            small, large = set_up(args, raw=scaled_text(text, args.scale).encode())
        sizes = {"small": size(small), "large": size(large)}
        for name, s in sizes.items():
            print(f"  {name:<6} {s['tasks']:>5} tasks {s['reports']:>6} reports {s['contributions']:>6} contributions")
        time_pages(app, args, small, large, sizes)
    return 0


def size(plan) -> dict:
    from sqlalchemy import func, select

    from models import Contribution, Period, Report
    from workflow.extensions import db

    periods = select(Period.id).where(Period.plan_id == plan.id)
    return {"tasks": len(plan.tasks),
            "reports": db.session.scalar(select(func.count()).where(Report.period_id.in_(periods))),
            "contributions": db.session.scalar(select(func.count()).where(Contribution.period_id.in_(periods)))}


def set_up(args, *, raw: bytes):
    """The simulated bundled plan and the large plan with its copied history (see the module's docstring)."""
    import logging

    import flask_migrate

    from models import Plan
    from workflow.assignments.services import open_due_periods, publish_plan
    from workflow.demo import load_demo
    from workflow.extensions import db
    from workflow.plans.importer import import_plan
    from workflow.plans.parsing import parse_plan_bytes
    from workflow.plans.services import sha256_of
    from workflow.simulation import simulate

    setup: dict[str, float] = {}
    setup["db upgrade"], _ = timed(flask_migrate.upgrade)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    setup["demo load"], loaded = timed(lambda: load_demo(now=PUBLISHED))
    small = db.session.get(Plan, loaded["plan_id"])
    setup["plan publish"], _ = timed(lambda: publish_plan(small, actor=None, now=PUBLISHED, first_period="2026Q1"))
    setup["demo simulate"], sim = timed(lambda: simulate(small, until=UNTIL, seed=SEED))

    def make_large():
        draft = parse_plan_bytes(raw, "bench.txt")
        plan = import_plan(draft, source_filename="bench.txt", source_sha256=sha256_of(raw), actor=None,
                           now=PUBLISHED)
        publish_plan(plan, actor=None, now=PUBLISHED, first_period="2026Q1")
        open_due_periods(plan, now=NOW)
        db.session.commit()
        return plan

    setup["large plan import"], large = timed(make_large)
    setup["copy the history"], copied = timed(lambda: copy_history(small, large))
    print(f"\nset-up: simulated to {UNTIL} (seed {SEED}): {sim['reports']} reports, {sim['late']} late, "
          f"{sim['returned']} returned, {sim['missing']} missing; large plan ×{args.scale}: copied {copied}")
    for step, seconds in setup.items():
        print(f"  {step:<20} {seconds:8.1f} s")
    return small, large


def time_pages(app, args, small, large, sizes) -> None:
    """Each of PAGES on both plans as the office: statements of one request, best time of `args.runs`."""
    import time_machine
    from sqlalchemy import event, select

    from models import Role, User
    from workflow.auth.tokens import create_token
    from workflow.extensions import db

    office = db.session.scalar(select(User).where(User.role == Role.OFFICE).order_by(User.id))
    token = create_token(office, name="bench", now=NOW, actor=office)[1]
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    statements = []
    event.listen(db.engine, "before_cursor_execute", lambda *a: statements.append(1))
    print(f"\npages as the office, CPU time of the request, best of {args.runs} (after a warm-up), small plan "
          f"#{small.id} / large plan #{large.id}:")
    print(f"  {'page':<28} {'small':>9} {'large':>9} {'ratio':>6}   statements small / large")
    worst = 0.0
    with time_machine.travel(NOW, tick=False):
        client.post("/login", data={"username": office.username, "password": app.config["DEMO_PASSWORD"]})
        for name, template in PAGES.items():
            urls = {which: template.format(plan=plan.id) for which, plan in (("small", small), ("large", large))}
            counted = {}
            for which, url in urls.items():
                response = client.get(url, headers=headers)
                if response.status_code != 200:
                    raise SystemExit(f"bench: {url} answered {response.status_code}")
                statements.clear()
                client.get(url, headers=headers)
                counted[which] = len(statements)
            times: dict[str, list[float]] = {which: [] for which in urls}
            for _ in range(args.runs):
                for which, url in urls.items():
                    seconds, _ = cpu_timed(lambda url=url: client.get(url, headers=headers))
                    times[which].append(seconds)
            best = {which: min(t) for which, t in times.items()}
            ratio = best["large"] / best["small"]
            worst = max(worst, ratio)
            print(f"  {name:<28} {fmt_ms(best['small']):>9} {fmt_ms(best['large']):>9} {ratio:5.2f}×   "
                  f"{counted['small']} / {counted['large']}")
    data_ratio = sizes["large"]["reports"] / max(sizes["small"]["reports"], 1)
    verdict = "met" if worst < TARGET_RATIO else "NOT met"
    print(f"\ngrowth: {data_ratio:.1f}× the reports, pages at most {worst:.2f}× the time "
          f"(target < {TARGET_RATIO:.0f}×: {verdict})")


if __name__ == "__main__":
    raise SystemExit(main())
