"""The application's file store: every stored file (report attachments, archived evaluation files, staged plan
uploads) lives outside the web root under UPLOAD_DIR, one folder per area, named by its sha256.

Uploads are type checked from their content, never from their name. Every area but the transient ones is
durable: a backup copies it and a restore puts it back (`durable_files`, `replace_durable`)."""
from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import tempfile
import unicodedata
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from flask import current_app
from flask_babel import gettext as _
from pypdf import PdfReader
from pypdf.errors import PyPdfError

ALLOWED = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "jpg": "image/jpeg",
    "png": "image/png",
}
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
MAX_NAME_CHARS = 120

_SHA256 = re.compile(r"[0-9a-f]{64}")
_OOXML_PART = {"docx": "word/document.xml", "xlsx": "xl/workbook.xml"}
# What a document or workbook holds: XML parts, their relations, pictures and embedded fonts, under the OOXML
# folders. Anything else (an .exe, a script, vbaProject.bin macros, OLE objects) refuses the file.
_OOXML_FOLDERS = {"_rels", "docProps", "customXml", "word", "xl"}
_OOXML_SUFFIXES = {"xml", "rels", "vml", "png", "jpeg", "jpg", "gif", "bmp", "tif", "tiff", "emf", "wmf", "svg",
                   "wdp", "odttf", "fntdata"}
_PRINTER_SETTINGS = re.compile(r"(word|xl)/printerSettings/printerSettings\d+\.bin")
# A trailing suffix that looks like a file extension (".exe", ".PDF"), as opposed to "v1.5" or "报告.2024".
_EXTENSION = re.compile(r"\.(?=[0-9A-Za-z]*[A-Za-z])[0-9A-Za-z]{1,5}$")
_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
_READ_CHUNK = 1024 * 1024
# Areas whose files live only until a step finishes (a plan upload waiting for the office's confirmation).
TRANSIENT_AREAS = frozenset({"staging"})
_TEMP_PREFIX = ".tmp-"


class AttachmentError(ValueError):
    """A file we will not store; `http_status` is 413 (too large) or 422 (wrong type, empty) for the answer."""

    def __init__(self, message: str, http_status: int = 422):
        super().__init__(message)
        self.http_status = http_status


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    size: int
    kind: str
    content_type: str
    filename: str  # the safe display/download name, extension matching `kind`
    path: Path


def _allowed_list() -> str:
    return "、".join(ALLOWED)


def _ooxml_kind(data: bytes) -> str | None:
    """docx/xlsx are zips; only the parts inside tell them apart from any other zip (or from each other)."""
    buffer = io.BytesIO(data)
    if not zipfile.is_zipfile(buffer):
        return None
    try:
        with zipfile.ZipFile(buffer) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, NotImplementedError, EOFError):
        return None
    if "[Content_Types].xml" not in names or not all(_is_ooxml_part(name) for name in names):
        return None
    kinds = [kind for kind, part in _OOXML_PART.items() if part in names]
    return kinds[0] if len(kinds) == 1 else None


def _is_ooxml_part(name: str) -> bool:
    if name == "[Content_Types].xml" or name.endswith("/"):
        return True
    folder, _sep, rest = name.partition("/")
    suffix = rest.rsplit(".", 1)[-1].lower() if "." in rest else ""
    return folder in _OOXML_FOLDERS and (suffix in _OOXML_SUFFIXES or bool(_PRINTER_SETTINGS.fullmatch(name)))


def _parses_as_pdf(data: bytes) -> bool:
    """A whole PDF, not just its first bytes: pypdf reads the cross-reference table and the page tree."""
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        len(reader.pages)
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, OSError, RecursionError):
        return False
    return True


def detect_type(data: bytes) -> str:
    """The kind of file (a key of ALLOWED) from its bytes; names and client-sent types are never trusted."""
    if not data:
        raise AttachmentError(_("文件为空：请上传 %(types)s 文件。", types=_allowed_list()))
    if data.startswith(b"%PDF-") and _parses_as_pdf(data):
        return "pdf"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    # Require the local-header signature at offset 0: is_zipfile alone also accepts an .exe with a zip appended.
    if data.startswith(b"PK\x03\x04") and (kind := _ooxml_kind(data)):
        return kind
    raise AttachmentError(_("不支持的文件类型：只能上传 %(types)s 文件（按文件内容判断）。", types=_allowed_list()))


