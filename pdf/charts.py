"""Charts drawn as SVG on the server, for the PDFs and the pages: no JavaScript, no network, text in the
document's CJK font.

Each function returns an SVG document (a string) sized in px at 96 dpi; PDF templates embed it as a data: URI
(`svg_data_uri`), which the restricted url_fetcher serves; pages inline it (the `sparkline` template global).
Labels are escaped; values are plain numbers.
"""
from __future__ import annotations

from base64 import b64encode
from xml.sax.saxutils import escape, quoteattr

from pdf.render import spell_out_uncovered

FONT = "'Noto Sans CJK SC', 'Noto Serif CJK SC', sans-serif"
PALETTE = {"优秀": "#2e7d32", "良好": "#1565c0", "一般": "#f9a825", "较差": "#c62828", None: "#9e9e9e"}


def svg_data_uri(svg: str) -> str:
    """Base64 hides the labels from render_pdf's check for characters no font has, so check them here."""
    return "data:image/svg+xml;base64," + b64encode(spell_out_uncovered(svg).encode()).decode()


def _svg(width: int, height: int, body: list[str]) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-family="{escape(FONT)}" font-size="11">' + "".join(body) + "</svg>")


def _text(x: float, y: float, text: str, *, anchor: str = "start", size: int = 11, fill: str = "#222",
          weight: str = "normal") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" fill="{fill}" '
            f'font-weight="{weight}">{escape(str(text))}</text>')


def _number(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))


def ranking_chart(rows: list[tuple[str, float | None, str | None]], *, width: int = 640, bar_height: int = 15,
                  label_width: int = 190, maximum: float = 100.0) -> str:
    """Horizontal bars, one per department in rank order: (name, score, grade); the colour is the grade."""
    top, gap = 8, 4
    height = top * 2 + len(rows) * (bar_height + gap)
    plot = width - label_width - 50
    body = []
    for tick in range(0, int(maximum) + 1, 20):
        x = label_width + plot * tick / maximum
        body.append(f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{height - top + 2}" stroke="#ddd"/>')
    for i, (name, score, grade) in enumerate(rows):
        y = top + i * (bar_height + gap)
        body.append(_text(label_width - 6, y + bar_height - 3, name, anchor="end"))
        if score is None:
            body.append(_text(label_width + 4, y + bar_height - 3, "—", fill="#777"))
            continue
        w = plot * max(0.0, min(score, maximum)) / maximum
        body.append(f'<rect x="{label_width}" y="{y}" width="{w:.1f}" height="{bar_height}" '
                    f'fill="{PALETTE.get(grade, PALETTE[None])}"/>')
        body.append(_text(label_width + w + 4, y + bar_height - 3, _number(score)))
    return _svg(width, height, body)


def grade_chart(counts: dict[str, int], *, width: int = 300, height: int = 180) -> str:
    """Columns: how many departments got each grade."""
    grades = list(counts)
    top, bottom, left = 16, 26, 10
    plot_h = height - top - bottom
    slot = (width - 2 * left) / max(len(grades), 1)
    peak = max(counts.values(), default=0) or 1
    body = [f'<line x1="{left}" y1="{height - bottom}" x2="{width - left}" y2="{height - bottom}" stroke="#999"/>']
    for i, grade in enumerate(grades):
        n = counts[grade]
        h = plot_h * n / peak
        x = left + i * slot + slot * 0.2
        body.append(f'<rect x="{x:.1f}" y="{height - bottom - h:.1f}" width="{slot * 0.6:.1f}" height="{h:.1f}" '
                    f'fill="{PALETTE.get(grade, PALETTE[None])}"/>')
        body.append(_text(x + slot * 0.3, height - bottom - h - 4, str(n), anchor="middle"))
        body.append(_text(x + slot * 0.3, height - 8, grade, anchor="middle", size=12))
    return _svg(width, height, body)


def stacked_status_chart(rows: list[tuple[str, dict[str, int]]], legend: dict[str, tuple[str, ...]], *,
                         width: int = 640, bar_height: int = 16, label_width: int = 210) -> str:
    """One stacked bar per row (an area, a department): counts by status. legend: status → (label, colour) or
    (label, colour, colour of the count printed on it: white by default), in drawing order. Also embedded inline
    in pages (the overview), where CSS scales it to the screen's width."""
    top, gap, legend_h = 8, 5, 24
    height = top + len(rows) * (bar_height + gap) + legend_h + 6
    plot = width - label_width - 40
    peak = max((sum(c.values()) for _, c in rows), default=0) or 1
    body = []
    for i, (label, counts) in enumerate(rows):
        y = top + i * (bar_height + gap)
        body.append(_text(label_width - 6, y + bar_height - 4, label, anchor="end"))
        x = float(label_width)
        for status, (_, colour, *ink) in legend.items():
            n = counts.get(status, 0)
            if not n:
                continue
            w = plot * n / peak
            body.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_height}" fill="{colour}"/>')
            if w >= 14:
                body.append(_text(x + w / 2, y + bar_height - 4, str(n), anchor="middle", fill=(ink or ["#fff"])[0],
                                  size=10))
            x += w
        body.append(_text(x + 4, y + bar_height - 4, str(sum(counts.values())), fill="#555", size=10))
    y = height - legend_h + 4
    x = float(label_width)
    for _, (label, colour, *_ink) in legend.items():
        body.append(f'<rect x="{x:.1f}" y="{y}" width="12" height="12" fill="{colour}"/>')
        body.append(_text(x + 16, y + 11, label))
        x += 24 + 12 * len(label) + 10
    return _svg(width, height, body)


def sparkline(points: list[tuple[str, float]], *, due: float | None = None, colour: str = "#1565c0",
              width: int = 120, height: int = 30, title: str = "") -> str:
    """A target's trend: its values over the periods, (label, value) oldest first, equally spaced, the last one
    marked; `due` (what the year asks for) as a dashed line on the same scale. For pages inline, for PDFs through
    svg_data_uri. `title` is the accessible name; each point says its period and value on hover."""
    pad = 4
    scale = [v for _, v in points] + ([due] if due is not None else [])
    low, high = (min(scale), max(scale)) if scale else (0.0, 1.0)
    if high == low:
        low, high = low - 1, high + 1
    step = (width - 2 * pad) / max(len(points) - 1, 1)

    def y(value: float) -> float:
        return height - pad - (height - 2 * pad) * (value - low) / (high - low)

    body = [f"<title>{escape(title)}</title>"] if title else []
    if due is not None:
        body.append(f'<line x1="{pad}" y1="{y(due):.1f}" x2="{width - pad}" y2="{y(due):.1f}" stroke="#888" '
                    f'stroke-width="1" stroke-dasharray="3 2"/>')
    xy = [(pad + i * step if len(points) > 1 else width / 2, y(v)) for i, (_, v) in enumerate(points)]
    if len(xy) > 1:
        line = " ".join(f"{x:.1f},{yy:.1f}" for x, yy in xy)
        body.append(f'<polyline points="{line}" fill="none" stroke="{colour}" stroke-width="1.5"/>')
    for i, ((x, yy), (label, value)) in enumerate(zip(xy, points, strict=True)):
        r = 2.5 if i == len(xy) - 1 else 1.5
        body.append(f'<circle cx="{x:.1f}" cy="{yy:.1f}" r="{r}" fill="{colour}">'
                    f"<title>{escape(label)}: {_number(value)}</title></circle>")
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}"'
            f' class="sparkline" role="img"{" aria-label=" + quoteattr(title) if title else ""}>' + "".join(body)
            + "</svg>")
