"""Benchmark: the annual evaluation PDF through the product against plain WeasyPrint (issue #7).

Run from the repository root: `.venv/bin/python bench/bench_evaluation_pdf.py` (or `make bench`).

1. Set-up (timed on its own, not part of any comparison): a fresh SQLite database and upload folder in a
   temporary directory, migrated in-process (flask_migrate.upgrade), `demo load`, plan 1 published from
   2026Q1, `demo simulate` until 2026-12-31 with seed 1, the 2026 evaluation computed. All through the
   service functions the CLI calls, with fixed moments instead of the wall clock, so every run renders the
   same report.
2. Product vs plain, best of N runs each after one uncounted warm-up, the two alternating:
   product = archive.generate_pdf(evaluation) for the whole plan: HTML from the stored scores, render_document
             (CJK font check, rare-character check, restricted url_fetcher) and archiving (sha256 blob + row).
             The evaluation is a draft, so every call renders afresh.
   plain   = weasyprint.HTML(string=html).render().write_pdf() on the same HTML (documents.render_html, built
             once beforehand): system fonts through fontconfig, WeasyPrint's default fetcher. This is exactly
             what HTML.write_pdf() does, split so the page count and layout/write times can be told.
   Target: product ≤ 1.30 × plain.
3. Scaling: the same HTML with the department sections and the task appendix repeated (copies lose their
   id attributes and section headings, so target-counter in the contents still resolves); 11 copies of the
   bundled plan's ~32 pages of them make a report of ~9× the pages (~360, the size the issue names).
   Rendered with render_document; seconds per page against the base report's through the same function,
   so the ratio shows how layout scales with length. Linear ≈ 1.0.
4. One PDF per department (archive.generate_pdf(..., department=d)) for every department with a score.

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
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TARGET_RATIO = 1.30
PUBLISHED = datetime(2026, 1, 5, 1, tzinfo=UTC)     # demo load and publication (09:00 Beijing time)
UNTIL = date(2026, 12, 31)
NOW = datetime(2026, 12, 31, 10, tzinfo=UTC)        # 18:00 Beijing on the simulation's last day
SEED = 1


def timed(fn: Callable):
    began = time.perf_counter()
    result = fn()
    return time.perf_counter() - began, result


def best_of_alternating(runs: int, **fns: Callable) -> dict[str, tuple[list[float], object]]:
    """One uncounted warm-up of each, then `runs` timed rounds in which the functions take turns."""
    results: dict[str, object] = {name: fn() for name, fn in fns.items()}
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(runs):
        for name, fn in fns.items():
            seconds, results[name] = timed(fn)
            times[name].append(seconds)
    return {name: (times[name], results[name]) for name in fns}


def repeat_sections(html: str, copies: int, sections=("departments", "appendix")) -> str:
    """`html` with the body of each named <section id=…> repeated `copies` times in all; the copies keep no
    id attribute (the contents' target-counter links still point at the originals) and no section heading
    (<h2> without a class: those force a page break)."""
    for name in sections:
        match = re.search(rf'(<section id="{name}"[^>]*>)(.*?)(</section>)', html, flags=re.S)
        if match is None:
            raise SystemExit(f"bench: <section id=\"{name}\"> not found in the report's HTML")
        body = match.group(2)
        copy = re.sub(r'\sid="[^"]*"', "", body)
        copy = re.sub(r"<h2>.*?</h2>", "", copy, flags=re.S)
        html = html[:match.end(2)] + copy * (copies - 1) + html[match.end(2):]
    return html


def fmt_s(seconds: float) -> str:
    return f"{seconds:.2f} s"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="timed runs per measurement (best is kept)")
    parser.add_argument("--copies", type=int, default=11,
                        help="copies of the department sections and appendix in the long report")
    parser.add_argument("--scale-runs", type=int, default=2, help="timed runs of the long report")
    parser.add_argument("--departments", type=int, default=0,
                        help="time at most this many department PDFs (0: every department with a score)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-evaluation-pdf-") as tmp:
        # The configuration reads the environment when workflow.config is first imported: set it before.
        os.environ["DATABASE_URL"] = f"sqlite:///{Path(tmp) / 'bench.sqlite'}"
        os.environ["UPLOAD_DIR"] = str(Path(tmp) / "uploads")
        return run(args, Path(tmp))


def run(args, tmp: Path) -> int:
    import logging

    import flask_migrate
    import weasyprint
    from sqlalchemy import select

    from models import Plan
    from pdf.render import render_document, subsetter_warning
    from workflow import create_app
    from workflow.assignments.services import publish_plan
    from workflow.demo import load_demo
    from workflow.evaluation import archive, documents, services
    from workflow.extensions import db
    from workflow.simulation import simulate

    print(f"bench_evaluation_pdf: WeasyPrint {weasyprint.__version__}, Python {sys.version.split()[0]}, "
          f"{os.cpu_count()} CPUs, database and uploads in {tmp}")
    warning = subsetter_warning()
    print(f"font subsetting: {'fontTools (libharfbuzz-subset missing: slow)' if warning else 'libharfbuzz-subset'}")

    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith(f"sqlite:///{tmp}"), "not the temporary database"
    with app.app_context():
        # -- 1. set-up ---------------------------------------------------------------------------------------
        setup: dict[str, float] = {}
        setup["db upgrade"], _ = timed(flask_migrate.upgrade)
        logging.getLogger("alembic").setLevel(logging.WARNING)
        setup["demo load"], loaded = timed(lambda: load_demo(now=PUBLISHED))
        if loaded is None:
            raise SystemExit("bench: the fresh database was not empty")
        plan = db.session.scalar(select(Plan).where(Plan.id == loaded["plan_id"]))
        setup["plan publish"], periods = timed(lambda: publish_plan(plan, actor=None, now=PUBLISHED,
                                                                     first_period="2026Q1"))
        setup["demo simulate"], sim = timed(lambda: simulate(plan, until=UNTIL, seed=SEED))
        evaluation = services.get_or_create(plan, 2026, now=NOW)
        setup["evaluation compute"], _ = timed(lambda: services.compute_evaluation(evaluation, actor=None, now=NOW))
        scored = [s for s in evaluation.scores if s.score is not None]
        print(f"\nset-up: plan #{plan.id} ({len(plan.tasks)} tasks), {len(periods)} periods, simulated to {UNTIL} "
              f"(seed {SEED}): {sim['reports']} reports, {sim['late']} late, {sim['returned']} returned, "
              f"{sim['missing']} missing; {len(scored)} of {len(evaluation.scores)} departments scored "
              f"(evaluated as of {NOW.isoformat()})")
        for step, seconds in setup.items():
            print(f"  {step:<20} {fmt_s(seconds):>9}")
        print(f"  {'total':<20} {fmt_s(sum(setup.values())):>9}")

        # -- 2. the product against plain WeasyPrint on the same HTML ----------------------------------------
        html = documents.render_html(evaluation, generated_at=NOW)
        html_seconds, _ = timed(lambda: documents.render_html(evaluation, generated_at=NOW))

        def product():
            return archive.generate_pdf(evaluation, actor=None, now=NOW)

        plain_split: list[tuple[float, float]] = []

        def plain():
            began = time.perf_counter()
            document = weasyprint.HTML(string=html).render()
            laid_out = time.perf_counter()
            data = document.write_pdf()
            plain_split.append((laid_out - began, time.perf_counter() - laid_out))
            return data, len(document.pages)

        print(f"\nwhole report: product vs plain WeasyPrint, 1 warm-up + best of {args.runs} (alternating) ...",
              flush=True)
        measured = best_of_alternating(args.runs, product=product, plain=plain)
        product_times, product_file = measured["product"]
        product_pages, product_size = product_file.pages, product_file.size
        plain_times, (plain_pdf, plain_pages) = measured["plain"]
        product_best, plain_best = min(product_times), min(plain_times)
        ratio = product_best / plain_best
        layout_best, write_best = min(plain_split[1:], key=sum)  # [0] is the warm-up
        print(f"  product  {fmt_s(product_best):>9}  (runs {', '.join(f'{t:.2f}' for t in product_times)}), "
              f"{product_pages} pages, {product_size:,} bytes; HTML from the stored scores "
              f"alone {html_seconds:.2f} s, {len(html):,} characters")
        print(f"  plain    {fmt_s(plain_best):>9}  (runs {', '.join(f'{t:.2f}' for t in plain_times)}), "
              f"{plain_pages} pages, {len(plain_pdf):,} bytes; layout {layout_best:.2f} s + write "
              f"{write_best:.2f} s")
        verdict = "PASS" if ratio <= TARGET_RATIO else "OVER"
        print(f"  ratio product/plain {ratio:.2f}  (target ≤ {TARGET_RATIO:.2f})  {verdict}")
        if product_pages != plain_pages:
            print(f"  note: page counts differ ({product_pages} vs {plain_pages})")

        # -- 3. scaling: the same report, ~9 times as many pages ----------------------------------------------
        print(f"\nscaling: departments and appendix ×{args.copies}, render_document, best of "
              f"{args.scale_runs} against the base report's best of {args.runs} ...", flush=True)
        base_runs = [timed(lambda: render_document(html)) for _ in range(args.runs)]
        base_seconds, base_doc = min(base_runs, key=lambda r: r[0])
        long_html = repeat_sections(html, args.copies)
        long_runs = [timed(lambda: render_document(long_html)) for _ in range(args.scale_runs)]
        long_seconds, long_doc = min(long_runs, key=lambda r: r[0])
        base_per_page = base_seconds / base_doc.pages
        long_per_page = long_seconds / long_doc.pages
        scaling = long_per_page / base_per_page
        print(f"  base     {fmt_s(base_seconds):>9}, {base_doc.pages:>4} pages, {base_per_page * 1000:.1f} ms/page, "
              f"{len(base_doc.data):,} bytes")
        print(f"  long     {fmt_s(long_seconds):>9}, {long_doc.pages:>4} pages, {long_per_page * 1000:.1f} ms/page, "
              f"{len(long_doc.data):,} bytes ({long_doc.pages / base_doc.pages:.1f}× the pages)")
        print(f"  per-page ratio long/base {scaling:.2f}  (linear ≈ 1.0)")

        # -- 4. one PDF per department -----------------------------------------------------------------------
        chosen = scored[:args.departments] if args.departments else scored
        which = (f"first {len(chosen)} of {len(scored)}" if len(chosen) < len(scored)
                 else f"all {len(chosen)}")
        print(f"\nper-department PDFs: {which} departments with a score, one run each ...", flush=True)
        per_dept: list[tuple[float, int, str]] = []
        for s in chosen:
            seconds, row = timed(lambda s=s: archive.generate_pdf(evaluation, department=s.department,
                                                                     actor=None, now=NOW))
            per_dept.append((seconds, row.pages, s.department.name))
        dept_seconds = [d[0] for d in per_dept]
        dept_pages = [d[1] for d in per_dept]
        slowest = max(per_dept)
        print(f"  {len(per_dept)} PDFs in {sum(dept_seconds):.1f} s: mean {statistics.mean(dept_seconds):.2f} s, "
              f"min {min(dept_seconds):.2f} s, max {max(dept_seconds):.2f} s ({slowest[2]}, {slowest[1]} pages); "
              f"pages mean {statistics.mean(dept_pages):.1f}, min {min(dept_pages)}, max {max(dept_pages)}")

        db.session.remove()
        db.engine.dispose()

    # -- summary -------------------------------------------------------------------------------------------
    rows = [
        ("set-up (db, demo, publish, simulate, compute)", fmt_s(sum(setup.values())), "", "", ""),
        ("product: generate_pdf, whole plan", fmt_s(product_best), str(product_pages),
         f"{product_size / 1e6:.2f} MB", f"{product_best / product_pages * 1000:.0f} ms/p"),
        ("plain WeasyPrint, same HTML", fmt_s(plain_best), str(plain_pages), f"{len(plain_pdf) / 1e6:.2f} MB",
         f"{plain_best / plain_pages * 1000:.0f} ms/p"),
        (f"ratio product/plain (target ≤ {TARGET_RATIO:.2f})", f"{ratio:.2f}", "", "", verdict),
        ("render_document, base report", fmt_s(base_seconds), str(base_doc.pages),
         f"{len(base_doc.data) / 1e6:.2f} MB", f"{base_per_page * 1000:.0f} ms/p"),
        (f"render_document, departments+appendix ×{args.copies}", fmt_s(long_seconds), str(long_doc.pages),
         f"{len(long_doc.data) / 1e6:.2f} MB", f"{long_per_page * 1000:.0f} ms/p"),
        ("per-page ratio long/base (linear ≈ 1.0)", f"{scaling:.2f}", "", "", ""),
        (f"department PDF, mean of {len(per_dept)}", fmt_s(statistics.mean(dept_seconds)),
         f"{statistics.mean(dept_pages):.1f}", "", f"min {min(dept_seconds):.2f} / max {max(dept_seconds):.2f} s"),
    ]
    headers = ("measurement", "time", "pages", "size", "")
    widths = [max(_width(r[i]) for r in (headers, *rows)) for i in range(len(headers))]
    print("\nsummary")
    for row in (headers, *rows):
        cells = [_pad(row[0], widths[0])] + [_pad(c, w, right=True) for c, w in zip(row[1:-1], widths[1:-1],
                                                                                     strict=True)]
        print("  " + "  ".join(cells) + "  " + row[-1])
    return 0


def _width(text: str) -> int:
    """Display width: CJK characters take two columns."""
    return sum(2 if ord(c) >= 0x2E80 else 1 for c in text)


def _pad(text: str, width: int, right: bool = False) -> str:
    space = " " * (width - _width(text))
    return space + text if right else text + space


if __name__ == "__main__":
    sys.exit(main())
