"""Benchmark at city and province size on PostgreSQL (issue 18 point 6, issue 14's growth): one table.

    .venv/bin/python bench/bench_scale.py            (make bench)
    .venv/bin/python bench/bench_scale.py --reuse    (time again on the databases the last run generated)
    .venv/bin/python bench/bench_scale.py --reuse --page overview    (only that page; repeatable)

1. Two PostgreSQL databases of its own (BENCH_DATABASE_URL's server, databases bench_city and bench_province;
   dropped and created unless --reuse finds them filled), filled by bench/generate.py: *city* (the bundled plan,
   4 years quarterly, played by `demo simulate`) and *province* scaled by --fraction (default 0.1 of 15,000
   tasks, 1,000 departments, 5 years quarterly; see generate.py for the bulk paths). Generation is timed apart.
   The city is also generated on SQLite (a file in the temporary folder; `--no-sqlite` skips it) and its pages
   timed there: the embedded default's figures.
2. Pages, in-process through the test client at the last day generated, as the office (review queue with every
   status, overview, task page, tracker, API report list) and as the liaison of the department with the most
   reports (department home, report list): one warm-up, the statements of one request, then --runs requests
   timed (wall clock of the request, PostgreSQL's share included): median and p95, and the growth ratio
   province / city of the median. Targets (issue 18): median ≤ 100 ms, p95 ≤ 250 ms, growth ≤ 2×, statements identical.
3. Work off the page: one reminders pass on the next working day (dry run, so a second run finds the same
   data), the evaluation computed for one plan and for every plan, parsing the bundled plan's text, the first
   plan's whole ledger as its workbook, and its evaluation PDF through the product against plain WeasyPrint on
   the same HTML (target: the product within 1.3× of plain).
4. Served as in production, on a copy of the database: gunicorn with deploy/gunicorn.conf.py and 2 workers, the
   department home against the trivial page (GET /login), --probe requests each, 4 at a time, in the same run
   (target: ≥ 0.3 of the trivial page's req/s); then the workers' peak RSS (VmHWM) and the peak RSS of a
   scheduler pass (`flask reminders run-once`, the scheduler's heaviest job) in a process of its own
   (target: ≤ 300 MB).
5. EXPLAIN (PostgreSQL's plan, not executed) of every SELECT the province pages ran: the big tables
   (report, contribution, notification, audit_event, escalation, assignment, task) read by a sequential scan.

Benchmarks print numbers and never assert on timing: the exit status is 0 unless something fails to run.
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, event, func, make_url, select, text

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import generate  # noqa: E402  (bench/generate.py)
import load  # noqa: E402  (bench/load.py: gunicorn on a database, the throughput probe)
import processes  # noqa: E402  (bench/processes.py: peak RSS)
from bench_evaluation_pdf import best_of_alternating  # noqa: E402

SERVER = os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
BIG = ("report", "contribution", "notification", "audit_event", "escalation", "assignment", "task")
NEXT_DAY = datetime(2026, 11, 23, 2, tzinfo=UTC)   # the Monday after the last day generated, 10:00 Beijing
PAGES = {   # name → (who, URL template)
    # Every status: on the last day generated the city has nothing awaiting review (`demo simulate` has reviewed
    # it all) while the province has hundreds, so the default queue compared an empty page with a full one.
    "review queue": ("office", "/review/?status=all"),
    "overview": ("office", "/overview/plans/{plan}"),
    "department home": ("liaison", "/my/"),
    "task page": ("office", "/tasks/{task}"),
    "tracker": ("office", "/targets/"),
    "report list": ("liaison", "/reports/"),
    "API report list": ("api", "/api/v1/reports"),
}


def database_url(name: str, sqlite: bool = False) -> str:
    """PostgreSQL: a database of that name on BENCH_DATABASE_URL's server; SQLite: a file in the temporary folder."""
    if sqlite:
        return f"sqlite:///{Path(tempfile.gettempdir()) / name}.sqlite"
    return make_url(SERVER).set(database=name).render_as_string(hide_password=False)