def safe_filename(original: str, kind: str) -> str:
    """A display/download name without paths, control characters or an extension that lies about the content."""
    name = unicodedata.normalize("NFC", original or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C")
    name = re.sub(r"\s+", "_", name)
    name = "".join(c for c in name if c in "-_." or unicodedata.category(c)[0] in "LN")  # 〇 is a number (Nl)
    stem = _EXTENSION.sub("", name).lstrip(".")
    stem = stem[: MAX_NAME_CHARS - len(kind) - 1].rstrip(".")
    if not stem.strip("._-"):
        return f"附件.{kind}"
    if stem.split(".", 1)[0].upper() in _WINDOWS_RESERVED:
        stem = f"_{stem}"[: MAX_NAME_CHARS - len(kind) - 1]
    return f"{stem}.{kind}"


def _describe_limit(max_bytes: int) -> str:
    if max_bytes >= 1024 * 1024:
        return f"{max_bytes / (1024 * 1024):.1f}".removesuffix(".0") + " MB"
    if max_bytes >= 1024:
        return f"{max_bytes / 1024:.1f}".removesuffix(".0") + " KB"
    return _("%(n)s 字节", n=max_bytes)


def _too_large(max_bytes: int) -> AttachmentError:
    return AttachmentError(_("附件超过 %(limit)s 上限。", limit=_describe_limit(max_bytes)), http_status=413)


def _read_limited(source, max_bytes: int) -> bytes:
    """At most max_bytes + 1 bytes: enough to know the upload is too large without buffering all of it."""
    if isinstance(source, bytes | bytearray | memoryview):
        if len(source) > max_bytes:
            raise _too_large(max_bytes)
        return bytes(source)
    limit = max_bytes + 1
    data = source.read(limit) or b""  # usually the whole file in one call, with no extra copy
    if len(data) < limit:
        parts = [data]
        total = len(data)
        while total < limit:  # short reads (raw or network streams) do not mean end of file
            chunk = source.read(min(_READ_CHUNK, limit - total))
            if not chunk:
                break
            parts.append(chunk)
            total += len(chunk)
        if len(parts) > 1:
            data = b"".join(parts)
    if len(data) > max_bytes:
        raise _too_large(max_bytes)
    return bytes(data)


def store_root() -> Path:
    return Path(current_app.config["UPLOAD_DIR"])


def area(name: str) -> Path:
    """The folder of one area of the store (attachments, evaluations, staging)."""
    return store_root() / name


def _durable_areas(root: Path) -> list[Path]:
    """The area folders worth keeping; dot-folders are work in progress (a restore's staging)."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir()
                  if p.is_dir() and not p.name.startswith(".") and p.name not in TRANSIENT_AREAS)


def durable_files(root: Path | None = None) -> list[tuple[str, Path]]:
    """Every kept file as (its path relative to the store, POSIX style; its absolute path): what a backup
    copies. Half-written temporary files are left out; any area a later feature adds is included."""
    root = store_root() if root is None else root
    found = []
    for folder in _durable_areas(root):
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not path.name.startswith(_TEMP_PREFIX):
                found.append((path.relative_to(root).as_posix(), path))
    return found


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_READ_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def staging_folder(prefix: str) -> Path:
    """A fresh hidden folder inside the store, on its file system, so that its contents can be renamed into
    place (atomically per area) by replace_durable."""
    root = store_root()
    root.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(dir=root, prefix=f".{prefix}-"))


def replace_durable(staged: Path) -> None:
    """Make the durable areas exactly the areas under `staged` (made by staging_folder, same layout): each
    present area is swapped for its staged copy by renames, areas the copy lacks are removed. Transient
    areas stay as they are."""
    root = store_root()
    retired = Path(tempfile.mkdtemp(dir=root, prefix=".retired-"))
    moved_out: list[str] = []
    moved_in: list[str] = []
    try:
        for folder in _durable_areas(root):
            folder.rename(retired / folder.name)
            moved_out.append(folder.name)
        for folder in _durable_areas(staged):
            folder.rename(root / folder.name)
            moved_in.append(folder.name)
    except OSError:
        for name in moved_in:  # put everything back as it was
            (root / name).rename(staged / name)
        for name in moved_out:
            (retired / name).rename(root / name)
        retired.rmdir()
        raise
    finally:
        shutil.rmtree(staged, ignore_errors=True)
    shutil.rmtree(retired, ignore_errors=True)


def _blob_path(root: Path, sha256: str) -> Path:
    """Two-level fan-out (ab/cd/<sha256>) keeps directories small."""
    return Path(root) / sha256[:2] / sha256[2:4] / sha256


def store(source, original_name: str, root: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> StoredFile:
    """Check and keep a file; identical content is stored once, because the path is its sha256."""
    data = _read_limited(source, max_bytes)
    kind = detect_type(data)
    digest, path = write_blob(root, data)
    return StoredFile(sha256=digest, size=len(data), kind=kind, content_type=ALLOWED[kind],
                      filename=safe_filename(original_name, kind), path=path)


def write_blob(root: Path, data: bytes) -> tuple[str, Path]:
    """Keep bytes under their sha256 (once); returns (sha256, path)."""
    digest = hashlib.sha256(data).hexdigest()
    path = _blob_path(root, digest)
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Temp file in the same directory so os.replace is atomic: readers never see a half-written blob.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_TEMP_PREFIX)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return digest, path


def sweep(root: Path, referenced: Iterable[str], *, older_than: datetime) -> list[Path]:
    """Remove what a process killed between writing a file and committing its row left behind: blobs no row
    names and half-written temp files, last touched before `older_than` (a request still in flight may be about
    to commit the row of a newer one). A row never lacks its file: the file is written before the row."""
    keep = set(referenced)
    cutoff = older_than.timestamp()
    removed = []
    for path in Path(root).glob("*/*/*"):
        stray = path.name.startswith(".tmp-") or (_SHA256.fullmatch(path.name) and path.name not in keep)
        if stray and path.is_file() and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def open_stored(root: Path, sha256: str) -> Path:
    """The blob's path; a malformed key is treated as absent (FileNotFoundError) so it can never address a path."""
    if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256):
        raise FileNotFoundError("invalid attachment key")
    path = _blob_path(root, sha256)
    if not path.is_file():
        raise FileNotFoundError(str(path))
    return path


