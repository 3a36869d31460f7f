"""HTML → PDF with WeasyPrint: CJK fonts checked before rendering, and a url_fetcher that loads nothing from
the network.

Government intranets are offline and the HTML we render may carry text users typed, so the fetcher only
serves data: URIs and files under the project's static/ and templates/ folders (symlinks resolved); every
other URL (http, https, ftp, other files) is refused and logged. With ``strict=True`` a refused resource
stops the rendering (PdfError) instead of being left out.

Fonts come from fontconfig; without a Chinese font WeasyPrint would silently draw empty boxes (tofu), so
`render_pdf` refuses up front with PdfUnavailable. Without libharfbuzz-subset WeasyPrint falls back to
fontTools for subsetting the (large) CJK fonts, which works but is slow: `subsetter_warning()` says so.
"""
from __future__ import annotations

import ctypes.util
import functools
import gc
import logging
import mimetypes
import subprocess
import unicodedata
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

from workflow.config import BASE_DIR

log = logging.getLogger(__name__)

STATIC_DIR = BASE_DIR / "static"
TEMPLATES_DIR = BASE_DIR / "templates"
ALLOWED_ROOTS = (STATIC_DIR, TEMPLATES_DIR)
FETCH_TIMEOUT = 5
MAX_RESOURCE_BYTES = 20 * 1024 * 1024

FONT_MESSAGE = "未安装中文字体（fonts-noto-cjk），无法生成 PDF：请安装后重试"
SUBSETTER_MESSAGE = ("未找到 libharfbuzz-subset（Debian：libharfbuzz-subset0），PDF 中的中文字体将改用较慢的 "
                     "fontTools 子集化，每份 PDF 可能需要数十秒：建议安装后重启服务")


class PdfError(Exception):
    """The PDF could not be produced (a refused resource in strict mode, a rendering failure)."""

    status = 500

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class PdfUnavailable(PdfError):
    """This machine cannot produce a readable PDF (no CJK font, WeasyPrint's libraries missing): 503."""

    status = 503


class ResourceRefused(ValueError):
    """Raised by the fetcher for a URL outside what it serves."""


# -- environment checks ------------------------------------------------------------------------------------

@functools.cache
def _cjk_font_found() -> bool:
    try:
        out = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True, timeout=15,
                             check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("fc-list failed: %s", exc)
        return False
    return out.returncode == 0 and bool(out.stdout.strip())


def cjk_font_available() -> bool:
    """Whether fontconfig knows a font covering Chinese (`fc-list :lang=zh`).

    A positive answer is cached for the life of the process; a negative one is checked again next time, so
    installing fonts-noto-cjk takes effect without a restart of the check (WeasyPrint's own font cache may
    still need one).
    """
    found = _cjk_font_found()
    if not found:
        _cjk_font_found.cache_clear()
    return found


@functools.cache
def subsetter_warning() -> str | None:
    """A warning (Chinese, for the admin) when libharfbuzz-subset is missing, else None."""
    if ctypes.util.find_library("harfbuzz-subset") is None:
        return SUBSETTER_MESSAGE
    return None


# -- characters no installed font has -----------------------------------------------------------------------

# Ranges every CJK setup covers (Noto CJK): checked characters outside them only, so a 40-page report asks
# fontconfig about a handful of rare characters, not thousands.
_COMMON_RANGES = ((0x0000, 0x052F), (0x2000, 0x2BFF), (0x3000, 0x33FF), (0x4E00, 0x9FEF), (0xF900, 0xFAFF),
                  (0xFE30, 0xFE4F), (0xFF00, 0xFFEF))


_INVISIBLE = {"Cc", "Cf", "Zs", "Zl", "Zp", "Mn", "Me"}


def _common(code: int) -> bool:
    return any(low <= code <= high for low, high in _COMMON_RANGES)


@functools.lru_cache(maxsize=4096)
def _font_has(code: int) -> bool:
    try:
        out = subprocess.run(["fc-list", f":charset={code:x}", "family"], capture_output=True, text=True,
                             timeout=15, check=False)
    except (OSError, subprocess.SubprocessError):
        return True  # cannot tell: leave the character alone
    return bool(out.stdout.strip())


def uncovered_characters(text: str) -> list[str]:
    """Characters of `text` that no installed font can draw (they would print as empty boxes)."""
    return sorted(c for c in set(text) if not _common(ord(c)) and unicodedata.category(c) not in _INVISIBLE
                  and not _font_has(ord(c)))


def spell_out_uncovered(html: str) -> str:
    """Replace each character no font can draw by its code point (〔U+20000〕), so a rare character in a
    name is readable instead of an empty box; logged so the admin can install a font that has it."""
    missing = uncovered_characters(html)
    if missing:
        log.warning("no installed font has %s; printed as code points",
                    ", ".join(f"U+{ord(c):04X}" for c in missing))
        for c in missing:
            html = html.replace(c, f"〔U+{ord(c):04X}〕")
    return html


