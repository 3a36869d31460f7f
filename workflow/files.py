"""The application's file store: every stored file (report attachments, archived evaluation and bulletin files,
staged plan uploads) lives outside the web root, one area (key prefix) each, named by its sha256, on the backend
workflow.storage chooses (the UPLOAD_DIR folder, or an S3-compatible bucket shared by several app hosts).

Uploads are type checked from their content, never from their name. Every area but the transient ones is
durable: a backup copies it and a restore puts it back (`durable_files`, `replace_durable`)."""
from __future__ import annotations

import hashlib
import io
import re
import tempfile
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote

from flask import Response, current_app, request, send_file
from flask_babel import gettext as _
from pypdf import PdfReader
from pypdf.errors import PyPdfError

from workflow.storage import Storage, StoredObject, storage

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
_SPOOL_IN_MEMORY = 4 * 1024 * 1024  # uploads beyond this are spooled to a temporary file while checked
# Areas whose files live only until a step finishes (a plan upload waiting for the office's confirmation).
# A background job's own files (ledger exports: workflow/jobs.keep_file) can be asked for again, so backups
# leave them out with the staging area.
JOB_RESULTS_AREA = "job-results"
TRANSIENT_AREAS = frozenset({"staging", JOB_RESULTS_AREA})


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
    key: str  # where it is in the store (workflow.storage)


def _allowed_list() -> str:
    return "、".join(ALLOWED)


def _ooxml_kind(buffer: BinaryIO) -> str | None:
    """docx/xlsx are zips; only the parts inside tell them apart from any other zip (or from each other)."""
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


def _parses_as_pdf(stream: BinaryIO) -> bool:
    """A whole PDF, not just its first bytes: pypdf reads the cross-reference table and the page tree."""
    try:
        reader = PdfReader(stream, strict=False)
        len(reader.pages)
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, OSError, RecursionError):
        return False
    return True


def detect_type(data: bytes | BinaryIO) -> str:
    """The kind of file (a key of ALLOWED) from its bytes (or a seekable file of them, left at its start); names
    and client-sent types are never trusted."""
    stream = io.BytesIO(data) if isinstance(data, bytes | bytearray | memoryview) else data
    try:
        return _detect(stream)
    finally:
        stream.seek(0)


def _detect(stream: BinaryIO) -> str:
    stream.seek(0)
    head = stream.read(8)
    stream.seek(0)
    if not head:
        raise AttachmentError(_("文件为空：请上传 %(types)s 文件。", types=_allowed_list()))
    if head.startswith(b"%PDF-") and _parses_as_pdf(stream):
        return "pdf"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpg"
    stream.seek(0)
    # Require the local-header signature at offset 0: is_zipfile alone also accepts an .exe with a zip appended.
    if head.startswith(b"PK\x03\x04") and (kind := _ooxml_kind(stream)):
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


@dataclass(frozen=True)
class Area:
    """One area of the store (attachments, evaluations, bulletins, staging) on its backend (workflow.storage)."""
    storage: Storage
    name: str

    @property
    def prefix(self) -> str:
        return f"{self.name}/" if self.name else ""

    def key(self, sha256: str) -> str:
        """Two-level fan-out (ab/cd/<sha256>) keeps local directories small."""
        return f"{self.prefix}{sha256[:2]}/{sha256[2:4]}/{sha256}"


def area(name: str) -> Area:
    """An area of the running app's store."""
    return Area(storage(), name)


def _is_durable(item: StoredObject) -> bool:
    return item.key.split("/", 1)[0] not in TRANSIENT_AREAS


def durable_files() -> list[StoredObject]:
    """Every kept file of the running app's store (its key is its path relative to the store): what a backup
    copies. Half-written uploads and the transient areas are left out; any area a later feature adds is in."""
    return [item for item in storage().list() if "/" in item.key and _is_durable(item)]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_READ_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def staging_folder(prefix: str) -> Path:
    """A fresh local folder for replace_durable (inside a local store, so its areas can be renamed into place)."""
    return storage().staging_folder(prefix)


def replace_durable(staged: Path) -> None:
    """Make the durable areas exactly the areas under `staged` (made by staging_folder, same layout); areas the
    copy lacks are removed, transient areas stay as they are."""
    storage().replace_areas(staged, keep=lambda name: name in TRANSIENT_AREAS)