def recreate(name: str, sqlite: bool = False) -> None:
    if sqlite:
        Path(make_url(database_url(name, sqlite)).database).unlink(missing_ok=True)
        return
    admin = create_engine(SERVER, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def filled(url: str) -> bool:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return bool(conn.scalar(text("SELECT count(*) FROM report")))
    except Exception:
        return False
    finally:
        engine.dispose()


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def measure(size: str, args, sqlite: bool = False) -> dict:
    """Generate (or reuse) the size's database and time everything on it (on SQLite: the pages only)."""
    import logging

    import flask_migrate

    from workflow.extensions import db

    name = f"{args.prefix}_{size}"
    reuse = args.reuse and filled(database_url(name, sqlite))
    if not reuse:
        recreate(name, sqlite)
    app = generate.make_app(database_url(name, sqlite))

    @app.before_request
    def forget_cached_user():
        """The bench holds one app context, which its requests share, and with it Flask-Login's cached user
        (tests/conftest.py does the same): each request loads its own user, as in production."""
        from flask import g

        g.pop("_login_user", None)
        g.pop("_flask_babel", None)

    out: dict = {"pages": {}, "explain": {}}
    with app.app_context():
        logging.getLogger("alembic").setLevel(logging.WARNING)
        flask_migrate.upgrade()   # a reused database follows the schema of the code timed on it
        if not reuse:
            print(f"generating {size}:", flush=True)
            began = time.perf_counter()
            made = generate.generate(size, seed=args.seed, fraction=args.fraction,
                                     log=lambda line: print(line, flush=True))
            out["generated"] = time.perf_counter() - began
        # The planner's statistics and visibility map, as autovacuum keeps them on a live database: without them
        # (bulk writes just done, or a copy of the database) PostgreSQL guesses a handful of rows, its plans are
        # not the real ones and an index-only scan still reads the table.
        db.session.commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE" if sqlite else "VACUUM ANALYZE"))
        out["counts"] = generate.counts()
        out["pages"], out["explain"] = time_pages(app, args)
        if not args.pages and not sqlite:   # one page asked for: its timing only
            out.update(off_page(size))
            liaison = people()[1].username
        db.session.remove()
        db.engine.dispose()   # copying the database (serving) needs no one connected to it
    if not args.pages and not sqlite:
        out.update(serving(name, liaison, args))
    if not reuse:
        print(f"  generated in {out['generated']:.0f} s: {made}", flush=True)
    return out


def people():
    from models import Plan, Report, Role, Task, User
    from workflow.extensions import db

    office = db.session.scalar(select(User).where(User.role == Role.OFFICE).order_by(User.id))
    busiest = db.session.execute(select(Report.department_id, func.count()).group_by(Report.department_id)
                                 .order_by(func.count().desc(), Report.department_id).limit(1)).first()[0]
    liaison = db.session.scalar(select(User).where(User.role == Role.LIAISON, User.department_id == busiest)
                                .order_by(User.id))
    plan = db.session.scalar(select(Plan.id).order_by(Plan.id))
    task = db.session.execute(select(Task.id).join(Report, Report.task_id == Task.id).where(Task.plan_id == plan)
                              .group_by(Task.id).order_by(func.count().desc(), Task.id).limit(1)).scalar()
    return office, liaison, plan, task


def time_pages(app, args) -> tuple[dict, dict]:
    import time_machine

    from workflow.auth.tokens import create_token
    from workflow.extensions import db

    office, liaison, plan, task = people()
    token = create_token(office, name="bench", now=generate.NOW, actor=office)[1]
    db.session.commit()
    clients = {who: app.test_client() for who in ("office", "liaison", "api")}
    seen: list[tuple[str, object]] = []
    event.listen(db.engine, "before_cursor_execute", lambda c, cur, st, params, *a: seen.append((st, params)))
    pages, explain = {}, {}
    with time_machine.travel(generate.NOW, tick=True):
        for who, user in (("office", office), ("liaison", liaison)):
            answer = clients[who].post("/login", data={"username": user.username, "password": generate.PASSWORD})
            if answer.status_code != 302:
                raise SystemExit(f"bench: {user.username} could not log in ({answer.status_code})")
        headers = {"api": {"Authorization": f"Bearer {token}"}}
        for name, (who, template) in PAGES.items():
            if args.pages and name not in args.pages:
                continue
            url = template.format(plan=plan, task=task)
            client = clients[who]

            def get(url=url, client=client, who=who):
                response = client.get(url, headers=headers.get(who, {}))
                if response.status_code != 200:
                    raise SystemExit(f"bench: {url} answered {response.status_code}")
                db.session.remove()
            get()
            seen.clear()
            get()
            statements = list(seen)
            times = []
            for _ in range(args.runs):
                began = time.perf_counter()
                get()
                times.append(time.perf_counter() - began)
            pages[name] = {"median": statistics.median(times), "p95": quantile(times, 0.95),
                           "statements": len(statements)}
            explain[name] = sequential_scans(statements)
    return pages, explain


def sequential_scans(statements) -> list[str]:
    """The big tables a SELECT of the page reads with a sequential scan, by PostgreSQL's EXPLAIN (SQLite's EXPLAIN
    QUERY PLAN: a plain SCAN of the table, without an index)."""
    from workflow.extensions import db

    sqlite = db.engine.dialect.name == "sqlite"
    explain, scan = ("EXPLAIN QUERY PLAN ", r"^SCAN (\w+)(?: AS \w+)?$") if sqlite else ("EXPLAIN ", r"Seq Scan on (\w+)")
    found = set()
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        for statement, params in statements:
            if not statement.lstrip().upper().startswith(("SELECT", "WITH")):
                continue
            cursor.execute(explain + statement, params or (() if sqlite else None))
            for row in cursor.fetchall():
                hit = re.search(scan, row[-1])
                if hit and hit.group(1) in BIG:
                    found.add(hit.group(1))
        raw.rollback()
    finally:
        raw.close()
    return sorted(found)


def off_page(size: str) -> dict:
    from models import Plan, Role, User
    from workflow.evaluation import services as evaluation
    from workflow.extensions import db
    from workflow.plans.parsing import parse_plan_bytes
    from workflow.scheduling.reminders import run_reminders

    statements: list[int] = []
    listener = lambda *a: statements.append(1)   # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    began = time.perf_counter()
    result = run_reminders(now=NEXT_DAY, dry_run=True)
    reminders = time.perf_counter() - began
    event.remove(db.engine, "before_cursor_execute", listener)
    office = db.session.scalar(select(User).where(User.role == Role.OFFICE).order_by(User.id))
    plans = db.session.scalars(select(Plan).order_by(Plan.id)).all()

    def compute(plan):
        e = evaluation.get_or_create(plan, 2026, now=generate.NOW)
        evaluation.compute_evaluation(e, actor=office, now=generate.NOW)

    began = time.perf_counter()
    compute(plans[0])
    one = time.perf_counter() - began
    began = time.perf_counter()
    for plan in plans:
        compute(plan)
    every = time.perf_counter() - began
    data = generate.BUNDLED.read_bytes()
    parse = min(generate.timed(lambda: parse_plan_bytes(data, generate.BUNDLED.name))[0] for _ in range(3))
    return {"reminders": reminders, "reminder_statements": len(statements),
            "reminder_queued": len(result["queued"]), "evaluation_one": one, "evaluation_all": every,
            "plans": len(plans), "parse": parse, **ledger_export(plans[0]), **evaluation_pdf(plans[0])}


def ledger_export(plan) -> dict:
    """The whole ledger of the first plan as its workbook (the rows and the .xlsx, what the download builds)."""
    from workflow.ledger.services import LedgerFilters, ledger_rows
    from workflow.ledger.workbook import build_workbook

    began = time.perf_counter()
    rows = ledger_rows(LedgerFilters(plan_id=plan.id), viewer=None, now=generate.NOW)
    data = build_workbook(plan, rows, now=generate.NOW)
    return {"ledger": time.perf_counter() - began, "ledger_rows": len(rows), "ledger_bytes": len(data)}


def evaluation_pdf(plan) -> dict:
    """The first plan's evaluation PDF through the product (archive.generate_pdf: fonts checked, restricted fetcher,
    archived) against plain WeasyPrint on the same HTML, one warm-up each, then one round each."""
    import weasyprint

    from workflow.evaluation import archive, documents
    from workflow.evaluation import services as evaluation

    e = evaluation.get_or_create(plan, 2026, now=generate.NOW)   # computed in off_page, still a draft
    html = documents.render_html(e, generated_at=generate.NOW)
    measured = best_of_alternating(1, product=lambda: archive.generate_pdf(e, actor=None, now=generate.NOW),
                                   plain=lambda: weasyprint.HTML(string=html).write_pdf())
    product, plain = measured["product"][0][0], measured["plain"][0][0]
    return {"pdf": product, "pdf_plain": plain, "pdf_ratio": product / plain, "pdf_pages": measured["product"][1].pages}


def serving(name: str, liaison: str, args) -> dict:
    """Production-like, on a copy of the database (the scheduler's pass writes): gunicorn with the deploy settings
    and 2 workers, the department home against the trivial page (GET /login) over loopback in the same run (req/s
    and their ratio), then the workers' peak RSS; and the peak RSS of a scheduler pass (`flask reminders run-once`,
    its heaviest job, at the real date) in a process of its own."""
    copy = f"{name}_serve"
    admin = create_engine(SERVER, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{copy}" TEMPLATE "{name}"'))
        with load.served(database_url(copy), workers=2) as (base, gunicorn, env):
            rec = load.Recorder()
            session = load.login(base, liaison, rec, password=generate.PASSWORD)
            trivial = load.probe(base, load.requests.Session(), "/login", args.probe, 4, rec)
            home = load.probe(base, session, "/my/", args.probe, 4, rec)
            if rec.errors:   # reported, not fatal: the figures of the other rows stay worth printing
                log = (Path(env["GUNICORN_ACCESS_LOG"]).parent / "gunicorn.log").read_text().splitlines()
                print(f"bench: serving {name}: {len(rec.errors)} failed requests, e.g. {rec.errors[:2]}; "
                      f"gunicorn's log ends:", *log[-15:], sep="\n  ", file=sys.stderr)
            workers = max(processes.peak_rss_mb(pid) for pid in processes.children(gunicorn.pid))
            scheduler = processes.run_peak_rss_mb([str(load.BIN / "flask"), "--app", "wsgi", "reminders", "run-once"],
                                                  env=env, cwd=ROOT)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)'))
        admin.dispose()
    return {"throughput_home": home, "throughput_trivial": trivial, "throughput": home / trivial,
            "worker_rss": workers, "scheduler_rss": scheduler, "failed_requests": len(rec.errors)}


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


def report(city: dict, province: dict, args) -> None:
    c, p = city["counts"], province["counts"]
    print(f"\nbench_scale: Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, PostgreSQL; "
          f"province = {args.fraction:g} of the full size; {args.runs} requests per page")
    print(f"  city:     {c['task']:>6} tasks {c['department']:>5} departments {c['report']:>8} reports "
          f"{c['contribution']:>8} contributions {c['notification']:>7} notifications {c['audit_event']:>7} audit rows")
    print(f"  province: {p['task']:>6} tasks {p['department']:>5} departments {p['report']:>8} reports "
          f"{p['contribution']:>8} contributions {p['notification']:>7} notifications {p['audit_event']:>7} audit rows")
    data = (p["report"] + p["contribution"]) / max(c["report"] + c["contribution"], 1)
    print(f"\n| {'page':<17} | city median / p95 ms | province median / p95 ms | growth | statements city / province |"
          f" province seq scans on big tables |")
    print(f"|{'-' * 19}|{'-' * 22}|{'-' * 26}|{'-' * 8}|{'-' * 28}|{'-' * 34}|")
    for name in args.pages or PAGES:
        a, b = city["pages"][name], province["pages"][name]
        growth = b["median"] / a["median"]
        scans = ", ".join(province["explain"][name]) or "none"
        print(f"| {name:<17} | {ms(a['median']):>9} / {ms(a['p95']):>6}   | {ms(b['median']):>11} / {ms(b['p95']):>8}   "
              f"| {growth:5.2f}× | {a['statements']:>12} / {b['statements']:<11} | {scans:<32} |")
    print(f"|{'-' * 19}|{'-' * 22}|{'-' * 26}|{'-' * 8}|{'-' * 28}|{'-' * 34}|")
    rows = (("reminders pass", "reminders", lambda x: f"{x['reminders']:.2f} s ({x['reminder_statements']} st.)"),
            ("evaluation, 1 plan", "evaluation_one", lambda x: f"{x['evaluation_one']:.2f} s"),
            ("evaluation, all", "evaluation_all", lambda x: f"{x['evaluation_all']:.2f} s ({x['plans']} plans)"),
            ("plan parsing", "parse", lambda x: f"{x['parse'] * 1000:.0f} ms"),
            ("ledger export", "ledger", lambda x: f"{x['ledger']:.2f} s ({x['ledger_rows']} rows)"),
            ("evaluation PDF", "pdf", lambda x: f"{x['pdf']:.1f} s ({x['pdf_pages']} p.)"),
            ("PDF / plain", "pdf_ratio", lambda x: f"{x['pdf_ratio']:.2f}"),
            ("home / trivial", "throughput", lambda x: f"{x['throughput_home']:.0f}/{x['throughput_trivial']:.0f}"
                                                       f" = {x['throughput']:.2f}"
                                                       + (f" ({x['failed_requests']} failed)" if x['failed_requests'] else "")),
            ("worker peak RSS", "worker_rss", lambda x: f"{x['worker_rss']:.0f} MB"),
            ("scheduler RSS", "scheduler_rss", lambda x: f"{x['scheduler_rss']:.0f} MB"))
    for label, key, shown in rows if not args.pages else ():
        print(f"| {label:<17} | {shown(city):>20} | {shown(province):>24} | {province[key] / city[key]:5.2f}× |"
              f" {'':<26} | {'':<32} |")
    print(f"\nthe province has {data:.0f}× the city's reports and contributions")
    if "sqlite" in city:
        print(f"\n| {'page':<17} | SQLite city median / p95 ms | statements | seq scans on big tables |")
        print(f"|{'-' * 19}|{'-' * 29}|{'-' * 12}|{'-' * 25}|")
        for name in args.pages or PAGES:
            a = city["sqlite"]["pages"][name]
            scans = ", ".join(city["sqlite"]["explain"][name]) or "none"
            print(f"| {name:<17} | {ms(a['median']):>15} / {ms(a['p95']):>7}   | {a['statements']:>10} | {scans:<23} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fraction", type=float, default=0.1, help="of the full province (1 = 15,000 tasks)")
    parser.add_argument("--runs", type=int, default=20, help="timed requests per page and size")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reuse", action="store_true", help="keep bench_city / bench_province when filled")
    parser.add_argument("--prefix", default="bench", help="the databases' names: PREFIX_city, PREFIX_province")
    parser.add_argument("--no-sqlite", action="store_true", help="skip the city's pages on SQLite")
    parser.add_argument("--probe", type=int, default=200, help="requests per page in the gunicorn throughput probe")
    parser.add_argument("--page", dest="pages", action="append", choices=list(PAGES),
                        help="time only this page (repeatable; default every page)")
    args = parser.parse_args()
    began = time.perf_counter()
    city = measure("city", args)
    if not args.no_sqlite:
        city["sqlite"] = measure("city", args, sqlite=True)
    province = measure("province", args)
    report(city, province, args)
    print(f"\nbench_scale took {(time.perf_counter() - began) / 60:.1f} min")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
