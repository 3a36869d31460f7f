"""Attachment storage: content-based type checks, size limit, sha256 layout, safe names and headers (on the local
backend, whose files these tests look at; tests/test_storage.py runs the store on both backends)."""
from __future__ import annotations

import hashlib
import io
import os
import struct
import zipfile
import zlib
from pathlib import Path
from urllib.parse import unquote

import pytest

from tests.factories import PDF
from workflow import files
from workflow import storage as storage_module
from workflow.files import (
    ALLOWED,
    DEFAULT_MAX_BYTES,
    AttachmentError,
    content_disposition,
    detect_type,
    locate,
    safe_filename,
    store,
)
from workflow.storage import LocalStorage


def here(root: Path, name: str = "") -> files.Area:
    """An area of a local store in the test's folder ("" is the folder itself)."""
    return files.Area(LocalStorage(root), name)

# -- sample files built from bytes ---------------------------------------------------------------------



def _png() -> bytes:
    def chunk(tag: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)  # 1x1, 8-bit greyscale
    pixels = zlib.compress(b"\x00\x00")  # filter byte + one black pixel
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


PNG = _png()
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 16 + b"\xff\xd9"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48 + b"This program cannot be run"

_CONTENT_TYPES = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
}


def _zip(parts: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def _content_types(main_part: str, kind: str) -> str:
    return ('<?xml version="1.0" encoding="UTF-8"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/{main_part}" ContentType="{_CONTENT_TYPES[kind]}"/></Types>')


def _docx(**extra: str) -> bytes:
    return _zip({
        "[Content_Types].xml": _content_types("word/document.xml", "docx"),
        "_rels/.rels": "<Relationships/>",
        "word/document.xml": '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
                             "<w:body><w:p><w:r><w:t>督办事项进展</w:t></w:r></w:p></w:body></w:document>",
        **extra,
    })


def _xlsx() -> bytes:
    return _zip({
        "[Content_Types].xml": _content_types("xl/workbook.xml", "xlsx"),
        "_rels/.rels": "<Relationships/>",
        "xl/workbook.xml": '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                           '<sheets><sheet name="Sheet1" sheetId="1"/></sheets></workbook>',
        "xl/worksheets/sheet1.xml": "<worksheet/>",
    })


DOCX = _docx()
XLSX = _xlsx()


class CountingReader:
    """A file-like upload of `size` bytes that never exists in memory whole and records how much was read."""

    def __init__(self, size: int, *, head: bytes = PDF, max_chunk: int | None = None):
        self.size = size
        self.head = head
        self.max_chunk = max_chunk
        self.position = 0
        self.bytes_read = 0

    def read(self, n: int = -1) -> bytes:
        remaining = self.size - self.position
        n = remaining if n is None or n < 0 else min(n, remaining)
        if self.max_chunk is not None:
            n = min(n, self.max_chunk)
        start, self.position = self.position, self.position + n
        head = self.head[start:start + n]
        data = head + b"\x00" * (n - len(head))
        self.bytes_read += len(data)
        return data


# -- detect_type ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("data", "kind"), [(PDF, "pdf"), (PNG, "png"), (JPEG, "jpg"), (DOCX, "docx"), (XLSX, "xlsx")])
def test_each_allowed_kind_is_detected_from_content(data, kind):
    assert detect_type(data) == kind
    assert kind in ALLOWED


def test_sample_files_are_real():
    with zipfile.ZipFile(io.BytesIO(DOCX)) as archive:
        assert archive.testzip() is None
        assert "督办事项进展" in archive.read("word/document.xml").decode()
    assert zlib.decompress(PNG[PNG.index(b"IDAT") + 4:PNG.index(b"IEND") - 8]) == b"\x00\x00"


def _assert_rejected(data: bytes) -> AttachmentError:
    with pytest.raises(AttachmentError) as info:
        detect_type(data)
    assert info.value.http_status == 422
    for kind in ALLOWED:
        assert kind in str(info.value)
    assert "\n" not in str(info.value)
    return info.value


@pytest.mark.parametrize("data", [
    EXE,  # an .exe renamed .pdf
    "这是一个改名为 .docx 的文本文件\n".encode(),  # a text file renamed .docx
    _zip({"readme.txt": "hello", "data/file.xml": "<x/>"}),  # a zip that is neither
    _zip({"word/document.xml": "<w:document/>"}),  # document part without [Content_Types].xml
    _zip({"[Content_Types].xml": "<Types/>", "ppt/presentation.xml": "<p/>"}),  # pptx: not allowed
    b"PK\x03\x04" + b"\x00" * 40,  # zip signature, not a zip
    b"GIF89a\x01\x00\x01\x00",
    b" %PDF-1.4 leading space",
])
def test_other_content_is_rejected_with_422(data):
    _assert_rejected(data)


def test_empty_file_is_rejected_with_422():
    error = _assert_rejected(b"")
    assert "空" in str(error)


def test_exe_with_an_ooxml_zip_appended_is_rejected():
    assert zipfile.is_zipfile(io.BytesIO(EXE + DOCX))  # what a naive check would accept
    _assert_rejected(EXE + DOCX)


def test_macro_enabled_document_renamed_docx_is_rejected():
    _assert_rejected(_docx(**{"word/vbaProject.bin": "macro"}))


def test_zip_with_both_word_and_excel_parts_is_ambiguous():
    _assert_rejected(_zip({"[Content_Types].xml": "<Types/>", "word/document.xml": "<d/>", "xl/workbook.xml": "<w/>"}))


def test_truncated_docx_is_rejected():
    _assert_rejected(DOCX[: len(DOCX) // 2])


# -- store ---------------------------------------------------------------------------------------------

def _blobs(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def _path(root: Path, stored) -> Path:
    return root / stored.key


@pytest.mark.parametrize(("data", "kind", "name", "expected_name"), [
    (PDF, "pdf", "整改报告.pdf", "整改报告.pdf"),
    (PNG, "png", "现场照片.PNG", "现场照片.png"),
    (JPEG, "jpg", "photo.jpeg", "photo.jpg"),
    (DOCX, "docx", "进展情况 第一季度.docx", "进展情况_第一季度.docx"),
    (XLSX, "xlsx", "台账.xlsx", "台账.xlsx"),
])
def test_store_keeps_each_kind_under_its_sha256(tmp_path, data, kind, name, expected_name):
    stored = store(io.BytesIO(data), name, here(tmp_path))
    digest = hashlib.sha256(data).hexdigest()
    assert stored.sha256 == digest
    assert stored.size == len(data)
    assert stored.kind == kind
    assert stored.content_type == ALLOWED[kind]
    assert stored.filename == expected_name
    assert _path(tmp_path, stored) == tmp_path / digest[:2] / digest[2:4] / digest
    assert _path(tmp_path, stored).read_bytes() == data
    assert _blobs(tmp_path) == [_path(tmp_path, stored)]  # no temp files left behind


def test_store_accepts_bytes(tmp_path):
    stored = store(PDF, "a.pdf", here(tmp_path))
    assert _path(tmp_path, stored).read_bytes() == PDF


def test_type_comes_from_content_not_name(tmp_path):
    stored = store(io.BytesIO(PDF), "报告.exe", here(tmp_path))
    assert (stored.kind, stored.filename, stored.content_type) == ("pdf", "报告.pdf", "application/pdf")
    with pytest.raises(AttachmentError) as info:
        store(io.BytesIO(EXE), "报告.pdf", here(tmp_path))
    assert info.value.http_status == 422
    assert _blobs(tmp_path) == [_path(tmp_path, stored)]


def test_rejected_files_are_not_written(tmp_path):
    for data, name in [(EXE, "setup.pdf"), (b"just text", "notes.docx"), (_zip({"a.txt": "x"}), "x.xlsx"), (b"", "e.pdf")]:
        with pytest.raises(AttachmentError):
            store(io.BytesIO(data), name, here(tmp_path))
    assert _blobs(tmp_path) == []


def test_50_mb_upload_is_refused_with_413_after_reading_at_most_the_limit_plus_one(tmp_path):
    upload = CountingReader(50 * 1024 * 1024)
    with pytest.raises(AttachmentError) as info:
        store(upload, "大文件.pdf", here(tmp_path))
    assert info.value.http_status == 413
    assert str(info.value) == "附件超过 20 MB 上限。"
    assert upload.bytes_read <= DEFAULT_MAX_BYTES + 1
    assert _blobs(tmp_path) == []


def test_limit_is_exact_and_named_in_the_message(tmp_path):
    limit = 1024
    assert store(CountingReader(limit), "ok.pdf", here(tmp_path), max_bytes=limit).size == limit
    upload = CountingReader(limit + 1)
    with pytest.raises(AttachmentError) as info:
        store(upload, "big.pdf", here(tmp_path), max_bytes=limit)
    assert info.value.http_status == 413
    assert "1 KB" in str(info.value)
    assert upload.bytes_read == limit + 1


def test_too_large_bytes_are_refused(tmp_path):
    with pytest.raises(AttachmentError) as info:
        store(PDF + b"\x00" * 100, "a.pdf", here(tmp_path), max_bytes=len(PDF))
    assert info.value.http_status == 413


@pytest.mark.parametrize(("limit", "text"), [(5 * 1024 * 1024, "5 MB"), (int(1.5 * 1024 * 1024), "1.5 MB"), (500, "500 字节")])
def test_limit_message_uses_the_configured_limit(tmp_path, limit, text):
    with pytest.raises(AttachmentError) as info:
        store(CountingReader(limit + 10), "a.pdf", here(tmp_path), max_bytes=limit)
    assert str(info.value) == f"附件超过 {text} 上限。"


def test_short_reads_still_get_the_whole_file_and_the_limit(tmp_path):
    whole = CountingReader(5000, max_chunk=7)
    assert store(whole, "a.pdf", here(tmp_path)).size == 5000
    trickle = CountingReader(5000, max_chunk=7)
    with pytest.raises(AttachmentError) as info:
        store(trickle, "a.pdf", here(tmp_path), max_bytes=4000)
    assert info.value.http_status == 413
    assert trickle.bytes_read == 4001


def test_identical_content_is_stored_once(tmp_path, monkeypatch):
    first = store(io.BytesIO(DOCX), "一.docx", here(tmp_path))
    os.utime(_path(tmp_path, first), (1_000_000, 1_000_000))
    replaced = []
    monkeypatch.setattr(storage_module.os, "replace", lambda *a: replaced.append(a))
    second = store(io.BytesIO(DOCX), "二.docx", here(tmp_path))
    assert replaced == []  # not rewritten
    assert _path(tmp_path, first) == _path(tmp_path, second)
    assert second.filename == "二.docx"
    assert _path(tmp_path, first).stat().st_mtime == 1_000_000
    assert _blobs(tmp_path) == [_path(tmp_path, first)]


def test_different_content_gets_different_blobs(tmp_path):
    paths = {store(data, "f", here(tmp_path)).key for data in (PDF, PNG, JPEG, DOCX, XLSX)}
    assert len(paths) == 5
    assert len(_blobs(tmp_path)) == 5


def test_failed_write_leaves_no_partial_file(tmp_path, monkeypatch):
    def boom(*args):
        raise OSError("disk full")

    monkeypatch.setattr(storage_module.os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        store(PDF, "a.pdf", here(tmp_path))
    assert _blobs(tmp_path) == []


def test_store_ignores_path_traversal_in_the_name(tmp_path):
    root = tmp_path / "attachments"
    stored = store(PDF, "../../../etc/passwd", here(tmp_path, "attachments"))
    assert stored.filename == "passwd.pdf"
    assert _path(tmp_path, stored).is_relative_to(root) and _path(tmp_path, stored).is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["attachments"]


# -- locate ------------------------------------------------------------------------------------------

def test_locate_returns_the_key(tmp_path):
    stored = store(PNG, "p.png", here(tmp_path))
    assert locate(here(tmp_path), stored.sha256) == stored.key


def test_locate_absent_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        locate(here(tmp_path), "0" * 64)


@pytest.mark.parametrize("key", [
    "../../etc/passwd",
    "../" * 21 + "a",
    "/etc/passwd",
    "ab/../../../etc/passwd" + "0" * 42,
    "A" * 64,  # uppercase
    "0" * 63,
    "0" * 65,
    "0" * 64 + "\n",
    "g" * 64,
    "",
    None,
])
def test_locate_rejects_malformed_keys(tmp_path, key):
    secret = tmp_path / "etc" / "passwd"
    secret.parent.mkdir()
    secret.write_text("root")
    with pytest.raises(FileNotFoundError):
        locate(here(tmp_path, "attachments"), key)


def test_locate_uppercase_key_does_not_reach_an_existing_blob(tmp_path):
    stored = store(PDF, "a.pdf", here(tmp_path))
    with pytest.raises(FileNotFoundError):
        locate(here(tmp_path), stored.sha256.upper())


# -- safe_filename -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("original", "kind", "expected"), [
    ("督办事项报告.pdf", "pdf", "督办事项报告.pdf"),
    ("报告.exe", "pdf", "报告.pdf"),
    ("报告.PDF", "pdf", "报告.pdf"),
    ("../../etc/passwd", "pdf", "passwd.pdf"),
    ("a\\b\\c.pdf", "pdf", "c.pdf"),
    ("C:\\Users\\张三\\Desktop\\进展.docx", "docx", "进展.docx"),
    ("报\x00告\r\n第一期\x1b.pdf", "pdf", "报告第一期.pdf"),
    ("right\u202eexe.pdf", "pdf", "rightexe.pdf"),  # bidi override (a control char) dropped
    ("  二〇二四年 第 3 季度 .xlsx", "xlsx", "_二〇二四年_第_3_季度_.xlsx"),
    ("2024年度.v1.5", "pdf", "2024年度.v1.5.pdf"),  # ".5" is not an extension
    ("archive.tar.gz", "docx", "archive.tar.docx"),
    ("..hidden.png", "png", "hidden.png"),
    (".pdf", "pdf", "附件.pdf"),
    ("....", "jpg", "附件.jpg"),
    ("", "pdf", "附件.pdf"),
    ("../", "pdf", "附件.pdf"),
    ("<>:\"|?*.pdf", "pdf", "附件.pdf"),
    ('a"b;c=d.pdf', "pdf", "abcd.pdf"),
    ("CON.pdf", "pdf", "_CON.pdf"),
    ("报告..pdf", "pdf", "报告.pdf"),
    ("第①期\u3000进展.pdf", "pdf", "第①期_进展.pdf"),  # ideographic space
    ("Ｒｅｐｏｒｔ（终稿）.pdf", "pdf", "Ｒｅｐｏｒｔ终稿.pdf"),
])
def test_safe_filename(original, kind, expected):
    assert safe_filename(original, kind) == expected


def test_safe_filename_limits_long_names_and_keeps_the_extension():
    name = safe_filename("很" * 300 + ".docx", "docx")
    assert len(name) == 120
    assert name == "很" * 115 + ".docx"
    assert len(safe_filename("a" * 500, "pdf")) == 120


def test_safe_filename_output_is_always_safe():
    for original in ["../../x", "a/b\\c", "\r\n", "x\x7f\x85y", "é" * 200, "..", "/"]:
        name = safe_filename(original, "pdf")
        assert name.endswith(".pdf")
        assert not name.startswith(".")
        assert "/" not in name and "\\" not in name
        assert all(c.isprintable() for c in name)
        assert len(name) <= 120


# -- content_disposition -------------------------------------------------------------------------------

def test_content_disposition_for_a_chinese_name():
    header = content_disposition("督办事项报告.pdf")
    assert header.startswith('attachment; filename="')
    assert "filename*=UTF-8''" in header
    encoded = header.split("filename*=UTF-8''", 1)[1]
    assert unquote(encoded, encoding="utf-8") == "督办事项报告.pdf"
    assert header.isascii()
    assert "\n" not in header and "\r" not in header
    assert 'filename="attachment.pdf"' in header


def test_content_disposition_ascii_name():
    assert content_disposition("report 2024.pdf") == (
        "attachment; filename=\"report 2024.pdf\"; filename*=UTF-8''report%202024.pdf")


def test_content_disposition_transliterates_accents_for_the_fallback():
    assert 'filename="resume.pdf"' in content_disposition("résumé.pdf")


@pytest.mark.parametrize("name", ['a"b.pdf', "a\r\nSet-Cookie: x=1.pdf", "a\\b.pdf", 'x";\nX-Evil: 1.pdf', "\x00\x1f.pdf"])
def test_content_disposition_cannot_break_the_header(name):
    header = content_disposition(name)
    assert header.isascii()
    assert "\r" not in header and "\n" not in header and "\x00" not in header
    quoted = header.split('filename="', 1)[1].split('"; filename*=', 1)[0]
    assert '"' not in quoted and "\\" not in quoted
    assert header.count('"') == 2
    assert header.count(";") == 2


def test_content_disposition_empty_name():
    assert content_disposition("") == "attachment; filename=\"attachment\"; filename*=UTF-8''attachment"