def store(source, original_name: str, where: Area, *, max_bytes: int = DEFAULT_MAX_BYTES) -> StoredFile:
    """Check and keep an upload; identical content is stored once, because the key is its sha256. The upload is
    spooled (to disk past a few MB) while it is hashed, never held whole in memory."""
    with _spool(source, max_bytes) as (spool, digest, size):
        kind = detect_type(spool)
        key = _keep(where, digest, spool)
    return StoredFile(sha256=digest, size=size, kind=kind, content_type=ALLOWED[kind],
                      filename=safe_filename(original_name, kind), key=key)


def write_blob(where: Area, data: bytes) -> tuple[str, str]:
    """Keep generated bytes (an archived PDF or workbook) under their sha256, once; returns (sha256, key)."""
    digest = hashlib.sha256(data).hexdigest()
    return digest, _keep(where, digest, io.BytesIO(data))


def _keep(where: Area, digest: str, stream) -> str:
    """The one place bytes reach the store (a fault test stalls here): written unless already there."""
    key = where.key(digest)
    if not where.storage.exists(key):
        where.storage.put(key, stream)
    return key


def sweep(where: Area, referenced: Iterable[str], *, older_than: datetime) -> list[str]:
    """Remove what a process killed between writing a file and committing its row left behind: blobs no row
    names and half-written uploads, last touched before `older_than` (a request still in flight may be about
    to commit the row of a newer one). A row never lacks its file: the file is written before the row."""
    keep = set(referenced)
    removed = where.storage.sweep_partial(where.prefix, older_than)
    for item in list(where.storage.list(where.prefix)):
        name = item.key.rsplit("/", 1)[-1]
        if _SHA256.fullmatch(name) and name not in keep and item.modified < older_than:
            where.storage.delete(item.key)
            removed.append(item.key)
    return removed


def locate(where: Area, sha256: str) -> str:
    """The blob's key; FileNotFoundError when absent or when the key is malformed, so that it can never
    address anything else."""
    if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256):
        raise FileNotFoundError("invalid attachment key")
    key = where.key(sha256)
    if not where.storage.exists(key):
        raise FileNotFoundError(key)
    return key


def read_stored(where: Area, sha256: str) -> bytes:
    """The whole blob: for small generated files only (bulletins); downloads stream with send_stored."""
    return where.storage.read_bytes(locate(where, sha256))


def send_stored(where: Area, sha256: str, *, mimetype: str) -> Response:
    """A response streaming the blob, conditional on its sha256 (ETag): sendfile from a local folder, chunks of
    the object's body from S3. The caller adds Content-Disposition and caching headers."""
    key = locate(where, sha256)
    path = where.storage.local_path(key)
    if path is not None:
        return send_file(path, mimetype=mimetype, conditional=True, etag=sha256, max_age=0)
    stream, size = where.storage.open_sized(key)
    response = current_app.response_class(_chunks(stream), mimetype=mimetype, direct_passthrough=True)
    response.content_length = size
    response.call_on_close(stream.close)
    response.set_etag(sha256)
    return response.make_conditional(request)


def _chunks(stream) -> Iterator[bytes]:
    while chunk := stream.read(_READ_CHUNK):
        yield chunk


@contextmanager
def _spool(source, max_bytes: int) -> Iterator[tuple[BinaryIO, str, int]]:
    """The upload in a temporary file (in memory while small), its sha256 and size; at most max_bytes + 1 bytes
    are read, enough to know it is too large. Short reads (raw or network streams) do not mean end of file."""
    digest = hashlib.sha256()
    with tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY) as spool:
        if isinstance(source, bytes | bytearray | memoryview):
            if len(source) > max_bytes:
                raise _too_large(max_bytes)
            chunks: Iterable[bytes] = [bytes(source)]
        else:
            chunks = _read_chunks(source, max_bytes + 1)
        size = 0
        for chunk in chunks:
            size += len(chunk)
            if size > max_bytes:
                raise _too_large(max_bytes)
            digest.update(chunk)
            spool.write(chunk)
        spool.seek(0)
        yield spool, digest.hexdigest(), size


def _read_chunks(source, limit: int) -> Iterator[bytes]:
    total = 0
    while total < limit:
        chunk = source.read(min(_READ_CHUNK, limit - total))
        if not chunk:
            return
        total += len(chunk)
        yield chunk


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
