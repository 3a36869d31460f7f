"""Benchmark: parse throughput of a generated 500-measure plan as .txt, .docx and .pdf (issue #12).

Run from the repository root: `.venv/bin/python bench/bench_parse.py` (or `make bench`).

1. Set-up (not timed): a plan of 10 parts × 50 measures, each measure two sentences, a target with a year and
   a clause in one of the common forms (bracketed 牵头/配合, a labelled 责任单位 line, 按职责分工负责, a 完成时限),
   written as UTF-8 text, as a .docx (python-docx, one paragraph per line) and as a PDF (WeasyPrint, A4, with a
   running header and page numbers, so the PDF reader rejoins wrapped lines and drops them).
2. For each format, best of N runs after one uncounted warm-up:
   read  = merely reading the file into text the cheapest way its library offers: bytes.decode for .txt,
           python-docx opening the document and joining its paragraphs for .docx, PDFium's plain text of
           every page for .pdf;
   parse = parse_plan_bytes, the whole product path (reading with layout, outline, clauses, targets, deadlines).
   Target: parse under 1 s for each format; the ratio parse / read shows what the parser adds to the reading.

Benchmarks print numbers and never assert on timing: the exit status is 0 unless something fails to run.
"""
from __future__ import annotations

import argparse
import io
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

MEASURES = 500
PARTS = 10
TARGET_SECONDS = 1.0
UNITS = ["市发展和改革局", "市财政局", "市教育局", "市科技局", "市交通运输局", "市生态环境局", "市住房城乡建设局",
         "市农业农村局", "市商务局", "市文化旅游局", "市卫生健康局", "市应急管理局", "市市场监管局", "市数据局"]


def clause(n: int) -> str:
    a, b, c = UNITS[n % len(UNITS)], UNITS[(n + 3) % len(UNITS)], UNITS[(n + 7) % len(UNITS)]
    forms = [f"（{a}牵头，{b}、{c}配合）", f"（{a}、{b}、各区、县级市等按职责分工负责）",
             f"\n责任单位：{a}牵头，{b}配合\n完成时限：2026年{n % 12 + 1}月底前",
             f"（牵头单位：{a}；配合单位：{b}、有关部门；完成时限：持续推进）"]
    return forms[n % len(forms)]


def plan_lines() -> list[str]:
    lines = ["某市重点工作推进方案（2025—2027年）", "某市人民政府办公室"]
    per_part = MEASURES // PARTS
    for p in range(PARTS):
        lines.append(f"{'一二三四五六七八九十'[p]}、第{p + 1}方面重点任务")
        for k in range(per_part):
            n = p * per_part + k + 1
            lines.extend(f"{n}. 推进第{n}项重点工作。加强统筹协调，完善工作机制，落实各项保障措施，确保按期完成建设任务，"
                         f"到2026年，相关覆盖率达到{n % 90 + 5}%以上。{clause(n)}".split("\n"))
    return lines


def make_files(folder: Path) -> dict[str, Path]:
    import docx
    from weasyprint import HTML

    lines = plan_lines()
    txt = folder / "plan.txt"
    txt.write_text("\n".join(lines), "utf-8")
    document = docx.Document()
    for line in lines:
        document.add_paragraph(line)
    docx_path = folder / "plan.docx"
    document.save(str(docx_path))
    css = ("@page { size: A4; margin: 25mm 20mm; @top-center { content: '某市人民政府文件'; font-size: 9pt; }"
           " @bottom-center { content: '— ' counter(page) ' —'; font-size: 9pt; } }"
           " body { font-family: 'Noto Sans CJK SC', sans-serif; font-size: 11pt; } p { margin: 0 0 4pt 0; }")
    body = "".join(f"<p>{line}</p>" for line in lines)
    pdf = folder / "plan.pdf"
    HTML(string=f"<html><head><style>{css}</style></head><body>{body}</body></html>").write_pdf(str(pdf))
    return {"txt": txt, "docx": docx_path, "pdf": pdf}


def read_only(kind: str, data: bytes) -> str:
    if kind == "txt":
        return data.decode("utf-8")
    if kind == "docx":
        import docx

        return "\n".join(p.text for p in docx.Document(io.BytesIO(data)).paragraphs)
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(data)
    try:
        return "\n".join(document[i].get_textpage().get_text_range() for i in range(len(document)))
    finally:
        document.close()


def best(runs: int, fn: Callable, *args) -> tuple[float, object]:
    result = fn(*args)
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        result = fn(*args)
        times.append(time.perf_counter() - began)
    return min(times), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    import tempfile

    from workflow.plans.parsing import parse_plan_bytes

    with tempfile.TemporaryDirectory() as tmp:
        began = time.perf_counter()
        files = make_files(Path(tmp))
        print(f"set-up: {MEASURES} measures written as .txt, .docx and .pdf in {time.perf_counter() - began:.1f} s")
        print(f"{'format':<6} {'size':>9} {'read s':>8} {'parse s':>8} {'ratio':>6} {'tasks':>6}  under {TARGET_SECONDS:g} s")
        for kind, path in files.items():
            data = path.read_bytes()
            read_s, _ = best(args.runs, read_only, kind, data)
            parse_s, draft = best(args.runs, parse_plan_bytes, data, path.name)
            found = len(draft.tasks)
            print(f"{kind:<6} {len(data) // 1024:>7}kB {read_s:>8.3f} {parse_s:>8.3f} {parse_s / read_s:>6.1f} "
                  f"{found:>6}  {'yes' if parse_s < TARGET_SECONDS else 'NO'}")
            if found != MEASURES:
                print(f"  warning: {found} tasks found, {MEASURES} written", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
