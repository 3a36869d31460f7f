"""pdf.render: HTML → PDF with embedded CJK fonts, a url_fetcher that loads nothing from outside, and clear
errors when the machine cannot produce a readable PDF."""
from __future__ import annotations

import base64
import http.server
import shutil
import subprocess
import threading

import pytest

import pdf.render as render
from pdf.render import (
    FONT_MESSAGE,
    PdfError,
    PdfUnavailable,
    allowed_path,
    cjk_font_available,
    file_url,
    make_url_fetcher,
    render_pdf,
    subsetter_warning,
)
from workflow.config import BASE_DIR

# A 1×1 transparent PNG.
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")
HTML = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>测试</title>
<style>body {{ font-family: "Noto Serif CJK SC", "Noto Sans CJK SC", serif; }}</style></head>
<body><h1>督办通知单</h1><p>市住房城乡建设局：请于收到本通知后 3 个工作日内报送。</p>{extra}</body></html>"""

needs_fonts = pytest.mark.skipif(not cjk_font_available(), reason="no CJK font installed")
needs_poppler = pytest.mark.skipif(not shutil.which("pdftotext") or not shutil.which("pdffonts"),
                                   reason="poppler-utils not installed")


def pdf_text(data: bytes, tmp_path) -> str:
    path = tmp_path / "out.pdf"
    path.write_bytes(data)
    return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout


def pdf_fonts(data: bytes, tmp_path) -> list[list[str]]:
    path = tmp_path / "fonts.pdf"
    path.write_bytes(data)
    out = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout
    return [line.split() for line in out.splitlines()[2:] if line.strip()]


@pytest.fixture
def http_server():
    """A local HTTP server that records every request it gets (none should come from rendering)."""
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()
            self.wfile.write(PNG)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()
    server.server_close()


@needs_fonts
@needs_poppler
def test_render_pdf_embeds_cjk_fonts(tmp_path):
    data = render_pdf(HTML.format(extra=""))
    assert data.startswith(b"%PDF-")
    text = pdf_text(data, tmp_path)
    assert "督办通知单" in text and "市住房城乡建设局" in text
    fonts = pdf_fonts(data, tmp_path)
    cjk = [f for f in fonts if "CJK" in f[0]]
    assert cjk, fonts
    assert all(f[-5] == "yes" for f in cjk), fonts  # emb
    assert all(f[-4] == "yes" for f in cjk), fonts  # subset: not the whole 20 MB font
    assert len(data) < 1_000_000


@needs_fonts
def test_http_resources_are_refused_without_a_request(http_server):
    base, hits = http_server
    url = f"{base}/logo.png"
    fetcher = make_url_fetcher()
    data = render_pdf(HTML.format(extra=f'<img src="{url}"><link rel="stylesheet" href="{base}/x.css">'),
                      url_fetcher=fetcher)
    assert data.startswith(b"%PDF")
    assert url in fetcher.refused and f"{base}/x.css" in fetcher.refused
    assert hits == []
    # strict: a refused resource stops the rendering with a clear error
    with pytest.raises(PdfError, match="拒绝加载外部资源"):
        render_pdf(HTML.format(extra=f'<img src="{url}">'), strict=True)
    assert hits == []
    # a relative URL against an http base_url is refused as well
    fetcher = make_url_fetcher()
    render_pdf(HTML.format(extra='<img src="logo.png">'), base_url=f"{base}/", url_fetcher=fetcher)
    assert fetcher.refused == [url] and hits == []


def test_fetcher_serves_data_and_project_files_only(tmp_path):
    fetcher = make_url_fetcher()
    data_uri = "data:image/png;base64," + base64.b64encode(PNG).decode()
    assert fetcher.fetch(data_uri).read() == PNG
    css = BASE_DIR / "static" / "app.css"
    response = fetcher.fetch(file_url(css))
    assert response.read() == css.read_bytes() and response.content_type == "text/css"
    notice = BASE_DIR / "templates" / "pdf" / "notice.html"
    assert fetcher.fetch(file_url(notice)).read() == notice.read_bytes()

    outside = tmp_path / "secret.txt"
    outside.write_text("secret")
    refused = [
        file_url(outside),
        "file:///etc/passwd",
        file_url(BASE_DIR / "static") + "/../pyproject.toml",   # traversal out of static/
        file_url(BASE_DIR / "instance"),
        "file://example.com" + str(css),                        # a remote file host
        "ftp://127.0.0.1/x.png",
        "https://example.com/font.woff2",
        "javascript:alert(1)",
    ]
    for url in refused:
        with pytest.raises(ValueError, match="拒绝加载外部资源"):
            fetcher.fetch(url)
    assert fetcher.refused == refused


def test_symlinks_out_of_an_allowed_folder_are_refused(tmp_path):
    root = tmp_path / "static"
    root.mkdir()
    (root / "ok.css").write_text("p { color: red }")
    secret = tmp_path / "secret.txt"
    secret.write_text("secret")
    (root / "link.txt").symlink_to(secret)
    assert allowed_path((root / "ok.css").as_uri(), roots=[root]) == (root / "ok.css").resolve()
    assert allowed_path((root / "link.txt").as_uri(), roots=[root]) is None
    assert allowed_path(root.as_uri(), roots=[root]) is None  # a folder is not a file
    fetcher = make_url_fetcher(roots=[root])
    with pytest.raises(ValueError):
        fetcher.fetch((root / "link.txt").as_uri())


def test_no_cjk_font_means_pdf_unavailable_before_rendering(monkeypatch):
    monkeypatch.setattr(render, "cjk_font_available", lambda: False)
    monkeypatch.setattr(render, "_weasyprint", lambda: pytest.fail("rendering started"))
    with pytest.raises(PdfUnavailable) as exc:
        render_pdf(HTML.format(extra=""))
    assert exc.value.message == FONT_MESSAGE == "未安装中文字体（fonts-noto-cjk），无法生成 PDF：请安装后重试"
    assert exc.value.status == 503


def test_cjk_font_check_uses_fontconfig_and_caches_a_positive_answer(monkeypatch):
    calls: list[list[str]] = []

    def fake_run(args, **kwargs):
        calls.append(args)
        return subprocess.CompletedProcess(args, 0, stdout=answer, stderr="")

    monkeypatch.setattr(render.subprocess, "run", fake_run)
    render._cjk_font_found.cache_clear()
    try:
        answer = ""
        assert cjk_font_available() is False and cjk_font_available() is False
        assert len(calls) == 2  # a negative answer is checked again (fonts may be installed meanwhile)
        assert calls[0][:2] == ["fc-list", ":lang=zh"]
        answer = "Noto Serif CJK SC\n"
        assert cjk_font_available() is True and cjk_font_available() is True
        assert len(calls) == 3  # a positive one is cached

        def missing(*args, **kwargs):
            raise FileNotFoundError("fc-list")

        render._cjk_font_found.cache_clear()
        monkeypatch.setattr(render.subprocess, "run", missing)
        assert cjk_font_available() is False  # no fontconfig at all
    finally:
        render._cjk_font_found.cache_clear()


def test_subsetter_warning(monkeypatch):
    render.subsetter_warning.cache_clear()
    try:
        monkeypatch.setattr(render.ctypes.util, "find_library",
                            lambda name: None if name == "harfbuzz-subset" else f"lib{name}.so")
        warning = subsetter_warning()
        assert warning and "libharfbuzz-subset" in warning
        render.subsetter_warning.cache_clear()
        monkeypatch.setattr(render.ctypes.util, "find_library", lambda name: f"lib{name}.so.0")
        assert subsetter_warning() is None
    finally:
        render.subsetter_warning.cache_clear()


def test_notice_template_names_its_language_and_fonts():
    source = (BASE_DIR / "templates" / "pdf" / "notice.html").read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in source
    assert 'font-family: "Noto Serif CJK SC", "Noto Sans CJK SC", serif' in source
    assert "http://" not in source and "https://" not in source