# -- the url_fetcher -----------------------------------------------------------------------------------------

def _weasyprint():
    """Import WeasyPrint lazily: its native libraries (Pango, HarfBuzz) may be missing on a bare machine."""
    try:
        import weasyprint
        from weasyprint import urls
    except (ImportError, OSError) as exc:  # OSError: a shared library could not be loaded
        raise PdfUnavailable(f"PDF 组件（WeasyPrint）不可用，无法生成 PDF：{exc}") from exc
    return weasyprint, urls


def file_url(path: Path | str) -> str:
    return Path(path).resolve().as_uri()


def allowed_path(url: str, roots=ALLOWED_ROOTS) -> Path | None:
    """The local file a file:// URL names, if it is an existing file under one of `roots`; else None."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "file" or parts.netloc not in ("", "localhost"):
        return None
    try:
        path = Path(url2pathname(unquote(parts.path))).resolve()
    except (OSError, RuntimeError, ValueError):
        return None
    for root in roots:
        if path.is_relative_to(Path(root).resolve()) and path.is_file():
            return path
    return None


def make_url_fetcher(roots=ALLOWED_ROOTS, *, strict: bool = False):
    """A WeasyPrint URLFetcher serving only data: URIs and files under `roots`; `.refused` lists what it turned
    away. With strict=True a refused URL stops the rendering."""
    _, urls = _weasyprint()

    class RestrictedURLFetcher(urls.URLFetcher):
        def __init__(self):
            super().__init__(timeout=FETCH_TIMEOUT, allowed_protocols=("data", "file"), allow_redirects=False,
                             fail_on_errors=strict)
            self.roots = tuple(Path(r).resolve() for r in roots)
            self.refused: list[str] = []
            self.served: list[str] = []

        def fetch(self, url, headers=None):
            scheme = url.split(":", 1)[0].lower() if ":" in url else ""
            if scheme == "data":
                if len(url) > MAX_RESOURCE_BYTES * 2:
                    return self._refuse(url, "data: URI too large")
                self.served.append(url[:40])
                return super().fetch(url, headers)
            if scheme == "file":
                path = allowed_path(url, self.roots)
                if path is not None:
                    if path.stat().st_size > MAX_RESOURCE_BYTES:
                        return self._refuse(url, "file too large")
                    self.served.append(url)
                    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                    return urls.URLFetcherResponse(url, body=path.read_bytes(),
                                                   headers={"Content-Type": content_type})
            return self._refuse(url, "outside the allowed folders" if scheme == "file" else f"scheme {scheme!r}")

        def _refuse(self, url: str, why: str):
            self.refused.append(url)
            log.warning("PDF rendering refused %s (%s)", url[:200], why)
            raise ResourceRefused(f"拒绝加载外部资源：{url[:200]}")

    return RestrictedURLFetcher()


# -- rendering -----------------------------------------------------------------------------------------------

@contextmanager
def _fewer_collections(gen0: int = 100_000):
    """Layout allocates millions of short-lived objects, and the cyclic garbage collector, run every 700
    allocations by default, takes about a tenth of a long report's rendering; run it less often meanwhile."""
    before = gc.get_threshold()
    gc.set_threshold(gen0, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


@dataclass(frozen=True)
class RenderedPdf:
    data: bytes
    pages: int


def render_pdf(html: str, **options) -> bytes:
    """Render an HTML string to PDF bytes (see render_document for the options)."""
    return render_document(html, **options).data


def render_document(html: str, *, base_url: str | None = None, url_fetcher=None, strict: bool = False,
                    **write_options) -> RenderedPdf:
    """Render an HTML string to a PDF and tell its page count.

    base_url: where relative URLs resolve (default: the project's static/ folder, so `app.css` or
    `img/logo.png` work); the fetcher still serves only what it allows. url_fetcher: one from
    make_url_fetcher() (the default) to inspect `.refused` afterwards. write_options go to
    weasyprint's write_pdf (e.g. pdf_variant="pdf/a-3b", custom_metadata=True).
    Raises PdfUnavailable before rendering when no CJK font is installed, PdfError on failure.
    """
    if not cjk_font_available():
        raise PdfUnavailable(FONT_MESSAGE)
    weasyprint, urls = _weasyprint()
    warning = subsetter_warning()
    if warning:
        log.warning(warning)
    fetcher = url_fetcher if url_fetcher is not None else make_url_fetcher(strict=strict)
    base = base_url or (file_url(STATIC_DIR) + "/")
    try:
        with _fewer_collections():
            document = weasyprint.HTML(string=spell_out_uncovered(html), base_url=base, url_fetcher=fetcher).render()
            return RenderedPdf(document.write_pdf(**write_options), len(document.pages))
    except urls.FatalURLFetchingError as exc:
        refused = getattr(fetcher, "refused", [])
        raise PdfError(f"拒绝加载外部资源：{refused[-1][:200] if refused else exc}") from exc
