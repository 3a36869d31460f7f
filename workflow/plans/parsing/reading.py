"""Upload bytes → plan text: .docx, PDF, or text in UTF-8 / UTF-16 / GB18030; everything else one clear error."""
from __future__ import annotations

import re

from workflow.plans.parsing.docx import _docx_text
from workflow.plans.parsing.draft import PlanParseError
from workflow.plans.parsing.pdf import pdf_text

MAX_PLAN_BYTES = 20 * 1024 * 1024
_IMAGES = (b"\x89PNG", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM", b"II*\x00", b"MM\x00*")
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"    # the compound file of old Office and of encrypted .docx
# Characters a Big5 file shows when read as GB18030 (kana, Cyrillic, box drawing, vertical forms).
_MISREAD = re.compile(r"[\u0370-\u052f\u2500-\u257f\u3040-\u30ff\u3100-\u312f\ufe30-\ufe4f]")


def read_plan_bytes(data: bytes, filename: str) -> str:
    """Upload bytes → plan text: .docx via python-docx and PDF via PDFium (tables become measure lines),
    else UTF-8, UTF-16 or GB18030 text."""
    name = (filename or "").lower()
    if not data:
        raise PlanParseError("文件为空 (the file is empty)")
    if len(data) > MAX_PLAN_BYTES:
        raise PlanParseError(f"文件过大，方案文件不能超过 {MAX_PLAN_BYTES // 2 ** 20} MB (the file is too large)")
    if data.startswith(_IMAGES) or data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        raise PlanParseError("这是图片文件，请上传方案的文本、.docx 或带文字的 PDF (an image, not a plan document)")
    if data.startswith(_OLE):
        if "EncryptedPackage".encode("utf-16-le") in data:
            raise PlanParseError("Word 文件有密码保护，请去除密码后再上传 (the document is password-protected)")
        raise PlanParseError("不支持旧版 .doc 文件，请另存为 .docx (old .doc files are not supported)")
    if name.endswith(".pdf") or data.startswith(b"%PDF"):
        return pdf_text(data)
    if name.endswith(".docx"):
        return _docx_text(data)
    if name.endswith(".doc"):
        raise PlanParseError("不支持旧版 .doc 文件，请另存为 .docx (old .doc files are not supported)")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            raise PlanParseError("文件编码无法识别 (cannot decode the file)") from None
    else:
        if b"\x00" in data:
            raise PlanParseError("文件不是文本文件 (binary data, not a text file)")
        if data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = _decode_gb(data)
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\n\r\f\v")
    if "\x00" in text or controls > max(2, len(text) // 100):
        raise PlanParseError("文件不是文本文件 (binary data, not a text file)")
    return text


def _decode_gb(data: bytes) -> str:
    """GB18030, refusing Big5 (traditional Chinese), which GB18030 would read as nonsense without an error."""
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        text = None
    wide = sum(1 for ch in text if ord(ch) > 127) if text else 0
    if text is None or wide >= 8 and len(_MISREAD.findall(text)) > wide // 20:
        try:
            data.decode("big5")
        except UnicodeDecodeError:
            pass
        else:
            raise PlanParseError("文件是繁体 Big5 编码，请另存为 UTF-8 后再上传 (Big5 text: save it as UTF-8)")
    if text is None:
        raise PlanParseError("文件编码无法识别，请使用 UTF-8 或 GB18030 (cannot decode the file)")
    return text
