"""Build harbour-measures.pdf: a plan published as PDF, with a running header and footer, page numbers,
paragraphs long enough to be hard-wrapped across lines and pages, 第一条 articles and a duty table.

Run from the repository root with `.venv/bin/python tests/plans/make_pdf.py`; the generated file is kept in
the repository so the tests do not depend on WeasyPrint's fonts.  `scanned()` renders a page that is only an
image (a scan without a text layer).
"""
from __future__ import annotations

import base64
import io
from pathlib import Path

OUT = Path(__file__).with_name("harbour-measures.pdf")

CSS = """
@page { size: A5; margin: 22mm 16mm 20mm 16mm;
        @top-center { content: "海港市人民政府规范性文件"; font-size: 8pt; }
        @bottom-center { content: "— " counter(page) " —"; font-size: 8pt; } }
body { font-family: "Noto Sans CJK SC", sans-serif; font-size: 10pt; line-height: 1.6; }
p { margin: 0 0 6pt 0; text-align: justify; }
td, th { border: 0.5pt solid #000; padding: 2pt 5pt; font-size: 8pt; vertical-align: top; }
table { border-collapse: collapse; width: 100%; }
"""

FILLER = ("各责任单位要细化工作举措，建立工作台账，明确时间节点和责任人员，定期调度工作进展，及时研究解决"
          "推进过程中遇到的困难和问题，确保各项措施落地见效，形成可复制可推广的经验做法。")

ARTICLES = [
    ("第一条", "提升港口集疏运能力。完善疏港公路和铁路专用线布局，推进多式联运枢纽建设。" + FILLER
     + "到2027年，集装箱海铁联运量达到50万标准箱以上。（牵头单位：市交通运输局；配合单位：市发展改革委、市自然资源局）"),
    ("第二条", "推动航运服务集聚发展。引进航运金融、海事法律等高端服务机构。" + FILLER * 2
     + "（市商务局牵头，市金融办、市司法局配合）"),
    ("第三条", "优化口岸营商环境。推行进出口货物“提前申报”，压缩整体通关时间。" + FILLER
     + "（市口岸办、海港海关、各区人民政府按职责分工负责）"),
]

TABLE = [
    ["序号", "重点项目", "牵头单位", "配合单位", "完成时限"],
    ["1", "建设港区智慧闸口", "市交通运输局", "市数据局", "2026年6月底前"],
    ["2", "实施航道疏浚工程", "市港航中心", "市生态环境局、有关单位", "2026年12月"],
    ["3", "推进冷链物流园建设", "市商务局", "各区人民政府", "持续推进"],
]


def html() -> str:
    paragraphs = "".join(f"<p>{marker} {text}</p>" for marker, text in ARTICLES)
    rows = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in TABLE)
    return (f"<html><head><style>{CSS}</style></head><body>"
            "<p>海港市促进港航经济高质量发展若干措施</p><p>海港市人民政府办公室</p>"
            f"{paragraphs}<p>第四条 实施港航重点项目。</p><table>{rows}</table>"
            "<p>第五条 本措施自印发之日起施行。</p></body></html>")


def build(path: Path = OUT) -> Path:
    from weasyprint import HTML

    HTML(string=html()).write_pdf(str(path))
    return path


def scanned() -> bytes:
    """A one-page PDF whose only content is a picture, as a scanner makes it."""
    from PIL import Image
    from weasyprint import HTML

    buffer = io.BytesIO()
    Image.new("L", (200, 280), 255).save(buffer, "PNG")
    src = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    return HTML(string=f"<img src='{src}' style='width:100%'>").write_pdf()


if __name__ == "__main__":
    print(build())
