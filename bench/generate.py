"""Data generator for the scale benchmark (issue 18): a city or a province, deterministic for a seed.

    .venv/bin/python bench/generate.py city --database-url postgresql+psycopg://postgres@127.0.0.1/bench_city
    .venv/bin/python bench/generate.py province --fraction 0.1 --database-url ...

The database must be empty; it is migrated first. Sizes:

- *city*: the bundled plan through `demo load` (its departments and demo accounts), published from 2023Q1
  (4 years quarterly, 2023Q1–2026Q4) and played by `demo simulate` (workflow.simulation: every report,
  contribution, return, approval and reminder pass through the services) until UNTIL.
- *province*: PROVINCE_TASKS tasks in PROVINCE_PLANS plans led and co-operated by PROVINCE_DEPARTMENTS
  departments, published from 2022Q1 (5 years quarterly), scaled by `--fraction` (0.1: 1,500 tasks, 100
  departments, ~120,000 reports and contributions; 1: ~1.2 million; 10: the 10× province of the cost curve).

What goes through the product and what is a documented bulk path (the services would take hours at province
size; none of the bulk paths decides anything the rules decide):
- plans: the bundled plan is parsed once (parse_plan_bytes, pure); each province plan is that draft's outline
  with its measures repeated to the size (renumbered within their area, as a bigger plan would number them)
  and departments drawn with a seeded random.Random from generated names, imported by import_plan and
  published by publish_plan (assignment transitions, audit rows, periods, and the set-based period opener
  creating every report and contribution) — the product's own code;
- accounts: a liaison and a head per department; the password is hashed once and the hash shared (scrypt per
  account would take 2,000 × 0.1 s at full size);
- history: every report and contribution of a period whose deadline has passed gets its final state in a few
  UPDATE statements, by a hash of its id and the seed (80% approved, 6% submitted and not reviewed, 4% returned,
  10% never handed in; 85% of contributions submitted), submitted a few days before or after the deadline: the
  state columns a submit / approve / return transition leaves, without the per-row audit and outbox rows;
- then one reminders pass (run_reminders, the product's) queues the reminders and opens the escalations of
  what is overdue on the last day.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import random
import sys
import time
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

UNTIL = date(2026, 11, 20)
NOW = datetime(2026, 11, 20, 2, tzinfo=UTC)          # 10:00 Beijing on the last day played
CITY_PUBLISHED = datetime(2023, 1, 3, 1, tzinfo=UTC)
PROVINCE_PUBLISHED = datetime(2022, 1, 4, 1, tzinfo=UTC)
PROVINCE_TASKS, PROVINCE_DEPARTMENTS, PROVINCE_PLANS = 15_000, 1_000, 15
PASSWORD = "bench-pass-2026"
BUNDLED = ROOT / "data" / "plans" / "fushun-carbon-peak-plan.txt"


def timed(fn):
    began = time.perf_counter()
    result = fn()
    return time.perf_counter() - began, result


def generate(size: str, *, seed: int = 1, fraction: float = 0.1, log=print) -> dict:
    """Fill the (migrated, empty) database of the current app context; returns what was made and how long."""
    steps: dict[str, float] = {}
    with _planner_statistics_kept():
        made = city(seed, steps) if size == "city" else province(seed, fraction, steps)
        steps["reminders pass"], _ = timed(lambda: _remind())
    for step, seconds in steps.items():
        log(f"  {step:<24} {seconds:8.1f} s")
    return {**made, **counts(), "steps": steps}


@contextmanager
def _planner_statistics_kept(every: int = 300):
    """ANALYZE after every `every` commits and once after the bulk history, as autovacuum would on a live database.
    This machine's PostgreSQL runs with autovacuum off, so a database filled from empty kept the planner's
    guesses for empty tables throughout: every pass of `demo simulate` planned against tables it thought empty
    (the city took 772 s, 183 s with statistics), and a dry-run pass over the province's history 340 s (8 s)."""
    from sqlalchemy import event

    from workflow.extensions import db

    if db.engine.dialect.name != "postgresql":
        yield
        return
    commits = 0

    def counted(conn):
        nonlocal commits
        commits += 1
        if commits % every == 0:
            analyze()

    event.listen(db.engine, "commit", counted)
    try:
        yield
    finally:
        event.remove(db.engine, "commit", counted)