def content_disposition(filename: str) -> str:
    """RFC 6266 header value: an ASCII fallback for old clients plus the RFC 5987 UTF-8 name, nothing header-breaking."""
    clean = "".join(c for c in unicodedata.normalize("NFC", filename or "") if unicodedata.category(c)[0] != "C")
    clean = clean.strip() or "attachment"
    ascii_name = unicodedata.normalize("NFKD", clean).encode("ascii", "ignore").decode()
    # Quotes and backslashes would end the quoted-string; ';' and '%' confuse lenient parsers.
    ascii_name = "".join("_" if c in '"\\%;' else c for c in ascii_name if c.isprintable()).strip()
    if not ascii_name or ascii_name.startswith("."):
        ascii_name = "attachment" + ascii_name
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(clean, safe='')}"


def normalised_zip(data: bytes, replace: dict[str, bytes], stamp: datetime) -> bytes:
    """The archive again, entry for entry in the same order, every entry dated `stamp` and with fixed
    attributes, and the entries in `replace` given the content there. Office files (.xlsx, .docx) are zips
    whose writers stamp every entry with the wall clock; archived under their sha256, the same content must
    give the same bytes."""
    date_time = (max(stamp.year, 1980), stamp.month, stamp.day, stamp.hour, stamp.minute, stamp.second)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            info = zipfile.ZipInfo(item.filename, date_time=date_time)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system, info.external_attr = 3, 0o600 << 16   # as on Unix, whatever builds it
            dst.writestr(info, replace.get(item.filename, src.read(item.filename)))
    return out.getvalue()