def analyze() -> None:
    """Fresh planner statistics (PostgreSQL only, as its callers are), on a connection of its own outside the
    session's transaction."""
    from sqlalchemy import text

    from workflow.extensions import db

    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE"))


def _remind():
    from workflow.scheduling.reminders import run_reminders

    return run_reminders(now=NOW)


def city(seed: int, steps: dict) -> dict:
    from models import Plan
    from workflow.assignments.services import publish_plan
    from workflow.demo import load_demo
    from workflow.extensions import db
    from workflow.simulation import simulate

    steps["demo load"], loaded = timed(lambda: load_demo(now=CITY_PUBLISHED, plan_path=str(BUNDLED)))
    if loaded is None:
        raise SystemExit("generate: the database is not empty")
    plan = db.session.get(Plan, loaded["plan_id"])
    steps["plan publish"], _ = timed(lambda: publish_plan(plan, actor=None, now=CITY_PUBLISHED,
                                                          first_period="2023Q1"))
    steps["demo simulate"], _ = timed(lambda: simulate(plan, until=UNTIL, seed=seed))
    return {"size": "city", "seed": seed, "plans": 1}


def province(seed: int, fraction: float, steps: dict) -> dict:
    from workflow.extensions import db
    from workflow.plans.parsing import parse_plan_bytes

    rng = random.Random(seed)
    n_tasks = max(int(PROVINCE_TASKS * fraction), 1)
    n_departments = max(int(PROVINCE_DEPARTMENTS * fraction), 10)
    n_plans = PROVINCE_PLANS
    base = parse_plan_bytes(BUNDLED.read_bytes(), BUNDLED.name)
    names = [f"省基准测试第{i:04d}厅" for i in range(1, n_departments + 1)]
    steps["plans import"], plans = timed(lambda: [
        _import(_plan_draft(base, f"省级基准方案（{i + 1}/{n_plans}）", n_tasks // n_plans, names, rng), i)
        for i in range(n_plans)])
    steps["accounts"], _ = timed(lambda: _accounts(names))
    steps["plans publish"], _ = timed(lambda: _publish(plans))
    steps["history (bulk)"], _ = timed(lambda: _history(seed))
    db.session.commit()
    steps["analyze"], _ = timed(analyze)
    return {"size": "province", "seed": seed, "fraction": fraction, "plans": n_plans}


def _plan_draft(base, title: str, n_tasks: int, names: list[str], rng: random.Random):
    """The bundled plan's outline with its measures repeated to `n_tasks`, renumbered within their area, each
    led by one generated department and co-operated by 0–6 others (3 on average: 20 reports and
    60 contributions a task over the 5 years, ~1.2 million at full size)."""
    tasks = []
    per_area: dict[str, int] = {}
    source = [t for t in base.tasks if t.leads]
    for i in range(n_tasks):
        t = source[i % len(source)]
        area = t.code.rsplit(".", 1)[0]
        per_area[area] = per_area.get(area, 0) + 1
        depts = rng.sample(names, 1 + rng.randrange(7))
        tasks.append(replace(t, code=f"{area}.{per_area[area]}", leads=depts[:1], co=depts[1:], implied=[],
                             placeholders=[], lead_rule=""))
    outline = [replace(node, children=[replace(c, children=[]) for c in node.children]) for node in base.outline]
    from workflow.plans.parsing.draft import DepartmentDraft

    used = sorted({n for t in tasks for n in (*t.leads, *t.co)})
    return replace(base, title=title, tasks=tasks, unassigned=[], implied_units=[], outline=outline,
                   departments=[DepartmentDraft(name=n, aliases=[], kind="municipal") for n in used])


def _import(draft, i: int):
    from workflow.plans.importer import import_plan

    sha = hashlib.sha256(f"bench-province-{i}-{draft.title}-{len(draft.tasks)}".encode()).hexdigest()
    return import_plan(draft, source_filename=f"province-{i + 1}.txt", source_sha256=sha, actor=None,
                       now=PROVINCE_PUBLISHED)


def _accounts(names: list[str]) -> None:
    from sqlalchemy import select

    from models import Department, Role, User
    from workflow.admin.services import create_user
    from workflow.extensions import db

    office = create_user("office", PASSWORD, Role.OFFICE, now=PROVINCE_PUBLISHED, display_name="领导小组办公室")
    create_user("leader", PASSWORD, Role.LEADER, now=PROVINCE_PUBLISHED)
    digest = office.password_hash
    departments = db.session.scalars(select(Department).where(Department.name.in_(names)).order_by(Department.id))
    for number, dept in enumerate(departments, start=1):
        for prefix, role in (("liaison", Role.LIAISON), ("head", Role.DEPT_HEAD)):
            db.session.add(User(username=f"{prefix}{number:04d}", role=role, department=dept, created_at=PROVINCE_PUBLISHED,
                                display_name=f"{dept.name}{prefix}", email=f"{prefix}{number:04d}@example.gov.cn",
                                password_hash=digest))
    db.session.commit()


def _publish(plans) -> None:
    from workflow.assignments.services import publish_plan

    for plan in plans:
        publish_plan(plan, actor=None, now=PROVINCE_PUBLISHED, first_period="2022Q1")
    from workflow.assignments.services import open_all_due_periods

    open_all_due_periods(now=NOW)


def _history(seed: int) -> None:
    """The final states of every report and contribution whose period's deadline has passed (module docstring)."""
    from sqlalchemy import text

    from workflow.extensions import db

    today = UNTIL.isoformat()
    h = f"((id::bigint * 7919 + {seed} * 104729) % 100)"   # bigint: id * 7919 overflows int4 past 271,000 rows
    days = f"((id * 31 + {seed}) % 12 - 6)"   # −6…+5 days around the deadline (int4: make_interval takes int)
    if db.session.get_bind().dialect.name != "postgresql":
        raise SystemExit("generate: the province's bulk history is written for PostgreSQL")
    at = "(p.deadline + make_interval(days => {d}) + interval '2 hours')"
    for table, cases in (
            ("report", [("approved", f"{h} < 80"), ("submitted", f"{h} >= 80 AND {h} < 86"),
                        ("returned", f"{h} >= 86 AND {h} < 90")]),
            ("contribution", [("submitted", f"{h} < 85")])):
        for status, where in cases:
            submitted = at.format(d=days.replace("id", f"{table}.id"))
            extra = ""
            if table == "report":
                reviewed = at.format(d=f"({days.replace('id', 'report.id')} + 3)")
                extra = (f", first_submitted_at = {submitted}, percent_complete = 20 + {h.replace('id', 'report.id')} % 80,"
                         f" progress = 'on_track', narrative = '按计划推进'")
                if status in ("approved", "returned"):
                    extra += f", reviewed_at = {reviewed}"
                if status == "returned":
                    extra += ", return_count = 1, last_return_reason = '请补充数据来源'"
            else:
                extra = ", text = '配合推进'"
            db.session.execute(text(
                f"UPDATE {table} SET status = '{status}', version = version + 1, submitted_at = {submitted},"
                f" updated_at = {submitted}{extra} FROM period p WHERE p.id = {table}.period_id"
                f" AND p.deadline < '{today}' AND {where.replace('id', f'{table}.id')}"))
    db.session.commit()


def counts() -> dict:
    from sqlalchemy import func, select

    from models import AuditEvent, Contribution, Department, Escalation, Notification, Report, Task
    from workflow.extensions import db

    return {model.__tablename__: db.session.scalar(select(func.count()).select_from(model))
            for model in (Task, Department, Report, Contribution, Notification, Escalation, AuditEvent)}


def make_app(database_url: str):
    from workflow import create_app

    os.environ.setdefault("UPLOAD_DIR", str(Path(os.environ.get("TMPDIR", "/tmp")) / "bench-uploads"))
    # The limits stay on (their counters cost what they cost in production) but high: the bench signs in and calls
    # the API at one frozen moment run after run, so a window of real limits would never expire (tests/test_security.py
    # tests the limits themselves).
    return create_app({"SQLALCHEMY_DATABASE_URI": database_url, "WTF_CSRF_ENABLED": False, "DEMO_PASSWORD": PASSWORD,
                       "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000", "LOGIN_RATE_LIMIT": "1000000 per minute",
                       "API_RATE_LIMIT": "1000000 per minute"})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("size", choices=("city", "province"))
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fraction", type=float, default=0.1, help="of the province's size (1 = full)")
    args = parser.parse_args()
    import logging

    import flask_migrate

    app = make_app(args.database_url)
    with app.app_context():
        flask_migrate.upgrade()
        logging.getLogger("alembic").setLevel(logging.WARNING)
        made = generate(args.size, seed=args.seed, fraction=args.fraction)
    print({k: v for k, v in made.items() if k != "steps"})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
